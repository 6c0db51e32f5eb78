//! Every screen in its main states, drawn at 80x24 and at 160x48.

use crossterm::event::KeyCode;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use super::*;
use crate::config::Price;
use crate::plan::Section;
use crate::report::{ReadingStatus, SectionStatus};
use crate::tui::app::Screen;

/// Draws the app `make` builds at both sizes and checks both snapshots.
fn both(name: &str, make: impl Fn((u16, u16)) -> App) {
    for size in [NARROW, WIDE] {
        let app = make(size);
        insta::assert_snapshot!(format!("{name}_{}x{}", size.0, size.1), draw(&app));
    }
}

/// Draws the app `make` builds at the smallest size, 80x24 and 200x60, and checks the three
/// snapshots (the book, and every screen whose columns and wordings give way with the width).
fn three(name: &str, make: impl Fn((u16, u16)) -> App) {
    for size in [(60, 16), NARROW, (200, 60)] {
        let app = make(size);
        insta::assert_snapshot!(format!("{name}_{}x{}", size.0, size.1), draw(&app));
    }
}

#[test]
fn ask_empty() {
    both("ask_empty", app);
}

#[test]
fn ask_typed_with_yarrow() {
    both("ask_typed", |size| {
        let mut a = app(size);
        type_text(
            &mut a,
            "Will the harvest be good this year, and should I plant early?",
        );
        a.update(ctrl('t'));
        a
    });
}

#[test]
fn ask_empty_question_is_refused_in_place() {
    both("ask_error_empty", |size| {
        let mut a = app(size);
        type_text(&mut a, "   ");
        a.update(key(KeyCode::Enter));
        a
    });
}

#[test]
fn ask_too_long_question_is_refused_in_place() {
    both("ask_error_too_long", |size| {
        let mut a = app(size);
        // Pasted to the limit, then typed past it: refused when cast, in place. (A paste past
        // the limit is refused at once: `update::an_empty_or_long_question_is_refused_with_a_reason`.)
        a.update(Msg::Paste("why ".repeat(500)));
        type_text(&mut a, "?");
        a.update(key(KeyCode::Enter));
        a
    });
}

#[test]
fn cast_coins_halfway_and_done() {
    three("cast_coins_halfway", |size| {
        let mut a = app(size);
        type_text(&mut a, QUESTION);
        a.update(key(KeyCode::Enter));
        at(&mut a, 500);
        a
    });
    three("cast_coins_done", |size| {
        let mut a = app(size);
        type_text(&mut a, QUESTION);
        a.update(key(KeyCode::Enter));
        at(&mut a, 1300);
        a
    });
}

#[test]
fn cast_yarrow_shows_the_stalks() {
    three("cast_yarrow_done", |size| {
        let mut a = app(size);
        type_text(&mut a, QUESTION);
        a.update(ctrl('t'));
        a.update(key(KeyCode::Enter));
        at(&mut a, 1300);
        a
    });
}

#[test]
fn cast_manual_entry() {
    three("cast_manual_entry", |size| {
        let mut a = app(size);
        type_text(&mut a, QUESTION);
        a.update(ctrl('t'));
        a.update(ctrl('t'));
        a.update(key(KeyCode::Enter));
        type_text(&mut a, "98x");
        a
    });
}

#[test]
fn cast_manual_six_values_in() {
    three("cast_manual_six", |size| {
        let mut a = app(size);
        type_text(&mut a, QUESTION);
        a.update(ctrl('t'));
        a.update(ctrl('t'));
        a.update(key(KeyCode::Enter));
        type_text(&mut a, "987768");
        a
    });
}

#[test]
fn live_cancel_asks_first() {
    three("live_confirm_cancel", |size| {
        let mut a = mid_flight(size);
        a.update(key(KeyCode::Char('c')));
        a
    });
}

#[test]
fn live_empty() {
    three("live_empty", |size| {
        let mut a = app(size);
        a.update(key(KeyCode::F(3)));
        a
    });
}

#[test]
fn live_mid_flight_with_every_kind_of_card() {
    three("live_mid_flight", mid_flight);
}

