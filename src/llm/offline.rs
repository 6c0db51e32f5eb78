//! The offline provider: answers every section from the embedded Legge text and the computed
//! facts of the reading (trigrams and their images, the nuclear hexagram, line places and
//! correspondences, Zhu Xi's rule), in the same `{"response": [...]}` format a model uses, so the
//! rest of the app cannot tell the difference. No model answers, so no tokens are spent and
//! none are counted: its usage is zero, and the Service shows the text as Legge's, not figures
//! (`service::is_classic_text`).

use std::time::Instant;

use super::{BoxFuture, Completion, Provider, ProviderError, ProviderInfo, SectionRequest};
use crate::events::{Progress, Usage};
use crate::oracle::{Hexagram, Reading, TextRef, hexagram};
use crate::plan::Section;
use crate::text::{and_list, escape_html};

/// The model name stored for offline sections.
pub const MODEL: &str = "legge-1882";

/// Answers from the classic text; needs no network.
#[derive(Debug, Default, Clone)]
pub struct Offline;

impl Provider for Offline {
    fn info(&self) -> ProviderInfo {
        ProviderInfo {
            kind: crate::llm::ProviderKind::Offline,
            model: MODEL.to_owned(),
            endpoint: String::new(),
        }
    }

    fn complete<'a>(
        &'a self,
        request: &'a SectionRequest,
        progress: &'a Progress,
    ) -> BoxFuture<'a, Result<Completion, ProviderError>> {
        Box::pin(answer(request, progress, None))
    }
}

/// The offline provider with a pause before the first chunk and between chunks, so a person can
/// watch the sections fill in (the terminal app uses it when `ICHING_OFFLINE_PACE_MS` is set).
/// Opt-in only: [`Offline`] itself never waits.
#[derive(Debug, Clone, Copy)]
pub struct Paced(pub std::time::Duration);

impl Provider for Paced {
    fn info(&self) -> ProviderInfo {
        Offline.info()
    }

    fn complete<'a>(
        &'a self,
        request: &'a SectionRequest,
        progress: &'a Progress,
    ) -> BoxFuture<'a, Result<Completion, ProviderError>> {
        Box::pin(answer(request, progress, Some(self.0)))
    }
}

async fn answer(
    request: &SectionRequest,
    progress: &Progress,
    pace: Option<std::time::Duration>,
) -> Result<Completion, ProviderError> {
    let started = Instant::now();
    let mut paragraphs = match &request.followup {
        Some(question) => followup(&request.reading, question),
        None => compose(&request.reading, &request.query.question, request.section),
    };
    if request.followup.is_none()
        && request.section == first_section(&request.reading)
        && wants_other_language(request.language.as_deref(), &request.query.question)
    {
        paragraphs.insert(
            0,
            "<p><em>The offline reader answers in English only: Legge's translation and a plain \
             commentary on it. Configure a model for a reading in your language.</em></p>"
                .to_owned(),
        );
    }
    let text = serde_json::json!({ "response": paragraphs }).to_string();
    if let Some(pace) = pace {
        // Staggered first tokens, so the sections do not move in lockstep.
        tokio::time::sleep(pace * (1 + u32::from(request.section.id() % 5))).await;
    }
    // Stream it a paragraph at a time, as a model would, so the front ends behave the same.
    let mut ttft = None;
    let mut rest = text.as_str();
    while !rest.is_empty() {
        let cut = rest
            .char_indices()
            .map(|(i, _)| i)
            .find(|&i| i >= 160)
            .unwrap_or(rest.len());
        progress.delta(&rest[..cut]);
        ttft.get_or_insert_with(|| started.elapsed());
        rest = &rest[cut..];
        match pace {
            Some(pace) => tokio::time::sleep(pace).await,
            None => tokio::task::yield_now().await,
        }
    }
    Ok(Completion {
        paragraphs: crate::answer::parse_response(&text),
        // Nothing was spent: the provider says so, as a server reports its usage.
        usage: Usage::reported(0, 0),
        text,
        model: MODEL.to_owned(),
        ttft,
        attempts: 1,
        failed_usage: None,
        queued: std::time::Duration::ZERO,
    })
}

