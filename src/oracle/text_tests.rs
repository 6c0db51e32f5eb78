//! The Legge text read for the slips a digitisation leaves: a full stop inside a sentence, a
//! capital inside a sentence (two sentences run together), unbalanced parentheses, spaces
//! doubled or misplaced, the formulas Legge repeats broken, two kinds of dash or hyphen, and
//! characters no page of the book has. Every judgment, image, line text and "use of nines/sixes"
//! is scanned; the slips found are corrected in `scripts/convert_legge.py` (CORRECTIONS) and
//! listed in `assets/PROVENANCE.md`.
//!
//! The checks were tuned on the text as it came, where they find exactly the slips corrected;
//! [`the_checks_find_each_corrected_slip`] keeps them able to.

use std::collections::HashSet;

use super::{Hexagram, all_hexagrams};

/// Words Legge capitalises inside a sentence although the text also has them in lower case:
/// Heaven, "the due Mean", "the Son of Heaven", God and Him, and Sun, the name of two hexagrams
/// (41 and, in his romanisation, 57) as well as "(sun)".
const CAPITALISED: &[&str] = &["Heaven", "Mean", "Son", "God", "Him", "Sun"];

/// Slips no pattern catches, which must not come back.
const KNOWN_SLIPS: &[&str] = &[
    // OCR read "be" as "he"; the source put the word back in Legge's parentheses.
    "will (be) good fortune",
];

/// Every text field of `h`, named: judgment, image, line 1..6, all lines.
fn fields(h: &Hexagram) -> Vec<(String, &str)> {
    let mut out = vec![
        ("judgment".to_owned(), h.judgment.as_str()),
        ("image".to_owned(), h.image.as_str()),
    ];
    for (i, t) in h.line_texts.iter().enumerate() {
        out.push((format!("line {}", i + 1), t.as_str()));
    }
    if let Some(all) = &h.all_lines {
        out.push(("all_lines".to_owned(), all.as_str()));
    }
    out
}

