//! Zhu Xi's rule for reading a cast: which texts weigh most for 0 to 6 changing lines.
//!
//! From Zhu Xi's *Yixue Qimeng* (1186), as commonly summarised:
//! - none change: read the judgment of the primary hexagram;
//! - one: that line's text in the primary hexagram;
//! - two: both lines in the primary hexagram, the upper one ruling;
//! - three: the judgments of both hexagrams, the primary as the root and the resulting as the outcome;
//! - four: the two unchanging lines of the resulting hexagram, the lower one ruling;
//! - five: the one unchanging line of the resulting hexagram;
//! - six: for Qian and Kun the "use of nines/sixes"; otherwise the resulting judgment.

use serde::Serialize;

use super::{Hexagram, Reading};

/// A text of the classic that the rule points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum TextRef {
    /// A hexagram's judgment.
    Judgment {
        /// King Wen number.
        hexagram: u8,
    },
    /// A line text.
    Line {
        /// King Wen number.
        hexagram: u8,
        /// 1 = bottom .. 6 = top.
        line: u8,
    },
    /// The "use of nines/sixes" of hexagram 1 or 2.
    AllLines {
        /// King Wen number (1 or 2).
        hexagram: u8,
    },
}

/// What the rule says for one reading.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReadingRule {
    /// 0..=6.
    pub changing_lines: usize,
    /// The texts to weigh, the ruling one first.
    pub texts: Vec<TextRef>,
    /// The rule in one or two sentences, for people and prompts.
    pub summary: String,
}

impl ReadingRule {
    /// Applies the rule to `reading`.
    pub fn for_reading(reading: &Reading) -> Self {
        let p = reading.primary;
        let changing = reading.changing_lines();
        let unchanging: Vec<u8> = (1..=6).filter(|n| !changing.contains(n)).collect();
        let resulting = reading.resulting.unwrap_or(p);
        let line = |h: &Hexagram, n: u8| TextRef::Line {
            hexagram: h.number,
            line: n,
        };
        let (texts, summary) = match changing.len() {
            0 => (
                vec![TextRef::Judgment { hexagram: p.number }],
                format!(
                    "No line changes, so the judgment of {} carries the reading, with its image as counsel.",
                    p.name_pinyin
                ),
            ),
            1 => (
                vec![line(p, changing[0])],
                format!(
                    "One line changes, so the text of line {} of {} rules the reading.",
                    changing[0], p.name_pinyin
                ),
            ),
            2 => (
                vec![line(p, changing[1]), line(p, changing[0])],
                format!(
                    "Two lines change, so read lines {} and {} of {}; the upper one, line {}, rules.",
                    changing[0], changing[1], p.name_pinyin, changing[1]
                ),
            ),
            3 => (
                vec![
                    TextRef::Judgment { hexagram: p.number },
                    TextRef::Judgment {
                        hexagram: resulting.number,
                    },
                ],
                format!(
                    "Three lines change, so read the judgments of both hexagrams: {} is the root of the matter and {} its outcome.",
                    p.name_pinyin, resulting.name_pinyin
                ),
            ),
            4 => (
                vec![
                    line(resulting, unchanging[0]),
                    line(resulting, unchanging[1]),
                ],
                format!(
                    "Four lines change, so read the two unchanging lines, {} and {}, in the resulting hexagram {}; the lower one, line {}, rules.",
                    unchanging[0], unchanging[1], resulting.name_pinyin, unchanging[0]
                ),
            ),
            5 => (
                vec![line(resulting, unchanging[0])],
                format!(
                    "Five lines change, so the one unchanging line, line {}, read in the resulting hexagram {}, rules.",
                    unchanging[0], resulting.name_pinyin
                ),
            ),
            _ if p.all_lines.is_some() => (
                vec![TextRef::AllLines { hexagram: p.number }],
                format!(
                    "All six lines change in {}, so its special text on the use of the {} rules the reading.",
                    p.name_pinyin,
                    if p.number == 1 { "nines" } else { "sixes" }
                ),
            ),
            _ => (
                vec![TextRef::Judgment {
                    hexagram: resulting.number,
                }],
                format!(
                    "All six lines change, so the judgment of the resulting hexagram {} rules the reading.",
                    resulting.name_pinyin
                ),
            ),
        };
        Self {
            changing_lines: changing.len(),
            texts,
            summary,
        }
    }
}
