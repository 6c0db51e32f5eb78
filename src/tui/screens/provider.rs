//! The provider box, over any screen (F7): every provider preset (and `[providers.NAME]` table,
//! and offline) with its address and where its key comes from; choose one, then one of the
//! models its endpoint lists (or type a name), and keep the choice in config.toml. `d` checks
//! the highlighted provider as `iching doctor` does (what it found stays with that provider);
//! `p` pastes a key for a hosted preset (masked; sealed in the store), `x` twice removes it;
//! `l` chooses the language answers are written in.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};

use std::collections::BTreeMap;

use super::centered;
use crate::answer::sanitize_inline;
use crate::model::Secret;
use crate::service::{ProviderEntry, ProviderInfo};
use crate::text::{self, truncate};
use crate::tui::strings::{KeyHelp, footer, picker};
use crate::tui::theme::Theme;

/// Who answers, as the status line says it (never a key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderLine {
    /// The provider preset: "offline", "openai", "ollama", ...
    pub name: String,
    /// The model.
    pub model: String,
    /// The endpoint, without credentials (empty offline).
    pub endpoint: String,
    /// Why it is offline, when nothing said so.
    pub note: Option<String>,
}

impl ProviderLine {
    /// From a provider's info.
    pub fn new(info: &ProviderInfo, note: Option<String>) -> Self {
        Self {
            name: info.name().to_owned(),
            model: sanitize_inline(&info.model),
            endpoint: sanitize_inline(&info.endpoint),
            note,
        }
    }

    /// "offline · legge-1882", "openai · gpt-4o-mini · localhost:11434/v1".
    pub fn label(&self) -> String {
        let endpoint = self
            .endpoint
            .trim_start_matches("https://")
            .trim_start_matches("http://");
        if endpoint.is_empty() {
            format!("{} · {}", self.name, self.model)
        } else {
            format!("{} · {} · {endpoint}", self.name, self.model)
        }
    }
}

/// Which part of the box has the keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    /// The providers.
    Providers,
    /// The chosen provider's models.
    Models,
    /// A key being pasted for the highlighted provider (masked).
    Key,
    /// The language answers are written in.
    Language,
}

/// What is known of the chosen provider's models.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Models {
    /// No provider chosen yet.
    None,
    /// Being fetched.
    Loading,
    /// What the endpoint lists.
    Listed(Vec<String>),
    /// Why they could not be listed (a name can still be typed).
    Failed(String),
}

/// The doctor's findings, one line each: passed, what was found, the fix.
pub type DoctorLine = (bool, String, Option<String>);

/// The most characters a pasted key may have here (the Service holds it to its own limit).
const MAX_TYPED_KEY: usize = 4096;

/// The picker's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PickerState {
    /// Every provider that can be chosen, presets first, with their address and key.
    pub providers: Vec<ProviderEntry>,
    /// The provider in use now.
    pub current: String,
    /// The model in use now.
    pub current_model: String,
    /// The language answers are written in now (`None`: the question's own).
    pub language: Option<String>,
    /// The highlighted provider.
    pub selected: usize,
    /// Which part has the keys.
    pub focus: Focus,
    /// The provider whose models are shown.
    pub chosen: Option<String>,
    /// Its models.
    pub models: Models,
    /// The highlighted model among those the filter lets through.
    pub model_selected: usize,
    /// Typed text: filters the list, or is the model name when nothing matches.
    pub filter: String,
    /// The doctor's findings by the provider they are about; `None` while it runs.
    pub doctor: BTreeMap<String, Option<Vec<DoctorLine>>>,
    /// The key being pasted (never shown: only its length is).
    pub typed_key: Secret,
    /// `x` was pressed once on this provider: again removes its pasted key.
    pub removing: Option<String>,
    /// The languages offered, and the typed filter and highlighted one in the list.
    pub languages: &'static [&'static str],
    /// Typed text filtering the languages.
    pub language_filter: String,
    /// The highlighted entry of the filtered languages (0: the question's own).
    pub language_selected: usize,
}

