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
/// spelled out with separators is caught as surely as the key itself. A key of fewer than 8
/// letters and digits is redacted only whole.
pub fn redact_key(text: &str, key: &str) -> String {
    let key: Vec<u8> = key
        .bytes()
        .filter(u8::is_ascii_alphanumeric)
        .map(|b| b.to_ascii_lowercase())
        .collect();
    if key.is_empty() {
        return text.to_owned();
    }
    // The text's letters and digits, lowered, and where each one is.
    let (letters, at): (Vec<u8>, Vec<usize>) = text
        .bytes()
        .enumerate()
        .filter(|(_, b)| b.is_ascii_alphanumeric())
        .map(|(i, b)| (b.to_ascii_lowercase(), i))
        .unzip();
    let min = MIN_PIECE.min(key.len());
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let mut copied = 0;
    while i + min <= letters.len() {
        let len = longest_piece(&letters[i..], &key);
        if len >= min {
            // Both ends are ASCII letters or digits, so both are character boundaries.
            out.push_str(&text[copied..at[i]]);
            out.push_str(REDACTED);
            copied = at[i + len - 1] + 1;
            i += len;
        } else {
            i += 1;
        }
    }
    out.push_str(&text[copied..]);
    out
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
        for sep in ["%", "-", " ", ".", "_", "%-%", "\n", "·", "\u{200b}"] {
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
