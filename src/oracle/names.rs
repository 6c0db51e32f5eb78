//! What people call a hexagram, and finding it by that: its number, its symbol, its Chinese name
//! (traditional or simplified), its pinyin with or without tone marks and in any case (`jing`,
//! `Jǐng`), its English gloss (`heaven`, `the well`), the Wilhelm/Baynes title (`the creative`,
//! `youthful folly`) and its alternatives (`view`), Legge's romanisation (`Kwan`), the Wade-Giles
//! of Wilhelm/Baynes (`Wei Chi`), or a word of an English name (`restraint`). A name two
//! hexagrams share is ambiguous and says which they are; a name none has says which come close.
//! [`hexagram_matches`] is the looser test of a filter typed as you go. The Wilhelm/Baynes and
//! Wade-Giles names are compiled in from `assets/names.json` (see `assets/PROVENANCE.md`).

use std::fmt;
use std::sync::OnceLock;

use serde::Deserialize;

use super::{Hexagram, Trigram, all_hexagrams, hexagram};

/// A hexagram's names from Wilhelm/Baynes, as `assets/names.json` has them.
#[derive(Debug, Deserialize)]
struct Known {
    number: u8,
    /// The English title with its alternatives: "Waiting (Nourishment)".
    wilhelm: String,
    /// The Wade-Giles romanisation: "Ch’ien".
    wade_giles: String,
}

#[derive(Deserialize)]
struct KnownFile {
    hexagrams: Vec<Known>,
}

#[allow(
    clippy::expect_used,
    reason = "the embedded asset is checked by scripts/convert-names.py and the tests"
)]
fn known(number: u8) -> &'static Known {
    static TABLE: OnceLock<Vec<Known>> = OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let file: KnownFile = serde_json::from_str(include_str!("../../assets/names.json"))
            .expect("assets/names.json is checked by scripts/convert-names.py and the tests");
        file.hexagrams
    });
    let k = &table[usize::from(number.clamp(1, 64) - 1)];
    debug_assert_eq!(
        k.number,
        number.clamp(1, 64),
        "assets/names.json is in King Wen order"
    );
    k
}

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

    /// The Wilhelm/Baynes title with its alternatives, e.g. "Waiting (Nourishment)".
    pub fn wilhelm(&self) -> &'static str {
        &known(self.number).wilhelm
    }

    /// The Wade-Giles romanisation Wilhelm/Baynes give, e.g. "Ch’ien".
    pub fn wade_giles(&self) -> &'static str {
        &known(self.number).wade_giles
    }

    /// The Chinese name in simplified characters, as the classical text writes it ("大壮").
    pub fn simplified(&self) -> &'static str {
        &self.chinese().name
    }

    /// "34 Dà Zhuàng 大壮 (Great Strength)": [`Hexagram::title`] with the tones.
    pub fn toned_title(&self) -> String {
        format!(
            "{} {} {} ({})",
            self.number,
            self.pinyin(),
            self.simplified(),
            self.name_english
        )
    }
}

