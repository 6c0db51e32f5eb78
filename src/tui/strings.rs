//! Every user-facing string of the terminal app, in one place: screen names, keys, hints and
//! messages. The help screen and the footers are built from the same key tables, so they cannot
//! disagree.

/// A key (or keys) and what it does.
pub type KeyHelp = (&'static str, &'static str);

/// The app's name in the tab bar.
pub const APP: &str = "iching";

/// The status line while the server loads its model.
pub const SERVER_LOADING: &str = "the server is loading its model…";

/// Keys that work on every screen, the Ask screen's question and every search included.
pub const KEYS_GLOBAL: &[KeyHelp] = &[
    (
        "Ctrl-C",
        "quit; a reading in flight is kept as cancelled (exit code 130)",
    ),
    ("F1", "this help"),
    ("F2", "ask a new question"),
    ("F3", "the live grid of the reading in flight"),
    ("F4", "history of readings"),
    ("F5", "the book: the 64 hexagrams and Legge's text"),
    ("F7", "provider, model, language; paste an API key"),
];

/// Letters that work where keys are not typed: not on Ask or Cast, the Library's list or
/// History's filter.
pub const KEYS_LETTERS: &[KeyHelp] = &[
    ("q", "quit (asks first while a reading is in flight)"),
    ("?", "this help"),
    ("a", "ask a new question"),
    ("l", "the live grid"),
    ("h", "history of readings"),
    ("b", "the book"),
];

/// In the help of a screen where letters are typed.
pub const HELP_TYPING: &str = "Here letters are typed (q, a, l, h, b, ? too): use the function keys. On the other screens q quits, ? is help, a l h b go to Ask, Live, History, the book.";

/// In the live grid's help: what the figures on a card mean.
pub const LIVE_LEGEND: &str = "A card's figures: time · ttft (time to the first token); tokens (prompt+completion once done, ~ when estimated) · tokens a second, shown after half a second and 8 tokens.";

/// Keys of the Ask screen.
pub const KEYS_ASK: &[KeyHelp] = &[
    ("typing, paste", "the question (up to 2,000 characters)"),
    (
        "Tab  Shift-Tab",
        "between the question and the situation behind it",
    ),
    ("← →  Ctrl-← Ctrl-→", "move by character, by word"),
    ("Home End", "to the start, the end"),
    ("Backspace Delete", "delete a character"),
    ("Ctrl-W  Alt-Backspace", "delete the word before the cursor"),
    ("Ctrl-U  Ctrl-K", "delete to the start, to the end"),
    ("Ctrl-Z  Ctrl-R", "undo, redo"),
    ("Ctrl-T", "the method: coins, yarrow stalks, manual"),
    ("Enter", "cast"),
    ("Esc", "history"),
];

/// Keys of the Cast screen.
pub const KEYS_CAST: &[KeyHelp] = &[
    ("any key", "skip the animation, on to the live grid"),
    ("6 7 8 9", "manual cast: the next line, bottom line first"),
    ("Backspace", "manual cast: take back the last line"),
    ("Enter", "manual cast: cast once six lines are in"),
    ("Esc", "manual cast: back to the question"),
];

/// Keys of the live grid.
pub const KEYS_LIVE: &[KeyHelp] = &[
    ("← ↑ ↓ →", "choose a section"),
    ("Enter", "open the reading at the chosen section"),
    ("r", "retry the failed sections"),
    ("s", "the stats table of this reading"),
    (
        "c",
        "cancel the reading in flight (asks first; kept as cancelled)",
    ),
    (
        "Esc",
        "back to the question; the reading goes on (F3 or l returns)",
    ),
];

/// Keys of the Reading screen.
pub const KEYS_READING: &[KeyHelp] = &[
    ("↑ ↓  j k", "scroll"),
    ("PgUp PgDn Space", "scroll by a page"),
    ("Home End  g G", "to the top, to the end"),
    ("Tab Shift-Tab  ] [", "next, previous section"),
    ("1-9", "jump to an entry of the list"),
    ("t", "the classic text (Legge): judgment, image, lines"),
    (
        "c",
        "the original Chinese of each section's text and under Legge (again: hide)",
    ),
    (
        "o",
        "its hexagrams in the book (o again: resulting, nuclear)",
    ),
    ("s", "the stats table"),
    (
        "n",
        "write a note on the reading, or how it turned out (Ctrl-S saves)",
    ),
    ("f", "ask a follow-up (again: stop one in flight)"),
    ("e", "the journal: edit or delete a note (each asks first)"),
    (
        "m  w",
        "export to Markdown, to HTML (a new file in export_dir, Documents by default)",
    ),
    ("Esc", "back"),
];

