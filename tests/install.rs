//! What installs beside the binary: shell completions and the manual page, made from the
//! command line's own definitions, and the package's name.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test or tool fails by panicking"
)]

use crate::support;

fn iching(args: &[&str]) -> std::process::Output {
    // Neither needs a home: none is given, and none is made.
    support::cli::std_binary().args(args).output().unwrap()
}

#[test]
fn completions_for_each_shell_name_the_commands_and_bash_reads_its_own() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = iching(&["completions", shell]);
        assert_eq!(out.status.code(), Some(0), "{shell}");
        let script = String::from_utf8(out.stdout).unwrap();
        for command in ["cast", "history", "export", "hexagram", "completions"] {
            assert!(script.contains(command), "{shell} completes {command}");
        }
    }
    // bash -n: the script parses.
    let script = iching(&["completions", "bash"]).stdout;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("iching.bash");
    std::fs::write(&file, script).unwrap();
    let checked = std::process::Command::new("bash")
        .arg("-n")
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        checked.status.success(),
        "{}",
        String::from_utf8_lossy(&checked.stderr)
    );
    // A shell it does not know is a usage error naming the ones it does.
    let out = iching(&["completions", "tcsh"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("bash, elvish, fish, powershell, zsh"));
}

#[test]
fn the_manual_page_begins_with_its_title_and_lists_the_commands() {
    let out = iching(&["manpage"]);
    assert_eq!(out.status.code(), Some(0));
    let page = String::from_utf8(out.stdout).unwrap();
    assert!(
        page.starts_with(".TH iching 1 "),
        "{}",
        &page[..80.min(page.len())]
    );
    assert!(page.contains(".SH NAME") && page.contains(".SH SYNOPSIS"));
    for command in ["cast", "history", "export", "completions", "manpage"] {
        assert!(page.contains(command), "{command}");
    }
}

#[test]
fn the_package_has_a_name_of_its_own_and_the_binary_is_iching() {
    let manifest =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml")).unwrap();
    let parsed: toml::Table = manifest.parse().unwrap();
    let name = parsed["package"]["name"].as_str().unwrap();
    assert_ne!(name, "iching", "another crate holds `iching` on crates.io");
    assert_eq!(env!("CARGO_PKG_NAME"), name);
    assert!(env!("CARGO_BIN_EXE_iching").ends_with("/iching"));
}
