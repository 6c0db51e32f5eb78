//! Where the store's keys come from, decided when it opens.
//!
//! - **Key file** (the default): 32 random bytes in `iching.key` beside the database, mode 0600,
//!   written only when no database exists yet. An existing database whose key file is missing is
//!   an error (a new key could never open the old readings); a key file found without a
//!   database is refused with what to do (it opens nothing on its own).
//! - **Passphrase** (`ICHING_PASSPHRASE`, or a prompt the front end shows): Argon2id (19 MiB,
//!   2 passes, 1 lane: OWASP's first choice) with a random 16-byte salt, the algorithm and its
//!   parameters kept in `meta` (`kdf`, `kdf_salt`, `kdf_params`), so the same passphrase derives
//!   the same key on every open. Stores made before Argon2id use PBKDF2-HMAC-SHA256 (no `kdf`
//!   row, `kdf_rounds` = 600,000); they keep opening, and changing the passphrase moves them to
//!   Argon2id. The parameters are bounded before any work is done with them and covered by the
//!   header tag. Whichever way a database was created is recorded in `meta` and is the only way
//!   to open it.
//!
//! Either way the key is checked against a sealed key-check value before anything is written.

use std::fs::OpenOptions;
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use super::{Field, StoreError, Unlock};
use crate::crypto::Sealed;
use crate::crypto::{Argon2Params, Keys, MasterKey, PBKDF2_ROUNDS, new_salt};
use crate::model::Secret;

/// How a passphrase becomes the master key: the algorithm, its salt and its parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kdf {
    /// PBKDF2-HMAC-SHA256 (stores made before Argon2id).
    Pbkdf2 {
        /// The salt.
        salt: [u8; 16],
        /// The round count.
        rounds: u32,
    },
    /// Argon2id.
    Argon2id {
        /// The salt.
        salt: [u8; 16],
        /// Memory, passes and lanes.
        params: Argon2Params,
    },
}

/// The most PBKDF2 rounds a store may ask for: four times what iching wrote, about two
/// seconds in a release build.
pub(super) const MAX_KDF_ROUNDS: u32 = 4 * PBKDF2_ROUNDS;
/// The most Argon2id memory a store may ask for, in KiB (256 MiB).
const MAX_ARGON2_KIB: u32 = 256 * 1024;
/// The most Argon2id passes and lanes a store may ask for.
const MAX_ARGON2_PASSES: u32 = 16;
const MAX_ARGON2_LANES: u32 = 8;

impl Kdf {
    /// Argon2id with the product's parameters and a fresh salt.
    pub fn new_argon2id() -> Self {
        Kdf::Argon2id {
            salt: new_salt(),
            params: Argon2Params::DEFAULT,
        }
    }

    /// The master key `passphrase` derives; `None` when the parameters are unusable.
    pub fn derive(&self, passphrase: &str) -> Option<MasterKey> {
        match *self {
            Kdf::Pbkdf2 { salt, rounds } => Some(MasterKey::from_passphrase_with_rounds(
                passphrase, &salt, rounds,
            )),
            Kdf::Argon2id { salt, params } => MasterKey::from_argon2id(passphrase, &salt, params),
        }
    }

    /// What `meta` holds for it.
    pub(super) fn meta_rows(&self) -> Vec<(&'static str, Vec<u8>)> {
        match self {
            Kdf::Pbkdf2 { salt, rounds } => vec![
                ("kdf_salt", salt.to_vec()),
                ("kdf_rounds", rounds.to_string().into_bytes()),
            ],
            Kdf::Argon2id { salt, params } => vec![
                ("kdf", b"argon2id".to_vec()),
                ("kdf_salt", salt.to_vec()),
                (
                    "kdf_params",
                    format!("m={},t={},p={}", params.m_kib, params.t, params.p).into_bytes(),
                ),
            ],
        }
    }

