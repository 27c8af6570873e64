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
fn imap_unordered_yields_in_finishing_order_in_a_pool_and_in_a_group() {
    for group in [Pool::new(3).group().clone(), Group::new()] {
        let order: Vec<u64> = group
            .imap_unordered([20u64, 1, 10], |ms| {
                greenwood::sleep(Duration::from_millis(ms));
                ms
            })
            .map(Result::unwrap)
            .collect();
        assert_eq!(order, [1, 10, 20]);
        assert_eq!(group.apply(|| "applied").unwrap(), "applied");
    }
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

#[test]
fn add_waits_for_a_slot_try_add_refuses_and_add_timeout_gives_up() {
    let pool = Pool::new(1);
    let blocker = pool.spawn(|| greenwood::sleep(Duration::from_secs(60)));
    let g = greenwood::Greenlet::new(|| "ran");
    let full = pool.try_add(&g).unwrap_err();
    assert_eq!(full.size(), 1);
    assert!(full.to_string().contains("Pool::add waits"), "{full}");
    assert!(pool.add_timeout(&g, Duration::from_millis(1)).is_err());
    assert!(!pool.group().contains(&g), "a refused add adds nothing");

    let (p, h) = (pool.clone(), g.clone());
    let adder = spawn(move || p.add(&h));
    greenwood::sleep(Duration::ZERO);
    assert!(!adder.dead() && !pool.group().contains(&g), "add waits");
    blocker.kill();
    adder.join();
    assert!(pool.group().contains(&g) && pool.full());
    assert!(!g.started(), "add does not start it");
    g.start();
    assert_eq!(g.get().unwrap(), "ran");
    assert_eq!(pool.free_count(), 1, "its slot came back when it finished");
}

#[test]
fn adding_a_member_again_or_a_dead_greenlet_takes_no_slot() {
    let pool = Pool::new(2);
    let g = pool.spawn(|| greenwood::sleep(Duration::from_secs(60)));
    pool.add(&g);
    pool.try_add(&g).unwrap();
    pool.add_timeout(&g, Duration::from_secs(1)).unwrap();
    assert_eq!(pool.free_count(), 1);
    let dead = spawn(|| ());
    dead.join();
    pool.add(&dead);
    pool.try_add(&dead).unwrap();
    assert_eq!((pool.free_count(), pool.group().len()), (1, 1));
    pool.kill();
}

#[test]
fn discard_frees_the_slot_at_once_and_the_greenlet_runs_on() {
    let pool = Pool::new(1);
    let gate = greenwood::event::Event::new();
    let gt = gate.clone();
    let g = pool.spawn(move || {
        gt.wait();
        "finished outside the pool"
    });
    assert!(pool.full());
    pool.discard(&g);
    assert_eq!(pool.free_count(), 1);
    let other = pool.spawn(|| "took the slot"); // does not wait
    assert!(!other.started() && pool.full());
    gate.set();
    assert_eq!(g.get().unwrap(), "finished outside the pool");
    assert_eq!(other.get().unwrap(), "took the slot");
    assert_eq!(
        pool.free_count(),
        1,
        "discarding freed the slot once, not twice"
    );
}

#[test]
fn start_adds_an_unstarted_greenlet_and_starts_it_once_it_has_a_slot() {
    let pool = Pool::new(1);
    let gate = greenwood::event::Event::new();
    let gt = gate.clone();
    let blocker = pool.spawn(move || gt.wait());
    let g = greenwood::Greenlet::new(|| 5);
    let (p, h) = (pool.clone(), g.clone());
    let starter = spawn(move || p.start(&h));
    greenwood::sleep(Duration::ZERO);
    assert!(!g.started() && !starter.dead());
    gate.set();
    assert_eq!(g.get().unwrap(), 5);
    assert!(blocker.dead() && starter.dead());

    // A group starts it at once.
    let group = Group::new();
    let h = greenwood::Greenlet::new(|| 6);
    group.start(&h);
    assert!(group.contains(&h));
    assert_eq!(h.get().unwrap(), 6);
    assert!(group.is_empty());
}

#[test]
fn the_group_of_a_pool_shares_its_members_and_slots() {
    let pool = Pool::new(1);
    let group = pool.group().clone();
    let g = group.spawn(|| greenwood::sleep(Duration::from_secs(60)));
    assert!(pool.full(), "spawning through the group took a slot");
    let h = greenwood::Greenlet::new(|| ());
    let (gr, hh) = (group.clone(), h.clone());
    let adder = spawn(move || gr.add(&hh));
    greenwood::sleep(Duration::ZERO);
    assert!(!adder.dead(), "adding through the group waits for a slot");
    g.kill();
    adder.join();
    assert!(pool.group().contains(&h) && pool.full());
    pool.kill();
    assert!(h.dead() && !h.started());
    assert_eq!(pool.free_count(), 1);
}

#[test]
fn apply_async_never_blocks_and_waiting_ones_start_in_turn() {
    let pool = Pool::new(2);
    let log = Log::new();
    let handles: Vec<_> = (0..6)
        .map(|i| {
            let log = log.clone();
            pool.apply_async(move || {
                log.push(i);
                greenwood::sleep(Duration::from_millis(1));
                i * 10
            })
        })
        .collect();
    // Nothing ran yet: the caller never yielded, even with the pool full after two.
    assert!(handles.iter().all(|g| !g.started()));
    assert_eq!(pool.group().len(), 6);
    assert!(pool.full());
    let values: Vec<i32> = handles.iter().map(|g| g.get().unwrap()).collect();
    assert_eq!(values, [0, 10, 20, 30, 40, 50]);
    assert_eq!(log.get(), [0, 1, 2, 3, 4, 5]);
    assert_eq!(pool.free_count(), 2);
    assert!(pool.group().is_empty());
}

#[test]
fn apply_async_killed_while_waiting_for_a_slot_never_runs_and_leaves_nothing_behind() {
    let pool = Pool::new(1);
    let before = greenwood::hub::get_hub().live_greenlets();
    let blocker = pool.apply_async(|| greenwood::sleep(Duration::from_secs(60)));
    let waiting = pool.apply_async(|| -> u32 { unreachable!("killed before it had a slot") });
    let also = pool.apply_async(|| -> u32 { unreachable!("killed by the group") });
    greenwood::sleep(Duration::ZERO);
    waiting.kill();
    assert!(waiting.dead() && !waiting.started());
    assert_eq!(waiting.error().unwrap().kind(), ErrorKind::Killed);
    pool.kill();
    assert!(blocker.dead() && also.dead() && !also.started());
    greenwood::sleep(Duration::ZERO); // the slot waiters unwind
    assert_eq!(pool.free_count(), 1);
    assert!(pool.group().is_empty());
    assert_eq!(
        greenwood::hub::get_hub().live_greenlets(),
        before,
        "no greenlet still waits for a slot"
    );
}

#[test]
fn apply_async_in_a_pool_with_a_free_slot_or_in_a_group_spawns_at_once() {
    let pool = Pool::new(2);
    let g = pool.apply_async(|| 1);
    assert!(!pool.full() && pool.free_count() == 1);
    assert_eq!(g.get().unwrap(), 1);
    let group = Group::new();
    let h = group.apply_async(|| 2);
    assert!(group.contains(&h));
    assert_eq!(h.get().unwrap(), 2);
}

#[test]
fn map_async_returns_a_handle_with_the_results_or_the_first_failure() {
    let _f = capture_failures();
    let pool = Pool::new(3);
    let ok = pool.map_async(0..10u64, |x| {
        greenwood::sleep(Duration::from_millis(10 - x));
        x * x
    });
    assert!(!ok.started(), "it runs in a greenlet of its own");
    assert_eq!(
        ok.take().unwrap().unwrap(),
        [0, 1, 4, 9, 16, 25, 36, 49, 64, 81]
    );
    let bad = Group::new().map_async(vec![2, 0, 1], |x| {
        if x == 0 {
            panic!("zero");
        }
        x
    });
    let err = bad.take().unwrap().unwrap_err();
    assert_eq!((err.kind(), err.message()), (ErrorKind::Panicked, "zero"));
}

#[test]
fn imap_maxsize_bounds_how_far_it_reads_ahead() {
    let group = Group::new();
    let running = Rc::new(Cell::new(0));
    let peak = Rc::new(Cell::new(0));
    let taken = Rc::new(Cell::new(0));
    let t = taken.clone();
    let (r, p) = (running.clone(), peak.clone());
    let mut results = group
        .imap((0..40u64).inspect(move |_| t.set(t.get() + 1)), move |x| {
            r.set(r.get() + 1);
            p.set(p.get().max(r.get()));
            greenwood::sleep(Duration::from_millis(x % 3));
            r.set(r.get() - 1);
            x
        })
        .maxsize(4);
    assert_eq!(results.next().unwrap().unwrap(), 0);
    assert!(taken.get() <= 4, "took {}", taken.get());
    let rest: Vec<u64> = results.map(Result::unwrap).collect();
    assert_eq!(rest, (1..40).collect::<Vec<_>>());
    assert!(peak.get() <= 4, "peak {}", peak.get());

    // Without maxsize a plain group runs every item at once.
    let (running, peak) = (Rc::new(Cell::new(0)), Rc::new(Cell::new(0)));
    let (r, p) = (running.clone(), peak.clone());
    let out = group
        .map(0..25, move |x| {
            r.set(r.get() + 1);
            p.set(p.get().max(r.get()));
            greenwood::sleep(Duration::from_millis(1));
            r.set(r.get() - 1);
            x
        })
        .unwrap();
    assert_eq!(out.len(), 25);
    assert_eq!(peak.get(), 25);
}

#[test]
fn an_ordered_imap_keeps_the_pool_busy_while_its_first_item_is_slow() {
    // Items after a slow first one run in the slots that free up meanwhile, rather than
    // waiting for the consumer's next call.
    let pool = Pool::new(2);
    let gate = greenwood::event::Event::new();
    let done = Rc::new(Cell::new(0));
    let (g, d) = (gate.clone(), done.clone());
    let mut results = pool.imap(0..5, move |x| {
        if x == 0 {
            g.wait();
        }
        d.set(d.get() + 1);
        x
    });
    let opener = {
        let (gate, done) = (gate.clone(), done.clone());
        spawn(move || {
            let deadline = std::time::Instant::now() + Duration::from_secs(30);
            while done.get() < 4 && std::time::Instant::now() < deadline {
                greenwood::sleep(Duration::from_millis(1));
            }
            let rest_ran_first = done.get() == 4;
            gate.set();
            rest_ran_first
        })
    };
    assert_eq!(results.next().unwrap().unwrap(), 0);
    assert!(
        opener.get().unwrap(),
        "items 1..5 ran while item 0 was pending"
    );
    assert_eq!(done.get(), 5);
    assert_eq!(
        results.map(Result::unwrap).collect::<Vec<_>>(),
        [1, 2, 3, 4]
    );
}

#[test]
#[should_panic(expected = "maxsize 0 could never run anything")]
fn imap_maxsize_zero_is_refused() {
    let _ = Group::new().imap(0..1, |x| x).maxsize(0);
}

#[test]
fn kill_nowait_returns_before_the_members_die_and_kill_timeout_waits() {
    let group = Group::new();
    let a = group.spawn(|| greenwood::sleep(Duration::from_secs(60)));
    let b = group.spawn(|| greenwood::sleep(Duration::from_secs(60)));
    greenwood::sleep(Duration::ZERO);
    group.kill_nowait();
    assert!(!a.dead() && !b.dead());
    group.join();
    assert!(a.dead() && b.dead());
    assert_eq!(a.error().unwrap().kind(), ErrorKind::Killed);

    let pool = Pool::new(2);
    let c = pool.spawn(|| greenwood::sleep(Duration::from_secs(60)));
    assert!(pool.kill_timeout(Duration::from_secs(5)).is_ok());
    assert!(c.dead() && pool.free_count() == 2);
}

#[test]
fn kill_also_kills_members_added_while_it_waits() {
    struct SpawnOnDrop(Group, Rc<Cell<bool>>);
    impl Drop for SpawnOnDrop {
        fn drop(&mut self) {
            let flag = self.1.clone();
            self.0.spawn(move || {
                greenwood::sleep(Duration::from_secs(60));
                flag.set(true);
            });
        }
    }
    let group = Group::new();
    let late_ran = Rc::new(Cell::new(false));
    let (gr, lr) = (group.clone(), late_ran.clone());
    group.spawn(move || {
        let _g = SpawnOnDrop(gr, lr);
        greenwood::sleep(Duration::from_secs(60));
    });
    greenwood::sleep(Duration::ZERO);
    group.kill();
    assert!(
        group.is_empty(),
        "the member spawned while unwinding was killed too"
    );
    assert!(!late_ran.get());
}

#[test]
fn an_unbounded_pool_never_waits() {
    let pool = Pool::unbounded();
    assert_eq!((pool.size(), pool.free_count()), (None, usize::MAX));
    let gs: Vec<_> = (0..500)
        .map(|i| pool.spawn(move || greenwood::sleep(Duration::from_millis(i % 3))))
        .collect();
    assert!(gs.iter().all(|g| !g.started()), "spawning never yielded");
    assert!(!pool.full());
    pool.try_add(&greenwood::Greenlet::new(|| ())).unwrap();
    pool.wait_available();
    pool.wait_available_timeout(Duration::ZERO).unwrap();
    let queued = pool.apply_async(|| "at once");
    assert!(pool.group().contains(&queued));
    pool.kill();
    assert!(gs.iter().all(|g| g.dead()) && pool.group().is_empty());
}

#[test]
#[should_panic(expected = "Pool::unbounded() has no limit")]
fn a_pool_of_size_zero_is_refused_with_the_way_out() {
    let _ = Pool::new(0);
}
