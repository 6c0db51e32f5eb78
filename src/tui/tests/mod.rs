//! Tests of the terminal app without a terminal: `update` driven by messages, and every screen
//! drawn on a `TestBackend` and kept as an insta snapshot.

mod effects;
mod snapshots;
mod update;

use std::sync::Arc;
use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use super::app::{App, Confirm, Effect, Msg, Options, Overlay, ProviderLine};
use super::screens::followup::FollowupEditor;
use super::screens::journal::JournalView;
use super::screens::note::NoteEditor;
use super::screens::patterns::PatternsView;
use super::screens::provider::PickerState;
use crate::answer::parse_response;
use crate::events::{EventKind, SectionDone, SectionEvent, SectionFailure, Usage, UsageSource};
use crate::llm::ProviderInfo;
use crate::llm::offline::compose;
use crate::model::ReadingId;
use crate::oracle::{Cast, Reading};
use crate::plan::{Section, plan};
use crate::report::{ReadingReport, ReadingStatus};
use crate::service::HistoryEntry;
use crate::store::{Listed, ReadingRow};

/// The sizes every screen is drawn at.
const NARROW: (u16, u16) = (80, 24);
const WIDE: (u16, u16) = (160, 48);

/// The question of the fixtures.
const QUESTION: &str = "Should I move to the coast?";

fn app(size: (u16, u16)) -> App {
    let info = ProviderInfo {
        kind: crate::llm::ProviderKind::Offline,
        model: "legge-1882".into(),
        endpoint: String::new(),
    };
    App::new(Options {
        provider: ProviderLine::new(
            &info,
            Some("No model is configured (no OPENAI_API_KEY or base URL): answering from the classic text, offline.".into()),
        ),
        seed: 7,
        size,
        colour: false,
        providers: entries(),
        language: None,
        read_only: None,
    })
}

/// The providers the fixtures' picker offers: a hosted preset without its key, two local
/// servers, offline.
fn entries() -> Vec<crate::service::ProviderEntry> {
    let entry = |name: &str, address: &str, key_env: Option<&str>| crate::service::ProviderEntry {
        name: name.into(),
        address: address.into(),
        key_env: key_env.map(str::to_owned),
        env_set: false,
        pasted: false,
        pastable: key_env.is_some(),
        local: key_env.is_none(),
    };
    vec![
        entry(
            "openai",
            "https://api.openai.com/v1",
            Some("OPENAI_API_KEY"),
        ),
        entry("ollama", "http://localhost:11434/v1", None),
        entry("llamacpp", "http://localhost:8080/v1", None),
        entry("offline", "", None),
    ]
}

/// The priced model of the figures' fixtures.
const PRICED_MODEL: &str = "gpt-4o-mini";

/// The app with [`PRICED_MODEL`] chosen: readings cast in it are a model's, with figures.
fn priced_app(size: (u16, u16)) -> App {
    let mut a = app(size);
    a.provider = ProviderLine::new(
        &ProviderInfo {
            kind: crate::llm::ProviderKind::OpenAi,
            model: PRICED_MODEL.into(),
            endpoint: "https://api.openai.com/v1".into(),
        },
        None,
    );
    a
}

/// The help's first line shown, when the help is open.
fn the_help(a: &App) -> Option<usize> {
    match a.overlay {
        Some(Overlay::Help { scroll }) => Some(scroll),
        _ => None,
    }
}

/// The picker, when it is what is open.
fn the_picker(a: &App) -> Option<&PickerState> {
    match &a.overlay {
        Some(Overlay::Picker(p)) => Some(p),
        _ => None,
    }
}

/// The note editor, when it is what is open.
fn the_note(a: &App) -> Option<&NoteEditor> {
    match &a.overlay {
        Some(Overlay::Note(editor)) => Some(editor),
        _ => None,
    }
}

/// The follow-up editor, when it is what is open.
fn the_followup(a: &App) -> Option<&FollowupEditor> {
    match &a.overlay {
        Some(Overlay::Followup(editor)) => Some(editor),
        _ => None,
    }
}

/// The Journal, when it is what is open.
fn the_journal(a: &App) -> Option<&JournalView> {
    match &a.overlay {
        Some(Overlay::Journal(view)) => Some(view),
        _ => None,
    }
}

/// The Patterns, when they are what is open.
fn the_patterns(a: &App) -> Option<&PatternsView> {
    match &a.overlay {
        Some(Overlay::Patterns(view)) => Some(view),
        _ => None,
    }
}

/// The question asked, when one is.
fn the_confirm(a: &App) -> Option<&Confirm> {
    match &a.overlay {
        Some(Overlay::Confirm(c)) => Some(c),
        _ => None,
    }
}

/// `report` loaded for the Reading screen.
fn loaded(report: ReadingReport) -> Msg {
    Msg::Reading {
        id: report.id.expect("a stored report"),
        result: Ok(Box::new(report)),
    }
}

