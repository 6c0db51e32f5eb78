//! The store's side of sync through a folder ([`crate::sync`]): finding the folder's key,
//! writing this machine's new changes as one sealed record, reading every device's new records
//! and merging them in. docs/DECISIONS.md, "Sync through a folder", has the design.
//!
//! What is new is found by comparing the store with `sync_known` (what each uid was when last
//! written to or read from the folder), so no write path needs to know about sync: a reading
//! not known yet is a cast, one whose sections changed a retry, a note whose sealed text
//! changed an edit, a known note that is gone a deletion, a tombstone not known a deletion.
//! Each device's records are read in order, each applied in one transaction with the note of
//! how far that device is read: a process killed mid-sync loses nothing, and the next sync
//! goes on where it stopped.

use std::collections::{BTreeMap, HashSet};
use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::followups::{Followup, FollowupFigures};
use super::keys::{Kdf, KeyMode, read_key_file};
use super::notes::Note;
use super::parts::{PartText, SectionFigures};
use super::{ReadingRow, Store, StoreError, now_ms};
use crate::crypto::{Keys, MasterKey, Sealed};
use crate::model::{NoteKind, Query, ReadingId, ReadingStatus, Secret, SectionStatus};
use crate::sync::merge::{Change, DeviceId, NoteBody, Section, Uid, hex};
use crate::sync::record::{self, FIRST_PREV, Hash, KeyHeader, Opened, RecordError, SyncKeys};

/// The key check's name in the folder.
pub const KEY_CHECK_FILE: &str = "iching-sync.key";
/// The folder of device folders.
const DEVICES: &str = "devices";
/// The label the stored sync key is sealed under.
const SYNC_KEY_AAD: &[u8] = b"sync_state:key";

/// How this store may find the folder's key besides the one it keeps.
#[derive(Debug, Default)]
pub struct SyncJoin {
    /// Another machine's key file (a key-file folder).
    pub key_file: Option<PathBuf>,
    /// A passphrase (a passphrase folder).
    pub passphrase: Option<Secret>,
}

/// A file of the folder that was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// The file.
    pub path: PathBuf,
    /// Why.
    pub why: RecordError,
}

/// What one sync did.
#[derive(Debug, Clone, Default)]
pub struct Synced {
    /// Changes this machine wrote to the folder.
    pub sent: usize,
    /// The record file they went into.
    pub file: Option<PathBuf>,
    /// Records of other devices read and merged.
    pub records: usize,
    /// Readings added or removed, notes and follow-ups added, changed or removed here.
    pub changed: usize,
    /// Other devices in the folder.
    pub devices: usize,
    /// Files not arrived in full yet (waited for).
    pub waiting: usize,
    /// Files refused: nothing of them was merged.
    pub refused: Vec<Refused>,
    /// Readings here that fail their checks, left out of what was sent (`iching verify`).
    pub damaged: Vec<ReadingId>,
    /// Whether this sync joined the folder (its key was taken from `--key` or the passphrase,
    /// or the folder was new).
    pub joined: bool,
}

/// When this store last synced, and with how many other devices.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SyncStatus {
    /// This store's device id (hex), once it has synced.
    pub device: Option<String>,
    /// When it last finished a sync (Unix ms).
    pub last_sync: Option<i64>,
    /// How many other devices the folder held at the last sync.
    pub devices: usize,
    /// Readings deleted that it remembers (so they never come back).
    pub tombstones: usize,
}

/// What `sync_known` holds of a uid: kind, digest, clock, device.
type Known = (String, Vec<u8>, u64, Option<Uid>);
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
        let mut last = 0;
        for entry in std::fs::read_dir(own).map_err(|e| StoreError::io(own, "cannot read", &e))? {
            let entry = entry.map_err(|e| StoreError::io(own, "cannot read", &e))?;
            if let Some(n) = entry.file_name().to_str().and_then(record_number) {
                last = last.max(n);
            }
        }
        let prev: Hash = if last == 0 {
            FIRST_PREV
        } else {
            let p = own.join(record_name(last));
            record::hash(&std::fs::read(&p).map_err(|e| StoreError::io(&p, "cannot read", &e))?)
        };
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
        super::rekey::pause_for_tests("sync-record-written");
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

