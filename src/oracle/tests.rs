use super::*;

/// The King Wen chart, independent of the embedded data: rows are the upper trigram, columns the
/// lower, both in the order Qian, Zhen, Kan, Gen, Kun, Xun, Li, Dui.
const KING_WEN_CHART: [[u8; 8]; 8] = [
    [1, 25, 6, 33, 12, 44, 13, 10],
    [34, 51, 40, 62, 16, 32, 55, 54],
    [5, 3, 29, 39, 8, 48, 63, 60],
    [26, 27, 4, 52, 23, 18, 22, 41],
    [11, 24, 7, 15, 2, 46, 36, 19],
    [9, 42, 59, 53, 20, 57, 37, 61],
    [14, 21, 64, 56, 35, 50, 30, 38],
    [43, 17, 47, 31, 45, 28, 49, 58],
];
/// Trigram line patterns (bit 0 = bottom) in the chart's order.
const CHART_TRIGRAMS: [(u8, &str); 8] = [
    (0b111, "Qian"),
    (0b001, "Zhen"),
    (0b010, "Kan"),
    (0b100, "Gen"),
    (0b000, "Kun"),
    (0b110, "Xun"),
    (0b101, "Li"),
    (0b011, "Dui"),
];

fn cast(values: [u8; 6]) -> Reading {
    Reading::new(Cast::manual(values.map(|v| LineValue::new(v).unwrap())))
}

#[test]
fn all_64_patterns_match_the_king_wen_chart() {
    let mut seen = std::collections::HashSet::new();
    for (row, &(upper, upper_name)) in CHART_TRIGRAMS.iter().enumerate() {
        for (col, &(lower, lower_name)) in CHART_TRIGRAMS.iter().enumerate() {
            let bits = lower | upper << 3;
            let h = hexagram_by_pattern(bits);
            assert_eq!(h.number, KING_WEN_CHART[row][col], "pattern {bits:06b}");
            assert_eq!(h.pattern, bits);
            assert_eq!(h.upper().name_pinyin, upper_name);
            assert_eq!(h.lower().name_pinyin, lower_name);
            assert_eq!((h.upper().pattern, h.lower().pattern), (upper, lower));
            let symbol = char::from_u32(0x4DC0 + u32::from(h.number) - 1).unwrap();
            assert_eq!(h.symbol, symbol.to_string());
            assert!(seen.insert(h.number));
        }
    }
    assert_eq!(seen.len(), 64);
    for n in 1..=64 {
        assert_eq!(hexagram(n).unwrap().number, n);
    }
    assert!(hexagram(0).is_none() && hexagram(65).is_none());
}

#[test]
fn every_hexagram_has_its_legge_text() {
    for h in all_hexagrams() {
        assert!(
            !h.judgment.is_empty() && !h.image.is_empty(),
            "{}",
            h.number
        );
        for (i, text) in h.line_texts.iter().enumerate() {
            // Legge marks a yang line NINE and a yin line SIX: the text lines up with the pattern.
            let marker = if h.is_yang(i as u8 + 1) {
                "NINE"
            } else {
                "SIX"
            };
            let upper = text.to_uppercase();
            assert!(
                upper.contains(marker),
                "hexagram {} line {}",
                h.number,
                i + 1
            );
        }
        assert_eq!(h.all_lines.is_some(), h.number <= 2);
    }
}

#[test]
fn the_issue_example_is_55_changing_to_31() {
    let r = cast([9, 8, 7, 7, 6, 8]);
    assert_eq!(r.primary.number, 55);
    assert_eq!(r.primary.name_pinyin, "Feng");
    assert_eq!(r.resulting.unwrap().number, 31);
    assert_eq!(r.changing_lines(), vec![1, 5]);
    assert_eq!(r.nuclear.number, 28);
    assert_eq!(r.primary.upper().name_pinyin, "Zhen");
    assert_eq!(r.primary.lower().name_pinyin, "Li");
}

