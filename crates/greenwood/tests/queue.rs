//! Queues: order, blocking, shutdown, and nothing lost when a getter or putter is killed or
//! times out. Model-based tests (proptest) check the sequential behaviour against a
//! `VecDeque`, and conservation of items under random kills and timeouts.

mod util;

use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Duration;

use greenwood::queue::{
    Channel, GetError, JoinableQueue, LifoQueue, PriorityQueue, PutError, Queue,
};
use greenwood::spawn;
use proptest::prelude::*;
use util::{panic_text, Log};

const LONG: Duration = Duration::from_secs(3600);

#[test]
fn getters_are_served_in_the_order_they_came() {
    let q = Queue::new();
    let log = Log::new();
    let gs: Vec<_> = (0..3)
        .map(|i| {
            let (q, log) = (q.clone(), log.clone());
            spawn(move || log.push((i, q.get().unwrap())))
        })
        .collect();
    greenwood::sleep(Duration::ZERO);
    for item in ["a", "b", "c"] {
        q.put(item).unwrap();
    }
    greenwood::joinall(&gs);
    assert_eq!(log.get(), [(0, "a"), (1, "b"), (2, "c")]);
}

#[test]
fn a_full_queue_parks_putters_in_order_and_takes_their_items_as_room_appears() {
    let q = Queue::bounded(1);
    q.put(0).unwrap();
    let putters: Vec<_> = (1..4)
        .map(|i| {
            let q = q.clone();
            spawn(move || q.put(i).unwrap())
        })
        .collect();
    greenwood::sleep(Duration::ZERO);
    assert!(putters.iter().all(|p| !p.ready()));
    let got: Vec<i32> = (0..4).map(|_| q.get().unwrap()).collect();
    assert_eq!(got, [0, 1, 2, 3]);
    greenwood::joinall(&putters);
}

#[test]
fn lifo_and_priority_orders() {
    let l = LifoQueue::new();
    let p = PriorityQueue::new();
    for i in [2, 5, 1] {
        l.put(i).unwrap();
        p.put(i).unwrap();
    }
    assert_eq!(l.iter().take(3).collect::<Vec<_>>(), [1, 5, 2]);
    assert_eq!(p.iter().take(3).collect::<Vec<_>>(), [5, 2, 1]);
}

#[test]
fn a_channel_put_returns_only_once_the_item_is_taken() {
    let ch = Channel::new();
    let log = Log::new();
    let (ch2, l2) = (ch.clone(), log.clone());
    let sender = spawn(move || {
        ch2.put(1).unwrap();
        l2.push("sent");
    });
    greenwood::sleep(Duration::from_millis(2));
    assert!(log.get().is_empty());
    assert_eq!(ch.get(), Some(1));
    sender.join();
    assert_eq!(log.get(), ["sent"]);
    assert!(matches!(ch.put_nowait(2), Err(PutError::Full(2))));
}

#[test]
fn a_killed_getter_takes_no_item_and_the_next_getter_gets_it() {
    let q = Queue::new();
    let (q1, q2) = (q.clone(), q.clone());
    let first = spawn(move || q1.get());
    let second = spawn(move || q2.get());
    greenwood::sleep(Duration::ZERO);
    first.kill();
    q.put("item").unwrap();
    assert_eq!(second.get().unwrap(), Some("item"));
    assert!(q.is_empty());
}

#[test]
fn a_getter_that_times_out_takes_no_item() {
    let q = Queue::new();
    let q2 = q.clone();
    let g = spawn(move || q2.get_timeout(Duration::from_millis(1)));
    assert_eq!(g.get().unwrap(), Err(GetError::Empty));
    q.put(1).unwrap();
    assert_eq!(q.len(), 1);
}

#[test]
fn an_item_handed_to_a_getter_just_before_a_kill_is_still_delivered() {
    let q = Queue::new();
    let log = Log::new();
    let (q2, l2) = (q.clone(), log.clone());
    let g = spawn(move || {
        l2.push(q2.get().unwrap());
        greenwood::sleep(LONG); // the kill lands here
    });
    greenwood::sleep(Duration::ZERO);
    q.put("item").unwrap(); // handed to g, runnable
    g.kill_nowait();
    g.join();
    assert_eq!(log.get(), ["item"]);
}

