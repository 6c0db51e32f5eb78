//! Token estimates, made where a count is needed and no server gave one: a model's answer when
//! its endpoint reports no usage, the tokens-per-minute budget before a request is sent, and the
//! follow-up budget. The classic text (the offline provider) is counted by nobody: it has no
//! tokens.
//!
//! The estimate reads the text once, by runs of one kind of character, with no table: words
//! (a token per 8 letters, begun or not), numbers (per 3 digits), punctuation (per 2 marks),
//! line breaks, and Chinese, Japanese and Korean characters (14 tokens per 13). Against
//! tiktoken's o200k_base (OpenAI's current models), measured when it replaced it, it was within
//! 1% on Legge's 448 texts (22,376 tokens) and the classical Chinese (12,275), 6% over on 434
//! section requests (1.16 million) and 1% over on the offline answers, each text within 17% of
//! its count (BENCHMARKS.md, "The offline path"). The models this app also serves (Llama, Qwen,
//! Gemma...) tokenize differently again, so o200k was itself an estimate for them; the table it
//! needed took 0.45 s to build in every process that counted.

use crate::plan::ChatMessage;

/// What kind of text a character begins or continues.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Letter,
    Digit,
    Space,
    Newline,
    Cjk,
    Mark,
}

fn class(c: char) -> Class {
    match c {
        '\n' | '\r' => Class::Newline,
        c if c.is_whitespace() => Class::Space,
        c if c.is_ascii_digit() => Class::Digit,
        // Han, kana, hangul, and the full-width punctuation written with them.
        '\u{2E80}'..='\u{9FFF}'
        | '\u{AC00}'..='\u{D7AF}'
        | '\u{F900}'..='\u{FAFF}'
        | '\u{FF00}'..='\u{FFEF}'
        | '\u{20000}'..='\u{3FFFF}' => Class::Cjk,
        c if c.is_alphabetic() => Class::Letter,
        _ => Class::Mark,
    }
}

/// Letters a token covers, at most.
const LETTERS: usize = 8;
/// Digits a token covers, at most (o200k splits numbers in threes).
const DIGITS: usize = 3;
/// Punctuation marks a token covers, at most.
const MARKS: usize = 2;
/// Tokens per Chinese, Japanese or Korean character: 14 in 13.
const CJK: (usize, usize) = (14, 13);

/// The tokens a run of `n` characters of `class` takes.
fn run_tokens(class: Class, n: usize) -> usize {
    match class {
        Class::Letter => n.div_ceil(LETTERS),
        Class::Digit => n.div_ceil(DIGITS),
        Class::Mark => n.div_ceil(MARKS),
        Class::Newline => 1,
        Class::Cjk => (n * CJK.0).div_ceil(CJK.1),
        // A space runs into the word after it; a longer gap is a token of its own.
        Class::Space => usize::from(n > 1),
    }
}

/// Tokens in `text`, estimated.
pub fn count(text: &str) -> u32 {
    let mut tokens = 0usize;
    let mut run: Option<(Class, usize)> = None;
    for c in text.chars() {
        let k = class(c);
        run = match run {
            Some((last, n)) if last == k => Some((last, n + 1)),
            Some((last, n)) => {
                tokens += run_tokens(last, n);
                Some((k, 1))
            }
            None => Some((k, 1)),
        };
    }
    if let Some((last, n)) = run {
        tokens += run_tokens(last, n);
    }
    u32::try_from(tokens).unwrap_or(u32::MAX)
}

/// Tokens a chat request's messages take, with the usual per-message overhead of 3 tokens and 3
/// for the reply's priming (as OpenAI's cookbook counts them).
pub fn count_messages(messages: &[ChatMessage]) -> u32 {
    messages
        .iter()
        .map(|m| 3 + count(&m.role) + count(&m.content))
        .sum::<u32>()
        + 3
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oracle::{chinese, hexagram};

    #[test]
    fn counts_grow_with_text_and_include_overhead() {
        assert_eq!(count(""), 0);
        assert!(count("hello world") >= 2);
        assert!(count(&"thunder and fire ".repeat(100)) > count("thunder and fire") * 50);
        let one = vec![ChatMessage {
            role: "user".into(),
            content: "hi".into(),
        }];
        assert_eq!(count_messages(&one), 3 + count("user") + count("hi") + 3);
    }

    #[test]
    fn each_kind_of_text_is_counted_by_its_runs() {
        // Words: a short one is a token, a long one more; the space before a word is its own.
        assert_eq!(count("the"), 1);
        assert_eq!(count(" the"), 1);
        assert_eq!(count("correspondences"), 2);
        // Numbers in threes, punctuation in twos, each line break one.
        assert_eq!(count("2026"), 2);
        assert_eq!(count(r#"{""#), 1);
        assert_eq!(count("a\nb"), 3);
        // Chinese by the character.
        assert_eq!(count("潜龙勿用"), 5);
        assert_eq!(count("乾：元亨。利贞。"), 9);
    }

    /// tiktoken's o200k_base counts of the same texts, measured when the estimate replaced it.
    const O200K_LEGGE: u32 = 22_376;
    const O200K_CHINESE: u32 = 12_275;

    #[test]
    fn the_estimate_of_the_book_is_within_5_percent_of_o200k() {
        let mut legge = 0;
        let mut classical = 0;
        for n in 1..=64u8 {
            let h = hexagram(n).unwrap();
            legge += count(&format!("{} {}", h.judgment, h.image));
            legge += (1..=6).map(|l| count(h.line_text(l))).sum::<u32>();
            let c = chinese(n).unwrap();
            classical += count(&format!("{}{}{}", c.judgment, c.tuan, c.image));
            classical += count(&c.line_texts.join(""));
        }
        let near = |estimate: u32, o200k: u32| estimate.abs_diff(o200k) * 20 <= o200k;
        assert!(near(legge, O200K_LEGGE), "{legge} against {O200K_LEGGE}");
        assert!(
            near(classical, O200K_CHINESE),
            "{classical} against {O200K_CHINESE}"
        );
    }
}
