//! Parallelism without migration: [`Hubs`] starts one hub per OS thread (by default one per
//! core), greenlets are spawned on a hub and stay there, and everything between hubs is
//! `Send`: greenlet handles ([`SendGreenlet`]), [channels](crate::channel), [`Event`] and
//! [`Semaphore`].
//!
//! ```
//! use greenwood::hubs::Hubs;
//!
//! let hubs = Hubs::new(2)?;
//! let a = hubs.spawn_on(0, || std::thread::current().id());
//! let b = hubs.spawn_on(1, || std::thread::current().id());
//! assert_ne!(a.take().unwrap(), b.take().unwrap()); // two threads, running in parallel
//! hubs.stop(); // kills and unwinds what still runs, joins the threads
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! # Why greenlets never migrate
//!
//! A greenlet's stack holds whatever its code holds: `Rc`s, `RefCell` borrows, thread-local
//! references, a `MutexGuard` that must be released on the thread that took it. Moving a
//! suspended stack to another thread would make all of those unsound without the compiler
//! seeing it (the migration of stackful coroutines is exactly where may's soundness holes
//! with thread-locals come from). So a greenlet is `!Send`, lives on the hub that spawned it,
//! and what crosses between hubs is what the type system lets cross: values that are `Send`.
//! The cost is that load is balanced when work is placed ([`Hubs::spawn`] picks the
//! least-loaded hub), not afterwards: a hub whose greenlets all compute keeps them.
//!
//! # Threads of hubs or processes
//!
//! - [`Hubs`], and servers with [`StreamServer::threads`](crate::server::StreamServer::threads):
//!   one process, so state is shared (behind `Arc`, `Mutex`, channels) and one crash ends
//!   all. All hubs share the process's file-descriptor limit.
//! - [`StreamServer::processes`](crate::server::StreamServer::processes): pre-fork workers,
//!   gunicorn's model. Nothing is shared but the listening port; a worker that dies is
//!   restarted; each has its own file-descriptor limit, so N workers hold N times the
//!   connections.
//!
//! # How a greenlet on one hub waits for another hub
//!
//! A wait on anything in this module, or on a channel, puts the waiting greenlet on the
//! object's list and parks it; the hub goes on running its other greenlets. Whoever changes
//! the object (on any thread) queues the wake-up on the waiter's hub, which takes it at its
//! next turn; a hub asleep in its poll is woken by one eventfd write per burst. A plain
//! thread without a hub waits by parking itself.

use std::cell::Cell;
use std::fmt;
use std::io;
use std::panic::{self, Location};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex, MutexGuard};
use std::thread::{JoinHandle, ThreadId};
use std::time::{Duration, Instant};

use crate::error::{panic_message, Elapsed, ErrorKind, GreenletError};
use crate::greenlet::{AnyGreenlet, Builder};
use crate::hub::remote::XCondvar;
use crate::hub::task::Payload;
use crate::hub::{self, HubHandle};

mod sync;

pub use self::sync::{Event, Semaphore, SemaphorePermit};

/// How long [`Hubs::stop`] gives the greenlets it kills to unwind, by default.
const DEFAULT_GRACE: Duration = Duration::from_secs(10);

thread_local! {
    /// This thread's index in its [`Hubs`], on a thread that `Hubs` started.
    static INDEX: Cell<Option<usize>> = const { Cell::new(None) };
}

/// The index of the current thread's hub in the [`Hubs`] that started it; `None` on a thread
/// that `Hubs` did not start.
///
/// # Examples
///
/// ```
/// use greenwood::hubs::{self, Hubs};
///
/// let hubs = Hubs::new(2)?;
/// assert_eq!(hubs.spawn_on(1, hubs::current).take().unwrap(), Some(1));
/// assert_eq!(hubs::current(), None);
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn current() -> Option<usize> {
    INDEX.with(Cell::get)
}

/// Hub threads: one hub per OS thread, each running the greenlets spawned on it.
///
/// `Hubs` is `Send + Sync`: share it (in an `Arc`) with the greenlets that spawn more work.
/// Dropping it, or [`stop`](Hubs::stop), stops every hub gracefully: the greenlets still
/// running are killed (unwound with `GreenletExit`, so their destructors run and they may
/// block while they clean up), and the threads are joined.
pub struct Hubs {
    members: Vec<Member>,
    /// Where the next `spawn` starts looking, so that ties go round-robin.
    next: AtomicUsize,
}

