//! Stacks: sizes, overflow reports, kernel refusals, memory given back. Crash cases run in a
//! child process (this test binary re-executed), so one crash does not hide the others.

mod util;

use std::hint::black_box;

use greenlet::{getcurrent, Greenlet};
use util::{child_case, run_child, signal, stderr};

/// Recurses with 1 KiB frames until something stops it.
fn recurse(depth: u64) -> u64 {
    let frame = black_box([depth as u8; 1024]);
    if depth == u64::MAX {
        return 0;
    }
    recurse(depth + 1) + frame[0] as u64
}

#[test]
fn overflow_names_the_greenlet_and_its_stack_size() {
    if let Some(case) = child_case() {
        let b = Greenlet::builder().stack_size(64 * 1024);
        let b = if case == "named" {
            b.name("deep-recursion")
        } else {
            b
        };
        b.build(|_| recurse(0)).unwrap().switch(());
        unreachable!();
    }
    let out = run_child(
        "overflow_names_the_greenlet_and_its_stack_size",
        "named",
        &[],
    );
    let err = stderr(&out);
    assert!(
        err.contains("greenlet 'deep-recursion' overflowed its 64 KiB stack"),
        "{err}"
    );
    assert_eq!(signal(&out), Some(libc::SIGABRT), "{err}");

    let out = run_child(
        "overflow_names_the_greenlet_and_its_stack_size",
        "anonymous",
        &[],
    );
    let err = stderr(&out);
    assert!(
        err.contains("greenlet 'greenlet-") && err.contains("overflowed its 64 KiB stack"),
        "{err}"
    );
}

#[test]
fn other_segfaults_keep_their_normal_behaviour() {
    if child_case().is_some() {
        let _g = Greenlet::new(|_| ()); // installs the handler
                                        // SAFETY: deliberately not: a write through a bad pointer, to get a plain SIGSEGV.
        unsafe { std::ptr::write_volatile(16 as *mut u64, 1) };
        unreachable!();
    }
    let out = run_child("other_segfaults_keep_their_normal_behaviour", "segv", &[]);
    assert_eq!(signal(&out), Some(libc::SIGSEGV));
    assert!(!stderr(&out).contains("overflowed"));
}

#[test]
fn the_main_thread_overflow_report_of_std_still_works() {
    if child_case().is_some() {
        let _g = Greenlet::new(|_| ());
        std::thread::Builder::new()
            .name("plain".into())
            .stack_size(128 * 1024)
            .spawn(|| recurse(0))
            .unwrap()
            .join()
            .unwrap();
        unreachable!();
    }
    let out = run_child(
        "the_main_thread_overflow_report_of_std_still_works",
        "thread",
        &[],
    );
    let err = stderr(&out);
    assert!(
        err.contains("thread 'plain'") && err.contains("has overflowed its stack"),
        "{err}"
    );
    assert!(!err.contains("greenlet '"), "{err}");
}

#[test]
fn switching_from_the_hook_aborts_with_a_message() {
    if child_case().is_some() {
        greenlet::settrace(Some(std::rc::Rc::new(|_, _: &Greenlet, _: &Greenlet| {
            getcurrent().switch(());
        })));
        Greenlet::new(|_| ()).switch(());
        unreachable!();
    }
    let out = run_child("switching_from_the_hook_aborts_with_a_message", "hook", &[]);
    let err = stderr(&out);
    assert!(
        err.contains("a hook must not switch") && err.contains("switch hook panicked"),
        "{err}"
    );
    assert_eq!(signal(&out), Some(libc::SIGABRT));
}

#[test]
fn the_default_stack_is_enough_for_ordinary_rust() {
    let g = Greenlet::new(|_| {
        let text = format!(
            "{:>20} {:?} {:#?}",
            1.5f64,
            vec![1, 2, 3],
            std::env::args().next()
        );
        let caught = std::panic::catch_unwind(|| panic!("caught {}", black_box(1)));
        let trace = std::backtrace::Backtrace::force_capture().to_string();
        use std::net::ToSocketAddrs;
        let addrs: Vec<_> = ("localhost", 80)
            .to_socket_addrs()
            .map(|a| a.collect())
            .unwrap_or_default();
        (text.len(), caught.is_err(), trace.len(), addrs.len())
    });
    let (text, caught, trace, _addrs) = g
        .switch(())
        .downcast::<(usize, bool, usize, usize)>()
        .unwrap();
    assert!(text > 0 && caught && trace > 0);
}

#[test]
fn stack_sizes_per_greenlet_and_per_thread() {
    std::thread::spawn(|| {
        assert_eq!(greenlet::default_stack_size(), greenlet::DEFAULT_STACK_SIZE);
        assert_eq!(
            Greenlet::new(|_| ()).stack_size(),
            greenlet::DEFAULT_STACK_SIZE
        );
        let g = Greenlet::builder()
            .stack_size(100_000)
            .build(|_| ())
            .unwrap();
        assert_eq!(g.stack_size(), 102_400, "rounded up to pages");
        let tiny = Greenlet::builder().stack_size(1).build(|_| ()).unwrap();
        assert_eq!(tiny.stack_size(), greenlet::MIN_STACK_SIZE);
        greenlet::set_default_stack_size(32 * 1024);
        assert_eq!(Greenlet::new(|_| ()).stack_size(), 32 * 1024);
        // A stack of the new size runs code that fits in it.
        let g = Greenlet::new(|_| recurse_to(16));
        assert_eq!(g.switch(()).downcast::<u64>().unwrap(), 16);
    })
    .join()
    .unwrap();
    // Other threads keep their own default.
    assert_eq!(greenlet::default_stack_size(), greenlet::DEFAULT_STACK_SIZE);
}