#[test]
fn known_casts() {
    // (values, primary, resulting, nuclear)
    let cases: [([u8; 6], u8, Option<u8>, u8); 5] = [
        ([7; 6], 1, None, 1),
        ([8; 6], 2, None, 2),
        ([9; 6], 1, Some(2), 1),
        ([6; 6], 2, Some(1), 2),
        ([7, 8, 7, 8, 7, 8], 63, None, 64),
    ];
    for (values, primary, resulting, nuclear) in &cases {
        let r = cast(*values);
        assert_eq!(r.primary.number, *primary, "{values:?}");
        assert_eq!(r.resulting.map(|h| h.number), *resulting, "{values:?}");
        assert_eq!(r.nuclear.number, *nuclear, "{values:?}");
    }
    // Shi (7, the army): Kan below, Kun above; line 2 yang. Its nuclear: 2-3-4 = yang,yin,yin = Zhen;
    // 3-4-5 = yin,yin,yin = Kun: Fu (24).
    let r = cast([8, 9, 8, 8, 8, 8]);
    assert_eq!(r.primary.number, 7);
    assert_eq!(r.resulting.unwrap().number, 2);
    assert_eq!(r.nuclear.number, 24);
    assert_eq!(r.changing_lines(), vec![2]);
}

#[test]
fn line_facts_read_place_centre_and_response() {
    let r = cast([9, 8, 7, 7, 6, 8]); // 55: yang yin yang | yang yin yin
    let l1 = r.line_facts(1);
    assert!(l1.yang && l1.changing && l1.correct && !l1.central);
    assert_eq!(l1.counterpart, 4);
    assert!(!l1.responds, "1 and 4 are both yang");
    let l5 = r.line_facts(5);
    assert!(!l5.yang && l5.changing && !l5.correct && l5.central);
    assert_eq!(l5.counterpart, 2);
    assert!(!l5.responds, "2 and 5 are both yin");
    let l6 = r.line_facts(6);
    assert!(l6.correct && l6.responds, "yin in 6 answers yang in 3");
}

#[test]
fn seeded_casts_are_reproducible_and_seeds_differ() {
    for method in [Method::Coins, Method::Yarrow] {
        let a = Cast::random(method, 42).unwrap();
        assert_eq!(a, Cast::random(method, 42).unwrap());
        assert_eq!(a.seed, Some(42));
        let differing = (0..20u64)
            .filter(|s| Cast::random(method, *s).unwrap().lines != a.lines)
            .count();
        assert!(differing > 10, "{method}: other seeds should mostly differ");
    }
    assert_eq!(
        Cast::random(Method::Manual, 1),
        Err(OracleError::ManualNeedsLines)
    );
}

#[test]
fn origins_agree_with_values() {
    for seed in 0..200 {
        let c = Cast::random(Method::Coins, seed).unwrap();
        for (v, o) in c.lines.iter().zip(&c.origins) {
            let LineOrigin::Coins { coins } = o else {
                panic!("coins cast has coin origins")
            };
            let sum: u8 = coins
                .iter()
                .map(|c| if *c == Coin::Heads { 3 } else { 2 })
                .sum();
            assert_eq!(sum, v.get());
        }
        let y = Cast::random(Method::Yarrow, seed).unwrap();
        for (v, o) in y.lines.iter().zip(&y.origins) {
            let LineOrigin::Yarrow { set_aside } = o else {
                panic!("yarrow cast has stalk origins")
            };
            assert!([5, 9].contains(&set_aside[0]));
            assert!(set_aside[1..].iter().all(|s| [4, 8].contains(s)));
            assert_eq!((49 - set_aside.iter().sum::<u8>()) / 4, v.get());
        }
    }
}

/// Pearson's chi-square of observed counts of 6, 7, 8, 9 against expected probabilities.
fn chi_square(counts: [u64; 4], probabilities: [f64; 4]) -> f64 {
    let n: u64 = counts.iter().sum();
    counts
        .iter()
        .zip(probabilities)
        .map(|(&o, p)| {
            let e = n as f64 * p;
            (o as f64 - e).powi(2) / e
        })
        .sum()
}

fn line_counts(method: Method) -> [u64; 4] {
    let mut counts = [0u64; 4];
    for seed in 0..100_000u64 {
        for v in Cast::random(method, seed).unwrap().lines {
            counts[usize::from(v.get() - 6)] += 1;
        }
    }
    counts
}

// 3 degrees of freedom: P(chi2 > 16.27) = 0.001. Fixed seeds make the result deterministic.
const CHI2_3DF_P001: f64 = 16.27;

#[test]
fn coin_distribution_is_1_3_3_1_over_8() {
    let counts = line_counts(Method::Coins);
    let chi2 = chi_square(counts, [1.0 / 8.0, 3.0 / 8.0, 3.0 / 8.0, 1.0 / 8.0]);
    assert!(chi2 < CHI2_3DF_P001, "chi2 {chi2:.2} for {counts:?}");
    // And the test can fail: the yarrow probabilities are rejected for coin casts.
    let wrong = chi_square(counts, [1.0 / 16.0, 5.0 / 16.0, 7.0 / 16.0, 3.0 / 16.0]);
    assert!(wrong > 1000.0, "{wrong}");
}

