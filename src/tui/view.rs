//! The whole frame from the app's state: the tab bar, the screen on show (each drawn from its
//! own state), what is open over it ([`super::app::Overlay`] draws itself), the status line and
//! the footer of keys; or the "terminal too small" notice.

use crate::text::{self, truncate};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::app::{App, Overlay, Screen};
use super::screens::live::LiveState;
use super::screens::{
    MIN_HEIGHT, MIN_WIDTH, ask, body, cast, draw_keys, history, library, live, reading, stats,
};
use super::strings::{self, KeyHelp, footer};
use super::theme::Theme;

/// Draws the whole app.
pub fn draw(app: &App, frame: &mut Frame) {
    let area = frame.area();
    let theme = &app.theme;
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        let lines: Vec<Line> = strings::too_small(area.width, area.height, MIN_WIDTH, MIN_HEIGHT)
            .into_iter()
            .enumerate()
            .map(|(i, l)| Line::styled(l, if i == 0 { theme.error } else { theme.text }))
            .collect();
        let h = area
            .height
            .saturating_sub(area.height.saturating_sub(4) / 2);
        let y = area.y + area.height - h;
        frame.render_widget(
            Paragraph::new(lines)
                .centered()
                .wrap(ratatui::widgets::Wrap { trim: true }),
            Rect {
                y,
                height: h.min(area.height),
                ..area
            },
        );
        return;
    }
    let [tabs, body, status, keys] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(0),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(area);
    draw_tabs(app, frame, tabs, theme);
    match app.screen {
        Screen::Ask => ask::render(&app.ask, &app.provider, frame, body, theme),
        Screen::Cast => {
            if let Some(c) = &app.cast {
                cast::render(c, app.now, frame, body, theme);
            }
        }
        Screen::Live => live::render(app.live.as_ref(), app.now, frame, body, theme),
        Screen::Reading => reading::render(&app.reading, frame, body, theme),
        Screen::History => history::render(&app.history, frame, body, theme),
        Screen::Stats => stats::render(&app.stats, frame, body, theme),
        Screen::Library => library::render(&app.library, frame, body, theme),
    }
    draw_status(app, frame, status, theme);
    draw_keys(footer_keys(app), frame, keys, theme);
    if let Some(overlay) = &app.overlay {
        overlay.render(app, frame, body, theme);
    } else if let Some(s) = &app.status {
        let first = s.text.lines().next().unwrap_or_default();
        if !fits_alone(first, status.width) {
            // Too long for the status line even alone: all of it in the box.
            draw_notice(&s.text, frame, body, theme);
        } else if let Some((_, rest)) = s.text.split_once('\n') {
            draw_notice(rest, frame, body, theme);
        }
    }
}

/// Whether a status message's `first` line fits on a status line `width` columns wide with
/// the provider's label given way (a column of margin each side).
fn fits_alone(first: &str, width: u16) -> bool {
    text::width(first) + 2 <= usize::from(width)
}

/// A message of more than one line (an export's path): its first line on the status line, the
/// rest whole in a box over the foot of the screen, each line of it on lines of its own.
fn draw_notice(rest: &str, frame: &mut Frame, area: Rect, theme: &Theme) {
    let w = area.width.saturating_sub(2);
    let inner = usize::from(w.saturating_sub(4));
    let lines: Vec<Line> = rest
        .lines()
        .flat_map(|l| text::wrap(l, inner))
        .map(|l| Line::styled(l, theme.text))
        .collect();
    let h = u16::try_from(lines.len()).unwrap_or(1).saturating_add(2);
    let r = Rect {
        x: area.x + 1,
        y: area.bottom().saturating_sub(h),
        width: w,
        height: h.min(area.height),
    };
    super::screens::clear_for_popup(frame, r, area);
    let block = ratatui::widgets::Block::bordered().border_style(theme.border_focus);
    frame.render_widget(
        Paragraph::new(lines).block(block.padding(ratatui::widgets::Padding::horizontal(1))),
        r,
    );
}

