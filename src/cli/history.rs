//! `iching history`: the saved readings, newest first, as a table or (`--json`) an array of
//! `{id, created_at, question, method, lines, seed, primary, resulting, status, sections_done,
//! sections_planned, total_tokens}`. `--search` opens the questions, notes and follow-ups in memory to match them.
//! A reading whose question fails its integrity check is listed with the question
//! "(integrity check failed)", the others as usual, and the command exits 1.

use std::path::Path;
use std::process::ExitCode;

use clap::Args;
use serde::Serialize;

use super::hint::paste;
use super::{CliError, emit, open};
use crate::answer::sanitize_inline;
use crate::model::ReadingId;
use crate::report::ReadingStatus;
use crate::service::Access;
use crate::service::{HistoryFilter, Listed};
use crate::text::{self, truncate};
use crate::when::{Stamp, zone_name};

pub use crate::service::INTEGRITY_PLACEHOLDER;

/// Arguments of `history`.
#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// Print a JSON array instead of a table.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    /// Which readings.
    pub filter: super::ReadingFilter,
    /// At most N readings.
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
}

/// One entry of `history --json`.
#[derive(Debug, Serialize)]
struct Entry<'a> {
    id: ReadingId,
    created_at: Stamp,
    question: &'a str,
    method: &'a str,
    lines: [u8; 6],
    /// The seed of a random cast (`cast --seed` repeats it); null for a manual cast.
    seed: Option<u64>,
    primary: u8,
    resulting: Option<u8>,
    status: ReadingStatus,
    sections_done: u32,
    sections_planned: u32,
    total_tokens: u64,
    /// Notes in its journal (what was made of it).
    notes: usize,
    /// Outcomes in its journal (how it turned out).
    outcomes: usize,
}

impl<'a> From<&'a Listed> for Entry<'a> {
    fn from(l: &'a Listed) -> Self {
        Entry {
            id: l.row.id,
            created_at: Stamp::at(l.row.created_at),
            question: l.question.as_deref().unwrap_or(INTEGRITY_PLACEHOLDER),
            method: &l.row.method,
            lines: l.row.lines,
            seed: l.row.seed,
            primary: l.row.primary,
            resulting: l.row.resulting,
            status: l.row.status,
            sections_done: l.row.sections_done,
            sections_planned: l.row.sections_planned,
            total_tokens: l.row.total_tokens,
            notes: l.notes.notes,
            outcomes: l.notes.outcomes,
        }
    }
}

/// Runs `history`.
pub async fn run(home: Option<&Path>, args: HistoryArgs) -> Result<ExitCode, CliError> {
    let filter = HistoryFilter {
        limit: args.limit,
        ..args.filter.checked()?
    };
    let service = open(home, Access::Existing)?;
    let filters = described(&filter);
    let listed = service.history(filter).await;
    // Nothing listed under a filter: whether the store is empty decides what to say.
    let store_empty = match &listed {
        Ok(l) if l.is_empty() && !args.json && !filters.is_empty() => service
            .history(HistoryFilter {
                limit: Some(1),
                ..HistoryFilter::default()
            })
            .await
            .map(|all| all.is_empty()),
        _ => Ok(true),
    };
    service.close().await;
    let listed: Vec<Listed> = listed?.into_iter().map(|e| e.listed).collect();
    let out = if args.json {
        let entries: Vec<Entry<'_>> = listed.iter().map(Entry::from).collect();
        super::json::to_json(&entries, "the history")?
    } else if listed.is_empty() && !store_empty? {
        paste(&format!(
            "No readings match {}; `iching history` lists them all.",
            text::and_list(&filters)
        ))
    } else {
        table(&listed)
    };
    emit(&out);
    let broken: Vec<String> = listed
        .iter()
        .filter_map(|l| l.question.as_ref().err().map(ToString::to_string))
        .collect();
    if broken.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    for message in &broken {
        eprintln!("error: {}", paste(message));
    }
    eprintln!(
        "{}",
        paste(
            "The other readings are intact. Restore the database from a backup, or delete the damaged readings with `iching delete ID`."
        )
    );
    Ok(ExitCode::from(1))
}

/// The filters given, as the flags that set them (`--search "zzz"`, `--hexagram 1`).
fn described(filter: &HistoryFilter) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(search) = &filter.search {
        out.push(format!("--search {:?}", sanitize_inline(search)));
    }
    if let Some(n) = filter.hexagram {
        out.push(format!("--hexagram {n}"));
    }
    if filter.no_outcome {
        out.push("--no-outcome".to_owned());
    }
    if let Some(n) = filter.limit {
        out.push(format!("--limit {n}"));
    }
    out
}

/// The readings as a table for people.
fn table(listed: &[Listed]) -> String {
    if listed.is_empty() {
        return paste("No readings found. Cast one with `iching cast \"your question\"`.");
    }
    let width = super::cast::text_width();
    let stamps: Vec<String> = listed
        .iter()
        .map(|l| Stamp::at(l.row.created_at).shown())
        .collect();
    let cast_width = stamps.iter().map(|s| text::width(s)).max().unwrap_or(0);
    let mut out = format!(
        "{:>5}  {}  {:<11}  {:>8}  {:<9}  {:<7}  QUESTION",
        "ID",
        text::pad("CAST", cast_width),
        "STATUS",
        "SECTIONS",
        "HEXAGRAM",
        "JOURNAL"
    );
    let room = width
        .saturating_sub(text::width(&out) - text::width("QUESTION"))
        .max(40);
    for (l, when) in listed.iter().zip(&stamps) {
        let r = &l.row;
        let hexagrams = match r.resulting {
            Some(res) => format!("{} → {res}", r.primary),
            None => r.primary.to_string(),
        };
        let question = match &l.question {
            Ok(q) => truncate(&sanitize_inline(q), room),
            Err(_) => INTEGRITY_PLACEHOLDER.to_owned(),
        };
        let journal = match (l.notes.notes, l.notes.outcomes) {
            (0, 0) => String::new(),
            (n, 0) => format!("{n} ✎"),
            (0, o) => format!("{o} ✓"),
            (n, o) => format!("{n} ✎ {o} ✓"),
        };
        out.push_str(&format!(
            "\n{:>5}  {}  {:<11}  {:>8}  {:<9}  {}  {question}",
            r.id,
            text::pad(when, cast_width),
            r.status.as_str(),
            format!("{}/{}", r.sections_done, r.sections_planned),
            hexagrams,
            crate::text::pad(&journal, 7),
        ));
    }
    if listed
        .iter()
        .any(|l| l.notes != crate::service::NoteCounts::default())
    {
        out.push_str(&paste(
            "\n\nJOURNAL: ✎ notes, ✓ outcomes; `iching notes ID` shows them.",
        ));
    }
    out.push_str(&format!("\n\nTimes are in {}.", zone_name()));
    out
}
