//! The sealed files of a sync folder: a device's records and the folder's key check.
//!
//! A record file is `b"ICHS" || version (1 byte) || u32_be(len) || sealed`, `sealed` being
//! `len` bytes from [`Keys::seal_packed`] under the [`SyncKeys`], of the JSON list of the
//! [`Change`]s it carries, with the associated data `sync:{device}:{seq}:{prev}` (`prev`: the hex
//! SHA-256 of the device's previous record file, [`FIRST_PREV`] for the first). So a record
//! opens only as the record it was written as: renamed to another number or moved to another
//! device's folder it does not open, and a record dropped from the middle of a series shows as
//! the next one not opening after the one before it.
//!
//! A file shorter than its header or its declared length has not finished arriving:
//! [`Opened::Waiting`], never an error. A whole file that does not open, carries bytes past its
//! declared length or does not parse is an error naming what is wrong.
//!
//! The key check, `iching-sync.key`: `b"ICHK" || version || u32_be(len) || header JSON (`len`
//! bytes: how the key is kept, and for a passphrase the KDF's non-secret parameters) || a known
//! value sealed with the header as associated data`. A wrong key fails on it before any record
//! is read.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::merge::{Change, DeviceId, hex};
use crate::crypto::{Keys, MasterKey, Sealed};

/// The first bytes of a record file.
pub const RECORD_MAGIC: &[u8; 4] = b"ICHS";
/// The first bytes of the key check file.
pub const KEY_MAGIC: &[u8; 4] = b"ICHK";
/// The format version this build writes and reads.
pub const VERSION: u8 = 1;
/// Magic, version and length.
const HEADER: usize = 9;
/// What the key check seals.
const KEY_CHECK: &[u8] = b"iching sync key check v1";
/// The `prev` of a device's first record.
pub const FIRST_PREV: Hash = [0; 32];

/// SHA-256 of a record file as written.
pub type Hash = [u8; 32];

/// The keys that seal a sync folder, derived from a store's keys (see
/// [`Keys::sync_master`]); stores that share a master key share these.
#[derive(Debug)]
pub struct SyncKeys(Keys);

impl SyncKeys {
    /// The sync keys of the store whose keys are `store`.
    pub fn of_store(store: &Keys) -> Self {
        Self::from_sync_master(&store.sync_master())
    }

    /// The sync keys of a sync master key (as a store keeps it once it has joined).
    pub fn from_sync_master(master: &MasterKey) -> Self {
        Self(Keys::derive(master))
    }
}

/// The SHA-256 of `file`.
pub fn hash(file: &[u8]) -> Hash {
    Sha256::digest(file).into()
}

fn record_aad(device: DeviceId, seq: u64, prev: &Hash) -> String {
    format!("sync:{}:{seq}:{}", device.hex(), hex(prev))
}

/// What a record file holds so far.
#[derive(Debug, PartialEq, Eq)]
pub enum Opened {
    /// Not all of it has arrived (shorter than its header or declared length): wait.
    Waiting,
    /// It opened: the changes it carries.
    Changes(Vec<Change>),
}

/// Why a file in a sync folder was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// It does not begin as an iching sync file does.
    #[error("it is not an iching sync file")]
    NotOurs,
    /// A format version this build does not know.
    #[error("it was written by a newer iching (format {0}); update iching on this machine")]
    NewerFormat(u8),
    /// More bytes than it declares.
    #[error("it holds more bytes than it declares")]
    Overlong,
    /// Its seal does not open with the key and its place (device, number, previous record).
    #[error(
        "it does not open: it was altered, moved from another place, or a record before it is missing or was changed"
    )]
    DoesNotOpen,
    /// It opened but does not parse.
    #[error("it opened but its content does not parse")]
    Unreadable,
}

/// The record file for `changes`, number `seq` of `device`, after the record whose file hashes
/// to `prev`.
#[allow(clippy::expect_used, reason = "a list of changes always serialises")]
pub fn seal(
    keys: &SyncKeys,
    device: DeviceId,
    seq: u64,
    prev: &Hash,
    changes: &[Change],
) -> Vec<u8> {
    let json = zeroize::Zeroizing::new(
        serde_json::to_vec(changes).expect("a list of changes always serialises"),
    );
    let sealed = keys
        .0
        .seal_packed(record_aad(device, seq, prev).as_bytes(), &json);
    framed(*RECORD_MAGIC, sealed.as_bytes(), &[])
}

/// `magic || VERSION || u32_be(first.len()) || first || rest`.
fn framed(magic: [u8; 4], first: &[u8], rest: &[u8]) -> Vec<u8> {
    let len = u32::try_from(first.len()).unwrap_or(u32::MAX);
    let mut out = Vec::with_capacity(HEADER + first.len() + rest.len());
    out.extend_from_slice(&magic);
    out.push(VERSION);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(first);
    out.extend_from_slice(rest);
    out
}

/// A framed file's declared part and what follows it.
type Split<'a> = (&'a [u8], &'a [u8]);

/// Splits a framed file into its declared part and what follows; `Ok(None)` while it has not
/// all arrived.
fn unframe(magic: [u8; 4], file: &[u8]) -> Result<Option<Split<'_>>, RecordError> {
    let known = file.len().min(4);
    if file[..known] != magic[..known] {
        return Err(RecordError::NotOurs);
    }
    if file.len() < HEADER {
        return Ok(None);
    }
    if file[4] != VERSION {
        return Err(RecordError::NewerFormat(file[4]));
    }
    let len = u32::from_be_bytes([file[5], file[6], file[7], file[8]]) as usize;
    let body = &file[HEADER..];
    if body.len() < len {
        return Ok(None);
    }
    Ok(Some(body.split_at(len)))
}

