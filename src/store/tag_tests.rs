//! The tags over plain columns ([`super::tags`]): every covered column changed outside iching,
//! a section row deleted or added, a changed header, and a store written at schema 3.

use std::path::Path;

use super::tests_support::{new_reading, part};
use super::*;
use crate::model::{ErrorKind, ReadingId, ReadingStatus, SectionStatus};
use crate::store::rekey::NewSecret;

/// A store with two readings: `a` (sections 1 complete, 2 failed after spending tokens) and `b`
/// (section 1 complete).
fn two_readings(dir: &Path) -> (Store, ReadingId, ReadingId) {
    let store = Store::open(dir, Unlock::default()).unwrap();
    let a = store
        .create_reading(&NewReading {
            seed: Some(42),
            ..new_reading("question a", 3, Some(4))
        })
        .unwrap();
    let b = store
        .create_reading(&new_reading("question b", 5, None))
        .unwrap();
    let (m1, t1) = part(1, SectionStatus::Complete, "a1");
    let (mut m2, t2) = part(2, SectionStatus::Failed, "a2");
    m2.failed_prompt_tokens = Some(70);
    m2.failed_completion_tokens = Some(7);
    m2.error_kind = Some(ErrorKind::Timeout);
    m2.reasoning_tokens = Some(3);
    m2.cached_tokens = Some(2);
    store.save_parts(a, &[(&m1, &t1), (&m2, &t2)]).unwrap();
    let (mb, tb) = part(1, SectionStatus::Complete, "b1");
    store.save_parts(b, &[(&mb, &tb)]).unwrap();
    store.finish(a, &[1, 2], false).unwrap();
    store.finish(b, &[1], false).unwrap();
    (store, a, b)
}

fn integrity(id: ReadingId, field: &str) -> StoreError {
    StoreError::Integrity {
        id,
        field: field.to_owned(),
    }
}

/// After `sql` (with `?1` = reading a), reading a fails with `field` everywhere it is read
/// and reading b reads as before.
fn assert_only_a_fails(sql: &str, field: &str) {
    let dir = tempfile::tempdir().unwrap();
    let (store, a, b) = two_readings(dir.path());
    let b_row = store.reading(b).unwrap();
    store
        .conn
        .execute_batch("PRAGMA ignore_check_constraints = ON")
        .unwrap();
    let changed = store.conn.execute(sql, [a]).unwrap();
    assert!(changed > 0, "{sql} changed nothing");
    let want = integrity(a, field);
    let row_level = field == "cast and status" || field == "list of sections";
    if row_level {
        assert_eq!(store.reading(a), Err(want.clone()), "{sql}");
    }
    assert_eq!(store.parts(a).map(drop), Err(want.clone()), "{sql}");
    assert_eq!(
        store.section_figures(a).map(drop),
        Err(want.clone()),
        "{sql}"
    );
    // The listing still shows both, a saying what failed where its question would be.
    let listed = store.list(&HistoryFilter::default()).unwrap();
    assert_eq!(listed.len(), 2, "{sql}");
    let listed_a = listed.iter().find(|l| l.row.id == a).unwrap();
    if row_level {
        assert_eq!(listed_a.question, Err(want.clone()), "{sql}");
    }
    let listed_b = listed.iter().find(|l| l.row.id == b).unwrap();
    assert_eq!(listed_b.question.as_deref(), Ok("question b"));
    assert_eq!(listed_b.row, b_row);
    // Stats leave a out, say why, and keep b.
    let all = store.all_section_figures().unwrap();
    assert_eq!(all.skipped, vec![(a, want.clone())], "{sql}");
    assert!(all.parts.iter().all(|(id, _)| *id == b));
    assert_eq!(all.parts.len(), 1);
    assert_eq!(store.parts(b).unwrap().len(), 1);
    // Settling a is refused too: its status is never re-tagged over a changed record.
    assert_eq!(store.finish(a, &[1, 2], false), Err(want.clone()), "{sql}");
    // A retry of a is refused rather than tagging the change as iching's own (a changed
    // section is refused when the retry would write over it).
    if row_level {
        assert_eq!(store.begin_run(a), Err(want), "{sql}");
    } else if let Some(section) = field.strip_prefix("record of section ") {
        let (m, t) = part(section.parse().unwrap(), SectionStatus::Complete, "again");
        assert_eq!(store.save_parts(a, &[(&m, &t)]), Err(want), "{sql}");
    }
}

