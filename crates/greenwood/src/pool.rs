//! Groups of greenlets: [`Group`] (track, join, kill a set, and map work over it) and
//! [`Pool`] (a group with a size limit, where adding or spawning waits for a free slot), as
//! gevent's `gevent.pool`.
//!
//! A pool's group *is* the pool: [`Pool::group`] shares the members and the slots, so adding
//! through it takes a slot too. A member leaves by itself when it finishes (freeing its slot,
//! however it finished) or when [`discard`](Group::discard)ed.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::error::Error;
use std::fmt;
use std::panic::Location;
use std::rc::Rc;
use std::time::{Duration, Instant};

use crate::error::Elapsed;
use crate::error::GreenletError;
use crate::greenlet::{AnyGreenlet, Builder, Greenlet};
use crate::lock::{Semaphore, SemaphoreGuard};

/// What the clones of a group share: its members and, for a bounded pool, its slots.
struct Core {
    /// Live members by greenlet id: a member removes itself the moment it finishes, so adding,
    /// finding and removing are O(1) and a group holds nothing of finished greenlets.
    members: RefCell<HashMap<u64, Member>>,
    /// A bounded pool's slots; `None` for a group or an unbounded pool.
    slots: Option<Semaphore>,
}

struct Member {
    g: AnyGreenlet,
    /// The pool slot it holds, freed when it leaves the group. `None` in a group, and for a
    /// greenlet of [`Group::apply_async`] still waiting for one.
    slot: Option<SemaphoreGuard>,
}

impl Core {
    fn remove(&self, id: u64) {
        let gone = self.members.borrow_mut().remove(&id);
        drop(gone); // outside the borrow: freeing a slot wakes a waiter
    }
}

/// A set of greenlets to wait for, kill, or map work over together. Finished greenlets leave
/// it by themselves.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use greenwood::pool::Group;
///
/// let group = Group::new();
/// for ms in [3, 1, 2] {
///     group.spawn(move || greenwood::sleep(Duration::from_millis(ms)));
/// }
/// assert_eq!(group.len(), 3);
/// group.join();
/// assert!(group.is_empty());
/// ```
#[derive(Clone)]
pub struct Group {
    core: Rc<Core>,
}

impl Default for Group {
    fn default() -> Group {
        Group::with_slots(None)
    }
}

impl Group {
    /// An empty group.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(greenwood::pool::Group::new().is_empty());
    /// ```
    pub fn new() -> Group {
        Group::default()
    }

    fn with_slots(slots: Option<Semaphore>) -> Group {
        Group {
            core: Rc::new(Core {
                members: RefCell::new(HashMap::new()),
                slots,
            }),
        }
    }

