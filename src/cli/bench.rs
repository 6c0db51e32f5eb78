//! `iching bench`: the concurrency lesson as a tool. Fires N section-sized requests at the
//! configured endpoint through the real provider (SSE parsing, events, token counts), with at
//! most C in flight, and optionally one at a time, then reports wall time, speedup, latency
//! percentiles, throughput and failures by kind.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use serde::Serialize;

use super::{CliError, EndpointArgs, emit, round, setup};
use crate::service::{Bench, Pass};

/// Arguments of `bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// How many requests to send at each level.
    #[arg(long, default_value_t = 100, value_name = "N")]
    pub requests: usize,
    /// Most requests in flight; a list (1,5,10,25) runs one level each.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "16",
        value_name = "C[,C...]",
        value_parser = super::concurrency_range
    )]
    pub concurrency: Vec<usize>,
    /// Also send the requests one at a time, for the speedup.
    #[arg(long)]
    pub sequential: bool,
    /// Print one JSON object per level instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Every column in one table (p99, the sequential time, failures by kind), wider than 80
    /// columns.
    #[arg(long)]
    pub wide: bool,
    /// The endpoint's fixed latency in ms, if known (a test server's): adds the ideal
    /// ceil(N/C) x L and the efficiency against it.
    #[arg(long, value_name = "MS")]
    pub latency_ms: Option<f64>,
    #[command(flatten)]
    /// Which endpoint and how.
    pub endpoint: EndpointArgs,
}

/// One level's figures; the JSON fields are stable.
#[derive(Debug, Serialize)]
pub struct LevelReport {
    /// Requests sent.
    pub requests: usize,
    /// Most in flight.
    pub concurrency: usize,
    /// SSE or JSON.
    pub stream: bool,
    /// Wall time one at a time (null unless asked).
    pub sequential_wall_s: Option<f64>,
    /// Wall time with `concurrency` in flight.
    pub concurrent_wall_s: f64,
    /// Sequential wall over concurrent wall; without a sequential run, the sum of the
    /// requests' latencies over the concurrent wall.
    pub speedup: f64,
    /// Succeeded.
    pub ok: usize,
    /// Failed after all attempts.
    pub failed: usize,
    /// Median latency of the successful requests.
    pub p50_ms: f64,
    /// 95th percentile.
    pub p95_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Requests per second over the concurrent wall.
    pub req_per_s: f64,
    /// ceil(N/C) x L when `--latency-ms` was given.
    pub ideal_wall_s: Option<f64>,
    /// ideal / concurrent wall.
    pub efficiency: Option<f64>,
    /// Failures by kind ("rate limited", "timed out", ...).
    pub failures: BTreeMap<String, usize>,
}

/// Runs `bench`.
pub async fn run(home: Option<&Path>, args: BenchArgs) -> Result<ExitCode, CliError> {
    if args.requests == 0 {
        return Err(CliError::usage("--requests must be at least 1"));
    }
    if args.concurrency.is_empty() || args.concurrency.contains(&0) {
        return Err(CliError::usage(
            "--concurrency must be one or more numbers of at least 1, e.g. 1,5,10,25",
        ));
    }
    let bench = Bench::new(&setup(home, &args.endpoint)?)?;
    let stream = bench.stream();
    // One at a time is the same for every level: measure it once.
    let sequential = if args.sequential {
        if !args.json {
            eprintln!("bench: {} requests, one at a time ...", args.requests);
        }
        Some(bench.pass(args.requests, 1).await)
    } else {
        None
    };
    let mut reports = Vec::new();
    for &c in &args.concurrency {
        if !args.json {
            eprintln!(
                "bench: {} requests, {c} in flight, {} ...",
                args.requests,
                if stream { "streaming" } else { "JSON" }
            );
        }
        let concurrent = bench.pass(args.requests, c).await;
        reports.push(report(&args, c, stream, &concurrent, sequential.as_ref()));
    }
    if args.json {
        for r in &reports {
            emit(&super::json::to_json_line(r, "the figures")?);
        }
    } else {
        emit(&if args.wide {
            wide_table(&reports)
        } else {
            table(&reports)
        });
    }
    let failed: usize = reports.iter().map(|r| r.failed).sum();
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(3)
    })
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    ms(sorted[rank.clamp(1, sorted.len()) - 1])
}

fn ms(d: Duration) -> f64 {
    round(d.as_secs_f64() * 1000.0, 1)
}

