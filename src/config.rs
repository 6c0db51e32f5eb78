//! Settings, resolved flag > environment > config file > default, and where things live.
//!
//! The config file is `config.toml` in the config dir (or in `--home` / `$ICHING_HOME`). Prompt
//! overrides live beside it in `prompts/`. The API key is held as a [`Secret`], which never prints.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::plan::Prompts;

/// What can go wrong reading the configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The config file is not valid TOML of the expected shape.
    #[error("{path} is not a valid config file: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message.
        message: String,
    },
    /// No home directory could be found and none was given.
    #[error("cannot find a home directory for the data; pass --home DIR or set ICHING_HOME")]
    NoHome,
    /// A setting has a value that cannot work.
    #[error("{0}")]
    Invalid(String),
}

/// A secret string (an API key): its `Debug` and `Display` never show it.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps `s`.
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }
    /// The secret itself, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.0.trim().is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(**redacted**)")
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Secret)
    }
}

/// Price of a model, per million tokens, for cost figures.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
pub struct Price {
    /// Dollars per million prompt tokens.
    pub prompt_per_million: f64,
    /// Dollars per million completion tokens.
    pub completion_per_million: f64,
}

/// The price of `model`: an exact entry, else the longest entry the name starts with, so a
/// `[prices."gpt-4o-mini"]` entry also prices the dated `gpt-4o-mini-2024-07-18` a server reports.
pub fn price_for<'a>(prices: &'a BTreeMap<String, Price>, model: &str) -> Option<&'a Price> {
    prices.get(model).or_else(|| {
        prices
            .iter()
            .filter(|(name, _)| !name.is_empty() && model.starts_with(name.as_str()))
            .max_by_key(|(name, _)| name.len())
            .map(|(_, p)| p)
    })
}

/// `config.toml`, every key optional.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FileConfig {
    /// "openai" or "offline".
    pub provider: Option<String>,
    /// OpenAI-compatible base URL, e.g. `http://localhost:11434/v1`.
    pub base_url: Option<String>,
    /// Model name.
    pub model: Option<String>,
    /// API key (prefer `OPENAI_API_KEY`).
    pub api_key: Option<Secret>,
    /// Sections in flight at once.
    pub concurrency: Option<usize>,
    /// Seconds without a byte before a stream counts as stalled.
    pub read_timeout: Option<u64>,
    /// Attempts per section.
    pub max_attempts: Option<u32>,
    /// Stream answers (SSE).
    pub stream: Option<bool>,
    /// Ask for `response_format: {"type": "json_object"}`.
    pub json_mode: Option<bool>,
    /// `max_tokens` per section.
    pub max_tokens: Option<u32>,
    /// Requests per minute budget.
    pub rpm: Option<u32>,
    /// Tokens per minute budget.
    pub tpm: Option<u32>,
    /// Prices by model name.
    pub prices: BTreeMap<String, Price>,
}

/// Where the app keeps its files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dirs {
    /// Where the database, key file and logs go.
    pub data: PathBuf,
    /// Where `config.toml` and `prompts/` are read from.
    pub config: PathBuf,
}

impl Dirs {
    /// `home` (from `--home` or `ICHING_HOME`) for both, else the platform's dirs.
    pub fn resolve(home: Option<&Path>) -> Result<Self, ConfigError> {
        if let Some(home) = home.filter(|h| !h.as_os_str().is_empty()) {
            return Ok(Self {
                data: home.to_path_buf(),
                config: home.to_path_buf(),
            });
        }
        let dirs = directories::ProjectDirs::from("", "", "iching").ok_or(ConfigError::NoHome)?;
        Ok(Self {
            data: dirs.data_dir().to_path_buf(),
            config: dirs.config_dir().to_path_buf(),
        })
    }

    /// `config.toml`.
    pub fn config_file(&self) -> PathBuf {
        self.config.join("config.toml")
    }
}

impl FileConfig {
    /// Reads `path`; a missing file is an empty config.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        match std::fs::read_to_string(path) {
            Ok(text) => toml::from_str(&text).map_err(|e| ConfigError::Parse {
                path: path.to_path_buf(),
                message: e.message().to_owned(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(source) => Err(ConfigError::Read {
                path: path.to_path_buf(),
                source,
            }),
        }
    }
}

/// The embedded prompts with any overrides found under `config_dir/prompts/`.
pub fn load_prompts(config_dir: &Path) -> Result<Prompts, ConfigError> {
    let mut prompts = Prompts::default();
    for name in Prompts::override_names() {
        let path = config_dir.join("prompts").join(&name);
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                prompts.set_override(&name, text);
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(ConfigError::Read { path, source }),
        }
    }
    Ok(prompts)
}

