//! `iching batch FILE`: many readings at once under one section limit, with a progress bar, a
//! retry pass for failed sections and a summary. Every reading is saved as its sections finish.

use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::Args;
use indicatif::ProgressBar;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use super::cast::{CastNames, cast_from_args};
use super::progress::{cancel_on_ctrl_c, progress_bar, say};
use super::{CliError, ProviderArgs, emit, open_configured, round};
use crate::answer::sanitize_inline;
use crate::events::{EventKind, SectionEvent, UsageSource};
use crate::model::{MAX_CONTEXT_CHARS, MAX_QUESTION_CHARS, ReadingId};
use crate::report::ReadingStatus;
use crate::service::{BatchEvent, BatchJob, Prices, planned_sections};

/// Sections in flight across all readings when `--concurrency` is not given.
const DEFAULT_CONCURRENCY: usize = 16;

/// The longest line read, in bytes: a question is at most [`MAX_QUESTION_CHARS`] characters and
/// its situation [`MAX_CONTEXT_CHARS`], so a longer line is a mistake, refused before it is
/// parsed (a huge one would take time and memory only to be refused).
const MAX_LINE_BYTES: usize = 64 * 1024;

/// The largest batch file read, in bytes: a thousand lines of the longest kind.
const MAX_FILE_BYTES: u64 = 1000 * MAX_LINE_BYTES as u64;