/// One hub thread.
struct Member {
    handle: HubHandle,
    thread: ThreadId,
    /// Greenlets spawned here through `Hubs` that have not finished.
    load: Arc<AtomicUsize>,
    /// Set to stop the hub.
    stop: Event,
    /// Set by the hub's thread when its greenlets are gone and it is about to exit.
    exited: Event,
    join: Mutex<Option<JoinHandle<()>>>,
}

/// Configures and starts [`Hubs`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// let hubs = greenwood::hubs::Hubs::builder()
///     .threads(2)
///     .name("worker")
///     .grace(Duration::from_secs(1))
///     .start()?;
/// assert_eq!(hubs.len(), 2);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct HubsBuilder {
    threads: Option<usize>,
    pin: bool,
    name: String,
    grace: Duration,
}

impl HubsBuilder {
    /// The number of hub threads; by default, one per core the process may run on
    /// (`std::thread::available_parallelism`).
    pub fn threads(mut self, n: usize) -> HubsBuilder {
        self.threads = Some(n);
        self
    }

    /// Pins hub `i` to core `i` (modulo the cores the process may use), so the kernel does
    /// not move hub threads between cores. Off by default; where pinning is refused, the
    /// hub runs unpinned.
    pub fn pin(mut self, pin: bool) -> HubsBuilder {
        self.pin = pin;
        self
    }

    /// The threads' name prefix: threads are named `NAME-0`, `NAME-1`, ... (default `hub`).
    pub fn name(mut self, name: impl Into<String>) -> HubsBuilder {
        self.name = name.into();
        self
    }

    /// How long stopping waits for killed greenlets to unwind (default 10 s); greenlets still
    /// alive then are unwound without waiting for them further, as at thread exit.
    pub fn grace(mut self, grace: Duration) -> HubsBuilder {
        self.grace = grace;
        self
    }

    /// Starts the threads and their hubs.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for 0 threads; the error of a thread or hub that could not be created
    /// (out of threads, memory or file descriptors: each hub holds an epoll instance and an
    /// eventfd), after stopping the hubs already started.
    pub fn start(self) -> io::Result<Hubs> {
        let n = match self.threads {
            Some(n) => n,
            None => std::thread::available_parallelism().map_or(1, |n| n.get()),
        };
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "greenwood::hubs: cannot start 0 hub threads; ask for at least one",
            ));
        }
        let cores = if self.pin {
            core_affinity::get_core_ids().unwrap_or_default()
        } else {
            Vec::new()
        };
        let mut hubs = Hubs {
            members: Vec::with_capacity(n),
            next: AtomicUsize::new(0),
        };
        for i in 0..n {
            let core = (!cores.is_empty()).then(|| cores[i % cores.len()]);
            // On error, dropping `hubs` stops the threads started so far.
            hubs.members.push(start_member(
                i,
                format!("{}-{i}", self.name),
                core,
                self.grace,
            )?);
        }
        Ok(hubs)
    }
}

fn start_member(
    index: usize,
    name: String,
    core: Option<core_affinity::CoreId>,
    grace: Duration,
) -> io::Result<Member> {
    let stop = Event::new();
    let exited = Event::new();
    let (ready_tx, ready_rx) = mpsc::sync_channel(1);
    let (stop2, exited2) = (stop.clone(), exited.clone());
    let join = std::thread::Builder::new()
        .name(name)
        .spawn(move || hub_thread(index, core, grace, ready_tx, stop2, exited2))?;
    let thread = join.thread().id();
    match ready_rx.recv() {
        Ok(Ok(handle)) => Ok(Member {
            handle,
            thread,
            load: Arc::new(AtomicUsize::new(0)),
            stop,
            exited,
            join: Mutex::new(Some(join)),
        }),
        Ok(Err(e)) => {
            let _ = join.join();
            Err(e)
        }
        Err(_) => {
            let _ = join.join();
            Err(io::Error::other(
                "greenwood::hubs: a hub thread exited before its hub was ready",
            ))
        }
    }
}

