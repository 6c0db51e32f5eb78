//! Terminal safety: text from a model, a store or a server is cleaned before it reaches a
//! terminal — escape sequences (CSI, OSC, DCS and the rest, 7- and 8-bit), other controls, bidi
//! embeddings, overrides, isolates and marks (the "Trojan Source" characters), and zero-width and
//! other invisible format characters are removed: nothing shown can move the cursor, recolour the
//! screen, reorder what is read, or hide text between visible letters.

/// Sanitize for one terminal line: escape sequences, controls, bidi controls and invisible
/// format characters removed; `\n`, `\t` and the line and paragraph separators become spaces.
pub fn sanitize_inline(s: &str) -> String {
    sanitize(s, false)
}

/// Like [`sanitize_inline`] but keeps `\n` (`\r\n` becomes `\n`, a lone `\r` is dropped, the line
/// and paragraph separators become `\n`).
pub fn sanitize_multiline(s: &str) -> String {
    sanitize(s, true)
}

fn sanitize(s: &str, keep_newlines: bool) -> String {
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars().peekable();
    while let Some(c) = it.next() {
        match c {
            // Line and paragraph separators are line breaks to a reader, nothing to a terminal.
            '\n' | '\u{2028}' | '\u{2029}' => out.push(if keep_newlines { '\n' } else { ' ' }),
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
            // Remaining C0, DEL and C1 (`\r` among them), bidi controls, invisible characters.
            c if hidden(c) => {}
            c => out.push(c),
        }
    }
    out
}

/// Whether `c` must not reach a terminal as itself: a control character (C0, DEL, C1), a line
/// or paragraph separator, a bidi control or an invisible format character. [`sanitize_inline`]
/// removes these (or makes them spaces); where text must stay whole (JSON), they are escaped.
pub fn hidden(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}' | '\u{2029}'
            // Bidi embeddings, overrides, isolates and marks (LRM, RLM, ALM).
            | '\u{202a}'..='\u{202e}'
            | '\u{2066}'..='\u{2069}'
            | '\u{200e}'
            | '\u{200f}'
            | '\u{061c}'
            // Zero-width space, non-joiner, joiner, word joiner, byte-order mark.
            | '\u{200b}'..='\u{200d}'
            | '\u{2060}'
            | '\u{feff}'
            // The other invisible format characters: soft hyphen, Mongolian vowel separator,
            // invisible operators, deprecated format controls, interlinear annotation, and the
            // tag characters (which spell ASCII no one sees).
            | '\u{ad}'
            | '\u{180e}'
            | '\u{2061}'..='\u{2064}'
            | '\u{206a}'..='\u{206f}'
            | '\u{fff9}'..='\u{fffb}'
            | '\u{e0000}'..='\u{e007f}'
        )
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::answer::test_support::texts;

    #[test]
    fn zero_width_characters_and_bidi_marks_are_removed() {
        for c in [
            '\u{200b}',
            '\u{200c}',
            '\u{200d}',
            '\u{2060}',
            '\u{feff}',
            '\u{200e}',
            '\u{200f}',
            '\u{061c}',
            '\u{202a}',
            '\u{202b}',
            '\u{202c}',
            '\u{202d}',
            '\u{202e}',
            '\u{2066}',
            '\u{2067}',
            '\u{2068}',
            '\u{2069}',
            '\u{ad}',
            '\u{180e}',
            '\u{2062}',
            '\u{206f}',
            '\u{fffa}',
            '\u{e0041}',
            '\u{e007f}',
        ] {
            let text = format!("pay{c}pal \u{4e7e}{c}");
            assert_eq!(
                sanitize_inline(&text),
                "paypal \u{4e7e}",
                "U+{:04X}",
                c as u32
            );
            assert_eq!(
                sanitize_multiline(&text),
                "paypal \u{4e7e}",
                "U+{:04X}",
                c as u32
            );
        }
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
        assert_eq!(sanitize_inline("a\u{2028}b\u{2029}c"), "a b c");
        assert_eq!(sanitize_multiline("a\u{2028}b\u{2029}c"), "a\nb\nc");
    }
}
