//! Stats: the admin view of one reading — per section the latency, time to first token, prompt,
//! completion and total tokens, rate, attempts and model, with totals, and cost when the config
//! has a price for the model.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Row, Table, TableState};

use super::{fmt_cost, fmt_tokens};
use crate::config::Prices;
use crate::model::ReadingId;
use crate::report::{ReadingReport, SectionReport, SectionStatus};
use crate::response::sanitize_inline;
use crate::text::truncate;
use crate::tui::theme::Theme;

/// The Stats screen's state.
#[derive(Debug, Clone, Default)]
pub struct StatsState {
    /// The reading as loaded from the store.
    pub report: Option<Box<ReadingReport>>,
    /// The id being loaded.
    pub loading: Option<ReadingId>,
    /// The first row shown.
    pub scroll: usize,
}

impl StatsState {
    /// Handles a key; true means "back".
    pub fn on_key(&mut self, key: KeyEvent) -> bool {
        let rows = self.report.as_ref().map_or(0, |r| r.sections.len());
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

/// The cost of one section at `prices`, when its model has a price.
pub fn section_cost(s: &SectionReport, prices: &Prices) -> Option<f64> {
    prices.cost(s.model.as_deref()?, &s.billed()?)
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

fn right(s: String) -> Cell<'static> {
    Cell::from(Line::from(s).right_aligned())
}

/// Draws the stats table.
pub fn render(state: &StatsState, prices: &Prices, frame: &mut Frame, area: Rect, theme: &Theme) {
    let Some(report) = &state.report else {
        super::placeholder(state.loading.is_some(), frame, area, theme);
        return;
    };
    let [title, _, table_area] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Min(0),
    ])
    .horizontal_margin(1)
    .areas(area);
    let narrow = area.width < 110;
    let mut models: Vec<&str> = report
        .sections
        .iter()
        .filter_map(|s| s.model.as_deref())
        .collect();
    models.sort_unstable();
    models.dedup();
    // One model and little room: it is said once, above the table, instead of on every row.
    let model_column = !narrow || models.len() > 1;
    let mut head = match report.id {
        Some(id) => format!("Stats of reading #{id}"),
        None => "Stats of the reading".to_owned(),
    };
    if let (false, [model]) = (model_column, models.as_slice()) {
        head.push_str(&format!(" · model {}", sanitize_inline(model)));
    }
    head.push_str(&format!(" · {}", sanitize_inline(&report.question)));
    frame.render_widget(
        Span::styled(truncate(&head, usize::from(title.width)), theme.heading),
        title,
    );

