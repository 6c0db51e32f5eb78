//! The terminal app: `iching` with no command. Ask a question, watch the cast, watch every
//! section of the reading fill in at once on a live grid, read it, find it again in history.
//!
//! [`app`] holds the state and the one pure transition (`update(msg) -> effects`); [`event`] is
//! the loop that merges terminal input, background messages and a frame tick; [`effects`] runs
//! what the app asks for; [`screens`] draws; [`terminal`] owns the terminal and restores it on
//! every way out.

pub mod app;
pub mod effects;
pub mod event;
pub mod screens;
pub mod strings;
pub mod terminal;
pub mod theme;
pub mod view;

#[cfg(test)]
mod tests;

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::service::{Access, Service, ServiceError, TerminalStep};
use app::{App, Options, ProviderLine};

/// Opens the terminal app and runs it until the user quits.
pub async fn run(home: Option<&Path>) -> Result<ExitCode, ServiceError> {
    use std::io::IsTerminal;
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        return Err(ServiceError::NoTerminal);
    }
    // The store opens before the terminal is taken, so its errors (and a passphrase prompt)
    // happen on the plain terminal.
    let service = Service::open(home, Access::Browse, crate::passphrase::passphrase_prompt())?;
    let setup = service.configure_app()?;
    let info = setup.engine.provider.info();
    let size = crossterm::terminal::size().unwrap_or((80, 24));
    let mut app = App::new(Options {
        // The preset's name (ollama, groq, ...) says more than the protocol's.
        provider: ProviderLine {
            name: setup.settings.preset.clone(),
            ..ProviderLine::new(&info, setup.settings.offline_reason.clone())
        },
        seed: rand::random(),
        size,
        colour: theme::Theme::colour_from_env(),
        providers: service.provider_entries(),
        language: setup.settings.language.clone(),
        read_only: service.why_read_only().map(strings::msg::read_only),
    });
    for notice in service.notices() {
        app.say(notice.clone());
    }
    let export_dir = setup.dirs.exports(setup.settings.export_dir.as_deref());
    let (tx, rx) = mpsc::unbounded_channel();
    let mut runner = effects::Runner::new(service, export_dir, tx.clone());

    let mut tui = terminal::enter().map_err(|e| ServiceError::Terminal {
        step: TerminalStep::Open,
        error: e.into(),
    })?;
    let result = event::run(&mut tui, &mut app, &mut runner, tx, rx).await;
    terminal::restore();
    // Sections still in flight are cancelled and their ends written before the store closes.
    runner.shutdown(Duration::from_secs(5)).await;
    result.map_err(|e| ServiceError::Terminal {
        step: TerminalStep::Run,
        error: e.into(),
    })?;
    // Ctrl-C that stopped a reading exits as a cancelled `cast` does.
    Ok(if app.quit_cancelled {
        ExitCode::from(130)
    } else {
        ExitCode::SUCCESS
    })
}
