//! Follow-up questions about a saved reading: the request (the reading's data, what its
//! sections said within a token budget, the conversation so far, the new question) and the run
//! of that one request through the same orchestrator as a section, so it has the same slots,
//! retries, limits and events.

use std::sync::Arc;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::Engine;
use crate::answer::to_plain_text;
use crate::events::{SectionDone, SectionEvent};
use crate::llm::{SectionRequest, tokens};
use crate::model::{Query, ReadingId, SectionStatus};
use crate::oracle::Reading;
use crate::orchestrator::Outcome;
use crate::plan::{ChatMessage, Section, reading_json};
use crate::report::ReadingReport;

/// The most tokens (as `llm::tokens` estimates them) that the reading's sections and the earlier follow-ups
/// may take in a follow-up's request; the oldest are left out first beyond it.
pub const FOLLOWUP_BUDGET_TOKENS: usize = 6_000;

/// An earlier follow-up of the same reading: its question and its answer as received.
#[derive(Debug, Clone)]
pub struct Turn {
    /// The question.
    pub question: String,
    /// The answer as the model sent it.
    pub answer: String,
}

/// A follow-up's request and what it left out.
#[derive(Debug, Clone)]
pub struct FollowupRequest {
    /// The request, ready to run.
    pub request: SectionRequest,
    /// How many of the reading's sections were left out for the budget.
    pub sections_left_out: usize,
    /// How many earlier follow-ups were left out for the budget.
    pub turns_left_out: usize,
}

/// How a follow-up ended.
#[derive(Debug)]
pub enum Answered {
    /// Answered.
    Done(Box<SectionDone>),
    /// The request failed for good: how.
    Failed(Box<crate::events::SectionFailure>),
    /// Cancelled before it was answered.
    Cancelled,
}

/// The request asking `question` about `report` (the reading `reading` with `query`), after the
/// `earlier` follow-ups. The messages begin as every section's do (the system prompt, then the
/// reading's data), so a provider's prompt cache serves that part again.
pub fn followup_request(
    engine: &Engine,
    reading: &Arc<Reading>,
    query: &Arc<Query>,
    report: &ReadingReport,
    earlier: &[Turn],
    question: &str,
) -> FollowupRequest {
    let data = reading_json(reading, query, engine.language.as_deref());
    // Each complete section as its title and plain text.
    let sections: Vec<(String, String)> = report
        .sections
        .iter()
        .filter(|s| s.status == SectionStatus::Complete)
        .map(|s| (s.title.clone(), to_plain_text(&s.paragraphs, None)))
        .collect();
    let cost = |a: &str, b: &str| tokens::count(a) as usize + tokens::count(b) as usize;
    let mut used: usize = sections.iter().map(|(t, x)| cost(t, x)).sum::<usize>()
        + earlier
            .iter()
            .map(|t| cost(&t.question, &t.answer))
            .sum::<usize>();
    // Oldest first: the reading's first sections, then the first follow-ups.
    let mut sections_left_out = 0;
    while used > FOLLOWUP_BUDGET_TOKENS && sections_left_out < sections.len() {
        let (t, x) = &sections[sections_left_out];
        used -= cost(t, x);
        sections_left_out += 1;
    }
    let mut turns_left_out = 0;
    while used > FOLLOWUP_BUDGET_TOKENS && turns_left_out < earlier.len() {
        let t = &earlier[turns_left_out];
        used -= cost(&t.question, &t.answer);
        turns_left_out += 1;
    }
    let kept: Vec<serde_json::Value> = sections[sections_left_out..]
        .iter()
        .map(|(title, text)| serde_json::json!({ "title": title, "text": text }))
        .collect();
    let said = serde_json::to_string_pretty(&kept).unwrap_or_default();
    let mut notes = Vec::new();
    if sections_left_out > 0 {
        notes.push(format!(
            "The first {sections_left_out} of the reading's {} sections are left out here to keep this request short.",
            sections.len()
        ));
    }
    if turns_left_out > 0 {
        notes.push(format!(
            "The first {turns_left_out} of {} earlier follow-up questions are left out here to keep this request short.",
            earlier.len()
        ));
    }
    if sections.is_empty() {
        notes.push("No section of the reading has been written yet.".to_owned());
    }
    let notes = if notes.is_empty() {
        String::new()
    } else {
        format!("\n\n{}", notes.join(" "))
    };
    let mut messages = vec![
        ChatMessage {
            role: "system".to_owned(),
            content: engine.prompts.system().trim_end().to_owned(),
        },
        ChatMessage {
            role: "user".to_owned(),
            content: format!(
                "The reading (JSON):\n{data}\n\n{}\n\nWhat the reading's sections said (JSON):\n{said}{notes}",
                engine.prompts.followup().trim_end()
            ),
        },
    ];
    for t in &earlier[turns_left_out..] {
        messages.push(ChatMessage {
            role: "user".to_owned(),
            content: format!("Follow-up question: {}", t.question),
        });
        messages.push(ChatMessage {
            role: "assistant".to_owned(),
            content: t.answer.clone(),
        });
    }
    messages.push(ChatMessage {
        role: "user".to_owned(),
        content: format!("Follow-up question: {question}"),
    });
    let mut request = SectionRequest::new(
        reading.clone(),
        query.clone(),
        Section::SynthesisAndGuidance,
        messages,
        engine.max_tokens,
    );
    request.language = engine.language.as_deref().map(Arc::from);
    request.followup = Some(Arc::from(question));
    FollowupRequest {
        request,
        sections_left_out,
        turns_left_out,
    }
}

