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

/// The answer parsed into paragraphs, or `Err(why)` when `raw` is not an answer to a request
/// carrying `question` and `request_json` (the messages as sent).
pub fn check(raw: &str, question: &str, request_json: &str) -> Result<Vec<Paragraph>, String> {
    check_at_least(raw, question, request_json, MIN_WORDS)
}

/// [`check`], with `min_words` the fewest words an answer may have.
pub fn check_at_least(
    raw: &str,
    question: &str,
    request_json: &str,
    min_words: usize,
) -> Result<Vec<Paragraph>, String> {
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
    let all = texts.join(" ");
    let letters: Vec<usize> = texts.iter().map(|t| letters_of(t)).collect();
    if letters.iter().all(|&n| n == 0) {
        return Err(format!(
            "the model answered with placeholders or punctuation only ({}), not text",
            sample(&all)
        ));
    }
    // Paragraphs with no word in them: ":", ",", ": {", "...".
    let empty = letters.iter().filter(|&&n| n == 0).count();
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
            sample(&all)
        ));
    }
    // Keys and braces of a broken object read as text.
    let syntax = texts.iter().filter(|t| looks_like_json(t)).count();
    if syntax * 2 > texts.len() {
        return Err(format!(
            "the model's answer was raw JSON, not text ({})",
            sample(&all)
        ));
    }
    if has_words(question) && same_words(&all, question) {
        return Err("the model echoed the question back instead of answering".to_owned());
    }
    let words = words(&all);
    if words.len() < min_words {
        return Err(format!(
            "the model's answer was too short ({} words, at least {min_words} expected: {})",
            words.len(),
            sample(&all)
        ));
    }
    // Each triple by a hash of its words: sorting numbers, not strings.
    let mut triples: Vec<u64> = words.windows(3).map(fingerprint).collect();
    let total = triples.len();
    if total >= MIN_TRIPLES {
        triples.sort_unstable();
        triples.dedup();
        if triples.len() * 5 < total * 3 {
            return Err(format!(
                "the model kept repeating itself ({} of {total} word triples were repeats: {})",
                total - triples.len(),
                sample(&all)
            ));
        }
    }
    // Every paragraph a copy of something the request itself said: an echo, not an answer.
    // Most answers have a word the request never used, found in its first few words: searched
    // for in the request as sent, without decoding or lower-casing all of it.
    let mut request = Request::new(request_json);
    let new_word = |t: &String| {
        t.split(|c: char| !c.is_alphanumeric())
            .filter(|w| w.chars().count() >= 3)
            .any(|w| !request.contains(w))
    };
    if texts.iter().any(new_word) {
        return Ok(paragraphs);
    }
    let request = normalise(&request_text(request_json));
    if texts.iter().all(|t| {
        let n = normalise(t);
        !n.is_empty() && request.contains(&n)
    }) {
        return Err(format!(
            "the model only repeated the request's own data ({})",
            sample(&all)
        ));
    }
    Ok(paragraphs)
}

/// The request as sent, searched case-insensitively for an answer's words.
struct Request<'a> {
    raw: &'a str,
    /// Its ASCII letters in lower case (all else as sent), made for the first ASCII word.
    ascii_lower: Option<String>,
    /// All of it in lower case, made for the first word with other letters that have case.
    lower: Option<Cow<'a, str>>,
}

impl<'a> Request<'a> {
    fn new(raw: &'a str) -> Self {
        Self {
            raw,
            ascii_lower: None,
            lower: None,
        }
    }

    /// Whether the request has `word` in it, in any case. An ASCII word is looked for with
    /// ASCII case ignored; a word of a script without case (Chinese, Japanese, Thai) as it is;
    /// any other in the request lower-cased. So an ASCII word is not found where only a
    /// non-ASCII letter lower-cases to it (the Kelvin sign to `k`, `İ` to `i` and a dot): the
    /// check then passes an answer it would have looked at further, never the reverse.
    fn contains(&mut self, word: &str) -> bool {
        let raw = self.raw;
        if word.is_ascii() {
            let haystack = self
                .ascii_lower
                .get_or_insert_with(|| raw.to_ascii_lowercase());
            return haystack.contains(lower(word).as_ref());
        }
        if word.chars().all(unspaced) {
            return raw.contains(word);
        }
        self.lower
            .get_or_insert_with(|| lower(raw))
            .contains(lower(word).as_ref())
    }
}

