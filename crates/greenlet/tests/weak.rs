//! `WeakGreenlet`: handles that do not keep a greenlet alive.

use std::cell::Cell;
use std::collections::HashSet;
use std::rc::Rc;

use greenlet::{getcurrent, Greenlet};

struct SetOnDrop(Rc<Cell<bool>>);

impl Drop for SetOnDrop {
    fn drop(&mut self) {
        self.0.set(true);
    }
}

/// A greenlet suspended in its first switch back to main, and a flag its unwinding sets.
fn suspended() -> (Greenlet, Rc<Cell<bool>>) {
    let unwound = Rc::new(Cell::new(false));
    let u = unwound.clone();
    let main = getcurrent();
    let g = Greenlet::new(move |_| {
        let _flag = SetOnDrop(u);
        main.switch(());
    });
    g.switch(());
    (g, unwound)
}

#[test]
fn a_weak_handle_does_not_keep_a_suspended_greenlet_alive() {
    let (g, unwound) = suspended();
    let weak = g.downgrade();
    let id = g.id();
    drop(g);
    assert!(
        unwound.get(),
        "the last strong handle unwound it, weak handle or not"
    );
    assert!(weak.upgrade().is_none());
    assert_eq!(weak.id(), id);
    assert!(format!("{weak:?}").contains("alive: false"));
}

#[test]
fn an_upgraded_handle_keeps_it_alive_like_any_other() {
    let (g, unwound) = suspended();
    let weak = g.downgrade();
    let strong = weak.upgrade().unwrap();
    drop(g);
    assert!(!unwound.get(), "the upgraded handle holds it");
    assert!(strong.is_active());
    strong.switch(()); // let it finish
    assert!(strong.is_dead() && unwound.get());
    assert!(
        weak.upgrade().is_some_and(|g| g.is_dead()),
        "a dead greenlet upgrades while a handle holds it"
    );
    drop(strong);
    assert!(weak.upgrade().is_none());
}

#[test]
fn a_running_greenlet_can_hand_out_a_weak_handle_to_itself() {
    let main = getcurrent();
    let g = Greenlet::new(move |_| {
        let me = getcurrent().downgrade();
        main.switch(me.clone());
        me.upgrade().map(|g| g.id())
    });
    let weak = g.switch(()).downcast::<greenlet::WeakGreenlet>().unwrap();
    assert_eq!(weak.upgrade().as_ref(), Some(&g));
    let id = g.switch(()).downcast::<Option<u64>>().unwrap();
    assert_eq!(id, Some(g.id()));
    let main_weak = getcurrent().downgrade();
    assert!(main_weak.upgrade().unwrap().is_main());
}

#[test]
fn weak_handles_compare_and_hash_by_greenlet() {
    let a = Greenlet::new(|_| ());
    let b = Greenlet::new(|_| ());
    let mut set = HashSet::new();
    set.insert(a.downgrade());
    set.insert(a.downgrade());
    set.insert(b.downgrade());
    assert_eq!(set.len(), 2);
    assert!(set.contains(&b.downgrade()));
    assert_ne!(a.downgrade(), b.downgrade());
}
