//! A reading as a report: its facts, its status and every section's text and figures, in the one
//! shape that `cast --format json` and `show --format json` print, plus text, Markdown and HTML
//! ([`to_html_page`]) renderings.

mod html;
mod original;
pub mod patterns;

use serde::{Deserialize, Serialize};

use std::time::Duration;

use crate::answer::{Paragraph, markdown_text, sanitize_inline, to_markdown, to_plain_text};
use crate::events::{SectionDone, SectionFailure, UsageSource, tokens_per_sec};
use crate::model::{ErrorKind, ReadingId};
use crate::oracle::{Hexagram, Reading};
use crate::plan::Section;
use crate::when::{Stamp, zone_name};

pub use crate::model::{ReadingStatus, SectionStatus, status_of};
pub use html::{journal_page, to_html_page};
pub use original::{LineText, OriginalText};

/// A hexagram as reports show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HexagramSummary {
    /// King Wen number.
    pub number: u8,
    /// Pinyin name.
    pub name: String,
    /// Chinese name, in simplified characters (the script of the classical text).
    pub chinese: String,
    /// Chinese name, in traditional characters.
    pub traditional: String,
    /// English gloss.
    pub english: String,
    /// Unicode symbol.
    pub symbol: String,
    /// Upper trigram (pinyin name).
    pub upper: String,
    /// Lower trigram (pinyin name).
    pub lower: String,
}

impl From<&Hexagram> for HexagramSummary {
    fn from(h: &Hexagram) -> Self {
        Self {
            number: h.number,
            name: h.name_pinyin.clone(),
            chinese: h.simplified().to_owned(),
            traditional: h.name_chinese.clone(),
            english: h.name_english.clone(),
            symbol: h.symbol.clone(),
            upper: h.upper().name_pinyin.clone(),
            lower: h.lower().name_pinyin.clone(),
        }
    }
}

/// One section of a report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SectionReport {
    /// Slot 1..=18.
    pub id: u8,
    /// Contract name.
    pub name: String,
    /// Title for people.
    pub title: String,
    /// Its state.
    pub status: SectionStatus,
    /// Milliseconds from dispatch to the end.
    pub latency_ms: Option<u64>,
    /// Milliseconds to the first token.
    pub ttft_ms: Option<u64>,
    /// Tokens sent, when counted.
    pub prompt_tokens: Option<u32>,
    /// Tokens received, reasoning included, when counted.
    pub completion_tokens: Option<u32>,
    /// Prompt plus completion.
    pub total_tokens: Option<u32>,
    /// Of the completion tokens, those spent reasoning.
    #[serde(default)]
    pub reasoning_tokens: Option<u32>,
    /// Of the prompt tokens, those served from the provider's cache.
    #[serde(default)]
    pub cached_tokens: Option<u32>,
    /// Tokens spent by failed attempts (billed too).
    #[serde(default)]
    pub failed_tokens: Option<u32>,
    /// Those tokens split as the price table needs them.
    #[serde(skip)]
    pub failed_usage: Option<crate::events::Usage>,
    /// Completion tokens per second.
    pub tokens_per_sec: Option<f64>,
    /// Where the counts came from.
    pub usage: Option<UsageSource>,
    /// The model that answered.
    pub model: Option<String>,
    /// Attempts made.
    pub attempts: u32,
    /// Why it failed.
    pub error: Option<String>,
    /// What kind of failure (`timeout`, `rate_limited`, ...), for a failed section.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub error_kind: Option<ErrorKind>,
    /// The text.
    pub paragraphs: Vec<Paragraph>,
}

impl SectionReport {
    /// Every token billed for this section: the answer and the failed attempts.
    pub fn billed(&self) -> Option<crate::events::Usage> {
        let answer = self
            .prompt_tokens
            .zip(self.completion_tokens)
            .map(|(p, c)| crate::events::Usage {
                reasoning_tokens: self.reasoning_tokens.unwrap_or(0),
                cached_tokens: self.cached_tokens.unwrap_or(0),
                source: self.usage.unwrap_or(UsageSource::Estimated),
                ..crate::events::Usage::reported(p, c)
            });
        crate::events::billed(answer, self.failed_usage)
    }

    /// A section not yet run.
    pub fn pending(section: Section) -> Self {
        Self {
            id: section.id(),
            name: section.name(),
            title: section.title(),
            status: SectionStatus::Pending,
            latency_ms: None,
            ttft_ms: None,
            prompt_tokens: None,
            completion_tokens: None,
            total_tokens: None,
            reasoning_tokens: None,
            cached_tokens: None,
            failed_tokens: None,
            failed_usage: None,
            tokens_per_sec: None,
            usage: None,
            model: None,
            attempts: 0,
            error: None,
            error_kind: None,
            paragraphs: Vec::new(),
        }
    }