/// Keys of the History screen.
pub const KEYS_HISTORY: &[KeyHelp] = &[
    ("↑ ↓  PgUp PgDn", "choose a reading"),
    ("Enter", "open it"),
    ("/", "filter as you type (Enter keeps it, Esc clears it)"),
    ("d", "delete (asks first)"),
    (
        "m  w",
        "export to Markdown, to HTML (a new file in export_dir, Documents by default)",
    ),
    (
        "M  W",
        "export the journal of the readings listed (filtered or not) to Markdown, to HTML",
    ),
    ("r", "retry the missing sections of a partial reading"),
    ("s", "the stats table of the reading"),
    ("p", "patterns: your readings over time"),
    (
        "o",
        "only readings still waiting for an outcome (o again: all)",
    ),
    ("Esc", "back"),
];

/// Keys of the Library.
pub const KEYS_LIBRARY: &[KeyHelp] = &[
    ("typing", "find by number, pinyin, English name or trigram"),
    ("↑ ↓  PgUp PgDn", "choose a hexagram"),
    ("Enter", "open its page"),
    ("Esc", "clear the search, then back"),
    ("page: ↑ ↓  j k", "scroll (PgUp PgDn Space Home End too)"),
    ("page: ← →  [ ]", "the previous, the next hexagram"),
    ("page: o", "from a reading: its primary, resulting, nuclear"),
    (
        "page: c",
        "the original Chinese, and the Ten Wings (again: hide)",
    ),
    (
        "page: /  Esc",
        "back to the list (Esc: to the reading it came from)",
    ),
];

/// Keys of the Stats screen.
pub const KEYS_STATS: &[KeyHelp] = &[("↑ ↓", "scroll"), ("Esc", "back")];

