//! Queues between greenlets (gevent's `gevent.queue`): [`Queue`] (FIFO, bounded or not),
//! [`LifoQueue`], [`PriorityQueue`], [`JoinableQueue`] and [`Channel`] (a rendezvous).
//!
//! # How items move, and why none is lost
//!
//! - A `put` with greenlets waiting in `get` hands the item straight to the oldest of them
//!   (so getters are served in the order they came, and nobody else can take it first).
//! - A `put` into a full queue parks *holding its item*. A `get` that makes room moves the
//!   oldest parked putter's item into the queue and wakes it.
//! - An item is handed to a getter, or taken from a putter, only if that greenlet is still
//!   parked; a greenlet woken that way always returns from its park before any interrupt
//!   lands (see `hub/handoff.rs`). A getter or putter that times out or is killed while parked
//!   leaves its place in line, and its item (for a putter) is returned or dropped with it:
//!   nothing is ever half-moved.
//!
//! Invariants: while a getter waits, the queue is empty; while a putter waits, it is full.

use std::cell::{Cell, RefCell};
use std::collections::{BinaryHeap, VecDeque};
use std::error::Error;
use std::fmt;
use std::panic::Location;
use std::rc::Rc;
use std::time::Duration;

use crate::error::Elapsed;
use crate::hub;
use crate::hub::handoff::HandOff;
use crate::hub::task::{WaitOn, Waker};
use crate::hub::waitlist::{wait_on, WaitList};
use crate::Waitable;

/// How a queue orders its items. Sealed: [`Fifo`], [`Lifo`] and [`Priority`].
pub trait Store<T>: Default + private::Sealed {
    #[doc(hidden)]
    fn push(&mut self, item: T);
    #[doc(hidden)]
    fn pop(&mut self) -> Option<T>;
    #[doc(hidden)]
    fn peek(&self) -> Option<&T>;
    #[doc(hidden)]
    fn len(&self) -> usize;
    #[doc(hidden)]
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

mod private {
    pub trait Sealed {}
}

/// First in, first out.
#[derive(Debug)]
pub struct Fifo<T>(VecDeque<T>);

/// Last in, first out.
#[derive(Debug)]
pub struct Lifo<T>(Vec<T>);

/// Greatest first (a max-heap; wrap items in `std::cmp::Reverse` for smallest first).
#[derive(Debug)]
pub struct Priority<T: Ord>(BinaryHeap<T>);

impl<T> Default for Fifo<T> {
    fn default() -> Self {
        Fifo(VecDeque::new())
    }
}

impl<T> Default for Lifo<T> {
    fn default() -> Self {
        Lifo(Vec::new())
    }
}

impl<T: Ord> Default for Priority<T> {
    fn default() -> Self {
        Priority(BinaryHeap::new())
    }
}

impl<T> private::Sealed for Fifo<T> {}
impl<T> private::Sealed for Lifo<T> {}
impl<T: Ord> private::Sealed for Priority<T> {}

impl<T> Store<T> for Fifo<T> {
    fn push(&mut self, item: T) {
        self.0.push_back(item)
    }
    fn pop(&mut self) -> Option<T> {
        self.0.pop_front()
    }
    fn peek(&self) -> Option<&T> {
        self.0.front()
    }
    fn len(&self) -> usize {
        self.0.len()
    }
}

impl<T> Store<T> for Lifo<T> {
    fn push(&mut self, item: T) {
        self.0.push(item)
    }
    fn pop(&mut self) -> Option<T> {
        self.0.pop()
    }
    fn peek(&self) -> Option<&T> {
        self.0.last()
    }
    fn len(&self) -> usize {
        self.0.len()
    }
}

impl<T: Ord> Store<T> for Priority<T> {
    fn push(&mut self, item: T) {
        self.0.push(item)
    }
    fn pop(&mut self) -> Option<T> {
        self.0.pop()
    }
    fn peek(&self) -> Option<&T> {
        self.0.peek()
    }
    fn len(&self) -> usize {
        self.0.len()
    }
}

/// `put_nowait` and `put_timeout` could not add the item; it is given back.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum PutError<T> {
    /// The queue was full (and stayed full until the timeout).
    Full(T),
    /// The queue was shut down.
    ShutDown(T),
}

impl<T> PutError<T> {
    /// The item that was not added.
    ///
    /// # Examples
    ///
    /// ```
    /// let q = greenwood::queue::Queue::bounded(0);
    /// assert_eq!(q.put_nowait(7).unwrap_err().into_inner(), 7);
    /// ```
    pub fn into_inner(self) -> T {
        match self {
            PutError::Full(t) | PutError::ShutDown(t) => t,
        }
    }
}

