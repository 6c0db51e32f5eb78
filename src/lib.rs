//! iching: I Ching readings in the terminal.
//!
//! A question is cast ([`oracle`]), planned as named sections ([`plan`]), and every section is
//! sent to a provider at once ([`orchestrator`], [`llm`]); [`reading`] is the one seam the
//! front ends call. The arrows run one way: front ends -> reading -> orchestrator -> llm ->
//! plan -> oracle; store -> crypto.

pub mod cli;
pub mod config;
pub mod crypto;
pub mod events;
pub mod llm;
pub mod logging;
pub mod oracle;
pub mod orchestrator;
pub mod plan;
pub mod reading;
pub mod report;
pub mod response;
pub mod store;
pub mod tui;
