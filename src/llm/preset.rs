//! Provider presets: the endpoints people actually run, each with its base URL, the environment
//! variable its key comes from, a default model, the token-limit parameter and structured-output
//! mode it understands, and its deadlines and concurrency. Pure data, no IO.
//!
//! Hosted presets reach an OpenAI-compatible endpoint of a provider and need a key; local presets
//! name a server on this machine at its default port and need none. A `[providers.NAME]` table in
//! config.toml adds more (see `config::CustomProvider`).

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// Which request field carries the answer's token limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenParam {
    /// `max_tokens`: understood by every local server and most hosted ones.
    MaxTokens,
    /// `max_completion_tokens`: what OpenAI's current (reasoning) models require.
    MaxCompletionTokens,
}

impl TokenParam {
    /// The JSON field name.
    pub fn field(self) -> &'static str {
        match self {
            TokenParam::MaxTokens => "max_tokens",
            TokenParam::MaxCompletionTokens => "max_completion_tokens",
        }
    }

    /// The other one, to try after a 400 that names this one as unsupported.
    pub fn other(self) -> Self {
        match self {
            TokenParam::MaxTokens => TokenParam::MaxCompletionTokens,
            TokenParam::MaxCompletionTokens => TokenParam::MaxTokens,
        }
    }
}

/// How the answer's shape is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Structured {
    /// A strict JSON schema for `{"response": [string, ...]}` (constrained decoding).
    JsonSchema,
    /// `response_format: {"type": "json_object"}`.
    JsonObject,
    /// Nothing: the prompt alone asks for the format.
    Off,
}

impl Structured {
    /// The config-file spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Structured::JsonSchema => "json_schema",
            Structured::JsonObject => "json_object",
            Structured::Off => "off",
        }
    }

    /// The next mode down after a 400 that names `response_format`.
    pub fn step_down(self) -> Self {
        match self {
            Structured::JsonSchema => Structured::JsonObject,
            Structured::JsonObject | Structured::Off => Structured::Off,
        }
    }
}

/// A setting that is either fixed by the user or left to the preset and what the endpoint says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice<T> {
    /// Start from the preset's choice; step over on a 400 that names the field, once per process.
    Auto,
    /// Always this.
    Fixed(T),
}

/// `token_limit_param = "auto" | "max_tokens" | "max_completion_tokens"`.
impl FromStr for Choice<TokenParam> {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "auto" => Ok(Choice::Auto),
            "max_tokens" => Ok(Choice::Fixed(TokenParam::MaxTokens)),
            "max_completion_tokens" => Ok(Choice::Fixed(TokenParam::MaxCompletionTokens)),
            other => Err(format!(
                "token_limit_param {other:?} is not one of auto, max_tokens, max_completion_tokens"
            )),
        }
    }
}

/// `structured = "auto" | "json_schema" | "json_object" | "off"`.
impl FromStr for Choice<Structured> {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "auto" => Ok(Choice::Auto),
            "json_schema" => Ok(Choice::Fixed(Structured::JsonSchema)),
            "json_object" => Ok(Choice::Fixed(Structured::JsonObject)),
            "off" => Ok(Choice::Fixed(Structured::Off)),
            other => Err(format!(
                "structured {other:?} is not one of auto, json_schema, json_object, off"
            )),
        }
    }
}

/// Where a preset's server runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hosting {
    /// A provider's service: needs a key; shorter deadlines.
    Hosted,
    /// A server on this machine: no key; it may queue requests and decode slowly.
    Local,
}

impl Hosting {
    /// The whole-attempt deadline: generous for local servers that decode a few tokens a second.
    pub fn request_timeout(self) -> Duration {
        match self {
            Hosting::Hosted => Duration::from_secs(180),
            Hosting::Local => Duration::from_secs(1800),
        }
    }

    /// How long an attempt may wait for its first token: a local server with one slot queues
    /// the other sections, and evaluating a long prompt on a CPU takes a while.
    pub fn first_token_timeout(self) -> Duration {
        match self {
            Hosting::Hosted => Duration::from_secs(60),
            Hosting::Local => Duration::from_secs(300),
        }
    }
}

