//! A fault-injecting fake of the OpenAI chat-completions endpoint.
//!
//! [`FakeOpenAi::start`] binds `127.0.0.1:0` and serves `POST /v1/chat/completions`
//! (plus `GET /v1/models`) on the current tokio runtime. Each request gets one
//! [`Fault`] (which may be [`Fault::Ok`]). A request with an unparseable `x-fake-fault`
//! header or a body that is not JSON gets a 400, and one without `Authorization: Bearer <key>`
//! when [`ServerConfig::api_key`] is set gets a 401 (both recorded as `Fault::Status`, neither
//! consuming the script). Otherwise the fault is chosen in this order:
//!
//! 1. the request header `x-fake-fault: <name>[:arg]` (see [`Fault::from_str`]);
//!    it does not consume the script;
//! 2. the script: faults queued with [`FakeOpenAi::push_faults`], consumed one per
//!    request in arrival order;
//! 3. with probability [`ServerConfig::fail_rate`], a random pick from
//!    [`ServerConfig::fail_faults`];
//! 4. [`ServerConfig::default_fault`] (by default [`Fault::Ok`]).
//!
//! Answers are either a chat-completion JSON object or, when the request has
//! `"stream": true`, an SSE stream of `chat.completion.chunk` objects ending in
//! `data: [DONE]`. Counters ([`ServerStats`]) are atomics; request recording takes
//! a short lock and can be turned off for benchmarks.
//!
//! # Behaving as OpenAI's real API is documented to
//!
//! These [`ServerConfig`] knobs are all off by default:
//!
//! - [`ServerConfig::reasoning_model`]: a request carrying `max_tokens` gets a 400 with exactly
//!   [`MAX_TOKENS_UNSUPPORTED`]; `max_completion_tokens` is the budget, and
//!   [`ServerConfig::reasoning_tokens`] of it are spent reasoning before any answer text. A
//!   budget spent reasoning gives a 200 with empty content, `finish_reason: "length"` and
//!   `completion_tokens == reasoning_tokens == budget`; an answer longer than what is left is
//!   cut there with `finish_reason: "length"`.
//! - [`ServerConfig::prompt_cache`]: `prompt_tokens_details.cached_tokens` is the longest common
//!   prefix (in the server's token estimate, characters / 4) between this request's message
//!   text and any earlier served request's, counted when at least
//!   [`ServerConfig::cache_min_tokens`] (OpenAI: 1024), rounded down to a multiple of
//!   [`ServerConfig::cache_increment`] (OpenAI: 128).
//! - [`ServerConfig::refuse_json_schema`]: a `response_format` of type `json_schema` gets a 400
//!   with exactly [`JSON_SCHEMA_UNSUPPORTED`].
//! - [`ServerConfig::require_json_word`]: `response_format: json_object` with no "json" in the
//!   messages gets OpenAI's 400 saying so.
//! - [`ServerConfig::error_body_delay`]: error responses send their head at once and their body
//!   that much later.
//!
//! # Holding answers until requests are in flight together
//!
//! [`ServerConfig::gate`] holds the body of every answer (after its head; error responses are
//! neither held nor counted) until a [`Gate`]'s number of answering requests are in flight at
//! once, so a test can assert `peak_in_flight` exactly instead of hoping that a latency outlasts
//! the machine's slowness. A gate opens once and stays open; it gives up after
//! [`GATE_PATIENCE`] (the test then fails on its counts, not by hanging). A client that waits
//! for one answer's text before sending the rest would wait out the patience: don't gate it.
//!
//! With `reasoning_model` or `prompt_cache`, `usage` carries `prompt_tokens_details` and
//! `completion_tokens_details` as OpenAI's does. In a stream, usage always comes in a final chunk
//! with `"choices": []` right before `data: [DONE]`, and only when the request asked for it with
//! `stream_options.include_usage`. Refusals (like the 401) are recorded as `Fault::Status(400)`,
//! counted in [`ServerStats::refused`], and do not consume the script. [`ServerStats`] also totals
//! the prompt, cached and reasoning tokens of the usage it served.
//!
//! # Hostile faults
//!
//! Besides the ordinary ones, [`Fault`] has servers that never end on their own: empty deltas
//! after one piece of text ([`Fault::EmptyDeltas`]), `: ping` comments ([`Fault::PingForever`]),
//! one byte of a valid answer at a time ([`Fault::Trickle`]), and no response head at all
//! ([`Fault::NoHead`]). They stop when the client hangs up (at the next write) or at shutdown.
//! [`Fault::Redirect`], [`Fault::EchoKey`], [`Fault::Huge`] and [`Fault::BareDone`] misbehave in
//! the ways their names say. Any request that reaches another path or method (a proxy `CONNECT`
//! included) is counted in [`ServerStats::other_requests`].

use std::collections::{BTreeMap, VecDeque};
use std::io;
use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::{get, post};
use serde_json::{Value, json};
use tokio::sync::{Notify, watch};

/// Request header that overrides the fault for one request: `x-fake-fault: <name>[:arg]`.
pub const FAULT_HEADER: &str = "x-fake-fault";

/// Response header naming the fault that was applied (its [`Fault::name`]).
pub const APPLIED_HEADER: &str = "x-fake-fault-applied";

/// The default answer: a valid `{"response": [...]}` object with two HTML paragraphs
/// (about 110 words).
pub const DEFAULT_CONTENT: &str = concat!(
    r#"{"response": ["<p>The hexagram speaks of a quiet strength that gathers before it acts. "#,
    r#"Like water filling every hollow before it moves on, your situation asks for patience, "#,
    r#"steady attention and a willingness to let small things ripen in their own time.</p>", "#,
    r#""<p>The changing line warns against forcing the outcome. Keep faith with the people "#,
    r#"who stand beside you, speak plainly, and do the modest work in front of you. "#,
    r#"When the moment turns, and it will, you will find the way already prepared, "#,
    r#"and what seemed like delay will reveal itself as the ground of success.</p>"]}"#
);

/// Content used by [`Fault::Garbage`]: prose that is not the JSON format, with an ANSI escape.
pub const GARBAGE_CONTENT: &str = "Sure! Here is your reading.\n\n\u{1b}[1;31mThe Creative\u{1b}[0m \
    works sublime success, furthering through perseverance. Strength that does not tire is asked \
    of you now: begin what you have been weighing, keep to what is right, and let the work \
    itself carry you forward. I hope this helps!";

/// Body of the corrupt SSE event inserted by [`Fault::CorruptChunk`] (after `data: `).
pub const CORRUPT_PAYLOAD: &str = "{not json";

/// The 400 body OpenAI sends a reasoning model that is given `max_tokens` (verbatim).
pub const MAX_TOKENS_UNSUPPORTED: &str = r#"{"error":{"message":"Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.","type":"invalid_request_error","param":"max_tokens","code":"unsupported_parameter"}}"#;

/// The 400 body OpenAI sends a model that does not take a `json_schema` response format.
pub const JSON_SCHEMA_UNSUPPORTED: &str = r#"{"error":{"message":"Invalid parameter: 'response_format' of type 'json_schema' is not supported with this model.","type":"invalid_request_error","param":null,"code":null}}"#;

/// The 400 body OpenAI sends for `json_object` when no message mentions JSON.
pub const JSON_WORD_REQUIRED: &str = r#"{"error":{"message":"'messages' must contain the word 'json' in some form, to use 'response_format' of type 'json_object'.","type":"invalid_request_error","param":"messages","code":null}}"#;

/// The body llama-cpp-python's server sends (HTTP 500) for `response_format: json_schema`: its
/// pydantic model takes only `text` and `json_object`.
pub const PYDANTIC_JSON_SCHEMA_500: &str = r#"{"error":{"message":"1 validation error for CreateChatCompletionRequest\nresponse_format.type\n  Input should be 'text' or 'json_object' [type=literal_error, input_value='json_schema', input_type=str]\n    For further information visit https://errors.pydantic.dev/2.11/v/literal_error","type":"internal_server_error","param":null,"code":null}}"#;

/// A FastAPI server's 422 for a `response_format` type it does not take.
pub const FASTAPI_JSON_SCHEMA_422: &str = r#"{"detail":[{"type":"literal_error","loc":["body","response_format","type"],"msg":"Input should be 'text' or 'json_object'","input":"json_schema","ctx":{"expected":"'text' or 'json_object'"}}]}"#;

/// Azure OpenAI's 400 (older api-versions) for `stream_options`.
pub const AZURE_STREAM_OPTIONS_400: &str = r#"{"error":{"message":"Unrecognized request argument supplied: stream_options","type":"invalid_request_error","param":null,"code":null}}"#;

/// What llama.cpp's server answers on every endpoint while it loads its model.
pub const LOADING_MODEL_503: &str =
    r#"{"error":{"code":503,"message":"Loading model","type":"unavailable_error"}}"#;

/// The error event llama.cpp's server sends mid-stream when its shared context is full.
pub const CONTEXT_EXCEEDED: &str =
    r#"{"error":{"code":500,"message":"Context size has been exceeded.","type":"server_error"}}"#;

/// How a server refuses a request field it does not know, in the shapes real servers use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refuser {
    /// llama-cpp-python's server: `json_schema` gets a 500 with a pydantic body.
    LlamaCppPython,
    /// A FastAPI server: `json_schema` gets a 422 with `detail[].loc`.
    FastApi,
    /// Azure OpenAI: `stream_options` gets a 400 "Unrecognized request argument".
    Azure,
    /// Any `response_format` gets this status with a body that names nothing ("Bad Request").
    Unnamed(u16),
}

/// How a one-slot server treats a second request while it streams an answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OneSlot {
    /// llama-cpp-python at its defaults (`interrupt_requests`): the running stream ends with a
    /// bare `data: [DONE]`, no finish reason, as soon as another request waits.
    Cut,
    /// The same server behind a proxy that passes the cut on as a clean answer: a finish reason
    /// `"stop"` after whatever text came, then `[DONE]`.
    CutAsEmpty,
}

/// The SSE comment [`Fault::PingForever`] sends.
pub const PING: &str = ": ping\n\n";

/// Content deltas of a [`Fault::Huge`] stream are about this long.
pub const HUGE_DELTA: usize = 1024;

const LIMIT_REQUESTS: u64 = 10_000;
const LIMIT_TOKENS: u64 = 2_000_000;

/// How a 429 tells the client to wait.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetryAfter {
    /// `retry-after: N` (seconds).
    Seconds(u64),
    /// `retry-after-ms: N`.
    Millis(u64),
    /// `retry-after: <IMF-fixdate>` (HTTP date, one-second resolution).
    HttpDate(SystemTime),
    /// No retry header at all.
    None,
}

