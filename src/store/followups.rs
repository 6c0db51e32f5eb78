//! Follow-up questions: one row per question asked about a reading and answered, written the
//! moment its answer is complete (an answer cut short by a crash or a failure is never half
//! kept). The question, the answer as received and the request are sealed as
//! `followup:{reading_id}:{followup_id}:{field}`; the plain columns (time, timings, token
//! counts, provider, model, how many sections the request left out) are tagged as
//! `followup:{reading_id}:{followup_id}:row`. Follow-ups go with their reading.

use std::collections::HashMap;

use std::fmt;

use rusqlite::params;

use super::tags::{Canon, Tagged};
use super::{Field, Store, StoreError};
use crate::events::{Usage, UsageSource};
use crate::model::ReadingId;

/// A follow-up's plain columns: what stats count, nothing opened.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FollowupFigures {
    /// Its id.
    pub id: i64,
    /// When it was asked (Unix ms).
    pub asked_at: i64,
    /// From sending the request to the end of the answer.
    pub latency_ms: u64,
    /// Time to first token, when text streamed.
    pub ttft_ms: Option<u64>,
    /// Token counts of the answer.
    pub usage: Usage,
    /// `offline` or `openai`.
    pub provider: String,
    /// The model that answered.
    pub model: String,
    /// How many of the reading's sections the request left out to stay within its budget.
    pub left_out: u32,
}

impl FollowupFigures {
    fn canon(&self, reading: ReadingId) -> Canon {
        let mut c = Canon::default();
        c.int(Some(reading.0))
            .int(Some(self.asked_at))
            .int(Some(int(self.latency_ms)))
            .int(self.ttft_ms.map(int))
            .int(Some(i64::from(self.usage.prompt_tokens)))
            .int(Some(i64::from(self.usage.completion_tokens)))
            .int(Some(i64::from(self.usage.reasoning_tokens)))
            .int(Some(i64::from(self.usage.cached_tokens)))
            .text(Some(self.usage.source.as_str()))
            .text(Some(&self.provider))
            .text(Some(&self.model))
            .int(Some(i64::from(self.left_out)));
        c
    }
}

/// Every follow-up's figures, with the readings whose follow-ups failed their check.
#[derive(Debug, Clone, Default)]
pub struct AllFollowupFigures {
    /// Each follow-up's reading and figures.
    pub followups: Vec<(ReadingId, FollowupFigures)>,
    /// Readings with a follow-up whose record fails its check (left out of `followups`).
    pub damaged: Vec<ReadingId>,
}

/// A follow-up to be saved: its figures, question, answer and request.
#[derive(Clone)]
pub struct NewFollowup {
    /// The figures (`id` is ignored: the store assigns it).
    pub meta: FollowupFigures,
    /// The question as asked (cleaned).
    pub question: String,
    /// The answer as received.
    pub answer: String,
    /// The request's messages as JSON.
    pub request: String,
}

impl fmt::Debug for NewFollowup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewFollowup")
            .field("meta", &self.meta)
            .field("question_chars", &self.question.chars().count())
            .field("answer_bytes", &self.answer.len())
            .finish_non_exhaustive()
    }
}

/// A saved follow-up, opened. `Debug` shows only its figures and sizes.
#[derive(Clone, PartialEq, Eq)]
pub struct Followup {
    /// Its figures.
    pub meta: FollowupFigures,
    /// The question.
    pub question: String,
    /// The answer as received (parse it with [`crate::answer::parse_response`]).
    pub answer: String,
}

impl fmt::Debug for Followup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Followup")
            .field("meta", &self.meta)
            .field("question_chars", &self.question.chars().count())
            .field("answer_bytes", &self.answer.len())
            .finish()
    }
}

