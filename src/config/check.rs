//! Every setting's value checked where it is read, against its documented range: a refusal
//! names where the value was given (`--rpm`, `config.toml line 3: key "rpm":`, a key of a
//! `[providers.NAME]` table, an environment variable), says what is accepted, and shows the value with anything
//! invisible written as an escape, never cleaned up behind the user's back. Secrets are never
//! shown: a base URL is echoed without its credentials, query and fragment.

use std::fmt;
use std::time::Duration;

use crate::answer::hidden;
use crate::llm::redact::redacted_url;

use super::error::ConfigError;

/// The longest any timeout may be: a day (longer cannot be told from no timeout at all, and
/// a clock cannot always be set that far ahead).
pub const MAX_TIMEOUT: Duration = Duration::from_secs(24 * 60 * 60);
/// The most sections in flight any command accepts.
pub const MAX_CONCURRENCY: usize = 4096;
/// The most attempts per section.
pub const MAX_ATTEMPTS: u32 = 100;
/// The largest `max_tokens` per section: past any model's output.
pub const MAX_TOKENS: u32 = 1_000_000;
/// The highest price per million tokens, in dollars.
pub const MAX_PRICE: f64 = 10_000.0;

/// The most characters of a refused value a message shows.
const SHOWN_CHARS: usize = 60;

/// Where a setting's value was given, as a refusal names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum At<'a> {
    /// A command-line flag, without its dashes (`rpm`).
    Flag(&'a str),
    /// An environment variable.
    Env(&'a str),
    /// A top-level key of config.toml.
    File(&'a str),
    /// A key of a `[providers.NAME]` table: the table's name, the key.
    Provider(&'a str, &'a str),
    /// A key of a `[prices."MODEL"]` table: the model, the key.
    Price(&'a str, &'a str),
}

impl fmt::Display for At<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            At::Flag(flag) => write!(f, "--{flag}"),
            At::Env(var) => write!(f, "{var}"),
            // The file and the line are put before it (`place.rs`): `config.toml line 3: key
            // "rpm": must be ...`.
            At::File(key) => write!(f, "key {}:", shown(key)),
            At::Provider(name, key) => {
                write!(f, "key {} in [providers.{}]:", shown(key), shown(name))
            }
            At::Price(model, key) => {
                write!(f, "key {} in [prices.{}]:", shown(key), shown(model))
            }
        }
    }
}

