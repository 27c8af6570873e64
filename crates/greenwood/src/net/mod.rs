//! Cooperative networking: drop-ins for `std::net` whose blocking calls park only the calling
//! greenlet. Change `use std::net::TcpStream` to `use greenwood::net::TcpStream` and
//! thread-per-connection code becomes greenlet-per-connection.
//!
//! Readiness works like Go's netpoller (see `io.rs`): each socket is registered with the
//! hub's poller once for its life, edge-triggered; every operation tries its syscall first
//! and parks only on `WouldBlock`. Read and write timeouts are cooperative and honour
//! [`Timeout`](crate::Timeout), [`with_timeout`](crate::with_timeout) and kill.
//!
//! Name resolution for host names runs on the thread pool, never on the hub; addresses
//! given as IPs are parsed on the spot.

mod addr;
mod tcp;
mod udp;

pub use addr::ToSocketAddrs;
pub use tcp::{Incoming, TcpListener, TcpStream};
pub use udp::UdpSocket;

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::io::{Direction, IoRegistration};

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
    loop {
        match op() {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                reg.clear(d);
                let left = deadline.map(|dl| dl.saturating_duration_since(Instant::now()));
                if left == Some(Duration::ZERO) {
                    return Err(timed_out(d));
                }
                match reg.wait(d, left) {
                    Err(e) if e.kind() == io::ErrorKind::TimedOut => return Err(timed_out(d)),
                    r => r?,
                }
                parked = true;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Ok(r) => {
                if drained(&r) {
                    reg.clear(d);
                }
                if !parked {
                    crate::task::consume_budget();
                }
                return Ok(r);
            }
            r => return r,
        }
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

pub(crate) fn zero_timeout() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        "cannot set a 0 duration timeout (use None for no timeout)",
    )
}
