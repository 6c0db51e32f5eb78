use super::*;
use crate::model::Query;
use crate::oracle::{Cast, LineValue};

fn reading(values: [u8; 6]) -> Reading {
    Reading::new(Cast::manual(values.map(|v| LineValue::new(v).unwrap())))
}

/// Values with the lines in `changing` (1-based) changing and the rest unchanging.
fn with_changing(changing: &[u8]) -> [u8; 6] {
    std::array::from_fn(|i| {
        let n = i as u8 + 1;
        match (changing.contains(&n), i % 2 == 0) {
            (true, true) => 9,
            (true, false) => 6,
            (false, true) => 7,
            (false, false) => 8,
        }
    })
}

#[test]
fn ids_and_names_follow_the_design_table() {
    let table: [(u8, &str); 15] = [
        (1, "openingStatements"),
        (2, "initialHexagramJudgement"),
        (3, "initialHexagramImage"),
        (4, "changingLinesLine1"),
        (5, "changingLinesLine2"),
        (6, "changingLinesLine3"),
        (7, "changingLinesLine4"),
        (8, "changingLinesLine5"),
        (9, "changingLinesLine6"),
        (10, "changingLinesAll"),
        (11, "tenWingsInsights"),
        (12, "resultingHexagramJudgment"),
        (13, "resultingHexagramImage"),
        (14, "synthesisAndGuidance"),
        (18, "conclusionText"),
    ];
    for (section, (id, name)) in Section::ALL.into_iter().zip(table) {
        assert_eq!((section.id(), section.name().as_str()), (id, name));
        assert_eq!(Section::from_id(id), Some(section));
    }
    for reserved in [0, 15, 16, 17, 19] {
        assert_eq!(Section::from_id(reserved), None);
    }
    let mut sorted = Section::ALL;
    sorted.sort();
    assert_eq!(sorted, Section::ALL, "variant order is reading order");
}

#[test]
fn plan_for_every_count_and_position_of_changing_lines() {
    // Every subset of the six positions: 64 cases covering 0..=6 changing lines.
    for mask in 0u8..64 {
        let changing: Vec<u8> = (1..=6).filter(|n| mask >> (n - 1) & 1 == 1).collect();
        let sections = plan(&reading(with_changing(&changing)));
        let ids: Vec<u8> = sections.iter().map(|s| s.id()).collect();

        let mut expected = vec![1, 2, 3];
        expected.extend(changing.iter().map(|n| n + 3));
        if changing.len() == 6 {
            expected.push(10);
        }
        expected.push(11);
        if !changing.is_empty() {
            expected.extend([12, 13]);
        }
        expected.extend([14, 18]);
        assert_eq!(ids, expected, "changing lines {changing:?}");

        let count = match changing.len() {
            0 => 6,
            6 => 15,
            k => 8 + k,
        };
        assert_eq!(sections.len(), count, "changing lines {changing:?}");
    }
}

#[test]
fn the_issue_example_plans_ten_sections() {
    let ids: Vec<u8> = plan(&reading([9, 8, 7, 7, 6, 8]))
        .iter()
        .map(|s| s.id())
        .collect();
    assert_eq!(ids, [1, 2, 3, 4, 8, 11, 12, 13, 14, 18]);
}

