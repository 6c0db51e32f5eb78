//! Keeping secrets out of what a server sends back: the API key in any letter case, and any
//! piece of it of eight or more letters and digits, is replaced before the text reaches a
//! message, whatever the server put between its letters (`s%k%-%p%r%o%j`, `S K P R O J`,
//! `sk.proj`); URLs lose their credentials, query and fragment.

/// The shortest piece of a key (in letters and digits) that is redacted on its own.
pub const MIN_PIECE: usize = 8;

/// What stands in for a redacted piece.
pub const REDACTED: &str = "[redacted]";

/// `text` with every stretch whose letters and digits spell 8 or more consecutive letters and
/// digits of `key` (ignoring ASCII case) replaced by [`REDACTED`]. Only letters and digits are
/// compared: whatever lies between them, in the key or in the text, is skipped, so the key
/// spelled out with separators is caught as surely as the key itself. What a terminal or a
/// browser would not show as letters is a separator too, even where it is spelled with letters
/// and digits: escape sequences (`\x1b[0m`), HTML tags (`<b></b>`) and entities (`&#8203;`),
/// and backslash escapes (`\u0000`). A key of fewer than 8 letters and digits is redacted only
/// whole.
pub fn redact_key(text: &str, key: &str) -> String {
    let spans = key_spans(text, key);
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    for (start, end) in spans {
        out.push_str(&text[copied..start]);
        out.push_str(REDACTED);
        copied = end;
    }
    out.push_str(&text[copied..]);
    out
}

/// The byte ranges of `text` that [`redact_key`] replaces, in order, each from a letter or
/// digit to one past a letter or digit (so both ends are character boundaries).
pub fn key_spans(text: &str, key: &str) -> Vec<(usize, usize)> {
    let key: Vec<u8> = key
        .bytes()
        .filter(u8::is_ascii_alphanumeric)
        .map(|b| b.to_ascii_lowercase())
        .collect();
    if key.is_empty() {
        return Vec::new();
    }
    // Markup is read both ways, as markup and as letters (`<S K P R O J ...>` is a tag's
    // shape too): a piece found either way goes.
    // And as raw letters, nothing hidden: an escape sequence the terminal ends sooner than
    // this reading does (a sanitizer stops an OSC string at any ESC) must not hide a key that
    // would then be shown.
    let starts = Starts::of(&key);
    let mut spans = pieces(text, &key, &starts, &shown_letters(text.as_bytes(), true));
    spans.extend(pieces(
        text,
        &key,
        &starts,
        &shown_letters(text.as_bytes(), false),
    ));
    spans.extend(pieces(text, &key, &starts, &vec![true; text.len()]));
    spans.sort_unstable();
    let mut merged: Vec<(usize, usize)> = Vec::with_capacity(spans.len());
    for (start, end) in spans {
        match merged.last_mut() {
            Some(last) if start <= last.1 => last.1 = last.1.max(end),
            _ => merged.push((start, end)),
        }
    }
    merged
}

/// Every run of the shortest piece's length in a key (its letters and digits, lowered), packed
/// in a `u64` and sorted: a place in a text where none of them starts cannot start a piece, so
/// most places are passed over after one lookup instead of a comparison with every offset of
/// the key (the stream's redaction runs on every delta of every answer).
struct Starts {
    len: usize,
    packed: Vec<u64>,
}

impl Starts {
    fn of(key: &[u8]) -> Self {
        let len = MIN_PIECE.min(key.len());
        let mut packed: Vec<u64> = key.windows(len).map(pack).collect();
        packed.sort_unstable();
        packed.dedup();
        Self { len, packed }
    }

    /// Whether a piece may start at `letters[0]` (there are at least `len` of them).
    fn may_start(&self, letters: &[u8]) -> bool {
        self.packed
            .binary_search(&pack(&letters[..self.len]))
            .is_ok()
    }
}

/// Up to 8 bytes in a `u64`.
fn pack(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0, |n, &b| (n << 8) | u64::from(b))
}

