//! `Greenlet<T>`: spawn, join, get, take, kill, link.

mod util;

use std::time::Duration;

use greenwood::hub::Waiter;
use greenwood::{spawn, ErrorKind};
use util::{capture_failures, counter, CallOnDrop, Log};

const LONG: Duration = Duration::from_secs(3600);

#[test]
fn spawned_greenlets_start_only_when_the_spawner_blocks_in_fifo_order() {
    let log = Log::new();
    let gs: Vec<_> = (0..5)
        .map(|i| {
            let log = log.clone();
            spawn(move || log.push(i))
        })
        .collect();
    assert!(log.get().is_empty());
    assert!(gs.iter().all(|g| !g.started()));
    greenwood::joinall(&gs);
    assert_eq!(log.get(), [0, 1, 2, 3, 4]);
}

#[test]
fn get_returns_the_value_every_time_and_take_moves_it_out() {
    let g = spawn(|| String::from("photo"));
    assert_eq!(g.get().unwrap(), "photo");
    assert_eq!(g.get().unwrap(), "photo");
    assert_eq!(g.value().as_deref(), Some("photo"));
    assert_eq!(g.take().unwrap(), "photo");
    let err = g.take().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Taken);
    assert_eq!(g.get().unwrap_err().kind(), ErrorKind::Taken);
}

#[test]
fn a_panic_is_returned_by_get_and_does_not_stop_other_greenlets() {
    let failures = capture_failures();
    let bad = greenwood::Builder::new()
        .name("bad")
        .spawn(|| -> u32 { panic!("no photo for user {}", 7) })
        .unwrap();
    let good = spawn(|| {
        greenwood::sleep(Duration::from_millis(1));
        5
    });
    let err = bad.get().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Panicked);
    assert_eq!(err.message(), "no photo for user 7");
    assert_eq!(err.greenlet(), "greenlet 'bad'");
    assert!(err
        .spawned_at()
        .unwrap()
        .file()
        .ends_with("tests/greenlet.rs"));
    assert_eq!(good.get().unwrap(), 5);
    assert!(!bad.successful() && bad.ready() && bad.dead());
    assert_eq!(failures.get().len(), 1, "reported once");
}

#[test]
fn killing_a_greenlet_that_has_not_started_means_it_never_runs() {
    let ran = counter();
    let dropped = counter();
    let r = ran.clone();
    let guard = CallOnDrop(dropped.clone());
    let g = spawn(move || {
        let _guard = guard;
        r.set(1);
    });
    g.kill();
    assert_eq!(dropped.get(), 1, "its function was dropped unrun");
    assert!(g.dead() && !g.started());
    assert_eq!(g.get().unwrap_err().kind(), ErrorKind::Killed);
    greenwood::sleep(Duration::from_millis(2));
    assert_eq!(ran.get(), 0);
}

#[test]
fn killing_a_parked_greenlet_unwinds_it_where_it_waits() {
    let dropped = counter();
    let after = counter();
    let (d, a) = (dropped.clone(), after.clone());
    let g = spawn(move || {
        let _guard = CallOnDrop(d);
        greenwood::sleep(LONG);
        a.set(1);
    });
    greenwood::sleep(Duration::ZERO);
    assert!(g.started() && !g.dead());
    g.kill();
    assert!(g.dead());
    assert_eq!(dropped.get(), 1);
    assert_eq!(after.get(), 0);
    let err = g.error().unwrap();
    assert_eq!(err.kind(), ErrorKind::Killed);
    assert!(err.to_string().ends_with("was killed"));
    // Killing the dead does nothing.
    g.kill();
    assert_eq!(
        greenwood::hub::get_hub().pending_timers(),
        0,
        "its sleep timer was cancelled"
    );
}

