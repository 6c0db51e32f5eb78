//! Saved runs: a reading whose sections are written to the store the moment each one finishes
//! or fails, so a crash loses only what was still in flight.
//!
//! [`cast_saved`] creates the reading (`running`, with this process's pid), runs every planned
//! section and settles the status. [`retry_saved`] rebuilds a stored reading from its method,
//! lines, seed and question and runs only the sections without a complete part. Both pass every
//! event on to the caller, a section's `Finished`/`Failed` only after its part is committed, and
//! write through the one [`Writer`]. [`saved_report`] turns a stored reading back into the report
//! `cast` and `show` print.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::value::RawValue;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::Engine;
use crate::answer::Paragraph;
use crate::events::{EventKind, SectionDone, SectionEvent, SectionFailure};
use crate::model::{Query, ReadingId};
use crate::oracle::{Cast, LineValue, Method, Reading};
use crate::orchestrator::RunSummary;
use crate::plan::{Section, plan};
use crate::report::{ReadingReport, ReadingStatus, SectionStatus, millis, rate};
use crate::store::{NewReading, PartText, ReadingRow, SectionFigures, Store, StoreError, Writer};
use crate::when::Stamp;

/// A run whose sections were saved as they finished.
#[derive(Debug, Clone)]
pub struct SavedRun {
    /// The reading's id in the store.
    pub id: ReadingId,
    /// What became of each section run this time.
    pub summary: RunSummary,
    /// The reading's status as stored afterwards.
    pub status: ReadingStatus,
}

/// Stores `reading` and its question, runs every planned section, saving each as it lands, and
/// settles the status. Events go to `events` as they happen (with the new id).
pub async fn cast_saved(
    engine: &Engine,
    writer: &Writer,
    reading: Arc<Reading>,
    query: Arc<Query>,
    events: mpsc::UnboundedSender<SectionEvent>,
    cancel: CancellationToken,
) -> Result<SavedRun, StoreError> {
    let id = create_saved(engine, writer, &reading, &query).await?;
    run_created(engine, writer, id, reading, query, events, cancel).await
}

/// The first half of [`cast_saved`]: stores `reading` and its question as a new `running`
/// reading and returns its id, for a caller that must know the id even if the run then fails.
pub async fn create_saved(
    engine: &Engine,
    writer: &Writer,
    reading: &Reading,
    query: &Query,
) -> Result<ReadingId, StoreError> {
    let planned = plan(reading);
    let info = engine.provider.info();
    let new = NewReading {
        question: query.question.clone(),
        context: query.context.clone(),
        method: reading.cast.method.as_str().to_owned(),
        lines: reading.values(),
        seed: reading.cast.seed,
        primary: reading.primary.number,
        resulting: reading.resulting.map(|h| h.number),
        sections_planned: u32::try_from(planned.len()).unwrap_or(u32::MAX),
        provider: info.name().to_owned(),
        model: info.model,
    };
    let id = writer.call(move |s| s.create_reading(&new)).await?;
    tracing::info!(
        reading = id.0,
        sections = planned.len(),
        provider = info.kind.name(),
        "reading started"
    );
    Ok(id)
}

/// The second half of [`cast_saved`]: runs every planned section of `reading`, just stored as
/// `id` by [`create_saved`], saving each as it lands, and settles the status.
pub async fn run_created(
    engine: &Engine,
    writer: &Writer,
    id: ReadingId,
    reading: Arc<Reading>,
    query: Arc<Query>,
    events: mpsc::UnboundedSender<SectionEvent>,
    cancel: CancellationToken,
) -> Result<SavedRun, StoreError> {
    let planned = plan(&reading);
    run_sections(
        engine, writer, id, reading, query, &planned, &planned, events, cancel,
    )
    .await
}

