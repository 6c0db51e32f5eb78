//! Tests of the fault-injecting fake OpenAI server (`tests/support/fake_openai.rs`) itself,
//! using a raw reqwest client: each fault must produce exactly what it promises, so the
//! client's own integration tests can rely on it.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test or tool fails by panicking"
)]

use crate::support;

use std::time::{Duration, Instant, SystemTime};

use serde_json::{Value, json};
use support::fake_openai::{
    CORRUPT_PAYLOAD, DEFAULT_CONTENT, FakeOpenAi, Fault, GARBAGE_CONTENT, Gate, RetryAfter,
    ServerConfig,
};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// How long to wait for the server to go idle before failing (returns as soon as it is).
const IDLE: Duration = Duration::from_secs(30);

fn request_body(stream: bool, include_usage: bool) -> Value {
    let mut body = json!({
        "model": "gpt-test",
        "messages": [
            {"role": "system", "content": "You are an oracle."},
            {"role": "user", "content": "Tell me about hexagram 1, please, in two paragraphs."},
        ],
        "max_tokens": 800,
        "stream": stream,
        "response_format": {"type": "json_object"},
    });
    if include_usage {
        body["stream_options"] = json!({"include_usage": true});
    }
    body
}

async fn post(server: &FakeOpenAi, body: &Value, fault: Option<&str>) -> reqwest::Response {
    let mut req = support::http_client()
        .post(server.chat_url())
        .bearer_auth("sk-test-123")
        .json(body);
    if let Some(f) = fault {
        req = req.header("x-fake-fault", f);
    }
    req.send().await.expect("send")
}

/// The `data` payloads of an SSE body (tolerating `data:` without a space, CRLF and comments).
fn sse_payloads(text: &str) -> Vec<String> {
    let text = text.replace("\r\n", "\n");
    text.split("\n\n")
        .filter_map(|event| {
            let data: Vec<&str> = event
                .lines()
                .filter_map(|l| l.strip_prefix("data:"))
                .map(|d| d.strip_prefix(' ').unwrap_or(d))
                .collect();
            (!data.is_empty()).then(|| data.join("\n"))
        })
        .collect()
}

/// Parsed JSON chunks (skipping `[DONE]` and anything unparseable).
fn sse_chunks(text: &str) -> Vec<Value> {
    sse_payloads(text)
        .iter()
        .filter_map(|p| serde_json::from_str(p).ok())
        .collect()
}

fn delta_text(chunks: &[Value]) -> String {
    chunks
        .iter()
        .filter_map(|c| {
            c.pointer("/choices/0/delta/content")
                .and_then(Value::as_str)
        })
        .collect()
}

fn finish_reasons(chunks: &[Value]) -> Vec<String> {
    chunks
        .iter()
        .filter_map(|c| {
            c.pointer("/choices/0/finish_reason")
                .and_then(Value::as_str)
        })
        .map(str::to_string)
        .collect()
}

fn assert_answer_format(content: &str) {
    let v: Value = serde_json::from_str(content).expect("content is JSON");
    let paras = v["response"].as_array().expect("response array");
    assert_eq!(paras.len(), 2);
    let words: usize = paras
        .iter()
        .map(|p| p.as_str().unwrap().split_whitespace().count())
        .sum();
    assert!((80..=150).contains(&words), "{words} words");
    for p in paras {
        let p = p.as_str().unwrap();
        assert!(p.starts_with("<p>") && p.ends_with("</p>"), "{p}");
    }
}

async fn read_error(resp: reqwest::Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.expect("error body is JSON");
    (status, body)
}

