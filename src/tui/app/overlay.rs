//! What is open over the screen: the help, the provider picker, the note and follow-up editors,
//! the Journal, the Patterns or a yes/no question. At most one is open ([`App::overlay`]), and
//! this file is the one place that says, for each, how it takes the keys
//! ([`App::on_overlay_key`]) and a paste ([`App::on_overlay_paste`]), which keys the footer
//! names ([`Overlay::keys`]) and how it is drawn over the screen ([`Overlay::render`]).
//! Opening one closes whatever was open: it replaces it.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Padding, Paragraph};

use super::{App, Confirm, Effect};
use crate::service::NoteKind;
use crate::text;
use crate::tui::screens::followup::{self, FollowupAction, FollowupEditor};
use crate::tui::screens::journal::{self, JournalAction, JournalView};
use crate::tui::screens::note::{self, NoteAction, NoteEditor};
use crate::tui::screens::patterns::{self, PatternsView};
use crate::tui::screens::provider::{self, PickerAction, PickerState};
use crate::tui::screens::reading::Asking;
use crate::tui::screens::{body, centered, help};
use crate::tui::strings::{KeyHelp, footer, msg};
use crate::tui::theme::Theme;

/// The one thing open over the screen. It takes every key (but Ctrl-C), the footer names its
/// keys, and it is drawn on top.
#[derive(Debug, Clone)]
pub enum Overlay {
    /// The keys of the screen underneath, from line `scroll`.
    Help {
        /// The first line shown.
        scroll: usize,
    },
    /// The provider picker (F7).
    Picker(Box<PickerState>),
    /// The note editor (over the Reading screen).
    Note(Box<NoteEditor>),
    /// The follow-up editor (over the Reading screen).
    Followup(Box<FollowupEditor>),
    /// The Journal (over the Reading screen).
    Journal(JournalView),
    /// The Patterns (over History).
    Patterns(PatternsView),
    /// A question waiting for y/n; its words are the status line's message.
    Confirm(Confirm),
}

impl Overlay {
    /// The keys the footer names while it is open.
    pub fn keys(&self) -> &'static [KeyHelp] {
        match self {
            Overlay::Help { .. } => footer::HELP,
            Overlay::Picker(p) => p.keys(),
            Overlay::Note(editor) if editor.editing.is_some() => footer::NOTE_EDIT,
            Overlay::Note(_) => footer::NOTE,
            Overlay::Followup(_) => footer::FOLLOWUP,
            Overlay::Journal(_) => footer::JOURNAL,
            Overlay::Patterns(_) => footer::PATTERNS,
            Overlay::Confirm(_) => footer::CONFIRM,
        }
    }

    /// Draws it over `area` (the body of the frame) of `app`.
    pub fn render(&self, app: &App, frame: &mut Frame, area: Rect, theme: &Theme) {
        match self {
            Overlay::Help { scroll } => help::render(app.help_of(), *scroll, frame, area, theme),
            Overlay::Picker(p) => provider::render(p, frame, area, theme),
            Overlay::Note(editor) => note::render(editor, frame, area, theme),
            Overlay::Followup(editor) => followup::render(editor, frame, area, theme),
            Overlay::Journal(view) => journal::render(view, frame, area, theme),
            Overlay::Patterns(view) => patterns::render(view, frame, area, theme),
            Overlay::Confirm(_) => {
                if let Some(s) = &app.status {
                    draw_confirm(&s.text, frame, area, theme);
                }
            }
        }
    }
}

/// A yes/no question in a box over the screen.
fn draw_confirm(words: &str, frame: &mut Frame, area: Rect, theme: &Theme) {
    let w = area.width.saturating_sub(8).min(64);
    let lines = text::wrap(words, usize::from(w.saturating_sub(4)));
    let h = u16::try_from(lines.len()).unwrap_or(1) + 4;
    let r = centered(area, w, h, frame);
    let block = Block::bordered()
        .border_style(theme.warn)
        .title(Span::styled(" Are you sure? ", theme.warn));
    let mut shown: Vec<Line> = vec![Line::default()];
    shown.extend(lines.into_iter().map(|l| Line::styled(l, theme.text)));
    frame.render_widget(
        Paragraph::new(shown).block(block.padding(Padding::horizontal(1))),
        r,
    );
}

impl App {
    /// Opens `overlay` over the screen, in place of whatever was open.
    pub(super) fn open(&mut self, overlay: Overlay) {
        self.overlay = Some(overlay);
    }

    /// Asks `c` on the status line in `words`, as a question over the screen.
    pub(super) fn ask(&mut self, c: Confirm, words: impl Into<String>) {
        self.open(Overlay::Confirm(c));
        self.say(words);
    }

