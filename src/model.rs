//! The small vocabulary every layer shares, below the store and the front ends: a reading's id,
//! the states of readings and sections, the kinds of failure, the export formats, and prices with the one [`Prices::cost`]
//! every figure of money goes through.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// A saved reading's id in the store (SQLite's rowid, from 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ReadingId(pub i64);

impl fmt::Display for ReadingId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::str::FromStr for ReadingId {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().parse::<i64>() {
            Ok(n) if n > 0 => Ok(Self(n)),
            _ => Err(format!(
                "{s:?} is not a reading id: use the number `iching history` shows"
            )),
        }
    }
}

/// The state of a whole reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReadingStatus {
    /// Sections are still being generated.
    Running,
    /// Every planned section succeeded.
    Complete,
    /// Some sections succeeded, some did not.
    Partial,
    /// No section succeeded.
    Failed,
    /// Stopped by the user.
    Cancelled,
    /// The process died while sections were in flight.
    Interrupted,
}

impl ReadingStatus {
    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            ReadingStatus::Running => "running",
            ReadingStatus::Complete => "complete",
            ReadingStatus::Partial => "partial",
            ReadingStatus::Failed => "failed",
            ReadingStatus::Cancelled => "cancelled",
            ReadingStatus::Interrupted => "interrupted",
        }
    }
}

/// The state of one section.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SectionStatus {
    /// Not finished (queued, running, or never run).
    Pending,
    /// Succeeded.
    Complete,
    /// Failed for good.
    Failed,
    /// Stopped before it finished.
    Cancelled,
}

/// The reading status implied by its sections' states.
pub fn status_of(sections: impl Iterator<Item = SectionStatus>, cancelled: bool) -> ReadingStatus {
    let (mut done, mut total) = (0, 0);
    for s in sections {
        total += 1;
        done += usize::from(s == SectionStatus::Complete);
    }
    if total > 0 && done == total {
        ReadingStatus::Complete
    } else if cancelled {
        ReadingStatus::Cancelled
    } else if done == 0 {
        ReadingStatus::Failed
    } else {
        ReadingStatus::Partial
    }
}

/// What kind of failure, for retry decisions and for counting failures by kind.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// 429 without a quota problem.
    RateLimited,
    /// 429 insufficient_quota: retrying does not help.
    QuotaExceeded,
    /// 401/403.
    Unauthorized,
    /// Another 4xx that retrying does not fix.
    BadRequest,
    /// 5xx, 408, 409.
    ServerError,
    /// Could not connect.
    Connect,
    /// Never sent: the endpoint was found unreachable by another section's request.
    NotSent,
    /// No response, or a stream that stalled.
    Timeout,
    /// The stream ended early or was cut.
    Truncated,
    /// A body or chunk that is not what the protocol says.
    Malformed,
    /// The answer hit `max_tokens` (`finish_reason: "length"`): the same request would be cut
    /// the same way, so it is not retried.
    TooLong,
    /// Stopped by the user.
    Cancelled,
    /// Anything else (including a panic caught by the orchestrator).
    Internal,
}

impl ErrorKind {
    /// Whether another attempt may succeed.
    pub fn is_retryable(self) -> bool {
        match self {
            ErrorKind::RateLimited
            | ErrorKind::ServerError
            | ErrorKind::Connect
            | ErrorKind::Timeout
            | ErrorKind::Truncated
            | ErrorKind::Malformed => true,
            ErrorKind::NotSent
            | ErrorKind::QuotaExceeded
            | ErrorKind::Unauthorized
            | ErrorKind::BadRequest
            | ErrorKind::TooLong
            | ErrorKind::Cancelled
            | ErrorKind::Internal => false,
        }
    }

    /// The name stored and printed in JSON: `rate_limited`, `timeout`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::RateLimited => "rate_limited",
            ErrorKind::QuotaExceeded => "quota_exceeded",
            ErrorKind::Unauthorized => "unauthorized",
            ErrorKind::BadRequest => "bad_request",
            ErrorKind::ServerError => "server_error",
            ErrorKind::Connect => "connect",
            ErrorKind::NotSent => "not_sent",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Truncated => "truncated",
            ErrorKind::Malformed => "malformed",
            ErrorKind::TooLong => "too_long",
            ErrorKind::Cancelled => "cancelled",
            ErrorKind::Internal => "internal",
        }
    }

    /// The kind named `s` ([`ErrorKind::as_str`]).
    pub fn parse(s: &str) -> Option<Self> {
        ALL_KINDS.into_iter().find(|k| k.as_str() == s)
    }

    /// A short label: "rate limited", "timed out", ...
    pub fn label(self) -> &'static str {
        match self {
            ErrorKind::RateLimited => "rate limited",
            ErrorKind::QuotaExceeded => "quota exceeded",
            ErrorKind::Unauthorized => "unauthorized",
            ErrorKind::BadRequest => "bad request",
            ErrorKind::ServerError => "server error",
            ErrorKind::Connect => "connection failed",
            ErrorKind::NotSent => "not sent",
            ErrorKind::Timeout => "timed out",
            ErrorKind::Truncated => "truncated",
            ErrorKind::Malformed => "malformed",
            ErrorKind::TooLong => "cut at max_tokens",
            ErrorKind::Cancelled => "cancelled",
            ErrorKind::Internal => "internal error",
        }
    }
}

