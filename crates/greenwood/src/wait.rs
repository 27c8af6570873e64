//! Waiting on many things at once: `joinall`, `killall`, `wait`, `iwait`.

use std::rc::Rc;
use std::time::{Duration, Instant};

use crate::error::Elapsed;
use crate::error::GreenletError;
use crate::greenlet::{AnyGreenlet, Greenlet};
use crate::hub;
use crate::hub::task::WaitOn;
use crate::hub::waitlist::{private, Collector, Notify, WaitList, Waitable};

impl<T: 'static> private::Sealed for Greenlet<T> {
    fn wait_list(&self) -> &WaitList {
        &self.task().joiners
    }
}

impl<T: 'static> Waitable for Greenlet<T> {
    fn is_ready(&self) -> bool {
        self.ready()
    }
}

impl private::Sealed for AnyGreenlet {
    fn wait_list(&self) -> &WaitList {
        &self.task().joiners
    }
}

impl Waitable for AnyGreenlet {
    fn is_ready(&self) -> bool {
        self.ready()
    }
}

/// Yields the index of each object as it becomes ready, in the order they do; see [`iwait`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// let gs: Vec<_> = [30u64, 10, 20]
///     .into_iter()
///     .map(|ms| greenwood::spawn(move || greenwood::sleep(Duration::from_millis(ms))))
///     .collect();
/// let mut it: greenwood::Iwait<'_, _> = greenwood::iwait(&gs);
/// assert_eq!(it.next(), Some(1));
/// ```
pub struct Iwait<'a, W: Waitable> {
    objects: &'a [W],
    collector: Rc<Collector>,
    /// Wait-list keys, for removing our entries when dropped; `None` for objects that were
    /// ready at the start.
    keys: Vec<Option<u64>>,
    yielded: usize,
    timeout: Option<Duration>,
    deadline: Option<Instant>,
}

impl<W: Waitable> std::fmt::Debug for Iwait<'_, W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Iwait")
            .field("objects", &self.objects.len())
            .field("yielded", &self.yielded)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// Iterates over `objects` as they become ready, yielding each one's index once, in the order
/// they became ready (those ready from the start first, in slice order).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// let slow = greenwood::spawn(|| greenwood::sleep(Duration::from_millis(30)));
/// let fast = greenwood::spawn(|| greenwood::sleep(Duration::from_millis(1)));
/// let order: Vec<usize> = greenwood::iwait(&[slow, fast]).collect();
/// assert_eq!(order, [1, 0]);
/// ```
pub fn iwait<W: Waitable>(objects: &[W]) -> Iwait<'_, W> {
    let collector = Collector::new();
    let keys = objects
        .iter()
        .enumerate()
        .map(|(i, o)| {
            if o.is_ready() {
                collector.push(i);
                None
            } else {
                Some(o.wait_list().add(Notify::Collect(collector.clone(), i)))
            }
        })
        .collect();
    Iwait {
        objects,
        collector,
        keys,
        yielded: 0,
        timeout: None,
        deadline: None,
    }
}

impl<W: Waitable> Iwait<'_, W> {
    /// Stops yielding once `timeout` has passed (measured from the first call to `next`).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let never = greenwood::spawn(|| greenwood::sleep(Duration::from_secs(60)));
    /// let ready: Vec<usize> =
    ///     greenwood::iwait(&[never.clone()]).timeout(Duration::from_millis(5)).collect();
    /// assert!(ready.is_empty());
    /// never.kill();
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }
}

impl<W: Waitable> Iterator for Iwait<'_, W> {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        if self.yielded == self.objects.len() {
            return None;
        }
        loop {
            if let Some(i) = self.collector.pop() {
                let o = &self.objects[i];
                if !o.still_ready() {
                    // Someone else took it first (an item, the data): watch it again.
                    let entry = Notify::Collect(self.collector.clone(), i);
                    self.keys[i] = Some(o.wait_list().add(entry));
                    continue;
                }
                self.yielded += 1;
                self.keys[i] = None;
                return Some(i);
            }
            // A timeout too large for an `Instant` is no timeout.
            let now = Instant::now();
            if self.deadline.is_none() {
                self.deadline = self.timeout.and_then(|d| now.checked_add(d));
            }
            let left = self.deadline.map(|d| d.saturating_duration_since(now));
            if left == Some(Duration::ZERO) {
                return None;
            }
            let what = WaitOn::Any(self.objects.len() - self.yielded);
            hub::wait_for(what, left, |waker| {
                self.collector.set_waker(Some(waker));
                ClearCollector(&self.collector)
            });
        }
    }
}