    /// Reads it from `meta` (`get` looks a key up). `Ok(None)` when a part is missing; `Err`
    /// says which parameter is outside what iching accepts (checked before any work is done
    /// with it: a raised cost would otherwise make every open slow, or exhaust memory).
    pub(super) fn from_meta(get: impl Fn(&str) -> Option<Vec<u8>>) -> Result<Option<Self>, String> {
        let text = |key: &str| get(key).and_then(|v| String::from_utf8(v).ok());
        let Some(salt) = get("kdf_salt").and_then(|s| <[u8; 16]>::try_from(s).ok()) else {
            return Ok(None);
        };
        match text("kdf").as_deref() {
            None | Some("pbkdf2-sha256") => {
                let Some(rounds) = text("kdf_rounds").and_then(|r| r.parse::<u32>().ok()) else {
                    return Ok(None);
                };
                if !(1..=MAX_KDF_ROUNDS).contains(&rounds) {
                    return Err(format!(
                        "its passphrase round count is {rounds}, outside the 1 to {MAX_KDF_ROUNDS} iching accepts"
                    ));
                }
                Ok(Some(Kdf::Pbkdf2 { salt, rounds }))
            }
            Some("argon2id") => {
                let Some(params) = text("kdf_params").as_deref().and_then(parse_params) else {
                    return Ok(None);
                };
                let Argon2Params { m_kib, t, p } = params;
                if !(1..=MAX_ARGON2_PASSES).contains(&t)
                    || !(1..=MAX_ARGON2_LANES).contains(&p)
                    || !(8 * p..=MAX_ARGON2_KIB).contains(&m_kib)
                {
                    return Err(format!(
                        "its Argon2id parameters are m={m_kib},t={t},p={p}, outside what iching accepts (at most {MAX_ARGON2_KIB} KiB, {MAX_ARGON2_PASSES} passes, {MAX_ARGON2_LANES} lanes)"
                    ));
                }
                Ok(Some(Kdf::Argon2id { salt, params }))
            }
            Some(other) => Err(format!(
                "its passphrase algorithm is {other:?}, which iching does not know"
            )),
        }
    }
}

/// `m=19456,t=2,p=1`.
fn parse_params(s: &str) -> Option<Argon2Params> {
    let mut m_kib = None;
    let mut t = None;
    let mut p = None;
    for part in s.split(',') {
        let (key, value) = part.split_once('=')?;
        let value: u32 = value.parse().ok()?;
        match key {
            "m" => m_kib = Some(value),
            "t" => t = Some(value),
            "p" => p = Some(value),
            _ => return None,
        }
    }
    Some(Argon2Params {
        m_kib: m_kib?,
        t: t?,
        p: p?,
    })
}

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
    /// How the passphrase becomes the key (passphrase mode).
    pub kdf: Option<Kdf>,
    /// The sealed key-check value.
    pub check: Sealed,
}

/// What a new database records about its key in `meta`.
#[derive(Debug, Clone, Copy)]
pub(super) struct NewKey {
    pub mode: KeyMode,
    /// How the passphrase becomes the key, for a passphrase.
    pub kdf: Option<Kdf>,
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
            match key_file_keys(db, key_path, found)? {
                Some(keys) => return Ok((keys, found.mode)),
                None if !key_path.exists() => {
                    return Err(StoreError::KeyFileMissing {
                        key: key_path.to_path_buf(),
                        db: db.to_path_buf(),
                    });
                }
                None => {
                    return Err(StoreError::WrongKeyFile {
                        key: key_path.to_path_buf(),
                        db: db.to_path_buf(),
                    });
                }
            }
        }
        KeyMode::Passphrase => {
            let Some(passphrase) = unlock.passphrase.as_ref().map(Secret::expose) else {
                return Err(StoreError::PassphraseNeeded {
                    db: db.to_path_buf(),
                });
            };
            let kdf = found.kdf.as_ref().ok_or_else(|| StoreError::Corrupt {
                path: db.to_path_buf(),
                reason: "its passphrase salt is missing".into(),
            })?;
            let master = kdf
                .derive(passphrase)
                .ok_or_else(|| StoreError::HeaderChanged {
                    path: db.to_path_buf(),
                    what: "its passphrase parameters are ones Argon2 refuses".into(),
                })?;
            Keys::derive(&master)
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
    if found.mode == KeyMode::Passphrase {
        remove_stale_key_files(key_path);
    }
    Ok((keys, found.mode))
}

