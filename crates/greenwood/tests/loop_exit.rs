//! `LoopExit`: a deadlock names what the main greenlet waits on.

mod util;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Duration;

use greenwood::hub::Waiter;
use greenwood::spawn;
use util::panic_text;

#[test]
fn joining_a_greenlet_stuck_forever_names_it_and_what_it_waits_on() {
    let w: Waiter<()> = Waiter::new();
    let waiter_line = line!() - 1;
    let w2 = w.clone();
    let spawn_line = line!() + 3;
    let stuck = greenwood::Builder::new()
        .name("stuck")
        .spawn(move || w2.get())
        .unwrap();
    let r = catch_unwind(AssertUnwindSafe(|| stuck.join()));
    let msg = panic_text(&*r.unwrap_err());
    assert!(
        msg.starts_with("greenwood: LoopExit: the main greenlet would block forever"),
        "{msg}"
    );
    assert!(
        msg.contains(&format!(
            "it waits on greenlet 'stuck' (spawned at {}:{spawn_line}:",
            file!()
        )),
        "{msg}"
    );
    assert!(
        msg.contains(&format!(
            "which waits on Waiter created at {}:{waiter_line}:",
            file!()
        )),
        "{msg}"
    );
    assert!(
        msg.contains("no greenlet is runnable, no timer is pending"),
        "{msg}"
    );

    // The hub still works afterwards, and the stuck greenlet can still be released.
    w.switch(());
    stuck.join();
    assert!(stuck.successful());
    assert_eq!(spawn(|| 1).get().unwrap(), 1);
}

#[test]
fn waiting_directly_on_a_waiter_nobody_fills_names_the_waiter() {
    let w: Waiter<u32> = Waiter::new();
    let line = line!() - 1;
    let r = catch_unwind(AssertUnwindSafe(|| w.get()));
    let msg = panic_text(&*r.unwrap_err());
    assert!(
        msg.contains(&format!(
            "it waits on Waiter created at {}:{line}:",
            file!()
        )),
        "{msg}"
    );
}

#[test]
fn a_chain_of_greenlets_waiting_on_each_other_is_followed() {
    let w: Waiter<()> = Waiter::new();
    let inner = greenwood::Builder::new()
        .name("inner")
        .spawn(move || w.get())
        .unwrap();
    let i2 = inner.clone();
    let outer = greenwood::Builder::new()
        .name("outer")
        .spawn(move || i2.join())
        .unwrap();
    let r = catch_unwind(AssertUnwindSafe(|| outer.join()));
    let msg = panic_text(&*r.unwrap_err());
    let o = msg.find("greenlet 'outer'").expect(&msg);
    let i = msg.find("which waits on greenlet 'inner'").expect(&msg);
    let wt = msg.find("which waits on Waiter created at").expect(&msg);
    assert!(o < i && i < wt, "{msg}");
    greenwood::killall(&[inner]);
    greenwood::killall(&[outer]);
}

#[test]
fn pending_timers_are_not_a_deadlock() {
    let w = Waiter::new();
    let w2 = w.clone();
    let _g = spawn(move || {
        greenwood::sleep(Duration::from_millis(20));
        w2.switch(5);
    });
    assert_eq!(w.get(), 5);
}

#[test]
fn an_uncaught_loop_exit_in_main_prints_its_message() {
    if util::child_case().is_some() {
        let w: Waiter<()> = Waiter::new();
        w.get();
        return;
    }
    let out = util::run_child("an_uncaught_loop_exit_in_main_prints_its_message", "main");
    assert!(!out.status.success());
    let err = util::stderr(&out);
    assert!(
        err.contains(
            "LoopExit: the main greenlet would block forever: it waits on Waiter created at"
        ),
        "{err}"
    );
}
