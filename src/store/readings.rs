//! Readings: creating one (its question sealed as `reading:{id}:question`), its status through a
//! run (`running` with the writer's pid, then `complete`/`partial`/`failed`/`cancelled`), the
//! history listing, deleting, and finding readings whose writer died (`interrupted`).

use std::collections::HashMap;
use std::fmt;

use rusqlite::{OptionalExtension, Row, params};

use super::tags::{Canon, Tagged};
use super::{Field, Store, StoreError, now_ms};
use crate::model::{Query, ReadingId, ReadingStatus, SectionStatus, status_of};

/// A reading about to be stored.
#[derive(Clone)]
pub struct NewReading {
    /// The question (sealed before it is written).
    pub question: String,
    /// The situation behind it, when given (sealed too).
    pub context: Option<String>,
    /// coins, yarrow or manual.
    pub method: String,
    /// The six values, bottom first.
    pub lines: [u8; 6],
    /// The RNG seed, when one was used.
    pub seed: Option<u64>,
    /// Primary hexagram number.
    pub primary: u8,
    /// Resulting hexagram number.
    pub resulting: Option<u8>,
    /// How many sections the plan has.
    pub sections_planned: u32,
    /// Provider name.
    pub provider: String,
    /// Model asked for.
    pub model: String,
}

impl fmt::Debug for NewReading {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewReading")
            .field("question", &format_args!("({} bytes)", self.question.len()))
            .field("method", &self.method)
            .field("lines", &self.lines)
            .finish_non_exhaustive()
    }
}

/// A reading's plain columns, with counts of its parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadingRow {
    /// Its id.
    pub id: ReadingId,
    /// When it was created (Unix ms).
    pub created_at: i64,
    /// When it last changed (Unix ms).
    pub updated_at: i64,
    /// Its state.
    pub status: ReadingStatus,
    /// coins, yarrow or manual.
    pub method: String,
    /// The six values, bottom first.
    pub lines: [u8; 6],
    /// The RNG seed.
    pub seed: Option<u64>,
    /// Primary hexagram number.
    pub primary: u8,
    /// Resulting hexagram number.
    pub resulting: Option<u8>,
    /// Sections in the plan.
    pub sections_planned: u32,
    /// Sections stored as complete.
    pub sections_done: u32,
    /// Sections stored as failed.
    pub sections_failed: u32,
    /// Total tokens over its parts.
    pub total_tokens: u64,
    /// Provider name.
    pub provider: String,
    /// Model asked for.
    pub model: String,
}

/// One history entry: the row and its question, or why the question did not open.
#[derive(Clone)]
pub struct Listed {
    /// The plain columns.
    pub row: ReadingRow,
    /// The question, or the integrity error.
    pub question: Result<String, StoreError>,
    /// The situation behind the question, when one was given and it opens.
    pub context: Option<String>,
    /// How many notes and outcomes it has.
    pub notes: super::NoteCounts,
    /// The text of its notes, oldest first, when the filter asked for them
    /// ([`HistoryFilter::with_text`]); notes that do not open are left out.
    pub note_text: Vec<String>,
    /// Its follow-ups' questions and answers, oldest first, when the filter asked for them;
    /// those that do not open are left out.
    pub followup_text: Vec<String>,
}

impl fmt::Debug for Listed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Listed")
            .field("row", &self.row)
            .field("question_opens", &self.question.is_ok())
            .field("has_context", &self.context.is_some())
            .field("notes", &self.notes)
            .field("note_text", &self.note_text.len())
            .field("followup_text", &self.followup_text.len())
            .finish()
    }
}

/// Which readings `history` lists.
#[derive(Debug, Clone, Default)]
pub struct HistoryFilter {
    /// Only readings [`crate::search::Search`] finds by this; decrypted in memory.
    pub search: Option<String>,
    /// Only readings with this primary or resulting hexagram.
    pub hexagram: Option<u8>,
    /// At most this many, newest first.
    pub limit: Option<usize>,
    /// Also open every reading's notes and follow-ups into [`Listed::note_text`] and
    /// [`Listed::followup_text`] (the terminal app's filter searches them as you type).
    pub with_text: bool,
    /// Only readings with no outcome noted yet: those still waiting to be told how they turned
    /// out.
    pub no_outcome: bool,
}