#[test]
fn live_complete() {
    three("live_complete", |size| {
        let mut a = mid_flight(size);
        let r = reading();
        let run = a.live.as_ref().unwrap().run;
        for s in plan(&r) {
            send(&mut a, run, s, EventKind::Finished(Box::new(done(&r, s))));
        }
        at(&mut a, 3400);
        a.update(Msg::RunEnded {
            run,
            result: Ok(false),
        });
        a
    });
}

/// A reading the classic text answered: whose text it is, where a model's figures would be.
#[test]
fn live_classic_text() {
    three("live_classic", |size| {
        let mut a = app(size);
        let run = cast_manual(&mut a);
        a.update(Msg::Saved {
            run,
            id: ReadingId(7),
        });
        let r = reading();
        let sections = plan(&r);
        for &s in &sections {
            send(&mut a, run, s, EventKind::Queued);
        }
        at(&mut a, 100);
        // All but the last two answered; one of those streaming.
        for &s in &sections[..sections.len() - 2] {
            send(&mut a, run, s, EventKind::Started);
            send(
                &mut a,
                run,
                s,
                EventKind::Finished(Box::new(classic_done(&r, s))),
            );
        }
        let streaming = sections[sections.len() - 2];
        send(&mut a, run, streaming, EventKind::Started);
        send(
            &mut a,
            run,
            streaming,
            EventKind::Delta(answer(&r, streaming)[..120].to_owned()),
        );
        at(&mut a, 140);
        let screen = draw(&a);
        assert!(
            screen.contains("Legge's text") && !screen.contains("tok"),
            "{screen}"
        );
        a
    });
}

#[test]
fn stats_of_the_classic_text() {
    three("stats_classic", |size| {
        let mut a = app(size);
        a.stats.loading = Some(ReadingId(7));
        a.screen = Screen::Stats;
        let r = reading();
        let mut report = complete_report();
        for (kept, s) in report.sections.iter_mut().zip(plan(&r)) {
            kept.finish(&classic_done(&r, s));
        }
        a.update(stats_loaded(report, &crate::config::Prices::default()));
        let screen = draw(&a);
        assert!(
            screen.contains("Legge's text") && !screen.contains("tok/s") && !screen.contains('$'),
            "{screen}"
        );
        a
    });
}

#[test]
fn live_partial_with_an_error_on_the_status_line() {
    three("live_partial_error", |size| {
        let mut a = mid_flight(size);
        let r = reading();
        let run = a.live.as_ref().unwrap().run;
        for s in plan(&r) {
            if s != Section::ChangingLine(1) {
                send(&mut a, run, s, EventKind::Finished(Box::new(done(&r, s))));
            }
        }
        a.update(Msg::RunEnded {
            run,
            result: Ok(false),
        });
        a.update(Msg::Exported {
            id: ReadingId(7),
            result: Err(crate::store::StoreError::Database {
                path: "/home/me/.local/share/iching/iching.db".into(),
                reason: "disk I/O error".into(),
            }
            .into()),
        });
        a
    });
}

#[test]
fn live_cancelled() {
    three("live_cancelled", |size| {
        let mut a = mid_flight(size);
        let run = a.live.as_ref().unwrap().run;
        a.update(key(KeyCode::Char('c')));
        a.update(key(KeyCode::Char('y')));
        a.update(Msg::RunEnded {
            run,
            result: Ok(true),
        });
        a
    });
}

fn reading_open(size: (u16, u16)) -> App {
    let mut a = app(size);
    a.reading.loading = Some(ReadingId(7));
    a.screen = Screen::Reading;
    a.update(loaded(complete_report()));
    a
}

#[test]
fn reading_top() {
    both("reading_top", reading_open);
}

#[test]
fn reading_at_a_section_and_at_the_classic_text() {
    both("reading_section", |size| {
        let mut a = reading_open(size);
        a.update(key(KeyCode::Char('5')));
        a
    });
    both("reading_legge", |size| {
        let mut a = reading_open(size);
        a.update(key(KeyCode::Char('t')));
        a
    });
}

#[test]
fn c_shows_the_original_of_the_section_in_view() {
    three("reading_chinese_judgment", |size| {
        let mut a = reading_open(size);
        a.update(key(KeyCode::Char('3')));
        a.update(key(KeyCode::Char('c')));
        a
    });
}

#[test]
fn reading_loading_and_none() {
    both("reading_loading", |size| {
        let mut a = app(size);
        a.reading.loading = Some(ReadingId(3));
        a.screen = Screen::Reading;
        a
    });
}