/// Which provider answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderKind {
    /// The embedded classic.
    Offline,
    /// An OpenAI-compatible endpoint.
    OpenAi,
}

impl std::str::FromStr for ProviderKind {
    type Err = ConfigError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "offline" => Ok(Self::Offline),
            "openai" => Ok(Self::OpenAi),
            other => Err(ConfigError::Invalid(format!(
                "unknown provider {other:?}: use openai or offline"
            ))),
        }
    }
}

/// Settings given on the command line or in the environment (clap reads both); `None` = not given.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// --provider / ICHING_PROVIDER.
    pub provider: Option<String>,
    /// --base-url / OPENAI_BASE_URL.
    pub base_url: Option<String>,
    /// OPENAI_API_KEY.
    pub api_key: Option<Secret>,
    /// --model / ICHING_MODEL.
    pub model: Option<String>,
    /// --concurrency.
    pub concurrency: Option<usize>,
    /// --read-timeout SECONDS.
    pub read_timeout: Option<u64>,
    /// --max-attempts.
    pub max_attempts: Option<u32>,
    /// --stream / --no-stream.
    pub stream: Option<bool>,
    /// --rpm.
    pub rpm: Option<u32>,
    /// --tpm.
    pub tpm: Option<u32>,
}

/// Everything resolved.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Which provider.
    pub provider: ProviderKind,
    /// Why it is offline when nothing said so (shown once).
    pub offline_reason: Option<String>,
    /// Base URL without a trailing slash.
    pub base_url: String,
    /// API key (may be empty for local servers).
    pub api_key: Secret,
    /// Model name.
    pub model: String,
    /// Cap on sections in flight (`None`: every section of a reading at once).
    pub concurrency: Option<usize>,
    /// Stream inactivity timeout.
    pub read_timeout: Duration,
    /// Attempts per section.
    pub max_attempts: u32,
    /// SSE streaming.
    pub stream: bool,
    /// JSON mode.
    pub json_mode: bool,
    /// `max_tokens` per section.
    pub max_tokens: u32,
    /// Requests per minute budget.
    pub rpm: Option<u32>,
    /// Tokens per minute budget.
    pub tpm: Option<u32>,
    /// Prices by model.
    pub prices: BTreeMap<String, Price>,
}

/// The default OpenAI base URL.
pub const DEFAULT_BASE_URL: &str = "https://api.openai.com/v1";
/// The default model.
pub const DEFAULT_MODEL: &str = "gpt-4o-mini";

