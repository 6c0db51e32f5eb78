//! The `openai` provider: any OpenAI-compatible chat-completions endpoint (OpenAI, OpenRouter,
//! Groq, Gemini, Anthropic, Ollama, llama.cpp, LM Studio, vLLM), streaming by default.
//!
//! One pooled reqwest client (rustls, no redirects) serves the whole process. Each section is one
//! request with up to `max_attempts` attempts: 408, 409, 429 (but not `insufficient_quota`), 5xx,
//! connection errors, timeouts, dropped, truncated or malformed streams, and answers that are not
//! an answer (see `answer::quality`) are retried after the server's Retry-After (within limits)
//! or a full-jitter backoff; other 4xx never are. The token-limit field and the structured-output
//! mode are negotiated with the endpoint (`negotiate`).
//!
//! Every attempt has three clocks: an overall deadline, a limit on the wait for the first token
//! (time queued at a one-slot server included), and a limit between pieces of new text after it.
//! Bytes that carry no text (keep-alives, empty deltas) are not progress. The answer is capped
//! by what `max_tokens` allows, and cut the moment it passes the cap. A stream is complete only
//! with a finish reason: a bare `[DONE]` is a stream cut short.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use futures_util::StreamExt;
use reqwest::header::{CONTENT_TYPE, LOCATION};
use tokio::time::{Instant, timeout_at};

use super::capacity::{Capacity, Initial, Slot};
use super::limiter::Limiter;
use super::memory::Memory;
use super::negotiate::{Fields, Negotiation, Refused, Remember, Start};
use super::preset::{Choice, Structured, TokenParam};
use super::redact::{StreamRedactor, redact_key, redacted_url};
use super::retry::{MAX_RETRY_AFTER, MAX_TOTAL_WAIT, backoff, retry_after};
use super::sse::SseDecoder;
use super::wire::{ApiError, ApiUsage, ModelList, RequestBody, StreamChunk, WholeResponse};
use super::{
    BoxFuture, Completion, ErrorKind, Provider, ProviderError, ProviderInfo, SectionRequest, tokens,
};
use crate::answer::{quality, sanitize_inline};
use crate::events::{EventKind, Hold, Progress, Usage};
use crate::model::Secret;

/// Bytes of answer allowed per token of `max_tokens` (JSON escapes of non-Latin text take up to
/// six bytes a character), plus a fixed slack.
const BYTES_PER_TOKEN: usize = 8;
const ANSWER_SLACK: usize = 16 << 10;
/// The most answer any request may bring, whatever `max_tokens` says: far beyond any reading's
/// section (a few KiB), small enough that a server streaming without end costs little memory.
pub const MAX_ANSWER_BYTES: usize = 4 << 20;

/// How to reach and use the endpoint.
#[derive(Debug, Clone)]
pub struct OpenAiConfig {
    /// Base URL, e.g. `https://api.openai.com/v1` (no trailing slash needed).
    pub base_url: String,
    /// Sent as a bearer token when not empty; never logged or shown.
    pub api_key: Secret,
    /// The environment variable the key came from, for the hint on a 401 (never the key).
    pub key_env: Option<String>,
    /// Model name.
    pub model: String,
    /// Use SSE streaming.
    pub stream: bool,
    /// Which token-limit field to send.
    pub token_param: Choice<TokenParam>,
    /// Which structured-output mode to ask for.
    pub structured: Choice<Structured>,
    /// What `Auto` choices start from.
    pub start: Fields,
    /// Whether `start` is a guess for this endpoint (then the first request probes alone).
    pub guess: bool,
    /// Sent as `reasoning_effort` when set.
    pub reasoning_effort: Option<String>,
    /// How long without new answer text, once it has begun, before an attempt counts as stalled.
    pub read_timeout: Duration,
    /// How long an attempt may wait for its first token.
    pub first_token_timeout: Duration,
    /// How long one attempt may take in all.
    pub request_timeout: Duration,
    /// Attempts per section, counting the first.
    pub max_attempts: u32,
    /// How many requests the endpoint is known to serve at once, if it is.
    pub capacity: Initial,
    /// Whether to ask the server how many it serves (`/props`) before the first request.
    pub probe_props: bool,
    /// What to say when nothing listens at the address ("is Ollama running? ...").
    pub start_hint: Option<String>,
    /// Where what is learned of endpoints is kept across runs.
    pub memory: Option<Arc<Memory>>,
}

impl OpenAiConfig {
    /// A config for `base_url` and `model` with the defaults of an unknown local endpoint:
    /// `max_tokens`, no structured output, streaming, 60 s between chunks.
    pub fn new(base_url: impl Into<String>, model: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            api_key: Secret::default(),
            key_env: None,
            model: model.into(),
            stream: true,
            token_param: Choice::Fixed(TokenParam::MaxTokens),
            structured: Choice::Fixed(Structured::Off),
            start: Fields::new(TokenParam::MaxTokens, Structured::Off),
            guess: false,
            reasoning_effort: None,
            read_timeout: Duration::from_secs(60),
            first_token_timeout: Duration::from_secs(60),
            request_timeout: Duration::from_secs(180),
            max_attempts: 4,
            capacity: Initial::Known(None),
            probe_props: false,
            start_hint: None,
            memory: None,
        }
    }
}

/// The OpenAI-compatible provider.
#[derive(Debug, Clone)]
pub struct OpenAi {
    client: reqwest::Client,
    url: String,
    /// The base URL without credentials or query, for messages and status lines.
    endpoint: String,
    config: OpenAiConfig,
    limiter: Arc<Limiter>,
    negotiation: Arc<Negotiation>,
    capacity: Arc<Capacity>,
}

/// A stream cut while others ran goes back in the queue at most this many times without
/// spending an attempt.
const FREE_REQUEUES: u32 = 4;
/// Field refusals answered by sending again at once, per section.
const RESENDS: u32 = 6;
/// The wait before the one retry of a refused connection.
const CONNECT_BACKOFF: Duration = Duration::from_millis(400);
/// How often a server loading its model is asked again.
const LOADING_POLL: Duration = Duration::from_secs(1);
/// How long a `/props` probe may take.
const PROBE_DEADLINE: Duration = Duration::from_secs(3);

/// How an attempt failed: the error, the wait the server asked for, and what it says about the
/// endpoint.
struct AttemptError {
    error: ProviderError,
    retry_after: Option<Duration>,
    refused: Option<Refused>,
    /// The server cut the answer (no finish reason, an empty answer, a reset).
    cut: bool,
    /// A 429 or 503: more than the server takes at once.
    overload: bool,
    /// A 503 that says the model is loading.
    loading: bool,
}

impl From<ProviderError> for AttemptError {
    fn from(error: ProviderError) -> Self {
        Self {
            error,
            retry_after: None,
            refused: None,
            cut: false,
            overload: false,
            loading: false,
        }
    }
}

impl AttemptError {
    fn cut(error: ProviderError) -> Self {
        Self {
            cut: true,
            ..Self::from(error)
        }
    }
}

