//! Micro-benchmarks of the hot paths: sealing and opening (1 KiB, 16 KiB), parsing a section
//! response, counting tokens (a request, a streamed delta, and loading the table), building a
//! reading's requests and checking an answer, drawing the live grid of 15 cards, and storing a
//! finished section.
//! `cargo bench --bench core [FILTER]` (only the benchmarks whose name contains FILTER).
//!
//! The harness is the few lines at the bottom rather than criterion: the same median-of-samples
//! figures, without a dependency tree that every `cargo test` would build (dev-dependencies are
//! built for the tests too).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test or tool fails by panicking"
)]

use std::hint::black_box;

use std::time::{Duration, Instant};

use iching::answer::parse_response;
use iching::crypto::{Keys, MasterKey, Sealed};
use iching::model::ReadingId;
use iching::report::SectionStatus;
use iching::store::{NewReading, PartText, SectionFigures, Store, Unlock};
use iching::tui::app::App;

fn sealing(b: &Bench) {
    let keys = Keys::derive(&MasterKey::generate());
    for size in [1024usize, 16 * 1024] {
        let plaintext = vec![b'x'; size];
        b.run(&format!("seal/seal/{size}"), Some(size), || {
            keys.seal(b"part:1:4:response", black_box(&plaintext))
        });
        let sealed: Sealed = keys.seal(b"part:1:4:response", &plaintext);
        b.run(&format!("seal/open/{size}"), Some(size), || {
            keys.open(b"part:1:4:response", black_box(&sealed)).unwrap()
        });
    }
}

/// A typical model answer: three paragraphs with bold and italic, ~250 words, in a code fence.
fn answer() -> String {
    let p = "<p>The <b>thunder</b> above and the <em>fire</em> below: abundance is a noon that \
             passes. Act while the light is full, decide what must be decided, and do not grieve \
             for the afternoon; the superior man settles cases with exactness &amp; care.</p>";
    format!(
        "```json\n{{\"response\": [\"{p}\", \"{p}\", \"{p}\", \"{p}\"]}}\n```",
        p = p.replace('"', "\\\"")
    )
}

/// An answer as a section gets it: four paragraphs of different prose, ~270 words.
fn prose_answer() -> String {
    let paragraphs = [
        "<p>The <b>thunder</b> above and the <em>fire</em> below: abundance is a noon that \
         passes. Act while the light is full, decide what must be decided, and do not grieve for \
         the afternoon that follows.</p>",
        "<p>Your question about the year ahead meets a time of fullness. Plans that were slow \
         now find their helpers; the people around you are ready to follow a clear lead, and a \
         clear lead is what this hour asks of you, more than caution or more study.</p>",
        "<p>The changing line in the second place warns that brightness draws envy. Keep your \
         sincerity visible, work without display, and let results speak; suspicion fades when \
         it meets steady conduct rather than argument or a show of strength.</p>",
        "<p>Later in the year the light turns, as every noon turns to evening. Store what this \
         season gives you: savings, trust, health and friendships. What you build now in \
         quietness will carry you through the leaner months that come after it.</p>",
    ];
    serde_json::json!({ "response": paragraphs }).to_string()
}

fn parsing(b: &Bench) {
    let text = answer();
    b.run("parse_response (4 paragraphs, fenced)", None, || {
        parse_response(black_box(&text))
    });
}

/// Token estimates run on a request before it is sent under a tokens-per-minute budget, on a
/// model's answer when its server reports no usage, and on the follow-up budget.
fn counting(b: &Bench) {
    use iching::llm::tokens::count;
    let request = answer().repeat(4);
    b.run(
        &format!("count tokens, a request ({} bytes)", request.len()),
        Some(request.len()),
        || count(black_box(&request)),
    );
    b.run("count tokens, a streamed delta", None, || {
        count(black_box(" the <b>thunder</b> above"))
    });
}

