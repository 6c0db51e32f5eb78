//! Shared helpers for the integration tests.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers fail the test by panicking"
)]

pub mod cdp;
pub mod cli;
pub mod fake_openai;

/// A plain reqwest client for talking to the test servers directly. reqwest has no TLS crypto
/// provider of its own here (see `iching::llm::install_crypto`), so install ring first.
pub fn http_client() -> reqwest::Client {
    iching::llm::install_crypto();
    reqwest::Client::new()
}