impl Settings {
    /// Resolves flag/env `o` over `file` over defaults.
    pub fn resolve(o: Overrides, file: FileConfig) -> Result<Self, ConfigError> {
        let base_url = o.base_url.clone().or(file.base_url.clone());
        let api_key = o
            .api_key
            .filter(|k| !k.is_empty())
            .or(file.api_key.filter(|k| !k.is_empty()));
        let explicit = o.provider.or(file.provider);
        let (provider, offline_reason) = match explicit {
            Some(p) => (p.parse()?, None),
            None if base_url.is_some() || api_key.is_some() => (ProviderKind::OpenAi, None),
            None => (
                ProviderKind::Offline,
                Some(
                    "No model is configured (no OPENAI_API_KEY or base URL): answering from the classic text, offline."
                        .to_owned(),
                ),
            ),
        };
        let concurrency = o.concurrency.or(file.concurrency);
        if concurrency == Some(0) {
            return Err(ConfigError::Invalid(
                "--concurrency must be at least 1".into(),
            ));
        }
        let max_attempts = o.max_attempts.or(file.max_attempts).unwrap_or(4);
        if max_attempts == 0 {
            return Err(ConfigError::Invalid(
                "--max-attempts must be at least 1".into(),
            ));
        }
        let read_timeout = o.read_timeout.or(file.read_timeout).unwrap_or(60);
        if read_timeout == 0 {
            return Err(ConfigError::Invalid(
                "--read-timeout must be at least 1 second".into(),
            ));
        }
        Ok(Self {
            provider,
            offline_reason,
            base_url: base_url
                .unwrap_or_else(|| DEFAULT_BASE_URL.to_owned())
                .trim_end_matches('/')
                .to_owned(),
            api_key: api_key.unwrap_or_default(),
            model: o
                .model
                .or(file.model)
                .unwrap_or_else(|| DEFAULT_MODEL.to_owned()),
            concurrency,
            read_timeout: Duration::from_secs(read_timeout),
            max_attempts,
            stream: o.stream.or(file.stream).unwrap_or(true),
            json_mode: file.json_mode.unwrap_or(false),
            max_tokens: file.max_tokens.unwrap_or(1200),
            rpm: o.rpm.or(file.rpm),
            tpm: o.tpm.or(file.tpm),
            prices: file.prices,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_beats_file_beats_default() {
        let file: FileConfig = toml::from_str(
            "model = \"from-file\"\nbase_url = \"http://file/v1/\"\nmax_attempts = 2\n",
        )
        .unwrap();
        let s = Settings::resolve(
            Overrides {
                model: Some("from-flag".into()),
                ..Overrides::default()
            },
            file,
        )
        .unwrap();
        assert_eq!(s.model, "from-flag");
        assert_eq!(s.base_url, "http://file/v1");
        assert_eq!(s.max_attempts, 2);
        assert_eq!(s.provider, ProviderKind::OpenAi, "a base URL means openai");
        assert_eq!(s.read_timeout, Duration::from_secs(60));
    }

    #[test]
    fn nothing_configured_means_offline_with_a_reason() {
        let s = Settings::resolve(Overrides::default(), FileConfig::default()).unwrap();
        assert_eq!(s.provider, ProviderKind::Offline);
        assert!(s.offline_reason.unwrap().contains("offline"));
        let s = Settings::resolve(
            Overrides {
                provider: Some("offline".into()),
                api_key: Some(Secret::new("sk-x")),
                ..Overrides::default()
            },
            FileConfig::default(),
        )
        .unwrap();
        assert_eq!(s.provider, ProviderKind::Offline);
        assert!(s.offline_reason.is_none());
    }

    #[test]
    fn bad_values_are_clear_errors() {
        let bad = |o: Overrides| {
            Settings::resolve(o, FileConfig::default())
                .unwrap_err()
                .to_string()
        };
        assert!(
            bad(Overrides {
                provider: Some("gpt".into()),
                ..Default::default()
            })
            .contains("openai or offline")
        );
        assert!(
            bad(Overrides {
                concurrency: Some(0),
                ..Default::default()
            })
            .contains("at least 1")
        );
        assert!(toml::from_str::<FileConfig>("colour = 3").is_err());
    }

    #[test]
    fn prompt_files_in_the_config_dir_override_the_embedded_ones() {
        use crate::plan::{PromptSet, Section};
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("prompts/unchanging")).unwrap();
        std::fs::write(
            dir.path().join("prompts/unchanging/conclusionText.md"),
            "Close in one line.",
        )
        .unwrap();
        std::fs::write(dir.path().join("prompts/system.md"), "Be kind.").unwrap();
        std::fs::write(dir.path().join("prompts/unchanging/unknown.md"), "ignored").unwrap();
        let prompts = load_prompts(dir.path()).unwrap();
        assert_eq!(prompts.system(), "Be kind.");
        assert_eq!(
            prompts.instruction(PromptSet::Unchanging, Section::ConclusionText),
            "Close in one line."
        );
        assert_ne!(
            prompts.instruction(PromptSet::Changing, Section::ConclusionText),
            "Close in one line."
        );
        // No prompts dir at all: the embedded set.
        let empty = tempfile::tempdir().unwrap();
        assert_eq!(
            load_prompts(empty.path()).unwrap().system(),
            crate::plan::Prompts::default().system()
        );
    }

    #[test]
    fn prices_match_exactly_or_by_the_longest_prefix() {
        let file: FileConfig = toml::from_str(
            "[prices.\"gpt-4o\"]\nprompt_per_million = 2.5\ncompletion_per_million = 10.0\n\
             [prices.\"gpt-4o-mini\"]\nprompt_per_million = 0.15\ncompletion_per_million = 0.6\n",
        )
        .unwrap();
        let p = |m| price_for(&file.prices, m).map(|p| p.prompt_per_million);
        assert_eq!(p("gpt-4o-mini"), Some(0.15));
        assert_eq!(p("gpt-4o-mini-2024-07-18"), Some(0.15));
        assert_eq!(p("gpt-4o-2024-08-06"), Some(2.5));
        assert_eq!(p("llama3.1"), None);
    }

    #[test]
    fn secrets_never_print() {
        let s = Secret::new("sk-very-secret");
        assert!(!format!("{s:?}").contains("very"));
        let file: FileConfig = toml::from_str("api_key = \"sk-very-secret\"").unwrap();
        assert!(!format!("{file:?}").contains("very"));
    }
}