/// The pieces of `key` (lowered letters and digits) in `text`'s letters and digits where
/// `shown`.
fn pieces(text: &str, key: &[u8], starts: &Starts, shown: &[bool]) -> Vec<(usize, usize)> {
    // The text's letters and digits, lowered, and where each one is.
    let (letters, at): (Vec<u8>, Vec<usize>) = text
        .bytes()
        .enumerate()
        .filter(|&(i, b)| b.is_ascii_alphanumeric() && shown[i])
        .map(|(i, b)| (b.to_ascii_lowercase(), i))
        .unzip();
    let min = MIN_PIECE.min(key.len());
    let mut spans = Vec::new();
    let mut i = 0;
    while i + min <= letters.len() {
        if !starts.may_start(&letters[i..]) {
            i += 1;
            continue;
        }
        let len = longest_piece(&letters[i..], key);
        if len >= min {
            spans.push((at[i], at[i + len - 1] + 1));
            i += len;
        } else {
            i += 1;
        }
    }
    spans
}

/// For each byte of `text`, whether a reader would see it as itself: false inside an escape
/// sequence, and with `markup`, inside an HTML tag or entity or a backslash escape.
fn shown_letters(text: &[u8], markup: bool) -> Vec<bool> {
    let mut shown = vec![true; text.len()];
    let mut i = 0;
    while i < text.len() {
        let end = match text[i] {
            0x1b => Some(escape_end(text, i)),
            _ if !markup => None,
            b'<' => tag_end(text, i),
            b'&' => text[i..]
                .iter()
                .take(12)
                .position(|&b| b == b';')
                .filter(|&n| {
                    n > 1
                        && (text[i + 1] == b'#'
                            || text[i + 1..i + n].iter().all(u8::is_ascii_alphanumeric))
                })
                .map(|n| i + n + 1),
            b'\\' => match text.get(i + 1) {
                Some(b'u') => Some((i + 6).min(text.len())),
                Some(b'x') => Some((i + 4).min(text.len())),
                Some(_) => Some(i + 2),
                None => None,
            },
            _ => None,
        };
        match end {
            Some(end) => {
                shown[i..end].iter_mut().for_each(|s| *s = false);
                i = end;
            }
            None => i += 1,
        }
    }
    shown
}

/// One past the end of the HTML tag starting at `text[i]` (a `<`): `<b>`, `</em>`, `<br/>`,
/// `<span class="x">`; `None` when what follows is no tag's shape.
fn tag_end(text: &[u8], i: usize) -> Option<usize> {
    let mut j = i + 1;
    if text.get(j) == Some(&b'/') {
        j += 1;
    }
    let name = text[j..]
        .iter()
        .take(12)
        .take_while(|b| b.is_ascii_alphanumeric())
        .count();
    if name == 0 || !text[j].is_ascii_alphabetic() {
        return None;
    }
    j += name;
    match text.get(j) {
        Some(b'>') => Some(j + 1),
        Some(b'/') if text.get(j + 1) == Some(&b'>') => Some(j + 2),
        Some(b' ' | b'\t' | b'\n') => text[j..]
            .iter()
            .take(128)
            .position(|&b| b == b'>')
            .map(|n| j + n + 1),
        _ => None,
    }
}

/// One past the end of the escape sequence starting at `text[i]` (an ESC).
fn escape_end(text: &[u8], i: usize) -> usize {
    match text.get(i + 1) {
        // CSI: parameters and intermediates, then a final byte.
        Some(b'[') => text[i + 2..]
            .iter()
            .position(|b| (0x40..=0x7e).contains(b))
            .map_or(text.len(), |n| i + 2 + n + 1),
        // OSC, DCS and the other strings: to BEL or ESC \.
        Some(b']' | b'P' | b'X' | b'^' | b'_') => {
            let mut j = i + 2;
            while j < text.len() {
                if text[j] == 0x07 {
                    return j + 1;
                }
                if text[j] == 0x1b && text.get(j + 1) == Some(&b'\\') {
                    return j + 2;
                }
                j += 1;
            }
            text.len()
        }
        Some(_) => (i + 2).min(text.len()),
        None => i + 1,
    }
}

/// Redacts a streamed answer as it arrives: what it passes on never holds a piece of the key,
/// even one split between two deltas. It holds back the last [`STREAM_HOLD`] bytes (and any
/// piece of the key that reaches into them) until more text, or the end, shows what they are.
#[derive(Debug, Default)]
pub struct StreamRedactor {
    pending: String,
}

