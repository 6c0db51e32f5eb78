//! Widgets more than one screen draws: a line of a hexagram as a bar (the cast, the Reading
//! screen, the Library), a reading's status as a styled word (the live grid's header, History),
//! and the text box the note and follow-up editors share.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Padding, Paragraph, Wrap};
use ratatui_textarea::TextArea;

use crate::report::ReadingStatus;
use crate::tui::theme::Theme;

/// A line drawn as a bar, 13 cells either way: yang whole, yin broken in the middle.
pub fn bar(yang: bool) -> &'static str {
    if yang {
        "━━━━━━━━━━━━━"
    } else {
        "━━━━━   ━━━━━"
    }
}

/// The word and style for a reading's status.
pub fn status_word(status: ReadingStatus, theme: &Theme) -> (&'static str, Style) {
    let style = match status {
        ReadingStatus::Running => theme.busy,
        ReadingStatus::Complete => theme.ok,
        ReadingStatus::Partial | ReadingStatus::Cancelled | ReadingStatus::Interrupted => {
            theme.warn
        }
        ReadingStatus::Failed => theme.error,
    };
    (status.as_str(), style)
}

/// A text box over a screen: its title, the text area, and a status line (the keys or what is
/// wrong on the left, the count on the right).
pub struct EditorBox<'a> {
    /// The box's title.
    pub title: &'a str,
    /// The text being typed.
    pub input: &'a TextArea<'static>,
    /// What is wrong, shown instead of the keys.
    pub error: Option<&'a str>,
    /// The keys that work.
    pub keys: &'a str,
    /// Characters typed against the limit.
    pub count: String,
    /// The tallest the box gets.
    pub height: u16,
}

/// Draws `b` centred over `area`.
pub fn editor_box(b: &EditorBox<'_>, frame: &mut Frame, area: Rect, theme: &Theme) {
    let w = area.width.saturating_sub(4).min(72);
    let h = area.height.saturating_sub(2).min(b.height);
    let [_, row, _] = Layout::vertical([
        Constraint::Fill(1),
        Constraint::Length(h),
        Constraint::Fill(1),
    ])
    .areas(area);
    let [_, r, _] = Layout::horizontal([
        Constraint::Fill(1),
        Constraint::Length(w),
        Constraint::Fill(1),
    ])
    .areas(row);
    super::clear_for_popup(frame, r, area);
    let block = Block::bordered()
        .border_style(theme.border_focus)
        .title(Span::styled(b.title, theme.heading))
        .padding(Padding::horizontal(1));
    let inner = block.inner(r);
    frame.render_widget(block, r);
    let [text, status] = Layout::vertical([Constraint::Min(1), Constraint::Length(1)]).areas(inner);
    text_box(b.input, frame, text);
    let width = usize::from(status.width);
    let left = b.error.map_or_else(
        || Span::styled(b.keys, theme.dim),
        |e| Span::styled(format!("✗ {e}"), theme.error),
    );
    let room = width.saturating_sub(b.count.len() + 1);
    let left = Span::styled(crate::text::truncate(&left.content, room), left.style);
    let gap = width.saturating_sub(crate::text::width(&left.content) + b.count.len());
    frame.render_widget(
        Line::from(vec![
            left,
            Span::raw(" ".repeat(gap)),
            Span::styled(b.count.clone(), theme.dim),
        ]),
        status,
    );
}

/// Draws a text box. An empty one shows its placeholder where typed text would start, the
/// cursor (if the box has the keys) on its first letter: ratatui-textarea draws the cursor
/// before the placeholder, which puts the placeholder a column right of what is then typed.
pub fn text_box(input: &TextArea<'_>, frame: &mut Frame, area: Rect) {
    let placeholder = input.placeholder_text();
    if !input.is_empty() || placeholder.is_empty() {
        frame.render_widget(input, area);
        return;
    }
    let style = input.placeholder_style().unwrap_or_default();
    let first = placeholder.chars().next().map_or(0, char::len_utf8);
    let (head, rest) = placeholder.split_at(first);
    let line = Line::from(vec![
        Span::styled(head, style.patch(input.cursor_style())),
        Span::styled(rest, style),
    ]);
    frame.render_widget(Paragraph::new(line).wrap(Wrap { trim: false }), area);
}

#[cfg(test)]
mod tests {
    use super::bar;

    #[test]
    fn yang_and_yin_are_the_same_width() {
        assert_eq!(
            crate::text::width(bar(true)),
            crate::text::width(bar(false))
        );
        assert_eq!(crate::text::width(bar(true)), 13);
    }
}
