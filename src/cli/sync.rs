//! `iching sync [DIR]`: the journal on every machine, through a folder the user's own sync tool
//! keeps in step. Renders what [`crate::service::Service::sync`] did; `--status` what the store
//! knows of its syncs.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use serde::Serialize;

use super::{CliError, emit, open, sh_quote};
use crate::service::{Access, Service, Synced};
use crate::when::{Stamp, zone_name};

/// Arguments of `sync`.
#[derive(Debug, Args)]
pub struct SyncArgs {
    /// The shared folder; `sync_dir` in config.toml when not given.
    pub dir: Option<PathBuf>,
    /// Join a folder made by another machine: that machine's key file (its `iching.key`),
    /// as `restore` takes it. A folder made by a passphrase store is joined with that
    /// passphrase in ICHING_SYNC_PASSPHRASE (or ICHING_PASSPHRASE when it is this store's too).
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// Print when this store last synced and with how many machines; sync nothing.
    #[arg(long)]
    pub status: bool,
    /// Print as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Serialize)]
struct Report {
    dir: PathBuf,
    sent: usize,
    file: Option<PathBuf>,
    records: usize,
    changed: usize,
    devices: usize,
    waiting: usize,
    refused: Vec<RefusedFile>,
    damaged: Vec<i64>,
    joined: bool,
}

#[derive(Debug, Serialize)]
struct RefusedFile {
    path: PathBuf,
    reason: String,
}

/// Runs `sync`: exit 0 when every file read opened, 1 when one was refused.
pub async fn run(home: Option<&Path>, args: SyncArgs) -> Result<ExitCode, CliError> {
    let service = open(home, Access::Create)?;
    let result = sync(&service, &args).await;
    service.close().await;
    result
}

async fn sync(service: &Service, args: &SyncArgs) -> Result<ExitCode, CliError> {
    let dir = service.sync_dir(args.dir.as_deref())?;
    if args.status {
        let report = service.sync_status(dir).await?;
        if args.json {
            emit(&super::json::to_json(&report, "the sync status")?);
        } else {
            let when = report.status.last_sync.map_or_else(
                || "never synced".to_owned(),
                |ms| format!("last synced {} {}", Stamp::at(ms).shown(), zone_name()),
            );
            let folder = report
                .dir
                .as_deref()
                .map_or_else(|| "no folder set".to_owned(), sh_quote);
            emit(&format!(
                "{when}, with {} other machine{} ({folder})",
                report.status.devices,
                if report.status.devices == 1 { "" } else { "s" }
            ));
        }
        return Ok(ExitCode::SUCCESS);
    }
    let Some(dir) = dir else {
        return Err(CliError::usage(
            "no sync folder: pass one (`iching sync DIR`) or set sync_dir in config.toml",
        ));
    };
    let done = service.sync(&dir, args.key.as_deref()).await?;
    let refused = !done.refused.is_empty();
    if args.json {
        emit(&super::json::to_json(&report(&dir, done), "what sync did")?);
    } else {
        for r in &done.refused {
            eprintln!("refused {}: {}", sh_quote(&r.path), r.why);
        }
        emit(&summary(&dir, &done));
    }
    Ok(if refused {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn report(dir: &Path, done: Synced) -> Report {
    Report {
        dir: dir.to_path_buf(),
        sent: done.sent,
        file: done.file,
        records: done.records,
        changed: done.changed,
        devices: done.devices,
        waiting: done.waiting,
        refused: done
            .refused
            .into_iter()
            .map(|r| RefusedFile {
                reason: r.why.to_string(),
                path: r.path,
            })
            .collect(),
        damaged: done.damaged.iter().map(|id| id.0).collect(),
        joined: done.joined,
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn summary(dir: &Path, done: &Synced) -> String {
    let mut out = format!(
        "synced with {}: {} written, {} from {} merged ({} here)",
        sh_quote(dir),
        plural(done.sent, "change", "changes"),
        plural(done.records, "record", "records"),
        plural(done.devices, "other machine", "other machines"),
        plural(done.changed, "change", "changes"),
    );
    if done.joined {
        out.push_str("; joined the folder");
    }
    if done.waiting > 0 {
        out.push_str(&format!(
            "; waiting for {} your sync tool has not finished bringing",
            plural(done.waiting, "machine's files", "machines' files")
        ));
    }
    if !done.damaged.is_empty() {
        out.push_str(&format!(
            "; {} damaged here and not sent (`iching verify` names {})",
            plural(done.damaged.len(), "reading is", "readings are"),
            if done.damaged.len() == 1 {
                "it"
            } else {
                "them"
            }
        ));
    }
    if !done.refused.is_empty() {
        out.push_str(&format!(
            "; {} refused (named above): nothing of them was merged",
            plural(done.refused.len(), "file", "files")
        ));
    }
    out
}
