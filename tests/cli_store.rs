//! The store through the real binary: cast saves, history/show/stats/retry/delete read it back,
//! nothing sensitive is in the clear on disk, and every bad store is a clear message, a non-zero
//! exit and an untouched file. Offline provider, a temporary home per test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test or tool fails by panicking"
)]

use crate::support;

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::SystemTime;

use serde_json::Value;

struct Home {
    dir: tempfile::TempDir,
}

impl Home {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn db(&self) -> PathBuf {
        self.path().join("iching.db")
    }

    fn run(&self, args: &[&str]) -> Output {
        self.run_env(args, &[])
    }

    fn run_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        iching_in(self.path(), args, env)
    }

    /// Runs and expects success.
    fn ok(&self, args: &[&str]) -> Output {
        let out = self.run(args);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        out
    }

    fn cast(&self, question: &str, lines: &str) -> Value {
        json(&self.ok(&["cast", question, "--lines", lines, "--format", "json"]))
    }

    fn history(&self) -> Vec<Value> {
        json(&self.ok(&["history", "--json"]))
            .as_array()
            .unwrap()
            .clone()
    }

    fn sql(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(self.db()).unwrap()
    }
}

fn iching_in(home: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = support::cli::std_binary();
    cmd.args(args)
        .env("ICHING_HOME", home)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    assert!(
        !stderr(&out).contains("panicked"),
        "{args:?}: {}",
        stderr(&out)
    );
    out
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", stdout(o)))
}

fn snapshot(path: &Path) -> (Vec<u8>, SystemTime) {
    let meta = std::fs::metadata(path).unwrap();
    (std::fs::read(path).unwrap(), meta.modified().unwrap())
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Asserts exit `code` with `message` on stderr.
fn fails(out: &Output, code: i32, message: &str) {
    assert_eq!(out.status.code(), Some(code), "{}", stderr(out));
    assert!(
        stderr(out).contains(message),
        "wanted {message:?} in {}",
        stderr(out)
    );
}

#[test]
fn cast_saves_and_show_prints_the_same_reading() {
    let home = Home::new();
    let cast = home.cast("Should I move to the coast?", "9,8,7,7,6,8");
    assert_eq!(cast["id"], 1);
    assert!(cast["created_at"].as_str().unwrap().ends_with('Z'));
    let show = home.ok(&["show", "1", "--format", "json"]);
    assert_eq!(
        json(&show),
        cast,
        "show --format json is cast --format json"
    );

    let text = stdout(&home.ok(&["show", "1"]));
    assert!(
        text.contains("Question: Should I move to the coast?"),
        "{text}"
    );
    assert!(text.contains("== Conclusion =="));
    let md = stdout(&home.ok(&["show", "1", "--format", "md"]));
    assert!(md.starts_with("# Should I move to the coast?"), "{md}");
    let html = stdout(&home.ok(&["show", "1", "--format", "html"]));
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("䷶ 55") && html.contains("䷞ 31"));
    assert_eq!(html.matches("<section>").count(), 10);
    assert!(html.contains("<style>") && !html.contains("<script"));

    fails(&home.run(&["show", "7"]), 2, "no reading has id 7");
    fails(&home.run(&["show", "one"]), 2, "invalid value");
    fails(
        &home.run(&["show", "1", "--format", "pdf"]),
        2,
        "invalid value",
    );
}

