//! The journal through the real binary: `note` (with `--outcome`, `--edit`, `--delete`),
//! `notes`, notes in `show` (every format) and `history` (marks, `--search`), sealed on disk,
//! checked like the rest of the store, carried by backup/restore and a key rotation.
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

async fn fails(home: &Path, args: &[&str], code: i32, said: &str) {
    let out = run(home, args, "", &[]).await;
    assert_eq!(out.code, Some(code), "{args:?}: {out}");
    assert!(out.stderr.contains(said), "{args:?}: {out}");
}

async fn home_with_two_readings() -> tempfile::TempDir {
    let home = tempfile::tempdir().unwrap();
    for q in ["Will the garden thrive?", "Should I write the letter?"] {
        let args = ["cast", q, "--lines", "9,8,7,7,6,8", "--provider", "offline"];
        ok(home.path(), &args).await;
    }
    home
}

#[tokio::test(flavor = "multi_thread")]
async fn notes_and_outcomes_are_kept_shown_searched_and_sealed() {
    let home = home_with_two_readings().await;
    let h = home.path();
    let out = ok(
        h,
        &[
            "note",
            "1",
            "Patience: plant after the frost.\nWatch the Marigold-5521 bed.",
        ],
    )
    .await;
    assert!(out.stderr.contains("Added note 1 to reading 1"), "{out}");
    ok(h, &["note", "1", "--outcome", "It thrived."]).await;
    let notes = ok(h, &["notes", "1", "--json"]).await.json();
    let kinds: Vec<&str> = notes
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["note", "outcome"]);
    assert_eq!(
        notes[0]["text"],
        "Patience: plant after the frost.\nWatch the Marigold-5521 bed."
    );
    assert!(notes[0]["at"].as_str().unwrap().ends_with('Z'));

    // show: every format carries them.
    let json = ok(h, &["show", "1", "--format", "json"]).await.json();
    assert_eq!(json["notes"].as_array().unwrap().len(), 2);
    assert_eq!(json["notes"][1]["kind"], "outcome");
    assert_eq!(json["notes"][1]["text"], "It thrived.");
    for (format, shown) in [
        ("text", "== Journal =="),
        ("md", "## Journal"),
        ("html", "<h2>Journal</h2>"),
    ] {
        let out = ok(h, &["show", "1", "--format", format]).await;
        assert!(out.stdout.contains(shown), "{format}");
        assert!(out.stdout.contains("Marigold-5521"), "{format}");
    }
    // history: marked, counted, and found by a word only the note has (a new process each time).
    let list = ok(h, &["history", "--json"]).await.json();
    assert_eq!(
        (list[1]["notes"].as_u64(), list[1]["outcomes"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(
        (list[0]["notes"].as_u64(), list[0]["outcomes"].as_u64()),
        (Some(0), Some(0))
    );
    let table = ok(h, &["history"]).await.stdout;
    assert!(table.contains("1 ✎ 1 ✓"), "{table}");
    let found = ok(h, &["history", "--json", "--search", "marigold-5521"])
        .await
        .json();
    assert_eq!(found.as_array().unwrap().len(), 1);
    assert_eq!(found[0]["id"], 1);
    // Sealed: the words are not on disk in the clear.
    for name in ["iching.db", "iching.db-wal"] {
        if let Ok(bytes) = std::fs::read(h.join(name)) {
            assert!(!bytes.windows(13).any(|w| w == b"Marigold-5521"), "{name}");
        }
    }
    // Verify counts them; a note changed outside iching is caught.
    let v = ok(h, &["verify", "--json"]).await.json();
    assert_eq!(v["intact"], true);
    let conn = rusqlite::Connection::open(h.join("iching.db")).unwrap();
    conn.execute("UPDATE notes SET kind = 'note' WHERE id = 2", [])
        .unwrap();
    drop(conn);
    fails(
        h,
        &["notes", "1"],
        1,
        "integrity check failed for reading 1 (its note 2",
    )
    .await;
    let v = run(h, &["verify", "--json"], "", &[]).await.json();
    assert_eq!(v["damaged"][0]["id"], 1, "{v}");
}

#[tokio::test(flavor = "multi_thread")]
async fn editing_and_deleting_ask_first_and_bad_notes_are_refused() {
    let home = home_with_two_readings().await;
    let h = home.path();
    ok(h, &["note", "2", "First thought."]).await;
    // No terminal to ask on: refused without --yes, nothing changed.
    fails(
        h,
        &["note", "2", "--edit", "1", "Second thought."],
        2,
        "pass --yes",
    )
    .await;
    fails(h, &["note", "2", "--delete", "1"], 2, "pass --yes").await;
    let notes = ok(h, &["notes", "2", "--json"]).await.json();
    assert_eq!(notes[0]["text"], "First thought.");
    ok(h, &["note", "2", "--edit", "1", "Second thought.", "--yes"]).await;
    let notes = ok(h, &["notes", "2", "--json"]).await.json();
    assert_eq!(notes[0]["text"], "Second thought.");
    for (args, code, said) in [
        (&["note", "2", "  \n "][..], 2, "the note is empty"),
        (&["note", "9", "x"], 2, "no reading has id 9"),
        (
            &["note", "2", "--edit", "5", "x", "--yes"],
            2,
            "has no note 5",
        ),
        (&["note", "2", "--delete", "5", "--yes"], 2, "has no note 5"),
        (&["note", "2"], 2, "required"),
        (
            &["note", "2", "x", "--outcome", "--delete", "1"],
            2,
            "cannot be used with",
        ),
    ] {
        fails(h, args, code, said).await;
    }
    let long = "x".repeat(10_001);
    fails(h, &["note", "2", &long], 2, "at most 10000 are taken").await;
    ok(h, &["note", "2", "--delete", "1", "--yes"]).await;
    let out = ok(h, &["notes", "2"]).await;
    assert!(out.stdout.contains("has no notes yet"), "{out}");
    // Notes go with their reading.
    ok(h, &["note", "2", "Gone soon."]).await;
    ok(h, &["delete", "2", "--yes"]).await;
    let conn = rusqlite::Connection::open(h.join("iching.db")).unwrap();
    let left: i64 = conn
        .query_row("SELECT count(*) FROM notes", [], |r| r.get(0))
        .unwrap();
    assert_eq!(left, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn notes_survive_a_key_rotation_and_a_restore() {
    let home = home_with_two_readings().await;
    let h = home.path();
    ok(h, &["note", "1", "Kept through it all."]).await;
    ok(h, &["note", "1", "--outcome", "And so it was."]).await;
    ok(h, &["key", "rotate", "--yes"]).await;
    let notes = ok(h, &["notes", "1", "--json"]).await.json();
    assert_eq!(notes[0]["text"], "Kept through it all.");
    let backup = h.join("backup.db");
    ok(h, &["backup", backup.to_str().unwrap()]).await;
    let other = tempfile::tempdir().unwrap();
    let key = h.join("iching.key");
    ok(
        other.path(),
        &[
            "restore",
            backup.to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
        ],
    )
    .await;
    let notes = ok(other.path(), &["notes", "1", "--json"]).await.json();
    let texts: Vec<&str> = notes
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["Kept through it all.", "And so it was."]);
    assert!(
        ok(other.path(), &["verify"])
            .await
            .stdout
            .contains("All intact")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn notes_and_follow_ups_are_numbered_per_reading() {
    let home = home_with_two_readings().await;
    let h = home.path();
    ok(h, &["note", "1", "First on one."]).await;
    ok(h, &["note", "1", "Second on one."]).await;
    let added = ok(h, &["note", "2", "First on two."]).await;
    assert!(
        added.stdout.contains("note 1 to reading 2")
            || added.stderr.contains("note 1 to reading 2"),
        "{added}"
    );
    let notes = ok(h, &["notes", "2", "--json"]).await.json();
    assert_eq!(notes[0]["number"], 1, "{notes}");
    // Its number is what edit and delete take.
    ok(h, &["note", "2", "Edited on two.", "--edit", "1", "--yes"]).await;
    let show = ok(h, &["show", "2", "--format", "json"]).await.json();
    assert_eq!(show["notes"][0]["number"], 1);
    assert_eq!(show["notes"][0]["text"], "Edited on two.");
    ok(h, &["note", "1", "--delete", "1", "--yes"]).await;
    let notes = ok(h, &["notes", "1", "--json"]).await.json();
    assert_eq!(notes[0]["number"], 1, "the later note moves up: {notes}");
    assert_eq!(notes[0]["text"], "Second on one.");
    // Follow-ups too.
    for id in ["1", "2"] {
        let asked = ok(
            h,
            &[
                "ask",
                id,
                "What of the first line?",
                "--provider",
                "offline",
            ],
        )
        .await;
        assert!(
            asked
                .stderr
                .contains(&format!("follow-up 1 of reading {id}")),
            "{asked}"
        );
    }
    let show = ok(h, &["show", "2", "--format", "json"]).await.json();
    assert_eq!(show["followups"][0]["number"], 1);
}

/// Minutes past local midnight of an RFC 3339 time (`2026-12-08T09:05:00+05:45` -> 545).
fn minute_of_day(at: &str) -> i64 {
    let hm = &at[11..16];
    hm[..2].parse::<i64>().unwrap() * 60 + hm[3..].parse::<i64>().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn times_are_shown_on_the_users_clock_and_json_keeps_the_offset() {
    let home = home_with_two_readings().await;
    let h = home.path();
    ok(h, &["note", "1", "Patience."]).await;
    // Kathmandu's zone, written as TZ can write it (no tz database needed): +05:45 all year.
    let nepal = [("TZ", "<+0545>-5:45")];
    let local = |args: &'static [&'static str]| {
        let h = h.to_owned();
        async move {
            let out = run(&h, args, "", &nepal).await;
            assert_eq!(out.code, Some(0), "{args:?}: {out}");
            out
        }
    };
    let utc = ok(h, &["history", "--json"]).await.json();
    let there = local(&["history", "--json"]).await.json();
    let (utc_at, local_at) = (
        utc[0]["created_at"].as_str().unwrap().to_owned(),
        there[0]["created_at"].as_str().unwrap().to_owned(),
    );
    assert!(utc_at.ends_with('Z'), "{utc_at}");
    assert!(local_at.ends_with("+05:45"), "{local_at}");
    // The same instant on two clocks.
    assert_eq!(
        (minute_of_day(&utc_at) + 345).rem_euclid(1440),
        minute_of_day(&local_at),
        "{utc_at} vs {local_at}"
    );
    // The table shows the local time and says whose clock it is.
    let table = local(&["history"]).await.stdout;
    let shown = local_at[..16].replace('T', " ");
    assert!(table.contains(&shown), "{shown} in\n{table}");
    assert!(table.contains("Times are in UTC+05:45."), "{table}");
    assert!(!table.contains(&utc_at[..16].replace('T', " ")), "{table}");
    // So do a reading's exports, its notes and `stats`.
    let text = local(&["show", "2"]).await.stdout;
    assert!(text.contains(&format!("Cast: {shown} UTC+05:45")), "{text}");
    for format in ["md", "html"] {
        let args: &'static [&'static str] = if format == "md" {
            &["show", "2", "--format", "md"]
        } else {
            &["show", "2", "--format", "html"]
        };
        let doc = local(args).await.stdout;
        assert!(doc.contains(&shown), "{format}: {doc}");
    }
    let json = local(&["show", "2", "--format", "json"]).await.json();
    assert_eq!(json["created_at"].as_str().unwrap(), local_at);
    let notes = local(&["notes", "1", "--json"]).await.json();
    assert!(
        notes[0]["at"].as_str().unwrap().ends_with("+05:45"),
        "{notes}"
    );
    let stats = local(&["stats", "2"]).await.stdout;
    assert!(
        stats.contains(&format!("cast {shown} UTC+05:45")),
        "{stats}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn note_and_ask_read_unquoted_words_as_one_text_as_cast_does() {
    let home = home_with_two_readings().await;
    let h = home.path();
    ok(h, &["note", "1", "Planted", "after", "the", "frost."]).await;
    let notes = ok(h, &["notes", "1", "--json"]).await.json();
    assert_eq!(notes[0]["text"], "Planted after the frost.");
    let out = ok(h, &["ask", "1", "What", "does", "line", "4", "mean?"]).await;
    assert!(
        out.stderr.contains("Saved as follow-up 1 of reading 1"),
        "{out}"
    );
    let shown = ok(h, &["show", "1", "--format", "json"]).await.json();
    assert_eq!(shown["followups"][0]["question"], "What does line 4 mean?");
    // The classic text answered: no token count in the saved line.
    assert!(out.stderr.contains("(Legge's text)"), "{out}");
}
