//! The instructions sent with each section: a system prompt and two instruction sets, one for
//! readings with changing lines and a deeper one for unchanging readings, embedded from
//! `assets/prompts/`. Any instruction can be replaced by a file of the same name (for example
//! `prompts/changing/synthesisAndGuidance.md` in the config dir); `config` reads those files and
//! hands them in as overrides.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::{Section, envelope};
use crate::model::Query;
use crate::oracle::Reading;

/// Which instruction set a reading uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PromptSet {
    /// Some line changes.
    Changing,
    /// No line changes: fewer, deeper sections.
    Unchanging,
}

impl PromptSet {
    /// The set for `reading`.
    pub fn for_reading(reading: &Reading) -> Self {
        if reading.resulting.is_some() {
            PromptSet::Changing
        } else {
            PromptSet::Unchanging
        }
    }

    /// The folder name under `prompts/`.
    pub fn dir(self) -> &'static str {
        match self {
            PromptSet::Changing => "changing",
            PromptSet::Unchanging => "unchanging",
        }
    }
}

/// One chat message as OpenAI-compatible endpoints take it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// "system" or "user".
    pub role: String,
    /// The text.
    pub content: String,
}

macro_rules! embedded {
    ($($set:ident / $key:literal),* $(,)?) => {
        &[$((PromptSet::$set, $key, include_str!(concat!("../../assets/prompts/", embedded!(@dir $set), "/", $key, ".md")))),*]
    };
    (@dir Changing) => { "changing" };
    (@dir Unchanging) => { "unchanging" };
}

/// The embedded instructions: (set, key, text).
const EMBEDDED: &[(PromptSet, &str, &str)] = embedded![
    Changing / "openingStatements",
    Changing / "initialHexagramJudgement",
    Changing / "initialHexagramImage",
    Changing / "changingLinesLine",
    Changing / "changingLinesAll",
    Changing / "tenWingsInsights",
    Changing / "resultingHexagramJudgment",
    Changing / "resultingHexagramImage",
    Changing / "synthesisAndGuidance",
    Changing / "conclusionText",
    Unchanging / "openingStatements",
    Unchanging / "initialHexagramJudgement",
    Unchanging / "initialHexagramImage",
    Unchanging / "tenWingsInsights",
    Unchanging / "synthesisAndGuidance",
    Unchanging / "conclusionText",
];

const SYSTEM: &str = include_str!("../../assets/prompts/system.md");
const FOLLOWUP: &str = include_str!("../../assets/prompts/followup.md");

/// The instructions in use: the embedded ones with any overrides applied.
#[derive(Debug, Clone)]
pub struct Prompts {
    system: String,
    followup: String,
    instructions: BTreeMap<(PromptSet, &'static str), String>,
}

impl Default for Prompts {
    fn default() -> Self {
        Self {
            system: SYSTEM.to_owned(),
            followup: FOLLOWUP.to_owned(),
            instructions: EMBEDDED
                .iter()
                .map(|&(set, key, text)| ((set, key), text.to_owned()))
                .collect(),
        }
    }
}

impl Prompts {
    /// Every file name an override may use, relative to the `prompts/` dir: `system.md` and
    /// `<set>/<key>.md`, and `followup.md`.
    pub fn override_names() -> impl Iterator<Item = String> {
        ["system.md".to_owned(), "followup.md".to_owned()]
            .into_iter()
            .chain(
                EMBEDDED
                    .iter()
                    .map(|(set, key, _)| format!("{}/{key}.md", set.dir())),
            )
    }

    /// Replaces the instruction named `name` (one of [`Prompts::override_names`]) with `text`.
    /// Returns false when no instruction has that name.
    pub fn set_override(&mut self, name: &str, text: String) -> bool {
        if name == "system.md" {
            self.system = text;
            return true;
        }
        if name == "followup.md" {
            self.followup = text;
            return true;
        }
        let found = EMBEDDED
            .iter()
            .find(|(set, key, _)| format!("{}/{key}.md", set.dir()) == name);
        match found {
            Some(&(set, key, _)) => {
                self.instructions.insert((set, key), text);
                true
            }
            None => false,
        }
    }

    /// The system prompt.
    pub fn system(&self) -> &str {
        &self.system
    }

    /// The instruction for a follow-up question about a reading.
    pub fn followup(&self) -> &str {
        &self.followup
    }