/// What the app should do after a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PickerAction {
    /// Nothing.
    None,
    /// Close the picker.
    Close,
    /// List the models of this provider.
    LoadModels(String),
    /// Check this provider (with this model, when one is chosen).
    Doctor(String, Option<String>),
    /// Use this provider and model from now on.
    Use(String, String),
    /// Seal this key for this provider.
    SetKey(String, Secret),
    /// Remove the key pasted for this provider.
    RemoveKey(String),
    /// Answer in this language from now on (`None`: the question's own).
    SetLanguage(Option<String>),
}

impl PickerState {
    /// A picker over `providers` with `current` and `model` in use (and highlighted),
    /// answering in `language`.
    pub fn new(
        providers: Vec<ProviderEntry>,
        current: &str,
        model: &str,
        language: Option<String>,
    ) -> Self {
        let selected = providers
            .iter()
            .position(|p| p.name == current)
            .unwrap_or(0);
        Self {
            providers,
            current: current.to_owned(),
            current_model: model.to_owned(),
            language,
            selected,
            focus: Focus::Providers,
            chosen: None,
            models: Models::None,
            model_selected: 0,
            filter: String::new(),
            doctor: BTreeMap::new(),
            typed_key: Secret::default(),
            removing: None,
            languages: crate::service::LANGUAGES,
            language_filter: String::new(),
            language_selected: 0,
        }
    }

    /// The highlighted provider.
    pub fn highlighted(&self) -> Option<&ProviderEntry> {
        self.providers.get(self.selected)
    }

    /// The provider the doctor's findings on show are about: the one whose models are shown,
    /// else the highlighted one.
    fn doctor_subject(&self) -> Option<&str> {
        match self.focus {
            Focus::Models => self.chosen.as_deref(),
            Focus::Providers | Focus::Key | Focus::Language => {
                self.highlighted().map(|p| p.name.as_str())
            }
        }
    }

    /// The doctor's findings about `provider`: `None` when never asked, `Some(None)` while
    /// it runs.
    pub fn doctor_for(&self, provider: &str) -> Option<Option<&[DoctorLine]>> {
        self.doctor.get(provider).map(Option::as_deref)
    }

    /// The models the filter lets through.
    pub fn visible_models(&self) -> Vec<&str> {
        let Models::Listed(all) = &self.models else {
            return Vec::new();
        };
        let needle = self.filter.to_lowercase();
        all.iter()
            .map(String::as_str)
            .filter(|m| m.to_lowercase().contains(&needle))
            .collect()
    }

