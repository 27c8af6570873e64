//! Cooperative networking: drop-ins for `std::net` (and, in [`unix`], `std::os::unix::net`)
//! whose blocking calls park only the calling greenlet. Change `use std::net::TcpStream` to
//! `use greenwood::net::TcpStream` and thread-per-connection code becomes
//! greenlet-per-connection.
//!
//! Readiness works like Go's netpoller (see `hub/reactor.rs`): each socket is registered with the
//! hub's poller once for its life, edge-triggered; every operation tries its syscall first
//! and parks only on `WouldBlock`. Read and write timeouts are cooperative and honour
//! [`Timeout`](crate::Timeout), [`with_timeout`](crate::with_timeout) and kill.
//!
//! Name resolution for host names runs on the thread pool, never on the hub; addresses
//! given as IPs are parsed on the spot.

/// Implements `Read` and `Write` (for the type and for `&` it) and `AsRawFd`/`AsFd` for a
/// stream socket type with an `io: Blocking` and a std `sock` field.
macro_rules! cooperative_stream {
    ($t:ty) => {
        impl std::io::Read for $t {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                std::io::Read::read(&mut &*self, buf)
            }

            fn read_vectored(
                &mut self,
                bufs: &mut [std::io::IoSliceMut<'_>],
            ) -> std::io::Result<usize> {
                std::io::Read::read_vectored(&mut &*self, bufs)
            }
        }

        impl std::io::Read for &$t {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                self.io
                    .transfer(crate::hub::reactor::Direction::Read, buf.len(), || {
                        std::io::Read::read(&mut &self.sock, buf)
                    })
            }

            fn read_vectored(
                &mut self,
                bufs: &mut [std::io::IoSliceMut<'_>],
            ) -> std::io::Result<usize> {
                let len = bufs.iter().map(|b| b.len()).sum();
                self.io
                    .transfer(crate::hub::reactor::Direction::Read, len, || {
                        std::io::Read::read_vectored(&mut &self.sock, bufs)
                    })
            }
        }

        impl std::io::Write for $t {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                std::io::Write::write(&mut &*self, buf)
            }

            fn write_vectored(&mut self, bufs: &[std::io::IoSlice<'_>]) -> std::io::Result<usize> {
                std::io::Write::write_vectored(&mut &*self, bufs)
            }

            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }

        impl std::io::Write for &$t {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.io
                    .transfer(crate::hub::reactor::Direction::Write, buf.len(), || {
                        std::io::Write::write(&mut &self.sock, buf)
                    })
            }

            fn write_vectored(&mut self, bufs: &[std::io::IoSlice<'_>]) -> std::io::Result<usize> {
                let len = bufs.iter().map(|b| b.len()).sum();
                self.io
                    .transfer(crate::hub::reactor::Direction::Write, len, || {
                        std::io::Write::write_vectored(&mut &self.sock, bufs)
                    })
            }

            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }

        impl std::os::fd::AsRawFd for $t {
            fn as_raw_fd(&self) -> std::os::fd::RawFd {
                std::os::fd::AsRawFd::as_raw_fd(&self.sock)
            }
        }

        impl std::os::fd::AsFd for $t {
            fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
                std::os::fd::AsFd::as_fd(&self.sock)
            }
        }
    };
}

/// Makes a socket type [`Waitable`](crate::Waitable): ready when a read (or an accept) would
/// not wait. With `peek`, the readiness the poller reported is confirmed by a one-byte
/// `MSG_PEEK` (a socket that was read dry since is not ready); listeners take the poller's
/// word.
macro_rules! waitable_socket {
    ($t:ty, $how:ident) => {
        impl crate::hub::waitlist::private::Sealed for $t {
            fn wait_list(&self) -> &crate::hub::waitlist::WaitList {
                self.io.reg().readers()
            }

            fn still_ready(&self) -> bool {
                crate::Waitable::is_ready(self)
            }
        }

        impl crate::Waitable for $t {
            fn is_ready(&self) -> bool {
                waitable_socket!(@ready self, $how)
            }
        }
    };
    (@ready $s:ident, peek) => {
        $s.io.reg().maybe_readable() && crate::net::peek_ready(&$s.io, &$s.sock)
    };
    (@ready $s:ident, poller) => {
        $s.io.reg().maybe_readable()
    };
}

/// Whether a read on `sock` would return at once: data, end of file or an error are there.
/// A `WouldBlock` marks the direction drained, so the next wait parks for an event.
pub(crate) fn peek_ready(io: &Blocking, sock: &impl std::os::fd::AsFd) -> bool {
    if io.reg().is_closed() {
        return true;
    }
    let mut byte = [std::mem::MaybeUninit::<u8>::uninit(); 1];
    match socket2::SockRef::from(sock).peek(&mut byte) {
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
            io.reg().mark_drained(Direction::Read);
            false
        }
        _ => true,
    }
}

