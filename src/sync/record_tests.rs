//! The record format: what opens, what waits, what is refused.

use std::collections::BTreeMap;

use super::{
    FIRST_PREV, KeyHeader, Opened, RecordError, SyncKeys, hash, key_check, open, read_key_check,
    seal,
};
use crate::crypto::{Keys, MasterKey};
use crate::sync::merge::{Change, NoteBody, Uid};

fn keys(byte: u8) -> SyncKeys {
    SyncKeys::of_store(&Keys::derive(&MasterKey::from_bytes([byte; 32])))
}

const A: Uid = Uid([0xa1; 16]);
const B: Uid = Uid([0xb2; 16]);

fn changes() -> Vec<Change> {
    vec![
        Change::Note {
            note: Uid([1; 16]),
            reading: Uid([2; 16]),
            clock: 4,
            body: Some(NoteBody {
                kind: "note".into(),
                created_at: 5,
                text: "the secret note".into(),
            }),
        },
        Change::Deleted {
            reading: Uid([3; 16]),
        },
    ]
}

#[test]
fn a_record_opens_as_what_it_was_written_as_and_holds_no_plaintext() {
    let k = keys(1);
    let file = seal(&k, A, 1, &FIRST_PREV, &changes());
    assert_eq!(
        open(&k, A, 1, &FIRST_PREV, &file),
        Ok(Opened::Changes(changes()))
    );
    let shown = String::from_utf8_lossy(&file);
    assert!(!shown.contains("secret"));
    assert!(!shown.contains("note"));
}

#[test]
fn the_same_master_key_makes_the_same_sync_keys_and_another_does_not() {
    let file = seal(&keys(1), A, 1, &FIRST_PREV, &changes());
    assert!(matches!(
        open(&keys(1), A, 1, &FIRST_PREV, &file),
        Ok(Opened::Changes(_))
    ));
    assert_eq!(
        open(&keys(2), A, 1, &FIRST_PREV, &file),
        Err(RecordError::DoesNotOpen)
    );
}

#[test]
fn a_flipped_byte_anywhere_in_the_seal_is_refused() {
    let k = keys(1);
    let file = seal(&k, A, 1, &FIRST_PREV, &changes());
    for i in 9..file.len() {
        let mut bad = file.clone();
        bad[i] ^= 0x01;
        assert_eq!(
            open(&k, A, 1, &FIRST_PREV, &bad),
            Err(RecordError::DoesNotOpen),
            "byte {i}"
        );
    }
}

#[test]
fn a_record_moved_to_another_device_or_number_or_after_another_record_does_not_open() {
    let k = keys(1);
    let first = seal(&k, A, 1, &FIRST_PREV, &changes());
    let second = seal(&k, A, 2, &hash(&first), &changes());
    assert!(matches!(
        open(&k, A, 2, &hash(&first), &second),
        Ok(Opened::Changes(_))
    ));
    // Replayed under another device, or another number.
    assert_eq!(
        open(&k, B, 2, &hash(&first), &second),
        Err(RecordError::DoesNotOpen)
    );
    assert_eq!(
        open(&k, A, 3, &hash(&first), &second),
        Err(RecordError::DoesNotOpen)
    );
    // The middle one dropped: the third after the first.
    let third = seal(&k, A, 3, &hash(&second), &changes());
    assert_eq!(
        open(&k, A, 2, &hash(&first), &third),
        Err(RecordError::DoesNotOpen)
    );
    // The first one swapped for another with the same number: the second no longer follows.
    let other_first = seal(&k, A, 1, &FIRST_PREV, &[]);
    assert_eq!(
        open(&k, A, 2, &hash(&other_first), &second),
        Err(RecordError::DoesNotOpen)
    );
}

#[test]
fn a_file_that_has_not_all_arrived_is_waited_for_and_an_overlong_one_refused() {
    let k = keys(1);
    let file = seal(&k, A, 1, &FIRST_PREV, &changes());
    for len in [0, 3, 8, 9, file.len() - 1] {
        assert_eq!(
            open(&k, A, 1, &FIRST_PREV, &file[..len]),
            Ok(Opened::Waiting),
            "{len}"
        );
    }
    let mut long = file.clone();
    long.push(0);
    assert_eq!(
        open(&k, A, 1, &FIRST_PREV, &long),
        Err(RecordError::Overlong)
    );
    assert_eq!(
        open(&k, A, 1, &FIRST_PREV, b"hello"),
        Err(RecordError::NotOurs)
    );
    let mut newer = file;
    newer[4] = 9;
    assert_eq!(
        open(&k, A, 1, &FIRST_PREV, &newer),
        Err(RecordError::NewerFormat(9))
    );
}

#[test]
fn the_key_check_refuses_a_wrong_key_and_an_altered_header() {
    let header = KeyHeader {
        mode: "passphrase".into(),
        kdf: BTreeMap::from([("kdf_salt".into(), "00ff".into())]),
        folder: "0a".repeat(16),
    };
    let file = key_check(&keys(1), &header);
    let (read, check) = read_key_check(&file).unwrap().unwrap();
    assert_eq!(read, header);
    assert!(check.opens_with(&keys(1)));
    assert!(!check.opens_with(&keys(2)));
    let text = String::from_utf8_lossy(&file).replace("00ff", "00fe");
    let (_, altered) = read_key_check(text.as_bytes()).unwrap().unwrap();
    assert!(!altered.opens_with(&keys(1)));
    assert!(read_key_check(&file[..6]).unwrap().is_none());
}

#[test]
fn a_snapshot_opens_only_as_what_it_was_written_as() {
    let k = keys(1);
    let last = hash(b"the last record");
    let file = super::seal_snapshot(&k, A, 7, &last, &changes());
    assert_eq!(
        super::open_snapshot(&k, A, 7, &file),
        Ok(Some((last, changes())))
    );
    assert_eq!(
        super::open_snapshot(&k, A, 8, &file),
        Err(RecordError::DoesNotOpen)
    );
    assert_eq!(
        super::open_snapshot(&k, B, 7, &file),
        Err(RecordError::DoesNotOpen)
    );
    assert_eq!(
        super::open_snapshot(&k, A, 7, &file[..file.len() - 1]),
        Ok(None)
    );
    // A record is no snapshot, nor the other way round.
    let record = seal(&k, A, 7, &FIRST_PREV, &changes());
    assert_eq!(
        super::open_snapshot(&k, A, 7, &record),
        Err(RecordError::NotOurs)
    );
    assert_eq!(
        open(&k, A, 7, &FIRST_PREV, &file),
        Err(RecordError::NotOurs)
    );
}
