//! Keeping secrets out of what a server sends back: the API key in any letter case, and any
//! piece of it of eight or more characters, is replaced before the text reaches a message; URLs
//! lose their credentials, query and fragment.

/// The shortest piece of a key that is redacted on its own.
pub const MIN_PIECE: usize = 8;

/// What stands in for a redacted piece.
pub const REDACTED: &str = "[redacted]";

/// `text` with every run of 8+ characters that also occurs in `key` (ignoring ASCII case)
/// replaced by [`REDACTED`]. A key shorter than 8 characters is redacted only whole.
pub fn redact_key(text: &str, key: &str) -> String {
    let key = key.trim();
    if key.is_empty() {
        return text.to_owned();
    }
    let key_lower = key.to_ascii_lowercase();
    let lower = text.to_ascii_lowercase();
    let min = MIN_PIECE.min(key.len());
    let bytes = lower.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let mut copied = 0;
    while i + min <= bytes.len() {
        // The longest run starting at i that occurs in the key.
        let mut len = 0;
        if lower.is_char_boundary(i)
            && lower.is_char_boundary(i + min)
            && key_lower.contains(&lower[i..i + min])
        {
            len = min;
            while i + len < bytes.len()
                && lower.is_char_boundary(i + len + 1)
                && key_lower.contains(&lower[i..=(i + len)])
            {
                len += 1;
            }
        }
        if len > 0 && text.is_char_boundary(i + len) {
            out.push_str(&text[copied..i]);
            out.push_str(REDACTED);
            i += len;
            copied = i;
        } else {
            i += 1;
        }
    }
    out.push_str(&text[copied..]);
    out
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
    fn urls_lose_credentials_and_query() {
        assert_eq!(
            redacted_url("https://user:pw@example.com/v1?key=secret#x"),
            "https://example.com/v1"
        );
        assert_eq!(redacted_url("not a url"), "(an invalid URL)");
    }
}
