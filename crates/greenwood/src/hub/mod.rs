//! The hub: one per thread, a greenlet that runs the event loop; and, in this directory, the
//! runtime core that everything else in greenwood is built on.
//!
//! # The core
//!
//! `hub/` imports nothing of the crate but `error`; events, locks, queues, pools, sockets,
//! servers, signals and the thread pool sit on top of it and use only what it exports.
//!
//! | file | what it holds |
//! |---|---|
//! | `mod.rs` | the loop, [`Hub`], [`get_hub`], [`Waiter`], [`sleep`], [`idle`], the one wait idiom (`wait_for`) |
//! | `task.rs` | the per-greenlet record, parking and waking, interrupts, `LoopExit` |
//! | `waitlist.rs` | wait lists (who to wake when an object is ready) and the sealed [`Waitable`](crate::Waitable) trait |
//! | `handoff.rs` | a FIFO of parked greenlets each waiting to be handed something (locks, queues) |
//! | `timer.rs` | the timer wheel |
//! | `reactor.rs` | the poller, registered sources and their generations, readiness dispatch |
//! | `remote.rs` | the remote queue other threads use, [`HubHandle`], cross-thread signals |
//! | `report.rs` | reports and the panic hook (public as [`crate::report`]) |
//! | `stats.rs` | [`Stats`], the heartbeat the [monitor](crate::monitor) thread reads, the switch gaps `util::assert_switches` measures |
//!
//! # Concepts
//!
//! - The **hub** is a greenlet created the first time a thread needs it ([`get_hub`]). Every
//!   spawned greenlet has it as parent, so when a greenlet's function returns, control comes
//!   back to the hub.
//! - A greenlet **blocks** by parking: it records what it waits on, leaves a `Waker`
//!   (`task.rs`) with whatever will fire, and switches to the hub. That is gevent's `Waiter`,
//!   and the only way anything in greenwood blocks; [`Waiter`] is its public face, and
//!   `wait_for` the one function every blocking call goes through (current task, waker,
//!   timer, registration, park).
//! - The **ready queue** holds what the hub runs next: greenlets to resume (woken, yielding or
//!   newly spawned) and callbacks ([`Hub::run_callback`]), in FIFO order.
//! - **Timers** live in a hierarchical wheel (`timer.rs`): O(1) insert, cancel and expiry, a
//!   millisecond resolution, never early.
//! - **I/O** readiness comes from mio (`reactor.rs`); a `mio::Waker` lets other OS threads
//!   hand the hub callbacks through the `Remote` queue (`remote.rs`).
//!
//! # One turn of the loop
//!
//! ```text
//!   ┌─► 1. take callbacks other threads queued (Remote)
//!   │   2. expire due timers            → wakers push greenlets on the ready queue
//!   │   3. poll I/O:
//!   │        ready queue empty → give stack memory back if the wait will be long, then
//!   │                            block until the next timer (or forever, if any I/O or
//!   │                            thread-pool work can still wake someone), then expire timers;
//!   │                            if nothing at all can wake anyone → LoopExit to the main
//!   │                            greenlet
//!   │        otherwise         → a non-blocking poll, at most once per 64 callbacks run
//!   │   4. run the entries queued before this turn began, plus at most 64 queued during it,
//!   │      in FIFO order; a resumed greenlet runs until it parks again or finishes. The
//!   └──    budget keeps greenlets that wake each other from starving timers and I/O.
//! ```
//!
//! # Who may switch to whom
//!
//! Only the scheduler resumes a parked greenlet: a greenlet that wakes another (sets an event,
//! kills it, hands it an item) only schedules it, and the woken greenlet runs when the
//! scheduler reaches it in the ready queue. So a greenlet never finds itself resumed in the
//! middle of someone else's operation, and a wake-up is a queue push, not a switch.
//!
//! The scheduler is the hub's loop, and one step of it may run on a parking greenlet's stack:
//! when the entry the hub would take next (step 4, within the turn's budget) is a greenlet to
//! resume, the parking greenlet pops it and switches to it directly (`next_to_run`). The
//! order, the budget and the accounting are exactly the hub's; only the trip through the hub's
//! stack is saved, which makes a hand-off one switch instead of two. Callbacks, and the rest
//! of a turn, always run on the hub.
//!
//! # Invariants
//!
//! - A task is in the ready queue at most once: only a `Parked` task can be scheduled, and
//!   scheduling makes it `Scheduled` (`make_ready`, in `task.rs`); a new task is queued once,
//!   to start (`Task::schedule_start`).
//! - A wake-up is valid for one park only (the waker's sequence number); late ones are no-ops.
//! - An interrupt (kill, timeout) reaches a parked greenlet at once, and a runnable one at its
//!   next blocking point, so what woke it is never lost.
//! - Nothing borrowed from the hub is held across a switch: the hub's own loop holds only a
//!   `Weak` to it while other greenlets run, so the thread-local that owns the hub can drop it
//!   at thread exit, and parked greenlets are then unwound, running their destructors.
//! - The hub never blocks in a callback: a blocking call made from the hub's greenlet panics.
//!
//! # Designs rejected
//!
//! - **Running the loop on the main greenlet's stack** (no hub greenlet): a blocked main
//!   greenlet would have the loop running on top of its frames, and a greenlet spawned from
//!   main could not finish into a stable parent. gevent's layout, one hub greenlet that is
//!   every spawned greenlet's parent, is simpler to reason about.
//! - **Letting a waker switch directly to the woken greenlet**: it would make every `set()`
//!   or `put()` a context switch, and would let a greenlet resume inside another's critical
//!   section. gevent forbids it (`Waiter.switch` only from the hub); so do we. (Switching
//!   directly when *parking*, above, is different: the parker has nothing left to do.)
//! - **Finishing a greenlet straight into the next one** (making the next greenlet its parent
//!   for its last switch): measured no faster, and a dead greenlet keeps its parent alive, so
//!   chains of them built up and were freed recursively.
//! - **Giving a finished greenlet's stack memory back at once**: a `madvise` per finish plus
//!   a page fault per reuse tripled the CPU per timer expiry with a million sleepers. Stacks
//!   stay warm while the hub is busy and are trimmed when it is about to wait 50 ms or more.
//! - **Waiters on the parked greenlet's stack** (intrusive lists of stack nodes, as Go's
//!   `sudog`s come from a per-P cache): a greenlet that is killed while its node is linked
//!   leaves a dangling pointer unless every path unlinks it. Wait-list entries are heap values
//!   with a removal key, and stale entries are harmless.
//! - **A binary heap of timers**: see `timer.rs`.
//! - **Polling I/O on every turn**: a syscall per turn would dominate hand-offs between two
//!   greenlets (~50 ns each); polling at least every 64 callbacks bounds I/O latency without it.

