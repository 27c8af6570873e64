//! The per-thread switch hook (`settrace`).

use std::cell::RefCell;
use std::rc::Rc;

use greenlet::{getcurrent, settrace, Greenlet};

type Log = Rc<RefCell<Vec<(String, String)>>>;

fn names(log: &Log) -> Vec<(String, String)> {
    log.borrow().clone()
}

fn recorder() -> (Log, greenlet::SwitchHook) {
    let log = Rc::new(RefCell::new(Vec::new()));
    let l = log.clone();
    let hook: greenlet::SwitchHook = Box::new(move |from: &Greenlet, to: &Greenlet| {
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
    settrace(Some(Box::new(move |_, _| {
        l.borrow_mut().push(pair("first", ""));
        let l2 = l.clone();
        settrace(Some(Box::new(move |_, _| {
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
