//! The app run as a person runs it: the real binary in a pseudo-terminal (80x24). The terminal
//! app: a question typed, cast with the offline provider, the grid watched until it completes,
//! the reading opened from the store, and quit — then the terminal must have been given back.
//! And colour: with `NO_COLOR` set (non-empty) neither the terminal app nor `cast`'s progress
//! nor `doctor`'s marks on a terminal send a colour escape; without it (or with it empty) all do.
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

/// How long to wait for a screen before giving up (a failsafe, not a measurement).
const PATIENCE: Duration = Duration::from_secs(60);

struct Session {
    parser: vt100::Parser,
    raw: Vec<u8>,
    rx: mpsc::Receiver<Vec<u8>>,
    writer: Box<dyn Write + Send>,
    child: Box<dyn Child + Send + Sync>,
    _master: Box<dyn MasterPty + Send>,
}

impl Session {
    /// The binary with `args` in an 80x24 terminal, `ICHING_HOME` = `home`, a clean
    /// environment ([`support::cli::pty_command`]) and then `env`.
    fn start(home: &Path, cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Session {
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
        cmd.cwd(cwd);
        cmd.env("ICHING_HOME", home);
        cmd.env("TERM", "xterm-256color");
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
            raw: Vec::new(),
            rx,
            writer: pty.master.take_writer().unwrap(),
            child,
            _master: pty.master,
        }
    }

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
                Ok(bytes) => {
                    self.parser.process(&bytes);
                    self.raw.extend_from_slice(&bytes);
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => return,
            }
        }
    }

    /// Waits for the program to end; panics unless it succeeded.
    fn succeeded(&mut self) {
        self.drain();
        let status = self.child.wait().unwrap();
        assert!(
            status.success(),
            "exit status {status:?}; the output was:\n{}",
            String::from_utf8_lossy(&self.raw)
        );
    }
}

/// The SGR escapes (`ESC [ ... m`) in `out` that set a colour: a foreground or background of
/// the 8, 16, 256 or 24-bit palettes. Resets to the default colour (39, 49) and attributes (bold,
/// dim, reverse, ...) are not colours.
fn colour_escapes(out: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(out);
    let mut found = Vec::new();
    let mut rest = text.as_ref();
    while let Some(at) = rest.find("\x1b[") {
        rest = &rest[at + 2..];
        let end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == ';' || c == ':'))
            .unwrap_or(rest.len());
        let (params, after) = rest.split_at(end);
        if after.starts_with('m') {
            let colour = params
                .split([';', ':'])
                .filter_map(|p| p.parse::<u16>().ok())
                .any(|p| matches!(p, 30..=38 | 40..=48 | 90..=97 | 100..=107));
            if colour {
                found.push(format!("ESC[{params}m"));
            }
        }
    }
    found
}

#[test]
fn colour_escapes_are_told_from_other_attributes() {
    let plain = b"\x1b[0m\x1b[1mbold\x1b[2;7m\x1b[39m\x1b[49m\x1b[?25h\x1b[2J\x1b[3;4H";
    assert!(colour_escapes(plain).is_empty());
    for coloured in [
        &b"\x1b[32m"[..],
        b"\x1b[1;31m",
        b"\x1b[38;5;8m",
        b"\x1b[48;2;40;44;52m",
        b"\x1b[96m",
    ] {
        assert_eq!(colour_escapes(coloured).len(), 1, "{coloured:?}");
    }
}