/// Footers: the keys that apply right now, shortest first.
pub mod footer {
    use super::KeyHelp;
    /// Ask.
    pub const ASK: &[KeyHelp] = &[
        ("Enter", "cast"),
        ("Tab", "situation"),
        ("Ctrl-T", "method"),
        ("Esc", "history"),
        ("F1", "help"),
        ("Ctrl-C", "quit"),
    ];
    /// Cast, animating.
    pub const CAST: &[KeyHelp] = &[("any key", "live grid"), ("Ctrl-C", "quit")];
    /// Cast, manual entry.
    pub const MANUAL: &[KeyHelp] = &[
        ("6-9", "line"),
        ("Backspace", "undo"),
        ("Enter", "cast"),
        ("Esc", "back"),
    ];
    /// Live, in flight.
    pub const LIVE_RUNNING: &[KeyHelp] = &[
        ("←↑↓→", "choose"),
        ("Enter", "open"),
        ("c", "cancel"),
        ("Esc", "back"),
        ("h", "history"),
        ("?", "help"),
    ];
    /// Live, settled.
    pub const LIVE_SETTLED: &[KeyHelp] = &[
        ("Enter", "open"),
        ("r", "retry failed"),
        ("s", "stats"),
        ("a", "ask"),
        ("h", "history"),
        ("?", "help"),
        ("q", "quit"),
    ];
    /// Live, nothing cast yet.
    pub const LIVE_EMPTY: &[KeyHelp] = &[("a", "ask"), ("h", "history"), ("?", "help")];
    /// Reading.
    pub const READING: &[KeyHelp] = &[
        ("Esc", "back"),
        ("f", "ask"),
        ("n", "note"),
        ("e", "journal"),
        ("o", "book"),
        ("t", "Legge"),
        ("c", "Chinese"),
        ("s", "stats"),
        ("m/w", "export"),
        ("Tab", "next section"),
        ("↑↓", "scroll"),
        ("?", "help"),
    ];
    /// History.
    pub const HISTORY: &[KeyHelp] = &[
        ("Enter", "open"),
        ("/", "filter"),
        ("m/w", "export"),
        ("p", "patterns"),
        ("s", "stats"),
        ("d", "delete"),
        ("r", "retry"),
        ("o", "no outcome"),
        ("a", "ask"),
        ("?", "help"),
    ];
    /// The Library's list.
    pub const LIBRARY: &[KeyHelp] = &[
        ("typing", "find"),
        ("↑↓", "choose"),
        ("Enter", "open"),
        ("Esc", "clear/back"),
        ("F1", "help"),
    ];
    /// A page of the book.
    pub const LIBRARY_PAGE: &[KeyHelp] = &[
        ("↑↓", "scroll"),
        ("←→", "previous/next"),
        ("/", "find"),
        ("Esc", "list"),
        ("?", "help"),
    ];
    /// A page of the book opened from a reading.
    pub const LIBRARY_LINKED: &[KeyHelp] = &[
        ("o", "primary/resulting/nuclear"),
        ("↑↓", "scroll"),
        ("←→", "previous/next"),
        ("Esc", "reading"),
        ("?", "help"),
    ];
    /// History, typing a filter.
    pub const FILTER: &[KeyHelp] = &[("typing", "filter"), ("Enter", "keep"), ("Esc", "clear")];
    /// A yes/no question.
    pub const CONFIRM: &[KeyHelp] = &[("y", "yes"), ("n, Esc", "no")];
    /// Stats.
    pub const STATS: &[KeyHelp] = &[("↑↓", "scroll"), ("Esc", "back"), ("?", "help")];
    /// Help.
    pub const HELP: &[KeyHelp] = &[("↑↓ PgUp PgDn", "scroll"), ("other keys", "close")];
    /// The Patterns view.
    pub const PATTERNS: &[KeyHelp] = &[("↑↓ PgUp PgDn", "scroll"), ("Esc", "close")];
    /// The note editor.
    pub const NOTE: &[KeyHelp] = &[
        ("Ctrl-S", "save"),
        ("Tab", "note/outcome"),
        ("Esc", "cancel"),
    ];
    /// The Reading screen with no reading open.
    pub const READING_EMPTY: &[KeyHelp] = &[
        ("h", "history"),
        ("l", "live grid"),
        ("a", "ask"),
        ("Esc", "back"),
        ("?", "help"),
    ];
    /// The note editor over a note being edited.
    pub const NOTE_EDIT: &[KeyHelp] = &[("Ctrl-S", "save (asks first)"), ("Esc", "cancel")];
    /// The follow-up editor.
    pub const FOLLOWUP: &[KeyHelp] = &[("Enter", "ask"), ("Esc", "cancel")];
    /// The Journal view.
    pub const JOURNAL: &[KeyHelp] = &[
        ("↑↓", "choose"),
        ("Enter", "edit"),
        ("d", "delete"),
        ("Esc", "close"),
    ];
    /// The provider box, on a provider that takes no key.
    pub const PICKER: &[KeyHelp] = &[
        ("↑↓", "choose"),
        ("Enter", "models"),
        ("d", "doctor"),
        ("l", "language"),
        ("Esc", "close"),
    ];
    /// The provider box, on a hosted preset without a pasted key.
    pub const PICKER_PASTABLE: &[KeyHelp] = &[
        ("↑↓", "choose"),
        ("Enter", "models"),
        ("p", "paste key"),
        ("d", "doctor"),
        ("l", "language"),
        ("Esc", "close"),
    ];
    /// The provider box, on a hosted preset with a pasted key.
    pub const PICKER_PASTED: &[KeyHelp] = &[
        ("↑↓", "choose"),
        ("Enter", "models"),
        ("p", "new key"),
        ("x", "remove key"),
        ("d", "doctor"),
        ("l", "language"),
        ("Esc", "close"),
    ];
    /// The provider box's model list: letters type into the filter.
    pub const PICKER_MODELS: &[KeyHelp] = &[
        ("typing", "filter"),
        ("↑↓", "choose"),
        ("Enter", "use"),
        ("Ctrl-D", "doctor"),
        ("Esc", "back"),
    ];
    /// The provider box, pasting a key.
    pub const PICKER_KEY: &[KeyHelp] = &[
        ("paste", "the key"),
        ("Enter", "keep it"),
        ("Ctrl-U", "clear"),
        ("Esc", "cancel"),
    ];
    /// The provider box's languages.
    pub const PICKER_LANGUAGE: &[KeyHelp] = &[
        ("typing", "filter"),
        ("↑↓", "choose"),
        ("Enter", "use"),
        ("Esc", "back"),
    ];
}

