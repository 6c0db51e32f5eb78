//! The store's side of sync through a folder ([`crate::sync`]): finding the folder's key (here),
//! reading every device's new records and merging them in ([`receive`]), writing this
//! machine's new changes as sealed records ([`send`]). docs/DECISIONS.md, "Sync through a
//! folder", has the design.
//!
//! What is new is found by comparing the store with `sync_known` (what each uid was when last
//! written to or read from the folder), so no write path needs to know about sync: a reading
//! not known yet is a cast, one whose sections changed a retry, a note whose sealed text
//! changed an edit, a known note that is gone a deletion, a tombstone not known a deletion.
//! Each device's records are read in order, each applied in one transaction with the note of
//! how far that device is read: a process killed mid-sync loses nothing, and the next sync
//! goes on where it stopped.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::followups::FollowupFigures;
use super::keys::{Kdf, KeyMode, read_key_file};
use super::parts::{PartText, SectionFigures};
use super::{Store, StoreError, now_ms};
use crate::crypto::{Keys, MasterKey, Sealed};
use crate::model::{ReadingId, ReadingStatus, Secret, SectionStatus};
use crate::sync::merge::{DeviceId, Section, Uid, hex};
use crate::sync::record::{self, FIRST_PREV, Hash, KeyHeader, RecordError, SyncKeys};

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
    /// Whether this machine's records were compacted into a snapshot.
    pub compacted: bool,
    /// Whether this sync joined the folder (its key was taken from `--key` or the passphrase,
    /// or the folder was new).
    pub joined: bool,
}

/// When this store last synced, and with how many other devices.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SyncStatus {
    /// This store's device id (hex), once it has synced.
    pub device: Option<String>,
    /// When it last finished a sync (Unix ms; RFC 3339 with the local offset in JSON).
    #[serde(serialize_with = "crate::when::ms_as_rfc3339")]
    pub last_sync: Option<i64>,
    /// How many other devices the folder held at the last sync.
    pub devices: usize,
    /// Readings deleted that it remembers (so they never come back).
    pub tombstones: usize,
}

/// What `sync_known` holds of a uid: kind, digest, clock, device.
type Known = (String, Vec<u8>, u64, Option<Uid>);

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
        let (master, folder) = match bytes {
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
                            folder: Uid(crate::crypto::new_salt()).hex(),
                        },
                    ),
                    (None, Some(m)) => (m, self.own_header()),
                    (None, None) => (self.keys.sync_master(), self.own_header()),
                };
                let file = record::key_check(&SyncKeys::from_sync_master(&master), &header);
                write_new(&check_path, &file)?;
                out.joined = true;
                (master, header.folder)
            }
            Some(bytes) => {
                let refused = |why| StoreError::SyncKeyCheck {
                    path: check_path.clone(),
                    why,
                };
                let (header, check) = record::read_key_check(&bytes)
                    .map_err(refused)?
                    .ok_or(refused(RecordError::DoesNotOpen))?;
                let opens = |m: &MasterKey| check.opens_with(&SyncKeys::from_sync_master(m));
                // The key given first (a join), then the one kept, then this store's own; the
                // passphrase last, and only when needed (deriving it takes a second).
                let given = from_file.filter(|m| opens(m));
                let joined = given.is_some();
                let found = given
                    .or_else(|| kept.filter(|m| opens(m)))
                    .or_else(|| Some(self.keys.sync_master()).filter(|m| opens(m)));
                let found = match found {
                    Some(m) => Some((m, joined)),
                    None => match (&join.passphrase, header.mode.as_str()) {
                        (Some(p), "passphrase") => {
                            Kdf::from_meta(|k| header.kdf.get(k).and_then(|h| unhex(h)))
                                .ok()
                                .flatten()
                                .and_then(|kdf| kdf.derive(p.expose()))
                                .map(|m| Keys::derive(&m).sync_master())
                                .filter(|m| opens(m))
                                .map(|m| (m, true))
                        }
                        _ => None,
                    },
                };
                let Some((master, joined)) = found else {
                    return Err(StoreError::SyncWrongKey {
                        dir: dir.to_path_buf(),
                        passphrase: header.mode == "passphrase",
                    });
                };
                out.joined = joined;
                (master, header.folder)
            }
        };
        let sealed = self.keys.seal(SYNC_KEY_AAD, master.as_bytes());
        self.sync_set("key", sealed.as_bytes())?;
        // Another folder than last time (or this one made anew): what the old one was sent
        // or gave is not in this one, so everything is sent again and every record read.
        if self.sync_get("folder")?.as_deref() != Some(folder.as_bytes()) {
            self.atomic(|| {
                self.exec(
                    "DELETE FROM sync_known; DELETE FROM sync_known_notes; DELETE FROM sync_read;",
                )?;
                self.sync_set("folder", folder.as_bytes())
            })?;
        }
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
            folder: Uid(crate::crypto::new_salt()).hex(),
        }
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

mod compact;
mod receive;
mod send;

#[cfg(test)]
mod tests;