#[test]
fn yarrow_distribution_is_1_5_7_3_over_16() {
    let counts = line_counts(Method::Yarrow);
    let chi2 = chi_square(counts, [1.0 / 16.0, 5.0 / 16.0, 7.0 / 16.0, 3.0 / 16.0]);
    assert!(chi2 < CHI2_3DF_P001, "chi2 {chi2:.2} for {counts:?}");
    let wrong = chi_square(counts, [1.0 / 8.0, 3.0 / 8.0, 3.0 / 8.0, 1.0 / 8.0]);
    assert!(wrong > 1000.0, "{wrong}");
}

#[test]
fn parse_lines_accepts_common_forms_and_names_the_bad_value() {
    let expected = [9, 8, 7, 7, 6, 8].map(|v| LineValue::new(v).unwrap());
    assert_eq!(Cast::parse_lines("9,8,7,7,6,8"), Ok(expected));
    assert_eq!(Cast::parse_lines(" 9, 8 ,7,7, 6,8 "), Ok(expected));
    assert_eq!(Cast::parse_lines("9 8 7 7 6 8"), Ok(expected));
    assert_eq!(Cast::parse_lines("987768"), Ok(expected));
    assert_eq!(
        Cast::parse_lines("9,8,7,5,6,8"),
        Err(OracleError::BadLineValue {
            position: 4,
            value: "5".into()
        })
    );
    assert_eq!(
        Cast::parse_lines("9,8,x,7,6,8").unwrap_err().to_string(),
        "line 3 is \"x\": each line must be 6, 7, 8 or 9 (bottom line first)"
    );
    assert_eq!(
        Cast::parse_lines("9,8,7"),
        Err(OracleError::WrongLineCount(3))
    );
    assert_eq!(Cast::parse_lines(""), Err(OracleError::WrongLineCount(0)));
    assert_eq!(
        Cast::parse_lines("9;8;7;7;6;8"),
        Err(OracleError::BadSeparator(';'))
    );
    assert_eq!(
        Cast::parse_lines("9,8,7;7,6,8"),
        Err(OracleError::BadSeparator(';'))
    );
    assert!(Cast::parse_lines("9,8,7,7,6,8,7").is_err());
    assert!(Cast::parse_lines("９,8,7,7,6,8").is_err());
}

#[test]
fn reading_rule_for_each_count_of_changing_lines() {
    // (values, expected texts)
    let cases: [([u8; 6], Vec<TextRef>); 8] = [
        ([7, 8, 7, 7, 8, 8], vec![TextRef::Judgment { hexagram: 55 }]),
        (
            [9, 8, 7, 7, 8, 8],
            vec![TextRef::Line {
                hexagram: 55,
                line: 1,
            }],
        ),
        (
            [9, 8, 7, 7, 6, 8],
            vec![
                TextRef::Line {
                    hexagram: 55,
                    line: 5,
                },
                TextRef::Line {
                    hexagram: 55,
                    line: 1,
                },
            ],
        ),
        (
            [9, 6, 9, 7, 8, 8],
            vec![
                TextRef::Judgment { hexagram: 55 },
                TextRef::Judgment { hexagram: 40 },
            ],
        ),
        (
            // Lines 1-4 change; 5 and 6 do not: read lines 5 and 6 of the resulting hexagram.
            [9, 6, 9, 9, 8, 8],
            vec![
                TextRef::Line {
                    hexagram: 7,
                    line: 5,
                },
                TextRef::Line {
                    hexagram: 7,
                    line: 6,
                },
            ],
        ),
        (
            [9, 6, 9, 9, 6, 8],
            vec![TextRef::Line {
                hexagram: 29,
                line: 6,
            }],
        ),
        ([9; 6], vec![TextRef::AllLines { hexagram: 1 }]),
        ([9, 6, 9, 9, 6, 6], vec![TextRef::Judgment { hexagram: 59 }]),
    ];
    for (values, texts) in cases {
        let r = cast(values);
        let rule = r.rule();
        assert_eq!(rule.changing_lines, r.changing_lines().len(), "{values:?}");
        // Check the resulting hexagram numbers used above really are what the cast gives.
        if let Some(TextRef::Line { hexagram, .. }) = texts.first()
            && rule.changing_lines >= 4
        {
            assert_eq!(r.resulting.unwrap().number, *hexagram, "{values:?}");
        }
        assert_eq!(rule.texts, texts, "{values:?}");
        assert!(!rule.summary.is_empty());
    }
}
