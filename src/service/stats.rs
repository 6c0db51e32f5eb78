//! A reading's figures, and figures across readings: one rule for tokens, throughput and cost,
//! computed here from the plain columns (nothing is decrypted) and shown alike by `iching
//! stats`, the terminal app's Stats screen and History's cost column.
//!
//! The rules: a section's tokens are what it was billed, its failed attempts included; a
//! reading's throughput is all its tokens (prompt and completion) over its wall time (its
//! sections ran at once, so not a sum of their rates); a cost is known when every model that
//! answered has a price, and the offline text costs nothing.
//!
//! And the rule of what has figures at all: the classic text (the offline provider answering
//! from Legge's translation on this machine) spends no tokens, so it has none to show, no rate
//! and no cost: [`is_classic_text`] says which answers are its, and the front ends show
//! [`CLASSIC_TEXT`] where a model's figures would be.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::{Service, ServiceError};
use crate::config::Prices;
use crate::events::UsageSource;
use crate::model::{ErrorKind, ReadingId};
use crate::oracle::{Cast, LineValue, Reading};
use crate::plan::{Section, plan};
use crate::report::{ReadingStatus, SectionStatus, rate};
use crate::store::{FollowupFigures, ReadingRow, SectionFigures};
use crate::when::Stamp;

/// What the front ends show where a model's figures would be, for the classic text.
pub const CLASSIC_TEXT: &str = "Legge's text";

/// Whether `model` is the classic text: the offline provider's answers from Legge's
/// translation, which have no tokens, rate or cost to show (older readings stored estimated
/// counts for them; they are not shown either).
pub fn is_classic_text(model: &str) -> bool {
    model == crate::llm::offline::MODEL
}

/// Whether a reading is the classic text's: everything that answered it (its sections and
/// follow-ups) is, or, before anything answered, it asked the classic text (`asked`, the
/// reading's model). Then it has no tokens, rate or cost to show.
pub fn reading_is_classic(
    asked: &str,
    parts: &[SectionFigures],
    followups: &[FollowupFigures],
) -> bool {
    let mut answered = parts
        .iter()
        .filter_map(|m| m.model.as_deref())
        .chain(followups.iter().map(|f| f.model.as_str()))
        .peekable();
    match answered.peek() {
        Some(_) => answered.all(is_classic_text),
        None => is_classic_text(asked),
    }
}

/// What one section cost, at `prices`: `Some(0)` for the offline text, `None` when its model
/// has no price or it used no tokens anyone reported.
pub fn part_cost(m: &SectionFigures, prices: &Prices) -> Option<f64> {
    let model = m.model.as_deref()?;
    let billed = m.billed()?;
    prices
        .cost(model, &billed)
        .or(is_classic_text(model).then_some(0.0))
}

/// What one reading cost, its follow-ups included, when every model that answered it has a
/// price.
pub fn reading_cost<'a>(
    parts: impl IntoIterator<Item = &'a SectionFigures>,
    followups: impl IntoIterator<Item = &'a FollowupFigures>,
    prices: &Prices,
) -> Option<f64> {
    let sections = totals(parts, prices).cost?;
    let asked = followup_totals(followups, prices).cost?;
    Some(sections + asked)
}

/// One stored section's figures.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// In the order the sections finished.
    pub rank: usize,
    /// Its place in the reading, 1..n, as the reading shows its sections.
    pub number: usize,
    /// Its id (stable across versions).
    pub section_id: u8,
    /// Its title.
    pub section: String,
    /// How it ended.
    pub status: SectionStatus,
    /// How a failed section failed (`timeout`, `rate_limited`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_kind: Option<ErrorKind>,
    /// When it finished, in ms after the run started.
    pub delta_ms: u64,
    /// From its request to its end.
    pub latency_ms: u64,
    /// Prompt tokens.
    pub prompt_tokens: Option<u32>,
    /// Completion tokens.
    pub completion_tokens: Option<u32>,
    /// Prompt and completion tokens.
    pub total_tokens: Option<u32>,
    /// Of the completion tokens, those spent reasoning.
    pub reasoning_tokens: Option<u32>,
    /// Of the prompt tokens, those served from the provider's cache.
    pub cached_tokens: Option<u32>,
    /// Tokens spent by failed attempts of this section (billed too).
    pub failed_tokens: Option<u32>,
    /// Completion tokens over its latency.
    pub tokens_per_sec: Option<f64>,
    /// Time to first token.
    pub ttft_ms: Option<u64>,
    /// Requests made.
    pub attempts: u32,
    /// The model that answered.
    pub model: Option<String>,
    /// Dollars for what it was billed (its failed attempts too), when its model has a price;
    /// nothing for the offline text.
    pub cost: Option<f64>,
    /// Whether its token counts are estimates.
    pub estimated: bool,
    /// Whether the classic text answered it ([`is_classic_text`]): no figures to show.
    pub classic: bool,
}

