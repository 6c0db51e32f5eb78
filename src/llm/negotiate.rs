//! What an endpoint turns out to accept, learned once per process: which token-limit field and
//! which structured-output mode. A request whose 400 names the field it sent is sent again once
//! with the other choice, and every later request to that endpoint and model starts there.
//!
//! Where the starting choice is a guess (an endpoint that is not a preset's own), the first
//! request of the process goes alone: the others wait for its response head, so a refusal costs
//! one extra request, not one per section in flight.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock, Mutex, PoisonError};

use super::preset::{Choice, Structured, TokenParam};

/// The request fields that may be negotiated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fields {
    /// Which token-limit field goes out.
    pub token_param: TokenParam,
    /// Which `response_format`, if any.
    pub structured: Structured,
}

/// Which field a 400 refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// The token-limit field.
    TokenParam,
    /// `response_format`.
    Structured,
}

/// The choices and what is known of them for one endpoint and model.
#[derive(Debug)]
pub struct Negotiation {
    fields: Mutex<Fields>,
    token_fixed: bool,
    structured_fixed: bool,
    /// A request with the current fields got a successful response head.
    settled: AtomicBool,
    /// Whether to send a probe alone before the rest (the starting choice is a guess).
    probe: bool,
    gate: tokio::sync::Mutex<()>,
}

/// The process-wide table, keyed by endpoint URL and model.
static LEARNED: LazyLock<Mutex<HashMap<String, Arc<Negotiation>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

impl Negotiation {
    /// The negotiation for `url` and `model`, shared with every other provider of the process.
    /// `start` is what to try first; a `Fixed` choice never changes; `guess` says the starting
    /// choices are not known to fit this endpoint.
    pub fn shared(
        url: &str,
        model: &str,
        token: Choice<TokenParam>,
        structured: Choice<Structured>,
        start: Fields,
        guess: bool,
    ) -> Arc<Self> {
        let key = format!("{url}\n{model}\n{token:?}\n{structured:?}\n{guess}");
        let mut table = LEARNED.lock().unwrap_or_else(PoisonError::into_inner);
        table
            .entry(key)
            .or_insert_with(|| Arc::new(Self::new(token, structured, start, guess)))
            .clone()
    }

    /// A negotiation of its own (tests, or one that must not be shared).
    pub fn new(
        token: Choice<TokenParam>,
        structured: Choice<Structured>,
        start: Fields,
        guess: bool,
    ) -> Self {
        let fields = Fields {
            token_param: match token {
                Choice::Fixed(t) => t,
                Choice::Auto => start.token_param,
            },
            structured: match structured {
                Choice::Fixed(s) => s,
                Choice::Auto => start.structured,
            },
        };
        let token_fixed = matches!(token, Choice::Fixed(_));
        let structured_fixed = matches!(structured, Choice::Fixed(_));
        Self {
            fields: Mutex::new(fields),
            token_fixed,
            structured_fixed,
            settled: AtomicBool::new(false),
            probe: guess && !(token_fixed && structured_fixed),
            gate: tokio::sync::Mutex::new(()),
        }
    }