#[tokio::test]
async fn ok_json_answer() {
    let server = FakeOpenAi::start(ServerConfig::default());
    let resp = post(&server, &request_body(false, false), None).await;
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    for h in [
        "x-ratelimit-remaining-requests",
        "x-ratelimit-remaining-tokens",
        "x-ratelimit-reset-requests",
        "x-ratelimit-reset-tokens",
    ] {
        assert!(resp.headers().contains_key(h), "missing {h}");
    }
    assert_eq!(resp.headers()["x-fake-fault-applied"], "ok");
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(v["model"], "gpt-test");
    assert!(v["id"].as_str().unwrap().starts_with("chatcmpl-"));
    assert!(v["created"].as_u64().unwrap() > 1_600_000_000);
    assert_eq!(v["choices"][0]["index"], 0);
    assert_eq!(v["choices"][0]["message"]["role"], "assistant");
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    let content = v["choices"][0]["message"]["content"].as_str().unwrap();
    assert_eq!(content, DEFAULT_CONTENT);
    assert_answer_format(content);
    let u = &v["usage"];
    let prompt_chars =
        "You are an oracle.".len() + "Tell me about hexagram 1, please, in two paragraphs.".len();
    assert_eq!(u["prompt_tokens"], (prompt_chars / 4) as u64);
    assert!(u["completion_tokens"].as_u64().unwrap() > 50);
    assert_eq!(
        u["total_tokens"].as_u64().unwrap(),
        u["prompt_tokens"].as_u64().unwrap() + u["completion_tokens"].as_u64().unwrap()
    );
    let stats = server.stats();
    assert_eq!(stats.requests, 1);
    assert_eq!(stats.fault_count("ok"), 1);
}

#[tokio::test]
async fn ok_sse_stream_with_usage() {
    let server = FakeOpenAi::start(ServerConfig::default());
    let resp = post(&server, &request_body(true, true), None).await;
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let text = resp.text().await.unwrap();
    assert!(!text.contains('\r'));
    assert!(text.starts_with("data: {"));
    assert!(text.ends_with("data: [DONE]\n\n"));
    let payloads = sse_payloads(&text);
    assert_eq!(payloads.last().unwrap(), "[DONE]");
    let chunks = sse_chunks(&text);
    assert_eq!(
        chunks.len(),
        payloads.len() - 1,
        "every other event is JSON"
    );
    assert!(
        chunks
            .iter()
            .all(|c| c["object"] == "chat.completion.chunk")
    );
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let content = delta_text(&chunks);
    assert_eq!(content, DEFAULT_CONTENT);
    assert_answer_format(&content);
    let deltas = chunks
        .iter()
        .filter(|c| {
            c.pointer("/choices/0/delta/content")
                .and_then(Value::as_str)
                .is_some_and(|s| !s.is_empty())
        })
        .count();
    assert!((10..=20).contains(&deltas), "{deltas} deltas");
    assert_eq!(finish_reasons(&chunks), ["stop"]);
    let last = chunks.last().unwrap();
    assert_eq!(last["choices"], json!([]));
    assert!(last["usage"]["total_tokens"].as_u64().unwrap() > 0);
    // The finish chunk comes right before the usage chunk.
    assert_eq!(
        chunks[chunks.len() - 2]["choices"][0]["finish_reason"],
        "stop"
    );
}

#[tokio::test]
async fn sse_usage_only_when_asked_and_enabled() {
    let server = FakeOpenAi::start(ServerConfig::default());
    let text = post(&server, &request_body(true, false), None)
        .await
        .text()
        .await
        .unwrap();
    let chunks = sse_chunks(&text);
    assert!(chunks.iter().all(|c| c.get("usage").is_none()));
    assert!(text.ends_with("data: [DONE]\n\n"));

    server.set_config(ServerConfig {
        send_usage: false,
        ..ServerConfig::default()
    });
    let text = post(&server, &request_body(true, true), None)
        .await
        .text()
        .await
        .unwrap();
    let chunks = sse_chunks(&text);
    assert!(chunks.iter().all(|c| c["usage"].is_null()));
    assert_eq!(finish_reasons(&chunks), ["stop"]);
    let v: Value = post(&server, &request_body(false, false), None)
        .await
        .json()
        .await
        .unwrap();
    assert!(v.get("usage").is_none());
}

