//! The real binary against servers that misbehave on purpose: streams that send bytes but no
//! text, answers without end, redirects, keys echoed back, absurd Retry-After, heads that never
//! come, streams cut with a bare `[DONE]`. Every test sits under a generous outer guard; none
//! asserts a tight wall time, only which clock ran out and what the user is told.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test or tool fails by panicking"
)]

use crate::support;

use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use serde_json::Value;
use support::cli::{self, Run, complete_sections, guard, sections};
use support::fake_openai::{FakeOpenAi, Fault, RetryAfter, ServerConfig};

/// A key with no 8-character run in common with anything else the app prints.
const KEY: &str = "sk-proj-Zq7vW2mK9xR4tL8nB3cY6hJ1pD5f";

/// Unchanging lines: six sections.
const SIX: &str = "7,7,7,7,7,7";
const SIX_SECTIONS: u64 = 6;

async fn iching(home: &Path, args: &[&str]) -> Run {
    iching_env(home, args, &[]).await
}

async fn iching_env(home: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    cli::run(home, args, KEY, env).await
}

/// `cast` args against `url` with six sections, JSON out, then `extra`.
fn cast_args<'a>(url: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "cast",
        "Will the bridge hold?",
        "--lines",
        SIX,
        "--base-url",
        url,
        "--format",
        "json",
    ];
    args.extend_from_slice(extra);
    args
}

/// The history entry of reading `id`.
async fn history_entry(home: &Path, id: i64) -> Value {
    let run = iching(home, &["history", "--json"]).await;
    assert_eq!(run.code, Some(0), "{run}");
    run.json()
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == id)
        .cloned()
        .unwrap_or_else(|| panic!("reading {id} not in history: {run}"))
}

/// A server that sends bytes forever without the text the clocks wait for: every section fails
/// on `clock` with `--max-attempts 1`, the reading is saved as failed, and `retry` against a
/// server that answers completes it.
async fn stuck_then_retried(fault: Fault, timeouts: &[&str], clock: &str) {
    let server = FakeOpenAi::start(ServerConfig {
        default_fault: fault,
        ..ServerConfig::default()
    });
    let home = tempfile::tempdir().unwrap();
    let url = server.base_url();
    let mut extra = vec!["--max-attempts", "1"];
    extra.extend_from_slice(timeouts);
    let run = guard(120, iching(home.path(), &cast_args(&url, &extra))).await;
    assert_eq!(run.code, Some(3), "{run}");
    let report = run.json();
    assert_eq!(report["status"], "failed", "{run}");
    assert_eq!(complete_sections(&report), 0);
    for s in sections(&report) {
        let error = s["error"].as_str().unwrap_or_default();
        assert!(error.contains(clock), "{clock:?} not in {error:?}\n{run}");
        assert_eq!(s["attempts"], 1, "{s}");
    }
    assert_eq!(server.stats().requests, SIX_SECTIONS, "one attempt each");
    // Every stuck response was dropped by the client, so nothing is left hanging at the server.
    assert!(
        server.wait_idle(Duration::from_secs(30)).await,
        "the client hung up on every stuck stream: {:?}",
        server.stats()
    );

    let id = report["id"].as_i64().unwrap();
    let entry = history_entry(home.path(), id).await;
    assert!(
        entry["status"] == "failed" || entry["status"] == "partial",
        "{entry}"
    );
    assert_eq!(entry["sections_done"], 0);

    server.set_config(ServerConfig::default());
    let id_arg = id.to_string();
    let run = guard(
        120,
        iching(home.path(), &["retry", &id_arg, "--base-url", &url]),
    )
    .await;
    assert_eq!(run.code, Some(0), "{run}");
    assert!(run.stdout.contains("complete"), "{run}");
    let show = iching(home.path(), &["show", &id_arg, "--format", "json"]).await;
    assert_eq!(show.code, Some(0), "{show}");
    let report = show.json();
    assert_eq!(report["status"], "complete");
    assert_eq!(complete_sections(&report), SIX_SECTIONS as usize);
}

