//! `iching cast QUESTION`: cast, generate every section at once, save each as it lands, print the
//! reading. Its helpers (progress lines, Ctrl-C, printing, exit codes) serve `retry` too.

use std::collections::HashSet;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::hint::paste;
use super::{CliError, Format, ProviderArgs, emit, open_configured, stderr_colour};
use crate::events::{EventKind, Hold, SectionEvent};
use crate::model::Query;
use crate::oracle::{Cast, Method, Reading};
use crate::report::{self, ReadingReport, ReadingStatus, SectionStatus};
use crate::service::{Section, ServiceError, plan};

/// Arguments of `cast`.
#[derive(Debug, Args)]
pub struct CastArgs {
    /// What you ask the oracle (up to 2,000 characters): quoted, or as several words, which
    /// are read as one question (`iching cast Should I go`).
    #[arg(required = true, num_args = 1.., value_name = "QUESTION")]
    pub question: Vec<String>,
    /// The situation behind the question (up to 4,000 characters): it goes to the model with
    /// every section, is sealed with the reading, and shows with it.
    #[arg(long, value_name = "TEXT")]
    pub context: Option<String>,
    /// Six line values from a physical cast, bottom to top, each 6, 7, 8 or 9 (e.g. 9,8,7,7,6,8).
    #[arg(long, value_name = "VALUES")]
    pub lines: Option<String>,
    /// How to cast: coins or yarrow (manual when --lines is given).
    #[arg(long, value_name = "METHOD")]
    pub method: Option<String>,
    /// Seed for the random cast, to reproduce it.
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    #[command(flatten)]
    /// Provider choice and tuning.
    pub provider: ProviderArgs,
}

/// What the user calls the three cast settings in error messages: flags on the command line,
/// fields in a batch file's JSON lines.
#[derive(Debug, Clone, Copy)]
pub struct CastNames {
    lines: &'static str,
    method: &'static str,
    seed: &'static str,
    /// Six values given as this setting.
    example: &'static str,
}

impl CastNames {
    /// `cast`'s flags.
    pub const FLAGS: Self = Self {
        lines: "--lines",
        method: "--method",
        seed: "--seed",
        example: "--lines 9,8,7,7,6,8",
    };
    /// The fields of a batch JSON line.
    pub const JSON: Self = Self {
        lines: "\"lines\"",
        method: "\"method\"",
        seed: "\"seed\"",
        example: "\"lines\": \"9,8,7,7,6,8\"",
    };
}

/// The cast the arguments ask for; errors call the settings by `names`.
pub fn cast_from_args(
    lines: Option<&str>,
    method: Option<&str>,
    seed: Option<u64>,
    names: CastNames,
) -> Result<Cast, CliError> {
    let CastNames {
        lines: lines_name,
        method: method_name,
        seed: seed_name,
        example,
    } = names;
    let method = method
        .map(str::parse::<Method>)
        .transpose()
        .map_err(|e| CliError::usage(e.to_string()))?;
    match (lines, method) {
        (Some(lines), None | Some(Method::Manual)) => {
            if seed.is_some() {
                return Err(CliError::usage(format!(
                    "{seed_name} is for random casts; {lines_name} already gives the six values: \
                     drop {seed_name} or drop {lines_name}"
                )));
            }
            let values = Cast::parse_lines(lines).map_err(|e| CliError::usage(e.to_string()))?;
            Ok(Cast::manual(values))
        }
        (Some(_), Some(m)) => Err(CliError::usage(format!(
            "{lines_name} is a manual cast; drop {method_name} {m} or drop {lines_name}"
        ))),
        (None, Some(Method::Manual)) => Err(CliError::usage(format!(
            "a manual cast needs its six values: add {example} (bottom line first)"
        ))),
        (None, m) => {
            let seed = seed.unwrap_or_else(rand::random);
            Cast::random(m.unwrap_or(Method::Coins), seed)
                .map_err(|e| CliError::usage(e.to_string()))
        }
    }
}

