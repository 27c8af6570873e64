//! Channels between greenlets of any hubs, and plain threads: [`bounded`] and [`unbounded`],
//! multi-producer and multi-consumer, with `Send + Sync` and clonable ends.
//!
//! A full `send` or an empty `recv` parks the calling greenlet (its hub runs the others), or
//! blocks the calling thread if that thread has no hub; the other side wakes it through its
//! hub's remote queue. Items cross in a locked queue whose critical sections only move data.
//! A burst of sends to receivers parked on one hub costs that hub one eventfd write, and none
//! while it is busy (see `hub/remote.rs`).
//!
//! ```
//! use greenwood::channel;
//! use greenwood::hubs::Hubs;
//!
//! let hubs = Hubs::new(2)?;
//! let (tx, rx) = channel::bounded(16);
//! let producer = hubs.spawn_on(0, move || {
//!     for i in 0..100 {
//!         tx.send(i).unwrap(); // parks this greenlet while the channel is full
//!     }
//! }); // dropping `tx` closes the channel
//! let consumer = hubs.spawn_on(1, move || rx.iter().sum::<u64>());
//! producer.join();
//! assert_eq!(consumer.take().unwrap(), 4950);
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! [`threadpool::channel`](crate::threadpool::channel) is [`unbounded`] under the name it had
//! when a channel could only go from threads into one hub.

use std::collections::VecDeque;
use std::error::Error;
use std::fmt;
use std::panic::Location;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::hub::remote::XCondvar;
use crate::queue::GetError;

struct Chan<T> {
    state: Mutex<State<T>>,
    /// Receivers wait here for an item (or the last sender to go).
    not_empty: XCondvar,
    /// Senders wait here for room (or the last receiver to go), in a bounded channel.
    not_full: XCondvar,
    /// `None`: unbounded.
    capacity: Option<usize>,
}

struct State<T> {
    items: VecDeque<T>,
    senders: usize,
    receivers: usize,
}

impl<T> Chan<T> {
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn has_room(&self, state: &State<T>) -> bool {
        self.capacity.is_none_or(|c| state.items.len() < c)
    }
}

/// A channel without a bound: `send` never waits.
///
/// # Examples
///
/// ```
/// let (tx, rx) = greenwood::channel::unbounded();
/// let producer = std::thread::spawn(move || {
///     for i in 0..3 {
///         tx.send(i).unwrap();
///     }
/// }); // dropping `tx` closes the channel
/// let got: Vec<i32> = rx.iter().collect(); // greenlets keep running while it waits
/// producer.join().unwrap();
/// assert_eq!(got, [0, 1, 2]);
/// ```
#[track_caller]
pub fn unbounded<T: Send>() -> (Sender<T>, Receiver<T>) {
    make(None, Location::caller())
}

/// A channel that holds at most `capacity` items: `send` waits while it is full.
///
/// # Panics
///
/// If `capacity` is 0: a channel in which every send waits for a receiver (a rendezvous) is
/// not offered; `bounded(1)` is the closest.
///
/// # Examples
///
/// ```
/// use greenwood::channel::{bounded, TrySendError};
///
/// let (tx, rx) = bounded(1);
/// tx.send(1).unwrap();
/// assert_eq!(tx.try_send(2), Err(TrySendError::Full(2)));
/// assert_eq!(rx.recv(), Some(1));
/// assert_eq!(tx.try_send(2), Ok(()));
/// ```
#[track_caller]
pub fn bounded<T: Send>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    assert!(
        capacity > 0,
        "greenwood::channel::bounded(0): a channel needs room for at least one item \
         (rendezvous channels are not offered); use bounded(1)"
    );
    make(Some(capacity), Location::caller())
}

fn make<T>(capacity: Option<usize>, site: &'static Location<'static>) -> (Sender<T>, Receiver<T>) {
    let chan = Arc::new(Chan {
        state: Mutex::new(State {
            items: VecDeque::new(),
            senders: 1,
            receivers: 1,
        }),
        not_empty: XCondvar::new("a channel (to receive)", site),
        not_full: XCondvar::new("a channel (to send)", site),
        capacity,
    });
    (Sender { chan: chan.clone() }, Receiver { chan })
}

