//! The app: every screen's state and the one transition, [`App::update`], which takes a message
//! (a key, a paste, a resize, a tick, a section event, an answer from the store) and returns the
//! effects for the driver to run (start a reading, cancel it, load, delete, export, quit).
//!
//! Nothing here touches a terminal, the network, the store or the clock: the time arrives in
//! [`Msg::Tick`], the seeds of random casts come from a generator seeded at construction.

mod overlay;

use super::screens::followup::FollowupEditor;
use super::screens::journal::JournalView;
use super::screens::note::NoteEditor;
use super::screens::patterns::PatternsView;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::screens::ask::{AskAction, AskState};
use super::screens::body;
use super::screens::cast::{CastAction, CastState};
use super::screens::help::HelpOf;
use super::screens::history::{HistoryAction, HistoryRow, HistoryState};
use super::screens::library::{LibraryAction, LibraryState};
use super::screens::live::{self, Card, LiveAction, LiveState, Phase};
use super::screens::provider::{DoctorLine, PickerState};
use super::screens::reading::{ReadingAction, ReadingState};
use super::screens::stats::{StatsState, StatsView};
use super::strings::msg;
use super::theme::Theme;
use crate::answer::sanitize_inline;
use crate::events::EventKind;
use crate::events::SectionEvent;
use crate::model::{Query, ReadingId};
use crate::oracle::{Cast, Method, Reading};
use crate::report::{ReadingReport, ReadingStatus};
use crate::service::{
    Asked, HistoryEntry, JournalExport, NoteKind, Resume, Section, ServiceError, Synced, plan,
};
use crate::text::truncate_words;

pub use self::overlay::Overlay;
pub use super::screens::Screen;
pub use super::screens::provider::ProviderLine;
pub use crate::model::ExportFormat;
use crate::model::Secret;
pub use crate::service::{ProviderChoice, ProviderEntry};

/// Everything that can happen to the app. The data travels in the message.
#[derive(Debug, Clone)]
pub enum Msg {
    /// A key (releases are ignored).
    Key(KeyEvent),
    /// Text pasted into the terminal.
    Paste(String),
    /// The terminal is now this size.
    Resize(u16, u16),
    /// The time since the app started.
    Tick(Duration),
    /// An event of run `run`.
    Section {
        /// The run it belongs to.
        run: u64,
        /// What happened.
        event: SectionEvent,
    },
    /// Run `run`'s reading has this id in the store.
    Saved {
        /// Which run of the app (each cast or retry is one), to ignore a superseded one's news.
        run: u64,
        /// Its reading's id.
        id: ReadingId,
    },
    /// A stored reading to retry as run `run` was loaded (the grid shows it from its report),
    /// or could not be.
    Resumed {
        /// Which run of the app (each cast or retry is one), to ignore a superseded one's news.
        run: u64,
        /// The reading as stored and what runs again.
        result: Result<Box<Resume>, ServiceError>,
    },
    /// Run `run` is over: whether it was cancelled, or why it could not run or be saved.
    RunEnded {
        /// Which run of the app (each cast or retry is one), to ignore a superseded one's news.
        run: u64,
        /// `true` when cancelled.
        result: Result<bool, ServiceError>,
    },
    /// The history, newest first.
    History(Result<Vec<HistoryEntry>, ServiceError>),
    /// Reading `id` loaded for the Reading screen.
    Reading {
        /// The reading asked for.
        id: ReadingId,
        /// It, or why not.
        result: Result<Box<ReadingReport>, ServiceError>,
    },
    /// Reading `id`'s figures loaded for the Stats screen.
    Stats {
        /// The reading asked for.
        id: ReadingId,
        /// They, or why not.
        result: Result<Box<StatsView>, ServiceError>,
    },
    /// Reading `id` was written to this file, or not.
    Exported {
        /// The reading.
        id: ReadingId,
        /// The file, or why not.
        result: Result<PathBuf, ServiceError>,
    },
    /// The journal was written to a file, or not.
    JournalExported(Result<JournalExport, ServiceError>),
    /// The patterns, as lines to show, or why not.
    Patterns(Result<Vec<String>, ServiceError>),
    /// An event of follow-up run `run` (its answer streaming in).
    Followup {
        /// The follow-up's run.
        run: u64,
        /// What happened.
        event: SectionEvent,
    },
    /// Follow-up run `run` about reading `id` is over: answered and saved, cancelled, or why not.
    FollowupEnded {
        /// The follow-up's run.
        run: u64,
        /// The reading asked about.
        id: ReadingId,
        /// How it ended.
        result: Result<Asked, ServiceError>,
    },
    /// A note of reading `id` was replaced or deleted, or not.
    NoteChanged {
        /// The reading.
        id: ReadingId,
        /// Whether it was a deletion (else an edit).
        deleted: bool,
        /// Done, or why not.
        result: Result<(), ServiceError>,
    },
    /// A note was added to reading `id` (its id), or not.
    NoteAdded {
        /// The reading.
        id: ReadingId,
        /// A note or an outcome.
        kind: crate::model::NoteKind,
        /// The note's id, or why not.
        result: Result<usize, ServiceError>,
    },
    /// Reading `id` was deleted, or not.
    Deleted {
        /// The reading.
        id: ReadingId,
        /// Done, or why not.
        result: Result<(), ServiceError>,
    },
    /// The models of a provider the picker asked about (or why they could not be listed).
    Models {
        /// The preset or `[providers.NAME]` table it is about.
        provider: String,
        /// Its models, or what went wrong.
        result: Result<Vec<String>, ServiceError>,
    },
    /// The doctor's findings about a provider.
    Doctor {
        /// The preset or `[providers.NAME]` table it is about.
        provider: String,
        /// Passed, what was found, the fix.
        lines: Vec<DoctorLine>,
    },
    /// From now on this provider answers (the choice is kept in config.toml), or it could not
    /// be chosen.
    ProviderChanged(Result<ProviderChoice, ServiceError>),
    /// A key for `provider` was sealed (or, `removed`, taken out of the store), or not: the
    /// providers as they stand now, and the provider in use when that changed with it.
    ProviderKeys {
        /// The preset it is about.
        provider: String,
        /// Whether the key was removed (else pasted).
        removed: bool,
        /// The providers now and the provider in use when it changed, or why not.
        result: Result<(Vec<ProviderEntry>, Option<ProviderChoice>), ServiceError>,
    },
    /// The answer language changed (`None`: the question's own), or not.
    LanguageChanged(Result<Option<String>, ServiceError>),
    /// A background sync through the sync folder ended at `at` (`HH:MM`, local), or failed.
    Synced {
        /// When it ended.
        at: String,
        /// What it did, or why it could not.
        result: Result<Box<Synced>, ServiceError>,
    },
    /// The process was asked to stop (SIGTERM, SIGHUP), or the terminal went away.
    Interrupt,
}

