//! A cross-thread channel: a [`Sender`] any OS thread can use, and a [`Receiver`] that parks
//! greenlets of the thread that made it instead of blocking the hub. Items cross in a locked
//! queue; the wake-up crosses through the hub's remote queue as a signal (`hub/remote.rs`).
//! Public as `greenwood::threadpool::{channel, Sender, Receiver, SendError}`.

use std::collections::VecDeque;
use std::error::Error;
use std::fmt;
use std::panic::Location;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::hub::remote::{Signal, SignalSender};
use crate::queue::GetError;

struct ChanShared<T> {
    queue: Mutex<VecDeque<T>>,
    senders: AtomicUsize,
    receiver_alive: AtomicBool,
}

/// Creates a channel whose [`Sender`] can be used from any thread and whose [`Receiver`]
/// parks greenlets of the current thread cooperatively: a thread sending into a hub.
///
/// # Examples
///
/// ```
/// let (tx, rx) = greenwood::threadpool::channel();
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
pub fn channel<T: Send>() -> (Sender<T>, Receiver<T>) {
    let shared = Arc::new(ChanShared {
        queue: Mutex::new(VecDeque::new()),
        senders: AtomicUsize::new(1),
        receiver_alive: AtomicBool::new(true),
    });
    let signal = Signal::new("a channel", Location::caller());
    let sender = Sender {
        shared: shared.clone(),
        signal: signal.sender(),
    };
    (sender, Receiver { shared, signal })
}

/// The sending end of a [`channel`]: `Send`, clonable, usable from any thread.
pub struct Sender<T> {
    shared: Arc<ChanShared<T>>,
    signal: SignalSender,
}

/// The receiver was dropped; the item is given back.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SendError<T>(pub T);

impl<T> fmt::Debug for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SendError(..)")
    }
}

impl<T> fmt::Display for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the receiving end of the channel was dropped")
    }
}

impl<T> Error for SendError<T> {}

impl<T: Send> Sender<T> {
    /// Sends `item`; never blocks.
    ///
    /// # Errors
    ///
    /// [`SendError`], with the item, if the receiver is gone.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = greenwood::threadpool::channel();
    /// tx.send("hi").unwrap();
    /// assert_eq!(rx.recv(), Some("hi"));
    /// drop(rx);
    /// assert!(tx.send("anyone?").is_err());
    /// ```
    pub fn send(&self, item: T) -> Result<(), SendError<T>> {
        if !self.shared.receiver_alive.load(Ordering::SeqCst) {
            return Err(SendError(item));
        }
        let mut q = self.shared.queue.lock().unwrap_or_else(|e| e.into_inner());
        let was_empty = q.is_empty();
        q.push_back(item);
        drop(q);
        if was_empty {
            self.signal.fire();
        }
        Ok(())
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        self.shared.senders.fetch_add(1, Ordering::SeqCst);
        Sender {
            shared: self.shared.clone(),
            signal: self.signal.clone(),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        if self.shared.senders.fetch_sub(1, Ordering::SeqCst) == 1 {
            // The last sender: wake the receiver so it sees the channel closed.
            self.signal.fire();
        }
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender").finish()
    }
}

/// The receiving end of a [`channel`]; it belongs to the thread that created the channel.
pub struct Receiver<T> {
    shared: Arc<ChanShared<T>>,
    signal: Signal,
}

impl<T> Receiver<T> {
    /// Takes the next item, parking the current greenlet until one arrives; `None` once every
    /// sender is gone and the channel is drained.
    ///
    /// # Panics
    ///
    /// With the interrupts of [`sleep`](crate::sleep).
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = greenwood::threadpool::channel();
    /// std::thread::spawn(move || tx.send(5).unwrap());
    /// assert_eq!(rx.recv(), Some(5));
    /// assert_eq!(rx.recv(), None);
    /// ```
    pub fn recv(&self) -> Option<T> {
        self.recv_until(None).ok()
    }

    /// Takes the next item, waiting at most `timeout`.
    ///
    /// # Errors
    ///
    /// [`GetError::Empty`](GetError::Empty) after the timeout;
    /// [`GetError::ShutDown`](GetError::ShutDown) once every sender is gone
    /// and the channel is drained.
    ///
    /// # Examples
    ///
    /// ```
    /// let (_tx, rx) = greenwood::threadpool::channel::<u8>();
    /// assert!(rx.recv_timeout(std::time::Duration::from_millis(1)).is_err());
    /// ```
    pub fn recv_timeout(&self, timeout: Duration) -> Result<T, GetError> {
        self.recv_until(Some(timeout))
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
    /// let (tx, rx) = greenwood::threadpool::channel();
    /// tx.send(1).unwrap();
    /// assert_eq!(rx.try_recv(), Ok(1));
    /// ```
    pub fn try_recv(&self) -> Result<T, GetError> {
        self.recv_until(Some(Duration::ZERO))
    }

    fn recv_until(&self, timeout: Option<Duration>) -> Result<T, GetError> {
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        loop {
            // Clear first: a send that lands after the check fires the event again.
            self.signal.lower();
            if let Some(item) = self
                .shared
                .queue
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .pop_front()
            {
                return Ok(item);
            }
            if self.shared.senders.load(Ordering::SeqCst) == 0 {
                return Err(GetError::ShutDown);
            }
            let left = match (timeout, deadline) {
                (Some(_), Some(d)) => Some(d.saturating_duration_since(Instant::now())),
                _ => None,
            };
            if left == Some(Duration::ZERO) {
                return Err(GetError::Empty);
            }
            // Other threads may still send: waiting is not a deadlock.
            let _hold = self.signal.hold();
            self.signal.wait(left); // loops back to check
        }
    }

    /// Items as they arrive, until every sender is gone.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = greenwood::threadpool::channel();
    /// tx.send(1).unwrap();
    /// drop(tx);
    /// assert_eq!(rx.iter().collect::<Vec<_>>(), [1]);
    /// ```
    pub fn iter(&self) -> impl Iterator<Item = T> + '_ {
        std::iter::from_fn(move || self.recv())
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        self.shared.receiver_alive.store(false, Ordering::SeqCst);
        // Items already sent are dropped with the queue when the last sender goes.
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver").finish()
    }
}
