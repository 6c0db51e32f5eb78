//! Reading: one reading as it was kept in the store — the hexagrams drawn as lines (changing
//! lines marked) with their names and trigrams and the nuclear hexagram, every section as
//! formatted text, scrollable, with a jump list, and the classic's text of the judgment, image
//! and changing lines at the end, one key away.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

use super::library::Links;
use super::widgets::bar;
use super::{heading, hexagram_title, wrap_styled};
use crate::answer::{Paragraph as Para, sanitize_inline};
use crate::model::{ExportFormat, ReadingId};
use crate::oracle::{Hexagram, hexagram};
use crate::report::{ReadingReport, SectionStatus};
use crate::service::Section;
use crate::text::{self, truncate};
use crate::tui::strings;
use crate::tui::theme::Theme;

/// Widest the jump list gets.
const LIST_W: u16 = 24;
/// The jump list shows from this width on.
const LIST_FROM: u16 = 72;

/// The Reading screen's state.
#[derive(Debug, Clone, Default)]
pub struct ReadingState {
    /// The reading as loaded from the store.
    pub report: Option<Box<ReadingReport>>,
    /// The id being loaded.
    pub loading: Option<ReadingId>,
    /// The load in progress is of the reading on show, which changed (a section was saved, a
    /// note was written): it replaces it in place, at the same line.
    pub keep_place: bool,
    /// The reading on show changed again while it was being loaded: load it once more.
    pub stale: bool,
    /// The first line shown.
    pub scroll: usize,
    /// A section to show once the reading has loaded.
    pub jump: Option<Section>,
    /// The follow-up question being answered, when one is.
    pub asking: Option<Asking>,
    /// Keep the end of the answer being written in view (until a key moves the view).
    pub follow: bool,
    /// Whether the classic's text at the end shows the Chinese under Legge (`c` toggles it).
    pub chinese: bool,
}

/// A follow-up question being answered: shown below the reading's sections as it streams in.
#[derive(Debug, Clone)]
pub struct Asking {
    /// Which run of the app answers it (for cancelling).
    pub run: u64,
    /// The reading asked about.
    pub id: ReadingId,
    /// The question.
    pub question: String,
    /// The answer so far, as received.
    pub text: String,
}

/// What a key on the Reading screen asks of the app.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadingAction {
    /// Nothing beyond the screen.
    None,
    /// Back to where it was opened from.
    Back,
    /// The stats table of this reading.
    Stats(ReadingId),
    /// Export this reading.
    Export(ReadingId, ExportFormat),
    /// Open the reading's hexagrams in the Library, at the primary.
    Book(Links),
    /// Something was asked that this reading cannot do (one without a store id).
    Say(&'static str),
    /// Write a note on this reading.
    Note(ReadingId),
    /// Ask a follow-up question about this reading.
    FollowUp(ReadingId),
    /// The reading's journal, to edit or delete a note.
    Journal(ReadingId),
}

/// A reading laid out for a width: its lines and where each entry of the jump list starts.
pub struct Doc {
    /// Every line.
    pub lines: Vec<Line<'static>>,
    /// (label, first line) of each entry.
    pub anchors: Vec<(String, usize)>,
    /// Which anchor is each section's.
    pub sections: Vec<(Section, usize)>,
    /// The line after the follow-up being answered, while one is.
    pub answer_end: Option<usize>,
}

/// The jump list's and the text's areas in the body.
pub fn areas(body: Rect) -> (Option<Rect>, Rect) {
    if body.width >= LIST_FROM {
        let [list, text] =
            Layout::horizontal([Constraint::Length(LIST_W), Constraint::Min(0)]).areas(body);
        (Some(list), text)
    } else {
        (None, body)
    }
}

/// Where the text goes inside its area: a readable measure, centred.
fn text_inner(text: Rect) -> Rect {
    super::readable(text)
}

impl ReadingState {
    /// The entry (anchor index) at the top of the view.
    pub fn current(&self, doc: &Doc) -> usize {
        doc.anchors
            .iter()
            .rposition(|(_, line)| *line <= self.scroll)
            .unwrap_or(0)
    }

    /// Shows `report`, loaded again for the reading already on show, at the line it was at (or
    /// as near as the new text allows).
    pub fn refreshed(&mut self, report: Box<ReadingReport>, body: Rect, theme: &Theme) {
        // The place is the entry at the top and the lines into it: sections above it that were
        // one line ("Not written yet") may now be many.
        let place = self.laid_out(body, theme).and_then(|(d, _)| {
            let at = self.current(&d);
            let (label, line) = d.anchors.get(at)?;
            Some((label.clone(), at, self.scroll.saturating_sub(*line)))
        });
        self.report = Some(report);
        if let Some((d, text)) = self.laid_out(body, theme) {
            if let Some((label, at, into)) = place {
                let anchor = d
                    .anchors
                    .iter()
                    .find(|(l, _)| *l == label)
                    .or_else(|| d.anchors.get(at));
                if let Some((_, line)) = anchor {
                    self.scroll = line + into;
                }
            }
            self.clamp(d.lines.len(), usize::from(text.height));
        }
    }

