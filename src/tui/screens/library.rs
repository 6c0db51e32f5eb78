//! Library: the book. The 64 hexagrams in King Wen order (figure, number, names, the trigrams
//! above and below, under a header that labels them and says the Chinese is simplified), found
//! as you type a number, a pinyin name (tone marks optional), an English name (the gloss or
//! Wilhelm/Baynes'), the Wade-Giles, a Chinese name or a trigram; Enter opens a hexagram's page (figure, names, trigrams, nuclear hexagram, Legge's
//! judgment, image and six lines, and the use of the nines or sixes for 1 and 2; `c` adds the
//! original classical Chinese under each, and the Xugua, Zagua and Wenyan). Opened from a
//! reading (`o` on the Reading screen) the page shows that reading's primary hexagram, and `o`
//! turns to its resulting and nuclear hexagrams. On a wide terminal the list and the page stand
//! side by side.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, HighlightSpacing, Paragraph, Row, Table, TableState};
use ratatui_textarea::TextArea;

use super::widgets::bar;
use super::{heading, wrap_styled};
use crate::answer::sanitize_inline;
use crate::book::{self, Page};
use crate::model::ReadingId;
use crate::oracle::{Hexagram, all_hexagrams, hexagram, hexagram_matches};
use crate::text::{self, truncate};
use crate::tui::strings;
use crate::tui::theme::Theme;

/// The list and the page stand side by side from this width of the body on.
const SIDE_BY_SIDE: u16 = 110;
/// The list's width beside the page: 46 columns, more on a wider terminal, 60 at most.
fn list_width(body: Rect) -> u16 {
    (body.width * 3 / 10).clamp(46, 60)
}

/// A reading's hexagrams, for `o` to turn through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Links {
    /// The reading, when it has an id.
    pub reading: Option<ReadingId>,
    /// Its primary hexagram.
    pub primary: u8,
    /// Its resulting hexagram, when a line changes.
    pub resulting: Option<u8>,
    /// Its nuclear hexagram.
    pub nuclear: u8,
    /// Which of them the page shows (an index into [`Links::list`]).
    pub at: usize,
}

impl Links {
    /// ("primary", 55), ("resulting", 31), ("nuclear", 28): those the reading has.
    pub fn list(&self) -> Vec<(&'static str, u8)> {
        let mut out = vec![("primary", self.primary)];
        out.extend(self.resulting.map(|n| ("resulting", n)));
        out.push(("nuclear", self.nuclear));
        out
    }
}

/// The Library's state.
#[derive(Debug, Clone)]
pub struct LibraryState {
    /// What is typed to find a hexagram.
    pub filter: TextArea<'static>,
    /// The hexagram the list's cursor is on and the page shows (King Wen number).
    pub shown: u8,
    /// Whether the page has the keys (on a narrow terminal it fills the screen).
    pub open: bool,
    /// The page's first line.
    pub scroll: usize,
    /// The reading the page was opened from, if it was.
    pub links: Option<Links>,
    /// Whether the page shows the classical Chinese under Legge (`c` toggles it).
    pub chinese: bool,
}

impl Default for LibraryState {
    fn default() -> Self {
        Self {
            filter: TextArea::default(),
            shown: 1,
            open: false,
            scroll: 0,
            links: None,
            chinese: false,
        }
    }
}

/// What a key in the Library asks of the app.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LibraryAction {
    /// Nothing beyond the screen.
    None,
    /// Leave the Library, back to where it was opened from.
    Back,
}

/// Where the list and the page go in `body`: side by side on a wide terminal, else whichever
/// has the keys.
pub fn areas(body: Rect, open: bool) -> (Option<Rect>, Option<Rect>) {
    if body.width >= SIDE_BY_SIDE {
        let [list, page] =
            Layout::horizontal([Constraint::Length(list_width(body)), Constraint::Min(0)])
                .areas(body);
        (Some(list), Some(page))
    } else if open {
        (None, Some(body))
    } else {
        (Some(body), None)
    }
}

/// Where the page's text goes inside its area (a margin each side).
fn page_inner(page: Rect) -> Rect {
    super::readable(page)
}

impl LibraryState {
    /// The filter text.
    pub fn filter_text(&self) -> String {
        self.filter.lines().join(" ")
    }

