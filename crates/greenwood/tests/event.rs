//! `Event` and `AsyncResult`.

mod util;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Duration;

use greenwood::event::{AlreadySet, AsyncResult, Event};
use greenwood::{spawn, ErrorKind};
use util::{panic_text, Log};

#[test]
fn set_wakes_every_waiter_in_the_order_they_came() {
    let e = Event::new();
    let log = Log::new();
    let gs: Vec<_> = (0..4)
        .map(|i| {
            let (e, log) = (e.clone(), log.clone());
            spawn(move || {
                e.wait();
                log.push(i);
            })
        })
        .collect();
    greenwood::sleep(Duration::ZERO);
    assert!(log.get().is_empty());
    e.set();
    greenwood::joinall(&gs);
    assert_eq!(log.get(), [0, 1, 2, 3]);
}

#[test]
fn a_waiter_woken_by_set_returns_even_if_the_flag_was_cleared_before_it_ran() {
    let e = Event::new();
    let e2 = e.clone();
    let g = spawn(move || e2.wait_timeout(Duration::from_secs(10)));
    greenwood::sleep(Duration::ZERO);
    e.set();
    e.clear();
    assert_eq!(g.get().unwrap(), Ok(()));
    // After clear, new waiters block again.
    assert!(e.wait_timeout(Duration::from_millis(1)).is_err());
}

#[test]
fn wait_timeout_reports_false_and_leaves_nothing_behind() {
    let e = Event::new();
    assert!(e.wait_timeout(Duration::from_millis(2)).is_err());
    assert_eq!(greenwood::hub::get_hub().pending_timers(), 0);
    e.set();
    assert!(e.wait_timeout(Duration::from_millis(2)).is_ok());
}

#[test]
fn killing_or_timing_out_a_waiter_does_not_disturb_the_others() {
    let e = Event::new();
    let log = Log::new();
    let (e1, l1) = (e.clone(), log.clone());
    let killed = spawn(move || {
        e1.wait();
        l1.push("killed one woke");
    });
    let e2 = e.clone();
    let timed = spawn(move || greenwood::with_timeout(Duration::from_millis(1), || e2.wait()));
    let (e3, l3) = (e.clone(), log.clone());
    let patient = spawn(move || {
        e3.wait();
        l3.push("patient woke");
    });
    greenwood::sleep(Duration::ZERO);
    killed.kill();
    assert!(timed.get().unwrap().is_err());
    e.set();
    patient.join();
    assert_eq!(log.get(), ["patient woke"]);
}

#[test]
fn waiting_on_an_event_nobody_sets_names_it() {
    let e = Event::new();
    let line = line!() - 1;
    let r = catch_unwind(AssertUnwindSafe(|| e.wait()));
    let msg = panic_text(&*r.unwrap_err());
    assert!(
        msg.contains(&format!("it waits on Event created at {}:{line}:", file!())),
        "{msg}"
    );
}

#[test]
fn events_and_greenlets_mix_in_iwait() {
    let e = Event::new();
    let e2 = e.clone();
    let g = spawn(move || {
        greenwood::sleep(Duration::from_millis(5));
        e2.set();
    });
    let objects: [&dyn greenwood::Waitable; 2] = [&g, &e];
    let order: Vec<usize> = greenwood::iwait(&objects).collect();
    assert_eq!(
        order,
        [1, 0],
        "the event is set before the greenlet returns"
    );
}

#[test]
fn an_async_result_hands_every_waiter_the_same_value() {
    let r: AsyncResult<String> = AsyncResult::new();
    let gs: Vec<_> = (0..3)
        .map(|_| {
            let r = r.clone();
            spawn(move || r.get())
        })
        .collect();
    greenwood::sleep(Duration::ZERO);
    r.set("photo".to_string()).unwrap();
    for g in &gs {
        assert_eq!(g.take().unwrap(), Ok("photo".to_string()));
    }
    assert!(r.ready() && r.successful());
}

#[test]
fn an_async_result_is_set_once() {
    let r: AsyncResult<u8, &str> = AsyncResult::new();
    r.set_error("no").unwrap();
    assert_eq!(r.set(1), Err(AlreadySet(1)));
    assert_eq!(r.set_error("again"), Err(AlreadySet("again")));
    assert_eq!(r.get(), Err("no"));
    assert!(!r.successful());
    assert_eq!(
        AlreadySet(1).to_string(),
        "this AsyncResult was already set; it can be set only once"
    );
}

#[test]
fn get_timeout_gives_nothing_when_unset_and_honours_kill() {
    let r: AsyncResult<u8> = AsyncResult::new();
    assert!(r.get_timeout(Duration::from_millis(1)).is_err());
    let r2 = r.clone();
    let g = spawn(move || r2.get());
    greenwood::sleep(Duration::ZERO);
    g.kill();
    assert_eq!(g.error().unwrap().kind(), ErrorKind::Killed);
    r.set(4).unwrap();
    assert_eq!(r.get_timeout(Duration::from_millis(1)), Ok(Ok(4)));
}

#[test]
fn event_rawlinks_run_once_on_the_hub_after_set_in_order_and_unlink_stops_one() {
    let e = Event::new();
    let log = Log::new();
    let (a, b) = (log.clone(), log.clone());
    e.rawlink(move |e| a.push(("first", e.is_set())));
    let dropped = e.rawlink(|_| unreachable!("unlinked"));
    e.rawlink(move |_| b.push(("second", true)));
    assert_eq!(e.linkcount(), 3);
    assert!(e.unlink(dropped));
    assert!(!e.unlink(dropped));
    e.set();
    assert!(log.get().is_empty(), "not inside set: on the hub, later");
    greenwood::sleep(Duration::ZERO);
    assert_eq!(log.get(), [("first", true), ("second", true)]);
    assert_eq!(e.linkcount(), 0);
    // Once: a second set runs nothing; a link added while set runs soon.
    e.clear();
    e.set();
    let c = log.clone();
    e.rawlink(move |_| c.push(("late", true)));
    greenwood::sleep(Duration::ZERO);
    assert_eq!(log.get().len(), 3);
}

#[test]
fn a_panicking_rawlink_is_reported_and_the_others_run() {
    let reports = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let r = reports.clone();
    greenwood::report::set_handler(Some(Box::new(move |rep: &greenwood::report::Report| {
        r.lock().unwrap().push(rep.message.clone());
    })));
    let e = Event::new();
    let ran = util::counter();
    let c = ran.clone();
    e.rawlink(|_| panic!("link bug"));
    e.rawlink(move |_| c.set(1));
    e.set();
    greenwood::sleep(Duration::ZERO);
    greenwood::report::set_handler(None);
    assert_eq!(ran.get(), 1);
    let reports = reports.lock().unwrap();
    assert!(
        reports.iter().any(
            |m| m.contains("a rawlink callback of an Event panicked") && m.contains("link bug")
        ),
        "{reports:?}"
    );
}

#[test]
fn async_result_rawlinks_see_the_outcome() {
    let r: AsyncResult<u8, String> = AsyncResult::new();
    let log = Log::new();
    let l = log.clone();
    r.rawlink(move |r| l.push(r.peek()));
    r.set_error("refused".to_string()).unwrap();
    greenwood::sleep(Duration::ZERO);
    assert_eq!(log.get(), [Some(Err("refused".to_string()))]);
    assert_eq!(r.linkcount(), 0);
}