    /// The languages the filter lets through, after the question's own (`None`).
    pub fn visible_languages(&self) -> Vec<Option<&'static str>> {
        let needle = self.language_filter.to_lowercase();
        std::iter::once(None)
            .filter(|_| needle.is_empty())
            .chain(
                self.languages
                    .iter()
                    .filter(|l| l.to_lowercase().contains(&needle))
                    .map(|l| Some(*l)),
            )
            .collect()
    }

    /// The models of `provider` arrived (or could not be had).
    pub fn set_models(&mut self, provider: &str, models: Result<Vec<String>, String>) {
        if self.chosen.as_deref() != Some(provider) {
            return;
        }
        self.models = match models {
            Ok(list) => Models::Listed(list),
            // Said in the app's terms: no flag, no "open F7" while it is open.
            Err(e) => Models::Failed(crate::tui::strings::msg::in_app_terms(&e)),
        };
        // The model in use, when the list has it, is highlighted.
        let current = self.current_model.clone();
        self.model_selected = self
            .visible_models()
            .iter()
            .position(|m| *m == current)
            .unwrap_or(0);
    }

    /// The doctor's findings about `provider`, kept with it: they show while it is the one
    /// highlighted (or whose models are listed), never under another.
    pub fn set_doctor(&mut self, provider: &str, lines: Vec<DoctorLine>) {
        if let Some(slot) = self.doctor.get_mut(provider) {
            *slot = Some(lines);
        }
    }

    /// The providers as they stand after a key was pasted or removed.
    pub fn set_providers(&mut self, providers: Vec<ProviderEntry>) {
        let name = self.highlighted().map(|p| p.name.clone());
        self.providers = providers;
        self.selected = name
            .and_then(|n| self.providers.iter().position(|p| p.name == n))
            .unwrap_or(0)
            .min(self.providers.len().saturating_sub(1));
        // What the doctor found was about the key as it was.
        if let Some(n) = self.highlighted().map(|p| p.name.clone()) {
            self.doctor.remove(&n);
        }
    }

    /// Text pasted while the box is open: into the key being pasted, or a filter.
    pub fn on_paste(&mut self, pasted: &str) {
        let one_line: String = pasted.chars().filter(|c| !c.is_control()).collect();
        match self.focus {
            Focus::Key => {
                let mut key = self.typed_key.expose().to_owned();
                key.push_str(pasted.trim());
                key.truncate(MAX_TYPED_KEY);
                self.typed_key = Secret::new(key);
            }
            Focus::Models => {
                self.filter.push_str(&one_line);
                self.model_selected = 0;
            }
            Focus::Language => {
                self.language_filter.push_str(&one_line);
                self.language_selected = 0;
            }
            Focus::Providers => {}
        }
    }

    /// Handles a key.
    pub fn on_key(&mut self, key: KeyEvent) -> PickerAction {
        if self.focus != Focus::Providers || key.code != KeyCode::Char('x') {
            self.removing = None;
        }
        match self.focus {
            Focus::Providers => self.on_provider_key(key),
            Focus::Models => self.on_model_key(key),
            Focus::Key => self.on_key_entry(key),
            Focus::Language => self.on_language_key(key),
        }
    }

    fn on_provider_key(&mut self, key: KeyEvent) -> PickerAction {
        let last = self.providers.len().saturating_sub(1);
        let Some(p) = self.highlighted().cloned() else {
            return match key.code {
                KeyCode::Esc | KeyCode::F(7) => PickerAction::Close,
                _ => PickerAction::None,
            };
        };
        match key.code {
            KeyCode::Esc | KeyCode::F(7) => PickerAction::Close,
            KeyCode::Up | KeyCode::Char('k') => {
                self.selected = self.selected.saturating_sub(1);
                PickerAction::None
            }
            KeyCode::Down | KeyCode::Char('j') => {
                self.selected = (self.selected + 1).min(last);
                PickerAction::None
            }
            KeyCode::Char('d') => {
                let model = (p.name == self.current).then(|| self.current_model.clone());
                self.doctor.insert(p.name.clone(), None);
                PickerAction::Doctor(p.name, model)
            }
            KeyCode::Char('p') if p.pastable => {
                self.typed_key = Secret::default();
                self.focus = Focus::Key;
                PickerAction::None
            }
            KeyCode::Char('x') if p.pasted => {
                if self.removing.as_deref() == Some(p.name.as_str()) {
                    self.removing = None;
                    PickerAction::RemoveKey(p.name)
                } else {
                    self.removing = Some(p.name);
                    PickerAction::None
                }
            }
            KeyCode::Char('l') => {
                self.language_filter.clear();
                self.language_selected = self
                    .visible_languages()
                    .iter()
                    .position(|l| *l == self.language.as_deref())
                    .unwrap_or(0);
                self.focus = Focus::Language;
                PickerAction::None
            }
            KeyCode::Enter | KeyCode::Right | KeyCode::Tab => {
                if p.name == "offline" {
                    return PickerAction::Use(p.name, crate::service::OFFLINE_MODEL.to_owned());
                }
                self.focus = Focus::Models;
                self.filter.clear();
                self.model_selected = 0;
                // A list not had yet, or that failed (a key pasted since, a server started
                // since), is asked for again.
                if self.chosen.as_deref() != Some(p.name.as_str())
                    || matches!(self.models, Models::None | Models::Failed(_))
                {
                    self.chosen = Some(p.name.clone());
                    self.models = Models::Loading;
                    return PickerAction::LoadModels(p.name);
                }
                PickerAction::None
            }
            _ => PickerAction::None,
        }
    }

    fn on_model_key(&mut self, key: KeyEvent) -> PickerAction {
        let visible = self.visible_models().len();
        match key.code {
            KeyCode::Esc | KeyCode::Left | KeyCode::BackTab | KeyCode::Tab => {
                self.focus = Focus::Providers;
                PickerAction::None
            }
            KeyCode::Up => {
                self.model_selected = self.model_selected.saturating_sub(1);
                PickerAction::None
            }
            KeyCode::Down => {
                self.model_selected = (self.model_selected + 1).min(visible.saturating_sub(1));
                PickerAction::None
            }
            KeyCode::Char('d') if key.modifiers.contains(KeyModifiers::CONTROL) => {
                let Some(p) = self.chosen.clone() else {
                    return PickerAction::None;
                };
                self.doctor.insert(p.clone(), None);
                PickerAction::Doctor(p, self.model_choice())
            }
            KeyCode::Backspace => {
                self.filter.pop();
                self.model_selected = 0;
                PickerAction::None
            }
            KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => {
                if !c.is_control() && self.filter.chars().count() < 200 {
                    self.filter.push(c);
                }
                self.model_selected = 0;
                PickerAction::None
            }
            KeyCode::Enter => match (self.chosen.clone(), self.model_choice()) {
                (Some(p), Some(m)) => PickerAction::Use(p, m),
                _ => PickerAction::None,
            },
            _ => PickerAction::None,
        }
    }

    /// A key while a key is being pasted: only Enter, Esc, Backspace and Ctrl-U act; typed
    /// characters are taken too (a key can be typed), never shown.
    fn on_key_entry(&mut self, key: KeyEvent) -> PickerAction {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match key.code {
            KeyCode::Esc => {
                self.typed_key = Secret::default();
                self.focus = Focus::Providers;
                PickerAction::None
            }
            KeyCode::Enter => {
                let Some(p) = self.highlighted().map(|p| p.name.clone()) else {
                    return PickerAction::None;
                };
                let typed = std::mem::take(&mut self.typed_key);
                self.focus = Focus::Providers;
                PickerAction::SetKey(p, typed)
            }
            KeyCode::Backspace => {
                let mut key = self.typed_key.expose().to_owned();
                key.pop();
                self.typed_key = Secret::new(key);
                PickerAction::None
            }
            KeyCode::Char('u') if ctrl => {
                self.typed_key = Secret::default();
                PickerAction::None
            }
            KeyCode::Char(c) if !ctrl && !c.is_control() => {
                let mut key = self.typed_key.expose().to_owned();
                if key.len() < MAX_TYPED_KEY {
                    key.push(c);
                }
                self.typed_key = Secret::new(key);
                PickerAction::None
            }
            _ => PickerAction::None,
        }
    }

    fn on_language_key(&mut self, key: KeyEvent) -> PickerAction {
        let visible = self.visible_languages();
        match key.code {
            KeyCode::Esc | KeyCode::Left => {
                self.focus = Focus::Providers;
                PickerAction::None
            }
            KeyCode::Up => {
                self.language_selected = self.language_selected.saturating_sub(1);
                PickerAction::None
            }
            KeyCode::Down => {
                self.language_selected =
                    (self.language_selected + 1).min(visible.len().saturating_sub(1));
                PickerAction::None
            }
            KeyCode::Enter => match visible.get(self.language_selected) {
                Some(l) => {
                    self.focus = Focus::Providers;
                    PickerAction::SetLanguage(l.map(str::to_owned))
                }
                None => PickerAction::None,
            },
            KeyCode::Backspace => {
                self.language_filter.pop();
                self.language_selected = 0;
                PickerAction::None
            }
            KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => {
                if !c.is_control() && self.language_filter.chars().count() < 40 {
                    self.language_filter.push(c);
                }
                self.language_selected = 0;
                PickerAction::None
            }
            _ => PickerAction::None,
        }
    }

    /// The model Enter would pick: the highlighted one, else the typed name.
    fn model_choice(&self) -> Option<String> {
        self.visible_models()
            .get(self.model_selected)
            .map(|m| (*m).to_owned())
            .or_else(|| {
                let typed = self.filter.trim();
                (!typed.is_empty()).then(|| typed.to_owned())
            })
    }

    /// The keys that work now, for the footer (the box's bottom edge says the same).
    pub fn keys(&self) -> &'static [KeyHelp] {
        match self.focus {
            Focus::Providers => match self.highlighted() {
                Some(p) if p.pasted => footer::PICKER_PASTED,
                Some(p) if p.pastable => footer::PICKER_PASTABLE,
                Some(_) | None => footer::PICKER,
            },
            Focus::Models => footer::PICKER_MODELS,
            Focus::Key => footer::PICKER_KEY,
            Focus::Language => footer::PICKER_LANGUAGE,
        }
    }
}

