//! The journal: notes on a reading, each with its time and kind (`note`: what you make of it
//! now; `outcome`: how it turned out), the text sealed as `note:{reading_id}:{note_id}:text`,
//! the row's reading, kind and times tagged as `note:{note_id}:row`. Notes go with their reading.

use std::collections::HashMap;
use std::fmt;

use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use super::tags::{Canon, Tagged};
use super::{Field, Store, StoreError, now_ms};
use crate::model::{NoteKind, ReadingId};

/// The longest note accepted, in characters.
pub const MAX_NOTE_CHARS: usize = 10_000;

/// A note, opened. `Debug` shows only its size.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct Note {
    /// Its row in the store (its sealing label names it); never shown.
    #[serde(skip)]
    pub id: i64,
    /// Its number among its reading's notes, oldest first (1 is the reading's first note):
    /// what is shown and what editing and deleting take.
    pub number: usize,
    /// When it was written (Unix ms).
    #[serde(skip)]
    pub created_at: i64,
    /// When it was last edited (Unix ms).
    #[serde(skip)]
    pub updated_at: i64,
    /// Note or outcome.
    pub kind: NoteKind,
    /// What it says.
    pub text: String,
}

impl fmt::Debug for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Note")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("chars", &self.text.chars().count())
            .finish_non_exhaustive()
    }
}

/// How many notes and outcomes a reading has.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct NoteCounts {
    /// Notes.
    pub notes: usize,
    /// Outcomes.
    pub outcomes: usize,
}

/// What is wrong with a note as typed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    /// Nothing but whitespace.
    #[error("the note is empty: write what you make of the reading, or how it turned out")]
    Empty,
    /// Over [`MAX_NOTE_CHARS`].
    #[error("the note is {0} characters long; at most {MAX_NOTE_CHARS} are taken")]
    TooLong(usize),
}

/// Cleans a note: control characters and escape sequences removed (line breaks kept, at most
/// one blank line in a row), trimmed; `Err` says what is wrong.
pub fn validate_note(raw: &str) -> Result<String, NoteError> {
    let lines: Vec<String> = raw
        .replace("\r\n", "\n")
        .split(['\n', '\r'])
        .map(|l| crate::answer::sanitize_inline(l).trim_end().to_owned())
        .collect();
    let mut out = String::new();
    let mut blank = false;
    for line in lines {
        if line.trim().is_empty() {
            blank = !out.is_empty();
            continue;
        }
        if !out.is_empty() {
            out.push_str(if blank { "\n\n" } else { "\n" });
        }
        blank = false;
        out.push_str(&line);
    }
    let out = out.trim_start().to_owned();
    let chars = out.chars().count();
    if chars == 0 {
        Err(NoteError::Empty)
    } else if chars > MAX_NOTE_CHARS {
        Err(NoteError::TooLong(chars))
    } else {
        Ok(out)
    }
}

/// A note row's tagged columns.
fn canon(reading: ReadingId, created_at: i64, updated_at: i64, kind: NoteKind) -> Canon {
    let mut c = Canon::default();
    c.int(Some(reading.0))
        .int(Some(created_at))
        .int(Some(updated_at))
        .text(Some(kind.as_str()));
    c
}

impl Store {
    /// Adds a note of `kind` to reading `id` (whose record must check out); returns its number
    /// among the reading's notes.
    pub fn add_note(&self, id: ReadingId, kind: NoteKind, text: &str) -> Result<usize, StoreError> {
        self.same_key()?;
        self.reading(id)?;
        self.atomic(|| {
            let now = now_ms();
            self.conn
                .execute(
                    "INSERT INTO notes (reading_id, created_at, updated_at, kind, text)
                     VALUES (?1, ?2, ?2, ?3, x'')",
                    params![id, now, kind.as_str()],
                )
                .map_err(|e| self.db_err(e))?;
            let note = self.conn.last_insert_rowid();
            self.write_note(id, note, now, now, kind, text)?;
            self.note_number(id, note)
        })
    }