/// `report`'s figures loaded for the Stats screen, priced with `prices`: its sections and
/// follow-ups as the store's plain columns hold them, through the Service's one rule.
fn stats_loaded(report: ReadingReport, prices: &crate::config::Prices) -> Msg {
    use crate::store::{FollowupFigures, ReadingRow, SectionFigures};
    let id = report.id.expect("a stored report");
    let mut finished = 0;
    let parts: Vec<SectionFigures> = report
        .sections
        .iter()
        .map(|s| {
            let latency_ms = s.latency_ms.unwrap_or(0);
            finished = finished.max(latency_ms);
            SectionFigures {
                section_id: s.id,
                status: s.status,
                attempts: s.attempts,
                started_ms: Some(0),
                finished_ms: latency_ms,
                latency_ms,
                ttft_ms: s.ttft_ms,
                prompt_tokens: s.prompt_tokens,
                completion_tokens: s.completion_tokens,
                usage: s.usage,
                model: s.model.clone(),
                updated_at: 0,
                reasoning_tokens: s.reasoning_tokens,
                cached_tokens: s.cached_tokens,
                failed_prompt_tokens: s.failed_usage.map(|u| u.prompt_tokens),
                failed_completion_tokens: s.failed_usage.map(|u| u.completion_tokens),
                error_kind: s.error_kind,
            }
        })
        .collect();
    let followups: Vec<FollowupFigures> = report
        .followups
        .iter()
        .map(|f| FollowupFigures {
            id: i64::try_from(f.number).unwrap(),
            asked_at: 0,
            latency_ms: f.latency_ms,
            ttft_ms: f.ttft_ms,
            usage: f.usage,
            provider: f.provider.clone(),
            model: f.model.clone(),
            left_out: 0,
        })
        .collect();
    let row = ReadingRow {
        id,
        created_at: 0,
        updated_at: 0,
        status: report.status,
        method: "coins".into(),
        lines: report.lines,
        seed: None,
        primary: 1,
        resulting: None,
        sections_planned: u32::try_from(report.sections.len()).unwrap(),
        sections_done: 0,
        sections_failed: 0,
        total_tokens: 0,
        provider: "offline".into(),
        model: String::new(),
    };
    Msg::Stats {
        id,
        result: Ok(Box::new(crate::tui::screens::stats::StatsView {
            stats: crate::service::ReadingStats::of(&row, &parts, &followups, prices),
            question: report.question.clone(),
        })),
    }
}

fn key(code: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

fn ctrl(c: char) -> Msg {
    Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL))
}

fn release(code: KeyCode) -> Msg {
    let mut k = KeyEvent::new(code, KeyModifiers::NONE);
    k.kind = KeyEventKind::Release;
    Msg::Key(k)
}

/// Types `text` key by key; returns every effect.
fn type_text(app: &mut App, text: &str) -> Vec<Effect> {
    text.chars()
        .flat_map(|c| app.update(key(KeyCode::Char(c))))
        .collect()
}

fn draw(app: &App) -> String {
    let (w, h) = app.size;
    let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
    terminal.draw(|f| crate::tui::view::draw(app, f)).unwrap();
    terminal.backend().to_string()
}

fn at(app: &mut App, ms: u64) {
    app.update(Msg::Tick(Duration::from_millis(ms)));
}

/// 55 Feng changing to 31 Xian: lines 1 and 5 change, ten sections.
fn reading() -> Arc<Reading> {
    Arc::new(Reading::new(Cast::manual(
        Cast::parse_lines("9,8,7,7,6,8").unwrap(),
    )))
}

fn answer(reading: &Reading, section: Section) -> String {
    serde_json::json!({ "response": compose(reading, QUESTION, section) }).to_string()
}

fn done(reading: &Reading, section: Section) -> SectionDone {
    let raw = answer(reading, section);
    SectionDone {
        paragraphs: parse_response(&raw),
        raw,
        usage: Usage {
            prompt_tokens: 1180 + u32::from(section.id()),
            completion_tokens: 240 + 10 * u32::from(section.id()),
            reasoning_tokens: 0,
            cached_tokens: 0,
            source: UsageSource::Estimated,
        },
        latency: Duration::from_millis(1200 + 100 * u64::from(section.id())),
        ttft: Some(Duration::from_millis(310)),
        model: PRICED_MODEL.into(),
        attempts: 1,
        failed_usage: None,
    }
}

/// `section` as the classic text answers it: no tokens spent, a few milliseconds.
fn classic_done(reading: &Reading, section: Section) -> SectionDone {
    SectionDone {
        usage: Usage::reported(0, 0),
        latency: Duration::from_millis(2 + u64::from(section.id())),
        ttft: Some(Duration::from_millis(1)),
        model: crate::service::OFFLINE_MODEL.into(),
        ..done(reading, section)
    }
}

fn event(run_id: i64, section: Section, kind: EventKind) -> SectionEvent {
    SectionEvent {
        reading: Some(ReadingId(run_id)),
        section,
        kind,
    }
}

