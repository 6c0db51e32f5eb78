//! Crash safety with a real child process and the fake OpenAI-compatible server: a `cast` killed
//! with SIGKILL mid-flight keeps every section that finished, `history` shows it interrupted,
//! and `retry` asks only for the missing sections, completes it, and never duplicates a part.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test or tool fails by panicking"
)]

use crate::support;

use std::path::Path;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::fake_openai::{FakeOpenAi, Fault, ServerConfig};
use tokio::process::Command;

fn iching(home: &Path, args: &[&str]) -> Command {
    let mut cmd = support::cli::binary();
    cmd.args(args)
        .env("ICHING_HOME", home)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    cmd
}

async fn run(home: &Path, args: &[&str]) -> Output {
    let out = iching(home, args).output().await.unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{args:?}: {err}");
    out
}

async fn history(home: &Path) -> Value {
    let out = run(home, &["history", "--json"]).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice::<Value>(&out.stdout).unwrap()[0].clone()
}

/// The parts stored so far as (section_id, updated_at), read the way another process would.
fn parts(db: &Path) -> Vec<(i64, i64)> {
    if !db.exists() {
        return Vec::new();
    }
    let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY;
    let Ok(conn) = rusqlite::Connection::open_with_flags(db, flags) else {
        return Vec::new();
    };
    let Ok(mut st) =
        conn.prepare("SELECT section_id, updated_at FROM reading_parts ORDER BY section_id")
    else {
        // The schema is not there yet.
        return Vec::new();
    };
    st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap_or_default()
}

/// Polls `check` every 20 ms until it holds, failing after `limit`.
async fn until(limit: Duration, what: &str, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_cast_keeps_its_sections_and_retry_finishes_it() {
    let server = FakeOpenAi::start(ServerConfig::default());
    // Ten sections (55 changing at lines 1 and 5): the first seven requests to arrive are
    // answered at once, the last three hang far longer than the test.
    let mut script = vec![Fault::Ok; 7];
    script.extend(std::iter::repeat_n(
        Fault::Latency(Duration::from_secs(600)),
        3,
    ));
    server.push_faults(script);
    let home = tempfile::tempdir().unwrap();
    let db = home.path().join("iching.db");
    let base_url = server.base_url();
    let provider = [
        "--provider",
        "openai",
        "--base-url",
        &base_url,
        "--model",
        "fake-1",
    ];

    let mut args = vec![
        "cast",
        "Will the killed cast of Kestrel-9902 survive?",
        "--lines",
        "9,8,7,7,6,8",
    ];
    args.extend(provider);
    let mut child = iching(home.path(), &args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    until(Duration::from_secs(60), "seven stored parts", || {
        let exited = child.try_wait().unwrap();
        assert!(exited.is_none(), "the cast ended early: {exited:?}");
        parts(&db).len() == 7
    })
    .await;
    until(Duration::from_secs(60), "the three slow requests", || {
        server.stats().in_flight == 3
    })
    .await;
    assert_eq!(server.stats().requests, 10);
    let before = parts(&db);
    child.kill().await.unwrap(); // SIGKILL
    let status = child.wait().await.unwrap();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(9)
    );

    // What the crash left on disk holds nothing in the clear either.
    for name in ["iching.db", "iching.db-wal"] {
        let path = home.path().join(name);
        if let Ok(bytes) = std::fs::read(&path) {
            assert!(
                !bytes.windows(12).any(|w| w == b"Kestrel-9902"),
                "question in {name}"
            );
        }
    }

    let h = history(home.path()).await;
    assert_eq!(h["status"], "interrupted", "{h}");
    assert_eq!(h["sections_done"], 7);
    assert_eq!(h["sections_planned"], 10);
    assert_eq!(parts(&db), before, "every finished section survived");

    // A retry against a failing endpoint asks only for the three, fails them, exits 3.
    server.clear_faults();
    server.reset_stats();
    server.set_config(ServerConfig {
        default_fault: Fault::Status(500),
        ..ServerConfig::default()
    });
    let mut failing = vec!["retry", "1", "--max-attempts", "1"];
    failing.extend(provider);
    let out = run(home.path(), &failing).await;
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(server.stats().requests, 3);
    let h = history(home.path()).await;
    assert_eq!(
        (h["status"].as_str(), h["sections_done"].as_u64()),
        (Some("partial"), Some(7))
    );

    // Then a working endpoint: again only the three, and the reading is complete.
    server.reset_stats();
    server.set_config(ServerConfig::default());
    let mut retry = vec!["retry", "1"];
    retry.extend(provider);
    let out = run(home.path(), &retry).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(server.stats().requests, 3, "only the missing sections");
    let h = history(home.path()).await;
    assert_eq!(h["status"], "complete", "{h}");
    assert_eq!(h["sections_done"], 10);

    let after = parts(&db);
    assert_eq!(after.len(), 10, "no duplicate parts: {after:?}");
    let ids: std::collections::BTreeSet<i64> = after.iter().map(|(s, _)| *s).collect();
    assert_eq!(ids.len(), 10);
    for part in &before {
        assert!(after.contains(part), "section {} was rewritten", part.0);
    }
    let show = run(home.path(), &["show", "1", "--format", "json"]).await;
    let report: Value = serde_json::from_slice(&show.stdout).unwrap();
    let models: Vec<&str> = report["sections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["model"].as_str().unwrap_or("-"))
        .collect();
    assert!(models.iter().all(|m| *m != "-"), "{models:?}");
}
