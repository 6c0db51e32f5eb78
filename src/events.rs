//! `SectionEvent`: what the background work reports about each section, carried over a tokio
//! mpsc channel to whichever front end is watching (the headless commands or the TUI).
//! The data travels in the message; no front end polls shared state.

use std::time::Duration;

use tokio::sync::mpsc;

use crate::answer::Paragraph;
use crate::model::ReadingId;
use crate::plan::Section;

pub use crate::model::{Usage, UsageSource};

/// Every token a section was billed for: its answer's and its failed attempts'. `None` when
/// neither was counted.
pub fn billed(answer: Option<Usage>, failed: Option<Usage>) -> Option<Usage> {
    match (answer, failed) {
        (Some(a), Some(f)) => Some(a.add(&f)),
        (a, f) => a.or(f),
    }
}

/// A section that succeeded.
#[derive(Debug, Clone, PartialEq)]
pub struct SectionDone {
    /// The model's answer as received.
    pub raw: String,
    /// The answer parsed and sanitised.
    pub paragraphs: Vec<Paragraph>,
    /// Token counts.
    pub usage: Usage,
    /// From dispatch (permit acquired) to the last byte, retries included.
    pub latency: Duration,
    /// Time to first token of the successful attempt.
    pub ttft: Option<Duration>,
    /// The model that answered.
    pub model: String,
    /// Attempts made, 1 when the first succeeded.
    pub attempts: u32,
    /// Tokens the failed attempts before it spent (providers bill them too).
    pub failed_usage: Option<Usage>,
}

/// Completion `tokens` per second over `latency`, to one decimal (0 for an instant answer): the
/// rate every report, table and card shows.
pub fn tokens_per_sec(tokens: u64, latency: Duration) -> f64 {
    let secs = latency.as_secs_f64();
    if secs > 0.0 {
        (tokens as f64 / secs * 10.0).round() / 10.0
    } else {
        0.0
    }
}

/// The least streaming time before a rate means anything.
pub const RATE_MIN_TIME: Duration = Duration::from_millis(500);
/// The fewest tokens before a rate means anything.
pub const RATE_MIN_TOKENS: u64 = 8;

/// The rate of a stream still arriving: `tokens` over the `streaming` time since its first
/// token, as [`tokens_per_sec`] counts it, but only once the sample means something (at least
/// [`RATE_MIN_TIME`] and [`RATE_MIN_TOKENS`]); before that a few tokens in a few milliseconds
/// would read as thousands a second.
pub fn rate_so_far(tokens: u64, streaming: Duration) -> Option<f64> {
    (streaming >= RATE_MIN_TIME && tokens >= RATE_MIN_TOKENS)
        .then(|| tokens_per_sec(tokens, streaming))
}

/// A section that failed for good.
#[derive(Debug, Clone, PartialEq)]
pub struct SectionFailure {
    /// What went wrong, in words a person can act on (never a key).
    pub error: String,
    /// From dispatch to giving up.
    pub latency: Duration,
    /// Attempts made.
    pub attempts: u32,
    /// What kind of failure.
    pub kind: crate::model::ErrorKind,
    /// Tokens the attempts spent (providers bill them), when any was reported or counted.
    pub usage: Option<Usage>,
}

/// What happened to a section.
#[derive(Debug, Clone, PartialEq)]
pub enum EventKind {
    /// Planned and waiting for a slot.
    Queued,
    /// Its request is being sent.
    Started,
    /// More of the answer arrived.
    Delta(String),
    /// An attempt failed and the next starts after `wait`.
    Retrying {
        /// The attempt about to be made (2 for the first retry).
        attempt: u32,
        /// How long until it starts.
        wait: Duration,
        /// Why the last attempt failed.
        reason: String,
    },
    /// Held back by the endpoint, not by a failure of its own (see [`Hold`]).
    Held(Hold),
    /// Done, with its text and figures.
    Finished(Box<SectionDone>),
    /// Failed for good.
    Failed(Box<SectionFailure>),
}

