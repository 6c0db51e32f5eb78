//! The instructions sent with each section: a system prompt and two instruction sets, one for
//! readings with changing lines and a deeper one for unchanging readings, embedded from
//! `assets/prompts/`. Any instruction can be replaced by a file of the same name (for example
//! `prompts/changing/synthesisAndGuidance.md` in the config dir); `config` reads those files and
//! hands them in as overrides.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

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
        &reading_json(reading, query, None),
        section,
    )
}

/// [`build_messages`] with the reading's JSON made once ([`reading_json`]) for all its sections.
pub fn messages_with(
    prompts: &Prompts,
    reading: &Reading,
    data: &str,
    section: Section,
) -> Vec<ChatMessage> {
    let set = PromptSet::for_reading(reading);
    let focus: Vec<String> = envelope::section_texts(reading, section)
        .into_iter()
        .map(|t| t.source)
        .collect();
    let mut focus = if focus.is_empty() {
        String::new()
    } else {
        format!(
            "\n\nThe texts this section is about (in the reading's \"texts\"): {}.",
            focus.join("; ")
        )
    };
    let chinese: Vec<String> = envelope::section_chinese(reading, section)
        .into_iter()
        .map(|t| t.source)
        .collect();
    if !chinese.is_empty() {
        focus.push_str(&format!(
            "\nThe original Chinese of this section (in the reading's \"chineseTexts\"): {}.",
            chinese.join("; ")
        ));
    }
    vec![
        ChatMessage {
            role: "system".to_owned(),
            content: prompts.system().trim_end().to_owned(),
        },
        ChatMessage {
            role: "user".to_owned(),
            content: format!(
                "The reading (JSON):\n{data}\n\n{}{focus}",
                prompts.instruction(set, section).trim_end()
            ),
        },
    ]
}
