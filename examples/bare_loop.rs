//! The baseline `iching bench` is held to: a bare reqwest loop with a semaphore that sends the
//! same section-sized requests and reads each body to the end without parsing anything.
//!
//! `cargo run --release --features examples --example bare_loop -- --base-url http://127.0.0.1:PORT/v1 --requests 4000 --concurrency 256 [--stream]`
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test or tool fails by panicking"
)]

use std::sync::Arc;
use std::time::Instant;

use clap::Parser;
use iching::oracle::{Cast, LineValue, Reading};
use iching::plan::{Prompts, build_messages, plan};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

#[derive(Parser)]
struct Args {
    /// The endpoint's base URL.
    #[arg(long)]
    base_url: String,
    /// Requests to send.
    #[arg(long, default_value_t = 4000)]
    requests: usize,
    /// Most in flight.
    #[arg(long, default_value_t = 256)]
    concurrency: usize,
    /// Ask for SSE (with usage), as `bench` does by default.
    #[arg(long)]
    stream: bool,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let reading = Reading::new(Cast::manual(
        [9, 6, 9, 6, 9, 6].map(|v| LineValue::new(v).unwrap()),
    ));
    let prompts = Prompts::default();
    let bodies: Arc<Vec<Vec<u8>>> = Arc::new(
        plan(&reading)
            .into_iter()
            .map(|section| {
                let query = iching::model::Query::new("How should I approach the year ahead?");
                let mut body = serde_json::json!({
                    "model": "gpt-4o-mini",
                    "messages": build_messages(&prompts, &reading, &query, section),
                    "max_tokens": 1200,
                    "stream": args.stream,
                });
                if args.stream {
                    body["stream_options"] = serde_json::json!({"include_usage": true});
                }
                serde_json::to_vec(&body).unwrap()
            })
            .collect(),
    );
    iching::llm::install_crypto();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(usize::MAX)
        .tcp_nodelay(true)
        .build()
        .unwrap();
    let url = format!("{}/chat/completions", args.base_url.trim_end_matches('/'));
    let semaphore = Arc::new(Semaphore::new(args.concurrency));
    let start = Instant::now();
    let mut tasks = JoinSet::new();
    for i in 0..args.requests {
        let (client, url, bodies, semaphore) = (
            client.clone(),
            url.clone(),
            bodies.clone(),
            semaphore.clone(),
        );
        tasks.spawn(async move {
            let _permit = semaphore.acquire_owned().await;
            let body = bodies[i % bodies.len()].clone();
            let response = client
                .post(url)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .ok()?;
            response.bytes().await.ok().map(|b| b.len())
        });
    }
    let mut ok = 0usize;
    while let Some(r) = tasks.join_next().await {
        ok += usize::from(matches!(r, Ok(Some(_))));
    }
    let wall = start.elapsed().as_secs_f64();
    if args.json {
        println!(
            "{}",
            serde_json::json!({"requests": args.requests, "concurrency": args.concurrency, "stream": args.stream, "wall_s": wall, "ok": ok})
        );
    } else {
        println!(
            "bare loop: {} requests, {} in flight, {}: {wall:.3} s, {ok} ok",
            args.requests,
            args.concurrency,
            if args.stream { "sse" } else { "json" }
        );
    }
}
