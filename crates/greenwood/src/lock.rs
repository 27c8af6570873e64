//! Locks: `Semaphore`, `BoundedSemaphore`, `Lock`, `RLock` (gevent's `gevent.lock`).
//!
//! Permits are handed to waiters in the order they came (see `hub/handoff.rs`): `release` gives
//! the permit straight to the oldest waiter, so a greenlet arriving meanwhile cannot take it
//! first, and a waiter that is killed or times out never takes a permit with it.

use std::cell::Cell;
use std::error::Error;
use std::fmt;
use std::panic::Location;
use std::rc::Rc;
use std::time::Duration;

use crate::error::Elapsed;
use crate::hub::handoff::HandOff;
use crate::hub::links::Links;
use crate::hub::task::{self, WaitOn};
use crate::LinkId;

struct SemInner {
    permits: Cell<usize>,
    /// `Some(n)` for a bounded semaphore: at most `n` permits.
    bound: Option<usize>,
    waiters: HandOff<()>,
    /// `rawlink` callbacks, run when a permit is free.
    links: Links<Semaphore>,
    kind: &'static str,
    site: &'static Location<'static>,
}

impl SemInner {
    fn try_acquire(&self) -> bool {
        // Permits are only ever free while nobody waits: `release` hands them to waiters
        // first. So taking a free one never jumps the queue.
        let p = self.permits.get();
        if p > 0 {
            self.permits.set(p - 1);
            true
        } else {
            false
        }
    }

    fn acquire(&self, timeout: Option<Duration>) -> bool {
        if self.try_acquire() {
            return true;
        }
        if timeout == Some(Duration::ZERO) {
            return false;
        }
        self.waiters
            .wait(WaitOn::Object(self.kind, self.site), timeout)
            .is_some()
    }

    fn release(self: &Rc<SemInner>) -> Result<(), ReleaseError> {
        if let Err(()) = self.waiters.give(()) {
            let p = self.permits.get() + 1;
            if let Some(bound) = self.bound {
                if p > bound {
                    return Err(ReleaseError {
                        what: self.kind,
                        site: self.site,
                    });
                }
            }
            self.permits.set(p);
            self.fire_links();
        }
        Ok(())
    }

    /// Runs the links, with a permit free.
    fn fire_links(self: &Rc<SemInner>) {
        if self.links.len() > 0 {
            let sem = Semaphore {
                inner: self.clone(),
            };
            self.links.fire(&sem, self.kind, |s| &s.inner.links);
        }
    }
}

/// Released more often than acquired: a [`BoundedSemaphore`] past its bound, a [`Lock`] that
/// is not locked, or an [`RLock`] the caller does not hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReleaseError {
    what: &'static str,
    site: &'static Location<'static>,
}

impl fmt::Display for ReleaseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} created at {} was released more times than it was acquired",
            self.what, self.site
        )
    }
}

impl Error for ReleaseError {}

/// A counting semaphore: at most `n` greenlets hold a permit at once; the others wait, and
/// are served in the order they came.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use greenwood::lock::Semaphore;
///
/// let downloads = Semaphore::new(2); // at most two at a time
/// let gs: Vec<_> = (0..6)
///     .map(|_| {
///         let downloads = downloads.clone();
///         greenwood::spawn(move || {
///             let _permit = downloads.acquire();
///             greenwood::sleep(Duration::from_millis(5));
///         })
///     })
///     .collect();
/// greenwood::joinall(&gs);
/// assert_eq!(downloads.available_permits(), 2);
/// ```
#[derive(Clone)]
pub struct Semaphore {
    inner: Rc<SemInner>,
}

/// A permit of a [`Semaphore`] (or [`BoundedSemaphore`]); released when dropped.
#[must_use = "the permit is released as soon as the guard is dropped"]
pub struct SemaphoreGuard {
    /// `None` once forgotten.
    sem: Option<Rc<SemInner>>,
}

