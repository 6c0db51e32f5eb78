//! What people call a hexagram, and finding it by that: its number, its symbol, its Chinese name,
//! its pinyin with or without tone marks and in any case (`jing`, `Jǐng`), its English gloss
//! (`heaven`, `the well`), Legge's romanisation (`Kwan`), or a word of the gloss (`restraint`).
//! A name two hexagrams share is ambiguous and says which they are; a name none has says which
//! come close. [`hexagram_matches`] is the looser test of a filter typed as you go.

use std::fmt;

use super::{Hexagram, all_hexagrams, hexagram};

/// Pinyin with tone marks, in King Wen order (the data's `name_pinyin` without them).
const PINYIN: [&str; 64] = [
    "Qián",
    "Kūn",
    "Zhūn",
    "Méng",
    "Xū",
    "Sòng",
    "Shī",
    "Bǐ",
    "Xiǎo Xù",
    "Lǚ",
    "Tài",
    "Pǐ",
    "Tóng Rén",
    "Dà Yǒu",
    "Qiān",
    "Yù",
    "Suí",
    "Gǔ",
    "Lín",
    "Guān",
    "Shì Hé",
    "Bì",
    "Bō",
    "Fù",
    "Wú Wàng",
    "Dà Xù",
    "Yí",
    "Dà Guò",
    "Kǎn",
    "Lí",
    "Xián",
    "Héng",
    "Dùn",
    "Dà Zhuàng",
    "Jìn",
    "Míng Yí",
    "Jiā Rén",
    "Kuí",
    "Jiǎn",
    "Xiè",
    "Sǔn",
    "Yì",
    "Guài",
    "Gòu",
    "Cuì",
    "Shēng",
    "Kùn",
    "Jǐng",
    "Gé",
    "Dǐng",
    "Zhèn",
    "Gèn",
    "Jiàn",
    "Guī Mèi",
    "Fēng",
    "Lǚ",
    "Xùn",
    "Duì",
    "Huàn",
    "Jié",
    "Zhōng Fú",
    "Xiǎo Guò",
    "Jì Jì",
    "Wèi Jì",
];

impl Hexagram {
    /// Its pinyin with tone marks, e.g. "Dà Zhuàng".
    pub fn pinyin(&self) -> &'static str {
        PINYIN[usize::from(self.number.clamp(1, 64) - 1)]
    }

    /// "34 Dà Zhuàng 大壯 (Great Strength)": [`Hexagram::title`] with the tones.
    pub fn toned_title(&self) -> String {
        format!(
            "{} {} {} ({})",
            self.number,
            self.pinyin(),
            self.name_chinese,
            self.name_english
        )
    }
}

/// A vowel with a pinyin tone mark (ü without one is not a tone).
fn toned(c: char) -> bool {
    "āáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜĀÁǍÀĒÉĚÈĪÍǏÌŌÓǑÒŪÚǓÙǕǗǙǛ".contains(c)
}

/// `c` without its diacritic (tone marks, Legge's â ă ž, ü), already lower case.
fn bare(c: char) -> char {
    match c {
        'ā' | 'á' | 'ǎ' | 'à' | 'â' | 'ă' | 'ä' => 'a',
        'ē' | 'é' | 'ě' | 'è' | 'ê' | 'ĕ' | 'ë' => 'e',
        'ī' | 'í' | 'ǐ' | 'ì' | 'î' | 'ĭ' | 'ï' => 'i',
        'ō' | 'ó' | 'ǒ' | 'ò' | 'ô' | 'ŏ' | 'ö' => 'o',
        'ū' | 'ú' | 'ǔ' | 'ù' | 'û' | 'ŭ' | 'ü' | 'ǖ' | 'ǘ' | 'ǚ' | 'ǜ' => 'u',
        'ž' => 'z',
        c => c,
    }
}

/// `s` as names are compared: lower case, without diacritics (tone marks, Legge's â and ž, ü
/// as u), letters, digits and CJK kept and every other run of characters one space.
pub fn fold_name(s: &str) -> String {
    fold_with(s, bare)
}