use std::cell::{Cell, OnceCell, RefCell};
use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::marker::PhantomData;
use std::panic::{self, AssertUnwindSafe};
use std::rc::{Rc, Weak};
use std::sync::Arc;
use std::time::{Duration, Instant};

use slab::Slab;

use crate::error::{panic_message, GreenletError};
use crate::hub::reactor::Reactor;
pub use crate::hub::remote::{HubGone, HubHandle};
use crate::hub::remote::{Remote, SignalState};
use crate::hub::report::ReportKind;
pub use crate::hub::stats::Stats;
use crate::hub::stats::{Beat, Gaps};
use crate::hub::task::{Interrupt, Kind, Task, WaitOn, Waker};
use crate::hub::timer::{TimerKey, Wheel};

pub(crate) mod handoff;
pub(crate) mod links;
pub(crate) mod reactor;
pub(crate) mod remote;
pub(crate) mod report;
pub(crate) mod stats;
pub(crate) mod task;
pub(crate) mod timer;
pub(crate) mod waitlist;

/// Callbacks run between polls when greenlets keep the ready queue busy.
const POLL_EVERY: u32 = 64;

/// How long a hub with nothing to run spins, looking for what another thread hands it,
/// before it blocks in its poll, while one of its greenlets waits on another thread.
const SPIN: Duration = Duration::from_micros(50);

/// An idle period long enough to give stack memory back.
const TRIM_AFTER_IDLE: Duration = Duration::from_millis(50);

/// Entries queued during a turn that the same turn may still run: a greenlet woken by the
/// one that is parking can take over at once (a direct hand-off) without starving timers and
/// I/O, which are looked at again within this many entries.
const TURN_EXTRA: usize = 64;

/// An entry of the ready queue.
pub(crate) enum Ready {
    Resume(Rc<Task>),
    Call(Box<dyn FnOnce()>),
}

/// What a timer does when it fires.
pub(crate) enum TimerAction {
    Wake(Waker),
    Interrupt(Rc<Task>, Interrupt),
    /// `spawn_later`: start the greenlet.
    Start(Rc<Task>),
}

/// A handler for failed greenlets; see [`set_failure_handler`](crate::set_failure_handler).
///
/// # Examples
///
/// ```
/// let handler: greenwood::hub::FailureHandler = Box::new(|e| eprintln!("alert: {e}"));
/// greenwood::set_failure_handler(Some(handler));
/// ```
pub type FailureHandler = Box<dyn Fn(&GreenletError)>;
type SharedHandler = Rc<dyn Fn(&GreenletError)>;

/// One thread's hub. Every field is written on the hub's thread only; the one part other
/// threads reach, the remote queue, is behind its own `Arc`.
pub(crate) struct HubInner {
    /// The greenlet running the loop, parent of every spawned greenlet.
    glet: greenlet::Greenlet,

    // -- the scheduler --
    /// What runs next, in FIFO order (see "One turn of the loop").
    ready: RefCell<VecDeque<Ready>>,
    /// Entries of the current turn still to run.
    batch_left: Cell<usize>,
    /// Entries run since the last poll (see `POLL_EVERY`).
    since_poll: Cell<u32>,
    /// Greenlets in `idle()`, woken when nothing else is runnable.
    idle: RefCell<Vec<Waker>>,

    // -- what wakes greenlets --
    /// Sleeps, timeouts and delayed spawns.
    timers: RefCell<Wheel<TimerAction>>,
    /// The poller and its sources.
    reactor: Reactor,
    /// Callbacks other threads queue, and the waker that interrupts the poll.
    remote: Arc<Remote>,
    /// Signals other threads fire through the remote queue (thread-pool results).
    signals: RefCell<Slab<Rc<SignalState>>>,
    /// Greenlets parked on an `XCondvar` (anything in `greenwood::hubs`), which another
    /// thread wakes by key, with the token that tells this park from a later one.
    cross_waits: RefCell<Slab<(u64, Waker)>>,
    cross_tokens: Cell<u64>,

    // -- the greenlets --
    /// Live spawned greenlets: the hub owns them, as a runtime owns its tasks.
    tasks: RefCell<Slab<Rc<Task>>>,
    /// The main greenlet's task and greenlet, once it has blocked (a task does not hold its
    /// own greenlet, or they would keep each other alive).
    main: RefCell<Weak<Task>>,
    main_glet: Cell<Option<greenlet::Greenlet>>,
    /// The last raw greenlet (made with the `greenlet` crate) that parked: `LoopExit` goes
    /// to it when the main greenlet is not waiting.
    last_raw: RefCell<Weak<Task>>,

    // -- what the hub counts (`stats.rs`) --
    /// Progress, as the monitor thread reads it.
    beat: Arc<Beat>,
    /// The longest gap between switches, while `util::assert_switches` measures.
    pub(crate) gaps: Gaps,
    /// Greenlets spawned, turns of the loop, time blocked in the poll (the switches are
    /// counted in the beat).
    spawned: Cell<u64>,
    turns: Cell<u64>,
    blocked_in_poll: Cell<Duration>,

    // -- failures and the process --
    /// This thread's handler for failed greenlets, if one was set.
    failure_handler: RefCell<Option<SharedHandler>>,
    /// The process the hub was created in (see `check_not_forked`).
    pid: u32,
}

thread_local! {
    // Whether this thread's hub exists: a `const` thread-local without a destructor, so
    // reading it never allocates, never registers anything and works at any point of a
    // thread's life (before `main`, during thread exit), unlike `HUB` itself.
    static ALIVE: Cell<bool> = const { Cell::new(false) };
}

/// Whether this thread's hub exists, without creating it: one read of a `const`
/// thread-local, safe to call anywhere (before `main`, in interposed libc calls).
pub(crate) fn alive() -> bool {
    ALIVE.with(Cell::get)
}

#[cfg(feature = "monkey")]
/// The current greenlet, if a blocking call made now may park it: this thread has a hub, and
/// the current greenlet is not the hub's own (which must never block). Reads two `const`
/// thread-locals and clones an `Rc`: it never allocates, never creates the hub or the
/// greenlet crate's thread state, and makes no system call, so interposed libc functions
/// may call it before `main` and on threads greenwood never saw. `Err(())` means "behave as
/// libc"; `Ok(None)` is a greenlet with no task yet (a main greenlet that never blocked),
/// which [`task::current`] creates.
pub(crate) fn cooperative() -> Result<Option<Rc<Task>>, ()> {
    if !ALIVE.with(Cell::get) {
        return Err(());
    }
    match task::try_current() {
        Some(t) if t.kind == Kind::Hub => Err(()),
        t => Ok(t),
    }
}