    /// Takes in a finished section's text and figures.
    pub fn finish(&mut self, done: &SectionDone) {
        let latency_ms = millis(done.latency);
        self.status = SectionStatus::Complete;
        self.latency_ms = Some(latency_ms);
        self.ttft_ms = done.ttft.map(millis);
        self.prompt_tokens = Some(done.usage.prompt_tokens);
        self.completion_tokens = Some(done.usage.completion_tokens);
        self.total_tokens = Some(done.usage.total());
        // From the whole milliseconds, as a saved report has them: both say the same rate.
        self.tokens_per_sec = Some(rate(done.usage.completion_tokens, latency_ms));
        self.usage = Some(done.usage.source);
        self.model = Some(done.model.clone());
        self.attempts = done.attempts;
        self.error = None;
        self.error_kind = None;
        self.paragraphs.clone_from(&done.paragraphs);
    }

    /// Takes in a section that failed for good.
    pub fn fail(&mut self, failure: &SectionFailure) {
        self.status = SectionStatus::Failed;
        self.latency_ms = Some(millis(failure.latency));
        self.attempts = failure.attempts;
        self.error = Some(failure.error.clone());
        self.error_kind = Some(failure.kind);
    }
}

/// A whole reading.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReadingReport {
    /// Its id in the store.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<ReadingId>,
    /// When it was cast (RFC 3339 with the local offset in JSON).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_at: Option<Stamp>,
    /// The question.
    pub question: String,
    /// The situation behind the question, when one was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
    /// coins, yarrow or manual.
    pub method: String,
    /// The six values, bottom first.
    pub lines: [u8; 6],
    /// The RNG seed, when one was used.
    pub seed: Option<u64>,
    /// The hexagram as cast.
    pub primary: HexagramSummary,
    /// The hexagram after the changes.
    pub resulting: Option<HexagramSummary>,
    /// The nuclear hexagram.
    pub nuclear: HexagramSummary,
    /// Changing line positions.
    pub changing_lines: Vec<u8>,
    /// Zhu Xi's rule, in words.
    pub reading_rule: String,
    /// Its state.
    pub status: ReadingStatus,
    /// Every planned section, in order.
    pub sections: Vec<SectionReport>,
    /// The journal: notes and outcomes, oldest first.
    #[serde(default)]
    pub notes: Vec<NoteReport>,
    /// Follow-up questions asked about the reading and their answers, oldest first.
    #[serde(default)]
    pub followups: Vec<FollowupReport>,
    /// The classical Chinese the reading turns on: the primary hexagram's judgment and
    /// changing lines, the resulting hexagram's judgment.
    #[serde(default)]
    pub chinese: OriginalText,
}

/// One follow-up question and its answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FollowupReport {
    /// Its number among the reading's follow-ups, oldest first (1 is the reading's first).
    pub number: usize,
    /// When it was asked (RFC 3339 with the local offset in JSON).
    pub asked_at: Stamp,
    /// The question.
    pub question: String,
    /// The answer as plain text, paragraphs separated by a blank line.
    pub answer: String,
    /// The answer, parsed and sanitised.
    pub paragraphs: Vec<Paragraph>,
    /// Token counts of the answer.
    pub usage: crate::events::Usage,
    /// From sending the request to the end of the answer.
    pub latency_ms: u64,
    /// Time to first token.
    pub ttft_ms: Option<u64>,
    /// `offline` or `openai`.
    pub provider: String,
    /// The model that answered.
    pub model: String,
    /// How many of the reading's sections the request left out to stay within its budget.
    pub sections_left_out: u32,
}

impl FollowupReport {
    /// Saved follow-up `f`, number `number` of its reading, as shown: its answer parsed (and
    /// sanitised) from what the model sent.
    pub fn numbered(f: crate::store::Followup, number: usize) -> Self {
        let paragraphs = crate::answer::parse_response(&f.answer);
        Self {
            number,
            asked_at: Stamp::at(f.meta.asked_at),
            question: f.question,
            answer: to_plain_text(&paragraphs, None),
            paragraphs,
            usage: f.meta.usage,
            latency_ms: f.meta.latency_ms,
            ttft_ms: f.meta.ttft_ms,
            provider: f.meta.provider,
            model: f.meta.model,
            sections_left_out: f.meta.left_out,
        }
    }
}

