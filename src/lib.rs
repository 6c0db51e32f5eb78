//! iching: I Ching readings in the terminal.
//!
//! A question is cast ([`oracle`]), planned as named sections ([`plan`]), and every section is
//! sent to a provider at once ([`orchestrator`], [`llm`]); [`reading`] is the one seam the
//! front ends call. The arrows run one way: front ends -> reading -> orchestrator -> llm ->
//! plan -> oracle; store -> crypto.
//!
//! ```
//! use iching::oracle::{Cast, Reading};
//! use iching::plan::plan;
//!
//! // A physical cast, bottom line first: 55 Feng changing to 31 Xian.
//! let reading = Reading::new(Cast::manual(Cast::parse_lines("9,8,7,7,6,8").unwrap()));
//! assert_eq!(reading.primary.number, 55);
//! assert_eq!(reading.resulting.map(|h| h.number), Some(31));
//! let ids: Vec<u8> = plan(&reading).iter().map(|s| s.id()).collect();
//! assert_eq!(ids, [1, 2, 3, 4, 8, 11, 12, 13, 14, 18]);
//! ```

// The store and the log rely on Unix file modes and process ids: say so rather than fail
// somewhere deep in the build.
#[cfg(not(unix))]
compile_error!("iching runs on Unix only (Linux, macOS, the BSDs)");

pub mod book;
pub mod cli;
pub mod config;
pub mod crypto;
pub mod events;
pub mod llm;
pub mod logging;
pub mod model;
pub mod oracle;
pub mod orchestrator;
pub mod plan;
pub mod prompt;
pub mod reading;
pub mod report;
pub mod response;
pub mod service;
pub mod store;
pub mod text;
pub mod tui;
