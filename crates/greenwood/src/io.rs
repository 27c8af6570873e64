//! I/O readiness on the hub's poller, the way Go's netpoller does it: each file descriptor is
//! registered once, edge-triggered, for both directions; the hub records readiness per source
//! when the poller reports it; a greenlet tries its syscall first and parks only when the
//! syscall says `WouldBlock`, after clearing the direction's readiness.
//!
//! Clearing and then parking cannot lose an edge: events are only collected by the hub, while
//! the greenlet is parked, so an edge that arrives after the failed syscall is reported by the
//! next poll and wakes it.
//!
//! A source's token carries a generation beside its slab key, so an event for a source that
//! was closed (and whose key and fd number were reused) never wakes the new source's waiters.
//! Closing a source wakes everyone waiting on it with an error (gevent's `cancel_wait`).

use std::cell::Cell;
use std::io;
use std::os::fd::RawFd;
use std::rc::Rc;
use std::time::Duration;

use mio::unix::SourceFd;

use crate::hub::{self, TimerAction, TimerGuard};
use crate::task::{self, WaitOn};
use crate::waitlist::{Notify, Registration as WaitEntry, WaitList};

/// A direction to wait for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Direction {
    Read,
    Write,
}

impl Direction {
    fn name(self) -> &'static str {
        match self {
            Direction::Read => "readable",
            Direction::Write => "writable",
        }
    }
}

/// One registered file descriptor, as the hub sees it.
pub(crate) struct Source {
    fd: RawFd,
    token: usize,
    readable: Cell<bool>,
    writable: Cell<bool>,
    /// A transfer came up short since the last event: the direction is known not ready, so
    /// the next operation parks before trying its syscall.
    read_drained: Cell<bool>,
    write_drained: Cell<bool>,
    /// The peer hung up or the socket has an error, in that direction: from then on an
    /// operation returns at once (end of file, an error), and no further event will come,
    /// so a direction is never taken for drained again. Sticky, as tokio's `READ_CLOSED`.
    read_closed: Cell<bool>,
    write_closed: Cell<bool>,
    closed: Cell<bool>,
    readers: WaitList,
    writers: WaitList,
}

impl Source {
    pub(crate) fn new(fd: RawFd, token: usize) -> Source {
        Source {
            fd,
            token,
            readable: Cell::new(false),
            writable: Cell::new(false),
            read_drained: Cell::new(false),
            write_drained: Cell::new(false),
            read_closed: Cell::new(false),
            write_closed: Cell::new(false),
            closed: Cell::new(false),
            readers: WaitList::new(),
            writers: WaitList::new(),
        }
    }

    pub(crate) fn token(&self) -> usize {
        self.token
    }

    /// Records what the poller reported and wakes the greenlets waiting for it.
    pub(crate) fn ready(&self, event: &mio::event::Event) {
        if event.is_read_closed() || event.is_error() {
            self.read_closed.set(true);
        }
        if event.is_write_closed() || event.is_error() {
            self.write_closed.set(true);
        }
        if event.is_readable() || event.is_read_closed() || event.is_error() {
            self.readable.set(true);
            self.read_drained.set(false);
            self.readers.notify_all();
        }
        if event.is_writable() || event.is_write_closed() || event.is_error() {
            self.writable.set(true);
            self.write_drained.set(false);
            self.writers.notify_all();
        }
    }

    fn flag(&self, d: Direction) -> &Cell<bool> {
        match d {
            Direction::Read => &self.readable,
            Direction::Write => &self.writable,
        }
    }

    fn drained(&self, d: Direction) -> &Cell<bool> {
        match d {
            Direction::Read => &self.read_drained,
            Direction::Write => &self.write_drained,
        }
    }

    fn waiters(&self, d: Direction) -> &WaitList {
        match d {
            Direction::Read => &self.readers,
            Direction::Write => &self.writers,
        }
    }
}

/// A file descriptor registered with this thread's hub; deregistered when dropped. Not `Send`:
/// a registration belongs to one hub.
pub(crate) struct IoRegistration {
    source: Rc<Source>,
}

impl IoRegistration {
    /// Registers `fd` for both directions, edge-triggered.
    ///
    /// # Errors
    ///
    /// What `epoll_ctl` says; for a regular file (which is always "ready" and cannot be
    /// polled) the error says so and points at the thread pool.
    pub(crate) fn new(fd: RawFd) -> io::Result<IoRegistration> {
        let source = hub::register_source(fd, |token, registry| {
            registry.register(
                &mut SourceFd(&fd),
                mio::Token(token),
                mio::Interest::READABLE | mio::Interest::WRITABLE,
            )
        })
        .map_err(|e| {
            if e.raw_os_error() == Some(libc::EPERM) {
                io::Error::new(
                    e.kind(),
                    format!(
                        "fd {fd} cannot be polled (a regular file or a directory is always \
                         ready): do its blocking I/O on the thread pool instead"
                    ),
                )
            } else {
                e
            }
        })?;
        Ok(IoRegistration { source })
    }

