//! `backup`, `verify` and `restore` through the real binary: backups taken while a cast is
//! writing are consistent and restore into a fresh home; `verify` names each damaged reading
//! and exits 1; a backup never overwrites a file; a passphrase backup opens with its passphrase.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test or tool fails by panicking"
)]

use crate::support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use support::cli::{Run, command, guard, run};
use support::fake_openai::{FakeOpenAi, Fault, ServerConfig};

async fn ok(home: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let out = run(home, args, "sk-test", env).await;
    assert_eq!(out.code, Some(0), "{args:?}: {out}");
    out
}

async fn history(home: &Path) -> Vec<serde_json::Value> {
    ok(home, &["history", "--json"], &[])
        .await
        .json()
        .as_array()
        .cloned()
        .unwrap()
}

/// The stored sections of reading `id`, read the way another process would.
fn stored_parts(db: &Path, id: i64) -> i64 {
    let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY;
    rusqlite::Connection::open_with_flags(db, flags)
        .and_then(|c| {
            c.query_row(
                "SELECT count(*) FROM reading_parts WHERE reading_id = ?1",
                [id],
                |r| r.get(0),
            )
        })
        .unwrap_or(0)
}

fn offline_cast(question: &str) -> Vec<&str> {
    vec![
        "cast",
        question,
        "--lines",
        "9,8,7,7,6,8",
        "--provider",
        "offline",
    ]
}

