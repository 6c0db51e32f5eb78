//! Salvaging an answer: finding the text a model meant in what it sent — JSON whole, fenced in
//! Markdown, embedded in prose, cut off mid-string, or no JSON at all — and the readable
//! one-line preview of a stream still arriving. The text found goes to [`super::markup`].

use serde_json::Value;

use super::Paragraph;
use super::markup::{markdown_to_markup, paragraphs_from};

/// Parse a model's answer into paragraphs. Never fails: garbage becomes plain paragraphs;
/// returns an empty vec only if there's no visible text at all.
pub fn parse_response(raw: &str) -> Vec<Paragraph> {
    let t = raw.trim_start_matches('\u{feff}').trim();
    if let Some(texts) = json_texts(t) {
        return paragraphs_from(&texts);
    }
    let inner = strip_fence(t).trim();
    if let Some(texts) = json_texts(inner) {
        return paragraphs_from(&texts);
    }
    if let (Some(a), Some(b)) = (inner.find('{'), inner.rfind('}'))
        && a < b
        && let Some(texts) = json_texts(&inner[a..=b])
    {
        return paragraphs_from(&texts);
    }
    if inner.starts_with(['{', '[', '"']) {
        let paras = paragraphs_from(&json_string_values(inner));
        if !paras.is_empty() {
            return paras;
        }
    }
    // Prose: all of it, the fence markers taken out. A fence around JSON frames the answer and
    // the words around it are chatter; around prose (or left open) it frames nothing, and the
    // text before it is as much the answer as the text inside.
    paragraphs_from(&[markdown_to_markup(&without_fences(t))])
}

/// `s` with its fence lines (a line that begins with three backticks, and its language tag)
/// taken out, and any other triple backtick dropped.
fn without_fences(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for line in s.split_inclusive('\n') {
        if line.trim_start().starts_with("```") {
            // Keep the line break, so the paragraphs on either side stay apart.
            out.push('\n');
        } else {
            out.push_str(&line.replace("```", ""));
        }
    }
    out
}

/// A best-effort readable one-line preview of a partial (still streaming) answer.
pub fn preview(partial: &str) -> String {
    let mut t = partial.trim_start_matches('\u{feff}').trim_start();
    if let Some(p) = t.find("```") {
        let after = &t[p + 3..];
        t = match after.find('\n') {
            Some(n) => &after[n + 1..],
            None => "",
        };
        if let Some(end) = t.find("```") {
            t = &t[..end];
        }
    }
    let t = t.trim_start();
    let mut body = if t.starts_with(['{', '[', '"']) {
        json_string_values(t).join("\n\n")
    } else if let Some(p) = t.find("{\"") {
        json_string_values(&t[p..]).join("\n\n")
    } else {
        t.to_string()
    };
    // Drop a trailing half-received tag or entity.
    if let Some(lt) = body.rfind('<')
        && !body[lt..].contains('>')
        && body[lt + 1..].starts_with(|c: char| c.is_ascii_alphabetic() || c == '/' || c == '!')
    {
        body.truncate(lt);
    }
    if let Some(amp) = body.rfind('&')
        && body.len() - amp <= 12
        && body[amp + 1..]
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '#')
    {
        body.truncate(amp);
    }
    let paras = paragraphs_from(&[body]);
    paras
        .iter()
        .map(Paragraph::plain_text)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Paragraph sources from a whole-text JSON value, or `None` if `s` is not usable JSON.
fn json_texts(s: &str) -> Option<Vec<String>> {
    if !s.starts_with(['{', '[', '"']) {
        return None;
    }
    match serde_json::from_str::<Value>(s).ok()? {
        Value::Object(m) => {
            if let Some((_, r)) = m.iter().find(|(k, _)| k.eq_ignore_ascii_case("response")) {
                return Some(item_texts(r));
            }
            let is_texts = |v: &&Value| match v {
                Value::String(_) => true,
                Value::Array(a) => a.iter().all(Value::is_string),
                _ => false,
            };
            let mut cands = m.values().filter(is_texts);
            match (cands.next(), cands.next()) {
                (Some(v), None) => Some(item_texts(v)),
                _ => None,
            }
        }
        v @ (Value::Array(_) | Value::String(_)) => Some(item_texts(&v)),
        _ => None,
    }
}