impl Msg {
    /// Whether it reports something written to the store (a reading run, a note, a follow-up,
    /// a deletion): the journal has news for the sync folder.
    pub fn wrote(&self) -> bool {
        matches!(
            self,
            Msg::RunEnded { result: Ok(_), .. }
                | Msg::Deleted { result: Ok(()), .. }
                | Msg::NoteAdded { result: Ok(_), .. }
                | Msg::NoteChanged { result: Ok(()), .. }
                | Msg::FollowupEnded { result: Ok(_), .. }
        )
    }
}

/// What the driver should do.
#[derive(Debug, Clone)]
pub enum Effect {
    /// Save and run a new reading as run `run`.
    Start {
        /// Which run of the app (each cast or retry is one), to ignore a superseded one's news.
        run: u64,
        /// The validated question and situation.
        query: Query,
        /// The cast.
        reading: Arc<Reading>,
    },
    /// Run the failed and missing sections of the live grid's reading `id` again, as run `run`.
    Retry {
        /// Which run of the app (each cast or retry is one), to ignore a superseded one's news.
        run: u64,
        /// The reading's id in the store.
        id: ReadingId,
    },
    /// Retry the missing sections of stored reading `id` as run `run`.
    Resume {
        /// Which run of the app (each cast or retry is one), to ignore a superseded one's news.
        run: u64,
        /// The reading.
        id: ReadingId,
    },
    /// Stop run `run`.
    Cancel {
        /// Which run of the app (each cast or retry is one), to ignore a superseded one's news.
        run: u64,
    },
    /// Load the history.
    LoadHistory,
    /// Load reading `id` for the Reading screen.
    Open {
        /// The reading.
        id: ReadingId,
    },
    /// Load reading `id` for the Stats screen.
    LoadStats {
        /// The reading.
        id: ReadingId,
    },
    /// Delete reading `id`.
    Delete {
        /// The reading.
        id: ReadingId,
    },
    /// Write the journal of the readings `search` and `no_outcome` select to a new file.
    ExportJournal {
        /// Markdown or HTML.
        format: ExportFormat,
        /// Only readings the one search rule finds by this.
        search: Option<String>,
        /// Only readings without an outcome yet.
        no_outcome: bool,
    },
    /// Count the patterns of every reading (or of those `search` finds), laid out `width`
    /// columns wide.
    LoadPatterns {
        /// The columns inside the view.
        width: usize,
        /// Only readings the one search rule finds by this.
        search: Option<String>,
        /// Only readings without an outcome yet.
        no_outcome: bool,
    },
    /// Ask `question` about reading `id`, as run `run`.
    Ask {
        /// The follow-up's run (for cancelling).
        run: u64,
        /// The reading.
        id: ReadingId,
        /// The question, cleaned.
        question: String,
    },
    /// Add a note of `kind` to reading `id`.
    AddNote {
        /// The reading.
        id: ReadingId,
        /// Note or outcome.
        kind: NoteKind,
        /// The text, cleaned.
        text: String,
    },
    /// Replace the text of note `note` of reading `id`.
    EditNote {
        /// The reading.
        id: ReadingId,
        /// The note.
        note: usize,
        /// The new text, cleaned.
        text: String,
    },
    /// Delete note `note` of reading `id`.
    DeleteNote {
        /// The reading.
        id: ReadingId,
        /// The note.
        note: usize,
    },
    /// Write reading `id` to a new file in the export folder.
    Export {
        /// The reading.
        id: ReadingId,
        /// Markdown or a standalone HTML page.
        format: ExportFormat,
    },
    /// List the models of `provider`.
    LoadModels {
        /// The provider (a preset, a table of config.toml).
        provider: String,
    },
    /// Check `provider` as `iching doctor` does.
    Doctor {
        /// The preset or `[providers.NAME]` table it is about.
        provider: String,
        /// The model to check (its default when `None`).
        model: Option<String>,
    },
    /// Answer with `provider` and `model` from now on, and keep the choice in config.toml.
    UseProvider {
        /// The preset or `[providers.NAME]` table it is about.
        provider: String,
        /// The model name, as listed or typed.
        model: String,
    },
    /// Seal `key` in the store as `provider`'s key.
    SetProviderKey {
        /// The preset.
        provider: String,
        /// The key as pasted (never shown, never logged).
        key: Secret,
    },
    /// Remove the key pasted for `provider`.
    RemoveProviderKey {
        /// The preset.
        provider: String,
    },
    /// Answer in `language` from now on (`None`: the question's own), kept in config.toml.
    SetLanguage {
        /// The language, as the list names it.
        language: Option<String>,
    },
    /// Leave (after cancelling what is in flight).
    Quit,
}

