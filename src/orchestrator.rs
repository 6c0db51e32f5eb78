//! The fan-out of one reading: every planned section in flight at once (a `JoinSet`, with a
//! `Semaphore` as the optional cap), one error boundary per section, `SectionEvent`s out.
//!
//! A section that errs or panics is reported as failed and never touches the others. A shutdown
//! signal (a `CancellationToken`) stops waiting sections and in-flight requests alike.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::events::{EventKind, Progress, SectionDone, SectionEvent, SectionFailure};
use crate::llm::{ErrorKind, Provider, ProviderError, SectionRequest};
use crate::model::ReadingId;
use crate::plan::Section;

/// How one section ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// It succeeded.
    Done(Box<SectionDone>),
    /// It failed for good.
    Failed(Box<SectionFailure>),
    /// The run was cancelled before it finished.
    Cancelled,
}

/// What became of every section of a run, in plan order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunSummary {
    /// (section, outcome) in plan order.
    pub outcomes: Vec<(Section, Outcome)>,
}

impl RunSummary {
    /// The sections that succeeded.
    pub fn succeeded(&self) -> Vec<Section> {
        self.filter(|o| matches!(o, Outcome::Done(_)))
    }
    /// The sections that failed, with their errors. (The program reads failures from the events
    /// and the store; the tests read them here.)
    #[cfg(test)]
    pub fn failed(&self) -> Vec<(Section, String)> {
        self.outcomes
            .iter()
            .filter_map(|(s, o)| match o {
                Outcome::Failed(f) => Some((*s, f.error.clone())),
                Outcome::Done(_) | Outcome::Cancelled => None,
            })
            .collect()
    }
    /// The sections cut short by cancellation.
    pub fn cancelled(&self) -> Vec<Section> {
        self.filter(|o| matches!(o, Outcome::Cancelled))
    }
    fn filter(&self, f: impl Fn(&Outcome) -> bool) -> Vec<Section> {
        self.outcomes
            .iter()
            .filter(|(_, o)| f(o))
            .map(|(s, _)| *s)
            .collect()
    }
}

/// Where a run's slots come from.
#[derive(Debug, Clone)]
pub enum Slots {
    /// Every section at once.
    Unlimited,
    /// At most this many of this run's sections at once.
    Cap(usize),
    /// A semaphore shared with other runs (batch: one cap across all readings).
    Shared(Arc<Semaphore>),
}

/// How a run's sections go out. The default reports text as it streams and sends every section
/// at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flow {
    /// Whether text deltas are reported (a batch shows none, so it skips them).
    pub deltas: bool,
    /// Send the first section alone and the rest once its first text arrives (or it ends), so
    /// the provider has the reading's shared prompt prefix cached for them.
    pub warm_cache: bool,
}

impl Default for Flow {
    fn default() -> Self {
        Self {
            deltas: true,
            warm_cache: false,
        }
    }
}

/// Runs every request of one reading (`reading` is its store id, `None` if it has none) as `flow`
/// says, and reports on `events`. Returns when every section has succeeded, failed or been
/// cancelled.
pub async fn run(
    provider: Arc<dyn Provider>,
    reading: Option<ReadingId>,
    requests: Vec<SectionRequest>,
    slots: Slots,
    events: mpsc::UnboundedSender<SectionEvent>,
    cancel: CancellationToken,
    flow: Flow,
) -> RunSummary {
    let deltas = flow.deltas;
    let warm = (flow.warm_cache && requests.len() > 1)
        .then(|| Arc::new(tokio::sync::watch::channel(false).0));
    let semaphore = match slots {
        Slots::Unlimited => Arc::new(Semaphore::new(requests.len().max(1))),
        Slots::Cap(n) => Arc::new(Semaphore::new(n.max(1))),
        Slots::Shared(s) => s,
    };
    let order: Vec<Section> = requests.iter().map(|r| r.section).collect();
    let mut tasks = JoinSet::new();
    let mut sections_by_task = HashMap::new();
    for (i, request) in requests.into_iter().enumerate() {
        let section = request.section;
        let progress = Progress::new(events.clone(), reading, section);
        let mut progress = if deltas {
            progress
        } else {
            progress.without_deltas()
        };
        let mut warming = Warming::None;
        if let Some(signal) = &warm {
            if i == 0 {
                progress = progress.with_first_text(signal.clone());
                warming = Warming::Leads(signal.clone());
            } else {
                warming = Warming::Follows(signal.subscribe());
            }
        }
        progress.send(EventKind::Queued);
        let handle = tasks.spawn(one_section(
            provider.clone(),
            request,
            progress,
            semaphore.clone(),
            cancel.clone(),
            warming,
        ));
        sections_by_task.insert(handle.id(), section);
    }
    let mut ends: HashMap<Section, Outcome> = HashMap::new();
    while let Some(joined) = tasks.join_next_with_id().await {
        match joined {
            Ok((_, (section, outcome))) => {
                ends.insert(section, outcome);
            }
            Err(e) => {
                // The section's own task panicked (or was aborted): its boundary turns it into a
                // failure of that section alone.
                let Some(&section) = sections_by_task.get(&e.id()) else {
                    continue;
                };
                let failure = SectionFailure {
                    error: "internal error (the task panicked)".to_owned(),
                    latency: std::time::Duration::ZERO,
                    attempts: 1,
                    kind: ErrorKind::Internal,
                    usage: None,
                };
                let _ = events.send(SectionEvent {
                    reading,
                    section,
                    kind: EventKind::Failed(Box::new(failure.clone())),
                });
                ends.insert(section, Outcome::Failed(Box::new(failure)));
            }
        }
    }
    RunSummary {
        outcomes: order
            .into_iter()
            .map(|s| (s, ends.remove(&s).unwrap_or(Outcome::Cancelled)))
            .collect(),
    }
}

