//! Paragraphs back out: plain text (optionally wrapped to a width), Markdown and HTML, each
//! escaped for its format.

use super::{Paragraph, sanitize_inline};
use crate::text::{escape_html, wrap};

/// Plain text: paragraphs separated by blank lines (no trailing newline), optionally word-wrapped
/// at `width` columns by [`wrap`].
pub fn to_plain_text(paras: &[Paragraph], width: Option<usize>) -> String {
    let texts = paras.iter().map(|p| match width {
        Some(w) if w > 0 => wrap(&p.plain_text(), w).join("\n"),
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
            s.push_str(&escape_html(&span.text));
            s.push_str(close);
        }
        s.push_str("</p>");
        out.push(s);
    }
    out.join("\n")
}

/// `s` as literal Markdown text for one line (a heading, an emphasised line, a table cell):
/// sanitized for a terminal with [`sanitize_inline`] (so a line break cannot start a new block),
/// its ends trimmed, and every character that can start inline markup, HTML or an entity
/// backslash-escaped, so a question, an error body or a name can never become a link, an image,
/// emphasis, code, a table cell or live HTML in a viewer.
pub fn markdown_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    md_escape(sanitize_inline(s).trim(), &mut out);
    out
}

/// The ASCII punctuation that starts or ends inline Markdown or HTML, in CommonMark and in the
/// extensions viewers add (GFM's tables, strikethrough and footnotes, math, super- and
/// subscript, heading attributes): each is written with a backslash, which CommonMark reads as
/// the character itself.
fn md_escape(s: &str, out: &mut String) {
    for c in s.chars() {
        if "\\*_`[]<>#&~|$^{}".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::answer::parse_response;
    use crate::answer::test_support::span;

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
    fn markdown_and_html_escaping() {
        let paras = parse_response(
            "<p><b>a*b </b><i>x_y</i> [l](u) `c` &lt;t&gt; # &amp; \\</p><p># Title</p><p>1. item</p><p>- dash</p>",
        );
        assert_eq!(
            to_markdown(&paras),
            "**a\\*b** *x\\_y* \\[l\\](u) \\`c\\` \\<t\\> \\# \\& \\\\\n\n\\# Title\n\n1\\. item\n\n\\- dash"
        );
        assert_eq!(
            markdown_text(" a\r\n# b {onclick=x} $c$ ^d^ \u{202e}e\u{200b}\n"),
            "a \\# b \\{onclick=x\\} \\$c\\$ \\^d\\^ e"
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
}
