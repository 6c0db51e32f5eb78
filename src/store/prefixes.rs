//! A reading's shared request prefix: what every section's request of one reading begins with
//! (the system prompt and the reading's JSON, some 8 KB), stored once per reading instead of
//! once per section.
//!
//! - `request_prefixes(reading_id, prefix)`: one row per reading, deleted with it; `prefix` is
//!   sealed as `reading:{id}:request_prefix`, so a prefix moved to another reading does not open.
//!   It is written by the first save that offers one and never changed after.
//! - A part whose request begins with its reading's prefix stores only the rest, sealed as
//!   `part:{id}:{s}:request_tail`, with `request_shared = 1`; any other request is stored whole,
//!   as `part:{id}:{s}:request`, with `request_shared = 0` (every part of a version-7 store).
//!   The flag decides the label, so flipping it makes the request fail to open, and a part that
//!   says it is shared where no prefix is stored fails too: a request reads back byte for byte
//!   as it was sent, or not at all.

use std::sync::Arc;

use rusqlite::OptionalExtension;

use super::{Field, Store, StoreError};
use crate::model::ReadingId;

/// How many readings' prefixes a store keeps at hand while they are written (a batch runs a few
/// hundred at once); past it the cache starts over.
const CACHED: usize = 1024;

/// What `requests` all begin with (cut at a character boundary), when there are two or more:
/// the prefix to offer for a reading copied from a store that kept none (schema 7).
pub(super) fn common_prefix<'a>(mut requests: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let first = requests.next()?;
    let mut len = first.len();
    let mut others = 0;
    for r in requests {
        others += 1;
        len = first
            .bytes()
            .zip(r.bytes())
            .take(len)
            .take_while(|(a, b)| a == b)
            .count();
    }
    while !first.is_char_boundary(len) {
        len -= 1;
    }
    (others > 0 && len > 0).then(|| &first[..len])
}

impl Store {
    /// Reading `id`'s shared request prefix, opened; `None` when it has none (a reading of
    /// schema 7, or one that never saved a request).
    pub fn request_prefix(&self, id: ReadingId) -> Result<Option<String>, StoreError> {
        if !self.shared_prefixes {
            return Ok(None);
        }
        let blob: Option<Vec<u8>> = self
            .conn
            .prepare_cached("SELECT prefix FROM request_prefixes WHERE reading_id = ?1")
            .and_then(|mut st| st.query_row([id], |r| r.get(0)).optional())
            .map_err(|e| self.db_err(e))?;
        blob.map(|b| self.open_text(Field::RequestPrefix(id), b))
            .transpose()
    }

    /// The prefix reading `id`'s requests are stored against: the one it has, else `offered`,
    /// stored now. `None` when `offered` is empty. Inside the caller's transaction.
    pub(super) fn shared_prefix(
        &self,
        id: ReadingId,
        offered: &str,
    ) -> Result<Option<Arc<str>>, StoreError> {
        if offered.is_empty() || !self.shared_prefixes {
            return Ok(None);
        }
        let stored: bool = self
            .conn
            .prepare_cached("SELECT count(*) > 0 FROM request_prefixes WHERE reading_id = ?1")
            .and_then(|mut st| st.query_row([id], |r| r.get(0)))
            .map_err(|e| self.db_err(e))?;
        // The row is looked at every time: a cached prefix whose insert was rolled back must
        // not have parts stored against it.
        if stored && let Some(known) = self.prefixes.borrow().get(&id) {
            return Ok(Some(Arc::clone(known)));
        }
        let prefix: Arc<str> = if stored {
            let opened = self
                .request_prefix(id)?
                .ok_or_else(|| self.missing_prefix(id))?;
            Arc::from(opened)
        } else {
            let sealed = self.seal(Field::RequestPrefix(id), offered.as_bytes());
            self.conn
                .prepare_cached("INSERT INTO request_prefixes (reading_id, prefix) VALUES (?1, ?2)")
                .and_then(|mut st| st.execute(rusqlite::params![id, sealed.as_bytes()]))
                .map_err(|e| self.db_err(e))?;
            Arc::from(offered)
        };
        let mut cache = self.prefixes.borrow_mut();
        if cache.len() >= CACHED {
            cache.clear();
        }
        cache.insert(id, Arc::clone(&prefix));
        Ok(Some(prefix))
    }

    /// Lets go of reading `id`'s cached prefix (its run is over).
    pub(super) fn forget_prefix(&self, id: ReadingId) {
        self.prefixes.borrow_mut().remove(&id);
    }

    /// A part stored against a prefix that is not there.
    pub(super) fn missing_prefix(&self, id: ReadingId) -> StoreError {
        StoreError::Integrity {
            id,
            field: Field::RequestPrefix(id).describe(),
        }
    }
}
