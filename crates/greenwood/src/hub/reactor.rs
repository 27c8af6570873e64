//! The reactor: the hub's poller (mio over epoll), the sources registered with it, and the
//! dispatch of readiness to the greenlets waiting on them.
//!
//! I/O readiness works the way Go's netpoller does it: each file descriptor is registered
//! once, edge-triggered, for both directions; the hub records readiness per source when the
//! poller reports it; a greenlet tries its syscall first and parks only when the syscall says
//! `WouldBlock`, after clearing the direction's readiness.
//!
//! Clearing and then parking cannot lose an edge: events are only collected by the hub, while
//! the greenlet is parked, so an edge that arrives after the failed syscall is reported by the
//! next poll and wakes it.
//!
//! A source's token carries a generation beside its slab key, so an event for a source that
//! was closed (and whose key and fd number were reused) never wakes the new source's waiters.
//! Closing a source wakes everyone waiting on it with an error (gevent's `cancel_wait`).
//!
//! The reactor belongs to its hub (a field of `HubInner`); the hub's loop calls
//! [`Reactor::poll`], and registrations reach it through this thread's hub.

use std::cell::{Cell, RefCell};
#[cfg(feature = "monkey")]
use std::collections::HashMap;
use std::io;
use std::os::fd::RawFd;
use std::rc::Rc;
use std::time::Duration;

use mio::unix::SourceFd;
use slab::Slab;

use crate::hub::task::WaitOn;
use crate::hub::waitlist::{Notify, Registration as WaitEntry, WaitList};
use crate::hub::{self, wait_for};

/// The token of the `mio::Waker` other threads use to interrupt the poll.
const WAKER_TOKEN: mio::Token = mio::Token(usize::MAX);

/// Source tokens: the slab key below this bit, a generation above it.
const KEY_BITS: u32 = 32;
const KEY_MASK: usize = (1 << KEY_BITS) - 1;

/// A hub's poller and what is registered with it.
pub(crate) struct Reactor {
    poll: RefCell<mio::Poll>,
    events: RefCell<mio::Events>,
    /// Sources registered with the poller (slab key in the low half of their token, a
    /// generation in the high half).
    sources: RefCell<Slab<Rc<Source>>>,
    generation: Cell<usize>,
    /// Greenlets parked on a source: while any is, blocking forever is not a deadlock.
    waiters: Cell<usize>,
    #[cfg(feature = "monkey")]
    /// Registrations of fds greenwood does not own (the program's, reached through calls that
    /// `monkey` interposes), by fd number, so each is registered with epoll once for its life.
    foreign: RefCell<HashMap<RawFd, Foreign>>,
}

#[cfg(feature = "monkey")]
/// A foreign fd's registration, and what the fd was when it was made.
struct Foreign {
    identity: FdIdentity,
    fd: Rc<ForeignFd>,
}

/// What the hub keeps of a foreign fd: its registration with epoll, made the first time a
/// greenlet parks on it, and the program's settings for it, looked up once and kept with the
/// version of the fd's settings they were read at.
#[cfg(feature = "monkey")]
pub(crate) struct ForeignFd {
    fd: RawFd,
    registration: std::cell::OnceCell<IoRegistration>,
    pub(crate) settings: Cell<Option<(u64, ForeignSettings)>>,
    /// The file the registration was made for (device and inode), set by its user.
    pub(crate) file: Cell<Option<FdIdentity>>,
}

#[cfg(feature = "monkey")]
impl ForeignFd {
    /// The fd's registration with this hub's epoll instance, made now if needed.
    ///
    /// # Errors
    ///
    /// What registering says: an fd that cannot be polled (a regular file), or one that is
    /// registered already, by greenwood itself (a `greenwood::net` socket's fd).
    pub(crate) fn registration(&self) -> io::Result<&IoRegistration> {
        if let Some(r) = self.registration.get() {
            return Ok(r);
        }
        let r = IoRegistration::new(self.fd)?;
        Ok(self.registration.get_or_init(|| r))
    }
}

