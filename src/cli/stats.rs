//! `iching stats [ID]`: tokens, timings and cost from the plain columns (nothing is decrypted).
//!
//! With an id: one row per stored section in the order they finished — #, section, delta (ms
//! after the run started when it finished), prompt/completion/total tokens, tokens per second,
//! time to first token, attempts, model — then totals and, when `config.toml` has a price for
//! the model (`[prices."MODEL"]`), the cost. Without: per-section averages across readings
//! (completion tokens, latency, failure rate), so the costly and slow sections stand out, and
//! totals by model. `--json` prints the same figures as one object.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::ExitCode;

use clap::Args;
use serde::Serialize;

use super::{CliError, emit, open};
use crate::config::Prices;
use crate::events::UsageSource;
use crate::model::{ErrorKind, ReadingId};
use crate::plan::Section;
use crate::report::{ReadingStatus, SectionStatus, rate};
use crate::service::{Access, Service};
use crate::store::{PartMeta, rfc3339};

/// Arguments of `stats`.
#[derive(Debug, Args)]
pub struct StatsArgs {
    /// One reading's id; without it, figures across all readings.
    #[arg(allow_negative_numbers = true)]
    pub id: Option<ReadingId>,
    /// Print JSON instead of tables.
    #[arg(long)]
    pub json: bool,
    /// Your readings over time instead: how often each hexagram came up (as primary and as
    /// resulting) against what the casting methods' odds predict, changing lines per reading,
    /// readings per month.
    #[arg(long, conflicts_with = "id")]
    pub hexagrams: bool,
    /// With --hexagrams: only readings whose question, situation or notes contain TEXT.
    #[arg(long, value_name = "TEXT", requires = "hexagrams")]
    pub search: Option<String>,
}

#[derive(Debug, Serialize)]
struct Row {
    rank: usize,
    section_id: u8,
    section: String,
    status: SectionStatus,
    /// How a failed section failed (`timeout`, `rate_limited`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    error_kind: Option<ErrorKind>,
    delta_ms: u64,
    prompt_tokens: Option<u32>,
    completion_tokens: Option<u32>,
    total_tokens: Option<u32>,
    /// Of the completion tokens, those spent reasoning.
    reasoning_tokens: Option<u32>,
    /// Of the prompt tokens, those served from the provider's cache.
    cached_tokens: Option<u32>,
    /// Tokens spent by failed attempts of this section (billed too).
    failed_tokens: Option<u32>,
    tokens_per_sec: Option<f64>,
    ttft_ms: Option<u64>,
    attempts: u32,
    model: Option<String>,
}

#[derive(Debug, Default, Serialize)]
struct Totals {
    wall_ms: u64,
    prompt_tokens: u64,
    completion_tokens: u64,
    total_tokens: u64,
    /// Of the completion tokens, those spent reasoning.
    reasoning_tokens: u64,
    /// Of the prompt tokens, those served from the provider's cache.
    cached_tokens: u64,
    /// Tokens spent by failed attempts, included in the counts above and in the cost.
    failed_tokens: u64,
    /// Dollars the provider's prompt cache saved, when priced with a cached price.
    #[serde(skip_serializing_if = "Option::is_none")]
    cache_saved: Option<f64>,
    tokens_per_sec: f64,
    attempts: u64,
    /// Dollars, when every model that answered has a price.
    cost: Option<f64>,
    /// Models without a price in the config.
    unpriced: Vec<String>,
    /// Whether some counts are estimates.
    estimated: bool,
}

#[derive(Debug, Serialize)]
struct ReadingStats {
    id: ReadingId,
    created_at: String,
    status: ReadingStatus,
    sections_planned: u32,
    rows: Vec<Row>,
    totals: Totals,
}

#[derive(Debug, Serialize)]
struct SectionAverages {
    section_id: u8,
    section: String,
    runs: usize,
    failed: usize,
    failure_rate: f64,
    /// Failures by kind (`timeout`: 2, ...); kinds older readings did not record are left out.
    failed_by_kind: BTreeMap<ErrorKind, usize>,
    avg_completion_tokens: Option<f64>,
    avg_latency_ms: Option<f64>,
}

#[derive(Debug, Serialize)]
struct ModelTotals {
    model: String,
    readings: usize,
    sections: usize,
    totals: Totals,
}

#[derive(Debug, Serialize)]
struct AllStats {
    readings: usize,
    sections: usize,
    by_section: Vec<SectionAverages>,
    by_model: Vec<ModelTotals>,
    /// Readings left out because their records failed the integrity check.
    skipped: Vec<Skipped>,
}