/// Opens `file` as record `seq` of `device` after the record hashing to `prev`.
pub fn open(
    keys: &SyncKeys,
    device: DeviceId,
    seq: u64,
    prev: &Hash,
    file: &[u8],
) -> Result<Opened, RecordError> {
    let Some((sealed, rest)) = unframe(*RECORD_MAGIC, file)? else {
        return Ok(Opened::Waiting);
    };
    if !rest.is_empty() {
        return Err(RecordError::Overlong);
    }
    let json = keys
        .0
        .open(
            record_aad(device, seq, prev).as_bytes(),
            &Sealed::from_bytes(sealed.to_vec()),
        )
        .map(zeroize::Zeroizing::new)
        .map_err(|_| RecordError::DoesNotOpen)?;
    serde_json::from_slice(&json)
        .map(Opened::Changes)
        .map_err(|_| RecordError::Unreadable)
}

/// The first bytes of a snapshot file.
pub const SNAPSHOT_MAGIC: &[u8; 4] = b"ICHP";

/// What a snapshot seals: the hash of the last record it stands for (the next record chains
/// on it), and the changes that rebuild what the records said.
#[derive(Serialize, Deserialize)]
struct SnapshotBody {
    last: String,
    changes: Vec<Change>,
}

/// The snapshot file standing for records 1 to `last_seq` of `device` (the last of which
/// hashed to `last`): framed as a record, sealed with `sync:{device}:snapshot:{last_seq}`.
#[allow(clippy::expect_used, reason = "a list of changes always serialises")]
pub fn seal_snapshot(
    keys: &SyncKeys,
    device: DeviceId,
    last_seq: u64,
    last: &Hash,
    changes: &[Change],
) -> Vec<u8> {
    let body = SnapshotBody {
        last: hex(last),
        changes: changes.to_vec(),
    };
    let json = zeroize::Zeroizing::new(
        serde_json::to_vec(&body).expect("a list of changes always serialises"),
    );
    let aad = format!("sync:{}:snapshot:{last_seq}", device.hex());
    let sealed = keys.0.seal_packed(aad.as_bytes(), &json);
    framed(*SNAPSHOT_MAGIC, sealed.as_bytes(), &[])
}

/// Opens `file` as the snapshot of `device`'s records 1 to `last_seq`: the last record's hash
/// and the changes; `Ok(None)` while it has not all arrived.
pub fn open_snapshot(
    keys: &SyncKeys,
    device: DeviceId,
    last_seq: u64,
    file: &[u8],
) -> Result<Option<(Hash, Vec<Change>)>, RecordError> {
    let Some((sealed, rest)) = unframe(*SNAPSHOT_MAGIC, file)? else {
        return Ok(None);
    };
    if !rest.is_empty() {
        return Err(RecordError::Overlong);
    }
    let aad = format!("sync:{}:snapshot:{last_seq}", device.hex());
    let json = keys
        .0
        .open(aad.as_bytes(), &Sealed::from_bytes(sealed.to_vec()))
        .map(zeroize::Zeroizing::new)
        .map_err(|_| RecordError::DoesNotOpen)?;
    let body: SnapshotBody = serde_json::from_slice(&json).map_err(|_| RecordError::Unreadable)?;
    let last = (0..32)
        .map(|i| {
            body.last
                .get(2 * i..2 * i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        })
        .collect::<Option<Vec<u8>>>()
        .and_then(|v| Hash::try_from(v).ok())
        .ok_or(RecordError::Unreadable)?;
    Ok(Some((last, body.changes)))
}

/// How the folder's key is kept: what a machine needs, besides the secret, to derive it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyHeader {
    /// `keyfile` or `passphrase`: what a joining machine is asked for.
    pub mode: String,
    /// For a passphrase: the KDF's parameters, by name, hex (the algorithm, the salt, the
    /// cost); empty for a key file.
    pub kdf: BTreeMap<String, String>,
    /// The folder's own identity (random, hex), chosen when it is made: a store that syncs
    /// with another folder than last time sends everything again.
    pub folder: String,
}

/// The key check file for `header`, sealed under `keys`.
#[allow(clippy::expect_used, reason = "a header always serialises")]
pub fn key_check(keys: &SyncKeys, header: &KeyHeader) -> Vec<u8> {
    let json = serde_json::to_vec(header).expect("a header always serialises");
    let aad = [b"sync:key_check:".as_slice(), &json].concat();
    let sealed = keys.0.seal(&aad, KEY_CHECK);
    framed(*KEY_MAGIC, &json, sealed.as_bytes())
}

/// The header of a key check file, with what must be checked against a key; `Ok(None)` while
/// it has not all arrived.
pub fn read_key_check(file: &[u8]) -> Result<Option<(KeyHeader, KeyCheck)>, RecordError> {
    let Some((json, sealed)) = unframe(*KEY_MAGIC, file)? else {
        return Ok(None);
    };
    let header = serde_json::from_slice(json).map_err(|_| RecordError::Unreadable)?;
    Ok(Some((
        header,
        KeyCheck {
            aad: [b"sync:key_check:".as_slice(), json].concat(),
            sealed: sealed.to_vec(),
        },
    )))
}

/// A key check as read from the folder.
#[derive(Debug, Clone)]
pub struct KeyCheck {
    aad: Vec<u8>,
    sealed: Vec<u8>,
}

impl KeyCheck {
    /// Whether `keys` are the folder's.
    pub fn opens_with(&self, keys: &SyncKeys) -> bool {
        keys.0
            .open(&self.aad, &Sealed::from_bytes(self.sealed.clone()))
            .is_ok_and(|v| v == KEY_CHECK)
    }
}

#[cfg(test)]
#[path = "record_tests.rs"]
mod tests;
