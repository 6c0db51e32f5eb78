//! `iching hexagram N|NAME`: one hexagram of the book, as the Library screen shows it — figure,
//! names (Wilhelm/Baynes' and the Wade-Giles among them), trigrams, nuclear hexagram and Legge's judgment, image and lines — in text, Markdown
//! or JSON. It needs no store and writes nothing. A name no hexagram has, or one several share,
//! is a usage error (exit 2) that names the candidates.

use std::process::ExitCode;

use clap::{Args, ValueEnum};

use super::{CliError, cast::text_width, emit, json::to_json};
use crate::answer::sanitize_inline;
use crate::book::{self, Page};
use crate::oracle::find_hexagram;

/// Output formats of a page of the book.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PageFormat {
    /// Plain text.
    Text,
    /// Markdown.
    Md,
    /// One JSON object.
    Json,
}

/// Arguments of `hexagram`.
#[derive(Debug, Args)]
pub struct HexagramArgs {
    /// The hexagram: its number (1 to 64), its pinyin with or without tone marks (jing, Jǐng,
    /// "da zhuang"), its English name (heaven, "the well") or Wilhelm/Baynes' ("the creative",
    /// "youthful folly"), its Chinese name (traditional or simplified) or symbol, Legge's name
    /// (Kwan) or the Wade-Giles ("wei chi"). Several words are read as one name.
    #[arg(required = true, num_args = 1.., value_name = "N|NAME")]
    pub name: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = PageFormat::Text)]
    pub format: PageFormat,
}

/// Runs `hexagram`.
pub fn run(args: &HexagramArgs) -> Result<ExitCode, CliError> {
    let query = args.name.join(" ");
    let h = find_hexagram(&query).map_err(|e| CliError::usage(sanitize_inline(&e.to_string())))?;
    let page = Page::from(h);
    let out = match args.format {
        PageFormat::Text => book::to_text(&page, text_width()),
        PageFormat::Md => book::to_markdown(&page),
        PageFormat::Json => to_json(&page, "the hexagram")?,
    };
    emit(out.trim_end());
    Ok(ExitCode::SUCCESS)
}