    /// Adds a greenlet (spawned elsewhere, or not started yet); it leaves the group when it
    /// finishes. Adding a member again, or a dead greenlet, does nothing.
    ///
    /// The group of a bounded [`Pool`] ([`Pool::group`]) first waits for a free slot, as
    /// [`Pool::add`].
    ///
    /// # Panics
    ///
    /// In a pool's group, with the interrupts of [`sleep`](crate::sleep) while it waits.
    ///
    /// # Examples
    ///
    /// ```
    /// let group = greenwood::pool::Group::new();
    /// let g = greenwood::spawn(|| ());
    /// group.add(&g);
    /// assert!(group.contains(&g));
    /// ```
    pub fn add<T: 'static>(&self, g: &Greenlet<T>) {
        if self.admits(g) {
            let slot = self.core.slots.as_ref().map(Semaphore::acquire);
            self.insert(g, slot);
        }
    }

    /// Whether adding `g` would make it a member: it is alive and not one already.
    fn admits<T: 'static>(&self, g: &Greenlet<T>) -> bool {
        !g.dead() && !self.contains(g)
    }

    /// Makes `g` a member holding `slot`; the slot goes back at once if `g` died or became a
    /// member while the caller waited for it.
    fn insert<T: 'static>(&self, g: &Greenlet<T>, slot: Option<SemaphoreGuard>) {
        if !self.admits(g) {
            return;
        }
        let id = g.id();
        let core = Rc::downgrade(&self.core);
        g.task().on_finish.borrow_mut().push(Box::new(move || {
            if let Some(core) = core.upgrade() {
                core.remove(id);
            }
        }));
        let member = Member {
            g: g.as_any(),
            slot,
        };
        self.core.members.borrow_mut().insert(id, member);
    }

    /// Adds a greenlet made by [`Greenlet::new`] or [`Builder::build`] and starts it (in a
    /// bounded pool's group, once it has a slot): gevent's `Group.start`.
    ///
    /// # Panics
    ///
    /// As [`add`](Group::add).
    ///
    /// # Examples
    ///
    /// ```
    /// let group = greenwood::pool::Group::new();
    /// let g = greenwood::Greenlet::new(|| "started by the group");
    /// group.start(&g);
    /// assert!(group.contains(&g));
    /// assert_eq!(g.get().unwrap(), "started by the group");
    /// ```
    pub fn start<T: 'static>(&self, g: &Greenlet<T>) {
        self.add(g);
        g.start();
    }

    /// Removes a greenlet without touching it; in a pool, its slot is free at once.
    ///
    /// # Examples
    ///
    /// ```
    /// let group = greenwood::pool::Group::new();
    /// let g = group.spawn(|| ());
    /// group.discard(&g);
    /// assert!(group.is_empty());
    /// ```
    pub fn discard<T: 'static>(&self, g: &Greenlet<T>) {
        self.core.remove(g.id());
    }

    /// Whether the greenlet is a member (and has not finished).
    ///
    /// # Examples
    ///
    /// ```
    /// let group = greenwood::pool::Group::new();
    /// let g = group.spawn(|| ());
    /// assert!(group.contains(&g));
    /// g.join();
    /// assert!(!group.contains(&g));
    /// ```
    pub fn contains<T: 'static>(&self, g: &Greenlet<T>) -> bool {
        self.contains_id(g.id())
    }

    fn contains_id(&self, id: u64) -> bool {
        self.core.members.borrow().contains_key(&id)
    }

    /// Spawns `f` and adds it to the group (in a bounded pool's group, first waiting for a
    /// free slot).
    ///
    /// # Panics
    ///
    /// As [`spawn`](crate::spawn), and as [`add`](Group::add) while it waits.
    ///
    /// # Examples
    ///
    /// ```
    /// let group = greenwood::pool::Group::new();
    /// let g = group.spawn(|| 2 + 2);
    /// assert_eq!(g.get().unwrap(), 4);
    /// ```
    #[track_caller]
    pub fn spawn<F, T>(&self, f: F) -> Greenlet<T>
    where
        F: FnOnce() -> T + 'static,
        T: 'static,
    {
        // The slot first: a spawner killed while it waits has made nothing.
        let slot = self.core.slots.as_ref().map(Semaphore::acquire);
        let g = crate::spawn(f);
        self.insert(&g, slot);
        g
    }

    /// Free slots now: `usize::MAX` unless this is a bounded pool's group.
    fn free_count(&self) -> usize {
        self.core
            .slots
            .as_ref()
            .map_or(usize::MAX, Semaphore::available_permits)
    }

    /// Greenlets in the group that have not finished.
    ///
    /// # Examples
    ///
    /// ```
    /// let group = greenwood::pool::Group::new();
    /// group.spawn(|| ());
    /// assert_eq!(group.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.core.members.borrow().len()
    }

    /// Whether every member has finished.
    ///
    /// # Examples
    ///
    /// ```
    /// let group = greenwood::pool::Group::new();
    /// assert!(group.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The members that have not finished.
    ///
    /// # Examples
    ///
    /// ```
    /// let group = greenwood::pool::Group::new();
    /// let g = group.spawn(|| ());
    /// assert_eq!(group.greenlets(), [g.as_any()]);
    /// ```
    pub fn greenlets(&self) -> Vec<AnyGreenlet> {
        let members = self.core.members.borrow();
        let mut all: Vec<AnyGreenlet> = members.values().map(|m| m.g.clone()).collect();
        all.sort_by_key(AnyGreenlet::id); // in the order they were made
        all
    }

    /// Waits until every member (including those added meanwhile) has finished.
    ///
    /// # Panics
    ///
    /// As [`Greenlet::join`].
    ///
    /// # Examples
    ///
    /// ```
    /// let group = greenwood::pool::Group::new();
    /// let g = group.spawn(|| greenwood::sleep(std::time::Duration::from_millis(1)));
    /// group.join();
    /// assert!(g.dead());
    /// ```
    pub fn join(&self) {
        while let Some(g) = self.first_live() {
            g.join();
        }
    }

    /// Waits at most `timeout` for every member to finish.
    ///
    /// # Errors
    ///
    /// [`Elapsed`] if some are still running by then.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let group = greenwood::pool::Group::new();
    /// group.spawn(|| greenwood::sleep(Duration::from_secs(60)));
    /// assert!(group.join_timeout(Duration::from_millis(1)).is_err());
    /// group.kill();
    /// ```
    #[track_caller]
    pub fn join_timeout(&self, timeout: Duration) -> Result<(), Elapsed> {
        let deadline = Instant::now().checked_add(timeout);
        while let Some(g) = self.first_live() {
            let left = match deadline {
                Some(d) => d.saturating_duration_since(Instant::now()),
                None => Duration::MAX,
            };
            if left.is_zero() || g.join_timeout(left).is_err() {
                return Elapsed::check(self.is_empty(), timeout);
            }
        }
        Ok(())
    }

    fn first_live(&self) -> Option<AnyGreenlet> {
        self.core
            .members
            .borrow()
            .values()
            .next()
            .map(|m| m.g.clone())
    }

    /// Kills every member and waits for them to die, killing those added meanwhile too.
    /// Members not started yet never run.
    ///
    /// # Panics
    ///
    /// As [`Greenlet::kill`].
    ///
    /// # Examples
    ///
    /// ```
    /// let group = greenwood::pool::Group::new();
    /// let g = group.spawn(|| greenwood::sleep(std::time::Duration::from_secs(60)));
    /// group.kill();
    /// assert!(g.dead() && group.is_empty());
    /// ```
    pub fn kill(&self) {
        loop {
            let all = self.greenlets();
            if all.is_empty() {
                return;
            }
            for g in &all {
                g.kill_nowait();
            }
            for g in &all {
                g.join();
            }
        }
    }

    /// Kills every member without waiting for them to die: gevent's `kill(block=False)`.
    /// They unwind when the hub next resumes them, and leave the group as they finish.
    ///
    /// # Examples
    ///
    /// ```
    /// let group = greenwood::pool::Group::new();
    /// let g = group.spawn(|| greenwood::sleep(std::time::Duration::from_secs(60)));
    /// greenwood::sleep(std::time::Duration::ZERO); // let it start and park
    /// group.kill_nowait();
    /// assert!(!g.dead());
    /// group.join();
    /// assert!(g.dead());
    /// ```
    pub fn kill_nowait(&self) {
        for g in self.greenlets() {
            g.kill_nowait();
        }
    }

    /// Kills every member and waits at most `timeout` for them to die.
    ///
    /// # Errors
    ///
    /// [`Elapsed`] if some are still alive by then (they block while unwinding).
    ///
    /// # Examples
    ///
    /// ```
    /// let group = greenwood::pool::Group::new();
    /// group.spawn(|| greenwood::sleep(std::time::Duration::from_secs(60)));
    /// assert!(group.kill_timeout(std::time::Duration::from_secs(5)).is_ok());
    /// assert!(group.is_empty());
    /// ```
    #[track_caller]
    pub fn kill_timeout(&self, timeout: Duration) -> Result<(), Elapsed> {
        self.kill_nowait();
        self.join_timeout(timeout)
    }

    /// Runs `f` in a member and waits for its result: gevent's `apply`.
    ///
    /// Called from a member of a bounded pool while the pool is full, it runs `f` in place, as
    /// gevent does: waiting for a slot would wait for the one the caller holds. `f` is then
    /// part of the caller's greenlet, so its panic is the caller's.
    ///
    /// # Errors
    ///
    /// The greenlet's failure (panic, kill, timeout).
    ///
    /// # Examples
    ///
    /// ```
    /// let group = greenwood::pool::Group::new();
    /// assert_eq!(group.apply(|| 6 * 7).unwrap(), 42);
    /// ```
    pub fn apply<F, T>(&self, f: F) -> Result<T, GreenletError>
    where
        F: FnOnce() -> T + 'static,
        T: 'static,
    {
        if self.free_count() == 0 && self.contains_id(crate::getcurrent().id()) {
            return Ok(f());
        }
        self.spawn(f).take()
    }

    /// Runs `f` in a member without waiting, and returns its handle: gevent's `apply_async`
    /// (its `callback=` is [`Greenlet::link_value`] on the handle).
    ///
    /// It never blocks, even in a full pool: the greenlet is then a member that starts once
    /// it has a slot (in turn with the spawners already waiting), so [`len`](Group::len),
    /// [`join`](Group::join) and [`kill`](Group::kill) count it from the start, and killing it
    /// first means it never runs.
    ///
    /// # Panics
    ///
    /// As [`spawn`](crate::spawn).
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = greenwood::pool::Pool::new(1);
    /// let first = pool.apply_async(|| "first");
    /// let second = pool.apply_async(|| "second"); // the pool is full: it waits, we don't
    /// assert!(!second.started());
    /// assert_eq!(pool.group().len(), 2);
    /// assert_eq!((first.get().unwrap(), second.get().unwrap()), ("first", "second"));
    /// ```
    #[track_caller]
    pub fn apply_async<F, T>(&self, f: F) -> Greenlet<T>
    where
        F: FnOnce() -> T + 'static,
        T: 'static,
    {
        let Some(slots) = &self.core.slots else {
            return self.spawn(f);
        };
        if let Some(slot) = slots.try_acquire() {
            let g = crate::spawn(f);
            self.insert(&g, Some(slot));
            return g;
        }
        let g = Greenlet::new(f);
        self.insert(&g, None);
        let (group, slots, waiting) = (self.clone(), slots.clone(), g.clone());
        let starter = match Builder::new()
            .name("apply_async: waits for a pool slot")
            .spawn(move || {
                let slot = slots.acquire();
                let mut members = group.core.members.borrow_mut();
                if let Some(m) = members.get_mut(&waiting.id()) {
                    m.slot = Some(slot);
                } // else it was discarded: it runs outside the pool, and the slot goes back
                drop(members);
                waiting.start();
            }) {
            Ok(s) => s.as_any(),
            Err(e) => crate::greenlet::spawn_failed(&e),
        };
        // Killed before it had a slot: stop waiting for one (a dead starter ignores this). It
        // dies in its own greenlet or its killer's, never in the starter, which kills nothing.
        g.task()
            .on_finish
            .borrow_mut()
            .push(Box::new(move || starter.kill_nowait()));
        g
    }

    /// Runs `f` on every item (at most the pool's size at once, in a bounded pool's group)
    /// and returns the results in input order once all are done: gevent's `map`.
    ///
    /// # Errors
    ///
    /// The first failure in input order; the other greenlets still run to their end.
    ///
    /// # Examples
    ///
    /// ```
    /// let group = greenwood::pool::Group::new();
    /// assert_eq!(group.map([1, 2, 3], |x| x * x).unwrap(), [1, 4, 9]);
    /// ```
    pub fn map<I, F, T>(&self, items: I, f: F) -> Result<Vec<T>, GreenletError>
    where
        I: IntoIterator,
        I::Item: 'static,
        F: Fn(I::Item) -> T + 'static,
        T: 'static,
    {
        self.imap(items, f).collect()
    }

    /// [`map`](Group::map) in a greenlet of its own, returned at once: gevent's `map_async`.
    /// The greenlet is not a member (in a pool it would hold a slot its own work needs); its
    /// value is `map`'s result, so `handle.take()??` gives the results or the first failure.
    ///
    /// # Panics
    ///
    /// As [`spawn`](crate::spawn).
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = greenwood::pool::Pool::new(2);
    /// let squares = pool.map_async(1..=4, |x| x * x);
    /// assert_eq!(squares.take()?.unwrap(), [1, 4, 9, 16]);
    /// # Ok::<(), greenwood::GreenletError>(())
    /// ```
    #[track_caller]
    pub fn map_async<I, F, T>(&self, items: I, f: F) -> Greenlet<Result<Vec<T>, GreenletError>>
    where
        I: IntoIterator + 'static,
        I::Item: 'static,
        F: Fn(I::Item) -> T + 'static,
        T: 'static,
    {
        let group = self.clone();
        crate::spawn(move || group.map(items, f))
    }

    /// Runs `f` on every item in members, yielding results in input order as they become
    /// available: gevent's `imap`. Lazy: it takes items from `items` only as slots free up
    /// (in a bounded pool's group), and never more than [`IMap::maxsize`] ahead of the
    /// consumer; a plain group without a `maxsize` starts them all at the first `next`.
    ///
    /// # Examples
    ///
    /// ```
    /// let group = greenwood::pool::Group::new();
    /// let squares: Vec<_> = group.imap(1..=3, |x| x * x).map(Result::unwrap).collect();
    /// assert_eq!(squares, [1, 4, 9]);
    /// ```
    pub fn imap<I, F, T>(&self, items: I, f: F) -> IMap<I::IntoIter, T>
    where
        I: IntoIterator,
        I::Item: 'static,
        F: Fn(I::Item) -> T + 'static,
        T: 'static,
    {
        IMap {
            group: self.clone(),
            items: items.into_iter(),
            f: Rc::new(f),
            running: VecDeque::new(),
            ordered: true,
            maxsize: usize::MAX,
        }
    }

    /// As [`imap`](Group::imap), but yields each result as soon as its greenlet finishes.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let group = greenwood::pool::Group::new();
    /// let order: Vec<u64> = group
    ///     .imap_unordered([30u64, 1, 15], |ms| { greenwood::sleep(Duration::from_millis(ms)); ms })
    ///     .map(Result::unwrap)
    ///     .collect();
    /// assert_eq!(order, [1, 15, 30]);
    /// ```
    pub fn imap_unordered<I, F, T>(&self, items: I, f: F) -> IMap<I::IntoIter, T>
    where
        I: IntoIterator,
        I::Item: 'static,
        F: Fn(I::Item) -> T + 'static,
        T: 'static,
    {
        let mut m = self.imap(items, f);
        m.ordered = false;
        m
    }
}