/// Like [`fold_name`], but the tone marks kept, so that "Qián" and "Qiān" differ.
fn fold_toned(s: &str) -> String {
    fold_with(s, |c| if toned(c) { c } else { bare(c) })
}

fn fold_with(s: &str, keep: impl Fn(char) -> char) -> String {
    let mut out = String::with_capacity(s.len());
    let mut space = false;
    for c in s.chars().flat_map(char::to_lowercase) {
        // Combining marks (a tone typed as a separate accent) are dropped.
        if ('\u{300}'..='\u{36f}').contains(&c) {
            continue;
        }
        if c.is_alphanumeric() {
            if space && !out.is_empty() {
                out.push(' ');
            }
            space = false;
            out.push(keep(c));
        } else {
            space = true;
        }
    }
    out
}

/// `s` folded and without spaces: "Da Zhuang" and "dazhuang" meet.
fn key(s: &str) -> String {
    fold_name(s).replace(' ', "")
}

/// The English gloss's names: the whole, each alternative ("Brightness / Fire (Repeated)"
/// is "brightness" and "fire"), each with and without a leading "the".
fn english_names(h: &Hexagram) -> Vec<String> {
    let mut out = vec![fold_name(&h.name_english)];
    for alt in h.name_english.split('/') {
        let alt = alt.split('(').next().unwrap_or(alt);
        let f = fold_name(alt);
        out.push(f.strip_prefix("the ").unwrap_or(&f).to_owned());
        out.push(f);
    }
    out
}

/// Why a name found no one hexagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameError {
    /// Nothing was given.
    Empty,
    /// A number outside 1..=64.
    NoSuchNumber(String),
    /// No hexagram has the name; the ones that come close, perhaps none.
    Unknown {
        /// What was asked for.
        query: String,
        /// Hexagrams with a similar name.
        near: Vec<&'static Hexagram>,
    },
    /// Several hexagrams have the name.
    Ambiguous {
        /// What was asked for.
        query: String,
        /// The hexagrams it names, in King Wen order.
        candidates: Vec<&'static Hexagram>,
    },
}

/// "1 Qián 乾 (Heaven), 15 Qiān 謙 (Humility)".
fn listed(hs: &[&Hexagram]) -> String {
    hs.iter()
        .map(|h| h.toned_title())
        .collect::<Vec<_>>()
        .join(", ")
}

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const HOW: &str = "give a number (1 to 64), a pinyin name (jing, Jǐng), an English name (heaven) or Legge's (Kwan)";
        match self {
            Self::Empty => write!(f, "no hexagram named: {HOW}"),
            Self::NoSuchNumber(n) => {
                write!(f, "there is no hexagram {n}: the numbers run from 1 to 64")
            }
            Self::Unknown { query, near } if near.is_empty() => {
                write!(f, "no hexagram is called {query:?}: {HOW}")
            }
            Self::Unknown { query, near } => write!(
                f,
                "no hexagram is called {query:?}; near it: {}. Or {HOW}",
                listed(near)
            ),
            Self::Ambiguous { query, candidates } => write!(
                f,
                "{query:?} names {} hexagrams: {}; give the number{}",
                candidates.len(),
                listed(candidates),
                if candidates
                    .iter()
                    .map(|h| h.pinyin())
                    .collect::<std::collections::HashSet<_>>()
                    .len()
                    == candidates.len()
                {
                    ", or the pinyin with its tone marks"
                } else {
                    ""
                }
            ),
        }
    }
}

impl std::error::Error for NameError {}