    /// A key while `overlay` is open (taken out of [`App::overlay`]): it stays open, or closes,
    /// or gives way to another, and what it asks for is done.
    pub(super) fn on_overlay_key(&mut self, overlay: Overlay, key: KeyEvent, fx: &mut Vec<Effect>) {
        match overlay {
            Overlay::Help { scroll } => {
                let of = self.help_of();
                if let Some(scroll) = help::on_key(key, of, scroll, body(self.size), &self.theme) {
                    self.open(Overlay::Help { scroll });
                }
            }
            Overlay::Patterns(mut view) => {
                if !view.on_key(key) {
                    self.open(Overlay::Patterns(view));
                }
            }
            Overlay::Followup(mut editor) => match editor.on_key(key) {
                FollowupAction::None => self.open(Overlay::Followup(editor)),
                FollowupAction::Cancel => {}
                FollowupAction::Ask(id, question) => {
                    let run = self.next_run();
                    self.reading.asking = Some(Asking {
                        run,
                        id,
                        question: question.clone(),
                        text: String::new(),
                    });
                    // The question and its answer in view as it is written.
                    self.reading.follow = true;
                    self.reading.follow_answer(body(self.size), &self.theme);
                    fx.push(Effect::Ask { run, id, question });
                }
            },
            Overlay::Note(mut editor) => match editor.on_key(key) {
                NoteAction::None => self.open(Overlay::Note(editor)),
                NoteAction::Cancel => {}
                NoteAction::Save(id, kind, text) => fx.push(Effect::AddNote { id, kind, text }),
                NoteAction::Replace(_, _, text) => {
                    self.ask(Confirm::EditNote(editor, text), msg::CONFIRM_EDIT_NOTE);
                }
            },
            Overlay::Journal(mut view) => match view.on_key(key) {
                JournalAction::None => self.open(Overlay::Journal(view)),
                JournalAction::Close => {}
                JournalAction::Edit(n) => {
                    let kind = if n.kind == crate::model::NoteKind::Outcome {
                        NoteKind::Outcome
                    } else {
                        NoteKind::Note
                    };
                    let editor = NoteEditor::edit(view.id, n.number, kind, &n.text);
                    self.open(Overlay::Note(Box::new(editor)));
                }
                JournalAction::Delete(n) => {
                    self.ask(
                        Confirm::DeleteNote(view.id, n.number),
                        msg::CONFIRM_DELETE_NOTE,
                    );
                }
            },
            Overlay::Picker(mut picker) => {
                match picker.on_key(key) {
                    PickerAction::None => {}
                    PickerAction::Close => return,
                    PickerAction::LoadModels(provider) => {
                        fx.push(Effect::LoadModels { provider });
                    }
                    PickerAction::Doctor(provider, model) => {
                        fx.push(Effect::Doctor { provider, model });
                    }
                    PickerAction::Use(provider, model) => {
                        if self.running() {
                            self.error(msg::BUSY_PROVIDER);
                        } else {
                            fx.push(Effect::UseProvider { provider, model });
                        }
                    }
                    PickerAction::SetKey(provider, key) => {
                        fx.push(Effect::SetProviderKey { provider, key });
                    }
                    PickerAction::RemoveKey(provider) => {
                        fx.push(Effect::RemoveProviderKey { provider });
                    }
                    PickerAction::SetLanguage(language) => {
                        fx.push(Effect::SetLanguage { language });
                    }
                }
                // Open until the choice lands (`Msg::ProviderChanged`) or Esc.
                self.open(Overlay::Picker(picker));
            }
            Overlay::Confirm(c) => self.on_confirm_key(c, key, fx),
        }
    }

    /// y, n or Esc to question `c`; any other key leaves it asked.
    fn on_confirm_key(&mut self, c: Confirm, key: KeyEvent, fx: &mut Vec<Effect>) {
        match key.code {
            KeyCode::Char('y' | 'Y') => match c {
                Confirm::Quit => self.quit_now(fx),
                Confirm::Cancel => self.cancel_run(fx),
                Confirm::Delete(id) => {
                    fx.push(Effect::Delete { id });
                    self.status = None;
                }
                Confirm::EditNote(editor, text) => {
                    if let Some(note) = editor.editing {
                        fx.push(Effect::EditNote {
                            id: editor.id,
                            note,
                            text,
                        });
                    }
                    self.status = None;
                }
                Confirm::DeleteNote(id, note) => {
                    fx.push(Effect::DeleteNote { id, note });
                    self.status = None;
                }
                Confirm::StopFollowup(run) => {
                    fx.push(Effect::Cancel { run });
                    self.status = None;
                }
            },
            KeyCode::Char('n' | 'N') | KeyCode::Esc => {
                self.status = None;
                // The edit is not lost: back to the editor.
                if let Confirm::EditNote(editor, _) = c {
                    self.open(Overlay::Note(editor));
                }
            }
            _ => self.open(Overlay::Confirm(c)),
        }
    }

    /// A paste while an overlay is open: the editors take it; `false` when the open one takes
    /// no text (the screen underneath takes it, as it always has).
    pub(super) fn on_overlay_paste(&mut self, pasted: &str) -> bool {
        match self.overlay.as_mut() {
            Some(Overlay::Followup(editor)) => editor.on_paste(pasted),
            Some(Overlay::Note(editor)) => editor.on_paste(pasted),
            // The key being pasted, or a filter; never the screen underneath.
            Some(Overlay::Picker(picker)) => picker.on_paste(pasted),
            Some(
                Overlay::Help { .. }
                | Overlay::Journal(_)
                | Overlay::Patterns(_)
                | Overlay::Confirm(_),
            )
            | None => return false,
        }
        true
    }
}
