//! Parts: one row per (reading, section), written the moment the section finishes or fails.
//! Writing a section again (a retry) replaces its row: `UNIQUE(reading_id, section_id)` and an
//! upsert, never a second row. Blobs are sealed as `part:{reading_id}:{section_id}:{field}`; a
//! request that begins with its reading's shared prefix is stored as the rest of it
//! ([`super::prefixes`]).

use std::collections::BTreeMap;
use std::fmt;

use rusqlite::{OptionalExtension, Row, params};

use super::tags::{Canon, Tagged};
use super::{Field, Store, StoreError, now_ms};
use crate::events::{Usage, UsageSource};
use crate::model::{ErrorKind, ReadingId, SectionStatus};

/// A part's plain columns.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SectionFigures {
    /// Section slot 1..=18.
    pub section_id: u8,
    /// `Complete` or `Failed` (nothing else is stored).
    pub status: SectionStatus,
    /// Attempts made.
    pub attempts: u32,
    /// When it was dispatched, in ms after the start of the run that produced it.
    pub started_ms: Option<u64>,
    /// When it finished, in ms after the start of the run that produced it.
    pub finished_ms: u64,
    /// From dispatch to the end.
    pub latency_ms: u64,
    /// Time to first token.
    pub ttft_ms: Option<u64>,
    /// Tokens sent by the successful attempt, when counted.
    pub prompt_tokens: Option<u32>,
    /// Tokens received by the successful attempt, reasoning included.
    pub completion_tokens: Option<u32>,
    /// Where the counts came from.
    pub usage: Option<UsageSource>,
    /// The model that answered.
    pub model: Option<String>,
    /// When the row was last written (Unix ms; set by the store).
    pub updated_at: i64,
    /// Of the completion tokens, those spent reasoning.
    pub reasoning_tokens: Option<u32>,
    /// Of the prompt tokens, those served from the provider's cache.
    pub cached_tokens: Option<u32>,
    /// Prompt tokens spent by failed attempts (all of them, for a failed section).
    pub failed_prompt_tokens: Option<u32>,
    /// Completion tokens spent by failed attempts.
    pub failed_completion_tokens: Option<u32>,
    /// What kind of failure, for a failed section (stored since schema 3).
    pub error_kind: Option<ErrorKind>,
}

impl SectionFigures {
    /// Prompt plus completion tokens, when known.
    pub fn total_tokens(&self) -> Option<u32> {
        Some(self.prompt_tokens?.saturating_add(self.completion_tokens?))
    }

    /// Every token this section was billed for: its answer and the failed attempts before it
    /// (or, for a failed section, all its attempts). `None` when nothing was counted.
    pub fn billed(&self) -> Option<Usage> {
        crate::events::billed(self.answer_usage(), self.failed_usage())
    }

    /// The answer's own token counts, when it has them.
    pub fn answer_usage(&self) -> Option<Usage> {
        let (p, c) = self.prompt_tokens.zip(self.completion_tokens)?;
        Some(Usage {
            reasoning_tokens: self.reasoning_tokens.unwrap_or(0),
            cached_tokens: self.cached_tokens.unwrap_or(0),
            source: self.usage.unwrap_or(UsageSource::Estimated),
            ..Usage::reported(p, c)
        })
    }

    /// What the failed attempts spent, when anything was counted.
    pub fn failed_usage(&self) -> Option<Usage> {
        if self.failed_prompt_tokens.is_none() && self.failed_completion_tokens.is_none() {
            return None;
        }
        Some(Usage {
            source: self.usage.unwrap_or(UsageSource::Estimated),
            ..Usage::reported(
                self.failed_prompt_tokens.unwrap_or(0),
                self.failed_completion_tokens.unwrap_or(0),
            )
        })
    }
}