/// A reading's (or a model's) totals.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Totals {
    /// When the last section finished, in ms after the run started.
    pub wall_ms: u64,
    /// Prompt tokens.
    pub prompt_tokens: u64,
    /// Completion tokens.
    pub completion_tokens: u64,
    /// Prompt and completion tokens.
    pub total_tokens: u64,
    /// Of the completion tokens, those spent reasoning.
    pub reasoning_tokens: u64,
    /// Of the prompt tokens, those served from the provider's cache.
    pub cached_tokens: u64,
    /// Tokens spent by failed attempts, included in the counts above and in the cost.
    pub failed_tokens: u64,
    /// Dollars the provider's prompt cache saved, when priced with a cached price.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_saved: Option<f64>,
    /// All the tokens (prompt and completion) over the wall time.
    pub tokens_per_sec: f64,
    /// Requests made.
    pub attempts: u64,
    /// Dollars, when every model that answered has a price.
    pub cost: Option<f64>,
    /// Models without a price in the config.
    pub unpriced: Vec<String>,
    /// Whether every section came from the classic text (the offline provider,
    /// [`is_classic_text`]): no tokens, rate or cost to show.
    pub offline: bool,
    /// Whether some counts are estimates.
    pub estimated: bool,
}

/// One reading's figures.
#[derive(Debug, Clone, Serialize)]
pub struct ReadingStats {
    /// The reading.
    pub id: ReadingId,
    /// When it was cast (RFC 3339 with the local offset in JSON).
    pub created_at: Stamp,
    /// How it ended.
    pub status: ReadingStatus,
    /// How many sections it planned.
    pub sections_planned: u32,
    /// A row per stored section, in the order they finished.
    pub rows: Vec<Row>,
    /// Its totals.
    pub totals: Totals,
    /// The follow-up questions asked about it.
    pub followups: FollowupTotals,
}

/// What follow-up questions spent.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FollowupTotals {
    /// How many.
    pub count: usize,
    /// Prompt tokens.
    pub prompt_tokens: u64,
    /// Completion tokens.
    pub completion_tokens: u64,
    /// Prompt and completion tokens.
    pub total_tokens: u64,
    /// Of the prompt tokens, those served from the provider's cache.
    pub cached_tokens: u64,
    /// Mean time from the request to the end of its answer.
    pub avg_latency_ms: Option<f64>,
    /// Dollars, when every model that answered has a price (none for the offline text).
    pub cost: Option<f64>,
    /// Models without a price in the config.
    pub unpriced: Vec<String>,
    /// Whether some counts are estimates.
    pub estimated: bool,
    /// Whether every one was answered by the classic text ([`is_classic_text`]): no figures to
    /// show.
    pub classic: bool,
}

pub fn followup_totals<'a>(
    all: impl IntoIterator<Item = &'a FollowupFigures>,
    prices: &Prices,
) -> FollowupTotals {
    let mut t = FollowupTotals::default();
    let mut cost = 0.0;
    let mut unpriced = BTreeSet::new();
    let mut latency = 0.0;
    let mut classic = true;
    for f in all {
        t.count += 1;
        classic &= is_classic_text(&f.model);
        t.prompt_tokens += u64::from(f.usage.prompt_tokens);
        t.completion_tokens += u64::from(f.usage.completion_tokens);
        t.cached_tokens += u64::from(f.usage.cached_tokens);
        t.estimated |= f.usage.source == UsageSource::Estimated;
        latency += f.latency_ms as f64;
        match prices.cost(&f.model, &f.usage) {
            Some(c) => cost += c,
            None if is_classic_text(&f.model) => {}
            None => {
                unpriced.insert(f.model.clone());
            }
        }
    }
    t.total_tokens = t.prompt_tokens + t.completion_tokens;
    t.avg_latency_ms = (t.count > 0).then(|| latency / t.count as f64);
    t.classic = classic && t.count > 0;
    t.cost = unpriced.is_empty().then_some(cost);
    t.unpriced = unpriced.into_iter().collect();
    t
}

