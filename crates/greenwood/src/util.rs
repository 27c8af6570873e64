//! Helpers for finding greenlets that hang or hold the loop: [`format_run_info`] and
//! [`print_run_info`] (what every greenlet of every hub is doing, and who spawned whom), and
//! [`assert_switches`] for tests.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::time::Duration;

use crate::hub::{self, HubInfo, TaskInfo};

/// How long the run info waits for another thread's hub to describe itself.
const ANSWER_WITHIN: Duration = Duration::from_millis(200);

/// What every greenlet of every hub of the process is doing: for each hub, its thread and
/// counters, then each greenlet with its id, name, spawn site, who spawned it and its state
/// (running, runnable, or what it waits on: another greenlet, an `Event`, `Queue`, lock or
/// thread-pool job with where it was created, a descriptor and direction, a sleep, with the
/// time left on the wait's timeout and on the soonest [`Timeout`](crate::Timeout) around
/// it), and a tree of who spawned whom (gevent's `GreenletTree`). How long each has waited
/// shows while a [monitor](crate::monitor) runs, to its look interval (a park notes the
/// monitor's clock).
///
/// Another thread's hub describes itself on its own thread, through its remote queue: this
/// call waits up to 200 ms for each (blocking the calling thread). A hub whose loop is held
/// meanwhile cannot list its greenlets: it is listed with the greenlet that holds it (name,
/// id, spawn site) and where that greenlet is, captured from its thread as the
/// [monitor](crate::monitor) does.
///
/// # Examples
///
/// ```
/// let ev = greenwood::event::Event::new();
/// let e = ev.clone();
/// let _waiter = greenwood::Builder::new().name("waiter").spawn(move || e.wait()).unwrap();
/// greenwood::sleep(std::time::Duration::ZERO); // it parks on the event
/// let info = greenwood::util::format_run_info();
/// assert!(info.contains("greenlet 'waiter'"), "{info}");
/// assert!(info.contains("waits on Event created at"), "{info}");
/// ev.set();
/// ```
pub fn format_run_info() -> String {
    let mine = hub::info();
    let my_key = mine.as_ref().map(|h| h.key);
    let mut out = String::new();
    let others: Vec<_> = hub::hubs()
        .into_iter()
        .filter(|(key, ..)| Some(*key) != my_key)
        .collect();
    let hubs = (others.len() + usize::from(mine.is_some())) as u64;
    let _ = writeln!(
        out,
        "greenwood run info, process {}: {}",
        std::process::id(),
        count(hubs, "hub")
    );
    if let Some(h) = &mine {
        write_hub(&mut out, h, true);
    }
    for (_, beat) in others {
        let thread = &beat.thread;
        let (tx, rx) = std::sync::mpsc::channel();
        let asked = beat.handle.run_callback(move || {
            let _ = tx.send(hub::info());
        });
        match asked.ok().map(|()| rx.recv_timeout(ANSWER_WITHIN)) {
            Some(Ok(Some(h))) => write_hub(&mut out, &h, false),
            Some(Ok(None)) | None => {
                let _ = writeln!(out, "thread {thread}: its hub is gone");
            }
            Some(Err(_)) => {
                let _ = writeln!(
                    out,
                    "thread {thread}: no answer within {} ms: its loop is held by {}",
                    ANSWER_WITHIN.as_millis(),
                    crate::monitor::held_by(&beat)
                );
            }
        }
    }
    out
}

/// Prints [`format_run_info`] to stderr.
///
/// # Examples
///
/// ```
/// greenwood::util::print_run_info();
/// ```
pub fn print_run_info() {
    eprint!("{}", format_run_info());
}

