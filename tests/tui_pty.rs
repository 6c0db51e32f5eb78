//! The terminal app run as a person runs it: the real binary in a pseudo-terminal (80x24), a
//! question typed, cast with the offline provider, the grid watched until it completes, the
//! reading opened from the store, and quit — then the terminal must have been given back.

mod support;

use std::io::{Read, Write};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use portable_pty::{PtySize, native_pty_system};

/// How long to wait for a screen before giving up (a failsafe, not a measurement).
const PATIENCE: Duration = Duration::from_secs(60);

struct Session {
    parser: vt100::Parser,
    raw: Vec<u8>,
    rx: mpsc::Receiver<Vec<u8>>,
    writer: Box<dyn Write + Send>,
}

impl Session {
    /// Reads output until the screen satisfies `ok`; panics with the screen if it never does.
    fn wait_for(&mut self, what: &str, ok: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let screen = self.parser.screen().contents();
            if ok(&screen) {
                return screen;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "never saw {what}; the screen was:\n{screen}"
            );
            if let Ok(bytes) = self.rx.recv_timeout(left.min(Duration::from_millis(200))) {
                self.parser.process(&bytes);
                self.raw.extend_from_slice(&bytes);
            }
        }
    }

    fn send(&mut self, keys: &str) {
        self.writer.write_all(keys.as_bytes()).unwrap();
        self.writer.flush().unwrap();
    }

    /// Everything left until the program closes the terminal.
    fn drain(&mut self) {
        let deadline = Instant::now() + PATIENCE;
        while Instant::now() < deadline {
            match self.rx.recv_timeout(Duration::from_millis(200)) {
                Ok(bytes) => self.raw.extend_from_slice(&bytes),
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => return,
            }
        }
    }
}

#[test]
fn ask_cast_watch_read_and_quit_in_a_real_terminal() {
    let home = tempfile::tempdir().unwrap();
    let cwd = tempfile::tempdir().unwrap();
    let pty = native_pty_system()
        .openpty(PtySize {
            rows: 24,
            cols: 80,
            pixel_width: 0,
            pixel_height: 0,
        })
        .unwrap();
    let mut cmd = support::cli::pty_command();
    cmd.cwd(cwd.path());
    cmd.env("ICHING_HOME", home.path());
    cmd.env("TERM", "xterm-256color");
    cmd.env("NO_COLOR", "1");
    let mut child = pty.slave.spawn_command(cmd).unwrap();
    drop(pty.slave);
    let mut reader = pty.master.try_clone_reader().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let mut s = Session {
        parser: vt100::Parser::new(24, 80, 0),
        raw: Vec::new(),
        rx,
        writer: pty.master.take_writer().unwrap(),
    };

    s.wait_for("the question box", |sc| {
        sc.contains("Your question") && sc.contains("offline · legge-1882")
    });
    s.send("Should I move to the coast?");
    s.wait_for("the typed question", |sc| sc.contains("27/2000"));
    s.send("\r");
    s.wait_for("the cast", |sc| sc.contains("Casting three coins"));
    s.send(" ");
    let grid = s.wait_for("a complete grid", |sc| {
        sc.contains("complete ·") && sc.contains("✓ done")
    });
    assert!(
        !grid.contains("· queued") && !grid.contains("✗ failed"),
        "{grid}"
    );
    // Enter opens the first section's text, as stored.
    s.send("\r");
    let reading = s.wait_for("the reading", |sc| {
        sc.contains("The cast") && sc.contains("── Opening") && sc.contains("You asked")
    });
    assert!(reading.contains("Should I move to the coast?"), "{reading}");
    // Back to the grid, then quit.
    s.send("\x1b");
    s.wait_for("the grid again", |sc| sc.contains("complete ·"));
    s.send("q");
    s.drain();
    let status = child.wait().unwrap();
    assert!(status.success(), "exit status {status:?}");

    let out = String::from_utf8_lossy(&s.raw);
    let entered = out
        .find("\x1b[?1049h")
        .expect("the alternate screen was entered");
    let left = out
        .rfind("\x1b[?1049l")
        .expect("the alternate screen was left");
    assert!(left > entered);
    assert!(
        out.contains("\x1b[?2004l"),
        "bracketed paste is turned off again"
    );
    assert!(
        out[left..].contains("\x1b[?25h"),
        "the cursor is shown again"
    );

    // What was shown was kept: the reading is in the store, complete.
    let store = iching::store::Store::open(home.path(), iching::store::Unlock::default()).unwrap();
    let listed = store
        .list(&iching::store::HistoryFilter::default())
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(
        listed[0].question.as_deref(),
        Ok("Should I move to the coast?")
    );
    assert_eq!(
        listed[0].row.status,
        iching::report::ReadingStatus::Complete
    );
    assert_eq!(listed[0].row.sections_done, listed[0].row.sections_planned);
}
