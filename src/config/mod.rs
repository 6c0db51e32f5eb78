//! Settings, resolved flag > environment > config file > default, and where things live.
//!
//! The config file is `config.toml` in the config dir (or in `--home` / `$ICHING_HOME`). Prompt
//! overrides live beside it in `prompts/`. Both are read only when nobody but the user (or root)
//! can change them (`store::perms`), and every value is checked as it is read (`check`,
//! `language`). The API key is held as a [`Secret`], which never prints.

mod check;
mod error;
mod language;
mod place;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::llm::preset::{Choice, Hosting, Preset, Structured, TokenParam, preset, preset_names};
use crate::plan::Prompts;
use crate::store::perms::check_settings;
use check::At;
use place::{located, parse_error};

pub use crate::model::{Price, Prices, Secret};
pub use check::{MAX_ATTEMPTS, MAX_CONCURRENCY, MAX_PRICE, MAX_TIMEOUT, MAX_TOKENS};
pub use error::ConfigError;
pub use language::ENGLISH_NAMES as LANGUAGES;

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
    /// The folder `iching sync` uses when none is given (one the user's own sync tool keeps
    /// in step between machines); `~/` is the home folder.
    pub sync_dir: Option<PathBuf>,
}

/// The config file's name in the config dir.
pub const CONFIG_FILE: &str = "config.toml";

/// The folder of prompt overrides in the config dir.
pub const PROMPTS_DIR: &str = "prompts";

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
    /// Reads `path`; a missing file is an empty config. The file and its folder must be the
    /// user's (or root's) and writable by nobody else.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        check_file_and_folder(path)?;
        match std::fs::read_to_string(path) {
            Ok(text) => Self::parse(&text, path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(source) => Err(ConfigError::Read {
                path: path.to_path_buf(),
                source,
            }),
        }
    }

    /// Parses `text`, the contents of a config file, and checks every value in it; `path`
    /// only names the file in an error.
    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let file: Self =
            toml::from_str(text).map_err(|e| parse_error(text, path, e.span(), e.message()))?;
        file.checked_in(text, path)
    }

    /// Every value held to its range (the language as the list spells it), each refusal
    /// naming its key.
    fn checked(self) -> Result<Self, ConfigError> {
        self.checked_in("", Path::new(CONFIG_FILE))
    }

    /// [`FileConfig::checked`], each refusal placed on its line of `text`, the file at `path`.
    fn checked_in(mut self, text: &str, path: &Path) -> Result<Self, ConfigError> {
        let file = At::File;
        if let Some(url) = &self.base_url {
            check::base_url(file("base_url"), url)
                .map_err(|e| located(e, file("base_url"), text, path))?;
        }
        if let Some(n) = self.concurrency {
            check::concurrency(file("concurrency"), n)
                .map_err(|e| located(e, file("concurrency"), text, path))?;
        }
        for (key, value) in [
            ("read_timeout", self.read_timeout),
            ("first_token_timeout", self.first_token_timeout),
            ("request_timeout", self.request_timeout),
        ] {
            if let Some(seconds) = value {
                check::timeout(file(key), seconds)
                    .map_err(|e| located(e, file(key), text, path))?;
            }
        }
        if let Some(n) = self.max_attempts {
            check::attempts(file("max_attempts"), n)
                .map_err(|e| located(e, file("max_attempts"), text, path))?;
        }
        if let Some(n) = self.max_tokens {
            check::max_tokens(file("max_tokens"), n)
                .map_err(|e| located(e, file("max_tokens"), text, path))?;
        }
        for (key, value) in [("rpm", self.rpm), ("tpm", self.tpm)] {
            if let Some(n) = value {
                check::budget(file(key), n).map_err(|e| located(e, file(key), text, path))?;
            }
        }
        if let Some(l) = &self.language {
            self.language = language::language(file("language"), l)
                .map_err(|e| located(e, file("language"), text, path))?;
        }
        // A provider named in the file is one there is: refused on its line, here, rather
        // than later, where the file's text is no longer at hand.
        if let Some(name) = &self.provider {
            let name = name.trim().to_ascii_lowercase();
            if name != "offline" && preset(&name).is_none() && !self.providers.contains_key(&name) {
                let mut names = preset_names();
                for custom in self.providers.keys() {
                    names.push_str(", ");
                    names.push_str(custom);
                }
                let shown = check::shown(&name);
                let e = ConfigError::Invalid(format!(
                    "unknown provider {shown}: use one of {names} (or add a [providers.{shown}] table to config.toml)"
                ));
                return Err(located(e, file("provider"), text, path));
            }
        }
        for (model, p) in &self.prices.0 {
            let at = |key| At::Price(model, key);
            check::price(at("prompt_per_million"), p.prompt_per_million)
                .map_err(|e| located(e, at("prompt_per_million"), text, path))?;
            check::price(at("completion_per_million"), p.completion_per_million)
                .map_err(|e| located(e, at("completion_per_million"), text, path))?;
            if let Some(cached) = p.cached_prompt_per_million {
                check::price(at("cached_prompt_per_million"), cached)
                    .map_err(|e| located(e, at("cached_prompt_per_million"), text, path))?;
            }
        }
        for (name, table) in &self.providers {
            let at = |key| At::Provider(name, key);
            if let Some(url) = &table.base_url {
                check::base_url(at("base_url"), url)
                    .map_err(|e| located(e, at("base_url"), text, path))?;
            }
            if let Some(n) = table.concurrency {
                check::concurrency(at("concurrency"), n)
                    .map_err(|e| located(e, at("concurrency"), text, path))?;
            }
            if let Some(seconds) = table.request_timeout {
                check::timeout(at("request_timeout"), seconds)
                    .map_err(|e| located(e, at("request_timeout"), text, path))?;
            }
        }
        Ok(self)
    }
}

