//! The screens, each in its own file with its state, its keys and its drawing from what it is
//! given (its state, a view), never the whole app; and the helpers they share (the body's
//! area, styled wrapping, figures, the key footer; widths, cutting and plain wrapping are
//! [`crate::text`]'s). [`super::view`] composes them into a frame.

pub mod ask;
pub mod cast;
pub mod followup;
pub mod help;
pub mod history;
pub mod journal;
pub mod library;
pub mod live;
pub mod note;
pub mod patterns;
pub mod provider;
pub mod reading;
pub mod stats;
pub mod widgets;

use std::time::Duration;

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};

use super::strings::{self, KeyHelp};
use super::theme::Theme;
use crate::oracle::Hexagram;
use crate::text;

/// The smallest terminal the app draws in.
pub const MIN_WIDTH: u16 = 60;
/// The smallest terminal the app draws in.
pub const MIN_HEIGHT: u16 = 16;

/// The body of the frame (between the tab bar and the status line) for a terminal of `size`.
pub fn body(size: (u16, u16)) -> Rect {
    Rect::new(0, 1, size.0, size.1.saturating_sub(3))
}

/// The screens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Screen {
    /// The question, the method, the provider.
    Ask,
    /// The lines appearing.
    Cast,
    /// The grid of sections in flight.
    Live,
    /// A reading from the store.
    Reading,
    /// Past readings.
    History,
    /// One reading's figures.
    Stats,
    /// The book: the 64 hexagrams and Legge's text.
    Library,
}

/// The footer: the keys that work here, listed most important first. When they do not all fit,
/// the gaps narrow, then keys from the end give way whole, the help's last of all; a key is
/// never cut.
pub fn draw_keys(keys: &[KeyHelp], frame: &mut Frame, area: Rect, theme: &Theme) {
    let room = usize::from(area.width);
    let entry = |(k, a): &KeyHelp| text::width(k) + 1 + text::width(a);
    let line_width = |shown: &[&KeyHelp], gap: usize| {
        1 + shown.iter().map(|k| entry(k)).sum::<usize>() + gap * shown.len().saturating_sub(1)
    };
    let mut shown: Vec<&KeyHelp> = keys.iter().collect();
    let mut gap = 3;
    if line_width(&shown, gap) > room {
        gap = 2;
    }
    while line_width(&shown, gap) > room {
        // The help stays: what gives way is the last other key.
        match shown.iter().rposition(|(_, action)| *action != "help") {
            Some(i) if shown.len() > 1 => {
                shown.remove(i);
            }
            _ => break,
        }
    }
    let mut spans = vec![Span::raw(" ")];
    for (i, (k, action)) in shown.into_iter().enumerate() {
        if i > 0 {
            spans.push(Span::raw(" ".repeat(gap)));
        }
        spans.push(Span::styled(*k, theme.key));
        spans.push(Span::styled(format!(" {action}"), theme.dim));
    }
    frame.render_widget(Line::from(spans), area);
}

/// The first of `options` that fits `width` columns; else the last, cut with an ellipsis.
/// The one way a screen shortens what it says: a shorter wording first, a cut last.
pub fn fit(options: &[String], width: usize) -> String {
    options
        .iter()
        .find(|o| text::width(o) <= width)
        .cloned()
        .unwrap_or_else(|| text::truncate(options.last().map_or("", String::as_str), width))
}

/// A column of a table that gives way when the terminal is narrow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    /// Columns it takes, the gap before it included.
    pub width: usize,
    /// 0: always shown; otherwise the higher, the sooner it gives way.
    pub drop: u8,
}

/// Which of `columns` to show in `room` columns when the one flexible column (the question,
/// the title) needs `flex_min`: the columns that give way first go, whole, until the rest fit,
/// so a number is never cut. The flexible column gets what is left.
pub fn fit_columns(room: usize, flex_min: usize, columns: &[Column]) -> Vec<bool> {
    let mut shown = vec![true; columns.len()];
    loop {
        let used: usize = columns
            .iter()
            .zip(&shown)
            .filter(|&(_, &s)| s)
            .map(|(c, _)| c.width)
            .sum();
        if used + flex_min <= room {
            break;
        }
        let next = columns
            .iter()
            .enumerate()
            .filter(|&(i, c)| shown[i] && c.drop > 0)
            .max_by_key(|&(i, c)| (c.drop, i))
            .map(|(i, _)| i);
        match next {
            Some(i) => shown[i] = false,
            None => break,
        }
    }
    shown
}

