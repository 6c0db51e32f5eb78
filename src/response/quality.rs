//! Whether a model's answer is an answer. Any readable text is kept, whatever its format; but
//! what small models produce when they lose the thread is refused as malformed (and so retried):
//! nothing at all, the prompt's own placeholder (`"<p>...</p>"`), the request's data echoed back
//! (the question, a hexagram's symbol or name), JSON punctuation left over from a broken
//! object, a scrap far shorter than any section, or one phrase over and over. The message says
//! what came back, so a failure can be understood. (Fluent nonsense reads as text and is kept:
//! no rule here can tell it from an answer.) Recorded answers of a real small model are in
//! `tests/fixtures/small_model_answers/`.

use std::borrow::Cow;

use super::{Paragraph, parse_response};

/// Fewer words than this is not a section (the shortest asks for about a hundred).
const MIN_WORDS: usize = 30;
/// Fewer words than this is not an answer to a follow-up question (which may be brief).
pub const MIN_FOLLOWUP_WORDS: usize = 8;
/// With at least this many word triples, fewer than 60% of them distinct is a loop (prose
/// runs above 90%).
const MIN_TRIPLES: usize = 20;

/// `Err(why)` when `raw` is not an answer to a request carrying `question` and `request_json`
/// (the messages as sent).
pub fn check(raw: &str, question: &str, request_json: &str) -> Result<(), String> {
    check_at_least(raw, question, request_json, MIN_WORDS)
}

