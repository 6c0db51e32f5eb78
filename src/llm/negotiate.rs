//! What an endpoint turns out to accept, learned from what it says when it refuses. Every field a
//! request carries that a server may not know has a fallback: `response_format` json_schema →
//! json_object → none, `stream_options` → none, `max_completion_tokens` ↔ `max_tokens`,
//! `reasoning_effort` → none.
//!
//! A refusal is recognised by what the server says, not by one status code: a 400, 404, 422, 500
//! or 501 whose body names a field or value that was sent (OpenAI's `error.message` and `param`,
//! FastAPI's `detail[].loc`, pydantic's text, plain text) steps that field down, and the request
//! goes again at once without spending an attempt. Where such a status names nothing and the
//! request carried optional fields, one resend without them tells the two apart: if that one is
//! taken, the fields were refused (a 5xx must do so twice, since a 5xx may be a passing fault).
//!
//! What is learned holds for every request to that endpoint and model in the process, and is
//! remembered across runs ([`super::memory`]) for a while: a server upgraded later is tried with
//! the richer fields again. Where the starting choice is a guess (nothing remembered, not a
//! preset's own endpoint), the first request goes alone: the others wait for its response head,
//! so a refusal costs one extra request, not one per section in flight.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock, Mutex, PoisonError};

use serde::{Deserialize, Serialize};

use super::preset::{Choice, Structured, TokenParam};

/// The request fields that may be negotiated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Fields {
    /// Which token-limit field goes out.
    pub token_param: TokenParam,
    /// Which `response_format`, if any.
    pub structured: Structured,
    /// Whether a streamed request asks for usage with `stream_options`.
    #[serde(default = "yes")]
    pub stream_options: bool,
    /// Whether `reasoning_effort` goes out (when one is configured).
    #[serde(default = "yes")]
    pub reasoning: bool,
}

fn yes() -> bool {
    true
}

impl Fields {
    /// `token_param` and `structured`, with the optional extras on.
    pub fn new(token_param: TokenParam, structured: Structured) -> Self {
        Self {
            token_param,
            structured,
            stream_options: true,
            reasoning: true,
        }
    }
}

/// Which field a refusal named.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    /// The token-limit field.
    TokenParam,
    /// `response_format`.
    Structured,
    /// `stream_options`.
    StreamOptions,
    /// `reasoning_effort`.
    Reasoning,
}

impl Field {
    /// Every field, in the order the doctor lists them.
    pub const ALL: [Field; 4] = [
        Field::TokenParam,
        Field::Structured,
        Field::StreamOptions,
        Field::Reasoning,
    ];

    /// The request field's name.
    pub fn name(self) -> &'static str {
        match self {
            Field::TokenParam => "token limit",
            Field::Structured => "response_format",
            Field::StreamOptions => "stream_options",
            Field::Reasoning => "reasoning_effort",
        }
    }
}

/// What a failed response says about the fields it was sent with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// It names this field (or its value): step it down and send again.
    Named(Field),
    /// It names nothing, but the request carried optional fields: send once more with these
    /// (the same, without them) to tell a refusal from a fault.
    Unnamed(Fields),
}

/// What became of one field: for the doctor's lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// Which field.
    pub field: Field,
    /// What was sent and refused ("json_schema").
    pub from: String,
    /// What goes now instead ("json_object", "none").
    pub to: String,
    /// The HTTP status of the refusal.
    pub status: u16,
    /// What the server said (cleaned, short), or why it was concluded.
    pub said: String,
}

/// Where the current fields come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Known {
    /// A request with them was taken (this run, or remembered from an earlier one).
    Accepted,
    /// Not yet known: nothing sent yet.
    Untried,
}

/// The choices and what is known of them for one endpoint and model.
#[derive(Debug)]
pub struct Negotiation {
    fields: Mutex<Fields>,
    token_fixed: bool,
    structured_fixed: bool,
    /// A request with the current fields got a successful response head.
    settled: AtomicBool,
    /// The probe is over (accepted, or failed for a reason that says nothing of the fields):
    /// nobody waits behind it.
    probed: AtomicBool,
    /// The token-limit field was stepped once: it never steps back (a value error that names the
    /// field would flip it to and fro).
    token_stepped: AtomicBool,
    /// Whether to send a probe alone before the rest (the starting choice is a guess).
    probe: bool,
    gate: tokio::sync::Mutex<()>,
    /// What was stepped down, in order.
    steps: Mutex<Vec<Step>>,
    /// Keeps what is learned for the next run.
    remember: Option<Remember>,
}

