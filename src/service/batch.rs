//! Many readings at once under one section limit (`iching batch`): the jobs run with the
//! configured engine, its slots shared by every reading and no text deltas (nobody watches them
//! stream in), each reading saved as its sections finish, then one retry pass for the failed
//! sections. The front end reads the file, shows the progress and sums up.

use std::sync::Arc;

use tokio::sync::{Semaphore, mpsc};
use tokio_util::sync::CancellationToken;

use crate::events::SectionEvent;
use crate::generate::{readings_in_flight, run_batch};
use crate::oracle::Reading;
use crate::orchestrator::Slots;
use crate::plan::plan;

pub use crate::generate::{BatchEvent, BatchJob, JobOutcome};

use super::{Service, ServiceError};

/// How many sections `job`'s reading plans: what its progress counts up to.
pub fn planned_sections(job: &BatchJob) -> usize {
    plan(&Reading::new(job.cast.clone())).len()
}

impl Service {
    /// Runs `jobs` with at most `concurrency` sections in flight across all of them, saving each
    /// reading as its sections finish; reports the readings' progress on `events` and their
    /// section events on `sections` (each sent before the [`BatchEvent`] that follows from it).
    /// Returns one outcome per job, in order.
    pub async fn batch(
        &self,
        jobs: Vec<BatchJob>,
        concurrency: usize,
        events: mpsc::UnboundedSender<BatchEvent>,
        sections: mpsc::UnboundedSender<SectionEvent>,
        cancel: CancellationToken,
    ) -> Result<Vec<JobOutcome>, ServiceError> {
        self.writable()?;
        let mut engine = self.engine()?;
        super::setup::pace(&mut engine);
        engine.slots = Slots::Shared(Arc::new(Semaphore::new(concurrency)));
        // Nobody watches the text stream in: skip the deltas at the source.
        engine.deltas = false;
        Ok(run_batch(
            &engine,
            &self.writer,
            jobs,
            readings_in_flight(concurrency),
            events,
            sections,
            cancel,
        )
        .await)
    }
}
