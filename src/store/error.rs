//! What can go wrong with the store, each error saying what actually happened and what to do.
//! Only [`StoreError::Corrupt`] suggests moving the file aside: every other failure (permission,
//! a read-only medium, a full disk, a lock) leaves good data where it is.

use std::io;
use std::path::{Path, PathBuf};

use crate::model::ReadingId;

/// A path as a message shows it: one word for a shell, its control characters visible.
fn shown(path: &Path) -> String {
    super::perms::sh_quote(path.as_os_str())
}

/// What can go wrong with the store. Every message says what to do; none contains a key, a
/// passphrase or any sealed text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The data dir cannot be created or written.
    #[error(
        "cannot use {} for the data ({}); pass --home with a directory you can write to",
        shown(.dir), .reason
    )]
    Unwritable {
        /// The directory.
        dir: PathBuf,
        /// Why.
        reason: String,
    },
    /// The database (or its folder) is on a read-only medium, or in a folder this user cannot
    /// write to: it opened for reading only, and something tried to write.
    #[error(
        "{} is open read-only (its medium or folder cannot be written), so nothing can be saved or changed; history, show and stats still work. To change it, copy the folder somewhere writable and pass --home",
        shown(.path)
    )]
    ReadOnly {
        /// The database.
        path: PathBuf,
    },
    /// The operating system refused access.
    #[error(
        "permission denied on {} ({}); check who owns it and its mode (ls -l), or pass --home with a directory of your own",
        shown(.path), .reason
    )]
    Permission {
        /// The file or folder.
        path: PathBuf,
        /// The system's words.
        reason: String,
    },
    /// The disk is full.
    #[error(
        "the disk holding {} is full; free some space and run the command again (what was saved is intact)",
        shown(.path)
    )]
    Full {
        /// The database.
        path: PathBuf,
    },
    /// Another program holds a lock on the database for longer than the wait.
    #[error(
        "{} is locked by another program (another iching, a backup, a sqlite3 shell); wait for it to finish and try again",
        shown(.path)
    )]
    Locked {
        /// The database.
        path: PathBuf,
    },
    /// A file or folder is open to other users in a way that exposes the readings.
    #[error(transparent)]
    Unsafe(#[from] super::perms::Unsafe),
    /// A key file was found where no database is.
    #[error(
        "found the key file {} but no database {} beside it: if the database was moved or lost, put it back (or restore it from a backup); to start a new store, move {} aside first",
        shown(.key), shown(.db), shown(.key)
    )]
    KeyWithoutDatabase {
        /// The key file.
        key: PathBuf,
        /// Where the database should be.
        db: PathBuf,
    },
    /// The store's header (its key parameters) holds what iching never writes.
    #[error(
        "the header of {} was changed outside iching ({}); restore the file from a backup",
        shown(.path), .what
    )]
    HeaderChanged {
        /// The database.
        path: PathBuf,
        /// What is wrong in it.
        what: String,
    },
    /// The file is not an iching database (or is damaged).
    #[error(
        "{} is not a readable iching database ({}); move it aside to start fresh",
        shown(.path), .reason
    )]
    Corrupt {
        /// The database file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The schema is newer than this build knows.
    #[error(
        "{} was written by a newer iching (schema {}; this build knows up to {}); upgrade iching to open it",
        shown(.path), .found, .known
    )]
    TooNew {
        /// The database file.
        path: PathBuf,
        /// Its schema version.
        found: i64,
        /// The newest this build knows.
        known: i64,
    },
    /// The schema is older than the first this build opens: a development build's store, never
    /// migrated (a migration would sign whatever the file holds now as iching's own).
    #[error(
        "{} is schema {}, written by a development build of iching; this version opens schema {} only, and does not migrate older stores (that would vouch for whatever they hold now). Move it aside to start fresh; open it with another iching only if you made it yourself and no one else could have changed it, since an older version would sign whatever it holds as genuine",
        shown(.path), .found, .oldest
    )]
    TooOld {
        /// The database file.
        path: PathBuf,
        /// Its schema version.
        found: i64,
        /// The oldest this build opens.
        oldest: i64,
    },
    /// A backup could not be written where it was asked for.
    #[error(
        "cannot write the backup {shown}: {reason}; give a path in a folder you can write to, on a disk with room for it"
    )]
    BackupFailed {
        /// The backup's path, quoted for a shell and made visible.
        shown: String,
        /// What failed.
        reason: String,
    },
    /// A new passphrase too weak to seal a store with.
    #[error("{why}; nothing was created or changed")]
    WeakPassphrase {
        /// What it lacks.
        why: String,
    },
    /// The database exists but the key file it was sealed with does not.
    #[error(
        "the key file {} is missing, but {} exists and is sealed with it; restore the key file from your backup (nothing can be read without it), or move {} aside to start fresh",
        shown(.key), shown(.db), shown(.db)
    )]
    KeyFileMissing {
        /// Where the key file should be.
        key: PathBuf,
        /// The database.
        db: PathBuf,
    },
    /// The key file cannot be used.
    #[error(
        "the key file {} is not usable ({}); restore it from your backup",
        shown(.path), .reason
    )]
    KeyFileInvalid {
        /// The key file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A sync folder's key check refuses every key this store has or was given.
    #[error(
        "the sync folder {} is sealed with another key; join it with the key of a machine already in it: {}",
        shown(.dir),
        if *.passphrase { "set ICHING_SYNC_PASSPHRASE to the passphrase of the store that made it and run `iching sync` again" } else { "`iching sync DIR --key FILE`, FILE being that machine's iching.key" }
    )]
    SyncWrongKey {
        /// The folder.
        dir: PathBuf,
        /// Whether the folder's key comes from a passphrase (else from a key file).
        passphrase: bool,
    },
    /// A sync folder holds records but no key check (`iching-sync.key`): it was not made by
    /// iching, or its key check was removed.
    #[error(
        "the sync folder {} holds device records but no key check (iching-sync.key): wait for your sync tool to bring it, or check the folder is the one iching writes",
        shown(.dir)
    )]
    SyncNoKeyCheck {
        /// The folder.
        dir: PathBuf,
    },
    /// A sync folder's key check file is not one iching wrote.
    #[error("{} is not an iching sync key check ({}); move it away if it is not iching's", shown(.path), .why)]
    SyncKeyCheck {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        why: crate::sync::record::RecordError,
    },
    /// The key file is not the one the database was sealed with.
    #[error(
        "the key file {} does not open {}: it is not the key this database was sealed with; restore the right key file",
        shown(.key), shown(.db)
    )]
    WrongKeyFile {
        /// The key file.
        key: PathBuf,
        /// The database.
        db: PathBuf,
    },
    /// The passphrase does not open the database.
    #[error(
        "the passphrase does not open {}; try again with the right passphrase (ICHING_PASSPHRASE or the prompt)",
        shown(.db)
    )]
    WrongPassphrase {
        /// The database.
        db: PathBuf,
    },
    /// The database is sealed with a passphrase and none was given.
    #[error(
        "{} is sealed with a passphrase: set ICHING_PASSPHRASE, or run the command in a terminal to be asked for it",
        shown(.db)
    )]
    PassphraseNeeded {
        /// The database.
        db: PathBuf,
    },
    /// A passphrase was given for a database sealed with a key file.
    #[error(
        "{} is sealed with the key file {}, not a passphrase; unset ICHING_PASSPHRASE to open it",
        shown(.db), shown(.key)
    )]
    PassphraseNotUsed {
        /// The database.
        db: PathBuf,
        /// Its key file.
        key: PathBuf,
    },
    /// A key change found damaged readings (it would re-tag the damage as iching's own).
    #[error(
        "{readings} saved readings failed their integrity check, so the key was not changed; `iching verify` lists them: restore them from a backup or delete them, then try again"
    )]
    Damaged {
        /// How many.
        readings: usize,
    },
    /// Another process changed the store's key since this one opened it.
    #[error(
        "the key of {} was changed by another iching command (key rotate or passphrase) while this one ran, and this one cannot follow it (a store that now needs a passphrase needs it entered again): nothing more can be read or saved here; run it again (in the terminal app: quit and start it again)",
        shown(.path)
    )]
    KeyChanged {
        /// The database.
        path: PathBuf,
    },
    /// A file iching was asked to create is already there.
    #[error(
        "{} already exists; iching never writes over a file: give another name",
        shown(.path)
    )]
    Exists {
        /// The file.
        path: PathBuf,
    },
    /// Reading `id` has no note `note`.
    #[error("reading {id} has no note {note}; `iching notes {id}` lists them")]
    NoteNotFound {
        /// The reading.
        id: ReadingId,
        /// The note's number asked for.
        note: usize,
    },
    /// No reading has this id.
    #[error("no reading has id {0}; `iching history` lists them")]
    NotFound(ReadingId),
    /// Another live process is generating this reading.
    #[error(
        "reading {id} is being generated right now (by iching process {pid}); wait for it to finish, or stop it, and try again"
    )]
    InFlight {
        /// The reading.
        id: ReadingId,
        /// The other process.
        pid: i64,
    },
    /// Work another live process (or this one) is doing will write under the key when it ends.
    #[error(
        "{work} right now (by iching process {pid}); wait for it to finish, or stop it, and try again"
    )]
    Busy {
        /// What is running.
        work: super::claim::Work,
        /// The process doing it.
        pid: u32,
    },
    /// A sealed value of a reading does not open.
    #[error(
        "integrity check failed for reading {id} (its {field} was changed outside iching, or the database is damaged); it cannot be shown"
    )]
    Integrity {
        /// The reading.
        id: ReadingId,
        /// Which value.
        field: String,
    },
    /// A plain column holds something iching never writes.
    #[error("reading {id} has an invalid {field}; the database was changed outside iching")]
    BadRow {
        /// The reading.
        id: ReadingId,
        /// Which column.
        field: String,
    },
    /// SQLite failed.
    #[error(
        "cannot read or write {}: {}",
        shown(.path), .reason
    )]
    Database {
        /// The database.
        path: PathBuf,
        /// SQLite's message.
        reason: String,
    },
    /// The writer thread is gone (it panicked or was shut down).
    #[error("the database writer stopped unexpectedly; the rest of this run cannot be saved")]
    WriterGone,
}

