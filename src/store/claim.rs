//! Claims a live process holds in the data folder: a small file it keeps open with an exclusive
//! lock. The lock ends with the process however it ends (a kill included), so whether a claim is
//! live is asked of the lock, never of a process id that may have been reused or belong to
//! another machine sharing the folder.
//!
//! Two kinds: work in flight that will write when it ends (a follow-up being answered), which a
//! key change refuses to run under; and a staging folder's owner, which the sweep of what killed
//! processes left behind leaves alone while its owner lives.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use crate::model::ReadingId;

use super::StoreError;

/// The prefix of a work-in-flight claim's file name in the data folder.
const WORK_PREFIX: &str = ".iching-busy-";
/// The owner's claim inside a staging folder.
pub(super) const OWNER_FILE: &str = ".owner";

/// Work in flight that writes to the store when it ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Work {
    /// A follow-up question on a reading, being answered.
    Followup(ReadingId),
}

impl Work {
    fn encode(self) -> String {
        match self {
            Work::Followup(id) => format!("followup {id}"),
        }
    }

    fn decode(text: &str) -> Option<Work> {
        let (kind, id) = text.trim().split_once(' ')?;
        match kind {
            "followup" => id.parse().ok().map(Work::Followup),
            _ => None,
        }
    }
}

impl std::fmt::Display for Work {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Work::Followup(id) => {
                write!(f, "a follow-up question on reading {id} is being answered")
            }
        }
    }
}

/// A held claim: the lock is released and the file removed when this is dropped.
#[derive(Debug)]
pub struct Claim {
    file: File,
    path: PathBuf,
}

impl Drop for Claim {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
        let _ = self.file.unlock();
    }
}

/// Creates `path` (0600) and holds it locked; fails when it exists and is held.
fn hold(path: &Path, text: &str) -> std::io::Result<Claim> {
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)?;
    file.try_lock().map_err(|e| match e {
        TryLockError::WouldBlock => std::io::Error::from(std::io::ErrorKind::WouldBlock),
        TryLockError::Error(e) => e,
    })?;
    file.set_len(0)?;
    file.write_all(text.as_bytes())?;
    Ok(Claim {
        file,
        path: path.to_path_buf(),
    })
}

/// Whether the claim file at `path` is held by a live process. A file that cannot be opened is
/// not a claim anyone holds.
pub(super) fn is_held(path: &Path) -> bool {
    let Ok(file) = File::open(path) else {
        return false;
    };
    match file.try_lock_shared() {
        Ok(()) => {
            let _ = file.unlock();
            false
        }
        Err(TryLockError::WouldBlock) => true,
        Err(TryLockError::Error(_)) => false,
    }
}

/// Claims a staging folder for this process: the sweep leaves it alone while the claim is held.
pub(super) fn own_folder(folder: &Path) -> Result<Claim, StoreError> {
    let path = folder.join(OWNER_FILE);
    // Made and locked under a name of its own, then renamed: the sweep never sees an owner's
    // file that is not locked yet.
    let staged = folder.join(format!("{OWNER_FILE}-{}", std::process::id()));
    let mut claim = hold(&staged, &std::process::id().to_string())
        .map_err(|e| StoreError::io(&staged, "cannot create", &e))?;
    std::fs::rename(&staged, &path).map_err(|e| StoreError::io(&path, "cannot create", &e))?;
    claim.path = path;
    Ok(claim)
}

/// Whether a staging folder's owner is alive: `None` when the folder has no owner's claim (made
/// by a process killed before it wrote one, or by an older version).
pub(super) fn folder_owner_alive(folder: &Path) -> Option<bool> {
    let path = folder.join(OWNER_FILE);
    path.exists().then(|| is_held(&path))
}

/// Claims `work` in `data_dir` for as long as the result is held. Waits while a key change is
/// running (it holds the store's lock file), so work never starts under a key about to go.
pub fn claim(data_dir: &Path, work: Work) -> Result<Claim, StoreError> {
    static SEQ: AtomicU32 = AtomicU32::new(0);
    let _lock = super::store_lock(data_dir, false)?;
    let name = format!(
        "{WORK_PREFIX}{}-{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    );
    let path = data_dir.join(name);
    hold(&path, &work.encode()).map_err(|e| StoreError::io(&path, "cannot create", &e))
}

/// The work other processes (or this one) hold claims on in `data_dir`; claims left by processes
/// that are gone are removed on the way.
pub fn in_flight(data_dir: &Path) -> Vec<(Work, u32)> {
    let Ok(entries) = std::fs::read_dir(data_dir) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(WORK_PREFIX)) else {
            continue;
        };
        let path = entry.path();
        if !is_held(&path) {
            let _ = std::fs::remove_file(&path);
            continue;
        }
        let pid = rest
            .split_once('-')
            .and_then(|(pid, _)| pid.parse().ok())
            .unwrap_or(0);
        let mut text = String::new();
        let read = File::open(&path).and_then(|f| f.take(64).read_to_string(&mut text));
        if let (Ok(_), Some(work)) = (read, Work::decode(&text)) {
            found.push((work, pid));
        }
    }
    found.sort_by_key(|(_, pid)| *pid);
    found
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "a test fails by panicking")]
    use super::*;

    #[test]
    fn a_claim_is_seen_while_held_and_gone_after() {
        let dir = tempfile::tempdir().unwrap();
        let claim = claim(dir.path(), Work::Followup(ReadingId(3))).unwrap();
        assert_eq!(
            in_flight(dir.path()),
            vec![(Work::Followup(ReadingId(3)), std::process::id())]
        );
        drop(claim);
        assert!(in_flight(dir.path()).is_empty());
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .filter(|n| n.to_string_lossy().starts_with(WORK_PREFIX))
            .collect();
        assert!(left.is_empty(), "{left:?}");
    }

    #[test]
    fn a_claim_file_no_one_holds_is_swept() {
        let dir = tempfile::tempdir().unwrap();
        // What a killed process leaves: the file, with nobody holding its lock.
        let path = dir.path().join(format!("{WORK_PREFIX}999999-0"));
        std::fs::write(&path, "followup 4").unwrap();
        assert!(in_flight(dir.path()).is_empty());
        assert!(!path.exists());
    }

    #[test]
    fn a_folder_owner_is_alive_while_held() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(folder_owner_alive(dir.path()), None);
        let owner = own_folder(dir.path()).unwrap();
        assert_eq!(folder_owner_alive(dir.path()), Some(true));
        drop(owner);
        assert_eq!(folder_owner_alive(dir.path()), None);
        std::fs::write(dir.path().join(OWNER_FILE), "1").unwrap();
        assert_eq!(folder_owner_alive(dir.path()), Some(false));
    }
}
