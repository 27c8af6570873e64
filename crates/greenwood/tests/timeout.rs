//! `Timeout` and `with_timeout`.

mod util;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Duration;

use greenwood::hub::{get_hub, Waiter};
use greenwood::{spawn, with_timeout, ErrorKind, Timeout};
use util::{capture_failures, counter, CallOnDrop, Log};

const LONG: Duration = Duration::from_secs(3600);
const SHORT: Duration = Duration::from_millis(5);

#[test]
fn with_timeout_returns_the_value_or_elapsed() {
    assert_eq!(with_timeout(LONG, || 7), Ok(7));
    let line = line!() + 1;
    let e = with_timeout(SHORT, || greenwood::sleep(LONG)).unwrap_err();
    assert_eq!(e.duration(), SHORT);
    assert_eq!(e.location().line(), line);
    assert!(e.to_string().contains("tests/timeout.rs"), "{e}");
    assert_eq!(
        get_hub().pending_timers(),
        0,
        "the sleep's timer was cancelled"
    );
}

#[test]
fn a_timeout_runs_destructors_on_the_way_out() {
    let dropped = counter();
    let d = dropped.clone();
    let r = with_timeout(SHORT, move || {
        let _guard = CallOnDrop(d);
        greenwood::sleep(LONG);
    });
    assert!(r.is_err());
    assert_eq!(dropped.get(), 1);
}

#[test]
fn nested_timeouts_each_catch_only_their_own() {
    // The inner one fires first: it is caught inside, the outer never fires.
    let r = with_timeout(LONG, || {
        let inner = with_timeout(SHORT, || greenwood::sleep(LONG));
        assert!(inner.is_err());
        "outer finished"
    });
    assert_eq!(r, Ok("outer finished"));

    // The outer one fires first: it unwinds through the inner one.
    let reached = counter();
    let rc = reached.clone();
    let line = line!() + 1;
    let r = with_timeout(SHORT, || {
        let _inner = with_timeout(LONG, || greenwood::sleep(LONG));
        rc.set(1);
    });
    assert_eq!(r.unwrap_err().location().line(), line);
    assert_eq!(reached.get(), 0);
    assert_eq!(get_hub().pending_timers(), 0);
}

#[test]
fn a_timeout_that_fires_after_its_guard_is_gone_does_nothing() {
    assert_eq!(with_timeout(Duration::from_millis(2), || 1), Ok(1));
    let t = Timeout::start(Duration::from_millis(2));
    drop(t);
    let t2 = Timeout::start(Duration::from_millis(2));
    t2.cancel();
    greenwood::sleep(Duration::from_millis(10)); // not interrupted
}

#[test]
fn a_timeout_that_fires_while_the_greenlet_is_runnable_waits_for_its_next_blocking_point() {
    let w = Waiter::new();
    let log = Log::new();
    let (w2, l2) = (w.clone(), log.clone());
    let g = spawn(move || {
        with_timeout(Duration::from_millis(5), || {
            l2.push(w2.get()); // woken with an item just as the timeout fires
            greenwood::sleep(Duration::from_millis(1)); // the timeout lands here
            l2.push("not reached");
        })
    });
    greenwood::sleep(Duration::ZERO); // g parks in get()
                                      // Keep the hub from running past the deadline, then wake g.
    std::thread::sleep(Duration::from_millis(10));
    w.switch("item");
    assert!(g.get().unwrap().is_err());
    assert_eq!(log.get(), ["item"], "the item that woke it was not lost");
}

#[test]
fn a_bare_timeout_nobody_catches_ends_a_spawned_greenlet_with_timed_out() {
    let failures = capture_failures();
    let dropped = counter();
    let d = dropped.clone();
    let g = greenwood::Builder::new()
        .name("slow")
        .spawn(move || {
            let _guard = CallOnDrop(d);
            let _t = Timeout::start(SHORT);
            greenwood::sleep(LONG);
        })
        .unwrap();
    let err = g.get().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TimedOut);
    assert!(err.message().starts_with("timed out after 5ms"), "{err}");
    assert_eq!(dropped.get(), 1);
    let reported = failures.get();
    assert_eq!(reported.len(), 1);
    assert!(reported[0]
        .to_string()
        .starts_with("greenlet 'slow' (spawned at"));
}

#[test]
fn a_bare_timeout_can_be_caught_and_recognised() {
    let t = Timeout::start(SHORT);
    let r = catch_unwind(AssertUnwindSafe(|| greenwood::sleep(LONG)));
    let payload = r.unwrap_err();
    assert!(t.is(&*payload));
    let other = Timeout::start(LONG);
    assert!(!other.is(&*payload));
}

#[test]
fn timeouts_bound_joins_and_waiters_too() {
    let g = spawn(|| greenwood::sleep(LONG));
    assert!(with_timeout(SHORT, || g.join()).is_err());
    assert!(!g.dead());
    g.kill();
    let w: Waiter<u8> = Waiter::new();
    assert!(with_timeout(SHORT, || w.get()).is_err());
}

