//! The response parser (`iching::answer`): a model's answer, as any bytes, through
//! `parse_response`, `preview`, the answer check, the sanitizers, the renderers (plain text at a
//! width, Markdown, HTML) and the terminal's word wrap.
//!
//! Input: one byte `b`, then the answer (lossy UTF-8). Every answer is parsed and its paragraphs
//! checked; then `b % 4` picks what else is done with it: 0 the HTML round trip and Markdown,
//! 1 the wraps at `b / 4 + 1` columns (1 to 64), 2 the preview and the sanitizers, 3 a plain
//! paragraph, the Markdown escape and the answer check.
//!
//! Checked: nothing panics; paragraphs hold only sanitized, whitespace-collapsed text in
//! non-empty spans whose neighbours differ in style; the sanitizers leave no control, bidi or
//! zero-width character and are idempotent; the HTML rendering parses back to the same
//! paragraphs; wrapping loses no character, keeps every line within the width (or to one
//! character) and never starts a line with a character of no width cut from the one before.
#![no_main]

use iching::answer::{
    Paragraph, markdown_text, parse_response, preview, quality, sanitize_inline,
    sanitize_multiline, to_html, to_markdown, to_plain_text,
};
use iching::text::wrap_runs;
use libfuzzer_sys::fuzz_target;
use unicode_width::UnicodeWidthChar;

/// What a sanitized text may never hold (besides `\n`, which `sanitize_multiline` keeps).
fn forbidden(c: char) -> bool {
    (c.is_control() && c != '\n')
        || matches!(c,
            '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}'
            | '\u{061c}' | '\u{200b}'..='\u{200d}' | '\u{2060}' | '\u{feff}')
}

fn check_paragraphs(paras: &[Paragraph]) {
    for p in paras {
        assert!(!p.spans.is_empty(), "an empty paragraph");
        for w in p.spans.windows(2) {
            assert!(
                (w[0].bold, w[0].italic) != (w[1].bold, w[1].italic),
                "neighbouring spans share a style: {p:?}"
            );
        }
        for s in &p.spans {
            assert!(!s.text.is_empty(), "an empty span: {p:?}");
            for c in s.text.chars() {
                assert!(
                    c == ' ' || !(c.is_whitespace() || forbidden(c)),
                    "{c:?} in a paragraph: {:?}",
                    s.text
                );
            }
        }
        let text = p.plain_text();
        assert!(!text.contains("  "), "uncollapsed whitespace: {text:?}");
        assert_eq!(text.trim(), text, "whitespace at an end: {text:?}");
    }
}

/// Every non-whitespace character, in order.
fn letters(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}

fn check_wrap(paras: &[Paragraph], cols: usize) {
    // The plain-text rendering wraps each paragraph without losing a character.
    let unwrapped = to_plain_text(paras, None);
    let wrapped = to_plain_text(paras, Some(cols));
    assert_eq!(letters(&unwrapped), letters(&wrapped), "wrapping lost text");

    // The terminal's styled wrap: the same characters in the same styles; no line wider than
    // the width unless one character alone is; a character of no width (a combining mark, a
    // variation selector) never begins a line unless it begins a word.
    for p in paras {
        let runs: Vec<(&str, (bool, bool))> = p
            .spans
            .iter()
            .map(|s| (s.text.as_str(), (s.bold, s.italic)))
            .collect();
        let mut source = Vec::new(); // (character, style, begins a word)
        let mut after_space = true;
        for &(text, style) in &runs {
            for c in text.chars() {
                if c.is_whitespace() {
                    after_space = true;
                } else {
                    source.push((c, style, after_space));
                    after_space = false;
                }
            }
        }
        let lines = wrap_runs(&runs, cols);
        let mut at = 0;
        for line in &lines {
            assert!(!line.is_empty(), "an empty line");
            let (mut columns, mut wide, mut first) = (0, 0, true);
            for (text, style) in line {
                for c in text.chars().filter(|c| !c.is_whitespace()) {
                    let w = c.width().unwrap_or(0);
                    assert!(
                        w > 0 || !first || source[at].2,
                        "{c:?} of no width began a line: {line:?}"
                    );
                    assert_eq!(
                        (c, *style),
                        (source[at].0, source[at].1),
                        "wrap changed the text"
                    );
                    columns += w;
                    wide += usize::from(w > 0);
                    first = false;
                    at += 1;
                }
                columns += text.chars().filter(|c| c.is_whitespace()).count();
            }
            assert!(
                columns <= cols || wide == 1,
                "a line of {columns} columns at width {cols}: {line:?}"
            );
        }
        assert_eq!(at, source.len(), "wrapping lost text");
    }
}

fuzz_target!(|input: &[u8]| {
    let Some((&b, rest)) = input.split_first() else {
        return;
    };
    let raw = String::from_utf8_lossy(rest);

    let paras = parse_response(&raw);
    check_paragraphs(&paras);

    // One view of the answer per input, so each run stays quick.
    match b % 4 {
        0 => {
            // HTML back in, as the JSON the prompts ask for: the same paragraphs.
            let html = to_html(&paras);
            let json = serde_json::json!({ "response": [html] }).to_string();
            assert_eq!(
                parse_response(&json),
                paras,
                "HTML did not parse back: {html:?}"
            );
            let md = to_markdown(&paras);
            assert!(!md.chars().any(forbidden), "control in Markdown: {md:?}");
        }
        1 => check_wrap(&paras, usize::from(b >> 2) + 1),
        2 => {
            let p = preview(&raw);
            assert!(
                !p.chars().any(|c| forbidden(c) || c == '\n'),
                "unsanitized preview: {p:?}"
            );
            let inline = sanitize_inline(&raw);
            assert!(
                !inline.chars().any(|c| forbidden(c) || c == '\n'),
                "sanitize_inline: {inline:?}"
            );
            assert_eq!(
                sanitize_inline(&inline),
                inline,
                "sanitize_inline is not idempotent"
            );
            let multi = sanitize_multiline(&raw);
            assert!(
                !multi.chars().any(forbidden),
                "sanitize_multiline: {multi:?}"
            );
            assert_eq!(
                sanitize_multiline(&multi),
                multi,
                "sanitize_multiline is not idempotent"
            );
        }
        _ => {
            let one = Paragraph::plain(&raw);
            if !one.spans.is_empty() {
                check_paragraphs(std::slice::from_ref(&one));
            }
            // markdown_text cleans as well as escapes (controls out, one line, trimmed), so it
            // may be shorter than what it was given; it never leaves a line break or an escape.
            let escaped = markdown_text(&raw);
            assert!(
                !escaped.contains(['\n', '\r', '\u{1b}']),
                "markdown_text: {escaped:?}"
            );
            // An answer the check passes comes back parsed, as the renderers would parse it.
            if let Ok(paragraphs) = quality::check(&raw, "Should I take the job in Lisbon?", "[]") {
                assert!(!paragraphs.is_empty(), "check passed an answer with no text");
                assert_eq!(paragraphs, parse_response(&raw), "check parsed differently");
            }
        }
    }
});
