//! The errors greenwood hands to users.

use std::any::Any;
use std::backtrace::Backtrace;
use std::error::Error;
use std::fmt;
use std::panic::Location;
use std::sync::Arc;
use std::time::Duration;

/// Time ran out: the error of every greenwood call that waits at most some time
/// (`wait_timeout`, `join_timeout`, `acquire_timeout`, `get_timeout`, ...), as std's
/// `recv_timeout` returns `Err(RecvTimeoutError::Timeout)`; what
/// [`with_timeout`](crate::with_timeout) returns when its [`Timeout`](crate::Timeout) fires;
/// and the payload a greenlet unwinds with when an uncaught `Timeout` interrupts it.
///
/// The one convention: a call with a time limit returns `Result<T, E>` where `T` is what the
/// call without the limit returns and `E` is `Elapsed`, or the call's own error type with a
/// variant for the timeout (a queue's `GetError::Empty`, I/O's `ErrorKind::TimedOut`).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// let r = greenwood::with_timeout(Duration::from_millis(5), || {
///     greenwood::sleep(Duration::from_secs(10))
/// });
/// let elapsed = r.unwrap_err();
/// assert_eq!(elapsed.duration(), Duration::from_millis(5));
/// assert!(elapsed.to_string().starts_with("timed out after 5ms"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Elapsed {
    pub(crate) id: u64,
    pub(crate) duration: Duration,
    pub(crate) site: &'static Location<'static>,
}

impl Elapsed {
    /// The duration the timeout was set for.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let e = greenwood::with_timeout(Duration::from_millis(2), || greenwood::sleep(Duration::from_secs(1)));
    /// assert_eq!(e.unwrap_err().duration(), Duration::from_millis(2));
    /// ```
    pub fn duration(&self) -> Duration {
        self.duration
    }

    /// Where the timeout was set (for a call with a time limit, where it was called).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let line = line!() + 1;
    /// let e = greenwood::with_timeout(Duration::from_millis(2), || greenwood::sleep(Duration::from_secs(1)));
    /// assert_eq!(e.unwrap_err().location().line(), line);
    /// ```
    pub fn location(&self) -> &'static Location<'static> {
        self.site
    }
}

impl Elapsed {
    /// The error of a call with a time limit, made at the caller's location.
    #[track_caller]
    pub(crate) fn waiting(duration: Duration) -> Elapsed {
        Elapsed {
            id: 0,
            duration,
            site: Location::caller(),
        }
    }

    /// `Ok(())` if `done`, else the error of a call with a time limit.
    #[track_caller]
    pub(crate) fn check(done: bool, duration: Duration) -> Result<(), Elapsed> {
        if done {
            Ok(())
        } else {
            Err(Elapsed::waiting(duration))
        }
    }
}

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = if self.id == 0 {
            "waited at"
        } else {
            "timeout set at"
        };
        write!(
            f,
            "timed out after {:?} ({what} {})",
            self.duration, self.site
        )
    }
}

impl Error for Elapsed {}

/// The current greenlet waits on something nothing can ever wake: no greenlet is runnable, no
/// timer is pending, and no I/O or thread-pool work is outstanding (gevent's `LoopExit`).
///
/// Blocking calls that return `Result` (I/O) return it as their error; the others (`join`,
/// `sleep`, ...) panic with its message, which names what the greenlet waits on and where
/// that was created or spawned.
///
/// # Examples
///
/// ```
/// let w: greenwood::hub::Waiter<()> = greenwood::hub::Waiter::new(); // nobody will fill it
/// let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| w.get()));
/// let msg = r.unwrap_err().downcast::<String>().unwrap();
/// assert!(msg.contains("LoopExit: the main greenlet would block forever: it waits on Waiter created at"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoopExit {
    pub(crate) message: String,
}

impl fmt::Display for LoopExit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl Error for LoopExit {}

/// How a greenlet failed to produce a value.
///
/// # Examples
///
/// ```
/// use greenwood::ErrorKind;
///
/// let g = greenwood::spawn(|| greenwood::sleep(std::time::Duration::from_secs(60)));
/// g.kill();
/// assert_eq!(g.error().map(|e| e.kind()), Some(ErrorKind::Killed));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Its function panicked.
    Panicked,
    /// It was killed (unwound with `GreenletExit` or the payload of
    /// [`kill_with`](crate::Greenlet::kill_with), or never started).
    Killed,
    /// A [`Timeout`](crate::Timeout) it set fired and nothing caught it.
    TimedOut,
    /// Its value was already moved out by [`Greenlet::take`](crate::Greenlet::take).
    Taken,
}

/// Why a finished greenlet has no value: what [`Greenlet::get`](crate::Greenlet::get) returns,
/// and what a failure handler receives (see [`set_failure_handler`](crate::set_failure_handler)).
///
/// # Examples
///
/// ```
/// let g = greenwood::spawn(|| -> u32 { panic!("no photo for user 7") });
/// let err = g.get().unwrap_err();
/// assert_eq!(err.kind(), greenwood::ErrorKind::Panicked);
/// assert_eq!(err.message(), "no photo for user 7");
/// assert!(err.to_string().ends_with(": no photo for user 7"));
/// assert!(err.to_string().contains(" panicked at "));
/// ```
#[derive(Clone, Debug)]
pub struct GreenletError {
    pub(crate) kind: ErrorKind,
    pub(crate) greenlet: String,
    pub(crate) site: Option<&'static Location<'static>>,
    pub(crate) message: String,
    pub(crate) panic: Option<Arc<PanicReport>>,
}

