//! Your readings over time (`iching stats --hexagrams`, the terminal app's Patterns view). How often each
//! hexagram came up as primary and as resulting against what the casting methods' odds predict
//! (coins and yarrow differ; manual casts have no odds), how many lines changed per reading,
//! and readings per month. Drawn from the authenticated plain columns; nothing is decrypted
//! unless `--search` asks for the readings the one search rule finds (`crate::search`).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::oracle::odds::odds;
use crate::oracle::{Method, hexagram};
use crate::store::ReadingRow;
use crate::when::Stamp;

/// What `--json` prints.
#[derive(Debug, Serialize)]
pub struct Patterns {
    /// Readings counted.
    pub readings: usize,
    /// By method (`coins`, `yarrow`, `manual`).
    pub by_method: BTreeMap<String, usize>,
    /// Readings left out because their records failed the integrity check.
    pub damaged: usize,
    /// Each of the 64 hexagrams.
    pub hexagrams: Vec<HexagramCount>,
    /// How many readings had k changing lines, k = 0..=6, and how many the odds predict.
    pub changing_lines: Vec<Expected>,
    /// Readings per month (`YYYY-MM`), oldest first.
    pub per_month: Vec<(String, usize)>,
}

/// One hexagram's counts.
#[derive(Debug, Serialize)]
pub struct HexagramCount {
    /// King Wen number.
    pub number: u8,
    /// Its name (pinyin and English).
    pub name: String,
    /// Times it was the primary hexagram.
    pub primary: usize,
    /// Times the odds of the methods used predict (manual casts excluded).
    pub primary_expected: f64,
    /// Times it was the resulting hexagram.
    pub resulting: usize,
    /// Times the odds predict.
    pub resulting_expected: f64,
}

/// A count and what the odds predict.
#[derive(Debug, Serialize)]
pub struct Expected {
    /// What it counts (changing lines).
    pub k: usize,
    /// Seen.
    pub count: usize,
    /// Predicted (random casts only).
    pub expected: f64,
}

/// The patterns of `rows`.
pub fn patterns(rows: &[ReadingRow], damaged: usize) -> Patterns {
    let mut by_method: BTreeMap<String, usize> = BTreeMap::new();
    let mut primary = [0usize; 64];
    let mut resulting = [0usize; 64];
    let mut changing = [0usize; 7];
    let mut primary_expected = [0.0f64; 64];
    let mut resulting_expected = [0.0f64; 64];
    let mut changing_expected = [0.0f64; 7];
    let mut per_month: BTreeMap<String, usize> = BTreeMap::new();
    let coins = odds(Method::Coins);
    let yarrow = odds(Method::Yarrow);
    for r in rows {
        *by_method.entry(r.method.clone()).or_default() += 1;
        primary[usize::from(r.primary.clamp(1, 64) - 1)] += 1;
        if let Some(res) = r.resulting {
            resulting[usize::from(res.clamp(1, 64) - 1)] += 1;
        }
        changing[r.lines.iter().filter(|&&v| v == 6 || v == 9).count()] += 1;
        let method_odds = match r.method.as_str() {
            "coins" => coins.as_ref(),
            "yarrow" => yarrow.as_ref(),
            _ => None,
        };
        if let Some(o) = method_odds {
            for (sum, p) in primary_expected.iter_mut().zip(o.primary) {
                *sum += p;
            }
            for (sum, p) in resulting_expected.iter_mut().zip(o.resulting) {
                *sum += p;
            }
            for (sum, p) in changing_expected.iter_mut().zip(o.changing) {
                *sum += p;
            }
        }
        *per_month
            .entry(Stamp::at(r.created_at).month())
            .or_default() += 1;
    }
    Patterns {
        readings: rows.len(),
        by_method,
        damaged,
        hexagrams: (1..=64u8)
            .map(|n| {
                let i = usize::from(n - 1);
                HexagramCount {
                    number: n,
                    name: hexagram(n).map_or_else(String::new, |h| {
                        format!("{} ({})", h.name_pinyin, h.name_english)
                    }),
                    primary: primary[i],
                    primary_expected: primary_expected[i],
                    resulting: resulting[i],
                    resulting_expected: resulting_expected[i],
                }
            })
            .collect(),
        changing_lines: (0..7)
            .map(|k| Expected {
                k,
                count: changing[k],
                expected: changing_expected[k],
            })
            .collect(),
        per_month: per_month.into_iter().collect(),
    }
}

