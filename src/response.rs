//! Model answers: turning a language model's (possibly sloppy) JSON/HTML answer into styled
//! paragraphs, sanitizing any text before it reaches a terminal, previewing partial streams,
//! and rendering paragraphs as plain text, Markdown or HTML. Leaf module: no crate imports.

use serde_json::Value;

pub mod quality;

/// A run of text with one style.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Span {
    pub text: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub bold: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub italic: bool,
}

/// One paragraph: sanitized, whitespace-collapsed spans (no empty spans, neighbours differ in style).
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Paragraph {
    pub spans: Vec<Span>,
}

impl Paragraph {
    /// The paragraph's text without styling.
    pub fn plain_text(&self) -> String {
        self.spans.iter().map(|s| s.text.as_str()).collect()
    }

    /// An unstyled paragraph; `text` is sanitized and its whitespace collapsed (no markup parsing).
    pub fn plain(text: &str) -> Self {
        let mut b = Builder::default();
        b.push_str(text);
        b.flush();
        b.paras.pop().unwrap_or_default()
    }
}

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
    paragraphs_from(&[markdown_to_markup(inner)])
}

/// Prose in Markdown, as the p/b/em markup: `**bold**` / `__bold__` and `*italic*` / `_italic_`
/// become `<b>` and `<em>`, heading and list markers at the start of a line go.
fn markdown_to_markup(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    for (n, line) in text.split('\n').enumerate() {
        if n > 0 {
            out.push('\n');
        }
        let trimmed = line.trim_start();
        let line = trimmed
            .strip_prefix("###### ")
            .or_else(|| trimmed.strip_prefix("##### "))
            .or_else(|| trimmed.strip_prefix("#### "))
            .or_else(|| trimmed.strip_prefix("### "))
            .or_else(|| trimmed.strip_prefix("## "))
            .or_else(|| trimmed.strip_prefix("# "))
            .or_else(|| trimmed.strip_prefix("- "))
            .or_else(|| trimmed.strip_prefix("* "))
            .or_else(|| trimmed.strip_prefix("> "))
            .unwrap_or(line);
        emphasis(line, &mut out);
    }
    out
}

/// Replaces paired `**`/`__` and `*`/`_` in one line with tags; an unpaired marker stays as text.
fn emphasis(line: &str, out: &mut String) {
    let mut rest = line;
    while let Some(pos) = rest.find(['*', '_']) {
        let marker_char = rest[pos..].chars().next().unwrap_or('*');
        let double = rest[pos + 1..].starts_with(marker_char);
        let marker_len = if double { 2 } else { 1 };
        let marker = &rest[pos..pos + marker_len];
        let after = &rest[pos + marker_len..];
        // An opening marker sits before a word; `_` inside a word (snake_case) is not one.
        let opens = after.starts_with(|c: char| !c.is_whitespace())
            && (marker_char == '*' || !rest[..pos].ends_with(|c: char| c.is_alphanumeric()));
        let close = opens
            .then(|| after.find(marker))
            .flatten()
            .filter(|&end| end > 0 && !after[..end].ends_with(char::is_whitespace));
        match close {
            Some(end) => {
                let (open_tag, close_tag) = if double {
                    ("<b>", "</b>")
                } else {
                    ("<em>", "</em>")
                };
                out.push_str(&rest[..pos]);
                out.push_str(open_tag);
                out.push_str(&after[..end]);
                out.push_str(close_tag);
                rest = &after[end + marker_len..];
            }
            None => {
                out.push_str(&rest[..pos + marker_len]);
                rest = after;
            }
        }
    }
    out.push_str(rest);
}

/// Sanitize for one terminal line: escape sequences, controls and bidi overrides removed,
/// `\n` and `\t` become spaces.
pub fn sanitize_inline(s: &str) -> String {
    sanitize(s, false)
}

