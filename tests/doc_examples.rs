//! Every `iching ...` example the user is shown runs as shown: the command lines in README.md's
//! `sh` blocks (in order, in one home, as someone would type them after installing) and the
//! `` `iching ...` `` spans and batch lines of every subcommand's `--help` (the binary's own
//! output). Commands run offline; those that name a hosted or local provider, or follow an
//! `export OPENAI_API_KEY=...`, are pointed at the test server with `OPENAI_BASE_URL`, so no
//! request leaves the machine. Skipped, and listed in [`skip`], are only the examples that open
//! the terminal app.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test or tool fails by panicking"
)]

use crate::support;

use std::path::Path;

use support::cli::{Run, command};
use support::fake_openai::{FakeOpenAi, ServerConfig};

/// One example: where it is written, the environment it sets, its words, the exit it documents.
#[derive(Debug, Clone)]
struct Example {
    at: String,
    env: Vec<(String, String)>,
    args: Vec<String>,
    exit: i32,
}

/// Why an example cannot run headless, or `None` when it can.
fn skip(args: &[String]) -> Option<&'static str> {
    args.is_empty()
        .then_some("with no command `iching` opens the terminal app (tests/tui_pty.rs drives it)")
}

/// The words of a shell line, as `sh` would split them (double and single quotes), up to an
/// unquoted `#`; and the comment after it.
fn shell_words(line: &str) -> (Vec<String>, String) {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut quote = None;
    for (i, c) in line.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.get_or_insert_with(String::new).push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                word.get_or_insert_with(String::new);
            }
            (None, '#') if word.is_none() => {
                return (words, line[i + 1..].trim().to_owned());
            }
            (None, c) if c.is_whitespace() => words.extend(word.take()),
            (None, c) => word.get_or_insert_with(String::new).push(c),
        }
    }
    assert!(quote.is_none(), "unclosed quote in {line:?}");
    words.extend(word);
    (words, String::new())
}

