//! Reaching a hub from other OS threads: the remote queue of callbacks they hand it,
//! [`HubHandle`] (its public face), signals, which let another thread wake greenlets parked
//! on the hub (the thread pool uses them), and [`XCondvar`], a condition variable that
//! greenlets of any hub and plain threads wait on together (the cross-hub channels, events,
//! semaphores and greenlet handles of `greenwood::hubs` are built on it). Everything crosses
//! through the remote queue and the poller's `mio::Waker`: no other thread ever touches a
//! hub's greenlets.
//!
//! # Waking a hub costs one write per burst
//!
//! Whatever another thread hands a hub (a callback, a parked greenlet to wake) goes into the
//! remote queue, and the queue's `pending` flag says the hub has something to take. Only the
//! thread that raises the flag, and only while the hub is asleep in its poll (`sleeping`),
//! writes the hub's eventfd: a burst of N wake-ups to one hub costs one write, and wake-ups to
//! a busy hub cost none; the hub looks at the flag at every turn. The two flags are a
//! Dekker pair: the hub raises `sleeping` and then looks at `pending` before it blocks; a
//! sender raises `pending` and then looks at `sleeping`; both sequentially consistent, so one
//! of them sees the other.
//!
//! A signal is a flag and a wait list that live on the hub's thread, in the hub's signal
//! table; another thread holds only the table key and the hub's `Remote`, and fires the
//! signal by queuing a callback that raises the flag and wakes the waiters. A signal fired
//! after its hub side is gone finds its key empty and does nothing.

use std::cell::Cell;
use std::collections::VecDeque;
use std::error::Error;
use std::fmt;
use std::panic::Location;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::hub;
use crate::hub::task::{self, Task, WaitOn};
use crate::hub::waitlist::{wait_on, WaitList};

/// A callback another thread queued.
pub(crate) type RemoteCall = Box<dyn FnOnce() + Send>;

/// What other threads handed the hub since it last looked.
#[derive(Default)]
pub(crate) struct Queued {
    /// Callbacks to run, in order.
    pub(crate) calls: Vec<RemoteCall>,
    /// Parked greenlets to wake: (key, token) in the hub's table of cross-thread waits.
    pub(crate) wakes: Vec<(usize, u64)>,
}

/// Callbacks and wake-ups queued by other threads, and how they wake the hub. The thread
/// pool, the thread-safe hub handle and everything in `greenwood::hubs` are built on it.
pub(crate) struct Remote {
    /// What waits for the hub's next turn.
    queue: Mutex<Queued>,
    /// Something was queued since the hub last took the queue.
    pending: AtomicBool,
    /// The hub is blocked in its poll, or about to be: a sender that raises `pending` must
    /// write the eventfd (see the module's documentation).
    sleeping: AtomicBool,
    /// Eventfd writes, for `Stats::wakeups`.
    wakeups: AtomicU64,
    /// Cleared when the hub is dropped (its thread exits): callbacks would never run.
    alive: AtomicBool,
    /// Operations on other threads that will queue a callback when done (thread-pool work):
    /// while any is outstanding, blocking forever is not a deadlock.
    outstanding: AtomicUsize,
    /// Interrupts the hub's poll.
    waker: mio::Waker,
}

impl Remote {
    pub(crate) fn new(waker: mio::Waker) -> Remote {
        Remote {
            queue: Mutex::new(Queued::default()),
            pending: AtomicBool::new(false),
            sleeping: AtomicBool::new(false),
            wakeups: AtomicU64::new(0),
            alive: AtomicBool::new(true),
            outstanding: AtomicUsize::new(0),
            waker,
        }
    }

    /// Queues `f` to run on the hub's thread and wakes the hub; gives `f` back if the hub is
    /// gone.
    pub(crate) fn run_callback(&self, f: RemoteCall) -> Result<(), RemoteCall> {
        let mut queue = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        if !self.alive.load(Ordering::SeqCst) {
            return Err(f);
        }
        queue.calls.push(f);
        drop(queue);
        self.notify();
        Ok(())
    }

    /// Queues the wake-up of the greenlet parked under `key` in the hub's table of
    /// cross-thread waits; nothing happens if the hub is gone.
    fn wake(&self, key: usize, token: u64) {
        let mut queue = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        if !self.alive.load(Ordering::SeqCst) {
            return;
        }
        queue.wakes.push((key, token));
        drop(queue);
        self.notify();
    }