/// Like [`sanitize_inline`] but keeps `\n` (`\r\n` becomes `\n`, a lone `\r` is dropped).
pub fn sanitize_multiline(s: &str) -> String {
    sanitize(s, true)
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

/// Plain text: paragraphs separated by blank lines (no trailing newline), optionally word-wrapped
/// at `width` columns (wide CJK/emoji count as two; over-long words are broken).
pub fn to_plain_text(paras: &[Paragraph], width: Option<usize>) -> String {
    let texts = paras.iter().map(|p| match width {
        Some(w) if w > 0 => wrap(&p.plain_text(), w),
        _ => p.plain_text(),
    });
    texts.collect::<Vec<_>>().join("\n\n")
}

/// Markdown: `**bold**`, `*italic*`, specials backslash-escaped; paragraphs separated by blank lines.
pub fn to_markdown(paras: &[Paragraph]) -> String {
    let mut out = Vec::new();
    for p in paras {
        let mut s = String::new();
        for span in &p.spans {
            let core = span.text.trim();
            let marker = match (span.bold, span.italic) {
                (true, true) => "***",
                (true, false) => "**",
                (false, true) => "*",
                (false, false) => "",
            };
            if core.is_empty() || marker.is_empty() {
                md_escape(&span.text, &mut s);
                continue;
            }
            s.push_str(&span.text[..span.text.len() - span.text.trim_start().len()]);
            s.push_str(marker);
            md_escape(core, &mut s);
            s.push_str(marker);
            s.push_str(&span.text[span.text.trim_end().len()..]);
        }
        // Block markers only matter at the start of a line (every paragraph is one line).
        let digits = s.bytes().take_while(u8::is_ascii_digit).count();
        if s.starts_with(['-', '+', '=']) {
            s.insert(0, '\\');
        } else if digits > 0 && s[digits..].starts_with(['.', ')']) {
            s.insert(digits, '\\');
        }
        out.push(s);
    }
    out.join("\n\n")
}

/// HTML: one `<p>` per paragraph (newline-separated) with `<b>`/`<em>`, text escaped.
pub fn to_html(paras: &[Paragraph]) -> String {
    let mut out = Vec::new();
    for p in paras {
        let mut s = String::from("<p>");
        for span in &p.spans {
            let (open, close) = match (span.bold, span.italic) {
                (true, true) => ("<b><em>", "</em></b>"),
                (true, false) => ("<b>", "</b>"),
                (false, true) => ("<em>", "</em>"),
                (false, false) => ("", ""),
            };
            s.push_str(open);
            for c in span.text.chars() {
                match c {
                    '&' => s.push_str("&amp;"),
                    '<' => s.push_str("&lt;"),
                    '>' => s.push_str("&gt;"),
                    '"' => s.push_str("&quot;"),
                    '\'' => s.push_str("&#39;"),
                    c => s.push(c),
                }
            }
            s.push_str(close);
        }
        s.push_str("</p>");
        out.push(s);
    }
    out.join("\n")
}

// ---------------------------------------------------------------- JSON

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

// ---------------------------------------------------------------- HTML

/// Longest tag (name plus attributes) we scan for its `>`; keeps stray `<` floods linear.
const MAX_TAG: usize = 2048;

#[derive(Default)]
struct Builder {
    paras: Vec<Paragraph>,
    spans: Vec<Span>,
    bold: u32,
    italic: u32,
}

impl Builder {
    fn push_str(&mut self, s: &str) {
        let (bold, italic) = (self.bold > 0, self.italic > 0);
        match self.spans.last_mut() {
            Some(last) if last.bold == bold && last.italic == italic => last.text.push_str(s),
            _ => self.spans.push(Span {
                text: s.to_string(),
                bold,
                italic,
            }),
        }
    }

    /// Ends the paragraph: sanitize, collapse whitespace, merge and drop spans; reset styles.
    fn flush(&mut self) {
        (self.bold, self.italic) = (0, 0);
        let mut spans: Vec<Span> = Vec::new();
        let mut last_space = true;
        for raw in std::mem::take(&mut self.spans) {
            let mut text = String::new();
            for c in sanitize_inline(&raw.text).chars() {
                if !c.is_whitespace() {
                    text.push(c);
                    last_space = false;
                } else if !last_space {
                    text.push(' ');
                    last_space = true;
                }
            }
            match spans.last_mut() {
                _ if text.is_empty() => {}
                Some(l) if l.bold == raw.bold && l.italic == raw.italic => l.text.push_str(&text),
                _ => spans.push(Span { text, ..raw }),
            }
        }
        if let Some(last) = spans.last_mut() {
            last.text.truncate(last.text.trim_end().len());
            if last.text.is_empty() {
                spans.pop();
            }
        }
        if !spans.is_empty() {
            self.paras.push(Paragraph { spans });
        }
    }
}

fn paragraphs_from(sources: &[String]) -> Vec<Paragraph> {
    let mut b = Builder::default();
    for s in sources {
        parse_html(s, &mut b);
        b.flush();
    }
    b.paras
}

fn parse_html(src: &str, b: &mut Builder) {
    let mut i = 0;
    while let Some(c) = src[i..].chars().next() {
        let rest = &src[i..];
        match c {
            '<' => match parse_tag(rest) {
                Some((name, closing, len)) => {
                    i += len;
                    match name.to_ascii_lowercase().as_str() {
                        "b" | "strong" if closing => b.bold = b.bold.saturating_sub(1),
                        "b" | "strong" => b.bold += 1,
                        "em" | "i" if closing => b.italic = b.italic.saturating_sub(1),
                        "em" | "i" => b.italic += 1,
                        "br" => b.push_str(" "),
                        "p" | "div" | "li" | "ul" | "ol" | "blockquote" | "h1" | "h2" | "h3"
                        | "h4" | "h5" | "h6" | "hr" | "tr" | "table" | "section" => b.flush(),
                        tag @ ("script" | "style") if !closing => {
                            let closer = format!("</{tag}");
                            i = match find_ci(&src[i..], &closer) {
                                Some(p) => {
                                    src[i + p..].find('>').map_or(src.len(), |e| i + p + e + 1)
                                }
                                None => src.len(),
                            };
                        }
                        _ => {}
                    }
                }
                None => {
                    b.push_str("<");
                    i += 1;
                }
            },
            '&' => {
                let (decoded, len) = parse_entity(rest).unwrap_or((Some('&'), 1));
                b.push_str(decoded.map(String::from).as_deref().unwrap_or(""));
                i += len;
            }
            '\n' => {
                let after = rest[1..].trim_start_matches([' ', '\t', '\r']);
                if after.starts_with('\n') {
                    b.flush();
                    i = src.len() - after.len() + 1;
                } else {
                    b.push_str("\n");
                    i += 1;
                }
            }
            _ => {
                let len = rest.find(['<', '&', '\n']).unwrap_or(rest.len());
                b.push_str(&rest[..len]);
                i += len;
            }
        }
    }
}

/// `(name, is_closing, byte_len)` for a tag at the start of `rest`; comments and `<!..>` /
/// `<?..>` get an empty name. `None` means the `<` is just text.
fn parse_tag(rest: &str) -> Option<(&str, bool, usize)> {
    let b = rest.as_bytes();
    if rest.starts_with("<!--") {
        return Some(("", false, rest.find("-->").map_or(rest.len(), |p| p + 3)));
    }
    if matches!(b.get(1), Some(b'!' | b'?')) {
        let end = b.iter().take(MAX_TAG).position(|&c| c == b'>')?;
        return Some(("", false, end + 1));
    }
    let closing = b.get(1) == Some(&b'/');
    let start = 1 + usize::from(closing);
    let name_len = b[start..]
        .iter()
        .take_while(|c| c.is_ascii_alphanumeric())
        .count();
    if name_len == 0 || !b[start].is_ascii_alphabetic() {
        return None;
    }
    let mut i = start + name_len;
    if !matches!(b.get(i), Some(c) if *c == b'>' || *c == b'/' || c.is_ascii_whitespace()) {
        return None;
    }
    let (mut quote, mut prev) = (None, 0u8);
    while i < b.len().min(start + MAX_TAG) {
        let c = b[i];
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == b'>' => return Some((&rest[start..start + name_len], closing, i + 1)),
            None if (c == b'"' || c == b'\'') && prev == b'=' => quote = Some(c),
            None => {}
        }
        if !c.is_ascii_whitespace() {
            prev = c;
        }
        i += 1;
    }
    None
}