#[test]
fn a_putter_that_times_out_or_is_killed_keeps_its_item_out_of_the_queue() {
    let q = Queue::bounded(1);
    q.put(0).unwrap();
    let q2 = q.clone();
    let timed = spawn(move || q2.put_timeout(1, Duration::from_millis(1)));
    assert!(matches!(timed.take().unwrap(), Err(PutError::Full(1))));
    let q3 = q.clone();
    let killed = spawn(move || q3.put(2));
    greenwood::sleep(Duration::ZERO);
    killed.kill();
    assert_eq!(q.get(), Some(0));
    assert!(q.get_nowait().is_err(), "neither item got in");
}

#[test]
fn shutdown_wakes_everyone_and_drains() {
    let q: Queue<u32> = Queue::bounded(1);
    let q1 = q.clone();
    let getter = spawn(move || q1.get());
    greenwood::sleep(Duration::ZERO);
    q.shutdown();
    assert_eq!(getter.get().unwrap(), None);

    let q = Queue::bounded(1);
    q.put(1).unwrap();
    let q2 = q.clone();
    let putter = spawn(move || q2.put(2));
    greenwood::sleep(Duration::ZERO);
    q.shutdown();
    assert!(matches!(putter.take().unwrap(), Err(PutError::ShutDown(2))));
    assert_eq!(q.get(), Some(1));
    assert_eq!(q.get(), None);
    assert_eq!(q.get_nowait(), Err(GetError::ShutDown));
}

#[test]
fn a_joinable_queue_joins_when_every_item_is_done() {
    let q = JoinableQueue::new();
    for i in 0..5 {
        q.put(i).unwrap();
    }
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let q = q.clone();
            spawn(move || {
                while let Some(_i) = q.get() {
                    greenwood::sleep(Duration::from_millis(1));
                    q.task_done().unwrap();
                }
            })
        })
        .collect();
    q.join();
    assert_eq!(q.unfinished(), 0);
    assert!(q.task_done().is_err());
    q.shutdown();
    greenwood::joinall(&workers);
}

#[test]
fn getting_from_a_queue_nobody_fills_names_it() {
    let q: Queue<u8> = Queue::new();
    let line = line!() - 1;
    let r = catch_unwind(AssertUnwindSafe(|| q.get()));
    let msg = panic_text(&*r.unwrap_err());
    assert!(
        msg.contains(&format!("it waits on Queue created at {}:{line}:", file!())),
        "{msg}"
    );
}

#[derive(Clone, Debug)]
enum Op {
    Put(u8),
    Get,
    Peek,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![any::<u8>().prop_map(Op::Put), Just(Op::Get), Just(Op::Peek)]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// The `_nowait` operations of a bounded FIFO queue behave as a `VecDeque` with a bound.
    #[test]
    fn nowait_operations_match_a_sequential_model(bound in 0usize..5, ops in proptest::collection::vec(op(), 0..60)) {
        let q = Queue::bounded(bound);
        let mut model = VecDeque::new();
        for op in ops {
            match op {
                Op::Put(x) => {
                    let r = q.put_nowait(x);
                    if model.len() < bound {
                        prop_assert!(r.is_ok());
                        model.push_back(x);
                    } else {
                        prop_assert!(matches!(r, Err(PutError::Full(y)) if y == x));
                    }
                }
                Op::Get => prop_assert_eq!(q.get_nowait().ok(), model.pop_front()),
                Op::Peek => prop_assert_eq!(q.peek_nowait().ok(), model.front().copied()),
            }
            prop_assert_eq!(q.len(), model.len());
            prop_assert_eq!(q.is_full(), model.len() >= bound);
        }
    }

    /// Under random timeouts and kills of putters and getters, every item a put reported as
    /// added is received exactly once or is still in the queue, and nothing else is.
    #[test]
    fn no_item_is_lost_or_duplicated_under_kills_and_timeouts(
        bound in 0usize..3,
        producers in proptest::collection::vec(proptest::collection::vec(0u64..3, 0..5), 1..4),
        consumers in proptest::collection::vec(proptest::collection::vec(0u64..3, 0..6), 1..4),
        kills in proptest::collection::vec((0usize..8, 0u8..4), 0..4),
    ) {
        let q = Queue::bounded(bound);
        let added = Log::new();
        let received = Log::new();
        let mut gs = Vec::new();
        let mut next_item = 0u32;
        for timeouts in producers {
            let items: Vec<(u32, u64)> = timeouts.into_iter().map(|t| { next_item += 1; (next_item, t) }).collect();
            let (q, added) = (q.clone(), added.clone());
            gs.push(spawn(move || {
                for (item, t) in items {
                    let r = if t == 0 { q.put(item) } else { q.put_timeout(item, Duration::from_millis(t)) };
                    if r.is_ok() {
                        added.push(item);
                    }
                }
            }));
        }
        for timeouts in consumers {
            let (q, received) = (q.clone(), received.clone());
            gs.push(spawn(move || {
                for t in timeouts {
                    let got = if t == 0 { q.get().ok_or(GetError::ShutDown) } else { q.get_timeout(Duration::from_millis(t)) };
                    if let Ok(item) = got {
                        received.push(item);
                    }
                }
            }));
        }
        for (victim, yields) in kills {
            for _ in 0..yields {
                greenwood::sleep(Duration::ZERO);
            }
            if let Some(g) = gs.get(victim) {
                g.kill_nowait();
            }
        }
        // Let whoever is left finish or give up: time out the blocked ones by killing all.
        greenwood::sleep(Duration::from_millis(5));
        greenwood::killall(&gs);
        q.shutdown();
        let mut accounted = received.get();
        accounted.extend(q.iter());
        accounted.sort_unstable();
        let mut expected = added.get();
        expected.sort_unstable();
        prop_assert_eq!(accounted, expected);
    }
}

