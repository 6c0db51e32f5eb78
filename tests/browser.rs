//! The HTML export in a real browser (issue 15, item 13). A reading cast offline with the lines
//! 9,8,7,7,6,8 (55 Feng changing to 31 Xian) is exported with `show --format html` and opened
//! in headless Chromium. Its layout engine has to draw both figures bar by bar as the cast says
//! (a yang line one bar across, a yin line two bars with a gap, the changing lines in their own
//! colour and turned in the resulting figure), side by side; the names, the Chinese names and
//! the hexagram signs have to be on the page; and the fonts it drew them with have to have the
//! glyphs (a CJK font for the Chinese, a symbol font for the signs): no empty boxes.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test or tool fails by panicking"
)]

use crate::support;

use serde_json::Value;

use support::cdp::Browser;
use support::cli::std_binary;

/// Where every bar of every figure was drawn, relative to its line.
const FIGURES: &str = "JSON.stringify([...document.querySelectorAll('.hexagram')].map(h => {
  const f = h.getBoundingClientRect();
  return { left: f.left, right: f.right, top: f.top, lines: [...h.querySelectorAll('.line')].map(l => {
    const b = l.getBoundingClientRect();
    return { top: b.top, width: b.width, height: b.height, bars: [...l.children].map(s => {
      const r = s.getBoundingClientRect();
      return { left: r.left - b.left, width: r.width, height: r.height, colour: getComputedStyle(s).backgroundColor };
    }) };
  }) };
}))";

/// A line as the browser drew it: `yang`, `yin`, or what was wrong with it; and its colour.
fn read_line(line: &Value) -> (String, String) {
    let width = line["width"].as_f64().unwrap();
    let bars = line["bars"].as_array().unwrap();
    let colour = bars[0]["colour"].as_str().unwrap().to_owned();
    for bar in bars {
        assert!(
            bar["height"].as_f64().unwrap() >= 6.0,
            "a bar too thin to see: {line}"
        );
        assert_eq!(bar["colour"], bars[0]["colour"], "{line}");
    }
    let kind = match bars.as_slice() {
        [bar] if (bar["width"].as_f64().unwrap() - width).abs() < 1.0 => "yang",
        [a, b] => {
            let (aw, bw) = (a["width"].as_f64().unwrap(), b["width"].as_f64().unwrap());
            let gap = b["left"].as_f64().unwrap() - (a["left"].as_f64().unwrap() + aw);
            // Two halves of a broken line, flush with the ends, with a visible gap between.
            if a["left"].as_f64().unwrap().abs() < 1.0
                && (b["left"].as_f64().unwrap() + bw - width).abs() < 1.0
                && gap >= width * 0.1
            {
                "yin"
            } else {
                "a broken line drawn wrong"
            }
        }
        _ => "neither a whole nor a broken line",
    };
    (kind.to_owned(), colour)
}

#[test]
fn the_html_export_draws_its_figures_names_and_chinese_in_chromium() {
    let home = tempfile::tempdir().unwrap();
    let cast = std_binary()
        .args(["cast", "Should I move?", "--lines", "9,8,7,7,6,8"])
        .args(["--provider", "offline"])
        .env("ICHING_HOME", home.path())
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(cast.status.success(), "{cast:?}");
    let export = std_binary()
        .args(["show", "1", "--format", "html"])
        .env("ICHING_HOME", home.path())
        .output()
        .unwrap();
    assert!(export.status.success(), "{export:?}");
    let file = home.path().join("reading.html");
    std::fs::write(&file, &export.stdout).unwrap();

    let mut browser = Browser::launch();
    let page = browser.open(&file, 900, 1400);

    // The figures, top line first. The cast, bottom first, is 9 8 7 7 6 8.
    let figures: Value =
        serde_json::from_str(browser.eval(&page, FIGURES).as_str().unwrap()).unwrap();
    let figures = figures.as_array().unwrap();
    assert_eq!(figures.len(), 2, "the primary and the resulting figure");
    let drawn: Vec<Vec<(String, String)>> = figures
        .iter()
        .map(|f| {
            f["lines"]
                .as_array()
                .unwrap()
                .iter()
                .map(read_line)
                .collect()
        })
        .collect();
    let ink = "rgb(34, 34, 34)";
    let red = "rgb(163, 51, 39)";
    let want = |lines: [(&str, &str); 6]| -> Vec<(String, String)> {
        lines
            .iter()
            .map(|(k, c)| ((*k).to_owned(), (*c).to_owned()))
            .collect()
    };
    // 55 Feng, the 6 and the 9 marked as changing.
    assert_eq!(
        drawn[0],
        want([
            ("yin", ink),
            ("yin", red),
            ("yang", ink),
            ("yang", ink),
            ("yin", ink),
            ("yang", red),
        ]),
        "55 Feng as drawn: {}",
        figures[0]
    );
    // 31 Xian: the 6 has become yang, the 9 yin; nothing is marked any more.
    assert_eq!(
        drawn[1],
        want([
            ("yin", ink),
            ("yang", ink),
            ("yang", ink),
            ("yang", ink),
            ("yin", ink),
            ("yin", ink),
        ]),
        "31 Xian as drawn: {}",
        figures[1]
    );
    // Six lines stacked downwards, apart, in each figure; the figures side by side.
    for figure in figures {
        let tops: Vec<f64> = figure["lines"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["top"].as_f64().unwrap())
            .collect();
        assert!(
            tops.windows(2).all(|w| w[1] > w[0] + 12.0),
            "lines overlap: {tops:?}"
        );
    }
    assert!(
        figures[1]["left"].as_f64().unwrap() > figures[0]["right"].as_f64().unwrap(),
        "the resulting figure is not beside the primary one: {figures:?}"
    );

    // The names as rendered text.
    let text = browser.eval(&page, "document.body.innerText");
    let text = text.as_str().unwrap();
    for want in [
        "䷶ 55 Feng 丰",
        "Abundance",
        "Zhen over Li",
        "䷞ 31 Xian 咸",
        "Influence / Mutual Attraction",
        "Dui over Gen",
        "Changing lines: 1, 5.",
    ] {
        assert!(text.contains(want), "not on the page: {want}\n{text}");
    }

    // Every glyph drawn from a font that has it. A caption holds Latin letters, the hexagram
    // sign and the Chinese name: a CJK font drew the Chinese, a font with the Yijing block the
    // sign. The original text (`lang="zh-Hans"`) is drawn by CJK fonts alone.
    let captions = browser.fonts(&page, "figcaption");
    assert_eq!(captions.len(), 2);
    for fonts in &captions {
        let cjk: u64 = fonts
            .iter()
            .filter(|(family, _)| family.contains("CJK"))
            .map(|(_, glyphs)| glyphs)
            .sum();
        assert_eq!(
            cjk, 1,
            "the Chinese name is not drawn by a CJK font: {fonts:?}"
        );
        assert!(
            fonts.iter().any(|(family, glyphs)| {
                *glyphs == 1 && ["DejaVu", "Symbols"].iter().any(|f| family.contains(f))
            }),
            "the hexagram sign is not drawn by a font of the stack that has it: {fonts:?}"
        );
    }
    let original = browser.fonts(&page, "[lang=zh-Hans]");
    assert!(!original.is_empty(), "no Chinese text on the page");
    for fonts in &original {
        assert!(
            !fonts.is_empty() && fonts.iter().all(|(family, _)| family.contains("CJK")),
            "Chinese text drawn by a font without its glyphs: {fonts:?}"
        );
    }
}
