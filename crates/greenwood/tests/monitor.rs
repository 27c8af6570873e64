//! The monitor, `Hub::stats` and `util::assert_switches`.
//!
//! The monitor is process-wide: the tests take turns (`ONE_MONITOR`; the others' spinning
//! would also compete for the two cores) and keep only the reports about their own thread.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use greenwood::monitor::{self, Blocking, Config};

static ONE_MONITOR: Mutex<()> = Mutex::new(());

/// Starts the monitor with `threshold`, collecting the incidents of this thread.
fn watch(threshold: Duration) -> Arc<Mutex<Vec<Blocking>>> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    let me = std::thread::current().name().unwrap_or("").to_owned();
    monitor::start(Config::new().threshold(threshold).handler(move |b| {
        if b.thread.contains(&me) {
            s.lock().unwrap().push(b.clone());
        }
    }));
    seen
}

fn spin(d: Duration) {
    let start = Instant::now();
    while start.elapsed() < d {
        std::hint::spin_loop();
    }
}

/// Waits in greenwood (the hub polls: the monitor sees the loop move again) until `seen`
/// holds `n` incidents, or 10 s (a first report waits for the symbol tables).
fn settle_for(seen: &Mutex<Vec<Blocking>>, n: usize) {
    let limit = Instant::now() + Duration::from_secs(10);
    greenwood::sleep(Duration::from_millis(150));
    while seen.lock().unwrap().len() < n && Instant::now() < limit {
        greenwood::sleep(Duration::from_millis(20));
    }
}

/// Waits in greenwood long enough for the monitor to have looked several times.
fn settle() {
    greenwood::sleep(Duration::from_millis(150));
}

#[test]
fn a_spinning_greenlet_is_reported_by_name_and_spawn_site_then_let_go() {
    let _one = ONE_MONITOR.lock().unwrap_or_else(|e| e.into_inner());
    let seen = watch(Duration::from_millis(50));
    let builder = greenwood::Builder::new().name("spinner");
    let line = line!() + 1;
    let hog = builder.spawn(|| spin(Duration::from_millis(300))).unwrap();
    let bystander = greenwood::spawn(|| ());
    hog.join();
    settle_for(&seen, 2);
    monitor::stop();
    assert!(bystander.dead());
    let seen = seen.lock().unwrap();
    let at = seen
        .iter()
        .position(|b| b.name.as_deref() == Some("spinner") && !b.released)
        .unwrap_or_else(|| panic!("the spinner was reported: {seen:?}"));
    let (held, released) = (&seen[at], seen.get(at + 1).expect("then let go"));
    assert!(!held.released && released.released);
    assert_eq!(held.name.as_deref(), Some("spinner"));
    assert_eq!(held.greenlet, Some(hog.id()));
    let site = held.spawned_at.expect("a spawn site");
    assert_eq!((site.file(), site.line()), (file!(), line));
    assert!(held.held >= Duration::from_millis(50));
    assert!(released.held >= held.held);
    let text = held.to_string();
    assert!(
        text.contains("greenlet 'spinner'") && text.contains("without switching"),
        "{text}"
    );
    assert!(
        released.to_string().contains("let go of the loop"),
        "{released}"
    );
    assert!(greenwood::hub::get_hub().stats().longest_without_switch >= Some(held.held));
}

#[test]
fn a_greenlet_spawned_before_the_monitor_started_is_named_too() {
    let _one = ONE_MONITOR.lock().unwrap_or_else(|e| e.into_inner());
    let go = greenwood::event::Event::new();
    let g = go.clone();
    let line = line!() + 3;
    let hog = greenwood::Builder::new()
        .name("early-bird")
        .spawn(move || {
            g.wait();
            spin_in_a_named_function(Duration::from_millis(300));
        })
        .unwrap();
    greenwood::sleep(Duration::ZERO); // it parks on the event
    let seen = watch(Duration::from_millis(50));
    go.set();
    hog.join();
    settle_for(&seen, 2);
    monitor::stop();
    let seen = seen.lock().unwrap();
    let held = seen
        .iter()
        .find(|b| !b.released)
        .unwrap_or_else(|| panic!("an incident: {seen:?}"));
    assert_eq!(held.name.as_deref(), Some("early-bird"), "{held}");
    let site = held.spawned_at.expect("a spawn site");
    assert_eq!((site.file(), site.line()), (file!(), line));
    assert!(
        held.backtrace
            .iter()
            .any(|f| f.contains("spin_in_a_named_function")),
        "{held}"
    );
}

#[inline(never)]
fn spin_in_a_named_function(d: Duration) {
    spin(d);
    std::hint::black_box(());
}

