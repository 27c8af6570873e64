//! Greenlet-local storage and inheritance.

mod util;

use std::cell::{Cell, RefCell};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Duration;

use greenwood::spawn;
use util::{counter, panic_text, CallOnDrop};

greenwood::greenlet_local! {
    static ID: Cell<u32> = Cell::new(0);
    static GUARD: RefCell<Option<CallOnDrop>> = RefCell::new(None);
    static NAME: String = String::from("anonymous");
}

#[test]
fn each_greenlet_sees_its_own_value_across_switches() {
    let gs: Vec<_> = (1..=3)
        .map(|i| {
            spawn(move || {
                ID.with(|id| id.set(i));
                greenwood::sleep(Duration::ZERO); // the others set theirs meanwhile
                ID.with(|id| id.get())
            })
        })
        .collect();
    greenwood::joinall(&gs);
    let got: Vec<u32> = gs.iter().map(|g| g.get().unwrap()).collect();
    assert_eq!(got, [1, 2, 3]);
    assert_eq!(ID.with(|id| id.get()), 0, "main's own value is untouched");
}

#[test]
fn a_spawned_greenlet_inherits_only_what_it_is_told_to() {
    NAME.set("request-9".to_string());
    ID.with(|id| id.set(9));
    let child = greenwood::Builder::new()
        .inherit(&NAME)
        .spawn(|| (NAME.get(), ID.with(|id| id.get())))
        .unwrap();
    // Changing ours after the spawn does not reach the child: it got a copy.
    NAME.set("changed".to_string());
    assert_eq!(child.get().unwrap(), ("request-9".to_string(), 0));
}

#[test]
fn values_are_dropped_when_their_greenlet_finishes() {
    let dropped = counter();
    let d = dropped.clone();
    let g = spawn(move || {
        GUARD.with(|g| *g.borrow_mut() = Some(CallOnDrop(d)));
        greenwood::sleep(Duration::from_secs(60));
    });
    greenwood::sleep(Duration::ZERO);
    assert_eq!(dropped.get(), 0);
    g.kill();
    assert_eq!(dropped.get(), 1);
}

#[test]
fn using_a_key_inside_its_own_with_is_refused_and_a_panic_keeps_the_value() {
    ID.with(|id| id.set(5));
    let r = catch_unwind(AssertUnwindSafe(|| ID.with(|_| ID.with(|id| id.get()))));
    assert!(panic_text(&*r.unwrap_err()).contains("already in use"));
    assert_eq!(ID.with(|id| id.get()), 5, "the value survived the panic");
}

thread_local! {
    static INIT_CALLS: Cell<u32> = const { Cell::new(0) };
}

fn flaky_init() -> u32 {
    let n = INIT_CALLS.with(|c| {
        c.set(c.get() + 1);
        c.get()
    });
    if n == 1 {
        panic!("the first initialisation fails");
    }
    n * 10
}

greenwood::greenlet_local! {
    static FLAKY: u32 = flaky_init();
}

#[test]
fn a_local_whose_initialiser_panicked_retries_it_on_the_next_access() {
    // Regression (gevent's test__local.py): the "in use" marker stayed after the panic, and
    // every later access panicked with "used while already in use".
    let first = catch_unwind(AssertUnwindSafe(|| FLAKY.get()));
    assert_eq!(
        panic_text(&*first.unwrap_err()),
        "the first initialisation fails"
    );
    assert_eq!(
        FLAKY.get(),
        20,
        "the second access ran the initialiser again"
    );
    assert_eq!(FLAKY.get(), 20, "and kept its value");
    assert_eq!(INIT_CALLS.with(Cell::get), 2);
}

#[test]
fn a_run_time_local_gives_each_greenlet_its_own_value() {
    use greenwood::local::Local;
    let made = util::counter();
    let m = made.clone();
    let id = Local::new(move || {
        m.set(m.get() + 1);
        std::cell::Cell::new(0u32)
    });
    id.with(|v| v.set(100));
    let gs: Vec<_> = (1..=3u32)
        .map(|i| {
            let id = id.clone();
            greenwood::spawn(move || {
                id.with(|v| v.set(i));
                greenwood::sleep(Duration::from_millis(1)); // the others run meanwhile
                id.with(|v| v.get())
            })
        })
        .collect();
    let seen: Vec<u32> = gs.iter().map(|g| g.get().unwrap()).collect();
    assert_eq!(seen, [1, 2, 3]);
    assert_eq!(id.with(|v| v.get()), 100);
    assert_eq!(made.get(), 4, "one value per greenlet that used it");
    // Two locals of the same type are two variables.
    let other: Local<std::cell::Cell<u32>> = Local::default();
    assert_eq!(other.with(|v| v.get()), 0);
}

#[test]
fn dropping_a_run_time_local_drops_every_greenlets_value() {
    use greenwood::local::Local;
    let drops = util::counter();
    let d = drops.clone();
    let local = Local::new(move || util::CallOnDrop(d.clone()));
    local.with(|_| ());
    let l = local.clone();
    let parked = greenwood::spawn(move || {
        l.with(|_| ());
        drop(l);
        greenwood::sleep(Duration::from_secs(3600));
    });
    greenwood::sleep(Duration::ZERO);
    assert_eq!(drops.get(), 0);
    drop(local);
    assert_eq!(drops.get(), 2, "the main greenlet's and the parked one's");
    parked.kill();
    let again = Local::new(|| 1u8);
    again.set(2);
    assert_eq!(again.get(), 2);
    let g = greenwood::spawn(move || again.get());
    assert_eq!(g.get().unwrap(), 1);
}