/// A section's part in warming the provider's prompt cache.
enum Warming {
    /// Not warming.
    None,
    /// It goes first, and says when its first text arrived (or it ended).
    Leads(Arc<tokio::sync::watch::Sender<bool>>),
    /// It waits for the leader's first text.
    Follows(tokio::sync::watch::Receiver<bool>),
}

/// One section, from waiting for a slot to its last event.
async fn one_section(
    provider: Arc<dyn Provider>,
    request: SectionRequest,
    progress: Progress,
    semaphore: Arc<Semaphore>,
    cancel: CancellationToken,
    warming: Warming,
) -> (Section, Outcome) {
    let section = request.section;
    let leader = match warming {
        Warming::None => None,
        Warming::Leads(signal) => Some(signal),
        Warming::Follows(mut rx) => {
            tokio::select! {
                biased;
                () = cancel.cancelled() => return (section, Outcome::Cancelled),
                // A dropped leader (it panicked) lets everyone go too.
                _ = rx.wait_for(|started| *started) => {}
            }
            None
        }
    };
    let permit = tokio::select! {
        biased;
        () = cancel.cancelled() => return (section, Outcome::Cancelled),
        permit = semaphore.acquire_owned() => match permit {
            Ok(p) => p,
            Err(_) => return (section, Outcome::Cancelled),
        },
    };
    progress.send(EventKind::Started);
    let started = Instant::now();
    let result = tokio::select! {
        biased;
        () = cancel.cancelled() => return (section, Outcome::Cancelled),
        r = provider.complete(&request, &progress) => r,
    };
    if let Some(signal) = leader {
        // An answer without streamed text (or a failure) lets the others go too.
        signal.send_replace(true);
    }
    // Time the provider held the request back (the endpoint serving fewer at once) is queueing,
    // not the answer's latency.
    let latency = started.elapsed().saturating_sub(
        result
            .as_ref()
            .map_or(std::time::Duration::ZERO, |c| c.queued),
    );
    // The slot is for requests in flight: the next section's request goes out while this
    // answer's events are sent and it is stored.
    drop(permit);
    let outcome = match result.and_then(|c| {
        if c.paragraphs.is_empty() {
            Err(ProviderError {
                attempts: c.attempts,
                ..ProviderError::new(
                    ErrorKind::Malformed,
                    "the model's answer had no readable text",
                )
            })
        } else {
            Ok(SectionDone {
                raw: c.text,
                paragraphs: c.paragraphs,
                usage: c.usage,
                latency,
                ttft: c.ttft,
                model: c.model,
                attempts: c.attempts,
                failed_usage: c.failed_usage,
            })
        }
    }) {
        Ok(done) => {
            tracing::debug!(
                %section,
                latency_ms = done.latency.as_millis() as u64,
                tokens = done.usage.total(),
                attempts = done.attempts,
                "section done"
            );
            progress.send(EventKind::Finished(Box::new(done.clone())));
            Outcome::Done(Box::new(done))
        }
        Err(e) if e.kind == ErrorKind::Cancelled => Outcome::Cancelled,
        Err(e) => {
            tracing::warn!(%section, kind = e.kind.label(), attempts = e.attempts, "section failed");
            let failure = SectionFailure {
                error: e.to_string(),
                latency,
                attempts: e.attempts,
                kind: e.kind,
                usage: e.usage,
            };
            progress.send(EventKind::Failed(Box::new(failure.clone())));
            Outcome::Failed(Box::new(failure))
        }
    };
    (section, outcome)
}

#[cfg(test)]
mod tests;
