//! `iching cast --provider openai` and `iching bench`, the real binary against the fake server.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::process::Output;
use std::time::Duration;

use support::fake_openai::{FakeOpenAi, Fault, ServerConfig};
use tokio::process::Command;

const KEY: &str = "sk-cli-secret-9876543210";

async fn iching(home: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_iching"))
        .args(args)
        .env("ICHING_HOME", home)
        .env("OPENAI_API_KEY", KEY)
        .env_remove("OPENAI_BASE_URL")
        .env_remove("ICHING_PROVIDER")
        .env_remove("ICHING_MODEL")
        .env("NO_COLOR", "1")
        .output()
        .await
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn cast_with_openai_runs_every_section_at_once_against_the_endpoint() {
    // The answer streams for a while after its head, as real ones do: the first section goes
    // alone until its head shows what the endpoint accepts, then the rest join it.
    let server = FakeOpenAi::start(ServerConfig {
        latency: Duration::from_millis(200),
        inter_chunk_delay: Duration::from_millis(40),
        api_key: Some(KEY.into()),
        ..ServerConfig::default()
    });
    let home = tempfile::tempdir().unwrap();
    let url = server.base_url();
    let out = iching(
        home.path(),
        &[
            "cast",
            "Will the venture hold?",
            "--lines",
            "9,8,7,7,6,8",
            "--provider",
            "openai",
            "--base-url",
            &url,
            "--model",
            "fake-model",
            "--format",
            "json",
        ],
    )
    .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["status"], "complete");
    let sections = v["sections"].as_array().unwrap();
    assert_eq!(sections.len(), 10);
    for s in sections {
        assert_eq!(s["usage"], "reported", "{s}");
        assert_eq!(s["model"], "fake-model");
        assert!(s["ttft_ms"].as_u64().is_some());
        assert!(s["latency_ms"].as_u64().unwrap() >= 200);
    }
    let stats = server.stats();
    assert_eq!(stats.requests, 10);
    assert_eq!(stats.peak_in_flight, 10, "all sections in flight together");
    assert!(!text(&out.stderr).contains(KEY));
    assert!(!text(&out.stdout).contains(KEY));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_key_fails_every_section_once_with_a_clear_message_and_exit_3() {
    let server = FakeOpenAi::start(ServerConfig {
        api_key: Some("sk-the-right-one".into()),
        ..ServerConfig::default()
    });
    let home = tempfile::tempdir().unwrap();
    let url = server.base_url();
    let out = iching(
        home.path(),
        &["cast", "Q", "--lines", "7,7,7,7,7,7", "--base-url", &url],
    )
    .await;
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(err.contains("HTTP 401"), "{err}");
    assert!(err.contains("OPENAI_API_KEY"), "{err}");
    assert!(!err.contains(KEY));
    assert_eq!(server.stats().requests, 6, "401 is never retried");
}

#[tokio::test(flavor = "multi_thread")]
async fn retries_show_on_stderr_and_the_section_completes() {
    let server = FakeOpenAi::start(ServerConfig::default());
    server.push_faults([Fault::Status(503)]);
    let home = tempfile::tempdir().unwrap();
    let url = server.base_url();
    let out = iching(
        home.path(),
        &[
            "cast",
            "Q",
            "--lines",
            "7,7,7,7,7,8",
            "--base-url",
            &url,
            "--concurrency",
            "1",
        ],
    )
    .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(err.contains("attempt 2"), "{err}");
    assert!(err.contains("503"), "{err}");
    assert_eq!(server.stats().requests, 7);
}

#[tokio::test(flavor = "multi_thread")]
async fn bench_prints_one_json_object_per_level() {
    let server = FakeOpenAi::start(ServerConfig {
        latency: Duration::from_millis(50),
        record_bodies: false,
        ..ServerConfig::default()
    });
    let home = tempfile::tempdir().unwrap();
    let url = server.base_url();
    let out = iching(
        home.path(),
        &[
            "bench",
            "--base-url",
            &url,
            "--requests",
            "20",
            "--concurrency",
            "1,5,10",
            "--sequential",
            "--json",
            "--latency-ms",
            "50",
        ],
    )
    .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let levels: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(levels.len(), 3);
    for (level, c) in levels.iter().zip([1, 5, 10]) {
        assert_eq!(level["requests"], 20);
        assert_eq!(level["concurrency"], c);
        assert_eq!(level["stream"], true);
        assert_eq!(level["ok"], 20);
        assert_eq!(level["failed"], 0);
        for key in [
            "sequential_wall_s",
            "concurrent_wall_s",
            "speedup",
            "p50_ms",
            "p99_ms",
            "req_per_s",
        ] {
            assert!(level[key].as_f64().is_some(), "{key}: {level}");
        }
        assert!(level["p50_ms"].as_f64().unwrap() >= 50.0);
    }
    // 20 requests at 10 in flight take 2 rounds; one at a time, 20.
    assert!(
        levels[2]["speedup"].as_f64().unwrap() > 3.0,
        "{}",
        levels[2]
    );
    // 20 one at a time (measured once), then 20 at each of 3 levels.
    assert_eq!(server.stats().requests, 80);
    assert_eq!(
        levels[0]["sequential_wall_s"],
        levels[2]["sequential_wall_s"]
    );
    assert_eq!(server.stats().peak_in_flight, 10);
}

#[tokio::test(flavor = "multi_thread")]
async fn bench_counts_failures_by_kind_and_rejects_bad_flags() {
    let server = FakeOpenAi::start(ServerConfig::default());
    server.push_faults([Fault::Status(401), Fault::InsufficientQuota]);
    let home = tempfile::tempdir().unwrap();
    let url = server.base_url();
    let out = iching(
        home.path(),
        &[
            "bench",
            "--base-url",
            &url,
            "--requests",
            "6",
            "--concurrency",
            "1",
            "--json",
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(3));
    let v: serde_json::Value = serde_json::from_str(text(&out.stdout).trim()).unwrap();
    assert_eq!(v["ok"], 4);
    assert_eq!(v["failed"], 2);
    assert_eq!(v["failures"]["unauthorized"], 1);
    assert_eq!(v["failures"]["quota exceeded"], 1);
    assert!(v["sequential_wall_s"].is_null());

    for (args, words) in [
        (
            vec!["bench", "--base-url", url.as_str(), "--concurrency", "0"],
            "not in 1..=4096",
        ),
        (
            vec![
                "bench",
                "--base-url",
                url.as_str(),
                "--concurrency",
                "5,5000",
            ],
            "not in 1..=4096",
        ),
        (
            vec!["bench", "--base-url", url.as_str(), "--requests", "0"],
            "at least 1",
        ),
        (vec!["bench", "--provider", "offline"], "--base-url"),
    ] {
        let out = iching(home.path(), &args).await;
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            text(&out.stderr).contains(words),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_log_file_records_the_run_without_secrets_questions_or_text() {
    let server = FakeOpenAi::start(ServerConfig::default());
    server.push_faults([Fault::Status(503)]);
    let home = tempfile::tempdir().unwrap();
    let url = server.base_url();
    let question = "Should I tell my sister about the inheritance?";
    let out = iching(
        home.path(),
        &[
            "cast",
            question,
            "--lines",
            "7,7,7,7,7,8",
            "--base-url",
            &url,
            "--concurrency",
            "1",
        ],
    )
    .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let log = std::fs::read_to_string(home.path().join("iching.log")).unwrap();
    assert!(log.contains("reading started"), "{log}");
    assert!(log.contains("reading settled"), "{log}");
    assert!(log.contains("attempt failed"), "the retry is logged: {log}");
    assert!(!log.contains(KEY));
    assert!(!log.contains("inheritance"), "no question in the log");
    assert!(!log.contains("hexagram speaks"), "no model text in the log");
    let mode = std::fs::metadata(home.path().join("iching.log"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}
