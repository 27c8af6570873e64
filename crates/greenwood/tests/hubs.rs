//! `greenwood::hubs` and `greenwood::channel`: greenlets on several hubs, and what passes
//! between them.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use greenwood::channel::{self, SendTimeoutError, TrySendError};
use greenwood::hubs::{self, Event, Hubs, Semaphore};
use greenwood::queue::GetError;
use greenwood::ErrorKind;
use proptest::prelude::*;

#[test]
fn what_crosses_hubs_is_send_and_sync() {
    fn both<T: Send + Sync>() {}
    both::<Hubs>();
    both::<hubs::SendGreenlet<String>>();
    both::<channel::Sender<String>>();
    both::<channel::Receiver<String>>();
    both::<Event>();
    both::<Semaphore>();
    both::<hubs::SemaphorePermit>();
}

#[test]
fn a_greenlet_on_one_hub_joins_one_on_another() {
    let hubs = Arc::new(Hubs::new(2).unwrap());
    let h = hubs.clone();
    let outer = hubs.spawn_on(0, move || {
        let inner = h.spawn_on(1, || {
            greenwood::sleep(Duration::from_millis(20));
            (hubs::current(), std::thread::current().id())
        });
        // While it waits, its own hub runs its other greenlets.
        let ticks = greenwood::spawn(|| {
            let mut n = 0;
            for _ in 0..5 {
                greenwood::sleep(Duration::from_millis(1));
                n += 1;
            }
            n
        });
        let got = inner.take().unwrap();
        (
            got,
            hubs::current(),
            std::thread::current().id(),
            ticks.get().unwrap(),
        )
    });
    let ((inner_hub, inner_thread), outer_hub, outer_thread, ticks) = outer.take().unwrap();
    assert_eq!(inner_hub, Some(1));
    assert_eq!(outer_hub, Some(0));
    assert_ne!(inner_thread, outer_thread);
    assert_eq!(ticks, 5);
}

#[test]
fn a_plain_thread_receives_from_a_greenlet() {
    let hubs = Hubs::new(1).unwrap();
    let (tx, rx) = channel::bounded(4);
    let producer = hubs.spawn_on(0, move || {
        for i in 0..100u32 {
            tx.send(i).unwrap();
        }
    });
    // A thread without a hub blocks itself in recv, and gets everything in order.
    let got = std::thread::spawn(move || rx.iter().collect::<Vec<_>>())
        .join()
        .unwrap();
    assert_eq!(got, (0..100).collect::<Vec<_>>());
    producer.join();
    assert!(producer.successful());
}

/// Counts the drops of its values: a greenlet that is unwound drops what it holds.
struct Tracked(Arc<AtomicUsize>);

impl Drop for Tracked {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn dropping_hubs_unwinds_their_parked_greenlets() {
    let dropped = Arc::new(AtomicUsize::new(0));
    let hubs = Hubs::new(2).unwrap();
    let (_tx, rx) = channel::unbounded::<u8>();
    let mut handles = Vec::new();
    for i in 0..20 {
        let d = dropped.clone();
        let rx = rx.clone();
        handles.push(hubs.spawn_on(i % 2, move || {
            let _held = Tracked(d);
            match i % 4 {
                0 => greenwood::sleep(Duration::from_secs(3600)),
                1 => {
                    let _ = rx.recv();
                }
                2 => greenwood::event::Event::new().wait(),
                _ => loop {
                    greenwood::sleep(Duration::ZERO);
                },
            }
        }));
    }
    // Let every one of them start and park.
    while handles.iter().any(|_| hubs.load(0) + hubs.load(1) < 20) {
        std::thread::sleep(Duration::from_millis(1));
    }
    std::thread::sleep(Duration::from_millis(20));
    drop(hubs);
    assert_eq!(dropped.load(Ordering::SeqCst), 20);
    for g in &handles {
        assert!(g.ready());
        assert_eq!(g.take().unwrap_err().kind(), ErrorKind::Killed);
    }
}

#[test]
fn a_handle_kills_before_and_after_start_and_from_a_thread() {
    let hubs = Hubs::new(1).unwrap();
    // Hold the hub so the next spawn cannot start before it is killed.
    let gate = Event::new();
    let g2 = gate.clone();
    let holder = hubs.spawn_on(0, move || {
        // Blocks the hub's thread, not just the greenlet: the spawn below stays queued.
        while !g2.is_set() {
            std::thread::sleep(Duration::from_millis(1));
        }
    });
    let never = hubs.spawn_on(0, || panic!("a killed greenlet must not start"));
    never.kill_nowait();
    gate.set();
    holder.join();
    let err = never.take().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Killed);
    assert!(err.message().contains("before it started"), "{err}");