    /// Scrolls to `section` (once loaded).
    pub fn apply_jump(&mut self, body: Rect, theme: &Theme) {
        let Some(section) = self.jump else { return };
        let Some((d, text)) = self.laid_out(body, theme) else {
            return;
        };
        if let Some(&(_, a)) = d.sections.iter().find(|(s, _)| *s == section) {
            self.scroll = d.anchors[a].1;
        }
        self.jump = None;
        self.clamp(d.lines.len(), usize::from(text.height));
    }

    /// Scrolls so that the end of the answer being written is in view, when following it.
    pub fn follow_answer(&mut self, body: Rect, theme: &Theme) {
        let Some((d, text)) = self.laid_out(body, theme).filter(|_| self.follow) else {
            return;
        };
        if let Some(end) = d.answer_end {
            self.scroll = end.saturating_sub(usize::from(text.height));
        }
    }

    /// The open reading laid out for `body`, and the text's area; `None` with none open.
    fn laid_out(&self, body: Rect, theme: &Theme) -> Option<(Doc, Rect)> {
        let report = self.report.as_ref()?;
        let (_, text) = areas(body);
        let d = doc(
            report,
            self.asking.as_ref(),
            usize::from(text_inner(text).width),
            theme,
            self.chinese,
        );
        Some((d, text))
    }

    fn clamp(&mut self, len: usize, height: usize) {
        self.scroll = self.scroll.min(len.saturating_sub(height));
    }

    /// Handles a key; `body` is the screen's area at the current size.
    pub fn on_key(&mut self, key: KeyEvent, body: Rect, theme: &Theme) -> ReadingAction {
        self.follow = false;
        if key.code == KeyCode::Esc {
            return ReadingAction::Back;
        }
        let Some(report) = &self.report else {
            return ReadingAction::None;
        };
        // What asks for the reading's id (a reading from the store always has one).
        let id = report.id;
        let saved = move |f: fn(ReadingId) -> ReadingAction| {
            id.map_or(ReadingAction::Say(strings::msg::NOT_SAVED), f)
        };
        let Some((d, text)) = self.laid_out(body, theme) else {
            return ReadingAction::None;
        };
        let page = usize::from(text.height.saturating_sub(1)).max(1);
        let cur = self.current(&d);
        let shift = key.modifiers.contains(KeyModifiers::SHIFT);
        match key.code {
            KeyCode::Down | KeyCode::Char('j') => self.scroll += 1,
            KeyCode::Up | KeyCode::Char('k') => self.scroll = self.scroll.saturating_sub(1),
            KeyCode::PageDown | KeyCode::Char(' ') => self.scroll += page,
            KeyCode::PageUp => self.scroll = self.scroll.saturating_sub(page),
            KeyCode::Home | KeyCode::Char('g') => self.scroll = 0,
            KeyCode::End | KeyCode::Char('G') => self.scroll = usize::MAX,
            KeyCode::Tab | KeyCode::Char(']') if !shift => {
                if let Some((_, l)) = d.anchors.get(cur + 1) {
                    self.scroll = *l;
                }
            }
            KeyCode::BackTab | KeyCode::Tab | KeyCode::Char('[') => {
                let back = if d.anchors.get(cur).is_some_and(|(_, l)| *l < self.scroll) {
                    cur
                } else {
                    cur.saturating_sub(1)
                };
                self.scroll = d.anchors.get(back).map_or(0, |(_, l)| *l);
            }
            KeyCode::Char(c @ '1'..='9') => {
                let i = usize::from(c as u8 - b'1');
                if let Some((_, l)) = d.anchors.get(i) {
                    self.scroll = *l;
                }
            }
            KeyCode::Char('t') => {
                if let Some((_, l)) = d.anchors.iter().find(|(n, _)| n.starts_with("Legge")) {
                    self.scroll = *l;
                }
            }
            KeyCode::Char('c') => self.chinese = !self.chinese,
            KeyCode::Char('o') => {
                return ReadingAction::Book(Links {
                    reading: report.id,
                    primary: report.primary.number,
                    resulting: report.resulting.as_ref().map(|h| h.number),
                    nuclear: report.nuclear.number,
                    at: 0,
                });
            }
            KeyCode::Char('s') => return saved(ReadingAction::Stats),
            KeyCode::Char('n') => return saved(ReadingAction::Note),
            KeyCode::Char('f') => return saved(ReadingAction::FollowUp),
            KeyCode::Char('e') => return saved(ReadingAction::Journal),
            KeyCode::Char('m') => {
                return saved(|id| ReadingAction::Export(id, ExportFormat::Markdown));
            }
            KeyCode::Char('w') => return saved(|id| ReadingAction::Export(id, ExportFormat::Html)),
            _ => {}
        }
        self.clamp(d.lines.len(), usize::from(text.height));
        ReadingAction::None
    }
}

