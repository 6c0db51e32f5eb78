//! What streams is what is saved (`iching::answer::StreamView`): any answer, split into deltas
//! anywhere, shown as it arrives and ended on the saved answer.
//!
//! Input: a byte `n`, then the answer (lossy UTF-8), cut into pieces of `n % 64 + 1` characters.
//!
//! Checked: nothing panics; a paragraph once shown is never shown again or taken back before the
//! end; at the end, what is on screen is the saved answer (`parse_response` of the whole text),
//! paragraph for paragraph, whether it was reached by showing the rest or by showing it again.
#![no_main]

use iching::answer::{Ending, StreamView, parse_response};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&n, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    let chars: Vec<char> = text.chars().collect();
    let mut view = StreamView::new();
    let mut screen = Vec::new();
    for piece in chars.chunks(usize::from(n % 64) + 1) {
        let piece: String = piece.iter().collect();
        let new = view.push(&piece);
        screen.extend(new);
        assert_eq!(view.shown(), &screen[..], "shown is what was printed");
    }
    let saved = parse_response(&text);
    match view.finish(&saved) {
        Ending::More(rest) => screen.extend(rest),
        Ending::Again(all) => screen = all,
    }
    assert_eq!(screen, saved, "the end on screen is the saved answer");
    assert_eq!(view.shown(), &saved[..]);
});
