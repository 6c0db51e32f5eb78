//! The sealed store: one SQLite file, `iching.db`, in the data dir, holding every reading and each
//! of its sections ("parts"), with every sensitive value sealed by [`crate::crypto`].
//!
//! - [`Store::open`] creates the file (mode 0600, WAL) or checks an existing one read-only first:
//!   a file that is not an iching database, a newer schema, a missing key file or a wrong key or
//!   passphrase is reported before anything is written, so a rejected file is never modified.
//! - Keys ([`keys`]): a random master key in `iching.key` beside the database, or a passphrase
//!   (`ICHING_PASSPHRASE`) through PBKDF2 with the salt and round count kept in the `meta` table.
//! - The schema and its migrations (`PRAGMA user_version`) live in [`schema`]; readings and parts
//!   in [`readings`] and [`parts`]. Blob columns are written only from [`Sealed`] values, each
//!   bound to a label naming its row and field ([`Field`]), compressed first where that pays
//!   ([`crate::crypto::Keys::seal_packed`]). What every section's request of a reading begins
//!   with is stored once per reading ([`prefixes`]).
//! - [`writer::Writer`] is the single writer: a thread owning the store, fed by a channel, that
//!   commits small groups of writes together.

mod backup;
pub mod claim;
mod error;
mod followups;
mod keys;
mod notes;
mod parts;
pub mod perms;
mod prefixes;
mod provider_keys;
mod readings;
mod rekey;
mod schema;
mod sync;
mod tags;
pub mod writer;

#[cfg(test)]
mod prefix_tests;
#[cfg(test)]
mod tag_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_support;

use std::cell::RefCell;
use std::collections::HashMap;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::Connection;
use rusqlite::types::{FromSql, FromSqlResult, ToSql, ToSqlOutput, ValueRef};

use crate::crypto::{Keys, Sealed};
use crate::model::{ReadingId, Secret};
use tags::{Canon, Tagged};

pub use crate::model::NoteKind;
pub use backup::{Imported, OpenedBackup, Verified, backup, key_mode_of};
pub use error::StoreError;
pub use followups::{AllFollowupFigures, Followup, FollowupFigures, NewFollowup};
pub use keys::{
    KeyMode, MIN_PASSPHRASE_CHARS, OLD_KEY_PREFIX, PASSPHRASE_ENV, passphrase_strength,
};
pub use notes::{MAX_NOTE_CHARS, Note, NoteCounts, NoteError, validate_note};
pub use parts::{AllSectionFigures, Part, PartText, SectionFigures};
pub use provider_keys::MAX_PROVIDER_KEY_BYTES;
pub use readings::{HistoryFilter, Listed, NewReading, ReadingRow};
pub use rekey::{NewSecret, Rekeyed};
pub use sync::{KEY_CHECK_FILE, Refused, SyncJoin, SyncStatus, Synced};
pub use writer::{Writer, WriterThread};

/// The database file's name in the data dir.
pub const DB_FILE: &str = "iching.db";
/// The key file's name, beside the database.
pub const KEY_FILE: &str = "iching.key";
/// The lock file that serialises creating the store.
const LOCK_FILE: &str = ".iching.lock";

/// The store's lock file in `dir` (`.iching.lock`, 0600), held until the result is dropped:
/// `exclusive` for what changes the store's keys or makes it, shared for work that must not run
/// under a key about to change. Waits for whoever holds it the other way.
pub(crate) fn store_lock(dir: &Path, exclusive: bool) -> Result<std::fs::File, StoreError> {
    let lock_path = dir.join(LOCK_FILE);
    let lock = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&lock_path)
        .map_err(|e| StoreError::io(&lock_path, "cannot create the lock file", &e))?;
    if exclusive {
        lock.lock()
    } else {
        lock.lock_shared()
    }
    .map_err(|e| StoreError::io(&lock_path, "cannot lock", &e))?;
    Ok(lock)
}