thread_local! {
    // Thread-local destructors run in reverse order of registration, and a lazily
    // initialised one registers after its initialiser runs. Touching the greenlet crate's
    // state in the initialiser registers it first, so it outlives the hub: the hub's
    // destructor can then still unwind the greenlets parked at thread exit.
    static HUB: OnceCell<Rc<HubInner>> = {
        drop(greenlet::current_data());
        OnceCell::new()
    };
}

/// Runs `f` with this thread's hub, creating it first if needed.
#[inline]
pub(crate) fn with<R>(f: impl FnOnce(&Rc<HubInner>) -> R) -> R {
    HUB.with(|h| f(h.get_or_init(create)))
}

/// Like `with`, but does nothing once the thread's hub is gone (thread exit).
pub(crate) fn try_with(f: impl FnOnce(&Rc<HubInner>)) {
    let _ = HUB.try_with(|h| {
        if let Some(hub) = h.get() {
            f(hub)
        }
    });
}

fn create() -> Rc<HubInner> {
    match HubInner::new() {
        Ok(hub) => hub,
        Err(e) => panic!("greenwood: cannot create this thread's hub: {e}"),
    }
}

impl HubInner {
    fn new() -> io::Result<Rc<HubInner>> {
        let (reactor, waker) = Reactor::new()?;
        let remote = Arc::new(Remote::new(waker));
        let beat = Beat::new(HubHandle::new(remote.clone()));
        let glet_result = RefCell::new(None);
        let hub = Rc::new_cyclic(|weak: &Weak<HubInner>| {
            let weak = weak.clone();
            let glet = greenlet::Builder::new()
                .name("hub")
                .build(move |_| run(weak));
            let glet = match glet {
                Ok(g) => g,
                Err(e) => {
                    *glet_result.borrow_mut() = Some(e);
                    greenlet::getcurrent()
                }
            };
            HubInner {
                glet,
                ready: RefCell::new(VecDeque::new()),
                batch_left: Cell::new(0),
                since_poll: Cell::new(0),
                timers: RefCell::new(Wheel::new(Instant::now())),
                reactor,
                remote,
                tasks: RefCell::new(Slab::new()),
                main: RefCell::new(Weak::new()),
                main_glet: Cell::new(None),
                last_raw: RefCell::new(Weak::new()),
                idle: RefCell::new(Vec::new()),
                signals: RefCell::new(Slab::new()),
                cross_waits: RefCell::new(Slab::new()),
                cross_tokens: Cell::new(0),
                failure_handler: RefCell::new(None),
                pid: std::process::id(),
                beat,
                gaps: Gaps::default(),
                spawned: Cell::new(0),
                turns: Cell::new(0),
                blocked_in_poll: Cell::new(Duration::ZERO),
            }
        });
        if let Some(e) = glet_result.into_inner() {
            return Err(e);
        }
        hub.beat
            .hub
            .store(hub.glet.id(), std::sync::atomic::Ordering::Relaxed);
        // Stacks of finished greenlets stay warm while the hub is busy, and are trimmed when
        // it goes idle (see `turn`).
        greenlet::set_deferred_trim(true);
        let marker = Rc::new(Task::new(Kind::Hub, hub.glet.id(), None, None));
        report::install_panic_hook();
        hub.glet.set_data(Some(marker));
        ALIVE.with(|a| a.set(true));
        Ok(hub)
    }

    /// The greenlet that resumes `task`: the thread's main greenlet is kept here (a task does
    /// not hold its own greenlet, or they would keep each other alive); raw greenlets are
    /// stashed by `park`, spawned ones kept by their task.
    #[inline]
    fn resume_target(&self, task: &Task) -> Option<greenlet::Greenlet> {
        if task.kind == Kind::Main {
            cell_clone(&self.main_glet)
        } else {
            task.greenlet()
        }
    }

    /// The next entry to run, turning the loop as often as needed.
    fn next(&self) -> Ready {
        loop {
            let left = self.batch_left.get();
            if left > 0 {
                self.batch_left.set(left - 1);
                let r = self.ready.borrow_mut().pop_front();
                if let Some(r) = r {
                    self.since_poll.set(self.since_poll.get() + 1);
                    return r;
                }
            }
            self.turn();
        }
    }

    /// Counts a switch (a greenlet resumed, a callback run): the beat's counter, which the
    /// monitor thread reads, the same whether a monitor runs or not; and the gap, while
    /// `assert_switches` measures.
    #[inline]
    fn switching(&self) {
        self.beat.switched();
        self.gaps.switched();
    }

    fn turn(&self) {
        self.turns.set(self.turns.get() + 1);
        self.take_remote();
        if !self.timers.borrow().is_empty() {
            self.expire_timers(Instant::now());
        }
        if !self.ready.borrow().is_empty() {
            if self.reactor.has_sources() && self.since_poll.get() >= POLL_EVERY {
                self.poll_io(Some(Duration::ZERO));
            }
        } else if !self.idle.borrow().is_empty() {
            // Idle waiters run once nothing else is runnable; pending I/O goes first.
            self.poll_io(Some(Duration::ZERO));
            if self.ready.borrow().is_empty() {
                for w in std::mem::take(&mut *self.idle.borrow_mut()) {
                    w.wake_owned();
                }
            }
        } else {
            // About to block: the one place a forked child would hang unnoticed.
            self.check_not_forked();
            let next_tick = self.timers.borrow().next_tick();
            let wait = next_tick.map(|tick| {
                let at = self.timers.borrow().instant_of(tick);
                at.saturating_duration_since(Instant::now())
            });
            // Nothing is runnable: from here the hub waits (giving stack memory back first is
            // its own housekeeping, not a greenlet holding the loop).
            self.beat
                .polling
                .store(true, std::sync::atomic::Ordering::Relaxed);
            self.gaps.waiting();
            self.trim_stacks(wait);
            match wait {
                Some(wait) => {
                    self.poll_io(Some(wait));
                    self.expire_timers(Instant::now());
                }
                None if self.can_be_woken() => self.poll_io(None),
                None => {
                    self.beat
                        .polling
                        .store(false, std::sync::atomic::Ordering::Relaxed);
                    self.gaps.woke();
                    self.loop_exit();
                }
            }
            self.take_remote();
        }
        self.batch_left.set(self.ready.borrow().len() + TURN_EXTRA);
    }

