//! `App::update`: keys, event folding and the effects asked for, with no terminal and no clock.

use std::time::Duration;

use crossterm::event::KeyCode;

use super::*;
use crate::oracle::Method;
use crate::plan::Section;
use crate::report::{ReadingStatus, SectionReport};
use crate::service::ServiceError;
use crate::tui::app::{ExportFormat, ProviderChoice, Screen};
use crate::tui::screens::cast::{HOLD, LINE_STEP};
use crate::tui::screens::live::Phase;
use crate::tui::screens::provider::Focus;

#[test]
fn key_releases_are_ignored() {
    let mut a = app(NARROW);
    a.take_dirty();
    assert!(a.update(release(KeyCode::Char('x'))).is_empty());
    assert!(a.update(release(KeyCode::Enter)).is_empty());
    assert_eq!(a.ask.text(), "");
    assert!(
        !a.take_dirty(),
        "a release changes nothing, so nothing is redrawn"
    );
    a.update(key(KeyCode::Char('x')));
    assert_eq!(a.ask.text(), "x");
    assert!(a.take_dirty());
}

#[test]
fn the_question_box_edits_like_a_text_field() {
    let mut a = app(NARROW);
    type_text(&mut a, "will it rain tomorrow");
    a.update(ctrl('w'));
    assert_eq!(a.ask.text(), "will it rain ");
    a.update(key(KeyCode::Home));
    type_text(&mut a, "so, ");
    assert_eq!(a.ask.text(), "so, will it rain ");
    a.update(key(KeyCode::End));
    a.update(key(KeyCode::Backspace));
    a.update(ctrl('u'));
    assert_eq!(a.ask.text(), "");
    a.update(ctrl('z'));
    assert_eq!(a.ask.text(), "so, will it rain");
    a.update(Msg::Paste("line one\nline two?".into()));
    assert_eq!(a.ask.text(), "so, will it rainline one line two?");
    // `?` and `q` are text here, not shortcuts.
    type_text(&mut a, "?q");
    assert!(the_help(&a).is_none() && !a.quit);
    assert!(a.ask.text().ends_with("??q"));
}

#[test]
fn an_empty_or_long_question_is_refused_with_a_reason() {
    let mut a = app(NARROW);
    assert!(a.update(key(KeyCode::Enter)).is_empty());
    assert!(a.ask.error.as_deref().unwrap().contains("empty"));
    assert_eq!(a.screen, Screen::Ask);
    type_text(&mut a, "x");
    assert_eq!(a.ask.error, None, "editing clears the message");
    // A paste that would pass the limit is refused at once, whole, saying so.
    a.update(Msg::Paste("y".repeat(2_001_004)));
    assert_eq!(a.ask.text(), "x");
    assert!(
        a.ask
            .error
            .as_deref()
            .unwrap()
            .contains("not pasted: limit 2000 characters (2001005 with it)"),
        "{:?}",
        a.ask.error
    );
    // One that fits goes in, cleaned as it will be kept: what the box shows is what is cast.
    a.update(Msg::Paste("y\u{1b}]0;title\u{7}z\r\nw".into()));
    assert_eq!(a.ask.error, None);
    assert_eq!(a.ask.text(), "xyz w");
}

#[test]
fn ctrl_t_cycles_the_method() {
    let mut a = app(NARROW);
    assert_eq!(a.ask.method, Method::Coins);
    a.update(ctrl('t'));
    assert_eq!(a.ask.method, Method::Yarrow);
    a.update(ctrl('t'));
    assert_eq!(a.ask.method, Method::Manual);
    a.update(ctrl('t'));
    assert_eq!(a.ask.method, Method::Coins);
}

#[test]
fn tab_moves_to_the_situation_which_goes_with_the_question() {
    let mut a = app(NARROW);
    type_text(&mut a, "Should I   go?");
    a.update(key(KeyCode::Tab));
    type_text(&mut a, "  A job offer\u{1b}[31m in   Lisbon ");
    a.update(key(KeyCode::BackTab));
    type_text(&mut a, " now");
    let fx = a.update(key(KeyCode::Enter));
    let [Effect::Start { query, .. }] = fx.as_slice() else {
        panic!("{fx:?}")
    };
    assert_eq!(query.question, "Should I go? now");
    assert_eq!(query.context.as_deref(), Some("A job offer in Lisbon"));
    // A situation over the limit is refused in its own box, and nothing starts.
    let mut b = app(NARROW);
    type_text(&mut b, "Q?");
    b.update(key(KeyCode::Tab));
    b.update(Msg::Paste("x".repeat(crate::model::MAX_CONTEXT_CHARS + 1)));
    assert_eq!(
        b.ask.situation_text(),
        "",
        "refused at once, nothing inserted"
    );
    assert!(
        b.ask
            .error
            .as_deref()
            .unwrap()
            .contains("not pasted: limit 4000 characters")
    );
    // Typed past the limit instead, it is refused when cast, in its own box.
    b.update(Msg::Paste("x".repeat(crate::model::MAX_CONTEXT_CHARS)));
    type_text(&mut b, "x");
    b.update(key(KeyCode::BackTab));
    assert!(b.update(key(KeyCode::Enter)).is_empty());
    assert_eq!(b.ask.focus, crate::tui::screens::ask::AskFocus::Situation);
    assert!(
        b.ask
            .error
            .as_deref()
            .unwrap()
            .contains("at most 4000 are taken")
    );
}

#[test]
fn enter_casts_and_starts_every_planned_section_at_once() {
    let mut a = app(NARROW);
    type_text(&mut a, "  Should I   go?  ");
    let fx = a.update(key(KeyCode::Enter));
    let [
        Effect::Start {
            run,
            query,
            reading,
        },
    ] = fx.as_slice()
    else {
        panic!("{fx:?}")
    };
    assert_eq!(query.question, "Should I go?");
    assert_eq!(query.context, None);
    let cards: Vec<Section> = a
        .live
        .as_ref()
        .unwrap()
        .cards
        .iter()
        .map(|c| c.section)
        .collect();
    assert_eq!(cards, plan(reading), "every planned section has a card");
    assert_eq!(reading.cast.method, Method::Coins);
    assert!(reading.cast.seed.is_some());
    assert_eq!(a.screen, Screen::Cast);
    let live = a.live.as_ref().unwrap();
    assert_eq!(live.run, *run);
    assert!(live.cards.iter().all(|c| c.phase == Phase::Queued));
    assert_eq!(a.ask.text(), "", "the box is cleared for the next question");
    // Same seed, same casts: the app's randomness is injected.
    let mut b = app(NARROW);
    type_text(&mut b, "Should I go?");
    let fx_b = b.update(key(KeyCode::Enter));
    let [Effect::Start { reading: rb, .. }] = fx_b.as_slice() else {
        panic!()
    };
    assert_eq!(rb.cast, reading.cast);
}

#[test]
fn the_cast_animates_then_gives_way_to_the_grid_and_any_key_skips_it() {
    let mut a = app(NARROW);
    type_text(&mut a, QUESTION);
    a.update(key(KeyCode::Enter));
    let cast = a.cast.clone().unwrap();
    assert_eq!(cast.shown(Duration::ZERO), 1);
    assert_eq!(cast.shown(LINE_STEP * 3), 4);
    assert_eq!(cast.shown(LINE_STEP * 9), 6);
    at(&mut a, 300);
    assert_eq!(a.screen, Screen::Cast);
    a.take_dirty();
    at(&mut a, 420);
    assert!(a.take_dirty(), "a tick that moves the animation redraws");
    at(&mut a, 430);
    assert!(!a.take_dirty(), "a tick within the same frame does not");
    let end = LINE_STEP * 5 + HOLD;
    a.update(Msg::Tick(end));
    assert_eq!(a.screen, Screen::Live);

    let mut b = app(NARROW);
    type_text(&mut b, QUESTION);
    b.update(key(KeyCode::Enter));
    b.update(key(KeyCode::Char('q')));
    assert_eq!(b.screen, Screen::Live, "any key skips, even q");
    assert!(!b.quit);
}

#[test]
fn a_manual_cast_takes_six_values_bottom_first() {
    let mut a = app(NARROW);
    type_text(&mut a, QUESTION);
    a.update(ctrl('t'));
    a.update(ctrl('t'));
    assert!(a.update(key(KeyCode::Enter)).is_empty());
    assert_eq!(a.screen, Screen::Cast);
    type_text(&mut a, "9x5");
    assert_eq!(a.cast.as_ref().unwrap().manual.len(), 1);
    assert!(a.cast.as_ref().unwrap().hint.is_some());
    a.update(key(KeyCode::Backspace));
    type_text(&mut a, "98776");
    assert!(a.update(key(KeyCode::Enter)).is_empty(), "five is not six");
    type_text(&mut a, "8");
    let fx = a.update(key(KeyCode::Enter));
    let [Effect::Start { reading, .. }] = fx.as_slice() else {
        panic!("{fx:?}")
    };
    assert_eq!(reading.values(), [9, 8, 7, 7, 6, 8]);
    assert_eq!(reading.cast.method, Method::Manual);
    assert_eq!(reading.primary.number, 55);
    assert_eq!(a.screen, Screen::Live);
}

#[test]
fn section_events_fold_into_their_cards() {
    let mut a = mid_flight(NARROW);
    let live = a.live.as_ref().unwrap();
    let phase = |s: Section| {
        live.cards
            .iter()
            .find(|c| c.section == s)
            .unwrap()
            .phase
            .clone()
    };
    assert!(matches!(phase(Section::OpeningStatements), Phase::Done(_)));
    assert_eq!(phase(Section::InitialHexagramJudgement), Phase::Streaming);
    assert!(matches!(
        phase(Section::InitialHexagramImage),
        Phase::Retrying { attempt: 2, until, .. } if until == Duration::from_millis(4410)
    ));
    assert!(matches!(
        phase(Section::ChangingLine(1)),
        Phase::Failed { attempts: 4, .. }
    ));
    assert_eq!(phase(Section::ChangingLine(5)), Phase::Running);
    assert_eq!(phase(Section::TenWingsInsights), Phase::Queued);
    let streaming = live
        .cards
        .iter()
        .find(|c| c.section == Section::InitialHexagramJudgement)
        .unwrap();
    assert!(streaming.stream_tokens() > 0);
    assert_eq!(streaming.first_token_at, Some(Duration::from_millis(410)));
    assert_eq!(live.done(), 1);
    assert_eq!(live.status, ReadingStatus::Running);
    assert_eq!(live.id, Some(ReadingId(7)));

    // Events of another run (a cancelled one) change nothing.
    let before = a.live.clone().unwrap().cards;
    let r = reading();
    send(
        &mut a,
        99,
        Section::TenWingsInsights,
        EventKind::Finished(Box::new(done(&r, Section::TenWingsInsights))),
    );
    assert_eq!(a.live.as_ref().unwrap().cards, before);
}

#[test]
fn the_run_settles_as_partial_and_r_retries_only_what_failed() {
    let mut a = mid_flight(NARROW);
    let r = reading();
    let run = a.live.as_ref().unwrap().run;
    assert!(
        a.update(key(KeyCode::Char('r'))).is_empty(),
        "no retry while sections are in flight"
    );
    for s in plan(&r) {
        if s != Section::ChangingLine(1) {
            send(&mut a, run, s, EventKind::Finished(Box::new(done(&r, s))));
        }
    }
    a.update(Msg::RunEnded {
        run,
        result: Ok(false),
    });
    let live = a.live.as_ref().unwrap();
    assert_eq!(live.status, ReadingStatus::Partial);
    assert!(a.status.as_ref().unwrap().text.contains("partial: 9 of 10"));
    let fx = a.update(key(KeyCode::Char('r')));
    let [Effect::Retry { run: retry, id }] = fx.as_slice() else {
        panic!("{fx:?}")
    };
    assert_eq!(*id, ReadingId(7));
    let again: Vec<Section> = a
        .live
        .as_ref()
        .unwrap()
        .cards
        .iter()
        .filter(|c| !matches!(c.phase, Phase::Done(_)))
        .map(|c| c.section)
        .collect();
    assert_eq!(
        again,
        [Section::ChangingLine(1)],
        "only the failed section runs again"
    );
    assert_ne!(*retry, run);
    let live = a.live.as_ref().unwrap();
    assert_eq!(live.status, ReadingStatus::Running);
    assert_eq!(live.done(), 9, "the finished sections stay done");
}

