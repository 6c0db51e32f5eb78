//! Looking after the store as a whole: checking every reading ([`Service::verify`]), copying
//! it while in use ([`Service::backup`]) and adding a backup's readings back
//! ([`Service::restore`]).

use std::path::{Path, PathBuf};

use crate::model::Secret;

use super::{NotABackup, Service, ServiceError, Stopped};
use crate::store::{
    DB_FILE, Imported, KEY_FILE, KeyMode, NewSecret, OpenedBackup, Rekeyed, StoreError, Unlock,
    Verified,
};

/// The environment variable holding a backup's passphrase for `restore`.
pub const BACKUP_PASSPHRASE_ENV: &str = "ICHING_BACKUP_PASSPHRASE";

/// How to open a backup for [`Service::restore`].
#[derive(Debug, Default)]
pub struct BackupKey {
    /// The key file of a backup sealed with one; `None` is this store's own key file.
    pub key_file: Option<PathBuf>,
    /// The passphrase of a backup sealed with one.
    pub passphrase: Option<Secret>,
}

impl Service {
    /// The database file.
    pub fn db_path(&self) -> PathBuf {
        self.dirs.data.join(DB_FILE)
    }

    /// Whether the store is sealed with its key file or a passphrase.
    pub async fn key_mode(&self) -> Result<KeyMode, ServiceError> {
        Ok(self.writer.call(|s| Ok(s.key_mode())).await?)
    }

    /// Re-seals the whole store under a new master key from `to`, in one crash-safe pass (see
    /// [`crate::store::Store::rekey`]).
    pub async fn rekey(&self, to: NewSecret) -> Result<Rekeyed, ServiceError> {
        self.writable()?;
        Ok(self.writer.call_alone(move |s| s.rekey(to)).await?)
    }

    /// Checks every reading's tags and sealed values, and the file itself.
    pub async fn verify(&self) -> Result<Verified, ServiceError> {
        Ok(self.writer.call(crate::store::Store::verify).await?)
    }

    /// Writes a consistent copy of the store to the new file `to` (mode 0600, never over a
    /// file), even while readings are being written; returns its size in bytes.
    pub async fn backup(&self, to: &Path) -> Result<u64, ServiceError> {
        let (db, to) = (self.db_path(), to.to_path_buf());
        tokio::task::spawn_blocking(move || crate::store::backup(&db, &to))
            .await
            .map_err(|_| ServiceError::Stopped(Stopped::Backup))?
            .map_err(ServiceError::from)
    }

    /// How the backup `file` is sealed.
    pub fn backup_key_mode(file: &Path) -> Result<KeyMode, ServiceError> {
        let not_a_backup = |why: NotABackup| ServiceError::NotABackup {
            file: file.to_path_buf(),
            why,
        };
        match std::fs::metadata(file) {
            Ok(m) if m.is_file() => {}
            Ok(_) => return Err(not_a_backup(NotABackup::NotAFile)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(ServiceError::NoSuchBackup {
                    file: file.to_path_buf(),
                });
            }
            Err(e) => return Err(not_a_backup(NotABackup::Unreadable(e.into()))),
        }
        match crate::store::key_mode_of(file) {
            Ok(Some(mode)) => Ok(mode),
            Ok(None) => Err(not_a_backup(NotABackup::NoStore)),
            Err(e @ StoreError::Corrupt { .. }) => Err(not_a_backup(NotABackup::Damaged(e))),
            Err(e) => Err(e.into()),
        }
    }

    /// Adds the readings of the backup `file` that are not already here, re-sealed under this
    /// store's key.
    pub async fn restore(&self, file: &Path, key: BackupKey) -> Result<Imported, ServiceError> {
        self.writable()?;
        let mode = Self::backup_key_mode(file)?;
        let key_file = match mode {
            KeyMode::KeyFile => Some(
                key.key_file
                    .clone()
                    .unwrap_or_else(|| self.dirs.data.join(KEY_FILE)),
            ),
            KeyMode::Passphrase => None,
        };
        let unlock = match mode {
            KeyMode::KeyFile => Unlock::default(),
            KeyMode::Passphrase => Unlock {
                passphrase: Some(
                    key.passphrase
                        .ok_or_else(|| ServiceError::BackupNeedsPassphrase(file.to_path_buf()))?,
                ),
                new_rounds: None,
            },
        };
        let own_key = key.key_file.is_none();
        let (file, data) = (file.to_path_buf(), self.dirs.data.clone());
        let shown = file.clone();
        self.writer
            .call(move |s| {
                let backup = OpenedBackup::open(&file, &data, key_file.as_deref(), unlock)?;
                s.import(backup.store())
            })
            .await
            .map_err(|e| match e {
                StoreError::WrongKeyFile { .. } if own_key => ServiceError::BackupNotThisKey(shown),
                StoreError::WrongPassphrase { .. } => ServiceError::BackupWrongPassphrase(shown),
                StoreError::KeyFileMissing { key, .. } if !own_key => {
                    ServiceError::BackupKeyMissing(key)
                }
                other => other.into(),
            })
    }
}

/// What was in a home before a restore began, so that a restore refused there takes away what
/// it made (the folders, a new store and its key, lock and log) and nothing that was there.
/// A home that held a store already is left as it is.
#[derive(Debug)]
pub struct FreshHome {
    /// The data folder.
    data: PathBuf,
    /// The folders this run is about to make, the data folder first.
    made: Vec<PathBuf>,
    /// Whether a store was there already.
    had_store: bool,
    /// The names in the data folder before.
    before: std::collections::HashSet<std::ffi::OsString>,
}

impl FreshHome {
    /// Notes what `home` (the platform's folder when `None`) holds now.
    pub fn note(home: Option<&Path>) -> Result<Self, ServiceError> {
        let data = crate::config::Dirs::resolve(home)?.data;
        let made = data
            .ancestors()
            .take_while(|d| !d.as_os_str().is_empty() && std::fs::symlink_metadata(d).is_err())
            .map(Path::to_path_buf)
            .collect();
        let before = std::fs::read_dir(&data)
            .map(|entries| entries.flatten().map(|e| e.file_name()).collect())
            .unwrap_or_default();
        Ok(Self {
            had_store: data.join(DB_FILE).exists(),
            data,
            made,
            before,
        })
    }

    /// Removes what iching made in the home since [`FreshHome::note`] (its files are named
    /// `iching...` or `.iching...`/`.restore...`), then the folders it made, if they are empty.
    pub fn undo(self) {
        if self.had_store {
            return;
        }
        if let Ok(entries) = std::fs::read_dir(&self.data) {
            for entry in entries.flatten() {
                let name = entry.file_name();
                let ours = name.to_str().is_some_and(|n| {
                    n.starts_with("iching") || n.starts_with(".iching") || n.starts_with(".restore")
                });
                if !ours || self.before.contains(&name) {
                    continue;
                }
                let path = entry.path();
                let _ = match entry.file_type() {
                    Ok(t) if t.is_dir() => std::fs::remove_dir_all(&path),
                    _ => std::fs::remove_file(&path),
                };
            }
        }
        for dir in &self.made {
            if std::fs::remove_dir(dir).is_err() {
                break;
            }
        }
    }
}
