//! Failure reporting: a panicking greenlet is reported once, with its name and spawn site.

mod util;

use std::time::Duration;

use greenwood::{spawn, ErrorKind};
use util::{capture_failures, Log};

#[test]
fn each_failure_is_reported_once_with_name_site_and_message() {
    let failures = capture_failures();
    let line = line!() + 3;
    let a = greenwood::Builder::new()
        .name("resize")
        .spawn(|| -> () { panic!("bad jpeg") })
        .unwrap();
    let b = spawn(|| greenwood::sleep(Duration::from_secs(3600)));
    let c = spawn(|| 3);
    greenwood::sleep(Duration::ZERO);
    b.kill();
    a.join();
    c.join();
    // Asking again does not report again.
    let _ = a.get();
    let _ = a.get();
    let reported = failures.get();
    assert_eq!(
        reported.len(),
        1,
        "killed and successful greenlets are not failures"
    );
    let f = &reported[0];
    assert_eq!(f.kind(), ErrorKind::Panicked);
    assert_eq!(f.greenlet(), "greenlet 'resize'");
    assert_eq!(f.spawned_at().unwrap().line(), line);
    assert_eq!(f.message(), "bad jpeg");
}

#[test]
fn unnamed_greenlets_are_named_by_id() {
    let failures = capture_failures();
    let g = spawn(|| -> () { panic!("x") });
    g.join();
    assert_eq!(
        failures.get()[0].greenlet(),
        format!("greenlet 'greenlet-{}'", g.id())
    );
}

#[test]
fn without_a_handler_failures_go_to_stderr_once() {
    if util::child_case().is_some() {
        let g = greenwood::Builder::new()
            .name("fetch-9")
            .spawn(|| -> () { panic!("connection refused") })
            .unwrap();
        g.join();
        let _ = g.get();
        return;
    }
    let out = util::run_child("without_a_handler_failures_go_to_stderr_once", "stderr");
    let err = util::stderr(&out);
    assert!(out.status.success(), "{err}");
    let report = "greenwood: greenlet 'fetch-9' (spawned at crates/greenwood/tests/failure.rs:";
    assert_eq!(err.matches(report).count(), 1, "{err}");
    assert!(err.contains(": connection refused"), "{err}");
}

#[test]
fn a_greenlet_panic_is_reported_once_not_also_as_a_thread_panic() {
    // Regression: Rust's default hook printed `thread 'main' panicked at ...` (naming the OS
    // thread) and then greenwood printed its own report: every panic told twice.
    let line = line!() + 5;
    match util::child_case().as_deref() {
        Some("once") | Some("backtrace") => {
            let g = greenwood::Builder::new()
                .name("fetch-9")
                .spawn(|| -> () { panic!("connection refused") })
                .unwrap();
            g.join();
            let err = g.get().unwrap_err();
            assert!(err.panic_location().unwrap().contains("failure.rs:"));
            return;
        }
        _ => {}
    }
    let out = util::run_child(
        "a_greenlet_panic_is_reported_once_not_also_as_a_thread_panic",
        "once",
    );
    let err = util::stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        !err.contains("thread '"),
        "the default hook spoke too: {err}"
    );
    assert_eq!(err.matches("panicked").count(), 1, "{err}");
    let at = format!("panicked at crates/greenwood/tests/failure.rs:{line}:");
    assert!(err.contains(&at), "{err}");
    assert!(!err.contains("stack backtrace:"), "{err}");

    let out = util::run_child_with(
        "a_greenlet_panic_is_reported_once_not_also_as_a_thread_panic",
        "backtrace",
        &[("RUST_BACKTRACE", "1")],
    );
    let err = util::stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(!err.contains("thread '"), "{err}");
    assert_eq!(err.matches("stack backtrace:").count(), 1, "{err}");
    assert!(err.contains(&at), "{err}");
    assert!(
        !err.contains("greenwood::report") && !err.contains("corosensei"),
        "the short backtrace leaves out the hook and the switch: {err}"
    );
}

#[test]
fn a_panic_hook_the_program_set_still_sees_greenlet_panics_and_others() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static SEEN: AtomicUsize = AtomicUsize::new(0);
    if util::child_case().is_some() {
        std::panic::set_hook(Box::new(|_| {
            SEEN.fetch_add(1, Ordering::SeqCst);
        }));
        let failures = capture_failures(); // creates the hub, which wraps the hook
        spawn(|| -> () { panic!("in a greenlet") }).join();
        assert_eq!(SEEN.load(Ordering::SeqCst), 1, "the program's hook saw it");
        assert_eq!(failures.get().len(), 1, "and greenwood reported it");
        let _ = std::panic::catch_unwind(|| panic!("on the main greenlet"));
        assert_eq!(SEEN.load(Ordering::SeqCst), 2);
        return;
    }
    let out = util::run_child(
        "a_panic_hook_the_program_set_still_sees_greenlet_panics_and_others",
        "hook",
    );
    assert!(out.status.success(), "{}", util::stderr(&out));
}

