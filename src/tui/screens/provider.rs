//! The provider picker, over any screen (F7): choose a provider preset (or a `[providers.NAME]`
//! table, or offline), then one of the models its endpoint lists (or type a name), and keep the
//! choice in config.toml; `d` checks the highlighted provider as `iching doctor` does.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};

use super::centered;
use crate::answer::sanitize_inline;
use crate::service::ProviderInfo;
use crate::text::{self, truncate};
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

/// Which list has the keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    /// The providers.
    Providers,
    /// The chosen provider's models.
    Models,
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

/// The picker's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PickerState {
    /// Every provider that can be chosen, presets first.
    pub providers: Vec<String>,
    /// The provider in use now.
    pub current: String,
    /// The model in use now.
    pub current_model: String,
    /// The highlighted provider.
    pub selected: usize,
    /// Which list has the keys.
    pub focus: Focus,
    /// The provider whose models are shown.
    pub chosen: Option<String>,
    /// Its models.
    pub models: Models,
    /// The highlighted model among those the filter lets through.
    pub model_selected: usize,
    /// Typed text: filters the list, or is the model name when nothing matches.
    pub filter: String,
    /// The doctor's findings, or `None` while it runs (`Some(empty)`: not run).
    pub doctor: Option<Vec<DoctorLine>>,
    /// Which provider the doctor's findings are about.
    pub doctor_of: Option<String>,
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
}

impl PickerState {
    /// A picker over `providers` with `current` and `model` in use (and highlighted).
    pub fn new(providers: Vec<String>, current: &str, model: &str) -> Self {
        let selected = providers.iter().position(|p| p == current).unwrap_or(0);
        Self {
            providers,
            current: current.to_owned(),
            current_model: model.to_owned(),
            selected,
            focus: Focus::Providers,
            chosen: None,
            models: Models::None,
            model_selected: 0,
            filter: String::new(),
            doctor: Some(Vec::new()),
            doctor_of: None,
        }
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

    /// The models of `provider` arrived (or could not be had).
    pub fn set_models(&mut self, provider: &str, models: Result<Vec<String>, String>) {
        if self.chosen.as_deref() != Some(provider) {
            return;
        }
        self.models = match models {
            Ok(list) => Models::Listed(list),
            Err(e) => Models::Failed(e),
        };
        // The model in use, when the list has it, is highlighted.
        let current = self.current_model.clone();
        self.model_selected = self
            .visible_models()
            .iter()
            .position(|m| *m == current)
            .unwrap_or(0);
    }

    /// The doctor's findings about `provider`.
    pub fn set_doctor(&mut self, provider: &str, lines: Vec<DoctorLine>) {
        if self.doctor_of.as_deref() == Some(provider) {
            self.doctor = Some(lines);
        }
    }

    /// Handles a key.
    pub fn on_key(&mut self, key: KeyEvent) -> PickerAction {
        match self.focus {
            Focus::Providers => self.on_provider_key(key),
            Focus::Models => self.on_model_key(key),
        }
    }

    fn on_provider_key(&mut self, key: KeyEvent) -> PickerAction {
        let last = self.providers.len().saturating_sub(1);
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
                let Some(p) = self.providers.get(self.selected).cloned() else {
                    return PickerAction::None;
                };
                let model = (p == self.current).then(|| self.current_model.clone());
                self.doctor = None;
                self.doctor_of = Some(p.clone());
                PickerAction::Doctor(p, model)
            }
            KeyCode::Enter | KeyCode::Right | KeyCode::Tab => {
                let Some(p) = self.providers.get(self.selected).cloned() else {
                    return PickerAction::None;
                };
                if p == "offline" {
                    return PickerAction::Use(p, crate::service::OFFLINE_MODEL.to_owned());
                }
                self.focus = Focus::Models;
                self.filter.clear();
                self.model_selected = 0;
                if self.chosen.as_deref() != Some(p.as_str()) || self.models == Models::None {
                    self.chosen = Some(p.clone());
                    self.models = Models::Loading;
                    return PickerAction::LoadModels(p);
                }
                PickerAction::None
            }
            _ => PickerAction::None,
        }
    }

    fn on_model_key(&mut self, key: KeyEvent) -> PickerAction {
        let visible = self.visible_models().len();
        match key.code {
            KeyCode::Esc | KeyCode::Left | KeyCode::BackTab => {
                self.focus = Focus::Providers;
                PickerAction::None
            }
            KeyCode::Tab => {
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
                self.doctor = None;
                self.doctor_of = Some(p.clone());
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
}

/// Draws the picker over `area`.
pub fn render(p: &PickerState, frame: &mut Frame, area: Rect, theme: &Theme) {
    // The whole body (up to 100 columns): nothing of the screen below peeks out.
    let r = centered(area, area.width.min(100), area.height, frame);
    let block = Block::bordered()
        .title(Span::styled(" Provider and model ", theme.heading))
        .title_bottom(Line::styled(hint(p, r.width), theme.dim).right_aligned())
        .border_style(theme.border_focus);
    let inner = block.inner(r);
    frame.render_widget(block, r);
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
        .map(|(i, name)| {
            let mark = if *name == p.current { "●" } else { " " };
            let style = if i == p.selected && p.focus == Focus::Providers {
                theme.selected
            } else if i == p.selected {
                theme.heading
            } else {
                theme.text
            };
            Line::styled(
                format!(
                    "{mark} {}",
                    truncate(name, usize::from(left.width).saturating_sub(2))
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

/// The doctor's findings, wrapped to `width` (none before it is asked).
fn doctor_lines<'a>(p: &PickerState, width: usize, theme: &Theme) -> Vec<Line<'a>> {
    let mut lines = Vec::new();
    let found = match &p.doctor {
        Some(found) if found.is_empty() => return lines,
        found => found,
    };
    let who = p.doctor_of.as_deref().unwrap_or("");
    lines.push(Line::styled(
        truncate(&format!("Doctor: {who}"), width),
        theme.heading,
    ));
    let Some(found) = found else {
        lines.push(Line::styled("checking …", theme.dim));
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

/// The keys that apply now, for the box's bottom edge (`width` wide).
fn hint(p: &PickerState, width: u16) -> &'static str {
    let wide = width >= 70;
    match (p.focus, wide) {
        (Focus::Providers, true) => " ↑↓ choose · Enter models · d doctor · Esc close ",
        (Focus::Providers, false) => " Enter models · d doctor · Esc close ",
        (Focus::Models, true) => " type to filter · ↑↓ · Enter use · Ctrl-D doctor · Esc back ",
        (Focus::Models, false) => " Enter use · Ctrl-D doctor · Esc back ",
    }
}