#[test]
fn a_greenlet_in_an_unpatched_std_sleep_is_reported() {
    let _one = ONE_MONITOR.lock().unwrap_or_else(|e| e.into_inner());
    let seen = watch(Duration::from_millis(50));
    let sleeper = greenwood::Builder::new()
        .name("std-sleeper")
        .spawn(|| std::thread::sleep(Duration::from_millis(300)))
        .unwrap();
    sleeper.join();
    settle_for(&seen, 2);
    monitor::stop();
    let seen = seen.lock().unwrap();
    assert!(
        seen.first()
            .is_some_and(|b| b.name.as_deref() == Some("std-sleeper")),
        "{seen:?}"
    );
}

#[test]
fn the_main_greenlet_holding_the_loop_is_named_as_such() {
    let _one = ONE_MONITOR.lock().unwrap_or_else(|e| e.into_inner());
    let seen = watch(Duration::from_millis(50));
    let waiting = greenwood::spawn(|| greenwood::sleep(Duration::from_millis(10)));
    greenwood::sleep(Duration::ZERO); // the main greenlet blocks once: the hub knows it
    spin(Duration::from_millis(300)); // while `waiting` waits
    waiting.join();
    settle_for(&seen, 2);
    monitor::stop();
    let seen = seen.lock().unwrap();
    let first = seen.first().expect("an incident");
    assert!(first.main, "{first:?}");
    assert!(
        first.to_string().starts_with("the main greenlet has held"),
        "{first}"
    );
}

#[test]
fn ten_thousand_greenlets_that_cooperate_are_not_reported() {
    let _one = ONE_MONITOR.lock().unwrap_or_else(|e| e.into_inner());
    let seen = watch(Duration::from_millis(100));
    let mut all = Vec::new();
    // Spawned 500 at a time, the spawning greenlet yielding between batches, as a
    // well-behaved producer does (a debug build spawns slowly).
    for _ in 0..20 {
        for i in 0..500u64 {
            all.push(greenwood::spawn(move || {
                greenwood::sleep(Duration::from_millis(i % 20));
                i
            }));
        }
        greenwood::sleep(Duration::ZERO);
    }
    greenwood::joinall(&all);
    settle();
    monitor::stop();
    assert!(all.iter().all(|g| g.successful()));
    let seen = seen.lock().unwrap();
    assert!(seen.is_empty(), "{seen:?}");
}

#[test]
fn the_counters_add_up_on_a_known_workload() {
    let _one = ONE_MONITOR.lock().unwrap_or_else(|e| e.into_inner());
    let hub = greenwood::hub::get_hub();
    let before = hub.stats();
    // 100 greenlets: each is started (a switch) and resumed after its sleep (another).
    let gs: Vec<_> = (0..100)
        .map(|_| greenwood::spawn(|| greenwood::sleep(Duration::from_millis(1))))
        .collect();
    assert_eq!(hub.stats().alive, before.alive + 100);
    greenwood::joinall(&gs);
    let after = hub.stats();
    assert_eq!(after.spawned - before.spawned, 100);
    assert_eq!(after.alive, before.alive);
    assert!(after.switches - before.switches >= 200, "{after:?}");
    assert!(after.turns > before.turns);
    assert!(
        after.blocked_in_poll > before.blocked_in_poll,
        "the sleeps were waited in poll"
    );
    // A timer and a descriptor while a greenlet waits on a socket with a timeout.
    let listener = greenwood::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let l = std::rc::Rc::new(listener);
    let l2 = l.clone();
    let acceptor = greenwood::spawn(move || {
        greenwood::with_timeout(Duration::from_secs(60), || l2.accept()).ok()
    });
    greenwood::sleep(Duration::ZERO);
    let waiting = hub.stats();
    assert!(waiting.timers > after.timers, "{waiting:?}");
    assert!(waiting.fds > after.fds, "{waiting:?}");
    acceptor.kill();
    assert_eq!(hub.stats().timers, after.timers);
}

#[test]
fn assert_switches_catches_a_hog_in_another_greenlet_and_nests() {
    let _one = ONE_MONITOR.lock().unwrap_or_else(|e| e.into_inner());
    use greenwood::util::assert_switches;
    // The hog is not `f` itself: it runs while `f` waits.
    let caught = std::panic::catch_unwind(|| {
        assert_switches(Duration::from_millis(50), || {
            let hog = greenwood::spawn(|| spin(Duration::from_millis(150)));
            hog.join();
        })
    });
    let msg = caught.expect_err("the hog is caught");
    let msg = msg.downcast_ref::<String>().expect("a message");
    assert!(msg.contains("without a switch"), "{msg}");
    // Nested: the inner one measures its own part, the outer all of it.
    let outer = std::panic::catch_unwind(|| {
        assert_switches(Duration::from_millis(50), || {
            assert_switches(Duration::from_secs(10), || spin(Duration::from_millis(100)));
        })
    });
    assert!(outer.is_err(), "the outer measurement saw the inner hog");
    // Cooperating code passes and gives back its value.
    let v = assert_switches(Duration::from_millis(50), || {
        greenwood::sleep(Duration::from_millis(60));
        7
    });
    assert_eq!(v, 7);
}