/// ASCII case-insensitive substring search.
fn find_ci(hay: &str, needle: &str) -> Option<usize> {
    let n = needle.as_bytes();
    hay.as_bytes()
        .windows(n.len())
        .position(|w| w.eq_ignore_ascii_case(n))
}

/// `(decoded, byte_len)` for an entity at the start of `rest`; `decoded` is `None` for numeric
/// entities naming an invalid code point (dropped). `None` for unknown entities (kept literally).
fn parse_entity(rest: &str) -> Option<(Option<char>, usize)> {
    let end = 1 + rest.as_bytes()[1..]
        .iter()
        .take(32)
        .position(|&c| c == b';')?;
    let body = &rest[1..end];
    if let Some(num) = body.strip_prefix('#') {
        let (digits, radix) = match num.strip_prefix(['x', 'X']) {
            Some(h) => (h, 16),
            None => (num, 10),
        };
        if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
            return None;
        }
        let ch = u32::from_str_radix(digits, radix)
            .ok()
            .and_then(char::from_u32);
        return Some((ch.filter(|&c| c != '\0'), end + 1));
    }
    let ch = match body {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        "nbsp" => ' ',
        "mdash" => '—',
        "ndash" => '–',
        "hellip" => '…',
        "lsquo" => '‘',
        "rsquo" => '’',
        "ldquo" => '“',
        "rdquo" => '”',
        _ => return None,
    };
    Some((Some(ch), end + 1))
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