/// Every string (and number/bool) inside `v`, depth first; objects via their "response" or sole text field.
fn item_texts(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Number(n) => vec![n.to_string()],
        Value::Bool(b) => vec![b.to_string()],
        Value::Array(a) => a.iter().flat_map(item_texts).collect(),
        Value::Object(_) => json_texts(&v.to_string()).unwrap_or_default(),
        Value::Null => Vec::new(),
    }
}

/// Decoded string values (not keys) of possibly truncated JSON, the unfinished last one included.
fn json_string_values(s: &str) -> Vec<String> {
    let (mut out, mut in_object, mut expect_key) = (Vec::new(), Vec::new(), false);
    let mut it = s.chars();
    while let Some(c) = it.next() {
        match c {
            '{' | '[' => {
                in_object.push(c == '{');
                expect_key = c == '{';
            }
            '}' | ']' => {
                in_object.pop();
                expect_key = false;
            }
            ',' => expect_key = in_object.last() == Some(&true),
            ':' => expect_key = false,
            '"' => {
                let text = read_json_string(&mut it);
                if !expect_key {
                    out.push(text);
                }
            }
            _ => {}
        }
    }
    out
}

/// Reads after an opening quote up to the closing one; incomplete escapes at the end are dropped.
fn read_json_string(it: &mut std::str::Chars) -> String {
    let mut out = String::new();
    let hex4 = |it: &mut std::str::Chars| -> Option<u32> {
        let h: String = it.by_ref().take(4).collect();
        if h.len() == 4 {
            u32::from_str_radix(&h, 16).ok()
        } else {
            None
        }
    };
    while let Some(c) = it.next() {
        match c {
            '"' => break,
            '\\' => match it.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some('r') => out.push('\r'),
                Some('b') => out.push('\u{8}'),
                Some('f') => out.push('\u{c}'),
                Some('u') => {
                    let Some(hi) = hex4(it) else { continue };
                    let mut code = hi;
                    if (0xD800..0xDC00).contains(&hi) {
                        let rest = it.as_str();
                        let lo = rest.strip_prefix("\\u").and_then(|r| r.get(..4));
                        match lo.and_then(|lo| u32::from_str_radix(lo, 16).ok()) {
                            Some(lo @ 0xDC00..0xE000) => {
                                code = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
                                *it = rest[6..].chars();
                            }
                            _ => continue, // unpaired or truncated surrogate: dropped
                        }
                    }
                    out.extend(char::from_u32(code));
                }
                Some(other) => out.push(other),
                None => break,
            },
            c => out.push(c),
        }
    }
    out
}