/// Keeps the fields an endpoint and model were found to take (across runs: `llm::memory`).
#[derive(Clone)]
pub struct Remember(pub Arc<dyn Fn(Fields) + Send + Sync>);

impl std::fmt::Debug for Remember {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Remember")
    }
}

/// The process-wide table, keyed by endpoint URL and model.
static LEARNED: LazyLock<Mutex<HashMap<String, Arc<Negotiation>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// How one negotiation starts.
#[derive(Debug, Clone)]
pub struct Start {
    /// The user's token-limit choice.
    pub token: Choice<TokenParam>,
    /// The user's structured-output choice.
    pub structured: Choice<Structured>,
    /// What `Auto` choices start from.
    pub fields: Fields,
    /// Whether `fields` is a guess for this endpoint.
    pub guess: bool,
}

impl Negotiation {
    /// The negotiation for `url` and `model`, shared with every other provider of the process,
    /// starting from what was `remembered` of them (if anything) and keeping what it learns with
    /// `remember`.
    pub fn shared(
        url: &str,
        model: &str,
        start: &Start,
        remembered: Option<Fields>,
        remember: Option<Remember>,
    ) -> Arc<Self> {
        let key = format!(
            "{url}\n{model}\n{:?}\n{:?}\n{:?}\n{}",
            start.token, start.structured, start.fields, start.guess
        );
        let mut table = LEARNED.lock().unwrap_or_else(PoisonError::into_inner);
        table
            .entry(key)
            .or_insert_with(|| {
                let mut n = Self::new(start, remembered);
                n.remember = remember;
                Arc::new(n)
            })
            .clone()
    }

    /// A negotiation of its own (tests, or one that must not be shared), starting from what was
    /// `remembered` of the endpoint where that is given.
    pub fn new(start: &Start, remembered: Option<Fields>) -> Self {
        let token_fixed = matches!(start.token, Choice::Fixed(_));
        let structured_fixed = matches!(start.structured, Choice::Fixed(_));
        let base = remembered.unwrap_or(start.fields);
        let fields = Fields {
            token_param: match start.token {
                Choice::Fixed(t) => t,
                Choice::Auto => base.token_param,
            },
            structured: match start.structured {
                Choice::Fixed(s) => s,
                Choice::Auto => base.structured,
            },
            stream_options: base.stream_options,
            reasoning: base.reasoning,
        };
        let guess = start.guess && remembered.is_none();
        Self {
            fields: Mutex::new(fields),
            token_fixed,
            structured_fixed,
            settled: AtomicBool::new(remembered.is_some()),
            probed: AtomicBool::new(remembered.is_some()),
            token_stepped: AtomicBool::new(false),
            probe: guess && !(token_fixed && structured_fixed),
            gate: tokio::sync::Mutex::new(()),
            steps: Mutex::new(Vec::new()),
            remember: None,
        }
    }

