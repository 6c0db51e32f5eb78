//! A Server-Sent Events decoder for chat-completions streams: bytes in, `data` payloads out.
//!
//! Tolerant of what real servers send: `data:` with or without a space, comment lines
//! (`: keep-alive`), `event:`/`id:`/`retry:` fields, CRLF, LF or CR line endings, and events split
//! anywhere across network chunks. Multi-line `data` fields are joined with `\n`, per the spec.

/// Incremental SSE decoder.
#[derive(Debug, Default)]
pub struct SseDecoder {
    /// Bytes of an unfinished line.
    line: Vec<u8>,
    /// `data` lines of the event being built.
    data: Option<String>,
    /// The last byte seen was `\r` (so a following `\n` belongs to the same line ending).
    after_cr: bool,
}

impl SseDecoder {
    /// A decoder at the start of a stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds `bytes`; calls `on_data` with the payload of every event they complete.
    pub fn feed(&mut self, bytes: &[u8], mut on_data: impl FnMut(String)) {
        let mut start = 0;
        for (i, &b) in bytes.iter().enumerate() {
            match b {
                b'\n' if self.after_cr => {
                    self.after_cr = false;
                    start = i + 1;
                }
                b'\n' | b'\r' => {
                    self.line.extend_from_slice(&bytes[start..i]);
                    self.end_line(&mut on_data);
                    self.after_cr = b == b'\r';
                    start = i + 1;
                }
                _ => self.after_cr = false,
            }
        }
        self.line.extend_from_slice(&bytes[start..]);
    }

    /// Bytes held for an event or line that has not ended yet.
    pub fn pending_len(&self) -> usize {
        self.line.len() + self.data.as_ref().map_or(0, String::len)
    }

    fn end_line(&mut self, on_data: &mut impl FnMut(String)) {
        let line = std::mem::take(&mut self.line);
        if line.is_empty() {
            if let Some(data) = self.data.take() {
                on_data(data);
            }
            return;
        }
        if line[0] == b':' {
            return; // a comment, e.g. a keep-alive
        }
        let (field, value) = match line.iter().position(|&b| b == b':') {
            Some(i) => {
                let v = &line[i + 1..];
                (&line[..i], v.strip_prefix(b" ").unwrap_or(v))
            }
            None => (&line[..], &[][..]),
        };
        if field == b"data" {
            let value = String::from_utf8_lossy(value);
            match &mut self.data {
                Some(d) => {
                    d.push('\n');
                    d.push_str(&value);
                }
                None => self.data = Some(value.into_owned()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(chunks: &[&[u8]]) -> Vec<String> {
        let mut d = SseDecoder::new();
        let mut out = Vec::new();
        for c in chunks {
            d.feed(c, |s| out.push(s));
        }
        out
    }

    #[test]
    fn plain_events() {
        assert_eq!(
            decode(&[b"data: {\"a\":1}\n\ndata: [DONE]\n\n"]),
            ["{\"a\":1}", "[DONE]"]
        );
    }

    #[test]
    fn no_space_comments_crlf_and_other_fields() {
        assert_eq!(
            decode(&[b": keep-alive\r\n\r\nevent: x\r\nid: 3\r\ndata:{\"b\":2}\r\n\r\n"]),
            ["{\"b\":2}"]
        );
        assert_eq!(decode(&[b"data: one\r\rdata: two\r\r"]), ["one", "two"]);
    }

    #[test]
    fn split_anywhere_including_between_cr_and_lf() {
        let whole = b"data: hello\r\n\r\ndata: wor\r\ndata: ld\r\n\r\n";
        for cut in 0..whole.len() {
            let (a, b) = whole.split_at(cut);
            assert_eq!(decode(&[a, b]), ["hello", "wor\nld"], "cut at {cut}");
        }
    }

    #[test]
    fn an_unfinished_event_is_held_and_not_emitted() {
        let mut d = SseDecoder::new();
        let mut out = Vec::new();
        d.feed(b"data: {\"half\"", |s| out.push(s));
        assert!(out.is_empty());
        assert_eq!(d.pending_len(), "data: {\"half\"".len(), "the line so far");
        d.feed(b": 1}\n", |s| out.push(s));
        assert!(out.is_empty());
        assert_eq!(
            d.pending_len(),
            "{\"half\": 1}".len(),
            "the event's data so far"
        );
        d.feed(b"\n", |s| out.push(s));
        assert_eq!(out, ["{\"half\": 1}"]);
        assert_eq!(d.pending_len(), 0);
    }

    #[test]
    fn utf8_split_across_chunks_survives() {
        let whole = "data: 豐 thunder\n\n".as_bytes();
        for cut in 0..whole.len() {
            let (a, b) = whole.split_at(cut);
            assert_eq!(decode(&[a, b]), ["豐 thunder"], "cut at {cut}");
        }
    }
}
