//! Sync through a folder ([`Service::sync`]): the journal on every machine, through a folder
//! the user's own sync tool (Syncthing, Dropbox, iCloud Drive, a git checkout) keeps in step.
//! The store does the work ([`crate::store::Store::sync`]); here the folder is chosen and the
//! joining key found.

use std::path::{Path, PathBuf};

use super::{Service, ServiceError};
use crate::model::Secret;
use crate::store::{PASSPHRASE_ENV, SyncJoin, SyncStatus, Synced};

pub use crate::store::{KEY_CHECK_FILE, Refused};

/// The environment variable holding the passphrase of a passphrase store's sync folder, when
/// it is not this store's own (`ICHING_PASSPHRASE`).
pub const SYNC_PASSPHRASE_ENV: &str = "ICHING_SYNC_PASSPHRASE";

/// What `iching sync --status` reports: the folder and what the store knows of its syncs.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SyncReport {
    /// The folder, when one is given or set.
    pub dir: Option<PathBuf>,
    /// What the store knows.
    #[serde(flatten)]
    pub status: SyncStatus,
}

impl Service {
    /// The sync folder: `dir` when given, else `sync_dir` in config.toml (`~/` the home
    /// folder); `None` when neither is.
    pub fn sync_dir(&self, dir: Option<&Path>) -> Result<Option<PathBuf>, ServiceError> {
        if let Some(dir) = dir {
            return Ok(Some(dir.to_path_buf()));
        }
        let file = crate::config::FileConfig::load(&self.dirs.config_file())?;
        Ok(file
            .sync_dir
            .filter(|d| !d.as_os_str().is_empty())
            .map(|d| self.dirs.exports(Some(&d))))
    }

    /// Syncs with `dir`: writes this machine's new readings, notes, follow-ups and deletions
    /// there as one sealed record, and merges every other machine's new records. `key_file`
    /// joins a folder made by a key-file store (that machine's `iching.key`); a passphrase
    /// folder is joined with the passphrase in [`SYNC_PASSPHRASE_ENV`], else `ICHING_PASSPHRASE`. Files refused (damaged or
    /// forged) are in the result: nothing of them was merged, the rest was.
    pub async fn sync(&self, dir: &Path, key_file: Option<&Path>) -> Result<Synced, ServiceError> {
        self.writable()?;
        let join = SyncJoin {
            key_file: key_file.map(Path::to_path_buf),
            passphrase: [SYNC_PASSPHRASE_ENV, PASSPHRASE_ENV]
                .into_iter()
                .find_map(|var| std::env::var(var).ok().filter(|p| !p.is_empty()))
                .map(Secret::new),
        };
        let dir = dir.to_path_buf();
        Ok(self.writer.call(move |s| s.sync(&dir, &join)).await?)
    }

    /// When this store last synced, and with how many other machines.
    pub async fn sync_status(&self, dir: Option<PathBuf>) -> Result<SyncReport, ServiceError> {
        let status = self.writer.call(crate::store::Store::sync_status).await?;
        Ok(SyncReport { dir, status })
    }
}
