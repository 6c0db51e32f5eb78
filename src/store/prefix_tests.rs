//! A reading's shared request prefix ([`super::prefixes`]): stored once, every request read back
//! byte for byte, the on-disk format, what a changed file does, key changes and restores that
//! carry it, and stores of schema 7 (written by the build before it) opening as before.

use std::path::Path;

use super::tests_support::{new_reading, part};
use super::*;
use crate::crypto::{SEAL_VERSION, SEAL_VERSION_DEFLATED};
use crate::model::{ReadingId, SectionStatus};
use crate::store::rekey::NewSecret;

/// What a reading's requests share in these tests: long and repetitive, like a reading's JSON.
fn prefix_of(question: &str) -> String {
    let mut p = format!(
        r#"[{{"role":"system","content":"You read the I Ching."}},{{"role":"user","content":"The reading (JSON):\n{{\"question\": \"{question}\""#
    );
    for n in 1..=60 {
        p.push_str(&format!(
            r#", \"line{n}\": \"The text of line {n}, as Legge gives it.\""#
        ));
    }
    p
}

/// Section `s`'s request of a reading whose requests begin with `prefix`.
fn request(prefix: &str, s: u8) -> String {
    format!(r#"{prefix}}}\n\nWrite section {s}."}}]"#)
}

/// A reading with sections 1 to 3 saved against `prefix` (1 and 2 together, then 3), and
/// section 4 whose request does not begin with it.
fn reading_with_prefix(store: &Store, question: &str) -> (ReadingId, String) {
    let id = store
        .create_reading(&new_reading(question, 3, None))
        .unwrap();
    let prefix = prefix_of(question);
    let texts: Vec<(SectionFigures, PartText)> = (1..=4)
        .map(|s| {
            let (m, mut t) = part(s, SectionStatus::Complete, question);
            t.request = if s == 4 {
                format!("[{{\"role\":\"user\",\"content\":\"alone {s}\"}}]")
            } else {
                request(&prefix, s)
            };
            (m, t)
        })
        .collect();
    let rows: Vec<_> = texts.iter().map(|(m, t)| (m, t)).collect();
    store
        .save_parts_sharing(id, Some(&prefix), &rows[..2])
        .unwrap();
    store
        .save_parts_sharing(id, Some(&prefix), &rows[2..])
        .unwrap();
    store.finish(id, &[1, 2, 3, 4], false).unwrap();
    (id, prefix)
}

/// A part's section, `request_shared` and `request`, as stored.
type RawPart = (u8, bool, Vec<u8>);

/// The raw `request_prefixes` and `reading_parts` columns of reading `id`.
fn raw(store: &Store, id: ReadingId) -> (Vec<u8>, Vec<RawPart>) {
    let prefix = store
        .conn
        .query_row(
            "SELECT prefix FROM request_prefixes WHERE reading_id = ?1",
            [id],
            |r| r.get(0),
        )
        .unwrap();
    let parts = store
        .conn
        .prepare(
            "SELECT section_id, request_shared, request FROM reading_parts WHERE reading_id = ?1
             ORDER BY section_id",
        )
        .unwrap()
        .query_map([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    (prefix, parts)
}

#[test]
fn a_readings_shared_prefix_is_stored_once_and_every_request_reads_back_whole() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), Unlock::default()).unwrap();
    let (id, prefix) = reading_with_prefix(&store, "Shall I go?");
    let parts = store.parts(id).unwrap();
    let requests: Vec<&str> = parts.iter().map(|p| p.text.request.as_str()).collect();
    assert_eq!(
        requests,
        [
            request(&prefix, 1).as_str(),
            &request(&prefix, 2),
            &request(&prefix, 3),
            "[{\"role\":\"user\",\"content\":\"alone 4\"}]",
        ]
    );
    let prefixes: i64 = store
        .conn
        .query_row("SELECT count(*) FROM request_prefixes", [], |r| r.get(0))
        .unwrap();
    assert_eq!(prefixes, 1);
    let (_, rows) = raw(&store, id);
    let shared: Vec<(u8, bool)> = rows.iter().map(|(s, shared, _)| (*s, *shared)).collect();
    assert_eq!(shared, [(1, true), (2, true), (3, true), (4, false)]);
    // Each shared section keeps only its own words: a fraction of the request.
    for (s, _, blob) in &rows[..3] {
        assert!(blob.len() * 8 < request(&prefix, *s).len(), "section {s}");
    }
    // A retry that offers another prefix keeps the first; its request, which begins with the
    // first, is still stored as the rest of it.
    let (m, mut t) = part(2, SectionStatus::Complete, "again");
    t.request = request(&prefix, 2).replace("Write", "Rewrite");
    store
        .save_parts_sharing(id, Some(&prefix_of("another")), &[(&m, &t)])
        .unwrap();
    let (stored, rows) = raw(&store, id);
    assert_eq!(
        store
            .keys
            .open_string(
                Field::RequestPrefix(id).aad().as_bytes(),
                &Sealed::from_bytes(stored)
            )
            .unwrap(),
        prefix
    );
    assert!(rows[1].1);
    assert_eq!(store.parts(id).unwrap()[1].text.request, t.request);
    // Deleting the reading deletes its prefix.
    store.delete(id).unwrap();
    let left: i64 = store
        .conn
        .query_row("SELECT count(*) FROM request_prefixes", [], |r| r.get(0))
        .unwrap();
    assert_eq!(left, 0);
}

