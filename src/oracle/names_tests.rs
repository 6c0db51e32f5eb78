//! Finding hexagrams by name, and the filter typed as you go.

use super::*;

fn found(q: &str) -> u8 {
    find_hexagram(q)
        .unwrap_or_else(|e| panic!("{q:?}: {e}"))
        .number
}

fn candidates(q: &str) -> Vec<u8> {
    match find_hexagram(q) {
        Err(NameError::Ambiguous { candidates, .. }) => {
            candidates.iter().map(|h| h.number).collect()
        }
        other => panic!("{q:?} should be ambiguous, got {other:?}"),
    }
}

#[test]
fn the_toned_pinyin_folds_to_the_data_s_pinyin() {
    for h in all_hexagrams() {
        assert_eq!(
            fold_name(h.pinyin()),
            fold_name(&h.name_pinyin),
            "#{}",
            h.number
        );
        // Every toned name finds its hexagram, but Lǚ, which 10 and 56 share.
        if h.number != 10 && h.number != 56 {
            assert_eq!(found(h.pinyin()), h.number);
        }
    }
}

#[test]
fn numbers_symbols_and_chinese_names() {
    assert_eq!(found("34"), 34);
    assert_eq!(found(" #1 "), 1);
    assert_eq!(found("064"), 64);
    assert_eq!(found("䷀"), 1);
    assert_eq!(found("大壯"), 34);
    for bad in ["0", "65", "999999999999"] {
        assert!(
            matches!(find_hexagram(bad), Err(NameError::NoSuchNumber(_))),
            "{bad}"
        );
    }
    assert_eq!(find_hexagram("  "), Err(NameError::Empty));
}

#[test]
fn pinyin_with_or_without_tones_in_any_case() {
    assert_eq!(candidates("qian"), [1, 15]);
    assert_eq!(candidates("QIAN"), [1, 15]);
    assert_eq!(found("Qián"), 1);
    assert_eq!(found("qián"), 1);
    assert_eq!(found("QIĀN"), 15);
    // A tone typed as a combining accent is dropped, so the name is read without tones.
    assert_eq!(candidates("qia\u{301}n"), [1, 15]);
    // A wrong tone falls back to the name without tones.
    assert_eq!(candidates("qiàn"), [1, 15]);
    assert_eq!(found("da zhuang"), 34);
    assert_eq!(found("DaZhuang"), 34);
    assert_eq!(found("Dà Zhuàng"), 34);
    assert_eq!(found("feng"), 55);
    assert_eq!(candidates("kun"), [2, 47]);
    assert_eq!(found("Kūn"), 2);
    assert_eq!(found("kùn"), 47);
    // Both are Lǚ, tones and all.
    assert_eq!(candidates("Lǚ"), [10, 56]);
    assert_eq!(candidates("lu"), [10, 56]);
    // Pinyin before Legge: "Sun" is 41 in pinyin (and 57 in Legge's spelling).
    assert_eq!(found("sun"), 41);
}

#[test]
fn english_names_and_their_words() {
    assert_eq!(found("heaven"), 1);
    assert_eq!(found("Abundance"), 55);
    assert_eq!(found("the well"), 48);
    assert_eq!(found("well"), 48);
    assert_eq!(found("fire"), 30);
    assert_eq!(found("Influence / Mutual Attraction"), 31);
    assert_eq!(found("mutual attraction"), 31);
    assert_eq!(found("possession"), 14);
    assert_eq!(candidates("great"), [14, 26, 28, 34]);
    assert_eq!(found("great strength"), 34);
    // Legge's romanisation comes after pinyin and English.
    assert_eq!(found("Tâ Kwang"), 34);
    assert_eq!(candidates("khien"), [1, 15]);
}

#[test]
fn an_unknown_or_ambiguous_name_says_what_to_give() {
    let e = find_hexagram("qian").unwrap_err().to_string();
    assert_eq!(
        e,
        "\"qian\" names 2 hexagrams: 1 Qián 乾 (Heaven), 15 Qiān 谦 (Humility); give the number, or the pinyin with its tone marks"
    );
    let e = find_hexagram("lu").unwrap_err().to_string();
    assert!(e.ends_with("; give the number"), "{e}");
    let e = find_hexagram("qain").unwrap_err().to_string();
    assert!(
        e.starts_with("no hexagram is called \"qain\"; near it: 1 Qián"),
        "{e}"
    );
    assert!(e.contains("15 Qiān"), "{e}");
    let e = find_hexagram("zzzz").unwrap_err().to_string();
    assert!(e.contains("give a number (1 to 64)"), "{e}");
    let e = find_hexagram("65").unwrap_err().to_string();
    assert_eq!(e, "there is no hexagram 65: the numbers run from 1 to 64");
}

