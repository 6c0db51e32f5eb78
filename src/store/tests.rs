//! Store tests on real SQLite files in temporary directories, with real keys.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::tests_support::{new_reading, part};
use super::*;
use crate::model::{ReadingId, ReadingStatus, SectionStatus};

const QUESTION: &str = "Will the zebra-quokka 7731 cross the great water?";

fn fast_passphrase(p: &str) -> Unlock {
    Unlock {
        new_rounds: Some(10),
        ..Unlock::passphrase(p)
    }
}

/// The database file's bytes and modification time.
fn snapshot(path: &Path) -> (Vec<u8>, SystemTime) {
    (
        std::fs::read(path).unwrap(),
        std::fs::metadata(path).unwrap().modified().unwrap(),
    )
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn db_files(dir: &Path) -> Vec<PathBuf> {
    ["iching.db", "iching.db-wal", "iching.db-shm"]
        .iter()
        .map(|f| dir.join(f))
        .filter(|p| p.exists())
        .collect()
}

#[test]
fn round_trip_with_a_key_file() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("new").join("home");
    let store = Store::open(&home, Unlock::default()).unwrap();
    assert_eq!(store.key_mode(), KeyMode::KeyFile);
    assert_eq!(mode(&home.join(DB_FILE)), 0o600);
    assert_eq!(mode(&home.join(KEY_FILE)), 0o600);
    assert_eq!(std::fs::read(home.join(KEY_FILE)).unwrap().len(), 32);
    let journal: String = store
        .conn
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .unwrap();
    assert_eq!(journal, "wal");

    let id = store
        .create_reading(&new_reading(QUESTION, 55, Some(31)))
        .unwrap();
    let (m1, t1) = part(1, SectionStatus::Complete, "opening");
    let (m4, t4) = part(4, SectionStatus::Failed, "line one");
    store.save_parts(id, &[(&m1, &t1)]).unwrap();
    store.save_parts(id, &[(&m4, &t4)]).unwrap();
    drop(store);

    let store = Store::open(&home, Unlock::default()).unwrap();
    let row = store.reading(id).unwrap();
    assert_eq!(row.status, ReadingStatus::Running, "our own pid is alive");
    assert_eq!(row.lines, [9, 8, 7, 7, 6, 8]);
    assert_eq!((row.primary, row.resulting), (55, Some(31)));
    assert_eq!((row.sections_done, row.sections_failed), (1, 1));
    assert_eq!(row.total_tokens, 150);
    assert_eq!(store.question(id).unwrap(), QUESTION);
    let parts = store.parts(id).unwrap();
    assert_eq!(parts.len(), 2);
    assert_eq!(parts[0].text, t1);
    assert_eq!(parts[1].text, t4);
    assert_eq!(
        Part {
            meta: SectionFigures {
                updated_at: parts[0].meta.updated_at,
                ..m1
            },
            text: t1
        },
        parts[0]
    );
    assert_eq!(
        store.finish(id, &[1, 4], false).unwrap(),
        ReadingStatus::Partial
    );
    assert_eq!(store.reading(id).unwrap().status, ReadingStatus::Partial);
    assert_eq!(
        store.finish(id, &[1], false).unwrap(),
        ReadingStatus::Complete
    );
    assert_eq!(
        store.finish(id, &[1, 4, 8], true).unwrap(),
        ReadingStatus::Cancelled
    );
    assert_eq!(
        store.reading(ReadingId(999)),
        Err(StoreError::NotFound(ReadingId(999)))
    );
    assert_eq!(
        store.question(ReadingId(999)),
        Err(StoreError::NotFound(ReadingId(999)))
    );
    assert!(store.parts(ReadingId(999)).is_err());
}

