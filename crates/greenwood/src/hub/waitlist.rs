//! Wait lists: who to wake when something becomes ready. Every waitable object (a greenlet's
//! end, and the events, locks and queues built on the hub) keeps one.
//!
//! Entries are either a [`Waker`] for one parked greenlet, or a slot in a [`Collector`] that
//! `wait`/`iwait` use to learn *which* of many objects became ready without rescanning them
//! all. An entry is removed by key when its waiter gives up (timeout, kill), so lists do not
//! grow with abandoned waits; a wake-up that races with such an exit is made harmless by the
//! waker's park sequence number.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;
use std::time::Duration;

use crate::hub::task::{WaitOn, Waker};
use crate::hub::wait_for;

/// What to do when the object becomes ready.
pub(crate) enum Notify {
    Wake(Waker),
    Collect(Rc<Collector>, usize),
}

impl Notify {
    fn notify(self) -> bool {
        match self {
            Notify::Wake(w) => w.wake_owned(),
            Notify::Collect(c, index) => {
                c.push(index);
                true
            }
        }
    }
}

/// Gathers the indices of the objects that became ready, for one waiting greenlet.
pub(crate) struct Collector {
    fired: RefCell<VecDeque<usize>>,
    waker: RefCell<Option<Waker>>,
}

impl Collector {
    pub(crate) fn new() -> Rc<Collector> {
        Rc::new(Collector {
            fired: RefCell::new(VecDeque::new()),
            waker: RefCell::new(None),
        })
    }

    /// Records that object `index` is ready and wakes the waiter.
    pub(crate) fn push(&self, index: usize) {
        self.fired.borrow_mut().push_back(index);
        let w = self.waker.borrow().clone();
        if let Some(w) = w {
            w.wake();
        }
    }

    pub(crate) fn pop(&self) -> Option<usize> {
        self.fired.borrow_mut().pop_front()
    }

    /// Who to wake on the next push (the waiter, just before it parks).
    pub(crate) fn set_waker(&self, w: Option<Waker>) {
        *self.waker.borrow_mut() = w;
    }
}

/// Who to wake when an object becomes ready. `pub` only so the sealed [`Waitable`] trait can
/// name it; the module is private.
///
/// Most lists have zero or one waiter (a greenlet's joiner, a lock's next owner), so the
/// oldest entry is kept inline and only the others go to a heap queue.
#[derive(Default)]
pub struct WaitList {
    entries: RefCell<Entries>,
    next_key: Cell<u64>,
    /// Every key below this has left the list (notified): removing one needs no search.
    gone_below: Cell<u64>,
}

#[derive(Default)]
struct Entries {
    /// The oldest entry; `None` only when `rest` is empty too.
    first: Option<(u64, Notify)>,
    rest: VecDeque<(u64, Notify)>,
}

impl Entries {
    fn pop_front(&mut self) -> Option<(u64, Notify)> {
        let front = self.first.take();
        self.first = self.rest.pop_front();
        front
    }

    fn len(&self) -> usize {
        usize::from(self.first.is_some()) + self.rest.len()
    }
}

impl WaitList {
    pub(crate) fn new() -> WaitList {
        WaitList::default()
    }

    /// Adds a waiter at the back; the key removes it.
    pub(crate) fn add(&self, n: Notify) -> u64 {
        let key = self.next_key.get();
        self.next_key.set(key + 1);
        let mut e = self.entries.borrow_mut();
        if e.first.is_none() {
            e.first = Some((key, n));
        } else {
            e.rest.push_back((key, n));
        }
        key
    }

    /// Removes a waiter that gave up; false if it was already notified.
    pub(crate) fn remove(&self, key: u64) -> bool {
        if key < self.gone_below.get() {
            return false;
        }
        let removed = {
            let mut e = self.entries.borrow_mut();
            if e.first.as_ref().is_some_and(|(k, _)| *k == key) {
                e.pop_front()
            } else {
                // Waiters that give up are usually the most recent ones.
                match e.rest.iter().rposition(|(k, _)| *k == key) {
                    Some(i) => e.rest.remove(i),
                    None => None,
                }
            }
        };
        removed.is_some()
    }

