//! Sync between stores through a folder, with real SQLite files and real sealing.

use std::path::Path;

use super::{KEY_CHECK_FILE, SyncJoin};
use crate::model::NoteKind;
use crate::store::tests_support::*;
use crate::store::{HistoryFilter, Store};

fn questions(s: &Store) -> Vec<String> {
    let mut q: Vec<String> = s
        .list(&HistoryFilter::default())
        .unwrap()
        .into_iter()
        .map(|l| l.question.unwrap())
        .collect();
    q.sort();
    q
}

fn note_texts(s: &Store) -> Vec<String> {
    let mut out = Vec::new();
    for l in s.list(&HistoryFilter::default()).unwrap() {
        for n in s.notes(l.row.id).unwrap() {
            out.push(format!("{}: {}", l.question.as_ref().unwrap(), n.text));
        }
    }
    out.sort();
    out
}

fn files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for d in std::fs::read_dir(dir.join("devices")).unwrap() {
        for f in std::fs::read_dir(d.unwrap().path()).unwrap() {
            out.push(f.unwrap().path());
        }
    }
    out.sort();
    out
}

struct Home {
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
    store: Store,
}

fn home() -> Home {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("home");
    let store = Store::open(&path, crate::store::Unlock::default()).unwrap();
    Home {
        _dir: dir,
        path,
        store,
    }
}

fn cast(s: &Store, question: &str) -> crate::model::ReadingId {
    let id = s
        .create_reading(&new_reading(question, 1, Some(2)))
        .unwrap();
    let (m, t) = part(1, crate::model::SectionStatus::Failed, "one");
    s.save_parts(id, &[(&m, &t)]).unwrap();
    s.finish(id, &[1], false).unwrap();
    id
}

fn join(h: &Home) -> SyncJoin {
    SyncJoin {
        key_file: Some(h.path.join(crate::store::KEY_FILE)),
        passphrase: None,
    }
}

#[test]
#[allow(
    clippy::many_single_char_names,
    reason = "machines a, b, c and the folder f"
)]
fn two_stores_share_readings_notes_retries_and_deletions_and_a_second_sync_changes_nothing() {
    let folder = tempfile::tempdir().unwrap();
    let f = folder.path();
    let (a, b) = (home(), home());
    let kept = cast(&a.store, "kept");
    let doomed = cast(&a.store, "doomed");
    a.store
        .add_note(kept, NoteKind::Note, "first thought")
        .unwrap();
    let first = a.store.sync(f, &SyncJoin::default()).unwrap();
    assert!(first.joined && first.sent > 0, "{first:?}");
    // B has its own key: without A's it is refused, before anything is read.
    assert!(matches!(
        b.store.sync(f, &SyncJoin::default()),
        Err(crate::store::StoreError::SyncWrongKey {
            passphrase: false,
            ..
        })
    ));
    let joined = b.store.sync(f, &join(&a)).unwrap();
    assert!(joined.joined, "{joined:?}");
    assert!(joined.refused.is_empty(), "{joined:?}");
    assert_eq!(questions(&b.store), ["doomed", "kept"]);
    assert_eq!(note_texts(&b.store), ["kept: first thought"]);
    // B deletes one, retries a section of the other and edits the note; A adds an outcome.
    let on_b = |q: &str| {
        b.store
            .list(&HistoryFilter::default())
            .unwrap()
            .into_iter()
            .find(|l| l.question.as_deref() == Ok(q))
            .unwrap()
            .row
            .id
    };
    b.store.delete(on_b("doomed")).unwrap();
    let (m, t) = part(1, crate::model::SectionStatus::Complete, "retried");
    b.store.save_parts(on_b("kept"), &[(&m, &t)]).unwrap();
    b.store
        .edit_note(on_b("kept"), 1, "second thought")
        .unwrap();
    a.store
        .add_note(kept, NoteKind::Outcome, "it came true")
        .unwrap();
    // Either order, twice: the key is kept after joining.
    for _ in 0..2 {
        b.store.sync(f, &SyncJoin::default()).unwrap();
        a.store.sync(f, &SyncJoin::default()).unwrap();
    }
    for s in [&a.store, &b.store] {
        assert_eq!(questions(s), ["kept"]);
        assert_eq!(
            note_texts(s),
            ["kept: it came true", "kept: second thought"]
        );
        let id = s.list(&HistoryFilter::default()).unwrap()[0].row.id;
        let parts = s.parts(id).unwrap();
        assert_eq!(
            parts[0].text.paragraphs.as_deref(),
            Some("[{\"spans\":[{\"text\":\"retried\"}]}]")
        );
        assert!(s.verify().unwrap().clean());
    }
    let _ = doomed;
    // Nothing new: nothing written, nothing changed.
    let before = files(f);
    let again = a.store.sync(f, &SyncJoin::default()).unwrap();
    assert_eq!(
        (again.sent, again.changed, again.records),
        (0, 0, 0),
        "{again:?}"
    );
    assert_eq!(files(f), before);
}