impl fmt::Debug for Group {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Group").field("len", &self.len()).finish()
    }
}

/// A [`Group`] with a size limit: adding or spawning waits while `size` members hold a slot,
/// so at most `size` run at once. Also gevent's `map`, `imap`, `imap_unordered`, `apply` and
/// their `_async` forms, bounded by the size.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use greenwood::pool::Pool;
///
/// let pool = Pool::new(10); // at most 10 downloads at a time
/// let sizes = pool.map(0..100u32, |user| {
///     greenwood::sleep(Duration::from_millis(1));
///     user * 2
/// });
/// assert_eq!(sizes.unwrap()[21], 42);
/// ```
#[derive(Clone)]
pub struct Pool {
    group: Group,
    size: Option<usize>,
    site: &'static Location<'static>,
}

impl Pool {
    /// A pool of at most `size` running greenlets.
    ///
    /// # Panics
    ///
    /// If `size` is 0: nothing could ever run (an unlimited pool is [`Pool::unbounded`]).
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = greenwood::pool::Pool::new(3);
    /// assert_eq!(pool.free_count(), 3);
    /// ```
    #[track_caller]
    pub fn new(size: usize) -> Pool {
        assert!(
            size > 0,
            "greenwood: a Pool of size 0 could never run anything; Pool::unbounded() has no limit"
        );
        Pool {
            group: Group::with_slots(Some(Semaphore::new(size))),
            size: Some(size),
            site: Location::caller(),
        }
    }