    /// Gives back the memory of the stacks that finished greenlets left warm, once the hub is
    /// about to wait for a while (as Go's scavenger returns memory in the background). While
    /// the hub is busy, finished stacks stay warm for the next spawns: giving one back costs a
    /// syscall, and reusing it a page fault, which at every finish tripled the CPU time of a
    /// timer expiry with a million sleepers. So a busy hub holds the stack memory of its peak
    /// number of greenlets; [`greenlet::trim_stacks`] gives it back on demand.
    fn trim_stacks(&self, wait: Option<Duration>) {
        if wait.is_none_or(|w| w >= TRIM_AFTER_IDLE) && greenlet::warm_stacks() > 0 {
            greenlet::trim_stacks();
        }
    }

    /// Fails loudly in a process forked after this hub was created: the child shares the
    /// parent's epoll instance (each would take the other's wake-ups) and has none of the
    /// thread pool's threads, so greenlets would hang. One `getpid` per blocking wait or
    /// thread-pool job.
    fn check_not_forked(&self) {
        let now = std::process::id();
        if now != self.pid {
            panic!(
                "greenwood: this process (pid {now}) was forked from pid {} after this \
                 thread's hub was created. A forked child shares its parent's epoll instance \
                 and has no thread-pool threads, so its greenlets would miss wake-ups and hang. \
                 Fork before the first greenwood call, or exec right after fork \
                 (std::process::Command does)",
                self.pid
            );
        }
    }

    /// Whether something outside the ready queue and the timers can still wake a greenlet.
    fn can_be_woken(&self) -> bool {
        self.reactor.has_waiters() || self.remote.can_wake()
    }

    /// The cross-thread wait under `key`, out of the table, if it is still the one `token`
    /// names.
    fn take_cross_wait(&self, key: usize, token: u64) -> Option<Waker> {
        let mut waits = self.cross_waits.borrow_mut();
        if waits.get(key).is_none_or(|(t, _)| *t != token) {
            return None;
        }
        Some(waits.remove(key).1)
    }

    fn take_remote(&self) {
        if let Some(queued) = self.remote.take() {
            for (key, token) in queued.wakes {
                if let Some(waker) = self.take_cross_wait(key, token) {
                    waker.wake_owned();
                }
            }
            let mut ready = self.ready.borrow_mut();
            for f in queued.calls {
                ready.push_back(Ready::Call(f));
            }
        }
    }

    fn expire_timers(&self, now: Instant) {
        let mut fired = Vec::new();
        {
            let mut timers = self.timers.borrow_mut();
            let tick = timers.now_tick(now);
            timers.expire(tick, |a| fired.push(a));
        }
        for action in fired {
            match action {
                TimerAction::Wake(w) => {
                    w.wake_owned();
                }
                TimerAction::Interrupt(task, i) => task.interrupt(i),
                TimerAction::Start(task) => {
                    task.start_timer.set(None);
                    task.schedule_start();
                }
            }
        }
    }

    fn poll_io(&self, timeout: Option<Duration>) {
        self.since_poll.set(0);
        if timeout == Some(Duration::ZERO) {
            self.reactor.poll(timeout);
            return;
        }
        // A poll that may block: the hub waits, and nothing holds the loop.
        self.beat
            .polling
            .store(true, std::sync::atomic::Ordering::Relaxed);
        self.gaps.waiting();
        let started = Instant::now();
        // A greenlet here waits on another thread: the answer often comes within
        // microseconds, sooner than a sleep in epoll and a wake-up by eventfd (which cost
        // 15–20 µs a hop on the machine we measure on). From `sleep()` on, other threads write
        // the eventfd; what they queued before, the hub takes at once.
        let queued = self.remote.spin(timeout.map_or(SPIN, |t| t.min(SPIN))) || self.remote.sleep();
        if queued {
            self.reactor.poll(Some(Duration::ZERO));
        } else {
            self.reactor.poll(timeout);
        }
        self.remote.woke();
        self.blocked_in_poll
            .set(self.blocked_in_poll.get() + started.elapsed());
        self.gaps.woke();
        self.beat
            .polling
            .store(false, std::sync::atomic::Ordering::Relaxed);
    }

    /// Nothing can ever wake anyone: wake the main greenlet (or whoever is parked) with
    /// `LoopExit`, which it raises naming what it waits on.
    fn loop_exit(&self) {
        let main = self.main.borrow().upgrade();
        if let Some(main) = main {
            if main.loop_exit() {
                return;
            }
        }
        let raw = self.last_raw.borrow().upgrade();
        if let Some(raw) = raw {
            if raw.loop_exit() {
                return;
            }
        }
        let parked = self
            .tasks
            .borrow()
            .iter()
            .map(|(_, t)| t.clone())
            .find(|t| t.is_parked());
        if let Some(t) = parked {
            t.loop_exit();
            return;
        }
        panic!("greenwood: the hub was switched to, but no greenlet is waiting on it");
    }
}

impl Drop for HubInner {
    fn drop(&mut self) {
        ALIVE.with(|a| a.set(false));
        // Refuse callbacks from now on, and drop those queued (with what they own) here.
        self.remote.close();
        // Thread exit: unwind the greenlets still parked, so their destructors run. Each is
        // thrown into explicitly (suspended greenlets hold handles to the greenlet they
        // switched to, so dropping our handles would not be the last drop) and comes back
        // here when it has unwound.
        let tasks = std::mem::take(&mut *self.tasks.borrow_mut());
        if cfg!(panic = "abort") {
            // Unwinding aborts: the parked greenlets are left as they are (their stacks are
            // leaked when the last handle goes), as a process leaves its threads at exit.
            return;
        }
        let here = greenlet::getcurrent();
        for (_, t) in tasks {
            let g = t.glet.take();
            let Some(g) = g else { continue };
            #[cfg(feature = "monkey")]
            if t.in_foreign_call.get() {
                // Parked inside an interposed libc call: unwinding it would cross the C
                // frames below, and an error return would let its C caller carry on, on a
                // thread whose hub is gone. It is left as it is, its stack leaked, as a
                // process leaves its threads at exit.
                std::mem::forget(g);
                continue;
            }
            if g.is_active() && g.set_parent(&here).is_ok() {
                if let Err(p) = panic::catch_unwind(AssertUnwindSafe(|| g.throw())) {
                    report::emit(
                        ReportKind::UnwindFailed,
                        format!(
                            "{} panicked while being unwound at thread exit: {}",
                            t.label(),
                            panic_message(&*p)
                        ),
                    );
                }
            }
        }
    }
}