#[test]
fn esc_leaves_the_grid_and_the_reading_goes_on() {
    let mut a = mid_flight(NARROW);
    a.screen = Screen::Live;
    let fx = a.update(key(KeyCode::Esc));
    assert!(fx.is_empty(), "Esc cancels nothing: {fx:?}");
    assert_eq!(a.screen, Screen::Ask);
    assert!(the_confirm(&a).is_none());
    let live = a.live.as_ref().unwrap();
    assert!(live.running() && !live.cancelling, "the reading goes on");
    assert!(a.animating(), "its clock keeps ticking");
    // F3 (or l, off the question) comes back to it.
    a.update(key(KeyCode::F(3)));
    assert_eq!(a.screen, Screen::Live);
    assert!(a.live.as_ref().unwrap().running());
}

#[test]
fn c_asks_before_cancelling_and_the_reading_is_kept_as_cancelled() {
    let mut a = mid_flight(NARROW);
    a.screen = Screen::Live;
    let run = a.live.as_ref().unwrap().run;
    assert!(a.update(key(KeyCode::Char('c'))).is_empty(), "c only asks");
    assert_eq!(the_confirm(&a), Some(&Confirm::Cancel));
    // No: nothing happens, and Esc is a no as well.
    assert!(a.update(key(KeyCode::Char('n'))).is_empty());
    assert!(the_confirm(&a).is_none() && !a.live.as_ref().unwrap().cancelling);
    a.update(key(KeyCode::Char('c')));
    assert!(a.update(key(KeyCode::Esc)).is_empty());
    assert!(the_confirm(&a).is_none() && !a.live.as_ref().unwrap().cancelling);
    assert_eq!(a.screen, Screen::Live, "Esc answered the question only");
    // Yes: the run is cancelled.
    a.update(key(KeyCode::Char('c')));
    let fx = a.update(key(KeyCode::Char('y')));
    assert!(matches!(fx.as_slice(), [Effect::Cancel { run: r }] if *r == run));
    assert!(a.live.as_ref().unwrap().cancelling);
    a.update(Msg::RunEnded {
        run,
        result: Ok(true),
    });
    let live = a.live.as_ref().unwrap();
    assert_eq!(live.status, ReadingStatus::Cancelled);
    assert!(live.cards.iter().any(|c| c.phase == Phase::Cancelled));
    assert!(matches!(live.cards[0].phase, Phase::Done(_)));
    // Settled: c asks nothing, Esc goes back to the question.
    assert!(a.update(key(KeyCode::Char('c'))).is_empty());
    assert!(the_confirm(&a).is_none());
    assert!(a.update(key(KeyCode::Esc)).is_empty());
    assert_eq!(a.screen, Screen::Ask);
}

#[test]
fn the_reading_keeps_going_while_other_screens_are_visited() {
    let mut a = mid_flight(NARROW);
    let run = a.live.as_ref().unwrap().run;
    let fx = a.update(key(KeyCode::F(4)));
    assert!(matches!(fx.as_slice(), [Effect::LoadHistory]));
    assert_eq!(a.screen, Screen::History);
    let r = reading();
    send(
        &mut a,
        run,
        Section::TenWingsInsights,
        EventKind::Finished(Box::new(done(&r, Section::TenWingsInsights))),
    );
    assert_eq!(a.live.as_ref().unwrap().done(), 2);
    assert!(a.animating(), "the clock keeps ticking for the grid");
    a.update(key(KeyCode::Char('l')));
    assert_eq!(a.screen, Screen::Live);
}

#[test]
fn ctrl_c_cancels_what_is_in_flight_and_quits() {
    let mut a = mid_flight(NARROW);
    let fx = a.update(ctrl('c'));
    assert!(matches!(
        fx.as_slice(),
        [Effect::Cancel { .. }, Effect::Quit]
    ));
    assert!(a.quit);
    assert!(
        a.quit_cancelled,
        "a reading was stopped: the process exits 130"
    );
    let mut idle = app(NARROW);
    let fx = idle.update(ctrl('c'));
    assert!(matches!(fx.as_slice(), [Effect::Quit]));
    assert!(!idle.quit_cancelled, "nothing was stopped: exit 0");
}

#[test]
fn q_asks_first_while_a_reading_is_in_flight() {
    let mut a = mid_flight(NARROW);
    a.screen = Screen::Live;
    assert!(a.update(key(KeyCode::Char('q'))).is_empty());
    assert_eq!(the_confirm(&a), Some(&Confirm::Quit));
    assert!(a.update(key(KeyCode::Char('n'))).is_empty());
    assert!(!a.quit && the_confirm(&a).is_none());
    a.update(key(KeyCode::Char('q')));
    let fx = a.update(key(KeyCode::Char('y')));
    assert!(matches!(
        fx.as_slice(),
        [Effect::Cancel { .. }, Effect::Quit]
    ));
    assert!(a.quit);
}

#[test]
fn enter_on_the_grid_opens_the_stored_reading_at_that_section() {
    let mut a = mid_flight(NARROW);
    a.screen = Screen::Live;
    a.update(key(KeyCode::Right));
    a.update(key(KeyCode::Down));
    // Three columns at 80 wide: right then down is the fifth card.
    assert_eq!(a.live.as_ref().unwrap().selected, 4);
    let fx = a.update(key(KeyCode::Enter));
    assert!(matches!(fx.as_slice(), [Effect::Open { id: ReadingId(7) }]));
    assert_eq!(a.screen, Screen::Reading);
    assert!(a.reading.report.is_none(), "nothing is shown from memory");
    a.update(loaded(complete_report()));
    assert!(a.reading.scroll > 0, "it opens at the chosen section");
    let fx = a.update(key(KeyCode::Esc));
    assert!(fx.is_empty());
    assert_eq!(a.screen, Screen::Live);
}

/// The reading as stored while its run goes on: every section written but `missing`.
fn written_but(missing: &[Section]) -> ReadingReport {
    let r = reading();
    let sections = plan(&r);
    let mut report = ReadingReport::new(&r, QUESTION, &sections);
    report.id = Some(ReadingId(7));
    for (kept, s) in report.sections.iter_mut().zip(sections) {
        if !missing.contains(&s) {
            kept.finish(&done(&r, s));
        }
    }
    report
}

/// The first line of the reading's text on screen (right of the jump list).
fn top_line(a: &App) -> String {
    let screen = draw(a);
    let row = screen.lines().nth(1).unwrap_or_default();
    row.split_once('│')
        .map_or(row, |(_, text)| text)
        .trim()
        .to_owned()
}

#[test]
fn a_reading_on_show_while_it_is_written_fills_in_where_it_is_read() {
    let mut a = mid_flight(NARROW);
    let run = a.live.as_ref().unwrap().run;
    let r = reading();
    let finish = |a: &mut App, s: Section| {
        a.update(Msg::Section {
            run,
            event: event(7, s, EventKind::Finished(Box::new(done(&r, s)))),
        })
    };
    a.screen = Screen::Live;
    a.update(key(KeyCode::Enter));
    assert_eq!(a.screen, Screen::Reading);
    // A section is saved while the reading is still loading: one more load follows the first.
    assert!(finish(&mut a, Section::ChangingLine(5)).is_empty());
    let fx = a.update(loaded(written_but(&[
        Section::OpeningStatements,
        Section::ChangingLine(5),
    ])));
    assert!(matches!(fx.as_slice(), [Effect::Open { id: ReadingId(7) }]));
    assert!(
        a.reading.scroll > 0,
        "the first load opens at the chosen section"
    );
    let fx = a.update(loaded(written_but(&[Section::OpeningStatements])));
    assert!(fx.is_empty(), "{fx:?}");
    a.update(key(KeyCode::Tab));
    a.update(key(KeyCode::Down));
    let (place, top) = (a.reading.scroll, top_line(&a));
    assert!(!top.is_empty());

    // The opening, above the view, is saved: the reading on show is loaded again, and the same
    // text stays at the top though the lines above it grew.
    let fx = finish(&mut a, Section::OpeningStatements);
    assert!(matches!(fx.as_slice(), [Effect::Open { id: ReadingId(7) }]));
    // Another lands while that load is out: one more load, once the first is in.
    assert!(finish(&mut a, Section::TenWingsInsights).is_empty());
    let fx = a.update(loaded(written_but(&[])));
    assert!(matches!(fx.as_slice(), [Effect::Open { id: ReadingId(7) }]));
    assert!(
        a.reading.scroll > place,
        "the opening's lines came in above"
    );
    assert_eq!(top_line(&a), top);
    assert!(a.update(loaded(written_but(&[]))).is_empty());
    assert_eq!(top_line(&a), top);

    // The run settles with the reading on show: it is loaded for its status, and the status
    // line does not offer Enter, which opens it only from the grid.
    let fx = a.update(Msg::RunEnded {
        run,
        result: Ok(false),
    });
    assert!(matches!(fx.as_slice(), [Effect::Open { id: ReadingId(7) }]));
    let said = &a.status.as_ref().unwrap().text;
    assert!(said.starts_with("The reading is partial"), "{said}");
    assert!(!said.contains("Enter"), "{said}");
    a.update(loaded(complete_report()));
    assert_eq!(top_line(&a), top);
}

#[test]
fn a_reading_scrolls_and_jumps_between_sections() {
    let mut a = app(NARROW);
    a.reading.loading = Some(ReadingId(7));
    a.screen = Screen::Reading;
    a.update(loaded(complete_report()));
    assert_eq!(a.reading.scroll, 0);
    a.update(key(KeyCode::Down));
    assert_eq!(a.reading.scroll, 1);
    a.update(key(KeyCode::Up));
    a.update(key(KeyCode::Up));
    assert_eq!(a.reading.scroll, 0);
    a.update(key(KeyCode::Tab));
    let first = a.reading.scroll;
    assert!(first > 0);
    a.update(key(KeyCode::Tab));
    assert!(a.reading.scroll > first);
    a.update(key(KeyCode::BackTab));
    assert_eq!(a.reading.scroll, first);
    a.update(key(KeyCode::End));
    let end = a.reading.scroll;
    a.update(key(KeyCode::PageDown));
    assert_eq!(a.reading.scroll, end, "scrolling stops at the end");
    a.update(key(KeyCode::Char('g')));
    a.update(key(KeyCode::Char('t')));
    assert!(a.reading.scroll > first, "t jumps to the classic's text");
    let fx = a.update(key(KeyCode::Char('w')));
    assert!(matches!(
        fx.as_slice(),
        [Effect::Export {
            id: ReadingId(7),
            format: ExportFormat::Html
        }]
    ));
    let fx = a.update(key(KeyCode::Char('s')));
    assert!(matches!(
        fx.as_slice(),
        [Effect::LoadStats { id: ReadingId(7) }]
    ));
    assert_eq!(a.screen, Screen::Stats);
    a.update(key(KeyCode::Esc));
    assert_eq!(a.screen, Screen::Reading);
}

#[test]
fn a_reading_without_an_id_asks_nothing_of_the_store() {
    let mut a = app(NARROW);
    a.screen = Screen::Reading;
    a.reading.report = Some(Box::new(ReadingReport {
        id: None,
        ..complete_report()
    }));
    for c in ['s', 'm', 'w'] {
        let fx = a.update(key(KeyCode::Char(c)));
        assert!(fx.is_empty(), "{c}: {fx:?}");
        assert_eq!(a.screen, Screen::Reading);
        assert_eq!(
            a.status.as_ref().map(|s| s.text.as_str()),
            Some(crate::tui::strings::msg::NOT_SAVED)
        );
    }
}

