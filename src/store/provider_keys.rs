//! API keys pasted in the terminal app, one per hosted preset, kept sealed in the store like
//! everything else (never in config.toml, never in a log).
//!
//! Each is a row of `meta` (no schema change): key `provider_key:NAME`, value the key sealed
//! under the store's key with the label `meta:provider_key:NAME`, so a key moved to another
//! preset's row does not open. The header tag covers every `meta` row, so a row changed,
//! added, removed or rolled back outside iching makes the store refuse to open ("its key
//! settings ..."), as a changed key mode does. Every change checks the header first and
//! re-tags it in the same savepoint; key changes re-seal these rows (`rekey.rs`), `verify`
//! opens them, and a backup (a copy of the file) holds them sealed; `restore` brings readings,
//! not these (a pasted key belongs to the store it was pasted into).

use rusqlite::{OptionalExtension, params};
use zeroize::Zeroizing;

use super::{Store, StoreError};
use crate::crypto::{Keys, Sealed};
use crate::model::Secret;

/// The `meta` key's prefix.
const PREFIX: &str = "provider_key:";

/// The longest key accepted, in bytes (the longest keys handed out are a few hundred).
pub const MAX_PROVIDER_KEY_BYTES: usize = 1024;

/// The sealing label of `provider`'s key.
fn aad(provider: &str) -> String {
    format!("meta:{PREFIX}{provider}")
}

impl Store {
    /// Seals `key` as `provider`'s pasted key (replacing one pasted before).
    pub fn set_provider_key(&self, provider: &str, key: &Secret) -> Result<(), StoreError> {
        if let Some(why) = &self.read_only {
            return Err(why.clone());
        }
        self.same_key()?;
        self.atomic(|| {
            self.check_header()?;
            let sealed = self
                .keys
                .seal(aad(provider).as_bytes(), key.expose().as_bytes());
            self.conn
                .execute(
                    "INSERT INTO meta (key, value) VALUES (?1, ?2)
                     ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    params![format!("{PREFIX}{provider}"), sealed.into_bytes()],
                )
                .map_err(|e| self.db_err(e))?;
            self.write_header_tag()
        })
    }

    /// Removes `provider`'s pasted key; `false` when there was none.
    pub fn remove_provider_key(&self, provider: &str) -> Result<bool, StoreError> {
        if let Some(why) = &self.read_only {
            return Err(why.clone());
        }
        self.same_key()?;
        self.atomic(|| {
            self.check_header()?;
            let n = self
                .conn
                .execute(
                    "DELETE FROM meta WHERE key = ?1",
                    [format!("{PREFIX}{provider}")],
                )
                .map_err(|e| self.db_err(e))?;
            self.write_header_tag()?;
            Ok(n > 0)
        })
    }

    /// `provider`'s pasted key, opened; `None` when none was pasted.
    pub fn provider_key(&self, provider: &str) -> Result<Option<Secret>, StoreError> {
        let blob: Option<Vec<u8>> = self
            .conn
            .query_row(
                "SELECT value FROM meta WHERE key = ?1",
                [format!("{PREFIX}{provider}")],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.db_err(e))?;
        blob.map(|b| self.open_provider_key(provider, b))
            .transpose()
    }

    /// Every pasted key, by preset, opened.
    pub fn provider_keys(&self) -> Result<Vec<(String, Secret)>, StoreError> {
        self.sealed_provider_keys()?
            .into_iter()
            .map(|(name, blob)| {
                let key = self.open_provider_key(&name, blob)?;
                Ok((name, key))
            })
            .collect()
    }

