//! The `openai` provider: any OpenAI-compatible chat-completions endpoint (OpenAI, Ollama,
//! llama.cpp server, vLLM), streaming by default.
//!
//! One pooled reqwest client (rustls) serves the whole process. Each section is one request with
//! up to `max_attempts` attempts: 408, 409, 429 (but not `insufficient_quota`), 5xx, connection
//! errors, timeouts, and dropped, truncated or malformed streams are retried after the server's
//! Retry-After or a full-jitter backoff; 400, 401, 403, 404 and 422 never are. A stream only
//! counts as complete when it carried a finish reason or `[DONE]`.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use futures_util::StreamExt;
use reqwest::header::CONTENT_TYPE;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use tokio::time::{Instant, timeout};

use super::limiter::Limiter;
use super::retry::{backoff, retry_after};
use super::sse::SseDecoder;
use super::{
    BoxFuture, Completion, ErrorKind, Provider, ProviderError, ProviderInfo, SectionRequest, tokens,
};
use crate::config::Secret;
use crate::events::{EventKind, Progress, Usage, UsageSource};
use crate::response::sanitize_inline;

/// The largest answer accepted (a section is a few KiB; anything near this is not an answer).
const MAX_ANSWER_BYTES: usize = 8 << 20;

/// How to reach and use the endpoint.
#[derive(Debug, Clone)]
pub struct OpenAiConfig {
    /// Base URL, e.g. `https://api.openai.com/v1` (no trailing slash needed).
    pub base_url: String,
    /// Sent as a bearer token when not empty; never logged or shown.
    pub api_key: Secret,
    /// Model name.
    pub model: String,
    /// Use SSE streaming.
    pub stream: bool,
    /// Ask for `response_format: {"type": "json_object"}`.
    pub json_mode: bool,
    /// How long without a byte before an attempt counts as stalled.
    pub read_timeout: Duration,
    /// Attempts per section, counting the first.
    pub max_attempts: u32,
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
}

/// One failed attempt and the wait the server asked for.
struct AttemptError {
    error: ProviderError,
    retry_after: Option<Duration>,
}

