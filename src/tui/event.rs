//! The loop: terminal events (crossterm's `EventStream`, forwarded by a small task), messages from
//! the background (section events, store answers) and a frame tick are merged on one channel and
//! one `select!`. Every pending message is drained (`try_recv`) before a single draw; draws happen
//! only when something changed, at most ~30 a second; the tick runs only while something on
//! screen moves, so an idle app sleeps.

use std::io;
use std::time::Duration;

use crossterm::event::{Event, EventStream, KeyEventKind};
use futures_util::StreamExt;
use ratatui::Terminal;
use ratatui::backend::Backend;
use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio::sync::mpsc;
use tokio::time::{Instant, MissedTickBehavior};

use super::app::{App, Msg};
use super::effects::Runner;

/// One frame at 30 frames a second.
pub const FRAME: Duration = Duration::from_nanos(1_000_000_000 / 30);

/// A terminal event as a message (key releases, focus and mouse events are dropped).
pub fn message(event: Event) -> Option<Msg> {
    match event {
        Event::Key(key) if key.kind != KeyEventKind::Release => Some(Msg::Key(key)),
        Event::Paste(text) => Some(Msg::Paste(text)),
        Event::Resize(w, h) => Some(Msg::Resize(w, h)),
        Event::Key(_) | Event::FocusGained | Event::FocusLost | Event::Mouse(_) => None,
    }
}

/// Runs the app until it quits or the terminal closes.
pub async fn run<B: Backend>(
    terminal: &mut Terminal<B>,
    app: &mut App,
    runner: &mut Runner,
    tx: mpsc::UnboundedSender<Msg>,
    mut rx: mpsc::UnboundedReceiver<Msg>,
) -> io::Result<()>
where
    B::Error: Into<io::Error>,
{
    let start = Instant::now();
    let input = tokio::spawn(forward_input(tx));
    let result = run_loop(terminal, app, runner, &mut rx, start).await;
    input.abort();
    result
}

/// Sends every terminal event to the loop as a message; when the terminal goes away, asks the
/// app to stop.
async fn forward_input(tx: mpsc::UnboundedSender<Msg>) {
    let mut input = EventStream::new();
    while let Some(event) = input.next().await {
        match event {
            Ok(event) => {
                if let Some(msg) = message(event)
                    && tx.send(msg).is_err()
                {
                    return;
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the terminal");
                break;
            }
        }
    }
    let _ = tx.send(Msg::Interrupt);
}

async fn run_loop<B: Backend>(
    terminal: &mut Terminal<B>,
    app: &mut App,
    runner: &mut Runner,
    rx: &mut mpsc::UnboundedReceiver<Msg>,
    start: Instant,
) -> io::Result<()>
where
    B::Error: Into<io::Error>,
{
    let mut tick = tokio::time::interval(FRAME);
    tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut stop = Stop::new();
    let mut last_draw: Option<Instant> = None;
    let mut pending = true;
    loop {
        let next_frame = last_draw.map_or_else(Instant::now, |t| t + FRAME);
        let first = tokio::select! {
            msg = rx.recv() => match msg {
                Some(msg) => Some(msg),
                None => return Ok(()),
            },
            _ = tick.tick(), if app.animating() => None,
            () = tokio::time::sleep_until(next_frame), if pending => None,
            () = stop.signalled() => Some(Msg::Interrupt),
        };
        let mut handle = |app: &mut App, msg: Msg| {
            if msg.wrote() {
                runner.sync_soon();
            }
            for effect in app.update(msg) {
                runner.apply(effect);
            }
        };
        handle(app, Msg::Tick(start.elapsed()));
        if let Some(msg) = first {
            handle(app, msg);
        }
        // Drain everything already waiting before drawing once.
        while let Ok(msg) = rx.try_recv() {
            handle(app, msg);
        }
        if app.quit {
            return Ok(());
        }
        pending |= app.take_dirty();
        if pending && last_draw.is_none_or(|t| t.elapsed() >= FRAME) {
            terminal
                .draw(|frame| super::view::draw(app, frame))
                .map_err(Into::into)?;
            last_draw = Some(Instant::now());
            pending = false;
        }
    }
}

/// SIGTERM and SIGHUP, so a closed terminal or a `kill` still restores and cancels cleanly.
struct Stop {
    term: Option<Signal>,
    hup: Option<Signal>,
}

impl Stop {
    fn new() -> Self {
        Self {
            term: signal(SignalKind::terminate()).ok(),
            hup: signal(SignalKind::hangup()).ok(),
        }
    }

    async fn signalled(&mut self) {
        let Stop { term, hup } = self;
        let term = async {
            match term {
                Some(s) => s.recv().await,
                None => std::future::pending().await,
            }
        };
        let hup = async {
            match hup {
                Some(s) => s.recv().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = term => {}
            _ = hup => {}
        }
    }
}
