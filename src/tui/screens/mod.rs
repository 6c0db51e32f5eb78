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

/// The footer: the keys that work here, as many as fit.
pub fn draw_keys(keys: &[KeyHelp], frame: &mut Frame, area: Rect, theme: &Theme) {
    let mut spans = vec![Span::raw(" ")];
    let mut width = 1;
    for (k, action) in keys {
        let w = text::width(k) + text::width(action) + 4;
        if width + w > usize::from(area.width) {
            break;
        }
        width += w;
        spans.push(Span::styled(*k, theme.key));
        spans.push(Span::styled(format!(" {action}   "), theme.dim));
    }
    frame.render_widget(Line::from(spans), area);
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
    frame.render_widget(Clear, r);
    r
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

#[cfg(test)]
mod tests {
    use super::scroll_percent;

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