#[test]
fn history_lists_filters_and_searches() {
    let home = Home::new();
    home.cast("Take the Lisbon job?", "9,8,7,7,6,8");
    home.cast("What of the harvest?", "7,7,7,7,7,7");
    home.cast("A flat in lisbon", "8,8,8,8,8,8");
    let all = home.history();
    assert_eq!(all.len(), 3);
    let keys: Vec<&str> = all[0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut expected = [
        "id",
        "created_at",
        "question",
        "method",
        "lines",
        "primary",
        "resulting",
        "status",
        "sections_done",
        "sections_planned",
        "total_tokens",
        "notes",
        "outcomes",
        "seed",
    ];
    let mut keys = keys;
    keys.sort_unstable();
    expected.sort_unstable();
    assert_eq!(keys, expected);
    let ids: Vec<i64> = all.iter().map(|e| e["id"].as_i64().unwrap()).collect();
    assert_eq!(ids, [3, 2, 1], "newest first");
    let first = &all[2];
    assert_eq!(first["question"], "Take the Lisbon job?");
    assert_eq!(first["method"], "manual");
    assert_eq!(first["lines"], serde_json::json!([9, 8, 7, 7, 6, 8]));
    assert_eq!(
        (first["primary"].as_u64(), first["resulting"].as_u64()),
        (Some(55), Some(31))
    );
    assert_eq!(first["status"], "complete");
    assert_eq!(
        (
            first["sections_done"].as_u64(),
            first["sections_planned"].as_u64()
        ),
        (Some(10), Some(10))
    );
    // The classic text spends no tokens.
    assert_eq!(first["total_tokens"].as_u64(), Some(0));
    assert!(all[1]["resulting"].is_null());

    let ids = |args: &[&str]| -> Vec<i64> {
        let mut full = vec!["history", "--json"];
        full.extend_from_slice(args);
        json(&home.ok(&full))
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["id"].as_i64().unwrap())
            .collect()
    };
    assert_eq!(ids(&["--search", "LISBON"]), [3, 1]);
    assert_eq!(ids(&["--search", "nothing of the kind"]), Vec::<i64>::new());
    assert_eq!(ids(&["--hexagram", "31"]), [1]);
    assert_eq!(ids(&["--hexagram", "1"]), [2]);
    assert_eq!(ids(&["--limit", "1"]), [3]);
    assert_eq!(ids(&["--search", "lisbon", "--limit", "1"]), [3]);

    let table = stdout(&home.ok(&["history"]));
    assert!(
        table.contains("STATUS") && table.contains("55 → 31"),
        "{table}"
    );
    assert!(table.contains("Take the Lisbon job?"));
    fails(
        &home.run(&["history", "--hexagram", "0"]),
        2,
        "0 is not in 1..=64",
    );
    fails(&home.run(&["history", "--limit", "x"]), 2, "invalid value");
    fails(
        &home.run(&["history", "--search", " "]),
        2,
        "--search needs some words",
    );
}

