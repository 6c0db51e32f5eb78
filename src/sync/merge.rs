//! What a sync record says ([`Change`]) and the merge ([`State::apply`]): a state in which every
//! change commutes with every other and applying one twice is applying it once, so machines that
//! have seen the same changes, in whatever order, hold the same journal.
//!
//! - A reading is immutable once cast: the same uid is the same reading, and a second cast of
//!   it changes nothing.
//! - Sections are a union by section number; between two versions of one section a complete
//!   one wins over a failed one, and between two of the same standing the one whose content
//!   sorts first (a rule every machine applies alike; retries only add).
//! - A note keeps the version with the highest `(clock, device)`: `clock` is a Lamport clock
//!   (one more than the highest this machine has seen when it wrote), never a wall clock. A
//!   deletion is a version with no body.
//! - A follow-up is immutable.
//! - A reading deleted is a tombstone: it removes the reading with its sections, notes and
//!   follow-ups, and anything for that reading that arrives later (a copy restored from an old
//!   backup among them) is dropped.
//!
//! The bodies are opaque here (the store's encoding of a reading, a section, a follow-up): the
//! merge compares them, never reads them.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A global identity: 128 random bits, the same on every machine (local row numbers differ).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Uid(pub [u8; 16]);

/// A device's identity: 128 random bits chosen by a store the first time it syncs.
pub type DeviceId = Uid;

impl Uid {
    /// The 32 lower-case hex digits.
    pub fn hex(&self) -> String {
        hex(&self.0)
    }

    /// Parses 32 hex digits (either case); `None` for anything else.
    pub fn parse(text: &str) -> Option<Self> {
        if text.len() != 32 || !text.is_ascii() {
            return None;
        }
        let mut out = [0u8; 16];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
        }
        Some(Self(out))
    }
}

/// `bytes` as lower-case hex digits.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

impl fmt::Debug for Uid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.hex())
    }
}

impl Serialize for Uid {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.hex())
    }
}

impl<'de> Deserialize<'de> for Uid {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Uid::parse(&text).ok_or_else(|| serde::de::Error::custom("not 32 hex digits"))
    }
}

/// One section as a record carries it: whether it completed, and its content.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Section {
    /// Whether it completed (a failed section can be replaced by a retry).
    pub complete: bool,
    /// Its figures and texts, as the store encodes them.
    pub body: String,
}

impl Section {
    /// Whether `self` wins over `other` for the same section: complete over failed, then the
    /// content that sorts first.
    fn beats(&self, other: &Section) -> bool {
        (!self.complete, &self.body) < (!other.complete, &other.body)
    }
}

/// A note's content: note or outcome, and its text.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct NoteBody {
    /// `note` or `outcome`.
    pub kind: String,
    /// When it was first written (Unix ms; shown, never compared).
    pub created_at: i64,
    /// What it says.
    pub text: String,
}

/// What one record says happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
// Externally tagged: an internally tagged enum cannot read back a map with number keys.
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// A reading cast, with the sections saved so far.
    Cast {
        /// The reading.
        reading: Uid,
        /// Its plain columns, question and situation, as the store encodes them.
        body: String,
        /// Its sections by number.
        sections: BTreeMap<u8, Section>,
    },
    /// Sections added (or replaced) by a retry.
    Sections {
        /// The reading.
        reading: Uid,
        /// The sections by number.
        sections: BTreeMap<u8, Section>,
    },
    /// A note added, edited (`body` set) or deleted (`body` none).
    Note {
        /// The note.
        note: Uid,
        /// Its reading.
        reading: Uid,
        /// The writer's Lamport clock.
        clock: u64,
        /// The new version; `None` deletes it.
        body: Option<NoteBody>,
    },
    /// A follow-up asked.
    Followup {
        /// The follow-up.
        followup: Uid,
        /// Its reading.
        reading: Uid,
        /// Its figures, question, answer and request, as the store encodes them.
        body: String,
    },
    /// A reading deleted, for good.
    Deleted {
        /// The reading.
        reading: Uid,
    },
}

/// The version of a note a state keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteVersion {
    /// Its reading.
    pub reading: Uid,
    /// The Lamport clock it was written at.
    pub clock: u64,
    /// The device that wrote it (breaks ties between equal clocks).
    pub device: DeviceId,
    /// Its content; `None` when deleted.
    pub body: Option<NoteBody>,
}

/// A merged journal: what every change seen so far adds up to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct State {
    /// Readings by uid: their body.
    pub readings: BTreeMap<Uid, String>,
    /// Sections by reading and number (also of readings whose cast has not arrived yet).
    pub sections: BTreeMap<(Uid, u8), Section>,
    /// The winning version of every note.
    pub notes: BTreeMap<Uid, NoteVersion>,
    /// Follow-ups by uid: their reading and body.
    pub followups: BTreeMap<Uid, (Uid, String)>,
    /// Readings deleted.
    pub tombstones: BTreeSet<Uid>,
}

