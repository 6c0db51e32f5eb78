//! Whether a model's answer is an answer. Any readable text is kept, whatever its format; but
//! what small models produce when they lose the thread is refused as malformed (and so retried):
//! nothing at all, the prompt's own placeholder (`"<p>...</p>"`), the request's data echoed back
//! (the question, a hexagram's symbol or name), or JSON punctuation left over from a broken
//! object. The message says what came back, so a failure can be understood.

use super::{Paragraph, parse_response};

/// Fewer letters or digits than this, all told, is not a section.
const MIN_LETTERS: usize = 12;

/// `Err(why)` when `raw` is not an answer to a request carrying `question` and `request_json`
/// (the messages as sent).
pub fn check(raw: &str, question: &str, request_json: &str) -> Result<(), String> {
    if raw.trim().is_empty() {
        return Err("the model's answer was empty".to_owned());
    }
    let paragraphs = parse_response(raw);
    if paragraphs.is_empty() {
        return Err(format!(
            "the model's answer had no readable text (it sent {})",
            sample(raw)
        ));
    }
    let texts: Vec<String> = paragraphs.iter().map(Paragraph::plain_text).collect();
    let letters: usize = texts.iter().map(|t| letters_of(t)).sum();
    if letters == 0 {
        return Err(format!(
            "the model answered with placeholders or punctuation only ({}), not text",
            sample(&texts.join(" "))
        ));
    }
    // Paragraphs with no word in them: ":", ",", ": {", "...".
    let empty = texts.iter().filter(|t| letters_of(t) == 0).count();
    if empty * 2 > texts.len() {
        return Err(format!(
            "the model's answer was mostly JSON punctuation ({empty} of {} paragraphs had no words)",
            texts.len()
        ));
    }
    // Keys and braces of a broken object read as text.
    let syntax = texts.iter().filter(|t| looks_like_json(t)).count();
    if syntax * 2 > texts.len() {
        return Err(format!(
            "the model's answer was raw JSON, not text ({})",
            sample(&texts.join(" "))
        ));
    }
    let norm_question = normalise(question);
    let all = normalise(&texts.join(" "));
    if !norm_question.is_empty() && all == norm_question {
        return Err("the model echoed the question back instead of answering".to_owned());
    }
    if letters < MIN_LETTERS {
        return Err(format!(
            "the model's answer was too short to be a section ({})",
            sample(&texts.join(" "))
        ));
    }
    // Every paragraph a copy of something the request itself said: an echo, not an answer.
    // Most answers have a word the request never used: found without decoding the request.
    let raw = request_json.to_lowercase();
    let new_word = |t: &String| {
        t.split(|c: char| !c.is_alphanumeric())
            .filter(|w| w.chars().count() >= 3)
            .any(|w| !raw.contains(&w.to_lowercase()))
    };
    if texts.iter().any(new_word) {
        return Ok(());
    }
    let request = normalise(&request_text(request_json));
    if texts.iter().all(|t| {
        let n = normalise(t);
        !n.is_empty() && request.contains(&n)
    }) {
        return Err(format!(
            "the model only repeated the request's own data ({})",
            sample(&texts.join(" "))
        ));
    }
    Ok(())
}

/// Letters and digits in `s`.
fn letters_of(s: &str) -> usize {
    s.chars().filter(|c| c.is_alphanumeric()).count()
}

/// Text that is mostly the scaffolding of a JSON object: `{"key": ...`, `"a", "b"`, `],`.
fn looks_like_json(s: &str) -> bool {
    let t = s.trim();
    let syntax = t
        .chars()
        .filter(|c| matches!(c, '{' | '}' | '[' | ']' | '"' | ':'))
        .count();
    (t.starts_with(['{', '[']) && t.contains(['"', ':']))
        || t.contains("\":")
        || (syntax * 4 > t.chars().count() && syntax >= 4)
}

/// Lower case, words only, single spaces: for comparing texts that differ only in punctuation.
fn normalise(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for word in s
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        if !out.is_empty() {
            out.push(' ');
        }
        out.extend(word.chars().flat_map(char::to_lowercase));
    }
    out
}

/// The request's messages as one text (JSON strings decoded), or the raw JSON if it will not parse.
fn request_text(request_json: &str) -> String {
    match serde_json::from_str::<Vec<crate::plan::ChatMessage>>(request_json) {
        Ok(messages) => messages
            .into_iter()
            .map(|m| m.content)
            .collect::<Vec<_>>()
            .join("\n"),
        Err(_) => request_json.to_owned(),
    }
}

/// A short, safe sample of what came back, for the message.
fn sample(s: &str) -> String {
    let clean = super::sanitize_inline(s.trim());
    let mut out: String = clean.chars().take(60).collect();
    if clean.chars().count() > 60 {
        out.push('…');
    }
    format!("{out:?}")
}

#[cfg(test)]
mod tests {
    use super::*;

    const QUESTION: &str = "Should I take the job in Lisbon?";

    fn request() -> String {
        serde_json::to_string(&[
            crate::plan::ChatMessage {
                role: "system".into(),
                content: "Answer as {\"response\": [\"<p>...</p>\", \"<p>...</p>\"]}".into(),
            },
            crate::plan::ChatMessage {
                role: "user".into(),
                content: format!(
                    "{{\"question\": \"{QUESTION}\", \"symbol\": \"䷶\", \"name\": \"Feng\"}}"
                ),
            },
        ])
        .unwrap()
    }

    fn verdict(raw: &str) -> Result<(), String> {
        check(raw, QUESTION, &request())
    }

    #[test]
    fn real_answers_in_any_format_pass() {
        for raw in [
            r#"{"response": ["<p>The hexagram speaks of <b>abundance</b> at its height.</p>"]}"#,
            "Abundance is a time of fullness. Like the sun at noon, it cannot last.\n\nAct now.",
            "```json\n{\"response\": [\"<p>Fullness comes before the decline; use it well.</p>\"]}\n```",
            "Here is the section:\n{\"response\": [\"<p>Thunder and lightning arrive together.</p>\"]}",
            "**Feng** means abundance: *the king reaches it*, and need not grieve.",
            "豐卦象征丰盛与光明，如日中天，应当及时行动。",
        ] {
            assert_eq!(verdict(raw), Ok(()), "{raw}");
        }
    }

    #[test]
    fn what_small_models_sent_when_lost_is_refused() {
        let cases = [
            ("", "empty"),
            ("   \n", "empty"),
            (
                r#"{"response": ["<p>...</p>", "<p>...</p>"]}"#,
                "placeholders",
            ),
            (r#"["<p>..</p>", "<p>..</p>"]"#, "placeholders"),
            (
                &format!(r#"{{"question": "{QUESTION}"}}"#),
                "echoed the question",
            ),
            (QUESTION, "echoed the question"),
            ("䷶", "punctuation"),
            (
                r#"{"response": [":", ",", ": {", ":", ","]}"#,
                "punctuation",
            ),
            (
                r#"{"response": ["{\"name\": \"Feng\", \"symbol\": \"䷶\"}", "\"lines\": [9, 8]"]}"#,
                "raw JSON",
            ),
            ("Feng", "too short"),
            (
                r#"{"response": ["Feng", "Should I take the job in Lisbon"]}"#,
                "repeated",
            ),
        ];
        for (raw, why) in cases {
            let err = verdict(raw).expect_err(raw);
            assert!(err.contains(why), "{raw:?}: {err}");
        }
    }
}
