//! Many readings at once under one limit: every section of every reading shares one semaphore
//! (the engine's [`Slots::Shared`]), readings are opened only as slots can use them, each reading
//! is saved section by section through the one writer, and after the first pass one more pass
//! re-runs only the failed sections. Cancelling stops opening readings; those in flight settle as
//! cancelled, so every reading's stored state is true.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::{Engine, SavedRun, create_saved, retry_saved, run_created};
use crate::events::SectionEvent;
use crate::model::{Query, ReadingId};
use crate::oracle::{Cast, Reading};
use crate::report::ReadingStatus;
use crate::store::{StoreError, Writer};

/// One reading to make.
#[derive(Debug, Clone)]
pub struct BatchJob {
    /// Where it came from (a line number), for messages.
    pub line: usize,
    /// The question, already validated.
    pub question: String,
    /// The situation behind it, already validated.
    pub context: Option<String>,
    /// The cast.
    pub cast: Cast,
}

/// What the batch reports besides its readings' section events.
#[derive(Debug, Clone, PartialEq)]
pub enum BatchEvent {
    /// A pass over job `index` ended with `status`.
    Settled {
        /// Index into the jobs.
        index: usize,
        /// Store id.
        id: ReadingId,
        /// Stored status.
        status: ReadingStatus,
    },
    /// The retry pass starts for this many readings.
    RetryPass {
        /// Readings with failed sections.
        readings: usize,
    },
    /// A reading could not be stored.
    StoreFailed {
        /// Index into the jobs.
        index: usize,
        /// What went wrong.
        error: String,
    },
}

/// How one job ended.
#[derive(Debug, Clone, PartialEq)]
pub struct JobOutcome {
    /// Store id, once the reading was created.
    pub id: Option<ReadingId>,
    /// Stored status after the last pass that settled; `None` if it never did.
    pub status: Option<ReadingStatus>,
    /// The store failed while this reading was being made or retried (a `StoreFailed` event said
    /// why): what is stored of it may be less than what ran.
    pub unsaved: bool,
}

/// How one pass over a job ended.
enum PassEnd {
    /// Cancelled before the reading could be opened.
    NotOpened,
    /// Run and settled, with its stored status.
    Settled(ReadingId, ReadingStatus),
    /// The store failed; the reading's id if it had been created.
    StoreFailed(Option<ReadingId>),
}

/// Readings kept open so that `concurrency` section slots stay busy: every reading has at least
/// six sections, so C/2 readings queue three times the slots' worth while others finish and open.
pub fn readings_in_flight(concurrency: usize) -> usize {
    concurrency.div_ceil(2) + 2
}