impl<T> fmt::Debug for PutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PutError::Full(_) => f.write_str("Full(..)"),
            PutError::ShutDown(_) => f.write_str("ShutDown(..)"),
        }
    }
}

impl<T> fmt::Display for PutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PutError::Full(_) => f.write_str("the queue is full"),
            PutError::ShutDown(_) => f.write_str("the queue was shut down"),
        }
    }
}

impl<T> Error for PutError<T> {}

/// `get_nowait` and `get_timeout` found no item.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GetError {
    /// The queue was empty (and stayed empty until the timeout).
    Empty,
    /// The queue was shut down and is empty.
    ShutDown,
}

impl fmt::Display for GetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GetError::Empty => f.write_str("the queue is empty"),
            GetError::ShutDown => f.write_str("the queue was shut down and is empty"),
        }
    }
}

impl Error for GetError {}

/// A putter parked with its item.
struct PutSlot<T> {
    waker: Waker,
    item: Cell<Option<T>>,
    /// Taken out of line by a getter (or shutdown): leaving needs no search.
    popped: Cell<bool>,
}

struct Inner<T, S> {
    items: RefCell<S>,
    /// `None`: unbounded. `Some(0)`: a rendezvous (every put waits for a get).
    maxsize: Option<usize>,
    getters: HandOff<T>,
    putters: RefCell<VecDeque<Rc<PutSlot<T>>>>,
    shut_down: Cell<bool>,
    /// For `JoinableQueue`: items put and not yet marked done, and who waits for none.
    unfinished: Cell<usize>,
    joiners: WaitList,
    /// `wait`/`iwait` callers watching for an item to get (see the `Waitable` impl).
    watchers: WaitList,
    kind: &'static str,
    site: &'static Location<'static>,
}

/// A FIFO queue of items between greenlets, unbounded or bounded. `get` waits for an item,
/// `put` into a full bounded queue waits for room; both have `_nowait` and `_timeout` forms.
/// Clones are handles to the same queue.
///
/// # Examples
///
/// ```
/// use greenwood::queue::Queue;
///
/// let jobs = Queue::bounded(10);
/// let producer = {
///     let jobs = jobs.clone();
///     greenwood::spawn(move || {
///         for user in 0..100 {
///             jobs.put(user).unwrap(); // waits while 10 are queued
///         }
///         jobs.shutdown(); // consumers stop once it is drained
///     })
/// };
/// let consumer = greenwood::spawn(move || jobs.iter().sum::<u32>());
/// producer.join();
/// assert_eq!(consumer.get().unwrap(), 4950);
/// ```
pub struct Queue<T, S: Store<T> = Fifo<T>> {
    inner: Rc<Inner<T, S>>,
}

impl<T, S: Store<T>> Clone for Queue<T, S> {
    fn clone(&self) -> Self {
        Queue {
            inner: self.inner.clone(),
        }
    }
}

impl<T, S: Store<T>> Default for Queue<T, S> {
    #[track_caller]
    fn default() -> Self {
        Queue::create(None, "Queue", Location::caller())
    }
}

impl<T> Queue<T> {
    /// An unbounded FIFO queue.
    ///
    /// # Examples
    ///
    /// ```
    /// let q: greenwood::queue::Queue<u8> = greenwood::queue::Queue::new();
    /// assert!(q.is_empty() && q.maxsize().is_none());
    /// ```
    #[track_caller]
    pub fn new() -> Self {
        Queue::create(None, "Queue", Location::caller())
    }

    /// A FIFO queue of at most `maxsize` items; `put` waits while it is full. `bounded(0)` is
    /// a rendezvous, as [`Channel`].
    ///
    /// # Examples
    ///
    /// ```
    /// let q = greenwood::queue::Queue::bounded(1);
    /// q.put(1).unwrap();
    /// assert!(q.put_nowait(2).is_err());
    /// ```
    #[track_caller]
    pub fn bounded(maxsize: usize) -> Self {
        Queue::create(Some(maxsize), "Queue", Location::caller())
    }
}

impl<T, S: Store<T>> Queue<T, S> {
    fn create(
        maxsize: Option<usize>,
        kind: &'static str,
        site: &'static Location<'static>,
    ) -> Self {
        Queue {
            inner: Rc::new(Inner {
                items: RefCell::new(S::default()),
                maxsize,
                getters: HandOff::default(),
                putters: RefCell::new(VecDeque::new()),
                shut_down: Cell::new(false),
                unfinished: Cell::new(0),
                joiners: WaitList::new(),
                watchers: WaitList::new(),
                kind,
                site,
            }),
        }
    }

