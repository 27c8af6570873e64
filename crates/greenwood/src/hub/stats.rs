//! What the hub counts about itself: [`Stats`] for its users, and the heartbeat the monitor
//! thread reads from outside (`Beat`).
//!
//! The hub counts its switches in its `Beat`: an atomic that only the hub's thread writes (a
//! `Relaxed` load and store, no locked instruction) and the monitor thread reads, so a switch
//! costs the same whether a monitor runs or not. Which greenlet holds a held loop, the
//! monitor learns from the thread itself (`greenlet::sample`), with its name and spawn site.
//! Nothing else on the hub's paths asks whether a monitor runs: a spawn and a finish store the
//! number of greenlets alive, a park notes the monitor's coarse clock (one load; 0 while none
//! runs), a turn of the loop does nothing for the monitor.

use std::cell::Cell;
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
    /// Times another thread interrupted the hub's poll to hand it something (a callback, a
    /// greenlet to wake): one per burst that finds the hub asleep, none for a busy hub.
    pub wakeups: u64,
}

/// The part of a hub the monitor thread reads: written by the hub's thread only.
pub(crate) struct Beat {
    /// Greenlets resumed and callbacks run: progress, and `Stats::switches`. A count that
    /// stands still while the hub is not in its poll means something holds the loop.
    pub(crate) switches: AtomicU64,
    /// The id of the hub's own greenlet (a callback runs on it).
    pub(crate) hub: AtomicU64,
    /// The hub is blocked in its poll (or about to be): waiting, not held.
    pub(crate) polling: AtomicBool,
    /// The id of the thread's main greenlet, once it has blocked.
    pub(crate) main: AtomicU64,
    /// Spawned greenlets alive: a held loop matters when there is someone to starve.
    pub(crate) alive: AtomicUsize,
    /// The longest time without a switch the monitor saw, in nanoseconds (`u64::MAX`: never
    /// watched).
    pub(crate) longest: AtomicU64,
    /// The hub's thread, named for reports.
    pub(crate) thread: String,
    /// How other threads reach the hub (for the run info).
    pub(crate) handle: crate::hub::HubHandle,
    /// How the monitor captures the hub thread's stack.
    pub(crate) sampler: greenlet::sample::Thread,
}

/// Every hub's beat, for the monitor thread.
static BEATS: Mutex<Vec<Weak<Beat>>> = Mutex::new(Vec::new());

/// A clock the monitor thread advances at each of its looks (nanoseconds since [`epoch`],
/// never 0 once set), and 0 while no monitor runs: a park notes it as when it began with one
/// load, where reading the real clock would cost more than the park. Its resolution is the
/// monitor's look interval.
static COARSE: AtomicU64 = AtomicU64::new(0);

fn epoch() -> Instant {
    static EPOCH: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// The coarse clock (0: no monitor runs).
#[inline]
pub(crate) fn coarse_now() -> u64 {
    COARSE.load(Ordering::Relaxed)
}

/// Advances the coarse clock to now (the monitor thread, at each look); `false` stops it.
pub(crate) fn tick_coarse(running: bool) {
    let now = if running {
        u64::try_from(epoch().elapsed().as_nanos())
            .unwrap_or(u64::MAX)
            .max(1)
    } else {
        0
    };
    COARSE.store(now, Ordering::Relaxed);
}

/// How long ago the coarse clock read `then` (a non-zero reading), on the real clock.
pub(crate) fn since_coarse(then: u64) -> Duration {
    let now = u64::try_from(epoch().elapsed().as_nanos()).unwrap_or(u64::MAX);
    Duration::from_nanos(now.saturating_sub(then))
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
            handle,
            sampler: greenlet::sample::Thread::current(),
        });
        let mut beats = BEATS.lock().unwrap_or_else(PoisonError::into_inner);
        beats.retain(|b| b.strong_count() > 0);
        beats.push(Arc::downgrade(&beat));
        beat
    }

    /// A switch, on every switch: the hub's thread is the only writer, so a load and a
    /// store (no locked instruction) count it.
    #[inline]
    pub(crate) fn switched(&self) {
        let n = self.switches.load(Ordering::Relaxed);
        self.switches.store(n + 1, Ordering::Relaxed);
    }

    /// `alive` spawned greenlets now: at each spawn and finish.
    #[inline]
    pub(crate) fn alive(&self, alive: usize) {
        self.alive.store(alive, Ordering::Relaxed);
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
