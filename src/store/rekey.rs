//! Changing the store's key: a new random key file (`key rotate`), a passphrase set, changed or
//! removed. Every sealed value and every tag is re-made under the new master key in one SQLite
//! transaction, so a process killed at any moment leaves a store that opens with the old key or
//! the new one, and nothing is lost:
//!
//! 1. Under the exclusive lock on `.iching.lock`, everything is checked first (a store with a
//!    damaged reading is not re-keyed: that would re-tag the damage as iching's own) and no
//!    live process may be generating a reading.
//! 2. The key file of a key-file store is kept as `iching.key.old-<UTC time>` (0600, synced)
//!    for the backups sealed with it (removed again if the change fails before it commits),
//!    and a new key file is written as `iching.key.new` (0600, synced).
//! 3. One transaction re-seals every question and section blob, writes the new key settings
//!    and key check, and re-tags every row and the header. It commits, or nothing changed.
//! 4. `iching.key.new` is renamed over `iching.key` (or, for a passphrase now, `iching.key` is
//!    removed), and the folder synced. Killed between 3 and 4, the next open finds the old key
//!    does not open the store, the staged one does, and finishes the rename
//!    ([`super::keys`]); killed before 3 commits, the staged key is left over and removed.
//! 5. The WAL is checkpointed and truncated, so no page sealed with the old key stays in it
//!    (`secure_delete` already zeroes freed pages).
//!
//! Other processes with the store open still hold the old key: their writer compares the key
//! check before each job and opens the store again with the key file as it is now
//! ([`Store::follow_key_change`]); one that now needs a passphrase it was not given fails with
//! [`StoreError::KeyChanged`], and every write checks the key first, so nothing is sealed under
//! a key that is gone. Work in flight that would write at its end (a follow-up) claims itself
//! (`claim.rs`), and a key change refuses to start while it runs.

use std::path::{Path, PathBuf};

use rusqlite::{OptionalExtension, params};
use zeroize::Zeroizing;

use super::keys::{self, KEY_CHECK, Kdf, KeyMode};
use super::{Field, KEY_FILE, Store, StoreError};
use crate::crypto::{Keys, MasterKey, Sealed};
use crate::model::{ReadingId, Secret};

/// What the store is sealed with after a key change.
#[derive(Debug)]
pub enum NewSecret {
    /// A new random key in `iching.key`.
    KeyFile,
    /// A passphrase, through Argon2id with a new salt.
    Passphrase(Secret),
}

/// What a key change did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rekeyed {
    /// Readings re-sealed.
    pub readings: usize,
    /// Sealed values re-made.
    pub sealed: usize,
    /// How the store is sealed now.
    pub mode: KeyMode,
    /// Where the key file it was sealed with before is kept (`iching.key.old-...`, 0600) for
    /// the backups made before; `None` when it was sealed with a passphrase.
    pub old_key: Option<PathBuf>,
    /// The keys earlier changes kept beside it, oldest first: backups older still need those.
    pub older_keys: Vec<PathBuf>,
}

/// Test builds stop here when `ICHING_TEST_PAUSE` names `phase`, so a test can kill the
/// process at that point. Release builds have no such hook.
pub(super) fn pause_for_tests(phase: &str) {
    #[cfg(debug_assertions)]
    if std::env::var("ICHING_TEST_PAUSE").is_ok_and(|p| p == phase) {
        eprintln!("paused at {phase}");
        std::thread::sleep(std::time::Duration::from_secs(3600));
    }
    #[cfg(not(debug_assertions))]
    let _ = phase;
}

impl Store {
    /// Re-seals everything under a new master key from `to` (see the module docs).
    pub fn rekey(&mut self, to: NewSecret) -> Result<Rekeyed, StoreError> {
        self.rekey_with(to, None)
    }