    /// The presets with a pasted key, and the sealed values.
    fn sealed_provider_keys(&self) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        self.conn
            .prepare("SELECT key, value FROM meta WHERE key LIKE 'provider_key:%' ORDER BY key")
            .and_then(|mut st| {
                st.query_map([], |r| {
                    let key: String = r.get(0)?;
                    Ok((key[PREFIX.len()..].to_owned(), r.get(1)?))
                })?
                .collect()
            })
            .map_err(|e| self.db_err(e))
    }

    fn open_provider_key(&self, provider: &str, blob: Vec<u8>) -> Result<Secret, StoreError> {
        let plain = Zeroizing::new(
            self.keys
                .open(aad(provider).as_bytes(), &Sealed::from_bytes(blob))
                .map_err(|_| self.provider_key_damaged(provider))?,
        );
        let text = std::str::from_utf8(&plain).map_err(|_| self.provider_key_damaged(provider))?;
        Ok(Secret::new(text))
    }

    fn provider_key_damaged(&self, provider: &str) -> StoreError {
        StoreError::Corrupt {
            path: self.path.clone(),
            reason: format!(
                "the API key pasted for {} does not open",
                crate::text::sanitize_inline(provider)
            ),
        }
    }

    /// How many pasted keys there are, each opened (for `verify`).
    pub(super) fn check_provider_keys(&self) -> Result<usize, StoreError> {
        Ok(self.provider_keys()?.len())
    }

    /// Inside a key change's transaction: re-seals every pasted key with `new`; how many.
    pub(super) fn reseal_provider_keys(&self, new: &Keys) -> Result<usize, StoreError> {
        let sealed = self.sealed_provider_keys()?;
        for (name, blob) in &sealed {
            let key = self.open_provider_key(name, blob.clone())?;
            let again = new.seal(aad(name).as_bytes(), key.expose().as_bytes());
            self.conn
                .execute(
                    "UPDATE meta SET value = ?2 WHERE key = ?1",
                    params![format!("{PREFIX}{name}"), again.into_bytes()],
                )
                .map_err(|e| self.db_err(e))?;
        }
        Ok(sealed.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{NewSecret, Unlock};

    const KEY: &str = "sk-proj-pasted-0123456789abcdef";

    #[test]
    fn a_pasted_key_is_sealed_in_the_file_opens_again_and_goes() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), Unlock::default()).unwrap();
        assert_eq!(store.provider_key("openai").unwrap(), None);
        store.set_provider_key("openai", &Secret::new(KEY)).unwrap();
        drop(store);
        // Nowhere in the file in the clear.
        let _ = rusqlite::Connection::open(dir.path().join(super::super::DB_FILE))
            .unwrap()
            .execute_batch("PRAGMA wal_checkpoint(TRUNCATE)");
        let bytes = std::fs::read(dir.path().join(super::super::DB_FILE)).unwrap();
        assert!(
            !bytes.windows(KEY.len()).any(|w| w == KEY.as_bytes()),
            "the key is in the clear"
        );
        let store = Store::open(dir.path(), Unlock::default()).unwrap();
        assert_eq!(store.provider_key("openai").unwrap().unwrap().expose(), KEY);
        assert_eq!(store.provider_key("groq").unwrap(), None);
        assert_eq!(store.check_provider_keys().unwrap(), 1);
        assert!(store.verify().unwrap().clean());
        assert!(store.remove_provider_key("openai").unwrap());
        assert!(!store.remove_provider_key("openai").unwrap());
        drop(store);
        let store = Store::open(dir.path(), Unlock::default()).unwrap();
        assert!(store.provider_keys().unwrap().is_empty());
    }

    #[test]
    fn a_key_row_changed_outside_iching_stops_the_store_opening() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), Unlock::default()).unwrap();
        store.set_provider_key("openai", &Secret::new(KEY)).unwrap();
        store
            .set_provider_key("groq", &Secret::new("gsk-2"))
            .unwrap();
        drop(store);
        let db = dir.path().join(super::super::DB_FILE);
        for sql in [
            // Another value, the row removed, groq's key moved to openai's row.
            "UPDATE meta SET value = X'00' WHERE key = 'provider_key:openai'",
            "DELETE FROM meta WHERE key = 'provider_key:openai'",
            "UPDATE meta SET value = (SELECT value FROM meta WHERE key = 'provider_key:groq')
             WHERE key = 'provider_key:openai'",
        ] {
            let copy = tempfile::tempdir().unwrap();
            for f in [super::super::DB_FILE, super::super::KEY_FILE] {
                std::fs::copy(dir.path().join(f), copy.path().join(f)).unwrap();
            }
            let _ = &db;
            rusqlite::Connection::open(copy.path().join(super::super::DB_FILE))
                .unwrap()
                .execute_batch(sql)
                .unwrap();
            let opened = Store::open(copy.path(), Unlock::default());
            assert!(
                matches!(opened, Err(StoreError::HeaderChanged { .. })),
                "{sql}: {opened:?}"
            );
        }
    }

    #[test]
    fn a_key_under_another_presets_label_does_not_open_and_verify_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), Unlock::default()).unwrap();
        store
            .set_provider_key("groq", &Secret::new("gsk-2"))
            .unwrap();
        // Even re-tagged with the store's own key (as iching would), groq's sealed key in
        // openai's row does not open: the label names the preset.
        store
            .exec(
                "INSERT INTO meta (key, value)
                 SELECT 'provider_key:openai', value FROM meta WHERE key = 'provider_key:groq'",
            )
            .unwrap();
        store.write_header_tag().unwrap();
        assert!(matches!(
            store.provider_key("openai"),
            Err(StoreError::Corrupt { .. })
        ));
        assert_eq!(
            store.provider_key("groq").unwrap().unwrap().expose(),
            "gsk-2"
        );
        let checked = store.verify().unwrap();
        assert!(!checked.clean());
        assert!(
            checked.file_problems.iter().any(|p| p.contains("openai")),
            "{:?}",
            checked.file_problems
        );
    }

    #[test]
    fn a_key_rotation_and_a_passphrase_reseal_the_pasted_keys() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path(), Unlock::default()).unwrap();
        store.set_provider_key("openai", &Secret::new(KEY)).unwrap();
        let old_key: [u8; 32] = std::fs::read(dir.path().join(super::super::KEY_FILE))
            .unwrap()
            .try_into()
            .unwrap();
        let before: Vec<u8> = store
            .conn
            .query_row(
                "SELECT value FROM meta WHERE key = 'provider_key:openai'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        let done = store.rekey(NewSecret::KeyFile).unwrap();
        assert!(done.sealed >= 1);
        drop(store);
        let store = Store::open(dir.path(), Unlock::default()).unwrap();
        let after: Vec<u8> = store
            .conn
            .query_row(
                "SELECT value FROM meta WHERE key = 'provider_key:openai'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_ne!(before, after, "sealed again under the new key");
        assert_eq!(store.provider_key("openai").unwrap().unwrap().expose(), KEY);
        // The old key no longer opens it.
        let old = Keys::derive(&crate::crypto::MasterKey::from_bytes(old_key));
        assert!(
            old.open(aad("openai").as_bytes(), &Sealed::from_bytes(before))
                .is_ok()
        );
        assert!(
            old.open(aad("openai").as_bytes(), &Sealed::from_bytes(after))
                .is_err()
        );
        drop(store);
        let mut store = Store::open(dir.path(), Unlock::default()).unwrap();
        store
            .rekey_with(
                NewSecret::Passphrase(Secret::new("a long passphrase here")),
                Some(super::super::keys::Kdf::Pbkdf2 {
                    salt: [3; 16],
                    rounds: 2,
                }),
            )
            .unwrap();
        drop(store);
        let store = Store::open(dir.path(), Unlock::passphrase("a long passphrase here")).unwrap();
        assert_eq!(store.provider_key("openai").unwrap().unwrap().expose(), KEY);
        assert!(store.verify().unwrap().clean());
    }
}
