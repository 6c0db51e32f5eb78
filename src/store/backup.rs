//! Checking a whole store ([`Store::verify`]), copying it while in use ([`backup`]), and adding
//! the readings of a backup to it ([`Store::import`]).
//!
//! A backup is SQLite's `VACUUM INTO` from a connection of its own: a consistent snapshot
//! (one read transaction) even while another process writes, sealed exactly as the store is
//! (blobs, tags and header are copied byte for byte), into a private folder inside the store's
//! own folder, then written to the target through a file this process creates there (0600,
//! synced; it fails if anything is at the target).
//!
//! Importing first checks the backup where it is (a store of this schema, opened by the key
//! given, with room for its copy), then opens a copy as a store of its own in a staging folder
//! inside the data dir (so its header, tags and blobs are checked), and re-seals each reading
//! that is not already here under this store's key. A staging folder a killed restore left is
//! removed by the next open.

use std::collections::HashSet;
use std::fs::OpenOptions;
use std::io::ErrorKind;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use rusqlite::params;

use super::keys::KeyMode;
use super::{DB_FILE, Field, HistoryFilter, KEY_FILE, Store, StoreError, Unlock, now_ms, schema};
use crate::model::{Query, ReadingId, ReadingStatus};

/// What [`Store::verify`] found.
#[derive(Debug, Default)]
pub struct Verified {
    /// Readings checked.
    pub readings: usize,
    /// Sections checked.
    pub sections: usize,
    /// Sealed values opened.
    pub sealed: usize,
    /// Each reading that failed, with the first thing that failed.
    pub damaged: Vec<(ReadingId, StoreError)>,
    /// What SQLite's own check of the file reported, when it was not "ok".
    pub file_problems: Vec<String>,
}

impl Verified {
    /// Whether everything checked out.
    pub fn clean(&self) -> bool {
        self.damaged.is_empty() && self.file_problems.is_empty()
    }
}

/// What [`Store::import`] did.
#[derive(Debug, Default)]
pub struct Imported {
    /// The new ids of the readings added, in the order they were cast.
    pub added: Vec<ReadingId>,
    /// Readings of the backup that were already here.
    pub present: usize,
    /// Readings of the backup that failed their checks there, by their id in the backup.
    pub damaged: Vec<(ReadingId, StoreError)>,
}

/// Copies the store at `db` to the new file `to` (never over an existing file), mode 0600,
/// consistent even while another process writes; returns its size in bytes.
///
/// The consistent copy is made in a private folder inside the store's own folder (checked to be
/// the user's alone), then written to `to` through a file this process creates there (it fails
/// if anything is at `to`): nothing at `to` or beside it that someone else made, swapped or
/// renamed is ever written into, or taken for the backup, even in a folder others can write.
/// A copy stopped half-way (a full disk) is removed; one killed half-way leaves a partial file
/// at `to`, which restore refuses as damaged.
pub fn backup(db: &Path, to: &Path) -> Result<u64, StoreError> {
    if std::fs::symlink_metadata(to).is_ok() {
        return Err(StoreError::Exists {
            path: to.to_path_buf(),
        });
    }
    let data_dir = match db.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let failed = |what: &str, e: &dyn std::fmt::Display| StoreError::BackupFailed {
        shown: super::perms::sh_quote(to.as_os_str()),
        reason: format!("{what}: {e}"),
    };
    // In the store's own folder (checked to be the user's alone); where that cannot be written
    // (a store on a read-only medium), in the system's temporary folder, whose sticky bit keeps
    // others from renaming what is ours.
    let name = format!(".iching-backup-{}", unique_suffix());
    let make = |dir: &Path| {
        let private = dir.join(&name);
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&private)
            .map(|()| private)
    };
    let private = make(&data_dir)
        .or_else(|_| make(&std::env::temp_dir()))
        .map_err(|e| failed("cannot make a private folder to copy the store into", &e))?;
    let owner = super::claim::own_folder(&private);
    let staged = private.join(DB_FILE);
    let result = (|| {
        owner.as_ref().map_err(Clone::clone)?;
        let conn = schema::open_ro(db)?;
        let target = staged.to_str().ok_or_else(|| StoreError::Database {
            path: to.to_path_buf(),
            reason: "the store's path is not valid UTF-8".into(),
        })?;
        conn.execute("VACUUM INTO ?1", [target])
            .map_err(|e| failed("cannot make the copy", &e))?;
        drop(conn);
        write_new(&staged, to, &failed)
    })();
    let _ = std::fs::remove_dir_all(&private);
    drop(owner);
    result
}