impl From<ProviderError> for AttemptError {
    fn from(error: ProviderError) -> Self {
        Self {
            error,
            retry_after: None,
        }
    }
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
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .pool_max_idle_per_host(usize::MAX)
            .pool_idle_timeout(Duration::from_secs(90))
            .tcp_nodelay(true)
            .user_agent(concat!("iching/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| {
                ProviderError::new(
                    ErrorKind::Internal,
                    format!("cannot build the HTTP client: {e}"),
                )
            })?;
        let endpoint = redacted_url(&config.base_url);
        Ok(Self {
            client,
            url,
            endpoint,
            config,
            limiter,
        })
    }

    /// The request body for `request`, serialised once and reused by every attempt.
    fn body(&self, request: &SectionRequest) -> Vec<u8> {
        let body = RequestBody {
            max_tokens: request.max_tokens,
            messages: request.messages_json(),
            model: &self.config.model,
            response_format: self.config.json_mode.then_some(ResponseFormat {
                kind: "json_object",
            }),
            stream: self.config.stream,
            stream_options: self.config.stream.then_some(StreamOptions {
                include_usage: true,
            }),
        };
        serde_json::to_vec(&body).expect("strings and numbers always serialise")
    }

    /// Removes the API key from text that came from elsewhere (some servers echo it).
    fn scrub(&self, text: &str) -> String {
        let key = self.config.api_key.expose();
        let text = if key.len() >= 4 {
            text.replace(key, "[redacted]")
        } else {
            text.to_owned()
        };
        let clean = sanitize_inline(&text);
        match clean.char_indices().nth(300) {
            Some((i, _)) => format!("{}…", &clean[..i]),
            None => clean,
        }
    }

    async fn attempt(
        &self,
        request: &SectionRequest,
        body: &[u8],
        progress: &Progress,
    ) -> Result<Completion, AttemptError> {
        let started = Instant::now();
        let mut builder = self
            .client
            .post(&self.url)
            .header(CONTENT_TYPE, "application/json")
            .body(body.to_vec());
        if !self.config.api_key.is_empty() {
            builder = builder.bearer_auth(self.config.api_key.expose());
        }
        // Without streaming the head only comes once the whole answer is written.
        let head_timeout = if self.config.stream {
            self.config.read_timeout
        } else {
            self.config.read_timeout.saturating_mul(10)
        };
        let response = match timeout(head_timeout, builder.send()).await {
            Err(_) => {
                return Err(ProviderError::new(
                    ErrorKind::Timeout,
                    format!("no response within {} s", head_timeout.as_secs_f64()),
                )
                .into());
            }
            Ok(Err(e)) => return Err(self.transport_error(&e).into()),
            Ok(Ok(r)) => r,
        };
        self.limiter.observe(response.headers());
        let status = response.status();
        if !status.is_success() {
            return Err(self.status_error(response).await);
        }
        let is_sse = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("text/event-stream"));
        if self.config.stream && is_sse {
            self.read_stream(request, response, progress, started).await
        } else {
            self.read_whole(request, response, progress, started).await
        }
    }

    fn transport_error(&self, e: &reqwest::Error) -> ProviderError {
        // Anything else that fails before a response (DNS, TLS, refused) is a connection error.
        let kind = if e.is_timeout() {
            ErrorKind::Timeout
        } else {
            ErrorKind::Connect
        };
        let mut message = format!("cannot reach {}: {e}", self.endpoint);
        let mut source = std::error::Error::source(e);
        while let Some(s) = source {
            message.push_str(&format!(": {s}"));
            source = s.source();
        }
        // reqwest names the full URL, which may carry credentials: show the redacted one.
        let message = message.replace(&self.url, &format!("{}/chat/completions", self.endpoint));
        ProviderError::new(kind, self.scrub(&message))
    }

    /// The connection broke while the `what` (stream or answer) was coming in.
    fn dropped(&self, what: &str, e: &reqwest::Error) -> ProviderError {
        ProviderError::new(
            ErrorKind::Truncated,
            format!(
                "the connection dropped mid-{what}: {}",
                self.scrub(&e.to_string())
            ),
        )
    }

    /// Nothing arrived for the read timeout while the `what` was coming in.
    fn stalled(&self, what: &str) -> ProviderError {
        ProviderError::new(
            ErrorKind::Timeout,
            format!(
                "the {what} stalled: no data for {} s",
                self.config.read_timeout.as_secs_f64()
            ),
        )
    }

    async fn status_error(&self, response: reqwest::Response) -> AttemptError {
        let status = response.status();
        let wait = retry_after(response.headers(), SystemTime::now());
        let text = match timeout(self.config.read_timeout, read_limited(response, 64 * 1024)).await
        {
            Ok(Ok(t)) => t,
            Ok(Err(_)) | Err(_) => String::new(),
        };
        let detail: Option<ApiErrorBody> = serde_json::from_str::<ApiErrorEnvelope>(&text)
            .ok()
            .map(|e| e.error);
        let quota = detail.as_ref().is_some_and(|d| {
            d.code.as_deref() == Some("insufficient_quota")
                || d.kind.as_deref() == Some("insufficient_quota")
        });
        let kind = match status.as_u16() {
            429 if quota => ErrorKind::QuotaExceeded,
            429 => ErrorKind::RateLimited,
            401 | 403 => ErrorKind::Unauthorized,
            408 | 409 => ErrorKind::ServerError,
            s if s >= 500 => ErrorKind::ServerError,
            _ => ErrorKind::BadRequest,
        };
        let said = detail
            .and_then(|d| d.message)
            .unwrap_or_else(|| text.trim().to_owned());
        let hint = match kind {
            ErrorKind::Unauthorized => " (check OPENAI_API_KEY)",
            ErrorKind::QuotaExceeded => " (the account is out of quota; retrying will not help)",
            _ => "",
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
        AttemptError {
            error: ProviderError {
                status: Some(status.as_u16()),
                ..ProviderError::new(kind, message)
            },
            retry_after: wait,
        }
    }

    async fn read_stream(
        &self,
        request: &SectionRequest,
        response: reqwest::Response,
        progress: &Progress,
        started: Instant,
    ) -> Result<Completion, AttemptError> {
        let mut bytes = response.bytes_stream();
        let mut decoder = SseDecoder::new();
        let mut payloads = Vec::new();
        let mut text = String::new();
        let mut ttft = None;
        let mut usage = None;
        let mut model = None;
        let mut finished = false;
        let mut at_limit = false;
        let mut done = false;
        loop {
            let next = timeout(self.config.read_timeout, bytes.next()).await;
            let chunk = match next {
                Ok(Some(Ok(chunk))) => chunk,
                Ok(None) => break,
                // After a finish reason or [DONE] the answer is whole; a late hiccup does not undo it.
                Ok(Some(Err(_))) | Err(_) if done || finished => break,
                Ok(Some(Err(e))) => return Err(self.dropped("stream", &e).into()),
                Err(_) => return Err(self.stalled("stream").into()),
            };
            decoder.feed(&chunk, |p| payloads.push(p));
            if decoder.pending_len() + text.len() > MAX_ANSWER_BYTES {
                return Err(ProviderError::new(
                    ErrorKind::Malformed,
                    "the stream sent more than 8 MiB without ending an answer",
                )
                .into());
            }
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
                    return Err(ProviderError::new(
                        ErrorKind::ServerError,
                        format!(
                            "the server reported an error mid-stream: {}",
                            self.scrub(err.message.as_deref().unwrap_or("no message"))
                        ),
                    )
                    .into());
                }
                if let Some(m) = parsed.model.filter(|m| !m.is_empty()) {
                    model = Some(m);
                }
                if let Some(u) = parsed.usage {
                    usage = Some(u);
                }
                for choice in parsed.choices.into_iter().flatten() {
                    if let Some(content) = choice.delta.and_then(|d| d.content)
                        && !content.is_empty()
                    {
                        ttft.get_or_insert_with(|| started.elapsed());
                        text.push_str(&content);
                        progress.delta(content);
                    }
                    if let Some(reason) = &choice.finish_reason {
                        finished = true;
                        at_limit |= reason == "length";
                    }
                }
            }
        }
        if !(finished || done) {
            return Err(ProviderError::new(
                ErrorKind::Truncated,
                "the stream ended before the answer was finished (no finish reason or [DONE])",
            )
            .into());
        }
        if at_limit {
            return Err(cut_at_limit(request).into());
        }
        Ok(self.completion(request, text, usage, model, ttft))
    }

    async fn read_whole(
        &self,
        request: &SectionRequest,
        response: reqwest::Response,
        progress: &Progress,
        started: Instant,
    ) -> Result<Completion, AttemptError> {
        let mut bytes = response.bytes_stream();
        let mut body = Vec::new();
        loop {
            match timeout(self.config.read_timeout, bytes.next()).await {
                Ok(Some(Ok(chunk))) => {
                    body.extend_from_slice(&chunk);
                    if body.len() > MAX_ANSWER_BYTES {
                        return Err(ProviderError::new(
                            ErrorKind::Malformed,
                            "the answer is larger than 8 MiB",
                        )
                        .into());
                    }
                }
                Ok(None) => break,
                Ok(Some(Err(e))) => return Err(self.dropped("answer", &e).into()),
                Err(_) => return Err(self.stalled("answer").into()),
            }
        }
        let parsed: WholeResponse = serde_json::from_slice(&body).map_err(|e| {
            ProviderError::new(
                ErrorKind::Malformed,
                format!("the answer is not valid JSON ({e})"),
            )
        })?;
        let choice =
            parsed.choices.into_iter().next().ok_or_else(|| {
                ProviderError::new(ErrorKind::Malformed, "the answer has no choices")
            })?;
        if choice.finish_reason.as_deref() == Some("length") {
            return Err(cut_at_limit(request).into());
        }
        let text = choice
            .message
            .and_then(|m| m.content)
            .ok_or_else(|| ProviderError::new(ErrorKind::Malformed, "the answer has no content"))?;
        let ttft = Some(started.elapsed());
        progress.delta(text.clone());
        Ok(self.completion(request, text, parsed.usage, parsed.model, ttft))
    }

    fn completion(
        &self,
        request: &SectionRequest,
        text: String,
        usage: Option<ApiUsage>,
        model: Option<String>,
        ttft: Option<Duration>,
    ) -> Completion {
        let usage = match usage {
            Some(u) => Usage {
                prompt_tokens: u.prompt_tokens,
                completion_tokens: u.completion_tokens,
                source: UsageSource::Reported,
            },
            None => Usage {
                prompt_tokens: tokens::count_messages(request.messages()),
                completion_tokens: tokens::count(&text),
                source: UsageSource::Estimated,
            },
        };
        Completion {
            text,
            usage,
            // The server names the model: keep it short and harmless for terminals.
            model: model
                .map(|m| sanitize_inline(&m).chars().take(100).collect::<String>())
                .filter(|m| !m.trim().is_empty())
                .unwrap_or_else(|| self.config.model.clone()),
            ttft,
            attempts: 1,
        }
    }
}