/// A reading as a record carries it.
#[derive(Serialize, Deserialize)]
struct ReadingBody {
    created_at: i64,
    status: ReadingStatus,
    method: String,
    lines: [u8; 6],
    seed: Option<u64>,
    primary: u8,
    resulting: Option<u8>,
    sections_planned: u32,
    provider: String,
    model: String,
    question: String,
    context: Option<String>,
    prefix: Option<String>,
}

/// A section as a record carries it (its request whole).
#[derive(Serialize, Deserialize)]
struct SectionBody {
    meta: SectionFigures,
    text: PartText,
}

/// A follow-up as a record carries it.
#[derive(Serialize, Deserialize)]
struct FollowupBody {
    meta: FollowupFigures,
    question: String,
    answer: String,
    request: String,
}

#[allow(clippy::expect_used, reason = "these types always serialise")]
fn json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("these types always serialise")
}

fn digest(parts: &[&[u8]]) -> Vec<u8> {
    let mut h = Sha256::new();
    for p in parts {
        h.update(u64::try_from(p.len()).unwrap_or(u64::MAX).to_be_bytes());
        h.update(p);
    }
    h.finalize().to_vec()
}

fn uid_of(bytes: Option<Vec<u8>>) -> Option<Uid> {
    bytes.and_then(|b| <[u8; 16]>::try_from(b).ok()).map(Uid)
}

/// Whether a name in a device folder is a record (`<12 digits>.rec`); anything else (a sync
/// tool's temporary or conflict file) is not looked at.
fn record_number(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(".rec")?;
    (digits.len() == 12 && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.parse().ok())
        .flatten()
}

fn record_name(seq: u64) -> String {
    format!("{seq:012}.rec")
}

/// The changes of one record that can be merged now; `false` when one refers to a reading
/// that has not arrived (its device is read again at the next pass or sync).
enum Applied {
    Done(usize),
    NeedsReading,
}