    let with_cost = !prices.is_empty() || area.width >= 110;
    // Cached prompt and reasoning tokens get a column when some section has any.
    let has = |f: fn(&SectionReport) -> Option<u32>| {
        report.sections.iter().any(|s| f(s).unwrap_or(0) > 0)
    };
    let cached_column = has(|s| s.cached_tokens);
    let reasoning_column = has(|s| s.reasoning_tokens);
    let model_w: u16 = if narrow { 10 } else { 18 };
    let mut widths = vec![
        Constraint::Length(2),
        if narrow {
            Constraint::Min(10)
        } else {
            Constraint::Length(22)
        },
        Constraint::Length(1),
        Constraint::Length(6),
        Constraint::Length(5),
        Constraint::Length(6),
        Constraint::Length(6),
        Constraint::Length(6),
        Constraint::Length(6),
        Constraint::Length(3),
    ];
    let mut header = vec![
        "#", "Section", "", "Time", "TTFT", "Prompt", "Compl.", "Total", "tok/s", "Try",
    ];
    // Inserted from the right, so each index still points where it should.
    if reasoning_column {
        widths.insert(7, Constraint::Length(6));
        header.insert(7, "Reason");
    }
    if cached_column {
        widths.insert(6, Constraint::Length(6));
        header.insert(6, "Cached");
    }
    if model_column {
        widths.push(Constraint::Length(model_w));
    }
    // On a narrow terminal the extra columns take Total's place (prompt plus completion).
    let total_at = (narrow && (cached_column || reasoning_column))
        .then(|| header.iter().position(|h| *h == "Total"))
        .flatten();
    if let Some(i) = total_at {
        header.remove(i);
        widths.remove(i);
    }
    if model_column {
        header.push("Model");
    }
    if with_cost {
        widths.push(Constraint::Length(8));
        header.push("Cost");
    }
    let mut rows = Vec::new();
    for s in report.sections.iter().skip(state.scroll) {
        let (mark, style) = match s.status {
            SectionStatus::Complete => ("✓", theme.ok),
            SectionStatus::Failed => ("✗", theme.error),
            SectionStatus::Cancelled | SectionStatus::Pending => ("·", theme.dim),
        };
        let mut cells = vec![
            Cell::from(Span::styled(s.id.to_string(), theme.dim)),
            Cell::from(short_title(&s.title, narrow && model_column)),
            Cell::from(Span::styled(mark, style)),
            right(ms(s.latency_ms)),
            right(ms(s.ttft_ms)),
            right(num(s.prompt_tokens)),
            right(num(s.completion_tokens)),
            right(num(s.total_tokens)),
            right(s.tokens_per_sec.map_or("–".into(), |t| format!("{t:.1}"))),
            right(if s.attempts > 0 {
                s.attempts.to_string()
            } else {
                "–".into()
            }),
        ];
        if reasoning_column {
            cells.insert(7, right(num(s.reasoning_tokens)));
        }
        if cached_column {
            cells.insert(6, right(num(s.cached_tokens)));
        }
        if let Some(i) = total_at {
            cells.remove(i);
        }
        if model_column {
            cells.push(Cell::from(truncate(
                &sanitize_inline(s.model.as_deref().unwrap_or("–")),
                usize::from(model_w),
            )));
        }
        if with_cost {
            cells.push(right(fmt_cost(section_cost(s, prices))));
        }
        rows.push(Row::new(cells));
    }
    let sum = |f: fn(&SectionReport) -> Option<u32>| -> u64 {
        report.sections.iter().filter_map(f).map(u64::from).sum()
    };
    let wall = report.sections.iter().filter_map(|s| s.latency_ms).max();
    let completion = sum(|s| s.completion_tokens);
    let busy: u64 = report.sections.iter().filter_map(|s| s.latency_ms).sum();
    let rate = if busy > 0 {
        format!("{:.1}", completion as f64 * 1000.0 / busy as f64)
    } else {
        "–".into()
    };
    let estimated = report
        .sections
        .iter()
        .any(|s| s.usage == Some(crate::events::UsageSource::Estimated));
    let mut total = vec![
        Cell::from(""),
        Cell::from(Span::styled(
            format!(
                "Total {}/{}{}",
                report.sections_done(),
                report.sections.len(),
                if estimated { " est." } else { "" }
            ),
            theme.bold,
        )),
        Cell::from(""),
        right(ms(wall)),
        Cell::from(""),
        right(fmt_tokens(sum(|s| s.prompt_tokens))),
        right(fmt_tokens(completion)),
        right(fmt_tokens(sum(|s| s.total_tokens))),
        right(rate),
        Cell::from(""),
    ];
    if reasoning_column {
        total.insert(7, right(fmt_tokens(sum(|s| s.reasoning_tokens))));
    }
    if cached_column {
        total.insert(6, right(fmt_tokens(sum(|s| s.cached_tokens))));
    }
    if let Some(i) = total_at {
        total.remove(i);
    }
    if model_column {
        total.push(Cell::from(""));
    }
    if with_cost {
        let costs: Vec<Option<f64>> = report
            .sections
            .iter()
            .filter(|s| s.status == SectionStatus::Complete)
            .map(|s| section_cost(s, prices))
            .collect();
        let total_cost = costs.iter().copied().sum::<Option<f64>>();
        total.push(right(fmt_cost(total_cost.filter(|_| !costs.is_empty()))));
    }
    let table = Table::new(rows, widths)
        .header(Row::new(header).style(theme.bold))
        .footer(Row::new(total).style(theme.bold))
        .column_spacing(1);
    frame.render_stateful_widget(table, table_area, &mut TableState::new());
}