#[test]
fn the_on_disk_format_of_a_shared_prefix_is_pinned() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), Unlock::default()).unwrap();
    let (id, prefix) = reading_with_prefix(&store, "Format?");
    let (blob, rows) = raw(&store, id);
    let open = |label: String, blob: &[u8]| {
        store
            .keys
            .open_string(label.as_bytes(), &Sealed::from_bytes(blob.to_vec()))
            .unwrap()
    };
    // The prefix: sealed compressed (version 2), labelled with its reading.
    assert_eq!(blob[0], SEAL_VERSION_DEFLATED);
    assert_eq!(open(format!("reading:{id}:request_prefix"), &blob), prefix);
    // A shared section: what follows the prefix, labelled `request_tail`.
    let (s, shared, tail) = &rows[0];
    assert!(*shared);
    assert_eq!(
        open(format!("part:{id}:{s}:request_tail"), tail),
        request(&prefix, *s)[prefix.len()..]
    );
    // A request stored whole keeps the label of schema 7; too short to compress, version 1.
    let (s, shared, whole) = &rows[3];
    assert!(!*shared);
    assert_eq!(whole[0], SEAL_VERSION);
    assert_eq!(
        open(format!("part:{id}:{s}:request"), whole),
        "[{\"role\":\"user\",\"content\":\"alone 4\"}]"
    );
    // The columns, as schema 8 makes them.
    let sql: String = store
        .conn
        .query_row(
            "SELECT sql FROM sqlite_schema WHERE name = 'request_prefixes'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let squashed: String = sql.split_whitespace().collect::<Vec<_>>().join(" ");
    assert_eq!(
        squashed,
        "CREATE TABLE request_prefixes ( reading_id INTEGER PRIMARY KEY REFERENCES readings (id) \
         ON DELETE CASCADE, prefix BLOB NOT NULL ) STRICT"
    );
    assert_eq!(store.user_version().unwrap(), super::schema::SCHEMA_VERSION);
}

#[test]
fn a_prefix_swapped_dropped_or_relabelled_fails_its_check_and_verify_names_the_reading() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), Unlock::default()).unwrap();
    let (a, _) = reading_with_prefix(&store, "first");
    let (b, _) = reading_with_prefix(&store, "second");
    let (c, _) = reading_with_prefix(&store, "third");
    let prefix_damage = |id: ReadingId| StoreError::Integrity {
        id,
        field: "shared start of its requests".into(),
    };
    // Swapped between two readings: neither opens.
    store
        .conn
        .execute_batch(&format!(
            "CREATE TEMP TABLE was AS SELECT reading_id, prefix FROM request_prefixes;
             UPDATE request_prefixes SET prefix = (SELECT prefix FROM was WHERE was.reading_id =
                 CASE request_prefixes.reading_id WHEN {a} THEN {b} ELSE {a} END)
             WHERE reading_id IN ({a}, {b});"
        ))
        .unwrap();
    assert_eq!(store.parts(a).map(drop), Err(prefix_damage(a)));
    assert_eq!(store.parts(b).map(drop), Err(prefix_damage(b)));
    // Dropped: the parts stored against it say so.
    store
        .conn
        .execute("DELETE FROM request_prefixes WHERE reading_id = ?1", [c])
        .unwrap();
    assert_eq!(store.parts(c).map(drop), Err(prefix_damage(c)));
    let verified = store.verify().unwrap();
    let damaged: Vec<ReadingId> = verified.damaged.iter().map(|(id, _)| *id).collect();
    assert_eq!(damaged, [a, b, c]);
    // A part said to be whole when it is a tail (or the reverse) does not open.
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), Unlock::default()).unwrap();
    let (d, _) = reading_with_prefix(&store, "fourth");
    for (section, flag) in [(1, 0), (4, 1)] {
        store
            .conn
            .execute(
                "UPDATE reading_parts SET request_shared = ?3 WHERE reading_id = ?1 AND section_id = ?2",
                rusqlite::params![d, section, flag],
            )
            .unwrap();
        assert_eq!(
            store.parts(d).map(drop),
            Err(StoreError::Integrity {
                id: d,
                field: format!("request of section {section}"),
            })
        );
        store
            .conn
            .execute(
                "UPDATE reading_parts SET request_shared = 1 - ?3 WHERE reading_id = ?1 AND section_id = ?2",
                rusqlite::params![d, section, flag],
            )
            .unwrap();
    }
    assert!(store.verify().unwrap().clean());
}