/// [`check`], with `min_words` the fewest words an answer may have.
pub fn check_at_least(
    raw: &str,
    question: &str,
    request_json: &str,
    min_words: usize,
) -> Result<(), String> {
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
    // The prompt's "<p>...</p>" left standing among other paragraphs.
    if texts
        .iter()
        .any(|t| t.chars().all(|c| matches!(c, '.' | '…' | ' ')))
    {
        return Err(format!(
            "the model left the prompt's placeholder in its answer ({})",
            sample(&texts.join(" "))
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
    let words = words(&texts.join(" "));
    if words.len() < min_words {
        return Err(format!(
            "the model's answer was too short ({} words, at least {min_words} expected: {})",
            words.len(),
            sample(&texts.join(" "))
        ));
    }
    let triples: Vec<&[String]> = words.windows(3).collect();
    if triples.len() >= MIN_TRIPLES {
        let mut distinct = triples.clone();
        distinct.sort_unstable();
        distinct.dedup();
        if distinct.len() * 5 < triples.len() * 3 {
            return Err(format!(
                "the model kept repeating itself ({} of {} word triples were repeats: {})",
                triples.len() - distinct.len(),
                triples.len(),
                sample(&texts.join(" "))
            ));
        }
    }
    // Every paragraph a copy of something the request itself said: an echo, not an answer.
    // Most answers have a word the request never used: found without decoding the request.
    let raw = lower(request_json);
    let new_word = |t: &String| {
        t.split(|c: char| !c.is_alphanumeric())
            .filter(|w| w.chars().count() >= 3)
            .any(|w| !raw.contains(lower(w).as_ref()))
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

/// The words of `s`, lower case; in scripts written without spaces (Chinese, Japanese, Thai)
/// each character counts as a word.
fn words(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    for token in s.split(|c: char| !c.is_alphanumeric()) {
        if token.is_empty() {
            continue;
        }
        if token.chars().any(unspaced) {
            out.extend(token.chars().map(String::from));
        } else {
            out.push(lower(token).into_owned());
        }
    }
    out
}

/// `s` in lower case, as `str::to_lowercase` has it (but for Greek's final sigma where it meets
/// ASCII). Runs of ASCII are folded byte by byte, and ASCII with nothing to fold is not copied:
/// the request these checks read is kilobytes of JSON with Chinese in it, and mapping all of it
/// char by char took 7% of the CPU of a `batch` at 256 requests in flight (3% this way).
fn lower(s: &str) -> Cow<'_, str> {
    if s.is_ascii() && !s.bytes().any(|b| b.is_ascii_uppercase()) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while !rest.is_empty() {
        // An ASCII byte always starts a character, and so does the first byte after one.
        let ascii = rest
            .bytes()
            .position(|b| !b.is_ascii())
            .unwrap_or(rest.len());
        let (run, tail) = rest.split_at(ascii);
        let start = out.len();
        out.push_str(run);
        out[start..].make_ascii_lowercase();
        let other = tail
            .bytes()
            .position(|b| b.is_ascii())
            .unwrap_or(tail.len());
        let (run, tail) = tail.split_at(other);
        out.push_str(&run.to_lowercase());
        rest = tail;
    }
    Cow::Owned(out)
}

/// A character of a script written without spaces between words.
fn unspaced(c: char) -> bool {
    matches!(c,
        '\u{3040}'..='\u{30ff}' // kana
        | '\u{3400}'..='\u{4dbf}' // CJK extension A
        | '\u{4e00}'..='\u{9fff}' // CJK unified ideographs
        | '\u{f900}'..='\u{faff}' // compatibility ideographs
        | '\u{0e00}'..='\u{0e7f}' // Thai
    )
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
    /// A Legge text the request carries.
    const LEGGE: &str = "Fang intimates progress and development. When a king has reached the \
        point which the name denotes there is no occasion to be anxious through fear of a \
        change. Let him be as the sun at noon.";
    /// Some ordinary prose, so that an answer is as long as a short section.
    const PROSE: &str = "Work steadily while the light is full, and prepare quietly for the \
        afternoon that follows; the people around you will remember how you carried yourself \
        when things went well, more than anything you said.";

    #[test]
    fn lower_case_is_the_standard_library_s_for_ascii_chinese_and_other_scripts() {
        for s in [
            "",
            "plain words",
            "Mixed Case ASCII, with {\"JSON\": [1, 2]}",
            "豐 Feng: ABUNDANCE 豐亨，王假之",
            "Ελληνικά ΚΕΙΜΕΝΑ and İstanbul, Straße, ÅNGSTRÖM",
            "ends in non-ASCII: Ü",
            "Ü starts it",
        ] {
            assert_eq!(lower(s), s.to_lowercase(), "{s}");
        }
        assert!(matches!(lower("already lower"), Cow::Borrowed(_)));
    }

    fn request() -> String {
        serde_json::to_string(&[
            crate::plan::ChatMessage {
                role: "system".into(),
                content: "Answer as {\"response\": [\"<p>...</p>\", \"<p>...</p>\"]}".into(),
            },
            crate::plan::ChatMessage {
                role: "user".into(),
                content: format!(
                    "{{\"question\": \"{QUESTION}\", \"symbol\": \"䷶\", \"name\": \"Feng\", \"text\": \"{LEGGE}\"}}"
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
            &format!(
                r#"{{"response": ["<p>The hexagram speaks of <b>abundance</b> at its height. {PROSE}</p>"]}}"#
            ),
            &format!(
                "Abundance is a time of fullness. Like the sun at noon, it cannot last.\n\n{PROSE}"
            ),
            &format!(
                "```json\n{{\"response\": [\"<p>Fullness comes before the decline. {PROSE}</p>\"]}}\n```"
            ),
            &format!(
                "Here is the section:\n{{\"response\": [\"<p>Thunder and lightning arrive together. {PROSE}</p>\"]}}"
            ),
            &format!(
                "**Feng** means abundance: *the king reaches it*, and need not grieve. {PROSE}"
            ),
            "豐卦象征丰盛与光明，如日中天。君王达到鼎盛之时，不必忧虑，应当像正午的太阳一样普照万物，及时行动。",
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
                r#"{"response": ["<p>..</p>", "<b>A mountain in the sky, which the superior man sees and knows at once for what it is, a sign of the times to come and to be watched with care by all who wait</b>"]}"#,
                "placeholder",
            ),
            (
                "It is a question that may or may not have an answer. It is a question that may or may not have an answer. It is a question that may or may not have an answer. It is a question.",
                "repeating",
            ),
            (
                &format!(r#"{{"response": ["{LEGGE}", "Should I take the job in Lisbon"]}}"#),
                "repeated",
            ),
        ];
        for (raw, why) in cases {
            let err = verdict(raw).expect_err(raw);
            assert!(err.contains(why), "{raw:?}: {err}");
        }
    }
}