/// The provider box (F7).
pub mod picker {
    use crate::service::ProviderEntry;

    /// Its title.
    pub const TITLE: &str = " Provider, model and language ";
    /// The table's column headings.
    pub const COL_PROVIDER: &str = "Provider";
    /// The table's column headings.
    pub const COL_ADDRESS: &str = "Address";
    /// The table's column headings.
    pub const COL_KEY: &str = "Key";
    /// The offline provider's address.
    pub const OFFLINE_ADDRESS: &str = "Legge's text, in the app";
    /// Before the dots of a key being pasted.
    pub const KEY_LABEL: &str = "Key: ";
    /// Before the language filter.
    pub const LANGUAGE_LABEL: &str = "Answer language: ";
    /// The language entry that follows the question.
    pub const QUESTIONS_OWN: &str = "the question's own";
    /// No language matches what is typed.
    pub const NO_LANGUAGE: &str =
        "No language in the list matches (config.toml's language takes more).";
    /// While the doctor runs.
    pub const CHECKING: &str = "checking …";

    /// The doctor's heading.
    pub fn doctor_heading(provider: &str) -> String {
        format!("Doctor: {}", crate::answer::sanitize_inline(provider))
    }

    /// The key column: where the key comes from, short when `wide` is false.
    pub fn key_cell(e: &ProviderEntry, wide: bool) -> String {
        match (&e.key_env, e.env_set, e.pasted, wide) {
            (None, _, _, _) if e.name == "offline" => String::new(),
            (None, _, _, true) => "none needed".to_owned(),
            (None, _, _, false) => "not needed".to_owned(),
            (Some(var), true, _, true) => format!("{var} set"),
            (Some(_), true, _, false) => "✓ set".to_owned(),
            (Some(_), false, true, true) => "pasted (sealed)".to_owned(),
            (Some(_), false, true, false) => "✓ pasted".to_owned(),
            (Some(var), false, false, true) => format!("{var} not set"),
            (Some(_), false, false, false) => "✗ not set".to_owned(),
        }
    }

    /// The highlighted provider in words: its address, and its key.
    pub fn about(e: &ProviderEntry) -> String {
        let name = crate::answer::sanitize_inline(&e.name);
        if e.name == "offline" {
            return "offline: Legge's 1882 text and the facts of the cast answer, in the app; no model, no key."
                .to_owned();
        }
        let address = crate::answer::sanitize_inline(&e.address);
        let key = match (&e.key_env, e.env_set, e.pasted) {
            (None, _, _) if e.local => {
                "No key needed; Enter checks that its server is running.".to_owned()
            }
            (None, _, _) => "No key needed.".to_owned(),
            (Some(var), true, true) => format!(
                "Key: {var} (set), which wins: the key pasted here is kept, unused while it is set (x removes it)."
            ),
            (Some(var), true, false) => format!("Key: {var} (set)."),
            (Some(var), false, true) => format!(
                "Key: pasted here, sealed in the store, sent to {name} only (p replaces it, x removes it); {var}, when set, wins."
            ),
            (Some(var), false, false) if e.pastable => format!(
                "No key: {var} is not set. p pastes one: it is kept sealed in the store, sent to {name} only."
            ),
            (Some(var), false, false) => {
                format!("No key: {var} is not set; set it before starting iching.")
            }
        };
        format!("{name} at {address}. {key}")
    }

    /// After the first `x`.
    pub fn remove_again(provider: &str) -> String {
        format!(
            "x again removes the key pasted for {}; any other key keeps it.",
            crate::answer::sanitize_inline(provider)
        )
    }

    /// What is in use, and the language.
    pub fn in_use(provider: &str, model: &str, language: Option<&str>) -> String {
        let language = language.unwrap_or("the question's own language");
        format!(
            "In use: {} · {}. Answers in {language} (l changes it).",
            crate::answer::sanitize_inline(provider),
            crate::answer::sanitize_inline(model)
        )
    }