/// The program's own settings of a foreign fd.
#[cfg(feature = "monkey")]
#[derive(Clone, Copy, Debug)]
pub(crate) struct ForeignSettings {
    /// The program made it non-blocking (`O_NONBLOCK`): it gets `EAGAIN`, as it asked.
    pub(crate) nonblocking: bool,
    /// `SO_RCVTIMEO` and `SO_SNDTIMEO`.
    pub(crate) read_timeout: Option<Duration>,
    pub(crate) write_timeout: Option<Duration>,
    /// A pipe, FIFO or character device (a terminal): no socket, but it can be waited on.
    pub(crate) stream: bool,
}

#[cfg(feature = "monkey")]
/// What an fd number refers to, as its user tells them apart (a device and an inode, or a
/// count of the changes made to the number): a closed fd's number can come back as a
/// different file, which the old registration must not be taken for.
pub(crate) type FdIdentity = (u64, u64);

impl Reactor {
    /// A poller, and the waker other threads use to interrupt its poll.
    pub(crate) fn new() -> io::Result<(Reactor, mio::Waker)> {
        let poll = mio::Poll::new().map_err(|e| with_fd_hint(e, "an epoll instance"))?;
        let waker = mio::Waker::new(poll.registry(), WAKER_TOKEN)
            .map_err(|e| with_fd_hint(e, "an eventfd"))?;
        let reactor = Reactor {
            poll: RefCell::new(poll),
            events: RefCell::new(mio::Events::with_capacity(1024)),
            sources: RefCell::new(Slab::new()),
            generation: Cell::new(0),
            waiters: Cell::new(0),
            #[cfg(feature = "monkey")]
            foreign: RefCell::new(HashMap::new()),
        };
        Ok((reactor, waker))
    }

    /// Whether any source is registered (a poll can report something).
    pub(crate) fn has_sources(&self) -> bool {
        !self.sources.borrow().is_empty()
    }

    /// How many sources are registered.
    pub(crate) fn registered(&self) -> usize {
        self.sources.borrow().len()
    }

    /// Whether a greenlet is parked on a source.
    pub(crate) fn has_waiters(&self) -> bool {
        self.waiters.get() > 0
    }

    /// Polls (blocking at most `timeout`, `None` for no limit) and wakes the greenlets
    /// waiting for what became ready. The waker's event only interrupts the poll: the hub
    /// takes the remote queue itself.
    pub(crate) fn poll(&self, timeout: Option<Duration>) {
        let mut poll = self.poll.borrow_mut();
        let mut events = self.events.borrow_mut();
        if let Err(e) = poll.poll(&mut events, timeout) {
            if e.kind() != io::ErrorKind::Interrupted {
                panic!("greenwood: the hub's poller failed: {e}");
            }
        }
        drop(poll);
        for event in events.iter() {
            let token = event.token().0;
            if event.token() == WAKER_TOKEN {
                continue;
            }
            let source = self.sources.borrow().get(token & KEY_MASK).cloned();
            if let Some(source) = source {
                // A closed source's key may already serve a new one: its token differs.
                if source.token == token {
                    source.ready(event);
                }
            }
        }
    }

    /// Registers a new source for `fd`, with `register` doing the poller's part.
    fn register(
        &self,
        fd: RawFd,
        register: impl FnOnce(usize, &mio::Registry) -> io::Result<()>,
    ) -> io::Result<Rc<Source>> {
        let mut sources = self.sources.borrow_mut();
        let entry = sources.vacant_entry();
        let generation = self.generation.get().wrapping_add(1) & KEY_MASK;
        self.generation.set(generation);
        let key = entry.key();
        if key > KEY_MASK {
            return Err(io::Error::other(
                "greenwood: more than 4 billion I/O sources",
            ));
        }
        let token = key | (generation << KEY_BITS);
        register(token, self.poll.borrow().registry())?;
        let source = Rc::new(Source::new(fd, token));
        entry.insert(source.clone());
        Ok(source)
    }

    /// Removes a source, with `deregister` doing the poller's part.
    fn deregister(
        &self,
        source: &Source,
        deregister: impl FnOnce(&mio::Registry) -> io::Result<()>,
    ) {
        // The fd may be closed already (then the kernel dropped it from the poller itself).
        let _ = deregister(self.poll.borrow().registry());
        let key = source.token & KEY_MASK;
        let removed = {
            let mut sources = self.sources.borrow_mut();
            match sources.get(key) {
                Some(s) if s.token == source.token => sources.try_remove(key),
                _ => None,
            }
        };
        drop(removed);
    }
}

