//! Follow-up questions (`iching ask`) through the real binary and the fake OpenAI server: what
//! each request carries (the reading, its sections, the conversation so far, the question),
//! what is kept sealed, what `show` prints, and that a failed or refused follow-up keeps
//! nothing.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test or tool fails by panicking"
)]

use crate::support;

use std::path::Path;

use serde_json::Value;
use support::cli::{Run, run};
use support::fake_openai::{FakeOpenAi, Fault, ServerConfig};

const ANSWER_LONG: &str = r#"{"response": ["<p>First paragraph of a follow-up answer, which says enough to be read on its own.</p>", "<p>Second paragraph, which goes on about the reading and what the lines ask of the person.</p>", "<p>Third paragraph, the last one, which never arrives whole when the stream is cut.</p>"]}"#;
const SECRET: &str = "Pomegranate-5521";
const ANSWER: &str = r#"{"response": ["<p>La tercera línea pide <b>prudencia</b>: no es momento de forzar.</p>", "<p>Espera a que la luz vuelva.</p>"]}"#;

async fn iching(home: &Path, args: &[&str], url: &str) -> Run {
    let mut all: Vec<&str> = args.to_vec();
    all.extend([
        "--provider",
        "openai",
        "--base-url",
        url,
        "--model",
        "fake-1",
    ]);
    run(home, &all, "sk-test", &[]).await
}

