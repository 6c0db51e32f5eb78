//! `iching verify`, `iching backup FILE` and `iching restore FILE`: checking the whole store,
//! copying it while in use, and adding a backup's readings back.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use serde::Serialize;

use super::{CliError, emit, open, sh_quote};
use crate::model::ReadingId;
use crate::service::{
    Access, BACKUP_PASSPHRASE_ENV, BackupKey, DB_FILE, Dirs, FreshHome, HistoryFilter, KEY_FILE,
    KeyMode, Service,
};

/// Arguments of `verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Print the findings as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `backup`.
#[derive(Debug, Args)]
pub struct BackupArgs {
    /// The new file to write (never an existing one).
    pub file: PathBuf,
}

/// Arguments of `restore`.
#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// A backup (what the backup command writes) or a copy of an `iching.db`.
    pub file: PathBuf,
    /// The key file the backup is sealed with, when it is not this store's own `iching.key`.
    /// A backup sealed with a passphrase asks for it, or reads ICHING_BACKUP_PASSPHRASE.
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
}

#[derive(Debug, Serialize)]
struct VerifyReport {
    intact: bool,
    readings: usize,
    sections: usize,
    sealed_values: usize,
    damaged: Vec<Damaged>,
    file_problems: Vec<String>,
}

#[derive(Debug, Serialize)]
struct Damaged {
    id: ReadingId,
    reason: String,
}