/// Every kind, for parsing.
const ALL_KINDS: [ErrorKind; 13] = [
    ErrorKind::NotSent,
    ErrorKind::RateLimited,
    ErrorKind::QuotaExceeded,
    ErrorKind::Unauthorized,
    ErrorKind::BadRequest,
    ErrorKind::ServerError,
    ErrorKind::Connect,
    ErrorKind::Timeout,
    ErrorKind::Truncated,
    ErrorKind::Malformed,
    ErrorKind::TooLong,
    ErrorKind::Cancelled,
    ErrorKind::Internal,
];

/// Where token counts came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UsageSource {
    /// The endpoint said so.
    Reported,
    /// Estimated locally (`llm::tokens`): the server reported none.
    Estimated,
}

impl UsageSource {
    /// "reported" or "estimated".
    pub fn as_str(self) -> &'static str {
        match self {
            UsageSource::Reported => "reported",
            UsageSource::Estimated => "estimated",
        }
    }
}

/// Token counts of one request (or the sum of several, as for the failed attempts of a section).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Tokens sent.
    pub prompt_tokens: u32,
    /// Tokens received, reasoning included (as providers bill them).
    pub completion_tokens: u32,
    /// Of the completion tokens, those spent reasoning (`completion_tokens_details`).
    #[serde(default)]
    pub reasoning_tokens: u32,
    /// Of the prompt tokens, those served from the provider's prompt cache
    /// (`prompt_tokens_details`).
    #[serde(default)]
    pub cached_tokens: u32,
    /// Whether the endpoint reported them.
    pub source: UsageSource,
}

impl Usage {
    /// Counts the endpoint reported, without reasoning or cache details.
    pub fn reported(prompt_tokens: u32, completion_tokens: u32) -> Self {
        Self {
            prompt_tokens,
            completion_tokens,
            reasoning_tokens: 0,
            cached_tokens: 0,
            source: UsageSource::Reported,
        }
    }

    /// Counts made locally with the tokenizer.
    pub fn estimated(prompt_tokens: u32, completion_tokens: u32) -> Self {
        Self {
            source: UsageSource::Estimated,
            ..Self::reported(prompt_tokens, completion_tokens)
        }
    }

    /// Prompt plus completion.
    pub fn total(&self) -> u32 {
        self.prompt_tokens.saturating_add(self.completion_tokens)
    }

    /// `self` and `other` together; estimated if either was.
    pub fn add(&self, other: &Usage) -> Usage {
        Usage {
            prompt_tokens: self.prompt_tokens.saturating_add(other.prompt_tokens),
            completion_tokens: self
                .completion_tokens
                .saturating_add(other.completion_tokens),
            reasoning_tokens: self.reasoning_tokens.saturating_add(other.reasoning_tokens),
            cached_tokens: self.cached_tokens.saturating_add(other.cached_tokens),
            source: if self.source == UsageSource::Estimated
                || other.source == UsageSource::Estimated
            {
                UsageSource::Estimated
            } else {
                UsageSource::Reported
            },
        }
    }
}

/// What the person asks: the question and, when they give it, the situation behind it (both
/// already cleaned). `Debug` shows only their sizes.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Query {
    /// The question.
    pub question: String,
    /// The situation behind it.
    pub context: Option<String>,
}

/// What a note says about its reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NoteKind {
    /// What you make of the reading now.
    Note,
    /// How things turned out.
    Outcome,
}

impl NoteKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            NoteKind::Note => "note",
            NoteKind::Outcome => "outcome",
        }
    }

    /// The kind a stored name names.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "note" => Some(NoteKind::Note),
            "outcome" => Some(NoteKind::Outcome),
            _ => None,
        }
    }
}

