//! `iching stats [ID]`: tokens, timings and cost from the plain columns (nothing is decrypted).
//!
//! With an id: one row per stored section, numbered 1..n in the reading's order — section, when
//! it finished (ms after the run started), prompt/completion/total tokens, tokens per second,
//! time to first token, attempts (`--wide` adds cached and reasoning tokens and the model) —
//! then totals, the reading's throughput (all its tokens over its wall time) and, when
//! `config.toml` has a price for the model (`[prices."MODEL"]`), the cost; the offline text
//! costs nothing. Without: per-section averages across readings (completion tokens, latency,
//! failure rate), so the costly and slow sections stand out, and totals by model. The tables fit
//! 80 columns; `--wide` shows every column. `--json` prints the same figures as one object
//! (rows in the order they finished, with `rank`, the reading's `number` and the `section_id`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::ExitCode;

use clap::Args;
use serde::Serialize;

use super::{CliError, emit, open};
use crate::config::Prices;
use crate::events::UsageSource;
use crate::model::{ErrorKind, ReadingId};
use crate::oracle::{Cast, LineValue, Reading};
use crate::plan::{Section, plan};
use crate::report::{ReadingStatus, SectionStatus, rate};
use crate::service::{Access, Service};
use crate::store::{FollowupMeta, PartMeta, rfc3339};

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
    /// Every column (cached and reasoning tokens, model), wider than 80 columns.
    #[arg(long)]
    pub wide: bool,
}

#[derive(Debug, Serialize)]
struct Row {
    /// In the order the sections finished.
    rank: usize,
    /// Its place in the reading, 1..n, as the reading shows its sections.
    number: usize,
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
    /// All the tokens (prompt and completion) over the wall time.
    tokens_per_sec: f64,
    attempts: u64,
    /// Dollars, when every model that answered has a price.
    cost: Option<f64>,
    /// Models without a price in the config.
    unpriced: Vec<String>,
    /// Whether every section came from the offline text, which costs nothing.
    offline: bool,
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
    /// The follow-up questions asked about it.
    followups: FollowupTotals,
}

/// What follow-up questions spent.
#[derive(Debug, Default, Serialize)]
struct FollowupTotals {
    count: usize,
    prompt_tokens: u64,
    completion_tokens: u64,
    total_tokens: u64,
    /// Of the prompt tokens, those served from the provider's cache.
    cached_tokens: u64,
    /// Mean time from the request to the end of its answer.
    avg_latency_ms: Option<f64>,
    /// Dollars, when every model that answered has a price (none for the offline text).
    cost: Option<f64>,
    /// Models without a price in the config.
    unpriced: Vec<String>,
    /// Whether some counts are estimates.
    estimated: bool,
}

fn followup_totals<'a>(
    all: impl IntoIterator<Item = &'a FollowupMeta>,
    prices: &Prices,
) -> FollowupTotals {
    let mut t = FollowupTotals::default();
    let mut cost = 0.0;
    let mut unpriced = BTreeSet::new();
    let mut latency = 0.0;
    for f in all {
        t.count += 1;
        t.prompt_tokens += u64::from(f.usage.prompt_tokens);
        t.completion_tokens += u64::from(f.usage.completion_tokens);
        t.cached_tokens += u64::from(f.usage.cached_tokens);
        t.estimated |= f.usage.source == UsageSource::Estimated;
        latency += f.latency_ms as f64;
        match prices.cost(&f.model, &f.usage) {
            Some(c) => cost += c,
            None if f.model == crate::llm::offline::MODEL => {}
            None => {
                unpriced.insert(f.model.clone());
            }
        }
    }
    t.total_tokens = t.prompt_tokens + t.completion_tokens;
    t.avg_latency_ms = (t.count > 0).then(|| latency / t.count as f64);
    t.cost = unpriced.is_empty().then_some(cost);
    t.unpriced = unpriced.into_iter().collect();
    t
}