    /// The hexagrams the filter lets through, in King Wen order.
    pub fn visible(&self) -> Vec<&'static Hexagram> {
        let filter = self.filter_text();
        let terms: Vec<&str> = filter.split_whitespace().collect();
        all_hexagrams()
            .iter()
            .filter(|h| terms.iter().all(|t| hexagram_matches(h, t)))
            .collect()
    }

    /// The hexagram on the page.
    #[allow(
        clippy::expect_used,
        reason = "`shown` is only ever set to a number from 1 to 64"
    )]
    pub fn page_hexagram(&self) -> &'static Hexagram {
        hexagram(self.shown).expect("shown is a King Wen number")
    }

    /// Opens the page of reading `links`'s primary hexagram.
    pub fn follow(&mut self, links: Links) {
        self.links = Some(Links { at: 0, ..links });
        self.show(links.primary);
        self.open = true;
    }

    /// Shows hexagram `n` on the page, from its top.
    fn show(&mut self, n: u8) {
        if n != self.shown {
            self.scroll = 0;
        }
        self.shown = n.clamp(1, 64);
    }

    /// Handles a key; `body` is the screen's area at the current size.
    pub fn on_key(&mut self, key: KeyEvent, body: Rect, theme: &Theme) -> LibraryAction {
        if self.open {
            self.on_page_key(key, body, theme)
        } else {
            self.on_list_key(key, body)
        }
    }

    /// The row the list's cursor is on: the hexagram on the page, or, when the page turned past
    /// what the filter finds, the first found (which Enter opens).
    fn cursor(&self, visible: &[&Hexagram]) -> Option<usize> {
        visible
            .iter()
            .position(|h| h.number == self.shown)
            .or((!visible.is_empty()).then_some(0))
    }

    fn on_list_key(&mut self, key: KeyEvent, body: Rect) -> LibraryAction {
        let visible = self.visible();
        let at = self.cursor(&visible);
        let last = visible.len().saturating_sub(1);
        let page = usize::from(body.height.saturating_sub(3)).max(1);
        let go = |i: usize| visible.get(i.min(last)).map(|h| h.number);
        let to = match key.code {
            KeyCode::Up => at.map(|i| i.saturating_sub(1)),
            KeyCode::Down => at.map(|i| i + 1),
            KeyCode::PageUp => at.map(|i| i.saturating_sub(page)),
            KeyCode::PageDown => at.map(|i| i + page),
            KeyCode::Home => Some(0),
            KeyCode::End => Some(last),
            KeyCode::Enter => {
                if let Some(n) = at.and_then(|i| visible.get(i)).map(|h| h.number) {
                    self.show(n);
                    self.open = true;
                    self.scroll = 0;
                }
                return LibraryAction::None;
            }
            KeyCode::Esc if self.filter_text().is_empty() => return LibraryAction::Back,
            KeyCode::Esc => {
                self.filter = TextArea::default();
                return LibraryAction::None;
            }
            _ => {
                super::edit(&mut self.filter, key);
                // The cursor goes to the first hexagram the filter lets through.
                if let Some(first) = self.visible().first() {
                    self.show(first.number);
                }
                return LibraryAction::None;
            }
        };
        if let Some(n) = to.and_then(go) {
            self.show(n);
        }
        LibraryAction::None
    }

    fn on_page_key(&mut self, key: KeyEvent, body: Rect, theme: &Theme) -> LibraryAction {
        let (_, page) = areas(body, true);
        let inner = page_inner(page.unwrap_or(body));
        let len = page_lines(self, usize::from(inner.width), theme).len();
        let height = usize::from(inner.height);
        let step = height.saturating_sub(1).max(1);
        let shift = key.modifiers.contains(KeyModifiers::SHIFT);
        match key.code {
            KeyCode::Esc if self.links.is_some() => {
                self.links = None;
                self.open = false;
                return LibraryAction::Back;
            }
            KeyCode::Esc | KeyCode::Char('/') => self.open = false,
            KeyCode::Down | KeyCode::Char('j') => self.scroll += 1,
            KeyCode::Up | KeyCode::Char('k') => self.scroll = self.scroll.saturating_sub(1),
            KeyCode::PageDown | KeyCode::Char(' ') => self.scroll += step,
            KeyCode::PageUp => self.scroll = self.scroll.saturating_sub(step),
            KeyCode::Home | KeyCode::Char('g') => self.scroll = 0,
            KeyCode::End | KeyCode::Char('G') => self.scroll = usize::MAX,
            KeyCode::Left | KeyCode::Char('[') => self.show(self.shown.saturating_sub(1).max(1)),
            KeyCode::Right | KeyCode::Char(']') => self.show((self.shown + 1).min(64)),
            KeyCode::Char('c') => self.chinese = !self.chinese,
            KeyCode::Char('o') if !shift => {
                if let Some(links) = self.links.as_mut() {
                    let list = links.list();
                    links.at = (links.at + 1) % list.len();
                    let n = list[links.at].1;
                    self.show(n);
                }
            }
            _ => {}
        }
        self.scroll = self.scroll.min(len.saturating_sub(height));
        LibraryAction::None
    }
}

