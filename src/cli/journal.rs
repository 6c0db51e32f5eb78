//! `iching note ID TEXT [--outcome]` (and `--edit N`, `--delete N`) and `iching notes ID`: the
//! journal kept with a reading: what you make of it now, and later how it turned out.

use std::io::{IsTerminal, Read};
use std::path::Path;
use std::process::ExitCode;

use clap::Args;
use serde::Serialize;

use super::hint::paste;
use super::{CliError, emit, open};
use crate::model::ReadingId;
use crate::service::NoteKind;
use crate::service::{Access, Service};
use crate::when::Stamp;

/// Arguments of `note`.
#[derive(Debug, Args)]
pub struct NoteArgs {
    /// The reading's id (see `iching history`).
    #[arg(allow_negative_numbers = true)]
    pub id: ReadingId,
    /// What to write: quoted, or as several words, read as one line (`iching note 1 Planted
    /// after the frost`); `-` reads it from standard input (several lines kept).
    #[arg(required_unless_present = "delete", num_args = 1.., value_name = "TEXT")]
    pub text: Vec<String>,
    /// It says how things turned out (an outcome), not what you make of the reading now.
    #[arg(long, conflicts_with_all = ["edit", "delete"])]
    pub outcome: bool,
    /// Replace the text of note N instead of adding one (asks first).
    #[arg(long, value_name = "N", conflicts_with = "delete")]
    pub edit: Option<usize>,
    /// Delete note N (asks first).
    #[arg(long, value_name = "N")]
    pub delete: Option<usize>,
    /// Edit or delete without asking.
    #[arg(long, short = 'y')]
    pub yes: bool,
}

/// Arguments of `notes`.
#[derive(Debug, Args)]
pub struct NotesArgs {
    /// The reading's id.
    #[arg(allow_negative_numbers = true)]
    pub id: ReadingId,
    /// Print a JSON array.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Serialize)]
struct Entry {
    /// Its number among the reading's notes, oldest first.
    number: usize,
    at: Stamp,
    kind: NoteKind,
    text: String,
}

/// Runs `note`.
pub async fn note(home: Option<&Path>, args: NoteArgs) -> Result<ExitCode, CliError> {
    let text = match args.text.as_slice() {
        [] => None,
        [dash] if dash == "-" => {
            let mut all = String::new();
            std::io::stdin()
                .read_to_string(&mut all)
                .map_err(|e| CliError::other(format!("cannot read the note: {e}")))?;
            Some(all)
        }
        words => Some(words.join(" ")),
    };
    let service = open(home, Access::Create)?;
    let result = write(&service, &args, text.as_deref()).await;
    service.close().await;
    result
}

async fn write(
    service: &Service,
    args: &NoteArgs,
    text: Option<&str>,
) -> Result<ExitCode, CliError> {
    let id = args.id;
    if let Some(note) = args.delete {
        let old = find(service, id, note).await?;
        if !args.yes
            && !confirm(&format!(
                "Delete note {note} of reading {id} (\"{}\")?",
                preview(&old)
            ))?
        {
            eprintln!("Kept note {note}.");
            return Ok(ExitCode::SUCCESS);
        }
        service.delete_note(id, note).await?;
        eprintln!("Deleted note {note} of reading {id}.");
        return Ok(ExitCode::SUCCESS);
    }
    let text = text.unwrap_or_default();
    if let Some(note) = args.edit {
        let old = find(service, id, note).await?;
        if !args.yes
            && !confirm(&format!(
                "Replace note {note} of reading {id} (\"{}\")?",
                preview(&old)
            ))?
        {
            eprintln!("Kept note {note} as it was.");
            return Ok(ExitCode::SUCCESS);
        }
        service.edit_note(id, note, text).await?;
        eprintln!("Replaced note {note} of reading {id}.");
        return Ok(ExitCode::SUCCESS);
    }
    let kind = if args.outcome {
        NoteKind::Outcome
    } else {
        NoteKind::Note
    };
    let note = service.add_note(id, kind, text).await?;
    eprintln!(
        "{}",
        paste(&format!(
            "Added {} {note} to reading {id}. `iching notes {id}` lists them.",
            if args.outcome { "outcome" } else { "note" }
        ))
    );
    Ok(ExitCode::SUCCESS)
}

/// The text of note `note` of reading `id`, or the error that there is none.
async fn find(service: &Service, id: ReadingId, note: usize) -> Result<String, CliError> {
    service
        .notes(id)
        .await?
        .into_iter()
        .find(|n| n.number == note)
        .map(|n| n.text)
        .ok_or_else(|| {
            CliError::usage(format!(
                "reading {id} has no note {note}; `iching notes {id}` lists them"
            ))
        })
}

/// The first line of `text`, shortened, for a question.
fn preview(text: &str) -> String {
    let first = text.lines().next().unwrap_or_default();
    crate::text::truncate(&crate::answer::sanitize_inline(first), 50)
}

/// Asks `question` (y/N) on the terminal; without one, refuses and says to pass --yes.
fn confirm(question: &str) -> Result<bool, CliError> {
    if !std::io::stdin().is_terminal() {
        return Err(CliError::usage(format!(
            "{question} There is no terminal to ask on: pass --yes to go ahead"
        )));
    }
    super::ask_yes(question)
}

/// Runs `notes`.
pub async fn notes(home: Option<&Path>, args: NotesArgs) -> Result<ExitCode, CliError> {
    let service = open(home, Access::Existing)?;
    let notes = service.notes(args.id).await;
    service.close().await;
    let entries: Vec<Entry> = notes?
        .into_iter()
        .map(|n| Entry {
            number: n.number,
            at: Stamp::at(n.created_at),
            kind: n.kind,
            text: n.text,
        })
        .collect();
    if args.json {
        emit(&super::json::to_json(&entries, "the notes")?);
        return Ok(ExitCode::SUCCESS);
    }
    if entries.is_empty() {
        emit(&paste(&format!(
            "Reading {} has no notes yet. Add one with `iching note {} \"what you make of it\"`, or later `--outcome` for how it turned out.",
            args.id, args.id
        )));
        return Ok(ExitCode::SUCCESS);
    }
    let width = super::cast::text_width();
    let mut out = String::new();
    for e in &entries {
        out.push_str(&format!(
            "{:>4}  {}  {}\n",
            e.number,
            e.at.shown(),
            e.kind.as_str()
        ));
        for line in e.text.lines() {
            for wrapped in crate::text::wrap(
                &crate::answer::sanitize_inline(line),
                width.saturating_sub(6).max(20),
            ) {
                out.push_str(&format!("      {wrapped}\n"));
            }
        }
        out.push('\n');
    }
    out.push_str(&format!("Times are in {}.", crate::when::zone_name()));
    emit(&out);
    Ok(ExitCode::SUCCESS)
}