/// The classic text's figures: times and attempts, whose text it is, and no tokens, rate or
/// cost, even with a price for its name (a model's figures: tests/figures.rs).
#[test]
fn stats_of_the_classic_text_show_its_times_and_whose_text_it_is() {
    let home = Home::new();
    home.cast("Q one", "9,8,7,7,6,8");
    home.cast("Q two", "7,7,7,7,7,7");
    let one = json(&home.ok(&["stats", "1", "--json"]));
    let rows = one["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 10);
    let deltas: Vec<u64> = rows
        .iter()
        .map(|r| r["delta_ms"].as_u64().unwrap())
        .collect();
    assert!(
        deltas.windows(2).all(|w| w[0] <= w[1]),
        "in finishing order: {deltas:?}"
    );
    for (i, r) in rows.iter().enumerate() {
        assert_eq!(r["rank"], i + 1);
        assert_eq!(r["model"], "legge-1882");
        assert_eq!(r["classic"], true);
        assert_eq!(r["attempts"], 1);
        assert_eq!(r["total_tokens"].as_u64(), Some(0), "no tokens spent");
        assert!(r["ttft_ms"].is_number());
    }
    let totals = &one["totals"];
    assert_eq!(totals["total_tokens"].as_u64(), Some(0));
    assert_eq!(totals["offline"], true);
    assert_eq!(totals["estimated"], false, "nothing is estimated");
    let text = stdout(&home.ok(&["stats", "1"]));
    for column in ["#", "section", "done ms", "TTFT ms", "att"] {
        assert!(text.contains(column), "{column} in {text}");
    }
    assert!(
        text.contains(" · Legge's text\n") && !text.contains("legge-1882"),
        "whose text it is, in the heading: {text}"
    );
    assert!(
        !text.contains("tok/s")
            && !text.contains("prompt")
            && !text.contains("cost:")
            && !text.contains("[prices."),
        "{text}"
    );
    // --wide adds token columns; the classic text has none to add.
    assert_eq!(stdout(&home.ok(&["stats", "1", "--wide"])), text);

    // A price for its name changes nothing: it spent no tokens.
    std::fs::write(
        home.path().join("config.toml"),
        "[prices.\"legge-1882\"]\nprompt_per_million = 1.0\ncompletion_per_million = 2.0\n",
    )
    .unwrap();
    let priced = json(&home.ok(&["stats", "1", "--json"]));
    assert_eq!(priced["totals"]["cost"], 0.0);
    assert_eq!(stdout(&home.ok(&["stats", "1"])), text);

    let all = json(&home.ok(&["stats", "--json"]));
    assert_eq!(all["readings"], 2);
    assert_eq!(all["sections"], 16);
    let by_section = all["by_section"].as_array().unwrap();
    let opening = by_section.iter().find(|s| s["section_id"] == 1).unwrap();
    assert_eq!(
        (opening["runs"].as_u64(), opening["failed"].as_u64()),
        (Some(2), Some(0))
    );
    assert_eq!(opening["failure_rate"], 0.0);
    assert!(opening["avg_completion_tokens"].is_null(), "{opening}");
    assert!(opening["avg_latency_ms"].is_number());
    let models = all["by_model"].as_array().unwrap();
    assert_eq!(models.len(), 1);
    assert_eq!(
        (models[0]["model"].as_str(), models[0]["readings"].as_u64()),
        (Some("legge-1882"), Some(2))
    );
    let text = stdout(&home.ok(&["stats"]));
    assert!(
        text.contains("fail %") && !text.contains("Most completion tokens"),
        "{text}"
    );
    fails(&home.run(&["stats", "9"]), 2, "no reading has id 9");
}

/// A retry after a crash is tested with a real killed process in tests/crash_safety.rs. Rows
/// deleted behind iching's back are not a crash: the reading says its list of sections was
/// changed, is not regenerated as if nothing happened, and can still be deleted.
#[test]
fn sections_deleted_outside_iching_are_reported_not_regenerated() {
    let home = Home::new();
    home.cast("Retry me", "9,8,7,7,6,8");
    home.cast("Leave me", "7,7,7,7,7,7");
    let sql = home.sql();
    sql.execute(
        "DELETE FROM reading_parts WHERE reading_id = 1 AND section_id IN (2, 4, 14)",
        [],
    )
    .unwrap();
    drop(sql);
    let said = "integrity check failed for reading 1 (its list of sections was changed";
    fails(&home.run(&["show", "1"]), 1, said);
    fails(&home.run(&["retry", "1"]), 1, said);
    let out = home.run(&["history"]);
    assert!(stderr(&out).contains(said), "{}", stderr(&out));
    assert!(stdout(&out).contains("Leave me"), "{}", stdout(&out));
    let stats = json(&home.ok(&["stats", "--json"]));
    assert_eq!(stats["readings"], 1, "{stats}");
    assert_eq!(stats["skipped"][0]["id"], 1, "{stats}");
    assert!(stdout(&home.ok(&["stats"])).contains("Left out: 1 reading whose records failed"));
    assert!(stdout(&home.ok(&["show", "2"])).contains("Leave me"));
    home.ok(&["delete", "1", "--yes"]);
    assert_eq!(home.history().len(), 1);
}

#[test]
fn delete_asks_or_needs_yes() {
    let home = Home::new();
    home.cast("Delete me", "7,7,7,7,7,8");
    home.cast("Keep me", "7,7,7,7,7,7");
    let out = home.run(&["delete", "1"]);
    fails(&out, 2, "pass --yes");
    assert_eq!(
        home.history().len(),
        2,
        "nothing deleted without confirmation"
    );
    home.ok(&["delete", "1", "--yes"]);
    let left = home.history();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0]["question"], "Keep me");
    let parts: i64 = home
        .sql()
        .query_row(
            "SELECT count(*) FROM reading_parts WHERE reading_id = 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(parts, 0);
    fails(&home.run(&["show", "1"]), 2, "no reading has id 1");
    fails(
        &home.run(&["delete", "1", "--yes"]),
        2,
        "no reading has id 1",
    );
    fails(&home.run(&["delete"]), 2, "required");
}

