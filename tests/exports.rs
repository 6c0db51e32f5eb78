//! Exports escape everything. Hostile text in the question, a section's error, a section's text
//! and the model name is read back from `show --format md` through a CommonMark parser
//! (pulldown-cmark, strict and with every extension that does not rewrite text), and from
//! `show --format html` and the HTML that CommonMark makes of the Markdown through a WHATWG
//! tokenizer (html5gum): no raw HTML, links, images, headings or tags but the exporter's own,
//! and the visible text is the hostile text itself. `show --format text` and `history` never put
//! an escape, a control, a zero-width or a bidi character on the terminal.
//!
//! The hostile text gets in two ways: as a user and a server would send it (a cast against the
//! fake server, the question on the command line, the model by `--model`, which the server
//! echoes as the answering model, and an error body), and written straight into the store, as a
//! writer that cleaned nothing (an older version) would have left it.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test or tool fails by panicking"
)]

use crate::support;

use std::collections::BTreeSet;
use std::path::Path;

use html5gum::{Token, Tokenizer};
use pulldown_cmark::{Event, HeadingLevel, Options, Parser, Tag, TagEnd};
use serde_json::Value;

use iching::oracle::{Cast, Reading};
use iching::report::SectionStatus;
use iching::store::{NewReading, PartText, SectionFigures, Store, Unlock};
use support::cli;
use support::fake_openai::{FakeOpenAi, Fault, ServerConfig};

const KEY: &str = "sk-export-test-0123456789";

/// Hostile text, and what a reader must see of it where it is shown on one line: invisible and
/// control characters (and whole escape sequences) gone, line breaks as spaces; `None` when that
/// is the text itself. Compared word by word ([`words`]).
const HOSTILE: &[(&str, Option<&str>)] = &[
    ("<img src=x onerror=alert(1)>", None),
    ("</title><script>alert(1)</script>", None),
    ("[click](javascript:alert(1))", None),
    ("![x](http://evil/)", None),
    (
        "<http://evil/> <a href=\"javascript:x\" onclick='y'>z</a> <!-- c --> <?php x ?>",
        None,
    ),
    ("# heading", None),
    ("***", None),
    ("`code` and ``` fence and ~~~", None),
    ("```\nfenced\n```", Some("``` fenced ```")),
    (
        "a | b |\n|---|---|\n| c | d |",
        Some("a | b | |---|---| | c | d |"),
    ),
    (
        "line\r\nbreak, lone\rreturn",
        Some("line break, lonereturn"),
    ),
    ("&amp; &lt;b&gt; &#60; &#x3c; &nbsp", None),
    (
        "- item\n1. one\n> quote\n===\n---\n: definition",
        Some("- item 1. one > quote === --- : definition"),
    ),
    (
        "\\*not em* _x_ ~~s~~ ~sub~ ^sup^ $x$ $$y$$ [^1] [[wiki]] {#id .c onclick=alert(1)}",
        None,
    ),
    ("Should I go? {onclick=alert(1) .x}", None),
    ("ends in a line break\r\n", Some("ends in a line break")),
    (
        "pay\u{200b}pal \u{202e}lave\u{202c} \u{2066}x\u{2069}\u{200f}\u{feff}\u{2060}\u{e0041}",
        Some("paypal lave x"),
    ),
    (
        "\u{1b}[31mred\u{1b}[0m \u{1b}]0;title\u{7} \u{9b}2Jc1\u{7f}\u{85}",
        Some("red c1"),
    ),
];

/// Each hostile text and what a reader must see of it.
fn cases() -> impl Iterator<Item = (&'static str, &'static str)> {
    HOSTILE
        .iter()
        .map(|&(hostile, shown)| (hostile, shown.unwrap_or(hostile)))
}

