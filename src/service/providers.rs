//! Who answers, chosen from the terminal app's provider picker: the providers on offer, the
//! models one lists, the doctor's checks of one, and switching to one (kept in config.toml, the
//! engine and the prices swapped whole). Each resolves the chosen provider's settings under the
//! home the Service was opened with, as the command line would.

use crate::config::{FileConfig, Overrides, save_provider};
use crate::llm::ProviderInfo;
use crate::llm::preset::PRESETS;

use super::doctor::{self, Check};
use super::{Service, ServiceError, Setup};

/// A provider just chosen: its preset's name and who answers.
#[derive(Debug, Clone)]
pub struct ProviderChoice {
    /// The preset or `[providers.NAME]` table.
    pub preset: String,
    /// Name, model and endpoint.
    pub info: ProviderInfo,
}

impl Service {
    /// Every provider there is to choose: the presets, the user's `[providers.NAME]` tables in
    /// config.toml, offline.
    pub fn providers(&self) -> Vec<String> {
        let mut names: Vec<String> = PRESETS.iter().map(|p| p.name.to_owned()).collect();
        if let Ok(file) = FileConfig::load(&self.dirs.config_file()) {
            for custom in file.providers.into_keys() {
                if !names.contains(&custom) {
                    names.push(custom);
                }
            }
        }
        names.push("offline".to_owned());
        names
    }

    /// The terminal app's settings (config.toml and the environment), answered with from now
    /// on; with `ICHING_OFFLINE_PACE_MS` set, the offline provider answers at that pace.
    pub fn configure_app(&self) -> Result<std::sync::Arc<Setup>, ServiceError> {
        let setup = Setup::resolve(self.home.as_deref(), Overrides::default())?.paced();
        self.set_setup(setup);
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
        doctor::checks_of(self.home.as_deref(), choose(provider, model)).await
    }

    /// Answers with `provider` and `model` from now on (runs already started keep theirs), and
    /// keeps them in config.toml. A provider that cannot work (no key, an unknown name) is
    /// refused before the file changes, and the one in use stays.
    pub fn use_provider(
        &self,
        provider: &str,
        model: String,
    ) -> Result<ProviderChoice, ServiceError> {
        let setup = self.setup_of(provider, Some(model.clone()))?.paced();
        save_provider(&setup.dirs.config_file(), provider, &model)?;
        let choice = ProviderChoice {
            preset: setup.settings.preset.clone(),
            info: setup.engine.provider.info(),
        };
        // The engine first: the next cast finds it in place.
        self.set_setup(setup);
        Ok(choice)
    }

    /// The settings of `provider` (with `model`), as the command line would resolve them.
    fn setup_of(&self, provider: &str, model: Option<String>) -> Result<Setup, ServiceError> {
        Setup::resolve(self.home.as_deref(), choose(provider, model))
    }
}

/// The flags that choose `provider` and `model`.
fn choose(provider: &str, model: Option<String>) -> Overrides {
    Overrides {
        provider: Some(provider.to_owned()),
        model,
        ..Overrides::default()
    }
}