/// Runs `request` (a follow-up of reading `id`) as a one-request run: text and progress go to
/// `events` as they arrive.
pub async fn run_followup(
    engine: &Engine,
    id: ReadingId,
    request: SectionRequest,
    events: mpsc::UnboundedSender<SectionEvent>,
    cancel: CancellationToken,
) -> Answered {
    let summary = engine.run_requests(id, vec![request], events, cancel).await;
    match summary.outcomes.into_iter().next().map(|(_, o)| o) {
        Some(Outcome::Done(done)) => Answered::Done(done),
        Some(Outcome::Failed(failure)) => Answered::Failed(failure),
        Some(Outcome::Cancelled) | None => Answered::Cancelled,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::answer::parse_response;
    use crate::oracle::Cast;
    use crate::plan::plan;

    fn engine() -> Engine {
        Engine {
            provider: Arc::new(crate::llm::Offline),
            prompts: crate::plan::Prompts::default(),
            slots: crate::orchestrator::Slots::Unlimited,
            max_tokens: 800,
            deltas: true,
            warm_cache: false,
            language: None,
        }
    }

    fn setup(section_words: usize) -> (Arc<Reading>, Arc<Query>, ReadingReport) {
        let reading = Arc::new(Reading::new(Cast::manual(
            Cast::parse_lines("9,8,7,7,6,8").unwrap(),
        )));
        let query = Arc::new(Query {
            question: "Should I move?".into(),
            context: None,
        });
        let mut report = ReadingReport::new(&reading, &query.question, &plan(&reading));
        for (i, s) in report.sections.iter_mut().enumerate() {
            s.status = SectionStatus::Complete;
            let body = format!("Section {i} says {}", "word ".repeat(section_words));
            s.paragraphs = parse_response(&serde_json::json!({ "response": [body] }).to_string());
        }
        (reading, query, report)
    }

    #[test]
    fn the_request_carries_the_reading_its_sections_the_conversation_and_the_question() {
        let (reading, query, report) = setup(20);
        let earlier = [Turn {
            question: "What of line 5?".into(),
            answer: r#"{"response":["<p>Line five answers.</p>"]}"#.into(),
        }];
        let f = followup_request(&engine(), &reading, &query, &report, &earlier, "And now?");
        assert_eq!((f.sections_left_out, f.turns_left_out), (0, 0));
        let m = f.request.messages();
        let roles: Vec<&str> = m.iter().map(|m| m.role.as_str()).collect();
        assert_eq!(roles, ["system", "user", "user", "assistant", "user"]);
        assert!(m[1].content.contains("\"question\": \"Should I move?\""));
        assert!(m[1].content.contains("Section 0 says"));
        assert!(
            m[1].content
                .contains(&format!("Section {} says", report.sections.len() - 1))
        );
        assert!(m[1].content.contains("follow-up question"));
        assert!(m[2].content.ends_with("What of line 5?"));
        assert!(m[3].content.contains("Line five answers."));
        assert_eq!(m[4].content, "Follow-up question: And now?");
        assert_eq!(f.request.followup.as_deref(), Some("And now?"));
    }

    #[test]
    fn over_the_budget_the_oldest_sections_go_first_and_the_request_says_so() {
        // Each section about 1,000 tokens: several must go.
        let (reading, query, report) = setup(1_000);
        let n = report.sections.len();
        let f = followup_request(&engine(), &reading, &query, &report, &[], "Why?");
        assert!(f.sections_left_out > 0 && f.sections_left_out < n, "{f:?}");
        let content = &f.request.messages()[1].content;
        assert!(!content.contains("Section 0 says"));
        assert!(content.contains(&format!("Section {} says", n - 1)));
        assert!(content.contains(&format!(
            "The first {} of the reading's {n} sections are left out",
            f.sections_left_out
        )));
        let kept: usize = f.request.messages()[1]
            .content
            .split("What the reading's sections said (JSON):")
            .nth(1)
            .map(|s| tokens::count(s) as usize)
            .unwrap();
        assert!(kept <= FOLLOWUP_BUDGET_TOKENS + 200, "{kept}");
    }

    #[tokio::test]
    async fn offline_answers_a_follow_up_from_the_lines_it_names() {
        let (reading, query, report) = setup(5);
        let e = engine();
        let f = followup_request(&e, &reading, &query, &report, &[], "What does line 3 say?");
        let (tx, _rx) = mpsc::unbounded_channel();
        let answered =
            run_followup(&e, ReadingId(1), f.request, tx, CancellationToken::new()).await;
        let Answered::Done(done) = answered else {
            panic!("{answered:?}")
        };
        let text = to_plain_text(&done.paragraphs, None);
        assert!(text.contains(reading.primary.line_text(3)), "{text}");
        assert!(
            text.contains("offline reader answers follow-up questions only"),
            "{text}"
        );
    }
}