/// The hub's loop: its greenlet's whole life.
fn run(weak: Weak<HubInner>) {
    // The hub's own task (its marker), on which the panic hook records what it catches.
    let me = task::try_current();
    loop {
        let next = match weak.upgrade() {
            Some(hub) => hub.next(),
            None => return,
        };
        match next {
            Ready::Resume(task) => {
                let g = weak.upgrade().and_then(|hub| {
                    hub.switching();
                    hub.resume_target(&task)
                });
                drop(task);
                if let Some(g) = g {
                    g.switch(());
                }
            }
            Ready::Call(f) => {
                if let Some(hub) = weak.upgrade() {
                    hub.switching();
                }
                if let Err(p) = report::catch(me.as_deref(), f) {
                    report::emit(
                        ReportKind::CallbackPanicked,
                        format!("a callback run by the hub panicked{}", report::caught(&*p)),
                    );
                }
            }
        }
    }
}

// ---- crate-internal entry points -----------------------------------------------------------

/// One greenlet as the run info shows it; `Send`, to cross from its hub's thread.
#[derive(Clone, Debug)]
pub(crate) struct TaskInfo {
    pub(crate) id: u64,
    pub(crate) label: String,
    pub(crate) site: Option<&'static std::panic::Location<'static>>,
    pub(crate) spawner: u64,
    pub(crate) state: String,
}

/// This thread's hub as the run info shows it.
#[derive(Clone, Debug)]
pub(crate) struct HubInfo {
    /// Tells hubs apart (the address of its beat).
    pub(crate) key: usize,
    pub(crate) thread: String,
    pub(crate) stats: Stats,
    /// The main greenlet (if it has blocked), then the spawned greenlets, by id.
    pub(crate) tasks: Vec<TaskInfo>,
}

/// The run info of this thread's hub, if it has one (made on the hub's thread).
pub(crate) fn info() -> Option<HubInfo> {
    if !alive() {
        return None;
    }
    let hub = get_hub();
    let inner = &hub.inner;
    let line = |t: &Task| TaskInfo {
        id: t.id.get(),
        label: t.label(),
        site: t.site,
        spawner: t.spawner.get(),
        state: task::state_of(t),
    };
    let mut tasks: Vec<TaskInfo> = inner
        .main
        .borrow()
        .upgrade()
        .iter()
        .map(|t| line(t))
        .collect();
    let mut spawned: Vec<TaskInfo> = inner.tasks.borrow().iter().map(|(_, t)| line(t)).collect();
    spawned.sort_by_key(|t| t.id);
    tasks.extend(spawned);
    Some(HubInfo {
        key: Arc::as_ptr(&inner.beat) as usize,
        thread: inner.beat.thread.clone(),
        stats: hub.stats(),
        tasks,
    })
}

/// Every hub alive, for the run info: its key (as in [`HubInfo`]) and its beat (its thread,
/// how to reach it, how to sample it).
pub(crate) fn hubs() -> Vec<(usize, Arc<Beat>)> {
    stats::beats()
        .into_iter()
        .map(|b| (Arc::as_ptr(&b) as usize, b))
        .collect()
}

pub(crate) fn push_ready(r: Ready) {
    try_with(|hub| hub.ready.borrow_mut().push_back(r));
}

/// Queues `f` to run on this thread's hub, creating the hub if it does not exist yet (an
/// object's links can fire before anything else needed one).
pub(crate) fn push_call(f: Box<dyn FnOnce()>) {
    with(|hub| hub.ready.borrow_mut().push_back(Ready::Call(f)));
}

pub(crate) fn hub_greenlet() -> greenlet::Greenlet {
    with(|hub| hub.glet.clone())
}

/// Records the main greenlet's task; called on the main greenlet.
pub(crate) fn set_main_task(task: &Rc<Task>) {
    with(|hub| {
        *hub.main.borrow_mut() = Rc::downgrade(task);
        hub.main_glet.set(Some(greenlet::getcurrent()));
        hub.beat
            .main
            .store(task.id.get(), std::sync::atomic::Ordering::Relaxed);
    });
}

/// Where a parking greenlet switches to: the next greenlet of the hub's current turn if that
/// is what the hub would run next, and the hub otherwise. The entry is consumed here exactly
/// as the hub's loop would consume it.
#[inline]
pub(crate) fn next_to_run() -> greenlet::Greenlet {
    with(|hub| {
        let left = hub.batch_left.get();
        if left > 0 {
            let mut ready = hub.ready.borrow_mut();
            if let Some(Ready::Resume(task)) = ready.front() {
                if let Some(g) = hub.resume_target(task) {
                    hub.switching();
                    let entry = ready.pop_front();
                    drop(ready);
                    hub.batch_left.set(left - 1);
                    hub.since_poll.set(hub.since_poll.get() + 1);
                    drop(entry);
                    return g;
                }
            }
        }
        hub.glet.clone()
    })
}

pub(crate) fn note_raw_park(task: &Rc<Task>) {
    with(|hub| *hub.last_raw.borrow_mut() = Rc::downgrade(task));
}

pub(crate) fn register(task: &Rc<Task>) {
    with(|hub| {
        let mut tasks = hub.tasks.borrow_mut();
        let slot = tasks.insert(task.clone());
        hub.beat.alive(tasks.len());
        drop(tasks);
        task.slot.set(slot);
        hub.spawned.set(hub.spawned.get() + 1);
    });
}

/// The live spawned greenlet in `slot` of this hub, if it is still the one with `id`.
pub(crate) fn task_at(slot: usize, id: u64) -> Option<Rc<Task>> {
    with(|hub| {
        hub.tasks
            .borrow()
            .get(slot)
            .filter(|t| t.id.get() == id)
            .cloned()
    })
}

/// Every live spawned greenlet of this hub.
pub(crate) fn spawned_tasks() -> Vec<Rc<Task>> {
    with(|hub| hub.tasks.borrow().iter().map(|(_, t)| t.clone()).collect())
}

pub(crate) fn unregister(task: &Task) {
    let slot = task.slot.replace(usize::MAX);
    if slot != usize::MAX {
        try_with(|hub| {
            let mut tasks = hub.tasks.borrow_mut();
            let removed = tasks.try_remove(slot);
            hub.beat.alive(tasks.len());
            drop(tasks);
            drop(removed);
        });
    }
}