#[test]
fn passphrase_round_trip_and_wrong_passphrase_touches_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), fast_passphrase("correct horse")).unwrap();
    assert_eq!(store.key_mode(), KeyMode::Passphrase);
    let id = store
        .create_reading(&new_reading(QUESTION, 1, None))
        .unwrap();
    drop(store);
    assert!(
        !dir.path().join(KEY_FILE).exists(),
        "no key file in passphrase mode"
    );
    let db = dir.path().join(DB_FILE);
    let before = snapshot(&db);

    let err = Store::open(dir.path(), Unlock::passphrase("battery staple")).unwrap_err();
    assert!(matches!(err, StoreError::WrongPassphrase { .. }), "{err:?}");
    assert!(err.to_string().contains("passphrase does not open"));
    assert!(!err.to_string().contains("battery"));
    let err = Store::open(dir.path(), Unlock::default()).unwrap_err();
    assert!(
        matches!(err, StoreError::PassphraseNeeded { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("ICHING_PASSPHRASE"));
    assert_eq!(snapshot(&db), before, "rejected opens never write");
    assert!(!dir.path().join(KEY_FILE).exists());

    // The rounds live in meta: the product's 600,000 default is not what this store used.
    let store = Store::open(dir.path(), Unlock::passphrase("correct horse")).unwrap();
    assert_eq!(store.question(id).unwrap(), QUESTION);
}

#[test]
fn wrong_key_file_is_detected_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), Unlock::default()).unwrap();
    store
        .create_reading(&new_reading(QUESTION, 1, None))
        .unwrap();
    drop(store);
    let db = dir.path().join(DB_FILE);
    let before = snapshot(&db);
    std::fs::write(dir.path().join(KEY_FILE), [7u8; 32]).unwrap();
    let err = Store::open(dir.path(), Unlock::default()).unwrap_err();
    assert!(matches!(err, StoreError::WrongKeyFile { .. }), "{err:?}");
    assert!(err.to_string().contains("restore the right key file"));
    std::fs::write(dir.path().join(KEY_FILE), [7u8; 31]).unwrap();
    let err = Store::open(dir.path(), Unlock::default()).unwrap_err();
    assert!(err.to_string().contains("31 bytes, not 32"), "{err}");
    let err = Store::open(dir.path(), Unlock::passphrase("x")).unwrap_err();
    assert!(
        matches!(err, StoreError::PassphraseNotUsed { .. }),
        "{err:?}"
    );
    assert_eq!(snapshot(&db), before);
}

#[test]
fn a_wrong_key_leaves_a_crashed_databases_wal_alone() {
    // The state a killed process leaves: committed pages still in the WAL, not yet in the file.
    let live = tempfile::tempdir().unwrap();
    let store = Store::open(live.path(), Unlock::default()).unwrap();
    let id = store
        .create_reading(&new_reading(QUESTION, 1, None))
        .unwrap();
    let crashed = tempfile::tempdir().unwrap();
    for f in [DB_FILE, "iching.db-wal", KEY_FILE] {
        std::fs::copy(live.path().join(f), crashed.path().join(f)).unwrap();
    }
    drop(store);
    let (db, wal) = (
        crashed.path().join(DB_FILE),
        crashed.path().join("iching.db-wal"),
    );
    assert!(std::fs::metadata(&wal).unwrap().len() > 0);
    let right_key = std::fs::read(crashed.path().join(KEY_FILE)).unwrap();
    std::fs::write(crashed.path().join(KEY_FILE), [1u8; 32]).unwrap();
    let before = (snapshot(&db), snapshot(&wal));
    let err = Store::open(crashed.path(), Unlock::default()).unwrap_err();
    assert!(matches!(err, StoreError::WrongKeyFile { .. }), "{err:?}");
    assert_eq!(
        (snapshot(&db), snapshot(&wal)),
        before,
        "not even a checkpoint"
    );
    // With the right key the reading is there, recovered from the WAL.
    std::fs::write(crashed.path().join(KEY_FILE), right_key).unwrap();
    let store = Store::open(crashed.path(), Unlock::default()).unwrap();
    assert_eq!(store.question(id).unwrap(), QUESTION);
}

