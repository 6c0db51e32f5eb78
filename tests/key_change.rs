//! `iching key rotate` and `iching passphrase set | change | remove` through the real binary,
//! killed with SIGKILL at each step of the change (test builds pause where
//! `ICHING_TEST_PAUSE` says): the store always opens afterwards with the old key or the new
//! one, every reading intact.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test or tool fails by panicking"
)]

use crate::support;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Stdio;

use support::cli::{Run, command, guard, run};
use tokio::io::{AsyncBufReadExt, BufReader};

const QUESTIONS: [&str; 3] = [
    "Rotate the first?",
    "Rotate the second?",
    "Rotate the third?",
];

async fn ok(home: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let out = run(home, args, "", env).await;
    assert_eq!(out.code, Some(0), "{args:?}: {out}");
    out
}

/// A home with three offline readings.
async fn home_with_readings(env: &[(&str, &str)]) -> tempfile::TempDir {
    let home = tempfile::tempdir().unwrap();
    std::fs::set_permissions(home.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    for q in QUESTIONS {
        let args = ["cast", q, "--lines", "9,8,7,7,6,8", "--provider", "offline"];
        ok(home.path(), &args, env).await;
    }
    home
}

/// Every reading lists with its question and `verify` finds all intact.
async fn all_there(home: &Path, env: &[(&str, &str)]) {
    let h = ok(home, &["history", "--json"], env).await.json();
    let questions: Vec<&str> = h
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["question"].as_str().unwrap())
        .rev()
        .collect();
    assert_eq!(questions, QUESTIONS);
    let v = ok(home, &["verify", "--json"], env).await.json();
    assert_eq!(v["intact"], true, "{v}");
    assert_eq!(v["readings"], 3);
}

/// Runs `args`, waits until it pauses at `phase`, and kills it with SIGKILL.
async fn kill_at(home: &Path, args: &[&str], env: &[(&str, &str)], phase: &str) {
    let mut env = env.to_vec();
    env.push(("ICHING_TEST_PAUSE", phase));
    let mut child = command(home, args, "", &env)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    guard(120, async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if line == format!("paused at {phase}") {
                return;
            }
        }
        panic!("{args:?} ended without pausing at {phase}");
    })
    .await;
    child.kill().await.unwrap();
    let status = child.wait().await.unwrap();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(9)
    );
}

