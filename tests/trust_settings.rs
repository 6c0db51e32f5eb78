//! Issue 26, "Trust, round two", through the real binary: a server that echoes the key spelled
//! out with separators between its letters does not get it into what is kept or shown.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test or tool fails by panicking"
)]

use crate::support;

use std::path::Path;

use support::cli::{self, Run, guard};

/// A key with no 8-character run in common with anything else the app prints.
const KEY: &str = "sk-proj-Qm4Tz8Lw2Vn6Hx9Bc3Rk7Jd5Fy1Gp0";

async fn iching(home: &Path, args: &[&str]) -> Run {
    cli::run(home, args, KEY, &[]).await
}

/// `cast` against the server at `url`, then `extra` flags.
fn cast_at<'a>(url: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "cast",
        "Will the bridge hold?",
        "--lines",
        "7,7,7,7,7,7",
        "--base-url",
        url,
        "--format",
        "json",
    ];
    args.extend_from_slice(extra);
    args
}

/// A server that answers every chat request 401, echoing the key it was sent spelled out with
/// separators between its letters (`s%k%-%p...`), in its own case and upper-cased.
async fn echoing_server() -> String {
    use axum::Router;
    use axum::http::{HeaderMap, StatusCode};
    use axum::routing::post;
    let router = Router::new().route(
        "/v1/chat/completions",
        post(async |headers: HeaderMap| {
            let key = headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .unwrap_or_default()
                .to_owned();
            let spelled = |k: &str| {
                k.chars()
                    .map(String::from)
                    .collect::<Vec<_>>()
                    .join("%")
            };
            let message = format!(
                "Incorrect API key provided: {} (also known as {}).",
                spelled(&key),
                spelled(&key.to_uppercase()).replace('%', " . ")
            );
            let body = serde_json::json!({
                "error": {"message": message, "type": "invalid_request_error", "code": "invalid_api_key"}
            });
            (StatusCode::UNAUTHORIZED, body.to_string())
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    format!("http://{addr}/v1")
}

/// The first 8-letter piece of the key's letters and digits that `text`'s letters and digits
/// hold, in any case.
fn leak(text: &str, key: &str) -> Option<String> {
    let alnum = |s: &str| -> String {
        s.chars()
            .filter(char::is_ascii_alphanumeric)
            .map(|c| c.to_ascii_lowercase())
            .collect()
    };
    let (text, key) = (alnum(text), alnum(key));
    (0..=key.len() - 8)
        .map(|i| &key[i..i + 8])
        .find(|piece| text.contains(piece))
        .map(str::to_owned)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_key_spelled_out_with_separators_is_redacted_from_everything_kept_and_shown() {
    let url = echoing_server().await;
    let home = tempfile::tempdir().unwrap();
    let run = guard(
        60,
        iching(home.path(), &cast_at(&url, &["--max-attempts", "1"])),
    )
    .await;
    assert_eq!(run.code, Some(3), "{run}");
    let report = run.json();
    for s in cli::sections(&report) {
        let error = s["error"].as_str().unwrap_or_default();
        assert!(error.contains("HTTP 401"), "{error}");
        assert!(
            error.contains("Incorrect API key provided: [redacted] (also known as [redacted])"),
            "{error}"
        );
    }
    let id = report["id"].as_i64().unwrap().to_string();
    let mut shown = vec![("cast stdout", run.stdout), ("cast stderr", run.stderr)];
    for format in ["json", "text", "md", "html"] {
        let show = iching(home.path(), &["show", &id, "--format", format]).await;
        assert_eq!(show.code, Some(0), "{show}");
        shown.push(("show", show.stdout));
        shown.push(("show stderr", show.stderr));
    }
    let log = std::fs::read_to_string(home.path().join("iching.log")).unwrap_or_default();
    shown.push(("iching.log", log));
    for (what, text) in &shown {
        assert_eq!(leak(text, KEY), None, "key in {what}:\n{text}");
    }
}
