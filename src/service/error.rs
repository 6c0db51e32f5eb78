//! Why a Service operation failed: a variant for each thing that can happen, carrying what it
//! is about (which file, which limit, which key), and the words said of it, here and nowhere
//! else. Front ends decide what to do from the variant ([`ServiceError::is_usage`]), never from
//! the words.

use std::path::PathBuf;
use std::sync::Arc;

use crate::config::ConfigError;
use crate::events::SectionFailure;
use crate::llm::ProviderError;
use crate::model::QueryError;
use crate::store::{NoteError, StoreError};

use super::BACKUP_PASSPHRASE_ENV;

/// A path as it is shown in a message: one word for a shell, its control characters visible.
fn shown(path: &std::path::Path) -> String {
    crate::store::perms::sh_quote(path.as_os_str())
}

/// What the operating system said, kept whole (its kind, its words).
#[derive(Debug, Clone)]
pub struct IoFailure(Arc<std::io::Error>);

impl IoFailure {
    /// What kind of failure.
    pub fn kind(&self) -> std::io::ErrorKind {
        self.0.kind()
    }
}

impl From<std::io::Error> for IoFailure {
    fn from(e: std::io::Error) -> Self {
        Self(Arc::new(e))
    }
}

impl std::fmt::Display for IoFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// What is wrong with `--home`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HomeProblem {
    /// It is a file.
    IsAFile,
    /// A reading command's home does not exist.
    Missing,
    /// It holds other things but no store.
    HoldsNoStore,
}

/// Why a file is not a backup.
#[derive(Debug, Clone)]
pub enum NotABackup {
    /// It is a folder or a device.
    NotAFile,
    /// It cannot be read.
    Unreadable(IoFailure),
    /// It holds no iching store.
    NoStore,
    /// It is damaged or no store of this version: the store's refusal (a
    /// [`StoreError::Corrupt`], whose reason says how).
    Damaged(StoreError),
}

impl std::fmt::Display for NotABackup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NotABackup::NotAFile => f.write_str("it is not a file"),
            NotABackup::Unreadable(e) => e.fmt(f),
            NotABackup::NoStore => f.write_str("it holds no iching store"),
            NotABackup::Damaged(StoreError::Corrupt { reason, .. }) => f.write_str(reason),
            NotABackup::Damaged(other) => other.fmt(f),
        }
    }
}

/// A passphrase typed at the terminal that cannot be used.
#[derive(Debug, Clone)]
pub enum PassphraseProblem {
    /// The two entries of a new passphrase differ.
    Differ,
    /// Enter was pressed on nothing.
    Empty,
    /// Ctrl-C, Ctrl-D or Esc.
    Cancelled,
    /// The terminal could not be read.
    Unreadable(IoFailure),
}

/// Why a key pasted for a provider cannot be kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyProblem {
    /// Nothing was pasted.
    Empty,
    /// Spaces or control characters inside it: more than a key was pasted.
    NotAKey,
    /// Longer than any key handed out.
    TooLong,
    /// The provider takes no key from iching (a local server, offline, a table of the user's).
    NotHosted,
}

/// A step of the terminal app that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TerminalStep {
    /// Taking the terminal (raw mode, the alternate screen).
    Open,
    /// Drawing or reading keys.
    Run,
}

/// A Service operation that stopped without an answer because the task running it panicked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// A follow-up, before it started.
    Followup,
    /// A backup being written.
    Backup,
}