/// A 64-bit FNV-1a hash of `words` (each ended by a 0xff byte, which UTF-8 never has).
fn fingerprint(words: &[Cow<'_, str>]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in words
        .iter()
        .flat_map(|w| w.bytes().chain(std::iter::once(0xff)))
    {
        hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// The words of `s`, lower case; in scripts written without spaces (Chinese, Japanese, Thai)
/// each character counts as a word.
fn words(s: &str) -> Vec<Cow<'_, str>> {
    let mut out = Vec::new();
    for token in s.split(|c: char| !c.is_alphanumeric()) {
        if token.is_empty() {
            continue;
        }
        if token.chars().any(unspaced) {
            out.extend(
                token
                    .char_indices()
                    .map(|(i, c)| Cow::Borrowed(&token[i..i + c.len_utf8()])),
            );
        } else {
            out.push(lower(token));
        }
    }
    out
}

/// `s` in lower case, as `str::to_lowercase` has it (but for Greek's final sigma where it meets
/// ASCII). Runs of ASCII are folded byte by byte, and ASCII with nothing to fold is not copied
/// (most of an answer's words).
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
    normalised(s).collect()
}

/// [`normalise`]'s text as it is made, one char at a time.
fn normalised(s: &str) -> impl Iterator<Item = char> + '_ {
    s.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .enumerate()
        .flat_map(|(i, w)| {
            (i > 0)
                .then_some(' ')
                .into_iter()
                .chain(w.chars().flat_map(char::to_lowercase))
        })
}

/// Whether `a` and `b` have the same words in the same order, case aside: [`normalise`]'s
/// comparison, made without building either text (it stops at the first difference).
fn same_words(a: &str, b: &str) -> bool {
    normalised(a).eq(normalised(b))
}

/// Whether `s` has a letter or digit in it.
fn has_words(s: &str) -> bool {
    s.chars().any(char::is_alphanumeric)
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

    #[test]
    fn triples_hash_by_their_words_and_where_they_break() {
        let w = |s: &[&'static str]| s.iter().map(|&x| Cow::Borrowed(x)).collect::<Vec<_>>();
        assert_eq!(
            fingerprint(&w(&["a", "b", "c"])),
            fingerprint(&[Cow::Owned("a".to_owned()), "b".into(), "c".into()])
        );
        assert_ne!(
            fingerprint(&w(&["ab", "c", "d"])),
            fingerprint(&w(&["a", "bc", "d"]))
        );
        assert_ne!(
            fingerprint(&w(&["a", "b", "c"])),
            fingerprint(&w(&["c", "b", "a"]))
        );
    }

    #[test]
    fn where_only_non_ascii_letters_fold_to_it_an_ascii_word_is_not_found() {
        // U+212A KELVIN SIGN lower-cases to `k`; U+0130 to `i` and a combining dot.
        let raw = "{\"text\": \"\u{212a}ELVIN TAX\u{130}\"}";
        let lowered = lower(raw);
        let mut request = Request::new(raw);
        for word in ["kelvin", "KELVIN", "taxi", "elvin", "tax", "text"] {
            // Whatever is found now was found before.
            if request.contains(word) {
                assert!(lowered.contains(lower(word).as_ref()), "{word}");
            }
        }
        assert!(!request.contains("kelvin"));
        assert!(lowered.contains("kelvin"));
        assert!(request.contains("elvin") && request.contains("TEXT"));
    }

    #[test]
    fn the_request_is_searched_as_lower_casing_all_of_it_would() {
        let raw =
            "{\"Question\": \"Ölçü İstanbul ΚΕΙΜΕΝΑ\", \"text\": \"豐亨，王假之 Fang FENG\"} END";
        let lowered = lower(raw);
        let mut request = Request::new(raw);
        for word in [
            "question",
            "QUESTION",
            "qUeStIoN",
            "fang",
            "FENG",
            "feng",
            "end",
            "END",
            "{\"q",
            "raw",
            "endx",
            "xend",
            "Ölçü",
            "ölçü",
            "ÖLÇÜ",
            "κειμενα",
            "Κειμενα",
            "豐亨",
            "王假之",
            "豐王",
            "istanbul",
            "一",
        ] {
            assert_eq!(
                request.contains(word),
                lowered.contains(lower(word).as_ref()),
                "{word}"
            );
        }
    }

    #[test]
    fn same_words_is_normalised_equality() {
        let texts = [
            "",
            "...",
            "Should I take the job in Lisbon?",
            "should i TAKE the job, in Lisbon",
            "Should I take the job in Lisbon now?",
            "ShouldI take the job in Lisbon",
            "İstanbul ΚΕΙΜΕΝΑ",
            "i̇stanbul κειμενα",
        ];
        for a in texts {
            for b in texts {
                assert_eq!(
                    same_words(a, b),
                    normalise(a) == normalise(b),
                    "{a:?} {b:?}"
                );
            }
        }
    }

    #[test]
    fn an_answer_comes_back_parsed() {
        let raw = format!(r#"{{"response": ["<p>The <b>first</b>.</p>", "<p>{PROSE}</p>"]}}"#);
        let paragraphs = verdict(&raw).unwrap();
        assert_eq!(paragraphs, parse_response(&raw));
        assert_eq!(paragraphs.len(), 2);
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

    fn verdict(raw: &str) -> Result<Vec<Paragraph>, String> {
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
            assert!(verdict(raw).is_ok(), "{raw}: {:?}", verdict(raw));
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
