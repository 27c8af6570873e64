//! Groups of greenlets: [`Group`] (track, join, kill a set) and [`Pool`] (a group with a size
//! limit, where `spawn` waits for a free slot), as gevent's `gevent.pool`.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::panic::Location;
use std::rc::Rc;
use std::time::{Duration, Instant};

use crate::error::Elapsed;
use crate::error::GreenletError;
use crate::greenlet::{AnyGreenlet, Builder, Greenlet};
use crate::lock::{Semaphore, SemaphoreGuard};

/// A set of greenlets to wait for or kill together. Finished greenlets leave it by themselves.
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
#[derive(Clone, Default)]
pub struct Group {
    /// Live members by greenlet id: a member removes itself the moment it finishes, so adding,
    /// finding and removing are O(1) and a group holds nothing of finished greenlets.
    members: Rc<RefCell<HashMap<u64, AnyGreenlet>>>,
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

    /// Adds a greenlet (spawned elsewhere); it leaves the group when it finishes.
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
        let id = g.id();
        if g.dead() || self.members.borrow().contains_key(&id) {
            return;
        }
        let members = Rc::downgrade(&self.members);
        g.task().on_finish.borrow_mut().push(Box::new(move || {
            if let Some(m) = members.upgrade() {
                let gone = m.borrow_mut().remove(&id);
                drop(gone); // outside the borrow
            }
        }));
        self.members.borrow_mut().insert(id, g.as_any());
    }

    /// Removes a greenlet without touching it.
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
        let gone = self.members.borrow_mut().remove(&g.id());
        drop(gone);
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
        self.members.borrow().contains_key(&id)
    }

    /// Spawns `f` and adds it to the group.
    ///
    /// # Panics
    ///
    /// As [`spawn`](crate::spawn).
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
        let g = crate::spawn(f);
        self.add(&g);
        g
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
        self.members.borrow().len()
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
        let mut all: Vec<AnyGreenlet> = self.members.borrow().values().cloned().collect();
        all.sort_by_key(AnyGreenlet::id); // in the order they were spawned
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
        self.members.borrow().values().next().cloned()
    }

    /// Kills every member and waits for them to die.
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
        for g in self.greenlets() {
            g.kill_nowait();
        }
        self.join();
    }
}

impl fmt::Debug for Group {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Group").field("len", &self.len()).finish()
    }
}

/// A [`Group`] with a size limit: [`spawn`](Pool::spawn) waits while `size` members are
/// running, so at most `size` run at once. Also gevent's `map`, `imap`, `imap_unordered`
/// and `apply`.
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
    slots: Semaphore,
    size: usize,
    site: &'static Location<'static>,
}

impl Pool {
    /// A pool of at most `size` running greenlets.
    ///
    /// # Panics
    ///
    /// If `size` is 0: nothing could ever run.
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
            "greenwood: a Pool of size 0 could never run anything"
        );
        Pool {
            group: Group::new(),
            slots: Semaphore::new(size),
            size,
            site: Location::caller(),
        }
    }

    /// The size limit.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(greenwood::pool::Pool::new(3).size(), 3);
    /// ```
    pub fn size(&self) -> usize {
        self.size
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
        let slot = self.slots.acquire();
        self.spawn_with(slot, f)
    }

    #[track_caller]
    fn spawn_with<F, T>(&self, slot: SemaphoreGuard, f: F) -> Greenlet<T>
    where
        F: FnOnce() -> T + 'static,
        T: 'static,
    {
        let g = match Builder::new().spawn(move || {
            let _slot = slot;
            f()
        }) {
            Ok(g) => g,
            Err(e) => crate::greenlet::spawn_failed(&e),
        };
        self.group.add(&g);
        g
    }

    /// Free slots now.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = greenwood::pool::Pool::new(2);
    /// pool.spawn(|| ());
    /// assert_eq!(pool.free_count(), 1);
    /// ```
    pub fn free_count(&self) -> usize {
        self.slots.available_permits()
    }

    /// Whether every slot is taken.
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
        drop(self.slots.acquire());
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
        self.slots.acquire_timeout(timeout).map(drop)
    }

    /// Runs `f` in the pool and waits for its result (gevent's `apply`).
    ///
    /// Called from a member of this pool while the pool is full, it runs `f` in place, as
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
    /// let pool = greenwood::pool::Pool::new(2);
    /// assert_eq!(pool.apply(|| 6 * 7).unwrap(), 42);
    /// ```
    pub fn apply<F, T>(&self, f: F) -> Result<T, GreenletError>
    where
        F: FnOnce() -> T + 'static,
        T: 'static,
    {
        if self.full() && self.group.contains_id(crate::getcurrent().id()) {
            return Ok(f());
        }
        self.spawn(f).take()
    }

    /// Runs `f` on every item, at most `size` at once, and returns the results in input
    /// order once all are done.
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
        self.imap(items, f).collect()
    }

    /// Runs `f` on every item, at most `size` at once, yielding results in input order as
    /// they become available. Lazy: items are taken from `items` only as slots free up.
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
        IMap {
            pool: self.clone(),
            items: items.into_iter(),
            f: Rc::new(f),
            running: VecDeque::new(),
            ordered: true,
        }
    }

    /// As [`imap`](Pool::imap), but yields each result as soon as its greenlet finishes.
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
        let mut m = self.imap(items, f);
        m.ordered = false;
        m
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

    /// The running members (see [`Group`]).
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

type MapFn<X, T> = Rc<dyn Fn(X) -> T>;

/// Results of [`Pool::imap`] and [`Pool::imap_unordered`].
pub struct IMap<I: Iterator, T> {
    pool: Pool,
    items: I,
    f: MapFn<I::Item, T>,
    running: VecDeque<Greenlet<T>>,
    ordered: bool,
}

impl<I, T> IMap<I, T>
where
    I: Iterator,
    I::Item: 'static,
    T: 'static,
{
    /// Starts greenlets for the next items while slots are free (at least one if none runs).
    fn fill(&mut self) {
        while self.running.is_empty() || self.pool.free_count() > 0 {
            let Some(item) = self.items.next() else {
                return;
            };
            let f = self.f.clone();
            self.running.push_back(self.pool.spawn(move || f(item)));
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
        if self.running.is_empty() {
            return None;
        }
        let g = if self.ordered {
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
            .finish()
    }
}