/// A box in the middle of `area`, cleared, `w` by `h` at most.
/// The one line a screen shows before its reading is there: loading, or nothing chosen yet.
pub fn placeholder(loading: bool, frame: &mut Frame, area: Rect, theme: &Theme) {
    let text = if loading {
        strings::LOADING
    } else {
        strings::READING_EMPTY
    };
    frame.render_widget(
        Paragraph::new(Line::styled(text, theme.dim)).centered(),
        Rect {
            y: area.y + area.height / 2,
            height: 1,
            ..area
        },
    );
}

/// The widest a page of text runs: longer lines are hard to follow.
pub const MEASURE: u16 = 96;

/// Where a page of text goes inside `area`: a margin of one column each side (two on the left),
/// and at most [`MEASURE`] columns, centred.
pub fn readable(area: Rect) -> Rect {
    let room = area.width.saturating_sub(3);
    let width = room.min(MEASURE);
    Rect {
        x: area.x + 2 + (room - width) / 2,
        width,
        ..area
    }
}

/// How far down a view of `height` rows over `len` lines, scrolled to `scroll`, is, in percent:
/// 0 at the top, 100 at the end; `None` when it all fits.
pub fn scroll_percent(scroll: usize, len: usize, height: usize) -> Option<usize> {
    let most = len.checked_sub(height).filter(|&m| m > 0)?;
    Some(scroll.min(most) * 100 / most)
}

/// A `w` x `h` box in the middle of `area` (clipped to it), cleared for a popup.
pub fn centered(area: Rect, w: u16, h: u16, frame: &mut Frame) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    let r = Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    };
    clear_for_popup(frame, r, area);
    r
}

/// Clears pop-up `r`, the whole width of `area` on its rows, and a row above and below it, so
/// nothing cut by its border is left beside it: a digit of a column, the corner of a box, the
/// first letters of a list.
pub fn clear_for_popup(frame: &mut Frame, r: Rect, area: Rect) {
    let y = r.y.saturating_sub(1).max(area.y);
    let bottom = r.bottom().saturating_add(1).min(area.bottom());
    let around = Rect {
        x: area.x,
        y,
        width: area.width,
        height: bottom.saturating_sub(y),
    };
    frame.render_widget(Clear, around);
}

/// "── Title ──────": a heading ruled to `width` columns.
pub fn heading(title: &str, width: usize, theme: &Theme) -> Line<'static> {
    let rule = "─".repeat(width.saturating_sub(text::width(title) + 4));
    Line::from(vec![
        Span::styled("── ", theme.border),
        Span::styled(title.to_owned(), theme.heading),
        Span::styled(format!(" {rule}"), theme.border),
    ])
}

/// "䷶ 55 Feng 豐 (Abundance)".
pub fn hexagram_title(h: &Hexagram) -> String {
    format!("{} {}", h.symbol, h.title())
}

/// Seconds for people: "0.31 s", "12.4 s", "125 s".
pub fn fmt_secs(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 10.0 {
        format!("{s:.2} s")
    } else if s < 100.0 {
        format!("{s:.1} s")
    } else {
        format!("{s:.0} s")
    }
}

/// A token count, short: "812", "12,345", "1.2M".
pub fn fmt_tokens(n: u64) -> String {
    if n >= 1_000_000 {
        format!("{:.1}M", n as f64 / 1e6)
    } else if n >= 1000 {
        format!("{},{:03}", n / 1000, n % 1000)
    } else {
        n.to_string()
    }
}

/// Dollars: "$0.0123", or "–" without a price.
pub fn fmt_cost(c: Option<f64>) -> String {
    match c {
        Some(c) if c < 1.0 => format!("${c:.4}"),
        Some(c) => format!("${c:.2}"),
        None => "–".to_owned(),
    }
}

