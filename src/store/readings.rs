//! Readings: creating one (its question sealed as `reading:{id}:question`), its status through a
//! run (`running` with the writer's pid, then `complete`/`partial`/`failed`/`cancelled`), the
//! history listing, deleting, and finding readings whose writer died (`interrupted`).

use std::collections::HashMap;
use std::fmt;

use rusqlite::{OptionalExtension, Row, params};

use super::{Field, Store, StoreError, now_ms};
use crate::model::{ReadingId, ReadingStatus, SectionStatus, status_of};

/// A reading about to be stored.
#[derive(Clone)]
pub struct NewReading {
    /// The question (sealed before it is written).
    pub question: String,
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
}

impl fmt::Debug for Listed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Listed")
            .field("row", &self.row)
            .field("question_opens", &self.question.is_ok())
            .finish()
    }
}

/// Which readings `history` lists.
#[derive(Debug, Clone, Default)]
pub struct HistoryFilter {
    /// Only questions containing this (case-insensitive); decrypted in memory.
    pub search: Option<String>,
    /// Only readings with this primary or resulting hexagram.
    pub hexagram: Option<u8>,
    /// At most this many, newest first.
    pub limit: Option<usize>,
}

const ROW_COLUMNS: &str = "r.id, r.created_at, r.updated_at, r.status, r.method, r.lines, r.seed,
    r.primary_hex, r.resulting_hex, r.sections_planned, r.provider, r.model,
    (SELECT count(*) FROM reading_parts p WHERE p.reading_id = r.id AND p.status = 'complete'),
    (SELECT count(*) FROM reading_parts p WHERE p.reading_id = r.id AND p.status = 'failed'),
    (SELECT coalesce(sum(p.total_tokens), 0) FROM reading_parts p WHERE p.reading_id = r.id),
    r.question";

