//! Receiving: every device's new records read in order, each merged in one transaction with
//! the note of how far its device is read.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use rusqlite::{OptionalExtension, params};

use super::{
    DEVICES, FollowupBody, ReadingBody, Refused, SectionBody, Synced, record_name, uid_of,
};
use crate::model::{NoteKind, Query, ReadingId, ReadingStatus, SectionStatus};
use crate::store::followups::Followup;
use crate::store::notes::Note;
use crate::store::parts::{PartText, SectionFigures};
use crate::store::{ReadingRow, Store, StoreError, now_ms};
use crate::sync::merge::{Change, DeviceId, NoteBody, Section, Uid};
use crate::sync::record::{self, Opened, SyncKeys};

/// The changes of one record that can be merged now; `false` when one refers to a reading
/// that has not arrived (its device is read again at the next pass or sync).
enum Applied {
    Done(usize),
    NeedsReading,
}

/// What reading a snapshot came to.
enum Step {
    Merged,
    Waiting,
    Refused,
}

impl Store {
    /// Reads `device`'s snapshot `n` in `dir` and merges it (one transaction, with how far the
    /// device is read: to `n`).
    fn merge_snapshot(
        &self,
        keys: &SyncKeys,
        device: DeviceId,
        dir: &Path,
        n: u64,
        own: DeviceId,
        out: &mut Synced,
    ) -> Result<Step, StoreError> {
        let path = dir.join(format!("{n:012}.snap"));
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Step::Waiting),
            Err(e) => return Err(StoreError::io(&path, "cannot read", &e)),
        };
        let (last, changes) = match record::open_snapshot(keys, device, n, &bytes) {
            Ok(Some(found)) => found,
            Ok(None) => return Ok(Step::Waiting),
            Err(why) => {
                out.refused.push(Refused { path, why });
                return Ok(Step::Refused);
            }
        };
        let applied = self.atomic(|| {
            let applied = self.apply(device, &changes)?;
            if matches!(applied, Applied::Done(_)) {
                self.set_read(device, n, &last)?;
            }
            Ok(applied)
        })?;
        Ok(match applied {
            Applied::Done(changed) => {
                if device != own {
                    out.records += 1;
                }
                out.changed += changed;
                Step::Merged
            }
            Applied::NeedsReading => Step::Waiting,
        })
    }

    /// Reads every device's new records, in each device's order, merging each in one
    /// transaction; passes again while one waited for a reading another device brings.
    pub(super) fn import_records(
        &self,
        keys: &SyncKeys,
        dir: &Path,
        own: DeviceId,
        out: &mut Synced,
    ) -> Result<(), StoreError> {
        let devices_dir = dir.join(DEVICES);
        let mut devices: Vec<DeviceId> = Vec::new();
        for entry in std::fs::read_dir(&devices_dir)
            .map_err(|e| StoreError::io(&devices_dir, "cannot read", &e))?
        {
            let entry = entry.map_err(|e| StoreError::io(&devices_dir, "cannot read", &e))?;
            if let Some(d) = entry.file_name().to_str().and_then(Uid::parse) {
                devices.push(d);
            }
        }
        devices.sort();
        out.devices = devices.iter().filter(|d| **d != own).count();
        let mut stopped: HashSet<DeviceId> = HashSet::new();
        let mut waiting: HashSet<DeviceId> = HashSet::new();
        loop {
            let mut progress = false;
            waiting.clear();
            for &device in &devices {
                if stopped.contains(&device) {
                    continue;
                }
                loop {
                    let (seq, prev) = self.read_upto(device)?;
                    let next = seq + 1;
                    let path = devices_dir.join(device.hex()).join(record_name(next));
                    let bytes = match std::fs::read(&path) {
                        Ok(b) => b,
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                            let dev_dir = devices_dir.join(device.hex());
                            // Compacted: the snapshot stands for this record and those before.
                            if let Some(n) = super::compact::snapshot_from(&dev_dir, next) {
                                match self.merge_snapshot(keys, device, &dev_dir, n, own, out)? {
                                    Step::Merged => {
                                        progress = true;
                                        continue;
                                    }
                                    Step::Waiting => {
                                        waiting.insert(device);
                                    }
                                    Step::Refused => {
                                        stopped.insert(device);
                                    }
                                }
                            } else if later_record(&dev_dir, next) {
                                // A later one there and this one not: a gap, waited for (and
                                // said), never skipped.
                                waiting.insert(device);
                            }
                            break;
                        }
                        Err(e) => return Err(StoreError::io(&path, "cannot read", &e)),
                    };
                    match record::open(keys, device, next, &prev, &bytes) {
                        Ok(Opened::Waiting) => {
                            waiting.insert(device);
                            break;
                        }
                        Err(why) => {
                            out.refused.push(Refused { path, why });
                            stopped.insert(device);
                            break;
                        }
                        Ok(Opened::Changes(changes)) => {
                            let applied = self.atomic(|| {
                                let applied = self.apply(device, &changes)?;
                                if matches!(applied, Applied::Done(_)) {
                                    self.set_read(device, next, &record::hash(&bytes))?;
                                }
                                Ok(applied)
                            })?;
                            match applied {
                                Applied::Done(n) => {
                                    crate::store::rekey::pause_for_tests("sync-merged-one");
                                    progress = true;
                                    if device != own {
                                        out.records += 1;
                                    }
                                    out.changed += n;
                                }
                                Applied::NeedsReading => {
                                    waiting.insert(device);
                                    break;
                                }
                            }
                        }
                    }
                }
            }
            if !progress {
                break;
            }
        }
        out.waiting = waiting.len();
        Ok(())
    }

    /// Merges one record's changes (inside the caller's transaction); `NeedsReading` (with
    /// nothing to keep) when one refers to a reading not here yet, nor deleted.
    fn apply(&self, device: DeviceId, changes: &[Change]) -> Result<Applied, StoreError> {
        // Every reading referred to must be here, deleted, or cast in this very record.
        let cast_here: HashSet<Uid> = changes
            .iter()
            .filter_map(|c| match c {
                Change::Cast { reading, .. } => Some(*reading),
                _ => None,
            })
            .collect();
        for c in changes {
            let needs = match c {
                Change::Sections { reading, .. } | Change::Followup { reading, .. } => {
                    Some(*reading)
                }
                Change::Note {
                    reading,
                    body: Some(_),
                    ..
                } => Some(*reading),
                _ => None,
            };
            if let Some(r) = needs
                && !cast_here.contains(&r)
                && self.reading_by_uid(r)?.is_none()
                && !self.tombstoned(r)?
            {
                return Ok(Applied::NeedsReading);
            }
        }
        let mut changed = 0;
        for c in changes {
            changed += self.apply_one(device, c)?;
        }
        Ok(Applied::Done(changed))
    }

    fn apply_one(&self, device: DeviceId, change: &Change) -> Result<usize, StoreError> {
        let bad = |what: &str| StoreError::Database {
            path: self.path.clone(),
            reason: format!("a sync record's {what} does not parse"),
        };
        match change {
            Change::Cast {
                reading,
                body,
                sections,
            } => {
                if self.tombstoned(*reading)? {
                    return Ok(0);
                }
                if let Some(id) = self.reading_by_uid(*reading)? {
                    return self.merge_sections(id, *reading, sections, None);
                }
                let b: ReadingBody = serde_json::from_str(body).map_err(|_| bad("reading"))?;
                if let Some(id) = self.same_reading_unsynced(&b)? {
                    self.set_uid("readings", id.0, *reading)?;
                    return self.merge_sections(id, *reading, sections, None);
                }
                let row = ReadingRow {
                    id: ReadingId(0),
                    created_at: b.created_at,
                    updated_at: b.created_at,
                    status: b.status,
                    method: b.method,
                    lines: b.lines,
                    seed: b.seed,
                    primary: b.primary,
                    resulting: b.resulting,
                    sections_planned: b.sections_planned,
                    sections_done: 0,
                    sections_failed: 0,
                    total_tokens: 0,
                    provider: b.provider,
                    model: b.model,
                };
                let query = Query {
                    question: b.question,
                    context: b.context,
                };
                let id = self.insert_copy(&row, &query)?;
                self.conn
                    .execute(
                        "UPDATE readings SET uid = ?2 WHERE id = ?1",
                        params![id, reading.0.to_vec()],
                    )
                    .map_err(|e| self.db_err(e))?;
                self.merge_sections(id, *reading, sections, b.prefix.as_deref())?;
                Ok(1)
            }
            Change::Sections { reading, sections } => match self.reading_by_uid(*reading)? {
                Some(id) => self.merge_sections(id, *reading, sections, None),
                None => Ok(0),
            },
            Change::Note {
                note,
                reading,
                clock,
                body,
            } => {
                if self.tombstoned(*reading)? {
                    return Ok(0);
                }
                self.bump_clock(*clock)?;
                if let Some((_, _, k_clock, k_device)) = self.known(*note)?
                    && (k_clock, k_device.unwrap_or_default()) >= (*clock, device)
                {
                    return Ok(0);
                }
                let mut local: Option<(i64, ReadingId)> = self
                    .conn
                    .query_row(
                        "SELECT id, reading_id FROM notes WHERE uid = ?1",
                        [note.0.to_vec()],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )
                    .optional()
                    .map_err(|e| self.db_err(e))?;
                if let Some((row, _)) = local {
                    // Edited here since the last sync: the next part of this sync sends that
                    // edit at a later clock than this one, so it wins everywhere.
                    let known = self.known(*note)?.map(|k| k.1);
                    if known.is_some_and(|k| self.note_digest(row).is_ok_and(|d| d != k)) {
                        return Ok(0);
                    }
                }
                if local.is_none()
                    && let (Some(b), Some(id)) = (body, self.reading_by_uid(*reading)?)
                    && let Some(row) = self.same_note_unsynced(id, b)?
                {
                    self.set_uid("notes", row, *note)?;
                    local = Some((row, id));
                }
                let digest = match (body, local) {
                    (None, None) => Vec::new(),
                    (None, Some((row, _))) => {
                        self.conn
                            .execute("DELETE FROM notes WHERE id = ?1", [row])
                            .map_err(|e| self.db_err(e))?;
                        Vec::new()
                    }
                    (Some(b), found) => {
                        let kind = NoteKind::parse(&b.kind).ok_or_else(|| bad("note"))?;
                        let row = if let Some((row, id)) = found {
                            self.write_note(id, row, b.created_at, now_ms(), kind, &b.text)?;
                            row
                        } else {
                            let Some(id) = self.reading_by_uid(*reading)? else {
                                return Ok(0);
                            };
                            self.copy_note(
                                id,
                                &Note {
                                    id: 0,
                                    number: 0,
                                    created_at: b.created_at,
                                    updated_at: b.created_at,
                                    kind,
                                    text: b.text.clone(),
                                },
                            )?;
                            let row = self.conn.last_insert_rowid();
                            self.conn
                                .execute(
                                    "UPDATE notes SET uid = ?2 WHERE id = ?1",
                                    params![row, note.0.to_vec()],
                                )
                                .map_err(|e| self.db_err(e))?;
                            row
                        };
                        self.note_digest(row)?
                    }
                };
                self.set_known(*note, "note", &digest, *clock, Some(device))?;
                self.set_known_note_reading(*note, *reading)?;
                Ok(1)
            }
            Change::Followup {
                followup,
                reading,
                body,
            } => {
                if self.tombstoned(*reading)? || self.known(*followup)?.is_some() {
                    return Ok(0);
                }
                let Some(id) = self.reading_by_uid(*reading)? else {
                    return Ok(0);
                };
                let b: FollowupBody = serde_json::from_str(body).map_err(|_| bad("follow-up"))?;
                if let Some(row) = self.same_followup_unsynced(id, &b)? {
                    self.set_uid("followups", row, *followup)?;
                    self.set_known(*followup, "followup", &[], 0, None)?;
                    return Ok(0);
                }
                self.copy_followup(
                    id,
                    &Followup {
                        meta: b.meta,
                        question: b.question,
                        answer: b.answer,
                    },
                    &b.request,
                )?;
                let row = self.conn.last_insert_rowid();
                self.conn
                    .execute(
                        "UPDATE followups SET uid = ?2 WHERE id = ?1",
                        params![row, followup.0.to_vec()],
                    )
                    .map_err(|e| self.db_err(e))?;
                self.set_known(*followup, "followup", &[], 0, None)?;
                Ok(1)
            }
            Change::Deleted { reading } => {
                let mut n = 0;
                if let Some(id) = self.reading_by_uid(*reading)? {
                    self.conn
                        .execute("DELETE FROM readings WHERE id = ?1", [id])
                        .map_err(|e| self.db_err(e))?;
                    n = 1;
                }
                self.conn
                    .execute(
                        "INSERT OR IGNORE INTO sync_tombstones (uid, deleted_at) VALUES (?1, ?2)",
                        params![reading.0.to_vec(), now_ms()],
                    )
                    .map_err(|e| self.db_err(e))?;
                self.set_known(*reading, "deleted", &[], 0, None)?;
                Ok(n)
            }
        }
    }

    /// Gives row `row` of `table` the folder's identity `uid`.
    fn set_uid(&self, table: &'static str, row: i64, uid: Uid) -> Result<(), StoreError> {
        self.conn
            .execute(
                &format!("UPDATE {table} SET uid = ?2 WHERE id = ?1"),
                params![row, uid.0.to_vec()],
            )
            .map(drop)
            .map_err(|e| self.db_err(e))
    }

    /// Whether `uid` has never been written to or read from a sync folder.
    fn unsynced(&self, uid: Option<Vec<u8>>) -> Result<bool, StoreError> {
        Ok(match uid_of(uid) {
            Some(u) => self.known(u)?.is_none(),
            None => true,
        })
    }

    /// A reading here, never synced, that is `b` (the same time of casting, lines and
    /// question): one copied between the machines by `restore` before they synced.
    fn same_reading_unsynced(&self, b: &ReadingBody) -> Result<Option<ReadingId>, StoreError> {
        let lines = b.lines.map(|v| v.to_string()).join(",");
        let found: Vec<(ReadingId, Option<Vec<u8>>)> = self
            .conn
            .prepare_cached("SELECT id, uid FROM readings WHERE created_at = ?1 AND lines = ?2")
            .and_then(|mut st| {
                st.query_map(params![b.created_at, lines], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect()
            })
            .map_err(|e| self.db_err(e))?;
        for (id, uid) in found {
            if self.unsynced(uid)? && self.query(id).is_ok_and(|q| q.question == b.question) {
                return Ok(Some(id));
            }
        }
        Ok(None)
    }

    /// A note of reading `id`, never synced, that is `b` (time, kind and text).
    fn same_note_unsynced(&self, id: ReadingId, b: &NoteBody) -> Result<Option<i64>, StoreError> {
        let uids: Vec<(i64, Option<Vec<u8>>)> = self
            .conn
            .prepare_cached("SELECT id, uid FROM notes WHERE reading_id = ?1")
            .and_then(|mut st| {
                st.query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect()
            })
            .map_err(|e| self.db_err(e))?;
        let notes = self.notes(id)?;
        for (row, uid) in uids {
            let same = notes.iter().any(|n| {
                n.id == row
                    && n.created_at == b.created_at
                    && n.kind.as_str() == b.kind
                    && n.text == b.text
            });
            if same && self.unsynced(uid)? {
                return Ok(Some(row));
            }
        }
        Ok(None)
    }

    /// A follow-up of reading `id`, never synced, that is `b` (time and question).
    fn same_followup_unsynced(
        &self,
        id: ReadingId,
        b: &FollowupBody,
    ) -> Result<Option<i64>, StoreError> {
        let uids: Vec<(i64, Option<Vec<u8>>)> = self
            .conn
            .prepare_cached("SELECT id, uid FROM followups WHERE reading_id = ?1")
            .and_then(|mut st| {
                st.query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect()
            })
            .map_err(|e| self.db_err(e))?;
        let here = self.followups(id)?;
        for (row, uid) in uids {
            let same = here.iter().any(|f| {
                f.meta.id == row && f.meta.asked_at == b.meta.asked_at && f.question == b.question
            });
            if same && self.unsynced(uid)? {
                return Ok(Some(row));
            }
        }
        Ok(None)
    }

    fn bump_clock(&self, seen: u64) -> Result<(), StoreError> {
        let clock = u64::try_from(self.sync_int("clock")?.unwrap_or(0)).unwrap_or(0);
        if seen > clock {
            self.sync_set("clock", seen.to_string().as_bytes())?;
        }
        Ok(())
    }

    /// Adds the sections of `incoming` that win over what reading `id` has (a complete one
    /// over a failed one; between equals the content that sorts first) and settles its status.
    pub(super) fn merge_sections(
        &self,
        id: ReadingId,
        uid: Uid,
        incoming: &BTreeMap<u8, Section>,
        prefix: Option<&str>,
    ) -> Result<usize, StoreError> {
        let (here, _) = self.sections_of(id)?;
        let mut take: Vec<(SectionFigures, PartText)> = Vec::new();
        for (n, s) in incoming {
            let wins = here
                .get(n)
                .is_none_or(|h| (!s.complete, &s.body) < (!h.complete, &h.body));
            if wins {
                let b: SectionBody =
                    serde_json::from_str(&s.body).map_err(|_| StoreError::Database {
                        path: self.path.clone(),
                        reason: "a sync record's section does not parse".into(),
                    })?;
                take.push((b.meta, b.text));
            }
        }
        if !take.is_empty() {
            let parts: Vec<(&SectionFigures, &PartText)> =
                take.iter().map(|(m, t)| (m, t)).collect();
            let common = if prefix.is_none() {
                self.request_prefix(id)?
            } else {
                None
            };
            let offered = prefix.or(common.as_deref());
            self.save_parts_sharing(id, offered, &parts)?;
            self.settle(id)?;
        }
        self.set_known(uid, "reading", &self.sections_digest(id)?, 0, None)?;
        Ok(usize::from(!take.is_empty()))
    }

    /// Sets reading `id`'s status from its sections: complete when as many are complete as
    /// planned, partial when some are, else failed (a reading cast elsewhere is never running
    /// here).
    fn settle(&self, id: ReadingId) -> Result<(), StoreError> {
        let row = self.reading(id)?;
        let done = self
            .checked_parts(id)?
            .iter()
            .filter(|m| m.status == SectionStatus::Complete)
            .count();
        let planned = usize::try_from(row.sections_planned).unwrap_or(usize::MAX);
        let status = if done >= planned {
            ReadingStatus::Complete
        } else if done > 0 {
            ReadingStatus::Partial
        } else {
            ReadingStatus::Failed
        };
        if status == row.status {
            return Ok(());
        }
        self.retag(id, || {
            self.conn
                .execute(
                    "UPDATE readings SET status = ?2 WHERE id = ?1",
                    params![id, status.as_str()],
                )
                .map(drop)
                .map_err(|e| self.db_err(e))
        })
    }
}

/// Whether `dir` holds a record numbered after `seq`.
fn later_record(dir: &Path, seq: u64) -> bool {
    std::fs::read_dir(dir).is_ok_and(|entries| {
        entries.flatten().any(|e| {
            e.file_name()
                .to_str()
                .and_then(super::record_number)
                .is_some_and(|n| n > seq)
        })
    })
}