/// For a store the passphrase just opened: removes the staged key of a `passphrase remove`
/// that stopped before it committed (never used to seal anything). Not while a key change
/// holds the lock. (An `iching.key` beside a passphrase store is not removed: it may belong to
/// another database; the store says so instead.)
fn remove_stale_key_files(key_path: &Path) {
    let dir = key_path.parent().unwrap_or(Path::new("."));
    let Some(_lock) = std::fs::File::open(dir.join(super::LOCK_FILE))
        .ok()
        .filter(|l| l.try_lock().is_ok())
    else {
        return;
    };
    let staged = staged_key_path(key_path);
    if std::fs::remove_file(&staged).is_ok() {
        tracing::warn!(file = %staged.display(), "removed a key file no key change uses");
        sync_dir(dir);
    }
}

/// The fewest characters a new passphrase may have.
pub const MIN_PASSPHRASE_CHARS: usize = 8;

/// Whether `passphrase` is strong enough to seal a store with: at least
/// [`MIN_PASSPHRASE_CHARS`] characters, not whitespace alone, and at least four different
/// characters besides spaces (`aaaaaaaa` and `12121212` guard nothing). Says what is missing.
pub fn passphrase_strength(passphrase: &str) -> Result<(), String> {
    // Only what can be seen counts: invisible characters (zero-width spaces, controls) are no
    // more a secret than spaces are.
    let shown: Vec<char> = passphrase
        .chars()
        .filter(|&c| !crate::text::hidden(c))
        .collect();
    let chars = shown.len();
    if chars < MIN_PASSPHRASE_CHARS {
        return Err(format!(
            "a passphrase needs at least {MIN_PASSPHRASE_CHARS} characters (this one has {chars})"
        ));
    }
    let mut distinct: Vec<char> = shown.into_iter().filter(|c| !c.is_whitespace()).collect();
    distinct.sort_unstable();
    distinct.dedup();
    match distinct.len() {
        0 => Err(
            "a passphrase of spaces or invisible characters alone guards nothing: use words or characters"
                .into(),
        ),
        1..=3 => Err(
            "a passphrase needs at least 4 different characters besides spaces: a few words of your own are best"
                .into(),
        ),
        _ => Ok(()),
    }
}

