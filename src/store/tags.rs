//! Tags over what the store keeps in the clear, so that what a user sees and what stats count
//! cannot be changed behind iching's back (the sealed blobs already cannot).
//!
//! Each tag is [`crate::crypto::Keys::tag`] (HMAC-SHA256 under a key derived from the master key)
//! over a canonical encoding of the values, bound to a label naming what they are:
//! - `reading:{id}:row`: a reading's plain columns (`created_at`, `status`, `method`, `lines`,
//!   `seed`, `primary_hex`, `resulting_hex`, `sections_planned`, `provider`, `model`), in
//!   `readings.row_tag`;
//! - `reading:{id}:sections`: the list of its stored sections, each `id:status:total_tokens`,
//!   in `readings.sections_tag`; a deleted or added section row breaks it, and it covers the
//!   token counts the history listing adds up;
//! - `part:{id}:{section}:row`: a section's plain columns (status, attempts, timings, token
//!   counts, usage source, model, error kind), in `reading_parts.row_tag`;
//! - `followup:{id}:{n}:row`: a follow-up's plain columns (time, timings, token counts, usage
//!   source, provider, model, how many sections were left out), in `followups.row_tag`;
//! - `meta:header`: how the store's key is kept (key mode, KDF and its parameters), in `meta`.
//!
//! Columns that only the store reads (`pid`, `pid_start`, `updated_at`) are not covered.
//! Whoever changes a covered column re-tags it in the same transaction, after checking the old
//! tag: a row changed behind iching's back is never re-tagged as if iching had written it.
//!
//! The encoding writes each value as a kind byte (0 none, 1 integer, 2 text) followed by
//! 8 big-endian bytes for an integer, or a 4-byte big-endian length and the UTF-8 bytes for a
//! text, so different value lists never encode alike.

use crate::model::ReadingId;

/// What a tag covers; its label names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Tagged {
    /// A reading's plain columns.
    ReadingRow(ReadingId),
    /// A reading's list of stored sections.
    Sections(ReadingId),
    /// One section's plain columns.
    PartRow(ReadingId, u8),
    /// How the store's key is kept.
    Header,
    /// A note's reading, kind and times.
    NoteRow(i64),
    /// A follow-up's plain columns.
    FollowupRow(ReadingId, i64),
}

impl Tagged {
    /// The label the tag is bound to.
    pub(super) fn label(self) -> String {
        match self {
            Tagged::ReadingRow(id) => format!("reading:{id}:row"),
            Tagged::Sections(id) => format!("reading:{id}:sections"),
            Tagged::PartRow(id, s) => format!("part:{id}:{s}:row"),
            Tagged::Header => "meta:header".to_owned(),
            Tagged::NoteRow(n) => format!("note:{n}:row"),
            Tagged::FollowupRow(id, n) => format!("followup:{id}:{n}:row"),
        }
    }

    /// What failed, as in "its {describe} was changed".
    pub(super) fn describe(self) -> String {
        match self {
            Tagged::ReadingRow(_) => "cast and status".to_owned(),
            Tagged::Sections(_) => "list of sections".to_owned(),
            Tagged::PartRow(_, s) => format!("record of section {s}"),
            Tagged::Header => "key settings".to_owned(),
            Tagged::NoteRow(n) => format!("note {n}"),
            Tagged::FollowupRow(_, n) => format!("record of follow-up {n}"),
        }
    }
}

/// Values in the canonical encoding.
#[derive(Debug, Default)]
pub(super) struct Canon(Vec<u8>);

impl Canon {
    /// Appends an integer, or none.
    pub(super) fn int(&mut self, v: Option<i64>) -> &mut Self {
        match v {
            None => self.0.push(0),
            Some(v) => {
                self.0.push(1);
                self.0.extend_from_slice(&v.to_be_bytes());
            }
        }
        self
    }

    /// Appends a text, or none.
    pub(super) fn text(&mut self, v: Option<&str>) -> &mut Self {
        match v {
            None => self.0.push(0),
            Some(v) => {
                self.0.push(2);
                let len = u32::try_from(v.len()).unwrap_or(u32::MAX);
                self.0.extend_from_slice(&len.to_be_bytes());
                self.0.extend_from_slice(v.as_bytes());
            }
        }
        self
    }

    /// Appends raw bytes as a text (a salt).
    pub(super) fn bytes(&mut self, v: &[u8]) -> &mut Self {
        self.0.push(2);
        let len = u32::try_from(v.len()).unwrap_or(u32::MAX);
        self.0.extend_from_slice(&len.to_be_bytes());
        self.0.extend_from_slice(v);
        self
    }

    /// The encoded values.
    pub(super) fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn different_values_encode_differently() {
        let enc = |f: &dyn Fn(&mut Canon)| {
            let mut c = Canon::default();
            f(&mut c);
            c.0
        };
        let all = [
            enc(&|c| {
                c.text(Some("ab")).text(Some("c"));
            }),
            enc(&|c| {
                c.text(Some("a")).text(Some("bc"));
            }),
            enc(&|c| {
                c.text(None).text(Some("abc"));
            }),
            enc(&|c| {
                c.int(Some(0)).text(Some("abc"));
            }),
            enc(&|c| {
                c.text(Some("")).text(Some("abc"));
            }),
        ];
        for (i, a) in all.iter().enumerate() {
            for b in &all[i + 1..] {
                assert_ne!(a, b);
            }
        }
    }

    #[test]
    fn labels_name_the_row() {
        let id = ReadingId(12);
        assert_eq!(Tagged::ReadingRow(id).label(), "reading:12:row");
        assert_eq!(Tagged::Sections(id).label(), "reading:12:sections");
        assert_eq!(Tagged::PartRow(id, 4).label(), "part:12:4:row");
        assert_eq!(Tagged::Header.label(), "meta:header");
    }
}