/// Re-runs the sections of stored reading `id` that are failed or missing, saving each as it
/// lands, and settles the status (`complete` once every planned section is).
pub async fn retry_saved(
    engine: &Engine,
    writer: &Writer,
    id: ReadingId,
    events: mpsc::UnboundedSender<SectionEvent>,
    cancel: CancellationToken,
) -> Result<SavedRun, StoreError> {
    // Everything is checked before the reading is marked running again.
    let (reading, query, stored) = writer
        .call(move |s| {
            let row = s.reading(id)?;
            let reading = stored_reading(&row)?;
            let query = s.query(id)?;
            let stored = s.part_statuses(id)?;
            s.begin_run(id)?;
            Ok((reading, query, stored))
        })
        .await?;
    let reading = Arc::new(reading);
    let planned = plan(&reading);
    let done: HashMap<u8, SectionStatus> = stored.into_iter().collect();
    let missing: Vec<Section> = planned
        .iter()
        .copied()
        .filter(|s| done.get(&s.id()) != Some(&SectionStatus::Complete))
        .collect();
    run_sections(
        engine,
        writer,
        id,
        reading,
        Arc::new(query),
        &missing,
        &planned,
        events,
        cancel,
    )
    .await
}

/// Runs `to_run` (a subset of `planned`) of reading `id`, saving each part as its event arrives.
#[allow(clippy::too_many_arguments)]
async fn run_sections(
    engine: &Engine,
    writer: &Writer,
    id: ReadingId,
    reading: Arc<Reading>,
    query: Arc<Query>,
    to_run: &[Section],
    planned: &[Section],
    events: mpsc::UnboundedSender<SectionEvent>,
    cancel: CancellationToken,
) -> Result<SavedRun, StoreError> {
    let requests = engine.requests(&reading, &query, to_run);
    let mut request_json: HashMap<Section, Arc<RawValue>> = requests
        .iter()
        .map(|r| (r.section, r.messages_json().clone()))
        .collect();
    // What every request begins with, kept once with the reading.
    let shared: Option<Arc<str>> = requests
        .first()
        .map(|r| Arc::from(r.shared_prefix()))
        .filter(|p: &Arc<str>| !p.is_empty());
    // This reading's own token: a failed write stops this reading, not the caller's others
    // (a batch shares its token across readings); the caller cancelling still reaches it.
    let cancel = cancel.child_token();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let clock = Instant::now();
    // A failed section is priced at the model that was asked.
    let model = engine.provider.info().model;
    let run = engine.run_requests(id, requests, tx, cancel.clone());
    let record = async {
        let mut started: HashMap<Section, Duration> = HashMap::new();
        let mut failure: Option<StoreError> = None;
        let mut batch = Vec::new();
        // Every event waiting is taken at once: the sections that finished together (or while
        // the last write committed) are saved in one write. Events before the first of them go
        // on at once; that one and everything after it wait for the write, so a section is never
        // shown as finished before it is kept, and the order is kept.
        while rx.recv_many(&mut batch, 64).await > 0 {
            let at = clock.elapsed();
            let mut parts = Vec::new();
            let mut first_end = None;
            for (i, event) in batch.iter().enumerate() {
                let (mut meta, mut text) = match &event.kind {
                    EventKind::Started => {
                        started.insert(event.section, at);
                        continue;
                    }
                    EventKind::Finished(done) => done_part(event.section, done),
                    EventKind::Failed(failure) => failed_part(event.section, failure, &model),
                    EventKind::Queued
                    | EventKind::Delta(_)
                    | EventKind::Retrying { .. }
                    | EventKind::Held(_) => {
                        continue;
                    }
                };
                first_end.get_or_insert(i);
                meta.started_ms = started.get(&event.section).map(|d| millis(*d));
                meta.finished_ms = millis(at);
                text.request = request_json
                    .remove(&event.section)
                    .map(|json| json.get().to_owned())
                    .unwrap_or_default();
                parts.push((meta, text));
            }
            let waiting = batch.split_off(first_end.unwrap_or(batch.len()));
            for event in batch.drain(..) {
                let _ = events.send(event);
            }
            if !parts.is_empty() && failure.is_none() {
                let shared = shared.clone();
                let save = move |s: &Store| {
                    let rows: Vec<_> = parts.iter().map(|(m, t)| (m, t)).collect();
                    s.save_parts_sharing(id, shared.as_deref(), &rows)
                };
                if let Err(e) = writer.call(save).await {
                    // Nothing more can be kept: stop spending requests on it.
                    cancel.cancel();
                    failure = Some(e);
                }
            }
            for event in waiting {
                // A section that could not be kept is not shown as finished.
                let event = match (&failure, event.kind) {
                    (Some(e), EventKind::Finished(done)) => SectionEvent {
                        kind: EventKind::Failed(Box::new(SectionFailure {
                            error: format!("{}: not saved: {e}", event.section.title()),
                            latency: done.latency,
                            attempts: done.attempts,
                            kind: crate::llm::ErrorKind::Internal,
                            usage: Some(done.usage),
                        })),
                        ..event
                    },
                    (_, kind) => SectionEvent { kind, ..event },
                };
                let _ = events.send(event);
            }
        }
        failure
    };
    let (summary, failure) = tokio::join!(run, record);
    let cancelled = !summary.cancelled().is_empty() || failure.is_some();
    let ids: Vec<u8> = planned.iter().map(|s| s.id()).collect();
    let settled = writer.call(move |s| s.finish(id, &ids, cancelled)).await;
    if let Ok(status) = &settled {
        tracing::info!(reading = id.0, status = status.as_str(), "reading settled");
    }
    if let Some(e) = failure {
        return Err(e);
    }
    Ok(SavedRun {
        id,
        summary,
        status: settled?,
    })
}

