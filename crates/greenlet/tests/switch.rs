//! `switch`: values, starting, returning to the parent, dead targets, panics.

mod util;

use std::cell::RefCell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;

use greenlet::{getcurrent, Greenlet, Value};

#[test]
fn first_switch_starts_run_with_the_value() {
    let g = Greenlet::new(|v: Value| v.downcast::<String>().unwrap() + " world");
    assert!(!g.is_started());
    let out = g.switch(String::from("hello"));
    assert_eq!(out.downcast::<String>().unwrap(), "hello world");
    assert!(g.is_started());
    assert!(g.is_dead());
    assert!(!g.is_active());
}

#[test]
fn values_flow_both_ways_across_many_switches() {
    let main = getcurrent();
    let g = Greenlet::new(move |v| {
        let mut total = v.downcast::<u64>().unwrap();
        loop {
            let next = main.switch(total).downcast::<u64>().unwrap();
            if next == 0 {
                return total;
            }
            total += next;
        }
    });
    assert_eq!(g.switch(1u64).downcast::<u64>().unwrap(), 1);
    for i in 2..=100u64 {
        assert_eq!(g.switch(i).downcast::<u64>().unwrap(), i * (i + 1) / 2);
    }
    assert!(g.is_active());
    assert_eq!(g.switch(0u64).downcast::<u64>().unwrap(), 5050);
    assert!(g.is_dead());
}

#[test]
fn switching_to_the_current_greenlet_returns_the_value() {
    let main = getcurrent();
    assert_eq!(main.switch(5i32).downcast::<i32>().unwrap(), 5);
    let g = Greenlet::new(|_| getcurrent().switch("me").downcast::<&str>().unwrap());
    assert_eq!(g.switch(()).downcast::<&str>().unwrap(), "me");
}

#[test]
fn greenlets_switch_to_each_other_directly() {
    let log = Rc::new(RefCell::new(Vec::new()));
    let main = getcurrent();
    let (l1, l2) = (log.clone(), log.clone());
    let b_slot: Rc<RefCell<Option<Greenlet>>> = Rc::new(RefCell::new(None));
    let b_for_a = b_slot.clone();
    let a = Greenlet::new(move |_| {
        l1.borrow_mut().push("a1");
        let b = b_for_a.borrow().clone().unwrap();
        let v = b.switch(10i32).downcast::<i32>().unwrap();
        l1.borrow_mut().push("a2");
        v + 1
    });
    let a2 = a.clone();
    let b = Greenlet::new(move |v| {
        l2.borrow_mut().push("b1");
        assert_eq!(v.downcast::<i32>().unwrap(), 10);
        a2.switch(20i32); // resumes a, which finishes: its result goes to main, not here
        l2.borrow_mut().push("b2 never");
        main.switch(());
    });
    *b_slot.borrow_mut() = Some(b.clone());
    assert_eq!(a.switch(()).downcast::<i32>().unwrap(), 21);
    assert_eq!(*log.borrow(), ["a1", "b1", "a2"]);
    assert!(a.is_dead());
    assert!(b.is_active());
}

#[test]
fn a_finished_greenlet_hands_its_result_to_its_parent() {
    let main = getcurrent();
    let outer = Greenlet::new(move |_| {
        let inner = Greenlet::new(|_| "from inner");
        assert_eq!(inner.parent().unwrap(), getcurrent());
        let got = inner.switch(()).downcast::<&str>().unwrap();
        main.switch(got);
    });
    assert_eq!(outer.switch(()).downcast::<&str>().unwrap(), "from inner");
}

#[test]
fn switching_to_a_dead_greenlet_goes_to_its_parent() {
    let g = Greenlet::new(|_| 1i32);
    g.switch(());
    assert!(g.is_dead());
    // Its parent is main, the current greenlet: the value comes straight back.
    assert_eq!(g.switch(7i32).downcast::<i32>().unwrap(), 7);

    let main = getcurrent();
    let parent = Greenlet::new(move |_| {
        let dead = Greenlet::new(|_| ());
        dead.switch(());
        main.switch(dead); // hand the dead child out, suspend
        unreachable!()
    });
    let dead = parent.switch(()).downcast::<Greenlet>().unwrap();
    assert!(dead.is_dead());
    // Switching to the dead child resumes its parent at its `main.switch`; the parent then
    // reaches `unreachable!`, whose panic arrives here, in the parent's own parent.
    let p2 = parent.clone();
    drop(parent);
    let r = catch_unwind(AssertUnwindSafe(|| dead.switch(())));
    assert!(
        r.is_err(),
        "parent was resumed and hit unreachable!, which panics into main"
    );
    assert!(p2.is_dead());
}

#[test]
fn results_skip_dead_parents() {
    let main = getcurrent();
    let parent = Greenlet::new(|_| ());
    parent.switch(());
    assert!(parent.is_dead());
    let child = Greenlet::builder()
        .parent(&parent)
        .build(|_| 99i32)
        .unwrap();
    // child finishes; its parent is dead, so the result goes on to the grandparent (main).
    assert_eq!(child.switch(()).downcast::<i32>().unwrap(), 99);
    assert_eq!(parent.parent().unwrap(), main);
}

