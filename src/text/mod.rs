//! Text on a terminal: how many columns a string takes, cutting it to a width, and word-wrapping
//! it; a list in words ("1, 4 and 5"); and the one HTML escaper. One measure for the whole crate, Unicode's East Asian
//! width as `unicode-width` gives it (wide CJK and emoji take two columns, combining marks none),
//! the measure ratatui draws with.
//! A length limit counts characters instead (`chars().count()`): that is not a width.
//! And what may reach a terminal at all ([`sanitize_inline`], [`sanitize_multiline`]).
//! Leaf module: no crate imports.

mod sanitize;

pub use sanitize::{hidden, sanitize_inline, sanitize_multiline};

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// Columns `s` takes on a terminal.
pub fn width(s: &str) -> usize {
    UnicodeWidthStr::width(s)
}

/// Columns one character takes, where a line is cut or broken (controls take none).
fn char_width(c: char) -> usize {
    UnicodeWidthChar::width(c).unwrap_or(0)
}

/// Full-width punctuation that Chinese typesetting never puts at the start of a line.
fn closes(c: char) -> bool {
    "，。、；：！？）」』”’〉》】".contains(c)
}

/// What goes down to the next line with `c` when a line breaks before it: nothing, unless `c`
/// is closing punctuation, then the characters before it up to one that may begin a line, when
/// they and `c` fit in `width` (else nothing, and `buf` is as it was).
fn carry(buf: &mut String, c: char, width: usize) -> Option<String> {
    if !closes(c) {
        return None;
    }
    let mut carried = String::new();
    while let Some(last) = take_last(buf) {
        carried.insert_str(0, &last);
        if !last.starts_with(closes) {
            break;
        }
    }
    if carried.is_empty()
        || carried.starts_with(closes)
        || self::width(&carried) + char_width(c) > width
    {
        buf.push_str(&carried);
        return None;
    }
    Some(carried)
}

/// The last character of `buf` with any characters of no width after it, taken off `buf`
/// (`None`, and `buf` untouched, unless a character of some width stays before it).
fn take_last(buf: &mut String) -> Option<String> {
    let mut taken = 0;
    for (i, c) in buf.char_indices().rev() {
        if char_width(c) > 0 {
            taken = i;
            break;
        }
    }
    if buf[..taken].chars().all(|c| char_width(c) == 0) {
        return None;
    }
    Some(buf.split_off(taken))
}

/// `s` followed by spaces up to `to` columns (as wide as it is when already wider).
pub fn pad(s: &str, to: usize) -> String {
    format!("{s}{}", " ".repeat(to.saturating_sub(width(s))))
}

/// `s` cut to `max` columns, ending in "…" when cut.
pub fn truncate(s: &str, max: usize) -> String {
    if width(s) <= max {
        return s.to_owned();
    }
    let mut out = String::new();
    let mut w = 0;
    for c in s.chars() {
        let cw = char_width(c);
        if w + cw + 1 > max {
            break;
        }
        out.push(c);
        w += cw;
    }
    if max > 0 {
        out.push('…');
    }
    out
}

/// `s` cut to `max` columns between words where it has to be cut ("Is it time to leave…"),
/// mid-word only when its first word alone is longer.
pub fn truncate_words(s: &str, max: usize) -> String {
    let cut = truncate(s, max);
    if cut == s {
        return cut;
    }
    let kept = cut.trim_end_matches('…');
    match kept.rfind(char::is_whitespace) {
        Some(at) if at > 0 => format!("{}…", kept[..at].trim_end()),
        _ => cut,
    }
}

/// Plain text word-wrapped to `width` columns, as [`wrap_runs`] wraps it.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    wrap_runs(&[(text, ())], width)
        .into_iter()
        .map(|line| line.into_iter().map(|(piece, ())| piece).collect())
        .collect()
}