/// A yes/no question on the status line.
#[derive(Debug, Clone)]
pub enum Confirm {
    /// Quit while a reading is in flight.
    Quit,
    /// Cancel the reading in flight.
    Cancel,
    /// Delete a reading.
    Delete(ReadingId),
    /// Replace a note's text with what the editor holds (`n` reopens the editor).
    EditNote(Box<NoteEditor>, String),
    /// Delete note `.1` of reading `.0`.
    DeleteNote(ReadingId, usize),
    /// Stop the follow-up being answered as run `.0`.
    StopFollowup(u64),
}

impl PartialEq for Confirm {
    /// The same question: an edit is the same when it is of the same note with the same text.
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Confirm::Quit, Confirm::Quit) | (Confirm::Cancel, Confirm::Cancel) => true,
            (Confirm::Delete(a), Confirm::Delete(b)) => a == b,
            (Confirm::EditNote(a, x), Confirm::EditNote(b, y)) => {
                (a.id, a.editing, x) == (b.id, b.editing, y)
            }
            (Confirm::DeleteNote(a, m), Confirm::DeleteNote(b, n)) => (a, m) == (b, n),
            (Confirm::StopFollowup(a), Confirm::StopFollowup(b)) => a == b,
            _ => false,
        }
    }
}

impl Eq for Confirm {}

/// A line on the status bar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// The words.
    pub text: String,
    /// Whether it reports an error.
    pub error: bool,
}

/// What the app starts with.
#[derive(Debug, Clone)]
pub struct Options {
    /// Who answers.
    pub provider: ProviderLine,
    /// Seeds the random casts.
    pub seed: u64,
    /// The terminal's size.
    pub size: (u16, u16),
    /// Whether to colour.
    pub colour: bool,
    /// Every provider the picker offers.
    pub providers: Vec<ProviderEntry>,
    /// The language answers are written in (`None`: the question's own).
    pub language: Option<String>,
    /// Why the store cannot be written, when it cannot: the app browses, and casting says why.
    pub read_only: Option<String>,
}

/// The whole app.
#[derive(Debug, Clone)]
pub struct App {
    /// The screen shown.
    pub screen: Screen,
    /// The time since start, as of the last tick.
    pub now: Duration,
    /// The terminal's size.
    pub size: (u16, u16),
    /// Styles.
    pub theme: Theme,
    /// Who answers.
    pub provider: ProviderLine,
    /// The status line's message.
    pub status: Option<Status>,
    /// What is open over the screen, if anything: the help, the picker, an editor, the
    /// Journal, the Patterns or a yes/no question (one at most; see [`Overlay`]).
    pub overlay: Option<Overlay>,
    /// Why the store cannot be written, when it cannot.
    pub read_only: Option<String>,
    /// When the journal last synced through the sync folder, and with how many machines
    /// (`sync_dir` set), for the status line.
    pub sync_line: Option<String>,
    /// Every provider the picker offers.
    pub providers: Vec<ProviderEntry>,
    /// The language answers are written in (`None`: the question's own).
    pub language: Option<String>,
    /// The question being typed and the method chosen.
    pub ask: AskState,
    /// The lines appearing, while a cast is shown.
    pub cast: Option<CastState>,
    /// The live grid.
    pub live: Option<LiveState>,
    /// The reading open on the Reading screen, its scroll and what is loading.
    pub reading: ReadingState,
    /// The rows of the History screen, the cursor and the filter.
    pub history: HistoryState,
    /// The reading shown on the Stats screen and what is loading.
    pub stats: StatsState,
    /// The book: its filter, the hexagram shown, the reading it was opened from.
    pub library: LibraryState,
    /// Where Esc leads from Reading and Stats.
    back: Screen,
    /// Where leaving the Library leads.
    library_back: Screen,
    /// Whether to stop.
    pub quit: bool,
    /// Ctrl-C stopped a reading in flight: the process exits 130, as a cancelled cast does.
    pub quit_cancelled: bool,
    dirty: bool,
    rng: ChaCha8Rng,
    runs: u64,
    /// A retry asked for from History whose reading is still loading (its run id).
    resuming: Option<u64>,
}

impl App {
    /// A new app on the Ask screen.
    pub fn new(o: Options) -> Self {
        Self {
            screen: Screen::Ask,
            now: Duration::ZERO,
            size: o.size,
            theme: Theme::new(o.colour),
            provider: o.provider,
            status: o.read_only.as_ref().map(|why| Status {
                text: why.clone(),
                error: true,
            }),
            overlay: None,
            providers: o.providers,
            language: o.language,
            read_only: o.read_only,
            sync_line: None,
            ask: AskState::new(),
            cast: None,
            live: None,
            reading: ReadingState::default(),
            history: HistoryState::default(),
            stats: StatsState::default(),
            library: LibraryState::default(),
            back: Screen::History,
            library_back: Screen::Ask,
            quit: false,
            quit_cancelled: false,
            dirty: true,
            rng: ChaCha8Rng::seed_from_u64(o.seed),
            runs: 0,
            resuming: None,
        }
    }

    /// Whether something changed since the last draw; clears the flag.
    pub fn take_dirty(&mut self) -> bool {
        std::mem::take(&mut self.dirty)
    }

    /// Whether the screen moves on its own (spinners, clocks, the cast): the driver ticks only then.
    pub fn animating(&self) -> bool {
        let casting = self.screen == Screen::Cast
            && self.cast.as_ref().is_some_and(|c| c.animating(self.now));
        casting
            || self.live.as_ref().is_some_and(LiveState::running)
            || self.reading.asking.is_some()
    }