#[test]
fn an_id_that_is_not_a_reading_id_is_a_usage_error_before_anything_is_opened() {
    let home = Home::new();
    for args in [
        ["show", "0"].as_slice(),
        &["show", "-3"],
        &["show", "abc"],
        &["stats", "0"],
        &["stats", "-1", "--json"],
        &["retry", "0"],
        &["delete", "abc", "--yes"],
    ] {
        let out = home.run(args);
        fails(
            &out,
            2,
            &format!(
                "{:?} is not a reading id: use the number “iching --home {} history” shows",
                args[1],
                home.path().display()
            ),
        );
        assert!(stdout(&out).is_empty(), "{args:?}: {}", stdout(&out));
    }
    // The id was refused before the store was opened: nothing was created.
    let created: Vec<_> = std::fs::read_dir(home.path()).unwrap().collect();
    assert!(created.is_empty(), "{created:?}");
}

#[test]
fn nothing_sensitive_is_in_the_clear() {
    let home = Home::new();
    let question = "Will the ochre heron of Vilnius-4471 come home before the thaw?";
    let cast = home.cast(question, "9,8,7,7,6,8");
    // Section text: whole paragraphs and a distinctive Legge phrase from line 5's section.
    let mut needles: Vec<String> = vec![
        question.into(),
        "ochre heron".into(),
        "The fifth SIX".into(),
    ];
    for s in cast["sections"].as_array().unwrap() {
        for p in s["paragraphs"].as_array().unwrap() {
            let text: String = p["spans"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s["text"].as_str().unwrap())
                .collect();
            if text.len() > 40 {
                needles.push(text.chars().take(40).collect());
            }
        }
    }
    assert!(needles.len() > 12, "{needles:?}");
    let line5 = serde_json::to_string(&cast["sections"][4]).unwrap();
    assert!(
        line5.contains("The fifth SIX"),
        "the phrase is really in the reading"
    );
    let mut scanned = 0;
    for entry in std::fs::read_dir(home.path()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !name.starts_with("iching.db") {
            continue;
        }
        scanned += 1;
        let bytes = std::fs::read(&path).unwrap();
        for needle in &needles {
            assert!(!contains(&bytes, needle.as_bytes()), "{needle:?} in {name}");
            let utf16: Vec<u8> = needle.encode_utf16().flat_map(u16::to_le_bytes).collect();
            assert!(!contains(&bytes, &utf16), "{needle:?} (UTF-16LE) in {name}");
        }
    }
    assert!(scanned >= 1);
}