/// Writes the file `from` to `to`, which this creates (mode 0600) and which must not exist;
/// returns its size. On failure the partial file is removed, if it is still the one made here.
fn write_new(
    from: &Path,
    to: &Path,
    failed: &dyn Fn(&str, &dyn std::fmt::Display) -> StoreError,
) -> Result<u64, StoreError> {
    let mut src = std::fs::File::open(from).map_err(|e| failed("cannot read the copy", &e))?;
    let mut dst = match OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(to)
    {
        Ok(f) => f,
        Err(e) if e.kind() == ErrorKind::AlreadyExists => {
            return Err(StoreError::Exists {
                path: to.to_path_buf(),
            });
        }
        Err(e) => return Err(failed("cannot create it", &e)),
    };
    let written = std::io::copy(&mut src, &mut dst)
        .map_err(|e| failed("cannot write it", &e))
        .and_then(|n| {
            dst.sync_all()
                .map(|()| n)
                .map_err(|e| failed("cannot sync it", &e))
        });
    if written.is_err() {
        // Removed only while the name is still this file: never one put in its place.
        let ours = dst.metadata().ok().map(|m| (m.dev(), m.ino()));
        let there = std::fs::symlink_metadata(to)
            .ok()
            .map(|m| (m.dev(), m.ino()));
        if ours.is_some() && ours == there {
            let _ = std::fs::remove_file(to);
        }
    }
    if let Some(dir) = to.parent() {
        super::keys::sync_dir(dir);
    }
    written
}

/// A staging folder's name after its prefix: this process's id, then a count that makes it
/// unique within the process.
fn unique_suffix() -> String {
    static SEQ: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    format!(
        "{}-{}",
        std::process::id(),
        SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    )
}

/// Removes what a process killed before it could clean up left in `data_dir`: a restore's
/// staging folder (`.restore-PID-N`), a backup's private folder (`.iching-backup-PID-N`), the
/// endpoint memory's half-written file (`iching-endpoints.tmp-PID`). A folder is its owner's
/// while the owner's claim inside it is held (a lock that ends with the process, so a process
/// id reused or seen from another machine sharing the folder does not matter); only a folder
/// without a claim (its owner was killed before it wrote one) and the small memory file are
/// judged by the process id.
pub(super) fn clear_dead_staging(data_dir: &Path) {
    let Ok(entries) = std::fs::read_dir(data_dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let Some(pid) = name
            .strip_prefix(".restore-")
            .or_else(|| name.strip_prefix(".iching-backup-"))
            .or_else(|| name.strip_prefix("iching-endpoints.tmp-"))
        else {
            continue;
        };
        let path = entry.path();
        let pid = pid.split('-').next().unwrap_or_default();
        let dead = match super::claim::folder_owner_alive(&path) {
            Some(alive) => !alive,
            None => {
                pid.parse::<u32>().is_ok_and(|p| p != std::process::id())
                    && super::readings::process_gone(pid)
            }
        };
        if dead {
            tracing::info!(entry = %name, "removed what a killed process left");
            if path.is_dir() {
                let _ = std::fs::remove_dir_all(&path);
            } else {
                let _ = std::fs::remove_file(&path);
            }
        }
    }
}

/// How the backup at `path` is sealed (read-only look; `None` when it holds no store).
pub fn key_mode_of(path: &Path) -> Result<Option<KeyMode>, StoreError> {
    Ok(schema::inspect(path)?.map(|found| found.mode))
}

/// A backup opened as a store of its own, in a staging folder that is removed when this is
/// dropped.
#[derive(Debug)]
pub struct OpenedBackup {
    store: Option<Store>,
    staging: PathBuf,
    /// Held while the staging folder exists: the sweep leaves it alone.
    owner: Option<super::claim::Claim>,
}