#[test]
fn each_tagged_reading_column_changed_outside_iching_fails_only_its_reading() {
    for (column, value) in [
        ("created_at", "created_at + 1"),
        ("status", "'complete'"),
        ("method", "'yarrow'"),
        ("lines", "'7,7,7,7,7,7'"),
        ("seed", "'43'"),
        ("seed", "NULL"),
        ("primary_hex", "1"),
        ("resulting_hex", "NULL"),
        ("sections_planned", "9"),
        ("provider", "'openai'"),
        ("model", "'gpt-4o'"),
        ("row_tag", "NULL"),
        ("row_tag", "(SELECT row_tag FROM readings WHERE id <> ?1)"),
    ] {
        assert_only_a_fails(
            &format!("UPDATE readings SET {column} = {value} WHERE id = ?1"),
            "cast and status",
        );
    }
}

#[test]
fn each_tagged_section_column_changed_outside_iching_fails_only_its_reading() {
    for (column, value, section) in [
        ("attempts", "5", 1),
        ("started_ms", "NULL", 1),
        ("finished_ms", "41", 1),
        ("latency_ms", "1", 1),
        ("ttft_ms", "2", 1),
        ("prompt_tokens", "1", 1),
        ("completion_tokens", "5000", 1),
        ("usage_source", "'estimated'", 1),
        ("model", "'other'", 1),
        ("reasoning_tokens", "0", 2),
        ("cached_tokens", "NULL", 2),
        ("failed_prompt_tokens", "0", 2),
        ("failed_completion_tokens", "700", 2),
        ("error_kind", "'server_error'", 2),
        ("row_tag", "NULL", 2),
        (
            "row_tag",
            "(SELECT row_tag FROM reading_parts WHERE section_id = 1 AND reading_id = ?1)",
            2,
        ),
    ] {
        assert_only_a_fails(
            &format!(
                "UPDATE reading_parts SET {column} = {value} WHERE reading_id = ?1 AND section_id = {section}"
            ),
            &format!("record of section {section}"),
        );
    }
    // Status and token totals are in the reading's list of sections as well.
    for sql in [
        "UPDATE reading_parts SET status = 'complete' WHERE reading_id = ?1 AND section_id = 2",
        "UPDATE reading_parts SET total_tokens = 1 WHERE reading_id = ?1 AND section_id = 1",
        "UPDATE reading_parts SET section_id = 300 WHERE reading_id = ?1 AND section_id = 1",
        "UPDATE reading_parts SET section_id = 3 WHERE reading_id = ?1 AND section_id = 1",
        "UPDATE readings SET sections_tag = NULL WHERE id = ?1",
    ] {
        assert_only_a_fails(sql, "list of sections");
    }
}

#[test]
fn a_section_row_deleted_or_added_outside_iching_fails_its_reading() {
    assert_only_a_fails(
        "DELETE FROM reading_parts WHERE reading_id = ?1 AND section_id = 2",
        "list of sections",
    );
    // A row copied in from another reading, with its own tag, is not a section of this one.
    assert_only_a_fails(
        "INSERT INTO reading_parts (reading_id, section_id, status, attempts, finished_ms,
            latency_ms, created_at, updated_at, request, row_tag)
         SELECT ?1, 7, status, attempts, finished_ms, latency_ms, created_at, updated_at,
            request, row_tag FROM reading_parts WHERE reading_id <> ?1",
        "list of sections",
    );
}

#[test]
fn columns_only_the_store_reads_are_not_covered() {
    let dir = tempfile::tempdir().unwrap();
    let (store, a, _) = two_readings(dir.path());
    store
        .conn
        .execute(
            "UPDATE readings SET updated_at = 1, pid = NULL, pid_start = NULL WHERE id = ?1",
            [a],
        )
        .unwrap();
    store
        .conn
        .execute(
            "UPDATE reading_parts SET updated_at = 1 WHERE reading_id = ?1",
            [a],
        )
        .unwrap();
    assert_eq!(store.parts(a).unwrap().len(), 2);
}