/// Runs of text, each with a style `S` (whatever the caller styles with), word-wrapped to
/// `width` columns (at least 1): lines break between words, a run of whitespace becomes one
/// space, and a word wider than a line is broken where it reaches the edge. Each line is its
/// pieces in order, each with the style of the run it came from; the space before a word takes
/// that word's style. No text, no lines. Where a word of Chinese (which has no spaces) is broken,
/// full-width closing punctuation (，。」) does not begin a line: the character before it goes
/// down with it.
pub fn wrap_runs<S: Copy + PartialEq>(runs: &[(&str, S)], width: usize) -> Vec<Vec<(String, S)>> {
    let width = width.max(1);
    // Words: runs of non-space characters, each a list of styled pieces.
    let mut words: Vec<Vec<(String, S)>> = Vec::new();
    let mut in_word = false;
    for &(text, style) in runs {
        for c in text.chars() {
            if c.is_whitespace() {
                in_word = false;
                continue;
            }
            let word = match words.last_mut() {
                Some(word) if in_word => word,
                _ => {
                    in_word = true;
                    words.push(Vec::new());
                    let last = words.len() - 1;
                    &mut words[last]
                }
            };
            match word.last_mut() {
                Some((s, st)) if *st == style => s.push(c),
                _ => word.push((c.to_string(), style)),
            }
        }
    }
    let mut lines = Vec::new();
    let mut cur: Vec<(String, S)> = Vec::new();
    let mut cur_w = 0;
    for word in words {
        let ww: usize = word.iter().map(|(s, _)| self::width(s)).sum();
        if cur_w > 0 && cur_w + 1 + ww > width {
            lines.push(std::mem::take(&mut cur));
            cur_w = 0;
        }
        if cur_w > 0
            && let Some(&(_, style)) = word.first()
        {
            cur.push((" ".to_owned(), style));
            cur_w += 1;
        }
        for (piece, style) in word {
            let mut buf = String::new();
            for c in piece.chars() {
                let cw = char_width(c);
                // A character of no width (a combining mark, a variation selector) stays with
                // the one before it, even on a line a wide character has overfilled.
                if cw > 0 && cur_w + cw > width && cur_w > 0 {
                    let carried = carry(&mut buf, c, width);
                    if !buf.is_empty() {
                        cur.push((std::mem::take(&mut buf), style));
                    }
                    lines.push(std::mem::take(&mut cur));
                    cur_w = 0;
                    if let Some(carried) = carried {
                        cur_w = self::width(&carried);
                        buf = carried;
                    }
                }
                buf.push(c);
                cur_w += cw;
            }
            if !buf.is_empty() {
                cur.push((buf, style));
            }
        }
    }
    if !cur.is_empty() {
        lines.push(cur);
    }
    lines
}

/// `s` with no spaces or tabs at the end of any line, style escapes (`ESC[…m`) that end a line
/// kept: what is printed for people ends its lines where the words do.
pub fn trim_line_ends(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for (i, line) in s.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        // Peel the line's end: blanks are dropped, style escapes kept (in order).
        let mut rest = line;
        let mut escapes: Vec<&str> = Vec::new();
        loop {
            let trimmed = rest.trim_end_matches([' ', '\t']);
            if trimmed.len() != rest.len() {
                rest = trimmed;
                continue;
            }
            match rest.rfind('\x1b') {
                Some(at)
                    if rest[at..].len() >= 3
                        && rest[at..].starts_with("\x1b[")
                        && rest.ends_with('m')
                        && rest[at + 2..rest.len() - 1]
                            .bytes()
                            .all(|b| b.is_ascii_digit() || b == b';') =>
                {
                    escapes.push(&rest[at..]);
                    rest = &rest[..at];
                }
                _ => break,
            }
        }
        out.push_str(rest);
        for e in escapes.iter().rev() {
            out.push_str(e);
        }
    }
    out
}

/// Items as English lists them: "1", "1 and 4", "1, 4 and 5".
pub fn and_list<T: std::fmt::Display>(items: &[T]) -> String {
    match items {
        [] => String::new(),
        [one] => one.to_string(),
        [rest @ .., last] => {
            let rest: Vec<String> = rest.iter().map(ToString::to_string).collect();
            format!("{} and {last}", rest.join(", "))
        }
    }
}

