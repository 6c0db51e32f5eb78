//! The driver's hands: an adapter from each [`Effect`] the app asks for to a [`Service`]
//! operation, run on a task, whose typed result comes back as the [`Msg`] naming that operation
//! (so `update` knows exactly what failed and clears exactly that). Readings stream their section
//! events back as they land (each one only after it is saved). Nothing here decides anything;
//! the app does.

use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::{JoinHandle, JoinSet};
use tokio_util::sync::CancellationToken;

use super::app::{Effect, Msg};
use super::screens::stats::StatsView;
use crate::events::SectionEvent;
use crate::service::{ExportTo, HistoryFilter, SavedRun, Service, ServiceError};

/// Runs effects and reports on `tx`.
pub struct Runner {
    service: Arc<Service>,
    export_dir: PathBuf,
    /// Pings the background sync (when `sync_dir` is set): it runs once writes have been
    /// quiet for [`SYNC_QUIET`].
    sync: Option<mpsc::UnboundedSender<()>>,
    tx: mpsc::UnboundedSender<Msg>,
    runs: HashMap<u64, CancellationToken>,
    tasks: JoinSet<()>,
}

impl Runner {
    /// A runner over `service`, reporting on `tx`; exports go to `export_dir`.
    pub fn new(service: Service, export_dir: PathBuf, tx: mpsc::UnboundedSender<Msg>) -> Self {
        let mut runner = Self {
            service: Arc::new(service),
            export_dir,
            sync: None,
            tx,
            runs: HashMap::new(),
            tasks: JoinSet::new(),
        };
        // With `sync_dir` set, the journal syncs at start and after writes, in the background.
        if let Ok(Some(dir)) = runner.service.sync_dir(None) {
            let (ping, pings) = mpsc::unbounded_channel();
            let (service, tx) = (runner.service.clone(), runner.tx.clone());
            runner
                .tasks
                .spawn(sync_in_background(service, dir, pings, tx));
            let _ = ping.send(());
            runner.sync = Some(ping);
        }
        runner
    }

    /// Asks for a sync soon (after a write), when a sync folder is set.
    pub fn sync_soon(&self) {
        if let Some(ping) = &self.sync {
            let _ = ping.send(());
        }
    }

