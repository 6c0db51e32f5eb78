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
use crate::llm::capacity::Source;
use crate::llm::negotiate::{Field, Known, Step, value};
use crate::llm::preset::Structured;
use crate::llm::{ErrorKind, Limiter, OpenAi, OpenAiConfig, Provider};
use crate::oracle::{Cast, LineValue, Reading};
use crate::plan::Section;

/// One check's outcome.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    /// What was checked: "provider", "reachable", "key", "model", "request", then one per
    /// optional field ("token limit", "response_format", "stream_options", "reasoning_effort"),
    /// "at once".
    pub check: &'static str,
    /// Whether it passed.
    pub ok: bool,
    /// What was found.
    pub detail: String,
    /// What to do about a failure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

/// The provider to check with: one attempt per request, so a failure shows at once; it shares
/// what is learned of the endpoint with a reading's.
pub fn checker(ctx: &Setup) -> Result<OpenAi, ServiceError> {
    OpenAi::new(
        OpenAiConfig {
            max_attempts: 1,
            ..openai_config(&ctx.dirs, &ctx.settings)
        },
        Arc::new(Limiter::new(None, None)),
    )
    .map_err(ServiceError::Endpoint)
}

/// The models `ctx`'s endpoint lists, and the endpoint (without credentials).
pub async fn list_models(ctx: &Setup) -> Result<(String, Vec<String>), ServiceError> {
    if ctx.settings.provider == ProviderKind::Offline {
        return Ok((String::new(), vec![crate::llm::offline::MODEL.to_owned()]));
    }
    let provider = checker(ctx)?;
    let models = provider.models().await.map_err(ServiceError::Models)?;
    Ok((provider.info().endpoint, models))
}

/// Every check of the endpoint the settings (flags `o` over the environment over config.toml)
/// choose, and what is remembered of it after them (`null` when nothing is). A missing key is
/// the first failed check, not an error.
pub async fn diagnose(
    home: Option<&std::path::Path>,
    o: crate::config::Overrides,
) -> Result<(Vec<Check>, serde_json::Value), ServiceError> {
    let (checks, setup) = checked(home, o).await?;
    let learned = match setup {
        Some(setup) if setup.settings.provider == ProviderKind::OpenAi => {
            checker(&setup)?.remembered()
        }
        Some(_) | None => serde_json::Value::Null,
    };
    Ok((checks, learned))
}

/// Every check of the endpoint the settings choose (flags `o` over the environment over
/// config.toml), as [`diagnose`] makes them: a missing key is the first failed check.
pub async fn checks_of(
    home: Option<&std::path::Path>,
    o: crate::config::Overrides,
) -> Result<Vec<Check>, ServiceError> {
    Ok(checked(home, o).await?.0)
}