// ---------------------------------------------------------------- terminal safety

fn sanitize(s: &str, keep_newlines: bool) -> String {
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars().peekable();
    while let Some(c) = it.next() {
        match c {
            '\n' => out.push(if keep_newlines { '\n' } else { ' ' }),
            '\t' => out.push(' '),
            '\u{1b}' => match it.peek().copied() {
                Some('[') => {
                    it.next();
                    skip_csi(&mut it);
                }
                Some(']' | 'P' | 'X' | '^' | '_') => {
                    it.next();
                    skip_string(&mut it);
                }
                Some(' '..='/') => {
                    while it.next_if(|c| (' '..='/').contains(c)).is_some() {}
                    it.next_if(|c| ('0'..='~').contains(c));
                }
                Some('0'..='~') => {
                    it.next();
                }
                _ => {}
            },
            '\u{9b}' => skip_csi(&mut it),
            '\u{9d}' | '\u{90}' | '\u{98}' | '\u{9e}' | '\u{9f}' => skip_string(&mut it),
            '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => {}
            c if c.is_control() => {} // remaining C0, DEL, C1 (incl. \r)
            c => out.push(c),
        }
    }
    out
}

/// Skips CSI parameters/intermediates (0x20..=0x3F) and the final byte (0x40..=0x7E).
fn skip_csi<I: Iterator<Item = char>>(it: &mut std::iter::Peekable<I>) {
    while it.next_if(|c| (' '..='?').contains(c)).is_some() {}
    it.next_if(|c| ('@'..='~').contains(c));
}

/// Skips a control string up to BEL, ST (ESC \ or U+009C), or a new ESC; unterminated → to end.
fn skip_string<I: Iterator<Item = char>>(it: &mut std::iter::Peekable<I>) {
    while let Some(c) = it.next() {
        match c {
            '\u{7}' | '\u{9c}' => return,
            '\u{1b}' => {
                it.next_if_eq(&'\\');
                return;
            }
            _ => {}
        }
    }
}

// ---------------------------------------------------------------- wrapping & Markdown

