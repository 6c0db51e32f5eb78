//! Runs the fault-injecting fake OpenAI server from `tests/support/fake_openai.rs` for manual
//! testing and benchmarks.
//!
//! ```text
//! cargo run --release --features examples --example fake_openai -- --latency-ms 100 [--port 0] [--first-token-ms N]
//!     [--chunk-ms N] [--no-usage] [--quirks] [--fail-rate 0.0]
//! ```
//!
//! Prints `listening on http://127.0.0.1:PORT/v1` on stdout, serves until Ctrl-C, then prints
//! the counters on stderr. A single request can be given a fault with the header
//! `x-fake-fault: <name>[:arg]`, e.g. `rate-limited:500ms`, `status:503`, `drop-mid-stream`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test or tool fails by panicking"
)]

#[allow(dead_code)]
#[path = "../tests/support/fake_openai.rs"]
mod fake_openai;

use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use clap::Parser;
use fake_openai::{FakeOpenAi, Fault, OneSlot, Refuser, ServerConfig};

#[derive(Parser, Debug)]
#[command(about = "Fault-injecting fake OpenAI chat-completions server")]
struct Args {
    /// Address to bind.
    #[arg(long, default_value = "127.0.0.1")]
    host: IpAddr,
    /// Port to bind (0 = random).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Wait before the response head, in milliseconds.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// SSE: wait before the first delta, in milliseconds.
    #[arg(long, default_value_t = 0)]
    first_token_ms: u64,
    /// SSE: wait between deltas, in milliseconds.
    #[arg(long, default_value_t = 0)]
    chunk_ms: u64,
    /// Number of content deltas per answer.
    #[arg(long, default_value_t = 16)]
    chunks: usize,
    /// Never send usage.
    #[arg(long)]
    no_usage: bool,
    /// SSE quirks: `data:` without space, keep-alive comments, CRLF, split frames.
    #[arg(long)]
    quirks: bool,
    /// Probability of a random transient failure (429 retry-after-ms 100, 500, 503, drop).
    #[arg(long, default_value_t = 0.0)]
    fail_rate: f64,
    /// Omit the x-ratelimit-* headers.
    #[arg(long)]
    no_ratelimit_headers: bool,
    /// Record requests (headers and bodies) in memory; off by default for benchmarks.
    #[arg(long)]
    record: bool,
    /// Report cached prompt tokens as OpenAI does (identical prefixes of 1,024 tokens or more,
    /// in steps of 128).
    #[arg(long)]
    prompt_cache: bool,
    /// Every request gets this fault unless a header says otherwise (`huge:209715200`,
    /// `bare-done`, `no-head`, `status:500`, ...).
    #[arg(long, value_name = "NAME[:ARG]")]
    fault: Option<String>,
    /// Serve one request at a time and cut the running stream when another waits: `cut` (a bare
    /// `[DONE]`, as llama-cpp-python does) or `proxy` (a clean empty answer, as a gateway in front
    /// of it passes the cut on).
    #[arg(long, value_name = "cut|proxy")]
    one_slot: Option<String>,
    /// Answer `GET /props` with this many slots, as llama.cpp does.
    #[arg(long, value_name = "N")]
    props_slots: Option<u64>,
    /// Answer 503 "Loading model" on every endpoint for this long after starting.
    #[arg(long, value_name = "MS")]
    loading_ms: Option<u64>,
    /// Refuse a field as a kind of server does: `llama-cpp-python` (json_schema, 500),
    /// `fastapi` (json_schema, 422), `azure` (stream_options, 400).
    #[arg(long, value_name = "KIND")]
    refuse: Option<String>,
    /// A shared context with room for this many streams at once (llama.cpp's default).
    #[arg(long, value_name = "N")]
    room_for: Option<u64>,
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let config = ServerConfig {
        latency: Duration::from_millis(args.latency_ms),
        first_token_delay: Duration::from_millis(args.first_token_ms),
        inter_chunk_delay: Duration::from_millis(args.chunk_ms),
        chunks: args.chunks,
        send_usage: !args.no_usage,
        sse_quirks: args.quirks,
        fail_rate: args.fail_rate.clamp(0.0, 1.0),
        ratelimit_headers: !args.no_ratelimit_headers,
        record_requests: args.record,
        record_bodies: args.record,
        prompt_cache: args.prompt_cache,
        default_fault: match &args.fault {
            Some(f) => f.parse::<Fault>().map_err(std::io::Error::other)?,
            None => Fault::Ok,
        },
        one_slot: match args.one_slot.as_deref() {
            None => None,
            Some("cut") => Some(OneSlot::Cut),
            Some("proxy") => Some(OneSlot::CutAsEmpty),
            Some(other) => {
                return Err(std::io::Error::other(format!(
                    "--one-slot {other}: cut or proxy"
                )));
            }
        },
        props_slots: args.props_slots,
        loading_for: args.loading_ms.map(Duration::from_millis),
        refuser: match args.refuse.as_deref() {
            None => None,
            Some("llama-cpp-python") => Some(Refuser::LlamaCppPython),
            Some("fastapi") => Some(Refuser::FastApi),
            Some("azure") => Some(Refuser::Azure),
            Some(other) => {
                return Err(std::io::Error::other(format!(
                    "--refuse {other}: llama-cpp-python, fastapi or azure"
                )));
            }
        },
        room_for: args.room_for,
        ..ServerConfig::default()
    };
    let server = FakeOpenAi::start_on(config, SocketAddr::new(args.host, args.port))?;
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening on {}", server.base_url())?;
        out.flush()?;
    }
    tokio::signal::ctrl_c().await?;
    let stats = server.stats();
    eprintln!(
        "requests {} completed {} aborted {} in_flight {} peak_in_flight {} by_fault {:?} \
         prompt_tokens {} cached_tokens {} cut_streams {} refused {}",
        stats.requests,
        stats.completed,
        stats.aborted,
        stats.in_flight,
        stats.peak_in_flight,
        stats.by_fault,
        stats.prompt_tokens,
        stats.cached_tokens,
        stats.cut_streams,
        stats.refused
    );
    server.shutdown().await;
    Ok(())
}
