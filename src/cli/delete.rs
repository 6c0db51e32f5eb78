//! `iching delete ID`: deletes a saved reading and its sections. It asks first (y/N) on a
//! terminal; `--yes` skips the question; without a terminal and without `--yes` it refuses.
//! A reading whose question fails its integrity check can still be deleted.

use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;

use clap::Args;

use super::history::INTEGRITY_PLACEHOLDER;
use super::{CliError, open};
use crate::answer::sanitize_inline;
use crate::model::ReadingId;
use crate::report::cast_time;
use crate::service::StoreError;
use crate::service::{Access, Service, ServiceError};
use crate::when::Stamp;

/// Arguments of `delete`.
#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// The reading's id (see `iching history`).
    #[arg(allow_negative_numbers = true)]
    pub id: ReadingId,
    /// Delete without asking.
    #[arg(long, short = 'y')]
    pub yes: bool,
}

/// Runs `delete`.
pub async fn run(home: Option<&Path>, args: DeleteArgs) -> Result<ExitCode, CliError> {
    let service = open(home, Access::Create)?;
    let result = delete(&service, &args).await;
    service.close().await;
    result
}

async fn delete(service: &Service, args: &DeleteArgs) -> Result<ExitCode, CliError> {
    // A reading whose record fails its check can still be deleted: that is one way out.
    let cast = match service.reading_row(args.id).await {
        Ok(row) => format!("cast {}", cast_time(Stamp::at(row.created_at))),
        Err(ServiceError::Store(StoreError::Integrity { .. } | StoreError::BadRow { .. })) => {
            format!("its record: {INTEGRITY_PLACEHOLDER}")
        }
        Err(e) => return Err(e.into()),
    };
    if !args.yes {
        if !std::io::stdin().is_terminal() {
            return Err(CliError::usage(format!(
                "not deleting reading {} without confirmation: there is no terminal to ask on; pass --yes to delete it",
                args.id
            )));
        }
        let question = service.question(args.id).await.map_or_else(
            |_| INTEGRITY_PLACEHOLDER.to_owned(),
            |q| sanitize_inline(&q),
        );
        if !super::ask_yes(&format!(
            "Delete reading {} (\"{question}\", {cast})? This cannot be undone.",
            args.id,
        ))? {
            eprintln!("Kept reading {}.", args.id);
            return Ok(ExitCode::SUCCESS);
        }
    }
    service.delete(args.id).await?;
    eprintln!("Deleted reading {}.", args.id);
    Ok(ExitCode::SUCCESS)
}
