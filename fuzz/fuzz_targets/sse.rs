//! The SSE decoder (`iching::llm::sse::SseDecoder`), fed a stream in chunks the fuzzer chooses.
//!
//! Input: one byte `n`, then `n % 8` chunk lengths (one byte each, cycled; 0 feeds an empty
//! chunk), then the stream. With `n % 8 == 0` the stream is fed whole.
//!
//! Checked: the events (and what is left pending) do not depend on where the stream was cut, and
//! they are exactly what a plain reading of the SSE spec's line rules gives (`reference`).
#![no_main]

use iching::llm::sse::SseDecoder;
use libfuzzer_sys::fuzz_target;

/// What feeding `chunks` in order gives: the events and `pending_len`.
fn decode<'a>(chunks: impl Iterator<Item = &'a [u8]>) -> (Vec<String>, usize) {
    let mut d = SseDecoder::new();
    let mut out = Vec::new();
    for c in chunks {
        d.feed(c, |s| out.push(s));
    }
    (out, d.pending_len())
}

/// The same, from the whole stream at once, written independently: lines end at CRLF, LF or a
/// lone CR; a blank line ends an event; `:` starts a comment; `data` values (one leading space
/// dropped, bytes decoded lossily line by line) are joined with `\n`; other fields are ignored.
fn reference(stream: &[u8]) -> (Vec<String>, usize) {
    let mut events = Vec::new();
    let mut data: Option<String> = None;
    let mut rest = stream;
    while let Some(end) = rest.iter().position(|&b| b == b'\r' || b == b'\n') {
        let line = &rest[..end];
        let skip = if rest[end] == b'\r' && rest.get(end + 1) == Some(&b'\n') {
            2
        } else {
            1
        };
        rest = &rest[end + skip..];
        if line.is_empty() {
            if let Some(d) = data.take() {
                events.push(d);
            }
            continue;
        }
        if line[0] == b':' {
            continue;
        }
        let (field, value) = match line.iter().position(|&b| b == b':') {
            Some(i) => {
                let v = &line[i + 1..];
                (&line[..i], v.strip_prefix(b" ").unwrap_or(v))
            }
            None => (line, &b""[..]),
        };
        if field == b"data" {
            let v = String::from_utf8_lossy(value);
            match &mut data {
                Some(d) => {
                    d.push('\n');
                    d.push_str(&v);
                }
                None => data = Some(v.into_owned()),
            }
        }
    }
    // A stream ending in CR has ended its line; the LF that may follow belongs to it, and it is
    // the decoder's job (checked by cutting there) to swallow it.
    let pending = rest.len() + data.as_ref().map_or(0, String::len);
    (events, pending)
}

fuzz_target!(|input: &[u8]| {
    let Some((&n, rest)) = input.split_first() else {
        return;
    };
    let k = usize::from(n % 8).min(rest.len());
    let (lens, stream) = rest.split_at(k);

    let whole = decode(std::iter::once(stream));
    assert_eq!(
        whole,
        reference(stream),
        "the decoder and the spec disagree"
    );
    for event in &whole.0 {
        assert!(!event.contains('\r'), "an event kept a CR: {event:?}");
    }

    // Cut where the fuzzer said, cycling its lengths.
    let mut chunks = Vec::new();
    let mut at = 0;
    for &len in lens
        .iter()
        .cycle()
        .take(if lens.is_empty() { 0 } else { 4096 })
    {
        if at >= stream.len() {
            break;
        }
        let end = (at + usize::from(len)).min(stream.len());
        chunks.push(&stream[at..end]);
        at = end;
    }
    chunks.push(&stream[at..]);
    let cut = decode(chunks.iter().copied());
    assert_eq!(whole, cut, "cutting the stream changed what it decodes to");

    // One byte at a time: every cut point at once (short streams only, to keep it quick).
    if stream.len() <= 512 {
        let bytes = decode(stream.chunks(1));
        assert_eq!(
            whole, bytes,
            "byte-by-byte feeding changed what it decodes to"
        );
    }
});
