//! The live grid: one card per planned section, in as many columns as the width allows, each
//! filling in as its events arrive (queued, running, streaming with a growing preview, retrying
//! with a countdown, done with its figures, failed with its reason). The header carries both
//! hexagrams, the wall time, sections done and the tokens so far. The classic text (offline)
//! spends no tokens: its cards and header say the text is Legge's instead of counting.

use std::sync::Arc;
use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Paragraph};

use super::widgets::status_word;
use super::{fmt_secs, fmt_tokens, hexagram_title};
use crate::answer::{preview, sanitize_inline};
use crate::events::{EventKind, Hold, SectionEvent, UsageSource};
use crate::model::{ErrorKind, ReadingId};
use crate::oracle::Reading;
use crate::report::{ReadingStatus, SectionReport, SectionStatus, status_of};
use crate::service::{CLASSIC_TEXT, Section, is_classic_text};
use crate::text::{self, truncate};
use crate::tui::strings;
use crate::tui::theme::Theme;

/// The narrowest a card gets.
pub const CARD_MIN_W: u16 = 26;
/// The lowest a card gets: borders, a state line, a preview line, two lines of figures.
pub const CARD_MIN_H: u16 = 6;
/// The tallest a card gets.
pub const CARD_MAX_H: u16 = 20;
/// Spinner frames, one every 100 ms.
const SPINNER: [&str; 10] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

/// The figures of a finished section.
#[derive(Debug, Clone, PartialEq)]
pub struct Figures {
    /// From dispatch to the last byte.
    pub latency: Duration,
    /// Time to first token.
    pub ttft: Option<Duration>,
    /// Tokens sent (estimated when the server did not say).
    pub prompt_tokens: u32,
    /// Tokens received, reasoning included.
    pub completion_tokens: u32,
    /// Reported or estimated.
    pub source: UsageSource,
    /// Completion tokens per second.
    pub tokens_per_sec: f64,
    /// The model that answered.
    pub model: String,
    /// Attempts made.
    pub attempts: u32,
    /// The text, plain, for the card's preview.
    pub text: String,
}

impl Figures {
    /// The figures of a finished section as its report holds them.
    pub fn of(s: &SectionReport) -> Self {
        Self {
            latency: Duration::from_millis(s.latency_ms.unwrap_or(0)),
            ttft: s.ttft_ms.map(Duration::from_millis),
            prompt_tokens: s.prompt_tokens.unwrap_or(0),
            completion_tokens: s.completion_tokens.unwrap_or(0),
            source: s.usage.unwrap_or(UsageSource::Estimated),
            tokens_per_sec: s.tokens_per_sec.unwrap_or(0.0),
            model: sanitize_inline(s.model.as_deref().unwrap_or("")),
            attempts: s.attempts,
            text: s
                .paragraphs
                .iter()
                .map(crate::answer::Paragraph::plain_text)
                .collect::<Vec<_>>()
                .join(" "),
        }
    }
}

/// Where a section stands.
#[derive(Debug, Clone, PartialEq)]
pub enum Phase {
    /// Waiting for a slot.
    Queued,
    /// Its request is out; nothing back yet.
    Running,
    /// Text is arriving.
    Streaming,
    /// An attempt failed; the next starts at `until` (app time).
    Retrying {
        /// The attempt about to be made.
        attempt: u32,
        /// When it starts.
        until: Duration,
        /// Why the last one failed (sanitised).
        reason: String,
    },
    /// Finished.
    Done(Box<Figures>),
    /// Failed for good.
    Failed {
        /// What kind of failure, when known.
        kind: Option<ErrorKind>,
        /// Why (sanitised).
        reason: String,
        /// Attempts made.
        attempts: u32,
        /// How long it tried.
        latency: Duration,
    },
    /// Stopped by the user before it finished.
    Cancelled,
}