/// "Follow-up questions: 2, 6,140 tokens (3,910 prompt + ...), avg 2.1 s, cost ...", or nothing.
fn followup_line(t: &FollowupTotals) -> String {
    if t.count == 0 {
        return String::new();
    }
    let cost = match t.cost {
        Some(c) if c <= 0.0 => "free".to_owned(),
        Some(c) => format!("${c:.6}"),
        None => format!(
            "unknown (no price for {})",
            crate::response::sanitize_inline(&t.unpriced.join(", "))
        ),
    };
    format!(
        "\nfollow-up questions: {}, {}{} tokens ({} prompt + {} completion), avg {:.1} s, cost {cost}",
        t.count,
        if t.estimated { "~" } else { "" },
        t.total_tokens,
        t.prompt_tokens,
        t.completion_tokens,
        t.avg_latency_ms.unwrap_or(0.0) / 1000.0
    )
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
    /// The follow-up questions asked about them.
    followups: FollowupTotals,
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
            rows: rows(&parts, &planned_ids(row.lines)),
            totals: totals(&parts, &prices),
            followups: followup_totals(&figures.followups, &prices),
        };
        if args.json {
            json(&stats)?
        } else {
            reading_table(&stats, args.wide)
        }
    } else {
        let all = service.all_figures().await?;
        let asked = service.all_followup_figures().await?;
        let mut stats = across(&all.parts, &prices);
        stats.followups = followup_totals(asked.followups.iter().map(|(_, f)| f), &prices);
        stats.skipped = all
            .skipped
            .into_iter()
            .map(|(id, e)| Skipped {
                id,
                reason: e.to_string(),
            })
            .collect();
        for id in asked.damaged {
            if !stats.skipped.iter().any(|s| s.id == id) {
                stats.skipped.push(Skipped {
                    id,
                    reason: "a follow-up's record failed its integrity check".to_owned(),
                });
            }
        }
        if args.json {
            json(&stats)?
        } else {
            across_tables(&stats, args.wide)
        }
    })
}

fn json(value: &impl Serialize) -> Result<String, CliError> {
    super::json::to_json(value, "the figures")
}

fn title(section_id: u8) -> String {
    Section::from_id(section_id).map_or_else(|| format!("section {section_id}"), Section::title)
}

/// The section ids a reading of these line values plans, in its order (empty for values no
/// cast has: then the stored sections are numbered among themselves).
fn planned_ids(lines: [u8; 6]) -> Vec<u8> {
    let values: Option<Vec<LineValue>> = lines.into_iter().map(LineValue::new).collect();
    let Some(Ok(values)) = values.map(<[LineValue; 6]>::try_from) else {
        return Vec::new();
    };
    plan(&Reading::new(Cast::manual(values)))
        .iter()
        .map(|s| s.id())
        .collect()
}

/// The rows in the order the sections finished; `planned` numbers them.
fn rows(parts: &[PartMeta], planned: &[u8]) -> Vec<Row> {
    let mut stored: Vec<u8> = parts.iter().map(|m| m.section_id).collect();
    stored.sort_unstable();
    let number = |id: u8| {
        planned
            .iter()
            .position(|&p| p == id)
            .or_else(|| stored.iter().position(|&p| p == id))
            .map_or(0, |i| i + 1)
    };
    let mut sorted: Vec<&PartMeta> = parts.iter().collect();
    sorted.sort_by_key(|m| (m.finished_ms, m.section_id));
    sorted
        .into_iter()
        .enumerate()
        .map(|(i, m)| Row {
            rank: i + 1,
            number: number(m.section_id),
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
    let mut offline = true;
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
        let free = model == crate::llm::offline::MODEL;
        offline &= free;
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
            // The offline text has no price: it costs nothing.
            None if free => {}
            None => {
                unpriced.insert(model);
            }
        }
    }
    t.offline = offline && t.attempts > 0;
    t.total_tokens = t.prompt_tokens + t.completion_tokens;
    // The reading's throughput: its sections ran at once, so this is all of their tokens over
    // the wall time, not a sum of the sections' own rates.
    t.tokens_per_sec =
        crate::events::tokens_per_sec(t.total_tokens, std::time::Duration::from_millis(t.wall_ms));
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
        followups: FollowupTotals::default(),
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
        Some(c) if t.offline && c == 0.0 => "cost: none (the offline text is free)".to_owned(),
        Some(c) => format!("cost: ${c:.6}{note}"),
        None => format!(
            "cost: unknown: no price for {} in config.toml;\nadd [prices.\"MODEL\"] with prompt_per_million and completion_per_million",
            crate::response::sanitize_inline(&t.unpriced.join(", "))
        ),
    }
}

