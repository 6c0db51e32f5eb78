//! The section plan: which named sections a reading is interpreted in, and what each section's
//! request to a model says (the domain envelope plus the section's instruction).
//!
//! Pure: no IO. Instruction overrides from the config dir are read by `config` and handed in.

mod envelope;
mod prompts;

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::oracle::Reading;

pub use envelope::{Envelope, envelope};
pub use prompts::{
    ChatMessage, PromptSet, Prompts, ReadingData, SectionMessages, build_messages, messages_with,
    reading_json,
};

/// One named section of an interpretation. The order of the variants is the reading order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Section {
    /// 1: opening statements.
    OpeningStatements,
    /// 2: the judgment of the primary hexagram.
    InitialHexagramJudgement,
    /// 3: the image of the primary hexagram.
    InitialHexagramImage,
    /// 4..=9: changing line 1..=6 (id = line + 3).
    ChangingLine(u8),
    /// 10: all six lines change.
    ChangingLinesAll,
    /// 11: insights in the spirit of the Ten Wings.
    TenWingsInsights,
    /// 12: the judgment of the resulting hexagram.
    ResultingHexagramJudgment,
    /// 13: the image of the resulting hexagram.
    ResultingHexagramImage,
    /// 14: synthesis and guidance.
    SynthesisAndGuidance,
    /// 18: conclusion (15-17 are reserved).
    ConclusionText,
}

impl Section {
    /// Every section that can exist, in order.
    pub const ALL: [Section; 15] = [
        Section::OpeningStatements,
        Section::InitialHexagramJudgement,
        Section::InitialHexagramImage,
        Section::ChangingLine(1),
        Section::ChangingLine(2),
        Section::ChangingLine(3),
        Section::ChangingLine(4),
        Section::ChangingLine(5),
        Section::ChangingLine(6),
        Section::ChangingLinesAll,
        Section::TenWingsInsights,
        Section::ResultingHexagramJudgment,
        Section::ResultingHexagramImage,
        Section::SynthesisAndGuidance,
        Section::ConclusionText,
    ];

    /// The numbered slot (1..=18) of the design's table.
    pub fn id(self) -> u8 {
        match self {
            Section::OpeningStatements => 1,
            Section::InitialHexagramJudgement => 2,
            Section::InitialHexagramImage => 3,
            Section::ChangingLine(n) => n + 3,
            Section::ChangingLinesAll => 10,
            Section::TenWingsInsights => 11,
            Section::ResultingHexagramJudgment => 12,
            Section::ResultingHexagramImage => 13,
            Section::SynthesisAndGuidance => 14,
            Section::ConclusionText => 18,
        }
    }

    /// The section with slot `id`, if it is one in use.
    pub fn from_id(id: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.id() == id)
    }

    /// The contract name, e.g. `changingLinesLine3`.
    pub fn name(self) -> String {
        match self {
            Section::ChangingLine(n) => format!("changingLinesLine{n}"),
            other => other.prompt_key().to_owned(),
        }
    }

    /// The name of its instruction file (all changing lines share one).
    pub fn prompt_key(self) -> &'static str {
        match self {
            Section::OpeningStatements => "openingStatements",
            Section::InitialHexagramJudgement => "initialHexagramJudgement",
            Section::InitialHexagramImage => "initialHexagramImage",
            Section::ChangingLine(_) => "changingLinesLine",
            Section::ChangingLinesAll => "changingLinesAll",
            Section::TenWingsInsights => "tenWingsInsights",
            Section::ResultingHexagramJudgment => "resultingHexagramJudgment",
            Section::ResultingHexagramImage => "resultingHexagramImage",
            Section::SynthesisAndGuidance => "synthesisAndGuidance",
            Section::ConclusionText => "conclusionText",
        }
    }

    /// A title for people, e.g. "Changing line 3".
    pub fn title(self) -> String {
        match self {
            Section::OpeningStatements => "Opening".to_owned(),
            Section::InitialHexagramJudgement => "Judgment".to_owned(),
            Section::InitialHexagramImage => "Image".to_owned(),
            Section::ChangingLine(n) => format!("Changing line {n}"),
            Section::ChangingLinesAll => "All lines changing".to_owned(),
            Section::TenWingsInsights => "Ten Wings".to_owned(),
            Section::ResultingHexagramJudgment => "Resulting judgment".to_owned(),
            Section::ResultingHexagramImage => "Resulting image".to_owned(),
            Section::SynthesisAndGuidance => "Synthesis".to_owned(),
            Section::ConclusionText => "Conclusion".to_owned(),
        }
    }
}

impl fmt::Display for Section {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

impl Serialize for Section {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u8(self.id())
    }
}

impl<'de> Deserialize<'de> for Section {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let id = u8::deserialize(d)?;
        Section::from_id(id)
            .ok_or_else(|| serde::de::Error::custom(format!("no section has id {id}")))
    }
}

/// The sections `reading` is interpreted in, in order: 6 when nothing changes, 15 when all six
/// lines change.
pub fn plan(reading: &Reading) -> Vec<Section> {
    let changing = reading.changing_lines();
    let changes = !changing.is_empty();
    Section::ALL
        .into_iter()
        .filter(|s| match s {
            Section::OpeningStatements
            | Section::InitialHexagramJudgement
            | Section::InitialHexagramImage
            | Section::TenWingsInsights
            | Section::SynthesisAndGuidance
            | Section::ConclusionText => true,
            Section::ChangingLine(n) => changing.contains(n),
            Section::ChangingLinesAll => changing.len() == 6,
            Section::ResultingHexagramJudgment | Section::ResultingHexagramImage => changes,
        })
        .collect()
}

#[cfg(test)]
mod tests;
