//! What can go wrong reading the settings, each saying what to change.

use std::path::PathBuf;

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
    /// A file or folder the settings or prompts are read from can be changed by someone else.
    #[error(transparent)]
    Unsafe(#[from] crate::store::perms::Unsafe),
    /// No home directory could be found and none was given.
    #[error("cannot find a home directory for the data; pass --home DIR or set ICHING_HOME")]
    NoHome,
    /// A setting has a value that cannot work: the message names the setting, where it was
    /// given and what is accepted.
    #[error("{0}")]
    Invalid(String),
    /// A hosted provider was chosen without its key.
    #[error(
        "the {provider} provider needs an API key: set {var}, paste one in the terminal app (F7, then p), or choose another provider with --provider"
    )]
    MissingKey {
        /// The preset.
        provider: String,
        /// The environment variable to set.
        var: String,
    },
}