#[test]
fn writing_again_keeps_the_tags_in_step() {
    let dir = tempfile::tempdir().unwrap();
    let (store, a, _) = two_readings(dir.path());
    // A retry: running again, section 2 now complete, its failed attempts carried over.
    store.begin_run(a).unwrap();
    let (mut m2, t2) = part(2, SectionStatus::Complete, "a2 again");
    m2.failed_prompt_tokens = Some(30);
    store.save_parts(a, &[(&m2, &t2)]).unwrap();
    assert_eq!(
        store.finish(a, &[1, 2], false).unwrap(),
        ReadingStatus::Complete
    );
    let parts = store.parts(a).unwrap();
    assert_eq!(parts[1].meta.failed_prompt_tokens, Some(100));
    assert_eq!(parts[1].meta.failed_completion_tokens, Some(7));
    let row = store.reading(a).unwrap();
    assert_eq!((row.sections_done, row.sections_failed), (2, 0));
    // And a store reopened checks out.
    drop(store);
    let store = Store::open(dir.path(), Unlock::default()).unwrap();
    assert_eq!(store.all_section_figures().unwrap().skipped, vec![]);
}

#[test]
fn a_changed_header_is_refused_as_such() {
    for sql in [
        "UPDATE meta SET value = CAST('1' AS BLOB) WHERE key = 'created_at'",
        "DELETE FROM meta WHERE key = 'header_tag'",
        "INSERT INTO meta (key, value) VALUES ('kdf_rounds', CAST('10' AS BLOB))",
    ] {
        let dir = tempfile::tempdir().unwrap();
        drop(two_readings(dir.path()));
        let db = dir.path().join(DB_FILE);
        rusqlite::Connection::open(&db)
            .unwrap()
            .execute(sql, [])
            .unwrap();
        match Store::open(dir.path(), Unlock::default()) {
            Err(StoreError::HeaderChanged { what, .. }) => {
                assert!(what.contains("key settings"), "{sql}: {what}");
            }
            other => panic!("{sql}: {other:?}"),
        }
    }
}

/// A copy of the schema-3 fixture `name` in a fresh folder, with the modes git does not keep.
fn v3_fixture(name: &str) -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let from = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/store-v3")
        .join(name);
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(&from).unwrap() {
        let entry = entry.unwrap();
        let to = dir.path().join(entry.file_name());
        std::fs::copy(entry.path(), &to).unwrap();
        std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    dir
}

#[test]
fn a_store_of_a_development_schema_is_refused_and_never_touched() {
    for (name, unlock) in [
        ("keyfile", Unlock::default()),
        ("passphrase", Unlock::passphrase("old stalks")),
    ] {
        let dir = v3_fixture(name);
        let db = dir.path().join(DB_FILE);
        let before = std::fs::read(&db).unwrap();
        match Store::open(dir.path(), unlock) {
            Err(StoreError::TooOld { found, oldest, .. }) => {
                assert_eq!((found, oldest), (3, schema::OLDEST_OPENED), "{name}");
            }
            other => panic!("{name}: {other:?}"),
        }
        assert_eq!(std::fs::read(&db).unwrap(), before, "{name}: not migrated");
    }
}

