//! The real `openai` provider (reqwest, SSE, retries, limits) against the fault-injecting fake
//! server on 127.0.0.1: every fault the issue names, with the outcome asserted from both sides.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test or tool fails by panicking"
)]

use crate::support;

use iching::model::Query;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use iching::config::Secret;
use iching::events::{EventKind, Progress, SectionEvent, UsageSource};
use iching::llm::{
    Completion, ErrorKind, Limiter, OpenAi, OpenAiConfig, Provider, ProviderError, SectionRequest,
};
use iching::model::ReadingId;
use iching::oracle::{Cast, LineValue, Reading};
use iching::orchestrator::{self, Flow, Slots};
use iching::plan::{Prompts, Section, build_messages, plan};
use support::fake_openai::{FakeOpenAi, Fault, Gate, RetryAfter, ServerConfig};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

const KEY: &str = "sk-test-secret-0123456789";

fn reading(values: [u8; 6]) -> Arc<Reading> {
    Arc::new(Reading::new(Cast::manual(
        values.map(|v| LineValue::new(v).unwrap()),
    )))
}

fn request(section: Section) -> SectionRequest {
    let reading = reading([9, 8, 7, 7, 6, 8]);
    let messages = build_messages(&Prompts::default(), &reading, &Query::new("Q?"), section);
    SectionRequest::new(reading, Arc::new(Query::new("Q?")), section, messages, 300)
}

fn provider(server: &FakeOpenAi, tune: impl FnOnce(&mut OpenAiConfig)) -> OpenAi {
    let mut config = OpenAiConfig {
        api_key: Secret::new(KEY),
        key_env: Some("OPENAI_API_KEY".into()),
        stream: true,
        read_timeout: Duration::from_secs(5),
        max_attempts: 4,
        ..OpenAiConfig::new(server.base_url(), "fake-model")
    };
    tune(&mut config);
    OpenAi::new(config, Arc::new(Limiter::new(None, None))).unwrap()
}

/// Runs one section; returns the result and every event it sent.
async fn one(
    p: &OpenAi,
    section: Section,
) -> (Result<Completion, ProviderError>, Vec<SectionEvent>) {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let req = request(section);
    let progress = Progress::new(tx, Some(ReadingId(1)), section);
    let result = p.complete(&req, &progress).await;
    drop(progress);
    let mut events = Vec::new();
    while let Some(e) = rx.recv().await {
        events.push(e);
    }
    (result, events)
}

fn retries(events: &[SectionEvent]) -> Vec<(u32, Duration)> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Retrying { attempt, wait, .. } => Some((*attempt, *wait)),
            _ => None,
        })
        .collect()
}

fn deltas(events: &[SectionEvent]) -> String {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Delta(d) => Some(d.as_str()),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn a_stream_sends_deltas_reads_usage_and_the_key() {
    let server = FakeOpenAi::start(ServerConfig::default());
    let (result, events) = one(&provider(&server, |_| {}), Section::OpeningStatements).await;
    let c = result.unwrap();
    assert_eq!(c.attempts, 1);
    assert_eq!(c.usage.source, UsageSource::Reported);
    assert!(c.usage.completion_tokens > 0 && c.usage.prompt_tokens > 0);
    assert!(c.text.starts_with("{\"response\""));
    assert_eq!(deltas(&events), c.text, "the deltas add up to the answer");
    assert!(events.len() > 5, "streamed in many deltas");
    assert!(c.ttft.is_some());
    let sent = server.received();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["model"], "fake-model");
    assert_eq!(sent[0]["stream"], true);
    assert_eq!(sent[0]["stream_options"]["include_usage"], true);
    assert_eq!(sent[0]["max_tokens"], 300);
    assert_eq!(sent[0]["messages"][0]["role"], "system");
    assert!(sent[0].get("response_format").is_none());
    assert_eq!(server.authorizations(), vec![Some(format!("Bearer {KEY}"))]);
}

#[tokio::test]
async fn json_mode_and_no_stream() {
    let server = FakeOpenAi::start(ServerConfig::default());
    let p = provider(&server, |c| {
        c.stream = false;
        c.structured =
            iching::llm::preset::Choice::Fixed(iching::llm::preset::Structured::JsonObject);
    });
    let (result, _) = one(&p, Section::ConclusionText).await;
    let c = result.unwrap();
    assert_eq!(c.usage.source, UsageSource::Reported);
    assert!(c.text.contains("<p>"));
    let sent = server.received();
    assert_eq!(sent[0]["stream"], false);
    assert!(sent[0].get("stream_options").is_none());
    assert_eq!(sent[0]["response_format"]["type"], "json_object");
}

