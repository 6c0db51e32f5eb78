//! History: the table of past readings (date, question, hexagrams, status, sections, tokens,
//! cost), filtered as you type, with open, delete (after a yes), export, retry and stats.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table, TableState};
use ratatui_textarea::TextArea;

use super::widgets::status_word;
use super::{Column, fit_columns, fmt_cost, fmt_tokens};
use crate::answer::sanitize_inline;
use crate::model::{ExportFormat, ReadingId};
use crate::oracle::hexagram;
use crate::report::ReadingStatus;
use crate::search::{Search, Searched};
use crate::service::HistoryEntry;
use crate::text::{self, truncate};
use crate::tui::strings;
use crate::tui::theme::Theme;
use crate::when::{Stamp, zone_name};

/// One past reading, as the table shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryRow {
    /// Its id in the store.
    pub id: ReadingId,
    /// When it was cast, on the local clock.
    pub created_at: Stamp,
    /// The question (decrypted; sanitised before it is drawn).
    pub question: String,
    /// Whether its record failed its check (the question is the placeholder): a search, as
    /// the store's, never finds it.
    pub damaged: bool,
    /// The primary hexagram's number.
    pub primary: u8,
    /// The resulting hexagram's number.
    pub resulting: Option<u8>,
    /// Its state.
    pub status: ReadingStatus,
    /// Sections complete.
    pub done: usize,
    /// Sections planned.
    pub planned: usize,
    /// Tokens used.
    pub tokens: u64,
    /// Dollars, when a price is known for its model.
    pub cost: Option<f64>,
    /// Whether the classic text answered it: Legge's, with no tokens or cost.
    pub classic: bool,
    /// Its journal: notes and outcomes.
    pub journal: crate::service::NoteCounts,
    /// What the one search rule looks in (the question, situation, notes and follow-ups,
    /// decrypted, never drawn; status and hexagrams), made once when the row is.
    pub haystack: String,
}

impl From<HistoryEntry> for HistoryRow {
    fn from(e: HistoryEntry) -> Self {
        let row = e.listed.row;
        let haystack = Searched {
            question: e.listed.question.as_deref().unwrap_or_default(),
            situation: e.listed.context.as_deref(),
            notes: &e.listed.note_text,
            followups: &e.listed.followup_text,
            status: row.status.as_str(),
            primary: row.primary,
            resulting: row.resulting,
        }
        .haystack();
        Self {
            id: row.id,
            created_at: Stamp::at(row.created_at),
            damaged: e.listed.question.is_err(),
            question: e
                .listed
                .question
                .unwrap_or_else(|_| crate::service::INTEGRITY_PLACEHOLDER.to_owned()),
            primary: row.primary,
            resulting: row.resulting,
            status: row.status,
            done: usize::try_from(row.sections_done).unwrap_or(0),
            planned: usize::try_from(row.sections_planned).unwrap_or(0),
            tokens: row.total_tokens,
            cost: e.cost,
            classic: e.classic,
            journal: e.listed.notes,
            haystack,
        }
    }
}

/// The History screen's state.
#[derive(Debug, Clone, Default)]
pub struct HistoryState {
    /// Every reading, newest first.
    pub rows: Vec<HistoryRow>,
    /// Whether the rows have arrived.
    pub loaded: bool,
    /// The filter being typed.
    pub filter: TextArea<'static>,
    /// Whether keys go to the filter.
    pub filtering: bool,
    /// Only readings still waiting to be told how they turned out (`o`).
    pub no_outcome: bool,
    /// The chosen row among the filtered ones.
    pub selected: usize,
}

/// What a key on History asks of the app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HistoryAction {
    /// Nothing beyond the screen.
    None,
    /// Open this reading.
    Open(ReadingId),
    /// Ask before deleting this reading (id, question).
    Delete(ReadingId, String),
    /// Export it.
    Export(ReadingId, ExportFormat),
    /// Export the journal of the readings listed (the filter's, `o`'s) to a new file.
    ExportJournal(ExportFormat),
    /// Retry its missing sections.
    Retry(ReadingId),
    /// Its stats table.
    Stats(ReadingId),
    /// The patterns of all readings.
    Patterns,
    /// Leave.
    Back,
    /// Something was asked of no reading, or of one that cannot do it.
    Say(&'static str),
}

impl HistoryState {
    /// The filter text.
    pub fn filter_text(&self) -> String {
        self.filter.lines().join(" ")
    }

    /// The rows the filter lets through.
    pub fn visible(&self) -> Vec<&HistoryRow> {
        let search = Search::new(&self.filter_text());
        self.rows
            .iter()
            .filter(|r| !self.no_outcome || r.journal.outcomes == 0)
            .filter(|r| search.is_empty() || (!r.damaged && search.finds_in(&r.haystack)))
            .collect()
    }