    /// A pool without a size limit, gevent's `Pool(None)`: for code that takes a pool but
    /// should not be throttled here. Nothing waits for a slot; [`free_count`](Pool::free_count)
    /// is `usize::MAX`.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = greenwood::pool::Pool::unbounded();
    /// let gs: Vec<_> = (0..1000).map(|i| pool.spawn(move || i)).collect();
    /// assert!(!pool.full());
    /// assert_eq!(pool.size(), None);
    /// pool.join();
    /// assert!(gs.iter().all(|g| g.successful()));
    /// ```
    #[track_caller]
    pub fn unbounded() -> Pool {
        Pool {
            group: Group::new(),
            size: None,
            site: Location::caller(),
        }
    }

    /// The size limit; `None` for an [`unbounded`](Pool::unbounded) pool.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(greenwood::pool::Pool::new(3).size(), Some(3));
    /// ```
    pub fn size(&self) -> Option<usize> {
        self.size
    }

    fn slots(&self) -> Option<&Semaphore> {
        self.group.core.slots.as_ref()
    }

    /// Adds a greenlet (spawned elsewhere, or not started yet), first waiting for a free
    /// slot (FIFO among waiting spawners): gevent's `Pool.add`. It holds the slot until it
    /// finishes or is [`discard`](Pool::discard)ed. Adding a member again, or a dead
    /// greenlet, does nothing and takes no slot.
    ///
    /// # Panics
    ///
    /// With the interrupts of [`sleep`](crate::sleep) while it waits.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = greenwood::pool::Pool::new(2);
    /// let g = greenwood::spawn(|| ());
    /// pool.add(&g);
    /// assert_eq!(pool.free_count(), 1);
    /// g.join();
    /// assert_eq!(pool.free_count(), 2);
    /// ```
    pub fn add<T: 'static>(&self, g: &Greenlet<T>) {
        self.group.add(g);
    }

    /// Adds a greenlet if a slot is free now: gevent's `add(blocking=False)`.
    ///
    /// # Errors
    ///
    /// [`PoolFull`] if every slot is taken (the greenlet is not added).
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = greenwood::pool::Pool::new(1);
    /// pool.spawn(|| greenwood::sleep(std::time::Duration::from_secs(60)));
    /// let g = greenwood::Greenlet::new(|| ());
    /// assert!(pool.try_add(&g).is_err());
    /// pool.kill();
    /// assert!(pool.try_add(&g).is_ok());
    /// ```
    pub fn try_add<T: 'static>(&self, g: &Greenlet<T>) -> Result<(), PoolFull> {
        if !self.group.admits(g) {
            return Ok(());
        }
        let slot = match self.slots() {
            None => None,
            Some(slots) => Some(slots.try_acquire().ok_or(PoolFull {
                size: self.size.unwrap_or(0),
            })?),
        };
        self.group.insert(g, slot);
        Ok(())
    }

    /// Adds a greenlet, waiting at most `timeout` for a free slot: gevent's
    /// `add(timeout=...)`.
    ///
    /// # Errors
    ///
    /// [`Elapsed`] if no slot freed up in time (the greenlet is not added).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let pool = greenwood::pool::Pool::new(1);
    /// pool.spawn(|| greenwood::sleep(Duration::from_millis(2)));
    /// let g = greenwood::Greenlet::new(|| "in the pool");
    /// pool.add_timeout(&g, Duration::from_secs(5)).unwrap(); // the first one ends in time
    /// g.start();
    /// assert_eq!(g.get().unwrap(), "in the pool");
    /// ```
    #[track_caller]
    pub fn add_timeout<T: 'static>(
        &self,
        g: &Greenlet<T>,
        timeout: Duration,
    ) -> Result<(), Elapsed> {
        if !self.group.admits(g) {
            return Ok(());
        }
        let slot = match self.slots() {
            None => None,
            Some(slots) => Some(slots.acquire_timeout(timeout)?),
        };
        self.group.insert(g, slot);
        Ok(())
    }

    /// Adds a greenlet made by [`Greenlet::new`] or [`Builder::build`] once a slot is free,
    /// and starts it: gevent's `Pool.start`.
    ///
    /// # Panics
    ///
    /// As [`add`](Pool::add).
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = greenwood::pool::Pool::new(1);
    /// let g = greenwood::Greenlet::new(|| 7);
    /// pool.start(&g);
    /// assert!(pool.full());
    /// assert_eq!(g.get().unwrap(), 7);
    /// ```
    pub fn start<T: 'static>(&self, g: &Greenlet<T>) {
        self.group.start(g);
    }

    /// As [`Group::discard`]: the greenlet leaves the pool (it goes on running) and its slot
    /// is free at once.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = greenwood::pool::Pool::new(1);
    /// let g = pool.spawn(|| greenwood::sleep(std::time::Duration::from_millis(5)));
    /// pool.discard(&g);
    /// assert_eq!(pool.free_count(), 1);
    /// g.join();
    /// assert!(g.successful());
    /// ```
    pub fn discard<T: 'static>(&self, g: &Greenlet<T>) {
        self.group.discard(g);
    }

    /// Spawns `f` in the pool, first waiting for a free slot (FIFO among waiting spawners).
    /// The slot is freed when the greenlet finishes, however it finishes.
    ///
    /// # Panics
    ///
    /// As [`spawn`](crate::spawn), and with the interrupts of [`sleep`](crate::sleep) while
    /// waiting for a slot.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = greenwood::pool::Pool::new(1);
    /// let a = pool.spawn(|| greenwood::sleep(std::time::Duration::from_millis(1)));
    /// let b = pool.spawn(|| ()); // waits until `a` finishes
    /// assert!(a.dead());
    /// b.join();
    /// ```
    #[track_caller]
    pub fn spawn<F, T>(&self, f: F) -> Greenlet<T>
    where
        F: FnOnce() -> T + 'static,
        T: 'static,
    {
        self.group.spawn(f)
    }

    /// Free slots now (`usize::MAX` for an [`unbounded`](Pool::unbounded) pool).
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = greenwood::pool::Pool::new(2);
    /// pool.spawn(|| ());
    /// assert_eq!(pool.free_count(), 1);
    /// ```
    pub fn free_count(&self) -> usize {
        self.group.free_count()
    }

    /// Whether every slot is taken (never, for an unbounded pool).
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = greenwood::pool::Pool::new(1);
    /// pool.spawn(|| ());
    /// assert!(pool.full());
    /// ```
    pub fn full(&self) -> bool {
        self.free_count() == 0
    }

    /// Waits until a slot is free.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = greenwood::pool::Pool::new(1);
    /// pool.spawn(|| greenwood::sleep(std::time::Duration::from_millis(2)));
    /// pool.wait_available();
    /// assert!(!pool.full());
    /// ```
    pub fn wait_available(&self) {
        // Give the slot back at once (to the next waiter, if any): we only wanted to know.
        if let Some(slots) = self.slots() {
            drop(slots.acquire());
        }
    }

    /// Waits at most `timeout` until a slot is free.
    ///
    /// # Errors
    ///
    /// [`Elapsed`] if every slot is still taken by then.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = greenwood::pool::Pool::new(1);
    /// pool.spawn(|| greenwood::sleep(std::time::Duration::from_secs(60)));
    /// assert!(pool.wait_available_timeout(std::time::Duration::from_millis(1)).is_err());
    /// pool.kill();
    /// ```
    #[track_caller]
    pub fn wait_available_timeout(&self, timeout: Duration) -> Result<(), Elapsed> {
        match self.slots() {
            Some(slots) => slots.acquire_timeout(timeout).map(drop),
            None => Ok(()),
        }
    }

    /// As [`Group::apply`]: runs `f` in the pool and waits for its result (in place, when
    /// called from a member of the full pool).
    ///
    /// # Errors
    ///
    /// The greenlet's failure (panic, kill, timeout).
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = greenwood::pool::Pool::new(2);
    /// assert_eq!(pool.apply(|| 6 * 7).unwrap(), 42);
    /// ```
    pub fn apply<F, T>(&self, f: F) -> Result<T, GreenletError>
    where
        F: FnOnce() -> T + 'static,
        T: 'static,
    {
        self.group.apply(f)
    }

    /// As [`Group::apply_async`]: never blocks; in a full pool the greenlet is a member that
    /// starts when it has a slot.
    ///
    /// # Panics
    ///
    /// As [`spawn`](crate::spawn).
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = greenwood::pool::Pool::new(2);
    /// let g = pool.apply_async(|| 6 * 7);
    /// assert_eq!(g.get().unwrap(), 42);
    /// ```
    #[track_caller]
    pub fn apply_async<F, T>(&self, f: F) -> Greenlet<T>
    where
        F: FnOnce() -> T + 'static,
        T: 'static,
    {
        self.group.apply_async(f)
    }

    /// As [`Group::map`], at most `size` at once.
    ///
    /// # Errors
    ///
    /// The first failure in input order; the other greenlets still run to their end.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = greenwood::pool::Pool::new(4);
    /// assert_eq!(pool.map([1, 2, 3], |x| x * x).unwrap(), [1, 4, 9]);
    /// ```
    pub fn map<I, F, T>(&self, items: I, f: F) -> Result<Vec<T>, GreenletError>
    where
        I: IntoIterator,
        I::Item: 'static,
        F: Fn(I::Item) -> T + 'static,
        T: 'static,
    {
        self.group.map(items, f)
    }

    /// As [`Group::map_async`].
    ///
    /// # Panics
    ///
    /// As [`spawn`](crate::spawn).
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = greenwood::pool::Pool::new(4);
    /// let g = pool.map_async(vec![1, 2, 3], |x| x + 1);
    /// assert_eq!(g.take().unwrap().unwrap(), [2, 3, 4]);
    /// ```
    #[track_caller]
    pub fn map_async<I, F, T>(&self, items: I, f: F) -> Greenlet<Result<Vec<T>, GreenletError>>
    where
        I: IntoIterator + 'static,
        I::Item: 'static,
        F: Fn(I::Item) -> T + 'static,
        T: 'static,
    {
        self.group.map_async(items, f)
    }

    /// As [`Group::imap`]: at most `size` at once, taking items only as slots free up.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = greenwood::pool::Pool::new(2);
    /// let squares: Vec<_> = pool.imap(1..=3, |x| x * x).map(Result::unwrap).collect();
    /// assert_eq!(squares, [1, 4, 9]);
    /// ```
    pub fn imap<I, F, T>(&self, items: I, f: F) -> IMap<I::IntoIter, T>
    where
        I: IntoIterator,
        I::Item: 'static,
        F: Fn(I::Item) -> T + 'static,
        T: 'static,
    {
        self.group.imap(items, f)
    }

    /// As [`Group::imap_unordered`], at most `size` at once.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let pool = greenwood::pool::Pool::new(3);
    /// let order: Vec<u64> = pool
    ///     .imap_unordered([30u64, 1, 15], |ms| { greenwood::sleep(Duration::from_millis(ms)); ms })
    ///     .map(Result::unwrap)
    ///     .collect();
    /// assert_eq!(order, [1, 15, 30]);
    /// ```
    pub fn imap_unordered<I, F, T>(&self, items: I, f: F) -> IMap<I::IntoIter, T>
    where
        I: IntoIterator,
        I::Item: 'static,
        F: Fn(I::Item) -> T + 'static,
        T: 'static,
    {
        self.group.imap_unordered(items, f)
    }

    /// As [`Group::join`].
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = greenwood::pool::Pool::new(2);
    /// pool.spawn(|| ());
    /// pool.join();
    /// assert_eq!(pool.free_count(), 2);
    /// ```
    pub fn join(&self) {
        self.group.join();
    }

    /// As [`Group::join_timeout`].
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = greenwood::pool::Pool::new(1);
    /// pool.spawn(|| ());
    /// assert!(pool.join_timeout(std::time::Duration::from_secs(1)).is_ok());
    /// ```
    #[track_caller]
    pub fn join_timeout(&self, timeout: Duration) -> Result<(), Elapsed> {
        self.group.join_timeout(timeout)
    }

    /// As [`Group::kill`]; every slot is free afterwards.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = greenwood::pool::Pool::new(1);
    /// pool.spawn(|| greenwood::sleep(std::time::Duration::from_secs(60)));
    /// pool.kill();
    /// assert_eq!(pool.free_count(), 1);
    /// ```
    pub fn kill(&self) {
        self.group.kill();
    }

    /// As [`Group::kill_nowait`]: each slot frees as its greenlet finishes unwinding.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = greenwood::pool::Pool::new(1);
    /// pool.spawn(|| greenwood::sleep(std::time::Duration::from_secs(60)));
    /// greenwood::sleep(std::time::Duration::ZERO);
    /// pool.kill_nowait();
    /// pool.wait_available();
    /// assert!(pool.group().is_empty());
    /// ```
    pub fn kill_nowait(&self) {
        self.group.kill_nowait();
    }

    /// As [`Group::kill_timeout`].
    ///
    /// # Errors
    ///
    /// [`Elapsed`] if some are still alive by then.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = greenwood::pool::Pool::new(1);
    /// pool.spawn(|| greenwood::sleep(std::time::Duration::from_secs(60)));
    /// assert!(pool.kill_timeout(std::time::Duration::from_secs(5)).is_ok());
    /// ```
    #[track_caller]
    pub fn kill_timeout(&self, timeout: Duration) -> Result<(), Elapsed> {
        self.group.kill_timeout(timeout)
    }

    /// The members, as a [`Group`] that shares them and the slots (adding through it takes a
    /// slot too).
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = greenwood::pool::Pool::new(1);
    /// pool.spawn(|| ());
    /// assert_eq!(pool.group().len(), 1);
    /// ```
    pub fn group(&self) -> &Group {
        &self.group
    }
}