    /// Says something on the status line.
    pub fn say(&mut self, text: impl Into<String>) {
        self.status = Some(Status {
            text: text.into(),
            error: false,
        });
    }

    /// Reports an error on the status line.
    pub fn error(&mut self, text: impl Into<String>) {
        self.status = Some(Status {
            text: text.into(),
            error: true,
        });
    }

    /// The one transition: folds `msg` in and returns what the driver should do.
    pub fn update(&mut self, msg: Msg) -> Vec<Effect> {
        let mut fx = Vec::new();
        match msg {
            Msg::Tick(now) => self.tick(now),
            Msg::Key(key) => {
                if key.kind != KeyEventKind::Release {
                    self.dirty = true;
                    self.on_key(key, &mut fx);
                }
            }
            Msg::Paste(text) => {
                self.dirty = true;
                if self.on_overlay_paste(&text) {
                    return fx;
                }
                match self.screen {
                    Screen::Ask => self.ask.on_paste(&text),
                    Screen::History if self.history.filtering => {
                        self.history
                            .filter
                            .insert_str(text.replace(['\n', '\r'], " "));
                    }
                    Screen::Library if !self.library.open => {
                        self.library
                            .filter
                            .insert_str(text.replace(['\n', '\r'], " "));
                        if let Some(first) = self.library.visible().first() {
                            self.library.shown = first.number;
                            self.library.scroll = 0;
                        }
                    }
                    Screen::Cast
                    | Screen::Live
                    | Screen::Reading
                    | Screen::History
                    | Screen::Stats
                    | Screen::Library => {}
                }
            }
            Msg::Resize(w, h) => {
                self.size = (w, h);
                self.dirty = true;
            }
            Msg::Section { run, event } => {
                if let Some(live) = self.live.as_mut().filter(|l| l.run == run) {
                    live.apply(&event, self.now);
                    self.dirty = true;
                    // A section is kept before it is reported settled: a Reading screen on
                    // this reading shows it from the store.
                    if let (Some(id), EventKind::Finished(_) | EventKind::Failed(_)) =
                        (event.reading, &event.kind)
                    {
                        self.reload_reading(id, &mut fx);
                    }
                }
            }
            Msg::Saved { run, id } => {
                if let Some(live) = self.live.as_mut().filter(|l| l.run == run) {
                    live.id = Some(id);
                }
            }
            Msg::Resumed { run, result } => match result {
                Ok(resume) => self.resumed(run, &resume),
                Err(e) => {
                    // The retry never starts: the guard it held goes, and only it.
                    if self.resuming == Some(run) {
                        self.resuming = None;
                    }
                    self.fail(&e);
                }
            },
            Msg::RunEnded { run, result } => match result {
                Ok(cancelled) => self.run_ended(run, cancelled, &mut fx),
                Err(e) => {
                    self.fail(&e);
                    self.run_ended(run, true, &mut fx);
                }
            },
            Msg::History(result) => {
                match result {
                    Ok(entries) => self
                        .history
                        .set_rows(entries.into_iter().map(HistoryRow::from).collect()),
                    Err(e) => self.fail(&e),
                }
                self.dirty = true;
            }
            Msg::Reading { id, result } => {
                if self.reading.loading == Some(id) {
                    self.reading.loading = None;
                    let keep_place = std::mem::take(&mut self.reading.keep_place);
                    match result {
                        Ok(report) if keep_place => {
                            self.reading.refreshed(report, body(self.size), &self.theme);
                        }
                        Ok(report) => {
                            self.reading.report = Some(report);
                            self.reading.scroll = 0;
                            let b = body(self.size);
                            self.reading.apply_jump(b, &self.theme);
                        }
                        Err(e) => self.fail(&e),
                    }
                    if std::mem::take(&mut self.reading.stale) {
                        self.reload_reading(id, &mut fx);
                    }
                    self.dirty = true;
                }
            }
            Msg::Stats { id, result } => {
                if self.stats.loading == Some(id) {
                    self.stats.loading = None;
                    match result {
                        Ok(view) => {
                            self.stats.view = Some(view);
                            self.stats.scroll = 0;
                        }
                        Err(e) => self.fail(&e),
                    }
                    self.dirty = true;
                }
            }
            Msg::Exported { id: _, result } => {
                match result {
                    Ok(path) => self.say(msg::exported(&path)),
                    Err(e) => self.fail(&e),
                }
                self.dirty = true;
            }
            Msg::JournalExported(result) => {
                match result {
                    Ok(done) => self.say(msg::journal_exported(done.readings, &done.path)),
                    Err(e) => self.fail(&e),
                }
                self.dirty = true;
            }
            Msg::Patterns(result) => {
                match result {
                    Ok(lines) => {
                        if let Some(Overlay::Patterns(view)) = self.overlay.as_mut() {
                            view.lines = Some(lines);
                        }
                    }
                    Err(e) => {
                        if matches!(self.overlay, Some(Overlay::Patterns(_))) {
                            self.overlay = None;
                        }
                        self.fail(&e);
                    }
                }
                self.dirty = true;
            }
            Msg::Followup { run, event } => {
                if let Some(a) = self.reading.asking.as_mut().filter(|a| a.run == run) {
                    match event.kind {
                        EventKind::Delta(more) => a.text.push_str(&more),
                        // The next attempt starts over (also one queued again after a cut).
                        EventKind::Retrying { .. }
                        | EventKind::Held(crate::events::Hold::Requeued { .. }) => a.text.clear(),
                        _ => {}
                    }
                    self.reading.follow_answer(body(self.size), &self.theme);
                    self.dirty = true;
                }
            }
            Msg::FollowupEnded { run, id, result } => {
                if self.reading.asking.as_ref().is_some_and(|a| a.run == run) {
                    self.reading.asking = None;
                }
                match result {
                    Ok(Asked::Answered(f)) => {
                        if let Some(report) =
                            self.reading.report.as_mut().filter(|r| r.id == Some(id))
                        {
                            report.followups.push(*f);
                        }
                        self.say(msg::FOLLOWUP_SAVED);
                    }
                    Ok(Asked::Cancelled) => self.say(msg::FOLLOWUP_CANCELLED),
                    Err(e) => self.fail(&e),
                }
                self.dirty = true;
            }
            Msg::NoteChanged {
                id,
                deleted,
                result,
            } => {
                match result {
                    Ok(()) => {
                        self.say(if deleted {
                            msg::NOTE_DELETED
                        } else {
                            msg::NOTE_EDITED
                        });
                        self.reload_reading(id, &mut fx);
                    }
                    Err(e) => self.fail(&e),
                }
                self.dirty = true;
            }
            Msg::NoteAdded { id, kind, result } => {
                match result {
                    Ok(_) => {
                        self.say(if kind == crate::model::NoteKind::Outcome {
                            msg::OUTCOME_SAVED
                        } else {
                            msg::NOTE_SAVED
                        });
                        self.reload_reading(id, &mut fx);
                    }
                    Err(e) => self.fail(&e),
                }
                self.dirty = true;
            }
            Msg::Deleted { id, result } => {
                match result {
                    Ok(()) => self.deleted(id, &mut fx),
                    Err(e) => self.fail(&e),
                }
                self.dirty = true;
            }
            Msg::Interrupt => self.quit_now(&mut fx),
            Msg::Synced { at, result } => {
                match result {
                    Ok(done) => {
                        self.sync_line = Some(msg::synced(&at, done.devices));
                        if let Some(first) = done.refused.first() {
                            self.error(msg::sync_refused(
                                done.refused.len(),
                                &first.path.to_string_lossy(),
                            ));
                        }
                    }
                    Err(e) => self.fail(&e),
                }
                self.dirty = true;
            }
            Msg::Models { provider, result } => {
                if let Some(Overlay::Picker(p)) = self.overlay.as_mut() {
                    p.set_models(
                        &provider,
                        result.map_err(|e| sanitize_inline(&e.to_string())),
                    );
                    self.dirty = true;
                }
            }
            Msg::Doctor { provider, lines } => {
                if let Some(Overlay::Picker(p)) = self.overlay.as_mut() {
                    p.set_doctor(&provider, lines);
                    self.dirty = true;
                }
            }
            Msg::ProviderChanged(result) => {
                match result {
                    Ok(choice) => {
                        self.provider_now(choice);
                        self.say(msg::provider_changed(&self.provider.label()));
                        if matches!(self.overlay, Some(Overlay::Picker(_))) {
                            self.overlay = None;
                        }
                    }
                    Err(e) => self.fail(&e),
                }
                self.dirty = true;
            }
            Msg::ProviderKeys {
                provider,
                removed,
                result,
            } => {
                match result {
                    Ok((entries, choice)) => {
                        self.providers.clone_from(&entries);
                        if let Some(Overlay::Picker(p)) = self.overlay.as_mut() {
                            p.set_providers(entries);
                        }
                        let mut said = if removed {
                            msg::key_removed(&provider)
                        } else {
                            msg::key_kept(&provider)
                        };
                        if let Some(choice) = choice {
                            self.provider_now(choice);
                            said = match &self.provider.note {
                                Some(note) => format!("{said} {note}"),
                                None => format!(
                                    "{said} {}",
                                    msg::provider_changed(&self.provider.label())
                                ),
                            };
                        }
                        self.say(said);
                    }
                    Err(e) => self.fail(&e),
                }
                self.dirty = true;
            }
            Msg::LanguageChanged(result) => {
                match result {
                    Ok(language) => {
                        self.say(msg::language_changed(
                            language.as_deref(),
                            self.provider.name == "offline",
                        ));
                        if let Some(Overlay::Picker(p)) = self.overlay.as_mut() {
                            p.language.clone_from(&language);
                        }
                        self.language = language;
                    }
                    Err(e) => self.fail(&e),
                }
                self.dirty = true;
            }
        }
        fx
    }

