//! Who answers, chosen from the terminal app's provider box (F7): the providers on offer with
//! their address and where their key comes from, the models one lists, the doctor's checks of
//! one, switching to one (kept in config.toml, the engine and the prices swapped whole), the
//! API keys pasted for hosted presets (sealed in the store, `store::provider_keys`) and the
//! language answers are written in. Each resolves the chosen provider's settings under the
//! home the Service was opened with, as the command line would, pasted keys included.
//!
//! A pasted key is used for its own preset at the preset's own address only, and only when the
//! preset's variable is unset: the environment wins, as it does over config.toml.

use std::collections::BTreeMap;
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use crate::config::{ConfigError, FileConfig, Overrides, save_language, save_provider};
use crate::llm::ProviderInfo;
use crate::llm::preset::{Hosting, PRESETS, preset};
use crate::model::Secret;
use crate::store::{MAX_PROVIDER_KEY_BYTES, Store};

use super::doctor::{self, Check};
use super::error::KeyProblem;
use super::{Service, ServiceError, Setup, read, write};

/// The languages the app offers, by their English names (config.toml takes more: tags, and
/// each language's own name).
pub use crate::config::LANGUAGES;

/// How long the app waits to find a local server listening before it says none is.
const LISTEN_WAIT: Duration = Duration::from_millis(1500);

/// A provider just chosen: its preset's name and who answers.
#[derive(Debug, Clone)]
pub struct ProviderChoice {
    /// The preset or `[providers.NAME]` table.
    pub preset: String,
    /// Name, model and endpoint.
    pub info: ProviderInfo,
    /// Why it answers offline, when the one asked for could not (its key went).
    pub note: Option<String>,
}

/// One provider the app offers, as its box lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderEntry {
    /// The preset, `[providers.NAME]` table, or `offline`.
    pub name: String,
    /// Its own address (without credentials); empty offline.
    pub address: String,
    /// The environment variable its key comes from (none: it needs none).
    pub key_env: Option<String>,
    /// Whether that variable is set (and not empty) in this process.
    pub env_set: bool,
    /// Whether a key pasted in the app is sealed in the store for it.
    pub pasted: bool,
    /// Whether a key may be pasted for it (a hosted built-in preset).
    pub pastable: bool,
    /// A server on this machine or the local network.
    pub local: bool,
}

impl ProviderEntry {
    /// Whether it has a key to answer with (or needs none).
    pub fn has_key(&self) -> bool {
        self.key_env.is_none() || self.env_set || self.pasted
    }
}

/// The pasted keys `store` holds; one that does not open is left out (`verify` names it).
pub(super) fn pasted_keys(store: &Store) -> BTreeMap<String, Secret> {
    match store.provider_keys() {
        Ok(keys) => keys.into_iter().collect(),
        Err(e) => {
            tracing::warn!(%e, "a pasted API key does not open; it is not used");
            BTreeMap::new()
        }
    }
}

/// The keys pasted in the app, for a command that opens no store of its own (`doctor`,
/// `models`, `bench`): read from the store under `home` when there is one and it opens without
/// asking (its key file, or `ICHING_PASSPHRASE`); none otherwise.
pub fn pasted_keys_at(home: Option<&std::path::Path>) -> BTreeMap<String, Secret> {
    let Ok(dirs) = crate::config::Dirs::resolve(home) else {
        return BTreeMap::new();
    };
    if !dirs.data.join(crate::store::DB_FILE).is_file() {
        return BTreeMap::new();
    }
    match Store::open(&dirs.data, crate::store::Unlock::from_env()) {
        Ok(store) => pasted_keys(&store),
        Err(e) => {
            tracing::info!(%e, "the store did not open: no pasted key is used");
            BTreeMap::new()
        }
    }
}

impl Service {
    /// Every provider there is to choose: the presets, the user's `[providers.NAME]` tables in
    /// config.toml, offline.
    pub fn providers(&self) -> Vec<String> {
        self.provider_entries()
            .into_iter()
            .map(|e| e.name)
            .collect()
    }

