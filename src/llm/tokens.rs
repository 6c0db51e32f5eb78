//! Token estimates with tiktoken (o200k_base), for endpoints that report no usage, for the offline
//! provider, and for the tokens-per-minute budget before a request is sent.

use std::sync::OnceLock;

use tiktoken_rs::CoreBPE;

use crate::plan::ChatMessage;

#[allow(
    clippy::expect_used,
    reason = "tiktoken-rs embeds o200k_base; loading it cannot fail at run time"
)]
fn bpe() -> &'static CoreBPE {
    static BPE: OnceLock<CoreBPE> = OnceLock::new();
    BPE.get_or_init(|| tiktoken_rs::o200k_base().expect("tiktoken-rs ships o200k_base"))
}

/// Tokens in `text`.
pub fn count(text: &str) -> u32 {
    u32::try_from(bpe().encode_ordinary(text).len()).unwrap_or(u32::MAX)
}

/// Tokens a chat request's messages take, with the usual per-message overhead of 3 tokens and 3
/// for the reply's priming (as OpenAI's cookbook counts them).
pub fn count_messages(messages: &[ChatMessage]) -> u32 {
    messages
        .iter()
        .map(|m| 3 + count(&m.role) + count(&m.content))
        .sum::<u32>()
        + 3
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_grow_with_text_and_include_overhead() {
        assert_eq!(count(""), 0);
        assert!(count("hello world") >= 2);
        assert!(count(&"thunder and fire ".repeat(100)) > count("thunder and fire") * 50);
        let one = vec![ChatMessage {
            role: "user".into(),
            content: "hi".into(),
        }];
        assert_eq!(count_messages(&one), 3 + count("user") + count("hi") + 3);
    }
}