    /// The fields to send now.
    pub fn fields(&self) -> Fields {
        *self.fields.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether the current fields have been taken by the endpoint.
    pub fn known(&self) -> Known {
        if self.settled.load(Ordering::Acquire) {
            Known::Accepted
        } else {
            Known::Untried
        }
    }

    /// What was stepped down so far, in order.
    pub fn steps(&self) -> Vec<Step> {
        self.steps
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Waits, while the first request probes the endpoint, and returns the guard that the
    /// probing request holds until its response head (`None`: no need to wait). `waiting` is
    /// called if this request has to wait for another's probe.
    pub async fn admit(&self, waiting: impl FnOnce()) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        if !self.probe || self.probed.load(Ordering::Acquire) {
            return None;
        }
        let guard = if let Ok(guard) = self.gate.try_lock() {
            guard
        } else {
            waiting();
            self.gate.lock().await
        };
        if self.probed.load(Ordering::Acquire) {
            return None;
        }
        Some(guard)
    }

    /// A response head came back successful for `sent`.
    pub fn accepted(&self, sent: Fields) {
        let fields = self.fields.lock().unwrap_or_else(PoisonError::into_inner);
        if *fields != sent {
            // A resend without the optional fields was taken after a refusal that named
            // nothing: those fields were the trouble. (Any other mismatch is a request sent
            // before a step down, which says nothing new.)
            return;
        }
        self.probed.store(true, Ordering::Release);
        let first = !self.settled.swap(true, Ordering::AcqRel);
        let now = *fields;
        drop(fields);
        if first && let Some(remember) = &self.remember {
            (remember.0)(now);
        }
    }

    /// The resend without optional fields (`bare`, after an unnamed refusal of `sent` with
    /// `status`) was taken: the optional fields that may change are dropped for everyone. (The
    /// caller resends bare after a 4xx at once, after a 5xx only when the same request met it
    /// twice: a passing fault once does not cost the schema.) Returns whether they were.
    pub fn bare_accepted(&self, sent: Fields, bare: Fields, status: u16, said: &str) -> bool {
        let mut fields = self.fields.lock().unwrap_or_else(PoisonError::into_inner);
        if *fields != sent {
            return false;
        }
        let mut steps = Vec::new();
        for field in Field::ALL {
            let (from, to) = (value(sent, field), value(bare, field));
            if from != to {
                steps.push(Step {
                    field,
                    from,
                    to,
                    status,
                    said: format!(
                        "HTTP {status} naming no field, and the same request without the \
                         optional fields was taken{}",
                        if said.is_empty() {
                            String::new()
                        } else {
                            format!(" ({said})")
                        }
                    ),
                });
            }
        }
        *fields = bare;
        drop(fields);
        self.settled.store(true, Ordering::Release);
        self.probed.store(true, Ordering::Release);
        tracing::info!(status, now = ?bare, "the endpoint refused the optional fields");
        self.steps
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend(steps);
        if let Some(remember) = &self.remember {
            (remember.0)(bare);
        }
        true
    }

    /// The probe failed for a reason that says nothing about the fields (no answer, a 401): nobody
    /// waits behind it any longer; a refusal, if one comes, is still learned.
    pub fn stop_probing(&self) {
        self.probed.store(true, Ordering::Release);
    }

    /// What a failed response (`status`, `body`) to a request with `sent` says about its fields:
    /// a field it names moves on (once, however many requests saw the same refusal).
    pub fn refused(&self, sent: Fields, status: u16, body: &str, said: &str) -> Option<Refused> {
        if !matches!(status, 400 | 404 | 422 | 500 | 501) {
            return None;
        }
        let changeable = |f: Field| match f {
            // Once stepped, only a request sent before the step is told to go again (with the
            // field as it is now); the field never steps back.
            Field::TokenParam => {
                !self.token_fixed
                    && (!self.token_stepped.load(Ordering::Acquire)
                        || self.fields().token_param != sent.token_param)
            }
            Field::Structured => !self.structured_fixed && sent.structured != Structured::Off,
            Field::StreamOptions => sent.stream_options,
            Field::Reasoning => sent.reasoning,
        };
        match named(sent, body) {
            Some(field) if changeable(field) => {
                let mut fields = self.fields.lock().unwrap_or_else(PoisonError::into_inner);
                if value(*fields, field) == value(sent, field) {
                    if field == Field::TokenParam {
                        self.token_stepped.store(true, Ordering::Release);
                    }
                    let stepped = step_down(*fields, field);
                    let step = Step {
                        field,
                        from: value(sent, field),
                        to: value(stepped, field),
                        status,
                        said: said.to_owned(),
                    };
                    *fields = stepped;
                    tracing::info!(?field, now = ?*fields, status, "the endpoint refused a field; trying the next");
                    drop(fields);
                    self.steps
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push(step);
                }
                Some(Refused::Named(field))
            }
            // A field it names that is the user's own choice stays; the error is the answer.
            Some(_) => None,
            None => {
                let bare = Fields {
                    token_param: sent.token_param,
                    structured: if self.structured_fixed {
                        sent.structured
                    } else {
                        Structured::Off
                    },
                    stream_options: false,
                    reasoning: false,
                };
                // Only what was sent can be dropped: a bare request that was refused is refused.
                let optional = Field::ALL
                    .into_iter()
                    .any(|f| f != Field::TokenParam && value(sent, f) != value(bare, f));
                (optional && status != 404).then_some(Refused::Unnamed(bare))
            }
        }
    }
}

/// How `field` reads in `fields`, for messages ("json_schema", "max_tokens", "sent", "none").
pub fn value(fields: Fields, field: Field) -> String {
    match field {
        Field::TokenParam => fields.token_param.field().to_owned(),
        Field::Structured => match fields.structured {
            Structured::Off => "none".to_owned(),
            s => s.as_str().to_owned(),
        },
        Field::StreamOptions => if fields.stream_options {
            "include_usage"
        } else {
            "none"
        }
        .to_owned(),
        Field::Reasoning => if fields.reasoning { "sent" } else { "none" }.to_owned(),
    }
}

/// `fields` with `field` one step down.
fn step_down(fields: Fields, field: Field) -> Fields {
    let mut f = fields;
    match field {
        Field::TokenParam => f.token_param = f.token_param.other(),
        Field::Structured => f.structured = f.structured.step_down(),
        Field::StreamOptions => f.stream_options = false,
        Field::Reasoning => f.reasoning = false,
    }
    f
}

/// Everything a refusal body says, as one lower-cased text: its message and `param` in the shapes
/// servers use (OpenAI's `error`, FastAPI's `detail` with `loc` paths joined by dots, a bare
/// `message`), else the body as it is.
fn said(body: &str) -> String {
    let Ok(value) = serde_json::from_str::<serde_json::Value>(body) else {
        return body.to_ascii_lowercase();
    };
    let mut out = String::new();
    collect(&value, &mut out, 0);
    out.to_ascii_lowercase()
}

fn collect(v: &serde_json::Value, out: &mut String, depth: usize) {
    if depth > 6 {
        return;
    }
    match v {
        serde_json::Value::String(s) => {
            out.push_str(s);
            out.push(' ');
        }
        serde_json::Value::Array(items) => {
            for item in items.iter().take(32) {
                collect(item, out, depth + 1);
            }
        }
        serde_json::Value::Object(map) => {
            for (k, item) in map {
                match (k.as_str(), item) {
                    // FastAPI's `loc`: ["body", "response_format", "type"] names
                    // `response_format.type`.
                    ("loc", serde_json::Value::Array(parts)) => {
                        let path: Vec<String> = parts
                            .iter()
                            .map(|p| match p {
                                serde_json::Value::String(s) => s.clone(),
                                other => other.to_string(),
                            })
                            .collect();
                        out.push_str(&path.join("."));
                        out.push(' ');
                    }
                    // The value a validator echoes back is what was sent, not what it refuses.
                    ("input" | "ctx" | "url", _) => {}
                    _ => collect(item, out, depth + 1),
                }
            }
        }
        serde_json::Value::Number(_) | serde_json::Value::Bool(_) | serde_json::Value::Null => {}
    }
}

/// Which field of `sent` a refusal body names, if any.
fn named(sent: Fields, body: &str) -> Option<Field> {
    let text = said(body);
    let mentions = |word: &str| {
        let mut from = 0;
        while let Some(i) = text[from..].find(word) {
            let at = from + i;
            let end = at + word.len();
            // OpenAI names the way out too: "Use 'max_completion_tokens' instead."
            let after = text[end..].trim_start_matches(['\'', '"', '`', ' ']);
            let before = &text[..at];
            let suggested = after.starts_with("instead")
                || before
                    .trim_end_matches(['\'', '"', '`', ' '])
                    .ends_with("use");
            // A longer name that holds this one ("max_tokens" in "max_completion_tokens" does
            // not, but guard against e.g. "max_tokens_per_x").
            let whole = !text[end..].starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
                && !before.ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_');
            if whole && !suggested {
                return true;
            }
            from = end;
        }
        false
    };
    let token = match sent.token_param {
        TokenParam::MaxTokens => mentions("max_tokens"),
        TokenParam::MaxCompletionTokens => mentions("max_completion_tokens"),
    };
    if token {
        return Some(Field::TokenParam);
    }
    if sent.structured != Structured::Off
        && (mentions("response_format")
            || mentions("response_format.type")
            || mentions("json_schema")
            || mentions("json_object"))
    {
        return Some(Field::Structured);
    }
    if sent.stream_options && (mentions("stream_options") || mentions("include_usage")) {
        return Some(Field::StreamOptions);
    }
    if sent.reasoning && mentions("reasoning_effort") {
        return Some(Field::Reasoning);
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
    /// llama-cpp-python's server at its defaults, to `response_format: json_schema` (HTTP 500).
    const PYDANTIC_500: &str = r#"{"error":{"message":"1 validation error for CreateChatCompletionRequest\nresponse_format.type\n  Input should be 'text' or 'json_object' [type=literal_error, input_value='json_schema', input_type=str]","type":"internal_server_error","param":null,"code":null}}"#;
    /// A FastAPI server's 422.
    const FASTAPI_422: &str = r#"{"detail":[{"type":"literal_error","loc":["body","response_format","type"],"msg":"Input should be 'text' or 'json_object'","input":"json_schema","ctx":{"expected":"'text' or 'json_object'"}}]}"#;
    /// Azure OpenAI's 400 to `stream_options` on an older api-version.
    const AZURE_400: &str = r#"{"error":{"message":"Unrecognized request argument supplied: stream_options","type":"invalid_request_error","param":null,"code":null}}"#;

    fn fields(token_param: TokenParam, structured: Structured) -> Fields {
        Fields::new(token_param, structured)
    }

    fn auto(start: Fields, guess: bool) -> Negotiation {
        Negotiation::new(
            &Start {
                token: Choice::Auto,
                structured: Choice::Auto,
                fields: start,
                guess,
            },
            None,
        )
    }

    #[test]
    fn refusals_name_the_field_that_was_sent_whatever_the_shape() {
        let mt = fields(TokenParam::MaxTokens, Structured::JsonSchema);
        let mct = fields(TokenParam::MaxCompletionTokens, Structured::JsonObject);
        assert_eq!(named(mt, OPENAI_400), Some(Field::TokenParam));
        // OpenAI's message names max_completion_tokens as the way out, not as refused.
        assert_eq!(named(mct, OPENAI_400), None);
        assert_eq!(named(mct, VLLM_400), Some(Field::TokenParam));
        assert_eq!(named(mct, LMSTUDIO_400), Some(Field::Structured));
        assert_eq!(named(mt, SCHEMA_400), Some(Field::Structured));
        assert_eq!(named(mt, PYDANTIC_500), Some(Field::Structured));
        assert_eq!(named(mt, FASTAPI_422), Some(Field::Structured));
        assert_eq!(named(mt, AZURE_400), Some(Field::StreamOptions));
        assert_eq!(
            named(mt, "Unknown field reasoning_effort"),
            Some(Field::Reasoning)
        );
        assert_eq!(named(mt, r#"{"error":"model not found"}"#), None);
        // What was not sent is not refused: a format never asked for cannot be.
        let plain = Fields {
            stream_options: false,
            ..fields(TokenParam::MaxTokens, Structured::Off)
        };
        assert_eq!(named(plain, FASTAPI_422), None);
        assert_eq!(named(plain, AZURE_400), None);
    }

    #[test]
    fn any_refusing_status_steps_the_field_down_and_a_fixed_choice_stays() {
        for (status, body) in [(500, PYDANTIC_500), (422, FASTAPI_422), (400, SCHEMA_400)] {
            let n = auto(fields(TokenParam::MaxTokens, Structured::JsonSchema), true);
            let sent = n.fields();
            assert_eq!(
                n.refused(sent, status, body, "x"),
                Some(Refused::Named(Field::Structured)),
                "{status}"
            );
            assert_eq!(n.fields().structured, Structured::JsonObject);
            assert_eq!(n.steps()[0].from, "json_schema");
            assert_eq!(n.steps()[0].to, "json_object");
            assert_eq!(n.steps()[0].status, status);
        }
        // 503 or 429 is load, never a refusal.
        let n = auto(fields(TokenParam::MaxTokens, Structured::JsonSchema), true);
        assert_eq!(n.refused(n.fields(), 503, PYDANTIC_500, ""), None);
        let fixed = Negotiation::new(
            &Start {
                token: Choice::Fixed(TokenParam::MaxTokens),
                structured: Choice::Fixed(Structured::JsonSchema),
                fields: fields(TokenParam::MaxTokens, Structured::JsonSchema),
                guess: true,
            },
            None,
        );
        let sent = fixed.fields();
        assert_eq!(fixed.refused(sent, 400, OPENAI_400, ""), None);
        assert_eq!(fixed.refused(sent, 500, PYDANTIC_500, ""), None);
        assert_eq!(fixed.fields(), sent);
    }

    #[test]
    fn a_refusal_moves_the_choice_once_for_everyone() {
        let n = auto(fields(TokenParam::MaxTokens, Structured::JsonSchema), true);
        let sent = n.fields();
        // Two requests in flight saw the same refusal: the choice moves once, not back again.
        assert!(n.refused(sent, 400, OPENAI_400, "").is_some());
        assert!(n.refused(sent, 400, OPENAI_400, "").is_some());
        assert_eq!(n.fields().token_param, TokenParam::MaxCompletionTokens);
        assert_eq!(n.steps().len(), 1);
        assert_eq!(
            n.refused(n.fields(), 400, SCHEMA_400, ""),
            Some(Refused::Named(Field::Structured))
        );
        assert_eq!(n.fields().structured, Structured::JsonObject);
        assert_eq!(
            n.refused(n.fields(), 400, AZURE_400, ""),
            Some(Refused::Named(Field::StreamOptions))
        );
        assert!(!n.fields().stream_options);
    }

    #[test]
    fn an_unnamed_refusal_is_told_from_a_fault_by_one_bare_resend() {
        let n = auto(fields(TokenParam::MaxTokens, Structured::JsonSchema), true);
        let sent = n.fields();
        let Some(Refused::Unnamed(bare)) = n.refused(sent, 400, "Bad Request", "") else {
            panic!("an unnamed 400 with optional fields asks for a bare resend");
        };
        assert_eq!(bare.structured, Structured::Off);
        assert!(!bare.stream_options);
        // A 4xx whose bare resend is taken: learned at once.
        assert!(n.bare_accepted(sent, bare, 400, ""));
        assert_eq!(n.fields(), bare);
        assert_eq!(n.known(), Known::Accepted);
        // A bare request refused is not a field refusal: nothing more to drop.
        assert_eq!(n.refused(bare, 400, "Bad Request", ""), None);
        // The token field steps once and never back: a value error naming it again is the
        // error, not a refusal.
        let n = auto(fields(TokenParam::MaxTokens, Structured::Off), true);
        assert!(n.refused(n.fields(), 400, OPENAI_400, "").is_some());
        let too_large = r#"{"error":{"message":"max_completion_tokens is too large: 5000000","param":"max_completion_tokens"}}"#;
        assert_eq!(n.refused(n.fields(), 400, too_large, ""), None);
        assert_eq!(n.fields().token_param, TokenParam::MaxCompletionTokens);
    }

    #[tokio::test]
    async fn only_a_guess_is_probed_and_only_until_it_is_accepted() {
        let start = Fields::new(TokenParam::MaxTokens, Structured::Off);
        let known = auto(start, false);
        assert!(known.admit(|| {}).await.is_none());
        let guess = auto(start, true);
        let probe = guess.admit(|| {}).await;
        assert!(probe.is_some());
        guess.accepted(start);
        drop(probe);
        assert!(guess.admit(|| {}).await.is_none(), "settled: nobody waits");
        // What is remembered is not a guess: no probe, and it is where the choice starts.
        let remembered = Fields {
            stream_options: false,
            ..Fields::new(TokenParam::MaxTokens, Structured::JsonObject)
        };
        let from_memory = Negotiation::new(
            &Start {
                token: Choice::Auto,
                structured: Choice::Auto,
                fields: Fields::new(TokenParam::MaxTokens, Structured::JsonSchema),
                guess: true,
            },
            Some(remembered),
        );
        assert!(from_memory.admit(|| {}).await.is_none());
        assert_eq!(from_memory.fields(), remembered);
        assert_eq!(from_memory.known(), Known::Accepted);
    }
}