/// One section across every reading that has it.
#[derive(Debug, Clone, Serialize)]
pub struct SectionAverages {
    /// Its id (stable across versions).
    pub section_id: u8,
    /// Its title.
    pub section: String,
    /// How many readings ran it.
    pub runs: usize,
    /// How many of those failed.
    pub failed: usize,
    /// failed / runs.
    pub failure_rate: f64,
    /// Failures by kind (`timeout`: 2, ...); kinds older readings did not record are left out.
    pub failed_by_kind: BTreeMap<ErrorKind, usize>,
    /// Mean completion tokens of the complete ones a model answered (none for the classic text).
    pub avg_completion_tokens: Option<f64>,
    /// Mean latency of the complete ones.
    pub avg_latency_ms: Option<f64>,
}

/// One model's totals across readings.
#[derive(Debug, Clone, Serialize)]
pub struct ModelTotals {
    /// The model that answered.
    pub model: String,
    /// Readings.
    pub readings: usize,
    /// Sections.
    pub sections: usize,
    /// Its totals.
    pub totals: Totals,
}

/// Figures across every reading.
#[derive(Debug, Clone, Serialize)]
pub struct AllStats {
    /// Readings.
    pub readings: usize,
    /// Sections.
    pub sections: usize,
    /// Per section.
    pub by_section: Vec<SectionAverages>,
    /// Per model.
    pub by_model: Vec<ModelTotals>,
    /// Readings left out because their records failed the integrity check.
    pub skipped: Vec<Skipped>,
    /// The follow-up questions asked about them.
    pub followups: FollowupTotals,
}

/// A reading left out of the figures.
#[derive(Debug, Clone, Serialize)]
pub struct Skipped {
    /// The reading.
    pub id: ReadingId,
    /// Why.
    pub reason: String,
}

pub fn title(section_id: u8) -> String {
    Section::from_id(section_id).map_or_else(|| format!("section {section_id}"), Section::title)
}

/// The section ids a reading of these line values plans, in its order (empty for values no
/// cast has: then the stored sections are numbered among themselves).
pub fn planned_ids(lines: [u8; 6]) -> Vec<u8> {
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
pub fn rows(parts: &[SectionFigures], planned: &[u8], prices: &Prices) -> Vec<Row> {
    let mut stored: Vec<u8> = parts.iter().map(|m| m.section_id).collect();
    stored.sort_unstable();
    let number = |id: u8| {
        planned
            .iter()
            .position(|&p| p == id)
            .or_else(|| stored.iter().position(|&p| p == id))
            .map_or(0, |i| i + 1)
    };
    let mut sorted: Vec<&SectionFigures> = parts.iter().collect();
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
            latency_ms: m.latency_ms,
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
            cost: part_cost(m, prices),
            estimated: m.usage == Some(UsageSource::Estimated),
            classic: m.model.as_deref().is_some_and(is_classic_text),
        })
        .collect()
}