#[test]
fn a_store_dressed_up_as_an_older_schema_is_refused_and_its_forgery_never_signed() {
    // The attack: change the figures, drop the newer tables, claim schema 4 (whose migration
    // used to tag everything as it was).
    let dir = tempfile::tempdir().unwrap();
    let (store, first, _) = two_readings(dir.path());
    drop(store);
    let db = dir.path().join(DB_FILE);
    let raw = rusqlite::Connection::open(&db).unwrap();
    raw.execute_batch(
        "UPDATE readings SET lines = '9,9,9,9,9,9', primary_hex = 1, resulting_hex = 2;
         DROP TABLE followups; DROP TABLE notes; PRAGMA user_version = 4;",
    )
    .unwrap();
    drop(raw);
    assert!(matches!(
        Store::open(dir.path(), Unlock::default()),
        Err(StoreError::TooOld { found: 4, .. })
    ));
    // Claiming the current schema with its tables gone is a damaged store, not a new one.
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute_batch(&format!("PRAGMA user_version = {}", schema::SCHEMA_VERSION))
        .unwrap();
    match Store::open(dir.path(), Unlock::default()) {
        Err(StoreError::Corrupt { reason, .. }) => {
            assert!(reason.contains("table is missing"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    // With the tables back, the forged figures still fail their check: nothing was signed.
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute_batch(&schema_tail())
        .unwrap();
    let store = Store::open(dir.path(), Unlock::default()).unwrap();
    assert_eq!(
        store.reading(first),
        Err(integrity(first, "cast and status"))
    );
}

/// The `CREATE` statements of the tables after `readings` and `reading_parts`, as the newest
/// migrations write them.
fn schema_tail() -> String {
    schema::newest_tables()
}

#[test]
fn a_new_passphrase_store_uses_argon2id_and_its_parameters_are_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), Unlock::passphrase("stalks and coins")).unwrap();
    let meta = |key: &str| -> Vec<u8> {
        store
            .conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .unwrap()
    };
    assert_eq!(meta("kdf"), b"argon2id");
    assert_eq!(meta("kdf_params"), b"m=19456,t=2,p=1");
    assert_eq!(meta("kdf_salt").len(), 16);
    drop(store);
    let db = dir.path().join(DB_FILE);
    let original = std::fs::read(&db).unwrap();
    for (sql, said) in [
        (
            "UPDATE meta SET value = CAST('m=4000000,t=2,p=1' AS BLOB) WHERE key = 'kdf_params'",
            "m=4000000,t=2,p=1, outside what iching accepts",
        ),
        (
            "UPDATE meta SET value = CAST('m=19456,t=100,p=1' AS BLOB) WHERE key = 'kdf_params'",
            "outside what iching accepts",
        ),
        (
            "UPDATE meta SET value = CAST('m=19456,t=2,p=64' AS BLOB) WHERE key = 'kdf_params'",
            "outside what iching accepts",
        ),
        (
            "UPDATE meta SET value = CAST('scrypt' AS BLOB) WHERE key = 'kdf'",
            "\"scrypt\", which iching does not know",
        ),
    ] {
        std::fs::write(&db, &original).unwrap();
        rusqlite::Connection::open(&db)
            .unwrap()
            .execute(sql, [])
            .unwrap();
        match Store::open(dir.path(), Unlock::passphrase("stalks and coins")) {
            Err(StoreError::HeaderChanged { what, .. }) => {
                assert!(what.contains(said), "{sql}: {what}");
            }
            other => panic!("{sql}: {other:?}"),
        }
    }
    std::fs::write(&db, &original).unwrap();
    assert!(Store::open(dir.path(), Unlock::passphrase("stalks and coins")).is_ok());
}

#[test]
fn a_key_change_reseals_everything_and_other_open_stores_stop_writing() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, a, b) = two_readings(dir.path());
    let before_parts = store.parts(a).unwrap();
    // Another process's store, opened before the change, with the old key.
    let other = Store::open(dir.path(), Unlock::default()).unwrap();
    let done = store.rekey(NewSecret::KeyFile).unwrap();
    assert_eq!((done.readings, done.mode), (2, KeyMode::KeyFile));
    // question + 2 sections of a (request, response, paragraphs / request, error) + b's 4.
    assert_eq!(done.sealed, 1 + 3 + 2 + 1 + 3);
    assert_eq!(store.parts(a).unwrap(), before_parts);
    assert_eq!(store.question(b).unwrap(), "question b");
    // The old store's reads now fail their checks, and its writes are refused as a key change.
    assert_eq!(
        other.create_reading(&new_reading("late", 1, None)),
        Err(StoreError::KeyChanged {
            path: dir.path().join(DB_FILE)
        })
    );
    let (m, t) = part(3, SectionStatus::Complete, "late");
    assert!(matches!(
        other.save_parts(b, &[(&m, &t)]),
        Err(StoreError::KeyChanged { .. })
    ));
    drop(other);
    drop(store);
    let store = Store::open(dir.path(), Unlock::default()).unwrap();
    assert!(store.verify().unwrap().clean());
    // To a passphrase (cheap parameters) and back.
    let mut store = store;
    let cheap = crate::store::keys::Kdf::Argon2id {
        salt: [3; 16],
        params: crate::crypto::Argon2Params {
            m_kib: 64,
            t: 1,
            p: 1,
        },
    };
    let to = NewSecret::Passphrase(crate::model::Secret::new("new words"));
    assert_eq!(
        store.rekey_with(to, Some(cheap)).unwrap().mode,
        KeyMode::Passphrase
    );
    drop(store);
    assert!(!dir.path().join(KEY_FILE).exists());
    assert!(matches!(
        Store::open(dir.path(), Unlock::default()),
        Err(StoreError::PassphraseNeeded { .. })
    ));
    let mut store = Store::open(dir.path(), Unlock::passphrase("new words")).unwrap();
    assert_eq!(store.question(a).unwrap(), "question a");
    store.rekey(NewSecret::KeyFile).unwrap();
    drop(store);
    let store = Store::open(dir.path(), Unlock::default()).unwrap();
    assert!(store.verify().unwrap().clean());
}

