//! Stats: the admin view of one reading — per section the latency, time to first token, prompt,
//! completion and total tokens, rate, attempts and model, with totals, and cost when the config
//! has a price for the model. The figures are the Service's [`ReadingStats`], the same that
//! `iching stats ID` prints: nothing is computed here but layout.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Row, Table, TableState};

use super::{Column, fit, fit_columns, fmt_cost, fmt_tokens};
use crate::answer::sanitize_inline;
use crate::model::ReadingId;
use crate::report::SectionStatus;
use crate::service::{CLASSIC_TEXT, FollowupTotals, ReadingStats, Row as Figures};
use crate::text::{self, truncate};
use crate::tui::theme::Theme;

/// A reading's figures and its question, as the Stats screen shows them.
#[derive(Debug, Clone)]
pub struct StatsView {
    /// The figures.
    pub stats: ReadingStats,
    /// The question asked.
    pub question: String,
}

/// The Stats screen's state.
#[derive(Debug, Clone, Default)]
pub struct StatsState {
    /// The reading's figures as loaded.
    pub view: Option<Box<StatsView>>,
    /// The id being loaded.
    pub loading: Option<ReadingId>,
    /// The first row shown.
    pub scroll: usize,
}

impl StatsState {
    /// Handles a key; true means "back".
    pub fn on_key(&mut self, key: KeyEvent) -> bool {
        let rows = self.view.as_ref().map_or(0, |v| v.stats.rows.len());
        match key.code {
            KeyCode::Esc => return true,
            KeyCode::Up | KeyCode::Char('k') => self.scroll = self.scroll.saturating_sub(1),
            KeyCode::Down | KeyCode::Char('j') => {
                self.scroll = (self.scroll + 1).min(rows.saturating_sub(1));
            }
            _ => {}
        }
        false
    }
}

fn ms(v: Option<u64>) -> String {
    v.map_or("–".to_owned(), |ms| {
        let s = ms as f64 / 1000.0;
        if s < 10.0 {
            format!("{s:.2}s")
        } else if s < 1000.0 {
            format!("{s:.1}s")
        } else {
            format!("{s:.0}s")
        }
    })
}

/// A section's title, shortened for narrow tables.
fn short_title(title: &str, narrow: bool) -> String {
    if narrow {
        title
            .replace("Changing line", "Line")
            .replace("All lines changing", "All lines")
            .replace("Resulting", "Result.")
    } else {
        title.to_owned()
    }
}

fn num(v: Option<u32>) -> String {
    v.map_or("–".to_owned(), |n| fmt_tokens(u64::from(n)))
}