impl Store {
    /// The place (1 is the first) of row `row` among reading `id`'s rows of `table` (notes,
    /// follow-ups), in the order they are listed: by `at`, then by row. Nothing is opened.
    fn place_in_reading(
        &self,
        table: &'static str,
        at: &'static str,
        id: ReadingId,
        row: i64,
    ) -> Result<usize, StoreError> {
        let n: i64 = self
            .conn
            .query_row(
                &format!(
                    "SELECT count(*) FROM {table} t, {table} me WHERE me.id = ?2
                     AND t.reading_id = ?1 AND (t.{at} < me.{at}
                     OR (t.{at} = me.{at} AND t.id <= me.id))"
                ),
                rusqlite::params![id, row],
                |r| r.get(0),
            )
            .map_err(|e| self.db_err(e))?;
        Ok(usize::try_from(n).unwrap_or(0))
    }
}

/// Whether this process may create files in `dir`.
fn writable(dir: &Path) -> bool {
    rustix::fs::access(dir, rustix::fs::Access::WRITE_OK).is_ok()
}

/// One sealed field: its associated-data label names the row and the field, so a blob copied to
/// another row or field does not open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// The key-check value in `meta`.
    KeyCheck,
    /// A reading's question.
    Question(ReadingId),
    /// The situation behind a reading's question.
    Context(ReadingId),
    /// A part's request (the messages as JSON), whole.
    Request(ReadingId, u8),
    /// What a part's request holds after its reading's shared prefix.
    RequestTail(ReadingId, u8),
    /// What every section's request of a reading begins with (system prompt, reading JSON).
    RequestPrefix(ReadingId),
    /// A part's raw answer.
    Response(ReadingId, u8),
    /// A part's rendered paragraphs (JSON).
    Paragraphs(ReadingId, u8),
    /// A part's error text.
    Error(ReadingId, u8),
    /// A note's text.
    Note(ReadingId, i64),
    /// A follow-up question.
    FollowupQuestion(ReadingId, i64),
    /// A follow-up's answer as received.
    FollowupAnswer(ReadingId, i64),
    /// A follow-up's request (the messages as JSON).
    FollowupRequest(ReadingId, i64),
}

impl Field {
    /// The associated-data label, e.g. `reading:12:question`, `part:12:4:response`.
    pub fn aad(self) -> String {
        match self {
            Field::KeyCheck => "meta:key_check".to_owned(),
            Field::Question(id) => format!("reading:{id}:question"),
            Field::Context(id) => format!("reading:{id}:context"),
            Field::Request(id, s) => format!("part:{id}:{s}:request"),
            Field::RequestTail(id, s) => format!("part:{id}:{s}:request_tail"),
            Field::RequestPrefix(id) => format!("reading:{id}:request_prefix"),
            Field::Response(id, s) => format!("part:{id}:{s}:response"),
            Field::Paragraphs(id, s) => format!("part:{id}:{s}:paragraphs"),
            Field::Error(id, s) => format!("part:{id}:{s}:error"),
            Field::Note(id, n) => format!("note:{id}:{n}:text"),
            Field::FollowupQuestion(id, n) => format!("followup:{id}:{n}:question"),
            Field::FollowupAnswer(id, n) => format!("followup:{id}:{n}:answer"),
            Field::FollowupRequest(id, n) => format!("followup:{id}:{n}:request"),
        }
    }

    /// The field's name for messages ("question", "response of section 4", ...).
    fn describe(self) -> String {
        match self {
            Field::KeyCheck => "key check".to_owned(),
            Field::Question(_) => "question".to_owned(),
            Field::Context(_) => "situation".to_owned(),
            Field::Request(_, s) | Field::RequestTail(_, s) => format!("request of section {s}"),
            Field::RequestPrefix(_) => "shared start of its requests".to_owned(),
            Field::Response(_, s) => format!("response of section {s}"),
            Field::Paragraphs(_, s) => format!("text of section {s}"),
            Field::Error(_, s) => format!("error of section {s}"),
            Field::Note(_, n) => format!("note {n}"),
            Field::FollowupQuestion(_, n) => format!("question of follow-up {n}"),
            Field::FollowupAnswer(_, n) => format!("answer of follow-up {n}"),
            Field::FollowupRequest(_, n) => format!("request of follow-up {n}"),
        }
    }