#[test]
fn a_kill_does_not_lose_a_wake_up_the_greenlet_already_received() {
    let w = Waiter::new();
    let got = Log::new();
    let (w2, got2) = (w.clone(), got.clone());
    let g = spawn(move || {
        got2.push(w2.get());
        greenwood::sleep(LONG); // the kill lands here
        got2.push("not reached");
    });
    greenwood::sleep(Duration::ZERO); // g parks in get()
    w.switch("item"); // g is now runnable...
    g.kill_nowait(); // ...and killed before it runs
    g.join();
    assert_eq!(got.get(), ["item"]);
    assert_eq!(g.error().unwrap().kind(), ErrorKind::Killed);
}

#[test]
fn a_greenlet_that_kills_itself_unwinds_at_once() {
    let after = counter();
    let a = after.clone();
    let g = spawn(move || {
        greenwood::getcurrent().kill();
        a.set(1);
    });
    g.join();
    assert_eq!(after.get(), 0);
    assert_eq!(g.error().unwrap().kind(), ErrorKind::Killed);
}

#[test]
fn kill_timeout_gives_up_on_a_greenlet_that_refuses_to_die() {
    let g = spawn(|| {
        let r = std::panic::catch_unwind(|| greenwood::sleep(LONG));
        assert!(r.is_err(), "the kill arrived");
        greenwood::sleep(Duration::from_millis(50));
        "survived"
    });
    greenwood::sleep(Duration::ZERO);
    assert!(g.kill_timeout(Duration::from_millis(5)).is_err());
    assert_eq!(g.get().unwrap(), "survived");
}

#[test]
fn the_main_greenlet_cannot_be_killed_and_nobody_can_join_themselves() {
    let r = std::panic::catch_unwind(|| greenwood::getcurrent().kill());
    assert!(util::panic_text(&*r.unwrap_err()).contains("main greenlet cannot be killed"));
    let g = spawn(|| {
        let me = greenwood::getcurrent();
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| me.join()));
        util::panic_text(&*r.unwrap_err())
    });
    assert!(g.get().unwrap().contains("tried to join itself"));
}

#[test]
fn join_timeout_reports_whether_the_greenlet_finished() {
    let g = spawn(|| greenwood::sleep(Duration::from_millis(30)));
    assert!(g.join_timeout(Duration::from_millis(1)).is_err());
    assert!(g.join_timeout(Duration::from_secs(10)).is_ok());
    assert!(g.successful());
}

#[test]
fn links_run_once_on_the_hub_after_the_greenlet_ends() {
    let log = Log::new();
    let ok = spawn(|| 1);
    let bad = spawn(|| -> i32 { panic!("boom") });
    let _f = capture_failures();
    for (name, g) in [("ok", &ok), ("bad", &bad)] {
        let l = log.clone();
        g.link(move |_| l.push(format!("{name}: link")));
        let l = log.clone();
        g.link_value(move |g| l.push(format!("{name}: value {}", g.value().unwrap())));
        let l = log.clone();
        g.link_exception(move |g| {
            l.push(format!("{name}: error {}", g.error().unwrap().message()))
        });
        let l = log.clone();
        let id = g.link(move |_| l.push(format!("{name}: unlinked")));
        assert!(g.unlink(id));
        assert!(!g.unlink(id));
    }
    greenwood::joinall(&[ok.clone(), bad.clone()]);
    greenwood::sleep(Duration::ZERO);
    assert_eq!(
        log.get(),
        ["ok: link", "ok: value 1", "bad: link", "bad: error boom"]
    );
    // Linking a finished greenlet runs the callback on the hub's next turn.
    let l = log.clone();
    ok.link(move |_| l.push("late".to_string()));
    greenwood::sleep(Duration::ZERO);
    assert_eq!(log.get().last().unwrap(), "late");
}