#[test]
fn a_key_change_and_a_restore_carry_the_prefix_resealed() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path(), Unlock::default()).unwrap();
    let (id, prefix) = reading_with_prefix(&store, "Through a new key?");
    let before = store.parts(id).unwrap();
    let (old_blob, _) = raw(&store, id);
    let done = store.rekey(NewSecret::KeyFile).unwrap();
    // The question, the prefix, four requests, four responses and four paragraphs.
    assert_eq!(done.sealed, 1 + 1 + 4 * 3);
    assert_eq!(store.parts(id).unwrap(), before);
    let (new_blob, rows) = raw(&store, id);
    assert_ne!(new_blob, old_blob);
    assert!(rows[0].1, "still stored as the rest of the prefix");
    let verified = store.verify().unwrap();
    assert!(verified.clean());
    assert_eq!(verified.sealed, 1 + 1 + 4 * 3);
    drop(store);

    // Restored into a store of its own key: the copy keeps one prefix, under the new id.
    let copy = tempfile::tempdir().unwrap();
    let copy = copy.path().join("backup.db");
    crate::store::backup(&dir.path().join(DB_FILE), &copy).unwrap();
    let other = tempfile::tempdir().unwrap();
    let target = Store::open(other.path(), Unlock::default()).unwrap();
    target
        .create_reading(&new_reading("already here", 1, None))
        .unwrap();
    let opened = crate::store::OpenedBackup::open(
        &copy,
        other.path(),
        Some(&dir.path().join(KEY_FILE)),
        Unlock::default(),
    )
    .unwrap();
    let imported = target.import(opened.store()).unwrap();
    let new_id = imported.added[0];
    assert_ne!(new_id, id);
    let parts = target.parts(new_id).unwrap();
    let requests: Vec<&str> = parts.iter().map(|p| p.text.request.as_str()).collect();
    let want: Vec<&str> = before.iter().map(|p| p.text.request.as_str()).collect();
    assert_eq!(requests, want);
    let (blob, rows) = raw(&target, new_id);
    assert_eq!(
        target
            .keys
            .open_string(
                Field::RequestPrefix(new_id).aad().as_bytes(),
                &Sealed::from_bytes(blob)
            )
            .unwrap(),
        prefix
    );
    let shared: Vec<bool> = rows.iter().map(|r| r.1).collect();
    assert_eq!(shared, [true, true, true, false]);
    assert!(target.verify().unwrap().clean());
}