/// `s` with its runs of whitespace made one space, trimmed: Markdown and HTML both keep a
/// line's text but not its spacing.
fn words(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Characters that must never reach a terminal or an export: controls but the line feed, the
/// zero-width characters, the bidi controls and the tag characters.
fn invisible(c: char) -> bool {
    (c.is_control() && c != '\n')
        || matches!(
            c,
            '\u{200b}'..='\u{200f}'
                | '\u{202a}'..='\u{202e}'
                | '\u{2060}'
                | '\u{2066}'..='\u{2069}'
                | '\u{061c}'
                | '\u{feff}'
                | '\u{e0000}'..='\u{e007f}'
        )
}

fn assert_clean(what: &str, out: &str) {
    let bad: Vec<String> = out
        .chars()
        .filter(|&c| invisible(c))
        .map(|c| format!("U+{:04X}", c as u32))
        .collect();
    assert!(bad.is_empty(), "{what} has {bad:?}:\n{out}");
}

/// Options that add constructs a viewer may know (GFM's tables, strikethrough and footnotes,
/// math, heading attributes, wikilinks, ...) and leave text as it is (no smart punctuation).
fn extended() -> Options {
    let mut o = Options::all();
    o.remove(Options::ENABLE_SMART_PUNCTUATION);
    o.remove(Options::ENABLE_OLD_FOOTNOTES);
    o.insert(Options::ENABLE_FOOTNOTES);
    o
}

/// What a Markdown export must hold: `question` as its one `#` heading, `titles` as its `##`
/// headings, a paragraph in emphasis reading `failed`, a paragraph reading each of `paragraphs`,
/// and nothing a viewer would make live.
struct WantMarkdown<'a> {
    question: &'a str,
    titles: &'a [String],
    failed: &'a str,
    paragraphs: &'a [&'a str],
}

/// Reads `md` with `options` and checks it against `want`; returns the HTML CommonMark makes of it.
fn check_markdown(md: &str, options: Options, want: &WantMarkdown<'_>) -> String {
    let mut h1 = Vec::new();
    let mut h2 = Vec::new();
    let mut emphasised = Vec::new();
    let mut paragraphs = Vec::new();
    let (mut code_blocks, mut quotes) = (0, 0);
    // The text of the innermost block being read, and of the emphasis in it.
    let mut text: Option<String> = None;
    let mut em: Option<String> = None;
    for event in Parser::new_ext(md, options) {
        match &event {
            Event::Html(h) | Event::InlineHtml(h) => panic!("raw HTML {h:?} in:\n{md}"),
            Event::Start(Tag::Link { dest_url, .. } | Tag::Image { dest_url, .. }) => {
                panic!("a link or image to {dest_url:?} in:\n{md}")
            }
            Event::Code(c) | Event::InlineMath(c) | Event::DisplayMath(c) => {
                panic!("code or math {c:?} in:\n{md}")
            }
            Event::FootnoteReference(f) => panic!("a footnote {f:?} in:\n{md}"),
            Event::Rule | Event::TaskListMarker(_) => panic!("{event:?} in:\n{md}"),
            Event::Start(Tag::Heading {
                id, classes, attrs, ..
            }) => {
                assert!(
                    id.is_none() && classes.is_empty() && attrs.is_empty(),
                    "heading attributes in:\n{md}"
                );
                text = Some(String::new());
            }
            Event::Start(Tag::Paragraph) => text = Some(String::new()),
            Event::Start(Tag::Emphasis) => em = Some(String::new()),
            Event::Start(Tag::CodeBlock(_)) => code_blocks += 1,
            Event::Start(Tag::BlockQuote(_)) => quotes += 1,
            Event::Start(Tag::Strong)
            | Event::End(TagEnd::Strong | TagEnd::CodeBlock | TagEnd::BlockQuote(_)) => {}
            Event::Start(tag) => panic!("{tag:?} in:\n{md}"),
            Event::Text(t) => {
                for s in [&mut text, &mut em].into_iter().flatten() {
                    s.push_str(t);
                }
            }
            Event::SoftBreak | Event::HardBreak => {
                for s in [&mut text, &mut em].into_iter().flatten() {
                    s.push(' ');
                }
            }
            Event::End(TagEnd::Emphasis) => emphasised.extend(em.take()),
            Event::End(TagEnd::Heading(level)) => {
                let t = words(&text.take().unwrap_or_default());
                match level {
                    HeadingLevel::H1 => h1.push(t),
                    HeadingLevel::H2 => h2.push(t),
                    _ => panic!("a heading {level:?} {t:?} in:\n{md}"),
                }
            }
            Event::End(TagEnd::Paragraph) => {
                paragraphs.push(words(&text.take().unwrap_or_default()));
            }
            Event::End(tag) => panic!("end of {tag:?} in:\n{md}"),
        }
    }
    assert_eq!(h1, [words(want.question)], "the one `#` heading:\n{md}");
    assert_eq!(
        h2, want.titles,
        "the `##` headings are the sections':\n{md}"
    );
    assert_eq!(code_blocks, 1, "only the figures are a code block:\n{md}");
    assert_eq!(quotes, 1, "only the rule is a quote:\n{md}");
    let failed = format!("Failed: {}", words(want.failed));
    assert!(
        emphasised.iter().any(|e| words(e) == failed),
        "{failed:?} in emphasis, not in {emphasised:?}:\n{md}"
    );
    for p in want.paragraphs {
        assert!(
            paragraphs.contains(&words(p)),
            "a paragraph {p:?}, not in {paragraphs:?}:\n{md}"
        );
    }
    let mut html = String::new();
    pulldown_cmark::html::push_html(&mut html, Parser::new_ext(md, options));
    html
}