/// A fresh, empty home folder inside `root`.
fn fresh(root: &Path, name: &str) -> PathBuf {
    let home = root.join(name);
    std::fs::create_dir(&home).unwrap();
    std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o700)).unwrap();
    home
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backups_taken_while_a_cast_writes_are_whole_and_restore_into_a_fresh_home() {
    let root = tempfile::tempdir().unwrap();
    let home = fresh(root.path(), "home");
    ok(&home, &offline_cast("Kept whole?"), &[]).await;
    // The ten sections of the second reading finish one by one over about two seconds.
    let server = FakeOpenAi::start(ServerConfig::default());
    server.push_faults(
        (1..=10)
            .map(|i| Fault::Latency(Duration::from_millis(200 * i)))
            .collect::<Vec<_>>(),
    );
    let url = server.base_url();
    let mut caster = command(
        &home,
        &[
            "cast",
            "Written while copied?",
            "--lines",
            "9,8,7,7,6,8",
            "--provider",
            "openai",
            "--base-url",
            &url,
            "--model",
            "fake-1",
        ],
        "sk-test",
        &[],
    )
    .stdout(std::process::Stdio::null())
    .stderr(std::process::Stdio::null())
    .spawn()
    .unwrap();
    let db = home.join("iching.db");
    // Back up again and again while the sections land.
    let mut backups = Vec::new();
    guard(120, async {
        while stored_parts(&db, 2) == 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        while caster.try_wait().unwrap().is_none() || backups.is_empty() {
            let file = root.path().join(format!("backup-{}.db", backups.len()));
            let out = ok(&home, &["backup", file.to_str().unwrap()], &[]).await;
            assert!(out.stdout.contains("iching.key"), "{out}");
            let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
            backups.push(file);
        }
    })
    .await;
    assert!(caster.wait().await.unwrap().success());
    assert!(backups.len() >= 2, "only {} backups", backups.len());
    let last = root.path().join("after.db");
    ok(&home, &["backup", last.to_str().unwrap()], &[]).await;
    backups.push(last.clone());

    let key = home.join("iching.key");
    for (i, file) in backups.iter().enumerate() {
        let restored = fresh(root.path(), &format!("restored-{i}"));
        let args = [
            "restore",
            file.to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
        ];
        let out = ok(&restored, &args, &[]).await;
        assert!(out.stdout.starts_with("Added 2 readings"), "{out}");
        let verified = ok(&restored, &["verify"], &[]).await;
        assert!(verified.stdout.contains("All intact"), "{verified}");
        let h = history(&restored).await;
        assert_eq!(h[1]["question"], "Kept whole?");
        assert_eq!(h[1]["status"], "complete");
        assert_eq!(h[0]["question"], "Written while copied?");
        let done = h[0]["sections_done"].as_u64().unwrap();
        if file == &last {
            assert_eq!((h[0]["status"].as_str(), done), (Some("complete"), 10));
        } else {
            // Copied mid-run: the sections saved by then, the reading interrupted.
            assert!(h[0]["status"] == "interrupted" || done == 10, "{}", h[0]);
        }
        let shown = ok(&restored, &["show", "1"], &[]).await;
        assert!(shown.stdout.contains("Kept whole?"), "{shown}");
        // Restoring the same backup again adds nothing.
        let again = ok(&restored, &args, &[]).await;
        assert!(
            again.stdout.starts_with("Added no readings from")
                && again.stdout.contains("2 were already here"),
            "{again}"
        );
    }
    // Into the store it was taken from: everything is already there.
    let out = ok(&home, &["restore", last.to_str().unwrap()], &[]).await;
    assert!(out.stdout.contains("2 were already here"), "{out}");
    assert_eq!(history(&home).await.len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_backup_never_overwrites_and_restore_refuses_what_is_not_a_backup() {
    let root = tempfile::tempdir().unwrap();
    let home = fresh(root.path(), "home");
    ok(&home, &offline_cast("One"), &[]).await;
    let taken = root.path().join("taken.db");
    std::fs::write(&taken, b"precious").unwrap();
    let out = run(&home, &["backup", taken.to_str().unwrap()], "", &[]).await;
    assert_eq!(out.code, Some(2), "{out}");
    assert!(out.stderr.contains("already exists"), "{out}");
    assert_eq!(std::fs::read(&taken).unwrap(), b"precious");
    let missing = root.path().join("no-such-dir/backup.db");
    let out = run(&home, &["backup", missing.to_str().unwrap()], "", &[]).await;
    assert_eq!(out.code, Some(1), "{out}");
    // The error names the backup's path, not --home.
    assert!(
        out.stderr
            .contains(&format!("cannot write the backup {}", missing.display())),
        "{out}"
    );
    assert!(!out.stderr.contains("--home"), "{out}");
    for (file, why) in [
        (
            taken.to_str().unwrap(),
            "not an iching backup (file is not a database)",
        ),
        (
            "/nonexistent/backup.db",
            "there is no file /nonexistent/backup.db",
        ),
        (root.path().to_str().unwrap(), "it is not a file"),
    ] {
        let out = run(&home, &["restore", file], "", &[]).await;
        assert_eq!(out.code, Some(2), "{out}");
        assert!(out.stderr.contains(why), "{out}");
    }
    // A backup sealed with another store's key needs that key.
    let other = fresh(root.path(), "other");
    ok(&other, &offline_cast("Two"), &[]).await;
    let theirs = root.path().join("theirs.db");
    ok(&other, &["backup", theirs.to_str().unwrap()], &[]).await;
    let out = run(&home, &["restore", theirs.to_str().unwrap()], "", &[]).await;
    assert_eq!(out.code, Some(2), "{out}");
    assert!(out.stderr.contains("--key FILE"), "{out}");
    assert_eq!(history(&home).await.len(), 1, "nothing was added");

    // The lost store's key copied into a new home first: restore says how it takes that key.
    let new_home = fresh(root.path(), "new");
    let copied = new_home.join("iching.key");
    std::fs::copy(other.join("iching.key"), &copied).unwrap();
    let theirs = theirs.to_str().unwrap();
    let out = run(&new_home, &["restore", theirs], "", &[]).await;
    assert_eq!(out.code, Some(2), "{out}");
    assert!(
        out.stderr.contains("holds a key file but no store")
            && out
                .stderr
                .contains(&format!("mv {} KEYFILE", copied.display()))
            && out.stderr.contains(&format!(
                "iching --home {} restore {theirs} --key KEYFILE",
                new_home.display()
            )),
        "{out}"
    );
    assert!(!new_home.join("iching.db").exists(), "no store was made");
    // Following it works.
    let moved = root.path().join("their.key");
    std::fs::rename(&copied, &moved).unwrap();
    let out = ok(
        &new_home,
        &["restore", theirs, "--key", moved.to_str().unwrap()],
        &[],
    )
    .await;
    assert!(out.stdout.starts_with("Added 1 reading"), "{out}");
}

#[tokio::test(flavor = "multi_thread")]
async fn verify_names_each_damaged_reading_and_restore_leaves_them_out() {
    let root = tempfile::tempdir().unwrap();
    let home = fresh(root.path(), "home");
    for q in ["First", "Second", "Third"] {
        ok(&home, &offline_cast(q), &[]).await;
    }
    let clean = ok(&home, &["verify", "--json"], &[]).await.json();
    assert_eq!(clean["intact"], true);
    assert_eq!(clean["readings"], 3);
    assert_eq!(clean["sections"], 30);
    // 3 questions, 3 shared request prefixes, and per section a request, a response and its
    // paragraphs.
    assert_eq!(clean["sealed_values"], 3 + 3 + 30 * 3);
    let conn = rusqlite::Connection::open(home.join("iching.db")).unwrap();
    conn.execute_batch(
        "UPDATE readings SET primary_hex = 1 WHERE id = 1;
         UPDATE reading_parts SET completion_tokens = 1 WHERE reading_id = 3 AND section_id = 1;",
    )
    .unwrap();
    drop(conn);
    let out = run(&home, &["verify"], "", &[]).await;
    assert_eq!(out.code, Some(1), "{out}");
    assert!(out.stdout.contains("Checked 3 readings"), "{out}");
    assert!(out.stdout.contains("2 readings are damaged"), "{out}");
    assert!(
        out.stdout
            .contains("1: integrity check failed for reading 1 (its cast and status"),
        "{out}"
    );
    assert!(
        out.stdout
            .contains("3: integrity check failed for reading 3 (its record of section 1"),
        "{out}"
    );
    let json = run(&home, &["verify", "--json"], "", &[]).await.json();
    assert_eq!(json["intact"], false);
    let ids: Vec<i64> = json["damaged"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [1, 3]);

    let file = root.path().join("backup.db");
    ok(&home, &["backup", file.to_str().unwrap()], &[]).await;
    let restored = fresh(root.path(), "restored");
    let key = home.join("iching.key");
    let out = run(
        &restored,
        &[
            "restore",
            file.to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
        ],
        "",
        &[],
    )
    .await;
    assert_eq!(out.code, Some(1), "{out}");
    assert!(
        out.stdout.starts_with("Added 1 reading (new id 1)"),
        "{out}"
    );
    assert!(
        out.stdout.contains("Left out reading 1 of the backup"),
        "{out}"
    );
    assert!(
        out.stdout.contains("Left out reading 3 of the backup"),
        "{out}"
    );
    let h = history(&restored).await;
    assert_eq!(h.len(), 1);
    assert_eq!(h[0]["question"], "Second");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_passphrase_backup_restores_with_its_passphrase() {
    let root = tempfile::tempdir().unwrap();
    let home = fresh(root.path(), "home");
    let sealed = [("ICHING_PASSPHRASE", "stalks and coins")];
    ok(&home, &offline_cast("Behind a passphrase"), &sealed).await;
    let file = root.path().join("backup.db");
    let out = ok(&home, &["backup", file.to_str().unwrap()], &sealed).await;
    assert!(
        out.stdout.contains("opens with the store's passphrase"),
        "{out}"
    );
    let restored = fresh(root.path(), "restored");
    let args = ["restore", file.to_str().unwrap()];
    let out = run(&restored, &args, "", &[]).await;
    assert_eq!(out.code, Some(2), "{out}");
    assert!(out.stderr.contains("ICHING_BACKUP_PASSPHRASE"), "{out}");
    let wrong = [("ICHING_BACKUP_PASSPHRASE", "stalks and coin")];
    let out = run(&restored, &args, "", &wrong).await;
    assert_eq!(out.code, Some(2), "{out}");
    assert!(
        out.stderr
            .contains("the passphrase does not open the backup"),
        "{out}"
    );
    assert!(
        !out.stderr.contains("stalks"),
        "the passphrase is never shown: {out}"
    );
    let right = [("ICHING_BACKUP_PASSPHRASE", "stalks and coins")];
    let out = ok(&restored, &args, &right).await;
    assert!(out.stdout.starts_with("Added 1 reading"), "{out}");
    let h = history(&restored).await;
    assert_eq!(h[0]["question"], "Behind a passphrase");
    // The restored home is sealed with its own key file, not the passphrase.
    assert!(restored.join("iching.key").exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_backup_edited_and_dressed_up_as_an_older_schema_is_refused_and_nothing_is_added() {
    // The attack of a copied, edited store: forged figures, the newer tables dropped, an older
    // schema claimed, whose migration once signed whatever the file held.
    let root = tempfile::tempdir().unwrap();
    let home = fresh(root.path(), "home");
    ok(&home, &offline_cast("Should I go?"), &[]).await;
    let file = root.path().join("backup.db");
    ok(&home, &["backup", file.to_str().unwrap()], &[]).await;
    let conn = rusqlite::Connection::open(&file).unwrap();
    conn.execute_batch(
        "UPDATE readings SET lines = '9,9,9,9,9,9', primary_hex = 1, resulting_hex = 2;
         DROP TABLE followups; DROP TABLE notes; PRAGMA user_version = 4;",
    )
    .unwrap();
    drop(conn);
    let restored = fresh(root.path(), "restored");
    let key = home.join("iching.key");
    let out = run(
        &restored,
        &[
            "restore",
            file.to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
        ],
        "",
        &[],
    )
    .await;
    assert_ne!(out.code, Some(0), "{out}");
    assert!(out.stderr.contains("schema 4"), "{out}");
    assert!(out.stderr.contains("does not migrate"), "{out}");
    assert!(!restored.join("iching.db").exists() || history(&restored).await.is_empty());
    // And the store it came from is untouched and intact.
    let verified = ok(&home, &["verify", "--json"], &[]).await.json();
    assert_eq!(verified["intact"], true);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_path_or_name_with_escape_sequences_is_shown_made_visible_in_every_message() {
    let root = tempfile::tempdir().unwrap();
    let home = fresh(root.path(), "home");
    ok(&home, &offline_cast("Will it hold?"), &[]).await;
    let odd = |name: &str| root.path().join(name).to_str().unwrap().to_owned();
    let backup = odd("x\u{1b}]0;pwned\u{7}.db");
    ok(&home, &["backup", &backup], &[]).await;
    let other = fresh(root.path(), "other");
    let missing_home = odd("h\u{1b}]0;p\u{7}");
    let cases: Vec<(Run, &str)> = vec![
        (
            run(&home, &["backup", &backup], "", &[]).await,
            "already exists",
        ),
        (
            run(&other, &["restore", &odd("nope\u{1b}[2J.db")], "", &[]).await,
            "there is no file",
        ),
        (
            run(
                &other,
                &["restore", &backup, "--key", &odd("k\u{1b}]0;p\u{7}")],
                "",
                &[],
            )
            .await,
            "given with --key does not exist",
        ),
        (
            run(&home, &["--home", &missing_home, "history"], "", &[]).await,
            "does not exist",
        ),
        (
            run(
                &home,
                &["cast", "Q?", "--provider", "yy\u{1b}]0;pwned\u{7}"],
                "",
                &[],
            )
            .await,
            "unknown provider",
        ),
    ];
    for (out, says) in cases {
        assert_eq!(out.code, Some(2), "{out}");
        assert!(out.stderr.contains(says), "{says:?}: {out}");
        assert!(
            !out.stderr.contains('\u{1b}'),
            "a raw escape: {:?}",
            out.stderr
        );
        assert!(!out.stderr.contains('\u{7}'), "a raw BEL: {:?}", out.stderr);
        assert!(
            out.stderr.contains("\\x1b") || out.stderr.contains("\\u{1b}"),
            "made visible: {out}"
        );
        assert!(!out.stderr.contains("to start fresh"), "{out}");
    }
}