impl Phase {
    /// Where a section stands by its report, once nothing more will happen to it: done with its
    /// figures, failed with its reason, or else cancelled.
    pub fn settled(s: &SectionReport) -> Self {
        match s.status {
            SectionStatus::Complete => Phase::Done(Box::new(Figures::of(s))),
            SectionStatus::Failed => Phase::Failed {
                kind: s.error_kind,
                reason: sanitize_inline(s.error.as_deref().unwrap_or("")),
                attempts: s.attempts,
                latency: Duration::from_millis(s.latency_ms.unwrap_or(0)),
            },
            SectionStatus::Cancelled | SectionStatus::Pending => Phase::Cancelled,
        }
    }
}

/// One section's card.
#[derive(Debug, Clone, PartialEq)]
pub struct Card {
    /// Which section.
    pub section: Section,
    /// Where it stands.
    pub phase: Phase,
    /// The text of the current attempt as it streams in (raw: the preview cleans it).
    pub text: String,
    /// The model its request goes to: the run's, taken when the run started (a provider chosen
    /// later does not relabel it); `None` when not known (a stored section that never answered).
    /// Once done, the model that answered is in its figures.
    pub model: Option<String>,
    /// When its request went out (app time).
    pub started_at: Option<Duration>,
    /// When its first text arrived (app time).
    pub first_token_at: Option<Duration>,
}

impl Card {
    /// A queued card, its request to go to `model`.
    pub fn queued(section: Section, model: &str) -> Self {
        Self {
            section,
            phase: Phase::Queued,
            text: String::new(),
            model: Some(sanitize_inline(model)),
            started_at: None,
            first_token_at: None,
        }
    }

    /// The model on the card's border: the one that answered once done, else the one asked.
    pub fn model_label(&self) -> Option<&str> {
        match &self.phase {
            Phase::Done(f) => Some(f.model.as_str()),
            _ => self.model.as_deref(),
        }
    }

    /// Whether the classic text answers it (or answered): no tokens or rate to show.
    pub fn classic(&self) -> bool {
        self.model_label().is_some_and(is_classic_text)
    }

    /// The section's state as reports count it.
    pub fn status(&self) -> SectionStatus {
        match self.phase {
            Phase::Done(_) => SectionStatus::Complete,
            Phase::Failed { .. } => SectionStatus::Failed,
            Phase::Cancelled => SectionStatus::Cancelled,
            Phase::Queued | Phase::Running | Phase::Streaming | Phase::Retrying { .. } => {
                SectionStatus::Pending
            }
        }
    }

    /// Completion tokens streamed so far by the current attempt: an estimate, about four bytes
    /// a token (as `llm::openai` estimates reasoning it is not shown), made from the text as it
    /// is drawn and never while an event is folded in. The section's own count (the server's
    /// report, or the provider's estimate when it reports none) replaces it when it finishes.
    pub fn stream_tokens(&self) -> u32 {
        u32::try_from(self.text.len().div_ceil(4)).unwrap_or(u32::MAX)
    }

    fn reset_stream(&mut self) {
        self.text.clear();
        self.first_token_at = None;
    }
}

/// The reading in flight (or the last one), as the grid shows it.
#[derive(Debug, Clone)]
pub struct LiveState {
    /// Which run the events belong to (a retry is a new run).
    pub run: u64,
    /// The reading's id in the store, once it has one.
    pub id: Option<ReadingId>,
    /// The cast read.
    pub reading: Arc<Reading>,
    /// The question (validated).
    pub question: String,
    /// When the run started (app time).
    pub started: Duration,
    /// When it settled.
    pub ended: Option<Duration>,
    /// Running until it settles.
    pub status: ReadingStatus,
    /// Cancelling was confirmed; waiting for the sections to stop.
    pub cancelling: bool,
    /// One per planned section, in plan order.
    pub cards: Vec<Card>,
    /// The chosen card.
    pub selected: usize,
    /// How many requests the endpoint serves at once, once it has held a section back.
    pub serves: Option<usize>,
    /// The server said it is loading its model, and no text has come since.
    pub loading: bool,
}

/// What a key on the grid asks of the app.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LiveAction {
    /// Nothing beyond the screen.
    None,
    /// Open the reading at this section.
    Open(Section),
    /// Retry the failed sections.
    Retry,
    /// Cancel the run in flight (the app asks first).
    Cancel,
    /// Leave; a run in flight goes on in the background.
    Back,
    /// The stats table.
    Stats,
}

