//! The application service: the one seam both front ends stand on. A [`Service`] owns the store
//! (through its single writer), the prices and, once [`Service::configure`]d, the settings and
//! the engine; every operation a user can ask for — cast, retry, history, a report, stats,
//! delete, export — is a method here returning `Result<_, ServiceError>`. The CLI formats what
//! comes back; the TUI's effect runner turns it into a message naming the operation.
//!
//! [`setup`] resolves settings into an engine (the one resolution both front ends use);
//! [`doctor`] checks an endpoint; `providers` chooses who answers (the terminal app's picker);
//! `batch` runs many readings under one limit; `bench` times passes at an endpoint. The front
//! ends import nothing below the Service: what they name of the layers under it is re-exported
//! here as its vocabulary.

mod batch;
mod bench;
pub mod doctor;
mod error;
mod export;
mod followups;
mod journal;
mod providers;
pub mod setup;
mod stats;
mod sync;
mod upkeep;

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use zeroize::Zeroizing;

use crate::events::SectionEvent;
use crate::generate::{cast_saved, retry_saved, saved_report, stored_reading};
use crate::model::{Query, ReadingId, SectionStatus};
use crate::oracle::Reading;
use crate::report::ReadingReport;
use crate::store::{
    AllSectionFigures, FollowupFigures, ReadingRow, SectionFigures, Store, Unlock, Writer,
    WriterThread,
};

// The Service's vocabulary: the types, names and rules its operations take and give back,
// re-exported so that the front ends name them through the Service and import nothing below it.
pub use crate::config::{Dirs, MAX_CONCURRENCY, Overrides, Prices};
pub use crate::generate::SavedRun;
pub use crate::llm::ProviderInfo;
pub use crate::llm::offline::MODEL as OFFLINE_MODEL;
pub use crate::plan::{Section, plan};
pub use crate::store::perms::sh_quote;
pub use crate::store::{
    DB_FILE, HistoryFilter, KEY_FILE, KeyMode, Listed, MAX_NOTE_CHARS, NewSecret, NoteCounts,
    NoteKind, OLD_KEY_PREFIX, PASSPHRASE_ENV, Rekeyed, StoreError, passphrase_strength,
    validate_note,
};

pub use crate::store::{SyncStatus, Synced};
pub use batch::{BatchEvent, BatchJob, JobOutcome, planned_sections};
pub use bench::{Bench, Pass};
pub use doctor::Check;
pub use error::{
    HomeProblem, IoFailure, KeyProblem, NotABackup, PassphraseProblem, ServiceError, Stopped,
    TerminalStep,
};
pub use export::{ExportTo, JournalExport, export};
pub use followups::Asked;
pub use providers::{LANGUAGES, ProviderChoice, ProviderEntry, pasted_keys_at};
pub use setup::Setup;
pub use stats::{
    AllStats, CLASSIC_TEXT, FollowupTotals, ModelTotals, ReadingStats, Row, SectionAverages,
    Skipped, Totals, is_classic_text,
};
pub use sync::{KEY_CHECK_FILE, Refused, SYNC_PASSPHRASE_ENV, SyncReport};
pub use upkeep::{BACKUP_PASSPHRASE_ENV, BackupKey, FreshHome};

/// What a question that fails its integrity check is shown as, wherever it would be shown.
pub const INTEGRITY_PLACEHOLDER: &str = "(integrity check failed)";

/// What an operation needs of the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// A store that must be there already (to read it, or to change what it holds: delete,
    /// notes, keys): a `--home` that does not exist is a typo, not a new store; a store that
    /// cannot be written opens, and what would write says why it cannot.
    Existing,
    /// May make a new store (cast, batch): a missing `--home` is created, and a store that
    /// cannot be written is refused at once.
    Create,
    /// The terminal app: writes when it can; on a store that cannot be written it still opens,
    /// to browse, and every write says why it cannot.
    Browse,
}

/// Asks for the passphrase of the database at the path (a terminal prompt), told which try it
/// is (1 to 3).
pub type AskPassphrase<'a> = &'a dyn Fn(&Path, u32) -> Result<Zeroizing<String>, ServiceError>;

/// One row of the history, with its cost when every model that answered has a price.
#[derive(Debug, Clone)]
pub struct HistoryEntry {
    /// The reading's columns and question.
    pub listed: Listed,
    /// Dollars, when priced.
    pub cost: Option<f64>,
    /// Whether the classic text answered it ([`is_classic_text`]): no tokens or cost to show.
    pub classic: bool,
}