/// The hexagram `query` names: a number (1 to 64, "#34" too), the symbol, the Chinese name, the
/// pinyin (tone marks, when given, must agree), the English gloss or one of its alternatives,
/// Legge's romanisation, or words of the English gloss; the first of these kinds that finds any
/// hexagram decides.
pub fn find_hexagram(query: &str) -> Result<&'static Hexagram, NameError> {
    let q = query.trim();
    if q.is_empty() {
        return Err(NameError::Empty);
    }
    let digits = q.strip_prefix('#').unwrap_or(q);
    if !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit()) {
        return digits
            .parse::<u8>()
            .ok()
            .and_then(hexagram)
            .ok_or_else(|| NameError::NoSuchNumber(digits.to_owned()));
    }
    let all = all_hexagrams();
    let folded = fold_name(q);
    let qkey = folded.replace(' ', "");
    let bare_the = folded.strip_prefix("the ").unwrap_or(&folded).to_owned();
    let kinds: [&dyn Fn(&Hexagram) -> bool; 6] = [
        &|h| h.symbol == q || h.name_chinese == q,
        &|h| {
            q.chars().any(toned)
                && fold_toned(h.pinyin()).replace(' ', "") == fold_toned(q).replace(' ', "")
        },
        &|h| key(&h.name_pinyin) == qkey,
        &|h| {
            english_names(h)
                .iter()
                .any(|n| *n == folded || *n == bare_the)
        },
        &|h| key(&h.name_legge) == qkey,
        &|h| {
            let words: Vec<String> = english_names(h)
                .iter()
                .flat_map(|n| n.split(' ').map(str::to_owned).collect::<Vec<_>>())
                .collect();
            bare_the
                .split(' ')
                .all(|w| w.len() >= 3 && words.iter().any(|x| x == w))
        },
    ];
    for kind in kinds {
        let found: Vec<&'static Hexagram> = all.iter().filter(|h| kind(h)).collect();
        match found.as_slice() {
            [] => {}
            [one] => return Ok(one),
            _ => {
                return Err(NameError::Ambiguous {
                    query: q.to_owned(),
                    candidates: found,
                });
            }
        }
    }
    Err(NameError::Unknown {
        query: q.to_owned(),
        near: near(&qkey, &folded),
    })
}

/// Hexagrams whose name is close to what was asked: a pinyin or Legge name it begins, or one
/// letter or two away from (a swap of two neighbours counting as one: the optimal string
/// alignment distance, in characters); an English name that contains it. At most eight.
fn near(qkey: &str, folded: &str) -> Vec<&'static Hexagram> {
    let close = |name: &str| {
        let k = key(name);
        let allowed = if qkey.chars().count() >= 5 { 2 } else { 1 };
        (qkey.chars().count() >= 2 && k.starts_with(qkey))
            || strsim::osa_distance(&k, qkey) <= allowed
    };
    all_hexagrams()
        .iter()
        .filter(|h| {
            close(&h.name_pinyin)
                || close(&h.name_legge)
                || (folded.chars().count() >= 3 && fold_name(&h.name_english).contains(folded))
        })
        .take(8)
        .collect()
}

/// Whether hexagram `h` answers one term of a filter typed as you go: a number is its number;
/// other text must begin a word of its names (pinyin with or without tones, English, Legge's)
/// or of its trigrams' (pinyin, English, image), or the pinyin run together ("dazh" for Da
/// Zhuang), or appear in a Chinese name or symbol; compared as [`fold_name`] does.
pub fn hexagram_matches(h: &Hexagram, term: &str) -> bool {
    let raw = term.trim();
    let term = fold_name(raw);
    if term.contains(' ') {
        return term.split(' ').all(|t| hexagram_matches(h, t));
    }
    if !term.is_empty() && term.chars().all(|c| c.is_ascii_digit()) {
        return term.parse::<u8>().is_ok_and(|n| n == h.number);
    }
    let (upper, lower) = (h.upper(), h.lower());
    let mut words = vec![
        h.name_pinyin.as_str(),
        h.name_english.as_str(),
        h.name_legge.as_str(),
    ];
    let mut signs = vec![h.name_chinese.as_str(), h.symbol.as_str()];
    for t in [upper, lower] {
        words.extend([t.name_pinyin.as_str(), t.english.as_str(), t.image.as_str()]);
        signs.extend([t.name_chinese.as_str(), t.symbol.as_str()]);
    }
    if term.is_empty() {
        // Nothing a name is spelt with, perhaps a symbol (☳, ䷀).
        return raw.is_empty() || signs.iter().any(|s| s.contains(raw));
    }
    words
        .iter()
        .any(|n| fold_name(n).split(' ').any(|w| w.starts_with(&term)))
        || key(&h.name_pinyin).starts_with(&term)
        || signs.iter().any(|s| s.contains(&term))
}