fn done_part(section: Section, done: &SectionDone) -> (SectionFigures, PartText) {
    let meta = SectionFigures {
        section_id: section.id(),
        status: SectionStatus::Complete,
        attempts: done.attempts,
        started_ms: None,
        finished_ms: 0,
        latency_ms: millis(done.latency),
        ttft_ms: done.ttft.map(millis),
        prompt_tokens: Some(done.usage.prompt_tokens),
        completion_tokens: Some(done.usage.completion_tokens),
        usage: Some(done.usage.source),
        model: Some(done.model.clone()),
        updated_at: 0,
        reasoning_tokens: Some(done.usage.reasoning_tokens),
        cached_tokens: Some(done.usage.cached_tokens),
        failed_prompt_tokens: done.failed_usage.map(|u| u.prompt_tokens),
        failed_completion_tokens: done.failed_usage.map(|u| u.completion_tokens),
        error_kind: None,
    };
    let text = PartText {
        request: String::new(),
        response: Some(done.raw.clone()),
        paragraphs: Some(serde_json::to_string(&done.paragraphs).unwrap_or_default()),
        error: None,
    };
    (meta, text)
}

fn failed_part(
    section: Section,
    failure: &SectionFailure,
    model: &str,
) -> (SectionFigures, PartText) {
    let meta = SectionFigures {
        section_id: section.id(),
        status: SectionStatus::Failed,
        attempts: failure.attempts,
        started_ms: None,
        finished_ms: 0,
        latency_ms: millis(failure.latency),
        ttft_ms: None,
        prompt_tokens: None,
        completion_tokens: None,
        usage: failure.usage.map(|u| u.source),
        model: failure.usage.map(|_| model.to_owned()),
        updated_at: 0,
        reasoning_tokens: None,
        cached_tokens: None,
        failed_prompt_tokens: failure.usage.map(|u| u.prompt_tokens),
        failed_completion_tokens: failure.usage.map(|u| u.completion_tokens),
        error_kind: Some(failure.kind),
    };
    let text = PartText {
        error: Some(failure.error.clone()),
        ..PartText::default()
    };
    (meta, text)
}

