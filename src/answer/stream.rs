//! What a person sees of an answer while it streams, kept equal to what is saved. Paragraphs are
//! shown once they are complete (the next has begun), parsed by the same [`parse_response`] as
//! the saved answer; the text is parsed again only once it has grown by a quarter (and 32 bytes), so the work
//! is linear in the answer however many pieces it comes in. At the end, what the saved answer
//! holds beyond what was shown is shown; if the saved answer does not begin with what was shown
//! (a fence or a tag closed late changed how the start reads), it is shown again whole. Either
//! way the last thing on screen is the saved answer, paragraph for paragraph.

use super::{Paragraph, parse_response};

/// The streaming view of one answer. See the module docs.
#[derive(Debug, Default)]
pub struct StreamView {
    text: String,
    parsed_at: usize,
    shown: Vec<Paragraph>,
}

/// What to show once the answer is saved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// These paragraphs, after what was shown.
    More(Vec<Paragraph>),
    /// What was shown was not how the saved answer begins: all of it again, as saved.
    Again(Vec<Paragraph>),
}

impl StreamView {
    /// An empty view.
    pub fn new() -> Self {
        Self::default()
    }

    /// More of the answer arrived; returns the paragraphs now complete and not yet shown.
    pub fn push(&mut self, delta: &str) -> Vec<Paragraph> {
        self.text.push_str(delta);
        if self.text.len() < self.parsed_at + self.parsed_at / 4 + 32 {
            return Vec::new();
        }
        self.parsed_at = self.text.len();
        let paras = parse_response(&self.text);
        // The last paragraph may still grow; those before it are complete. What was shown
        // stays shown: only paragraphs after it are new, and only if the start still reads so.
        let complete = paras.len().saturating_sub(1);
        if complete <= self.shown.len() || paras[..self.shown.len()] != self.shown[..] {
            return Vec::new();
        }
        let new = paras[self.shown.len()..complete].to_vec();
        self.shown.extend(new.iter().cloned());
        new
    }

    /// The attempt was given up and another starts: nothing of this one counts.
    pub fn restart(&mut self) {
        *self = Self::default();
    }

    /// What was shown so far.
    pub fn shown(&self) -> &[Paragraph] {
        &self.shown
    }

    /// The answer was saved as `saved`: what to show to end on exactly that.
    pub fn finish(&mut self, saved: &[Paragraph]) -> Ending {
        let ending = if saved.starts_with(&self.shown) {
            Ending::More(saved[self.shown.len()..].to_vec())
        } else {
            Ending::Again(saved.to_vec())
        };
        self.shown = saved.to_vec();
        ending
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(p: &[Paragraph]) -> Vec<String> {
        p.iter().map(Paragraph::plain_text).collect()
    }

    #[test]
    fn complete_paragraphs_show_once_and_the_end_is_the_saved_answer() {
        let answer = format!(
            "{{\"response\": [\"<p>{}</p>\", \"<p>{}</p>\", \"<p>{}</p>\"]}}",
            "one ".repeat(80),
            "two ".repeat(80),
            "three ".repeat(80)
        );
        let mut view = StreamView::new();
        let mut shown = Vec::new();
        for piece in answer.as_bytes().chunks(7) {
            shown.extend(view.push(std::str::from_utf8(piece).unwrap()));
        }
        assert_eq!(texts(&shown).len(), 2, "the last may still grow");
        let saved = parse_response(&answer);
        let Ending::More(rest) = view.finish(&saved) else {
            panic!("the saved answer begins with what was shown");
        };
        shown.extend(rest);
        assert_eq!(shown, saved);
    }

    #[test]
    fn a_start_that_reads_differently_in_the_end_is_shown_again_as_saved() {
        let mut view = StreamView::new();
        // Prose while it streams; the saved answer (say, checked and cleaned) differs.
        let prose = format!("{}\n\n{}\n\n{}", "a ".repeat(200), "b ".repeat(200), "c");
        assert!(!view.push(&prose).is_empty());
        let saved = vec![Paragraph::plain("something else")];
        assert_eq!(view.finish(&saved), Ending::Again(saved.clone()));
        assert_eq!(view.shown(), &saved[..]);
    }
}