/// A bar of `n` out of `max` in `width` cells.
fn bar(n: usize, max: usize, width: usize) -> String {
    if max == 0 {
        return String::new();
    }
    let cells = (n * width).div_ceil(max).min(width);
    "█".repeat(cells)
}

/// A sparkline of `values`.
fn sparkline(values: &[usize]) -> String {
    const TICKS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let max = values.iter().copied().max().unwrap_or(0).max(1);
    values
        .iter()
        .map(|&v| TICKS[(v * 7).div_ceil(max).min(7)])
        .collect()
}

/// The patterns as tables for people, `width` columns wide (the hexagram names and the bars
/// give way first).
pub fn text(p: &Patterns, search: Option<&str>, width: usize) -> String {
    // "  #  " + name + counts: 42 columns besides the name and the bar.
    let bar_w = if width >= 90 { 12 } else { 8 };
    let name_w = width.saturating_sub(42 + bar_w + 2).clamp(12, 34);
    if p.readings == 0 {
        return match search {
            Some(s) => format!(
                "No readings match \"{}\": nothing to count.",
                crate::answer::sanitize_inline(s)
            ),
            None => "No readings yet. Cast one with `iching cast \"your question\"`.".to_owned(),
        };
    }
    let methods: Vec<String> = p
        .by_method
        .iter()
        .map(|(m, n)| format!("{m} {n}"))
        .collect();
    let mut out = format!(
        "Hexagrams across {} {}{} ({})\n",
        p.readings,
        if p.readings == 1 {
            "reading"
        } else {
            "readings"
        },
        search.map_or_else(String::new, |s| format!(
            " whose words include \"{}\"",
            crate::answer::sanitize_inline(s)
        )),
        methods.join(", ")
    );
    out.push_str("Expected: what the coins' and yarrow stalks' odds predict for these casts.\n\n");
    let max = p
        .hexagrams
        .iter()
        .map(|h| h.primary.max(h.resulting))
        .max()
        .unwrap_or(0);
    out.push_str(&format!(
        "{:>3}  {} {:>7} {:>8}  {:>9} {:>8}\n",
        "#",
        crate::text::pad("hexagram", name_w),
        "primary",
        "expected",
        "resulting",
        "expected"
    ));
    for h in p.hexagrams.iter().filter(|h| h.primary + h.resulting > 0) {
        out.push_str(&format!(
            "{:>3}  {} {:>7} {:>8.1}  {:>9} {:>8.1}  {}\n",
            h.number,
            crate::text::pad(&crate::text::truncate(&h.name, name_w), name_w),
            h.primary,
            h.primary_expected,
            h.resulting,
            h.resulting_expected,
            bar(h.primary + h.resulting, max * 2, bar_w),
        ));
    }
    let unseen = p
        .hexagrams
        .iter()
        .filter(|h| h.primary + h.resulting == 0)
        .count();
    if unseen > 0 {
        out.push_str(&format!("({unseen} hexagrams have not come up.)\n"));
    }
    out.push_str("\nChanging lines per reading\n");
    let max = p.changing_lines.iter().map(|c| c.count).max().unwrap_or(0);
    for c in &p.changing_lines {
        out.push_str(&format!(
            "  {}  {:>5}  (expected {:>5.1})  {}\n",
            c.k,
            c.count,
            c.expected,
            bar(c.count, max, 20)
        ));
    }
    let months: Vec<usize> = p.per_month.iter().map(|(_, n)| *n).collect();
    if let (Some(first), Some(last)) = (p.per_month.first(), p.per_month.last()) {
        out.push_str(&format!(
            "\nReadings per month, {} to {}: {}  (most: {})\n",
            first.0,
            last.0,
            sparkline(&months),
            months.iter().max().unwrap_or(&0)
        ));
    }
    if p.damaged > 0 {
        out.push_str(&format!(
            "\nLeft out: {} readings whose records failed the integrity check (`iching verify`).\n",
            p.damaged
        ));
    }
    out.trim_end().to_owned()
}