    /// Above the masked key.
    pub fn paste_prompt(provider: &str, var: &str) -> String {
        format!(
            "Paste the API key for {} (it is not shown). Enter keeps it sealed in the store, sent to {} only; {var}, when set, wins over it. Esc cancels.",
            crate::answer::sanitize_inline(provider),
            crate::answer::sanitize_inline(provider)
        )
    }

    /// How many characters are in, beside the dots.
    pub fn typed(n: usize) -> String {
        format!("({n} character{})", if n == 1 { "" } else { "s" })
    }
}

/// Screen titles in the tab bar.
pub const TAB_ASK: &str = "Ask";
/// Screen titles in the tab bar.
pub const TAB_LIVE: &str = "Live";
/// Screen titles in the tab bar.
pub const TAB_READING: &str = "Reading";
/// Screen titles in the tab bar.
pub const TAB_HISTORY: &str = "History";
/// Screen titles in the tab bar.
pub const TAB_LIBRARY: &str = "Library";

/// The question box's title.
pub const QUESTION_TITLE: &str = " Your question ";
/// The Patterns view's title.
pub const PATTERNS_TITLE: &str = " Your readings over time (Esc closes) ";
/// While the patterns load.
pub const PATTERNS_LOADING: &str = "Counting…";
/// The note editor's title, for a note.
pub const NOTE_TITLE: &str = " A note on this reading (Tab: outcome) ";
/// The note editor's title, for an outcome.
pub const OUTCOME_TITLE: &str = " How it turned out (Tab: note) ";
/// Shown in an empty note editor.
pub const NOTE_PLACEHOLDER: &str = "What do you make of the reading? Enter starts a new line.";
/// What the empty note editor says when the note is an outcome.
pub const OUTCOME_PLACEHOLDER: &str = "How did it turn out? Enter starts a new line.";
/// The note editor's keys.
pub const NOTE_KEYS: &str = "Ctrl-S save · Tab note/outcome · Esc cancel";
/// The note editor's keys when it edits a note.
pub const NOTE_EDIT_KEYS: &str = "Ctrl-S save (asks first) · Esc cancel";
/// After Esc with text in the note editor.
pub const NOTE_DISCARD: &str = "Esc again discards this note; Ctrl-S saves it";
/// The Journal view's title.
pub const JOURNAL_TITLE: &str = " Journal: your notes on this reading ";
/// The Journal view's keys.
pub const JOURNAL_KEYS: &str = "↑↓ choose · Enter edit · d delete · Esc close";
/// The Journal view of a reading without notes.
pub const JOURNAL_EMPTY: &str = "No notes yet: n writes one.";
/// The note editor's title when it edits a note.
pub const NOTE_EDIT_TITLE: &str = " Edit the note (Ctrl-S asks before it replaces it) ";

/// The follow-up editor's title.
pub const FOLLOWUP_TITLE: &str = " Ask about this reading ";
/// Shown in an empty follow-up editor.
pub const FOLLOWUP_PLACEHOLDER: &str = "What would you like to ask about this reading?";
/// The follow-up editor's keys.
pub const FOLLOWUP_KEYS: &str = "Enter ask · Esc cancel";
/// After Esc with text in the follow-up editor.
pub const FOLLOWUP_DISCARD: &str = "Esc again discards this question; Enter asks it";
/// The Reading screen's heading over the follow-up questions.
pub const FOLLOWUPS_HEADING: &str = "Follow-up questions";
/// Under a follow-up question until its answer begins.
pub const FOLLOWUP_WAITING: &str = "Waiting for the answer…";

/// The situation box's title.
pub const SITUATION_TITLE: &str = " The situation behind it (optional) ";
/// Shown in an empty situation box.
pub const SITUATION_PLACEHOLDER: &str = "What is going on around the question?";
/// Shown in an empty question box: one line, which fits the box at the narrowest the app
/// draws (it is not wrapped).
pub const QUESTION_PLACEHOLDER: &str = "What do you want to ask? Type it, then press Enter.";
/// The method row's label.
pub const METHOD_LABEL: &str = "Method";
/// The provider row's label.
pub const PROVIDER_LABEL: &str = "Answered by";
/// Method names on the Ask screen.
pub const METHOD_COINS: &str = "three coins";
/// Method names on the Ask screen.
pub const METHOD_YARROW: &str = "yarrow stalks";
/// Method names on the Ask screen.
pub const METHOD_MANUAL: &str = "manual (your own cast)";
/// After the provider's label while the classic text answers.
pub const ASK_OFFLINE_KEY: &str = "  · F7 chooses a model";
/// Under the provider row while the classic text answers: how to reach a model.
pub const ASK_OFFLINE_HINT: &str = "With F7 you can paste an API key for a hosted model (OpenAI, OpenRouter, Groq, Gemini, Anthropic), or pick a server running on this machine (Ollama, llama.cpp, LM Studio, vLLM).";
/// A hint under the method row.
pub const ASK_HINT: &str =
    "Every section of the reading is generated at once; watch them fill in on the live grid.";