/// Runs `cast`: the reading is saved section by section as it is generated, then printed as
/// stored (so `show` prints the same).
pub async fn run(home: Option<&Path>, args: CastArgs) -> Result<ExitCode, CliError> {
    let query = Query::parse(&args.question.join(" "), args.context.as_deref())
        .map_err(ServiceError::from)?;
    let cast = cast_from_args(
        args.lines.as_deref(),
        args.method.as_deref(),
        args.seed,
        CastNames::FLAGS,
    )?;
    let service = open_configured(home, &args.provider).await?;
    let reading = Arc::new(Reading::new(cast));
    let planned = plan(&reading).len();
    let (tx, rx) = mpsc::unbounded_channel();
    let query = Arc::new(query);
    let run = service.cast(reading, query, tx, cancel_on_ctrl_c());
    let (saved, ()) = tokio::join!(run, show_progress(rx, planned));
    let report = match saved {
        Ok(saved) => service.report(saved.id).await,
        Err(e) => Err(e),
    };
    service.close().await;
    let report = report?;
    print(&report, args.format)?;
    if args.format == Format::Text {
        emit(&paste(&saved_as(&report)));
        let flags = args.provider.endpoint.provider.is_some()
            || args.provider.endpoint.base_url.is_some()
            || args.provider.endpoint.model.is_some();
        if let Some(next) = what_next(&report, flags) {
            emit(&paste(&next));
        }
    }
    Ok(exit_code(report.status))
}

/// What to do about a reading with sections missing (failed, or not run when it was stopped):
/// retry runs only those; a failure may be the endpoint's, which `doctor` checks. The commands
/// name the same `--home` ([`paste`]); `endpoint_flags`: this cast named its provider, base URL or model
/// by flag, which the commands need again (their values are not repeated: a URL may hold a key).
fn what_next(report: &ReadingReport, endpoint_flags: bool) -> Option<String> {
    let id = report.id?;
    let total = report.sections.len();
    let missing = total.saturating_sub(report.sections_done());
    if missing == 0 {
        return None;
    }
    let failed = report
        .sections
        .iter()
        .any(|s| s.status == SectionStatus::Failed);
    let doctor = if failed {
        "; `iching doctor` checks the endpoint and the key"
    } else {
        ""
    };
    let same = match (endpoint_flags, failed) {
        (false, _) => "",
        (true, false) => " (with this cast's provider flags)",
        (true, true) => " (both with this cast's provider flags)",
    };
    Some(format!(
        "{missing} of {total} sections missing: `iching retry {id}` runs only those{doctor}{same}."
    ))
}

/// The closing line of `cast`'s text: where the reading is kept and how to cast it again.
fn saved_as(report: &ReadingReport) -> String {
    let kept = report.id.map_or_else(
        || "Not saved".to_owned(),
        |id| format!("Saved as reading {id} (`iching show {id}`)"),
    );
    let again = match report.seed {
        Some(seed) => format!(
            "{} cast, seed {seed} (`--method {} --seed {seed}` casts it again)",
            report.method, report.method
        ),
        None => format!(
            "{} cast, lines {}",
            report.method,
            report.lines.map(|v| v.to_string()).join(",")
        ),
    };
    format!("\n{kept}; {again}.")
}

/// A token cancelled by the first Ctrl-C.
pub(super) fn cancel_on_ctrl_c() -> CancellationToken {
    let cancel = CancellationToken::new();
    let on_ctrl_c = cancel.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            on_ctrl_c.cancel();
            eprintln!(
                "stopping: in-flight sections are being cancelled (Ctrl-C again to quit now)"
            );
            // A second Ctrl-C quits at once; what was committed stays committed.
            if tokio::signal::ctrl_c().await.is_ok() {
                std::process::exit(130);
            }
        }
    });
    cancel
}

/// How often a wait with nothing to show is told.
const QUIET_EVERY: Duration = Duration::from_secs(10);

/// Prints a progress line on stderr for each section as its events arrive; while nothing
/// arrives, one line every ten seconds says how long it has waited and how many are queued; a
/// server loading its model is told once.
pub(super) async fn show_progress(mut rx: mpsc::UnboundedReceiver<SectionEvent>, planned: usize) {
    let colour = stderr_colour();
    let mut finished = 0;
    let mut queued: HashSet<Section> = HashSet::new();
    let mut loading_told = false;
    let mut last = Instant::now();
    // The next quiet time to be told of, since the last event.
    let mut tell_at = QUIET_EVERY;
    let mut quiet = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            event = rx.recv() => {
                let Some(event) = event else { break };
                match &event.kind {
                    EventKind::Queued | EventKind::Held(Hold::Capacity { .. }) => {
                        queued.insert(event.section);
                    }
                    EventKind::Started | EventKind::Finished(_) | EventKind::Failed(_) => {
                        queued.remove(&event.section);
                    }
                    EventKind::Delta(_) => {
                        loading_told = false;
                        last = Instant::now();
                        tell_at = QUIET_EVERY;
                        continue;
                    }
                    EventKind::Held(Hold::Loading { .. }) => {
                        if !loading_told {
                            loading_told = true;
                            eprintln!("… the server is loading its model; waiting for it");
                        }
                        continue;
                    }
                    EventKind::Retrying { .. } | EventKind::Held(Hold::Requeued { .. }) => {
                        queued.insert(event.section);
                    }
                }
                last = Instant::now();
                tell_at = QUIET_EVERY;
                finished += progress_line(&event, finished, planned, colour);
            }
            _ = quiet.tick() => {
                if last.elapsed() >= tell_at {
                    eprintln!("{}", waiting_line(tell_at, planned - finished, queued.len()));
                    tell_at += QUIET_EVERY;
                }
            }
        }
    }
}