#[test]
fn a_deleted_reading_restored_from_an_old_backup_does_not_come_back() {
    let folder = tempfile::tempdir().unwrap();
    let f = folder.path();
    let a = home();
    let id = cast(&a.store, "gone for good");
    a.store.sync(f, &SyncJoin::default()).unwrap();
    let backup = a.path.join("old.db");
    crate::store::backup(a.store.path(), &backup).unwrap();
    a.store.delete(id).unwrap();
    a.store.sync(f, &SyncJoin::default()).unwrap();
    // The old backup restored into the store: the reading is skipped, its deletion kept.
    let opened = crate::store::OpenedBackup::open(
        &backup,
        &a.path,
        Some(&a.path.join(crate::store::KEY_FILE)),
        crate::store::Unlock::default(),
    )
    .unwrap();
    let imported = a.store.import(opened.store()).unwrap();
    assert!(imported.added.is_empty());
    a.store.sync(f, &SyncJoin::default()).unwrap();
    assert!(questions(&a.store).is_empty());
}

#[test]
#[allow(
    clippy::many_single_char_names,
    reason = "machines a, b, c, d and the folder f"
)]
fn a_flipped_byte_is_refused_and_named_and_the_rest_goes_on() {
    let folder = tempfile::tempdir().unwrap();
    let f = folder.path();
    let (a, b, c) = (home(), home(), home());
    cast(&a.store, "from a");
    a.store.sync(f, &SyncJoin::default()).unwrap();
    b.store.sync(f, &join(&a)).unwrap();
    cast(&b.store, "from b");
    b.store.sync(f, &SyncJoin::default()).unwrap();
    // One byte of A's record flipped.
    let a_device = a.store.sync_status().unwrap().device.unwrap();
    let a_file = f.join("devices").join(a_device).join("000000000001.rec");
    let mut bytes = std::fs::read(&a_file).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&a_file, &bytes).unwrap();
    let synced = c.store.sync(f, &join(&a)).unwrap();
    assert_eq!(synced.refused.len(), 1);
    assert_eq!(synced.refused[0].path, a_file);
    // The other device's record still came in.
    assert_eq!(questions(&c.store).len(), 1);
    // A half-written file (shorter than declared) is waited for, not refused.
    bytes[last] ^= 1;
    std::fs::write(&a_file, &bytes[..bytes.len() / 2]).unwrap();
    let d = home();
    let waited = d.store.sync(f, &join(&a)).unwrap();
    assert!(waited.refused.is_empty());
    assert_eq!(waited.waiting, 1);
    std::fs::write(&a_file, &bytes).unwrap();
    d.store.sync(f, &SyncJoin::default()).unwrap();
    assert_eq!(questions(&d.store), ["from a", "from b"]);
}

#[test]
fn the_folder_holds_no_plaintext_and_a_key_check() {
    let folder = tempfile::tempdir().unwrap();
    let f = folder.path();
    let a = home();
    let id = cast(&a.store, "a very private question");
    a.store
        .add_note(id, NoteKind::Note, "a very private note")
        .unwrap();
    a.store.sync(f, &SyncJoin::default()).unwrap();
    assert!(f.join(KEY_CHECK_FILE).is_file());
    let mut all = files(f);
    all.push(f.join(KEY_CHECK_FILE));
    for p in all {
        let bytes = std::fs::read(&p).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        for secret in ["private", "legge", "offline", "manual"] {
            assert!(!text.contains(secret), "{secret} in {}", p.display());
        }
    }
}

