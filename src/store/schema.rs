//! The schema, its migrations (`PRAGMA user_version`), and the careful open: an existing file is
//! inspected through a read-only connection (is it SQLite, is it ours, which key opens it) before
//! a read-write connection touches it, so a file the store rejects is never modified.
//!
//! Tables (all `STRICT`):
//! - `meta(key, value)`: `key_mode` (`keyfile` | `passphrase`), `kdf_salt` and `kdf_rounds`
//!   (passphrase only), `key_check` (a sealed known value), `created_at`.
//! - `readings`: plain `status`, `pid`/`pid_start` of the writer while running, `method`,
//!   `lines` ("9,8,7,7,6,8", bottom first), `seed`, `primary_hex`, `resulting_hex`,
//!   `sections_planned`, `provider`, `model`, `created_at`/`updated_at` (Unix ms); sealed `question`.
//! - `reading_parts`: one row per (reading, section), `UNIQUE(reading_id, section_id)`, deleted with
//!   its reading; plain status, attempts, offsets, latency, TTFT, token counts, usage source,
//!   model; sealed `request`, `response`, `paragraphs`, `error`. Version 2 adds
//!   `reasoning_tokens` and `cached_tokens` (the provider's usage details) and
//!   `failed_prompt_tokens`/`failed_completion_tokens` (what failed attempts spent, billed too).
//!   Version 3 adds `error_kind` (`timeout`, `rate_limited`, ...: how a failed section failed).

use std::fs::OpenOptions;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, OpenFlags, OptionalExtension};

use super::keys::{Found, KEY_CHECK, KeyMode, NewKey};
use super::{Field, Store, StoreError, now_ms};
use crate::crypto::Sealed;

/// The most PBKDF2 rounds a store may ask for: four times what iching writes
/// ([`crate::crypto::PBKDF2_ROUNDS`]), about two seconds in a release build.
pub(super) const MAX_KDF_ROUNDS: u32 = 4 * crate::crypto::PBKDF2_ROUNDS;

/// The schema version this build writes.
pub(super) const SCHEMA_VERSION: i64 = 3;

/// `MIGRATIONS[n]` takes a database from version `n` to `n + 1`.
const MIGRATIONS: &[&str] = &[
    r"
CREATE TABLE meta (
    key   TEXT PRIMARY KEY NOT NULL,
    value BLOB NOT NULL
) STRICT;

CREATE TABLE readings (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    status           TEXT NOT NULL CHECK (status IN
                     ('running', 'complete', 'partial', 'failed', 'cancelled', 'interrupted')),
    pid              INTEGER,
    pid_start        INTEGER,
    method           TEXT NOT NULL,
    lines            TEXT NOT NULL,
    seed             TEXT,
    primary_hex      INTEGER NOT NULL CHECK (primary_hex BETWEEN 1 AND 64),
    resulting_hex    INTEGER CHECK (resulting_hex BETWEEN 1 AND 64),
    sections_planned INTEGER NOT NULL,
    provider         TEXT NOT NULL,
    model            TEXT NOT NULL,
    question         BLOB NOT NULL
) STRICT;
CREATE INDEX readings_by_time ON readings (created_at, id);
CREATE INDEX readings_by_status ON readings (status);

CREATE TABLE reading_parts (
    id                INTEGER PRIMARY KEY,
    reading_id        INTEGER NOT NULL REFERENCES readings (id) ON DELETE CASCADE,
    section_id        INTEGER NOT NULL CHECK (section_id BETWEEN 1 AND 18),
    status            TEXT NOT NULL CHECK (status IN ('complete', 'failed')),
    attempts          INTEGER NOT NULL,
    started_ms        INTEGER,
    finished_ms       INTEGER NOT NULL,
    latency_ms        INTEGER NOT NULL,
    ttft_ms           INTEGER,
    prompt_tokens     INTEGER,
    completion_tokens INTEGER,
    total_tokens      INTEGER,
    usage_source      TEXT CHECK (usage_source IN ('reported', 'estimated')),
    model             TEXT,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    request           BLOB NOT NULL,
    response          BLOB,
    paragraphs        BLOB,
    error             BLOB,
    UNIQUE (reading_id, section_id)
) STRICT;
",
    r"
ALTER TABLE reading_parts ADD COLUMN reasoning_tokens INTEGER;
ALTER TABLE reading_parts ADD COLUMN cached_tokens INTEGER;
ALTER TABLE reading_parts ADD COLUMN failed_prompt_tokens INTEGER;
ALTER TABLE reading_parts ADD COLUMN failed_completion_tokens INTEGER;
",
    r"
ALTER TABLE reading_parts ADD COLUMN error_kind TEXT;
",
];