fn trigrams(h: &Hexagram) -> String {
    let (u, l) = (h.upper(), h.lower());
    format!(
        "{} {} {} ({}) above {} {} {} ({})",
        u.symbol,
        u.name_pinyin,
        u.simplified(),
        u.english,
        l.symbol,
        l.name_pinyin,
        l.simplified(),
        l.english
    )
}

/// Lays `report` out for `width` columns (with the follow-up being answered, and the Chinese
/// under the classic's text when `chinese`).
pub fn doc(
    report: &ReadingReport,
    asking: Option<&Asking>,
    width: usize,
    theme: &Theme,
    chinese: bool,
) -> Doc {
    let mut lines: Vec<Line<'static>> = Vec::new();
    let mut anchors = Vec::new();
    let mut sections = Vec::new();
    let plain = |text: &str, style: Style| wrap_styled(&[(text, style)], width);
    let primary = hexagram(report.primary.number);
    let resulting = report.resulting.as_ref().and_then(|h| hexagram(h.number));

    anchors.push(("The cast".to_owned(), 0));
    lines.extend(plain(&sanitize_inline(&report.question), theme.heading));
    if let Some(context) = &report.context {
        lines.extend(wrap_styled(
            &[
                ("Situation: ", theme.dim),
                (sanitize_inline(context).as_str(), theme.italic),
            ],
            width,
        ));
    }
    lines.push(Line::default());
    for pos in (0..6).rev() {
        let v = report.lines[pos];
        let changing = v == 6 || v == 9;
        let yang = v % 2 == 1;
        let mark = match v {
            9 => "○",
            6 => "×",
            _ => " ",
        };
        let mut spans = vec![
            Span::styled(format!("  {:<13}", bar(yang)), theme.bold),
            Span::styled(format!(" {mark}  "), theme.changing),
        ];
        if resulting.is_some() {
            spans.push(Span::styled(
                format!("    {}", bar(yang != changing)),
                theme.text,
            ));
        }
        lines.push(Line::from(spans));
    }
    lines.push(Line::default());
    if let Some(p) = primary {
        lines.extend(plain(&hexagram_title(p), theme.heading));
        lines.extend(plain(&format!("  {}", trigrams(p)), theme.dim));
    }
    if let Some(r) = resulting {
        let changing = report
            .changing_lines
            .iter()
            .map(u8::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        let s = if report.changing_lines.len() == 1 {
            ""
        } else {
            "s"
        };
        lines.extend(plain(
            &format!("→ {} (line{s} {changing} changing)", hexagram_title(r)),
            theme.heading,
        ));
        lines.extend(plain(&format!("  {}", trigrams(r)), theme.dim));
    }
    if let Some(n) = hexagram(report.nuclear.number) {
        lines.extend(wrap_styled(
            &[("Nuclear ", theme.bold), (&hexagram_title(n), theme.text)],
            width,
        ));
    }
    // When first: a line break falls between the facts, not inside the time.
    let mut facts = report
        .created_at
        .map(|at| format!("Cast {} · ", crate::report::cast_time(at)))
        .unwrap_or_default();
    facts.push_str(&format!(
        "{} · lines {}",
        report.method,
        report.lines.map(|v| v.to_string()).join("")
    ));
    if let Some(seed) = report.seed {
        facts.push_str(&format!(" · seed {seed}"));
    }
    facts.push_str(&format!(" · {}", report.status.as_str()));
    lines.extend(plain(&facts, theme.dim));
    lines.extend(wrap_styled(
        &[
            ("Rule: ", theme.bold),
            (
                &sanitize_inline(&crate::report::after_label(&report.reading_rule)),
                theme.italic,
            ),
        ],
        width,
    ));

    for s in &report.sections {
        lines.push(Line::default());
        let section = Section::from_id(s.id);
        if let Some(sec) = section {
            sections.push((sec, anchors.len()));
        }
        anchors.push((s.title.clone(), lines.len()));
        lines.push(heading(&s.title, width, theme));
        lines.push(Line::default());
        // `c`: the original of the text the section is about, under its heading.
        if chinese && let Some(zh) = section.and_then(|sec| original(sec, primary, resulting)) {
            lines.extend(wrap_styled(&[(zh, theme.text)], width));
            lines.push(Line::default());
        }
        match s.status {
            SectionStatus::Complete => paragraphs(&mut lines, &s.paragraphs, width, theme),
            SectionStatus::Failed => lines.extend(plain(
                &format!(
                    "Failed: {}. Retry it from history (r).",
                    sanitize_inline(s.error.as_deref().unwrap_or("unknown error"))
                ),
                theme.error,
            )),
            SectionStatus::Cancelled => {
                lines.extend(plain("Cancelled before it was written.", theme.warn));
            }
            SectionStatus::Pending => lines.extend(plain("Not written yet.", theme.dim)),
        }
    }
    let asking = asking.filter(|a| report.id == Some(a.id));
    let mut answer_end = None;
    if !report.followups.is_empty() || asking.is_some() {
        lines.push(Line::default());
        anchors.push((strings::FOLLOWUPS_HEADING.to_owned(), lines.len()));
        lines.push(heading(strings::FOLLOWUPS_HEADING, width, theme));
        let question = |lines: &mut Vec<Line<'static>>, q: &str, at: Option<&str>| {
            lines.push(Line::default());
            lines.extend(wrap_styled(
                &[("Q: ", theme.key), (&sanitize_inline(q), theme.bold)],
                width,
            ));
            if let Some(at) = at {
                lines.extend(plain(at, theme.dim));
            }
            lines.push(Line::default());
        };
        for f in &report.followups {
            question(
                &mut lines,
                &f.question,
                Some(&format!(
                    "{} · {}",
                    f.asked_at.shown(),
                    sanitize_inline(&f.model)
                )),
            );
            paragraphs(&mut lines, &f.paragraphs, width, theme);
        }
        if let Some(a) = asking {
            question(&mut lines, &a.question, None);
            let so_far = crate::answer::parse_response(&a.text);
            if so_far.is_empty() {
                lines.extend(plain(strings::FOLLOWUP_WAITING, theme.dim));
            } else {
                paragraphs(&mut lines, &so_far, width, theme);
            }
            answer_end = Some(lines.len());
        }
    }
    if !report.notes.is_empty() {
        lines.push(Line::default());
        anchors.push(("Journal".to_owned(), lines.len()));
        lines.push(heading("Journal", width, theme));
        for n in &report.notes {
            lines.push(Line::default());
            let label = if n.kind == crate::model::NoteKind::Outcome {
                "How it turned out"
            } else {
                "Note"
            };
            lines.extend(plain(&format!("{label} · {}", n.at.shown()), theme.dim));
            for line in n.text.lines() {
                lines.extend(plain(&sanitize_inline(line), theme.text));
            }
        }
    }

    for (h, with_lines) in [(primary, true), (resulting, false)] {
        let Some(h) = h else { continue };
        lines.push(Line::default());
        anchors.push((format!("Legge: {}", h.name_pinyin), lines.len()));
        lines.push(heading(
            &format!("The classic: {} {}", h.number, h.name_pinyin),
            width,
            theme,
        ));
        lines.push(Line::default());
        // The Chinese under Legge's English when `c` turned it on.
        let zh = |lines: &mut Vec<Line<'static>>, text: &str| {
            if chinese {
                lines.extend(wrap_styled(&[(text, theme.text)], width));
            }
        };
        lines.extend(wrap_styled(
            &[("The judgment. ", theme.bold), (&h.judgment, theme.italic)],
            width,
        ));
        zh(&mut lines, &h.chinese().judgment);
        lines.push(Line::default());
        lines.extend(wrap_styled(
            &[("The image. ", theme.bold), (&h.image, theme.italic)],
            width,
        ));
        zh(&mut lines, &h.chinese().image);
        if with_lines {
            for &n in &report.changing_lines {
                lines.push(Line::default());
                let label = format!("Line {n}. ");
                lines.extend(wrap_styled(
                    &[(&label, theme.bold), (h.line_text(n), theme.italic)],
                    width,
                ));
                zh(&mut lines, h.chinese().line_text(n));
            }
            if report.changing_lines.len() == 6
                && let Some(all) = &h.all_lines
            {
                lines.push(Line::default());
                lines.extend(wrap_styled(
                    &[("All lines. ", theme.bold), (all, theme.italic)],
                    width,
                ));
                zh(
                    &mut lines,
                    h.chinese().all_lines.as_deref().unwrap_or_default(),
                );
            }
        }
    }
    Doc {
        lines,
        anchors,
        sections,
        answer_end,
    }
}

