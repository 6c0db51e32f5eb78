//! `iching hexagram` run as a user runs it: the real binary, no store, every format; names with
//! and without tone marks, English names, and the usage errors of a name that is unknown or that
//! several hexagrams share.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test or tool fails by panicking"
)]

use crate::support;

use std::process::Output;

use pulldown_cmark::{Event, HeadingLevel, Parser, Tag};
use serde_json::Value;

/// Runs `iching ARGS` in an empty home (which it must leave empty) with `env`.
fn iching_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    let home = tempfile::tempdir().unwrap();
    let mut c = support::cli::std_binary();
    c.args(args)
        .env("ICHING_HOME", home.path())
        .env("NO_COLOR", "1");
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.output().unwrap();
    let left: Vec<_> = std::fs::read_dir(home.path()).unwrap().collect();
    assert!(left.is_empty(), "`hexagram` wrote to the home: {left:?}");
    out
}

fn iching(args: &[&str]) -> Output {
    iching_env(args, &[])
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn json(args: &[&str]) -> Value {
    let out = iching(args);
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn the_text_page_has_the_figure_names_trigrams_nuclear_and_legge() {
    let out = iching(&["hexagram", "34"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.starts_with("䷡ 34 Dà Zhuàng 大壮 (Great Strength)\nWilhelm: The Power of the Great · Wade-Giles: Ta Chuang\nLegge: Tâ Kwang\nChinese in simplified characters (简体); traditional 大壯\n\n  6  ━━━ ━━━\n"),
        "{text}"
    );
    for want in [
        "  1  ━━━━━━━\n",
        "Above:   ☳ Zhen 震 (Thunder)",
        "Below:   ☰ Qian 乾 (Heaven)",
        "Nuclear: ䷪ 43 Guài 夬",
        "\nThe judgment\n  Tâ Kwang indicates",
        "\nThe image\n  (The trigram representing) heaven",
        "\nThe lines\n  1  The first NINE, undivided,",
        "\n  6  The sixth SIX, divided,",
    ] {
        assert!(text.contains(want), "{want:?} in\n{text}");
    }
    assert!(!text.contains("The use of the"));
    assert!(out.stderr.is_empty(), "{}", stderr(&out));
    // Wrapped at COLUMNS (40 to 100).
    let narrow = stdout(&iching_env(&["hexagram", "34"], &[("COLUMNS", "50")]));
    for line in narrow.lines() {
        assert!(line.chars().count() <= 50, "{line:?}");
    }
    assert!(stdout(&iching(&["hexagram", "1"])).contains("\nThe use of the nines\n  (The lines"));
}

#[test]
fn json_has_the_issue_fields_for_every_hexagram() {
    for n in 1..=64u64 {
        let v = json(&["hexagram", &n.to_string(), "--format", "json"]);
        assert_eq!(v["number"], n);
        for field in [
            "name", "pinyin", "chinese", "english", "legge", "symbol", "judgment", "image",
        ] {
            assert!(!v[field].as_str().unwrap().is_empty(), "#{n} {field}");
        }
        for t in ["upper", "lower"] {
            for field in [
                "name",
                "chinese",
                "symbol",
                "english",
                "image",
                "attribute",
                "family",
            ] {
                assert!(v[t][field].is_string(), "#{n} {t}.{field}");
            }
        }
        assert!((1..=64).contains(&v["nuclear"]["number"].as_u64().unwrap()));
        let lines = v["lines"].as_array().unwrap();
        assert_eq!(lines.len(), 6);
        for (i, l) in lines.iter().enumerate() {
            assert_eq!(l["position"], i as u64 + 1);
            let marker = if l["yang"].as_bool().unwrap() {
                "NINE"
            } else {
                "SIX"
            };
            assert!(
                l["text"].as_str().unwrap().contains(marker),
                "#{n} line {}",
                i + 1
            );
        }
        assert_eq!(v["all_lines"].is_string(), n <= 2, "#{n}");
    }
    let v = json(&["hexagram", "Feng", "--format", "json"]);
    assert_eq!(v["number"], 55);
    assert_eq!(v["name"], "Feng");
    assert_eq!(v["pinyin"], "Fēng");
    assert_eq!(v["symbol"], "䷶");
    assert_eq!(v["upper"]["name"], "Zhen");
    assert_eq!(v["lower"]["name"], "Li");
    assert_eq!(v["nuclear"]["number"], 28);
    assert!(
        v["judgment"]
            .as_str()
            .unwrap()
            .starts_with("Făng intimates")
    );
}

#[test]
fn names_match_with_or_without_tones_in_any_case_and_in_english() {
    let number = |args: &[&str]| {
        let mut a = vec!["hexagram"];
        a.extend_from_slice(args);
        a.extend(["--format", "json"]);
        json(&a)["number"].as_u64().unwrap()
    };
    assert_eq!(number(&["Qián"]), 1);
    assert_eq!(number(&["QIĀN"]), 15);
    assert_eq!(number(&["da", "zhuang"]), 34);
    assert_eq!(number(&["Dà Zhuàng"]), 34);
    assert_eq!(number(&["heaven"]), 1);
    assert_eq!(number(&["The", "Well"]), 48);
    assert_eq!(number(&["大壯"]), 34);
    assert_eq!(number(&["䷀"]), 1);
    assert_eq!(number(&["Tâ", "Kwang"]), 34);
    assert_eq!(number(&["大壮"]), 34);
}

#[test]
fn the_names_people_use_wilhelm_baynes_and_wade_giles_find_their_hexagram() {
    let out = iching(&["hexagram", "the creative"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out)
            .starts_with("䷀ 1 Qián 乾 (Heaven)\nWilhelm: The Creative · Wade-Giles: Ch’ien\n"),
        "{}",
        stdout(&out)
    );
    for (args, n) in [
        (&["youthful", "folly"][..], 4u64),
        (&["inner truth"], 61),
        (&["Keeping", "Still"], 52),
        (&["wei", "chi"], 64),
        (&["Wei Chi"], 64),
    ] {
        let mut a = vec!["hexagram"];
        a.extend_from_slice(args);
        a.extend(["--format", "json"]);
        let v = json(&a);
        assert_eq!(v["number"], n, "{args:?}");
    }
    let v = json(&["hexagram", "61", "--format", "json"]);
    assert_eq!(v["wilhelm"], "Inner Truth");
    assert_eq!(v["wade_giles"], "Chung Fu");
    assert_eq!(v["simplified"], "中孚");
    // Without tones two hexagrams share "kun": a usage error listing both with their tones.
    let out = iching(&["hexagram", "kun"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("\"kun\" names 2 hexagrams: 2 Kūn 坤 (Earth), 47 Kùn 困"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn an_ambiguous_or_unknown_name_is_a_usage_error_that_lists_the_candidates() {
    let out = iching(&["hexagram", "qian"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(out.stdout.is_empty());
    let err = stderr(&out);
    assert!(
        err.contains("\"qian\" names 2 hexagrams: 1 Qián 乾 (Heaven), 15 Qiān 谦 (Humility)"),
        "{err}"
    );

    let out = iching(&["hexagram", "great"]);
    assert_eq!(out.status.code(), Some(2));
    for n in ["14 Dà Yǒu", "26 Dà Xù", "28 Dà Guò", "34 Dà Zhuàng"] {
        assert!(stderr(&out).contains(n), "{n}: {}", stderr(&out));
    }

    let out = iching(&["hexagram", "qain"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("no hexagram is called \"qain\"; near it: 1 Qián"),
        "{}",
        stderr(&out)
    );

    for bad in ["0", "65", "nothing-like-it"] {
        let out = iching(&["hexagram", bad]);
        assert_eq!(out.status.code(), Some(2), "{bad}: {}", stderr(&out));
        assert!(out.stdout.is_empty());
    }
    // What the user typed comes back cleaned: no escape reaches the terminal.
    let out = iching(&["hexagram", "\u{1b}]0;owned\u{7}x\u{202e}y"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        !stderr(&out).contains('\u{1b}') && !stderr(&out).contains('\u{202e}'),
        "{:?}",
        stderr(&out)
    );
    // No name at all is clap's usage error.
    assert_eq!(iching(&["hexagram"]).status.code(), Some(2));
}

#[test]
fn markdown_reads_as_the_page_with_no_markup_from_the_text() {
    let out = iching(&["hexagram", "2", "--format", "md"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let md = stdout(&out);
    let mut headings = Vec::new();
    let mut in_heading = None;
    for event in Parser::new(&md) {
        match event {
            Event::Html(h) | Event::InlineHtml(h) => panic!("HTML in the Markdown: {h}"),
            Event::Start(Tag::Link { .. } | Tag::Image { .. }) => panic!("a link in {md}"),
            Event::Start(Tag::Heading { level, .. }) => in_heading = Some((level, String::new())),
            Event::Text(t) => {
                if let Some((_, s)) = in_heading.as_mut() {
                    s.push_str(&t);
                }
            }
            Event::End(pulldown_cmark::TagEnd::Heading(_)) => headings.extend(in_heading.take()),
            _ => {}
        }
    }
    assert_eq!(
        headings,
        [
            (HeadingLevel::H1, "䷁ 2 Kūn 坤 (Earth)".to_owned()),
            (HeadingLevel::H2, "The judgment".to_owned()),
            (HeadingLevel::H2, "The image".to_owned()),
            (HeadingLevel::H2, "The lines".to_owned()),
            (HeadingLevel::H2, "The use of the sixes".to_owned()),
            (HeadingLevel::H2, "From the Ten Wings".to_owned()),
            (HeadingLevel::H2, "Wenyan 文言".to_owned()),
        ]
    );
    // The original under each of Legge's texts, a paragraph of its own.
    for want in [
        "\n\n坤：元亨。利牝马之贞。",
        "\n\n彖曰：至哉坤元，",
        "\n\n地势坤，君子以厚德载物。\n\n",
        "\n\n上六：龙战于野，其血玄黄。\n\n象曰：",
        "\n\n用六：利永贞。\n\n",
        "\n\n序卦：有天地，然后万物生焉。\n\n杂卦：乾刚坤柔，比乐师忧。\n\n",
    ] {
        assert!(md.contains(want), "{want:?} in {md}");
    }
    assert!(
        md.contains("**Line 6.** The sixth SIX, divided, (shows) dragons"),
        "{md}"
    );
}

#[test]
fn json_carries_the_classical_chinese_text() {
    let v = json(&["hexagram", "1", "--format", "json"]);
    let c = &v["chinese_text"];
    assert_eq!(v["chinese"], "乾", "the name stays as it was");
    assert_eq!(c["judgment"], "乾：元亨。利贞。");
    assert_eq!(c["line_texts"][0], "初九：潜龙勿用。");
    assert_eq!(c["line_texts"].as_array().unwrap().len(), 6);
    assert_eq!(c["line_images"][0], "潜龙勿用，阳在下也。");
    assert_eq!(c["image"], "天行健，君子以自强不息。");
    assert!(c["tuan"].as_str().unwrap().starts_with("大哉乾元"));
    assert_eq!(c["all_lines"], "用九：见群龙无首，吉。");
    assert_eq!(c["zagua"], "乾刚坤柔，比乐师忧。");
    assert!(c["wenyan"].as_array().unwrap().len() > 1);
    let other = json(&["hexagram", "55", "--format", "json"]);
    assert_eq!(other["chinese_text"]["all_lines"], Value::Null);
    assert_eq!(other["chinese_text"]["wenyan"], Value::Null);
    assert_eq!(
        other["chinese_text"]["xugua"],
        "得其所归者必大，故受之以丰；丰者大也。"
    );
    // The text page has the original under Legge's, wrapped in columns (two to a character).
    let text = stdout(&iching_env(&["hexagram", "1"], &[("COLUMNS", "40")]));
    assert!(text.contains("\n  乾：元亨。利贞。\n"), "{text}");
    assert!(text.contains("\n     初九：潜龙勿用。\n"), "{text}");
    for line in text.lines() {
        assert!(
            unicode_width::UnicodeWidthStr::width(line) <= 40,
            "{line:?}"
        );
    }
}

#[test]
fn a_missing_home_is_no_matter_to_a_command_that_uses_none() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("not-there");
    let out = support::cli::std_binary()
        .args(["--home", home.to_str().unwrap(), "hexagram", "55"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!home.exists(), "the home was created");
}
