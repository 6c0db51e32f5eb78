//! The schema (`PRAGMA user_version`), and the careful open: an existing file is inspected
//! through a read-only connection (is it SQLite, is it ours, is it this schema with all its
//! tables, which key opens it) before a read-write connection touches it, so a file the store
//! rejects is never modified. The versions below are how the schema grew during development; a
//! store older than version 7 is refused, never migrated: those migrations re-tagged what the
//! file held, so a store edited and dressed up as an older one would have its edits signed.
//! Version 7, the first kept by users, is migrated in place to 9: those migrations add empty
//! tables, a column whose default says "as before", and random uids; they tag nothing.
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
//! - Version 4 adds the tags ([`super::tags`]): `readings.row_tag` and `sections_tag`,
//!   `reading_parts.row_tag`, and `header_tag` in `meta`.
//! - Version 5 adds `readings.context` (sealed as `reading:{id}:context`: the situation behind
//!   the question), and the row tag covers whether it is there.
//! - Version 6 adds `notes` (the journal: `reading_id`, `created_at`, `updated_at`, `kind`
//!   `note`|`outcome`, sealed `text` as `note:{reading_id}:{id}:text`, `row_tag`).
//! - Version 7 adds `followups` (sealed `question`, `answer`, `request`).
//! - Version 8 adds `request_prefixes` (one row per reading: sealed `prefix` as
//!   `reading:{id}:request_prefix`, what every section's request of the reading begins with: the
//!   system prompt and the reading's JSON) and `reading_parts.request_shared` (1: the part's
//!   `request` holds only what follows that prefix, sealed as `part:{id}:{s}:request_tail`;
//!   0: the whole request, sealed as `part:{id}:{s}:request`, as every part of version 7).
//! - Version 9 adds what sync needs (docs/DECISIONS.md, "Sync through a folder"): a random
//!   16-byte `uid` on `readings`, `notes` and `followups` (existing rows get one; an insert
//!   trigger gives new rows theirs), `sync_tombstones` (the uid of every reading deleted, by an
//!   `AFTER DELETE` trigger), `sync_state` (this store's device id, sealed sync key, clock),
//!   `sync_known` (what each uid was when last written to or read from the folder: a keyed
//!   digest, and for notes the winning Lamport clock and device), `sync_known_notes` (each
//!   known note's reading) and `sync_read` (how far each device's records are read).

use std::fs::OpenOptions;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::time::Duration;

use rusqlite::config::DbConfig;
use rusqlite::{Connection, ErrorCode, OpenFlags, OptionalExtension};

use super::keys::{Found, KEY_CHECK, Kdf, KeyMode, NewKey};
use super::parts::SectionFigures;
use super::tags::{Canon, Tagged};
use super::{Field, Store, StoreError, now_ms};
use crate::crypto::Sealed;
use crate::model::ReadingId;

/// The schema version this build writes.
pub(super) const SCHEMA_VERSION: i64 = 9;
/// The oldest schema this build opens (and migrates to [`SCHEMA_VERSION`]).
pub(super) const OLDEST_OPENED: i64 = 7;
/// The first schema with [`TABLES`]' `request_prefixes` and `reading_parts.request_shared`.
pub(super) const SHARED_PREFIXES_SINCE: i64 = 8;

/// The statements that made the two newest tables (`notes`, `followups`), for tests that take
/// them away and put them back.
#[cfg(test)]
pub(super) fn newest_tables() -> String {
    MIGRATIONS[5..7].concat()
}

/// The tables of [`SCHEMA_VERSION`], each with the version that made it.
const TABLES: [(&str, i64); 11] = [
    ("meta", 1),
    ("readings", 1),
    ("reading_parts", 1),
    ("notes", 6),
    ("followups", 7),
    ("request_prefixes", 8),
    ("sync_state", 9),
    ("sync_tombstones", 9),
    ("sync_known", 9),
    ("sync_read", 9),
    ("sync_known_notes", 9),
];

/// `MIGRATIONS[n]` takes a database from version `n` to `n + 1`. A new database goes through
/// them all; a store of version [`OLDEST_OPENED`] through those after it; an older store is
/// refused (see [`StoreError::TooOld`]).
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
    r"
ALTER TABLE readings ADD COLUMN row_tag BLOB;
ALTER TABLE readings ADD COLUMN sections_tag BLOB;
ALTER TABLE reading_parts ADD COLUMN row_tag BLOB;
",
    r"
ALTER TABLE readings ADD COLUMN context BLOB;
",
    r"
CREATE TABLE notes (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    reading_id INTEGER NOT NULL REFERENCES readings (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN ('note', 'outcome')),
    text       BLOB NOT NULL,
    row_tag    BLOB
) STRICT;
CREATE INDEX notes_by_reading ON notes (reading_id, created_at);
",
    r"