impl Drop for SemaphoreGuard {
    fn drop(&mut self) {
        // A guard stands for a permit it acquired: releasing it cannot pass a bound.
        if let Some(sem) = self.sem.take() {
            let _ = sem.release();
        }
    }
}

impl fmt::Debug for SemaphoreGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("SemaphoreGuard");
        if let Some(sem) = &self.sem {
            d.field("of", &sem.kind).field("created_at", &sem.site);
        }
        d.finish()
    }
}

impl SemaphoreGuard {
    /// Keeps the permit: it is not released when the guard goes away (release it later with
    /// [`Semaphore::release`]).
    ///
    /// # Examples
    ///
    /// ```
    /// let s = greenwood::lock::Semaphore::new(1);
    /// s.acquire().forget();
    /// assert_eq!(s.available_permits(), 0);
    /// s.release();
    /// assert_eq!(s.available_permits(), 1);
    /// ```
    pub fn forget(mut self) {
        self.sem = None;
    }
}

impl Semaphore {
    /// A semaphore with `permits` permits.
    ///
    /// # Examples
    ///
    /// ```
    /// let s = greenwood::lock::Semaphore::new(3);
    /// assert_eq!(s.available_permits(), 3);
    /// ```
    #[track_caller]
    pub fn new(permits: usize) -> Semaphore {
        Semaphore::with(permits, None, "Semaphore", Location::caller())
    }

    fn with(
        permits: usize,
        bound: Option<usize>,
        kind: &'static str,
        site: &'static Location<'static>,
    ) -> Semaphore {
        Semaphore {
            inner: Rc::new(SemInner {
                permits: Cell::new(permits),
                bound,
                waiters: HandOff::default(),
                links: Links::default(),
                kind,
                site,
            }),
        }
    }

    /// Takes a permit, waiting for one if there is none (behind every greenlet already
    /// waiting).
    ///
    /// # Panics
    ///
    /// With `LoopExit`'s message if no permit can ever come back, and with the interrupts of
    /// [`sleep`](crate::sleep); an interrupted acquire takes no permit.
    ///
    /// # Examples
    ///
    /// ```
    /// let s = greenwood::lock::Semaphore::new(1);
    /// let permit = s.acquire();
    /// assert!(s.try_acquire().is_none());
    /// drop(permit);
    /// assert!(s.try_acquire().is_some());
    /// ```
    pub fn acquire(&self) -> SemaphoreGuard {
        self.inner.acquire(None);
        self.guard()
    }

    /// Takes a permit if one is free, without waiting.
    ///
    /// # Examples
    ///
    /// ```
    /// let s = greenwood::lock::Semaphore::new(0);
    /// assert!(s.try_acquire().is_none());
    /// ```
    pub fn try_acquire(&self) -> Option<SemaphoreGuard> {
        self.inner.try_acquire().then(|| self.guard())
    }

    /// Takes a permit, waiting at most `timeout`.
    ///
    /// # Errors
    ///
    /// [`Elapsed`] if no permit came in time.
    ///
    /// # Examples
    ///
    /// ```
    /// let s = greenwood::lock::Semaphore::new(0);
    /// assert!(s.acquire_timeout(std::time::Duration::from_millis(1)).is_err());
    /// ```
    #[track_caller]
    pub fn acquire_timeout(&self, timeout: Duration) -> Result<SemaphoreGuard, Elapsed> {
        Elapsed::check(self.inner.acquire(Some(timeout)), timeout)?;
        Ok(self.guard())
    }

    fn guard(&self) -> SemaphoreGuard {
        SemaphoreGuard {
            sem: Some(self.inner.clone()),
        }
    }

    /// Adds a permit, giving it to the oldest waiter if any (for permits taken with
    /// [`SemaphoreGuard::forget`], or gevent-style manual use).
    ///
    /// # Examples
    ///
    /// ```
    /// let s = greenwood::lock::Semaphore::new(0);
    /// s.release();
    /// assert_eq!(s.available_permits(), 1);
    /// ```
    pub fn release(&self) {
        let _ = self.inner.release();
    }