/// Strips a Markdown code fence (with optional language tag), keeping only its content.
fn strip_fence(s: &str) -> &str {
    let Some(start) = s.find("```") else { return s };
    let after = &s[start + 3..];
    let tag = after.trim_start_matches(|c: char| c.is_ascii_alphanumeric() || "-_+".contains(c));
    let body = match tag.trim_start_matches([' ', '\t', '\r']).strip_prefix('\n') {
        Some(b) => b,
        None => after,
    };
    body.find("```").map_or(body, |end| &body[..end])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::answer::test_support::texts;

    #[test]
    fn lenient_shapes() {
        // Prose with one fence left open keeps the text before it.
        let open = "The first paragraph, before the fence.\n\n```\nThe second, inside it.";
        assert_eq!(
            texts(open),
            [
                "The first paragraph, before the fence.",
                "The second, inside it."
            ]
        );
        let fenced =
            "Sure! Here it is:\n```json\n{\"response\": [\"<p>Hi</p>\"]}\n```\nHope that helps.";
        assert_eq!(parse_response(fenced), [Paragraph::plain("Hi")]);
        assert_eq!(texts("```\n[\"<p>a</p>\", \"b\"]\n```"), ["a", "b"]);
        assert_eq!(
            texts(r#"{"response": "<p>One</p><P class=x>Two</P>"}"#),
            ["One", "Two"]
        );
        assert_eq!(texts(r#""<p>Just <i>this</i></p>""#), ["Just this"]);
        assert_eq!(
            texts(r#"{"answer": ["<p>x</p>", "y"], "n": 3}"#),
            ["x", "y"]
        );
        assert_eq!(texts(r#"Prose {"response": ["z"]} trailing"#), ["z"]);
        assert_eq!(texts(r#"{"Response": "a\n\nb"}"#), ["a", "b"]);
        let plain = "First line\ncontinues.\n \t\r\n\n\nSecond   para.";
        assert_eq!(texts(plain), ["First line continues.", "Second para."]);
        assert_eq!(texts("The {braces} stay."), ["The {braces} stay."]);
        assert_eq!(texts("42"), ["42"]);
    }

    #[test]
    fn garbage_and_truncation_are_sane() {
        assert_eq!(
            texts(r#"{"response": [1, null, {"x":2}, true]}"#),
            ["1", "true"]
        );
        assert_eq!(texts(r#"{"response": ["<p>Cut off <b>he"#), ["Cut off he"]);
        assert_eq!(texts(r#"{"response": "#), [r#"{"response":"#]);
        assert_eq!(texts(r#"{"response": null}"#), Vec::<String>::new());
        assert!(parse_response("").is_empty());
        assert!(parse_response("  <p> </p>\n\n<b></b> \x1b[0m ").is_empty());
        for junk in [
            "<", "</", "&", "&#", "<!", "<!--", "```", "```json", "\"", "[", "{", "\\u", "<p",
        ] {
            let _ = parse_response(junk);
            let _ = preview(junk);
        }
    }

    #[test]
    fn huge_input_completes() {
        let unit = "<p>Hello <b>world</b> &amp; 豐 \x1b[31m<i>x</i></p>\n";
        let raw = unit.repeat(1_000_000 / unit.len());
        let paras = parse_response(&raw);
        assert_eq!(paras.len(), 1_000_000 / unit.len());
        assert_eq!(paras[0].plain_text(), "Hello world & 豐 x");
        for flood in [
            "<a".repeat(500_000),
            "&#".repeat(500_000),
            "\x1b]".repeat(500_000),
        ] {
            let _ = parse_response(&flood);
            let _ = preview(&flood);
        }
        let json = format!(r#"{{"response": ["{}"]}}"#, "<p>a</p>".repeat(125_000));
        assert_eq!(parse_response(&json).len(), 125_000);
    }

    #[test]
    fn previews_of_partial_streams() {
        assert_eq!(preview(r#"{"response": ["<p>The <b>thun"#), "The thun");
        assert_eq!(
            preview(r#"{"response": ["<p>A</p>", "<p>caf\u00e9 \"q\"\n"#),
            "A café \"q\""
        );
        assert_eq!(preview(r#"{"response": ["x \u00"#), "x");
        assert_eq!(preview(r#"{"response": ["a &am"#), "a");
        assert_eq!(preview(r#"{"resp"#), "");
        assert_eq!(preview("```json\n{\"response\": [\"<p>Hi <b"), "Hi");
        assert_eq!(preview("```json"), "");
        assert_eq!(
            preview("Plain <em>stream</em>\n\nnext \x1b[2J"),
            "Plain stream next"
        );
        assert_eq!(preview(r#"{"response": ["\u001b]0;evil\u0007ok"]}"#), "ok");
    }
}
