//! `ThreadPool`, `spawn_blocking`, `HubHandle` and the cross-thread channel.

mod util;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use greenwood::hub::{get_hub, HubGone};
use greenwood::threadpool::{channel, ThreadPool};
use greenwood::{spawn, spawn_blocking, ErrorKind};

#[test]
fn the_hub_keeps_running_while_a_job_blocks_a_pool_thread() {
    let ticks = Arc::new(AtomicUsize::new(0));
    let t = ticks.clone();
    let _ticker = spawn(move || loop {
        greenwood::sleep(Duration::from_millis(1));
        t.fetch_add(1, Ordering::SeqCst);
    });
    // The job blocks its thread until the hub's ticker has ticked: it can only return if the
    // hub runs meanwhile.
    let r = spawn_blocking(move || {
        let give_up = std::time::Instant::now() + Duration::from_secs(30);
        while ticks.load(Ordering::SeqCst) < 3 {
            if std::time::Instant::now() > give_up {
                return false;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        true
    });
    assert!(
        r.join().unwrap(),
        "the hub did not run while the job blocked"
    );
}

#[test]
fn waiting_for_an_outstanding_job_is_not_a_deadlock() {
    // Nothing else can run: without the job's hold, this would be LoopExit.
    let r = spawn_blocking(|| {
        std::thread::sleep(Duration::from_millis(20));
        7
    });
    assert_eq!(r.join().unwrap(), 7);
}

#[test]
fn a_panic_on_a_pool_thread_comes_back_to_the_waiter() {
    let pool = ThreadPool::new(1);
    let err = pool
        .apply(|| -> u8 { panic!("bad block {}", 9) })
        .unwrap_err();
    assert_eq!(err.message(), "bad block 9");
    assert_eq!(err.to_string(), "a thread-pool job panicked: bad block 9");
    // The thread survived its job's panic.
    assert_eq!(pool.apply(|| 1).unwrap(), 1);
}

#[test]
fn many_greenlets_share_a_small_pool() {
    let pool = ThreadPool::new(3);
    let running = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let gs: Vec<_> = (0..40u64)
        .map(|i| {
            let (pool, running, peak) = (pool.clone(), running.clone(), peak.clone());
            spawn(move || {
                pool.apply(move || {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(1));
                    running.fetch_sub(1, Ordering::SeqCst);
                    i * 2
                })
                .unwrap()
            })
        })
        .collect();
    greenwood::joinall(&gs);
    let sum: u64 = gs.iter().map(|g| g.get().unwrap()).sum();
    assert_eq!(sum, 2 * (0..40).sum::<u64>());
    assert!(peak.load(Ordering::SeqCst) <= 3);
    assert!(pool.threads() <= 3);
}

#[test]
fn hubs_on_several_threads_submit_to_one_pool() {
    let pool = ThreadPool::new(4);
    let threads: Vec<_> = (0..4u64)
        .map(|t| {
            let pool = pool.clone();
            std::thread::spawn(move || {
                let gs: Vec<_> = (0..10u64)
                    .map(|i| {
                        let pool = pool.clone();
                        spawn(move || pool.apply(move || t * 100 + i).unwrap())
                    })
                    .collect();
                greenwood::joinall(&gs);
                gs.iter().map(|g| g.get().unwrap()).sum::<u64>()
            })
        })
        .collect();
    for (t, th) in threads.into_iter().enumerate() {
        assert_eq!(th.join().unwrap(), t as u64 * 1000 + 45);
    }
}

#[test]
fn dropping_a_pool_lets_its_queued_and_running_jobs_finish() {
    let pool = ThreadPool::new(1);
    let results: Vec<_> = (0..5)
        .map(|i| {
            pool.spawn(move || {
                std::thread::sleep(Duration::from_millis(2));
                i
            })
        })
        .collect();
    drop(pool);
    let got: Vec<i32> = results.into_iter().map(|r| r.join().unwrap()).collect();
    assert_eq!(got, [0, 1, 2, 3, 4]);
}

#[test]
fn killing_a_greenlet_waiting_for_a_job_leaves_the_job_to_finish() {
    let done = Arc::new(AtomicUsize::new(0));
    let d = done.clone();
    let g = spawn(move || {
        spawn_blocking(move || {
            std::thread::sleep(Duration::from_millis(10));
            d.store(1, Ordering::SeqCst);
        })
        .join()
    });
    greenwood::sleep(Duration::ZERO);
    g.kill();
    assert_eq!(g.error().unwrap().kind(), ErrorKind::Killed);
    while done.load(Ordering::SeqCst) == 0 {
        greenwood::sleep(Duration::from_millis(1));
    }
}

#[test]
fn a_hub_handle_refuses_callbacks_once_its_thread_is_gone() {
    let handle = std::thread::spawn(|| get_hub().handle()).join().unwrap();
    assert_eq!(handle.run_callback(|| ()), Err(HubGone));
}

#[test]
fn a_thread_sends_into_a_hub_through_a_channel() {
    let (tx, rx) = channel();
    let producer = std::thread::spawn(move || {
        for i in 0..50 {
            tx.send(i).unwrap();
            if i % 10 == 0 {
                std::thread::sleep(Duration::from_millis(2));
            }
        }
    });
    let got: Vec<i32> = rx.iter().collect();
    producer.join().unwrap();
    assert_eq!(got, (0..50).collect::<Vec<_>>());
}

#[test]
fn channel_timeouts_and_closing() {
    use greenwood::queue::GetError;
    let (tx, rx) = channel::<u8>();
    assert_eq!(
        rx.recv_timeout(Duration::from_millis(1)),
        Err(GetError::Empty)
    );
    assert_eq!(rx.try_recv(), Err(GetError::Empty));
    let tx2 = tx.clone();
    drop(tx);
    tx2.send(3).unwrap();
    drop(tx2);
    assert_eq!(rx.recv(), Some(3));
    assert_eq!(rx.recv(), None);
    assert_eq!(rx.try_recv(), Err(GetError::ShutDown));

    let (tx, rx) = channel();
    drop(rx);
    assert_eq!(tx.send(1).unwrap_err().0, 1);
}

#[test]
fn a_channel_receiver_that_is_killed_or_times_out_loses_no_item() {
    use greenwood::queue::GetError;
    let (tx, rx) = channel();
    let rx = std::rc::Rc::new(rx);
    let r2 = rx.clone();
    let g = spawn(move || r2.recv());
    greenwood::sleep(Duration::ZERO);
    g.kill();
    assert_eq!(
        rx.recv_timeout(Duration::from_millis(1)),
        Err(GetError::Empty)
    );
    tx.send(5).unwrap();
    assert_eq!(rx.recv(), Some(5));
}

#[test]
fn a_process_forked_with_a_live_hub_fails_loudly_instead_of_hanging() {
    // Regression: in the child the thread pool was dead (spawn_blocking, and so DNS, never
    // completed) and parent and child shared one epoll instance (wake-ups lost in both).
    // Forked from a process of its own, with one thread: a fork of the multi-threaded test
    // runner could inherit a lock another thread held (stderr's, the allocator's).
    if util::child_case().is_none() {
        let out = util::run_child(
            "a_process_forked_with_a_live_hub_fails_loudly_instead_of_hanging",
            "fork",
        );
        assert!(out.status.success(), "{}", util::stderr(&out));
        return;
    }
    // The hub exists.
    greenwood::spawn(|| ()).join();
    // SAFETY: this process has one thread; the child runs greenwood code on it and leaves
    // with _exit.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        fn says(p: Option<Box<dyn std::any::Any + Send>>) -> bool {
            p.and_then(|p| p.downcast::<String>().ok())
                .is_some_and(|m| m.contains("was forked from pid"))
        }
        let blocking = std::panic::catch_unwind(|| greenwood::spawn_blocking(|| 1).join());
        let waiting = std::panic::catch_unwind(|| greenwood::sleep(Duration::from_millis(1)));
        let ok = says(blocking.err()) && says(waiting.err());
        // SAFETY: ends the forked child without running the parent's destructors.
        unsafe { libc::_exit(if ok { 0 } else { 1 }) };
    }
    let mut status = 0;
    // SAFETY: waits for the child we forked.
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "status {status}"
    );
    // The parent's hub is untouched.
    assert_eq!(greenwood::spawn_blocking(|| 2).join().unwrap(), 2);
}