    /// Adds `item`, waiting while the queue is full.
    ///
    /// # Errors
    ///
    /// [`PutError::ShutDown`], with the item, if the queue is (or gets) shut down.
    ///
    /// # Panics
    ///
    /// With `LoopExit`'s message if nothing can ever make room, and with the interrupts of
    /// [`sleep`](crate::sleep) (the item is then dropped, not added).
    ///
    /// # Examples
    ///
    /// ```
    /// let q = greenwood::queue::Queue::new();
    /// q.put("photo").unwrap();
    /// assert_eq!(q.len(), 1);
    /// ```
    pub fn put(&self, item: T) -> Result<(), PutError<T>> {
        self.put_inner(item, None)
    }

    /// Adds `item` if there is room, without waiting.
    ///
    /// # Errors
    ///
    /// [`PutError::Full`] or [`PutError::ShutDown`], with the item.
    ///
    /// # Examples
    ///
    /// ```
    /// let q = greenwood::queue::Queue::bounded(1);
    /// assert!(q.put_nowait(1).is_ok());
    /// assert!(matches!(q.put_nowait(2), Err(greenwood::queue::PutError::Full(2))));
    /// ```
    pub fn put_nowait(&self, item: T) -> Result<(), PutError<T>> {
        self.put_inner(item, Some(Duration::ZERO))
    }

    /// Adds `item`, waiting at most `timeout` for room.
    ///
    /// # Errors
    ///
    /// [`PutError::Full`] after the timeout, [`PutError::ShutDown`]; both give the item back.
    ///
    /// # Examples
    ///
    /// ```
    /// let q = greenwood::queue::Queue::bounded(0);
    /// let err = q.put_timeout(1, std::time::Duration::from_millis(1)).unwrap_err();
    /// assert_eq!(err.into_inner(), 1);
    /// ```
    pub fn put_timeout(&self, item: T, timeout: Duration) -> Result<(), PutError<T>> {
        self.put_inner(item, Some(timeout))
    }

    fn put_inner(&self, item: T, timeout: Option<Duration>) -> Result<(), PutError<T>> {
        let inner = &self.inner;
        if inner.shut_down.get() {
            return Err(PutError::ShutDown(item));
        }
        // Getters wait only on an empty queue: hand it to the oldest.
        let item = match inner.getters.give(item) {
            Ok(()) => {
                inner.unfinished.set(inner.unfinished.get() + 1);
                return Ok(());
            }
            Err(item) => item,
        };
        if self.has_room() {
            inner.items.borrow_mut().push(item);
            inner.unfinished.set(inner.unfinished.get() + 1);
            inner.watchers.notify_all();
            return Ok(());
        }
        if timeout == Some(Duration::ZERO) {
            return Err(PutError::Full(item));
        }
        // Park holding the item; a get takes it from us.
        let mut item = Some(item);
        let mut parked = None;
        hub::wait_for(WaitOn::Object(inner.kind, inner.site), timeout, |waker| {
            let slot = parked.insert(Rc::new(PutSlot {
                waker,
                item: Cell::new(item.take()),
                popped: Cell::new(false),
            }));
            inner.putters.borrow_mut().push_back(slot.clone());
            // A get can take the parked item now (a rendezvous queue has nothing else).
            inner.watchers.notify_all();
            LeavePutters {
                putters: &inner.putters,
                slot: slot.clone(),
            }
        });
        let slot = parked.expect("registered before parking");
        match slot.item.take() {
            None => {
                // Taken by a getter.
                inner.unfinished.set(inner.unfinished.get() + 1);
                Ok(())
            }
            Some(item) if inner.shut_down.get() => Err(PutError::ShutDown(item)),
            Some(item) => Err(PutError::Full(item)),
        }
    }

    fn has_room(&self) -> bool {
        match self.inner.maxsize {
            None => true,
            Some(max) => self.inner.items.borrow().len() < max,
        }
    }

    /// Takes the next item, waiting for one; `None` once the queue is shut down and drained.
    ///
    /// # Panics
    ///
    /// With `LoopExit`'s message if nothing can ever put an item, and with the interrupts of
    /// [`sleep`](crate::sleep) (no item is taken then).
    ///
    /// # Examples
    ///
    /// ```
    /// let q = greenwood::queue::Queue::new();
    /// let q2 = q.clone();
    /// let _g = greenwood::spawn(move || q2.put(5).unwrap());
    /// assert_eq!(q.get(), Some(5)); // waits for the greenlet to put it
    /// ```
    pub fn get(&self) -> Option<T> {
        self.get_inner(None).ok()
    }

    /// Takes the next item if there is one, without waiting.
    ///
    /// # Errors
    ///
    /// [`GetError::Empty`], or [`GetError::ShutDown`] once shut down and drained.
    ///
    /// # Examples
    ///
    /// ```
    /// let q: greenwood::queue::Queue<u8> = greenwood::queue::Queue::new();
    /// assert_eq!(q.get_nowait(), Err(greenwood::queue::GetError::Empty));
    /// ```
    pub fn get_nowait(&self) -> Result<T, GetError> {
        self.get_inner(Some(Duration::ZERO))
    }

