//! The effect runner against a real store in a temporary home: what the app asks for happens
//! (files written, readings deleted, runs cancelled and resumed), and the answer comes back as
//! the message naming the operation.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::config::Overrides;
use crate::events::{Progress, Usage};
use crate::llm::{BoxFuture, Completion, Provider, ProviderError, ProviderInfo, SectionRequest};
use crate::model::{ExportFormat, ReadingId};
use crate::oracle::{Cast, Reading};
use crate::plan::{Section, plan};
use crate::report::{ReadingStatus, SectionStatus};
use crate::service::{Access, Service, ServiceError, Setup};
use crate::store::StoreError;
use crate::tui::app::{Effect, Msg};
use crate::tui::effects::Runner;

/// The priced model the figure tests read: it answers with the offline text a few milliseconds
/// a chunk, naming itself and reporting token counts as a server does (a token per 4 bytes).
const PRICED_MODEL: &str = "gpt-4o-mini";

#[derive(Debug)]
struct Model;

impl Provider for Model {
    fn info(&self) -> ProviderInfo {
        ProviderInfo {
            kind: crate::llm::ProviderKind::OpenAi,
            model: PRICED_MODEL.into(),
            endpoint: "http://127.0.0.1:9/v1".into(),
        }
    }

    fn complete<'a>(
        &'a self,
        request: &'a SectionRequest,
        progress: &'a Progress,
    ) -> BoxFuture<'a, Result<Completion, ProviderError>> {
        Box::pin(async move {
            let paced = crate::llm::offline::Paced(Duration::from_millis(5));
            let mut done = paced.complete(request, progress).await?;
            let sent: usize = request.messages().iter().map(|m| m.content.len()).sum();
            let count = |bytes: usize| u32::try_from(bytes.div_ceil(4)).unwrap_or(u32::MAX);
            done.usage = Usage::reported(count(sent), count(done.text.len()));
            done.model = PRICED_MODEL.into();
            Ok(done)
        })
    }
}

/// A service over a fresh store in `home`, answering offline (paced by `pace` when given).
fn service(home: &Path, pace: Option<Duration>) -> Service {
    let service = Service::open(Some(home), Access::Create, None).unwrap();
    let mut setup = Setup::resolve(
        Some(home),
        Overrides {
            provider: Some("offline".into()),
            ..Overrides::default()
        },
    )
    .unwrap();
    if let Some(pace) = pace {
        setup.engine.provider = std::sync::Arc::new(crate::llm::offline::Paced(pace));
    }
    service.set_setup(setup);
    service
}

struct Harness {
    runner: Runner,
    rx: mpsc::UnboundedReceiver<Msg>,
    export_dir: tempfile::TempDir,
}

impl Harness {
    fn new(home: &Path, pace: Option<Duration>) -> Self {
        Self::over(service(home, pace))
    }

    /// A harness whose readings are answered by [`PRICED_MODEL`].
    fn priced(home: &Path) -> Self {
        let service = Service::open(Some(home), Access::Create, None).unwrap();
        let mut setup = Setup::resolve(Some(home), Overrides::default()).unwrap();
        setup.engine.provider = std::sync::Arc::new(Model);
        service.set_setup(setup);
        Self::over(service)
    }

    fn over(service: Service) -> Self {
        let export_dir = tempfile::tempdir().unwrap();
        let (tx, rx) = mpsc::unbounded_channel();
        let runner = Runner::new(service, export_dir.path().to_path_buf(), tx);
        Self {
            runner,
            rx,
            export_dir,
        }
    }

    /// The next message, skipping section events and saved ids.
    async fn next(&mut self) -> Msg {
        loop {
            let msg = tokio::time::timeout(Duration::from_secs(30), self.rx.recv())
                .await
                .expect("an answer within 30 s")
                .expect("the runner is alive");
            if !matches!(msg, Msg::Section { .. } | Msg::Saved { .. }) {
                return msg;
            }
        }
    }

    /// Opens reading `id` as the Reading screen does and returns its report.
    async fn open(&mut self, id: ReadingId) -> crate::report::ReadingReport {
        self.runner.apply(Effect::Open { id });
        let Msg::Reading {
            result: Ok(report), ..
        } = self.next().await
        else {
            panic!("reading {id:?} did not load")
        };
        *report
    }

