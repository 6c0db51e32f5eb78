//! The headless commands. `main` parses the arguments with these clap types and calls
//! [`dispatch`]; each command lives in its own file.

mod ask;
mod batch;
mod bench;
mod cast;
mod delete;
pub mod doctor;
mod export;
mod hexagram;
pub mod hint;
mod history;
mod install;
mod journal;
mod json;
mod keys;
mod patterns;
mod progress;
mod retry;
mod show;
pub(crate) mod stats;
mod sync;
mod upkeep;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::service::{Access, MAX_CONCURRENCY, Overrides, Service, ServiceError, Setup};

/// I Ching readings in the terminal: cast, interpret every section at once, keep it sealed.
#[derive(Debug, Parser)]
#[command(
    name = "iching",
    version,
    about,
    long_about = None,
    propagate_version = true,
    after_help = "With no command, `iching` opens the terminal app: ask, watch every section \
                  arrive, read, browse the history and the book."
)]
pub struct Cli {
    /// Where the data and config live (default: the platform's data and config dirs). A folder
    /// of other files with no store in it is refused. Commands the messages suggest name it.
    #[arg(long, global = true, env = "ICHING_HOME", value_name = "DIR")]
    pub home: Option<PathBuf>,

    /// Log in more detail (to iching.log in the data dir; RUST_LOG overrides).
    #[arg(long, short, global = true)]
    pub verbose: bool,

    /// What to do; without a command, the terminal app opens.
    #[command(subcommand)]
    pub command: Option<Command>,
}

impl Cli {
    /// Whether the command uses the data dir at all (its store, its log): `hexagram` reads only
    /// the book built into the binary.
    pub fn uses_home(&self) -> bool {
        !matches!(
            self.command,
            Some(Command::Hexagram(_) | Command::Completions(_) | Command::Manpage)
        )
    }

    /// What the command needs of the store: reading commands never create a home.
    pub fn access(&self) -> Access {
        match &self.command {
            Some(
                Command::History(_)
                | Command::Show(_)
                | Command::Export(_)
                | Command::Stats(_)
                | Command::Delete(_)
                | Command::Retry(_)
                | Command::Verify(_)
                | Command::Backup(_)
                | Command::Key(_)
                | Command::Passphrase(_)
                | Command::Note(_)
                | Command::Notes(_)
                | Command::Ask(_),
            ) => Access::Existing,
            _ => Access::Create,
        }
    }

