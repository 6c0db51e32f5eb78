//! `iching cast` run as a user runs it: the real binary, offline, in a temporary home.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test or tool fails by panicking"
)]

use crate::support;

use std::process::Output;

fn iching(args: &[&str]) -> Output {
    let home = tempfile::tempdir().unwrap();
    support::cli::std_binary()
        .args(args)
        .env("ICHING_HOME", home.path())
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn the_issue_example_prints_55_changing_to_31_with_every_section_complete() {
    let out = iching(&[
        "cast",
        "Should I move to the coast?",
        "--lines",
        "9,8,7,7,6,8",
        "--provider",
        "offline",
        "--format",
        "json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["question"], "Should I move to the coast?");
    assert_eq!(v["method"], "manual");
    assert_eq!(v["lines"], serde_json::json!([9, 8, 7, 7, 6, 8]));
    assert_eq!(v["primary"]["number"], 55);
    assert_eq!(v["primary"]["upper"], "Zhen");
    assert_eq!(v["primary"]["lower"], "Li");
    assert_eq!(v["resulting"]["number"], 31);
    assert_eq!(v["nuclear"]["number"], 28);
    assert_eq!(v["changing_lines"], serde_json::json!([1, 5]));
    assert_eq!(v["status"], "complete");
    let sections = v["sections"].as_array().unwrap();
    let ids: Vec<u64> = sections.iter().map(|s| s["id"].as_u64().unwrap()).collect();
    assert_eq!(ids, [1, 2, 3, 4, 8, 11, 12, 13, 14, 18]);
    for s in sections {
        assert_eq!(s["status"], "complete", "{s}");
        // The classic text spends no tokens, and nothing is estimated for it.
        assert_eq!(s["usage"], "reported");
        assert_eq!(s["model"], "legge-1882");
        assert_eq!(s["attempts"], 1);
        assert!(s["error"].is_null());
        assert_eq!(
            (
                s["prompt_tokens"].as_u64(),
                s["completion_tokens"].as_u64(),
                s["total_tokens"].as_u64()
            ),
            (Some(0), Some(0), Some(0))
        );
        assert!(!s["paragraphs"].as_array().unwrap().is_empty());
        for key in ["latency_ms", "ttft_ms", "tokens_per_sec", "name"] {
            assert!(s.get(key).is_some(), "{key} missing");
        }
    }
    // Line 5 rules a two-line reading, and its section quotes Legge's line.
    let line5 = serde_json::to_string(&sections[4]["paragraphs"]).unwrap();
    assert!(line5.contains("The fifth SIX"), "{line5}");
    assert!(line5.contains("rules the reading"));
    // Progress went to stderr, one line per section.
    assert_eq!(stderr(&out).matches('✓').count(), 10, "{}", stderr(&out));
}

#[test]
fn seeded_casts_repeat_and_text_shows_the_figures() {
    let a = iching(&[
        "cast", "Q", "--seed", "11", "--method", "yarrow", "--format", "json",
    ]);
    let b = iching(&[
        "cast", "Q", "--seed", "11", "--method", "yarrow", "--format", "json",
    ]);
    assert!(a.status.success(), "{}", stderr(&a));
    let (va, vb): (serde_json::Value, serde_json::Value) = (
        serde_json::from_slice(&a.stdout).unwrap(),
        serde_json::from_slice(&b.stdout).unwrap(),
    );
    assert_eq!(va["lines"], vb["lines"]);
    assert_eq!(va["seed"], 11);
    assert_eq!(va["method"], "yarrow");
    assert!(
        stderr(&a).contains("offline"),
        "says once that it is offline"
    );

    let text = iching(&["cast", "Q", "--lines", "7,7,7,7,7,7"]);
    let out = String::from_utf8(text.stdout).unwrap();
    assert!(out.contains("䷀ 1 Qian"), "{out}");
    assert_eq!(out.matches("━━━━━━━").count(), 6);
    assert!(out.contains("== Conclusion =="));
    let md = iching(&["cast", "Q", "--lines", "6,6,6,6,6,6", "--format", "md"]);
    let out = String::from_utf8(md.stdout).unwrap();
    assert!(out.contains("## All lines changing"), "{out}");
    assert!(out.contains("## Resulting judgment"));
}

#[test]
fn bad_input_is_a_clear_message_and_exit_2() {
    let cases: [(&[&str], &str); 9] = [
        (&["cast", "   "], "question is empty"),
        (&["cast", "\u{1b}[2J"], "question is empty"),
        (&["cast", &"x".repeat(2001)], "2001 characters"),
        (&["cast", "Q", "--lines", "9,8,7,5,6,8"], "line 4 is \"5\""),
        (
            &["cast", "Q", "--lines", "9,8,7"],
            "expected six line values",
        ),
        (
            &["cast", "Q", "--method", "dice"],
            "use coins, yarrow or manual",
        ),
        (&["cast", "Q", "--method", "manual"], "needs its six values"),
        (&["cast", "Q", "--provider", "gpt"], "openrouter"),
        (&["cast", "Q", "--frobnicate"], "--frobnicate"),
    ];
    for (args, message) in cases {
        let out = iching(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(message), "{args:?}: {}", stderr(&out));
        assert!(!stderr(&out).contains("panicked"));
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn help_and_version_work() {
    let out = iching(&["--help"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("cast"));
    let out = iching(&["cast", "--help"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("--lines"));
    let out = iching(&["--version"]);
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("iching "));
}

#[test]
fn children_see_none_of_the_callers_settings() {
    use support::cli::{CLEARED, foreign, to_clear};

    let names = [
        "ICHING_MODEL",
        "ICHING_ANYTHING_NEW",
        "OPENAI_BASE_URL",
        "OPENAI_ORG_ID",
        "OPENROUTER_API_KEY",
        "GROQ_API_KEY",
        "GEMINI_API_KEY",
        "ANTHROPIC_API_KEY",
        "SOME_OTHER_API_KEY",
        "RUST_LOG",
        "NO_COLOR",
        "COLUMNS",
        "HTTPS_PROXY",
        "no_proxy",
        "PATH",
        "HOME",
        "TERM",
        "LANG",
        "CARGO_TARGET_DIR",
        "MY_ICHING_MODEL",
        "NO_COLOR_PLEASE",
    ]
    .map(str::to_owned);
    let cleared = to_clear(names.clone());
    let kept: Vec<&str> = names
        .iter()
        .map(String::as_str)
        .filter(|n| !cleared.iter().any(|c| c == n))
        .collect();
    assert_eq!(
        kept,
        [
            "PATH",
            "HOME",
            "TERM",
            "LANG",
            "CARGO_TARGET_DIR",
            "MY_ICHING_MODEL",
            "NO_COLOR_PLEASE"
        ]
    );
    // The app's own variables go whether the caller has them or not.
    for name in CLEARED {
        assert!(cleared.iter().any(|c| c == name), "{name}");
        assert!(foreign(name), "{name}");
    }

    // Every way the tests start the binary goes through it: each of those names is removed
    // (or, by `command`, set to the test's own value).
    let callers = support::cli::callers_foreign_vars();
    let removed = |c: &std::process::Command| -> Vec<String> {
        c.get_envs()
            .filter(|(_, v)| v.is_none())
            .map(|(k, _)| k.to_string_lossy().into_owned())
            .collect()
    };
    let std = support::cli::std_binary();
    let tokio = support::cli::binary();
    for name in &callers {
        assert!(removed(&std).contains(name), "std_binary keeps {name}");
        assert!(
            removed(tokio.as_std()).contains(name),
            "binary keeps {name}"
        );
    }
    let pty = support::cli::pty_command();
    for name in &callers {
        assert_eq!(pty.get_env(name), None, "pty_command keeps {name}");
    }
    let home = tempfile::tempdir().unwrap();
    let c = support::cli::command(home.path(), &[], "sk-test", &[("ICHING_MODEL", "m")]);
    let set: Vec<(String, Option<String>)> = c
        .as_std()
        .get_envs()
        .map(|(k, v)| {
            (
                k.to_string_lossy().into_owned(),
                v.map(|v| v.to_string_lossy().into_owned()),
            )
        })
        .collect();
    for name in &callers {
        let value = set
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_deref());
        let expected = match name.as_str() {
            "ICHING_HOME" => Some(home.path().to_str()),
            "OPENAI_API_KEY" => Some(Some("sk-test")),
            "NO_COLOR" => Some(Some("1")),
            "ICHING_MODEL" => Some(Some("m")),
            _ => Some(None),
        };
        assert_eq!(value, expected, "command: {name}");
    }
}

#[test]
fn a_closed_stderr_costs_the_messages_never_the_reading() {
    // `iching cast ... 2>&1 | head -1`: everything said on stderr after the reader went fails.
    let home = tempfile::tempdir().unwrap();
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = support::cli::std_binary()
        .args(["cast", "Will it hold?", "--lines", "9,8,7,7,6,8"])
        .env("ICHING_HOME", home.path())
        .env("NO_COLOR", "1")
        .stderr(writer)
        .stdout(std::process::Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let history = support::cli::std_binary()
        .args(["history", "--json"])
        .env("ICHING_HOME", home.path())
        .output()
        .unwrap();
    let rows: serde_json::Value = serde_json::from_slice(&history.stdout).unwrap();
    assert_eq!(rows[0]["status"], "complete", "{rows}");
}
