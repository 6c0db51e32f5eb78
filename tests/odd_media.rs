//! Open and write errors say what actually went wrong, through the real binary: a full disk, a
//! folder the user may not enter, a database another program holds locked. None of them is
//! called corrupt, none suggests moving the file aside, and nothing already saved is lost.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails by panicking"
)]

use crate::support;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use support::cli::{Run, in_mount_namespace, run};

/// Runs `script` (sh) in a private mount namespace as (mapped) root.
async fn in_namespace(home: &Path, script: &str) -> Run {
    in_mount_namespace(home, script, true).await
}

fn never_called_corrupt(out: &Run) {
    assert!(!out.stderr.contains("move it aside"), "{out}");
    assert!(
        !out.stderr.contains("not a readable iching database"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_disk_is_called_full_and_what_was_saved_still_reads() {
    let home = tempfile::tempdir().unwrap();
    // A 2 MiB disk: one reading fits; then a file fills the rest; the next cast cannot be
    // saved; history still lists the first.
    let script = r#"
        set -e
        mount -t tmpfs -o size=2m,mode=700 tmpfs "$ICHING_HOME"
        "$ICHING" cast "Is the harvest near?" --lines 9,8,7,7,6,8 --provider offline >/dev/null
        cat /dev/zero > "$ICHING_HOME/filler" 2>/dev/null || true
        set +e
        "$ICHING" cast "And the next one?" --lines 7,7,7,7,7,7 --provider offline >/dev/null
        echo "cast exit $?" >&2
        "$ICHING" history --json
    "#;
    let out = in_namespace(home.path(), script).await;
    assert!(out.stderr.contains("is full"), "{out}");
    assert!(
        !out.stderr.contains("cast exit 0"),
        "the second cast claimed success: {out}"
    );
    never_called_corrupt(&out);
    assert!(
        out.stdout.contains("Is the harvest near?"),
        "the first reading still lists: {out}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_folder_the_user_may_not_enter_is_a_permission_error() {
    let root = tempfile::tempdir().unwrap();
    let home = root.path().join("home");
    let out = run(&home, &["cast", "Q?", "--provider", "offline"], "", &[]).await;
    assert_eq!(out.code, Some(0), "{out}");
    // Root may enter anything: as root the binary runs as nobody, and the folder (with what is
    // in it) is handed to nobody first, so it is that user's own folder they may not enter.
    let as_root =
        std::fs::metadata("/proc/self").is_ok_and(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0);
    if as_root {
        for entry in std::fs::read_dir(&home).unwrap() {
            std::os::unix::fs::chown(entry.unwrap().path(), Some(65534), Some(65534)).unwrap();
        }
        std::os::unix::fs::chown(&home, Some(65534), Some(65534)).unwrap();
        std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o000)).unwrap();
    let mut command = if as_root {
        let mut c = tokio::process::Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(env!("CARGO_BIN_EXE_iching"));
        c
    } else {
        tokio::process::Command::new(env!("CARGO_BIN_EXE_iching"))
    };
    let output = command
        .arg("history")
        .env_clear()
        .env("ICHING_HOME", &home)
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .unwrap();
    std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o700)).unwrap();
    if as_root {
        for entry in std::fs::read_dir(&home).unwrap() {
            std::os::unix::fs::chown(entry.unwrap().path(), Some(0), Some(0)).unwrap();
        }
        std::os::unix::fs::chown(&home, Some(0), Some(0)).unwrap();
    }
    let out = Run::from(output);
    assert_ne!(out.code, Some(0), "{out}");
    assert!(out.stderr.contains("permission denied"), "{out}");
    never_called_corrupt(&out);
    // Nothing was lost.
    let out = run(&home, &["history", "--json"], "", &[]).await;
    assert_eq!(out.json().as_array().map(Vec::len), Some(1), "{out}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_database_another_program_holds_locked_is_called_locked() {
    let home = tempfile::tempdir().unwrap();
    let out = run(
        home.path(),
        &["cast", "Q?", "--provider", "offline"],
        "",
        &[],
    )
    .await;
    assert_eq!(out.code, Some(0), "{out}");
    // Another program (a sqlite3 shell, a backup) holds the write lock.
    let conn = rusqlite::Connection::open(home.path().join("iching.db")).unwrap();
    conn.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let out = run(
        home.path(),
        &["cast", "Another?", "--provider", "offline"],
        "",
        &[],
    )
    .await;
    conn.execute_batch("ROLLBACK").unwrap();
    assert_ne!(out.code, Some(0), "{out}");
    assert!(out.stderr.contains("locked by another program"), "{out}");
    never_called_corrupt(&out);
}