/// A hub thread's whole life: create the hub, say so, run greenlets until told to stop, then
/// kill what still runs and give it `grace` to unwind.
fn hub_thread(
    index: usize,
    core: Option<core_affinity::CoreId>,
    grace: Duration,
    ready: mpsc::SyncSender<io::Result<HubHandle>>,
    stop: Event,
    exited: Event,
) {
    if let Some(core) = core {
        // Refused (a cpuset that excludes the core): the hub runs unpinned.
        let _ = core_affinity::set_for_current(core);
    }
    INDEX.with(|i| i.set(Some(index)));
    let created = panic::catch_unwind(|| hub::get_hub().handle());
    let handle = match created {
        Ok(h) => h,
        Err(p) => {
            let _ = ready.send(Err(io::Error::other(panic_message(&*p))));
            return;
        }
    };
    if ready.send(Ok(handle)).is_err() {
        return;
    }
    // The main greenlet waits; the greenlets spawned on this hub run meanwhile.
    stop.wait();
    stop_greenlets(grace);
    // One more turn: the links of the greenlets that just finished hand their results to
    // their handles.
    crate::sleep(Duration::ZERO);
    exited.set();
    // Returning drops the hub (a thread-local): what is still alive is unwound there.
}

/// Kills every greenlet of this hub and waits for them until `grace` has passed, again for
/// the ones they spawn while they unwind.
fn stop_greenlets(grace: Duration) {
    let deadline = Instant::now() + grace;
    loop {
        let tasks = hub::spawned_tasks();
        if tasks.is_empty() {
            return;
        }
        let all: Vec<AnyGreenlet> = tasks.into_iter().map(AnyGreenlet::from_task).collect();
        for g in &all {
            g.kill_nowait();
        }
        for g in &all {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || g.join_timeout(left).is_err() {
                return;
            }
        }
    }
}

impl Hubs {
    /// Starts `n` hub threads (`n` = 0 is refused). See [`builder`](Hubs::builder) for the
    /// default of one per core, pinning and thread names.
    ///
    /// # Errors
    ///
    /// As [`HubsBuilder::start`].
    ///
    /// # Examples
    ///
    /// ```
    /// let hubs = greenwood::hubs::Hubs::new(2)?;
    /// assert_eq!(hubs.len(), 2);
    /// assert!(greenwood::hubs::Hubs::new(0).is_err());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn new(n: usize) -> io::Result<Hubs> {
        Hubs::builder().threads(n).start()
    }

    /// A builder: the number of threads (default one per core), pinning, names, the grace
    /// period for stopping.
    pub fn builder() -> HubsBuilder {
        HubsBuilder {
            threads: None,
            pin: false,
            name: "hub".to_string(),
            grace: DEFAULT_GRACE,
        }
    }

    /// The number of hubs.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Always false: `Hubs` has at least one hub.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// A handle to hub `i`, to run callbacks on it.
    ///
    /// # Panics
    ///
    /// If `i` is not below [`len`](Hubs::len).
    pub fn handle(&self, i: usize) -> HubHandle {
        self.member(i).handle.clone()
    }

    /// Greenlets spawned on hub `i` through `Hubs` that have not finished: the load that
    /// [`spawn`](Hubs::spawn) balances.
    ///
    /// # Panics
    ///
    /// If `i` is not below [`len`](Hubs::len).
    pub fn load(&self, i: usize) -> usize {
        self.member(i).load.load(Ordering::Relaxed)
    }

    #[track_caller]
    fn member(&self, i: usize) -> &Member {
        match self.members.get(i) {
            Some(m) => m,
            None => panic!(
                "greenwood::hubs: there is no hub {i}: these Hubs have {} (0 to {})",
                self.members.len(),
                self.members.len() - 1
            ),
        }
    }

    /// Spawns a greenlet running `f` on hub `i`; it starts at the hub's next turn. Returns at
    /// once, with a handle any greenlet or thread can join, get and kill.
    ///
    /// If the hub has stopped, the handle reports the greenlet killed.
    ///
    /// # Panics
    ///
    /// If `i` is not below [`len`](Hubs::len).
    ///
    /// # Examples
    ///
    /// ```
    /// let hubs = greenwood::hubs::Hubs::new(2)?;
    /// let g = hubs.spawn_on(1, || 6 * 7);
    /// assert_eq!(g.take().unwrap(), 42);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn spawn_on<F, T>(&self, i: usize, f: F) -> SendGreenlet<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let site = Location::caller();
        let member = self.member(i);
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                outcome: None,
                started: None,
                kill: None,
            }),
            done: XCondvar::new("a greenlet on another hub", site),
            hub: member.handle.clone(),
            index: i,
            site,
        });
        member.load.fetch_add(1, Ordering::Relaxed);
        let completer = Completer {
            shared: shared.clone(),
            load: member.load.clone(),
            done: false,
        };
        // If the hub is gone, the callback is dropped, and with it the completer, which
        // reports the greenlet killed.
        let _ = member
            .handle
            .run_callback(move || start_greenlet(f, completer));
        SendGreenlet { shared }
    }

    /// Spawns a greenlet running `f` on the least-loaded hub (the fewest unfinished greenlets
    /// spawned through `Hubs`; ties go round-robin).
    ///
    /// # Examples
    ///
    /// ```
    /// let hubs = greenwood::hubs::Hubs::new(2)?;
    /// let gs: Vec<_> = (0..4).map(|i| hubs.spawn(move || i)).collect();
    /// let sum: i32 = gs.iter().map(|g| g.take().unwrap()).sum();
    /// assert_eq!(sum, 6);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn spawn<F, T>(&self, f: F) -> SendGreenlet<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let n = self.members.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed) % n;
        let best = (0..n)
            .map(|k| (start + k) % n)
            .min_by_key(|&i| self.members[i].load.load(Ordering::Relaxed))
            .unwrap_or(0);
        self.spawn_on(best, f)
    }

    /// Stops every hub: kills the greenlets still running on them, waits up to the grace
    /// period (see [`HubsBuilder::grace`]) for them to unwind, and joins the threads. A
    /// greenlet calling this keeps its own hub running while it waits.
    ///
    /// # Panics
    ///
    /// If called from a greenlet of one of these hubs, which cannot wait for its own thread
    /// to end: stop them from elsewhere (dropping `Hubs` there stops the others and leaves
    /// that one's thread to end by itself).
    pub fn stop(mut self) {
        if let Some(i) = self.own_index() {
            panic!(
                "greenwood::hubs: Hubs::stop called on hub {i} of the same Hubs: a hub cannot \
                 wait for its own thread to end; stop them from another thread or hub"
            );
        }
        self.shut_down();
    }

    fn own_index(&self) -> Option<usize> {
        let me = std::thread::current().id();
        self.members.iter().position(|m| m.thread == me)
    }

    fn shut_down(&mut self) {
        let own = self.own_index();
        for m in &self.members {
            m.stop.set();
        }
        for (i, m) in self.members.iter().enumerate() {
            if Some(i) == own {
                continue;
            }
            // Cooperatively: a greenlet stopping them does not stall its own hub.
            m.exited.wait();
            let join = m.join.lock().unwrap_or_else(|e| e.into_inner()).take();
            if let Some(join) = join {
                let _ = join.join();
            }
        }
        self.members.clear();
    }
}