/// One note of the journal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoteReport {
    /// Its number among the reading's notes, oldest first (what `iching note ID --edit N`
    /// and `--delete N` take).
    pub number: usize,
    /// When it was written (RFC 3339 with the local offset in JSON).
    pub at: Stamp,
    /// `note` (what you make of it) or `outcome` (how it turned out).
    pub kind: crate::model::NoteKind,
    /// What it says.
    pub text: String,
}

impl ReadingReport {
    /// A report of `reading` with `sections` planned and none run.
    pub fn new(reading: &Reading, question: &str, sections: &[Section]) -> Self {
        Self {
            id: None,
            created_at: None,
            question: question.to_owned(),
            context: None,
            method: reading.cast.method.as_str().to_owned(),
            lines: reading.values(),
            seed: reading.cast.seed,
            primary: reading.primary.into(),
            resulting: reading.resulting.map(Into::into),
            nuclear: reading.nuclear.into(),
            changing_lines: reading.changing_lines(),
            reading_rule: reading.rule().summary,
            status: ReadingStatus::Running,
            sections: sections
                .iter()
                .map(|&s| SectionReport::pending(s))
                .collect(),
            notes: Vec::new(),
            followups: Vec::new(),
            chinese: OriginalText::of(reading),
        }
    }

    /// Sum of total tokens over finished sections.
    pub fn total_tokens(&self) -> u64 {
        self.sections
            .iter()
            .filter_map(|s| s.total_tokens)
            .map(u64::from)
            .sum()
    }

    /// Sections complete.
    pub fn sections_done(&self) -> usize {
        self.sections
            .iter()
            .filter(|s| s.status == SectionStatus::Complete)
            .count()
    }
}

/// Whole milliseconds of `d` (saturating).
pub fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// [`tokens_per_sec`] of stored figures (completion tokens, latency in milliseconds).
pub fn rate(tokens: u32, latency_ms: u64) -> f64 {
    tokens_per_sec(u64::from(tokens), Duration::from_millis(latency_ms))
}

/// The six lines of a hexagram drawn top to bottom, yang `━━━━━━━`, yin `━━━ ━━━`, with changing
/// lines marked `o` (old yang, 9) or `x` (old yin, 6).
pub fn figure(lines: &[u8; 6], after_change: bool) -> Vec<String> {
    lines
        .iter()
        .rev()
        .map(|&v| {
            let changing = v == 6 || v == 9;
            let yang = (v % 2 == 1) != (after_change && changing);
            let bar = if yang {
                "━━━━━━━"
            } else {
                "━━━ ━━━"
            };
            let mark = match (after_change, v) {
                (false, 9) => " o",
                (false, 6) => " x",
                _ => "  ",
            };
            format!("{bar}{mark}")
        })
        .collect()
}

fn heading(h: &HexagramSummary) -> String {
    format!(
        "{} {} {} {} ({}), {} over {}",
        h.symbol, h.number, h.name, h.chinese, h.english, h.upper, h.lower
    )
}

/// `label` and `text` wrapped at `width`, continuation lines indented under the text.
fn wrap_labelled(label: &str, text: &str, width: usize) -> String {
    let indent = " ".repeat(label.chars().count());
    let room = width.saturating_sub(indent.len()).max(20);
    let mut out = String::new();
    for (i, line) in crate::text::wrap(text, room).iter().enumerate() {
        out.push_str(if i == 0 { label } else { &indent });
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// A sentence as it reads after a label ("Rule: three lines change, so..."): its first letter
/// in lower case.
pub fn after_label(sentence: &str) -> String {
    let mut chars = sentence.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_lowercase().chain(chars).collect()
    })
}

/// When a reading was cast, for its heading: the local time and the zone it is in
/// (`2026-12-08 09:05 Europe/Paris`), so a reading read later, or elsewhere, says whose clock.
pub fn cast_time(at: Stamp) -> String {
    format!("{} {}", at.shown(), zone_name())
}

