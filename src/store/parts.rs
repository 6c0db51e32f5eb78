//! Parts: one row per (reading, section), written the moment the section finishes or fails.
//! Writing a section again (a retry) replaces its row: `UNIQUE(reading_id, section_id)` and an
//! upsert, never a second row. Blobs are sealed as `part:{reading_id}:{section_id}:{field}`.

use std::fmt;

use rusqlite::{Row, params};

use super::{Field, Store, StoreError, now_ms};
use crate::events::{Usage, UsageSource};
use crate::model::{ErrorKind, ReadingId, SectionStatus};

/// A part's plain columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartMeta {
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

impl PartMeta {
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
#[derive(Clone, Default, PartialEq, Eq)]
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
    pub meta: PartMeta,
    /// Opened blobs.
    pub text: PartText,
}

/// A part as its row will hold it: plain columns and sealed blobs.
struct SealedRow<'a> {
    meta: &'a PartMeta,
    status: &'static str,
    request: Vec<u8>,
    response: Option<Vec<u8>>,
    paragraphs: Option<Vec<u8>>,
    error: Option<Vec<u8>>,
}

const META_COLUMNS: &str = "section_id, status, attempts, started_ms, finished_ms, latency_ms,
    ttft_ms, prompt_tokens, completion_tokens, usage_source, model, updated_at, reasoning_tokens,
    cached_tokens, failed_prompt_tokens, failed_completion_tokens, error_kind";

impl Store {
    /// Writes section `meta.section_id` of reading `reading`, replacing any earlier row for it.
    pub fn save_part(
        &self,
        reading: ReadingId,
        meta: &PartMeta,
        text: &PartText,
    ) -> Result<(), StoreError> {
        self.save_parts(reading, &[(meta, text)])
    }