pub fn totals<'a>(parts: impl IntoIterator<Item = &'a SectionFigures>, prices: &Prices) -> Totals {
    let mut t = Totals::default();
    let mut cost = 0.0;
    let mut saved = 0.0;
    let mut unpriced = BTreeSet::new();
    // The classic text's when some section was answered and every answer was its own (a
    // reading whose sections all failed is nobody's).
    let mut offline = true;
    let mut answered = false;
    for m in parts {
        t.wall_ms = t.wall_ms.max(m.finished_ms);
        t.attempts += u64::from(m.attempts);
        if let Some(model) = m.model.as_deref() {
            answered = true;
            offline &= is_classic_text(model);
        }
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
        let free = is_classic_text(&model);
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
    t.offline = offline && answered;
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

pub fn across(parts: &[(ReadingId, SectionFigures)], prices: &Prices) -> AllStats {
    let mut by_section: BTreeMap<u8, Vec<&SectionFigures>> = BTreeMap::new();
    let mut by_model: BTreeMap<String, (BTreeSet<ReadingId>, Vec<&SectionFigures>)> =
        BTreeMap::new();
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
                let ok: Vec<&&SectionFigures> = ms
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
                    // The classic text spends no tokens: its sections are not averaged in.
                    avg_completion_tokens: mean(
                        ok.iter()
                            .filter(|m| !m.model.as_deref().is_some_and(is_classic_text))
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

impl ReadingStats {
    /// The figures of the reading `row` with its sections' and follow-ups' figures, priced
    /// with `prices`.
    pub fn of(
        row: &ReadingRow,
        parts: &[SectionFigures],
        followups: &[FollowupFigures],
        prices: &Prices,
    ) -> Self {
        ReadingStats {
            id: row.id,
            created_at: Stamp::at(row.created_at),
            status: row.status,
            sections_planned: row.sections_planned,
            rows: rows(parts, &planned_ids(row.lines), prices),
            totals: totals(parts, prices),
            followups: followup_totals(followups, prices),
        }
    }
}

impl Service {
    /// Reading `id`'s figures: a row per stored section (in the order they finished), the
    /// totals and its follow-ups', priced with the prices in use.
    pub async fn reading_stats(&self, id: ReadingId) -> Result<ReadingStats, ServiceError> {
        let prices = self.prices_checked()?;
        let figures = self.figures(id).await?;
        Ok(ReadingStats::of(
            &figures.row,
            &figures.parts,
            &figures.followups,
            &prices,
        ))
    }

    /// Figures across every reading: per section, per model, and the follow-ups'; readings
    /// whose records fail their check are left out and named.
    pub async fn all_stats(&self) -> Result<AllStats, ServiceError> {
        let prices = self.prices_checked()?;
        let all = self.all_figures().await?;
        let asked = self.all_followup_figures().await?;
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
        Ok(stats)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(section_id: u8, model: Option<&str>) -> SectionFigures {
        SectionFigures {
            section_id,
            status: if model.is_some() {
                SectionStatus::Complete
            } else {
                SectionStatus::Failed
            },
            attempts: 1,
            started_ms: Some(0),
            finished_ms: 40,
            latency_ms: 40,
            ttft_ms: None,
            prompt_tokens: model.map(|_| 0),
            completion_tokens: model.map(|_| 0),
            usage: model.map(|_| UsageSource::Reported),
            model: model.map(str::to_owned),
            updated_at: 0,
            reasoning_tokens: None,
            cached_tokens: None,
            failed_prompt_tokens: None,
            failed_completion_tokens: None,
            error_kind: None,
        }
    }

    #[test]
    fn a_reading_is_the_classic_texts_when_everything_that_answered_it_is() {
        let legge = Some(crate::llm::offline::MODEL);
        let prices = Prices::default();
        let offline = |parts: &[SectionFigures]| totals(parts, &prices).offline;
        assert!(offline(&[part(1, legge), part(2, legge)]));
        // Nothing answered (every section failed): nobody's text, so a model's table.
        assert!(!offline(&[part(1, None), part(2, None)]));
        assert!(!offline(&[part(1, legge), part(2, Some("gpt-4o-mini"))]));
        assert!(reading_is_classic("legge-1882", &[part(1, legge)], &[]));
        assert!(reading_is_classic("legge-1882", &[part(1, None)], &[]));
        assert!(!reading_is_classic("gpt-4o-mini", &[part(1, None)], &[]));
        assert!(!reading_is_classic(
            "legge-1882",
            &[part(1, legge), part(2, Some("gpt-4o-mini"))],
            &[]
        ));
        let rows = rows(&[part(1, legge), part(2, Some("m"))], &[1, 2], &prices);
        assert_eq!(
            rows.iter().map(|r| r.classic).collect::<Vec<_>>(),
            [true, false]
        );
    }
}