#[test]
fn spawn_later_starts_after_the_delay_unless_killed_first() {
    let log = Log::new();
    let l = log.clone();
    let t0 = std::time::Instant::now();
    let delay = Duration::from_millis(20);
    let later = greenwood::spawn_later(delay, move || {
        l.push("later");
        t0.elapsed()
    });
    let l = log.clone();
    let now = spawn(move || l.push("now"));
    assert!(!later.started());
    now.join();
    assert!(later.get().unwrap() >= delay, "never early");
    assert_eq!(log.get(), ["now", "later"]);

    let never = greenwood::spawn_later(Duration::from_millis(1), || unreachable!());
    never.kill();
    greenwood::sleep(Duration::from_millis(5));
    assert_eq!(never.error().unwrap().kind(), ErrorKind::Killed);
    assert_eq!(greenwood::hub::get_hub().pending_timers(), 0);
}

#[test]
fn getcurrent_names_the_running_greenlet() {
    let main = greenwood::getcurrent();
    assert!(main.is_main());
    assert_eq!(main.name(), Some("main"));
    assert!(main.spawned_at().is_none());
    let g = greenwood::Builder::new()
        .name("fetch-3")
        .stack_size(64 * 1024)
        .spawn(|| {
            let me = greenwood::getcurrent();
            (me.id(), me.name().map(String::from), me.is_main())
        })
        .unwrap();
    let (id, name, is_main) = g.get().unwrap();
    assert_eq!(id, g.id());
    assert_eq!(name.as_deref(), Some("fetch-3"));
    assert!(!is_main);
    assert_eq!(g.to_string(), "greenlet 'fetch-3'");
    assert_eq!(g.spawned_at().file(), file!());
}

#[test]
fn a_dropped_handle_detaches_the_greenlet_which_still_runs() {
    let done = Waiter::new();
    let d = done.clone();
    drop(spawn(move || {
        greenwood::sleep(Duration::from_millis(1));
        d.switch("finished");
    }));
    assert_eq!(greenwood::hub::get_hub().live_greenlets(), 1);
    assert_eq!(done.get(), "finished");
    // It ran to its end before the main greenlet was resumed.
    assert_eq!(greenwood::hub::get_hub().live_greenlets(), 0);
}

#[test]
fn greenlets_of_different_types_mix_as_any_greenlet() {
    let a = spawn(|| 1u8);
    let b = spawn(|| "two");
    let all = [a.as_any(), b.clone().into()];
    greenwood::wait(&all);
    assert!(all.iter().all(|g| g.successful()));
    assert_eq!(all[1], b.as_any());
}

#[test]
fn spawn_takes_a_closure_larger_than_one_kib() {
    // Regression: every spawn path panicked with "type is too big to transfer" past ~1 KiB of
    // captures (a rustls `StreamOwned` is 1,112 bytes).
    let big = [3u8; 1112];
    let a = spawn(move || big.iter().map(|&b| b as u32).sum::<u32>());
    let huge = vec![[1u8; 4096]; 1].pop().unwrap();
    let b = greenwood::Builder::new()
        .name("huge")
        .spawn(move || huge.len())
        .expect("Builder::spawn returns its errors, it does not panic");
    let later = [2u8; 2048];
    let c = greenwood::spawn_later(Duration::from_millis(1), move || later[2047]);
    let pool = greenwood::pool::Pool::new(2);
    let pooled = [5u8; 1500];
    let d = pool.spawn(move || pooled[0]);
    assert_eq!(a.get().unwrap(), 3 * 1112);
    assert_eq!(b.get().unwrap(), 4096);
    assert_eq!(c.get().unwrap(), 2);
    assert_eq!(d.get().unwrap(), 5);
}

#[test]
fn a_greenlet_returning_an_io_result_hands_it_over_with_take() {
    // Regression: a value that is not Clone (io::Result) had no way out but take(), which the
    // docs did not point to; get() needs Clone.
    let g = spawn(|| -> std::io::Result<Vec<u8>> {
        Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "no photo",
        ))
    });
    let r = g.take().expect("the greenlet finished");
    assert_eq!(r.unwrap_err().kind(), std::io::ErrorKind::NotFound);
    assert_eq!(g.take().unwrap_err().kind(), ErrorKind::Taken);
}

