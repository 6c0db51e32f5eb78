//! Settings, resolved flag > environment > config file > default, and where things live.
//!
//! The config file is `config.toml` in the config dir (or in `--home` / `$ICHING_HOME`). Prompt
//! overrides live beside it in `prompts/`. The API key is held as a [`Secret`], which never prints.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::llm::preset::{Choice, Hosting, Preset, Structured, TokenParam, preset, preset_names};
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
    /// A hosted provider was chosen without its key.
    #[error(
        "the {provider} provider needs an API key: set {var} (or choose another provider with --provider)"
    )]
    MissingKey {
        /// The preset.
        provider: String,
        /// The environment variable to set.
        var: String,
    },
}

pub use crate::model::{Price, Prices, Secret};

/// A `[providers.NAME]` table: an endpoint of the user's own, used with `--provider NAME`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CustomProvider {
    /// Its OpenAI-compatible base URL (required).
    pub base_url: Option<String>,
    /// The environment variable its key comes from (none: no key, a local server).
    pub api_key_env: Option<String>,
    /// Its default model.
    pub model: Option<String>,
    /// `auto`, `max_tokens` or `max_completion_tokens`.
    pub token_limit_param: Option<String>,
    /// `auto`, `json_schema`, `json_object` or `off`.
    pub structured: Option<String>,
    /// Sections in flight at once.
    pub concurrency: Option<usize>,
    /// Seconds one attempt may take in all.
    pub request_timeout: Option<u64>,
}

/// `config.toml`, every key optional.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FileConfig {
    /// A preset (`openai`, `ollama`, ...), `offline`, or the name of a `[providers.NAME]` table.
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
    /// `auto`, `max_tokens` or `max_completion_tokens`.
    pub token_limit_param: Option<String>,
    /// `auto`, `json_schema`, `json_object` or `off`.
    pub structured: Option<String>,
    /// Sent as `reasoning_effort` when set (e.g. `low`).
    pub reasoning_effort: Option<String>,
    /// The language sections are written in (e.g. `Spanish`); unset: the question's own.
    pub language: Option<String>,
    /// Seconds an attempt may wait for its first token.
    pub first_token_timeout: Option<u64>,
    /// Seconds one attempt may take in all.
    pub request_timeout: Option<u64>,
    /// Send one section first and the rest once its first token arrives, so the provider has
    /// the shared prompt prefix cached.
    pub warm_cache: Option<bool>,
    /// Prices by model name.
    pub prices: Prices,
    /// Endpoints of the user's own, by name.
    pub providers: BTreeMap<String, CustomProvider>,
    /// The folder the terminal app's exports (`m`, `w`) go to; `~/` is the home folder.
    /// Unset: the user's documents folder, else the data dir.
    pub export_dir: Option<PathBuf>,
}

/// The config file's name in the config dir.
pub const CONFIG_FILE: &str = "config.toml";

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

    /// [`CONFIG_FILE`] in the config dir.
    pub fn config_file(&self) -> PathBuf {
        self.config.join(CONFIG_FILE)
    }

    /// Where exports go: `configured` (`export_dir` in config.toml, `~/` meaning the home
    /// folder), else the user's documents folder (`XDG_DOCUMENTS_DIR` on Linux, else
    /// `~/Documents` when it exists), else the data dir. Never the current directory.
    pub fn exports(&self, configured: Option<&Path>) -> PathBuf {
        let home = directories::BaseDirs::new().map(|b| b.home_dir().to_path_buf());
        if let Some(dir) = configured.filter(|d| !d.as_os_str().is_empty()) {
            return match (dir.strip_prefix("~"), &home) {
                (Ok(rest), Some(home)) => home.join(rest),
                _ => dir.to_path_buf(),
            };
        }
        directories::UserDirs::new()
            .and_then(|u| u.document_dir().map(Path::to_path_buf))
            .or_else(|| home.map(|h| h.join("Documents")).filter(|d| d.is_dir()))
            .unwrap_or_else(|| self.data.clone())
    }
}