/// A reading left out of the figures.
#[derive(Debug, Serialize)]
struct Skipped {
    id: ReadingId,
    reason: String,
}

/// Runs `stats`.
pub async fn run(home: Option<&Path>, args: StatsArgs) -> Result<ExitCode, CliError> {
    let service = open(home, Access::Read)?;
    let out = if args.hexagrams {
        super::patterns::run(&service, args.search.clone(), args.json).await
    } else {
        figures(&service, &args).await
    };
    service.close().await;
    emit(&out?);
    Ok(ExitCode::SUCCESS)
}

async fn figures(service: &Service, args: &StatsArgs) -> Result<String, CliError> {
    let prices = service.prices_checked()?;
    Ok(if let Some(id) = args.id {
        let figures = service.figures(id).await?;
        let (row, parts) = (figures.row, figures.parts);
        let stats = ReadingStats {
            id,
            created_at: rfc3339(row.created_at),
            status: row.status,
            sections_planned: row.sections_planned,
            rows: rows(&parts),
            totals: totals(&parts, &prices),
        };
        if args.json {
            json(&stats)?
        } else {
            reading_table(&stats)
        }
    } else {
        let all = service.all_figures().await?;
        let mut stats = across(&all.parts, &prices);
        stats.skipped = all
            .skipped
            .into_iter()
            .map(|(id, e)| Skipped {
                id,
                reason: e.to_string(),
            })
            .collect();
        if args.json {
            json(&stats)?
        } else {
            across_tables(&stats)
        }
    })
}

fn json(value: &impl Serialize) -> Result<String, CliError> {
    super::json::to_json(value, "the figures")
}

fn title(section_id: u8) -> String {
    Section::from_id(section_id).map_or_else(|| format!("section {section_id}"), Section::title)
}

fn rows(parts: &[PartMeta]) -> Vec<Row> {
    let mut sorted: Vec<&PartMeta> = parts.iter().collect();
    sorted.sort_by_key(|m| (m.finished_ms, m.section_id));
    sorted
        .into_iter()
        .enumerate()
        .map(|(i, m)| Row {
            rank: i + 1,
            section_id: m.section_id,
            section: title(m.section_id),
            status: m.status,
            error_kind: m.error_kind,
            delta_ms: m.finished_ms,
            prompt_tokens: m.prompt_tokens,
            completion_tokens: m.completion_tokens,
            total_tokens: m.total_tokens(),
            reasoning_tokens: m.reasoning_tokens,
            cached_tokens: m.cached_tokens,
            failed_tokens: m.failed_usage().map(|u| u.total()),
            tokens_per_sec: m.completion_tokens.map(|c| rate(c, m.latency_ms)),
            ttft_ms: m.ttft_ms,
            attempts: m.attempts,
            model: m.model.clone(),
        })
        .collect()
}

fn totals<'a>(parts: impl IntoIterator<Item = &'a PartMeta>, prices: &Prices) -> Totals {
    let mut t = Totals::default();
    let mut cost = 0.0;
    let mut saved = 0.0;
    let mut unpriced = BTreeSet::new();
    for m in parts {
        t.wall_ms = t.wall_ms.max(m.finished_ms);
        t.attempts += u64::from(m.attempts);
        let Some(billed) = m.billed() else {
            continue;
        };
        t.prompt_tokens += u64::from(billed.prompt_tokens);
        t.completion_tokens += u64::from(billed.completion_tokens);
        t.reasoning_tokens += u64::from(billed.reasoning_tokens);
        t.cached_tokens += u64::from(billed.cached_tokens);
        t.failed_tokens += u64::from(m.failed_usage().map_or(0, |u| u.total()));
        t.estimated |= billed.source == UsageSource::Estimated;
        let model = m.model.clone().unwrap_or_default();
        match prices.cost(&model, &billed) {
            Some(c) => {
                cost += c;
                // What the same tokens would have cost with no prompt cache.
                let uncached = crate::events::Usage {
                    cached_tokens: 0,
                    ..billed
                };
                saved += prices.cost(&model, &uncached).unwrap_or(c) - c;
            }
            None => {
                unpriced.insert(model);
            }
        }
    }
    t.total_tokens = t.prompt_tokens + t.completion_tokens;
    t.tokens_per_sec = crate::events::tokens_per_sec(
        t.completion_tokens,
        std::time::Duration::from_millis(t.wall_ms),
    );
    t.cost = unpriced.is_empty().then_some(cost);
    t.cache_saved = unpriced.is_empty().then_some(saved).filter(|s| *s > 0.0);
    t.unpriced = unpriced.into_iter().collect();
    t
}