/// Enters `waker` in this hub's table of cross-thread waits: the hub's remote queue, and the
/// key and token another thread wakes it by (see `remote::XCondvar`).
pub(crate) fn add_cross_wait(waker: Waker) -> (Arc<Remote>, usize, u64) {
    with(|hub| {
        let token = hub.cross_tokens.get().wrapping_add(1);
        hub.cross_tokens.set(token);
        let key = hub.cross_waits.borrow_mut().insert((token, waker));
        (hub.remote.clone(), key, token)
    })
}

/// Takes a cross-thread wait out of the table, unless its wake-up did already.
pub(crate) fn remove_cross_wait(key: usize, token: u64) {
    // Dropped outside the table's borrow (a waker's drop may drop a task).
    try_with(|hub| drop(hub.take_cross_wait(key, token)));
}

pub(crate) fn add_timer(after: Duration, action: TimerAction) -> TimerKey {
    add_timer_until(after, action).0
}

/// [`add_timer`], with the deadline it computed (`None`: too far to represent, never).
pub(crate) fn add_timer_until(after: Duration, action: TimerAction) -> (TimerKey, Option<Instant>) {
    with(|hub| {
        let mut timers = hub.timers.borrow_mut();
        let at = Instant::now().checked_add(after);
        let tick = match at {
            Some(at) => timers.deadline_tick(at),
            None => u64::MAX,
        };
        (timers.insert(tick, action), at)
    })
}

/// Whether `key`'s timer is still pending on this thread's hub.
pub(crate) fn timer_pending(key: TimerKey) -> bool {
    let mut pending = false;
    try_with(|hub| pending = hub.timers.borrow().contains(key));
    pending
}

pub(crate) fn cancel_timer(key: TimerKey) {
    let mut action = None;
    try_with(|hub| action = hub.timers.borrow_mut().cancel(key));
    // Dropped outside the borrow: it may hold the last handle to a task.
    drop(action);
}

/// A park's deadline noted in its task (for the run info) until dropped: only parks with a
/// timer pay for it.
pub(crate) struct Deadline<'a>(&'a Task);

impl<'a> Deadline<'a> {
    pub(crate) fn note(task: &'a Task, at: Option<Instant>) -> Deadline<'a> {
        task.deadline.set(at);
        Deadline(task)
    }
}

impl Drop for Deadline<'_> {
    fn drop(&mut self) {
        self.0.deadline.set(None);
    }
}

/// Cancels a timer when dropped.
pub(crate) struct TimerGuard(pub(crate) TimerKey);

impl Drop for TimerGuard {
    fn drop(&mut self) {
        cancel_timer(self.0);
    }
}

/// The one way greenwood blocks on something: parks the current greenlet until the waker
/// handed to `register` wakes it, `timeout` passes (`None`: no limit), or an interrupt (kill,
/// timeout) unwinds it. `register` leaves the waker wherever the wake-up will come from and
/// returns a guard that takes it back out; the guard lives until the park is over, whatever
/// ends it, and is dropped before the timer is cancelled. Callers look at their condition
/// again afterwards: a wake-up and the timeout can race.
#[inline]
pub(crate) fn wait_for<G>(
    what: WaitOn,
    timeout: Option<Duration>,
    register: impl FnOnce(Waker) -> G,
) {
    wait_as(&task::current(), what, timeout, register);
}

/// [`wait_for`], for a caller that has the current task at hand already.
#[inline]
pub(crate) fn wait_as<G>(
    me: &Rc<Task>,
    what: WaitOn,
    timeout: Option<Duration>,
    register: impl FnOnce(Waker) -> G,
) {
    let waker = me.waker();
    let _timer = timeout.map(|d| {
        let (key, at) = add_timer_until(d, TimerAction::Wake(waker.clone()));
        (TimerGuard(key), Deadline::note(me, at))
    });
    let _registered = register(waker);
    task::park(me, what);
}

/// A copy of what a `Cell<Option<T>>` holds.
pub(crate) fn cell_clone<T: Clone>(cell: &Cell<Option<T>>) -> Option<T> {
    let v = cell.take();
    let copy = v.clone();
    cell.set(v);
    copy
}

/// Hands out process-wide unique ids, from 1 (link ids, timeout ids).
pub(crate) struct IdCounter(std::sync::atomic::AtomicU64);

impl IdCounter {
    pub(crate) const fn new() -> IdCounter {
        IdCounter(std::sync::atomic::AtomicU64::new(1))
    }

    pub(crate) fn next(&self) -> u64 {
        self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    }
}

pub(crate) fn report_failure(err: &GreenletError) {
    let mut handler = None;
    try_with(|hub| handler = hub.failure_handler.borrow().clone());
    match handler {
        Some(h) => {
            // Caught like a link or a callback: a buggy handler must not take the hub down.
            if let Err(p) = report::catch(task::try_current().as_deref(), || h(err)) {
                report::emit(
                    ReportKind::CallbackPanicked,
                    format!(
                        "the failure handler panicked on \"{err}\"{}",
                        report::caught(&*p)
                    ),
                );
            }
        }
        None => {
            let message = report::with_backtrace(err.to_string(), err.backtrace());
            report::emit(ReportKind::GreenletFailed, message);
        }
    }
}

/// See `HubInner::check_not_forked`.
pub(crate) fn check_not_forked() {
    with(|hub| hub.check_not_forked());
}

pub(crate) fn add_idle(w: Waker) {
    with(|hub| hub.idle.borrow_mut().push(w));
}

#[cfg(test)]
fn remote() -> Arc<Remote> {
    with(|hub| hub.remote.clone())
}

// ---- public API ----------------------------------------------------------------------------

/// A handle to this thread's hub. Not `Send`: each thread has its own.
///
/// # Examples
///
/// ```
/// use std::{cell::Cell, rc::Rc};
///
/// let hub = greenwood::hub::get_hub();
/// let ran = Rc::new(Cell::new(false));
/// let r = ran.clone();
/// hub.run_callback(move || r.set(true));
/// greenwood::sleep(std::time::Duration::ZERO); // let the hub turn
/// assert!(ran.get());
/// ```
#[derive(Clone)]
pub struct Hub {
    inner: Rc<HubInner>,
    _not_send: PhantomData<*const ()>,
}

