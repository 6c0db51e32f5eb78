use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use super::*;
use crate::events::{Usage, UsageSource};
use crate::llm::{BoxFuture, Completion, ProviderInfo};
use crate::model::ReadingId;
use crate::oracle::{Cast, LineValue, Reading};
use crate::plan::{Prompts, build_messages, plan};

/// A provider that answers after `delay` of (virtual) time, fails or panics on chosen sections,
/// and counts how many requests are in flight.
struct Scripted {
    delay: Duration,
    fail: Option<Section>,
    panic: Option<Section>,
    in_flight: AtomicUsize,
    peak: AtomicUsize,
}

impl Scripted {
    fn new(delay: Duration) -> Self {
        Self {
            delay,
            fail: None,
            panic: None,
            in_flight: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
        }
    }
}

impl Provider for Scripted {
    fn info(&self) -> ProviderInfo {
        ProviderInfo {
            kind: crate::llm::ProviderKind::Offline,
            model: "scripted".into(),
            endpoint: String::new(),
        }
    }

    fn complete<'a>(
        &'a self,
        request: &'a SectionRequest,
        progress: &'a Progress,
    ) -> BoxFuture<'a, Result<Completion, ProviderError>> {
        Box::pin(async move {
            let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            self.peak.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(self.delay).await;
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            assert!(self.panic != Some(request.section), "scripted panic");
            if self.fail == Some(request.section) {
                return Err(ProviderError::new(
                    ErrorKind::ServerError,
                    "503 from the script",
                ));
            }
            progress.delta("{\"response\": [\"<p>ok");
            let text = r#"{"response": ["<p>ok</p>"]}"#;
            Ok(Completion {
                text: text.into(),
                paragraphs: crate::answer::parse_response(text),
                usage: Usage {
                    prompt_tokens: 10,
                    completion_tokens: 5,
                    reasoning_tokens: 0,
                    cached_tokens: 0,
                    source: UsageSource::Estimated,
                },
                model: "scripted".into(),
                ttft: Some(self.delay),
                attempts: 1,
                failed_usage: None,
                queued: std::time::Duration::ZERO,
            })
        })
    }
}

/// The 15 requests of a reading in which all six lines change.
fn fifteen() -> Vec<SectionRequest> {
    let reading = Arc::new(Reading::new(Cast::manual([LineValue::new(9).unwrap(); 6])));
    let prompts = Prompts::default();
    plan(&reading)
        .into_iter()
        .map(|section| {
            let query = Arc::new(crate::model::Query::new("Q"));
            let messages = build_messages(&prompts, &reading, &query, section);
            SectionRequest::new(reading.clone(), query, section, messages, 100)
        })
        .collect()
}

async fn run_with(
    provider: Arc<Scripted>,
    slots: Slots,
) -> (RunSummary, Duration, Vec<SectionEvent>) {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let start = Instant::now();
    let summary = run(
        provider,
        Some(ReadingId(7)),
        fifteen(),
        slots,
        tx,
        CancellationToken::new(),
        Flow::default(),
    )
    .await;
    let elapsed = start.elapsed();
    let mut events = Vec::new();
    while let Ok(e) = rx.try_recv() {
        events.push(e);
    }
    (summary, elapsed, events)
}

