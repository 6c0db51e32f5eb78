//! The saved flow against a real store in a temporary directory, with scripted providers.

use crate::model::Query;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Semaphore, mpsc};
use tokio_util::sync::CancellationToken;

use super::*;
use crate::events::{Progress, Usage, UsageSource};
use crate::llm::{
    BoxFuture, Completion, ErrorKind, Offline, Provider, ProviderError, ProviderInfo,
    SectionRequest,
};
use crate::model::ReadingId;
use crate::orchestrator::Slots;
use crate::plan::Prompts;
use crate::store::{Store, Unlock, WriterThread};

/// Answers every section, except those in `fail`; sections other than `free` wait for `gate`;
/// every section of the reading asking `hold`'s question first waits for its semaphore.
#[derive(Default)]
struct Script {
    fail: Mutex<HashSet<u8>>,
    calls: AtomicUsize,
    seen: Mutex<Vec<u8>>,
    /// Each request's messages as sent, by section, the latest last.
    sent: Mutex<Vec<(u8, String)>>,
    gate: Option<(u8, Arc<Semaphore>)>,
    hold: Option<(&'static str, Arc<Semaphore>)>,
}

impl Provider for Script {
    fn info(&self) -> ProviderInfo {
        ProviderInfo {
            kind: crate::llm::ProviderKind::OpenAi,
            model: "scripted-1".into(),
            endpoint: String::new(),
        }
    }

    fn complete<'a>(
        &'a self,
        request: &'a SectionRequest,
        _progress: &'a Progress,
    ) -> BoxFuture<'a, Result<Completion, ProviderError>> {
        Box::pin(async move {
            let id = request.section.id();
            self.calls.fetch_add(1, Ordering::SeqCst);
            self.seen.lock().unwrap().push(id);
            self.sent
                .lock()
                .unwrap()
                .push((id, request.messages_json().get().to_owned()));
            if let Some((question, hold)) = &self.hold
                && **question == *request.query.question
            {
                // Shared, not spent: once opened, every held section goes on.
                drop(hold.acquire().await.unwrap());
            }
            if let Some((free, gate)) = &self.gate
                && *free != id
            {
                gate.acquire().await.unwrap().forget();
            }
            if self.fail.lock().unwrap().contains(&id) {
                return Err(ProviderError::new(ErrorKind::ServerError, "503 scripted"));
            }
            let text = format!("{{\"response\": [\"<p>Section <b>{id}</b> speaks.</p>\"]}}");
            Ok(Completion {
                paragraphs: crate::answer::parse_response(&text),
                text,
                usage: Usage {
                    prompt_tokens: 100,
                    completion_tokens: 20,
                    reasoning_tokens: 0,
                    cached_tokens: 0,
                    source: UsageSource::Reported,
                },
                model: "scripted-1".into(),
                ttft: Some(Duration::from_millis(5)),
                attempts: 1,
                failed_usage: None,
                queued: std::time::Duration::ZERO,
            })
        })
    }
}

fn engine(provider: Arc<dyn Provider>) -> Engine {
    Engine {
        provider,
        prompts: Prompts::default(),
        slots: Slots::Unlimited,
        max_tokens: 100,
        deltas: true,
        warm_cache: false,
        language: None,
    }
}

/// Hexagram 55 changing at lines 1 and 5 into 31: ten sections.
fn reading() -> Arc<Reading> {
    let lines = Cast::parse_lines("9,8,7,7,6,8").unwrap();
    Arc::new(Reading::new(Cast::manual(lines)))
}

fn open(dir: &std::path::Path) -> (Writer, WriterThread) {
    Store::open(dir, Unlock::default())
        .unwrap()
        .into_writer()
        .unwrap()
}

async fn report(writer: &Writer, id: ReadingId) -> ReadingReport {
    writer.call(move |s| saved_report(s, id)).await.unwrap()
}

