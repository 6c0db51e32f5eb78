//! `iching stats [ID]`: tokens, timings and cost from the plain columns (nothing is decrypted).
//!
//! With an id: one row per stored section, numbered 1..n in the reading's order — section, when
//! it finished (ms after the run started), prompt/completion/total tokens, tokens per second,
//! time to first token, attempts (`--wide` adds cached and reasoning tokens and the model) —
//! then totals, the reading's throughput (all its tokens over its wall time) and, when
//! `config.toml` has a price for the model (`[prices."MODEL"]`), the cost; a reading of the
//! classic text (offline) shows its times and whose text it is, no tokens, rate or cost.
//! Without: per-section averages across readings (completion tokens, latency, failure rate), so
//! the costly and slow sections stand out, and totals by model. The tables fit
//! 80 columns; `--wide` shows every column. `--json` prints the same figures as one object
//! (rows in the order they finished, with `rank`, the reading's `number` and the `section_id`).

use std::collections::BTreeSet;
use std::path::Path;
use std::process::ExitCode;

use clap::Args;
use serde::Serialize;

use super::{CliError, emit, open};
use crate::model::ErrorKind;
use crate::model::ReadingId;
use crate::report::SectionStatus;
use crate::service::{
    Access, AllStats, CLASSIC_TEXT, FollowupTotals, ReadingStats, Row, SectionAverages, Service,
    Skipped, Totals,
};

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
    /// With --hexagrams: only readings holding every word of TEXT, as `history --search`.
    #[arg(long, value_name = "TEXT", requires = "hexagrams")]
    pub search: Option<String>,
    /// Every column (cached and reasoning tokens, model), wider than 80 columns.
    #[arg(long)]
    pub wide: bool,
}

/// "Follow-up questions: 2, 6,140 tokens (3,910 prompt + ...), avg 2.1 s, cost ...", or nothing.
fn followup_line(t: &FollowupTotals) -> String {
    if t.count == 0 {
        return String::new();
    }
    if t.classic {
        return format!(
            "\nfollow-up questions: {}, answered from {CLASSIC_TEXT}, avg {:.1} s",
            t.count,
            t.avg_latency_ms.unwrap_or(0.0) / 1000.0
        );
    }
    let cost = match t.cost {
        Some(c) if c <= 0.0 => "free".to_owned(),
        Some(c) => format!("${c:.6}"),
        None => format!(
            "unknown (no price for {})",
            crate::answer::sanitize_inline(&t.unpriced.join(", "))
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

/// Runs `stats`.
pub async fn run(home: Option<&Path>, args: StatsArgs) -> Result<ExitCode, CliError> {
    let service = open(home, Access::Existing)?;
    let out = if args.hexagrams {
        super::patterns::run(&service, args.search.clone(), args.json).await
    } else {
        figures(&service, &args).await
    };
    service.close().await;
    let out = out?;
    // The tables' hints carry the home and are set as plain text; JSON is left as it is.
    emit(&if args.json {
        out
    } else {
        super::hint::paste(&out)
    });
    Ok(ExitCode::SUCCESS)
}

async fn figures(service: &Service, args: &StatsArgs) -> Result<String, CliError> {
    Ok(if let Some(id) = args.id {
        let stats = service.reading_stats(id).await?;
        if args.json {
            json(&stats)?
        } else {
            reading_table(&stats, args.wide)
        }
    } else {
        let stats = service.all_stats().await?;
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
            "cost: unknown: no price for {} in config.toml;\nadd [prices.\"MODEL\"] with prompt_per_million and completion_per_million",
            crate::answer::sanitize_inline(&t.unpriced.join(", "))
        ),
    }
}

pub(crate) fn reading_table(s: &ReadingStats, wide: bool) -> String {
    let done = s
        .rows
        .iter()
        .filter(|r| r.status == SectionStatus::Complete)
        .count();
    let models: BTreeSet<&str> = s.rows.iter().filter_map(|r| r.model.as_deref()).collect();
    let t = &s.totals;
    if t.offline {
        return classic_table(s, done);
    }
    let mut out = format!(
        "Reading {} · cast {} · {} · {done}/{} sections{}\n\n",
        s.id,
        crate::report::cast_time(s.created_at),
        s.status.as_str(),
        s.sections_planned,
        if wide || models.is_empty() {
            String::new()
        } else {
            format!(
                " · {}",
                crate::answer::sanitize_inline(&models.into_iter().collect::<Vec<_>>().join(", "))
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
    // A section the classic text answered, in a reading a model answered too: no figures.
    let tk = |r: &Row, v: Option<u32>| opt(v.filter(|_| !r.classic));
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
                tk(r, r.prompt_tokens),
                tk(r, r.cached_tokens),
                tk(r, r.completion_tokens),
                tk(r, r.reasoning_tokens),
                tk(r, r.total_tokens),
                opt(r
                    .tokens_per_sec
                    .filter(|_| !r.classic)
                    .map(|v| format!("{v:.1}"))),
                opt(r.ttft_ms),
                r.attempts,
                crate::answer::sanitize_inline(r.model.as_deref().unwrap_or("-")),
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
                tk(r, r.prompt_tokens),
                tk(r, r.completion_tokens),
                tk(r, r.total_tokens),
                opt(r
                    .tokens_per_sec
                    .filter(|_| !r.classic)
                    .map(|v| format!("{v:.0}"))),
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

/// A reading the classic text answered: when each section finished, its time to the first
/// chunk and its attempts, and whose text it is; no tokens, rate or cost, as none were spent.
fn classic_table(s: &ReadingStats, done: usize) -> String {
    let mut out = format!(
        "Reading {} · cast {} · {} · {done}/{} sections · {CLASSIC_TEXT}\n\n",
        s.id,
        crate::report::cast_time(s.created_at),
        s.status.as_str(),
        s.sections_planned,
    );
    let mut rows: Vec<&Row> = s.rows.iter().collect();
    rows.sort_by_key(|r| (r.number, r.section_id));
    out.push_str(&format!(
        "{:>2}  {:<22} {:>8} {:>7} {:>3}\n",
        "#", "section", "done ms", "TTFT ms", "att"
    ));
    for r in rows {
        out.push_str(&format!(
            "{:>2}  {} {:>8} {:>7} {:>3}\n",
            r.number,
            crate::text::pad(&crate::text::truncate(&r.section, 22), 22),
            r.delta_ms,
            opt(r.ttft_ms),
            r.attempts,
        ));
    }
    out.push_str(&format!(
        "{:>2}  {:<22} {:>8} {:>7} {:>3}\n",
        "", "total", s.totals.wall_ms, "", s.totals.attempts
    ));
    out.push_str(&format!(
        "{CLASSIC_TEXT}, from the book: no model, so no tokens, rate or cost.",
    ));
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
    let mut classic = None;
    for m in &s.by_model {
        let t = &m.totals;
        let model = crate::answer::sanitize_inline(&m.model);
        if t.offline {
            out.push_str(&format!(
                "{} {:>8} {:>8} {:>9} {:>9} {:>9}  -\n",
                crate::text::pad(&crate::text::truncate(&model, model_room), model_room),
                m.readings,
                m.sections,
                "-",
                "-",
                "-",
            ));
            classic = Some(model);
            continue;
        }
        let cost = if let Some(c) = t.cost {
            format!("${c:.6}")
        } else {
            unpriced = true;
            "unknown*".to_owned()
        };
        estimated |= t.estimated;
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
    if let Some(model) = classic {
        out.push_str(&format!(
            "{model}: {CLASSIC_TEXT}, from the book: no tokens or cost\n"
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
