//! Reaching a hub from other OS threads: the remote queue of callbacks they hand it,
//! [`HubHandle`] (its public face), and signals, which let another thread wake greenlets
//! parked on the hub (the thread pool and cross-thread channels use them). Everything crosses
//! through the remote queue and the poller's `mio::Waker`: no other thread ever touches a
//! hub's greenlets.
//!
//! A signal is a flag and a wait list that live on the hub's thread, in the hub's signal
//! table; another thread holds only the table key and the hub's `Remote`, and fires the
//! signal by queuing a callback that raises the flag and wakes the waiters. A signal fired
//! after its hub side is gone finds its key empty and does nothing.

use std::cell::Cell;
use std::error::Error;
use std::fmt;
use std::panic::Location;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::hub;
use crate::hub::task::WaitOn;
use crate::hub::waitlist::{wait_on, WaitList};

/// A callback another thread queued.
pub(crate) type RemoteCall = Box<dyn FnOnce() + Send>;

/// Callbacks queued by other threads, and how they wake the hub. The thread pool, the
/// thread-safe hub handle and cross-thread channels are built on it.
pub(crate) struct Remote {
    /// Callbacks waiting for the hub's next turn.
    queue: Mutex<Vec<RemoteCall>>,
    /// Something was queued since the hub last took the queue.
    pending: AtomicBool,
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
            queue: Mutex::new(Vec::new()),
            pending: AtomicBool::new(false),
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
        queue.push(f);
        drop(queue);
        if !self.pending.swap(true, Ordering::SeqCst) {
            // Failing to write to an eventfd we own means the process is out of something
            // more basic than we can handle here; the callback still runs on the next turn.
            let _ = self.waker.wake();
        }
        Ok(())
    }

    /// The callbacks queued since the last take, if any (on the hub's thread).
    pub(crate) fn take(&self) -> Option<Vec<RemoteCall>> {
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
        drop(std::mem::take(&mut *queue));
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