impl Trigram {
    /// The Chinese name in simplified characters (离, 兑): the name of the hexagram that is this
    /// trigram doubled, as the classical text writes it.
    pub fn simplified(&self) -> &'static str {
        all_hexagrams()
            .iter()
            .find(|h| h.upper().pattern == self.pattern && h.lower().pattern == self.pattern)
            .map_or("", |h| h.simplified())
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

/// Each name `name` gives, folded: the whole and, where it is there, without a leading "the".
fn with_and_without_the(name: &str, out: &mut Vec<String>) {
    let f = fold_name(name);
    if f.is_empty() {
        return;
    }
    if let Some(bare) = f.strip_prefix("the ") {
        out.push(bare.to_owned());
    }
    out.push(f);
}

/// The Wilhelm/Baynes title split into the title proper and the alternatives in parentheses or
/// brackets: "The Arousing (Shock, Thunder)" is "The Arousing" and the one alternative "Shock,
/// Thunder".
fn wilhelm_parts(h: &Hexagram) -> (String, Vec<String>) {
    let mut title = String::new();
    let mut alts = Vec::new();
    let mut depth = 0usize;
    for c in h.wilhelm().chars() {
        match c {
            '(' | '[' => {
                depth += 1;
                alts.push(String::new());
            }
            ')' | ']' => depth = depth.saturating_sub(1),
            c if depth > 0 => alts.last_mut().into_iter().for_each(|a| a.push(c)),
            c => title.push(c),
        }
    }
    (title, alts)
}

/// Names from text that may list several with commas: the whole and each part.
fn comma_names(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    with_and_without_the(text, &mut out);
    if text.contains(',') {
        for part in text.split(',') {
            with_and_without_the(part, &mut out);
        }
    }
    out
}

/// The Wilhelm/Baynes title as names: "The Clinging, Fire" is "the clinging fire", "the
/// clinging", "clinging" and "fire"; the alternatives not included.
fn wilhelm_titles(h: &Hexagram) -> Vec<String> {
    comma_names(&wilhelm_parts(h).0)
}

/// The alternatives Wilhelm/Baynes give a title: "Waiting (Nourishment)" is "nourishment",
/// "The Arousing (Shock, Thunder)" "shock" and "thunder".
fn wilhelm_alternatives(h: &Hexagram) -> Vec<String> {
    wilhelm_parts(h)
        .1
        .iter()
        .flat_map(|a| comma_names(a))
        .collect()
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
        const HOW: &str = "give a number (1 to 64), a pinyin name (jing, Jǐng), an English name (heaven, the creative), Legge's (Kwan) or the Wade-Giles (Wei Chi)";
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

/// The hexagram `query` names: a number (1 to 64, "#34" too), the symbol, the Chinese name
/// (traditional or simplified), the pinyin (tone marks, when given, must agree), an English name
/// (the gloss or one of its alternatives, or the Wilhelm/Baynes title or a part of it a comma
/// divides), an alternative Wilhelm/Baynes give in parentheses or brackets, Legge's
/// romanisation, the Wade-Giles, or words of the English names; the first of these kinds that
/// finds any hexagram decides.
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
    let english = |names: Vec<String>| names.iter().any(|n| *n == folded || *n == bare_the);
    let kinds: [&dyn Fn(&Hexagram) -> bool; 8] = [
        &|h| h.symbol == q || h.name_chinese == q || h.simplified() == q,
        &|h| {
            q.chars().any(toned)
                && fold_toned(h.pinyin()).replace(' ', "") == fold_toned(q).replace(' ', "")
        },
        &|h| key(&h.name_pinyin) == qkey,
        &|h| english(english_names(h)) || english(wilhelm_titles(h)),
        &|h| english(wilhelm_alternatives(h)),
        &|h| key(&h.name_legge) == qkey,
        &|h| key(h.wade_giles()) == qkey,
        &|h| {
            let words: Vec<String> = english_names(h)
                .iter()
                .chain(&wilhelm_titles(h))
                .chain(&wilhelm_alternatives(h))
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
                || close(h.wade_giles())
                || (folded.chars().count() >= 3
                    && (fold_name(&h.name_english).contains(folded)
                        || fold_name(h.wilhelm()).contains(folded)))
        })
        .take(8)
        .collect()
}

/// Whether hexagram `h` answers one term of a filter typed as you go: a number is its number;
/// other text must begin a word of its names (pinyin with or without tones, English, Wilhelm/
/// Baynes', Legge's, Wade-Giles) or of its trigrams' (pinyin, English, image), or the pinyin or
/// Wade-Giles run together ("dazh" for Da Zhuang, "weichi"), or appear in a Chinese name
/// (traditional or simplified) or symbol; compared as [`fold_name`] does.
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
        h.wilhelm(),
        h.wade_giles(),
    ];
    let mut signs = vec![h.name_chinese.as_str(), h.simplified(), h.symbol.as_str()];
    for t in [upper, lower] {
        words.extend([t.name_pinyin.as_str(), t.english.as_str(), t.image.as_str()]);
        signs.extend([t.name_chinese.as_str(), t.simplified(), t.symbol.as_str()]);
    }
    if term.is_empty() {
        // Nothing a name is spelt with, perhaps a symbol (☳, ䷀).
        return raw.is_empty() || signs.iter().any(|s| s.contains(raw));
    }
    words
        .iter()
        .any(|n| fold_name(n).split(' ').any(|w| w.starts_with(&term)))
        || key(&h.name_pinyin).starts_with(&term)
        || key(h.wade_giles()).starts_with(&term)
        || signs.iter().any(|s| s.contains(&term))
}