#[test]
fn the_run_info_says_what_each_greenlet_waits_on_and_who_spawned_whom() {
    let _one = ONE_MONITOR.lock().unwrap_or_else(|e| e.into_inner());
    monitor::start(Config::new()); // parks record since when
    let ev = greenwood::event::Event::new();
    let ev_line = line!() - 1;
    let (a, _b) = greenwood::net::unix::UnixStream::pair().unwrap();
    let fd = std::os::fd::AsRawFd::as_raw_fd(&a);
    let e = ev.clone();
    let parent = greenwood::Builder::new()
        .name("parent")
        .spawn(move || {
            let child = greenwood::Builder::new()
                .name("reader")
                .spawn(move || {
                    let mut buf = [0u8; 1];
                    let _ = std::io::Read::read(&mut &a, &mut buf);
                })
                .unwrap();
            e.wait();
            child.kill();
        })
        .unwrap();
    let sleeper = greenwood::Builder::new()
        .name("sleeper")
        .spawn(|| greenwood::sleep(Duration::from_secs(60)))
        .unwrap();
    greenwood::sleep(Duration::from_millis(20));
    let info = greenwood::util::format_run_info();
    monitor::stop();
    ev.set();
    parent.join();
    sleeper.kill();
    assert!(info.contains("(this thread)"), "{info}");
    let ev_site = format!("waits on Event created at {}:{ev_line}:", file!());
    let line_of = |name: &str| {
        info.lines()
            .find(|l| l.starts_with(&format!("  greenlet '{name}'")))
            .unwrap_or_else(|| panic!("no line for {name}:\n{info}"))
            .to_owned()
    };
    let p = line_of("parent");
    assert!(
        p.contains(&ev_site) && p.contains("by the main greenlet"),
        "{p}"
    );
    assert!(
        p.contains(", for 0."),
        "the park's duration while a monitor runs: {p}"
    );
    let s = line_of("sleeper");
    assert!(
        s.contains("waits on sleep(60s), for 0.") && s.contains(" s left)"),
        "{s}"
    );
    let r = line_of("reader");
    assert!(
        r.contains(&format!("waits on fd {fd} to become readable")),
        "{r}"
    );
    assert!(r.contains("by greenlet 'parent'"), "{r}");
    let tree = info.split("  tree:\n").nth(1).expect("a tree");
    assert!(
        tree.contains("├── greenlet 'parent'")
            && tree.contains("│   └── greenlet 'reader'")
            && tree.contains("└── greenlet 'sleeper'"),
        "{tree}"
    );
}

#[test]
fn the_run_info_covers_the_hubs_of_other_threads() {
    let _one = ONE_MONITOR.lock().unwrap_or_else(|e| e.into_inner());
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let other = std::thread::Builder::new()
        .name("other-hub".into())
        .spawn(move || {
            let (done_tx, done_rx) = greenwood::threadpool::channel::<()>();
            let g = greenwood::Builder::new()
                .name("over-there")
                .spawn(move || done_rx.recv())
                .unwrap();
            greenwood::sleep(Duration::ZERO);
            ready_tx.send(done_tx).unwrap();
            g.join();
        })
        .unwrap();
    let done_tx = ready_rx.recv().unwrap();
    let info = greenwood::util::format_run_info();
    done_tx.send(()).unwrap();
    other.join().unwrap();
    assert!(info.contains("thread 'other-hub':"), "{info}");
    assert!(info.contains("greenlet 'over-there'"), "{info}");
}

#[test]
fn the_run_info_shows_timeouts_and_deadlines_without_a_monitor() {
    let _one = ONE_MONITOR.lock().unwrap_or_else(|e| e.into_inner());
    let ev = greenwood::event::Event::new();
    let e = ev.clone();
    let timed = greenwood::Builder::new()
        .name("timed-wait")
        .spawn(move || e.wait_timeout(Duration::from_secs(30)))
        .unwrap();
    let e = ev.clone();
    let line = line!() + 4;
    let guarded = greenwood::Builder::new()
        .name("guarded")
        .spawn(move || {
            let _t = greenwood::Timeout::start(Duration::from_secs(40));
            e.wait();
        })
        .unwrap();
    greenwood::sleep(Duration::from_millis(5));
    let info = greenwood::util::format_run_info();
    ev.set();
    timed.join();
    guarded.join();
    let line_of = |name: &str| {
        info.lines()
            .find(|l| l.starts_with(&format!("  greenlet '{name}'")))
            .unwrap_or_else(|| panic!("no line for {name}:\n{info}"))
            .to_owned()
    };
    let t = line_of("timed-wait");
    let left = |line: &str, after: &str| -> f64 {
        let rest = &line[line
            .find(after)
            .unwrap_or_else(|| panic!("{after:?} in {line}"))
            + after.len()..];
        rest.split(' ').next().unwrap().parse().unwrap()
    };
    assert!(t.contains("waits on Event"), "{t}");
    let t_left = left(&t, ", timing out in ");
    assert!(t_left > 25.0 && t_left <= 30.0, "{t}");
    assert!(
        !t.contains(", for "),
        "no park durations without a monitor: {t}"
    );
    let g = line_of("guarded");
    assert!(
        g.contains(&format!("inside a Timeout set at {}:{line}:", file!())),
        "{g}"
    );
    let g_left = left(&g, "that fires in ");
    assert!(g_left > 35.0 && g_left <= 40.0, "{g}");
    assert!(
        !g.contains("timing out in"),
        "the wait itself has no timeout: {g}"
    );
}