#[test]
fn a_missing_key_file_with_an_existing_db_is_an_error_not_a_new_key() {
    let dir = tempfile::tempdir().unwrap();
    drop(Store::open(dir.path(), Unlock::default()).unwrap());
    let db = dir.path().join(DB_FILE);
    let before = snapshot(&db);
    std::fs::remove_file(dir.path().join(KEY_FILE)).unwrap();
    let err = Store::open(dir.path(), Unlock::default()).unwrap_err();
    assert!(matches!(err, StoreError::KeyFileMissing { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("is missing") && msg.contains("restore the key file"),
        "{msg}"
    );
    assert!(!dir.path().join(KEY_FILE).exists(), "no new key was made");
    assert_eq!(snapshot(&db), before);
}

#[test]
fn a_key_file_without_its_database_is_not_adopted() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), Unlock::default()).unwrap();
    drop(store);
    let key = std::fs::read(dir.path().join(KEY_FILE)).unwrap();
    for f in db_files(dir.path()) {
        std::fs::remove_file(f).unwrap();
    }
    let err = Store::open(dir.path(), Unlock::default()).unwrap_err();
    assert!(
        matches!(err, StoreError::KeyWithoutDatabase { .. }),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("move"),
        "it says how to proceed: {err}"
    );
    assert!(
        !dir.path().join(DB_FILE).exists(),
        "no database is made beside it"
    );
    assert_eq!(std::fs::read(dir.path().join(KEY_FILE)).unwrap(), key);
}

#[test]
fn unsafe_modes_are_refused_with_the_chmod_and_our_own_files_are_tightened() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let set = |p: &std::path::Path, m: u32| {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
    };
    let dir = tempfile::tempdir().unwrap();
    drop(Store::open(dir.path(), Unlock::default()).unwrap());
    let (key, db) = (dir.path().join(KEY_FILE), dir.path().join(DB_FILE));
    // A folder others may write to.
    set(dir.path(), 0o777);
    let err = Store::open(dir.path(), Unlock::default()).unwrap_err();
    assert!(matches!(err, StoreError::Unsafe { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!(
            "{} can be written by other users (mode 777); iching will not use it. \
             To go on, run `chmod go-w {}`.",
            dir.path().display(),
            dir.path().display()
        )
    );
    set(dir.path(), 0o700);
    // A key file others may read.
    for m in [0o644, 0o666] {
        set(&key, m);
        let err = Store::open(dir.path(), Unlock::default()).unwrap_err();
        assert!(err.to_string().contains("chmod 600"), "{err}");
        assert_eq!(
            mode(&key),
            m,
            "the key file is not changed behind the user's back"
        );
    }
    set(&key, 0o600);
    // The database left open by an older version: tightened, and said so.
    set(&db, 0o644);
    let store = Store::open(dir.path(), Unlock::default()).unwrap();
    assert_eq!(mode(&db), 0o600);
    assert_eq!(store.notices().len(), 1, "{:?}", store.notices());
    assert!(store.notices()[0].contains("now 0600"));
    drop(store);
    // A folder of another user's (only root can hand one over; as anyone else this step has
    // nothing to set up).
    if std::os::unix::fs::chown(dir.path(), Some(65534), None).is_ok() {
        let err = Store::open(dir.path(), Unlock::default()).unwrap_err();
        assert!(err.to_string().contains("another user"), "{err}");
        std::os::unix::fs::chown(dir.path(), Some(0), None).unwrap();
    }
}

#[test]
fn a_corrupt_file_is_a_clear_error_and_is_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join(DB_FILE);
    let junk: Vec<u8> = (0..8192u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(&db, &junk).unwrap();
    let before = snapshot(&db);
    let err = Store::open(dir.path(), Unlock::default()).unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("is not a readable iching database") && msg.contains("move it aside"),
        "{msg}"
    );
    assert_eq!(snapshot(&db), before);
    assert!(
        !dir.path().join(KEY_FILE).exists(),
        "no key for a rejected file"
    );

    // Some other program's SQLite file: also rejected untouched.
    std::fs::remove_file(&db).unwrap();
    let other = rusqlite::Connection::open(&db).unwrap();
    other.execute_batch("CREATE TABLE notes (t TEXT)").unwrap();
    drop(other);
    let before = snapshot(&db);
    let err = Store::open(dir.path(), Unlock::default()).unwrap_err();
    assert!(err.to_string().contains("no iching schema"), "{err}");
    assert_eq!(snapshot(&db), before);
}