/// An answer cut off by `max_tokens`: kept out of the store, and not retried.
fn cut_at_limit(request: &SectionRequest) -> ProviderError {
    ProviderError::new(
        ErrorKind::TooLong,
        format!(
            "the answer reached max_tokens ({}) before it was finished; raise max_tokens in config.toml",
            request.max_tokens
        ),
    )
}

/// `url` without user, password or query, so credentials put in a base URL never show.
fn redacted_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut u) => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.set_query(None);
            u.set_fragment(None);
            u.to_string().trim_end_matches('/').to_owned()
        }
        Err(_) => "(an invalid URL)".to_owned(),
    }
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

impl Provider for OpenAi {
    fn info(&self) -> ProviderInfo {
        ProviderInfo {
            name: "openai",
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
            let body = self.body(request);
            let estimate = if self.limiter.counts_tokens() {
                tokens::count_messages(request.messages()) + request.max_tokens
            } else {
                0
            };
            let max = self.config.max_attempts.max(1);
            let mut attempt = 1;
            loop {
                self.limiter.acquire(estimate).await;
                match self.attempt(request, &body, progress).await {
                    Ok(mut c) => {
                        c.attempts = attempt;
                        return Ok(c);
                    }
                    Err(AttemptError { error, retry_after }) => {
                        tracing::warn!(
                            section = %request.section,
                            attempt,
                            kind = error.kind.label(),
                            status = ?error.status,
                            "attempt failed"
                        );
                        if !error.kind.is_retryable() || attempt >= max {
                            let message = if attempt > 1 {
                                format!("{} (gave up after {attempt} attempts)", error.message)
                            } else {
                                error.message
                            };
                            return Err(ProviderError {
                                attempts: attempt,
                                message,
                                ..error
                            });
                        }
                        attempt += 1;
                        let wait = retry_after.unwrap_or_else(|| backoff(attempt));
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
                }
            }
        })
    }
}

