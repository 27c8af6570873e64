//! `Semaphore`, `BoundedSemaphore`, `Lock`, `RLock`: FIFO hand-off, and nothing lost when a
//! waiter is killed or times out.

mod util;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Duration;

use greenwood::lock::{BoundedSemaphore, Lock, RLock, Semaphore};
use greenwood::{spawn, ErrorKind};
use util::{panic_text, Log};

const LONG: Duration = Duration::from_secs(3600);

fn waiter(s: &Semaphore, log: &Log<usize>, i: usize) -> greenwood::Greenlet<()> {
    let (s, log) = (s.clone(), log.clone());
    spawn(move || {
        let _p = s.acquire();
        log.push(i);
    })
}

#[test]
fn permits_go_to_waiters_in_the_order_they_came() {
    let s = Semaphore::new(0);
    let log = Log::new();
    let gs: Vec<_> = (0..5).map(|i| waiter(&s, &log, i)).collect();
    greenwood::sleep(Duration::ZERO);
    assert_eq!(s.waiters(), 5);
    s.release();
    greenwood::joinall(&gs);
    // Each holder releases as it finishes, handing the permit to the next.
    assert_eq!(log.get(), [0, 1, 2, 3, 4]);
    assert_eq!(s.available_permits(), 1);
}

#[test]
fn a_released_permit_cannot_be_taken_by_someone_who_did_not_wait() {
    let s = Semaphore::new(1);
    let held = s.acquire();
    let log = Log::new();
    let g = waiter(&s, &log, 1);
    greenwood::sleep(Duration::ZERO);
    drop(held); // handed to the waiter, who has not run yet
    assert!(s.try_acquire().is_none(), "no barging");
    g.join();
    assert_eq!(log.get(), [1]);
    assert!(s.try_acquire().is_some());
}

#[test]
fn killing_a_waiter_leaks_no_permit_and_the_next_waiter_is_served() {
    let s = Semaphore::new(0);
    let log = Log::new();
    let a = waiter(&s, &log, 0);
    let b = waiter(&s, &log, 1);
    greenwood::sleep(Duration::ZERO);
    a.kill();
    s.release();
    b.join();
    assert_eq!(log.get(), [1]);
    assert_eq!(s.available_permits(), 1);
    assert_eq!(s.waiters(), 0);
}

#[test]
fn a_waiter_that_times_out_takes_no_permit() {
    let s = Semaphore::new(0);
    assert!(s.acquire_timeout(Duration::from_millis(1)).is_err());
    let s2 = s.clone();
    let g =
        spawn(move || greenwood::with_timeout(Duration::from_millis(1), || s2.acquire().forget()));
    assert!(g.get().unwrap().is_err());
    s.release();
    assert_eq!(s.available_permits(), 1);
    assert_eq!(greenwood::hub::get_hub().pending_timers(), 0);
}

#[test]
fn a_permit_handed_over_just_before_a_kill_is_released_by_the_unwinding_guard() {
    let s = Semaphore::new(0);
    let log = Log::new();
    let (s2, l2) = (s.clone(), log.clone());
    let g = spawn(move || {
        let _p = s2.acquire();
        l2.push("got it");
        greenwood::sleep(LONG); // the kill lands here
    });
    greenwood::sleep(Duration::ZERO);
    s.release(); // handed to g, which is now runnable
    g.kill_nowait(); // killed before it ran
    g.join();
    assert_eq!(log.get(), ["got it"]);
    assert_eq!(g.error().unwrap().kind(), ErrorKind::Killed);
    assert_eq!(s.available_permits(), 1, "the permit came back");
}

#[test]
fn a_permit_handed_over_as_a_timeout_fires_is_not_lost() {
    let s = Semaphore::new(0);
    let log = Log::new();
    let (s2, l2) = (s.clone(), log.clone());
    let g = spawn(move || {
        greenwood::with_timeout(Duration::from_millis(5), || {
            let _p = s2.acquire();
            l2.push("got it");
            greenwood::sleep(Duration::from_millis(1)); // the timeout lands here
        })
    });
    greenwood::sleep(Duration::ZERO);
    std::thread::sleep(Duration::from_millis(10)); // past the deadline, hub not running
    s.release();
    assert!(g.get().unwrap().is_err());
    assert_eq!(log.get(), ["got it"]);
    assert_eq!(s.available_permits(), 1);
}