impl OpenedBackup {
    /// Opens the backup `file` with `key_file` (a key-file backup) or `unlock`'s passphrase,
    /// staged in a new folder inside `data_dir`.
    pub fn open(
        file: &Path,
        data_dir: &Path,
        key_file: Option<&Path>,
        unlock: Unlock,
    ) -> Result<Self, StoreError> {
        clear_dead_staging(data_dir);
        // Checked where it is before anything is copied: a file that is no store of this
        // version, or that the key does not open, costs nothing, whatever its size.
        let of_backup = |e: StoreError| match e {
            StoreError::Corrupt { reason, .. } => StoreError::Corrupt {
                path: file.to_path_buf(),
                reason,
            },
            StoreError::WrongKeyFile { .. } => StoreError::WrongKeyFile {
                key: key_file.map(Path::to_path_buf).unwrap_or_default(),
                db: file.to_path_buf(),
            },
            StoreError::WrongPassphrase { .. } => StoreError::WrongPassphrase {
                db: file.to_path_buf(),
            },
            other => other,
        };
        let found =
            schema::inspect(file)
                .map_err(of_backup)?
                .ok_or_else(|| StoreError::Corrupt {
                    path: file.to_path_buf(),
                    reason: "it holds no iching store".into(),
                })?;
        let key_path = key_file.map_or_else(|| data_dir.join(KEY_FILE), Path::to_path_buf);
        super::keys::unlock_existing(file, &key_path, &found, &unlock).map_err(of_backup)?;
        // And there must be room for its copy.
        if let (Ok(size), Ok(fs)) = (
            std::fs::metadata(file).map(|m| m.len()),
            rustix::fs::statvfs(data_dir),
        ) && size > fs.f_bavail.saturating_mul(fs.f_frsize)
        {
            return Err(StoreError::Full {
                path: data_dir.to_path_buf(),
            });
        }
        let staging = data_dir.join(format!(".restore-{}", unique_suffix()));
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&staging)
            .map_err(|e| StoreError::io(&staging, "cannot create the folder", &e))?;
        let owner = super::claim::own_folder(&staging);
        let mut opened = Self {
            store: None,
            staging,
            owner: None,
        };
        // Taken once `opened` exists, so a failure still removes the folder.
        opened.owner = Some(owner?);
        let copy = |from: &Path, name: &str| -> Result<(), StoreError> {
            let to = opened.staging.join(name);
            let mut src =
                std::fs::File::open(from).map_err(|e| StoreError::io(from, "cannot read", &e))?;
            let mut dst = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&to)
                .map_err(|e| StoreError::io(&to, "cannot create", &e))?;
            std::io::copy(&mut src, &mut dst)
                .map(drop)
                .map_err(|e| StoreError::io(&to, "cannot write", &e))
        };
        copy(file, DB_FILE)?;
        if let Some(key) = key_file {
            copy(key, KEY_FILE)?;
        }
        // Said of the backup, not of the staging copy.
        let store = Store::open(&opened.staging, unlock).map_err(of_backup)?;
        opened.store = Some(store);
        Ok(opened)
    }

    /// The backup's store.
    #[allow(clippy::expect_used, reason = "set in `open` before it returns")]
    pub fn store(&self) -> &Store {
        self.store.as_ref().expect("opened")
    }
}

impl Drop for OpenedBackup {
    fn drop(&mut self) {
        drop(self.store.take());
        let _ = std::fs::remove_dir_all(&self.staging);
    }
}

impl Store {
    /// Checks every reading: its tags, its question, every section's record and every sealed
    /// value; and SQLite's own check of the file.
    pub fn verify(&self) -> Result<Verified, StoreError> {
        let mut out = Verified::default();
        let problems: Vec<String> = self
            .conn
            .prepare("PRAGMA integrity_check")
            .and_then(|mut st| st.query_map([], |r| r.get(0))?.collect())
            .map_err(|e| self.db_err(e))?;
        if problems != ["ok"] {
            out.file_problems = problems;
        }
        for id in self.reading_ids()? {
            out.readings += 1;
            let checked = self
                .reading(id)
                .and_then(|_| self.query(id))
                .and_then(|query| Ok((query, self.notes(id)?)))
                .and_then(|(query, notes)| Ok((query, notes, self.parts_and_prefix(id)?)))
                .and_then(|found| Ok((found, self.check_followups(id)?)));
            match checked {
                Ok(((query, notes, (parts, prefix)), followups)) => {
                    out.sealed += usize::from(query.context.is_some())
                        + usize::from(prefix.is_some())
                        + notes.len()
                        + 3 * followups;
                    out.sections += parts.len();
                    out.sealed += 1 + parts
                        .iter()
                        .map(|p| {
                            1 + usize::from(p.text.response.is_some())
                                + usize::from(p.text.paragraphs.is_some())
                                + usize::from(p.text.error.is_some())
                        })
                        .sum::<usize>();
                }
                Err(e) => out.damaged.push((id, e)),
            }
        }
        // The API keys pasted in the app (`provider_keys.rs`).
        match self.check_provider_keys() {
            Ok(n) => out.sealed += n,
            Err(e) => out.file_problems.push(e.to_string()),
        }
        Ok(out)
    }