    /// `choice` answers from now on: the status bar, the Ask screen and an open picker say so.
    fn provider_now(&mut self, choice: ProviderChoice) {
        let line = ProviderLine {
            name: choice.preset,
            ..ProviderLine::new(&choice.info, choice.note)
        };
        if let Some(Overlay::Picker(p)) = self.overlay.as_mut() {
            p.current.clone_from(&line.name);
            p.current_model.clone_from(&line.model);
        }
        self.provider = line;
    }

    /// Loads reading `id` again when the Reading screen shows it (a section was saved, its
    /// journal changed), to replace it at the same place; once the load in progress is in
    /// when there is one.
    fn reload_reading(&mut self, id: ReadingId, fx: &mut Vec<Effect>) {
        if !self.shows_reading(id) {
            return;
        }
        if self.reading.loading.is_some() {
            self.reading.stale = true;
        } else {
            self.reading.loading = Some(id);
            self.reading.keep_place = true;
            fx.push(Effect::Open { id });
        }
    }

    /// Whether reading `id` is the one the Reading screen has (on show or behind another), or
    /// is loading for it.
    fn shows_reading(&self, id: ReadingId) -> bool {
        self.reading.loading == Some(id)
            || self
                .reading
                .report
                .as_ref()
                .is_some_and(|r| r.id == Some(id))
    }