#[test]
fn a_newer_schema_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    drop(Store::open(dir.path(), Unlock::default()).unwrap());
    let db = dir.path().join(DB_FILE);
    let raw = rusqlite::Connection::open(&db).unwrap();
    raw.execute_batch("PRAGMA user_version = 99").unwrap();
    drop(raw);
    let before = snapshot(&db);
    let err = Store::open(dir.path(), Unlock::default()).unwrap_err();
    assert!(
        matches!(err, StoreError::TooNew { found: 99, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("upgrade iching"));
    assert_eq!(snapshot(&db), before);
}

#[test]
fn a_tampered_blob_fails_only_its_reading() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), Unlock::default()).unwrap();
    let ids: Vec<ReadingId> = (0..3)
        .map(|i| {
            let q = format!("question {i}");
            store.create_reading(&new_reading(&q, 1 + i, None)).unwrap()
        })
        .collect();
    let (m, t) = part(2, SectionStatus::Complete, "judgment");
    store.save_parts(ids[2], &[(&m, &t)]).unwrap();
    // Flip one byte of the second question; move the first's blob onto the third's part.
    let mut blob: Vec<u8> = store
        .conn
        .query_row(
            "SELECT question FROM readings WHERE id = ?1",
            [ids[1]],
            |r| r.get(0),
        )
        .unwrap();
    blob[20] ^= 0x01;
    store
        .conn
        .execute(
            "UPDATE readings SET question = ?2 WHERE id = ?1",
            rusqlite::params![ids[1], blob],
        )
        .unwrap();
    store
        .conn
        .execute(
            "UPDATE reading_parts SET response = (SELECT question FROM readings WHERE id = ?1)
             WHERE reading_id = ?2",
            [ids[0], ids[2]],
        )
        .unwrap();

    let listed = store.list(&HistoryFilter::default()).unwrap();
    assert_eq!(listed.len(), 3);
    let by_id = |id: ReadingId| listed.iter().find(|l| l.row.id == id).unwrap();
    assert_eq!(by_id(ids[0]).question.as_deref(), Ok("question 0"));
    assert_eq!(by_id(ids[2]).question.as_deref(), Ok("question 2"));
    let err = by_id(ids[1]).question.clone().unwrap_err();
    assert!(
        err.to_string()
            .starts_with(&format!("integrity check failed for reading {}", ids[1])),
        "{err}"
    );
    assert!(store.question(ids[1]).is_err());
    let err = store.parts(ids[2]).unwrap_err();
    assert_eq!(
        err,
        StoreError::Integrity {
            id: ids[2],
            field: "response of section 2".into()
        }
    );
    // A search never matches what it cannot open, and still lists the rest.
    let found = store
        .list(&HistoryFilter {
            search: Some("QUESTION".into()),
            ..HistoryFilter::default()
        })
        .unwrap();
    assert_eq!(found.len(), 2);
}

#[test]
fn an_unwritable_home_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"not a directory").unwrap();
    let err = Store::open(&file.join("home"), Unlock::default()).unwrap_err();
    assert!(matches!(err, StoreError::Unwritable { .. }), "{err:?}");
    assert!(err.to_string().contains("pass --home"), "{err}");
    let err = Store::open(&file, Unlock::default()).unwrap_err();
    assert!(matches!(err, StoreError::Unwritable { .. }), "{err:?}");
    assert_eq!(std::fs::read(&file).unwrap(), b"not a directory");
}

#[test]
fn sections_saved_together_are_written_all_or_none() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), Unlock::default()).unwrap();
    let id = store
        .create_reading(&new_reading(QUESTION, 1, None))
        .unwrap();
    let (m2, t2) = part(2, SectionStatus::Complete, "the judgment");
    let (m3, t3) = part(3, SectionStatus::Failed, "timed out");
    store.save_parts(id, &[(&m2, &t2), (&m3, &t3)]).unwrap();
    let parts = store.parts(id).unwrap();
    let got: Vec<(u8, SectionStatus, &PartText)> = parts
        .iter()
        .map(|p| (p.meta.section_id, p.meta.status, &p.text))
        .collect();
    assert_eq!(
        got,
        vec![
            (2, SectionStatus::Complete, &t2),
            (3, SectionStatus::Failed, &t3)
        ]
    );
    // One part that cannot be stored keeps the others out too: a status the store refuses
    // before writing, and a row the schema refuses after the first insert (no section 19).
    let (m4, t4) = part(4, SectionStatus::Complete, "the image");
    let (mut pending, t5) = part(5, SectionStatus::Complete, "the lines");
    pending.status = SectionStatus::Pending;
    assert!(
        store
            .save_parts(id, &[(&m4, &t4), (&pending, &t5)])
            .is_err()
    );
    let (m19, t19) = part(19, SectionStatus::Complete, "no such section");
    assert!(matches!(
        store.save_parts(id, &[(&m4, &t4), (&m19, &t19)]),
        Err(StoreError::Database { .. })
    ));
    assert_eq!(store.parts(id).unwrap().len(), 2, "section 4 rolled back");
    assert_eq!(
        store.save_parts(ReadingId(id.0 + 1), &[(&m4, &t4)]),
        Err(StoreError::NotFound(ReadingId(id.0 + 1)))
    );
    // Each blob is sealed for its own section: swapping two opens neither.
    store
        .conn
        .execute_batch(&format!(
            "UPDATE reading_parts SET request = (SELECT request FROM reading_parts
               WHERE reading_id = {id} AND section_id = 2)
             WHERE reading_id = {id} AND section_id = 3"
        ))
        .unwrap();
    assert!(matches!(store.parts(id), Err(StoreError::Integrity { .. })));
}

