//! The Journal view (Reading, `e`): the reading's notes and outcomes in a box over the screen,
//! one a row, to edit (Enter) or delete (`d`); each asks first. ↑ ↓ move; Esc closes.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Padding, Paragraph};

use crate::answer::sanitize_inline;
use crate::model::ReadingId;
use crate::report::NoteReport;
use crate::text::{truncate, width};
use crate::tui::strings;
use crate::tui::theme::Theme;

/// The view's state.
#[derive(Debug, Clone)]
pub struct JournalView {
    /// The reading the notes are on.
    pub id: ReadingId,
    /// Its notes, oldest first.
    pub notes: Vec<NoteReport>,
    /// The note chosen.
    pub cursor: usize,
}

/// What a key in the view asks of the app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JournalAction {
    /// Nothing beyond the view.
    None,
    /// Close the view.
    Close,
    /// Edit this note.
    Edit(NoteReport),
    /// Delete this note (after asking).
    Delete(NoteReport),
}

impl JournalView {
    /// The notes of reading `id`.
    pub fn new(id: ReadingId, notes: Vec<NoteReport>) -> Self {
        Self {
            id,
            notes,
            cursor: 0,
        }
    }

    /// Handles a key.
    pub fn on_key(&mut self, key: KeyEvent) -> JournalAction {
        let last = self.notes.len().saturating_sub(1);
        match key.code {
            KeyCode::Esc | KeyCode::Char('q' | 'e') => return JournalAction::Close,
            KeyCode::Down | KeyCode::Char('j') => self.cursor = (self.cursor + 1).min(last),
            KeyCode::Up | KeyCode::Char('k') => self.cursor = self.cursor.saturating_sub(1),
            KeyCode::Home | KeyCode::Char('g') => self.cursor = 0,
            KeyCode::End | KeyCode::Char('G') => self.cursor = last,
            KeyCode::Enter => {
                if let Some(n) = self.notes.get(self.cursor) {
                    return JournalAction::Edit(n.clone());
                }
            }
            KeyCode::Char('d') | KeyCode::Delete => {
                if let Some(n) = self.notes.get(self.cursor) {
                    return JournalAction::Delete(n.clone());
                }
            }
            _ => {}
        }
        JournalAction::None
    }
}

/// Draws the view in a box over `area`.
pub fn render(view: &JournalView, frame: &mut Frame, area: Rect, theme: &Theme) {
    let w = area.width.saturating_sub(4).min(90);
    let rows = u16::try_from(view.notes.len()).unwrap_or(u16::MAX);
    let h = rows
        .saturating_add(5)
        .min(area.height.saturating_sub(2))
        .max(5);
    let r = Rect {
        x: area.x + (area.width.saturating_sub(w)) / 2,
        y: area.y + (area.height.saturating_sub(h)) / 2,
        width: w,
        height: h,
    };
    super::clear_for_popup(frame, r, area);
    let block = Block::bordered()
        .border_style(theme.border_focus)
        .title(Span::styled(
            format!("{}· {} ", strings::JOURNAL_TITLE, crate::when::zone_name()),
            theme.heading,
        ))
        .padding(Padding::horizontal(1));
    let inner = block.inner(r);
    frame.render_widget(block, r);
    let cols = usize::from(inner.width);
    let height = usize::from(inner.height.saturating_sub(2)).max(1);
    let first = view.cursor.saturating_sub(height - 1);
    let mut lines: Vec<Line> = Vec::new();
    if view.notes.is_empty() {
        lines.push(Line::styled(strings::JOURNAL_EMPTY, theme.dim));
    }
    for (i, n) in view.notes.iter().enumerate().skip(first).take(height) {
        let when = n.at.shown();
        let label = if n.kind == crate::model::NoteKind::Outcome {
            "outcome"
        } else {
            "note"
        };
        let head = format!("{when} · {label:<7} ");
        let text = sanitize_inline(&n.text.replace('\n', " "));
        let room = cols.saturating_sub(width(&head));
        let style = if i == view.cursor {
            theme.selected
        } else {
            theme.text
        };
        lines.push(Line::from(vec![
            Span::styled(head, theme.dim.patch(style)),
            Span::styled(truncate(&text, room), style),
        ]));
    }
    while lines.len() < height {
        lines.push(Line::default());
    }
    lines.push(Line::default());
    lines.push(Line::styled(
        truncate(strings::JOURNAL_KEYS, cols),
        theme.dim,
    ));
    frame.render_widget(Paragraph::new(lines), inner);
}