/// Why an operation failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ServiceError {
    /// The store refused or failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The settings cannot work.
    #[error(transparent)]
    Config(Arc<ConfigError>),
    /// `--home` cannot be used for this command.
    #[error("{}", home_words(.problem, .path))]
    Home {
        /// What is wrong.
        problem: HomeProblem,
        /// The folder given.
        path: PathBuf,
    },
    /// A question or situation as typed cannot be asked.
    #[error(transparent)]
    Query(#[from] QueryError),
    /// A follow-up question as typed cannot be asked.
    #[error("follow-up: {0}")]
    FollowupQuery(QueryError),
    /// A note as typed cannot be kept.
    #[error(transparent)]
    Note(#[from] NoteError),
    /// An operation that needs a model ran before one was set up.
    #[error("no provider is set up for this operation")]
    NotConfigured,
    /// The endpoint's settings cannot make a client (a bad URL, a key that is not a header).
    #[error("{}", .0.message)]
    Endpoint(ProviderError),
    /// The endpoint did not list its models.
    #[error("cannot list the models: {}", .0.message)]
    Models(ProviderError),
    /// The follow-up's request failed for good.
    #[error("the follow-up was not answered: {}", .0.error)]
    FollowupUnanswered(Box<SectionFailure>),
    /// The file given as a backup is not there.
    #[error("there is no file {}: give the path of a file made by `iching backup`", shown(.file))]
    NoSuchBackup {
        /// The path given.
        file: PathBuf,
    },
    /// A file given as a backup is not one.
    #[error("{} is not an iching backup ({why}); give a file made by `iching backup`", shown(.file))]
    NotABackup {
        /// The file.
        file: PathBuf,
        /// Why not.
        why: NotABackup,
    },
    /// A passphrase backup, and no passphrase to open it with.
    #[error(
        "{} is sealed with a passphrase: set {BACKUP_PASSPHRASE_ENV} or run this at a terminal to be asked for it",
        shown(.0)
    )]
    BackupNeedsPassphrase(PathBuf),
    /// A key-file backup that this store's key file does not open.
    #[error(
        "{} is not sealed with this store's key file; give the key file it was made with: --key FILE",
        shown(.0)
    )]
    BackupNotThisKey(PathBuf),
    /// The key file given with `--key` is not there.
    #[error(
        "the key file {} given with --key does not exist; give the key file the backup was made with (iching.key from the store that made it)",
        shown(.0)
    )]
    BackupKeyMissing(PathBuf),
    /// The passphrase given does not open the backup.
    #[error(
        "the passphrase does not open the backup {}; try again with its passphrase ({BACKUP_PASSPHRASE_ENV} or the prompt)",
        shown(.0)
    )]
    BackupWrongPassphrase(PathBuf),
    /// A reading never saved has no id to name its export by.
    #[error(
        "this reading was not saved, so it has no id to name the file by; only saved readings can be exported"
    )]
    ExportUnsaved,
    /// The export file could not be written.
    #[error("cannot write {}: {error}", shown(.path))]
    ExportWrite {
        /// The file.
        path: PathBuf,
        /// Why.
        error: IoFailure,
    },
    /// Every name an export may take is taken.
    #[error(
        "{names} exports named like {} are already in {}; move some away to export again",
        shown(.first),
        shown(.dir)
    )]
    ExportNamesTaken {
        /// The first name tried (`iching-7.md`, `iching-journal.html`).
        first: PathBuf,
        /// The folder.
        dir: PathBuf,
        /// How many names were tried.
        names: u32,
    },
    /// The file an export was told to write is already there.
    #[error(
        "{} already exists; an export never writes over a file: give another name, or leave out --output to have one chosen",
        shown(.0)
    )]
    ExportExists(PathBuf),
    /// A journal export found no reading to write.
    #[error("no reading to export{}", if *.0 { " (none matches the filter)" } else { ": cast one first" })]
    JournalEmpty(bool),
    /// A passphrase typed at the terminal cannot be used.
    #[error("{}", passphrase_words(.0))]
    Passphrase(PassphraseProblem),
    /// The terminal app was started without a terminal.
    #[error(
        "the terminal app needs a terminal; in scripts use `iching cast \"your question\"` (see `iching --help`)"
    )]
    NoTerminal,
    /// The terminal failed under the app.
    #[error("{}: {error}", match .step { TerminalStep::Open => "cannot open the terminal", TerminalStep::Run => "the terminal failed" })]
    Terminal {
        /// What it was doing.
        step: TerminalStep,
        /// Why.
        error: IoFailure,
    },
    /// `bench` was given no endpoint to measure (the settings answer offline).
    #[error(
        "bench measures an endpoint: give --base-url URL (and OPENAI_API_KEY if it needs one), \
         e.g. a local test server: cargo run --release --features examples --example fake_openai -- --latency-ms 100"
    )]
    BenchOffline,
    /// A hosted provider was chosen in the terminal app without its key.
    #[error(
        "the {provider} provider needs an API key: paste one in the provider box (F7, then k), or set {var} before starting iching"
    )]
    KeyNeeded {
        /// The preset.
        provider: String,
        /// The environment variable its key comes from.
        var: String,
    },
    /// A local server chosen in the terminal app is not running.
    #[error("nothing at {address}: {start}")]
    NothingListening {
        /// `host:port`, as the base URL names it.
        address: String,
        /// What to start ("start Ollama first (ollama serve)").
        start: String,
    },
    /// A key pasted for `provider` cannot be kept.
    #[error("{}", key_words(.problem, .provider))]
    ProviderKey {
        /// The provider.
        provider: String,
        /// What is wrong.
        problem: KeyProblem,
    },
    /// The task running an operation panicked.
    #[error("{} stopped before it finished (a bug: iching.log may say more)", match .0 { Stopped::Followup => "the follow-up", Stopped::Backup => "the backup" })]
    Stopped(Stopped),
}