impl Drop for Hubs {
    fn drop(&mut self) {
        if !self.members.is_empty() {
            self.shut_down();
        }
    }
}

impl fmt::Debug for Hubs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let loads: Vec<usize> = self
            .members
            .iter()
            .map(|m| m.load.load(Ordering::Relaxed))
            .collect();
        f.debug_struct("Hubs")
            .field("hubs", &self.members.len())
            .field("loads", &loads)
            .finish()
    }
}

/// Starts `f` on this hub (the target's callback), unless the handle killed it first.
fn start_greenlet<F, T>(f: F, completer: Completer<T>)
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let shared = completer.shared.clone();
    let mut state = shared.lock();
    if let Some(message) = state.kill.take() {
        drop(state);
        let err = completer.shared.error(ErrorKind::Killed, &message);
        completer.finish(Err(err));
        return;
    }
    match Builder::new().spawn_at(shared.site, f) {
        Ok(g) => {
            state.started = Some((g.task().slot.get(), g.id()));
            drop(state);
            g.link(move |g| completer.finish(g.take()));
        }
        Err(e) => {
            drop(state);
            let err = completer.shared.error(
                ErrorKind::Panicked,
                &format!("cannot spawn a greenlet: {e}"),
            );
            completer.finish(Err(err));
        }
    }
}

struct Shared<T> {
    state: Mutex<State<T>>,
    /// Joiners wait here.
    done: XCondvar,
    /// The hub it runs on.
    hub: HubHandle,
    index: usize,
    site: &'static Location<'static>,
}

struct State<T> {
    outcome: Option<Result<T, GreenletError>>,
    /// Where the greenlet is on its hub, once spawned: its slot in the hub's table and id.
    started: Option<(usize, u64)>,
    /// Killed before it started: the error's message.
    kill: Option<String>,
}

