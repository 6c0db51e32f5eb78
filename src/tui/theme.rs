//! The app's styles, in one place. Colour follows `NO_COLOR`: without colour every distinction
//! is still made with bold, dim, reversed and underlined text.

use ratatui::style::{Color, Modifier, Style};

/// Every style the screens use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    /// Plain text.
    pub text: Style,
    /// Secondary text: hints, units, empty values.
    pub dim: Style,
    /// Titles and headings.
    pub heading: Style,
    /// The app's accent: the current tab, the focused box.
    pub accent: Style,
    /// The selected row or card.
    pub selected: Style,
    /// Borders of boxes that do not have the focus.
    pub border: Style,
    /// Borders of the box that has the focus.
    pub border_focus: Style,
    /// Success: a finished section, a complete reading.
    pub ok: Style,
    /// Work in progress: running and streaming sections.
    pub busy: Style,
    /// Retrying, partial, cancelled.
    pub warn: Style,
    /// Errors and failed sections.
    pub error: Style,
    /// Bold text of a section.
    pub bold: Style,
    /// Italic text of a section.
    pub italic: Style,
    /// Keys in the footer and the help.
    pub key: Style,
    /// A changing line's mark.
    pub changing: Style,
}

impl Theme {
    /// The theme, coloured or not.
    pub fn new(colour: bool) -> Self {
        let fg = |c: Color| {
            if colour {
                Style::new().fg(c)
            } else {
                Style::new()
            }
        };
        let bold = Style::new().add_modifier(Modifier::BOLD);
        Self {
            text: Style::new(),
            dim: if colour {
                Style::new().fg(Color::DarkGray)
            } else {
                Style::new().add_modifier(Modifier::DIM)
            },
            heading: bold.patch(fg(Color::Yellow)),
            accent: bold.patch(fg(Color::Cyan)),
            selected: if colour {
                Style::new().bg(Color::Rgb(40, 44, 52)).fg(Color::White)
            } else {
                Style::new().add_modifier(Modifier::REVERSED)
            },
            border: fg(Color::DarkGray),
            border_focus: fg(Color::Cyan),
            ok: fg(Color::Green),
            busy: fg(Color::Cyan),
            warn: fg(Color::Yellow),
            error: bold.patch(fg(Color::Red)),
            bold,
            italic: Style::new().add_modifier(Modifier::ITALIC),
            key: bold.patch(fg(Color::Cyan)),
            changing: bold.patch(fg(Color::Magenta)),
        }
    }

    /// Whether colour should be used: `NO_COLOR` unset or empty.
    pub fn colour_from_env() -> bool {
        std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
    }
}