    /// Whether the command makes its home only once it has succeeded (`restore`, which takes
    /// away what it made when it is refused), so nothing (not even the log) goes there before.
    pub fn makes_its_home(&self) -> bool {
        matches!(self.command, Some(Command::Restore(_)))
    }
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Cast a reading, generate every section at once, save it, and print it.
    Cast(cast::CastArgs),
    /// List saved readings, newest first.
    History(history::HistoryArgs),
    /// Print a saved reading (text, Markdown, HTML or JSON).
    Show(show::ShowArgs),
    /// Write the whole journal (or what a search finds) to one file: Markdown, HTML or JSON.
    ///
    /// Newest first, each reading with its situation, cast, sections, notes, outcome and
    /// follow-up questions, escaped as a single reading's export is.
    Export(export::ExportArgs),
    /// Tokens, timings and cost of one reading, or per section across all of them.
    Stats(stats::StatsArgs),
    /// Generate again only the failed or missing sections of a saved reading.
    Retry(retry::RetryArgs),
    /// Delete a saved reading.
    Delete(delete::DeleteArgs),
    /// Many readings at once, from a file of questions, under one limit.
    ///
    /// Exit status: 0 every reading complete; 3 some reading is not complete (failed sections
    /// after the retry pass, or not saved); 2 every good line done but some lines were skipped
    /// (each reported as FILE:LINE); 130 stopped by Ctrl-C; 1 or 2 when nothing could run.
    Batch(batch::BatchArgs),
    /// Measure what concurrency buys: N section-sized requests at the configured endpoint.
    Bench(bench::BenchArgs),
    /// List the models the endpoint offers (GET /models).
    Models(doctor::ModelsArgs),
    /// Check the configured endpoint step by step, with a fix for each failure.
    ///
    /// Reachable, key accepted, model offered, one tiny streamed request (time to first token,
    /// usage reported or not), which token-limit field and structured-output mode it takes, and
    /// how many requests it serves at once. Exit 0 when a reading would work, 1 otherwise.
    Doctor(doctor::DoctorArgs),
    /// Check every saved reading: its sealed text and the figures stored beside it
    ///
    /// Opens every sealed value and checks every record's authentication tag, and runs SQLite's
    /// own check of the file. Prints a summary and each damaged reading. Exit 0 when all is
    /// intact, 1 when anything is damaged.
    Verify(upkeep::VerifyArgs),
    /// Copy the store to a new file, safely even while a reading is being written
    ///
    /// The copy is sealed exactly like the store (it opens with the same key file or
    /// passphrase), readable by you only, and never written over an existing file. It ends
    /// with the command that restores it, with --key naming the key file where it needs one.
    Backup(upkeep::BackupArgs),
    /// Add the readings of a backup that are not in the store
    ///
    /// Readings already here (same time, lines and question) are skipped; the others get new
    /// ids and are sealed with this store's key. A backup sealed with another key file needs
    /// --key; one sealed with a passphrase asks for it (or reads ICHING_BACKUP_PASSPHRASE).
    /// A --home that does not exist yet is made; a restore refused there leaves nothing
    /// behind. Exit 1 when some readings of the backup were damaged and left out.
    Restore(upkeep::RestoreArgs),
    /// Keep the journal on every machine, through a folder your sync tool already syncs
    ///
    /// Writes this machine's new readings, notes, outcomes, follow-ups and deletions to its own
    /// files under DIR/devices/, sealed and chained, and merges every other machine's. Nothing
    /// in the folder is readable without the key. A second machine joins with --key FILE (the
    /// first machine's iching.key) or, for a passphrase store, its passphrase. A damaged or
    /// forged file is refused and named, nothing of it is merged, the rest goes on, and the
    /// exit status is 1. `iching sync --status` says when this store last synced.
    Sync(sync::SyncArgs),
    /// Add a note to a reading: what you make of it now, or later (--outcome) how it turned out
    ///
    /// The note is sealed with the reading, shows with it (`show`, exports), and `history
    /// --search` finds its words. `--edit N TEXT` replaces note N, `--delete N` deletes it
    /// (each asks first; --yes does not). TEXT `-` reads the note from standard input.
    Note(journal::NoteArgs),
    /// List the notes of a reading, oldest first
    Notes(journal::NotesArgs),
    /// Ask a follow-up question about a saved reading
    ///
    /// The model gets the reading (question, situation, hexagrams, rule, Legge's texts), what
    /// its sections said (the earliest left out past a budget, and it is told so) and the
    /// earlier follow-ups. The answer prints as it arrives and is saved sealed with the reading,
    /// with its tokens and timings (in `stats`), once complete; `show` prints it. Offline, the
    /// answer is Legge's text of the lines the question names (or of the changing lines).
    /// QUESTION `-` reads it from standard input. Exit 0 answered, 1 not answered (nothing is
    /// saved), 130 cancelled.
    Ask(ask::AskArgs),
    /// Give the store a new key file (`iching key rotate --yes`; without --yes it asks first)
    Key(keys::KeyArgs),
    /// One hexagram of the book: figure, names, trigrams, nuclear hexagram, Legge's texts
    ///
    /// By number (1 to 64) or by name: pinyin with or without tone marks (jing, Jǐng), English
    /// (heaven), Chinese, the symbol, or Legge's romanisation. Needs no store. Exit 2 when the
    /// name is unknown or names several hexagrams (they are listed).
    Hexagram(hexagram::HexagramArgs),
    /// Seal the store with a passphrase, change it, or go back to a key file
    Passphrase(keys::PassphraseArgs),
    /// Print the shell completion script for SHELL (the README says where each shell reads it).
    ///
    /// For bash, for example: iching completions bash >
    /// ~/.local/share/bash-completion/completions/iching
    Completions(install::CompletionsArgs),
    /// Print the manual page (roff) on stdout; put it in ~/.local/share/man/man1/iching.1.
    Manpage,
}

