//! The `iching` binary: parse the arguments, install the error and panic reporting, dispatch.

use std::process::ExitCode;

use clap::{CommandFactory, Parser};
use iching::cli::{self, Cli};

fn main() -> ExitCode {
    // color-eyre's panic hook prints a readable report; the TUI adds terminal restoring on top.
    let _ = color_eyre::install();
    let cli = Cli::parse();
    if cli.command.is_none() {
        // The terminal app arrives with its own issue; until then the bare command explains itself.
        let _ = Cli::command().print_help();
        return ExitCode::SUCCESS;
    }
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
    match runtime.block_on(cli::dispatch(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", e.message);
            ExitCode::from(e.code)
        }
    }
}