#[tokio::test]
async fn a_cast_is_saved_section_by_section_and_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    let (writer, _thread) = open(dir.path());
    let (tx, mut rx) = mpsc::unbounded_channel();
    let offline = engine(Arc::new(Offline));
    let run = cast_saved(
        &offline,
        &writer,
        reading(),
        Arc::new(Query::new("Should I move to the coast?")),
        tx,
        CancellationToken::new(),
    );
    let watch = async {
        let mut finished = 0;
        while let Some(event) = rx.recv().await {
            if let EventKind::Finished(_) = event.kind {
                // The part is committed before its event is passed on.
                let (id, section) = (event.reading.unwrap(), event.section.id());
                let stored = writer.call(move |s| s.part_statuses(id)).await.unwrap();
                assert!(stored.contains(&(section, SectionStatus::Complete)));
                finished += 1;
            }
        }
        finished
    };
    let (saved, finished) = tokio::join!(run, watch);
    let saved = saved.unwrap();
    assert_eq!(finished, 10);
    assert_eq!(saved.status, ReadingStatus::Complete);

    let id = saved.id;
    let r = report(&writer, id).await;
    assert_eq!(r.id, Some(id));
    assert_eq!(r.question, "Should I move to the coast?");
    assert_eq!(
        (r.primary.number, r.resulting.as_ref().unwrap().number),
        (55, 31)
    );
    assert_eq!(r.status, ReadingStatus::Complete);
    assert_eq!(r.sections.len(), 10);
    for s in &r.sections {
        assert_eq!(s.status, SectionStatus::Complete);
        assert_eq!(s.model.as_deref(), Some("legge-1882"));
        assert!(!s.paragraphs.is_empty());
        // The classic text spends no tokens, and says so: nothing is estimated.
        assert_eq!(s.total_tokens, Some(0));
        assert_eq!(s.usage, Some(crate::events::UsageSource::Reported));
    }
    let parts = writer.call(move |s| s.parts(id)).await.unwrap();
    assert_eq!(parts.len(), 10);
    assert!(parts[0].text.request.contains("\"role\":\"system\""));
    assert!(
        parts[0]
            .text
            .response
            .as_deref()
            .unwrap()
            .contains("response")
    );
    assert!(
        parts
            .iter()
            .all(|p| p.meta.finished_ms >= p.meta.started_ms.unwrap())
    );
    let row = writer.call(move |s| s.reading(id)).await.unwrap();
    assert_eq!(
        (row.provider.as_str(), row.model.as_str()),
        ("offline", "legge-1882")
    );
}