fn across(parts: &[(ReadingId, PartMeta)], prices: &Prices) -> AllStats {
    let mut by_section: BTreeMap<u8, Vec<&PartMeta>> = BTreeMap::new();
    let mut by_model: BTreeMap<String, (BTreeSet<ReadingId>, Vec<&PartMeta>)> = BTreeMap::new();
    let readings: BTreeSet<ReadingId> = parts.iter().map(|(id, _)| *id).collect();
    for (id, m) in parts {
        by_section.entry(m.section_id).or_default().push(m);
        if let Some(model) = &m.model {
            let entry = by_model.entry(model.clone()).or_default();
            entry.0.insert(*id);
            entry.1.push(m);
        }
    }
    let mean = |xs: Vec<f64>| (!xs.is_empty()).then(|| xs.iter().sum::<f64>() / xs.len() as f64);
    AllStats {
        readings: readings.len(),
        sections: parts.len(),
        by_section: by_section
            .into_iter()
            .map(|(section_id, ms)| {
                let ok: Vec<&&PartMeta> = ms
                    .iter()
                    .filter(|m| m.status == SectionStatus::Complete)
                    .collect();
                let failed = ms.len() - ok.len();
                let mut failed_by_kind = BTreeMap::new();
                for kind in ms.iter().filter_map(|m| m.error_kind) {
                    *failed_by_kind.entry(kind).or_insert(0) += 1;
                }
                SectionAverages {
                    failed_by_kind,
                    section_id,
                    section: title(section_id),
                    runs: ms.len(),
                    failed,
                    failure_rate: failed as f64 / ms.len() as f64,
                    avg_completion_tokens: mean(
                        ok.iter()
                            .filter_map(|m| m.completion_tokens)
                            .map(f64::from)
                            .collect(),
                    ),
                    avg_latency_ms: mean(ok.iter().map(|m| m.latency_ms as f64).collect()),
                }
            })
            .collect(),
        skipped: Vec::new(),
        by_model: by_model
            .into_iter()
            .map(|(model, (ids, ms))| ModelTotals {
                model,
                readings: ids.len(),
                sections: ms.len(),
                totals: totals(ms.iter().copied(), prices),
            })
            .collect(),
    }
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map_or_else(|| "-".to_owned(), |v| v.to_string())
}

fn cost_line(t: &Totals) -> String {
    let note = if t.estimated {
        " (from estimated token counts)"
    } else {
        ""
    };
    match t.cost {
        Some(c) => format!("cost: ${c:.6}{note}"),
        None => format!(
            "cost: unknown; no price for {} (add [prices.\"MODEL\"] with prompt_per_million and completion_per_million to config.toml)",
            crate::response::sanitize_inline(&t.unpriced.join(", "))
        ),
    }
}

fn reading_table(s: &ReadingStats) -> String {
    let done = s
        .rows
        .iter()
        .filter(|r| r.status == SectionStatus::Complete)
        .count();
    let mut out = format!(
        "Reading {} · cast {} · {} · {done}/{} sections\n\n",
        s.id,
        s.created_at,
        s.status.as_str(),
        s.sections_planned
    );
    out.push_str(&format!(
        "{:>3}  {:<24} {:>9} {:>10} {:>9} {:>9} {:>9} {:>9} {:>7} {:>8} {:>4}  model\n",
        "#",
        "section",
        "delta ms",
        "prompt tk",
        "cached tk",
        "compl tk",
        "reason tk",
        "total tk",
        "tk/s",
        "TTFT ms",
        "att"
    ));
    for r in &s.rows {
        let section = match r.status {
            SectionStatus::Complete => r.section.clone(),
            _ => format!(
                "{} ({})",
                r.section,
                r.error_kind.map_or("failed", ErrorKind::as_str)
            ),
        };
        out.push_str(&format!(
            "{:>3}  {:<24} {:>9} {:>10} {:>9} {:>9} {:>9} {:>9} {:>7} {:>8} {:>4}  {}\n",
            r.rank,
            section,
            r.delta_ms,
            opt(r.prompt_tokens),
            opt(r.cached_tokens),
            opt(r.completion_tokens),
            opt(r.reasoning_tokens),
            opt(r.total_tokens),
            opt(r.tokens_per_sec.map(|v| format!("{v:.1}"))),
            opt(r.ttft_ms),
            r.attempts,
            crate::response::sanitize_inline(r.model.as_deref().unwrap_or("-")),
        ));
    }
    let t = &s.totals;
    out.push_str(&format!(
        "{:>3}  {:<24} {:>9} {:>10} {:>9} {:>9} {:>9} {:>9} {:>7} {:>8} {:>4}\n",
        "",
        "total",
        t.wall_ms,
        t.prompt_tokens,
        t.cached_tokens,
        t.completion_tokens,
        t.reasoning_tokens,
        t.total_tokens,
        format!("{:.1}", t.tokens_per_sec),
        "",
        t.attempts
    ));
    if s.rows.is_empty() {
        out.push_str("(no section has been stored yet)\n");
    }
    if t.failed_tokens > 0 {
        out.push_str(&format!(
            "failed attempts spent {} tokens (billed: counted in the totals and the cost)\n",
            t.failed_tokens
        ));
    }
    if t.cached_tokens > 0 {
        out.push_str(&format!(
            "{} prompt tokens came from the provider's cache ({:.0}% of the prompt){}\n",
            t.cached_tokens,
            t.cached_tokens as f64 * 100.0 / t.prompt_tokens.max(1) as f64,
            t.cache_saved
                .map(|s| format!(", which saved ${s:.6}"))
                .unwrap_or_default()
        ));
    }
    out.push_str(&cost_line(t));
    out
}