/// A reading's columns, its section list and token sum (as the sections tag covers them), its
/// tags and its sealed question: indexes 0 to 16, read by [`RawRow::read`].
pub(super) const ROW_COLUMNS: &str =
    "r.id, r.created_at, r.updated_at, r.status, r.method, r.lines, r.seed,
    r.primary_hex, r.resulting_hex, r.sections_planned, r.provider, r.model,
    (SELECT group_concat(p.section_id || ':' || p.status || ':' || coalesce(p.total_tokens, ''),
        ',' ORDER BY p.section_id) FROM reading_parts p WHERE p.reading_id = r.id),
    (SELECT coalesce(sum(p.total_tokens), 0) FROM reading_parts p WHERE p.reading_id = r.id),
    r.row_tag, r.sections_tag, r.question, r.context";

/// A reading's row as stored, before it is checked and parsed.
pub(super) struct RawRow {
    id: ReadingId,
    created_at: i64,
    updated_at: i64,
    status: String,
    method: String,
    lines: String,
    seed: Option<String>,
    primary: i64,
    resulting: Option<i64>,
    planned: i64,
    provider: String,
    model: String,
    /// `id:status:total_tokens` of each stored section, by id, comma-separated.
    sections: Option<String>,
    total_tokens: i64,
    row_tag: Option<Vec<u8>>,
    sections_tag: Option<Vec<u8>>,
    question: Vec<u8>,
    context: Option<Vec<u8>>,
}

impl RawRow {
    /// The row's reading id.
    pub(super) fn id(&self) -> ReadingId {
        self.id
    }

    /// Reads [`ROW_COLUMNS`].
    pub(super) fn read(r: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            id: r.get(0)?,
            created_at: r.get(1)?,
            updated_at: r.get(2)?,
            status: r.get(3)?,
            method: r.get(4)?,
            lines: r.get(5)?,
            seed: r.get(6)?,
            primary: r.get(7)?,
            resulting: r.get(8)?,
            planned: r.get(9)?,
            provider: r.get(10)?,
            model: r.get(11)?,
            sections: r.get(12)?,
            total_tokens: r.get(13)?,
            row_tag: r.get(14)?,
            sections_tag: r.get(15)?,
            question: r.get(16)?,
            context: r.get(17)?,
        })
    }

    /// The tagged plain columns.
    fn row_canon(&self) -> Canon {
        let mut c = Canon::default();
        c.int(Some(self.created_at))
            .text(Some(&self.status))
            .text(Some(&self.method))
            .text(Some(&self.lines))
            .text(self.seed.as_deref())
            .int(Some(self.primary))
            .int(self.resulting)
            .int(Some(self.planned))
            .text(Some(&self.provider))
            .text(Some(&self.model))
            // Whether a situation was given: its removal would otherwise go unseen.
            .int(Some(i64::from(self.context.is_some())));
        c
    }

    /// The tagged section list.
    fn sections_canon(&self) -> Canon {
        let mut c = Canon::default();
        c.text(self.sections.as_deref());
        c
    }

    /// Parses the columns (tags not checked).
    pub(super) fn parse(&self) -> Result<ReadingRow, StoreError> {
        let id = self.id;
        let bad = |field: &str| StoreError::BadRow {
            id,
            field: field.to_owned(),
        };
        let (mut done, mut failed) = (0u32, 0u32);
        for entry in self.sections.as_deref().unwrap_or("").split(',') {
            match entry.split(':').nth(1) {
                Some("complete") => done += 1,
                Some("failed") => failed += 1,
                _ => {}
            }
        }
        Ok(ReadingRow {
            id,
            created_at: self.created_at,
            updated_at: self.updated_at,
            status: parse_status(&self.status).ok_or_else(|| bad("status"))?,
            method: self.method.clone(),
            lines: parse_lines(&self.lines).ok_or_else(|| bad("lines"))?,
            seed: self
                .seed
                .as_ref()
                .map(|s| s.parse::<u64>().map_err(|_| bad("seed")))
                .transpose()?,
            primary: u8::try_from(self.primary)
                .ok()
                .filter(|h| (1..=64).contains(h))
                .ok_or_else(|| bad("hexagram"))?,
            resulting: self
                .resulting
                .map(|h| {
                    u8::try_from(h)
                        .ok()
                        .filter(|h| (1..=64).contains(h))
                        .ok_or_else(|| bad("hexagram"))
                })
                .transpose()?,
            sections_planned: u32::try_from(self.planned).map_err(|_| bad("section count"))?,
            provider: self.provider.clone(),
            model: self.model.clone(),
            sections_done: done,
            sections_failed: failed,
            total_tokens: u64::try_from(self.total_tokens).map_err(|_| bad("total tokens"))?,
        })
    }

    /// A row to list for a reading whose columns do not parse: its id and time, nothing else.
    fn damaged(&self) -> ReadingRow {
        ReadingRow {
            id: self.id,
            created_at: self.created_at,
            updated_at: self.updated_at,
            status: ReadingStatus::Failed,
            method: String::new(),
            lines: [7; 6],
            seed: None,
            primary: 1,
            resulting: None,
            sections_planned: 0,
            sections_done: 0,
            sections_failed: 0,
            total_tokens: 0,
            provider: String::new(),
            model: String::new(),
        }
    }
}