/// Draws the stats table.
pub fn render(state: &StatsState, frame: &mut Frame, area: Rect, theme: &Theme) {
    let Some(view) = &state.view else {
        super::placeholder(state.loading.is_some(), frame, area, theme);
        return;
    };
    let stats = &view.stats;
    let asked = u16::from(stats.followups.count > 0);
    let [title, _, table_area, followups] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Min(0),
        Constraint::Length(asked),
    ])
    .horizontal_margin(1)
    .areas(area);
    if asked > 0 {
        frame.render_widget(
            Span::styled(
                truncate(
                    &followup_line(&stats.followups),
                    usize::from(followups.width),
                ),
                theme.dim,
            ),
            followups,
        );
    }
    let narrow = area.width < 110;
    // In the reading's order, as the Reading screen shows its sections.
    let mut sections: Vec<&Figures> = stats.rows.iter().collect();
    sections.sort_by_key(|r| (r.number, r.section_id));
    let mut models: Vec<&str> = sections.iter().filter_map(|s| s.model.as_deref()).collect();
    models.sort_unstable();
    models.dedup();
    // One model and little room: it is said once, above the table, instead of on every row.
    let model_column = !narrow || models.len() > 1;
    let t = &stats.totals;
    // The classic text spent no tokens: its readings show times, and whose text it is.
    let classic = t.offline;
    let model_column = model_column && !classic;
    let mut head = format!("Stats of reading #{}", stats.id);
    if classic {
        head.push_str(&format!(" · {CLASSIC_TEXT}, no tokens or cost"));
    } else if let (false, [model]) = (model_column, models.as_slice()) {
        head.push_str(&format!(" · model {}", sanitize_inline(model)));
    }
    head.push_str(&format!(" · {}", sanitize_inline(&view.question)));
    frame.render_widget(
        Span::styled(truncate(&head, usize::from(title.width)), theme.heading),
        title,
    );

    // A cost column where a price makes one, or where there is room to say there is none.
    let with_cost =
        !classic && (t.cost.is_some_and(|c| c > 0.0) || !t.unpriced.is_empty() || !narrow);
    // Cached prompt and reasoning tokens get a column when some section has any.
    let has = |f: fn(&Figures) -> Option<u32>| {
        sections.iter().any(|s| !s.classic && f(s).unwrap_or(0) > 0)
    };
    let wall = (t.wall_ms > 0).then_some(t.wall_ms);
    // The reading's throughput, as `iching stats` gives it: all its tokens over its wall time.
    let rate = match wall {
        Some(_) => format!("{:.1}", t.tokens_per_sec),
        None => "–".into(),
    };
    let shown: Vec<&Figures> = sections.iter().skip(state.scroll).copied().collect();
    // Every column but the section's title: its heading, its cells, its total, when it gives
    // way (0 never; the higher, the sooner) and whether it is text (left) or a figure (right).
    let column = |head: &'static str,
                  cell: &dyn Fn(&Figures) -> String,
                  total: String,
                  drop: u8,
                  figure: bool| StatsColumn {
        head,
        cells: shown.iter().map(|s| cell(s)).collect(),
        total,
        drop,
        figure,
    };
    // A section the classic text answered in a reading a model answered too: no figures.
    let tokens = |s: &Figures, v: Option<u32>| if s.classic { None } else { v };
    let mut columns = vec![
        column("Time", &|s| ms(Some(s.latency_ms)), ms(wall), 0, true),
        column("TTFT", &|s| ms(s.ttft_ms), String::new(), 4, true),
    ];
    if !classic {
        columns.push(column(
            "Prompt",
            &|s| num(tokens(s, s.prompt_tokens)),
            fmt_tokens(t.prompt_tokens),
            0,
            true,
        ));
    }
    if has(|s| s.cached_tokens) {
        columns.push(column(
            "Cached",
            &|s| num(tokens(s, s.cached_tokens)),
            fmt_tokens(t.cached_tokens),
            5,
            true,
        ));
    }
    if !classic {
        columns.push(column(
            "Compl.",
            &|s| num(tokens(s, s.completion_tokens)),
            fmt_tokens(t.completion_tokens),
            0,
            true,
        ));
    }
    if has(|s| s.reasoning_tokens) {
        columns.push(column(
            "Reason",
            &|s| num(tokens(s, s.reasoning_tokens)),
            fmt_tokens(t.reasoning_tokens),
            5,
            true,
        ));
    }
    if !classic {
        columns.push(column(
            "Total",
            &|s| num(tokens(s, s.total_tokens)),
            fmt_tokens(t.total_tokens),
            9,
            true,
        ));
        columns.push(column(
            "tok/s",
            &|s| match s.tokens_per_sec {
                Some(t) if !s.classic => format!("{t:.1}"),
                _ => "–".into(),
            },
            rate,
            3,
            true,
        ));
    }
    columns.push(column(
        "Try",
        &|s| {
            if s.attempts > 0 {
                s.attempts.to_string()
            } else {
                "–".into()
            }
        },
        String::new(),
        8,
        true,
    ));
    if model_column {
        let model_w = if narrow { 10 } else { 18 };
        columns.push(column(
            "Model",
            &|s| truncate(&sanitize_inline(s.model.as_deref().unwrap_or("–")), model_w),
            String::new(),
            7,
            false,
        ));
    }
    if with_cost {
        columns.push(column(
            "Cost",
            &|s| fmt_cost(s.cost.filter(|_| !s.classic)),
            fmt_cost(t.cost),
            6,
            true,
        ));
    }
    // The number column, the status mark, and a gap before each of the others.
    let id_w = text::width(&(state.scroll + shown.len()).to_string()).max(1);
    let fixed = id_w + 1 + 2;
    let fits: Vec<Column> = columns
        .iter()
        .map(|c| Column {
            width: 1 + c.width(),
            drop: c.drop,
        })
        .collect();
    let room = usize::from(table_area.width).saturating_sub(fixed);
    let keep = fit_columns(room, TITLE_MIN, &fits);
    let columns: Vec<StatsColumn> = columns
        .into_iter()
        .zip(keep)
        .filter_map(|(c, k)| k.then_some(c))
        .collect();
    let used: usize = columns.iter().map(|c| 1 + c.width()).sum();
    let title_w = room.saturating_sub(used).max(1);
    // The classic text's few columns stay beside the titles, as a model's do on a wide screen.
    let title_w = if narrow && !classic {
        title_w
    } else {
        title_w.min(22)
    };

    let len = |w: usize| Constraint::Length(u16::try_from(w).unwrap_or(u16::MAX));
    let mut widths = vec![len(id_w), len(title_w), len(1)];
    widths.extend(columns.iter().map(|c| len(c.width())));
    let place = |s: String, figure: bool| {
        if figure {
            Cell::from(Line::from(s).right_aligned())
        } else {
            Cell::from(s)
        }
    };
    let mut header = vec![Cell::from("#"), Cell::from("Section"), Cell::from("")];
    header.extend(columns.iter().map(|c| place(c.head.to_owned(), c.figure)));
    let mut rows = Vec::new();
    for (i, s) in shown.iter().enumerate() {
        let (mark, style) = match s.status {
            SectionStatus::Complete => ("✓", theme.ok),
            SectionStatus::Failed => ("✗", theme.error),
            SectionStatus::Cancelled | SectionStatus::Pending => ("·", theme.dim),
        };
        let title = short_title(&s.section, title_w < 16);
        let mut cells = vec![
            // Its place in the reading, 1..n, as the Reading screen and `iching stats` number it.
            Cell::from(Span::styled((state.scroll + i + 1).to_string(), theme.dim)),
            Cell::from(truncate(&title, title_w)),
            Cell::from(Span::styled(mark, style)),
        ];
        cells.extend(columns.iter().map(|c| place(c.cells[i].clone(), c.figure)));
        rows.push(Row::new(cells));
    }
    let done = sections
        .iter()
        .filter(|s| s.status == SectionStatus::Complete)
        .count();
    let estimated = t.estimated && !classic;
    let done = format!("{done}/{}", stats.sections_planned);
    let label = fit(
        &[
            format!("Total {done}{}", if estimated { " est." } else { "" }),
            format!("Total {done}"),
            done,
        ],
        title_w,
    );
    let mut total = vec![
        Cell::from(""),
        Cell::from(Span::styled(label, theme.bold)),
        Cell::from(""),
    ];
    total.extend(columns.iter().map(|c| place(c.total.clone(), c.figure)));
    let table = Table::new(rows, widths)
        .header(Row::new(header).style(theme.bold))
        .footer(Row::new(total).style(theme.bold))
        .column_spacing(1);
    frame.render_stateful_widget(table, table_area, &mut TableState::new());
}