#[test]
fn greenlet_errors_compare_equal_when_they_say_the_same() {
    let _failures = capture_failures();
    let g = spawn(|| -> u8 { panic!("bad input") });
    let (a, b) = (g.get(), g.get());
    assert_eq!(a, b);
    assert_ne!(a, Ok(1));
    let other = spawn(|| -> u8 { panic!("bad input") });
    assert_ne!(g.get(), other.get(), "another greenlet, another error");
}

#[test]
fn a_link_unlinked_by_an_earlier_link_of_the_same_notification_does_not_run() {
    // Regression (gevent's test_multiple_listeners_error_unlink): all links were taken at
    // once, so unlinking one from inside an earlier callback had no effect.
    let log = Log::new();
    let g = spawn(|| ());
    let second: std::rc::Rc<std::cell::Cell<Option<greenwood::LinkId>>> = Default::default();
    let s = second.clone();
    let l = log.clone();
    g.link(move |g| {
        l.push("first");
        assert!(g.unlink(s.get().unwrap()), "the second had not run yet");
    });
    let l = log.clone();
    second.set(Some(g.link(move |_| l.push("second"))));
    let l = log.clone();
    g.link(move |_| l.push("third"));
    g.join();
    greenwood::sleep(Duration::ZERO);
    assert_eq!(log.get(), ["first", "third"]);
}

#[test]
fn builder_spawn_returns_an_error_for_an_impossible_stack_size() {
    let err = greenwood::Builder::new()
        .stack_size(usize::MAX)
        .spawn(|| ())
        .expect_err("no such stack");
    assert!(err.to_string().contains("address space"), "{err}");
}

#[test]
fn killing_an_unstarted_greenlet_whose_function_panics_on_drop_is_reported_not_an_abort() {
    // Regression: the process aborted with "cannot propagate coroutine panic with
    // #![no_std]" (the unrun function was dropped by corosensei, where a panic cannot go).
    struct PanicsOnDrop;
    impl Drop for PanicsOnDrop {
        fn drop(&mut self) {
            panic!("destructor bug");
        }
    }
    if util::child_case().is_some() {
        let owned = PanicsOnDrop;
        let g = spawn(move || drop(owned));
        g.kill();
        assert_eq!(g.error().unwrap().kind(), ErrorKind::Killed);
        let other = spawn(|| 5);
        assert_eq!(other.get().unwrap(), 5, "the hub carries on");
        // Dropping a raw greenlet that never ran, too.
        let owned = PanicsOnDrop;
        drop(greenlet::Greenlet::new(move |_| drop(owned)));
        return;
    }
    let out = util::run_child(
        "killing_an_unstarted_greenlet_whose_function_panics_on_drop_is_reported_not_an_abort",
        "x",
    );
    let err = util::stderr(&out);
    assert!(out.status.success(), "{err}");
    assert_eq!(err.matches("never ran was dropped").count(), 2, "{err}");
    assert!(err.contains("destructor bug"), "{err}");
}