/// The page of the hexagram `state` shows, laid out for `width` columns.
pub fn page_lines(state: &LibraryState, width: usize, theme: &Theme) -> Vec<Line<'static>> {
    let h = state.page_hexagram();
    let p = Page::from(h);
    let mut lines: Vec<Line<'static>> = Vec::new();
    if let Some(links) = &state.links {
        let mut spans = vec![Span::styled(
            match links.reading {
                Some(id) => format!("Reading #{id}: "),
                None => "The reading: ".to_owned(),
            },
            theme.dim,
        )];
        for (i, (label, n)) in links.list().into_iter().enumerate() {
            if i > 0 {
                spans.push(Span::styled(" · ", theme.dim));
            }
            let name = hexagram(n).map_or("", |x| x.pinyin());
            let style = if i == links.at && n == h.number {
                theme.selected.patch(theme.bold)
            } else {
                theme.text
            };
            spans.push(Span::styled(format!("{label} {n} {name}"), style));
        }
        let whole = Line::from(spans.clone());
        let next = Span::styled("   o next", theme.dim);
        if whole.width() + next.width() <= width {
            spans.push(next);
            lines.push(Line::from(spans));
        } else {
            // Narrow: the hint is in the footer; the links break between them, never inside.
            lines.extend(break_between(spans, " · ", width));
        }
        lines.push(Line::default());
    }
    // The figure, with the names beside it.
    let side_w = width.saturating_sub(18);
    // The upper trigram's name beside its lines, the lower's beside its.
    let trigram = |t: &book::TrigramPage, place: &str| {
        format!(
            "{} {} {} ({}) {place}",
            t.symbol, t.name, t.simplified, t.english
        )
    };
    // The upper trigram beside the top three lines, the lower beside the bottom three.
    // Each line as it is, else a shorter phrase that fits (the first English name of several;
    // Wilhelm's title without the Wade-Giles), and only then cut.
    let title = fit(
        &[book::title(&p), first_name_only(&book::title(&p))],
        side_w,
    );
    let names = fit(
        &[book::wilhelm_line(&p), format!("Wilhelm: {}", p.wilhelm)],
        side_w,
    );
    let nuclear = format!("Nuclear {}", book::summary_line(&p.nuclear));
    let side: [(String, Style); 6] = [
        (title, theme.heading),
        (names, theme.dim),
        (trigram(&p.upper, "above"), theme.text),
        (trigram(&p.lower, "below"), theme.text),
        (format!("Legge: {}", p.legge), theme.dim),
        (
            fit(&[nuclear.clone(), first_name_only(&nuclear)], side_w),
            theme.text,
        ),
    ];
    for (row, (text, style)) in side.into_iter().enumerate() {
        let line = &p.lines[5 - row];
        lines.push(Line::from(vec![
            Span::styled(format!("  {:<13}   ", bar(line.yang)), theme.bold),
            Span::styled(truncate(&sanitize_inline(&text), side_w), style),
        ]));
    }
    lines.push(Line::default());
    let doubled = p.upper.name == p.lower.name;
    for t in if doubled {
        vec![&p.upper]
    } else {
        vec![&p.upper, &p.lower]
    } {
        let what = format!("{}, {}, {}", t.image, t.attribute, t.family);
        let name = if doubled {
            format!("{}, doubled: ", t.name)
        } else {
            format!("{}: ", t.name)
        };
        lines.extend(wrap_styled(
            &[(&name, theme.bold), (&sanitize_inline(&what), theme.dim)],
            width,
        ));
    }
    // Which script the Chinese is in.
    lines.extend(wrap_styled(&[(&book::script_line(&p), theme.dim)], width));
    let section = |lines: &mut Vec<Line<'static>>, title: &str| {
        lines.push(Line::default());
        lines.push(heading(title, width, theme));
        lines.push(Line::default());
    };
    let c = &p.chinese_text;
    // The Chinese under the English when `c` turned it on, each passage on lines of its own.
    let chinese = |lines: &mut Vec<Line<'static>>, texts: &[String]| {
        if state.chinese {
            for t in texts {
                lines.extend(wrap_styled(&[(&sanitize_inline(t), theme.text)], width));
            }
        }
    };
    section(&mut lines, "The judgment");
    lines.extend(wrap_styled(
        &[(&sanitize_inline(&p.judgment), theme.italic)],
        width,
    ));
    chinese(&mut lines, &book::chinese_judgment(c));
    section(&mut lines, "The image");
    lines.extend(wrap_styled(
        &[(&sanitize_inline(&p.image), theme.italic)],
        width,
    ));
    chinese(&mut lines, std::slice::from_ref(&c.image));
    section(&mut lines, "The lines");
    for (i, l) in p.lines.iter().enumerate() {
        if i > 0 {
            lines.push(Line::default());
        }
        let label = format!("Line {}. ", l.position);
        lines.extend(wrap_styled(
            &[
                (&label, theme.bold),
                (&sanitize_inline(&l.text), theme.italic),
            ],
            width,
        ));
        chinese(&mut lines, &book::chinese_line(c, l.position));
    }
    if let Some((title, text)) = book::use_of(h) {
        section(&mut lines, title);
        lines.extend(wrap_styled(
            &[(&sanitize_inline(text), theme.italic)],
            width,
        ));
        chinese(&mut lines, &book::chinese_use(c));
    }
    if state.chinese {
        section(&mut lines, book::WINGS_HEADING);
        chinese(&mut lines, &book::chinese_wings(c));
        if let Some(wenyan) = &c.wenyan {
            section(&mut lines, book::WENYAN_HEADING);
            chinese(&mut lines, wenyan);
        }
    }
    lines
}