    /// Calls `f` on the hub once a permit is free: in a turn after the `release` that
    /// frees one (a permit handed straight to a waiting greenlet is not free), or after this
    /// call if one is free now. gevent's `rawlink`. The link takes no permit itself, runs
    /// once, and must not block.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::{cell::Cell, rc::Rc};
    ///
    /// let s = greenwood::lock::Semaphore::new(1);
    /// let permit = s.acquire();
    /// let free = Rc::new(Cell::new(0));
    /// let f = free.clone();
    /// s.rawlink(move |s| f.set(s.available_permits()));
    /// drop(permit);
    /// greenwood::sleep(std::time::Duration::ZERO);
    /// assert_eq!(free.get(), 1);
    /// ```
    pub fn rawlink(&self, f: impl FnOnce(&Semaphore) + 'static) -> LinkId {
        let id = self.inner.links.add(Box::new(f));
        if self.inner.permits.get() > 0 {
            self.inner.fire_links();
        }
        id
    }

    /// Removes a link that has not run; true if it was removed.
    ///
    /// # Examples
    ///
    /// ```
    /// let s = greenwood::lock::Semaphore::new(0);
    /// let id = s.rawlink(|_| unreachable!());
    /// assert!(s.unlink(id));
    /// s.release();
    /// greenwood::sleep(std::time::Duration::ZERO);
    /// ```
    pub fn unlink(&self, id: LinkId) -> bool {
        self.inner.links.remove(id)
    }

    /// Links waiting to run.
    ///
    /// # Examples
    ///
    /// ```
    /// let s = greenwood::lock::Semaphore::new(0);
    /// s.rawlink(|_| ());
    /// assert_eq!(s.linkcount(), 1);
    /// ```
    pub fn linkcount(&self) -> usize {
        self.inner.links.len()
    }

    /// Permits free now.
    ///
    /// # Examples
    ///
    /// ```
    /// let s = greenwood::lock::Semaphore::new(2);
    /// let _p = s.acquire();
    /// assert_eq!(s.available_permits(), 1);
    /// ```
    pub fn available_permits(&self) -> usize {
        self.inner.permits.get()
    }

    /// Whether no permit is free (gevent's `locked()`).
    ///
    /// # Examples
    ///
    /// ```
    /// let s = greenwood::lock::Semaphore::new(1);
    /// let _p = s.acquire();
    /// assert!(s.locked());
    /// ```
    pub fn locked(&self) -> bool {
        self.inner.permits.get() == 0
    }

    /// Greenlets waiting for a permit.
    ///
    /// # Examples
    ///
    /// ```
    /// let s = greenwood::lock::Semaphore::new(1);
    /// assert_eq!(s.waiters(), 0);
    /// ```
    pub fn waiters(&self) -> usize {
        self.inner.waiters.len()
    }
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct(self.inner.kind)
            .field("permits", &self.inner.permits.get())
            .field("waiters", &self.inner.waiters.len())
            .field("created_at", &self.inner.site)
            .finish()
    }
}

/// A [`Semaphore`] that refuses to be released past the number of permits it started with:
/// releasing more than was acquired is a bug, and says so.
///
/// # Examples
///
/// ```
/// let s = greenwood::lock::BoundedSemaphore::new(1);
/// assert!(s.release().is_err()); // nothing was acquired
/// let p = s.acquire();
/// drop(p);
/// assert_eq!(s.available_permits(), 1);
/// ```
#[derive(Clone, Debug)]
pub struct BoundedSemaphore {
    sem: Semaphore,
}

impl BoundedSemaphore {
    /// A bounded semaphore with `permits` permits, at most.
    ///
    /// # Examples
    ///
    /// ```
    /// let s = greenwood::lock::BoundedSemaphore::new(2);
    /// assert_eq!(s.available_permits(), 2);
    /// ```
    #[track_caller]
    pub fn new(permits: usize) -> BoundedSemaphore {
        BoundedSemaphore {
            sem: Semaphore::with(
                permits,
                Some(permits),
                "BoundedSemaphore",
                Location::caller(),
            ),
        }
    }