    /// Every provider there is to choose, with its address and where its key comes from.
    pub fn provider_entries(&self) -> Vec<ProviderEntry> {
        let env_set = |var: &str| std::env::var(var).is_ok_and(|v| !v.trim().is_empty());
        let tables = FileConfig::load(&self.dirs.config_file())
            .map(|f| f.providers)
            .unwrap_or_default();
        let pasted = read(&self.pasted);
        let mut out: Vec<ProviderEntry> = PRESETS
            .iter()
            .filter(|p| !tables.contains_key(p.name))
            .map(|p| ProviderEntry {
                name: p.name.to_owned(),
                address: p.base_url.to_owned(),
                key_env: p.key_env.map(str::to_owned),
                env_set: p.key_env.is_some_and(env_set),
                pasted: pasted.contains_key(p.name),
                pastable: p.key_env.is_some(),
                local: p.hosting == Hosting::Local,
            })
            .collect();
        for (name, table) in tables {
            let address = table.base_url.clone().unwrap_or_default();
            let key_env = table.api_key_env.clone().filter(|v| !v.trim().is_empty());
            out.push(ProviderEntry {
                local: crate::llm::preset::is_local_url(&address),
                address: crate::llm::redact::redacted_url(&address),
                env_set: key_env.as_deref().is_some_and(env_set),
                key_env,
                pasted: false,
                pastable: false,
                name,
            });
        }
        out.push(ProviderEntry {
            name: "offline".to_owned(),
            address: String::new(),
            key_env: None,
            env_set: false,
            pasted: false,
            pastable: false,
            local: true,
        });
        out
    }

    /// `o` with the keys pasted in the app.
    pub(super) fn with_pasted(&self, o: Overrides) -> Overrides {
        Overrides {
            pasted_keys: read(&self.pasted).clone(),
            ..o
        }
    }

    /// The terminal app's settings (config.toml and the environment, and the keys pasted in
    /// the app), answered with from now on; with `ICHING_OFFLINE_PACE_MS` set, the offline
    /// provider answers at that pace. A hosted provider asked for without its key
    /// (`ICHING_PROVIDER=openai`, or config.toml) opens offline, saying why.
    pub fn configure_app(&self) -> Result<std::sync::Arc<Setup>, ServiceError> {
        let home = self.home.as_deref();
        let setup = match Setup::resolve(home, self.with_pasted(Overrides::default())) {
            Err(ServiceError::Config(e)) if matches!(*e, ConfigError::MissingKey { .. }) => {
                let mut offline = Setup::resolve(home, choose("offline", None))?;
                offline.settings.offline_reason = Some(without_key(&e));
                offline
            }
            other => other?,
        };
        self.set_setup(setup.paced());
        self.setup().ok_or(ServiceError::NotConfigured)
    }

    /// The models `provider`'s endpoint lists.
    pub async fn models_of(&self, provider: &str) -> Result<Vec<String>, ServiceError> {
        let setup = self.setup_of(provider, None)?;
        Ok(doctor::list_models(&setup).await?.1)
    }

    /// The doctor's checks of `provider` (with `model`, else its own), the same that `iching
    /// doctor` runs: a missing key is the first failed check, not an error.
    pub async fn doctor_of(
        &self,
        provider: &str,
        model: Option<String>,
    ) -> Result<Vec<Check>, ServiceError> {
        doctor::checks_of(
            self.home.as_deref(),
            self.with_pasted(choose(provider, model)),
        )
        .await
    }

    /// Answers with `provider` and `model` from now on (runs already started keep theirs), and
    /// keeps them in config.toml. A provider that cannot work (no key, an unknown name, a local
    /// server that is not running) is refused before the file changes, and the one in use
    /// stays.
    pub async fn use_provider(
        &self,
        provider: &str,
        model: String,
    ) -> Result<ProviderChoice, ServiceError> {
        let setup = match self.setup_of(provider, Some(model.clone())) {
            Err(ServiceError::Config(e)) => {
                return Err(match &*e {
                    ConfigError::MissingKey { provider, var } => ServiceError::KeyNeeded {
                        provider: provider.clone(),
                        var: var.clone(),
                    },
                    _ => ServiceError::Config(e),
                });
            }
            other => other?.paced(),
        };
        if setup.settings.provider == crate::llm::ProviderKind::OpenAi
            && setup.settings.hosting == Hosting::Local
        {
            listening(&setup.settings.base_url, &setup.settings.preset).await?;
        }
        save_provider(&setup.dirs.config_file(), provider, &model)?;
        let choice = ProviderChoice {
            preset: setup.settings.preset.clone(),
            info: setup.engine.provider.info(),
            note: None,
        };
        // The engine first: the next cast finds it in place.
        self.set_setup(setup);
        Ok(choice)
    }