fn int(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn uint(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

fn count(v: i64) -> u32 {
    u32::try_from(v).unwrap_or(0)
}

/// The columns [`Store::raw_followups`] reads, in order.
const COLUMNS: &str = "id, reading_id, asked_at, latency_ms, ttft_ms, prompt_tokens, \
     completion_tokens, reasoning_tokens, cached_tokens, usage_source, provider, model, left_out, \
     row_tag";

impl Store {
    /// Saves `f` as a follow-up of reading `id` (whose record must check out); returns its id.
    pub fn add_followup(&self, id: ReadingId, f: &NewFollowup) -> Result<i64, StoreError> {
        self.same_key()?;
        self.reading(id)?;
        self.atomic(|| self.insert_followup(id, f))
    }

    fn insert_followup(&self, id: ReadingId, f: &NewFollowup) -> Result<i64, StoreError> {
        let m = &f.meta;
        self.conn
            .execute(
                "INSERT INTO followups (reading_id, asked_at, latency_ms, ttft_ms, prompt_tokens,
                     completion_tokens, reasoning_tokens, cached_tokens, usage_source, provider,
                     model, left_out, question, answer, request)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, x'', x'', x'')",
                params![
                    id,
                    m.asked_at,
                    int(m.latency_ms),
                    m.ttft_ms.map(int),
                    m.usage.prompt_tokens,
                    m.usage.completion_tokens,
                    m.usage.reasoning_tokens,
                    m.usage.cached_tokens,
                    m.usage.source.as_str(),
                    m.provider,
                    m.model,
                    m.left_out,
                ],
            )
            .map_err(|e| self.db_err(e))?;
        let n = self.conn.last_insert_rowid();
        let meta = FollowupFigures { id: n, ..m.clone() };
        let tag = self.tag(Tagged::FollowupRow(id, n), &meta.canon(id));
        let question = self.seal(Field::FollowupQuestion(id, n), f.question.as_bytes());
        let answer = self.seal(Field::FollowupAnswer(id, n), f.answer.as_bytes());
        let request = self.seal(Field::FollowupRequest(id, n), f.request.as_bytes());
        self.conn
            .execute(
                "UPDATE followups SET question = ?2, answer = ?3, request = ?4, row_tag = ?5
                 WHERE id = ?1",
                params![
                    n,
                    question.as_bytes(),
                    answer.as_bytes(),
                    request.as_bytes(),
                    tag
                ],
            )
            .map_err(|e| self.db_err(e))?;
        Ok(n)
    }

    /// The follow-ups' plain columns as stored, of reading `only` or of every reading, oldest
    /// first: each with its reading, its figures (`None` when a column does not parse) and its
    /// tag, nothing checked.
    fn raw_followups(&self, only: Option<ReadingId>) -> Result<Vec<RawFollowup>, StoreError> {
        self.conn
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM followups WHERE ?1 IS NULL OR reading_id = ?1
                 ORDER BY asked_at, id"
            ))
            .and_then(|mut st| {
                st.query_map([only], |r| {
                    let source = match r.get::<_, String>(9)?.as_str() {
                        "reported" => Some(UsageSource::Reported),
                        "estimated" => Some(UsageSource::Estimated),
                        _ => None,
                    };
                    let id: i64 = r.get(0)?;
                    let meta = source.map(|source| -> rusqlite::Result<FollowupFigures> {
                        Ok(FollowupFigures {
                            id,
                            asked_at: r.get(2)?,
                            latency_ms: uint(r.get(3)?),
                            ttft_ms: r.get::<_, Option<i64>>(4)?.map(uint),
                            usage: Usage {
                                prompt_tokens: count(r.get(5)?),
                                completion_tokens: count(r.get(6)?),
                                reasoning_tokens: count(r.get(7)?),
                                cached_tokens: count(r.get(8)?),
                                source,
                            },
                            provider: r.get(10)?,
                            model: r.get(11)?,
                            left_out: count(r.get(12)?),
                        })
                    });
                    Ok(RawFollowup {
                        id,
                        reading: r.get(1)?,
                        meta: meta.transpose()?,
                        tag: r.get(13)?,
                    })
                })?
                .collect()
            })
            .map_err(|e| self.db_err(e))
    }

    /// `raw`'s figures, if its tag checks out.
    fn checked(&self, raw: RawFollowup) -> Result<FollowupFigures, StoreError> {
        let what = Tagged::FollowupRow(raw.reading, raw.id);
        let meta = raw.meta.ok_or(StoreError::Integrity {
            id: raw.reading,
            field: what.describe(),
        })?;
        self.check_tag(what, &meta.canon(raw.reading), raw.tag.as_deref())?;
        Ok(meta)
    }

    /// Checks every follow-up of reading `id` (verify); returns how many.
    pub(super) fn check_followups(&self, id: ReadingId) -> Result<usize, StoreError> {
        let all = self.followups(id)?;
        for f in &all {
            self.followup_request(id, f.meta.id)?;
        }
        Ok(all.len())
    }

    /// Reading `id`'s follow-ups, oldest first, each checked and opened; the first that fails
    /// its check is the error.
    pub fn followups(&self, id: ReadingId) -> Result<Vec<Followup>, StoreError> {
        self.raw_followups(Some(id))?
            .into_iter()
            .map(|raw| {
                let meta = self.checked(raw)?;
                let blob = |column: &str| -> Result<Vec<u8>, StoreError> {
                    self.conn
                        .query_row(
                            &format!("SELECT {column} FROM followups WHERE id = ?1"),
                            [meta.id],
                            |r| r.get(0),
                        )
                        .map_err(|e| self.db_err(e))
                };
                let question =
                    self.open_text(Field::FollowupQuestion(id, meta.id), blob("question")?)?;
                let answer = self.open_text(Field::FollowupAnswer(id, meta.id), blob("answer")?)?;
                Ok(Followup {
                    meta,
                    question,
                    answer,
                })
            })
            .collect()
    }

    /// Every reading's follow-ups' questions and answers, opened, oldest first; those that do
    /// not open (or whose record fails its check) are left out.
    pub(super) fn followup_texts(&self) -> Result<HashMap<ReadingId, Vec<String>>, StoreError> {
        let mut out: HashMap<ReadingId, Vec<String>> = HashMap::new();
        let mut st = self
            .conn
            .prepare_cached("SELECT question, answer FROM followups WHERE id = ?1")
            .map_err(|e| self.db_err(e))?;
        for raw in self.raw_followups(None)? {
            let reading = raw.reading;
            let Ok(meta) = self.checked(raw) else {
                continue;
            };
            let (q, a): (Vec<u8>, Vec<u8>) = st
                .query_row([meta.id], |r| Ok((r.get(0)?, r.get(1)?)))
                .map_err(|e| self.db_err(e))?;
            let texts = out.entry(reading).or_default();
            texts.extend(
                self.open_text(Field::FollowupQuestion(reading, meta.id), q)
                    .ok(),
            );
            texts.extend(
                self.open_text(Field::FollowupAnswer(reading, meta.id), a)
                    .ok(),
            );
        }
        Ok(out)
    }

    /// The number of follow-up row `row` of reading `id`, in the order they are listed (asked,
    /// then row; 1 is the first).
    pub fn followup_number(&self, id: ReadingId, row: i64) -> Result<usize, StoreError> {
        self.place_in_reading("followups", "asked_at", id, row)
    }

    /// The request of follow-up `n` of reading `id`, opened.
    pub(super) fn followup_request(&self, id: ReadingId, n: i64) -> Result<String, StoreError> {
        let blob: Vec<u8> = self
            .conn
            .query_row(
                "SELECT request FROM followups WHERE id = ?1 AND reading_id = ?2",
                params![n, id],
                |r| r.get(0),
            )
            .map_err(|e| self.db_err(e))?;
        self.open_text(Field::FollowupRequest(id, n), blob)
    }

    /// Reading `id`'s follow-ups' figures, oldest first (nothing opened), each checked.
    pub fn followup_figures(&self, id: ReadingId) -> Result<Vec<FollowupFigures>, StoreError> {
        self.raw_followups(Some(id))?
            .into_iter()
            .map(|raw| self.checked(raw))
            .collect()
    }

    /// Every follow-up's figures with its reading (nothing opened); those whose record fails
    /// its check are left out, and their readings listed in the second value.
    pub fn all_followup_figures(&self) -> Result<AllFollowupFigures, StoreError> {
        let mut good = Vec::new();
        let mut bad = Vec::new();
        for raw in self.raw_followups(None)? {
            let reading = raw.reading;
            match self.checked(raw) {
                Ok(m) => good.push((reading, m)),
                Err(_) => bad.push(reading),
            }
        }
        bad.sort_unstable();
        bad.dedup();
        Ok(AllFollowupFigures {
            followups: good,
            damaged: bad,
        })
    }

    /// Adds a copy of `f` (from a backup, its request opened there) to reading `id`.
    pub(super) fn copy_followup(
        &self,
        id: ReadingId,
        f: &Followup,
        request: &str,
    ) -> Result<(), StoreError> {
        self.insert_followup(
            id,
            &NewFollowup {
                meta: f.meta.clone(),
                question: f.question.clone(),
                answer: f.answer.clone(),
                request: request.to_owned(),
            },
        )
        .map(|_| ())
    }

    /// Re-seals and re-tags every follow-up (a key change, inside its transaction, after the
    /// old keys have checked everything); returns how many blobs were sealed again.
    pub(super) fn reseal_followups(&self, new: &crate::crypto::Keys) -> Result<usize, StoreError> {
        type Sealed = (i64, ReadingId, Vec<u8>, Vec<u8>, Vec<u8>);
        let rows: Vec<Sealed> = self
            .conn
            .prepare("SELECT id, reading_id, question, answer, request FROM followups")
            .and_then(|mut st| {
                st.query_map([], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
                })?
                .collect()
            })
            .map_err(|e| self.db_err(e))?;
        for (n, reading, question, answer, request) in &rows {
            let mut sealed = Vec::with_capacity(3);
            for (field, blob) in [
                (Field::FollowupQuestion(*reading, *n), question),
                (Field::FollowupAnswer(*reading, *n), answer),
                (Field::FollowupRequest(*reading, *n), request),
            ] {
                let plain = zeroize::Zeroizing::new(self.open_text(field, blob.clone())?);
                sealed.push(new.seal_packed(field.aad().as_bytes(), plain.as_bytes()));
            }
            self.conn
                .execute(
                    "UPDATE followups SET question = ?2, answer = ?3, request = ?4 WHERE id = ?1",
                    params![
                        n,
                        sealed[0].as_bytes(),
                        sealed[1].as_bytes(),
                        sealed[2].as_bytes()
                    ],
                )
                .map_err(|e| self.db_err(e))?;
        }
        Ok(rows.len() * 3)
    }

    /// Tags every follow-up row as it is now (key changes, after everything checked out under
    /// the old key). A row whose columns do not parse stays untagged, so it keeps failing.
    pub(super) fn tag_followups(&self) -> Result<(), StoreError> {
        for raw in self.raw_followups(None)? {
            let Some(meta) = raw.meta else { continue };
            let tag = self.tag(
                Tagged::FollowupRow(raw.reading, raw.id),
                &meta.canon(raw.reading),
            );
            self.conn
                .execute(
                    "UPDATE followups SET row_tag = ?2 WHERE id = ?1",
                    params![raw.id, tag],
                )
                .map_err(|e| self.db_err(e))?;
        }
        Ok(())
    }
}

