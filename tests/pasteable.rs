//! Every hint can be pasted (#28, item 7), through the real binary: the commands a message
//! suggests carry the `--home` the run was given (flag or `ICHING_HOME`), absolute and quoted,
//! and work pasted into another shell in another folder; `backup` prints the restore command
//! with its `--key`; `restore` makes a home that does not exist yet and leaves nothing behind
//! when refused; `key rotate` asks first, keeps the old key and says which backups need it;
//! `cast` takes its question as words; a config error names the line and the key; a `--home`
//! of other files is refused alike by every command.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test or tool fails by panicking"
)]

use crate::support;

use std::io::{Read as _, Write as _};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use support::cli::{Run, binary, guard, run};

/// The binary run from `cwd` with `args` only: no `ICHING_HOME`, stdin closed.
async fn iching_in(cwd: &Path, args: &[&str]) -> Run {
    binary()
        .current_dir(cwd)
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .await
        .unwrap()
        .into()
}

/// Runs `line` as another shell would, from `cwd`, with `iching` on its PATH and no
/// `ICHING_HOME`: what a user gets pasting the line.
async fn pasted(cwd: &Path, line: &str) -> Run {
    let bin = Path::new(env!("CARGO_BIN_EXE_iching")).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut sh = tokio::process::Command::new("sh");
    for name in support::cli::callers_foreign_vars() {
        sh.env_remove(name);
    }
    sh.current_dir(cwd)
        .args(["-c", line])
        .env("PATH", path)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .await
        .unwrap()
        .into()
}

/// Every “iching ...” suggested in `text` carries `flag` (` --home DIR`), and no backtick is
/// left around one.
fn every_hint_carries(text: &str, flag: &str) {
    assert!(!text.contains("`iching"), "a hint in backticks:\n{text}");
    let mut seen = 0;
    for (at, _) in text.match_indices("“iching") {
        let after = &text[at + "“iching".len()..];
        if after.starts_with(' ') || after.starts_with('”') {
            seen += 1;
            assert!(after.starts_with(flag), "a hint without{flag}:\n{text}");
        }
    }
    assert!(seen > 0, "no hint in:\n{text}");
}

/// The text between the quotation marks of the first “iching ...” in `text`.
fn first_hint(text: &str) -> &str {
    let at = text.find("“iching ").expect("a hint") + "“".len();
    let len = text[at..].find('”').unwrap();
    &text[at..at + len]
}