/// The words the whole text has in lower case, less the words of the hexagrams' and trigrams'
/// names in Legge's romanisation (proper names, though "lî" is also a measure and "yî" part of
/// "Tî-yî").
fn lower_case_words() -> HashSet<String> {
    let names: HashSet<String> = all_hexagrams()
        .iter()
        .flat_map(|h| {
            [h.name_legge.as_str(), h.upper().name_legge.as_str()]
                .into_iter()
                .flat_map(str::split_whitespace)
                .map(str::to_lowercase)
                .collect::<Vec<_>>()
        })
        .collect();
    all_hexagrams()
        .iter()
        .flat_map(|h| fields(h).into_iter().map(|(_, t)| t.to_owned()))
        .flat_map(|t| {
            t.split(|c: char| !c.is_alphabetic())
                .filter(|w| w.chars().next().is_some_and(char::is_lowercase))
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .filter(|w| !names.contains(w))
        .collect()
}

/// `text` around byte `at`, for a finding.
fn around(text: &str, at: usize) -> String {
    let start = text[..at]
        .char_indices()
        .rev()
        .nth(24)
        .map_or(0, |(i, _)| i);
    let end = text[at..]
        .char_indices()
        .nth(24)
        .map_or(text.len(), |(i, _)| at + i);
    format!("…{}…", &text[start..end])
}

/// Whether `c` may appear in Legge's text: letters (his romanisation has â, ă, ž and the like),
/// and the punctuation of the book.
fn in_alphabet(c: char) -> bool {
    c.is_alphabetic() || c == ' ' || ",.;:!?'()-—=".contains(c)
}

/// The slips in one text. `field` is "judgment", "image", "line N" or "all_lines"; `yang` is
/// whether a line text's line is yang (`None` for the other fields); `lower` the words the
/// whole text has in lower case.
fn slips(text: &str, field: &str, yang: Option<bool>, lower: &HashSet<String>) -> Vec<String> {
    let mut out = Vec::new();
    let mut say = |what: &str, at: usize| out.push(format!("{what}: {}", around(text, at)));
    let bytes = text.as_bytes();
    for (i, c) in text.char_indices() {
        let next = text[i + c.len_utf8()..].chars().next();
        let after_space = text[i + c.len_utf8()..].chars().nth(1);
        match c {
            '.' if next == Some(' ') && after_space.is_some_and(char::is_lowercase) => {
                say("a full stop inside a sentence", i);
            }
            ' ' if next.is_some_and(|n| n == ' ' || ".,;:!?)".contains(n)) => {
                say("a space doubled or before punctuation", i);
            }
            ',' | ';' | ':' | '.' if next.is_some_and(char::is_alphabetic) => {
                say("no space after punctuation", i);
            }
            '\u{2010}' => say("U+2010 for a hyphen (the text writes -)", i),
            '-' if next == Some('-') => say("-- for a dash (the text writes —)", i),
            c if !in_alphabet(c) => say("a character no page of the book has", i),
            _ => {}
        }
    }
    if text.starts_with(' ') || text.ends_with(' ') {
        say("a space at an end", 0);
    }
    if !text.ends_with(['.', '!', '?', '\'', ')']) {
        say("no full stop at the end", text.len());
    }
    // A capital inside a sentence: two sentences run together, or a stray capital.
    let mut prev = "";
    let mut at = 0;
    for word in text.split(' ') {
        let bare: String = word.chars().take_while(|c| c.is_alphabetic()).collect();
        let titled = bare.chars().next().is_some_and(char::is_uppercase)
            && bare.chars().skip(1).all(char::is_lowercase)
            && bare.chars().count() > 1;
        let sentence_start = prev.is_empty()
            || prev
                .trim_end_matches(['\'', ')'])
                .ends_with(['.', '!', '?', ':']);
        if titled
            && !sentence_start
            && !CAPITALISED.contains(&bare.as_str())
            && lower.contains(&bare.to_lowercase())
        {
            say("a capital inside a sentence", at);
        }
        prev = word;
        at += word.len() + 1;
    }
    let mut depth = 0i32;
    for (i, b) in bytes.iter().enumerate() {
        match b {
            b'(' => depth += 1,
            b')' => depth -= 1,
            _ => {}
        }
        if depth < 0 {
            say("a ')' without its '('", i);
            depth = 0;
        }
    }
    if depth > 0 {
        say("a '(' without its ')'", text.len());
    }
    // Legge's formulas: "The superior man, in accordance with this, ..." in the images, and
    // "The third SIX, divided, ..." at the head of every line.
    for formula in ["in accordance with this", "in harmony with this"] {
        for (i, _) in text.match_indices(formula) {
            // "Action (in accordance with this)" is Legge's own aside.
            if text[..i].ends_with('(') {
                continue;
            }
            let whole = text[..i].ends_with(", ") && text[i + formula.len()..].starts_with(',');
            if !whole {
                say("the formula's commas", i);
            }
        }
    }
    if let Some(yang) = yang {
        let head = if yang {
            "NINE, undivided,"
        } else {
            "SIX, divided,"
        };
        if !text.contains(head) {
            say(&format!("not headed {head:?}"), 0);
        }
    }
    if field == "all_lines"
        && !text.contains("the number NINE.")
        && !text.contains("the number SIX.")
    {
        say("the number not in capitals", 0);
    }
    for slip in KNOWN_SLIPS {
        if let Some(i) = text.find(slip) {
            say("a known slip", i);
        }
    }
    out
}

#[test]
fn the_legge_text_has_no_digitisation_artifacts() {
    let lower = lower_case_words();
    let mut found = Vec::new();
    for h in all_hexagrams() {
        for (field, text) in fields(h) {
            let yang = field
                .strip_prefix("line ")
                .and_then(|n| n.parse::<u8>().ok())
                .map(|n| h.is_yang(n));
            for slip in slips(text, &field, yang, &lower) {
                found.push(format!("#{} {field}: {slip}", h.number));
            }
        }
    }
    assert!(
        found.is_empty(),
        "{} slips in the Legge text (correct them in scripts/convert_legge.py and list them in \
         assets/PROVENANCE.md):\n{}",
        found.len(),
        found.join("\n")
    );
}

/// Each corrected slip as it stood in the source (assets/PROVENANCE.md): the checks catch
/// every one.
#[test]
fn the_checks_find_each_corrected_slip() {
    let lower = lower_case_words();
    let cases: &[(&str, &str, Option<bool>)] = &[
        (
            "on the day. of the (winter) solstice, shut the gates.",
            "image",
            None,
        ),
        ("but by his own. dignified gravity.", "image", None),
        ("comforts the people, and. stimulates them.", "image", None),
        (
            "form Hsiâo Khû The superior man, in accordance with this, adorns.",
            "image",
            None,
        ),
        (
            "form Tâ Yû The superior man, in accordance with this, represses.",
            "image",
            None,
        ),
        (
            "restrains (the manifestation) of) his virtue.",
            "image",
            None,
        ),
        (
            "The superior man, in accordance with this), distinguishes.",
            "image",
            None,
        ),
        (
            "The superior man in accordance with this, when it is dark.",
            "image",
            None,
        ),
        (
            "The sixth SIX, divided (shows) dragons fighting.",
            "line 6",
            Some(false),
        ),
        (
            "The sixth six, divided, shows us the city wall.",
            "line 6",
            Some(false),
        ),
        (
            "as appears from) the use of the number six. If those.",
            "all_lines",
            None,
        ),
        (
            "The fourth NINE, undivided, shows. Its Subject will be made.",
            "line 4",
            Some(true),
        ),
        (
            "The first NINE, undivided, shows; there will (be) good fortune.",
            "line 1",
            Some(true),
        ),
        (
            "The fifth NINE, undivided, shows its subject contending;--and.",
            "line 5",
            Some(true),
        ),
        (
            "The fourth NINE, undivided, shows the wheel\u{2010}spokes.",
            "line 4",
            Some(true),
        ),
        // Slips of kinds the text does not have (any more), which would be caught.
        ("God,when he.", "image", None),
        ("no error is committed . He will return.", "judgment", None),
        ("there is  no error.", "judgment", None),
        ("there is no error", "judgment", None),
        ("<i>Kh</i>ien indicates progress.", "judgment", None),
    ];
    for &(text, field, yang) in cases {
        assert!(
            !slips(text, field, yang, &lower).is_empty(),
            "not caught: {text:?}"
        );
    }
    // And the text as corrected reads clean.
    assert!(
        slips(
            "(The trigram representing) the sky, and that representing wind moving above it, \
             form Hsiâo Khû. The superior man, in accordance with this, adorns the outward \
             manifestation of his virtue.",
            "image",
            None,
            &lower
        )
        .is_empty()
    );
}