    /// Writes several sections of reading `reading` at once (all or none), each replacing any
    /// earlier row for its section: sections that finish together cost one write.
    pub fn save_parts(
        &self,
        reading: ReadingId,
        parts: &[(&PartMeta, &PartText)],
    ) -> Result<(), StoreError> {
        let rows = parts
            .iter()
            .map(|(meta, text)| self.sealed_row(reading, meta, text))
            .collect::<Result<Vec<_>, _>>()?;
        let now = now_ms();
        self.atomic(|| {
            let touched = self
                .conn
                .prepare_cached("UPDATE readings SET updated_at = ?2 WHERE id = ?1")
                .and_then(|mut st| st.execute(params![reading, now]))
                .map_err(|e| self.db_err(e))?;
            if touched == 0 {
                return Err(StoreError::NotFound(reading));
            }
            let mut insert = self
                .conn
                .prepare_cached(
                    "INSERT INTO reading_parts (reading_id, section_id, status, attempts,
                        started_ms, finished_ms, latency_ms, ttft_ms, prompt_tokens,
                        completion_tokens, total_tokens, usage_source, model, created_at,
                        updated_at, request, response, paragraphs, error, reasoning_tokens,
                        cached_tokens, failed_prompt_tokens, failed_completion_tokens, error_kind)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?14,
                        ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23)
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
                        failed_prompt_tokens = NULLIF(
                            COALESCE(reading_parts.failed_prompt_tokens, 0)
                            + COALESCE(excluded.failed_prompt_tokens, 0), 0),
                        failed_completion_tokens = NULLIF(
                            COALESCE(reading_parts.failed_completion_tokens, 0)
                            + COALESCE(excluded.failed_completion_tokens, 0), 0)",
                )
                .map_err(|e| self.db_err(e))?;
            for row in &rows {
                let meta = row.meta;
                insert
                    .execute(params![
                        reading,
                        meta.section_id,
                        row.status,
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
                    ])
                    .map_err(|e| self.db_err(e))?;
            }
            Ok(())
        })
    }

    /// A part's status column and its sealed blobs, ready to insert.
    fn sealed_row<'a>(
        &self,
        reading: ReadingId,
        meta: &'a PartMeta,
        text: &PartText,
    ) -> Result<SealedRow<'a>, StoreError> {
        let status = match meta.status {
            SectionStatus::Complete => "complete",
            SectionStatus::Failed => "failed",
            SectionStatus::Pending | SectionStatus::Cancelled => {
                return Err(StoreError::Database {
                    path: self.path.clone(),
                    reason: "only finished or failed sections are stored".into(),
                });
            }
        };
        let s = meta.section_id;
        let seal = |field: Field, v: &Option<String>| {
            v.as_ref()
                .map(|v| self.seal(field, v.as_bytes()).into_bytes())
        };
        Ok(SealedRow {
            meta,
            status,
            request: self
                .seal(Field::Request(reading, s), text.request.as_bytes())
                .into_bytes(),
            response: seal(Field::Response(reading, s), &text.response),
            paragraphs: seal(Field::Paragraphs(reading, s), &text.paragraphs),
            error: seal(Field::Error(reading, s), &text.error),
        })
    }

    /// Reading `id`'s parts, opened, by section. Any blob that fails its check is an
    /// [`StoreError::Integrity`] naming the reading and the field.
    pub fn parts(&self, id: ReadingId) -> Result<Vec<Part>, StoreError> {
        type Blobs = (Vec<u8>, Option<Vec<u8>>, Option<Vec<u8>>, Option<Vec<u8>>);
        self.reading(id)?;
        let sql = format!(
            "SELECT {META_COLUMNS}, request, response, paragraphs, error FROM reading_parts
             WHERE reading_id = ?1 ORDER BY section_id"
        );
        let mut st = self.conn.prepare_cached(&sql).map_err(|e| self.db_err(e))?;
        let rows = st
            .query_map([id], |r| {
                let blobs: Blobs = (r.get(17)?, r.get(18)?, r.get(19)?, r.get(20)?);
                Ok((self.parse_meta(id, r), blobs))
            })
            .map_err(|e| self.db_err(e))?;
        let mut out = Vec::new();
        for row in rows {
            let (meta, (request, response, paragraphs, error)) = row.map_err(|e| self.db_err(e))?;
            let meta = meta?;
            let s = meta.section_id;
            let open = |field: Field, blob: Option<Vec<u8>>| {
                blob.map(|b| self.open_text(field, b)).transpose()
            };
            let text = PartText {
                request: self.open_text(Field::Request(id, s), request)?,
                response: open(Field::Response(id, s), response)?,
                paragraphs: open(Field::Paragraphs(id, s), paragraphs)?,
                error: open(Field::Error(id, s), error)?,
            };
            out.push(Part { meta, text });
        }
        Ok(out)
    }

    /// The plain columns of every part of reading `id` (or of all readings), with their reading
    /// ids, in the order they finished. Nothing is opened: stats need no key.
    pub fn part_metas(
        &self,
        id: Option<ReadingId>,
    ) -> Result<Vec<(ReadingId, PartMeta)>, StoreError> {
        if let Some(id) = id {
            self.reading(id)?;
        }
        let sql = format!(
            "SELECT {META_COLUMNS}, reading_id FROM reading_parts
             WHERE ?1 IS NULL OR reading_id = ?1 ORDER BY reading_id, finished_ms, section_id"
        );
        let mut st = self.conn.prepare_cached(&sql).map_err(|e| self.db_err(e))?;
        let rows = st
            .query_map([id], |r| {
                let reading: ReadingId = r.get(17)?;
                Ok((reading, self.parse_meta(reading, r)))
            })
            .map_err(|e| self.db_err(e))?;
        let mut out = Vec::new();
        for row in rows {
            let (reading, meta) = row.map_err(|e| self.db_err(e))?;
            out.push((reading, meta?));
        }
        Ok(out)
    }

    /// Which sections of reading `id` are stored, and how they ended.
    pub fn part_statuses(&self, id: ReadingId) -> Result<Vec<(u8, SectionStatus)>, StoreError> {
        Ok(self
            .part_metas(Some(id))?
            .into_iter()
            .map(|(_, m)| (m.section_id, m.status))
            .collect())
    }

    fn parse_meta(&self, reading: ReadingId, r: &Row<'_>) -> Result<PartMeta, StoreError> {
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
        Ok(PartMeta {
            section_id: r.get(0).map_err(sql)?,
            status: match status.as_str() {
                "complete" => SectionStatus::Complete,
                "failed" => SectionStatus::Failed,
                _ => return Err(bad("part status")),
            },
            attempts: r.get(2).map_err(sql)?,
            started_ms: ms(3)?,
            finished_ms: ms(4)?.unwrap_or(0),
            latency_ms: ms(5)?.unwrap_or(0),
            ttft_ms: ms(6)?,
            prompt_tokens: r.get(7).map_err(sql)?,
            completion_tokens: r.get(8).map_err(sql)?,
            usage: match usage.as_deref() {
                None => None,
                Some("reported") => Some(UsageSource::Reported),
                Some("estimated") => Some(UsageSource::Estimated),
                Some(_) => return Err(bad("usage source")),
            },
            model: r.get(10).map_err(sql)?,
            updated_at: r.get(11).map_err(sql)?,
            reasoning_tokens: r.get(12).map_err(sql)?,
            cached_tokens: r.get(13).map_err(sql)?,
            failed_prompt_tokens: r.get(14).map_err(sql)?,
            failed_completion_tokens: r.get(15).map_err(sql)?,
            error_kind: match r.get::<_, Option<String>>(16).map_err(sql)? {
                None => None,
                Some(k) => Some(ErrorKind::parse(&k).ok_or_else(|| bad("error kind"))?),
            },
        })
    }
}

/// A duration or count as SQLite's signed integer.
fn int(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}