fn messages(server: &FakeOpenAi, i: usize) -> Vec<Value> {
    server.requests()[i].body["messages"]
        .as_array()
        .unwrap()
        .clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_follow_up_carries_the_reading_and_the_conversation_and_is_kept_sealed() {
    let server = FakeOpenAi::start(ServerConfig {
        record_requests: true,
        record_bodies: true,
        ..ServerConfig::default()
    });
    let url = server.base_url();
    let home = tempfile::tempdir().unwrap();
    let cast = [
        "cast",
        "¿Debo aceptar el trabajo?",
        "--lines",
        "9,8,7,7,6,8",
        "--context",
        "Me ofrecieron un puesto en Lisboa.",
        "--language",
        "Español",
    ];
    let out = iching(home.path(), &cast, &url).await;
    assert_eq!(out.code, Some(0), "{out}");
    let sections = server.requests().len();
    assert_eq!(sections, 10);

    // A follow-up's answer is new text (one that only repeats the request is refused).
    server.set_config(ServerConfig {
        content: Some(ANSWER.to_owned()),
        ..server.config()
    });
    let question = format!("¿Qué dice la línea 3 sobre {SECRET}?");
    let out = iching(
        home.path(),
        &["ask", "1", &question, "--json", "--language", "Español"],
        &url,
    )
    .await;
    assert_eq!(out.code, Some(0), "{out}");
    let asked = out.json();
    assert_eq!(asked["reading_id"], 1);
    assert_eq!(asked["question"], question.as_str());
    assert_eq!(asked["model"], "fake-1");
    assert_eq!(asked["provider"], "openai");
    assert_eq!(asked["usage"]["source"], "reported");
    assert!(asked["usage"]["completion_tokens"].as_u64().unwrap() > 0);
    assert!(
        asked["answer"]
            .as_str()
            .unwrap()
            .contains("La tercera línea pide prudencia")
    );
    assert_eq!(asked["sections_left_out"], 0);

    // One request, shaped like a section's up to the reading's data, then the follow-up.
    assert_eq!(server.requests().len(), sections + 1);
    let first = messages(&server, sections);
    let roles: Vec<&str> = first.iter().map(|m| m["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["system", "user", "user"]);
    assert_eq!(first[0], messages(&server, 0)[0], "the same system prompt");
    let data = first[1]["content"].as_str().unwrap();
    assert!(data.starts_with("The reading (JSON):\n"), "{data}");
    assert!(data.contains("\"context\": \"Me ofrecieron un puesto en Lisboa.\""));
    assert!(data.contains("\"answerLanguage\": \"Español\""));
    assert!(data.contains("What the reading's sections said (JSON):"));
    assert!(
        data.contains("quiet strength"),
        "the sections' text is in it"
    );
    assert_eq!(
        first[2]["content"],
        format!("Follow-up question: {question}").as_str()
    );

    // The second carries the first as a turn of the conversation.
    let out = iching(home.path(), &["ask", "1", "¿Y la línea superior?"], &url).await;
    assert_eq!(out.code, Some(0), "{out}");
    assert!(
        out.stdout.contains("Espera a que la luz vuelva."),
        "streamed: {out}"
    );
    assert!(out.stderr.contains("Saved as follow-up"), "{out}");
    let second = messages(&server, sections + 1);
    let roles: Vec<&str> = second.iter().map(|m| m["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["system", "user", "user", "assistant", "user"]);
    assert!(second[2]["content"].as_str().unwrap().contains(SECRET));
    assert!(second[3]["content"].as_str().unwrap().contains("prudencia"));

    // Sealed: the question is not in the clear on disk.
    for name in ["iching.db", "iching.db-wal"] {
        if let Ok(bytes) = std::fs::read(home.path().join(name)) {
            assert!(
                !bytes.windows(SECRET.len()).any(|w| w == SECRET.as_bytes()),
                "the follow-up is in the clear in {name}"
            );
        }
    }
    // Shown by every format, oldest first.
    let show = run(home.path(), &["show", "1", "--format", "json"], "", &[]).await;
    let shown = show.json();
    let followups = shown["followups"].as_array().unwrap();
    assert_eq!(followups.len(), 2);
    assert_eq!(followups[0]["question"], question.as_str());
    assert!(followups[0]["asked_at"].as_str().unwrap().ends_with('Z'));
    assert!(followups[1]["usage"]["prompt_tokens"].as_u64().unwrap() > 0);
    for (format, heading) in [
        ("text", "== Follow-up questions =="),
        ("md", "## Follow-up questions"),
        ("html", "<h2>Follow-up questions</h2>"),
    ] {
        let out = run(home.path(), &["show", "1", "--format", format], "", &[]).await;
        assert_eq!(out.code, Some(0), "{out}");
        assert!(out.stdout.contains(heading), "{format}: {out}");
        assert!(out.stdout.contains("¿Y la línea superior?"), "{format}");
    }
    // verify opens and checks them.
    let out = run(home.path(), &["verify"], "", &[]).await;
    assert_eq!(out.code, Some(0), "{out}");

    // Their tokens and cost are in the stats, of the reading and across readings.
    std::fs::write(
        home.path().join("config.toml"),
        "[prices.\"fake-1\"]\nprompt_per_million = 1.0\ncompletion_per_million = 2.0\n",
    )
    .unwrap();
    let one = run(home.path(), &["stats", "1", "--json"], "", &[])
        .await
        .json();
    let f = &one["followups"];
    assert_eq!(f["count"], 2, "{one}");
    let (p, c) = (
        followups[0]["usage"]["prompt_tokens"].as_u64().unwrap()
            + followups[1]["usage"]["prompt_tokens"].as_u64().unwrap(),
        followups[0]["usage"]["completion_tokens"].as_u64().unwrap()
            + followups[1]["usage"]["completion_tokens"].as_u64().unwrap(),
    );
    assert_eq!(
        (f["prompt_tokens"].as_u64(), f["completion_tokens"].as_u64()),
        (Some(p), Some(c))
    );
    let cost = f["cost"].as_f64().unwrap();
    assert!(
        (cost - (p as f64 + 2.0 * c as f64) / 1e6).abs() < 1e-12,
        "{f}"
    );
    let all = run(home.path(), &["stats", "--json"], "", &[]).await.json();
    assert_eq!(all["followups"]["count"], 2, "{all}");
    let text = run(home.path(), &["stats", "1"], "", &[]).await;
    assert!(text.stdout.contains("follow-up questions: 2,"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_or_refused_follow_up_keeps_nothing_and_says_why() {
    let server = FakeOpenAi::start(ServerConfig::default());
    let url = server.base_url();
    let home = tempfile::tempdir().unwrap();
    let out = iching(home.path(), &["cast", "Q?", "--lines", "7,7,7,7,7,7"], &url).await;
    assert_eq!(out.code, Some(0), "{out}");
    let before = server.stats().requests;

    // The server fails for good: exit 1, the reason, nothing saved. (A 400 naming nothing is
    // sent once more without the optional fields: that one is refused too.)
    server.push_faults([Fault::Status(400), Fault::Status(400)]);
    let out = iching(
        home.path(),
        &["ask", "1", "Why?", "--max-attempts", "1"],
        &url,
    )
    .await;
    assert_eq!(out.code, Some(1), "{out}");
    assert!(out.stderr.contains("not answered"), "{out}");
    // Cut off mid-answer: what was printed is said to be cut short, and nothing is saved.
    server.set_config(ServerConfig {
        content: Some(ANSWER_LONG.to_owned()),
        chunks: 40,
        ..server.config()
    });
    server.push_faults([Fault::DropMidStream]);
    let out = iching(
        home.path(),
        &["ask", "1", "Why?", "--max-attempts", "1"],
        &url,
    )
    .await;
    assert_eq!(out.code, Some(1), "{out}");
    assert!(out.stdout.contains("First paragraph"), "{out}");
    assert!(out.stderr.contains("cut short: it was not saved"), "{out}");
    // Bad input never reaches the server.
    for (args, says) in [
        (vec!["ask", "1", "   "], "empty"),
        (vec!["ask", "9", "Why?"], "no reading has id 9"),
    ] {
        let out = iching(home.path(), &args, &url).await;
        assert_eq!(out.code, Some(2), "{out}");
        assert!(out.stderr.contains(says), "{out}");
    }
    let long = "x".repeat(2001);
    let out = iching(home.path(), &["ask", "1", &long], &url).await;
    assert_eq!(out.code, Some(2), "{out}");
    assert_eq!(
        server.stats().requests,
        before + 3,
        "only the two that failed (one of them sent once more without the optional fields)"
    );
    let show = run(home.path(), &["show", "1", "--format", "json"], "", &[]).await;
    assert!(show.json()["followups"].as_array().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn offline_a_follow_up_is_answered_from_the_lines_it_names_and_says_so() {
    let home = tempfile::tempdir().unwrap();
    let offline = |args: &[&'static str]| {
        let mut all = args.to_vec();
        all.extend(["--provider", "offline"]);
        all
    };
    let out = run(
        home.path(),
        &offline(&["cast", "Q?", "--lines", "9,8,7,7,6,8"]),
        "",
        &[],
    )
    .await;
    assert_eq!(out.code, Some(0), "{out}");
    let out = run(
        home.path(),
        &offline(&["ask", "1", "What about the fourth line?", "--json"]),
        "",
        &[],
    )
    .await;
    assert_eq!(out.code, Some(0), "{out}");
    let f = out.json();
    let answer = f["answer"].as_str().unwrap();
    assert!(answer.contains("only from the classic text"), "{answer}");
    assert!(answer.contains("line 4 of Feng"), "{answer}");
    // Legge's fourth line of 55 Feng.
    assert!(answer.contains("The fourth NINE, undivided"), "{answer}");
    assert_eq!(f["model"], "legge-1882");
    // The classic text spends no tokens, and nothing is estimated for it.
    assert_eq!(f["usage"]["source"], "reported");
    assert_eq!(f["usage"]["prompt_tokens"].as_u64(), Some(0));
    assert_eq!(f["usage"]["completion_tokens"].as_u64(), Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_key_change_while_a_follow_up_is_answered_is_refused_saying_so_and_the_answer_is_saved() {
    let server = FakeOpenAi::start(ServerConfig::default());
    let url = server.base_url();
    let home = tempfile::tempdir().unwrap();
    let out = iching(
        home.path(),
        &["cast", "Should I go?", "--lines", "9,8,7,7,6,8"],
        &url,
    )
    .await;
    assert_eq!(out.code, Some(0), "{out}");
    // The follow-up's answer stalls half-way: the key is rotated in another process meanwhile.
    server.set_config(ServerConfig {
        content: Some(ANSWER_LONG.to_owned()),
        chunks: 12,
        ..server.config()
    });
    server.push_fault(Fault::Stall(std::time::Duration::from_secs(3)));
    let mut all = vec!["ask", "1", "What does the first line ask?", "--json"];
    all.extend([
        "--provider",
        "openai",
        "--base-url",
        &url,
        "--model",
        "fake-1",
    ]);
    let asking = support::cli::command(home.path(), &all, "sk-test", &[]).output();
    let rotate = async {
        // Once the answer has begun (its first request is in).
        while server.stats().requests < 11 {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        run(home.path(), &["key", "rotate", "--yes"], "", &[]).await
    };
    let (asked, rotated) = support::cli::guard(60, async { tokio::join!(asking, rotate) }).await;
    let asked: Run = asked.unwrap().into();
    assert_eq!(rotated.code, Some(2), "{rotated}");
    assert!(
        rotated
            .stderr
            .contains("a follow-up question on reading 1 is being answered right now"),
        "says what is running: {rotated}"
    );
    assert_eq!(asked.code, Some(0), "the finished answer is kept: {asked}");
    assert!(!asked.stderr.contains("not saved"), "{asked}");
    // Once it is saved, the key changes.
    let rotated = run(home.path(), &["key", "rotate", "--yes"], "", &[]).await;
    assert_eq!(rotated.code, Some(0), "{rotated}");
    let show = run(home.path(), &["show", "1", "--format", "json"], "", &[]).await;
    assert_eq!(show.code, Some(0), "{show}");
    assert_eq!(show.json()["followups"].as_array().unwrap().len(), 1);
    let verified = run(home.path(), &["verify", "--json"], "", &[]).await;
    assert_eq!(verified.json()["intact"], true, "{verified}");
}