#[test]
fn envelope_for_a_changing_line_names_the_last_changing_line() {
    let r = reading([9, 8, 7, 7, 6, 8]);
    let v = serde_json::to_value(envelope(&r, &Query::new("Q"), None)).unwrap();
    assert_eq!(v["numberOfChangingLines"], 2);
    assert_eq!(v["changingLines"][0]["lineNumber"], 1);
    assert_eq!(v["changingLines"][0]["isLastChangingLine"], false);
    assert_eq!(v["changingLines"][1]["lineNumber"], 5);
    assert_eq!(v["changingLines"][1]["isLastChangingLine"], true);
    assert_eq!(v["resultingHexagram"]["number"], 31);
    // Every text any section needs, once: judgment and image of both hexagrams, both changing
    // lines, the nuclear hexagram's judgment.
    let sources: Vec<&str> = v["texts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["source"].as_str().unwrap())
        .collect();
    assert_eq!(sources.len(), 7, "{sources:?}");
    assert!(sources.iter().any(|s| s.ends_with("line 5")));
    assert!(
        v["texts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["text"].as_str().unwrap().starts_with("The fifth SIX"))
    );

    let still = reading([7, 8, 7, 7, 8, 8]);
    let v = serde_json::to_value(envelope(&still, &Query::new("Q"), None)).unwrap();
    assert!(v["resultingHexagram"].is_null());
    assert_eq!(v["numberOfChangingLines"], 0);
    assert_eq!(v["changingLines"], serde_json::json!([]));
}

#[test]
fn the_chinese_texts_follow_the_sections() {
    let sources = |r: &Reading, section: Section| -> Vec<String> {
        super::envelope::section_chinese(r, section)
            .into_iter()
            .map(|t| t.source)
            .collect()
    };
    // 55 Feng, lines 1 and 5 changing, to 31 Xian.
    let r = reading([9, 8, 7, 7, 6, 8]);
    assert_eq!(
        sources(&r, Section::ChangingLine(5)),
        [
            "Feng (55), line 5 (爻辞)",
            "Feng (55), line 5, Small Image (小象)"
        ]
    );
    assert_eq!(
        sources(&r, Section::TenWingsInsights),
        [
            "Feng (55), Tuan (彖传)",
            "Feng (55), Great Image (大象)",
            "Feng (55), Xugua (序卦)",
            "Feng (55), Zagua (杂卦)",
            "Xian (31), Tuan (彖传)",
            "Xian (31), Great Image (大象)",
            "Xian (31), Xugua (序卦)",
            "Xian (31), Zagua (杂卦)",
        ]
    );
    let v = serde_json::to_value(envelope(&r, &Query::new("Q"), None)).unwrap();
    let all = v["chineseTexts"].as_array().unwrap();
    assert_eq!(all.len(), 14, "each passage once: {all:?}");
    // Qian with all six lines changing: 用九 with its Small Image; the Wenyan stays out of the
    // envelope (every section would carry it).
    let r = reading([9; 6]);
    let all = sources(&r, Section::ChangingLinesAll);
    assert!(all.contains(&"Qian (1), 用九".to_owned()), "{all:?}");
    assert!(all.contains(&"Qian (1), 用九, Small Image (小象)".to_owned()));
    let json = serde_json::to_string(&envelope(&r, &Query::new("Q"), None)).unwrap();
    assert!(json.contains("用九：见群龙无首，吉。"));
    assert!(!json.contains("Wenyan") && !json.contains("元者，善之长也"));
}

#[test]
fn every_section_has_an_instruction_with_the_format() {
    let prompts = Prompts::default();
    for values in [[9, 9, 9, 9, 9, 9], [7, 8, 7, 7, 8, 8]] {
        let r = reading(values);
        let set = PromptSet::for_reading(&r);
        for section in plan(&r) {
            let text = prompts.instruction(set, section);
            assert!(text.contains("{\"response\""), "{section}: format");
            assert!(text.contains("words"), "{section}: word range");
            assert!(text.contains("paragraph"), "{section}: paragraph count");
            assert!(
                !text.contains("{lineNumber}"),
                "{section}: placeholder filled"
            );
        }
    }
    assert!(
        prompts
            .instruction(PromptSet::Changing, Section::ChangingLine(4))
            .contains("line 4")
    );
    // The unchanging set is its own, deeper text.
    assert_ne!(
        prompts.instruction(PromptSet::Changing, Section::InitialHexagramJudgement),
        prompts.instruction(PromptSet::Unchanging, Section::InitialHexagramJudgement)
    );
}

#[test]
fn overrides_replace_one_instruction() {
    let mut prompts = Prompts::default();
    assert!(prompts.set_override("changing/conclusionText.md", "Say goodbye.".into()));
    assert!(!prompts.set_override("changing/noSuchSection.md", "x".into()));
    assert_eq!(
        prompts.instruction(PromptSet::Changing, Section::ConclusionText),
        "Say goodbye."
    );
    assert_ne!(
        prompts.instruction(PromptSet::Unchanging, Section::ConclusionText),
        "Say goodbye."
    );
    assert!(prompts.set_override("system.md", "Be brief.".into()));
    let messages = build_messages(
        &prompts,
        &reading([9, 8, 7, 7, 6, 8]),
        &Query::new("Q"),
        Section::ConclusionText,
    );
    assert_eq!(messages[0].content, "Be brief.");
    assert!(messages[1].content.contains("\n\nSay goodbye."));
    assert_eq!(Prompts::override_names().count(), 18);
    assert!(prompts.set_override("followup.md", "Answer in one line.".into()));
    assert_eq!(prompts.followup(), "Answer in one line.");
}

#[test]
fn every_section_of_a_reading_shares_the_prefix_up_to_its_instruction() {
    let r = reading([9, 8, 7, 7, 6, 8]);
    let prompts = Prompts::default();
    let all: Vec<Vec<ChatMessage>> = plan(&r)
        .into_iter()
        .map(|s| build_messages(&prompts, &r, &Query::new("Should I go?"), s))
        .collect();
    let data = reading_json(&r, &Query::new("Should I go?"), None);
    for m in &all {
        assert_eq!(m[0].content, all[0][0].content);
        assert!(
            m[1].content
                .starts_with(&format!("The reading (JSON):\n{data}\n\n"))
        );
    }
    // The shared part is most of each request: the instruction comes last and is short.
    let shared = all[0][0].content.len() + "The reading (JSON):\n".len() + data.len();
    for m in &all {
        let whole = m[0].content.len() + m[1].content.len();
        assert!(shared * 10 > whole * 7, "{shared} of {whole}");
    }
    // A line section is pointed at its own line.
    let line = build_messages(&prompts, &r, &Query::new("Q"), Section::ChangingLine(5));
    assert!(line[1].content.contains("line 5."), "{}", line[1].content);
}

/// Any change to what is sent to a model shows up here in review.
#[test]
fn snapshot_of_a_full_request() {
    let r = reading([9, 8, 7, 7, 6, 8]);
    let messages = build_messages(
        &Prompts::default(),
        &r,
        &Query::new("Should I take the new job in Lisbon?"),
        Section::ChangingLine(1),
    );
    insta::assert_snapshot!(format!(
        "--- system ---\n{}\n--- user ---\n{}",
        messages[0].content, messages[1].content
    ));
}

/// The JSON written around the escaped shared parts is what serde_json writes for the same
/// messages, byte for byte: for every section of a changing and an unchanging reading, with a
/// question full of characters JSON escapes, in a language other than the question's.
#[test]
fn the_messages_json_is_serde_json_s_own() {
    let mut prompts = Prompts::default();
    assert!(prompts.set_override("system.md", "Be \"brief\"\n\ttab \\ \u{1} 豐".into()));
    let query = Query::with_context(
        "Should I \"go\"?\n\\ \u{7} \u{1b}[2J 我应该去吗",
        Some("Line one\r\nline \"two\"".into()),
    );
    for lines in [[9, 8, 7, 7, 6, 8], [7, 8, 7, 8, 7, 8]] {
        let r = reading(lines);
        for language in [None, Some("中文 \"zh\"")] {
            let data = ReadingData::new(&prompts, &r, &query, language);
            for section in plan(&r) {
                let built = messages_with(&prompts, &r, &data, section);
                assert_eq!(
                    built.json.get(),
                    serde_json::to_string(&built.messages).unwrap(),
                    "{section:?}"
                );
                assert!(built.messages[1].content.starts_with(&format!(
                    "The reading (JSON):\n{}\n\n",
                    reading_json(&r, &query, language)
                )));
            }
        }
    }
}