/// Forgets the collector's waker when a park ends, however it ends.
struct ClearCollector<'a>(&'a Collector);

impl Drop for ClearCollector<'_> {
    fn drop(&mut self) {
        self.0.set_waker(None);
    }
}

impl<W: Waitable> Drop for Iwait<'_, W> {
    fn drop(&mut self) {
        self.collector.set_waker(None);
        for (o, key) in self.objects.iter().zip(&self.keys) {
            if let Some(key) = key {
                o.wait_list().remove(*key);
            }
        }
    }
}

/// Waits until every object is ready.
///
/// # Examples
///
/// ```
/// let a = greenwood::spawn(|| 1);
/// let b = greenwood::spawn(|| 2).as_any();
/// greenwood::wait(&[&a.as_any(), &b]);
/// assert!(a.ready() && b.ready());
/// ```
pub fn wait<W: Waitable>(objects: &[W]) {
    for _ in iwait(objects) {}
}

/// Waits until `count` objects are ready or `timeout` passes, whichever comes first; returns
/// the indices of those that became ready, in order.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// let gs: Vec<_> = (0..3u64)
///     .map(|i| greenwood::spawn(move || greenwood::sleep(Duration::from_millis(1 + 50 * i))))
///     .collect();
/// let first = greenwood::wait_count(&gs, 1, Some(Duration::from_secs(5)));
/// assert_eq!(first, [0]);
/// greenwood::killall(&gs);
/// ```
pub fn wait_count<W: Waitable>(
    objects: &[W],
    count: usize,
    timeout: Option<Duration>,
) -> Vec<usize> {
    let mut it = iwait(objects);
    if let Some(t) = timeout {
        it = it.timeout(t);
    }
    it.take(count).collect()
}

/// Waits for every greenlet to finish (gevent's `joinall`).
///
/// # Panics
///
/// With `LoopExit` if one of them can never finish, and with the interrupts of
/// [`sleep`](crate::sleep).
///
/// # Examples
///
/// ```
/// let gs: Vec<_> = (0..10).map(|i| greenwood::spawn(move || i)).collect();
/// greenwood::joinall(&gs);
/// assert!(gs.iter().all(|g| g.successful()));
/// ```
pub fn joinall<T: 'static>(greenlets: &[Greenlet<T>]) {
    for g in greenlets {
        g.join();
    }
}

/// `joinall` with gevent's options: a timeout, a count, and stopping at the first failure.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// let gs = vec![
///     greenwood::spawn(|| -> u8 { panic!("bad input") }),
///     greenwood::spawn(|| { greenwood::sleep(Duration::from_secs(60)); 1 }),
/// ];
/// let err = greenwood::JoinAll::new(&gs).stop_on_error().run().unwrap_err();
/// assert_eq!(err.message(), "bad input");
/// greenwood::killall(&gs);
/// ```
#[derive(Debug)]
pub struct JoinAll<'a, T> {
    greenlets: &'a [Greenlet<T>],
    timeout: Option<Duration>,
    count: Option<usize>,
    stop_on_error: bool,
}

