//! The note editor: a box over the Reading screen where a note on the reading is written
//! (several lines; Enter starts a new one), marked as a note or an outcome (Tab), and saved
//! (Ctrl-S). Esc leaves an empty editor at once; with text in it, Esc asks to be pressed again.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui_textarea::{TextArea, WrapMode};

use super::widgets::{EditorBox, editor_box};
use crate::model::ReadingId;
use crate::service::{MAX_NOTE_CHARS, NoteKind, validate_note};
use crate::tui::strings;
use crate::tui::theme::Theme;

/// The editor's state.
#[derive(Debug, Clone)]
pub struct NoteEditor {
    /// The reading the note is on.
    pub id: ReadingId,
    /// The text.
    pub input: TextArea<'static>,
    /// Note or outcome.
    pub kind: NoteKind,
    /// What is wrong, or the warning that Esc again discards.
    pub error: Option<String>,
    /// Esc was pressed once with text in the box.
    discarding: bool,
    /// The note being edited, when it edits one (`None`: a new note).
    pub editing: Option<usize>,
}

/// What a key in the editor asks of the app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoteAction {
    /// Nothing beyond the editor.
    None,
    /// Save this (cleaned) text as a note of this kind on this reading.
    Save(ReadingId, NoteKind, String),
    /// Replace the text of note `.1` of reading `.0` with this (cleaned) text.
    Replace(ReadingId, usize, String),
    /// Close without saving.
    Cancel,
}

impl NoteEditor {
    /// An empty note on reading `id`.
    pub fn new(id: ReadingId) -> Self {
        let mut input = TextArea::default();
        input.set_wrap_mode(WrapMode::WordOrGlyph);
        input.set_cursor_line_style(Style::new());
        input.set_placeholder_text(strings::NOTE_PLACEHOLDER);
        Self {
            id,
            input,
            kind: NoteKind::Note,
            error: None,
            discarding: false,
            editing: None,
        }
    }

    /// Makes it a note of `kind`; the empty editor asks for what that kind holds.
    pub fn set_kind(&mut self, kind: NoteKind) {
        self.kind = kind;
        self.input.set_placeholder_text(match kind {
            NoteKind::Note => strings::NOTE_PLACEHOLDER,
            NoteKind::Outcome => strings::OUTCOME_PLACEHOLDER,
        });
    }

    /// An editor over note `note` of reading `id` (its kind stays).
    pub fn edit(id: ReadingId, note: usize, kind: NoteKind, text: &str) -> Self {
        let mut editor = Self::new(id);
        editor.editing = Some(note);
        editor.input = TextArea::from(text.lines().map(str::to_owned));
        editor.input.set_wrap_mode(WrapMode::WordOrGlyph);
        editor.input.set_cursor_line_style(Style::new());
        editor.set_kind(kind);
        editor
            .input
            .move_cursor(ratatui_textarea::CursorMove::Bottom);
        editor.input.move_cursor(ratatui_textarea::CursorMove::End);
        editor
    }

    /// The text as typed.
    pub fn text(&self) -> String {
        self.input.lines().join("\n")
    }

    /// Handles a key.
    pub fn on_key(&mut self, key: KeyEvent) -> NoteAction {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        if key.code != KeyCode::Esc {
            self.discarding = false;
        }
        match key.code {
            KeyCode::Char('s') if ctrl => {
                return match validate_note(&self.text()) {
                    Ok(text) => match self.editing {
                        Some(note) => NoteAction::Replace(self.id, note, text),
                        None => NoteAction::Save(self.id, self.kind, text),
                    },
                    Err(e) => {
                        self.error = Some(e.to_string());
                        NoteAction::None
                    }
                };
            }
            KeyCode::Esc => {
                if self.text().trim().is_empty() || self.discarding {
                    return NoteAction::Cancel;
                }
                self.discarding = true;
                self.error = Some(strings::NOTE_DISCARD.to_owned());
            }
            KeyCode::Tab | KeyCode::BackTab if self.editing.is_none() => {
                self.set_kind(match self.kind {
                    NoteKind::Note => NoteKind::Outcome,
                    NoteKind::Outcome => NoteKind::Note,
                });
            }
            _ => {
                if super::edit(&mut self.input, key) {
                    self.error = None;
                }
            }
        }
        NoteAction::None
    }

    /// Pastes text at the cursor (line breaks kept).
    pub fn on_paste(&mut self, text: &str) {
        self.error = super::paste(&mut self.input, text, MAX_NOTE_CHARS, false).err();
    }
}

/// Draws the editor in a box over `area`.
pub fn render(editor: &NoteEditor, frame: &mut Frame, area: Rect, theme: &Theme) {
    let title = match (editor.editing, editor.kind) {
        (Some(_), _) => strings::NOTE_EDIT_TITLE,
        (None, NoteKind::Note) => strings::NOTE_TITLE,
        (None, NoteKind::Outcome) => strings::OUTCOME_TITLE,
    };
    let n: usize = editor.input.lines().iter().map(|l| l.chars().count()).sum();
    editor_box(
        &EditorBox {
            title,
            input: &editor.input,
            error: editor.error.as_deref(),
            keys: if editor.editing.is_some() {
                strings::NOTE_EDIT_KEYS
            } else {
                strings::NOTE_KEYS
            },
            count: format!("{n}/{MAX_NOTE_CHARS}"),
            height: 14,
        },
        frame,
        area,
        theme,
    );
}