#[test]
fn reading_with_failed_and_cancelled_sections() {
    both("reading_partial", |size| {
        let mut a = app(size);
        let mut report = complete_report();
        report.sections[1].status = SectionStatus::Failed;
        report.sections[1].error = Some("timed out after 4 attempts".into());
        report.sections[1].error_kind = Some(crate::model::ErrorKind::Timeout);
        report.sections[1].paragraphs.clear();
        report.sections[2].status = SectionStatus::Cancelled;
        report.sections[2].paragraphs.clear();
        report.status = ReadingStatus::Partial;
        a.reading.loading = Some(ReadingId(7));
        a.screen = Screen::Reading;
        a.update(loaded(report));
        a.update(key(KeyCode::Char('2')));
        a
    });
}

fn history(size: (u16, u16)) -> App {
    let mut a = app(size);
    a.update(key(KeyCode::F(4)));
    a.update(Msg::History(Ok(history_rows())));
    a
}

#[test]
fn history_states() {
    three("history_loading", |size| {
        let mut a = app(size);
        a.update(key(KeyCode::F(4)));
        a
    });
    three("history_empty", |size| {
        let mut a = app(size);
        a.update(key(KeyCode::F(4)));
        a.update(Msg::History(Ok(Vec::new())));
        a
    });
    three("history_rows", history);
    three("history_filtered", |size| {
        let mut a = history(size);
        a.update(key(KeyCode::Char('/')));
        type_text(&mut a, "harvest");
        a
    });
    three("history_offline", |size| {
        let mut a = app(size);
        a.update(key(KeyCode::F(4)));
        let mut rows = history_rows();
        for r in &mut rows {
            r.cost = None;
        }
        a.update(Msg::History(Ok(rows)));
        a
    });
    // Readings 4 and 2 answered by the classic text (with the estimated counts older versions
    // stored): Legge's, with no tokens or cost, beside a model's.
    three("history_classic", |size| {
        let mut a = app(size);
        a.update(key(KeyCode::F(4)));
        let mut rows = history_rows();
        for r in rows.iter_mut().filter(|r| r.listed.row.id.0 % 2 == 0) {
            r.listed.row.provider = "offline".into();
            r.listed.row.model = crate::service::OFFLINE_MODEL.into();
            r.cost = Some(0.0);
            r.classic = true;
        }
        a.update(Msg::History(Ok(rows)));
        let screen = draw(&a);
        assert!(
            !screen.contains("$0.0000") && !screen.contains("7,120"),
            "{screen}"
        );
        if size.0 >= 200 {
            assert_eq!(screen.matches(" Legge").count(), 2, "{screen}");
        }
        a
    });
    three("history_no_match", |size| {
        let mut a = history(size);
        a.update(key(KeyCode::Char('/')));
        type_text(&mut a, "zzzz");
        a.update(key(KeyCode::Enter));
        a
    });
    three("history_confirm_delete", |size| {
        let mut a = history(size);
        a.update(key(KeyCode::Down));
        a.update(key(KeyCode::Char('d')));
        a
    });
    three("history_exported", |size| {
        let mut a = history(size);
        a.update(key(KeyCode::Char('m')));
        a.update(Msg::Exported {
            id: ReadingId(5),
            result: Ok("/home/me/Documents/iching readings/2026/iching-5-2.md".into()),
        });
        a
    });
}

#[test]
fn stats_of_a_reading_with_prices() {
    three("stats", |size| {
        let mut a = app(size);
        let mut prices = crate::config::Prices::default();
        prices.0.insert(
            "gpt-4o-mini".into(),
            Price {
                prompt_per_million: 0.15,
                completion_per_million: 0.6,
                cached_prompt_per_million: None,
            },
        );
        a.stats.loading = Some(ReadingId(7));
        a.screen = Screen::Stats;
        let mut report = complete_report();
        report.sections[3].status = SectionStatus::Failed;
        report.sections[3].completion_tokens = None;
        report.sections[3].prompt_tokens = None;
        report.sections[3].total_tokens = None;
        report.sections[3].tokens_per_sec = None;
        report.sections[3].model = None;
        report.sections[3].attempts = 4;
        a.update(stats_loaded(report, &prices));
        a
    });
}

