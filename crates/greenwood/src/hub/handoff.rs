//! A FIFO of parked greenlets, each waiting to be handed something: a permit, an item, a
//! lock. The giver puts the thing straight into the oldest waiter's slot, so nobody can barge
//! in between the wake-up and the waiter running (FIFO fairness), and the waiter knows for
//! certain whether it was given something.
//!
//! Cancellation loses nothing: a thing is only handed to a waiter that is still parked (its
//! wake-up succeeds), and a greenlet woken that way is never interrupted before it returns
//! from its park (interrupts then wait for its next blocking point), so it always collects
//! what it was given. A waiter that leaves without being given anything (timeout, kill)
//! removes its slot; the giver skips slots whose wake-up fails.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;
use std::time::Duration;

use crate::hub::task::{WaitOn, Waker};
use crate::hub::wait_for;

struct Slot<T> {
    waker: Cell<Option<Waker>>,
    given: Cell<Option<T>>,
    /// Taken out of the queue by a giver: leaving needs no search.
    popped: Cell<bool>,
}

pub(crate) struct HandOff<T> {
    waiters: RefCell<VecDeque<Rc<Slot<T>>>>,
    /// Slots of finished waits, reused: a contended semaphore otherwise allocates one per
    /// wait.
    spare: RefCell<Vec<Rc<Slot<T>>>>,
}

/// Spare slots kept per queue.
const SPARE: usize = 64;

impl<T> Default for HandOff<T> {
    fn default() -> Self {
        HandOff {
            waiters: RefCell::new(VecDeque::new()),
            spare: RefCell::new(Vec::new()),
        }
    }
}

impl<T> Slot<T> {
    fn wake(&self) -> bool {
        self.popped.set(true);
        self.waker.take().is_some_and(|w| w.wake_owned())
    }
}

impl<T> HandOff<T> {
    /// Gives `thing` to the oldest greenlet still waiting, or gives it back if there is none.
    pub(crate) fn give(&self, thing: T) -> Result<(), T> {
        loop {
            let front = self.waiters.borrow_mut().pop_front();
            let Some(slot) = front else {
                return Err(thing);
            };
            if slot.wake() {
                slot.given.set(Some(thing));
                return Ok(());
            }
            // That waiter is leaving (timed out or killed while parked): skip it.
        }
    }

    /// Wakes the oldest greenlet still waiting without giving it anything (it finds `None`);
    /// false if none was left.
    pub(crate) fn wake_one_empty(&self) -> bool {
        loop {
            let front = self.waiters.borrow_mut().pop_front();
            let Some(slot) = front else {
                return false;
            };
            if slot.wake() {
                return true;
            }
        }
    }

    /// Greenlets waiting, counting those on their way out.
    pub(crate) fn len(&self) -> usize {
        self.waiters.borrow().len()
    }

    /// Parks the current greenlet at the back of the queue until it is given something or
    /// `timeout` passes (`None` then). An interrupt unwinds it as usual, leaving nothing behind.
    pub(crate) fn wait(&self, what: WaitOn, timeout: Option<Duration>) -> Option<T> {
        let slot = self.spare.borrow_mut().pop().unwrap_or_else(|| {
            Rc::new(Slot {
                waker: Cell::new(None),
                given: Cell::new(None),
                popped: Cell::new(false),
            })
        });
        wait_for(what, timeout, |waker| {
            slot.waker.set(Some(waker));
            slot.popped.set(false);
            self.waiters.borrow_mut().push_back(slot.clone());
            Leave {
                queue: self,
                slot: &slot,
            }
        });
        let given = slot.given.take();
        // Out of the line and ours alone again: keep it for the next wait.
        if Rc::strong_count(&slot) == 1 {
            drop(slot.waker.take());
            let mut spare = self.spare.borrow_mut();
            if spare.len() < SPARE {
                spare.push(slot);
            }
        }
        given
    }
}

/// Takes a waiter's slot out of the queue when it stops waiting, however it stops.
struct Leave<'a, T> {
    queue: &'a HandOff<T>,
    slot: &'a Rc<Slot<T>>,
}

impl<T> Drop for Leave<'_, T> {
    fn drop(&mut self) {
        if self.slot.popped.get() {
            return;
        }
        let mut waiters = self.queue.waiters.borrow_mut();
        if let Some(i) = waiters.iter().rposition(|s| Rc::ptr_eq(s, self.slot)) {
            waiters.remove(i);
        }
    }
}
