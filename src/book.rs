//! The book: one hexagram's page, as `iching hexagram` prints it and the Library screen shows
//! it — the figure, the names (pinyin with tones, Chinese, the English gloss, Wilhelm/Baynes' title
//! and its Wade-Giles, Legge's), the two
//! trigrams, the nuclear hexagram, and Legge's judgment, image and six lines, with the use of
//! the nines or sixes for 1 and 2, each with its original in classical Chinese, and the Ten
//! Wings' Xugua and Zagua phrases (and the Wenyan of 1 and 2). [`Page`] is the JSON; [`to_text`]
//! and [`to_markdown`] the other formats. The Chinese is shown in one script, simplified, as the
//! classical text has it ([`SCRIPT`]); the JSON keeps the traditional name in `chinese` and has the
//! simplified beside it. Every text is cleaned for a terminal ([`sanitize_inline`]), and for Markdown
//! escaped as the exports are ([`markdown_text`]).

use serde::Serialize;

use crate::answer::{markdown_text, sanitize_inline};
use crate::oracle::{Chinese, Hexagram, Trigram};
use crate::text::wrap;

/// One hexagram's page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Page {
    /// King Wen number, 1..=64.
    pub number: u8,
    /// Pinyin without tone marks, as readings name it ("Da Zhuang").
    pub name: String,
    /// Pinyin with tone marks ("Dà Zhuàng").
    pub pinyin: String,
    /// The Chinese name (traditional).
    pub chinese: String,
    /// The Chinese name in simplified characters, as the page shows it ("大壮").
    pub simplified: String,
    /// A short English gloss (the data's, not Legge's).
    pub english: String,
    /// The Wilhelm/Baynes title with its alternatives ("The Power of the Great").
    pub wilhelm: String,
    /// The Wade-Giles romanisation Wilhelm/Baynes give ("Ta Chuang").
    pub wade_giles: String,
    /// Legge's romanised name ("Tâ Kwang").
    pub legge: String,
    /// The Unicode hexagram.
    pub symbol: String,
    /// The upper (outer) trigram.
    pub upper: TrigramPage,
    /// The lower (inner) trigram.
    pub lower: TrigramPage,
    /// The nuclear hexagram (lines 2-3-4 below, 3-4-5 above).
    pub nuclear: Summary,
    /// Legge: the judgment.
    pub judgment: String,
    /// Legge: the image (the Great Symbolism).
    pub image: String,
    /// Legge: the six lines, the bottom one first.
    pub lines: Vec<LinePage>,
    /// Legge: the use of the nines (1) or of the sixes (2); `None` for the others.
    pub all_lines: Option<String>,
    /// The original text in classical Chinese (simplified characters): judgment, line
    /// statements, Tuan, Great and Small Images, Xugua and Zagua phrases, Wenyan for 1 and 2.
    /// (`chinese` is the name.)
    pub chinese_text: Chinese,
}

/// Which script the page's Chinese is in: the names, as the classical text, in simplified
/// characters.
pub const SCRIPT: &str = "Chinese in simplified characters (简体)";

/// The label of the Tuan, as Chinese editions print it under the judgment.
pub const TUAN: &str = "彖曰：";
/// The label of an Image (the Great under the image, the Small under a line).
pub const XIANG: &str = "象曰：";
/// The heading of the Xugua and Zagua phrases (and the Wenyan).
pub const WINGS_HEADING: &str = "From the Ten Wings";
/// The heading of the Wenyan.
pub const WENYAN_HEADING: &str = "Wenyan 文言";

/// The Chinese of the judgment: the text, then the Tuan.
pub fn chinese_judgment(c: &Chinese) -> [String; 2] {
    [c.judgment.clone(), format!("{TUAN}{}", c.tuan)]
}

/// The Chinese of line `n`: the statement, then its Small Image.
pub fn chinese_line(c: &Chinese, n: u8) -> [String; 2] {
    [
        c.line_text(n).to_owned(),
        format!("{XIANG}{}", c.line_image(n)),
    ]
}

/// The Chinese of 用九/用六 with its Small Image; empty for the others.
pub fn chinese_use(c: &Chinese) -> Vec<String> {
    match (&c.all_lines, &c.all_lines_image) {
        (Some(text), Some(image)) => vec![text.clone(), format!("{XIANG}{image}")],
        _ => Vec::new(),
    }
}