#[test]
fn killing_a_greenlet_inside_with_timeout_is_not_mistaken_for_a_timeout() {
    let g = spawn(|| with_timeout(LONG, || greenwood::sleep(LONG)));
    greenwood::sleep(Duration::ZERO);
    g.kill();
    assert_eq!(g.error().unwrap().kind(), ErrorKind::Killed);
    assert_eq!(get_hub().pending_timers(), 0);
}

#[test]
fn panics_pass_through_with_timeout_unchanged() {
    let r = catch_unwind(|| with_timeout(LONG, || panic!("not a timeout")));
    assert_eq!(util::panic_text(&*r.unwrap_err()), "not a timeout");
}

#[test]
fn every_call_with_a_time_limit_returns_elapsed_naming_where_it_waited() {
    // Regression: time limits spoke five dialects (bool, Option, Option<Result>, Result and
    // Result<Result, Self>); now a `Result` whose error says time ran out, and where.
    let d = Duration::from_millis(1);
    let e = greenwood::event::Event::new();
    let r: greenwood::event::AsyncResult<u8> = greenwood::event::AsyncResult::new();
    let s = greenwood::lock::Semaphore::new(0);
    let g = greenwood::spawn(|| greenwood::sleep(Duration::from_secs(60)));
    let line = line!() + 2;
    let errors: Vec<greenwood::Elapsed> = vec![
        e.wait_timeout(d).unwrap_err(),
        r.wait_timeout(d).unwrap_err(),
        r.get_timeout(d).unwrap_err(),
        s.acquire_timeout(d).unwrap_err(),
        g.join_timeout(d).unwrap_err(),
    ];
    for (i, err) in errors.iter().enumerate() {
        assert_eq!(err.duration(), d);
        assert_eq!(err.location().file(), file!());
        assert_eq!(err.location().line(), line + i as u32);
        assert!(
            err.to_string()
                .starts_with("timed out after 1ms (waited at "),
            "{err}"
        );
    }
    g.kill();
}

#[test]
fn a_timeout_with_a_value_unwinds_with_that_value_and_is_recognised() {
    #[derive(Clone, Debug, PartialEq)]
    struct Slow(&'static str);
    let t = Timeout::with_value(SHORT, Slow("db"));
    let p = catch_unwind(|| greenwood::sleep(LONG)).unwrap_err();
    assert!(t.is(&*p));
    assert!(
        !Timeout::start(LONG).is(&*p),
        "another timeout's value is not its own"
    );
    assert_eq!(*p.downcast::<Slow>().unwrap(), Slow("db"));
}

#[test]
fn an_uncaught_timeout_value_ends_the_greenlet_timed_out_and_is_reported() {
    let failures = capture_failures();
    let g = spawn(|| {
        let _t = Timeout::with_value(SHORT, "upstream too slow");
        greenwood::sleep(LONG);
    });
    let err = g.get().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TimedOut);
    assert_eq!(err.message(), "upstream too slow");
    let h = spawn(|| {
        let _t = Timeout::with_value(SHORT, 5u8);
        greenwood::sleep(LONG);
    });
    let err = h.get().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TimedOut);
    assert!(err.message().starts_with("timed out after 5ms"), "{err}");
    greenwood::sleep(Duration::ZERO);
    assert_eq!(failures.get().len(), 2);
}

#[test]
fn pending_is_true_until_it_fires_or_goes() {
    let t = Timeout::start(SHORT);
    assert!(t.pending());
    let p = catch_unwind(|| greenwood::sleep(LONG)).unwrap_err();
    assert!(t.is(&*p));
    assert!(!t.pending());
    drop(t);
    assert_eq!(get_hub().pending_timers(), 0);
}

#[test]
fn restart_moves_the_deadline_and_rearms_one_that_fired() {
    let mut t = Timeout::start(Duration::from_millis(200));
    // 300 ms in all, never 200 without a restart: not interrupted.
    for _ in 0..6 {
        greenwood::sleep(Duration::from_millis(50));
        t.restart();
    }
    assert!(t.pending());
    let p = catch_unwind(|| greenwood::sleep(LONG)).unwrap_err();
    assert!(t.is(&*p));
    assert!(!t.pending());
    t.restart();
    assert!(t.pending());
    let p = catch_unwind(|| greenwood::sleep(LONG)).unwrap_err();
    assert!(t.is(&*p));
    drop(t);
    assert_eq!(get_hub().pending_timers(), 0);
}

#[test]
fn restarting_a_value_timeout_raises_a_fresh_copy_each_time() {
    let mut t = Timeout::with_value(SHORT, vec![1u8, 2]);
    for _ in 0..2 {
        let p = catch_unwind(|| greenwood::sleep(LONG)).unwrap_err();
        assert!(t.is(&*p));
        assert_eq!(*p.downcast::<Vec<u8>>().unwrap(), vec![1, 2]);
        t.restart();
    }
}

#[test]
fn timeout_silent_ends_the_block_quietly() {
    let failures = capture_failures();
    assert_eq!(greenwood::timeout_silent(LONG, || 3), Some(3));
    let done = counter();
    let d = done.clone();
    let r = greenwood::timeout_silent(SHORT, move || {
        greenwood::sleep(LONG);
        d.set(1);
    });
    assert_eq!(r, None);
    assert_eq!(done.get(), 0);
    greenwood::sleep(Duration::ZERO);
    assert!(failures.get().is_empty());
}