#[test]
fn the_filter_matches_numbers_names_and_trigrams_as_you_type() {
    let hits = |term: &str| -> Vec<u8> {
        all_hexagrams()
            .iter()
            .filter(|h| hexagram_matches(h, term))
            .map(|h| h.number)
            .collect()
    };
    assert_eq!(hits("34"), [34]);
    assert_eq!(hits("xiao"), [9, 62]);
    // Qian is also a trigram: the hexagrams with heaven above or below come too.
    let qian = hits("Qián");
    assert_eq!(qian.len(), 16);
    assert!(qian.contains(&1) && qian.contains(&15) && qian.contains(&5));
    assert_eq!(hits("dazh"), [34]);
    assert_eq!(hits("abund"), [55]);
    assert_eq!(hits("大"), [14, 26, 28, 34]);
    // Trigrams: every hexagram with thunder above or below, and 51 doubled.
    let thunder = hits("thunder");
    assert_eq!(thunder.len(), 15);
    assert!(thunder.contains(&51) && thunder.contains(&55) && thunder.contains(&24));
    assert_eq!(hits("☳").len(), 15);
    assert!(hits("").len() == 64);
    assert!(hits("zzz").is_empty());
}

#[test]
fn a_hexagram_s_nuclear_is_the_reading_s() {
    for h in all_hexagrams() {
        let values = std::array::from_fn(|i| if h.is_yang(i as u8 + 1) { 7 } else { 8 });
        let r = Reading::new(Cast::manual(values.map(|v| LineValue::new(v).unwrap())));
        assert_eq!(r.primary.number, h.number);
        assert_eq!(h.nuclear().number, r.nuclear.number);
    }
    assert_eq!(hexagram(55).unwrap().nuclear().number, 28);
}

#[test]
fn every_example_the_help_and_the_errors_give_finds_one_hexagram() {
    // The error message's and `hexagram --help`'s examples: each must work as shown.
    for (example, number) in [
        ("1", 1),
        ("jing", 48),
        ("Jǐng", 48),
        ("heaven", 1),
        ("the well", 48),
        ("da zhuang", 34),
        ("Kwan", 20),
        ("restraint", 60),
        ("the creative", 1),
        ("Wei Chi", 64),
    ] {
        assert_eq!(
            find_hexagram(example).map(|h| h.number),
            Ok(number),
            "{example}"
        );
    }
}

/// The hexagrams suggested for an unknown name.
fn near_numbers(q: &str) -> Vec<u8> {
    match find_hexagram(q) {
        Err(NameError::Unknown { near, .. }) => near.iter().map(|h| h.number).collect(),
        other => panic!("{q:?} should be unknown, got {other:?}"),
    }
}

#[test]
fn near_names_are_one_edit_away_or_two_for_long_ones_a_swap_counting_one() {
    // As the hand-written edit distance suggested before `strsim::osa_distance` replaced it
    // (the two agreed on 1.5 million pairs of names and typos); the Wade-Giles names come close
    // too (Kên for "kein", I for "x"), and "chien" is no longer unknown but Wade-Giles.
    for (q, near) in [
        ("qain", &[1, 15][..]),
        ("qina", &[1, 15]),
        ("kein", &[39, 52, 53]),
        ("chein", &[1, 3, 15, 35, 39, 48, 51, 53]),
        ("weichii", &[64]),
        ("kuen", &[2, 3, 20, 38, 39, 47, 52, 53]),
        ("ssung", &[6, 41, 46, 57]),
        ("weijj", &[64]),
        ("gk", &[18, 49]),
        ("x", &[5, 27, 42]),
        ("heaevn", &[]),
    ] {
        assert_eq!(near_numbers(q), near, "{q}");
    }
}

#[test]
fn wilhelm_baynes_titles_and_their_alternatives() {
    assert_eq!(found("the creative"), 1);
    assert_eq!(found("The Receptive"), 2);
    assert_eq!(found("youthful folly"), 4);
    assert_eq!(found("inner truth"), 61);
    assert_eq!(found("keeping still"), 52);
    assert_eq!(found("Keeping Still, Mountain"), 52);
    assert_eq!(found("the clinging"), 30);
    assert_eq!(found("the taming power of the small"), 9);
    assert_eq!(found("Possession in Great Measure"), 14);
    assert_eq!(found("caldron"), 50);
    // The alternatives in parentheses and brackets, after the titles.
    assert_eq!(found("the turning point"), 24);
    assert_eq!(found("view"), 20);
    assert_eq!(found("massing"), 45);
    // The gloss's "Nourishment" (27) is an English name; 5's "(Nourishment)" only an alternative.
    assert_eq!(found("nourishment"), 27);
    // Both English names, of two hexagrams: the gloss's 12, Wilhelm/Baynes' 39.
    assert_eq!(candidates("obstruction"), [12, 39]);
    // A word of a title.
    assert_eq!(found("folly"), 4);
    assert_eq!(found("marrying maiden"), 54);
    for h in all_hexagrams() {
        assert!(
            !h.wilhelm().is_empty() && !h.wade_giles().is_empty(),
            "#{}",
            h.number
        );
        assert!(!h.wilhelm().contains(" / "), "#{}", h.number);
    }
}