/// Whether a failed connection says something about the endpoint rather than this request:
/// nothing listens there, its name does not resolve, its TLS fails, or it cannot be reached at
/// all in time. (A pooled connection the server closed, or one reset, is this request's.)
fn endpoint_fault(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    [
        "connection refused",
        "dns error",
        "failed to lookup",
        "name or service not known",
        "no address associated",
        "certificate",
        "tls",
        "ssl",
        "handshake",
        "network is unreachable",
        "no route to host",
        "tcp connect error",
    ]
    .iter()
    .any(|w| m.contains(w))
}

/// Whether a failed send was on a pooled connection the server had already closed (it closes
/// idle keep-alive connections, and the close crossed the request): a new connection will do.
fn stale_connection(message: &str) -> bool {
    message.contains("connection closed before message completed")
}

/// Whether an error body says the model is still loading (llama.cpp: 503 "Loading model").
fn says_loading(text: &str) -> bool {
    text.to_ascii_lowercase().contains("loading")
}

/// Whether an answer ended as if complete but was cut: nothing in it at all (no text, no
/// reasoning), or a JSON object that stops before it closes.
fn a_cut_answer(a: &Answer) -> bool {
    if a.finish.as_deref() == Some("length") {
        return false;
    }
    let text = a.text.trim();
    if text.is_empty() {
        return a.reasoning_bytes == 0;
    }
    text.starts_with('{')
        && serde_json::from_str::<serde::de::IgnoredAny>(text).is_err_and(|e| e.is_eof())
}

/// What a stream or body gave: the text, its usage and model, and how it ended.
struct Answer {
    text: String,
    reasoning_bytes: usize,
    usage: Option<Usage>,
    model: Option<String>,
    ttft: Option<Duration>,
    finish: Option<String>,
}

impl OpenAi {
    /// A provider sharing `limiter` with every other request of the process.
    pub fn new(config: OpenAiConfig, limiter: Arc<Limiter>) -> Result<Self, ProviderError> {
        let url = format!("{}/chat/completions", config.base_url.trim_end_matches('/'));
        if reqwest::Url::parse(&url).is_err() {
            return Err(ProviderError::new(
                ErrorKind::BadRequest,
                "the base URL is not a valid URL (expected e.g. http://localhost:11434/v1)",
            ));
        }
        if let Ok(u) = reqwest::Url::parse(&config.base_url)
            && (u.query().is_some() || u.fragment().is_some())
        {
            return Err(ProviderError::new(
                ErrorKind::BadRequest,
                "the base URL has a query or a fragment; give it without (e.g. http://localhost:11434/v1)",
            ));
        }
        let client = http_client()?;
        let endpoint = redacted_url(&config.base_url);
        let negotiation = Negotiation::shared(
            &endpoint,
            &config.model,
            &Start {
                token: config.token_param,
                structured: config.structured,
                fields: config.start,
                guess: config.guess,
            },
            config
                .memory
                .as_ref()
                .and_then(|m| m.fields(&endpoint, &config.model)),
            config.memory.clone().map(|m| {
                let (url, model) = (endpoint.clone(), config.model.clone());
                Remember(Arc::new(move |fields| m.save_fields(&url, &model, fields)))
            }),
        );
        let capacity = Capacity::shared(&endpoint, config.capacity, config.memory.clone());
        Ok(Self {
            client,
            url,
            endpoint,
            config,
            limiter,
            negotiation,
            capacity,
        })
    }

    /// The configuration in use.
    pub fn config(&self) -> &OpenAiConfig {
        &self.config
    }

    /// The fields the endpoint is known (or guessed) to take now.
    pub fn fields(&self) -> Fields {
        self.negotiation.fields()
    }

    /// What is known of the fields: the negotiation itself.
    pub fn negotiation(&self) -> &Negotiation {
        &self.negotiation
    }

    /// How many requests the endpoint serves at once, as known now.
    pub fn capacity(&self) -> &Capacity {
        &self.capacity
    }

    /// What is remembered of this endpoint across runs, for `doctor --json`.
    pub fn remembered(&self) -> serde_json::Value {
        self.config
            .memory
            .as_ref()
            .map_or(serde_json::Value::Null, |m| m.describe(&self.endpoint))
    }

    /// The request body for `request` with `fields`.
    pub(crate) fn body(&self, request: &SectionRequest, fields: Fields) -> Vec<u8> {
        let body = RequestBody::new(
            request.messages_json(),
            &self.config.model,
            request.max_tokens,
            fields,
            self.config.reasoning_effort.as_deref(),
            self.config.stream,
        );
        // Sized for the messages (nearly all of it) so the bytes are written once, not regrown.
        let mut out = Vec::with_capacity(request.messages_json().get().len() + 512);
        match serde_json::to_writer(&mut out, &body) {
            Ok(()) => out,
            Err(_) => Vec::new(),
        }
    }

    /// Text that came from the server, made safe to show: the key and any 8+ character piece of
    /// it removed, terminal controls removed, at most 300 characters.
    fn scrub(&self, text: &str) -> String {
        // Only the start is ever shown: bound the work on a huge body.
        let head = match text.char_indices().nth(4096) {
            Some((i, _)) => &text[..i],
            None => text,
        };
        let key = self.config.api_key.expose();
        // Before and after cleaning: what cleaning removes cannot join a key's pieces again.
        let clean = redact_key(&sanitize_inline(&redact_key(head, key)), key);
        match clean.char_indices().nth(300) {
            Some((i, _)) => format!("{}…", &clean[..i]),
            None => clean,
        }
    }

    /// The most answer bytes `request` may bring: what its `max_tokens` allows, never more
    /// than [`MAX_ANSWER_BYTES`].
    fn answer_cap(request: &SectionRequest) -> usize {
        usize::try_from(request.max_tokens)
            .unwrap_or(usize::MAX)
            .saturating_mul(BYTES_PER_TOKEN)
            .saturating_add(ANSWER_SLACK)
            .min(MAX_ANSWER_BYTES)
    }

    fn over_cap(&self, request: &SectionRequest, usage: Option<Usage>) -> ProviderError {
        ProviderError {
            usage,
            ..ProviderError::new(
                ErrorKind::TooLong,
                if Self::answer_cap(request) >= MAX_ANSWER_BYTES {
                    format!(
                        "the answer ran past {} KiB, the most iching takes of one answer: the \
                         server does not stop, so it was cut off",
                        MAX_ANSWER_BYTES >> 10
                    )
                } else {
                    format!(
                        "the answer ran past {} KiB, more than max_tokens ({}) allows: the \
                         server is not honouring the limit, so it was cut off",
                        Self::answer_cap(request) >> 10,
                        request.max_tokens
                    )
                },
            )
        }
    }

