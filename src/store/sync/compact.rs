//! Compaction: when a device's folder holds many small records, the device replaces them with
//! one sealed snapshot (`<last>.snap`) of the changes that rebuild what they said
//! ([`crate::sync::merge::State::changes`]). The snapshot carries the hash of the last record
//! it stands for, so the next record chains on as before. A reader that had not read them all
//! reads the snapshot instead (merging a change again is merging it once).

use std::path::Path;

use super::{record_name, record_number, write_new};
use crate::store::{Store, StoreError};
use crate::sync::merge::{DeviceId, State};
use crate::sync::record::{self, FIRST_PREV, Hash, Opened, SyncKeys};

/// Compacted once a device's folder holds this many records...
const COMPACT_FROM: usize = 64;
/// ...that together weigh less than this (many small syncs; large records stay as they are).
const COMPACT_UNDER: u64 = 8 << 20;

/// The number of a snapshot file's name (`<12 digits>.snap`).
pub(super) fn snapshot_number(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(".snap")?;
    (digits.len() == 12 && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.parse().ok())
        .flatten()
}

fn snapshot_name(seq: u64) -> String {
    format!("{seq:012}.snap")
}

/// A device folder's records (number and size, by number) and snapshots (numbers).
type Listing = (Vec<(u64, u64)>, Vec<u64>);

/// The numbers of the records and snapshots in a device's folder, with each record's size.
fn listing(dir: &Path) -> Result<Listing, StoreError> {
    let (mut records, mut snapshots) = (Vec::new(), Vec::new());
    for entry in std::fs::read_dir(dir).map_err(|e| StoreError::io(dir, "cannot read", &e))? {
        let entry = entry.map_err(|e| StoreError::io(dir, "cannot read", &e))?;
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        if let Some(n) = record_number(&name) {
            records.push((n, entry.metadata().map_or(0, |m| m.len())));
        } else if let Some(n) = snapshot_number(&name) {
            snapshots.push(n);
        }
    }
    records.sort_unstable();
    snapshots.sort_unstable();
    Ok((records, snapshots))
}

/// The newest snapshot in `dir` that stands for record `next` or later, if any.
pub(super) fn snapshot_from(dir: &Path, next: u64) -> Option<u64> {
    let (_, snapshots) = listing(dir).ok()?;
    snapshots.into_iter().filter(|n| *n >= next).max()
}

/// The number of the last record `device` wrote to `own` (a record or a snapshot's last) and
/// the hash the next one chains on.
pub(super) fn own_last(
    keys: &SyncKeys,
    device: DeviceId,
    own: &Path,
) -> Result<(u64, Hash), StoreError> {
    let (records, snapshots) = listing(own)?;
    let last_record = records.last().map_or(0, |r| r.0);
    let last_snapshot = snapshots.last().copied().unwrap_or(0);
    if last_record == 0 && last_snapshot == 0 {
        return Ok((0, FIRST_PREV));
    }
    if last_record >= last_snapshot {
        let p = own.join(record_name(last_record));
        let bytes = std::fs::read(&p).map_err(|e| StoreError::io(&p, "cannot read", &e))?;
        return Ok((last_record, record::hash(&bytes)));
    }
    let p = own.join(snapshot_name(last_snapshot));
    let bytes = std::fs::read(&p).map_err(|e| StoreError::io(&p, "cannot read", &e))?;
    match record::open_snapshot(keys, device, last_snapshot, &bytes) {
        Ok(Some((hash, _))) => Ok((last_snapshot, hash)),
        _ => Err(StoreError::io(
            &p,
            "cannot read",
            &std::io::Error::other("this device's own snapshot does not open"),
        )),
    }
}

impl Store {
    /// Compacts this device's records in `own` into a snapshot when there are many small ones
    /// and this store has read them all; anything that does not open leaves them as they are.
    pub(super) fn compact(
        &self,
        keys: &SyncKeys,
        device: DeviceId,
        own: &Path,
    ) -> Result<bool, StoreError> {
        let (records, snapshots) = listing(own)?;
        let weight: u64 = records.iter().map(|r| r.1).sum();
        let Some(&(last, _)) = records.last() else {
            return Ok(false);
        };
        if records.len() < COMPACT_FROM
            || weight >= COMPACT_UNDER
            || self.read_upto(device)?.0 != last
        {
            return Ok(false);
        }
        let mut state = State::default();
        let (mut next, mut prev) = (1, FIRST_PREV);
        if let Some(&s) = snapshots.iter().filter(|s| **s < last).max() {
            let p = own.join(snapshot_name(s));
            let bytes = std::fs::read(&p).map_err(|e| StoreError::io(&p, "cannot read", &e))?;
            let Ok(Some((hash, changes))) = record::open_snapshot(keys, device, s, &bytes) else {
                return Ok(false);
            };
            for c in &changes {
                state.apply(device, c);
            }
            (next, prev) = (s + 1, hash);
        }
        for seq in next..=last {
            let p = own.join(record_name(seq));
            let Ok(bytes) = std::fs::read(&p) else {
                return Ok(false);
            };
            let Ok(Opened::Changes(changes)) = record::open(keys, device, seq, &prev, &bytes)
            else {
                return Ok(false);
            };
            for c in &changes {
                state.apply(device, c);
            }
            prev = record::hash(&bytes);
        }
        let file = record::seal_snapshot(keys, device, last, &prev, &state.changes());
        write_new(&own.join(snapshot_name(last)), &file)?;
        // Only once the snapshot is in place do the files it stands for go.
        for s in snapshots.iter().filter(|s| **s < last) {
            let _ = std::fs::remove_file(own.join(snapshot_name(*s)));
        }
        for (seq, _) in records {
            let _ = std::fs::remove_file(own.join(record_name(seq)));
        }
        Ok(true)
    }
}
