//! Settings to a working engine: [`Setup`] resolves where files live and the settings (through
//! [`config::resolve`], the one resolution both front ends use), loads the instructions, and
//! builds the provider. How many requests an endpoint serves at once is the provider's to learn
//! (`llm::capacity`), unless the user said.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::config::{self, Dirs, Overrides, ProviderKind, Settings};
use crate::generate::Engine;
use crate::llm::capacity::Initial;
use crate::llm::memory::Memory;
use crate::llm::negotiate::Fields;
use crate::llm::offline::Paced;
use crate::llm::preset::{Hosting, Structured, TokenParam, preset};
use crate::llm::{Limiter, Offline, OpenAi, OpenAiConfig, Provider};
use crate::orchestrator::Slots;

use super::ServiceError;

/// Environment variable: milliseconds the offline provider waits between chunks in the terminal
/// app and in `batch` (opt-in), so the grid and the bar can be watched filling in without a
/// model.
pub const PACE_ENV: &str = "ICHING_OFFLINE_PACE_MS";

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
        let provider = build_provider(&dirs, &settings)?;
        let engine = Engine {
            provider,
            prompts,
            slots: match known_capacity(&settings) {
                Initial::Known(Some(n)) => Slots::Cap(n),
                Initial::Known(None) | Initial::Unknown => Slots::Unlimited,
            },
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

    /// With [`PACE_ENV`] set, the offline provider answers at that pace.
    pub fn paced(mut self) -> Self {
        pace(&mut self.engine);
        self
    }
}

/// With [`PACE_ENV`] set, `engine`'s offline provider answers at that pace.
pub(super) fn pace(engine: &mut Engine) {
    if let Some(ms) = std::env::var(PACE_ENV)
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .filter(|&ms| ms > 0)
        && engine.provider.info().kind == crate::llm::ProviderKind::Offline
    {
        engine.provider = Arc::new(Paced(Duration::from_millis(ms)));
    }
}

/// The provider the settings ask for, sharing one limiter (budgets and 429 pauses) across every
/// request of the process.
pub fn build_provider(dirs: &Dirs, settings: &Settings) -> Result<Arc<dyn Provider>, ServiceError> {
    match settings.provider {
        ProviderKind::Offline => Ok(Arc::new(Offline)),
        ProviderKind::OpenAi => {
            let limiter = Arc::new(Limiter::new(settings.rpm, settings.tpm));
            let provider = OpenAi::new(openai_config(dirs, settings), limiter)
                .map_err(ServiceError::Endpoint)?;
            Ok(Arc::new(provider))
        }
    }
}

/// How many requests the endpoint is known to serve at once: the user's number (flag,
/// config.toml, or a `[providers.NAME]` table), or no limit of its own for a hosted preset at its
/// own address; anything else is learned from the server.
pub fn known_capacity(settings: &Settings) -> Initial {
    let builtin = preset(&settings.preset);
    if settings.concurrency_explicit || (builtin.is_none() && settings.concurrency.is_some()) {
        return Initial::Known(settings.concurrency);
    }
    match builtin {
        Some(p) if settings.preset_url && p.hosting == Hosting::Hosted => Initial::Known(None),
        Some(_) | None => Initial::Unknown,
    }
}

/// The OpenAI-compatible provider's configuration from resolved settings: a preset's own URL
/// starts from the preset's choices; any other URL starts from what every server understands
/// (`max_tokens`) with a strict schema, and the first request finds out what it accepts. What is
/// learned is kept in the data folder.
pub fn openai_config(dirs: &Dirs, settings: &Settings) -> OpenAiConfig {
    let start = match preset(&settings.preset).filter(|_| settings.preset_url) {
        Some(p) => Fields::new(p.token_param, p.structured),
        None => Fields::new(TokenParam::MaxTokens, Structured::JsonSchema),
    };
    let capacity = known_capacity(settings);
    let local = settings.hosting == Hosting::Local;
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
        capacity,
        probe_props: capacity == Initial::Unknown || local,
        // The preset's way to start its server, wherever it was pointed.
        start_hint: preset(&settings.preset)
            .and_then(|p| p.start_hint)
            .map(str::to_owned),
        memory: Some(Arc::new(Memory::in_dir(&dirs.data))),
    }
}
