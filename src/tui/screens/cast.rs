//! Cast: the six lines appear bottom to top with the coins (or the yarrow stalks) behind each;
//! any key skips ahead. For a manual cast the same screen takes the six values one by one.

use crate::model::Query;
use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::hexagram_title;
use super::widgets::bar;
use crate::oracle::{Cast, LineOrigin, LineValue, Method, Reading};
use crate::tui::strings;
use crate::tui::theme::Theme;

/// How long each line takes to appear.
pub const LINE_STEP: Duration = Duration::from_millis(220);
/// How long the finished cast stays before the live grid takes over.
pub const HOLD: Duration = Duration::from_millis(1400);

/// The Cast screen's state.
#[derive(Debug, Clone)]
pub struct CastState {
    /// The question (and situation) being cast for.
    pub query: Query,
    /// The method.
    pub method: Method,
    /// The cast, once made (random casts at once; manual ones after six values).
    pub cast: Option<Cast>,
    /// Values typed so far, bottom first (manual casts).
    pub manual: Vec<LineValue>,
    /// When the animation started (app time).
    pub started: Duration,
    /// A hint after a key that is not 6-9 (manual casts).
    pub hint: Option<String>,
}

/// What a key on the Cast screen asks of the app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CastAction {
    /// Nothing beyond the screen.
    None,
    /// Go on to the live grid.
    Skip,
    /// The manual cast is complete: start the reading.
    Cast(Cast),
    /// Back to the question.
    Back,
}

impl CastState {
    /// How many lines are shown at `now`.
    pub fn shown(&self, now: Duration) -> usize {
        match (&self.cast, self.method) {
            (_, Method::Manual) => self.manual.len(),
            (Some(_), _) => {
                let steps = now.saturating_sub(self.started).as_millis() / LINE_STEP.as_millis();
                usize::try_from(steps + 1).unwrap_or(6).min(6)
            }
            (None, _) => 0,
        }
    }

    /// Whether the animation is still running at `now`.
    pub fn animating(&self, now: Duration) -> bool {
        self.method != Method::Manual && now < self.started + LINE_STEP * 5 + HOLD
    }

    /// Whether the screen should give way to the live grid at `now`.
    pub fn finished(&self, now: Duration) -> bool {
        self.method != Method::Manual && self.cast.is_some() && !self.animating(now)
    }

    /// Handles a key.
    pub fn on_key(&mut self, key: KeyEvent) -> CastAction {
        if self.method != Method::Manual {
            return CastAction::Skip;
        }
        self.hint = None;
        match key.code {
            KeyCode::Char(c @ '6'..='9') if self.manual.len() < 6 => {
                let v = c.to_digit(10).and_then(|d| u8::try_from(d).ok());
                if let Some(v) = v.and_then(LineValue::new) {
                    self.manual.push(v);
                }
            }
            KeyCode::Backspace => {
                self.manual.pop();
            }
            KeyCode::Enter if self.manual.len() == 6 => {
                let lines: [LineValue; 6] =
                    std::array::from_fn(|i| self.manual.get(i).copied().unwrap_or(self.manual[0]));
                let cast = Cast::manual(lines);
                self.cast = Some(cast.clone());
                return CastAction::Cast(cast);
            }
            KeyCode::Esc => return CastAction::Back,
            KeyCode::Enter => {
                self.hint = Some(format!("{} more line(s) to go.", 6 - self.manual.len()));
            }
            KeyCode::Char(_) if self.manual.len() == 6 => {
                self.hint = Some(strings::MANUAL_READY.into());
            }
            _ => self.hint = Some("Each line is 6, 7, 8 or 9.".into()),
        }
        CastAction::None
    }
}

/// The mark of a changing line: ○ for old yang, × for old yin.
pub fn mark(v: LineValue) -> &'static str {
    match v.get() {
        9 => "○",
        6 => "×",
        _ => " ",
    }
}