impl LiveState {
    /// A reading just cast, every section queued, their requests to go to `model`.
    pub fn new(
        run: u64,
        reading: Arc<Reading>,
        question: String,
        sections: &[Section],
        model: &str,
        now: Duration,
    ) -> Self {
        Self {
            run,
            id: None,
            reading,
            question,
            started: now,
            ended: None,
            status: ReadingStatus::Running,
            cancelling: false,
            cards: sections.iter().map(|&s| Card::queued(s, model)).collect(),
            selected: 0,
            serves: None,
            loading: false,
        }
    }

    /// Whether sections are in flight.
    pub fn running(&self) -> bool {
        self.status == ReadingStatus::Running
    }

    /// What the endpoint is doing to the run, for the status line while it runs: loading its
    /// model, or serving fewer at once than the reading has sections.
    pub fn endpoint_note(&self) -> Option<String> {
        if !self.running() {
            return None;
        }
        if self.loading {
            return Some(strings::SERVER_LOADING.to_owned());
        }
        self.serves
            .filter(|&n| n < self.cards.len())
            .map(crate::events::serves)
    }

    /// Folds one event in, received at `now`.
    pub fn apply(&mut self, event: &SectionEvent, now: Duration) {
        let Some(card) = self.cards.iter_mut().find(|c| c.section == event.section) else {
            return;
        };
        match &event.kind {
            EventKind::Queued => {
                card.phase = Phase::Queued;
                card.started_at = None;
                card.reset_stream();
            }
            EventKind::Started => {
                card.phase = Phase::Running;
                card.started_at = Some(now);
                card.reset_stream();
            }
            EventKind::Delta(text) => {
                self.loading = false;
                card.first_token_at.get_or_insert(now);
                card.text.push_str(text);
                card.phase = Phase::Streaming;
            }
            EventKind::Retrying {
                attempt,
                wait,
                reason,
            } => {
                card.reset_stream();
                card.phase = Phase::Retrying {
                    attempt: *attempt,
                    until: now + *wait,
                    reason: sanitize_inline(reason),
                };
            }
            EventKind::Held(hold) => {
                card.phase = Phase::Queued;
                card.started_at = None;
                card.reset_stream();
                match hold {
                    Hold::Capacity { limit } | Hold::Requeued { limit, .. } => {
                        self.serves = Some(*limit);
                    }
                    Hold::Loading { .. } => self.loading = true,
                }
            }
            EventKind::Finished(done) => {
                let mut report = SectionReport::pending(event.section);
                report.finish(done);
                card.phase = Phase::settled(&report);
                card.text.clear();
            }
            EventKind::Failed(failure) => {
                let mut report = SectionReport::pending(event.section);
                report.fail(failure);
                card.phase = Phase::settled(&report);
                card.text.clear();
            }
        }
    }

    /// The run ended (every section finished, failed or was cancelled).
    pub fn settle(&mut self, cancelled: bool, now: Duration) {
        for card in &mut self.cards {
            if card.status() == SectionStatus::Pending {
                card.phase = Phase::Cancelled;
            }
        }
        self.status = status_of(self.cards.iter().map(Card::status), cancelled);
        self.cancelling = false;
        self.ended = Some(now);
    }

    /// The sections that need another run: failed or cancelled.
    pub fn to_retry(&self) -> Vec<Section> {
        self.cards
            .iter()
            .filter(|c| matches!(c.status(), SectionStatus::Failed | SectionStatus::Cancelled))
            .map(|c| c.section)
            .collect()
    }

    /// Starts run `run` for `sections` again, their requests to go to `model`.
    pub fn restart(&mut self, run: u64, sections: &[Section], model: &str, now: Duration) {
        self.run = run;
        for card in &mut self.cards {
            if sections.contains(&card.section) {
                *card = Card::queued(card.section, model);
            }
        }
        self.status = ReadingStatus::Running;
        self.started = now;
        self.ended = None;
    }

    /// Sections done.
    pub fn done(&self) -> usize {
        self.cards
            .iter()
            .filter(|c| matches!(c.phase, Phase::Done(_)))
            .count()
    }