CREATE TABLE followups (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    reading_id        INTEGER NOT NULL REFERENCES readings (id) ON DELETE CASCADE,
    asked_at          INTEGER NOT NULL,
    latency_ms        INTEGER NOT NULL,
    ttft_ms           INTEGER,
    prompt_tokens     INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    reasoning_tokens  INTEGER NOT NULL,
    cached_tokens     INTEGER NOT NULL,
    usage_source      TEXT NOT NULL CHECK (usage_source IN ('reported', 'estimated')),
    provider          TEXT NOT NULL,
    model             TEXT NOT NULL,
    left_out          INTEGER NOT NULL,
    question          BLOB NOT NULL,
    answer            BLOB NOT NULL,
    request           BLOB NOT NULL,
    row_tag           BLOB
) STRICT;
CREATE INDEX followups_by_reading ON followups (reading_id, asked_at);
",
    r"
CREATE TABLE request_prefixes (
    reading_id INTEGER PRIMARY KEY REFERENCES readings (id) ON DELETE CASCADE,
    prefix     BLOB NOT NULL
) STRICT;
ALTER TABLE reading_parts ADD COLUMN request_shared INTEGER NOT NULL DEFAULT 0
    CHECK (request_shared IN (0, 1));
",
    r"
ALTER TABLE readings ADD COLUMN uid BLOB;
ALTER TABLE notes ADD COLUMN uid BLOB;
ALTER TABLE followups ADD COLUMN uid BLOB;
UPDATE readings SET uid = randomblob(16);
UPDATE notes SET uid = randomblob(16);
UPDATE followups SET uid = randomblob(16);
CREATE UNIQUE INDEX readings_by_uid ON readings (uid);
CREATE UNIQUE INDEX notes_by_uid ON notes (uid);
CREATE UNIQUE INDEX followups_by_uid ON followups (uid);
CREATE TRIGGER readings_uid AFTER INSERT ON readings WHEN NEW.uid IS NULL
BEGIN UPDATE readings SET uid = randomblob(16) WHERE id = NEW.id; END;
CREATE TRIGGER notes_uid AFTER INSERT ON notes WHEN NEW.uid IS NULL
BEGIN UPDATE notes SET uid = randomblob(16) WHERE id = NEW.id; END;
CREATE TRIGGER followups_uid AFTER INSERT ON followups WHEN NEW.uid IS NULL
BEGIN UPDATE followups SET uid = randomblob(16) WHERE id = NEW.id; END;
CREATE TABLE sync_state (
    key   TEXT PRIMARY KEY NOT NULL,
    value BLOB NOT NULL
) STRICT;
CREATE TABLE sync_tombstones (
    uid        BLOB PRIMARY KEY NOT NULL,
    deleted_at INTEGER NOT NULL
) STRICT;
CREATE TRIGGER readings_tombstone AFTER DELETE ON readings WHEN OLD.uid IS NOT NULL
BEGIN INSERT OR IGNORE INTO sync_tombstones (uid, deleted_at)
    VALUES (OLD.uid, CAST(unixepoch('subsec') * 1000 AS INTEGER)); END;
