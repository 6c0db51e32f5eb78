//! The real binary against the fake behaving as OpenAI's real API is documented to: reasoning
//! models that refuse `max_tokens`, spend reasoning tokens out of `max_completion_tokens` and
//! report them, prompt caching, models without `json_schema`, hosted presets without their key,
//! and the garbage small models send when they lose the thread.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test or tool fails by panicking"
)]

use crate::support;

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};
use support::cli::{self, Run, complete_sections, guard, sections};
use support::fake_openai::{
    FakeOpenAi, Fault, JSON_SCHEMA_UNSUPPORTED, MAX_TOKENS_UNSUPPORTED, RecordedRequest,
    ServerConfig,
};

const KEY: &str = "sk-real-providers-test-key";
const MODEL: &str = "fake-model";
const QUESTION: &str = "Should I move to the coast this year?";

/// Changing lines 1 and 5: ten sections.
const TEN: &str = "9,8,7,7,6,8";
const TEN_SECTIONS: u64 = 10;
/// Unchanging lines: six sections.
const SIX: &str = "7,7,7,7,7,7";
const SIX_SECTIONS: u64 = 6;

async fn iching(home: &Path, args: &[&str]) -> Run {
    iching_env(home, args, &[]).await
}

async fn iching_env(home: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    cli::run(home, args, KEY, env).await
}

/// `cast QUESTION --lines LINES --provider openai --base-url URL --model fake-model
/// --format json`, then `extra`.
fn cast_args<'a>(url: &'a str, lines: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "cast",
        QUESTION,
        "--lines",
        lines,
        "--provider",
        "openai",
        "--base-url",
        url,
        "--model",
        MODEL,
        "--format",
        "json",
    ];
    args.extend_from_slice(extra);
    args
}

fn reasoning_server(reasoning_tokens: u64) -> ServerConfig {
    ServerConfig {
        reasoning_model: true,
        reasoning_tokens,
        api_key: Some(KEY.into()),
        ..ServerConfig::default()
    }
}

/// The requests refused with a 400, and the rest.
fn split_refused(requests: &[RecordedRequest]) -> (Vec<&RecordedRequest>, Vec<&RecordedRequest>) {
    requests.iter().partition(|r| r.refused.is_some())
}