/// The hexagram's phrases of the Xugua and the Zagua, labelled.
pub fn chinese_wings(c: &Chinese) -> [String; 2] {
    [format!("序卦：{}", c.xugua), format!("杂卦：{}", c.zagua)]
}

/// A trigram on a page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrigramPage {
    /// Pinyin ("Zhen").
    pub name: String,
    /// Chinese, traditional ("離").
    pub chinese: String,
    /// Chinese, simplified, as the page shows it ("离").
    pub simplified: String,
    /// The Unicode trigram.
    pub symbol: String,
    /// English ("Thunder").
    pub english: String,
    /// Its image in nature ("thunder").
    pub image: String,
    /// Its quality ("moving/arousing").
    pub attribute: String,
    /// Its place in the family ("eldest son").
    pub family: String,
}

/// Another hexagram, named.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// King Wen number.
    pub number: u8,
    /// Pinyin without tone marks.
    pub name: String,
    /// Pinyin with tone marks.
    pub pinyin: String,
    /// The Chinese name (traditional).
    pub chinese: String,
    /// The Chinese name in simplified characters, as the page shows it.
    pub simplified: String,
    /// The English gloss.
    pub english: String,
    /// The Unicode hexagram.
    pub symbol: String,
}

/// One line of a page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LinePage {
    /// 1 (bottom) to 6 (top).
    pub position: u8,
    /// Undivided (NINE) or divided (SIX).
    pub yang: bool,
    /// Legge's text.
    pub text: String,
}

impl From<&Trigram> for TrigramPage {
    fn from(t: &Trigram) -> Self {
        Self {
            name: t.name_pinyin.clone(),
            chinese: t.name_chinese.clone(),
            simplified: t.simplified().to_owned(),
            symbol: t.symbol.clone(),
            english: t.english.clone(),
            image: t.image.clone(),
            attribute: t.attribute.clone(),
            family: t.family.clone(),
        }
    }
}

impl From<&Hexagram> for Summary {
    fn from(h: &Hexagram) -> Self {
        Self {
            number: h.number,
            name: h.name_pinyin.clone(),
            pinyin: h.pinyin().to_owned(),
            chinese: h.name_chinese.clone(),
            simplified: h.simplified().to_owned(),
            english: h.name_english.clone(),
            symbol: h.symbol.clone(),
        }
    }
}

impl From<&Hexagram> for Page {
    fn from(h: &Hexagram) -> Self {
        Self {
            number: h.number,
            name: h.name_pinyin.clone(),
            pinyin: h.pinyin().to_owned(),
            chinese: h.name_chinese.clone(),
            simplified: h.simplified().to_owned(),
            english: h.name_english.clone(),
            wilhelm: h.wilhelm().to_owned(),
            wade_giles: h.wade_giles().to_owned(),
            legge: h.name_legge.clone(),
            symbol: h.symbol.clone(),
            upper: h.upper().into(),
            lower: h.lower().into(),
            nuclear: h.nuclear().into(),
            judgment: h.judgment.clone(),
            image: h.image.clone(),
            lines: (1..=6u8)
                .map(|n| LinePage {
                    position: n,
                    yang: h.is_yang(n),
                    text: h.line_text(n).to_owned(),
                })
                .collect(),
            all_lines: h.all_lines.clone(),
            chinese_text: h.chinese().clone(),
        }
    }
}

/// The heading of the use of the nines (hexagram 1) or sixes (2), with its text; `None` for
/// the others.
pub fn use_of(h: &Hexagram) -> Option<(&'static str, &str)> {
    h.all_lines
        .as_deref()
        .map(|text| (use_heading(h.number), text))
}

/// "The use of the nines" (hexagram 1, all lines undivided) or "... sixes" (2).
fn use_heading(number: u8) -> &'static str {
    if number == 1 {
        "The use of the nines"
    } else {
        "The use of the sixes"
    }
}

/// A line of the figure: undivided or divided.
pub fn bar(yang: bool) -> &'static str {
    if yang {
        "━━━━━━━"
    } else {
        "━━━ ━━━"
    }
}