/// The checks, and the settings they ran with (none when the key is missing).
async fn checked(
    home: Option<&std::path::Path>,
    o: crate::config::Overrides,
) -> Result<(Vec<Check>, Option<Setup>), ServiceError> {
    if let Err(crate::config::ConfigError::MissingKey { provider, var }) =
        crate::config::resolve(home, o.clone())
    {
        return Ok((
            vec![Check {
                check: "key",
                ok: false,
                detail: format!("the {provider} provider needs an API key and {var} is not set"),
                fix: Some(format!(
                    "export {var}=... (the key from {provider}'s console), paste one in the terminal app (F7, then p), or choose another provider with --provider"
                )),
            }],
            None,
        ));
    }
    let mut setup = Setup::resolve(home, o)?;
    let checks = checks(&mut setup).await?;
    Ok((checks, Some(setup)))
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
                            ", ... (`iching models` lists all)"
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
                // A refused connection says what is likely wrong, as a reading would.
                detail: if e.kind == ErrorKind::Connect {
                    provider.unreachable(&e.message)
                } else {
                    e.message.clone()
                },
                fix: Some(fix),
            });
            if matches!(e.kind, ErrorKind::Connect | ErrorKind::Unauthorized) {
                return Ok(());
            }
        }
    }
    // The first section of a reading, built as a reading builds it (the same instructions,
    // envelope, fields and streaming), through the same code.
    let reading = Arc::new(Reading::new(Cast::manual([LineValue::YOUNG_YANG; 6])));
    let query = Arc::new(crate::model::Query::new(
        "What should I keep in mind as I begin this work?",
    ));
    let request = ctx
        .engine
        .request(&reading, &query, Section::OpeningStatements);
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let progress = Progress::new(tx, None, Section::OpeningStatements);
    let started = Instant::now();
    let outcome = provider.complete(&request, &progress).await;
    let took = started.elapsed().as_secs_f64();
    let request_ok = outcome.is_ok();
    match outcome {
        Ok(c) => checks.push(Check {
            check: "request",
            ok: true,
            detail: format!(
                "a reading's first section ({} streamed) answered in {took:.1} s, first token \
                 after {}, usage {}{}",
                if ctx.settings.stream { "" } else { "not" },
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
            )
            .replace("( streamed)", "(streamed)"),
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
    capability_checks(ctx, &provider, request_ok, checks);
    let (limit, source) = provider.capacity().limit();
    checks.push(Check {
        check: "at once",
        ok: true,
        detail: match source {
            Source::Server => format!(
                "{}, by its own count (/props); sections beyond that wait, shown as queued",
                crate::events::serves(limit)
            ),
            Source::Setting if limit >= crate::llm::capacity::CEILING => {
                "every section of a reading at once".to_owned()
            }
            Source::Setting => format!("{limit} section(s) in flight at once (the setting)"),
            Source::Learned => format!(
                "{}, learned from how it behaved; fewer if it cuts streams, more as they succeed",
                crate::events::serves(limit)
            ),
            Source::Learning => "not known yet: a reading sends one request, then one more with \
                                 each answer that starts, fewer if the server cuts them"
                .to_owned(),
        },
        fix: None,
    });
    Ok(())
}

/// One line per optional request field: accepted, refused and stepped down (to what), or not
/// tried; a refusal's fix names the setting that skips the step.
fn capability_checks(ctx: &Setup, provider: &OpenAi, request_ok: bool, checks: &mut Vec<Check>) {
    let fields = provider.fields();
    let steps = provider.negotiation().steps();
    let accepted = request_ok || provider.negotiation().known() == Known::Accepted;
    for field in Field::ALL {
        let now = value(fields, field);
        let stepped: Vec<&Step> = steps.iter().filter(|s| s.field == field).collect();
        let not_sent = match field {
            Field::StreamOptions if !ctx.settings.stream => Some("not sent (streaming is off)"),
            Field::Reasoning if ctx.settings.reasoning_effort.is_none() => {
                Some("not sent (no reasoning_effort is set)")
            }
            Field::Structured
                if stepped.is_empty()
                    && ctx.settings.structured
                        == crate::llm::preset::Choice::Fixed(Structured::Off) =>
            {
                Some("not asked for (structured = \"off\")")
            }
            _ => None,
        };
        let verdict = if accepted {
            "accepted"
        } else {
            "not tried: the request failed first"
        };
        let detail = if let Some(why) = not_sent {
            why.to_owned()
        } else if stepped.is_empty() {
            format!("{now} {verdict}")
        } else {
            let mut words: Vec<String> = stepped
                .iter()
                .map(|s| {
                    format!(
                        "{} refused (HTTP {}: {}), stepped down to {}",
                        s.from, s.status, s.said, s.to
                    )
                })
                .collect();
            words.push(format!("{now} {verdict}"));
            words.join("; ")
        };
        let fix = (!stepped.is_empty()).then(|| match field {
            Field::TokenParam => format!(
                "nothing to do (learned and remembered); to skip the step, token_limit_param = \"{now}\" in config.toml"
            ),
            Field::Structured => format!(
                "nothing to do (learned and remembered); to skip the step, structured = \"{}\" in config.toml",
                fields.structured.as_str()
            ),
            Field::StreamOptions => {
                "nothing to do (learned and remembered): usage is counted here instead".to_owned()
            }
            Field::Reasoning => {
                "remove reasoning_effort from config.toml: this endpoint does not take it"
                    .to_owned()
            }
        });
        checks.push(Check {
            check: field.name(),
            ok: accepted || not_sent.is_some(),
            detail,
            fix,
        });
    }
}