/// What the server does with one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// A normal answer.
    Ok,
    /// A normal answer, but this latency (before the response head) replaces
    /// [`ServerConfig::latency`].
    Latency(Duration),
    /// A normal answer; this replaces [`ServerConfig::first_token_delay`] (SSE: wait after the
    /// head, before the first delta; JSON: extra wait before the head).
    SlowFirstToken(Duration),
    /// 429 with `{error:{message, type:"requests", code:"rate_limit_exceeded"}}` and the given
    /// retry header.
    RateLimited { retry_after: RetryAfter },
    /// 429 with `type` and `code` `"insufficient_quota"`, no retry header.
    InsufficientQuota,
    /// This HTTP status with an OpenAI-style error body whose message names the status.
    Status(u16),
    /// This HTTP status with an OpenAI-style error body whose message is this text, taken
    /// verbatim (what a hostile or broken server may say).
    StatusSaying(u16, String),
    /// SSE: role chunk and about half the deltas, then the connection is aborted.
    /// JSON: head, about half the body, then the connection is aborted.
    /// Either way the client sees a body error.
    DropMidStream,
    /// SSE: role chunk and about half the deltas, then the body ends cleanly, with no
    /// `finish_reason`, no usage and no `[DONE]`. JSON: the first half of the body, ending
    /// cleanly (so the JSON is truncated).
    CutWithoutFinish,
    /// SSE: a `data: {not json` event in the middle, the stream otherwise complete and normal.
    /// JSON: a 200 `application/json` body `{not json`.
    CorruptChunk,
    /// SSE: head, role chunk and first content delta, then nothing for the duration, then the
    /// rest. JSON: head and half the body, the pause, then the rest.
    Stall(Duration),
    /// A 200 whose content is [`GARBAGE_CONTENT`] (prose, not the JSON format).
    Garbage,
    /// A 200 whose content is this text.
    Content(String),
    /// A 200 with the content cut to half and `finish_reason: "length"`.
    Length,
    /// SSE: the role chunk and the first piece of text, then a chunk with
    /// `"delta": {"content": ""}` every interval, forever. JSON: the head, then a space every
    /// interval, forever.
    EmptyDeltas(Duration),
    /// SSE: the head, then a `: ping` comment every interval, forever (no data at all).
    /// JSON: the head, then a space every interval, forever.
    PingForever(Duration),
    /// A normal answer (SSE or JSON), one byte every interval.
    Trickle(Duration),
    /// 307 Temporary Redirect with `Location` set to this URL.
    Redirect(String),
    /// This HTTP status with an OpenAI-style error body whose message repeats the request's
    /// bearer key whole, upper-cased, and a 10-character piece of it.
    EchoKey(u16),
    /// A 200 whose content is this many bytes of prose (SSE: in deltas of about
    /// [`HUGE_DELTA`] bytes), made as it is sent.
    Huge(usize),
    /// SSE: role chunk and every content delta, then `data: [DONE]` with no finish reason and
    /// no usage. JSON: a whole answer with `finish_reason: null`.
    BareDone,
    /// The response head never comes (until the client hangs up or the server shuts down).
    NoHead,
}

/// Identifies a [`Fault`] variant, for [`ServerStats::by_fault`].
const FAULT_NAMES: [&str; 22] = [
    "ok",
    "latency",
    "slow_first_token",
    "rate_limited",
    "insufficient_quota",
    "status",
    "drop_mid_stream",
    "cut_without_finish",
    "corrupt_chunk",
    "stall",
    "garbage",
    "content",
    "length",
    "empty_deltas",
    "ping_forever",
    "trickle",
    "redirect",
    "echo_key",
    "huge",
    "bare_done",
    "no_head",
    "status_saying",
];

impl Fault {
    fn index(&self) -> usize {
        match self {
            Fault::Ok => 0,
            Fault::Latency(_) => 1,
            Fault::SlowFirstToken(_) => 2,
            Fault::RateLimited { .. } => 3,
            Fault::InsufficientQuota => 4,
            Fault::Status(_) => 5,
            Fault::DropMidStream => 6,
            Fault::CutWithoutFinish => 7,
            Fault::CorruptChunk => 8,
            Fault::Stall(_) => 9,
            Fault::Garbage => 10,
            Fault::Content(_) => 11,
            Fault::Length => 12,
            Fault::EmptyDeltas(_) => 13,
            Fault::PingForever(_) => 14,
            Fault::Trickle(_) => 15,
            Fault::Redirect(_) => 16,
            Fault::EchoKey(_) => 17,
            Fault::Huge(_) => 18,
            Fault::BareDone => 19,
            Fault::NoHead => 20,
            Fault::StatusSaying(..) => 21,
        }
    }

    /// The variant's snake_case name (`"rate_limited"`, `"drop_mid_stream"`, ...), as used in
    /// [`ServerStats::by_fault`] and the `x-fake-fault-applied` response header.
    pub fn name(&self) -> &'static str {
        FAULT_NAMES[self.index()]
    }

    /// Shorthand for `RateLimited { retry_after }`.
    pub fn rate_limited(retry_after: RetryAfter) -> Fault {
        Fault::RateLimited { retry_after }
    }
}

fn parse_duration(arg: &str) -> Result<Duration, String> {
    let arg = arg.trim();
    let (num, scale) = if let Some(n) = arg.strip_suffix("ms") {
        (n, 1)
    } else if let Some(n) = arg.strip_suffix('s') {
        (n, 1000)
    } else {
        (arg, 1)
    };
    num.trim()
        .parse::<u64>()
        .map(|n| Duration::from_millis(n * scale))
        .map_err(|_| format!("bad duration {arg:?} (want N, Nms or Ns)"))
}

impl FromStr for Fault {
    type Err = String;

    /// Parses the `x-fake-fault` header syntax `<name>[:arg]`. Names are case-insensitive and
    /// accept `-` or `_`. Durations are integer milliseconds, optionally suffixed `ms` or `s`.
    ///
    /// | header value | fault |
    /// |---|---|
    /// | `ok` | `Ok` |
    /// | `latency:<dur>` | `Latency` |
    /// | `slow-first-token:<dur>` | `SlowFirstToken` |
    /// | `rate-limited` | `RateLimited{Seconds(1)}` |
    /// | `rate-limited:<N>` or `:<N>s` | `RateLimited{Seconds(N)}` |
    /// | `rate-limited:<N>ms` | `RateLimited{Millis(N)}` (header `retry-after-ms`) |
    /// | `rate-limited:date=<N>` | `RateLimited{HttpDate(now + N s)}` |
    /// | `rate-limited:none` | `RateLimited{None}` |
    /// | `insufficient-quota` | `InsufficientQuota` |
    /// | `status:<code>` | `Status(code)` |
    /// | `status-saying:<code>:<text>` | `StatusSaying(code, text)` (the text is taken verbatim) |
    /// | `drop-mid-stream` | `DropMidStream` |
    /// | `cut-without-finish` | `CutWithoutFinish` |
    /// | `corrupt-chunk` | `CorruptChunk` |
    /// | `stall:<dur>` | `Stall` |
    /// | `garbage` | `Garbage` |
    /// | `content:<text>` | `Content(text)` (the text is taken verbatim) |
    /// | `length` | `Length` |
    /// | `empty-deltas:<dur>` | `EmptyDeltas` |
    /// | `ping-forever:<dur>` or `ping:<dur>` | `PingForever` |
    /// | `trickle:<dur>` | `Trickle` |
    /// | `redirect:<url>` | `Redirect(url)` (the URL is taken verbatim) |
    /// | `echo-key` | `EchoKey(401)` |
    /// | `echo-key:<code>` | `EchoKey(code)` |
    /// | `huge:<bytes>` | `Huge` |
    /// | `bare-done` | `BareDone` |
    /// | `no-head` | `NoHead` |
    fn from_str(s: &str) -> Result<Fault, String> {
        let (name, arg) = match s.split_once(':') {
            Some((n, a)) => (n, Some(a)),
            None => (s, None),
        };
        let name = name.trim().to_ascii_lowercase().replace('-', "_");
        let need =
            |what: &str| arg.ok_or_else(|| format!("fault {name} needs an argument ({what})"));
        let fault = match name.as_str() {
            "ok" => Fault::Ok,
            "latency" => Fault::Latency(parse_duration(need("duration")?)?),
            "slow_first_token" => Fault::SlowFirstToken(parse_duration(need("duration")?)?),
            "stall" => Fault::Stall(parse_duration(need("duration")?)?),
            "rate_limited" | "ratelimited" | "429" => {
                let retry_after = match arg.map(str::trim) {
                    None | Some("") => RetryAfter::Seconds(1),
                    Some(a) if a.eq_ignore_ascii_case("none") => RetryAfter::None,
                    Some(a) if a.starts_with("date=") => {
                        let secs: u64 = a["date=".len()..]
                            .trim()
                            .parse()
                            .map_err(|_| format!("bad date offset {a:?}"))?;
                        RetryAfter::HttpDate(SystemTime::now() + Duration::from_secs(secs))
                    }
                    Some(a) => {
                        if let Some(ms) = a.strip_suffix("ms") {
                            RetryAfter::Millis(
                                ms.trim().parse().map_err(|_| format!("bad millis {a:?}"))?,
                            )
                        } else {
                            let n = a.strip_suffix('s').unwrap_or(a);
                            RetryAfter::Seconds(
                                n.trim().parse().map_err(|_| format!("bad seconds {a:?}"))?,
                            )
                        }
                    }
                };
                Fault::RateLimited { retry_after }
            }
            "insufficient_quota" => Fault::InsufficientQuota,
            "status" => Fault::Status(
                need("HTTP status")?
                    .trim()
                    .parse()
                    .map_err(|_| format!("bad status {arg:?}"))?,
            ),
            "status_saying" => {
                let (code, text) = need("HTTP status:text")?
                    .split_once(':')
                    .ok_or_else(|| format!("fault {name} needs <status>:<text>"))?;
                let code = code
                    .trim()
                    .parse()
                    .map_err(|_| format!("bad status {code:?}"))?;
                Fault::StatusSaying(code, text.to_string())
            }
            "drop_mid_stream" | "drop" => Fault::DropMidStream,
            "cut_without_finish" | "cut" => Fault::CutWithoutFinish,
            "corrupt_chunk" | "corrupt" => Fault::CorruptChunk,
            "garbage" => Fault::Garbage,
            "content" => Fault::Content(arg.unwrap_or("").to_string()),
            "length" => Fault::Length,
            "empty_deltas" => Fault::EmptyDeltas(parse_duration(need("interval")?)?),
            "ping_forever" | "ping" => Fault::PingForever(parse_duration(need("interval")?)?),
            "trickle" => Fault::Trickle(parse_duration(need("interval")?)?),
            "redirect" => Fault::Redirect(need("URL")?.trim().to_string()),
            "echo_key" => Fault::EchoKey(match arg.map(str::trim) {
                None | Some("") => 401,
                Some(a) => a.parse().map_err(|_| format!("bad status {a:?}"))?,
            }),
            "huge" => Fault::Huge(
                need("byte count")?
                    .trim()
                    .parse()
                    .map_err(|_| format!("bad byte count {arg:?}"))?,
            ),
            "bare_done" => Fault::BareDone,
            "no_head" => Fault::NoHead,
            _ => return Err(format!("unknown fault {name:?}")),
        };
        Ok(fault)
    }
}