    /// Seals `key` in the store as `provider`'s key, for the app and every command from now
    /// on. What is in use answers with it at once when it is that provider. Gives the
    /// providers as they stand now, and the provider in use when it changed.
    pub async fn set_provider_key(
        &self,
        provider: &str,
        key: Secret,
    ) -> Result<(Vec<ProviderEntry>, Option<ProviderChoice>), ServiceError> {
        self.writable()?;
        let refused = |problem| ServiceError::ProviderKey {
            provider: provider.to_owned(),
            problem,
        };
        let tables = FileConfig::load(&self.dirs.config_file())
            .map(|f| f.providers)
            .unwrap_or_default();
        let Some(p) =
            preset(provider).filter(|p| p.key_env.is_some() && !tables.contains_key(p.name))
        else {
            return Err(refused(KeyProblem::NotHosted));
        };
        let trimmed = key.expose().trim();
        if trimmed.is_empty() {
            return Err(refused(KeyProblem::Empty));
        }
        if trimmed.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(refused(KeyProblem::NotAKey));
        }
        if trimmed.len() > MAX_PROVIDER_KEY_BYTES {
            return Err(refused(KeyProblem::TooLong));
        }
        let key = Secret::new(trimmed);
        let name = p.name;
        let sealed = key.clone();
        self.writer
            .call(move |s| s.set_provider_key(name, &sealed))
            .await?;
        write(&self.pasted).insert(name.to_owned(), key);
        Ok((self.provider_entries(), self.follow_keys(name)))
    }

    /// Removes `provider`'s pasted key from the store. When it is in use and now has no key,
    /// the app answers offline (config.toml still names it) and says why.
    pub async fn remove_provider_key(
        &self,
        provider: &str,
    ) -> Result<(Vec<ProviderEntry>, Option<ProviderChoice>), ServiceError> {
        self.writable()?;
        let name = provider.to_owned();
        self.writer
            .call(move |s| s.remove_provider_key(&name))
            .await?;
        write(&self.pasted).remove(provider);
        Ok((self.provider_entries(), self.follow_keys(provider)))
    }

    /// After `provider`'s pasted key changed: when it is the one in use, its settings again
    /// (offline, saying why, when it now has no key).
    fn follow_keys(&self, provider: &str) -> Option<ProviderChoice> {
        let now = self.setup()?;
        // Offline for want of this very key (the app was opened on it): now it answers.
        if now.settings.preset == "offline" && now.settings.offline_reason.is_some() {
            let asked = Setup::resolve(
                self.home.as_deref(),
                self.with_pasted(Overrides {
                    language: now.settings.language.clone(),
                    ..Overrides::default()
                }),
            )
            .ok()
            .filter(|s| s.settings.preset == provider)?
            .paced();
            let choice = ProviderChoice {
                preset: asked.settings.preset.clone(),
                info: asked.engine.provider.info(),
                note: None,
            };
            self.set_setup(asked);
            return Some(choice);
        }
        if now.settings.preset != provider {
            return None;
        }
        let model = Some(now.settings.model.clone());
        let (setup, note) = match self.setup_of(provider, model) {
            Ok(setup) => (setup, None),
            Err(ServiceError::Config(e)) if matches!(*e, ConfigError::MissingKey { .. }) => {
                let note = without_key(&e);
                let mut offline = self.setup_of("offline", None).ok()?;
                offline.settings.offline_reason = Some(note.clone());
                (offline, Some(note))
            }
            Err(e) => {
                tracing::warn!(%e, "the provider in use could not be set up again");
                return None;
            }
        };
        let setup = setup.paced();
        let choice = ProviderChoice {
            preset: setup.settings.preset.clone(),
            info: setup.engine.provider.info(),
            note,
        };
        self.set_setup(setup);
        Some(choice)
    }

    /// The language answers are written in (`None`: the question's own).
    pub fn language(&self) -> Option<String> {
        self.setup().and_then(|s| s.settings.language.clone())
    }

    /// Answers in `language` from now on (`None`: the question's own), kept in config.toml
    /// as `language`; a name that is not a language is refused and nothing changes. Gives the
    /// language as config.toml now spells it.
    pub fn set_language(&self, language: Option<&str>) -> Result<Option<String>, ServiceError> {
        let file = self.dirs.config_file();
        save_language(&file, language)?;
        let now = FileConfig::load(&file)?.language;
        if let Some(setup) = self.setup() {
            let mut setup = (*setup).clone();
            setup.settings.language.clone_from(&now);
            setup.engine.language.clone_from(&now);
            self.set_setup(setup);
        }
        Ok(now)
    }

    /// The settings of `provider` (with `model`), as the command line would resolve them.
    fn setup_of(&self, provider: &str, model: Option<String>) -> Result<Setup, ServiceError> {
        Setup::resolve(
            self.home.as_deref(),
            self.with_pasted(choose(provider, model)),
        )
    }
}