fn p(html: String) -> String {
    format!("<p>{html}</p>")
}

fn quote(text: &str) -> String {
    format!("<em>{}</em>", escape_html(text))
}

/// The user's question, in quotation marks.
fn quote_question(question: &str) -> String {
    format!("“{}”", escape_html(question.trim()))
}

/// A gloss with alternatives ("moving/arousing") in words: "moving and arousing".
fn both(gloss: &str) -> String {
    gloss.replace('/', " and ")
}

/// The first of a gloss's alternatives ("fire/sun"): "fire".
fn first(gloss: &str) -> &str {
    gloss.split('/').next().unwrap_or(gloss)
}

/// "a" or "an", as `word` begins.
fn article(word: &str) -> &'static str {
    if word.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}

fn name(h: &Hexagram) -> String {
    format!(
        "<b>{} {}</b> {}",
        h.number,
        escape_html(&h.name_pinyin),
        h.symbol
    )
}

fn trigrams(h: &Hexagram) -> String {
    let (u, l) = (h.upper(), h.lower());
    format!(
        "{} {} ({}, {}) above {} {} ({}, {})",
        u.name_pinyin,
        u.symbol,
        u.image.replace('/', " or "),
        both(&u.attribute),
        l.name_pinyin,
        l.symbol,
        l.image.replace('/', " or "),
        both(&l.attribute)
    )
}

fn line_paragraph(reading: &Reading, n: u8) -> String {
    let f = reading.line_facts(n);
    let kind = if f.yang { "yang" } else { "yin" };
    let place = if n % 2 == 1 { "odd" } else { "even" };
    let suits = if f.correct {
        "its place suits it"
    } else {
        "its place does not suit it"
    };
    let centre = if f.central {
        " It stands in the centre of its trigram, the place of balance."
    } else {
        ""
    };
    let response = if f.responds {
        format!("it answers line {}, its opposite in kind", f.counterpart)
    } else {
        format!(
            "it finds no answer in line {}, which is of the same kind",
            f.counterpart
        )
    };
    let turn = if f.changing {
        let value = f.value.describe();
        format!(
            " As {} {value} line it is changing, and turns {}.",
            article(value),
            if f.yang { "to yin" } else { "to yang" }
        )
    } else {
        String::new()
    };
    p(format!(
        "Line {n} is {kind} in an {place} place, so {suits}; {response}.{centre}{turn}"
    ))
}

#[allow(
    clippy::expect_used,
    reason = "the reading rules name only hexagrams 1 to 64"
)]
fn text_of(r: TextRef) -> (String, String) {
    let h = |n: u8| hexagram(n).expect("the rule names real hexagrams");
    match r {
        TextRef::Judgment { hexagram: n } => (
            format!("the judgment of {}", h(n).name_pinyin),
            h(n).judgment.clone(),
        ),
        TextRef::Line { hexagram: n, line } => (
            format!("line {line} of {}", h(n).name_pinyin),
            h(n).line_text(line).to_owned(),
        ),
        TextRef::AllLines { hexagram: n } => (
            format!(
                "the use of the {} in {}",
                if n == 1 { "nines" } else { "sixes" },
                h(n).name_pinyin
            ),
            h(n).all_lines.clone().unwrap_or_default(),
        ),
    }
}

/// The first section of `reading`'s plan, where the offline reader says what it can do.
fn first_section(reading: &Reading) -> Section {
    crate::plan::plan(reading)
        .first()
        .copied()
        .unwrap_or(Section::OpeningStatements)
}

/// Whether the person wants another language than English: the settings name one, or the
/// question is not in a Latin-script language (a Latin-script question is not guessed at).
fn wants_other_language(language: Option<&str>, question: &str) -> bool {
    if let Some(l) = language {
        return !l.trim().eq_ignore_ascii_case("english");
    }
    let latin_accented = |c: char| ('\u{c0}'..='\u{24f}').contains(&c);
    let (all, latin) =
        question
            .chars()
            .filter(|c| c.is_alphabetic())
            .fold((0usize, 0usize), |(a, l), c| {
                (
                    a + 1,
                    l + usize::from(c.is_ascii_alphabetic() || latin_accented(c)),
                )
            });
    let accented = question.chars().any(latin_accented) || question.contains(['¿', '¡']);
    all > 0 && (latin * 2 < all || accented)
}