/// Creates the data dir (mode 0700) if it is missing.
pub(super) fn ensure_dir(dir: &Path) -> Result<(), StoreError> {
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| StoreError::io(dir, "cannot create the folder", &e))
}

/// Inspects the database at `path` read-only. `None` when there is none yet (no file, or an
/// SQLite file with no tables at all). A 0-byte file is left to the caller to judge
/// ([`is_empty_file`]): under the creation lock it is a store another process is creating,
/// without it a file that lost its contents.
pub(super) fn inspect(path: &Path) -> Result<Option<Found>, StoreError> {
    let corrupt = |reason: String| StoreError::Corrupt {
        path: path.to_path_buf(),
        reason,
    };
    match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(StoreError::io(path, "cannot read it", &e)),
        Ok(m) if !m.is_file() => return Err(corrupt("it is not a regular file".into())),
        Ok(m) if m.len() == 0 => return Ok(None),
        Ok(_) => {}
    }
    let conn = open_ro(path)?;
    let sql = |e: rusqlite::Error| db_error(path, e);
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(sql)?;
    let tables: i64 = conn
        .query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))
        .map_err(sql)?;
    if version == 0 && tables == 0 {
        return Ok(None);
    }
    if version > SCHEMA_VERSION {
        return Err(StoreError::TooNew {
            path: path.to_path_buf(),
            found: version,
            known: SCHEMA_VERSION,
        });
    }
    if version == 0 {
        return Err(corrupt("it holds tables, but no iching schema".into()));
    }
    let meta = |key: &str| -> Result<Option<Vec<u8>>, StoreError> {
        conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()
            .map_err(sql)
    };
    let missing = |what: &str| corrupt(format!("its {what} is missing"));
    let mode = meta("key_mode")?
        .and_then(|m| KeyMode::parse(std::str::from_utf8(&m).ok()?))
        .ok_or_else(|| missing("key mode"))?;
    let check = Sealed::from_bytes(meta("key_check")?.ok_or_else(|| missing("key check"))?);
    let kdf = match mode {
        KeyMode::KeyFile => None,
        KeyMode::Passphrase => {
            let salt: [u8; 16] = meta("kdf_salt")?
                .and_then(|s| s.try_into().ok())
                .ok_or_else(|| missing("passphrase salt"))?;
            let rounds = meta("kdf_rounds")?
                .and_then(|r| String::from_utf8(r).ok()?.parse::<u32>().ok())
                .ok_or_else(|| missing("passphrase round count"))?;
            // Bounded before any work is done with it: a round count raised in the file would
            // otherwise make every open spend seconds, then fail as a wrong passphrase.
            if !(1..=MAX_KDF_ROUNDS).contains(&rounds) {
                return Err(StoreError::HeaderChanged {
                    path: path.to_path_buf(),
                    what: format!(
                        "its passphrase round count is {rounds}, outside the 1 to {MAX_KDF_ROUNDS} iching accepts"
                    ),
                });
            }
            Some((salt, rounds))
        }
    };
    Ok(Some(Found { mode, kdf, check }))
}

/// Whether `path` is a file of 0 bytes.
pub(super) fn is_empty_file(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.len() == 0)
}

