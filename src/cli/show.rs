//! `iching show ID`: a saved reading as text, Markdown, a standalone HTML page, or JSON in the
//! same shape `cast --format json` prints. A reading that fails its integrity check is refused
//! with a message, never shown in part.

use std::path::Path;
use std::process::ExitCode;

use clap::Args;

use super::{CliError, Format, cast, open};
use crate::model::ReadingId;
use crate::service::Access;

/// Arguments of `show`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The reading's id (see `iching history`).
    #[arg(allow_negative_numbers = true)]
    pub id: ReadingId,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// Runs `show`.
pub async fn run(home: Option<&Path>, args: ShowArgs) -> Result<ExitCode, CliError> {
    let service = open(home, Access::Existing)?;
    let report = service.report(args.id).await;
    service.close().await;
    let report = report?;
    cast::print(&report, args.format)?;
    Ok(ExitCode::SUCCESS)
}
