//! The inline markup the prompts ask for: `<p>` paragraphs with `<b>`/`<strong>` and
//! `<em>`/`<i>`, entities decoded, every other tag (and `<script>`/`<style>` bodies) dropped;
//! Markdown emphasis turned into the same markup first. Builds the paragraphs of spans,
//! sanitized and whitespace-collapsed.

use super::sanitize_inline;
use super::{Paragraph, Span};

/// Prose in Markdown, as the p/b/em markup: `**bold**` / `__bold__` and `*italic*` / `_italic_`
/// become `<b>` and `<em>`, heading and list markers at the start of a line go.
pub(super) fn markdown_to_markup(text: &str) -> String {
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
        if let Some(end) = close {
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
        } else {
            out.push_str(&rest[..pos + marker_len]);
            rest = after;
        }
    }
    out.push_str(rest);
}

/// Longest tag (name plus attributes) we scan for its `>`; keeps stray `<` floods linear.
const MAX_TAG: usize = 2048;

/// Paragraphs being built: text is pushed in the current style (`<b>`/`<em>` depth), and
/// [`Builder::flush`] ends a paragraph.
#[derive(Default)]
pub(super) struct Builder {
    pub(super) paras: Vec<Paragraph>,
    spans: Vec<Span>,
    bold: u32,
    italic: u32,
}

impl Builder {
    /// Pushes `s` in this style, whatever the tags so far said.
    pub(super) fn push_styled(&mut self, s: &str, bold: bool, italic: bool) {
        (self.bold, self.italic) = (bold.into(), italic.into());
        self.push_str(s);
    }

    pub(super) fn push_str(&mut self, s: &str) {
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
    pub(super) fn flush(&mut self) {
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

/// The paragraphs of `sources`, each parsed as markup (a source ends the paragraph it is in).
pub(super) fn paragraphs_from(sources: &[String]) -> Vec<Paragraph> {
    let mut b = Builder::default();
    for s in sources {
        parse_html(s, &mut b);
        b.flush();
    }
    b.paras
}

/// Feeds `src` to `b`: style tags change the style, block tags and blank lines end paragraphs.
fn parse_html(src: &str, b: &mut Builder) {
    let mut i = 0;
    while let Some(c) = src[i..].chars().next() {
        let rest = &src[i..];
        match c {
            '<' => {
                if let Some((name, closing, len)) = parse_tag(rest) {
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
                } else {
                    b.push_str("<");
                    i += 1;
                }
            }
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

#[cfg(test)]
mod tests {
    use crate::answer::parse_response;
    use crate::answer::test_support::{span, texts};

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
}