fn draw_tabs(app: &App, frame: &mut Frame, area: Rect, theme: &Theme) {
    let current = match app.screen {
        Screen::Ask | Screen::Cast => 0,
        Screen::Live => 1,
        Screen::Reading => 2,
        Screen::History | Screen::Stats => 3,
        Screen::Library => 4,
    };
    let mut spans = vec![Span::styled(format!(" ䷀ {} ", strings::APP), theme.heading)];
    let live_note = app
        .live
        .as_ref()
        .filter(|l| l.running())
        .map(|l| format!(" {}/{}", l.done(), l.cards.len()));
    for (i, name) in [
        strings::TAB_ASK,
        strings::TAB_LIVE,
        strings::TAB_READING,
        strings::TAB_HISTORY,
        strings::TAB_LIBRARY,
    ]
    .into_iter()
    .enumerate()
    {
        spans.push(Span::styled("│", theme.border));
        let style = if i == current {
            theme.accent.patch(theme.selected)
        } else {
            theme.dim
        };
        spans.push(Span::styled(format!(" {name} "), style));
        if i == 1
            && let Some(n) = &live_note
        {
            spans.push(Span::styled(format!("●{n} "), theme.busy));
        }
    }
    let tabs = Line::from(spans);
    let used = tabs.width();
    frame.render_widget(tabs, area);
    let pct = match app.screen {
        Screen::Reading => reading::position(&app.reading, body(app.size), theme),
        Screen::Library => library::position(&app.library, body(app.size), theme),
        _ => None,
    };
    // Where the tabs leave room for it.
    if let Some(pct) = pct.map(|p| format!("{p}% "))
        && used + 1 + text::width(&pct) <= usize::from(area.width)
    {
        frame.render_widget(Line::styled(pct, theme.dim).right_aligned(), area);
    }
}

/// The provider's label and the message on the status line. A message too long to stand beside
/// the label takes the line alone; one too long for that is cut here and shown whole in a box
/// above ([`draw`]).
fn draw_status(app: &App, frame: &mut Frame, area: Rect, theme: &Theme) {
    // A question's words are in its box.
    let asking = matches!(app.overlay, Some(Overlay::Confirm(_)));
    let message = app.status.as_ref().filter(|_| !asking);
    // With nothing else to say, what the endpoint is doing to the run in flight.
    let note = message
        .is_none()
        .then(|| app.live.as_ref().and_then(LiveState::endpoint_note))
        .flatten()
        .or_else(|| message.is_none().then(|| app.sync_line.clone()).flatten());
    let first = message
        .map(|s| s.text.lines().next().unwrap_or_default())
        .or(note.as_deref());
    let style = match message {
        Some(s) if s.error => theme.error,
        Some(_) => theme.text,
        None => theme.dim,
    };
    // The provider takes half the line at most, cut with an ellipsis.
    let half = usize::from(area.width / 2);
    let provider = format!(
        " {} ",
        truncate(&app.provider.label(), half.saturating_sub(2))
    );
    let pw = u16::try_from(text::width(&provider)).unwrap_or(0);
    let [p, msg] = Layout::horizontal([Constraint::Length(pw), Constraint::Min(0)])
        .spacing(1)
        .areas(area);
    if let Some(first) = first
        && text::width(first) > usize::from(msg.width)
        && fits_alone(first, area.width)
    {
        frame.render_widget(Span::styled(format!(" {first}"), style), area);
        return;
    }
    frame.render_widget(Span::styled(provider, theme.selected), p);
    // A message too long for the line even alone is whole in the box over the screen (`draw`):
    // cut here it would only repeat it with a word broken.
    let boxed = message.is_some() && first.is_some_and(|f| !fits_alone(f, area.width));
    if let Some(first) = first.filter(|_| !boxed) {
        let text = truncate(first, usize::from(msg.width));
        frame.render_widget(Span::styled(text, style), msg);
    }
}

/// The keys the footer names: those of what is open over the screen, else the screen's.
pub fn footer_keys(app: &App) -> &'static [KeyHelp] {
    if let Some(overlay) = &app.overlay {
        return overlay.keys();
    }
    match app.screen {
        Screen::Ask => footer::ASK,
        Screen::Cast => match &app.cast {
            Some(c) if c.method == crate::oracle::Method::Manual && c.cast.is_none() => {
                footer::MANUAL
            }
            _ => footer::CAST,
        },
        Screen::Live => match &app.live {
            None => footer::LIVE_EMPTY,
            Some(l) if l.running() => footer::LIVE_RUNNING,
            Some(_) => footer::LIVE_SETTLED,
        },
        Screen::Reading if app.reading.report.is_none() => footer::READING_EMPTY,
        Screen::Reading => footer::READING,
        Screen::History if app.history.filtering => footer::FILTER,
        Screen::History => footer::HISTORY,
        Screen::Stats => footer::STATS,
        Screen::Library if !app.library.open => footer::LIBRARY,
        Screen::Library if app.library.links.is_some() => footer::LIBRARY_LINKED,
        Screen::Library => footer::LIBRARY_PAGE,
    }
}