impl<'a, T: 'static> JoinAll<'a, T> {
    /// Joins all of `greenlets`, with no timeout.
    ///
    /// # Examples
    ///
    /// ```
    /// let gs = vec![greenwood::spawn(|| 1), greenwood::spawn(|| 2)];
    /// assert_eq!(greenwood::JoinAll::new(&gs).run().unwrap().len(), 2);
    /// ```
    pub fn new(greenlets: &'a [Greenlet<T>]) -> Self {
        JoinAll {
            greenlets,
            timeout: None,
            count: None,
            stop_on_error: false,
        }
    }

    /// Gives up after `timeout`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let gs = vec![greenwood::spawn(|| greenwood::sleep(Duration::from_secs(60)))];
    /// let done = greenwood::JoinAll::new(&gs).timeout(Duration::from_millis(5)).run().unwrap();
    /// assert!(done.is_empty());
    /// greenwood::killall(&gs);
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Returns once `count` greenlets have finished.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let gs: Vec<_> = [1u64, 60_000]
    ///     .into_iter()
    ///     .map(|ms| greenwood::spawn(move || greenwood::sleep(Duration::from_millis(ms))))
    ///     .collect();
    /// assert_eq!(greenwood::JoinAll::new(&gs).count(1).run().unwrap(), [0]);
    /// greenwood::killall(&gs);
    /// ```
    pub fn count(mut self, count: usize) -> Self {
        self.count = Some(count);
        self
    }

    /// Returns the first failure (panic, kill, timeout) as soon as it happens (gevent's
    /// `raise_error=True`).
    ///
    /// # Examples
    ///
    /// ```
    /// # greenwood::set_failure_handler(Some(Box::new(|_| {})));
    /// let gs = vec![greenwood::spawn(|| -> u8 { panic!("bad row 7") })];
    /// let err = greenwood::JoinAll::new(&gs).stop_on_error().run().unwrap_err();
    /// assert_eq!(err.message(), "bad row 7");
    /// ```
    pub fn stop_on_error(mut self) -> Self {
        self.stop_on_error = true;
        self
    }

    /// Waits; returns the indices of the greenlets that finished, in the order they did.
    ///
    /// # Errors
    ///
    /// With `stop_on_error`, the first greenlet's failure.
    ///
    /// # Examples
    ///
    /// ```
    /// let gs = vec![greenwood::spawn(|| 1)];
    /// assert_eq!(greenwood::JoinAll::new(&gs).run().unwrap(), [0]);
    /// ```
    pub fn run(self) -> Result<Vec<usize>, GreenletError> {
        let mut it = iwait(self.greenlets);
        if let Some(t) = self.timeout {
            it = it.timeout(t);
        }
        let want = self.count.unwrap_or(self.greenlets.len());
        let mut done = Vec::new();
        for i in it.take(want) {
            if self.stop_on_error {
                if let Some(e) = self.greenlets[i].error() {
                    return Err(e);
                }
            }
            done.push(i);
        }
        Ok(done)
    }
}

/// Kills every greenlet and waits for all of them to die.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// let gs: Vec<_> = (0..5).map(|_| greenwood::spawn(|| greenwood::sleep(Duration::from_secs(60)))).collect();
/// greenwood::killall(&gs);
/// assert!(gs.iter().all(|g| g.dead()));
/// ```
pub fn killall<T: 'static>(greenlets: &[Greenlet<T>]) {
    for g in greenlets {
        g.kill_nowait();
    }
    joinall(greenlets);
}

/// Kills every greenlet with a copy of `payload` (see [`Greenlet::kill_with`]) and waits for
/// them to die: gevent's `killall(greenlets, exception)`.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// let gs: Vec<_> = (0..3)
///     .map(|_| greenwood::spawn(|| greenwood::sleep(Duration::from_secs(60))))
///     .collect();
/// greenwood::sleep(Duration::ZERO);
/// greenwood::killall_with(&gs, "restarting");
/// assert!(gs.iter().all(|g| g.error().unwrap().message() == "killed: restarting"));
/// ```
pub fn killall_with<T: 'static, P: std::any::Any + Send + Clone>(
    greenlets: &[Greenlet<T>],
    payload: P,
) {
    for g in greenlets {
        g.throw_nowait(payload.clone());
    }
    joinall(greenlets);
}

/// Kills every greenlet and waits at most `timeout` for them to die.
///
/// # Errors
///
/// [`Elapsed`] if some are still alive by then.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// let gs: Vec<_> = (0..5).map(|_| greenwood::spawn(|| greenwood::sleep(Duration::from_secs(60)))).collect();
/// assert!(greenwood::killall_timeout(&gs, Duration::from_secs(1)).is_ok());
/// ```
#[track_caller]
pub fn killall_timeout<T: 'static>(
    greenlets: &[Greenlet<T>],
    timeout: Duration,
) -> Result<(), Elapsed> {
    for g in greenlets {
        g.kill_nowait();
    }
    let all = JoinAll::new(greenlets)
        .timeout(timeout)
        .run()
        .map(|done| done.len() == greenlets.len())
        .unwrap_or(false);
    Elapsed::check(all, timeout)
}
