//! Ask: the question box and, below it, the optional situation behind the question (each a
//! `ratatui-textarea` editor: cursor movement, word delete, undo, paste; Tab moves between
//! them), the casting method (Ctrl-T), the provider in use, and validation messages in place.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};
use ratatui_textarea::{TextArea, WrapMode};

use super::provider::ProviderLine;
use crate::model::Query;
use crate::model::{MAX_CONTEXT_CHARS, MAX_QUESTION_CHARS, QueryError};
use crate::oracle::Method;
use crate::tui::strings;
use crate::tui::theme::Theme;

/// The Ask screen's state.
#[derive(Debug, Clone)]
pub struct AskState {
    /// The question being typed.
    pub input: TextArea<'static>,
    /// The situation behind it, optional.
    pub situation: TextArea<'static>,
    /// Which box takes the keys.
    pub focus: AskFocus,
    /// How to cast.
    pub method: Method,
    /// What was wrong with the question when Enter was last pressed.
    pub error: Option<String>,
}

/// The box keys go to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AskFocus {
    /// The question.
    Question,
    /// The situation behind it.
    Situation,
}

/// What a key on the Ask screen asks of the app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AskAction {
    /// Nothing beyond the screen.
    None,
    /// Cast this (validated, cleaned) question and situation with this method.
    Cast(Query, Method),
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
        let editor = |placeholder: &str| {
            let mut area = TextArea::default();
            area.set_wrap_mode(WrapMode::WordOrGlyph);
            area.set_cursor_line_style(Style::new());
            area.set_placeholder_text(placeholder);
            area
        };
        let mut ask = Self {
            input: editor(strings::QUESTION_PLACEHOLDER),
            situation: editor(strings::SITUATION_PLACEHOLDER),
            focus: AskFocus::Question,
            method: Method::Coins,
            error: None,
        };
        ask.set_focus(AskFocus::Question);
        ask
    }

    /// Gives the keys to box `focus`: only that box shows a cursor.
    fn set_focus(&mut self, focus: AskFocus) {
        self.focus = focus;
        let cursor = |on: bool| {
            if on {
                Style::new().add_modifier(Modifier::REVERSED)
            } else {
                Style::new()
            }
        };
        self.input
            .set_cursor_style(cursor(focus == AskFocus::Question));
        self.situation
            .set_cursor_style(cursor(focus == AskFocus::Situation));
    }

    /// The question as typed (one logical line).
    pub fn text(&self) -> String {
        self.input.lines().join(" ")
    }

    /// The situation as typed (one logical line).
    pub fn situation_text(&self) -> String {
        self.situation.lines().join(" ")
    }

    /// Characters typed in the question.
    pub fn chars(&self) -> usize {
        count(&self.input)
    }

    /// The box that has the keys.
    fn focused(&mut self) -> &mut TextArea<'static> {
        match self.focus {
            AskFocus::Question => &mut self.input,
            AskFocus::Situation => &mut self.situation,
        }
    }

    /// Handles a key. Enter validates and casts; everything else edits.
    pub fn on_key(&mut self, key: KeyEvent) -> AskAction {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match key.code {
            KeyCode::Enter => return self.submit(),
            KeyCode::Char('m' | 'j') if ctrl => return self.submit(),
            KeyCode::Esc => return AskAction::Leave,
            KeyCode::Tab | KeyCode::BackTab => {
                self.set_focus(match self.focus {
                    AskFocus::Question => AskFocus::Situation,
                    AskFocus::Situation => AskFocus::Question,
                });
            }
            KeyCode::Char('t') if ctrl => self.method = next_method(self.method),
            _ => {
                if super::edit(self.focused(), key) {
                    self.error = None;
                }
            }
        }
        AskAction::None
    }

    /// Pastes text at the cursor of the focused box; line breaks become spaces (each is one
    /// line).
    pub fn on_paste(&mut self, text: &str) {
        let limit = match self.focus {
            AskFocus::Question => MAX_QUESTION_CHARS,
            AskFocus::Situation => MAX_CONTEXT_CHARS,
        };
        self.error = super::paste(self.focused(), text, limit, true).err();
    }

    fn submit(&mut self) -> AskAction {
        let checked = Query::parse(&self.text(), Some(&self.situation_text())).map_err(|e| {
            let focus = match e {
                QueryError::SituationTooLong(_) => AskFocus::Situation,
                QueryError::EmptyQuestion | QueryError::QuestionTooLong(_) => AskFocus::Question,
            };
            (focus, e.to_string())
        });
        match checked {
            Ok(query) => {
                self.error = None;
                AskAction::Cast(query, self.method)
            }
            Err((focus, e)) => {
                self.set_focus(focus);
                self.error = Some(e);
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

fn next_method(m: Method) -> Method {
    const ORDER: [Method; 3] = [Method::Coins, Method::Yarrow, Method::Manual];
    let i = ORDER.iter().position(|&x| x == m).unwrap_or(0);
    ORDER[(i + 1) % ORDER.len()]
}

/// Characters typed in `area`.
fn count(area: &TextArea<'_>) -> usize {
    area.lines().iter().map(|l| l.chars().count()).sum()
}

/// Draws the Ask screen in `area`.
pub fn render(ask: &AskState, p: &ProviderLine, frame: &mut Frame, area: Rect, theme: &Theme) {
    let (top, box_h, situation_h, gap) = if area.height >= 20 {
        (1, 5, 4, 1)
    } else {
        (0, 4, 4, 0)
    };
    let [
        _,
        input_area,
        counter,
        situation_area,
        situation_counter,
        method,
        provider,
        _,
        hint,
    ] = Layout::vertical([
        Constraint::Length(top),
        Constraint::Length(box_h),
        Constraint::Length(1),
        Constraint::Length(situation_h),
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Length(gap),
        Constraint::Min(0),
    ])
    .horizontal_margin(1)
    .areas(area);

    let focused = |f: AskFocus| {
        if ask.focus == f {
            theme.border_focus
        } else {
            theme.border
        }
    };
    for (focus, title, editor, at) in [
        (
            AskFocus::Question,
            strings::QUESTION_TITLE,
            &ask.input,
            input_area,
        ),
        (
            AskFocus::Situation,
            strings::SITUATION_TITLE,
            &ask.situation,
            situation_area,
        ),
    ] {
        let block = Block::bordered()
            .title(Span::styled(title, theme.heading))
            .border_style(focused(focus));
        let inner = block.inner(at);
        frame.render_widget(block, at);
        super::widgets::text_box(editor, frame, inner);
    }

    for (focus, n, max, at) in [
        (AskFocus::Question, ask.chars(), MAX_QUESTION_CHARS, counter),
        (
            AskFocus::Situation,
            count(&ask.situation),
            MAX_CONTEXT_CHARS,
            situation_counter,
        ),
    ] {
        let count_style = if n > max { theme.error } else { theme.dim };
        let count = Span::styled(format!("{n}/{max}"), count_style);
        let [msg_area, count_area] =
            Layout::horizontal([Constraint::Min(0), Constraint::Length(count.width() as u16)])
                .areas(at);
        if let Some(e) = ask.error.as_ref().filter(|_| ask.focus == focus) {
            frame.render_widget(
                Span::styled(
                    crate::text::truncate(&format!("✗ {e}"), usize::from(msg_area.width)),
                    theme.error,
                ),
                msg_area,
            );
        }
        frame.render_widget(count, count_area);
    }

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

    let mut row = vec![
        Span::styled(format!("{:<12}", strings::PROVIDER_LABEL), theme.bold),
        Span::styled(p.label(), theme.text),
    ];
    // The classic text answers: the way to a model, on the row itself when it fits.
    let f7_on_row = p.name == "offline"
        && 12 + crate::text::width(&p.label()) + crate::text::width(strings::ASK_OFFLINE_KEY)
            <= usize::from(provider.width);
    if f7_on_row {
        row.push(Span::styled(strings::ASK_OFFLINE_KEY, theme.accent));
    }
    frame.render_widget(Line::from(row), provider);
    // The notes, each whole or not at all where the room runs out (no sentence cut mid-word):
    // the provider's note, then how to reach a model (offline) or the usual hint.
    let width = usize::from(hint.width);
    let mut blocks: Vec<Vec<String>> = Vec::new();
    if let Some(note) = &p.note {
        blocks.push(crate::text::wrap(note, width));
    }
    if p.name == "offline" {
        blocks.push(crate::text::wrap(strings::ASK_OFFLINE_HINT, width));
    } else {
        let mut usual = crate::text::wrap(strings::ASK_HINT, width);
        if !blocks.is_empty() {
            usual.insert(0, String::new());
        }
        blocks.push(usual);
    }
    let room = usize::from(hint.height);
    let mut notes: Vec<String> = Vec::new();
    for block in &blocks {
        if notes.len() + block.len() <= room {
            notes.extend(block.iter().cloned());
        }
    }
    // Nothing fits whole and the row does not point to F7: the first, cut, rather than
    // nothing.
    if notes.is_empty()
        && room > 0
        && !f7_on_row
        && let Some(first) = blocks.first()
    {
        notes = first.iter().take(room).cloned().collect();
        if let Some(last) = notes.last_mut() {
            *last = crate::text::truncate(&format!("{last} …"), width);
            if !last.ends_with('…') {
                last.push('…');
            }
        }
    }
    let lines: Vec<Line<'_>> = notes
        .into_iter()
        .map(|l| Line::styled(l, theme.dim))
        .collect();
    frame.render_widget(Paragraph::new(lines), hint);
}