    async fn attempt(
        &self,
        request: &SectionRequest,
        progress: &Progress,
        probe: &mut Option<tokio::sync::MutexGuard<'_, ()>>,
        slot: &mut Slot<'_>,
        fields: Fields,
        resend_of: Option<&(Fields, Fields, u16, String)>,
    ) -> Result<Completion, AttemptError> {
        let started = Instant::now();
        let overall = started + self.config.request_timeout;
        let mut builder = self
            .client
            .post(&self.url)
            .header(CONTENT_TYPE, "application/json")
            .body(self.body(request, fields));
        if !self.config.api_key.is_empty() {
            builder = builder.bearer_auth(self.config.api_key.expose());
        }
        // With streaming the head comes before the first token (or at it); without, only once
        // the whole answer is written.
        let head_deadline = if self.config.stream {
            overall.min(started + self.config.first_token_timeout)
        } else {
            overall
        };
        let response = match timeout_at(head_deadline, builder.send()).await {
            Err(_) => {
                self.negotiation.stop_probing();
                return Err(self.deadline_error(started, head_deadline, overall, "a response"));
            }
            Ok(Err(e)) => {
                self.negotiation.stop_probing();
                return Err(self.transport_error(&e).into());
            }
            Ok(Ok(r)) => r,
        };
        self.limiter.observe(response.headers());
        let status = response.status();
        if !status.is_success() {
            let (mut error, body) = self.status_error(response, overall).await;
            error.refused =
                self.negotiation
                    .refused(fields, status.as_u16(), &body, &self.scrub(&body));
            match status.as_u16() {
                503 if says_loading(&body) => error.loading = true,
                // More than the server takes at once: a 429, a 503, or any other 5xx that is not
                // a refusal (a server out of room answers 500, a gateway 502 or 504).
                429 if error.error.kind == ErrorKind::RateLimited => error.overload = true,
                503 => error.overload = true,
                // A 5xx that names no field may be load as well as a refusal.
                s if s >= 500 && !matches!(error.refused, Some(Refused::Named(_))) => {
                    error.overload = true;
                }
                _ => {}
            }
            if error.refused.is_none() && !error.loading {
                self.negotiation.stop_probing();
            }
            // Only now, with the choice moved on, may the next request go; after a 4xx that
            // names nothing, only once the resend without the optional fields has told.
            let resending =
                matches!(error.refused, Some(Refused::Unnamed(_))) && status.as_u16() < 500;
            if !resending {
                *probe = None;
            }
            return Err(error);
        }
        // Learned at the head, before any other request reads the fields.
        match resend_of {
            Some((sent, without, status, said)) => {
                self.negotiation
                    .bare_accepted(*sent, *without, *status, said);
            }
            None => self.negotiation.accepted(fields),
        }
        *probe = None;
        let is_sse = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("text/event-stream"));
        let answer = if self.config.stream && is_sse {
            self.read_stream(request, response, progress, started, overall, slot)
                .await
        } else {
            self.read_whole(request, response, progress, started, overall)
                .await
        };
        if answer.is_ok() {
            // A whole answer is evidence of service too (a stream said so at its first text).
            self.capacity.serving(slot);
        }
        let answer = match answer {
            Ok(a) => a,
            // A stream that ends without a finish reason, or whose connection resets, was cut.
            Err(mut e) => {
                e.cut |= e.error.kind == ErrorKind::Truncated;
                return Err(e);
            }
        };
        // An answer that stops mid-object may still be salvaged when it ran alone; with others
        // in flight it is taken for what it most likely is, a cut.
        if a_cut_answer(&answer)
            && (answer.text.trim().is_empty() || self.capacity.overlapped(slot))
        {
            // Ended as if complete, with nothing in it: a proxy in front of a server that cut
            // the stream says so this way.
            return Err(AttemptError::cut(ProviderError {
                usage: answer.usage,
                ..ProviderError::new(
                    ErrorKind::Malformed,
                    if answer.text.trim().is_empty() {
                        "the model's answer was empty (the server ended it before any text)"
                    } else {
                        "the answer stops mid-way, though the server said it was finished"
                    },
                )
            }));
        }
        self.finish(request, answer)
    }

    /// Judges how an answer ended and what it holds.
    fn finish(&self, request: &SectionRequest, mut a: Answer) -> Result<Completion, AttemptError> {
        let reported = a.usage;
        // What the attempt cost, counted here when the server did not say: a failed one is
        // billed too.
        let usage = reported.unwrap_or_else(|| self.estimate(request, &a.text, a.reasoning_bytes));
        if a.finish.as_deref() == Some("length") {
            let message = if a.text.trim().is_empty() {
                let reasoning = reported.map_or(0, |u| u.reasoning_tokens);
                let spent = if reasoning > 0 {
                    format!("{reasoning} tokens")
                } else {
                    "all of it".to_owned()
                };
                format!(
                    "the model spent its whole budget (max_tokens = {}) reasoning ({spent}) and \
                     wrote no answer: raise max_tokens in config.toml, or lower reasoning_effort{}",
                    request.max_tokens,
                    self.config
                        .reasoning_effort
                        .as_deref()
                        .map(|e| format!(" (now {e})"))
                        .unwrap_or_default()
                )
            } else {
                format!(
                    "the answer ran on to the max_tokens limit ({}) without finishing (the model \
                     may be looping); raise max_tokens in config.toml if its answers are that long",
                    request.max_tokens
                )
            };
            return Err(ProviderError {
                usage: Some(usage),
                ..ProviderError::new(ErrorKind::TooLong, message)
            }
            .into());
        }
        // What is kept and shown holds no piece of the key, whatever the server echoed.
        a.text = redact_key(&a.text, self.config.api_key.expose());
        let checked = match &request.followup {
            Some(question) => quality::check_at_least(
                &a.text,
                question,
                request.messages_json().get(),
                quality::MIN_FOLLOWUP_WORDS,
            ),
            None => quality::check(
                &a.text,
                &request.query.question,
                request.messages_json().get(),
            ),
        };
        let paragraphs = checked.map_err(|why| ProviderError {
            usage: Some(usage),
            ..ProviderError::new(ErrorKind::Malformed, why)
        })?;
        Ok(Completion {
            text: a.text,
            paragraphs,
            usage,
            // The server names the model: keep it short and harmless for terminals.
            model: a
                .model
                .map(|m| sanitize_inline(&m).chars().take(100).collect::<String>())
                .filter(|m| !m.trim().is_empty())
                .unwrap_or_else(|| self.config.model.clone()),
            ttft: a.ttft,
            attempts: 1,
            failed_usage: None,
            queued: std::time::Duration::ZERO,
        })
    }

    /// Token counts made locally when the server reports none.
    fn estimate(&self, request: &SectionRequest, text: &str, reasoning_bytes: usize) -> Usage {
        let reasoning = u32::try_from(reasoning_bytes / 4).unwrap_or(u32::MAX);
        Usage {
            reasoning_tokens: reasoning,
            ..Usage::estimated(
                tokens::count_messages(request.messages()),
                tokens::count(text).saturating_add(reasoning),
            )
        }
    }

    /// The attempt ran out of time: which clock ran out says what to change.
    fn deadline_error(
        &self,
        started: Instant,
        hit: Instant,
        overall: Instant,
        waiting_for: &str,
    ) -> AttemptError {
        let waited = hit.saturating_duration_since(started).as_secs_f64();
        let message = if hit >= overall {
            format!(
                "no complete answer within {waited:.0} s (the request_timeout setting); the server is too \
                 slow or never finishes"
            )
        } else {
            format!(
                "no first token within {waited:.0} s while waiting for {waiting_for} \
                 (the first_token_timeout setting; a busy local server queues requests: raise it \
                 or lower concurrency)"
            )
        };
        ProviderError::new(ErrorKind::Timeout, message).into()
    }

    fn transport_error(&self, e: &reqwest::Error) -> ProviderError {
        // Anything else that fails before a response (DNS, TLS, refused) is a connection error.
        let kind = if e.is_timeout() && !e.is_connect() {
            ErrorKind::Timeout
        } else {
            ErrorKind::Connect
        };
        let mut message = format!("cannot reach {}", self.endpoint);
        // The error without its URL (which may carry credentials or a query), then its causes.
        let mut source = std::error::Error::source(e);
        while let Some(s) = source {
            message.push_str(&format!(": {s}"));
            source = s.source();
        }
        let message = message.replace(&self.url, &format!("{}/chat/completions", self.endpoint));
        ProviderError::new(kind, self.scrub(&message))
    }

    /// The one message for an endpoint that cannot be reached, from how the connection failed
    /// (`cause`, already scrubbed): what is most likely wrong and what to do, for this preset.
    pub fn unreachable(&self, cause: &str) -> String {
        let url = reqwest::Url::parse(&self.config.base_url).ok();
        let host = url
            .as_ref()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_else(|| self.endpoint.clone());
        let port = url
            .as_ref()
            .and_then(reqwest::Url::port_or_known_default)
            .map_or(String::new(), |p| format!(":{p}"));
        let lower = cause.to_ascii_lowercase();
        let local = super::preset::is_local_url(&self.config.base_url);
        if lower.contains("connection refused") {
            let hint = self.config.start_hint.clone().unwrap_or_else(|| {
                if local {
                    "is the server running? start it, or set its address (the base_url setting)"
                        .to_owned()
                } else {
                    "check the address (the base_url setting)".to_owned()
                }
            });
            format!("nothing listens at {host}{port}: {hint}")
        } else if lower.contains("dns") || lower.contains("lookup") || lower.contains("resolve") {
            format!(
                "cannot find the host {host}: check the address (the base_url setting) and the network \
                 ({cause})"
            )
        } else if lower.contains("certificate") || lower.contains("tls") || lower.contains("ssl") {
            format!(
                "the TLS handshake with {host}{port} failed: is it https on a plain http port, \
                 or a certificate this machine does not trust? ({cause})"
            )
        } else {
            cause.to_owned()
        }
    }

    /// What a section that was never sent says: the endpoint was found unreachable.
    fn not_sent(&self, attempts: u32, usage: Option<Usage>) -> ProviderError {
        let message = if attempts == 0 {
            format!("not sent: {} cannot be reached", self.endpoint)
        } else {
            format!(
                "not sent again after {attempts} attempt(s): {} cannot be reached",
                self.endpoint
            )
        };
        ProviderError {
            attempts,
            usage,
            ..ProviderError::new(ErrorKind::NotSent, message)
        }
    }

    /// Asks the server once how many requests it serves at once (llama.cpp's `/props`
    /// `total_slots`), with short deadlines; a 429 or 503 is asked again after a wait, and a
    /// server loading its model is waited for (told on `progress`) up to the first-token limit.
    /// Anything else, or no answer, leaves the capacity to be learned.
    /// Returns whether it told `progress` of a wait.
    async fn probe_server(&self, progress: &Progress) -> bool {
        if !self.config.probe_props {
            return false;
        }
        let told = std::sync::atomic::AtomicBool::new(false);
        self.capacity
            .probed
            .get_or_init(|| async {
                let started = Instant::now();
                let mut tries = 0;
                loop {
                    match self.props().await {
                        Probe::Slots(n) => {
                            tracing::info!(slots = n, "the server serves this many at once");
                            self.capacity.server_says(n);
                            return;
                        }
                        Probe::Loading if started.elapsed() < self.config.first_token_timeout => {
                            told.store(true, std::sync::atomic::Ordering::Relaxed);
                            progress.send(EventKind::Held(Hold::Loading {
                                waited: started.elapsed(),
                            }));
                            tokio::time::sleep(LOADING_POLL).await;
                        }
                        Probe::Busy if tries < 3 => {
                            tries += 1;
                            tokio::time::sleep(backoff(tries + 1)).await;
                        }
                        Probe::Loading | Probe::Busy | Probe::Nothing => return,
                    }
                }
            })
            .await;
        told.into_inner()
    }

    /// One GET of `/props`.
    async fn props(&self) -> Probe {
        let Ok(mut root) = reqwest::Url::parse(&self.config.base_url) else {
            return Probe::Nothing;
        };
        root.set_path("/props");
        let mut builder = self.client.get(root);
        if !self.config.api_key.is_empty() {
            builder = builder.bearer_auth(self.config.api_key.expose());
        }
        let deadline = Instant::now() + PROBE_DEADLINE;
        let Ok(Ok(response)) = timeout_at(deadline, builder.send()).await else {
            return Probe::Nothing;
        };
        let status = response.status().as_u16();
        let text = timeout_at(deadline, read_limited(response, 1 << 20))
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or_default();
        match status {
            200 => serde_json::from_str::<serde_json::Value>(&text)
                .ok()
                .and_then(|v| v.get("total_slots")?.as_u64())
                .and_then(|n| usize::try_from(n).ok())
                .filter(|&n| n > 0)
                .map_or(Probe::Nothing, Probe::Slots),
            503 if says_loading(&text) => Probe::Loading,
            429 | 503 => Probe::Busy,
            _ => Probe::Nothing,
        }
    }

    /// The connection broke while the `what` (stream or answer) was coming in.
    fn dropped(&self, what: &str, e: reqwest::Error) -> ProviderError {
        ProviderError::new(
            ErrorKind::Truncated,
            format!(
                "the connection dropped mid-{what}: {}",
                self.scrub(&e.without_url().to_string())
            ),
        )
    }

    /// No new text arrived for the read timeout while the `what` was coming in.
    fn stalled(&self, what: &str) -> ProviderError {
        ProviderError::new(
            ErrorKind::Timeout,
            format!(
                "the {what} stalled: no new text for {} s (the read_timeout setting)",
                self.config.read_timeout.as_secs_f64()
            ),
        )
    }

    /// The error a non-success response makes, and its body as received (at most 64 KiB).
    async fn status_error(
        &self,
        response: reqwest::Response,
        overall: Instant,
    ) -> (AttemptError, String) {
        let status = response.status();
        let wait = retry_after(response.headers(), SystemTime::now());
        if status.is_redirection() {
            let to = response
                .headers()
                .get(LOCATION)
                .and_then(|v| v.to_str().ok())
                .map_or_else(
                    || "somewhere it did not say".to_owned(),
                    |l| {
                        let absolute = reqwest::Url::parse(&self.url)
                            .and_then(|base| base.join(l))
                            .map_or_else(|_| l.to_owned(), |u| u.to_string());
                        self.scrub(&redacted_url(&absolute))
                    },
                );
            return (
                ProviderError {
                    status: Some(status.as_u16()),
                    ..ProviderError::new(
                        ErrorKind::BadRequest,
                        format!(
                            "HTTP {}: the server redirects to {to}; redirects are not followed \
                             (the key would go along): set the base URL to where the API really is",
                            status.as_u16()
                        ),
                    )
                }
                .into(),
                String::new(),
            );
        }
        let deadline = overall.min(Instant::now() + self.config.read_timeout);
        let text = match timeout_at(deadline, read_limited(response, 64 * 1024)).await {
            Ok(Ok(t)) => t,
            Ok(Err(_)) | Err(_) => String::new(),
        };
        let detail = ApiError::parse(&text);
        let quota = detail.code.as_deref() == Some("insufficient_quota")
            || detail.kind.as_deref() == Some("insufficient_quota");
        let kind = match status.as_u16() {
            429 if quota => ErrorKind::QuotaExceeded,
            429 => ErrorKind::RateLimited,
            401 | 403 => ErrorKind::Unauthorized,
            408 | 409 => ErrorKind::ServerError,
            s if s >= 500 => ErrorKind::ServerError,
            _ => ErrorKind::BadRequest,
        };
        let said = detail.message.unwrap_or_else(|| text.trim().to_owned());
        let hint = match kind {
            ErrorKind::Unauthorized => match &self.config.key_env {
                Some(var) => format!(" (check {var})"),
                None => " (check the API key)".to_owned(),
            },
            ErrorKind::QuotaExceeded => {
                " (the account is out of quota; retrying will not help)".to_owned()
            }
            _ => String::new(),
        };
        let reason = status.canonical_reason().unwrap_or("");
        let message = if said.is_empty() {
            format!("HTTP {} {reason}{hint}", status.as_u16())
        } else {
            format!(
                "HTTP {} {reason}: {}{hint}",
                status.as_u16(),
                self.scrub(&said)
            )
        };
        (
            AttemptError {
                retry_after: wait,
                ..ProviderError {
                    status: Some(status.as_u16()),
                    ..ProviderError::new(kind, message)
                }
                .into()
            },
            text,
        )
    }

    async fn read_stream(
        &self,
        request: &SectionRequest,
        response: reqwest::Response,
        progress: &Progress,
        started: Instant,
        overall: Instant,
        slot: &mut Slot<'_>,
    ) -> Result<Answer, AttemptError> {
        // A server that echoes the key in its answer: no piece of it is passed on. What the
        // redactor holds back is passed on however the stream ends (a cut answer shows what
        // came, as one without a key does).
        let mut redactor = StreamRedactor::default();
        let read = self
            .read_stream_with(
                request,
                response,
                progress,
                started,
                overall,
                slot,
                &mut redactor,
            )
            .await;
        let held = redactor.finish(self.config.api_key.expose());
        if !held.is_empty() {
            progress.delta(held);
        }
        read
    }

    #[allow(
        clippy::too_many_arguments,
        reason = "read_stream's, with its redactor"
    )]
    async fn read_stream_with(
        &self,
        request: &SectionRequest,
        response: reqwest::Response,
        progress: &Progress,
        started: Instant,
        overall: Instant,
        slot: &mut Slot<'_>,
        redactor: &mut StreamRedactor,
    ) -> Result<Answer, AttemptError> {
        let cap = Self::answer_cap(request);
        let mut bytes = response.bytes_stream();
        let mut decoder = SseDecoder::new();
        let key = self.config.api_key.expose();
        let mut payloads = Vec::new();
        let mut a = Answer {
            text: String::new(),
            reasoning_bytes: 0,
            usage: None,
            model: None,
            ttft: None,
            finish: None,
        };
        let mut done = false;
        // Whether any event came at all.
        let mut any = false;
        // The last time new text (answer or reasoning) arrived.
        let mut last_progress: Option<Instant> = None;
        loop {
            let progress_deadline = match last_progress {
                None => started + self.config.first_token_timeout,
                Some(t) => t + self.config.read_timeout,
            };
            let deadline = progress_deadline.min(overall);
            let chunk = match timeout_at(deadline, bytes.next()).await {
                Ok(Some(Ok(chunk))) => chunk,
                Ok(None) => break,
                // After a finish reason the answer is whole; a late hiccup does not undo it.
                Ok(Some(Err(_))) | Err(_) if a.finish.is_some() => break,
                Ok(Some(Err(e))) => return Err(self.dropped("stream", e).into()),
                Err(_) if last_progress.is_some() && deadline < overall => {
                    return Err(self.stalled("stream").into());
                }
                Err(_) => {
                    return Err(self.deadline_error(started, deadline, overall, "the stream"));
                }
            };
            decoder.feed(&chunk, |p| payloads.push(p));
            if decoder.pending_len() > cap {
                return Err(ProviderError::new(
                    ErrorKind::Malformed,
                    format!(
                        "the stream sent over {} KiB without ending an event",
                        cap >> 10
                    ),
                )
                .into());
            }
            any |= !payloads.is_empty();
            for payload in payloads.drain(..) {
                let payload = payload.trim();
                if payload == "[DONE]" {
                    done = true;
                    continue;
                }
                let parsed: StreamChunk = serde_json::from_str(payload).map_err(|e| {
                    ProviderError::new(
                        ErrorKind::Malformed,
                        format!("a malformed stream chunk ({e})"),
                    )
                })?;
                if let Some(err) = parsed.error {
                    let said = ApiError::parse(&format!("{{\"error\":{}}}", err.get()));
                    // A stream the server ends with an error is cut like any other: with others
                    // in flight, most likely for want of room (a shared context full, memory).
                    return Err(AttemptError::cut(ProviderError::new(
                        ErrorKind::ServerError,
                        format!(
                            "the server reported an error mid-stream: {}",
                            self.scrub(said.message.as_deref().unwrap_or("no message"))
                        ),
                    )));
                }
                if let Some(m) = parsed.model.filter(|m| !m.is_empty())
                    && a.model.as_deref() != Some(&*m)
                {
                    a.model = Some(m.into_owned());
                }
                if let Some(u) = parsed.usage {
                    a.usage = Some(u.to_usage(parsed.timings.as_ref()));
                }
                for choice in parsed.choices.into_iter().flatten() {
                    if let Some(delta) = choice.delta {
                        let reasoning = delta.reasoning_len();
                        if reasoning > 0 {
                            a.reasoning_bytes += reasoning;
                            if last_progress.is_none() {
                                // The server is generating for this request: evidence it serves
                                // one more at once (a response head is not: some send it first).
                                self.capacity.serving(slot);
                            }
                            last_progress = Some(Instant::now());
                        }
                        if let Some(content) = delta.content.filter(|c| !c.is_empty()) {
                            if last_progress.is_none() {
                                self.capacity.serving(slot);
                            }
                            a.ttft.get_or_insert_with(|| started.elapsed());
                            last_progress = Some(Instant::now());
                            a.text.push_str(&content);
                            if key.is_empty() {
                                progress.delta(content);
                            } else {
                                progress.began();
                                let shown = redactor.push(&content, key);
                                if !shown.is_empty() {
                                    progress.delta(shown);
                                }
                            }
                        }
                    }
                    if let Some(reason) = choice.finish_reason {
                        a.finish = Some(reason.into_owned());
                    }
                }
                if a.text.len() + a.reasoning_bytes > cap {
                    return Err(self.over_cap(request, a.usage).into());
                }
            }
            if done && a.finish.is_some() {
                break;
            }
        }
        if a.finish.is_none() {
            let message = if done {
                "the stream ended with [DONE] but no finish reason: the server cut the answer \
                 short (a server with one slot does this when another request waits)"
            } else if !any {
                "the server answered with an empty stream (no event at all): it failed on the \
                 request, perhaps a prompt longer than its context window (its log says why)"
            } else {
                "the stream ended before the answer was finished (no finish reason)"
            };
            return Err(ProviderError {
                usage: a.usage,
                ..ProviderError::new(ErrorKind::Truncated, message)
            }
            .into());
        }
        Ok(a)
    }

    async fn read_whole(
        &self,
        request: &SectionRequest,
        response: reqwest::Response,
        progress: &Progress,
        started: Instant,
        overall: Instant,
    ) -> Result<Answer, AttemptError> {
        // The body is JSON around the answer: room for its escapes and fields.
        let cap = Self::answer_cap(request).saturating_mul(2);
        let mut bytes = response.bytes_stream();
        let mut body = Vec::new();
        loop {
            let deadline = overall.min(Instant::now() + self.config.read_timeout);
            match timeout_at(deadline, bytes.next()).await {
                Ok(Some(Ok(chunk))) => {
                    body.extend_from_slice(&chunk);
                    if body.len() > cap {
                        return Err(self.over_cap(request, None).into());
                    }
                }
                Ok(None) => break,
                Ok(Some(Err(e))) => return Err(self.dropped("answer", e).into()),
                Err(_) if deadline < overall => return Err(self.stalled("answer").into()),
                Err(_) => {
                    return Err(self.deadline_error(started, deadline, overall, "the answer"));
                }
            }
        }
        let parsed: WholeResponse = serde_json::from_slice(&body).map_err(|e| {
            ProviderError::new(
                ErrorKind::Malformed,
                format!("the answer is not valid JSON ({e})"),
            )
        })?;
        let usage = parsed
            .usage
            .as_ref()
            .map(|u: &ApiUsage| u.to_usage(parsed.timings.as_ref()));
        let choice = parsed
            .choices
            .into_iter()
            .next()
            .ok_or_else(|| ProviderError {
                usage,
                ..ProviderError::new(ErrorKind::Malformed, "the answer has no choices")
            })?;
        let message = choice.message;
        let reasoning_bytes = message
            .as_ref()
            .map_or(0, super::wire::Delta::reasoning_len);
        let text = message
            .and_then(|m| m.content)
            .map(Cow::into_owned)
            .unwrap_or_default();
        let text = redact_key(&text, self.config.api_key.expose());
        if !text.is_empty() {
            progress.delta(text.clone());
        }
        Ok(Answer {
            text,
            reasoning_bytes,
            usage,
            model: parsed.model,
            ttft: Some(started.elapsed()),
            // A whole JSON body is a finished answer even when a server leaves the reason out.
            finish: Some(choice.finish_reason.unwrap_or_else(|| "stop".to_owned())),
        })
    }

    /// `GET {base}/models`: the models the endpoint offers, sorted.
    pub async fn models(&self) -> Result<Vec<String>, ProviderError> {
        let url = format!("{}/models", self.config.base_url.trim_end_matches('/'));
        let mut builder = self.client.get(&url);
        if !self.config.api_key.is_empty() {
            builder = builder.bearer_auth(self.config.api_key.expose());
        }
        let overall = Instant::now() + self.config.first_token_timeout.min(Duration::from_secs(30));
        let response = match timeout_at(overall, builder.send()).await {
            Err(_) => {
                return Err(ProviderError::new(
                    ErrorKind::Timeout,
                    format!("{} did not answer GET /models in time", self.endpoint),
                ));
            }
            Ok(Err(e)) => return Err(self.transport_error(&e)),
            Ok(Ok(r)) => r,
        };
        if !response.status().is_success() {
            return Err(self.status_error(response, overall).await.0.error);
        }
        let text = match timeout_at(overall, read_limited(response, 4 << 20)).await {
            Ok(Ok(t)) => t,
            Ok(Err(e)) => return Err(self.dropped("answer", e)),
            Err(_) => {
                return Err(ProviderError::new(
                    ErrorKind::Timeout,
                    "the model list stalled",
                ));
            }
        };
        let list: ModelList = serde_json::from_str(&text).map_err(|e| {
            ProviderError::new(
                ErrorKind::Malformed,
                format!("the model list is not the expected JSON ({e})"),
            )
        })?;
        let mut ids: Vec<String> = list
            .data
            .into_iter()
            .chain(list.models)
            .filter_map(super::wire::ModelEntry::id)
            // An id is used as it was sent, so one that would have to be changed to be shown
            // (escapes, controls, over 200 characters, blank) is left out rather than shown as
            // an id the server does not know.
            .filter(|m| {
                !m.trim().is_empty() && m.chars().count() <= 200 && sanitize_inline(m) == *m
            })
            .collect();
        ids.sort();
        ids.dedup();
        Ok(ids)
    }
}