/// Runs `verify`: exit 0 when everything checks out, 1 when anything is damaged.
pub async fn verify(home: Option<&Path>, args: VerifyArgs) -> Result<ExitCode, CliError> {
    let service = open(home, Access::Existing)?;
    let found = service.verify().await;
    service.close().await;
    let found = found?;
    let report = VerifyReport {
        intact: found.clean(),
        readings: found.readings,
        sections: found.sections,
        sealed_values: found.sealed,
        damaged: found
            .damaged
            .iter()
            .map(|(id, e)| Damaged {
                id: *id,
                reason: e.to_string(),
            })
            .collect(),
        file_problems: found.file_problems.clone(),
    };
    if args.json {
        emit(&super::json::to_json(&report, "the findings")?);
    } else {
        emit(&super::hint::paste(&verify_text(&report)));
    }
    Ok(if report.intact {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn verify_text(r: &VerifyReport) -> String {
    let plural =
        |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    let mut out = format!(
        "Checked {}: {}, {}.",
        plural(r.readings, "reading", "readings"),
        plural(r.sections, "section", "sections"),
        plural(r.sealed_values, "sealed value", "sealed values"),
    );
    if r.intact {
        out.push_str(" All intact.");
        return out;
    }
    if !r.damaged.is_empty() {
        out.push_str(&format!(
            "\n\n{} damaged:",
            plural(r.damaged.len(), "reading is", "readings are")
        ));
        for d in &r.damaged {
            out.push_str(&format!("\n  {}: {}", d.id, d.reason));
        }
    }
    if !r.file_problems.is_empty() {
        out.push_str("\n\nSQLite's check of the file found:");
        for p in r.file_problems.iter().take(10) {
            out.push_str(&format!("\n  {}", crate::answer::sanitize_inline(p)));
        }
    }
    out.push_str(
        "\n\nRestore the readings from a backup (`iching restore FILE`), or delete the damaged ones (`iching delete ID`).",
    );
    out
}

/// Runs `backup`.
pub async fn backup(home: Option<&Path>, args: BackupArgs) -> Result<ExitCode, CliError> {
    let service = open(home, Access::Existing)?;
    let to = std::path::absolute(&args.file).unwrap_or(args.file.clone());
    let written = service.backup(&to).await;
    let key_mode = service.key_mode().await;
    let key_file = service.dirs().data.join(KEY_FILE);
    service.close().await;
    let bytes = written?;
    // The restore command names the key file where the backup needs one: it then works as
    // printed, here or in a new home, until the key is rotated (which keeps the old key and
    // prints the command that takes it).
    let (opens_with, key_flag) = match key_mode? {
        KeyMode::KeyFile => (
            format!(
                "It is sealed with the key in {}: keep a copy of that file apart from the backup; without it the backup cannot be opened.",
                sh_quote(&key_file)
            ),
            format!(" --key {}", sh_quote(&key_file)),
        ),
        KeyMode::Passphrase => (
            "It opens with the store's passphrase, which restore asks for.".to_owned(),
            String::new(),
        ),
    };
    let restore = super::hint::current().command(&format!("restore {}{key_flag}", sh_quote(&to)));
    emit(&format!(
        "Backed up the store to\n  {}\n({} KiB, readable by you only). {opens_with}\nTo bring its readings back (only those missing are added):\n  {restore}",
        sh_quote(&to),
        bytes.div_ceil(1024),
    ));
    Ok(ExitCode::SUCCESS)
}

/// Runs `restore`: exit 0 when every reading of the backup is here now, 1 when some were
/// damaged and left out.
///
/// Into a home that does not exist yet it makes one; a restore refused there (or into a home
/// with no store yet) takes away what it made, so nothing is left behind.
pub async fn restore(home: Option<&Path>, args: RestoreArgs) -> Result<ExitCode, CliError> {
    key_without_store(home, &args)?;
    // A file that is no backup is refused before anything is made.
    Service::backup_key_mode(&args.file)?;
    let fresh = FreshHome::note(home)?;
    let (result, holds_readings) = match open(home, Access::Create) {
        Ok(service) => {
            let result = restore_into(&service, &args).await;
            // A store that holds readings now (another command made it meanwhile) stays.
            let holds_readings = result.is_err()
                && service
                    .history(HistoryFilter::default())
                    .await
                    .is_ok_and(|h| !h.is_empty());
            service.close().await;
            (result, holds_readings)
        }
        Err(e) => (Err(e), false),
    };
    if result.is_err() && !holds_readings {
        fresh.undo();
    }
    result
}

/// A key file in the home with no store beside it, as after copying a lost store's key into a
/// new home to restore its backup: the store refuses to open there (the key would seal a new
/// store), so say how restore takes that key instead, as a command to paste.
fn key_without_store(home: Option<&Path>, args: &RestoreArgs) -> Result<(), CliError> {
    let Ok(dirs) = Dirs::resolve(home) else {
        return Ok(());
    };
    let key = dirs.data.join(KEY_FILE);
    if !key.exists() || dirs.data.join(DB_FILE).exists() {
        return Ok(());
    }
    let file = sh_quote(&args.file);
    let hint = super::hint::current();
    let advice = match Service::backup_key_mode(&args.file)? {
        KeyMode::KeyFile => format!(
            "move the key file out of the folder and name it with --key: \
             `mv {key} KEYFILE && {restore}`",
            key = sh_quote(&key),
            restore = hint.command(&format!("restore {file} --key KEYFILE"))
        ),
        KeyMode::Passphrase => format!(
            "the backup opens with its passphrase, not a key file: move the key file out of the \
             folder, then `{}`",
            hint.command(&format!("restore {file}"))
        ),
    };
    Err(CliError::usage(format!(
        "{} holds a key file but no store; restore makes a new store with a key of its own. To restore, {advice}",
        sh_quote(&dirs.data)
    )))
}

async fn restore_into(service: &Service, args: &RestoreArgs) -> Result<ExitCode, CliError> {
    let mode = Service::backup_key_mode(&args.file)?;
    let passphrase = match mode {
        KeyMode::KeyFile => None,
        KeyMode::Passphrase => match std::env::var(BACKUP_PASSPHRASE_ENV) {
            Ok(p) if !p.is_empty() => Some(crate::model::Secret::new(p)),
            _ => crate::passphrase::ask_secret(&format!(
                "Passphrase of the backup {}: ",
                sh_quote(&args.file)
            ))
            .transpose()?
            .map(Into::into),
        },
    };
    let imported = service
        .restore(
            &args.file,
            BackupKey {
                key_file: args.key.clone(),
                passphrase,
            },
        )
        .await?;
    let ids: Vec<String> = imported.added.iter().map(ToString::to_string).collect();
    let mut out = match imported.added.len() {
        0 => "Added no readings".to_owned(),
        1 => format!("Added 1 reading (new id {})", ids[0]),
        n => format!("Added {n} readings (new ids {})", ids.join(", ")),
    };
    out.push_str(&format!(" from {}", sh_quote(&args.file)));
    match imported.present {
        0 => out.push('.'),
        1 => out.push_str("; 1 was already here."),
        n => out.push_str(&format!("; {n} were already here.")),
    }
    for (id, e) in &imported.damaged {
        out.push_str(&format!("\nLeft out reading {id} of the backup: {e}"));
    }
    emit(&out);
    Ok(if imported.damaged.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::cli::sh_quote;

    #[test]
    fn a_path_is_quoted_for_the_shell_only_where_it_needs_it() {
        assert_eq!(
            sh_quote(Path::new("/tmp/new-home/iching.key")),
            "/tmp/new-home/iching.key"
        );
        assert_eq!(
            sh_quote(Path::new(
                "/Users/me/Library/Application Support/iching/iching.key"
            )),
            "'/Users/me/Library/Application Support/iching/iching.key'"
        );
        assert_eq!(sh_quote(Path::new("it's $HOME")), r"'it'\''s $HOME'");
        assert_eq!(sh_quote(Path::new("")), "''");
    }
}
