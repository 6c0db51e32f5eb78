//! File modes, checked the way ssh's `StrictModes` checks `~/.ssh`: the data folder must belong
//! to the user and not be writable by others, the key file must be the user's and readable by
//! nobody else. What is unsafe is refused with the `chmod` to run; the store's own files left too
//! open (a database, its `-wal`/`-shm`, the log) are tightened to 0600 and said so, since that is
//! always safe to do.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use super::StoreError;

/// The effective user id of this process.
fn me() -> u32 {
    rustix::process::geteuid().as_raw()
}

/// The data folder: ours, and writable by nobody else.
pub(super) fn check_dir(dir: &Path) -> Result<(), StoreError> {
    let Ok(meta) = std::fs::metadata(dir) else {
        return Ok(());
    };
    let mode = meta.permissions().mode() & 0o7777;
    if meta.uid() != me() {
        return Err(StoreError::Unsafe {
            path: dir.to_path_buf(),
            problem: format!("belongs to another user (uid {})", meta.uid()),
            fix: "pass --home with a folder of your own".into(),
        });
    }
    if mode & 0o022 != 0 {
        return Err(StoreError::Unsafe {
            path: dir.to_path_buf(),
            problem: format!("can be written by other users (mode {mode:o})"),
            fix: format!("run `chmod go-w {}`", dir.display()),
        });
    }
    Ok(())
}

/// The key file, when there is one: ours, and 0600 or tighter.
pub(super) fn check_key_file(path: &Path) -> Result<(), StoreError> {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return Ok(());
    };
    let mode = meta.permissions().mode() & 0o7777;
    if meta.uid() != me() {
        return Err(StoreError::Unsafe {
            path: path.to_path_buf(),
            problem: format!("belongs to another user (uid {})", meta.uid()),
            fix: "use your own copy of the key file".into(),
        });
    }
    if mode & 0o077 != 0 {
        return Err(StoreError::Unsafe {
            path: path.to_path_buf(),
            problem: format!(
                "can be read by other users (mode {mode:o}); anyone who copied it can open your readings"
            ),
            fix: format!("run `chmod 600 {}`", path.display()),
        });
    }
    Ok(())
}

/// Tightens one of the store's own files (ours, too open) to 0600; returns what it did.
pub fn tighten(path: &Path) -> Option<String> {
    let meta = std::fs::symlink_metadata(path).ok()?;
    let mode = meta.permissions().mode() & 0o7777;
    if !meta.is_file() || meta.uid() != me() || mode & 0o077 == 0 {
        return None;
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).ok()?;
    Some(format!(
        "{} could be read by other users (mode {mode:o}); it is now 0600",
        path.display()
    ))
}
