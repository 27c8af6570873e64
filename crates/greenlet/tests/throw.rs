//! `throw` and dropping: unwinding suspended greenlets, with destructors run.

mod util;

use std::cell::{Cell, RefCell};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;

use greenlet::{getcurrent, Greenlet, GreenletExit};
use util::{counter, CallOnDrop};

fn suspended_with_guard(drops: &Rc<Cell<u32>>) -> Greenlet {
    let main = getcurrent();
    let guard = CallOnDrop(drops.clone());
    let g = Greenlet::new(move |_| {
        let _held = guard;
        let _on_stack = CallOnDrop(Rc::new(Cell::new(0)));
        main.switch(());
        unreachable!("resumed only by throw");
    });
    g.switch(());
    assert!(g.is_active());
    g
}

#[test]
fn throw_unwinds_a_suspended_greenlet_and_hands_the_parent_a_value() {
    let drops = counter();
    let g = suspended_with_guard(&drops);
    assert_eq!(drops.get(), 0);
    let v = g.throw();
    assert!(v.is::<GreenletExit>());
    assert_eq!(drops.get(), 1);
    assert!(g.is_dead());
}

#[test]
fn throw_into_a_greenlet_that_never_started_means_it_never_runs() {
    let drops = counter();
    let ran = Rc::new(Cell::new(false));
    let (guard, r) = (CallOnDrop(drops.clone()), ran.clone());
    let g = Greenlet::new(move |_| {
        let _g = guard;
        r.set(true);
    });
    assert!(g.throw().is::<GreenletExit>());
    assert!(!ran.get());
    assert_eq!(drops.get(), 1, "the closure was dropped");
    assert!(g.is_dead());
}

#[test]
fn throw_into_a_dead_greenlet_is_a_no_op() {
    let g = Greenlet::new(|_| 1u8);
    g.switch(());
    assert!(g.throw().is::<GreenletExit>());
}

#[test]
fn a_greenlet_may_catch_greenlet_exit_and_return_a_value() {
    let main = getcurrent();
    let g = Greenlet::new(move |_| {
        let r = catch_unwind(AssertUnwindSafe(|| {
            main.switch(());
        }));
        let exit = r.unwrap_err();
        assert!(exit.is::<GreenletExit>());
        "cleaned up"
    });
    g.switch(());
    assert_eq!(g.throw().downcast::<&str>().unwrap(), "cleaned up");
}

#[derive(Debug, PartialEq)]
struct Custom(u32);

#[test]
fn throw_with_a_payload_raises_it_in_the_greenlet_then_in_the_parent() {
    let drops = counter();
    let g = suspended_with_guard(&drops);
    let err = catch_unwind(AssertUnwindSafe(|| g.throw_with(Custom(3)))).unwrap_err();
    assert_eq!(*err.downcast::<Custom>().unwrap(), Custom(3));
    assert_eq!(drops.get(), 1);
    assert!(g.is_dead());
}

#[test]
fn dropping_the_last_handle_to_a_suspended_greenlet_unwinds_it() {
    let drops = counter();
    let g = suspended_with_guard(&drops);
    let again = g.clone();
    drop(g);
    assert_eq!(drops.get(), 0, "a handle is left");
    drop(again);
    assert_eq!(drops.get(), 1);
}

#[test]
fn dropping_a_greenlet_that_never_started_drops_its_closure() {
    let drops = counter();
    let guard = CallOnDrop(drops.clone());
    let g = Greenlet::new(move |_| drop(guard));
    drop(g);
    assert_eq!(drops.get(), 1);
}

#[test]
fn dropping_from_inside_another_greenlet_unwinds_and_comes_back() {
    let drops = counter();
    let log = Rc::new(RefCell::new(Vec::new()));
    let (d, l) = (drops.clone(), log.clone());
    let outer = Greenlet::builder()
        .name("outer")
        .build(move |_| {
            let victim = suspended_with_guard(&d);
            l.borrow_mut().push("before drop");
            drop(victim);
            l.borrow_mut().push("after drop");
            getcurrent().name().map(String::from)
        })
        .unwrap();
    let name = outer.switch(()).downcast::<Option<String>>().unwrap();
    assert_eq!(name.as_deref(), Some("outer"));
    assert_eq!(drops.get(), 1);
    assert_eq!(*log.borrow(), ["before drop", "after drop"]);
}

#[test]
fn an_unreferenced_greenlet_is_unwound_once_it_switches_away() {
    // Nobody keeps a handle: the temporary dies after `switch` returns, while the greenlet is
    // suspended in the middle of its function.
    let drops = counter();
    let guard = CallOnDrop(drops.clone());
    let main = getcurrent();
    Greenlet::new(move |_| {
        let _g = guard;
        main.switch(());
    })
    .switch(());
    assert_eq!(drops.get(), 1);
}

#[test]
fn a_parent_whose_last_handle_was_its_dead_child_is_unwound_when_the_child_goes() {
    let drops = counter();
    let main = getcurrent();
    let guard = CallOnDrop(drops.clone());
    let parent = Greenlet::new(move |_| {
        let _g = guard;
        loop {
            main.switch(());
        }
    });
    parent.switch(());
    let child = Greenlet::builder().parent(&parent).build(|_| ()).unwrap();
    drop(parent); // the child's parent link is now the only handle
    assert_eq!(drops.get(), 0);
    // The child finishes into its parent, which switches back to main, suspended again.
    child.switch(());
    assert!(child.is_dead());
    assert_eq!(drops.get(), 0);
    drop(child);
    assert_eq!(drops.get(), 1);
}

