//! Providers: whatever answers one section's request. `offline` answers from the embedded classic;
//! `openai` talks to any OpenAI-compatible chat-completions endpoint.

pub mod capacity;
pub mod limiter;
pub mod memory;
pub mod negotiate;
pub mod offline;
pub mod openai;
pub mod preset;
pub mod redact;
mod retry;
pub mod sse;
pub mod tokens;
mod wire;

use crate::model::Query;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use serde_json::value::RawValue;

use crate::events::{Progress, Usage};
use crate::oracle::Reading;
use crate::plan::{ChatMessage, Section, SectionMessages};

pub use limiter::Limiter;
pub use offline::Offline;
pub use openai::{OpenAi, OpenAiConfig};

/// Makes ring the process's TLS crypto provider. reqwest is built without one (its default,
/// aws-lc-rs, is a long C build) and panics when a client is built before one is installed, so
/// call this before building any `reqwest::Client`. Idempotent: a provider already installed
/// (by an earlier call or by the embedding program) stays.
pub fn install_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A boxed future, so providers can live behind `Arc<dyn Provider>`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One section's request.
#[derive(Clone)]
pub struct SectionRequest {
    /// The reading it belongs to (the offline provider reads its facts).
    pub reading: Arc<Reading>,
    /// The person's question and its situation.
    pub query: Arc<Query>,
    /// Which section.
    pub section: Section,
    /// System prompt, instruction and envelope.
    messages: Vec<ChatMessage>,
    /// `messages` as JSON, serialised once: the same bytes are sent and stored.
    messages_json: Arc<RawValue>,
    /// How many bytes at the start of `messages_json` every section of the reading shares.
    shared: usize,
    /// The most tokens the answer may take.
    pub max_tokens: u32,
    /// The language the settings ask for (`None`: the question's own); the messages say it.
    pub language: Option<Arc<str>>,
    /// Set when this is a follow-up question about the reading rather than a section: the
    /// question. `section` is then the synthesis, whose voice a follow-up answer continues (it
    /// only labels the request's events and log lines).
    pub followup: Option<Arc<str>>,
}

impl std::fmt::Debug for SectionRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The messages once, by size: they hold the question and the whole envelope.
        f.debug_struct("SectionRequest")
            .field("section", &self.section)
            .field("messages", &self.messages.len())
            .field("messages_bytes", &self.messages_json.get().len())
            .field("max_tokens", &self.max_tokens)
            .finish_non_exhaustive()
    }
}

impl SectionRequest {
    /// The request for `section` of `reading`, its messages serialised here, before any slot is
    /// waited for.
    pub fn new(
        reading: Arc<Reading>,
        query: Arc<Query>,
        section: Section,
        messages: Vec<ChatMessage>,
        max_tokens: u32,
    ) -> Self {
        Self::built(
            reading,
            query,
            section,
            SectionMessages::new(messages),
            max_tokens,
        )
    }

    /// The request for `section` of `reading`, with its messages already serialised.
    pub fn built(
        reading: Arc<Reading>,
        query: Arc<Query>,
        section: Section,
        messages: SectionMessages,
        max_tokens: u32,
    ) -> Self {
        Self {
            reading,
            query,
            section,
            messages: messages.messages,
            messages_json: Arc::from(messages.json),
            shared: messages.shared,
            max_tokens,
            language: None,
            followup: None,
        }
    }

    /// System prompt, instruction and envelope.
    pub fn messages(&self) -> &[ChatMessage] {
        &self.messages
    }

    /// The messages as a JSON array, exactly as the provider sends them; cloning the `Arc`
    /// shares the bytes (the store copies them once, when it seals them).
    pub fn messages_json(&self) -> &Arc<RawValue> {
        &self.messages_json
    }

    /// What [`SectionRequest::messages_json`] begins with that every section of the reading
    /// shares (the system prompt and the reading's JSON; empty when not known), which the store
    /// keeps once per reading.
    pub fn shared_prefix(&self) -> &str {
        self.messages_json
            .get()
            .get(..self.shared)
            .unwrap_or_default()
    }
}

/// A successful answer from a provider.
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    /// The answer's text as received.
    pub text: String,
    /// The answer parsed into paragraphs, by the provider's check that it is an answer (which
    /// refuses an answer with none); empty only from a provider that does not check.
    pub paragraphs: Vec<crate::answer::Paragraph>,
    /// Token counts.
    pub usage: Usage,
    /// The model that answered.
    pub model: String,
    /// Time to first token of the attempt that succeeded.
    pub ttft: Option<Duration>,
    /// Attempts made.
    pub attempts: u32,
    /// Tokens spent by the failed attempts before this one.
    pub failed_usage: Option<Usage>,
    /// Time spent waiting for the endpoint to take the request (held back by how many it serves
    /// at once, or by another request's probe), which is not the answer's latency.
    pub queued: Duration,
}

pub use crate::model::ErrorKind;

/// A failed request, in words a person can act on. Never contains the API key.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct ProviderError {
    /// What kind of failure.
    pub kind: ErrorKind,
    /// The HTTP status, when there was one.
    pub status: Option<u16>,
    /// The provider's message or ours.
    pub message: String,
    /// Attempts made before giving up.
    pub attempts: u32,
    /// Tokens the attempts spent, when the server reported them (a cut answer is billed too).
    pub usage: Option<Usage>,
}

impl ProviderError {
    /// An error of `kind` with `message`, after one attempt.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            status: None,
            message: message.into(),
            attempts: 1,
            usage: None,
        }
    }
}

/// Which provider answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderKind {
    /// The embedded classic.
    Offline,
    /// An OpenAI-compatible endpoint.
    OpenAi,
}

impl ProviderKind {
    /// The name stored with what it answered: "offline" or "openai".
    pub fn name(self) -> &'static str {
        match self {
            ProviderKind::Offline => "offline",
            ProviderKind::OpenAi => "openai",
        }
    }
}

/// Who and what a provider is, for status lines and stored parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderInfo {
    /// Which kind of provider.
    pub kind: ProviderKind,
    /// The model name.
    pub model: String,
    /// Where requests go (no credentials), empty for offline.
    pub endpoint: String,
}

impl ProviderInfo {
    /// Its kind's name, as stored: "offline" or "openai".
    pub fn name(&self) -> &'static str {
        self.kind.name()
    }
}

/// Answers one section's request at a time; many may run at once.
pub trait Provider: Send + Sync {
    /// Name, model and endpoint.
    fn info(&self) -> ProviderInfo;

    /// Answers `request`, reporting text as it arrives and retries as they happen on `progress`.
    fn complete<'a>(
        &'a self,
        request: &'a SectionRequest,
        progress: &'a Progress,
    ) -> BoxFuture<'a, Result<Completion, ProviderError>>;
}
