//! A reading as one standalone HTML page: inline CSS, no scripts, no external resources; the
//! hexagram figures drawn with boxes; every section through [`crate::answer::to_html`]; every
//! other text escaped.

use super::{HexagramSummary, ReadingReport, SectionStatus};
use crate::answer::{sanitize_inline, to_html};
use crate::text::escape_html;

const STYLE: &str = "
body { margin: 0; background: #f7f4ec; color: #222; font: 17px/1.6 Georgia, 'Times New Roman', 'Noto Serif CJK SC', 'Noto Serif CJK TC', 'Source Han Serif', 'Songti SC', SimSun, 'Noto Sans Symbols 2', 'Segoe UI Symbol', 'Apple Symbols', 'DejaVu Sans', serif; }
main { max-width: 46rem; margin: 0 auto; padding: 2rem 1.25rem 4rem; }
h1 { font-size: 1.6rem; line-height: 1.3; margin: 0 0 .25rem; }
h2 { font-size: 1.15rem; margin: 2rem 0 .5rem; border-bottom: 1px solid #d8d0bd; }
.meta, .rule, footer { color: #5c5546; font-size: .9rem; }
.figures { display: flex; align-items: center; gap: 2rem; margin: 1.5rem 0; flex-wrap: wrap; }
figure { margin: 0; text-align: center; }
.hexagram { width: 7.5rem; margin: 0 auto .5rem; }
.line { display: flex; justify-content: space-between; height: .75rem; margin: .45rem 0; }
.line span { background: #222; }
.yang span { width: 100%; }
.yin span { width: 42%; }
.line.changing span { background: #a33327; }
figcaption { font-size: .9rem; }
.arrow { font-size: 1.6rem; color: #5c5546; }
.failed, .pending { font-style: italic; color: #7a4b2a; }
";

/// Escapes `s` for HTML text and attribute values (after removing control characters).
fn esc(s: &str) -> String {
    escape_html(&sanitize_inline(s))
}

/// The six lines, top first, as boxes; changing lines are marked and coloured.
fn figure(lines: [u8; 6], after_change: bool, h: &HexagramSummary) -> String {
    let mut out = String::from("<figure><div class=\"hexagram\">");
    for &v in lines.iter().rev() {
        let changing = v == 6 || v == 9;
        let yang = (v % 2 == 1) != (after_change && changing);
        let class = match (yang, changing && !after_change) {
            (true, false) => "line yang",
            (true, true) => "line yang changing",
            (false, false) => "line yin",
            (false, true) => "line yin changing",
        };
        let bars = if yang {
            "<span></span>"
        } else {
            "<span></span><span></span>"
        };
        // The value of the line as drawn: in the resulting hexagram a changing line has
        // turned (9 to a young yin 8, 6 to a young yang 7).
        let title = match (after_change && changing, v) {
            (true, 9) => "8: young yin (the 9 cast, changed)".to_owned(),
            (true, _) => "7: young yang (the 6 cast, changed)".to_owned(),
            (false, 6) => "6: old yin, it changes".to_owned(),
            (false, 7) => "7: young yang".to_owned(),
            (false, 8) => "8: young yin".to_owned(),
            (false, _) => "9: old yang, it changes".to_owned(),
        };
        out.push_str(&format!(
            "<div class=\"{class}\" title=\"{title}\">{bars}</div>"
        ));
    }
    out.push_str(&format!(
        "</div><figcaption>{} {} {} {}<br>{}<br>{} over {}</figcaption></figure>",
        esc(&h.symbol),
        h.number,
        esc(&h.name),
        esc(&h.chinese),
        esc(&h.english),
        esc(&h.upper),
        esc(&h.lower)
    ));
    out
}

/// The whole page.
pub fn to_html_page(r: &ReadingReport) -> String {
    let mut out = head(&format!("{} · I Ching reading", r.question));
    out.push_str(&reading_body(r, "h1", "h2", "h3"));
    out.push_str(FOOT);
    out
}

/// The journal as one standalone page: every reading of `rs` in the order given (newest first),
/// each an `<article>` as its own page would show it, escaped alike.
pub fn journal_page(rs: &[ReadingReport]) -> String {
    let mut out = head("I Ching journal");
    out.push_str(&format!(
        "<h1>I Ching journal</h1>\n<p class=\"meta\">{} reading{}, newest first</p>\n",
        rs.len(),
        if rs.len() == 1 { "" } else { "s" }
    ));
    for r in rs {
        out.push_str("<article>\n");
        out.push_str(&reading_body(r, "h2", "h3", "h4"));
        out.push_str("</article>\n<hr>\n");
    }
    out.push_str(FOOT);
    out
}

/// The page's head, `<main>` opened, titled `title` (escaped here).
fn head(title: &str) -> String {
    let mut out =
        String::from("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    out.push_str(&format!(
        "<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n",
        esc(title)
    ));
    out
}

/// The page's end: where the text comes from, `<main>` closed.
const FOOT: &str = "<footer><p>The classic text is James Legge's translation (1882) and the Chinese original (from Wikisource), both in the public domain.</p></footer>\n</main>\n</body>\n</html>\n";

/// One reading: its question as an `h1` heading (`h2` in the journal), sections as `h2`...
fn reading_body(r: &ReadingReport, h1: &str, h2: &str, h3: &str) -> String {
    let mut out = String::new();
    out.push_str(&format!("<{h1}>{}</{h1}>\n", esc(&r.question)));
    if let Some(context) = &r.context {
        out.push_str(&format!(
            "<p class=\"situation\"><em>Situation:</em> {}</p>\n",
            esc(context)
        ));
    }
    let lines: Vec<String> = r.lines.iter().map(u8::to_string).collect();
    let mut meta = vec![
        format!("method: {}", esc(&r.method)),
        format!("lines {} (bottom first)", lines.join(", ")),
        format!("status: {}", r.status.as_str()),
    ];
    if let Some(at) = r.created_at {
        meta.insert(
            0,
            format!(
                "cast <time datetime=\"{}\">{}</time>",
                esc(&at.rfc3339()),
                esc(&super::cast_time(at))
            ),
        );
    }
    if let Some(id) = r.id {
        meta.insert(0, format!("reading {id}"));
    }
    out.push_str(&format!("<p class=\"meta\">{}</p>\n", meta.join(" · ")));
    out.push_str("<div class=\"figures\">");
    out.push_str(&figure(r.lines, false, &r.primary));
    if let Some(res) = &r.resulting {
        out.push_str("<div class=\"arrow\" aria-label=\"changes to\">→</div>");
        out.push_str(&figure(r.lines, true, res));
    }
    out.push_str("</div>\n");
    if !r.changing_lines.is_empty() {
        let changing: Vec<String> = r.changing_lines.iter().map(u8::to_string).collect();
        out.push_str(&format!(
            "<p class=\"rule\">Changing lines: {}.</p>\n",
            changing.join(", ")
        ));
    }
    out.push_str(&format!(
        "<p class=\"rule\">Nuclear hexagram: {} {} {} ({}). {}</p>\n",
        esc(&r.nuclear.symbol),
        r.nuclear.number,
        esc(&r.nuclear.name),
        esc(&r.nuclear.english),
        esc(&r.reading_rule)
    ));
    for s in &r.sections {
        out.push_str(&format!("<section>\n<{h2}>{}</{h2}>\n", esc(&s.title)));
        match s.status {
            SectionStatus::Complete => out.push_str(&to_html(&s.paragraphs)),
            SectionStatus::Failed => out.push_str(&format!(
                "<p class=\"failed\">Failed: {}</p>",
                esc(s.error.as_deref().unwrap_or("unknown error"))
            )),
            SectionStatus::Cancelled => out.push_str("<p class=\"pending\">Cancelled.</p>"),
            SectionStatus::Pending => out.push_str("<p class=\"pending\">Not generated.</p>"),
        }
        out.push_str("\n</section>\n");
    }
    if !r.followups.is_empty() {
        out.push_str(&format!("<section>\n<{h2}>Follow-up questions</{h2}>\n"));
        for f in &r.followups {
            out.push_str(&format!(
                "<{h3}>{}</{h3}>\n<p class=\"meta\">{} · {}</p>\n{}\n",
                esc(&f.question),
                esc(&f.asked_at.shown()),
                esc(&f.model),
                to_html(&f.paragraphs)
            ));
        }
        out.push_str("</section>\n");
    }
    out.push_str(&r.chinese.to_html(esc));
    if !r.notes.is_empty() {
        out.push_str(&format!("<section>\n<{h2}>Journal</{h2}>\n"));
        for n in &r.notes {
            let lines: Vec<String> = n.text.lines().map(esc).collect();
            out.push_str(&format!(
                "<p><em>{} · {}</em><br>{}</p>\n",
                esc(&n.at.shown()),
                esc(n.kind.as_str()),
                lines.join("<br>")
            ));
        }
        out.push_str("</section>\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::answer::Paragraph;
    use crate::oracle::{Cast, Reading};
    use crate::plan::plan;

    #[test]
    fn the_page_escapes_everything_and_draws_both_figures() {
        let lines = Cast::parse_lines("9,8,7,7,6,8").unwrap();
        let reading = Reading::new(Cast::manual(lines));
        let q = "<script>alert('x')</script> & \"you\"?";
        let mut r = ReadingReport::new(&reading, q, &plan(&reading));
        r.sections[0].status = SectionStatus::Complete;
        r.sections[0].paragraphs = vec![Paragraph::plain("<img src=x onerror=alert(1)>")];
        r.sections[1].status = SectionStatus::Failed;
        r.sections[1].error = Some("503 <b>bad</b>".into());
        let page = to_html_page(&r);
        assert!(page.starts_with("<!DOCTYPE html>"));
        assert!(!page.contains("<script>"));
        assert!(!page.contains("<img"));
        assert!(!page.contains("<b>bad"));
        assert!(
            page.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;you&quot;?")
        );
        assert_eq!(page.matches("class=\"line ").count(), 12);
        assert_eq!(
            page.matches("changing\"").count(),
            2,
            "lines 1 and 5 change"
        );
        assert!(page.contains("䷶ 55"));
        assert!(page.contains("䷞ 31"));
        assert!(page.contains("Not generated."));
        // Each line's tooltip is its value as drawn, top first: 8 6 7 7 8 9 cast; in the
        // resulting figure the 6 and the 9 have turned.
        let titles: Vec<&str> = page.split("title=\"").skip(1).map(|t| &t[..1]).collect();
        assert_eq!(
            titles,
            ["8", "6", "7", "7", "8", "9", "8", "7", "7", "7", "8", "8"]
        );
        // The Chinese names and the hexagram symbols have fonts to fall back on.
        assert!(page.contains("'Noto Serif CJK SC'") && page.contains("'Noto Sans Symbols 2'"));
        assert!(!page.contains("http"), "no external resources");
    }
}