/// `value` for a message: quoted, cut to 60 characters, with controls, bidi controls and
/// invisible characters (and quotes and backslashes) written as escapes: `\x1b`, `\u{202e}`.
pub fn shown(value: &str) -> String {
    let mut out = String::from("\"");
    for (i, c) in value.chars().enumerate() {
        if i == SHOWN_CHARS {
            out.push('…');
            break;
        }
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_ascii_control() => out.push_str(&format!("\\x{:02x}", u32::from(c))),
            c if hidden(c) => out.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A refusal: `at` must be `accepted`; `got` is the value as given.
fn refuse<T>(at: At<'_>, accepted: &str, got: impl fmt::Display) -> Result<T, ConfigError> {
    Err(ConfigError::Invalid(format!("{at} {accepted}; got {got}")))
}

/// A whole number of seconds, 1 to a day.
pub fn timeout(at: At<'_>, seconds: u64) -> Result<Duration, ConfigError> {
    if (1..=MAX_TIMEOUT.as_secs()).contains(&seconds) {
        Ok(Duration::from_secs(seconds))
    } else {
        refuse(
            at,
            &format!(
                "must be between 1 and {} seconds (24 hours)",
                MAX_TIMEOUT.as_secs()
            ),
            seconds,
        )
    }
}

/// Sections in flight, 1 to [`MAX_CONCURRENCY`].
pub fn concurrency(at: At<'_>, n: usize) -> Result<usize, ConfigError> {
    if (1..=MAX_CONCURRENCY).contains(&n) {
        Ok(n)
    } else {
        refuse(at, &format!("must be between 1 and {MAX_CONCURRENCY}"), n)
    }
}

/// Attempts per section, 1 to [`MAX_ATTEMPTS`].
pub fn attempts(at: At<'_>, n: u32) -> Result<u32, ConfigError> {
    if (1..=MAX_ATTEMPTS).contains(&n) {
        Ok(n)
    } else {
        refuse(at, &format!("must be between 1 and {MAX_ATTEMPTS}"), n)
    }
}

/// Tokens per section, 1 to [`MAX_TOKENS`].
pub fn max_tokens(at: At<'_>, n: u32) -> Result<u32, ConfigError> {
    if (1..=MAX_TOKENS).contains(&n) {
        Ok(n)
    } else {
        refuse(at, &format!("must be between 1 and {MAX_TOKENS}"), n)
    }
}

/// A per-minute budget (`rpm`, `tpm`): at least 1, since no limit is said by leaving it out.
pub fn budget(at: At<'_>, n: u32) -> Result<u32, ConfigError> {
    if n >= 1 {
        Ok(n)
    } else {
        refuse(at, "must be at least 1; leave it out for no limit", n)
    }
}

/// Dollars per million tokens, 0 to [`MAX_PRICE`].
pub fn price(at: At<'_>, dollars: f64) -> Result<f64, ConfigError> {
    if (0.0..=MAX_PRICE).contains(&dollars) {
        Ok(dollars)
    } else {
        refuse(
            at,
            &format!("must be dollars per million tokens, from 0 to {MAX_PRICE}"),
            dollars,
        )
    }
}

/// An endpoint's base URL: `http://` or `https://`, without a query or fragment (where a
/// credential would hide, and which the request paths cannot follow). Empty counts as unset.
pub fn base_url(at: At<'_>, url: &str) -> Result<(), ConfigError> {
    if url.trim().is_empty() {
        return Ok(());
    }
    let example = "like http://localhost:11434/v1";
    let Ok(parsed) = reqwest::Url::parse(url.trim()) else {
        // It may hold a credential, and it does not parse into parts that could be left out.
        return Err(ConfigError::Invalid(format!(
            "{at} must be an http:// or https:// URL, {example}; what was given is not a URL"
        )));
    };
    if !matches!(parsed.scheme(), "http" | "https") {
        return refuse(
            at,
            &format!("must be an http:// or https:// URL, {example}"),
            shown(parsed.scheme()) + " as its scheme",
        );
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(ConfigError::Invalid(format!(
            "{at} has a query or a fragment (after `?` or `#`); give it without: {}",
            redacted_url(url.trim())
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message<T: fmt::Debug>(r: Result<T, ConfigError>) -> String {
        r.unwrap_err().to_string()
    }

    #[test]
    fn refused_values_are_shown_with_their_escapes_visible() {
        assert_eq!(shown("French"), "\"French\"");
        assert_eq!(
            shown("Fr\u{1b}[2Jench\u{202e}\u{200b}\"\\\n"),
            r#""Fr\x1b[2Jench\u{202e}\u{200b}\"\\\x0a""#
        );
        let long = shown(&"ab".repeat(100));
        assert_eq!(long.chars().count(), 60 + 3, "{long}");
        assert!(long.ends_with("…\""));
    }

    #[test]
    fn each_number_is_held_to_its_range_and_the_refusal_names_where_it_was_given() {
        assert_eq!(
            timeout(At::Flag("request-timeout"), 86_400).unwrap(),
            Duration::from_secs(86_400)
        );
        assert_eq!(
            message(timeout(At::Flag("request-timeout"), u64::MAX)),
            "--request-timeout must be between 1 and 86400 seconds (24 hours); got 18446744073709551615"
        );
        assert_eq!(
            message(timeout(At::File("read_timeout"), 0)),
            "key \"read_timeout\": must be between 1 and 86400 seconds (24 hours); got 0"
        );
        assert_eq!(
            message(timeout(At::Provider("box", "request_timeout"), 86_401)),
            "key \"request_timeout\" in [providers.\"box\"]: must be between 1 and \
             86400 seconds (24 hours); got 86401"
        );
        assert_eq!(
            message(budget(At::File("rpm"), 0)),
            "key \"rpm\": must be at least 1; leave it out for no limit; got 0"
        );
        assert_eq!(
            message(budget(At::Flag("tpm"), 0)),
            "--tpm must be at least 1; leave it out for no limit; got 0"
        );
        assert_eq!(budget(At::Flag("rpm"), u32::MAX).unwrap(), u32::MAX);
        assert_eq!(
            max_tokens(At::File("max_tokens"), 1_000_000).unwrap(),
            1_000_000
        );
        assert!(
            message(max_tokens(At::File("max_tokens"), 1_000_001))
                .contains("between 1 and 1000000")
        );
        assert!(message(max_tokens(At::File("max_tokens"), 0)).contains("got 0"));
        assert!(message(attempts(At::Flag("max-attempts"), 0)).contains("between 1 and 100"));
        assert!(message(attempts(At::Flag("max-attempts"), 101)).contains("got 101"));
        assert!(message(concurrency(At::Flag("concurrency"), 4097)).contains("1 and 4096"));
        for bad in [f64::NAN, f64::INFINITY, -0.5, 10_000.5] {
            let m = message(price(At::Price("gpt-4o", "prompt_per_million"), bad));
            assert!(
                m.starts_with("key \"prompt_per_million\" in [prices.\"gpt-4o\"]:"),
                "{m}"
            );
        }
        assert_eq!(price(At::Price("m", "x"), 0.0).unwrap(), 0.0);
    }

    #[test]
    fn a_base_url_is_http_without_query_or_fragment_and_its_secrets_never_show() {
        assert!(base_url(At::Flag("base-url"), "http://localhost:11434/v1").is_ok());
        assert!(base_url(At::File("base_url"), "https://api.example.com/v1/").is_ok());
        assert!(
            base_url(At::File("base_url"), "  ").is_ok(),
            "empty is unset"
        );
        assert_eq!(
            message(base_url(
                At::File("base_url"),
                "https://user:hunter22@api.example.com/v1?key=sk-secret#frag"
            )),
            "key \"base_url\": has a query or a fragment (after `?` or `#`); give it \
             without: https://api.example.com/v1"
        );
        assert!(
            message(base_url(At::Env("OPENAI_BASE_URL"), "http://h/v1#x"))
                .starts_with("OPENAI_BASE_URL has a query or a fragment")
        );
        let m = message(base_url(At::Flag("base-url"), "localhost:sk-secret"));
        assert!(m.contains("http:// or https://"), "{m}");
        assert!(!m.contains("secret"), "{m}");
        let m = message(base_url(At::Flag("base-url"), "sk-secret key"));
        assert!(!m.contains("secret"), "{m}");
    }
}