/// `s` as HTML text or a quoted attribute value: `&`, `<`, `>`, `"` and `'` as entities, every
/// other character as it is. The one escaper of the crate's HTML (the response format, the
/// offline oracle's answers, the exported page).
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cut_falls_between_words() {
        assert_eq!(
            truncate_words("Is it time to leave the city", 16),
            "Is it time to…"
        );
        assert_eq!(truncate_words("short", 16), "short");
        assert_eq!(truncate_words("Unbreakablewordhere", 8), "Unbreak…");
    }

    #[test]
    fn line_ends_lose_their_blanks_and_keep_their_styles() {
        assert_eq!(trim_line_ends("a  \n   \n\tb\t\n"), "a\n\n\tb\n");
        // clap's help on a terminal: a padded blank line, a styled word with spaces after it.
        assert_eq!(
            trim_line_ends("  \x1b[1m--home\x1b[0m   \n          \x1b[0m\n[env]"),
            "  \x1b[1m--home\x1b[0m\n\x1b[0m\n[env]"
        );
        assert_eq!(trim_line_ends("x \x1b[0m \x1b[2m "), "x\x1b[0m\x1b[2m");
        assert_eq!(trim_line_ends("\x1b[m"), "\x1b[m", "not a blank");
    }

    #[test]
    fn html_is_escaped_in_text_and_attributes() {
        assert_eq!(
            escape_html(r#"<a href="x?a=1&b='2'">易 & 經</a>"#),
            "&lt;a href=&quot;x?a=1&amp;b=&#39;2&#39;&quot;&gt;易 &amp; 經&lt;/a&gt;"
        );
        assert_eq!(escape_html("&amp;"), "&amp;amp;");
        assert_eq!(escape_html("plain"), "plain");
        assert_eq!(escape_html(""), "");
    }

    #[test]
    fn lists_read_as_english() {
        assert_eq!(and_list::<u8>(&[]), "");
        assert_eq!(and_list(&[1]), "1");
        assert_eq!(and_list(&[1, 4]), "1 and 4");
        assert_eq!(and_list(&[1, 4, 5]), "1, 4 and 5");
        assert_eq!(and_list(&["a", "b", "c", "d"]), "a, b, c and d");
    }

    #[test]
    fn width_counts_columns_not_characters() {
        assert_eq!(width("abc"), 3);
        assert_eq!(width("豐 Feng"), 7);
        assert_eq!(width("e\u{301}"), 1, "a combining accent takes no column");
        assert_eq!(width("😀"), 2);
        assert_eq!(width(""), 0);
    }

    #[test]
    fn truncate_keeps_what_fits_and_marks_the_cut() {
        assert_eq!(truncate("short", 5), "short");
        assert_eq!(truncate("shorter", 5), "shor…");
        assert_eq!(truncate("豐豐豐", 5), "豐豐…");
        assert_eq!(truncate("豐豐豐", 4), "豐…");
        assert_eq!(truncate("abc", 1), "…");
        assert_eq!(truncate("abc", 0), "");
        for (s, max) in [("豐 Abundance 😀 x", 7), ("the quick brown fox", 10)] {
            assert!(width(&truncate(s, max)) <= max);
        }
    }

    #[test]
    fn wrap_breaks_between_words_and_inside_long_ones() {
        assert_eq!(
            wrap("the quick brown fox jumps", 10),
            ["the quick", "brown fox", "jumps"]
        );
        assert_eq!(
            wrap("the quick brown fox jumps", 4),
            ["the", "quic", "k", "brow", "n", "fox", "jump", "s"]
        );
        assert_eq!(wrap("豐豐豐豐豐", 4), ["豐豐", "豐豐", "豐"]);
        assert_eq!(wrap("  a \t\n b  ", 10), ["a b"]);
        assert!(wrap(" ", 10).is_empty());
        assert_eq!(wrap("ab", 0), ["a", "b"], "a width of 0 wraps at 1");
    }

    #[test]
    fn chinese_without_spaces_wraps_at_the_edge_in_columns() {
        // Classical Chinese has no spaces: a passage is one "word", broken where it reaches
        // the edge, two columns to a character, none lost.
        let text = "大哉乾元，万物资始，乃统天。云行雨施，品物流形。";
        let lines = wrap(text, 10);
        assert_eq!(lines.concat(), text);
        assert_eq!(lines[0], "大哉乾元，");
        assert_eq!(lines.len(), 5);
        // An odd width leaves its last column empty rather than cut a character.
        let odd = wrap(text, 9);
        assert_eq!(odd[0], "大哉乾", "元 goes down with the comma after it");
        assert!(odd.iter().all(|l| width(l) <= 9), "{odd:?}");
        assert_eq!(odd.concat(), text);
        // Closing punctuation does not begin a line: the character before it goes down too.
        let closing = wrap("亢龙有悔，盈不可久也。", 8);
        assert_eq!(closing, ["亢龙有", "悔，盈不", "可久也。"]);
        assert_eq!(wrap("君子以自强不息。”", 8), ["君子以自", "强不", "息。”"]);
        assert_eq!(
            wrap("“潜龙勿用”，下也。", 10),
            ["“潜龙勿", "用”，下", "也。"]
        );
        for w in 1..12 {
            let lines = wrap(text, w);
            assert_eq!(lines.concat(), text, "width {w}");
            assert!(lines.iter().all(|l| width(l) <= w.max(2)), "{w}: {lines:?}");
        }
        // After a word on the same line, the passage starts on a line of its own.
        assert_eq!(
            wrap("Tuan: 大哉乾元，万物资始", 10),
            ["Tuan:", "大哉乾元，", "万物资始"]
        );
    }

    #[test]
    fn a_character_of_no_width_stays_with_the_one_before_it() {
        // Found by fuzzing (fuzz/fuzz_targets/response.rs): at width 1 a wide character
        // overfills its line, and a combining mark or variation selector after it began the
        // next line, before the next wide character.
        assert_eq!(wrap("豐\u{301}豐", 1), ["豐\u{301}", "豐"]);
        assert_eq!(wrap("豐\u{fe0f}勿憂", 1), ["豐\u{fe0f}", "勿", "憂"]);
        assert_eq!(wrap("e\u{301}te\u{301}", 2), ["e\u{301}t", "e\u{301}"]);
    }

    #[test]
    fn wrap_runs_keeps_each_runs_style() {
        let lines = wrap_runs(&[("Rule ", 1), ("of the lines", 2)], 11);
        assert_eq!(
            lines,
            [
                vec![
                    ("Rule".to_owned(), 1),
                    (" ".to_owned(), 2),
                    ("of".to_owned(), 2),
                    (" ".to_owned(), 2),
                    ("the".to_owned(), 2)
                ],
                vec![("lines".to_owned(), 2)],
            ]
        );
        // One word across two runs stays one word.
        assert_eq!(
            wrap_runs(&[("ab", 1), ("cd", 2)], 3),
            [
                vec![("ab".to_owned(), 1), ("c".to_owned(), 2)],
                vec![("d".to_owned(), 2)]
            ]
        );
    }
}