/// Why the app answers offline when `e` (a missing key) stopped the provider asked for.
fn without_key(e: &ConfigError) -> String {
    let ConfigError::MissingKey { provider, var } = e else {
        return e.to_string();
    };
    let from = if std::env::var(crate::config::ENV_OVERRIDES[0])
        .is_ok_and(|v| v.trim().eq_ignore_ascii_case(provider))
    {
        format!("{}={provider}", crate::config::ENV_OVERRIDES[0])
    } else {
        format!("config.toml's provider = \"{provider}\"")
    };
    format!(
        "{from} needs an API key, and {var} is not set and none was pasted: answering from the classic text, offline."
    )
}

/// Fails with what to start when nothing listens at `base_url`'s host and port.
async fn listening(base_url: &str, preset_name: &str) -> Result<(), ServiceError> {
    let Ok(url) = reqwest::Url::parse(base_url) else {
        return Ok(());
    };
    let (Some(host), Some(port)) = (url.host_str(), url.port_or_known_default()) else {
        return Ok(());
    };
    let host = host.to_owned();
    let address = format!("{host}:{port}");
    let up = tokio::task::spawn_blocking(move || {
        let Ok(addrs) =
            (host.trim_start_matches('[').trim_end_matches(']'), port).to_socket_addrs()
        else {
            return false;
        };
        addrs
            .into_iter()
            .any(|a| TcpStream::connect_timeout(&a, LISTEN_WAIT).is_ok())
    })
    .await
    .unwrap_or(true);
    if up {
        return Ok(());
    }
    let start = preset(preset_name)
        .and_then(|p| p.start_first)
        .unwrap_or("start its server first")
        .to_owned();
    Err(ServiceError::NothingListening { address, start })
}

/// The flags that choose `provider` and `model`.
fn choose(provider: &str, model: Option<String>) -> Overrides {
    Overrides {
        provider: Some(provider.to_owned()),
        model,
        ..Overrides::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_without_a_store_of_their_own_read_the_pasted_keys_and_make_no_store() {
        let home = tempfile::tempdir().unwrap();
        assert!(pasted_keys_at(Some(home.path())).is_empty());
        assert!(
            !home.path().join(crate::store::DB_FILE).exists(),
            "looking made no store"
        );
        let store = Store::open(home.path(), crate::store::Unlock::default()).unwrap();
        store
            .set_provider_key("groq", &Secret::new("gsk-pasted"))
            .unwrap();
        drop(store);
        let keys = pasted_keys_at(Some(home.path()));
        assert_eq!(keys.len(), 1);
        assert_eq!(keys["groq"].expose(), "gsk-pasted");
    }
}