impl Store {
    /// Stores a new reading as `running` by this process; returns its id.
    pub fn create_reading(&self, new: &NewReading) -> Result<ReadingId, StoreError> {
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
            self.conn
                .prepare_cached("UPDATE readings SET question = ?2 WHERE id = ?1")
                .and_then(|mut st| st.execute(params![id, sealed.as_bytes()]))
                .map_err(|e| self.db_err(e))?;
            Ok(id)
        })
    }

    /// Marks reading `id` as `running` by this process (a retry starting). Refuses when another
    /// live process is generating it.
    pub fn begin_run(&self, id: ReadingId) -> Result<(), StoreError> {
        self.not_in_flight(id)?;
        let (pid, pid_start) = current_process();
        self.conn
            .prepare_cached(
                "UPDATE readings SET status = 'running', pid = ?2, pid_start = ?3, updated_at = ?4
                 WHERE id = ?1",
            )
            .and_then(|mut st| st.execute(params![id, pid, pid_start, now_ms()]))
            .map_err(|e| self.db_err(e))?;
        Ok(())
    }

    /// Settles reading `id` once nothing is in flight: `complete` when every planned section
    /// (`planned`, by id) has a complete part, else `cancelled`, `failed` or `partial`.
    pub fn finish(
        &self,
        id: ReadingId,
        planned: &[u8],
        cancelled: bool,
    ) -> Result<ReadingStatus, StoreError> {
        let stored: HashMap<u8, SectionStatus> = self.part_statuses(id)?.into_iter().collect();
        let status = status_of(
            planned
                .iter()
                .map(|s| stored.get(s).copied().unwrap_or(SectionStatus::Pending)),
            cancelled,
        );
        let changed = self
            .conn
            .prepare_cached(
                "UPDATE readings SET status = ?2, pid = NULL, pid_start = NULL, updated_at = ?3
                 WHERE id = ?1",
            )
            .and_then(|mut st| st.execute(params![id, status.as_str(), now_ms()]))
            .map_err(|e| self.db_err(e))?;
        if changed == 0 {
            return Err(StoreError::NotFound(id));
        }
        Ok(status)
    }

    /// Reading `id`'s plain columns.
    pub fn reading(&self, id: ReadingId) -> Result<ReadingRow, StoreError> {
        let sql = format!("SELECT {ROW_COLUMNS} FROM readings r WHERE r.id = ?1");
        let found = self
            .conn
            .prepare_cached(&sql)
            .and_then(|mut st| st.query_row([id], |r| Ok(self.parse_row(r))).optional())
            .map_err(|e| self.db_err(e))?;
        found.ok_or(StoreError::NotFound(id))?
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
        let needle = filter.search.as_ref().map(|s| s.to_lowercase());
        let sql_limit = match (&needle, filter.limit) {
            (None, Some(n)) => i64::try_from(n).unwrap_or(i64::MAX),
            _ => -1,
        };
        let sql = format!(
            "SELECT {ROW_COLUMNS} FROM readings r
             WHERE ?1 IS NULL OR r.primary_hex = ?1 OR r.resulting_hex = ?1
             ORDER BY r.created_at DESC, r.id DESC LIMIT ?2"
        );
        let mut st = self.conn.prepare_cached(&sql).map_err(|e| self.db_err(e))?;
        let rows = st
            .query_map(params![filter.hexagram, sql_limit], |r| {
                Ok((self.parse_row(r), r.get::<_, Vec<u8>>(15)?))
            })
            .map_err(|e| self.db_err(e))?;
        let mut out = Vec::new();
        for row in rows {
            let (row, blob) = row.map_err(|e| self.db_err(e))?;
            let row = row?;
            let question = self.open_text(Field::Question(row.id), blob);
            if let Some(needle) = &needle {
                match &question {
                    Ok(q) if q.to_lowercase().contains(needle.as_str()) => {}
                    Ok(_) | Err(_) => continue,
                }
            }
            out.push(Listed { row, question });
            if filter.limit.is_some_and(|n| out.len() >= n) {
                break;
            }
        }
        Ok(out)
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
            if process_alive(pid, pid_start) == Some(false) {
                marked += self
                    .conn
                    .execute(
                        "UPDATE readings SET status = 'interrupted', pid = NULL, pid_start = NULL,
                         updated_at = ?2 WHERE id = ?1 AND status = 'running'",
                        params![id, now_ms()],
                    )
                    .map_err(|e| self.db_err(e))?;
            }
        }
        Ok(marked)
    }

    fn parse_row(&self, r: &Row<'_>) -> Result<ReadingRow, StoreError> {
        let sql = |e: rusqlite::Error| self.db_err(e);
        let id: ReadingId = r.get(0).map_err(sql)?;
        let bad = |field: &str| StoreError::BadRow {
            id,
            field: field.to_owned(),
        };
        let status: String = r.get(3).map_err(sql)?;
        let lines: String = r.get(5).map_err(sql)?;
        let seed: Option<String> = r.get(6).map_err(sql)?;
        Ok(ReadingRow {
            id,
            created_at: r.get(1).map_err(sql)?,
            updated_at: r.get(2).map_err(sql)?,
            status: parse_status(&status).ok_or_else(|| bad("status"))?,
            method: r.get(4).map_err(sql)?,
            lines: parse_lines(&lines).ok_or_else(|| bad("lines"))?,
            seed: seed
                .map(|s| s.parse::<u64>().map_err(|_| bad("seed")))
                .transpose()?,
            primary: r.get(7).map_err(sql)?,
            resulting: r.get(8).map_err(sql)?,
            sections_planned: r.get(9).map_err(sql)?,
            provider: r.get(10).map_err(sql)?,
            model: r.get(11).map_err(sql)?,
            sections_done: r.get(12).map_err(sql)?,
            sections_failed: r.get(13).map_err(sql)?,
            total_tokens: r
                .get::<_, i64>(14)
                .map_err(sql)?
                .try_into()
                .map_err(|_| bad("total tokens"))?,
        })
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