    /// Forgets that `d` was ready: call it when the syscall said `WouldBlock`, before
    /// [`wait`](IoRegistration::wait).
    /// Records that a transfer in direction `d` came up short: the socket is not ready, and
    /// the next operation may park without trying (until an event says otherwise).
    pub(crate) fn mark_drained(&self, d: Direction) {
        let closed = match d {
            Direction::Read => self.source.read_closed.get(),
            Direction::Write => self.source.write_closed.get(),
        };
        if !closed {
            self.source.flag(d).set(false);
            self.source.drained(d).set(true);
        }
    }

    /// Whether `d` is known not to be ready (see [`mark_drained`](Self::mark_drained)).
    pub(crate) fn is_drained(&self, d: Direction) -> bool {
        self.source.drained(d).get()
    }

    /// Who waits for the source to become readable (for `wait`/`iwait` on sockets).
    pub(crate) fn readers(&self) -> &WaitList {
        &self.source.readers
    }

    /// Whether the last event said readable (or hung up, or closed) and no read since came
    /// up short: a read may not wait. Can be stale-true until a read meets `WouldBlock`.
    pub(crate) fn maybe_readable(&self) -> bool {
        self.source.readable.get() || self.source.closed.get()
    }

    /// Whether [`close`](Self::close) ran.
    pub(crate) fn is_closed(&self) -> bool {
        self.source.closed.get()
    }

    /// The error for an operation on a closed source.
    pub(crate) fn closed_error(&self) -> io::Error {
        io::Error::new(
            io::ErrorKind::NotConnected,
            format!(
                "fd {} is closed: close() was called on this socket (the fd number stays \
                 reserved until the value is dropped)",
                self.source.fd
            ),
        )
    }

    pub(crate) fn clear(&self, d: Direction) {
        self.source.flag(d).set(false);
    }

    /// Parks the current greenlet until the source is ready in direction `d` (returns at
    /// once if it already is), at most `timeout`.
    ///
    /// # Errors
    ///
    /// `TimedOut` after `timeout`; an error if the source is closed meanwhile.
    pub(crate) fn wait(&self, d: Direction, timeout: Option<Duration>) -> io::Result<()> {
        let src = &self.source;
        if src.closed.get() {
            return Err(closed_error(src.fd));
        }
        if src.flag(d).get() {
            return Ok(());
        }
        let me = task::current();
        let waker = me.waker();
        let _timer =
            timeout.map(|t| TimerGuard(hub::add_timer(t, TimerAction::Wake(waker.clone()))));
        let _entry = WaitEntry::new(src.waiters(d), Notify::Wake(waker));
        let _counted = hub::IoWaiter::new();
        task::park(
            &me,
            WaitOn::Io {
                fd: src.fd,
                direction: d.name(),
            },
        );
        if src.closed.get() {
            Err(closed_error(src.fd))
        } else if src.flag(d).get() {
            Ok(())
        } else {
            Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("timed out waiting for fd {} to become {}", src.fd, d.name()),
            ))
        }
    }
}

impl IoRegistration {
    /// Parks until the source is readable or writable, at most `timeout`.
    pub(crate) fn wait_either(&self, timeout: Option<Duration>) -> io::Result<()> {
        let src = &self.source;
        if src.closed.get() {
            return Err(closed_error(src.fd));
        }
        if src.readable.get() || src.writable.get() {
            return Ok(());
        }
        let me = task::current();
        let waker = me.waker();
        let _timer =
            timeout.map(|t| TimerGuard(hub::add_timer(t, TimerAction::Wake(waker.clone()))));
        let _r = WaitEntry::new(&src.readers, Notify::Wake(waker.clone()));
        let _w = WaitEntry::new(&src.writers, Notify::Wake(waker));
        let _counted = hub::IoWaiter::new();
        task::park(
            &me,
            WaitOn::Io {
                fd: src.fd,
                direction: "readable or writable",
            },
        );
        if src.closed.get() {
            Err(closed_error(src.fd))
        } else if src.readable.get() || src.writable.get() {
            Ok(())
        } else {
            Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!(
                    "timed out waiting for fd {} to become readable or writable",
                    src.fd
                ),
            ))
        }
    }

    /// Deregisters the source and wakes every greenlet waiting on it with an error (gevent's
    /// `cancel_wait`); later waits fail at once. Dropping the registration does the same.
    pub(crate) fn close(&self) {
        let src = &self.source;
        if src.closed.replace(true) {
            return;
        }
        hub::deregister_source(src, |registry| registry.deregister(&mut SourceFd(&src.fd)));
        src.readers.notify_all();
        src.writers.notify_all();
    }
}

impl Drop for IoRegistration {
    fn drop(&mut self) {
        self.close();
    }
}

fn closed_error(fd: RawFd) -> io::Error {
    io::Error::new(
        io::ErrorKind::NotConnected,
        format!("fd {fd} was closed while a greenlet was waiting on it"),
    )
}