    /// Tokens so far: finished sections' totals plus what is streaming.
    pub fn tokens(&self) -> u64 {
        self.cards
            .iter()
            .map(|c| match &c.phase {
                Phase::Done(f) => u64::from(f.prompt_tokens + f.completion_tokens),
                Phase::Streaming | Phase::Running | Phase::Retrying { .. } => {
                    u64::from(c.stream_tokens())
                }
                Phase::Queued | Phase::Failed { .. } | Phase::Cancelled => 0,
            })
            .sum()
    }

    /// Whether the classic text answers every section: the header says so instead of counting.
    fn classic(&self) -> bool {
        !self.cards.is_empty() && self.cards.iter().all(Card::classic)
    }

    /// Whether every count so far is an estimate.
    fn estimated(&self) -> bool {
        !self
            .cards
            .iter()
            .any(|c| matches!(&c.phase, Phase::Done(f) if f.source == UsageSource::Reported))
    }

    /// Handles a key; `cols` is the grid's column count at the current width.
    pub fn on_key(&mut self, key: KeyEvent, cols: usize) -> LiveAction {
        let n = self.cards.len();
        let cols = cols.max(1);
        match key.code {
            KeyCode::Left => self.selected = self.selected.saturating_sub(1),
            KeyCode::Right => self.selected = (self.selected + 1).min(n.saturating_sub(1)),
            KeyCode::Up => self.selected = self.selected.saturating_sub(cols),
            KeyCode::Down if self.selected + cols < n => self.selected += cols,
            KeyCode::Down => self.selected = n.saturating_sub(1),
            KeyCode::Home => self.selected = 0,
            KeyCode::End => self.selected = n.saturating_sub(1),
            KeyCode::Enter => {
                if let Some(c) = self.cards.get(self.selected) {
                    return LiveAction::Open(c.section);
                }
            }
            KeyCode::Char('r') => return LiveAction::Retry,
            KeyCode::Char('s') => return LiveAction::Stats,
            KeyCode::Char('c') if self.running() => return LiveAction::Cancel,
            // The reading goes on in the background: Esc only leaves the grid.
            KeyCode::Esc => return LiveAction::Back,
            _ => {}
        }
        LiveAction::None
    }
}

/// How the cards are laid out in an area.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grid {
    /// Cards per row.
    pub cols: usize,
    /// Card height.
    pub card_h: u16,
    /// Rows that fit.
    pub visible_rows: usize,
}

/// The grid for `n` cards in `area`: as many columns as fit, balanced so the last row is not
/// left nearly empty.
pub fn grid(area: Rect, n: usize) -> Grid {
    let n = n.max(1);
    let max_cols = usize::from((area.width / CARD_MIN_W).max(1)).min(n);
    let rows = n.div_ceil(max_cols);
    let cols = n.div_ceil(rows);
    let card_h =
        (area.height / u16::try_from(rows).unwrap_or(u16::MAX)).clamp(CARD_MIN_H, CARD_MAX_H);
    let visible_rows = usize::from((area.height / card_h).max(1));
    Grid {
        cols,
        card_h,
        visible_rows,
    }
}

/// The body height the grid gets in a terminal `height` rows high.
pub fn body(area: Rect) -> Rect {
    Rect {
        y: area.y + 2,
        height: area.height.saturating_sub(2),
        ..area
    }
}

