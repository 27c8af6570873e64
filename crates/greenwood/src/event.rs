//! Events: `Event` (a flag greenlets wait on) and `AsyncResult` (a value or an error, set
//! once, that greenlets wait for).

use std::cell::{Cell, RefCell};
use std::fmt;
use std::panic::Location;
use std::rc::Rc;
use std::time::Duration;

use crate::error::Elapsed;
use crate::hub::links::Links;
use crate::hub::task::WaitOn;
use crate::hub::waitlist::{private, Waitable};
use crate::hub::waitlist::{wait_on, WaitList};
use crate::LinkId;

/// A flag that greenlets wait on: [`set`](Event::set) wakes every waiter, [`clear`](Event::clear)
/// makes later waiters block again (gevent's `Event`).
///
/// A cheap, clonable handle; all clones are the same event.
///
/// # Examples
///
/// ```
/// use greenwood::event::Event;
///
/// let ready = Event::new();
/// let workers: Vec<_> = (0..3)
///     .map(|i| {
///         let ready = ready.clone();
///         greenwood::spawn(move || {
///             ready.wait(); // all three wait for the go
///             i
///         })
///     })
///     .collect();
/// greenwood::sleep(std::time::Duration::ZERO);
/// assert!(workers.iter().all(|w| !w.ready()));
/// ready.set();
/// greenwood::joinall(&workers);
/// ```
#[derive(Clone)]
pub struct Event {
    inner: Rc<EventInner>,
}

struct EventInner {
    flag: Cell<bool>,
    /// Counts `set` calls, so a waiter woken by one returns even if the flag was cleared
    /// before it ran.
    sets: Cell<u64>,
    waiters: WaitList,
    links: Links<Event>,
    site: &'static Location<'static>,
}

impl Default for Event {
    #[track_caller]
    fn default() -> Self {
        Event::new()
    }
}

impl Event {
    /// A new event, not set.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!greenwood::event::Event::new().is_set());
    /// ```
    #[track_caller]
    pub fn new() -> Event {
        Event {
            inner: Rc::new(EventInner {
                flag: Cell::new(false),
                sets: Cell::new(0),
                waiters: WaitList::new(),
                links: Links::default(),
                site: Location::caller(),
            }),
        }
    }

    /// Sets the flag and wakes every greenlet waiting on it.
    ///
    /// # Examples
    ///
    /// ```
    /// let e = greenwood::event::Event::new();
    /// e.set();
    /// assert!(e.is_set());
    /// e.wait(); // returns at once
    /// ```
    pub fn set(&self) {
        self.inner.flag.set(true);
        self.inner.sets.set(self.inner.sets.get() + 1);
        self.inner.waiters.notify_all();
        self.inner.links.fire(self, "an Event", |e| &e.inner.links);
    }

    /// Calls `f` on the hub once the flag is set: in a turn after the next `set`, or after
    /// this call if it is set now. gevent's `rawlink`. A link runs once; like a greenlet's
    /// [`link`](crate::Greenlet::link), it must not block (spawn a greenlet for that).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::{cell::Cell, rc::Rc};
    ///
    /// let e = greenwood::event::Event::new();
    /// let seen = Rc::new(Cell::new(false));
    /// let s = seen.clone();
    /// e.rawlink(move |e| s.set(e.is_set()));
    /// assert_eq!(e.linkcount(), 1);
    /// e.set();
    /// greenwood::sleep(std::time::Duration::ZERO); // links run on the hub
    /// assert!(seen.get());
    /// assert_eq!(e.linkcount(), 0);
    /// ```
    pub fn rawlink(&self, f: impl FnOnce(&Event) + 'static) -> LinkId {
        let id = self.inner.links.add(Box::new(f));
        if self.is_set() {
            self.inner.links.fire(self, "an Event", |e| &e.inner.links);
        }
        id
    }

    /// Removes a link that has not run; true if it was removed.
    ///
    /// # Examples
    ///
    /// ```
    /// let e = greenwood::event::Event::new();
    /// let id = e.rawlink(|_| unreachable!());
    /// assert!(e.unlink(id));
    /// e.set();
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
    /// let e = greenwood::event::Event::new();
    /// e.rawlink(|_| ());
    /// assert_eq!(e.linkcount(), 1);
    /// ```
    pub fn linkcount(&self) -> usize {
        self.inner.links.len()
    }