#[test]
fn history_filters_as_you_type_and_acts_on_the_chosen_reading() {
    let mut a = app(NARROW);
    a.update(key(KeyCode::Char('h')));
    a.update(key(KeyCode::Esc));
    assert_eq!(a.screen, Screen::History, "Esc on Ask leads to history");
    a.update(Msg::History(Ok(history_rows())));
    assert_eq!(a.history.visible().len(), 5);
    a.update(key(KeyCode::Char('/')));
    type_text(&mut a, "HARV");
    assert_eq!(a.history.visible().len(), 1);
    assert_eq!(a.history.chosen().unwrap().id, ReadingId(3));
    a.update(key(KeyCode::Esc));
    assert_eq!(a.history.visible().len(), 5, "Esc clears the filter");
    a.update(key(KeyCode::Char('/')));
    type_text(&mut a, "monsoon");
    assert_eq!(
        a.history.visible().len(),
        1,
        "a word of a note finds its reading"
    );
    assert_eq!(a.history.chosen().unwrap().id, ReadingId(2));
    a.update(key(KeyCode::Esc));
    a.update(key(KeyCode::Char('/')));
    type_text(&mut a, "feng");
    assert_eq!(a.history.visible().len(), 1, "hexagram names match too");
    a.update(key(KeyCode::Enter));
    assert!(!a.history.filtering);
    let fx = a.update(key(KeyCode::Char('m')));
    assert!(matches!(
        fx.as_slice(),
        [Effect::Export {
            id: ReadingId(5),
            format: ExportFormat::Markdown
        }]
    ));
    a.update(Msg::Exported {
        id: ReadingId(5),
        result: Ok("/tmp/x/iching-5.md".into()),
    });
    assert!(
        a.status
            .as_ref()
            .unwrap()
            .text
            .contains("/tmp/x/iching-5.md")
    );
    assert!(
        a.update(key(KeyCode::Char('r'))).is_empty(),
        "complete: nothing to retry"
    );
    assert!(a.status.as_ref().unwrap().text.contains("Nothing to retry"));
    a.update(key(KeyCode::Esc));
    a.update(key(KeyCode::Down));
    assert_eq!(a.history.chosen().unwrap().id, ReadingId(4));
    assert!(a.update(key(KeyCode::Char('d'))).is_empty());
    assert_eq!(the_confirm(&a), Some(&Confirm::Delete(ReadingId(4))));
    assert!(
        a.update(key(KeyCode::Char('x'))).is_empty(),
        "only y or n answer"
    );
    let fx = a.update(key(KeyCode::Char('y')));
    assert!(matches!(
        fx.as_slice(),
        [Effect::Delete { id: ReadingId(4) }]
    ));
    let fx = a.update(Msg::Deleted {
        id: ReadingId(4),
        result: Ok(()),
    });
    assert!(matches!(fx.as_slice(), [Effect::LoadHistory]));
    let fx = a.update(key(KeyCode::Char('r')));
    assert!(matches!(
        fx.as_slice(),
        [Effect::Resume {
            id: ReadingId(4),
            ..
        }]
    ));
    assert_eq!(a.screen, Screen::Live);
    let fx = a.update(key(KeyCode::Char('h')));
    assert!(matches!(fx.as_slice(), [Effect::LoadHistory]));
    assert_eq!(
        a.history.selected, 0,
        "opened again, History is on the newest reading"
    );
    a.update(key(KeyCode::Down));
    let fx = a.update(key(KeyCode::Enter));
    assert!(matches!(fx.as_slice(), [Effect::Open { id: ReadingId(4) }]));
    // The retry's reading has not loaded yet: a second retry (or cast) must not start.
    a.update(key(KeyCode::Esc));
    a.update(key(KeyCode::Char('h')));
    assert_eq!(a.screen, Screen::History);
    let fx = a.update(key(KeyCode::Char('r')));
    assert!(
        !fx.iter().any(|e| matches!(e, Effect::Resume { .. })),
        "{fx:?}"
    );
}

#[test]
fn a_retried_reading_from_history_shows_its_kept_sections_as_done() {
    let mut a = app(NARROW);
    let mut report = complete_report();
    report.sections[2].status = crate::report::SectionStatus::Failed;
    report.status = ReadingStatus::Partial;
    a.update(Msg::Resumed {
        run: 3,
        result: Ok(Box::new(crate::service::Resume {
            report,
            reading: reading(),
            missing: vec![Section::InitialHexagramImage],
        })),
    });
    let live = a.live.as_ref().unwrap();
    assert_eq!(live.done(), 9);
    assert_eq!(live.cards[2].phase, Phase::Queued);
    assert_eq!(live.id, Some(ReadingId(7)));
    assert!(live.running());
}

#[test]
fn ticks_redraw_only_while_something_moves() {
    let mut a = app(NARROW);
    a.take_dirty();
    at(&mut a, 1000);
    at(&mut a, 5000);
    assert!(!a.take_dirty(), "an idle app does not redraw");
    assert!(!a.animating());
    let mut m = mid_flight(NARROW);
    m.take_dirty();
    at(&mut m, 2150);
    assert!(
        m.take_dirty(),
        "spinners and clocks move while sections are in flight"
    );
    m.update(Msg::Resize(100, 30));
    assert_eq!(m.size, (100, 30));
    assert!(m.take_dirty());
}

#[test]
fn help_opens_on_question_mark_and_any_key_closes_it() {
    let mut a = mid_flight(NARROW);
    a.screen = Screen::Live;
    a.update(key(KeyCode::Char('?')));
    assert!(the_help(&a).is_some());
    assert!(
        a.update(key(KeyCode::Enter)).is_empty(),
        "the key only closes it"
    );
    assert!(the_help(&a).is_none());
    a.update(key(KeyCode::F(1)));
    assert!(the_help(&a).is_some());
}

#[test]
fn help_scrolls_where_it_does_not_fit() {
    let mut a = app((60, 16));
    a.update(key(KeyCode::F(4)));
    a.update(key(KeyCode::Char('?')));
    assert!(the_help(&a).is_some());
    assert!(a.update(key(KeyCode::Down)).is_empty());
    assert!(the_help(&a).is_some(), "a scroll key keeps the help open");
    assert_eq!(the_help(&a), Some(1));
    a.update(key(KeyCode::PageDown));
    a.update(key(KeyCode::End));
    let end = the_help(&a).unwrap();
    assert!(end > 1);
    a.update(key(KeyCode::Down));
    assert_eq!(the_help(&a), Some(end), "no further than the last line");
    a.update(key(KeyCode::Home));
    assert_eq!(the_help(&a), Some(0));
    a.update(key(KeyCode::Char('x')));
    assert!(the_help(&a).is_none());
    // Opened again, it starts at the top.
    a.update(key(KeyCode::Char('?')));
    assert_eq!(the_help(&a), Some(0));
}

#[test]
fn help_lists_the_letters_only_where_they_work() {
    let shown = |a: &App| draw(a);
    let mut ask = app((80, 40));
    ask.update(key(KeyCode::F(1)));
    let text = shown(&ask);
    assert!(text.contains("Letters"), "{text}");
    assert!(!text.contains("Here too"), "{text}");
    let mut history = app((80, 40));
    history.update(key(KeyCode::F(4)));
    history.update(key(KeyCode::Char('?')));
    let text = shown(&history);
    assert!(text.contains("Here too"), "{text}");
}

#[test]
fn the_sixth_manual_value_changes_the_prompt_at_once() {
    let mut a = app(NARROW);
    type_text(&mut a, QUESTION);
    a.update(ctrl('t'));
    a.update(ctrl('t'));
    a.update(key(KeyCode::Enter));
    type_text(&mut a, "98776");
    assert!(draw(&a).contains("Type the six values"));
    type_text(&mut a, "8");
    let text = draw(&a);
    assert!(text.contains("Six lines are in"), "{text}");
    assert!(!text.contains("Type the six values"), "{text}");
}

#[test]
fn reopening_history_puts_the_cursor_on_the_newest_reading() {
    let mut a = app(NARROW);
    a.update(key(KeyCode::F(4)));
    a.update(Msg::History(Ok(history_rows())));
    a.update(key(KeyCode::Down));
    a.update(key(KeyCode::Down));
    assert_eq!(a.history.selected, 2);
    assert!(draw(&a).contains("3 of 5"));
    // Back from a reading it stays; opened again from elsewhere it is on the newest.
    a.update(key(KeyCode::Enter));
    assert_eq!(a.screen, Screen::Reading);
    a.update(key(KeyCode::Esc));
    assert_eq!(a.screen, Screen::History);
    assert_eq!(a.history.selected, 2);
    a.update(key(KeyCode::Char('a')));
    a.update(key(KeyCode::F(4)));
    a.update(Msg::History(Ok(history_rows())));
    assert_eq!(a.history.selected, 0);
    assert!(draw(&a).contains("1 of 5"));
    // A filter that matches nothing says so.
    a.update(key(KeyCode::Char('/')));
    type_text(&mut a, "zzzz");
    let text = draw(&a);
    assert!(text.contains("none of 5 match"), "{text}");
    assert!(text.contains("No reading matches"), "{text}");
}

#[test]
fn errors_from_the_store_are_said_in_words_without_escapes() {
    let mut a = app(NARROW);
    a.reading.loading = Some(ReadingId(3));
    a.update(Msg::Reading {
        id: ReadingId(3),
        result: Err(ServiceError::NotABackup {
            file: "/tmp/b.db".into(),
            why: crate::service::NotABackup::Damaged(crate::service::StoreError::Corrupt {
                path: "/tmp/b.db".into(),
                reason: "bad\u{1b}[31m header".into(),
            }),
        }),
    });
    let s = a.status.as_ref().unwrap();
    assert!(s.error);
    assert_eq!(
        s.text,
        "/tmp/b.db is not an iching backup (bad header); give a file made by `iching backup`"
    );
    assert_eq!(a.reading.loading, None, "the failed load is over");
}

#[test]
fn a_failure_clears_only_what_its_own_operation_was_waiting_for() {
    // A retry from History is loading its reading, a reading and its stats are loading too.
    let mut a = app(NARROW);
    a.update(Msg::History(Ok(history_rows())));
    a.update(key(KeyCode::F(4)));
    a.update(key(KeyCode::Down));
    let fx = a.update(key(KeyCode::Char('r')));
    let [
        Effect::Resume {
            run,
            id: ReadingId(4),
        },
    ] = fx.as_slice()
    else {
        panic!("{fx:?}")
    };
    let run = *run;
    a.reading.loading = Some(ReadingId(5));
    a.stats.loading = Some(ReadingId(5));
    // An export fails meanwhile: it says so, and nothing else is let go.
    a.update(Msg::Exported {
        id: ReadingId(5),
        result: Err(ServiceError::ExportWrite {
            path: "/tmp/x/iching-5.md".into(),
            error: std::io::Error::other("disk full").into(),
        }),
    });
    assert!(a.status.as_ref().unwrap().error);
    assert_eq!(a.reading.loading, Some(ReadingId(5)));
    assert_eq!(a.stats.loading, Some(ReadingId(5)));
    // The retry's guard still holds: a second run cannot start.
    a.update(key(KeyCode::Char('a')));
    type_text(&mut a, "Another question?");
    let fx = a.update(key(KeyCode::Enter));
    assert!(
        !fx.iter().any(|e| matches!(e, Effect::Start { .. })),
        "a second run started while a retry was loading: {fx:?}"
    );
    // The stats load failing lets go of the stats only.
    a.update(Msg::Stats {
        id: ReadingId(5),
        result: Err(ServiceError::Store(crate::store::StoreError::NotFound(
            ReadingId(5),
        ))),
    });
    assert_eq!(a.stats.loading, None);
    assert_eq!(a.reading.loading, Some(ReadingId(5)));
    // The retry's reading failing to load lets go of its guard.
    a.update(Msg::Resumed {
        run,
        result: Err(ServiceError::Store(crate::store::StoreError::NotFound(
            ReadingId(4),
        ))),
    });
    let fx = a.update(key(KeyCode::Enter));
    assert!(
        fx.iter().any(|e| matches!(e, Effect::Start { .. })),
        "the guard should be gone once the retry failed: {fx:?}"
    );
}