/// The sending end of a channel: `Send + Sync`, clonable, usable from any greenlet or thread.
/// The channel closes when the last sender is dropped.
pub struct Sender<T> {
    chan: Arc<Chan<T>>,
}

/// The receiving end of a channel: `Send + Sync`, clonable; each item goes to one receiver.
/// When the last receiver is dropped, the items still queued are dropped and sends fail.
pub struct Receiver<T> {
    chan: Arc<Chan<T>>,
}

/// Every receiver was dropped; the item is given back.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SendError<T>(pub T);

/// Why [`Sender::try_send`] did not send; the item is given back.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum TrySendError<T> {
    /// The channel is full.
    Full(T),
    /// Every receiver was dropped.
    Disconnected(T),
}

/// Why [`Sender::send_timeout`] did not send; the item is given back.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum SendTimeoutError<T> {
    /// The channel stayed full until the timeout.
    Timeout(T),
    /// Every receiver was dropped.
    Disconnected(T),
}

impl<T> TrySendError<T> {
    /// The item that was not sent.
    pub fn into_inner(self) -> T {
        match self {
            TrySendError::Full(t) | TrySendError::Disconnected(t) => t,
        }
    }
}

impl<T> SendTimeoutError<T> {
    /// The item that was not sent.
    pub fn into_inner(self) -> T {
        match self {
            SendTimeoutError::Timeout(t) | SendTimeoutError::Disconnected(t) => t,
        }
    }
}

impl<T> fmt::Debug for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SendError(..)")
    }
}

impl<T> fmt::Display for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("every receiving end of the channel was dropped")
    }
}

impl<T> Error for SendError<T> {}

impl<T> fmt::Debug for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySendError::Full(_) => f.write_str("Full(..)"),
            TrySendError::Disconnected(_) => f.write_str("Disconnected(..)"),
        }
    }
}

impl<T> fmt::Display for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySendError::Full(_) => f.write_str("the channel is full"),
            TrySendError::Disconnected(_) => {
                f.write_str("every receiving end of the channel was dropped")
            }
        }
    }
}

impl<T> Error for TrySendError<T> {}

impl<T> fmt::Debug for SendTimeoutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendTimeoutError::Timeout(_) => f.write_str("Timeout(..)"),
            SendTimeoutError::Disconnected(_) => f.write_str("Disconnected(..)"),
        }
    }
}

impl<T> fmt::Display for SendTimeoutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendTimeoutError::Timeout(_) => {
                f.write_str("the channel stayed full until the timeout")
            }
            SendTimeoutError::Disconnected(_) => {
                f.write_str("every receiving end of the channel was dropped")
            }
        }
    }
}

impl<T> Error for SendTimeoutError<T> {}

/// How long a call may wait.
#[derive(Clone, Copy)]
enum Wait {
    Forever,
    Until(Instant),
    Never,
}

impl Wait {
    fn from(timeout: Duration) -> Wait {
        if timeout.is_zero() {
            return Wait::Never;
        }
        match Instant::now().checked_add(timeout) {
            Some(at) => Wait::Until(at),
            None => Wait::Forever,
        }
    }
}

/// Why a send gave up.
enum SendFailure {
    Full,
    Disconnected,
}

impl<T: Send> Sender<T> {
    /// Sends `item`, parking the current greenlet (or blocking the thread) while a bounded
    /// channel is full.
    ///
    /// # Errors
    ///
    /// [`SendError`], with the item, if every receiver is gone.
    ///
    /// # Panics
    ///
    /// With the interrupts of [`sleep`](crate::sleep), while it waits.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = greenwood::channel::unbounded();
    /// tx.send("hi").unwrap();
    /// assert_eq!(rx.recv(), Some("hi"));
    /// drop(rx);
    /// assert!(tx.send("anyone?").is_err());
    /// ```
    pub fn send(&self, item: T) -> Result<(), SendError<T>> {
        self.send_until(item, Wait::Forever)
            .map_err(|(item, _)| SendError(item))
    }