#[test]
fn stats_of_a_reasoning_model_with_a_prompt_cache() {
    three("stats_cached", |size| {
        let mut a = app(size);
        let mut prices = crate::config::Prices::default();
        prices.0.insert(
            "gpt-4o-mini".into(),
            Price {
                prompt_per_million: 0.25,
                completion_per_million: 2.0,
                cached_prompt_per_million: Some(0.025),
            },
        );
        a.stats.loading = Some(ReadingId(7));
        a.screen = Screen::Stats;
        let mut report = complete_report();
        for (i, s) in report.sections.iter_mut().enumerate() {
            // The first section warmed the cache; the rest found the reading's JSON in it.
            s.cached_tokens = Some(if i == 0 { 0 } else { 1152 });
            s.reasoning_tokens = Some(64 + 16 * u32::try_from(i).unwrap());
        }
        a.update(stats_loaded(report, &prices));
        a
    });
}

#[test]
fn help_over_each_screen() {
    three("help_live", |size| {
        let mut a = mid_flight(size);
        a.update(key(KeyCode::Char('?')));
        a
    });
    three("help_history_scrolled", |size| {
        let mut a = history(size);
        a.update(key(KeyCode::Char('?')));
        a.update(key(KeyCode::PageDown));
        a
    });
    three("help_ask", |size| {
        let mut a = app(size);
        a.update(key(KeyCode::F(1)));
        a
    });
    three("help_reading", |size| {
        let mut a = reading_open(size);
        a.update(key(KeyCode::Char('?')));
        a
    });
}

#[test]
fn a_small_terminal_gets_a_notice_not_a_panic() {
    for (w, h) in [(59, 24), (80, 15), (20, 5), (1, 1), (0, 0)] {
        let mut a = mid_flight((w.max(1), h.max(1)));
        a.update(Msg::Resize(w, h));
        let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
        terminal.draw(|f| crate::tui::view::draw(&a, f)).unwrap();
        if w == 0 || h == 0 {
            continue;
        }
        let shown = terminal.backend().to_string();
        if w >= 40 && h >= 3 {
            assert!(shown.contains("too small"), "{w}x{h}:\n{shown}");
        }
    }
    let a = mid_flight((50, 12));
    insta::assert_snapshot!("too_small_50x12", draw(&a));
}

#[test]
fn every_screen_draws_at_every_size_without_panicking() {
    for w in (56..=220).step_by(23) {
        for h in (14..=64).step_by(10) {
            for make in [
                mid_flight,
                reading_open,
                history,
                app,
                library_page,
                library_linked,
            ] {
                let a = make((w, h));
                draw(&a);
            }
        }
    }
}

#[test]
fn provider_picker() {
    three("provider_picker", |size| {
        let mut a = app(size);
        a.update(Msg::Key(KeyEvent::new(KeyCode::F(7), KeyModifiers::NONE)));
        a.update(Msg::Key(KeyEvent::new(KeyCode::Up, KeyModifiers::NONE)));
        a.update(Msg::Key(KeyEvent::new(KeyCode::Up, KeyModifiers::NONE)));
        a.update(Msg::Key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE)));
        a.update(Msg::Models {
            provider: "ollama".into(),
            result: Ok(vec![
                "llama3.2".into(),
                "qwen2.5:3b".into(),
                "qwen2.5:7b".into(),
            ]),
        });
        a.update(Msg::Key(KeyEvent::new(
            KeyCode::Char('d'),
            KeyModifiers::CONTROL,
        )));
        a.update(Msg::Doctor {
            provider: "ollama".into(),
            lines: vec![
                (
                    true,
                    "reachable: http://localhost:11434/v1 answered in 3 ms".into(),
                    None,
                ),
                (
                    false,
                    "model: llama3.2 is not among the 3 models offered".into(),
                    Some("pick one from the list".into()),
                ),
            ],
        });
        a
    });
}

