//! What the store's test modules share: a reading and a part to write.

use super::*;
use crate::events::UsageSource;
use crate::model::SectionStatus;

pub(super) fn new_reading(question: &str, primary: u8, resulting: Option<u8>) -> NewReading {
    NewReading {
        question: question.to_owned(),
        context: None,
        method: "manual".into(),
        lines: [9, 8, 7, 7, 6, 8],
        seed: None,
        primary,
        resulting,
        sections_planned: 10,
        provider: "offline".into(),
        model: "legge-1882".into(),
    }
}

pub(super) fn part(
    section_id: u8,
    status: SectionStatus,
    text: &str,
) -> (SectionFigures, PartText) {
    let complete = status == SectionStatus::Complete;
    (
        SectionFigures {
            section_id,
            status,
            attempts: 1,
            started_ms: Some(3),
            finished_ms: 40,
            latency_ms: 37,
            ttft_ms: complete.then_some(9),
            prompt_tokens: complete.then_some(100),
            completion_tokens: complete.then_some(50),
            usage: complete.then_some(UsageSource::Reported),
            model: complete.then(|| "m-1".to_owned()),
            updated_at: 0,
            reasoning_tokens: None,
            cached_tokens: None,
            failed_prompt_tokens: None,
            failed_completion_tokens: None,
            error_kind: None,
        },
        PartText {
            request: format!("[{{\"role\":\"user\",\"content\":\"{text} request\"}}]"),
            response: complete.then(|| format!("{text} raw")),
            paragraphs: complete.then(|| format!("[{{\"spans\":[{{\"text\":\"{text}\"}}]}}]")),
            error: (!complete).then(|| format!("{text} error")),
        },
    )
}