/// A copy of the schema-7 fixture `name` (written by the build before schema 8) in a fresh
/// folder, with the modes git does not keep.
fn v7_fixture(name: &str) -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let from = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/store-v7")
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
fn a_schema_7_store_opens_migrates_in_place_and_reads_as_before() {
    let dir = v7_fixture("keyfile");
    let raw_v7 = rusqlite::Connection::open(dir.path().join(DB_FILE)).unwrap();
    let version: i64 = raw_v7
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, 7);
    drop(raw_v7);
    let store = Store::open(dir.path(), Unlock::default()).unwrap();
    assert_eq!(store.user_version().unwrap(), super::schema::SCHEMA_VERSION);
    // As the build of schema 7 verified it: 3 readings, 25 sections, 73 sealed values.
    let verified = store.verify().unwrap();
    assert!(verified.clean(), "{verified:?}");
    assert_eq!(
        (verified.readings, verified.sections, verified.sealed),
        (3, 25, 73)
    );
    let (one, two, three) = (ReadingId(1), ReadingId(2), ReadingId(3));
    assert_eq!(store.question(two).unwrap(), "What of the new work?");
    let parts = store.parts(two).unwrap();
    assert_eq!(parts.len(), 10);
    for p in &parts {
        assert!(
            p.text
                .request
                .starts_with(r#"[{"role":"system","content":"#)
        );
        assert!(p.text.response.is_some());
    }
    assert_eq!(store.parts(one).unwrap().len(), 6);
    assert!(
        store
            .parts(three)
            .unwrap()
            .iter()
            .all(|p| p.meta.status == SectionStatus::Failed)
    );
    assert_eq!(
        store.notes(two).unwrap()[0].text,
        "Began the new work in March."
    );
    assert_eq!(
        store.followups(two).unwrap()[0].question,
        "And the second line?"
    );
    // The old rows stay as they were written; a section saved now shares a new prefix.
    let requests: Vec<String> = parts.iter().map(|p| p.text.request.clone()).collect();
    let mut common = requests[0].len();
    for r in &requests[1..] {
        common = common.min(
            requests[0]
                .bytes()
                .zip(r.bytes())
                .take_while(|(a, b)| a == b)
                .count(),
        );
    }
    let offered = &requests[0][..common];
    store.begin_run(three).unwrap();
    let (m3, mut t3) = part(1, SectionStatus::Complete, "retried");
    t3.request = format!("{offered} and more");
    store
        .save_parts_sharing(three, Some(offered), &[(&m3, &t3)])
        .unwrap();
    store.finish(three, &[1], false).unwrap();
    assert_eq!(store.parts(three).unwrap()[0].text.request, t3.request);
    assert!(store.verify().unwrap().clean());
    drop(store);
    // Opened again: nothing more to migrate.
    let store = Store::open(dir.path(), Unlock::default()).unwrap();
    assert!(store.verify().unwrap().clean());

    // A passphrase store of schema 7.
    let dir = v7_fixture("passphrase");
    let store = Store::open(dir.path(), Unlock::passphrase("old stalks")).unwrap();
    assert_eq!(store.question(ReadingId(1)).unwrap(), "Behind a passphrase");
    assert!(store.verify().unwrap().clean());
}

#[test]
fn a_schema_7_backup_restores_into_a_store_of_schema_8() {
    let from = v7_fixture("keyfile");
    let copy = tempfile::tempdir().unwrap();
    let copy = copy.path().join("old-backup.db");
    std::fs::copy(from.path().join(DB_FILE), &copy).unwrap();
    let other = tempfile::tempdir().unwrap();
    let target = Store::open(other.path(), Unlock::default()).unwrap();
    let opened = crate::store::OpenedBackup::open(
        &copy,
        other.path(),
        Some(&from.path().join(KEY_FILE)),
        Unlock::default(),
    )
    .unwrap();
    let imported = target.import(opened.store()).unwrap();
    assert_eq!(imported.added.len(), 3);
    assert!(imported.damaged.is_empty());
    let two = imported.added[1];
    let parts = target.parts(two).unwrap();
    assert_eq!(parts.len(), 10);
    // Copied into the new format: the requests' common start kept once, each read back whole.
    let before = opened.store().parts(ReadingId(2)).unwrap();
    let requests =
        |parts: &[Part]| -> Vec<String> { parts.iter().map(|p| p.text.request.clone()).collect() };
    assert_eq!(requests(&parts), requests(&before));
    let prefix = target.request_prefix(two).unwrap().unwrap();
    assert!(prefix.len() > 4000, "{}", prefix.len());
    let (_, rows) = raw(&target, two);
    assert!(rows.iter().all(|r| r.1));
    assert!(target.verify().unwrap().clean());
}

#[test]
fn the_common_start_of_requests_is_cut_at_a_character() {
    use super::prefixes::common_prefix;
    assert_eq!(common_prefix(["abcé1", "abcé2"].into_iter()), Some("abcé"));
    // é and è share their first byte: the cut goes back to the character before.
    assert_eq!(common_prefix(["abé", "abè"].into_iter()), Some("ab"));
    assert_eq!(common_prefix(["abc", "abd", "xbc"].into_iter()), None);
    assert_eq!(common_prefix(["alone"].into_iter()), None);
    assert_eq!(common_prefix(["same", "same"].into_iter()), Some("same"));
}