/// How long a [`Gate`] holds answers at most: far longer than any test needs to get its
/// requests in flight, short enough that a gate that never opens fails the test instead of
/// hanging it.
pub const GATE_PATIENCE: Duration = Duration::from_secs(60);

/// Holds answers until `n` answering requests are in flight together (see
/// [`ServerConfig::gate`]).
/// Clones share one state: keep a clone to ask [`Gate::opened`] afterwards.
#[derive(Clone, Debug)]
pub struct Gate(Arc<GateState>);

#[derive(Debug)]
struct GateState {
    n: u64,
    from_request: u64,
    in_flight: AtomicU64,
    open: AtomicBool,
    notify: Notify,
}

impl Gate {
    /// Holds every answer's body until `n` answering requests are in flight at once.
    pub fn in_flight(n: u64) -> Gate {
        Gate::build(n, 0)
    }

    /// Holds and counts only answers to requests from the `seq`-th on (0-based, in arrival
    /// order, as [`RecordedRequest::seq`]); earlier ones pass untouched.
    pub fn only_from_request(self, seq: u64) -> Gate {
        Gate::build(self.0.n, seq)
    }

    fn build(n: u64, from_request: u64) -> Gate {
        Gate(Arc::new(GateState {
            n,
            from_request,
            in_flight: AtomicU64::new(0),
            open: AtomicBool::new(false),
            notify: Notify::new(),
        }))
    }

    /// Whether `n` requests it holds were in flight together (the gate opened on its count,
    /// not on its patience).
    pub fn opened(&self) -> bool {
        self.0.open.load(Ordering::Acquire)
    }

    /// Whether request `seq` is held and counted.
    fn holds(&self, seq: u64) -> bool {
        seq >= self.0.from_request
    }

    fn arrive(&self) {
        let now = self.0.in_flight.fetch_add(1, Ordering::AcqRel) + 1;
        if now >= self.0.n && !self.0.open.swap(true, Ordering::AcqRel) {
            self.0.notify.notify_waiters();
        }
    }

    fn leave(&self) {
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }

    /// Waits until the gate opens, the server shuts down, or [`GATE_PATIENCE`] passes.
    async fn pass(&self, shutdown: &watch::Receiver<bool>) {
        let patience = tokio::time::sleep(GATE_PATIENCE);
        tokio::pin!(patience);
        let mut stop = shutdown.clone();
        loop {
            let opened = self.0.notify.notified();
            tokio::pin!(opened);
            // Registered before the check, so an opening in between is not missed.
            opened.as_mut().enable();
            if self.opened() {
                return;
            }
            tokio::select! {
                () = &mut opened => {}
                () = &mut patience => return,
                _ = stop.wait_for(|stop| *stop) => return,
            }
        }
    }
}

/// Default behaviour of the server. Build with struct update syntax:
/// `ServerConfig { latency: Duration::from_millis(5), ..Default::default() }`.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Wait before sending the response head (every response, errors included).
    pub latency: Duration,
    /// SSE: wait after the head before the first delta. JSON: added before the head.
    pub first_token_delay: Duration,
    /// SSE: wait between content deltas. JSON: `chunks * inter_chunk_delay` is added before
    /// the head, so both modes take about as long.
    pub inter_chunk_delay: Duration,
    /// Answer text; `None` means [`DEFAULT_CONTENT`].
    pub content: Option<String>,
    /// How many content deltas an SSE answer is split into (fewer if the text is shorter).
    pub chunks: usize,
    /// Include `usage` (JSON) / the usage chunk when `stream_options.include_usage` (SSE).
    pub send_usage: bool,
    /// Send `x-ratelimit-{limit,remaining,reset}-{requests,tokens}` headers.
    pub ratelimit_headers: bool,
    /// SSE quirks: `data:` without a space, `: keep-alive` comments, CRLF line endings, and
    /// events split across body frames.
    pub sse_quirks: bool,
    /// Record each request (arrival `Instant`, headers, `Authorization`); see
    /// [`FakeOpenAi::requests`].
    pub record_requests: bool,
    /// Also keep each parsed request body (only if `record_requests`).
    pub record_bodies: bool,
    /// Fault used when there is no header, no script entry and no random failure.
    pub default_fault: Fault,
    /// Probability (0.0..=1.0) that an unscripted request gets a random fault from
    /// `fail_faults`.
    pub fail_rate: f64,
    /// Pool for `fail_rate`.
    pub fail_faults: Vec<Fault>,
    /// If set, requests whose `Authorization` is not `Bearer <key>` get a 401
    /// `invalid_api_key` (counted as fault `"status"`).
    pub api_key: Option<String>,
    /// Behave as an OpenAI reasoning model: `max_tokens` is refused with
    /// [`MAX_TOKENS_UNSUPPORTED`], `max_completion_tokens` is the budget, and
    /// `reasoning_tokens` of it are spent before the answer.
    pub reasoning_model: bool,
    /// Tokens a reasoning model spends before answering (only with `reasoning_model`).
    pub reasoning_tokens: u64,
    /// Report `prompt_tokens_details.cached_tokens` for prompt prefixes seen before.
    pub prompt_cache: bool,
    /// The shortest common prefix, in tokens, that counts as cached (OpenAI: 1024).
    pub cache_min_tokens: u64,
    /// Cached tokens come in multiples of this (OpenAI: 128; 0 or 1 for exact counts).
    pub cache_increment: u64,
    /// Refuse `response_format: {"type": "json_schema"}` with [`JSON_SCHEMA_UNSUPPORTED`].
    pub refuse_json_schema: bool,
    /// Refuse `response_format: {"type": "json_object"}` when no message says "json"
    /// ([`JSON_WORD_REQUIRED`]).
    pub require_json_word: bool,
    /// Error responses (4xx, 5xx, refusals, 3xx) send their head at once and their body this
    /// much later, as a slow proxy or a loaded server may.
    pub error_body_delay: Duration,
    /// Holds each answer's body (after its head; errors pass) until the gate's count of
    /// answering requests are in flight together; see [`Gate`].
    pub gate: Option<Gate>,
    /// Refuses a request field as a kind of real server does (see [`Refuser`]).
    pub refuser: Option<Refuser>,
    /// One request is served at a time (its head is sent at once, its body when its turn comes,
    /// as llama-cpp-python's server does), and a running stream is cut when another request
    /// waits (see [`OneSlot`]).
    pub one_slot: Option<OneSlot>,
    /// `GET /props` answers llama.cpp's `{"total_slots": n, ...}`; `None`: no such endpoint.
    pub props_slots: Option<u64>,
    /// Every endpoint answers 503 "Loading model" ([`LOADING_MODEL_503`]) until this long after
    /// the server started, as llama.cpp's does while it loads.
    pub loading_for: Option<Duration>,
    /// A shared context with room for this many streamed answers at once (llama.cpp's unified KV
    /// cache at its defaults): a stream beyond it gets its role chunk, then
    /// [`CONTEXT_EXCEEDED`] as an error event, and ends.
    pub room_for: Option<u64>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            latency: Duration::ZERO,
            first_token_delay: Duration::ZERO,
            inter_chunk_delay: Duration::ZERO,
            content: None,
            chunks: 16,
            send_usage: true,
            ratelimit_headers: true,
            sse_quirks: false,
            record_requests: true,
            record_bodies: true,
            default_fault: Fault::Ok,
            fail_rate: 0.0,
            fail_faults: vec![
                Fault::RateLimited {
                    retry_after: RetryAfter::Millis(100),
                },
                Fault::Status(500),
                Fault::Status(503),
                Fault::DropMidStream,
            ],
            api_key: None,
            reasoning_model: false,
            reasoning_tokens: 0,
            prompt_cache: false,
            cache_min_tokens: 1024,
            cache_increment: 128,
            refuse_json_schema: false,
            require_json_word: false,
            error_body_delay: Duration::ZERO,
            gate: None,
            refuser: None,
            one_slot: None,
            props_slots: None,
            loading_for: None,
            room_for: None,
        }
    }
}

/// One received request (when [`ServerConfig::record_requests`]).
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    /// 0-based arrival number since start (not reset by `reset_stats`).
    pub seq: u64,
    /// When the request reached the handler.
    pub arrived: Instant,
    /// The fault applied.
    pub fault: Fault,
    /// The `Authorization` header value, if any (e.g. `"Bearer sk-..."`).
    pub authorization: Option<String>,
    /// All request headers.
    pub headers: HeaderMap,
    /// The parsed JSON body (`Value::Null` if not recorded or not JSON).
    pub body: Value,
    /// The field a 400 refused (`"max_tokens"`, `"response_format"`, `"messages"`), if any.
    pub refused: Option<&'static str>,
    /// The prompt tokens the server counted (characters / 4).
    pub prompt_tokens: u64,
    /// Of those, the ones reported as cached (0 unless `prompt_cache`).
    pub cached_tokens: u64,
}

/// A snapshot of the counters.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServerStats {
    /// Requests that arrived.
    pub requests: u64,
    /// Requests whose response body is not yet fully sent or dropped.
    pub in_flight: u64,
    /// Highest `in_flight` seen.
    pub peak_in_flight: u64,
    /// Responses (any status) whose body was sent to the end, cleanly.
    pub completed: u64,
    /// Responses that ended otherwise: client gone, [`Fault::DropMidStream`], shutdown.
    pub aborted: u64,
    /// Requests per applied fault name (see [`Fault::name`]); only non-zero entries.
    pub by_fault: BTreeMap<&'static str, u64>,
    /// Requests refused with a 400 for a field the model does not take (also in `by_fault`
    /// as `"status"`).
    pub refused: u64,
    /// Prompt tokens in the usage the server sent in full.
    pub prompt_tokens: u64,
    /// Of those, cached tokens.
    pub cached_tokens: u64,
    /// Reasoning tokens in the usage the server sent in full.
    pub reasoning_tokens: u64,
    /// Requests to any other path or method (a proxy `CONNECT` included).
    pub other_requests: u64,
    /// Streams a one-slot server cut because another request waited.
    pub cut_streams: u64,
    /// Requests answered 503 "Loading model" (chat, models and props together).
    pub loading: u64,
    /// `GET /props` requests.
    pub props_requests: u64,
    /// Streams ended with [`CONTEXT_EXCEEDED`] (see [`ServerConfig::room_for`]).
    pub context_errors: u64,
}