/// Draws the live grid.
pub fn render(
    live: Option<&LiveState>,
    now: Duration,
    frame: &mut Frame,
    area: Rect,
    theme: &Theme,
) {
    let Some(live) = live else {
        frame.render_widget(
            Paragraph::new(Line::styled(strings::LIVE_EMPTY, theme.dim)).centered(),
            Rect {
                y: area.y + area.height / 2,
                height: 1,
                ..area
            },
        );
        return;
    };
    let [head1, head2] = Layout::vertical([Constraint::Length(1), Constraint::Length(1)])
        .areas(Rect { height: 2, ..area });
    render_header(live, now, frame, head1, head2, theme);

    let body = body(area);
    let g = grid(body, live.cards.len());
    let sel_row = live.selected / g.cols;
    let first_row = (sel_row + 1).saturating_sub(g.visible_rows);
    let total_rows = live.cards.len().div_ceil(g.cols);
    // Every card words its figures alike: the fullest wording that fits the narrowest card.
    let narrowest = (usize::from(body.width) / g.cols).saturating_sub(2);
    let level = live
        .cards
        .iter()
        .map(|c| {
            let (_, b) = figures(c, now);
            b.iter()
                .position(|o| text::width(o) <= narrowest)
                .unwrap_or(b.len() - 1)
        })
        .max()
        .unwrap_or(0);
    for (r, row) in (first_row..total_rows).take(g.visible_rows).enumerate() {
        let y = body.y + u16::try_from(r).unwrap_or(0) * g.card_h;
        let row_area = Rect {
            y,
            height: g.card_h,
            ..body
        };
        let cols = Layout::horizontal(vec![
            Constraint::Ratio(1, u32::try_from(g.cols).unwrap_or(1));
            g.cols
        ])
        .split(row_area);
        for (c, cell) in cols.iter().enumerate() {
            let i = row * g.cols + c;
            if let Some(card) = live.cards.get(i) {
                let look = CardLook {
                    selected: i == live.selected,
                    level,
                };
                render_card(card, look, now, frame, *cell, theme);
            }
        }
    }
    let hidden_below = total_rows > first_row + g.visible_rows;
    if first_row > 0 || hidden_below {
        let note = match (first_row > 0, hidden_below) {
            (true, true) => "↑↓ more",
            (true, false) => "↑ more",
            _ => "↓ more",
        };
        let w = u16::try_from(text::width(note) + 2).unwrap_or(8);
        frame.render_widget(
            Span::styled(format!(" {note} "), theme.dim),
            Rect {
                x: body.right().saturating_sub(w + 1),
                y: body.bottom().saturating_sub(1),
                width: w,
                height: 1,
            },
        );
    }
}

fn render_header(
    live: &LiveState,
    now: Duration,
    frame: &mut Frame,
    line1: Rect,
    line2: Rect,
    theme: &Theme,
) {
    let r = &live.reading;
    let short =
        |h: &crate::oracle::Hexagram| format!("{} {} {}", h.symbol, h.number, h.name_pinyin);
    let titles = [
        (hexagram_title(r.primary), r.resulting.map(hexagram_title)),
        (short(r.primary), r.resulting.map(short)),
    ];
    let room = usize::from(line1.width);
    let plain = |(p, res): &(String, Option<String>)| match res {
        Some(res) => format!("{p} → {res}"),
        None => p.clone(),
    };
    let line = match titles.iter().find(|t| text::width(&plain(t)) <= room) {
        Some((p, res)) => {
            let mut spans = vec![Span::styled(p.clone(), theme.heading)];
            if let Some(res) = res {
                spans.push(Span::styled(" → ", theme.dim));
                spans.push(Span::styled(res.clone(), theme.heading));
            }
            Line::from(spans)
        }
        None => Line::styled(truncate(&plain(&titles[1]), room), theme.heading),
    };
    frame.render_widget(line, line1);

    let end = live.ended.unwrap_or(now);
    let (state, style) = if live.cancelling {
        ("cancelling", theme.warn)
    } else {
        status_word(live.status, theme)
    };
    let secs = fmt_secs(end.saturating_sub(live.started));
    let done = format!("{}/{}", live.done(), live.cards.len());
    let tokens = format!(
        "{}{}",
        if live.estimated() { "~" } else { "" },
        fmt_tokens(live.tokens())
    );
    let dot = || Span::styled(" · ", theme.dim);
    // The classic text spent no tokens: whose text it is, where a model's count would be.
    let (long, short) = if live.classic() {
        (CLASSIC_TEXT.to_owned(), CLASSIC_TEXT.to_owned())
    } else {
        (format!("{tokens} tokens"), format!("{tokens} tok"))
    };
    let wordings = [
        vec![
            Span::styled(state, style),
            dot(),
            Span::raw(secs.clone()),
            dot(),
            Span::raw(format!("{done} done")),
            dot(),
            Span::raw(long),
        ],
        vec![
            Span::styled(state, style),
            dot(),
            Span::raw(secs),
            dot(),
            Span::raw(done.clone()),
            dot(),
            Span::raw(short.clone()),
        ],
        vec![
            Span::styled(state, style),
            dot(),
            Span::raw(done),
            dot(),
            Span::raw(short),
        ],
    ];
    // The question keeps some room; the figures say less before it goes.
    let room = usize::from(line2.width);
    let stats = wordings
        .iter()
        .map(|w| Line::from(w.clone()))
        .find(|l| l.width() + 2 + 16 <= room)
        .unwrap_or_else(|| Line::from(wordings[2].clone()));
    let w = u16::try_from(stats.width()).unwrap_or(0).min(line2.width);
    let [q, s] = Layout::horizontal([Constraint::Min(0), Constraint::Length(w)])
        .spacing(2)
        .areas(line2);
    let question = truncate(&format!("“{}”", live.question), usize::from(q.width));
    frame.render_widget(Span::styled(question, theme.italic), q);
    frame.render_widget(stats, s);
}

