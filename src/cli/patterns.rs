//! `iching stats --hexagrams [--search TEXT] [--json]`: your readings over time
//! ([`crate::report::patterns`]).

use super::CliError;
use crate::report::patterns::{patterns, text};
use crate::service::Service;

/// Runs `stats --hexagrams`.
pub async fn run(
    service: &Service,
    search: Option<String>,
    json: bool,
) -> Result<String, CliError> {
    if search.as_deref().is_some_and(|s| s.trim().is_empty()) {
        return Err(CliError::usage("--search needs some text to look for"));
    }
    let search = search.map(|s| s.trim().to_owned());
    let (rows, damaged) = service.pattern_rows(search.clone(), false).await?;
    let p = patterns(&rows, damaged);
    if json {
        super::json::to_json(&p, "the patterns")
    } else {
        Ok(super::hint::paste(&text(
            &p,
            search.as_deref(),
            super::cast::text_width(),
        )))
    }
}