    /// Starts a reading of `lines` as run `run`; returns its store id once it has one.
    async fn start(&mut self, run: u64, lines: &str) -> ReadingId {
        let reading = Reading::new(Cast::manual(Cast::parse_lines(lines).unwrap()));
        self.runner.apply(Effect::Start {
            run,
            query: crate::model::Query::new("Will it rain?"),
            reading: reading.into(),
        });
        loop {
            if let Msg::Saved { run: r, id } = self.rx.recv().await.unwrap()
                && r == run
            {
                return id;
            }
        }
    }

    /// Runs a whole reading of `lines` as run `run`; returns its store id.
    async fn cast(&mut self, run: u64, lines: &str) -> ReadingId {
        let reading = Reading::new(Cast::manual(Cast::parse_lines(lines).unwrap()));
        self.runner.apply(Effect::Start {
            run,
            query: crate::model::Query::new("Should I move to the coast?"),
            reading: reading.into(),
        });
        let mut id = None;
        loop {
            match self.rx.recv().await.unwrap() {
                Msg::Saved { run: r, id: i } if r == run => id = Some(i),
                Msg::RunEnded { run: r, result } if r == run => {
                    assert_eq!(result, Ok(false), "the reading ran to its end");
                    return id.expect("saved");
                }
                _ => {}
            }
        }
    }
}