    let sleeper = hubs.spawn_on(0, || greenwood::sleep(Duration::from_secs(3600)));
    assert!(sleeper.join_timeout(Duration::from_millis(20)).is_err());
    std::thread::spawn({
        let s = sleeper.clone();
        move || s.kill()
    })
    .join()
    .unwrap();
    assert!(sleeper.ready() && !sleeper.successful());
    assert_eq!(sleeper.take().unwrap_err().kind(), ErrorKind::Killed);
}

#[test]
fn values_are_taken_once_and_failures_are_reported() {
    let hubs = Hubs::new(1).unwrap();
    let g = hubs.spawn_on(0, || vec![1, 2, 3]);
    assert_eq!(g.get().unwrap(), [1, 2, 3]);
    assert_eq!(g.take().unwrap(), [1, 2, 3]);
    assert_eq!(g.take().unwrap_err().kind(), ErrorKind::Taken);
    greenwood::set_failure_handler(Some(Box::new(|_| {})));
    let failing = hubs.spawn_on(0, || -> u8 { panic!("no photo for user 7") });
    let err = failing.take().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Panicked);
    assert_eq!(err.message(), "no photo for user 7");
    assert_eq!(err.spawned_at().unwrap().file(), file!());
}

#[test]
fn spawn_balances_the_load() {
    let hubs = Hubs::new(2).unwrap();
    let stop = Event::new();
    let gs: Vec<_> = (0..10)
        .map(|_| {
            let stop = stop.clone();
            hubs.spawn(move || {
                stop.wait();
                hubs::current().unwrap()
            })
        })
        .collect();
    assert_eq!((hubs.load(0), hubs.load(1)), (5, 5));
    stop.set();
    let on_one = gs.iter().filter(|g| g.take().unwrap() == 1).count();
    assert_eq!(on_one, 5);
    assert_eq!((hubs.load(0), hubs.load(1)), (0, 0));
}

#[test]
#[should_panic(expected = "there is no hub 2: these Hubs have 2 (0 to 1)")]
fn spawn_on_a_hub_that_does_not_exist_says_so() {
    let hubs = Hubs::new(2).unwrap();
    hubs.spawn_on(2, || ());
}

#[test]
fn a_burst_to_a_busy_hub_costs_one_wakeup() {
    let hubs = Hubs::new(1).unwrap();
    let (tx, rx) = channel::unbounded::<u32>();
    let (ready_tx, ready_rx) = channel::unbounded();
    let received = Arc::new(AtomicUsize::new(0));
    let r = received.clone();
    let receiver = hubs.spawn_on(0, move || {
        let before = greenwood::hub::get_hub().stats().wakeups;
        ready_tx.send(()).unwrap();
        // Park, so the hub goes to sleep in its poll.
        let mut n = rx.recv().map_or(0, |_| 1);
        // The first item woke the hub; the rest arrive while it is busy here.
        std::thread::sleep(Duration::from_millis(200));
        n += rx.iter().count();
        r.store(n, Ordering::SeqCst);
        greenwood::hub::get_hub().stats().wakeups - before
    });
    ready_rx.recv().unwrap();
    std::thread::sleep(Duration::from_millis(20)); // the receiver parks, the hub sleeps
    for i in 0..1000 {
        tx.send(i).unwrap();
    }
    drop(tx);
    let wakeups = receiver.take().unwrap();
    assert_eq!(received.load(Ordering::SeqCst), 1000);
    // The burst began while the hub slept (one write, or none if it was still spinning
    // before its sleep), and the rest went to a busy hub (none); the end of the channel, too.
    assert!(
        wakeups <= 1,
        "{wakeups} eventfd writes for a burst of 1,000 sends"
    );
}

