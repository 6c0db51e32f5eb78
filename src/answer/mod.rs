//! Model answers: turning a language model's (possibly sloppy) JSON/HTML/Markdown answer into
//! styled [`Paragraph`]s, previewing partial streams, and rendering paragraphs as plain text,
//! Markdown or HTML.
//!
//! This file owns the two types every part shares, [`Span`] and [`Paragraph`]; the work is split
//! by job:
//! - `salvage`: finding the text in an answer (JSON whole, fenced, embedded or cut off; or
//!   prose), and the one-line preview of a stream;
//! - `markup`: the inline markup the prompts ask for (`<p>`, `<b>`, `<em>`, entities) and
//!   Markdown emphasis, turned into paragraphs of spans;
//! - what may reach a terminal (no escape sequences, controls or bidi overrides) is
//!   [`crate::text`]'s, re-exported here for the answer's users;
//! - `render`: paragraphs back out as plain text, Markdown or HTML;
//! - [`quality`]: whether an answer is an answer at all;
//! - `stream`: what a person sees of an answer while it streams, ending on what is saved.
//!
//! Below everything but [`crate::text`] (wrapping) and [`crate::plan`] (which `quality` reads
//! the request's messages with).

mod markup;
pub mod quality;
mod render;
mod salvage;
mod stream;

pub use crate::text::{hidden, sanitize_inline, sanitize_multiline};
pub use render::{markdown_text, to_html, to_markdown, to_plain_text};
pub use salvage::{parse_response, preview};
pub use stream::{Ending, StreamView};

/// A run of text with one style.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Span {
    /// The text, sanitised.
    pub text: String,
    /// Strong (`<b>`, `**`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub bold: bool,
    /// Emphasised (`<em>`, `*`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub italic: bool,
}

/// One paragraph: sanitized, whitespace-collapsed spans (no empty spans, neighbours differ in style).
/// A paragraph read back (from the store) is built again from its spans, so it holds to this
/// whatever wrote it, an older version's sanitizer included.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(from = "StoredParagraph")]
pub struct Paragraph {
    /// Its runs of text, in order.
    pub spans: Vec<Span>,
}

/// A paragraph as serialized, not yet checked.
#[derive(serde::Deserialize)]
struct StoredParagraph {
    spans: Vec<Span>,
}

impl From<StoredParagraph> for Paragraph {
    fn from(stored: StoredParagraph) -> Self {
        let mut b = markup::Builder::default();
        for span in &stored.spans {
            b.push_styled(&span.text, span.bold, span.italic);
        }
        b.flush();
        b.paras.pop().unwrap_or_default()
    }
}

impl Paragraph {
    /// The paragraph's text without styling.
    pub fn plain_text(&self) -> String {
        self.spans.iter().map(|s| s.text.as_str()).collect()
    }

    /// An unstyled paragraph; `text` is sanitized and its whitespace collapsed (no markup parsing).
    pub fn plain(text: &str) -> Self {
        let mut b = markup::Builder::default();
        b.push_str(text);
        b.flush();
        b.paras.pop().unwrap_or_default()
    }
}

/// Helpers the tests of every part share.
#[cfg(test)]
pub(crate) mod test_support {
    use super::{Paragraph, Span, parse_response};

    /// A span of `text`.
    pub fn span(text: &str, bold: bool, italic: bool) -> Span {
        Span {
            text: text.into(),
            bold,
            italic,
        }
    }

    /// The plain text of each paragraph `raw` parses into.
    pub fn texts(raw: &str) -> Vec<String> {
        parse_response(raw)
            .iter()
            .map(Paragraph::plain_text)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::span;
    use super::*;

    #[test]
    fn serde_and_constructors() {
        let p = Paragraph::plain("  a\x1b[1m \n b  ");
        assert_eq!(p.spans, [span("a b", false, false)]);
        assert!(Paragraph::plain(" \t").spans.is_empty());
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(json, r#"{"spans":[{"text":"a b"}]}"#);
        let back: Paragraph =
            serde_json::from_str(r#"{"spans":[{"text":"x","bold":true}]}"#).unwrap();
        assert_eq!(back.spans, [span("x", true, false)]);
        // What an older sanitizer let through is removed on the way back in.
        let old = r#"{"spans":[{"text":"pay\u200bpal \u202eevil","bold":true},{"text":" \u001b[2Jb","bold":true},{"text":"\u2066","italic":true}]}"#;
        let back: Paragraph = serde_json::from_str(old).unwrap();
        assert_eq!(back.spans, [span("paypal evil b", true, false)]);
        let clean: Paragraph = serde_json::from_str(&json).unwrap();
        assert_eq!(clean, p, "a clean paragraph comes back as it was");
    }
}