    /// Takes the next item, waiting at most `timeout`.
    ///
    /// # Errors
    ///
    /// [`GetError::Empty`] after the timeout, or [`GetError::ShutDown`].
    ///
    /// # Examples
    ///
    /// ```
    /// let q: greenwood::queue::Queue<u8> = greenwood::queue::Queue::new();
    /// let r = q.get_timeout(std::time::Duration::from_millis(1));
    /// assert_eq!(r, Err(greenwood::queue::GetError::Empty));
    /// ```
    pub fn get_timeout(&self, timeout: Duration) -> Result<T, GetError> {
        self.get_inner(Some(timeout))
    }

    fn get_inner(&self, timeout: Option<Duration>) -> Result<T, GetError> {
        let inner = &self.inner;
        let popped = inner.items.borrow_mut().pop();
        if let Some(item) = popped {
            // Room now: take the oldest parked putter's item in.
            if let Some(next) = self.take_from_putter() {
                inner.items.borrow_mut().push(next);
            }
            return Ok(item);
        }
        // Empty. A rendezvous has its items in the putters' hands.
        if let Some(item) = self.take_from_putter() {
            return Ok(item);
        }
        if inner.shut_down.get() {
            return Err(GetError::ShutDown);
        }
        if timeout == Some(Duration::ZERO) {
            return Err(GetError::Empty);
        }
        match inner
            .getters
            .wait(WaitOn::Object(inner.kind, inner.site), timeout)
        {
            Some(item) => Ok(item),
            None if inner.shut_down.get() => Err(GetError::ShutDown),
            None => Err(GetError::Empty),
        }
    }

    /// The item of the oldest putter still parked, waking it.
    fn take_from_putter(&self) -> Option<T> {
        loop {
            let front = self.inner.putters.borrow_mut().pop_front();
            let slot = front?;
            slot.popped.set(true);
            if slot.waker.wake() {
                return slot.item.take();
            }
            // That putter is leaving (timed out or killed): it keeps its item.
        }
    }

    /// A copy of the item `get` would return next, without taking it, waiting for one if
    /// the queue is empty (gevent's `peek()`); `None` once it is shut down and drained. An
    /// item put while greenlets wait in `get` goes straight to one of them, so a peeker sees
    /// only items that stay in the queue.
    ///
    /// # Panics
    ///
    /// As [`get`](Queue::get).
    ///
    /// # Examples
    ///
    /// ```
    /// let q = greenwood::queue::Queue::new();
    /// let q2 = q.clone();
    /// let _g = greenwood::spawn(move || q2.put("next").unwrap());
    /// assert_eq!(q.peek(), Some("next")); // waited for it
    /// assert_eq!(q.len(), 1); // and left it there
    /// ```
    pub fn peek(&self) -> Option<T>
    where
        T: Clone,
    {
        self.peek_inner(None).ok()
    }

    /// A copy of the next item if there is one, without taking it or waiting.
    ///
    /// # Errors
    ///
    /// [`GetError::Empty`], or [`GetError::ShutDown`] once shut down and drained.
    ///
    /// # Examples
    ///
    /// ```
    /// let q = greenwood::queue::Queue::new();
    /// assert_eq!(q.peek_nowait(), Err(greenwood::queue::GetError::Empty));
    /// q.put(1).unwrap();
    /// assert_eq!(q.peek_nowait(), Ok(1));
    /// assert_eq!(q.len(), 1);
    /// ```
    pub fn peek_nowait(&self) -> Result<T, GetError>
    where
        T: Clone,
    {
        self.peek_inner(Some(Duration::ZERO))
    }

    /// A copy of the next item, waiting at most `timeout` for one.
    ///
    /// # Errors
    ///
    /// [`GetError::Empty`] after the timeout, or [`GetError::ShutDown`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let q: greenwood::queue::Queue<u8> = greenwood::queue::Queue::new();
    /// assert_eq!(q.peek_timeout(Duration::from_millis(1)), Err(greenwood::queue::GetError::Empty));
    /// ```
    pub fn peek_timeout(&self, timeout: Duration) -> Result<T, GetError>
    where
        T: Clone,
    {
        self.peek_inner(Some(timeout))
    }

