//! Fills a store with N complete readings (each with its sealed question and one sealed section),
//! for timing `iching history` on a large history.
//!
//! `cargo run --release --features examples --example populate -- --home DIR --readings 10000`
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test or tool fails by panicking"
)]

use std::path::PathBuf;

use clap::Parser;
use iching::events::UsageSource;
use iching::report::SectionStatus;
use iching::store::{NewReading, PartText, SectionFigures, Store, Unlock};

#[derive(Parser)]
struct Args {
    /// The store's folder (as `--home`).
    #[arg(long)]
    home: PathBuf,
    /// Readings to add.
    #[arg(long, default_value_t = 10_000)]
    readings: usize,
}

fn main() {
    let args = Args::parse();
    let store = Store::open(&args.home, Unlock::from_env()).expect("open the store");
    let (writer, thread) = store.into_writer().expect("start the writer");
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let mut batch = Vec::new();
        for i in 0..args.readings {
            let w = writer.clone();
            batch.push(tokio::spawn(async move {
                w.call(move |s| {
                    let id = s.create_reading(&NewReading {
                        question: format!("Question number {i}: what does the year hold?"),
                        context: None,
                        method: "manual".into(),
                        lines: [7, 8, 7, 7, 8, 8],
                        seed: None,
                        primary: 55,
                        resulting: None,
                        sections_planned: 1,
                        provider: "offline".into(),
                        model: "legge-1882".into(),
                    })?;
                    let meta = SectionFigures {
                        section_id: 1,
                        status: SectionStatus::Complete,
                        attempts: 1,
                        started_ms: Some(0),
                        finished_ms: 1,
                        latency_ms: 1,
                        ttft_ms: Some(1),
                        prompt_tokens: Some(1000),
                        completion_tokens: Some(200),
                        usage: Some(UsageSource::Estimated),
                        model: Some("legge-1882".into()),
                        updated_at: 0,
                        reasoning_tokens: None,
                        cached_tokens: None,
                        failed_prompt_tokens: None,
                        failed_completion_tokens: None,
                        error_kind: None,
                    };
                    let text = PartText {
                        request: "[]".into(),
                        response: Some("{\"response\": [\"<p>ok</p>\"]}".into()),
                        paragraphs: Some("[{\"spans\":[{\"text\":\"ok\"}]}]".into()),
                        error: None,
                    };
                    s.save_parts(id, &[(&meta, &text)])?;
                    s.finish(id, &[1], false)
                })
                .await
            }));
            if batch.len() == 1000 {
                for t in batch.drain(..) {
                    t.await.unwrap().expect("store a reading");
                }
            }
        }
        for t in batch {
            t.await.unwrap().expect("store a reading");
        }
    });
    drop(writer);
    thread.join();
    println!(
        "added {} readings to {}",
        args.readings,
        args.home.display()
    );
}