/// A follow-up row as stored, unchecked.
struct RawFollowup {
    id: i64,
    reading: ReadingId,
    meta: Option<FollowupFigures>,
    tag: Option<Vec<u8>>,
}

#[cfg(test)]
mod tests {
    use super::super::tests_support::new_reading;
    use super::super::{KEY_FILE, Unlock};
    use super::*;
    use crate::store::rekey::NewSecret;

    fn followup(question: &str, answer: &str) -> NewFollowup {
        NewFollowup {
            meta: FollowupFigures {
                id: 0,
                asked_at: 1_700_000_000_000,
                latency_ms: 1234,
                ttft_ms: Some(210),
                usage: Usage {
                    reasoning_tokens: 5,
                    cached_tokens: 1024,
                    ..Usage::reported(3000, 120)
                },
                provider: "openai".into(),
                model: "m-1".into(),
                left_out: 2,
            },
            question: question.into(),
            answer: answer.into(),
            request: r#"[{"role":"user","content":"q"}]"#.into(),
        }
    }

    #[test]
    fn follow_ups_are_kept_sealed_checked_and_go_with_their_reading() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), Unlock::default()).unwrap();
        let a = store.create_reading(&new_reading("a", 3, None)).unwrap();
        let b = store.create_reading(&new_reading("b", 5, None)).unwrap();
        let n1 = store
            .add_followup(a, &followup("Why?", "Because."))
            .unwrap();
        store
            .add_followup(a, &followup("And then?", "Then wait."))
            .unwrap();
        store.add_followup(b, &followup("B?", "B.")).unwrap();
        let got = store.followups(a).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(
            (got[0].question.as_str(), got[0].answer.as_str()),
            ("Why?", "Because.")
        );
        assert_eq!(
            got[0].meta,
            FollowupFigures {
                id: n1,
                ..followup("", "").meta
            }
        );
        assert_eq!(
            store.followup_request(a, n1).unwrap(),
            r#"[{"role":"user","content":"q"}]"#
        );
        let all = store.all_followup_figures().unwrap();
        assert_eq!((all.followups.len(), all.damaged.len()), (3, 0));
        // A figure changed outside iching fails that reading's follow-ups, not the other's.
        for sql in [
            "UPDATE followups SET completion_tokens = 1 WHERE id = ?1",
            "UPDATE followups SET model = 'cheap' WHERE id = ?1",
            "UPDATE followups SET reading_id = 2 WHERE id = ?1",
        ] {
            let dir = tempfile::tempdir().unwrap();
            let store = Store::open(dir.path(), Unlock::default()).unwrap();
            let a = store.create_reading(&new_reading("a", 3, None)).unwrap();
            let b = store.create_reading(&new_reading("b", 5, None)).unwrap();
            let n = store
                .add_followup(a, &followup("Why?", "Because."))
                .unwrap();
            store.add_followup(b, &followup("B?", "B.")).unwrap();
            store.conn.execute(sql, [n]).unwrap();
            let failed = store
                .followups(a)
                .err()
                .or_else(|| store.followups(b).err());
            assert!(
                matches!(&failed, Some(StoreError::Integrity { field, .. }) if field.contains("follow-up")),
                "{sql}: {failed:?}"
            );
            let all = store.all_followup_figures().unwrap();
            assert_eq!(all.damaged.len(), 1, "{sql}");
            assert!(!store.verify().unwrap().clean(), "{sql}");
        }
        // Swapped sealed answers do not open under the other's label.
        store
            .conn
            .execute_batch(
                "UPDATE followups SET answer = (SELECT answer FROM followups WHERE reading_id = 2)
                 WHERE id = (SELECT min(id) FROM followups)",
            )
            .unwrap();
        assert!(matches!(
            store.followups(a),
            Err(StoreError::Integrity { .. })
        ));
        // Deleting the reading deletes its follow-ups.
        store.finish(b, &[], false).unwrap();
        store.delete(b).unwrap();
        let left: i64 = store
            .conn
            .query_row(
                "SELECT count(*) FROM followups WHERE reading_id = ?1",
                [b],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(left, 0);
    }

    #[test]
    fn a_key_change_and_a_restore_keep_the_follow_ups() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path(), Unlock::default()).unwrap();
        let a = store.create_reading(&new_reading("a", 3, None)).unwrap();
        store.finish(a, &[], false).unwrap();
        store
            .add_followup(a, &followup("Why?", "Because."))
            .unwrap();
        let before = store.followups(a).unwrap();
        let done = store.rekey(NewSecret::KeyFile).unwrap();
        // The question, and the follow-up's question, answer and request.
        assert_eq!(done.sealed, 1 + 3);
        assert_eq!(store.followups(a).unwrap(), before);
        assert!(store.verify().unwrap().clean());
        // Into a second store with its own key: copied, re-sealed there.
        let to = tempfile::tempdir().unwrap();
        let copy = to.path().join("backup.db");
        drop(store);
        crate::store::backup(&dir.path().join(super::super::DB_FILE), &copy).unwrap();
        let other = tempfile::tempdir().unwrap();
        let target = Store::open(other.path(), Unlock::default()).unwrap();
        let opened = crate::store::OpenedBackup::open(
            &copy,
            other.path(),
            Some(&dir.path().join(KEY_FILE)),
            Unlock::default(),
        )
        .unwrap();
        let imported = target.import(opened.store()).unwrap();
        assert_eq!(imported.added.len(), 1);
        let got = target.followups(imported.added[0]).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(
            (got[0].question.as_str(), got[0].answer.as_str()),
            ("Why?", "Because.")
        );
        assert_eq!(got[0].meta.usage, before[0].meta.usage);
    }
}