#[cfg(feature = "monkey")]
/// What this hub keeps of `fd`, a file descriptor greenwood does not own: made on first use
/// and kept until [`forget_foreign`]. `identity` is what the fd is now: what was kept for an
/// earlier identity under the same number is kept if `still_same` says it is still about the
/// same file (the number was closed and reused by another thread before the one that closed
/// it said so), and abandoned and made anew otherwise (a file closed behind greenwood's back).
pub(crate) fn foreign_fd(
    fd: RawFd,
    identity: FdIdentity,
    still_same: impl FnOnce(&ForeignFd) -> bool,
) -> Rc<ForeignFd> {
    let known = hub::with(|hub| {
        let foreign = hub.reactor.foreign.borrow();
        foreign
            .get(&fd)
            .map(|f| (f.identity == identity, f.fd.clone()))
    });
    match known {
        Some((true, f)) => return f,
        Some((false, f)) if still_same(&f) => {
            hub::with(|hub| {
                if let Some(e) = hub.reactor.foreign.borrow_mut().get_mut(&fd) {
                    e.identity = identity;
                }
            });
            return f;
        }
        _ => {}
    }
    let (entry, stale) = hub::with(|hub| {
        let mut foreign = hub.reactor.foreign.borrow_mut();
        let entry = Rc::new(ForeignFd {
            fd,
            registration: std::cell::OnceCell::new(),
            settings: Cell::new(None),
            file: Cell::new(None),
        });
        let stale = foreign.insert(
            fd,
            Foreign {
                identity,
                fd: entry.clone(),
            },
        );
        (entry, stale)
    });
    if let Some(reg) = stale.as_ref().and_then(|old| old.fd.registration.get()) {
        // The number refers to another file by now: epoll forgets the old one when it is
        // closed, and an event it still sends carries the old token, which no source answers
        // to.
        reg.abandon();
    }
    entry
}

/// Parks the current greenlet until one of `sources` is ready in its direction, at most
/// `timeout` (`poll(2)` on many fds). The directions' readiness is forgotten first: the
/// caller has just seen, with a non-blocking look of its own, that none is ready.
///
/// # Errors
///
/// `TimedOut` after `timeout`; `NotConnected` if one of the sources is closed meanwhile;
/// what registering one of them says (see [`ForeignFd::registration`]).
#[cfg(feature = "monkey")]
pub(crate) fn wait_any(
    sources: &[(Rc<ForeignFd>, Direction)],
    timeout: Option<Duration>,
) -> io::Result<()> {
    let regs = sources
        .iter()
        .map(|(f, d)| Ok((f.registration()?, *d)))
        .collect::<io::Result<Vec<(&IoRegistration, Direction)>>>()?;
    for (reg, d) in &regs {
        reg.clear(*d);
    }
    let Some((first, _)) = regs.first() else {
        return Ok(());
    };
    let what = WaitOn::Io {
        fd: first.source.fd,
        direction: "ready (poll)",
    };
    wait_for(what, timeout, |waker| {
        let entries: Vec<WaitEntry<'_>> = regs
            .iter()
            .map(|(reg, d)| WaitEntry::new(reg.source.waiters(*d), Notify::Wake(waker.clone())))
            .collect();
        (entries, IoWaiter::new())
    });
    let ready = regs.iter().any(|(reg, d)| reg.source.flag(*d).get());
    if regs.iter().any(|(reg, _)| reg.source.closed.get()) {
        Err(closed_error(first.source.fd))
    } else if ready {
        Ok(())
    } else {
        Err(io::Error::new(io::ErrorKind::TimedOut, "poll timed out"))
    }
}

#[cfg(feature = "monkey")]
/// Drops this hub's registration of a foreign `fd` about to be closed (or replaced by
/// `dup2`): greenlets parked on it wake with an error. Does nothing on a thread without a hub.
pub(crate) fn forget_foreign(fd: RawFd) {
    let mut removed = None;
    hub::try_with(|hub| removed = hub.reactor.foreign.borrow_mut().remove(&fd));
    if let Some(reg) = removed.as_ref().and_then(|f| f.fd.registration.get()) {
        reg.close();
    }
}

