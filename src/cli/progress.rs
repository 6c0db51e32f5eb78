//! The progress display of `batch` on a terminal: a bar that fits the terminal's width and never
//! touches its last columns, cleared when the batch ends and when Ctrl-C stops it.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle, TermLike};
use tokio_util::sync::CancellationToken;

/// Columns the bar leaves free at the right edge: the `^C` a terminal echoes on Ctrl-C lands
/// there instead of wrapping the line (a wrapped bar is redrawn one row down, leaving the old
/// row behind).
const MARGIN: u16 = 3;

/// A token cancelled by the first Ctrl-C, which says so above the bar; the second clears the bar
/// and quits at once (what was committed stays committed).
pub(super) fn cancel_on_ctrl_c(bar: ProgressBar) -> CancellationToken {
    let cancel = CancellationToken::new();
    let on_ctrl_c = cancel.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            on_ctrl_c.cancel();
            say(
                &bar,
                "stopping: in-flight sections are being cancelled (Ctrl-C again to quit now)",
            );
            if tokio::signal::ctrl_c().await.is_ok() {
                bar.finish_and_clear();
                std::process::exit(130);
            }
        }
    });
    cancel
}

/// The progress bar on a terminal (hidden otherwise), laid out for the terminal's width, and
/// the columns its message may take.
pub(super) fn progress_bar(sections: u64) -> (ProgressBar, usize) {
    if !std::io::stderr().is_terminal() {
        return (ProgressBar::hidden(), 0);
    }
    let (template, room) = bar_layout(usize::from(terminal_width()), sections);
    let bar = ProgressBar::with_draw_target(
        Some(sections),
        ProgressDrawTarget::term_like_with_hz(Box::new(Stderr::default()), 10),
    );
    bar.set_style(
        ProgressStyle::with_template(&template)
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.enable_steady_tick(Duration::from_millis(100));
    (bar, room)
}

/// The bar's template for a terminal `width` columns wide and `sections` to go, and the room
/// left for its message: under 60 columns no bar, under 100 no clock, the bar 10 to 30 columns.
/// The line stops [`MARGIN`] columns short of the edge.
fn bar_layout(width: usize, sections: u64) -> (String, usize) {
    let (template, bar) = if width < 60 {
        ("{spinner} {pos}/{len} sections · {msg}".to_owned(), 0)
    } else if width < 100 {
        let template = "{spinner} [{bar:10}] {pos}/{len} sections · {msg}".to_owned();
        (template, 10)
    } else {
        let bar = width.saturating_sub(80).clamp(10, 30);
        let template = format!(
            "{{spinner}} {{elapsed_precise}} [{{bar:{bar}}}] {{pos}}/{{len}} sections · {{msg}}"
        );
        (template, bar)
    };
    // The fixed parts at their widest: a one-column spinner, an 8-column clock, and room for
    // one more digit in the counts (the retry pass adds sections).
    let digits = sections.to_string().len() + 1;
    let fixed = crate::text::width(
        &template
            .replace("{spinner}", "x")
            .replace("{elapsed_precise}", "00:00:00")
            .replace(&format!("{{bar:{bar}}}"), &"=".repeat(bar))
            .replace("{pos}/{len}", &"9".repeat(2 * digits + 1))
            .replace("{msg}", ""),
    );
    (template, width.saturating_sub(fixed + usize::from(MARGIN)))
}

/// A line for the person watching: above the bar on a terminal, on stderr otherwise.
pub(super) fn say(bar: &ProgressBar, line: &str) {
    if bar.is_hidden() {
        eprintln!("{line}");
    } else {
        bar.println(line);
    }
}

/// The terminal's width in columns (80 when it cannot be told).
fn terminal_width() -> u16 {
    crossterm::terminal::size().map_or(80, |(cols, _)| cols)
}

/// Standard error as indicatif draws on it, [`MARGIN`] columns narrower than the terminal (read
/// at every draw, so a resize is followed), buffered until each draw's flush.
#[derive(Debug, Default)]
struct Stderr {
    buffer: Mutex<Vec<u8>>,
}

impl Stderr {
    fn put(&self, text: &str) -> std::io::Result<()> {
        self.buffer
            .lock()
            .map_err(|_| std::io::Error::other("progress buffer poisoned"))?
            .extend_from_slice(text.as_bytes());
        Ok(())
    }
}

/// What `command` writes to a terminal (crossterm's escape sequence for it).
pub(super) fn ansi(command: impl crossterm::Command) -> String {
    let mut out = String::new();
    let _ = command.write_ansi(&mut out);
    out
}

/// A count of rows or columns as crossterm takes it.
fn count(n: usize) -> u16 {
    u16::try_from(n).unwrap_or(u16::MAX)
}

impl TermLike for Stderr {
    fn width(&self) -> u16 {
        terminal_width().saturating_sub(MARGIN).max(1)
    }
    fn move_cursor_up(&self, n: usize) -> std::io::Result<()> {
        if n == 0 {
            Ok(())
        } else {
            self.put(&ansi(crossterm::cursor::MoveUp(count(n))))
        }
    }
    fn move_cursor_down(&self, n: usize) -> std::io::Result<()> {
        if n == 0 {
            Ok(())
        } else {
            self.put(&ansi(crossterm::cursor::MoveDown(count(n))))
        }
    }
    fn move_cursor_right(&self, n: usize) -> std::io::Result<()> {
        if n == 0 {
            Ok(())
        } else {
            self.put(&ansi(crossterm::cursor::MoveRight(count(n))))
        }
    }
    fn move_cursor_left(&self, n: usize) -> std::io::Result<()> {
        if n == 0 {
            Ok(())
        } else {
            self.put(&ansi(crossterm::cursor::MoveLeft(count(n))))
        }
    }
    fn write_line(&self, s: &str) -> std::io::Result<()> {
        self.put(s)?;
        self.put("\n")
    }
    fn write_str(&self, s: &str) -> std::io::Result<()> {
        self.put(s)
    }
    fn clear_line(&self) -> std::io::Result<()> {
        self.put("\r")?;
        self.put(&ansi(crossterm::terminal::Clear(
            crossterm::terminal::ClearType::CurrentLine,
        )))
    }
    fn flush(&self) -> std::io::Result<()> {
        let pending = std::mem::take(
            &mut *self
                .buffer
                .lock()
                .map_err(|_| std::io::Error::other("progress buffer poisoned"))?,
        );
        let mut err = std::io::stderr().lock();
        err.write_all(&pending)?;
        err.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bar_and_its_message_stop_short_of_the_edge_at_every_width() {
        for width in 40..=200 {
            let (template, room) = bar_layout(width, 4_500);
            let bar = template.split_once("{bar:").map_or(0, |(_, rest)| {
                rest[..rest.find('}').unwrap()].parse().unwrap()
            });
            let line = template
                .replace("{spinner}", "x")
                .replace("{elapsed_precise}", "00:00:00")
                .replace("{pos}/{len}", "45000/45000")
                .replace(&format!("{{bar:{bar}}}"), &"=".repeat(bar))
                .replace("{msg}", &"m".repeat(room));
            assert!(room >= 10, "{width}: {room}");
            assert!(crate::text::width(&line) + 3 <= width, "{width}: {line}");
        }
    }
}