#[test]
fn a_key_change_refuses_a_damaged_store_and_a_reading_in_flight() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, a, b) = two_readings(dir.path());
    let key = std::fs::read(dir.path().join(KEY_FILE)).unwrap();
    store
        .conn
        .execute("UPDATE readings SET model = 'x' WHERE id = ?1", [a])
        .unwrap();
    assert_eq!(
        store.rekey(NewSecret::KeyFile),
        Err(StoreError::Damaged { readings: 1 })
    );
    store.force_delete(a).unwrap();
    // This process is generating b.
    store.begin_run(b).unwrap();
    assert!(matches!(
        store.rekey(NewSecret::KeyFile),
        Err(StoreError::InFlight { .. })
    ));
    assert_eq!(std::fs::read(dir.path().join(KEY_FILE)).unwrap(), key);
    assert!(!dir.path().join("iching.key.new").exists());
    store.finish(b, &[1], false).unwrap();
    store.rekey(NewSecret::KeyFile).unwrap();
    assert_ne!(std::fs::read(dir.path().join(KEY_FILE)).unwrap(), key);
}

#[test]
fn changing_a_pbkdf2_passphrase_moves_the_store_to_argon2id() {
    let dir = tempfile::tempdir().unwrap();
    let pbkdf2 = Unlock {
        new_rounds: Some(10),
        ..Unlock::passphrase("old stalks")
    };
    let mut store = Store::open(dir.path(), pbkdf2).unwrap();
    let id = store
        .create_reading(&new_reading("Behind a passphrase", 3, None))
        .unwrap();
    let (m, t) = part(1, SectionStatus::Complete, "a1");
    store.save_parts(id, &[(&m, &t)]).unwrap();
    store.finish(id, &[1], false).unwrap();
    let kdf = |store: &Store| -> Option<Vec<u8>> {
        store
            .conn
            .query_row("SELECT value FROM meta WHERE key = 'kdf'", [], |r| r.get(0))
            .ok()
    };
    assert_eq!(kdf(&store), None, "a PBKDF2 store names no kdf");
    let to = NewSecret::Passphrase(crate::model::Secret::new("new stalks"));
    store.rekey(to).unwrap();
    assert_eq!(kdf(&store).as_deref(), Some(&b"argon2id"[..]));
    drop(store);
    assert!(matches!(
        Store::open(dir.path(), Unlock::passphrase("old stalks")),
        Err(StoreError::WrongPassphrase { .. })
    ));
    let store = Store::open(dir.path(), Unlock::passphrase("new stalks")).unwrap();
    assert_eq!(store.question(id).unwrap(), "Behind a passphrase");
    assert!(store.verify().unwrap().clean());
}