/// The classical Chinese of the one text `section` is about (a judgment, an image, a line, the
/// text on all six lines), when it is about one.
fn original(
    section: Section,
    primary: Option<&'static Hexagram>,
    resulting: Option<&'static Hexagram>,
) -> Option<&'static str> {
    let text: &'static str = match section {
        Section::InitialHexagramJudgement => &primary?.chinese().judgment,
        Section::InitialHexagramImage => &primary?.chinese().image,
        Section::ChangingLine(n) => primary?.chinese().line_text(n),
        Section::ChangingLinesAll => primary?.chinese().all_lines.as_deref()?,
        Section::ResultingHexagramJudgment => &resulting?.chinese().judgment,
        Section::ResultingHexagramImage => &resulting?.chinese().image,
        _ => return None,
    };
    (!text.is_empty()).then_some(text)
}

/// Lays `paras` out for `width` columns, a blank line between them.
fn paragraphs(lines: &mut Vec<Line<'static>>, paras: &[Para], width: usize, theme: &Theme) {
    for (i, p) in paras.iter().enumerate() {
        if i > 0 {
            lines.push(Line::default());
        }
        let runs: Vec<(&str, Style)> = p
            .spans
            .iter()
            .map(|sp| {
                let style = match (sp.bold, sp.italic) {
                    (true, true) => theme.bold.patch(theme.italic),
                    (true, false) => theme.bold,
                    (false, true) => theme.italic,
                    (false, false) => theme.text,
                };
                (sp.text.as_str(), style)
            })
            .collect();
        lines.extend(wrap_styled(&runs, width));
    }
}

