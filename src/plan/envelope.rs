//! The domain envelope: the reading's data as JSON, byte-identical for every section of a reading
//! (every Legge text and every passage of the classical Chinese any section needs is in it), so
//! that a provider's prompt cache serves the shared prefix of all the reading's requests; each
//! section's own instruction comes after it.

use serde::Serialize;

use super::Section;
use crate::model::Query;
use crate::oracle::{Chinese, Hexagram, Reading, Trigram};

/// Everything a model is told about the reading, for one section.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Envelope<'a> {
    /// The person's question.
    pub question: &'a str,
    /// The situation behind the question, when the person gave it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<&'a str>,
    /// The language to write in: one the settings name, or the question's own.
    pub answer_language: String,
    /// coins, yarrow or manual.
    pub cast_method: &'static str,
    /// The six values, bottom line first.
    pub lines: [u8; 6],
    /// The hexagram as cast.
    pub initial_hexagram: HexagramInfo<'a>,
    /// The hexagram after the changes, or null.
    pub resulting_hexagram: Option<HexagramInfo<'a>>,
    /// The nuclear hexagram (lines 2-3-4 and 3-4-5).
    pub nuclear_hexagram: HexagramInfo<'a>,
    /// The changing lines, bottom first.
    pub changing_lines: Vec<ChangingLine>,
    /// How many lines change.
    pub number_of_changing_lines: usize,
    /// Zhu Xi's rule for this number of changing lines.
    pub reading_rule: String,
    /// Every Legge text the reading's sections are about.
    pub texts: Vec<LeggeText<'a>>,
    /// The same passages in the original (simplified characters), with the Ten Wings' Tuan,
    /// Images, Xugua and Zagua for the Ten Wings section.
    pub chinese_texts: Vec<ChineseText>,
}

/// A hexagram as the envelope describes it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HexagramInfo<'a> {
    /// King Wen number.
    pub number: u8,
    /// Its names.
    pub name: Names<'a>,
    /// Unicode symbol.
    pub symbol: &'a str,
    /// The upper (outer) trigram.
    pub upper_trigram: TrigramInfo<'a>,
    /// The lower (inner) trigram.
    pub lower_trigram: TrigramInfo<'a>,
}

/// A hexagram's names.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Names<'a> {
    /// Pinyin.
    pub pinyin: &'a str,
    /// Chinese characters.
    pub chinese: &'a str,
    /// A short English gloss.
    pub english: &'a str,
    /// Legge's romanisation.
    pub legge: &'a str,
}

/// A trigram as the envelope describes it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TrigramInfo<'a> {
    /// Pinyin name.
    pub name: &'a str,
    /// Chinese name.
    pub chinese: &'a str,
    /// Unicode symbol.
    pub symbol: &'a str,
    /// English gloss.
    pub english: &'a str,
    /// Image in nature.
    pub image: &'a str,
    /// Quality.
    pub attribute: &'a str,
}

/// One changing line.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChangingLine {
    /// 1 = bottom .. 6 = top.
    pub line_number: u8,
    /// 6 or 9.
    pub value: u8,
    /// Whether no changing line lies above it.
    pub is_last_changing_line: bool,
}

/// A passage of Legge's translation.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LeggeText<'a> {
    /// What the passage is, e.g. "Feng (55), line 1".
    pub source: String,
    /// Legge's words.
    pub text: &'a str,
}

/// A passage of the classical Chinese text.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChineseText {
    /// What the passage is, e.g. "Feng (55), line 1 (爻辞)".
    pub source: String,
    /// The text, e.g. "初九：遇其配主，虽旬无咎，往有尚。".
    pub text: String,
}

impl<'a> From<&'a Trigram> for TrigramInfo<'a> {
    fn from(t: &'a Trigram) -> Self {
        Self {
            name: &t.name_pinyin,
            chinese: t.simplified(),
            symbol: &t.symbol,
            english: &t.english,
            image: &t.image,
            attribute: &t.attribute,
        }
    }
}

