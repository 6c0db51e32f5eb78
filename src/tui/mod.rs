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

#[cfg(test)]
mod tests;

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use tokio::sync::mpsc;

use crate::cli::{CliError, Context, ProviderArgs, open_store};
use app::{App, Options, ProviderLine};

/// Environment variable: milliseconds the offline provider waits between chunks (opt-in), so the
/// grid can be watched filling in without a model.
pub const PACE_ENV: &str = "ICHING_OFFLINE_PACE_MS";

/// The provider flags, read from the environment only (the bare command takes no flags).
#[derive(Debug, Parser)]
struct EnvProvider {
    #[command(flatten)]
    provider: ProviderArgs,
}

/// With [`PACE_ENV`] set, the offline provider answers at that pace.
pub fn pace(engine: &mut crate::reading::Engine) {
    if let Some(ms) = std::env::var(PACE_ENV)
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .filter(|&ms| ms > 0)
        && engine.provider.info().name == "offline"
    {
        engine.provider = Arc::new(crate::llm::offline::Paced(Duration::from_millis(ms)));
    }
}

/// Every provider the picker offers: the presets, the user's tables, offline.
fn provider_names(config_file: &Path) -> Vec<String> {
    let mut names: Vec<String> = crate::llm::preset::PRESETS
        .iter()
        .map(|p| p.name.to_owned())
        .collect();
    if let Ok(file) = crate::config::FileConfig::load(config_file) {
        for custom in file.providers.into_keys() {
            if !names.contains(&custom) {
                names.push(custom);
            }
        }
    }
    names.push("offline".to_owned());
    names
}

/// Opens the terminal app and runs it until the user quits.
pub async fn run(home: Option<&Path>) -> Result<ExitCode, CliError> {
    use std::io::IsTerminal;
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        return Err(CliError::usage(
            "the terminal app needs a terminal; in scripts use `iching cast \"your question\"` \
             (see `iching --help`)",
        ));
    }
    let args = EnvProvider::try_parse_from(["iching"])
        .map_err(|e| CliError::usage(e.to_string()))?
        .provider;
    let mut ctx = Context::new(home, &args)?;
    ctx.fit_to_server().await;
    let mut engine = ctx.engine.clone();
    pace(&mut engine);
    // The tokenizer's tables take a moment to load: load them now, off the UI thread, so the
    // first streamed text does not stall a frame.
    tokio::task::spawn_blocking(|| crate::llm::tokens::count("warm up"));
    let info = engine.provider.info();
    let size = crossterm::terminal::size().unwrap_or((80, 24));
    let mut app = App::new(Options {
        // The preset's name (ollama, groq, ...) says more than the protocol's.
        provider: ProviderLine {
            name: ctx.settings.preset.clone(),
            ..ProviderLine::new(&info, ctx.settings.offline_reason.clone())
        },
        seed: rand::random(),
        size,
        prices: ctx.settings.prices.clone(),
        colour: theme::Theme::colour_from_env(),
        providers: provider_names(&ctx.dirs.config_file()),
    });
    // The store opens before the terminal is taken, so its errors (and a passphrase prompt)
    // happen on the plain terminal.
    let store = open_store(&ctx.dirs.data)?;
    let (writer, writer_thread) = store
        .into_writer()
        .map_err(|e| CliError::other(e.to_string()))?;
    let export_dir = std::env::current_dir().unwrap_or_else(|_| ".".into());
    let (tx, rx) = mpsc::unbounded_channel();
    let mut runner = effects::Runner::new(
        engine,
        writer,
        ctx.settings.prices.clone(),
        export_dir,
        tx.clone(),
    )
    .with_home(home.map(Path::to_path_buf));

    let mut tui =
        terminal::enter().map_err(|e| CliError::other(format!("cannot open the terminal: {e}")))?;
    let result = event::run(&mut tui, &mut app, &mut runner, tx, rx).await;
    terminal::restore();
    // Sections still in flight are cancelled and their ends written before the store closes.
    runner.shutdown(Duration::from_secs(5)).await;
    let _ = tokio::task::spawn_blocking(move || writer_thread.join()).await;
    result.map_err(|e| CliError::other(format!("the terminal failed: {e}")))?;
    Ok(ExitCode::SUCCESS)
}