/// How far down the reading the view is, in percent (shown in the tab bar).
pub fn position(state: &ReadingState, body: Rect, theme: &Theme) -> Option<usize> {
    let (d, text) = state.laid_out(body, theme)?;
    super::scroll_percent(state.scroll, d.lines.len(), usize::from(text.height))
}

/// Draws the Reading screen.
pub fn render(state: &ReadingState, frame: &mut Frame, area: Rect, theme: &Theme) {
    let Some(report) = &state.report else {
        super::placeholder(state.loading.is_some(), frame, area, theme);
        return;
    };
    let (list, text) = areas(area);
    let inner = text_inner(text);
    let d = doc(
        report,
        state.asking.as_ref(),
        usize::from(inner.width),
        theme,
        state.chinese,
    );
    let height = usize::from(inner.height);
    let scroll = state.scroll.min(d.lines.len().saturating_sub(height));
    let shown: Vec<Line> = d.lines.iter().skip(scroll).take(height).cloned().collect();
    frame.render_widget(Paragraph::new(shown), inner);
    if let Some(list) = list {
        let block = Block::new()
            .borders(Borders::RIGHT)
            .border_style(theme.border);
        let inner = block.inner(list);
        frame.render_widget(block, list);
        let current = d
            .anchors
            .iter()
            .rposition(|(_, line)| *line <= scroll)
            .unwrap_or(0);
        let w = usize::from(inner.width);
        let mut rows = Vec::new();
        if let Some(p) = hexagram(report.primary.number) {
            let mut t = format!("{} {}", p.symbol, p.number);
            if let Some(r) = report.resulting.as_ref().and_then(|h| hexagram(h.number)) {
                t.push_str(&format!(" → {} {}", r.symbol, r.number));
            }
            rows.push(Line::styled(truncate(&t, w), theme.heading));
            rows.push(Line::default());
        }
        for (i, (label, _)) in d.anchors.iter().enumerate() {
            let key = if i < 9 {
                format!("{} ", i + 1)
            } else {
                "  ".to_owned()
            };
            let (status, status_style) =
                report
                    .sections
                    .iter()
                    .find(|s| &s.title == label)
                    .map_or(("", theme.text), |s| match s.status {
                        SectionStatus::Complete => ("", theme.text),
                        SectionStatus::Failed => (" ✗", theme.error),
                        SectionStatus::Cancelled | SectionStatus::Pending => (" ·", theme.dim),
                    });
            let style = if i == current {
                theme.selected.patch(theme.bold)
            } else {
                theme.text
            };
            rows.push(Line::from(vec![
                Span::styled(key, theme.key),
                Span::styled(
                    truncate(label, w.saturating_sub(2 + text::width(status))),
                    style,
                ),
                Span::styled(status, status_style),
            ]));
        }
        frame.render_widget(Paragraph::new(rows), inner);
    }
}