    /// The reading the field belongs to; `None` for the key check, which belongs to none.
    fn reading(self) -> Option<ReadingId> {
        match self {
            Field::KeyCheck => None,
            Field::Question(id)
            | Field::Context(id)
            | Field::Request(id, _)
            | Field::RequestTail(id, _)
            | Field::RequestPrefix(id)
            | Field::Response(id, _)
            | Field::Paragraphs(id, _)
            | Field::Error(id, _)
            | Field::Note(id, _)
            | Field::FollowupQuestion(id, _)
            | Field::FollowupAnswer(id, _)
            | Field::FollowupRequest(id, _) => Some(id),
        }
    }
}

/// A reading id binds as its rowid.
impl ToSql for ReadingId {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        self.0.to_sql()
    }
}

/// A rowid read back as a reading id.
impl FromSql for ReadingId {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        i64::column_result(value).map(ReadingId)
    }
}

/// How to unlock the store.
#[derive(Debug, Default)]
pub struct Unlock {
    /// A passphrase (from `ICHING_PASSPHRASE` or a prompt); `None` means the key file.
    pub passphrase: Option<Secret>,
    /// PBKDF2 rounds for a newly created passphrase store; `None` is the product's
    /// [`crate::crypto::PBKDF2_ROUNDS`]. Only tests lower it.
    #[doc(hidden)]
    pub new_rounds: Option<u32>,
}

impl Unlock {
    /// Unlock with `passphrase`.
    pub fn passphrase(passphrase: impl Into<String>) -> Self {
        Self {
            passphrase: Some(Secret::new(passphrase)),
            new_rounds: None,
        }
    }

    /// The passphrase from `ICHING_PASSPHRASE`, if set and not empty; else the key file.
    pub fn from_env() -> Self {
        let passphrase = std::env::var(PASSPHRASE_ENV)
            .ok()
            .filter(|p| !p.is_empty())
            .map(Secret::new);
        Self {
            passphrase,
            new_rounds: None,
        }
    }
}

/// An open store: a connection and the keys that seal and open its blobs.
#[derive(Debug)]
pub struct Store {
    conn: Connection,
    keys: Keys,
    path: PathBuf,
    mode: KeyMode,
    /// Why nothing can be written, when nothing can (a read-only medium or folder, a full disk).
    read_only: Option<StoreError>,
    /// What opening it changed and the user should hear (a file tightened to 0600).
    notices: Vec<String>,
    /// The sealed key check as it was when this store was opened: when another process
    /// changes the key, writes fail instead of sealing with a key that no longer opens it.
    key_check: Vec<u8>,
    /// Whether the schema has `request_prefixes` (version 8 on; a version-7 store opened
    /// read-only keeps its schema and reads as before).
    shared_prefixes: bool,
    /// The shared request prefix of readings being written, as stored, so that a section
    /// saved does not open it again ([`prefixes`]).
    prefixes: RefCell<HashMap<ReadingId, Arc<str>>>,
}

