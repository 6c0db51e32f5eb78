//! `iching export`: the whole journal (or what a search finds) in one file, newest first: each
//! reading with its situation, cast, sections, notes, outcome and follow-ups.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, ValueEnum};

use super::{CliError, emit, open, sh_quote};
use crate::model::ExportFormat;
use crate::service::{Access, ExportTo, HistoryFilter};

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
    /// Only readings holding every word of TEXT, as `history --search` finds them.
    #[arg(long, value_name = "TEXT")]
    pub search: Option<String>,
    /// Only readings still waiting to be told how they turned out.
    #[arg(long)]
    pub no_outcome: bool,
    /// Only readings with hexagram N (1-64) as primary or resulting hexagram.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u8).range(1..=64))]
    pub hexagram: Option<u8>,
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
    if args.search.as_deref().is_some_and(|s| s.trim().is_empty()) {
        return Err(CliError::usage(
            "--search needs some words to look for in the questions, situations, notes and follow-ups",
        ));
    }
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
    let filter = HistoryFilter {
        search: args.search.map(|s| s.trim().to_owned()),
        hexagram: args.hexagram,
        no_outcome: args.no_outcome,
        ..HistoryFilter::default()
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
