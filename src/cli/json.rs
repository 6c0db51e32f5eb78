//! JSON for a terminal: the commands' `--json` and `--format json` output, with
//! every character [`hidden`] on a terminal (controls, bidi controls, zero-width and other
//! invisible characters) written as a `\u` escape. A JSON reader gets the same strings back; a
//! person sees the escape, never its effect. serde_json itself escapes only C0 controls.

use std::io;

use serde::Serialize;
use serde_json::ser::{CompactFormatter, Formatter, PrettyFormatter};

use super::CliError;
use crate::answer::hidden;

/// `value` as pretty JSON safe on a terminal; `what` names it in the error.
pub(crate) fn to_json(value: &(impl Serialize + ?Sized), what: &str) -> Result<String, CliError> {
    write(value, PrettyFormatter::new(), what)
}

/// `value` as one line of JSON safe on a terminal (JSON Lines).
pub(crate) fn to_json_line(
    value: &(impl Serialize + ?Sized),
    what: &str,
) -> Result<String, CliError> {
    write(value, CompactFormatter, what)
}

fn write(
    value: &(impl Serialize + ?Sized),
    layout: impl Formatter,
    what: &str,
) -> Result<String, CliError> {
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(&mut out, Visible(layout));
    value
        .serialize(&mut ser)
        .map_err(|e| CliError::other(format!("cannot encode {what}: {e}")))?;
    String::from_utf8(out).map_err(|e| CliError::other(format!("cannot encode {what}: {e}")))
}

/// serde_json's layout `F`; string text with [`hidden`] characters escaped.
struct Visible<F>(F);

impl<F: Formatter> Formatter for Visible<F> {
    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let mut start = 0;
        for (i, c) in fragment.char_indices().filter(|&(_, c)| hidden(c)) {
            writer.write_all(&fragment.as_bytes()[start..i])?;
            for unit in c.encode_utf16(&mut [0; 2]) {
                write!(writer, "\\u{unit:04x}")?;
            }
            start = i + c.len_utf8();
        }
        writer.write_all(&fragment.as_bytes()[start..])
    }

    fn begin_array<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.0.begin_array(writer)
    }

    fn end_array<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.0.end_array(writer)
    }

    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.0.begin_array_value(writer, first)
    }

    fn end_array_value<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.0.end_array_value(writer)
    }

    fn begin_object<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.0.begin_object(writer)
    }

    fn end_object<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.0.end_object(writer)
    }

    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.0.begin_object_key(writer, first)
    }

    fn begin_object_value<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.0.begin_object_value(writer)
    }

    fn end_object_value<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.0.end_object_value(writer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_characters_are_escaped_and_the_data_is_the_same() {
        let value = serde_json::json!({
            "q": "a\u{1b}[2J b\u{9b}1m c\u{202e}d\u{200b}e\u{7f} \u{e0041} \u{2028} 豐 \"x\"\n",
            "list": [1, "two"],
        });
        let text = to_json(&value, "it").unwrap();
        assert!(!text.chars().any(|c| hidden(c) && c != '\n'), "{text}");
        assert!(
            text.contains(
                r#"a\u001b[2J b\u009b1m c\u202ed\u200be\u007f \udb40\udc41 \u2028 豐 \"x\"\n"#
            ),
            "{text}"
        );
        let back: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back, value);
        assert_eq!(
            text.replace(r"\u009b", "\u{9b}")
                .replace(r"\u202e", "\u{202e}")
                .replace(r"\u200b", "\u{200b}")
                .replace(r"\u007f", "\u{7f}")
                .replace(r"\udb40\udc41", "\u{e0041}")
                .replace(r"\u2028", "\u{2028}"),
            serde_json::to_string_pretty(&value).unwrap(),
            "the layout is serde_json's pretty one"
        );
        let line = to_json_line(&value, "it").unwrap();
        assert!(!line.contains('\n') && line.contains(r"c\u202ed"), "{line}");
    }
}