/// Which readings a command takes: the flags `history` and `export` share.
#[derive(Debug, Clone, Args)]
pub struct ReadingFilter {
    /// Only readings holding every word of TEXT (case-insensitive) in their question,
    /// situation, notes, follow-ups, status or hexagram names.
    #[arg(long, value_name = "TEXT")]
    pub search: Option<String>,
    /// Only readings still waiting to be told how they turned out (no outcome noted yet; add
    /// one with the note command and --outcome).
    #[arg(long)]
    pub no_outcome: bool,
    /// Only readings with hexagram N (1-64) as primary or resulting hexagram.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u8).range(1..=64))]
    pub hexagram: Option<u8>,
}

impl ReadingFilter {
    /// The filter as the Service takes it; an empty `--search` is refused.
    pub fn checked(&self) -> Result<crate::service::HistoryFilter, CliError> {
        if self.search.as_deref().is_some_and(|s| s.trim().is_empty()) {
            return Err(CliError::usage(
                "--search needs some words to look for in the questions, situations, notes and follow-ups",
            ));
        }
        Ok(crate::service::HistoryFilter {
            search: self.search.as_ref().map(|s| s.trim().to_owned()),
            hexagram: self.hexagram,
            no_outcome: self.no_outcome,
            ..crate::service::HistoryFilter::default()
        })
    }
}

/// Output formats of a reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Plain text.
    Text,
    /// Markdown.
    Md,
    /// A standalone HTML page.
    Html,
    /// One JSON object.
    Json,
}

/// The flags that choose and tune the provider (shared by cast, retry, batch and, without
/// `--concurrency`, bench).
#[derive(Debug, Clone, Args)]
pub struct ProviderArgs {
    #[command(flatten)]
    /// Which endpoint and how to talk to it.
    pub endpoint: EndpointArgs,
    /// Most sections in flight at once, 1 to 4096 (default: all of a reading's sections, or
    /// what a local server serves at once).
    #[arg(long, value_name = "N", value_parser = concurrency_range)]
    pub concurrency: Option<usize>,
}

/// `--concurrency`: a whole number from 1 to [`MAX_CONCURRENCY`].
pub fn concurrency_range(s: &str) -> Result<usize, String> {
    let n: usize = s
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a whole number (use 1 to {MAX_CONCURRENCY})"))?;
    if (1..=MAX_CONCURRENCY).contains(&n) {
        Ok(n)
    } else {
        Err(format!("{n} is not in 1..={MAX_CONCURRENCY}"))
    }
}

/// Which provider and endpoint, and how to talk to it.
#[derive(Debug, Clone, Default, Args)]
pub struct EndpointArgs {
    /// Who answers: openai, openrouter, groq, gemini, anthropic (hosted, key from
    /// OPENAI_API_KEY, OPENROUTER_API_KEY, GROQ_API_KEY, GEMINI_API_KEY, ANTHROPIC_API_KEY),
    /// ollama, llamacpp, lmstudio, vllm (local, no key), offline (the classic text), or the
    /// name of a [providers.NAME] table in config.toml. [env: ICHING_PROVIDER]
    #[arg(long, value_name = "NAME")]
    pub provider: Option<String>,
    /// The endpoint's base URL, overriding the provider's, e.g. http://localhost:11434/v1.
    /// [env: OPENAI_BASE_URL]
    #[arg(long, value_name = "URL")]
    pub base_url: Option<String>,
    /// The model name (default: the provider's). [env: ICHING_MODEL]
    #[arg(long)]
    pub model: Option<String>,
    /// Sent as reasoning_effort (e.g. minimal, low, medium, high) to models that reason.
    #[arg(long, value_name = "LEVEL")]
    pub reasoning_effort: Option<String>,
    /// Seconds without new answer text, once it has begun, before an attempt counts as stalled.
    #[arg(long, value_name = "SECONDS")]
    pub read_timeout: Option<u64>,
    /// Seconds an attempt may wait for its first token, queued at the server included
    /// (default 60 hosted, 300 local).
    #[arg(long, value_name = "SECONDS")]
    pub first_token_timeout: Option<u64>,
    /// Seconds one attempt may take in all (default 180 hosted, 1800 local).
    #[arg(long, value_name = "SECONDS")]
    pub request_timeout: Option<u64>,
    /// Attempts per section, counting the first.
    #[arg(long, value_name = "N")]
    pub max_attempts: Option<u32>,
    /// Stream answers as they are written (the default).
    #[arg(long, overrides_with = "no_stream")]
    pub stream: bool,
    /// Ask for whole answers instead of streams.
    #[arg(long)]
    pub no_stream: bool,
    /// Requests-per-minute budget shared by all sections.
    #[arg(long, value_name = "N")]
    pub rpm: Option<u32>,
    /// Tokens-per-minute budget shared by all sections.
    #[arg(long, value_name = "N")]
    pub tpm: Option<u32>,
    /// The language to write the sections in (e.g. Spanish); default: `language` in
    /// config.toml, else the language of the question. Legge is quoted in English.
    #[arg(long, value_name = "NAME")]
    pub language: Option<String>,
}