CREATE TABLE sync_known (
    uid    BLOB PRIMARY KEY NOT NULL,
    kind   TEXT NOT NULL CHECK (kind IN ('reading', 'note', 'followup', 'deleted')),
    digest BLOB NOT NULL,
    clock  INTEGER NOT NULL DEFAULT 0,
    device BLOB
) STRICT;
CREATE TABLE sync_known_notes (
    uid     BLOB PRIMARY KEY NOT NULL,
    reading BLOB NOT NULL
) STRICT;
CREATE TABLE sync_read (
    device BLOB PRIMARY KEY NOT NULL,
    seq    INTEGER NOT NULL,
    hash   BLOB NOT NULL
) STRICT;
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
    // Development schemas are refused, never migrated: their migrations re-tagged what the file
    // held, and an edited store dressed up as an old one would have its edits signed.
    if version < OLDEST_OPENED {
        return Err(StoreError::TooOld {
            path: path.to_path_buf(),
            found: version,
            oldest: OLDEST_OPENED,
        });
    }
    // The schema's every table, as its version makes it: one dropped is a damaged store.
    for (table, _) in TABLES.iter().filter(|(_, since)| *since <= version) {
        let there: bool = conn
            .query_row(
                "SELECT count(*) > 0 FROM sqlite_schema WHERE type = 'table' AND name = ?1",
                [table],
                |r| r.get(0),
            )
            .map_err(sql)?;
        if !there {
            return Err(corrupt(format!("its {table} table is missing")));
        }
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
            let kdf = Kdf::from_meta(|key| meta(key).ok().flatten()).map_err(|what| {
                StoreError::HeaderChanged {
                    path: path.to_path_buf(),
                    what,
                }
            })?;
            Some(kdf.ok_or_else(|| missing("passphrase salt or parameters"))?)
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
        // As the writer's connection (see `open_rw`).
        conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
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
    // And stays as it was prepared: without the query planner stability guarantee, SQLite
    // compiles a statement again whenever a new value is bound to a parameter that its planner
    // looked at (`reading_id = ?1` among them), which was 6% of the writer thread's time in a
    // `batch`. The store's queries have one good plan each.
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)
        .map_err(|e| db_error(path, e))?;
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
            self.write_header_tag()?;
        } else if version < OLDEST_OPENED {
            // Refused at open (`inspect`); never migrated and signed.
            return Err(StoreError::TooOld {
                path: self.path.clone(),
                found: version,
                oldest: OLDEST_OPENED,
            });
        } else {
            // Version 7 on: what these migrations add is empty, and nothing is tagged.
            for sql in MIGRATIONS.get(from..).unwrap_or_default() {
                self.exec(sql)?;
            }
        }
        self.exec(&format!("PRAGMA user_version = {SCHEMA_VERSION}"))
    }

    /// Tags every reading, every part and the header as they are now (the upgrade to
    /// version 4, and a key rotation once everything checked out under the old key). A part
    /// whose columns do not parse is left untagged, so it fails its check.
    pub(super) fn tag_everything(&self) -> Result<(), StoreError> {
        let sql = |e: rusqlite::Error| self.db_err(e);
        let parts: Vec<(ReadingId, Option<SectionFigures>)> = {
            let cols = super::parts::META_COLUMNS;
            let mut st = self
                .conn
                .prepare(&format!("SELECT {cols}, reading_id FROM reading_parts"))
                .map_err(sql)?;
            let rows = st
                .query_map([], |r| {
                    let id: ReadingId = r.get(18)?;
                    Ok((id, self.parse_meta(id, r).ok()))
                })
                .map_err(sql)?;
            rows.collect::<Result<_, _>>().map_err(sql)?
        };
        for (id, meta) in parts {
            let Some(meta) = meta else { continue };
            let tag = self.tag(Tagged::PartRow(id, meta.section_id), &meta.canon());
            self.conn
                .execute(
                    "UPDATE reading_parts SET row_tag = ?3 WHERE reading_id = ?1 AND section_id = ?2",
                    rusqlite::params![id, meta.section_id, tag],
                )
                .map_err(sql)?;
        }
        let ids: Vec<ReadingId> = self
            .conn
            .prepare("SELECT id FROM readings")
            .and_then(|mut st| st.query_map([], |r| r.get(0))?.collect())
            .map_err(sql)?;
        for id in ids {
            self.write_tags(&self.raw_row(id)?)?;
        }
        self.tag_notes()?;
        self.tag_followups()?;
        self.write_header_tag()
    }

    /// Every `meta` row but the header tag itself, by key, in the canonical encoding.
    fn header_canon(&self) -> Result<Canon, StoreError> {
        let rows: Vec<(String, Vec<u8>)> = self
            .conn
            .prepare("SELECT key, value FROM meta WHERE key <> 'header_tag' ORDER BY key")
            .and_then(|mut st| st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect())
            .map_err(|e| self.db_err(e))?;
        let mut canon = Canon::default();
        for (key, value) in rows {
            canon.text(Some(&key)).bytes(&value);
        }
        Ok(canon)
    }

    /// Tags the header (how the key is kept) as it is now.
    pub(super) fn write_header_tag(&self) -> Result<(), StoreError> {
        let tag = self.tag(Tagged::Header, &self.header_canon()?);
        self.conn
            .execute(
                "INSERT INTO meta (key, value) VALUES ('header_tag', ?1)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [tag],
            )
            .map_err(|e| self.db_err(e))?;
        Ok(())
    }

    /// Checks the header's tag. A changed header is [`StoreError::HeaderChanged`].
    pub(super) fn check_header(&self) -> Result<(), StoreError> {
        let tag: Option<Vec<u8>> = self
            .conn
            .query_row("SELECT value FROM meta WHERE key = 'header_tag'", [], |r| {
                r.get(0)
            })
            .optional()
            .map_err(|e| self.db_err(e))?;
        self.check_tag(Tagged::Header, &self.header_canon()?, tag.as_deref())
    }

    fn write_meta(&self, new_key: NewKey) -> Result<(), StoreError> {
        let check = self.seal(Field::KeyCheck, KEY_CHECK);
        let mut rows: Vec<(&str, Vec<u8>)> = vec![
            ("key_mode", new_key.mode.as_str().as_bytes().to_vec()),
            ("key_check", check.into_bytes()),
            ("created_at", now_ms().to_string().into_bytes()),
        ];
        if let Some(kdf) = new_key.kdf {
            rows.extend(kdf.meta_rows());
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