/// The Cast screen's title for a method.
pub fn casting_title(method: crate::oracle::Method) -> &'static str {
    match method {
        crate::oracle::Method::Coins => "Casting three coins, six times",
        crate::oracle::Method::Yarrow => "Dividing the yarrow stalks, six times",
        crate::oracle::Method::Manual => "Your cast, line by line",
    }
}
/// The manual entry prompt.
pub const MANUAL_PROMPT: &str = "Type the six values of your cast, bottom line first: 6 old yin, 7 young yang, 8 young yin, 9 old yang.";
/// The manual entry once six values are in.
pub const MANUAL_READY: &str = "Six lines are in: Enter casts, Backspace takes one back.";
/// Shown when the cast is drawn and the grid is next.
pub const CAST_DONE: &str = "Any key opens the live grid, where the sections are.";

/// Shown on the live grid before any cast.
pub const LIVE_EMPTY: &str = "Nothing cast yet. Press a to ask a question.";
/// Shown on the Reading screen before one is opened.
pub const READING_EMPTY: &str =
    "No reading open. Open one from the live grid (Enter) or from history.";
/// Shown while a reading loads.
pub const LOADING: &str = "Loading…";
/// History with no readings.
pub const HISTORY_EMPTY: &str = "No readings yet. Press a to ask your first question.";
/// History whose filter matches nothing.
pub const HISTORY_NO_MATCH: &str = "No reading matches the filter. Esc clears it.";
/// History's column headings.
pub const HISTORY_DATE: &str = "Date";
/// History's column headings.
pub const HISTORY_QUESTION: &str = "Question";
/// History's column headings.
pub const HISTORY_HEXAGRAMS: &str = "Hexagrams";
/// History's column headings.
pub const HISTORY_STATUS: &str = "Status";
/// History's column headings: sections done of those planned.
pub const HISTORY_SECTIONS: &str = "Sections";
/// History's column headings.
pub const HISTORY_TOKENS: &str = "Tokens";
/// In the Tokens column, for a reading the classic text answered (no tokens were spent).
pub const HISTORY_CLASSIC: &str = "Legge";
/// History's column headings.
pub const HISTORY_COST: &str = "Cost";
/// The empty filter box.
pub const FILTER_HINT: &str = "/ to filter";
/// History's filter line while `o` keeps the readings without an outcome.
pub const NO_OUTCOME_FILTER: &str = "[no outcome yet]";
/// The filter box's label.
pub const FILTER_LABEL: &str = "Filter: ";
/// The Library's search label.
pub const LIBRARY_FIND: &str = "Find:";
/// Shown in the Library's empty search box.
pub const LIBRARY_HINT: &str = "type a number, a name or a trigram";
/// The Library list's column headings: the pinyin, the Chinese (simplified, 简体, as the
/// classical text), the trigram above and the one below, the English name.
pub const LIBRARY_PINYIN: &str = "Pinyin";
/// The Chinese column's heading: which script it is in.
pub const LIBRARY_SCRIPT: &str = "简体";
/// The upper trigram's column.
pub const LIBRARY_ABOVE: &str = "above";
/// The lower trigram's column.
pub const LIBRARY_BELOW: &str = "below";
/// The English name's column.
pub const LIBRARY_ENGLISH: &str = "English";
/// The Library's filter matches nothing.
pub const LIBRARY_NO_MATCH: &str = "No hexagram matches. Esc clears what is typed.";

/// The notice for a terminal below the minimum size.
pub fn too_small(width: u16, height: u16, min_w: u16, min_h: u16) -> [String; 3] {
    [
        "The terminal is too small.".to_owned(),
        format!("It is {width}x{height}; iching needs at least {min_w}x{min_h}."),
        "Make the window larger, or press Ctrl-C to quit.".to_owned(),
    ]
}

