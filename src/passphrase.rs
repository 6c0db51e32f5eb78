//! The prompts both front ends show on the plain terminal (the TUI before it takes the screen):
//! a store's passphrase with echo off. Without a terminal there is no prompt, and the store's
//! error says how to give the passphrase (`ICHING_PASSPHRASE`).

use std::io::{IsTerminal, Write};
use std::path::Path;

use crossterm::event::{self, Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use crossterm::terminal;
use zeroize::Zeroizing;

use crate::service::{AskPassphrase, PassphraseProblem, ServiceError};

/// The passphrase prompt, when standard input is a terminal to ask on.
pub fn passphrase_prompt() -> Option<AskPassphrase<'static>> {
    std::io::stdin()
        .is_terminal()
        .then_some(&ask_passphrase as AskPassphrase<'static>)
}

/// Reads a passphrase for `db` from the terminal without echoing it (try `attempt` of 3).
fn ask_passphrase(db: &Path, attempt: u32) -> Result<Zeroizing<String>, ServiceError> {
    if attempt > 1 {
        eprintln!("That passphrase does not open it; try again.");
    }
    ask_hidden(&format!("Passphrase for {}: ", db.display()))
}

/// Asks for a secret after `label` on the terminal, without echoing it; `None` when standard
/// input is not a terminal (the caller says how else to give it).
pub fn ask_secret(label: &str) -> Option<Result<Zeroizing<String>, ServiceError>> {
    std::io::stdin().is_terminal().then(|| ask_hidden(label))
}

/// Asks for a new passphrase twice; `None` without a terminal.
pub fn ask_new_passphrase() -> Option<Result<Zeroizing<String>, ServiceError>> {
    if !std::io::stdin().is_terminal() {
        return None;
    }
    Some((|| {
        let first = ask_hidden("New passphrase: ")?;
        let again = ask_hidden("The same again: ")?;
        if *first != *again {
            return Err(ServiceError::Passphrase(PassphraseProblem::Differ));
        }
        Ok(first)
    })())
}

/// Reads a line after `label` in raw mode, without echo.
fn ask_hidden(label: &str) -> Result<Zeroizing<String>, ServiceError> {
    eprint!("{label}");
    let _ = std::io::stderr().flush();
    let failed =
        |e: std::io::Error| ServiceError::Passphrase(PassphraseProblem::Unreadable(e.into()));
    terminal::enable_raw_mode().map_err(failed)?;
    let read = read_hidden();
    let _ = terminal::disable_raw_mode();
    eprintln!();
    let passphrase = read.map_err(failed)?;
    match passphrase {
        Some(p) if !p.is_empty() => Ok(p),
        Some(_) => Err(ServiceError::Passphrase(PassphraseProblem::Empty)),
        None => Err(ServiceError::Passphrase(PassphraseProblem::Cancelled)),
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
