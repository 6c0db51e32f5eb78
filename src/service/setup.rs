//! Settings to a working engine: [`Setup`] resolves where files live and the settings (through
//! [`config::resolve`], the one resolution both front ends use), loads the instructions, and
//! builds the provider; a local server that says how many requests it serves at once caps the
//! sections in flight ([`Setup::fit_to_server`]).

use std::path::Path;
use std::sync::Arc;

use crate::config::{self, Dirs, MAX_CONCURRENCY, Overrides, ProviderKind, Settings};
use crate::llm::negotiate::Fields;
use crate::llm::preset::{Hosting, Structured, TokenParam, preset};
use crate::llm::{Limiter, Offline, OpenAi, OpenAiConfig, Provider};
use crate::orchestrator::Slots;
use crate::reading::Engine;

use super::ServiceError;

/// The resolved world a reading runs in: files, settings, and the engine built from them.
#[derive(Clone)]
pub struct Setup {
    /// Where files live.
    pub dirs: Dirs,
    /// The settings, flags over environment over config.toml over the preset.
    pub settings: Settings,
    /// Who answers, with which instructions and how many at once.
    pub engine: Engine,
}

impl Setup {
    /// Resolves `home`, config.toml, the flags `o` and the environment, and builds the provider.
    pub fn resolve(home: Option<&Path>, o: Overrides) -> Result<Self, ServiceError> {
        let (dirs, settings) = config::resolve(home, o)?;
        let prompts = config::load_prompts(&dirs.config)?;
        let provider = build_provider(&settings)?;
        let engine = Engine {
            provider,
            prompts,
            slots: settings.concurrency.map_or(Slots::Unlimited, Slots::Cap),
            max_tokens: settings.max_tokens,
            deltas: true,
            warm_cache: settings.warm_cache,
            language: settings.language.clone(),
        };
        Ok(Self {
            dirs,
            settings,
            engine,
        })
    }

    /// A local server that says how many requests it serves at once (llama.cpp's `/props`
    /// `total_slots`) sets the cap on sections in flight, unless the user set one: more would
    /// only queue at the server, or be cut off there. Returns the cap it found.
    pub async fn fit_to_server(&mut self) -> Option<usize> {
        if self.settings.provider != ProviderKind::OpenAi
            || self.settings.concurrency_explicit
            || self.settings.hosting != Hosting::Local
        {
            return None;
        }
        let provider = OpenAi::new(
            openai_config(&self.settings),
            Arc::new(Limiter::new(None, None)),
        )
        .ok()?;
        let props = provider.server_json("/props").await?;
        let slots = props.get("total_slots")?.as_u64()?;
        let slots = usize::try_from(slots).ok()?.clamp(1, MAX_CONCURRENCY);
        tracing::info!(slots, "the server serves this many requests at once");
        self.settings.concurrency = Some(slots);
        self.engine.slots = Slots::Cap(slots);
        Some(slots)
    }
}

/// The provider the settings ask for, sharing one limiter (budgets and 429 pauses) across every
/// request of the process.
pub fn build_provider(settings: &Settings) -> Result<Arc<dyn Provider>, ServiceError> {
    match settings.provider {
        ProviderKind::Offline => Ok(Arc::new(Offline)),
        ProviderKind::OpenAi => {
            let limiter = Arc::new(Limiter::new(settings.rpm, settings.tpm));
            let provider = OpenAi::new(openai_config(settings), limiter)
                .map_err(|e| ServiceError::Usage(e.message))?;
            Ok(Arc::new(provider))
        }
    }
}

/// The OpenAI-compatible provider's configuration from resolved settings: a preset's own URL
/// starts from the preset's choices; any other URL starts from what every server understands
/// (`max_tokens`) with a strict schema, and the first request finds out what it accepts.
pub fn openai_config(settings: &Settings) -> OpenAiConfig {
    let start = match preset(&settings.preset).filter(|_| settings.preset_url) {
        Some(p) => Fields {
            token_param: p.token_param,
            structured: p.structured,
        },
        None => Fields {
            token_param: TokenParam::MaxTokens,
            structured: Structured::JsonSchema,
        },
    };
    OpenAiConfig {
        base_url: settings.base_url.clone(),
        api_key: settings.api_key.clone(),
        key_env: settings
            .key_env
            .clone()
            .or_else(|| (!settings.api_key.is_empty()).then(|| "OPENAI_API_KEY".to_owned())),
        model: settings.model.clone(),
        stream: settings.stream,
        token_param: settings.token_param,
        structured: settings.structured,
        start,
        guess: !settings.preset_url || preset(&settings.preset).is_none(),
        reasoning_effort: settings.reasoning_effort.clone(),
        read_timeout: settings.read_timeout,
        first_token_timeout: settings.first_token_timeout,
        request_timeout: settings.request_timeout,
        max_attempts: settings.max_attempts,
    }
}
