//! A real browser for the tests: Debian's headless Chromium, driven over the Chrome DevTools
//! Protocol. The protocol runs over a WebSocket; the few lines of RFC 6455 it needs (one
//! handshake, masked text frames out, unmasked frames in) are written here rather than pulling a
//! WebSocket library into every test build.
//!
//! Chromium is found as `$CHROMIUM`, else `chromium`, `chromium-browser` or `google-chrome` on
//! `PATH`. It is started as the machine's own probe starts it (headless, no sandbox for root, no
//! background networking: the machine's network is closed), with a fresh profile, and killed
//! when the [`Browser`] is dropped.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// How to get a browser, for the message when there is none.
const INSTALL: &str = "the browser tests need Chromium and the CJK fonts: run `bash scripts/test.sh` \
     (it installs them with apt-get) or `apt-get install chromium fonts-noto-cjk`, or point \
     $CHROMIUM at a Chromium or Chrome binary";

/// A running headless Chromium and the DevTools connection to it.
pub struct Browser {
    child: Child,
    socket: Socket,
    next_id: u64,
    _profile: tempfile::TempDir,
}

/// One page (a target) of the [`Browser`], attached in flat mode.
pub struct Page {
    session: String,
}

impl Browser {
    /// Starts Chromium, or panics saying how to install it.
    pub fn launch() -> Self {
        let exe = find_chromium().unwrap_or_else(|| panic!("no Chromium found: {INSTALL}"));
        let profile = tempfile::tempdir().unwrap();
        let child = Command::new(&exe)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{} did not start ({e}): {INSTALL}", exe.display()));
        // Chromium writes the port it chose and the browser's path to this file once it listens.
        let active = profile.path().join("DevToolsActivePort");
        let deadline = Instant::now() + Duration::from_secs(60);
        let (port, path) = loop {
            if let Ok(text) = std::fs::read_to_string(&active) {
                let mut lines = text.lines();
                if let (Some(port), Some(path)) = (lines.next(), lines.next()) {
                    break (port.parse::<u16>().unwrap(), path.to_owned());
                }
            }
            assert!(
                Instant::now() < deadline,
                "{} did not open its DevTools port within 60 s",
                exe.display()
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        Self {
            child,
            socket: Socket::connect(port, &path),
            next_id: 0,
            _profile: profile,
        }
    }

    /// Sends `method` (to `page`, or to the browser) and returns its result, skipping the events
    /// that arrive before it. Panics on a protocol error.
    pub fn call(&mut self, page: Option<&Page>, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut message = json!({ "id": id, "method": method, "params": params });
        if let Some(page) = page {
            message["sessionId"] = json!(page.session);
        }
        self.socket.send(&message.to_string());
        loop {
            let reply: Value = serde_json::from_str(&self.socket.receive()).unwrap();
            if reply["id"] != json!(id) {
                continue;
            }
            if let Some(error) = reply.get("error") {
                panic!("{method} failed: {error}");
            }
            return reply["result"].clone();
        }
    }

    /// Opens `file` in a new page of `width` x `height` CSS pixels and waits until it has loaded.
    pub fn open(&mut self, file: &Path, width: u32, height: u32) -> Page {
        let target = self.call(None, "Target.createTarget", json!({ "url": "about:blank" }));
        let attached = self.call(
            None,
            "Target.attachToTarget",
            json!({ "targetId": target["targetId"], "flatten": true }),
        );
        let page = Page {
            session: attached["sessionId"].as_str().unwrap().to_owned(),
        };
        self.call(
            Some(&page),
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": width, "height": height, "deviceScaleFactor": 1, "mobile": false }),
        );
        let url = format!("file://{}", file.display());
        self.call(Some(&page), "Page.navigate", json!({ "url": url }));
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.eval(&page, "document.readyState") != json!("complete") {
            assert!(Instant::now() < deadline, "{url} did not load within 60 s");
            std::thread::sleep(Duration::from_millis(50));
        }
        page
    }

    /// The value of a JavaScript expression in `page` (returned by value, so JSON).
    pub fn eval(&mut self, page: &Page, expression: &str) -> Value {
        let result = self.call(
            Some(page),
            "Runtime.evaluate",
            json!({ "expression": expression, "returnByValue": true }),
        );
        if let Some(exception) = result.get("exceptionDetails") {
            panic!("{expression} threw: {exception}");
        }
        result["result"]["value"].clone()
    }

    /// The platform fonts the browser drew each element matching `selector` with, as
    /// `(family, glyphs)` pairs, one list per element.
    pub fn fonts(&mut self, page: &Page, selector: &str) -> Vec<Vec<(String, u64)>> {
        self.call(Some(page), "DOM.enable", json!({}));
        self.call(Some(page), "CSS.enable", json!({}));
        let root = self.call(Some(page), "DOM.getDocument", json!({ "depth": 0 }));
        let nodes = self.call(
            Some(page),
            "DOM.querySelectorAll",
            json!({ "nodeId": root["root"]["nodeId"], "selector": selector }),
        );
        let ids: Vec<Value> = nodes["nodeIds"].as_array().unwrap().clone();
        ids.into_iter()
            .map(|id| {
                let fonts = self.call(
                    Some(page),
                    "CSS.getPlatformFontsForNode",
                    json!({ "nodeId": id }),
                );
                fonts["fonts"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|f| {
                        (
                            f["familyName"].as_str().unwrap_or_default().to_owned(),
                            f["glyphCount"].as_u64().unwrap_or_default(),
                        )
                    })
                    .collect()
            })
            .collect()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `$CHROMIUM`, or the first of the usual names found on `PATH`.
fn find_chromium() -> Option<PathBuf> {
    if let Some(exe) = std::env::var_os("CHROMIUM") {
        return Some(PathBuf::from(exe));
    }
    let path = std::env::var_os("PATH")?;
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .flat_map(|name| std::env::split_paths(&path).map(move |dir| dir.join(name)))
        .find(|candidate| candidate.is_file())
}

/// A client WebSocket (RFC 6455) carrying text messages.
struct Socket {
    stream: TcpStream,
}

impl Socket {
    /// Connects to `ws://127.0.0.1:{port}{path}` and completes the opening handshake.
    fn connect(port: u16, path: &str) -> Self {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        // A browser that stops answering fails the test instead of hanging it.
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
             Sec-WebSocket-Version: 13\r\n\r\n"
        )
        .unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut status = String::new();
        reader.read_line(&mut status).unwrap();
        assert!(status.contains(" 101 "), "no WebSocket upgrade: {status}");
        loop {
            let mut header = String::new();
            reader.read_line(&mut header).unwrap();
            if header == "\r\n" || header.is_empty() {
                break;
            }
        }
        // The server speaks only after a request, so nothing is left in the reader's buffer.
        assert!(reader.buffer().is_empty());
        Self { stream }
    }

    /// Sends one text frame, masked as a client must.
    fn send(&mut self, text: &str) {
        let payload = text.as_bytes();
        let mut frame = vec![0x81u8];
        // The mask bit, then the length: in the byte itself below 126, else 126 and 16 bits or
        // 127 and 64 bits.
        let n = payload.len();
        if n < 126 {
            frame.push(0x80 | n as u8);
        } else if let Ok(n) = u16::try_from(n) {
            frame.push(0x80 | 0x7e);
            frame.extend_from_slice(&n.to_be_bytes());
        } else {
            frame.push(0x80 | 0x7f);
            frame.extend_from_slice(&(n as u64).to_be_bytes());
        }
        let mask = [0x1f, 0x2e, 0x3d, 0x4c];
        frame.extend_from_slice(&mask);
        frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        self.stream.write_all(&frame).unwrap();
    }

    /// Reads one whole text message (joining continuation frames).
    fn receive(&mut self) -> String {
        let mut message = Vec::new();
        loop {
            let mut head = [0u8; 2];
            self.stream.read_exact(&mut head).unwrap();
            let fin = head[0] & 0x80 != 0;
            let opcode = head[0] & 0x0f;
            let len = match head[1] & 0x7f {
                126 => {
                    let mut n = [0u8; 2];
                    self.stream.read_exact(&mut n).unwrap();
                    u64::from(u16::from_be_bytes(n))
                }
                127 => {
                    let mut n = [0u8; 8];
                    self.stream.read_exact(&mut n).unwrap();
                    u64::from_be_bytes(n)
                }
                n => u64::from(n),
            };
            let mut payload = vec![0u8; usize::try_from(len).unwrap()];
            self.stream.read_exact(&mut payload).unwrap();
            match opcode {
                0 | 1 => message.extend_from_slice(&payload),
                8 => panic!("the browser closed the DevTools connection"),
                // Pings and pongs: Chromium sends none unasked; nothing to answer.
                _ => continue,
            }
            if fin {
                return String::from_utf8(message).unwrap();
            }
        }
    }
}