/// The keys of a database about to be created: from the passphrase, or from the key file
/// (reused if one is there, else generated and written with mode 0600).
pub(super) fn unlock_new(key_path: &Path, unlock: &Unlock) -> Result<(Keys, NewKey), StoreError> {
    if let Some(passphrase) = unlock.passphrase.as_ref().map(Secret::expose) {
        if unlock.new_rounds.is_none() {
            passphrase_strength(passphrase).map_err(|why| StoreError::WeakPassphrase { why })?;
        }
        let kdf = match unlock.new_rounds {
            Some(rounds) => Kdf::Pbkdf2 {
                salt: new_salt(),
                rounds: rounds.max(1),
            },
            None => Kdf::new_argon2id(),
        };
        let master = derive_new(&kdf, passphrase)?;
        return Ok((
            Keys::derive(&master),
            NewKey {
                mode: KeyMode::Passphrase,
                kdf: Some(kdf),
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

/// The master key a new passphrase derives with `kdf` (parameters iching chose, so they work).
pub(super) fn derive_new(kdf: &Kdf, passphrase: &str) -> Result<MasterKey, StoreError> {
    kdf.derive(passphrase).ok_or_else(|| StoreError::Database {
        path: std::path::PathBuf::new(),
        reason: "the passphrase parameters do not work".into(),
    })
}

/// The master key in `path`; `None` when there is no such file.
pub(super) fn read_key_file(path: &Path) -> Result<Option<MasterKey>, StoreError> {
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
    write_key_file(path, &master)?;
    Ok(master)
}

/// Writes `master` to the new file `path` (mode 0600), synced.
pub(super) fn write_key_file(path: &Path, master: &MasterKey) -> Result<(), StoreError> {
    let unwritable = |e: std::io::Error| StoreError::io(path, "cannot write the key file", &e);
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(unwritable)?;
    file.write_all(master.as_bytes()).map_err(unwritable)?;
    file.sync_all().map_err(unwritable)
}

/// Syncs the folder `dir`, so a rename or removal in it survives a power cut.
pub(super) fn sync_dir(dir: &Path) {
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

/// The key file a key change writes before the database is re-sealed, renamed over
/// `iching.key` once the database has committed.
pub(super) fn staged_key_path(key_path: &Path) -> std::path::PathBuf {
    key_path.with_file_name(STAGED_KEY_FILE)
}

/// The staged key file's name.
pub(super) const STAGED_KEY_FILE: &str = "iching.key.new";

/// How a key file kept after a key change begins: `iching.key.old-2026-12-08T004105Z`.
pub const OLD_KEY_PREFIX: &str = "iching.key.old-";

/// The keys kept beside `key_path` by earlier key changes, oldest first (their names sort by
/// time).
pub(super) fn kept_keys(key_path: &Path) -> Vec<PathBuf> {
    let dir = key_path.parent().unwrap_or(Path::new("."));
    let mut kept: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter(|e| e.file_name().to_string_lossy().starts_with(OLD_KEY_PREFIX))
                .map(|e| e.path())
                .collect()
        })
        .unwrap_or_default();
    kept.sort();
    kept
}

/// Keeps the key in `key_path` as a new file beside it named for the time `now_ms` (UTC; mode
/// 0600, synced, never over a file: a second change in the same second gets `-2`), for the
/// backups sealed with it. The user removes it when no backup needs it.
pub(super) fn keep_old_key(key_path: &Path, now_ms: i64) -> Result<PathBuf, StoreError> {
    let master = read_key_file(key_path)?.ok_or_else(|| StoreError::KeyFileMissing {
        key: key_path.to_path_buf(),
        db: key_path.with_file_name(super::DB_FILE),
    })?;
    let stamp: String = crate::when::Stamp::utc(now_ms)
        .rfc3339()
        .chars()
        .filter(|&c| c != ':')
        .collect();
    let path = (1u32..=1000)
        .map(|n| match n {
            1 => key_path.with_file_name(format!("{OLD_KEY_PREFIX}{stamp}")),
            n => key_path.with_file_name(format!("{OLD_KEY_PREFIX}{stamp}-{n}")),
        })
        .find(|p| std::fs::symlink_metadata(p).is_err())
        .unwrap_or_else(|| key_path.with_file_name(OLD_KEY_PREFIX));
    // Created exclusively: a name taken meanwhile fails rather than being written over.
    write_key_file(&path, &master)?;
    Ok(path)
}

/// The key that opens `found`'s key check, from `iching.key` or, after a key change that was
/// cut short between the database's commit and the rename, from `iching.key.new` (which is then
/// renamed into place). A staged key the database does not use is left from a change that
/// never committed and is removed. Neither happens while a key change holds the lock.
fn key_file_keys(db: &Path, key_path: &Path, found: &Found) -> Result<Option<Keys>, StoreError> {
    let opens = |keys: &Keys| {
        matches!(
            keys.open(Field::KeyCheck.aad().as_bytes(), &found.check)
                .as_deref(),
            Ok(KEY_CHECK)
        )
    };
    let staged = staged_key_path(key_path);
    let current = read_key_file(key_path)?.map(|m| Keys::derive(&m));
    let dir = key_path.parent().unwrap_or(Path::new("."));
    // Held by a key change in progress: leave its files alone.
    let lock = std::fs::File::open(dir.join(super::LOCK_FILE))
        .ok()
        .filter(|l| l.try_lock().is_ok());
    if let Some(keys) = current.filter(opens) {
        if lock.is_some() && staged.exists() {
            let _ = std::fs::remove_file(&staged);
            sync_dir(dir);
        }
        return Ok(Some(keys));
    }
    super::perms::check_key_file(&staged)?;
    let Some(keys) = read_key_file(&staged)?
        .map(|m| Keys::derive(&m))
        .filter(opens)
    else {
        return Ok(None);
    };
    if lock.is_some() && std::fs::rename(&staged, key_path).is_ok() {
        sync_dir(dir);
        tracing::warn!(db = %db.display(), "finished a key change that was cut short");
    }
    Ok(Some(keys))
}