    /// The chosen row.
    pub fn chosen(&self) -> Option<&HistoryRow> {
        self.visible().get(self.selected).copied()
    }

    /// New rows (loaded again): the cursor stays on the reading it was on, or, when that one
    /// went (deleted), on the row that took its place.
    pub fn set_rows(&mut self, rows: Vec<HistoryRow>) {
        let keep = self.chosen().map(|r| r.id);
        let at = self.selected;
        self.rows = rows;
        self.loaded = true;
        self.selected = keep
            .and_then(|id| self.visible().iter().position(|r| r.id == id))
            .unwrap_or(at);
        self.clamp();
    }

    /// History opened again from another screen: the cursor goes to the newest reading (the
    /// filter stays). Back from a reading or its stats, the cursor stays where it was.
    pub fn reopen(&mut self) {
        self.selected = 0;
    }

    /// "3 of 12", "2 of 4 matching · 12 in all", "none of 12 match": where the cursor is.
    pub fn position(&self) -> Option<String> {
        if !self.loaded || self.rows.is_empty() {
            return None;
        }
        let all = self.rows.len();
        let shown = self.visible().len();
        Some(if shown == 0 {
            format!("none of {all} match")
        } else if shown == all {
            format!("{} of {all}", self.selected + 1)
        } else {
            format!("{} of {shown} matching · {all} in all", self.selected + 1)
        })
    }

    fn clamp(&mut self) {
        self.selected = self.selected.min(self.visible().len().saturating_sub(1));
    }

    /// Handles a key; `page` is the number of rows on screen.
    pub fn on_key(&mut self, key: KeyEvent, page: usize) -> HistoryAction {
        if self.filtering {
            match key.code {
                KeyCode::Enter => self.filtering = false,
                KeyCode::Esc => {
                    self.filter = TextArea::default();
                    self.filtering = false;
                }
                KeyCode::Up | KeyCode::Down => return self.on_move(key.code, page),
                _ => {
                    super::edit(&mut self.filter, key);
                    self.selected = 0;
                }
            }
            self.clamp();
            return HistoryAction::None;
        }
        let chosen = self.chosen().cloned();
        let need = |f: fn(HistoryRow) -> HistoryAction| match &chosen {
            Some(r) => f(r.clone()),
            None => HistoryAction::Say(strings::msg::NONE_SELECTED),
        };
        match key.code {
            KeyCode::Char('/') => {
                self.filtering = true;
                HistoryAction::None
            }
            KeyCode::Esc if !self.filter_text().is_empty() => {
                self.filter = TextArea::default();
                self.clamp();
                HistoryAction::None
            }
            KeyCode::Esc => HistoryAction::Back,
            KeyCode::Enter => need(|r| HistoryAction::Open(r.id)),
            KeyCode::Char('d') | KeyCode::Delete => {
                need(|r| HistoryAction::Delete(r.id, sanitize_inline(&r.question)))
            }
            KeyCode::Char('m') => need(|r| HistoryAction::Export(r.id, ExportFormat::Markdown)),
            KeyCode::Char('w') => need(|r| HistoryAction::Export(r.id, ExportFormat::Html)),
            KeyCode::Char('M') => HistoryAction::ExportJournal(ExportFormat::Markdown),
            KeyCode::Char('W') => HistoryAction::ExportJournal(ExportFormat::Html),
            KeyCode::Char('s') => need(|r| HistoryAction::Stats(r.id)),
            KeyCode::Char('p') => HistoryAction::Patterns,
            KeyCode::Char('o') => {
                self.no_outcome = !self.no_outcome;
                self.selected = 0;
                HistoryAction::None
            }
            KeyCode::Char('r') => need(|r| {
                if r.status == ReadingStatus::Complete {
                    HistoryAction::Say(strings::msg::NOTHING_TO_RETRY)
                } else {
                    HistoryAction::Retry(r.id)
                }
            }),
            code => self.on_move(code, page),
        }
    }

    fn on_move(&mut self, code: KeyCode, page: usize) -> HistoryAction {
        let last = self.visible().len().saturating_sub(1);
        match code {
            KeyCode::Up | KeyCode::Char('k') => self.selected = self.selected.saturating_sub(1),
            KeyCode::Down | KeyCode::Char('j') => self.selected = (self.selected + 1).min(last),
            KeyCode::PageUp => self.selected = self.selected.saturating_sub(page),
            KeyCode::PageDown => self.selected = (self.selected + page).min(last),
            KeyCode::Home | KeyCode::Char('g') => self.selected = 0,
            KeyCode::End | KeyCode::Char('G') => self.selected = last,
            _ => {}
        }
        HistoryAction::None
    }
}

