//! Sending: what changed here since the folder last heard of it, found by comparing the store
//! with `sync_known`, written as this device's next records ([`Outbox`]).

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use super::{FollowupBody, ReadingBody, Synced, digest, json, record_name, uid_of, write_new};
use crate::model::ReadingId;
use crate::store::notes::Note;
use crate::store::{Store, StoreError};
use crate::sync::merge::{Change, DeviceId, NoteBody, Uid};
use crate::sync::record::{self, Hash, SyncKeys};

/// What to note in `sync_known` once a record is written: uid, kind, digest, clock, and a
/// note's reading.
type KnownAfter = (Uid, &'static str, Vec<u8>, u64, Option<Uid>);
/// A note or follow-up row: its id, uid, reading and the reading's uid.
type ChildRow = (i64, Option<Vec<u8>>, ReadingId, Option<Vec<u8>>);

/// About how many bytes of changes a record holds before the next begins: a join of
/// thousands of readings is read in pieces, never one record the size of the journal.
const RECORD_BYTES: usize = 8 << 20;

/// The records one sync writes: changes gathered and written in pieces, each piece noted as
/// known in the transaction after its file is in place.
struct Outbox<'a> {
    keys: &'a SyncKeys,
    device: DeviceId,
    own: &'a Path,
    /// The number of the last record in the device's folder, and its hash.
    last: u64,
    prev: Hash,
    changes: Vec<Change>,
    known: Vec<KnownAfter>,
    bytes: usize,
    /// The Lamport clock: the highest this store has seen or given.
    clock: u64,
    sent: usize,
    last_file: Option<PathBuf>,
}

impl<'a> Outbox<'a> {
    /// Starts after the highest record in `own` (a store restored from an old backup may be
    /// behind its own records), chained to it.
    fn new(keys: &'a SyncKeys, device: DeviceId, own: &'a Path) -> Result<Self, StoreError> {
        let (last, prev) = super::compact::own_last(keys, device, own)?;
        Ok(Self {
            keys,
            device,
            own,
            last,
            prev,
            changes: Vec::new(),
            known: Vec::new(),
            bytes: 0,
            clock: 0,
            sent: 0,
            last_file: None,
        })
    }

    fn push(&mut self, store: &Store, change: Change, known: KnownAfter) -> Result<(), StoreError> {
        self.bytes += match &change {
            Change::Cast { body, sections, .. } => {
                body.len() + sections.values().map(|s| s.body.len()).sum::<usize>()
            }
            Change::Sections { sections, .. } => sections.values().map(|s| s.body.len()).sum(),
            Change::Note { body, .. } => body.as_ref().map_or(0, |b| b.text.len()),
            Change::Followup { body, .. } => body.len(),
            Change::Deleted { .. } => 0,
        } + 64;
        self.changes.push(change);
        self.known.push(known);
        if self.bytes >= RECORD_BYTES {
            self.flush(store)?;
        }
        Ok(())
    }

    /// Writes what is gathered as the next record, then notes it as known.
    fn flush(&mut self, store: &Store) -> Result<(), StoreError> {
        if self.changes.is_empty() {
            return Ok(());
        }
        let seq = self.last + 1;
        let file = record::seal(self.keys, self.device, seq, &self.prev, &self.changes);
        let path = self.own.join(record_name(seq));
        write_new(&path, &file)?;
        crate::store::rekey::pause_for_tests("sync-record-written");
        let hash = record::hash(&file);
        store.atomic(|| {
            for (uid, kind, digest, c, reading) in &self.known {
                let device = (*kind == "note").then_some(self.device);
                store.set_known(*uid, kind, digest, *c, device)?;
                if let Some(reading) = reading {
                    store.set_known_note_reading(*uid, *reading)?;
                }
            }
            store.sync_set("clock", self.clock.to_string().as_bytes())?;
            // Read up to here already, when it was read up to the one before.
            if store.read_upto(self.device)?.0 == self.last {
                store.set_read(self.device, seq, &hash)?;
            }
            Ok(())
        })?;
        self.sent += self.changes.len();
        self.changes.clear();
        self.known.clear();
        self.bytes = 0;
        self.last = seq;
        self.prev = hash;
        self.last_file = Some(path);
        Ok(())
    }
}

impl Store {
    /// Each local reading's id and uid, and whether it is being generated.
    fn reading_uids(&self) -> Result<Vec<(ReadingId, Uid, bool)>, StoreError> {
        let rows: Vec<(ReadingId, Option<Vec<u8>>, String)> = self
            .conn
            .prepare("SELECT id, uid, status FROM readings ORDER BY created_at, id")
            .and_then(|mut st| {
                st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                    .collect()
            })
            .map_err(|e| self.db_err(e))?;
        Ok(rows
            .into_iter()
            .filter_map(|(id, uid, status)| Some((id, uid_of(uid)?, status == "running")))
            .collect())
    }

