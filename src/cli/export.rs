//! `iching export`: the whole journal (or what a search finds) in one file, newest first: each
//! reading with its situation, cast, sections, notes, outcome and follow-ups.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, ValueEnum};

use super::{CliError, emit, open, sh_quote};
use crate::model::ExportFormat;
use crate::service::{Access, ExportTo};

/// The formats a journal is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum JournalFormat {
    /// Markdown, one document.
    Md,
    /// One standalone HTML page.
    Html,
    /// A JSON array of the readings, each as `show --format json` prints it.
    Json,
}

/// Arguments of `export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    /// Which readings.
    pub filter: super::ReadingFilter,
    /// The file's format.
    #[arg(long, value_enum, default_value_t = JournalFormat::Md)]
    pub format: JournalFormat,
    /// The new file to write (never over an existing one); default: `iching-journal.md` (or
    /// `-2`, `-3`...) in `export_dir` of config.toml, else the documents folder.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// Runs `export`.
pub async fn run(home: Option<&Path>, args: ExportArgs) -> Result<ExitCode, CliError> {
    let filter = args.filter.checked()?;
    let service = open(home, Access::Existing)?;
    let format = match args.format {
        JournalFormat::Md => ExportFormat::Markdown,
        JournalFormat::Html => ExportFormat::Html,
        JournalFormat::Json => ExportFormat::Json,
    };
    let to = match &args.output {
        Some(file) => ExportTo::File(file.clone()),
        None => ExportTo::Folder(service.export_dir().to_path_buf()),
    };
    let done = service.export_journal(filter, format, &to).await;
    service.close().await;
    let done = done?;
    for (id, why) in &done.damaged {
        eprintln!("reading {id} is left out: {why}");
    }
    emit(&format!(
        "Exported {} reading{} to\n  {}\n(readable by you only).",
        done.readings,
        if done.readings == 1 { "" } else { "s" },
        sh_quote(&done.path)
    ));
    Ok(if done.damaged.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