/// The line positions a question names: "line 3", "lines 2 and 5", "the third line", "the top
/// line", "bottom line", the same in Spanish, French, Portuguese, Italian and German ("la línea 3",
/// "la tercera línea", "la ligne 2"), and the classical names ("九三", "初六", "上九", "第三爻");
/// in order, without repeats.
pub fn lines_named(question: &str) -> Vec<u8> {
    const LINE: [&str; 15] = [
        "line", "lines", "línea", "líneas", "linea", "lineas", "linee", "ligne", "lignes", "linha",
        "linhas", "linie", "linien", "zeile", "zeilen",
    ];
    const AND: [&str; 8] = ["and", "or", "y", "o", "et", "ou", "e", "und"];
    const ORDINALS: [(&str, u8); 33] = [
        ("first", 1),
        ("bottom", 1),
        ("lowest", 1),
        ("second", 2),
        ("third", 3),
        ("fourth", 4),
        ("fifth", 5),
        ("sixth", 6),
        ("top", 6),
        ("upper", 6),
        ("primera", 1),
        ("primer", 1),
        ("segunda", 2),
        ("tercera", 3),
        ("cuarta", 4),
        ("quinta", 5),
        ("sexta", 6),
        ("première", 1),
        ("premiere", 1),
        ("deuxième", 2),
        ("seconde", 2),
        ("troisième", 3),
        ("quatrième", 4),
        ("cinquième", 5),
        ("sixième", 6),
        ("primeira", 1),
        ("terceira", 3),
        ("quarta", 4),
        ("erste", 1),
        ("zweite", 2),
        ("dritte", 3),
        ("vierte", 4),
        ("fünfte", 5),
    ];
    let lower = question.to_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let mut found = Vec::new();
    let mut push = |n: u8| {
        if (1..=6).contains(&n) && !found.contains(&n) {
            found.push(n);
        }
    };
    let is_line = |w: &str| LINE.contains(&w);
    let ordinal = |w: &str| -> Option<u8> {
        let digits: String = w.chars().take_while(char::is_ascii_digit).collect();
        digits.parse().ok().or_else(|| {
            ORDINALS
                .iter()
                .find(|(name, _)| *name == w)
                .map(|&(_, n)| n)
        })
    };
    for (i, w) in words.iter().enumerate() {
        if is_line(w) {
            // "line 3", "lines 2 and 5", "la línea tercera"
            for next in words.iter().skip(i + 1).take(6) {
                match ordinal(next) {
                    Some(n) => push(n),
                    None if AND.contains(next) => {}
                    None => break,
                }
            }
        } else if words.get(i + 1).is_some_and(|n| is_line(n))
            || words.get(i + 2).is_some_and(|n| is_line(n)) && words.get(i + 1) == Some(&"de")
        {
            // "third line", "3rd line", "top line", "tercera línea"
            if let Some(n) = ordinal(w) {
                push(n);
            }
        }
    }
    // The classical names: 初九 / 初六, 九二 ... 六五, 上九 / 上六, and 第三爻.
    let places = ['初', '二', '三', '四', '五', '上'];
    let chars: Vec<char> = question.chars().collect();
    for pair in chars.windows(2) {
        let place = |c: char| places.iter().position(|&p| p == c);
        let n = match (pair[0], pair[1]) {
            ('初' | '上', '九' | '六') => place(pair[0]),
            ('九' | '六', c) if c != '初' && c != '上' => place(c),
            ('第', c) => place(c).filter(|&i| i > 0 && i < 5),
            _ => None,
        };
        if let Some(i) = n {
            push(u8::try_from(i + 1).unwrap_or(0));
        }
    }
    found
}