/// How much of a stream [`StreamRedactor`] holds back: a piece of the key spelled out with
/// separators longer than this between its letters is caught in the saved answer, not in the
/// stream.
pub const STREAM_HOLD: usize = 256;

impl StreamRedactor {
    /// `delta` added; what can be passed on now, redacted (maybe nothing).
    pub fn push(&mut self, delta: &str, key: &str) -> String {
        self.pending.push_str(delta);
        if self.pending.len() <= STREAM_HOLD {
            return String::new();
        }
        let mut cut = self.pending.len() - STREAM_HOLD;
        while !self.pending.is_char_boundary(cut) {
            cut -= 1;
        }
        // A piece that reaches past the cut waits whole: the cut moves to where it starts.
        let spans = key_spans(&self.pending, key);
        if let Some(&(start, _)) = spans.iter().find(|&&(s, e)| s < cut && e > cut) {
            cut = start;
        }
        let rest = self.pending.split_off(cut);
        let out = redact_key(&self.pending, key);
        self.pending = rest;
        out
    }

    /// The end of the stream: what was held back, redacted.
    pub fn finish(&mut self, key: &str) -> String {
        redact_key(&std::mem::take(&mut self.pending), key)
    }
}

/// How many of `letters`' first letters occur, in order and together, somewhere in `key`.
fn longest_piece(letters: &[u8], key: &[u8]) -> usize {
    (0..key.len())
        .map(|j| {
            key[j..]
                .iter()
                .zip(letters)
                .take_while(|(k, l)| k == l)
                .count()
        })
        .max()
        .unwrap_or(0)
}

