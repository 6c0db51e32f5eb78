//! The `iching` binary: parse the arguments, install the error and panic reporting, dispatch.

use std::io::Write as _;
use std::process::ExitCode;

use clap::Parser;
use iching::cli::Cli;

fn main() -> ExitCode {
    // A panic says what it is before Rust's own report; the TUI adds terminal restoring on top.
    install_crash_report();
    let cli = Cli::parse();
    // A typo'd --home is reported before anything (the log included) is created there; a command
    // that uses no data dir (`hexagram`) neither checks it nor logs there.
    if cli.uses_home() {
        let checked =
            iching::service::check_home(cli.home.as_deref(), cli.access()).and_then(|()| {
                if cli.reads_a_store() {
                    iching::service::check_home_holds_store(cli.home.as_deref())
                } else {
                    Ok(())
                }
            });
        if let Err(e) = checked {
            let _ = writeln!(std::io::stderr(), "error: {e}");
            return ExitCode::from(2);
        }
        if let Ok(dirs) = iching::config::Dirs::resolve(cli.home.as_deref()) {
            iching::logging::init(&dirs.data, cli.verbose);
        }
    }
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        command = command_name(&cli),
        "start"
    );
    let outcome = iching::run(cli);
    match outcome {
        Ok(code) => code,
        Err(e) => {
            tracing::warn!(code = e.code, "command failed");
            let _ = writeln!(std::io::stderr(), "error: {}", e.message);
            ExitCode::from(e.code)
        }
    }
}

/// Prefixes Rust's panic report with what it means for the user: a bug, and nothing saved is lost
/// (every section is committed the moment it finishes).
fn install_crash_report() {
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        // Never a second panic: a closed stderr takes the words, not the process.
        let _ = writeln!(
            std::io::stderr(),
            "\niching stopped on an internal error, a bug: please report it with the lines below. Readings saved so far are kept."
        );
        report(info);
    }));
}

/// The subcommand's name, for the log.
fn command_name(cli: &Cli) -> &'static str {
    use iching::cli::Command;
    match &cli.command {
        None => "tui",
        Some(Command::Cast(_)) => "cast",
        Some(Command::History(_)) => "history",
        Some(Command::Show(_)) => "show",
        Some(Command::Export(_)) => "export",
        Some(Command::Completions(_)) => "completions",
        Some(Command::Manpage) => "manpage",
        Some(Command::Stats(_)) => "stats",
        Some(Command::Retry(_)) => "retry",
        Some(Command::Delete(_)) => "delete",
        Some(Command::Batch(_)) => "batch",
        Some(Command::Bench(_)) => "bench",
        Some(Command::Models(_)) => "models",
        Some(Command::Doctor(_)) => "doctor",
        Some(Command::Verify(_)) => "verify",
        Some(Command::Backup(_)) => "backup",
        Some(Command::Restore(_)) => "restore",
        Some(Command::Sync(_)) => "sync",
        Some(Command::Key(_)) => "key",
        Some(Command::Note(_)) => "note",
        Some(Command::Notes(_)) => "notes",
        Some(Command::Ask(_)) => "ask",
        Some(Command::Passphrase(_)) => "passphrase",
        Some(Command::Hexagram(_)) => "hexagram",
    }
}
