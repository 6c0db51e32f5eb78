//! The driver's hands: runs the effects `App::update` asks for — readings through the saved-run
//! seam (each section written to the store as it lands, its event forwarded only then), and
//! history, reading, stats, delete and export through the store's single writer — and reports
//! back as messages. Nothing here decides anything; the app does.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::{JoinHandle, JoinSet};
use tokio_util::sync::CancellationToken;

use super::app::{Effect, ExportFormat, Msg, ProviderLine};
use super::screens::history::HistoryRow;
use crate::cli::doctor::{checks, list_models};
use crate::cli::{Context, EndpointArgs};
use crate::config::Price;
use crate::config::save_provider;
use crate::events::SectionEvent;
use crate::oracle::Reading;
use crate::plan::Section;
use crate::reading::{Engine, SavedRun, cast_saved, retry_saved, saved_report, stored_reading};
use crate::report::{self, ReadingReport, SectionStatus};
use crate::store::{HistoryFilter, StoreError, Writer};

/// Runs effects and reports on `tx`.
pub struct Runner {
    engine: Engine,
    writer: Writer,
    prices: Arc<BTreeMap<String, Price>>,
    export_dir: PathBuf,
    tx: mpsc::UnboundedSender<Msg>,
    runs: HashMap<u64, CancellationToken>,
    tasks: JoinSet<()>,
    /// `--home`, for settings resolved again when the provider changes.
    home: Option<PathBuf>,
    /// The engine of a provider just chosen, once its settings are resolved.
    pending_engine: Option<tokio::sync::oneshot::Receiver<Engine>>,
}

impl Runner {
    /// A runner for `engine` and the store behind `writer`, reporting on `tx`; exports go to
    /// `export_dir`.
    pub fn new(
        engine: Engine,
        writer: Writer,
        prices: BTreeMap<String, Price>,
        export_dir: PathBuf,
        tx: mpsc::UnboundedSender<Msg>,
    ) -> Self {
        Self {
            engine,
            writer,
            prices: Arc::new(prices),
            export_dir,
            tx,
            runs: HashMap::new(),
            tasks: JoinSet::new(),
            home: None,
            pending_engine: None,
        }
    }

    /// Settings (and a changed provider's) are resolved under `home`.
    pub fn with_home(self, home: Option<PathBuf>) -> Self {
        Self { home, ..self }
    }

    /// The settings of `provider` (with `model`), as the command line would resolve them.
    fn context(
        home: Option<&Path>,
        provider: &str,
        model: Option<String>,
    ) -> Result<Context, String> {
        let args = EndpointArgs {
            provider: Some(provider.to_owned()),
            model,
            ..EndpointArgs::default()
        };
        Context::with_endpoint(home, &args, None).map_err(|e| e.message)
    }