/// Draws the picker over `area`.
pub fn render(p: &PickerState, frame: &mut Frame, area: Rect, theme: &Theme) {
    // The whole body (up to 100 columns): nothing of the screen below peeks out.
    let r = centered(area, area.width.min(100), area.height, frame);
    let block = Block::bordered()
        .title(Span::styled(picker::TITLE, theme.heading))
        .title_bottom(Line::styled(hint(p, r.width), theme.dim).right_aligned())
        .border_style(theme.border_focus);
    let inner = block.inner(r);
    frame.render_widget(block, r);
    match p.focus {
        Focus::Models => render_with_models(p, frame, inner, theme),
        Focus::Providers | Focus::Key | Focus::Language => {
            let width = usize::from(inner.width);
            let below = match p.focus {
                Focus::Key => key_entry_lines(p, width, theme),
                Focus::Language => language_lines(p, width, usize::from(inner.height), theme),
                Focus::Providers | Focus::Models => details(p, width, theme),
            };
            // The table keeps a header and three rows at least; what is below takes the rest.
            let wanted = u16::try_from(p.providers.len() + 1).unwrap_or(u16::MAX);
            let room_below = inner.height.saturating_sub(wanted.min(4) + 1);
            let below_rows = u16::try_from(below.len())
                .unwrap_or(u16::MAX)
                .min(room_below);
            let [table, gap, rest, _] = Layout::vertical([
                Constraint::Length(inner.height.saturating_sub(below_rows + 1).min(wanted)),
                Constraint::Length(1),
                Constraint::Length(below_rows),
                Constraint::Min(0),
            ])
            .areas(inner);
            frame.render_widget(Paragraph::new(Line::default()), gap);
            render_table(p, frame, table, theme);
            frame.render_widget(Paragraph::new(below), rest);
        }
    }
}