/// The exit status a comment documents (`# exit 2: ...`), else 0.
fn documented_exit(comment: &str) -> i32 {
    comment
        .strip_prefix("exit ")
        .and_then(|rest| rest.split(':').next())
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

/// A fenced block being read: its language, the environment it exported, its text so far.
type Block = (String, Vec<(String, String)>, String);

/// The README's `sh` blocks as examples, and the body of its sample questions file.
fn readme() -> (Vec<Example>, String, Vec<String>) {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let mut examples = Vec::new();
    let mut skipped = Vec::new();
    let mut questions = None;
    let mut block: Option<Block> = None;
    for (n, line) in text.lines().enumerate() {
        let at = format!("README.md:{}", n + 1);
        if let Some(lang) = line.strip_prefix("```") {
            block = match block.take() {
                Some((lang, _, body)) => {
                    if lang == "text" && body.contains("{\"question\"") && questions.is_none() {
                        questions = Some(body);
                    }
                    None
                }
                None => Some((lang.trim().to_owned(), Vec::new(), String::new())),
            };
            continue;
        }
        let Some((lang, env, body)) = &mut block else {
            continue;
        };
        body.push_str(line);
        body.push('\n');
        if lang != "sh" {
            continue;
        }
        let (mut words, comment) = shell_words(line);
        if words.first().is_some_and(|w| w == "export") {
            for assignment in &words[1..] {
                let (k, v) = assignment.split_once('=').unwrap();
                env.push((k.to_owned(), v.to_owned()));
            }
            continue;
        }
        let mut line_env = env.clone();
        while words.first().is_some_and(|w| w.contains('=')) {
            let (k, v) = words
                .remove(0)
                .split_once('=')
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .unwrap();
            line_env.push((k, v));
        }
        // An example that puts its output in a file (`iching manpage > ...`) runs with its
        // output read here instead: nothing is written in the user's folders.
        if let Some(redirect) = words.iter().position(|w| w == ">") {
            words.truncate(redirect);
        }
        let args = match words.first().map(String::as_str) {
            Some("iching") => words[1..].to_vec(),
            // The headline command: `cargo run --release` is `iching` with no command.
            Some("cargo") if words.len() > 2 && words[1] == "run" => {
                match words.iter().position(|w| w == "--") {
                    Some(dashes) => words[dashes + 1..].to_vec(),
                    None => Vec::new(),
                }
            }
            _ => continue,
        };
        if let Some(why) = skip(&args) {
            skipped.push(format!("{at}: {why}"));
            continue;
        }
        examples.push(Example {
            at,
            env: line_env,
            args,
            exit: documented_exit(&comment),
        });
    }
    (
        examples,
        questions.expect("README.md shows a questions.txt for batch"),
        skipped,
    )
}

/// Whether the example asks for a model behind a network endpoint.
fn needs_server(e: &Example) -> bool {
    let provider = e
        .args
        .iter()
        .position(|a| a == "--provider")
        .map(|i| e.args[i + 1].as_str());
    matches!(provider, Some(p) if p != "offline")
        || (provider.is_none() && e.env.iter().any(|(k, _)| k == "OPENAI_API_KEY"))
}

/// Runs `e` in `home` from `cwd`, with `extra` environment, and checks its documented exit.
async fn run_example(home: &Path, cwd: &Path, e: &Example, extra: &[(String, String)]) -> Run {
    let args: Vec<&str> = e.args.iter().map(String::as_str).collect();
    let env: Vec<(&str, &str)> = e
        .env
        .iter()
        .chain(extra)
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let out: Run = command(home, &args, "", &env)
        .current_dir(cwd)
        .output()
        .await
        .unwrap()
        .into();
    assert_eq!(
        out.code,
        Some(e.exit),
        "{} `iching {}` should exit {} as documented:\n{out}",
        e.at,
        e.args.join(" "),
        e.exit
    );
    out
}

/// The offline seeding cast every example that names a reading can count on.
async fn seed(home: &Path) {
    let out = support::cli::run(
        home,
        &[
            "cast",
            "What does the seed reading say?",
            "--provider",
            "offline",
        ],
        "",
        &[],
    )
    .await;
    assert_eq!(out.code, Some(0), "{out}");
}

#[tokio::test(flavor = "multi_thread")]
async fn every_readme_example_runs_as_shown() {
    support::cli::guard(600, async {
        let (examples, questions, skipped) = readme();
        assert!(
            examples.len() >= 30,
            "too few examples found: {examples:#?}"
        );
        assert_eq!(skipped.len(), 1, "{skipped:#?}");
        let server = FakeOpenAi::start(ServerConfig::default());
        let home = tempfile::tempdir().unwrap();
        let cwd = tempfile::tempdir().unwrap();
        std::fs::write(cwd.path().join("questions.txt"), questions).unwrap();
        seed(home.path()).await;
        let mut passphrase: Option<String> = None;
        for (i, e) in examples.iter().enumerate() {
            let mut extra = Vec::new();
            if needs_server(e) {
                extra.push(("OPENAI_BASE_URL".to_owned(), server.base_url()));
                // The test server offers one model, which the doctor checks for.
                if !e.args.iter().any(|a| a == "--model") {
                    extra.push(("ICHING_MODEL".to_owned(), "gpt-fake".to_owned()));
                }
            }
            if let Some(p) = &passphrase {
                extra.push(("ICHING_PASSPHRASE".to_owned(), p.clone()));
            }
            let new = format!("passphrase number {i}");
            let moves = e.args.first().is_some_and(|a| a == "passphrase");
            if moves {
                extra.push(("ICHING_NEW_PASSPHRASE".to_owned(), new.clone()));
            }
            run_example(home.path(), cwd.path(), e, &extra).await;
            if moves {
                passphrase = (e.args[1] != "remove").then_some(new);
            }
        }
        server.shutdown().await;
    })
    .await;
}

/// Every subcommand's `--help`, nested ones included.
async fn all_help(path: &mut Vec<String>, out: &mut Vec<(String, String)>) {
    let home = tempfile::tempdir().unwrap();
    let mut args = path.clone();
    args.push("--help".into());
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = support::cli::run(home.path(), &words, "", &[]).await;
    assert_eq!(run.code, Some(0), "{run}");
    let subcommands: Vec<String> = run
        .stdout
        .split("\nCommands:\n")
        .nth(1)
        .map(|rest| {
            rest.lines()
                .take_while(|l| !l.trim().is_empty())
                // A command's name is indented two spaces; its wrapped description more.
                .filter(|l| l.starts_with("  ") && !l[2..].starts_with(' '))
                .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
                .filter(|c| c != "help")
                .collect()
        })
        .unwrap_or_default();
    out.push((path.join(" "), run.stdout));
    for c in subcommands {
        path.push(c);
        Box::pin(all_help(path, out)).await;
        path.pop();
    }
}

/// What a `--help` text shows in quotation marks (“iching …”: the help sets commands as prose
/// does) that starts with `iching`, and its batch lines (`{"question": ...}`), with the help's
/// line wrapping undone.
fn help_examples(text: &str) -> (Vec<String>, Vec<String>) {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(!flat.contains('`'), "a backtick in plain help:\n{flat}");
    let mut commands = Vec::new();
    let mut rest = flat.as_str();
    while let Some(open) = rest.find('“') {
        let after = &rest[open + '“'.len_utf8()..];
        let Some(close) = after.find('”') else {
            break;
        };
        let span = &after[..close];
        if span == "iching" || span.starts_with("iching ") {
            commands.push(span.to_owned());
        }
        rest = &after[close + '”'.len_utf8()..];
    }
    let mut lines = Vec::new();
    let mut rest = flat.as_str();
    while let Some(start) = rest.find("{\"question\"") {
        let end = start + rest[start..].find('}').unwrap() + 1;
        lines.push(rest[start..end].to_owned());
        rest = &rest[end..];
    }
    (commands, lines)
}

#[tokio::test(flavor = "multi_thread")]
async fn every_example_in_the_help_runs_as_shown() {
    support::cli::guard(600, async {
        let mut helps = Vec::new();
        all_help(&mut Vec::new(), &mut helps).await;
        assert!(helps.len() > 20, "{}", helps.len());
        let (mut ran, mut skipped, mut batch_lines) = (0, Vec::new(), Vec::new());
        for (name, text) in &helps {
            let (commands, lines) = help_examples(text);
            batch_lines.extend(lines);
            for line in commands {
                let (words, _) = shell_words(&line);
                let e = Example {
                    at: format!("iching {name} --help"),
                    env: Vec::new(),
                    args: words[1..].to_vec(),
                    exit: 0,
                };
                if let Some(why) = skip(&e.args) {
                    skipped.push(format!("{}: `{line}`: {why}", e.at));
                    continue;
                }
                let home = tempfile::tempdir().unwrap();
                seed(home.path()).await;
                let mut extra = Vec::new();
                // "A store sealed with a passphrase gets a new key with `iching passphrase
                // change`": such a store first.
                if e.args == ["passphrase", "change"] {
                    let set = Example {
                        at: e.at.clone(),
                        env: Vec::new(),
                        args: vec!["passphrase".into(), "set".into()],
                        exit: 0,
                    };
                    let first = [("ICHING_NEW_PASSPHRASE".to_owned(), "first one".to_owned())];
                    run_example(home.path(), home.path(), &set, &first).await;
                    extra.push(("ICHING_PASSPHRASE".to_owned(), "first one".to_owned()));
                    extra.push(("ICHING_NEW_PASSPHRASE".to_owned(), "second one".to_owned()));
                }
                run_example(home.path(), home.path(), &e, &extra).await;
                ran += 1;
            }
        }
        assert!(ran >= 3, "too few help examples ran: {ran}");
        assert_eq!(skipped.len(), 1, "{skipped:#?}");
        // The batch help's JSON lines, as a file.
        assert!(batch_lines.len() >= 2, "{batch_lines:?}");
        let home = tempfile::tempdir().unwrap();
        // The questions live outside the home: a home holds only what iching keeps there.
        let files = tempfile::tempdir().unwrap();
        let file = files.path().join("questions.txt");
        std::fs::write(&file, batch_lines.join("\n")).unwrap();
        let e = Example {
            at: "iching batch --help".into(),
            env: Vec::new(),
            args: vec![
                "batch".into(),
                file.to_string_lossy().into_owned(),
                "--provider".into(),
                "offline".into(),
            ],
            exit: 0,
        };
        let out = run_example(home.path(), home.path(), &e, &[]).await;
        assert!(
            out.stdout
                .contains(&format!("Batch: {} readings", batch_lines.len())),
            "{out}"
        );
    })
    .await;
}

#[test]
fn shell_words_split_as_sh_does() {
    assert_eq!(
        shell_words(r#"iching cast "What of it?" --seed 7  # a comment"#),
        (
            vec![
                "iching".into(),
                "cast".into(),
                "What of it?".into(),
                "--seed".into(),
                "7".into()
            ],
            "a comment".into()
        )
    );
    assert_eq!(shell_words("a 'b # c' d#e").0, ["a", "b # c", "d#e"]);
    assert_eq!(documented_exit("exit 2: \"qian\" names two"), 2);
    assert_eq!(documented_exit("open every value; exit 1 if damaged"), 0);
}