    /// Runs one effect (anything slow happens on a task).
    pub fn apply(&mut self, effect: Effect) {
        // Forget the tasks that have ended.
        while let Some(Ok(())) = self.tasks.try_join_next() {}
        // A provider chosen since answers every reading started from now on.
        if let Some(rx) = self.pending_engine.as_mut() {
            match rx.try_recv() {
                Ok(engine) => {
                    self.engine = engine;
                    self.pending_engine = None;
                }
                Err(tokio::sync::oneshot::error::TryRecvError::Closed) => {
                    self.pending_engine = None
                }
                Err(tokio::sync::oneshot::error::TryRecvError::Empty) => {}
            }
        }
        let writer = self.writer.clone();
        let tx = self.tx.clone();
        match effect {
            Effect::Start {
                run,
                question,
                reading,
                sections: _,
            } => {
                let (engine, cancel) = (self.engine.clone(), self.token(run));
                self.tasks.spawn(async move {
                    let (events, forwarder) = forward(run, tx.clone());
                    let result =
                        cast_saved(&engine, &writer, reading, question.into(), events, cancel)
                            .await;
                    finish(run, result, forwarder, &tx).await;
                });
            }
            Effect::Retry { run, id: None, .. } => {
                let _ = tx.send(Msg::Error(
                    "this reading was never saved, so it cannot be retried".into(),
                ));
                let _ = tx.send(Msg::RunEnded {
                    run,
                    cancelled: true,
                });
            }
            Effect::Retry {
                run, id: Some(id), ..
            } => {
                let (engine, cancel) = (self.engine.clone(), self.token(run));
                self.tasks.spawn(async move {
                    let (events, forwarder) = forward(run, tx.clone());
                    let result = retry_saved(&engine, &writer, id, events, cancel).await;
                    finish(run, result, forwarder, &tx).await;
                });
            }
            Effect::Resume { run, id } => {
                let (engine, cancel) = (self.engine.clone(), self.token(run));
                self.tasks.spawn(async move {
                    match load_for_retry(&writer, id).await {
                        Ok((report, reading, sections)) => {
                            let _ = tx.send(Msg::Resumed {
                                run,
                                report: Box::new(report),
                                reading: Arc::new(reading),
                                sections,
                            });
                        }
                        Err(e) => {
                            let _ = tx.send(Msg::Error(e.to_string()));
                            return;
                        }
                    }
                    let (events, forwarder) = forward(run, tx.clone());
                    let result = retry_saved(&engine, &writer, id, events, cancel).await;
                    finish(run, result, forwarder, &tx).await;
                });
            }
            Effect::Cancel { run } => {
                if let Some(token) = self.runs.get(&run) {
                    token.cancel();
                }
            }
            Effect::LoadHistory => {
                let prices = self.prices.clone();
                self.tasks.spawn(async move {
                    let msg = match writer.call(move |s| history(s, &prices)).await {
                        Ok(rows) => Msg::History(rows),
                        Err(e) => Msg::Error(e.to_string()),
                    };
                    let _ = tx.send(msg);
                });
            }
            Effect::Open { id } => self.load(id, Msg::Reading),
            Effect::LoadStats { id } => self.load(id, Msg::Stats),
            Effect::Delete { id } => {
                self.tasks.spawn(async move {
                    let msg = match writer.call(move |s| s.delete(id)).await {
                        Ok(()) => Msg::Deleted(id),
                        Err(e) => Msg::Error(e.to_string()),
                    };
                    let _ = tx.send(msg);
                });
            }
            Effect::Export { id, format } => {
                let dir = self.export_dir.clone();
                self.tasks.spawn(async move {
                    let msg = match writer.call(move |s| saved_report(s, id)).await {
                        Ok(r) => match export(&r, format, &dir) {
                            Ok(path) => Msg::Exported(path),
                            Err(e) => Msg::Error(e),
                        },
                        Err(e) => Msg::Error(e.to_string()),
                    };
                    let _ = tx.send(msg);
                });
            }
            Effect::LoadModels { provider } => {
                let home = self.home.clone();
                self.tasks.spawn(async move {
                    let result = match Self::context(home.as_deref(), &provider, None) {
                        Ok(ctx) => list_models(&ctx)
                            .await
                            .map(|(_, m)| m)
                            .map_err(|e| e.message),
                        Err(e) => Err(e),
                    };
                    let _ = tx.send(Msg::Models { provider, result });
                });
            }
            Effect::Doctor { provider, model } => {
                let home = self.home.clone();
                self.tasks.spawn(async move {
                    let found = match Self::context(home.as_deref(), &provider, model) {
                        Ok(mut ctx) => checks(&mut ctx).await.map_err(|e| e.message),
                        Err(e) => Err(e),
                    };
                    let lines = match found {
                        Ok(checks) => checks
                            .into_iter()
                            .map(|c| (c.ok, format!("{}: {}", c.check, c.detail), c.fix))
                            .collect(),
                        Err(e) => vec![(false, e, None)],
                    };
                    let _ = tx.send(Msg::Doctor { provider, lines });
                });
            }
            Effect::UseProvider { provider, model } => {
                let home = self.home.clone();
                let (engine_tx, engine_rx) = tokio::sync::oneshot::channel();
                self.tasks.spawn(async move {
                    match use_provider(home.as_deref(), &provider, model).await {
                        Ok((engine, line)) => {
                            // The engine first: the next effect (a cast) finds it in place.
                            let _ = engine_tx.send(engine);
                            let _ = tx.send(Msg::ProviderChanged(line));
                        }
                        Err(e) => {
                            let _ = tx.send(Msg::Error(e));
                        }
                    }
                });
                self.pending_engine = Some(engine_rx);
            }
            Effect::Quit => {
                for token in self.runs.values() {
                    token.cancel();
                }
            }
        }
    }