    fn peek_inner(&self, timeout: Option<Duration>) -> Result<T, GetError>
    where
        T: Clone,
    {
        let inner = &self.inner;
        let deadline = timeout.map(|t| std::time::Instant::now().checked_add(t));
        loop {
            if let Some(item) = inner.items.borrow().peek() {
                return Ok(item.clone());
            }
            // A rendezvous holds its next item in the oldest putter's hands.
            if let Some(slot) = inner.putters.borrow().front() {
                let item = slot.item.take();
                let copy = item.clone();
                slot.item.set(item);
                if let Some(copy) = copy {
                    return Ok(copy);
                }
            }
            if inner.shut_down.get() {
                return Err(GetError::ShutDown);
            }
            let left = match deadline {
                None | Some(None) => None,
                Some(Some(at)) => {
                    let left = at.saturating_duration_since(std::time::Instant::now());
                    if left.is_zero() {
                        return Err(GetError::Empty);
                    }
                    Some(left)
                }
            };
            // Watchers are told of every item that stays in the queue, and of the shutdown.
            wait_on(
                &inner.watchers,
                WaitOn::Object(inner.kind, inner.site),
                left,
            );
        }
    }

    /// Items queued (not counting those in the hands of parked putters of a full queue).
    ///
    /// # Examples
    ///
    /// ```
    /// let q = greenwood::queue::Queue::new();
    /// q.put(()).unwrap();
    /// assert_eq!(q.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.inner.items.borrow().len()
    }

    /// Whether no item is queued.
    ///
    /// # Examples
    ///
    /// ```
    /// let q: greenwood::queue::Queue<()> = greenwood::queue::Queue::new();
    /// assert!(q.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether a `put` would wait.
    ///
    /// # Examples
    ///
    /// ```
    /// let q = greenwood::queue::Queue::bounded(1);
    /// q.put(1).unwrap();
    /// assert!(q.is_full());
    /// ```
    pub fn is_full(&self) -> bool {
        !self.has_room()
    }

    /// The bound it was created with; `None` if unbounded.
    ///
    /// # Examples
    ///
    /// ```
    /// let q: greenwood::queue::Queue<u8> = greenwood::queue::Queue::bounded(3);
    /// assert_eq!(q.maxsize(), Some(3));
    /// ```
    pub fn maxsize(&self) -> Option<usize> {
        self.inner.maxsize
    }

    /// Shuts the queue down: later puts fail, greenlets parked in `put` get their item back,
    /// and `get` returns the items still queued, then `None` (Python 3.13's
    /// `Queue.shutdown()`).
    ///
    /// # Examples
    ///
    /// ```
    /// let q = greenwood::queue::Queue::new();
    /// q.put(1).unwrap();
    /// q.shutdown();
    /// assert!(q.put(2).is_err());
    /// assert_eq!(q.get(), Some(1));
    /// assert_eq!(q.get(), None);
    /// ```
    pub fn shutdown(&self) {
        let inner = &self.inner;
        if inner.shut_down.replace(true) {
            return;
        }
        // Wake every waiter empty-handed: getters find the queue empty and shut down,
        // putters still hold their items.
        while inner.getters.wake_one_empty() {}
        for slot in std::mem::take(&mut *inner.putters.borrow_mut()) {
            slot.popped.set(true);
            slot.waker.wake();
        }
        inner.watchers.notify_all();
    }

    /// Shuts the queue down at once (gevent's and Python's `shutdown(immediate=True)`): as
    /// [`shutdown`](Queue::shutdown), and the items still queued are taken out and given
    /// back, so a `get` returns `None` right away instead of draining them. Parked putters
    /// keep their items (in their `PutError::ShutDown`). For a [`JoinableQueue`] the items
    /// given back count as done.
    ///
    /// # Examples
    ///
    /// ```
    /// let q = greenwood::queue::JoinableQueue::new();
    /// q.put(1).unwrap();
    /// q.put(2).unwrap();
    /// let left = q.shutdown_immediate();
    /// assert_eq!(left, [1, 2]); // nothing lost: the caller decides what to do with them
    /// assert_eq!(q.get(), None);
    /// assert_eq!(q.unfinished(), 0);
    /// q.join(); // at once
    /// ```
    pub fn shutdown_immediate(&self) -> Vec<T> {
        self.shutdown();
        let inner = &self.inner;
        let mut left = Vec::new();
        loop {
            let next = inner.items.borrow_mut().pop();
            match next {
                Some(item) => left.push(item),
                None => break,
            }
        }
        let n = inner.unfinished.get();
        if n > 0 {
            let rest = n.saturating_sub(left.len());
            inner.unfinished.set(rest);
            if rest == 0 {
                inner.joiners.notify_all();
            }
        }
        left
    }

    /// Whether [`shutdown`](Queue::shutdown) was called.
    ///
    /// # Examples
    ///
    /// ```
    /// let q: greenwood::queue::Queue<u8> = greenwood::queue::Queue::new();
    /// q.shutdown();
    /// assert!(q.is_shut_down());
    /// ```
    pub fn is_shut_down(&self) -> bool {
        self.inner.shut_down.get()
    }

    /// Takes items as they come, until the queue is shut down and drained (gevent's
    /// iteration over a queue).
    ///
    /// # Examples
    ///
    /// ```
    /// let q = greenwood::queue::Queue::new();
    /// for i in 0..3 {
    ///     q.put(i).unwrap();
    /// }
    /// q.shutdown();
    /// assert_eq!(q.iter().collect::<Vec<_>>(), [0, 1, 2]);
    /// ```
    pub fn iter(&self) -> Iter<'_, T, S> {
        Iter { queue: self }
    }
}