fn spinner(now: Duration) -> &'static str {
    let i = usize::try_from(now.as_millis() / 100).unwrap_or(0) % SPINNER.len();
    SPINNER[i]
}

/// How one card is drawn: whether it is the chosen one, and which wording of the figures
/// every card uses.
#[derive(Debug, Clone, Copy)]
struct CardLook {
    selected: bool,
    level: usize,
}

fn render_card(
    card: &Card,
    look: CardLook,
    now: Duration,
    frame: &mut Frame,
    area: Rect,
    theme: &Theme,
) {
    let selected = look.selected;
    // The title and the model share the border with its corners and a space each side.
    let title_w = usize::from(area.width.saturating_sub(4));
    let mut block = Block::bordered()
        .title(Span::styled(
            format!(" {} ", truncate(&card.section.title(), title_w)),
            theme.bold,
        ))
        .border_style(if selected {
            theme.border_focus
        } else {
            theme.border
        });
    if let Some(model) = card.model_label() {
        block = block.title_bottom(
            Line::styled(format!(" {} ", truncate(model, 20)), theme.dim).right_aligned(),
        );
    }
    if selected {
        block = block.border_type(BorderType::Thick);
    }
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let w = usize::from(inner.width);
    let preview_rows = usize::from(inner.height.saturating_sub(3)).max(1);

    let (state, state_style, body, body_style): (String, _, String, _) = match &card.phase {
        Phase::Queued => ("· queued".into(), theme.dim, String::new(), theme.dim),
        Phase::Running => (
            format!("{} running", spinner(now)),
            theme.busy,
            "request sent, waiting for the first token".into(),
            theme.dim,
        ),
        Phase::Streaming => (
            format!("{} streaming", spinner(now)),
            theme.busy,
            whole_words(&preview(&card.text)).to_owned(),
            theme.text,
        ),
        Phase::Retrying {
            attempt,
            until,
            reason,
        } => (
            format!(
                "↻ retry {attempt} in {}",
                fmt_secs(until.saturating_sub(now))
            ),
            theme.warn,
            reason.clone(),
            theme.warn,
        ),
        Phase::Done(f) => (
            if f.attempts > 1 {
                format!("✓ done after {} tries", f.attempts)
            } else {
                "✓ done".into()
            },
            theme.ok,
            f.text.clone(),
            theme.dim,
        ),
        Phase::Failed { kind, reason, .. } => (
            format!("✗ {}", kind.map_or("failed", ErrorKind::label)),
            theme.error,
            reason.clone(),
            theme.error,
        ),
        Phase::Cancelled => ("– cancelled".into(), theme.warn, String::new(), theme.dim),
    };
    let mut lines = vec![Line::styled(truncate(&state, w), state_style)];
    // A streaming card shows its newest whole words; the others their start, with an
    // ellipsis where the rest does not fit.
    let shown = preview_lines(&body, w, preview_rows, card.phase == Phase::Streaming);
    for i in 0..preview_rows {
        lines.push(Line::styled(
            shown.get(i).cloned().unwrap_or_default(),
            body_style,
        ));
    }
    let (a, b) = figures(card, now);
    let b = b.get(look.level).or(b.last()).cloned().unwrap_or_default();
    lines.push(Line::styled(truncate(&a, w), theme.text));
    lines.push(Line::styled(truncate(&b, w), theme.text));
    frame.render_widget(Paragraph::new(lines), inner);
}

