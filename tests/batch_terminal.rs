//! `iching batch` on a terminal (a pseudo-terminal of 80x24): the progress bar fits on one row
//! and is gone when the batch ends, and when Ctrl-C stops it.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test or tool fails by panicking"
)]

use crate::support;

use std::io::{Read, Write};
use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use portable_pty::{Child, MasterPty, PtySize, native_pty_system};

/// A failsafe, not a measurement.
const PATIENCE: Duration = Duration::from_secs(120);

struct Session {
    parser: vt100::Parser,
    rx: mpsc::Receiver<Vec<u8>>,
    writer: Box<dyn Write + Send>,
    child: Box<dyn Child + Send + Sync>,
    _master: Box<dyn MasterPty + Send>,
}

impl Session {
    fn start(home: &Path, args: &[&str], env: &[(&str, &str)]) -> Session {
        let pty = native_pty_system()
            .openpty(PtySize {
                rows: 24,
                cols: 80,
                pixel_width: 0,
                pixel_height: 0,
            })
            .unwrap();
        let mut cmd = support::cli::pty_command();
        cmd.args(args);
        cmd.cwd(home);
        cmd.env("ICHING_HOME", home);
        cmd.env("TERM", "xterm-256color");
        cmd.env("NO_COLOR", "1");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = pty.slave.spawn_command(cmd).unwrap();
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
        Session {
            parser: vt100::Parser::new(24, 80, 0),
            rx,
            writer: pty.master.take_writer().unwrap(),
            child,
            _master: pty.master,
        }
    }

    fn rows(&self) -> Vec<String> {
        self.parser.screen().rows(0, 80).collect()
    }

    fn wait_for(&mut self, what: &str, ok: impl Fn(&[String]) -> bool) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if ok(&self.rows()) {
                return;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "never saw {what}:\n{}",
                self.rows().join("\n")
            );
            if let Ok(bytes) = self.rx.recv_timeout(left.min(Duration::from_millis(100))) {
                self.parser.process(&bytes);
            }
        }
    }

    /// Reads to the end and returns the exit code.
    fn finish(&mut self) -> u32 {
        let deadline = Instant::now() + PATIENCE;
        while Instant::now() < deadline {
            match self.rx.recv_timeout(Duration::from_millis(200)) {
                Ok(bytes) => self.parser.process(&bytes),
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
        self.child.wait().unwrap().exit_code()
    }
}

/// The bar's row is the last row written, whole: nothing of it wrapped onto the next.
fn bar_on_one_row(rows: &[String]) -> bool {
    let last = rows.iter().rposition(|r| !r.trim().is_empty());
    last.is_some_and(|i| rows[i].contains(" sections · ") && rows[i].contains("readings"))
}

fn questions(home: &Path, n: usize) -> String {
    let file = home.join("questions.txt");
    let text: Vec<String> = (1..=n).map(|i| format!("Question number {i}?")).collect();
    std::fs::write(&file, text.join("\n")).unwrap();
    file.to_string_lossy().into_owned()
}

#[test]
fn the_bar_fits_80_columns_and_is_cleared_at_the_end() {
    let home = tempfile::tempdir().unwrap();
    // The questions live outside the home: a home holds only what iching keeps there.
    let files = tempfile::tempdir().unwrap();
    let file = questions(files.path(), 30);
    let mut s = Session::start(
        home.path(),
        &[
            "batch",
            &file,
            "--provider",
            "offline",
            "--concurrency",
            "8",
        ],
        &[("ICHING_OFFLINE_PACE_MS", "20")],
    );
    s.wait_for("the bar on one row", bar_on_one_row);
    assert_eq!(s.finish(), 0, "{}", s.rows().join("\n"));
    let rows = s.rows();
    assert!(
        rows.iter().all(|r| !r.contains(" sections · ")),
        "the bar stayed:\n{}",
        rows.join("\n")
    );
    assert!(
        rows.iter()
            .any(|r| r.starts_with("Batch: 30 readings, up to 8 sections at once")),
        "{}",
        rows.join("\n")
    );
}

#[test]
fn ctrl_c_clears_the_bar() {
    let home = tempfile::tempdir().unwrap();
    // The questions live outside the home: a home holds only what iching keeps there.
    let files = tempfile::tempdir().unwrap();
    let file = questions(files.path(), 200);
    let mut s = Session::start(
        home.path(),
        &[
            "batch",
            &file,
            "--provider",
            "offline",
            "--concurrency",
            "2",
        ],
        &[("ICHING_OFFLINE_PACE_MS", "200")],
    );
    s.wait_for("the bar on one row", bar_on_one_row);
    s.writer.write_all(b"\x03").unwrap();
    s.writer.flush().unwrap();
    s.wait_for("the stopping notice", |rows| {
        rows.iter().any(|r| r.starts_with("stopping: "))
    });
    s.writer.write_all(b"\x03").unwrap();
    s.writer.flush().unwrap();
    assert_eq!(s.finish(), 130, "{}", s.rows().join("\n"));
    let rows = s.rows();
    assert!(
        rows.iter().all(|r| !r.contains(" sections · ")),
        "the bar stayed:\n{}",
        rows.join("\n")
    );
}