impl State {
    /// Merges `change`, written by `device`. Commutative and idempotent.
    pub fn apply(&mut self, device: DeviceId, change: &Change) {
        match change {
            Change::Cast {
                reading,
                body,
                sections,
            } => {
                if self.tombstones.contains(reading) {
                    return;
                }
                // Immutable once cast: the same uid from two places keeps one body, chosen
                // alike everywhere (they are equal unless someone forged one with the key).
                let kept = self
                    .readings
                    .entry(*reading)
                    .or_insert_with(|| body.clone());
                if body < kept {
                    kept.clone_from(body);
                }
                self.add_sections(*reading, sections);
            }
            Change::Sections { reading, sections } => {
                if !self.tombstones.contains(reading) {
                    self.add_sections(*reading, sections);
                }
            }
            Change::Note {
                note,
                reading,
                clock,
                body,
            } => {
                if self.tombstones.contains(reading) {
                    return;
                }
                let new = NoteVersion {
                    reading: *reading,
                    clock: *clock,
                    device,
                    body: body.clone(),
                };
                // The body breaks a tie only a store restored from an old backup can make (the
                // same device writing the same clock twice).
                let rank = |v: &NoteVersion| (v.clock, v.device, v.body.clone());
                match self.notes.get_mut(note) {
                    Some(old) if rank(old) >= rank(&new) => {}
                    Some(old) => *old = new,
                    None => {
                        self.notes.insert(*note, new);
                    }
                }
            }
            Change::Followup {
                followup,
                reading,
                body,
            } => {
                if self.tombstones.contains(reading) {
                    return;
                }
                let kept = self
                    .followups
                    .entry(*followup)
                    .or_insert_with(|| (*reading, body.clone()));
                if (*reading, body) < (kept.0, &kept.1) {
                    *kept = (*reading, body.clone());
                }
            }
            Change::Deleted { reading } => {
                self.tombstones.insert(*reading);
                self.readings.remove(reading);
                self.sections.retain(|(r, _), _| r != reading);
                self.notes.retain(|_, n| n.reading != *reading);
                self.followups.retain(|_, (r, _)| r != reading);
            }
        }
    }

    fn add_sections(&mut self, reading: Uid, sections: &BTreeMap<u8, Section>) {
        for (n, section) in sections {
            match self.sections.get_mut(&(reading, *n)) {
                Some(old) if !section.beats(old) => {}
                Some(old) => *old = section.clone(),
                None => {
                    self.sections.insert((reading, *n), section.clone());
                }
            }
        }
    }

    /// The changes that rebuild this state when applied as written by one device: what a
    /// snapshot of that device's records holds (a compaction). Superseded note versions and
    /// everything of a deleted reading but its deletion are gone.
    pub fn changes(&self) -> Vec<Change> {
        let mut out: Vec<Change> = self
            .tombstones
            .iter()
            .map(|r| Change::Deleted { reading: *r })
            .collect();
        let mut sections: BTreeMap<Uid, BTreeMap<u8, Section>> = BTreeMap::new();
        for ((reading, n), s) in &self.sections {
            sections.entry(*reading).or_default().insert(*n, s.clone());
        }
        for (reading, body) in &self.readings {
            out.push(Change::Cast {
                reading: *reading,
                body: body.clone(),
                sections: sections.remove(reading).unwrap_or_default(),
            });
        }
        for (reading, sections) in sections {
            out.push(Change::Sections { reading, sections });
        }
        for (note, v) in &self.notes {
            out.push(Change::Note {
                note: *note,
                reading: v.reading,
                clock: v.clock,
                body: v.body.clone(),
            });
        }
        for (followup, (reading, body)) in &self.followups {
            out.push(Change::Followup {
                followup: *followup,
                reading: *reading,
                body: body.clone(),
            });
        }
        out
    }

    /// The highest Lamport clock among the notes: a new note version is written at one more.
    pub fn clock(&self) -> u64 {
        self.notes.values().map(|n| n.clock).max().unwrap_or(0)
    }

    /// What a user sees: the readings that are cast and not deleted, with their sections, the
    /// notes that are not deleted and the follow-ups.
    pub fn view(&self) -> View {
        let mut view = View::default();
        for (uid, body) in &self.readings {
            let sections = self
                .sections
                .range((*uid, 0)..=(*uid, u8::MAX))
                .map(|((_, n), s)| (*n, s.clone()))
                .collect();
            view.readings.insert(*uid, (body.clone(), sections));
        }
        for (uid, note) in &self.notes {
            if let Some(body) = &note.body
                && self.readings.contains_key(&note.reading)
            {
                view.notes.insert(*uid, (note.reading, body.clone()));
            }
        }
        for (uid, (reading, body)) in &self.followups {
            if self.readings.contains_key(reading) {
                view.followups.insert(*uid, (*reading, body.clone()));
            }
        }
        view
    }
}

/// What a user sees of a [`State`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct View {
    /// Readings: body and sections.
    pub readings: BTreeMap<Uid, (String, BTreeMap<u8, Section>)>,
    /// Notes: reading and content.
    pub notes: BTreeMap<Uid, (Uid, NoteBody)>,
    /// Follow-ups: reading and body.
    pub followups: BTreeMap<Uid, (Uid, String)>,
}

#[cfg(test)]
#[path = "merge_tests.rs"]
mod tests;
