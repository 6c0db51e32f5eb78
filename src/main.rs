//! The `iching` binary: parse the arguments, install the error and panic reporting, dispatch.

use std::io::Write as _;
use std::process::ExitCode;

use clap::Parser;
use iching::cli::Cli;

fn main() -> ExitCode {
    // A panic says what it is before Rust's own report; the TUI adds terminal restoring on top.
    install_crash_report();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return clap_says(&e),
    };
    // Every hint printed from here on names this run's home, so it can be pasted anywhere.
    iching::cli::hint::set(cli.home.as_deref());
    // A typo'd --home is reported before anything (the log included) is created there; a command
    // that uses no data dir (`hexagram`) neither checks it nor logs there.
    if cli.uses_home() {
        if let Err(e) = iching::service::check_home(cli.home.as_deref(), cli.access()) {
            let message = iching::cli::hint::paste(&e.to_string());
            let _ = writeln!(std::io::stderr(), "error: {message}");
            return ExitCode::from(2);
        }
        // A restore into a home with no store yet keeps what it makes there only if it
        // succeeds, so it starts no log there (it would be left behind when it is refused).
        if let Ok(dirs) = iching::config::Dirs::resolve(cli.home.as_deref())
            && (!cli.makes_its_home() || dirs.data.join(iching::service::DB_FILE).exists())
        {
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
            let message = iching::cli::hint::paste(&e.message);
            let _ = writeln!(std::io::stderr(), "error: {message}");
            ExitCode::from(e.code)
        }
    }
}

/// What clap has to say instead of running: help and the version on stdout, a refused command
/// line on stderr, as clap would print them but with no blanks at the ends of lines (its long
/// help pads the blank line before `[default: …]` and `[env: …]`), styled only on a terminal
/// that allows colour. A value's error may suggest a command (`use the number \`iching
/// history\` shows`): it carries the home the line gave, as every hint does.
fn clap_says(e: &clap::Error) -> ExitCode {
    use std::io::IsTerminal as _;
    let to_stderr = e.use_stderr();
    if to_stderr {
        let home = <Cli as clap::CommandFactory>::command()
            .ignore_errors(true)
            .try_get_matches()
            .ok()
            .and_then(|m| {
                m.try_get_one::<std::path::PathBuf>("home")
                    .ok()
                    .flatten()
                    .cloned()
            });
        iching::cli::hint::set(home.as_deref());
    }
    let styled = if to_stderr {
        iching::cli::stderr_colour()
    } else {
        std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
    };
    let rendered = e.render();
    let text = if styled {
        rendered.ansi().to_string()
    } else {
        rendered.to_string()
    };
    let text = iching::text::trim_line_ends(&text);
    // Help, too, sets its commands and names in quotation marks, as plain text does.
    let text = iching::cli::hint::paste(&text);
    let _ = if to_stderr {
        write!(std::io::stderr(), "{text}")
    } else {
        write!(std::io::stdout(), "{text}")
    };
    ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2))
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