/// An element's text: the tag, the class it must have (if any), and the text.
type Texts = Vec<(String, Option<String>, String)>;

/// Tokenizes `html` as a browser would (switching to raw text in `<title>`, `<style>`, ...),
/// checks that every tag is in `tags` with only the attributes in `attributes` (none of them a
/// handler or a `javascript:` value), no comments and no parse errors, and returns the text of
/// every element, innermost first, with its class.
fn check_html(html: &str, tags: &[&str], attributes: &[&str]) -> Texts {
    let mut emitter = html5gum::DefaultEmitter::default();
    emitter.naively_switch_states(true);
    let mut open: Vec<(String, Option<String>, String)> = Vec::new();
    let mut texts = Vec::new();
    let mut seen = BTreeSet::new();
    for token in Tokenizer::new_with_emitter(html, emitter) {
        match token.unwrap() {
            Token::StartTag(tag) => {
                let name = String::from_utf8_lossy(&tag.name).into_owned();
                assert!(tags.contains(&name.as_str()), "a <{name}> in:\n{html}");
                let mut class = None;
                for (attr, value) in &tag.attributes {
                    let attr = String::from_utf8_lossy(attr).into_owned();
                    let value = String::from_utf8_lossy(&value.value).into_owned();
                    assert!(
                        attributes.contains(&attr.as_str()) && !attr.starts_with("on"),
                        "<{name} {attr}={value:?}> in:\n{html}"
                    );
                    assert!(
                        !value.to_ascii_lowercase().contains("javascript:"),
                        "<{name} {attr}={value:?}> in:\n{html}"
                    );
                    if attr == "class" {
                        class = Some(value);
                    }
                }
                seen.insert(name.clone());
                let void = ["meta", "br"].contains(&name.as_str()) || tag.self_closing;
                if !void {
                    open.push((name, class, String::new()));
                }
            }
            Token::EndTag(tag) => {
                let name = String::from_utf8_lossy(&tag.name).into_owned();
                let (opened, class, text) = open
                    .pop()
                    .unwrap_or_else(|| panic!("</{name}> closes nothing in:\n{html}"));
                assert_eq!(opened, name, "tags nest in:\n{html}");
                if let Some(outer) = open.last_mut() {
                    outer.2.push_str(&text);
                }
                texts.push((name, class, words(&text)));
            }
            Token::String(s) => {
                if let Some(inner) = open.last_mut() {
                    inner.2.push_str(&String::from_utf8_lossy(&s));
                }
            }
            Token::Doctype(_) => {}
            Token::Comment(c) => panic!("a comment {c:?} in:\n{html}"),
            Token::Error(e) => panic!("a parse error {e:?} in:\n{html}"),
        }
    }
    assert!(open.is_empty(), "unclosed {open:?} in:\n{html}");
    assert!(!seen.contains("script") && !seen.contains("img") && !seen.contains("a"));
    texts
}