    /// As [`Semaphore::acquire`].
    ///
    /// # Examples
    ///
    /// ```
    /// let s = greenwood::lock::BoundedSemaphore::new(1);
    /// let _p = s.acquire();
    /// assert!(s.locked());
    /// ```
    pub fn acquire(&self) -> SemaphoreGuard {
        self.sem.acquire()
    }

    /// As [`Semaphore::try_acquire`].
    ///
    /// # Examples
    ///
    /// ```
    /// let s = greenwood::lock::BoundedSemaphore::new(1);
    /// assert!(s.try_acquire().is_some());
    /// ```
    pub fn try_acquire(&self) -> Option<SemaphoreGuard> {
        self.sem.try_acquire()
    }

    /// As [`Semaphore::acquire_timeout`].
    ///
    /// # Examples
    ///
    /// ```
    /// let s = greenwood::lock::BoundedSemaphore::new(0);
    /// assert!(s.acquire_timeout(std::time::Duration::from_millis(1)).is_err());
    /// ```
    #[track_caller]
    pub fn acquire_timeout(&self, timeout: Duration) -> Result<SemaphoreGuard, Elapsed> {
        self.sem.acquire_timeout(timeout)
    }

    /// Adds a permit back (for a forgotten guard).
    ///
    /// # Errors
    ///
    /// [`ReleaseError`] if every permit is already free.
    ///
    /// # Examples
    ///
    /// ```
    /// let s = greenwood::lock::BoundedSemaphore::new(1);
    /// s.acquire().forget();
    /// assert!(s.release().is_ok());
    /// assert!(s.release().is_err());
    /// ```
    pub fn release(&self) -> Result<(), ReleaseError> {
        self.sem.inner.release()
    }

    /// As [`Semaphore::available_permits`].
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(greenwood::lock::BoundedSemaphore::new(4).available_permits(), 4);
    /// ```
    pub fn available_permits(&self) -> usize {
        self.sem.available_permits()
    }

    /// As [`Semaphore::locked`].
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(greenwood::lock::BoundedSemaphore::new(0).locked());
    /// ```
    pub fn locked(&self) -> bool {
        self.sem.locked()
    }

    /// As [`Semaphore::rawlink`]: `f` runs on the hub once a permit is free.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::{cell::Cell, rc::Rc};
    ///
    /// let s = greenwood::lock::BoundedSemaphore::new(1);
    /// let permit = s.acquire();
    /// let ran = Rc::new(Cell::new(false));
    /// let r = ran.clone();
    /// s.rawlink(move |s| r.set(!s.locked()));
    /// drop(permit);
    /// greenwood::sleep(std::time::Duration::ZERO);
    /// assert!(ran.get());
    /// ```
    pub fn rawlink(&self, f: impl FnOnce(&BoundedSemaphore) + 'static) -> LinkId {
        self.sem
            .rawlink(move |sem| f(&BoundedSemaphore { sem: sem.clone() }))
    }

    /// As [`Semaphore::unlink`].
    ///
    /// # Examples
    ///
    /// ```
    /// let s = greenwood::lock::BoundedSemaphore::new(0);
    /// let id = s.rawlink(|_| unreachable!());
    /// assert!(s.unlink(id) && !s.unlink(id));
    /// ```
    pub fn unlink(&self, id: LinkId) -> bool {
        self.sem.unlink(id)
    }

    /// As [`Semaphore::linkcount`].
    ///
    /// # Examples
    ///
    /// ```
    /// let s = greenwood::lock::BoundedSemaphore::new(0);
    /// s.rawlink(|_| ());
    /// assert_eq!(s.linkcount(), 1);
    /// ```
    pub fn linkcount(&self) -> usize {
        self.sem.linkcount()
    }
}