#[test]
fn running_out_of_address_space_in_spawn_says_so_and_does_not_hang_with_rust_backtrace() {
    // Regression: spawn's error was a panic, whose backtrace (RUST_BACKTRACE=1) needs memory
    // and mappings of its own; at vm.max_map_count the allocation-failure path hung forever.
    if util::child_case().is_some() {
        spawn(|| ()).join(); // the hub and the first chunk of stacks exist
        let vm_kib: u64 = std::fs::read_to_string("/proc/self/status")
            .unwrap()
            .lines()
            .find_map(|l| l.strip_prefix("VmSize:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap();
        let limit = (vm_kib + 64 * 1024) * 1024;
        let rl = libc::rlimit {
            rlim_cur: limit,
            rlim_max: libc::RLIM_INFINITY,
        };
        // SAFETY: setrlimit with a valid struct, in a child process of its own.
        assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_AS, &rl) }, 0);
        let mut kept = Vec::new();
        loop {
            // Suspended greenlets keep their stacks: the next chunk cannot be reserved.
            kept.push(spawn(|| greenwood::sleep(Duration::from_secs(3600))));
        }
    }
    let exe = std::env::current_exe().unwrap();
    let mut child = std::process::Command::new(exe)
        .args([
            "running_out_of_address_space_in_spawn_says_so_and_does_not_hang_with_rust_backtrace",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(util::CHILD_ENV, "x")
        .env("RUST_BACKTRACE", "1")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the child hung after running out of address space"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    let err = util::stderr(&out);
    assert!(!out.status.success());
    assert_eq!(
        err.matches("greenwood: cannot spawn a greenlet:").count(),
        1,
        "{err}"
    );
    assert!(
        err.contains("ulimit -v"),
        "the message names the limit: {err}"
    );
}

#[test]
fn kill_with_unwinds_with_the_payload_the_greenlet_sees_and_reports_nothing() {
    #[derive(Debug, PartialEq)]
    struct Reason(u32);
    let failures = capture_failures();
    let drops = counter();
    let seen = Log::new();
    let (d, s) = (drops.clone(), seen.clone());
    let g = spawn(move || {
        let _guard = CallOnDrop(d);
        let r = std::panic::catch_unwind(|| greenwood::sleep(LONG));
        let p = r.unwrap_err();
        s.push(p.downcast_ref::<Reason>().map(|r| r.0));
        std::panic::resume_unwind(p);
    });
    greenwood::sleep(Duration::ZERO);
    g.kill_with(Reason(9));
    assert_eq!(seen.get(), vec![Some(9)]);
    assert_eq!(drops.get(), 1, "its destructors ran");
    let err = g.error().unwrap();
    assert_eq!(err.kind(), ErrorKind::Killed);
    assert_eq!(err.message(), "killed", "a payload that is not a string");
    assert!(err.to_string().ends_with(" was killed"), "{err}");
    // A string payload is the message.
    let h = spawn(|| greenwood::sleep(LONG));
    greenwood::sleep(Duration::ZERO);
    h.kill_with(String::from("draining"));
    let err = h.error().unwrap();
    assert_eq!(err.message(), "killed: draining");
    assert!(err.to_string().ends_with(" was killed: draining"), "{err}");
    greenwood::sleep(Duration::ZERO);
    assert!(failures.get().is_empty(), "kills are not failures");
}

#[test]
fn kill_with_a_payload_the_greenlet_catches_lets_it_return_a_value() {
    let g = spawn(
        || match std::panic::catch_unwind(|| greenwood::sleep(LONG)) {
            Ok(()) => 0,
            Err(p) => *p.downcast::<i32>().unwrap() * 2,
        },
    );
    greenwood::sleep(Duration::ZERO);
    g.kill_with(21);
    assert!(g.successful());
    assert_eq!(g.get().unwrap(), 42);
}

#[test]
fn kill_with_before_start_never_runs_it_and_says_why() {
    let ran = counter();
    let r = ran.clone();
    let g = spawn(move || r.set(1));
    g.kill_with("not needed");
    assert!(g.dead() && !g.started());
    assert_eq!(ran.get(), 0);
    assert_eq!(
        g.error().unwrap().message(),
        "killed: not needed before it started"
    );
}

#[test]
fn a_real_panic_after_a_caught_kill_is_a_panic() {
    let failures = capture_failures();
    let g = spawn(|| {
        let _ = std::panic::catch_unwind(|| greenwood::sleep(LONG));
        panic!("broke while stopping");
    });
    greenwood::sleep(Duration::ZERO);
    g.kill_with(5u8);
    let err = g.error().unwrap();
    assert_eq!(err.kind(), ErrorKind::Panicked);
    assert_eq!(err.message(), "broke while stopping");
    greenwood::sleep(Duration::ZERO);
    assert_eq!(failures.get().len(), 1, "the panic is reported");
}

#[test]
fn throw_runs_the_target_before_the_caller_continues_and_does_not_wait_longer() {
    let log = Log::new();
    let l = log.clone();
    let g = spawn(move || {
        let r = std::panic::catch_unwind(|| greenwood::sleep(LONG));
        l.push(format!(
            "caught {}",
            r.unwrap_err().downcast::<&str>().unwrap()
        ));
        // It carries on after catching: throw does not wait for its end.
        greenwood::sleep(Duration::from_millis(5));
        l.push("ended".to_string());
    });
    greenwood::sleep(Duration::ZERO);
    g.throw("wake up");
    log.push("thrower goes on".to_string());
    assert!(!g.dead());
    g.join();
    assert_eq!(log.get(), ["caught wake up", "thrower goes on", "ended"]);
    assert!(g.successful());
}

#[test]
fn throw_to_a_runnable_greenlet_lands_at_its_next_blocking_point() {
    let waiter = Waiter::new();
    let w = waiter.clone();
    let log = Log::new();
    let l = log.clone();
    let g = spawn(move || {
        let v: u32 = w.get();
        l.push(v);
        greenwood::sleep(LONG); // the throw lands here
    });
    greenwood::sleep(Duration::ZERO);
    waiter.switch(3u32); // runnable now, with its wake-up
    g.throw(0u8);
    g.join();
    assert_eq!(log.get(), vec![3], "the wake-up was not lost");
    assert_eq!(g.error().unwrap().kind(), ErrorKind::Killed);
}

#[test]
fn a_greenlet_that_throws_to_itself_unwinds_at_once() {
    let g = spawn(|| {
        let me = greenwood::getcurrent();
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| me.throw(1u16)));
        *r.unwrap_err().downcast::<u16>().unwrap()
    });
    assert_eq!(g.get().unwrap(), 1);
}

