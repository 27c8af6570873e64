//! Unix signals as events a greenlet waits for (gevent's `gevent.signal_handler`).
//!
//! A signal handler may only do async-signal-safe things, so greenwood's does almost nothing:
//! it sets a flag for the signal and writes a byte to a socket pair (the self-pipe pattern,
//! through [`signal_hook`]). A greenlet waiting on [`Signals`] is parked on the other end of
//! that pair like on any socket, and wakes on the hub when the byte arrives; the handler code
//! you write runs there, in a greenlet, where it may block, take locks and allocate.
//!
//! While a [`Signals`] for a signal is alive, the signal no longer has its default effect
//! (Ctrl-C no longer ends the process); once the last one is dropped, the default action
//! applies again.

use std::fmt;
use std::io::{self, Read};
use std::os::raw::c_int;
use std::os::unix::net::UnixStream;
use std::panic::Location;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use signal_hook::SigId;

use crate::greenlet::{Builder, Greenlet};
use crate::hub::reactor::{Direction, IoRegistration};

pub use libc::{
    SIGALRM, SIGCHLD, SIGHUP, SIGINT, SIGPIPE, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGWINCH,
};

/// A set of signals the current thread's greenlets can wait for.
///
/// Every `Signals` sees every delivery of its signals: two of them for `SIGTERM` both wake.
/// Deliveries of one signal that arrive before a greenlet looks are merged into one, as the
/// kernel merges pending signals. Not `Send`: it belongs to the hub of the thread that made it.
///
/// # Examples
///
/// ```
/// use greenwood::signal::{Signals, SIGUSR1};
///
/// let signals = Signals::new(&[SIGUSR1])?;
/// let waiter = greenwood::spawn(move || signals.wait());
/// greenwood::sleep(std::time::Duration::ZERO); // parked: other greenlets run meanwhile
/// signal_hook::low_level::raise(SIGUSR1)?; // as `kill -USR1 <pid>` would
/// assert_eq!(waiter.take().unwrap()?, SIGUSR1);
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Signals {
    /// Each signal with the flag its handler sets before writing to the pair.
    wanted: Vec<(c_int, Arc<AtomicBool>)>,
    actions: Vec<SigId>,
    // Deregistered before the socket closes (fields drop in order).
    reg: IoRegistration,
    read: UnixStream,
    created_at: &'static Location<'static>,
}