#[test]
fn a_bounded_send_parks_the_greenlet_not_the_hub() {
    let hubs = Hubs::new(1).unwrap();
    let (tx, rx) = channel::bounded(1);
    let g = hubs.spawn_on(0, move || {
        tx.send(1).unwrap();
        let other = greenwood::spawn(|| "ran while the sender waited");
        let started = Instant::now();
        assert_eq!(
            tx.send_timeout(2, Duration::from_millis(30)),
            Err(SendTimeoutError::Timeout(2))
        );
        assert!(started.elapsed() >= Duration::from_millis(30));
        assert!(other.ready());
        tx.send(3).unwrap(); // waits for the receiver below
        assert_eq!(tx.try_send(4), Err(TrySendError::Full(4)));
        other.get().unwrap()
    });
    std::thread::sleep(Duration::from_millis(60));
    assert_eq!(rx.recv(), Some(1));
    assert_eq!(g.take().unwrap(), "ran while the sender waited");
    assert_eq!(rx.try_recv(), Ok(3));
    assert_eq!(rx.try_recv(), Err(GetError::ShutDown));
}

#[test]
fn the_last_receiver_gone_fails_sends_and_frees_the_items() {
    let dropped = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = channel::bounded(2);
    tx.send(Tracked(dropped.clone())).unwrap();
    tx.send(Tracked(dropped.clone())).unwrap();
    let rx2 = rx.clone();
    drop(rx);
    assert_eq!(dropped.load(Ordering::SeqCst), 0);
    drop(rx2);
    assert_eq!(dropped.load(Ordering::SeqCst), 2);
    let err = tx.send(Tracked(dropped.clone())).unwrap_err();
    drop(err);
    assert_eq!(dropped.load(Ordering::SeqCst), 3);
}

#[test]
#[should_panic(expected = "use bounded(1)")]
fn a_channel_without_room_is_refused() {
    let _ = channel::bounded::<u8>(0);
}

/// Decrements its counter when dropped.
struct Leave(Arc<AtomicUsize>);

