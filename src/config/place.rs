//! Where in config.toml a refusal is: the line (from the parser's span, or the key's own span
//! for a value refused after parsing) and the key written there, so that every config error
//! reads `config.toml line N: key "x": ...`.

use std::ops::Range;
use std::path::Path;

use super::check::At;
use super::error::ConfigError;

/// The parser's refusal `message` of `text` (the file at `path`) at `span`, placed.
pub(super) fn parse_error(
    text: &str,
    path: &Path,
    span: Option<Range<usize>>,
    message: &str,
) -> ConfigError {
    let line = span.map(|s| line_at(text, s.start));
    ConfigError::Parse {
        path: path.to_path_buf(),
        line,
        key: line.and_then(|n| key_on_line(text, n)),
        message: message.trim_end().to_owned(),
    }
}

/// `e`, the refusal of the value given `at` a key of `text` (the file at `path`), placed on
/// the key's line. A refusal of a flag or a variable is returned as it is.
pub(super) fn located(e: ConfigError, at: At<'_>, text: &str, path: &Path) -> ConfigError {
    let keys: Vec<&str> = match at {
        At::File(key) => vec![key],
        At::Provider(name, key) => vec!["providers", name, key],
        At::Price(model, key) => vec!["prices", model, key],
        At::Flag(_) | At::Env(_) => return e,
    };
    ConfigError::Setting {
        path: path.to_path_buf(),
        line: key_line(text, &keys),
        problem: Box::new(e),
    }
}

/// The line (from 1) holding byte `at` of `text`.
fn line_at(text: &str, at: usize) -> usize {
    text.get(..at).unwrap_or(text).matches('\n').count() + 1
}

/// The key assigned on line `n` of `text` (`rpm = 0` gives `rpm`), or the table a header on it
/// opens (`[provider]` gives `provider`: a table where a value belongs is refused there), when
/// the line names one (a bare key: letters, digits, `_`, `-`, `.`, so it is shown as it is).
fn key_on_line(text: &str, n: usize) -> Option<String> {
    let line = text.lines().nth(n.checked_sub(1)?)?;
    let header = line
        .trim()
        .strip_prefix('[')
        .and_then(|l| l.strip_suffix(']'))
        .map(|k| (k.trim_matches(['[', ']']), ""));
    let (key, _) = header.or_else(|| line.split_once('='))?;
    let key = key.trim().trim_matches('"').trim_matches('\'');
    let bare = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.');
    (!key.is_empty() && key.chars().all(bare)).then(|| key.to_owned())
}

/// The line (from 1) of the key at `keys` (a table's name, then the key in it), from the
/// parsed document's spans.
fn key_line(text: &str, keys: &[&str]) -> Option<usize> {
    let doc = toml::de::DeTable::parse(text).ok()?;
    let mut table = doc.get_ref();
    let (last, tables) = keys.split_last()?;
    for name in tables {
        match table.iter().find(|(k, _)| k.get_ref() == name)?.1.get_ref() {
            toml::de::DeValue::Table(t) => table = t,
            _ => return None,
        }
    }
    let (key, _) = table.iter().find(|(k, _)| k.get_ref() == last)?;
    Some(line_at(text, key.span().start))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_where_a_value_belongs_is_named_by_its_header() {
        assert_eq!(
            key_on_line("[provider]\nfoo = 1\n", 1).as_deref(),
            Some("provider")
        );
        assert_eq!(
            key_on_line("x = 1\n[[prices]]\n", 2).as_deref(),
            Some("prices")
        );
        assert_eq!(key_on_line("# a comment\n", 1), None);
    }

    #[test]
    fn a_key_is_found_on_its_line_in_any_table() {
        let text = "rpm = 0\n\n[providers.box]\nbase_url = \"http://b/v1\"\nconcurrency = 0\n\n[prices.\"gpt-4o\"]\nprompt_per_million = -1\n";
        assert_eq!(key_line(text, &["rpm"]), Some(1));
        assert_eq!(
            key_line(text, &["providers", "box", "concurrency"]),
            Some(5)
        );
        assert_eq!(
            key_line(text, &["prices", "gpt-4o", "prompt_per_million"]),
            Some(8)
        );
        assert_eq!(key_line(text, &["tpm"]), None);
        assert_eq!(key_on_line(text, 5).as_deref(), Some("concurrency"));
        assert_eq!(
            key_on_line(text, 3).as_deref(),
            Some("providers.box"),
            "a table header names its table"
        );
    }
}