#[test]
fn f7_picks_a_provider_and_a_model_and_asks_to_keep_them() {
    let mut a = app((80, 24));
    assert!(a.update(key(KeyCode::F(7))).is_empty());
    let p = the_picker(&a).expect("the picker opens");
    assert_eq!(
        p.providers[p.selected].name, "offline",
        "the provider in use is highlighted"
    );
    // Up to ollama (offline, llamacpp, ollama), Enter lists its models.
    a.update(key(KeyCode::Up));
    a.update(key(KeyCode::Up));
    let fx = a.update(key(KeyCode::Enter));
    assert!(
        matches!(&fx[..], [Effect::LoadModels { provider }] if provider == "ollama"),
        "{fx:?}"
    );
    // A late answer about another provider is ignored; ollama's is shown.
    a.update(Msg::Models {
        provider: "openai".into(),
        result: Ok(vec!["gpt-5-mini".into()]),
    });
    a.update(Msg::Models {
        provider: "ollama".into(),
        result: Ok(vec![
            "llama3.2".into(),
            "qwen2.5:3b".into(),
            "qwen2.5:7b".into(),
        ]),
    });
    let p = the_picker(&a).unwrap();
    assert_eq!(p.visible_models(), ["llama3.2", "qwen2.5:3b", "qwen2.5:7b"]);
    // Typing filters; Down and Enter choose.
    for c in "qwen".chars() {
        a.update(key(KeyCode::Char(c)));
    }
    a.update(key(KeyCode::Down));
    let fx = a.update(key(KeyCode::Enter));
    assert!(
        matches!(&fx[..], [Effect::UseProvider { provider, model }]
            if provider == "ollama" && model == "qwen2.5:7b"),
        "{fx:?}"
    );
    // The change lands: the status line says so and the picker closes.
    let info = ProviderInfo {
        kind: crate::llm::ProviderKind::OpenAi,
        model: "qwen2.5:7b".into(),
        endpoint: "http://localhost:11434/v1".into(),
    };
    a.update(Msg::ProviderChanged(Ok(ProviderChoice {
        note: None,
        preset: "ollama".into(),
        info,
    })));
    assert!(the_picker(&a).is_none());
    assert_eq!(a.provider.name, "ollama");
    assert!(
        a.status
            .as_ref()
            .unwrap()
            .text
            .contains("ollama · qwen2.5:7b")
    );
}

#[test]
fn a_card_keeps_the_model_it_asked_when_another_provider_is_chosen() {
    let mut a = priced_app(WIDE);
    let run = cast_manual(&mut a);
    a.update(Msg::Saved {
        run,
        id: ReadingId(7),
    });
    let r = reading();
    let failed = Section::OpeningStatements;
    for s in plan(&r) {
        send(&mut a, run, s, EventKind::Started);
        let kind = if s == failed {
            EventKind::Failed(Box::new(SectionFailure {
                error: "server error (HTTP 500) after 4 attempts".into(),
                latency: Duration::from_millis(1390),
                attempts: 4,
                kind: crate::llm::ErrorKind::ServerError,
                usage: None,
            }))
        } else {
            EventKind::Finished(Box::new(done(&r, s)))
        };
        send(&mut a, run, s, kind);
    }
    a.update(Msg::RunEnded {
        run,
        result: Ok(false),
    });
    assert_eq!(a.screen, Screen::Live);
    // F7, and the picker's choice lands.
    a.update(key(KeyCode::F(7)));
    a.update(Msg::ProviderChanged(Ok(ProviderChoice {
        note: None,
        preset: "ollama".into(),
        info: ProviderInfo {
            kind: crate::llm::ProviderKind::OpenAi,
            model: "qwen2.5:7b".into(),
            endpoint: "http://localhost:11434/v1".into(),
        },
    })));
    assert_eq!(a.provider.model, "qwen2.5:7b");
    let card = &a.live.as_ref().unwrap().cards[0];
    assert_eq!(card.section, failed);
    assert!(matches!(card.phase, Phase::Failed { .. }));
    // The grid (everything above the status line) names the model asked, never the new one.
    let screen = draw(&a);
    let lines: Vec<&str> = screen.lines().collect();
    let grid = lines[..lines.len() - 2].join("\n");
    assert!(!grid.contains("qwen2.5"), "{screen}");
    assert_eq!(
        grid.matches(PRICED_MODEL).count(),
        plan(&r).len(),
        "{screen}"
    );
    // A retry asks the model now chosen, and its card says so; the finished ones keep theirs.
    let fx = a.update(key(KeyCode::Char('r')));
    assert!(matches!(&fx[..], [Effect::Retry { .. }]), "{fx:?}");
    let cards = &a.live.as_ref().unwrap().cards;
    assert_eq!(cards[0].model_label(), Some("qwen2.5:7b"));
    assert_eq!(cards[1].model_label(), Some(PRICED_MODEL));
}

#[test]
fn the_picker_types_a_model_the_list_lacks_runs_the_doctor_and_offline_needs_no_list() {
    let mut a = app((80, 24));
    a.update(key(KeyCode::F(7)));
    a.update(key(KeyCode::Up)); // llamacpp
    // d checks the highlighted provider; its findings show.
    let fx = a.update(key(KeyCode::Char('d')));
    assert!(
        matches!(&fx[..], [Effect::Doctor { provider, model: None }] if provider == "llamacpp"),
        "{fx:?}"
    );
    assert_eq!(
        the_picker(&a).unwrap().doctor_for("llamacpp"),
        Some(None),
        "running"
    );
    a.update(Msg::Doctor {
        provider: "llamacpp".into(),
        lines: vec![(
            false,
            "reachable: refused".into(),
            Some("start the server".into()),
        )],
    });
    assert_eq!(
        the_picker(&a)
            .unwrap()
            .doctor_for("llamacpp")
            .flatten()
            .map(<[_]>::len),
        Some(1)
    );
    // A list that could not be had still takes a typed name.
    a.update(key(KeyCode::Enter));
    a.update(Msg::Models {
        provider: "llamacpp".into(),
        result: Err(ServiceError::Models(crate::llm::ProviderError::new(
            crate::model::ErrorKind::Connect,
            "connection refused",
        ))),
    });
    for c in "my-model".chars() {
        a.update(key(KeyCode::Char(c)));
    }
    let fx = a.update(key(KeyCode::Enter));
    assert!(
        matches!(&fx[..], [Effect::UseProvider { provider, model }]
            if provider == "llamacpp" && model == "my-model"),
        "{fx:?}"
    );
    // Esc goes back to the providers, then closes; offline is chosen at once.
    a.update(key(KeyCode::Esc));
    a.update(key(KeyCode::Esc));
    assert!(the_picker(&a).is_none());
    a.update(key(KeyCode::F(7)));
    let fx = a.update(key(KeyCode::Enter));
    assert!(
        matches!(&fx[..], [Effect::UseProvider { provider, .. }] if provider == "offline"),
        "{fx:?}"
    );
}

#[test]
fn a_card_from_its_events_and_from_the_store_are_the_same_card() {
    use crate::tui::screens::live::LiveState;
    let r = reading();
    let sections = plan(&r);
    let (ok, bad) = (Section::OpeningStatements, Section::ChangingLine(1));
    let events = [
        event(7, ok, EventKind::Finished(Box::new(done(&r, ok)))),
        event(
            7,
            bad,
            EventKind::Failed(Box::new(SectionFailure {
                error: "server error (HTTP 500) after 4 attempts".into(),
                latency: Duration::from_millis(1390),
                attempts: 4,
                kind: crate::llm::ErrorKind::ServerError,
                usage: None,
            })),
        ),
    ];
    let mut live = LiveState::new(
        1,
        r.clone(),
        QUESTION.into(),
        &sections,
        PRICED_MODEL,
        Duration::ZERO,
    );
    for e in &events {
        live.apply(e, Duration::from_secs(2));
    }
    // The sections as the reading's report keeps them.
    let mut kept_ok = SectionReport::pending(ok);
    kept_ok.finish(&done(&r, ok));
    let mut kept_bad = SectionReport::pending(bad);
    let EventKind::Failed(failure) = &events[1].kind else {
        unreachable!()
    };
    kept_bad.fail(failure);
    for (s, kept) in [(ok, &kept_ok), (bad, &kept_bad)] {
        let card = live.cards.iter().find(|c| c.section == s).unwrap();
        assert_eq!(card.phase, Phase::settled(kept), "{s:?}");
    }
    let failed = live.cards.iter().find(|c| c.section == bad).unwrap();
    let Phase::Failed { reason, kind, .. } = &failed.phase else {
        panic!("{:?}", failed.phase);
    };
    assert_eq!(reason, "server error (HTTP 500) after 4 attempts");
    assert_eq!(*kind, Some(crate::llm::ErrorKind::ServerError));
}

#[test]
fn on_a_store_that_cannot_be_written_the_app_browses_and_casting_says_why() {
    let mut a = app(NARROW);
    let why = "/media/cd/iching.db is open read-only (its medium or folder cannot be written)";
    a.read_only = Some(why.into());
    type_text(&mut a, "Will it hold?");
    let fx = a.update(key(KeyCode::Enter));
    assert!(
        !fx.iter().any(|e| matches!(e, Effect::Start { .. })),
        "{fx:?}"
    );
    let s = a.status.as_ref().unwrap();
    assert!(s.error && s.text.contains("read-only"), "{s:?}");
    // History still loads.
    let fx = a.update(key(KeyCode::F(4)));
    assert!(matches!(fx.as_slice(), [Effect::LoadHistory]), "{fx:?}");
    // Deleting or retrying there says why it cannot, without asking first.
    a.update(Msg::History(Ok(history_rows())));
    for k in ['d', 'r'] {
        a.status = None;
        if k == 'r' {
            // A reading with sections missing, which could be retried.
            a.update(key(KeyCode::Down));
            assert_eq!(
                a.history.chosen().map(|r| r.status),
                Some(ReadingStatus::Partial)
            );
        }
        let fx = a.update(key(KeyCode::Char(k)));
        assert!(fx.is_empty(), "{k}: {fx:?}");
        assert!(the_confirm(&a).is_none(), "{k}: nothing is asked");
        let s = a.status.as_ref().unwrap();
        assert!(s.error && s.text == why, "{k}: {s:?}");
    }
    assert_eq!(a.screen, Screen::History);
}

#[test]
fn a_question_that_fails_its_check_reads_as_the_one_placeholder() {
    let mut entry = history_rows().remove(0);
    entry.listed.question = Err(crate::store::StoreError::Integrity {
        id: entry.listed.row.id,
        field: "question".into(),
    });
    let row = crate::tui::screens::history::HistoryRow::from(entry);
    assert_eq!(row.question, crate::service::INTEGRITY_PLACEHOLDER);
}

#[test]
fn why_the_app_only_browses_fits_a_status_line() {
    use crate::store::StoreError;
    use crate::tui::strings::msg::read_only;
    let path = std::path::PathBuf::from("/media/a/very/long/path/to/the/data/folder/iching.db");
    for why in [
        StoreError::Full { path: path.clone() },
        StoreError::ReadOnly { path: path.clone() },
    ] {
        let text = read_only(&why);
        assert!(text.starts_with("Browsing only"), "{text}");
        assert!(crate::text::width(&text) <= 60, "{text}");
    }
    assert!(read_only(&StoreError::Full { path }).contains("full"));
}

#[test]
fn the_library_opens_with_f5_or_b_and_finds_as_you_type() {
    let mut a = app(NARROW);
    // On Ask, b is text: F5 opens the book.
    type_text(&mut a, "b");
    assert_eq!(a.screen, Screen::Ask);
    assert!(a.update(key(KeyCode::F(5))).is_empty());
    assert_eq!(a.screen, Screen::Library);
    assert!(!a.library.open);
    assert_eq!(a.library.visible().len(), 64);
    // Letters are the search here, even q, h and ?.
    type_text(&mut a, "qian");
    assert!(!a.quit && the_help(&a).is_none());
    assert_eq!(a.screen, Screen::Library);
    assert_eq!(a.library.filter_text(), "qian");
    assert_eq!(a.library.shown, 1, "the cursor goes to the first match");
    a.update(key(KeyCode::Down));
    assert_eq!(
        a.library.shown, 5,
        "5 Xu has heaven below: trigrams match too"
    );
    a.update(key(KeyCode::Up));
    a.update(key(KeyCode::Up));
    assert_eq!(a.library.shown, 1);
    a.update(key(KeyCode::End));
    assert_eq!(a.library.shown, 44);
    // Esc clears the search, and a second Esc leaves.
    a.update(key(KeyCode::Esc));
    assert_eq!(a.library.filter_text(), "");
    assert_eq!(a.library.shown, 44, "the cursor stays where it was");
    a.update(key(KeyCode::Esc));
    assert_eq!(a.screen, Screen::Ask);
    // A number finds that hexagram; a paste is a search too.
    a.update(key(KeyCode::F(4)));
    assert_eq!(a.screen, Screen::History);
    a.update(key(KeyCode::Char('b')));
    assert_eq!(a.screen, Screen::Library);
    type_text(&mut a, "34");
    assert_eq!(a.library.visible().len(), 1);
    assert_eq!(a.library.shown, 34);
    a.update(key(KeyCode::Esc));
    a.update(Msg::Paste("great\nstrength".into()));
    assert_eq!(a.library.filter_text(), "great strength");
    assert_eq!(a.library.shown, 34);
    a.update(key(KeyCode::Esc));
    a.update(key(KeyCode::Esc));
    assert_eq!(
        a.screen,
        Screen::History,
        "back to where it was opened from"
    );
    // F1 is the help on the list, where ? is typed.
    a.update(key(KeyCode::F(5)));
    a.update(key(KeyCode::F(1)));
    assert!(the_help(&a).is_some());
}