/// How far down the page the view is, in percent (for the tab bar), when a page is shown.
pub fn position(state: &LibraryState, body: Rect, theme: &Theme) -> Option<usize> {
    let (_, page) = areas(body, state.open);
    let inner = page_inner(page?);
    let len = page_lines(state, usize::from(inner.width), theme).len();
    super::scroll_percent(state.scroll, len, usize::from(inner.height))
}

/// Draws the Library.
pub fn render(state: &LibraryState, frame: &mut Frame, area: Rect, theme: &Theme) {
    let (list, page) = areas(area, state.open);
    if let Some(list) = list {
        let list = if page.is_some() {
            let block = Block::new()
                .borders(Borders::RIGHT)
                .border_style(theme.border);
            let inner = block.inner(list);
            frame.render_widget(block, list);
            inner
        } else {
            list
        };
        render_list(state, frame, list, theme);
    }
    if let Some(page) = page {
        let inner = page_inner(page);
        let lines = page_lines(state, usize::from(inner.width), theme);
        let height = usize::from(inner.height);
        let scroll = state.scroll.min(lines.len().saturating_sub(height));
        let shown: Vec<Line> = lines.into_iter().skip(scroll).take(height).collect();
        frame.render_widget(Paragraph::new(shown), inner);
    }
}

