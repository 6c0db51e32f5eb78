//! Exports: one reading, or the whole journal (or what a search finds), written to a new file
//! readable by its owner only, never over another file.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use super::{Service, ServiceError};
use crate::generate::saved_report;
use crate::model::{ExportFormat, ReadingId};
use crate::report::{self, ReadingReport};
use crate::store::{HistoryFilter, StoreError};

/// The most names an export tries (`iching-7.md`, `iching-7-2.md`, ... `iching-7-999.md`).
const EXPORT_NAMES: u32 = 999;

/// Where an export goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExportTo {
    /// A new file in this folder, named after what it holds (`iching-7.md`,
    /// `iching-journal.html`; `-2`, `-3`, ... when the name is taken).
    Folder(PathBuf),
    /// Exactly this new file.
    File(PathBuf),
}

/// A journal written.
#[derive(Debug, Clone)]
pub struct JournalExport {
    /// The file.
    pub path: PathBuf,
    /// How many readings it holds.
    pub readings: usize,
    /// Readings left out because they fail their integrity check, with why.
    pub damaged: Vec<(ReadingId, StoreError)>,
}

/// Writes `text` to a new file (0600) as `to` says; returns its path.
fn write_new(to: &ExportTo, stem: &str, ext: &str, text: &str) -> Result<PathBuf, ServiceError> {
    // The export is the reading in the clear: readable by its owner only, and never written
    // over another file (`create_new` refuses one that appeared meanwhile too).
    let create = |path: &Path| {
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
    };
    let written = |path: PathBuf, file: std::fs::File| {
        let mut file = file;
        match file
            .write_all(text.as_bytes())
            .and_then(|()| file.sync_all())
        {
            Ok(()) => Ok(path),
            Err(e) => {
                // Half a reading is no export: the file made here goes (a full disk).
                let _ = std::fs::remove_file(&path);
                Err(ServiceError::ExportWrite {
                    path,
                    error: e.into(),
                })
            }
        }
    };
    let dir = match to {
        ExportTo::File(path) => {
            return match create(path) {
                Ok(file) => written(path.clone(), file),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    Err(ServiceError::ExportExists(path.clone()))
                }
                Err(e) => Err(ServiceError::ExportWrite {
                    path: path.clone(),
                    error: e.into(),
                }),
            };
        }
        ExportTo::Folder(dir) => dir,
    };
    for n in 1..=EXPORT_NAMES {
        let name = if n == 1 {
            format!("{stem}.{ext}")
        } else {
            format!("{stem}-{n}.{ext}")
        };
        let path = dir.join(name);
        match create(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => {
                return Err(ServiceError::ExportWrite {
                    path,
                    error: e.into(),
                });
            }
            Ok(file) => return written(path, file),
        }
    }
    Err(ServiceError::ExportNamesTaken {
        first: PathBuf::from(format!("{stem}.{ext}")),
        dir: dir.clone(),
        names: EXPORT_NAMES,
    })
}

/// `r` as `format`.
fn rendered(r: &ReadingReport, format: ExportFormat) -> String {
    match format {
        ExportFormat::Markdown => report::to_markdown_doc(r),
        ExportFormat::Html => report::to_html_page(r),
        ExportFormat::Json => serde_json::to_string_pretty(r).unwrap_or_default() + "\n",
    }
}

/// Writes `r` to a new file in `dir`, `iching-<id>.<ext>`, or `iching-<id>-2.<ext>`, `-3`, ...
/// when that name is taken: never over another file, readable by its owner only (0600).
/// Returns the path. A report without an id (never saved) has no name to be written under and
/// is refused.
pub fn export(
    r: &ReadingReport,
    format: ExportFormat,
    dir: &Path,
) -> Result<PathBuf, ServiceError> {
    let Some(id) = r.id else {
        return Err(ServiceError::ExportUnsaved);
    };
    write_new(
        &ExportTo::Folder(dir.to_path_buf()),
        &format!("iching-{id}"),
        format.extension(),
        &rendered(r, format),
    )
}

impl Service {
    /// Where exports go unless told: `export_dir` in config.toml, else the documents folder
    /// (else the data folder; never the current directory).
    pub fn export_dir(&self) -> &Path {
        &self.export_dir
    }

    /// Writes reading `id` to a new file in `dir` (`iching-ID.md`, `.html` or `.json`,
    /// readable by its owner only, never over another file); returns its path.
    pub async fn export(
        &self,
        id: ReadingId,
        format: ExportFormat,
        dir: &Path,
    ) -> Result<PathBuf, ServiceError> {
        let report = self.report(id).await?;
        export(&report, format, dir)
    }

    /// Every reading `filter` lists, newest first, as reports (their text opened and checked),
    /// and those that fail their check, left out, with why.
    pub async fn journal(
        &self,
        filter: HistoryFilter,
    ) -> Result<(Vec<ReadingReport>, Vec<(ReadingId, StoreError)>), ServiceError> {
        Ok(self
            .writer
            .call(move |s| {
                let mut reports = Vec::new();
                let mut damaged = Vec::new();
                for listed in s.list(&filter)? {
                    let id = listed.row.id;
                    match listed.question.and_then(|_| saved_report(s, id)) {
                        Ok(r) => reports.push(r),
                        Err(e) => damaged.push((id, e)),
                    }
                }
                Ok((reports, damaged))
            })
            .await?)
    }

    /// The journal (every reading `filter` lists, newest first: each with its situation, cast,
    /// sections, notes, outcome and follow-ups) in one new file as `to` says, escaped as a
    /// single reading's export is.
    pub async fn export_journal(
        &self,
        filter: HistoryFilter,
        format: ExportFormat,
        to: &ExportTo,
    ) -> Result<JournalExport, ServiceError> {
        let filtered = filter.search.is_some() || filter.no_outcome || filter.hexagram.is_some();
        let (reports, damaged) = self.journal(filter).await?;
        if reports.is_empty() && damaged.is_empty() {
            return Err(ServiceError::JournalEmpty(filtered));
        }
        let text = match format {
            ExportFormat::Markdown => report::journal_markdown(&reports),
            ExportFormat::Html => report::journal_page(&reports),
            ExportFormat::Json => serde_json::to_string_pretty(&reports).unwrap_or_default() + "\n",
        };
        let path = write_new(to, "iching-journal", format.extension(), &text)?;
        Ok(JournalExport {
            path,
            readings: reports.len(),
            damaged,
        })
    }
}