#[test]
fn saving_a_section_again_replaces_its_row() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), Unlock::default()).unwrap();
    let id = store
        .create_reading(&new_reading(QUESTION, 1, None))
        .unwrap();
    let (m, t) = part(3, SectionStatus::Failed, "first try");
    store.save_parts(id, &[(&m, &t)]).unwrap();
    let (m, t) = part(3, SectionStatus::Complete, "second try");
    store.save_parts(id, &[(&m, &t)]).unwrap();
    let count: i64 = store
        .conn
        .query_row("SELECT count(*) FROM reading_parts", [], |r| r.get(0))
        .unwrap();
    assert_eq!(count, 1);
    let parts = store.parts(id).unwrap();
    assert_eq!(parts[0].meta.status, SectionStatus::Complete);
    assert_eq!(parts[0].text, t);
    assert_eq!(
        store.save_parts(ReadingId(12345), &[(&m, &t)]),
        Err(StoreError::NotFound(ReadingId(12345)))
    );
    let (mut pending, t) = part(5, SectionStatus::Complete, "x");
    pending.status = SectionStatus::Pending;
    assert!(store.save_parts(id, &[(&pending, &t)]).is_err());
    store.force_delete(id).unwrap();
    let count: i64 = store
        .conn
        .query_row("SELECT count(*) FROM reading_parts", [], |r| r.get(0))
        .unwrap();
    assert_eq!(count, 0, "parts go with their reading");
    assert_eq!(store.delete(id), Err(StoreError::NotFound(id)));
}

#[test]
fn running_readings_of_dead_processes_become_interrupted() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), Unlock::default()).unwrap();
    let ours = store.create_reading(&new_reading("ours", 1, None)).unwrap();
    let dead = store.create_reading(&new_reading("dead", 1, None)).unwrap();
    let reused = store
        .create_reading(&new_reading("reused", 1, None))
        .unwrap();
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let dead_pid = child.id();
    child.wait().unwrap();
    assert_eq!(readings::test_process_start(dead_pid), None);
    // Where there is no /proc, kill(pid, 0) answers: the same verdicts for these two.
    assert_eq!(readings::test_pid_exists(dead_pid), Some(false));
    assert_eq!(readings::test_pid_exists(std::process::id()), Some(true));
    store
        .conn
        .execute(
            "UPDATE readings SET pid = ?1, pid_start = NULL WHERE id = ?2",
            rusqlite::params![i64::from(dead_pid), dead],
        )
        .unwrap();
    // Our pid, but a different start time: a reused pid, so the writer is gone.
    store
        .conn
        .execute(
            "UPDATE readings SET pid_start = pid_start + 1 WHERE id = ?1",
            [reused],
        )
        .unwrap();
    drop(store);

    let store = Store::open(dir.path(), Unlock::default()).unwrap();
    let status = |id| store.reading(id).unwrap().status;
    assert_eq!(status(ours), ReadingStatus::Running);
    assert_eq!(status(dead), ReadingStatus::Interrupted);
    assert_eq!(status(reused), ReadingStatus::Interrupted);
    // A live writer's reading cannot be retried from elsewhere; an interrupted one can.
    assert!(matches!(
        store.begin_run(ours),
        Err(StoreError::InFlight { .. })
    ));
    store.begin_run(dead).unwrap();
    assert_eq!(status(dead), ReadingStatus::Running);
}

