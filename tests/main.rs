//! The integration tests, as one test binary. Each file beside this one is a module of it: what it
//! tests is in its own `//!`. One binary links the crate and its dependencies once, where one
//! binary per file linked them 28 times (most of a cold `cargo test`'s time and of `target/`'s
//! size; BENCHMARKS.md, "Cold build"). Run one file's tests with `cargo test --test integration
//! exports::`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test or tool fails by panicking"
)]

mod support;

mod any_server;
mod backup_restore;
mod batch_terminal;
mod browser;
mod classical_text;
mod cli_batch;
mod cli_cast;
mod cli_hexagram;
mod cli_openai;
mod cli_store;
mod contention;
mod context_language;
mod crash_safety;
mod doc_examples;
mod exports;
mod failure_kinds;
mod fake_server;
mod figures;
mod first_hour;
mod followups;
mod hostile_servers;
mod install;
mod journal;
mod key_change;
mod layers;
mod odd_media;
mod pasteable;
mod patterns;
mod provider;
mod real_providers;
mod small_model_answers;
mod sync;
mod trust_settings;
mod tui_pty;