/// The texts of the `tag` elements (with `class`, when given).
fn texts_of<'a>(texts: &'a Texts, tag: &str, class: Option<&str>) -> Vec<&'a str> {
    texts
        .iter()
        .filter(|(t, c, _)| t == tag && (class.is_none() || c.as_deref() == class))
        .map(|(_, _, text)| text.as_str())
        .collect()
}

/// The tags and attributes the HTML page is written with.
const PAGE_TAGS: &[&str] = &[
    "html",
    "head",
    "meta",
    "title",
    "style",
    "body",
    "main",
    "h1",
    "h2",
    "p",
    "div",
    "span",
    "figure",
    "figcaption",
    "br",
    "section",
    "footer",
    "b",
    "em",
    "time",
];
const PAGE_ATTRIBUTES: &[&str] = &[
    "lang",
    "charset",
    "name",
    "content",
    "class",
    "title",
    "aria-label",
    "datetime",
];

/// The tags CommonMark writes for the Markdown export.
const MARKDOWN_TAGS: &[&str] = &[
    "h1",
    "h2",
    "p",
    "pre",
    "code",
    "strong",
    "em",
    "blockquote",
    "br",
];

/// What the exports of reading `id` in `home` must show.
struct Want<'a> {
    question: &'a str,
    failed: &'a str,
    paragraphs: &'a [&'a str],
}

/// Checks every export of reading `id` and what the terminal gets of it; returns the reading
/// as `show --format json` prints it.
async fn check_exports(home: &Path, id: &str, want: &Want<'_>) -> Value {
    let show = |format: &'static str| {
        let id = id.to_owned();
        async move {
            let run = cli::run(home, &["show", &id, "--format", format], KEY, &[]).await;
            assert_eq!(run.code, Some(0), "{run}");
            run
        }
    };
    let json = show("json").await;
    assert_clean("show --format json", &json.stdout);
    let report = json.json();
    // The sections, then the original Chinese of the texts the reading turns on.
    let titles: Vec<String> = cli::sections(&report)
        .iter()
        .map(|s| s["title"].as_str().unwrap().to_owned())
        .chain(["The original text".to_owned()])
        .collect();

    let md = show("md").await.stdout;
    assert_clean("the Markdown", &md);
    let want_md = WantMarkdown {
        question: want.question,
        titles: &titles,
        failed: want.failed,
        paragraphs: want.paragraphs,
    };
    for options in [Options::empty(), extended()] {
        let html = check_markdown(&md, options, &want_md);
        let texts = check_html(&html, MARKDOWN_TAGS, &[]);
        assert_eq!(
            texts_of(&texts, "h1", None),
            [words(want.question)],
            "{html}"
        );
    }

    let page = show("html").await.stdout;
    assert_clean("the HTML page", &page);
    let texts = check_html(&page, PAGE_TAGS, PAGE_ATTRIBUTES);
    let q = words(want.question);
    assert_eq!(
        texts_of(&texts, "title", None),
        [format!("{q} · I Ching reading")]
    );
    assert_eq!(texts_of(&texts, "h1", None), [q.as_str()]);
    assert_eq!(texts_of(&texts, "h2", None), titles);
    assert_eq!(
        texts_of(&texts, "p", Some("failed")),
        [format!("Failed: {}", words(want.failed))]
    );
    let page_paragraphs = texts_of(&texts, "p", None);
    for p in want.paragraphs {
        assert!(
            page_paragraphs.contains(&words(p).as_str()),
            "{p:?} in:\n{page}"
        );
    }

    let text = show("text").await.stdout;
    assert_clean("show --format text", &text);
    assert!(
        words(&text).contains(&format!("Question: {q}")),
        "{q:?} in:\n{text}"
    );
    for args in [&["history"][..], &["history", "--json"]] {
        let history = cli::run(home, args, KEY, &[]).await;
        assert_eq!(history.code, Some(0), "{history}");
        assert_clean("history", &history.stdout);
    }
    report
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_text_from_a_user_and_a_server_stays_text_in_every_export() {
    let server = FakeOpenAi::start(ServerConfig::default());
    let url = server.base_url();
    for (hostile, shown) in cases() {
        let home = tempfile::tempdir().unwrap();
        // The first section goes alone: it gets the error, the rest answer as `hostile`.
        // (A 403: never sent again. A 400 naming no field would be, without the optional
        // fields, and which section met the second refusal would be a race.)
        server.push_fault(Fault::StatusSaying(403, hostile.to_owned()));
        let cast = cli::run(
            home.path(),
            &[
                "cast",
                "--lines",
                "9,8,7,7,6,8",
                "--provider",
                "openai",
                "--base-url",
                &url,
                &format!("--model={hostile}"),
                "--format",
                "json",
                "--",
                hostile,
            ],
            KEY,
            &[],
        )
        .await;
        assert_eq!(cast.code, Some(3), "one section failed: {cast}");
        assert_eq!(server.pending_faults(), 0);
        let report = cast.json();
        let sections = cli::sections(&report);
        let failed: Vec<&Value> = sections
            .iter()
            .filter(|s| s["status"] == "failed")
            .collect();
        assert_eq!(failed.len(), 1, "{report}");
        let error = failed[0]["error"].as_str().unwrap();
        assert!(words(error).contains(&words(shown)), "{error:?}");
        // The server's name for its model is kept to 100 characters.
        for s in sections.iter().filter(|s| s["status"] == "complete") {
            let model = words(s["model"].as_str().unwrap());
            assert!(!model.is_empty() && words(shown).starts_with(&model), "{s}");
        }
        check_exports(
            home.path(),
            "1",
            &Want {
                question: shown,
                failed: error,
                paragraphs: &[],
            },
        )
        .await;
    }
    server.shutdown().await;
}