impl<T, S: Store<T>> crate::hub::waitlist::private::Sealed for Queue<T, S> {
    fn wait_list(&self) -> &WaitList {
        &self.inner.watchers
    }

    fn still_ready(&self) -> bool {
        self.is_ready()
    }
}

/// A queue is ready for [`wait`](crate::wait) and [`iwait`](crate::iwait) when a `get` would
/// not wait: it holds an item (or a putter waits with one), or it was shut down. Items are
/// handed to greenlets parked in `get` first, so a queue whose items all go to waiting
/// getters never looks ready to a watcher.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use greenwood::Waitable;
///
/// let jobs = greenwood::queue::Queue::new();
/// let stop = greenwood::event::Event::new();
/// let j = jobs.clone();
/// greenwood::spawn_later(Duration::from_millis(2), move || j.put("job").unwrap());
/// // Whichever comes first: a job, or the stop event.
/// let first = greenwood::wait_count(&[&jobs as &dyn Waitable, &stop], 1, None);
/// assert_eq!(first, [0]);
/// assert_eq!(jobs.get_nowait(), Ok("job"));
/// ```
impl<T, S: Store<T>> Waitable for Queue<T, S> {
    fn is_ready(&self) -> bool {
        let inner = &self.inner;
        inner.items.borrow().len() > 0
            || !inner.putters.borrow().is_empty()
            || inner.shut_down.get()
    }
}

impl<T, S: Store<T>> fmt::Debug for Queue<T, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct(self.inner.kind)
            .field("len", &self.len())
            .field("maxsize", &self.inner.maxsize)
            .field("created_at", &self.inner.site)
            .finish()
    }
}

/// Takes a putter's slot out of line when it stops waiting, however it stops.
struct LeavePutters<'a, T> {
    putters: &'a RefCell<VecDeque<Rc<PutSlot<T>>>>,
    slot: Rc<PutSlot<T>>,
}

impl<T> Drop for LeavePutters<'_, T> {
    fn drop(&mut self) {
        if self.slot.popped.get() {
            return;
        }
        let mut putters = self.putters.borrow_mut();
        if let Some(i) = putters.iter().rposition(|s| Rc::ptr_eq(s, &self.slot)) {
            putters.remove(i);
        }
    }
}

/// The items of a queue as they come; see [`Queue::iter`].
pub struct Iter<'a, T, S: Store<T>> {
    queue: &'a Queue<T, S>,
}

impl<T, S: Store<T>> Iterator for Iter<'_, T, S> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        self.queue.get()
    }
}

impl<T, S: Store<T>> fmt::Debug for Iter<'_, T, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Iter").field("queue", self.queue).finish()
    }
}

/// A [`Queue`] that also counts unfinished work: every `put` adds one, [`task_done`] takes one
/// off, and [`join`] waits until none is left (gevent's `JoinableQueue`).
///
/// [`task_done`]: JoinableQueue::task_done
/// [`join`]: JoinableQueue::join
///
/// # Examples
///
/// ```
/// use greenwood::queue::JoinableQueue;
///
/// let work = JoinableQueue::new();
/// for url in ["/a", "/b", "/c"] {
///     work.put(url).unwrap();
/// }
/// for _ in 0..2 {
///     let work = work.clone();
///     greenwood::spawn(move || {
///         while let Some(_url) = work.get() {
///             greenwood::sleep(std::time::Duration::from_millis(1)); // fetch it
///             work.task_done().unwrap();
///         }
///     });
/// }
/// work.join(); // all three fetched
/// work.shutdown();
/// ```
pub struct JoinableQueue<T> {
    queue: Queue<T>,
}

/// [`JoinableQueue::task_done`] was called more times than items were put.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskDoneError {
    site: &'static Location<'static>,
}

impl fmt::Display for TaskDoneError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "task_done() called more times than items were put in the JoinableQueue created at {}",
            self.site
        )
    }
}

impl Error for TaskDoneError {}

impl<T> Clone for JoinableQueue<T> {
    fn clone(&self) -> Self {
        JoinableQueue {
            queue: self.queue.clone(),
        }
    }
}