/// Messages on the status line.
pub mod msg {
    /// The status line's note of the last sync (`at` is `HH:MM` on the user's clock).
    pub fn synced(at: &str, machines: usize) -> String {
        let s = if machines == 1 { "" } else { "s" };
        format!("synced {at} with {machines} other machine{s}")
    }

    /// A background sync refused `n` files of the folder, the first at `first`.
    pub fn sync_refused(n: usize, first: &str) -> String {
        let first = crate::text::sanitize_inline(first);
        if n == 1 {
            format!("sync refused a damaged or forged file, nothing of it merged: {first}")
        } else {
            format!(
                "sync refused {n} damaged or forged files, nothing of them merged: {first}, ..."
            )
        }
    }

    /// A paste refused because the field would pass its limit.
    pub fn paste_too_long(adding: usize, have: usize, limit: usize) -> String {
        // The limit first: a narrow box cuts the end of the line.
        format!(
            "not pasted: limit {limit} characters ({} with it)",
            adding + have
        )
    }

    use crate::model::ReadingId;

    /// A follow-up answer was saved.
    pub const FOLLOWUP_SAVED: &str =
        "The answer is saved with the reading (under Follow-up questions).";
    /// A follow-up was cancelled.
    pub const FOLLOWUP_CANCELLED: &str = "The follow-up was cancelled; nothing was saved.";
    /// A second follow-up while one is being answered.
    pub const FOLLOWUP_BUSY: &str =
        "A follow-up is still being answered. Stop it (nothing of it is saved)? y/n";
    /// Asks before a note's text is replaced.
    pub const CONFIRM_EDIT_NOTE: &str = "Replace the note with what you wrote? y/n";
    /// Asks before a note is deleted.
    pub const CONFIRM_DELETE_NOTE: &str = "Delete this note? This cannot be undone. y/n";
    /// A note was changed.
    pub const NOTE_EDITED: &str = "Note replaced.";
    /// A note was deleted.
    pub const NOTE_DELETED: &str = "Note deleted.";
    /// A note was saved.
    pub const NOTE_SAVED: &str = "Note saved with the reading (it is in its Journal, at the end).";
    /// An outcome was saved.
    pub const OUTCOME_SAVED: &str =
        "Outcome saved with the reading (it is in its Journal, at the end).";
    /// A reading is already in flight.
    pub const BUSY: &str =
        "A reading is still in flight: wait for it, or cancel it with c on the live grid.";
    /// Quit while a reading is in flight.
    pub const QUIT_IN_FLIGHT: &str =
        "A reading is in flight. Quit and cancel it (it is kept as cancelled)? y/n";
    /// Cancel the reading in flight?
    pub const CANCEL_IN_FLIGHT: &str = "Cancel the reading in flight? What has finished is kept, and r retries the rest later. y/n";
    /// The reading was cancelled.
    pub const CANCELLED: &str = "The reading was cancelled; what finished is kept.";
    /// Cancelling.
    pub const CANCELLING: &str = "Cancelling the reading…";
    /// Nothing to retry.
    pub const NOTHING_TO_RETRY: &str = "Nothing to retry: every section of this reading is done.";
    /// Retry needs the run to settle.
    pub const RETRY_WAIT: &str = "Wait for the sections in flight to finish before retrying.";
    /// A reading finished; `opens`: say that Enter opens it (not when it is on show).
    pub fn finished(status: &str, done: usize, total: usize, opens: bool) -> String {
        let what = if status == "failed" {
            "failed".to_owned()
        } else {
            format!("is {status}")
        };
        let then = if opens { " Enter opens it." } else { "" };
        format!("The reading {what}: {done} of {total} sections.{then}")
    }
    /// Delete confirmation.
    pub fn confirm_delete(id: ReadingId, question: &str) -> String {
        format!("Delete reading #{id}, “{question}”? This cannot be undone. y/n")
    }
    /// Deleted.
    pub fn deleted(id: ReadingId) -> String {
        format!("Reading #{id} deleted.")
    }
    /// The provider can change only between readings.
    pub const BUSY_PROVIDER: &str =
        "A reading is in flight: change the provider once it has finished (or cancel it).";
    /// A new provider answers from now on.
    pub fn provider_changed(label: &str) -> String {
        format!("Now answering: {label} (kept in config.toml)")
    }
    /// The doctor's fix for a missing key, in the provider box.
    pub const KEY_FIX: &str =
        "p pastes a key here (sealed in the store), or set the variable before starting iching";
    /// A fix the doctor wrote for the command line, in the app's terms: each flag the app
    /// does not take becomes what does the same here (the list, config.toml, the log).
    pub fn in_app_terms(fix: &str) -> String {
        const FLAGS: &[(&str, &str)] = &[
            (
                "paste one in the terminal app (F7, then p), or choose another provider with --provider",
                "or paste one here (Esc, then p), or choose another provider",
            ),
            (
                "pick one with --model (or model = \"...\" in config.toml)",
                "pick one from the list (Enter)",
            ),
            (
                "choose another provider with --provider",
                "choose another provider here",
            ),
            (
                "give its address with --base-url",
                "set its base_url in config.toml",
            ),
            ("the base URL (--base-url)", "base_url in config.toml"),
            (
                "raise --first-token-timeout, or lower --concurrency",
                "raise first_token_timeout, or lower concurrency, in config.toml",
            ),
            (
                "see the message; --verbose logs more to iching.log",
                "see the message; iching.log may say more",
            ),
            ("(iching models lists all)", "(the list has all)"),
        ];
        let mut out = fix.to_owned();
        for (flag, here) in FLAGS {
            out = out.replace(flag, here);
        }
        out
    }
    /// A key was sealed for a provider.
    pub fn key_kept(provider: &str) -> String {
        format!(
            "The key for {} is sealed in the store; it is sent to {} only.",
            crate::answer::sanitize_inline(provider),
            crate::answer::sanitize_inline(provider)
        )
    }
    /// A pasted key was removed.
    pub fn key_removed(provider: &str) -> String {
        format!(
            "The key pasted for {} is removed from the store.",
            crate::answer::sanitize_inline(provider)
        )
    }
    /// The answer language changed (`offline`: the classic text answers now, in English).
    pub fn language_changed(language: Option<&str>, offline: bool) -> String {
        let what = match language {
            Some(l) => format!("A model writes its answers in {l} from now on (kept in config.toml)."),
            None => "A model writes its answers in the question's own language from now on (kept in config.toml).".to_owned(),
        };
        if offline {
            format!("{what} The classic text, which answers now, is Legge's English.")
        } else {
            what
        }
    }
    /// Exported: the first line for the status line, then the file's full path.
    pub fn journal_exported(readings: usize, path: &std::path::Path) -> String {
        format!(
            "Exported the journal ({readings} reading{}) to the file below (any key goes on).\n{}",
            if readings == 1 { "" } else { "s" },
            crate::answer::sanitize_inline(&path.display().to_string())
        )
    }

