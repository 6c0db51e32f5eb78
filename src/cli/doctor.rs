//! `iching models` lists what the endpoint offers; `iching doctor` checks the configured endpoint
//! step by step (reachable, key accepted, model offered, one tiny streamed request, which fields
//! it takes, how many requests it serves at once) and says how to fix each failure.

use std::path::Path;
use std::process::ExitCode;

use clap::Args;

use super::{CliError, EndpointArgs, emit, setup};
use crate::service::doctor::{diagnose, list_models};

/// Arguments of `models`.
#[derive(Debug, Args)]
pub struct ModelsArgs {
    #[command(flatten)]
    endpoint: EndpointArgs,
    /// Print JSON: {"provider", "endpoint", "models": [...]}.
    #[arg(long)]
    json: bool,
}

/// Arguments of `doctor`.
#[derive(Debug, Args)]
pub struct DoctorArgs {
    #[command(flatten)]
    endpoint: EndpointArgs,
    /// Print one JSON object: {"ok", "checks": [{"check", "ok", "detail", "fix"}], "learned"}
    /// ("learned": what is remembered of the endpoint: how many it serves at once, the fields
    /// each model takes).
    #[arg(long)]
    json: bool,
}

/// Runs `models`.
pub async fn models(home: Option<&Path>, args: ModelsArgs) -> Result<ExitCode, CliError> {
    let ctx = setup(home, &args.endpoint)?;
    let (endpoint, models) = list_models(&ctx).await?;
    if args.json {
        let v = serde_json::json!({
            "provider": ctx.settings.preset,
            "endpoint": endpoint,
            "models": models,
        });
        emit(&v.to_string());
    } else if models.is_empty() {
        emit(&format!("{endpoint} lists no models"));
    } else {
        for m in &models {
            let mark = if *m == ctx.settings.model {
                "  (in use)"
            } else {
                ""
            };
            emit(&format!("{m}{mark}"));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs `doctor`: exit 0 when a reading would work, 1 otherwise.
pub async fn doctor(home: Option<&Path>, args: DoctorArgs) -> Result<ExitCode, CliError> {
    let o = crate::service::Overrides {
        pasted_keys: crate::service::pasted_keys_at(home),
        ..args.endpoint.overrides(None)
    };
    let (checks, learned) = diagnose(home, o).await?;
    let ok = checks.iter().all(|c| c.ok);
    if args.json {
        let v = serde_json::json!({ "ok": ok, "checks": checks, "learned": learned });
        emit(&v.to_string());
    } else {
        let colour = super::stderr_colour() && std::io::IsTerminal::is_terminal(&std::io::stdout());
        for c in &checks {
            let sign = if c.ok { "✓" } else { "✗" };
            let mark = if colour {
                use crossterm::style::Stylize;
                let styled = if c.ok {
                    sign.dark_green()
                } else {
                    sign.dark_red()
                };
                styled.to_string()
            } else {
                sign.to_owned()
            };
            emit(&format!("{mark} {:<13} {}", c.check, c.detail));
            if let Some(fix) = &c.fix {
                let fix = super::hint::paste(fix);
                emit(&format!("  {:<13} fix: {fix}", ""));
            }
        }
        emit(if ok {
            "A reading would work."
        } else {
            "A reading would not work yet: see the fixes above."
        });
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