#[test]
fn a_page_scrolls_turns_to_the_next_hexagram_and_esc_goes_back_to_the_list() {
    let mut a = app(NARROW);
    a.update(key(KeyCode::F(5)));
    type_text(&mut a, "64");
    a.update(key(KeyCode::Enter));
    assert!(a.library.open);
    assert_eq!(a.library.shown, 64);
    // Letters are keys again on a page.
    a.update(key(KeyCode::Char('j')));
    a.update(key(KeyCode::Char('j')));
    assert_eq!(a.library.scroll, 2);
    a.update(key(KeyCode::End));
    let end = a.library.scroll;
    assert!(end > 10, "{end}");
    a.update(key(KeyCode::PageDown));
    assert_eq!(a.library.scroll, end, "scrolling stops at the end");
    a.update(key(KeyCode::Right));
    assert_eq!(a.library.shown, 64, "64 is the last");
    a.update(key(KeyCode::Left));
    assert_eq!(
        (a.library.shown, a.library.scroll),
        (63, 0),
        "a new page starts at its top"
    );
    a.update(key(KeyCode::Char('[')));
    assert_eq!(a.library.shown, 62);
    a.update(key(KeyCode::Esc));
    assert!(!a.library.open);
    assert_eq!(a.screen, Screen::Library);
    a.update(key(KeyCode::Enter));
    a.update(key(KeyCode::Char('?')));
    assert!(the_help(&a).is_some(), "? is the help on a page");
    a.update(key(KeyCode::Esc));
    a.update(key(KeyCode::Char('/')));
    assert!(!a.library.open, "/ goes back to the search");
    assert_eq!(a.library.filter_text(), "64");
    a.update(key(KeyCode::Esc));
    a.update(key(KeyCode::Home));
    a.update(key(KeyCode::Enter));
    a.update(key(KeyCode::Left));
    assert_eq!(a.library.shown, 1, "1 is the first");
    a.update(key(KeyCode::Char('q')));
    assert!(a.quit, "q quits from a page");
}

#[test]
fn o_on_a_reading_opens_its_hexagrams_in_turn_and_esc_returns_to_it() {
    let mut a = app(NARROW);
    a.reading.loading = Some(ReadingId(7));
    a.screen = Screen::Reading;
    a.update(loaded(complete_report()));
    assert!(a.update(key(KeyCode::Char('o'))).is_empty());
    assert_eq!(a.screen, Screen::Library);
    assert!(a.library.open);
    assert_eq!(a.library.shown, 55, "the primary first");
    let links = a.library.links.unwrap();
    assert_eq!(
        links.list(),
        [("primary", 55), ("resulting", 31), ("nuclear", 28)]
    );
    a.update(key(KeyCode::Char('o')));
    assert_eq!(a.library.shown, 31);
    a.update(key(KeyCode::Char('o')));
    assert_eq!(a.library.shown, 28);
    a.update(key(KeyCode::Char('o')));
    assert_eq!(a.library.shown, 55, "and round again");
    a.update(key(KeyCode::Esc));
    assert_eq!(a.screen, Screen::Reading);
    assert!(a.library.links.is_none());
    // Without a resulting hexagram, o turns between the primary and the nuclear.
    let mut report = complete_report();
    report.resulting = None;
    a.update(loaded(report.clone()));
    a.reading.report = Some(Box::new(report));
    a.update(key(KeyCode::Char('o')));
    a.update(key(KeyCode::Char('o')));
    assert_eq!(a.library.shown, 28);
    a.update(key(KeyCode::Char('o')));
    assert_eq!(a.library.shown, 55);
    // Opened with F5 the book has no reading: o does nothing, Esc goes to the list.
    a.update(key(KeyCode::Esc));
    a.update(key(KeyCode::F(5)));
    assert!(a.library.links.is_none());
    assert!(!a.library.open, "the book opens at its list");
    a.update(key(KeyCode::Enter));
    a.update(key(KeyCode::Char('o')));
    assert_eq!(a.library.shown, 55);
    a.update(key(KeyCode::Esc));
    assert_eq!(a.screen, Screen::Library);
    assert!(!a.library.open);
}

#[test]
fn o_keeps_the_readings_still_waiting_for_an_outcome_and_patterns_count_those() {
    let mut a = app((100, 24));
    let mut rows = history_rows();
    rows[0].listed.notes.outcomes = 1;
    let told = rows[0].listed.row.id;
    let all = rows.len();
    a.update(Msg::History(Ok(rows)));
    a.update(key(KeyCode::F(4)));
    assert_eq!(a.history.visible().len(), all);
    a.update(key(KeyCode::Char('o')));
    let shown: Vec<ReadingId> = a.history.visible().iter().map(|r| r.id).collect();
    assert_eq!(shown.len(), all - 1);
    assert!(!shown.contains(&told));
    assert!(draw(&a).contains("[no outcome yet]"));
    let fx = a.update(key(KeyCode::Char('p')));
    assert!(
        matches!(
            fx.as_slice(),
            [Effect::LoadPatterns {
                no_outcome: true,
                ..
            }]
        ),
        "{fx:?}"
    );
    a.update(key(KeyCode::Esc));
    a.update(key(KeyCode::Char('o')));
    assert_eq!(a.history.visible().len(), all);
}

#[test]
fn shift_m_and_w_export_the_journal_of_what_history_lists() {
    let mut a = app((100, 24));
    a.update(Msg::History(Ok(history_rows())));
    a.update(key(KeyCode::F(4)));
    a.update(key(KeyCode::Char('/')));
    type_text(&mut a, "coast");
    a.update(key(KeyCode::Enter));
    a.update(key(KeyCode::Char('o')));
    let fx = a.update(key(KeyCode::Char('W')));
    assert!(
        matches!(fx.as_slice(), [Effect::ExportJournal { format: crate::model::ExportFormat::Html, search: Some(s), no_outcome: true }] if s == "coast"),
        "{fx:?}"
    );
    // Nothing listed: nothing to export, and it says so.
    a.update(key(KeyCode::Char('/')));
    type_text(&mut a, " zzz");
    a.update(key(KeyCode::Enter));
    assert!(a.update(key(KeyCode::Char('M'))).is_empty());
    assert!(
        a.status
            .as_ref()
            .unwrap()
            .text
            .contains("no journal to export")
    );
}

#[test]
fn the_empty_editor_asks_for_what_its_kind_holds() {
    let mut a = app((80, 24));
    a.reading.loading = Some(ReadingId(7));
    a.screen = Screen::Reading;
    a.update(loaded(complete_report()));
    a.update(key(KeyCode::Char('n')));
    assert!(draw(&a).contains("What do you make of the reading?"));
    a.update(key(KeyCode::Tab));
    let screen = draw(&a);
    assert!(screen.contains("How did it turn out?"), "{screen}");
    a.update(key(KeyCode::Tab));
    assert!(draw(&a).contains("What do you make of the reading?"));
}

#[test]
fn n_writes_a_note_on_the_reading_and_esc_with_text_asks_twice() {
    let mut a = app(NARROW);
    a.reading.loading = Some(ReadingId(7));
    a.screen = Screen::Reading;
    a.update(loaded(complete_report()));
    assert!(a.update(key(KeyCode::Char('n'))).is_empty());
    assert!(the_note(&a).is_some(), "n opens the editor");
    type_text(&mut a, "Patience");
    a.update(key(KeyCode::Enter));
    type_text(&mut a, "then act.");
    // The first Esc only warns; the note is still there.
    a.update(key(KeyCode::Esc));
    assert!(
        the_note(&a)
            .unwrap()
            .error
            .as_deref()
            .unwrap()
            .contains("Esc again")
    );
    a.update(key(KeyCode::Tab));
    let fx = a.update(ctrl('s'));
    let [Effect::AddNote { id, kind, text }] = fx.as_slice() else {
        panic!("{fx:?}")
    };
    assert_eq!(*id, ReadingId(7));
    assert_eq!(*kind, crate::store::NoteKind::Outcome);
    assert_eq!(text, "Patience\nthen act.");
    assert!(the_note(&a).is_none());
    // Saved: said, and the reading is loaded again to show it.
    let fx = a.update(Msg::NoteAdded {
        id: ReadingId(7),
        kind: crate::store::NoteKind::Outcome,
        result: Ok(1),
    });
    assert!(matches!(fx.as_slice(), [Effect::Open { id }] if *id == ReadingId(7)));
    assert!(
        a.status.as_ref().unwrap().text.contains("Outcome saved"),
        "an outcome is called one"
    );
    // An empty note is refused in place; Esc on an empty editor closes it at once.
    a.update(key(KeyCode::Char('n')));
    assert!(a.update(ctrl('s')).is_empty());
    assert!(
        the_note(&a)
            .unwrap()
            .error
            .as_deref()
            .unwrap()
            .contains("empty")
    );
    a.update(key(KeyCode::Esc));
    assert!(the_note(&a).is_none());
}

#[test]
fn p_on_history_opens_the_patterns_and_esc_closes_them() {
    let mut a = app(NARROW);
    a.screen = Screen::History;
    let fx = a.update(key(KeyCode::Char('p')));
    assert!(
        matches!(fx.as_slice(), [Effect::LoadPatterns { width, search: None, no_outcome: false }] if *width == usize::from(NARROW.0) - 6),
        "{fx:?}"
    );
    assert!(the_patterns(&a).unwrap().lines.is_none(), "loading");
    a.update(Msg::Patterns(Ok(vec![
        "Hexagrams across 3 readings".into();
        40
    ])));
    assert_eq!(the_patterns(&a).unwrap().lines.as_ref().unwrap().len(), 40);
    a.update(key(KeyCode::PageDown));
    assert_eq!(the_patterns(&a).unwrap().scroll, 10);
    // Keys go to the view while it is open: d does not delete.
    assert!(a.update(key(KeyCode::Char('d'))).is_empty());
    a.update(key(KeyCode::Esc));
    assert!(the_patterns(&a).is_none());
    assert_eq!(a.screen, Screen::History);
    // A failure closes it and says why.
    a.update(key(KeyCode::Char('p')));
    a.update(Msg::Patterns(Err(ServiceError::ExportWrite {
        path: "/tmp/p".into(),
        error: std::io::Error::other("disk gone").into(),
    })));
    assert!(the_patterns(&a).is_none());
    assert!(a.status.as_ref().unwrap().text.contains("disk gone"));
    // With History filtered, the patterns are those of the readings the filter finds.
    a.update(key(KeyCode::Char('/')));
    type_text(&mut a, "job");
    a.update(key(KeyCode::Enter));
    let fx = a.update(key(KeyCode::Char('p')));
    assert!(
        matches!(fx.as_slice(), [Effect::LoadPatterns { search: Some(s), .. }] if s == "job"),
        "{fx:?}"
    );
}