impl fmt::Debug for Pool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("size", &self.size)
            .field("free", &self.free_count())
            .field("created_at", &self.site)
            .finish()
    }
}

/// [`Pool::try_add`] found every slot taken.
///
/// # Examples
///
/// ```
/// let pool = greenwood::pool::Pool::new(1);
/// pool.spawn(|| ());
/// let err = pool.try_add(&greenwood::Greenlet::new(|| ())).unwrap_err();
/// assert_eq!(err.size(), 1);
/// assert!(err.to_string().contains("all 1 slots"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PoolFull {
    size: usize,
}

impl PoolFull {
    /// The pool's size.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = greenwood::pool::Pool::new(2);
    /// pool.spawn(|| ());
    /// pool.spawn(|| ());
    /// assert_eq!(pool.try_add(&greenwood::spawn(|| ())).unwrap_err().size(), 2);
    /// ```
    pub fn size(&self) -> usize {
        self.size
    }
}

impl fmt::Display for PoolFull {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the pool is full: all {} slots are taken (Pool::add waits for one, add_timeout waits a while)",
            self.size
        )
    }
}

impl Error for PoolFull {}

type MapFn<X, T> = Rc<dyn Fn(X) -> T>;

/// Results of [`Group::imap`] and [`Group::imap_unordered`] (and the pool's).
///
/// Dropping it leaves the greenlets it started running, as members.
pub struct IMap<I: Iterator, T> {
    group: Group,
    items: I,
    f: MapFn<I::Item, T>,
    /// Started, in input order, and not yet yielded (running, or done and waiting).
    running: VecDeque<Greenlet<T>>,
    ordered: bool,
    maxsize: usize,
}

