//! `Group` and `Pool`.

mod util;

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use greenwood::pool::{Group, Pool};
use greenwood::{spawn, ErrorKind};
use util::{capture_failures, Log};

#[test]
fn a_pool_never_runs_more_than_its_size_at_once() {
    let pool = Pool::new(3);
    let running = Rc::new(Cell::new(0));
    let peak = Rc::new(Cell::new(0));
    for _ in 0..20 {
        let (running, peak) = (running.clone(), peak.clone());
        pool.spawn(move || {
            running.set(running.get() + 1);
            peak.set(peak.get().max(running.get()));
            greenwood::sleep(Duration::from_millis(1));
            running.set(running.get() - 1);
        });
    }
    pool.join();
    assert_eq!(peak.get(), 3);
    assert_eq!(pool.free_count(), 3);
}

#[test]
fn spawners_waiting_for_a_slot_are_served_in_order_and_a_killed_one_takes_no_slot() {
    let pool = Pool::new(1);
    let log = Log::new();
    let blocker = pool.spawn(|| greenwood::sleep(Duration::from_millis(5)));
    let spawners: Vec<_> = (0..3)
        .map(|i| {
            let (pool, log) = (pool.clone(), log.clone());
            spawn(move || {
                let l = log.clone();
                pool.spawn(move || l.push(i)).join();
            })
        })
        .collect();
    greenwood::sleep(Duration::ZERO);
    spawners[1].kill(); // waiting for a slot
    greenwood::joinall(&spawners);
    blocker.join();
    assert_eq!(log.get(), [0, 2]);
    assert_eq!(pool.free_count(), 1);
}

#[test]
fn killing_members_frees_their_slots() {
    let pool = Pool::new(2);
    let a = pool.spawn(|| greenwood::sleep(Duration::from_secs(60)));
    let _b = pool.spawn(|| greenwood::sleep(Duration::from_secs(60)));
    assert!(pool.full());
    a.kill();
    assert_eq!(pool.free_count(), 1);
    pool.kill();
    assert_eq!(pool.free_count(), 2);
    assert!(pool.group().is_empty());
}

#[test]
fn a_member_killed_before_it_started_frees_its_slot() {
    let pool = Pool::new(1);
    let g = pool.spawn(|| unreachable!());
    g.kill();
    assert_eq!(pool.free_count(), 1);
}

#[test]
fn imap_is_ordered_and_lazy() {
    let pool = Pool::new(2);
    let taken = Rc::new(Cell::new(0));
    let t = taken.clone();
    let items = (0..6u64).inspect(move |_| t.set(t.get() + 1));
    let mut results = pool.imap(items, |x| {
        greenwood::sleep(Duration::from_millis(6 - x));
        x
    });
    assert_eq!(results.next().unwrap().unwrap(), 0);
    assert!(
        taken.get() <= 3,
        "took {} items for one result",
        taken.get()
    );
    let rest: Vec<u64> = results.map(Result::unwrap).collect();
    assert_eq!(rest, [1, 2, 3, 4, 5]);
}

#[test]
fn imap_unordered_yields_in_finishing_order() {
    let pool = Pool::new(3);
    let order: Vec<u64> = pool
        .imap_unordered([20u64, 1, 10], |ms| {
            greenwood::sleep(Duration::from_millis(ms));
            ms
        })
        .map(Result::unwrap)
        .collect();
    assert_eq!(order, [1, 10, 20]);
}

#[test]
fn map_returns_the_first_failure_and_apply_returns_one_result() {
    let _f = capture_failures();
    let pool = Pool::new(2);
    let err = pool
        .map([1, 0, 2], |x| {
            if x == 0 {
                panic!("divide by zero");
            }
            10 / x
        })
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Panicked);
    assert_eq!(err.message(), "divide by zero");
    assert_eq!(pool.apply(|| "one").unwrap(), "one");
    pool.join();
    assert_eq!(pool.free_count(), 2);
}

#[test]
fn a_dropped_pool_handle_leaves_its_greenlets_running_and_frees_their_slots() {
    let pool = Pool::new(1);
    let g = pool.spawn(|| greenwood::sleep(Duration::from_millis(2)));
    let slots = pool.clone();
    drop(pool);
    g.join();
    assert!(g.successful());
    assert_eq!(slots.free_count(), 1);
}

#[test]
fn a_group_tracks_joins_and_kills_its_members() {
    let group = Group::new();
    let outside = spawn(|| greenwood::sleep(Duration::from_secs(60)));
    group.add(&outside);
    let inside = group.spawn(|| greenwood::sleep(Duration::from_secs(60)));
    assert_eq!(group.len(), 2);
    group.discard(&outside);
    assert!(!group.contains(&outside) && group.contains(&inside));
    assert!(group.join_timeout(Duration::from_millis(1)).is_err());
    group.kill();
    assert!(inside.dead() && !outside.dead());
    outside.kill();
    group.join();
}

#[test]
fn apply_from_a_member_of_a_full_pool_runs_in_place_instead_of_deadlocking() {
    // Regression (gevent's test__pool.py test_reentrant): the inner apply waited for the slot
    // its own caller held (LoopExit, or a hang with other work pending).
    let pool = Rc::new(Pool::new(1));
    let p = pool.clone();
    let outer = pool.apply(move || {
        let me = greenwood::getcurrent().id();
        let inner = p.apply(|| greenwood::getcurrent().id()).unwrap();
        (me, inner)
    });
    let (me, inner) = outer.unwrap();
    assert_eq!(me, inner, "the inner function ran in the caller's greenlet");

    // With a free slot, a member's apply still runs in a greenlet of its own.
    let pool = Rc::new(Pool::new(2));
    let p = pool.clone();
    let (me, inner) = pool
        .apply(move || {
            let me = greenwood::getcurrent().id();
            (me, p.apply(|| greenwood::getcurrent().id()).unwrap())
        })
        .unwrap();
    assert_ne!(me, inner);
}

#[test]
fn a_finished_member_leaves_its_pool_at_once_with_everything_it_held() {
    // Regression: Pool and Group kept every finished greenlet (and its value) until len() or
    // join() pruned them: 1,000,000 spawn-and-join grew RSS from 2 MiB to 572 MiB.
    let drops = util::counter();
    let pool = Pool::new(4);
    for _ in 0..1_000 {
        let d = drops.clone();
        let g = pool.spawn(move || util::CallOnDrop(d));
        g.join();
        drop(g);
    }
    assert_eq!(
        drops.get(),
        1_000,
        "every value was freed as its greenlet finished"
    );
    let group = Group::new();
    let d = drops.clone();
    let g = group.spawn(move || util::CallOnDrop(d));
    g.join();
    drop(g);
    assert_eq!(drops.get(), 1_001);
}

#[test]
fn a_group_of_many_members_adds_finds_and_loses_each_one() {
    let group = Group::new();
    let gate = greenwood::event::Event::new();
    let members: Vec<_> = (0..20_000)
        .map(|i| {
            let gate = gate.clone();
            group.spawn(move || {
                gate.wait();
                i
            })
        })
        .collect();
    assert_eq!(group.len(), 20_000);
    for g in &members {
        group.add(g); // already there: no duplicate
    }
    assert_eq!(group.len(), 20_000);
    assert!(members.iter().all(|g| group.contains(g)));
    group.discard(&members[0]);
    assert!(!group.contains(&members[0]));
    gate.set();
    group.join();
    assert!(group.is_empty());
    members[0].join();
    assert!(members.iter().all(|g| g.dead()));
}
