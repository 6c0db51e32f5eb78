//! The embedded classic: James Legge's 1882 translation of the 64 hexagrams and the 8 trigrams,
//! compiled into the binary from `assets/hexagrams.json` (see `assets/PROVENANCE.md`).
//!
//! Loading is pure: the JSON is part of the binary, parsed once on first use.

use std::sync::OnceLock;

use serde::Deserialize;

/// One of the eight trigrams, with the facts the readings draw on.
#[derive(Debug, Deserialize, PartialEq, Eq)]
pub struct Trigram {
    /// Pinyin name, e.g. "Zhen".
    pub name_pinyin: String,
    /// Chinese character, e.g. "震".
    pub name_chinese: String,
    /// Legge's romanisation, e.g. "Kăn".
    pub name_legge: String,
    /// Unicode trigram symbol (U+2630..U+2637).
    pub symbol: String,
    /// Short English gloss, e.g. "Thunder".
    pub english: String,
    /// Its image in nature, e.g. "thunder".
    pub image: String,
    /// Its quality, e.g. "moving/arousing".
    pub attribute: String,
    /// Its place in the family, e.g. "eldest son".
    pub family: String,
    #[serde(rename = "lines", deserialize_with = "de_pattern")]
    /// Lines bottom to top as bits: bit 0 is the bottom line, 1 = yang.
    pub pattern: u8,
}

/// One of the 64 hexagrams in King Wen order, with Legge's text.
#[derive(Debug, Deserialize, PartialEq, Eq)]
pub struct Hexagram {
    /// King Wen number, 1..=64.
    pub number: u8,
    /// Pinyin name, e.g. "Feng".
    pub name_pinyin: String,
    /// Chinese name (traditional), e.g. "豐".
    pub name_chinese: String,
    /// A short English gloss supplied by the data's compiler (not Legge's text).
    pub name_english: String,
    /// Legge's romanised name, e.g. "Făng".
    pub name_legge: String,
    /// Unicode hexagram symbol (U+4DC0..U+4DFF).
    pub symbol: String,
    #[serde(rename = "lines", deserialize_with = "de_pattern")]
    /// Lines bottom to top as bits: bit 0 is line 1 (the bottom), 1 = yang.
    pub pattern: u8,
    lower_trigram: String,
    upper_trigram: String,
    /// Legge: the judgment (King Wăn's text).
    pub judgment: String,
    /// Legge: the Great Symbolism (Appendix II), the image.
    pub image: String,
    /// Legge: the six line texts (the duke of Kâu's text), line 1 first.
    pub line_texts: [String; 6],
    /// Legge: the "use of nines/sixes" paragraph, only for hexagrams 1 and 2.
    pub all_lines: Option<String>,
}

impl Hexagram {
    /// The lower (inner) trigram.
    pub fn lower(&self) -> &'static Trigram {
        trigram_named(&self.lower_trigram)
    }

    /// The upper (outer) trigram.
    pub fn upper(&self) -> &'static Trigram {
        trigram_named(&self.upper_trigram)
    }

    /// Legge's text for line `position` (1 = bottom .. 6 = top).
    pub fn line_text(&self, position: u8) -> &str {
        &self.line_texts[usize::from(position.clamp(1, 6) - 1)]
    }

    /// "55 Feng 丰 (Abundance)": the Chinese in simplified characters, the script of the
    /// classical text shown beside it.
    pub fn title(&self) -> String {
        format!(
            "{} {} {} ({})",
            self.number,
            self.name_pinyin,
            self.simplified(),
            self.name_english
        )
    }

    /// Its nuclear hexagram: lines 2-3-4 below, 3-4-5 above.
    pub fn nuclear(&self) -> &'static Hexagram {
        hexagram_by_pattern(super::nuclear_pattern(self.pattern))
    }

    /// Whether line `position` (1..=6) is yang.
    pub fn is_yang(&self, position: u8) -> bool {
        self.pattern >> (position - 1) & 1 == 1
    }
}

#[derive(Deserialize)]
struct Classic {
    trigrams: Vec<Trigram>,
    hexagrams: Vec<Hexagram>,
}

struct Tables {
    trigrams: Vec<Trigram>,
    hexagrams: Vec<Hexagram>,
    /// pattern (0..64) -> index into `hexagrams`.
    by_pattern: [u8; 64],
}

fn de_pattern<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u8, D::Error> {
    let s = String::deserialize(d)?;
    s.chars().enumerate().try_fold(0u8, |acc, (i, c)| match c {
        '1' => Ok(acc | 1 << i),
        '0' => Ok(acc),
        other => Err(serde::de::Error::custom(format!(
            "line pattern {s:?} has {other:?}; expected 0 or 1"
        ))),
    })
}

#[allow(
    clippy::expect_used,
    reason = "the embedded assets are checked by scripts/convert_legge.py and the tests"
)]
fn tables() -> &'static Tables {
    static TABLES: OnceLock<Tables> = OnceLock::new();
    TABLES.get_or_init(|| {
        let classic: Classic = serde_json::from_str(include_str!("../../assets/hexagrams.json"))
            .expect("assets/hexagrams.json is checked by scripts/convert_legge.py and the tests");
        let mut by_pattern = [u8::MAX; 64];
        for (i, h) in classic.hexagrams.iter().enumerate() {
            by_pattern[usize::from(h.pattern)] = i as u8;
        }
        Tables {
            trigrams: classic.trigrams,
            hexagrams: classic.hexagrams,
            by_pattern,
        }
    })
}

/// The hexagram with King Wen number `number` (1..=64).
pub fn hexagram(number: u8) -> Option<&'static Hexagram> {
    tables().hexagrams.get(usize::from(number).checked_sub(1)?)
}

/// The hexagram whose lines (bit 0 = bottom, 1 = yang) are `pattern`.
pub fn hexagram_by_pattern(pattern: u8) -> &'static Hexagram {
    let t = tables();
    &t.hexagrams[usize::from(t.by_pattern[usize::from(pattern & 0x3f)])]
}

#[allow(
    clippy::expect_used,
    reason = "the embedded hexagram table names only the eight trigrams it also holds"
)]
fn trigram_named(name: &str) -> &'static Trigram {
    tables()
        .trigrams
        .iter()
        .find(|t| t.name_pinyin == name)
        .expect("every hexagram names one of the eight trigrams")
}

/// All 64 hexagrams in King Wen order.
pub fn all_hexagrams() -> &'static [Hexagram] {
    &tables().hexagrams
}
