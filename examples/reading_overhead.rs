//! The overhead of one reading: wall time of a saved 15-section reading (plan, fan-out, parsing,
//! sealing, storing each section, settling) minus its slowest section, against the fake server
//! in-process with a fixed latency. Prints median, p95 and max over the runs.
//!
//! `cargo run --release --features examples --example reading_overhead -- [--runs 30] [--latency-ms 100]`
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test or tool fails by panicking"
)]

#[allow(dead_code)]
#[path = "../tests/support/fake_openai.rs"]
mod fake_openai;

use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use fake_openai::{FakeOpenAi, ServerConfig};
use iching::config::Secret;
use iching::events::EventKind;
use iching::generate::{Engine, cast_saved};
use iching::llm::{Limiter, OpenAi, OpenAiConfig};
use iching::oracle::{Cast, LineValue, Reading};
use iching::orchestrator::Slots;
use iching::plan::Prompts;
use iching::store::{Store, Unlock};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

#[derive(Parser)]
struct Args {
    /// Readings to time.
    #[arg(long, default_value_t = 30)]
    runs: usize,
    /// The server's latency.
    #[arg(long, default_value_t = 100)]
    latency_ms: u64,
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let server = FakeOpenAi::start(ServerConfig {
        latency: Duration::from_millis(args.latency_ms),
        record_requests: false,
        record_bodies: false,
        ..ServerConfig::default()
    });
    let provider = OpenAi::new(
        OpenAiConfig {
            api_key: Secret::new("sk-bench"),
            stream: true,
            read_timeout: Duration::from_secs(30),
            max_attempts: 1,
            ..OpenAiConfig::new(server.base_url(), "bench")
        },
        Arc::new(Limiter::new(None, None)),
    )
    .unwrap();
    let engine = Engine {
        provider: Arc::new(provider),
        prompts: Prompts::default(),
        slots: Slots::Unlimited,
        max_tokens: 1200,
        deltas: true,
        warm_cache: false,
        language: None,
    };
    let home = tempfile::tempdir().unwrap();
    let (writer, thread) = Store::open(home.path(), Unlock::default())
        .unwrap()
        .into_writer()
        .unwrap();
    let mut overheads = Vec::new();
    for run in 0..=args.runs {
        let reading = Arc::new(Reading::new(Cast::manual(
            [9, 6, 9, 6, 9, 6].map(|v| LineValue::new(v).unwrap()),
        )));
        let (tx, mut rx) = mpsc::unbounded_channel::<iching::events::SectionEvent>();
        let collect = tokio::spawn(async move {
            let mut slowest = Duration::ZERO;
            while let Some(e) = rx.recv().await {
                if let EventKind::Finished(done) = e.kind {
                    slowest = slowest.max(done.latency);
                }
            }
            slowest
        });
        let start = Instant::now();
        let saved = cast_saved(
            &engine,
            &writer,
            reading,
            Arc::new(iching::model::Query::new(
                "How should I approach the year ahead?",
            )),
            tx,
            CancellationToken::new(),
        )
        .await
        .unwrap();
        let wall = start.elapsed();
        let slowest = collect.await.unwrap();
        assert_eq!(saved.summary.succeeded().len(), 15);
        if run > 0 {
            // The first run warms the connection pool and the store.
            overheads.push(wall.saturating_sub(slowest));
        }
    }
    drop(writer);
    thread.join();
    overheads.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let p = |q: f64| {
        overheads[((q * overheads.len() as f64).ceil() as usize).clamp(1, overheads.len()) - 1]
    };
    println!(
        "reading overhead over {} runs of 15 sections at L={} ms: median {:.2} ms, p95 {:.2} ms, max {:.2} ms",
        overheads.len(),
        args.latency_ms,
        ms(p(0.5)),
        ms(p(0.95)),
        ms(*overheads.last().unwrap())
    );
}