impl<'a> From<&'a Hexagram> for HexagramInfo<'a> {
    fn from(h: &'a Hexagram) -> Self {
        Self {
            number: h.number,
            name: Names {
                pinyin: &h.name_pinyin,
                chinese: h.simplified(),
                english: &h.name_english,
                legge: &h.name_legge,
            },
            symbol: &h.symbol,
            upper_trigram: h.upper().into(),
            lower_trigram: h.lower().into(),
        }
    }
}

fn judgment(h: &Hexagram) -> LeggeText<'_> {
    LeggeText {
        source: format!("{} ({}), judgment", h.name_pinyin, h.number),
        text: &h.judgment,
    }
}

fn image(h: &Hexagram) -> LeggeText<'_> {
    LeggeText {
        source: format!("{} ({}), image", h.name_pinyin, h.number),
        text: &h.image,
    }
}

fn line(h: &Hexagram, n: u8) -> LeggeText<'_> {
    LeggeText {
        source: format!("{} ({}), line {n}", h.name_pinyin, h.number),
        text: h.line_text(n),
    }
}

/// The Legge texts `section` is about (named in its instruction, found in the envelope).
pub fn section_texts(reading: &Reading, section: Section) -> Vec<LeggeText<'_>> {
    let p = reading.primary;
    let changing = reading.changing_lines();
    let changing_texts = || changing.iter().map(|&n| line(p, n)).collect::<Vec<_>>();
    match section {
        Section::OpeningStatements | Section::ConclusionText => {
            let mut v = vec![judgment(p)];
            v.extend(reading.resulting.map(judgment));
            v
        }
        Section::InitialHexagramJudgement => vec![judgment(p)],
        Section::InitialHexagramImage => vec![image(p)],
        Section::ChangingLine(n) => vec![line(p, n)],
        Section::ChangingLinesAll => {
            let mut v = changing_texts();
            v.extend(p.all_lines.as_deref().map(|text| LeggeText {
                source: format!(
                    "{} ({}), use of the {}",
                    p.name_pinyin,
                    p.number,
                    if p.number == 1 { "nines" } else { "sixes" }
                ),
                text,
            }));
            v.extend(reading.resulting.map(judgment));
            v
        }
        Section::TenWingsInsights => vec![judgment(p), image(p), judgment(reading.nuclear)],
        Section::ResultingHexagramJudgment => reading.resulting.map(judgment).into_iter().collect(),
        Section::ResultingHexagramImage => reading.resulting.map(image).into_iter().collect(),
        Section::SynthesisAndGuidance => {
            let mut v = vec![judgment(p)];
            v.extend(changing_texts());
            v.extend(reading.resulting.map(judgment));
            v
        }
    }
}

/// A passage of `h`'s classical text: `what` names it ("judgment (卦辞)").
fn passage(h: &Hexagram, what: &str, text: &str) -> ChineseText {
    ChineseText {
        source: format!("{} ({}), {what}", h.name_pinyin, h.number),
        text: text.to_owned(),
    }
}

fn zh_judgment(h: &Hexagram) -> ChineseText {
    passage(h, "judgment (卦辞)", &h.chinese().judgment)
}

fn zh_image(h: &Hexagram) -> ChineseText {
    passage(h, "Great Image (大象)", &h.chinese().image)
}

/// Line `n`'s statement and its Small Image.
fn zh_line(h: &Hexagram, n: u8) -> [ChineseText; 2] {
    let c: &Chinese = h.chinese();
    [
        passage(h, &format!("line {n} (爻辞)"), c.line_text(n)),
        passage(h, &format!("line {n}, Small Image (小象)"), c.line_image(n)),
    ]
}

/// What the Ten Wings say of `h`: the Tuan, the Great Image, its phrase of the Xugua and the
/// Zagua. (Not the Wenyan of 1 and 2: some 1,500 characters, which every section's request
/// would carry, since the envelope is the same for all.)
fn zh_wings(h: &Hexagram) -> [ChineseText; 4] {
    let c = h.chinese();
    [
        passage(h, "Tuan (彖传)", &c.tuan),
        zh_image(h),
        passage(h, "Xugua (序卦)", &c.xugua),
        passage(h, "Zagua (杂卦)", &c.zagua),
    ]
}