/// A chat completion request. The top-level keys are sorted, as `serde_json::json!` gave them
/// before; each message is `{"role", "content"}` in that order, as serialised once in
/// [`SectionRequest::new`].
#[derive(Serialize)]
struct RequestBody<'a> {
    max_tokens: u32,
    messages: &'a RawValue,
    model: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    response_format: Option<ResponseFormat>,
    stream: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    stream_options: Option<StreamOptions>,
}

#[derive(Serialize)]
struct ResponseFormat {
    #[serde(rename = "type")]
    kind: &'static str,
}

#[derive(Serialize)]
struct StreamOptions {
    include_usage: bool,
}

#[derive(Deserialize)]
struct ApiErrorEnvelope {
    error: ApiErrorBody,
}

#[derive(Deserialize)]
struct ApiErrorBody {
    message: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    #[serde(default, deserialize_with = "code_as_string")]
    code: Option<String>,
}

fn code_as_string<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Option::<serde_json::Value>::deserialize(d)? {
        Some(serde_json::Value::String(s)) => Some(s),
        Some(serde_json::Value::Number(n)) => Some(n.to_string()),
        _ => None,
    })
}

#[derive(Deserialize)]
struct ApiUsage {
    #[serde(default)]
    prompt_tokens: u32,
    #[serde(default)]
    completion_tokens: u32,
}

