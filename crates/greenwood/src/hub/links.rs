//! Raw links: callbacks that the hub runs when an object becomes ready (gevent's `rawlink`),
//! for [`Event`](crate::event::Event), [`AsyncResult`](crate::event::AsyncResult) and
//! [`Semaphore`](crate::lock::Semaphore).
//!
//! A link runs once, on the hub, in a turn after the one that made the object ready, with
//! the object: like a greenlet's [`link`](crate::Greenlet::link), so it must not block. The
//! links of one readiness run one at a time in the order they were added, taken from the
//! list as they run, so one that unlinks a later one (or an `unlink` made meanwhile) keeps
//! it from running. The list lives in the object, and a scheduled run holds the object: no
//! reference cycle keeps an object alive through its own links.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::panic::{self, AssertUnwindSafe};

use crate::greenlet::LinkId;
use crate::hub::{self, report};

type Callback<O> = Box<dyn FnOnce(&O)>;

pub(crate) struct Links<O> {
    list: RefCell<VecDeque<(LinkId, Callback<O>)>>,
    /// A run is in the hub's ready queue.
    scheduled: Cell<bool>,
}

impl<O> Default for Links<O> {
    fn default() -> Self {
        Links {
            list: RefCell::new(VecDeque::new()),
            scheduled: Cell::new(false),
        }
    }
}

impl<O: Clone + 'static> Links<O> {
    /// Adds `f`; it runs at the next readiness (`fire`).
    pub(crate) fn add(&self, f: Callback<O>) -> LinkId {
        let id = LinkId::next();
        self.list.borrow_mut().push_back((id, f));
        id
    }

    /// Removes a link that has not run; false if it ran or was never here.
    pub(crate) fn remove(&self, id: LinkId) -> bool {
        let mut list = self.list.borrow_mut();
        let before = list.len();
        list.retain(|(i, _)| *i != id);
        before != list.len()
    }

    /// Links waiting to run.
    pub(crate) fn len(&self) -> usize {
        self.list.borrow().len()
    }

    /// Schedules the links to run on the hub with `owner`; `links` finds this list in it.
    pub(crate) fn fire(&self, owner: &O, what: &'static str, links: fn(&O) -> &Links<O>) {
        if self.list.borrow().is_empty() || self.scheduled.replace(true) {
            return;
        }
        let owner = owner.clone();
        hub::push_call(Box::new(move || {
            let list = links(&owner);
            list.scheduled.set(false);
            loop {
                let next = list.list.borrow_mut().pop_front();
                let Some((_, f)) = next else { break };
                if let Err(p) = panic::catch_unwind(AssertUnwindSafe(|| f(&owner))) {
                    report::emit(
                        report::ReportKind::CallbackPanicked,
                        format!(
                            "a rawlink callback of {what} panicked{}",
                            report::caught(&*p)
                        ),
                    );
                }
            }
        }));
    }
}