#[tokio::test]
async fn without_usage_tokens_are_estimated() {
    let server = FakeOpenAi::start(ServerConfig {
        send_usage: false,
        ..ServerConfig::default()
    });
    for stream in [true, false] {
        let (result, _) = one(
            &provider(&server, |c| c.stream = stream),
            Section::TenWingsInsights,
        )
        .await;
        let c = result.unwrap();
        assert_eq!(c.usage.source, UsageSource::Estimated, "stream {stream}");
        assert!(c.usage.completion_tokens > 50 && c.usage.prompt_tokens > 500);
    }
}

#[tokio::test]
async fn sse_quirks_are_tolerated() {
    let server = FakeOpenAi::start(ServerConfig {
        sse_quirks: true,
        ..ServerConfig::default()
    });
    let (result, events) = one(&provider(&server, |_| {}), Section::OpeningStatements).await;
    let c = result.unwrap();
    assert_eq!(c.attempts, 1);
    assert_eq!(deltas(&events), c.text);
    assert!(serde_json::from_str::<serde_json::Value>(&c.text).is_ok());
}

#[tokio::test]
async fn rate_limits_wait_at_least_retry_after_in_every_form() {
    let server = FakeOpenAi::start(ServerConfig::default());
    let p = provider(&server, |_| {});
    for retry_after in [
        RetryAfter::Millis(300),
        RetryAfter::Seconds(1),
        RetryAfter::HttpDate(SystemTime::now()),
    ] {
        // Two seconds from now, taken as late as possible.
        let retry_after = match retry_after {
            RetryAfter::HttpDate(_) => {
                RetryAfter::HttpDate(SystemTime::now() + Duration::from_secs(2))
            }
            other => other,
        };
        server.reset_stats();
        let before = server.arrivals().len();
        server.push_faults([Fault::RateLimited { retry_after }]);
        let (result, events) = one(&p, Section::OpeningStatements).await;
        let c = result.unwrap();
        assert_eq!(c.attempts, 2, "{retry_after:?}");
        assert_eq!(server.stats().requests, 2);
        let arrivals = &server.arrivals()[before..];
        let gap = arrivals[1] - arrivals[0];
        let r = retries(&events);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].0, 2);
        match retry_after {
            RetryAfter::Millis(ms) => {
                assert!(gap >= Duration::from_millis(ms), "waited {gap:?}");
                assert!(r[0].1 >= Duration::from_millis(ms), "{r:?}");
            }
            RetryAfter::Seconds(s) => {
                assert!(gap >= Duration::from_secs(s), "waited {gap:?}");
                assert!(r[0].1 >= Duration::from_secs(s), "{r:?}");
            }
            RetryAfter::HttpDate(date) => {
                // A date has one-second resolution and how long is left of it depends on when
                // the 429 came; what is certain is that the retry (and so its answer, which
                // ended the call) went no earlier than the date's whole second.
                let whole = SystemTime::UNIX_EPOCH
                    + Duration::from_secs(
                        date.duration_since(SystemTime::UNIX_EPOCH)
                            .unwrap()
                            .as_secs(),
                    );
                let now = SystemTime::now();
                assert!(now >= whole, "done at {now:?}, before the date {whole:?}");
            }
            RetryAfter::None => unreachable!(),
        }
    }
}

#[tokio::test]
async fn server_errors_and_timeouts_are_retried_with_backoff() {
    let server = FakeOpenAi::start(ServerConfig::default());
    let p = provider(&server, |_| {});
    for status in [500, 502, 503, 408, 409] {
        server.reset_stats();
        server.push_faults([Fault::Status(status)]);
        let (result, events) = one(&p, Section::InitialHexagramImage).await;
        assert_eq!(result.unwrap().attempts, 2, "{status}");
        assert_eq!(server.stats().requests, 2, "{status}");
        let r = retries(&events);
        assert!(
            r[0].1 <= Duration::from_millis(500),
            "first backoff is at most the base"
        );
    }
}