#[test]
fn provider_box_lists_each_provider_with_its_address_and_key() {
    three("provider_box", |size| {
        let mut a = app(size);
        a.update(key(KeyCode::F(7)));
        // Up to openai (offline, llamacpp, ollama, openai): its key is not set.
        for _ in 0..3 {
            a.update(key(KeyCode::Up));
        }
        a.update(key(KeyCode::Char('d')));
        a.update(Msg::Doctor {
            provider: "openai".into(),
            lines: vec![(
                false,
                "key: the openai provider needs an API key and OPENAI_API_KEY is not set".into(),
                Some(crate::tui::strings::msg::KEY_FIX.into()),
            )],
        });
        a
    });
}

#[test]
fn provider_box_pasting_a_key_shows_no_character_of_it() {
    three("provider_box_key", |size| {
        let mut a = app(size);
        a.update(key(KeyCode::F(7)));
        for _ in 0..3 {
            a.update(key(KeyCode::Up));
        }
        a.update(key(KeyCode::Char('p')));
        a.update(Msg::Paste("sk-proj-SECRET123".into()));
        let screen = draw(&a);
        assert!(!screen.contains("SECRET"), "{screen}");
        assert!(!screen.contains("sk-"), "{screen}");
        a
    });
}

#[test]
fn provider_box_chooses_the_answer_language() {
    three("provider_box_language", |size| {
        let mut a = app(size);
        a.update(key(KeyCode::F(7)));
        a.update(key(KeyCode::Char('l')));
        type_text(&mut a, "an");
        a.update(key(KeyCode::Down));
        a
    });
}

#[test]
fn ask_offline_says_how_to_reach_a_model() {
    three("ask_offline", app);
}

#[test]
fn note_editor_over_a_reading() {
    both("note_editor", |size| {
        let mut a = reading_open(size);
        a.update(key(KeyCode::Char('n')));
        type_text(&mut a, "The garden waits; so can I.");
        a
    });
}

fn library(size: (u16, u16)) -> App {
    let mut a = app(size);
    a.update(key(KeyCode::F(5)));
    a
}

fn library_page(size: (u16, u16)) -> App {
    let mut a = library(size);
    type_text(&mut a, "34");
    a.update(key(KeyCode::Enter));
    a
}

fn library_linked(size: (u16, u16)) -> App {
    let mut a = reading_open(size);
    a.update(key(KeyCode::Char('o')));
    a.update(key(KeyCode::Char('o')));
    a
}

#[test]
fn library_list_search_and_no_match() {
    three("library_list", library);
    three("library_found", |size| {
        let mut a = library(size);
        type_text(&mut a, "thunder");
        a.update(key(KeyCode::Down));
        a
    });
    // Wilhelm/Baynes' title finds its hexagram; the list's header labels the trigrams above
    // and below and says the Chinese is simplified.
    three("library_found_wilhelm", |size| {
        let mut a = library(size);
        type_text(&mut a, "inner truth");
        a
    });
    three("library_no_match", |size| {
        let mut a = library(size);
        type_text(&mut a, "zzz");
        a
    });
}

#[test]
fn library_pages() {
    three("library_page", library_page);
    three("library_page_lines", |size| {
        let mut a = library_page(size);
        for _ in 0..3 {
            a.update(key(KeyCode::PageDown));
        }
        a
    });
    // Hexagram 1 at its end: the use of the nines.
    three("library_page_qian_end", |size| {
        let mut a = library(size);
        type_text(&mut a, "1");
        a.update(key(KeyCode::Enter));
        a.update(key(KeyCode::End));
        a
    });
    // Opened from a reading, turned once with o: its resulting hexagram.
    three("library_from_reading", library_linked);
    three("help_library", |size| {
        let mut a = library(size);
        a.update(key(KeyCode::F(1)));
        a
    });
}

#[test]
fn follow_up_editor_streaming_and_saved() {
    both("followup_editor", |size| {
        let mut a = reading_open(size);
        a.update(key(KeyCode::Char('f')));
        type_text(&mut a, "What does the third line ask of me?");
        a
    });
    three("followup_streaming", |size| {
        let mut a = reading_open(size);
        a.update(key(KeyCode::Char('f')));
        type_text(&mut a, "What does the third line ask of me?");
        let fx = a.update(key(KeyCode::Enter));
        let [Effect::Ask { run, .. }] = fx.as_slice() else {
            panic!("{fx:?}")
        };
        a.update(Msg::Followup {
            run: *run,
            event: SectionEvent {
                reading: Some(ReadingId(7)),
                section: Section::SynthesisAndGuidance,
                kind: EventKind::Delta(
                    r#"{"response":["<p>The third line stands at the top of the lower trigram.</p>","<p>It asks you to"#.into(),
                ),
            },
        });
        a
    });
}