/// The offline answer to a follow-up question: Legge's text of the lines it names (or the
/// changing lines, or the judgment and image when none change) with what their places say,
/// and a plain word that this is all the offline reader can do.
pub fn followup(reading: &Reading, question: &str) -> Vec<String> {
    let lower = question.to_lowercase();
    let resulting = reading
        .resulting
        .filter(|_| lower.contains("resulting") || lower.contains("second hexagram"));
    let h = resulting.unwrap_or(reading.primary);
    let named = lines_named(question);
    let (lines, what) = if !named.is_empty() {
        let what = match named.as_slice() {
            [one] => format!("line {one}"),
            some => format!("lines {}", and_list(some)),
        };
        (named, format!("the text of {what} of {}", h.name_pinyin))
    } else if resulting.is_none() && !reading.changing_lines().is_empty() {
        (
            reading.changing_lines(),
            "the text of the lines that change".to_owned(),
        )
    } else {
        (
            Vec::new(),
            format!("the judgment and image of {}", h.name_pinyin),
        )
    };
    let mut v = vec![p(format!(
        "<em>The offline reader answers follow-up questions only from the classic text: here, \
         {what}, in Legge's translation and in English. Configure a model to have {} itself \
         answered.</em>",
        quote_question(question)
    ))];
    if lines.is_empty() {
        v.push(p(format!("{}: {}", name(h), quote(&h.judgment))));
        v.push(p(format!("<b>The image.</b> {}", quote(&h.image))));
    }
    for n in lines {
        v.push(p(format!(
            "{}, line {n}: {}",
            name(h),
            quote(h.line_text(n))
        )));
        if resulting.is_none() {
            v.push(line_paragraph(reading, n));
        }
    }
    v
}

