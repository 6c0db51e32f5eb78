//! `iching retry ID`: generates again only the failed or missing sections of a saved reading
//! (rebuilt from its stored method, lines, seed and question), saving each as it lands, and marks
//! the reading complete once every planned section is. Exit 0 complete, 3 still incomplete,
//! 130 cancelled.

use std::path::Path;
use std::process::ExitCode;

use clap::Args;
use tokio::sync::mpsc;

use super::cast::{cancel_on_ctrl_c, exit_code, show_progress};
use super::{CliError, ProviderArgs, emit, open_configured};
use crate::model::ReadingId;

/// Arguments of `retry`.
#[derive(Debug, Args)]
pub struct RetryArgs {
    /// The reading's id (see `iching history`).
    #[arg(allow_negative_numbers = true)]
    pub id: ReadingId,
    #[command(flatten)]
    /// Provider choice and tuning.
    pub provider: ProviderArgs,
}

/// Runs `retry`.
pub async fn run(home: Option<&Path>, args: RetryArgs) -> Result<ExitCode, CliError> {
    let service = open_configured(home, &args.provider).await?;
    let row = service.reading_row(args.id).await?;
    let to_run = row.sections_planned.saturating_sub(row.sections_done) as usize;
    let (tx, rx) = mpsc::unbounded_channel();
    let run = service.retry(args.id, tx, cancel_on_ctrl_c());
    let (saved, ()) = tokio::join!(run, show_progress(rx, to_run));
    service.close().await;
    let saved = saved?;
    let ran = saved.summary.outcomes.len();
    let id = saved.id;
    let message = if ran == 0 {
        format!(
            "Reading {id} is {}; no section needed generating again.",
            saved.status.as_str()
        )
    } else {
        format!(
            "Reading {id} is {} ({ran} section{} generated again); `iching show {id}` prints it.",
            saved.status.as_str(),
            if ran == 1 { "" } else { "s" }
        )
    };
    emit(&super::hint::paste(&message));
    Ok(exit_code(saved.status))
}
