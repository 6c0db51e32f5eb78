//! The chat-completions wire format: the request body as this client sends it, and the parts of
//! responses, stream chunks, usage and error bodies that it reads (in the shapes OpenAI, vLLM,
//! LM Studio, Gemini and the rest actually send).

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::negotiate::Fields;
use super::preset::{Structured, TokenParam};
use crate::events::Usage;

/// A chat completion request. The top-level keys are in sorted order; each message is
/// `{"role", "content"}` in that order, as serialised once when the `SectionRequest` is built
/// (`plan::messages_with` writes the same bytes serde_json would).
#[derive(Serialize)]
pub struct RequestBody<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_completion_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    pub messages: &'a RawValue,
    pub model: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reasoning_effort: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_format: Option<serde_json::Value>,
    pub stream: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream_options: Option<StreamOptions>,
}

impl<'a> RequestBody<'a> {
    /// The body for `messages` with the negotiated `fields`.
    pub fn new(
        messages: &'a RawValue,
        model: &'a str,
        max_tokens: u32,
        fields: Fields,
        reasoning_effort: Option<&'a str>,
        stream: bool,
    ) -> Self {
        let (max_tokens, max_completion_tokens) = match fields.token_param {
            TokenParam::MaxTokens => (Some(max_tokens), None),
            TokenParam::MaxCompletionTokens => (None, Some(max_tokens)),
        };
        Self {
            max_completion_tokens,
            max_tokens,
            messages,
            model,
            reasoning_effort: reasoning_effort.filter(|_| fields.reasoning),
            response_format: response_format(fields.structured),
            stream,
            stream_options: (stream && fields.stream_options).then_some(StreamOptions {
                include_usage: true,
            }),
        }
    }
}

/// The `response_format` of a structured-output mode.
pub fn response_format(mode: Structured) -> Option<serde_json::Value> {
    match mode {
        Structured::Off => None,
        Structured::JsonObject => Some(serde_json::json!({"type": "json_object"})),
        // Strict: every object closed and every property required, as OpenAI demands; llama.cpp,
        // Ollama and vLLM turn the same schema into a grammar.
        Structured::JsonSchema => Some(serde_json::json!({
            "type": "json_schema",
            "json_schema": {
                "name": "section",
                "strict": true,
                "schema": {
                    "type": "object",
                    "properties": {
                        "response": {
                            "type": "array",
                            "items": {"type": "string"},
                            "minItems": 1
                        }
                    },
                    "required": ["response"],
                    "additionalProperties": false
                }
            }
        })),
    }
}

#[derive(Serialize)]
pub struct StreamOptions {
    pub include_usage: bool,
}

/// An error body in any of the shapes servers use: `{"error": {...}}` (OpenAI),
/// `{"error": "text"}` (LM Studio), `{"message": ..}` (vLLM), or a list of those (Gemini).
#[derive(Debug, Default)]
pub struct ApiError {
    pub message: Option<String>,
    pub kind: Option<String>,
    pub code: Option<String>,
}

impl ApiError {
    /// Reads what it can of `text`.
    pub fn parse(text: &str) -> Self {
        let Ok(value) = serde_json::from_str::<serde_json::Value>(text) else {
            return Self::default();
        };
        let value = match value {
            serde_json::Value::Array(mut items) if !items.is_empty() => items.swap_remove(0),
            v => v,
        };
        let string = |v: &serde_json::Value| match v {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Number(n) => Some(n.to_string()),
            _ => None,
        };
        let body = match value.get("error") {
            Some(serde_json::Value::String(s)) => {
                return Self {
                    message: Some(s.clone()),
                    ..Self::default()
                };
            }
            Some(e @ serde_json::Value::Object(_)) => e.clone(),
            _ => value,
        };
        Self {
            message: body.get("message").and_then(string),
            kind: body.get("type").and_then(string),
            code: body.get("code").and_then(string),
        }
    }
}

/// `usage` as servers report it.
#[derive(Debug, Deserialize)]
pub struct ApiUsage {
    #[serde(default)]
    pub prompt_tokens: u32,
    #[serde(default)]
    pub completion_tokens: u32,
    #[serde(default)]
    pub completion_tokens_details: Option<CompletionDetails>,
    #[serde(default)]
    pub prompt_tokens_details: Option<PromptDetails>,
}

#[derive(Debug, Deserialize)]
pub struct CompletionDetails {
    #[serde(default)]
    pub reasoning_tokens: Option<u32>,
}

#[derive(Debug, Deserialize)]
pub struct PromptDetails {
    #[serde(default)]
    pub cached_tokens: Option<u32>,
}

/// llama.cpp's `timings`, which say how much of the prompt came from its cache.
#[derive(Debug, Deserialize)]
pub struct Timings {
    #[serde(default)]
    pub cache_n: Option<u32>,
}

impl ApiUsage {
    /// As the app counts it; `timings` fills in cached tokens where `usage` does not say.
    pub fn to_usage(&self, timings: Option<&Timings>) -> Usage {
        let cached = self
            .prompt_tokens_details
            .as_ref()
            .and_then(|d| d.cached_tokens)
            .or_else(|| timings.and_then(|t| t.cache_n))
            .unwrap_or(0);
        Usage {
            reasoning_tokens: self
                .completion_tokens_details
                .as_ref()
                .and_then(|d| d.reasoning_tokens)
                .unwrap_or(0)
                .min(self.completion_tokens),
            cached_tokens: cached.min(self.prompt_tokens),
            ..Usage::reported(self.prompt_tokens, self.completion_tokens)
        }
    }
}

