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
    assert!(err.contains("panicked: connection refused"), "{err}");
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