/// Opens `path` read-only. A WAL database whose `-shm` file is gone and cannot be made (a
/// read-only medium or folder) opens as immutable: nothing can write there meanwhile.
pub(super) fn open_ro(path: &Path) -> Result<Connection, StoreError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let probe = |conn: Connection| -> Result<Connection, rusqlite::Error> {
        conn.query_row("SELECT count(*) FROM sqlite_schema", [], |r| {
            r.get::<_, i64>(0)
        })?;
        Ok(conn)
    };
    let first = Connection::open_with_flags(path, flags).and_then(probe);
    match first {
        Err(e)
            if matches!(
                e.sqlite_error_code(),
                Some(ErrorCode::CannotOpen | ErrorCode::ReadOnly | ErrorCode::DiskFull)
            ) || matches!(db_error(path, clone_err(&e)), StoreError::Full { .. }) =>
        {
            let uri = format!("file:{}?immutable=1", uri_path(path));
            Connection::open_with_flags(uri, flags | OpenFlags::SQLITE_OPEN_URI)
                .and_then(probe)
                .map_err(|_| db_error(path, e))
        }
        other => other.map_err(|e| db_error(path, e)),
    }
}

/// A copy of an SQLite error (rusqlite's error is not `Clone`), enough to classify it again.
fn clone_err(e: &rusqlite::Error) -> rusqlite::Error {
    match e {
        rusqlite::Error::SqliteFailure(code, message) => {
            rusqlite::Error::SqliteFailure(*code, message.clone())
        }
        other => rusqlite::Error::InvalidParameterName(other.to_string()),
    }
}

/// Whether the file system holding `path` has no room left (what SQLite may report only as
/// "disk I/O error").
fn disk_full(path: &Path) -> bool {
    let dir = path.parent().unwrap_or(Path::new("."));
    rustix::fs::statvfs(dir).is_ok_and(|s| s.f_bavail == 0)
}

/// `path` for an SQLite `file:` URI (`%`, `?` and `#` escaped).
fn uri_path(path: &Path) -> String {
    path.to_string_lossy()
        .replace('%', "%25")
        .replace('?', "%3f")
        .replace('#', "%23")
}

/// Opens `path` for reading and writing (creating it with mode 0600 when `create`), in WAL mode
/// with foreign keys, full sync, secure delete and a busy timeout.
pub(super) fn open_rw(path: &Path, create: bool) -> Result<Connection, StoreError> {
    if create {
        let unwritable = |e: &std::io::Error| StoreError::io(path, "cannot create", e);
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(path)
            .map_err(|e| unwritable(&e))?;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(|e| unwritable(&e))?;
    }
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(|e| db_error(path, e))?;
    conn.busy_timeout(Duration::from_secs(10))
        .map_err(|e| db_error(path, e))?;
    // Every statement the store runs stays prepared (the default keeps 16).
    conn.set_prepared_statement_cache_capacity(64);
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
        .map_err(|e| db_error(path, e))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Database {
            path: path.to_path_buf(),
            reason: format!("cannot switch to WAL mode (the journal mode is {mode})"),
        });
    }
    // WAL with synchronous = NORMAL: every commit is written to the WAL before it returns, so a
    // killed process loses nothing committed; only a power cut can roll back the last commits
    // (never corrupt the file). FULL would add an fsync to every section's commit.
    // A checkpoint every 256 pages (1 MiB, SQLite's default is 1000) keeps the WAL small, so the
    // checkpoint when the store closes, which a command waits for, stays short: about 3 ms
    // instead of 10 after a batch of 300 readings.
    conn.execute_batch(
        "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA secure_delete = ON;
         PRAGMA wal_autocheckpoint = 256;",
    )
    .map_err(|e| db_error(path, e))?;
    // A first read maps the WAL index: a disk with no room for it fails here, not mid-command.
    conn.query_row("SELECT count(*) FROM sqlite_schema", [], |r| {
        r.get::<_, i64>(0)
    })
    .map_err(|e| db_error(path, e))?;
    Ok(conn)
}