#[tokio::test]
async fn client_errors_and_quota_are_never_retried() {
    let server = FakeOpenAi::start(ServerConfig::default());
    let p = provider(&server, |_| {});
    let cases = [
        (Fault::Status(400), ErrorKind::BadRequest, "400"),
        (
            Fault::Status(401),
            ErrorKind::Unauthorized,
            "OPENAI_API_KEY",
        ),
        (Fault::Status(403), ErrorKind::Unauthorized, "403"),
        (
            Fault::Status(404),
            ErrorKind::BadRequest,
            "model does not exist",
        ),
        (Fault::Status(422), ErrorKind::BadRequest, "422"),
        (Fault::InsufficientQuota, ErrorKind::QuotaExceeded, "quota"),
    ];
    for (fault, kind, words) in cases {
        server.reset_stats();
        // A 400 or 422 that names no field is sent once more without the optional fields
        // (here `stream_options`), at once and without spending an attempt: refused again, it
        // was not about them, and it is not retried.
        let unnamed = matches!(fault, Fault::Status(400 | 422));
        server.push_faults([fault.clone(), fault.clone()]);
        let (result, events) = one(&p, Section::OpeningStatements).await;
        let e = result.unwrap_err();
        assert_eq!(e.kind, kind, "{fault:?}");
        assert_eq!(e.attempts, 1);
        assert!(e.message.contains(words), "{fault:?}: {}", e.message);
        assert!(!e.message.contains(KEY));
        let sent = server.requests();
        assert_eq!(
            sent.len(),
            if unnamed { 2 } else { 1 },
            "{fault:?} was retried"
        );
        if unnamed {
            assert!(sent[0].body.get("stream_options").is_some());
            assert!(sent[1].body.get("stream_options").is_none());
        }
        assert!(retries(&events).is_empty());
        server.clear_faults();
    }
}

#[tokio::test]
async fn broken_streams_are_failed_attempts_and_retried() {
    let server = FakeOpenAi::start(ServerConfig::default());
    let p = provider(&server, |c| c.read_timeout = Duration::from_millis(300));
    for (fault, stream) in [
        (Fault::DropMidStream, true),
        (Fault::DropMidStream, false),
        (Fault::CutWithoutFinish, true),
        (Fault::CutWithoutFinish, false),
        (Fault::CorruptChunk, true),
        (Fault::CorruptChunk, false),
        (Fault::Stall(Duration::from_secs(2)), true),
    ] {
        server.reset_stats();
        server.push_faults([fault.clone()]);
        let p = provider(&server, |c| {
            c.read_timeout = Duration::from_millis(300);
            c.stream = stream;
        });
        let (result, events) = one(&p, Section::ConclusionText).await;
        let c = result.unwrap_or_else(|e| panic!("{fault:?} stream={stream}: {e}"));
        assert_eq!(c.attempts, 2, "{fault:?} stream={stream}");
        assert_eq!(server.stats().requests, 2);
        assert!(serde_json::from_str::<serde_json::Value>(&c.text).is_ok());
        assert_eq!(retries(&events).len(), 1);
    }
    drop(p);
}

#[tokio::test]
async fn an_answer_cut_at_max_tokens_fails_once_and_says_what_to_raise() {
    let server = FakeOpenAi::start(ServerConfig::default());
    for stream in [true, false] {
        server.reset_stats();
        server.push_faults([Fault::Length]);
        let (result, events) = one(
            &provider(&server, |c| c.stream = stream),
            Section::OpeningStatements,
        )
        .await;
        let e = result.unwrap_err();
        assert_eq!(e.kind, ErrorKind::TooLong, "stream {stream}");
        assert_eq!(e.attempts, 1);
        assert!(
            e.message.contains("max_tokens limit (300)"),
            "{}",
            e.message
        );
        assert!(e.message.contains("looping"), "{}", e.message);
        // A cut answer is billed: its usage is kept.
        assert!(e.usage.is_some_and(|u| u.completion_tokens > 0));
        assert_eq!(
            server.stats().requests,
            1,
            "the same request would be cut again"
        );
        assert!(retries(&events).is_empty());
    }
}

#[tokio::test]
async fn a_stream_that_is_always_cut_fails_and_is_never_a_success() {
    let server = FakeOpenAi::start(ServerConfig::default());
    let p = provider(&server, |c| c.max_attempts = 3);
    server.push_faults([
        Fault::CutWithoutFinish,
        Fault::CutWithoutFinish,
        Fault::CutWithoutFinish,
    ]);
    let (result, events) = one(&p, Section::SynthesisAndGuidance).await;
    let e = result.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Truncated);
    assert_eq!(e.attempts, 3);
    assert!(e.message.contains("no finish reason"), "{}", e.message);
    assert!(e.message.contains("3 attempts"));
    assert_eq!(server.stats().requests, 3);
    assert_eq!(
        retries(&events).iter().map(|r| r.0).collect::<Vec<_>>(),
        [2, 3]
    );
}