    /// The fields to send now.
    pub fn fields(&self) -> Fields {
        *self.fields.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits, while the first request probes the endpoint, and returns the guard that the
    /// probing request holds until its response head (`None`: no need to wait).
    pub async fn admit(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        if !self.probe || self.settled.load(Ordering::Acquire) {
            return None;
        }
        let guard = self.gate.lock().await;
        if self.settled.load(Ordering::Acquire) {
            return None;
        }
        Some(guard)
    }

    /// A response head came back successful for `sent`.
    pub fn accepted(&self, sent: Fields) {
        if self.fields() == sent {
            self.settled.store(true, Ordering::Release);
        }
    }

    /// The probe failed for a reason that says nothing about the fields (no answer, a 5xx, a
    /// 401): nobody waits behind it any longer; a refusal, if one comes, is still learned.
    pub fn stop_probing(&self) {
        self.settled.store(true, Ordering::Release);
    }

    /// Whether `body` (a 400's text) refuses a field of `sent` that may change; if so, the
    /// choice moves on (once, however many requests saw the same refusal) and the field is named.
    pub fn refused(&self, sent: Fields, body: &str) -> Option<Refused> {
        let refused = refusal(sent, body, self.token_fixed, self.structured_fixed)?;
        let mut fields = self.fields.lock().unwrap_or_else(PoisonError::into_inner);
        match refused {
            Refused::TokenParam if fields.token_param == sent.token_param => {
                fields.token_param = sent.token_param.other();
            }
            Refused::Structured if fields.structured == sent.structured => {
                fields.structured = sent.structured.step_down();
            }
            Refused::TokenParam | Refused::Structured => {}
        }
        tracing::info!(?refused, now = ?*fields, "the endpoint refused a field; trying the next");
        Some(refused)
    }
}

/// Which field of `sent` a 400 body refuses, if it names one that may change.
fn refusal(sent: Fields, body: &str, token_fixed: bool, structured_fixed: bool) -> Option<Refused> {
    let text = body.to_ascii_lowercase();
    let objects = [
        "unsupported",
        "not supported",
        "unrecognized",
        "unknown",
        "not permitted",
        "extra_forbidden",
        "not allowed",
        "invalid",
        "must be",
    ]
    .iter()
    .any(|w| text.contains(w));
    if !objects {
        return None;
    }
    let token_named = match sent.token_param {
        // "max_tokens" is not part of "max_completion_tokens", so this names the field we sent.
        TokenParam::MaxTokens => {
            text.contains("max_tokens") && !text.contains("'max_tokens' instead")
        }
        TokenParam::MaxCompletionTokens => {
            text.contains("max_completion_tokens")
                && !text.contains("'max_completion_tokens' instead")
        }
    };
    if token_named && !token_fixed {
        return Some(Refused::TokenParam);
    }
    let format_named = text.contains("response_format")
        || text.contains("json_schema")
        || text.contains("json_object");
    if format_named && !structured_fixed && sent.structured != Structured::Off {
        return Some(Refused::Structured);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPENAI_400: &str = r#"{"error":{"message":"Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.","type":"invalid_request_error","param":"max_tokens","code":"unsupported_parameter"}}"#;
    const VLLM_400: &str = r#"{"object":"error","message":"[{'type': 'extra_forbidden', 'loc': ('body', 'max_completion_tokens'), 'msg': 'Extra inputs are not permitted', 'input': 4096}]","type":"BadRequestError","param":null,"code":400}"#;
    const LMSTUDIO_400: &str =
        r#"{"error":"'response_format.type' must be 'json_schema' or 'text'"}"#;
    const SCHEMA_400: &str = r#"{"error":{"message":"Invalid parameter: 'response_format' of type 'json_schema' is not supported with this model.","type":"invalid_request_error","param":null,"code":null}}"#;

    fn start(token_param: TokenParam, structured: Structured) -> Fields {
        Fields {
            token_param,
            structured,
        }
    }

    #[test]
    fn refusals_name_the_field_that_was_sent() {
        let mt = start(TokenParam::MaxTokens, Structured::JsonSchema);
        let mct = start(TokenParam::MaxCompletionTokens, Structured::JsonObject);
        assert_eq!(
            refusal(mt, OPENAI_400, false, false),
            Some(Refused::TokenParam)
        );
        // OpenAI's message names max_completion_tokens as the way out, not as refused.
        assert_eq!(refusal(mct, OPENAI_400, false, false), None);
        assert_eq!(
            refusal(mct, VLLM_400, false, false),
            Some(Refused::TokenParam)
        );
        assert_eq!(
            refusal(mct, LMSTUDIO_400, false, false),
            Some(Refused::Structured)
        );
        assert_eq!(
            refusal(mt, SCHEMA_400, false, false),
            Some(Refused::Structured)
        );
        // A fixed choice is the user's: it is never changed behind their back.
        assert_eq!(refusal(mt, OPENAI_400, true, false), None);
        assert_eq!(
            refusal(mt, r#"{"error":"model not found"}"#, false, false),
            None
        );
    }

    #[test]
    fn a_refusal_moves_the_choice_once_for_everyone() {
        let n = Negotiation::new(
            Choice::Auto,
            Choice::Auto,
            start(TokenParam::MaxTokens, Structured::JsonSchema),
            true,
        );
        let sent = n.fields();
        // Two requests in flight saw the same refusal: the choice moves once, not back again.
        assert_eq!(n.refused(sent, OPENAI_400), Some(Refused::TokenParam));
        assert_eq!(n.refused(sent, OPENAI_400), Some(Refused::TokenParam));
        assert_eq!(n.fields().token_param, TokenParam::MaxCompletionTokens);
        assert_eq!(n.refused(n.fields(), SCHEMA_400), Some(Refused::Structured));
        assert_eq!(n.fields().structured, Structured::JsonObject);
    }

    #[tokio::test]
    async fn only_a_guess_is_probed_and_only_until_it_is_accepted() {
        let fields = start(TokenParam::MaxTokens, Structured::Off);
        let known = Negotiation::new(Choice::Auto, Choice::Auto, fields, false);
        assert!(known.admit().await.is_none());
        let guess = Negotiation::new(Choice::Auto, Choice::Auto, fields, true);
        let probe = guess.admit().await;
        assert!(probe.is_some());
        guess.accepted(fields);
        drop(probe);
        assert!(guess.admit().await.is_none(), "settled: nobody waits");
        let fixed = Negotiation::new(
            Choice::Fixed(TokenParam::MaxTokens),
            Choice::Fixed(Structured::Off),
            fields,
            true,
        );
        assert!(fixed.admit().await.is_none());
    }
}