impl<T> Default for JoinableQueue<T> {
    #[track_caller]
    fn default() -> Self {
        JoinableQueue::new()
    }
}

impl<T> JoinableQueue<T> {
    /// An unbounded joinable queue.
    ///
    /// # Examples
    ///
    /// ```
    /// let q: greenwood::queue::JoinableQueue<u8> = greenwood::queue::JoinableQueue::new();
    /// q.join(); // nothing unfinished
    /// ```
    #[track_caller]
    pub fn new() -> Self {
        JoinableQueue {
            queue: Queue::create(None, "JoinableQueue", Location::caller()),
        }
    }

    /// A joinable queue of at most `maxsize` items.
    ///
    /// # Examples
    ///
    /// ```
    /// let q = greenwood::queue::JoinableQueue::bounded(1);
    /// q.put(1).unwrap();
    /// assert!(q.put_nowait(2).is_err());
    /// ```
    #[track_caller]
    pub fn bounded(maxsize: usize) -> Self {
        JoinableQueue {
            queue: Queue::create(Some(maxsize), "JoinableQueue", Location::caller()),
        }
    }

    /// Marks one item taken with `get` as processed.
    ///
    /// # Errors
    ///
    /// [`TaskDoneError`] if every item put is already marked done.
    ///
    /// # Examples
    ///
    /// ```
    /// let q = greenwood::queue::JoinableQueue::new();
    /// q.put(1).unwrap();
    /// q.get();
    /// assert!(q.task_done().is_ok());
    /// assert!(q.task_done().is_err());
    /// ```
    pub fn task_done(&self) -> Result<(), TaskDoneError> {
        let inner = &self.queue.inner;
        let n = inner.unfinished.get();
        if n == 0 {
            return Err(TaskDoneError { site: inner.site });
        }
        inner.unfinished.set(n - 1);
        if n == 1 {
            inner.joiners.notify_all();
        }
        Ok(())
    }

    /// Items put and not yet marked done.
    ///
    /// # Examples
    ///
    /// ```
    /// let q = greenwood::queue::JoinableQueue::new();
    /// q.put(1).unwrap();
    /// assert_eq!(q.unfinished(), 1);
    /// ```
    pub fn unfinished(&self) -> usize {
        self.queue.inner.unfinished.get()
    }

    /// Waits until every item put has been marked done.
    ///
    /// # Panics
    ///
    /// With `LoopExit`'s message if nothing can ever finish them, and with the interrupts of
    /// [`sleep`](crate::sleep).
    ///
    /// # Examples
    ///
    /// ```
    /// let q = greenwood::queue::JoinableQueue::new();
    /// q.put(1).unwrap();
    /// let q2 = q.clone();
    /// let _w = greenwood::spawn(move || {
    ///     q2.get();
    ///     q2.task_done().unwrap();
    /// });
    /// q.join();
    /// assert_eq!(q.unfinished(), 0);
    /// ```
    pub fn join(&self) {
        let inner = &self.queue.inner;
        while inner.unfinished.get() > 0 {
            wait_on(&inner.joiners, WaitOn::Object(inner.kind, inner.site), None);
        }
    }

    /// Waits at most `timeout` for every item to be marked done.
    ///
    /// # Errors
    ///
    /// [`Elapsed`] if some are still not done by then.
    ///
    /// # Examples
    ///
    /// ```
    /// let q = greenwood::queue::JoinableQueue::new();
    /// q.put(1).unwrap();
    /// assert!(q.join_timeout(std::time::Duration::from_millis(1)).is_err());
    /// ```
    #[track_caller]
    pub fn join_timeout(&self, timeout: Duration) -> Result<(), Elapsed> {
        let inner = &self.queue.inner;
        if inner.unfinished.get() > 0 {
            wait_on(
                &inner.joiners,
                WaitOn::Object(inner.kind, inner.site),
                Some(timeout),
            );
        }
        Elapsed::check(inner.unfinished.get() == 0, timeout)
    }
}

impl<T> std::ops::Deref for JoinableQueue<T> {
    type Target = Queue<T>;

    fn deref(&self) -> &Queue<T> {
        &self.queue
    }
}

impl<T> fmt::Debug for JoinableQueue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinableQueue")
            .field("len", &self.queue.len())
            .field("unfinished", &self.unfinished())
            .finish()
    }
}

/// A rendezvous: `put` waits until a greenlet takes the item with `get` (a queue of size
/// zero; gevent's `Channel`).
///
/// # Examples
///
/// ```
/// use std::{cell::Cell, rc::Rc};
/// use greenwood::queue::Channel;
///
/// let ch = Channel::new();
/// let delivered = Rc::new(Cell::new(false));
/// let (ch2, d) = (ch.clone(), delivered.clone());
/// let sender = greenwood::spawn(move || {
///     ch2.put("hello").unwrap(); // returns only once taken
///     d.set(true);
/// });
/// greenwood::sleep(std::time::Duration::ZERO);
/// assert!(!delivered.get());
/// assert_eq!(ch.get(), Some("hello"));
/// sender.join();
/// assert!(delivered.get());
/// ```
pub struct Channel<T> {
    queue: Queue<T>,
}