/// What `/props` said.
enum Probe {
    /// It serves this many requests at once.
    Slots(usize),
    /// It is loading its model.
    Loading,
    /// 429 or another 503: ask again.
    Busy,
    /// Nothing useful (no such endpoint, no answer, no slot count).
    Nothing,
}

/// The one HTTP client: pooled (idle connections kept 4 s), rustls, redirects never followed (a redirect would carry the
/// key to wherever the server says).
fn http_client() -> Result<reqwest::Client, ProviderError> {
    super::install_crypto();
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .pool_max_idle_per_host(usize::MAX)
        // Under the 5 s keep-alive that llama.cpp's server, uvicorn (llama-cpp-python, vLLM) and
        // many proxies close idle connections after: a connection they closed is not reused.
        .pool_idle_timeout(Duration::from_secs(4))
        .tcp_nodelay(true)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("iching/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| {
            ProviderError::new(
                ErrorKind::Internal,
                format!("cannot build the HTTP client: {e}"),
            )
        })
}

/// Reads at most `limit` bytes of a body as text.
async fn read_limited(response: reqwest::Response, limit: usize) -> Result<String, reqwest::Error> {
    let mut bytes = response.bytes_stream();
    let mut body = Vec::new();
    while let Some(chunk) = bytes.next().await {
        body.extend_from_slice(&chunk?);
        if body.len() >= limit {
            body.truncate(limit);
            break;
        }
    }
    Ok(String::from_utf8_lossy(&body).into_owned())
}