fn render_list(state: &LibraryState, frame: &mut Frame, area: Rect, theme: &Theme) {
    let [find, table_area] =
        Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(area);
    let visible = state.visible();
    let label = strings::LIBRARY_FIND;
    let count = format!(" {} of 64 ", visible.len());
    let [l, input, c] = Layout::horizontal([
        Constraint::Length(u16::try_from(text::width(label)).unwrap_or(6) + 2),
        Constraint::Min(0),
        Constraint::Length(u16::try_from(text::width(&count)).unwrap_or(10)),
    ])
    .areas(find);
    let focused = !state.open;
    frame.render_widget(
        Span::styled(
            format!(" {label}"),
            if focused { theme.accent } else { theme.dim },
        ),
        l,
    );
    let filter = state.filter_text();
    if focused {
        if filter.is_empty() {
            frame.render_widget(Span::styled(strings::LIBRARY_HINT, theme.dim), input);
        } else {
            frame.render_widget(&state.filter, input);
        }
    } else {
        frame.render_widget(
            Span::styled(truncate(&filter, usize::from(input.width)), theme.text),
            input,
        );
    }
    frame.render_widget(Line::styled(count, theme.dim).right_aligned(), c);

    if visible.is_empty() {
        frame.render_widget(
            Paragraph::new(Line::styled(strings::LIBRARY_NO_MATCH, theme.dim)).centered(),
            Rect {
                y: table_area.y + table_area.height / 2,
                height: 1,
                ..table_area
            },
        );
        return;
    }
    // Number, figure, pinyin, Chinese and trigrams never shrink; the English name takes the
    // rest and is cut with an ellipsis. A header labels the columns: the Chinese is simplified
    // (简体), the trigrams are the one above and the one below.
    let trigrams = area.width >= 70;
    let fixed: u16 = 2 + 2 + 2 + 10 + 4 + if trigrams { 12 } else { 0 } + 6;
    let english_w = usize::from(area.width.saturating_sub(fixed));
    let mut widths = vec![
        Constraint::Length(2),
        Constraint::Length(2),
        Constraint::Length(10),
        Constraint::Length(4),
    ];
    if trigrams {
        widths.extend([Constraint::Length(5), Constraint::Length(5)]);
    }
    widths.push(Constraint::Min(4));
    let mut header = vec![
        Cell::from(""),
        Cell::from(""),
        Cell::from(strings::LIBRARY_PINYIN),
        Cell::from(strings::LIBRARY_SCRIPT),
    ];
    if trigrams {
        header.extend([
            Cell::from(strings::LIBRARY_ABOVE),
            Cell::from(strings::LIBRARY_BELOW),
        ]);
    }
    header.push(Cell::from(strings::LIBRARY_ENGLISH));
    let rows: Vec<Row> = visible
        .iter()
        .map(|h| {
            let mut cells = vec![
                Cell::from(Line::from(h.number.to_string()).right_aligned()),
                Cell::from(h.symbol.clone()),
                Cell::from(Span::styled(h.pinyin(), theme.bold)),
                Cell::from(h.simplified()),
            ];
            if trigrams {
                for t in [h.upper(), h.lower()] {
                    cells.push(Cell::from(
                        Line::styled(t.symbol.clone(), theme.dim).centered(),
                    ));
                }
            }
            cells.push(Cell::from(truncate(&h.name_english, english_w)));
            Row::new(cells)
        })
        .collect();
    let selected = state.cursor(&visible);
    let table = Table::new(rows, widths)
        .header(Row::new(header).style(theme.dim))
        .column_spacing(1)
        .row_highlight_style(if focused {
            theme.selected
        } else {
            theme.selected.patch(theme.dim)
        })
        .highlight_symbol("▸ ")
        // The columns stay put when the cursor's hexagram is not among those found.
        .highlight_spacing(HighlightSpacing::Always);
    let mut ts = TableState::new().with_selected(selected);
    frame.render_stateful_widget(table, table_area, &mut ts);
}

/// The first of `phrases` that fits `width` columns, else the last cut to fit.
fn fit(phrases: &[String], width: usize) -> String {
    phrases
        .iter()
        .find(|p| text::width(p) <= width)
        .cloned()
        .unwrap_or_else(|| truncate(phrases.last().map_or("", String::as_str), width))
}

/// "… (Influence / Mutual Attraction)" -> "… (Influence)": a name with its first English
/// rendering only.
fn first_name_only(name: &str) -> String {
    match (name.rfind('('), name.rfind(" / ")) {
        (Some(open), Some(slash)) if slash > open && name.ends_with(')') => {
            format!("{})", &name[..slash])
        }
        _ => name.to_owned(),
    }
}

/// `spans` laid out in lines of at most `width` columns, breaking only at spans equal to
/// `separator` (which are dropped at a break).
fn break_between(spans: Vec<Span<'static>>, separator: &str, width: usize) -> Vec<Line<'static>> {
    let mut lines: Vec<Line<'static>> = Vec::new();
    let mut line: Vec<Span<'static>> = Vec::new();
    let mut pending: Option<Span<'static>> = None;
    let used = |l: &[Span<'static>]| l.iter().map(Span::width).sum::<usize>();
    for span in spans {
        if span.content == separator {
            pending = Some(span);
            continue;
        }
        let sep = pending.take();
        let extra = sep.as_ref().map_or(0, Span::width) + span.width();
        if !line.is_empty() && used(&line) + extra > width {
            lines.push(Line::from(std::mem::take(&mut line)));
        } else if let Some(sep) = sep {
            line.push(sep);
        }
        line.push(span);
    }
    if !line.is_empty() {
        lines.push(Line::from(line));
    }
    lines
}