#[test]
fn a_bounded_semaphore_refuses_to_be_released_past_its_bound() {
    let s = BoundedSemaphore::new(2);
    let line = line!() - 1;
    let err = s.release().unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "BoundedSemaphore created at {}:{line}:13 was released more times than it was acquired",
            file!()
        )
    );
    let p = s.acquire();
    drop(p);
    assert_eq!(s.available_permits(), 2);
}

#[test]
fn a_lock_keeps_a_critical_section_that_yields_to_one_greenlet() {
    let lock = Lock::new();
    let log = Log::new();
    let gs: Vec<_> = (0..3)
        .map(|i| {
            let (lock, log) = (lock.clone(), log.clone());
            spawn(move || {
                let _held = lock.acquire();
                log.push((i, "in"));
                greenwood::sleep(Duration::ZERO);
                log.push((i, "out"));
            })
        })
        .collect();
    greenwood::joinall(&gs);
    let expected: Vec<_> = (0..3).flat_map(|i| [(i, "in"), (i, "out")]).collect();
    assert_eq!(log.get(), expected);
    assert!(lock.release().is_err(), "not locked");
}

#[test]
fn taking_a_lock_twice_in_one_greenlet_is_reported_as_a_deadlock_naming_the_lock() {
    let lock = Lock::new();
    let line = line!() - 1;
    let _held = lock.acquire();
    let r = catch_unwind(AssertUnwindSafe(|| lock.acquire()));
    let msg = panic_text(&*r.unwrap_err());
    assert!(
        msg.contains(&format!("it waits on Lock created at {}:{line}:", file!())),
        "{msg}"
    );
}

#[test]
fn an_rlock_is_reentrant_for_its_owner_only() {
    let l = RLock::new();
    let outer = l.acquire();
    let inner = l.acquire();
    let l2 = l.clone();
    let other = spawn(move || {
        assert!(l2.release().is_err(), "not the owner");
        let _g = l2.acquire(); // waits for both holds to go
        "other got it"
    });
    greenwood::sleep(Duration::ZERO);
    drop(inner);
    greenwood::sleep(Duration::ZERO);
    assert!(!other.ready());
    drop(outer);
    assert_eq!(other.get().unwrap(), "other got it");
    assert!(!l.locked());
}

mod model {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

        /// `try_acquire` and dropping guards behave as a counter that never goes below zero.
        #[test]
        fn try_acquire_and_release_match_a_counter(
            permits in 0usize..4,
            ops in proptest::collection::vec(any::<bool>(), 0..60),
        ) {
            let s = Semaphore::new(permits);
            let mut held = Vec::new();
            for acquire in ops {
                if acquire {
                    let before = s.available_permits();
                    match s.try_acquire() {
                        Some(g) => {
                            prop_assert!(before > 0);
                            held.push(g);
                        }
                        None => prop_assert_eq!(before, 0),
                    }
                } else if let Some(g) = held.pop() {
                    drop(g);
                }
                prop_assert_eq!(s.available_permits() + held.len(), permits);
            }
        }

        /// However greenlets holding or waiting for permits are killed or time out, every
        /// permit comes back, and never more than there were.
        #[test]
        fn permits_are_conserved_under_kills_and_timeouts(
            permits in 1usize..3,
            workers in proptest::collection::vec((0u64..3, 0u64..3), 1..6),
            kills in proptest::collection::vec((0usize..6, 0u8..4), 0..4),
        ) {
            let s = BoundedSemaphore::new(permits);
            let gs: Vec<_> = workers
                .into_iter()
                .map(|(timeout, hold)| {
                    let s = s.clone();
                    spawn(move || {
                        let guard = if timeout == 0 {
                            Some(s.acquire())
                        } else {
                            s.acquire_timeout(Duration::from_millis(timeout)).ok()
                        };
                        if guard.is_some() {
                            greenwood::sleep(Duration::from_millis(hold));
                        }
                    })
                })
                .collect();
            for (victim, yields) in kills {
                for _ in 0..yields {
                    greenwood::sleep(Duration::ZERO);
                }
                if let Some(g) = gs.get(victim) {
                    g.kill_nowait();
                }
            }
            greenwood::joinall(&gs);
            prop_assert_eq!(s.available_permits(), permits);
            prop_assert!(s.release().is_err());
        }
    }
}