#[tokio::test(start_paused = true)]
async fn fifteen_sections_of_three_seconds_take_three_seconds() {
    let provider = Arc::new(Scripted::new(Duration::from_secs(3)));
    let (summary, elapsed, events) = run_with(provider.clone(), Slots::Unlimited).await;
    assert_eq!(summary.outcomes.len(), 15);
    assert_eq!(summary.succeeded().len(), 15);
    assert_eq!(elapsed, Duration::from_secs(3));
    assert_eq!(provider.peak.load(Ordering::SeqCst), 15);
    // Every section: queued, started, a delta, finished — all tagged with the reading id.
    for section in summary.succeeded() {
        let kinds: Vec<&EventKind> = events
            .iter()
            .filter(|e| e.section == section && e.reading == Some(ReadingId(7)))
            .map(|e| &e.kind)
            .collect();
        assert!(
            matches!(
                kinds[..],
                [
                    EventKind::Queued,
                    EventKind::Started,
                    EventKind::Delta(_),
                    EventKind::Finished(_)
                ]
            ),
            "{section}: {kinds:?}"
        );
        if let EventKind::Finished(done) = kinds[3] {
            assert_eq!(done.latency, Duration::from_secs(3));
            assert_eq!(done.paragraphs.len(), 1);
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_cap_of_four_takes_ceil_15_over_4_rounds() {
    let provider = Arc::new(Scripted::new(Duration::from_secs(3)));
    let (summary, elapsed, _) = run_with(provider.clone(), Slots::Cap(4)).await;
    assert_eq!(summary.succeeded().len(), 15);
    assert_eq!(elapsed, Duration::from_secs(15_u64.div_ceil(4) * 3));
    assert_eq!(provider.peak.load(Ordering::SeqCst), 4);
}

#[tokio::test(start_paused = true)]
async fn a_shared_semaphore_caps_the_run() {
    let provider = Arc::new(Scripted::new(Duration::from_secs(1)));
    let shared = Arc::new(Semaphore::new(5));
    let (summary, elapsed, _) = run_with(provider.clone(), Slots::Shared(shared.clone())).await;
    assert_eq!(summary.succeeded().len(), 15);
    assert_eq!(elapsed, Duration::from_secs(3));
    assert_eq!(provider.peak.load(Ordering::SeqCst), 5);
    assert_eq!(shared.available_permits(), 5, "permits are returned");
}

#[tokio::test(start_paused = true)]
async fn one_failing_section_leaves_the_other_fourteen_complete() {
    let mut scripted = Scripted::new(Duration::from_secs(3));
    scripted.fail = Some(Section::ChangingLine(3));
    let (summary, elapsed, events) = run_with(Arc::new(scripted), Slots::Unlimited).await;
    assert_eq!(elapsed, Duration::from_secs(3));
    assert_eq!(summary.succeeded().len(), 14);
    let failed = summary.failed();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].0, Section::ChangingLine(3));
    // The provider's words alone: the section is named by the event, not glued to its text.
    assert!(
        !failed[0].1.contains("Changing line 3") && failed[0].1.contains("503"),
        "{}",
        failed[0].1
    );
    assert!(
        events.iter().any(
            |e| e.section == Section::ChangingLine(3) && matches!(e.kind, EventKind::Failed(_))
        )
    );
}

#[tokio::test(start_paused = true)]
async fn a_panicking_section_is_a_failure_of_that_section_alone() {
    let mut scripted = Scripted::new(Duration::from_secs(1));
    scripted.panic = Some(Section::SynthesisAndGuidance);
    let (summary, _, events) = run_with(Arc::new(scripted), Slots::Unlimited).await;
    assert_eq!(summary.succeeded().len(), 14);
    let failed = summary.failed();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].0, Section::SynthesisAndGuidance);
    assert!(failed[0].1.contains("panicked"));
    assert!(
        events
            .iter()
            .any(|e| e.section == Section::SynthesisAndGuidance
                && matches!(e.kind, EventKind::Failed(_)))
    );
}

#[tokio::test(start_paused = true)]
async fn cancellation_stops_waiting_and_running_sections() {
    let provider = Arc::new(Scripted::new(Duration::from_secs(10)));
    let (tx, _rx) = mpsc::unbounded_channel();
    let cancel = CancellationToken::new();
    let stopper = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(2)).await;
        stopper.cancel();
    });
    let start = Instant::now();
    let summary = run(
        provider,
        None,
        fifteen(),
        Slots::Cap(4),
        tx,
        cancel,
        Flow::default(),
    )
    .await;
    assert_eq!(start.elapsed(), Duration::from_secs(2));
    assert_eq!(summary.cancelled().len(), 15);
    assert!(summary.succeeded().is_empty() && summary.failed().is_empty());
}