#[test]
fn f_asks_a_follow_up_whose_answer_streams_in_and_is_kept() {
    let mut a = app(NARROW);
    a.reading.loading = Some(ReadingId(7));
    a.screen = Screen::Reading;
    a.update(loaded(complete_report()));
    assert!(a.update(key(KeyCode::Char('f'))).is_empty());
    assert!(the_followup(&a).is_some(), "f opens the question box");
    // An empty question is refused in place.
    assert!(a.update(key(KeyCode::Enter)).is_empty());
    assert!(the_followup(&a).unwrap().error.is_some());
    type_text(&mut a, "  What of line 3?  ");
    let fx = a.update(key(KeyCode::Enter));
    let [Effect::Ask { run, id, question }] = fx.as_slice() else {
        panic!("{fx:?}")
    };
    let run = *run;
    assert_eq!((*id, question.as_str()), (ReadingId(7), "What of line 3?"));
    assert!(the_followup(&a).is_none());
    assert!(a.animating(), "the answer is awaited");
    // A second question waits for the first answer: f again offers to stop it; n keeps it.
    assert!(a.update(key(KeyCode::Char('f'))).is_empty());
    assert!(the_followup(&a).is_none());
    assert_eq!(the_confirm(&a), Some(&Confirm::StopFollowup(run)));
    assert!(
        a.status
            .as_ref()
            .unwrap()
            .text
            .contains("still being answered")
    );
    assert!(a.update(key(KeyCode::Char('n'))).is_empty());
    assert!(a.reading.asking.is_some());
    // The answer streams in; another run's news is ignored.
    let delta = |text: &str| SectionEvent {
        reading: Some(ReadingId(7)),
        section: Section::SynthesisAndGuidance,
        kind: EventKind::Delta(text.into()),
    };
    a.update(Msg::Followup {
        run,
        event: delta(r#"{"response":["<p>Line three "#),
    });
    a.update(Msg::Followup {
        run: run + 9,
        event: delta("stray"),
    });
    assert_eq!(
        a.reading.asking.as_ref().unwrap().text,
        r#"{"response":["<p>Line three "#
    );
    let screen = draw(&a);
    assert!(screen.contains("Line three"), "{screen}");
    // Saved: shown from the report, no longer as in flight.
    let raw = r#"{"response":["<p>Line three warns.</p>"]}"#;
    let f = crate::report::FollowupReport {
        number: 1,
        asked_at: crate::when::Stamp::parse("2026-03-01T10:00:00Z").unwrap(),
        question: "What of line 3?".into(),
        answer: "Line three warns.".into(),
        paragraphs: parse_response(raw),
        usage: Usage::estimated(3000, 40),
        latency_ms: 900,
        ttft_ms: Some(100),
        provider: "offline".into(),
        model: "legge-1882".into(),
        sections_left_out: 0,
    };
    a.update(Msg::FollowupEnded {
        run,
        id: ReadingId(7),
        result: Ok(crate::service::Asked::Answered(Box::new(f))),
    });
    assert!(a.reading.asking.is_none());
    assert_eq!(a.reading.report.as_ref().unwrap().followups.len(), 1);
    assert!(a.status.as_ref().unwrap().text.contains("saved"));
    // Stopped: the run is cancelled, and its end says nothing was kept.
    a.update(key(KeyCode::Char('f')));
    type_text(&mut a, "And then?");
    let fx = a.update(key(KeyCode::Enter));
    let [Effect::Ask { run: stopped, .. }] = fx.as_slice() else {
        panic!("{fx:?}")
    };
    let stopped = *stopped;
    a.update(key(KeyCode::Char('f')));
    let fx = a.update(key(KeyCode::Char('y')));
    assert!(
        matches!(fx.as_slice(), [Effect::Cancel { run }] if *run == stopped),
        "{fx:?}"
    );
    a.update(Msg::FollowupEnded {
        run: stopped,
        id: ReadingId(7),
        result: Ok(crate::service::Asked::Cancelled),
    });
    assert!(a.reading.asking.is_none());
    assert!(
        a.status
            .as_ref()
            .unwrap()
            .text
            .contains("nothing was saved")
    );
    assert_eq!(a.reading.report.as_ref().unwrap().followups.len(), 1);
    // Quitting while one is answered cancels it.
    a.update(key(KeyCode::Char('f')));
    type_text(&mut a, "And now?");
    let fx = a.update(key(KeyCode::Enter));
    let [Effect::Ask { run, .. }] = fx.as_slice() else {
        panic!("{fx:?}")
    };
    let run = *run;
    let fx = a.update(ctrl('c'));
    assert!(
        fx.iter()
            .any(|e| matches!(e, Effect::Cancel { run: r } if *r == run)),
        "{fx:?}"
    );
}

#[test]
fn e_opens_the_journal_where_a_note_is_edited_or_deleted_after_asking() {
    let mut a = app(NARROW);
    a.reading.loading = Some(ReadingId(7));
    a.screen = Screen::Reading;
    let mut report = complete_report();
    for (id, kind, text) in [(3, "note", "First thought"), (4, "outcome", "It rained.")] {
        report.notes.push(crate::report::NoteReport {
            number: id,
            at: crate::when::Stamp::parse("2026-03-02T10:00:00Z").unwrap(),
            kind: crate::model::NoteKind::parse(kind).unwrap(),
            text: text.into(),
        });
    }
    a.update(loaded(report));
    a.update(key(KeyCode::Char('e')));
    assert_eq!(the_journal(&a).unwrap().notes.len(), 2);
    // Enter edits the chosen note, in the editor, its text there to change.
    a.update(key(KeyCode::Down));
    a.update(key(KeyCode::Enter));
    assert!(the_journal(&a).is_none());
    let editor = the_note(&a).unwrap();
    assert_eq!(
        (editor.editing, editor.text()),
        (Some(4), "It rained.".into())
    );
    type_text(&mut a, " Then sun.");
    // Ctrl-S asks first; n goes back to the editor with the text kept.
    assert!(a.update(ctrl('s')).is_empty());
    assert!(matches!(the_confirm(&a), Some(Confirm::EditNote(..))));
    assert!(a.status.as_ref().unwrap().text.contains("Replace"));
    a.update(key(KeyCode::Char('n')));
    assert_eq!(the_note(&a).unwrap().text(), "It rained. Then sun.");
    a.update(ctrl('s'));
    let fx = a.update(key(KeyCode::Char('y')));
    let [Effect::EditNote { id, note, text }] = fx.as_slice() else {
        panic!("{fx:?}")
    };
    assert_eq!(
        (*id, *note, text.as_str()),
        (ReadingId(7), 4, "It rained. Then sun.")
    );
    let fx = a.update(Msg::NoteChanged {
        id: ReadingId(7),
        deleted: false,
        result: Ok(()),
    });
    assert!(
        matches!(fx.as_slice(), [Effect::Open { .. }]),
        "reloaded: {fx:?}"
    );
    // d deletes, after asking; n keeps it.
    a.update(loaded(complete_report()));
    a.overlay = Some(Overlay::Journal(
        crate::tui::screens::journal::JournalView::new(
            ReadingId(7),
            vec![crate::report::NoteReport {
                number: 3,
                at: crate::when::Stamp::parse("2026-03-02T10:00:00Z").unwrap(),
                kind: crate::model::NoteKind::Note,
                text: "First thought".into(),
            }],
        ),
    ));
    a.update(key(KeyCode::Char('d')));
    assert_eq!(the_confirm(&a), Some(&Confirm::DeleteNote(ReadingId(7), 3)));
    assert!(a.update(key(KeyCode::Char('n'))).is_empty());
    assert!(the_confirm(&a).is_none());
    a.overlay = Some(Overlay::Journal(
        crate::tui::screens::journal::JournalView::new(
            ReadingId(7),
            vec![crate::report::NoteReport {
                number: 3,
                at: crate::when::Stamp::parse("2026-03-02T10:00:00Z").unwrap(),
                kind: crate::model::NoteKind::Note,
                text: "First thought".into(),
            }],
        ),
    ));
    a.update(key(KeyCode::Char('d')));
    let fx = a.update(key(KeyCode::Char('y')));
    assert!(
        matches!(fx.as_slice(), [Effect::DeleteNote { id, note: 3 }] if *id == ReadingId(7)),
        "{fx:?}"
    );
}

#[test]
fn numbers_are_never_cut_from_the_left_at_any_size() {
    // Each figure is either shown whole or its column is not shown at all.
    let whole_or_absent = |text: &str, whole: &str, tail: &str| {
        assert!(
            text.contains(whole) || !text.contains(tail),
            "{tail} shown without the rest of {whole}:\n{text}"
        );
    };
    for size in [(60, 16), (72, 20), (80, 24), (100, 30), (200, 60)] {
        let mut a = app(size);
        a.stats.loading = Some(ReadingId(7));
        a.screen = Screen::Stats;
        let mut report = complete_report();
        report.sections[0].tokens_per_sec = Some(10_000.0);
        report.sections[0].ttft_ms = Some(131_000);
        report.sections[0].latency_ms = Some(131_500);
        a.update(stats_loaded(report, &crate::config::Prices::default()));
        let text = draw(&a);
        whole_or_absent(&text, "10000.0", "0000.0");
        whole_or_absent(&text, "131.0s", "31.0s");
        whole_or_absent(&text, "131.5s", "31.5s");
        assert!(text.contains("Total 10/10"), "{text}");

        let mut h = app(size);
        h.update(key(KeyCode::F(4)));
        let mut rows = history_rows();
        rows[0].listed.row.total_tokens = 13_815;
        h.update(Msg::History(Ok(rows)));
        let text = draw(&h);
        whole_or_absent(&text, "13,815", "3,815");
        // A date is shown with its time of day whole, or without it.
        for line in text.lines() {
            let Some(at) = line.find("2026-03-0") else {
                continue;
            };
            let after: Vec<char> = line[at + 10..].chars().take(6).collect();
            let time = after.len() == 6
                && after[0] == ' '
                && after[1].is_ascii_digit()
                && after[2].is_ascii_digit()
                && after[3] == ':'
                && after[5].is_ascii_digit();
            let none =
                after.first() == Some(&' ') && after.get(1).is_some_and(|c| !c.is_ascii_digit());
            assert!(time || none, "a date cut in its time of day: {line}");
        }
        for word in ["complete", "partial", "interrupted", "cancelled", "failed"] {
            assert!(text.contains(word), "{word} cut at {size:?}:\n{text}");
        }
    }
}

#[test]
fn after_a_delete_the_history_cursor_is_on_the_row_that_took_its_place() {
    let mut a = app(NARROW);
    a.screen = Screen::History;
    a.update(Msg::History(Ok(history_rows())));
    a.update(key(KeyCode::Down));
    a.update(key(KeyCode::Down));
    let gone = a.history.chosen().unwrap().id;
    let next = a.history.visible()[3].id;
    a.update(key(KeyCode::Char('d')));
    let fx = a.update(key(KeyCode::Char('y')));
    assert!(
        matches!(fx.as_slice(), [Effect::Delete { id }] if *id == gone),
        "{fx:?}"
    );
    let fx = a.update(Msg::Deleted {
        id: gone,
        result: Ok(()),
    });
    assert!(matches!(fx.as_slice(), [Effect::LoadHistory]), "{fx:?}");
    let rest: Vec<_> = history_rows()
        .into_iter()
        .filter(|e| e.listed.row.id != gone)
        .collect();
    a.update(Msg::History(Ok(rest)));
    assert_eq!(a.history.chosen().map(|r| r.id), Some(next));
    // Reloaded with its reading still there, the cursor stays on it.
    a.update(Msg::History(Ok(history_rows())));
    assert_eq!(a.history.chosen().map(|r| r.id), Some(next));
}

#[test]
fn back_from_a_page_turned_past_what_the_filter_found_the_cursor_is_on_the_first_found() {
    let mut a = app(WIDE);
    a.update(key(KeyCode::F(5)));
    type_text(&mut a, "the well");
    a.update(key(KeyCode::Enter));
    assert_eq!(a.library.shown, 48);
    a.update(key(KeyCode::Right));
    assert_eq!(a.library.shown, 49, "the page turns past what was found");
    a.update(key(KeyCode::Esc));
    assert!(!a.library.open);
    let screen = draw(&a);
    let marked: Vec<&str> = screen.lines().filter(|l| l.contains('▸')).collect();
    assert_eq!(marked.len(), 1, "{screen}");
    assert!(marked[0].contains("48"), "{screen}");
    a.update(key(KeyCode::Enter));
    assert_eq!(a.library.shown, 48, "Enter opens the row the cursor is on");
}

#[test]
fn the_status_line_says_what_the_endpoint_takes_while_sections_wait_for_it() {
    use crate::events::Hold;
    let mut a = app(WIDE);
    let run = cast_manual(&mut a);
    a.update(Msg::Saved {
        run,
        id: ReadingId(7),
    });
    let r = reading();
    let sections = plan(&r);
    for &s in &sections {
        send(&mut a, run, s, EventKind::Started);
    }
    // Nothing said yet: the line has room for messages only.
    assert!(!draw(&a).contains("at a time"));
    send(
        &mut a,
        run,
        sections[1],
        EventKind::Held(Hold::Loading {
            waited: Duration::from_secs(2),
        }),
    );
    assert!(draw(&a).contains(crate::tui::strings::SERVER_LOADING));
    // The first text ends the loading; a section queued again says what the server takes.
    send(&mut a, run, sections[0], EventKind::Delta("{\"resp".into()));
    send(
        &mut a,
        run,
        sections[2],
        EventKind::Held(Hold::Requeued {
            limit: 1,
            reason: "the stream ended with [DONE] but no finish reason".into(),
        }),
    );
    let screen = draw(&a);
    assert!(
        !screen.contains(crate::tui::strings::SERVER_LOADING),
        "{screen}"
    );
    assert!(screen.contains("the server serves 1 at a time"), "{screen}");
    let card = a
        .live
        .as_ref()
        .unwrap()
        .cards
        .iter()
        .find(|c| c.section == sections[2])
        .unwrap();
    assert_eq!(card.phase, Phase::Queued, "a requeued card shows as queued");
}

/// What is open over the screen, by name.
fn open_over(a: &App) -> Option<&'static str> {
    a.overlay.as_ref().map(|o| match o {
        Overlay::Help { .. } => "help",
        Overlay::Picker(_) => "picker",
        Overlay::Note(_) => "note",
        Overlay::Followup(_) => "followup",
        Overlay::Journal(_) => "journal",
        Overlay::Patterns(_) => "patterns",
        Overlay::Confirm(_) => "confirm",
    })
}

