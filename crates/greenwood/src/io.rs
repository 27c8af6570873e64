//! Waiting for a raw file descriptor: [`wait_read`], [`wait_write`] and [`wait_readwrite`]
//! (gevent's `wait_read`/`wait_write`), on the hub's reactor. greenwood's `net` types keep a
//! registration for their life instead (see `hub/reactor.rs`).

use std::io;
use std::os::fd::RawFd;
use std::time::Duration;

use crate::hub::reactor::{Direction, IoRegistration};

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
    use crate::hub::reactor::tests::pair;
    use std::io::{Read, Write};
    use std::os::fd::AsRawFd;
    use std::rc::Rc;

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
}