impl<T> Shared<T> {
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn error(&self, kind: ErrorKind, message: &str) -> GreenletError {
        GreenletError {
            kind,
            greenlet: format!("a greenlet on hub {}", self.index),
            site: Some(self.site),
            message: message.to_string(),
            panic: None,
        }
    }

    /// Waits until the greenlet has finished, at most until `deadline`.
    fn wait(&self, deadline: Option<Instant>) -> (MutexGuard<'_, State<T>>, bool) {
        let mut state = self.lock();
        while state.outcome.is_none() {
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return (state, false);
            }
            state = self.done.wait_until(&self.state, state, deadline).0;
        }
        (state, true)
    }
}

/// Hands the greenlet's result to its handles; if dropped unused (the hub stopped before the
/// greenlet started or finished), reports it killed.
struct Completer<T> {
    shared: Arc<Shared<T>>,
    load: Arc<AtomicUsize>,
    done: bool,
}

impl<T> Completer<T> {
    fn finish(mut self, result: Result<T, GreenletError>) {
        self.complete(result);
    }

    fn complete(&mut self, result: Result<T, GreenletError>) {
        self.done = true;
        self.shared.lock().outcome = Some(result);
        self.load.fetch_sub(1, Ordering::Relaxed);
        self.shared.done.notify_all();
    }
}

impl<T> Drop for Completer<T> {
    fn drop(&mut self) {
        if !self.done {
            let err = self
                .shared
                .error(ErrorKind::Killed, "its hub stopped before it finished");
            self.complete(Err(err));
        }
    }
}

/// A `Send` handle to a greenlet spawned on one of the [`Hubs`], and its result: any
/// greenlet, on any hub, or any thread can join it, get its value and kill it. Waiting parks
/// the calling greenlet, never its hub's thread. Clonable; dropping it does not stop the
/// greenlet.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// let hubs = greenwood::hubs::Hubs::new(2)?;
/// let sleeper = hubs.spawn_on(0, || greenwood::sleep(Duration::from_secs(60)));
/// let killer = {
///     let sleeper = sleeper.clone();
///     hubs.spawn_on(1, move || sleeper.kill()) // a greenlet on hub 1 kills one on hub 0
/// };
/// killer.join();
/// assert_eq!(sleeper.take().unwrap_err().kind(), greenwood::ErrorKind::Killed);
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct SendGreenlet<T> {
    shared: Arc<Shared<T>>,
}