/// The providers as a table: name, address, where the key comes from.
fn render_table(p: &PickerState, frame: &mut Frame, area: Rect, theme: &Theme) {
    let width = usize::from(area.width);
    let wide = width >= 70;
    let name_w = 13;
    let key_w = if wide { 27 } else { 10 };
    let addr_w = width.saturating_sub(name_w + key_w + 1).min(48);
    // Cut to one column less than given, so a cut cell never touches the next.
    let cell = |s: &str, w: usize| {
        let t = truncate(s, w.saturating_sub(1));
        let pad = w.saturating_sub(text::width(&t));
        format!("{t}{}", " ".repeat(pad))
    };
    let mut lines = vec![Line::styled(
        format!(
            "{}{}{}",
            cell(picker::COL_PROVIDER, name_w),
            cell(picker::COL_ADDRESS, addr_w + 1),
            truncate(picker::COL_KEY, key_w)
        ),
        theme.dim,
    )];
    let rows = usize::from(area.height.saturating_sub(1));
    let start = p.selected.saturating_sub(rows.saturating_sub(1));
    for (i, e) in p.providers.iter().enumerate().skip(start).take(rows) {
        let mark = if e.name == p.current { "●" } else { " " };
        let style = if i == p.selected && p.focus == Focus::Providers {
            theme.selected
        } else if i == p.selected {
            theme.heading
        } else {
            theme.text
        };
        let address = if e.address.is_empty() {
            picker::OFFLINE_ADDRESS.to_owned()
        } else {
            sanitize_inline(
                e.address
                    .trim_start_matches("https://")
                    .trim_start_matches("http://"),
            )
        };
        let key = picker::key_cell(e, wide);
        lines.push(Line::styled(
            format!(
                "{}{}{}",
                cell(&format!("{mark} {}", sanitize_inline(&e.name)), name_w),
                cell(&address, addr_w + 1),
                truncate(&key, key_w)
            ),
            style,
        ));
    }
    frame.render_widget(Paragraph::new(lines), area);
}

/// Under the table: the highlighted provider's address and key in words, what is in use,
/// the language, and what the doctor found of it.
fn details<'a>(p: &PickerState, width: usize, theme: &Theme) -> Vec<Line<'a>> {
    let mut lines = Vec::new();
    let Some(e) = p.highlighted() else {
        return lines;
    };
    let mut say = |text: &str, style| {
        for l in text::wrap(text, width.max(1)) {
            lines.push(Line::styled(l, style));
        }
    };
    say(&picker::about(e), theme.text);
    if p.removing.as_deref() == Some(e.name.as_str()) {
        say(&picker::remove_again(&e.name), theme.warn);
    }
    say(
        &picker::in_use(&p.current, &p.current_model, p.language.as_deref()),
        theme.dim,
    );
    lines.extend(doctor_lines(p, width, theme));
    lines
}