#[tokio::test]
async fn garbage_answers_are_parsed_leniently_and_escapes_removed() {
    let server = FakeOpenAi::start(ServerConfig::default());
    server.push_faults([Fault::Garbage]);
    let p: Arc<dyn Provider> = Arc::new(provider(&server, |_| {}));
    let r = reading([7, 8, 7, 7, 8, 8]);
    let messages = build_messages(
        &Prompts::default(),
        &r,
        &Query::new("Q"),
        Section::ConclusionText,
    );
    let req = vec![SectionRequest::new(
        r,
        Arc::new(Query::new("Q")),
        Section::ConclusionText,
        messages,
        100,
    )];
    let (tx, _rx) = mpsc::unbounded_channel();
    let summary = orchestrator::run(
        p,
        None,
        req,
        Slots::Unlimited,
        tx,
        CancellationToken::new(),
        Flow::default(),
    )
    .await;
    let orchestrator::Outcome::Done(done) = &summary.outcomes[0].1 else {
        panic!("{:?}", summary.outcomes)
    };
    let text: String = done
        .paragraphs
        .iter()
        .map(iching::answer::Paragraph::plain_text)
        .collect();
    assert!(text.contains("The Creative"), "{text}");
    assert!(!text.contains('\u{1b}'));
}

#[tokio::test]
async fn every_section_of_a_reading_is_in_flight_at_once() {
    // No answer goes out before all 15 are in flight together.
    let server = FakeOpenAi::start(ServerConfig {
        gate: Some(Gate::in_flight(15)),
        ..ServerConfig::default()
    });
    // Whole answers, not streams: a whole answer ends at the server before the client has it,
    // so the server never counts more in flight than the client has.
    let p: Arc<dyn Provider> = Arc::new(provider(&server, |c| c.stream = false));
    let r = reading([9; 6]);
    let prompts = Prompts::default();
    let requests = |r: &Arc<Reading>| -> Vec<SectionRequest> {
        plan(r)
            .into_iter()
            .map(|section| {
                let messages = build_messages(&prompts, r, &Query::new("Q"), section);
                SectionRequest::new(r.clone(), Arc::new(Query::new("Q")), section, messages, 100)
            })
            .collect()
    };
    let (tx, _rx) = mpsc::unbounded_channel();
    let summary = orchestrator::run(
        p.clone(),
        None,
        requests(&r),
        Slots::Unlimited,
        tx,
        CancellationToken::new(),
        Flow::default(),
    )
    .await;
    assert_eq!(summary.succeeded(), plan(&r));
    assert_eq!(server.stats().peak_in_flight, 15);

    // At most 4, and 4 reached: the first four are held until all four are in flight.
    assert!(server.wait_idle(Duration::from_secs(30)).await);
    server.set_config(ServerConfig {
        gate: Some(Gate::in_flight(4)),
        ..ServerConfig::default()
    });
    server.reset_stats();
    let (tx, _rx) = mpsc::unbounded_channel();
    let summary = orchestrator::run(
        p,
        None,
        requests(&r),
        Slots::Cap(4),
        tx,
        CancellationToken::new(),
        Flow::default(),
    )
    .await;
    assert_eq!(summary.succeeded(), plan(&r));
    assert_eq!(server.stats().peak_in_flight, 4);
    assert_eq!(server.stats().requests, 15);
}

#[tokio::test]
async fn after_a_429_the_other_sections_pause_instead_of_stampeding() {
    let server = FakeOpenAi::start(ServerConfig {
        latency: Duration::from_millis(50),
        ..ServerConfig::default()
    });
    server.push_faults([Fault::RateLimited {
        retry_after: RetryAfter::Millis(600),
    }]);
    let p: Arc<dyn Provider> = Arc::new(provider(&server, |_| {}));
    let r = reading([9, 8, 7, 7, 6, 8]); // 10 sections
    let prompts = Prompts::default();
    let requests: Vec<SectionRequest> = plan(&r)
        .into_iter()
        .map(|section| {
            let messages = build_messages(&prompts, &r, &Query::new("Q"), section);
            SectionRequest::new(r.clone(), Arc::new(Query::new("Q")), section, messages, 100)
        })
        .collect();
    let (tx, _rx) = mpsc::unbounded_channel();
    let summary = orchestrator::run(
        p,
        None,
        requests,
        Slots::Cap(2),
        tx,
        CancellationToken::new(),
        Flow::default(),
    )
    .await;
    assert_eq!(summary.succeeded(), plan(&r));
    let arrivals = server.arrivals();
    assert_eq!(arrivals.len(), 11);
    // The first request got the 429; the one beside it was already in flight. Every request
    // after those two waited out the 600 ms.
    for later in &arrivals[2..] {
        assert!(
            *later - arrivals[0] >= Duration::from_millis(600),
            "{:?}",
            *later - arrivals[0]
        );
    }
}