fn report(
    args: &BenchArgs,
    c: usize,
    stream: bool,
    concurrent: &Pass,
    sequential: Option<&Pass>,
) -> LevelReport {
    let wall = concurrent.wall.as_secs_f64();
    let speedup = match sequential {
        Some(s) => s.wall.as_secs_f64() / wall,
        None => {
            concurrent
                .latencies
                .iter()
                .map(Duration::as_secs_f64)
                .sum::<f64>()
                / wall
        }
    };
    let ideal = args
        .latency_ms
        .map(|l| args.requests.div_ceil(c) as f64 * l / 1000.0);
    let failed = concurrent.failures.values().sum();
    LevelReport {
        requests: args.requests,
        concurrency: c,
        stream,
        sequential_wall_s: sequential.map(|s| round(s.wall.as_secs_f64(), 3)),
        concurrent_wall_s: round(wall, 3),
        speedup: round(speedup, 2),
        ok: concurrent.latencies.len(),
        failed,
        p50_ms: percentile(&concurrent.latencies, 50.0),
        p95_ms: percentile(&concurrent.latencies, 95.0),
        p99_ms: percentile(&concurrent.latencies, 99.0),
        req_per_s: round(args.requests as f64 / wall, 1),
        ideal_wall_s: ideal.map(|i| round(i, 3)),
        efficiency: ideal.map(|i| round(i / wall, 3)),
        failures: concurrent.failures.clone(),
    }
}

/// The levels as a table that fits 80 columns, one row each: what every level shares above
/// it, the failures by kind below.
fn table(reports: &[LevelReport]) -> String {
    let Some(first) = reports.first() else {
        return String::new();
    };
    let mut out = format!(
        "{} requests per level, {}{}\n",
        first.requests,
        if first.stream {
            "streamed (SSE)"
        } else {
            "JSON"
        },
        first
            .sequential_wall_s
            .map_or(String::new(), |s| format!("; one at a time: {s:.3} s"))
    );
    out.push_str(&format!(
        "{:>5} {:>9} {:>8} {:>6} {:>6} {:>8} {:>8} {:>8} {:>9}",
        "conc", "wall", "speedup", "ok", "failed", "p50 ms", "p95 ms", "req/s", "vs ideal"
    ));
    let mut failures = Vec::new();
    for r in reports {
        out.push_str(&format!(
            "\n{:>5} {:>8.3}s {:>7.2}x {:>6} {:>6} {:>8.1} {:>8.1} {:>8.1} {:>9}",
            r.concurrency,
            r.concurrent_wall_s,
            r.speedup,
            r.ok,
            r.failed,
            r.p50_ms,
            r.p95_ms,
            r.req_per_s,
            r.efficiency
                .map_or("-".to_owned(), |e| format!("{:.1}%", e * 100.0)),
        ));
        if !r.failures.is_empty() {
            let kinds: Vec<String> = r
                .failures
                .iter()
                .map(|(k, v)| format!("{k}: {v}"))
                .collect();
            failures.push(format!(
                "failures at {}: {}",
                r.concurrency,
                kinds.join(", ")
            ));
        }
    }
    for line in failures {
        out.push('\n');
        out.push_str(&line);
    }
    out
}

/// The levels as one wide table, every column.
fn wide_table(reports: &[LevelReport]) -> String {
    let mut out = format!(
        "{:>8} {:>5} {:>6} {:>11} {:>11} {:>8} {:>6} {:>6} {:>8} {:>8} {:>8} {:>8} {:>9}  failures",
        "requests",
        "conc",
        "stream",
        "sequential",
        "concurrent",
        "speedup",
        "ok",
        "failed",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "req/s",
        "vs ideal"
    );
    for r in reports {
        let failures = if r.failures.is_empty() {
            "-".to_owned()
        } else {
            r.failures
                .iter()
                .map(|(k, v)| format!("{k}: {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        out.push_str(&format!(
            "\n{:>8} {:>5} {:>6} {:>11} {:>10.3}s {:>7.2}x {:>6} {:>6} {:>8.1} {:>8.1} {:>8.1} {:>8.1} {:>9}  {failures}",
            r.requests,
            r.concurrency,
            if r.stream { "sse" } else { "json" },
            r.sequential_wall_s
                .map_or("-".to_owned(), |s| format!("{s:.3}s")),
            r.concurrent_wall_s,
            r.speedup,
            r.ok,
            r.failed,
            r.p50_ms,
            r.p95_ms,
            r.p99_ms,
            r.req_per_s,
            r.efficiency
                .map_or("-".to_owned(), |e| format!("{:.1}%", e * 100.0)),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let d: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&d, 50.0), 50.0);
        assert_eq!(percentile(&d, 95.0), 95.0);
        assert_eq!(percentile(&d, 99.0), 99.0);
        assert_eq!(percentile(&d[..1], 99.0), 1.0);
        assert_eq!(percentile(&[], 50.0), 0.0);
    }
}