fn hexagrams(r: &HistoryRow, wide: bool) -> String {
    let name = |n: u8| match hexagram(n) {
        Some(h) if wide => format!("{} {} {}", h.symbol, n, h.name_pinyin),
        Some(h) => format!("{}{n}", h.symbol),
        None => n.to_string(),
    };
    match r.resulting {
        Some(res) => format!("{}→{}", name(r.primary), name(res)),
        None => name(r.primary),
    }
}

/// Draws History.
pub fn render(state: &HistoryState, frame: &mut Frame, area: Rect, theme: &Theme) {
    let [filter, table_area] =
        Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(area);
    render_filter(state, frame, filter, theme);

    let rows = state.visible();
    if rows.is_empty() {
        let text = if !state.loaded {
            strings::LOADING
        } else if state.rows.is_empty() {
            strings::HISTORY_EMPTY
        } else {
            strings::HISTORY_NO_MATCH
        };
        frame.render_widget(
            Paragraph::new(Line::styled(
                truncate(text, usize::from(table_area.width)),
                theme.dim,
            ))
            .centered(),
            Rect {
                y: table_area.y + table_area.height / 2,
                height: 1,
                ..table_area
            },
        );
        return;
    }
    let wide = area.width >= 120;
    let hexes: Vec<String> = rows.iter().map(|r| hexagrams(r, wide)).collect();
    let sections: Vec<String> = rows
        .iter()
        .map(|r| format!("{}/{}", r.done, r.planned))
        .collect();
    // The classic text spent no tokens and costs nothing: it says whose text it is instead.
    let tokens: Vec<String> = rows
        .iter()
        .map(|r| {
            if r.classic {
                strings::HISTORY_CLASSIC.to_owned()
            } else {
                fmt_tokens(r.tokens)
            }
        })
        .collect();
    let costs: Vec<String> = rows
        .iter()
        .map(|r| {
            if r.classic {
                String::new()
            } else {
                fmt_cost(r.cost)
            }
        })
        .collect();
    // Each column as wide as its widest value or its heading: a number is never cut.
    let widest = |head: &str, values: &[String]| {
        values
            .iter()
            .map(|v| text::width(v))
            .chain([text::width(head)])
            .max()
            .unwrap_or(0)
    };
    let statuses: Vec<(&str, Style)> = rows.iter().map(|r| status_word(r.status, theme)).collect();
    let status_w = statuses
        .iter()
        .map(|(w, _)| text::width(w))
        .chain([text::width(strings::HISTORY_STATUS)])
        .max()
        .unwrap_or(0);
    // The date, its time of day, hexagrams, status, sections, tokens, cost, with the gap
    // before each; the question takes the rest. A column with nothing in it is not shown.
    let any_cost = rows.iter().any(|r| r.cost.is_some() && !r.classic);
    let any_tokens = rows.iter().any(|r| r.tokens > 0 || r.classic);
    let columns = [
        Column { width: 10, drop: 0 },
        Column { width: 6, drop: 1 },
        Column {
            width: 1 + widest(strings::HISTORY_HEXAGRAMS, &hexes),
            drop: 0,
        },
        Column {
            width: 1 + status_w,
            drop: 0,
        },
        Column {
            width: 1 + widest(strings::HISTORY_SECTIONS, &sections),
            drop: 0,
        },
        Column {
            width: if any_tokens {
                1 + widest(strings::HISTORY_TOKENS, &tokens)
            } else {
                0
            },
            drop: 2,
        },
        Column {
            width: if any_cost {
                1 + widest(strings::HISTORY_COST, &costs)
            } else {
                0
            },
            drop: 3,
        },
    ];
    // The cursor's mark and the gap after the question.
    let room = usize::from(table_area.width).saturating_sub(HIGHLIGHT_W + 1);
    let shown = fit_columns(room, QUESTION_MIN, &columns);
    let [
        _,
        time,
        hex_col,
        status_col,
        sections_col,
        tokens_col,
        cost_col,
    ] = shown[..]
    else {
        return;
    };
    let tokens_col = tokens_col && any_tokens;
    let cost_col = cost_col && any_cost;
    let used: usize = columns
        .iter()
        .zip(&shown)
        .filter(|&(c, &s)| s && c.width > 0)
        .map(|(c, _)| c.width)
        .sum();
    let q_width = room.saturating_sub(used).max(1);
    let len = |w: usize| Constraint::Length(u16::try_from(w).unwrap_or(u16::MAX));
    let mut widths = vec![len(if time { 16 } else { 10 }), len(q_width)];
    let mut header = vec![
        Cell::from(strings::HISTORY_DATE),
        Cell::from(strings::HISTORY_QUESTION),
    ];
    let mut add = |on: bool, c: Column, head: &'static str, right: bool| {
        if on {
            widths.push(len(c.width - 1));
            header.push(if right {
                Cell::from(Line::from(head).right_aligned())
            } else {
                Cell::from(head)
            });
        }
    };
    add(hex_col, columns[2], strings::HISTORY_HEXAGRAMS, false);
    add(status_col, columns[3], strings::HISTORY_STATUS, false);
    add(sections_col, columns[4], strings::HISTORY_SECTIONS, true);
    add(tokens_col, columns[5], strings::HISTORY_TOKENS, true);
    add(cost_col, columns[6], strings::HISTORY_COST, true);
    let body: Vec<Row> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let date = if time {
                r.created_at.shown().chars().take(16).collect()
            } else {
                r.created_at.date()
            };
            let mut cells = vec![
                Cell::from(Span::styled(date, theme.dim)),
                Cell::from(truncate(
                    &format!(
                        "{}{}",
                        journal_mark(r.journal),
                        sanitize_inline(&r.question)
                    ),
                    q_width,
                )),
            ];
            let right = |s: &str| Cell::from(Line::from(s.to_owned()).right_aligned());
            if hex_col {
                cells.push(Cell::from(hexes[i].clone()));
            }
            if status_col {
                let (word, style) = statuses[i];
                cells.push(Cell::from(Span::styled(word, style)));
            }
            if sections_col {
                cells.push(right(&sections[i]));
            }
            if tokens_col {
                cells.push(right(&tokens[i]));
            }
            if cost_col {
                cells.push(right(&costs[i]));
            }
            Row::new(cells)
        })
        .collect();
    let table = Table::new(body, widths)
        .header(Row::new(header).style(theme.bold))
        .column_spacing(1)
        .row_highlight_style(theme.selected)
        .highlight_symbol("▸ ")
        .style(Style::new());
    let mut ts = TableState::new().with_selected(Some(state.selected));
    frame.render_stateful_widget(table, table_area, &mut ts);
}