#[derive(Deserialize)]
struct StreamChunk {
    #[serde(default)]
    choices: Option<Vec<StreamChoice>>,
    #[serde(default)]
    usage: Option<ApiUsage>,
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    error: Option<ApiErrorBody>,
}

#[derive(Deserialize)]
struct StreamChoice {
    #[serde(default)]
    delta: Option<Delta>,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct Delta {
    #[serde(default)]
    content: Option<String>,
}

#[derive(Deserialize)]
struct WholeResponse {
    #[serde(default)]
    choices: Vec<WholeChoice>,
    #[serde(default)]
    usage: Option<ApiUsage>,
    #[serde(default)]
    model: Option<String>,
}

#[derive(Deserialize)]
struct WholeChoice {
    #[serde(default)]
    message: Option<Message>,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct Message {
    #[serde(default)]
    content: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oracle::{Cast, LineValue, Reading};
    use crate::plan::{ChatMessage, Section};

    fn body(stream: bool, json_mode: bool) -> String {
        let config = OpenAiConfig {
            base_url: "http://127.0.0.1:9/v1".into(),
            api_key: Secret::new("sk-test"),
            model: "m-1".into(),
            stream,
            json_mode,
            read_timeout: Duration::from_secs(5),
            max_attempts: 1,
        };
        let provider = OpenAi::new(config, Arc::new(Limiter::new(None, None))).unwrap();
        let reading = Arc::new(Reading::new(Cast::manual([LineValue::new(7).unwrap(); 6])));
        let message = |role: &str, content: &str| ChatMessage {
            role: role.into(),
            content: content.into(),
        };
        let request = SectionRequest::new(
            reading,
            "Q".into(),
            Section::OpeningStatements,
            vec![message("system", "S \"quoted\""), message("user", "U\n")],
            300,
        );
        String::from_utf8(provider.body(&request)).unwrap()
    }

    #[test]
    fn the_request_body_is_pinned_for_every_mode() {
        let messages =
            r#"[{"role":"system","content":"S \"quoted\""},{"role":"user","content":"U\n"}]"#;
        assert_eq!(
            body(true, false),
            format!(
                r#"{{"max_tokens":300,"messages":{messages},"model":"m-1","stream":true,"stream_options":{{"include_usage":true}}}}"#
            )
        );
        assert_eq!(
            body(false, false),
            format!(r#"{{"max_tokens":300,"messages":{messages},"model":"m-1","stream":false}}"#)
        );
        assert_eq!(
            body(false, true),
            format!(
                r#"{{"max_tokens":300,"messages":{messages},"model":"m-1","response_format":{{"type":"json_object"}},"stream":false}}"#
            )
        );
        assert_eq!(
            body(true, true),
            format!(
                r#"{{"max_tokens":300,"messages":{messages},"model":"m-1","response_format":{{"type":"json_object"}},"stream":true,"stream_options":{{"include_usage":true}}}}"#
            )
        );
    }
}