#[tokio::test]
async fn sse_quirks_framing() {
    let server = FakeOpenAi::start(ServerConfig {
        sse_quirks: true,
        ..ServerConfig::default()
    });
    let text = post(&server, &request_body(true, true), None)
        .await
        .text()
        .await
        .unwrap();
    assert!(text.contains("data:{"), "data: without space");
    assert!(!text.contains("data: "));
    assert!(text.contains(": keep-alive\r\n\r\n"));
    assert!(text.contains("\r\n\r\n"));
    assert!(!text.replace("\r\n", "").contains('\n'), "only CRLF");
    assert!(text.ends_with("data:[DONE]\r\n\r\n"));
    let chunks = sse_chunks(&text);
    assert_eq!(delta_text(&chunks), DEFAULT_CONTENT);
    assert_eq!(finish_reasons(&chunks), ["stop"]);
    assert!(chunks.last().unwrap()["usage"].is_object());
}

#[tokio::test]
async fn rate_limited_retry_headers() {
    let server = FakeOpenAi::start(ServerConfig::default());
    let date = SystemTime::now() + Duration::from_secs(7);
    server.push_faults(vec![
        Fault::RateLimited {
            retry_after: RetryAfter::Seconds(3),
        },
        Fault::RateLimited {
            retry_after: RetryAfter::Millis(250),
        },
        Fault::RateLimited {
            retry_after: RetryAfter::HttpDate(date),
        },
        Fault::RateLimited {
            retry_after: RetryAfter::None,
        },
    ]);
    assert_eq!(server.pending_faults(), 4);
    let body = request_body(false, false);

    let resp = post(&server, &body, None).await;
    assert_eq!(resp.headers()["retry-after"], "3");
    assert!(!resp.headers().contains_key("retry-after-ms"));
    assert_eq!(resp.headers()["x-ratelimit-remaining-requests"], "0");
    let (status, v) = read_error(resp).await;
    assert_eq!(status, 429);
    assert_eq!(v["error"]["type"], "requests");
    assert_eq!(v["error"]["code"], "rate_limit_exceeded");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Rate limit")
    );

    let resp = post(&server, &body, None).await;
    assert_eq!(resp.status(), 429);
    assert_eq!(resp.headers()["retry-after-ms"], "250");
    assert!(!resp.headers().contains_key("retry-after"));

    let resp = post(&server, &body, Some("rate-limited")).await;
    assert_eq!(
        resp.headers()["retry-after"],
        "1",
        "header does not consume script"
    );
    assert_eq!(server.pending_faults(), 2);

    let resp = post(&server, &body, None).await;
    assert_eq!(resp.status(), 429);
    let header = resp.headers()["retry-after"].to_str().unwrap().to_string();
    let parsed = httpdate::parse_http_date(&header).expect("HTTP date");
    let want = httpdate::parse_http_date(&httpdate::fmt_http_date(date)).unwrap();
    assert_eq!(parsed, want);

    let resp = post(&server, &body, None).await;
    assert_eq!(resp.status(), 429);
    assert!(!resp.headers().contains_key("retry-after"));
    assert!(!resp.headers().contains_key("retry-after-ms"));
    assert_eq!(server.pending_faults(), 0);

    // Script exhausted: back to normal.
    assert_eq!(post(&server, &body, None).await.status(), 200);
    assert_eq!(server.stats().fault_count("rate_limited"), 5);
}

#[tokio::test]
async fn insufficient_quota() {
    let server = FakeOpenAi::start(ServerConfig::default());
    server.push_fault(Fault::InsufficientQuota);
    let resp = post(&server, &request_body(true, true), None).await;
    assert!(!resp.headers().contains_key("retry-after"));
    let (status, v) = read_error(resp).await;
    assert_eq!(status, 429);
    assert_eq!(v["error"]["type"], "insufficient_quota");
    assert_eq!(v["error"]["code"], "insufficient_quota");
    let resp = post(
        &server,
        &request_body(false, false),
        Some("insufficient_quota"),
    )
    .await;
    assert_eq!(resp.status(), 429);
}