/// The reading a stored row describes: the cast is repeated from its seed when that gives the
/// stored lines, else taken as the stored lines. Hexagram numbers that disagree with the lines
/// mean the row was changed.
pub fn stored_reading(row: &ReadingRow) -> Result<Reading, StoreError> {
    let bad = |field: &str| StoreError::BadRow {
        id: row.id,
        field: field.to_owned(),
    };
    let method: Method = row.method.parse().map_err(|_| bad("method"))?;
    let mut lines = [LineValue::new(7).ok_or_else(|| bad("lines"))?; 6];
    for (slot, &v) in lines.iter_mut().zip(&row.lines) {
        *slot = LineValue::new(v).ok_or_else(|| bad("lines"))?;
    }
    let recast = match (method, row.seed) {
        (Method::Coins | Method::Yarrow, Some(seed)) => {
            Cast::random(method, seed).ok().filter(|c| c.lines == lines)
        }
        _ => None,
    };
    let cast = recast.unwrap_or_else(|| Cast {
        method,
        seed: row.seed,
        ..Cast::manual(lines)
    });
    let reading = Reading::new(cast);
    if reading.primary.number != row.primary || reading.resulting.map(|h| h.number) != row.resulting
    {
        return Err(bad("hexagram number"));
    }
    Ok(reading)
}

/// Stored reading `id` as the report `cast --format json` and `show --format json` print.
pub fn saved_report(store: &Store, id: ReadingId) -> Result<ReadingReport, StoreError> {
    let row = store.reading(id)?;
    let query = store.query(id)?;
    let parts = store.parts(id)?;
    let reading = stored_reading(&row)?;
    let mut report = ReadingReport::new(&reading, &query.question, &plan(&reading));
    report.context = query.context;
    report.notes = store
        .notes(id)?
        .into_iter()
        .map(|n| crate::report::NoteReport {
            number: n.number,
            at: Stamp::at(n.created_at),
            kind: n.kind,
            text: n.text,
        })
        .collect();
    report.followups = store
        .followups(id)?
        .into_iter()
        .enumerate()
        .map(|(i, f)| crate::report::FollowupReport::numbered(f, i + 1))
        .collect();
    report.id = Some(id);
    report.created_at = Some(Stamp::at(row.created_at));
    report.status = row.status;
    for part in parts {
        let m = part.meta;
        let Some(s) = report.sections.iter_mut().find(|s| s.id == m.section_id) else {
            continue;
        };
        s.status = m.status;
        s.latency_ms = Some(m.latency_ms);
        s.attempts = m.attempts;
        s.error = part.text.error;
        s.error_kind = m.error_kind;
        s.failed_usage = m.failed_usage();
        s.failed_tokens = s.failed_usage.map(|u| u.total());
        if s.failed_tokens.is_some() {
            s.model.clone_from(&m.model);
        }
        if m.status == SectionStatus::Complete {
            s.reasoning_tokens = m.reasoning_tokens;
            s.cached_tokens = m.cached_tokens;
            s.ttft_ms = m.ttft_ms;
            s.prompt_tokens = m.prompt_tokens;
            s.completion_tokens = m.completion_tokens;
            s.total_tokens = m.total_tokens();
            s.tokens_per_sec = m.completion_tokens.map(|c| rate(c, m.latency_ms));
            s.usage = m.usage;
            s.model = m.model;
            let json = part.text.paragraphs.unwrap_or_default();
            s.paragraphs =
                serde_json::from_str::<Vec<Paragraph>>(&json).map_err(|_| StoreError::BadRow {
                    id,
                    field: format!("text of section {}", m.section_id),
                })?;
        }
    }
    if row.status == ReadingStatus::Cancelled {
        for s in &mut report.sections {
            if s.status == SectionStatus::Pending {
                s.status = SectionStatus::Cancelled;
            }
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests;