#[tokio::test(flavor = "multi_thread")]
async fn empty_deltas_after_the_first_text_are_not_progress() {
    // Text, then `"content": ""` every 200 ms forever: only --read-timeout can end it.
    stuck_then_retried(
        Fault::EmptyDeltas(Duration::from_millis(200)),
        &[
            "--read-timeout",
            "2",
            "--first-token-timeout",
            "20",
            "--request-timeout",
            "60",
        ],
        "no new text for 2 s (the read_timeout setting)",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn ping_comments_forever_are_not_a_first_token() {
    // `: ping` every 200 ms and no data: the first-token clock runs out, though bytes keep
    // coming far more often than the read timeout.
    stuck_then_retried(
        Fault::PingForever(Duration::from_millis(200)),
        &[
            "--first-token-timeout",
            "2",
            "--read-timeout",
            "1",
            "--request-timeout",
            "60",
        ],
        "no first token within 2 s",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn pings_under_a_long_first_token_limit_end_at_the_request_timeout() {
    stuck_then_retried(
        Fault::PingForever(Duration::from_millis(200)),
        &[
            "--first-token-timeout",
            "60",
            "--read-timeout",
            "60",
            "--request-timeout",
            "3",
        ],
        "no complete answer within 3 s (the request_timeout setting)",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_valid_stream_sent_one_byte_at_a_time_is_not_progress() {
    // A byte every 1.5 s: the first delta would take minutes to complete.
    stuck_then_retried(
        Fault::Trickle(Duration::from_millis(1500)),
        &[
            "--first-token-timeout",
            "4",
            "--read-timeout",
            "2",
            "--request-timeout",
            "60",
        ],
        "no first token within 4 s",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_eight_mib_answer_is_cut_as_soon_as_it_passes_the_cap() {
    const HUGE: usize = 8 << 20;
    let server = FakeOpenAi::start(ServerConfig {
        default_fault: Fault::Huge(HUGE),
        ..ServerConfig::default()
    });
    let home = tempfile::tempdir().unwrap();
    let url = server.base_url();
    for mode in ["--stream", "--no-stream"] {
        server.reset_stats();
        let run = guard(
            120,
            iching(
                home.path(),
                &cast_args(&url, &[mode, "--max-attempts", "3"]),
            ),
        )
        .await;
        assert_eq!(run.code, Some(3), "{mode}: {run}");
        let report = run.json();
        assert_eq!(complete_sections(&report), 0, "{mode}");
        for s in sections(&report) {
            let error = s["error"].as_str().unwrap_or_default();
            assert!(
                error.contains("ran past") && error.contains("KiB"),
                "{mode}: {error}"
            );
            assert_eq!(s["attempts"], 1, "{mode}: cut answers are not retried: {s}");
        }
        assert_eq!(server.stats().requests, SIX_SECTIONS, "{mode}");
        assert!(
            server.wait_idle(Duration::from_secs(30)).await,
            "{mode}: the client hung up"
        );
        if mode == "--stream" {
            // It stopped reading: the server never got to the end of any stream.
            assert_eq!(server.stats().completed, 0, "{mode}: {:?}", server.stats());
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_redirect_is_not_followed_and_names_where_without_credentials() {
    let target = FakeOpenAi::start(ServerConfig::default());
    let location = format!(
        "http://mallory:hunter2secret@{}/v1/chat/completions?api_key=leakyquery&x=1#frag",
        target.addr()
    );
    let server = FakeOpenAi::start(ServerConfig {
        default_fault: Fault::Redirect(location),
        ..ServerConfig::default()
    });
    let home = tempfile::tempdir().unwrap();
    let url = server.base_url();
    let run = guard(60, iching(home.path(), &cast_args(&url, &[]))).await;
    assert_eq!(run.code, Some(3), "{run}");
    let clean = format!("http://{}/v1/chat/completions", target.addr());
    for s in sections(&run.json()) {
        let error = s["error"].as_str().unwrap_or_default();
        assert!(error.contains("HTTP 307"), "{error}");
        assert!(error.contains(&clean), "{error}");
        assert!(error.contains("redirects are not followed"), "{error}");
    }
    for leak in ["mallory", "hunter2secret", "api_key", "leakyquery", "frag"] {
        assert!(!run.stdout.contains(leak), "{leak} in stdout: {run}");
        assert!(!run.stderr.contains(leak), "{leak} in stderr: {run}");
    }
    assert_eq!(
        server.stats().requests,
        SIX_SECTIONS,
        "a 3xx is not retried"
    );
    let at_target = target.stats();
    assert_eq!(
        at_target.requests + at_target.other_requests,
        0,
        "nothing, and so no key, reached the redirect's target"
    );
}

/// Whether `text` holds the key or any 8+ character piece of it, in any letter case.
fn leak(text: &str, key: &str) -> Option<String> {
    let text = text.to_ascii_lowercase();
    let key = key.to_ascii_lowercase();
    (0..=key.len() - 8)
        .map(|i| &key[i..i + 8])
        .find(|piece| text.contains(piece))
        .map(str::to_owned)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_key_echoed_back_is_redacted_from_everything_the_app_shows_and_keeps() {
    let server = FakeOpenAi::start(ServerConfig::default());
    let home = tempfile::tempdir().unwrap();
    let url = server.base_url();
    // The fake really does echo it, whole, upper-cased and in a piece.
    let echoed = support::http_client()
        .post(server.chat_url())
        .bearer_auth(KEY)
        .header("x-fake-fault", "echo-key:500")
        .body(r#"{"model":"m","messages":[]}"#)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(echoed.contains(KEY), "{echoed}");
    assert!(echoed.contains(&KEY.to_uppercase()), "{echoed}");
    server.reset_stats();

    // 500 is retried (the message shows in the retry line too); 401 is not.
    for (status, attempts) in [(500, 2), (401, 1)] {
        server.set_config(ServerConfig {
            default_fault: Fault::EchoKey(status),
            ..ServerConfig::default()
        });
        let run = guard(
            60,
            iching(home.path(), &cast_args(&url, &["--max-attempts", "2"])),
        )
        .await;
        assert_eq!(run.code, Some(3), "{run}");
        let report = run.json();
        for s in sections(&report) {
            assert_eq!(s["attempts"], attempts, "{s}");
            let error = s["error"].as_str().unwrap_or_default();
            assert!(error.contains(&format!("HTTP {status}")), "{error}");
            assert!(error.contains("[redacted]"), "{error}");
        }
        let id = report["id"].as_i64().unwrap().to_string();
        let show = iching(home.path(), &["show", &id, "--format", "json"]).await;
        let history = iching(home.path(), &["history", "--json"]).await;
        let stats = iching(home.path(), &["stats", &id]).await;
        let log = std::fs::read_to_string(home.path().join("iching.log")).unwrap_or_default();
        for (what, text) in [
            ("cast stdout", &run.stdout),
            ("cast stderr", &run.stderr),
            ("show --format json", &show.stdout),
            ("show stderr", &show.stderr),
            ("history --json", &history.stdout),
            ("stats", &stats.stdout),
            ("iching.log", &log),
        ] {
            assert_eq!(
                leak(text, KEY),
                None,
                "HTTP {status}: key in {what}:\n{text}"
            );
        }
    }
    // The stored files hold it in no form either.
    for entry in std::fs::read_dir(home.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            let bytes = std::fs::read(&path).unwrap();
            let text = String::from_utf8_lossy(&bytes);
            assert_eq!(leak(&text, KEY), None, "key in {}", path.display());
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_asking_to_wait_days_fails_the_section_at_once() {
    let server = FakeOpenAi::start(ServerConfig {
        default_fault: Fault::rate_limited(RetryAfter::Seconds(999_999)),
        ..ServerConfig::default()
    });
    let home = tempfile::tempdir().unwrap();
    let url = server.base_url();
    let run = guard(
        60,
        iching(home.path(), &cast_args(&url, &["--max-attempts", "4"])),
    )
    .await;
    assert_eq!(run.code, Some(3), "{run}");
    for s in sections(&run.json()) {
        let error = s["error"].as_str().unwrap_or_default();
        assert!(error.contains("asked to wait 999999 s"), "{error}");
        assert_eq!(s["attempts"], 1, "{s}");
    }
    assert_eq!(server.stats().requests, SIX_SECTIONS, "no attempt waited");
    assert!(!run.stderr.contains('↻'), "no retry was scheduled: {run}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_retry_after_date_in_the_past_means_the_normal_backoff() {
    let server = FakeOpenAi::start(ServerConfig::default());
    let past = SystemTime::now() - Duration::from_secs(3600);
    // One section at a time, each refused once: the script alternates.
    server.push_faults(
        (0..SIX_SECTIONS)
            .flat_map(|_| [Fault::rate_limited(RetryAfter::HttpDate(past)), Fault::Ok]),
    );
    let home = tempfile::tempdir().unwrap();
    let url = server.base_url();
    let run = guard(
        60,
        iching(
            home.path(),
            &cast_args(&url, &["--max-attempts", "3", "--concurrency", "1"]),
        ),
    )
    .await;
    assert_eq!(run.code, Some(0), "{run}");
    assert_eq!(complete_sections(&run.json()), SIX_SECTIONS as usize);
    assert_eq!(server.stats().requests, 2 * SIX_SECTIONS);
    // The waits were the backoff's (at most 0.5 s before attempt 2), not an hour or nothing
    // read from the date.
    let waits: Vec<f64> = run
        .stderr
        .lines()
        .filter(|l| l.contains("attempt 2 in"))
        .filter_map(|l| {
            l.split("attempt 2 in ")
                .nth(1)?
                .split(' ')
                .next()?
                .parse()
                .ok()
        })
        .collect();
    assert_eq!(waits.len(), SIX_SECTIONS as usize, "{run}");
    assert!(waits.iter().all(|w| *w <= 0.5), "{waits:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrency_outside_1_to_4096_is_refused_by_every_command() {
    let server = FakeOpenAi::start(ServerConfig {
        record_bodies: false,
        ..ServerConfig::default()
    });
    let home = tempfile::tempdir().unwrap();
    let url = server.base_url();
    // The questions live outside the home: a home holds only what iching keeps there.
    let files = tempfile::tempdir().unwrap();
    let questions = files.path().join("questions.txt");
    std::fs::write(
        &questions,
        "{\"question\": \"Will it rain?\", \"lines\": \"7,7,7,7,7,7\"}\n",
    )
    .unwrap();
    let questions = questions.to_string_lossy().into_owned();

    // A reading for `retry` to name.
    let run = guard(60, iching(home.path(), &cast_args(&url, &[]))).await;
    assert_eq!(run.code, Some(0), "{run}");
    let id = run.json()["id"].as_i64().unwrap().to_string();

    let commands: [Vec<&str>; 4] = [
        vec!["cast", "Q", "--lines", SIX, "--base-url", &url],
        vec!["batch", &questions, "--base-url", &url],
        vec!["retry", &id, "--base-url", &url],
        vec!["bench", "--base-url", &url, "--requests", "2"],
    ];
    server.reset_stats();
    for command in &commands {
        for bad in ["0", "5000", "4097", "many"] {
            let mut args = command.clone();
            args.extend(["--concurrency", bad]);
            let run = guard(60, iching(home.path(), &args)).await;
            assert_eq!(run.code, Some(2), "{args:?}: {run}");
            assert!(
                run.stderr.contains("--concurrency") && run.stderr.contains("4096"),
                "{args:?}: {run}"
            );
        }
    }
    assert_eq!(server.stats().requests, 0, "refused before any request");

    for command in &commands {
        let mut args = command.clone();
        args.extend(["--concurrency", "4096"]);
        let run = guard(120, iching(home.path(), &args)).await;
        assert_eq!(run.code, Some(0), "{args:?}: {run}");
    }
    assert!(server.stats().requests > 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_whole_answer_whose_head_never_comes_fails_at_the_request_timeout() {
    let server = FakeOpenAi::start(ServerConfig {
        default_fault: Fault::NoHead,
        ..ServerConfig::default()
    });
    let home = tempfile::tempdir().unwrap();
    let url = server.base_url();
    let started = Instant::now();
    let run = guard(
        300,
        iching(
            home.path(),
            &cast_args(
                &url,
                &[
                    "--no-stream",
                    "--request-timeout",
                    "2",
                    "--first-token-timeout",
                    "1",
                    "--read-timeout",
                    "1",
                    "--max-attempts",
                    "1",
                ],
            ),
        ),
    )
    .await;
    eprintln!(
        "never-answering server, 6 sections: {:?}",
        started.elapsed()
    );
    assert_eq!(run.code, Some(3), "{run}");
    let report = run.json();
    assert_eq!(report["status"], "failed");
    for s in sections(&report) {
        let error = s["error"].as_str().unwrap_or_default();
        // Without streaming the head comes with the whole answer: only the whole-attempt clock
        // applies, not the first-token one.
        assert!(
            error.contains("no complete answer within 2 s (the request_timeout setting)"),
            "{error}"
        );
    }
    assert_eq!(server.stats().requests, SIX_SECTIONS);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bare_done_after_text_is_a_cut_stream_retried_and_never_saved_complete() {
    let server = FakeOpenAi::start(ServerConfig::default());
    let home = tempfile::tempdir().unwrap();
    let url = server.base_url();

    // Once per section (one section at a time, the script alternating): the second attempt
    // completes it.
    server.push_faults((0..SIX_SECTIONS).flat_map(|_| [Fault::BareDone, Fault::Ok]));
    let run = guard(
        60,
        iching(
            home.path(),
            &cast_args(&url, &["--max-attempts", "2", "--concurrency", "1"]),
        ),
    )
    .await;
    assert_eq!(run.code, Some(0), "{run}");
    assert!(
        run.stderr
            .contains("ended with [DONE] but no finish reason"),
        "{run}"
    );
    let report = run.json();
    assert_eq!(complete_sections(&report), SIX_SECTIONS as usize);
    assert!(sections(&report).iter().all(|s| s["attempts"] == 2));
    assert_eq!(server.stats().requests, 2 * SIX_SECTIONS);

    // Always: every section fails after its attempts, none is kept as complete.
    server.reset_stats();
    server.set_config(ServerConfig {
        default_fault: Fault::BareDone,
        ..ServerConfig::default()
    });
    let run = guard(
        60,
        iching(home.path(), &cast_args(&url, &["--max-attempts", "2"])),
    )
    .await;
    assert_eq!(run.code, Some(3), "{run}");
    let report = run.json();
    assert_eq!(report["status"], "failed");
    for s in sections(&report) {
        assert_eq!(s["status"], "failed", "{s}");
        assert!(s["paragraphs"].as_array().unwrap().is_empty(), "{s}");
        let error = s["error"].as_str().unwrap_or_default();
        assert!(error.contains("[DONE] but no finish reason"), "{error}");
        assert!(error.contains("gave up after 2 attempts"), "{error}");
    }
    // Two attempts each, and some more: a stream cut while others were in flight is queued
    // again without spending an attempt (at most 4 times a section), and the number in flight
    // halves each round, to 1.
    let requests = server.stats().requests;
    assert!(
        (2 * SIX_SECTIONS..=6 * SIX_SECTIONS).contains(&requests),
        "{requests}"
    );
    let id = report["id"].as_i64().unwrap().to_string();
    let show = iching(home.path(), &["show", &id, "--format", "json"]).await;
    assert_eq!(complete_sections(&show.json()), 0, "{show}");
}

#[test]
fn the_hostile_faults_parse_from_the_header_syntax() {
    let parse = |s: &str| s.parse::<Fault>().unwrap();
    let ms = Duration::from_millis;
    assert_eq!(parse("empty-deltas:200"), Fault::EmptyDeltas(ms(200)));
    assert_eq!(parse("ping:1s"), Fault::PingForever(ms(1000)));
    assert_eq!(parse("ping-forever:50ms"), Fault::PingForever(ms(50)));
    assert_eq!(parse("trickle:1500"), Fault::Trickle(ms(1500)));
    assert_eq!(
        parse("redirect:http://u:p@h:1/x?y=1"),
        Fault::Redirect("http://u:p@h:1/x?y=1".into())
    );
    assert_eq!(parse("echo-key"), Fault::EchoKey(401));
    assert_eq!(parse("echo-key:500"), Fault::EchoKey(500));
    assert_eq!(parse("huge:8388608"), Fault::Huge(8 << 20));
    assert_eq!(parse("bare-done"), Fault::BareDone);
    assert_eq!(parse("no-head"), Fault::NoHead);
    assert!("trickle".parse::<Fault>().is_err());
    assert!("huge:lots".parse::<Fault>().is_err());
    assert_eq!(Fault::NoHead.name(), "no_head");
}