#[tokio::test]
async fn status_codes_have_openai_error_bodies() {
    let server = FakeOpenAi::start(ServerConfig::default());
    let codes = [500u16, 502, 503, 400, 401, 403, 404, 408, 409, 422];
    server.push_faults(codes.iter().map(|c| Fault::Status(*c)));
    for code in codes {
        // Streaming requests get JSON errors too, like the real API.
        let resp = post(&server, &request_body(true, true), None).await;
        assert!(
            resp.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/json")
        );
        let (status, v) = read_error(resp).await;
        assert_eq!(status, code);
        let msg = v["error"]["message"].as_str().unwrap();
        assert!(msg.contains(&code.to_string()), "{msg}");
        assert!(v["error"]["type"].is_string());
    }
    let (status, v) =
        read_error(post(&server, &request_body(false, false), Some("status:502")).await).await;
    assert_eq!(status, 502);
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Bad Gateway")
    );
    assert_eq!(server.stats().fault_count("status"), 11);
}

#[tokio::test]
async fn drop_mid_stream_is_a_client_body_error() {
    let server = FakeOpenAi::start(ServerConfig::default());
    server.push_faults(vec![Fault::DropMidStream, Fault::DropMidStream]);

    let mut resp = post(&server, &request_body(true, true), None).await;
    assert_eq!(resp.status(), 200);
    let mut got = Vec::new();
    let err = loop {
        match resp.chunk().await {
            Ok(Some(b)) => got.extend_from_slice(&b),
            Ok(None) => panic!("stream ended cleanly"),
            Err(e) => break e,
        }
    };
    assert!(
        err.is_body() || err.is_decode() || err.is_request(),
        "{err:?}"
    );
    let text = String::from_utf8(got).unwrap();
    let chunks = sse_chunks(&text);
    assert!(!delta_text(&chunks).is_empty(), "some deltas arrived first");
    assert!(finish_reasons(&chunks).is_empty());
    assert!(!text.contains("[DONE]"));

    let err = post(&server, &request_body(false, false), None)
        .await
        .bytes()
        .await
        .expect_err("JSON body aborted");
    assert!(
        err.is_body() || err.is_decode() || err.is_request(),
        "{err:?}"
    );

    assert!(server.wait_idle(IDLE).await);
    let stats = server.stats();
    assert_eq!(stats.aborted, 2);
    assert_eq!(stats.completed, 0);
    assert_eq!(stats.fault_count("drop_mid_stream"), 2);
}

#[tokio::test]
async fn cut_without_finish_ends_cleanly_without_done() {
    let server = FakeOpenAi::start(ServerConfig::default());
    let text = post(
        &server,
        &request_body(true, true),
        Some("cut-without-finish"),
    )
    .await
    .text()
    .await
    .expect("clean end");
    let chunks = sse_chunks(&text);
    let content = delta_text(&chunks);
    assert!(!content.is_empty());
    assert!(DEFAULT_CONTENT.starts_with(&content) && content.len() < DEFAULT_CONTENT.len());
    assert!(finish_reasons(&chunks).is_empty());
    assert!(chunks.iter().all(|c| c["usage"].is_null()));
    assert!(!text.contains("[DONE]"));

    server.push_fault(Fault::CutWithoutFinish);
    let body = post(&server, &request_body(false, false), None)
        .await
        .text()
        .await
        .expect("clean end");
    assert!(
        serde_json::from_str::<Value>(&body).is_err(),
        "truncated JSON"
    );
    assert!(server.wait_idle(IDLE).await);
    assert_eq!(server.stats().completed, 2);
}

#[tokio::test]
async fn corrupt_chunk_then_normal() {
    let server = FakeOpenAi::start(ServerConfig::default());
    server.push_fault(Fault::CorruptChunk);
    let text = post(&server, &request_body(true, true), None)
        .await
        .text()
        .await
        .unwrap();
    assert!(text.contains(&format!("data: {CORRUPT_PAYLOAD}\n\n")));
    let payloads = sse_payloads(&text);
    let corrupt_at = payloads.iter().position(|p| p == CORRUPT_PAYLOAD).unwrap();
    assert!(
        corrupt_at > 1 && corrupt_at < payloads.len() - 3,
        "mid-stream"
    );
    let chunks = sse_chunks(&text);
    assert_eq!(delta_text(&chunks), DEFAULT_CONTENT);
    assert_eq!(finish_reasons(&chunks), ["stop"]);
    assert!(text.ends_with("data: [DONE]\n\n"));

    let resp = post(&server, &request_body(false, false), Some("corrupt-chunk")).await;
    assert_eq!(resp.status(), 200);
    assert!(resp.json::<Value>().await.is_err());
}