#[test]
fn ask_cast_watch_read_and_quit_in_a_real_terminal() {
    let home = tempfile::tempdir().unwrap();
    let cwd = tempfile::tempdir().unwrap();
    let mut s = Session::start(home.path(), cwd.path(), &[], &[("NO_COLOR", "1")]);

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
    s.succeeded();

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
    // NO_COLOR: every distinction was made without colour, all the way through.
    assert_eq!(colour_escapes(&s.raw), Vec::<String>::new());

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

#[test]
fn the_terminal_app_is_coloured_unless_no_color_is_set() {
    for (no_color, coloured) in [(None, true), (Some(""), true), (Some("1"), false)] {
        let home = tempfile::tempdir().unwrap();
        let cwd = tempfile::tempdir().unwrap();
        let env: Vec<(&str, &str)> = no_color.map(|v| ("NO_COLOR", v)).into_iter().collect();
        let mut s = Session::start(home.path(), cwd.path(), &[], &env);
        s.wait_for("the question box", |sc| sc.contains("Your question"));
        s.send("\x03"); // Ctrl-C quits at once
        s.succeeded();
        let escapes = colour_escapes(&s.raw);
        assert_eq!(
            !escapes.is_empty(),
            coloured,
            "NO_COLOR={no_color:?}: {escapes:?}"
        );
    }
}

#[test]
fn cast_and_doctor_on_a_terminal_are_coloured_unless_no_color_is_set() {
    let cast = [
        "cast",
        "Q",
        "--lines",
        "7,7,7,7,7,7",
        "--provider",
        "offline",
    ];
    let doctor = ["doctor", "--provider", "offline"];
    for args in [&cast[..], &doctor[..]] {
        for (no_color, coloured) in [(None, true), (Some(""), true), (Some("1"), false)] {
            let home = tempfile::tempdir().unwrap();
            let cwd = tempfile::tempdir().unwrap();
            let env: Vec<(&str, &str)> = no_color.map(|v| ("NO_COLOR", v)).into_iter().collect();
            let mut s = Session::start(home.path(), cwd.path(), args, &env);
            s.succeeded();
            let out = String::from_utf8_lossy(&s.raw);
            assert!(out.contains("✓"), "{args:?}: the marks were shown: {out}");
            let escapes = colour_escapes(&s.raw);
            assert_eq!(
                !escapes.is_empty(),
                coloured,
                "{args:?} NO_COLOR={no_color:?}: {escapes:?}\n{out}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_silent_server_does_not_hold_back_the_first_frame() {
    // A server that accepts and never answers: the app asks it nothing before it draws (what
    // the endpoint takes is learned when a reading needs it), so the first frame does not wait
    // on it, and quitting is at once.
    let server = support::fake_openai::FakeOpenAi::start(support::fake_openai::ServerConfig {
        default_fault: support::fake_openai::Fault::NoHead,
        ..Default::default()
    });
    let home = tempfile::tempdir().unwrap();
    let cwd = tempfile::tempdir().unwrap();
    std::fs::write(
        home.path().join("config.toml"),
        format!(
            "provider = \"llamacpp\"\nbase_url = \"{}\"\n",
            server.base_url()
        ),
    )
    .unwrap();
    let mut s = tokio::task::block_in_place(|| {
        let mut s = Session::start(home.path(), cwd.path(), &[], &[]);
        s.wait_for("the question box", |sc| sc.contains("Your question"));
        s
    });
    let stats = server.stats();
    assert_eq!(
        (stats.requests, stats.props_requests, stats.other_requests),
        (0, 0, 0),
        "nothing was asked of the server before the first frame"
    );
    tokio::task::block_in_place(|| {
        s.send("\x03");
        s.succeeded();
    });
}

#[test]
fn a_hosted_provider_without_its_key_opens_offline_saying_so_and_a_pasted_key_is_used() {
    let home = tempfile::tempdir().unwrap();
    let cwd = tempfile::tempdir().unwrap();
    let env = [("NO_COLOR", "1"), ("ICHING_PROVIDER", "openai")];
    let mut s = Session::start(home.path(), cwd.path(), &[], &env);
    let screen = s.wait_for("the question box, offline", |sc| {
        sc.contains("Your question") && sc.contains("Answered by offline")
    });
    assert!(
        screen.contains("ICHING_PROVIDER=openai needs an API key"),
        "{screen}"
    );
    assert!(screen.contains("F7"), "{screen}");
    // F7 lists openai with its address and its variable, not set.
    s.send("\x1b[18~");
    let picker = s.wait_for("the provider box", |sc| {
        sc.contains("api.openai.com/v1") && sc.contains("OPENAI_API_KEY not set")
    });
    assert!(picker.contains("localhost:11434/v1"), "{picker}");
    s.send("\x03");
    s.succeeded();
    // A key pasted into the store (as the box does) answers for openai from then on.
    let store = iching::store::Store::open(home.path(), iching::store::Unlock::default()).unwrap();
    store
        .set_provider_key(
            "openai",
            &iching::model::Secret::new("sk-pasted-in-the-app"),
        )
        .unwrap();
    drop(store);
    let mut s = Session::start(home.path(), cwd.path(), &[], &env);
    let screen = s.wait_for("the question box, on openai", |sc| {
        sc.contains("Your question") && sc.contains("openai · gpt-5-mini")
    });
    assert!(!screen.contains("needs an API key"), "{screen}");
    s.send("\x03");
    s.succeeded();
}