    /// Sends `item` if there is room now.
    ///
    /// # Errors
    ///
    /// [`TrySendError::Full`] or [`TrySendError::Disconnected`], with the item.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenwood::channel::{bounded, TrySendError};
    ///
    /// let (tx, rx) = bounded(1);
    /// assert_eq!(tx.try_send(1), Ok(()));
    /// assert_eq!(tx.try_send(2), Err(TrySendError::Full(2)));
    /// drop(rx);
    /// assert_eq!(tx.try_send(3), Err(TrySendError::Disconnected(3)));
    /// ```
    pub fn try_send(&self, item: T) -> Result<(), TrySendError<T>> {
        self.send_until(item, Wait::Never)
            .map_err(|(item, why)| match why {
                SendFailure::Full => TrySendError::Full(item),
                SendFailure::Disconnected => TrySendError::Disconnected(item),
            })
    }

    /// Sends `item`, waiting at most `timeout` for room.
    ///
    /// # Errors
    ///
    /// [`SendTimeoutError::Timeout`] or [`SendTimeoutError::Disconnected`], with the item.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use greenwood::channel::{bounded, SendTimeoutError};
    ///
    /// let (tx, _rx) = bounded(1);
    /// tx.send(1).unwrap();
    /// let r = tx.send_timeout(2, Duration::from_millis(5));
    /// assert_eq!(r, Err(SendTimeoutError::Timeout(2)));
    /// ```
    pub fn send_timeout(&self, item: T, timeout: Duration) -> Result<(), SendTimeoutError<T>> {
        self.send_until(item, Wait::from(timeout))
            .map_err(|(item, why)| match why {
                SendFailure::Full => SendTimeoutError::Timeout(item),
                SendFailure::Disconnected => SendTimeoutError::Disconnected(item),
            })
    }

    fn send_until(&self, item: T, wait: Wait) -> Result<(), (T, SendFailure)> {
        let chan = &*self.chan;
        let mut state = chan.lock();
        loop {
            if state.receivers == 0 {
                return Err((item, SendFailure::Disconnected));
            }
            if chan.has_room(&state) {
                state.items.push_back(item);
                drop(state);
                chan.not_empty.notify_one();
                return Ok(());
            }
            let deadline = match wait {
                Wait::Never => return Err((item, SendFailure::Full)),
                Wait::Until(at) if Instant::now() >= at => return Err((item, SendFailure::Full)),
                Wait::Until(at) => Some(at),
                Wait::Forever => None,
            };
            state = chan.not_full.wait_until(&chan.state, state, deadline).0;
        }
    }

    /// Items queued now.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, _rx) = greenwood::channel::unbounded();
    /// tx.send(1).unwrap();
    /// assert_eq!(tx.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.chan.lock().items.len()
    }

    /// Whether no item is queued now.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, _rx) = greenwood::channel::unbounded::<u8>();
    /// assert!(tx.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The channel's bound, `None` if it has none.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, _rx) = greenwood::channel::bounded::<u8>(8);
    /// assert_eq!(tx.capacity(), Some(8));
    /// ```
    pub fn capacity(&self) -> Option<usize> {
        self.chan.capacity
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        self.chan.lock().senders += 1;
        Sender {
            chan: self.chan.clone(),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let mut state = self.chan.lock();
        state.senders -= 1;
        let last = state.senders == 0;
        drop(state);
        if last {
            // Receivers waiting for an item learn that none will come.
            self.chan.not_empty.notify_all();
        }
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("capacity", &self.chan.capacity)
            .field("created_at", &self.chan.not_empty.site())
            .finish()
    }
}