/// The usage of two attempts together.
fn sum(a: Option<Usage>, b: Option<Usage>) -> Option<Usage> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.add(&b)),
        (a, b) => a.or(b),
    }
}

impl Provider for OpenAi {
    fn info(&self) -> ProviderInfo {
        ProviderInfo {
            kind: crate::llm::ProviderKind::OpenAi,
            model: self.config.model.clone(),
            endpoint: self.endpoint.clone(),
        }
    }

    fn complete<'a>(
        &'a self,
        request: &'a SectionRequest,
        progress: &'a Progress,
    ) -> BoxFuture<'a, Result<Completion, ProviderError>> {
        Box::pin(async move {
            let estimate = if self.limiter.counts_tokens() {
                tokens::count_messages(request.messages()) + request.max_tokens
            } else {
                0
            };
            let max = self.config.max_attempts.max(1);
            let mut attempt = 1;
            // Sends again at once after a refused field: at most this many per section.
            let mut resends = RESENDS;
            // A stream cut while others ran is queued again without spending an attempt.
            let mut requeues = FREE_REQUEUES;
            let mut waited = Duration::ZERO;
            let mut spent: Option<Usage> = None;
            let mut connect_retried = false;
            // A pooled connection the server had closed: sent again at once (each failed one
            // leaves the pool, so a few tries reach a live or new one).
            let mut stale = 8;
            let mut loading_since: Option<Instant> = None;
            // After a refusal that named nothing: (the fields sent, the same without the
            // optional ones, its status, what it said) while the bare resend is out.
            let mut bare: Option<(Fields, Fields, u16, String)> = None;
            // 5xx answers naming nothing that this request met with all its fields.
            let mut unnamed_5xx = 0;
            // The probe's turn, kept from a refusal to its resend.
            let mut probe_kept = None;
            // Time held back by the endpoint's capacity or another's probe.
            let mut queued = Duration::ZERO;
            // Shown as held (queued again, loading): the next send is a start again.
            let mut shown_held = false;
            loop {
                if !self.capacity.through() {
                    return Err(self.not_sent(attempt - 1, spent));
                }
                self.limiter.acquire(estimate).await;
                shown_held |= self.probe_server(progress).await;
                // The probe's turn first, then a place in flight: whoever waits for the probe
                // holds no place the probe needs.
                let mut held = false;
                let waiting_since = Instant::now();
                let mut probe = match probe_kept.take() {
                    Some(kept) => Some(kept),
                    None => {
                        self.negotiation
                            .admit(|| {
                                held = true;
                                progress.send(EventKind::Held(Hold::Capacity {
                                    limit: self.capacity.limit().0,
                                }));
                            })
                            .await
                    }
                };
                let mut slot = self
                    .capacity
                    .acquire(|limit| {
                        if !held {
                            held = true;
                            progress.send(EventKind::Held(Hold::Capacity { limit }));
                        }
                    })
                    .await;
                if held {
                    queued += waiting_since.elapsed();
                }
                if held || std::mem::take(&mut shown_held) {
                    progress.send(EventKind::Started);
                }
                // Found unreachable by another request while this one waited.
                if !self.capacity.through() {
                    return Err(self.not_sent(attempt - 1, spent));
                }
                let fields = bare
                    .as_ref()
                    .map_or_else(|| self.negotiation.fields(), |b| b.1);
                let result = self
                    .attempt(
                        request,
                        progress,
                        &mut probe,
                        &mut slot,
                        fields,
                        bare.as_ref(),
                    )
                    .await;
                let e = match result {
                    Ok(mut c) => {
                        self.capacity.success(&slot);
                        c.attempts = attempt;
                        c.failed_usage = spent;
                        c.queued = queued;
                        return Ok(c);
                    }
                    Err(e) => e,
                };
                if e.loading {
                    let since = *loading_since.get_or_insert_with(Instant::now);
                    if since.elapsed() < self.config.first_token_timeout {
                        drop(slot);
                        shown_held = true;
                        progress.send(EventKind::Held(Hold::Loading {
                            waited: since.elapsed(),
                        }));
                        tokio::time::sleep(LOADING_POLL).await;
                        continue;
                    }
                }
                if e.cut && requeues > 0 && self.capacity.signal(&slot) {
                    requeues -= 1;
                    drop(slot);
                    spent = sum(spent, e.error.usage);
                    let limit = self.capacity.limit().0;
                    tracing::info!(section = %request.section, limit, "cut while others ran; queued again");
                    shown_held = true;
                    progress.send(EventKind::Held(Hold::Requeued {
                        limit,
                        reason: e.error.message,
                    }));
                    continue;
                }
                if e.overload {
                    self.capacity.overloaded(&slot);
                }
                drop(slot);
                match e.refused {
                    Some(Refused::Named(field)) if resends > 0 => {
                        resends -= 1;
                        // The fields stepped down for everyone are what goes next.
                        bare = None;
                        tracing::info!(section = %request.section, ?field, status = ?e.error.status, "field refused; sending again");
                        continue;
                    }
                    Some(Refused::Unnamed(without)) if resends > 0 && bare.is_none() => {
                        resends -= 1;
                        let status = e.error.status.unwrap_or(0);
                        tracing::info!(section = %request.section, status, "refused naming no field; sending once without the optional fields");
                        let next = Some((fields, without, status, e.error.message.clone()));
                        if status < 500 {
                            // A 4xx says the same to the same request: resend at once.
                            bare = next;
                            probe_kept = probe.take();
                            continue;
                        }
                        // A 5xx may be a passing fault: it is retried as one (after a wait, an
                        // attempt spent); met twice by this request, the retry goes without the
                        // optional fields.
                        unnamed_5xx += 1;
                        bare = if unnamed_5xx >= 2 { next } else { None };
                    }
                    Some(_) | None => bare = None,
                }
                let AttemptError {
                    error, retry_after, ..
                } = e;
                spent = sum(spent, error.usage);
                tracing::warn!(
                    section = %request.section,
                    attempt,
                    kind = error.kind.label(),
                    status = ?error.status,
                    "attempt failed"
                );
                if error.kind == ErrorKind::Connect && stale > 0 && stale_connection(&error.message)
                {
                    // The request never reached the server: no attempt is spent on it.
                    stale -= 1;
                    continue;
                }
                if error.kind == ErrorKind::Connect && endpoint_fault(&error.message) {
                    // A fact about the endpoint, not the section: one short wait, one more try,
                    // then one message for the reading and "not sent" for the rest.
                    if !connect_retried && attempt < max {
                        connect_retried = true;
                        attempt += 1;
                        tokio::time::sleep(CONNECT_BACKOFF).await;
                        continue;
                    }
                    let message = self.unreachable(&error.message);
                    if !self.capacity.mark_down(&message) {
                        return Err(self.not_sent(attempt, spent));
                    }
                    return Err(ProviderError {
                        attempts: attempt,
                        usage: spent,
                        message,
                        ..error
                    });
                }
                let tried = attempt;
                let give_up = |message: String| ProviderError {
                    attempts: tried,
                    message,
                    usage: spent,
                    ..error.clone()
                };
                if !error.kind.is_retryable() || attempt >= max {
                    let message = if attempt > 1 {
                        format!("{} (gave up after {attempt} attempts)", error.message)
                    } else {
                        error.message.clone()
                    };
                    return Err(give_up(message));
                }
                if let Some(asked) = retry_after
                    && asked > MAX_RETRY_AFTER
                {
                    return Err(give_up(format!(
                        "{}; asked to wait {} s before trying again, longer than the {} s \
                         iching waits: try again later, or lower the concurrency or rpm setting",
                        error.kind.label(),
                        asked.as_secs(),
                        MAX_RETRY_AFTER.as_secs()
                    )));
                }
                attempt += 1;
                let wait = retry_after.unwrap_or_else(|| backoff(attempt));
                if waited + wait > MAX_TOTAL_WAIT {
                    return Err(give_up(format!(
                        "{} (gave up after {} attempts and {} s of waiting)",
                        error.message,
                        attempt - 1,
                        waited.as_secs()
                    )));
                }
                waited += wait;
                if error.kind == ErrorKind::RateLimited {
                    self.limiter.pause_for(wait);
                }
                progress.send(EventKind::Retrying {
                    attempt,
                    wait,
                    reason: error.message,
                });
                tokio::time::sleep(wait).await;
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oracle::{Cast, LineValue, Reading};
    use crate::plan::{ChatMessage, Section};

    fn body(stream: bool, fields: Fields, effort: Option<&str>) -> String {
        let mut config = OpenAiConfig::new("http://127.0.0.1:9/v1", "m-1");
        config.api_key = Secret::new("sk-test");
        config.stream = stream;
        config.reasoning_effort = effort.map(str::to_owned);
        let provider = OpenAi::new(config, Arc::new(Limiter::new(None, None))).unwrap();
        let reading = Arc::new(Reading::new(Cast::manual([LineValue::new(7).unwrap(); 6])));
        let message = |role: &str, content: &str| ChatMessage {
            role: role.into(),
            content: content.into(),
        };
        let request = SectionRequest::new(
            reading,
            Arc::new(crate::model::Query::new("Q")),
            Section::OpeningStatements,
            vec![message("system", "S \"quoted\""), message("user", "U\n")],
            300,
        );
        String::from_utf8(provider.body(&request, fields)).unwrap()
    }

    #[test]
    fn the_request_body_is_pinned_for_every_mode() {
        let messages =
            r#"[{"role":"system","content":"S \"quoted\""},{"role":"user","content":"U\n"}]"#;
        let plain = Fields::new(TokenParam::MaxTokens, Structured::Off);
        assert_eq!(
            body(true, plain, None),
            format!(
                r#"{{"max_tokens":300,"messages":{messages},"model":"m-1","stream":true,"stream_options":{{"include_usage":true}}}}"#
            )
        );
        assert_eq!(
            body(false, plain, None),
            format!(r#"{{"max_tokens":300,"messages":{messages},"model":"m-1","stream":false}}"#)
        );
        let object = Fields::new(TokenParam::MaxCompletionTokens, Structured::JsonObject);
        assert_eq!(
            body(false, object, Some("low")),
            format!(
                r#"{{"max_completion_tokens":300,"messages":{messages},"model":"m-1","reasoning_effort":"low","response_format":{{"type":"json_object"}},"stream":false}}"#
            )
        );
        let schema = Fields::new(TokenParam::MaxTokens, Structured::JsonSchema);
        let b: serde_json::Value = serde_json::from_str(&body(true, schema, None)).unwrap();
        let format = &b["response_format"];
        assert_eq!(format["type"], "json_schema");
        assert_eq!(format["json_schema"]["strict"], true);
        let schema = &format["json_schema"]["schema"];
        assert_eq!(schema["required"], serde_json::json!(["response"]));
        assert_eq!(schema["additionalProperties"], false);
        assert_eq!(schema["properties"]["response"]["items"]["type"], "string");
    }

    #[test]
    fn only_a_fault_of_the_endpoint_stops_the_reading() {
        for m in [
            "cannot reach http://127.0.0.1:9/v1: client error (Connect): tcp connect error: Connection refused (os error 111)",
            "cannot reach https://nowhere.invalid/v1: client error (Connect): dns error: failed to lookup address information: Name or service not known",
            "cannot reach https://127.0.0.1:8089/v1: client error (Connect): received corrupt message of type InvalidContentType (TLS)",
        ] {
            assert!(endpoint_fault(m), "{m}");
        }
        // A pooled connection the server had closed, or a reset: this request's, retried.
        for m in [
            "cannot reach http://127.0.0.1:8089/v1: client error (SendRequest): connection closed before message completed",
            "cannot reach http://127.0.0.1:8089/v1: client error (SendRequest): connection reset by peer",
        ] {
            assert!(!endpoint_fault(m), "{m}");
        }
        // The first is a closed pooled connection: sent again at once, no attempt spent.
        assert!(stale_connection(
            "cannot reach http://127.0.0.1:8089/v1: client error (SendRequest): connection closed before message completed"
        ));
        assert!(!stale_connection(
            "cannot reach http://127.0.0.1:8089/v1: client error (SendRequest): connection reset by peer"
        ));
    }

    #[test]
    fn the_answer_cap_follows_max_tokens() {
        let reading = Arc::new(Reading::new(Cast::manual([LineValue::new(7).unwrap(); 6])));
        let request = |max| {
            SectionRequest::new(
                reading.clone(),
                Arc::new(crate::model::Query::new("Q")),
                Section::OpeningStatements,
                vec![],
                max,
            )
        };
        assert_eq!(OpenAi::answer_cap(&request(1200)), 1200 * 8 + (16 << 10));
        assert!(OpenAi::answer_cap(&request(100)) < OpenAi::answer_cap(&request(4000)));
        // Whatever max_tokens says, the cap has a ceiling.
        assert_eq!(OpenAi::answer_cap(&request(u32::MAX)), MAX_ANSWER_BYTES);
        assert_eq!(OpenAi::answer_cap(&request(1_000_000)), MAX_ANSWER_BYTES);
    }
}