/// A settings file and the folder it is in, each checked as [`check_settings`] does.
fn check_file_and_folder(path: &Path) -> Result<(), ConfigError> {
    if let Some(folder) = path.parent().filter(|f| !f.as_os_str().is_empty()) {
        check_settings(folder)?;
    }
    Ok(check_settings(path)?)
}

/// Sets the top-level `provider` and `model` of the config file at `path` (created if missing),
/// keeping the rest as the user wrote it: comments, order, layout (edited with `toml_edit`). The
/// new text must still parse; it replaces the old file in one rename, readable by the owner only
/// (it may hold an API key).
pub fn save_provider(path: &Path, provider: &str, model: &str) -> Result<(), ConfigError> {
    rewrite(path, |old| with_provider(old, provider, model))
}

/// Replaces the config file at `path` (created if missing) with what `edit` makes of its text;
/// the new text must still parse, and it goes in with one rename, readable by the owner only
/// (the file may hold an API key).
fn rewrite(
    path: &Path,
    edit: impl FnOnce(&str) -> Result<String, toml_edit::TomlError>,
) -> Result<(), ConfigError> {
    check_file_and_folder(path)?;
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
    let text = edit(&old).map_err(|e| parse_error(&old, path, e.span(), e.message()))?;
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

/// Sets (or, with `None`, removes) the top-level `language` of the config file at `path`
/// (created if missing), keeping the rest as the user wrote it, as [`save_provider`] does. The
/// language is checked as the file's would be.
pub fn save_language(path: &Path, language: Option<&str>) -> Result<(), ConfigError> {
    let language = match language {
        Some(l) => language::language(At::File("language"), l)?,
        None => None,
    };
    rewrite(path, |old| {
        let mut doc: toml_edit::DocumentMut = old.parse()?;
        let root = doc.as_table_mut();
        match &language {
            Some(l) => {
                if let Some(toml_edit::Item::Value(v)) = root.get_mut("language") {
                    let decor = v.decor().clone();
                    *v = l.as_str().into();
                    *v.decor_mut() = decor;
                } else {
                    root.insert("language", toml_edit::value(l.as_str()));
                }
            }
            None => {
                root.remove("language");
            }
        }
        Ok(doc.to_string())
    })
}

/// The config file `text` with the top-level `provider` and `model` set: a value already there
/// is replaced where it stands (its trailing comment kept), a new one goes first in the file. A
/// top-level `base_url` would send the new provider to the old one's address: it goes, kept as
/// a comment above `provider` that says why.
fn with_provider(text: &str, provider: &str, model: &str) -> Result<String, toml_edit::TomlError> {
    let mut doc: toml_edit::DocumentMut = text.parse()?;
    let root = doc.as_table_mut();
    let mut added = Vec::new();
    for (key, value) in [("provider", provider), ("model", model)] {
        if let Some(toml_edit::Item::Value(old)) = root.get_mut(key) {
            let decor = old.decor().clone();
            *old = value.into();
            *old.decor_mut() = decor;
        } else {
            root.insert(key, toml_edit::value(value));
            added.push(key);
        }
    }
    let rank = |k: &toml_edit::Key| {
        added
            .iter()
            .position(|a| *a == k.get())
            .unwrap_or(added.len())
    };
    root.sort_values_by(|a, _, b, _| rank(a).cmp(&rank(b)));
    let set_aside = root.get("base_url").is_some_and(toml_edit::Item::is_value);
    if let Some((key, toml_edit::Item::Value(mut url))) =
        set_aside.then(|| root.remove_entry("base_url")).flatten()
    {
        let raw = |r: Option<&toml_edit::RawString>| {
            r.and_then(toml_edit::RawString::as_str)
                .unwrap_or("")
                .to_owned()
        };
        // The lines above it and its own trailing comment go with it.
        let above = raw(key.leaf_decor().prefix());
        let above = above.trim_end_matches([' ', '\t']);
        let trailing = raw(url.decor().suffix());
        url.decor_mut().clear();
        if let Some(mut k) = root.key_mut("provider") {
            let prefix = raw(k.leaf_decor().prefix());
            k.leaf_decor_mut().set_prefix(format!(
                "{prefix}{above}# base_url = {url} (set aside when the provider became \
                 {provider}){trailing}\n"
            ));
        }
    }
    Ok(doc.to_string())
}

/// The embedded prompts with any overrides found under `config_dir/prompts/`. The config
/// folder, `prompts/`, each folder in it that holds an override and each override must be the
/// user's (or root's) and writable by nobody else.
pub fn load_prompts(config_dir: &Path) -> Result<Prompts, ConfigError> {
    let folder = config_dir.join(PROMPTS_DIR);
    check_settings(config_dir)?;
    check_settings(&folder)?;
    let mut prompts = Prompts::default();
    for name in Prompts::override_names() {
        let path = folder.join(&name);
        check_file_and_folder(&path)?;
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

pub use crate::llm::ProviderKind;

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
    /// API keys pasted in the terminal app (sealed in the store), by built-in preset: each is
    /// used for its own preset at its own address only, when the preset's variable is unset
    /// (the environment wins, as it does over config.toml).
    pub pasted_keys: BTreeMap<String, Secret>,
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

impl Overrides {
    /// Every flag held to its range (the language as the list spells it), each refusal naming
    /// its flag. The environment's values are checked where they are taken.
    fn checked(mut self) -> Result<Self, ConfigError> {
        let flag = At::Flag;
        if let Some(url) = &self.base_url {
            check::base_url(flag("base-url"), url)?;
        }
        if let Some(n) = self.concurrency {
            check::concurrency(flag("concurrency"), n)?;
        }
        for (name, value) in [
            ("read-timeout", self.read_timeout),
            ("first-token-timeout", self.first_token_timeout),
            ("request-timeout", self.request_timeout),
        ] {
            if let Some(seconds) = value {
                check::timeout(flag(name), seconds)?;
            }
        }
        if let Some(n) = self.max_attempts {
            check::attempts(flag("max-attempts"), n)?;
        }
        for (name, value) in [("rpm", self.rpm), ("tpm", self.tpm)] {
            if let Some(n) = value {
                check::budget(flag(name), n)?;
            }
        }
        if let Some(l) = &self.language {
            self.language = language::language(flag("language"), l)?;
        }
        Ok(self)
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
        // Checked here too, not only by `FileConfig::parse`: a file made any other way is held to
        // the same ranges.
        let (o, file) = (o.checked()?, file.checked()?);
        let language = o.language.clone().or(file.language.clone());
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
        let base_url = match o.base_url {
            Some(url) => Some(url),
            None => env(ENV_OVERRIDES[1])
                .map(|url| check::base_url(At::Env(ENV_OVERRIDES[1]), &url).map(|()| url))
                .transpose()?,
        };
        let o = Overrides {
            provider: o.provider.or_else(|| env(ENV_OVERRIDES[0])),
            base_url,
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
                let name = check::shown(&name);
                return Err(ConfigError::Invalid(format!(
                    "unknown provider {name}: use one of {names} (or add a [providers.{name}] table to config.toml)"
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
        // A key pasted in the app goes to its own preset's own address, nowhere else.
        let pasted = o
            .pasted_keys
            .get(&endpoint.name)
            .filter(|k| !k.is_empty() && preset_url && !file.providers.contains_key(&name))
            .cloned();
        let api_key = match &endpoint.key_env {
            Some(var) => env(var).filter(|k| !k.trim().is_empty()).map(Secret::new),
            None => None,
        }
        .or(pasted)
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
        let read_timeout = o
            .read_timeout
            .or(file.read_timeout)
            .map_or(Duration::from_secs(60), Duration::from_secs);
        let first_token_timeout = o
            .first_token_timeout
            .or(file.first_token_timeout)
            .map_or(hosting.first_token_timeout(), Duration::from_secs);
        let request_timeout = o
            .request_timeout
            .or(file.request_timeout)
            .or(endpoint.request_timeout)
            .map_or(hosting.request_timeout(), Duration::from_secs);
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
mod tests;