impl GreenletError {
    /// How it failed.
    ///
    /// # Examples
    ///
    /// ```
    /// # greenwood::set_failure_handler(Some(Box::new(|_| {})));
    /// let g = greenwood::Builder::new().name("parser").spawn(|| -> u8 { panic!("bad input") })?;
    /// let err = g.get().unwrap_err();
    /// assert_eq!(err.kind(), greenwood::ErrorKind::Panicked);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The panic message (or what killed it).
    ///
    /// # Examples
    ///
    /// ```
    /// # greenwood::set_failure_handler(Some(Box::new(|_| {})));
    /// let g = greenwood::Builder::new().name("parser").spawn(|| -> u8 { panic!("bad input") })?;
    /// let err = g.get().unwrap_err();
    /// assert_eq!(err.message(), "bad input");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The greenlet, as its `Display` shows it: `greenlet 'NAME'`.
    ///
    /// # Examples
    ///
    /// ```
    /// # greenwood::set_failure_handler(Some(Box::new(|_| {})));
    /// let g = greenwood::Builder::new().name("parser").spawn(|| -> u8 { panic!("bad input") })?;
    /// let err = g.get().unwrap_err();
    /// assert_eq!(err.greenlet(), "greenlet 'parser'");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn greenlet(&self) -> &str {
        &self.greenlet
    }

    /// Where it was spawned.
    ///
    /// # Examples
    ///
    /// ```
    /// # greenwood::set_failure_handler(Some(Box::new(|_| {})));
    /// let g = greenwood::Builder::new().name("parser").spawn(|| -> u8 { panic!("bad input") })?;
    /// let err = g.get().unwrap_err();
    /// assert_eq!(err.spawned_at().unwrap().file(), file!());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn spawned_at(&self) -> Option<&'static Location<'static>> {
        self.site
    }

    /// Where the panic happened (`FILE:LINE:COL`), for a greenlet that panicked.
    ///
    /// # Examples
    ///
    /// ```
    /// # greenwood::set_failure_handler(Some(Box::new(|_| {})));
    /// let line = line!() + 1;
    /// let g = greenwood::spawn(|| -> u8 { panic!("bad input") });
    /// let err = g.get().unwrap_err();
    /// assert!(err.panic_location().unwrap().starts_with(&format!("{}:{line}:", file!())));
    /// ```
    pub fn panic_location(&self) -> Option<&str> {
        self.panic.as_ref()?.location.as_deref()
    }

    /// The backtrace of the panic, captured where it happened when `RUST_BACKTRACE` is set
    /// (to anything but `0`), as std's own panic report does.
    ///
    /// # Examples
    ///
    /// ```
    /// # greenwood::set_failure_handler(Some(Box::new(|_| {})));
    /// let g = greenwood::spawn(|| -> u8 { panic!("bad input") });
    /// let err = g.get().unwrap_err();
    /// if std::env::var_os("RUST_BACKTRACE").is_none() {
    ///     assert!(err.backtrace().is_none());
    /// }
    /// ```
    pub fn backtrace(&self) -> Option<&Backtrace> {
        self.panic.as_ref()?.backtrace.as_ref()
    }
}

impl fmt::Display for GreenletError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.greenlet)?;
        if let Some(site) = self.site {
            write!(f, " (spawned at {site})")?;
        }
        match self.kind {
            ErrorKind::Panicked => write!(
                f,
                " panicked{}: {}",
                location_suffix(self.panic.as_ref()),
                self.message
            ),
            ErrorKind::TimedOut => write!(f, " failed: {}", self.message),
            ErrorKind::Killed => match self.message.strip_prefix("killed: ") {
                Some(why) => write!(f, " was killed: {why}"),
                None => f.write_str(" was killed"),
            },
            ErrorKind::Taken => f.write_str(": its value was already taken"),
        }
    }
}

/// Two errors are equal when they say the same: kind, greenlet, spawn site, message and
/// panic location (a captured backtrace is not compared).
///
/// ```
/// # greenwood::set_failure_handler(Some(Box::new(|_| {})));
/// let g = greenwood::spawn(|| -> u8 { panic!("bad input") });
/// assert_eq!(g.get(), g.get());
/// assert_ne!(g.get(), Ok(1));
/// ```
impl PartialEq for GreenletError {
    fn eq(&self, other: &GreenletError) -> bool {
        self.kind == other.kind
            && self.greenlet == other.greenlet
            && self.site == other.site
            && self.message == other.message
            && self.panic_location() == other.panic_location()
    }
}

impl Eq for GreenletError {}

impl Error for GreenletError {}

/// The message of a panic payload.
pub(crate) fn panic_message(p: &(dyn Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else if let Some(e) = p.downcast_ref::<Elapsed>() {
        e.to_string()
    } else {
        "(a panic payload that is not a string)".to_string()
    }
}

/// Where a caught panic happened, recorded by greenwood's panic hook (`hub/report.rs`) for the
/// report that follows and for [`GreenletError::panic_location`].
pub(crate) struct PanicReport {
    pub(crate) location: Option<String>,
    pub(crate) backtrace: Option<Backtrace>,
}

impl fmt::Debug for PanicReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PanicReport")
            .field("location", &self.location)
            .field("backtrace", &self.backtrace.is_some())
            .finish()
    }
}

/// ` at LOCATION`, to follow "panicked" in a report.
pub(crate) fn location_suffix(report: Option<&Arc<PanicReport>>) -> String {
    match report.and_then(|r| r.location.as_deref()) {
        Some(l) => format!(" at {l}"),
        None => String::new(),
    }
}