/// Runs `jobs` with `engine` (whose slots should be shared), saving through `writer`, reporting
/// the readings' progress on `events` and their section events on `sections` (each sent before
/// the [`BatchEvent`] that follows from it). Returns one outcome per job, in order.
pub async fn run_batch(
    engine: &Engine,
    writer: &Writer,
    jobs: Vec<BatchJob>,
    open_readings: usize,
    events: mpsc::UnboundedSender<BatchEvent>,
    sections: mpsc::UnboundedSender<SectionEvent>,
    cancel: CancellationToken,
) -> Vec<JobOutcome> {
    let mut outcomes = vec![
        JobOutcome {
            id: None,
            status: None,
            unsaved: false,
        };
        jobs.len()
    ];
    let gate = Arc::new(Semaphore::new(open_readings.max(1)));

    let job_context = || JobContext {
        engine: engine.clone(),
        writer: writer.clone(),
        gate: gate.clone(),
        cancel: cancel.clone(),
        events: events.clone(),
        section_tx: sections.clone(),
    };

    // First pass.
    let mut tasks = JoinSet::new();
    for (index, job) in jobs.into_iter().enumerate() {
        let ctx = job_context();
        tasks.spawn(async move {
            let Some(_permit) = ctx.open().await else {
                return (index, PassEnd::NotOpened);
            };
            let reading = Arc::new(Reading::new(job.cast));
            let query = Arc::new(Query::with_context(job.question, job.context));
            let id = match create_saved(&ctx.engine, &ctx.writer, &reading, &query).await {
                Ok(id) => id,
                Err(e) => return ctx.settle(index, Err((None, e))),
            };
            let result = run_created(
                &ctx.engine,
                &ctx.writer,
                id,
                reading,
                query,
                ctx.section_tx.clone(),
                ctx.cancel.clone(),
            )
            .await;
            ctx.settle_run(index, id, result)
        });
    }
    collect(&mut tasks, &mut outcomes).await;

    // One more pass for the readings that have failed sections.
    let again: Vec<(usize, ReadingId)> = outcomes
        .iter()
        .enumerate()
        .filter_map(|(i, o)| match (o.id, o.status) {
            (Some(id), Some(ReadingStatus::Partial | ReadingStatus::Failed)) => Some((i, id)),
            _ => None,
        })
        .collect();
    if !again.is_empty() && !cancel.is_cancelled() {
        let _ = events.send(BatchEvent::RetryPass {
            readings: again.len(),
        });
        for (index, id) in again {
            let ctx = job_context();
            tasks.spawn(async move {
                let Some(_permit) = ctx.open().await else {
                    return (index, PassEnd::NotOpened);
                };
                let result = retry_saved(
                    &ctx.engine,
                    &ctx.writer,
                    id,
                    ctx.section_tx.clone(),
                    ctx.cancel.clone(),
                )
                .await;
                ctx.settle_run(index, id, result)
            });
        }
        collect(&mut tasks, &mut outcomes).await;
    }
    outcomes
}

/// What every job task needs.
struct JobContext {
    engine: Engine,
    writer: Writer,
    gate: Arc<Semaphore>,
    cancel: CancellationToken,
    events: mpsc::UnboundedSender<BatchEvent>,
    section_tx: mpsc::UnboundedSender<SectionEvent>,
}

impl JobContext {
    /// Waits for room to open a reading; `None` once the batch is cancelled.
    async fn open(&self) -> Option<OwnedSemaphorePermit> {
        tokio::select! {
            biased;
            () = self.cancel.cancelled() => None,
            permit = self.gate.clone().acquire_owned() => permit.ok(),
        }
    }

    /// [`Self::settle`] for a pass that ran reading `id`.
    fn settle_run(
        &self,
        index: usize,
        id: ReadingId,
        result: Result<SavedRun, StoreError>,
    ) -> (usize, PassEnd) {
        self.settle(
            index,
            result.map(|r| (id, r.status)).map_err(|e| (Some(id), e)),
        )
    }

    /// Reports how a pass over job `index` ended: settled as `(id, status)`, or a store error
    /// (with the reading's id when it had been created).
    fn settle(
        &self,
        index: usize,
        result: Result<(ReadingId, ReadingStatus), (Option<ReadingId>, StoreError)>,
    ) -> (usize, PassEnd) {
        match result {
            Ok((id, status)) => {
                let _ = self.events.send(BatchEvent::Settled { index, id, status });
                (index, PassEnd::Settled(id, status))
            }
            Err((id, e)) => {
                let _ = self.events.send(BatchEvent::StoreFailed {
                    index,
                    error: e.to_string(),
                });
                (index, PassEnd::StoreFailed(id))
            }
        }
    }
}

async fn collect(tasks: &mut JoinSet<(usize, PassEnd)>, outcomes: &mut [JobOutcome]) {
    while let Some(joined) = tasks.join_next().await {
        let Ok((index, end)) = joined else { continue };
        let outcome = &mut outcomes[index];
        match end {
            PassEnd::NotOpened => {}
            PassEnd::Settled(id, status) => {
                outcome.id = Some(id);
                outcome.status = Some(status);
            }
            PassEnd::StoreFailed(id) => {
                outcome.id = outcome.id.or(id);
                outcome.unsaved = true;
            }
        }
    }
}