    /// The instruction for `section` in `set`, with `{lineNumber}` filled in.
    pub fn instruction(&self, set: PromptSet, section: Section) -> String {
        let text = self
            .instructions
            .get(&(set, section.prompt_key()))
            .or_else(|| {
                self.instructions
                    .get(&(PromptSet::Changing, section.prompt_key()))
            })
            .map_or("", String::as_str);
        match section {
            Section::ChangingLine(n) => text.replace("{lineNumber}", &n.to_string()),
            _ => text.to_owned(),
        }
    }
}

/// The reading's data as the JSON every section's request carries (the same bytes for each).
pub fn reading_json(reading: &Reading, query: &Query, language: Option<&str>) -> String {
    serde_json::to_string_pretty(&envelope(reading, query, language)).unwrap_or_default()
}

/// What every section's request of one reading shares, made once: the reading's JSON
/// ([`reading_json`]), and it and the system prompt escaped for a JSON string. Each section's
/// messages are then written as JSON around them, instead of escaping kilobytes per section.
#[derive(Debug, Clone)]
pub struct ReadingData {
    /// The reading's JSON.
    json: String,
    /// `json`, escaped.
    json_escaped: String,
    /// The system prompt as sent, and escaped.
    system: String,
    system_escaped: String,
}

impl ReadingData {
    /// The shared part of `reading`'s requests.
    pub fn new(
        prompts: &Prompts,
        reading: &Reading,
        query: &Query,
        language: Option<&str>,
    ) -> Self {
        let json = reading_json(reading, query, language);
        let system = prompts.system().trim_end().to_owned();
        Self {
            json_escaped: escaped(&json),
            system_escaped: escaped(&system),
            json,
            system,
        }
    }
}

/// One section's messages, and the same as JSON (byte for byte what `serde_json` writes for
/// them): made only by [`SectionMessages::new`] or [`messages_with`], so the two always agree.
#[derive(Debug)]
pub struct SectionMessages {
    /// System prompt, then the user message.
    pub(crate) messages: Vec<ChatMessage>,
    /// `messages` as a JSON array.
    pub(crate) json: Box<RawValue>,
    /// How many bytes at the start of `json` every section of the reading shares (the system
    /// prompt and the reading's JSON): the store keeps them once per reading.
    pub(crate) shared: usize,
}

impl SectionMessages {
    /// `messages`, serialised here.
    #[allow(
        clippy::expect_used,
        reason = "chat messages are strings, which always serialise"
    )]
    pub fn new(messages: Vec<ChatMessage>) -> Self {
        let json = serde_json::value::to_raw_value(&messages).expect("strings always serialise");
        Self {
            messages,
            json,
            shared: 0,
        }
    }
}

/// `s` as the inside of a JSON string (without its quotes).
fn escaped(s: &str) -> String {
    let quoted = serde_json::to_string(s).unwrap_or_default();
    quoted
        .get(1..quoted.len().saturating_sub(1))
        .unwrap_or_default()
        .to_owned()
}

/// The messages of one section's request, ordered so that every section of a reading shares the
/// longest possible prefix (which providers' prompt caches reuse): the system prompt, then the
/// reading's data as JSON, then this section's instruction and the texts it is about.
pub fn build_messages(
    prompts: &Prompts,
    reading: &Reading,
    query: &Query,
    section: Section,
) -> Vec<ChatMessage> {
    messages_with(
        prompts,
        reading,
        &ReadingData::new(prompts, reading, query, None),
        section,
    )
    .messages
}

/// What the user message says before the reading's JSON.
const DATA_HEAD: &str = "The reading (JSON):\n";
/// [`DATA_HEAD`] as it stands inside a JSON string.
const DATA_HEAD_ESCAPED: &str = r"The reading (JSON):\n";

/// [`build_messages`] with what a reading's sections share made once ([`ReadingData`]); the
/// messages' JSON is written around its escaped parts.
pub fn messages_with(
    prompts: &Prompts,
    reading: &Reading,
    data: &ReadingData,
    section: Section,
) -> SectionMessages {
    let set = PromptSet::for_reading(reading);
    let focus: Vec<String> = envelope::section_texts(reading, section)
        .into_iter()
        .map(|t| t.source)
        .collect();
    let mut tail = format!("\n\n{}", prompts.instruction(set, section).trim_end());
    if !focus.is_empty() {
        tail.push_str(&format!(
            "\n\nThe texts this section is about (in the reading's \"texts\"): {}.",
            focus.join("; ")
        ));
    }
    let chinese: Vec<String> = envelope::section_chinese(reading, section)
        .into_iter()
        .map(|t| t.source)
        .collect();
    if !chinese.is_empty() {
        tail.push_str(&format!(
            "\nThe original Chinese of this section (in the reading's \"chineseTexts\"): {}.",
            chinese.join("; ")
        ));
    }
    let tail_escaped = escaped(&tail);
    let mut json = String::with_capacity(
        data.system_escaped.len() + data.json_escaped.len() + tail_escaped.len() + 96,
    );
    json.push_str(r#"[{"role":"system","content":""#);
    json.push_str(&data.system_escaped);
    json.push_str(r#""},{"role":"user","content":""#);
    json.push_str(DATA_HEAD_ESCAPED);
    json.push_str(&data.json_escaped);
    let shared = json.len();
    json.push_str(&tail_escaped);
    json.push_str(r#""}]"#);
    // Pushed into a string of the right size: `format!` would grow it several times.
    let mut user = String::with_capacity(DATA_HEAD.len() + data.json.len() + tail.len());
    user.push_str(DATA_HEAD);
    user.push_str(&data.json);
    user.push_str(&tail);
    let messages = vec![
        ChatMessage {
            role: "system".to_owned(),
            content: data.system.clone(),
        },
        ChatMessage {
            role: "user".to_owned(),
            content: user,
        },
    ];
    match RawValue::from_string(json) {
        Ok(json) => SectionMessages {
            messages,
            json,
            shared,
        },
        // Not reached: the pieces are escaped by serde_json itself.
        Err(_) => SectionMessages::new(messages),
    }
}