fn offline(args: &[&'static str]) -> Vec<&'static str> {
    let mut all = args.to_vec();
    all.extend(["--lines", "9,8,7,7,6,8", "--provider", "offline"]);
    all
}

#[tokio::test(flavor = "multi_thread")]
async fn every_hint_names_the_home_given_and_works_pasted_in_another_folder() {
    let root = tempfile::tempdir().unwrap();
    let root = root.path();
    // A relative --home with a space: the hints name it absolute, quoted for the shell.
    let flag = format!(" --home '{}/my home'", root.display());
    let cast = iching_in(
        root,
        &[
            "--home",
            "my home",
            "cast",
            "Will it rain?",
            "--lines",
            "9,8,7,7,6,8",
        ],
    )
    .await;
    assert_eq!(cast.code, Some(0), "{cast}");
    every_hint_carries(&cast.stdout, &flag);
    let show = first_hint(&cast.stdout);
    assert_eq!(show, format!("iching{flag} show 1"));
    let shown = pasted(Path::new("/"), show).await;
    assert_eq!(shown.code, Some(0), "{show}: {shown}");
    assert!(shown.stdout.contains("Will it rain?"), "{shown}");

    // Hints in what the commands print and in their errors, each pasted elsewhere.
    for (args, pastes) in [
        (&["notes", "1"][..], true),
        (&["history", "--search", "zzz"], true),
        (&["show", "7"], true),
        (&["note", "1", "--delete", "3", "--yes"], true),
        (&["retry", "1"], false),
    ] {
        let mut all = vec!["--home", "my home"];
        all.extend(args);
        let out = iching_in(root, &all).await;
        let said = format!("{}{}", out.stdout, out.stderr);
        if pastes {
            every_hint_carries(&said, &flag);
            let hint = first_hint(&said);
            let again = pasted(Path::new("/"), hint).await;
            assert_eq!(again.code, Some(0), "{hint}: {again}");
        } else {
            assert!(!said.contains("“iching"), "{args:?}: {out}");
        }
    }

    // ICHING_HOME counts as given: its hints carry it too, for a shell where it is not set.
    let home = root.join("env home");
    let out = run(&home, &offline(&["cast", "Q?"]), "", &[]).await;
    assert_eq!(out.code, Some(0), "{out}");
    let flag = format!(" --home '{}'", home.display());
    every_hint_carries(&out.stdout, &flag);
    let out = run(&home, &["show", "9"], "", &[]).await;
    assert_eq!(out.code, Some(2), "{out}");
    every_hint_carries(&out.stderr, &flag);
    let listed = pasted(Path::new("/"), first_hint(&out.stderr)).await;
    assert!(listed.stdout.contains("Q?"), "{listed}");
    // A value the command line refuses says what to run, with the home too.
    let out = run(&home, &["show", "first"], "", &[]).await;
    assert_eq!(out.code, Some(2), "{out}");
    every_hint_carries(&out.stderr, &flag);
}

#[tokio::test(flavor = "multi_thread")]
async fn backup_prints_the_restore_command_with_its_key_and_it_works_as_printed() {
    let root = tempfile::tempdir().unwrap();
    let home = root.path().join("home");
    let ok = |out: Run| {
        assert_eq!(out.code, Some(0), "{out}");
        out
    };
    ok(run(&home, &offline(&["cast", "Kept?"]), "", &[]).await);
    let file = root.path().join("b.db");
    let out = ok(run(&home, &["backup", file.to_str().unwrap()], "", &[]).await);
    let key = home.join("iching.key");
    let command = format!(
        "iching --home {} restore {} --key {}",
        home.display(),
        file.display(),
        key.display()
    );
    let printed = out.stdout.lines().last().unwrap().trim();
    assert_eq!(printed, command, "{out}");
    // As printed: the reading is there already.
    let again = ok(pasted(Path::new("/"), printed).await);
    assert!(again.stdout.contains("1 was already here"), "{again}");
    // The same line with another home brings the reading into a new store there.
    let elsewhere = root.path().join("elsewhere");
    let moved = printed.replace(
        &format!("--home {}", home.display()),
        &format!("--home {}", elsewhere.display()),
    );
    let restored = ok(pasted(Path::new("/"), &moved).await);
    assert!(restored.stdout.starts_with("Added 1 reading"), "{restored}");

    // A passphrase backup needs no key file: the command names none.
    let sealed = root.path().join("sealed");
    let pass = [("ICHING_PASSPHRASE", "a long passphrase")];
    ok(run(&sealed, &offline(&["cast", "Q?"]), "", &pass).await);
    let file = root.path().join("p.db");
    let out = ok(run(&sealed, &["backup", file.to_str().unwrap()], "", &pass).await);
    let printed = out.stdout.lines().last().unwrap().trim();
    assert_eq!(
        printed,
        format!(
            "iching --home {} restore {}",
            sealed.display(),
            file.display()
        ),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn restore_makes_a_home_that_is_not_there_and_a_refused_restore_leaves_nothing() {
    let root = tempfile::tempdir().unwrap();
    let home = root.path().join("home");
    assert_eq!(
        run(&home, &offline(&["cast", "Q?"]), "", &[]).await.code,
        Some(0)
    );
    let file = root.path().join("b.db");
    run(&home, &["backup", file.to_str().unwrap()], "", &[]).await;
    let (file, key) = (file.to_str().unwrap(), home.join("iching.key"));
    let key = key.to_str().unwrap();

    // Into a folder (and its parent) that do not exist yet.
    let new = root.path().join("new/deep");
    let out = run(&new, &["restore", file, "--key", key], "", &[]).await;
    assert_eq!(out.code, Some(0), "{out}");
    let listed = run(&new, &["history", "--json"], "", &[]).await;
    assert_eq!(listed.json().as_array().unwrap().len(), 1, "{listed}");

    // Refused (no key, the wrong key, not a backup): nothing is left, not even the folder.
    let other_key = root.path().join("other.key");
    std::fs::write(&other_key, [7u8; 32]).unwrap();
    std::fs::set_permissions(&other_key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let letter = root.path().join("letter.txt");
    std::fs::write(&letter, "dear").unwrap();
    for args in [
        vec!["restore", file],
        vec!["restore", file, "--key", other_key.to_str().unwrap()],
        vec!["restore", letter.to_str().unwrap()],
    ] {
        let missing = root.path().join("missing/home");
        let out = run(&missing, &args, "", &[]).await;
        assert_ne!(out.code, Some(0), "{args:?}: {out}");
        assert!(!root.path().join("missing").exists(), "{args:?}: {out}");
        // Into a folder that is there but empty: it stays, empty.
        let empty = root.path().join("empty");
        std::fs::create_dir_all(&empty).unwrap();
        let out = run(&empty, &args, "", &[]).await;
        assert_ne!(out.code, Some(0), "{args:?}: {out}");
        let left: Vec<_> = std::fs::read_dir(&empty).unwrap().flatten().collect();
        assert!(left.is_empty(), "{args:?} left {left:?}: {out}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn key_rotate_asks_first_keeps_the_old_key_and_says_how_old_backups_restore() {
    let root = tempfile::tempdir().unwrap();
    let home = root.path().join("home");
    assert_eq!(
        run(&home, &offline(&["cast", "Q?"]), "", &[]).await.code,
        Some(0)
    );
    let backup = root.path().join("before.db");
    run(&home, &["backup", backup.to_str().unwrap()], "", &[]).await;
    let old = std::fs::read(home.join("iching.key")).unwrap();
    let kept = || -> Vec<PathBuf> {
        std::fs::read_dir(&home)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.to_string_lossy().contains("iching.key.old-"))
            .collect()
    };

    // No terminal and no --yes: refused, saying how, and nothing changes.
    let out = run(&home, &["key", "rotate"], "", &[]).await;
    assert_eq!(out.code, Some(2), "{out}");
    assert!(out.stderr.contains("pass --yes"), "{out}");
    assert_eq!(std::fs::read(home.join("iching.key")).unwrap(), old);
    assert!(kept().is_empty());

    // On a terminal it asks; "n" keeps the key.
    let (code, said) = answer_on_a_terminal(&home, &["key", "rotate"], "n\n");
    assert_eq!(code, 0, "{said}");
    assert!(
        said.contains("[y/N]") && said.contains("Kept the key"),
        "{said}"
    );
    assert_eq!(std::fs::read(home.join("iching.key")).unwrap(), old);
    assert!(kept().is_empty());

    let out = run(&home, &["key", "rotate", "--yes"], "", &[]).await;
    assert_eq!(out.code, Some(0), "{out}");
    assert_ne!(std::fs::read(home.join("iching.key")).unwrap(), old);
    let kept_now = kept();
    let [first] = &kept_now[..] else {
        panic!("one old key kept: {out}")
    };
    assert_eq!(std::fs::read(first).unwrap(), old, "the old key itself");
    let mode = std::fs::metadata(first).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    assert!(out.stdout.contains(&first.display().to_string()), "{out}");
    assert!(out.stdout.contains("Backups made before now"), "{out}");
    // The command it prints restores a backup made before, once the backup's name is put in.
    let line = out
        .stdout
        .lines()
        .find(|l| l.contains("restore BACKUP"))
        .unwrap()
        .trim();
    assert_eq!(
        line,
        format!(
            "iching --home {} restore BACKUP --key {}",
            home.display(),
            first.display()
        )
    );
    let restored = pasted(
        Path::new("/"),
        &line.replace("BACKUP", backup.to_str().unwrap()),
    )
    .await;
    assert_eq!(restored.code, Some(0), "{restored}");
    assert!(restored.stdout.contains("1 was already here"), "{restored}");
    // Without it, the backup no longer opens with the store's key.
    let out = run(&home, &["restore", backup.to_str().unwrap()], "", &[]).await;
    assert_eq!(out.code, Some(2), "{out}");
    // A second change: its kept key serves the backups made since the first; older backups
    // need the first one's, which it names.
    let out = run(&home, &["key", "rotate", "--yes"], "", &[]).await;
    assert_eq!(out.code, Some(0), "{out}");
    assert_eq!(kept().len(), 2, "{out}");
    let stamp = first
        .to_string_lossy()
        .replace(&format!("{}/iching.key.old-", home.display()), "");
    assert!(
        out.stdout.contains(&format!(
            "Backups made since the key change of {stamp} before now"
        )),
        "{out}"
    );
    assert!(
        out.stdout.contains(&format!(
            "Backups made before that need the older keys kept beside it: {}.",
            first.display()
        )),
        "{out}"
    );
}

/// Runs the binary on a pseudo-terminal in `home`, types `typed` once it asks, and returns
/// its exit code and all it wrote.
fn answer_on_a_terminal(home: &Path, args: &[&str], typed: &str) -> (u32, String) {
    use portable_pty::{PtySize, native_pty_system};
    let pty = native_pty_system()
        .openpty(PtySize {
            rows: 24,
            cols: 200,
            pixel_width: 0,
            pixel_height: 0,
        })
        .unwrap();
    let mut cmd = support::cli::pty_command();
    cmd.args(args);
    cmd.env("ICHING_HOME", home);
    cmd.env("NO_COLOR", "1");
    let mut child = pty.slave.spawn_command(cmd).unwrap();
    drop(pty.slave);
    let mut reader = pty.master.try_clone_reader().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let mut said = String::new();
    let patience = std::time::Duration::from_secs(60);
    while !said.contains("[y/N]") {
        let bytes = rx
            .recv_timeout(patience)
            .unwrap_or_else(|_| panic!("never asked:\n{said}"));
        said.push_str(&String::from_utf8_lossy(&bytes));
    }
    let mut writer = pty.master.take_writer().unwrap();
    writer.write_all(typed.as_bytes()).unwrap();
    writer.flush().unwrap();
    let code = child.wait().unwrap().exit_code();
    while let Ok(bytes) = rx.recv_timeout(std::time::Duration::from_millis(500)) {
        said.push_str(&String::from_utf8_lossy(&bytes));
    }
    drop(pty.master);
    (code, said)
}

#[tokio::test(flavor = "multi_thread")]
async fn cast_reads_words_as_the_question_with_its_flags_anywhere() {
    let home = tempfile::tempdir().unwrap();
    for (n, args) in [
        offline(&["cast", "Should", "I", "go", "--format", "json"]),
        vec![
            "cast",
            "--provider",
            "offline",
            "Should",
            "I",
            "go",
            "--seed",
            "3",
            "--format",
            "json",
        ],
        offline(&["cast", "Should I go", "--format", "json"]),
    ]
    .into_iter()
    .enumerate()
    {
        let out = guard(120, run(home.path(), &args, "", &[])).await;
        assert_eq!(out.code, Some(0), "{args:?}: {out}");
        assert_eq!(out.json()["question"], "Should I go", "{args:?}");
        assert_eq!(out.json()["id"], n + 1, "{args:?}");
    }
    let out = run(home.path(), &["cast", "--seed", "3"], "", &[]).await;
    assert_eq!(out.code, Some(2), "{out}");
    assert!(out.stderr.contains("<QUESTION>"), "{out}");
    let out = run(home.path(), &["cast", "Should", "I", "--bogus"], "", &[]).await;
    assert_eq!(out.code, Some(2), "{out}");
    assert!(out.stderr.contains("--bogus"), "{out}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_config_error_names_the_file_the_line_and_the_key() {
    let home = tempfile::tempdir().unwrap();
    let config = home.path().join("config.toml");
    let path = config.display();
    for (text, says) in [
        (
            "model = \"m\"\n\nrpm = 0\n",
            format!(
                "{path} line 3: key \"rpm\": must be at least 1; leave it out for no limit; got 0"
            ),
        ),
        (
            "# mine\nread_timeout = \"slow\"\n",
            format!("{path} line 2: key \"read_timeout\": invalid type: string \"slow\""),
        ),
        (
            "rpm = 5\nbogus = 1\n",
            format!("{path} line 2: key \"bogus\": unknown field “bogus”"),
        ),
        (
            "[providers.box]\nbase_url = \"http://b/v1\"\nconcurrency = 0\n",
            format!(
                "{path} line 3: key \"concurrency\" in [providers.\"box\"]: must be between 1 and 4096; got 0"
            ),
        ),
    ] {
        std::fs::write(&config, text).unwrap();
        let out = run(home.path(), &offline(&["cast", "Q?"]), "", &[]).await;
        assert_eq!(out.code, Some(2), "{text}: {out}");
        assert!(
            out.stderr.starts_with(&format!("error: {says}")),
            "{text}: {out}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_home_of_other_files_is_refused_alike_by_every_command() {
    let root = tempfile::tempdir().unwrap();
    let docs = root.path().join("documents");
    std::fs::create_dir(&docs).unwrap();
    std::fs::write(docs.join("letter.txt"), "dear").unwrap();
    let backup = root.path().join("b.db");
    let commands: Vec<Vec<&str>> = vec![
        vec![],
        vec!["history"],
        offline(&["cast", "Q?"]),
        vec!["backup", backup.to_str().unwrap()],
        vec!["restore", backup.to_str().unwrap()],
        vec!["key", "rotate", "--yes"],
        vec!["stats"],
        vec!["export"],
        vec!["note", "1", "mine"],
        vec!["doctor"],
    ];
    let mut said = Vec::new();
    for args in &commands {
        let out = run(&docs, args, "", &[]).await;
        assert_eq!(out.code, Some(2), "{args:?}: {out}");
        said.push(out.stderr);
    }
    let expected = format!(
        "error: --home {} holds no iching store (no iching.db) but other files; check the path \
         (a new store is made in a new or empty folder)\n",
        docs.display()
    );
    for (args, stderr) in commands.iter().zip(&said) {
        assert_eq!(stderr, &expected, "{args:?}");
    }
    let names: Vec<_> = std::fs::read_dir(&docs)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["letter.txt"], "nothing was left there");
}