#[test]
fn a_key_file_store_joins_a_passphrase_folder_with_its_passphrase_and_a_key_change_keeps_the_folder()
 {
    let folder = tempfile::tempdir().unwrap();
    let f = folder.path();
    let dir = tempfile::tempdir().unwrap();
    let unlock = || crate::store::Unlock {
        passphrase: Some(crate::model::Secret::new("correct horse battery staple")),
        new_rounds: Some(2),
    };
    let a = Store::open(&dir.path().join("a"), unlock()).unwrap();
    cast(&a, "sealed with a passphrase");
    a.sync(f, &SyncJoin::default()).unwrap();
    let mut b = home();
    let wrong = SyncJoin {
        key_file: None,
        passphrase: Some(crate::model::Secret::new("not the passphrase")),
    };
    assert!(matches!(
        b.store.sync(f, &wrong),
        Err(crate::store::StoreError::SyncWrongKey {
            passphrase: true,
            ..
        })
    ));
    let right = SyncJoin {
        key_file: None,
        passphrase: Some(crate::model::Secret::new("correct horse battery staple")),
    };
    assert!(b.store.sync(f, &right).unwrap().joined);
    assert_eq!(questions(&b.store), ["sealed with a passphrase"]);
    // B changes its own key: the folder's key it keeps is sealed again, and it syncs on.
    b.store.rekey(crate::store::NewSecret::KeyFile).unwrap();
    cast(&a, "after the key change");
    a.sync(f, &SyncJoin::default()).unwrap();
    b.store.sync(f, &SyncJoin::default()).unwrap();
    assert_eq!(
        questions(&b.store),
        ["after the key change", "sealed with a passphrase"]
    );
}

#[test]
fn readings_both_machines_had_from_one_backup_before_they_synced_are_not_doubled() {
    let folder = tempfile::tempdir().unwrap();
    let f = folder.path();
    let (a, b) = (home(), home());
    let id = cast(&a.store, "copied by restore");
    a.store
        .add_note(id, NoteKind::Note, "a note that came along")
        .unwrap();
    // B got A's journal the old way, by restore, before either synced.
    let backup = a.path.join("copy.db");
    crate::store::backup(a.store.path(), &backup).unwrap();
    let opened = crate::store::OpenedBackup::open(
        &backup,
        &b.path,
        Some(&a.path.join(crate::store::KEY_FILE)),
        crate::store::Unlock::default(),
    )
    .unwrap();
    b.store.import(opened.store()).unwrap();
    drop(opened);
    cast(&b.store, "only on b");
    a.store.sync(f, &SyncJoin::default()).unwrap();
    b.store.sync(f, &join(&a)).unwrap();
    a.store.sync(f, &SyncJoin::default()).unwrap();
    for s in [&a.store, &b.store] {
        assert_eq!(questions(s), ["copied by restore", "only on b"]);
        assert_eq!(note_texts(s), ["copied by restore: a note that came along"]);
    }
}

#[test]
fn an_edit_made_here_since_the_last_sync_wins_over_one_arriving_in_the_same_sync() {
    let folder = tempfile::tempdir().unwrap();
    let f = folder.path();
    let (a, b) = (home(), home());
    let id = cast(&a.store, "edited twice");
    a.store.add_note(id, NoteKind::Note, "first").unwrap();
    a.store.sync(f, &SyncJoin::default()).unwrap();
    b.store.sync(f, &join(&a)).unwrap();
    // A edits and syncs; B edits later without having seen A's edit, then syncs.
    a.store.edit_note(id, 1, "from a").unwrap();
    a.store.sync(f, &SyncJoin::default()).unwrap();
    let on_b = b.store.list(&HistoryFilter::default()).unwrap()[0].row.id;
    b.store.edit_note(on_b, 1, "from b").unwrap();
    b.store.sync(f, &SyncJoin::default()).unwrap();
    a.store.sync(f, &SyncJoin::default()).unwrap();
    for s in [&a.store, &b.store] {
        assert_eq!(note_texts(s), ["edited twice: from b"]);
    }
}

#[test]
fn a_reading_that_fails_its_checks_here_is_left_out_and_the_rest_syncs() {
    let folder = tempfile::tempdir().unwrap();
    let f = folder.path();
    let (a, b) = (home(), home());
    let bad = cast(&a.store, "altered behind iching's back");
    cast(&a.store, "intact");
    let raw = rusqlite::Connection::open(a.store.path()).unwrap();
    raw.execute("UPDATE readings SET primary_hex = 3 WHERE id = ?1", [bad.0])
        .unwrap();
    let sent = a.store.sync(f, &SyncJoin::default()).unwrap();
    assert_eq!(sent.damaged, [bad]);
    b.store.sync(f, &join(&a)).unwrap();
    assert_eq!(questions(&b.store), ["intact"]);
}

