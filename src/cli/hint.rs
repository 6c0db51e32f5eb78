//! Hints a user can paste. Every `iching ...` command a message suggests is rendered here, with
//! the `--home` this run was given (by the flag or by `ICHING_HOME`: a line pasted into
//! another shell, where the variable may not be set, must still reach the same store), made
//! absolute (another shell may be in another folder) and quoted for a POSIX shell.
//!
//! Messages (the commands' own and the errors of the layers below) write a suggestion as
//! `` `iching ARGS` ``; [`paste`] is what the command line runs every such message through
//! before printing it (errors included, in `main`), so no command has to remember the home.
//! The run's home is set once, before any command runs ([`set`]).

use std::path::Path;
use std::sync::OnceLock;

static RUN: OnceLock<Paste> = OnceLock::new();

/// Sets this run's home for every hint printed from now on (the first call wins).
pub fn set(home: Option<&Path>) {
    let _ = RUN.set(Paste::new(home));
}

/// This run's hints (no home until [`set`]).
pub fn current() -> &'static Paste {
    RUN.get_or_init(Paste::default)
}

/// `text` with every suggested `` `iching ...` `` command carrying this run's home.
pub fn paste(text: &str) -> String {
    current().text(text)
}

/// How this run's hints name the store.
#[derive(Debug, Clone, Default)]
pub struct Paste {
    /// ` --home DIR`, quoted, or empty when the platform's folders are used.
    home_flag: String,
}

impl Paste {
    /// Hints for a run given `home` (`--home` or `ICHING_HOME`; `None`: the platform's folders).
    pub fn new(home: Option<&Path>) -> Self {
        let home_flag = home
            .filter(|h| !h.as_os_str().is_empty())
            .map(|h| {
                let absolute = std::path::absolute(h).unwrap_or_else(|_| h.to_path_buf());
                format!(" --home {}", super::sh_quote(&absolute))
            })
            .unwrap_or_default();
        Self { home_flag }
    }

    /// The command line `iching [--home DIR] ARGS`, as a user types it.
    pub fn command(&self, args: &str) -> String {
        format!("iching{} {args}", self.home_flag)
    }

    /// `text` for people: every suggested command (`` `iching ...` `` in backticks) carrying
    /// the home, and every backticked command, flag, key or file name set in quotation marks
    /// (“iching show 3”), as prose sets them: backticks are Markdown's, not plain text's.
    pub fn text(&self, text: &str) -> String {
        quoted(&self.with_home(text))
    }

    /// `text` with every suggested command carrying the home, still in backticks.
    fn with_home(&self, text: &str) -> String {
        const MARK: &str = "`iching";
        if self.home_flag.is_empty() {
            return text.to_owned();
        }
        let mut out = String::with_capacity(text.len() + self.home_flag.len());
        let mut rest = text;
        while let Some(at) = rest.find(MARK) {
            let after = &rest[at + MARK.len()..];
            out.push_str(&rest[..at + MARK.len()]);
            // `iching` alone, or followed by its arguments: not `iching.db`, `iching-3.md`; and
            // not a command already rendered with its home.
            if (after.starts_with(' ') || after.starts_with('`'))
                && !after.starts_with(self.home_flag.as_str())
            {
                out.push_str(&self.home_flag);
            }
            rest = after;
        }
        out.push_str(rest);
        out
    }
}

/// `text` with each backticked span of a message (`` `iching show 3` ``, `` `--yes` ``,
/// `` `config.toml` ``) in quotation marks instead. A span is what a message writes: short
/// (help wraps one over two lines at most), not starting with a blank, the shell quotes it opens closed (a backtick inside a quoted path
/// does not end a span; a path with two of them may still be read as one, and says so visibly).
fn quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    let mut rest = text;
    while let Some(open) = rest.find('`') {
        let after = &rest[open + 1..];
        let span = after.find('`').map(|close| &after[..close]);
        match span {
            Some(span)
                if span.len() <= 200
                    && quotes(span).is_multiple_of(2)
                    && span.chars().next().is_some_and(|c| !c.is_whitespace()) =>
            {
                out.push_str(&rest[..open]);
                out.push('“');
                out.push_str(span);
                out.push('”');
                rest = &after[span.len() + 1..];
            }
            _ => {
                out.push_str(&rest[..=open]);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// How many shell quotes (`'`) `text` has: not an apostrophe between letters ("Legge's"), nor
/// one after a backslash (inside a `$'…'` string).
fn quotes(text: &str) -> usize {
    let chars: Vec<char> = text.chars().collect();
    let mut escaped = false;
    let mut n = 0;
    for (i, &c) in chars.iter().enumerate() {
        let between_letters = i > 0
            && chars[i - 1].is_alphanumeric()
            && chars.get(i + 1).is_some_and(|c| c.is_alphanumeric());
        if c == '\'' && !escaped && !between_letters {
            n += 1;
        }
        escaped = c == '\\' && !escaped;
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_suggested_command_carries_the_home_quoted_and_absolute() {
        let paste = Paste::new(Some(Path::new("/tmp/my readings")));
        assert_eq!(
            paste.text("Saved as reading 3 (`iching show 3`); `iching notes 3` lists them."),
            "Saved as reading 3 (“iching --home '/tmp/my readings' show 3”); \
             “iching --home '/tmp/my readings' notes 3” lists them."
        );
        assert_eq!(
            paste.text("run `iching` alone; `iching.db` and `iching-3.md` are files"),
            "run “iching --home '/tmp/my readings'” alone; “iching.db” and “iching-3.md” are files"
        );
        assert_eq!(
            paste.command("restore b.db"),
            "iching --home '/tmp/my readings' restore b.db"
        );
        let once = paste.text("`iching history`");
        assert_eq!(
            paste.text(&once),
            once,
            "a rendered command is left as it is"
        );
        let relative = Paste::new(Some(Path::new("h")));
        let here = std::env::current_dir().unwrap().join("h");
        assert_eq!(
            relative.command("history"),
            format!("iching --home {} history", super::super::sh_quote(&here))
        );
    }

    #[test]
    fn without_a_home_the_hints_are_as_written_in_quotation_marks() {
        let text = "`iching show 3` prints it";
        assert_eq!(Paste::new(None).text(text), "“iching show 3” prints it");
        assert_eq!(Paste::new(None).command("show 3"), "iching show 3");
    }

    #[test]
    fn only_a_messages_spans_lose_their_backticks() {
        assert_eq!(
            quoted("give `--yes`, or edit `config.toml`"),
            "give “--yes”, or edit “config.toml”"
        );
        assert_eq!(quoted("(after `?` or `#`)"), "(after “?” or “#”)");
        assert_eq!(
            quoted("follow-up 1 (Legge's text, the methods' odds); `iching show 1` shows it"),
            "follow-up 1 (Legge's text, the methods' odds); “iching show 1” shows it"
        );
        assert_eq!(
            quoted("run `chmod go-w $'/a b\\x1b[31m\\'c'`"),
            "run “chmod go-w $'/a b\\x1b[31m\\'c'”"
        );
        // A backtick in a quoted path, a span too long to be one, an empty or blank one: left
        // as they are.
        assert_eq!(
            quoted("as `history\n   --search`"),
            "as “history\n   --search”"
        );
        let long = format!("`{}`", "x".repeat(201));
        for kept in ["a path '/tmp/a`b'", long.as_str(), "`` and ` x`"] {
            assert_eq!(quoted(kept), kept);
        }
    }
}
