//! Any OpenAI-compatible server, learned not listed: the real binary, with `--provider openai
//! --base-url URL` and no config at all, against the fake server behaving as other real servers
//! and set-ups do. A field refused at any status, in any body shape, is stepped down; a one-slot
//! server that cuts the running stream (alone, or behind a proxy that turns cuts into clean empty
//! answers) loses a handful of streams, not one per section; a server loading its model is waited
//! out; nothing listening is said once; what was learned is remembered for the next run and shown
//! by `doctor --json`. Counts come from the server's own counters.

use std::time::Duration;

use crate::support::cli::{self, Run, complete_sections, guard, sections};
use crate::support::fake_openai::{FakeOpenAi, Fault, OneSlot, Refuser, ServerConfig};

const KEY: &str = "sk-any-server-0123456789";

/// `cast` of a reading with four changing lines (10 sections) at `url`, no config.
async fn cast(home: &std::path::Path, url: &str) -> Run {
    guard(
        120,
        cli::run(
            home,
            &[
                "cast",
                "Will the new venture hold?",
                "--lines",
                "9,8,7,7,6,8",
                "--provider",
                "openai",
                "--base-url",
                url,
                "--model",
                "m",
                "--format",
                "json",
            ],
            KEY,
            &[],
        ),
    )
    .await
}

/// A port that was just free: nothing listens there.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn assert_complete(run: &Run) {
    assert_eq!(run.code, Some(0), "{run}");
    let report = run.json();
    assert_eq!(sections(&report).len(), 10);
    assert_eq!(complete_sections(&report), 10, "{run}");
}