/// Draws the Cast screen.
pub fn render(state: &CastState, now: Duration, frame: &mut Frame, area: Rect, theme: &Theme) {
    // A short terminal loses the blank rows first, so the prompt always has a line.
    let roomy = area.height >= 16;
    let gap = Constraint::Length(u16::from(roomy));
    let [title, _, lines_area, _, result, hint] = Layout::vertical([
        Constraint::Length(1),
        gap,
        Constraint::Length(6),
        gap,
        Constraint::Length(if roomy { 2 } else { 1 }),
        Constraint::Min(0),
    ])
    .margin(u16::from(roomy))
    .areas(area);
    frame.render_widget(
        Line::styled(strings::casting_title(state.method), theme.heading).centered(),
        title,
    );
    let shown = state.shown(now);
    let values: Vec<LineValue> = match &state.cast {
        Some(c) => c.lines.to_vec(),
        None => state.manual.clone(),
    };
    let origins: Option<[LineOrigin; 6]> = state.cast.as_ref().map(|c| c.origins);
    let block_w = 72.min(lines_area.width);
    // What is behind each line is padded to a column where there is room for one.
    let behind_w = usize::from(block_w)
        .saturating_sub(10 + 13 + 3 + 1 + 14)
        .min(32);
    let mut rows = Vec::new();
    for pos in (1..=6usize).rev() {
        let mut spans = vec![Span::styled(format!("  line {pos}  "), theme.dim)];
        match values.get(pos - 1) {
            Some(&v) if pos <= shown => {
                let b = bar(v.is_yang());
                spans.push(Span::styled(format!("{b:<13}"), theme.bold));
                spans.push(Span::styled(format!(" {} ", mark(v)), theme.changing));
                let origin = origins.map(|o| o[pos - 1]);
                let behind = match origin {
                    Some(o @ (LineOrigin::Coins { .. } | LineOrigin::Yarrow { .. })) => {
                        o.describe()
                    }
                    Some(LineOrigin::Manual) | None => "your cast".to_owned(),
                };
                // Narrow, the stalks keep only what they come to ("36 stalks").
                let sum = behind.rsplit("= ").next().unwrap_or_default().to_owned();
                let behind = super::fit(&[behind.clone(), sum], behind_w);
                spans.push(Span::styled(
                    format!(" {}", crate::text::pad(&behind, behind_w)),
                    theme.text,
                ));
                spans.push(Span::styled(
                    format!(" {} {}", v.get(), v.describe()),
                    theme.accent,
                ));
            }
            _ => spans.push(Span::styled("·············", theme.dim)),
        }
        rows.push(Line::from(spans));
    }
    let lines_area = Rect {
        x: lines_area.x + (lines_area.width - block_w) / 2,
        width: block_w,
        ..lines_area
    };
    frame.render_widget(Paragraph::new(rows), lines_area);

    if shown == 6 {
        let reading = state.cast.clone().map(Reading::new).or_else(|| {
            let lines: [LineValue; 6] = values.clone().try_into().ok()?;
            Some(Reading::new(Cast::manual(lines)))
        });
        if let Some(r) = reading {
            // The full names where they fit, else number and pinyin; cut with an ellipsis last.
            let short = |h: &crate::oracle::Hexagram| {
                format!("{} {} {}", h.symbol, h.number, h.name_pinyin)
            };
            let both = |name: &dyn Fn(&crate::oracle::Hexagram) -> String| match r.resulting {
                Some(res) => format!("{}  →  {}", name(r.primary), name(res)),
                None => name(r.primary),
            };
            let line = super::fit(
                &[both(&|h| hexagram_title(h)), both(&short)],
                usize::from(result.width),
            );
            frame.render_widget(Line::styled(line, theme.heading).centered(), result);
        }
    }
    let text = match (&state.hint, state.method, shown) {
        (Some(h), _, _) => Line::styled(h.clone(), theme.warn),
        // The sixth value changes the prompt at once, before any other key.
        (None, Method::Manual, _) if state.cast.is_none() && state.manual.len() == 6 => {
            Line::styled(strings::MANUAL_READY, theme.accent)
        }
        (None, Method::Manual, _) if state.cast.is_none() => {
            Line::styled(strings::MANUAL_PROMPT, theme.text)
        }
        (None, _, 6) => Line::styled(strings::CAST_DONE, theme.dim),
        _ => Line::default(),
    };
    frame.render_widget(
        Paragraph::new(text).centered().wrap(Wrap { trim: true }),
        hint,
    );
}