impl Signals {
    /// Starts catching `signals` for the current thread's greenlets. Deliveries from now on are
    /// kept until a greenlet asks for them.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for an empty list, for `SIGKILL` and `SIGSTOP` (which cannot be caught)
    /// and for `SIGSEGV`, `SIGBUS`, `SIGILL` and `SIGFPE` (which mean the process itself is
    /// broken, and must keep their default action); what the system says if the socket pair
    /// cannot be made (out of file descriptors) or the handler cannot be installed.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenwood::signal::{Signals, SIGINT, SIGTERM};
    ///
    /// let signals = Signals::new(&[SIGINT, SIGTERM])?; // Ctrl-C no longer ends the process
    /// assert!(signals.pending().is_none());
    /// drop(signals); // and now it does again
    /// assert!(Signals::new(&[libc::SIGKILL]).is_err());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn new(signals: &[c_int]) -> io::Result<Signals> {
        if signals.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "Signals::new: no signals given",
            ));
        }
        for &s in signals {
            if signal_hook::consts::FORBIDDEN.contains(&s) {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!(
                        "{} cannot be waited for: SIGKILL and SIGSTOP cannot be caught, and \
                         SIGSEGV, SIGBUS, SIGILL and SIGFPE mean the process is broken and \
                         must keep their default action",
                        name(s)
                    ),
                ));
            }
        }
        let created_at = Location::caller();
        let (read, write) = UnixStream::pair()?;
        read.set_nonblocking(true)?;
        let mut this = Signals {
            wanted: Vec::new(),
            actions: Vec::new(),
            reg: IoRegistration::new(std::os::fd::AsRawFd::as_raw_fd(&read))?,
            read,
            created_at,
        };
        for &s in signals {
            if this.wanted.iter().any(|(w, _)| *w == s) {
                continue;
            }
            // From here on, dropping `this` (on an error below) undoes what was done.
            acquire_default(s)?;
            let flag = Arc::new(AtomicBool::new(false));
            this.wanted.push((s, flag.clone()));
            // signal-hook runs a signal's actions in the order they were registered: the flag
            // is set before the byte that wakes the waiter is written.
            this.actions.push(signal_hook::flag::register(s, flag)?);
            this.actions.push(signal_hook::low_level::pipe::register(
                s,
                write.try_clone()?,
            )?);
        }
        Ok(this)
    }

    /// Parks the current greenlet until one of the signals arrives, and returns it (one that
    /// arrived earlier and was not yet returned comes back at once).
    ///
    /// # Errors
    ///
    /// An error if the greenlet is interrupted by a [`Timeout`](crate::Timeout) or killed
    /// (the kill still unwinds it), or if the hub cannot wait on the socket pair.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenwood::signal::{Signals, SIGUSR2};
    ///
    /// let signals = Signals::new(&[SIGUSR2])?;
    /// signal_hook::low_level::raise(SIGUSR2)?;
    /// assert_eq!(signals.wait()?, SIGUSR2); // it already came
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn wait(&self) -> io::Result<c_int> {
        loop {
            if let Some(s) = self.wait_inner(None)? {
                return Ok(s);
            }
        }
    }

    /// [`wait`](Signals::wait), for at most `timeout`.
    ///
    /// # Errors
    ///
    /// An error of kind `TimedOut` if no signal came by then (as a socket's read timeout
    /// says), or as [`wait`](Signals::wait).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use greenwood::signal::{Signals, SIGUSR2};
    ///
    /// let signals = Signals::new(&[SIGUSR2])?;
    /// let err = signals.wait_timeout(Duration::from_millis(5)).unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn wait_timeout(&self, timeout: Duration) -> io::Result<c_int> {
        self.wait_inner(Some(timeout))?.ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::TimedOut,
                format!("no signal came within {timeout:?}"),
            )
        })
    }

    /// A signal that arrived and was not yet returned, without waiting.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenwood::signal::{Signals, SIGUSR1};
    ///
    /// let signals = Signals::new(&[SIGUSR1])?;
    /// assert_eq!(signals.pending(), None);
    /// signal_hook::low_level::raise(SIGUSR1)?;
    /// assert_eq!(signals.pending(), Some(SIGUSR1));
    /// assert_eq!(signals.pending(), None); // returned once
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn pending(&self) -> Option<c_int> {
        self.wanted
            .iter()
            .find(|(_, flag)| flag.swap(false, Ordering::SeqCst))
            .map(|(s, _)| *s)
    }

    fn wait_inner(&self, timeout: Option<Duration>) -> io::Result<Option<c_int>> {
        let mut buf = [0u8; 64];
        // One deadline for the whole call: a stale byte wakes the loop without a signal.
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        loop {
            // A flag is set before its byte is written, so checking the flags before reading
            // can only leave a stale byte behind (a spurious wake-up later), never miss one.
            if let Some(s) = self.pending() {
                return Ok(Some(s));
            }
            let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            if left == Some(Duration::ZERO) {
                return Ok(None);
            }
            match crate::net::retry(&self.reg, Direction::Read, left, || {
                (&self.read).read(&mut buf)
            }) {
                Ok(0) => {
                    return Err(io::Error::other(
                        "greenwood: the signal socket pair was closed under a Signals",
                    ))
                }
                Ok(_) => {}
                // The timeout expired (reported as `WouldBlock`, as socket timeouts are).
                Err(e) if e.kind() == io::ErrorKind::WouldBlock && timeout.is_some() => {
                    return Ok(self.pending())
                }
                Err(e) => return Err(e),
            }
        }
    }
}

impl crate::hub::waitlist::private::Sealed for Signals {
    fn wait_list(&self) -> &crate::hub::waitlist::WaitList {
        self.reg.readers()
    }

    fn still_ready(&self) -> bool {
        crate::Waitable::is_ready(self)
    }
}

/// Ready when one of its signals arrived and was not yet returned by
/// [`wait`](Signals::wait) or [`pending`](Signals::pending).
impl crate::Waitable for Signals {
    fn is_ready(&self) -> bool {
        self.wanted
            .iter()
            .any(|(_, flag)| flag.load(Ordering::SeqCst))
    }
}