impl Store {
    /// Stores a new reading as `running` by this process; returns its id.
    pub fn create_reading(&self, new: &NewReading) -> Result<ReadingId, StoreError> {
        self.same_key()?;
        self.atomic(|| {
            let now = now_ms();
            let (pid, pid_start) = current_process();
            let lines = new.lines.map(|v| v.to_string()).join(",");
            self.conn
                .prepare_cached(
                    "INSERT INTO readings (created_at, updated_at, status, pid, pid_start, method,
                        lines, seed, primary_hex, resulting_hex, sections_planned, provider, model,
                        question)
                     VALUES (?1, ?1, 'running', ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, x'')",
                )
                .and_then(|mut st| {
                    st.execute(params![
                        now,
                        pid,
                        pid_start,
                        new.method,
                        lines,
                        new.seed.map(|s| s.to_string()),
                        new.primary,
                        new.resulting,
                        new.sections_planned,
                        new.provider,
                        new.model,
                    ])
                })
                .map_err(|e| self.db_err(e))?;
            let id = ReadingId(self.conn.last_insert_rowid());
            let sealed = self.seal(Field::Question(id), new.question.as_bytes());
            let context = new
                .context
                .as_ref()
                .map(|c| self.seal(Field::Context(id), c.as_bytes()).into_bytes());
            self.conn
                .prepare_cached("UPDATE readings SET question = ?2, context = ?3 WHERE id = ?1")
                .and_then(|mut st| st.execute(params![id, sealed.as_bytes(), context]))
                .map_err(|e| self.db_err(e))?;
            self.write_tags(&self.raw_row(id)?)?;
            Ok(id)
        })
    }

    /// Reading `id`'s row as stored.
    pub(super) fn raw_row(&self, id: ReadingId) -> Result<RawRow, StoreError> {
        let sql = format!("SELECT {ROW_COLUMNS} FROM readings r WHERE r.id = ?1");
        self.conn
            .prepare_cached(&sql)
            .and_then(|mut st| st.query_row([id], RawRow::read).optional())
            .map_err(|e| self.db_err(e))?
            .ok_or(StoreError::NotFound(id))
    }

    /// Checks a reading's row tag and sections tag.
    pub(super) fn check_row(&self, raw: &RawRow) -> Result<(), StoreError> {
        self.check_tag(
            Tagged::ReadingRow(raw.id),
            &raw.row_canon(),
            raw.row_tag.as_deref(),
        )?;
        self.check_tag(
            Tagged::Sections(raw.id),
            &raw.sections_canon(),
            raw.sections_tag.as_deref(),
        )
    }

    /// Writes a reading's row and sections tags for the values `raw` holds.
    pub(super) fn write_tags(&self, raw: &RawRow) -> Result<(), StoreError> {
        let row = self.tag(Tagged::ReadingRow(raw.id), &raw.row_canon());
        let sections = self.tag(Tagged::Sections(raw.id), &raw.sections_canon());
        self.conn
            .prepare_cached("UPDATE readings SET row_tag = ?2, sections_tag = ?3 WHERE id = ?1")
            .and_then(|mut st| st.execute(params![raw.id, row, sections]))
            .map_err(|e| self.db_err(e))?;
        Ok(())
    }

    /// Runs `change` on reading `id` (an update of its tagged columns or of its sections) and
    /// tags the result, once the tags it had check out: a row changed outside iching is
    /// refused, never tagged as if iching had written it.
    pub(super) fn retag<T>(
        &self,
        id: ReadingId,
        change: impl FnOnce() -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.same_key()?;
        self.atomic(|| {
            self.check_row(&self.raw_row(id)?)?;
            let out = change()?;
            self.write_tags(&self.raw_row(id)?)?;
            Ok(out)
        })
    }

    /// Marks reading `id` as `running` by this process (a retry starting). Refuses when another
    /// live process is generating it.
    pub fn begin_run(&self, id: ReadingId) -> Result<(), StoreError> {
        self.not_in_flight(id)?;
        let (pid, pid_start) = current_process();
        self.retag(id, || {
            self.conn
                .prepare_cached(
                    "UPDATE readings SET status = 'running', pid = ?2, pid_start = ?3,
                     updated_at = ?4 WHERE id = ?1",
                )
                .and_then(|mut st| st.execute(params![id, pid, pid_start, now_ms()]))
                .map(drop)
                .map_err(|e| self.db_err(e))
        })
    }

    /// Settles reading `id` once nothing is in flight: `complete` when every planned section
    /// (`planned`, by id) has a complete part, else `cancelled`, `failed` or `partial`.
    pub fn finish(
        &self,
        id: ReadingId,
        planned: &[u8],
        cancelled: bool,
    ) -> Result<ReadingStatus, StoreError> {
        self.forget_prefix(id);
        // `retag` checks the reading's row first; its parts are checked as they are read.
        self.retag(id, || {
            let stored: HashMap<u8, SectionStatus> = self
                .checked_parts(id)?
                .into_iter()
                .map(|m| (m.section_id, m.status))
                .collect();
            let status = status_of(
                planned
                    .iter()
                    .map(|s| stored.get(s).copied().unwrap_or(SectionStatus::Pending)),
                cancelled,
            );
            self.conn
                .prepare_cached(
                    "UPDATE readings SET status = ?2, pid = NULL, pid_start = NULL,
                     updated_at = ?3 WHERE id = ?1",
                )
                .and_then(|mut st| st.execute(params![id, status.as_str(), now_ms()]))
                .map_err(|e| self.db_err(e))?;
            Ok(status)
        })
    }

    /// Reading `id`'s plain columns, once their tags check out
    /// ([`StoreError::Integrity`] names what does not).
    pub fn reading(&self, id: ReadingId) -> Result<ReadingRow, StoreError> {
        let raw = self.raw_row(id)?;
        self.check_row(&raw)?;
        raw.parse()
    }

    /// Reading `id`'s question and the situation behind it, once its record checks out.
    pub fn query(&self, id: ReadingId) -> Result<Query, StoreError> {
        let raw = self.raw_row(id)?;
        self.check_row(&raw)?;
        self.open_query(&raw)
    }

    /// The question and situation of a checked row.
    fn open_query(&self, raw: &RawRow) -> Result<Query, StoreError> {
        let question = self.open_text(Field::Question(raw.id), raw.question.clone())?;
        let context = raw
            .context
            .clone()
            .map(|blob| self.open_text(Field::Context(raw.id), blob))
            .transpose()?;
        Ok(Query::with_context(question, context))
    }

    /// Reading `id`'s question.
    pub fn question(&self, id: ReadingId) -> Result<String, StoreError> {
        let blob: Vec<u8> = self
            .conn
            .query_row("SELECT question FROM readings WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .optional()
            .map_err(|e| self.db_err(e))?
            .ok_or(StoreError::NotFound(id))?;
        self.open_text(Field::Question(id), blob)
    }

    /// The readings `filter` selects, newest first. A question that fails its integrity check
    /// is listed with the error (and never matches a search); the others list as usual.
    pub fn list(&self, filter: &HistoryFilter) -> Result<Vec<Listed>, StoreError> {
        let search = crate::search::Search::new(filter.search.as_deref().unwrap_or_default());
        let sql_limit = match (search.is_empty() && !filter.no_outcome, filter.limit) {
            (true, Some(n)) => i64::try_from(n).unwrap_or(i64::MAX),
            _ => -1,
        };
        let sql = format!(
            "SELECT {ROW_COLUMNS} FROM readings r
             WHERE ?1 IS NULL OR r.primary_hex = ?1 OR r.resulting_hex = ?1
             ORDER BY r.created_at DESC, r.id DESC LIMIT ?2"
        );
        let counts = self.note_counts()?;
        // Searching looks in the notes and follow-ups too: each is opened once (those that do
        // not open never match).
        let texts = !search.is_empty() || filter.with_text;
        let mut notes: HashMap<ReadingId, Vec<String>> = if texts {
            self.all_notes(None)?
                .into_iter()
                .map(|(id, ns)| (id, ns.into_iter().flatten().map(|n| n.text).collect()))
                .collect()
        } else {
            HashMap::new()
        };
        let mut followups = if texts {
            self.followup_texts()?
        } else {
            HashMap::new()
        };
        let mut st = self.conn.prepare_cached(&sql).map_err(|e| self.db_err(e))?;
        let rows = st
            .query_map(params![filter.hexagram, sql_limit], RawRow::read)
            .map_err(|e| self.db_err(e))?;
        let mut out = Vec::new();
        for raw in rows {
            let raw = raw.map_err(|e| self.db_err(e))?;
            // A reading whose row fails its check still lists, saying so where its question
            // would be; the others list as usual.
            let (row, query) = match self.check_row(&raw).and_then(|()| raw.parse()) {
                Ok(row) => (row, self.open_query(&raw)),
                Err(e) => (raw.parse().unwrap_or_else(|_| raw.damaged()), Err(e)),
            };
            let (question, context) = match query {
                Ok(q) => (Ok(q.question), q.context),
                Err(e) => (Err(e), None),
            };
            let note_text = notes.remove(&row.id).unwrap_or_default();
            let followup_text = followups.remove(&row.id).unwrap_or_default();
            if !search.is_empty() {
                let found = match &question {
                    Ok(q) => search.finds(&crate::search::Searched {
                        question: q,
                        situation: context.as_deref(),
                        notes: &note_text,
                        followups: &followup_text,
                        status: row.status.as_str(),
                        primary: row.primary,
                        resulting: row.resulting,
                    }),
                    Err(_) => false,
                };
                if !found {
                    continue;
                }
            }
            let (note_text, followup_text) = if filter.with_text {
                (note_text, followup_text)
            } else {
                (Vec::new(), Vec::new())
            };
            let journal = counts.get(&row.id).copied().unwrap_or_default();
            if filter.no_outcome && journal.outcomes > 0 {
                continue;
            }
            out.push(Listed {
                notes: journal,
                note_text,
                followup_text,
                row,
                question,
                context,
            });
            if filter.limit.is_some_and(|n| out.len() >= n) {
                break;
            }
        }
        Ok(out)
    }

    /// Every reading whose record checks out, oldest first, and how many did not; nothing is
    /// opened (the patterns over time need only the cast).
    pub fn checked_rows(&self) -> Result<(Vec<ReadingRow>, usize), StoreError> {
        let sql = format!("SELECT {ROW_COLUMNS} FROM readings r ORDER BY r.created_at, r.id");
        let mut st = self.conn.prepare_cached(&sql).map_err(|e| self.db_err(e))?;
        let rows = st.query_map([], RawRow::read).map_err(|e| self.db_err(e))?;
        let (mut good, mut damaged) = (Vec::new(), 0);
        for raw in rows {
            let raw = raw.map_err(|e| self.db_err(e))?;
            match self.check_row(&raw).and_then(|()| raw.parse()) {
                Ok(row) => good.push(row),
                Err(_) => damaged += 1,
            }
        }
        Ok((good, damaged))
    }

    /// Fails with [`StoreError::InFlight`] when a live process (this one included) is generating
    /// reading `id`, and with [`StoreError::NotFound`] when there is no such reading.
    pub fn not_in_flight(&self, id: ReadingId) -> Result<(), StoreError> {
        let row: Option<(String, Option<i64>, Option<i64>)> = self
            .conn
            .query_row(
                "SELECT status, pid, pid_start FROM readings WHERE id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()
            .map_err(|e| self.db_err(e))?;
        let (status, pid, pid_start) = row.ok_or(StoreError::NotFound(id))?;
        if status == "running" && process_alive(pid, pid_start) != Some(false) {
            return Err(StoreError::InFlight {
                id,
                pid: pid.unwrap_or(0),
            });
        }
        Ok(())
    }

    /// Deletes reading `id` and its parts; refuses one that a live process is generating (its
    /// sections would land on nothing).
    pub fn delete(&self, id: ReadingId) -> Result<(), StoreError> {
        self.not_in_flight(id)?;
        let n = self
            .conn
            .execute("DELETE FROM readings WHERE id = ?1", [id])
            .map_err(|e| self.db_err(e))?;
        if n == 0 {
            return Err(StoreError::NotFound(id));
        }
        Ok(())
    }

    /// Deletes reading `id` even while it runs: tests pull a reading from under a run.
    #[cfg(test)]
    pub(crate) fn force_delete(&self, id: ReadingId) -> Result<(), StoreError> {
        self.conn
            .execute("DELETE FROM readings WHERE id = ?1", [id])
            .map(drop)
            .map_err(|e| self.db_err(e))
    }

    /// Removes sections of reading `id` and sets its status, tagged as iching would have: a
    /// reading as a crash leaves it, with those sections never saved.
    #[cfg(test)]
    pub(crate) fn unsave_parts(
        &self,
        id: ReadingId,
        sections: &[u8],
        status: ReadingStatus,
    ) -> Result<(), StoreError> {
        self.retag(id, || {
            for s in sections {
                self.conn
                    .execute(
                        "DELETE FROM reading_parts WHERE reading_id = ?1 AND section_id = ?2",
                        params![id, s],
                    )
                    .map_err(|e| self.db_err(e))?;
            }
            self.conn
                .execute(
                    "UPDATE readings SET status = ?2 WHERE id = ?1",
                    params![id, status.as_str()],
                )
                .map(drop)
                .map_err(|e| self.db_err(e))
        })
    }

    /// Marks `interrupted` every `running` reading whose writer process is gone. Returns how many.
    pub(super) fn mark_interrupted(&self) -> Result<usize, StoreError> {
        let running: Vec<(ReadingId, Option<i64>, Option<i64>)> = self
            .conn
            .prepare("SELECT id, pid, pid_start FROM readings WHERE status = 'running'")
            .and_then(|mut st| {
                st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                    .collect()
            })
            .map_err(|e| self.db_err(e))?;
        let mut marked = 0;
        for (id, pid, pid_start) in running {
            if process_alive(pid, pid_start) != Some(false) {
                continue;
            }
            let mark = || {
                self.conn
                    .execute(
                        "UPDATE readings SET status = 'interrupted', pid = NULL, pid_start = NULL,
                         updated_at = ?2 WHERE id = ?1 AND status = 'running'",
                        params![id, now_ms()],
                    )
                    .map_err(|e| self.db_err(e))
            };
            match self.retag(id, mark) {
                Ok(n) => marked += n,
                // Left as it is: it lists as failing its check, and is not tagged anew.
                Err(e @ StoreError::Integrity { .. }) => {
                    tracing::warn!(%e, "a running reading whose writer is gone");
                }
                Err(e) => return Err(e),
            }
        }
        Ok(marked)
    }
}

fn parse_status(s: &str) -> Option<ReadingStatus> {
    [
        ReadingStatus::Running,
        ReadingStatus::Complete,
        ReadingStatus::Partial,
        ReadingStatus::Failed,
        ReadingStatus::Cancelled,
        ReadingStatus::Interrupted,
    ]
    .into_iter()
    .find(|st| st.as_str() == s)
}

fn parse_lines(s: &str) -> Option<[u8; 6]> {
    let values: Vec<u8> = s
        .split(',')
        .map(|v| v.parse().ok().filter(|v| (6..=9).contains(v)))
        .collect::<Option<_>>()?;
    values.try_into().ok()
}

/// This process's pid and start time (clock ticks after boot; `None` without `/proc`), read once.
/// The start time doubles as the answer to whether this system has `/proc`.
fn current_process() -> (i64, Option<i64>) {
    static START: std::sync::OnceLock<Option<i64>> = std::sync::OnceLock::new();
    (
        i64::from(std::process::id()),
        *START.get_or_init(|| process_start("self")),
    )
}

/// Whether no live process has the id `pid` (a zombie counts as gone); `false` when this system
/// cannot tell.
pub(super) fn process_gone(pid: &str) -> bool {
    match pid.parse::<i64>() {
        Ok(p) => process_alive(Some(p), None) == Some(false),
        Err(_) => false,
    }
}

/// The start time of process `pid` from `/proc/{pid}/stat`, `None` when there is no such live
/// process (a zombie counts as gone).
fn process_start(pid: &str) -> Option<i64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces: fields resume after ')'.
    let rest = stat.get(stat.rfind(')')? + 1..)?;
    let mut fields = rest.split_whitespace();
    let state = fields.next()?;
    if state == "Z" || state == "X" {
        return None;
    }
    // Field 22 (starttime) is the 20th after the state (field 3).
    fields.nth(18)?.parse().ok()
}