    /// Reports a failed operation on the status line (its words cleaned for the terminal).
    fn fail(&mut self, e: &ServiceError) {
        self.error(sanitize_inline(&e.to_string()));
    }

    /// Reading `id` is gone: whatever showed it lets go, and the history reloads.
    fn deleted(&mut self, id: ReadingId, fx: &mut Vec<Effect>) {
        self.say(msg::deleted(id));
        if self
            .reading
            .report
            .as_ref()
            .is_some_and(|r| r.id == Some(id))
        {
            self.reading = ReadingState::default();
        }
        if self
            .live
            .as_ref()
            .is_some_and(|l| l.id == Some(id) && !l.running())
        {
            self.live = None;
        }
        fx.push(Effect::LoadHistory);
    }

    fn tick(&mut self, now: Duration) {
        let frame = |t: Duration| t.as_millis() / 100;
        let before = frame(self.now);
        let animating = self.animating();
        self.now = now;
        if animating && frame(now) != before {
            self.dirty = true;
        }
        if self.screen == Screen::Cast && self.cast.as_ref().is_some_and(|c| c.finished(now)) {
            self.screen = Screen::Live;
            self.dirty = true;
        }
    }

    fn next_run(&mut self) -> u64 {
        self.runs += 1;
        self.runs
    }

    fn running(&self) -> bool {
        self.resuming.is_some() || self.live.as_ref().is_some_and(LiveState::running)
    }

    fn goto(&mut self, screen: Screen, fx: &mut Vec<Effect>) {
        if screen == Screen::History {
            if self.screen != Screen::History {
                self.history.reopen();
            }
            fx.push(Effect::LoadHistory);
        }
        self.screen = screen;
    }

    fn on_key(&mut self, key: KeyEvent, fx: &mut Vec<Effect>) {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        if ctrl && matches!(key.code, KeyCode::Char('c' | 'q')) {
            self.quit_cancelled = self.running();
            self.quit_now(fx);
            return;
        }
        if let Some(overlay) = self.overlay.take() {
            return self.on_overlay_key(overlay, key, fx);
        }
        self.status = None;
        match key.code {
            KeyCode::F(1) => self.open_help(),
            KeyCode::F(2) => self.goto(Screen::Ask, fx),
            KeyCode::F(3) => self.goto(Screen::Live, fx),
            KeyCode::F(4) => self.goto(Screen::History, fx),
            KeyCode::F(5) => self.open_library(),
            KeyCode::F(7) => {
                self.open(Overlay::Picker(Box::new(PickerState::new(
                    self.providers.clone(),
                    &self.provider.name,
                    &self.provider.model,
                    self.language.clone(),
                ))));
            }
            _ => self.on_screen_key(key, fx),
        }
    }

    fn open_help(&mut self) {
        self.open(Overlay::Help { scroll: 0 });
    }

    /// What the help is about: this screen, and whether letters are typed here.
    pub fn help_of(&self) -> HelpOf {
        HelpOf {
            screen: self.screen,
            typing: self.typing(),
        }
    }

    /// Whether keys on this screen are text (so letters are not shortcuts).
    fn typing(&self) -> bool {
        match self.screen {
            Screen::Ask | Screen::Cast => true,
            Screen::History => self.history.filtering,
            Screen::Library => !self.library.open,
            Screen::Live | Screen::Reading | Screen::Stats => false,
        }
    }

    fn on_screen_key(&mut self, key: KeyEvent, fx: &mut Vec<Effect>) {
        if !self.typing() && !key.modifiers.contains(KeyModifiers::CONTROL) {
            match key.code {
                KeyCode::Char('?') => return self.open_help(),
                KeyCode::Char('q') => {
                    if self.running() {
                        self.ask(Confirm::Quit, msg::QUIT_IN_FLIGHT);
                    } else {
                        self.quit_now(fx);
                    }
                    return;
                }
                KeyCode::Char('a') => return self.goto(Screen::Ask, fx),
                KeyCode::Char('l') => return self.goto(Screen::Live, fx),
                KeyCode::Char('h') => return self.goto(Screen::History, fx),
                KeyCode::Char('b') => return self.open_library(),
                _ => {}
            }
        }
        match self.screen {
            Screen::Ask => self.on_ask(key, fx),
            Screen::Cast => self.on_cast(key, fx),
            Screen::Live => self.on_live(key, fx),
            Screen::Reading => {
                let b = body(self.size);
                match self.reading.on_key(key, b, &self.theme) {
                    ReadingAction::None => {}
                    ReadingAction::Back => self.screen = self.back,
                    ReadingAction::Stats(id) => self.open_stats(id, Screen::Reading, fx),
                    ReadingAction::Export(id, format) => fx.push(Effect::Export { id, format }),
                    ReadingAction::Book(links) => {
                        self.library.follow(links);
                        self.library_back = Screen::Reading;
                        self.screen = Screen::Library;
                    }
                    ReadingAction::Say(text) => self.say(text),
                    ReadingAction::Note(id) => match &self.read_only {
                        Some(why) => {
                            let why = why.clone();
                            self.error(why);
                        }
                        None => self.open(Overlay::Note(Box::new(NoteEditor::new(id)))),
                    },
                    ReadingAction::Journal(id) => {
                        if let Some(why) = &self.read_only {
                            let why = why.clone();
                            self.error(why);
                        } else {
                            let notes = self
                                .reading
                                .report
                                .as_ref()
                                .map(|r| r.notes.clone())
                                .unwrap_or_default();
                            self.open(Overlay::Journal(JournalView::new(id, notes)));
                        }
                    }
                    ReadingAction::FollowUp(id) => {
                        if let Some(why) = &self.read_only {
                            let why = why.clone();
                            self.error(why);
                        } else if let Some(a) = &self.reading.asking {
                            // One at a time: f again offers to stop the one in flight.
                            self.ask(Confirm::StopFollowup(a.run), msg::FOLLOWUP_BUSY);
                        } else {
                            self.open(Overlay::Followup(Box::new(FollowupEditor::new(id))));
                        }
                    }
                }
            }
            Screen::History => self.on_history(key, fx),
            Screen::Stats => {
                if self.stats.on_key(key) {
                    self.screen = self.back_from_stats();
                }
            }
            Screen::Library => match self.library.on_key(key, body(self.size), &self.theme) {
                LibraryAction::None => {}
                LibraryAction::Back => self.screen = self.library_back,
            },
        }
    }

