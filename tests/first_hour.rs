//! What a new user meets in the first hour, through the real binary: `--help` names the terminal
//! app, `cast` says where its reading went and how to repeat it, a wrong `--lines` separator is
//! named, `history` tells "nothing matches" from "nothing yet", and a batch file's errors name
//! its JSON fields.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test or tool fails by panicking"
)]

use crate::support;

use std::path::Path;

use support::cli::{Run, run};

async fn ok(home: &Path, args: &[&str]) -> Run {
    let out = run(home, args, "", &[]).await;
    assert_eq!(out.code, Some(0), "{args:?}: {out}");
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn help_says_that_no_command_opens_the_terminal_app() {
    let home = tempfile::tempdir().unwrap();
    for flag in ["--help", "-h"] {
        let out = ok(home.path(), &[flag]).await;
        assert!(
            out.stdout
                .contains("With no command, “iching” opens the terminal app"),
            "{out}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn cast_text_ends_with_its_id_and_seed_and_history_json_has_the_seed() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let out = ok(
        h,
        &["cast", "Will it rain?", "--method", "yarrow", "--seed", "7"],
    )
    .await;
    let last = out.stdout.trim_end().lines().last().unwrap();
    // The hint carries the home this run was given (ICHING_HOME here), to paste anywhere.
    assert_eq!(
        last,
        format!(
            "Saved as reading 1 (“iching --home {} show 1”); yarrow cast, seed 7 (“--method yarrow --seed 7” casts it again).",
            h.display()
        ),
        "{out}"
    );
    let manual = ok(h, &["cast", "And the harvest?", "--lines", "9,8,7,7,6,8"]).await;
    assert!(
        manual.stdout.trim_end().ends_with(&format!(
            "Saved as reading 2 (“iching --home {} show 2”); manual cast, lines 9,8,7,7,6,8.",
            h.display()
        )),
        "{manual}"
    );
    // The JSON is the reading alone: no closing line.
    let json = ok(h, &["cast", "Q?", "--seed", "3", "--format", "json"]).await;
    assert_eq!(json.json()["seed"], 3);
    let history = ok(h, &["history", "--json"]).await.json();
    let seeds: Vec<_> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["seed"].clone())
        .collect();
    assert_eq!(seeds, [3.into(), serde_json::Value::Null, 7.into()]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_separator_in_lines_is_named() {
    let home = tempfile::tempdir().unwrap();
    let out = run(
        home.path(),
        &["cast", "Q?", "--lines", "9;8;7;7;6;8"],
        "",
        &[],
    )
    .await;
    assert_eq!(out.code, Some(2), "{out}");
    assert!(!out.stderr.contains("got 11"), "{out}");
    assert!(
        out.stderr
            .contains("';' does not separate line values: separate the six values with commas"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn history_says_what_matched_nothing_and_keeps_the_empty_store_hint() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    // A store with no readings at all.
    ok(h, &["verify"]).await;
    let empty = ok(h, &["history", "--search", "zzz"]).await;
    assert!(
        empty.stdout.starts_with("No readings found. Cast one"),
        "{empty}"
    );
    ok(h, &["cast", "Will it rain?", "--lines", "7,7,7,7,7,7"]).await;
    for (args, says) in [
        (
            &["history", "--search", "zzz"][..],
            "No readings match --search \"zzz\"; “iching history” lists them all.",
        ),
        (
            &["history", "--hexagram", "2"],
            "No readings match --hexagram 2; “iching history” lists them all.",
        ),
        (
            &["history", "--limit", "0"],
            "No readings match --limit 0; “iching history” lists them all.",
        ),
        (
            &["history", "--search", "rain", "--hexagram", "2"],
            "No readings match --search \"rain\" and --hexagram 2; “iching history” lists them all.",
        ),
    ] {
        let out = ok(h, args).await;
        let says = says.replace("“iching ", &format!("“iching --home {} ", h.display()));
        assert_eq!(out.stdout.trim_end(), says, "{args:?}");
    }
    let found = ok(h, &["history", "--hexagram", "1"]).await;
    assert!(found.stdout.contains("Will it rain?"), "{found}");
    assert_eq!(
        ok(h, &["history", "--limit", "0", "--json"]).await.json(),
        serde_json::json!([])
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn batch_errors_name_the_json_fields() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    // The questions live outside the home: a home holds only what iching keeps there.
    let files = tempfile::tempdir().unwrap();
    let file = files.path().join("questions.txt");
    std::fs::write(
        &file,
        "{\"question\": \"Q1?\", \"lines\": \"9,8,7,7,6,8\", \"method\": \"yarrow\", \"seed\": 7}\n\
         {\"question\": \"Q2?\", \"lines\": \"9,8,7,7,6,8\", \"seed\": 7}\n\
         {\"question\": \"Q3?\", \"method\": \"yarrow\", \"seed\": 7}\n",
    )
    .unwrap();
    let out = run(
        h,
        &["batch", &file.to_string_lossy(), "--provider", "offline"],
        "",
        &[],
    )
    .await;
    assert_eq!(out.code, Some(2), "{out}");
    assert!(
        out.stderr
            .contains(":1: \"lines\" is a manual cast; drop \"method\" yarrow or drop \"lines\""),
        "{out}"
    );
    assert!(
        out.stderr
            .contains(":2: \"seed\" is for random casts; \"lines\" already gives the six values"),
        "{out}"
    );
    assert!(!out.stderr.contains("--lines"), "{out}");
    assert!(!out.stderr.contains("--seed"), "{out}");
}

#[tokio::test(flavor = "multi_thread")]
async fn batch_lines_count_each_readings_own_sections_and_the_limit_is_a_limit() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    // The questions live outside the home: a home holds only what iching keeps there.
    let files = tempfile::tempdir().unwrap();
    let file = files.path().join("questions.txt");
    std::fs::write(
        &file,
        "Will it rain?\n{\"question\": \"And the well?\", \"lines\": \"9,6,9,6,9,6\"}\n",
    )
    .unwrap();
    let out = ok(
        h,
        &["batch", &file.to_string_lossy(), "--provider", "offline"],
    )
    .await;
    let history = ok(h, &["history", "--json"]).await.json();
    for reading in history.as_array().unwrap() {
        let planned = reading["sections_planned"].as_u64().unwrap();
        let line = format!("reading {} (", reading["id"].as_u64().unwrap());
        let said = out
            .stderr
            .lines()
            .find(|l| l.starts_with(&line))
            .unwrap_or_else(|| panic!("no line for {line}: {out}"));
        assert!(
            said.ends_with(&format!(
                ": complete; {planned} of its {planned} sections done"
            )),
            "{said}"
        );
    }
    assert!(
        out.stdout
            .starts_with("Batch: 2 readings, up to 16 sections at once"),
        "{out}"
    );
}

/// Every line of `text` fits 80 columns.
fn fits_80(text: &str) {
    for line in text.lines() {
        assert!(
            line.chars().count() <= 80,
            "{} columns: {line}\nin\n{text}",
            line.chars().count()
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn stats_number_sections_as_the_reading_does_fit_80_columns_and_add_up() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    // Lines 1 and 5 change: sections 4 (line 1) and 8 (line 5) are stored, 5..7 are not slots.
    ok(h, &["cast", "Q one?", "--lines", "9,8,7,7,6,8"]).await;
    ok(h, &["cast", "Q two?", "--seed", "3", "--method", "yarrow"]).await;
    let one = ok(h, &["stats", "1", "--json"]).await.json();
    let rows = one["rows"].as_array().unwrap();
    let mut numbers: Vec<u64> = rows.iter().map(|r| r["number"].as_u64().unwrap()).collect();
    numbers.sort_unstable();
    assert_eq!(numbers, (1..=10).collect::<Vec<_>>());
    let line5 = rows
        .iter()
        .find(|r| r["section"] == "Changing line 5")
        .unwrap();
    assert_eq!(
        (line5["number"].as_u64(), line5["section_id"].as_u64()),
        (Some(5), Some(8))
    );
    // The reading's rate is all its tokens over its wall time, not a sum of section rates.
    let t = &one["totals"];
    // (An instant reading, 0 ms from first to last, has no rate: 0.)
    let wall_s = t["wall_ms"].as_f64().unwrap() / 1000.0;
    let expected = if wall_s > 0.0 {
        t["total_tokens"].as_f64().unwrap() / wall_s
    } else {
        0.0
    };
    assert!(
        (t["tokens_per_sec"].as_f64().unwrap() - expected).abs() < 0.1,
        "{t}"
    );

    let text = ok(h, &["stats", "1"]).await.stdout;
    fits_80(&text);
    let numbered: Vec<&str> = text
        .lines()
        .filter(|l| l.trim_start().starts_with(|c: char| c.is_ascii_digit()))
        .collect();
    assert!(numbered[0].trim_start().starts_with("1  Opening"), "{text}");
    assert!(
        numbered[4].trim_start().starts_with("5  Changing line 5"),
        "{text}"
    );
    // The classic text: whose text it is, no tokens, rate or cost.
    assert!(
        text.contains("Legge's text, from the book: no model")
            && !text.contains("tok/s")
            && !text.contains("tokens over"),
        "{text}"
    );
    assert!(
        !text.contains("[prices."),
        "no price asked for the offline text: {text}"
    );

    let all = ok(h, &["stats"]).await.stdout;
    fits_80(&all);
    assert!(
        all.contains("\nlegge-1882: Legge's text, from the book: no tokens or cost"),
        "{all}"
    );
    assert!(!all.contains("[prices.") && !all.contains("free"), "{all}");
    // --wide adds token columns; the classic text has none to add.
    let wide = ok(h, &["stats", "1", "--wide"]).await.stdout;
    assert_eq!(wide, text);
}

#[tokio::test(flavor = "multi_thread")]
async fn bench_fits_80_columns_and_wide_shows_every_column() {
    use support::fake_openai::{FakeOpenAi, ServerConfig};
    let server = FakeOpenAi::start(ServerConfig::default());
    let home = tempfile::tempdir().unwrap();
    let url = server.base_url();
    let args = [
        "bench",
        "--base-url",
        &url,
        "--requests",
        "4",
        "--concurrency",
        "1,4",
        "--sequential",
    ];
    let narrow = ok(home.path(), &args).await.stdout;
    fits_80(&narrow);
    assert!(
        narrow.starts_with("4 requests per level, streamed (SSE); one at a time: "),
        "{narrow}"
    );
    assert_eq!(narrow.lines().count(), 4, "{narrow}");
    let mut wide_args = args.to_vec();
    wide_args.push("--wide");
    let wide = ok(home.path(), &wide_args).await.stdout;
    assert!(
        wide.contains("p99 ms") && wide.contains("sequential"),
        "{wide}"
    );
    assert!(wide.lines().any(|l| l.chars().count() > 80), "{wide}");
    server.shutdown().await;
}

/// Lines of `text` that end in a blank.
fn padded_lines(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| l.ends_with([' ', '\t']))
        .map(|l| format!("{l:?}"))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn no_line_printed_for_people_ends_in_a_blank_or_has_a_backtick() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    // A reading that changes (two figures side by side) and one that does not.
    ok(
        h,
        &["cast", "Will the well be mended?", "--lines", "7,7,9,7,8,8"],
    )
    .await;
    ok(h, &["cast", "And the roof?", "--lines", "7,7,7,8,8,8"]).await;
    ok(h, &["note", "1", "First line.\nSecond line."]).await;
    let mut outputs: Vec<(String, String)> = Vec::new();
    let commands: &[&[&str]] = &[
        &["--help"],
        &["cast", "--help"],
        &["show", "--help"],
        &["export", "--help"],
        &["restore", "--help"],
        &["history"],
        &["show", "1"],
        &["show", "2"],
        &["show", "1", "--format", "md"],
        &["notes", "1"],
        &["stats", "1"],
        &["stats"],
        &["hexagram", "23"],
        &["stats", "--hexagrams"],
        &["ask", "1", "And the well's rope?"],
        &["show", "1"],
    ];
    for args in commands {
        let out = ok(h, args).await;
        outputs.push((format!("{args:?} stdout"), out.stdout));
        outputs.push((format!("{args:?} stderr"), out.stderr));
    }
    for (what, text) in outputs {
        assert!(
            padded_lines(&text).is_empty(),
            "{what}: lines end in blanks: {:?}",
            padded_lines(&text)
        );
        // Plain text sets commands and names in quotation marks, not Markdown's backticks
        // (the Markdown export is Markdown).
        if !what.contains("\"md\"") {
            assert!(
                !text.contains('`'),
                "{what}: a backtick in plain text:\n{text}"
            );
        }
    }
}