/// Where the key is pasted: its length in dots, never a character of it.
fn key_entry_lines<'a>(p: &PickerState, width: usize, theme: &Theme) -> Vec<Line<'a>> {
    let mut lines = Vec::new();
    let name = p.highlighted().map_or("", |e| e.name.as_str());
    let var = p
        .highlighted()
        .and_then(|e| e.key_env.clone())
        .unwrap_or_default();
    for l in text::wrap(&picker::paste_prompt(name, &var), width.max(1)) {
        lines.push(Line::styled(l, theme.text));
    }
    let n = p.typed_key.expose().chars().count();
    let dots = "•".repeat(n.min(width.saturating_sub(20)));
    lines.push(Line::from(vec![
        Span::styled(picker::KEY_LABEL, theme.heading),
        Span::styled(format!("{dots}▏"), theme.text),
        Span::styled(
            if n == 0 {
                String::new()
            } else {
                format!(" {}", picker::typed(n))
            },
            theme.dim,
        ),
    ]));
    lines
}

/// The languages, filtered by what is typed.
fn language_lines<'a>(
    p: &PickerState,
    width: usize,
    height: usize,
    theme: &Theme,
) -> Vec<Line<'a>> {
    let mut lines = vec![Line::from(vec![
        Span::styled(picker::LANGUAGE_LABEL, theme.heading),
        Span::styled(
            truncate(
                &format!("{}▏", p.language_filter),
                width.saturating_sub(text::width(picker::LANGUAGE_LABEL)),
            ),
            theme.text,
        ),
    ])];
    let visible = p.visible_languages();
    if visible.is_empty() {
        lines.push(Line::styled(
            truncate(picker::NO_LANGUAGE, width),
            theme.dim,
        ));
    }
    // Half the box at most, so the table above keeps its rows.
    let rows = (height / 2).max(3).saturating_sub(1);
    let start = p.language_selected.saturating_sub(rows.saturating_sub(1));
    for (i, l) in visible.iter().enumerate().skip(start).take(rows) {
        let name = l.unwrap_or(picker::QUESTIONS_OWN);
        let mark = if *l == p.language.as_deref() {
            "●"
        } else {
            " "
        };
        let style = if i == p.language_selected {
            theme.selected
        } else {
            theme.text
        };
        lines.push(Line::styled(
            format!("{mark} {}", truncate(name, width.saturating_sub(2))),
            style,
        ));
    }
    lines
}

/// The box with the models of the chosen provider beside the providers.
fn render_with_models(p: &PickerState, frame: &mut Frame, inner: Rect, theme: &Theme) {
    let doctor = doctor_lines(p, usize::from(inner.width), theme);
    let doctor_rows = u16::try_from(doctor.len())
        .unwrap_or(u16::MAX)
        .min(inner.height.saturating_sub(4));
    let [lists, doctor_area] =
        Layout::vertical([Constraint::Min(3), Constraint::Length(doctor_rows)]).areas(inner);
    let [left, right] =
        Layout::horizontal([Constraint::Length(14), Constraint::Min(10)]).areas(lists);
    let rows = usize::from(left.height);
    // The providers, scrolled so the highlighted one shows.
    let start = p.selected.saturating_sub(rows.saturating_sub(1));
    let lines: Vec<Line> = p
        .providers
        .iter()
        .enumerate()
        .skip(start)
        .take(rows)
        .map(|(i, e)| {
            let mark = if e.name == p.current { "●" } else { " " };
            let style = if i == p.selected {
                theme.heading
            } else {
                theme.text
            };
            Line::styled(
                format!(
                    "{mark} {}",
                    truncate(
                        &sanitize_inline(&e.name),
                        usize::from(left.width).saturating_sub(2)
                    )
                ),
                style,
            )
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), left);
    render_models(p, frame, right, theme);
    if doctor_rows > 0 {
        frame.render_widget(Paragraph::new(doctor), doctor_area);
    }
}