/// A reading's requests, one per planned section, as `Engine::requests` builds them (messages
/// and their JSON); and the check every answer passes before it is kept.
fn requesting(b: &Bench) {
    use iching::answer::quality;
    use iching::llm::SectionRequest;
    use iching::model::Query;
    use iching::oracle::{Cast, LineValue, Reading};
    use iching::plan::{Prompts, ReadingData, messages_with, plan};
    use std::sync::Arc;

    let lines = [7, 8, 9, 6, 7, 9].map(|v| LineValue::new(v).unwrap());
    let reading = Arc::new(Reading::new(Cast::manual(lines)));
    let query = Arc::new(Query::new("How should I approach the year ahead?"));
    let prompts = Prompts::default();
    let sections = plan(&reading);
    let build = || {
        let data = ReadingData::new(&prompts, &reading, &query, None);
        sections
            .iter()
            .map(|&s| {
                SectionRequest::built(
                    reading.clone(),
                    query.clone(),
                    s,
                    messages_with(&prompts, &reading, &data, s),
                    1024,
                )
            })
            .collect::<Vec<_>>()
    };
    b.run(
        &format!("build a reading's requests ({} sections)", sections.len()),
        None,
        build,
    );
    let requests = build();
    let request = requests[1].messages_json().get().to_owned();
    let text = prose_answer();
    b.run(
        &format!("check an answer (request of {} bytes)", request.len()),
        None,
        || quality::check(black_box(&text), &query.question, &request).unwrap(),
    );
}

fn storing(b: &Bench) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), Unlock::default()).unwrap();
    let id = store
        .create_reading(&NewReading {
            question: "How should I approach the year ahead?".into(),
            context: None,
            method: "manual".into(),
            lines: [9, 6, 9, 6, 9, 6],
            seed: None,
            primary: 63,
            resulting: Some(64),
            sections_planned: 15,
            provider: "openai".into(),
            model: "bench".into(),
        })
        .unwrap();
    let paragraphs = serde_json::to_string(&parse_response(&answer())).unwrap();
    let text = PartText {
        request: "x".repeat(5_000),
        response: Some(answer()),
        paragraphs: Some(paragraphs),
        error: None,
    };
    let mut section = 0u8;
    b.run(
        "store a finished section (seal 3 blobs + upsert)",
        None,
        || {
            section = section % 15 + 1;
            let meta = SectionFigures {
                section_id: section,
                status: SectionStatus::Complete,
                attempts: 1,
                started_ms: Some(0),
                finished_ms: 100,
                latency_ms: 100,
                ttft_ms: Some(20),
                prompt_tokens: Some(1300),
                completion_tokens: Some(300),
                usage: Some(iching::events::UsageSource::Reported),
                model: Some("bench".into()),
                updated_at: 0,
                reasoning_tokens: None,
                cached_tokens: None,
                failed_prompt_tokens: None,
                failed_completion_tokens: None,
                error_kind: None,
            };
            store.save_parts(id, &[(&meta, &text)]).unwrap();
        },
    );
}

/// A live grid of 15 cards in every state, as the TUI holds it mid-flight.
fn live_grid(size: (u16, u16)) -> App {
    use std::time::Duration;

    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    use iching::events::{EventKind, SectionDone, SectionEvent, Usage};
    use iching::llm::ProviderInfo;
    use iching::oracle::{Cast, Reading};
    use iching::plan::plan;
    use iching::tui::app::{Effect, Msg, Options, ProviderLine};

    let info = ProviderInfo {
        kind: iching::llm::ProviderKind::OpenAi,
        model: "gpt-4o-mini".into(),
        endpoint: "http://127.0.0.1/v1".into(),
    };
    let mut app = App::new(Options {
        provider: ProviderLine::new(&info, None),
        seed: 1,
        size,
        colour: true,
        providers: Vec::new(),
        language: None,
        read_only: None,
    });
    let key = |c| Msg::Key(KeyEvent::new(c, KeyModifiers::NONE));
    for c in "How should I approach the year ahead?".chars() {
        app.update(key(KeyCode::Char(c)));
    }
    // Ctrl-T twice: coins, yarrow, manual.
    let ctrl_t = || Msg::Key(KeyEvent::new(KeyCode::Char('t'), KeyModifiers::CONTROL));
    app.update(ctrl_t());
    app.update(ctrl_t());
    app.update(key(KeyCode::Enter));
    for c in "969696".chars() {
        app.update(key(KeyCode::Char(c)));
    }
    let run = match app.update(key(KeyCode::Enter)).as_slice() {
        [Effect::Start { run, .. }] => *run,
        other => panic!("expected a start, got {other:?}"),
    };
    app.update(Msg::Saved {
        run,
        id: ReadingId(1),
    });
    let reading = Reading::new(Cast::manual(Cast::parse_lines("9,6,9,6,9,6").unwrap()));
    let send = |app: &mut App, section, kind| {
        app.update(Msg::Section {
            run,
            event: SectionEvent {
                reading: Some(ReadingId(1)),
                section,
                kind,
            },
        });
    };
    for (i, section) in plan(&reading).into_iter().enumerate() {
        send(&mut app, section, EventKind::Queued);
        if i % 3 == 0 {
            continue;
        }
        send(&mut app, section, EventKind::Started);
        send(
            &mut app,
            section,
            EventKind::Delta(
                "{\"response\": [\"<p>The <b>thunder</b> above and the fire below".into(),
            ),
        );
        if i % 3 == 1 {
            let raw = r#"{"response": ["<p>Abundance is a noon that passes.</p>"]}"#.to_owned();
            send(
                &mut app,
                section,
                EventKind::Finished(Box::new(SectionDone {
                    paragraphs: parse_response(&raw),
                    raw,
                    usage: Usage::reported(1300, 300),
                    latency: Duration::from_millis(1500),
                    ttft: Some(Duration::from_millis(300)),
                    model: "gpt-4o-mini".into(),
                    attempts: 1,
                    failed_usage: None,
                })),
            );
        }
    }
    app.update(Msg::Tick(Duration::from_millis(900)));
    app
}