/// Approximate terminal column width of a char (East Asian wide and emoji = 2, combining = 0).
fn char_width(c: char) -> usize {
    match c as u32 {
        0x0300..=0x036F | 0x200B..=0x200F | 0xFE00..=0xFE0F => 0,
        0x1100..=0x115F
        | 0x2E80..=0xA4CF
        | 0xAC00..=0xD7A3
        | 0xF900..=0xFAFF
        | 0xFE30..=0xFE4F
        | 0xFF00..=0xFF60
        | 0xFFE0..=0xFFE6
        | 0x1F300..=0x1F64F
        | 0x1F900..=0x1F9FF
        | 0x20000..=0x3FFFD => 2,
        _ => 1,
    }
}

fn wrap(text: &str, width: usize) -> String {
    let (mut out, mut col) = (String::new(), 0);
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        let w: usize = word.chars().map(char_width).sum();
        if col > 0 && col + 1 + w <= width {
            out.push(' ');
            out.push_str(word);
            col += 1 + w;
            continue;
        }
        if col > 0 {
            out.push('\n');
            col = 0;
        }
        for ch in word.chars() {
            let cw = char_width(ch);
            if col > 0 && col + cw > width {
                out.push('\n');
                col = 0;
            }
            out.push(ch);
            col += cw;
        }
    }
    out
}