#[test]
fn the_run_info_names_who_holds_another_threads_loop_and_where() {
    let _one = ONE_MONITOR.lock().unwrap_or_else(|e| e.into_inner());
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    static STOP: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    let line = line!() + 6;
    let other = std::thread::Builder::new()
        .name("held-hub".into())
        .spawn(move || {
            let hog = greenwood::Builder::new()
                .name("hog")
                .spawn(move || {
                    ready_tx.send(()).unwrap();
                    spin_until_stopped(&STOP);
                })
                .unwrap();
            hog.join();
        })
        .unwrap();
    ready_rx.recv().unwrap();
    let info = greenwood::util::format_run_info();
    STOP.store(true, std::sync::atomic::Ordering::Relaxed);
    other.join().unwrap();
    let held = info
        .lines()
        .position(|l| l.starts_with("thread 'held-hub': no answer"))
        .unwrap_or_else(|| panic!("the held hub is listed:\n{info}"));
    let lines: Vec<&str> = info.lines().collect();
    assert!(
        lines[held].contains("its loop is held by greenlet 'hog' (id ")
            && lines[held].contains(&format!("spawned at {}:{line}:", file!())),
        "{info}"
    );
    assert!(
        lines[held + 1..]
            .iter()
            .take_while(|l| l.starts_with("    "))
            .any(|l| l.contains("spin_until_stopped")),
        "{info}"
    );
}

#[inline(never)]
fn spin_until_stopped(stop: &std::sync::atomic::AtomicBool) {
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        std::hint::spin_loop();
    }
}

/// The child process of the signal test: a busy hub, a dump asked for by a signal.
fn dump_child() {
    monitor::dump_on_signal(libc::SIGUSR2).unwrap();
    let ev = greenwood::event::Event::new();
    let e = ev.clone();
    let _waiter = greenwood::Builder::new()
        .name("on-event")
        .spawn(move || e.wait())
        .unwrap();
    let busy: Vec<_> = (0..4)
        .map(|_| {
            greenwood::spawn(|| {
                let start = Instant::now();
                while start.elapsed() < Duration::from_millis(600) {
                    greenwood::sleep(Duration::ZERO); // busy, but switching
                }
            })
        })
        .collect();
    greenwood::sleep(Duration::ZERO);
    let status = std::process::Command::new("kill")
        .args(["-USR2", &std::process::id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    greenwood::joinall(&busy);
    ev.set();
}

#[test]
fn a_signal_prints_the_run_info_while_greenlets_are_busy() {
    if std::env::var_os("GREENWOOD_DUMP_CHILD").is_some() {
        dump_child();
        return;
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "a_signal_prints_the_run_info_while_greenlets_are_busy",
            "--exact",
            "--nocapture",
        ])
        .env("GREENWOOD_DUMP_CHILD", "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("greenwood run info"), "{stderr}");
    assert!(
        stderr.contains("greenlet 'on-event'") && stderr.contains("waits on Event"),
        "{stderr}"
    );
    assert!(
        stderr.contains("runnable") || stderr.contains("running"),
        "{stderr}"
    );
}

#[inline(never)]
fn spin_in_the_test_function(d: Duration) {
    spin(d);
}

#[test]
fn the_report_shows_where_the_holding_greenlet_is() {
    let _one = ONE_MONITOR.lock().unwrap_or_else(|e| e.into_inner());
    let seen = watch(Duration::from_millis(50));
    let hog = greenwood::spawn(|| spin_in_the_test_function(Duration::from_millis(300)));
    hog.join();
    settle_for(&seen, 2);
    monitor::stop();
    let seen = seen.lock().unwrap();
    let first = seen.first().expect("an incident");
    assert!(
        first
            .backtrace
            .iter()
            .any(|f| f.contains("spin_in_the_test_function")),
        "{first}"
    );
    assert!(first.to_string().contains("it is at:"), "{first}");
}