#[tokio::test]
async fn an_open_writer_follows_a_key_changed_by_another_process() {
    let dir = tempfile::tempdir().unwrap();
    let (store, a, _) = two_readings(dir.path());
    let (writer, thread) = store.into_writer().unwrap();
    // Another process rotates the key while this one is open (the terminal app, a follow-up).
    let mut other = Store::open(dir.path(), Unlock::default()).unwrap();
    other.rekey(NewSecret::KeyFile).unwrap();
    drop(other);
    // What this one reads is read with the new key: nothing is reported damaged.
    let questions = writer
        .call(|s| {
            s.list(&HistoryFilter::default())
                .map(|l| l.into_iter().map(|r| r.question).collect::<Vec<_>>())
        })
        .await
        .unwrap();
    assert_eq!(
        questions,
        [Ok("question b".to_owned()), Ok("question a".to_owned())]
    );
    assert_eq!(
        writer.call(move |s| s.question(a)).await.unwrap(),
        "question a"
    );
    // And what it writes is sealed with it: a question cast now is kept.
    let late = writer
        .call(|s| s.create_reading(&new_reading("cast after the change", 1, None)))
        .await
        .unwrap();
    writer
        .call(move |s| {
            let (m, t) = part(1, SectionStatus::Complete, "late");
            s.save_parts(late, &[(&m, &t)])?;
            s.finish(late, &[1], false)
        })
        .await
        .unwrap();
    // Changed to a passphrase, it cannot follow, and says so instead of showing damage.
    let mut other = Store::open(dir.path(), Unlock::default()).unwrap();
    other
        .rekey(NewSecret::Passphrase(crate::model::Secret::new(
            "a long new passphrase",
        )))
        .unwrap();
    drop(other);
    assert!(matches!(
        writer.call(move |s| s.question(a)).await,
        Err(StoreError::KeyChanged { .. })
    ));
    drop(writer);
    thread.join();
    let store = Store::open(dir.path(), Unlock::passphrase("a long new passphrase")).unwrap();
    assert_eq!(store.question(late).unwrap(), "cast after the change");
    assert!(store.verify().unwrap().clean());
}

#[test]
fn a_backup_is_checked_where_it_is_before_anything_is_copied() {
    let dir = tempfile::tempdir().unwrap();
    drop(two_readings(dir.path()));
    let file = dir.path().join("backup.db");
    backup::backup(&dir.path().join(DB_FILE), &file).unwrap();
    // A data folder that does not exist: copying anything there would fail as such; the key
    // check comes first and says the key is wrong.
    let nowhere = dir.path().join("no-such-folder");
    let other_key = tempfile::tempdir().unwrap();
    drop(Store::open(other_key.path(), Unlock::default()).unwrap());
    let wrong = other_key.path().join(KEY_FILE);
    assert!(matches!(
        OpenedBackup::open(&file, &nowhere, Some(&wrong), Unlock::default()),
        Err(StoreError::WrongKeyFile { .. })
    ));
    // A file that is no store at all, however big, is refused the same way, untouched.
    let junk = dir.path().join("junk.db");
    std::fs::write(&junk, vec![7u8; 1 << 20]).unwrap();
    assert!(matches!(
        OpenedBackup::open(&junk, &nowhere, None, Unlock::default()),
        Err(StoreError::Corrupt { .. })
    ));
    assert!(!nowhere.exists());
}