    /// Clears the flag: later calls to `wait` block until the next `set`.
    ///
    /// # Examples
    ///
    /// ```
    /// let e = greenwood::event::Event::new();
    /// e.set();
    /// e.clear();
    /// assert!(!e.is_set());
    /// ```
    pub fn clear(&self) {
        self.inner.flag.set(false);
    }

    /// Whether the flag is set.
    ///
    /// # Examples
    ///
    /// ```
    /// let e = greenwood::event::Event::new();
    /// assert!(!e.is_set());
    /// ```
    pub fn is_set(&self) -> bool {
        self.inner.flag.get()
    }

    /// Waits until the flag is set (returns at once if it is). A greenlet woken by `set`
    /// returns even if the flag was cleared again before it ran.
    ///
    /// # Panics
    ///
    /// With `LoopExit`'s message if nothing can ever set it, and with the interrupts of
    /// [`sleep`](crate::sleep).
    ///
    /// # Examples
    ///
    /// ```
    /// let e = greenwood::event::Event::new();
    /// let e2 = e.clone();
    /// let _g = greenwood::spawn(move || e2.set());
    /// e.wait();
    /// ```
    pub fn wait(&self) {
        self.wait_until(None);
    }

    /// Waits at most `timeout` for the flag (or a `set` that woke us).
    ///
    /// # Errors
    ///
    /// [`Elapsed`] if it was not set in time.
    ///
    /// # Examples
    ///
    /// ```
    /// let e = greenwood::event::Event::new();
    /// assert!(e.wait_timeout(std::time::Duration::from_millis(1)).is_err());
    /// e.set();
    /// assert_eq!(e.wait_timeout(std::time::Duration::from_millis(1)), Ok(()));
    /// ```
    #[track_caller]
    pub fn wait_timeout(&self, timeout: Duration) -> Result<(), Elapsed> {
        Elapsed::check(self.wait_until(Some(timeout)), timeout)
    }

    fn wait_until(&self, timeout: Option<Duration>) -> bool {
        let inner = &self.inner;
        if inner.flag.get() {
            return true;
        }
        let sets = inner.sets.get();
        wait_on(&inner.waiters, WaitOn::Object("Event", inner.site), timeout);
        inner.flag.get() || inner.sets.get() != sets
    }
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Event")
            .field("set", &self.is_set())
            .field("created_at", &self.inner.site)
            .finish()
    }
}

impl private::Sealed for Event {
    fn wait_list(&self) -> &WaitList {
        &self.inner.waiters
    }
}

impl Waitable for Event {
    fn is_ready(&self) -> bool {
        self.is_set()
    }
}

/// A value or an error that is set once and that greenlets wait for (gevent's
/// `AsyncResult`): a one-shot future for blocking code.
///
/// # Examples
///
/// ```
/// use greenwood::event::AsyncResult;
///
/// let photo: AsyncResult<Vec<u8>, String> = AsyncResult::new();
/// let p = photo.clone();
/// let _fetcher = greenwood::spawn(move || p.set(vec![0xFF, 0xD8]).unwrap());
/// assert_eq!(photo.get(), Ok(vec![0xFF, 0xD8]));
/// ```
pub struct AsyncResult<T, E = String> {
    inner: Rc<ResultInner<T, E>>,
}

struct ResultInner<T, E> {
    value: RefCell<Option<Result<T, E>>>,
    waiters: WaitList,
    links: Links<AsyncResult<T, E>>,
    site: &'static Location<'static>,
}

/// [`AsyncResult::set`] or [`AsyncResult::set_error`] was called on a result that was
/// already set; the rejected outcome is given back.
#[derive(Debug, PartialEq, Eq)]
pub struct AlreadySet<T>(pub T);

impl<T> fmt::Display for AlreadySet<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("this AsyncResult was already set; it can be set only once")
    }
}

impl<T: fmt::Debug> std::error::Error for AlreadySet<T> {}

impl<T, E> Clone for AsyncResult<T, E> {
    fn clone(&self) -> Self {
        AsyncResult {
            inner: self.inner.clone(),
        }
    }
}

impl<T: 'static, E: 'static> Default for AsyncResult<T, E> {
    #[track_caller]
    fn default() -> Self {
        AsyncResult::new()
    }
}