/// Columns of the cursor's mark, "▸ ".
const HIGHLIGHT_W: usize = 2;
/// The question keeps at least this many columns before other columns give way.
const QUESTION_MIN: usize = 20;

/// The filter line: its label and text on the left, the cursor's position on the right.
fn render_filter(state: &HistoryState, frame: &mut Frame, area: Rect, theme: &Theme) {
    let mut position = state.position().unwrap_or_default();
    // Whose clock the dates are on, where there is room to say it.
    if area.width >= 80 {
        position = if position.is_empty() {
            zone_name()
        } else {
            format!("{position} · {}", zone_name())
        };
    }
    let pos_w = u16::try_from(text::width(&position) + 1).unwrap_or(0);
    let [filter, pos] = Layout::horizontal([Constraint::Min(0), Constraint::Length(pos_w)])
        .spacing(1)
        .areas(area);
    frame.render_widget(
        Line::styled(position, theme.dim).right_aligned(),
        Rect {
            width: pos.width.saturating_sub(1),
            ..pos
        },
    );
    let label_style = if state.filtering {
        theme.accent
    } else {
        theme.dim
    };
    let [label, input] = Layout::horizontal([
        Constraint::Length(u16::try_from(text::width(strings::FILTER_LABEL)).unwrap_or(8) + 1),
        Constraint::Min(0),
    ])
    .areas(filter);
    frame.render_widget(
        Span::styled(format!(" {}", strings::FILTER_LABEL), label_style),
        label,
    );
    let mut room = usize::from(input.width);
    let filter_text = state.filter_text();
    let input = if state.no_outcome {
        // What `o` keeps, said before what is typed.
        let said = format!("{} ", strings::NO_OUTCOME_FILTER);
        let w = u16::try_from(text::width(&said))
            .unwrap_or(0)
            .min(input.width);
        frame.render_widget(Span::styled(said, theme.accent), input);
        room = room.saturating_sub(usize::from(w));
        Rect {
            x: input.x + w,
            width: input.width - w,
            ..input
        }
    } else {
        input
    };
    if state.filtering {
        frame.render_widget(&state.filter, input);
    } else if filter_text.is_empty() {
        frame.render_widget(
            Span::styled(truncate(strings::FILTER_HINT, room), theme.dim),
            input,
        );
    } else {
        frame.render_widget(
            Span::styled(truncate(&filter_text, room), theme.text),
            input,
        );
    }
}

/// The mark before a question whose reading has a journal: ✓ once it has an outcome, ✎ for
/// notes only.
fn journal_mark(j: crate::service::NoteCounts) -> &'static str {
    if j.outcomes > 0 {
        "✓ "
    } else if j.notes > 0 {
        "✎ "
    } else {
        ""
    }
}
