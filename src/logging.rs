//! Logs go through `tracing` to `iching.log` in the data dir (mode 0600), never to the terminal
//! the app owns. The level is `info` (`--verbose`: `debug`), or what `RUST_LOG`
//! says as `target=level` directives (see [`filter`]).
//! Nothing secret is logged: no keys or passphrases, no questions, no model text — only ids,
//! section names, statuses, counts, timings and error kinds.

use std::fs::OpenOptions;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

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
    // A folder others can write or that is not ours is refused by the store's check after
    // this; until then nothing is written in it (someone could have put a link to another
    // file where the log goes).
    let me = rustix::process::geteuid().as_raw();
    // The folder as the store sees it (a data folder that is a link to one is fine).
    let folder = std::fs::metadata(data_dir).ok()?;
    if !folder.is_dir() || folder.uid() != me || folder.mode() & 0o022 != 0 {
        return None;
    }
    let path = data_dir.join(LOG_FILE);
    let mut options = OpenOptions::new();
    options
        .create(true)
        .append(true)
        .mode(0o600)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits().cast_signed());
    let file = options.open(&path).ok()?;
    // Only a file of our own with no other name: never one someone linked here.
    let meta = file.metadata().ok()?;
    if !meta.is_file() || meta.uid() != me || meta.nlink() != 1 {
        return None;
    }
    // A log an older version left readable by others is made private.
    if let Ok(meta) = file.metadata()
        && meta.permissions().mode() & 0o077 != 0
    {
        let _ = file.set_permissions(std::fs::Permissions::from_mode(0o600));
    }
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(Mutex::new(file))
        .with_ansi(false)
        .with_target(false);
    tracing_subscriber::registry()
        .with(layer)
        .with(filter(std::env::var("RUST_LOG").ok().as_deref(), verbose))
        .try_init()
        .ok()?;
    Some(path)
}

/// What is logged: `RUST_LOG` when it is a valid list of `target=level` directives (or a bare
/// level; spaces around them and empty ones are ignored), else this crate at `info` (`debug`
/// when `verbose`) and everything else at `warn`. Span and field filters (`target[span]`,
/// `{field}`) are not supported: a `RUST_LOG` with one is not used at all.
fn filter(rust_log: Option<&str>, verbose: bool) -> Targets {
    rust_log
        .map(|spec| {
            spec.split(',')
                .map(str::trim)
                .filter(|d| !d.is_empty())
                .collect::<Vec<_>>()
        })
        .filter(|directives| {
            !directives.is_empty() && !directives.iter().any(|d| d.contains(['[', '{']))
        })
        .and_then(|directives| directives.join(",").parse().ok())
        .unwrap_or_else(|| {
            let level = if verbose {
                tracing::Level::DEBUG
            } else {
                tracing::Level::INFO
            };
            Targets::new()
                .with_target("iching", level)
                .with_default(tracing::Level::WARN)
        })
}

#[cfg(test)]
mod tests {
    use tracing::Level;

    use super::filter;

    #[test]
    fn the_default_is_this_crate_at_info_and_the_rest_at_warn() {
        let quiet = filter(None, false);
        assert!(quiet.would_enable("iching::store", &Level::INFO));
        assert!(!quiet.would_enable("iching::store", &Level::DEBUG));
        assert!(quiet.would_enable("hyper", &Level::WARN));
        assert!(!quiet.would_enable("hyper", &Level::INFO));
        let verbose = filter(None, true);
        assert!(verbose.would_enable("iching::llm", &Level::DEBUG));
        assert!(!verbose.would_enable("iching::llm", &Level::TRACE));
        assert!(!verbose.would_enable("reqwest", &Level::INFO));
    }

    #[test]
    fn rust_log_overrides_the_default_and_a_bad_one_is_ignored() {
        let traced = filter(Some("iching=trace,reqwest=debug"), false);
        assert!(traced.would_enable("iching::orchestrator", &Level::TRACE));
        assert!(traced.would_enable("reqwest::connect", &Level::DEBUG));
        assert!(!traced.would_enable("hyper", &Level::ERROR));
        let everything = filter(Some("debug"), false);
        assert!(everything.would_enable("hyper", &Level::DEBUG));
        // Spaces and empty directives are tolerated, not read as a target named "".
        let spaced = filter(Some(" iching=trace, reqwest=debug ,"), false);
        assert!(spaced.would_enable("iching", &Level::TRACE));
        assert!(spaced.would_enable("reqwest", &Level::DEBUG));
        assert!(!spaced.would_enable("hyper", &Level::ERROR));
        for bad in [
            "iching=loud",
            "",
            "  ",
            ",",
            "iching[span]=debug",
            "{field}=trace",
        ] {
            let fallback = filter(Some(bad), true);
            assert!(fallback.would_enable("iching", &Level::DEBUG), "{bad:?}");
            assert!(!fallback.would_enable("hyper", &Level::INFO), "{bad:?}");
        }
    }
}
