//! Synchronisation across hubs: an [`Event`] and a [`Semaphore`] that greenlets of any hub and
//! plain threads share, with the semantics of their one-hub namesakes in
//! [`event`](crate::event) and [`lock`](crate::lock).

use std::fmt;
use std::panic::Location;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::error::Elapsed;
use crate::hub::remote::XCondvar;

struct EventInner {
    set: Mutex<bool>,
    waiters: XCondvar,
}

/// A flag that greenlets on any hub, and threads, wait for: gevent's `Event`, `Send + Sync`
/// and clonable (clones share the flag).
///
/// # Examples
///
/// ```
/// use greenwood::hubs::{Event, Hubs};
///
/// let hubs = Hubs::new(2)?;
/// let ready = Event::new();
/// let waiter = {
///     let ready = ready.clone();
///     hubs.spawn_on(0, move || { ready.wait(); "released" })
/// };
/// hubs.spawn_on(1, move || ready.set()).join();
/// assert_eq!(waiter.take().unwrap(), "released");
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone)]
pub struct Event {
    inner: Arc<EventInner>,
}

impl Event {
    /// A new, unset event; the call site appears in the run info of greenlets waiting on it.
    #[track_caller]
    pub fn new() -> Event {
        Event {
            inner: Arc::new(EventInner {
                set: Mutex::new(false),
                waiters: XCondvar::new("a cross-hub Event", Location::caller()),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, bool> {
        self.inner.set.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sets the flag and wakes every waiter, on every hub.
    pub fn set(&self) {
        *self.lock() = true;
        self.inner.waiters.notify_all();
    }

    /// Clears the flag: later waits wait again.
    pub fn clear(&self) {
        *self.lock() = false;
    }

    /// Whether the flag is set.
    pub fn is_set(&self) -> bool {
        *self.lock()
    }

    /// Waits until the flag is set.
    ///
    /// # Panics
    ///
    /// With the interrupts of [`sleep`](crate::sleep), while it waits.
    pub fn wait(&self) {
        self.wait_until(None);
    }

    /// Waits at most `timeout` for the flag.
    ///
    /// # Errors
    ///
    /// [`Elapsed`] if it was not set by then.
    ///
    /// # Examples
    ///
    /// ```
    /// let e = greenwood::hubs::Event::new();
    /// assert!(e.wait_timeout(std::time::Duration::from_millis(2)).is_err());
    /// e.set();
    /// assert!(e.wait_timeout(std::time::Duration::from_millis(2)).is_ok());
    /// ```
    #[track_caller]
    pub fn wait_timeout(&self, timeout: Duration) -> Result<(), Elapsed> {
        Elapsed::check(
            self.wait_until(Instant::now().checked_add(timeout)),
            timeout,
        )
    }

    fn wait_until(&self, deadline: Option<Instant>) -> bool {
        let mut set = self.lock();
        while !*set {
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return false;
            }
            set = self
                .inner
                .waiters
                .wait_until(&self.inner.set, set, deadline)
                .0;
        }
        true
    }
}

impl Default for Event {
    #[track_caller]
    fn default() -> Event {
        Event::new()
    }
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Event")
            .field("set", &self.is_set())
            .field("created_at", &self.inner.waiters.site())
            .finish()
    }
}

struct SemaphoreInner {
    permits: Mutex<usize>,
    waiters: XCondvar,
}

/// A counting semaphore shared by greenlets on any hub and threads: `Send + Sync`, clonable
/// (clones share the permits). An acquired permit is a guard, released when dropped, on
/// whatever thread drops it.
///
/// # Examples
///
/// ```
/// use greenwood::hubs::{Hubs, Semaphore};
///
/// let hubs = Hubs::new(2)?;
/// let db = Semaphore::new(3); // at most three queries at once, across both hubs
/// let gs: Vec<_> = (0..10)
///     .map(|_| {
///         let db = db.clone();
///         hubs.spawn(move || {
///             let _permit = db.acquire();
///             greenwood::sleep(std::time::Duration::from_millis(1)); // the query
///         })
///     })
///     .collect();
/// gs.iter().for_each(|g| g.join());
/// assert_eq!(db.available_permits(), 3);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone)]
pub struct Semaphore {
    inner: Arc<SemaphoreInner>,
}

/// A permit of a cross-hub [`Semaphore`], given back when dropped.
#[must_use = "the permit is given back at once if it is not kept"]
pub struct SemaphorePermit {
    semaphore: Semaphore,
}

impl Semaphore {
    /// A semaphore with `permits` permits.
    #[track_caller]
    pub fn new(permits: usize) -> Semaphore {
        Semaphore {
            inner: Arc::new(SemaphoreInner {
                permits: Mutex::new(permits),
                waiters: XCondvar::new("a cross-hub Semaphore", Location::caller()),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, usize> {
        self.inner.permits.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes a permit, waiting for one.
    ///
    /// # Panics
    ///
    /// With the interrupts of [`sleep`](crate::sleep), while it waits.
    pub fn acquire(&self) -> SemaphorePermit {
        match self.acquire_until(None) {
            Some(p) => p,
            None => unreachable!("a wait without a deadline ends with a permit"),
        }
    }

    /// Takes a permit if one is free now.
    ///
    /// # Examples
    ///
    /// ```
    /// let s = greenwood::hubs::Semaphore::new(1);
    /// let p = s.try_acquire().unwrap();
    /// assert!(s.try_acquire().is_none());
    /// drop(p);
    /// assert!(s.try_acquire().is_some());
    /// ```
    pub fn try_acquire(&self) -> Option<SemaphorePermit> {
        let mut permits = self.lock();
        if *permits == 0 {
            return None;
        }
        *permits -= 1;
        Some(SemaphorePermit {
            semaphore: self.clone(),
        })
    }

    /// Takes a permit, waiting at most `timeout`.
    ///
    /// # Errors
    ///
    /// [`Elapsed`] if none was free by then.
    #[track_caller]
    pub fn acquire_timeout(&self, timeout: Duration) -> Result<SemaphorePermit, Elapsed> {
        let deadline = Instant::now().checked_add(timeout);
        self.acquire_until(deadline)
            .ok_or_else(|| Elapsed::waiting(timeout))
    }

    fn acquire_until(&self, deadline: Option<Instant>) -> Option<SemaphorePermit> {
        let mut permits = self.lock();
        while *permits == 0 {
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return None;
            }
            permits = self
                .inner
                .waiters
                .wait_until(&self.inner.permits, permits, deadline)
                .0;
        }
        *permits -= 1;
        Some(SemaphorePermit {
            semaphore: self.clone(),
        })
    }

    /// Adds a permit (one that was never acquired, or one given back by
    /// [`SemaphorePermit::forget`]), waking a waiter.
    pub fn release(&self) {
        *self.lock() += 1;
        self.inner.waiters.notify_one();
    }

    /// Permits free now.
    pub fn available_permits(&self) -> usize {
        *self.lock()
    }
}

impl SemaphorePermit {
    /// Keeps the permit taken: it is not given back when dropped (use
    /// [`Semaphore::release`] to add it back later).
    pub fn forget(self) {
        std::mem::forget(self);
    }
}

impl Drop for SemaphorePermit {
    fn drop(&mut self) {
        self.semaphore.release();
    }
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Semaphore")
            .field("available", &self.available_permits())
            .field("created_at", &self.inner.waiters.site())
            .finish()
    }
}

impl fmt::Debug for SemaphorePermit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SemaphorePermit").finish()
    }
}