    /// Raises `pending`, and interrupts the hub's poll if this raised it while the hub sleeps.
    fn notify(&self) {
        if !self.pending.swap(true, Ordering::SeqCst) && self.sleeping.load(Ordering::SeqCst) {
            self.wakeups.fetch_add(1, Ordering::Relaxed);
            // Failing to write to an eventfd we own means the process is out of something
            // more basic than we can handle here; the hub still sees `pending` next turn.
            let _ = self.waker.wake();
        }
    }

    /// Spins up to `limit` while an operation on another thread will hand the hub something
    /// (see `hold`), and returns whether something was queued: a hand-off between threads then
    /// costs no system call on either side. Returns false at once when nothing is
    /// outstanding, so an idle server never spins.
    pub(crate) fn spin(&self, limit: Duration) -> bool {
        if self.outstanding.load(Ordering::Relaxed) == 0 || limit.is_zero() {
            return false;
        }
        let start = Instant::now();
        loop {
            for _ in 0..64 {
                if self.pending.load(Ordering::Relaxed) {
                    return true;
                }
                std::hint::spin_loop();
            }
            if start.elapsed() >= limit {
                return false;
            }
        }
    }

    /// The hub is about to block in its poll: from now on, senders write the eventfd. Returns
    /// whether something is queued already (then the hub must not block).
    pub(crate) fn sleep(&self) -> bool {
        self.sleeping.store(true, Ordering::SeqCst);
        self.pending.load(Ordering::SeqCst)
    }

    /// The hub's poll returned.
    pub(crate) fn woke(&self) {
        self.sleeping.store(false, Ordering::Relaxed);
    }

    /// How often another thread interrupted the hub's poll.
    pub(crate) fn wakeups(&self) -> u64 {
        self.wakeups.load(Ordering::Relaxed)
    }

    /// What was queued since the last take, if anything (on the hub's thread).
    pub(crate) fn take(&self) -> Option<Queued> {
        // A plain load first: the swap is a locked instruction, and the flag is almost always
        // clear.
        if !self.pending.load(Ordering::Relaxed) || !self.pending.swap(false, Ordering::SeqCst) {
            return None;
        }
        Some(std::mem::take(
            &mut *self.queue.lock().unwrap_or_else(|e| e.into_inner()),
        ))
    }

    /// Whether another thread can still wake the hub: a callback is queued, or an operation
    /// that will queue one is outstanding.
    pub(crate) fn can_wake(&self) -> bool {
        self.outstanding.load(Ordering::SeqCst) > 0 || self.pending.load(Ordering::SeqCst)
    }

    /// Refuses callbacks from now on (the hub is going away), and drops those queued.
    pub(crate) fn close(&self) {
        let mut queue = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        self.alive.store(false, Ordering::SeqCst);
        let queued = std::mem::take(&mut *queue);
        drop(queue);
        // Dropped unlocked: what a callback owns may queue something on this hub as it goes
        // (it is refused) or on another.
        drop(queued);
    }

    /// Counts an operation on another thread that will queue a callback when done.
    pub(crate) fn hold(&self) {
        self.outstanding.fetch_add(1, Ordering::SeqCst);
    }

    /// Ends what [`hold`](Self::hold) counted.
    pub(crate) fn release(&self) {
        self.outstanding.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A `Send + Sync` handle to a thread's hub: any OS thread can queue callbacks to run on it.
///
/// # Examples
///
/// ```
/// use std::sync::mpsc;
///
/// let handle = greenwood::hub::get_hub().handle();
/// let (tx, rx) = mpsc::channel();
/// let worker = std::thread::spawn(move || {
///     handle.run_callback(move || tx.send(std::thread::current().id()).unwrap()).unwrap();
/// });
/// worker.join().unwrap();
/// greenwood::sleep(std::time::Duration::from_millis(1)); // the hub runs the callback
/// assert_eq!(rx.recv().unwrap(), std::thread::current().id());
/// ```
#[derive(Clone)]
pub struct HubHandle {
    remote: Arc<Remote>,
}

/// The hub's thread has exited: the callback was not queued.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HubGone;

impl fmt::Display for HubGone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the hub's thread has exited; its callbacks can no longer run")
    }
}

