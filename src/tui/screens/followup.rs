//! The follow-up editor: a box over the Reading screen where a question about the reading is
//! typed and asked (Enter). Esc leaves an empty box at once; with text in it, Esc asks to be
//! pressed again.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui_textarea::{TextArea, WrapMode};

use super::widgets::{EditorBox, editor_box};
use crate::model::ReadingId;
use crate::model::{MAX_QUESTION_CHARS, clean_question};
use crate::tui::strings;
use crate::tui::theme::Theme;

/// The editor's state.
#[derive(Debug, Clone)]
pub struct FollowupEditor {
    /// The reading asked about.
    pub id: ReadingId,
    /// The question.
    pub input: TextArea<'static>,
    /// What is wrong, or the warning that Esc again discards.
    pub error: Option<String>,
    /// Esc was pressed once with text in the box.
    discarding: bool,
}

/// What a key in the editor asks of the app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FollowupAction {
    /// Nothing beyond the editor.
    None,
    /// Ask this (cleaned) question about this reading.
    Ask(ReadingId, String),
    /// Close without asking.
    Cancel,
}

impl FollowupEditor {
    /// An empty question about reading `id`.
    pub fn new(id: ReadingId) -> Self {
        let mut input = TextArea::default();
        input.set_wrap_mode(WrapMode::WordOrGlyph);
        input.set_cursor_line_style(Style::new());
        input.set_placeholder_text(strings::FOLLOWUP_PLACEHOLDER);
        Self {
            id,
            input,
            error: None,
            discarding: false,
        }
    }

    /// The question as typed.
    pub fn text(&self) -> String {
        self.input.lines().join(" ")
    }

    /// Handles a key.
    pub fn on_key(&mut self, key: KeyEvent) -> FollowupAction {
        if key.code != KeyCode::Esc {
            self.discarding = false;
        }
        match key.code {
            KeyCode::Enter => {
                return match clean_question(&self.text()) {
                    Ok(question) => FollowupAction::Ask(self.id, question),
                    Err(e) => {
                        self.error = Some(e.to_string());
                        FollowupAction::None
                    }
                };
            }
            KeyCode::Esc => {
                if self.text().trim().is_empty() || self.discarding {
                    return FollowupAction::Cancel;
                }
                self.discarding = true;
                self.error = Some(strings::FOLLOWUP_DISCARD.to_owned());
            }
            _ => {
                if super::edit(&mut self.input, key) {
                    self.error = None;
                }
            }
        }
        FollowupAction::None
    }

    /// Pastes text at the cursor (line breaks become spaces: a question is one paragraph).
    pub fn on_paste(&mut self, text: &str) {
        self.error = super::paste(&mut self.input, text, MAX_QUESTION_CHARS, true).err();
    }
}

/// Draws the editor in a box over `area`.
pub fn render(editor: &FollowupEditor, frame: &mut Frame, area: Rect, theme: &Theme) {
    let n: usize = editor.input.lines().iter().map(|l| l.chars().count()).sum();
    editor_box(
        &EditorBox {
            title: strings::FOLLOWUP_TITLE,
            input: &editor.input,
            error: editor.error.as_deref(),
            keys: strings::FOLLOWUP_KEYS,
            count: format!("{n}/{MAX_QUESTION_CHARS}"),
            height: 8,
        },
        frame,
        area,
        theme,
    );
}
