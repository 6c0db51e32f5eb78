//! The journal: notes and outcomes on a reading ([`crate::store::Note`]).

use super::{Service, ServiceError};
use crate::model::ReadingId;
use crate::store::{Note, NoteKind, validate_note};

impl Service {
    /// Adds a note of `kind` (cleaned; an empty or over-long one is refused) to reading `id`;
    /// returns its number among the reading's notes (1 for its first).
    pub async fn add_note(
        &self,
        id: ReadingId,
        kind: NoteKind,
        text: &str,
    ) -> Result<usize, ServiceError> {
        self.writable()?;
        let text = validate_note(text)?;
        Ok(self
            .writer
            .call(move |s| s.add_note(id, kind, &text))
            .await?)
    }

    /// Replaces the text of note number `note` of reading `id`.
    pub async fn edit_note(
        &self,
        id: ReadingId,
        note: usize,
        text: &str,
    ) -> Result<(), ServiceError> {
        self.writable()?;
        let text = validate_note(text)?;
        Ok(self
            .writer
            .call(move |s| s.edit_note(id, note, &text))
            .await?)
    }

    /// Deletes note number `note` of reading `id` (the later ones move up a number).
    pub async fn delete_note(&self, id: ReadingId, note: usize) -> Result<(), ServiceError> {
        self.writable()?;
        Ok(self.writer.call(move |s| s.delete_note(id, note)).await?)
    }

    /// The readings the patterns are drawn from: every one whose record checks out (nothing
    /// opened), or, with `search`, those the one search rule finds by it, and with
    /// `no_outcome`, only those without an outcome yet; and how
    /// many were left out as damaged.
    pub async fn pattern_rows(
        &self,
        search: Option<String>,
        no_outcome: bool,
    ) -> Result<(Vec<crate::store::ReadingRow>, usize), ServiceError> {
        Ok(self
            .writer
            .call(move |s| {
                if search.is_none() && !no_outcome {
                    return s.checked_rows();
                }
                let listed = s.list(&crate::store::HistoryFilter {
                    search,
                    no_outcome,
                    ..Default::default()
                })?;
                let mut rows: Vec<_> = listed.into_iter().map(|l| l.row).collect();
                rows.reverse();
                Ok((rows, 0))
            })
            .await?)
    }

    /// Reading `id`'s notes, oldest first (its record checked first).
    pub async fn notes(&self, id: ReadingId) -> Result<Vec<Note>, ServiceError> {
        Ok(self
            .writer
            .call(move |s| {
                s.reading(id)?;
                s.notes(id)
            })
            .await?)
    }
}
