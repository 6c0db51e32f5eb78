//! The `iching` binary: parse the arguments, install the error and panic reporting, dispatch.

use std::process::ExitCode;

use clap::Parser;
use iching::cli::{self, Cli};

fn main() -> ExitCode {
    // color-eyre's panic hook prints a readable report; the TUI adds terminal restoring on top.
    let _ = color_eyre::install();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let outcome = match cli.command {
        // No command: the terminal app.
        None => runtime.block_on(iching::tui::run(cli.home.as_deref())),
        Some(_) => runtime.block_on(cli::dispatch(cli)),
    };
    match outcome {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", e.message);
            ExitCode::from(e.code)
        }
    }
}