#[test]
fn joinable_queue_join_honours_timeouts_and_kills() {
    let q = JoinableQueue::new();
    q.put(1).unwrap();
    assert!(q.join_timeout(Duration::from_millis(1)).is_err());
    let q2 = q.clone();
    let joiner = spawn(move || q2.join());
    greenwood::sleep(Duration::ZERO);
    joiner.kill();
    assert_eq!(q.get(), Some(1));
    q.task_done().unwrap();
    q.join();
}

#[test]
fn a_channel_putter_that_times_out_keeps_its_item() {
    let ch = Channel::new();
    assert!(matches!(
        ch.put_timeout(1, Duration::from_millis(1)),
        Err(PutError::Full(1))
    ));
    assert_eq!(ch.get_nowait(), Err(GetError::Empty));
}

#[test]
fn peek_waits_for_an_item_that_stays_and_sees_a_rendezvous_putters_item() {
    let q = Queue::new();
    let q2 = q.clone();
    let _p = spawn(move || {
        greenwood::sleep(Duration::from_millis(1));
        q2.put(4).unwrap();
    });
    assert_eq!(q.peek(), Some(4));
    assert_eq!(q.len(), 1, "peek leaves it");
    assert_eq!(q.get(), Some(4));

    let r = Queue::bounded(0);
    let r2 = r.clone();
    let putter = spawn(move || r2.put("hand").unwrap());
    assert_eq!(r.peek(), Some("hand"));
    assert!(!putter.dead(), "the putter still waits for a get");
    assert_eq!(r.get(), Some("hand"));
    putter.join();
    assert!(putter.successful());
}

#[test]
fn peek_timeout_and_nowait_say_empty_and_shut_down() {
    let q: Queue<u8> = Queue::new();
    assert_eq!(q.peek_nowait(), Err(GetError::Empty));
    assert_eq!(
        q.peek_timeout(Duration::from_millis(2)),
        Err(GetError::Empty)
    );
    let q2 = q.clone();
    let _s = spawn(move || q2.shutdown());
    assert_eq!(q.peek(), None, "woken by the shutdown");
    assert_eq!(q.peek_timeout(LONG), Err(GetError::ShutDown));
}

#[test]
fn a_peeker_does_not_take_an_item_from_a_waiting_getter() {
    let q = Queue::new();
    let (a, b) = (q.clone(), q.clone());
    let getter = spawn(move || a.get());
    let peeker = spawn(move || b.peek_timeout(Duration::from_millis(20)));
    greenwood::sleep(Duration::ZERO);
    q.put(1).unwrap();
    assert_eq!(getter.get().unwrap(), Some(1));
    assert_eq!(peeker.get().unwrap(), Err(GetError::Empty));
}

#[test]
fn shutdown_immediate_gives_back_the_items_wakes_getters_and_leaves_putters_theirs() {
    let q = JoinableQueue::bounded(2);
    q.put(1).unwrap();
    q.put(2).unwrap();
    let q2 = q.clone();
    let putter = spawn(move || q2.put(3));
    greenwood::sleep(Duration::ZERO);
    assert_eq!(q.shutdown_immediate(), [1, 2]);
    match putter.take().unwrap() {
        Err(PutError::ShutDown(3)) => {}
        other => panic!("the putter keeps its item: {other:?}"),
    }
    assert_eq!(q.get(), None);
    assert_eq!(q.unfinished(), 0);
    q.join();
    assert!(
        q.shutdown_immediate().is_empty(),
        "a second call finds nothing"
    );
}