    /// Notifies every waiter, in the order they arrived.
    pub(crate) fn notify_all(&self) {
        self.gone_below.set(self.next_key.get());
        // An I/O event notifies both directions' lists, and one of them is nearly always
        // empty: leave the (unallocated) queue alone unless there is something in it.
        let (first, rest) = {
            let mut e = self.entries.borrow_mut();
            let Some(first) = e.first.take() else {
                return;
            };
            let rest = (!e.rest.is_empty()).then(|| std::mem::take(&mut e.rest));
            (first, rest)
        };
        first.1.notify();
        if let Some(rest) = rest {
            for (_, n) in rest {
                n.notify();
            }
        }
    }
}

impl std::fmt::Debug for WaitList {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WaitList")
            .field("waiters", &self.entries.borrow().len())
            .finish()
    }
}

/// Something a greenlet can wait on with [`wait`](fn@crate::wait) and [`iwait`](crate::iwait),
/// so that one greenlet waits for whichever of several comes first: greenlets (finished), [`Event`](crate::event::Event)
/// and [`AsyncResult`](crate::event::AsyncResult) (set), queues (an item to get, or shut
/// down), sockets (readable: data, end of file or an error to read; listeners: a connection
/// to accept), [`Signals`](crate::signal::Signals) (a signal arrived) and thread-pool
/// results (the job finished). Sealed: only greenwood's types implement it.
///
/// # Examples
///
/// ```
/// use greenwood::Waitable;
///
/// let g = greenwood::spawn(|| ());
/// assert!(!g.is_ready());
/// let objects: [&dyn Waitable; 1] = [&g];
/// greenwood::wait(&objects);
/// assert!(g.is_ready());
/// ```
pub trait Waitable: private::Sealed {
    /// Whether waiting on it would return at once.
    fn is_ready(&self) -> bool;
}

pub(crate) mod private {
    pub trait Sealed {
        #[doc(hidden)]
        fn wait_list(&self) -> &crate::hub::waitlist::WaitList;

        /// Whether a notification still means ready when the waiter gets to run. Levels (a
        /// queue's item, a socket's data, a pending signal) can be taken by someone else
        /// meanwhile; ends and events count as they were notified.
        #[doc(hidden)]
        fn still_ready(&self) -> bool {
            true
        }
    }
}

impl<W: Waitable + ?Sized> private::Sealed for &W {
    fn wait_list(&self) -> &WaitList {
        (**self).wait_list()
    }

    fn still_ready(&self) -> bool {
        (**self).still_ready()
    }
}

impl<W: Waitable + ?Sized> Waitable for &W {
    fn is_ready(&self) -> bool {
        (**self).is_ready()
    }
}

/// Removes a waiter from its list when dropped, so a waiter that unwinds (kill, timeout) or
/// gives up leaves nothing behind.
pub(crate) struct Registration<'a> {
    list: &'a WaitList,
    key: u64,
}

impl<'a> Registration<'a> {
    pub(crate) fn new(list: &'a WaitList, n: Notify) -> Registration<'a> {
        Registration {
            key: list.add(n),
            list,
        }
    }
}

/// Parks the current greenlet on `list` until it is notified, `timeout` passes, or an
/// interrupt (kill, timeout) unwinds it; whatever happens, it leaves the list. Callers look at
/// their condition again afterwards: a notification and a timeout can race, so "was I
/// notified" has no reliable answer here (the hand-off queue gives one where it matters).
pub(crate) fn wait_on(list: &WaitList, what: WaitOn, timeout: Option<Duration>) {
    wait_for(what, timeout, |waker| {
        Registration::new(list, Notify::Wake(waker))
    });
}

impl Drop for Registration<'_> {
    fn drop(&mut self) {
        self.list.remove(self.key);
    }
}
