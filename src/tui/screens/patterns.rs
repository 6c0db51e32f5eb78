//! The Patterns view (History, `p`): your readings over time ([`crate::report::patterns`]) in a
//! box over the screen: hexagrams against the casting methods' odds, changing lines, readings
//! per month. ↑ ↓ PgUp PgDn scroll; Esc, q or p close it.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Padding, Paragraph};

use crate::tui::strings;
use crate::tui::theme::Theme;

/// The view's state: the text, once loaded, and how far it is scrolled.
#[derive(Debug, Clone, Default)]
pub struct PatternsView {
    /// The patterns as lines, `None` while they load.
    pub lines: Option<Vec<String>>,
    /// First line shown.
    pub scroll: usize,
}

impl PatternsView {
    /// Handles a key; `true` when the view should close.
    pub fn on_key(&mut self, key: KeyEvent) -> bool {
        let len = self.lines.as_ref().map_or(0, Vec::len);
        match key.code {
            KeyCode::Esc | KeyCode::Char('q' | 'p') => return true,
            KeyCode::Down | KeyCode::Char('j') => self.scroll += 1,
            KeyCode::Up | KeyCode::Char('k') => self.scroll = self.scroll.saturating_sub(1),
            KeyCode::PageDown | KeyCode::Char(' ') => self.scroll += 10,
            KeyCode::PageUp => self.scroll = self.scroll.saturating_sub(10),
            KeyCode::Home | KeyCode::Char('g') => self.scroll = 0,
            KeyCode::End | KeyCode::Char('G') => self.scroll = len,
            _ => {}
        }
        self.scroll = self.scroll.min(len.saturating_sub(1));
        false
    }
}

/// Draws the view in a box over `area`.
pub fn render(view: &PatternsView, frame: &mut Frame, area: Rect, theme: &Theme) {
    // The whole screen is the view's: nothing of History shows at its sides.
    frame.render_widget(Clear, area);
    let [_, r, _] = Layout::horizontal([
        Constraint::Length(1),
        Constraint::Fill(1),
        Constraint::Length(1),
    ])
    .areas(area);
    let block = Block::bordered()
        .border_style(theme.border_focus)
        .title(Span::styled(strings::PATTERNS_TITLE, theme.heading))
        .padding(Padding::horizontal(1));
    let inner = block.inner(r);
    frame.render_widget(block, r);
    let width = usize::from(inner.width);
    let lines: Vec<Line<'_>> = match &view.lines {
        None => vec![Line::styled(strings::PATTERNS_LOADING, theme.dim)],
        Some(all) => all
            .iter()
            .skip(
                view.scroll
                    .min(all.len().saturating_sub(usize::from(inner.height))),
            )
            .take(usize::from(inner.height))
            .map(|l| Line::styled(crate::text::truncate(l, width), theme.text))
            .collect(),
    };
    frame.render_widget(Paragraph::new(lines), inner);
}