impl<I, T> IMap<I, T>
where
    I: Iterator,
    I::Item: 'static,
    T: 'static,
{
    /// Bounds the read-ahead: at most `n` results are running or waiting for the consumer at
    /// once, gevent's `imap(maxsize=n)`. Without it a plain group runs every item at once,
    /// and a pool as many as it has free slots.
    ///
    /// # Panics
    ///
    /// If `n` is 0: nothing could ever run.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::{cell::Cell, rc::Rc};
    ///
    /// let group = greenwood::pool::Group::new();
    /// let started = Rc::new(Cell::new(0));
    /// let s = started.clone();
    /// let mut results = group.imap(0..100, move |x| { s.set(s.get() + 1); x }).maxsize(3);
    /// assert_eq!(results.next().unwrap().unwrap(), 0);
    /// assert!(started.get() <= 3);
    /// assert_eq!(results.count(), 99);
    /// ```
    pub fn maxsize(mut self, n: usize) -> Self {
        assert!(
            n > 0,
            "greenwood: an imap with maxsize 0 could never run anything; pass at least 1"
        );
        self.maxsize = n;
        self
    }

    /// Starts greenlets for the next items while there is room (at least one if none runs).
    fn fill(&mut self) {
        while self.running.len() < self.maxsize
            && (self.running.is_empty() || self.group.free_count() > 0)
        {
            let Some(item) = self.items.next() else {
                return;
            };
            let f = self.f.clone();
            self.running.push_back(self.group.spawn(move || f(item)));
        }
    }
}

impl<I, T> Iterator for IMap<I, T>
where
    I: Iterator,
    I::Item: 'static,
    T: 'static,
{
    type Item = Result<T, GreenletError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.fill();
        let first = self.running.front()?.clone();
        let g = if self.ordered {
            // While the first result is pending, keep the slots of those done before it busy.
            // (The next call fills the slot the first one frees.)
            while !first.dead() {
                let live: Vec<Greenlet<T>> =
                    self.running.iter().filter(|g| !g.dead()).cloned().collect();
                crate::wait_count(&live, 1, None);
                if !first.dead() {
                    self.fill();
                }
            }
            self.running.pop_front()?
        } else {
            let running: Vec<_> = self.running.iter().cloned().collect();
            let i = crate::wait_count(&running, 1, None)[0];
            self.running.remove(i)?
        };
        Some(g.take())
    }
}

impl<I: Iterator, T> fmt::Debug for IMap<I, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IMap")
            .field("running", &self.running.len())
            .field("ordered", &self.ordered)
            .field("maxsize", &self.maxsize)
            .finish()
    }
}