/// The longest question accepted, in characters.
pub const MAX_QUESTION_CHARS: usize = 2000;
/// The longest situation (`--context`) accepted, in characters.
pub const MAX_CONTEXT_CHARS: usize = 4000;

/// What is wrong with a question or its situation, as typed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// The question is nothing but whitespace (or what cleaning removed).
    #[error("the question is empty: type what you want to ask the oracle")]
    EmptyQuestion,
    /// The question is over [`MAX_QUESTION_CHARS`].
    #[error("the question is {0} characters long; at most {MAX_QUESTION_CHARS} are taken")]
    QuestionTooLong(usize),
    /// The situation is over [`MAX_CONTEXT_CHARS`].
    #[error("the situation is {0} characters long; at most {MAX_CONTEXT_CHARS} are taken")]
    SituationTooLong(usize),
}

/// `raw` made one clean line: escape sequences, controls and invisible characters removed,
/// whitespace collapsed; with its length in characters.
fn one_line(raw: &str) -> (String, usize) {
    let clean = crate::text::sanitize_inline(raw)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let chars = clean.chars().count();
    (clean, chars)
}

/// A question as typed, cleaned (see [`one_line`]) and checked: not empty, not too long. The
/// one rule for every question asked: a reading's and a follow-up's, from every front end.
pub fn clean_question(raw: &str) -> Result<String, QueryError> {
    match one_line(raw) {
        (_, 0) => Err(QueryError::EmptyQuestion),
        (_, n) if n > MAX_QUESTION_CHARS => Err(QueryError::QuestionTooLong(n)),
        (clean, _) => Ok(clean),
    }
}

/// The situation behind a question, cleaned like the question; `None` when there is none
/// (nothing, or only whitespace).
pub fn clean_situation(raw: &str) -> Result<Option<String>, QueryError> {
    match one_line(raw) {
        (_, n) if n > MAX_CONTEXT_CHARS => Err(QueryError::SituationTooLong(n)),
        (_, 0) => Ok(None),
        (clean, _) => Ok(Some(clean)),
    }
}

impl Query {
    /// The question and situation as typed, cleaned and checked: how every front end makes
    /// one.
    pub fn parse(question: &str, situation: Option<&str>) -> Result<Self, QueryError> {
        Ok(Self {
            question: clean_question(question)?,
            context: situation.map(clean_situation).transpose()?.flatten(),
        })
    }

    /// A question without a situation, already clean (stored, or written in the program).
    pub fn new(question: impl Into<String>) -> Self {
        Self {
            question: question.into(),
            context: None,
        }
    }

    /// A question and its situation, already clean (`None` or empty: none).
    pub fn with_context(question: impl Into<String>, context: Option<String>) -> Self {
        Self {
            question: question.into(),
            context: context.filter(|c| !c.is_empty()),
        }
    }
}

impl fmt::Debug for Query {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Query")
            .field("question_chars", &self.question.chars().count())
            .field(
                "context_chars",
                &self.context.as_ref().map(|c| c.chars().count()),
            )
            .finish()
    }
}

/// A secret string (an API key, a passphrase): its `Debug` never shows it, so a struct that
/// holds one can derive `Debug`, and its memory is zeroed when it is dropped.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    /// Wraps `s`.
    pub fn new(s: impl Into<String>) -> Self {
        Self(Zeroizing::new(s.into()))
    }
    /// The secret itself, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.0.trim().is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(**redacted**)")
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Secret::new)
    }
}

impl From<Zeroizing<String>> for Secret {
    fn from(s: Zeroizing<String>) -> Self {
        Self(s)
    }
}

/// The files a reading can be exported to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExportFormat {
    /// `.md`.
    Markdown,
    /// `.html`, a standalone page.
    Html,
    /// `.json`, the report `show --format json` prints.
    Json,
}

impl ExportFormat {
    /// The file extension.
    pub fn extension(self) -> &'static str {
        match self {
            ExportFormat::Markdown => "md",
            ExportFormat::Html => "html",
            ExportFormat::Json => "json",
        }
    }
}

/// Price of a model, per million tokens, for cost figures.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    /// Dollars per million prompt tokens.
    pub prompt_per_million: f64,
    /// Dollars per million completion tokens (reasoning tokens are billed as completion).
    pub completion_per_million: f64,
    /// Dollars per million prompt tokens served from the provider's prompt cache (default: the
    /// full prompt price).
    #[serde(default)]
    pub cached_prompt_per_million: Option<f64>,
}