/// The footer as drawn: the frame's last line.
fn drawn_footer(a: &App) -> String {
    draw(a).lines().last().unwrap_or_default().to_owned()
}

#[test]
fn the_overlay_that_takes_the_keys_is_the_one_the_footer_names_and_the_only_one_open() {
    use crate::tui::strings::{KeyHelp, footer};
    use crate::tui::view::footer_keys;
    // A reading in flight (so q asks first), its stored reading on the Reading screen.
    let mut a = mid_flight(WIDE);
    a.reading.loading = Some(ReadingId(7));
    a.screen = Screen::Reading;
    a.update(loaded(complete_report()));
    assert_eq!(footer_keys(&a), footer::READING);
    let cases: [(Msg, &str, &[KeyHelp], Msg); 6] = [
        (key(KeyCode::F(1)), "help", footer::HELP, key(KeyCode::Esc)),
        // The picker opens on the provider in use, a hosted one without its key here.
        (
            key(KeyCode::F(7)),
            "picker",
            footer::PICKER_PASTABLE,
            key(KeyCode::Esc),
        ),
        (
            key(KeyCode::Char('n')),
            "note",
            footer::NOTE,
            key(KeyCode::Esc),
        ),
        (
            key(KeyCode::Char('f')),
            "followup",
            footer::FOLLOWUP,
            key(KeyCode::Esc),
        ),
        (
            key(KeyCode::Char('e')),
            "journal",
            footer::JOURNAL,
            key(KeyCode::Esc),
        ),
        (
            key(KeyCode::Char('q')),
            "confirm",
            footer::CONFIRM,
            key(KeyCode::Char('n')),
        ),
    ];
    for (open, name, keys, close) in cases {
        a.update(open.clone());
        assert_eq!(open_over(&a), Some(name));
        assert_eq!(footer_keys(&a), keys, "{name}");
        assert!(drawn_footer(&a).contains(keys[0].1), "{name}: {}", draw(&a));
        // The keys that open the others go to the one open: none opens over it (one of its
        // own may close it: then it is opened again).
        for other in [
            KeyCode::F(1),
            KeyCode::F(7),
            KeyCode::Char('n'),
            KeyCode::Char('f'),
            KeyCode::Char('e'),
            KeyCode::Char('q'),
            KeyCode::Char('?'),
        ] {
            a.update(key(other));
            if open_over(&a).is_none() {
                assert!(!a.quit, "{name} after {other}");
                a.update(open.clone());
            }
            assert_eq!(open_over(&a), Some(name), "{name} after {other}");
            assert_eq!(footer_keys(&a), keys, "{name} after {other}");
            if matches!(name, "note" | "followup") {
                // What was typed goes, so that one Esc closes the editor.
                a.update(ctrl('u'));
            }
        }
        a.update(close);
        assert_eq!(open_over(&a), None, "{name} closes");
        assert_eq!(footer_keys(&a), footer::READING, "{name}");
        assert!(!a.quit);
    }
    // Over History, the Patterns.
    a.update(key(KeyCode::Char('h')));
    a.update(key(KeyCode::Char('p')));
    assert_eq!(open_over(&a), Some("patterns"));
    assert_eq!(footer_keys(&a), footer::PATTERNS);
    a.update(key(KeyCode::Char('d')));
    assert_eq!(open_over(&a), Some("patterns"), "d does not ask to delete");
    a.update(key(KeyCode::Esc));
    assert_eq!(open_over(&a), None);
    assert_eq!(footer_keys(&a), footer::HISTORY);
}

#[test]
fn one_overlay_gives_way_to_the_next_and_late_news_for_a_closed_one_leaves_the_open_one() {
    use crate::tui::strings::footer;
    use crate::tui::view::footer_keys;
    let mut a = app(NARROW);
    a.reading.loading = Some(ReadingId(7));
    a.screen = Screen::Reading;
    let mut report = complete_report();
    report.notes.push(crate::report::NoteReport {
        number: 3,
        at: crate::when::Stamp::parse("2026-03-02T10:00:00Z").unwrap(),
        kind: crate::model::NoteKind::Note,
        text: "First thought".into(),
    });
    a.update(loaded(report));
    // The Journal gives way to the editor, the editor to its question, and back.
    a.update(key(KeyCode::Char('e')));
    assert_eq!(
        (open_over(&a), footer_keys(&a)),
        (Some("journal"), footer::JOURNAL)
    );
    a.update(key(KeyCode::Enter));
    assert_eq!(
        (open_over(&a), footer_keys(&a)),
        (Some("note"), footer::NOTE_EDIT)
    );
    type_text(&mut a, " Then more.");
    a.update(ctrl('s'));
    assert_eq!(
        (open_over(&a), footer_keys(&a)),
        (Some("confirm"), footer::CONFIRM)
    );
    a.update(key(KeyCode::Esc));
    assert_eq!(
        (open_over(&a), footer_keys(&a)),
        (Some("note"), footer::NOTE_EDIT)
    );
    assert_eq!(the_note(&a).unwrap().text(), "First thought Then more.");
    a.update(key(KeyCode::Esc));
    a.update(key(KeyCode::Esc));
    assert_eq!(open_over(&a), None);
    // The picker closed, the help open: the picker's and the Patterns' news leave it open.
    a.update(key(KeyCode::F(7)));
    a.update(key(KeyCode::Esc));
    a.update(key(KeyCode::F(1)));
    a.update(Msg::Models {
        provider: "ollama".into(),
        result: Ok(vec!["llama3.2".into()]),
    });
    a.update(Msg::Doctor {
        provider: "ollama".into(),
        lines: Vec::new(),
    });
    a.update(Msg::ProviderChanged(Ok(ProviderChoice {
        note: None,
        preset: "ollama".into(),
        info: ProviderInfo {
            kind: crate::llm::ProviderKind::OpenAi,
            model: "llama3.2".into(),
            endpoint: "http://localhost:11434/v1".into(),
        },
    })));
    a.update(Msg::Patterns(Ok(vec![
        "Hexagrams across 3 readings".into(),
    ])));
    a.update(Msg::Patterns(Err(ServiceError::NotConfigured)));
    assert_eq!(
        (open_over(&a), footer_keys(&a)),
        (Some("help"), footer::HELP)
    );
    assert_eq!(a.provider.model, "llama3.2", "the choice still lands");
}

/// Cells drawn reversed (a text box's cursor) in `rows`, and the column where row `y`'s text
/// starts after the box's left border.
fn cursors_and_text_start(app: &App, rows: &[u16], y: u16) -> (usize, u16) {
    let (w, h) = app.size;
    let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
    terminal.draw(|f| crate::tui::view::draw(app, f)).unwrap();
    let buf = terminal.backend().buffer();
    let reversed = rows
        .iter()
        .flat_map(|&y| (0..w).map(move |x| (x, y)))
        .filter(|&at| {
            buf[at]
                .modifier
                .contains(ratatui::style::Modifier::REVERSED)
        })
        .count();
    let border = (0..w).find(|&x| buf[(x, y)].symbol() == "│").unwrap();
    let start = (border + 1..w)
        .find(|&x| buf[(x, y)].symbol() != " ")
        .unwrap();
    (reversed, start - border)
}

#[test]
fn the_ask_screen_shows_one_cursor_and_its_placeholders_start_where_typing_does() {
    for size in [(60, 16), (80, 24), (200, 60)] {
        let mut a = app(size);
        // The question box's first text row is the screen's third at 80x24 and up, the
        // second at 60x16; the situation's is five rows further.
        let question_row = if size.1 >= 20 { 3 } else { 2 };
        let situation_row = question_row + if size.1 >= 20 { 6 } else { 5 };
        // Every row inside the two boxes.
        let q_rows = if size.1 >= 20 { 3 } else { 2 };
        let rows: Vec<u16> = (question_row..question_row + q_rows)
            .chain(situation_row..situation_row + 2)
            .collect();
        let (cursors, placeholder_at) = cursors_and_text_start(&a, &rows, question_row);
        assert_eq!(
            cursors, 1,
            "{size:?}: one cursor, on the question's placeholder"
        );
        type_text(&mut a, "Should I");
        let (cursors, typed_at) = cursors_and_text_start(&a, &rows, question_row);
        assert_eq!(cursors, 1, "{size:?}: one cursor, after what is typed");
        assert_eq!(
            placeholder_at, typed_at,
            "{size:?}: placeholder and text aligned"
        );
        a.update(key(KeyCode::Tab));
        let (cursors, situation_at) = cursors_and_text_start(&a, &rows, situation_row);
        assert_eq!(
            cursors, 1,
            "{size:?}: the question's cursor goes with the keys"
        );
        assert_eq!(
            situation_at, typed_at,
            "{size:?}: the situation's placeholder too"
        );
    }
}

/// The picker's footer as the app says it.
fn picker_footer(a: &App) -> &'static [crate::tui::strings::KeyHelp] {
    crate::tui::view::footer_keys(a)
}

#[test]
fn a_doctor_result_stays_with_the_provider_it_checked() {
    let mut a = app(NARROW);
    a.update(key(KeyCode::F(7)));
    a.update(key(KeyCode::Up)); // llamacpp
    a.update(key(KeyCode::Char('d')));
    a.update(Msg::Doctor {
        provider: "llamacpp".into(),
        lines: vec![(false, "reachable: refused".into(), None)],
    });
    assert!(draw(&a).contains("Doctor: llamacpp"));
    // On another provider, not a word of it; back on llamacpp, there it is again.
    a.update(key(KeyCode::Up)); // ollama
    let screen = draw(&a);
    assert!(!screen.contains("Doctor:"), "{screen}");
    assert!(!screen.contains("refused"), "{screen}");
    assert!(the_picker(&a).unwrap().doctor_for("ollama").is_none());
    // A late answer about a provider never asked of here is not kept.
    a.update(Msg::Doctor {
        provider: "ollama".into(),
        lines: vec![(true, "reachable".into(), None)],
    });
    assert!(the_picker(&a).unwrap().doctor_for("ollama").is_none());
    a.update(key(KeyCode::Down));
    assert!(draw(&a).contains("reachable: refused"));
}