impl FileConfig {
    /// Reads `path`; a missing file is an empty config.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        match std::fs::read_to_string(path) {
            Ok(text) => Self::parse(&text, path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(source) => Err(ConfigError::Read {
                path: path.to_path_buf(),
                source,
            }),
        }
    }

    /// Parses `text`, the contents of a config file; `path` only names the file in an error.
    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: e.message().to_owned(),
        })
    }
}

/// Sets the top-level `provider` and `model` of the config file at `path` (created if missing),
/// keeping every other line (comments, tables) as written. The new text must still parse; it
/// replaces the old file in one rename, readable by the owner only (it may hold an API key).
pub fn save_provider(path: &Path, provider: &str, model: &str) -> Result<(), ConfigError> {
    let old = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(source) => {
            return Err(ConfigError::Read {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    let text = with_top_level(&with_top_level(&old, "model", model), "provider", provider);
    // A base URL set for the old provider would send the new one there: it goes, kept as a
    // comment.
    let text = comment_top_level(&text, "base_url", provider);
    FileConfig::parse(&text, path)?;
    let write = |e: std::io::Error| ConfigError::Read {
        path: path.to_path_buf(),
        source: e,
    };
    if let Some(dir) = path.parent() {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(write)?;
    }
    let tmp = path.with_extension("toml.new");
    {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(write)?;
        f.write_all(text.as_bytes()).map_err(write)?;
        f.sync_all().map_err(write)?;
    }
    std::fs::rename(&tmp, path).map_err(write)
}

/// `text` with the top-level `key` line commented out, saying why.
fn comment_top_level(text: &str, key: &str, provider: &str) -> String {
    let mut out = String::with_capacity(text.len() + 64);
    let mut top = true;
    for line in text.lines() {
        top &= !line.trim_start().starts_with('[');
        let is_key = line
            .trim_start()
            .strip_prefix(key)
            .is_some_and(|rest| rest.trim_start().starts_with('='));
        if top && is_key {
            out.push_str(&format!(
                "# {} (set aside when the provider became {provider})",
                line.trim()
            ));
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    out
}

/// `text` with the top-level `key` set to the string `value`: its line replaced, or a new line
/// first in the file.
fn with_top_level(text: &str, key: &str, value: &str) -> String {
    let quoted = serde_json::to_string(value).unwrap_or_else(|_| "\"\"".to_owned());
    let line = format!("{key} = {quoted}");
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let top = lines
        .iter()
        .position(|l| l.trim_start().starts_with('['))
        .unwrap_or(lines.len());
    let is_key = |l: &String| {
        l.trim_start()
            .strip_prefix(key)
            .is_some_and(|rest| rest.trim_start().starts_with('='))
    };
    match lines[..top].iter().position(is_key) {
        Some(i) => lines[i] = line,
        None => lines.insert(0, line),
    }
    let mut out = lines.join("\n");
    out.push('\n');
    out
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

/// The environment variables that stand in for a flag: `ICHING_PROVIDER` (`--provider`),
/// `OPENAI_BASE_URL` (`--base-url`), `ICHING_MODEL` (`--model`).
pub const ENV_OVERRIDES: [&str; 3] = ["ICHING_PROVIDER", "OPENAI_BASE_URL", "ICHING_MODEL"];

/// Where things live and the settings, from `home`, config.toml, the flags `o` and the process
/// environment: the one resolution both front ends use.
pub fn resolve(home: Option<&Path>, o: Overrides) -> Result<(Dirs, Settings), ConfigError> {
    let dirs = Dirs::resolve(home)?;
    let file = FileConfig::load(&dirs.config_file())?;
    let settings = Settings::resolve(o, file, &|var| std::env::var(var).ok())?;
    Ok((dirs, settings))
}

/// Which provider answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderKind {
    /// The embedded classic.
    Offline,
    /// An OpenAI-compatible endpoint.
    OpenAi,
}

/// Settings given on the command line; `None` = not given. [`Settings::resolve`] puts them over
/// the environment ([`ENV_OVERRIDES`]), which goes over config.toml, which goes over the preset.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// --provider / ICHING_PROVIDER.
    pub provider: Option<String>,
    /// --base-url / OPENAI_BASE_URL.
    pub base_url: Option<String>,
    /// --model / ICHING_MODEL.
    pub model: Option<String>,
    /// --concurrency.
    pub concurrency: Option<usize>,
    /// --read-timeout SECONDS.
    pub read_timeout: Option<u64>,
    /// --first-token-timeout SECONDS.
    pub first_token_timeout: Option<u64>,
    /// --request-timeout SECONDS.
    pub request_timeout: Option<u64>,
    /// --max-attempts.
    pub max_attempts: Option<u32>,
    /// --stream / --no-stream.
    pub stream: Option<bool>,
    /// --reasoning-effort.
    pub reasoning_effort: Option<String>,
    /// --rpm.
    pub rpm: Option<u32>,
    /// --tpm.
    pub tpm: Option<u32>,
    /// --language.
    pub language: Option<String>,
}

/// Everything resolved.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Which provider.
    pub provider: ProviderKind,
    /// The preset or `[providers.NAME]` table in use ("offline" for the classic text).
    pub preset: String,
    /// Why it is offline when nothing said so (shown once).
    pub offline_reason: Option<String>,
    /// Base URL without a trailing slash.
    pub base_url: String,
    /// Whether the base URL is the preset's own (its token and format choices are known to fit).
    pub preset_url: bool,
    /// API key (may be empty for local servers).
    pub api_key: Secret,
    /// The variable the key comes from, for messages (never the key itself).
    pub key_env: Option<String>,
    /// Hosted or local: sets the default deadlines.
    pub hosting: Hosting,
    /// Model name.
    pub model: String,
    /// Cap on sections in flight (`None`: every section of a reading at once).
    pub concurrency: Option<usize>,
    /// Whether the cap was set by the user (else a llama.cpp server's own slot count may set it).
    pub concurrency_explicit: bool,
    /// Seconds without new answer text, after the first token, before an attempt counts as stalled.
    pub read_timeout: Duration,
    /// How long an attempt may wait for its first token (queued at the server included).
    pub first_token_timeout: Duration,
    /// How long one attempt may take in all.
    pub request_timeout: Duration,
    /// Attempts per section.
    pub max_attempts: u32,
    /// SSE streaming.
    pub stream: bool,
    /// Which token-limit field to send.
    pub token_param: Choice<TokenParam>,
    /// The structured-output mode.
    pub structured: Choice<Structured>,
    /// `reasoning_effort`, sent when set.
    pub reasoning_effort: Option<String>,
    /// The language sections are written in; `None`: the question's own.
    pub language: Option<String>,
    /// `max_tokens` per section.
    pub max_tokens: u32,
    /// Send one section first so the prompt prefix is cached for the rest.
    pub warm_cache: bool,
    /// Requests per minute budget.
    pub rpm: Option<u32>,
    /// Tokens per minute budget.
    pub tpm: Option<u32>,
    /// Prices by model.
    pub prices: Prices,
    /// `export_dir` from config.toml, as written ([`Dirs::exports`] resolves it).
    pub export_dir: Option<PathBuf>,
}

/// The default OpenAI base URL.
pub const DEFAULT_BASE_URL: &str = "https://api.openai.com/v1";
/// The default model of the `openai` preset.
pub const DEFAULT_MODEL: &str = "gpt-5-mini";
/// The most sections in flight any command accepts.
pub const MAX_CONCURRENCY: usize = 4096;

/// What a provider name resolved to: a built-in preset or a table of the user's.
struct Endpoint {
    name: String,
    base_url: String,
    key_env: Option<String>,
    model: String,
    hosting: Hosting,
    concurrency: Option<usize>,
    token_param: Option<String>,
    structured: Option<String>,
    request_timeout: Option<u64>,
    reasoning_effort: Option<&'static str>,
    max_tokens: Option<u32>,
}

impl Endpoint {
    fn preset(p: &Preset) -> Self {
        // OpenAI's current models are reasoning models: their budget covers the reasoning too,
        // and a low effort keeps the first token quick for the live grid.
        let openai = p.name == "openai";
        Self {
            name: p.name.to_owned(),
            base_url: p.base_url.to_owned(),
            key_env: p.key_env.map(str::to_owned),
            model: p.model.to_owned(),
            hosting: p.hosting,
            concurrency: p.concurrency,
            token_param: None,
            structured: None,
            request_timeout: None,
            reasoning_effort: openai.then_some("low"),
            max_tokens: openai.then_some(4000),
        }
    }

    fn custom(name: &str, c: &CustomProvider) -> Result<Self, ConfigError> {
        let base_url = c.base_url.clone().ok_or_else(|| {
            ConfigError::Invalid(format!(
                "[providers.{name}] in config.toml needs a base_url (e.g. base_url = \"http://localhost:8080/v1\")"
            ))
        })?;
        Ok(Self {
            name: name.to_owned(),
            base_url,
            key_env: c.api_key_env.clone().filter(|v| !v.trim().is_empty()),
            model: c.model.clone().unwrap_or_else(|| "default".to_owned()),
            hosting: if c.api_key_env.is_some() {
                Hosting::Hosted
            } else {
                Hosting::Local
            },
            concurrency: c.concurrency,
            token_param: c.token_limit_param.clone(),
            structured: c.structured.clone(),
            request_timeout: c.request_timeout,
            reasoning_effort: None,
            max_tokens: None,
        })
    }
}

fn seconds(name: &str, value: Option<u64>, default: Duration) -> Result<Duration, ConfigError> {
    match value {
        Some(0) => Err(ConfigError::Invalid(format!(
            "--{name} must be at least 1 second"
        ))),
        Some(s) => Ok(Duration::from_secs(s)),
        None => Ok(default),
    }
}

/// The longest language name accepted.
const MAX_LANGUAGE_CHARS: usize = 40;

/// A language name from `--language` or config.toml, checked: it goes into the prompt, so only
/// a name (letters, spaces, hyphens, apostrophes, parentheses), not an instruction. Empty: none.
fn check_language(language: Option<String>) -> Result<Option<String>, ConfigError> {
    let Some(name) = language
        .map(|l| l.trim().to_owned())
        .filter(|l| !l.is_empty())
    else {
        return Ok(None);
    };
    let fits = name.chars().count() <= MAX_LANGUAGE_CHARS
        && name
            .chars()
            .all(|c| c.is_alphabetic() || matches!(c, ' ' | '-' | '\'' | '(' | ')'));
    if fits {
        Ok(Some(name))
    } else {
        Err(ConfigError::Invalid(format!(
            "language must be the name of a language, like Spanish, Deutsch or 日本語 (up to {MAX_LANGUAGE_CHARS} letters); got {:?}",
            crate::response::sanitize_inline(&name)
        )))
    }
}

impl Settings {
    /// Resolves the flags `o` over the environment over `file` over the preset's defaults.
    /// `env` looks up environment variables: [`ENV_OVERRIDES`] and the API keys (whose variable
    /// depends on the preset). Empty variables count as unset.
    pub fn resolve(
        o: Overrides,
        file: FileConfig,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let language = check_language(o.language.clone().or(file.language.clone()))?;
        let export_dir = file.export_dir.clone();
        let mut settings = Self::resolve_endpoint(o, file, env)?;
        settings.language = language;
        settings.export_dir = export_dir;
        Ok(settings)
    }

    /// [`Settings::resolve`] without the language.
    fn resolve_endpoint(
        o: Overrides,
        file: FileConfig,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let env = &|var: &str| env(var).filter(|v| !v.trim().is_empty());
        let o = Overrides {
            provider: o.provider.or_else(|| env(ENV_OVERRIDES[0])),
            base_url: o.base_url.or_else(|| env(ENV_OVERRIDES[1])),
            model: o.model.or_else(|| env(ENV_OVERRIDES[2])),
            ..o
        };
        // The file's base URL belongs to the file's provider: a provider named on the command
        // line (or picked in the app) keeps its own address.
        let same = |a: &str, b: &str| a.trim().eq_ignore_ascii_case(b.trim());
        let file_base = file.base_url.clone().filter(|_| match &o.provider {
            None => true,
            Some(p) => same(p, file.provider.as_deref().unwrap_or("openai")),
        });
        let base_override = o
            .base_url
            .clone()
            .or(file_base)
            .filter(|u| !u.trim().is_empty());
        if let Some(n) = o.concurrency.or(file.concurrency)
            && !(1..=MAX_CONCURRENCY).contains(&n)
        {
            return Err(ConfigError::Invalid(format!(
                "concurrency must be between 1 and {MAX_CONCURRENCY} (got {n})"
            )));
        }
        let openai_key = env("OPENAI_API_KEY").filter(|k| !k.trim().is_empty());
        let file_key = file.api_key.clone().filter(|k| !k.is_empty());
        let explicit = o.provider.clone().or(file.provider.clone());
        let name = match explicit {
            Some(p) => p.trim().to_ascii_lowercase(),
            None if base_override.is_some() || openai_key.is_some() || file_key.is_some() => {
                "openai".to_owned()
            }
            None => {
                return Ok(Self::offline(
                    file,
                    Some(
                        "No model is configured (no OPENAI_API_KEY, base URL or provider): \
                         answering from the classic text, offline."
                            .to_owned(),
                    ),
                ));
            }
        };
        if name == "offline" {
            return Ok(Self::offline(file, None));
        }
        let endpoint = match (file.providers.get(&name), preset(&name)) {
            (Some(custom), _) => Endpoint::custom(&name, custom)?,
            (None, Some(p)) => Endpoint::preset(p),
            (None, None) => {
                let mut names = preset_names();
                for custom in file.providers.keys() {
                    names.push_str(", ");
                    names.push_str(custom);
                }
                return Err(ConfigError::Invalid(format!(
                    "unknown provider {name:?}: use one of {names} (or add a [providers.{name}] table to config.toml)"
                )));
            }
        };
        let base_url = base_override
            .clone()
            .unwrap_or_else(|| endpoint.base_url.clone())
            .trim_end_matches('/')
            .to_owned();
        let preset_url = base_url == endpoint.base_url.trim_end_matches('/');
        // A hosted preset pointed at a server on this machine or the local network waits as
        // for a local one: it may serve one request at a time, slowly.
        let hosting = if !preset_url && crate::llm::preset::is_local_url(&base_url) {
            Hosting::Local
        } else {
            endpoint.hosting
        };
        let api_key = match &endpoint.key_env {
            Some(var) => env(var).filter(|k| !k.trim().is_empty()).map(Secret::new),
            None => None,
        }
        .or(file_key)
        .or_else(|| openai_key.filter(|_| !preset_url).map(Secret::new));
        if api_key.is_none()
            && endpoint.hosting == Hosting::Hosted
            && preset_url
            && let Some(var) = &endpoint.key_env
        {
            return Err(ConfigError::MissingKey {
                provider: endpoint.name.clone(),
                var: var.clone(),
            });
        }
        let concurrency = o.concurrency.or(file.concurrency);
        let concurrency_explicit = concurrency.is_some();
        let concurrency = concurrency.or(endpoint.concurrency);
        let max_attempts = o.max_attempts.or(file.max_attempts).unwrap_or(4);
        if max_attempts == 0 {
            return Err(ConfigError::Invalid(
                "--max-attempts must be at least 1".into(),
            ));
        }
        let read_timeout = seconds(
            "read-timeout",
            o.read_timeout.or(file.read_timeout),
            Duration::from_secs(60),
        )?;
        let first_token_timeout = seconds(
            "first-token-timeout",
            o.first_token_timeout.or(file.first_token_timeout),
            hosting.first_token_timeout(),
        )?;
        let request_timeout = seconds(
            "request-timeout",
            o.request_timeout
                .or(file.request_timeout)
                .or(endpoint.request_timeout),
            hosting.request_timeout(),
        )?;
        let token_param = file
            .token_limit_param
            .as_deref()
            .or(endpoint.token_param.as_deref())
            .map_or(Ok(Choice::Auto), str::parse)
            .map_err(ConfigError::Invalid)?;
        let structured = match file
            .structured
            .as_deref()
            .or(endpoint.structured.as_deref())
        {
            Some(s) => s.parse().map_err(ConfigError::Invalid)?,
            // The old switch, kept working.
            None if file.json_mode == Some(true) => Choice::Fixed(Structured::JsonObject),
            None => Choice::Auto,
        };
        let model = o.model.or(file.model).unwrap_or(endpoint.model.clone());
        let reasoning_effort = o
            .reasoning_effort
            .or(file.reasoning_effort)
            .or_else(|| {
                // The preset's effort suits its own default model only.
                (model == endpoint.model)
                    .then(|| endpoint.reasoning_effort.map(str::to_owned))
                    .flatten()
            })
            .filter(|e| !e.trim().is_empty());
        let max_tokens = file.max_tokens.or(endpoint.max_tokens).unwrap_or(1200);
        if max_tokens == 0 {
            return Err(ConfigError::Invalid("max_tokens must be at least 1".into()));
        }
        Ok(Self {
            provider: ProviderKind::OpenAi,
            preset: endpoint.name,
            offline_reason: None,
            base_url,
            preset_url,
            api_key: api_key.unwrap_or_default(),
            key_env: endpoint.key_env,
            hosting,
            model,
            concurrency,
            concurrency_explicit,
            read_timeout,
            first_token_timeout,
            request_timeout,
            max_attempts,
            stream: o.stream.or(file.stream).unwrap_or(true),
            token_param,
            structured,
            reasoning_effort,
            language: None,
            export_dir: None,
            max_tokens,
            warm_cache: file.warm_cache.unwrap_or(false),
            rpm: o.rpm.or(file.rpm),
            tpm: o.tpm.or(file.tpm),
            prices: file.prices,
        })
    }

    /// The offline settings (the classic text answers).
    fn offline(file: FileConfig, reason: Option<String>) -> Self {
        Self {
            provider: ProviderKind::Offline,
            preset: "offline".to_owned(),
            offline_reason: reason,
            base_url: String::new(),
            preset_url: true,
            api_key: Secret::default(),
            key_env: None,
            hosting: Hosting::Local,
            model: crate::llm::offline::MODEL.to_owned(),
            concurrency: file.concurrency,
            concurrency_explicit: file.concurrency.is_some(),
            read_timeout: Duration::from_secs(60),
            first_token_timeout: Duration::from_secs(60),
            request_timeout: Duration::from_secs(180),
            max_attempts: 1,
            stream: true,
            token_param: Choice::Auto,
            structured: Choice::Auto,
            reasoning_effort: None,
            language: None,
            export_dir: None,
            max_tokens: file.max_tokens.unwrap_or(1200),
            warm_cache: false,
            rpm: None,
            tpm: None,
            prices: file.prices,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

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
            &no_env,
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
        let s = Settings::resolve(Overrides::default(), FileConfig::default(), &no_env).unwrap();
        assert_eq!(s.provider, ProviderKind::Offline);
        assert!(s.offline_reason.unwrap().contains("offline"));
        let s = Settings::resolve(
            Overrides {
                provider: Some("offline".into()),
                ..Overrides::default()
            },
            FileConfig::default(),
            &|v| (v == "OPENAI_API_KEY").then(|| "sk-x".to_owned()),
        )
        .unwrap();
        assert_eq!(s.provider, ProviderKind::Offline);
        assert!(s.offline_reason.is_none());
    }

    #[test]
    fn bad_values_are_clear_errors() {
        let bad = |o: Overrides| {
            Settings::resolve(o, FileConfig::default(), &no_env)
                .unwrap_err()
                .to_string()
        };
        assert!(
            bad(Overrides {
                provider: Some("gpt".into()),
                ..Default::default()
            })
            .contains("openrouter")
        );
        assert!(
            bad(Overrides {
                concurrency: Some(0),
                ..Default::default()
            })
            .contains("between 1 and 4096")
        );
        assert!(toml::from_str::<FileConfig>("colour = 3").is_err());
    }

    #[test]
    fn presets_bring_their_url_key_variable_and_defaults() {
        let env = |v: &str| (v == "GROQ_API_KEY").then(|| "gsk-secret".to_owned());
        let groq = |o: Overrides| Settings::resolve(o, FileConfig::default(), &env);
        let s = groq(Overrides {
            provider: Some("groq".into()),
            ..Overrides::default()
        })
        .unwrap();
        assert_eq!(s.base_url, "https://api.groq.com/openai/v1");
        assert_eq!(s.api_key.expose(), "gsk-secret");
        assert_eq!(s.hosting, Hosting::Hosted);
        assert_eq!(s.request_timeout, Duration::from_secs(180));
        // A hosted preset without its key stops, naming the variable.
        let err = Settings::resolve(
            Overrides {
                provider: Some("openrouter".into()),
                ..Overrides::default()
            },
            FileConfig::default(),
            &env,
        )
        .unwrap_err();
        assert!(matches!(err, ConfigError::MissingKey { .. }));
        assert!(err.to_string().contains("OPENROUTER_API_KEY"), "{err}");
        // Local presets need none, wait longer, and cap what is in flight.
        let s = groq(Overrides {
            provider: Some("llamacpp".into()),
            ..Overrides::default()
        })
        .unwrap();
        assert_eq!(s.base_url, "http://localhost:8080/v1");
        assert!(s.api_key.is_empty());
        assert_eq!(s.first_token_timeout, Duration::from_secs(300));
        assert_eq!(s.request_timeout, Duration::from_secs(1800));
        assert_eq!(s.concurrency, Some(1));
        assert!(!s.concurrency_explicit);
        // --base-url still overrides, and then no key is demanded.
        let s = Settings::resolve(
            Overrides {
                provider: Some("openai".into()),
                base_url: Some("http://127.0.0.1:9/v1".into()),
                ..Overrides::default()
            },
            FileConfig::default(),
            &no_env,
        )
        .unwrap();
        assert_eq!(s.base_url, "http://127.0.0.1:9/v1");
        assert!(!s.preset_url);
        // ... and a server on this machine gets a local server's patience.
        assert_eq!(s.hosting, Hosting::Local);
        assert_eq!(s.first_token_timeout, Duration::from_secs(300));
        // The openai preset: its current default model with a low reasoning effort, which a
        // model chosen by the user does not inherit.
        let openai = |model: Option<&str>| {
            Settings::resolve(
                Overrides {
                    model: model.map(str::to_owned),
                    ..Overrides::default()
                },
                FileConfig::default(),
                &|v| (v == "OPENAI_API_KEY").then(|| "sk-1".to_owned()),
            )
            .unwrap()
        };
        let s = openai(None);
        assert_eq!(s.preset, "openai");
        assert_eq!(s.model, DEFAULT_MODEL);
        assert_eq!(s.reasoning_effort.as_deref(), Some("low"));
        assert_eq!(openai(Some("gpt-4.1")).reasoning_effort, None);
    }

    #[test]
    fn provider_tables_and_field_choices_come_from_the_file() {
        let file: FileConfig = toml::from_str(
            "provider = \"box\"\ntoken_limit_param = \"max_completion_tokens\"\n\
             [providers.box]\nbase_url = \"http://10.1.1.1:8080/v1/\"\napi_key_env = \"BOX_KEY\"\n\
             model = \"qwen\"\nstructured = \"off\"\nconcurrency = 3\nrequest_timeout = 42\n",
        )
        .unwrap();
        let s = Settings::resolve(Overrides::default(), file, &|v| {
            (v == "BOX_KEY").then(|| "k".to_owned())
        })
        .unwrap();
        assert_eq!(s.preset, "box");
        assert_eq!(s.base_url, "http://10.1.1.1:8080/v1");
        assert_eq!(s.model, "qwen");
        assert_eq!(s.api_key.expose(), "k");
        assert_eq!(s.structured, Choice::Fixed(Structured::Off));
        assert_eq!(
            s.token_param,
            Choice::Fixed(TokenParam::MaxCompletionTokens)
        );
        assert_eq!(s.concurrency, Some(3));
        assert_eq!(s.request_timeout, Duration::from_secs(42));
        let bad: FileConfig = toml::from_str("structured = \"xml\"").unwrap();
        let err = Settings::resolve(
            Overrides {
                provider: Some("ollama".into()),
                ..Overrides::default()
            },
            bad,
            &no_env,
        )
        .unwrap_err();
        assert!(err.to_string().contains("json_schema"), "{err}");
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
        let p = |m| file.prices.get(m).map(|p| p.prompt_per_million);
        assert_eq!(p("gpt-4o-mini"), Some(0.15));
        assert_eq!(p("gpt-4o-mini-2024-07-18"), Some(0.15));
        assert_eq!(p("gpt-4o-2024-08-06"), Some(2.5));
        assert_eq!(p("llama3.1"), None);
    }

    #[test]
    fn saving_the_provider_keeps_everything_else() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/config.toml");
        save_provider(&path, "ollama", "qwen2.5:3b").unwrap();
        let file = FileConfig::load(&path).unwrap();
        assert_eq!(file.provider.as_deref(), Some("ollama"));
        assert_eq!(file.model.as_deref(), Some("qwen2.5:3b"));
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        std::fs::write(
            &path,
            "# mine\nmodel = \"old\"\nmax_tokens = 900\n\n[providers.box]\nbase_url = \"http://b/v1\"\nmodel = \"inner\"\n",
        )
        .unwrap();
        save_provider(&path, "box", "new \"quoted\"").unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.starts_with("provider = \"box\"\n# mine\nmodel = \"new \\\"quoted\\\"\"\n"),
            "{text}"
        );
        let file = FileConfig::load(&path).unwrap();
        assert_eq!(file.max_tokens, Some(900));
        assert_eq!(file.providers["box"].model.as_deref(), Some("inner"));
        assert_eq!(file.model.as_deref(), Some("new \"quoted\""));
        // A base URL of the old provider is set aside, and a provider named on the command
        // line keeps its own address even while the file has one.
        std::fs::write(
            &path,
            "provider = \"openai\"\nbase_url = \"http://old/v1\"\n",
        )
        .unwrap();
        let file = FileConfig::load(&path).unwrap();
        let s = Settings::resolve(
            Overrides {
                provider: Some("ollama".into()),
                ..Overrides::default()
            },
            file,
            &no_env,
        )
        .unwrap();
        assert_eq!(s.base_url, "http://localhost:11434/v1");
        save_provider(&path, "ollama", "llama3.2").unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.contains("# base_url = \"http://old/v1\" (set aside"),
            "{text}"
        );
        assert!(FileConfig::load(&path).unwrap().base_url.is_none());
        // A file that no longer parses is refused, and left as it was.
        std::fs::write(&path, "max_tokens = \"many\"\n").unwrap();
        assert!(save_provider(&path, "openai", "m").is_err());
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "max_tokens = \"many\"\n"
        );
    }

    #[test]
    fn exports_go_to_the_configured_folder_else_never_the_current_one() {
        let file =
            FileConfig::parse("export_dir = \"~/readings\"\n", Path::new("config.toml")).unwrap();
        assert_eq!(file.export_dir.as_deref(), Some(Path::new("~/readings")));
        let settings = Settings::resolve(Overrides::default(), file, &no_env).unwrap();
        assert_eq!(
            settings.export_dir.as_deref(),
            Some(Path::new("~/readings"))
        );
        let dirs = Dirs {
            data: PathBuf::from("/data/iching"),
            config: PathBuf::from("/config/iching"),
        };
        let home = directories::BaseDirs::new()
            .unwrap()
            .home_dir()
            .to_path_buf();
        assert_eq!(
            dirs.exports(settings.export_dir.as_deref()),
            home.join("readings")
        );
        assert_eq!(
            dirs.exports(Some(Path::new("/srv/out"))),
            PathBuf::from("/srv/out")
        );
        // Unset: the documents folder or the data dir, never the current directory.
        let default = dirs.exports(None);
        assert!(default.is_absolute(), "{}", default.display());
        assert_ne!(default, std::env::current_dir().unwrap());
        let unset = Settings::resolve(Overrides::default(), FileConfig::default(), &no_env);
        assert_eq!(unset.unwrap().export_dir, None);
    }

    #[test]
    fn secrets_never_print() {
        let s = Secret::new("sk-very-secret");
        assert!(!format!("{s:?}").contains("very"));
        let file: FileConfig = toml::from_str("api_key = \"sk-very-secret\"").unwrap();
        assert!(!format!("{file:?}").contains("very"));
    }
}