/// A part's sealed values, in the clear. `Debug` shows only their sizes.
#[derive(Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PartText {
    /// The request's messages as JSON.
    pub request: String,
    /// The model's answer as received.
    pub response: Option<String>,
    /// The answer's paragraphs as JSON.
    pub paragraphs: Option<String>,
    /// Why it failed.
    pub error: Option<String>,
}

impl fmt::Debug for PartText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let len = |s: &Option<String>| s.as_ref().map(String::len);
        f.debug_struct("PartText")
            .field("request_bytes", &self.request.len())
            .field("response_bytes", &len(&self.response))
            .field("paragraphs_bytes", &len(&self.paragraphs))
            .field("error_bytes", &len(&self.error))
            .finish()
    }
}

/// A stored part, opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// Plain columns.
    pub meta: SectionFigures,
    /// Opened blobs.
    pub text: PartText,
}

/// A part as its row will hold it: plain columns and sealed blobs.
struct SealedRow<'a> {
    meta: &'a SectionFigures,
    request: Vec<u8>,
    /// Whether `request` holds only what follows the reading's shared prefix.
    request_shared: bool,
    response: Option<Vec<u8>>,
    paragraphs: Option<Vec<u8>>,
    error: Option<Vec<u8>>,
}

/// A part's plain columns and its tag: indexes 0 to 17, read by [`Store::parse_meta`].
pub(super) const META_COLUMNS: &str =
    "section_id, status, attempts, started_ms, finished_ms, latency_ms,
    ttft_ms, prompt_tokens, completion_tokens, usage_source, model, updated_at, reasoning_tokens,
    cached_tokens, failed_prompt_tokens, failed_completion_tokens, error_kind, row_tag";

impl SectionFigures {
    /// The tagged columns (all but `updated_at`, which only the store reads).
    pub(super) fn canon(&self) -> Canon {
        let n = |v: Option<u32>| v.map(i64::from);
        let mut c = Canon::default();
        c.int(Some(i64::from(self.section_id)))
            .text(Some(status_str(self.status)))
            .int(Some(i64::from(self.attempts)))
            .int(self.started_ms.map(int))
            .int(Some(int(self.finished_ms)))
            .int(Some(int(self.latency_ms)))
            .int(self.ttft_ms.map(int))
            .int(n(self.prompt_tokens))
            .int(n(self.completion_tokens))
            .text(self.usage.map(UsageSource::as_str))
            .text(self.model.as_deref())
            .int(n(self.reasoning_tokens))
            .int(n(self.cached_tokens))
            .int(n(self.failed_prompt_tokens))
            .int(n(self.failed_completion_tokens))
            .text(self.error_kind.map(ErrorKind::as_str));
        c
    }
}

/// A stored part's status column.
fn status_str(status: SectionStatus) -> &'static str {
    match status {
        SectionStatus::Complete => "complete",
        _ => "failed",
    }
}

/// `a + b` as the failed-attempt counts are kept: none when nothing was spent.
fn add(a: Option<u32>, b: Option<u32>) -> Option<u32> {
    Some(a.unwrap_or(0).saturating_add(b.unwrap_or(0))).filter(|&n| n > 0)
}

impl Store {
    /// Writes several sections of reading `reading` at once (all or none), each replacing any
    /// earlier row for its section: sections that finish together cost one write. Each
    /// request is stored whole.
    pub fn save_parts(
        &self,
        reading: ReadingId,
        parts: &[(&SectionFigures, &PartText)],
    ) -> Result<(), StoreError> {
        self.save_parts_sharing(reading, None, parts)
    }