#[test]
fn wade_giles_after_pinyin_and_legge() {
    assert_eq!(found("wei chi"), 64);
    assert_eq!(found("Wei Chi"), 64);
    assert_eq!(found("weichi"), 64);
    assert_eq!(found("Chi Chi"), 63);
    assert_eq!(found("Hsiao Ch’u"), 9);
    assert_eq!(found("hsiao ch'u"), 9);
    assert_eq!(found("Chung Fu"), 61);
    assert_eq!(found("Kên"), 52);
    assert_eq!(found("ting"), 50);
    // Ch'ien and Chien are four hexagrams in Wade-Giles.
    assert_eq!(candidates("ch'ien"), [1, 15, 39, 53]);
    // Pinyin comes first: "pi" is 12 in pinyin (8 and 22 in Wade-Giles), "kun" 2 and 47.
    assert_eq!(found("pi"), 12);
    assert_eq!(candidates("K’un"), [2, 47]);
}

#[test]
fn simplified_and_traditional_names_both_find_their_hexagram() {
    assert_eq!(found("大壮"), 34);
    assert_eq!(found("大壯"), 34);
    assert_eq!(found("剥"), 23);
    assert_eq!(found("剝"), 23);
    let trigrams: Vec<(&str, &str)> = all_hexagrams()
        .iter()
        .filter(|h| h.upper().pattern == h.lower().pattern)
        .map(|h| (h.upper().name_chinese.as_str(), h.upper().simplified()))
        .collect();
    assert!(trigrams.contains(&("離", "离")) && trigrams.contains(&("兌", "兑")));
    for h in all_hexagrams() {
        assert!(!h.simplified().is_empty() && !h.upper().simplified().is_empty());
    }
}

/// The hexagrams whose pinyin without tone marks another shares, as the data has it: (number,
/// toned name) in King Wen order, each group in order of its first.
fn toneless_collisions() -> Vec<Vec<(u8, &'static str)>> {
    let mut groups: Vec<Vec<(u8, &'static str)>> = Vec::new();
    for h in all_hexagrams() {
        let k = fold_name(h.pinyin()).replace(' ', "");
        match groups
            .iter_mut()
            .find(|g| fold_name(g[0].1).replace(' ', "") == k)
        {
            Some(g) => g.push((h.number, h.pinyin())),
            None => groups.push(vec![(h.number, h.pinyin())]),
        }
    }
    groups.retain(|g| g.len() > 1);
    groups
}

#[test]
fn names_shared_without_tones_keep_their_tones_or_the_number_beside_them() {
    assert_eq!(
        toneless_collisions(),
        [
            vec![(1, "Qián"), (15, "Qiān")],
            vec![(2, "Kūn"), (47, "Kùn")],
            vec![(8, "Bǐ"), (22, "Bì")],
            vec![(10, "Lǚ"), (56, "Lǚ")],
            vec![(27, "Yí"), (42, "Yì")],
            vec![(39, "Jiǎn"), (53, "Jiàn")],
        ]
    );
    for group in toneless_collisions() {
        let numbers: Vec<u8> = group.iter().map(|(n, _)| *n).collect();
        // Without tones the name is ambiguous, and the error lists each with its tones.
        let bare = fold_name(group[0].1);
        assert_eq!(candidates(&bare), numbers, "{bare}");
        let e = find_hexagram(&bare).unwrap_err().to_string();
        for (n, toned) in &group {
            assert!(e.contains(&format!("{n} {toned} ")), "{e}");
        }
        let tones: std::collections::HashSet<&str> = group.iter().map(|(_, t)| *t).collect();
        if tones.len() == group.len() {
            // The tones tell them apart: each toned name finds its own.
            for (n, toned) in &group {
                assert_eq!(found(toned), *n);
            }
        } else {
            // Lǚ and Lǚ: only the number tells them apart, and every title shows it.
            assert_eq!(numbers, [10, 56]);
            assert!(e.ends_with("; give the number"), "{e}");
            for n in numbers {
                let h = hexagram(n).unwrap();
                assert!(h.toned_title().starts_with(&format!("{n} Lǚ ")));
                assert!(h.title().starts_with(&format!("{n} ")));
            }
        }
    }
}

#[test]
fn the_filter_finds_wilhelm_baynes_and_wade_giles_names() {
    let hits = |term: &str| -> Vec<u8> {
        all_hexagrams()
            .iter()
            .filter(|h| hexagram_matches(h, term))
            .map(|h| h.number)
            .collect()
    };
    assert_eq!(hits("creative"), [1]);
    assert_eq!(hits("youthful folly"), [4]);
    assert_eq!(hits("folly"), [4]);
    assert_eq!(hits("inner truth"), [61]);
    assert_eq!(hits("keeping"), [52]);
    assert_eq!(hits("wei chi"), [64]);
    assert_eq!(hits("weichi"), [64]);
    assert_eq!(hits("剥"), [23]);
    assert_eq!(hits("离").len(), 15);
}