impl Price {
    /// What `usage` cost: cached prompt tokens at the cached price where there is one.
    pub fn cost(&self, usage: &Usage) -> f64 {
        let cached = usage.cached_tokens.min(usage.prompt_tokens);
        let fresh = usage.prompt_tokens - cached;
        let cached_price = self
            .cached_prompt_per_million
            .unwrap_or(self.prompt_per_million);
        (f64::from(fresh) * self.prompt_per_million
            + f64::from(cached) * cached_price
            + f64::from(usage.completion_tokens) * self.completion_per_million)
            / 1e6
    }
}

/// Prices by model name, from `[prices."MODEL"]` tables in config.toml.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(transparent)]
pub struct Prices(pub BTreeMap<String, Price>);

impl Prices {
    /// Whether no model has a price.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The price of `model`: an exact entry, else the longest entry the name starts with, so a
    /// `[prices."gpt-4o-mini"]` entry also prices the dated `gpt-4o-mini-2024-07-18` a server
    /// reports.
    pub fn get(&self, model: &str) -> Option<&Price> {
        self.0.get(model).or_else(|| {
            self.0
                .iter()
                .filter(|(name, _)| !name.is_empty() && model.starts_with(name.as_str()))
                .max_by_key(|(name, _)| name.len())
                .map(|(_, p)| p)
        })
    }

    /// What `usage` of `model` cost, when `model` has a price (exactly or by prefix): the one
    /// cost function every figure of money uses.
    pub fn cost(&self, model: &str, usage: &Usage) -> Option<f64> {
        self.get(model).map(|p| p.cost(usage))
    }
}

impl FromIterator<(String, Price)> for Prices {
    fn from_iter<I: IntoIterator<Item = (String, Price)>>(iter: I) -> Self {
        Self(iter.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn questions_and_situations_are_cleaned_and_checked_once() {
        assert_eq!(
            clean_question("  Will it  rain?\n"),
            Ok("Will it rain?".into())
        );
        assert_eq!(clean_question("   \t\n"), Err(QueryError::EmptyQuestion));
        assert_eq!(clean_question("\u{1b}[2J"), Err(QueryError::EmptyQuestion));
        assert_eq!(
            clean_question("a\u{1b}]0;pwned\u{7}b \u{202e}c"),
            Ok("ab c".into())
        );
        let long = "x".repeat(MAX_QUESTION_CHARS + 1);
        assert_eq!(
            clean_question(&long),
            Err(QueryError::QuestionTooLong(MAX_QUESTION_CHARS + 1))
        );
        assert!(clean_question(&"豐".repeat(MAX_QUESTION_CHARS)).is_ok());
        let q = Query::parse(" Go? ", Some("  a\tnew  job ")).unwrap();
        assert_eq!(
            (q.question.as_str(), q.context.as_deref()),
            ("Go?", Some("a new job"))
        );
        assert_eq!(Query::parse("Go?", Some(" \n ")).unwrap().context, None);
        assert_eq!(
            Query::parse("Go?", Some(&"y".repeat(MAX_CONTEXT_CHARS + 1))),
            Err(QueryError::SituationTooLong(MAX_CONTEXT_CHARS + 1))
        );
    }

    #[test]
    fn every_error_kind_is_stored_and_read_back_by_its_name() {
        for kind in ALL_KINDS {
            assert_eq!(ErrorKind::parse(kind.as_str()), Some(kind));
            // The stored name is the JSON name.
            assert_eq!(
                serde_json::to_value(kind).unwrap(),
                serde_json::Value::from(kind.as_str())
            );
        }
        assert_eq!(ErrorKind::parse("nonsense"), None);
    }

    #[test]
    fn prices_match_exactly_or_by_the_longest_prefix() {
        let price = |p: f64| Price {
            prompt_per_million: p,
            completion_per_million: 0.0,
            cached_prompt_per_million: None,
        };
        let prices: Prices = [
            ("gpt-4o".to_owned(), price(2.5)),
            ("gpt-4o-mini".to_owned(), price(0.15)),
        ]
        .into_iter()
        .collect();
        let usage = Usage::reported(1_000_000, 0);
        assert_eq!(prices.cost("gpt-4o-mini-2024-07-18", &usage), Some(0.15));
        assert_eq!(prices.cost("gpt-4o-2024-08-06", &usage), Some(2.5));
        assert_eq!(prices.cost("llama3.1", &usage), None);
    }

    #[test]
    fn reading_ids_are_positive_numbers() {
        assert_eq!("12".parse::<ReadingId>(), Ok(ReadingId(12)));
        assert!("0".parse::<ReadingId>().is_err());
        assert!("x".parse::<ReadingId>().is_err());
    }
}