/// Whether the process that stored `(pid, pid_start)` is still running: `None` when this system
/// cannot tell, so nothing is marked on a guess. With `/proc` (Linux) the start time tells a
/// reused pid from the writer; without it (macOS, the BSDs) only whether the pid exists.
fn process_alive(pid: Option<i64>, pid_start: Option<i64>) -> Option<bool> {
    let Some(pid) = pid.filter(|&p| p > 0) else {
        return Some(false);
    };
    if current_process().1.is_none() {
        return pid_exists(pid);
    }
    match process_start(&pid.to_string()) {
        None => Some(false),
        Some(start) => Some(pid_start.is_none_or(|s| s == start)),
    }
}

/// Whether a process `pid` exists, by `kill(pid, 0)` (no signal is sent); `None` when the answer
/// is neither yes nor no.
fn pid_exists(pid: i64) -> Option<bool> {
    use rustix::io::Errno;
    let pid = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)?;
    match rustix::process::test_kill_process(pid) {
        // EPERM: it exists but belongs to someone else.
        Ok(()) | Err(Errno::PERM) => Some(true),
        Err(Errno::SRCH) => Some(false),
        Err(_) => None,
    }
}

#[cfg(test)]
pub(super) fn test_process_start(pid: u32) -> Option<i64> {
    process_start(&pid.to_string())
}

#[cfg(test)]
pub(super) fn test_pid_exists(pid: u32) -> Option<bool> {
    pid_exists(i64::from(pid))
}
