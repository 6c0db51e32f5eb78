//! The store under contention and on odd media, through the real binary: a reading another
//! process is generating cannot be deleted; processes creating a store on a fresh home at once
//! all succeed; a read-only home still lists, shows and counts, and writing commands say why
//! they cannot; a `--home` that is a file or a typo is a usage error for reading commands.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test or tool fails by panicking"
)]

use crate::support;

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::Duration;

use support::cli::{Run, command, guard, in_mount_namespace, run};
use support::fake_openai::{FakeOpenAi, ServerConfig};

/// The readings `history --json` lists under `home`.
async fn history(home: &Path) -> Vec<serde_json::Value> {
    let out = run(home, &["history", "--json"], "", &[]).await;
    assert_eq!(out.code, Some(0), "{out}");
    out.json().as_array().cloned().unwrap_or_default()
}

fn cast_offline(question: &str) -> Vec<&str> {
    vec![
        "cast",
        question,
        "--lines",
        "9,8,7,7,6,8",
        "--provider",
        "offline",
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn delete_refuses_a_reading_another_process_is_generating() {
    // The model never answers in the test's time: the reading stays `running`.
    let server = FakeOpenAi::start(ServerConfig {
        latency: Duration::from_secs(3600),
        ..ServerConfig::default()
    });
    let home = tempfile::tempdir().unwrap();
    let url = server.base_url();
    let mut caster = command(
        home.path(),
        &[
            "cast",
            "Will the venture hold?",
            "--lines",
            "9,8,7,7,6,8",
            "--provider",
            "openai",
            "--base-url",
            &url,
            "--model",
            "fake-model",
        ],
        "sk-test",
        &[],
    )
    .spawn()
    .unwrap();
    let id = guard(120, async {
        loop {
            if let Ok(out) = tokio::time::timeout(Duration::from_secs(30), async {
                run(home.path(), &["history", "--json"], "", &[]).await
            })
            .await
                && out.code == Some(0)
                && let Some(first) = out.json().as_array().and_then(|a| a.first().cloned())
                && first["status"] == "running"
            {
                return first["id"].as_i64().unwrap();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    let id = id.to_string();
    let out = run(home.path(), &["delete", &id, "--yes"], "", &[]).await;
    assert_eq!(out.code, Some(2), "{out}");
    assert!(out.stderr.contains("being generated right now"), "{out}");
    assert_eq!(
        history(home.path()).await.len(),
        1,
        "the reading is still there"
    );
    // Once its process is gone (killed: the reading is interrupted), it can be deleted.
    caster.kill().await.unwrap();
    let out = run(home.path(), &["delete", &id, "--yes"], "", &[]).await;
    assert_eq!(out.code, Some(0), "{out}");
    assert!(history(home.path()).await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn ten_casts_started_together_on_a_fresh_home_all_succeed() {
    let root = tempfile::tempdir().unwrap();
    let home = root.path().join("fresh");
    let questions: Vec<String> = (1..=10).map(|i| format!("Question number {i}?")).collect();
    let runs: Vec<Run> = guard(300, async {
        let args: Vec<Vec<&str>> = questions.iter().map(|q| cast_offline(q)).collect();
        let children = args.iter().map(|a| run(&home, a, "", &[]));
        futures_util::future::join_all(children).await
    })
    .await;
    for out in &runs {
        assert_eq!(out.code, Some(0), "{out}");
    }
    let listed = history(&home).await;
    assert_eq!(listed.len(), 10);
    assert!(
        listed.iter().all(|r| r["status"] == "complete"),
        "{listed:?}"
    );
    let mut asked: Vec<String> = listed
        .iter()
        .map(|r| r["question"].as_str().unwrap().to_owned())
        .collect();
    asked.sort();
    let mut expected = questions.clone();
    expected.sort();
    assert_eq!(asked, expected, "every process wrote into the one store");
}

/// Whether the tests run as root (who may write anything, so modes cannot make a folder
/// read-only; a read-only bind mount in a private mount namespace does).
fn root() -> bool {
    std::fs::metadata("/proc/self").map_or(1, |m| m.uid()) == 0
}

/// Runs the binary with `args` while `home` is read-only: for a normal user by taking the write
/// bits away, for root inside a private mount namespace with `home` bind-mounted read-only.
async fn read_only(home: &Path, args: &[&str]) -> Run {
    if !root() {
        let set = |mode: u32| {
            for entry in std::fs::read_dir(home).unwrap() {
                let path = entry.unwrap().path();
                let mut p = std::fs::metadata(&path).unwrap().permissions();
                std::os::unix::fs::PermissionsExt::set_mode(&mut p, mode);
                std::fs::set_permissions(&path, p).unwrap();
            }
            let mut p = std::fs::metadata(home).unwrap().permissions();
            std::os::unix::fs::PermissionsExt::set_mode(&mut p, mode | 0o100);
            std::fs::set_permissions(home, p).unwrap();
        };
        set(0o400);
        let out = run(home, args, "", &[]).await;
        set(0o600);
        return out;
    }
    let quoted: Vec<String> = args
        .iter()
        .map(|a| format!("'{}'", a.replace('\'', "'\\''")))
        .collect();
    let script = format!(
        "mount --bind -o ro \"$ICHING_HOME\" \"$ICHING_HOME\" && exec \"$ICHING\" {}",
        quoted.join(" ")
    );
    in_mount_namespace(home, &script, false).await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_read_only_home_still_lists_shows_and_counts_and_writes_say_why_not() {
    let home = tempfile::tempdir().unwrap();
    let out = run(home.path(), &cast_offline("Is the harvest near?"), "", &[]).await;
    assert_eq!(out.code, Some(0), "{out}");
    let before: Vec<(String, Vec<u8>)> = std::fs::read_dir(home.path())
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            (p.display().to_string(), std::fs::read(&p).unwrap())
        })
        .collect();

    let out = read_only(home.path(), &["history", "--json"]).await;
    assert_eq!(out.code, Some(0), "{out}");
    let listed = out.json();
    assert_eq!(listed[0]["question"], "Is the harvest near?", "{out}");
    let out = read_only(home.path(), &["show", "1"]).await;
    assert_eq!(out.code, Some(0), "{out}");
    assert!(out.stdout.contains("Is the harvest near?"), "{out}");
    let out = read_only(home.path(), &["stats", "1"]).await;
    assert_eq!(out.code, Some(0), "{out}");

    for args in [
        cast_offline("Another?"),
        vec!["delete", "1", "--yes"],
        vec!["retry", "1", "--provider", "offline"],
    ] {
        let out = read_only(home.path(), &args).await;
        assert_eq!(out.code, Some(2), "{args:?}: {out}");
        assert!(out.stderr.contains("read-only"), "{args:?}: {out}");
        assert!(
            !out.stderr.contains("move it aside"),
            "good data is never called corrupt: {out}"
        );
    }
    // Nothing changed on disk.
    for (path, bytes) in before {
        assert_eq!(std::fs::read(&path).unwrap(), bytes, "{path} changed");
    }
}

#[tokio::test]
async fn a_home_that_is_a_file_or_a_typo_is_a_usage_error_for_reading_commands() {
    let root = tempfile::tempdir().unwrap();
    let typo = root.path().join("no-such-folder");
    for args in [
        vec!["history"],
        vec!["show", "1"],
        vec!["stats"],
        vec!["delete", "1", "--yes"],
    ] {
        let out = run(&typo, &args, "", &[]).await;
        assert_eq!(out.code, Some(2), "{args:?}: {out}");
        assert!(out.stderr.contains("does not exist"), "{args:?}: {out}");
        assert!(!typo.exists(), "{args:?} created the typo'd home");
    }
    let file = root.path().join("a-file");
    std::fs::write(&file, "not a folder").unwrap();
    for args in [vec!["history"], cast_offline("Q?")] {
        let out = run(&file, &args, "", &[]).await;
        assert_eq!(out.code, Some(2), "{args:?}: {out}");
        assert!(out.stderr.contains("is a file"), "{args:?}: {out}");
    }
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "not a folder");
    // A folder of other things with no store in it (`--home ~`) is a wrong path too: nothing
    // is left among its files. An empty folder is a new home with no readings yet.
    let busy = root.path().join("documents");
    std::fs::create_dir(&busy).unwrap();
    std::fs::write(busy.join("letter.txt"), "dear").unwrap();
    for args in [vec!["history"], vec!["show", "1"], vec!["verify"]] {
        let out = run(&busy, &args, "", &[]).await;
        assert_eq!(out.code, Some(2), "{args:?}: {out}");
        assert!(
            out.stderr.contains("holds no iching store"),
            "{args:?}: {out}"
        );
    }
    let names: Vec<_> = std::fs::read_dir(&busy)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["letter.txt"], "nothing was left there");
    // An empty folder is a new home, and so is one holding only what iching writes there or
    // hidden entries.
    let empty = root.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let out = run(&empty, &["history"], "", &[]).await;
    assert_eq!(out.code, Some(0), "{out}");
    assert!(out.stdout.starts_with("No readings found"), "{out}");
    for name in [
        "config.toml",
        ".DS_Store",
        "iching-7.md",
        "iching-backup.db",
    ] {
        let home = root.path().join(format!("only-{name}"));
        std::fs::create_dir(&home).unwrap();
        std::fs::write(home.join(name), "").unwrap();
        let out = run(&home, &["history"], "", &[]).await;
        assert_eq!(out.code, Some(0), "{name}: {out}");
    }
    // `restore` makes a store where its backup was copied.
    let first = root.path().join("first");
    std::fs::create_dir(&first).unwrap();
    assert_eq!(
        run(&first, &cast_offline("Kept?"), "", &[]).await.code,
        Some(0)
    );
    let moved = root.path().join("moved");
    std::fs::create_dir(&moved).unwrap();
    let backup = moved.join("backup-of-first.db");
    let out = run(&first, &["backup", backup.to_str().unwrap()], "", &[]).await;
    assert_eq!(out.code, Some(0), "{out}");
    let key = first.join("iching.key");
    let args = [
        "restore",
        backup.to_str().unwrap(),
        "--key",
        key.to_str().unwrap(),
    ];
    let out = run(&moved, &args, "", &[]).await;
    assert_eq!(out.code, Some(0), "{out}");
    assert!(out.stdout.starts_with("Added 1 reading"), "{out}");
    // A command that writes makes a new home where it is told to.
    let out = run(&typo, &cast_offline("First reading?"), "", &[]).await;
    assert_eq!(out.code, Some(0), "{out}");
    assert!(typo.join("iching.db").exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_schema_7_store_on_a_read_only_medium_shows_and_verifies_unmigrated() {
    use std::os::unix::fs::PermissionsExt;
    let from = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/store-v7/keyfile");
    let home = tempfile::tempdir().unwrap();
    std::fs::set_permissions(home.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    for name in ["iching.db", "iching.key"] {
        let to = home.path().join(name);
        std::fs::copy(from.join(name), &to).unwrap();
        std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let before = std::fs::read(home.path().join("iching.db")).unwrap();
    let out = read_only(home.path(), &["show", "2", "--format", "json"]).await;
    assert_eq!(out.code, Some(0), "{out}");
    assert_eq!(out.json()["question"], "What of the new work?", "{out}");
    let out = read_only(home.path(), &["verify"]).await;
    assert_eq!(out.code, Some(0), "{out}");
    assert!(
        out.stdout
            .contains("Checked 3 readings: 25 sections, 73 sealed values. All intact."),
        "{out}"
    );
    // Read as it is: still schema 7, not a byte changed.
    assert_eq!(
        std::fs::read(home.path().join("iching.db")).unwrap(),
        before
    );
}