fn recurse_to(n: u64) -> u64 {
    let frame = black_box([1u8; 512]);
    if n == 0 {
        0
    } else {
        recurse_to(n - 1) + frame[0] as u64
    }
}

#[test]
fn stacks_are_reused_and_their_memory_given_back_beyond_the_warm_cache() {
    if child_case().is_some() {
        fn rss_kib() -> u64 {
            let s = std::fs::read_to_string("/proc/self/status").unwrap();
            s.lines()
                .find_map(|l| {
                    l.strip_prefix("VmRSS:")?
                        .trim()
                        .strip_suffix("kB")?
                        .trim()
                        .parse()
                        .ok()
                })
                .unwrap()
        }
        let main = getcurrent();
        let before = rss_kib();
        // 2,000 greenlets, each touching at least 64 KiB of its stack, all alive at once.
        let gs: Vec<Greenlet> = (0..2000)
            .map(|_| {
                let m = main.clone();
                let g = Greenlet::new(move |_| {
                    recurse_to(64);
                    m.switch(());
                });
                g.switch(());
                g
            })
            .collect();
        let full = rss_kib();
        drop(gs);
        let after = rss_kib();
        let warm = greenlet::warm_stacks();
        println!("before={before} full={full} after={after} warm={warm}");
        assert!(warm <= 32, "warm cache is small: {warm}");
        let (used, kept) = (full - before, after.saturating_sub(before));
        assert!(
            used > 2000 * 32,
            "each greenlet touched at least 32 KiB: {used} KiB in all"
        );
        assert!(
            kept < used / 4,
            "memory given back: {used} KiB used, {kept} KiB kept"
        );
        // Reuse: churning through many more greenlets creates no new memory.
        for _ in 0..10_000 {
            Greenlet::new(|_| ()).switch(());
        }
        assert!(rss_kib() < after + 8 * 1024);
        return;
    }
    let out = run_child(
        "stacks_are_reused_and_their_memory_given_back_beyond_the_warm_cache",
        "rss",
        &[],
    );
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        stderr(&out)
    );
}

#[test]
fn address_space_refusal_names_the_limit() {
    if child_case().is_some() {
        // SAFETY: plain setrlimit on this child process.
        unsafe {
            let lim = libc::rlimit {
                rlim_cur: 512 << 20,
                rlim_max: libc::RLIM_INFINITY,
            };
            assert_eq!(libc::setrlimit(libc::RLIMIT_AS, &lim), 0);
        }
        let err = Greenlet::builder().build(|_| ()).unwrap_err();
        eprintln!("ERROR: {err}");
        assert_eq!(err.kind(), std::io::ErrorKind::OutOfMemory);
        return;
    }
    let out = run_child("address_space_refusal_names_the_limit", "as", &[]);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("ulimit -v") && err.contains("RLIMIT_AS"),
        "{err}"
    );
}

#[test]
fn without_madv_guard_install_the_map_count_limit_is_named() {
    if child_case().is_some() {
        let main = getcurrent();
        let mut gs = Vec::new();
        let err = loop {
            let m = main.clone();
            match Greenlet::builder().stack_size(16 * 1024).build(move |_| {
                m.switch(());
            }) {
                Ok(g) => gs.push(g),
                Err(e) => break e,
            }
            assert!(
                gs.len() < 200_000,
                "the mprotect fallback should hit vm.max_map_count"
            );
        };
        assert_eq!(greenlet::stack_guard_kind(), "mprotect(PROT_NONE)");
        eprintln!("after {} greenlets: {err}", gs.len());
        return;
    }
    let out = run_child(
        "without_madv_guard_install_the_map_count_limit_is_named",
        "mprotect",
        &[("GREENLET_STACK_GUARD", "mprotect")],
    );
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("vm.max_map_count") && err.contains("sysctl -w"),
        "{err}"
    );
}

#[test]
fn greenlet_exit_on_deep_stacks_unwinds_every_frame() {
    use std::cell::Cell;
    use std::rc::Rc;
    fn nest(n: u32, drops: Rc<Cell<u32>>, main: &Greenlet) {
        let _d = util::CallOnDrop(drops.clone());
        if n == 0 {
            main.switch(());
        } else {
            nest(n - 1, drops, main);
        }
    }
    let drops = util::counter();
    let (d, main) = (drops.clone(), getcurrent());
    let g = Greenlet::new(move |_| nest(100, d, &main));
    g.switch(());
    drop(g);
    assert_eq!(drops.get(), 101);
}

#[test]
fn an_impossible_stack_size_is_a_clear_error_not_a_crash() {
    // Regression: stack_size(usize::MAX) rounded to 0 and the stack's header landed in the
    // guard page (a segfault); 256 TiB blamed vm.overcommit_memory.
    for bytes in [
        usize::MAX,
        usize::MAX - 4095,
        256 << 40,
        greenlet::MAX_STACK_SIZE + 1,
    ] {
        let err = greenlet::Greenlet::builder()
            .stack_size(bytes)
            .build(|_| ())
            .expect_err("no such stack");
        assert_eq!(
            err.kind(),
            std::io::ErrorKind::InvalidInput,
            "{bytes}: {err}"
        );
        assert!(err.to_string().contains("address space"), "{err}");
        assert!(!err.to_string().contains("overcommit"), "{err}");
    }
    let e = std::panic::catch_unwind(|| greenlet::set_default_stack_size(usize::MAX));
    assert!(e.is_err());
    assert_eq!(greenlet::default_stack_size(), greenlet::DEFAULT_STACK_SIZE);
}
