//! `iching key rotate` and `iching passphrase set | change | remove`: moving the store to a new
//! master key, between a key file and a passphrase. Each re-seals every reading in one
//! crash-safe pass.

use std::path::Path;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use zeroize::Zeroizing;

use std::io::IsTerminal as _;

use super::{CliError, emit, open, sh_quote};
use crate::service::{Access, Service};
use crate::service::{KEY_FILE, KeyMode, NewSecret, PASSPHRASE_ENV, Rekeyed};

/// The environment variable holding a new passphrase (`passphrase set` and `change`).
pub const NEW_PASSPHRASE_ENV: &str = "ICHING_NEW_PASSPHRASE";

/// Arguments of `key`.
#[derive(Debug, Args)]
pub struct KeyArgs {
    #[command(subcommand)]
    action: KeyAction,
}

#[derive(Debug, Subcommand)]
enum KeyAction {
    /// Replace the key file with a new random key and re-seal every reading with it
    ///
    /// Asks first (y/N) on a terminal; --yes does not. Crash-safe: stopped at any moment, the
    /// store opens with the old key or the new one. The old key is kept beside the new one as
    /// iching.key.old-DATE (readable by you only) for the backups made before, which open only
    /// with it (restore --key); remove it once no backup you keep needs it. A store sealed with
    /// a passphrase gets a new key with `iching passphrase change` instead.
    Rotate {
        /// Rotate without asking.
        #[arg(long, short = 'y')]
        yes: bool,
    },
}

/// Arguments of `passphrase`.
#[derive(Debug, Args)]
pub struct PassphraseArgs {
    #[command(subcommand)]
    action: PassphraseAction,
}

#[derive(Debug, Subcommand)]
enum PassphraseAction {
    /// Seal the store with a passphrase instead of the key file (which is then removed)
    ///
    /// The new passphrase is asked twice at the terminal, or read from ICHING_NEW_PASSPHRASE.
    /// It goes through Argon2id (19 MiB, 2 passes). From then on every command asks for it,
    /// or reads ICHING_PASSPHRASE.
    Set,
    /// Change the passphrase (and move a PBKDF2 store to Argon2id)
    ///
    /// The current passphrase is asked (or read from ICHING_PASSPHRASE), the new one asked
    /// twice (or read from ICHING_NEW_PASSPHRASE). The same passphrase again gives the store a
    /// new key.
    Change,
    /// Seal the store with a new key file instead of the passphrase
    Remove,
}

/// Runs `key`.
pub async fn key(home: Option<&Path>, args: KeyArgs) -> Result<ExitCode, CliError> {
    let KeyAction::Rotate { yes } = args.action;
    let service = open(home, Access::Create)?;
    let result = rotate(&service, yes).await;
    service.close().await;
    result
}

async fn rotate(service: &Service, yes: bool) -> Result<ExitCode, CliError> {
    if service.key_mode().await? == KeyMode::Passphrase {
        return Err(CliError::usage(
            "this store is sealed with a passphrase, not a key file: `iching passphrase change` gives it a new key (you may keep the same passphrase)",
        ));
    }
    let key_file = service.dirs().data.join(KEY_FILE);
    if !yes {
        let question = format!(
            "Give the store a new key and re-seal every reading? The old key stays beside it in {}.old-DATE for the backups made before now, which open only with it.",
            sh_quote(&key_file)
        );
        if !confirm(&question, "rotating the key")? {
            eprintln!("Kept the key as it is.");
            return Ok(ExitCode::SUCCESS);
        }
    }
    let done = service.rekey(NewSecret::KeyFile).await?;
    let mut out = format!(
        "{} with a new key, now in\n  {}",
        resealed(&done),
        sh_quote(&key_file)
    );
    if let Some(old) = &done.old_key {
        out.push('\n');
        out.push_str(&old_key_kept(old, &done.older_keys));
    }
    emit(&super::hint::paste(&out));
    Ok(ExitCode::SUCCESS)
}