#[test]
fn journal_view_and_a_note_being_edited() {
    let with_notes = |size| {
        let mut a = app(size);
        a.reading.loading = Some(ReadingId(7));
        a.screen = Screen::Reading;
        let mut report = complete_report();
        for (id, kind, text) in [
            (
                3,
                "note",
                "The garden waits; so can I. Planting in spring, not now.",
            ),
            (4, "outcome", "We moved in May. It went well."),
        ] {
            report.notes.push(crate::report::NoteReport {
                number: id,
                at: crate::when::Stamp::parse("2026-03-02T10:00:00Z").unwrap(),
                kind: crate::model::NoteKind::parse(kind).unwrap(),
                text: text.into(),
            });
        }
        a.update(loaded(report));
        a.update(key(KeyCode::Char('e')));
        a
    };
    three("journal_view", with_notes);
    both("journal_edit", |size| {
        let mut a = with_notes(size);
        a.update(key(KeyCode::Enter));
        a
    });
}

#[test]
fn the_classical_chinese_toggled_on() {
    // `c` on a page: the original under Legge's judgment and lines (wrapped two columns to a
    // character), and at the end the Xugua, Zagua and, for 1 and 2, the Wenyan.
    let qian = |size| {
        let mut a = library(size);
        type_text(&mut a, "1");
        a.update(key(KeyCode::Enter));
        a.update(key(KeyCode::Char('c')));
        a
    };
    both("library_page_chinese", |size| {
        let mut a = qian(size);
        a.update(key(KeyCode::PageDown));
        a
    });
    // Hexagram 1 further down: its use of the nines and the Wenyan.
    both("library_page_chinese_wenyan", |size| {
        let mut a = qian(size);
        for _ in 0..3 {
            a.update(key(KeyCode::PageDown));
        }
        a
    });
    // 55 at its end: the Xugua and Zagua.
    both("library_page_chinese_wings", |size| {
        let mut a = library(size);
        type_text(&mut a, "55");
        a.update(key(KeyCode::Enter));
        a.update(key(KeyCode::Char('c')));
        a.update(key(KeyCode::End));
        a
    });
    // On the Reading screen, `c` puts it under the classic's text that `t` turns to.
    both("reading_legge_chinese", |size| {
        let mut a = reading_open(size);
        a.update(key(KeyCode::Char('t')));
        a.update(key(KeyCode::Char('c')));
        a
    });
}

#[test]
fn stats_count_the_follow_ups_below_the_table() {
    three("stats_followups", |size| {
        let mut a = app(size);
        a.stats.loading = Some(ReadingId(7));
        a.screen = Screen::Stats;
        let mut report = complete_report();
        for (id, tokens) in [(1, 3_000), (2, 3_140)] {
            let raw = r#"{"response":["<p>An answer.</p>"]}"#;
            report.followups.push(crate::report::FollowupReport {
                number: id,
                asked_at: crate::when::Stamp::parse("2026-03-01T10:00:00Z").unwrap(),
                question: "Why?".into(),
                answer: "An answer.".into(),
                paragraphs: parse_response(raw),
                usage: Usage::estimated(tokens - 100, 100),
                latency_ms: 2_100,
                ttft_ms: Some(300),
                provider: "openai".into(),
                model: "gpt-4o-mini".into(),
                sections_left_out: 0,
            });
        }
        let mut prices = crate::config::Prices::default();
        prices.0.insert(
            "gpt-4o-mini".into(),
            Price {
                prompt_per_million: 0.15,
                completion_per_million: 0.6,
                cached_prompt_per_million: None,
            },
        );
        a.update(stats_loaded(report, &prices));
        let screen = draw(&a);
        // 5,940 prompt tokens at $0.15 and 200 completion tokens at $0.60 a million ($0.0010,
        // cut short at 60 columns).
        let cost = if size.0 < 80 { "$0.0…" } else { "$0.0010" };
        assert!(
            screen.contains(&format!(
                "Follow-up questions: 2 · 6,140 tokens · 2.1 s each · {cost}"
            )),
            "{screen}"
        );
        a
    });
}
