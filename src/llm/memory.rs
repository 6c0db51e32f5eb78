//! What was learned of each endpoint, kept across runs in a small JSON file in the data folder
//! (`iching-endpoints.json`, mode 0600): per endpoint and model, the request fields it takes; per
//! endpoint, how many requests it serves at once and at what number it cut streams. The next
//! reading starts from there and pays nothing to learn it again.
//!
//! Knowledge ages: fields learned from a refusal are tried richer again after
//! [`FIELDS_TTL`] (a server may have been upgraded), and a level that cut streams may be
//! reached again after [`CUT_TTL`]. The file holds endpoint URLs (without credentials) and model
//! names, nothing else; a file that does not parse is ignored and rewritten.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::negotiate::Fields;

/// The file's name in the data folder.
pub const FILE: &str = "iching-endpoints.json";
/// How long learned fields hold before the richer ones are tried again.
pub const FIELDS_TTL: Duration = Duration::from_secs(7 * 24 * 3600);
/// How long a level that cut streams is not reached again.
pub const CUT_TTL: Duration = Duration::from_secs(24 * 3600);

/// What is remembered of how many requests an endpoint serves at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capacity {
    /// The limit in force when it was last saved.
    pub limit: usize,
    /// The number in flight at which the server last cut a stream, if it did.
    #[serde(default)]
    pub cut_at: Option<usize>,
    /// When the cut was seen (seconds since the epoch).
    #[serde(default)]
    pub cut_when: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Endpoint {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    capacity: Option<Capacity>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    models: BTreeMap<String, Learned>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Learned {
    fields: Fields,
    /// When (seconds since the epoch).
    when: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Contents {
    version: u32,
    #[serde(default)]
    endpoints: BTreeMap<String, Endpoint>,
}

/// The file, read and written whole (it is a few hundred bytes).
#[derive(Debug)]
pub struct Memory {
    path: PathBuf,
    lock: Mutex<()>,
}

/// Seconds since the epoch.
pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Memory {
    /// The memory kept in `dir` (the data folder).
    pub fn in_dir(dir: &Path) -> Self {
        Self {
            path: dir.join(FILE),
            lock: Mutex::new(()),
        }
    }

    /// Where it is kept.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn read(&self) -> Contents {
        std::fs::read(&self.path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    fn update(&self, change: impl FnOnce(&mut Contents)) {
        let _guard = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
        let mut contents = self.read();
        contents.version = 1;
        change(&mut contents);
        let Ok(bytes) = serde_json::to_vec_pretty(&contents) else {
            return;
        };
        // Written beside it and renamed over it: a reader sees the old file or the new one.
        let tmp = self
            .path
            .with_extension(format!("tmp-{}", std::process::id()));
        let written = {
            use std::io::Write;
            use std::os::unix::fs::OpenOptionsExt;
            std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&tmp)
                .and_then(|mut f| f.write_all(&bytes))
        };
        if written
            .and_then(|()| std::fs::rename(&tmp, &self.path))
            .is_err()
        {
            let _ = std::fs::remove_file(&tmp);
            tracing::debug!("the endpoint memory could not be written");
        }
    }

    /// The fields `model` at `url` was last known to take, unless that is older than
    /// [`FIELDS_TTL`].
    pub fn fields(&self, url: &str, model: &str) -> Option<Fields> {
        let contents = self.read();
        let learned = contents.endpoints.get(url)?.models.get(model)?;
        (now_secs().saturating_sub(learned.when) < FIELDS_TTL.as_secs()).then_some(learned.fields)
    }

    /// Remembers that `model` at `url` takes `fields`.
    pub fn save_fields(&self, url: &str, model: &str, fields: Fields) {
        self.update(|c| {
            c.endpoints
                .entry(url.to_owned())
                .or_default()
                .models
                .insert(
                    model.to_owned(),
                    Learned {
                        fields,
                        when: now_secs(),
                    },
                );
        });
    }

    /// What is known of how many requests `url` serves at once.
    pub fn capacity(&self, url: &str) -> Option<Capacity> {
        self.read().endpoints.get(url)?.capacity
    }

    /// Remembers how many requests `url` serves at once.
    pub fn save_capacity(&self, url: &str, capacity: Capacity) {
        self.update(|c| {
            c.endpoints.entry(url.to_owned()).or_default().capacity = Some(capacity);
        });
    }

    /// Everything remembered, for `doctor --json`: per endpoint, its capacity and its models'
    /// fields with their age in seconds.
    pub fn describe(&self, url: &str) -> serde_json::Value {
        let contents = self.read();
        let Some(e) = contents.endpoints.get(url) else {
            return serde_json::Value::Null;
        };
        let now = now_secs();
        serde_json::json!({
            "capacity": e.capacity,
            "models": e.models.iter().map(|(m, l)| (m.clone(), serde_json::json!({
                "fields": l.fields,
                "age_secs": now.saturating_sub(l.when),
            }))).collect::<serde_json::Map<String, serde_json::Value>>(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::preset::{Structured, TokenParam};

    #[test]
    fn what_is_saved_is_read_back_by_another_memory_of_the_same_folder() {
        let dir = tempfile::tempdir().unwrap();
        let a = Memory::in_dir(dir.path());
        let f = Fields {
            stream_options: false,
            ..Fields::new(TokenParam::MaxTokens, Structured::JsonObject)
        };
        a.save_fields("http://h/v1", "m", f);
        a.save_capacity(
            "http://h/v1",
            Capacity {
                limit: 1,
                cut_at: Some(2),
                cut_when: 5,
            },
        );
        let b = Memory::in_dir(dir.path());
        assert_eq!(b.fields("http://h/v1", "m"), Some(f));
        assert_eq!(b.fields("http://h/v1", "other"), None);
        assert_eq!(b.capacity("http://h/v1").unwrap().cut_at, Some(2));
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(b.path()).unwrap().permissions(),
        );
        assert_eq!(mode & 0o777, 0o600);
        // Old knowledge is tried again: a server may have been upgraded.
        b.update(|c| {
            c.endpoints
                .get_mut("http://h/v1")
                .unwrap()
                .models
                .get_mut("m")
                .unwrap()
                .when = now_secs() - FIELDS_TTL.as_secs() - 1;
        });
        assert_eq!(b.fields("http://h/v1", "m"), None);
        // A damaged file is no knowledge, and is written over.
        std::fs::write(b.path(), b"{not json").unwrap();
        assert_eq!(b.capacity("http://h/v1"), None);
        b.save_fields("http://h/v1", "m", f);
        assert_eq!(b.fields("http://h/v1", "m"), Some(f));
    }
}