impl ServerStats {
    /// Count for a fault name such as `"rate_limited"` (0 if none).
    pub fn fault_count(&self, name: &str) -> u64 {
        self.by_fault.get(name).copied().unwrap_or(0)
    }
}

#[derive(Default)]
struct Counters {
    requests: AtomicU64,
    in_flight: AtomicU64,
    peak_in_flight: AtomicU64,
    completed: AtomicU64,
    aborted: AtomicU64,
    by_fault: [AtomicU64; FAULT_NAMES.len()],
    refused: AtomicU64,
    prompt_tokens: AtomicU64,
    cached_tokens: AtomicU64,
    reasoning_tokens: AtomicU64,
    other_requests: AtomicU64,
    cut_streams: AtomicU64,
    loading: AtomicU64,
    props_requests: AtomicU64,
    context_errors: AtomicU64,
}

struct Shared {
    config: Mutex<Arc<ServerConfig>>,
    script: Mutex<VecDeque<Fault>>,
    script_len: AtomicUsize,
    seq: AtomicU64,
    counters: Counters,
    records: Mutex<Vec<RecordedRequest>>,
    /// Message texts of the requests served so far (with `prompt_cache`).
    prompts: Mutex<Vec<String>>,
    shutdown: watch::Receiver<bool>,
    /// When the server started (for [`ServerConfig::loading_for`]).
    started: Instant,
    /// The one slot of [`ServerConfig::one_slot`].
    slot: Arc<tokio::sync::Semaphore>,
    /// Requests waiting for the slot.
    waiting: AtomicU64,
    /// Streamed answers holding room in the shared context ([`ServerConfig::room_for`]).
    in_context: AtomicU64,
}

/// Counts a request as waiting for the one slot until dropped (a client that hangs up while it
/// waits stops waiting).
struct Waiting(Arc<Shared>);