/// One built-in endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Preset {
    /// What `--provider` takes.
    pub name: &'static str,
    /// For the README table and `--help`.
    pub label: &'static str,
    /// The OpenAI-compatible base URL.
    pub base_url: &'static str,
    /// The environment variable the key comes from (`None`: no key).
    pub key_env: Option<&'static str>,
    /// The model used when none is given.
    pub model: &'static str,
    /// What `token_limit_param = "auto"` starts with.
    pub token_param: TokenParam,
    /// What `structured = "auto"` starts with.
    pub structured: Structured,
    /// Hosted or local.
    pub hosting: Hosting,
    /// Sections in flight at once by default (`None`: every section of a reading).
    pub concurrency: Option<usize>,
    /// How to start the server when nothing listens at its address (local presets).
    pub start_hint: Option<&'static str>,
    /// What the terminal app says to do when nothing listens at a local preset's address,
    /// after "nothing at HOST:PORT: " (no backticks: it is shown as it is).
    pub start_first: Option<&'static str>,
}

/// The built-in presets, `offline` aside.
pub const PRESETS: &[Preset] = &[
    Preset {
        name: "openai",
        label: "OpenAI",
        base_url: "https://api.openai.com/v1",
        key_env: Some("OPENAI_API_KEY"),
        model: "gpt-5-mini",
        token_param: TokenParam::MaxCompletionTokens,
        structured: Structured::JsonSchema,
        hosting: Hosting::Hosted,
        concurrency: None,
        start_hint: None,
        start_first: None,
    },
    Preset {
        name: "openrouter",
        label: "OpenRouter",
        base_url: "https://openrouter.ai/api/v1",
        key_env: Some("OPENROUTER_API_KEY"),
        model: "openai/gpt-4.1-mini",
        token_param: TokenParam::MaxTokens,
        structured: Structured::JsonSchema,
        hosting: Hosting::Hosted,
        concurrency: None,
        start_hint: None,
        start_first: None,
    },
    Preset {
        name: "groq",
        label: "Groq",
        base_url: "https://api.groq.com/openai/v1",
        key_env: Some("GROQ_API_KEY"),
        model: "llama-3.3-70b-versatile",
        token_param: TokenParam::MaxCompletionTokens,
        structured: Structured::JsonObject,
        hosting: Hosting::Hosted,
        concurrency: None,
        start_hint: None,
        start_first: None,
    },
    Preset {
        name: "gemini",
        label: "Google Gemini",
        base_url: "https://generativelanguage.googleapis.com/v1beta/openai",
        key_env: Some("GEMINI_API_KEY"),
        model: "gemini-2.5-flash",
        token_param: TokenParam::MaxTokens,
        structured: Structured::JsonSchema,
        hosting: Hosting::Hosted,
        concurrency: None,
        start_hint: None,
        start_first: None,
    },
    Preset {
        name: "anthropic",
        label: "Anthropic",
        base_url: "https://api.anthropic.com/v1",
        key_env: Some("ANTHROPIC_API_KEY"),
        model: "claude-haiku-4-5",
        token_param: TokenParam::MaxTokens,
        // Its compatibility layer ignores response_format; the prompt asks for the shape.
        structured: Structured::Off,
        hosting: Hosting::Hosted,
        concurrency: None,
        start_hint: None,
        start_first: None,
    },
    Preset {
        name: "ollama",
        label: "Ollama",
        base_url: "http://localhost:11434/v1",
        key_env: None,
        model: "llama3.2",
        token_param: TokenParam::MaxTokens,
        structured: Structured::JsonSchema,
        hosting: Hosting::Local,
        // Ollama serves OLLAMA_NUM_PARALLEL requests at once (4 by default with enough memory)
        // and queues the rest; queued sections wait here, shown as queued.
        concurrency: Some(4),
        start_hint: Some("is Ollama running? start it with `ollama serve`"),
        start_first: Some("start Ollama first (ollama serve)"),
    },
    Preset {
        name: "llamacpp",
        label: "llama.cpp server",
        base_url: "http://localhost:8080/v1",
        key_env: None,
        model: "default",
        token_param: TokenParam::MaxTokens,
        structured: Structured::JsonSchema,
        hosting: Hosting::Local,
        // Replaced by the server's own slot count from /props when it reports one.
        concurrency: Some(1),
        start_hint: Some(
            "is the llama.cpp server running? start it with `llama-server -m MODEL.gguf`",
        ),
        start_first: Some("start the llama.cpp server first (llama-server -m MODEL.gguf)"),
    },
    Preset {
        name: "lmstudio",
        label: "LM Studio",
        base_url: "http://localhost:1234/v1",
        key_env: None,
        model: "default",
        token_param: TokenParam::MaxTokens,
        structured: Structured::JsonSchema,
        hosting: Hosting::Local,
        concurrency: Some(1),
        start_hint: Some(
            "is LM Studio's server running? start it with `lms server start` (or in the app's Developer tab)",
        ),
        start_first: Some(
            "start LM Studio's server first (lms server start, or its Developer tab)",
        ),
    },
    Preset {
        name: "vllm",
        label: "vLLM",
        base_url: "http://localhost:8000/v1",
        key_env: None,
        model: "default",
        token_param: TokenParam::MaxTokens,
        structured: Structured::JsonSchema,
        hosting: Hosting::Local,
        // vLLM batches many requests at once.
        concurrency: None,
        start_hint: Some("is vLLM running? start it with `vllm serve MODEL`"),
        start_first: Some("start vLLM first (vllm serve MODEL)"),
    },
];

