//! iching: I Ching readings in the terminal.
//!
//! A question is cast ([`oracle`]), planned as named sections ([`plan`]), and every section is
//! sent to a provider at once ([`orchestrator`], [`llm`]), each saved as it lands
//! ([`generate`], [`store`]); [`service`] is the one door the front ends ([`cli`], [`tui`]) go
//! through. The arrows run one way (`tests/layers.rs`): front ends -> service -> generate ->
//! orchestrator -> llm -> plan -> oracle; store -> crypto.
//!
//! ```
//! use iching::oracle::{Cast, Reading};
//! use iching::plan::plan;
//!
//! // A physical cast, bottom line first: 55 Feng changing to 31 Xian.
//! let reading = Reading::new(Cast::manual(Cast::parse_lines("9,8,7,7,6,8").unwrap()));
//! assert_eq!(reading.primary.number, 55);
//! assert_eq!(reading.resulting.map(|h| h.number), Some(31));
//! let ids: Vec<u8> = plan(&reading).iter().map(|s| s.id()).collect();
//! assert_eq!(ids, [1, 2, 3, 4, 8, 11, 12, 13, 14, 18]);
//! ```

// The store and the log rely on Unix file modes and process ids: say so rather than fail
// somewhere deep in the build.
#[cfg(not(unix))]
compile_error!("iching runs on Unix only (Linux, macOS, the BSDs)");

// What the program says on stderr: std's `eprintln!`/`eprint!` panic when stderr is closed
// (`iching cast ... 2>&1 | head -1`), which would stop a reading half-way. These shadow them
// for the whole crate (a macro defined here is in scope in every module below), so a closed
// stderr costs the message, never the work.
macro_rules! eprintln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}
macro_rules! eprint {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stderr(), $($arg)*);
    }};
}

pub mod answer;
pub mod book;
pub mod cli;
pub mod config;
pub mod crypto;
pub mod events;
pub mod generate;
pub mod llm;
pub mod logging;
pub mod model;
pub mod oracle;
pub mod orchestrator;
pub mod passphrase;
pub mod plan;
pub mod report;
pub mod search;
pub mod service;
pub mod store;
pub mod sync;
pub mod text;
pub mod tui;
pub mod when;

/// Runs a parsed command line on a new multi-threaded runtime: the terminal app ([`tui::run`])
/// when there is no command, else [`cli::dispatch`]. In the library rather than in `main.rs`: there,
/// a release build compiled the runtime and the top-level futures in the binary, after the library
/// and alone on the critical path (half a minute of a cold `cargo build --release`).
pub fn run(cli: cli::Cli) -> Result<std::process::ExitCode, cli::CliError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| cli::CliError {
            code: 1,
            message: format!("cannot start the async runtime: {e}"),
        })?;
    match cli.command {
        // No command: the terminal app.
        None => runtime
            .block_on(tui::run(cli.home.as_deref()))
            .map_err(cli::CliError::from),
        Some(_) => runtime.block_on(cli::dispatch(cli)),
    }
}