#[tokio::test]
async fn the_fake_reasoning_model_answers_as_openai_documents() {
    let server = FakeOpenAi::start(ServerConfig {
        prompt_cache: true,
        cache_min_tokens: 64,
        cache_increment: 1,
        ..reasoning_server(40)
    });
    let client = support::http_client();
    let system = "You answer in JSON. ".repeat(40);
    let post = |body: Value| {
        client
            .post(server.chat_url())
            .bearer_auth(KEY)
            .json(&body)
            .send()
    };
    let body = |extra: Value, user: &str| {
        let mut b = json!({
            "model": MODEL,
            "messages": [
                {"role": "system", "content": system},
                {"role": "user", "content": user},
            ],
        });
        for (k, v) in extra.as_object().unwrap() {
            b[k] = v.clone();
        }
        b
    };

    // max_tokens: the documented 400, byte for byte.
    let resp = post(body(json!({"max_tokens": 500}), "a")).await.unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(resp.text().await.unwrap(), MAX_TOKENS_UNSUPPORTED);

    // max_completion_tokens: reasoning first, then the answer, both in the usage.
    let v: Value = post(body(json!({"max_completion_tokens": 500}), "b"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    let u = &v["usage"];
    assert_eq!(u["completion_tokens_details"]["reasoning_tokens"], 40);
    assert!(u["completion_tokens"].as_u64().unwrap() > 40);
    // The first request served (the refused one was never processed): nothing cached yet.
    assert_eq!(u["prompt_tokens_details"]["cached_tokens"], 0, "{u}");

    // A budget spent reasoning: 200, empty content, "length", all of it reasoning.
    let v: Value = post(body(json!({"max_completion_tokens": 40}), "c"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["choices"][0]["message"]["content"], "");
    assert_eq!(v["choices"][0]["finish_reason"], "length");
    assert_eq!(v["usage"]["completion_tokens"], 40);
    assert_eq!(
        v["usage"]["completion_tokens_details"]["reasoning_tokens"],
        40
    );
    // The same system prompt as the one served before: its prefix is cached.
    assert_eq!(
        v["usage"]["prompt_tokens_details"]["cached_tokens"],
        system.len() as u64 / 4
    );

    // Streaming: usage only when asked, in a last chunk with no choices, before [DONE].
    for include in [true, false] {
        let text = post(body(
            json!({"max_completion_tokens": 500, "stream": true,
                   "stream_options": {"include_usage": include}}),
            "d",
        ))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
        let payloads: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("data: "))
            .collect();
        assert_eq!(payloads.last(), Some(&"[DONE]"));
        let last: Value = serde_json::from_str(payloads[payloads.len() - 2]).unwrap();
        if include {
            assert_eq!(last["choices"], json!([]));
            assert_eq!(
                last["usage"]["completion_tokens_details"]["reasoning_tokens"],
                40
            );
            assert!(last["usage"]["prompt_tokens_details"]["cached_tokens"].is_u64());
        } else {
            assert_eq!(last["choices"][0]["finish_reason"], "stop");
            assert!(!text.contains("\"usage\""), "{text}");
        }
    }

    // json_schema refused where configured, byte for byte.
    server.set_config(ServerConfig {
        refuse_json_schema: true,
        ..ServerConfig::default()
    });
    let resp = post(body(
        json!({"max_tokens": 50, "response_format": {"type": "json_schema", "json_schema": {}}}),
        "e",
    ))
    .await
    .unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(resp.text().await.unwrap(), JSON_SCHEMA_UNSUPPORTED);
    let stats = server.stats();
    assert_eq!(stats.refused, 2);
    assert!(stats.cached_tokens > 0 && stats.prompt_tokens > stats.cached_tokens);
    assert_eq!(stats.reasoning_tokens, 40 + 40 + 40);
}

/// A reading of ten sections by a reasoning model whose prompt prefixes get cached.
#[tokio::test(flavor = "multi_thread")]
async fn a_reasoning_model_costs_one_extra_request_and_its_tokens_are_counted_and_priced() {
    let server = FakeOpenAi::start(ServerConfig {
        // OpenAI's rule: prefixes of 1024 tokens or more, in steps of 128.
        prompt_cache: true,
        cache_min_tokens: 1024,
        cache_increment: 128,
        inter_chunk_delay: Duration::from_millis(5),
        ..reasoning_server(48)
    });
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        home.path().join("config.toml"),
        "[prices.\"fake-model\"]\nprompt_per_million = 2.0\ncompletion_per_million = 8.0\n\
         cached_prompt_per_million = 0.5\n",
    )
    .unwrap();
    let url = server.base_url();
    let run = guard(120, iching(home.path(), &cast_args(&url, TEN, &[]))).await;
    assert_eq!(run.code, Some(0), "{run}");
    let report = run.json();
    assert_eq!(complete_sections(&report), TEN_SECTIONS as usize);

    // Sections + 1 requests: the first, alone, is refused; every later one carries
    // max_completion_tokens and not max_tokens.
    let requests = server.requests();
    assert_eq!(requests.len() as u64, TEN_SECTIONS + 1);
    assert_eq!(server.stats().refused, 1);
    assert_eq!(requests[0].refused, Some("max_tokens"));
    assert!(requests[0].body["max_tokens"].is_u64());
    let budget = requests[1].body["max_completion_tokens"].as_u64().unwrap();
    for r in &requests[1..] {
        assert!(r.refused.is_none());
        assert!(r.body.get("max_tokens").is_none(), "{}", r.body);
        assert_eq!(r.body["max_completion_tokens"], budget);
    }
    assert!(requests[1].arrived >= requests[0].arrived);

    // Reasoning and cached tokens per section, as the server reported them.
    let stats = server.stats();
    assert!(stats.cached_tokens > 0, "prefixes were cached: {stats:?}");
    let mut cached_sum = 0;
    let mut prompt_sum = 0;
    let mut completion_sum = 0;
    for s in sections(&report) {
        assert_eq!(s["reasoning_tokens"], 48, "{s}");
        assert!(s["completion_tokens"].as_u64().unwrap() > 48, "{s}");
        cached_sum += s["cached_tokens"].as_u64().expect("cached_tokens");
        prompt_sum += s["prompt_tokens"].as_u64().unwrap();
        completion_sum += s["completion_tokens"].as_u64().unwrap();
        assert!(
            s["failed_tokens"].is_null(),
            "a refused request costs nothing: {s}"
        );
    }
    assert_eq!(cached_sum, stats.cached_tokens);
    assert_eq!(prompt_sum, stats.prompt_tokens);
    assert_eq!(stats.reasoning_tokens, 48 * TEN_SECTIONS);

    // `show` says the same as `cast` did.
    let id = report["id"].as_i64().unwrap().to_string();
    let show = iching(home.path(), &["show", &id, "--format", "json"]).await;
    assert_eq!(show.code, Some(0), "{show}");
    for (a, b) in sections(&show.json()).iter().zip(sections(&report)) {
        for key in ["reasoning_tokens", "cached_tokens", "prompt_tokens"] {
            assert_eq!(a[key], b[key], "{key}");
        }
    }

    // `stats ID --wide`: the columns; `stats ID`: the cache and reasoning lines, and a cost
    // with cached input at its price.
    let wide = iching(home.path(), &["stats", &id, "--wide"]).await;
    assert_eq!(wide.code, Some(0), "{wide}");
    let header = wide
        .stdout
        .lines()
        .find(|l| l.contains("prompt tk"))
        .unwrap();
    assert!(
        header.contains("cached tk") && header.contains("reason tk"),
        "{wide}"
    );
    let table = iching(home.path(), &["stats", &id]).await;
    assert_eq!(table.code, Some(0), "{table}");
    assert!(
        table.stdout.contains(&format!(
            "{} of the completion tokens were spent reasoning",
            48 * TEN_SECTIONS
        )),
        "{table}"
    );
    assert!(
        table.stdout.contains(&format!(
            "{cached_sum} prompt tokens came from the provider's cache"
        )),
        "{table}"
    );
    assert!(!table.stdout.contains("failed attempts spent"), "{table}");
    let expected = ((prompt_sum - cached_sum) as f64 * 2.0
        + cached_sum as f64 * 0.5
        + completion_sum as f64 * 8.0)
        / 1e6;
    let cost: f64 = table
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("cost: $"))
        .unwrap_or_else(|| panic!("no cost line: {table}"))
        .trim()
        .parse()
        .unwrap();
    assert!(
        (cost - expected).abs() < 1e-6,
        "cost {cost}, expected {expected}"
    );
    let uncached = (prompt_sum as f64 * 2.0 + completion_sum as f64 * 8.0) / 1e6;
    assert!(cost < uncached - 1e-6, "cached input is cheaper");
    // The table says what the cache saved: the difference, to the printed precision.
    assert!(
        table
            .stdout
            .contains(&format!("which saved ${:.6}", uncached - expected)),
        "{table}"
    );

    let json_stats = iching(home.path(), &["stats", &id, "--json"]).await;
    let totals = &json_stats.json()["totals"];
    assert_eq!(totals["cached_tokens"], cached_sum);
    assert_eq!(totals["reasoning_tokens"], 48 * TEN_SECTIONS);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refusal_whose_body_comes_late_still_costs_only_one_extra_request() {
    // The 400's head comes at once, its body 300 ms later: the sections waiting behind the
    // first must not go out with the refused field before the refusal is read.
    let server = FakeOpenAi::start(ServerConfig {
        error_body_delay: Duration::from_millis(300),
        ..reasoning_server(16)
    });
    let home = tempfile::tempdir().unwrap();
    let url = server.base_url();
    let run = guard(120, iching(home.path(), &cast_args(&url, TEN, &[]))).await;
    assert_eq!(run.code, Some(0), "{run}");
    let requests = server.requests();
    let (refused, _) = split_refused(&requests);
    assert_eq!(
        refused.len(),
        1,
        "sections waiting behind the probe were sent with max_tokens while its refusal was \
         still being read ({} requests for {TEN_SECTIONS} sections)",
        requests.len()
    );
    assert_eq!(requests.len() as u64, TEN_SECTIONS + 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_budget_spent_on_reasoning_fails_saying_so_and_its_tokens_are_counted() {
    let server = FakeOpenAi::start(reasoning_server(1_000_000));
    let home = tempfile::tempdir().unwrap();
    let url = server.base_url();
    let run = guard(
        120,
        iching(
            home.path(),
            &cast_args(&url, SIX, &["--reasoning-effort", "high"]),
        ),
    )
    .await;
    assert_eq!(run.code, Some(3), "{run}");
    // (How many were refused first is pinned by the tests of the negotiation.)
    let requests = server.requests();
    let (_, answered) = split_refused(&requests);
    assert_eq!(answered.len() as u64, SIX_SECTIONS, "not retried");
    let budget = answered[0].body["max_completion_tokens"].as_u64().unwrap();
    let report = run.json();
    assert_eq!(complete_sections(&report), 0);
    let mut failed_sum = 0;
    for s in sections(&report) {
        let error = s["error"].as_str().unwrap_or_default();
        for words in [
            "reasoning",
            &format!("({budget} tokens)"),
            "raise max_tokens",
            "lower reasoning_effort (now high)",
        ] {
            assert!(error.contains(words), "{words:?} not in {error:?}");
        }
        assert_eq!(s["attempts"], 1);
        failed_sum += s["failed_tokens"].as_u64().expect("failed tokens kept");
    }
    // Every answered request spent its prompt and the whole budget.
    let expected: u64 = answered.iter().map(|r| r.prompt_tokens + budget).sum();
    assert_eq!(failed_sum, expected);

    let id = report["id"].as_i64().unwrap().to_string();
    let table = iching(home.path(), &["stats", &id]).await;
    assert!(
        table
            .stdout
            .contains(&format!("failed attempts spent {expected} tokens")),
        "{table}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_model_without_json_schema_steps_down_to_json_object_once() {
    let server = FakeOpenAi::start(ServerConfig {
        refuse_json_schema: true,
        require_json_word: true,
        ..ServerConfig::default()
    });
    let home = tempfile::tempdir().unwrap();
    let url = server.base_url();
    let run = guard(120, iching(home.path(), &cast_args(&url, TEN, &[]))).await;
    assert_eq!(run.code, Some(0), "{run}");
    assert_eq!(complete_sections(&run.json()), TEN_SECTIONS as usize);
    let requests = server.requests();
    assert_eq!(requests.len() as u64, TEN_SECTIONS + 1, "{run}");
    let (refused, answered) = split_refused(&requests);
    assert_eq!(refused.len(), 1);
    let first = &requests[0].body["response_format"];
    assert_eq!(first["type"], "json_schema");
    assert_eq!(first["json_schema"]["strict"], true);
    assert_eq!(
        first["json_schema"]["schema"]["additionalProperties"],
        false
    );
    for r in answered {
        assert_eq!(
            r.body["response_format"],
            json!({"type": "json_object"}),
            "the prompt says JSON, so json_object is taken"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn reasoning_effort_reaches_every_request() {
    let server = FakeOpenAi::start(reasoning_server(16));
    let home = tempfile::tempdir().unwrap();
    let url = server.base_url();
    let run = guard(
        120,
        iching(
            home.path(),
            &cast_args(&url, SIX, &["--reasoning-effort", "low"]),
        ),
    )
    .await;
    assert_eq!(run.code, Some(0), "{run}");
    let requests = server.requests();
    let (_, answered) = split_refused(&requests);
    assert_eq!(answered.len() as u64, SIX_SECTIONS);
    assert!(requests.iter().all(|r| r.body["reasoning_effort"] == "low"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_field_fixed_in_config_is_never_changed() {
    let server = FakeOpenAi::start(reasoning_server(16));
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        home.path().join("config.toml"),
        "token_limit_param = \"max_tokens\"\n",
    )
    .unwrap();
    let url = server.base_url();
    let run = guard(120, iching(home.path(), &cast_args(&url, SIX, &[]))).await;
    assert_eq!(run.code, Some(3), "{run}");
    let report = run.json();
    assert_eq!(report["status"], "failed");
    for s in sections(&report) {
        let error = s["error"].as_str().unwrap_or_default();
        assert!(error.contains("HTTP 400"), "{error}");
        assert!(error.contains("'max_tokens' is not supported"), "{error}");
        assert_eq!(s["attempts"], 1, "a 400 is not retried");
    }
    let requests = server.requests();
    assert_eq!(requests.len() as u64, SIX_SECTIONS, "one each, none resent");
    for r in &requests {
        assert!(r.body["max_tokens"].is_u64(), "{}", r.body);
        assert!(r.body.get("max_completion_tokens").is_none(), "{}", r.body);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_structured_mode_fixed_in_config_is_never_changed() {
    let server = FakeOpenAi::start(ServerConfig {
        refuse_json_schema: true,
        ..ServerConfig::default()
    });
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        home.path().join("config.toml"),
        "structured = \"json_schema\"\n",
    )
    .unwrap();
    let url = server.base_url();
    let run = guard(120, iching(home.path(), &cast_args(&url, SIX, &[]))).await;
    assert_eq!(run.code, Some(3), "{run}");
    for s in sections(&run.json()) {
        let error = s["error"].as_str().unwrap_or_default();
        assert!(error.contains("HTTP 400"), "{error}");
        assert!(error.contains("'json_schema' is not supported"), "{error}");
    }
    let requests = server.requests();
    assert_eq!(requests.len() as u64, SIX_SECTIONS, "one each, none resent");
    assert!(
        requests
            .iter()
            .all(|r| r.body["response_format"]["type"] == "json_schema")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_answer_cut_at_the_budget_after_some_text_is_reported_as_running_on() {
    // max_tokens 100, 90 of them spent reasoning: the answer is cut after about 40 characters.
    let server = FakeOpenAi::start(reasoning_server(90));
    let home = tempfile::tempdir().unwrap();
    std::fs::write(home.path().join("config.toml"), "max_tokens = 100\n").unwrap();
    let url = server.base_url();
    let run = guard(120, iching(home.path(), &cast_args(&url, SIX, &[]))).await;
    assert_eq!(run.code, Some(3), "{run}");
    let requests = server.requests();
    let (_, answered) = split_refused(&requests);
    assert_eq!(answered.len() as u64, SIX_SECTIONS, "not retried");
    assert!(
        answered
            .iter()
            .all(|r| r.body["max_completion_tokens"] == 100)
    );
    for s in sections(&run.json()) {
        let error = s["error"].as_str().unwrap_or_default();
        assert!(
            error.contains("ran on to the max_tokens limit (100)") && error.contains("looping"),
            "{error}"
        );
        assert!(!error.contains("reasoning ("), "{error}");
        assert!(s["paragraphs"].as_array().unwrap().is_empty());
    }
    let failed: u64 = sections(&run.json())
        .iter()
        .map(|s| s["failed_tokens"].as_u64().expect("failed tokens kept"))
        .sum();
    let expected: u64 = answered.iter().map(|r| r.prompt_tokens + 100).sum();
    assert_eq!(failed, expected);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hosted_preset_without_its_key_stops_before_any_request() {
    // Every request the app makes would go through this "proxy", so none can slip by unseen.
    let trap = FakeOpenAi::start(ServerConfig::default());
    let proxy = format!("http://{}", trap.addr());
    let proxies = [
        ("HTTPS_PROXY", proxy.as_str()),
        ("https_proxy", proxy.as_str()),
        ("HTTP_PROXY", proxy.as_str()),
        ("ALL_PROXY", proxy.as_str()),
    ];
    let home = tempfile::tempdir().unwrap();
    let args = [
        "cast",
        QUESTION,
        "--lines",
        SIX,
        "--provider",
        "openrouter",
        "--max-attempts",
        "1",
        "--first-token-timeout",
        "5",
    ];
    let run = guard(60, iching_env(home.path(), &args, &proxies)).await;
    assert_eq!(run.code, Some(2), "{run}");
    assert!(run.stderr.contains("OPENROUTER_API_KEY"), "{run}");
    assert!(!run.stderr.contains(KEY), "{run}");
    let seen = trap.stats();
    assert_eq!(seen.requests + seen.other_requests, 0, "{seen:?}");

    // The trap works: with the key, the request does go out, through it.
    let mut with_key = proxies.to_vec();
    with_key.push(("OPENROUTER_API_KEY", "sk-or-trap"));
    let run = guard(60, iching_env(home.path(), &args, &with_key)).await;
    assert_eq!(run.code, Some(3), "{run}");
    let seen = trap.stats();
    assert!(seen.requests + seen.other_requests > 0, "{seen:?}\n{run}");
}

#[tokio::test(flavor = "multi_thread")]
async fn garbage_answers_are_retried_then_fail_saying_what_came_back() {
    let server = FakeOpenAi::start(reasoning_server(8));
    let home = tempfile::tempdir().unwrap();
    let url = server.base_url();
    let cases = [
        (
            r#"{"response": ["<p>...</p>", "<p>...</p>"]}"#.to_owned(),
            "placeholders",
        ),
        (QUESTION.to_owned(), "echoed the question"),
        (
            format!("{{\"question\": \"{QUESTION}\"}}"),
            "echoed the question",
        ),
        (r#"["䷶"]"#.to_owned(), "placeholders or punctuation"),
        (
            r#"{"response": [":", ",", ": {", ":", ","]}"#.to_owned(),
            "punctuation",
        ),
    ];
    for (content, words) in cases {
        server.reset_stats();
        server.set_config(ServerConfig {
            default_fault: Fault::Content(content.clone()),
            ..reasoning_server(8)
        });
        let run = guard(
            120,
            iching(home.path(), &cast_args(&url, SIX, &["--max-attempts", "2"])),
        )
        .await;
        assert_eq!(run.code, Some(3), "{content}: {run}");
        let report = run.json();
        assert_eq!(report["status"], "failed", "{content}");
        assert_eq!(complete_sections(&report), 0, "{content}");
        for s in sections(&report) {
            let error = s["error"].as_str().unwrap_or_default();
            assert!(
                error.contains(words),
                "{content}: {words:?} not in {error:?}"
            );
            assert!(error.contains("gave up after 2 attempts"), "{error}");
            assert!(s["paragraphs"].as_array().unwrap().is_empty());
            assert!(s["failed_tokens"].as_u64().unwrap() > 0, "{s}");
        }
        // Retried once each (every cast is a new process, which learns max_completion_tokens
        // again: its refused requests are not counted here).
        let requests = server.requests();
        let (_, answered) = split_refused(&requests);
        assert_eq!(answered.len() as u64, 2 * SIX_SECTIONS, "{content}");
        let id = report["id"].as_i64().unwrap().to_string();
        let show = iching(home.path(), &["show", &id, "--format", "json"]).await;
        assert_eq!(complete_sections(&show.json()), 0, "{content}: {show}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn models_and_doctor_report_on_the_endpoint_and_say_how_to_fix_it() {
    guard(60, async {
        let server = FakeOpenAi::start(ServerConfig::default());
        let home = tempfile::tempdir().unwrap();
        let url = server.base_url();
        let endpoint = ["--provider", "openai", "--base-url", url.as_str()];

        let mut args = vec!["models", "--json"];
        args.extend(endpoint);
        let run = iching(home.path(), &args).await;
        assert_eq!(run.code, Some(0), "{run}");
        assert_eq!(run.json()["models"], json!(["gpt-fake"]), "{run}");

        // The model the endpoint offers: every check passes.
        let mut args = vec!["doctor", "--json", "--model", "gpt-fake"];
        args.extend(endpoint);
        let run = iching(home.path(), &args).await;
        assert_eq!(run.code, Some(0), "{run}");
        let v = run.json();
        assert_eq!(v["ok"], true, "{v}");
        let names: Vec<&str> = v["checks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["check"].as_str().unwrap())
            .collect();
        for name in [
            "provider",
            "reachable",
            "key",
            "model",
            "request",
            "token limit",
            "response_format",
            "stream_options",
            "reasoning_effort",
            "at once",
        ] {
            assert!(names.contains(&name), "{name}: {v}");
        }

        // A model it does not offer: that check fails, says what to pick, exit 1.
        let mut args = vec!["doctor", "--json", "--model", "no-such-model"];
        args.extend(endpoint);
        let run = iching(home.path(), &args).await;
        assert_eq!(run.code, Some(1), "{run}");
        let v = run.json();
        let model = v["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["check"] == "model")
            .unwrap();
        assert_eq!(model["ok"], false);
        assert!(
            model["fix"].as_str().unwrap().contains("gpt-fake"),
            "{model}"
        );

        // Nothing listening: not reachable, with a fix, exit 1, and no later check is tried.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dead = format!("http://127.0.0.1:{port}/v1");
        let run = iching(
            home.path(),
            &["doctor", "--provider", "openai", "--base-url", &dead],
        )
        .await;
        assert_eq!(run.code, Some(1), "{run}");
        assert!(run.stdout.contains("✗ reachable"), "{run}");
        assert!(run.stdout.contains("fix: start the server"), "{run}");
        assert!(!run.stdout.contains("request"), "{run}");

        // A hosted provider without its key: the key check fails first.
        let run = iching(
            home.path(),
            &["doctor", "--provider", "openrouter", "--json"],
        )
        .await;
        assert_eq!(run.code, Some(1), "{run}");
        let v = run.json();
        assert_eq!(v["checks"][0]["check"], "key");
        assert!(
            v["checks"][0]["detail"]
                .as_str()
                .unwrap()
                .contains("OPENROUTER_API_KEY")
        );

        // Offline there is nothing to check, and a reading works.
        let run = iching(home.path(), &["doctor", "--provider", "offline"]).await;
        assert_eq!(run.code, Some(0), "{run}");
        assert!(run.stdout.contains("A reading would work."), "{run}");
    })
    .await;
}