#[test]
fn bad_stores_are_clear_errors_that_leave_the_file_alone() {
    // A file that is not a database.
    let home = Home::new();
    let junk: Vec<u8> = (0..10_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8)
        .collect();
    std::fs::write(home.db(), &junk).unwrap();
    let before = snapshot(&home.db());
    for args in [
        &["history"][..],
        &["cast", "Q", "--seed", "1"],
        &["show", "1"],
    ] {
        let out = home.run(args);
        fails(&out, 1, "is not a readable iching database");
        assert!(stderr(&out).contains("move it aside"));
    }
    assert_eq!(snapshot(&home.db()), before);
    assert!(!home.path().join("iching.key").exists());

    // A missing key file, then the wrong one.
    let home = Home::new();
    home.cast("Q", "7,7,7,7,7,7");
    let key = home.path().join("iching.key");
    std::fs::remove_file(&key).unwrap();
    let before = snapshot(&home.db());
    fails(&home.run(&["history"]), 1, "is missing");
    fails(
        &home.run(&["cast", "Q", "--seed", "2"]),
        1,
        "restore the key file",
    );
    assert!(!key.exists(), "no new key over an existing database");
    std::fs::write(&key, [42u8; 32]).unwrap();
    std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    fails(&home.run(&["history"]), 1, "does not open");
    assert_eq!(snapshot(&home.db()), before);

    // An unusable home.
    let home = Home::new();
    let file = home.path().join("plain-file");
    std::fs::write(&file, "x").unwrap();
    for args in [&["cast", "Q", "--seed", "1"][..], &["history"]] {
        let out = iching_in(&file.join("home"), args, &[]);
        fails(&out, 1, "pass --home with a directory you can write to");
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn a_passphrase_store_needs_the_right_passphrase() {
    let home = Home::new();
    let right = [("ICHING_PASSPHRASE", "correct horse battery")];
    let out = home.run_env(
        &[
            "cast",
            "Sealed by passphrase",
            "--lines",
            "7,7,7,7,7,7",
            "--format",
            "json",
        ],
        &right,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!home.path().join("iching.key").exists());
    let before = snapshot(&home.db());
    let out = home.run_env(&["history"], &[("ICHING_PASSPHRASE", "wrong horse")]);
    fails(&out, 2, "passphrase does not open");
    assert!(!stderr(&out).contains("wrong horse"));
    fails(&home.run(&["history"]), 2, "set ICHING_PASSPHRASE");
    assert_eq!(snapshot(&home.db()), before);
    let out = home.run_env(&["history", "--json"], &right);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(json(&out)[0]["question"], "Sealed by passphrase");
}

#[test]
fn a_tampered_reading_says_so_and_the_others_still_list() {
    let home = Home::new();
    for q in ["first", "second", "third"] {
        home.cast(q, "9,8,7,7,6,8");
    }
    let sql = home.sql();
    let mut blob: Vec<u8> = sql
        .query_row("SELECT question FROM readings WHERE id = 2", [], |r| {
            r.get(0)
        })
        .unwrap();
    blob[30] ^= 0x40;
    sql.execute("UPDATE readings SET question = ?1 WHERE id = 2", [blob])
        .unwrap();
    let mut part: Vec<u8> = sql
        .query_row(
            "SELECT paragraphs FROM reading_parts WHERE reading_id = 3 AND section_id = 14",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let last = part.len() - 1;
    part[last] ^= 0x01;
    sql.execute(
        "UPDATE reading_parts SET paragraphs = ?1 WHERE reading_id = 3 AND section_id = 14",
        [part],
    )
    .unwrap();
    drop(sql);

    let out = home.run(&["history", "--json"]);
    fails(&out, 1, "integrity check failed for reading 2");
    let listed = json(&out);
    let questions: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["question"].as_str().unwrap())
        .collect();
    assert_eq!(questions, ["third", "(integrity check failed)", "first"]);
    let table = home.run(&["history"]);
    assert!(stdout(&table).contains("(integrity check failed)"));
    assert_eq!(table.status.code(), Some(1));

    fails(
        &home.run(&["show", "2"]),
        1,
        "integrity check failed for reading 2",
    );
    let out = home.run(&["show", "3"]);
    fails(&out, 1, "integrity check failed for reading 3");
    assert!(stderr(&out).contains("text of section 14"));
    assert!(
        out.stdout.is_empty(),
        "nothing of a tampered reading is shown"
    );
    home.ok(&["show", "1"]);
    // It can still be deleted.
    home.ok(&["delete", "2", "--yes"]);
    assert_eq!(home.history().len(), 2);
}

#[test]
fn history_no_outcome_lists_the_readings_still_waiting_for_one() {
    let home = Home::new();
    home.cast("Take the Lisbon job?", "9,8,7,7,6,8");
    home.cast("What of the harvest?", "7,7,7,7,7,7");
    home.cast("A flat in lisbon", "8,8,8,8,8,8");
    // Reading 1 gets an outcome, reading 3 only a note: 3 and 2 still wait.
    for args in [
        ["note", "1", "We went; it was right.", "--outcome"],
        ["note", "3", "Too dark a flat.", "--note"],
    ] {
        let args: Vec<&str> = args.into_iter().filter(|a| *a != "--note").collect();
        let out = home.run(&args);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    }
    let out = home.run(&["history", "--no-outcome", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let ids: Vec<i64> = json(&out)
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [3, 2]);
    let out = home.run(&[
        "history",
        "--no-outcome",
        "--search",
        "lisbon",
        "--limit",
        "1",
    ]);
    assert!(
        stdout(&out).contains("A flat in lisbon"),
        "{}",
        stdout(&out)
    );
    assert!(!stdout(&out).contains("Lisbon job"), "{}", stdout(&out));
}
