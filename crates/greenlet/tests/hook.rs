//! The per-thread switch hook (`settrace`, `gettrace`) and its events.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use greenlet::{getcurrent, gettrace, settrace, Greenlet};

type Log = Rc<RefCell<Vec<(String, String)>>>;

fn names(log: &Log) -> Vec<(String, String)> {
    log.borrow().clone()
}

fn recorder() -> (Log, greenlet::SwitchHook) {
    let log = Rc::new(RefCell::new(Vec::new()));
    let l = log.clone();
    let hook: greenlet::SwitchHook = Rc::new(move |_, from: &Greenlet, to: &Greenlet| {
        l.borrow_mut().push((
            from.name().unwrap_or("?").into(),
            to.name().unwrap_or("?").into(),
        ));
    });
    (log, hook)
}

fn pair(a: &str, b: &str) -> (String, String) {
    (a.into(), b.into())
}

#[test]
fn the_hook_sees_every_switch_with_from_and_to() {
    let (log, hook) = recorder();
    let main = getcurrent();
    let b = Greenlet::builder()
        .name("b")
        .build(move |_| {
            main.switch(());
        })
        .unwrap();
    let b2 = b.clone();
    let a = Greenlet::builder()
        .name("a")
        .build(move |_| {
            b2.switch(()); // a -> b, b -> main
        })
        .unwrap();
    assert!(settrace(Some(hook)).is_none());
    a.switch(()); // main -> a -> b -> main
    getcurrent().switch(()); // to self: no switch, no call
    b.switch(()); // main -> b; b finishes -> main
    let removed = settrace(None);
    assert!(removed.is_some());
    a.switch(()); // not recorded: a resumes in b.switch... a finishes -> main
    assert_eq!(
        names(&log),
        [
            pair("main", "a"),
            pair("a", "b"),
            pair("b", "main"),
            pair("main", "b"),
            pair("b", "main")
        ]
    );
}

#[test]
fn a_finishing_greenlet_is_reported_switching_to_its_parent() {
    let (log, hook) = recorder();
    settrace(Some(hook));
    let parent = Greenlet::builder()
        .name("parent")
        .build(|_| {
            let child = Greenlet::builder().name("child").build(|_| ()).unwrap();
            child.switch(());
        })
        .unwrap();
    parent.switch(());
    settrace(None);
    assert_eq!(
        names(&log),
        [
            pair("main", "parent"),
            pair("parent", "child"),
            pair("child", "parent"),
            pair("parent", "main")
        ]
    );
}

#[test]
fn a_hook_can_replace_itself() {
    let (log, _) = recorder();
    let l = log.clone();
    settrace(Some(Rc::new(move |_, _: &Greenlet, _: &Greenlet| {
        l.borrow_mut().push(pair("first", ""));
        let l2 = l.clone();
        settrace(Some(Rc::new(move |_, _: &Greenlet, _: &Greenlet| {
            l2.borrow_mut().push(pair("second", ""))
        })));
    })));
    Greenlet::new(|_| ()).switch(()); // two switches: first, then second
    settrace(None);
    assert_eq!(names(&log), [pair("first", ""), pair("second", "")]);
}

#[test]
fn hooks_are_per_thread() {
    let (log, hook) = recorder();
    settrace(Some(hook));
    std::thread::spawn(|| {
        Greenlet::new(|_| ()).switch(());
    })
    .join()
    .unwrap();
    settrace(None);
    assert!(names(&log).is_empty());
}

type Events = Rc<RefCell<Vec<String>>>;

/// A hook that writes "event from -> to" for every switch.
fn event_recorder() -> (Events, greenlet::SwitchHook) {
    let log: Events = Rc::new(RefCell::new(Vec::new()));
    let l = log.clone();
    let hook: greenlet::SwitchHook = Rc::new(move |event, from: &Greenlet, to: &Greenlet| {
        l.borrow_mut().push(format!(
            "{event} {} -> {}",
            from.name().unwrap_or("?"),
            to.name().unwrap_or("?")
        ));
    });
    (log, hook)
}