#[test]
fn history_filters_search_and_limits() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), Unlock::default()).unwrap();
    let a = store
        .create_reading(&new_reading("Move to Lisbon?", 55, Some(31)))
        .unwrap();
    let b = store
        .create_reading(&new_reading("Take the job?", 1, None))
        .unwrap();
    let c = store
        .create_reading(&new_reading("lisbon again", 31, Some(55)))
        .unwrap();
    let ids = |f: HistoryFilter| -> Vec<ReadingId> {
        store.list(&f).unwrap().iter().map(|l| l.row.id).collect()
    };
    assert_eq!(ids(HistoryFilter::default()), [c, b, a]);
    let search = |s: &str| HistoryFilter {
        search: Some(s.into()),
        ..HistoryFilter::default()
    };
    assert_eq!(ids(search("LISBON")), [c, a]);
    assert_eq!(ids(search("nothing like it")), Vec::<ReadingId>::new());
    let hexagram = |n| HistoryFilter {
        hexagram: Some(n),
        ..HistoryFilter::default()
    };
    assert_eq!(ids(hexagram(31)), [c, a]);
    assert_eq!(ids(hexagram(1)), [b]);
    let limit = |n, s: Option<&str>| HistoryFilter {
        limit: Some(n),
        search: s.map(Into::into),
        ..HistoryFilter::default()
    };
    assert_eq!(ids(limit(2, None)), [c, b]);
    assert_eq!(ids(limit(1, Some("lisbon"))), [c]);
}

#[test]
fn nothing_sensitive_is_in_the_clear_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), Unlock::default()).unwrap();
    let id = store
        .create_reading(&new_reading(QUESTION, 1, None))
        .unwrap();
    let (m, t) = part(1, SectionStatus::Complete, "UNMISTAKABLE-ORACLE-TEXT");
    store.save_parts(id, &[(&m, &t)]).unwrap();
    let (m, t) = part(2, SectionStatus::Failed, "UNMISTAKABLE-ORACLE-TEXT");
    store.save_parts(id, &[(&m, &t)]).unwrap();
    // Scan while the connection is open (the WAL holds the pages) and after it closes.
    for open in [true, false] {
        let files = db_files(dir.path());
        assert!(!files.is_empty());
        for f in files {
            let bytes = std::fs::read(&f).unwrap();
            for needle in ["zebra-quokka", "UNMISTAKABLE-ORACLE-TEXT", "UNMISTAKABLE"] {
                assert!(!contains(&bytes, needle.as_bytes()), "{needle} in {f:?}");
                let utf16: Vec<u8> = needle.encode_utf16().flat_map(u16::to_le_bytes).collect();
                assert!(!contains(&bytes, &utf16), "{needle} (UTF-16) in {f:?}");
            }
        }
        if open {
            assert!(dir.path().join("iching.db-wal").exists());
            // The WAL files take the database's mode.
            assert_eq!(mode(&dir.path().join("iching.db-wal")), 0o600);
            let _ = &store;
        }
    }
    drop(store);
}

#[tokio::test]
async fn the_writer_commits_groups_and_isolates_failures() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), Unlock::default()).unwrap();
    let (writer, thread) = store.into_writer().unwrap();
    let mut tasks = Vec::new();
    for i in 0..40u8 {
        let writer = writer.clone();
        tasks.push(tokio::spawn(async move {
            let id = writer
                .call(move |s| s.create_reading(&new_reading(&format!("q{i}"), 1, None)))
                .await?;
            let (m, t) = part(1 + i % 3, SectionStatus::Complete, "x");
            writer.call(move |s| s.save_parts(id, &[(&m, &t)])).await?;
            Ok::<ReadingId, StoreError>(id)
        }));
    }
    // A job that writes and then fails is rolled back alone.
    let failed = writer
        .call(|s| {
            s.create_reading(&new_reading("doomed", 1, None))?;
            Err::<(), _>(StoreError::NotFound(ReadingId(-1)))
        })
        .await;
    assert_eq!(failed, Err(StoreError::NotFound(ReadingId(-1))));
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let listed = writer
        .call(|s| s.list(&HistoryFilter::default()))
        .await
        .unwrap();
    assert_eq!(listed.len(), 40);
    assert!(
        listed
            .iter()
            .all(|l| l.row.sections_done == 1 && l.question.is_ok())
    );
    assert!(listed.iter().all(|l| l.question.as_deref() != Ok("doomed")));
    drop(writer);
    tokio::task::spawn_blocking(move || thread.join())
        .await
        .unwrap();
    // The connection closed cleanly: the WAL was checkpointed away.
    assert!(!dir.path().join("iching.db-wal").exists());
}