impl<T: 'static, E: 'static> AsyncResult<T, E> {
    /// An empty result.
    ///
    /// # Examples
    ///
    /// ```
    /// let r: greenwood::event::AsyncResult<u32> = greenwood::event::AsyncResult::new();
    /// assert!(!r.ready());
    /// ```
    #[track_caller]
    pub fn new() -> Self {
        AsyncResult {
            inner: Rc::new(ResultInner {
                value: RefCell::new(None),
                waiters: WaitList::new(),
                links: Links::default(),
                site: Location::caller(),
            }),
        }
    }

    /// Sets the value and wakes every waiter.
    ///
    /// # Errors
    ///
    /// [`AlreadySet`], with the value, if it was set before.
    ///
    /// # Examples
    ///
    /// ```
    /// let r: greenwood::event::AsyncResult<u32> = greenwood::event::AsyncResult::new();
    /// r.set(1).unwrap();
    /// assert!(r.set(2).is_err());
    /// assert_eq!(r.get(), Ok(1));
    /// ```
    pub fn set(&self, value: T) -> Result<(), AlreadySet<T>> {
        self.put(Ok(value)).map_err(|r| match r {
            Ok(v) => AlreadySet(v),
            Err(_) => unreachable!("put gives back what it was given"),
        })
    }

    /// Sets the error and wakes every waiter (gevent's `set_exception`).
    ///
    /// # Errors
    ///
    /// [`AlreadySet`], with the error, if it was set before.
    ///
    /// # Examples
    ///
    /// ```
    /// let r: greenwood::event::AsyncResult<u32> = greenwood::event::AsyncResult::new();
    /// r.set_error("disk full".to_string()).unwrap();
    /// assert_eq!(r.get(), Err("disk full".to_string()));
    /// assert!(!r.successful());
    /// ```
    pub fn set_error(&self, error: E) -> Result<(), AlreadySet<E>> {
        self.put(Err(error)).map_err(|r| match r {
            Err(e) => AlreadySet(e),
            Ok(_) => unreachable!("put gives back what it was given"),
        })
    }

    fn put(&self, outcome: Result<T, E>) -> Result<(), Result<T, E>> {
        let mut value = self.inner.value.borrow_mut();
        if value.is_some() {
            return Err(outcome);
        }
        *value = Some(outcome);
        drop(value);
        self.inner.waiters.notify_all();
        self.fire_links();
        Ok(())
    }

    fn fire_links(&self) {
        self.inner
            .links
            .fire(self, "an AsyncResult", |r| &r.inner.links);
    }

    /// Calls `f` on the hub once it is set (with a value or an error): in a turn after the
    /// `set`, or after this call if it is set now. gevent's `rawlink`. A link runs once and
    /// must not block.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::{cell::Cell, rc::Rc};
    /// use greenwood::event::AsyncResult;
    ///
    /// let r: AsyncResult<u32> = AsyncResult::new();
    /// let got = Rc::new(Cell::new(0));
    /// let g = got.clone();
    /// r.rawlink(move |r| g.set(r.peek().unwrap().unwrap()));
    /// r.set(8).unwrap();
    /// greenwood::sleep(std::time::Duration::ZERO);
    /// assert_eq!(got.get(), 8);
    /// ```
    pub fn rawlink(&self, f: impl FnOnce(&AsyncResult<T, E>) + 'static) -> LinkId {
        let id = self.inner.links.add(Box::new(f));
        if self.ready() {
            self.fire_links();
        }
        id
    }

    /// Removes a link that has not run; true if it was removed.
    ///
    /// # Examples
    ///
    /// ```
    /// let r: greenwood::event::AsyncResult<u32> = greenwood::event::AsyncResult::new();
    /// let id = r.rawlink(|_| unreachable!());
    /// assert!(r.unlink(id));
    /// assert!(!r.unlink(id));
    /// ```
    pub fn unlink(&self, id: LinkId) -> bool {
        self.inner.links.remove(id)
    }

    /// Links waiting to run.
    ///
    /// # Examples
    ///
    /// ```
    /// let r: greenwood::event::AsyncResult<u32> = greenwood::event::AsyncResult::new();
    /// assert_eq!(r.linkcount(), 0);
    /// ```
    pub fn linkcount(&self) -> usize {
        self.inner.links.len()
    }

    /// Whether it has been set (with a value or an error).
    ///
    /// # Examples
    ///
    /// ```
    /// let r: greenwood::event::AsyncResult<u32> = greenwood::event::AsyncResult::new();
    /// r.set(3).unwrap();
    /// assert!(r.ready());
    /// ```
    pub fn ready(&self) -> bool {
        self.inner.value.borrow().is_some()
    }