/// Writes the reading `9,8,7,7,6,8` into the store in `home` with `hostile` as its question and
/// model, as the error of its first section and as the text of its second, as a writer that
/// cleaned nothing would have.
fn store_hostile_reading(home: &Path, hostile: &str) {
    let reading = Reading::new(Cast::manual(Cast::parse_lines("9,8,7,7,6,8").unwrap()));
    let planned = iching::plan::plan(&reading);
    let store = Store::open(home, Unlock::default()).unwrap();
    let id = store
        .create_reading(&NewReading {
            question: hostile.to_owned(),
            context: Some(hostile.to_owned()),
            method: "manual".to_owned(),
            lines: reading.values(),
            seed: None,
            primary: reading.primary.number,
            resulting: reading.resulting.map(|h| h.number),
            sections_planned: u32::try_from(planned.len()).unwrap(),
            provider: "openai".to_owned(),
            model: hostile.to_owned(),
        })
        .unwrap();
    let meta = |section: u8, status| SectionFigures {
        section_id: section,
        status,
        attempts: 1,
        started_ms: Some(0),
        finished_ms: 10,
        latency_ms: 10,
        ttft_ms: None,
        prompt_tokens: Some(1),
        completion_tokens: Some(1),
        usage: None,
        model: Some(hostile.to_owned()),
        updated_at: 0,
        reasoning_tokens: None,
        cached_tokens: None,
        failed_prompt_tokens: None,
        failed_completion_tokens: None,
        error_kind: None,
    };
    let failed = PartText {
        error: Some(hostile.to_owned()),
        ..PartText::default()
    };
    let spans = serde_json::json!([{"spans": [
        {"text": format!("{hostile} ")},
        {"text": hostile, "bold": true},
    ]}]);
    let complete = PartText {
        response: Some(hostile.to_owned()),
        paragraphs: Some(spans.to_string()),
        ..PartText::default()
    };
    let (first, second) = (planned[0].id(), planned[1].id());
    store
        .save_parts(
            id,
            &[
                (&meta(first, SectionStatus::Failed), &failed),
                (&meta(second, SectionStatus::Complete), &complete),
            ],
        )
        .unwrap();
    let ids: Vec<u8> = planned.iter().map(|s| s.id()).collect();
    store.finish(id, &ids, false).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_text_left_in_the_store_stays_text_in_every_export() {
    for (hostile, shown) in cases() {
        let home = tempfile::tempdir().unwrap();
        store_hostile_reading(home.path(), hostile);
        let twice = format!("{shown} {shown}");
        let report = check_exports(
            home.path(),
            "1",
            &Want {
                question: shown,
                failed: shown,
                paragraphs: &[&twice],
            },
        )
        .await;
        // The JSON keeps what was stored whole, with what a terminal would act on escaped.
        assert_eq!(report["question"], hostile);
        let sections = cli::sections(&report);
        let failed: Vec<&Value> = sections
            .iter()
            .filter(|s| s["status"] == "failed")
            .collect();
        assert_eq!(failed.len(), 1, "{report}");
        assert_eq!(failed[0]["error"], hostile);
        let models: Vec<&Value> = sections
            .iter()
            .map(|s| &s["model"])
            .filter(|m| !m.is_null())
            .collect();
        assert_eq!(models, [hostile], "{report}");
    }
}

#[test]
fn the_check_catches_what_it_is_for() {
    // The checks themselves: a live construct in either format fails them.
    let titles = [String::from("T")];
    let want = WantMarkdown {
        question: "Q",
        titles: &titles,
        failed: "F",
        paragraphs: &[],
    };
    let good = "# Q\n\n```\nx\n```\n\n> rule\n\n## T\n\n*Failed: F*\n";
    check_markdown(good, extended(), &want);
    for bad in [
        "# Q <img src=x>\n",
        "# Q\n\n[a](javascript:x)\n",
        "# Q\n\n![a](http://evil/)\n",
        "# Q\n\n# R\n",
        "# Q {onclick=x}\n",
        "# Q\n\n| a | b |\n|---|---|\n",
        "# Q\n\n`c`\n",
        "# Q\n\n***\n",
    ] {
        let doc = good.replacen("# Q\n", bad, 1);
        let caught = std::panic::catch_unwind(|| check_markdown(&doc, extended(), &want));
        assert!(caught.is_err(), "not caught: {bad:?}");
    }
    check_html(
        "<p class=\"failed\">a &lt;b&gt;</p>",
        PAGE_TAGS,
        PAGE_ATTRIBUTES,
    );
    for bad in [
        "<p><img src=x onerror=alert(1)></p>",
        "<title></title><script>alert(1)</script><title></title>",
        "<p onclick=\"x\">a</p>",
        "<p class=\"javascript:x\">a</p>",
        "<p><!-- x --></p>",
    ] {
        let caught = std::panic::catch_unwind(|| check_html(bad, PAGE_TAGS, PAGE_ATTRIBUTES));
        assert!(caught.is_err(), "not caught: {bad:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_journal_exports_every_reading_newest_first_with_its_journal_escaped() {
    let home = tempfile::tempdir().unwrap();
    let hostile = "<script>alert(1)</script> # [x](http://e) *Go*?";
    let offline = |args: &[&str]| {
        let mut all: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        all.extend(["--provider".into(), "offline".into()]);
        all
    };
    for (q, lines) in [
        ("Move to the coast?", "9,8,7,7,6,8"),
        (hostile, "7,7,7,7,7,7"),
    ] {
        let mut args = offline(&["cast", "--lines", lines]);
        args.extend(["--".to_owned(), q.to_owned()]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = cli::run(home.path(), &args, "", &[]).await;
        assert_eq!(out.code, Some(0), "{out}");
    }
    let note = cli::run(
        home.path(),
        &["note", "1", "We stayed inland.", "--outcome"],
        "",
        &[],
    )
    .await;
    assert_eq!(note.code, Some(0), "{note}");
    let args = offline(&["ask", "2", "And the <b>rain</b>?"]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let ask = cli::run(home.path(), &args, "", &[]).await;
    assert_eq!(ask.code, Some(0), "{ask}");
    let out_dir = tempfile::tempdir().unwrap();
    let file = |name: &str| out_dir.path().join(name).to_str().unwrap().to_owned();
    // JSON: every reading, newest first, with its notes and follow-ups.
    let json = cli::run(
        home.path(),
        &["export", "--format", "json", "-o", &file("j.json")],
        "",
        &[],
    )
    .await;
    assert_eq!(json.code, Some(0), "{json}");
    let all: Value =
        serde_json::from_str(&std::fs::read_to_string(file("j.json")).unwrap()).unwrap();
    let all = all.as_array().unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(
        (all[0]["id"].as_i64(), all[1]["id"].as_i64()),
        (Some(2), Some(1))
    );
    assert_eq!(all[0]["followups"][0]["question"], "And the <b>rain</b>?");
    assert_eq!(all[1]["notes"][0]["kind"], "outcome");
    // Markdown: one title, each reading a heading below it, nothing a viewer would make live.
    let md_out = cli::run(home.path(), &["export", "-o", &file("j.md")], "", &[]).await;
    assert_eq!(md_out.code, Some(0), "{md_out}");
    let md = std::fs::read_to_string(file("j.md")).unwrap();
    let mut headings = Vec::new();
    let mut in_heading = None;
    for event in Parser::new_ext(&md, extended()) {
        match event {
            Event::Html(h) | Event::InlineHtml(h) => panic!("live HTML in the journal: {h}"),
            Event::Start(Tag::Link { .. } | Tag::Image { .. }) => panic!("a link in: {md}"),
            Event::Start(Tag::Heading { level, .. }) => in_heading = Some((level, String::new())),
            Event::Text(t) | Event::Code(t) => {
                if let Some((_, text)) = in_heading.as_mut() {
                    text.push_str(&t);
                }
            }
            Event::End(TagEnd::Heading(_)) => headings.extend(in_heading.take()),
            _ => {}
        }
    }
    let top: Vec<&str> = headings
        .iter()
        .filter(|(l, _)| *l <= HeadingLevel::H2)
        .map(|(_, t)| t.as_str())
        .collect();
    assert_eq!(
        top,
        ["I Ching journal", hostile, "Move to the coast?"],
        "{md}"
    );
    assert!(md.contains("We stayed inland."));
    // HTML: one page, an article per reading, the markup text as text.
    let html_out = cli::run(
        home.path(),
        &[
            "export",
            "--format",
            "html",
            "--search",
            "coast",
            "-o",
            &file("j.html"),
        ],
        "",
        &[],
    )
    .await;
    assert_eq!(html_out.code, Some(0), "{html_out}");
    let html = std::fs::read_to_string(file("j.html")).unwrap();
    assert_eq!(html.matches("<article>").count(), 1);
    assert!(!html.contains("<script>") && !html.contains("<b>rain"));
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(file("j.html")).unwrap().permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
    // Never over a file; nothing found is said.
    let again = cli::run(home.path(), &["export", "-o", &file("j.md")], "", &[]).await;
    assert_eq!(again.code, Some(2), "{again}");
    assert!(again.stderr.contains("already exists"), "{again}");
    assert_eq!(std::fs::read_to_string(file("j.md")).unwrap(), md);
    let none = cli::run(
        home.path(),
        &["export", "--search", "zzz", "-o", &file("z.md")],
        "",
        &[],
    )
    .await;
    assert_eq!(none.code, Some(2), "{none}");
    assert!(none.stderr.contains("none matches the filter"), "{none}");
    // Without --output: a new file in export_dir, named after the journal.
    std::fs::write(
        home.path().join("config.toml"),
        format!("export_dir = {:?}\n", out_dir.path().to_str().unwrap()),
    )
    .unwrap();
    for name in ["iching-journal.md", "iching-journal-2.md"] {
        let out = cli::run(home.path(), &["export"], "", &[]).await;
        assert_eq!(out.code, Some(0), "{out}");
        assert!(out.stdout.contains(name), "{out}");
        assert!(out_dir.path().join(name).exists());
    }
}
