//! Timeouts: interrupt the current greenlet's next blocking point after a duration.

use std::any::Any;
use std::fmt;
use std::panic::{self, AssertUnwindSafe, Location};
use std::rc::Rc;
use std::time::{Duration, Instant};

use crate::error::Elapsed;
use crate::hub::task::{self, Interrupt, MakePayload, Task};
use crate::hub::timer::TimerKey;
use crate::hub::{self, TimerAction};

/// A guard that interrupts the greenlet that created it, `duration` after it was created, at
/// the blocking call it is parked in then (or its next one): that call unwinds with an
/// [`Elapsed`] payload, so destructors run on the way out. Dropping the guard (or
/// [`cancel`](Timeout::cancel)) disarms it; a timeout that fires after its guard is gone does
/// nothing.
///
/// [`with_timeout`] catches its own timeout and returns `Err(Elapsed)`; prefer it. A bare
/// `Timeout` that nobody catches ends a spawned greenlet with an error of kind `TimedOut`
/// (reported like a panic), and unwinds the main greenlet like an uncaught panic. Nested
/// timeouts each catch only their own.
///
/// A timeout unwinds, so it needs `panic = "unwind"` (Rust's default): in a program built
/// with `panic = "abort"`, a timeout that fires aborts the process, with a message that says
/// so (see the crate page).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// let g = greenwood::spawn(|| {
///     let _t = greenwood::Timeout::start(Duration::from_millis(5));
///     greenwood::sleep(Duration::from_secs(60)); // interrupted here
/// });
/// # greenwood::set_failure_handler(Some(Box::new(|_| {})));
/// assert_eq!(g.get().unwrap_err().kind(), greenwood::ErrorKind::TimedOut);
/// ```
pub struct Timeout {
    id: u64,
    key: Option<TimerKey>,
    task: Rc<Task>,
    duration: Duration,
    site: &'static Location<'static>,
    /// What it unwinds with instead of `Elapsed` ([`Timeout::with_value`]).
    value: Option<MakePayload>,
    /// The soonest timeout of the task before this one was armed, given back when it goes.
    outer: Option<(Instant, &'static Location<'static>)>,
}

fn next_id() -> u64 {
    static NEXT: hub::IdCounter = hub::IdCounter::new();
    NEXT.next()
}

impl Timeout {
    /// Arms a timeout for the current greenlet.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let t = greenwood::Timeout::start(Duration::from_millis(1));
    /// let r = std::panic::catch_unwind(|| greenwood::sleep(Duration::from_secs(60)));
    /// assert!(t.is(&*r.unwrap_err()));
    /// ```
    #[track_caller]
    pub fn start(duration: Duration) -> Timeout {
        Timeout::arm(duration, None, Location::caller())
    }

    /// Arms a timeout that unwinds the blocking call with `value` instead of an [`Elapsed`]:
    /// gevent's `Timeout(seconds, exception)`. Catch it with `catch_unwind` and downcast it
    /// to `V`, or let it end the greenlet: its error then has kind `TimedOut` and, for a
    /// string, that string as the message. Each firing (see [`restart`](Timeout::restart))
    /// unwinds with a fresh clone.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// #[derive(Clone, Debug, PartialEq)]
    /// struct TooSlow { user: u32 }
    ///
    /// let t = greenwood::Timeout::with_value(Duration::from_millis(1), TooSlow { user: 7 });
    /// let r = std::panic::catch_unwind(|| greenwood::sleep(Duration::from_secs(60)));
    /// let payload = r.unwrap_err();
    /// assert!(t.is(&*payload));
    /// assert_eq!(*payload.downcast::<TooSlow>().unwrap(), TooSlow { user: 7 });
    /// ```
    #[track_caller]
    pub fn with_value<V: Any + Send + Clone>(duration: Duration, value: V) -> Timeout {
        let make: MakePayload = Rc::new(move || Box::new(value.clone()));
        Timeout::arm(duration, Some(make), Location::caller())
    }

    fn arm(
        duration: Duration,
        value: Option<MakePayload>,
        site: &'static Location<'static>,
    ) -> Timeout {
        let mut t = Timeout {
            id: next_id(),
            key: None,
            task: task::current(),
            duration,
            site,
            value,
            outer: None,
        };
        t.set_timer();
        t
    }

    fn set_timer(&mut self) {
        let elapsed = Elapsed {
            id: self.id,
            duration: self.duration,
            site: self.site,
        };
        let (key, at) = hub::add_timer_until(
            self.duration,
            TimerAction::Interrupt(
                self.task.clone(),
                Interrupt::Timeout(elapsed, self.value.clone()),
            ),
        );
        self.key = Some(key);
        // The run info shows the soonest timeout armed around a park.
        let outer = self.task.timeout_at.get();
        if let Some(at) = at {
            if outer.is_none_or(|(o, _)| at < o) {
                self.task.timeout_at.set(Some((at, self.site)));
            }
        }
        self.outer = outer;
    }