#[test]
fn killall_with_gives_every_greenlet_its_copy() {
    let seen = Log::new();
    let gs: Vec<_> = (0..4)
        .map(|_| {
            let s = seen.clone();
            spawn(move || {
                let r = std::panic::catch_unwind(|| greenwood::sleep(LONG));
                s.push(*r.unwrap_err().downcast::<u64>().unwrap());
            })
        })
        .collect();
    greenwood::sleep(Duration::ZERO);
    greenwood::killall_with(&gs, 77u64);
    assert_eq!(seen.get(), vec![77; 4]);
    assert!(gs.iter().all(|g| g.dead()));
}

#[test]
fn an_unstarted_greenlet_runs_only_once_started() {
    let ran = counter();
    let r = ran.clone();
    let g = greenwood::Greenlet::new(move || {
        r.set(r.get() + 1);
        "done"
    });
    greenwood::sleep(Duration::from_millis(1));
    assert_eq!(ran.get(), 0);
    assert!(!g.started() && !g.dead());
    assert_eq!(
        greenwood::hub::get_hub().stats().alive,
        0,
        "not live until started"
    );
    g.start();
    g.start(); // a second start does nothing
    assert_eq!(g.get().unwrap(), "done");
    g.start(); // nor does one after its end
    greenwood::sleep(Duration::ZERO);
    assert_eq!(ran.get(), 1);
}

#[test]
fn an_unstarted_greenlet_dropped_frees_its_function_unrun() {
    let drops = counter();
    let guard = CallOnDrop(drops.clone());
    let ran = counter();
    let r = ran.clone();
    let g = greenwood::Builder::new()
        .name("never")
        .build(move || {
            let _keep = &guard;
            r.set(1);
        })
        .unwrap();
    assert_eq!(g.name(), Some("never"));
    drop(g);
    assert_eq!(
        drops.get(),
        1,
        "the function (and what it holds) was dropped"
    );
    greenwood::sleep(Duration::ZERO);
    assert_eq!(ran.get(), 0);
}