/// A command's failure: its message and exit code (2 bad input, 1 anything else).
#[derive(Debug)]
pub struct CliError {
    /// The process exit code.
    pub code: u8,
    /// What to tell the user.
    pub message: String,
}

impl CliError {
    /// Bad usage or input: exit 2.
    pub fn usage(message: impl Into<String>) -> Self {
        Self {
            code: 2,
            message: message.into(),
        }
    }
    /// Anything else: exit 1.
    pub fn other(message: impl Into<String>) -> Self {
        Self {
            code: 1,
            message: message.into(),
        }
    }
}

impl From<ServiceError> for CliError {
    fn from(e: ServiceError) -> Self {
        if e.is_usage() {
            Self::usage(e.to_string())
        } else {
            Self::other(e.to_string())
        }
    }
}

impl From<crate::service::StoreError> for CliError {
    fn from(e: crate::service::StoreError) -> Self {
        ServiceError::from(e).into()
    }
}

impl EndpointArgs {
    /// The flags as settings over the environment and config.toml, with the cap `concurrency`.
    pub fn overrides(&self, concurrency: Option<usize>) -> Overrides {
        Overrides {
            provider: self.provider.clone(),
            base_url: self.base_url.clone(),
            model: self.model.clone(),
            concurrency,
            read_timeout: self.read_timeout,
            first_token_timeout: self.first_token_timeout,
            request_timeout: self.request_timeout,
            reasoning_effort: self.reasoning_effort.clone(),
            max_attempts: self.max_attempts,
            stream: if self.no_stream {
                Some(false)
            } else if self.stream {
                Some(true)
            } else {
                None
            },
            rpm: self.rpm,
            tpm: self.tpm,
            language: self.language.clone(),
            // Filled in by the Service, which holds the store they are sealed in.
            pasted_keys: std::collections::BTreeMap::new(),
        }
    }
}

impl ProviderArgs {
    /// The flags as settings.
    pub fn overrides(&self) -> Overrides {
        self.endpoint.overrides(self.concurrency)
    }
}

/// Opens the service for a command: the store (asking for its passphrase on a terminal) and
/// the prices.
pub fn open(home: Option<&std::path::Path>, access: Access) -> Result<Service, CliError> {
    let service = Service::open(home, access, crate::passphrase::passphrase_prompt())?;
    for notice in service.notices() {
        eprintln!("note: {notice}");
    }
    Ok(service)
}

/// `path` as one word for a POSIX shell: as it is when it has only characters no shell
/// reads specially, else in single quotes.
pub(crate) fn sh_quote(path: &std::path::Path) -> String {
    crate::service::sh_quote(path.as_os_str())
}

/// The service for a command that generates: the store for writing, the settings resolved from
/// `args` and the engine built; says on stderr when it answers offline for want of a model.
pub async fn open_configured(
    home: Option<&std::path::Path>,
    args: &ProviderArgs,
) -> Result<Service, CliError> {
    // The store first: a home that cannot be used is reported as such, before any config is read.
    let service = open(home, Access::Create)?;
    service.configure(args.overrides())?;
    if let Some(setup) = service.setup()
        && let Some(reason) = &setup.settings.offline_reason
    {
        eprintln!("note: {reason}");
    }
    Ok(service)
}

