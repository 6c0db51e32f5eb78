//! `iching show ID`: a saved reading as text, Markdown, a standalone HTML page, or JSON in the
//! same shape `cast --format json` prints. A reading that fails its integrity check is refused
//! with a message, never shown in part.

use std::path::Path;
use std::process::ExitCode;

use clap::Args;

use super::unlock::open_store;
use super::{CliError, Format, cast};
use crate::config::Dirs;
use crate::reading::saved_report;

/// Arguments of `show`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The reading's id (see `iching history`).
    pub id: i64,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// Runs `show`.
pub fn run(home: Option<&Path>, args: ShowArgs) -> Result<ExitCode, CliError> {
    let store = open_store(&Dirs::resolve(home)?.data)?;
    let report = saved_report(&store, args.id)?;
    drop(store);
    cast::print(&report, args.format)?;
    Ok(ExitCode::SUCCESS)
}