    /// Nothing listed, so no journal to export.
    pub const NOTHING_TO_EXPORT: &str =
        "No reading is listed, so there is no journal to export: clear the filter (Esc, o) first.";

    /// A reading was written to this file.
    pub fn exported(path: &std::path::Path) -> String {
        // The path on a line of its own: the status line says what happened, a box shows it
        // whole.
        format!(
            "Exported to the file below (any key goes on).\n{}",
            crate::answer::sanitize_inline(&path.display().to_string())
        )
    }
    /// No reading selected.
    pub const NONE_SELECTED: &str = "No reading is selected.";
    /// Why the app only browses: a store that cannot be written, said to fit a status line.
    pub fn read_only(why: &crate::service::StoreError) -> String {
        match why {
            crate::service::StoreError::Full { .. } => {
                "Browsing only: the disk is full. Free some space to cast.".to_owned()
            }
            crate::service::StoreError::ReadOnly { .. } => {
                "Browsing only: the store's medium or folder is read-only.".to_owned()
            }
            other => format!("Browsing only: {other}"),
        }
    }

    /// The reading is not saved (no store).
    pub const NOT_SAVED: &str = "This reading has no id in the store yet; wait until it is saved.";
    /// Retry on the grid of a reading the store never took.
    pub const NOT_SAVED_RETRY: &str =
        "This reading was never saved, so it cannot be retried; cast it again.";
}