#[test]
fn a_panicking_destructor_during_drop_unwind_is_reported_not_propagated() {
    struct PanicOnDrop;
    impl Drop for PanicOnDrop {
        fn drop(&mut self) {
            if !std::thread::panicking() {
                panic!("destructor failed");
            }
        }
    }
    let main = getcurrent();
    let g = Greenlet::new(move |_| {
        let _p = PanicOnDrop;
        main.switch(());
    });
    g.switch(());
    drop(g); // must not panic here
}

#[test]
fn a_greenlet_that_refuses_to_die_is_leaked_not_freed_under_its_frames() {
    let main = getcurrent();
    let g = Greenlet::new(move |_| loop {
        let _ = catch_unwind(AssertUnwindSafe(|| {
            main.switch(());
        }));
    });
    g.switch(());
    drop(g); // prints a warning and leaks the stack
    let h = Greenlet::new(|_| 1i32);
    assert_eq!(h.switch(()).downcast::<i32>().unwrap(), 1);
}

#[test]
fn suspended_greenlets_left_at_thread_exit_do_not_crash_it() {
    std::thread::spawn(|| {
        thread_local! {
            static KEEP: RefCell<Vec<Greenlet>> = const { RefCell::new(Vec::new()) };
        }
        let main = getcurrent();
        let g = Greenlet::new(move |_| {
            main.switch(());
        });
        g.switch(());
        KEEP.with(|k| k.borrow_mut().push(g));
    })
    .join()
    .unwrap();
}

#[test]
fn a_suspended_greenlet_holding_a_handle_to_itself_is_still_unwound_when_dropped() {
    // Regression (greenlet's test_cycle_in_suspended_frame): the temporary `getcurrent()`
    // lives across the switch, so the greenlet held itself and dropping every other handle
    // never unwound it: destructors never ran, the stack was never freed, nothing was said.
    let drops = counter();
    let guard = CallOnDrop(drops.clone());
    let g = Greenlet::new(move |_| {
        let _held = guard;
        getcurrent().parent().unwrap().switch(());
        unreachable!("resumed only by the unwind");
    });
    g.switch(());
    assert!(g.is_active());
    drop(g);
    assert_eq!(drops.get(), 1, "unwound, its destructors ran");

    // Several own handles, named ones included, do not keep it alive either.
    let drops = counter();
    let guard = CallOnDrop(drops.clone());
    let g = Greenlet::new(move |_| {
        let _held = guard;
        let me = getcurrent();
        let again = getcurrent();
        me.parent().unwrap().switch(());
        drop(again);
        unreachable!("resumed only by the unwind");
    });
    g.switch(());
    drop(g);
    assert_eq!(drops.get(), 1);
}

#[test]
fn a_clone_of_getcurrent_keeps_a_suspended_greenlet_alive() {
    let kept: Rc<RefCell<Option<Greenlet>>> = Rc::new(RefCell::new(None));
    let k = kept.clone();
    let drops = counter();
    let guard = CallOnDrop(drops.clone());
    let g = Greenlet::new(move |_| {
        let _held = guard;
        *k.borrow_mut() = Some(getcurrent().clone());
        getcurrent().parent().unwrap().switch(());
        "resumed"
    });
    g.switch(());
    drop(g);
    assert_eq!(drops.get(), 0, "the stored clone keeps it");
    let g = kept.borrow_mut().take().unwrap();
    assert_eq!(g.switch(()).downcast::<&str>().unwrap(), "resumed");
    assert_eq!(drops.get(), 1);
}

#[test]
fn the_parent_is_restored_after_a_greenlet_survives_a_kill_on_drop() {
    // Regression (greenlet's test_parent_restored_on_kill): the greenlet that dropped the
    // last handle became the parent for the kill, and stayed the parent for good.
    let hub = Greenlet::new(|_| ());
    let main = getcurrent();
    let seen: Rc<RefCell<Vec<Greenlet>>> = Rc::new(RefCell::new(Vec::new()));
    let s = seen.clone();
    let h = hub.clone();
    let g = Greenlet::builder()
        .parent(&hub)
        .build(move |_| {
            let r = catch_unwind(AssertUnwindSafe(|| {
                h.switch(());
            }));
            let exit = r.unwrap_err();
            assert!(exit.is::<GreenletExit>());
            let me = getcurrent();
            s.borrow_mut().push(me.parent().unwrap());
            s.borrow_mut().push(me.clone());
            h.switch(());
        })
        .unwrap();
    g.switch(());
    drop(g);
    let seen = std::mem::take(&mut *seen.borrow_mut());
    assert_eq!(seen.len(), 2, "it caught the GreenletExit");
    assert_eq!(seen[0], main, "during the kill, the killer is its parent");
    assert_eq!(
        seen[1].parent().unwrap(),
        hub,
        "afterwards, its own parent again"
    );
}

#[test]
fn a_child_keeps_its_default_parent_alive() {
    // The default parent is the creating greenlet, held by an ordinary handle: dropping every
    // other handle to the parent does not unwind it while its child can still finish into it.
    let drops = counter();
    let guard = CallOnDrop(drops.clone());
    let main = getcurrent();
    let child_slot: Rc<RefCell<Option<Greenlet>>> = Rc::new(RefCell::new(None));
    let slot = child_slot.clone();
    let parent = Greenlet::new(move |_| {
        let _held = guard;
        let child = Greenlet::new(|_| "child done");
        *slot.borrow_mut() = Some(child);
        let from_child = main.switch(());
        from_child.downcast::<&str>().unwrap()
    });
    parent.switch(());
    drop(parent);
    assert_eq!(drops.get(), 0, "its child holds it");
    let child = child_slot.borrow_mut().take().unwrap();
    // The child finishes into its parent, which returns into main: its own parent.
    assert_eq!(child.switch(()).downcast::<&str>().unwrap(), "child done");
    assert_eq!(drops.get(), 1);
}
