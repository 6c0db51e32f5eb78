//! One reading end to end — plan, fan out, fold the results — the single seam that every front
//! end calls, so the CLI and the TUI never repeat the flow. [`cast_saved`] and [`retry_saved`]
//! keep each section in the store the moment it lands ([`saved`]).

mod batch;
pub mod followup;
mod saved;

use crate::model::Query;
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::events::SectionEvent;
use crate::llm::{Provider, SectionRequest};
use crate::model::ReadingId;
use crate::oracle::Reading;
use crate::orchestrator::{self, RunSummary, Slots};
use crate::plan::{Prompts, ReadingData, Section, messages_with};

pub use batch::{BatchEvent, BatchJob, JobOutcome, readings_in_flight, run_batch};
pub use saved::{
    SavedRun, cast_saved, create_saved, retry_saved, run_created, saved_report, stored_reading,
};

/// What a reading runs with: the provider, the instructions and the concurrency.
#[derive(Clone)]
pub struct Engine {
    /// Who answers.
    pub provider: Arc<dyn Provider>,
    /// The instructions in use.
    pub prompts: Prompts,
    /// How many sections may be in flight.
    pub slots: Slots,
    /// `max_tokens` per section.
    pub max_tokens: u32,
    /// Whether text deltas are reported as they stream (false for batch, which shows none).
    pub deltas: bool,
    /// Send one section first and the rest once its first text arrives (`warm_cache`).
    pub warm_cache: bool,
    /// The language to write in (`language` in config.toml, `--language`); `None`: the
    /// question's own.
    pub language: Option<String>,
}

impl Engine {
    /// The requests for `sections` of `reading`.
    pub fn requests(
        &self,
        reading: &Arc<Reading>,
        query: &Arc<Query>,
        sections: &[Section],
    ) -> Vec<SectionRequest> {
        // The reading's JSON once: every section sends the same bytes.
        let data = ReadingData::new(&self.prompts, reading, query, self.language.as_deref());
        sections
            .iter()
            .map(|&section| self.built(reading, query, &data, section))
            .collect()
    }

    /// The request for one `section` of `reading`, built as a reading builds it.
    pub fn request(
        &self,
        reading: &Arc<Reading>,
        query: &Arc<Query>,
        section: Section,
    ) -> SectionRequest {
        let data = ReadingData::new(&self.prompts, reading, query, self.language.as_deref());
        self.built(reading, query, &data, section)
    }

    fn built(
        &self,
        reading: &Arc<Reading>,
        query: &Arc<Query>,
        data: &ReadingData,
        section: Section,
    ) -> SectionRequest {
        let mut request = SectionRequest::built(
            reading.clone(),
            query.clone(),
            section,
            messages_with(&self.prompts, reading, data, section),
            self.max_tokens,
        );
        request.language = self.language.as_deref().map(Arc::from);
        request
    }

    /// Runs already built `requests` (of store id `id`), reporting on `events`.
    pub async fn run_requests(
        &self,
        id: ReadingId,
        requests: Vec<SectionRequest>,
        events: mpsc::UnboundedSender<SectionEvent>,
        cancel: CancellationToken,
    ) -> RunSummary {
        let flow = orchestrator::Flow {
            deltas: self.deltas,
            warm_cache: self.warm_cache,
        };
        orchestrator::run(
            self.provider.clone(),
            Some(id),
            requests,
            self.slots.clone(),
            events,
            cancel,
            flow,
        )
        .await
    }
}