    fn disarm(&mut self) {
        if let Some(key) = self.key.take() {
            hub::cancel_timer(key);
        }
        // Fired while the greenlet was runnable and not raised yet: forget it.
        self.task.forget_timeout(self.id);
        self.task.timeout_at.set(self.outer);
    }

    /// Disarms the timeout (the same as dropping it).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let t = greenwood::Timeout::start(Duration::from_millis(1));
    /// t.cancel();
    /// greenwood::sleep(Duration::from_millis(5)); // not interrupted
    /// ```
    pub fn cancel(self) {}

    /// Arms the timeout again for its whole duration from now, whether it fired, is still
    /// pending (the old deadline is dropped, and a firing not raised yet is forgotten) or
    /// not: gevent's `timeout.start()` after `cancel()`, for a deadline that moves on with
    /// progress (an idle timeout reset by each message).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let mut idle = greenwood::Timeout::start(Duration::from_millis(200));
    /// for _ in 0..5 {
    ///     greenwood::sleep(Duration::from_millis(50)); // a message arrives
    ///     idle.restart(); // 250 ms in all, never 200 without a message
    /// }
    /// assert!(idle.pending());
    /// ```
    pub fn restart(&mut self) {
        self.disarm();
        self.set_timer();
    }

    /// Whether it is armed and has not fired yet.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let t = greenwood::Timeout::start(Duration::from_millis(1));
    /// assert!(t.pending());
    /// let _ = std::panic::catch_unwind(|| greenwood::sleep(Duration::from_secs(60)));
    /// assert!(!t.pending()); // it fired
    /// ```
    pub fn pending(&self) -> bool {
        self.key.is_some_and(hub::timer_pending)
    }

    /// The duration it was set for.
    ///
    /// # Examples
    ///
    /// ```
    /// let t = greenwood::Timeout::start(std::time::Duration::from_secs(3));
    /// assert_eq!(t.duration().as_secs(), 3);
    /// ```
    pub fn duration(&self) -> Duration {
        self.duration
    }

    /// Whether `payload` (caught with `catch_unwind`) is this timeout firing: its
    /// [`Elapsed`], or the value given to [`with_value`](Timeout::with_value).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let t = greenwood::Timeout::start(Duration::from_millis(1));
    /// let r = std::panic::catch_unwind(|| greenwood::sleep(Duration::from_secs(60)));
    /// assert!(t.is(&*r.unwrap_err()));
    /// ```
    pub fn is(&self, payload: &(dyn Any + Send)) -> bool {
        self.task
            .interrupted_with(payload)
            .and_then(|r| r.timeout)
            .is_some_and(|e| e.id == self.id)
    }
}

impl Drop for Timeout {
    fn drop(&mut self) {
        self.disarm();
    }
}

impl fmt::Debug for Timeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Timeout")
            .field("duration", &self.duration)
            .field("set_at", &self.site)
            .finish()
    }
}

/// Runs `f` in the current greenlet, interrupting it if it is still running after `duration`;
/// `Err(Elapsed)` then. Every blocking call in greenwood honours it.
///
/// An inner `with_timeout` that fires is caught by itself; an outer one that fires unwinds
/// through the inner ones to its own. Panics of `f` pass through unchanged.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// let fast = greenwood::with_timeout(Duration::from_secs(5), || 1 + 1);
/// assert_eq!(fast, Ok(2));
///
/// let slow = greenwood::with_timeout(Duration::from_millis(5), || {
///     greenwood::sleep(Duration::from_secs(60));
/// });
/// assert!(slow.is_err());
/// ```
#[track_caller]
pub fn with_timeout<T>(duration: Duration, f: impl FnOnce() -> T) -> Result<T, Elapsed> {
    let t = Timeout::start(duration);
    let r = panic::catch_unwind(AssertUnwindSafe(f));
    let id = t.id;
    drop(t);
    match r {
        Ok(v) => Ok(v),
        Err(p) => match p.downcast::<Elapsed>() {
            Ok(e) if e.id == id => Err(*e),
            Ok(e) => panic::resume_unwind(e),
            Err(p) => panic::resume_unwind(p),
        },
    }
}

/// Runs `f` in the current greenlet, and ends it quietly if it is still running after
/// `duration`: `None` then, `Some(value)` if it finished. gevent's `with Timeout(seconds,
/// False):`, the block that just stops. The same as `with_timeout(duration, f).ok()`, named
/// for what it means.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// let mut got = Vec::new();
/// let finished = greenwood::timeout_silent(Duration::from_millis(30), || {
///     for i in 0.. {
///         greenwood::sleep(Duration::from_millis(10));
///         got.push(i);
///     }
/// });
/// assert!(finished.is_none()); // stopped, no error to handle
/// assert!(!got.is_empty());
/// ```
#[track_caller]
pub fn timeout_silent<T>(duration: Duration, f: impl FnOnce() -> T) -> Option<T> {
    with_timeout(duration, f).ok()
}