fn named(name: &str, f: impl FnOnce(greenlet::Value) + 'static) -> Greenlet {
    Greenlet::builder().name(name).build(f).unwrap()
}

#[test]
fn throws_are_told_apart_from_switches() {
    let (log, hook) = event_recorder();
    let main = getcurrent();
    let m = main.clone();
    let g = named("g", move |_| {
        // Catch the first throw, then wait to be thrown into again.
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| m.switch(())));
        assert!(r.is_err());
        m.switch(());
    });
    settrace(Some(hook));
    g.switch(()); // switch main -> g
    g.throw_with("stop"); // throw main -> g, then g's switch back
    g.throw(); // throw main -> g; g ends by GreenletExit: a value for main
    settrace(None);
    assert_eq!(
        *log.borrow(),
        [
            "switch main -> g",
            "switch g -> main",
            "throw main -> g",
            "switch g -> main",
            "throw main -> g",
            "switch g -> main",
        ]
    );
}

#[test]
fn a_childs_panic_reaches_its_parent_as_a_throw() {
    let (log, hook) = event_recorder();
    let child = named("child", |_| panic!("boom"));
    settrace(Some(hook));
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| child.switch(())));
    settrace(None);
    assert!(r.is_err());
    assert_eq!(
        *log.borrow(),
        ["switch main -> child", "throw child -> main"]
    );
}

#[test]
fn dropping_the_last_handle_is_a_throw_into_the_greenlet() {
    let (log, hook) = event_recorder();
    let main = getcurrent();
    let g = named("g", move |_| {
        main.switch(());
    });
    g.switch(());
    settrace(Some(hook));
    drop(g);
    settrace(None);
    assert_eq!(*log.borrow(), ["throw main -> g", "switch g -> main"]);
}

#[test]
fn gettrace_returns_the_hook_set_and_none_once_removed() {
    assert!(gettrace().is_none());
    let (_, hook) = event_recorder();
    settrace(Some(hook.clone()));
    assert!(Rc::ptr_eq(&gettrace().unwrap(), &hook));
    let removed = settrace(None).unwrap();
    assert!(Rc::ptr_eq(&removed, &hook));
    assert!(gettrace().is_none());
}

#[test]
fn gettrace_inside_the_hook_sees_the_hook_and_a_hook_can_remove_itself() {
    let calls = Rc::new(Cell::new(0));
    let c = calls.clone();
    let saw_itself = Rc::new(Cell::new(false));
    let s = saw_itself.clone();
    settrace(Some(Rc::new(move |_, _: &Greenlet, _: &Greenlet| {
        c.set(c.get() + 1);
        s.set(gettrace().is_some());
        settrace(None);
    })));
    Greenlet::new(|_| ()).switch(()); // two switches; the hook sees the first only
    assert_eq!(calls.get(), 1);
    assert!(saw_itself.get());
    assert!(gettrace().is_none());
}

#[test]
fn a_hook_that_replaces_itself_while_holding_a_suspended_greenlet_frees_it_later() {
    // The replaced hook's captures are dropped while the main stack runs the hook for
    // another greenlet, where no greenlet can be unwound: that is deferred, not lost.
    let unwound = Rc::new(Cell::new(false));
    let main = getcurrent();
    let u = unwound.clone();
    let held = Greenlet::new(move |_| {
        struct Flag(Rc<Cell<bool>>);
        impl Drop for Flag {
            fn drop(&mut self) {
                self.0.set(true);
            }
        }
        let _f = Flag(u);
        main.switch(());
    });
    held.switch(());
    let slot = RefCell::new(Some(held));
    settrace(Some(Rc::new(move |_, _: &Greenlet, _: &Greenlet| {
        let _keep = &slot;
        settrace(None);
    })));
    let m = getcurrent();
    let g = Greenlet::new(move |_| {
        m.switch(());
    });
    g.switch(()); // the hook runs on main -> g, removes itself; `held` is unwound later
    assert!(
        unwound.get(),
        "unwound by the next greenlet that got control"
    );
    drop(g);
}