impl Waiting {
    fn new(shared: Arc<Shared>) -> Self {
        shared.waiting.fetch_add(1, Ordering::AcqRel);
        Self(shared)
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        self.0.waiting.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Shared {
    /// Whether the server is still loading its model.
    fn loading(&self, config: &ServerConfig) -> bool {
        config
            .loading_for
            .is_some_and(|d| self.started.elapsed() < d)
    }
}

/// The 503 a loading server sends.
fn loading_response(shared: &Shared) -> Response {
    shared.counters.loading.fetch_add(1, Ordering::Relaxed);
    json_response(StatusCode::SERVICE_UNAVAILABLE, LOADING_MODEL_503)
}

/// A JSON body with `status`, outside the chat endpoint's plans.
fn json_response(status: StatusCode, body: impl Into<Body>) -> Response {
    let mut resp = Response::new(body.into());
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Shared {
    fn next_scripted(&self) -> Option<Fault> {
        if self.script_len.load(Ordering::Acquire) == 0 {
            return None;
        }
        let mut q = lock(&self.script);
        let f = q.pop_front();
        self.script_len.store(q.len(), Ordering::Release);
        f
    }
}

/// The running fake server. Shuts down when dropped.
pub struct FakeOpenAi {
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown_tx: watch::Sender<bool>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl FakeOpenAi {
    /// Starts on `127.0.0.1:0` (a random port) on the current tokio runtime.
    ///
    /// # Panics
    /// Outside a tokio runtime, or if binding fails.
    pub fn start(config: ServerConfig) -> FakeOpenAi {
        Self::start_on(config, SocketAddr::from(([127, 0, 0, 1], 0))).expect("bind fake server")
    }

    /// Starts on the given address (port 0 for a random one) on the current tokio runtime.
    pub fn start_on(config: ServerConfig, addr: SocketAddr) -> io::Result<FakeOpenAi> {
        let socket = if addr.is_ipv4() {
            tokio::net::TcpSocket::new_v4()?
        } else {
            tokio::net::TcpSocket::new_v6()?
        };
        socket.set_reuseaddr(true)?;
        socket.set_nodelay(true)?;
        socket.bind(addr)?;
        // A deep backlog so thousands of simultaneous connects are not dropped.
        let listener = socket.listen(8192)?;
        let addr = listener.local_addr()?;
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let shared = Arc::new(Shared {
            config: Mutex::new(Arc::new(config)),
            script: Mutex::new(VecDeque::new()),
            script_len: AtomicUsize::new(0),
            seq: AtomicU64::new(0),
            counters: Counters::default(),
            records: Mutex::new(Vec::new()),
            prompts: Mutex::new(Vec::new()),
            shutdown: shutdown_rx.clone(),
            started: Instant::now(),
            slot: Arc::new(tokio::sync::Semaphore::new(1)),
            waiting: AtomicU64::new(0),
            in_context: AtomicU64::new(0),
        });
        let router = Router::new()
            .route("/v1/chat/completions", post(chat_completions))
            .route("/v1/models", get(models))
            .route("/props", get(props))
            .fallback(not_found)
            .with_state(shared.clone());
        let mut signal = shutdown_rx;
        let task = tokio::spawn(async move {
            let serve = axum::serve(listener, router).with_graceful_shutdown(async move {
                let _ = signal.wait_for(|stop| *stop).await;
            });
            let _ = serve.await;
        });
        Ok(FakeOpenAi {
            addr,
            shared,
            shutdown_tx,
            task: Some(task),
        })
    }

    /// `http://127.0.0.1:PORT/v1`
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// `http://127.0.0.1:PORT/v1/chat/completions`
    pub fn chat_url(&self) -> String {
        format!("{}/chat/completions", self.base_url())
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Appends faults to the script (consumed one per request, in arrival order).
    pub fn push_faults(&self, faults: impl IntoIterator<Item = Fault>) {
        let mut q = lock(&self.shared.script);
        q.extend(faults);
        self.shared.script_len.store(q.len(), Ordering::Release);
    }

    /// Appends one fault to the script.
    pub fn push_fault(&self, fault: Fault) {
        self.push_faults([fault]);
    }

    /// Empties the script.
    pub fn clear_faults(&self) {
        let mut q = lock(&self.shared.script);
        q.clear();
        self.shared.script_len.store(0, Ordering::Release);
    }

    /// Script entries not yet consumed.
    pub fn pending_faults(&self) -> usize {
        lock(&self.shared.script).len()
    }

    /// The current config.
    pub fn config(&self) -> ServerConfig {
        (**lock(&self.shared.config)).clone()
    }

    /// Replaces the config for requests arriving from now on.
    pub fn set_config(&self, config: ServerConfig) {
        *lock(&self.shared.config) = Arc::new(config);
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> ServerStats {
        let c = &self.shared.counters;
        let by_fault = FAULT_NAMES
            .iter()
            .zip(c.by_fault.iter())
            .filter_map(|(name, n)| {
                let n = n.load(Ordering::Relaxed);
                (n > 0).then_some((*name, n))
            })
            .collect();
        ServerStats {
            requests: c.requests.load(Ordering::Relaxed),
            in_flight: c.in_flight.load(Ordering::Relaxed),
            peak_in_flight: c.peak_in_flight.load(Ordering::Relaxed),
            completed: c.completed.load(Ordering::Relaxed),
            aborted: c.aborted.load(Ordering::Relaxed),
            by_fault,
            refused: c.refused.load(Ordering::Relaxed),
            prompt_tokens: c.prompt_tokens.load(Ordering::Relaxed),
            cached_tokens: c.cached_tokens.load(Ordering::Relaxed),
            reasoning_tokens: c.reasoning_tokens.load(Ordering::Relaxed),
            other_requests: c.other_requests.load(Ordering::Relaxed),
            cut_streams: c.cut_streams.load(Ordering::Relaxed),
            loading: c.loading.load(Ordering::Relaxed),
            props_requests: c.props_requests.load(Ordering::Relaxed),
            context_errors: c.context_errors.load(Ordering::Relaxed),
        }
    }

    /// Zeroes the counters (the peak becomes the current in-flight count) and forgets the
    /// recorded requests. Does not touch the script or the prompt cache.
    pub fn reset_stats(&self) {
        let c = &self.shared.counters;
        c.requests.store(0, Ordering::Relaxed);
        c.completed.store(0, Ordering::Relaxed);
        c.aborted.store(0, Ordering::Relaxed);
        c.peak_in_flight
            .store(c.in_flight.load(Ordering::Relaxed), Ordering::Relaxed);
        for n in c.by_fault.iter().chain([
            &c.refused,
            &c.prompt_tokens,
            &c.cached_tokens,
            &c.reasoning_tokens,
            &c.other_requests,
            &c.cut_streams,
            &c.loading,
            &c.props_requests,
            &c.context_errors,
        ]) {
            n.store(0, Ordering::Relaxed);
        }
        lock(&self.shared.records).clear();
    }

    /// Recorded requests, in arrival order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        let mut v = lock(&self.shared.records).clone();
        v.sort_by_key(|r| r.seq);
        v
    }

    /// Recorded request bodies, in arrival order.
    pub fn received(&self) -> Vec<Value> {
        self.requests().into_iter().map(|r| r.body).collect()
    }

    /// Recorded `Authorization` header values (`None` where absent), in arrival order.
    pub fn authorizations(&self) -> Vec<Option<String>> {
        self.requests()
            .into_iter()
            .map(|r| r.authorization)
            .collect()
    }

    /// Recorded arrival times, in arrival order.
    pub fn arrivals(&self) -> Vec<Instant> {
        self.requests().into_iter().map(|r| r.arrived).collect()
    }

    /// Time between consecutive arrivals (`arrivals()[i+1] - arrivals()[i]`).
    pub fn gaps(&self) -> Vec<Duration> {
        self.arrivals()
            .windows(2)
            .map(|w| w[1].saturating_duration_since(w[0]))
            .collect()
    }

    /// Waits until nothing is in flight; `false` if `timeout` passed first.
    pub async fn wait_idle(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if self.shared.counters.in_flight.load(Ordering::Acquire) == 0 {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    /// Stops accepting connections, aborts responses in progress, and waits (up to 5 s)
    /// for the server task to end.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown_tx.send(true);
        if let Some(task) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
        }
    }

    /// [`FakeOpenAi::shutdown`] without its 5 s cap: returns only once the server task has
    /// ended, so a test can tell that the shutdown finished rather than timed out (put a
    /// guard around it against a hang).
    pub async fn shutdown_and_wait(mut self) {
        let _ = self.shutdown_tx.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for FakeOpenAi {
    fn drop(&mut self) {
        let _ = self.shutdown_tx.send(true);
        // The graceful-shutdown path closes the listener and idle connections; in-flight
        // bodies see the shutdown flag and abort.
    }
}

/// Counts a request as in flight until dropped; moved into the response body stream.
struct InFlight {
    shared: Arc<Shared>,
    done: bool,
    /// The gate that holds this request's body, if one does.
    gate: Option<Gate>,
    /// The one slot, held while this request is served (with [`ServerConfig::one_slot`]).
    slot: Option<tokio::sync::OwnedSemaphorePermit>,
    /// What the stream ends with when it is cut at a [`Step::CutPoint`].
    cut_ending: Option<Vec<Bytes>>,
    /// Whether this stream holds room in the shared context.
    in_context: bool,
    /// Whether its body waits for the one slot first.
    wants_slot: bool,
}

impl InFlight {
    fn new(shared: Arc<Shared>) -> InFlight {
        let c = &shared.counters;
        let now = c.in_flight.fetch_add(1, Ordering::AcqRel) + 1;
        c.peak_in_flight.fetch_max(now, Ordering::AcqRel);
        InFlight {
            shared,
            done: false,
            gate: None,
            slot: None,
            cut_ending: None,
            in_context: false,
            wants_slot: false,
        }
    }

    /// Counts this request at `gate` (which then holds its body).
    fn hold_at(&mut self, gate: Gate) {
        gate.arrive();
        self.gate = Some(gate);
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if let Some(gate) = &self.gate {
            gate.leave();
        }
        if self.in_context {
            self.shared.in_context.fetch_sub(1, Ordering::AcqRel);
        }
        let c = &self.shared.counters;
        if self.done {
            c.completed.fetch_add(1, Ordering::Relaxed);
        } else {
            c.aborted.fetch_add(1, Ordering::Relaxed);
        }
        c.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Pause before an intentional abort so that the data before it is flushed to the client
/// (hyper discards buffered output when the body errors).
const FLUSH_PAUSE: Duration = Duration::from_millis(10);

/// One step of a response body.
enum Step {
    Sleep(Duration),
    Data(Bytes),
    Abort,
    /// Where a one-slot server looks whether another request waits, and if one does, ends the
    /// stream with its cut ending instead of the rest.
    CutPoint,
}

type Steps = Box<dyn Iterator<Item = Step> + Send>;

struct BodyState {
    steps: Steps,
    guard: InFlight,
    shutdown: watch::Receiver<bool>,
    finished: bool,
    /// Whether the gate (if any) was passed.
    passed: bool,
}

fn abort_error(why: &str) -> io::Error {
    io::Error::new(io::ErrorKind::ConnectionAborted, why.to_string())
}

/// Turns a plan (which may never end) into a body; the in-flight guard lives (and dies) with
/// the body. A plan that never ends stops at the first write after the client hangs up.
fn plan_body<I>(steps: I, guard: InFlight, shutdown: watch::Receiver<bool>) -> Body
where
    I: IntoIterator<Item = Step>,
    I::IntoIter: Send + 'static,
{
    let state = BodyState {
        steps: Box::new(steps.into_iter()),
        guard,
        shutdown,
        finished: false,
        passed: false,
    };
    let stream = futures_util::stream::unfold(state, |mut st| async move {
        if st.finished {
            return None;
        }
        if !st.passed {
            st.passed = true;
            if let Some(gate) = st.guard.gate.clone() {
                gate.pass(&st.shutdown).await;
            }
            if st.guard.wants_slot {
                let shared = st.guard.shared.clone();
                let waiting = Waiting::new(shared.clone());
                let mut stop = st.shutdown.clone();
                let permit = tokio::select! {
                    p = shared.slot.clone().acquire_owned() => p.ok(),
                    _ = stop.wait_for(|stop| *stop) => None,
                };
                drop(waiting);
                st.guard.slot = permit;
            }
        }
        loop {
            match st.steps.next() {
                None => {
                    // Dropping the state here (not later) counts the request as completed.
                    st.guard.done = true;
                    drop(st);
                    return None;
                }
                Some(Step::Sleep(d)) => {
                    if d.is_zero() {
                        continue;
                    }
                    let mut rx = st.shutdown.clone();
                    tokio::select! {
                        () = tokio::time::sleep(d) => {}
                        _ = rx.wait_for(|stop| *stop) => {
                            st.finished = true;
                            return Some((Err(abort_error("fake server shutting down")), st));
                        }
                    }
                }
                Some(Step::Data(b)) => {
                    if *st.shutdown.borrow() {
                        st.finished = true;
                        return Some((Err(abort_error("fake server shutting down")), st));
                    }
                    return Some((Ok(b), st));
                }
                Some(Step::Abort) => {
                    st.finished = true;
                    return Some((Err(abort_error("fake fault: drop mid stream")), st));
                }
                Some(Step::CutPoint) => {
                    if st.guard.shared.waiting.load(Ordering::Acquire) > 0
                        && let Some(ending) = st.guard.cut_ending.take()
                    {
                        st.guard
                            .shared
                            .counters
                            .cut_streams
                            .fetch_add(1, Ordering::Relaxed);
                        st.steps = Box::new(ending.into_iter().map(Step::Data));
                    }
                }
            }
        }
    });
    Body::from_stream(stream)
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

fn random_or_default(config: &ServerConfig, seq: u64) -> Fault {
    if config.fail_rate > 0.0 && !config.fail_faults.is_empty() {
        let roll = (splitmix(seq ^ 0x5eed) >> 11) as f64 / (1u64 << 53) as f64;
        if roll < config.fail_rate {
            let pick =
                splitmix(seq.wrapping_mul(31).wrapping_add(7)) as usize % config.fail_faults.len();
            return config.fail_faults[pick].clone();
        }
    }
    config.default_fault.clone()
}

fn prompt_chars(body: &Value) -> usize {
    let Some(messages) = body.get("messages").and_then(Value::as_array) else {
        return 0;
    };
    messages
        .iter()
        .map(|m| match m.get("content") {
            Some(Value::String(s)) => s.chars().count(),
            Some(Value::Array(parts)) => parts
                .iter()
                .map(|p| {
                    p.get("text")
                        .and_then(Value::as_str)
                        .map_or(0, |t| t.chars().count())
                })
                .sum(),
            Some(Value::Null) | None => 0,
            Some(other) => other.to_string().len(),
        })
        .sum()
}

/// Splits `s` into at most `n` pieces of about equal length, on char boundaries.
fn split_pieces(s: &str, n: usize) -> Vec<&str> {
    let chars = s.chars().count();
    if chars == 0 {
        return Vec::new();
    }
    let n = n.clamp(1, chars);
    let mut out = Vec::with_capacity(n);
    let mut rest = s;
    for i in 0..n {
        let remaining_pieces = n - i;
        let remaining_chars = rest.chars().count();
        let take = remaining_chars.div_ceil(remaining_pieces);
        let cut = rest.char_indices().nth(take).map_or(rest.len(), |(i, _)| i);
        out.push(&rest[..cut]);
        rest = &rest[cut..];
    }
    out
}

fn half_at_char_boundary(s: &str) -> usize {
    let mut cut = s.len() / 2;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    cut
}

fn error_body(message: &str, kind: &str, code: Option<&str>) -> Bytes {
    Bytes::from(
        json!({"error": {"message": message, "type": kind, "param": null, "code": code}})
            .to_string(),
    )
}

struct Ctx {
    seq: u64,
    config: Arc<ServerConfig>,
    fault: Fault,
    model: String,
    stream: bool,
    include_usage: bool,
    prompt_tokens: u64,
    cached_tokens: u64,
    max_completion_tokens: Option<u64>,
}

impl Ctx {
    /// `usage` as OpenAI sends it (with the details objects in the real-API modes).
    fn usage(&self, completion_tokens: u64, reasoning_tokens: u64) -> Value {
        let mut u = json!({
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": self.prompt_tokens + completion_tokens,
        });
        if self.config.reasoning_model || self.config.prompt_cache {
            u["prompt_tokens_details"] = json!({
                "cached_tokens": self.cached_tokens,
                "audio_tokens": 0,
            });
            u["completion_tokens_details"] = json!({
                "reasoning_tokens": reasoning_tokens,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            });
        }
        u
    }

    fn ratelimit_headers(&self, headers: &mut HeaderMap, exhausted: bool) {
        if !self.config.ratelimit_headers {
            return;
        }
        let rem_req = if exhausted {
            0
        } else {
            LIMIT_REQUESTS - (self.seq % LIMIT_REQUESTS) - 1
        };
        let rem_tok = if exhausted {
            0
        } else {
            LIMIT_TOKENS.saturating_sub((self.prompt_tokens + 200) * (self.seq % 1000 + 1))
        };
        let pairs: [(&str, String); 6] = [
            ("x-ratelimit-limit-requests", LIMIT_REQUESTS.to_string()),
            ("x-ratelimit-limit-tokens", LIMIT_TOKENS.to_string()),
            ("x-ratelimit-remaining-requests", rem_req.to_string()),
            ("x-ratelimit-remaining-tokens", rem_tok.to_string()),
            (
                "x-ratelimit-reset-requests",
                if exhausted { "1s" } else { "6ms" }.to_string(),
            ),
            (
                "x-ratelimit-reset-tokens",
                if exhausted { "6m0s" } else { "12ms" }.to_string(),
            ),
        ];
        for (k, v) in pairs {
            if let Ok(v) = HeaderValue::from_str(&v) {
                headers.insert(k, v);
            }
        }
    }
}

fn response(
    status: StatusCode,
    content_type: &'static str,
    mut headers: HeaderMap,
    body: Body,
    seq: u64,
    fault_name: &'static str,
) -> Response {
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(&format!("req_fake_{seq}")) {
        headers.insert("x-request-id", v);
    }
    headers.insert(APPLIED_HEADER, HeaderValue::from_static(fault_name));
    let mut resp = Response::new(body);
    *resp.status_mut() = status;
    *resp.headers_mut() = headers;
    resp
}

fn status_error(code: u16) -> (StatusCode, Bytes) {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let reason = status.canonical_reason().unwrap_or("Unknown");
    let (kind, err_code, detail) = match status.as_u16() {
        400 => ("invalid_request_error", None, "the request was malformed"),
        401 => (
            "invalid_request_error",
            Some("invalid_api_key"),
            "incorrect API key provided",
        ),
        403 => (
            "invalid_request_error",
            Some("unsupported_country_region_territory"),
            "access denied",
        ),
        404 => (
            "invalid_request_error",
            Some("model_not_found"),
            "the model does not exist or you do not have access to it",
        ),
        408 => ("timeout", None, "the request timed out"),
        409 => ("conflict", None, "the request conflicted with another"),
        422 => (
            "invalid_request_error",
            None,
            "the request was unprocessable",
        ),
        500..=599 => (
            "server_error",
            None,
            "the server had an error while processing your request",
        ),
        _ => ("invalid_request_error", None, "fake error"),
    };
    let message = format!("Fake {} {reason}: {detail}.", status.as_u16());
    (status, error_body(&message, kind, err_code))
}

async fn sleep_or_shutdown(d: Duration, shutdown: &watch::Receiver<bool>) -> bool {
    if d.is_zero() {
        return !*shutdown.borrow();
    }
    let mut rx = shutdown.clone();
    tokio::select! {
        () = tokio::time::sleep(d) => true,
        _ = rx.wait_for(|stop| *stop) => false,
    }
}

async fn chat_completions(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    raw: Bytes,
) -> Response {
    let arrived = Instant::now();
    let config = lock(&shared.config).clone();
    if shared.loading(&config) {
        return loading_response(&shared);
    }
    let mut guard = InFlight::new(shared.clone());
    let seq = shared.seq.fetch_add(1, Ordering::Relaxed);
    shared.counters.requests.fetch_add(1, Ordering::Relaxed);

    let parsed: Result<Value, _> = serde_json::from_slice(&raw);
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);

    // Requests that are refused outright (bad fault header, wrong API key, body not JSON, a
    // field the model does not take) get a 400/401 and do not consume the script.
    let header_fault = headers.get(FAULT_HEADER).map(|v| {
        v.to_str()
            .map_err(|e| e.to_string())
            .and_then(Fault::from_str)
    });
    let key_ok = match &config.api_key {
        Some(key) => authorization
            .as_deref()
            .and_then(|a| a.strip_prefix("Bearer "))
            .is_some_and(|k| k == key),
        None => true,
    };
    let is_json = parsed.is_ok();
    let body = parsed.unwrap_or(Value::Null);
    let refusal = if is_json {
        refusal(&config, &body)
    } else {
        None
    };
    let (fault, early_error) = match header_fault {
        Some(Err(e)) => (
            Fault::Status(400),
            Some((
                StatusCode::BAD_REQUEST,
                error_body(
                    &format!("bad {FAULT_HEADER} header: {e}"),
                    "invalid_request_error",
                    None,
                ),
            )),
        ),
        _ if !key_ok => (Fault::Status(401), Some(status_error(401))),
        _ if !is_json => (
            Fault::Status(400),
            Some((
                StatusCode::BAD_REQUEST,
                error_body(
                    "We could not parse the JSON body of your request.",
                    "invalid_request_error",
                    None,
                ),
            )),
        ),
        _ if refusal.is_some() => {
            shared.counters.refused.fetch_add(1, Ordering::Relaxed);
            let (status, body) = refusal.map_or((400, ""), |(_, status, b)| (status, b));
            (
                Fault::Status(status),
                Some((
                    StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
                    Bytes::from_static(body.as_bytes()),
                )),
            )
        }
        // Header, then script, then random failure, then the default.
        Some(Ok(f)) => (f, None),
        None => (
            shared
                .next_scripted()
                .unwrap_or_else(|| random_or_default(&config, seq)),
            None,
        ),
    };
    shared.counters.by_fault[fault.index()].fetch_add(1, Ordering::Relaxed);

    let prompt_tokens = (prompt_chars(&body) / 4) as u64;
    let answers = early_error.is_none() && fault.answers();
    let cached_tokens = if config.prompt_cache && answers {
        shared.cache(prompt_text(&body), &config).min(prompt_tokens)
    } else {
        0
    };
    if config.record_requests {
        let rec = RecordedRequest {
            seq,
            arrived,
            fault: fault.clone(),
            authorization: authorization.clone(),
            headers: headers.clone(),
            body: if config.record_bodies {
                body.clone()
            } else {
                Value::Null
            },
            refused: refusal.map(|(field, _, _)| field),
            prompt_tokens,
            cached_tokens,
        };
        lock(&shared.records).push(rec);
    }

    let ctx = Ctx {
        seq,
        model: body
            .get("model")
            .and_then(Value::as_str)
            .unwrap_or("gpt-fake")
            .to_string(),
        stream: body.get("stream").and_then(Value::as_bool).unwrap_or(false),
        include_usage: body
            .pointer("/stream_options/include_usage")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        prompt_tokens,
        cached_tokens,
        max_completion_tokens: body.get("max_completion_tokens").and_then(Value::as_u64),
        config,
        fault,
    };
    let fault_name = ctx.fault.name();
    let shutdown = shared.shutdown.clone();

    let latency = match &ctx.fault {
        Fault::Latency(d) => *d,
        _ => ctx.config.latency,
    };

    if let Some((status, bytes)) = early_error {
        let alive = sleep_or_shutdown(latency, &shutdown).await;
        let steps = if alive {
            vec![Step::Sleep(ctx.config.error_body_delay), Step::Data(bytes)]
        } else {
            vec![Step::Abort]
        };
        return response(
            status,
            "application/json",
            HeaderMap::new(),
            plan_body(steps, guard, shutdown),
            seq,
            fault_name,
        );
    }

    if ctx.fault == Fault::NoHead {
        // No head, ever: only the end of the server (or of this future) ends the wait.
        let mut rx = shutdown.clone();
        let _ = rx.wait_for(|stop| *stop).await;
        return response(
            StatusCode::OK,
            "application/json",
            HeaderMap::new(),
            plan_body([Step::Abort], guard, shutdown),
            seq,
            fault_name,
        );
    }

    // A one-slot server takes requests one at a time. Its response head goes out at once, as
    // llama-cpp-python's does; the body waits for the request's turn.
    guard.wants_slot = ctx.config.one_slot.is_some() && ctx.fault.answers();

    // Error faults: status + JSON body after the latency.
    let mut resp_headers = HeaderMap::new();
    let error = match &ctx.fault {
        Fault::RateLimited { retry_after } => {
            let (wait_text, header) = match retry_after {
                RetryAfter::Seconds(s) => (format!("{s}s"), Some(("retry-after", s.to_string()))),
                RetryAfter::Millis(ms) => {
                    (format!("{ms}ms"), Some(("retry-after-ms", ms.to_string())))
                }
                RetryAfter::HttpDate(t) => {
                    let secs = t
                        .duration_since(SystemTime::now())
                        .map_or(0, |d| d.as_secs());
                    (
                        format!("{secs}s"),
                        Some(("retry-after", httpdate::fmt_http_date(*t))),
                    )
                }
                RetryAfter::None => ("a moment".to_string(), None),
            };
            if let Some((k, v)) = header
                && let Ok(v) = HeaderValue::from_str(&v)
            {
                resp_headers.insert(k, v);
            }
            ctx.ratelimit_headers(&mut resp_headers, true);
            let message = format!(
                "Rate limit reached for {} in organization org-fake on requests per min (RPM): \
                 Limit {LIMIT_REQUESTS}, Used {LIMIT_REQUESTS}, Requested 1. \
                 Please try again in {wait_text}.",
                ctx.model
            );
            Some((
                StatusCode::TOO_MANY_REQUESTS,
                error_body(&message, "requests", Some("rate_limit_exceeded")),
            ))
        }
        Fault::InsufficientQuota => Some((
            StatusCode::TOO_MANY_REQUESTS,
            error_body(
                "You exceeded your current quota, please check your plan and billing details.",
                "insufficient_quota",
                Some("insufficient_quota"),
            ),
        )),
        Fault::Status(code) => Some(status_error(*code)),
        Fault::StatusSaying(code, message) => Some((
            StatusCode::from_u16(*code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            error_body(message, "invalid_request_error", None),
        )),
        Fault::Redirect(location) => {
            if let Ok(v) = HeaderValue::from_str(location) {
                resp_headers.insert(header::LOCATION, v);
            }
            Some((
                StatusCode::TEMPORARY_REDIRECT,
                error_body("This endpoint has moved.", "invalid_request_error", None),
            ))
        }
        Fault::EchoKey(code) => Some(echo_key_error(*code, authorization.as_deref())),
        _ => None,
    };
    if let Some((status, bytes)) = error {
        let alive = sleep_or_shutdown(latency, &shutdown).await;
        let steps = if alive {
            vec![Step::Sleep(ctx.config.error_body_delay), Step::Data(bytes)]
        } else {
            vec![Step::Abort]
        };
        return response(
            status,
            "application/json",
            resp_headers,
            plan_body(steps, guard, shutdown),
            seq,
            fault_name,
        );
    }

    // An answer, not an error: the gate (if any) counts it and holds its body.
    if let Some(gate) = ctx.config.gate.as_ref().filter(|g| g.holds(seq)) {
        guard.hold_at(gate.clone());
    }
    ctx.ratelimit_headers(&mut resp_headers, false);
    let first_token = match &ctx.fault {
        Fault::SlowFirstToken(d) => *d,
        _ => ctx.config.first_token_delay,
    };
    let huge;
    let full_content: &str = match &ctx.fault {
        Fault::Garbage => GARBAGE_CONTENT,
        Fault::Content(s) => s,
        Fault::Huge(n) if !ctx.stream => {
            huge = huge_text(0, *n);
            &huge
        }
        _ => ctx.config.content.as_deref().unwrap_or(DEFAULT_CONTENT),
    };
    let (content, finish) = if ctx.fault == Fault::Length {
        (
            &full_content[..half_at_char_boundary(full_content)],
            "length",
        )
    } else {
        (full_content, "stop")
    };
    let spent = spend(&ctx, content, finish);
    let pieces = match ctx.fault {
        // Sent whole in frames (JSON) or made as it goes (SSE), never split up front.
        Fault::Huge(_) => Vec::new(),
        _ => split_pieces(spent.content, ctx.config.chunks),
    };
    let usage = ctx.usage(spent.completion_tokens, spent.reasoning_tokens);
    let id = format!("chatcmpl-fake{seq}");
    let created = unix_now();

    if ctx.stream {
        if !sleep_or_shutdown(latency, &shutdown).await {
            return response(
                StatusCode::OK,
                "text/event-stream; charset=utf-8",
                resp_headers,
                plan_body(vec![Step::Abort], guard, shutdown),
                seq,
                fault_name,
            );
        }
        resp_headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        let chunker = Chunker {
            id,
            created,
            model: ctx.model.clone(),
            usage_field: ctx.include_usage && ctx.config.send_usage,
            framer: Framer {
                quirks: ctx.config.sse_quirks,
            },
        };
        guard.cut_ending = ctx.config.one_slot.map(|mode| match mode {
            OneSlot::Cut => vec![chunker.framer.event("[DONE]")],
            OneSlot::CutAsEmpty => vec![
                chunker
                    .framer
                    .event(&chunker.chunk(json!({}), Some("stop"))),
                chunker.framer.event("[DONE]"),
            ],
        });
        if let Some(room) = ctx.config.room_for {
            if shared.in_context.fetch_add(1, Ordering::AcqRel) < room {
                guard.in_context = true;
            } else {
                shared.in_context.fetch_sub(1, Ordering::AcqRel);
                shared
                    .counters
                    .context_errors
                    .fetch_add(1, Ordering::Relaxed);
                let steps = vec![
                    Step::Sleep(first_token),
                    Step::Data(chunker.framer.event(
                        &chunker.chunk(json!({"role": "assistant", "content": null}), None),
                    )),
                    Step::Data(chunker.framer.event(CONTEXT_EXCEEDED)),
                ];
                return response(
                    StatusCode::OK,
                    "text/event-stream; charset=utf-8",
                    resp_headers,
                    plan_body(steps, guard, shutdown),
                    seq,
                    fault_name,
                );
            }
        }
        let steps: Steps = if let Fault::Huge(n) = &ctx.fault {
            let usage = ctx.usage((*n / 4).max(1) as u64, 0);
            if chunker.usage_field {
                shared.served(&ctx, 0);
            }
            huge_sse(chunker, *n, usage, first_token)
        } else {
            let (steps, usage_sent) =
                sse_plan(&ctx, &chunker, &pieces, spent.finish, &usage, first_token);
            if usage_sent {
                shared.served(&ctx, spent.reasoning_tokens);
            }
            steps
        };
        return response(
            StatusCode::OK,
            "text/event-stream; charset=utf-8",
            resp_headers,
            plan_body(steps, guard, shutdown),
            seq,
            fault_name,
        );
    }

    // JSON mode: simulate the whole generation time before the head.
    let generation = first_token + ctx.config.inter_chunk_delay * pieces.len() as u32;
    if !sleep_or_shutdown(latency + generation, &shutdown).await {
        return response(
            StatusCode::OK,
            "application/json",
            resp_headers,
            plan_body(vec![Step::Abort], guard, shutdown),
            seq,
            fault_name,
        );
    }
    let finish_reason = if ctx.fault == Fault::BareDone {
        Value::Null
    } else {
        json!(spent.finish)
    };
    let mut obj = json!({
        "id": id,
        "object": "chat.completion",
        "created": created,
        "model": ctx.model,
        "system_fingerprint": "fp_fake",
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": spent.content, "refusal": null},
            "logprobs": null,
            "finish_reason": finish_reason,
        }],
    });
    if ctx.config.send_usage {
        obj["usage"] = usage;
    }
    let text = Bytes::from(obj.to_string());
    let half = text.len() / 2;
    let whole = !matches!(
        ctx.fault,
        Fault::CorruptChunk
            | Fault::DropMidStream
            | Fault::CutWithoutFinish
            | Fault::EmptyDeltas(_)
            | Fault::PingForever(_)
    );
    if whole && ctx.config.send_usage {
        shared.served(&ctx, spent.reasoning_tokens);
    }
    let steps: Steps = match &ctx.fault {
        Fault::CorruptChunk => {
            Box::new([Step::Data(Bytes::from_static(CORRUPT_PAYLOAD.as_bytes()))].into_iter())
        }
        Fault::DropMidStream => Box::new(
            [
                Step::Data(text.slice(..half)),
                Step::Sleep(FLUSH_PAUSE),
                Step::Abort,
            ]
            .into_iter(),
        ),
        Fault::CutWithoutFinish => Box::new([Step::Data(text.slice(..half))].into_iter()),
        Fault::Stall(d) => Box::new(
            [
                Step::Data(text.slice(..half)),
                Step::Sleep(*d),
                Step::Data(text.slice(half..)),
            ]
            .into_iter(),
        ),
        // Whitespace before a JSON value is still JSON: bytes that say nothing, forever.
        Fault::EmptyDeltas(d) | Fault::PingForever(d) => {
            let d = *d;
            Box::new(
                std::iter::repeat_with(move || {
                    [Step::Sleep(d), Step::Data(Bytes::from_static(b" "))]
                })
                .flatten(),
            )
        }
        Fault::Trickle(d) => trickle(vec![Step::Data(text)], *d),
        Fault::Huge(_) => {
            let frames: Vec<Step> = (0..text.len())
                .step_by(64 << 10)
                .map(|at| Step::Data(text.slice(at..(at + (64 << 10)).min(text.len()))))
                .collect();
            Box::new(frames.into_iter())
        }
        _ => Box::new([Step::Data(text)].into_iter()),
    };
    response(
        StatusCode::OK,
        "application/json",
        resp_headers,
        plan_body(steps, guard, shutdown),
        seq,
        fault_name,
    )
}

impl Fault {
    /// Whether the request is served an answer (a 200 that a model produced), so its prompt
    /// would be processed and cached.
    fn answers(&self) -> bool {
        !matches!(
            self,
            Fault::RateLimited { .. }
                | Fault::InsufficientQuota
                | Fault::Status(_)
                | Fault::StatusSaying(..)
                | Fault::Redirect(_)
                | Fault::EchoKey(_)
                | Fault::NoHead
        )
    }
}

impl Shared {
    /// The cached tokens of a prompt (the longest prefix it shares with one served before, if
    /// long enough), remembering it for later requests.
    fn cache(&self, text: String, config: &ServerConfig) -> u64 {
        let mut prompts = lock(&self.prompts);
        let common = prompts
            .iter()
            .map(|p| common_prefix_chars(p, &text))
            .max()
            .unwrap_or(0);
        if !prompts.contains(&text) {
            prompts.push(text);
        }
        let tokens = (common / 4) as u64;
        if tokens < config.cache_min_tokens.max(1) {
            return 0;
        }
        match config.cache_increment {
            0 | 1 => tokens,
            n => tokens / n * n,
        }
    }

    /// Counts the usage of an answer whose usage went out in full.
    fn served(&self, ctx: &Ctx, reasoning_tokens: u64) {
        let c = &self.counters;
        c.prompt_tokens
            .fetch_add(ctx.prompt_tokens, Ordering::Relaxed);
        c.cached_tokens
            .fetch_add(ctx.cached_tokens, Ordering::Relaxed);
        c.reasoning_tokens
            .fetch_add(reasoning_tokens, Ordering::Relaxed);
    }
}

fn common_prefix_chars(a: &str, b: &str) -> usize {
    a.chars().zip(b.chars()).take_while(|(x, y)| x == y).count()
}

/// The request's messages as one text: every content (or text part) in order, as counted for
/// `prompt_tokens`.
fn prompt_text(body: &Value) -> String {
    let Some(messages) = body.get("messages").and_then(Value::as_array) else {
        return String::new();
    };
    let mut out = String::new();
    for m in messages {
        match m.get("content") {
            Some(Value::String(s)) => out.push_str(s),
            Some(Value::Array(parts)) => {
                for p in parts {
                    if let Some(t) = p.get("text").and_then(Value::as_str) {
                        out.push_str(t);
                    }
                }
            }
            Some(Value::Null) | None => {}
            Some(other) => out.push_str(&other.to_string()),
        }
    }
    out
}

/// The field of `body` the configured server refuses, the status and the body saying so.
fn refusal(config: &ServerConfig, body: &Value) -> Option<(&'static str, u16, &'static str)> {
    let present = |key: &str| body.get(key).is_some_and(|v| !v.is_null());
    if config.reasoning_model && present("max_tokens") {
        return Some(("max_tokens", 400, MAX_TOKENS_UNSUPPORTED));
    }
    let format = body
        .pointer("/response_format/type")
        .and_then(Value::as_str);
    if config.refuse_json_schema && format == Some("json_schema") {
        return Some(("response_format", 400, JSON_SCHEMA_UNSUPPORTED));
    }
    match config.refuser {
        Some(Refuser::LlamaCppPython) if format == Some("json_schema") => {
            return Some(("response_format", 500, PYDANTIC_JSON_SCHEMA_500));
        }
        Some(Refuser::FastApi) if format == Some("json_schema") => {
            return Some(("response_format", 422, FASTAPI_JSON_SCHEMA_422));
        }
        Some(Refuser::Azure) if present("stream_options") => {
            return Some(("stream_options", 400, AZURE_STREAM_OPTIONS_400));
        }
        Some(Refuser::Unnamed(status)) if format.is_some() => {
            return Some(("response_format", status, "Bad Request"));
        }
        _ => {}
    }
    if config.require_json_word
        && format == Some("json_object")
        && !prompt_text(body).to_ascii_lowercase().contains("json")
    {
        return Some(("messages", 400, JSON_WORD_REQUIRED));
    }
    None
}

/// An error body that repeats the bearer key three ways: whole, upper-cased, and a piece.
fn echo_key_error(code: u16, authorization: Option<&str>) -> (StatusCode, Bytes) {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::UNAUTHORIZED);
    let key = authorization.map_or("(none)", |a| a.strip_prefix("Bearer ").unwrap_or(a));
    let chars: Vec<char> = key.chars().collect();
    let start = chars.len().saturating_sub(10) / 2;
    let piece: String = chars.iter().skip(start).take(10).collect();
    let message = format!(
        "Incorrect API key provided: {key}. As we stored it: {}. It ends in ...{piece}... \
         You can find your API key at https://platform.openai.com/account/api-keys.",
        key.to_uppercase()
    );
    (
        status,
        error_body(&message, "invalid_request_error", Some("invalid_api_key")),
    )
}

/// What an answer spent: the content sent, how it ended, and its completion and reasoning
/// tokens.
struct Spent<'a> {
    content: &'a str,
    finish: &'static str,
    completion_tokens: u64,
    reasoning_tokens: u64,
}

/// A reasoning model spends its reasoning first out of `max_completion_tokens`, then writes
/// what is left of the answer; other models write it all.
fn spend<'a>(ctx: &Ctx, content: &'a str, finish: &'static str) -> Spent<'a> {
    let tokens = (content.chars().count() / 4).max(1) as u64;
    if !ctx.config.reasoning_model {
        return Spent {
            content,
            finish,
            completion_tokens: tokens,
            reasoning_tokens: 0,
        };
    }
    let budget = ctx.max_completion_tokens.unwrap_or(u64::MAX);
    let reasoning = ctx.config.reasoning_tokens.min(budget);
    let left = budget - reasoning;
    if left == 0 {
        return Spent {
            content: "",
            finish: "length",
            completion_tokens: budget,
            reasoning_tokens: reasoning,
        };
    }
    if tokens > left {
        let keep = usize::try_from(left.saturating_mul(4)).unwrap_or(usize::MAX);
        let cut = content
            .char_indices()
            .nth(keep)
            .map_or(content.len(), |(i, _)| i);
        return Spent {
            content: &content[..cut],
            finish: "length",
            completion_tokens: budget,
            reasoning_tokens: reasoning,
        };
    }
    Spent {
        content,
        finish,
        completion_tokens: reasoning + tokens,
        reasoning_tokens: reasoning,
    }
}

/// The unit [`Fault::Huge`] repeats.
const HUGE_UNIT: &str = "The river runs on and on, and the answer with it, past every limit. ";

/// Bytes `from..from + len` of [`HUGE_UNIT`] repeated forever.
fn huge_text(from: usize, len: usize) -> String {
    HUGE_UNIT
        .chars()
        .cycle()
        .skip(from % HUGE_UNIT.len())
        .take(len)
        .collect()
}

/// Splits a plan's bytes into one-byte frames, `every` apart.
fn trickle(steps: Vec<Step>, every: Duration) -> Steps {
    let mut all = Vec::new();
    for step in steps {
        if let Step::Data(b) = step {
            all.extend_from_slice(&b);
        }
    }
    Box::new(all.into_iter().enumerate().flat_map(move |(i, b)| {
        let pause = if i == 0 { Duration::ZERO } else { every };
        [Step::Sleep(pause), Step::Data(Bytes::from(vec![b]))]
    }))
}

/// A stream of `n` bytes of answer, made as it goes.
fn huge_sse(chunker: Chunker, n: usize, usage: Value, first_token: Duration) -> Steps {
    let mut head = Vec::new();
    head.push(Step::Sleep(first_token));
    head.push(Step::Data(chunker.framer.event(&chunker.chunk(
        json!({"role": "assistant", "content": "", "refusal": null}),
        None,
    ))));
    let chunker = Arc::new(chunker);
    let deltas = {
        let chunker = chunker.clone();
        (0..n).step_by(HUGE_DELTA).map(move |at| {
            let piece = huge_text(at, HUGE_DELTA.min(n - at));
            Step::Data(
                chunker
                    .framer
                    .event(&chunker.chunk(json!({"content": piece}), None)),
            )
        })
    };
    let mut tail = vec![Step::Data(
        chunker
            .framer
            .event(&chunker.chunk(json!({}), Some("stop"))),
    )];
    if chunker.usage_field {
        tail.push(Step::Data(
            chunker.framer.event(&chunker.usage_chunk(usage)),
        ));
    }
    tail.push(Step::Data(chunker.framer.event("[DONE]")));
    Box::new(head.into_iter().chain(deltas).chain(tail))
}

/// SSE event framing, plain or quirky.
struct Framer {
    quirks: bool,
}

impl Framer {
    fn event(&self, payload: &str) -> Bytes {
        if self.quirks {
            Bytes::from(format!("data:{payload}\r\n\r\n"))
        } else {
            Bytes::from(format!("data: {payload}\n\n"))
        }
    }

    fn comment(&self) -> Bytes {
        Bytes::from_static(if self.quirks {
            b": keep-alive\r\n\r\n"
        } else {
            b": keep-alive\n\n"
        })
    }

    /// Pushes an event; with quirks, sometimes as two body frames split mid-line.
    fn push(&self, steps: &mut Vec<Step>, payload: &str, split: bool) {
        let ev = self.event(payload);
        if self.quirks && split && ev.len() > 8 {
            let cut = ev.len() / 2;
            steps.push(Step::Data(ev.slice(..cut)));
            steps.push(Step::Data(ev.slice(cut..)));
        } else {
            steps.push(Step::Data(ev));
        }
    }
}

/// Builds the chunks of one stream.
struct Chunker {
    id: String,
    created: u64,
    model: String,
    /// Every chunk carries `"usage": null` and a usage chunk ends the stream.
    usage_field: bool,
    framer: Framer,
}

impl Chunker {
    fn chunk(&self, delta: Value, finish_reason: Option<&str>) -> String {
        let mut c = json!({
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "system_fingerprint": "fp_fake",
            "choices": [{
                "index": 0,
                "delta": delta,
                "logprobs": null,
                "finish_reason": finish_reason,
            }],
        });
        if self.usage_field {
            c["usage"] = Value::Null;
        }
        c.to_string()
    }

    /// The last chunk before `[DONE]`: no choices, the usage.
    fn usage_chunk(&self, usage: Value) -> String {
        let mut u = json!({
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "system_fingerprint": "fp_fake",
            "choices": [],
            "usage": usage,
        });
        if self.framer.quirks {
            // Harmless extra field, as real servers add them over time.
            u["service_tier"] = json!("default");
        }
        u.to_string()
    }
}

/// The steps of a stream, and whether they carry the usage chunk.
fn sse_plan(
    ctx: &Ctx,
    chunker: &Chunker,
    pieces: &[&str],
    finish: &str,
    usage: &Value,
    first_token: Duration,
) -> (Steps, bool) {
    let framer = &chunker.framer;
    let chunk = |delta: Value, finish_reason: Option<&str>| chunker.chunk(delta, finish_reason);

    if let Fault::PingForever(d) = ctx.fault {
        let ping = Bytes::from_static(PING.as_bytes());
        let pings = std::iter::repeat_with(move || [Step::Data(ping.clone()), Step::Sleep(d)]);
        return (Box::new(pings.flatten()), false);
    }

    let mut steps = Vec::with_capacity(pieces.len() * 2 + 8);
    if framer.quirks {
        steps.push(Step::Data(framer.comment()));
    }
    steps.push(Step::Sleep(first_token));
    framer.push(
        &mut steps,
        &chunk(
            json!({"role": "assistant", "content": "", "refusal": null}),
            None,
        ),
        false,
    );
    let empty_deltas = |steps: Vec<Step>, d: Duration| -> Steps {
        let empty = framer.event(&chunk(json!({"content": ""}), None));
        let forever =
            std::iter::repeat_with(move || [Step::Sleep(d), Step::Data(empty.clone())]).flatten();
        Box::new(steps.into_iter().chain(forever))
    };
    let half = pieces.len() / 2;
    for (i, piece) in pieces.iter().enumerate() {
        if i > 0 {
            steps.push(Step::Sleep(ctx.config.inter_chunk_delay));
        }
        match &ctx.fault {
            Fault::DropMidStream if i == half.max(1) => {
                steps.push(Step::Sleep(FLUSH_PAUSE));
                steps.push(Step::Abort);
                return (Box::new(steps.into_iter()), false);
            }
            Fault::CutWithoutFinish if i == half.max(1) => {
                return (Box::new(steps.into_iter()), false);
            }
            Fault::EmptyDeltas(d) if i == 1 => return (empty_deltas(steps, *d), false),
            Fault::CorruptChunk if i == half => {
                steps.push(Step::Data(framer.event(CORRUPT_PAYLOAD)));
            }
            Fault::Stall(d) if i == 1 => steps.push(Step::Sleep(*d)),
            _ => {}
        }
        if framer.quirks && i > 0 && i % 5 == 0 {
            steps.push(Step::Data(framer.comment()));
        }
        if ctx.config.one_slot.is_some() {
            steps.push(Step::CutPoint);
        }
        framer.push(
            &mut steps,
            &chunk(json!({"content": piece}), None),
            i % 3 == 1,
        );
    }
    // Faults that must happen even for very short contents.
    match &ctx.fault {
        Fault::DropMidStream => {
            steps.push(Step::Sleep(FLUSH_PAUSE));
            steps.push(Step::Abort);
            return (Box::new(steps.into_iter()), false);
        }
        Fault::CutWithoutFinish => return (Box::new(steps.into_iter()), false),
        Fault::EmptyDeltas(d) => return (empty_deltas(steps, *d), false),
        Fault::BareDone => {
            steps.push(Step::Sleep(ctx.config.inter_chunk_delay));
            steps.push(Step::Data(framer.event("[DONE]")));
            return (Box::new(steps.into_iter()), false);
        }
        Fault::CorruptChunk if pieces.is_empty() => {
            steps.push(Step::Data(framer.event(CORRUPT_PAYLOAD)));
        }
        Fault::Stall(d) if pieces.len() < 2 => steps.push(Step::Sleep(*d)),
        _ => {}
    }
    steps.push(Step::Sleep(ctx.config.inter_chunk_delay));
    framer.push(&mut steps, &chunk(json!({}), Some(finish)), false);
    if chunker.usage_field {
        framer.push(&mut steps, &chunker.usage_chunk(usage.clone()), true);
    }
    steps.push(Step::Data(framer.event("[DONE]")));
    let usage_sent = chunker.usage_field;
    match &ctx.fault {
        Fault::Trickle(d) => (trickle(steps, *d), usage_sent),
        _ => (Box::new(steps.into_iter()), usage_sent),
    }
}

async fn props(State(shared): State<Arc<Shared>>) -> Response {
    let config = lock(&shared.config).clone();
    shared
        .counters
        .props_requests
        .fetch_add(1, Ordering::Relaxed);
    if shared.loading(&config) {
        return loading_response(&shared);
    }
    let Some(slots) = config.props_slots else {
        return not_found(State(shared)).await;
    };
    let body = json!({
        "default_generation_settings": {"n_ctx": 8192},
        "total_slots": slots,
        "model_path": "fake.gguf",
    });
    json_response(StatusCode::OK, body.to_string())
}

async fn models(State(shared): State<Arc<Shared>>) -> Response {
    let config = lock(&shared.config).clone();
    if shared.loading(&config) {
        return loading_response(&shared);
    }
    let body = json!({
        "object": "list",
        "data": [{"id": "gpt-fake", "object": "model", "created": 0, "owned_by": "fake"}],
    });
    json_response(StatusCode::OK, body.to_string())
}

async fn not_found(State(shared): State<Arc<Shared>>) -> Response {
    shared
        .counters
        .other_requests
        .fetch_add(1, Ordering::Relaxed);
    json_response(
        StatusCode::NOT_FOUND,
        error_body(
            "Invalid URL (fake server knows POST /v1/chat/completions).",
            "invalid_request_error",
            None,
        ),
    )
}
