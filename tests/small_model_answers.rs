//! Answers a real small model gave (SmolLM2-135M-Instruct on a llama.cpp server, recorded with
//! the requests that asked for them by `scripts/real-model.sh`'s set-up and a recording proxy),
//! judged by the same check the provider runs before it keeps an answer. What such a model
//! writes when it loses the thread is refused (and so retried, then failed, saying what came
//! back); fluent text is kept even when it says little, since no rule can tell it from an answer.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test or tool fails by panicking"
)]

use std::path::Path;

use serde::Deserialize;

#[derive(Deserialize)]
struct Recorded {
    finish_reason: String,
    content: String,
    messages: String,
    question: String,
}

/// The verdict on each recording: `Some(words of the refusal)` or `None` (kept).
const EXPECTED: &[(&str, Option<&str>)] = &[
    // ["<p>...</p>", "</p>"]: the prompt's own placeholder.
    ("02", Some("placeholders or punctuation")),
    // ["<p>Xian (31), judgment.", "text: The text is from the reading, "]: a scrap.
    ("03", Some("too short")),
    // ["<p>..</p>"]
    ("04", Some("placeholders or punctuation")),
    // A placeholder paragraph beside two fragments.
    ("06", Some("placeholder")),
    // One unfinished sentence.
    ("07", Some("too short")),
    ("08", Some("too short")),
    // "It is a question that may or may not be a question ..." over and over.
    ("09", Some("repeating itself")),
    // Three fluent sentences about "the text": kept, as any prose is.
    ("12", None),
];

#[test]
fn recorded_answers_of_a_real_small_model_get_the_verdicts_a_reader_would_give() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/small_model_answers");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(
        files.len(),
        EXPECTED.len(),
        "every recording has a verdict: {files:?}"
    );
    for (name, expected) in EXPECTED {
        let text = std::fs::read_to_string(dir.join(format!("{name}.json"))).unwrap();
        let r: Recorded = serde_json::from_str(&text).unwrap();
        assert_eq!(
            r.finish_reason, "stop",
            "{name}: only finished answers are judged here"
        );
        let verdict = iching::answer::quality::check(&r.content, &r.question, &r.messages);
        match (expected, verdict) {
            (None, Ok(_)) => {}
            (Some(words), Err(why)) => assert!(why.contains(words), "{name}: {why}"),
            (expected, verdict) => panic!(
                "{name}: expected {expected:?}, got {verdict:?}\n{}",
                r.content
            ),
        }
    }
}