/// This thread's hub, created on first use.
///
/// # Panics
///
/// If the hub cannot be created: the process is out of file descriptors (the message names
/// `RLIMIT_NOFILE`) or of memory for the hub's stack.
///
/// # Examples
///
/// ```
/// let hub = greenwood::hub::get_hub();
/// let _g = greenwood::spawn(|| ());
/// assert_eq!(hub.live_greenlets(), 1);
/// ```
pub fn get_hub() -> Hub {
    with(|hub| Hub {
        inner: hub.clone(),
        _not_send: PhantomData,
    })
}

impl Hub {
    /// Runs `f` on the hub in a later turn of the loop, after everything already queued
    /// (FIFO). `f` runs on the hub's greenlet, so it must not block; a panic in it is reported
    /// and the loop goes on.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::{cell::RefCell, rc::Rc};
    ///
    /// let order = Rc::new(RefCell::new(Vec::new()));
    /// let hub = greenwood::hub::get_hub();
    /// for i in 0..3 {
    ///     let o = order.clone();
    ///     hub.run_callback(move || o.borrow_mut().push(i));
    /// }
    /// greenwood::sleep(std::time::Duration::ZERO);
    /// assert_eq!(*order.borrow(), [0, 1, 2]);
    /// ```
    pub fn run_callback(&self, f: impl FnOnce() + 'static) {
        self.inner
            .ready
            .borrow_mut()
            .push_back(Ready::Call(Box::new(f)));
    }

    /// Sets the handler for greenlets that fail (panic, or an uncaught [`Timeout`]): called
    /// once per failure, on the hub. Without one, failures are printed to stderr. See
    /// [`set_failure_handler`](crate::set_failure_handler).
    ///
    /// [`Timeout`]: crate::Timeout
    ///
    /// # Examples
    ///
    /// ```
    /// greenwood::hub::get_hub().set_failure_handler(Some(Box::new(|e| eprintln!("{e}"))));
    /// ```
    pub fn set_failure_handler(&self, handler: Option<FailureHandler>) {
        *self.inner.failure_handler.borrow_mut() = handler.map(Rc::from);
    }

    /// Greenlets spawned on this thread that have not finished.
    ///
    /// # Examples
    ///
    /// ```
    /// let hub = greenwood::hub::get_hub();
    /// let g = greenwood::spawn(|| ());
    /// assert_eq!(hub.live_greenlets(), 1);
    /// g.join();
    /// assert_eq!(hub.live_greenlets(), 0);
    /// ```
    pub fn live_greenlets(&self) -> usize {
        self.inner.tasks.borrow().len()
    }

    /// Timers pending (sleeps, timeouts, delayed spawns).
    ///
    /// # Examples
    ///
    /// ```
    /// let hub = greenwood::hub::get_hub();
    /// let g = greenwood::spawn(|| greenwood::sleep(std::time::Duration::from_secs(60)));
    /// greenwood::sleep(std::time::Duration::ZERO);
    /// assert_eq!(hub.pending_timers(), 1);
    /// g.kill();
    /// assert_eq!(hub.pending_timers(), 0);
    /// ```
    pub fn pending_timers(&self) -> usize {
        self.inner.timers.borrow().len()
    }

    /// The hub's counters: greenlets alive and spawned, switches, turns of the loop, timers,
    /// registered descriptors, time blocked in the poll, and the longest time without a
    /// switch while a [monitor](crate::monitor) watched.
    ///
    /// # Examples
    ///
    /// ```
    /// let hub = greenwood::hub::get_hub();
    /// let before = hub.stats();
    /// let gs: Vec<_> = (0..10).map(|_| greenwood::spawn(|| ())).collect();
    /// greenwood::joinall(&gs);
    /// let after = hub.stats();
    /// assert_eq!(after.spawned - before.spawned, 10);
    /// assert_eq!(after.alive, 0);
    /// ```
    pub fn stats(&self) -> Stats {
        let hub = &self.inner;
        Stats {
            alive: hub.tasks.borrow().len(),
            spawned: hub.spawned.get(),
            switches: hub.beat.switches.load(std::sync::atomic::Ordering::Relaxed),
            turns: hub.turns.get(),
            timers: hub.timers.borrow().len(),
            fds: hub.reactor.registered(),
            blocked_in_poll: hub.blocked_in_poll.get(),
            longest_without_switch: hub.beat.longest_without_switch(),
            wakeups: hub.remote.wakeups(),
        }
    }

    /// A handle other threads can use to run callbacks on this hub.
    ///
    /// # Examples
    ///
    /// ```
    /// let handle = greenwood::hub::get_hub().handle();
    /// std::thread::spawn(move || handle.run_callback(|| println!("on the hub's thread")).unwrap())
    ///     .join()
    ///     .unwrap();
    /// greenwood::sleep(std::time::Duration::from_millis(1));
    /// ```
    pub fn handle(&self) -> HubHandle {
        HubHandle::new(self.inner.remote.clone())
    }

    /// The hub's own greenlet.
    ///
    /// # Examples
    ///
    /// ```
    /// let hub = greenwood::hub::get_hub();
    /// assert_eq!(hub.greenlet().name(), Some("hub"));
    /// ```
    pub fn greenlet(&self) -> &greenlet::Greenlet {
        &self.inner.glet
    }
}

impl fmt::Debug for Hub {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hub")
            .field("ready", &self.inner.ready.borrow().len())
            .field("timers", &self.inner.timers.borrow().len())
            .field("greenlets", &self.inner.tasks.borrow().len())
            .finish()
    }
}

/// Suspends the current greenlet for `duration`; other greenlets run meanwhile.
///
/// `sleep(Duration::ZERO)` yields: every greenlet that is already runnable runs before the
/// caller resumes. Timers have a resolution of one millisecond and never fire early.
///
/// # Panics
///
/// Raises an interrupt that reaches the greenlet while it sleeps: [`kill`] unwinds it with
/// `GreenletExit`, a [`Timeout`] with [`Elapsed`](crate::Elapsed). Called from a hub
/// callback, panics (callbacks must not block).
///
/// [`kill`]: crate::Greenlet::kill
/// [`Timeout`]: crate::Timeout
///
/// # Examples
///
/// ```
/// use std::{cell::RefCell, rc::Rc, time::Duration};
///
/// let woke = Rc::new(RefCell::new(Vec::new()));
/// let (w1, w2) = (woke.clone(), woke.clone());
/// let slow = greenwood::spawn(move || {
///     greenwood::sleep(Duration::from_millis(20));
///     w1.borrow_mut().push("slow");
/// });
/// let fast = greenwood::spawn(move || {
///     greenwood::sleep(Duration::from_millis(5));
///     w2.borrow_mut().push("fast");
/// });
/// greenwood::joinall(&[slow, fast]);
/// assert_eq!(*woke.borrow(), ["fast", "slow"]); // both slept at once; the shorter woke first
/// ```
pub fn sleep(duration: Duration) {
    let task = task::current();
    if duration.is_zero() {
        task::yield_now(&task);
        return;
    }
    let (key, at) = add_timer_until(duration, TimerAction::Wake(task.waker()));
    let _timer = TimerGuard(key);
    let _deadline = Deadline::note(&task, at);
    task::park(&task, WaitOn::Sleep(duration));
}