/// A SQLite error about `path`, as the store error a user can act on.
pub(super) fn db_error(path: &Path, e: rusqlite::Error) -> StoreError {
    let reason = e.to_string();
    match e.sqlite_error_code() {
        Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => StoreError::Corrupt {
            path: path.to_path_buf(),
            reason,
        },
        Some(ErrorCode::ReadOnly) => StoreError::ReadOnly {
            path: path.to_path_buf(),
        },
        Some(ErrorCode::PermissionDenied | ErrorCode::AuthorizationForStatementDenied) => {
            StoreError::Permission {
                path: path.to_path_buf(),
                reason,
            }
        }
        Some(ErrorCode::DiskFull) => StoreError::Full {
            path: path.to_path_buf(),
        },
        Some(ErrorCode::SystemIoFailure | ErrorCode::CannotOpen) if disk_full(path) => {
            StoreError::Full {
                path: path.to_path_buf(),
            }
        }
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => StoreError::Locked {
            path: path.to_path_buf(),
        },
        Some(ErrorCode::CannotOpen) => StoreError::Unwritable {
            dir: path.parent().unwrap_or(Path::new(".")).to_path_buf(),
            reason: format!("cannot open {}: {reason}", path.display()),
        },
        _ => StoreError::Database {
            path: path.to_path_buf(),
            reason,
        },
    }
}

impl Store {
    /// Brings the schema to [`SCHEMA_VERSION`]; for a new database also writes `meta` (key mode,
    /// salt and rounds, the sealed key check). One transaction.
    pub(super) fn migrate(&self, new_key: Option<NewKey>) -> Result<(), StoreError> {
        let version = self.user_version()?;
        if version == SCHEMA_VERSION && new_key.is_none() {
            return Ok(());
        }
        self.exec("BEGIN IMMEDIATE")?;
        let result = self.migrate_in_transaction(new_key);
        match result {
            Ok(()) => self.exec("COMMIT"),
            Err(e) => {
                let _ = self.conn.execute_batch("ROLLBACK");
                Err(e)
            }
        }
    }

    fn migrate_in_transaction(&self, new_key: Option<NewKey>) -> Result<(), StoreError> {
        // Read again under the write lock: another process may have got here first.
        let version = self.user_version()?;
        let from = usize::try_from(version).unwrap_or(usize::MAX);
        if let Some(new_key) = new_key {
            if version != 0 {
                return Err(StoreError::Database {
                    path: self.path.clone(),
                    reason: "another iching created this database at the same moment; run the command again".into(),
                });
            }
            for sql in MIGRATIONS {
                self.exec(sql)?;
            }
            self.write_meta(new_key)?;
        } else {
            for sql in MIGRATIONS.iter().skip(from) {
                self.exec(sql)?;
            }
        }
        self.exec(&format!("PRAGMA user_version = {SCHEMA_VERSION}"))
    }

    fn write_meta(&self, new_key: NewKey) -> Result<(), StoreError> {
        let check = self.seal(Field::KeyCheck, KEY_CHECK);
        let mut rows: Vec<(&str, Vec<u8>)> = vec![
            ("key_mode", new_key.mode.as_str().as_bytes().to_vec()),
            ("key_check", check.into_bytes()),
            ("created_at", now_ms().to_string().into_bytes()),
        ];
        if let Some((salt, rounds)) = new_key.kdf {
            rows.push(("kdf_salt", salt.to_vec()));
            rows.push(("kdf_rounds", rounds.to_string().into_bytes()));
        }
        for (key, value) in rows {
            self.conn
                .execute(
                    "INSERT INTO meta (key, value) VALUES (?1, ?2)",
                    rusqlite::params![key, value],
                )
                .map_err(|e| self.db_err(e))?;
        }
        Ok(())
    }

    pub(super) fn user_version(&self) -> Result<i64, StoreError> {
        self.conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(|e| self.db_err(e))
    }
}