/// "☳ Zhen 震 (Thunder): thunder, moving/arousing, eldest son".
pub fn trigram_line(t: &TrigramPage) -> String {
    format!(
        "{} {} {} ({}): {}, {}, {}",
        t.symbol, t.name, t.simplified, t.english, t.image, t.attribute, t.family
    )
}

/// "䷪ 43 Guài 夬 (Resolution / Displacement)".
pub fn summary_line(s: &Summary) -> String {
    format!(
        "{} {} {} {} ({})",
        s.symbol, s.number, s.pinyin, s.simplified, s.english
    )
}

/// "䷡ 34 Dà Zhuàng 大壮 (Great Strength)".
pub fn title(p: &Page) -> String {
    format!(
        "{} {} {} {} ({})",
        p.symbol, p.number, p.pinyin, p.simplified, p.english
    )
}

/// "Wilhelm: The Power of the Great · Wade-Giles: Ta Chuang".
pub fn wilhelm_line(p: &Page) -> String {
    format!("Wilhelm: {} · Wade-Giles: {}", p.wilhelm, p.wade_giles)
}

/// "Chinese in simplified characters (简体); traditional 大壯": the script, and the traditional
/// name where it differs.
pub fn script_line(p: &Page) -> String {
    if p.chinese == p.simplified {
        SCRIPT.to_owned()
    } else {
        format!("{SCRIPT}; traditional {}", p.chinese)
    }
}

/// `text` wrapped at `width`, every line indented by `indent` (the first by `first`).
fn indented(text: &str, width: usize, first: &str, indent: &str) -> String {
    let w = width.saturating_sub(indent.chars().count()).max(20);
    let mut out = String::new();
    for (i, l) in wrap(&sanitize_inline(text), w).iter().enumerate() {
        out.push_str(if i == 0 { first } else { indent });
        out.push_str(l);
        out.push('\n');
    }
    out
}

/// The page as plain text, wrapped at `width` columns.
pub fn to_text(p: &Page, width: usize) -> String {
    let mut out = indented(&title(p), width, "", "  ");
    out.push_str(&indented(&wilhelm_line(p), width, "", "  "));
    out.push_str(&format!("Legge: {}\n", sanitize_inline(&p.legge)));
    out.push_str(&indented(&script_line(p), width, "", "  "));
    out.push('\n');
    for l in p.lines.iter().rev() {
        out.push_str(&format!("  {}  {}\n", l.position, bar(l.yang)));
    }
    out.push('\n');
    out.push_str(&indented(
        &trigram_line(&p.upper),
        width,
        "Above:   ",
        "         ",
    ));
    out.push_str(&indented(
        &trigram_line(&p.lower),
        width,
        "Below:   ",
        "         ",
    ));
    out.push_str(&indented(
        &summary_line(&p.nuclear),
        width,
        "Nuclear: ",
        "         ",
    ));
    let c = &p.chinese_text;
    let judgment = chinese_judgment(c);
    let image = [c.image.clone()];
    for (heading, text, zh) in [
        ("The judgment", &p.judgment, &judgment[..]),
        ("The image", &p.image, &image[..]),
    ] {
        out.push_str(&format!("\n{heading}\n"));
        out.push_str(&indented(text, width, "  ", "  "));
        for z in zh {
            out.push_str(&indented(z, width, "  ", "  "));
        }
    }
    out.push_str("\nThe lines\n");
    for l in &p.lines {
        out.push_str(&indented(
            &l.text,
            width,
            &format!("  {}  ", l.position),
            "     ",
        ));
        for z in chinese_line(c, l.position) {
            out.push_str(&indented(&z, width, "     ", "     "));
        }
    }
    if let Some(all) = &p.all_lines {
        out.push_str(&format!("\n{}\n", use_heading(p.number)));
        out.push_str(&indented(all, width, "  ", "  "));
        for z in chinese_use(c) {
            out.push_str(&indented(&z, width, "  ", "  "));
        }
    }
    out.push_str(&format!("\n{WINGS_HEADING}\n"));
    for z in chinese_wings(c) {
        out.push_str(&indented(&z, width, "  ", "  "));
    }
    if let Some(wenyan) = &c.wenyan {
        out.push_str(&format!("\n{WENYAN_HEADING}\n"));
        for z in wenyan {
            out.push_str(&indented(z, width, "  ", "  "));
        }
    }
    out
}