#[tokio::test(start_paused = true)]
async fn an_answer_with_no_readable_text_fails_the_section() {
    struct Empty;
    impl Provider for Empty {
        fn info(&self) -> ProviderInfo {
            ProviderInfo {
                kind: crate::llm::ProviderKind::Offline,
                model: "empty".into(),
                endpoint: String::new(),
            }
        }
        fn complete<'a>(
            &'a self,
            _: &'a SectionRequest,
            _: &'a Progress,
        ) -> BoxFuture<'a, Result<Completion, ProviderError>> {
            Box::pin(async {
                let text = "\u{1b}[2J  <p></p>";
                Ok(Completion {
                    text: text.into(),
                    // What a provider that did not check the answer would pass on.
                    paragraphs: crate::answer::parse_response(text),
                    usage: Usage {
                        prompt_tokens: 1,
                        completion_tokens: 1,
                        reasoning_tokens: 0,
                        cached_tokens: 0,
                        source: UsageSource::Reported,
                    },
                    model: "empty".into(),
                    ttft: None,
                    attempts: 1,
                    failed_usage: None,
                    queued: std::time::Duration::ZERO,
                })
            })
        }
    }
    let (tx, _rx) = mpsc::unbounded_channel();
    let summary = run(
        Arc::new(Empty),
        None,
        fifteen(),
        Slots::Unlimited,
        tx,
        CancellationToken::new(),
        Flow::default(),
    )
    .await;
    assert_eq!(summary.failed().len(), 15);
    assert!(summary.failed()[0].1.contains("no readable text"));
}

#[tokio::test(start_paused = true)]
async fn without_deltas_no_text_events_are_sent() {
    let provider = Arc::new(Scripted::new(Duration::from_secs(1)));
    let (tx, mut rx) = mpsc::unbounded_channel();
    let flow = Flow {
        deltas: false,
        warm_cache: false,
    };
    let summary = crate::orchestrator::run(
        provider,
        None,
        fifteen(),
        Slots::Unlimited,
        tx,
        CancellationToken::new(),
        flow,
    )
    .await;
    assert_eq!(summary.succeeded().len(), 15);
    let mut kinds = Vec::new();
    while let Ok(e) = rx.try_recv() {
        kinds.push(e.kind);
    }
    assert!(!kinds.iter().any(|k| matches!(k, EventKind::Delta(_))));
    assert_eq!(
        kinds
            .iter()
            .filter(|k| matches!(k, EventKind::Finished(_)))
            .count(),
        15
    );
}

#[tokio::test(start_paused = true)]
async fn warming_the_cache_sends_one_section_first_and_the_rest_at_its_first_text() {
    for (warm_cache, wall, peak) in [(true, 2, 14), (false, 1, 15)] {
        let provider = Arc::new(Scripted::new(Duration::from_secs(1)));
        let (tx, mut rx) = mpsc::unbounded_channel();
        let start = Instant::now();
        let flow = Flow {
            deltas: true,
            warm_cache,
        };
        let summary = crate::orchestrator::run(
            provider.clone(),
            None,
            fifteen(),
            Slots::Unlimited,
            tx,
            CancellationToken::new(),
            flow,
        )
        .await;
        assert_eq!(summary.succeeded().len(), 15);
        // The leader's first text comes at 1 s (with its answer): the others go then.
        assert_eq!(
            start.elapsed(),
            Duration::from_secs(wall),
            "warm {warm_cache}"
        );
        assert_eq!(
            provider.peak.load(Ordering::SeqCst),
            peak,
            "warm {warm_cache}"
        );
        let mut started = Vec::new();
        while let Ok(e) = rx.try_recv() {
            if e.kind == EventKind::Started {
                started.push(e.section);
            }
        }
        assert_eq!(
            started[0],
            fifteen()[0].section,
            "the first planned section leads"
        );
        assert_eq!(started.len(), 15);
    }
}