/// "waiting for the server: 30 s, 9 queued": a wait with nothing to show, in words.
fn waiting_line(waited: Duration, open: usize, queued: usize) -> String {
    let mut line = format!("… waiting for the server: {} s", waited.as_secs());
    let running = open.saturating_sub(queued);
    if running > 0 {
        line.push_str(&format!(", {running} in flight"));
    }
    if queued > 0 {
        line.push_str(&format!(", {queued} queued"));
    }
    line
}

/// Prints `report` on stdout in `format`.
pub(super) fn print(report: &ReadingReport, format: Format) -> Result<(), CliError> {
    let out = match format {
        Format::Text => report::to_text(report, text_width()),
        Format::Md => report::to_markdown_doc(report),
        Format::Html => report::to_html_page(report),
        Format::Json => super::json::to_json(report, "the reading")?,
    };
    emit(&out);
    Ok(())
}

/// 0 complete, 130 cancelled, 3 anything short of complete.
pub(super) fn exit_code(status: ReadingStatus) -> ExitCode {
    match status {
        ReadingStatus::Complete => ExitCode::SUCCESS,
        ReadingStatus::Cancelled => ExitCode::from(130),
        ReadingStatus::Partial
        | ReadingStatus::Failed
        | ReadingStatus::Running
        | ReadingStatus::Interrupted => ExitCode::from(3),
    }
}

/// Prints one line on stderr when a section finishes, fails or retries; returns 1 when the
/// section is finished for good.
fn progress_line(event: &SectionEvent, done_before: usize, planned: usize, colour: bool) -> usize {
    let (ok, fail, warn, reset) = if colour {
        use super::progress::ansi;
        use crossterm::style::{Color, ResetColor, SetForegroundColor};
        (
            ansi(SetForegroundColor(Color::DarkGreen)),
            ansi(SetForegroundColor(Color::DarkRed)),
            ansi(SetForegroundColor(Color::DarkYellow)),
            ansi(ResetColor),
        )
    } else {
        Default::default()
    };
    let title = event.section.title();
    let n = done_before + 1;
    match &event.kind {
        // The classic text spent no tokens: whose text it is, where a model's count would be.
        EventKind::Finished(d) if crate::service::is_classic_text(&d.model) => {
            eprintln!(
                "{ok}✓{reset} [{n:>2}/{planned}] {title:<20} {:>7} ms {}",
                d.latency.as_millis(),
                crate::service::CLASSIC_TEXT
            );
            1
        }
        EventKind::Finished(d) => {
            eprintln!(
                "{ok}✓{reset} [{n:>2}/{planned}] {title:<20} {:>7} ms {:>6} tokens ({})",
                d.latency.as_millis(),
                d.usage.total(),
                d.usage.source.as_str()
            );
            1
        }
        EventKind::Failed(f) => {
            eprintln!(
                "{fail}✗{reset} [{n:>2}/{planned}] {title:<20} {}",
                paste(&crate::answer::sanitize_inline(&f.error))
            );
            1
        }
        EventKind::Retrying {
            attempt,
            wait,
            reason,
        } => {
            eprintln!(
                "{warn}↻{reset}         {title:<20} attempt {attempt} in {:.1} s ({})",
                wait.as_secs_f64(),
                paste(&crate::answer::sanitize_inline(reason))
            );
            0
        }
        EventKind::Held(Hold::Requeued { limit, reason }) => {
            eprintln!(
                "{warn}↺{reset}         {title:<20} queued again, no attempt spent ({}); {} now",
                paste(&crate::answer::sanitize_inline(reason)),
                crate::events::serves(*limit)
            );
            0
        }
        EventKind::Queued
        | EventKind::Started
        | EventKind::Delta(_)
        | EventKind::Held(Hold::Capacity { .. } | Hold::Loading { .. }) => 0,
    }
}

/// The width to wrap text at: `COLUMNS` when set, else 80, never over 100.
pub(super) fn text_width() -> usize {
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse::<usize>().ok())
        .unwrap_or(80)
        .clamp(40, 100)
}