    /// [`Store::rekey`] with the passphrase's derivation chosen (tests use cheap parameters).
    pub(crate) fn rekey_with(
        &mut self,
        to: NewSecret,
        kdf: Option<Kdf>,
    ) -> Result<Rekeyed, StoreError> {
        if let Some(why) = &self.read_only {
            return Err(why.clone());
        }
        let dir = self.path.parent().unwrap_or(Path::new(".")).to_path_buf();
        let lock = super::store_lock(&dir, true)?;
        let checked = self.verify()?;
        if !checked.clean() {
            return Err(StoreError::Damaged {
                readings: checked.damaged.len(),
            });
        }
        for id in self.running_ids()? {
            self.not_in_flight(id)?;
        }
        // Work that writes when it ends claims itself under the lock held here, so none can
        // start now and none that started is missed.
        if let Some(&(work, pid)) = super::claim::in_flight(&dir).first() {
            return Err(StoreError::Busy { work, pid });
        }
        let key_path = dir.join(KEY_FILE);
        let staged = keys::staged_key_path(&key_path);
        let (master, mode, kdf) = match to {
            NewSecret::KeyFile => (MasterKey::generate(), KeyMode::KeyFile, None),
            NewSecret::Passphrase(passphrase) => {
                let kdf = kdf.unwrap_or_else(Kdf::new_argon2id);
                let master = keys::derive_new(&kdf, passphrase.expose())?;
                (master, KeyMode::Passphrase, Some(kdf))
            }
        };
        // The key going away stays beside the new one for the backups sealed with it, kept
        // before anything changes (a change that does not commit removes it again).
        let older_keys = keys::kept_keys(&key_path);
        let old_key = match self.mode {
            KeyMode::KeyFile => Some(keys::keep_old_key(&key_path, super::now_ms())?),
            KeyMode::Passphrase => None,
        };
        let forget_old_key = || {
            if let Some(old) = &old_key {
                let _ = std::fs::remove_file(old);
            }
        };
        if mode == KeyMode::KeyFile {
            let _ = std::fs::remove_file(&staged);
            if let Err(e) = keys::write_key_file(&staged, &master) {
                forget_old_key();
                return Err(e);
            }
            keys::sync_dir(&dir);
        }
        pause_for_tests("key-written");
        let new_keys = Keys::derive(&master);
        let resealed = self.step("BEGIN IMMEDIATE").and_then(|()| {
            let done = self.reseal_all(new_keys, mode, kdf);
            match done {
                Ok(done) => match self.step("COMMIT") {
                    Ok(()) => Ok(done),
                    Err(e) => {
                        let _ = self.conn.execute_batch("ROLLBACK");
                        Err(e)
                    }
                },
                Err(e) => {
                    let _ = self.conn.execute_batch("ROLLBACK");
                    Err(e)
                }
            }
        });
        let (readings, sealed, old_keys) = match resealed {
            Ok(done) => done,
            Err(e) => {
                let _ = std::fs::remove_file(&staged);
                forget_old_key();
                return Err(e);
            }
        };
        // Committed: the new key is the one. From here on nothing may undo that.
        drop(old_keys);
        self.key_check = self.current_key_check()?;
        pause_for_tests("committed");
        let old_mode = std::mem::replace(&mut self.mode, mode);
        let moved = match mode {
            KeyMode::KeyFile => std::fs::rename(&staged, &key_path),
            KeyMode::Passphrase if old_mode == KeyMode::KeyFile => std::fs::remove_file(&key_path),
            KeyMode::Passphrase => Ok(()),
        };
        keys::sync_dir(&dir);
        if let Err(e) = moved {
            // The next open finishes it (the staged key opens the store).
            tracing::warn!(%e, "the key file could not be put in place yet");
        }
        let _ = self.conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)");
        drop(lock);
        Ok(Rekeyed {
            readings,
            sealed,
            mode,
            old_key,
            older_keys,
        })
    }

    /// Inside the key change's transaction: re-seals every blob with `new`, writes the new key
    /// settings, and re-tags everything; returns the readings and values done, and the old
    /// keys. On an error the old keys are back in place.
    fn reseal_all(
        &mut self,
        new: Keys,
        mode: KeyMode,
        kdf: Option<Kdf>,
    ) -> Result<(usize, usize, Keys), StoreError> {
        let ids = self.reading_ids()?;
        let mut sealed = 0;
        let mut halfway = ids.len() / 2;
        for &id in &ids {
            sealed += self.reseal_reading(id, &new)?;
            if halfway == 0 {
                pause_for_tests("resealing");
            }
            halfway = halfway.saturating_sub(1);
        }
        self.conn
            .execute(
                "DELETE FROM meta WHERE key IN ('key_mode', 'kdf', 'kdf_salt', 'kdf_rounds',
                    'kdf_params', 'key_check', 'header_tag')",
                [],
            )
            .map_err(|e| self.db_err(e))?;
        let check = new.seal(Field::KeyCheck.aad().as_bytes(), KEY_CHECK);
        let mut rows: Vec<(&str, Vec<u8>)> = vec![
            ("key_mode", mode.as_str().as_bytes().to_vec()),
            ("key_check", check.into_bytes()),
        ];
        if let Some(kdf) = kdf {
            rows.extend(kdf.meta_rows());
        }
        for (key, value) in rows {
            self.conn
                .execute(
                    "INSERT INTO meta (key, value) VALUES (?1, ?2)",
                    params![key, value],
                )
                .map_err(|e| self.db_err(e))?;
        }
        sealed += self.reseal_notes(&new)?;
        sealed += self.reseal_followups(&new)?;
        sealed += self.reseal_provider_keys(&new)?;
        sealed += self.reseal_sync_key(&new)?;
        let old = std::mem::replace(&mut self.keys, new);
        if let Err(e) = self.tag_everything() {
            let new = std::mem::replace(&mut self.keys, old);
            drop(new);
            return Err(e);
        }
        Ok((ids.len(), sealed, old))
    }

    /// Re-seals reading `id`'s question and its sections' blobs with `new`; returns how many.
    #[allow(
        clippy::items_after_statements,
        reason = "the row type belongs next to its query"
    )]
    fn reseal_reading(&self, id: ReadingId, new: &Keys) -> Result<usize, StoreError> {
        let mut done = 0;
        let mut reseal = |field: Field, blob: Vec<u8>| -> Result<Vec<u8>, StoreError> {
            let aad = field.aad();
            let plain = Zeroizing::new(
                self.keys
                    .open(aad.as_bytes(), &Sealed::from_bytes(blob))
                    .map_err(|_| StoreError::Integrity {
                        id,
                        field: field.describe(),
                    })?,
            );
            done += 1;
            Ok(new.seal_packed(aad.as_bytes(), &plain).into_bytes())
        };
        let (question, context): (Vec<u8>, Option<Vec<u8>>) = self
            .conn
            .query_row(
                "SELECT question, context FROM readings WHERE id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(|e| self.db_err(e))?;
        let question = reseal(Field::Question(id), question)?;
        let context = context.map(|b| reseal(Field::Context(id), b)).transpose()?;
        self.conn
            .execute(
                "UPDATE readings SET question = ?2, context = ?3 WHERE id = ?1",
                params![id, question, context],
            )
            .map_err(|e| self.db_err(e))?;
        let prefix: Option<Vec<u8>> = self
            .conn
            .query_row(
                "SELECT prefix FROM request_prefixes WHERE reading_id = ?1",
                [id],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.db_err(e))?;
        if let Some(prefix) = prefix {
            let prefix = reseal(Field::RequestPrefix(id), prefix)?;
            self.conn
                .execute(
                    "UPDATE request_prefixes SET prefix = ?2 WHERE reading_id = ?1",
                    params![id, prefix],
                )
                .map_err(|e| self.db_err(e))?;
        }
        type Blobs = (
            u8,
            Vec<u8>,
            Option<Vec<u8>>,
            Option<Vec<u8>>,
            Option<Vec<u8>>,
            bool,
        );
        let parts: Vec<Blobs> = self
            .conn
            .prepare(
                "SELECT section_id, request, response, paragraphs, error, request_shared
                 FROM reading_parts WHERE reading_id = ?1",
            )
            .and_then(|mut st| {
                st.query_map([id], |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                    ))
                })?
                .collect()
            })
            .map_err(|e| self.db_err(e))?;
        for (s, request, response, paragraphs, error, shared) in parts {
            let request = if shared {
                reseal(Field::RequestTail(id, s), request)?
            } else {
                reseal(Field::Request(id, s), request)?
            };
            let response = response
                .map(|b| reseal(Field::Response(id, s), b))
                .transpose()?;
            let paragraphs = paragraphs
                .map(|b| reseal(Field::Paragraphs(id, s), b))
                .transpose()?;
            let error = error.map(|b| reseal(Field::Error(id, s), b)).transpose()?;
            self.conn
                .execute(
                    "UPDATE reading_parts SET request = ?3, response = ?4, paragraphs = ?5,
                        error = ?6 WHERE reading_id = ?1 AND section_id = ?2",
                    params![id, s, request, response, paragraphs, error],
                )
                .map_err(|e| self.db_err(e))?;
        }
        Ok(done)
    }

    /// The ids of readings whose status is `running`.
    fn running_ids(&self) -> Result<Vec<ReadingId>, StoreError> {
        self.conn
            .prepare("SELECT id FROM readings WHERE status = 'running'")
            .and_then(|mut st| st.query_map([], |r| r.get(0))?.collect())
            .map_err(|e| self.db_err(e))
    }

    /// The sealed key check as the database holds it now.
    pub(super) fn current_key_check(&self) -> Result<Vec<u8>, StoreError> {
        self.conn
            .prepare_cached("SELECT value FROM meta WHERE key = 'key_check'")
            .and_then(|mut st| st.query_row([], |r| r.get(0)))
            .map_err(|e| self.db_err(e))
    }

    /// Follows a key change another process made since this store was opened: a store whose
    /// key is (still, or now) a key file opens again with that file, so everything reads and
    /// writes as before; one that now needs a passphrase cannot, and fails with
    /// [`StoreError::KeyChanged`]. Nothing changed: nothing to do (one small read).
    pub fn follow_key_change(&mut self) -> Result<bool, StoreError> {
        if self.read_only.is_some() || self.current_key_check()? == self.key_check {
            return Ok(false);
        }
        let dir = self.path.parent().unwrap_or(Path::new(".")).to_path_buf();
        match Store::open(&dir, super::Unlock::default()) {
            Ok(fresh) => {
                tracing::info!(
                    "the store's key was changed by another process; opened again with the new key"
                );
                *self = fresh;
                Ok(true)
            }
            Err(_) => Err(StoreError::KeyChanged {
                path: self.path.clone(),
            }),
        }
    }

    /// Whether another process changed the store's key since this one opened it.
    pub(super) fn key_check_changed(&self) -> Result<bool, StoreError> {
        Ok(self.current_key_check()? != self.key_check)
    }

    /// Fails with [`StoreError::KeyChanged`] when another process changed the store's key
    /// since this one opened it: what this process would seal could not be opened.
    pub(super) fn same_key(&self) -> Result<(), StoreError> {
        if self.current_key_check()? == self.key_check {
            Ok(())
        } else {
            Err(StoreError::KeyChanged {
                path: self.path.clone(),
            })
        }
    }
}