fn drawing(b: &Bench) {
    use ratatui::{Terminal, backend::TestBackend};
    for size in [(80u16, 24u16), (200, 60)] {
        let app = live_grid(size);
        let mut terminal = Terminal::new(TestBackend::new(size.0, size.1)).unwrap();
        b.run(
            &format!("draw the live grid, 15 cards, {}x{}", size.0, size.1),
            None,
            || {
                terminal
                    .draw(|f| iching::tui::view::draw(black_box(&app), f))
                    .unwrap();
            },
        );
    }
}

fn main() {
    // `cargo bench` passes `--bench`; any other argument is a filter on the names.
    let filter = std::env::args().skip(1).find(|a| !a.starts_with("--"));
    let b = Bench { filter };
    println!(
        "{:<52} {:>11} {:>25} {:>11}",
        "benchmark", "median", "fastest .. slowest sample", "throughput"
    );
    sealing(&b);
    parsing(&b);
    counting(&b);
    requesting(&b);
    drawing(&b);
    storing(&b);
}

/// The harness: after a warm-up of about half a second, 30 samples, each a batch of calls sized
/// to take about 20 ms; the time per call of the median sample, of the fastest and the slowest.
struct Bench {
    filter: Option<String>,
}

impl Bench {
    /// Whether `name` passes the command line's filter.
    fn wants(&self, name: &str) -> bool {
        self.filter
            .as_ref()
            .is_none_or(|w| name.contains(w.as_str()))
    }

    /// Times `f` under `name` and prints one row; `bytes` per call gives a throughput.
    fn run<T>(&self, name: &str, bytes: Option<usize>, mut f: impl FnMut() -> T) {
        if !self.wants(name) {
            return;
        }
        // Warm up and find how many calls take about 20 ms.
        let start = Instant::now();
        let mut calls = 0u64;
        while start.elapsed() < Duration::from_millis(500) {
            black_box(f());
            calls += 1;
        }
        let per_call = start.elapsed().as_secs_f64() / calls as f64;
        let batch = ((0.02 / per_call) as u64).max(1);
        let mut samples: Vec<f64> = (0..30)
            .map(|_| {
                let t = Instant::now();
                for _ in 0..batch {
                    black_box(f());
                }
                t.elapsed().as_secs_f64() / batch as f64
            })
            .collect();
        samples.sort_by(f64::total_cmp);
        let median = samples[samples.len() / 2];
        let throughput = bytes.map_or_else(String::new, |n| {
            format!("{:.0} MiB/s", n as f64 / median / (1024.0 * 1024.0))
        });
        println!(
            "{name:<52} {:>11} {:>25} {throughput:>11}",
            time(median),
            format!(
                "{} .. {}",
                time(samples[0]),
                time(samples[samples.len() - 1])
            )
        );
    }
}

/// Seconds as ns, µs or ms with three significant figures.
fn time(s: f64) -> String {
    if s < 1e-6 {
        format!("{:.1} ns", s * 1e9)
    } else if s < 1e-3 {
        format!("{:.2} µs", s * 1e6)
    } else {
        format!("{:.2} ms", s * 1e3)
    }
}