    /// A digest of reading `id`'s sections as stored (their row tags), nothing opened.
    pub(super) fn sections_digest(&self, id: ReadingId) -> Result<Vec<u8>, StoreError> {
        let tags: Vec<(i64, Option<Vec<u8>>)> = self
            .conn
            .prepare_cached(
                "SELECT section_id, row_tag FROM reading_parts WHERE reading_id = ?1 ORDER BY section_id",
            )
            .and_then(|mut st| st.query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))?.collect())
            .map_err(|e| self.db_err(e))?;
        let mut all: Vec<Vec<u8>> = Vec::new();
        for (s, tag) in tags {
            all.push(s.to_be_bytes().to_vec());
            all.push(tag.unwrap_or_default());
        }
        let refs: Vec<&[u8]> = all.iter().map(Vec::as_slice).collect();
        Ok(digest(&refs))
    }

    /// The digest of note row `row`'s sealed text as stored.
    pub(super) fn note_digest(&self, row: i64) -> Result<Vec<u8>, StoreError> {
        let blob: Vec<u8> = self
            .conn
            .query_row("SELECT text FROM notes WHERE id = ?1", [row], |r| r.get(0))
            .map_err(|e| self.db_err(e))?;
        Ok(digest(&[&blob]))
    }

    /// Finds what changed here since the folder last heard of it and writes it as records of
    /// at most [`RECORD_BYTES`] each (one, for the changes of a day).
    pub(super) fn export(
        &self,
        keys: &SyncKeys,
        device: DeviceId,
        own: &Path,
        out: &mut Synced,
    ) -> Result<(), StoreError> {
        let mut outbox = Outbox::new(keys, device, own)?;
        outbox.clock = u64::try_from(self.sync_int("clock")?.unwrap_or(0)).unwrap_or(0);
        let mut gone: HashSet<Uid> = HashSet::new();
        // Readings: new ones are casts, changed sections a retry; one deleted elsewhere but
        // here again (restored from an old backup) goes.
        for (id, uid, running) in self.reading_uids()? {
            if self.tombstoned(uid)? {
                self.conn
                    .execute("DELETE FROM readings WHERE id = ?1", [id])
                    .map_err(|e| self.db_err(e))?;
                out.changed += 1;
                gone.insert(uid);
                continue;
            }
            if running {
                continue;
            }
            let now = self.sections_digest(id)?;
            let known = self.known(uid)?;
            if known.as_ref().is_some_and(|k| k.1 == now) {
                continue;
            }
            let change = self.reading_change(id, uid, known.is_some());
            let Some(change) = skip_damaged(change, id, out)? else {
                continue;
            };
            outbox.push(self, change, (uid, "reading", now, 0, None))?;
        }
        self.export_children(&mut outbox, &gone, out)?;
        outbox.flush(self)?;
        out.sent = outbox.sent;
        out.file = outbox.last_file;
        out.compacted = self.compact(keys, device, own)?;
        Ok(())
    }

    /// Reading `id` as a change: its cast, or (`known`) its sections.
    fn reading_change(&self, id: ReadingId, uid: Uid, known: bool) -> Result<Change, StoreError> {
        let (sections, prefix) = self.sections_of(id)?;
        Ok(if known {
            Change::Sections {
                reading: uid,
                sections,
            }
        } else {
            let row = self.reading(id)?;
            let query = self.query(id)?;
            let body = ReadingBody {
                created_at: row.created_at,
                status: row.status,
                method: row.method,
                lines: row.lines,
                seed: row.seed,
                primary: row.primary,
                resulting: row.resulting,
                sections_planned: row.sections_planned,
                provider: row.provider,
                model: row.model,
                question: query.question,
                context: query.context,
                prefix,
            };
            Change::Cast {
                reading: uid,
                body: json(&body),
                sections,
            }
        })
    }

    /// The notes, follow-ups and deletions to send.
    fn export_children(
        &self,
        outbox: &mut Outbox<'_>,
        gone: &HashSet<Uid>,
        out: &mut Synced,
    ) -> Result<(), StoreError> {
        // Notes: new or edited ones are versions at the next clock; known ones gone deletions.
        let notes: Vec<ChildRow> = self
            .conn
            .prepare("SELECT n.id, n.uid, n.reading_id, r.uid FROM notes n JOIN readings r ON r.id = n.reading_id ORDER BY n.id")
            .and_then(|mut st| st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?.collect())
            .map_err(|e| self.db_err(e))?;
        let mut here: HashSet<Uid> = HashSet::new();
        let mut opened: BTreeMap<ReadingId, Vec<Note>> = BTreeMap::new();
        for (row, uid, reading, reading_uid) in notes {
            let (Some(uid), Some(reading_uid)) = (uid_of(uid), uid_of(reading_uid)) else {
                continue;
            };
            here.insert(uid);
            if gone.contains(&reading_uid) {
                continue;
            }
            let now = self.note_digest(row)?;
            if self.known(uid)?.is_some_and(|k| k.1 == now) {
                continue;
            }
            if let std::collections::btree_map::Entry::Vacant(e) = opened.entry(reading) {
                e.insert(skip_damaged(self.notes(reading), reading, out)?.unwrap_or_default());
            }
            let Some(note) = opened[&reading].iter().find(|n| n.id == row) else {
                continue;
            };
            outbox.clock += 1;
            let clock = outbox.clock;
            outbox.push(
                self,
                Change::Note {
                    note: uid,
                    reading: reading_uid,
                    clock,
                    body: Some(NoteBody {
                        kind: note.kind.as_str().to_owned(),
                        created_at: note.created_at,
                        text: note.text.clone(),
                    }),
                },
                (uid, "note", now, clock, Some(reading_uid)),
            )?;
        }
        let known_notes: Vec<(Vec<u8>, Option<Vec<u8>>)> = self
            .conn
            .prepare("SELECT uid, reading FROM sync_known_notes")
            .and_then(|mut st| st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect())
            .map_err(|e| self.db_err(e))?;
        for (uid, reading) in known_notes {
            let (Some(uid), Some(reading)) = (uid_of(Some(uid)), uid_of(reading)) else {
                continue;
            };
            let deleted = self.known(uid)?.is_none_or(|k| k.1.is_empty());
            if deleted || here.contains(&uid) || self.tombstoned(reading)? {
                continue;
            }
            outbox.clock += 1;
            let clock = outbox.clock;
            outbox.push(
                self,
                Change::Note {
                    note: uid,
                    reading,
                    clock,
                    body: None,
                },
                (uid, "note", Vec::new(), clock, None),
            )?;
        }
        // Follow-ups: immutable, so only new ones.
        let followups: Vec<ChildRow> = self
            .conn
            .prepare("SELECT f.id, f.uid, f.reading_id, r.uid FROM followups f JOIN readings r ON r.id = f.reading_id ORDER BY f.id")
            .and_then(|mut st| st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?.collect())
            .map_err(|e| self.db_err(e))?;
        for (row, uid, reading, reading_uid) in followups {
            let (Some(uid), Some(reading_uid)) = (uid_of(uid), uid_of(reading_uid)) else {
                continue;
            };
            if gone.contains(&reading_uid) || self.known(uid)?.is_some() {
                continue;
            }
            let found = self.followups(reading).and_then(|all| {
                let request = self.followup_request(reading, row)?;
                Ok(all
                    .into_iter()
                    .find(|f| f.meta.id == row)
                    .map(|f| (f, request)))
            });
            let Some((f, request)) = skip_damaged(found, reading, out)?.flatten() else {
                continue;
            };
            outbox.push(
                self,
                Change::Followup {
                    followup: uid,
                    reading: reading_uid,
                    body: json(&FollowupBody {
                        meta: f.meta,
                        question: f.question,
                        answer: f.answer,
                        request,
                    }),
                },
                (uid, "followup", Vec::new(), 0, None),
            )?;
        }
        // Deletions.
        let tombstones: Vec<Vec<u8>> = self
            .conn
            .prepare("SELECT t.uid FROM sync_tombstones t WHERE NOT EXISTS (SELECT 1 FROM sync_known k WHERE k.uid = t.uid AND k.kind = 'deleted')")
            .and_then(|mut st| st.query_map([], |r| r.get(0))?.collect())
            .map_err(|e| self.db_err(e))?;
        for uid in tombstones.into_iter().filter_map(|u| uid_of(Some(u))) {
            outbox.push(
                self,
                Change::Deleted { reading: uid },
                (uid, "deleted", Vec::new(), 0, None),
            )?;
        }
        Ok(())
    }
}

/// `found`, or `None` when reading `id` fails its checks here (noted in `out.damaged`, and
/// left out of the sync until it is repaired or deleted); other errors stop the sync.
fn skip_damaged<T>(
    found: Result<T, StoreError>,
    id: ReadingId,
    out: &mut Synced,
) -> Result<Option<T>, StoreError> {
    match found {
        Ok(v) => Ok(Some(v)),
        Err(StoreError::Integrity { .. } | StoreError::BadRow { .. }) => {
            if !out.damaged.contains(&id) {
                out.damaged.push(id);
            }
            Ok(None)
        }
        Err(e) => Err(e),
    }
}
