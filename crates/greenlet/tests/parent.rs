//! Parents: who receives a finished greenlet's result, and which parents are refused.

use greenlet::{getcurrent, Greenlet, ParentError};

#[test]
fn the_creator_is_the_default_parent() {
    let g = Greenlet::new(|_| ());
    assert_eq!(g.parent().unwrap(), getcurrent());
    let inner_parent = Greenlet::new(|_| {
        let child = Greenlet::new(|_| ());
        child.parent().unwrap() == getcurrent()
    });
    assert!(inner_parent.switch(()).downcast::<bool>().unwrap());
}

#[test]
fn set_parent_redirects_the_result() {
    let main = getcurrent();
    let collector = Greenlet::new(move |v| {
        // Receives the child's result, then hands it to main tagged.
        main.switch(format!("collected {}", v.downcast::<i32>().unwrap()));
    });
    let child = Greenlet::new(|_| 5i32);
    child.set_parent(&collector).unwrap();
    let got = child.switch(()).downcast::<String>().unwrap();
    assert_eq!(got, "collected 5");
}

#[test]
fn a_cycle_is_refused_with_a_message() {
    let a = Greenlet::builder().name("a").build(|_| ()).unwrap();
    let b = Greenlet::builder()
        .name("b")
        .parent(&a)
        .build(|_| ())
        .unwrap();
    let c = Greenlet::builder()
        .name("c")
        .parent(&b)
        .build(|_| ())
        .unwrap();
    let err = a.set_parent(&c).unwrap_err();
    assert!(matches!(err, ParentError::Cycle { .. }));
    let msg = err.to_string();
    assert!(
        msg.contains("greenlet 'c'") && msg.contains("greenlet 'a'") && msg.contains("cycle"),
        "{msg}"
    );
    assert!(
        a.set_parent(&a).is_err(),
        "a greenlet can't be its own parent"
    );
    assert_eq!(
        a.parent().unwrap(),
        getcurrent(),
        "a refused parent changes nothing"
    );
}

#[test]
fn the_main_greenlet_cannot_get_a_parent() {
    let g = Greenlet::new(|_| ());
    let err = getcurrent().set_parent(&g).unwrap_err();
    assert_eq!(err, ParentError::MainGreenlet);
    assert!(err.to_string().contains("main greenlet"));
}
