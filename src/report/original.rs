//! The original text a reading turns on, in classical Chinese: the primary hexagram's judgment
//! and changing lines (with 用九/用六 when all six of 1 or 2 change), and the resulting
//! hexagram's judgment. It goes with every export: the `chinese` object of the JSON, a section
//! of the text and Markdown, and spans marked `lang="zh-Hans"` in the HTML.

use serde::{Deserialize, Serialize};

use crate::answer::{markdown_text, sanitize_inline};
use crate::oracle::{CHINESE_LANG, Reading};

/// The heading of the original text in the exports.
pub const HEADING: &str = "The original text";

/// The classical Chinese of a reading.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OriginalText {
    /// The primary hexagram's judgment (卦辞).
    pub judgment: String,
    /// The statement of each changing line of the primary hexagram, bottom first.
    pub changing_lines: Vec<LineText>,
    /// 用九 or 用六, when every line of hexagram 1 or 2 changes.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub all_lines: Option<String>,
    /// The resulting hexagram's judgment, when a line changes.
    pub resulting_judgment: Option<String>,
}

/// One line's statement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineText {
    /// 1 (bottom) to 6 (top).
    pub position: u8,
    /// The statement (爻辞), with its label: "初九：潜龙勿用。".
    pub text: String,
}

impl OriginalText {
    /// The texts `reading` turns on.
    pub fn of(reading: &Reading) -> Self {
        let c = reading.primary.chinese();
        let changing = reading.changing_lines();
        Self {
            judgment: c.judgment.clone(),
            all_lines: (changing.len() == 6).then(|| c.all_lines.clone()).flatten(),
            changing_lines: changing
                .into_iter()
                .map(|n| LineText {
                    position: n,
                    text: c.line_text(n).to_owned(),
                })
                .collect(),
            resulting_judgment: reading.resulting.map(|h| h.chinese().judgment.clone()),
        }
    }

    /// Its passages in order, each with a label: ("Judgment", ..), ("Line 1", ..), ...
    /// Empty when the report carries none (a report made before the text shipped).
    pub fn passages(&self) -> Vec<(String, &str)> {
        if self.judgment.is_empty() {
            return Vec::new();
        }
        let mut out = vec![("Judgment".to_owned(), self.judgment.as_str())];
        for l in &self.changing_lines {
            out.push((format!("Line {}", l.position), l.text.as_str()));
        }
        if let Some(all) = &self.all_lines {
            out.push(("All lines".to_owned(), all.as_str()));
        }
        if let Some(j) = &self.resulting_judgment {
            out.push(("Resulting judgment".to_owned(), j.as_str()));
        }
        out
    }

    /// The section of the text export, wrapped at `width` (cleaned for a terminal).
    pub fn to_text(&self, width: usize) -> String {
        let passages = self.passages();
        if passages.is_empty() {
            return String::new();
        }
        let mut out = format!("\n== {HEADING} ==\n");
        for (label, text) in passages {
            out.push_str(&super::wrap_labelled(
                &format!("{label}: "),
                &sanitize_inline(text),
                width,
            ));
        }
        out
    }

    /// The section of the Markdown export, every text escaped.
    pub fn to_markdown(&self) -> String {
        let passages = self.passages();
        if passages.is_empty() {
            return String::new();
        }
        let mut out = format!("\n## {HEADING}\n\n");
        for (label, text) in passages {
            out.push_str(&format!("**{label}.** {}\n\n", markdown_text(text)));
        }
        out.truncate(out.trim_end().len());
        out.push('\n');
        out
    }

    /// The section of the HTML page; `esc` escapes a text. The Chinese is marked with its
    /// language, so that a browser picks a fitting font and a screen reader the right voice.
    pub fn to_html(&self, esc: fn(&str) -> String) -> String {
        let passages = self.passages();
        if passages.is_empty() {
            return String::new();
        }
        let mut out = format!("<section class=\"original\">\n<h2>{}</h2>\n", esc(HEADING));
        for (label, text) in passages {
            out.push_str(&format!(
                "<p><b>{}.</b> <span lang=\"{CHINESE_LANG}\">{}</span></p>\n",
                esc(&label),
                esc(text)
            ));
        }
        out.push_str("</section>\n");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oracle::Cast;

    fn reading(lines: &str) -> Reading {
        Reading::new(Cast::manual(Cast::parse_lines(lines).unwrap()))
    }

    #[test]
    fn it_holds_the_judgments_and_the_changing_lines() {
        // 55 Feng, lines 1 and 5 changing, to 31 Xian.
        let o = OriginalText::of(&reading("9,8,7,7,6,8"));
        assert_eq!(o.judgment, "丰：亨。王假之，勿忧，宜日中。");
        let positions: Vec<u8> = o.changing_lines.iter().map(|l| l.position).collect();
        assert_eq!(positions, [1, 5]);
        assert!(o.changing_lines[0].text.starts_with("初九："));
        assert!(o.changing_lines[1].text.starts_with("六五："));
        assert!(o.resulting_judgment.as_deref().unwrap().starts_with("咸："));
        assert_eq!(o.all_lines, None);
        let md = o.to_markdown();
        assert!(
            md.contains("## The original text\n\n**Judgment.** 丰：亨"),
            "{md}"
        );
        let html = o.to_html(str::to_owned);
        assert!(html.contains("<span lang=\"zh-Hans\">丰：亨"), "{html}");
        assert_eq!(html.matches("lang=\"zh-Hans\"").count(), 4);

        let still = OriginalText::of(&reading("7,7,7,7,7,7"));
        assert!(still.changing_lines.is_empty() && still.resulting_judgment.is_none());
        let all = OriginalText::of(&reading("9,9,9,9,9,9"));
        assert_eq!(all.all_lines.as_deref(), Some("用九：见群龙无首，吉。"));
        assert!(OriginalText::default().to_text(80).is_empty());
    }
}
