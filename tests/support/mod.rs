//! Shared helpers for the integration tests.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers fail the test by panicking"
)]

pub mod cli;
pub mod fake_openai;