/// Casts the fixture reading by hand (manual method) and returns the run.
fn cast_manual(app: &mut App) -> u64 {
    type_text(app, QUESTION);
    app.update(ctrl('t'));
    app.update(ctrl('t'));
    app.update(key(KeyCode::Enter));
    type_text(app, "987768");
    let fx = app.update(key(KeyCode::Enter));
    match fx.as_slice() {
        [Effect::Start { run, .. }] => *run,
        other => panic!("expected one Start, got {other:?}"),
    }
}

/// Sends `kind` for `section` of run `run` (store id 7).
fn send(app: &mut App, run: u64, section: Section, kind: EventKind) {
    app.update(Msg::Section {
        run,
        event: event(7, section, kind),
    });
}

/// A grid with a section of every kind: done, streaming, retrying, failed, running, queued.
fn mid_flight(size: (u16, u16)) -> App {
    let mut app = priced_app(size);
    let run = cast_manual(&mut app);
    app.update(Msg::Saved {
        run,
        id: ReadingId(7),
    });
    let r = reading();
    for s in plan(&r) {
        send(&mut app, run, s, EventKind::Queued);
    }
    at(&mut app, 100);
    for s in [
        Section::OpeningStatements,
        Section::InitialHexagramJudgement,
        Section::InitialHexagramImage,
        Section::ChangingLine(1),
        Section::ChangingLine(5),
    ] {
        send(&mut app, run, s, EventKind::Started);
    }
    at(&mut app, 410);
    let text = answer(&r, Section::InitialHexagramJudgement);
    send(
        &mut app,
        run,
        Section::InitialHexagramJudgement,
        EventKind::Delta(text[..260].to_owned()),
    );
    send(
        &mut app,
        run,
        Section::InitialHexagramImage,
        EventKind::Retrying {
            attempt: 2,
            wait: Duration::from_secs(4),
            reason: "rate limited (429): slow down".into(),
        },
    );
    at(&mut app, 1500);
    send(
        &mut app,
        run,
        Section::OpeningStatements,
        EventKind::Finished(Box::new(done(&r, Section::OpeningStatements))),
    );
    send(
        &mut app,
        run,
        Section::ChangingLine(1),
        EventKind::Failed(Box::new(SectionFailure {
            error: "server error (HTTP 500) after 4 attempts".into(),
            latency: Duration::from_millis(1390),
            attempts: 4,
            kind: crate::llm::ErrorKind::ServerError,
            usage: None,
        })),
    );
    at(&mut app, 2000);
    app
}

/// The fixture reading as the store gives it back: every section complete, id 7.
fn complete_report() -> ReadingReport {
    let r = reading();
    let sections = plan(&r);
    let mut report = ReadingReport::new(&r, QUESTION, &sections);
    report.id = Some(ReadingId(7));
    report.created_at = Some(crate::when::Stamp::parse("2026-03-01T09:05:00Z").unwrap());
    for (kept, s) in report.sections.iter_mut().zip(sections) {
        kept.finish(&done(&r, s));
    }
    report.status = ReadingStatus::Complete;
    report
}

/// Five past readings, one of each status.
fn history_rows() -> Vec<HistoryEntry> {
    let row = |id: i64, q: &str, p: u8, r: Option<u8>, status, done, planned, tokens| {
        // 2026-03-0{id}T09:0{id}:00Z
        let created_at = (1_772_323_200 + (id - 1) * 86_400 + 9 * 3600 + id * 60) * 1000;
        HistoryEntry {
            listed: Listed {
                row: ReadingRow {
                    id: ReadingId(id),
                    created_at,
                    updated_at: created_at,
                    status,
                    method: "coins".into(),
                    lines: [7; 6],
                    seed: None,
                    primary: p,
                    resulting: r,
                    sections_planned: planned,
                    sections_done: done,
                    sections_failed: 0,
                    total_tokens: tokens,
                    provider: "openai".into(),
                    model: PRICED_MODEL.into(),
                },
                question: Ok(q.into()),
                context: None,
                notes: crate::store::NoteCounts::default(),
                note_text: (id == 2)
                    .then(|| "We waited; the monsoon came late".to_owned())
                    .into_iter()
                    .collect(),
                followup_text: (id == 3)
                    .then(|| "Will the harvest hold?".to_owned())
                    .into_iter()
                    .collect(),
            },
            cost: (id % 2 == 0).then_some(0.0021 * id as f64),
            classic: false,
        }
    };
    vec![
        row(
            5,
            "Should I move to the coast?",
            55,
            Some(31),
            ReadingStatus::Complete,
            10,
            10,
            15_230,
        ),
        row(
            4,
            "Is it time to ask for the raise?",
            1,
            None,
            ReadingStatus::Partial,
            4,
            6,
            7_120,
        ),
        row(
            3,
            "What of the harvest?",
            2,
            Some(24),
            ReadingStatus::Interrupted,
            2,
            9,
            2_310,
        ),
        row(
            2,
            "Will the trip go well?",
            63,
            Some(64),
            ReadingStatus::Cancelled,
            0,
            15,
            0,
        ),
        row(
            1,
            "\u{1b}[2JHow do I mend this friendship?",
            11,
            Some(12),
            ReadingStatus::Failed,
            0,
            9,
            0,
        ),
    ]
}
