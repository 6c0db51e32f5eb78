//! `iching sync` through the real binary: two and three homes sharing one folder, with the
//! offline provider (which answers follow-ups too). Each machine casts, notes, asks and
//! deletes; they sync in either order, twice, and end with the same journal; a deletion never
//! comes back; a flipped byte is refused and named; nothing in the folder is plaintext; a third
//! machine joins with the key.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test or tool fails by panicking"
)]

use crate::support;

use std::path::{Path, PathBuf};

use serde_json::Value;
use support::cli::{Run, run};

const OFFLINE: &[(&str, &str)] = &[("ICHING_PROVIDER", "offline")];

async fn iching(home: &Path, args: &[&str]) -> Run {
    run(home, args, "", OFFLINE).await
}

async fn ok(home: &Path, args: &[&str]) -> Run {
    let out = iching(home, args).await;
    assert_eq!(out.code, Some(0), "{args:?}: {out}");
    out
}

/// What a user sees of a home's journal, independent of local numbers: each reading's question,
/// status and sections, its notes (kind and text) and follow-ups (question and answer), sorted.
async fn journal(home: &Path) -> Vec<Value> {
    let listed = ok(home, &["history", "--json"]).await.json();
    let mut out = Vec::new();
    for row in listed.as_array().unwrap() {
        let id = row["id"].to_string();
        let shown = ok(home, &["show", &id, "--format", "json"]).await.json();
        let notes: Vec<Value> = shown["notes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| serde_json::json!([n["kind"], n["text"]]))
            .collect();
        let followups: Vec<Value> = shown["followups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| serde_json::json!([f["question"], f["answer"]]))
            .collect();
        out.push(serde_json::json!({
            "question": shown["question"],
            "status": shown["status"],
            "sections": shown["sections"].as_array().unwrap().len(),
            "notes": notes,
            "followups": followups,
        }));
    }
    out.sort_by_key(ToString::to_string);
    out
}

fn id_of(journal_json: &Value, question: &str) -> String {
    journal_json
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["question"] == question)
        .unwrap_or_else(|| panic!("no reading {question:?}"))["id"]
        .to_string()
}

async fn id(home: &Path, question: &str) -> String {
    id_of(&ok(home, &["history", "--json"]).await.json(), question)
}

fn sync_args<'a>(folder: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["sync", folder];
    args.extend_from_slice(extra);
    args
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn two_homes_cast_note_ask_delete_and_sync_to_the_same_journal_and_a_third_joins() {
    let (a, b, c) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().to_str().unwrap();
    let (a, b, c) = (a.path(), b.path(), c.path());
    let key_a = a.join("iching.key");
    let key_a = key_a.to_str().unwrap();

    ok(a, &["cast", "Shall I plant the orchard?", "--seed", "1"]).await;
    ok(
        a,
        &["cast", "Is the old well worth digging?", "--seed", "2"],
    )
    .await;
    ok(a, &["note", "1", "Quince-Lantern-7 in the north field"]).await;
    let first = ok(a, &sync_args(folder, &["--json"])).await.json();
    assert_eq!(first["joined"], true);
    assert!(first["sent"].as_u64().unwrap() >= 3, "{first}");

    // B, with a key of its own, is refused until it joins with A's.
    ok(b, &["cast", "Should the boat be sold?", "--seed", "3"]).await;
    let refused = iching(b, &sync_args(folder, &[])).await;
    assert_ne!(refused.code, Some(0));
    assert!(refused.stderr.contains("--key"), "{refused}");
    ok(b, &sync_args(folder, &["--key", key_a])).await;

    // Both write: B notes and asks about A's reading, deletes the well; A adds an outcome and
    // asks about B's boat after the next sync.
    let orchard = id(b, "Shall I plant the orchard?").await;
    ok(b, &["note", &orchard, "Second thought: wait for spring"]).await;
    ok(b, &["ask", &orchard, "What does the second line advise?"]).await;
    let well = id(b, "Is the old well worth digging?").await;
    ok(b, &["delete", &well, "--yes"]).await;
    ok(a, &["note", "1", "--outcome", "It bore fruit"]).await;
    // Either order, twice.
    for (first, second) in [(a, b), (b, a), (a, b), (b, a)] {
        ok(first, &sync_args(folder, &[])).await;
        ok(second, &sync_args(folder, &[])).await;
    }
    let boat = id(a, "Should the boat be sold?").await;
    ok(a, &["ask", &boat, "Is the buyer honest?"]).await;
    ok(a, &sync_args(folder, &[])).await;
    ok(b, &sync_args(folder, &[])).await;

    let on_a = journal(a).await;
    assert_eq!(on_a, journal(b).await);
    let questions: Vec<&str> = on_a
        .iter()
        .map(|r| r["question"].as_str().unwrap())
        .collect();
    assert_eq!(
        questions.len(),
        2,
        "the deleted reading is gone everywhere: {questions:?}"
    );
    assert!(!questions.contains(&"Is the old well worth digging?"));
    let orchard_a = on_a
        .iter()
        .find(|r| r["question"] == "Shall I plant the orchard?")
        .unwrap();
    assert_eq!(
        orchard_a["notes"].as_array().unwrap().len(),
        3,
        "{orchard_a}"
    );
    assert_eq!(orchard_a["followups"].as_array().unwrap().len(), 1);
    let boat_a = on_a
        .iter()
        .find(|r| r["question"] == "Should the boat be sold?")
        .unwrap();
    assert_eq!(boat_a["followups"].as_array().unwrap().len(), 1);

    // Nothing new: a sync writes nothing and changes nothing.
    let before = files(dir.path());
    let again = ok(a, &sync_args(folder, &["--json"])).await.json();
    assert_eq!(
        (again["sent"].as_u64(), again["changed"].as_u64()),
        (Some(0), Some(0))
    );
    assert_eq!(files(dir.path()), before);

    // The deletion never comes back: not after more syncs, not on a machine that joins now.
    ok(c, &sync_args(folder, &["--key", key_a])).await;
    assert_eq!(journal(c).await, on_a);
    ok(b, &sync_args(folder, &[])).await;
    assert_eq!(journal(b).await, on_a);

    // No plaintext in the folder: no question, note, follow-up or model name.
    for path in files(dir.path()) {
        let bytes = std::fs::read(&path).unwrap();
        let text = String::from_utf8_lossy(&bytes).to_lowercase();
        for clear in [
            "orchard",
            "quince-lantern-7",
            "fruit",
            "second line",
            "buyer",
            "legge",
            "offline",
        ] {
            assert!(!text.contains(clear), "{clear:?} in {}", path.display());
        }
    }

    // Status, for scripts: A's next sync sees C's folder too.
    ok(a, &sync_args(folder, &[])).await;
    let status = ok(a, &sync_args(folder, &["--status", "--json"]))
        .await
        .json();
    assert_eq!(status["devices"], 2, "{status}");
    assert!(
        status["last_sync"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z')),
        "RFC 3339, the test binary runs on UTC: {status}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_flipped_byte_is_refused_naming_the_file_and_the_other_store_still_verifies() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().to_str().unwrap();
    let (a, b) = (a.path(), b.path());
    ok(a, &["cast", "Is the bridge safe?", "--seed", "4"]).await;
    ok(a, &["note", "1", "Ask the ferryman"]).await;
    let written = ok(a, &sync_args(folder, &["--json"])).await.json();
    let record = PathBuf::from(written["file"].as_str().unwrap());
    let mut bytes = std::fs::read(&record).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x20;
    std::fs::write(&record, &bytes).unwrap();

    let key = a.join("iching.key");
    let out = iching(b, &sync_args(folder, &["--key", key.to_str().unwrap()])).await;
    assert_eq!(out.code, Some(1), "{out}");
    let name = record.file_name().unwrap().to_str().unwrap();
    assert!(
        out.stderr.contains("refused") && out.stderr.contains(name),
        "{out}"
    );
    // Nothing of it was merged; both stores check out.
    assert_eq!(
        ok(b, &["history", "--json"]).await.json(),
        serde_json::json!([])
    );
    ok(b, &["verify"]).await;
    ok(a, &["verify"]).await;
}

/// Runs `args` in `home`, waits until it pauses at `phase`, and kills it with SIGKILL.
async fn kill_at(home: &Path, args: &[&str], phase: &str) {
    use tokio::io::{AsyncBufReadExt, BufReader};
    let mut env = OFFLINE.to_vec();
    env.push(("ICHING_TEST_PAUSE", phase));
    let mut child = support::cli::command(home, args, "", &env)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    support::cli::guard(120, async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if line == format!("paused at {phase}") {
                return;
            }
        }
        panic!("{args:?} ended without pausing at {phase}");
    })
    .await;
    child.kill().await.unwrap();
    let status = child.wait().await.unwrap();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(9)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sync_killed_while_writing_or_merging_loses_nothing_and_the_next_completes_it() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().to_str().unwrap();
    let (a, b) = (a.path(), b.path());
    for (q, seed) in [
        ("Is the harbour open?", "5"),
        ("Will the rain hold off?", "6"),
    ] {
        ok(a, &["cast", q, "--seed", seed]).await;
    }
    ok(a, &["note", "1", "Watch the tide"]).await;
    // Killed after its record is in the folder but before the store noted it as sent.
    kill_at(a, &["sync", folder], "sync-record-written").await;
    ok(a, &["note", "2", "Bring a coat"]).await;
    ok(a, &sync_args(folder, &[])).await;
    // B joins, killed after merging the first of A's records.
    let key = a.join("iching.key");
    let key = key.to_str().unwrap();
    kill_at(b, &["sync", folder, "--key", key], "sync-merged-one").await;
    ok(b, &sync_args(folder, &["--key", key])).await;
    let on_a = journal(a).await;
    assert_eq!(on_a.len(), 2);
    assert_eq!(journal(b).await, on_a, "nothing lost, nothing doubled");
    ok(b, &["verify"]).await;
}
