//! `iching batch`, the real binary against the fake server: one shared limit, a retry pass for
//! failed sections, truthful states after Ctrl-C, and bad lines reported by number.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test or tool fails by panicking"
)]

use crate::support;

use std::process::{Output, Stdio};
use std::time::Duration;

use support::fake_openai::{FakeOpenAi, Fault, Gate, ServerConfig};
use tokio::process::Command;

fn command(home: &std::path::Path, args: &[&str]) -> Command {
    let mut c = support::cli::binary();
    c.args(args)
        .env("ICHING_HOME", home)
        .env("OPENAI_API_KEY", "sk-batch")
        .env("NO_COLOR", "1");
    c
}

async fn iching(home: &std::path::Path, args: &[&str]) -> Output {
    command(home, args).output().await.unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn questions(dir: &std::path::Path, n: usize) -> String {
    let path = dir.join("questions.txt");
    let body: String = (0..n).fold(String::new(), |mut body, i| {
        body.push_str(&format!(
            "{{\"question\": \"Question {i}\", \"lines\": \"9,8,7,7,6,8\"}}\n"
        ));
        body
    });
    std::fs::write(&path, body).unwrap();
    path.to_string_lossy().into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn many_readings_share_one_limit_and_failed_sections_are_retried_alone() {
    // The limit is reached: no answer's body goes out before 8 answering requests are in flight
    // together. And it is never passed: a whole (not streamed) response ends at the server
    // before the client has all of it, so the server's count never runs ahead of the binary's.
    let server = FakeOpenAi::start(ServerConfig {
        latency: Duration::from_millis(150),
        gate: Some(Gate::in_flight(8)),
        ..ServerConfig::default()
    });
    // The first three requests fail for good (one attempt each): their sections are retried in
    // the second pass, and only they.
    // (Bodies that are not JSON: a 5xx or a cut stream would be taken as the server's load and
    // halve what is in flight, which this test holds at 8.)
    server.push_faults([
        Fault::CorruptChunk,
        Fault::CorruptChunk,
        Fault::CorruptChunk,
    ]);
    let home = tempfile::tempdir().unwrap();
    // The questions live outside the home: a home holds only what iching keeps there.
    let files = tempfile::tempdir().unwrap();
    let file = questions(files.path(), 6); // 6 readings x 10 sections
    let url = server.base_url();
    let out = iching(
        home.path(),
        &[
            "batch",
            &file,
            "--base-url",
            &url,
            "--concurrency",
            "8",
            "--max-attempts",
            "1",
            "--no-stream",
            "--json",
        ],
    )
    .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let s: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(s["readings"], 6);
    assert_eq!(s["complete"], 6);
    assert_eq!(s["sections_done"], 60);
    assert_eq!(s["sections_failed"], 3);
    assert_eq!(s["requests"], 63);
    assert!(s["retried_readings"].as_u64().unwrap() >= 1);
    assert!(s["tokens_reported"].as_u64().unwrap() > 0);
    assert_eq!(s["tokens_estimated"], 0);
    let stats = server.stats();
    assert_eq!(stats.requests, 63, "60 sections + the 3 that failed once");
    assert_eq!(stats.peak_in_flight, 8, "one limit across all readings");

    let history = iching(home.path(), &["history", "--json"]).await;
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&history.stdout).unwrap();
    assert_eq!(rows.len(), 6);
    assert!(
        rows.iter()
            .all(|r| r["status"] == "complete" && r["sections_done"] == 10)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_leaves_every_reading_in_a_truthful_state() {
    let server = FakeOpenAi::start(ServerConfig {
        latency: Duration::from_millis(400),
        ..ServerConfig::default()
    });
    let home = tempfile::tempdir().unwrap();
    // The questions live outside the home: a home holds only what iching keeps there.
    let files = tempfile::tempdir().unwrap();
    let file = questions(files.path(), 40);
    let url = server.base_url();
    let child = command(
        home.path(),
        &[
            "batch",
            &file,
            "--base-url",
            &url,
            "--concurrency",
            "10",
            "--json",
        ],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    // Wait until some readings are done and others in flight, then interrupt.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while server.stats().completed < 25 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the batch never got going"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let pid = child.id().unwrap().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = child.wait_with_output().await.unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", text(&out.stderr));
    let s: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let (complete, cancelled, not_started) = (
        s["complete"].as_u64().unwrap(),
        s["cancelled"].as_u64().unwrap(),
        s["not_started"].as_u64().unwrap(),
    );
    assert!(complete >= 1, "{s}");
    assert!(not_started >= 1, "dispatching stopped: {s}");
    assert_eq!(
        complete + cancelled + not_started + s["partial"].as_u64().unwrap(),
        40
    );

    let history = iching(home.path(), &["history", "--json"]).await;
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&history.stdout).unwrap();
    assert_eq!(
        rows.len() as u64,
        40 - not_started,
        "only started readings exist"
    );
    for r in &rows {
        let status = r["status"].as_str().unwrap();
        assert!(
            ["complete", "cancelled", "partial"].contains(&status),
            "no reading left running or interrupted: {r}"
        );
        if status == "complete" {
            assert_eq!(r["sections_done"], 10);
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_lines_are_reported_by_number_and_bad_files_are_clear_errors() {
    let home = tempfile::tempdir().unwrap();
    // The files live outside the home: a home holds only what iching keeps there.
    let files = tempfile::tempdir().unwrap();
    let file = files.path().join("mixed.txt");
    std::fs::write(
        &file,
        "What now?\n{\"question\": \"Q\", \"lines\": \"9,8\"}\n\n{nope\n{\"question\": \"   \"}\n",
    )
    .unwrap();
    let f = file.to_string_lossy().into_owned();
    let out = iching(
        home.path(),
        &["batch", &f, "--provider", "offline", "--json"],
    )
    .await;
    // The good line is read; the exit status says the file needs fixing.
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains("mixed.txt:2: expected six line values"),
        "{err}"
    );
    assert!(err.contains("mixed.txt:4: not a valid JSON line"), "{err}");
    assert!(err.contains("mixed.txt:5: the question is empty"), "{err}");
    let s: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(s["readings"], 1);
    assert_eq!(s["complete"], 1);
    assert_eq!(s["skipped"].as_array().unwrap().len(), 3);

    let empty = files.path().join("empty.txt");
    std::fs::write(&empty, "\n# only a comment\n").unwrap();
    let out = iching(
        home.path(),
        &["batch", &empty.to_string_lossy(), "--provider", "offline"],
    )
    .await;
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("has no questions"));
    let out = iching(
        home.path(),
        &["batch", "/no/such/file.txt", "--provider", "offline"],
    )
    .await;
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("cannot read /no/such/file.txt"));
    // A file far larger than a batch holds is refused before it is read (a sparse file: its
    // size costs no disk).
    let huge = files.path().join("huge.txt");
    std::fs::File::create(&huge)
        .unwrap()
        .set_len(300 * 1024 * 1024)
        .unwrap();
    let out = iching(
        home.path(),
        &["batch", &huge.to_string_lossy(), "--provider", "offline"],
    )
    .await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("split it into smaller files"),
        "{}",
        text(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_closed_stdout_is_not_a_crash() {
    // `iching batch FILE --json | head -0`: the reader is gone before the summary is written.
    let home = tempfile::tempdir().unwrap();
    // The questions live outside the home: a home holds only what iching keeps there.
    let files = tempfile::tempdir().unwrap();
    let file = questions(files.path(), 2);
    for args in [
        vec!["batch", &file, "--provider", "offline", "--json"],
        vec!["batch", &file, "--provider", "offline"],
    ] {
        let mut child = command(home.path(), &args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let out = child.wait_with_output().await.unwrap();
        let err = text(&out.stderr);
        assert!(!err.contains("panicked"), "{err}");
        assert_eq!(out.status.code(), Some(0), "{err}");
    }
}