/// Far longer than any test runs: what arrives before such a wait is all that was sent before it.
const AN_HOUR: Duration = Duration::from_secs(3600);

/// A guard that only catches a hang; never a timing assertion.
async fn hang_guard<F: std::future::Future>(f: F) -> F::Output {
    support::cli::guard(60, f).await
}

#[tokio::test]
async fn stall_pauses_after_first_delta() {
    let server = FakeOpenAi::start(ServerConfig::default());
    // An hour-long stall: the text that comes is exactly what was sent before the pause.
    server.push_fault(Fault::Stall(AN_HOUR));
    let mut resp = post(&server, &request_body(true, false), None).await;
    let mut got = String::new();
    while delta_text(&sse_chunks(&got)).is_empty() {
        let b = hang_guard(resp.chunk())
            .await
            .unwrap()
            .expect("a first delta");
        got.push_str(std::str::from_utf8(&b).unwrap());
    }
    let before = delta_text(&sse_chunks(&got));
    assert!(
        before.len() < DEFAULT_CONTENT.len() && DEFAULT_CONTENT.starts_with(&before),
        "only the first piece comes before the pause: {before:?}"
    );
    assert!(
        tokio::time::timeout(ms(200), resp.chunk()).await.is_err(),
        "nothing more comes during the pause"
    );
    drop(resp);

    // A short stall ends, and the answer is whole.
    server.push_fault(Fault::Stall(ms(150)));
    let start = Instant::now();
    let resp = post(&server, &request_body(true, false), None).await;
    let got = resp.text().await.unwrap();
    let total = start.elapsed();
    assert!(total >= ms(150), "stalled: {total:?}");
    assert_eq!(delta_text(&sse_chunks(&got)), DEFAULT_CONTENT);
    assert!(got.ends_with("data: [DONE]\n\n"));
}

#[tokio::test]
async fn latency_and_first_token_delays() {
    let server = FakeOpenAi::start(ServerConfig {
        latency: ms(100),
        ..ServerConfig::default()
    });
    let start = Instant::now();
    let resp = post(&server, &request_body(false, false), None).await;
    assert!(start.elapsed() >= ms(100));
    assert_eq!(resp.status(), 200);

    server.set_config(ServerConfig::default());
    server.push_fault(Fault::Latency(ms(120)));
    let start = Instant::now();
    let resp = post(&server, &request_body(true, false), None).await;
    assert!(start.elapsed() >= ms(120), "latency override");
    assert_eq!(resp.headers()["x-fake-fault-applied"], "latency");
    assert!(resp.text().await.unwrap().ends_with("data: [DONE]\n\n"));

    // SlowFirstToken: the first delta comes that long after the head ...
    let start = Instant::now();
    let mut resp = post(
        &server,
        &request_body(true, false),
        Some("slow-first-token:120"),
    )
    .await;
    let first = resp.chunk().await.unwrap().unwrap();
    let first_at = start.elapsed();
    assert!(first_at >= ms(120), "first delta late: {first_at:?}");
    assert!(std::str::from_utf8(&first).unwrap().starts_with("data: "));

    // ... and the head does not wait for it: with an hour to the first delta, the head is here.
    let mut resp = hang_guard(post(
        &server,
        &request_body(true, false),
        Some("slow-first-token:3600s"),
    ))
    .await;
    assert_eq!(resp.status(), 200);
    assert!(
        tokio::time::timeout(ms(200), resp.chunk()).await.is_err(),
        "no delta before the first-token delay"
    );
}