impl Drop for Leave {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

#[test]
fn a_cross_hub_semaphore_bounds_concurrency_and_survives_kills() {
    let hubs = Hubs::new(2).unwrap();
    let sem = Semaphore::new(3);
    let inside = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let gs: Vec<_> = (0..40)
        .map(|_| {
            let (sem, inside, most) = (sem.clone(), inside.clone(), most.clone());
            hubs.spawn(move || {
                let _p = sem.acquire();
                let n = inside.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(n, Ordering::SeqCst);
                // Counted out however it leaves (a kill unwinds the sleep), before the permit
                // is given back.
                let _out = Leave(inside);
                greenwood::sleep(Duration::from_millis(2));
            })
        })
        .collect();
    // Kill some while they wait for a permit, or hold one.
    for g in gs.iter().step_by(3) {
        g.kill_nowait();
    }
    for g in &gs {
        g.join();
    }
    assert!(most.load(Ordering::SeqCst) <= 3);
    assert_eq!(sem.available_permits(), 3);
    // A plain thread waits on it as well.
    let p = sem.acquire_timeout(Duration::from_secs(1)).unwrap();
    drop(p);
}

#[test]
fn a_cross_hub_event_releases_greenlets_and_threads() {
    let hubs = Hubs::new(2).unwrap();
    let e = Event::new();
    let gs: Vec<_> = (0..6)
        .map(|i| {
            let e = e.clone();
            hubs.spawn_on(i % 2, move || e.wait())
        })
        .collect();
    let t = {
        let e = e.clone();
        std::thread::spawn(move || e.wait_timeout(Duration::from_secs(10)))
    };
    std::thread::sleep(Duration::from_millis(10));
    assert!(gs.iter().all(|g| !g.ready()));
    e.set();
    for g in &gs {
        g.take().unwrap();
    }
    assert!(t.join().unwrap().is_ok());
}

#[test]
fn the_run_info_names_a_cross_hub_wait() {
    let (_tx, rx) = channel::unbounded::<u8>();
    let line = line!() - 1;
    let g = greenwood::spawn(move || {
        let _ = rx.recv();
    });
    greenwood::sleep(Duration::from_millis(1));
    let info = greenwood::util::format_run_info();
    let expected = format!("a channel (to receive) created at {}:{line}", file!());
    assert!(info.contains(&expected), "{info}");
    g.kill();
}

/// One step of the channel stress: who does what.
#[derive(Clone, Debug)]
enum Step {
    /// A producer sends these items, each with a timeout (ms; 0: try_send).
    Send(Vec<(u32, u64)>),
    /// A consumer receives this many times, each with a timeout (ms).
    Recv(Vec<u64>),
    /// Kill the consumer or producer spawned this many steps before, after a delay (ms).
    Kill(usize, u64),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        prop::collection::vec((0u32..1, 0u64..4), 1..30).prop_map(Step::Send),
        prop::collection::vec(0u64..4, 1..30).prop_map(Step::Recv),
        (1usize..4, 0u64..3).prop_map(|(k, d)| Step::Kill(k, d)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Between two hubs, under random timeouts and kills, every item a send reported sent is
    /// received exactly once or is still in the channel at the end; none appears twice, and
    /// none that a send gave back.
    #[test]
    fn a_channel_between_hubs_loses_and_duplicates_nothing(
        capacity in 1usize..4,
        steps in prop::collection::vec(step(), 1..12),
    ) {
        let hubs = Hubs::new(2).unwrap();
        let (tx, rx) = channel::bounded::<u32>(capacity);
        let sent = Arc::new(Mutex::new(Vec::new()));
        let got = Arc::new(Mutex::new(Vec::new()));
        let next = Arc::new(AtomicUsize::new(0));
        let mut spawned = Vec::new();
        for s in steps {
            match s {
                Step::Send(items) => {
                    let (tx, sent, next) = (tx.clone(), sent.clone(), next.clone());
                    spawned.push(hubs.spawn_on(0, move || {
                        for (_, ms) in items {
                            let id = next.fetch_add(1, Ordering::SeqCst) as u32;
                            let ok = if ms == 0 {
                                tx.try_send(id).is_ok()
                            } else {
                                tx.send_timeout(id, Duration::from_millis(ms)).is_ok()
                            };
                            // No blocking point between the send and the record: a kill
                            // cannot come in between.
                            if ok {
                                sent.lock().unwrap().push(id);
                            }
                        }
                    }));
                }
                Step::Recv(waits) => {
                    let (rx, got) = (rx.clone(), got.clone());
                    spawned.push(hubs.spawn_on(1, move || {
                        for ms in waits {
                            if let Ok(id) = rx.recv_timeout(Duration::from_millis(ms)) {
                                got.lock().unwrap().push(id);
                            }
                        }
                    }));
                }
                Step::Kill(back, delay) => {
                    if let Some(victim) = spawned.len().checked_sub(back).map(|i| spawned[i].clone()) {
                        spawned.push(hubs.spawn(move || {
                            greenwood::sleep(Duration::from_millis(delay));
                            victim.kill();
                        }));
                    }
                }
            }
        }
        for g in &spawned {
            g.join();
        }
        drop(tx);
        let rest: Vec<u32> = rx.iter().collect();
        let sent = sent.lock().unwrap().clone();
        let mut received = got.lock().unwrap().clone();
        received.extend(rest);
        let unique: BTreeSet<u32> = received.iter().copied().collect();
        prop_assert_eq!(unique.len(), received.len(), "an item was received twice");
        let sent: BTreeSet<u32> = sent.into_iter().collect();
        prop_assert_eq!(unique, sent);
    }
}

#[test]
fn kill_with_carries_its_payload_across_hubs_and_names_it_before_the_start() {
    let hubs = Hubs::new(2).unwrap();
    let (running, started) = std::sync::mpsc::channel();
    let g = hubs.spawn_on(0, move || {
        running.send(()).unwrap();
        match std::panic::catch_unwind(|| greenwood::sleep(Duration::from_secs(3600))) {
            Ok(()) => String::from("slept"),
            Err(p) => *p.downcast::<String>().unwrap(),
        }
    });
    started.recv().unwrap();
    let k = g.clone();
    hubs.spawn_on(1, move || k.kill_with(String::from("from hub 1")))
        .join();
    assert_eq!(g.get().unwrap(), "from hub 1");

    // Killed while queued: the hub's thread is held until the kill is in.
    let (handle_tx, handle_rx) = std::sync::mpsc::channel::<hubs::SendGreenlet<()>>();
    let holder = hubs.spawn_on(0, move || {
        let never = handle_rx.recv().unwrap(); // blocks the hub's thread: `never` stays queued
        never.kill_with("shutting down"); // marks it, then parks this greenlet until it is done
        never.take().unwrap_err()
    });
    let never = hubs.spawn_on(0, || panic!("a killed greenlet must not start"));
    handle_tx.send(never.clone()).unwrap();
    let err = holder.take().unwrap();
    assert_eq!(err.kind(), ErrorKind::Killed);
    assert_eq!(err.message(), "killed: shutting down before it started");
    assert!(never.ready());
}