fn key_of(home: &Path) -> Option<Vec<u8>> {
    std::fs::read(home.join("iching.key")).ok()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rotation_killed_at_any_step_leaves_a_store_that_opens() {
    for (phase, rotated) in [
        ("key-written", false),
        ("resealing", false),
        ("committed", true),
    ] {
        let home = home_with_readings(&[]).await;
        let old = key_of(home.path()).unwrap();
        kill_at(home.path(), &["key", "rotate", "--yes"], &[], phase).await;
        // The next command opens it: with the old key, or the new one put in place.
        all_there(home.path(), &[]).await;
        let now = key_of(home.path()).unwrap();
        assert_eq!(now != old, rotated, "{phase}");
        assert!(
            !home.path().join("iching.key.new").exists(),
            "{phase}: the staged key is gone"
        );
        let mode = std::fs::metadata(home.path().join("iching.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        // And a rotation run to its end works after that.
        let out = ok(home.path(), &["key", "rotate", "--yes"], &[]).await;
        assert!(out.stdout.starts_with("Re-sealed 3 readings"), "{out}");
        assert_ne!(key_of(home.path()).unwrap(), now);
        all_there(home.path(), &[]).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn passphrase_set_change_and_remove_each_survive_a_kill_and_then_work() {
    let old_pass = [("ICHING_PASSPHRASE", "first passphrase")];
    let new_pass = [("ICHING_PASSPHRASE", "second passphrase")];
    // set: killed before it commits, the key file still opens it; after, the passphrase does.
    for (phase, committed) in [("resealing", false), ("committed", true)] {
        let home = home_with_readings(&[]).await;
        let set = [("ICHING_NEW_PASSPHRASE", "first passphrase")];
        kill_at(home.path(), &["passphrase", "set"], &set, phase).await;
        if committed {
            let out = run(home.path(), &["history"], "", &[]).await;
            assert_eq!(out.code, Some(2), "{out}");
            assert!(out.stderr.contains("sealed with a passphrase"), "{out}");
            all_there(home.path(), &old_pass).await;
            // The key file the killed `set` did not get to remove is pointed out, not used.
            let out = ok(home.path(), &["history"], &old_pass).await;
            assert!(out.stderr.contains("is not used"), "{out}");
        } else {
            all_there(home.path(), &[]).await;
        }
    }
    // change, killed at each step, then run to its end; then remove.
    let home = home_with_readings(&[]).await;
    let set = [("ICHING_NEW_PASSPHRASE", "first passphrase")];
    ok(home.path(), &["passphrase", "set"], &set).await;
    assert!(key_of(home.path()).is_none(), "the key file was removed");
    all_there(home.path(), &old_pass).await;
    let change = [
        ("ICHING_PASSPHRASE", "first passphrase"),
        ("ICHING_NEW_PASSPHRASE", "second passphrase"),
    ];
    kill_at(home.path(), &["passphrase", "change"], &change, "resealing").await;
    all_there(home.path(), &old_pass).await;
    kill_at(home.path(), &["passphrase", "change"], &change, "committed").await;
    all_there(home.path(), &new_pass).await;
    let out = run(home.path(), &["history"], "", &old_pass).await;
    assert_eq!(out.code, Some(2), "{out}");
    assert!(out.stderr.contains("passphrase does not open"), "{out}");
    // remove, killed once the new key file is written but before the commit, then after it.
    kill_at(
        home.path(),
        &["passphrase", "remove"],
        &new_pass,
        "key-written",
    )
    .await;
    all_there(home.path(), &new_pass).await;
    assert!(!home.path().join("iching.key.new").exists());
    kill_at(
        home.path(),
        &["passphrase", "remove"],
        &new_pass,
        "committed",
    )
    .await;
    all_there(home.path(), &[]).await;
    assert_eq!(key_of(home.path()).unwrap().len(), 32);
    let out = run(home.path(), &["history"], "", &new_pass).await;
    assert_eq!(out.code, Some(2), "{out}");
    assert!(out.stderr.contains("not a passphrase"), "{out}");
}

#[tokio::test(flavor = "multi_thread")]
async fn key_commands_refuse_what_does_not_apply_and_never_show_a_passphrase() {
    let home = home_with_readings(&[]).await;
    for (args, env, said) in [
        (
            &["passphrase", "change"][..],
            &[][..],
            "passphrase set” gives it one",
        ),
        (&["passphrase", "remove"], &[], "not a passphrase"),
        (&["passphrase", "set"], &[], "set ICHING_NEW_PASSPHRASE"),
        (
            &["passphrase", "set"],
            &[("ICHING_NEW_PASSPHRASE", "short")],
            "at least 8 characters",
        ),
        (
            &["passphrase", "set"],
            &[("ICHING_NEW_PASSPHRASE", "        ")],
            "invisible characters alone guards nothing",
        ),
        (
            &["passphrase", "set"],
            &[("ICHING_NEW_PASSPHRASE", "12121212")],
            "at least 4 different characters",
        ),
        (&["key", "wobble"], &[], "unrecognized subcommand"),
    ] {
        let out = run(home.path(), args, "", env).await;
        assert_eq!(out.code, Some(2), "{args:?}: {out}");
        assert!(out.stderr.contains(said), "{args:?}: {out}");
    }
    let set = [("ICHING_NEW_PASSPHRASE", "a secret phrase")];
    let out = ok(home.path(), &["passphrase", "set"], &set).await;
    let pass = [("ICHING_PASSPHRASE", "a secret phrase")];
    let again = run(home.path(), &["passphrase", "set"], "", &pass).await;
    assert_eq!(again.code, Some(2), "{again}");
    assert!(again.stderr.contains("already has a passphrase"), "{again}");
    let rotate = run(home.path(), &["key", "rotate", "--yes"], "", &pass).await;
    assert_eq!(rotate.code, Some(2), "{rotate}");
    assert!(rotate.stderr.contains("passphrase change"), "{rotate}");
    for shown in [&out, &again, &rotate] {
        assert!(!shown.stdout.contains("secret phrase"), "{shown}");
        assert!(!shown.stderr.contains("secret phrase"), "{shown}");
    }
    let log = std::fs::read_to_string(home.path().join("iching.log")).unwrap_or_default();
    assert!(
        !log.contains("secret phrase"),
        "the passphrase reached the log"
    );
}
