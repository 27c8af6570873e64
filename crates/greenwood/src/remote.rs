//! Reaching a hub from other OS threads: [`HubHandle`] runs callbacks on it, and a signal
//! lets another thread wake greenlets parked on the hub (the thread pool and cross-thread
//! channels use it). Everything crosses through the hub's remote queue and `mio::Waker`: no
//! other thread ever touches a hub's greenlets.

use std::error::Error;
use std::fmt;
use std::sync::Arc;

use crate::event::Event;
use crate::hub::{self, Remote};

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

/// The hub side of a signal: an event greenlets of this hub wait on, which a
/// [`SignalSender`] on any thread can set.
pub(crate) struct Signal {
    event: Event,
    key: usize,
    remote: Arc<Remote>,
}

impl Signal {
    pub(crate) fn new(event: Event) -> Signal {
        let key = hub::register_signal(event.clone());
        Signal {
            event,
            key,
            remote: hub::remote(),
        }
    }

    pub(crate) fn event(&self) -> &Event {
        &self.event
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
        hub::unregister_signal(self.key);
    }
}

/// Sets a [`Signal`]'s event from any thread (on the hub's thread, through its queue). A
/// signal fired after its hub side is gone does nothing.
#[derive(Clone)]
pub(crate) struct SignalSender {
    remote: Arc<Remote>,
    key: usize,
}

impl SignalSender {
    pub(crate) fn fire(&self) {
        let key = self.key;
        let _ = self
            .remote
            .run_callback(Box::new(move || hub::fire_signal(key)));
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
