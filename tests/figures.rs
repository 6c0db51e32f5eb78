//! Figures are a model's: `iching stats` of readings a model answered (through the fake server)
//! has its tokens, rates and cost, per section, per reading and across readings, while the
//! classic text beside it in the same store shows whose text it is and no figures.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test or tool fails by panicking"
)]

use crate::support;

use support::cli::{guard, run};
use support::fake_openai::{FakeOpenAi, ServerConfig};

#[tokio::test(flavor = "multi_thread")]
async fn stats_show_a_models_table_totals_and_cost_and_the_classic_text_without_them() {
    let server = FakeOpenAi::start(ServerConfig::default());
    let url = server.base_url();
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    for (question, lines) in [("Q one", "9,8,7,7,6,8"), ("Q two", "7,7,7,7,7,7")] {
        let args = [
            "cast",
            question,
            "--lines",
            lines,
            "--provider",
            "openai",
            "--base-url",
            &url,
            "--model",
            "fake-model",
        ];
        let out = guard(120, run(h, &args, "sk-test", &[])).await;
        assert_eq!(out.code, Some(0), "{out}");
    }
    // A third reading from the classic text, in the same store.
    let out = guard(
        120,
        run(h, &["cast", "Q three", "--lines", "8,8,8,8,8,8"], "", &[]),
    )
    .await;
    assert_eq!(out.code, Some(0), "{out}");

    let one = run(h, &["stats", "1", "--json"], "", &[]).await.json();
    let rows = one["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 10);
    for (i, r) in rows.iter().enumerate() {
        assert_eq!(r["rank"], i + 1);
        assert_eq!(r["classic"], false);
        assert!(r["completion_tokens"].as_u64().unwrap() > 0, "{r}");
        assert_eq!(
            r["total_tokens"].as_u64(),
            Some(r["prompt_tokens"].as_u64().unwrap() + r["completion_tokens"].as_u64().unwrap())
        );
        assert!(r["tokens_per_sec"].is_number() && r["ttft_ms"].is_number());
    }
    let totals = &one["totals"];
    assert_eq!(totals["offline"], false);
    let text = run(h, &["stats", "1"], "", &[]).await.stdout;
    for column in [
        "#", "section", "done ms", "prompt", "compl", "total", "tok/s", "TTFT ms", "att",
    ] {
        assert!(text.contains(column), "{column} in {text}");
    }
    assert!(text.contains("all sections: "), "{text}");
    assert!(
        text.contains("cost: unknown: no price for ") && text.contains("[prices.\"MODEL\"]"),
        "{text}"
    );
    let wide = run(h, &["stats", "1", "--wide"], "", &[]).await.stdout;
    for column in ["prompt tk", "cached tk", "reason tk", "total tk", "model"] {
        assert!(wide.contains(column), "{column} in {wide}");
    }

    // With a price, the cost is the tokens at it.
    let model = rows[0]["model"].as_str().unwrap().to_owned();
    std::fs::write(
        h.join("config.toml"),
        format!("[prices.\"{model}\"]\nprompt_per_million = 1.0\ncompletion_per_million = 2.0\n"),
    )
    .unwrap();
    let priced = run(h, &["stats", "1", "--json"], "", &[]).await.json();
    let t = &priced["totals"];
    let expected = (t["prompt_tokens"].as_f64().unwrap()
        + 2.0 * t["completion_tokens"].as_f64().unwrap())
        / 1e6;
    assert!(expected > 0.0 && (t["cost"].as_f64().unwrap() - expected).abs() < 1e-12);
    assert!(
        run(h, &["stats", "1"], "", &[])
            .await
            .stdout
            .contains("cost: $")
    );

    // The classic text's reading: its times and whose text it is.
    let classic = run(h, &["stats", "3"], "", &[]).await.stdout;
    assert!(
        classic.contains(" · Legge's text\n")
            && classic.contains("no model, so no tokens, rate or cost")
            && !classic.contains("tok/s")
            && !classic.contains("cost:"),
        "{classic}"
    );

    // Across readings: the model's averages and cost; the classic text named, without figures.
    let all = run(h, &["stats", "--json"], "", &[]).await.json();
    assert_eq!(all["readings"], 3);
    let models = all["by_model"].as_array().unwrap();
    let by = |name: &str| models.iter().find(|m| m["model"] == name).unwrap().clone();
    assert_eq!(by(&model)["readings"], 2);
    assert!(by(&model)["totals"]["cost"].as_f64().unwrap() > 0.0);
    assert_eq!(by("legge-1882")["totals"]["offline"], true);
    let opening = all["by_section"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["section_id"] == 1)
        .unwrap()
        .clone();
    assert_eq!(opening["runs"], 3);
    assert!(opening["avg_completion_tokens"].as_f64().unwrap() > 0.0);
    let text = run(h, &["stats"], "", &[]).await.stdout;
    assert!(text.contains("Most completion tokens"), "{text}");
    assert!(
        text.contains("\nlegge-1882: Legge's text, from the book: no tokens or cost"),
        "{text}"
    );
}