impl StoreError {
    /// An I/O failure on `path`, by what the system said: permission, a read-only medium, a full
    /// disk, or (anything else) the folder cannot be used.
    pub fn io(path: &Path, doing: &str, e: &io::Error) -> Self {
        match e.kind() {
            io::ErrorKind::PermissionDenied => StoreError::Permission {
                path: path.to_path_buf(),
                reason: format!("{doing}: {e}"),
            },
            io::ErrorKind::ReadOnlyFilesystem => StoreError::ReadOnly {
                path: path.to_path_buf(),
            },
            io::ErrorKind::StorageFull => StoreError::Full {
                path: path.to_path_buf(),
            },
            _ => StoreError::Unwritable {
                dir: path.parent().unwrap_or(Path::new(".")).to_path_buf(),
                reason: format!("{doing} {}: {e}", shown(path)),
            },
        }
    }

    /// Whether the user can fix it by what they type (an id, a passphrase, waiting for a run):
    /// a usage error, exit status 2.
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            StoreError::NotFound(_)
                | StoreError::InFlight { .. }
                | StoreError::Busy { .. }
                | StoreError::PassphraseNeeded { .. }
                | StoreError::WrongPassphrase { .. }
                | StoreError::PassphraseNotUsed { .. }
                | StoreError::ReadOnly { .. }
                | StoreError::Unsafe { .. }
                | StoreError::Exists { .. }
                | StoreError::NoteNotFound { .. }
                | StoreError::WeakPassphrase { .. }
        )
    }
}