/// `text` without its last word when that word may still be arriving (no space after it yet).
fn whole_words(text: &str) -> &str {
    match text.trim_end().rfind(char::is_whitespace) {
        Some(i) if !text.ends_with(char::is_whitespace) => &text[..i],
        _ => text,
    }
}

/// `text` word-wrapped to `width`, as `rows` lines: the last ones when `newest`, else the first,
/// the last of them ending in "…" when there is more.
fn preview_lines(text: &str, width: usize, rows: usize, newest: bool) -> Vec<String> {
    let wrapped = text::wrap(text, width);
    if wrapped.len() <= rows {
        return wrapped;
    }
    if newest {
        // As many of the last words as fill the rows.
        let words: Vec<&str> = text.split_whitespace().collect();
        let mut best = Vec::new();
        for k in 1..=words.len().min(400) {
            let tail = text::wrap(&words[words.len() - k..].join(" "), width);
            if tail.len() > rows {
                break;
            }
            best = tail;
        }
        return best;
    }
    let mut shown: Vec<String> = wrapped.into_iter().take(rows).collect();
    if let Some(last) = shown.last_mut() {
        let mut words: Vec<&str> = last.split(' ').collect();
        while words.len() > 1 && text::width(&words.join(" ")) + 1 > width {
            words.pop();
        }
        *last = truncate(&format!("{}…", words.join(" ")), width);
    }
    shown
}