/// Arguments of `batch`.
#[derive(Debug, Args)]
pub struct BatchArgs {
    /// One question per line, or JSON lines: {"question": "...", "method": "yarrow", "seed": 7}
    /// for a random cast (method coins or yarrow, seed to repeat it), {"question": "...",
    /// "lines": "9,8,7,7,6,8"} for a physical one, "context": "..." for the situation behind
    /// the question (all but question optional). Blank lines and lines starting with # are
    /// skipped.
    pub file: PathBuf,
    /// Print the summary as one JSON object.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    /// Provider choice and tuning (--concurrency: sections in flight across all readings, default 16).
    pub provider: ProviderArgs,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonLine {
    question: String,
    #[serde(default)]
    lines: Option<LinesField>,
    #[serde(default)]
    method: Option<String>,
    #[serde(default)]
    seed: Option<u64>,
    /// The situation behind the question.
    #[serde(default)]
    context: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum LinesField {
    Text(String),
    Values(Vec<u8>),
}

/// A line that could not be used.
#[derive(Debug, Clone, Serialize)]
pub struct Skipped {
    /// 1-based line number.
    pub line: usize,
    /// Why.
    pub error: String,
}

/// Reads the jobs of `text`; bad lines are returned apart, with their line numbers.
pub fn parse_jobs(text: &str) -> (Vec<BatchJob>, Vec<Skipped>) {
    let mut jobs = Vec::new();
    let mut skipped = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let trimmed = raw.trim();
        if raw.len() > MAX_LINE_BYTES {
            skipped.push(Skipped {
                line,
                error: format!(
                    "the line is {} bytes long; a line may be {MAX_LINE_BYTES} (a question is at \
                     most {MAX_QUESTION_CHARS} characters, its situation {MAX_CONTEXT_CHARS})",
                    raw.len()
                ),
            });
            continue;
        }
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        match parse_line(trimmed) {
            Ok((question, context, cast)) => jobs.push(BatchJob {
                line,
                question,
                context,
                cast,
            }),
            Err(error) => skipped.push(Skipped {
                line,
                error: sanitize_inline(&error),
            }),
        }
    }
    (jobs, skipped)
}

/// A line's question, situation and cast.
type Line = (String, Option<String>, crate::oracle::Cast);

fn parse_line(line: &str) -> Result<Line, String> {
    let (question, context, lines, method, seed) = if line.starts_with('{') {
        let j: JsonLine =
            serde_json::from_str(line).map_err(|e| format!("not a valid JSON line ({e})"))?;
        let lines = j.lines.map(|l| match l {
            LinesField::Text(t) => t,
            LinesField::Values(v) => v.iter().map(u8::to_string).collect::<Vec<_>>().join(","),
        });
        (j.question, j.context, lines, j.method, j.seed)
    } else {
        (line.to_owned(), None, None, None, None)
    };
    let query =
        crate::model::Query::parse(&question, context.as_deref()).map_err(|e| e.to_string())?;
    let (question, context) = (query.question, query.context);
    let cast = cast_from_args(lines.as_deref(), method.as_deref(), seed, CastNames::JSON)
        .map_err(|e| e.message)?;
    Ok((question, context, cast))
}

/// What the summary counts, folded from the events.
#[derive(Debug, Default, Serialize)]
pub struct Summary {
    /// Readings attempted (good lines).
    pub readings: usize,
    /// By final status.
    pub complete: usize,
    /// Some sections failed.
    pub partial: usize,
    /// No section succeeded.
    pub failed: usize,
    /// Stopped by Ctrl-C.
    pub cancelled: usize,
    /// Never started (Ctrl-C came first).
    pub not_started: usize,
    /// Not kept: the store failed while they were made (each was reported as it happened).
    pub unsaved: usize,
    /// Wall time.
    pub wall_s: f64,
    /// HTTP requests made (attempts, retries included).
    pub requests: u64,
    /// Sections generated.
    pub sections_done: u64,
    /// Sections that failed (in any pass).
    pub sections_failed: u64,
    /// Tokens the endpoint reported.
    pub tokens_reported: u64,
    /// Tokens estimated locally.
    pub tokens_estimated: u64,
    /// Sections the classic text answered (no tokens, rate or cost to show for them).
    pub classic_text_sections: u64,
    /// Dollars, when the model has a price in the config.
    pub cost: Option<f64>,
    /// Sections per second.
    pub sections_per_s: f64,
    /// Tokens per second.
    pub tokens_per_s: f64,
    /// Readings re-run in the retry pass.
    pub retried_readings: usize,
    /// Store ids, in file order (null for readings never created).
    pub ids: Vec<Option<ReadingId>>,
    /// Lines that were skipped.
    pub skipped: Vec<Skipped>,
}

/// Runs `batch`.
pub async fn run(home: Option<&Path>, args: BatchArgs) -> Result<ExitCode, CliError> {
    let text = read_file(&args.file)?;
    let (jobs, skipped) = parse_jobs(&text);
    for s in &skipped {
        eprintln!("{}:{}: {} (skipped)", args.file.display(), s.line, s.error);
    }
    if jobs.is_empty() {
        return Err(CliError::usage(if skipped.is_empty() {
            format!(
                "{} has no questions: write one question per line, or JSON lines like \
                 {{\"question\": \"...\", \"lines\": \"9,8,7,7,6,8\"}}",
                args.file.display()
            )
        } else {
            format!("no usable line in {}", args.file.display())
        }));
    }
    let service = open_configured(home, &args.provider).await?;
    let concurrency = args.provider.concurrency.unwrap_or(DEFAULT_CONCURRENCY);
    let planned: Vec<u64> = jobs.iter().map(|j| planned_sections(j) as u64).collect();
    let (bar, room) = progress_bar(planned.iter().sum());
    let (batch_tx, batch_rx) = mpsc::unbounded_channel();
    let (section_tx, section_rx) = mpsc::unbounded_channel();
    let cancel = cancel_on_ctrl_c(bar.clone());
    let started = Instant::now();
    let readings = jobs.len();
    let run = service.batch(jobs, concurrency, batch_tx, section_tx, cancel.clone());
    let prices = (*service.prices()).clone();
    // The fold runs on the runtime's workers, beside the sections whose events it counts, rather
    // than waking this thread for every one.
    let fold = tokio::spawn(fold(section_rx, batch_rx, (bar, room), planned, prices));
    let outcomes = run.await;
    let mut summary = fold
        .await
        .map_err(|e| CliError::other(format!("batch progress: {e}")))?;
    service.close().await;
    let outcomes = outcomes?;
    summary.readings = readings;
    summary.wall_s = round(started.elapsed().as_secs_f64(), 3);
    for o in &outcomes {
        if o.unsaved {
            // What is stored of it may be less than what ran: not counted by a status.
            summary.unsaved += 1;
            continue;
        }
        match o.status {
            Some(ReadingStatus::Complete) => summary.complete += 1,
            Some(ReadingStatus::Partial) => summary.partial += 1,
            Some(ReadingStatus::Failed) => summary.failed += 1,
            Some(
                ReadingStatus::Cancelled | ReadingStatus::Interrupted | ReadingStatus::Running,
            ) => summary.cancelled += 1,
            None => summary.not_started += 1,
        }
    }
    summary.ids = outcomes.iter().map(|o| o.id).collect();
    summary.skipped = skipped;
    let secs = summary.wall_s.max(1e-9);
    summary.sections_per_s = round(summary.sections_done as f64 / secs, 1);
    summary.tokens_per_s = round(
        (summary.tokens_reported + summary.tokens_estimated) as f64 / secs,
        1,
    );
    if args.json {
        emit(&super::json::to_json(&summary, "the summary")?);
    } else {
        emit(&summary_text(&summary, concurrency));
    }
    Ok(if cancel.is_cancelled() {
        ExitCode::from(130)
    } else if summary.complete != readings {
        ExitCode::from(3)
    } else if !summary.skipped.is_empty() {
        // Every good line was read, but the file needs fixing: a script should know.
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

/// The batch file's text; a file over [`MAX_FILE_BYTES`] is refused before it is read whole.
fn read_file(path: &Path) -> Result<String, CliError> {
    let cannot =
        |e: std::io::Error| CliError::usage(format!("cannot read {}: {e}", path.display()));
    let too_big = || {
        CliError::usage(format!(
            "{} is larger than {} MB, more than a batch file holds (one question per line); \
             split it into smaller files",
            path.display(),
            MAX_FILE_BYTES / 1_000_000
        ))
    };
    let file = std::fs::File::open(path).map_err(cannot)?;
    if file.metadata().is_ok_and(|m| m.len() > MAX_FILE_BYTES) {
        return Err(too_big());
    }
    // A pipe or a file still growing says nothing of its size: read no more than the limit.
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(cannot)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(too_big());
    }
    String::from_utf8(bytes).map_err(|_| {
        cannot(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "stream did not contain valid UTF-8",
        ))
    })
}

/// Folds the section events and batch events into the summary figures and the progress display.
async fn fold(
    mut sections: mpsc::UnboundedReceiver<SectionEvent>,
    mut batch: mpsc::UnboundedReceiver<BatchEvent>,
    (bar, room): (ProgressBar, usize),
    planned: Vec<u64>,
    prices: Prices,
) -> Summary {
    let readings = planned.len();
    let plain = bar.is_hidden();
    let mut tally = Tally {
        prices,
        room,
        ..Tally::default()
    };
    let mut settled = HashSet::new();
    loop {
        let event = tokio::select! {
            Some(e) = sections.recv() => {
                if tally.count(&e, &bar) {
                    tally.show(&bar, settled.len().min(readings), readings);
                }
                continue;
            }
            Some(event) = batch.recv() => event,
            else => break,
        };
        // A batch event follows the section events its reading (or pass) sent before it: count
        // those first, so the figures it prints and the retry pass's length include them.
        while let Ok(e) = sections.try_recv() {
            tally.count(&e, &bar);
        }
        match event {
            BatchEvent::Settled { index, id, status } => {
                settled.insert(index);
                if plain {
                    let (done, failed) = tally.per_reading.get(&id).copied().unwrap_or_default();
                    eprintln!(
                        "reading {id} ({}/{readings}): {}; {done} of its {} sections done{}",
                        settled.len(),
                        status.as_str(),
                        planned.get(index).copied().unwrap_or_default(),
                        if failed > 0 {
                            format!(", {failed} failed")
                        } else {
                            String::new()
                        }
                    );
                }
            }
            BatchEvent::RetryPass { readings: n } => {
                // The retry pass counts its own failures.
                for counts in tally.per_reading.values_mut() {
                    counts.1 = 0;
                }
                let s = &mut tally.summary;
                s.retried_readings = n;
                bar.inc_length(s.sections_failed);
                say(
                    &bar,
                    &format!("retrying the failed sections of {n} readings"),
                );
            }
            BatchEvent::StoreFailed { index, error } => {
                say(
                    &bar,
                    &format!("reading {} could not be saved: {error}", index + 1),
                );
            }
        }
        tally.show(&bar, settled.len().min(readings), readings);
    }
    bar.finish_and_clear();
    let mut s = tally.summary;
    // A cost is only a cost when every section had a price.
    s.cost = (tally.priced > 0 && tally.priced == s.sections_done).then_some(round(tally.cost, 4));
    s
}

/// The running figures of a batch.
#[derive(Default)]
struct Tally {
    summary: Summary,
    prices: Prices,
    cost: f64,
    priced: u64,
    /// Columns the bar's message may take.
    room: usize,
    /// Each reading's sections done and failed (failed: in the latest pass).
    per_reading: HashMap<ReadingId, (u64, u64)>,
}

impl Tally {
    /// Counts a section event; whether it changed a figure.
    fn count(&mut self, e: &SectionEvent, bar: &ProgressBar) -> bool {
        let s = &mut self.summary;
        let counts = e.reading.map(|id| self.per_reading.entry(id).or_default());
        match &e.kind {
            EventKind::Finished(done) => {
                if let Some(counts) = counts {
                    counts.0 += 1;
                }
                s.sections_done += 1;
                if crate::service::is_classic_text(&done.model) {
                    s.classic_text_sections += 1;
                }
                s.requests += u64::from(done.attempts);
                let tokens = u64::from(done.usage.total());
                match done.usage.source {
                    UsageSource::Reported => s.tokens_reported += tokens,
                    UsageSource::Estimated => s.tokens_estimated += tokens,
                }
                let billed = crate::events::billed(Some(done.usage), done.failed_usage)
                    .unwrap_or(done.usage);
                if let Some(c) = self.prices.cost(&done.model, &billed) {
                    self.priced += 1;
                    self.cost += c;
                }
            }
            EventKind::Failed(f) => {
                if let Some(counts) = counts {
                    counts.1 += 1;
                }
                s.sections_failed += 1;
                s.requests += u64::from(f.attempts);
            }
            EventKind::Queued
            | EventKind::Started
            | EventKind::Delta(_)
            | EventKind::Retrying { .. }
            | EventKind::Held(_) => return false,
        }
        bar.inc(1);
        true
    }

    /// The progress bar's message (nothing to do when the bar is hidden).
    fn show(&self, bar: &ProgressBar, settled: usize, readings: usize) {
        if bar.is_hidden() {
            return;
        }
        let s = &self.summary;
        let eta = bar.eta().as_secs();
        let eta = if eta >= 60 {
            format!("{}m {:02}s", eta / 60, eta % 60)
        } else {
            format!("{eta}s")
        };
        // The most telling first: the message is cut to the room the terminal leaves.
        let message = format!(
            "{settled}/{readings} readings · ETA {eta} · {} failed · {} tokens",
            s.sections_failed,
            s.tokens_reported + s.tokens_estimated,
        );
        bar.set_message(crate::text::truncate(&message, self.room));
    }
}

/// The summary as lines of text.
fn summary_text(s: &Summary, concurrency: usize) -> String {
    [
        format!(
            "Batch: {} reading{}, up to {concurrency} sections at once{}",
            s.readings,
            if s.readings == 1 { "" } else { "s" },
            match s.skipped.len() {
                0 => String::new(),
                1 => " (1 line skipped)".to_owned(),
                n => format!(" ({n} lines skipped)"),
            }
        ),
        format!(
            "  complete {}, partial {}, failed {}, cancelled {}, not started {}{}",
            s.complete,
            s.partial,
            s.failed,
            s.cancelled,
            s.not_started,
            if s.unsaved > 0 {
                format!(", not saved {} (the store failed: see above)", s.unsaved)
            } else {
                String::new()
            }
        ),
        format!(
            "  wall {:.3} s; {} requests for {} sections ({} failed{})",
            s.wall_s,
            s.requests,
            s.sections_done + s.sections_failed,
            s.sections_failed,
            if s.retried_readings > 0 {
                format!("; {} readings retried", s.retried_readings)
            } else {
                String::new()
            }
        ),
    ]
    .into_iter()
    .chain(figures(s))
    .collect::<Vec<_>>()
    .join("\n")
}

/// The tokens, cost and rates of a batch, or, where the classic text answered every section,
/// what it is instead (it has none).
fn figures(s: &Summary) -> [String; 2] {
    if s.sections_done > 0 && s.classic_text_sections == s.sections_done {
        return [
            format!(
                "  answered from {}: no tokens or cost",
                crate::service::CLASSIC_TEXT
            ),
            format!("  throughput {:.1} sections/s", s.sections_per_s),
        ];
    }
    [
        format!(
            "  tokens {} (reported {}, estimated {}){}",
            s.tokens_reported + s.tokens_estimated,
            s.tokens_reported,
            s.tokens_estimated,
            s.cost.map_or(String::new(), |c| format!("; cost ${c:.4}"))
        ),
        format!(
            "  throughput {:.1} sections/s, {:.0} tokens/s",
            s.sections_per_s, s.tokens_per_s
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_counts_in_words_that_agree_with_their_numbers() {
        let skipped = |n: usize| {
            (1..=n)
                .map(|line| Skipped {
                    line,
                    error: "empty".into(),
                })
                .collect::<Vec<_>>()
        };
        let one = Summary {
            readings: 1,
            skipped: skipped(1),
            ..Summary::default()
        };
        assert!(
            summary_text(&one, 4)
                .starts_with("Batch: 1 reading, up to 4 sections at once (1 line skipped)"),
            "{}",
            summary_text(&one, 4)
        );
        let two = Summary {
            readings: 2,
            skipped: skipped(3),
            ..Summary::default()
        };
        assert!(
            summary_text(&two, 4)
                .starts_with("Batch: 2 readings, up to 4 sections at once (3 lines skipped)")
        );
    }

    #[test]
    fn lines_plain_json_bad_and_comments() {
        let text = "Will it rain?\n\n# a comment\n{\"question\": \"Q2\", \"lines\": \"9,8,7,7,6,8\"}\n\
                    {\"question\": \"Q3\", \"lines\": [7,7,7,7,7,7]}\n{\"question\": \"Q4\", \"method\": \"yarrow\", \"seed\": 3}\n\
                    {\"question\": \"\"}\n{\"question\": \"Q\", \"lines\": \"9,8,5,7,6,8\"}\n{\"q\": 1}\n{broken\n\
                    {\"question\": \"Q\", \"lines\": \"9,8,7,7,6,8\", \"method\": \"yarrow\", \"seed\": 7}\n\
                    {\"question\": \"Q\", \"lines\": \"9,8,7,7,6,8\", \"seed\": 7}\n\
                    {\"question\": \"Q\", \"method\": \"manual\"}\n";
        let (jobs, skipped) = parse_jobs(text);
        assert_eq!(
            jobs.iter().map(|j| j.line).collect::<Vec<_>>(),
            [1, 4, 5, 6]
        );
        assert_eq!(
            jobs[1].cast.lines.map(crate::oracle::LineValue::get),
            [9, 8, 7, 7, 6, 8]
        );
        assert_eq!(
            jobs[2].cast.lines.map(crate::oracle::LineValue::get),
            [7; 6]
        );
        assert_eq!(jobs[3].cast.seed, Some(3));
        assert_eq!(jobs[3].cast.method.as_str(), "yarrow");
        assert_eq!(
            skipped.iter().map(|s| s.line).collect::<Vec<_>>(),
            [7, 8, 9, 10, 11, 12, 13]
        );
        assert!(skipped[0].error.contains("empty"));
        assert!(skipped[1].error.contains("line 3 is \"5\""));
        assert!(skipped[2].error.contains("JSON"));
        // The JSON fields are named as they are written in the file, not as cast's flags.
        for s in &skipped[4..] {
            assert!(!s.error.contains("--"), "{}", s.error);
        }
        assert_eq!(
            skipped[4].error,
            "\"lines\" is a manual cast; drop \"method\" yarrow or drop \"lines\""
        );
        assert!(skipped[5].error.starts_with("\"seed\" is for random casts"));
        assert!(skipped[6].error.contains("add \"lines\": \"9,8,7,7,6,8\""));
    }

    #[test]
    fn a_line_too_long_to_be_a_question_is_skipped_unread_with_its_number() {
        let huge = format!("{{\"question\": \"{}\"}}", "x".repeat(MAX_LINE_BYTES));
        let text = format!(
            "First?\n{huge}\nThird?\n{}\n",
            "y".repeat(MAX_LINE_BYTES + 1)
        );
        let (jobs, skipped) = parse_jobs(&text);
        assert_eq!(jobs.iter().map(|j| j.line).collect::<Vec<_>>(), [1, 3]);
        assert_eq!(skipped.iter().map(|s| s.line).collect::<Vec<_>>(), [2, 4]);
        assert!(
            skipped[0]
                .error
                .starts_with(&format!("the line is {} bytes long", huge.len())),
            "{}",
            skipped[0].error
        );
        // A line just under the limit is read, and refused for what it says.
        let (_, skipped) = parse_jobs(&"z".repeat(MAX_LINE_BYTES));
        assert!(
            skipped[0].error.contains("question"),
            "{}",
            skipped[0].error
        );
    }
}
