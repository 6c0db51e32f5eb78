//! The endpoint checks behind `iching doctor` and the terminal app's provider picker: reachable,
//! key accepted, model offered, one tiny streamed request through the same code as a reading's,
//! which fields it takes, how many requests it serves at once; and the models it lists.

use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;

use super::ServiceError;
use super::setup::{Setup, openai_config};
use crate::config::ProviderKind;
use crate::events::Progress;
use crate::llm::{ErrorKind, Limiter, OpenAi, OpenAiConfig, Provider, SectionRequest};
use crate::oracle::{Cast, LineValue, Reading};
use crate::plan::{ChatMessage, Section};

/// One check's outcome.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    /// What was checked: "provider", "reachable", "key", "model", "request", "fields", "at once".
    pub check: &'static str,
    /// Whether it passed.
    pub ok: bool,
    /// What was found.
    pub detail: String,
    /// What to do about a failure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

/// The provider to check with: one attempt per request, so a failure shows at once.
fn checker(ctx: &Setup) -> Result<OpenAi, ServiceError> {
    OpenAi::new(
        OpenAiConfig {
            max_attempts: 1,
            ..openai_config(&ctx.settings)
        },
        Arc::new(Limiter::new(None, None)),
    )
    .map_err(|e| ServiceError::Usage(e.message))
}

/// The models `ctx`'s endpoint lists, and the endpoint (without credentials).
pub async fn list_models(ctx: &Setup) -> Result<(String, Vec<String>), ServiceError> {
    if ctx.settings.provider == ProviderKind::Offline {
        return Ok((String::new(), vec![crate::llm::offline::MODEL.to_owned()]));
    }
    let provider = checker(ctx)?;
    let models = provider
        .models()
        .await
        .map_err(|e| ServiceError::Provider(format!("cannot list the models: {}", e.message)))?;
    Ok((provider.info().endpoint, models))
}

/// Every check of the endpoint the settings (flags `o` over the environment over config.toml)
/// choose. A missing key is the first failed check, not an error.
pub async fn diagnose(
    home: Option<&std::path::Path>,
    o: crate::config::Overrides,
) -> Result<Vec<Check>, ServiceError> {
    if let Err(crate::config::ConfigError::MissingKey { provider, var }) =
        crate::config::resolve(home, o.clone())
    {
        Ok(vec![Check {
            check: "key",
            ok: false,
            detail: format!("the {provider} provider needs an API key and {var} is not set"),
            fix: Some(format!(
                "export {var}=... (the key from {provider}'s console), or choose another provider with --provider"
            )),
        }])
    } else {
        let mut setup = Setup::resolve(home, o)?;
        checks(&mut setup).await
    }
}

/// Every check of the endpoint `ctx` is set up for, in order (the terminal app runs the same).
pub async fn checks(ctx: &mut Setup) -> Result<Vec<Check>, ServiceError> {
    let mut checks = Vec::new();
    let s = &ctx.settings;
    checks.push(Check {
        check: "provider",
        ok: true,
        detail: if s.provider == ProviderKind::Offline {
            "offline: the classic text answers, no endpoint is used".to_owned()
        } else {
            format!(
                "{} at {}, model {}{}",
                s.preset,
                crate::llm::redact::redacted_url(&s.base_url),
                s.model,
                match (&s.key_env, s.api_key.is_empty()) {
                    (_, false) => " (key set)".to_owned(),
                    (Some(var), true) => format!(" (no key: {var} is not set)"),
                    (None, true) => " (no key)".to_owned(),
                }
            )
        },
        fix: None,
    });
    if s.provider == ProviderKind::OpenAi {
        run_checks(ctx, &mut checks).await?;
    }
    Ok(checks)
}

