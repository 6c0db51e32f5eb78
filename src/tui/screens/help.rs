//! Help: every key of the current screen, the keys that work everywhere, and the letters that
//! work wherever keys are not typed, over the screen; it scrolls when it does not fit.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};

use super::Screen;
use super::centered;
use crate::text;
use crate::tui::strings::{self, KeyHelp};
use crate::tui::theme::Theme;

/// The keys of `screen` and its name.
pub fn keys_of(screen: Screen) -> (&'static str, &'static [KeyHelp]) {
    match screen {
        Screen::Ask => ("Ask", strings::KEYS_ASK),
        Screen::Cast => ("Cast", strings::KEYS_CAST),
        Screen::Live => ("Live grid", strings::KEYS_LIVE),
        Screen::Reading => ("Reading", strings::KEYS_READING),
        Screen::History => ("History", strings::KEYS_HISTORY),
        Screen::Stats => ("Stats", strings::KEYS_STATS),
        Screen::Library => ("Library", strings::KEYS_LIBRARY),
    }
}

/// What the help is about: the screen under it, and whether letters are typed there (the
/// question, a filter, a search), so that only the function keys work everywhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HelpOf {
    /// The screen under the help.
    pub screen: Screen,
    /// Whether keys are text there.
    pub typing: bool,
}

/// The box's width in `area`.
fn box_width(area: Rect) -> u16 {
    area.width.saturating_sub(4).min(90)
}

/// Every line of the help for `of`, in a box of `area`.
fn lines(of: HelpOf, area: Rect, theme: &Theme) -> Vec<Line<'static>> {
    let (name, keys) = keys_of(of.screen);
    let key_w = keys
        .iter()
        .chain(strings::KEYS_GLOBAL)
        .chain(strings::KEYS_LETTERS)
        .map(|(k, _)| text::width(k))
        .max()
        .unwrap_or(8)
        + 2;
    let w = box_width(area);
    // Inside the border, after the key column.
    let action_w = usize::from(w.saturating_sub(2))
        .saturating_sub(key_w + 2)
        .max(10);
    let rows = |out: &mut Vec<Line<'static>>, (k, a): &KeyHelp| {
        // Padded by columns: `format!`'s `{:<n}` counts characters.
        let pad = " ".repeat(key_w.saturating_sub(text::width(k)));
        for (i, part) in text::wrap(a, action_w).into_iter().enumerate() {
            let key = if i == 0 {
                format!("  {k}{pad}")
            } else {
                " ".repeat(key_w + 2)
            };
            out.push(Line::from(vec![
                Span::styled(key, theme.key),
                Span::styled(part, theme.text),
            ]));
        }
    };
    let note = |out: &mut Vec<Line<'static>>, t: &str| {
        for part in text::wrap(t, usize::from(w.saturating_sub(4))) {
            out.push(Line::styled(format!("  {part}"), theme.dim));
        }
    };
    let mut out = vec![Line::styled(format!("On {name}"), theme.heading)];
    for k in keys {
        rows(&mut out, k);
    }
    if of.screen == Screen::Live {
        note(&mut out, strings::LIVE_LEGEND);
    }
    out.push(Line::default());
    out.push(Line::styled("Everywhere", theme.heading));
    for k in strings::KEYS_GLOBAL {
        rows(&mut out, k);
    }
    out.push(Line::default());
    if of.typing {
        out.push(Line::styled("Letters", theme.heading));
        note(&mut out, strings::HELP_TYPING);
    } else {
        out.push(Line::styled("Here too", theme.heading));
        for k in strings::KEYS_LETTERS {
            rows(&mut out, k);
        }
    }
    out
}

/// How far the help can scroll in `area`.
fn max_scroll(of: HelpOf, area: Rect, theme: &Theme) -> usize {
    let room = usize::from(area.height.saturating_sub(2));
    lines(of, area, theme).len().saturating_sub(room)
}

/// A key while the help is open: the new scroll for a key that scrolls, `None` for any other
/// key (which closes the help).
pub fn on_key(
    key: KeyEvent,
    of: HelpOf,
    scroll: usize,
    area: Rect,
    theme: &Theme,
) -> Option<usize> {
    let max = max_scroll(of, area, theme);
    let page = usize::from(area.height.saturating_sub(3)).max(1);
    let scroll = scroll.min(max);
    Some(match key.code {
        KeyCode::Up | KeyCode::Char('k') => scroll.saturating_sub(1),
        KeyCode::Down | KeyCode::Char('j') => (scroll + 1).min(max),
        KeyCode::PageUp => scroll.saturating_sub(page),
        KeyCode::PageDown | KeyCode::Char(' ') => (scroll + page).min(max),
        KeyCode::Home => 0,
        KeyCode::End => max,
        _ => return None,
    })
}

/// Draws the help over `area`, from line `scroll`: a row a key (an action too long for its row
/// goes on below); where it does not fit, the bottom border says which lines are shown.
pub fn render(of: HelpOf, scroll: usize, frame: &mut Frame, area: Rect, theme: &Theme) {
    let all = lines(of, area, theme);
    let room = usize::from(area.height.saturating_sub(2));
    let scroll = scroll.min(all.len().saturating_sub(room));
    let total = all.len();
    let shown: Vec<Line<'static>> = all.into_iter().skip(scroll).take(room).collect();
    let h = u16::try_from(shown.len() + 2).unwrap_or(u16::MAX);
    let w = box_width(area);
    let r = centered(area, w, h, frame);
    let bottom = if total > room {
        let last = scroll + shown.len();
        let arrows = match (scroll > 0, last < total) {
            (true, true) => "↑↓",
            (true, false) => "↑",
            _ => "↓",
        };
        super::fit(
            &[
                format!(
                    " {arrows} lines {}-{last} of {total} · other keys close ",
                    scroll + 1
                ),
                format!(" {arrows} {}-{last} of {total} ", scroll + 1),
            ],
            usize::from(w.saturating_sub(2)),
        )
    } else {
        " any key closes ".to_owned()
    };
    let block = Block::bordered()
        .title(Span::styled(" Keys ", theme.heading))
        .title_bottom(Line::styled(bottom, theme.dim).right_aligned())
        .border_style(theme.border_focus);
    frame.render_widget(Paragraph::new(shown).block(block), r);
}