#[test]
fn a_panic_resumes_in_the_parent() {
    let g = Greenlet::builder()
        .name("boom")
        .build(|_| -> () { panic!("kaboom {}", std::hint::black_box(7)) })
        .unwrap();
    let err = catch_unwind(AssertUnwindSafe(|| g.switch(()))).unwrap_err();
    assert_eq!(err.downcast_ref::<String>().unwrap(), "kaboom 7");
    assert!(g.is_dead());
    // The thread's main greenlet is still fine.
    let h = Greenlet::new(|_| 3i32);
    assert_eq!(h.switch(()).downcast::<i32>().unwrap(), 3);
}

#[test]
fn a_greenlet_parent_can_catch_its_childs_panic() {
    let parent = Greenlet::new(|_| {
        let child = Greenlet::new(|_| -> () { panic!("child failed") });
        let r = catch_unwind(AssertUnwindSafe(|| child.switch(())));
        let msg = *r.unwrap_err().downcast::<&str>().unwrap();
        format!("caught: {msg}")
    });
    assert_eq!(
        parent.switch(()).downcast::<String>().unwrap(),
        "caught: child failed"
    );
}

#[test]
fn getcurrent_and_states() {
    let main = getcurrent();
    assert!(main.is_main() && main.is_started() && main.is_active() && !main.is_dead());
    assert!(main.parent().is_none());
    assert_eq!(main.name(), Some("main"));
    assert_eq!(main, getcurrent());
    let g = Greenlet::new(|_| {
        let me = getcurrent();
        assert!(me.is_active() && me.is_started() && !me.is_main());
        me.id()
    });
    let id = g.id();
    assert_eq!(g.switch(()).downcast::<u64>().unwrap(), id);
}

#[test]
fn every_thread_has_its_own_main_greenlet() {
    let here = getcurrent().id();
    let there = std::thread::spawn(|| {
        let main = getcurrent();
        let g = Greenlet::new(|_| 5i32);
        (
            main.id(),
            main.is_main(),
            g.switch(()).downcast::<i32>().unwrap(),
        )
    })
    .join()
    .unwrap();
    assert_ne!(there.0, here);
    assert!(there.1);
    assert_eq!(there.2, 5);
}

#[test]
fn values() {
    assert!(Value::new(()).is_unit());
    assert!(Value::UNIT.is::<()>());
    assert_eq!(Value::new(()).downcast::<()>().unwrap(), ());
    let v = Value::new(Value::new(3u8)); // not wrapped twice
    assert_eq!(v.downcast_ref::<u8>(), Some(&3));
    let v = Value::new(Box::new(4u16) as Box<dyn std::any::Any>);
    assert_eq!(v.downcast::<u16>().unwrap(), 4);
    let wrong = Value::new("text").downcast::<i64>().unwrap_err();
    assert_eq!(wrong.downcast::<&str>().unwrap(), "text");
    assert_eq!(format!("{:?}", Value::new(())), "Value(())");
}

#[test]
fn display_and_debug_name_the_greenlet() {
    let g = Greenlet::builder().name("worker").build(|_| ()).unwrap();
    assert_eq!(g.to_string(), "greenlet 'worker'");
    let anon = Greenlet::new(|_| ());
    assert_eq!(
        anon.to_string(),
        format!("greenlet 'greenlet-{}'", anon.id())
    );
    assert!(format!("{g:?}").contains("worker"));
}

#[test]
fn a_closure_larger_than_corosensei_can_move_still_builds_and_runs() {
    // Regression: "type is too big to transfer" for any closure over ~1 KiB (a buffer, a TLS
    // stream). Sizes on both sides of the inline limit, up to far past it.
    fn run_with<const N: usize>() {
        let mut buf = [0u8; N];
        buf[0] = 1;
        buf[N - 1] = 2;
        let g = Greenlet::new(move |v: Value| {
            let add = v.downcast::<usize>().unwrap();
            buf.iter().map(|&b| b as usize).sum::<usize>() + add
        });
        assert_eq!(
            g.switch(10usize).downcast::<usize>().unwrap(),
            13,
            "{N} bytes"
        );
    }
    run_with::<511>();
    run_with::<512>();
    run_with::<513>();
    run_with::<1024>();
    run_with::<1025>();
    run_with::<4096>();
    run_with::<65536>();
}

#[test]
fn a_large_closure_that_never_runs_is_dropped_with_its_captures() {
    struct Big {
        _buf: [u8; 2048],
        dropped: Rc<std::cell::Cell<bool>>,
    }
    impl Drop for Big {
        fn drop(&mut self) {
            self.dropped.set(true);
        }
    }
    let dropped = Rc::new(std::cell::Cell::new(false));
    let big = Big {
        _buf: [7; 2048],
        dropped: dropped.clone(),
    };
    let g = Greenlet::new(move |_| drop(big));
    drop(g);
    assert!(dropped.get());
}