/// `url` without user, password, query or fragment, so credentials put in a URL never show.
pub fn redacted_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut u) => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.set_query(None);
            u.set_fragment(None);
            u.to_string().trim_end_matches('/').to_owned()
        }
        Err(_) => "(an invalid URL)".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "sk-proj-AbCdEf0123456789XyZ";

    #[test]
    fn the_key_goes_in_any_case_and_in_pieces() {
        assert_eq!(
            redact_key(&format!("bad key {KEY}!"), KEY),
            "bad key [redacted]!"
        );
        assert_eq!(
            redact_key(&format!("KEY={}", KEY.to_uppercase()), KEY),
            "KEY=[redacted]"
        );
        // A piece of 8+ characters, and two pieces with something between them.
        assert_eq!(redact_key("…0123456789…", KEY), "…[redacted]…");
        assert_eq!(
            redact_key("sk-proj-AbC and 89XyZ and cdef0123", KEY),
            "[redacted] and 89XyZ and [redacted]"
        );
        // Seven characters are not a secret's worth; ordinary text is untouched.
        assert_eq!(redact_key("abcdef0", KEY), "abcdef0");
        assert_eq!(
            redact_key("Incorrect API key provided", KEY),
            "Incorrect API key provided"
        );
        assert_eq!(redact_key("short", "abc"), "short");
        assert_eq!(redact_key("xabcx", "abc"), "x[redacted]x");
        // Multi-byte text around a key piece stays whole.
        assert_eq!(redact_key("ключ 0123456789 ☯", KEY), "ключ [redacted] ☯");
    }

    #[test]
    fn the_key_spelled_out_with_separators_goes_too() {
        // Whatever the server puts between the letters: percent signs, dashes, spaces, dots,
        // underscores, new lines, in any case.
        let spelled = |sep: &str, key: &str| {
            key.chars()
                .map(|c| c.to_string())
                .collect::<Vec<_>>()
                .join(sep)
        };
        for sep in [
            "%",
            "-",
            " ",
            ".",
            "_",
            "%-%",
            "\n",
            "·",
            "\u{200b}",
            "\x1b[0m",
            "\x1b]0;x\x07",
            "<b></b>",
            "&#8203;",
            "&zwj;",
            "\\u0000",
        ] {
            let echo = spelled(sep, KEY);
            assert_eq!(
                redact_key(&format!("invalid key: {echo}."), KEY),
                "invalid key: [redacted].",
                "{echo:?}"
            );
            let upper = spelled(sep, &KEY.to_uppercase());
            assert_eq!(
                redact_key(&format!("<{upper}>"), KEY),
                "<[redacted]>",
                "{upper:?}"
            );
        }
        assert_eq!(
            redact_key("s%k%-%p%r%o%j%-%a%B%c%D%e%F%0%1%2%3%4%5%6%7%8%9%x%Y%z", KEY),
            "[redacted]"
        );
        // A piece of it, spelled out, mixed case, between other words.
        assert_eq!(
            redact_key("got C-D-E-F-0-1-2-3 back", KEY),
            "got [redacted] back"
        );
        assert_eq!(redact_key("key (0 1 2 3 4 5 6 7)", KEY), "key ([redacted])");
        // Seven letters and digits are still not a secret's worth, however spelled.
        assert_eq!(redact_key("a-b-c-d-e-f-0", KEY), "a-b-c-d-e-f-0");
        // A short key is redacted whole, spelled out too.
        assert_eq!(redact_key("x a.b.c x", "abc"), "x [redacted] x");
    }

    #[test]
    fn no_escape_sequence_hides_the_key_from_redaction_and_then_shows_it() {
        for hostile in [
            format!("key: \x1b]\x1b{KEY}"),
            format!(
                "key: \x1b[\x01{}",
                KEY.chars()
                    .map(|c| [c.to_string(), "\x1b[\x01".to_owned()].concat())
                    .collect::<String>()
            ),
            format!("\x1b]0;{KEY}"),
            format!("\x1b[{KEY}m"),
            format!("\u{9d}{KEY}\u{9c}"),
        ] {
            let shown = crate::text::sanitize_inline(&redact_key(&hostile, KEY));
            assert!(
                key_spans(&shown, KEY).is_empty(),
                "{hostile:?} shows {shown:?}"
            );
            let shown = crate::text::sanitize_multiline(&redact_key(&hostile, KEY));
            assert!(
                key_spans(&shown, KEY).is_empty(),
                "{hostile:?} shows {shown:?}"
            );
        }
    }

    #[test]
    fn a_stream_passes_on_no_piece_of_the_key_however_it_is_split() {
        let answer = format!(
            "{}The key is {KEY} and again s-k-p-r-o-j-a-b-c-d. {}",
            "Before. ".repeat(40),
            "After. ".repeat(60)
        );
        for step in [1, 3, 7, 50, 400] {
            let mut r = StreamRedactor::default();
            let mut shown = String::new();
            let chars: Vec<char> = answer.chars().collect();
            for chunk in chars.chunks(step) {
                let delta: String = chunk.iter().collect();
                let out = r.push(&delta, KEY);
                assert!(key_spans(&out, KEY).is_empty(), "{out:?}");
                shown.push_str(&out);
            }
            shown.push_str(&r.finish(KEY));
            assert_eq!(shown, redact_key(&answer, KEY), "split every {step}");
            assert!(!shown.contains("0123456789"));
        }
    }

    #[test]
    fn ordinary_messages_are_left_alone() {
        // What servers say about a wrong key, with the key's own prefix and last letters in
        // it, and other errors: nothing in them spells 8 letters of the key.
        for message in [
            "Incorrect API key provided: sk-proj-****************************************XyZ. \
             You can find your API key at https://platform.openai.com/account/api-keys.",
            "Rate limit reached for gpt-4o-mini in organization org-AbC on tokens per min \
             (TPM): Limit 200000, Used 199876, Requested 1500. Please try again in 412ms.",
            "{\"error\":{\"message\":\"model 'llama3.2' not found, try pulling it first\"}}",
            "The server had an error while processing your request. Sorry about that!",
            "ключ неверен ☯ 鍵が無効です",
        ] {
            assert_eq!(redact_key(message, KEY), message);
        }
    }

    #[test]
    fn urls_lose_credentials_and_query() {
        assert_eq!(
            redacted_url("https://user:pw@example.com/v1?key=secret#x"),
            "https://example.com/v1"
        );
        assert_eq!(redacted_url("not a url"), "(an invalid URL)");
    }
}