/// The page as Markdown: every text escaped as the exports escape it.
pub fn to_markdown(p: &Page) -> String {
    let mut out = format!("# {}\n\n", markdown_text(&title(p)));
    out.push_str(&format!(
        "{}  \nLegge: {}  \n{}\n\n",
        markdown_text(&wilhelm_line(p)),
        markdown_text(&p.legge),
        markdown_text(&script_line(p))
    ));
    out.push_str("```text\n");
    for l in p.lines.iter().rev() {
        out.push_str(&format!("{}  {}\n", l.position, bar(l.yang)));
    }
    out.push_str("```\n\n");
    out.push_str(&format!(
        "- **Above:** {}\n- **Below:** {}\n- **Nuclear:** {}\n",
        markdown_text(&trigram_line(&p.upper)),
        markdown_text(&trigram_line(&p.lower)),
        markdown_text(&summary_line(&p.nuclear))
    ));
    let c = &p.chinese_text;
    // Each Chinese passage a paragraph of its own, under the English.
    let zh =
        |texts: &[String]| -> String { texts.iter().map(|t| markdown_text(t) + "\n\n").collect() };
    let judgment = chinese_judgment(c);
    let image = [c.image.clone()];
    out.push('\n');
    for (heading, text, original) in [
        ("The judgment", &p.judgment, &judgment[..]),
        ("The image", &p.image, &image[..]),
    ] {
        out.push_str(&format!(
            "## {heading}\n\n{}\n\n{}",
            markdown_text(text),
            zh(original)
        ));
    }
    out.push_str("## The lines\n\n");
    for l in &p.lines {
        out.push_str(&format!(
            "**Line {}.** {}\n\n{}",
            l.position,
            markdown_text(&l.text),
            zh(&chinese_line(c, l.position))
        ));
    }
    if let Some(all) = &p.all_lines {
        out.push_str(&format!(
            "## {}\n\n{}\n\n{}",
            use_heading(p.number),
            markdown_text(all),
            zh(&chinese_use(c))
        ));
    }
    out.push_str(&format!("## {WINGS_HEADING}\n\n{}", zh(&chinese_wings(c))));
    if let Some(wenyan) = &c.wenyan {
        out.push_str(&format!("## {WENYAN_HEADING}\n\n{}", zh(wenyan)));
    }
    out.trim_end().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oracle::hexagram;

    fn page(n: u8) -> Page {
        hexagram(n).unwrap().into()
    }

    #[test]
    fn a_page_has_the_figure_names_trigrams_nuclear_and_every_text() {
        let p = page(34);
        assert_eq!(
            (p.number, p.name.as_str(), p.pinyin.as_str()),
            (34, "Da Zhuang", "Dà Zhuàng")
        );
        assert_eq!(p.upper.name, "Zhen");
        assert_eq!(p.lower.name, "Qian");
        assert_eq!(p.nuclear.number, 43);
        assert_eq!(p.lines.len(), 6);
        assert!(p.lines[0].yang && !p.lines[5].yang);
        assert!(p.lines[0].text.starts_with("The first NINE"));
        assert!(p.all_lines.is_none());
        let text = to_text(&p, 80);
        assert!(text.starts_with("䷡ 34 Dà Zhuàng 大壮 (Great Strength)\nWilhelm: The Power of the Great · Wade-Giles: Ta Chuang\nLegge: Tâ Kwang\nChinese in simplified characters (简体); traditional 大壯\n\n  6  ━━━ ━━━\n  5  ━━━ ━━━\n  4  ━━━━━━━\n"), "{text}");
        assert!(
            text.contains("Above:   ☳ Zhen 震 (Thunder): thunder, moving/arousing, eldest son\n")
        );
        assert!(text.contains("Nuclear: ䷪ 43 Guài 夬 (Resolution / Displacement)\n"));
        assert!(
            text.contains("\nThe judgment\n  Tâ Kwang indicates"),
            "{text}"
        );
        assert!(
            text.contains("\nThe lines\n  1  The first NINE, undivided,"),
            "{text}"
        );
        for line in to_text(&p, 60).lines() {
            assert!(crate::text::width(line) <= 60, "{line:?}");
        }
        assert!(!text.contains("use of the"));
    }

    #[test]
    fn qian_and_kun_have_the_use_of_the_nines_and_sixes() {
        let one = to_text(&page(1), 80);
        assert!(
            one.contains("\nThe use of the nines\n  (The lines of this hexagram"),
            "{one}"
        );
        let two = to_markdown(&page(2));
        assert!(
            two.contains("\n## The use of the sixes\n\n(The lines"),
            "{two}"
        );
        assert_eq!(
            use_of(hexagram(1).unwrap()).map(|(t, _)| t),
            Some("The use of the nines")
        );
        assert_eq!(use_of(hexagram(3).unwrap()), None);
    }

    #[test]
    fn the_original_stands_under_each_of_legges_texts() {
        let p = page(1);
        assert_eq!(p.chinese_text.judgment, "乾：元亨。利贞。");
        let text = to_text(&p, 80);
        for want in [
            "\n  乾：元亨。利贞。\n  彖曰：大哉乾元，",
            "\n  天行健，君子以自强不息。\n",
            "\n     初九：潜龙勿用。\n     象曰：潜龙勿用，阳在下也。\n",
            "\n  用九：见群龙无首，吉。\n  象曰：用九，天德不可为首也。\n",
            "\nFrom the Ten Wings\n  序卦：有天地，然后万物生焉。\n  杂卦：乾刚坤柔，比乐师忧。\n",
            "\nWenyan 文言\n  元者，善之长也。",
        ] {
            assert!(text.contains(want), "{want:?} in\n{text}");
        }
        for line in to_text(&p, 41).lines() {
            assert!(crate::text::width(line) <= 41, "{line:?}");
        }
        assert!(!to_text(&page(3), 80).contains("Wenyan"));
    }

    #[test]
    fn the_names_people_know_and_one_script_for_the_chinese() {
        let one = to_text(&page(1), 80);
        assert!(
            one.starts_with("䷀ 1 Qián 乾 (Heaven)\nWilhelm: The Creative · Wade-Giles: Ch’ien\nLegge: Khien\nChinese in simplified characters (简体)\n\n"),
            "{one}"
        );
        // 剝 above 剥 was two scripts in one view: the names follow the text, simplified.
        let p = page(23);
        assert_eq!((p.chinese.as_str(), p.simplified.as_str()), ("剝", "剥"));
        let text = to_text(&p, 80);
        assert!(
            text.starts_with("䷖ 23 Bō 剥 (Stripping / Overthrowing)\n"),
            "{text}"
        );
        assert!(text.contains("traditional 剝\n"), "{text}");
        assert!(!text.contains("剝 ("), "{text}");
        // Trigrams and the nuclear hexagram too: 離 is 离 on the page of 30.
        let thirty = to_text(&page(30), 80);
        assert!(thirty.contains("Above:   ☲ Li 离 (Fire)"), "{thirty}");
        assert_eq!(
            thirty.matches('離').count(),
            1,
            "only as 'traditional 離': {thirty}"
        );
        let md = to_markdown(&page(64));
        assert!(
            md.contains("\nWilhelm: Before Completion · Wade-Giles: Wei Chi  \nLegge: Wei Žî  \n"),
            "{md}"
        );
        for h in crate::oracle::all_hexagrams() {
            for line in to_text(&page(h.number), 40).lines() {
                assert!(crate::text::width(line) <= 40, "{line:?}");
            }
        }
    }

    #[test]
    fn markdown_escapes_what_could_become_markup() {
        let mut p = page(55);
        p.judgment = "<script>x</script> *b* [l](j:x) `c`".into();
        p.lines[0].text = "# heading & \u{1b}[31mred".into();
        let md = to_markdown(&p);
        assert!(
            md.contains("\\<script\\>x\\</script\\> \\*b\\* \\[l\\](j:x) \\`c\\`"),
            "{md}"
        );
        assert!(md.contains("**Line 1.** \\# heading \\& red"), "{md}");
        assert!(!md.contains('\u{1b}'));
        let text = to_text(&p, 80);
        assert!(!text.contains('\u{1b}'), "{text}");
    }
}