/// The two lines of figures: latency and time to first token; then the tokens (prompt +
/// completion once finished; `~` when estimated) and the rate, in wordings from the fullest to
/// the shortest (every card of a grid uses the same one). The classic text has no tokens or
/// rate: its second line says whose text it is.
fn figures(card: &Card, now: Duration) -> (String, [String; 3]) {
    let since = |t: Option<Duration>| t.map(|t| now.saturating_sub(t));
    let ttft_live = match (card.started_at, card.first_token_at) {
        (Some(s), Some(f)) => Some(f.saturating_sub(s)),
        _ => None,
    };
    let opt = |d: Option<Duration>| d.map_or("–".to_owned(), fmt_secs);
    let rate = |r: Option<f64>| r.map_or("–".to_owned(), |r| fmt_tokens(r.round() as u64));
    let (a, tokens, rate) = match &card.phase {
        Phase::Queued | Phase::Cancelled => ("– s · ttft –".to_owned(), "–".to_owned(), rate(None)),
        Phase::Running | Phase::Streaming | Phase::Retrying { .. } => {
            let streamed = u64::from(card.stream_tokens());
            let r = card
                .first_token_at
                .and_then(|f| crate::events::rate_so_far(streamed, now.saturating_sub(f)));
            (
                format!("{} · ttft {}", opt(since(card.started_at)), opt(ttft_live)),
                format!("~{}", fmt_tokens(streamed)),
                rate(r),
            )
        }
        Phase::Done(f) => {
            let est = if f.source == UsageSource::Estimated {
                "~"
            } else {
                ""
            };
            (
                format!("{} · ttft {}", fmt_secs(f.latency), opt(f.ttft)),
                format!(
                    "{est}{}+{}",
                    fmt_tokens(u64::from(f.prompt_tokens)),
                    fmt_tokens(u64::from(f.completion_tokens)),
                ),
                // The same rule as a stream's: an instant answer's rate means nothing.
                rate(
                    crate::events::rate_so_far(u64::from(f.completion_tokens), f.latency)
                        .map(|_| f.tokens_per_sec),
                ),
            )
        }
        Phase::Failed { latency, .. } => (
            format!("{} · ttft –", fmt_secs(*latency)),
            "–".to_owned(),
            rate(None),
        ),
    };
    if card.classic() {
        let legge = match card.phase {
            Phase::Queued | Phase::Cancelled | Phase::Failed { .. } => String::new(),
            _ => CLASSIC_TEXT.to_owned(),
        };
        return (a, [legge.clone(), legge.clone(), legge]);
    }
    (
        a,
        [
            format!("{tokens} tok · {rate} tok/s"),
            format!("{tokens} tok · {rate} t/s"),
            format!("{tokens} tok"),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_finished_card_shows_a_rate_only_after_half_a_second_and_8_tokens() {
        let card = |latency_ms: u64, completion_tokens: u32| Card {
            phase: Phase::Done(Box::new(Figures {
                latency: Duration::from_millis(latency_ms),
                ttft: Some(Duration::from_millis(5)),
                prompt_tokens: 2_724,
                completion_tokens,
                source: UsageSource::Estimated,
                tokens_per_sec: crate::events::tokens_per_sec(
                    u64::from(completion_tokens),
                    Duration::from_millis(latency_ms),
                ),
                model: "gpt-4o-mini".into(),
                attempts: 1,
                text: String::new(),
            })),
            ..Card::queued(Section::OpeningStatements, "gpt-4o-mini")
        };
        let rate = |c: &Card| figures(c, Duration::from_secs(9)).1[1].clone();
        assert_eq!(rate(&card(13, 168)), "~2,724+168 tok · – t/s");
        assert_eq!(rate(&card(2_000, 7)), "~2,724+7 tok · – t/s");
        assert_eq!(rate(&card(2_000, 168)), "~2,724+168 tok · 84 t/s");
    }

    #[test]
    fn a_stream_is_counted_by_estimate_until_the_section_reports_its_own() {
        let reading = Arc::new(Reading::new(crate::oracle::Cast::manual(
            crate::oracle::Cast::parse_lines("9,8,7,7,6,8").unwrap(),
        )));
        let s = Section::OpeningStatements;
        let mut live = LiveState::new(1, reading, "q".into(), &[s], "m", Duration::ZERO);
        let event = |kind| SectionEvent {
            reading: None,
            section: s,
            kind,
        };
        let at = Duration::from_secs(1);
        live.apply(&event(EventKind::Started), Duration::ZERO);
        live.apply(&event(EventKind::Delta("{\"response\": \"The".into())), at);
        live.apply(&event(EventKind::Delta(" Creative\"}".into())), at);
        // 28 bytes: about 7 tokens, marked as an estimate.
        assert_eq!(live.cards[0].stream_tokens(), 7);
        assert_eq!(live.tokens(), 7);
        assert_eq!(figures(&live.cards[0], at).1[2], "~7 tok");
        // Finished, the server's counts replace it, with no `~`.
        let done = crate::events::SectionDone {
            raw: "{\"response\": \"The Creative\"}".into(),
            paragraphs: crate::answer::parse_response("{\"response\": \"The Creative\"}"),
            usage: crate::events::Usage::reported(1_200, 9),
            latency: at,
            ttft: Some(at),
            model: "m".into(),
            attempts: 1,
            failed_usage: None,
        };
        live.apply(&event(EventKind::Finished(Box::new(done))), at);
        assert_eq!(live.tokens(), 1_209);
        assert_eq!(figures(&live.cards[0], at).1[2], "1,200+9 tok");
    }

    #[test]
    fn a_stream_shows_its_last_whole_words() {
        assert_eq!(whole_words("there is no occas"), "there is no");
        assert_eq!(
            whole_words("there is no occasion "),
            "there is no occasion "
        );
        assert_eq!(whole_words("occas"), "occas", "one word is all there is");
        assert_eq!(
            preview_lines("when a king has reached the point there is no", 12, 1, true),
            ["there is no"]
        );
        assert_eq!(
            preview_lines("when a king has reached the point", 12, 2, true),
            ["has reached", "the point"]
        );
    }

    #[test]
    fn a_finished_card_shows_its_start_and_an_ellipsis_where_it_is_cut() {
        assert_eq!(
            preview_lines("You asked: Should I move to the coast?", 24, 1, false),
            ["You asked: Should I…"]
        );
        assert_eq!(preview_lines("short", 24, 1, false), ["short"]);
    }
}