/// A mutual-exclusion lock for greenlets (a bounded semaphore of one): held across blocking
/// calls, it keeps other greenlets out of a critical section that yields.
///
/// # Examples
///
/// ```
/// use std::{cell::RefCell, rc::Rc, time::Duration};
/// use greenwood::lock::Lock;
///
/// let lock = Lock::new();
/// let log = Rc::new(RefCell::new(Vec::new()));
/// let gs: Vec<_> = (0..2)
///     .map(|i| {
///         let (lock, log) = (lock.clone(), log.clone());
///         greenwood::spawn(move || {
///             let _held = lock.acquire();
///             log.borrow_mut().push(format!("{i} in"));
///             greenwood::sleep(Duration::from_millis(1)); // still inside
///             log.borrow_mut().push(format!("{i} out"));
///         })
///     })
///     .collect();
/// greenwood::joinall(&gs);
/// assert_eq!(*log.borrow(), ["0 in", "0 out", "1 in", "1 out"]);
/// ```
#[derive(Clone, Debug)]
pub struct Lock {
    sem: BoundedSemaphore,
}

impl Default for Lock {
    #[track_caller]
    fn default() -> Self {
        Lock::new()
    }
}

impl Lock {
    /// An unlocked lock.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!greenwood::lock::Lock::new().locked());
    /// ```
    #[track_caller]
    pub fn new() -> Lock {
        Lock {
            sem: BoundedSemaphore {
                sem: Semaphore::with(1, Some(1), "Lock", Location::caller()),
            },
        }
    }

    /// Takes the lock, waiting for it if another greenlet holds it.
    ///
    /// # Panics
    ///
    /// As [`Semaphore::acquire`]: a greenlet that takes a lock it already holds waits
    /// forever, which `LoopExit` reports if nothing else can run (use [`RLock`] to re-enter).
    ///
    /// # Examples
    ///
    /// ```
    /// let l = greenwood::lock::Lock::new();
    /// let held = l.acquire();
    /// assert!(l.locked());
    /// drop(held);
    /// assert!(!l.locked());
    /// ```
    pub fn acquire(&self) -> SemaphoreGuard {
        self.sem.acquire()
    }

    /// Takes the lock if it is free.
    ///
    /// # Examples
    ///
    /// ```
    /// let l = greenwood::lock::Lock::new();
    /// let _held = l.try_acquire().unwrap();
    /// assert!(l.try_acquire().is_none());
    /// ```
    pub fn try_acquire(&self) -> Option<SemaphoreGuard> {
        self.sem.try_acquire()
    }

    /// Takes the lock, waiting at most `timeout`.
    ///
    /// # Examples
    ///
    /// ```
    /// let l = greenwood::lock::Lock::new();
    /// let _held = l.acquire();
    /// assert!(l.acquire_timeout(std::time::Duration::from_millis(1)).is_err());
    /// ```
    #[track_caller]
    pub fn acquire_timeout(&self, timeout: Duration) -> Result<SemaphoreGuard, Elapsed> {
        self.sem.acquire_timeout(timeout)
    }

    /// Unlocks a lock whose guard was forgotten.
    ///
    /// # Errors
    ///
    /// [`ReleaseError`] if it is not locked.
    ///
    /// # Examples
    ///
    /// ```
    /// let l = greenwood::lock::Lock::new();
    /// assert!(l.release().is_err());
    /// ```
    pub fn release(&self) -> Result<(), ReleaseError> {
        self.sem.release()
    }

    /// Whether some greenlet holds it.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!greenwood::lock::Lock::new().locked());
    /// ```
    pub fn locked(&self) -> bool {
        self.sem.locked()
    }

    /// Calls `f` on the hub once the lock is free (at once, in the hub's next turn, if it is
    /// free now): gevent's `Lock.rawlink`. One-shot; `f` must not block.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::{cell::Cell, rc::Rc};
    ///
    /// let lock = greenwood::lock::Lock::new();
    /// let held = lock.acquire();
    /// let freed = Rc::new(Cell::new(false));
    /// let f = freed.clone();
    /// lock.rawlink(move |l| f.set(!l.locked()));
    /// greenwood::sleep(std::time::Duration::ZERO);
    /// assert!(!freed.get(), "still held");
    /// drop(held);
    /// greenwood::sleep(std::time::Duration::ZERO);
    /// assert!(freed.get());
    /// ```
    pub fn rawlink(&self, f: impl FnOnce(&Lock) + 'static) -> LinkId {
        self.sem.rawlink(move |sem| f(&Lock { sem: sem.clone() }))
    }