/// One reading's figures, from the plain columns (nothing is decrypted).
#[derive(Debug, Clone)]
pub struct ReadingFigures {
    /// The reading's columns.
    pub row: ReadingRow,
    /// Its sections' figures, in the order they finished.
    pub parts: Vec<SectionFigures>,
    /// Its follow-ups' figures, oldest first.
    pub followups: Vec<crate::store::FollowupFigures>,
}

/// A stored reading about to be retried: how it stands and what will run again.
#[derive(Debug, Clone)]
pub struct Resume {
    /// The reading as stored.
    pub report: ReadingReport,
    /// Its cast.
    pub reading: Arc<Reading>,
    /// The sections without a complete part.
    pub missing: Vec<Section>,
}

/// The application service. See the module docs.
pub struct Service {
    /// `--home`, where settings are resolved again when the provider changes.
    home: Option<PathBuf>,
    dirs: Dirs,
    writer: Writer,
    thread: Option<WriterThread>,
    /// The prices, and why config.toml could not be read when it could not.
    prices: RwLock<(Arc<Prices>, Option<ServiceError>)>,
    /// Where exports go unless told (`export_dir` in config.toml, else the documents folder).
    export_dir: PathBuf,
    /// Why nothing can be written, when nothing can (a read-only medium, a full disk).
    read_only: Option<StoreError>,
    /// What opening the store changed that the user should hear of.
    notices: Vec<String>,
    /// The settings and engine, once configured; replaced whole when the provider changes.
    setup: RwLock<Option<Arc<Setup>>>,
    /// The API keys pasted in the terminal app, by preset, as the store holds them sealed.
    pasted: RwLock<std::collections::BTreeMap<String, crate::model::Secret>>,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service")
            .field("dirs", &self.dirs)
            .field("read_only", &self.read_only)
            .finish_non_exhaustive()
    }
}