#[tokio::test]
async fn exports_write_a_private_file_and_a_second_takes_the_next_free_name() {
    let home = tempfile::tempdir().unwrap();
    let mut h = Harness::new(home.path(), None);
    let id = h.cast(1, "9,8,7,7,6,8").await;
    for format in [ExportFormat::Markdown, ExportFormat::Html] {
        h.runner.apply(Effect::Export { id, format });
        let Msg::Exported {
            result: Ok(path), ..
        } = h.next().await
        else {
            panic!("the export failed")
        };
        assert_eq!(path.parent(), Some(h.export_dir.path()));
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("Should I move to the coast?"), "{text}");
        assert!(text.contains("Feng"), "the primary hexagram is in it");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "an export is readable by its owner only");
        // Again: the file there is kept, and the new one takes the next free name.
        std::fs::write(&path, "my notes").unwrap();
        h.runner.apply(Effect::Export { id, format });
        let Msg::Exported {
            result: Ok(again), ..
        } = h.next().await
        else {
            panic!("a second export failed")
        };
        let want = format!("iching-{id}-2.{}", format.extension());
        assert_eq!(again, h.export_dir.path().join(want));
        let mode = std::fs::metadata(&again).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the second export is private too");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "my notes");
    }
    h.runner.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn delete_removes_the_reading_and_history_lists_the_rest_with_costs() {
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        home.path().join("config.toml"),
        "[prices.\"gpt-4o-mini\"]\nprompt_per_million = 1.0\ncompletion_per_million = 2.0\n",
    )
    .unwrap();
    let mut h = Harness::priced(home.path());
    let first = h.cast(1, "9,8,7,7,6,8").await;
    let second = h.cast(2, "7,7,7,7,7,7").await;
    h.runner.apply(Effect::Delete { id: first });
    let Msg::Deleted { id, result } = h.next().await else {
        panic!("no answer to the delete")
    };
    assert_eq!((id, result), (first, Ok(())));
    h.runner.apply(Effect::LoadHistory);
    let Msg::History(Ok(rows)) = h.next().await else {
        panic!("no history")
    };
    let ids: Vec<ReadingId> = rows.iter().map(|r| r.listed.row.id).collect();
    assert_eq!(ids, [second]);
    let cost = rows[0].cost.expect("the model has a price");
    assert!(cost > 0.0, "{cost}");
    // Deleting it again says it is gone.
    h.runner.apply(Effect::Delete { id: first });
    let Msg::Deleted { result, .. } = h.next().await else {
        panic!("no answer")
    };
    assert_eq!(
        result,
        Err(ServiceError::Store(StoreError::NotFound(first)))
    );
    h.runner.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn a_cancelled_reading_is_kept_as_cancelled_and_cannot_be_deleted_while_it_runs() {
    let home = tempfile::tempdir().unwrap();
    // Slow enough that nothing finishes before the cancel.
    let mut h = Harness::new(home.path(), Some(Duration::from_secs(3600)));
    let id = h.start(1, "9,8,7,7,6,8").await;
    // While it runs, delete is refused.
    h.runner.apply(Effect::Delete { id });
    let Msg::Deleted { result, .. } = h.next().await else {
        panic!("no answer to the delete")
    };
    assert!(
        matches!(
            result,
            Err(ServiceError::Store(StoreError::InFlight { .. }))
        ),
        "{result:?}"
    );
    h.runner.apply(Effect::Cancel { run: 1 });
    let Msg::RunEnded { run: 1, result } = h.next().await else {
        panic!("the run did not end")
    };
    assert_eq!(result, Ok(true), "cancelled");
    let report = h.open(id).await;
    assert_eq!(report.status, ReadingStatus::Cancelled);
    assert!(
        report
            .sections
            .iter()
            .all(|s| s.status == SectionStatus::Cancelled)
    );
    h.runner.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn shutdown_cancels_what_is_in_flight_and_the_store_keeps_it() {
    let home = tempfile::tempdir().unwrap();
    let mut h = Harness::new(home.path(), Some(Duration::from_secs(3600)));
    let id = h.start(1, "6,6,6,6,6,6").await;
    h.runner.shutdown(Duration::from_secs(10)).await;
    let service = Service::open(Some(home.path()), Access::Existing, None).unwrap();
    let report = service.report(id).await.unwrap();
    assert_eq!(report.status, ReadingStatus::Cancelled);
    service.close().await;
}

#[tokio::test]
async fn retry_from_history_runs_only_the_missing_sections() {
    let home = tempfile::tempdir().unwrap();
    let mut h = Harness::new(home.path(), None);
    let id = h.cast(1, "9,8,7,7,6,8").await;
    let planned = plan(&Reading::new(Cast::manual(
        Cast::parse_lines("9,8,7,7,6,8").unwrap(),
    )));
    let lost = [planned[1], planned[4]];
    // Two sections lost (as after a crash): their rows go, the reading is partial.
    crate::store::Store::open(home.path(), crate::store::Unlock::default())
        .unwrap()
        .unsave_parts(
            id,
            &lost.map(crate::plan::Section::id),
            crate::model::ReadingStatus::Partial,
        )
        .unwrap();
    h.runner.apply(Effect::Resume { run: 2, id });
    let mut ran: Vec<Section> = Vec::new();
    let mut resumed = None;
    loop {
        match h.rx.recv().await.unwrap() {
            Msg::Resumed { run: 2, result } => resumed = Some(result.unwrap()),
            Msg::Section { run: 2, event } => {
                if let crate::events::EventKind::Finished(_) = event.kind {
                    ran.push(event.section);
                }
            }
            Msg::RunEnded { run: 2, result } => {
                assert_eq!(result, Ok(false));
                break;
            }
            _ => {}
        }
    }
    let resumed = resumed.expect("the grid got the stored reading first");
    assert_eq!(resumed.missing, lost);
    ran.sort_by_key(|s| s.id());
    assert_eq!(ran, lost, "only the missing sections ran");
    let report = h.open(id).await;
    assert_eq!(report.status, ReadingStatus::Complete);
    h.runner.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn choosing_a_provider_keeps_it_in_config_toml_and_answers_with_it() {
    let home = tempfile::tempdir().unwrap();
    let config = home.path().join("config.toml");
    // Something listens (it answers nothing: the slot count is simply not found); the table
    // `gone` names a port where nothing does.
    let server = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = server.local_addr().unwrap().port();
    let gone = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    std::fs::write(
        &config,
        format!(
            "# my settings\nmax_tokens = 900\n\n[providers.box]\nbase_url = \"http://127.0.0.1:{port}/v1\"\n\n[providers.gone]\nbase_url = \"http://127.0.0.1:{gone}/v1\"\n"
        ),
    )
    .unwrap();
    let service = service(home.path(), None);
    let choice = service
        .use_provider("box", "qwen2.5:3b".into())
        .await
        .unwrap();
    assert_eq!(choice.preset, "box");
    assert_eq!(choice.info.model, "qwen2.5:3b");
    let setup = service.setup().unwrap();
    assert_eq!(setup.engine.provider.info().model, "qwen2.5:3b");
    assert_eq!(setup.engine.max_tokens, 900);
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(
        text.starts_with("provider = \"box\"\nmodel = \"qwen2.5:3b\"\n# my settings"),
        "{text}"
    );
    // A provider that cannot work is refused before the file changes, and the one in use stays.
    let Err(err) = service.use_provider("nosuch", "m".into()).await else {
        panic!("an unknown provider was taken");
    };
    assert!(err.to_string().contains("unknown provider"), "{err}");
    assert_eq!(std::fs::read_to_string(&config).unwrap(), text);
    assert_eq!(service.setup().unwrap().settings.preset, "box");
    // A local server that is not running says so before anything is kept.
    let Err(err) = service.use_provider("gone", "m".into()).await else {
        panic!("a server that is not running was taken");
    };
    assert_eq!(
        err.to_string(),
        format!("nothing at 127.0.0.1:{gone}: start its server first")
    );
    assert_eq!(std::fs::read_to_string(&config).unwrap(), text);
    assert_eq!(service.setup().unwrap().settings.preset, "box");
    // A hosted preset without its key says how to give it one, here, without a flag.
    if std::env::var_os("GROQ_API_KEY").is_none() {
        let Err(err) = service.use_provider("groq", "m".into()).await else {
            panic!("a provider without its key was taken");
        };
        assert!(
            matches!(&err, ServiceError::KeyNeeded { .. }) && !err.to_string().contains("--"),
            "{err}"
        );
    }
    drop(server);
    // Offline needs nothing.
    let choice = service
        .use_provider("offline", "legge-1882".into())
        .await
        .unwrap();
    assert_eq!(choice.info.name(), "offline");
    assert_eq!(
        service.setup().unwrap().engine.provider.info().name(),
        "offline"
    );
    service.close().await;
}

#[tokio::test]
async fn the_doctor_of_a_provider_without_its_key_says_so_as_its_first_check() {
    if std::env::var_os("GROQ_API_KEY").is_some() {
        return; // The key is there: nothing is missing to be found.
    }
    let home = tempfile::tempdir().unwrap();
    let mut h = Harness::new(home.path(), None);
    h.runner.apply(Effect::Doctor {
        provider: "groq".into(),
        model: None,
    });
    let lines = loop {
        if let Msg::Doctor { provider, lines } = h.rx.recv().await.unwrap() {
            assert_eq!(provider, "groq");
            break lines;
        }
    };
    // As `iching doctor` shows it: the failed check, with its fix, not an error line.
    let (ok, line, fix) = &lines[0];
    assert!(!ok);
    assert_eq!(
        line,
        "key: the groq provider needs an API key and GROQ_API_KEY is not set"
    );
    // The fix is the box's own (no flag the app does not take).
    assert_eq!(fix.as_deref(), Some(crate::tui::strings::msg::KEY_FIX));
    h.runner.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn a_follow_up_streams_its_answer_and_is_saved_with_the_reading() {
    let home = tempfile::tempdir().unwrap();
    let mut h = Harness::new(home.path(), None);
    let id = h.cast(1, "9,8,7,7,6,8").await;
    h.runner.apply(Effect::Ask {
        run: 2,
        id,
        question: "What does line 3 say?".into(),
    });
    let mut streamed = String::new();
    let ended = loop {
        match tokio::time::timeout(Duration::from_secs(30), h.rx.recv())
            .await
            .unwrap()
            .unwrap()
        {
            Msg::Followup { run: 2, event } => {
                if let crate::events::EventKind::Delta(more) = event.kind {
                    streamed.push_str(&more);
                }
            }
            Msg::FollowupEnded {
                run: 2,
                id: i,
                result,
            } => {
                assert_eq!(i, id);
                break result;
            }
            _ => {}
        }
    };
    let Ok(crate::service::Asked::Answered(f)) = ended else {
        panic!("{ended:?}")
    };
    let reading = Reading::new(Cast::manual(Cast::parse_lines("9,8,7,7,6,8").unwrap()));
    let line3 = reading.primary.line_text(3);
    assert!(f.answer.contains(line3), "{}", f.answer);
    assert!(
        crate::answer::to_plain_text(&crate::answer::parse_response(&streamed), None)
            .contains(line3),
        "the answer streamed before it ended"
    );
    // Saved: the reading loaded again carries it.
    let report = h.open(id).await;
    assert_eq!(report.followups.len(), 1);
    assert_eq!(report.followups[0].question, "What does line 3 say?");
    assert_eq!(report.followups[0].answer, f.answer);
    h.runner.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn patterns_are_counted_for_the_readings_a_search_finds() {
    let home = tempfile::tempdir().unwrap();
    let mut h = Harness::new(home.path(), None);
    h.cast(1, "9,8,7,7,6,8").await;
    h.runner.apply(Effect::LoadPatterns {
        width: 76,
        search: Some("coast".into()),
        no_outcome: false,
    });
    let Msg::Patterns(Ok(lines)) = h.next().await else {
        panic!("no patterns")
    };
    assert!(lines[0].contains("1 reading"), "{lines:?}");
    h.runner.apply(Effect::LoadPatterns {
        width: 76,
        search: Some("zzz".into()),
        no_outcome: false,
    });
    let Msg::Patterns(Ok(lines)) = h.next().await else {
        panic!("no patterns")
    };
    assert!(lines[0].contains("No readings match \"zzz\""), "{lines:?}");
    h.runner.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn a_note_is_edited_and_deleted_in_the_store() {
    let home = tempfile::tempdir().unwrap();
    let mut h = Harness::new(home.path(), None);
    let id = h.cast(1, "9,8,7,7,6,8").await;
    h.runner.apply(Effect::AddNote {
        id,
        kind: crate::store::NoteKind::Note,
        text: "First".into(),
    });
    let Msg::NoteAdded {
        result: Ok(note), ..
    } = h.next().await
    else {
        panic!("not added")
    };
    h.runner.apply(Effect::EditNote {
        id,
        note,
        text: "Second".into(),
    });
    assert!(matches!(
        h.next().await,
        Msg::NoteChanged {
            deleted: false,
            result: Ok(()),
            ..
        }
    ));
    let report = h.open(id).await;
    assert_eq!(report.notes[0].text, "Second");
    h.runner.apply(Effect::DeleteNote { id, note });
    assert!(matches!(
        h.next().await,
        Msg::NoteChanged {
            deleted: true,
            result: Ok(()),
            ..
        }
    ));
    let report = h.open(id).await;
    assert!(report.notes.is_empty());
    h.runner.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn history_carries_the_situation_and_notes_the_filter_searches() {
    let home = tempfile::tempdir().unwrap();
    let mut h = Harness::new(home.path(), None);
    let id = h.cast(1, "9,8,7,7,6,8").await;
    h.runner.apply(Effect::AddNote {
        id,
        kind: crate::store::NoteKind::Outcome,
        text: "We stayed inland after all".into(),
    });
    assert!(matches!(
        h.next().await,
        Msg::NoteAdded { result: Ok(_), .. }
    ));
    h.runner.apply(Effect::LoadHistory);
    let Msg::History(Ok(entries)) = h.next().await else {
        panic!("no history")
    };
    assert_eq!(entries[0].listed.note_text, ["We stayed inland after all"]);
    let mut state = crate::tui::screens::history::HistoryState::default();
    state.set_rows(entries.into_iter().map(Into::into).collect());
    state.filter.insert_str("inland");
    assert_eq!(state.visible().len(), 1);
    h.runner.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn a_follow_up_stopped_mid_answer_keeps_nothing() {
    let home = tempfile::tempdir().unwrap();
    // Paced: the answer takes long enough to be stopped.
    let mut h = Harness::new(home.path(), Some(Duration::from_millis(200)));
    let id = h.cast(1, "9,8,7,7,6,8").await;
    h.runner.apply(Effect::Ask {
        run: 2,
        id,
        question: "What now?".into(),
    });
    // Once its text has begun, stop it.
    loop {
        if let Msg::Followup { run: 2, event } = h.rx.recv().await.unwrap()
            && matches!(event.kind, crate::events::EventKind::Delta(_))
        {
            break;
        }
    }
    h.runner.apply(Effect::Cancel { run: 2 });
    let ended = loop {
        if let Msg::FollowupEnded { run: 2, result, .. } = h.next().await {
            break result;
        }
    };
    assert!(
        matches!(ended, Ok(crate::service::Asked::Cancelled)),
        "{ended:?}"
    );
    let report = h.open(id).await;
    assert!(report.followups.is_empty(), "nothing of it was saved");
    h.runner.shutdown(Duration::from_secs(5)).await;
}

/// The first number after `key` in `text` (`$` and `,` skipped).
fn number_after(text: &str, key: &str) -> f64 {
    let rest = &text[text
        .find(key)
        .unwrap_or_else(|| panic!("{key:?} in {text}"))
        + key.len()..];
    let digits: String = rest
        .chars()
        .skip_while(|c| !c.is_ascii_digit())
        .take_while(|c| c.is_ascii_digit() || matches!(c, '.' | ','))
        .filter(|c| *c != ',')
        .collect();
    digits.parse().unwrap()
}

#[tokio::test]
async fn the_stats_screen_and_iching_stats_say_the_same_cost_and_throughput() {
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        home.path().join("config.toml"),
        "[prices.\"gpt-4o-mini\"]\nprompt_per_million = 1.0\ncompletion_per_million = 2.0\n",
    )
    .unwrap();
    let mut h = Harness::priced(home.path());
    let id = h.cast(1, "9,8,7,7,6,8").await;
    h.runner.apply(Effect::LoadStats { id });
    let msg = h.next().await;
    let mut app = super::app((200, 60));
    app.stats.loading = Some(id);
    app.screen = crate::tui::app::Screen::Stats;
    app.update(msg);
    let screen = super::draw(&app);
    let total = screen
        .lines()
        .find(|l| l.contains(" Total ") && l.contains('$'))
        .unwrap_or_else(|| panic!("{screen}"));
    // The Total row: ... Total tok/s ... $cost; the last two figures.
    let figures: Vec<&str> = total
        .split_whitespace()
        .filter(|w| w.starts_with('$') || w.contains('.'))
        .collect();
    let tui_cost: f64 = figures
        .last()
        .unwrap()
        .trim_start_matches('$')
        .trim_end_matches('"')
        .parse()
        .unwrap_or_else(|_| panic!("{total}"));
    let tui_rate: f64 = figures[figures.len() - 2].parse().unwrap();
    // `iching stats ID` from the same store.
    let service = Service::open(Some(home.path()), Access::Existing, None).unwrap();
    let cli = crate::cli::stats::reading_table(&service.reading_stats(id).await.unwrap(), false);
    let cli_rate = number_after(&cli, "of wall time,");
    let cli_cost = number_after(&cli, "cost: $");
    assert!(tui_cost > 0.0 && tui_rate > 0.0, "{total}");
    // Each as precise as it is printed: tok/s to 0.1 and 1, dollars to 4 and 6 places.
    assert!(
        (tui_rate - cli_rate).abs() <= 0.5,
        "{tui_rate} vs {cli_rate}\n{cli}"
    );
    assert!(
        (tui_cost - cli_cost).abs() <= 0.000_05,
        "{tui_cost} vs {cli_cost}\n{cli}"
    );
    service.close().await;
    h.runner.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn history_search_and_the_history_filter_find_the_same_readings_follow_ups_included() {
    let home = tempfile::tempdir().unwrap();
    let mut h = Harness::new(home.path(), None);
    let first = h.cast(1, "9,8,7,7,6,8").await;
    let second = h.cast(2, "7,7,7,7,7,7").await;
    let _third = h.cast(3, "8,8,8,8,8,8").await;
    h.runner.apply(Effect::AddNote {
        id: first,
        kind: crate::store::NoteKind::Outcome,
        text: "We stayed inland after all".into(),
    });
    assert!(matches!(
        h.next().await,
        Msg::NoteAdded { result: Ok(_), .. }
    ));
    h.runner.apply(Effect::Ask {
        run: 9,
        id: second,
        question: "What about the harbour?".into(),
    });
    loop {
        if let Msg::FollowupEnded { result, .. } = h.next().await {
            assert!(matches!(result, Ok(crate::service::Asked::Answered(_))));
            break;
        }
    }
    h.runner.apply(Effect::LoadHistory);
    let Msg::History(Ok(entries)) = h.next().await else {
        panic!("no history")
    };
    let mut state = crate::tui::screens::history::HistoryState::default();
    state.set_rows(entries.into_iter().map(Into::into).collect());
    let service = Service::open(Some(home.path()), Access::Existing, None).unwrap();
    for word in [
        "inland",
        "harbour",
        "HARBOUR",
        "coast",
        "move coast",
        "feng",
        "qian",
        "kun",
        "complete",
        "55",
        "nowhere",
        "inland harbour",
    ] {
        let cli: Vec<ReadingId> = service
            .history(crate::store::HistoryFilter {
                search: Some(word.to_owned()),
                ..Default::default()
            })
            .await
            .unwrap()
            .iter()
            .map(|e| e.listed.row.id)
            .collect();
        state.filter = ratatui_textarea::TextArea::default();
        state.filter.insert_str(word);
        let tui: Vec<ReadingId> = state.visible().iter().map(|r| r.id).collect();
        assert_eq!(cli, tui, "{word:?}");
        match word {
            "harbour" | "HARBOUR" => assert_eq!(cli, [second], "a follow-up's words are found"),
            "inland" => assert_eq!(cli, [first]),
            "coast" => assert_eq!(cli.len(), 3),
            "nowhere" | "inland harbour" => assert!(cli.is_empty()),
            _ => {}
        }
    }
    service.close().await;
    h.runner.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn the_journal_of_what_history_lists_is_exported_from_the_app() {
    let home = tempfile::tempdir().unwrap();
    let mut h = Harness::new(home.path(), None);
    h.cast(1, "9,8,7,7,6,8").await;
    h.cast(2, "7,7,7,7,7,7").await;
    h.runner.apply(Effect::ExportJournal {
        format: ExportFormat::Html,
        search: Some("coast".into()),
        no_outcome: true,
    });
    let Msg::JournalExported(Ok(done)) = h.next().await else {
        panic!("the journal was not exported")
    };
    assert_eq!(done.readings, 2);
    assert_eq!(done.path, h.export_dir.path().join("iching-journal.html"));
    let page = std::fs::read_to_string(&done.path).unwrap();
    assert_eq!(page.matches("<article>").count(), 2);
    h.runner.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn a_pasted_key_is_sealed_used_for_its_preset_shown_as_pasted_and_removed() {
    if std::env::var_os("OPENROUTER_API_KEY").is_some() {
        return; // The variable would win: nothing pasted would be used.
    }
    let home = tempfile::tempdir().unwrap();
    let mut h = Harness::new(home.path(), None);
    // What is not a key alone is refused, saying so; a local server takes none.
    for (provider, typed, why) in [
        ("openrouter", "sk-or one two", "not a key alone"),
        ("openrouter", "  ", "nothing was pasted"),
        ("ollama", "sk-x", "takes no key"),
    ] {
        h.runner.apply(Effect::SetProviderKey {
            provider: provider.into(),
            key: crate::model::Secret::new(typed),
        });
        let Msg::ProviderKeys {
            result: Err(err), ..
        } = h.next().await
        else {
            panic!("{typed:?} for {provider} was kept");
        };
        assert!(err.to_string().contains(why), "{err}");
    }
    h.runner.apply(Effect::SetProviderKey {
        provider: "openrouter".into(),
        key: crate::model::Secret::new(" sk-or-v1-pasted\n"),
    });
    let Msg::ProviderKeys {
        provider,
        removed: false,
        result: Ok((entries, None)),
    } = h.next().await
    else {
        panic!("the key was not kept");
    };
    assert_eq!(provider, "openrouter");
    let entry = entries.iter().find(|e| e.name == "openrouter").unwrap();
    assert!(entry.pasted && entry.has_key() && !entry.env_set);
    assert!(entries.iter().filter(|e| e.pasted).count() == 1);
    // A command run now (another Service on the same store) answers openrouter with it, and
    // no other provider gets it.
    let other = Service::open(Some(home.path()), Access::Existing, None).unwrap();
    other
        .configure(Overrides {
            provider: Some("openrouter".into()),
            ..Overrides::default()
        })
        .unwrap();
    assert_eq!(
        other.setup().unwrap().settings.api_key.expose(),
        "sk-or-v1-pasted"
    );
    if std::env::var_os("GROQ_API_KEY").is_none() {
        assert!(
            other
                .configure(Overrides {
                    provider: Some("groq".into()),
                    ..Overrides::default()
                })
                .is_err()
        );
    }
    other.close().await;
    // The key is nowhere in the clear: not in the database, not in config.toml, not in the log.
    for entry in std::fs::read_dir(home.path()).unwrap().flatten() {
        if entry.path().is_file() {
            let bytes = std::fs::read(entry.path()).unwrap();
            assert!(
                !bytes.windows(15).any(|w| w == b"sk-or-v1-pasted"),
                "{} holds the key",
                entry.path().display()
            );
        }
    }
    h.runner.apply(Effect::RemoveProviderKey {
        provider: "openrouter".into(),
    });
    let Msg::ProviderKeys {
        removed: true,
        result: Ok((entries, _)),
        ..
    } = h.next().await
    else {
        panic!("the key was not removed");
    };
    assert!(entries.iter().all(|e| !e.pasted));
    h.runner.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn the_language_chosen_in_the_app_is_kept_in_config_toml_and_answers_in_it() {
    let home = tempfile::tempdir().unwrap();
    let config = home.path().join("config.toml");
    std::fs::write(&config, "# mine\nmax_tokens = 900\n").unwrap();
    let mut h = Harness::new(home.path(), None);
    h.runner.apply(Effect::SetLanguage {
        language: Some("Spanish".into()),
    });
    let Msg::LanguageChanged(Ok(Some(language))) = h.next().await else {
        panic!("the language was not kept");
    };
    assert_eq!(language, "Spanish");
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(text.starts_with("# mine\nmax_tokens = 900\n"), "{text}");
    assert!(text.contains("language = \"Spanish\""), "{text}");
    h.runner.apply(Effect::SetLanguage { language: None });
    let Msg::LanguageChanged(Ok(None)) = h.next().await else {
        panic!("the language was not cleared");
    };
    assert!(
        !std::fs::read_to_string(&config)
            .unwrap()
            .contains("language")
    );
    h.runner.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn opened_offline_for_want_of_a_key_the_app_answers_with_the_one_pasted() {
    if std::env::var_os("OPENROUTER_API_KEY").is_some()
        || std::env::var_os("ICHING_PROVIDER").is_some()
    {
        return; // The environment decides here, not config.toml.
    }
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        home.path().join("config.toml"),
        "provider = \"openrouter\"\n",
    )
    .unwrap();
    let service = Service::open(Some(home.path()), Access::Create, None).unwrap();
    // It opens, offline, saying why (it used to refuse to start).
    let setup = service.configure_app().unwrap();
    assert_eq!(setup.settings.preset, "offline");
    let why = setup.settings.offline_reason.clone().unwrap();
    assert!(
        why.contains("provider = \"openrouter\" needs an API key")
            && why.contains("OPENROUTER_API_KEY"),
        "{why}"
    );
    let (tx, mut rx) = mpsc::unbounded_channel();
    let export_dir = tempfile::tempdir().unwrap();
    let mut runner = Runner::new(service, export_dir.path().to_path_buf(), tx);
    runner.apply(Effect::SetProviderKey {
        provider: "openrouter".into(),
        key: crate::model::Secret::new("sk-or-v1-pasted"),
    });
    let Some(Msg::ProviderKeys {
        result: Ok((_, Some(choice))),
        ..
    }) = rx.recv().await
    else {
        panic!("the pasted key did not bring the provider asked for");
    };
    assert_eq!(choice.preset, "openrouter");
    assert!(choice.note.is_none());
    runner.shutdown(Duration::from_secs(5)).await;
}