impl<T> Clone for Channel<T> {
    fn clone(&self) -> Self {
        Channel {
            queue: self.queue.clone(),
        }
    }
}

impl<T> Default for Channel<T> {
    #[track_caller]
    fn default() -> Self {
        Channel::new()
    }
}

impl<T> Channel<T> {
    /// A new channel.
    ///
    /// # Examples
    ///
    /// ```
    /// let ch: greenwood::queue::Channel<u8> = greenwood::queue::Channel::new();
    /// assert!(ch.get_nowait().is_err());
    /// ```
    #[track_caller]
    pub fn new() -> Self {
        Channel {
            queue: Queue::create(Some(0), "Channel", Location::caller()),
        }
    }
}

impl<T> std::ops::Deref for Channel<T> {
    type Target = Queue<T>;

    fn deref(&self) -> &Queue<T> {
        &self.queue
    }
}

impl<T> fmt::Debug for Channel<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Channel").finish()
    }
}

/// Defines a queue type with another order: a handle to a [`Queue`] with that [`Store`],
/// which it dereferences to for every operation.
macro_rules! ordered_queue {
    ($(#[$doc:meta])* $name:ident, $store:ident, $kind:literal $(, $bound:path)?) => {
        $(#[$doc])*
        pub struct $name<T $(: $bound)?> {
            queue: Queue<T, $store<T>>,
        }

        impl<T $(: $bound)?> $name<T> {
            /// An unbounded queue.
            #[track_caller]
            pub fn new() -> Self {
                $name { queue: Queue::create(None, $kind, Location::caller()) }
            }

            /// A queue of at most `maxsize` items; `put` waits while it is full.
            #[track_caller]
            pub fn bounded(maxsize: usize) -> Self {
                $name { queue: Queue::create(Some(maxsize), $kind, Location::caller()) }
            }
        }

        impl<T $(: $bound)?> Default for $name<T> {
            #[track_caller]
            fn default() -> Self {
                $name::new()
            }
        }

        impl<T $(: $bound)?> Clone for $name<T> {
            fn clone(&self) -> Self {
                $name { queue: self.queue.clone() }
            }
        }

        impl<T $(: $bound)?> std::ops::Deref for $name<T> {
            type Target = Queue<T, $store<T>>;

            fn deref(&self) -> &Self::Target {
                &self.queue
            }
        }

        impl<T $(: $bound)?> fmt::Debug for $name<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.queue.fmt(f)
            }
        }
    };
}

ordered_queue!(
    /// A queue that hands out the newest item first; everything else as [`Queue`].
    ///
    /// # Examples
    ///
    /// ```
    /// let q = greenwood::queue::LifoQueue::new();
    /// q.put(1).unwrap();
    /// q.put(2).unwrap();
    /// assert_eq!(q.get(), Some(2));
    /// let small = greenwood::queue::LifoQueue::bounded(1);
    /// small.put(1).unwrap();
    /// assert!(small.is_full());
    /// ```
    LifoQueue,
    Lifo,
    "LifoQueue"
);

ordered_queue!(
    /// A queue that hands out the greatest item first; everything else as [`Queue`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::cmp::Reverse;
    ///
    /// let q = greenwood::queue::PriorityQueue::new();
    /// for deadline in [30, 10, 20] {
    ///     q.put(Reverse(deadline)).unwrap();
    /// }
    /// assert_eq!(q.get(), Some(Reverse(10))); // the earliest deadline first
    /// let small = greenwood::queue::PriorityQueue::bounded(1);
    /// small.put(1).unwrap();
    /// assert!(small.is_full());
    /// ```
    PriorityQueue,
    Priority,
    "PriorityQueue",
    Ord
);

macro_rules! waitable_by_its_queue {
    ($t:ident) => {
        impl<T> crate::hub::waitlist::private::Sealed for $t<T> {
            fn wait_list(&self) -> &WaitList {
                self.queue.wait_list()
            }

            fn still_ready(&self) -> bool {
                self.queue.is_ready()
            }
        }

        /// Ready when its queue is (see `Queue`'s [`Waitable`] impl).
        impl<T> Waitable for $t<T> {
            fn is_ready(&self) -> bool {
                self.queue.is_ready()
            }
        }
    };
}

waitable_by_its_queue!(JoinableQueue);
waitable_by_its_queue!(Channel);