#[tokio::test]
async fn unreachable_endpoints_fail_clearly_after_retries_without_the_key() {
    // A port nobody listens on: bind, learn the port, close.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let p = OpenAi::new(
        OpenAiConfig {
            api_key: Secret::new(KEY),
            stream: true,
            read_timeout: Duration::from_secs(2),
            max_attempts: 2,
            ..OpenAiConfig::new(format!("http://127.0.0.1:{port}/v1"), "m")
        },
        Arc::new(Limiter::new(None, None)),
    )
    .unwrap();
    let (result, events) = one(&p, Section::OpeningStatements).await;
    let e = result.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Connect);
    // One short wait and one more try, then one message naming the cause; no retry is shown
    // (a refused connection is the endpoint's, not the section's).
    assert_eq!(e.attempts, 2);
    assert!(
        e.message.starts_with(&format!(
            "nothing listens at 127.0.0.1:{port}: is the server running?"
        )),
        "{}",
        e.message
    );
    assert!(!e.message.contains(KEY));
    assert!(retries(&events).is_empty());
    // Another request to the same endpoint now is not sent at all.
    let (again, _) = one(&p, Section::OpeningStatements).await;
    let again = again.unwrap_err();
    assert_eq!(again.kind, ErrorKind::NotSent);
    assert_eq!(again.attempts, 0);
    assert!(again.message.starts_with("not sent:"), "{}", again.message);
    assert!(
        OpenAi::new(
            OpenAiConfig {
                api_key: Secret::default(),
                stream: true,
                read_timeout: Duration::from_secs(1),
                max_attempts: 1,
                ..OpenAiConfig::new("not a url", "m")
            },
            Arc::new(Limiter::new(None, None)),
        )
        .is_err()
    );
}

#[tokio::test]
async fn model_ids_that_would_have_to_be_changed_to_be_shown_are_left_out() {
    // A server listing an id with an escape sequence, one too long, a blank one and two plain
    // ones: the list holds the ids as sent, and only those that show as they are.
    let listing = serde_json::json!({"object": "list", "data": [
        {"id": "qwen2.5:3b"},
        {"id": "evil\u{1b}]0;title\u{7}model"},
        {"id": "x".repeat(201)},
        {"id": "   "},
        {"id": "llama-3.2-3b-instruct"},
    ]});
    let app = axum::Router::new().route(
        "/v1/models",
        axum::routing::get(move || {
            let body = listing.to_string();
            async move { ([("content-type", "application/json")], body) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let p = OpenAi::new(
        OpenAiConfig::new(format!("http://{addr}/v1"), "m"),
        Arc::new(Limiter::new(None, None)),
    )
    .unwrap();
    assert_eq!(
        p.models().await.unwrap(),
        ["llama-3.2-3b-instruct", "qwen2.5:3b"]
    );
}

#[tokio::test]
async fn a_passing_500_costs_the_schema_nothing_and_one_met_twice_is_learned() {
    use iching::llm::negotiate::Fields;
    use iching::llm::preset::{Choice, Structured, TokenParam};
    let server = FakeOpenAi::start(ServerConfig::default());
    let p = provider(&server, |c| {
        c.structured = Choice::Auto;
        c.start = Fields::new(TokenParam::MaxTokens, Structured::JsonSchema);
    });
    let format = |i: usize| {
        server.requests()[i]
            .body
            .pointer("/response_format/type")
            .and_then(|v| v.as_str())
            .map(str::to_owned)
    };
    // One 500 naming nothing: retried as a fault, with every field still.
    server.push_faults([Fault::Status(500)]);
    let (result, _) = one(&p, Section::OpeningStatements).await;
    assert_eq!(result.unwrap().attempts, 2);
    assert_eq!(format(1).as_deref(), Some("json_schema"));
    assert_eq!(p.fields().structured, Structured::JsonSchema);
    // The same request meeting it twice: the retry goes without the optional fields, and when
    // that is taken, they are dropped for everyone.
    server.reset_stats();
    server.push_faults([Fault::Status(500), Fault::Status(500)]);
    let (result, _) = one(&p, Section::OpeningStatements).await;
    assert_eq!(result.unwrap().attempts, 3);
    assert_eq!(format(2), None);
    assert_eq!(p.fields().structured, Structured::Off);
}