impl Error for HubGone {}

impl HubHandle {
    pub(crate) fn new(remote: Arc<Remote>) -> HubHandle {
        HubHandle { remote }
    }

    /// Whether this is the calling thread's own hub.
    pub(crate) fn is_current(&self) -> bool {
        let mut mine = false;
        crate::hub::try_with(|hub| mine = Arc::ptr_eq(&hub.remote, &self.remote));
        mine
    }

    /// Queues `f` to run on the hub's thread, in a later turn of its loop, and wakes the hub
    /// if it is waiting. Like [`Hub::run_callback`](crate::hub::Hub::run_callback), `f` runs
    /// on the hub and must not block.
    ///
    /// # Errors
    ///
    /// [`HubGone`] if the hub's thread has exited.
    ///
    /// # Examples
    ///
    /// ```
    /// let handle = greenwood::hub::get_hub().handle();
    /// assert!(handle.run_callback(|| ()).is_ok());
    /// ```
    pub fn run_callback(&self, f: impl FnOnce() + Send + 'static) -> Result<(), HubGone> {
        self.remote.run_callback(Box::new(f)).map_err(|_| HubGone)
    }
}

impl fmt::Debug for HubHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HubHandle").finish()
    }
}

/// A signal's state on the hub's thread: raised by its senders, lowered by its waiter.
pub(crate) struct SignalState {
    raised: Cell<bool>,
    waiters: WaitList,
}

impl SignalState {
    /// Raises the flag and wakes whoever waits.
    fn raise(&self) {
        self.raised.set(true);
        self.waiters.notify_all();
    }
}

/// The hub side of a signal: a flag greenlets of this hub wait on, which a [`SignalSender`]
/// on any thread can raise. `what` and `site` name the object built on it and where it was
/// made, for `LoopExit` messages.
pub(crate) struct Signal {
    state: Rc<SignalState>,
    key: usize,
    remote: Arc<Remote>,
    what: &'static str,
    site: &'static Location<'static>,
}

impl Signal {
    pub(crate) fn new(what: &'static str, site: &'static Location<'static>) -> Signal {
        let state = Rc::new(SignalState {
            raised: Cell::new(false),
            waiters: WaitList::new(),
        });
        let (key, remote) = hub::with(|hub| {
            (
                hub.signals.borrow_mut().insert(state.clone()),
                hub.remote.clone(),
            )
        });
        Signal {
            state,
            key,
            remote,
            what,
            site,
        }
    }

    /// Whether the signal was raised since the last [`lower`](Self::lower).
    pub(crate) fn is_raised(&self) -> bool {
        self.state.raised.get()
    }

    /// Lowers the flag: call it before looking at what the signal announces, so a raise that
    /// lands after the look is not missed.
    pub(crate) fn lower(&self) {
        self.state.raised.set(false);
    }

    /// Parks the current greenlet until the signal is raised, at most `timeout`; callers
    /// look at what it announces afterwards.
    pub(crate) fn wait(&self, timeout: Option<Duration>) {
        if !self.is_raised() {
            wait_on(
                &self.state.waiters,
                WaitOn::Object(self.what, self.site),
                timeout,
            );
        }
    }

    /// Who waits for the signal (for `wait`/`iwait`).
    pub(crate) fn waiters(&self) -> &WaitList {
        &self.state.waiters
    }

    pub(crate) fn sender(&self) -> SignalSender {
        SignalSender {
            remote: self.remote.clone(),
            key: self.key,
        }
    }

    /// Counts an operation that will fire this signal from another thread: while any is
    /// outstanding, waiting on the hub is not a deadlock.
    pub(crate) fn hold(&self) -> Hold {
        self.remote.hold();
        Hold {
            remote: self.remote.clone(),
        }
    }
}

impl Drop for Signal {
    fn drop(&mut self) {
        let key = self.key;
        hub::try_with(|hub| {
            let removed = hub.signals.borrow_mut().try_remove(key);
            drop(removed);
        });
    }
}

/// Raises a [`Signal`] from any thread (on the hub's thread, through its queue). A signal
/// fired after its hub side is gone does nothing.
#[derive(Clone)]
pub(crate) struct SignalSender {
    remote: Arc<Remote>,
    key: usize,
}

