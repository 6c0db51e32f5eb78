//! The terminal itself: raw mode, the alternate screen and bracketed paste, entered once and
//! restored on every way out (quit, Ctrl-C, an error, a signal, a panic on the UI thread), and
//! a backend that draws the I Ching's hexagram symbols safely.
//!
//! The Yijing symbols — trigrams ☰..☷, digrams, hexagrams ䷀..䷿ — became two columns wide in
//! Unicode 16 (which ratatui's width tables follow), but many terminals, tmux among them, still
//! draw the trigrams one column wide. Drawn naively, ratatui leaves the cell after such a symbol
//! alone, and a one-column terminal shows whatever was there before. [`SymbolSafe`] draws each
//! one as "blank the next cell, then the symbol, then move the cursor explicitly", which comes
//! out right under either width.

use std::io::{self, Stdout};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use crossterm::cursor::Show;
use crossterm::event::{DisableBracketedPaste, EnableBracketedPaste};
use crossterm::execute;
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use ratatui::Terminal;
use ratatui::backend::{Backend, ClearType, CrosstermBackend, WindowSize};
use ratatui::buffer::Cell;
use ratatui::layout::{Position, Size};

/// Whether `c` is drawn one column wide by some terminals and two by others: the Yijing symbols
/// Unicode 16 made wide.
pub fn unsure_width(c: char) -> bool {
    matches!(c, '\u{2630}'..='\u{2637}' | '\u{268A}'..='\u{268F}' | '\u{4DC0}'..='\u{4DFF}' | '\u{1D300}'..='\u{1D356}')
}

/// A backend that draws symbols of unsure width so that both widths come out right.
#[derive(Debug)]
pub struct SymbolSafe<B>(pub B);

impl<B: Backend> Backend for SymbolSafe<B> {
    type Error = B::Error;

    fn draw<'a, I>(&mut self, content: I) -> Result<(), Self::Error>
    where
        I: Iterator<Item = (u16, u16, &'a Cell)>,
    {
        let cells: Vec<(u16, u16, &Cell)> = content.collect();
        let mut blank = Cell::new(" ");
        let mut start = 0;
        let mut skip: Option<(u16, u16)> = None;
        let mut i = 0;
        while i < cells.len() {
            let (x, y, cell) = cells[i];
            if skip == Some((x, y)) && cell.symbol() == " " {
                // Already blanked before its symbol: drawing it again would cut a wide symbol.
                self.0.draw(cells[start..i].iter().copied())?;
                start = i + 1;
            } else if cell.symbol().chars().next().is_some_and(unsure_width) {
                self.0.draw(cells[start..i].iter().copied())?;
                blank.set_style(cell.style());
                self.0
                    .draw(std::iter::once((x.saturating_add(1), y, &blank)))?;
                self.0.draw(std::iter::once((x, y, cell)))?;
                skip = Some((x.saturating_add(1), y));
                start = i + 1;
            }
            i += 1;
        }
        self.0.draw(cells[start..].iter().copied())
    }

    fn hide_cursor(&mut self) -> Result<(), Self::Error> {
        self.0.hide_cursor()
    }

    fn show_cursor(&mut self) -> Result<(), Self::Error> {
        self.0.show_cursor()
    }

    fn get_cursor_position(&mut self) -> Result<Position, Self::Error> {
        self.0.get_cursor_position()
    }

    fn set_cursor_position<P: Into<Position>>(&mut self, position: P) -> Result<(), Self::Error> {
        self.0.set_cursor_position(position)
    }

    fn clear(&mut self) -> Result<(), Self::Error> {
        self.0.clear()
    }

    fn clear_region(&mut self, clear_type: ClearType) -> Result<(), Self::Error> {
        self.0.clear_region(clear_type)
    }

    fn size(&self) -> Result<Size, Self::Error> {
        self.0.size()
    }

    fn window_size(&mut self) -> Result<WindowSize, Self::Error> {
        self.0.window_size()
    }

    fn flush(&mut self) -> Result<(), Self::Error> {
        self.0.flush()
    }
}

/// The app's terminal.
pub type Tui = Terminal<SymbolSafe<CrosstermBackend<Stdout>>>;

/// Whether the terminal is in the app's hands.
static ACTIVE: AtomicBool = AtomicBool::new(false);
/// The thread that draws; a panic there restores the terminal before it is reported.
static UI_THREAD: OnceLock<std::thread::ThreadId> = OnceLock::new();

/// Raw mode, alternate screen, bracketed paste; the panic hook that undoes them.
pub fn enter() -> io::Result<Tui> {
    install_panic_hook();
    let _ = UI_THREAD.set(std::thread::current().id());
    enable_raw_mode()?;
    ACTIVE.store(true, Ordering::SeqCst);
    let setup = execute!(io::stdout(), EnterAlternateScreen, EnableBracketedPaste)
        .and_then(|()| Terminal::new(SymbolSafe(CrosstermBackend::new(io::stdout()))));
    if setup.is_err() {
        restore();
    }
    setup
}

/// Leaves raw mode and the alternate screen and shows the cursor; does nothing the second time.
pub fn restore() {
    if ACTIVE.swap(false, Ordering::SeqCst) {
        let _ = disable_raw_mode();
        let _ = execute!(
            io::stdout(),
            DisableBracketedPaste,
            LeaveAlternateScreen,
            Show
        );
    }
}

/// Restores the terminal before the previous hook (the crash report `main` installs) runs, for a panic on the
/// UI thread. A panic on another thread while the app owns the screen (the orchestrator turns one
/// into a failed section) is logged instead of printed over the app.
fn install_panic_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let on_ui = UI_THREAD.get() == Some(&std::thread::current().id());
            if on_ui || !ACTIVE.load(Ordering::SeqCst) {
                restore();
                previous(info);
            } else {
                tracing::error!(panic = %info, "a background task panicked");
            }
        }));
    });
}