#[tokio::test]
async fn retry_runs_only_what_failed_and_completes_the_reading() {
    let dir = tempfile::tempdir().unwrap();
    let (writer, _thread) = open(dir.path());
    let script = Arc::new(Script::default());
    script.fail.lock().unwrap().extend([4, 14]);
    let engine = engine(script.clone());
    let (tx, _rx) = mpsc::unbounded_channel();
    let saved = cast_saved(
        &engine,
        &writer,
        reading(),
        Arc::new(Query::new("Q?")),
        tx,
        CancellationToken::new(),
    )
    .await
    .unwrap();
    assert_eq!(saved.status, ReadingStatus::Partial);
    assert_eq!(saved.summary.failed().len(), 2);
    let r = report(&writer, saved.id).await;
    let failed: Vec<u8> = r
        .sections
        .iter()
        .filter(|s| s.status == SectionStatus::Failed)
        .map(|s| s.id)
        .collect();
    assert_eq!(failed, [4, 14]);
    assert!(
        r.sections[3]
            .error
            .as_deref()
            .unwrap()
            .contains("503 scripted")
    );

    // Still failing: the same two are asked again, nothing else.
    script.seen.lock().unwrap().clear();
    let (tx, _rx) = mpsc::unbounded_channel();
    let again = retry_saved(&engine, &writer, saved.id, tx, CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(again.status, ReadingStatus::Partial);
    assert_eq!(sorted(&script.seen), [4, 14]);

    script.fail.lock().unwrap().clear();
    script.seen.lock().unwrap().clear();
    let (tx, _rx) = mpsc::unbounded_channel();
    let done = retry_saved(&engine, &writer, saved.id, tx, CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(done.status, ReadingStatus::Complete);
    assert_eq!(sorted(&script.seen), [4, 14]);
    let id = saved.id;
    assert_eq!(writer.call(move |s| s.parts(id)).await.unwrap().len(), 10);
    let r = report(&writer, saved.id).await;
    assert!(
        r.sections
            .iter()
            .all(|s| s.status == SectionStatus::Complete)
    );
    assert!(r.sections[3].error.is_none());

    // Nothing left to do: no requests, still complete.
    script.seen.lock().unwrap().clear();
    let (tx, _rx) = mpsc::unbounded_channel();
    let noop = retry_saved(&engine, &writer, saved.id, tx, CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(noop.status, ReadingStatus::Complete);
    assert!(script.seen.lock().unwrap().is_empty());
    let (tx, _rx) = mpsc::unbounded_channel();
    let missing = retry_saved(
        &engine,
        &writer,
        ReadingId(999),
        tx,
        CancellationToken::new(),
    )
    .await;
    assert_eq!(missing.unwrap_err(), StoreError::NotFound(ReadingId(999)));
}

#[tokio::test]
async fn every_stored_request_is_byte_for_byte_what_was_sent_and_shares_one_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let (writer, _thread) = open(dir.path());
    let script = Arc::new(Script::default());
    script.fail.lock().unwrap().extend([4, 14]);
    let mut engine = engine(script.clone());
    engine.language = Some("Spanish".into());
    let (tx, _rx) = mpsc::unbounded_channel();
    let saved = cast_saved(
        &engine,
        &writer,
        reading(),
        Arc::new(Query::with_context(
            "Shall I \"go\"?\n\tÑandú 🐉",
            Some("A move; \u{7f} and \\ in it".into()),
        )),
        tx,
        CancellationToken::new(),
    )
    .await
    .unwrap();
    // The two failed sections asked again, now answered.
    script.fail.lock().unwrap().clear();
    let (tx, _rx) = mpsc::unbounded_channel();
    retry_saved(&engine, &writer, saved.id, tx, CancellationToken::new())
        .await
        .unwrap();
    let id = saved.id;
    let parts = writer.call(move |s| s.parts(id)).await.unwrap();
    assert_eq!(parts.len(), 10);
    let sent: HashMap<u8, String> = script.sent.lock().unwrap().iter().cloned().collect();
    for p in &parts {
        assert_eq!(
            p.text.request, sent[&p.meta.section_id],
            "section {}",
            p.meta.section_id
        );
    }
    // Kept once: every request begins with the reading's prefix, which holds the question and
    // the system prompt and is most of each request.
    let prefix = writer
        .call(move |s| s.request_prefix(id))
        .await
        .unwrap()
        .unwrap();
    assert!(prefix.contains(r#"{"role":"system","content":"#));
    assert!(prefix.contains("Ñandú"));
    for p in &parts {
        assert!(p.text.request.starts_with(&prefix));
        assert!(p.text.request.len() < prefix.len() * 2);
    }
}

fn sorted(seen: &Mutex<Vec<u8>>) -> Vec<u8> {
    let mut v = seen.lock().unwrap().clone();
    v.sort_unstable();
    v
}

#[tokio::test]
async fn a_cancelled_cast_keeps_what_finished_and_retry_completes_it() {
    let dir = tempfile::tempdir().unwrap();
    let (writer, _thread) = open(dir.path());
    let gate = Arc::new(Semaphore::new(0));
    let script = Arc::new(Script {
        gate: Some((1, gate.clone())),
        ..Script::default()
    });
    let cancel = CancellationToken::new();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let engine_ = engine(script.clone());
    let run = cast_saved(
        &engine_,
        &writer,
        reading(),
        Arc::new(Query::new("Q")),
        tx,
        cancel.clone(),
    );
    let stop = async {
        while let Some(event) = rx.recv().await {
            if matches!(event.kind, EventKind::Finished(_)) {
                cancel.cancel();
            }
        }
    };
    let (saved, ()) = tokio::join!(run, stop);
    let saved = saved.unwrap();
    assert_eq!(saved.status, ReadingStatus::Cancelled);
    let r = report(&writer, saved.id).await;
    assert_eq!(r.sections_done(), 1);
    assert_eq!(r.sections[1].status, SectionStatus::Cancelled);

    gate.add_permits(100);
    let (tx, _rx) = mpsc::unbounded_channel();
    let done = retry_saved(&engine_, &writer, saved.id, tx, CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(done.status, ReadingStatus::Complete);
    assert_eq!(done.summary.outcomes.len(), 9, "only the nine missing ran");
}

#[tokio::test]
async fn a_failed_write_stops_the_run_and_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let (writer, _thread) = open(dir.path());
    let gate = Arc::new(Semaphore::new(0));
    let script = Arc::new(Script {
        gate: Some((1, gate.clone())),
        ..Script::default()
    });
    let (tx, mut rx) = mpsc::unbounded_channel();
    let engine_ = engine(script.clone());
    let run = cast_saved(
        &engine_,
        &writer,
        reading(),
        Arc::new(Query::new("Q")),
        tx,
        CancellationToken::new(),
    );
    let sabotage = async {
        let mut once = true;
        while let Some(event) = rx.recv().await {
            if matches!(event.kind, EventKind::Finished(_)) && std::mem::take(&mut once) {
                // The reading disappears under the run: the next save cannot land.
                let id = event.reading.unwrap();
                writer.call(move |s| s.force_delete(id)).await.unwrap();
                gate.add_permits(100);
            }
        }
    };
    let (saved, ()) = tokio::join!(run, sabotage);
    assert!(matches!(saved, Err(StoreError::NotFound(_))), "{saved:?}");
}

#[test]
fn a_stored_row_rebuilds_its_reading() {
    let seeded = Cast::random(Method::Yarrow, 11).unwrap();
    let expected = Reading::new(seeded.clone());
    let row = ReadingRow {
        id: ReadingId(3),
        created_at: 0,
        updated_at: 0,
        status: ReadingStatus::Complete,
        method: "yarrow".into(),
        lines: expected.values(),
        seed: Some(11),
        primary: expected.primary.number,
        resulting: expected.resulting.map(|h| h.number),
        sections_planned: 6,
        sections_done: 6,
        sections_failed: 0,
        total_tokens: 0,
        provider: "offline".into(),
        model: "m".into(),
    };
    let rebuilt = stored_reading(&row).unwrap();
    assert_eq!(
        rebuilt.cast, seeded,
        "the seed repeats the cast, stalks and all"
    );
    let bad = ReadingRow {
        primary: expected.primary.number % 64 + 1,
        ..row.clone()
    };
    assert!(matches!(
        stored_reading(&bad),
        Err(StoreError::BadRow { .. })
    ));
    let bad = ReadingRow {
        method: "dice".into(),
        ..row
    };
    assert!(matches!(
        stored_reading(&bad),
        Err(StoreError::BadRow { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_reading_whose_store_failed_is_reported_as_unsaved_not_as_never_started() {
    use crate::generate::{BatchEvent, BatchJob, JobOutcome, run_batch};
    let dir = tempfile::tempdir().unwrap();
    let (writer, _thread) = open(dir.path());
    // Reading 1: section 1 answers, the rest wait for `gate`. Reading 2: everything waits for
    // `hold`, opened only once reading 1's failure is reported, so it is surely still running.
    let gate = Arc::new(Semaphore::new(0));
    let hold = Arc::new(Semaphore::new(0));
    let script = Arc::new(Script {
        gate: Some((1, gate.clone())),
        hold: Some(("Question 2", hold.clone())),
        ..Script::default()
    });
    let engine_ = engine(script);
    let job = |line| BatchJob {
        line,
        question: format!("Question {line}"),
        context: None,
        cast: reading().cast.clone(),
    };
    let (events_tx, mut events) = mpsc::unbounded_channel();
    let (sections_tx, mut sections) = mpsc::unbounded_channel();
    let run = run_batch(
        &engine_,
        &writer,
        vec![job(1), job(2)],
        2,
        events_tx,
        sections_tx,
        CancellationToken::new(),
    );
    let sabotage = async {
        let mut deleted = None;
        let mut store_failures = Vec::new();
        loop {
            tokio::select! {
                Some(event) = sections.recv() => {
                    if matches!(event.kind, EventKind::Finished(_)) && deleted.is_none() {
                        // Section 1 of reading 1 is in; the reading disappears before the rest.
                        let id = event.reading.unwrap();
                        writer.call(move |s| s.force_delete(id)).await.unwrap();
                        deleted = Some(id);
                        gate.add_permits(100);
                    }
                }
                Some(event) = events.recv() => {
                    if let BatchEvent::StoreFailed { index, error } = event {
                        store_failures.push((index, error));
                        hold.add_permits(1);
                    }
                }
                else => break,
            }
        }
        (deleted.unwrap(), store_failures)
    };
    let (outcomes, (deleted, store_failures)) = tokio::join!(run, sabotage);
    assert_eq!(store_failures.len(), 1, "{store_failures:?}");
    let (failed, error) = &store_failures[0];
    assert_eq!(error, &StoreError::NotFound(deleted).to_string());
    // Its id is known (the row was created); the other reading was not stopped by it.
    assert_eq!(
        outcomes[*failed],
        JobOutcome {
            id: Some(deleted),
            status: None,
            unsaved: true
        }
    );
    let other = &outcomes[1 - failed];
    assert!(!other.unsaved);
    assert_eq!(other.status, Some(ReadingStatus::Complete));
    assert_ne!(other.id, Some(deleted));
}