fn across_tables(s: &AllStats) -> String {
    let skipped = skipped_note(&s.skipped);
    if s.sections == 0 {
        return format!(
            "No sections stored yet. Cast a reading with `iching cast \"your question\"`.{skipped}"
        );
    }
    let mut out = format!(
        "Across {} readings ({} sections stored)\n\n",
        s.readings, s.sections
    );
    out.push_str(&format!(
        "{:>3}  {:<22} {:>5} {:>7} {:>7} {:>13} {:>15}\n",
        "id", "section", "runs", "failed", "fail %", "avg compl tk", "avg latency ms"
    ));
    for a in &s.by_section {
        out.push_str(&format!(
            "{:>3}  {:<22} {:>5} {:>7} {:>7.1} {:>13} {:>15}\n",
            a.section_id,
            a.section,
            a.runs,
            a.failed,
            a.failure_rate * 100.0,
            opt(a.avg_completion_tokens.map(|v| format!("{v:.0}"))),
            opt(a.avg_latency_ms.map(|v| format!("{v:.0}"))),
        ));
    }
    let top = |key: fn(&SectionAverages) -> Option<f64>| {
        s.by_section
            .iter()
            .filter_map(|a| Some((key(a)?, a)))
            .max_by(|x, y| x.0.total_cmp(&y.0))
    };
    if let (Some((tokens, costly)), Some((ms, slow))) =
        (top(|a| a.avg_completion_tokens), top(|a| a.avg_latency_ms))
    {
        out.push_str(&format!(
            "\nMost completion tokens: {} (avg {tokens:.0}); slowest: {} (avg {ms:.0} ms).\n",
            costly.section, slow.section
        ));
    }
    out.push_str(&format!(
        "\n{:<20} {:>8} {:>8} {:>10} {:>9} {:>9}  cost\n",
        "model", "readings", "sections", "prompt tk", "compl tk", "total tk"
    ));
    for m in &s.by_model {
        let t = &m.totals;
        let cost = t.cost.map_or_else(
            || "unknown (no price in config.toml)".to_owned(),
            |c| format!("${c:.6}"),
        );
        out.push_str(&format!(
            "{:<20} {:>8} {:>8} {:>10} {:>9} {:>9}  {cost}{}\n",
            crate::response::sanitize_inline(&m.model),
            m.readings,
            m.sections,
            t.prompt_tokens,
            t.completion_tokens,
            t.total_tokens,
            if t.estimated {
                " (estimated tokens)"
            } else {
                ""
            }
        ));
    }
    format!("{}{skipped}", out.trim_end())
}

/// The closing note on readings left out, or nothing.
fn skipped_note(skipped: &[Skipped]) -> String {
    if skipped.is_empty() {
        return String::new();
    }
    let ids: Vec<String> = skipped.iter().map(|s| s.id.to_string()).collect();
    format!(
        "\n\nLeft out: {} {} whose records failed the integrity check ({}); `iching verify` says what failed.",
        skipped.len(),
        if skipped.len() == 1 {
            "reading"
        } else {
            "readings"
        },
        ids.join(", ")
    )
}
