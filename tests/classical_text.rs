//! The classical Chinese text through the real binary and the fake OpenAI server: the Ten
//! Wings section's request carries the Tuan and Great Image, a changing line's request its
//! Chinese statement and Small Image, and the exports (`show --format json|md|html`) the
//! judgment and changing lines in the original.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test or tool fails by panicking"
)]

use crate::support;

use iching::oracle::chinese;
use serde_json::Value;
use support::cli::run;
use support::fake_openai::{FakeOpenAi, ServerConfig};

/// The user message of the request whose instruction starts with `section`.
fn request<'a>(users: &'a [String], section: &str) -> &'a str {
    let found: Vec<&String> = users
        .iter()
        .filter(|u| u.contains(&format!("\n\nSection: {section}")))
        .collect();
    assert_eq!(found.len(), 1, "one request for {section:?}");
    found[0]
}

/// The envelope's `chineseTexts` in a user message, as (source, text).
fn chinese_texts(user: &str) -> Vec<(String, String)> {
    let json = user.strip_prefix("The reading (JSON):\n").unwrap();
    let end = json.find("\n}").unwrap() + 2;
    let v: Value = serde_json::from_str(&json[..end]).unwrap();
    v["chineseTexts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["source"].as_str().unwrap().to_owned(),
                t["text"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_sections_get_the_original_text_and_the_exports_carry_it() {
    let server = FakeOpenAi::start(ServerConfig::default());
    let home = tempfile::tempdir().unwrap();
    let url = server.base_url();
    // 55 Feng, lines 1 and 5 changing, to 31 Xian.
    let args = [
        "cast",
        "Should I take the job?",
        "--lines",
        "9,8,7,7,6,8",
        "--provider",
        "openai",
        "--base-url",
        &url,
        "--model",
        "fake-1",
        "--format",
        "json",
    ];
    let out = run(home.path(), &args, "sk-test", &[]).await;
    assert_eq!(out.code, Some(0), "{out}");

    let users: Vec<String> = server
        .requests()
        .iter()
        .map(|r| {
            r.body["messages"][1]["content"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    let feng = chinese(55).unwrap();
    let xian = chinese(31).unwrap();

    let wings = request(&users, "insights in the spirit of the Ten Wings.");
    let texts = chinese_texts(wings);
    for (source, text) in [
        ("Feng (55), Tuan (彖传)", &feng.tuan),
        ("Feng (55), Great Image (大象)", &feng.image),
        ("Feng (55), Xugua (序卦)", &feng.xugua),
        ("Feng (55), Zagua (杂卦)", &feng.zagua),
        ("Xian (31), Tuan (彖传)", &xian.tuan),
    ] {
        assert!(
            texts.contains(&(source.to_owned(), text.clone())),
            "{source} in {texts:?}"
        );
    }
    // The instruction names them, and says to draw on them.
    assert!(wings.contains("Feng (55), Tuan (彖传)"), "{wings}");
    assert!(wings.contains("the Tuan (彖传)"), "{wings}");

    let line = request(&users, "changing line 1.");
    assert!(line.contains(feng.line_text(1)), "{line}");
    assert!(feng.line_text(1).starts_with("初九："));
    assert!(line.contains(feng.line_image(1)), "{line}");
    assert!(
        line.contains(
            "The original Chinese of this section (in the reading's \"chineseTexts\"): \
             Feng (55), line 1 (爻辞); Feng (55), line 1, Small Image (小象)."
        ),
        "{line}"
    );
    // The envelope is the same bytes for every section.
    let envelope = |u: &str| u.split("\n}\n").next().unwrap().to_owned();
    assert!(users.iter().all(|u| envelope(u) == envelope(&users[0])));

    // The exports.
    let cast = out.json();
    assert_eq!(cast["chinese"]["judgment"], feng.judgment.as_str());
    assert_eq!(cast["chinese"]["changing_lines"][1]["position"], 5);
    assert_eq!(
        cast["chinese"]["changing_lines"][1]["text"],
        feng.line_text(5)
    );
    assert_eq!(
        cast["chinese"]["resulting_judgment"],
        xian.judgment.as_str()
    );
    let show = |format: &'static str| {
        let home = home.path().to_owned();
        async move {
            run(&home, &["show", "1", "--format", format], "sk-test", &[])
                .await
                .stdout
        }
    };
    let json: Value = serde_json::from_str(&show("json").await).unwrap();
    assert_eq!(json["chinese"], cast["chinese"]);
    let md = show("md").await;
    assert!(
        md.contains(&format!(
            "## The original text\n\n**Judgment.** {}",
            feng.judgment
        )),
        "{md}"
    );
    assert!(md.contains(&format!("**Line 5.** {}", feng.line_text(5))));
    let html = show("html").await;
    assert!(
        html.contains(&format!(
            "<b>Line 1.</b> <span lang=\"zh-Hans\">{}</span>",
            feng.line_text(1)
        )),
        "{html}"
    );
    assert!(html.contains(&format!("<span lang=\"zh-Hans\">{}</span>", xian.judgment)));
    let text = show("text").await;
    assert!(text.contains("== The original text =="), "{text}");
}
