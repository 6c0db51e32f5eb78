//! The one search rule, for every place a user searches their readings: `iching history
//! --search`, `iching stats --hexagrams --search`, the terminal app's History filter and its
//! patterns view.
//!
//! A reading is found when every word of the search (case-insensitive) is somewhere in what it
//! holds: its question, its situation, its notes and outcomes, its follow-up questions and
//! answers, its status (`failed`, `partial`, ...) and its hexagrams' numbers and names (pinyin,
//! Chinese, English). Nothing else: not its date, its id or its model, which have filters and
//! columns of their own.

use crate::oracle::hexagram;

/// A search as typed: its words, lower-cased. No words: everything is found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Search {
    words: Vec<String>,
}

/// What a reading is searched by.
#[derive(Debug, Clone, Copy, Default)]
pub struct Searched<'a> {
    /// The question.
    pub question: &'a str,
    /// The situation behind it.
    pub situation: Option<&'a str>,
    /// Its notes' and outcomes' text.
    pub notes: &'a [String],
    /// Its follow-ups' questions and answers.
    pub followups: &'a [String],
    /// Its status word.
    pub status: &'a str,
    /// Its primary hexagram's number.
    pub primary: u8,
    /// Its resulting hexagram's number.
    pub resulting: Option<u8>,
}

impl Search {
    /// The search for `text`.
    pub fn new(text: &str) -> Self {
        Self {
            words: text.split_whitespace().map(str::to_lowercase).collect(),
        }
    }

    /// Whether it has no words (and finds everything).
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// Whether every word is in what `r` holds.
    pub fn finds(&self, r: &Searched<'_>) -> bool {
        self.is_empty() || self.finds_in(&r.haystack())
    }

    /// Whether every word is in `hay`, a reading's [`Searched::haystack`] (made once where a
    /// reading is searched again and again, as History's filter does at every key).
    pub fn finds_in(&self, hay: &str) -> bool {
        self.words.iter().all(|w| {
            if w.chars().all(|c| c.is_ascii_digit()) {
                // A number is a hexagram's number or a number written: whole, never part of
                // another ("4" is not 14 or 44).
                hay.split(|c: char| !c.is_alphanumeric())
                    .any(|t| t == w.as_str())
            } else {
                hay.contains(w.as_str())
            }
        })
    }
}

impl Searched<'_> {
    /// Everything the rule looks in, lower-cased, a line each.
    pub fn haystack(&self) -> String {
        let mut hay = String::new();
        let mut add = |s: &str| {
            hay.push_str(&s.to_lowercase());
            hay.push('\n');
        };
        add(self.question);
        if let Some(s) = self.situation {
            add(s);
        }
        self.notes.iter().for_each(|n| add(n));
        self.followups.iter().for_each(|f| add(f));
        add(self.status);
        for n in std::iter::once(self.primary).chain(self.resulting) {
            if let Some(h) = hexagram(n) {
                add(&format!(
                    "{n} {} {} {}",
                    h.name_pinyin, h.name_chinese, h.name_english
                ));
            }
        }
        hay
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reading<'a>(notes: &'a [String], followups: &'a [String]) -> Searched<'a> {
        Searched {
            question: "Should I take the New job?",
            situation: Some("An offer came in March"),
            notes,
            followups,
            status: "complete",
            primary: 55,
            resulting: Some(31),
        }
    }

    #[test]
    fn every_word_is_looked_for_everywhere_a_reading_holds_text() {
        let notes = ["It went well in the end".to_owned()];
        let followups = ["What about the move to Lisbon?".to_owned()];
        let r = reading(&notes, &followups);
        for found in [
            "",
            "new JOB",
            "job march",
            "went well",
            "lisbon",
            "feng",
            "55",
            "31",
            "xian complete",
            "豐",
        ] {
            assert!(Search::new(found).finds(&r), "{found:?}");
        }
        for missing in ["job paris", "failed", "2026", "#7", "qian", "5", "3"] {
            assert!(!Search::new(missing).finds(&r), "{missing:?}");
        }
        assert!(!Search::new("lisbon").finds(&reading(&notes, &[])));
    }
}