/// Whether `url` names a server on this machine or the local network (localhost, a loopback,
/// private or link-local address, a `.local` name).
pub fn is_local_url(url: &str) -> bool {
    let Ok(u) = reqwest::Url::parse(url) else {
        return false;
    };
    let Some(host) = u.host_str() else {
        return false;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    match host.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(ip)) => ip.is_loopback() || ip.is_private() || ip.is_link_local(),
        Ok(std::net::IpAddr::V6(ip)) => {
            ip.is_loopback() || ip.is_unique_local() || ip.is_unicast_link_local()
        }
        Err(_) => {
            let d = host.trim_end_matches('.').to_ascii_lowercase();
            #[allow(
                clippy::case_sensitive_file_extension_comparisons,
                reason = "a host name, lowercased above"
            )]
            let local = d == "localhost" || d.ends_with(".localhost") || d.ends_with(".local");
            local
        }
    }
}

/// The preset called `name`, if it is built in.
pub fn preset(name: &str) -> Option<&'static Preset> {
    PRESETS
        .iter()
        .find(|p| p.name.eq_ignore_ascii_case(name.trim()))
}

/// Every name `--provider` takes, for messages.
pub fn preset_names() -> String {
    let mut names: Vec<&str> = PRESETS.iter().map(|p| p.name).collect();
    names.push("offline");
    names.join(", ")
}

impl fmt::Display for Preset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preset_has_a_unique_name_and_a_parseable_url() {
        let mut names: Vec<&str> = PRESETS.iter().map(|p| p.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), PRESETS.len());
        for p in PRESETS {
            assert!(reqwest::Url::parse(p.base_url).is_ok(), "{}", p.name);
            assert_eq!(
                p.key_env.is_some(),
                p.hosting == Hosting::Hosted,
                "{}: hosted presets need a key, local ones none",
                p.name
            );
        }
        assert_eq!(preset("OpenAI").map(|p| p.name), Some("openai"));
        assert!(preset("offline").is_none());
    }

    #[test]
    fn local_urls_are_told_from_hosted_ones() {
        for url in [
            "http://localhost:11434/v1",
            "http://127.0.0.1:8089/v1",
            "http://192.168.1.20:8080/v1",
            "http://10.0.0.5/v1",
            "http://[::1]:8000/v1",
            "http://gpu-box.local:1234/v1",
        ] {
            assert!(is_local_url(url), "{url}");
        }
        for url in [
            "https://api.openai.com/v1",
            "http://8.8.8.8/v1",
            "not a url",
        ] {
            assert!(!is_local_url(url), "{url}");
        }
    }

    #[test]
    fn choices_parse_from_the_config_spelling() {
        assert_eq!("auto".parse::<Choice<TokenParam>>(), Ok(Choice::Auto));
        assert_eq!(
            "max_completion_tokens".parse::<Choice<TokenParam>>(),
            Ok(Choice::Fixed(TokenParam::MaxCompletionTokens))
        );
        assert!("max".parse::<Choice<TokenParam>>().is_err());
        assert_eq!(
            "json_schema".parse::<Choice<Structured>>(),
            Ok(Choice::Fixed(Structured::JsonSchema))
        );
        assert_eq!(Structured::JsonSchema.step_down(), Structured::JsonObject);
        assert_eq!(Structured::JsonObject.step_down(), Structured::Off);
        assert_eq!(
            TokenParam::MaxTokens.other().field(),
            "max_completion_tokens"
        );
    }
}