    /// Every reading's id, oldest first.
    pub(super) fn reading_ids(&self) -> Result<Vec<ReadingId>, StoreError> {
        self.conn
            .prepare("SELECT id FROM readings ORDER BY created_at, id")
            .and_then(|mut st| st.query_map([], |r| r.get(0))?.collect())
            .map_err(|e| self.db_err(e))
    }

    /// Adds every reading of `backup` that is not already here (the same time of casting,
    /// lines and question), re-sealed under this store's key with a new id. A reading that
    /// fails its checks in the backup is left out and reported.
    pub fn import(&self, backup: &Store) -> Result<Imported, StoreError> {
        let mut out = Imported::default();
        let mut here: HashSet<(i64, [u8; 6], String)> = HashSet::new();
        for listed in self.list(&HistoryFilter::default())? {
            if let Ok(q) = listed.question {
                here.insert((listed.row.created_at, listed.row.lines, q));
            }
        }
        for id in backup.reading_ids()? {
            let found = backup.reading(id).and_then(|row| {
                let query = backup.query(id)?;
                let notes = backup.notes(id)?;
                let followups = backup
                    .followups(id)?
                    .into_iter()
                    .map(|f| {
                        let request = backup.followup_request(id, f.meta.id)?;
                        Ok((f, request))
                    })
                    .collect::<Result<Vec<_>, StoreError>>()?;
                Ok((row, query, notes, followups, backup.parts_and_prefix(id)?))
            });
            let (row, query, notes, followups, (parts, prefix)) = match found {
                Ok(found) => found,
                Err(e) => {
                    out.damaged.push((id, e));
                    continue;
                }
            };
            let key = (row.created_at, row.lines, query.question.clone());
            // Its global identity goes with it; one deleted here (and synced) stays deleted.
            let uid = backup.reading_uid(id)?;
            if here.contains(&key) || self.deleted_uid(uid)? {
                out.present += 1;
                continue;
            }
            let new_id = self.atomic(|| {
                let new_id = self.insert_copy(&row, &query)?;
                self.carry_uid(new_id, uid)?;
                let parts: Vec<_> = parts.iter().map(|p| (&p.meta, &p.text)).collect();
                if !parts.is_empty() {
                    // A reading of schema 7 kept none: its requests' common start serves.
                    let offered = prefix.as_deref().or_else(|| {
                        super::prefixes::common_prefix(parts.iter().map(|p| p.1.request.as_str()))
                    });
                    self.save_parts_sharing(new_id, offered, &parts)?;
                }
                for note in &notes {
                    self.copy_note(new_id, note)?;
                }
                for (f, request) in &followups {
                    self.copy_followup(new_id, f, request)?;
                }
                Ok(new_id)
            })?;
            here.insert(key);
            out.added.push(new_id);
        }
        Ok(out)
    }

    /// Inserts a copy of `row` (from another store) with `query`, tagged; a reading that
    /// was running there is interrupted here.
    pub(super) fn insert_copy(
        &self,
        row: &super::ReadingRow,
        query: &Query,
    ) -> Result<ReadingId, StoreError> {
        self.same_key()?;
        let status = match row.status {
            ReadingStatus::Running => ReadingStatus::Interrupted,
            other => other,
        };
        let lines = row.lines.map(|v| v.to_string()).join(",");
        self.conn
            .execute(
                "INSERT INTO readings (created_at, updated_at, status, method, lines, seed,
                    primary_hex, resulting_hex, sections_planned, provider, model, question)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, x'')",
                params![
                    row.created_at,
                    now_ms(),
                    status.as_str(),
                    row.method,
                    lines,
                    row.seed.map(|s| s.to_string()),
                    row.primary,
                    row.resulting,
                    row.sections_planned,
                    row.provider,
                    row.model,
                ],
            )
            .map_err(|e| self.db_err(e))?;
        let id = ReadingId(self.conn.last_insert_rowid());
        let sealed = self.seal(Field::Question(id), query.question.as_bytes());
        let context = query
            .context
            .as_ref()
            .map(|c| self.seal(Field::Context(id), c.as_bytes()).into_bytes());
        self.conn
            .execute(
                "UPDATE readings SET question = ?2, context = ?3 WHERE id = ?1",
                params![id, sealed.as_bytes(), context],
            )
            .map_err(|e| self.db_err(e))?;
        self.write_tags(&self.raw_row(id)?)?;
        Ok(id)
    }
}