    /// The Library, as it was left; a reading's hexagrams are forgotten (`o` on the Reading
    /// screen brings them back).
    fn open_library(&mut self) {
        if self.screen != Screen::Library {
            self.library_back = self.screen;
            self.library.links = None;
        }
        self.screen = Screen::Library;
    }

    fn back_from_stats(&self) -> Screen {
        match self.back {
            Screen::Reading if self.reading.report.is_some() => Screen::Reading,
            Screen::Live => Screen::Live,
            _ => Screen::History,
        }
    }

    fn quit_now(&mut self, fx: &mut Vec<Effect>) {
        if let Some(live) = self.live.as_mut().filter(|l| l.running()) {
            live.cancelling = true;
            fx.push(Effect::Cancel { run: live.run });
        }
        if let Some(a) = &self.reading.asking {
            fx.push(Effect::Cancel { run: a.run });
        }
        fx.push(Effect::Quit);
        self.quit = true;
    }

    fn on_ask(&mut self, key: KeyEvent, fx: &mut Vec<Effect>) {
        match self.ask.on_key(key) {
            AskAction::None => {}
            AskAction::Leave => self.goto(Screen::History, fx),
            AskAction::Cast(query, method) => {
                if let Some(why) = &self.read_only {
                    let why = why.clone();
                    self.error(why);
                    return;
                }
                if self.running() {
                    self.error(msg::BUSY);
                    return;
                }
                let cast = match method {
                    Method::Manual => None,
                    Method::Coins | Method::Yarrow => {
                        match Cast::random(method, self.rng.next_u64()) {
                            Ok(c) => Some(c),
                            Err(e) => return self.error(e.to_string()),
                        }
                    }
                };
                self.cast = Some(CastState {
                    query: query.clone(),
                    method,
                    cast: cast.clone(),
                    manual: Vec::new(),
                    started: self.now,
                    hint: None,
                });
                self.screen = Screen::Cast;
                if let Some(cast) = cast {
                    self.begin(query, cast, fx);
                }
            }
        }
    }

    /// Starts a reading of `cast`: the grid is set up at once, every section queued.
    fn begin(&mut self, query: Query, cast: Cast, fx: &mut Vec<Effect>) {
        let run = self.next_run();
        let reading = Arc::new(Reading::new(cast));
        let sections = plan(&reading);
        self.live = Some(LiveState::new(
            run,
            reading.clone(),
            query.question.clone(),
            &sections,
            &self.provider.model,
            self.now,
        ));
        self.ask.reset();
        fx.push(Effect::Start {
            run,
            query,
            reading,
        });
    }

    fn on_cast(&mut self, key: KeyEvent, fx: &mut Vec<Effect>) {
        let running = self.running();
        let Some(state) = self.cast.as_mut() else {
            self.screen = Screen::Ask;
            return;
        };
        match state.on_key(key) {
            CastAction::None => {}
            CastAction::Skip => self.screen = Screen::Live,
            CastAction::Back => self.screen = Screen::Ask,
            CastAction::Cast(cast) => {
                if running {
                    return self.error(msg::BUSY);
                }
                let query = state.query.clone();
                self.begin(query, cast, fx);
                self.screen = Screen::Live;
            }
        }
    }

    fn on_live(&mut self, key: KeyEvent, fx: &mut Vec<Effect>) {
        let b = live::body(body(self.size));
        let Some(state) = self.live.as_mut() else {
            if key.code == KeyCode::Esc {
                self.screen = Screen::Ask;
            }
            return;
        };
        let cols = live::grid(b, state.cards.len()).cols;
        match state.on_key(key, cols) {
            LiveAction::None => {}
            LiveAction::Open(section) => match state.id {
                Some(id) => {
                    self.reading.jump = Some(section);
                    self.open_reading(id, Screen::Live, fx);
                }
                None => self.say(msg::NOT_SAVED),
            },
            LiveAction::Retry => {
                if state.running() {
                    return self.say(msg::RETRY_WAIT);
                }
                let Some(id) = state.id else {
                    return self.error(msg::NOT_SAVED_RETRY);
                };
                let sections = state.to_retry();
                if sections.is_empty() {
                    return self.say(msg::NOTHING_TO_RETRY);
                }
                self.runs += 1;
                let run = self.runs;
                state.restart(run, &sections, &self.provider.model, self.now);
                fx.push(Effect::Retry { run, id });
            }
            LiveAction::Cancel => {
                self.ask(Confirm::Cancel, msg::CANCEL_IN_FLIGHT);
            }
            LiveAction::Back => self.screen = Screen::Ask,
            LiveAction::Stats => match state.id {
                Some(id) => self.open_stats(id, Screen::Live, fx),
                None => self.say(msg::NOT_SAVED),
            },
        }
    }

    /// Stops the run in flight (asked and answered yes).
    fn cancel_run(&mut self, fx: &mut Vec<Effect>) {
        if let Some(live) = self.live.as_mut().filter(|l| l.running()) {
            live.cancelling = true;
            fx.push(Effect::Cancel { run: live.run });
            self.say(msg::CANCELLING);
        }
    }

