//! Help: every key of the current screen, then the keys that work everywhere, over the screen.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
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

/// Draws the help over `area`: a row a key (an action too long for its row goes on below);
/// where the rows do not fit, the keys that work everywhere run together, and what still does
/// not fit is cut with a note saying so.
pub fn render(screen: Screen, frame: &mut Frame, area: Rect, theme: &Theme) {
    let (name, keys) = keys_of(screen);
    let key_w = keys
        .iter()
        .chain(strings::KEYS_GLOBAL)
        .map(|(k, _)| text::width(k))
        .max()
        .unwrap_or(8)
        + 2;
    let w = area.width.saturating_sub(4).min(90);
    // Inside the border, after the key column.
    let action_w = usize::from(w.saturating_sub(2))
        .saturating_sub(key_w + 2)
        .max(10);
    let rows = |out: &mut Vec<Line<'static>>, (k, a): &KeyHelp| {
        // Padded by columns: `format!`'s `{:<n}` counts characters.
        let pad = " ".repeat(key_w - text::width(k));
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
    let mut lines = vec![Line::styled(format!("On {name}"), theme.heading)];
    for k in keys {
        rows(&mut lines, k);
    }
    lines.push(Line::default());
    lines.push(Line::styled("Everywhere", theme.heading));
    let mut global = Vec::new();
    for k in strings::KEYS_GLOBAL {
        rows(&mut global, k);
    }
    let room = usize::from(area.height.saturating_sub(2));
    if lines.len() + global.len() <= room {
        lines.extend(global);
    } else {
        // A row each does not fit: "F2/a ask a new question  ·  F3/l the live grid ...".
        let short: Vec<(String, &str)> = strings::KEYS_GLOBAL
            .iter()
            .map(|(k, a)| {
                let first = a.split([';', '(', ':']).next().unwrap_or(a).trim_end();
                (format!("{} ", k.replace(", ", "/")), first)
            })
            .collect();
        let mut runs: Vec<(&str, Style)> = Vec::new();
        for (i, (k, a)) in short.iter().enumerate() {
            if i > 0 {
                runs.push(("  · ", theme.dim));
            }
            runs.push((k, theme.key));
            runs.push((a, theme.text));
        }
        lines.extend(
            super::wrap_styled(&runs, usize::from(w.saturating_sub(4)))
                .into_iter()
                .map(|l| {
                    let mut spans = vec![Span::raw("  ")];
                    spans.extend(l.spans);
                    Line::from(spans)
                }),
        );
    }
    if lines.len() > room && room > 0 {
        lines.truncate(room - 1);
        lines.push(Line::styled(strings::HELP_CUT, theme.dim));
    }
    let h = u16::try_from(lines.len() + 2).unwrap_or(u16::MAX);
    let r = centered(area, w, h, frame);
    let block = Block::bordered()
        .title(Span::styled(" Keys ", theme.heading))
        .title_bottom(Line::styled(" any key closes ", theme.dim).right_aligned())
        .border_style(theme.border_focus);
    frame.render_widget(Paragraph::new(lines).block(block), r);
}