impl Store {
    /// Opens (or, on first use, creates) `iching.db` in `dir`. An existing file is checked
    /// read-only first (is it an iching database, is the schema known, does the key open it);
    /// only then is it opened for writing, migrated, and any reading left `running` by a
    /// process that is gone marked `interrupted`. A store that cannot be written (a read-only
    /// medium or folder) opens read-only: everything reads, every write fails with
    /// [`StoreError::ReadOnly`]. A new store is created under an exclusive lock on `dir`, so
    /// processes starting together on a fresh home all end up opening the same one.
    pub fn open(dir: &Path, unlock: Unlock) -> Result<Self, StoreError> {
        schema::ensure_dir(dir)?;
        perms::check_dir(dir)?;
        let path = dir.join(DB_FILE);
        let key_path = dir.join(KEY_FILE);
        perms::check_key_file(&key_path)?;
        let notices: Vec<String> = [DB_FILE, "iching.db-wal", "iching.db-shm"]
            .iter()
            .filter_map(|f| perms::tighten(&dir.join(f)))
            .collect();
        for notice in &notices {
            tracing::warn!("{notice}");
        }
        if schema::inspect(&path)?.is_none()
            && let Some(store) = Self::create(dir, &path, &key_path, &unlock)?
        {
            return Ok(store);
        }
        let found = schema::inspect(&path)?.ok_or_else(|| StoreError::Corrupt {
            path: path.clone(),
            reason: "it was emptied while being opened".into(),
        })?;
        let (keys, mode) = keys::unlock_existing(&path, &key_path, &found, &unlock)?;
        let mut notices = notices;
        if mode == KeyMode::Passphrase && key_path.exists() {
            notices.push(format!(
                "{} is not used: this store is sealed with a passphrase (it was left by a `passphrase set` that stopped early, or belongs to another database); move it away or delete it",
                key_path.display()
            ));
        }
        let read_only_here = || StoreError::ReadOnly { path: path.clone() };
        let (conn, read_only) = match schema::open_rw(&path, false) {
            Ok(conn) if !conn.is_readonly("main").unwrap_or(false) => (conn, None),
            Ok(_) | Err(StoreError::ReadOnly { .. } | StoreError::Permission { .. }) => {
                (schema::open_ro(&path)?, Some(read_only_here()))
            }
            Err(StoreError::Unwritable { .. }) if !writable(dir) => {
                (schema::open_ro(&path)?, Some(read_only_here()))
            }
            // A full disk still reads: what was saved can be listed and shown.
            Err(e @ StoreError::Full { .. }) => (schema::open_ro(&path)?, Some(e)),
            Err(e) => return Err(e),
        };
        let mut store = Self {
            conn,
            keys,
            path,
            mode,
            read_only,
            notices,
            key_check: found.check.as_bytes().to_vec(),
            shared_prefixes: false,
            prefixes: RefCell::default(),
        };
        store.check_header()?;
        if let Some(why) = &store.read_only {
            tracing::info!(%why, "the store is read-only");
            store.shared_prefixes = store.user_version()? >= schema::SHARED_PREFIXES_SINCE;
            return Ok(store);
        }
        store.migrate(None)?;
        store.shared_prefixes = true;
        // What a killed restore or backup left in the data folder goes with its process.
        backup::clear_dead_staging(dir);
        let interrupted = store.mark_interrupted()?;
        if interrupted > 0 {
            tracing::info!(
                interrupted,
                "readings left running by a process that is gone"
            );
        }
        Ok(store)
    }

    /// Creates the store under an exclusive lock on `dir/.iching.lock`; `None` when another
    /// process created it first (the caller opens that one).
    fn create(
        dir: &Path,
        path: &Path,
        key_path: &Path,
        unlock: &Unlock,
    ) -> Result<Option<Self>, StoreError> {
        let lock = store_lock(dir, true)?;
        // Looked at again under the lock: another process may have made it meanwhile.
        if schema::inspect(path)?.is_some() {
            return Ok(None);
        }
        // Nobody is creating it (we hold the lock), yet it is there and empty: a store that lost
        // its contents, not one to write a new store over.
        if schema::is_empty_file(path) {
            return Err(StoreError::Corrupt {
                path: path.to_path_buf(),
                reason: "it is empty, 0 bytes: a first run stopped before it finished, or \
                         something truncated it; if you had readings, restore it from a backup"
                    .into(),
            });
        }
        if unlock.passphrase.is_none() && key_path.exists() {
            return Err(StoreError::KeyWithoutDatabase {
                key: key_path.to_path_buf(),
                db: path.to_path_buf(),
            });
        }
        let (keys, new_key) = keys::unlock_new(key_path, unlock)?;
        let conn = schema::open_rw(path, true)?;
        let mut store = Self {
            conn,
            keys,
            path: path.to_path_buf(),
            mode: new_key.mode,
            read_only: None,
            notices: Vec::new(),
            key_check: Vec::new(),
            shared_prefixes: true,
            prefixes: RefCell::default(),
        };
        store.migrate(Some(new_key))?;
        store.key_check = store.current_key_check()?;
        drop(lock);
        Ok(Some(store))
    }