    fn token(&mut self, run: u64) -> CancellationToken {
        self.runs.entry(run).or_default().clone()
    }

    fn load(&mut self, id: i64, wrap: fn(Box<ReadingReport>) -> Msg) {
        let (writer, tx) = (self.writer.clone(), self.tx.clone());
        self.tasks.spawn(async move {
            let msg = match writer.call(move |s| saved_report(s, id)).await {
                Ok(r) => wrap(Box::new(r)),
                Err(e) => Msg::Error(e.to_string()),
            };
            let _ = tx.send(msg);
        });
    }

    /// Cancels whatever is in flight and waits (up to `grace`) for it to settle, so the store
    /// records how every section ended and the reading's status.
    pub async fn shutdown(mut self, grace: Duration) {
        for token in self.runs.values() {
            token.cancel();
        }
        let _ = tokio::time::timeout(grace, async {
            while self.tasks.join_next().await.is_some() {}
        })
        .await;
    }
}

/// Keeps `provider` and `model` in config.toml and resolves the engine that answers with them.
async fn use_provider(
    home: Option<&Path>,
    provider: &str,
    model: String,
) -> Result<(Engine, ProviderLine), String> {
    // Resolved first: a provider that cannot work (no key) is refused before the file changes.
    let mut ctx = Runner::context(home, provider, Some(model.clone()))?;
    save_provider(&ctx.dirs.config_file(), provider, &model).map_err(|e| e.to_string())?;
    ctx.fit_to_server().await;
    let mut engine = ctx.engine.clone();
    super::pace(&mut engine);
    let info = engine.provider.info();
    let line = ProviderLine {
        name: ctx.settings.preset.clone(),
        ..ProviderLine::new(&info, None)
    };
    Ok((engine, line))
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
            if !saved {
                saved = true;
                let _ = tx.send(Msg::Saved {
                    run,
                    id: event.reading,
                });
            }
            let _ = tx.send(Msg::Section { run, event });
        }
    });
    (etx, task)
}

/// Reports the end of run `run` (after its forwarder has passed every event on).
async fn finish(
    run: u64,
    result: Result<SavedRun, StoreError>,
    forwarder: JoinHandle<()>,
    tx: &mpsc::UnboundedSender<Msg>,
) {
    let _ = forwarder.await;
    let cancelled = match result {
        Ok(saved) => {
            let _ = tx.send(Msg::Saved { run, id: saved.id });
            !saved.summary.cancelled().is_empty()
        }
        Err(e) => {
            let _ = tx.send(Msg::Error(e.to_string()));
            true
        }
    };
    let _ = tx.send(Msg::RunEnded { run, cancelled });
}

/// A stored reading, its cast and the sections a retry will run.
async fn load_for_retry(
    writer: &Writer,
    id: i64,
) -> Result<(ReadingReport, Reading, Vec<Section>), StoreError> {
    writer
        .call(move |s| {
            let report = saved_report(s, id)?;
            let reading = stored_reading(&s.reading(id)?)?;
            let missing = report
                .sections
                .iter()
                .filter(|sec| sec.status != SectionStatus::Complete)
                .filter_map(|sec| Section::from_id(sec.id))
                .collect();
            Ok((report, reading, missing))
        })
        .await
}