fn reading_table(s: &ReadingStats, wide: bool) -> String {
    let done = s
        .rows
        .iter()
        .filter(|r| r.status == SectionStatus::Complete)
        .count();
    let models: BTreeSet<&str> = s.rows.iter().filter_map(|r| r.model.as_deref()).collect();
    let mut out = format!(
        "Reading {} · cast {} · {} · {done}/{} sections{}\n\n",
        s.id,
        s.created_at,
        s.status.as_str(),
        s.sections_planned,
        if wide || models.is_empty() {
            String::new()
        } else {
            format!(
                " · {}",
                crate::response::sanitize_inline(
                    &models.into_iter().collect::<Vec<_>>().join(", ")
                )
            )
        }
    );
    // In the reading's order, numbered as the reading shows them.
    let mut rows: Vec<&Row> = s.rows.iter().collect();
    rows.sort_by_key(|r| (r.number, r.section_id));
    let section = |r: &Row, room: usize| {
        let name = match r.status {
            SectionStatus::Complete => r.section.clone(),
            _ => format!(
                "{} ({})",
                r.section,
                r.error_kind.map_or("failed", ErrorKind::as_str)
            ),
        };
        crate::text::pad(&crate::text::truncate(&name, room), room)
    };
    let t = &s.totals;
    if wide {
        out.push_str(&format!(
            "{:>3}  {:<24} {:>9} {:>10} {:>9} {:>9} {:>9} {:>9} {:>7} {:>8} {:>4}  model\n",
            "#",
            "section",
            "done ms",
            "prompt tk",
            "cached tk",
            "compl tk",
            "reason tk",
            "total tk",
            "tk/s",
            "TTFT ms",
            "att"
        ));
        for r in rows {
            out.push_str(&format!(
                "{:>3}  {} {:>9} {:>10} {:>9} {:>9} {:>9} {:>9} {:>7} {:>8} {:>4}  {}\n",
                r.number,
                section(r, 24),
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
            "",
            "",
            t.attempts
        ));
    } else {
        out.push_str(&format!(
            "{:>2}  {:<22} {:>8} {:>7} {:>7} {:>7} {:>6} {:>7} {:>3}\n",
            "#", "section", "done ms", "prompt", "compl", "total", "tok/s", "TTFT ms", "att"
        ));
        for r in rows {
            out.push_str(&format!(
                "{:>2}  {} {:>8} {:>7} {:>7} {:>7} {:>6} {:>7} {:>3}\n",
                r.number,
                section(r, 22),
                r.delta_ms,
                opt(r.prompt_tokens),
                opt(r.completion_tokens),
                opt(r.total_tokens),
                opt(r.tokens_per_sec.map(|v| format!("{v:.0}"))),
                opt(r.ttft_ms),
                r.attempts,
            ));
        }
        out.push_str(&format!(
            "{:>2}  {:<22} {:>8} {:>7} {:>7} {:>7} {:>6} {:>7} {:>3}\n",
            "",
            "total",
            t.wall_ms,
            t.prompt_tokens,
            t.completion_tokens,
            t.total_tokens,
            "",
            "",
            t.attempts
        ));
    }
    if s.rows.is_empty() {
        out.push_str("(no section has been stored yet)\n");
    } else {
        // A section's tok/s is its completion over its own time; the reading's sections ran
        // at once, so its rate is all of its tokens over its wall time.
        out.push_str(&format!(
            "all sections: {} tokens over {:.2} s of wall time, {:.0} tok/s\n",
            t.total_tokens,
            t.wall_ms as f64 / 1000.0,
            t.tokens_per_sec
        ));
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
    if t.reasoning_tokens > 0 && !wide {
        out.push_str(&format!(
            "{} of the completion tokens were spent reasoning\n",
            t.reasoning_tokens
        ));
    }
    out.push_str(&cost_line(t));
    out.push_str(&followup_line(&s.followups));
    out
}

fn across_tables(s: &AllStats, wide: bool) -> String {
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
        "{:<22} {:>5} {:>7} {:>7} {:>13} {:>15}\n",
        "section", "runs", "failed", "fail %", "avg compl tk", "avg latency ms"
    ));
    for a in &s.by_section {
        out.push_str(&format!(
            "{:<22} {:>5} {:>7} {:>7.1} {:>13} {:>15}\n",
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
            "\nMost completion tokens: {} (avg {tokens:.0}).\nSlowest: {} (avg {ms:.0} ms).\n",
            costly.section, slow.section
        ));
    }
    let model_room = if wide { 40 } else { 20 };
    out.push_str(&format!(
        "\n{} {:>8} {:>8} {:>9} {:>9} {:>9}  cost\n",
        crate::text::pad("model", model_room),
        "readings",
        "sections",
        "prompt tk",
        "compl tk",
        "total tk"
    ));
    let mut unpriced = false;
    let mut estimated = false;
    for m in &s.by_model {
        let t = &m.totals;
        let cost = match t.cost {
            Some(c) if t.offline && c == 0.0 => "free".to_owned(),
            Some(c) => format!("${c:.6}"),
            None => {
                unpriced = true;
                "unknown*".to_owned()
            }
        };
        estimated |= t.estimated;
        let model = crate::response::sanitize_inline(&m.model);
        out.push_str(&format!(
            "{} {:>8} {:>8} {:>9} {:>9} {:>9}  {cost}\n",
            crate::text::pad(&crate::text::truncate(&model, model_room), model_room),
            m.readings,
            m.sections,
            t.prompt_tokens,
            t.completion_tokens,
            format!("{}{}", if t.estimated { "~" } else { "" }, t.total_tokens),
        ));
    }
    if estimated {
        out.push_str("~ estimated token counts (the endpoint reported none)\n");
    }
    if unpriced {
        out.push_str(
            "* no price in config.toml: add [prices.\"MODEL\"] with prompt_per_million and \
             completion_per_million\n",
        );
    }
    format!("{}{}{skipped}", out.trim_end(), followup_line(&s.followups))
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