impl SignalSender {
    pub(crate) fn fire(&self) {
        let key = self.key;
        let _ = self.remote.run_callback(Box::new(move || {
            let mut state = None;
            hub::try_with(|hub| state = hub.signals.borrow().get(key).cloned());
            if let Some(s) = state {
                s.raise();
            }
        }));
    }
}

/// An outstanding cross-thread operation (see [`Signal::hold`]); released when dropped, on
/// any thread.
pub(crate) struct Hold {
    remote: Arc<Remote>,
}

impl Drop for Hold {
    fn drop(&mut self) {
        self.remote.release();
    }
}

// ---- a condition variable for greenlets of every hub, and threads ---------------------------

/// The waiter has not been woken.
const WAITING: u8 = 0;
/// A notifier woke it (it must look at its condition, or pass the wake-up on).
const NOTIFIED: u8 = 1;
/// It stopped waiting (timed out, was killed) before anyone woke it.
const CANCELLED: u8 = 2;

/// One wait on an [`XCondvar`], as its notifiers see it: `Send`, whichever kind of waiter.
struct XWaiter {
    state: AtomicU8,
    target: Target,
}

enum Target {
    /// A greenlet parked on the hub behind `remote`, under `key` in its table of
    /// cross-thread waits (`token` tells this wait from a later one under the same key).
    Greenlet {
        remote: Arc<Remote>,
        key: usize,
        token: u64,
    },
    /// A thread without a hub, parked with `std::thread::park`.
    Thread(std::thread::Thread),
}

impl XWaiter {
    /// Wakes the waiter unless someone did already or it gave up; whether this woke it.
    fn notify(&self) -> bool {
        if self
            .state
            .compare_exchange(WAITING, NOTIFIED, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return false;
        }
        match &self.target {
            Target::Greenlet { remote, key, token } => remote.wake(*key, *token),
            Target::Thread(t) => t.unpark(),
        }
        true
    }
}

/// A condition variable that greenlets of any hub and plain threads wait on together: what
/// `std::sync::Condvar` is to threads, for everything that crosses hubs. A greenlet that
/// waits parks (its hub runs the others), and is woken through its hub's remote queue; a
/// thread without a hub parks itself. Used with a `std::sync::Mutex` whose critical sections
/// never block (they only move data), so holding one never stalls a hub for long.
///
/// Wake-ups are never lost: a waiter is on the list before the mutex is released, and one
/// that is woken but then gives up (its timeout fires, it is killed) passes the wake-up on
/// to the next. As with std's, callers check their condition in a loop: a waiter can be
/// woken for a change that another has consumed already.
pub(crate) struct XCondvar {
    waiters: Mutex<VecDeque<Arc<XWaiter>>>,
    /// The list's length, stored under its lock: a notifier that finds it 0 takes no lock.
    /// A waiter is counted before it releases the object's mutex, and a notifier looks after
    /// changing the object under that mutex, so the notifier sees the count.
    waiting: AtomicUsize,
    /// What the run info and `LoopExit` messages say a greenlet waits on.
    what: &'static str,
    site: &'static Location<'static>,
}

impl XCondvar {
    pub(crate) fn new(what: &'static str, site: &'static Location<'static>) -> XCondvar {
        XCondvar {
            waiters: Mutex::new(VecDeque::new()),
            waiting: AtomicUsize::new(0),
            what,
            site,
        }
    }

    /// Where the object that waits on this was created.
    pub(crate) fn site(&self) -> &'static Location<'static> {
        self.site
    }

    fn list(&self) -> MutexGuard<'_, VecDeque<Arc<XWaiter>>> {
        self.waiters.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `f` on the waiter list and stores its new length.
    fn with_list<R>(&self, f: impl FnOnce(&mut VecDeque<Arc<XWaiter>>) -> R) -> R {
        let mut list = self.list();
        let r = f(&mut list);
        self.waiting.store(list.len(), Ordering::SeqCst);
        r
    }

    /// Wakes the longest waiting waiter, if any.
    pub(crate) fn notify_one(&self) {
        while self.waiting.load(Ordering::SeqCst) > 0 {
            match self.with_list(VecDeque::pop_front) {
                Some(w) if w.notify() => return,
                Some(_) => continue,
                None => return,
            }
        }
    }