    /// Runs one effect (anything slow happens on a task).
    pub fn apply(&mut self, effect: Effect) {
        // Forget the tasks that have ended.
        while let Some(Ok(())) = self.tasks.try_join_next() {}
        let service = self.service.clone();
        let tx = self.tx.clone();
        match effect {
            Effect::Start {
                run,
                query,
                reading,
            } => {
                let cancel = self.token(run);
                self.tasks.spawn(async move {
                    let (events, forwarder) = forward(run, tx.clone());
                    let result = service.cast(reading, Arc::new(query), events, cancel).await;
                    finish(run, result, forwarder, &tx).await;
                });
            }
            Effect::Retry { run, id } => {
                let cancel = self.token(run);
                self.tasks.spawn(async move {
                    let (events, forwarder) = forward(run, tx.clone());
                    let result = service.retry(id, events, cancel).await;
                    finish(run, result, forwarder, &tx).await;
                });
            }
            Effect::Resume { run, id } => {
                let cancel = self.token(run);
                self.tasks.spawn(async move {
                    let resume = service.resume(id).await;
                    let loaded = resume.is_ok();
                    let _ = tx.send(Msg::Resumed {
                        run,
                        result: resume.map(Box::new),
                    });
                    if !loaded {
                        return;
                    }
                    let (events, forwarder) = forward(run, tx.clone());
                    let result = service.retry(id, events, cancel).await;
                    finish(run, result, forwarder, &tx).await;
                });
            }
            Effect::Cancel { run } => {
                if let Some(token) = self.runs.get(&run) {
                    token.cancel();
                }
            }
            Effect::LoadHistory => self.run(async move |s| {
                Msg::History(
                    s.history(HistoryFilter {
                        with_text: true,
                        ..HistoryFilter::default()
                    })
                    .await,
                )
            }),
            Effect::Open { id } => self.run(async move |s| Msg::Reading {
                id,
                result: s.report(id).await.map(Box::new),
            }),
            Effect::LoadStats { id } => self.run(async move |s| {
                let result = match s.reading_stats(id).await {
                    Ok(stats) => s
                        .question(id)
                        .await
                        .map(|question| Box::new(StatsView { stats, question })),
                    Err(e) => Err(e),
                };
                Msg::Stats { id, result }
            }),
            Effect::Delete { id } => self.run(async move |s| Msg::Deleted {
                id,
                result: s.delete(id).await,
            }),
            Effect::LoadPatterns {
                width,
                search,
                no_outcome,
            } => self.run(async move |s| {
                let found = s.pattern_rows(search.clone(), no_outcome).await;
                Msg::Patterns(found.map(|(rows, damaged)| {
                    let p = crate::report::patterns::patterns(&rows, damaged);
                    crate::report::patterns::text(&p, search.as_deref(), width)
                        .lines()
                        .map(str::to_owned)
                        .collect()
                }))
            }),
            Effect::Ask { run, id, question } => {
                let cancel = self.token(run);
                self.tasks.spawn(async move {
                    let (etx, mut erx) = mpsc::unbounded_channel::<SectionEvent>();
                    let events = tx.clone();
                    let forwarder = tokio::spawn(async move {
                        while let Some(event) = erx.recv().await {
                            let _ = events.send(Msg::Followup { run, event });
                        }
                    });
                    let result = service.ask(id, &question, etx, cancel).await;
                    let _ = forwarder.await;
                    let _ = tx.send(Msg::FollowupEnded { run, id, result });
                });
            }
            Effect::EditNote { id, note, text } => self.run(async move |s| Msg::NoteChanged {
                id,
                deleted: false,
                result: s.edit_note(id, note, &text).await,
            }),
            Effect::DeleteNote { id, note } => self.run(async move |s| Msg::NoteChanged {
                id,
                deleted: true,
                result: s.delete_note(id, note).await,
            }),
            Effect::AddNote { id, kind, text } => self.run(async move |s| Msg::NoteAdded {
                id,
                kind,
                result: s.add_note(id, kind, &text).await,
            }),
            Effect::Export { id, format } => {
                let dir = self.export_dir.clone();
                self.run(async move |s| Msg::Exported {
                    id,
                    result: s.export(id, format, &dir).await,
                });
            }
            Effect::ExportJournal {
                format,
                search,
                no_outcome,
            } => {
                let to = ExportTo::Folder(self.export_dir.clone());
                self.run(async move |s| {
                    let filter = HistoryFilter {
                        search,
                        no_outcome,
                        ..HistoryFilter::default()
                    };
                    Msg::JournalExported(s.export_journal(filter, format, &to).await)
                });
            }
            Effect::LoadModels { provider } => self.run(async move |s| Msg::Models {
                result: s.models_of(&provider).await,
                provider,
            }),
            Effect::Doctor { provider, model } => self.run(async move |s| {
                let lines = match s.doctor_of(&provider, model).await {
                    Ok(checks) => checks
                        .into_iter()
                        .map(|c| {
                            // The command's fix names its flags; here the box does it.
                            let fix = if c.check == "key" && !c.ok {
                                Some(crate::tui::strings::msg::KEY_FIX.to_owned())
                            } else {
                                c.fix.as_deref().map(crate::tui::strings::msg::in_app_terms)
                            };
                            (c.ok, format!("{}: {}", c.check, c.detail), fix)
                        })
                        .collect(),
                    Err(e) => vec![(false, e.to_string(), None)],
                };
                Msg::Doctor { provider, lines }
            }),
            Effect::SetProviderKey { provider, key } => {
                self.run(async move |s| Msg::ProviderKeys {
                    result: s.set_provider_key(&provider, key).await,
                    provider,
                    removed: false,
                });
            }
            Effect::RemoveProviderKey { provider } => self.run(async move |s| Msg::ProviderKeys {
                result: s.remove_provider_key(&provider).await,
                provider,
                removed: true,
            }),
            Effect::SetLanguage { language } => {
                self.run(async move |s| Msg::LanguageChanged(s.set_language(language.as_deref())));
            }
            Effect::UseProvider { provider, model } => {
                self.run(async move |s| {
                    Msg::ProviderChanged(s.use_provider(&provider, model).await)
                });
            }
            Effect::Quit => {
                for token in self.runs.values() {
                    token.cancel();
                }
            }
        }
    }