impl<T: Send + 'static> SendGreenlet<T> {
    /// Waits until the greenlet has finished (returned, panicked or been killed).
    ///
    /// # Panics
    ///
    /// With the interrupts of [`sleep`](crate::sleep), while it waits.
    pub fn join(&self) {
        drop(self.shared.wait(None));
    }

    /// Waits at most `timeout` for the greenlet to finish.
    ///
    /// # Errors
    ///
    /// [`Elapsed`] if it has not finished by then.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let hubs = greenwood::hubs::Hubs::new(1)?;
    /// let g = hubs.spawn_on(0, || greenwood::sleep(Duration::from_secs(60)));
    /// assert!(g.join_timeout(Duration::from_millis(5)).is_err());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn join_timeout(&self, timeout: Duration) -> Result<(), Elapsed> {
        let deadline = Instant::now().checked_add(timeout);
        Elapsed::check(self.shared.wait(deadline).1, timeout)
    }

    /// Waits for the greenlet and moves its value out; later calls get an error of kind
    /// [`ErrorKind::Taken`].
    ///
    /// # Errors
    ///
    /// The [`GreenletError`] of a greenlet that panicked, timed out or was killed (also when
    /// its hub stopped first).
    pub fn take(&self) -> Result<T, GreenletError> {
        let (mut state, _) = self.shared.wait(None);
        match state.outcome.take() {
            Some(Ok(v)) => {
                // Later takes and gets find this error.
                state.outcome = Some(Err(self
                    .shared
                    .error(ErrorKind::Taken, "its value was already taken")));
                Ok(v)
            }
            Some(Err(e)) => {
                state.outcome = Some(Err(e.clone()));
                Err(e)
            }
            None => unreachable!("wait returns once the outcome is in"),
        }
    }

    /// Waits for the greenlet and returns a copy of its value.
    ///
    /// # Errors
    ///
    /// As [`take`](SendGreenlet::take).
    ///
    /// # Examples
    ///
    /// ```
    /// let hubs = greenwood::hubs::Hubs::new(1)?;
    /// let g = hubs.spawn_on(0, || String::from("photo.jpg"));
    /// assert_eq!(g.get().unwrap(), "photo.jpg");
    /// assert_eq!(g.get().unwrap(), "photo.jpg");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn get(&self) -> Result<T, GreenletError>
    where
        T: Clone,
    {
        let (state, _) = self.shared.wait(None);
        match &state.outcome {
            Some(r) => r.clone(),
            None => unreachable!("wait returns once the outcome is in"),
        }
    }

    /// Kills the greenlet and waits for it to die; a greenlet that has not started yet never
    /// starts. Its result is then an error of kind [`ErrorKind::Killed`] (unless it finished
    /// first).
    pub fn kill(&self) {
        self.kill_nowait();
        self.join();
    }

    /// Kills the greenlet and waits at most `timeout` for it to die.
    ///
    /// # Errors
    ///
    /// [`Elapsed`] if it is still alive by then (it blocks while unwinding).
    #[track_caller]
    pub fn kill_timeout(&self, timeout: Duration) -> Result<(), Elapsed> {
        self.kill_nowait();
        self.join_timeout(timeout)
    }

    /// Kills the greenlet without waiting for it to die.
    pub fn kill_nowait(&self) {
        self.kill_on_its_hub(None);
    }

    /// Kills the greenlet with `payload` instead of `GreenletExit`, and waits for it to die:
    /// [`Greenlet::kill_with`](crate::Greenlet::kill_with) from any hub or thread. The payload
    /// travels to the greenlet's hub, so it must be `Send`.
    ///
    /// # Panics
    ///
    /// As [`join`](SendGreenlet::join).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let hubs = greenwood::hubs::Hubs::new(1)?;
    /// let (running, started) = std::sync::mpsc::channel();
    /// let g = hubs.spawn_on(0, move || {
    ///     running.send(()).unwrap(); // it parks in the sleep before its hub runs the kill
    ///     let r = std::panic::catch_unwind(|| greenwood::sleep(Duration::from_secs(60)));
    ///     *r.unwrap_err().downcast::<&str>().unwrap()
    /// });
    /// started.recv().unwrap();
    /// g.kill_with("reloading");
    /// assert_eq!(g.get().unwrap(), "reloading"); // it caught the payload and returned it
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn kill_with<P: std::any::Any + Send>(&self, payload: P) {
        self.kill_on_its_hub(Some(Box::new(payload)));
        self.join();
    }

    fn kill_on_its_hub(&self, payload: Option<Payload>) {
        let mut state = self.shared.lock();
        if state.outcome.is_some() {
            return;
        }
        match state.started {
            None => {
                let killed = match &payload {
                    Some(p) => crate::greenlet::killed_message(&**p),
                    None => "it was killed".to_string(),
                };
                state.kill = Some(format!("{killed} before it started"));
            }
            Some((slot, id)) => {
                drop(state);
                let kill = move || {
                    if let Some(task) = hub::task_at(slot, id) {
                        AnyGreenlet::from_task(task).kill_nowait_payload(payload);
                    }
                };
                if self.shared.hub.is_current() {
                    // From its own hub: at once, so a greenlet spawned but not yet run never
                    // runs, as with a local kill.
                    kill();
                } else {
                    // A hub that is gone has killed it already.
                    let _ = self.shared.hub.run_callback(kill);
                }
            }
        }
    }

    /// Whether the greenlet has finished.
    pub fn ready(&self) -> bool {
        self.shared.lock().outcome.is_some()
    }

    /// Whether it finished with a value (not yet taken).
    pub fn successful(&self) -> bool {
        matches!(self.shared.lock().outcome, Some(Ok(_)))
    }

    /// The index of the hub it runs on.
    pub fn hub(&self) -> usize {
        self.shared.index
    }

    /// Where it was spawned.
    pub fn spawned_at(&self) -> &'static Location<'static> {
        self.shared.site
    }
}

impl<T> Clone for SendGreenlet<T> {
    fn clone(&self) -> Self {
        SendGreenlet {
            shared: self.shared.clone(),
        }
    }
}

impl<T> fmt::Debug for SendGreenlet<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.shared.lock();
        let status = match (&state.outcome, state.started) {
            (Some(Ok(_)), _) => "finished",
            (Some(Err(_)), _) => "failed",
            (None, Some(_)) => "running",
            (None, None) => "not started",
        };
        f.debug_struct("SendGreenlet")
            .field("hub", &self.shared.index)
            .field("spawned_at", &self.shared.site)
            .field("status", &status)
            .finish()
    }
}