#[test]
fn labels_name_row_and_field() {
    assert_eq!(Field::Question(ReadingId(12)).aad(), "reading:12:question");
    assert_eq!(Field::Request(ReadingId(12), 4).aad(), "part:12:4:request");
    assert_eq!(
        Field::Response(ReadingId(12), 4).aad(),
        "part:12:4:response"
    );
    assert_eq!(
        Field::Paragraphs(ReadingId(12), 4).aad(),
        "part:12:4:paragraphs"
    );
    assert_eq!(Field::Error(ReadingId(12), 4).aad(), "part:12:4:error");
    assert_eq!(Field::KeyCheck.aad(), "meta:key_check");
}

#[test]
fn debug_output_shows_no_secrets() {
    let unlock = Unlock::passphrase("hunter2-secret");
    assert!(!format!("{unlock:?}").contains("hunter2"));
    let new_secret = NewSecret::Passphrase(crate::model::Secret::new("hunter2-secret"));
    assert_eq!(
        format!("{new_secret:?}"),
        "Passphrase(Secret(**redacted**))"
    );
    let (_, t) = part(1, SectionStatus::Complete, "private words");
    assert!(!format!("{t:?}").contains("private"));
    let new = new_reading("my private question", 1, None);
    assert!(!format!("{new:?}").contains("private"));
    let listed = Listed {
        row: ReadingRow {
            id: ReadingId(1),
            created_at: 0,
            updated_at: 0,
            status: ReadingStatus::Complete,
            method: "coins".into(),
            lines: [7; 6],
            seed: None,
            primary: 1,
            resulting: None,
            sections_planned: 6,
            sections_done: 6,
            sections_failed: 0,
            total_tokens: 0,
            provider: "offline".into(),
            model: "m".into(),
        },
        question: Ok("my private question".into()),
        context: Some("private situation".into()),
        notes: NoteCounts::default(),
        note_text: vec!["my private note".into()],
        followup_text: vec!["my private follow-up".into()],
    };
    assert!(!format!("{listed:?}").contains("private"));
}

#[test]
fn an_empty_database_file_is_refused_not_created_over() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join(DB_FILE);
    std::fs::write(&db, b"").unwrap();
    let err = Store::open(dir.path(), Unlock::default()).unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
    assert!(err.to_string().contains("0 bytes"), "{err}");
    assert_eq!(
        std::fs::metadata(&db).unwrap().len(),
        0,
        "the file is left alone"
    );
    assert!(!dir.path().join(KEY_FILE).exists(), "no key is made for it");
    // A file that is not SQLite at all is refused too, and left alone.
    std::fs::write(&db, b"these are my notes, not a database").unwrap();
    let err = Store::open(dir.path(), Unlock::default()).unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
    assert_eq!(
        std::fs::read(&db).unwrap(),
        b"these are my notes, not a database"
    );
}

#[test]
fn a_raised_round_count_is_refused_at_once_as_a_changed_header() {
    let dir = tempfile::tempdir().unwrap();
    drop(Store::open(dir.path(), fast_passphrase("correct horse battery")).unwrap());
    let conn = rusqlite::Connection::open(dir.path().join(DB_FILE)).unwrap();
    conn.execute(
        "UPDATE meta SET value = CAST('100000000' AS BLOB) WHERE key = 'kdf_rounds'",
        [],
    )
    .unwrap();
    drop(conn);
    // Refused before any key is derived (100,000,000 rounds would take tens of seconds).
    let err = Store::open(dir.path(), fast_passphrase("correct horse battery")).unwrap_err();
    assert!(matches!(err, StoreError::HeaderChanged { .. }), "{err:?}");
    assert!(
        err.to_string().contains("was changed outside iching"),
        "{err}"
    );
    // (A phrase no temporary folder name can contain by chance: the message names the path.)
    assert!(
        !err.to_string().contains("horse"),
        "no passphrase in messages"
    );
}