    /// Wakes every waiter.
    pub(crate) fn notify_all(&self) {
        if self.waiting.load(Ordering::SeqCst) == 0 {
            return;
        }
        for w in self.with_list(std::mem::take) {
            w.notify();
        }
    }

    /// Releases `guard`, waits until notified or `deadline` passes, and locks `mutex` again.
    /// Returns the guard and whether the wait was notified (`false`: the deadline passed).
    ///
    /// # Panics
    ///
    /// In the hub's own greenlet (a callback), which must never block; and with the
    /// interrupts of a park (kill, `Timeout`): the mutex is then not held.
    pub(crate) fn wait_until<'a, S>(
        &self,
        mutex: &'a Mutex<S>,
        guard: MutexGuard<'a, S>,
        deadline: Option<Instant>,
    ) -> (MutexGuard<'a, S>, bool) {
        let wait = XWait::new();
        self.with_list(|l| l.push_back(wait.waiter.clone()));
        drop(guard);
        let mut cancel = Cancel {
            condvar: self,
            waiter: &wait.waiter,
            armed: true,
        };
        let notified = wait.park(WaitOn::Object(self.what, self.site), deadline);
        cancel.armed = !notified;
        drop(cancel);
        (mutex.lock().unwrap_or_else(|e| e.into_inner()), notified)
    }
}

/// Takes a waiter that stopped waiting off the list; if it was woken meanwhile, the wake-up
/// is passed on, so no one else misses it. Runs on every way out of a wait, unwinding too.
struct Cancel<'a> {
    condvar: &'a XCondvar,
    waiter: &'a Arc<XWaiter>,
    armed: bool,
}

impl Drop for Cancel<'_> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let gave_up = self
            .waiter
            .state
            .compare_exchange(WAITING, CANCELLED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok();
        if gave_up {
            self.condvar.with_list(|list| {
                if let Some(i) = list.iter().position(|w| Arc::ptr_eq(w, self.waiter)) {
                    list.remove(i);
                }
            });
        } else {
            self.condvar.notify_one();
        }
    }
}

/// The waiting side of one wait: the current greenlet (its waker in the hub's table of
/// cross-thread waits) or, on a thread that has no hub, the thread.
struct XWait {
    waiter: Arc<XWaiter>,
    /// The parked greenlet's task, and its entry in the hub's table.
    greenlet: Option<(Rc<Task>, usize, u64)>,
}

impl XWait {
    fn new() -> XWait {
        if !hub::alive() {
            return XWait {
                waiter: Arc::new(XWaiter {
                    state: AtomicU8::new(WAITING),
                    target: Target::Thread(std::thread::current()),
                }),
                greenlet: None,
            };
        }
        let me = task::current();
        let (remote, key, token) = hub::add_cross_wait(me.waker());
        // Another thread will wake this greenlet: until it has, blocking is no deadlock.
        remote.hold();
        XWait {
            waiter: Arc::new(XWaiter {
                state: AtomicU8::new(WAITING),
                target: Target::Greenlet { remote, key, token },
            }),
            greenlet: Some((me, key, token)),
        }
    }

    /// Waits until notified or `deadline`; whether it was notified.
    fn park(&self, what: WaitOn, deadline: Option<Instant>) -> bool {
        let notified = || self.waiter.state.load(Ordering::Acquire) == NOTIFIED;
        match &self.greenlet {
            Some((me, _, _)) => {
                if !notified() {
                    let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
                    if left != Some(Duration::ZERO) {
                        // One park: the waker in the table is good for this park only, and
                        // nothing else wakes it but the deadline's timer.
                        hub::wait_as(me, what, left, |_| ());
                    }
                }
            }
            None => {
                while !notified() {
                    match deadline {
                        None => std::thread::park(),
                        Some(d) => {
                            let now = Instant::now();
                            if now >= d {
                                break;
                            }
                            std::thread::park_timeout(d - now);
                        }
                    }
                }
            }
        }
        notified()
    }
}

impl Drop for XWait {
    fn drop(&mut self) {
        if let Some((_, key, token)) = self.greenlet {
            hub::remove_cross_wait(key, token);
            if let Target::Greenlet { remote, .. } = &self.waiter.target {
                remote.release();
            }
        }
    }
}
