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
use crate::response::sanitize_inline;

pub use batch::{BatchEvent, BatchJob, JobOutcome, readings_in_flight, run_batch};
pub use saved::{
    SavedRun, cast_saved, create_saved, retry_saved, run_created, saved_report, stored_reading,
};

/// The longest question accepted, in characters.
pub const MAX_QUESTION_CHARS: usize = 2000;

/// What is wrong with a question.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuestionError {
    /// Nothing but whitespace.
    #[error("the question is empty: type what you want to ask the oracle")]
    Empty,
    /// Over the limit.
    #[error("the question is {0} characters long; keep it under {MAX_QUESTION_CHARS}")]
    TooLong(usize),
}

/// The longest situation (`--context`) accepted, in characters.
pub const MAX_CONTEXT_CHARS: usize = 4000;

/// Cleans the situation behind a question like the question itself; `None` when there is
/// none (nothing, or only whitespace); an error names the limit.
pub fn validate_context(raw: &str) -> Result<Option<String>, String> {
    let clean = sanitize_inline(raw)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let chars = clean.chars().count();
    if chars > MAX_CONTEXT_CHARS {
        return Err(format!(
            "the situation is {chars} characters long; keep it under {MAX_CONTEXT_CHARS}"
        ));
    }
    Ok((chars > 0).then_some(clean))
}

/// Cleans a question (control characters and escape sequences removed, whitespace collapsed)
/// and checks it is neither empty nor too long.
pub fn validate_question(raw: &str) -> Result<String, QuestionError> {
    let clean = sanitize_inline(raw)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let chars = clean.chars().count();
    if chars == 0 {
        Err(QuestionError::Empty)
    } else if chars > MAX_QUESTION_CHARS {
        Err(QuestionError::TooLong(chars))
    } else {
        Ok(clean)
    }
}

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
        let language: Option<Arc<str>> = self.language.as_deref().map(Arc::from);
        sections
            .iter()
            .map(|&section| {
                let mut request = SectionRequest::built(
                    reading.clone(),
                    query.clone(),
                    section,
                    messages_with(&self.prompts, reading, &data, section),
                    self.max_tokens,
                );
                request.language.clone_from(&language);
                request
            })
            .collect()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn questions_are_cleaned_and_checked() {
        assert_eq!(
            validate_question("  Will it  rain?\n"),
            Ok("Will it rain?".into())
        );
        assert_eq!(validate_question("   \t\n"), Err(QuestionError::Empty));
        assert_eq!(validate_question("\u{1b}[2J"), Err(QuestionError::Empty));
        assert_eq!(
            validate_question("a\u{1b}]0;pwned\u{7}b \u{202e}c"),
            Ok("ab c".into())
        );
        let long = "x".repeat(MAX_QUESTION_CHARS + 1);
        assert_eq!(
            validate_question(&long),
            Err(QuestionError::TooLong(MAX_QUESTION_CHARS + 1))
        );
        assert!(validate_question(&"豐".repeat(MAX_QUESTION_CHARS)).is_ok());
    }
}