/// Counts a greenlet parked on I/O for as long as it lives: while any is, blocking forever is
/// not a deadlock.
struct IoWaiter(());

impl IoWaiter {
    fn new() -> IoWaiter {
        hub::with(|hub| {
            let waiters = &hub.reactor.waiters;
            waiters.set(waiters.get() + 1);
        });
        IoWaiter(())
    }
}

impl Drop for IoWaiter {
    fn drop(&mut self) {
        hub::try_with(|hub| {
            let waiters = &hub.reactor.waiters;
            waiters.set(waiters.get() - 1);
        });
    }
}

/// `e`, saying what could not be created, and naming the fd limit when that is the cause.
pub(crate) fn with_fd_hint(e: io::Error, what: &str) -> io::Error {
    if e.raw_os_error() == Some(libc::EMFILE) {
        io::Error::new(
            e.kind(),
            format!(
                "cannot create {what}: too many open files (RLIMIT_NOFILE); raise it with \
                 `ulimit -n` or setrlimit"
            ),
        )
    } else {
        io::Error::new(e.kind(), format!("cannot create {what}: {e}"))
    }
}

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

    /// Records what the poller reported and wakes the greenlets waiting for it.
    fn ready(&self, event: &mio::event::Event) {
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
        let registered = hub::with(|hub| {
            hub.reactor.register(fd, |token, registry| {
                registry.register(
                    &mut SourceFd(&fd),
                    mio::Token(token),
                    mio::Interest::READABLE | mio::Interest::WRITABLE,
                )
            })
        });
        let source = registered.map_err(|e| {
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

    /// Forgets that `d` was ready: call it when the syscall said `WouldBlock`, before
    /// [`wait`](IoRegistration::wait).
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
        let what = WaitOn::Io {
            fd: src.fd,
            direction: d.name(),
        };
        wait_for(what, timeout, |waker| {
            (
                WaitEntry::new(src.waiters(d), Notify::Wake(waker)),
                IoWaiter::new(),
            )
        });
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
        let what = WaitOn::Io {
            fd: src.fd,
            direction: "readable or writable",
        };
        wait_for(what, timeout, |waker| {
            (
                WaitEntry::new(&src.readers, Notify::Wake(waker.clone())),
                WaitEntry::new(&src.writers, Notify::Wake(waker)),
                IoWaiter::new(),
            )
        });
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
        self.close_with(|registry, fd| registry.deregister(&mut SourceFd(&fd)));
    }

    #[cfg(feature = "monkey")]
    /// `close` for a source whose fd number no longer refers to its file: no `epoll_ctl`,
    /// which would act on whatever file has the number now.
    fn abandon(&self) {
        self.close_with(|_, _| Ok(()));
    }

    fn close_with(&self, deregister: impl FnOnce(&mio::Registry, RawFd) -> io::Result<()>) {
        let src = &self.source;
        if src.closed.replace(true) {
            return;
        }
        hub::try_with(|hub| {
            hub.reactor
                .deregister(src, |registry| deregister(registry, src.fd))
        });
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

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::io::Write;
    use std::os::fd::AsRawFd;
    use std::os::unix::net::UnixStream;

    /// A connected pair of non-blocking Unix sockets.
    pub(crate) fn pair() -> (UnixStream, UnixStream) {
        let (a, b) = UnixStream::pair().unwrap();
        a.set_nonblocking(true).unwrap();
        b.set_nonblocking(true).unwrap();
        (a, b)
    }

    #[test]
    fn an_event_for_a_closed_source_never_wakes_the_source_that_reuses_its_slot() {
        let (a, mut b) = pair();
        let old = IoRegistration::new(a.as_raw_fd()).unwrap();
        let old_token = old.source.token;
        b.write_all(b"x").unwrap(); // an event is pending for the old registration
        drop(old);
        drop(a);
        let (c, _d) = pair();
        let new = IoRegistration::new(c.as_raw_fd()).unwrap();
        assert_eq!(
            new.source.token & 0xffff_ffff,
            old_token & 0xffff_ffff,
            "same slot"
        );
        assert_ne!(new.source.token, old_token, "different generation");
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
