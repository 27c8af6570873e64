//! `sleep`, `idle`, the ready queue's order, and the hub's callbacks and waiter.

mod util;

use std::time::{Duration, Instant};

use greenwood::hub::{get_hub, Waiter};
use greenwood::spawn;
use util::{counter, Log};

#[test]
fn sleep_zero_lets_every_runnable_greenlet_run_first() {
    let log = Log::new();
    let gs: Vec<_> = (0..3)
        .map(|g| {
            let log = log.clone();
            spawn(move || {
                for round in 0..3 {
                    log.push((g, round));
                    greenwood::sleep(Duration::ZERO);
                }
            })
        })
        .collect();
    greenwood::joinall(&gs);
    let expected: Vec<_> = (0..3).flat_map(|r| (0..3).map(move |g| (g, r))).collect();
    assert_eq!(log.get(), expected);
}

#[test]
fn the_main_greenlet_yielding_runs_everything_already_runnable() {
    let log = Log::new();
    let gs: Vec<_> = (0..4)
        .map(|i| {
            let log = log.clone();
            spawn(move || log.push(i))
        })
        .collect();
    greenwood::sleep(Duration::ZERO);
    assert_eq!(log.get(), [0, 1, 2, 3]);
    assert!(gs.iter().all(|g| g.ready()));
}

#[test]
fn sleepers_wake_in_deadline_order_and_fifo_for_equal_deadlines() {
    let log = Log::new();
    let mut gs = Vec::new();
    for (name, ms) in [("c", 30), ("a", 10), ("b", 20), ("a2", 10)] {
        let log = log.clone();
        gs.push(spawn(move || {
            greenwood::sleep(Duration::from_millis(ms));
            log.push(name);
        }));
    }
    greenwood::joinall(&gs);
    assert_eq!(log.get(), ["a", "a2", "b", "c"]);
}

#[test]
fn sleep_never_returns_early() {
    for ms in [1, 2, 5, 13] {
        let d = Duration::from_millis(ms);
        let start = Instant::now();
        greenwood::sleep(d);
        assert!(start.elapsed() >= d);
    }
    let start = Instant::now();
    greenwood::sleep(Duration::from_micros(300));
    assert!(start.elapsed() >= Duration::from_micros(300));
}

#[test]
fn a_hundred_thousand_greenlets_sleep_and_wake() {
    const N: usize = 100_000;
    let woke = counter();
    let gs: Vec<_> = (0..N)
        .map(|i| {
            let woke = woke.clone();
            greenwood::Builder::new()
                .stack_size(16 * 1024)
                .spawn(move || {
                    // A spread of durations over 0..=50 ms, some repeated, some zero.
                    greenwood::sleep(Duration::from_millis((i * 7919 % 51) as u64));
                    woke.set(woke.get() + 1);
                })
                .unwrap()
        })
        .collect();
    greenwood::joinall(&gs);
    assert_eq!(woke.get() as usize, N);
    assert_eq!(get_hub().live_greenlets(), 0);
    assert_eq!(get_hub().pending_timers(), 0);
}

#[test]
fn idle_waits_until_nothing_else_is_runnable() {
    let log = Log::new();
    let l = log.clone();
    let _g = spawn(move || {
        for i in 0..5 {
            l.push(i);
            greenwood::sleep(Duration::ZERO);
        }
    });
    greenwood::idle();
    assert_eq!(log.get(), [0, 1, 2, 3, 4]);
}

#[test]
fn callbacks_run_in_fifo_order_between_greenlets() {
    let hub = get_hub();
    let log = Log::new();
    for i in 0..3 {
        let l = log.clone();
        hub.run_callback(move || l.push(i));
    }
    greenwood::sleep(Duration::ZERO);
    assert_eq!(log.get(), [0, 1, 2]);
}

#[test]
fn a_callback_that_panics_is_reported_and_the_loop_goes_on() {
    let hub = get_hub();
    let log = Log::new();
    hub.run_callback(|| panic!("callback bug"));
    let l = log.clone();
    hub.run_callback(move || l.push("next"));
    greenwood::sleep(Duration::ZERO);
    assert_eq!(log.get(), ["next"]);
}

#[test]
fn a_callback_that_blocks_is_refused_with_a_clear_message() {
    if util::child_case().is_some() {
        let hub = get_hub();
        hub.run_callback(|| greenwood::sleep(Duration::from_millis(1)));
        greenwood::sleep(Duration::from_millis(5));
        eprintln!("loop still running");
        return;
    }
    let out = util::run_child(
        "a_callback_that_blocks_is_refused_with_a_clear_message",
        "block",
    );
    let err = util::stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("a blocking call ran inside the hub"), "{err}");
    assert!(err.contains("loop still running"), "{err}");
}

#[test]
fn a_waiter_hands_a_value_to_the_greenlet_waiting_on_it() {
    let w = Waiter::new();
    assert!(!w.ready());
    let w2 = w.clone();
    let g = spawn(move || w2.get() * 2);
    greenwood::sleep(Duration::ZERO);
    assert!(!g.ready());
    w.switch(21);
    assert_eq!(g.get().unwrap(), 42);
    // Filled before anyone waits: get returns at once.
    w.switch(1);
    assert!(w.ready());
    assert_eq!(w.get(), 1);
}

#[test]
fn each_thread_has_its_own_hub() {
    let threads: Vec<_> = (0..4)
        .map(|t| {
            std::thread::spawn(move || {
                let gs: Vec<_> = (0..100)
                    .map(|i| {
                        spawn(move || {
                            greenwood::sleep(Duration::from_millis(1));
                            t * 1000 + i
                        })
                    })
                    .collect();
                greenwood::joinall(&gs);
                gs.iter().map(|g| g.get().unwrap()).sum::<u32>()
            })
        })
        .collect();
    for (t, th) in threads.into_iter().enumerate() {
        let t = t as u32;
        assert_eq!(th.join().unwrap(), 100 * t * 1000 + 4950);
    }
}

#[test]
fn a_thread_that_exits_with_parked_greenlets_unwinds_them() {
    use std::sync::atomic::{AtomicU32, Ordering};
    static DROPPED: AtomicU32 = AtomicU32::new(0);
    struct Guard;
    impl Drop for Guard {
        fn drop(&mut self) {
            DROPPED.fetch_add(1, Ordering::SeqCst);
        }
    }
    let th = std::thread::spawn(|| {
        for _ in 0..10 {
            drop(spawn(move || {
                let _guard = Guard;
                greenwood::sleep(Duration::from_secs(3600));
            }));
        }
        greenwood::sleep(Duration::ZERO);
        assert_eq!(get_hub().live_greenlets(), 10);
    });
    th.join().unwrap();
    assert_eq!(DROPPED.load(Ordering::SeqCst), 10);
}