/// One hub: its counters, a line per greenlet, the tree.
fn write_hub(out: &mut String, h: &HubInfo, this_thread: bool) {
    let s = &h.stats;
    let _ = writeln!(
        out,
        "thread {}{}: {} alive, {} spawned, {} switches, {} turns, {} timers, {} fds",
        h.thread,
        if this_thread { " (this thread)" } else { "" },
        count(s.alive as u64, "greenlet"),
        s.spawned,
        s.switches,
        s.turns,
        s.timers,
        s.fds
    );
    let by_id: HashMap<u64, &TaskInfo> = h.tasks.iter().map(|t| (t.id, t)).collect();
    for t in &h.tasks {
        let _ = write!(out, "  {} (id {})", t.label, t.id);
        if let Some(site) = t.site {
            let _ = write!(out, ", spawned at {site}");
            match by_id.get(&t.spawner) {
                Some(p) => {
                    let _ = write!(out, " by {} (id {})", p.label, p.id);
                }
                None if t.spawner != 0 => {
                    let _ = write!(out, " by greenlet {} (gone)", t.spawner);
                }
                None => {}
            }
        }
        let _ = writeln!(out, ": {}", t.state);
    }
    // The tree: each greenlet under the one that spawned it; those whose spawner is not here
    // (the main greenlet, or one that finished) at the top.
    let mut children: HashMap<u64, Vec<&TaskInfo>> = HashMap::new();
    let mut roots = Vec::new();
    for t in &h.tasks {
        if t.spawner != t.id && by_id.contains_key(&t.spawner) {
            children.entry(t.spawner).or_default().push(t);
        } else {
            roots.push(t);
        }
    }
    if !h.tasks.is_empty() {
        out.push_str("  tree:\n");
    }
    for r in roots {
        write_tree(out, r, &children, "    ", "    ");
    }
}

/// `n thing` or `n things`.
fn count(n: u64, thing: &str) -> String {
    if n == 1 {
        format!("1 {thing}")
    } else {
        format!("{n} {thing}s")
    }
}

fn write_tree(
    out: &mut String,
    t: &TaskInfo,
    children: &HashMap<u64, Vec<&TaskInfo>>,
    first: &str,
    rest: &str,
) {
    let _ = writeln!(out, "{first}{} (id {})", t.label, t.id);
    let kids = children.get(&t.id).map_or(&[][..], Vec::as_slice);
    for (i, k) in kids.iter().enumerate() {
        let last = i + 1 == kids.len();
        let (f, r) = if last {
            ("└── ", "    ")
        } else {
            ("├── ", "│   ")
        };
        write_tree(
            out,
            k,
            children,
            &format!("{rest}{f}"),
            &format!("{rest}{r}"),
        );
    }
}

/// Runs `f` and panics if, while it ran, this thread's loop went longer than `threshold`
/// without a switch (gevent's `assert_switches` with a `max_blocking_time`): a test's way to
/// say that code cooperates. Time the hub waits in its poll does not count; what counts is
/// code that runs without letting the others run, in `f` or in the greenlets that ran
/// meanwhile. Measuring costs a clock read per switch while `f` runs, and nothing otherwise.
///
/// # Panics
///
/// If the loop was held for longer than `threshold`; the message says for how long.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// // Sleeping in greenwood yields: fine.
/// greenwood::util::assert_switches(Duration::from_millis(50), || {
///     for _ in 0..5 {
///         greenwood::sleep(Duration::from_millis(20));
///     }
/// });
/// // Spinning does not.
/// let held = std::panic::catch_unwind(|| {
///     greenwood::util::assert_switches(Duration::from_millis(50), || {
///         let start = std::time::Instant::now();
///         while start.elapsed() < Duration::from_millis(120) {}
///     })
/// });
/// assert!(held.is_err());
/// ```
#[track_caller]
pub fn assert_switches<R>(threshold: Duration, f: impl FnOnce() -> R) -> R {
    let outer = hub::with(|h| h.gaps.start());
    struct Stop(Option<Option<(Option<std::time::Instant>, Duration)>>);
    impl Drop for Stop {
        fn drop(&mut self) {
            if let Some(outer) = self.0.take() {
                hub::try_with(|h| {
                    h.gaps.stop(outer);
                });
            }
        }
    }
    let mut guard = Stop(Some(outer));
    let r = f();
    let outer = guard.0.take().flatten();
    let longest = hub::with(|h| h.gaps.stop(outer));
    assert!(
        longest <= threshold,
        "assert_switches: the loop went {:.1} ms without a switch, more than the {:.1} ms allowed",
        longest.as_secs_f64() * 1e3,
        threshold.as_secs_f64() * 1e3
    );
    r
}