#[test]
fn a_record_missing_from_the_middle_is_waited_for_and_said_never_skipped() {
    let folder = tempfile::tempdir().unwrap();
    let f = folder.path();
    let (a, b) = (home(), home());
    cast(&a.store, "first");
    a.store.sync(f, &SyncJoin::default()).unwrap();
    cast(&a.store, "second");
    a.store.sync(f, &SyncJoin::default()).unwrap();
    let device = a.store.sync_status().unwrap().device.unwrap();
    let first = f.join("devices").join(device).join("000000000001.rec");
    let kept = std::fs::read(&first).unwrap();
    std::fs::remove_file(&first).unwrap();
    let synced = b.store.sync(f, &join(&a)).unwrap();
    assert_eq!((synced.waiting, synced.records), (1, 0), "{synced:?}");
    assert!(synced.refused.is_empty());
    assert!(questions(&b.store).is_empty());
    // It arrives: both are merged, in order.
    std::fs::write(&first, kept).unwrap();
    b.store.sync(f, &SyncJoin::default()).unwrap();
    assert_eq!(questions(&b.store), ["first", "second"]);
}

#[test]
fn many_small_records_are_compacted_into_a_snapshot_that_readers_old_and_new_follow() {
    let folder = tempfile::tempdir().unwrap();
    let f = folder.path();
    let (a, b, c) = (home(), home(), home());
    let id = cast(&a.store, "a long journal");
    a.store.sync(f, &SyncJoin::default()).unwrap();
    b.store.sync(f, &join(&a)).unwrap();
    let mut compacted = false;
    for i in 0..70 {
        a.store
            .add_note(id, NoteKind::Note, &format!("day {i}"))
            .unwrap();
        if i % 2 == 0 {
            a.store
                .edit_note(id, 1, &format!("first, edited {i}"))
                .unwrap();
        }
        compacted |= a.store.sync(f, &SyncJoin::default()).unwrap().compacted;
        if i == 10 {
            // B reads part of the way, then stops syncing for a while.
            b.store.sync(f, &SyncJoin::default()).unwrap();
        }
    }
    assert!(compacted);
    let device = a.store.sync_status().unwrap().device.unwrap();
    let left: Vec<String> = std::fs::read_dir(f.join("devices").join(&device))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(left.len() < 10, "{left:?}");
    assert!(
        left.iter()
            .any(|n| super::compact::snapshot_number(n).is_some()),
        "{left:?}"
    );
    // A writes on after it; B (read into the records compacted) and C (new) both follow.
    a.store.add_note(id, NoteKind::Outcome, "it held").unwrap();
    a.store.sync(f, &SyncJoin::default()).unwrap();
    b.store.sync(f, &SyncJoin::default()).unwrap();
    c.store.sync(f, &join(&a)).unwrap();
    let want = note_texts(&a.store);
    assert_eq!(want.len(), 71, "70 notes and an outcome");
    assert_eq!(note_texts(&b.store), want);
    assert_eq!(note_texts(&c.store), want);
}

#[test]
fn a_store_moved_to_another_folder_sends_everything_there() {
    let (first, second) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (a, b) = (home(), home());
    let id = cast(&a.store, "moved along");
    a.store
        .add_note(id, NoteKind::Note, "and its note")
        .unwrap();
    a.store.sync(first.path(), &SyncJoin::default()).unwrap();
    let moved = a.store.sync(second.path(), &SyncJoin::default()).unwrap();
    assert!(moved.sent >= 2, "{moved:?}");
    b.store.sync(second.path(), &join(&a)).unwrap();
    assert_eq!(note_texts(&b.store), ["moved along: and its note"]);
    // And back: the first folder is still in step, nothing doubled.
    a.store.sync(first.path(), &SyncJoin::default()).unwrap();
    let c = home();
    c.store.sync(first.path(), &join(&a)).unwrap();
    assert_eq!(note_texts(&c.store), ["moved along: and its note"]);
}