/// Where the key a change replaced is kept, which backups need it (those made since the change
/// that kept the newest of `older`, if any), and the command that restores one of them.
fn old_key_kept(old: &Path, older: &[std::path::PathBuf]) -> String {
    let (since, older_ones) = match older.last() {
        None => (String::new(), String::new()),
        Some(last) => {
            let when = last
                .file_name()
                .map(|n| {
                    n.to_string_lossy()
                        .replace(crate::service::OLD_KEY_PREFIX, "")
                })
                .unwrap_or_default();
            let names: Vec<String> = older.iter().map(|p| sh_quote(p)).collect();
            (
                format!(" since the key change of {when}"),
                format!(
                    "\nBackups made before that need the older keys kept beside it: {}.",
                    names.join(", ")
                ),
            )
        }
    };
    format!(
        "The old key no longer opens this store; it is kept, readable by you only, in\n  {old}\nBackups made{since} before now are sealed with it and open only with it:\n  {restore}{older_ones}\nRemove a kept key once no backup you keep needs it (a backup made now, with `iching backup FILE`, needs none of them).",
        old = sh_quote(old),
        restore =
            super::hint::current().command(&format!("restore BACKUP --key {}", sh_quote(old))),
    )
}

/// Asks `question` (y/N) on the terminal; without one, refuses, naming `doing` and --yes.
fn confirm(question: &str, doing: &str) -> Result<bool, CliError> {
    if !std::io::stdin().is_terminal() {
        return Err(CliError::usage(format!(
            "not {doing} without confirmation: there is no terminal to ask on; pass --yes to go ahead"
        )));
    }
    super::ask_yes(question)
}

/// Runs `passphrase`.
pub async fn passphrase(home: Option<&Path>, args: PassphraseArgs) -> Result<ExitCode, CliError> {
    let service = open(home, Access::Create)?;
    let result = change(&service, &args.action).await;
    service.close().await;
    result
}

async fn change(service: &Service, action: &PassphraseAction) -> Result<ExitCode, CliError> {
    let mode = service.key_mode().await?;
    let key_file = service.dirs().data.join(KEY_FILE);
    match (action, mode) {
        (PassphraseAction::Set, KeyMode::Passphrase) => Err(CliError::usage(
            "this store already has a passphrase: `iching passphrase change` changes it",
        )),
        (PassphraseAction::Change | PassphraseAction::Remove, KeyMode::KeyFile) => {
            Err(CliError::usage(format!(
                "this store is sealed with the key file {}, not a passphrase: `iching passphrase set` gives it one",
                key_file.display()
            )))
        }
        (PassphraseAction::Set | PassphraseAction::Change, _) => {
            let new = new_passphrase()?;
            let done = service.rekey(NewSecret::Passphrase(new.into())).await?;
            let after = if mode == KeyMode::KeyFile {
                format!(
                    "The key file {} was removed. Every command now asks for the passphrase (or reads {PASSPHRASE_ENV}); without it nothing can be opened, so keep it safe.{}",
                    key_file.display(),
                    done.old_key
                        .as_deref()
                        .map(|old| format!("\n{}", old_key_kept(old, &done.older_keys)))
                        .unwrap_or_default()
                )
            } else {
                format!(
                    "Every command now needs the new passphrase (asked, or {PASSPHRASE_ENV}). Backups made before now still open with the old one."
                )
            };
            emit(&super::hint::paste(&format!(
                "{} under the new passphrase (Argon2id). {after}",
                resealed(&done)
            )));
            Ok(ExitCode::SUCCESS)
        }
        (PassphraseAction::Remove, KeyMode::Passphrase) => {
            let done = service.rekey(NewSecret::KeyFile).await?;
            emit(&format!(
                "{} with a new key file, readable by you only:\n  {}\nNo passphrase is asked any more. Keep a copy of the key file apart from the store: without it nothing can be opened.",
                resealed(&done),
                key_file.display()
            ));
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// "Re-sealed 3 readings (40 sealed values)".
fn resealed(done: &Rekeyed) -> String {
    format!(
        "Re-sealed {} {} ({} sealed values)",
        done.readings,
        if done.readings == 1 {
            "reading"
        } else {
            "readings"
        },
        done.sealed
    )
}

/// The new passphrase: from ICHING_NEW_PASSPHRASE, else asked twice at the terminal.
fn new_passphrase() -> Result<Zeroizing<String>, CliError> {
    let passphrase = match std::env::var(NEW_PASSPHRASE_ENV) {
        Ok(p) if !p.is_empty() => Zeroizing::new(p),
        _ => crate::passphrase::ask_new_passphrase().ok_or_else(|| {
            CliError::usage(format!(
                "there is no terminal to ask for the new passphrase on: set {NEW_PASSPHRASE_ENV}"
            ))
        })??,
    };
    if let Err(why) = crate::service::passphrase_strength(&passphrase) {
        return Err(CliError::usage(format!("{why}; nothing was changed")));
    }
    Ok(passphrase)
}