/// The paragraphs (as `<p>` HTML) answering `section` of `reading`.
pub fn compose(reading: &Reading, question: &str, section: Section) -> Vec<String> {
    let pr = reading.primary;
    let changing = reading.changing_lines();
    let rule = reading.rule();
    match section {
        Section::OpeningStatements => {
            let mut v = vec![
                p(format!("You asked: {}", quote_question(question))),
                p(format!(
                    "The cast gives {}, {} ({}): {}.",
                    name(pr),
                    escape_html(pr.simplified()),
                    escape_html(&pr.name_english),
                    trigrams(pr)
                )),
            ];
            v.push(p(match reading.resulting {
                Some(res) => format!(
                    "{}, so the situation moves toward {}, {} ({}).",
                    match changing.as_slice() {
                        [one] => format!("Line {one} changes"),
                        all if all.len() == 6 => "All six lines change".to_owned(),
                        some => format!("Lines {} change", and_list(some)),
                    },
                    name(res),
                    escape_html(res.simplified()),
                    escape_html(&res.name_english)
                ),
                // Said once: the rule's summary ("No line changes: the judgment of ... carries
                // the reading"), which the reading's header shows, is not said again here.
                None => "No line changes: the situation is settled in its present form, and the reading dwells on the hexagram as a whole.".to_owned(),
            }));
            if reading.resulting.is_some() {
                v.push(p(escape_html(&rule.summary)));
            }
            v
        }
        Section::InitialHexagramJudgement => vec![
            p(format!("<b>The judgment.</b> {}", quote(&pr.judgment))),
            p(format!(
                "Within is {} ({}), without is {} ({}). The judgment speaks of the situation as a whole; {}",
                pr.lower().english,
                pr.lower().attribute,
                pr.upper().english,
                pr.upper().attribute,
                if changing.is_empty() {
                    "here it carries the reading alone."
                } else {
                    "the changing lines show where it is moving."
                }
            )),
        ],
        Section::InitialHexagramImage => {
            let (u, l) = (pr.upper(), pr.lower());
            let conduct = if u.pattern == l.pattern {
                format!(
                    "{} is doubled: the image asks for conduct that is {} within and without.",
                    capitalise(first(&u.image)),
                    both(&u.attribute)
                )
            } else {
                format!(
                    "{} is set above {}: the image asks for conduct that answers both, what is {} without and what is {} within.",
                    capitalise(first(&u.image)),
                    first(&l.image),
                    both(&u.attribute),
                    both(&l.attribute)
                )
            };
            vec![
                p(format!("<b>The image.</b> {}", quote(&pr.image))),
                p(conduct),
            ]
        }
        Section::ChangingLine(n) => {
            let mut v = vec![
                p(format!("<b>Line {n}.</b> {}", quote(pr.line_text(n)))),
                line_paragraph(reading, n),
            ];
            if rule.texts.first()
                == Some(&TextRef::Line {
                    hexagram: pr.number,
                    line: n,
                })
            {
                v.push(p("By Zhu Xi's rule this line rules the reading.".to_owned()));
            }
            v
        }
        Section::ChangingLinesAll => {
            let (label, text) = text_of(rule.texts[0]);
            vec![
                p(
                    "Every line changes: the situation turns over entirely into its counterpart."
                        .to_owned(),
                ),
                p(format!(
                    "<b>Ruling text</b>, {}: {}",
                    escape_html(&label),
                    quote(&text)
                )),
            ]
        }
        Section::TenWingsInsights => {
            let (u, l) = (pr.upper(), pr.lower());
            let nu = reading.nuclear;
            let family = if u.pattern == l.pattern {
                format!(
                    "{}, the {}, is doubled: {} within and without.",
                    u.name_pinyin,
                    u.family,
                    both(&u.attribute)
                )
            } else {
                format!(
                    "{}, the {}, stands above {}, the {}: what is {} meets what is {}.",
                    u.name_pinyin,
                    u.family,
                    l.name_pinyin,
                    l.family,
                    both(&u.attribute),
                    both(&l.attribute)
                )
            };
            let mut v = vec![
                p(family),
                p(format!(
                    "Hidden inside, lines 2 to 5 form the nuclear hexagram {}, {} ({}): {}. It shows the inner tendency of the situation.",
                    name(nu),
                    escape_html(nu.simplified()),
                    escape_html(&nu.name_english),
                    trigrams(nu)
                )),
            ];
            let central: Vec<String> = [2u8, 5]
                .iter()
                .map(|&n| {
                    let f = reading.line_facts(n);
                    format!(
                        "line {n} is {}{}",
                        if f.yang { "yang" } else { "yin" },
                        if f.correct {
                            " and in its proper place"
                        } else {
                            ", out of its proper place"
                        }
                    )
                })
                .collect();
            v.push(p(format!("In the central places, {}.", central.join("; "))));
            v
        }
        Section::ResultingHexagramJudgment => reading
            .resulting
            .map(|res| {
                vec![
                    p(format!(
                        "{}: <b>the judgment.</b> {}",
                        name(res),
                        quote(&res.judgment)
                    )),
                    p(format!(
                        "This is where the situation is heading: {} ({}), {}.",
                        escape_html(&res.name_english),
                        escape_html(res.simplified()),
                        trigrams(res)
                    )),
                ]
            })
            .unwrap_or_default(),
        Section::ResultingHexagramImage => reading
            .resulting
            .map(|res| {
                vec![
                    p(format!(
                        "{}: <b>the image.</b> {}",
                        name(res),
                        quote(&res.image)
                    )),
                    p(format!(
                        "{} above {}: the conduct for the new situation.",
                        capitalise(first(&res.upper().image)),
                        first(&res.lower().image)
                    )),
                ]
            })
            .unwrap_or_default(),
        Section::SynthesisAndGuidance => {
            // With no line changing, the opening has said what the rule says.
            let mut v: Vec<String> = reading
                .resulting
                .map(|_| p(escape_html(&rule.summary)))
                .into_iter()
                .collect();
            for r in &rule.texts {
                let (label, text) = text_of(*r);
                v.push(p(format!(
                    "<b>{}</b>: {}",
                    escape_html(&capitalise(&label)),
                    quote(&text)
                )));
            }
            v.push(p(format!(
                "Hold the question {} against these words: act as the image of {} counsels{}.",
                quote_question(question),
                escape_html(&pr.name_pinyin),
                reading
                    .resulting
                    .map(|res| format!(", and prepare for {}", escape_html(&res.name_pinyin)))
                    .unwrap_or_default()
            )));
            v
        }
        Section::ConclusionText => vec![p(format!(
            "{} ({}){}. Carry the image of {} with you: {}",
            name(pr),
            escape_html(&pr.name_english),
            reading
                .resulting
                .map(|res| format!(
                    ", becoming {} ({})",
                    name(res),
                    escape_html(&res.name_english)
                ))
                .unwrap_or_default(),
            escape_html(&pr.name_pinyin),
            quote(&pr.image)
        ))],
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follow_up_questions_name_their_lines() {
        assert_eq!(lines_named("What does line 3 mean?"), vec![3]);
        assert_eq!(lines_named("And lines 2 and 5, or 9?"), vec![2, 5]);
        assert_eq!(lines_named("the top line and the 4th line"), vec![6, 4]);
        assert_eq!(
            lines_named("Why the bottom line? the first line again"),
            vec![1]
        );
        assert_eq!(lines_named("What should I do next?"), Vec::<u8>::new());
        assert_eq!(lines_named("line seven"), Vec::<u8>::new());
        assert_eq!(lines_named("¿Qué me pide la línea 3?"), vec![3]);
        assert_eq!(
            lines_named("¿Y la tercera línea, y las líneas 5 y 6?"),
            vec![3, 5, 6]
        );
        assert_eq!(lines_named("Que dit la ligne 2 ?"), vec![2]);
        assert_eq!(lines_named("Was sagt die dritte Linie?"), vec![3]);
        assert_eq!(lines_named("九三是什么意思？还有上六。"), vec![3, 6]);
        assert_eq!(lines_named("初九和第四爻"), vec![1, 4]);
        assert_eq!(lines_named("九月的事"), Vec::<u8>::new());
    }

    #[test]
    fn follow_ups_are_answered_from_the_lines_asked_about() {
        // 9,8,7,7,6,8: lines 1 and 5 change.
        let r = Reading::new(crate::oracle::Cast::manual(
            crate::oracle::Cast::parse_lines("9,8,7,7,6,8").unwrap(),
        ));
        let third = followup(&r, "What about line 3?").join("\n");
        assert!(third.contains("line 3 of"), "{third}");
        assert!(
            third.contains(&escape_html(r.primary.line_text(3))),
            "{third}"
        );
        assert!(
            !third.contains(&escape_html(r.primary.line_text(1))),
            "{third}"
        );
        assert!(third.contains("Configure a model"), "{third}");
        let changing = followup(&r, "What now?").join("\n");
        assert!(
            changing.contains(&escape_html(r.primary.line_text(1))),
            "{changing}"
        );
        assert!(
            changing.contains(&escape_html(r.primary.line_text(5))),
            "{changing}"
        );
        let res = r.resulting.unwrap();
        let resulting = followup(&r, "And the resulting hexagram?").join("\n");
        assert!(
            resulting.contains(&escape_html(&res.judgment)),
            "{resulting}"
        );
        let unchanged = Reading::new(crate::oracle::Cast::manual(
            crate::oracle::Cast::parse_lines("7,8,7,7,8,8").unwrap(),
        ));
        let whole = followup(&unchanged, "What now?").join("\n");
        assert!(
            whole.contains(&escape_html(&unchanged.primary.image)),
            "{whole}"
        );
    }
    use crate::oracle::Cast;

    fn reading(lines: &str) -> Reading {
        Reading::new(Cast::manual(Cast::parse_lines(lines).unwrap()))
    }

    /// Section `section` of `lines` asked with `question`, its paragraphs joined.
    fn text(lines: &str, question: &str, section: Section) -> String {
        compose(&reading(lines), question, section).join("\n")
    }

    #[test]
    fn the_opening_counts_its_changing_lines_in_words() {
        let opening = |lines| text(lines, "q", Section::OpeningStatements);
        assert!(opening("9,8,7,7,7,8").contains("<p>Line 1 changes, so"));
        assert!(opening("9,8,7,7,6,8").contains("<p>Lines 1 and 5 change, so"));
        assert!(opening("9,8,7,9,6,8").contains("<p>Lines 1, 4 and 5 change, so"));
        assert!(opening("9,6,9,6,9,6").contains("<p>All six lines change, so"));
        assert!(opening("7,8,7,7,8,8").contains("No line changes"));
        for lines in ["9,8,7,9,6,8", "9,8,7,7,6,8"] {
            let o = opening(lines);
            assert!(!o.contains(" and 4 and "), "{o}");
            assert!(
                !o.contains("Lines 1 changes") && !o.contains("Line 1 change,"),
                "{o}"
            );
        }
    }

    #[test]
    fn a_reading_without_changing_lines_says_so_once() {
        for lines in ["7,8,7,7,8,8", "7,7,7,7,7,7", "8,8,8,8,8,8"] {
            let r = reading(lines);
            let all: String = crate::plan::plan(&r)
                .into_iter()
                .flat_map(|s| compose(&r, "Should I wait?", s))
                .collect();
            let lower = all.to_lowercase();
            assert_eq!(lower.matches("no line chang").count(), 1, "{lines}: {all}");
            assert!(all.contains(&escape_html(&r.primary.judgment)), "{all}");
        }
    }

    #[test]
    fn a_changing_line_is_an_old_yin_or_old_yang_line() {
        let r = "9,8,7,7,6,8";
        assert!(
            text(r, "q", Section::ChangingLine(1))
                .contains("As an old yang line it is changing, and turns to yin."),
        );
        assert!(
            text(r, "q", Section::ChangingLine(5))
                .contains("As an old yin line it is changing, and turns to yang."),
        );
        let all = text("9,6,9,6,9,6", "q", Section::ChangingLine(2));
        assert!(!all.contains("As a old"), "{all}");
        assert_eq!(article("old"), "an");
        assert_eq!(article("young"), "a");
    }

    #[test]
    fn the_question_is_quoted() {
        let q = "Should I move to the coast?";
        let opening = text("9,8,7,7,6,8", q, Section::OpeningStatements);
        assert!(
            opening.contains("<p>You asked: “Should I move to the coast?”</p>"),
            "{opening}"
        );
        let synthesis = text("9,8,7,7,6,8", " <b>why</b> ", Section::SynthesisAndGuidance);
        assert!(
            synthesis.contains("Hold the question “&lt;b&gt;why&lt;/b&gt;” against these words"),
            "{synthesis}"
        );
    }

    #[test]
    fn glosses_read_as_words_and_a_doubled_trigram_is_said_once() {
        // 55 Feng: thunder above fire.
        let image = text("9,8,7,7,6,8", "q", Section::InitialHexagramImage);
        assert!(
            image.contains(
                "Thunder is set above fire: the image asks for conduct that answers both, what is moving and arousing without and what is bright and clinging within."
            ),
            "{image}"
        );
        let wings = text("9,8,7,7,6,8", "q", Section::TenWingsInsights);
        assert!(
            wings.contains("Zhen, the eldest son, stands above Li, the middle daughter: what is moving and arousing meets what is bright and clinging."),
            "{wings}"
        );
        assert!(
            wings.contains("(lake or marsh, joyful and pleased)"),
            "{wings}"
        );
        // 51 Zhen: thunder doubled.
        let image = text("7,8,8,7,8,8", "q", Section::InitialHexagramImage);
        assert!(
            image.contains("Thunder is doubled: the image asks for conduct that is moving and arousing within and without."),
            "{image}"
        );
        let wings = text("7,8,8,7,8,8", "q", Section::TenWingsInsights);
        assert!(
            wings.contains(
                "Zhen, the eldest son, is doubled: moving and arousing within and without."
            ),
            "{wings}"
        );
        for s in [image, wings] {
            let gloss_slash = s
                .as_bytes()
                .windows(3)
                .any(|w| w[0].is_ascii_lowercase() && w[1] == b'/' && w[2].is_ascii_lowercase());
            assert!(!gloss_slash, "{s}");
        }
    }

    #[test]
    fn the_resulting_hexagram_and_the_conclusion_name_what_they_speak_of() {
        let r = "9,8,7,7,6,8";
        let judgment = text(r, "q", Section::ResultingHexagramJudgment);
        assert!(
            judgment.contains("heading: Influence / Mutual Attraction (咸), Dui ☱"),
            "{judgment}"
        );
        let end = text(r, "q", Section::ConclusionText);
        assert!(
            end.contains("(Abundance), becoming <b>31 Xian</b> ䷞ (Influence / Mutual Attraction). Carry the image of Feng with you:"),
            "{end}"
        );
    }
}