#[test]
fn the_pickers_footer_names_the_keys_that_work_where_the_keys_go() {
    use crate::tui::strings::footer;
    let mut a = app(NARROW);
    a.update(key(KeyCode::F(7)));
    // offline, a provider that takes no key: p and x are not named, and do nothing.
    assert_eq!(picker_footer(&a), footer::PICKER);
    for c in ['p', 'x'] {
        assert!(a.update(key(KeyCode::Char(c))).is_empty());
        assert_eq!(the_picker(&a).unwrap().focus, Focus::Providers);
    }
    for _ in 0..3 {
        a.update(key(KeyCode::Up));
    }
    assert_eq!(
        the_picker(&a).unwrap().highlighted().unwrap().name,
        "openai"
    );
    assert_eq!(picker_footer(&a), footer::PICKER_PASTABLE);
    // In the model list, d is typed into the filter; the footer says Ctrl-D, and typing.
    a.update(key(KeyCode::Enter));
    assert_eq!(picker_footer(&a), footer::PICKER_MODELS);
    assert!(!footer::PICKER_MODELS.iter().any(|(k, _)| *k == "d"));
    assert!(a.update(key(KeyCode::Char('d'))).is_empty());
    assert_eq!(the_picker(&a).unwrap().filter, "d");
    let fx = a.update(ctrl('d'));
    assert!(
        matches!(&fx[..], [Effect::Doctor { provider, .. }] if provider == "openai"),
        "{fx:?}"
    );
    // The box's own bottom line names the same keys as the footer.
    let screen = draw(&a);
    assert!(screen.contains("Ctrl-D doctor"), "{screen}");
    assert!(!screen.contains(" d doctor"), "{screen}");
}

#[test]
fn a_key_is_pasted_masked_and_kept_and_a_pasted_one_removed_after_asking() {
    let mut a = app(NARROW);
    a.update(key(KeyCode::F(7)));
    for _ in 0..3 {
        a.update(key(KeyCode::Up));
    }
    a.update(key(KeyCode::Char('p')));
    assert_eq!(the_picker(&a).unwrap().focus, Focus::Key);
    assert_eq!(picker_footer(&a), crate::tui::strings::footer::PICKER_KEY);
    // A paste goes into the key, never to the screen underneath; letters too.
    a.update(Msg::Paste("sk-proj-abc\n".into()));
    a.update(key(KeyCode::Char('d')));
    assert_eq!(a.ask.text(), "");
    let screen = draw(&a);
    assert!(
        !screen.contains("abc") && !screen.contains("sk-"),
        "{screen}"
    );
    assert!(screen.contains("(12 characters)"), "{screen}");
    let fx = a.update(key(KeyCode::Enter));
    let [Effect::SetProviderKey { provider, key: k }] = &fx[..] else {
        panic!("{fx:?}");
    };
    assert_eq!((provider.as_str(), k.expose()), ("openai", "sk-proj-abcd"));
    assert!(!format!("{fx:?}").contains("abc"), "a key never prints");
    // The store took it: the table says so, and x (twice) removes it.
    let mut entries = the_picker(&a).unwrap().providers.clone();
    entries[0].pasted = true;
    a.update(Msg::ProviderKeys {
        provider: "openai".into(),
        removed: false,
        result: Ok((entries.clone(), None)),
    });
    assert!(a.providers[0].pasted);
    assert!(
        a.status
            .as_ref()
            .unwrap()
            .text
            .contains("sealed in the store")
    );
    assert_eq!(
        picker_footer(&a),
        crate::tui::strings::footer::PICKER_PASTED
    );
    assert!(draw(&a).contains("pasted (sealed)"));
    assert!(a.update(key(KeyCode::Char('x'))).is_empty());
    assert!(draw(&a).contains("x again removes"));
    // Any other key keeps it.
    a.update(key(KeyCode::Char('j')));
    a.update(key(KeyCode::Char('k')));
    assert!(a.update(key(KeyCode::Char('x'))).is_empty());
    let fx = a.update(key(KeyCode::Char('x')));
    assert!(
        matches!(&fx[..], [Effect::RemoveProviderKey { provider }] if provider == "openai"),
        "{fx:?}"
    );
    // Esc while pasting drops what was typed.
    a.update(key(KeyCode::Char('p')));
    a.update(Msg::Paste("sk-half".into()));
    a.update(key(KeyCode::Esc));
    assert_eq!(the_picker(&a).unwrap().focus, Focus::Providers);
    assert!(the_picker(&a).unwrap().typed_key.is_empty());
}

#[test]
fn the_answer_language_is_chosen_in_the_picker() {
    let mut a = app(NARROW);
    a.update(key(KeyCode::F(7)));
    a.update(key(KeyCode::Char('l')));
    assert_eq!(the_picker(&a).unwrap().focus, Focus::Language);
    for c in "span".chars() {
        a.update(key(KeyCode::Char(c)));
    }
    let fx = a.update(key(KeyCode::Enter));
    assert!(
        matches!(&fx[..], [Effect::SetLanguage { language: Some(l) }] if l == "Spanish"),
        "{fx:?}"
    );
    a.update(Msg::LanguageChanged(Ok(Some("Spanish".into()))));
    assert_eq!(a.language.as_deref(), Some("Spanish"));
    assert!(draw(&a).contains("Answers in Spanish"));
    // The question's own language is the first entry.
    a.update(key(KeyCode::Char('l')));
    assert_eq!(
        the_picker(&a).unwrap().visible_languages()[0],
        None,
        "first: the question's own"
    );
    a.update(key(KeyCode::Home));
    for _ in 0..200 {
        a.update(key(KeyCode::Up));
    }
    let fx = a.update(key(KeyCode::Enter));
    assert!(
        matches!(&fx[..], [Effect::SetLanguage { language: None }]),
        "{fx:?}"
    );
}

#[test]
fn offline_the_ask_screen_says_how_to_reach_a_model() {
    for size in [(60, 16), NARROW, (200, 60)] {
        let a = app(size);
        assert!(draw(&a).contains("F7 chooses a model"), "{size:?}");
    }
    let mut a = app(NARROW);
    a.update(Msg::ProviderChanged(Ok(ProviderChoice {
        preset: "ollama".into(),
        info: crate::llm::ProviderInfo {
            kind: crate::llm::ProviderKind::OpenAi,
            model: "llama3.2".into(),
            endpoint: "http://localhost:11434/v1".into(),
        },
        note: None,
    })));
    assert!(!draw(&a).contains("F7 chooses"));
}

#[test]
fn no_message_of_the_app_suggests_a_flag() {
    use crate::tui::strings;
    let mut words: Vec<String> = vec![
        strings::ASK_OFFLINE_HINT.into(),
        strings::ASK_OFFLINE_KEY.into(),
        strings::msg::KEY_FIX.into(),
        strings::picker::NO_LANGUAGE.into(),
    ];
    for e in entries() {
        words.push(strings::picker::about(&e));
    }
    words.push(strings::picker::paste_prompt("openai", "OPENAI_API_KEY"));
    words.push(
        ServiceError::KeyNeeded {
            provider: "openai".into(),
            var: "OPENAI_API_KEY".into(),
        }
        .to_string(),
    );
    for table in [
        strings::KEYS_GLOBAL,
        strings::KEYS_ASK,
        strings::KEYS_READING,
        strings::KEYS_HISTORY,
        strings::KEYS_LIBRARY,
    ] {
        words.extend(table.iter().map(|(k, v)| format!("{k} {v}")));
    }
    // The doctor's fixes, as the box shows them.
    for fix in [
        "pick one with --model (or model = \"...\" in config.toml): a, b, ... (iching models lists all)",
        "start the server, or give its address with --base-url",
        "check the network and the base URL (--base-url)",
        "the server is slow: raise --first-token-timeout, or lower --concurrency",
        "see the message; --verbose logs more to iching.log",
        "export GROQ_API_KEY=... (the key from groq's console), or choose another provider with --provider",
    ] {
        words.push(strings::msg::in_app_terms(fix));
    }
    for w in &words {
        assert!(!w.contains("--"), "{w}");
    }
}

#[test]
fn ctrl_u_clears_to_the_start_of_the_line_in_every_text_box() {
    let mut a = app((80, 24));
    // The Library's find box.
    a.update(key(KeyCode::F(5)));
    type_text(&mut a, "hello");
    a.update(ctrl('u'));
    assert_eq!(a.library.filter.lines(), [""], "the Library's find box");
    // The note editor, over a reading.
    a.reading.loading = Some(ReadingId(7));
    a.screen = Screen::Reading;
    a.update(loaded(complete_report()));
    a.update(key(KeyCode::Char('n')));
    type_text(&mut a, "A note");
    a.update(ctrl('u'));
    assert_eq!(the_note(&a).unwrap().input.lines(), [""], "the note editor");
    a.update(key(KeyCode::Esc));
    // The follow-up editor.
    a.update(key(KeyCode::Char('f')));
    type_text(&mut a, "And then?");
    a.update(ctrl('u'));
    assert_eq!(
        the_followup(&a).unwrap().input.lines(),
        [""],
        "the follow-up editor"
    );
}

#[test]
fn a_model_list_that_failed_is_asked_for_again_and_says_no_flag() {
    let mut a = app(NARROW);
    a.update(key(KeyCode::F(7)));
    // Up to ollama (offline, llamacpp, ollama).
    a.update(key(KeyCode::Up));
    a.update(key(KeyCode::Up));
    let fx = a.update(key(KeyCode::Enter));
    assert!(matches!(&fx[..], [Effect::LoadModels { .. }]), "{fx:?}");
    a.update(Msg::Models {
        provider: "ollama".into(),
        result: Err(ServiceError::from(crate::config::ConfigError::MissingKey {
            provider: "ollama".into(),
            var: "OLLAMA_KEY".into(),
        })),
    });
    let shown = draw(&a);
    assert!(!shown.contains("--provider"), "{shown}");
    // Back, and Enter again: the list is asked for again (a key pasted, a server started since).
    a.update(key(KeyCode::Esc));
    let fx = a.update(key(KeyCode::Enter));
    assert!(
        matches!(&fx[..], [Effect::LoadModels { provider }] if provider == "ollama"),
        "{fx:?}"
    );
}

#[test]
fn a_background_sync_shows_on_the_status_line_and_a_problem_is_a_notice() {
    let mut a = app(NARROW);
    let done = crate::service::Synced {
        devices: 2,
        ..crate::service::Synced::default()
    };
    assert!(
        a.update(Msg::Synced {
            at: "09:41".into(),
            result: Ok(Box::new(done)),
        })
        .is_empty()
    );
    let screen = draw(&a);
    assert!(
        screen.contains("synced 09:41 with 2 other machines"),
        "{screen}"
    );
    assert_eq!(a.screen, Screen::Ask, "nothing else changes");
    // A failure is a notice on the status line; the screen stays usable.
    a.update(Msg::Synced {
        at: "09:42".into(),
        result: Err(ServiceError::Store(
            crate::service::StoreError::SyncNoKeyCheck {
                dir: "/sync".into(),
            },
        )),
    });
    assert!(
        a.status
            .as_ref()
            .is_some_and(|s| s.error && s.text.contains("no key check"))
    );
    a.update(key(KeyCode::Char('x')));
    assert_eq!(a.ask.text(), "x");
}

#[test]
fn what_wrote_to_the_store_asks_for_a_sync_and_what_only_read_does_not() {
    let deleted = Msg::Deleted {
        id: crate::model::ReadingId(1),
        result: Ok(()),
    };
    assert!(deleted.wrote());
    let failed = Msg::Deleted {
        id: crate::model::ReadingId(1),
        result: Err(ServiceError::NoTerminal),
    };
    assert!(!failed.wrote());
    assert!(!Msg::History(Ok(Vec::new())).wrote());
}

#[test]
fn c_shows_the_original_of_the_judgment_under_its_heading_in_view() {
    for size in [(60, 16), (80, 24), (200, 60)] {
        let mut a = app(size);
        a.reading.loading = Some(ReadingId(7));
        a.screen = Screen::Reading;
        a.update(loaded(complete_report()));
        // 3: the Judgment (the fixture's primary is 55 Feng).
        a.update(key(KeyCode::Char('3')));
        let judgment = crate::oracle::hexagram(55)
            .unwrap()
            .chinese()
            .judgment
            .clone();
        // Its first characters, which fit on any of these widths.
        let start: String = judgment.chars().take(4).collect();
        assert!(!draw(&a).contains(&start), "{size:?}: not before c");
        a.update(key(KeyCode::Char('c')));
        let shown = draw(&a);
        assert!(
            shown.contains(&start),
            "{size:?}: {start} in view:\n{shown}"
        );
        a.update(key(KeyCode::Char('c')));
        assert!(!draw(&a).contains(&start), "{size:?}: c again hides it");
    }
}
