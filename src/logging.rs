//! Logs go through `tracing` to `iching.log` in the data dir (mode 0600), never to the terminal
//! the app owns. The level is `info` (`--verbose`: `debug`), or whatever `RUST_LOG` says.
//! Nothing secret is logged: no keys or passphrases, no questions, no model text — only ids,
//! section names, statuses, counts, timings and error kinds.

use std::fs::OpenOptions;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use tracing_subscriber::EnvFilter;

/// The log file's name in the data dir.
pub const LOG_FILE: &str = "iching.log";

/// Starts logging to `data_dir/iching.log`. Returns the file's path, or `None` when it cannot be
/// opened (the app then runs without a log rather than failing).
pub fn init(data_dir: &Path, verbose: bool) -> Option<PathBuf> {
    // The data dir holds the key and the database: private from the start (the store makes it
    // 0700 too, but logging may create it first).
    let mut dir = std::fs::DirBuilder::new();
    dir.recursive(true).mode(0o700);
    dir.create(data_dir).ok()?;
    let path = data_dir.join(LOG_FILE);
    let mut options = OpenOptions::new();
    options.create(true).append(true).mode(0o600);
    let file = options.open(&path).ok()?;
    // A log an older version left readable by others is made private.
    if let Ok(meta) = file.metadata()
        && meta.permissions().mode() & 0o077 != 0
    {
        let _ = file.set_permissions(std::fs::Permissions::from_mode(0o600));
    }
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        EnvFilter::new(if verbose {
            "iching=debug,warn"
        } else {
            "iching=info,warn"
        })
    });
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(Mutex::new(file))
        .with_ansi(false)
        .with_target(false)
        .try_init()
        .ok()?;
    Some(path)
}