/// Checks `--home` before anything is created there, the one rule every command and the
/// terminal app follow: a file is never a home; a folder that holds other things but no store
/// is a wrong path ([`check_home_holds_store`]); and for commands that need a store already, a
/// folder that does not exist is a typo, not a new store.
pub fn check_home(home: Option<&Path>, access: Access) -> Result<(), ServiceError> {
    let Some(home) = home.filter(|h| !h.as_os_str().is_empty()) else {
        return Ok(());
    };
    match std::fs::metadata(home) {
        Ok(m) if m.is_dir() => check_home_holds_store(Some(home)),
        Ok(_) => Err(ServiceError::Home {
            problem: HomeProblem::IsAFile,
            path: home.to_path_buf(),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && access == Access::Existing => {
            Err(ServiceError::Home {
                problem: HomeProblem::Missing,
                path: home.to_path_buf(),
            })
        }
        Err(_) => Ok(()),
    }
}

/// A `--home` folder that holds other things but no store (`--home ~`) is a wrong path, where
/// opening would leave a key file and a database among them (or find no readings): refused
/// alike by every command, whether it reads, writes or restores. An empty folder is a new home
/// (where reading finds no readings); so is one holding only what iching writes there (its
/// log, lock, config, prompts, kept keys, backups and exports, all named `iching...`), iching
/// backups under any name (copied there to be restored) or hidden entries (`.DS_Store`, `.git`).
pub fn check_home_holds_store(home: Option<&Path>) -> Result<(), ServiceError> {
    let Some(home) = home.filter(|h| !h.as_os_str().is_empty()) else {
        return Ok(());
    };
    if home.join(crate::store::DB_FILE).exists() || home.join(crate::store::KEY_FILE).exists() {
        return Ok(());
    }
    let Ok(entries) = std::fs::read_dir(home) else {
        return Ok(());
    };
    let foreign = entries.flatten().any(|e| {
        let name = e.file_name();
        let name = name.to_string_lossy();
        !(name.starts_with('.')
            || name.starts_with("iching")
            || name == crate::config::CONFIG_FILE
            || name == crate::config::PROMPTS_DIR
            || is_a_backup(&e))
    });
    if foreign {
        return Err(ServiceError::Home {
            problem: HomeProblem::HoldsNoStore,
            path: home.to_path_buf(),
        });
    }
    Ok(())
}

/// Whether `entry` is a file holding an iching store (a backup copied there to be restored,
/// under any name). Only a regular file that begins as SQLite's do is opened to look.
fn is_a_backup(entry: &std::fs::DirEntry) -> bool {
    use std::io::Read as _;
    if !entry.file_type().is_ok_and(|t| t.is_file()) {
        return false;
    }
    let mut head = [0u8; 16];
    let sqlite = std::fs::File::open(entry.path())
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok()
        && &head == b"SQLite format 3\0";
    sqlite && matches!(crate::store::key_mode_of(&entry.path()), Ok(Some(_)))
}

impl Service {
    /// Opens the store under `home` (the platform's folders when `None`): with the passphrase
    /// from `ICHING_PASSPHRASE`, or, when the database needs one and none was given, from `ask`
    /// (three tries). Prices come from config.toml.
    pub fn open(
        home: Option<&Path>,
        access: Access,
        ask: Option<AskPassphrase<'_>>,
    ) -> Result<Self, ServiceError> {
        check_home(home, access)?;
        let dirs = Dirs::resolve(home)?;
        let store = open_store(&dirs.data, ask)?;
        let notices = store.notices().to_vec();
        let read_only = store.why_read_only().cloned();
        if let Some(why) = &read_only
            && access == Access::Create
        {
            return Err(why.clone().into());
        }
        // A config.toml that does not parse leaves reading alone: only what needs its prices
        // or settings reports it.
        let (prices, export_dir, config_problem) =
            match crate::config::FileConfig::load(&dirs.config_file()) {
                Ok(file) => (file.prices, dirs.exports(file.export_dir.as_deref()), None),
                Err(e) => (
                    Prices::default(),
                    dirs.exports(None),
                    Some(ServiceError::from(e)),
                ),
            };
        let pasted = providers::pasted_keys(&store);
        let (writer, thread) = store.into_writer()?;
        Ok(Self {
            home: home.map(Path::to_path_buf),
            dirs,
            writer,
            thread: Some(thread),
            prices: RwLock::new((Arc::new(prices), config_problem)),
            export_dir,
            read_only,
            notices,
            setup: RwLock::new(None),
            pasted: RwLock::new(pasted),
        })
    }

    /// Resolves the settings (flags `o` over the environment over config.toml) and builds the
    /// engine that cast and retry run with; a local server's slot count caps what is in flight.
    pub fn configure(&self, o: Overrides) -> Result<(), ServiceError> {
        let setup = Setup::resolve(self.home.as_deref(), self.with_pasted(o))?;
        self.set_setup(setup);
        Ok(())
    }

    /// Answers with `setup` from now on (runs already started keep theirs).
    pub fn set_setup(&self, setup: Setup) {
        *write(&self.prices) = (Arc::new(setup.settings.prices.clone()), None);
        *write(&self.setup) = Some(Arc::new(setup));
    }

    /// The settings and engine, once configured.
    pub fn setup(&self) -> Option<Arc<Setup>> {
        read(&self.setup).clone()
    }

    /// Where files live.
    pub fn dirs(&self) -> &Dirs {
        &self.dirs
    }

    /// The prices in use.
    pub fn prices(&self) -> Arc<Prices> {
        read(&self.prices).0.clone()
    }

    /// The prices, or why config.toml (where they are kept) cannot be read.
    pub fn prices_checked(&self) -> Result<Arc<Prices>, ServiceError> {
        let (prices, problem) = &*read(&self.prices);
        match problem {
            Some(e) => Err(e.clone()),
            None => Ok(prices.clone()),
        }
    }

    /// What opening the store changed that the user should hear of (a file tightened to 0600).
    pub fn notices(&self) -> &[String] {
        &self.notices
    }

    /// Whether the store opened read-only.
    pub fn read_only(&self) -> bool {
        self.read_only.is_some()
    }

    /// Why nothing can be written, when the store opened read-only.
    pub fn why_read_only(&self) -> Option<&StoreError> {
        self.read_only.as_ref()
    }

    /// Fails with why nothing can be written, when it cannot.
    fn writable(&self) -> Result<(), ServiceError> {
        match &self.read_only {
            Some(why) => Err(why.clone().into()),
            None => Ok(()),
        }
    }

    fn engine(&self) -> Result<crate::generate::Engine, ServiceError> {
        self.setup()
            .map(|s| s.engine.clone())
            .ok_or(ServiceError::NotConfigured)
    }

    /// Saves `reading` and its question as a new reading and generates every planned section
    /// at once, each saved as it lands; events go to `events` as they happen.
    pub async fn cast(
        &self,
        reading: Arc<Reading>,
        query: Arc<Query>,
        events: mpsc::UnboundedSender<SectionEvent>,
        cancel: CancellationToken,
    ) -> Result<SavedRun, ServiceError> {
        self.writable()?;
        let engine = self.engine()?;
        Ok(cast_saved(&engine, &self.writer, reading, query, events, cancel).await?)
    }

    /// Generates again the failed or missing sections of reading `id`.
    pub async fn retry(
        &self,
        id: ReadingId,
        events: mpsc::UnboundedSender<SectionEvent>,
        cancel: CancellationToken,
    ) -> Result<SavedRun, ServiceError> {
        self.writable()?;
        let engine = self.engine()?;
        Ok(retry_saved(&engine, &self.writer, id, events, cancel).await?)
    }

    /// Reading `id` as stored, its cast, and the sections a retry would run.
    pub async fn resume(&self, id: ReadingId) -> Result<Resume, ServiceError> {
        Ok(self
            .writer
            .call(move |s| {
                let report = saved_report(s, id)?;
                let reading = Arc::new(stored_reading(&s.reading(id)?)?);
                let missing = report
                    .sections
                    .iter()
                    .filter(|sec| sec.status != SectionStatus::Complete)
                    .filter_map(|sec| Section::from_id(sec.id))
                    .collect();
                Ok(Resume {
                    report,
                    reading,
                    missing,
                })
            })
            .await?)
    }

    /// The saved readings matching `filter`, newest first, each with its cost when priced.
    pub async fn history(&self, filter: HistoryFilter) -> Result<Vec<HistoryEntry>, ServiceError> {
        let prices = self.prices();
        Ok(self
            .writer
            .call(move |s| {
                let listed = s.list(&filter)?;
                let mut parts: std::collections::HashMap<ReadingId, Vec<SectionFigures>> =
                    std::collections::HashMap::new();
                for (id, meta) in s.all_section_figures()?.parts {
                    parts.entry(id).or_default().push(meta);
                }
                let mut asked: std::collections::HashMap<ReadingId, Vec<FollowupFigures>> =
                    std::collections::HashMap::new();
                for (id, f) in s.all_followup_figures()?.followups {
                    asked.entry(id).or_default().push(f);
                }
                let costs: std::collections::HashMap<ReadingId, Option<f64>> = parts
                    .iter()
                    .map(|(id, p)| {
                        let a = asked.get(id).map(Vec::as_slice).unwrap_or_default();
                        (*id, stats::reading_cost(p, a, &prices))
                    })
                    .collect();
                Ok(listed
                    .into_iter()
                    .map(|listed| {
                        let id = listed.row.id;
                        let p = parts.get(&id).map(Vec::as_slice).unwrap_or_default();
                        let a = asked.get(&id).map(Vec::as_slice).unwrap_or_default();
                        HistoryEntry {
                            cost: costs.get(&id).copied().flatten(),
                            classic: stats::reading_is_classic(&listed.row.model, p, a),
                            listed,
                        }
                    })
                    .collect())
            })
            .await?)
    }

    /// Reading `id` as a report (its text opened and checked).
    pub async fn report(&self, id: ReadingId) -> Result<ReadingReport, ServiceError> {
        Ok(self.writer.call(move |s| saved_report(s, id)).await?)
    }

    /// Reading `id`'s plain columns.
    pub async fn reading_row(&self, id: ReadingId) -> Result<ReadingRow, ServiceError> {
        Ok(self.writer.call(move |s| s.reading(id)).await?)
    }

    /// Reading `id`'s question (opened and checked).
    pub async fn question(&self, id: ReadingId) -> Result<String, ServiceError> {
        Ok(self.writer.call(move |s| s.question(id)).await?)
    }

    /// Reading `id`'s figures, from the plain columns.
    pub async fn figures(&self, id: ReadingId) -> Result<ReadingFigures, ServiceError> {
        Ok(self
            .writer
            .call(move |s| {
                let row = s.reading(id)?;
                let parts = s.section_figures(id)?;
                let followups = s.followup_figures(id)?;
                Ok(ReadingFigures {
                    row,
                    parts,
                    followups,
                })
            })
            .await?)
    }

    /// Every section's figures across all readings, with its reading's id; readings whose
    /// records fail their check are left out and listed in `skipped`.
    pub async fn all_figures(&self) -> Result<AllSectionFigures, ServiceError> {
        Ok(self.writer.call(Store::all_section_figures).await?)
    }

    /// Every follow-up's figures across all readings, with its reading's id; those whose
    /// records fail their check are left out and their readings listed.
    pub async fn all_followup_figures(
        &self,
    ) -> Result<crate::store::AllFollowupFigures, ServiceError> {
        Ok(self.writer.call(Store::all_followup_figures).await?)
    }

    /// Deletes reading `id`; refuses one that is being generated right now.
    pub async fn delete(&self, id: ReadingId) -> Result<(), ServiceError> {
        self.writable()?;
        Ok(self.writer.call(move |s| s.delete(id)).await?)
    }

    /// Lets the writer finish its jobs and close the database.
    pub async fn close(mut self) {
        let thread = self.thread.take();
        drop(self);
        if let Some(thread) = thread {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
    }
}

/// Opens the store in `data_dir`, asking `ask` for the passphrase (three tries) when it needs
/// one that the environment did not give.
fn open_store(data_dir: &Path, ask: Option<AskPassphrase<'_>>) -> Result<Store, ServiceError> {
    match (Store::open(data_dir, Unlock::from_env()), ask) {
        (Err(StoreError::PassphraseNeeded { db }), Some(ask)) => {
            for attempt in 1..=3 {
                let unlock = Unlock {
                    passphrase: Some(ask(&db, attempt)?.into()),
                    new_rounds: None,
                };
                match Store::open(data_dir, unlock) {
                    Err(StoreError::WrongPassphrase { .. }) if attempt < 3 => {}
                    other => return Ok(other?),
                }
            }
            Err(StoreError::WrongPassphrase { db }.into())
        }
        (other, _) => Ok(other?),
    }
}

/// A read lock that a panicked writer does not poison (the values are replaced whole).
fn read<T>(lock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    lock.read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A write lock that a panicked writer does not poison.
fn write<T>(lock: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    lock.write()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ExportFormat;
    use crate::oracle::Cast;
    use crate::plan::plan;

    #[test]
    fn a_report_without_an_id_is_not_exported() {
        let reading = Reading::new(Cast::manual(Cast::parse_lines("9,8,7,7,6,8").unwrap()));
        let mut report = ReadingReport::new(&reading, "Q", &plan(&reading));
        let dir = tempfile::tempdir().unwrap();
        let refused = export(&report, ExportFormat::Markdown, dir.path());
        assert!(
            matches!(&refused, Err(ServiceError::ExportUnsaved)),
            "{refused:?}"
        );
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        report.id = Some(ReadingId(12));
        let path = export(&report, ExportFormat::Markdown, dir.path()).unwrap();
        assert_eq!(path, dir.path().join("iching-12.md"));
    }

    #[test]
    fn exporting_again_takes_the_next_free_name_and_never_overwrites() {
        use std::os::unix::fs::PermissionsExt;
        let reading = Reading::new(Cast::manual(Cast::parse_lines("9,8,7,7,6,8").unwrap()));
        let mut report = ReadingReport::new(&reading, "Q", &plan(&reading));
        report.id = Some(ReadingId(1));
        let dir = tempfile::tempdir().unwrap();
        let first = export(&report, ExportFormat::Markdown, dir.path()).unwrap();
        std::fs::write(&first, "my notes").unwrap();
        let second = export(&report, ExportFormat::Markdown, dir.path()).unwrap();
        let third = export(&report, ExportFormat::Markdown, dir.path()).unwrap();
        assert_eq!(first, dir.path().join("iching-1.md"));
        assert_eq!(second, dir.path().join("iching-1-2.md"));
        assert_eq!(third, dir.path().join("iching-1-3.md"));
        assert_eq!(std::fs::read_to_string(&first).unwrap(), "my notes");
        for p in [&second, &third] {
            let mode = std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}", p.display());
        }
        // The HTML export counts its own names.
        let html = export(&report, ExportFormat::Html, dir.path()).unwrap();
        assert_eq!(html, dir.path().join("iching-1.html"));
    }
}
