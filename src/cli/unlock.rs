//! Opening the store from a command: the passphrase comes from `ICHING_PASSPHRASE`, or, when the
//! database is sealed with one and none was given, from a prompt on the terminal with echo off
//! (three tries). Without a terminal the store's error says how to provide it. Also the exit
//! codes of store errors: input the user can fix (an unknown id, a passphrase) is 2, the rest 1.

use std::io::{IsTerminal, Write};
use std::path::Path;

use crossterm::event::{self, Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use crossterm::terminal;
use zeroize::Zeroizing;

use super::CliError;
use crate::store::{Store, StoreError, Unlock};

impl From<StoreError> for CliError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(_)
            | StoreError::InFlight { .. }
            | StoreError::PassphraseNeeded { .. }
            | StoreError::WrongPassphrase { .. }
            | StoreError::PassphraseNotUsed { .. } => CliError::usage(e.to_string()),
            StoreError::Unwritable { .. }
            | StoreError::Corrupt { .. }
            | StoreError::TooNew { .. }
            | StoreError::KeyFileMissing { .. }
            | StoreError::KeyFileInvalid { .. }
            | StoreError::WrongKeyFile { .. }
            | StoreError::Integrity { .. }
            | StoreError::BadRow { .. }
            | StoreError::Database { .. }
            | StoreError::WriterGone => CliError::other(e.to_string()),
        }
    }
}

/// Opens the store in `data_dir`, asking for the passphrase on the terminal if it needs one.
pub fn open_store(data_dir: &Path) -> Result<Store, CliError> {
    match Store::open(data_dir, Unlock::from_env()) {
        Err(StoreError::PassphraseNeeded { db }) if std::io::stdin().is_terminal() => {
            for attempt in 1..=3 {
                let passphrase = ask_passphrase(&db)?;
                let unlock = Unlock {
                    passphrase: Some(passphrase),
                    new_rounds: None,
                };
                match Store::open(data_dir, unlock) {
                    Err(StoreError::WrongPassphrase { .. }) if attempt < 3 => {
                        eprintln!("That passphrase does not open it; try again.");
                    }
                    other => return other.map_err(CliError::from),
                }
            }
            Err(StoreError::WrongPassphrase { db }.into())
        }
        other => other.map_err(CliError::from),
    }
}

/// Reads a passphrase from the terminal without echoing it.
fn ask_passphrase(db: &Path) -> Result<Zeroizing<String>, CliError> {
    eprint!("Passphrase for {}: ", db.display());
    let _ = std::io::stderr().flush();
    let failed = |e: std::io::Error| CliError::other(format!("cannot read the passphrase: {e}"));
    terminal::enable_raw_mode().map_err(failed)?;
    let read = read_hidden();
    let _ = terminal::disable_raw_mode();
    eprintln!();
    let passphrase = read.map_err(failed)?;
    match passphrase {
        Some(p) if !p.is_empty() => Ok(p),
        Some(_) => Err(CliError::usage("no passphrase was typed")),
        None => Err(CliError::usage("cancelled")),
    }
}

/// Keys until Enter (`Some`) or Ctrl-C / Ctrl-D / Esc (`None`), in raw mode.
fn read_hidden() -> std::io::Result<Option<Zeroizing<String>>> {
    // Room enough up front that typing never reallocates (and leaves copies behind).
    let mut typed = Zeroizing::new(String::with_capacity(1024));
    loop {
        match event::read()? {
            Event::Key(KeyEvent {
                code,
                modifiers,
                kind: KeyEventKind::Press | KeyEventKind::Repeat,
                ..
            }) => match code {
                KeyCode::Enter => return Ok(Some(typed)),
                KeyCode::Esc => return Ok(None),
                KeyCode::Char('c' | 'd') if modifiers.contains(KeyModifiers::CONTROL) => {
                    return Ok(None);
                }
                KeyCode::Backspace => {
                    typed.pop();
                }
                KeyCode::Char(c) => typed.push(c),
                _ => {}
            },
            Event::Paste(text) => typed.push_str(&text),
            _ => {}
        }
    }
}