impl Store {
    fn sync_get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.conn
            .query_row("SELECT value FROM sync_state WHERE key = ?1", [key], |r| {
                r.get(0)
            })
            .optional()
            .map_err(|e| self.db_err(e))
    }

    fn sync_set(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT INTO sync_state (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                params![key, value],
            )
            .map(drop)
            .map_err(|e| self.db_err(e))
    }

    fn sync_int(&self, key: &str) -> Result<Option<i64>, StoreError> {
        Ok(self
            .sync_get(key)?
            .and_then(|v| String::from_utf8(v).ok()?.parse().ok()))
    }

    /// This store's device id, chosen the first time it syncs.
    fn device(&self) -> Result<DeviceId, StoreError> {
        if let Some(id) = uid_of(self.sync_get("device")?) {
            return Ok(id);
        }
        let id = Uid(crate::crypto::new_salt());
        self.sync_set("device", &id.0)?;
        Ok(id)
    }

    /// What this store knows of its sync (for `iching sync --status`).
    pub fn sync_status(&self) -> Result<SyncStatus, StoreError> {
        let device = uid_of(self.sync_get("device")?);
        let devices = self.sync_int("devices")?.unwrap_or(0);
        let tombstones: i64 = self
            .conn
            .query_row("SELECT count(*) FROM sync_tombstones", [], |r| r.get(0))
            .map_err(|e| self.db_err(e))?;
        Ok(SyncStatus {
            device: device.map(|d| d.hex()),
            last_sync: self.sync_int("last_sync")?,
            devices: usize::try_from(devices).unwrap_or(0),
            tombstones: usize::try_from(tombstones).unwrap_or(0),
        })
    }

    /// Syncs with the folder `dir`: finds its key (or makes the folder's key check when it is
    /// new), writes this machine's new changes, then reads and merges every device's new
    /// records. Refused files are in the result, not an error: the rest of the sync goes on.
    pub fn sync(&self, dir: &Path, join: &SyncJoin) -> Result<Synced, StoreError> {
        self.same_key()?;
        let folder_io = |p: &Path, what: &'static str| {
            let p = p.to_path_buf();
            move |e: std::io::Error| StoreError::io(&p, what, &e)
        };
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir.join(DEVICES))
            .map_err(folder_io(dir, "cannot create the sync folder"))?;
        let mut out = Synced::default();
        let keys = self.folder_keys(dir, join, &mut out)?;
        let device = self.device()?;
        let own = dir.join(DEVICES).join(device.hex());
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&own)
            .map_err(folder_io(&own, "cannot create the device folder"))?;
        // Read first: a reading this store holds already from before it synced (both machines
        // restored the same backup) takes the folder's identity instead of being sent again.
        self.import_records(&keys, dir, device, &mut out)?;
        self.export(&keys, device, &own, &mut out)?;
        self.sync_set("last_sync", now_ms().to_string().as_bytes())?;
        self.sync_set("devices", out.devices.to_string().as_bytes())?;
        Ok(out)
    }

    /// The folder's sync keys: from `--key`, the passphrase, the key this store keeps, or its
    /// own; a new folder gets a key check made from the first of those there is.
    fn folder_keys(
        &self,
        dir: &Path,
        join: &SyncJoin,
        out: &mut Synced,
    ) -> Result<SyncKeys, StoreError> {
        let check_path = dir.join(KEY_CHECK_FILE);
        let kept: Option<MasterKey> = self
            .sync_get("key")?
            .and_then(|blob| self.keys.open(SYNC_KEY_AAD, &Sealed::from_bytes(blob)).ok())
            .map(zeroize::Zeroizing::new)
            .and_then(|b| <[u8; 32]>::try_from(b.as_slice()).ok())
            .map(MasterKey::from_bytes);
        let from_file = match &join.key_file {
            Some(path) => Some(
                read_key_file(path)?
                    .ok_or_else(|| StoreError::KeyFileInvalid {
                        path: path.clone(),
                        reason: "there is no such file".into(),
                    })
                    .map(|m| Keys::derive(&m).sync_master())?,
            ),
            None => None,
        };
        let bytes = match std::fs::read(&check_path) {
            Ok(b) => Some(b),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(StoreError::io(&check_path, "cannot read", &e)),
        };
        let master = match bytes {
            None => {
                let any = std::fs::read_dir(dir.join(DEVICES))
                    .map_err(|e| StoreError::io(dir, "cannot read", &e))?
                    .next()
                    .is_some();
                if any {
                    return Err(StoreError::SyncNoKeyCheck {
                        dir: dir.to_path_buf(),
                    });
                }
                // A new folder: sealed with the key given, kept, or this store's own.
                let (master, header) = match (from_file, kept) {
                    (Some(m), _) => (
                        m,
                        KeyHeader {
                            mode: "keyfile".into(),
                            kdf: BTreeMap::new(),
                        },
                    ),
                    (None, Some(m)) => (m, self.own_header()),
                    (None, None) => (self.keys.sync_master(), self.own_header()),
                };
                let file = record::key_check(&SyncKeys::from_sync_master(&master), &header);
                write_new(&check_path, &file)?;
                out.joined = true;
                master
            }
            Some(bytes) => {
                let refused = |why| StoreError::SyncKeyCheck {
                    path: check_path.clone(),
                    why,
                };
                let (header, check) = record::read_key_check(&bytes)
                    .map_err(refused)?
                    .ok_or(refused(RecordError::DoesNotOpen))?;
                let from_passphrase = match (&join.passphrase, header.mode.as_str()) {
                    (Some(p), "passphrase") => {
                        Kdf::from_meta(|k| header.kdf.get(k).and_then(|h| unhex(h)))
                            .ok()
                            .flatten()
                            .and_then(|kdf| kdf.derive(p.expose()))
                            .map(|m| Keys::derive(&m).sync_master())
                    }
                    _ => None,
                };
                let joined = from_file.is_some() || from_passphrase.is_some();
                let candidates = [
                    from_file,
                    from_passphrase,
                    kept,
                    Some(self.keys.sync_master()),
                ];
                let found = candidates
                    .into_iter()
                    .flatten()
                    .find(|m| check.opens_with(&SyncKeys::from_sync_master(m)));
                match found {
                    Some(m) => {
                        out.joined = joined;
                        m
                    }
                    None => {
                        return Err(StoreError::SyncWrongKey {
                            dir: dir.to_path_buf(),
                            passphrase: header.mode == "passphrase",
                        });
                    }
                }
            }
        };
        let sealed = self.keys.seal(SYNC_KEY_AAD, master.as_bytes());
        self.sync_set("key", sealed.as_bytes())?;
        Ok(SyncKeys::from_sync_master(&master))
    }

    /// The key check's header for this store's own key.
    fn own_header(&self) -> KeyHeader {
        let kdf = match self.mode {
            KeyMode::KeyFile => BTreeMap::new(),
            KeyMode::Passphrase => {
                let meta = |key: &str| -> Option<Vec<u8>> {
                    self.conn
                        .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
                        .optional()
                        .ok()
                        .flatten()
                };
                Kdf::from_meta(meta)
                    .ok()
                    .flatten()
                    .map(|k| {
                        k.meta_rows()
                            .into_iter()
                            .map(|(name, v)| (name.to_owned(), hex(&v)))
                            .collect()
                    })
                    .unwrap_or_default()
            }
        };
        KeyHeader {
            mode: self.mode.as_str().to_owned(),
            kdf,
        }
    }

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

    fn reading_by_uid(&self, uid: Uid) -> Result<Option<ReadingId>, StoreError> {
        self.conn
            .query_row(
                "SELECT id FROM readings WHERE uid = ?1",
                [uid.0.to_vec()],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.db_err(e))
    }

    fn tombstoned(&self, uid: Uid) -> Result<bool, StoreError> {
        self.conn
            .query_row(
                "SELECT count(*) > 0 FROM sync_tombstones WHERE uid = ?1",
                [uid.0.to_vec()],
                |r| r.get(0),
            )
            .map_err(|e| self.db_err(e))
    }

    /// What `sync_known` holds of `uid`: kind, digest, clock, device.
    fn known(&self, uid: Uid) -> Result<Option<Known>, StoreError> {
        self.conn
            .query_row(
                "SELECT kind, digest, clock, device FROM sync_known WHERE uid = ?1",
                [uid.0.to_vec()],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, Vec<u8>>(1)?,
                        u64::try_from(r.get::<_, i64>(2)?).unwrap_or(0),
                        uid_of(r.get(3)?),
                    ))
                },
            )
            .optional()
            .map_err(|e| self.db_err(e))
    }

    fn set_known(
        &self,
        uid: Uid,
        kind: &str,
        digest: &[u8],
        clock: u64,
        device: Option<Uid>,
    ) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT INTO sync_known (uid, kind, digest, clock, device) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (uid) DO UPDATE SET kind = excluded.kind, digest = excluded.digest,
                    clock = excluded.clock, device = excluded.device",
                params![
                    uid.0.to_vec(),
                    kind,
                    digest,
                    i64::try_from(clock).unwrap_or(i64::MAX),
                    device.map(|d| d.0.to_vec())
                ],
            )
            .map(drop)
            .map_err(|e| self.db_err(e))
    }

    /// A digest of reading `id`'s sections as stored (their row tags), nothing opened.
    fn sections_digest(&self, id: ReadingId) -> Result<Vec<u8>, StoreError> {
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

    /// Reading `id`'s sections as records carry them.
    fn sections_of(
        &self,
        id: ReadingId,
    ) -> Result<(BTreeMap<u8, Section>, Option<String>), StoreError> {
        let (parts, prefix) = self.parts_and_prefix(id)?;
        let sections = parts
            .into_iter()
            .map(|p| {
                let mut meta = p.meta;
                // Local bookkeeping, not content: each store sets it when it saves.
                meta.updated_at = 0;
                let complete = meta.status == SectionStatus::Complete;
                (
                    meta.section_id,
                    Section {
                        complete,
                        body: json(&SectionBody { meta, text: p.text }),
                    },
                )
            })
            .collect();
        Ok((sections, prefix))
    }

    /// The digest of note row `row`'s sealed text as stored.
    fn note_digest(&self, row: i64) -> Result<Vec<u8>, StoreError> {
        let blob: Vec<u8> = self
            .conn
            .query_row("SELECT text FROM notes WHERE id = ?1", [row], |r| r.get(0))
            .map_err(|e| self.db_err(e))?;
        Ok(digest(&[&blob]))
    }

    /// Finds what changed here since the folder last heard of it and writes it as records of
    /// at most [`RECORD_BYTES`] each (one, for the changes of a day).
    fn export(
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

    fn read_upto(&self, device: DeviceId) -> Result<(u64, Hash), StoreError> {
        let row: Option<(i64, Vec<u8>)> = self
            .conn
            .query_row(
                "SELECT seq, hash FROM sync_read WHERE device = ?1",
                [device.0.to_vec()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(|e| self.db_err(e))?;
        Ok(row
            .and_then(|(s, h)| Some((u64::try_from(s).ok()?, <Hash>::try_from(h).ok()?)))
            .unwrap_or((0, FIRST_PREV)))
    }

    fn set_read(&self, device: DeviceId, seq: u64, hash: &Hash) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT INTO sync_read (device, seq, hash) VALUES (?1, ?2, ?3)
                 ON CONFLICT (device) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
                params![
                    device.0.to_vec(),
                    i64::try_from(seq).unwrap_or(i64::MAX),
                    hash.to_vec()
                ],
            )
            .map(drop)
            .map_err(|e| self.db_err(e))
    }

    /// Reads every device's new records, in each device's order, merging each in one
    /// transaction; passes again while one waited for a reading another device brings.
    fn import_records(
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
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => break,
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
                                    super::rekey::pause_for_tests("sync-merged-one");
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

    /// Reading `id`'s global identity.
    pub(super) fn reading_uid(&self, id: ReadingId) -> Result<Option<Uid>, StoreError> {
        self.conn
            .query_row("SELECT uid FROM readings WHERE id = ?1", [id], |r| r.get(0))
            .map(uid_of)
            .map_err(|e| self.db_err(e))
    }

    /// Whether `uid` is a reading deleted here.
    pub(super) fn deleted_uid(&self, uid: Option<Uid>) -> Result<bool, StoreError> {
        uid.map_or(Ok(false), |u| self.tombstoned(u))
    }

    /// Gives reading `id` (a copy just made) the uid of its original, unless a reading here
    /// has it already.
    pub(super) fn carry_uid(&self, id: ReadingId, uid: Option<Uid>) -> Result<(), StoreError> {
        let Some(uid) = uid else { return Ok(()) };
        self.conn
            .execute(
                "UPDATE OR IGNORE readings SET uid = ?2 WHERE id = ?1",
                params![id, uid.0.to_vec()],
            )
            .map(drop)
            .map_err(|e| self.db_err(e))
    }

    /// Re-seals the sync key this store keeps under `new` (a key change, inside its
    /// transaction): the folder's key stays the folder's; returns how many blobs were sealed.
    pub(super) fn reseal_sync_key(&self, new: &Keys) -> Result<usize, StoreError> {
        let Some(blob) = self.sync_get("key")? else {
            return Ok(0);
        };
        let Ok(plain) = self.keys.open(SYNC_KEY_AAD, &Sealed::from_bytes(blob)) else {
            // One that does not open is dropped: the next sync joins again with --key.
            self.conn
                .execute("DELETE FROM sync_state WHERE key = 'key'", [])
                .map_err(|e| self.db_err(e))?;
            return Ok(0);
        };
        let plain = zeroize::Zeroizing::new(plain);
        self.sync_set("key", new.seal(SYNC_KEY_AAD, &plain).as_bytes())?;
        Ok(1)
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

    fn set_known_note_reading(&self, note: Uid, reading: Uid) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT INTO sync_known_notes (uid, reading) VALUES (?1, ?2)
                 ON CONFLICT (uid) DO NOTHING",
                params![note.0.to_vec(), reading.0.to_vec()],
            )
            .map(drop)
            .map_err(|e| self.db_err(e))
    }

    /// Adds the sections of `incoming` that win over what reading `id` has (a complete one
    /// over a failed one; between equals the content that sorts first) and settles its status.
    fn merge_sections(
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

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
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

/// Writes `bytes` to a new file `path` (mode 0600): first under a temporary name beginning with
/// `.` in the same folder, synced, then renamed, so a reader (or a sync tool) never sees it
/// half-written under its real name.
fn write_new(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        StoreError::io(path, "cannot write", &e)
    })
}

#[cfg(test)]
#[path = "sync_tests.rs"]
mod tests;