/// The history rows, newest first, with each reading's cost when its models have prices.
fn history(
    store: &crate::store::Store,
    prices: &BTreeMap<String, Price>,
) -> Result<Vec<HistoryRow>, StoreError> {
    let listed = store.list(&HistoryFilter::default())?;
    let mut costs: HashMap<i64, Option<f64>> = HashMap::new();
    if !prices.is_empty() {
        for (id, meta) in store.part_metas(None)? {
            let part = match (&meta.model, meta.billed()) {
                (Some(m), Some(usage)) => crate::config::cost(prices, m, &usage),
                _ => None,
            };
            let entry = costs.entry(id).or_insert(Some(0.0));
            *entry = entry.zip(part).map(|(a, b)| a + b);
        }
    }
    Ok(listed
        .into_iter()
        .map(|l| HistoryRow {
            id: l.row.id,
            created_at: crate::store::rfc3339(l.row.created_at),
            question: l.question.unwrap_or_else(|e| format!("⚠ {e}")),
            primary: l.row.primary,
            resulting: l.row.resulting,
            status: l.row.status,
            done: usize::try_from(l.row.sections_done).unwrap_or(0),
            planned: usize::try_from(l.row.sections_planned).unwrap_or(0),
            tokens: l.row.total_tokens,
            cost: costs.get(&l.row.id).copied().flatten(),
        })
        .collect())
}

/// Writes `r` to `iching-<id>.<ext>` in `dir`; returns the path.
fn export(
    r: &ReadingReport,
    format: ExportFormat,
    dir: &std::path::Path,
) -> Result<PathBuf, String> {
    let text = match format {
        ExportFormat::Markdown => report::to_markdown_doc(r),
        ExportFormat::Html => report::to_html_page(r),
    };
    let path = dir.join(format!(
        "iching-{}.{}",
        r.id.unwrap_or(0),
        format.extension()
    ));
    // The export is the reading in the clear: readable by its owner only, and never written over
    // another file.
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let write = |path: &std::path::Path| -> std::io::Result<()> {
        use std::io::Write;
        options.open(path)?.write_all(text.as_bytes())
    };
    match write(&path) {
        Ok(()) => Ok(path),
        Err(e) => Err(if e.kind() == std::io::ErrorKind::AlreadyExists {
            format!(
                "{} already exists; move it away to export again",
                path.display()
            )
        } else {
            format!("cannot write {}: {e}", path.display())
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn choosing_a_provider_keeps_it_in_config_toml_and_builds_its_engine() {
        let home = tempfile::tempdir().unwrap();
        let config = home.path().join("config.toml");
        // Nothing listens on this port: the slot count is simply not found.
        std::fs::write(
            &config,
            "# my settings\nmax_tokens = 900\n\n[providers.box]\nbase_url = \"http://127.0.0.1:9/v1\"\n",
        )
        .unwrap();
        let (engine, line) = use_provider(Some(home.path()), "box", "qwen2.5:3b".into())
            .await
            .unwrap();
        assert_eq!(line.name, "box");
        assert_eq!(line.model, "qwen2.5:3b");
        assert_eq!(engine.provider.info().model, "qwen2.5:3b");
        assert_eq!(engine.max_tokens, 900);
        let text = std::fs::read_to_string(&config).unwrap();
        assert!(
            text.starts_with("provider = \"box\"\nmodel = \"qwen2.5:3b\"\n# my settings"),
            "{text}"
        );
        // A provider that cannot work is refused before the file changes.
        let Err(err) = use_provider(Some(home.path()), "nosuch", "m".into()).await else {
            panic!("an unknown provider was taken");
        };
        assert!(err.contains("unknown provider"), "{err}");
        assert_eq!(std::fs::read_to_string(&config).unwrap(), text);
        // Offline needs nothing.
        let (engine, line) = use_provider(Some(home.path()), "offline", "legge-1882".into())
            .await
            .unwrap();
        assert_eq!(engine.provider.info().name, "offline");
        assert_eq!(line.name, "offline");
    }
}