fn md_escape(s: &str, out: &mut String) {
    for c in s.chars() {
        if "\\*_`[]<>#&~|".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(text: &str, bold: bool, italic: bool) -> Span {
        Span {
            text: text.into(),
            bold,
            italic,
        }
    }
    fn texts(raw: &str) -> Vec<String> {
        parse_response(raw)
            .iter()
            .map(Paragraph::plain_text)
            .collect()
    }

    #[test]
    fn markdown_prose_keeps_its_emphasis() {
        let paras = parse_response(
            "## Feng\n\n**Abundance** comes; *do not grieve*.\n\n- snake_case stays, 2 * 3 too",
        );
        assert_eq!(paras.len(), 3);
        assert_eq!(paras[0].plain_text(), "Feng");
        assert_eq!(
            paras[1].spans,
            vec![
                span("Abundance", true, false),
                span(" comes; ", false, false),
                span("do not grieve", false, true),
                span(".", false, false),
            ]
        );
        assert_eq!(paras[2].plain_text(), "snake_case stays, 2 * 3 too");
        assert_eq!(texts("__b__ and _i_"), ["b and i"]);
    }

    #[test]
    fn happy_path_bold_and_italic() {
        let raw = r#"{"response": ["<p>The <b>Creative</b> works <em>sublime  success</em>.</p>", "<p>Two</p><p>Three</p>"]}"#;
        let paras = parse_response(raw);
        assert_eq!(paras.len(), 3);
        let want = [
            span("The ", false, false),
            span("Creative", true, false),
            span(" works ", false, false),
            span("sublime success", false, true),
            span(".", false, false),
        ];
        assert_eq!(paras[0].spans, want);
        assert_eq!(texts(raw)[1..], ["Two", "Three"]);
    }

    #[test]
    fn lenient_shapes() {
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
    fn nested_unbalanced_and_stripped_tags() {
        let paras = parse_response(
            "<p><b>bold <i>both</i></b></i> plain</b> <B>unclosed</p><p>next<br/>line</p>",
        );
        let want = [
            span("bold ", true, false),
            span("both", true, true),
            span(" plain ", false, false),
            span("unclosed", true, false),
        ];
        assert_eq!(paras[0].spans, want);
        assert_eq!(paras[1].spans, [span("next line", false, false)]);
        let raw = "<p>Hi<script>alert(1)</script> there<SCRIPT type=x>evil()</Script></p><style>p{}</style>";
        assert_eq!(texts(raw), ["Hi there"]);
        let link =
            r#"<p>See <a href="http://x.y/?a=1&b=2>" target='_blank'>link</a>.<!-- c --></p>"#;
        assert_eq!(texts(link), ["See link."]);
        assert_eq!(texts("<script>never closed"), Vec::<String>::new());
        assert_eq!(texts("a < b and 1<2, x<y> <3"), ["a < b and 1<2, x <3"]);
    }

    #[test]
    fn entities() {
        let raw = "<p>&amp;&lt;&gt;&quot;&apos;&#39;a&nbsp;b &mdash;&ndash;&hellip;&lsquo;&rsquo;&ldquo;&rdquo; &#35;&#x1F600;</p>";
        assert_eq!(texts(raw), ["&<>\"''a b —–…‘’“” #😀"]);
        assert_eq!(
            texts("&bogus; &amp &#0;&#xD800;&#x110000;&#99999999999;&#xZZ; &"),
            ["&bogus; &amp &#xZZ; &"]
        );
    }

    #[test]
    fn terminal_escapes_are_removed() {
        let cases = [
            ("\x1b[31mred\x1b[0m", "red"),
            ("\x1b]8;;http://x\x07link\x1b]8;;\x07", "link"),
            ("\x1b]0;title\x07after", "after"),
            ("\x1b]0;title\x1b\\after", "after"),
            ("\u{9b}31mX\u{9d}0;t\u{9c}Y", "XY"),
            ("\x1bPq#0;2\x1b\\Z\x1bcW\x1b(BV", "ZWV"),
            ("abc\u{202e}def\u{2066}g\u{2069}", "abcdefg"),
            ("a\0b\rc\u{7f}d\u{85}e\u{7}", "abcde"),
        ];
        for (input, want) in cases {
            assert_eq!(sanitize_inline(input), want, "{input:?}");
            assert_eq!(texts(input), [want], "{input:?}");
        }
        // Escapes smuggled through entities and JSON escapes are decoded first, then removed.
        assert_eq!(
            texts("&#27;[2J clear &#x1b;]0;x&#7; ok &#155;1m"),
            ["clear ok"]
        );
        assert_eq!(
            texts(r#"{"response": ["\u001b[31mred\u001b]0;t\u0007"]}"#),
            ["red"]
        );
        assert_eq!(sanitize_multiline("l1\r\nl2\tx\0\n"), "l1\nl2 x\n");
        assert_eq!(sanitize_inline("l1\r\nl2\tx"), "l1 l2 x");
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
    fn unicode_and_wrapping() {
        let paras =
            parse_response(r#"{"response":["<p>豐 <b>Abundance</b> 🌩️ \ud83d\ude00</p>"]}"#);
        assert_eq!(paras[0].plain_text(), "豐 Abundance 🌩️ 😀");
        assert_eq!(paras[0].spans[1], span("Abundance", true, false));
        let paras = [
            Paragraph::plain("the quick brown fox jumps"),
            Paragraph::plain("豐豐豐豐豐"),
        ];
        assert_eq!(
            to_plain_text(&paras, Some(10)),
            "the quick\nbrown fox\njumps\n\n豐豐豐豐豐"
        );
        assert_eq!(
            to_plain_text(&paras, Some(4)),
            "the\nquic\nk\nbrow\nn\nfox\njump\ns\n\n豐豐\n豐豐\n豐"
        );
        assert_eq!(
            to_plain_text(&paras[..1], None),
            "the quick brown fox jumps"
        );
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

    #[test]
    fn markdown_and_html_escaping() {
        let paras = parse_response(
            "<p><b>a*b </b><i>x_y</i> [l](u) `c` &lt;t&gt; # &amp; \\</p><p># Title</p><p>1. item</p><p>- dash</p>",
        );
        assert_eq!(
            to_markdown(&paras),
            "**a\\*b** *x\\_y* \\[l\\](u) \\`c\\` \\<t\\> \\# \\& \\\\\n\n\\# Title\n\n1\\. item\n\n\\- dash"
        );
        let both = [Paragraph {
            spans: vec![span("z", true, true)],
        }];
        assert_eq!(to_markdown(&both), "***z***");
        assert_eq!(to_html(&both), "<p><b><em>z</em></b></p>");
        let paras =
            parse_response(r#"<p><b>a&amp;b</b> &lt;script&gt; "q" 'x'</p><p><em>e</em></p>"#);
        assert_eq!(
            to_html(&paras),
            "<p><b>a&amp;b</b> &lt;script&gt; &quot;q&quot; &#39;x&#39;</p>\n<p><em>e</em></p>"
        );
    }

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
    }
}
