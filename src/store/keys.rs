//! Where the store's keys come from, decided when it opens.
//!
//! - **Key file** (the default): 32 random bytes in `iching.key` beside the database, mode 0600,
//!   written only when no database exists yet. An existing database whose key file is missing is
//!   an error (a new key could never open the old readings); a key file found without a
//!   database is refused with what to do (it opens nothing on its own).
//! - **Passphrase** (`ICHING_PASSPHRASE`, or a prompt the front end shows): PBKDF2-HMAC-SHA256
//!   with a random 16-byte salt and the round count (600,000) kept in `meta`, so the same
//!   passphrase derives the same key on every open. Whichever a database was created with is
//!   recorded in `meta` and is the only way to open it.
//!
//! Either way the key is checked against a sealed key-check value before anything is written.

use std::fs::OpenOptions;
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use zeroize::Zeroizing;

use super::{Field, StoreError, Unlock};
use crate::crypto::Sealed;
use crate::crypto::{Keys, MasterKey, PBKDF2_ROUNDS, new_salt};

/// The environment variable holding the passphrase.
pub const PASSPHRASE_ENV: &str = "ICHING_PASSPHRASE";

/// The plaintext of the sealed key-check value.
pub(super) const KEY_CHECK: &[u8] = b"iching key check v1";

/// How a store's master key is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyMode {
    /// A random key in `iching.key`.
    KeyFile,
    /// A passphrase through PBKDF2.
    Passphrase,
}

impl KeyMode {
    /// The name stored in `meta`.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyMode::KeyFile => "keyfile",
            KeyMode::Passphrase => "passphrase",
        }
    }

    pub(super) fn parse(s: &str) -> Option<Self> {
        match s {
            "keyfile" => Some(KeyMode::KeyFile),
            "passphrase" => Some(KeyMode::Passphrase),
            _ => None,
        }
    }
}

/// What the read-only inspection of an existing database found.
#[derive(Debug)]
pub(super) struct Found {
    /// How its key is kept.
    pub mode: KeyMode,
    /// PBKDF2 salt and rounds (passphrase mode).
    pub kdf: Option<([u8; 16], u32)>,
    /// The sealed key-check value.
    pub check: Sealed,
}

/// What a new database records about its key in `meta`.
#[derive(Debug, Clone, Copy)]
pub(super) struct NewKey {
    pub mode: KeyMode,
    /// PBKDF2 salt and rounds, for a passphrase.
    pub kdf: Option<([u8; 16], u32)>,
}

/// The keys of an existing database, checked against its key-check value.
pub(super) fn unlock_existing(
    db: &Path,
    key_path: &Path,
    found: &Found,
    unlock: &Unlock,
) -> Result<(Keys, KeyMode), StoreError> {
    let keys = match found.mode {
        KeyMode::KeyFile => {
            if unlock.passphrase.is_some() {
                return Err(StoreError::PassphraseNotUsed {
                    db: db.to_path_buf(),
                    key: key_path.to_path_buf(),
                });
            }
            let master = read_key_file(key_path)?.ok_or_else(|| StoreError::KeyFileMissing {
                key: key_path.to_path_buf(),
                db: db.to_path_buf(),
            })?;
            Keys::derive(&master)
        }
        KeyMode::Passphrase => {
            let Some(passphrase) = &unlock.passphrase else {
                return Err(StoreError::PassphraseNeeded {
                    db: db.to_path_buf(),
                });
            };
            let (salt, rounds) = found.kdf.as_ref().ok_or_else(|| StoreError::Corrupt {
                path: db.to_path_buf(),
                reason: "its passphrase salt is missing".into(),
            })?;
            Keys::derive(&MasterKey::from_passphrase_with_rounds(
                passphrase, salt, *rounds,
            ))
        }
    };
    let opened = keys.open(Field::KeyCheck.aad().as_bytes(), &found.check);
    if !matches!(opened.as_deref(), Ok(KEY_CHECK)) {
        return Err(match found.mode {
            KeyMode::KeyFile => StoreError::WrongKeyFile {
                key: key_path.to_path_buf(),
                db: db.to_path_buf(),
            },
            KeyMode::Passphrase => StoreError::WrongPassphrase {
                db: db.to_path_buf(),
            },
        });
    }
    Ok((keys, found.mode))
}

/// The keys of a database about to be created: from the passphrase, or from the key file
/// (reused if one is there, else generated and written with mode 0600).
pub(super) fn unlock_new(key_path: &Path, unlock: &Unlock) -> Result<(Keys, NewKey), StoreError> {
    if let Some(passphrase) = &unlock.passphrase {
        let salt = new_salt();
        let rounds = unlock.new_rounds.unwrap_or(PBKDF2_ROUNDS).max(1);
        let master = MasterKey::from_passphrase_with_rounds(passphrase, &salt, rounds);
        return Ok((
            Keys::derive(&master),
            NewKey {
                mode: KeyMode::Passphrase,
                kdf: Some((salt, rounds)),
            },
        ));
    }
    let master = write_new_key_file(key_path)?;
    Ok((
        Keys::derive(&master),
        NewKey {
            mode: KeyMode::KeyFile,
            kdf: None,
        },
    ))
}

/// The master key in `path`; `None` when there is no such file.
fn read_key_file(path: &Path) -> Result<Option<MasterKey>, StoreError> {
    let invalid = |reason: String| StoreError::KeyFileInvalid {
        path: path.to_path_buf(),
        reason,
    };
    let mut file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(invalid(format!("cannot read it: {e}"))),
    };
    let mut bytes = Zeroizing::new(Vec::with_capacity(33));
    // Read one byte past the key's length so an over-long file is caught.
    (&mut file)
        .take(33)
        .read_to_end(&mut bytes)
        .map_err(|e| invalid(format!("cannot read it: {e}")))?;
    let key: [u8; 32] = bytes
        .as_slice()
        .try_into()
        .map_err(|_| invalid(format!("it holds {} bytes, not 32", bytes.len())))?;
    Ok(Some(MasterKey::from_bytes(key)))
}

/// Generates a master key and writes it to a new file with mode 0600.
fn write_new_key_file(path: &Path) -> Result<MasterKey, StoreError> {
    let master = MasterKey::generate();
    let unwritable = |e: std::io::Error| StoreError::io(path, "cannot write the key file", &e);
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(unwritable)?;
    file.write_all(master.as_bytes()).map_err(unwritable)?;
    file.sync_all().map_err(unwritable)?;
    Ok(master)
}
