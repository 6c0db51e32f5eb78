//! `iching delete ID`: deletes a saved reading and its sections. It asks first (y/N) on a
//! terminal; `--yes` skips the question; without a terminal and without `--yes` it refuses.
//! A reading whose question fails its integrity check can still be deleted.

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;

use clap::Args;

use super::CliError;
use super::history::INTEGRITY_PLACEHOLDER;
use super::unlock::open_store;
use crate::config::Dirs;
use crate::response::sanitize_inline;
use crate::store::rfc3339;

/// Arguments of `delete`.
#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// The reading's id (see `iching history`).
    pub id: i64,
    /// Delete without asking.
    #[arg(long, short = 'y')]
    pub yes: bool,
}

/// Runs `delete`.
pub fn run(home: Option<&Path>, args: DeleteArgs) -> Result<ExitCode, CliError> {
    let store = open_store(&Dirs::resolve(home)?.data)?;
    let row = store.reading(args.id)?;
    if !args.yes {
        if !std::io::stdin().is_terminal() {
            return Err(CliError::usage(format!(
                "not deleting reading {} without confirmation: there is no terminal to ask on; pass --yes to delete it",
                args.id
            )));
        }
        let question = store
            .question(args.id)
            .map(|q| sanitize_inline(&q))
            .unwrap_or_else(|_| INTEGRITY_PLACEHOLDER.to_owned());
        eprint!(
            "Delete reading {} (\"{question}\", cast {})? This cannot be undone. [y/N] ",
            args.id,
            rfc3339(row.created_at)
        );
        let _ = std::io::stderr().flush();
        let mut answer = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut answer)
            .map_err(|e| CliError::other(format!("cannot read the answer: {e}")))?;
        if !matches!(answer.trim().to_lowercase().as_str(), "y" | "yes") {
            eprintln!("Kept reading {}.", args.id);
            return Ok(ExitCode::SUCCESS);
        }
    }
    store.delete(args.id)?;
    eprintln!("Deleted reading {}.", args.id);
    Ok(ExitCode::SUCCESS)
}