/// Why a section waits that is no fault of its own: what the endpoint can take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hold {
    /// Queued for the endpoint, which serves `limit` requests at once.
    Capacity {
        /// Requests the endpoint serves at once, as learned so far.
        limit: usize,
    },
    /// The server is loading its model; the section waits (`waited` so far).
    Loading {
        /// How long it has waited.
        waited: Duration,
    },
    /// The server cut its answer while other requests ran: it is queued again without spending
    /// an attempt, and the endpoint takes `limit` at once from now on.
    Requeued {
        /// Requests the endpoint serves at once from now on.
        limit: usize,
        /// How the answer was cut.
        reason: String,
    },
}

impl Hold {
    /// The limit in force this says, if it says one.
    pub fn limit(&self) -> Option<usize> {
        match self {
            Hold::Capacity { limit } | Hold::Requeued { limit, .. } => Some(*limit),
            Hold::Loading { .. } => None,
        }
    }
}

/// "the server serves 1 at a time", "... 3 at once": the limit in force, in words.
pub fn serves(limit: usize) -> String {
    if limit == 1 {
        "the server serves 1 at a time".to_owned()
    } else {
        format!("the server serves {limit} at once")
    }
}

/// One event about one section of one reading.
#[derive(Debug, Clone, PartialEq)]
pub struct SectionEvent {
    /// The reading's id in the store (`None` before it has one).
    pub reading: Option<ReadingId>,
    /// Which section.
    pub section: Section,
    /// What happened.
    pub kind: EventKind,
}

/// The sending side of the event channel for one section, handed to a provider so it can report
/// text as it streams in and retries as they happen.
#[derive(Debug, Clone)]
pub struct Progress {
    tx: mpsc::UnboundedSender<SectionEvent>,
    reading: Option<ReadingId>,
    section: Section,
    deltas: bool,
    /// Told when the first text arrives (the section that warms a provider's prompt cache).
    first_text: Option<std::sync::Arc<tokio::sync::watch::Sender<bool>>>,
}

impl Progress {
    /// Reports for `section` of `reading` (`None` before it has a store id) on `tx`.
    pub fn new(
        tx: mpsc::UnboundedSender<SectionEvent>,
        reading: Option<ReadingId>,
        section: Section,
    ) -> Self {
        Self {
            tx,
            reading,
            section,
            deltas: true,
            first_text: None,
        }
    }

    /// The same, telling `signal` when its first text arrives.
    pub fn with_first_text(self, signal: std::sync::Arc<tokio::sync::watch::Sender<bool>>) -> Self {
        Self {
            first_text: Some(signal),
            ..self
        }
    }

    /// The same, but text deltas are dropped at the source (nobody shows them: batch).
    pub fn without_deltas(self) -> Self {
        Self {
            deltas: false,
            ..self
        }
    }

    /// Sends `kind` for this section. A closed channel (nobody watching) is not an error.
    pub fn send(&self, kind: EventKind) {
        let _ = self.tx.send(SectionEvent {
            reading: self.reading,
            section: self.section,
            kind,
        });
    }

    /// The answer's text has begun (some of it may be held back before it is shown).
    pub fn began(&self) {
        if let Some(signal) = &self.first_text
            && !*signal.borrow()
        {
            signal.send_replace(true);
        }
    }

    /// More text arrived.
    pub fn delta(&self, text: impl Into<String>) {
        self.began();
        if self.deltas {
            self.send(EventKind::Delta(text.into()));
        }
    }

    /// The section the events are about.
    pub fn section(&self) -> Section {
        self.section
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_per_sec_is_to_one_decimal_and_zero_for_no_time() {
        assert_eq!(tokens_per_sec(412, Duration::from_millis(1500)), 274.7);
        assert_eq!(tokens_per_sec(100, Duration::from_secs(4)), 25.0);
        assert_eq!(tokens_per_sec(5, Duration::ZERO), 0.0);
        assert_eq!(tokens_per_sec(0, Duration::from_secs(1)), 0.0);
    }

    #[test]
    fn a_stream_has_a_rate_only_once_the_sample_means_something() {
        // Three tokens in 2 ms would read as 1,500 a second.
        assert_eq!(rate_so_far(3, Duration::from_millis(2)), None);
        assert_eq!(rate_so_far(40, Duration::from_millis(499)), None);
        assert_eq!(rate_so_far(7, Duration::from_secs(2)), None);
        assert_eq!(rate_so_far(8, Duration::from_millis(500)), Some(16.0));
        assert_eq!(rate_so_far(412, Duration::from_millis(1500)), Some(274.7));
    }
}
