//! `iching completions SHELL` and `iching manpage`: what a package or a user installs beside the
//! binary, made from the same clap definitions `--help` shows, so they never drift.

use std::io::Write;
use std::process::ExitCode;

use clap::{Args, CommandFactory};
use clap_complete::Shell;

use super::{Cli, CliError};

/// Arguments of `completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell: bash, zsh, fish, elvish or powershell.
    #[arg(value_enum)]
    pub shell: Shell,
}

/// Prints the completion script for `shell` on stdout.
pub fn completions(args: &CompletionsArgs) -> Result<ExitCode, CliError> {
    let mut command = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(args.shell, &mut command, "iching", &mut out);
    write_out(&out)
}

/// Prints the manual page (roff) on stdout.
pub fn manpage() -> Result<ExitCode, CliError> {
    let mut out = Vec::new();
    clap_mangen::Man::new(Cli::command())
        .render(&mut out)
        .map_err(|e| CliError::other(format!("cannot make the manual page: {e}")))?;
    write_out(&title_first(&out))
}

/// The page with its `.TH` line first, as `man` and `file` expect a page to begin: the
/// string definitions clap_mangen puts before it (the apostrophe, `Aq`) follow it, before any
/// text uses them.
fn title_first(page: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(page);
    let lines: Vec<&str> = text.lines().collect();
    let Some(at) = lines.iter().position(|l| l.starts_with(".TH ")) else {
        return page.to_vec();
    };
    let mut out = String::with_capacity(text.len());
    for line in std::iter::once(lines[at])
        .chain(lines[..at].iter().copied())
        .chain(lines[at + 1..].iter().copied())
    {
        out.push_str(line);
        out.push('\n');
    }
    out.into_bytes()
}

/// `bytes` on stdout; a closed pipe (`| head`) is not an error.
fn write_out(bytes: &[u8]) -> Result<ExitCode, CliError> {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(ExitCode::SUCCESS),
        Err(e) => Err(CliError::other(format!("cannot write: {e}"))),
    }
}