/// The settings and engine alone, for commands that use no store (models, doctor, bench).
/// The keys pasted in the terminal app count here too (read from the store when there is one).
pub fn setup(home: Option<&std::path::Path>, args: &EndpointArgs) -> Result<Setup, CliError> {
    let o = Overrides {
        pasted_keys: crate::service::pasted_keys_at(home),
        ..args.overrides(None)
    };
    Ok(Setup::resolve(home, o)?)
}

/// Asks `question` on the terminal, `[y/N]` after it: whether the answer is yes. (The caller
/// refuses first, in its own words, where there is no terminal to ask on.)
pub(crate) fn ask_yes(question: &str) -> Result<bool, CliError> {
    use std::io::{BufRead, Write};
    eprint!("{question} [y/N] ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|e| CliError::other(format!("cannot read the answer: {e}")))?;
    Ok(matches!(answer.trim().to_lowercase().as_str(), "y" | "yes"))
}

/// Writes `text` and a newline to stdout, no line ending in a blank (a table's padded last
/// column). A closed pipe (`| head`) is not an error worth a message, nor a crash.
pub(crate) fn emit(text: &str) {
    use std::io::Write;
    let _ = writeln!(
        std::io::stdout().lock(),
        "{}",
        crate::text::trim_line_ends(text)
    );
}

/// `x` rounded to `places` decimals, for figures people read.
pub(crate) fn round(x: f64, places: i32) -> f64 {
    let f = 10f64.powi(places);
    (x * f).round() / f
}

/// Whether to colour `stderr`: a terminal, and `NO_COLOR` unset.
pub fn stderr_colour() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Runs the command; `None` is for the TUI, which `main` owns.
pub async fn dispatch(cli: Cli) -> Result<ExitCode, CliError> {
    match cli.command {
        Some(Command::Cast(args)) => cast::run(cli.home.as_deref(), args).await,
        Some(Command::History(args)) => history::run(cli.home.as_deref(), args).await,
        Some(Command::Show(args)) => show::run(cli.home.as_deref(), args).await,
        Some(Command::Export(args)) => export::run(cli.home.as_deref(), args).await,
        Some(Command::Stats(args)) => stats::run(cli.home.as_deref(), args).await,
        Some(Command::Retry(args)) => retry::run(cli.home.as_deref(), args).await,
        Some(Command::Delete(args)) => delete::run(cli.home.as_deref(), args).await,
        Some(Command::Batch(args)) => batch::run(cli.home.as_deref(), args).await,
        Some(Command::Bench(args)) => bench::run(cli.home.as_deref(), args).await,
        Some(Command::Models(args)) => doctor::models(cli.home.as_deref(), args).await,
        Some(Command::Doctor(args)) => doctor::doctor(cli.home.as_deref(), args).await,
        Some(Command::Verify(args)) => upkeep::verify(cli.home.as_deref(), args).await,
        Some(Command::Backup(args)) => upkeep::backup(cli.home.as_deref(), args).await,
        Some(Command::Restore(args)) => upkeep::restore(cli.home.as_deref(), args).await,
        Some(Command::Sync(args)) => sync::run(cli.home.as_deref(), args).await,
        Some(Command::Key(args)) => keys::key(cli.home.as_deref(), args).await,
        Some(Command::Note(args)) => journal::note(cli.home.as_deref(), args).await,
        Some(Command::Notes(args)) => journal::notes(cli.home.as_deref(), args).await,
        Some(Command::Ask(args)) => ask::run(cli.home.as_deref(), args).await,
        Some(Command::Passphrase(args)) => keys::passphrase(cli.home.as_deref(), args).await,
        Some(Command::Hexagram(args)) => hexagram::run(&args),
        Some(Command::Completions(args)) => install::completions(&args),
        Some(Command::Manpage) => install::manpage(),
        // `main` opens the terminal app (`crate::tui::run`) when there is no command.
        None => Err(CliError::usage(
            "no command given: run `iching` alone for the terminal app, or see `iching --help`",
        )),
    }
}
