//! `iching ask ID "QUESTION"`: a follow-up question about a saved reading. The answer is
//! printed a paragraph at a time as it streams in, and saved sealed with the reading (with its
//! usage and timings) once complete; `--json` prints the saved follow-up as one object.
//! Exit 0 answered, 1 not answered (nothing saved), 130 cancelled.

use std::io::Read;
use std::path::Path;
use std::process::ExitCode;

use clap::Args;
use serde::Serialize;
use tokio::sync::mpsc;

use super::cast::cancel_on_ctrl_c;
use super::{CliError, ProviderArgs, emit, open_configured};
use crate::answer::{Ending, Paragraph, StreamView, to_plain_text};
use crate::events::{EventKind, SectionEvent};
use crate::model::ReadingId;
use crate::report::FollowupReport;
use crate::service::{Asked, ServiceError};

/// Arguments of `ask`.
#[derive(Debug, Args)]
pub struct AskArgs {
    /// The reading's id (see `iching history`).
    #[arg(allow_negative_numbers = true)]
    pub id: ReadingId,
    /// The follow-up question: quoted, or as several words, read as one question (`iching ask
    /// 1 What does line 4 mean`); `-` reads it from standard input.
    #[arg(required = true, num_args = 1.., value_name = "QUESTION")]
    pub question: Vec<String>,
    /// Print the saved follow-up as one JSON object instead of streaming the answer.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    /// Provider choice and tuning.
    pub provider: ProviderArgs,
}

#[derive(Serialize)]
struct Printed<'a> {
    reading_id: ReadingId,
    #[serde(flatten)]
    followup: &'a FollowupReport,
}

/// Runs `ask`.
pub async fn run(home: Option<&Path>, args: AskArgs) -> Result<ExitCode, CliError> {
    let question = if args.question == ["-"] {
        let mut all = String::new();
        std::io::stdin()
            .read_to_string(&mut all)
            .map_err(|e| CliError::other(format!("cannot read the question: {e}")))?;
        all
    } else {
        args.question.join(" ")
    };
    // An empty or over-long question is refused before anything is opened.
    crate::model::clean_question(&question).map_err(ServiceError::FollowupQuery)?;
    let service = open_configured(home, &args.provider).await?;
    let (tx, rx) = mpsc::unbounded_channel();
    let asking = service.ask(args.id, &question, tx, cancel_on_ctrl_c());
    let (asked, printed) = tokio::join!(asking, stream(rx, !args.json));
    service.close().await;
    if asked.is_err() && printed > 0 {
        eprintln!("(the text above is an answer cut short: it was not saved)");
    }
    match asked? {
        Asked::Cancelled => {
            eprintln!("cancelled: the answer was not complete, so nothing was saved");
            Ok(ExitCode::from(130))
        }
        Asked::Answered(f) if args.json => {
            let printed = Printed {
                reading_id: args.id,
                followup: &f,
            };
            emit(&serde_json::to_string_pretty(&printed).unwrap_or_default());
            Ok(ExitCode::SUCCESS)
        }
        Asked::Answered(f) => {
            // The classic text has no tokens to count.
            let figures = if crate::service::is_classic_text(&f.model) {
                crate::service::CLASSIC_TEXT.to_owned()
            } else {
                format!(
                    "{} tokens, {:.1} s",
                    f.usage.total(),
                    f.latency_ms as f64 / 1000.0
                )
            };
            eprintln!(
                "{}",
                super::hint::paste(&format!(
                    "Saved as follow-up {} of reading {} ({figures}); `iching show {}` shows it with the reading.",
                    f.number, args.id, args.id
                ))
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Prints the answer as it arrives, each paragraph once it is complete (the next has begun), and
/// at the end exactly what was saved ([`StreamView`]), when `print`; says on stderr when an
/// attempt is retried. Returns how many paragraphs of the last attempt it printed.
async fn stream(mut rx: mpsc::UnboundedReceiver<SectionEvent>, print: bool) -> usize {
    let width = super::cast::text_width();
    let mut view = StreamView::new();
    let mut printed = 0;
    let out = |paras: &[Paragraph], printed: &mut usize| {
        for p in paras {
            if *printed > 0 {
                emit("");
            }
            emit(&to_plain_text(std::slice::from_ref(p), Some(width)));
            *printed += 1;
        }
    };
    let again = |view: &mut StreamView, printed: &mut usize| {
        // The next attempt starts over.
        if print && *printed > 0 {
            emit("\n(the answer starts again)\n");
        }
        view.restart();
        *printed = 0;
    };
    while let Some(event) = rx.recv().await {
        match event.kind {
            EventKind::Delta(more) if print => {
                let complete = view.push(&more);
                out(&complete, &mut printed);
            }
            EventKind::Retrying {
                attempt,
                wait,
                reason,
            } => {
                eprintln!(
                    "attempt {} failed ({}); trying again in {:.1} s",
                    attempt.saturating_sub(1),
                    crate::answer::sanitize_inline(&reason),
                    wait.as_secs_f64()
                );
                again(&mut view, &mut printed);
            }
            // Cut while others ran, and queued again: the next attempt starts over too.
            EventKind::Held(crate::events::Hold::Requeued { .. }) => {
                again(&mut view, &mut printed);
            }
            EventKind::Finished(done) if print => match view.finish(&done.paragraphs) {
                Ending::More(rest) => out(&rest, &mut printed),
                Ending::Again(all) => {
                    if printed > 0 {
                        emit("\n(the answer as it was saved:)\n");
                    }
                    printed = 0;
                    out(&all, &mut printed);
                }
            },
            _ => {}
        }
    }
    printed
}