    /// Runs the Service operation `op` on a task; the message it answers with goes to the app.
    /// Every effect but a run's (which streams its events first) is one of these.
    fn run<F>(&mut self, op: impl FnOnce(Arc<Service>) -> F)
    where
        F: Future<Output = Msg> + Send + 'static,
    {
        let (service, tx) = (self.service.clone(), self.tx.clone());
        let answer = op(service);
        self.tasks.spawn(async move {
            let _ = tx.send(answer.await);
        });
    }

    fn token(&mut self, run: u64) -> CancellationToken {
        self.runs.entry(run).or_default().clone()
    }

    /// Cancels whatever is in flight, waits (up to `grace`) for it to settle, so the store
    /// records how every section ended and the reading's status, and closes the store.
    pub async fn shutdown(mut self, grace: Duration) {
        // The background sync ends once it has no one to ping it (after a sync in flight).
        self.sync = None;
        for token in self.runs.values() {
            token.cancel();
        }
        let _ = tokio::time::timeout(grace, async {
            while self.tasks.join_next().await.is_some() {}
        })
        .await;
        self.tasks.abort_all();
        while self.tasks.join_next().await.is_some() {}
        if let Ok(service) = Arc::try_unwrap(self.service) {
            service.close().await;
        }
    }
}

/// A sender whose events are forwarded to the app as run `run`'s, the store id first; the task
/// ends once the sender is dropped and every event is passed on.
fn forward(
    run: u64,
    tx: mpsc::UnboundedSender<Msg>,
) -> (mpsc::UnboundedSender<SectionEvent>, JoinHandle<()>) {
    let (etx, mut erx) = mpsc::unbounded_channel::<SectionEvent>();
    let task = tokio::spawn(async move {
        let mut saved = false;
        while let Some(event) = erx.recv().await {
            if !saved && let Some(id) = event.reading {
                saved = true;
                let _ = tx.send(Msg::Saved { run, id });
            }
            let _ = tx.send(Msg::Section { run, event });
        }
    });
    (etx, task)
}

/// How long writes must be quiet before the background sync runs.
const SYNC_QUIET: Duration = Duration::from_secs(2);

/// Syncs with `dir` whenever pinged, once pings have been quiet for [`SYNC_QUIET`]; reports
/// each sync to the app. Ends when the pings end.
async fn sync_in_background(
    service: Arc<Service>,
    dir: PathBuf,
    mut pings: mpsc::UnboundedReceiver<()>,
    tx: mpsc::UnboundedSender<Msg>,
) {
    while pings.recv().await.is_some() {
        loop {
            match tokio::time::timeout(SYNC_QUIET, pings.recv()).await {
                Ok(Some(())) => {}
                Ok(None) => return,
                Err(_) => break,
            }
        }
        let result = service.sync(&dir, None).await;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(0));
        // The time of day on the user's clock (the status line is no place for the zone).
        let at = crate::when::Stamp::at(now)
            .shown()
            .get(11..16)
            .unwrap_or_default()
            .to_owned();
        let msg = Msg::Synced {
            at,
            result: result.map(Box::new),
        };
        if tx.send(msg).is_err() {
            return;
        }
    }
}

/// Reports the end of run `run` (after its forwarder has passed every event on).
async fn finish(
    run: u64,
    result: Result<SavedRun, ServiceError>,
    forwarder: JoinHandle<()>,
    tx: &mpsc::UnboundedSender<Msg>,
) {
    let _ = forwarder.await;
    let result = result.map(|saved| {
        let _ = tx.send(Msg::Saved { run, id: saved.id });
        !saved.summary.cancelled().is_empty()
    });
    let _ = tx.send(Msg::RunEnded { run, result });
}