    /// Removes a link that has not run; true if it was removed.
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = greenwood::lock::Lock::new();
    /// let _held = lock.acquire();
    /// let id = lock.rawlink(|_| unreachable!());
    /// assert!(lock.unlink(id));
    /// ```
    pub fn unlink(&self, id: LinkId) -> bool {
        self.sem.unlink(id)
    }

    /// Links waiting to run.
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = greenwood::lock::Lock::new();
    /// let _held = lock.acquire();
    /// lock.rawlink(|_| ());
    /// assert_eq!(lock.linkcount(), 1);
    /// ```
    pub fn linkcount(&self) -> usize {
        self.sem.linkcount()
    }
}

/// A lock the greenlet holding it can take again (re-entrant); it is free once released as
/// many times as it was taken. Releasing an `RLock` you do not hold is an error.
///
/// # Examples
///
/// ```
/// let l = greenwood::lock::RLock::new();
/// let outer = l.acquire();
/// let inner = l.acquire(); // the same greenlet: no deadlock
/// drop(inner);
/// assert!(l.locked());
/// drop(outer);
/// assert!(!l.locked());
/// ```
#[derive(Clone)]
pub struct RLock {
    inner: Rc<RLockInner>,
}

struct RLockInner {
    lock: Semaphore,
    owner: Cell<Option<u64>>,
    count: Cell<usize>,
}

/// A hold on an [`RLock`]; released when dropped.
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct RLockGuard {
    /// `None` once forgotten.
    inner: Option<Rc<RLockInner>>,
}

impl RLockGuard {
    /// Keeps the hold: it is not released when the guard goes away (release it later with
    /// [`RLock::release`]).
    ///
    /// # Examples
    ///
    /// ```
    /// let l = greenwood::lock::RLock::new();
    /// l.acquire().forget();
    /// assert!(l.locked());
    /// l.release().unwrap();
    /// assert!(!l.locked());
    /// ```
    pub fn forget(mut self) {
        self.inner = None;
    }
}

impl Default for RLock {
    #[track_caller]
    fn default() -> Self {
        RLock::new()
    }
}

fn current_id() -> u64 {
    task::current().id.get()
}

impl RLock {
    /// An unlocked re-entrant lock.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!greenwood::lock::RLock::new().locked());
    /// ```
    #[track_caller]
    pub fn new() -> RLock {
        RLock {
            inner: Rc::new(RLockInner {
                lock: Semaphore::with(1, Some(1), "RLock", Location::caller()),
                owner: Cell::new(None),
                count: Cell::new(0),
            }),
        }
    }

    /// Takes the lock, or takes it once more if the current greenlet holds it.
    ///
    /// # Panics
    ///
    /// As [`Semaphore::acquire`].
    ///
    /// # Examples
    ///
    /// ```
    /// let l = greenwood::lock::RLock::new();
    /// let _a = l.acquire();
    /// let _b = l.acquire();
    /// ```
    pub fn acquire(&self) -> RLockGuard {
        let me = current_id();
        if self.inner.owner.get() != Some(me) {
            self.inner.lock.acquire().forget();
            self.inner.owner.set(Some(me));
        }
        self.hold()
    }

    /// Takes the lock if it is free (or held by the current greenlet: once more), without
    /// waiting; `None` if another greenlet holds it. gevent's `acquire(blocking=False)`.
    ///
    /// # Examples
    ///
    /// ```
    /// let l = greenwood::lock::RLock::new();
    /// let a = l.try_acquire().unwrap();
    /// let b = l.try_acquire().unwrap(); // re-entrant
    /// let l2 = l.clone();
    /// assert!(greenwood::spawn(move || l2.try_acquire().is_none()).get().unwrap());
    /// drop((a, b));
    /// assert!(!l.locked());
    /// ```
    pub fn try_acquire(&self) -> Option<RLockGuard> {
        let me = current_id();
        if self.inner.owner.get() != Some(me) {
            self.inner.lock.try_acquire()?.forget();
            self.inner.owner.set(Some(me));
        }
        Some(self.hold())
    }