mod addr;
mod tcp;
mod udp;
pub mod unix;

pub use addr::ToSocketAddrs;
pub use tcp::{Incoming, TcpListener, TcpStream};
pub use udp::UdpSocket;

use std::cell::Cell;
use std::io;
use std::net::SocketAddr;
use std::os::fd::RawFd;
use std::time::{Duration, Instant};

use crate::hub::reactor::{Direction, IoRegistration};

/// Runs `op` until it does not say `WouldBlock`, parking on `reg` in direction `d` in between,
/// for at most `timeout` in all.
pub(crate) fn retry<R>(
    reg: &IoRegistration,
    d: Direction,
    timeout: Option<Duration>,
    op: impl FnMut() -> io::Result<R>,
) -> io::Result<R> {
    retry_inner(reg, d, timeout, op, |_| false)
}

/// `retry` for a read or write of `len` bytes on a stream socket. A transfer shorter than
/// asked means the socket's buffer was drained (read) or filled (write) at that moment, so
/// the direction is marked not ready: the next call parks at once instead of paying a
/// syscall to learn `WouldBlock` (tokio does the same). Safe with edge-triggered epoll:
/// anything that arrives afterwards raises a new event, and events are only collected while
/// the greenlet is parked.
pub(crate) fn retry_transfer(
    reg: &IoRegistration,
    d: Direction,
    timeout: Option<Duration>,
    len: usize,
    op: impl FnMut() -> io::Result<usize>,
) -> io::Result<usize> {
    retry_inner(reg, d, timeout, op, |n| *n > 0 && *n < len)
}

fn retry_inner<R>(
    reg: &IoRegistration,
    d: Direction,
    timeout: Option<Duration>,
    mut op: impl FnMut() -> io::Result<R>,
    drained: impl Fn(&R) -> bool,
) -> io::Result<R> {
    let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
    let mut parked = false;
    if reg.is_drained(d) {
        // The last transfer came up short and no event has arrived since: trying now would
        // only return `WouldBlock`.
        wait(reg, d, deadline)?;
        parked = true;
    }
    loop {
        match op() {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                reg.clear(d);
                wait(reg, d, deadline)?;
                parked = true;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Ok(r) => {
                if drained(&r) {
                    reg.mark_drained(d);
                }
                if !parked {
                    crate::hub::task::consume_budget();
                }
                return Ok(r);
            }
            r => return r,
        }
    }
}

/// Parks until `d` is ready or `deadline` passes.
fn wait(reg: &IoRegistration, d: Direction, deadline: Option<Instant>) -> io::Result<()> {
    let left = deadline.map(|dl| dl.saturating_duration_since(Instant::now()));
    if left == Some(Duration::ZERO) {
        return Err(timed_out(d));
    }
    match reg.wait(d, left) {
        Err(e) if e.kind() == io::ErrorKind::TimedOut => Err(timed_out(d)),
        r => r,
    }
}

fn timed_out(d: Direction) -> io::Error {
    // std reports an expired socket timeout as WouldBlock on Unix; say which one it was.
    let what = match d {
        Direction::Read => "read",
        Direction::Write => "write",
    };
    io::Error::new(
        io::ErrorKind::WouldBlock,
        format!("the {what} timeout expired"),
    )
}

/// The backlog greenwood's listeners ask for: more than any kernel grants, so Linux caps it at
/// `net.core.somaxconn` (4096 by default) instead of std's 128, which a burst of connects from
/// one hub's greenlets overflows (the surplus connections are reset).
const LISTEN_BACKLOG: i32 = i32::MAX;

/// A stream socket bound to `addr` and listening, as std's `bind` makes one (with
/// `SO_REUSEADDR` for IP sockets) but with [`LISTEN_BACKLOG`].
pub(crate) fn listen(
    domain: socket2::Domain,
    addr: &socket2::SockAddr,
) -> io::Result<socket2::Socket> {
    let sock = socket2::Socket::new(domain, socket2::Type::STREAM, None)?;
    if domain != socket2::Domain::UNIX {
        sock.set_reuse_address(true)?;
    }
    sock.bind(addr)?;
    sock.listen(LISTEN_BACKLOG)?;
    Ok(sock)
}