#[test]
fn an_rlock_waiter_that_is_killed_or_times_out_takes_nothing() {
    let l = RLock::new();
    let held = l.acquire();
    let l2 = l.clone();
    let killed = spawn(move || drop(l2.acquire()));
    let l3 = l.clone();
    let timed =
        spawn(move || greenwood::with_timeout(Duration::from_millis(1), || drop(l3.acquire())));
    greenwood::sleep(Duration::ZERO);
    killed.kill();
    assert!(timed.get().unwrap().is_err());
    drop(held);
    assert!(!l.locked());
    let _again = l.acquire();
}

#[test]
fn rlock_try_acquire_and_acquire_timeout_are_reentrant_and_give_up_on_others() {
    let l = RLock::new();
    let a = l.try_acquire().expect("free");
    let b = l.acquire_timeout(Duration::ZERO).expect("the holder again");
    let (l2, l3) = (l.clone(), l.clone());
    let other = spawn(move || l2.try_acquire().is_none());
    assert!(other.get().unwrap());
    let timed = spawn(move || l3.acquire_timeout(Duration::from_millis(2)).is_err());
    assert!(timed.get().unwrap());
    drop(b);
    assert!(l.locked(), "one hold left");
    let l4 = l.clone();
    let waiter = spawn(move || l4.acquire_timeout(LONG).map(|_held| l4.held_by_current()));
    greenwood::sleep(Duration::ZERO);
    drop(a);
    assert_eq!(waiter.get().unwrap(), Ok(true));
    assert!(!l.locked());
}

#[test]
fn semaphore_rawlinks_run_when_a_permit_is_free_not_when_it_is_handed_on() {
    let s = Semaphore::new(1);
    let permit = s.acquire();
    let log = Log::new();
    let l = log.clone();
    s.rawlink(move |s| l.push(s.available_permits()));
    let s2 = s.clone();
    let waiter = spawn(move || {
        let _p = s2.acquire();
        greenwood::sleep(Duration::from_millis(1));
    });
    greenwood::sleep(Duration::ZERO);
    drop(permit); // handed to the waiter: no permit is free
    greenwood::sleep(Duration::ZERO);
    assert!(log.get().is_empty());
    waiter.join(); // its release frees the permit
    greenwood::sleep(Duration::ZERO);
    assert_eq!(log.get(), [1]);
    assert_eq!(s.linkcount(), 0);
}

#[test]
fn lock_and_bounded_semaphore_rawlinks_run_once_they_are_free_and_unlink_stops_them() {
    let lock = Lock::new();
    let held = lock.acquire();
    let log = Log::new();
    let (l1, l2) = (log.clone(), log.clone());
    lock.rawlink(move |l| l1.push(("lock", l.locked())));
    let dropped = lock.rawlink(move |_| l2.push(("unlinked", true)));
    assert_eq!(lock.linkcount(), 2);
    assert!(lock.unlink(dropped));
    greenwood::sleep(Duration::ZERO);
    assert!(log.get().is_empty(), "nothing runs while the lock is held");
    drop(held);
    greenwood::sleep(Duration::ZERO);
    assert_eq!(log.get(), [("lock", false)]);
    assert_eq!(lock.linkcount(), 0, "one-shot");

    let s = BoundedSemaphore::new(2);
    let (a, b) = (s.acquire(), s.acquire());
    let l3 = log.clone();
    s.rawlink(move |s| l3.push(("bounded", s.available_permits() == 1)));
    drop(a);
    greenwood::sleep(Duration::ZERO);
    assert_eq!(log.get()[1], ("bounded", true));
    drop(b);
    assert_eq!(s.linkcount(), 0);
}
