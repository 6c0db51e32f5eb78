//! The oracle: casting, hexagrams, trigrams, the nuclear hexagram and the reading rule; the
//! embedded texts (Legge's translation and the classical Chinese).
//!
//! Everything here is pure — no IO, no clock, no async — so every fact of a reading can be tested
//! directly. The randomness of a cast comes from a seed the caller supplies.

mod cast;
mod chinese;
mod names;
pub mod odds;
mod rule;
mod text;

use serde::Serialize;

pub use cast::{Cast, Coin, LineOrigin, LineValue, Method};
pub use chinese::{CHINESE_LANG, Chinese, chinese};
pub use names::{NameError, find_hexagram, fold_name, hexagram_matches};
pub use rule::{ReadingRule, TextRef};
pub use text::{Hexagram, Trigram, all_hexagrams, hexagram, hexagram_by_pattern};

/// What can be wrong with a cast the user asked for.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OracleError {
    /// `--lines` had the wrong number of values.
    #[error("expected six line values (bottom to top, each 6, 7, 8 or 9), got {0}")]
    WrongLineCount(usize),
    /// The values were separated by something other than commas or spaces.
    #[error(
        "{0:?} does not separate line values: separate the six values with commas (9,8,7,7,6,8), spaces, or nothing (987768)"
    )]
    BadSeparator(char),
    /// One value was not 6..=9.
    #[error("line {position} is {value:?}: each line must be 6, 7, 8 or 9 (bottom line first)")]
    BadLineValue {
        /// 1-based position in the list (0 when unknown).
        position: usize,
        /// What was given.
        value: String,
    },
    /// Unknown method name.
    #[error("unknown method {0:?}: use coins, yarrow or manual")]
    UnknownMethod(String),
    /// Manual casting was asked for without lines.
    #[error("a manual cast needs its six values (e.g. --lines 9,8,7,7,6,8)")]
    ManualNeedsLines,
}

/// The facts of one line in its hexagram, as the commentaries read them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LineFacts {
    /// 1 = bottom .. 6 = top.
    pub position: u8,
    /// The value cast.
    pub value: LineValue,
    /// Yang (undivided) or yin (divided).
    pub yang: bool,
    /// Whether it changes.
    pub changing: bool,
    /// Yang in an odd place or yin in an even one.
    pub correct: bool,
    /// The middle line of a trigram (2 or 5).
    pub central: bool,
    /// The line it corresponds with (1-4, 2-5, 3-6).
    pub counterpart: u8,
    /// Whether it and its counterpart are of opposite kinds, so they respond to each other.
    pub responds: bool,
}

/// A cast read against the classic: primary, resulting and nuclear hexagrams and changing lines.
#[derive(Debug, Clone)]
pub struct Reading {
    /// The cast it came from.
    pub cast: Cast,
    /// The hexagram of the cast as it stands.
    pub primary: &'static Hexagram,
    /// The hexagram after the changing lines turn; `None` when no line changes.
    pub resulting: Option<&'static Hexagram>,
    /// Lines 2-3-4 below and 3-4-5 above of the primary hexagram.
    pub nuclear: &'static Hexagram,
}

impl Reading {
    /// Reads `cast`.
    pub fn new(cast: Cast) -> Self {
        let primary_bits = pattern(cast.lines, LineValue::is_yang);
        let resulting_bits = pattern(cast.lines, LineValue::becomes_yang);
        Self {
            primary: hexagram_by_pattern(primary_bits),
            resulting: (resulting_bits != primary_bits)
                .then(|| hexagram_by_pattern(resulting_bits)),
            nuclear: hexagram_by_pattern(nuclear_pattern(primary_bits)),
            cast,
        }
    }

    /// The positions (1..=6, bottom first) of the changing lines.
    pub fn changing_lines(&self) -> Vec<u8> {
        (1..=6u8)
            .filter(|&n| self.cast.lines[usize::from(n - 1)].is_changing())
            .collect()
    }

    /// The six values, bottom first.
    pub fn values(&self) -> [u8; 6] {
        self.cast.lines.map(LineValue::get)
    }

    /// The facts of line `position` (1..=6) in the primary hexagram.
    pub fn line_facts(&self, position: u8) -> LineFacts {
        let value = self.cast.lines[usize::from(position - 1)];
        let counterpart = if position > 3 {
            position - 3
        } else {
            position + 3
        };
        let other = self.cast.lines[usize::from(counterpart - 1)];
        LineFacts {
            position,
            value,
            yang: value.is_yang(),
            changing: value.is_changing(),
            correct: value.is_yang() == (position % 2 == 1),
            central: position == 2 || position == 5,
            counterpart,
            responds: value.is_yang() != other.is_yang(),
        }
    }

    /// Zhu Xi's reading rule for this cast.
    pub fn rule(&self) -> ReadingRule {
        ReadingRule::for_reading(self)
    }
}

/// The line pattern (bit 0 = bottom) where `yang` says which lines are yang.
fn pattern(lines: [LineValue; 6], yang: fn(LineValue) -> bool) -> u8 {
    lines
        .iter()
        .enumerate()
        .fold(0, |bits, (i, &v)| bits | u8::from(yang(v)) << i)
}

/// Nuclear hexagram: lines 2-3-4 become the lower trigram, 3-4-5 the upper.
fn nuclear_pattern(bits: u8) -> u8 {
    let lower = (bits >> 1) & 0b111;
    let upper = (bits >> 2) & 0b111;
    lower | upper << 3
}

#[cfg(test)]
mod chinese_tests;
#[cfg(test)]
mod names_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod text_tests;