fn render_models(p: &PickerState, frame: &mut Frame, area: Rect, theme: &Theme) {
    let width = usize::from(area.width);
    let mut lines = Vec::new();
    let Some(chosen) = &p.chosen else {
        lines.push(Line::styled(
            truncate(
                &format!("In use: {} · {}", p.current, p.current_model),
                width,
            ),
            theme.text,
        ));
        lines.push(Line::default());
        lines.push(Line::styled(
            truncate("Enter lists a provider's models; d checks it.", width),
            theme.dim,
        ));
        frame.render_widget(Paragraph::new(lines), area);
        return;
    };
    let cursor = if p.focus == Focus::Models { "▏" } else { "" };
    lines.push(Line::from(vec![
        Span::styled("Model: ", theme.heading),
        Span::styled(
            truncate(&format!("{}{cursor}", p.filter), width.saturating_sub(7)),
            theme.text,
        ),
    ]));
    let rows = usize::from(area.height.saturating_sub(1));
    match &p.models {
        Models::None => {}
        Models::Loading => lines.push(Line::styled(
            truncate(&format!("asking {chosen} for its models …"), width),
            theme.dim,
        )),
        Models::Failed(e) => {
            for l in text::wrap(e, width)
                .into_iter()
                .take(rows.saturating_sub(1))
            {
                lines.push(Line::styled(l, theme.error));
            }
            lines.push(Line::styled(
                truncate("type a model name and press Enter", width),
                theme.dim,
            ));
        }
        Models::Listed(all) => {
            let visible = p.visible_models();
            if visible.is_empty() {
                let text = if all.is_empty() {
                    "the endpoint lists no models: type a name, Enter uses it".to_owned()
                } else {
                    format!("none of {} match: Enter uses the typed name", all.len())
                };
                lines.push(Line::styled(truncate(&text, width), theme.dim));
            }
            let start = p.model_selected.saturating_sub(rows.saturating_sub(1));
            for (i, m) in visible.iter().enumerate().skip(start).take(rows) {
                let mark = if *m == p.current_model && *chosen == p.current {
                    "●"
                } else {
                    " "
                };
                let style = if i == p.model_selected && p.focus == Focus::Models {
                    theme.selected
                } else {
                    theme.text
                };
                lines.push(Line::styled(
                    format!("{mark} {}", truncate(m, width.saturating_sub(2))),
                    style,
                ));
            }
        }
    }
    frame.render_widget(Paragraph::new(lines), area);
}

/// The doctor's findings about the provider in view, wrapped to `width` (none before it is
/// asked of that provider).
fn doctor_lines<'a>(p: &PickerState, width: usize, theme: &Theme) -> Vec<Line<'a>> {
    let mut lines = Vec::new();
    let Some(who) = p.doctor_subject() else {
        return lines;
    };
    let Some(found) = p.doctor_for(who) else {
        return lines;
    };
    lines.push(Line::styled(
        truncate(&picker::doctor_heading(who), width),
        theme.heading,
    ));
    let Some(found) = found else {
        lines.push(Line::styled(picker::CHECKING, theme.dim));
        return lines;
    };
    for (ok, detail, fix) in found {
        let (mark, style) = if *ok {
            ("✓ ", theme.ok)
        } else {
            ("✗ ", theme.error)
        };
        let text = match fix {
            Some(f) => format!("{detail} — fix: {f}"),
            None => detail.clone(),
        };
        for (i, l) in text::wrap(&text, width.saturating_sub(2).max(1))
            .into_iter()
            .enumerate()
        {
            let lead = if i == 0 { mark } else { "  " };
            lines.push(Line::from(vec![
                Span::styled(lead, style),
                Span::styled(l, theme.text),
            ]));
        }
    }
    lines
}

/// The keys that apply now, for the box's bottom edge (`width` wide): the footer's keys.
fn hint(p: &PickerState, width: u16) -> String {
    let keys = p.keys();
    let budget = usize::from(width.saturating_sub(4));
    let mut out = String::new();
    for (k, what) in keys {
        let item = format!("{k} {what}");
        let add = if out.is_empty() {
            item
        } else {
            format!(" · {item}")
        };
        if text::width(&out) + text::width(&add) > budget.saturating_sub(2) {
            break;
        }
        out.push_str(&add);
    }
    format!(" {out} ")
}