/// Styled runs of text word-wrapped to `width` columns, as [`crate::text::wrap_runs`] wraps them.
pub fn wrap_styled(runs: &[(&str, Style)], width: usize) -> Vec<Line<'static>> {
    text::wrap_runs(runs, width)
        .into_iter()
        .map(|line| {
            let spans: Vec<Span<'static>> = line
                .into_iter()
                .map(|(piece, style)| Span::styled(piece, style))
                .collect();
            Line::from(spans)
        })
        .collect()
}

/// A key typed into a text box, with the readline habits every box of the app keeps over the
/// widget's defaults: Ctrl-U deletes to the start of the line, Ctrl-Z undoes. Whether the text
/// changed.
pub fn edit(input: &mut ratatui_textarea::TextArea<'_>, key: crossterm::event::KeyEvent) -> bool {
    use crossterm::event::{KeyCode, KeyModifiers};
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    match key.code {
        KeyCode::Char('u') if ctrl => input.delete_line_by_head(),
        KeyCode::Char('z') if ctrl => input.undo(),
        _ => input.input(key),
    }
}

/// Pastes `text` into an editor at its cursor as it will be saved: escape sequences and other
/// controls taken out (what the editor shows is what is kept), line breaks as the field keeps
/// them (`one_line`: each a space; else CRLF and CR as one line break). A paste that would take
/// the field past `limit` characters is refused whole, at once, saying so; nothing is inserted.
pub fn paste(
    input: &mut ratatui_textarea::TextArea<'static>,
    text: &str,
    limit: usize,
    one_line: bool,
) -> Result<(), String> {
    let unified = text.replace("\r\n", "\n").replace('\r', "\n");
    let clean: String = if one_line {
        crate::answer::sanitize_inline(&unified.replace('\n', " "))
    } else {
        unified
            .split('\n')
            .map(crate::answer::sanitize_inline)
            .collect::<Vec<_>>()
            .join("\n")
    };
    // Counted as the field is kept: its line breaks are characters too.
    let have = input.lines().join("\n").chars().count();
    let adding = clean.chars().count();
    if have + adding > limit {
        return Err(strings::msg::paste_too_long(adding, have, limit));
    }
    input.insert_str(clean);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_takes_the_first_wording_that_fits_else_cuts_the_last_with_an_ellipsis() {
        let options = ["Total 10/10 est.".to_owned(), "Total 10/10".to_owned()];
        assert_eq!(fit(&options, 20), "Total 10/10 est.");
        assert_eq!(fit(&options, 12), "Total 10/10");
        assert_eq!(fit(&options, 8), "Total 1…");
    }

    #[test]
    fn columns_give_way_whole_in_their_order_and_never_below_the_flexible_minimum() {
        let cols = [
            Column { width: 10, drop: 0 },
            Column { width: 6, drop: 1 },
            Column { width: 7, drop: 2 },
            Column { width: 8, drop: 3 },
        ];
        assert_eq!(fit_columns(60, 20, &cols), [true; 4]);
        assert_eq!(fit_columns(50, 20, &cols), [true, true, true, false]);
        assert_eq!(fit_columns(40, 20, &cols), [true, true, false, false]);
        assert_eq!(fit_columns(30, 20, &cols), [true, false, false, false]);
        // What never gives way stays, even when the flexible column gets less.
        assert_eq!(fit_columns(5, 20, &cols), [true, false, false, false]);
    }

    #[test]
    fn the_scroll_position_is_0_at_the_top_and_100_at_the_end() {
        assert_eq!(scroll_percent(0, 100, 20), Some(0));
        assert_eq!(scroll_percent(40, 100, 20), Some(50));
        assert_eq!(scroll_percent(80, 100, 20), Some(100));
        // Scrolled past the end (a view still clamping) reads as the end.
        assert_eq!(scroll_percent(usize::MAX, 100, 20), Some(100));
        // Everything fits: no position to give.
        assert_eq!(scroll_percent(0, 20, 20), None);
        assert_eq!(scroll_percent(0, 3, 20), None);
    }
}