    /// Adds a copy of `note` (from a backup) to reading `id`, its times kept.
    pub(super) fn copy_note(&self, id: ReadingId, note: &Note) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT INTO notes (reading_id, created_at, updated_at, kind, text)
                 VALUES (?1, ?2, ?3, ?4, x'')",
                params![id, note.created_at, note.updated_at, note.kind.as_str()],
            )
            .map_err(|e| self.db_err(e))?;
        let new = self.conn.last_insert_rowid();
        self.write_note(
            id,
            new,
            note.created_at,
            note.updated_at,
            note.kind,
            &note.text,
        )
    }

    /// Replaces the text of note number `number` of reading `id`.
    pub fn edit_note(&self, id: ReadingId, number: usize, text: &str) -> Result<(), StoreError> {
        self.same_key()?;
        let row = self.note_row(id, number)?;
        let old = self
            .notes(id)?
            .into_iter()
            .find(|n| n.id == row)
            .ok_or(StoreError::NoteNotFound { id, note: number })?;
        self.atomic(|| self.write_note(id, row, old.created_at, now_ms(), old.kind, text))
    }

    /// Deletes note number `number` of reading `id` (the later ones move up a number), found by
    /// its place alone: a note that fails its check can still be deleted.
    pub fn delete_note(&self, id: ReadingId, number: usize) -> Result<(), StoreError> {
        let row = self.note_row(id, number)?;
        self.conn
            .execute(
                "DELETE FROM notes WHERE id = ?1 AND reading_id = ?2",
                params![row, id],
            )
            .map_err(|e| self.db_err(e))?;
        Ok(())
    }

    /// The row of note number `number` of reading `id` (1 is its first, in the order notes are
    /// listed: written, then row).
    fn note_row(&self, id: ReadingId, number: usize) -> Result<i64, StoreError> {
        let offset = number
            .checked_sub(1)
            .and_then(|n| i64::try_from(n).ok())
            .ok_or(StoreError::NoteNotFound { id, note: number })?;
        self.conn
            .query_row(
                "SELECT id FROM notes WHERE reading_id = ?1 ORDER BY created_at, id
                 LIMIT 1 OFFSET ?2",
                params![id, offset],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.db_err(e))?
            .ok_or(StoreError::NoteNotFound { id, note: number })
    }

    /// The number of note row `row` of reading `id`, in the order notes are listed.
    fn note_number(&self, id: ReadingId, row: i64) -> Result<usize, StoreError> {
        self.place_in_reading("notes", "created_at", id, row)
    }

    pub(super) fn write_note(
        &self,
        id: ReadingId,
        note: i64,
        created_at: i64,
        updated_at: i64,
        kind: NoteKind,
        text: &str,
    ) -> Result<(), StoreError> {
        let sealed = self.seal(Field::Note(id, note), text.as_bytes());
        let tag = self.tag(
            Tagged::NoteRow(note),
            &canon(id, created_at, updated_at, kind),
        );
        self.conn
            .execute(
                "UPDATE notes SET updated_at = ?2, text = ?3, row_tag = ?4 WHERE id = ?1",
                params![note, updated_at, sealed.as_bytes(), tag],
            )
            .map_err(|e| self.db_err(e))?;
        Ok(())
    }

    /// Reading `id`'s notes, oldest first, each checked and opened; the first that fails its
    /// check is the error.
    pub fn notes(&self, id: ReadingId) -> Result<Vec<Note>, StoreError> {
        self.all_notes(Some(id))?
            .remove(&id)
            .unwrap_or_default()
            .into_iter()
            .collect()
    }

    /// The notes of reading `only` (or of every reading), by reading, oldest first, each
    /// checked and opened, or why not.
    pub(super) fn all_notes(
        &self,
        only: Option<ReadingId>,
    ) -> Result<HashMap<ReadingId, Vec<Result<Note, StoreError>>>, StoreError> {
        type Raw = (i64, ReadingId, i64, i64, String, Vec<u8>, Option<Vec<u8>>);
        let rows: Vec<Raw> = self
            .conn
            .prepare_cached(
                "SELECT id, reading_id, created_at, updated_at, kind, text, row_tag FROM notes
                 WHERE ?1 IS NULL OR reading_id = ?1 ORDER BY created_at, id",
            )
            .and_then(|mut st| {
                st.query_map([only], |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                        r.get(6)?,
                    ))
                })?
                .collect()
            })
            .map_err(|e| self.db_err(e))?;
        let mut out: HashMap<ReadingId, Vec<Result<Note, StoreError>>> = HashMap::new();
        for (note, reading, created_at, updated_at, kind, text, tag) in rows {
            let number = out.get(&reading).map_or(0, Vec::len) + 1;
            let opened = (|| {
                let integrity = || StoreError::Integrity {
                    id: reading,
                    field: format!("note {note}"),
                };
                let kind = NoteKind::parse(&kind).ok_or_else(integrity)?;
                self.check_tag(
                    Tagged::NoteRow(note),
                    &canon(reading, created_at, updated_at, kind),
                    tag.as_deref(),
                )
                .map_err(|_| integrity())?;
                let text = self.open_text(Field::Note(reading, note), text)?;
                Ok(Note {
                    id: note,
                    number,
                    created_at,
                    updated_at,
                    kind,
                    text,
                })
            })();
            out.entry(reading).or_default().push(opened);
        }
        Ok(out)
    }

    /// How many notes and outcomes each reading has (nothing is opened).
    pub fn note_counts(&self) -> Result<HashMap<ReadingId, NoteCounts>, StoreError> {
        let rows: Vec<(ReadingId, String, i64)> = self
            .conn
            .prepare_cached(
                "SELECT reading_id, kind, count(*) FROM notes GROUP BY reading_id, kind",
            )
            .and_then(|mut st| {
                st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                    .collect()
            })
            .map_err(|e| self.db_err(e))?;
        let mut out: HashMap<ReadingId, NoteCounts> = HashMap::new();
        for (id, kind, n) in rows {
            let counts = out.entry(id).or_default();
            let n = usize::try_from(n).unwrap_or(0);
            match NoteKind::parse(&kind) {
                Some(NoteKind::Note) => counts.notes = n,
                Some(NoteKind::Outcome) => counts.outcomes = n,
                None => {}
            }
        }
        Ok(out)
    }

    /// Re-seals and re-tags every note (a key change, inside its transaction, after the old
    /// keys have checked everything; `seal_with` is the new keys').
    pub(super) fn reseal_notes(&self, new: &crate::crypto::Keys) -> Result<usize, StoreError> {
        let rows: Vec<(i64, ReadingId, Vec<u8>)> = self
            .conn
            .prepare("SELECT id, reading_id, text FROM notes")
            .and_then(|mut st| {
                st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                    .collect()
            })
            .map_err(|e| self.db_err(e))?;
        for (note, reading, blob) in &rows {
            let field = Field::Note(*reading, *note);
            let plain = zeroize::Zeroizing::new(self.open_text(field, blob.clone())?);
            let sealed = new.seal_packed(field.aad().as_bytes(), plain.as_bytes());
            self.conn
                .execute(
                    "UPDATE notes SET text = ?2 WHERE id = ?1",
                    params![note, sealed.as_bytes()],
                )
                .map_err(|e| self.db_err(e))?;
        }
        Ok(rows.len())
    }

    /// Tags every note row as it is now (migrations and key changes).
    pub(super) fn tag_notes(&self) -> Result<(), StoreError> {
        let rows: Vec<(i64, ReadingId, i64, i64, String)> = self
            .conn
            .prepare("SELECT id, reading_id, created_at, updated_at, kind FROM notes")
            .and_then(|mut st| {
                st.query_map([], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
                })?
                .collect()
            })
            .map_err(|e| self.db_err(e))?;
        for (note, reading, created_at, updated_at, kind) in rows {
            let Some(kind) = NoteKind::parse(&kind) else {
                continue;
            };
            let tag = self.tag(
                Tagged::NoteRow(note),
                &canon(reading, created_at, updated_at, kind),
            );
            self.conn
                .execute(
                    "UPDATE notes SET row_tag = ?2 WHERE id = ?1",
                    params![note, tag],
                )
                .map_err(|e| self.db_err(e))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_are_cleaned_keeping_their_paragraphs() {
        assert_eq!(
            validate_note("  First line\u{1b}[31m \r\nsecond\n\n\n\nthird  \n"),
            Ok("First line\nsecond\n\nthird".to_owned())
        );
        assert_eq!(validate_note(" \n\t "), Err(NoteError::Empty));
        assert_eq!(
            validate_note(&"x".repeat(MAX_NOTE_CHARS + 1)),
            Err(NoteError::TooLong(MAX_NOTE_CHARS + 1))
        );
    }
}
