//! `iching stats --hexagrams` through the real binary: counts that match the readings, the odds
//! of the methods used, `--search`, and clear words when nothing matches.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test or tool fails by panicking"
)]

use crate::support;

use std::path::Path;

use support::cli::{Run, run};

async fn ok(home: &Path, args: &[&str]) -> Run {
    let out = run(home, args, "", &[]).await;
    assert_eq!(out.code, Some(0), "{args:?}: {out}");
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn the_patterns_count_the_readings_against_the_odds_of_their_methods() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let empty = ok(h, &["stats", "--hexagrams"]).await;
    assert!(empty.stdout.contains("No readings yet"), "{empty}");
    for (question, extra) in [
        ("Coins one?", &["--method", "coins", "--seed", "1"][..]),
        ("Coins two?", &["--method", "coins", "--seed", "2"]),
        ("Yarrow one?", &["--method", "yarrow", "--seed", "3"]),
        ("Manual cormorant?", &["--lines", "9,8,7,7,6,8"]),
    ] {
        let mut args = vec!["cast", question, "--provider", "offline"];
        args.extend_from_slice(extra);
        ok(h, &args).await;
    }
    let p = ok(h, &["stats", "--hexagrams", "--json"]).await.json();
    assert_eq!(p["readings"], 4);
    assert_eq!(p["by_method"]["coins"], 2);
    assert_eq!(p["by_method"]["yarrow"], 1);
    assert_eq!(p["by_method"]["manual"], 1);
    let history = ok(h, &["history", "--json"]).await.json();
    let hexagrams = p["hexagrams"].as_array().unwrap();
    assert_eq!(hexagrams.len(), 64);
    for reading in history.as_array().unwrap() {
        let n = reading["primary"].as_u64().unwrap() as usize;
        assert!(hexagrams[n - 1]["primary"].as_u64().unwrap() >= 1);
    }
    let sum = |key: &str| -> f64 { hexagrams.iter().map(|x| x[key].as_f64().unwrap()).sum() };
    let count = |key: &str| -> u64 { hexagrams.iter().map(|x| x[key].as_u64().unwrap()).sum() };
    assert_eq!(count("primary"), 4);
    // Three random casts have odds; the manual one has none.
    assert!((sum("primary_expected") - 3.0).abs() < 1e-9);
    let changing: Vec<u64> = p["changing_lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["count"].as_u64().unwrap())
        .collect();
    assert_eq!(changing.iter().sum::<u64>(), 4);
    assert!(
        changing[2] >= 1,
        "the manual cast changes two lines: {changing:?}"
    );
    assert_eq!(p["per_month"].as_array().unwrap().len(), 1);

    let text = ok(h, &["stats", "--hexagrams"]).await.stdout;
    assert!(text.starts_with("Hexagrams across 4 readings"), "{text}");
    assert!(text.contains("Changing lines per reading"), "{text}");
    assert!(text.contains("Readings per month"), "{text}");

    let one = ok(
        h,
        &["stats", "--hexagrams", "--json", "--search", "cormorant"],
    )
    .await
    .json();
    assert_eq!(one["readings"], 1);
    assert_eq!(one["by_method"]["manual"], 1);
    let none = ok(h, &["stats", "--hexagrams", "--search", "zzz"]).await;
    assert!(none.stdout.contains("No readings match \"zzz\""), "{none}");
    for args in [
        &["stats", "1", "--hexagrams"][..],
        &["stats", "--search", "x"],
        &["stats", "--hexagrams", "--search", " "],
    ] {
        let out = run(h, args, "", &[]).await;
        assert_eq!(out.code, Some(2), "{args:?}: {out}");
    }
}