/// One `chat.completion.chunk`. Its strings borrow from the event's text where they have no
/// escapes: a stream is dozens to thousands of chunks, each naming the model again.
#[derive(Deserialize)]
pub struct StreamChunk<'a> {
    #[serde(default, borrow)]
    pub choices: Option<Vec<StreamChoice<'a>>>,
    #[serde(default)]
    pub usage: Option<ApiUsage>,
    #[serde(default)]
    pub timings: Option<Timings>,
    #[serde(default, borrow)]
    pub model: Option<Cow<'a, str>>,
    #[serde(default)]
    pub error: Option<Box<RawValue>>,
}

#[derive(Deserialize)]
pub struct StreamChoice<'a> {
    #[serde(default, borrow)]
    pub delta: Option<Delta<'a>>,
    #[serde(default, borrow)]
    pub finish_reason: Option<Cow<'a, str>>,
}

/// A delta of a stream, or a whole answer's `message` (the same shape): the answer, and the
/// reasoning some servers send beside it (`reasoning_content` from llama.cpp and DeepSeek,
/// `reasoning` from Ollama and OpenRouter).
#[derive(Deserialize)]
pub struct Delta<'a> {
    #[serde(default, borrow)]
    pub content: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub reasoning_content: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub reasoning: Option<Cow<'a, str>>,
}

impl Delta<'_> {
    /// The bytes of reasoning text, whichever field carries it.
    pub fn reasoning_len(&self) -> usize {
        self.reasoning_content.as_ref().map_or(0, |r| r.len())
            + self.reasoning.as_ref().map_or(0, |r| r.len())
    }
}

/// A whole (non-streamed) answer.
#[derive(Deserialize)]
pub struct WholeResponse<'a> {
    #[serde(default, borrow)]
    pub choices: Vec<WholeChoice<'a>>,
    #[serde(default)]
    pub usage: Option<ApiUsage>,
    #[serde(default)]
    pub timings: Option<Timings>,
    #[serde(default)]
    pub model: Option<String>,
}

#[derive(Deserialize)]
pub struct WholeChoice<'a> {
    #[serde(default, borrow)]
    pub message: Option<Delta<'a>>,
    #[serde(default)]
    pub finish_reason: Option<String>,
}

/// `GET /models`.
#[derive(Debug, Deserialize)]
pub struct ModelList {
    #[serde(default)]
    pub data: Vec<ModelEntry>,
    /// Ollama's native `/api/tags` shape, which some proxies pass through.
    #[serde(default)]
    pub models: Vec<ModelEntry>,
}

/// One listed model: `id` (OpenAI), else `name` or `model` (Ollama's native list); servers such
/// as llama.cpp send several of these at once.
#[derive(Debug, Deserialize)]
pub struct ModelEntry {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub model: Option<String>,
}

impl ModelEntry {
    /// The name to use in requests.
    pub fn id(self) -> Option<String> {
        self.id.or(self.name).or(self.model)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_in_every_shape() {
        let e = ApiError::parse(
            r#"{"error":{"message":"m1","type":"invalid_request_error","code":"unsupported_parameter"}}"#,
        );
        assert_eq!(e.message.as_deref(), Some("m1"));
        assert_eq!(e.code.as_deref(), Some("unsupported_parameter"));
        let e = ApiError::parse(r#"{"error":"'response_format.type' must be 'json_schema'"}"#);
        assert!(e.message.unwrap().contains("json_schema"));
        let e = ApiError::parse(
            r#"{"object":"error","message":"m3","type":"BadRequestError","code":400}"#,
        );
        assert_eq!(
            (e.message.as_deref(), e.code.as_deref()),
            (Some("m3"), Some("400"))
        );
        let e = ApiError::parse(
            r#"[{"error":{"code":400,"message":"m4","status":"INVALID_ARGUMENT"}}]"#,
        );
        assert_eq!(e.message.as_deref(), Some("m4"));
        assert!(ApiError::parse("<html>").message.is_none());
    }

    #[test]
    fn model_lists_of_every_shape() {
        let l: ModelList = serde_json::from_str(
            r#"{"object":"list","data":[{"id":"m1","name":"m1","model":"m1","object":"model"}],
                "models":[{"name":"llama3.2:latest","model":"llama3.2:latest"}]}"#,
        )
        .unwrap();
        let ids: Vec<String> = l
            .data
            .into_iter()
            .chain(l.models)
            .filter_map(ModelEntry::id)
            .collect();
        assert_eq!(ids, ["m1", "llama3.2:latest"]);
    }

    #[test]
    fn usage_keeps_reasoning_and_cached_tokens() {
        let u: ApiUsage = serde_json::from_str(
            r#"{"prompt_tokens":1300,"completion_tokens":900,"total_tokens":2200,
                "completion_tokens_details":{"reasoning_tokens":700,"audio_tokens":0},
                "prompt_tokens_details":{"cached_tokens":1024}}"#,
        )
        .unwrap();
        let u = u.to_usage(None);
        assert_eq!((u.reasoning_tokens, u.cached_tokens), (700, 1024));
        let bare: ApiUsage =
            serde_json::from_str(r#"{"prompt_tokens":10,"completion_tokens":5}"#).unwrap();
        let t: Timings = serde_json::from_str(r#"{"cache_n":8,"prompt_n":2}"#).unwrap();
        assert_eq!(bare.to_usage(Some(&t)).cached_tokens, 8);
        assert_eq!(bare.to_usage(None).cached_tokens, 0);
    }
}