    /// Takes the lock (once more, if the current greenlet holds it), waiting at most
    /// `timeout` for another holder to let go. gevent's `acquire(timeout=...)`.
    ///
    /// # Errors
    ///
    /// [`Elapsed`] if another greenlet still holds it by then.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let l = greenwood::lock::RLock::new();
    /// let held = l.acquire();
    /// let l2 = l.clone();
    /// let other = greenwood::spawn(move || l2.acquire_timeout(Duration::from_millis(2)).is_err());
    /// assert!(other.get().unwrap()); // it gave up
    /// assert!(l.acquire_timeout(Duration::ZERO).is_ok()); // the holder: at once
    /// drop(held);
    /// ```
    #[track_caller]
    pub fn acquire_timeout(&self, timeout: Duration) -> Result<RLockGuard, Elapsed> {
        let me = current_id();
        if self.inner.owner.get() != Some(me) {
            self.inner.lock.acquire_timeout(timeout)?.forget();
            self.inner.owner.set(Some(me));
        }
        Ok(self.hold())
    }

    /// One more hold by the current greenlet, which owns the lock.
    fn hold(&self) -> RLockGuard {
        self.inner.count.set(self.inner.count.get() + 1);
        RLockGuard {
            inner: Some(self.inner.clone()),
        }
    }

    /// Releases one hold of a lock whose guard was forgotten.
    ///
    /// # Errors
    ///
    /// [`ReleaseError`] if the current greenlet does not hold it.
    ///
    /// # Examples
    ///
    /// ```
    /// let l = greenwood::lock::RLock::new();
    /// assert!(l.release().is_err());
    /// l.acquire().forget();
    /// assert!(l.release().is_ok());
    /// ```
    pub fn release(&self) -> Result<(), ReleaseError> {
        release_rlock(&self.inner, current_id())
    }

    /// Whether some greenlet holds it.
    ///
    /// # Examples
    ///
    /// ```
    /// let l = greenwood::lock::RLock::new();
    /// let _g = l.acquire();
    /// assert!(l.locked());
    /// ```
    pub fn locked(&self) -> bool {
        self.inner.owner.get().is_some()
    }

    /// Whether the current greenlet holds it.
    ///
    /// # Examples
    ///
    /// ```
    /// let l = greenwood::lock::RLock::new();
    /// let _g = l.acquire();
    /// assert!(l.held_by_current());
    /// let l2 = l.clone();
    /// assert!(!greenwood::spawn(move || l2.held_by_current()).get().unwrap());
    /// ```
    pub fn held_by_current(&self) -> bool {
        self.inner.owner.get() == Some(current_id())
    }
}

fn release_rlock(inner: &RLockInner, me: u64) -> Result<(), ReleaseError> {
    if inner.owner.get() != Some(me) {
        return Err(ReleaseError {
            what: "RLock",
            site: inner.lock.inner.site,
        });
    }
    let n = inner.count.get() - 1;
    inner.count.set(n);
    if n == 0 {
        inner.owner.set(None);
        inner.lock.release();
    }
    Ok(())
}

impl Drop for RLockGuard {
    fn drop(&mut self) {
        // The guard was made by the owner; a guard moved to another greenlet still releases
        // the owner's hold.
        if let Some(inner) = self.inner.take() {
            if let Some(owner) = inner.owner.get() {
                let _ = release_rlock(&inner, owner);
            }
        }
    }
}

impl fmt::Debug for RLock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RLock")
            .field("owner", &self.inner.owner.get())
            .field("count", &self.inner.count.get())
            .finish()
    }
}

impl fmt::Debug for RLockGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RLockGuard").finish()
    }
}