#[test]
fn panics_outside_greenlets_still_reach_the_default_hook() {
    if util::child_case().is_some() {
        spawn(|| ()).join(); // the hub exists, with greenwood's hook
        let _ = std::panic::catch_unwind(|| panic!("plain panic on main"));
        let _ = std::thread::spawn(|| panic!("plain panic on a thread")).join();
        return;
    }
    let out = util::run_child("panics_outside_greenlets_still_reach_the_default_hook", "x");
    let err = util::stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("plain panic on main"), "{err}");
    assert!(err.contains("plain panic on a thread"), "{err}");
    assert!(!err.contains("greenwood:"), "{err}");
}

#[test]
fn a_panicking_link_is_reported_once_with_where_it_panicked() {
    if util::child_case().is_some() {
        let g = spawn(|| ());
        g.link(|_| panic!("link bug"));
        g.join();
        greenwood::sleep(Duration::ZERO);
        return;
    }
    let out = util::run_child(
        "a_panicking_link_is_reported_once_with_where_it_panicked",
        "x",
    );
    let err = util::stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(!err.contains("thread '"), "{err}");
    assert_eq!(err.matches("link bug").count(), 1, "{err}");
    assert!(
        err.contains("panicked at crates/greenwood/tests/failure.rs:"),
        "{err}"
    );
}

#[test]
fn a_panicking_link_is_reported_and_the_other_links_still_run() {
    let log = Log::new();
    let g = spawn(|| ());
    g.link(|_| panic!("link bug"));
    let l = log.clone();
    g.link(move |_| l.push("second link"));
    g.join();
    greenwood::sleep(Duration::ZERO);
    assert_eq!(log.get(), ["second link"]);
}

#[test]
fn a_failure_handler_is_per_thread_and_can_be_removed() {
    let failures = capture_failures();
    std::thread::spawn(|| {
        // No handler on this thread: reported to stderr, not to the other thread's log.
        spawn(|| -> () { panic!("other thread") }).join();
    })
    .join()
    .unwrap();
    assert!(failures.get().is_empty());
    greenwood::set_failure_handler(None);
}

#[test]
fn reports_go_to_the_handler_set_for_the_process_not_to_stderr() {
    // Regression: library code printed with bare eprintln!, which a program could not catch,
    // route or silence.
    use greenwood::report::{Report, ReportKind};
    use std::sync::{Arc, Mutex};
    if util::child_case().is_some() {
        let seen: Arc<Mutex<Vec<ReportKind>>> = Arc::default();
        let s = seen.clone();
        greenwood::report::set_handler(Some(Box::new(move |r: &Report| {
            s.lock().unwrap().push(r.kind);
        })));
        // A failure with no failure handler on this thread.
        spawn(|| -> () { panic!("unjoined") }).join();
        // A link that panics.
        let g = spawn(|| ());
        g.link(|_| panic!("link bug"));
        g.join();
        greenwood::sleep(Duration::ZERO);
        // A suspended raw greenlet that survives its unwinding (the greenlet crate's warning).
        let main = greenlet::getcurrent();
        let stubborn = greenlet::Greenlet::new(move |_| {
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| main.switch(())));
            main.switch(());
        });
        stubborn.switch(());
        drop(stubborn);
        let seen = seen.lock().unwrap().clone();
        assert_eq!(
            seen,
            [
                ReportKind::GreenletFailed,
                ReportKind::CallbackPanicked,
                ReportKind::UnwindFailed
            ]
        );
        return;
    }
    let out = util::run_child(
        "reports_go_to_the_handler_set_for_the_process_not_to_stderr",
        "x",
    );
    let err = util::stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        !err.contains("greenwood:") && !err.contains("greenlet:"),
        "{err}"
    );
}

#[test]
fn a_failure_handler_that_panics_is_reported_and_the_hub_carries_on() {
    // Regression: the handler's panic escaped into the loop, an innocent sleeping greenlet was
    // reported killed and the hub greenlet was dead.
    if util::child_case().is_some() {
        greenwood::set_failure_handler(Some(Box::new(|_| panic!("handler bug"))));
        let sleeper = spawn(|| {
            greenwood::sleep(Duration::from_millis(5));
            "slept"
        });
        spawn(|| -> () { panic!("first failure") }).join();
        assert_eq!(
            sleeper.get().unwrap(),
            "slept",
            "the innocent greenlet lived"
        );
        assert_eq!(
            spawn(|| 7).get().unwrap(),
            7,
            "the hub still runs greenlets"
        );
        greenwood::set_failure_handler(None);
        return;
    }
    let out = util::run_child(
        "a_failure_handler_that_panics_is_reported_and_the_hub_carries_on",
        "x",
    );
    let err = util::stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("the failure handler panicked"), "{err}");
    assert_eq!(
        err.matches("handler bug").count(),
        1,
        "reported once: {err}"
    );
    assert!(!err.contains("thread '"), "{err}");
}
