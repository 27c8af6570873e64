//! What the hub counts about itself: [`Stats`] for its users, and the heartbeat the monitor
//! thread reads from outside (`Beat`).
//!
//! The hub counts its switches in a `Cell`. While a monitor runs (or `assert_switches`
//! measures), each switch also stores the count in the hub's `Beat`, and each turn of the
//! loop the greenlets alive: atomics that only the hub's thread writes (`Relaxed` stores, no
//! locked instruction), which the monitor thread reads. Which greenlet holds a held loop,
//! the monitor learns from the thread itself (`greenlet::sample`). Without either, a switch pays the `Cell` and one `bool` load; a turn
//! looks at `WATCHED` once. Names and spawn sites are recorded at spawn only while a monitor runs.

use std::cell::Cell;
use std::panic::Location;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{Duration, Instant};

/// Counters of one hub; see [`Hub::stats`](crate::hub::Hub::stats).
///
/// # Examples
///
/// ```
/// let hub = greenwood::hub::get_hub();
/// let before = hub.stats();
/// let g = greenwood::spawn(|| greenwood::sleep(std::time::Duration::ZERO));
/// g.join();
/// let after = hub.stats();
/// assert_eq!(after.spawned - before.spawned, 1);
/// assert!(after.switches - before.switches >= 2); // started, then resumed after its sleep
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Greenlets spawned on this hub that have not finished.
    pub alive: usize,
    /// Greenlets spawned on this hub so far.
    pub spawned: u64,
    /// Times the hub resumed a greenlet (started it, or woke it from a park).
    pub switches: u64,
    /// Turns of the loop (see "One turn of the loop" in [`hub`](crate::hub)).
    pub turns: u64,
    /// Timers pending: sleeps, timeouts, delayed spawns.
    pub timers: usize,
    /// Descriptors registered with the hub's poller.
    pub fds: usize,
    /// Time the hub spent blocked in its poll, waiting for something to happen.
    pub blocked_in_poll: Duration,
    /// The longest the loop went without a switch while a [monitor](crate::monitor) watched
    /// it (to the monitor's sampling interval); `None` while none has.
    pub longest_without_switch: Option<Duration>,
}

/// The part of a hub the monitor thread reads: written by the hub's thread only.
pub(crate) struct Beat {
    /// Greenlets resumed and callbacks run (updated while a monitor watches): progress. A
    /// count that stands still while the hub is not in its poll means something holds the
    /// loop.
    pub(crate) switches: AtomicU64,
    /// The id of the hub's own greenlet (a callback runs on it).
    pub(crate) hub: AtomicU64,
    /// The hub is blocked in its poll (or about to be): waiting, not held.
    pub(crate) polling: AtomicBool,
    /// The id of the thread's main greenlet, once it has blocked.
    pub(crate) main: AtomicU64,
    /// Spawned greenlets alive at the last turn: a held loop matters when there is someone
    /// to starve.
    pub(crate) alive: AtomicUsize,
    /// The longest time without a switch the monitor saw, in nanoseconds (`u64::MAX`: never
    /// watched).
    pub(crate) longest: AtomicU64,
    /// The hub's thread, named for reports.
    pub(crate) thread: String,
    /// Ids, names and spawn sites of the greenlets spawned while a monitor runs, at their
    /// slot in the hub's table of greenlets (a store, where a map would hash).
    pub(crate) who: Mutex<Vec<Option<(u64, Who)>>>,
    /// How other threads reach the hub (for the run info).
    pub(crate) handle: crate::hub::HubHandle,
    /// How the monitor captures the hub thread's stack.
    pub(crate) sampler: greenlet::sample::Thread,
}

/// A greenlet as reports name it.
#[derive(Clone, Debug)]
pub(crate) struct Who {
    pub(crate) name: Option<Box<str>>,
    pub(crate) site: Option<&'static Location<'static>>,
}

/// Every hub's beat, for the monitor thread.
static BEATS: Mutex<Vec<Weak<Beat>>> = Mutex::new(Vec::new());

/// Whether a monitor runs: switches update the beats, spawns record names and sites.
pub(crate) static WATCHED: AtomicBool = AtomicBool::new(false);

/// Whether a monitor runs (one load).
#[inline]
pub(crate) fn watched() -> bool {
    WATCHED.load(Ordering::Relaxed)
}

impl Beat {
    pub(crate) fn new(handle: crate::hub::HubHandle) -> Arc<Beat> {
        let t = std::thread::current();
        let thread = match t.name() {
            Some(n) => format!("'{n}'"),
            None => format!("{:?}", t.id()),
        };
        let beat = Arc::new(Beat {
            switches: AtomicU64::new(0),
            hub: AtomicU64::new(0),
            main: AtomicU64::new(0),
            polling: AtomicBool::new(false),
            alive: AtomicUsize::new(0),
            longest: AtomicU64::new(u64::MAX),
            thread,
            who: Mutex::new(Vec::new()),
            handle,
            sampler: greenlet::sample::Thread::current(),
        });
        let mut beats = BEATS.lock().unwrap_or_else(PoisonError::into_inner);
        beats.retain(|b| b.strong_count() > 0);
        beats.push(Arc::downgrade(&beat));
        beat
    }

