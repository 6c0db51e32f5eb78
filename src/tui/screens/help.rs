//! Help: every key of the current screen, then the keys that work everywhere, over the screen.

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
    }
}

/// Draws the help over `area`.
pub fn render(screen: Screen, frame: &mut Frame, area: Rect, theme: &Theme) {
    let (name, keys) = keys_of(screen);
    let key_w = keys
        .iter()
        .chain(strings::KEYS_GLOBAL)
        .map(|(k, _)| text::width(k))
        .max()
        .unwrap_or(8)
        + 2;
    let mut lines = vec![Line::styled(format!("On {name}"), theme.heading)];
    let row = |(k, a): &KeyHelp| {
        // Padded by columns: `format!`'s `{:<n}` counts characters.
        let pad = " ".repeat(key_w - text::width(k));
        Line::from(vec![
            Span::styled(format!("  {k}{pad}"), theme.key),
            Span::styled(a.to_string(), theme.text),
        ])
    };
    lines.extend(keys.iter().map(row));
    lines.push(Line::default());
    lines.push(Line::styled("Everywhere", theme.heading));
    lines.extend(strings::KEYS_GLOBAL.iter().map(row));
    let h = u16::try_from(lines.len() + 2).unwrap_or(u16::MAX);
    let r = centered(area, area.width.saturating_sub(4).min(90), h, frame);
    let block = Block::bordered()
        .title(Span::styled(" Keys ", theme.heading))
        .title_bottom(Line::styled(" any key closes ", theme.dim).right_aligned())
        .border_style(theme.border_focus);
    frame.render_widget(Paragraph::new(lines).block(block), r);
}