    /// Whether it has been set with a value.
    ///
    /// # Examples
    ///
    /// ```
    /// let r: greenwood::event::AsyncResult<u32> = greenwood::event::AsyncResult::new();
    /// r.set(3).unwrap();
    /// assert!(r.successful());
    /// ```
    pub fn successful(&self) -> bool {
        matches!(*self.inner.value.borrow(), Some(Ok(_)))
    }

    /// Waits until it is set.
    ///
    /// # Panics
    ///
    /// As [`Event::wait`].
    ///
    /// # Examples
    ///
    /// ```
    /// let r: greenwood::event::AsyncResult<u32> = greenwood::event::AsyncResult::new();
    /// let r2 = r.clone();
    /// let _g = greenwood::spawn(move || r2.set(5).unwrap());
    /// r.wait();
    /// assert!(r.ready());
    /// ```
    pub fn wait(&self) {
        while !self.ready() {
            wait_on(&self.inner.waiters, self.what(), None);
        }
    }

    /// Waits at most `timeout` for it to be set.
    ///
    /// # Errors
    ///
    /// [`Elapsed`] if it was not set in time.
    ///
    /// # Examples
    ///
    /// ```
    /// let r: greenwood::event::AsyncResult<u32> = greenwood::event::AsyncResult::new();
    /// assert!(r.wait_timeout(std::time::Duration::from_millis(1)).is_err());
    /// ```
    #[track_caller]
    pub fn wait_timeout(&self, timeout: Duration) -> Result<(), Elapsed> {
        if !self.ready() {
            wait_on(&self.inner.waiters, self.what(), Some(timeout));
        }
        Elapsed::check(self.ready(), timeout)
    }

    fn what(&self) -> WaitOn {
        WaitOn::Object("AsyncResult", self.inner.site)
    }

    /// Waits until it is set and returns a copy of the value or the error.
    ///
    /// # Panics
    ///
    /// As [`Event::wait`].
    ///
    /// # Examples
    ///
    /// ```
    /// let r: greenwood::event::AsyncResult<&str> = greenwood::event::AsyncResult::new();
    /// let r2 = r.clone();
    /// let _g = greenwood::spawn(move || r2.set("done").unwrap());
    /// assert_eq!(r.get(), Ok("done"));
    /// assert_eq!(r.get(), Ok("done")); // as often as asked
    /// ```
    pub fn get(&self) -> Result<T, E>
    where
        T: Clone,
        E: Clone,
    {
        self.wait();
        self.peek().expect("set")
    }

    /// Waits at most `timeout`; a copy of the value or the error it was set to.
    ///
    /// # Errors
    ///
    /// [`Elapsed`] if it was not set in time.
    ///
    /// # Examples
    ///
    /// ```
    /// let r: greenwood::event::AsyncResult<u32> = greenwood::event::AsyncResult::new();
    /// assert!(r.get_timeout(std::time::Duration::from_millis(1)).is_err());
    /// r.set(7).unwrap();
    /// assert_eq!(r.get_timeout(std::time::Duration::from_millis(1)), Ok(Ok(7)));
    /// ```
    #[track_caller]
    pub fn get_timeout(&self, timeout: Duration) -> Result<Result<T, E>, Elapsed>
    where
        T: Clone,
        E: Clone,
    {
        self.wait_timeout(timeout)?;
        Ok(self.peek().expect("set"))
    }

    /// The value or the error if it is set, without waiting.
    ///
    /// # Examples
    ///
    /// ```
    /// let r: greenwood::event::AsyncResult<u32> = greenwood::event::AsyncResult::new();
    /// assert_eq!(r.peek(), None);
    /// r.set(9).unwrap();
    /// assert_eq!(r.peek(), Some(Ok(9)));
    /// ```
    pub fn peek(&self) -> Option<Result<T, E>>
    where
        T: Clone,
        E: Clone,
    {
        self.inner.value.borrow().clone()
    }
}

impl<T: 'static, E: 'static> fmt::Debug for AsyncResult<T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncResult")
            .field("ready", &self.ready())
            .field("created_at", &self.inner.site)
            .finish()
    }
}

impl<T: 'static, E: 'static> private::Sealed for AsyncResult<T, E> {
    fn wait_list(&self) -> &WaitList {
        &self.inner.waiters
    }
}

impl<T: 'static, E: 'static> Waitable for AsyncResult<T, E> {
    fn is_ready(&self) -> bool {
        self.ready()
    }
}