/// "Follow-up questions: 2 · 6,140 tokens · 2.1 s each · $0.000420"; for the classic text's
/// answers, "Follow-up questions: 2 · Legge's text · 0.0 s each".
fn followup_line(t: &FollowupTotals) -> String {
    if t.classic {
        return format!(
            "Follow-up questions: {} · {CLASSIC_TEXT} · {:.1} s each",
            t.count,
            t.avg_latency_ms.unwrap_or(0.0) / 1000.0,
        );
    }
    format!(
        "Follow-up questions: {} · {} tokens · {:.1} s each · {}",
        t.count,
        fmt_tokens(t.total_tokens),
        t.avg_latency_ms.unwrap_or(0.0) / 1000.0,
        match t.cost {
            Some(c) if c <= 0.0 => "free".to_owned(),
            other => fmt_cost(other),
        }
    )
}

/// The section's title keeps this many columns before other columns give way.
const TITLE_MIN: usize = 12;

/// One column of the stats table, drawn as wide as its widest entry so a figure is never cut.
struct StatsColumn {
    head: &'static str,
    cells: Vec<String>,
    total: String,
    drop: u8,
    figure: bool,
}

impl StatsColumn {
    fn width(&self) -> usize {
        self.cells
            .iter()
            .chain([&self.total])
            .map(|c| text::width(c))
            .chain([text::width(self.head)])
            .max()
            .unwrap_or(0)
    }
}