/// The passages of the classical Chinese text `section` is about: the originals of its Legge
/// texts (a line's statement with its Small Image), and for the Ten Wings section the Tuan,
/// Great Image, Xugua and Zagua of the primary and resulting hexagrams.
pub fn section_chinese(reading: &Reading, section: Section) -> Vec<ChineseText> {
    let p = reading.primary;
    let r = reading.resulting;
    let changing = reading.changing_lines();
    let changing_texts = || {
        changing
            .iter()
            .flat_map(|&n| zh_line(p, n))
            .collect::<Vec<_>>()
    };
    match section {
        Section::OpeningStatements | Section::ConclusionText => {
            let mut v = vec![zh_judgment(p)];
            v.extend(r.map(zh_judgment));
            v
        }
        Section::InitialHexagramJudgement => vec![zh_judgment(p)],
        Section::InitialHexagramImage => vec![zh_image(p)],
        Section::ChangingLine(n) => zh_line(p, n).into(),
        Section::ChangingLinesAll => {
            let mut v = changing_texts();
            let c = p.chinese();
            if let (Some(all), Some(image)) = (&c.all_lines, &c.all_lines_image) {
                let what = if p.number == 1 { "用九" } else { "用六" };
                v.push(passage(p, what, all));
                v.push(passage(p, &format!("{what}, Small Image (小象)"), image));
            }
            v.extend(r.map(zh_judgment));
            v
        }
        Section::TenWingsInsights => {
            let mut v = Vec::from(zh_wings(p));
            v.extend(r.into_iter().flat_map(zh_wings));
            v
        }
        Section::ResultingHexagramJudgment => r.map(zh_judgment).into_iter().collect(),
        Section::ResultingHexagramImage => r.map(zh_image).into_iter().collect(),
        Section::SynthesisAndGuidance => {
            let mut v = vec![zh_judgment(p)];
            v.extend(changing_texts());
            v.extend(r.map(zh_judgment));
            v
        }
    }
}

/// Every text any section of `reading` is about, once each, in plan order: Legge's and the
/// Chinese.
fn all_texts(reading: &Reading) -> (Vec<LeggeText<'_>>, Vec<ChineseText>) {
    let mut legge: Vec<LeggeText<'_>> = Vec::new();
    let mut chinese: Vec<ChineseText> = Vec::new();
    for section in super::plan(reading) {
        for text in section_texts(reading, section) {
            if !legge.iter().any(|t| t.source == text.source) {
                legge.push(text);
            }
        }
        for text in section_chinese(reading, section) {
            if !chinese.iter().any(|t| t.source == text.source) {
                chinese.push(text);
            }
        }
    }
    (legge, chinese)
}

/// What the envelope says to write in when no language is set.
pub const QUESTION_LANGUAGE: &str = "the language the question is written in";

/// The envelope of `reading`: the same for each of its sections. `language` is the one the
/// settings name (`None`: the question's own).
pub fn envelope<'a>(
    reading: &'a Reading,
    query: &'a Query,
    language: Option<&str>,
) -> Envelope<'a> {
    let changing = reading.changing_lines();
    let last = changing.last().copied();
    let (texts, chinese_texts) = all_texts(reading);
    Envelope {
        question: &query.question,
        context: query.context.as_deref(),
        answer_language: language.map_or_else(|| QUESTION_LANGUAGE.to_owned(), str::to_owned),
        cast_method: reading.cast.method.as_str(),
        lines: reading.values(),
        initial_hexagram: reading.primary.into(),
        resulting_hexagram: reading.resulting.map(Into::into),
        nuclear_hexagram: reading.nuclear.into(),
        changing_lines: changing
            .iter()
            .map(|&n| ChangingLine {
                line_number: n,
                value: reading.cast.lines[usize::from(n - 1)].get(),
                is_last_changing_line: Some(n) == last,
            })
            .collect(),
        number_of_changing_lines: changing.len(),
        reading_rule: reading.rule().summary,
        texts,
        chinese_texts,
    }
}