#[tokio::test]
async fn garbage_content_and_length() {
    let server = FakeOpenAi::start(ServerConfig::default());
    server.push_faults(vec![
        Fault::Garbage,
        Fault::Garbage,
        Fault::Content("hello there".into()),
        Fault::Length,
    ]);
    let v: Value = post(&server, &request_body(false, false), None)
        .await
        .json()
        .await
        .unwrap();
    let content = v["choices"][0]["message"]["content"].as_str().unwrap();
    assert_eq!(content, GARBAGE_CONTENT);
    assert!(content.contains('\u{1b}'));
    assert!(serde_json::from_str::<Value>(content).is_err());

    let text = post(&server, &request_body(true, false), None)
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(delta_text(&sse_chunks(&text)), GARBAGE_CONTENT);

    let text = post(&server, &request_body(true, false), None)
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(delta_text(&sse_chunks(&text)), "hello there");

    let v: Value = post(&server, &request_body(false, false), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["choices"][0]["finish_reason"], "length");
    let content = v["choices"][0]["message"]["content"].as_str().unwrap();
    assert!(DEFAULT_CONTENT.starts_with(content) && content.len() < DEFAULT_CONTENT.len());

    let v: Value = post(&server, &request_body(false, false), Some("content:a:b c"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["choices"][0]["message"]["content"], "a:b c");
}

#[tokio::test]
async fn configured_content() {
    let server = FakeOpenAi::start(ServerConfig {
        content: Some(r#"{"response": ["<p>x</p>"]}"#.into()),
        chunks: 4,
        ..ServerConfig::default()
    });
    let text = post(&server, &request_body(true, false), None)
        .await
        .text()
        .await
        .unwrap();
    let chunks = sse_chunks(&text);
    assert_eq!(delta_text(&chunks), r#"{"response": ["<p>x</p>"]}"#);
    assert_eq!(chunks.len(), 1 + 4 + 1, "role, 4 deltas, finish");
}

#[tokio::test]
async fn fault_header_syntax() {
    let parse = |s: &str| s.parse::<Fault>().unwrap();
    assert_eq!(parse("ok"), Fault::Ok);
    assert_eq!(parse("latency:250"), Fault::Latency(ms(250)));
    assert_eq!(parse("latency:2s"), Fault::Latency(ms(2000)));
    assert_eq!(
        parse("Slow_First_Token:40ms"),
        Fault::SlowFirstToken(ms(40))
    );
    assert_eq!(
        parse("rate-limited"),
        Fault::rate_limited(RetryAfter::Seconds(1))
    );
    assert_eq!(
        parse("rate-limited:5"),
        Fault::rate_limited(RetryAfter::Seconds(5))
    );
    assert_eq!(
        parse("rate-limited:150ms"),
        Fault::rate_limited(RetryAfter::Millis(150))
    );
    assert_eq!(
        parse("rate-limited:none"),
        Fault::rate_limited(RetryAfter::None)
    );
    assert!(matches!(
        parse("rate-limited:date=30"),
        Fault::RateLimited {
            retry_after: RetryAfter::HttpDate(_)
        }
    ));
    assert_eq!(parse("insufficient-quota"), Fault::InsufficientQuota);
    assert_eq!(parse("status:503"), Fault::Status(503));
    assert_eq!(
        parse("status-saying:400:no: <b>"),
        Fault::StatusSaying(400, "no: <b>".into())
    );
    assert_eq!(parse("drop-mid-stream"), Fault::DropMidStream);
    assert_eq!(parse("cut-without-finish"), Fault::CutWithoutFinish);
    assert_eq!(parse("corrupt-chunk"), Fault::CorruptChunk);
    assert_eq!(parse("stall:100"), Fault::Stall(ms(100)));
    assert_eq!(parse("garbage"), Fault::Garbage);
    assert_eq!(parse("length"), Fault::Length);
    assert_eq!(parse("content:x: y"), Fault::Content("x: y".into()));
    assert!("nope".parse::<Fault>().is_err());
    assert!("status".parse::<Fault>().is_err());
    assert!("latency:soon".parse::<Fault>().is_err());

    let server = FakeOpenAi::start(ServerConfig::default());
    let (status, v) =
        read_error(post(&server, &request_body(false, false), Some("bogus")).await).await;
    assert_eq!(status, 400);
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("x-fake-fault")
    );
    let resp = post(
        &server,
        &request_body(false, false),
        Some("rate-limited:date=5"),
    )
    .await;
    assert_eq!(resp.status(), 429);
    assert!(httpdate::parse_http_date(resp.headers()["retry-after"].to_str().unwrap()).is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn peak_in_flight_counts_concurrent_requests() {
    const N: usize = 32;
    // Every answer waits until all N are in flight: the peak is N however slow the machine.
    let gate = Gate::in_flight(N as u64);
    let server = FakeOpenAi::start(ServerConfig {
        gate: Some(gate.clone()),
        ..ServerConfig::default()
    });
    let client = support::http_client();
    let url = server.chat_url();
    let mut tasks = Vec::new();
    for i in 0..N {
        let client = client.clone();
        let url = url.clone();
        let body = request_body(i % 2 == 0, true);
        tasks.push(tokio::spawn(async move {
            let resp = client.post(url).json(&body).send().await.unwrap();
            assert_eq!(resp.status(), 200);
            resp.text().await.unwrap()
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert!(gate.opened());
    assert!(server.wait_idle(IDLE).await);
    let stats = server.stats();
    assert_eq!(stats.requests, N as u64);
    assert_eq!(stats.peak_in_flight, N as u64);
    assert_eq!(stats.in_flight, 0);
    assert_eq!(stats.completed, N as u64);
    assert_eq!(stats.aborted, 0);

    server.reset_stats();
    let stats = server.stats();
    assert_eq!(stats.requests, 0);
    assert_eq!(stats.peak_in_flight, 0);
    assert_eq!(stats.completed, 0);
    assert!(stats.by_fault.is_empty());
    assert!(server.requests().is_empty());
}

#[tokio::test]
async fn client_disconnect_releases_in_flight() {
    let server = FakeOpenAi::start(ServerConfig::default());
    let mut resp = post(&server, &request_body(true, false), Some("stall:3600s")).await;
    resp.chunk().await.unwrap().unwrap();
    assert_eq!(server.stats().in_flight, 1);
    drop(resp);
    // Dropped during the server's latency sleep too.
    let pending = tokio::spawn({
        let url = server.chat_url();
        async move {
            support::http_client()
                .post(url)
                .header("x-fake-fault", "latency:3600s")
                .json(&request_body(false, false))
                .send()
                .await
        }
    });
    hang_guard(async {
        while server.stats().requests < 2 {
            tokio::time::sleep(ms(2)).await;
        }
    })
    .await;
    pending.abort();
    assert!(server.wait_idle(IDLE).await, "{:?}", server.stats());
    let stats = server.stats();
    assert_eq!(stats.requests, 2, "{stats:?}");
    assert_eq!(stats.aborted, 2, "{stats:?}");
}

#[tokio::test]
async fn records_bodies_auth_and_arrivals() {
    let server = FakeOpenAi::start(ServerConfig::default());
    server.push_fault(Fault::Status(503));
    let body = request_body(false, false);
    post(&server, &body, None).await;
    tokio::time::sleep(ms(40)).await;
    support::http_client()
        .post(server.chat_url())
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(server.received(), vec![body.clone(), body]);
    assert_eq!(
        server.authorizations(),
        vec![Some("Bearer sk-test-123".to_string()), None]
    );
    let reqs = server.requests();
    assert_eq!(reqs[0].fault, Fault::Status(503));
    assert_eq!(reqs[1].fault, Fault::Ok);
    assert!(reqs[0].headers.contains_key("content-type"));
    let gaps = server.gaps();
    assert_eq!(gaps.len(), 1);
    assert!(gaps[0] >= ms(40));
    assert_eq!(server.arrivals().len(), 2);

    server.set_config(ServerConfig {
        record_bodies: false,
        ..ServerConfig::default()
    });
    post(&server, &request_body(false, false), None).await;
    assert_eq!(server.received()[2], Value::Null);
    server.set_config(ServerConfig {
        record_requests: false,
        ..ServerConfig::default()
    });
    post(&server, &request_body(false, false), None).await;
    assert_eq!(server.requests().len(), 3);
    assert_eq!(server.stats().requests, 4);
}

#[tokio::test]
async fn api_key_check_and_fail_rate() {
    let server = FakeOpenAi::start(ServerConfig {
        api_key: Some("sk-test-123".into()),
        ..ServerConfig::default()
    });
    assert_eq!(
        post(&server, &request_body(false, false), None)
            .await
            .status(),
        200
    );
    let resp = support::http_client()
        .post(server.chat_url())
        .bearer_auth("sk-wrong")
        .json(&request_body(false, false))
        .send()
        .await
        .unwrap();
    let (status, v) = read_error(resp).await;
    assert_eq!(status, 401);
    assert_eq!(v["error"]["code"], "invalid_api_key");

    server.set_config(ServerConfig {
        fail_rate: 1.0,
        fail_faults: vec![Fault::Status(502)],
        ..ServerConfig::default()
    });
    for _ in 0..3 {
        assert_eq!(
            post(&server, &request_body(false, false), None)
                .await
                .status(),
            502
        );
    }
    server.set_config(ServerConfig {
        default_fault: Fault::Status(500),
        ..ServerConfig::default()
    });
    assert_eq!(
        post(&server, &request_body(false, false), None)
            .await
            .status(),
        500
    );
}

#[tokio::test]
async fn invalid_json_body_is_400() {
    let server = FakeOpenAi::start(ServerConfig::default());
    server.push_fault(Fault::Status(503));
    let resp = support::http_client()
        .post(server.chat_url())
        .header("content-type", "application/json")
        .body("{oops")
        .send()
        .await
        .unwrap();
    let (status, v) = read_error(resp).await;
    assert_eq!(status, 400);
    assert_eq!(v["error"]["type"], "invalid_request_error");
    assert_eq!(
        server.pending_faults(),
        1,
        "refused requests keep the script"
    );
    assert_eq!(server.requests()[0].fault, Fault::Status(400));
}

#[tokio::test]
async fn shutdown_refuses_connections_and_aborts_streams() {
    let server = FakeOpenAi::start(ServerConfig::default());
    let url = server.chat_url();
    // An hour-long stall: only the shutdown can end this stream within the test.
    let mut resp = post(&server, &request_body(true, false), Some("stall:3600s")).await;
    resp.chunk().await.unwrap().unwrap();
    hang_guard(server.shutdown_and_wait()).await;
    let rest = hang_guard(async {
        loop {
            match resp.chunk().await {
                Ok(Some(_)) => {}
                other => break other,
            }
        }
    })
    .await;
    assert!(rest.is_err(), "stream aborted by shutdown");
    let err = support::http_client()
        .post(url)
        .json(&request_body(false, false))
        .send()
        .await
        .expect_err("server gone");
    assert!(err.is_connect() || err.is_request(), "{err:?}");
}

/// Many streams at once, all in flight together (256 by default; more with
/// `FAKE_STRESS_N=4000 cargo test --release --test integration fake_server:: -- --nocapture`).
#[tokio::test(flavor = "multi_thread")]
async fn many_concurrent_streams_are_all_in_flight_together() {
    let n: usize = std::env::var("FAKE_STRESS_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256);
    // No answer ends before every connection is open and its request in flight.
    let server = FakeOpenAi::start(ServerConfig {
        gate: Some(Gate::in_flight(n as u64)),
        inter_chunk_delay: ms(5),
        record_requests: false,
        record_bodies: false,
        ..ServerConfig::default()
    });
    let client = support::http_client();
    let url = server.chat_url();
    let body = request_body(true, true);
    let start = Instant::now();
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let (client, url, body) = (client.clone(), url.clone(), body.clone());
            tokio::spawn(async move {
                let text = client
                    .post(url)
                    .json(&body)
                    .send()
                    .await
                    .unwrap()
                    .text()
                    .await
                    .unwrap();
                assert!(text.ends_with("data: [DONE]\n\n"));
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let elapsed = start.elapsed();
    assert!(server.wait_idle(IDLE).await);
    let stats = server.stats();
    eprintln!("{n} streams in {elapsed:?}: {stats:?}");
    assert_eq!(stats.completed, n as u64);
    assert_eq!(stats.peak_in_flight, n as u64);
}
