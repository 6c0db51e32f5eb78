//! Follow-up questions about a saved reading ([`crate::generate::followup`]): asked, answered
//! and saved sealed the moment the answer is complete.

use std::sync::Arc;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{Service, ServiceError, Stopped};
use crate::events::SectionEvent;
use crate::generate::followup::{Answered, Turn, followup_request, run_followup};
use crate::generate::{saved_report, stored_reading};
use crate::model::ReadingId;
use crate::model::clean_question;
use crate::report::FollowupReport;
use crate::store::claim::{Work, claim};
use crate::store::{Followup, FollowupFigures, NewFollowup, now_ms};

/// How asking a follow-up ended.
#[derive(Debug, Clone)]
pub enum Asked {
    /// Answered and saved.
    Answered(Box<FollowupReport>),
    /// Cancelled before the answer was complete: nothing was saved.
    Cancelled,
}

impl Service {
    /// Asks `question` about reading `id`: the answer streams to `events` as it arrives, and is
    /// saved (sealed, with its usage and timings) once complete. A failed or cancelled answer
    /// saves nothing.
    pub async fn ask(
        &self,
        id: ReadingId,
        question: &str,
        events: mpsc::UnboundedSender<SectionEvent>,
        cancel: CancellationToken,
    ) -> Result<Asked, ServiceError> {
        self.writable()?;
        let question = clean_question(question).map_err(ServiceError::FollowupQuery)?;
        let engine = self.engine()?;
        // Held until the answer is saved: a key change meanwhile is refused, saying so, and
        // one running now is waited for.
        let dir = self.dirs.data.clone();
        let _claim = tokio::task::spawn_blocking(move || claim(&dir, Work::Followup(id)))
            .await
            .map_err(|_| ServiceError::Stopped(Stopped::Followup))??;
        let (report, reading, query, earlier) = self
            .writer
            .call(move |s| {
                let report = saved_report(s, id)?;
                let reading = Arc::new(stored_reading(&s.reading(id)?)?);
                let query = Arc::new(s.query(id)?);
                let earlier: Vec<Turn> = s
                    .followups(id)?
                    .into_iter()
                    .map(|f| Turn {
                        question: f.question,
                        answer: f.answer,
                    })
                    .collect();
                Ok((report, reading, query, earlier))
            })
            .await?;
        let built = followup_request(&engine, &reading, &query, &report, &earlier, &question);
        let request_json = built.request.messages_json().get().to_owned();
        let asked_at = now_ms();
        let done = match run_followup(&engine, id, built.request, events, cancel).await {
            Answered::Done(done) => done,
            Answered::Failed(why) => return Err(ServiceError::FollowupUnanswered(why)),
            Answered::Cancelled => return Ok(Asked::Cancelled),
        };
        let meta = FollowupFigures {
            id: 0,
            asked_at,
            latency_ms: crate::report::millis(done.latency),
            ttft_ms: done.ttft.map(crate::report::millis),
            usage: done.usage,
            provider: engine.provider.info().name().to_owned(),
            model: done.model.clone(),
            left_out: u32::try_from(built.sections_left_out).unwrap_or(u32::MAX),
        };
        let new = NewFollowup {
            meta: meta.clone(),
            question: question.clone(),
            answer: done.raw.clone(),
            request: request_json,
        };
        let (n, number) = self
            .writer
            .call(move |s| {
                let n = s.add_followup(id, &new)?;
                // Its place among the reading's follow-ups as they are listed (by when each was
                // asked), read without opening the others: a damaged one costs no saved answer.
                Ok((n, s.followup_number(id, n)?))
            })
            .await?;
        Ok(Asked::Answered(Box::new(FollowupReport::numbered(
            Followup {
                meta: FollowupFigures { id: n, ..meta },
                question,
                answer: done.raw,
            },
            number,
        ))))
    }
}