#[test]
fn what_a_killed_restore_left_is_removed_by_the_next_open() {
    let dir = tempfile::tempdir().unwrap();
    drop(two_readings(dir.path()));
    // A pid no process has (the kernel's limit is below it).
    let left = dir.path().join(".restore-2147483646");
    std::fs::create_dir(&left).unwrap();
    std::fs::write(left.join(KEY_FILE), b"a copied key").unwrap();
    let mine = dir.path().join(format!(".restore-{}", std::process::id()));
    std::fs::create_dir(&mine).unwrap();
    let half_written = dir.path().join("iching-endpoints.tmp-2147483646");
    std::fs::write(&half_written, b"{").unwrap();
    // The owner's claim decides, not the pid: a live pid (1) whose claim nobody holds was
    // killed and its pid reused; a dead pid whose claim is held belongs to a process on
    // another machine sharing the folder.
    let reused = dir.path().join(".restore-1-0");
    std::fs::create_dir(&reused).unwrap();
    std::fs::write(reused.join(".owner"), b"1").unwrap();
    let elsewhere = dir.path().join(".restore-2147483645-0");
    std::fs::create_dir(&elsewhere).unwrap();
    let held = super::claim::own_folder(&elsewhere).unwrap();
    drop(Store::open(dir.path(), Unlock::default()).unwrap());
    assert!(
        !reused.exists(),
        "a folder whose owner's claim is not held is removed"
    );
    assert!(elsewhere.exists(), "one whose claim is held is not");
    drop(held);
    assert!(!left.exists(), "a dead process's staging folder is removed");
    assert!(!half_written.exists(), "and its half-written memory file");
    assert!(mine.exists(), "a live one's is not");
    // A killed backup's private folder in the store's folder goes with the next open, and a
    // backup leaves nothing beside its target.
    let killed = dir.path().join(".iching-backup-2147483646-0");
    std::fs::create_dir(&killed).unwrap();
    std::fs::write(killed.join(DB_FILE), b"a copy of the store").unwrap();
    drop(Store::open(dir.path(), Unlock::default()).unwrap());
    assert!(!killed.exists());
    let target_dir = tempfile::tempdir().unwrap();
    backup::backup(&dir.path().join(DB_FILE), &target_dir.path().join("b.db")).unwrap();
    let beside: Vec<_> = std::fs::read_dir(target_dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(beside, ["b.db"]);
}

#[test]
fn a_backup_is_never_written_into_or_over_a_file_that_is_there() {
    let dir = tempfile::tempdir().unwrap();
    drop(two_readings(dir.path()));
    let to = dir.path().join("theirs.db");
    std::fs::write(&to, b"someone else's").unwrap();
    assert!(matches!(
        backup::backup(&dir.path().join(DB_FILE), &to),
        Err(StoreError::Exists { .. })
    ));
    assert_eq!(std::fs::read(&to).unwrap(), b"someone else's");
    // A backup made: 0600, and no private folder left behind.
    let made = dir.path().join("made.db");
    backup::backup(&dir.path().join(DB_FILE), &made).unwrap();
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&made).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600);
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(".iching-backup")
        })
        .collect();
    assert!(left.is_empty());
}

#[test]
fn a_new_passphrase_needs_some_strength() {
    use super::keys::passphrase_strength;
    assert!(passphrase_strength("stalks and coins").is_ok());
    assert!(passphrase_strength("短い言葉ではない合言葉").is_ok());
    for weak in [
        "short",
        "        ",
        "\t\t\t\t\t\t\t\t",
        "aaaaaaaaaa",
        "12121212",
        "ab ab ab ab",
        // Eight different invisible characters, and three letters padded with them.
        "\u{200b}\u{200c}\u{200d}\u{2060}\u{feff}\u{ad}\u{2061}\u{2062}",
        "abc\u{200b}\u{200c}\u{200d}\u{2060}\u{feff}",
    ] {
        assert!(passphrase_strength(weak).is_err(), "{weak:?}");
    }
    // Creating a passphrase store with one is refused, and nothing is made.
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(
        Store::open(dir.path(), Unlock::passphrase("        ")),
        Err(StoreError::WeakPassphrase { .. })
    ));
    assert!(!dir.path().join(DB_FILE).exists());
}

#[test]
fn a_note_that_fails_its_check_can_still_be_deleted_by_its_number() {
    use crate::model::NoteKind;
    let dir = tempfile::tempdir().unwrap();
    let (store, a, b) = two_readings(dir.path());
    assert_eq!(store.add_note(b, NoteKind::Note, "on b").unwrap(), 1);
    assert_eq!(store.add_note(a, NoteKind::Note, "first on a").unwrap(), 1);
    assert_eq!(
        store.add_note(a, NoteKind::Outcome, "second on a").unwrap(),
        2
    );
    // The first note of a is changed outside iching: its reading's notes no longer open...
    store
        .conn
        .execute(
            "UPDATE notes SET text = x'00' WHERE id = (SELECT min(id) FROM notes WHERE reading_id = ?1)",
            [a],
        )
        .unwrap();
    assert!(store.notes(a).is_err());
    // ...but it can be deleted by the number it is listed under, and the next moves up.
    store.delete_note(a, 1).unwrap();
    let left = store.notes(a).unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!((left[0].number, left[0].text.as_str()), (1, "second on a"));
    assert!(matches!(
        store.delete_note(a, 2),
        Err(StoreError::NoteNotFound { note: 2, .. })
    ));
    assert!(matches!(
        store.delete_note(a, 0),
        Err(StoreError::NoteNotFound { note: 0, .. })
    ));
}