fn home_words(problem: &HomeProblem, path: &std::path::Path) -> String {
    let path = shown(path);
    match problem {
        HomeProblem::IsAFile => {
            format!("--home {path} is a file, not a folder; pass the folder that holds iching.db")
        }
        HomeProblem::Missing => format!(
            "--home {path} does not exist, so it holds no readings; check the path (a new store is made only by a command that writes, such as `iching cast`)"
        ),
        HomeProblem::HoldsNoStore => format!(
            "--home {path} holds no iching store (no {}) but other files; check the path (a new store is made in a new or empty folder)",
            crate::store::DB_FILE
        ),
    }
}

fn key_words(problem: &KeyProblem, provider: &str) -> String {
    let provider = crate::text::sanitize_inline(provider);
    match problem {
        KeyProblem::Empty => "nothing was pasted: paste the key, then Enter".to_owned(),
        KeyProblem::NotAKey => {
            "that is not a key alone (it has spaces or control characters inside): paste just the key"
                .to_owned()
        }
        KeyProblem::TooLong => format!(
            "that is longer than an API key ({} bytes at most): paste just the key",
            crate::store::MAX_PROVIDER_KEY_BYTES
        ),
        KeyProblem::NotHosted => format!(
            "{provider} takes no key from iching: only the hosted presets do (a table of your own names its variable with api_key_env)"
        ),
    }
}

fn passphrase_words(p: &PassphraseProblem) -> String {
    match p {
        PassphraseProblem::Differ => "the two passphrases differ; nothing was changed".into(),
        PassphraseProblem::Empty => "no passphrase was typed".into(),
        PassphraseProblem::Cancelled => "cancelled".into(),
        PassphraseProblem::Unreadable(e) => format!("cannot read the passphrase: {e}"),
    }
}

impl ServiceError {
    /// Whether the user can fix it by what they type: exit status 2 for a command.
    pub fn is_usage(&self) -> bool {
        match self {
            ServiceError::Store(e) => e.is_usage(),
            ServiceError::Config(e) => matches!(
                **e,
                ConfigError::Invalid(_)
                    | ConfigError::Parse { .. }
                    | ConfigError::Setting { .. }
                    | ConfigError::MissingKey { .. }
                    | ConfigError::Unsafe(_)
            ),
            ServiceError::Home { .. }
            | ServiceError::Query(_)
            | ServiceError::FollowupQuery(_)
            | ServiceError::Note(_)
            | ServiceError::Endpoint(_)
            | ServiceError::NotABackup { .. }
            | ServiceError::NoSuchBackup { .. }
            | ServiceError::BackupNeedsPassphrase(_)
            | ServiceError::BackupNotThisKey(_)
            | ServiceError::BackupKeyMissing(_)
            | ServiceError::BackupWrongPassphrase(_)
            | ServiceError::Passphrase(
                PassphraseProblem::Differ | PassphraseProblem::Empty | PassphraseProblem::Cancelled,
            )
            | ServiceError::NoTerminal
            | ServiceError::ExportExists(_)
            | ServiceError::JournalEmpty(_)
            | ServiceError::BenchOffline
            | ServiceError::KeyNeeded { .. }
            | ServiceError::NothingListening { .. }
            | ServiceError::ProviderKey { .. } => true,
            ServiceError::NotConfigured
            | ServiceError::Models(_)
            | ServiceError::FollowupUnanswered(_)
            | ServiceError::ExportUnsaved
            | ServiceError::ExportWrite { .. }
            | ServiceError::ExportNamesTaken { .. }
            | ServiceError::Passphrase(PassphraseProblem::Unreadable(_))
            | ServiceError::Terminal { .. }
            | ServiceError::Stopped(_) => false,
        }
    }
}

/// The same variant saying the same: what tests compare (an `io::Error` has no equality of
/// its own).
impl PartialEq for ServiceError {
    fn eq(&self, other: &Self) -> bool {
        std::mem::discriminant(self) == std::mem::discriminant(other)
            && self.to_string() == other.to_string()
    }
}

impl From<ConfigError> for ServiceError {
    fn from(e: ConfigError) -> Self {
        ServiceError::Config(Arc::new(e))
    }
}
