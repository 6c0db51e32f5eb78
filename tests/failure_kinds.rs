//! A section's failure keeps its kind from the provider to every front end: the stored part,
//! `show --format json`, `stats --json` (per reading and across readings), the text table; and
//! its message is the provider's words without the section's title glued on.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test or tool fails by panicking"
)]

use crate::support;

use support::cli::{guard, run};
use support::fake_openai::{FakeOpenAi, Fault, ServerConfig};

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_sections_kind_reaches_show_and_stats() {
    // Every request gets a 401: not retried, every section fails as unauthorized.
    let server = FakeOpenAi::start(ServerConfig {
        default_fault: Fault::Status(401),
        ..ServerConfig::default()
    });
    let home = tempfile::tempdir().unwrap();
    let url = server.base_url();
    let out = guard(
        120,
        run(
            home.path(),
            &[
                "cast",
                "Will the venture hold?",
                "--lines",
                "9,8,7,7,6,8",
                "--provider",
                "openai",
                "--base-url",
                &url,
                "--model",
                "fake-model",
                "--max-attempts",
                "1",
            ],
            "sk-test",
            &[],
        ),
    )
    .await;
    assert_eq!(out.code, Some(3), "{out}");

    let show = run(home.path(), &["show", "1", "--format", "json"], "", &[]).await;
    assert_eq!(show.code, Some(0), "{show}");
    let report = show.json();
    let sections = report["sections"].as_array().unwrap();
    assert!(!sections.is_empty());
    for s in sections {
        assert_eq!(s["status"], "failed", "{s}");
        assert_eq!(s["error_kind"], "unauthorized", "{s}");
        let error = s["error"].as_str().unwrap();
        let title = s["title"].as_str().unwrap();
        assert!(
            !error.starts_with(&format!("{title}:")),
            "the message carries no title to strip: {error}"
        );
    }

    let stats = run(home.path(), &["stats", "1", "--json"], "", &[]).await;
    assert_eq!(stats.code, Some(0), "{stats}");
    let rows = stats.json()["rows"].as_array().unwrap().clone();
    assert_eq!(rows.len(), sections.len());
    assert!(
        rows.iter().all(|r| r["error_kind"] == "unauthorized"),
        "{rows:?}"
    );

    let table = run(home.path(), &["stats", "1"], "", &[]).await;
    assert!(table.stdout.contains("(unauthorized)"), "{table}");

    let across = run(home.path(), &["stats", "--json"], "", &[]).await;
    let by_section = across.json()["by_section"].as_array().unwrap().clone();
    assert!(
        by_section
            .iter()
            .all(|s| s["failed_by_kind"]["unauthorized"] == 1),
        "{by_section:?}"
    );
    drop(server);
}
