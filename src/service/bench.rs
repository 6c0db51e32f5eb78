//! The timed passes behind `iching bench`: N section-sized requests at the configured endpoint
//! through the real provider (SSE parsing, events, token counts), at most C in flight. A
//! [`Bench`] is prepared once from a [`Setup`]; each [`Bench::pass`] is timed from its first
//! request. The front end chooses the levels and turns the passes into figures.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinSet;

use crate::config::ProviderKind;
use crate::events::Progress;
use crate::llm::capacity::Initial;
use crate::llm::{Limiter, OpenAi, OpenAiConfig, Provider, SectionRequest};
use crate::model::Query;
use crate::oracle::{Cast, LineValue, Reading};
use crate::plan::plan;

use super::setup::openai_config;
use super::{ServiceError, Setup};

/// The endpoint to measure and the requests to send it.
pub struct Bench {
    provider: Arc<dyn Provider>,
    requests: Arc<Vec<SectionRequest>>,
    stream: bool,
}

/// One timed pass.
#[derive(Debug, Clone)]
pub struct Pass {
    /// From the first request sent to the last answer.
    pub wall: Duration,
    /// The successful requests' latencies, shortest first.
    pub latencies: Vec<Duration>,
    /// The failed requests by kind ("rate limited", "timed out", ...).
    pub failures: BTreeMap<String, usize>,
}

impl Bench {
    /// The endpoint `setup` names, asked for the sections of a sample reading; an offline setup
    /// has no endpoint to measure.
    pub fn new(setup: &Setup) -> Result<Self, ServiceError> {
        if setup.settings.provider != ProviderKind::OpenAi {
            return Err(ServiceError::BenchOffline);
        }
        // No probe goes ahead of the others: a pass is timed from its first request, as a bare
        // loop's is. (A refused field is still learned, by each request that meets the refusal.)
        let provider = OpenAi::new(
            OpenAiConfig {
                guess: false,
                // bench sets the number in flight itself, level by level, and learns nothing.
                capacity: Initial::Known(None),
                probe_props: false,
                memory: None,
                ..openai_config(&setup.dirs, &setup.settings)
            },
            Arc::new(Limiter::new(setup.settings.rpm, setup.settings.tpm)),
        )
        .map_err(ServiceError::Endpoint)?;
        Ok(Self {
            provider: Arc::new(provider),
            requests: Arc::new(sample_requests(setup)),
            stream: setup.settings.stream,
        })
    }

    /// Whether the answers stream (SSE) or come whole (JSON).
    pub fn stream(&self) -> bool {
        self.stream
    }

    /// Sends `n` requests, at most `concurrency` in flight, and times them.
    pub async fn pass(&self, n: usize, concurrency: usize) -> Pass {
        // Events go somewhere real, as in a reading: a task drains them.
        let (tx, mut rx) = mpsc::unbounded_channel();
        let drain = tokio::spawn(async move {
            let mut count = 0u64;
            while rx.recv().await.is_some() {
                count += 1;
            }
            count
        });
        let semaphore = Arc::new(Semaphore::new(concurrency));
        let start = Instant::now();
        let mut tasks = JoinSet::new();
        for i in 0..n {
            let (provider, requests, semaphore, tx) = (
                self.provider.clone(),
                self.requests.clone(),
                semaphore.clone(),
                tx.clone(),
            );
            tasks.spawn(async move {
                let _permit = semaphore.acquire_owned().await;
                let request = &requests[i % requests.len()];
                let progress = Progress::new(tx, None, request.section);
                let began = Instant::now();
                let result = provider.complete(request, &progress).await;
                (result.map_err(|e| e.kind.label()), began.elapsed())
            });
        }
        drop(tx);
        let mut latencies = Vec::with_capacity(n);
        let mut failures = BTreeMap::new();
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok((Ok(_), latency)) => latencies.push(latency),
                Ok((Err(kind), _)) => *failures.entry(kind.to_owned()).or_insert(0) += 1,
                Err(_) => *failures.entry("internal error".to_owned()).or_insert(0) += 1,
            }
        }
        let wall = start.elapsed();
        let _ = drain.await;
        latencies.sort_unstable();
        Pass {
            wall,
            latencies,
            failures,
        }
    }
}

/// The 15 section requests of a reading in which every line changes, cycled to make N.
#[allow(
    clippy::expect_used,
    reason = "6 and 9 are line values: a constant the type cannot express"
)]
fn sample_requests(setup: &Setup) -> Vec<SectionRequest> {
    let reading = Arc::new(Reading::new(Cast::manual(
        [9, 6, 9, 6, 9, 6].map(|v| LineValue::new(v).expect("6 and 9 are line values")),
    )));
    let query = Arc::new(Query::new("How should I approach the year ahead?"));
    setup.engine.requests(&reading, &query, &plan(&reading))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Overrides;

    #[test]
    fn an_offline_setup_has_no_endpoint_to_measure() {
        let home = tempfile::tempdir().unwrap();
        let setup = Setup::resolve(
            Some(home.path()),
            Overrides {
                provider: Some("offline".to_owned()),
                ..Overrides::default()
            },
        )
        .unwrap();
        let refused = Bench::new(&setup).err().unwrap();
        assert!(matches!(refused, ServiceError::BenchOffline), "{refused}");
        assert!(refused.is_usage());
        assert!(
            refused
                .to_string()
                .starts_with("bench measures an endpoint: give --base-url URL")
        );
    }
}
