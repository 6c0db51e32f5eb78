//! Ask: the question box (a `ratatui-textarea` editor: cursor movement, word delete, undo,
//! paste), the casting method, the provider in use, and validation messages in place.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};
use ratatui_textarea::{TextArea, WrapMode};

use super::provider::ProviderLine;
use crate::oracle::Method;
use crate::reading::{MAX_QUESTION_CHARS, validate_question};
use crate::tui::strings;
use crate::tui::theme::Theme;

/// The Ask screen's state.
#[derive(Debug, Clone)]
pub struct AskState {
    /// The question being typed.
    pub input: TextArea<'static>,
    /// How to cast.
    pub method: Method,
    /// What was wrong with the question when Enter was last pressed.
    pub error: Option<String>,
}

/// What a key on the Ask screen asks of the app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AskAction {
    /// Nothing beyond the screen.
    None,
    /// Cast this (validated, cleaned) question with this method.
    Cast(String, Method),
    /// Leave for history.
    Leave,
}

impl Default for AskState {
    fn default() -> Self {
        Self::new()
    }
}

impl AskState {
    /// An empty question, three coins.
    pub fn new() -> Self {
        let mut input = TextArea::default();
        input.set_wrap_mode(WrapMode::WordOrGlyph);
        input.set_cursor_line_style(Style::new());
        input.set_placeholder_text(strings::QUESTION_PLACEHOLDER);
        Self {
            input,
            method: Method::Coins,
            error: None,
        }
    }

    /// The question as typed (one logical line).
    pub fn text(&self) -> String {
        self.input.lines().join(" ")
    }

    /// Characters typed.
    pub fn chars(&self) -> usize {
        self.input.lines().iter().map(|l| l.chars().count()).sum()
    }

    /// Handles a key. Enter validates and casts; everything else edits.
    pub fn on_key(&mut self, key: KeyEvent) -> AskAction {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match key.code {
            KeyCode::Enter => return self.submit(),
            KeyCode::Char('m' | 'j') if ctrl => return self.submit(),
            KeyCode::Esc => return AskAction::Leave,
            KeyCode::Tab => self.method = next_method(self.method, 1),
            KeyCode::BackTab => self.method = next_method(self.method, 2),
            // Readline habits over the widget's defaults: Ctrl-U deletes to the start, Ctrl-Z undoes.
            KeyCode::Char('u') if ctrl => {
                self.input.delete_line_by_head();
                self.error = None;
            }
            KeyCode::Char('z') if ctrl => {
                self.input.undo();
            }
            _ => {
                if self.input.input(key) {
                    self.error = None;
                }
            }
        }
        AskAction::None
    }

    /// Pastes text at the cursor; line breaks become spaces (a question is one line).
    pub fn on_paste(&mut self, text: &str) {
        let one_line: String = text
            .chars()
            .map(|c| if c == '\n' || c == '\r' { ' ' } else { c })
            .collect();
        if self.input.insert_str(one_line) {
            self.error = None;
        }
    }

    fn submit(&mut self) -> AskAction {
        match validate_question(&self.text()) {
            Ok(q) => {
                self.error = None;
                AskAction::Cast(q, self.method)
            }
            Err(e) => {
                self.error = Some(e.to_string());
                AskAction::None
            }
        }
    }

    /// Clears the box for the next question.
    pub fn reset(&mut self) {
        let method = self.method;
        *self = Self::new();
        self.method = method;
    }
}

fn next_method(m: Method, step: usize) -> Method {
    const ORDER: [Method; 3] = [Method::Coins, Method::Yarrow, Method::Manual];
    let i = ORDER.iter().position(|&x| x == m).unwrap_or(0);
    ORDER[(i + step) % ORDER.len()]
}

/// Draws the Ask screen in `area`.
pub fn render(ask: &AskState, p: &ProviderLine, frame: &mut Frame, area: Rect, theme: &Theme) {
    let box_h = if area.height >= 20 { 7 } else { 5 };
    let [_, input_area, counter, _, method, provider, _, hint] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(box_h),
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Min(0),
    ])
    .horizontal_margin(1)
    .areas(area);

    let block = Block::bordered()
        .title(Span::styled(strings::QUESTION_TITLE, theme.heading))
        .border_style(theme.border_focus);
    let inner = block.inner(input_area);
    frame.render_widget(block, input_area);
    frame.render_widget(&ask.input, inner);

    let n = ask.chars();
    let count_style = if n > MAX_QUESTION_CHARS {
        theme.error
    } else {
        theme.dim
    };
    let count = Span::styled(format!("{n}/{MAX_QUESTION_CHARS}"), count_style);
    let [msg_area, count_area] =
        Layout::horizontal([Constraint::Min(0), Constraint::Length(count.width() as u16)])
            .areas(counter);
    if let Some(e) = &ask.error {
        frame.render_widget(Span::styled(format!("✗ {e}"), theme.error), msg_area);
    }
    frame.render_widget(count, count_area);

    let mut spans = vec![Span::styled(
        format!("{:<12}", strings::METHOD_LABEL),
        theme.bold,
    )];
    for (m, name) in [
        (Method::Coins, strings::METHOD_COINS),
        (Method::Yarrow, strings::METHOD_YARROW),
        (Method::Manual, strings::METHOD_MANUAL),
    ] {
        let (mark, style) = if m == ask.method {
            ("(•) ", theme.accent)
        } else {
            ("( ) ", theme.dim)
        };
        spans.push(Span::styled(format!("{mark}{name}"), style));
        spans.push(Span::raw("  "));
    }
    frame.render_widget(Line::from(spans), method);

    frame.render_widget(
        Line::from(vec![
            Span::styled(format!("{:<12}", strings::PROVIDER_LABEL), theme.bold),
            Span::styled(p.label(), theme.text),
        ]),
        provider,
    );
    let mut notes = Vec::new();
    if let Some(note) = &p.note {
        notes.push(Line::styled(note.clone(), theme.dim));
        notes.push(Line::default());
    }
    notes.push(Line::styled(strings::ASK_HINT, theme.dim));
    frame.render_widget(Paragraph::new(notes).wrap(Wrap { trim: true }), hint);
}