/// The report as plain text, wrapped at `width`.
pub fn to_text(r: &ReadingReport, width: usize) -> String {
    let mut out = String::new();
    out.push_str(&format!("Question: {}\n", sanitize_inline(&r.question)));
    if let Some(context) = &r.context {
        out.push_str(&wrap_labelled(
            "Situation: ",
            &sanitize_inline(context),
            width,
        ));
    }
    if let Some(at) = r.created_at {
        out.push_str(&format!("Cast: {}\n", cast_time(at)));
    }
    out.push('\n');
    let primary = figure(&r.lines, false);
    let resulting = r.resulting.as_ref().map(|_| figure(&r.lines, true));
    for (i, row) in primary.iter().enumerate() {
        let line = match &resulting {
            Some(res) => format!("  {row}      {}", res[i]),
            None => format!("  {row}"),
        };
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out.push('\n');
    out.push_str(&format!("{}\n", heading(&r.primary)));
    if let Some(res) = &r.resulting {
        out.push_str(&format!(
            "  changing line{} {} -> {}\n",
            if r.changing_lines.len() == 1 { "" } else { "s" },
            join(&r.changing_lines),
            heading(res)
        ));
    }
    out.push_str(&format!("Nuclear: {}\n", heading(&r.nuclear)));
    out.push_str(&format!("Rule: {}\n", after_label(&r.reading_rule)));
    for s in &r.sections {
        out.push_str(&format!("\n== {} ==\n", s.title));
        match s.status {
            SectionStatus::Complete => {
                out.push_str(&to_plain_text(&s.paragraphs, Some(width)));
                out.push('\n');
            }
            SectionStatus::Failed => out.push_str(&format!(
                "(failed: {})\n",
                sanitize_inline(s.error.as_deref().unwrap_or("unknown error"))
            )),
            SectionStatus::Cancelled => out.push_str("(cancelled)\n"),
            SectionStatus::Pending => out.push_str("(not generated)\n"),
        }
    }
    if !r.followups.is_empty() {
        out.push_str("\n== Follow-up questions ==\n");
        for f in &r.followups {
            out.push_str(&format!(
                "\n{} · {}\n",
                f.asked_at.shown(),
                sanitize_inline(&f.model)
            ));
            out.push_str(&wrap_labelled("Q: ", &sanitize_inline(&f.question), width));
            out.push('\n');
            out.push_str(&to_plain_text(&f.paragraphs, Some(width)));
            out.push('\n');
        }
    }
    out.push_str(&r.chinese.to_text(width));
    if !r.notes.is_empty() {
        out.push_str("\n== Journal ==\n");
        for n in &r.notes {
            out.push_str(&format!("\n{} · {}\n", n.at.shown(), n.kind.as_str()));
            for line in n.text.lines() {
                out.push_str(&wrap_labelled("  ", &sanitize_inline(line), width));
            }
        }
    }
    out
}

/// The journal as one Markdown document: a title, then every reading of `rs` in the order given
/// (newest first) as its own export has it, each heading one level down, escaped alike.
pub fn journal_markdown(rs: &[ReadingReport]) -> String {
    let mut out = format!(
        "# I Ching journal\n\n{} reading{}, newest first.\n",
        rs.len(),
        if rs.len() == 1 { "" } else { "s" }
    );
    for r in rs {
        out.push_str("\n---\n\n");
        let mut fenced = false;
        for line in to_markdown_doc(r).lines() {
            if line.starts_with("```") {
                fenced = !fenced;
            }
            // Only headings start with `#`: every text in the document is escaped.
            if !fenced && line.starts_with('#') {
                out.push('#');
            }
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// The report as Markdown. Every text that is not a section's paragraphs (escaped by
/// [`to_markdown`]) goes through [`markdown_text`], its own constants included, so that nothing
/// in it can start a block, a link, an image or HTML.
pub fn to_markdown_doc(r: &ReadingReport) -> String {
    let mut out = format!("# {}\n\n", markdown_text(&r.question));
    if let Some(context) = &r.context {
        out.push_str(&format!("*Situation:* {}\n\n", markdown_text(context)));
    }
    out.push_str("```\n");
    let primary = figure(&r.lines, false);
    let resulting = r.resulting.as_ref().map(|_| figure(&r.lines, true));
    for (i, row) in primary.iter().enumerate() {
        let line = match &resulting {
            Some(res) => format!("{row}      {}", res[i]),
            None => row.clone(),
        };
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out.push_str("```\n\n");
    let md_heading = |h: &HexagramSummary| markdown_text(&heading(h));
    out.push_str(&format!("**{}**\\\n", md_heading(&r.primary)));
    if let Some(res) = &r.resulting {
        out.push_str(&format!(
            "changing {} → **{}**\\\n",
            join(&r.changing_lines),
            md_heading(res)
        ));
    }
    out.push_str(&format!("nuclear: {}\\\n", md_heading(&r.nuclear)));
    if let Some(at) = r.created_at {
        out.push_str(&format!("cast {}, ", markdown_text(&cast_time(at))));
    }
    out.push_str(&format!(
        "method: {}, lines {} (bottom first), status: {}\n\n",
        markdown_text(&r.method),
        join(&r.lines),
        r.status.as_str()
    ));
    out.push_str(&format!("> {}\n", markdown_text(&r.reading_rule)));
    for s in &r.sections {
        out.push_str(&format!("\n## {}\n\n", markdown_text(&s.title)));
        match s.status {
            SectionStatus::Complete => out.push_str(&to_markdown(&s.paragraphs)),
            SectionStatus::Failed => {
                // Emphasis around nothing would show its asterisks.
                let why = markdown_text(s.error.as_deref().unwrap_or_default());
                let why = if why.is_empty() {
                    "unknown error"
                } else {
                    &why
                };
                out.push_str(&format!("*Failed: {why}*"));
            }
            SectionStatus::Cancelled => out.push_str("*Cancelled.*"),
            SectionStatus::Pending => out.push_str("*Not generated.*"),
        }
        out.push('\n');
    }
    if !r.followups.is_empty() {
        out.push_str("\n## Follow-up questions\n");
        for f in &r.followups {
            out.push_str(&format!(
                "\n### {}\n\n*{} · {}*\n\n",
                markdown_text(&f.question),
                markdown_text(&f.asked_at.shown()),
                markdown_text(&f.model)
            ));
            out.push_str(&to_markdown(&f.paragraphs));
            out.push('\n');
        }
    }
    out.push_str(&r.chinese.to_markdown());
    if !r.notes.is_empty() {
        out.push_str("\n## Journal\n");
        for n in &r.notes {
            out.push_str(&format!(
                "\n*{} · {}*\n\n",
                markdown_text(&n.at.shown()),
                markdown_text(n.kind.as_str())
            ));
            // Each line its own paragraph line, escaped like every text not from the parser.
            let lines: Vec<String> = n.text.lines().map(markdown_text).collect();
            out.push_str(&lines.join("\\\n"));
            out.push('\n');
        }
    }
    out
}

fn join<T: ToString>(xs: &[T]) -> String {
    xs.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_markdown_export_keeps_html_in_questions_and_errors_inert() {
        let reading = Reading::new(crate::oracle::Cast::manual(
            crate::oracle::Cast::parse_lines("9,8,7,7,6,8").unwrap(),
        ));
        let sections = crate::plan::plan(&reading);
        let mut r = ReadingReport::new(
            &reading,
            "</title><script>alert(1)</script> *why* [x](javascript:y)",
            &sections,
        );
        r.sections[0].status = SectionStatus::Failed;
        r.sections[0].error = Some("503 <img src=x onerror=alert(1)> & `code`".into());
        let md = to_markdown_doc(&r);
        let title = md.lines().next().unwrap();
        let failed = md.lines().find(|l| l.starts_with("*Failed")).unwrap();
        for line in [title, failed] {
            for (i, c) in line.char_indices() {
                if "<>&`[".contains(c) {
                    assert!(line[..i].ends_with('\\'), "raw {c:?} in {line}");
                }
            }
        }
        assert!(md.contains("\\<script\\>"), "{md}");
        assert!(md.contains("\\<img src=x onerror=alert(1)\\>"), "{md}");
    }

    #[test]
    fn figures_mark_changing_lines_and_turn_them() {
        let lines = [9, 8, 7, 7, 6, 8];
        assert_eq!(
            figure(&lines, false),
            [
                "━━━ ━━━  ",
                "━━━ ━━━ x",
                "━━━━━━━  ",
                "━━━━━━━  ",
                "━━━ ━━━  ",
                "━━━━━━━ o"
            ]
        );
        assert_eq!(
            figure(&lines, true),
            [
                "━━━ ━━━  ",
                "━━━━━━━  ",
                "━━━━━━━  ",
                "━━━━━━━  ",
                "━━━ ━━━  ",
                "━━━ ━━━  "
            ]
        );
    }

    #[test]
    fn status_follows_the_sections() {
        use SectionStatus::*;
        assert_eq!(
            status_of([Complete, Complete].into_iter(), false),
            ReadingStatus::Complete
        );
        assert_eq!(
            status_of([Complete, Failed].into_iter(), false),
            ReadingStatus::Partial
        );
        assert_eq!(
            status_of([Failed, Failed].into_iter(), false),
            ReadingStatus::Failed
        );
        assert_eq!(
            status_of([Complete, Cancelled].into_iter(), true),
            ReadingStatus::Cancelled
        );
        assert_eq!(
            status_of([Complete, Pending].into_iter(), false),
            ReadingStatus::Partial
        );
    }
}