/// The `response_format` type each request carried, in arrival order.
fn formats(server: &FakeOpenAi) -> Vec<String> {
    server
        .requests()
        .iter()
        .map(|r| {
            r.body
                .pointer("/response_format/type")
                .and_then(|v| v.as_str())
                .unwrap_or("none")
                .to_owned()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refusal_at_any_status_and_in_any_shape_is_stepped_down_once_and_remembered() {
    for refuser in [
        Refuser::LlamaCppPython,
        Refuser::FastApi,
        Refuser::Unnamed(400),
    ] {
        let server = FakeOpenAi::start(ServerConfig {
            refuser: Some(refuser),
            ..ServerConfig::default()
        });
        let home = tempfile::tempdir().unwrap();
        let run = cast(home.path(), &server.base_url()).await;
        assert_complete(&run);
        let stats = server.stats();
        // The first request goes alone: one refusal teaches every section.
        assert_eq!(stats.refused, 1, "{refuser:?}: {:?}", formats(&server));
        assert_eq!(
            stats.requests, 11,
            "{refuser:?}: ten answers and one refusal"
        );
        let sent = formats(&server);
        assert_eq!(sent[0], "json_schema");
        let after = if matches!(refuser, Refuser::Unnamed(_)) {
            // A refusal that names nothing: the same request without the optional fields.
            "none"
        } else {
            "json_object"
        };
        assert!(
            sent[1..].iter().all(|f| f == after),
            "{refuser:?}: {sent:?}"
        );
        // The next run starts from what was learned: nothing is refused again.
        server.reset_stats();
        let again = cast(home.path(), &server.base_url()).await;
        assert_complete(&again);
        assert_eq!(server.stats().refused, 0, "{refuser:?}: remembered");
        assert_eq!(server.stats().requests, 10);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn azure_s_refusal_of_stream_options_drops_it_and_usage_is_counted_here() {
    let server = FakeOpenAi::start(ServerConfig {
        refuser: Some(Refuser::Azure),
        ..ServerConfig::default()
    });
    let home = tempfile::tempdir().unwrap();
    let run = cast(home.path(), &server.base_url()).await;
    assert_complete(&run);
    assert_eq!(server.stats().refused, 1);
    let requests = server.requests();
    assert!(requests[0].body.get("stream_options").is_some());
    assert!(
        requests[1..]
            .iter()
            .all(|r| r.body.get("stream_options").is_none())
    );
    // Without the usage chunk the tokens are estimated, and said to be.
    for s in sections(&run.json()) {
        assert_eq!(s["usage"], "estimated", "{s}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_one_slot_server_that_cuts_streams_costs_at_most_three_and_no_attempts() {
    for (mode, label) in [
        (OneSlot::Cut, "a bare [DONE]"),
        (OneSlot::CutAsEmpty, "a clean empty answer through a proxy"),
    ] {
        let server = FakeOpenAi::start(ServerConfig {
            one_slot: Some(mode),
            // Time enough for a second request to arrive while the first streams.
            inter_chunk_delay: Duration::from_millis(20),
            latency: Duration::from_millis(30),
            ..ServerConfig::default()
        });
        let home = tempfile::tempdir().unwrap();
        let run = cast(home.path(), &server.base_url()).await;
        assert_complete(&run);
        let stats = server.stats();
        assert!(
            stats.cut_streams <= 3,
            "{label}: {} streams cut\n{run}",
            stats.cut_streams
        );
        assert!(
            stats.cut_streams >= 1,
            "{label}: the server never cut: the test tests nothing"
        );
        assert_eq!(stats.requests, 10 + stats.cut_streams, "{label}");
        // A cut section was queued again without spending an attempt.
        for s in sections(&run.json()) {
            assert_eq!(s["attempts"], 1, "{label}: {s}");
        }
        assert!(
            run.stderr.contains("queued again"),
            "{label}: {}",
            run.stderr
        );
        // The next run starts where this one ended: one at a time, nothing cut.
        server.reset_stats();
        let again = cast(home.path(), &server.base_url()).await;
        assert_complete(&again);
        assert_eq!(server.stats().cut_streams, 0, "{label}: {again}");
        assert_eq!(server.stats().peak_in_flight, 1, "{label}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_server_s_own_slot_count_is_asked_and_a_loading_server_is_waited_out() {
    let server = FakeOpenAi::start(ServerConfig {
        props_slots: Some(2),
        loading_for: Some(Duration::from_millis(1500)),
        latency: Duration::from_millis(50),
        ..ServerConfig::default()
    });
    let home = tempfile::tempdir().unwrap();
    let run = cast(home.path(), &server.base_url()).await;
    assert_complete(&run);
    let stats = server.stats();
    assert!(stats.loading >= 1, "the test must meet a loading server");
    assert!(
        stats.props_requests >= 2,
        "a 503 to the probe is asked again"
    );
    assert_eq!(stats.peak_in_flight, 2, "the server's own count: 2 at once");
    assert!(
        run.stderr.contains("loading its model"),
        "the wait is said: {}",
        run.stderr
    );
    assert_eq!(
        run.stderr.matches("loading its model").count(),
        1,
        "once: {}",
        run.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn nothing_listening_is_said_once_and_every_other_section_is_not_sent() {
    let port = free_port();
    let home = tempfile::tempdir().unwrap();
    let url = format!("http://127.0.0.1:{port}/v1");
    let run = cast(home.path(), &url).await;
    assert_eq!(run.code, Some(3), "{run}");
    let err: Vec<&str> = run.stderr.lines().collect();
    let said = err
        .iter()
        .filter(|l| l.contains(&format!("nothing listens at 127.0.0.1:{port}")))
        .count();
    assert_eq!(said, 1, "the cause once:\n{}", run.stderr);
    assert!(
        run.stderr.contains("is the server running?"),
        "{}",
        run.stderr
    );
    let not_sent = err.iter().filter(|l| l.contains("not sent")).count();
    assert_eq!(not_sent, 9, "{}", run.stderr);
    assert!(
        err.len() <= 10,
        "at most one line a section:\n{}",
        run.stderr
    );
    for s in sections(&run.json()) {
        assert!(
            s["error_kind"] == "connect" || s["error_kind"] == "not_sent",
            "{s}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_preset_that_is_not_running_names_how_to_start_it() {
    let port = free_port();
    let home = tempfile::tempdir().unwrap();
    // The preset at its own address is localhost:11434, which may be taken on a developer's
    // machine; the hint is the preset's whatever its address, so ask through the flag.
    let run = guard(
        60,
        cli::run(
            home.path(),
            &[
                "cast",
                "Q",
                "--lines",
                "7,7,7,7,7,7",
                "--provider",
                "ollama",
                "--base-url",
                &format!("http://127.0.0.1:{port}/v1"),
            ],
            KEY,
            &[],
        ),
    )
    .await;
    assert_eq!(run.code, Some(3), "{run}");
    assert_eq!(
        run.stderr
            .matches("is Ollama running? start it with “ollama serve”")
            .count(),
        1,
        "{}",
        run.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_silent_server_is_never_a_silent_wait() {
    let server = FakeOpenAi::start(ServerConfig {
        default_fault: Fault::NoHead,
        ..ServerConfig::default()
    });
    let home = tempfile::tempdir().unwrap();
    let mut child = cli::command(
        home.path(),
        &[
            "cast",
            "Q",
            "--lines",
            "7,7,7,7,7,7",
            "--provider",
            "openai",
            "--base-url",
            &server.base_url(),
        ],
        KEY,
        &[],
    )
    .stderr(std::process::Stdio::piped())
    .stdout(std::process::Stdio::null())
    .spawn()
    .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(stderr));
    let line = guard(30, async {
        loop {
            let line = lines.next_line().await.unwrap().expect("stderr closed");
            if line.contains("waiting for the server") {
                return line;
            }
        }
    })
    .await;
    assert!(line.contains("1 in flight"), "{line}");
    assert!(line.contains("5 queued"), "{line}");
    child.kill().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn doctor_says_which_field_was_refused_stepped_down_and_what_was_learned() {
    let server = FakeOpenAi::start(ServerConfig {
        refuser: Some(Refuser::LlamaCppPython),
        ..ServerConfig::default()
    });
    let home = tempfile::tempdir().unwrap();
    let run = guard(
        60,
        cli::run(
            home.path(),
            &[
                "doctor",
                "--provider",
                "openai",
                "--base-url",
                &server.base_url(),
                "--model",
                "gpt-fake",
                "--json",
            ],
            KEY,
            &[],
        ),
    )
    .await;
    assert_eq!(run.code, Some(0), "{run}");
    let v = run.json();
    let check = |name: &str| {
        v["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["check"] == name)
            .unwrap_or_else(|| panic!("no {name} check in {v}"))
            .clone()
    };
    let format = check("response_format");
    let detail = format["detail"].as_str().unwrap();
    assert!(detail.contains("json_schema refused (HTTP 500"), "{detail}");
    assert!(detail.contains("stepped down to json_object"), "{detail}");
    assert!(detail.ends_with("json_object accepted"), "{detail}");
    assert!(
        format["fix"]
            .as_str()
            .unwrap()
            .contains("structured = \"json_object\"")
    );
    // What a reading sends: the same fields, streamed.
    let sent = &server.requests()[1].body;
    assert_eq!(sent["stream"], true);
    assert_eq!(sent["response_format"]["type"], "json_object");
    assert!(check("request")["ok"].as_bool().unwrap());
    assert!(
        check("stream_options")["detail"]
            .as_str()
            .unwrap()
            .contains("accepted")
    );
    // What was learned, as remembered for the next run.
    let learned = &v["learned"]["models"]["gpt-fake"]["fields"];
    assert_eq!(learned["structured"], "json_object", "{v}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_shared_context_that_runs_out_halves_what_is_in_flight_instead_of_failing_sections() {
    // llama.cpp at its defaults: 4 slots over one 8192-token context, which holds two of a
    // reading's prompts. A stream beyond that ends with an error event mid-stream.
    let server = FakeOpenAi::start(ServerConfig {
        props_slots: Some(4),
        room_for: Some(2),
        inter_chunk_delay: Duration::from_millis(15),
        ..ServerConfig::default()
    });
    let home = tempfile::tempdir().unwrap();
    let run = cast(home.path(), &server.base_url()).await;
    assert_complete(&run);
    let stats = server.stats();
    assert!(
        stats.context_errors >= 1,
        "the test must meet a full context"
    );
    assert!(
        stats.context_errors <= 3,
        "{} streams ended for want of room",
        stats.context_errors
    );
    for s in sections(&run.json()) {
        assert_eq!(s["attempts"], 1, "no attempt spent on a full context: {s}");
    }
    assert_eq!(stats.requests, 10 + stats.context_errors);
}