/// Waits until the hub has nothing else to run: no runnable greenlet, no callback, no I/O
/// ready (gevent's `idle()`).
///
/// # Examples
///
/// ```
/// use std::{cell::Cell, rc::Rc};
///
/// let done = Rc::new(Cell::new(0));
/// let d = done.clone();
/// let _g = greenwood::spawn(move || {
///     for _ in 0..3 {
///         greenwood::sleep(std::time::Duration::ZERO);
///         d.set(d.get() + 1);
///     }
/// });
/// greenwood::idle();
/// assert_eq!(done.get(), 3);
/// ```
pub fn idle() {
    let task = task::current();
    add_idle(task.waker());
    task::park(&task, WaitOn::Idle);
}

/// gevent's `Waiter`: a one-shot slot that one greenlet waits on and anyone fills.
///
/// [`get`](Waiter::get) parks the current greenlet until [`switch`](Waiter::switch) gives it
/// a value; `switch` can come from any greenlet or hub callback, and the waiting greenlet is
/// resumed by the hub, never by the caller of `switch`. Every blocking call in greenwood is
/// built on the same park-and-wake step.
///
/// # Examples
///
/// ```
/// use greenwood::hub::Waiter;
///
/// let w = Waiter::new();
/// let w2 = w.clone();
/// let _g = greenwood::spawn(move || w2.switch("photo.jpg"));
/// assert_eq!(w.get(), "photo.jpg");
/// ```
pub struct Waiter<T> {
    inner: Rc<WaiterInner<T>>,
}

struct WaiterInner<T> {
    value: RefCell<Option<T>>,
    waker: Cell<Option<Waker>>,
    site: &'static std::panic::Location<'static>,
}

impl<T> Clone for Waiter<T> {
    fn clone(&self) -> Self {
        Waiter {
            inner: self.inner.clone(),
        }
    }
}

impl<T> Default for Waiter<T> {
    #[track_caller]
    fn default() -> Self {
        Waiter::new()
    }
}

impl<T> Waiter<T> {
    /// An empty waiter.
    ///
    /// # Examples
    ///
    /// ```
    /// let w: greenwood::hub::Waiter<u32> = greenwood::hub::Waiter::new();
    /// assert!(!w.ready());
    /// ```
    #[track_caller]
    pub fn new() -> Waiter<T> {
        Waiter {
            inner: Rc::new(WaiterInner {
                value: RefCell::new(None),
                waker: Cell::new(None),
                site: std::panic::Location::caller(),
            }),
        }
    }

    /// Fills the waiter and schedules the greenlet waiting in [`get`](Waiter::get), if any. A
    /// second `switch` before `get` replaces the value.
    ///
    /// # Examples
    ///
    /// ```
    /// let w = greenwood::hub::Waiter::new();
    /// w.switch(1); // nobody waits yet: the value waits for `get`
    /// assert_eq!(w.get(), 1);
    /// ```
    pub fn switch(&self, value: T) {
        *self.inner.value.borrow_mut() = Some(value);
        if let Some(w) = self.inner.waker.take() {
            w.wake_owned();
        }
    }

    /// Whether a value is waiting to be taken.
    ///
    /// # Examples
    ///
    /// ```
    /// let w = greenwood::hub::Waiter::new();
    /// assert!(!w.ready());
    /// w.switch("x");
    /// assert!(w.ready());
    /// ```
    pub fn ready(&self) -> bool {
        self.inner.value.borrow().is_some()
    }

    /// Takes the value, parking the current greenlet until there is one.
    ///
    /// # Panics
    ///
    /// With [`LoopExit`](crate::LoopExit)'s message if nothing can ever fill it, and with the
    /// interrupts of [`sleep`].
    ///
    /// # Examples
    ///
    /// ```
    /// let w = greenwood::hub::Waiter::new();
    /// let w2 = w.clone();
    /// let _g = greenwood::spawn(move || w2.switch(5));
    /// assert_eq!(w.get(), 5); // parks until the greenlet runs
    /// ```
    pub fn get(&self) -> T {
        loop {
            if let Some(v) = self.inner.value.borrow_mut().take() {
                return v;
            }
            // `wait_for` by hand, for the hand-off benchmarks measure: no timer to consider,
            // and the wait description built after the task lookup (960 instructions a round
            // trip under callgrind, 974 through `wait_for`).
            let task = task::current();
            self.inner.waker.set(Some(task.waker()));
            let _clear = ClearWaker(&self.inner.waker);
            task::park(&task, WaitOn::Object("Waiter", self.inner.site));
        }
    }
}

struct ClearWaker<'a>(&'a Cell<Option<Waker>>);

impl Drop for ClearWaker<'_> {
    fn drop(&mut self) {
        drop(self.0.take());
    }
}

impl<T> fmt::Debug for Waiter<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Waiter")
            .field("ready", &self.ready())
            .field("created_at", &self.inner.site)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callbacks_from_other_threads_wake_the_hub() {
        let w = Waiter::new();
        let remote = remote();
        let w2 = w.clone();
        // The waiter is !Send: hand the other thread a callback that fills it on this thread
        // through a value that is Send.
        let slot = Rc::new(RefCell::new(None::<u32>));
        let s = slot.clone();
        let deliver = move || w2.switch(s.borrow_mut().take().unwrap_or(7));
        hub_local_callback(Box::new(deliver));
        remote.hold();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            assert!(remote.run_callback(Box::new(run_local_callbacks)).is_ok());
            remote.release();
        });
        assert_eq!(w.get(), 7);
        t.join().unwrap();
    }

    thread_local! {
        static LOCAL: RefCell<Vec<Box<dyn FnOnce()>>> = const { RefCell::new(Vec::new()) };
    }

    fn hub_local_callback(f: Box<dyn FnOnce()>) {
        LOCAL.with(|l| l.borrow_mut().push(f));
    }

    fn run_local_callbacks() {
        for f in LOCAL.with(|l| std::mem::take(&mut *l.borrow_mut())) {
            f();
        }
    }
}