#[test]
fn killing_an_unstarted_greenlet_marks_it_dead_and_start_then_does_nothing() {
    let ran = counter();
    let r = ran.clone();
    let g = greenwood::Greenlet::new(move || r.set(1));
    g.kill();
    assert!(g.dead() && !g.started());
    assert_eq!(g.error().unwrap().kind(), ErrorKind::Killed);
    g.start();
    greenwood::sleep(Duration::ZERO);
    assert_eq!(ran.get(), 0);
}

#[test]
fn start_later_delays_an_unstarted_greenlet_and_kill_cancels_it() {
    let g = greenwood::Greenlet::new(|| 5);
    g.start_later(Duration::from_millis(2));
    g.start(); // already due to start: nothing
    assert!(!g.started());
    assert_eq!(g.get().unwrap(), 5);
    let h = greenwood::Greenlet::new(|| 6);
    h.start_later(LONG);
    h.kill();
    assert!(h.dead() && !h.started());
    assert_eq!(
        greenwood::hub::get_hub().pending_timers(),
        0,
        "its start timer went"
    );
}

#[test]
fn joining_a_greenlet_nobody_starts_is_a_loop_exit_that_says_so() {
    let g = greenwood::Builder::new()
        .name("forgotten")
        .build(|| ())
        .unwrap();
    let p = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| g.join())).unwrap_err();
    let msg = util::panic_text(&*p);
    assert!(msg.contains("LoopExit"), "{msg}");
    assert!(msg.contains("greenlet 'forgotten'"), "{msg}");
    assert!(msg.contains("which has not started"), "{msg}");
}

#[test]
fn get_timeout_gives_elapsed_or_the_result() {
    let failures = capture_failures();
    let slow = spawn(|| {
        greenwood::sleep(LONG);
        1
    });
    assert!(slow.get_timeout(Duration::from_millis(2)).is_err());
    assert!(!slow.dead(), "it goes on");
    let bad = spawn(|| -> u8 { panic!("no") });
    let inner = bad.get_timeout(LONG).unwrap();
    assert_eq!(inner.unwrap_err().message(), "no");
    slow.kill();
    assert_eq!(
        slow.get_timeout(LONG).unwrap().unwrap_err().kind(),
        ErrorKind::Killed
    );
    greenwood::sleep(Duration::ZERO);
    assert_eq!(failures.get().len(), 1);
}

#[test]
fn a_weak_handle_upgrades_while_the_hub_or_a_handle_holds_the_greenlet() {
    let drops = counter();
    let d = drops.clone();
    let weak = greenwood::spawn(move || CallOnDrop(d)).downgrade();
    // No handle left, but unfinished: its hub holds it.
    let g = weak.upgrade().expect("an unfinished greenlet upgrades");
    g.join();
    assert_eq!(drops.get(), 0, "the value is held by the handle");
    assert!(weak.upgrade().is_some_and(|h| h.dead()));
    drop(g);
    assert!(weak.upgrade().is_none());
    assert_eq!(drops.get(), 1, "the weak handle did not keep the value");
    assert_eq!(format!("{weak:?}"), "WeakGreenlet(gone)");

    // An unstarted greenlet is held by its handles only; upgrading one can start it.
    let unstarted = greenwood::Greenlet::new(|| 7);
    let w = unstarted.downgrade();
    assert_eq!(w, unstarted.downgrade());
    w.upgrade().unwrap().start();
    assert_eq!(unstarted.get().unwrap(), 7);
    let never = greenwood::Greenlet::new(|| -> u8 { unreachable!() }).downgrade();
    assert!(never.upgrade().is_none(), "dropped unstarted: freed unrun");
}