    /// The `n`th switch: on every switch while a monitor watches.
    #[inline]
    pub(crate) fn switched(&self, n: u64) {
        self.switches.store(n, Ordering::Relaxed);
    }

    /// A turn of the loop after `n` switches, with `alive` spawned greenlets: once a turn
    /// while a monitor watches.
    pub(crate) fn turned(&self, n: u64, alive: usize) {
        self.switches.store(n, Ordering::Relaxed);
        self.alive.store(alive, Ordering::Relaxed);
    }

    /// Greenlet `id`, in slot `slot` of the hub's table, spawned while a monitor watches:
    /// its name and site, for reports.
    pub(crate) fn spawned(&self, slot: usize, id: u64, who: Who) {
        let mut all = self.who.lock().unwrap_or_else(PoisonError::into_inner);
        if all.len() <= slot {
            all.resize_with(slot + 1, || None);
        }
        all[slot] = Some((id, who));
    }

    /// The greenlet in `slot` finished while a monitor watches.
    pub(crate) fn finished(&self, slot: usize) {
        let mut all = self.who.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(w) = all.get_mut(slot) {
            *w = None;
        }
    }

    /// Greenlet `id`'s name and site, if it was spawned while a monitor watched.
    pub(crate) fn who(&self, id: u64) -> Option<Who> {
        let all = self.who.lock().unwrap_or_else(PoisonError::into_inner);
        all.iter()
            .flatten()
            .find(|(i, _)| *i == id)
            .map(|(_, w)| w.clone())
    }

    /// What the monitor saw, for [`Stats`].
    pub(crate) fn longest_without_switch(&self) -> Option<Duration> {
        match self.longest.load(Ordering::Relaxed) {
            u64::MAX => None,
            n => Some(Duration::from_nanos(n)),
        }
    }
}

/// The beats of the hubs alive now.
pub(crate) fn beats() -> Vec<Arc<Beat>> {
    let mut beats = BEATS.lock().unwrap_or_else(PoisonError::into_inner);
    beats.retain(|b| b.strong_count() > 0);
    beats.iter().filter_map(Weak::upgrade).collect()
}

/// The longest gap between switches while `util::assert_switches` measures (on the hub's
/// thread only): `None` when it does not, which costs one load per switch.
#[derive(Default)]
pub(crate) struct Gaps {
    /// Since when the loop has gone without a switch; `None` while the hub waits in its poll
    /// (waiting is not holding the loop).
    since: Cell<Option<Instant>>,
    /// The longest gap so far.
    longest: Cell<Duration>,
    /// Whether a measurement runs.
    on: Cell<bool>,
}

impl Gaps {
    /// A switch: closes the current gap and opens the next.
    #[inline]
    pub(crate) fn switched(&self) {
        if self.on.get() {
            self.close(Some(Instant::now()));
        }
    }

    /// The hub is about to block in its poll: the gap closes until it returns.
    #[inline]
    pub(crate) fn waiting(&self) {
        if self.on.get() {
            self.close(None);
        }
    }

    /// Back from the poll.
    #[inline]
    pub(crate) fn woke(&self) {
        if self.on.get() {
            self.since.set(Some(Instant::now()));
        }
    }

    fn close(&self, next: Option<Instant>) {
        let now = Instant::now();
        if let Some(since) = self.since.get() {
            self.longest.set(self.longest.get().max(now - since));
        }
        self.since.set(next.map(|_| now));
    }

    /// Whether a measurement runs.
    pub(crate) fn measuring(&self) -> bool {
        self.on.get()
    }

    /// Starts measuring; gives back what an outer measurement had so far.
    pub(crate) fn start(&self) -> Option<(Option<Instant>, Duration)> {
        let outer = self
            .on
            .get()
            .then(|| (self.since.get(), self.longest.get()));
        self.on.set(true);
        self.since.set(Some(Instant::now()));
        self.longest.set(Duration::ZERO);
        outer
    }

    /// Stops measuring (resuming the outer measurement, if any): the longest gap.
    pub(crate) fn stop(&self, outer: Option<(Option<Instant>, Duration)>) -> Duration {
        self.close(Some(Instant::now()));
        let longest = self.longest.get();
        match outer {
            Some((_, was)) => {
                self.longest.set(was.max(longest));
            }
            None => {
                self.on.set(false);
                self.since.set(None);
            }
        }
        longest
    }
}