/// A TCP socket bound to `addr` with `SO_REUSEPORT`, so that other sockets (of this process
/// or another of the same user) bind the same address and the kernel spreads connections
/// over the ones that listen; listening with [`LISTEN_BACKLOG`] if `listen`. One that is
/// bound but does not listen keeps the port without taking connections.
pub(crate) fn shared_listener(addr: SocketAddr, listen: bool) -> io::Result<socket2::Socket> {
    let sock = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::STREAM,
        None,
    )?;
    sock.set_reuse_address(true)?;
    sock.set_reuse_port(true)?;
    sock.bind(&addr.into())?;
    if listen {
        sock.listen(LISTEN_BACKLOG)?;
    }
    Ok(sock)
}

/// Tries `f` on each address `addr` resolves to; the last error if none works.
pub(crate) fn each_addr<A: ToSocketAddrs + ?Sized, T>(
    addr: &A,
    mut f: impl FnMut(SocketAddr) -> io::Result<T>,
) -> io::Result<T> {
    let mut last = None;
    for a in addr.to_socket_addrs()? {
        match f(a) {
            Ok(t) => return Ok(t),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "could not resolve to any addresses",
        )
    }))
}

/// A socket's registration with the hub, and the std-style blocking settings (timeouts,
/// non-blocking mode) that every socket type applies the same way.
pub(crate) struct Blocking {
    reg: IoRegistration,
    read_timeout: Cell<Option<Duration>>,
    write_timeout: Cell<Option<Duration>>,
    nonblocking: Cell<bool>,
}

impl Blocking {
    /// Registers `fd` (already in non-blocking mode) with this thread's hub.
    pub(crate) fn new(fd: RawFd) -> io::Result<Blocking> {
        Ok(Blocking {
            reg: IoRegistration::new(fd)?,
            read_timeout: Cell::new(None),
            write_timeout: Cell::new(None),
            nonblocking: Cell::new(false),
        })
    }

    /// The same settings on another registration (for `try_clone`).
    pub(crate) fn with_settings_of(self, other: &Blocking) -> Blocking {
        self.read_timeout.set(other.read_timeout.get());
        self.write_timeout.set(other.write_timeout.get());
        self.nonblocking.set(other.nonblocking.get());
        self
    }

    pub(crate) fn reg(&self) -> &IoRegistration {
        &self.reg
    }

    fn timeout(&self, d: Direction) -> Option<Duration> {
        match d {
            Direction::Read => self.read_timeout.get(),
            Direction::Write => self.write_timeout.get(),
        }
    }

    /// Wakes every greenlet parked on the socket with an error, deregisters it, and makes
    /// every later operation fail at once. The fd is closed when the value drops.
    pub(crate) fn close(&self) {
        self.reg.close();
    }

    /// `sock`, unless [`close`](Blocking::close) was called: then the error every later
    /// operation gets (what `close(2)` would leave behind, minus the fd number's reuse).
    pub(crate) fn open<'a, S>(&self, sock: &'a S) -> io::Result<&'a S> {
        self.check_open().map(|()| sock)
    }

    /// `Ok` unless [`close`](Blocking::close) was called (see [`open`](Blocking::open)).
    pub(crate) fn check_open(&self) -> io::Result<()> {
        if self.reg.is_closed() {
            return Err(self.reg.closed_error());
        }
        Ok(())
    }

    /// Runs `op`, parking on `WouldBlock` unless in non-blocking mode.
    pub(crate) fn op<R>(
        &self,
        d: Direction,
        mut op: impl FnMut() -> io::Result<R>,
    ) -> io::Result<R> {
        if self.reg.is_closed() {
            return Err(self.reg.closed_error());
        }
        if self.nonblocking.get() {
            return op();
        }
        retry(&self.reg, d, self.timeout(d), op)
    }

    /// `op` for a stream read or write of up to `len` bytes (see [`retry_transfer`]).
    pub(crate) fn transfer(
        &self,
        d: Direction,
        len: usize,
        mut op: impl FnMut() -> io::Result<usize>,
    ) -> io::Result<usize> {
        if self.reg.is_closed() {
            return Err(self.reg.closed_error());
        }
        if self.nonblocking.get() {
            return op();
        }
        retry_transfer(&self.reg, d, self.timeout(d), len, op)
    }

    pub(crate) fn set_timeout(&self, d: Direction, timeout: Option<Duration>) -> io::Result<()> {
        self.check_open()?;
        if timeout == Some(Duration::ZERO) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "cannot set a 0 duration timeout (use None for no timeout)",
            ));
        }
        match d {
            Direction::Read => self.read_timeout.set(timeout),
            Direction::Write => self.write_timeout.set(timeout),
        }
        Ok(())
    }

    pub(crate) fn get_timeout(&self, d: Direction) -> io::Result<Option<Duration>> {
        self.check_open()?;
        Ok(self.timeout(d))
    }

    pub(crate) fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        self.check_open()?;
        self.nonblocking.set(nonblocking);
        Ok(())
    }
}