    /// [`Store::save_parts`], with what every request of the reading begins with (`shared`):
    /// the reading keeps one prefix (the first offered), and a request that begins with it is
    /// stored as the rest of it.
    pub fn save_parts_sharing(
        &self,
        reading: ReadingId,
        shared: Option<&str>,
        parts: &[(&SectionFigures, &PartText)],
    ) -> Result<(), StoreError> {
        for (meta, _) in parts {
            self.storable(meta)?;
        }
        let now = now_ms();
        self.retag(reading, || {
            let prefix = match shared {
                Some(offered) => self.shared_prefix(reading, offered)?,
                None => None,
            };
            let rows: Vec<SealedRow<'_>> = parts
                .iter()
                .map(|(meta, text)| self.sealed_row(reading, meta, text, prefix.as_deref()))
                .collect();
            self.conn
                .prepare_cached("UPDATE readings SET updated_at = ?2 WHERE id = ?1")
                .and_then(|mut st| st.execute(params![reading, now]))
                .map_err(|e| self.db_err(e))?;
            let mut insert = self
                .conn
                .prepare_cached(
                    "INSERT INTO reading_parts (reading_id, section_id, status, attempts,
                        started_ms, finished_ms, latency_ms, ttft_ms, prompt_tokens,
                        completion_tokens, total_tokens, usage_source, model, created_at,
                        updated_at, request, response, paragraphs, error, reasoning_tokens,
                        cached_tokens, failed_prompt_tokens, failed_completion_tokens, error_kind,
                        row_tag, request_shared)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?14,
                        ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25)
                     ON CONFLICT (reading_id, section_id) DO UPDATE SET
                        status = excluded.status, attempts = excluded.attempts,
                        started_ms = excluded.started_ms, finished_ms = excluded.finished_ms,
                        latency_ms = excluded.latency_ms, ttft_ms = excluded.ttft_ms,
                        prompt_tokens = excluded.prompt_tokens,
                        completion_tokens = excluded.completion_tokens,
                        total_tokens = excluded.total_tokens,
                        usage_source = excluded.usage_source, model = excluded.model,
                        updated_at = excluded.updated_at, request = excluded.request,
                        response = excluded.response, paragraphs = excluded.paragraphs,
                        error = excluded.error, reasoning_tokens = excluded.reasoning_tokens,
                        cached_tokens = excluded.cached_tokens,
                        error_kind = excluded.error_kind,
                        failed_prompt_tokens = excluded.failed_prompt_tokens,
                        failed_completion_tokens = excluded.failed_completion_tokens,
                        row_tag = excluded.row_tag, request_shared = excluded.request_shared",
                )
                .map_err(|e| self.db_err(e))?;
            for row in &rows {
                // What earlier failed attempts of this section spent carries over to the new
                // row (the row it replaces is checked first, like the reading's).
                let mut meta = row.meta.clone();
                if let Some(before) = self.stored_part(reading, meta.section_id)? {
                    meta.failed_prompt_tokens =
                        add(before.failed_prompt_tokens, meta.failed_prompt_tokens);
                    meta.failed_completion_tokens = add(
                        before.failed_completion_tokens,
                        meta.failed_completion_tokens,
                    );
                }
                let tag = self.tag(Tagged::PartRow(reading, meta.section_id), &meta.canon());
                insert
                    .execute(params![
                        reading,
                        meta.section_id,
                        status_str(meta.status),
                        meta.attempts,
                        meta.started_ms.map(int),
                        int(meta.finished_ms),
                        int(meta.latency_ms),
                        meta.ttft_ms.map(int),
                        meta.prompt_tokens,
                        meta.completion_tokens,
                        meta.total_tokens(),
                        meta.usage.map(UsageSource::as_str),
                        meta.model,
                        now,
                        row.request,
                        row.response,
                        row.paragraphs,
                        row.error,
                        meta.reasoning_tokens,
                        meta.cached_tokens,
                        meta.failed_prompt_tokens,
                        meta.failed_completion_tokens,
                        meta.error_kind.map(ErrorKind::as_str),
                        tag,
                        row.request_shared,
                    ])
                    .map_err(|e| self.db_err(e))?;
            }
            Ok(())
        })
    }

    /// Section `section` of reading `reading` as stored, checked; `None` when there is none.
    fn stored_part(
        &self,
        reading: ReadingId,
        section: u8,
    ) -> Result<Option<SectionFigures>, StoreError> {
        let sql = format!(
            "SELECT {META_COLUMNS} FROM reading_parts WHERE reading_id = ?1 AND section_id = ?2"
        );
        let found = self
            .conn
            .prepare_cached(&sql)
            .and_then(|mut st| {
                st.query_row(params![reading, section], |r| {
                    Ok(self.checked_meta(reading, r))
                })
                .optional()
            })
            .map_err(|e| self.db_err(e))?;
        found.transpose()
    }

    /// Refuses a part that is neither finished nor failed.
    fn storable(&self, meta: &SectionFigures) -> Result<(), StoreError> {
        if matches!(
            meta.status,
            SectionStatus::Pending | SectionStatus::Cancelled
        ) {
            return Err(StoreError::Database {
                path: self.path.clone(),
                reason: "only finished or failed sections are stored".into(),
            });
        }
        Ok(())
    }

    /// A part's sealed blobs, ready to insert; its request as the rest of `prefix` when it
    /// begins with it.
    fn sealed_row<'a>(
        &self,
        reading: ReadingId,
        meta: &'a SectionFigures,
        text: &PartText,
        prefix: Option<&str>,
    ) -> SealedRow<'a> {
        let s = meta.section_id;
        let seal = |field: Field, v: &Option<String>| {
            v.as_ref()
                .map(|v| self.seal(field, v.as_bytes()).into_bytes())
        };
        let (request, request_shared) = match prefix.and_then(|p| text.request.strip_prefix(p)) {
            Some(tail) => (
                self.seal(Field::RequestTail(reading, s), tail.as_bytes()),
                true,
            ),
            None => (
                self.seal(Field::Request(reading, s), text.request.as_bytes()),
                false,
            ),
        };
        SealedRow {
            meta,
            request: request.into_bytes(),
            request_shared,
            response: seal(Field::Response(reading, s), &text.response),
            paragraphs: seal(Field::Paragraphs(reading, s), &text.paragraphs),
            error: seal(Field::Error(reading, s), &text.error),
        }
    }

    /// Reading `id`'s parts, opened, by section. A part whose record fails its tag, or any blob
    /// that fails its check, is an [`StoreError::Integrity`] naming the reading and what failed.
    pub fn parts(&self, id: ReadingId) -> Result<Vec<Part>, StoreError> {
        Ok(self.parts_and_prefix(id)?.0)
    }

    /// [`Store::parts`], and the reading's shared request prefix when it has one (opened and
    /// checked whether or not a part uses it).
    pub(super) fn parts_and_prefix(
        &self,
        id: ReadingId,
    ) -> Result<(Vec<Part>, Option<String>), StoreError> {
        type Blobs = (
            Vec<u8>,
            Option<Vec<u8>>,
            Option<Vec<u8>>,
            Option<Vec<u8>>,
            bool,
        );
        self.reading(id)?;
        let prefix = self.request_prefix(id)?;
        // A version-7 store opened read-only has no such column: every request is whole.
        let shared = if self.shared_prefixes {
            "request_shared"
        } else {
            "0"
        };
        let sql = format!(
            "SELECT {META_COLUMNS}, request, response, paragraphs, error, {shared}
             FROM reading_parts WHERE reading_id = ?1 ORDER BY section_id"
        );
        let mut st = self.conn.prepare_cached(&sql).map_err(|e| self.db_err(e))?;
        let rows = st
            .query_map([id], |r| {
                let blobs: Blobs = (r.get(18)?, r.get(19)?, r.get(20)?, r.get(21)?, r.get(22)?);
                Ok((self.checked_meta(id, r), blobs))
            })
            .map_err(|e| self.db_err(e))?;
        let mut out = Vec::new();
        for row in rows {
            let (meta, (request, response, paragraphs, error, request_shared)) =
                row.map_err(|e| self.db_err(e))?;
            let meta = meta?;
            let s = meta.section_id;
            let open = |field: Field, blob: Option<Vec<u8>>| {
                blob.map(|b| self.open_text(field, b)).transpose()
            };
            let request = if request_shared {
                let start = prefix.as_deref().ok_or_else(|| self.missing_prefix(id))?;
                let tail = self.open_text(Field::RequestTail(id, s), request)?;
                let mut whole = String::with_capacity(start.len() + tail.len());
                whole.push_str(start);
                whole.push_str(&tail);
                whole
            } else {
                self.open_text(Field::Request(id, s), request)?
            };
            let text = PartText {
                request,
                response: open(Field::Response(id, s), response)?,
                paragraphs: open(Field::Paragraphs(id, s), paragraphs)?,
                error: open(Field::Error(id, s), error)?,
            };
            out.push(Part { meta, text });
        }
        Ok((out, prefix))
    }

    /// The plain columns of every part of reading `id`, checked, in the order they finished.
    /// Nothing is opened.
    pub fn section_figures(&self, id: ReadingId) -> Result<Vec<SectionFigures>, StoreError> {
        self.reading(id)?;
        self.checked_parts(id)
    }

    /// [`Store::section_figures`] without checking the reading's own row: for a caller that checks
    /// it in the same transaction.
    pub(super) fn checked_parts(&self, id: ReadingId) -> Result<Vec<SectionFigures>, StoreError> {
        let sql = format!(
            "SELECT {META_COLUMNS} FROM reading_parts WHERE reading_id = ?1
             ORDER BY finished_ms, section_id"
        );
        let mut st = self.conn.prepare_cached(&sql).map_err(|e| self.db_err(e))?;
        let rows = st
            .query_map([id], |r| Ok(self.checked_meta(id, r)))
            .map_err(|e| self.db_err(e))?;
        let mut out = Vec::new();
        for row in rows {
            out.push(row.map_err(|e| self.db_err(e))??);
        }
        Ok(out)
    }

    /// The plain columns of every part of every reading whose records all check out, with
    /// their reading ids, in the order they finished; and the readings left out, each with
    /// what failed. One damaged reading never hides the figures of the others.
    pub fn all_section_figures(&self) -> Result<AllSectionFigures, StoreError> {
        let mut skipped: BTreeMap<ReadingId, StoreError> = BTreeMap::new();
        let sql = format!("SELECT {} FROM readings r", super::readings::ROW_COLUMNS);
        let mut st = self.conn.prepare(&sql).map_err(|e| self.db_err(e))?;
        let rows = st
            .query_map([], super::readings::RawRow::read)
            .map_err(|e| self.db_err(e))?;
        for raw in rows {
            let raw = raw.map_err(|e| self.db_err(e))?;
            if let Err(e) = self.check_row(&raw).and_then(|()| raw.parse().map(drop)) {
                skipped.insert(raw.id(), e);
            }
        }
        let sql = format!(
            "SELECT {META_COLUMNS}, reading_id FROM reading_parts
             ORDER BY reading_id, finished_ms, section_id"
        );
        let mut st = self.conn.prepare(&sql).map_err(|e| self.db_err(e))?;
        let rows = st
            .query_map([], |r| {
                let reading: ReadingId = r.get(18)?;
                Ok((reading, self.checked_meta(reading, r)))
            })
            .map_err(|e| self.db_err(e))?;
        let mut parts = Vec::new();
        for row in rows {
            let (reading, meta) = row.map_err(|e| self.db_err(e))?;
            match meta {
                Ok(meta) => parts.push((reading, meta)),
                Err(e) => {
                    skipped.entry(reading).or_insert(e);
                }
            }
        }
        parts.retain(|(reading, _)| !skipped.contains_key(reading));
        Ok(AllSectionFigures {
            parts,
            skipped: skipped.into_iter().collect(),
        })
    }

    /// Which sections of reading `id` are stored, and how they ended.
    pub fn part_statuses(&self, id: ReadingId) -> Result<Vec<(u8, SectionStatus)>, StoreError> {
        Ok(self
            .section_figures(id)?
            .into_iter()
            .map(|m| (m.section_id, m.status))
            .collect())
    }

    /// A part's plain columns ([`META_COLUMNS`]), once its tag checks out.
    fn checked_meta(&self, reading: ReadingId, r: &Row<'_>) -> Result<SectionFigures, StoreError> {
        let meta = self.parse_meta(reading, r)?;
        let tag: Option<Vec<u8>> = r.get(17).map_err(|e| self.db_err(e))?;
        self.check_tag(
            Tagged::PartRow(reading, meta.section_id),
            &meta.canon(),
            tag.as_deref(),
        )?;
        Ok(meta)
    }

    /// A part's plain columns ([`META_COLUMNS`]), unchecked.
    pub(super) fn parse_meta(
        &self,
        reading: ReadingId,
        r: &Row<'_>,
    ) -> Result<SectionFigures, StoreError> {
        let sql = |e: rusqlite::Error| self.db_err(e);
        let bad = |field: &str| StoreError::BadRow {
            id: reading,
            field: field.to_owned(),
        };
        let status: String = r.get(1).map_err(sql)?;
        let usage: Option<String> = r.get(9).map_err(sql)?;
        let ms = |i: usize| -> Result<Option<u64>, StoreError> {
            r.get::<_, Option<i64>>(i)
                .map_err(sql)?
                .map(|v| u64::try_from(v).map_err(|_| bad("duration")))
                .transpose()
        };
        let count = |i: usize| -> Result<Option<u32>, StoreError> {
            r.get::<_, Option<i64>>(i)
                .map_err(sql)?
                .map(|v| u32::try_from(v).map_err(|_| bad("token count")))
                .transpose()
        };
        Ok(SectionFigures {
            section_id: u8::try_from(r.get::<_, i64>(0).map_err(sql)?)
                .ok()
                .filter(|s| (1..=18).contains(s))
                .ok_or_else(|| bad("section id"))?,
            status: match status.as_str() {
                "complete" => SectionStatus::Complete,
                "failed" => SectionStatus::Failed,
                _ => return Err(bad("part status")),
            },
            attempts: count(2)?.ok_or_else(|| bad("attempts"))?,
            started_ms: ms(3)?,
            finished_ms: ms(4)?.unwrap_or(0),
            latency_ms: ms(5)?.unwrap_or(0),
            ttft_ms: ms(6)?,
            prompt_tokens: count(7)?,
            completion_tokens: count(8)?,
            usage: match usage.as_deref() {
                None => None,
                Some("reported") => Some(UsageSource::Reported),
                Some("estimated") => Some(UsageSource::Estimated),
                Some(_) => return Err(bad("usage source")),
            },
            model: r.get(10).map_err(sql)?,
            updated_at: r.get(11).map_err(sql)?,
            reasoning_tokens: count(12)?,
            cached_tokens: count(13)?,
            failed_prompt_tokens: count(14)?,
            failed_completion_tokens: count(15)?,
            error_kind: match r.get::<_, Option<String>>(16).map_err(sql)? {
                None => None,
                Some(k) => Some(ErrorKind::parse(&k).ok_or_else(|| bad("error kind"))?),
            },
        })
    }
}

/// Every checked part of every reading, and the readings left out.
#[derive(Debug, Default)]
pub struct AllSectionFigures {
    /// Each part with its reading's id, in the order they finished.
    pub parts: Vec<(ReadingId, SectionFigures)>,
    /// The readings whose records failed their check, by id, with what failed.
    pub skipped: Vec<(ReadingId, StoreError)>,
}

/// A duration or count as SQLite's signed integer.
fn int(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}