async fn run_checks(ctx: &mut Setup, checks: &mut Vec<Check>) -> Result<(), ServiceError> {
    let provider = checker(ctx)?;
    let endpoint = provider.info().endpoint;
    let started = Instant::now();
    let listed = provider.models().await;
    let took = started.elapsed().as_millis();
    match &listed {
        Ok(models) => {
            checks.push(Check {
                check: "reachable",
                ok: true,
                detail: format!("{endpoint} answered GET /models in {took} ms"),
                fix: None,
            });
            checks.push(Check {
                check: "key",
                ok: true,
                detail: "accepted".to_owned(),
                fix: None,
            });
            let model = &ctx.settings.model;
            let offered = models.is_empty() || models.iter().any(|m| m == model);
            checks.push(Check {
                check: "model",
                ok: offered,
                detail: if models.is_empty() {
                    format!("{model} (the endpoint lists no models to check against)")
                } else if offered {
                    format!("{model} is offered ({} models in all)", models.len())
                } else {
                    format!("{model} is not among the {} models offered", models.len())
                },
                fix: (!offered).then(|| {
                    let some: Vec<&str> = models.iter().take(5).map(String::as_str).collect();
                    format!(
                        "pick one with --model (or model = \"...\" in config.toml): {}{}",
                        some.join(", "),
                        if models.len() > 5 {
                            ", ... (iching models lists all)"
                        } else {
                            ""
                        }
                    )
                }),
            });
        }
        Err(e) => {
            let (check, fix) = match e.kind {
                ErrorKind::Connect | ErrorKind::Timeout => (
                    "reachable",
                    if ctx.settings.hosting == crate::llm::preset::Hosting::Local {
                        "start the server, or give its address with --base-url".to_owned()
                    } else {
                        "check the network and the base URL (--base-url)".to_owned()
                    },
                ),
                ErrorKind::Unauthorized => (
                    "key",
                    format!(
                        "set {} to a valid key",
                        ctx.settings
                            .key_env
                            .as_deref()
                            .unwrap_or("the API key variable")
                    ),
                ),
                _ => (
                    "reachable",
                    "the endpoint does not list models; the request below says more".to_owned(),
                ),
            };
            checks.push(Check {
                check,
                ok: false,
                detail: e.message.clone(),
                fix: Some(fix),
            });
            if matches!(e.kind, ErrorKind::Connect | ErrorKind::Unauthorized) {
                return Ok(());
            }
        }
    }
    // One tiny streamed request, through the same code as a reading's.
    let seven =
        LineValue::new(7).ok_or_else(|| ServiceError::Provider("7 is a line value".into()))?;
    let reading = Arc::new(Reading::new(Cast::manual([seven; 6])));
    let message = |role: &str, content: &str| ChatMessage {
        role: role.to_owned(),
        content: content.to_owned(),
    };
    let request = SectionRequest::new(
        reading,
        Arc::new(crate::model::Query::new("doctor")),
        Section::OpeningStatements,
        vec![
            message(
                "system",
                "Answer with JSON only: an object whose one key, \"response\", holds a list of \
                 paragraphs, each a string of plain sentences.",
            ),
            message(
                "user",
                "Welcome a visitor who has come to consult the Book of Changes, in two warm \
                 sentences of your own.",
            ),
        ],
        ctx.settings.max_tokens,
    );
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let progress = Progress::new(tx, None, Section::OpeningStatements);
    let started = Instant::now();
    match provider.complete(&request, &progress).await {
        Ok(c) => checks.push(Check {
            check: "request",
            ok: true,
            detail: format!(
                "answered in {:.1} s, first token after {}, usage {}{}",
                started.elapsed().as_secs_f64(),
                c.ttft
                    .map_or("–".to_owned(), |t| format!("{:.1} s", t.as_secs_f64())),
                match c.usage.source {
                    crate::events::UsageSource::Reported => "reported",
                    crate::events::UsageSource::Estimated => "not reported (estimated)",
                },
                if c.usage.reasoning_tokens > 0 {
                    format!(", {} reasoning tokens", c.usage.reasoning_tokens)
                } else {
                    String::new()
                }
            ),
            fix: None,
        }),
        Err(e) => checks.push(Check {
            check: "request",
            ok: false,
            detail: e.message.clone(),
            fix: Some(match e.kind {
                // The provider says which way the budget went: reasoning, or text that ran on.
                ErrorKind::TooLong if e.message.contains("reasoning") => {
                    "raise max_tokens in config.toml, or lower reasoning_effort".to_owned()
                }
                ErrorKind::TooLong => "the model runs on without finishing: try structured = \"json_schema\" in config.toml, or a larger model".to_owned(),
                ErrorKind::Malformed
                    if provider.fields().structured == crate::llm::preset::Structured::JsonSchema =>
                {
                    "the model writes no usable text even under a strict schema: try a larger model".to_owned()
                }
                ErrorKind::Malformed => "the model does not answer in the format; try structured = \"json_schema\" in config.toml, or another model".to_owned(),
                ErrorKind::Unauthorized => format!(
                    "set {} to a valid key",
                    ctx.settings.key_env.as_deref().unwrap_or("the API key variable")
                ),
                ErrorKind::Timeout => "the server is slow: raise --first-token-timeout, or lower --concurrency".to_owned(),
                _ => "see the message; --verbose logs more to iching.log".to_owned(),
            }),
        }),
    }
    let fields = provider.fields();
    checks.push(Check {
        check: "fields",
        ok: true,
        detail: format!(
            "token limit as {}, structured output {}",
            fields.token_param.field(),
            fields.structured.as_str()
        ),
        fix: None,
    });
    let at_once = ctx.fit_to_server().await;
    checks.push(Check {
        check: "at once",
        ok: true,
        detail: match (at_once, ctx.settings.concurrency) {
            (Some(n), _) => format!("the server serves {n} request(s) at once; sections beyond that wait, shown as queued"),
            (None, Some(n)) => format!("{n} section(s) in flight at once (the setting)"),
            (None, None) => "every section of a reading at once".to_owned(),
        },
        fix: None,
    });
    Ok(())
}