impl<T: Send> Receiver<T> {
    /// Takes the next item, parking the current greenlet (or blocking the thread) until one
    /// arrives; `None` once every sender is gone and the channel is drained.
    ///
    /// # Panics
    ///
    /// With the interrupts of [`sleep`](crate::sleep), while it waits.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = greenwood::channel::unbounded();
    /// std::thread::spawn(move || tx.send(5).unwrap());
    /// assert_eq!(rx.recv(), Some(5));
    /// assert_eq!(rx.recv(), None);
    /// ```
    pub fn recv(&self) -> Option<T> {
        self.recv_until(Wait::Forever).ok()
    }

    /// Takes the next item, waiting at most `timeout`.
    ///
    /// # Errors
    ///
    /// [`GetError::Empty`] after the timeout; [`GetError::ShutDown`] once every sender is gone
    /// and the channel is drained.
    ///
    /// # Examples
    ///
    /// ```
    /// let (_tx, rx) = greenwood::channel::unbounded::<u8>();
    /// assert!(rx.recv_timeout(std::time::Duration::from_millis(1)).is_err());
    /// ```
    pub fn recv_timeout(&self, timeout: Duration) -> Result<T, GetError> {
        self.recv_until(Wait::from(timeout))
    }

    /// Takes the next item if there is one, without waiting.
    ///
    /// # Errors
    ///
    /// As [`recv_timeout`](Receiver::recv_timeout), at once.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenwood::queue::GetError;
    ///
    /// let (tx, rx) = greenwood::channel::unbounded();
    /// tx.send(1).unwrap();
    /// assert_eq!(rx.try_recv(), Ok(1));
    /// assert_eq!(rx.try_recv(), Err(GetError::Empty));
    /// drop(tx);
    /// assert_eq!(rx.try_recv(), Err(GetError::ShutDown));
    /// ```
    pub fn try_recv(&self) -> Result<T, GetError> {
        self.recv_until(Wait::Never)
    }

    fn recv_until(&self, wait: Wait) -> Result<T, GetError> {
        let chan = &*self.chan;
        let mut state = chan.lock();
        loop {
            if let Some(item) = state.items.pop_front() {
                drop(state);
                if chan.capacity.is_some() {
                    chan.not_full.notify_one();
                }
                return Ok(item);
            }
            if state.senders == 0 {
                return Err(GetError::ShutDown);
            }
            let deadline = match wait {
                Wait::Never => return Err(GetError::Empty),
                Wait::Until(at) if Instant::now() >= at => return Err(GetError::Empty),
                Wait::Until(at) => Some(at),
                Wait::Forever => None,
            };
            state = chan.not_empty.wait_until(&chan.state, state, deadline).0;
        }
    }

    /// Items as they arrive, until every sender is gone.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = greenwood::channel::unbounded();
    /// tx.send(1).unwrap();
    /// drop(tx);
    /// assert_eq!(rx.iter().collect::<Vec<_>>(), [1]);
    /// ```
    pub fn iter(&self) -> impl Iterator<Item = T> + '_ {
        std::iter::from_fn(move || self.recv())
    }

    /// Items queued now.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = greenwood::channel::unbounded();
    /// tx.send(1).unwrap();
    /// assert_eq!(rx.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.chan.lock().items.len()
    }

    /// Whether no item is queued now.
    ///
    /// # Examples
    ///
    /// ```
    /// let (_tx, rx) = greenwood::channel::unbounded::<u8>();
    /// assert!(rx.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<T> Clone for Receiver<T> {
    fn clone(&self) -> Self {
        self.chan.lock().receivers += 1;
        Receiver {
            chan: self.chan.clone(),
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        let mut state = self.chan.lock();
        state.receivers -= 1;
        let last = state.receivers == 0;
        // No one will take what is queued: drop it now (unlocked), not when the last sender
        // goes, so what the items hold (sockets, buffers) is freed at once.
        let left = if last {
            std::mem::take(&mut state.items)
        } else {
            VecDeque::new()
        };
        drop(state);
        drop(left);
        if last {
            // Senders waiting for room learn that none will come.
            self.chan.not_full.notify_all();
        }
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("capacity", &self.chan.capacity)
            .field("created_at", &self.chan.not_empty.site())
            .finish()
    }
}