impl Drop for Signals {
    fn drop(&mut self) {
        for id in self.actions.drain(..) {
            signal_hook::low_level::unregister(id);
        }
        for (s, _) in &self.wanted {
            release_default(*s);
        }
    }
}

impl fmt::Debug for Signals {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<_> = self.wanted.iter().map(|(s, _)| name(*s)).collect();
        f.debug_struct("Signals")
            .field("signals", &names)
            .field("created_at", &format_args!("{}", self.created_at))
            .finish()
    }
}

/// Runs `handler` in a greenlet each time `signum` arrives (gevent's `signal_handler`), until
/// [`SignalHandler::cancel`]. The handler may block like any greenlet; deliveries that arrive
/// while it runs are merged and handled once it returns. Dropping the returned handle leaves
/// the handler installed, as dropping a [`Greenlet`] leaves it running.
///
/// # Errors
///
/// As [`Signals::new`].
///
/// # Examples
///
/// ```
/// use std::{cell::Cell, rc::Rc};
/// use greenwood::signal::{signal_handler, SIGHUP};
///
/// let reloads = Rc::new(Cell::new(0));
/// let r = reloads.clone();
/// let handler = signal_handler(SIGHUP, move || r.set(r.get() + 1))?; // reload on SIGHUP
/// greenwood::sleep(std::time::Duration::ZERO);
/// signal_hook::low_level::raise(SIGHUP)?;
/// while reloads.get() == 0 {
///     greenwood::sleep(std::time::Duration::from_millis(1));
/// }
/// handler.cancel(); // SIGHUP ends the process again from here on
/// # Ok::<(), std::io::Error>(())
/// ```
#[track_caller]
pub fn signal_handler(
    signum: c_int,
    mut handler: impl FnMut() + 'static,
) -> io::Result<SignalHandler> {
    let signals = Signals::new(&[signum])?;
    let greenlet = Builder::new()
        .name(format!("signal handler for {}", name(signum)))
        .spawn(move || {
            while signals.wait().is_ok() {
                handler();
            }
        })?;
    Ok(SignalHandler { greenlet, signum })
}

/// A handler installed by [`signal_handler`].
pub struct SignalHandler {
    greenlet: Greenlet<()>,
    signum: c_int,
}

impl SignalHandler {
    /// Removes the handler (killing its greenlet; a handler call in progress is unwound).
    ///
    /// # Examples
    ///
    /// ```
    /// let h = greenwood::signal::signal_handler(greenwood::signal::SIGUSR2, || {})?;
    /// h.cancel();
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn cancel(&self) {
        self.greenlet.kill();
    }
}

impl fmt::Debug for SignalHandler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignalHandler")
            .field("signal", &name(self.signum))
            .field("cancelled", &self.greenlet.dead())
            .finish()
    }
}

/// `SIGINT`, or the number for signals without a name.
fn name(s: c_int) -> String {
    signal_hook::low_level::signal_name(s).map_or_else(|| format!("signal {s}"), str::to_owned)
}

/// Per signal, how many `Signals` are alive in the process, and the condition under which a
/// delivery runs the signal's default action: when none is.
struct Installed {
    signal: c_int,
    live: usize,
    restore_default: Arc<AtomicBool>,
}

static INSTALLED: Mutex<Vec<Installed>> = Mutex::new(Vec::new());

fn acquire_default(signal: c_int) -> io::Result<()> {
    let mut installed = INSTALLED.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(i) = installed.iter_mut().find(|i| i.signal == signal) {
        i.live += 1;
        i.restore_default.store(false, Ordering::SeqCst);
        return Ok(());
    }
    let restore_default = Arc::new(AtomicBool::new(false));
    // signal-hook leaves its handler installed when its actions are removed, which would make
    // the signal do nothing; this action runs the default one while no `Signals` wants it.
    // Signals without a known default (real-time ones) are ignored after the last drop.
    if signal_hook::low_level::signal_name(signal).is_some() {
        signal_hook::flag::register_conditional_default(signal, restore_default.clone())?;
    }
    installed.push(Installed {
        signal,
        live: 1,
        restore_default,
    });
    Ok(())
}

fn release_default(signal: c_int) {
    let mut installed = INSTALLED.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(i) = installed.iter_mut().find(|i| i.signal == signal) {
        i.live -= 1;
        if i.live == 0 {
            i.restore_default.store(true, Ordering::SeqCst);
        }
    }
}