    /// What opening it changed that the user should hear of (a file tightened to 0600).
    pub fn notices(&self) -> &[String] {
        &self.notices
    }

    /// Whether nothing can be written (a read-only medium or folder).
    pub fn read_only(&self) -> bool {
        self.read_only.is_some()
    }

    /// Why nothing can be written, when nothing can: [`StoreError::ReadOnly`] or
    /// [`StoreError::Full`].
    pub fn why_read_only(&self) -> Option<&StoreError> {
        self.read_only.as_ref()
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the store is sealed with the key file or a passphrase.
    pub fn key_mode(&self) -> KeyMode {
        self.mode
    }

    /// Seals `plaintext` for `field`, compressed where that pays.
    fn seal(&self, field: Field, plaintext: &[u8]) -> Sealed {
        self.keys.seal_packed(field.aad().as_bytes(), plaintext)
    }

    /// Opens `blob` as `field`'s text; a failure names the reading and the field (a key check
    /// that does not open here, where it is never read, would mean a damaged file).
    fn open_text(&self, field: Field, blob: Vec<u8>) -> Result<String, StoreError> {
        self.keys
            .open_string(field.aad().as_bytes(), &Sealed::from_bytes(blob))
            .map_err(|_| match field.reading() {
                Some(id) => StoreError::Integrity {
                    id,
                    field: field.describe(),
                },
                None => StoreError::Corrupt {
                    path: self.path.clone(),
                    reason: format!("its {} does not open", field.describe()),
                },
            })
    }

    /// The tag of `canon` as `what`.
    fn tag(&self, what: Tagged, canon: &Canon) -> Vec<u8> {
        self.keys
            .tag(what.label().as_bytes(), canon.as_bytes())
            .to_vec()
    }

    /// Checks `tag` (as stored; `None` when the column is empty) against `canon` as `what`.
    fn check_tag(&self, what: Tagged, canon: &Canon, tag: Option<&[u8]>) -> Result<(), StoreError> {
        let ok = tag.is_some_and(|t| {
            self.keys
                .verify_tag(what.label().as_bytes(), canon.as_bytes(), t)
        });
        if ok {
            return Ok(());
        }
        Err(match what {
            Tagged::ReadingRow(id) | Tagged::Sections(id) | Tagged::PartRow(id, _) => {
                StoreError::Integrity {
                    id,
                    field: what.describe(),
                }
            }
            Tagged::Header => StoreError::HeaderChanged {
                path: self.path.clone(),
                what: "its key settings do not match their authentication tag".into(),
            },
            // The caller names the note's reading.
            Tagged::NoteRow(n) => StoreError::Database {
                path: self.path.clone(),
                reason: format!("note {n} failed its integrity check"),
            },
            Tagged::FollowupRow(id, _) => StoreError::Integrity {
                id,
                field: what.describe(),
            },
        })
    }

    /// Runs `f` atomically (a savepoint, so it nests inside the writer's transaction).
    fn atomic<T>(&self, f: impl FnOnce() -> Result<T, StoreError>) -> Result<T, StoreError> {
        self.step("SAVEPOINT atomic")?;
        match f() {
            Ok(v) => {
                self.step("RELEASE atomic")?;
                Ok(v)
            }
            Err(e) => {
                let _ = self
                    .conn
                    .execute_batch("ROLLBACK TO atomic; RELEASE atomic");
                Err(e)
            }
        }
    }

    fn exec(&self, sql: &str) -> Result<(), StoreError> {
        self.conn.execute_batch(sql).map_err(|e| self.db_err(e))
    }

    /// Runs one statement that takes no parameters and returns no rows, prepared once and cached
    /// (the transaction and savepoint statements every write goes through).
    fn step(&self, sql: &str) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(sql)
            .and_then(|mut st| st.execute([]))
            .map(drop)
            .map_err(|e| self.db_err(e))
    }

    /// A SQLite error as a store error about this file.
    fn db_err(&self, e: rusqlite::Error) -> StoreError {
        schema::db_error(&self.path, e)
    }
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