    fn open_reading(&mut self, id: ReadingId, from: Screen, fx: &mut Vec<Effect>) {
        // A load of this reading still out may be older than what is saved now: one more
        // follows it. Another reading's is forgotten.
        if self.reading.loading.is_some_and(|l| l != id) {
            self.reading.stale = false;
        }
        self.reading.loading = Some(id);
        self.reading.keep_place = false;
        if self
            .reading
            .report
            .as_ref()
            .is_some_and(|r| r.id != Some(id))
        {
            self.reading.report = None;
        }
        self.back = from;
        self.screen = Screen::Reading;
        fx.push(Effect::Open { id });
    }

    fn open_stats(&mut self, id: ReadingId, from: Screen, fx: &mut Vec<Effect>) {
        self.stats.loading = Some(id);
        if self.stats.view.as_ref().is_some_and(|v| v.stats.id != id) {
            self.stats.view = None;
        }
        if from == Screen::Reading {
            self.back = Screen::Reading;
        } else {
            self.back = from;
        }
        self.screen = Screen::Stats;
        fx.push(Effect::LoadStats { id });
    }

    fn on_history(&mut self, key: KeyEvent, fx: &mut Vec<Effect>) {
        let page = usize::from(body(self.size).height.saturating_sub(3)).max(1);
        match self.history.on_key(key, page) {
            HistoryAction::None => {}
            HistoryAction::Open(id) => {
                self.reading.jump = None;
                self.open_reading(id, Screen::History, fx);
            }
            // On a store that cannot be written, what would change it says why at once
            // instead of asking first.
            HistoryAction::Delete(..) | HistoryAction::Retry(_) if self.read_only.is_some() => {
                let why = self.read_only.clone().unwrap_or_default();
                self.error(why);
            }
            HistoryAction::Delete(id, question) => {
                self.ask(
                    Confirm::Delete(id),
                    // The box wraps: room for most questions whole, cut between words.
                    msg::confirm_delete(id, &truncate_words(&question, 100)),
                );
            }
            HistoryAction::Export(id, format) => fx.push(Effect::Export { id, format }),
            HistoryAction::ExportJournal(format) => {
                if self.history.visible().is_empty() {
                    self.say(msg::NOTHING_TO_EXPORT);
                } else {
                    let typed = self.history.filter_text();
                    fx.push(Effect::ExportJournal {
                        format,
                        search: Some(typed.trim().to_owned()).filter(|s| !s.is_empty()),
                        no_outcome: self.history.no_outcome,
                    });
                }
            }
            HistoryAction::Retry(id) => {
                if self.running() {
                    return self.error(msg::BUSY);
                }
                let run = self.next_run();
                // Busy from now on, not only once the reading has loaded: a second start in
                // between would run unseen.
                self.resuming = Some(run);
                fx.push(Effect::Resume { run, id });
                self.screen = Screen::Live;
            }
            HistoryAction::Stats(id) => self.open_stats(id, Screen::History, fx),
            HistoryAction::Patterns => {
                self.open(Overlay::Patterns(PatternsView::default()));
                // The box takes a column each side, its borders and padding two more each.
                let width = usize::from(self.size.0).saturating_sub(6);
                // What History is filtered by, the patterns are counted for.
                let typed = self.history.filter.lines().join(" ");
                let search = Some(typed.trim().to_owned()).filter(|s| !s.is_empty());
                let no_outcome = self.history.no_outcome;
                fx.push(Effect::LoadPatterns {
                    width,
                    search,
                    no_outcome,
                });
            }
            HistoryAction::Back => self.screen = Screen::Ask,
            HistoryAction::Say(text) => self.say(text),
        }
    }

    fn resumed(&mut self, run: u64, resume: &Resume) {
        let (report, reading, sections) = (&resume.report, resume.reading.clone(), &resume.missing);
        if self.resuming == Some(run) {
            self.resuming = None;
        }
        if self
            .live
            .as_ref()
            .is_some_and(|l| l.run != run && l.running())
        {
            return;
        }
        let planned: Vec<Section> = report
            .sections
            .iter()
            .filter_map(|s| Section::from_id(s.id))
            .collect();
        let mut live = LiveState::new(
            run,
            reading,
            report.question.clone(),
            &planned,
            &self.provider.model,
            self.now,
        );
        live.id = report.id;
        for (card, s) in live.cards.iter_mut().zip(&report.sections) {
            if sections.contains(&card.section) {
                continue;
            }
            // Not asked again: the model is the one the store says answered, if any.
            *card = Card {
                phase: Phase::settled(s),
                model: s.model.as_deref().map(sanitize_inline),
                ..Card::queued(card.section, "")
            };
        }
        self.live = Some(live);
        self.dirty = true;
    }

    fn run_ended(&mut self, run: u64, cancelled: bool, fx: &mut Vec<Effect>) {
        let Some(live) = self.live.as_mut().filter(|l| l.run == run) else {
            return;
        };
        live.settle(cancelled, self.now);
        let (status, done, total, id) = (live.status, live.done(), live.cards.len(), live.id);
        // A Reading screen on this reading takes its settled status.
        if let Some(id) = id {
            self.reload_reading(id, fx);
        }
        // Enter opens the reading from the grid only.
        let opens = self.screen == Screen::Live;
        if cancelled {
            self.say(msg::CANCELLED);
        } else if status == ReadingStatus::Complete {
            self.say(msg::finished(status.as_str(), done, total, opens));
        } else {
            self.error(msg::finished(status.as_str(), done, total, opens));
        }
        if self.screen == Screen::History {
            fx.push(Effect::LoadHistory);
        }
        self.dirty = true;
    }
}