/// Parks the current greenlet until `fd` is readable (or has hung up, or has an error), at
/// most `timeout`. The fd is registered with the hub for the duration of the call only: for
/// sockets used repeatedly, greenwood's `net` types keep one registration for their life.
///
/// # Errors
///
/// `TimedOut` after `timeout`; what `epoll_ctl` says for an fd that cannot be polled (a
/// regular file is always ready: use the thread pool for its blocking I/O).
///
/// # Examples
///
/// ```
/// use std::io::Write;
/// use std::os::fd::AsRawFd;
/// use std::os::unix::net::UnixStream;
/// use std::time::Duration;
///
/// let (a, mut b) = UnixStream::pair()?;
/// let fd = a.as_raw_fd();
/// let _writer = greenwood::spawn(move || {
///     greenwood::sleep(Duration::from_millis(5));
///     b.write_all(b"ping").unwrap();
/// });
/// greenwood::wait_read(fd, Some(Duration::from_secs(5)))?; // other greenlets run meanwhile
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn wait_read(fd: RawFd, timeout: Option<Duration>) -> io::Result<()> {
    IoRegistration::new(fd)?.wait(Direction::Read, timeout)
}

/// Parks the current greenlet until `fd` is writable (or has an error), at most `timeout`;
/// see [`wait_read`].
///
/// # Errors
///
/// As [`wait_read`].
///
/// # Examples
///
/// ```
/// use std::os::fd::AsRawFd;
/// use std::os::unix::net::UnixStream;
/// use std::time::Duration;
///
/// let (a, _b) = UnixStream::pair()?;
/// greenwood::wait_write(a.as_raw_fd(), Some(Duration::from_secs(5)))?; // room in the buffer
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn wait_write(fd: RawFd, timeout: Option<Duration>) -> io::Result<()> {
    IoRegistration::new(fd)?.wait(Direction::Write, timeout)
}

/// Parks the current greenlet until `fd` is readable or writable, at most `timeout`; see
/// [`wait_read`].
///
/// # Errors
///
/// As [`wait_read`].
///
/// # Examples
///
/// ```
/// use std::os::fd::AsRawFd;
/// use std::os::unix::net::UnixStream;
///
/// let (a, _b) = UnixStream::pair()?;
/// greenwood::wait_readwrite(a.as_raw_fd(), Some(std::time::Duration::from_secs(5)))?; // writable
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn wait_readwrite(fd: RawFd, timeout: Option<Duration>) -> io::Result<()> {
    IoRegistration::new(fd)?.wait_either(timeout)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::os::fd::AsRawFd;
    use std::os::unix::net::UnixStream;

    fn pair() -> (UnixStream, UnixStream) {
        let (a, b) = UnixStream::pair().unwrap();
        a.set_nonblocking(true).unwrap();
        b.set_nonblocking(true).unwrap();
        (a, b)
    }

    #[test]
    fn try_first_then_clear_and_wait_sees_every_edge() {
        let (mut a, mut b) = pair();
        let reg = IoRegistration::new(a.as_raw_fd()).unwrap();
        let writer = crate::spawn(move || {
            for chunk in [b"one", b"two"] {
                crate::sleep(Duration::from_millis(2));
                b.write_all(chunk).unwrap();
            }
            b
        });
        let mut got = Vec::new();
        let mut buf = [0u8; 16];
        while got.len() < 6 {
            match a.read(&mut buf) {
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    reg.clear(Direction::Read);
                    reg.wait(Direction::Read, Some(Duration::from_secs(5)))
                        .unwrap();
                }
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!(got, b"onetwo");
        drop(writer.take().unwrap());
    }

    #[test]
    fn closing_a_source_wakes_its_waiters_with_an_error() {
        let (a, _b) = pair();
        let reg = Rc::new(IoRegistration::new(a.as_raw_fd()).unwrap());
        let r = reg.clone();
        let waiter = crate::spawn(move || r.wait(Direction::Read, None));
        crate::sleep(Duration::ZERO);
        reg.close();
        let err = waiter.take().unwrap().unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotConnected);
        assert!(err
            .to_string()
            .contains("was closed while a greenlet was waiting"));
        let again = reg.wait(Direction::Read, None).unwrap_err();
        assert_eq!(again.kind(), io::ErrorKind::NotConnected);
    }

    #[test]
    fn an_event_for_a_closed_source_never_wakes_the_source_that_reuses_its_slot() {
        let (a, mut b) = pair();
        let old = IoRegistration::new(a.as_raw_fd()).unwrap();
        let old_token = old.source.token();
        b.write_all(b"x").unwrap(); // an event is pending for the old registration
        drop(old);
        drop(a);
        let (c, _d) = pair();
        let new = IoRegistration::new(c.as_raw_fd()).unwrap();
        assert_eq!(
            new.source.token() & 0xffff_ffff,
            old_token & 0xffff_ffff,
            "same slot"
        );
        assert_ne!(new.source.token(), old_token, "different generation");
        let r = new
            .wait(Direction::Read, Some(Duration::from_millis(20)))
            .unwrap_err();
        assert_eq!(
            r.kind(),
            io::ErrorKind::TimedOut,
            "nothing to read on the new source"
        );
    }
}
