//! `UdpSocket`: `std::net`'s, cooperative.

use std::fmt;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::time::Duration;

use super::{each_addr, Blocking, ToSocketAddrs};
use crate::hub::reactor::Direction;

/// A UDP socket whose blocking calls park only the calling greenlet (`std::net::UdpSocket`'s
/// methods, cooperative).
///
/// # Examples
///
/// ```
/// use greenwood::net::UdpSocket;
///
/// let server = UdpSocket::bind("127.0.0.1:0")?;
/// let addr = server.local_addr()?;
/// let echo = greenwood::spawn(move || -> std::io::Result<()> {
///     let mut buf = [0; 64];
///     let (n, from) = server.recv_from(&mut buf)?; // parks this greenlet only
///     server.send_to(&buf[..n], from)?;
///     Ok(())
/// });
/// let client = UdpSocket::bind("127.0.0.1:0")?;
/// client.send_to(b"ping", addr)?;
/// let mut buf = [0; 64];
/// let (n, _) = client.recv_from(&mut buf)?;
/// assert_eq!(&buf[..n], b"ping");
/// echo.take().unwrap()?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct UdpSocket {
    // Deregistered before the socket closes (fields drop in order).
    io: Blocking,
    sock: std::net::UdpSocket,
}

impl UdpSocket {
    /// Binds a socket to `addr` (the first address it resolves to that works).
    ///
    /// # Errors
    ///
    /// What `bind(2)` says for the last address tried.
    ///
    /// # Examples
    ///
    /// ```
    /// let s = greenwood::net::UdpSocket::bind("127.0.0.1:0")?;
    /// assert_ne!(s.local_addr()?.port(), 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn bind<A: ToSocketAddrs>(addr: A) -> io::Result<UdpSocket> {
        each_addr(&addr, |a| {
            UdpSocket::from_std(std::net::UdpSocket::bind(a)?)
        })
    }

    /// Makes a std socket cooperative.
    ///
    /// # Errors
    ///
    /// If it cannot be made non-blocking or registered.
    ///
    /// # Examples
    ///
    /// ```
    /// let s = std::net::UdpSocket::bind("127.0.0.1:0")?;
    /// let s = greenwood::net::UdpSocket::from_std(s)?;
    /// # drop(s);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn from_std(sock: std::net::UdpSocket) -> io::Result<UdpSocket> {
        sock.set_nonblocking(true)?;
        Ok(UdpSocket {
            io: Blocking::new(sock.as_raw_fd())?,
            sock,
        })
    }

    /// Gives the socket back as a blocking std socket, deregistered from the hub.
    ///
    /// # Errors
    ///
    /// If it cannot be made blocking again.
    ///
    /// # Examples
    ///
    /// ```
    /// let s = greenwood::net::UdpSocket::bind("127.0.0.1:0")?;
    /// let std_socket = s.into_std()?;
    /// # drop(std_socket);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn into_std(self) -> io::Result<std::net::UdpSocket> {
        let UdpSocket { io, sock } = self;
        io.check_open()?;
        drop(io);
        sock.set_nonblocking(false)?;
        Ok(sock)
    }

    /// Receives one datagram and the address it came from, parking until one arrives.
    ///
    /// # Errors
    ///
    /// `WouldBlock` once a read timeout expires; what `recvfrom(2)` says.
    ///
    /// # Examples
    ///
    /// ```
    /// let a = greenwood::net::UdpSocket::bind("127.0.0.1:0")?;
    /// let b = greenwood::net::UdpSocket::bind("127.0.0.1:0")?;
    /// b.send_to(b"hi", a.local_addr()?)?;
    /// let mut buf = [0; 8];
    /// let (n, from) = a.recv_from(&mut buf)?;
    /// assert_eq!((n, from), (2, b.local_addr()?));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.io.op(Direction::Read, || self.sock.recv_from(buf))
    }

    /// As [`recv_from`](UdpSocket::recv_from), leaving the datagram queued.
    ///
    /// # Errors
    ///
    /// As `recv_from`.
    ///
    /// # Examples
    ///
    /// ```
    /// let a = greenwood::net::UdpSocket::bind("127.0.0.1:0")?;
    /// a.send_to(b"x", a.local_addr()?)?;
    /// let mut buf = [0; 8];
    /// assert_eq!(a.peek_from(&mut buf)?.0, 1);
    /// assert_eq!(a.recv_from(&mut buf)?.0, 1); // still there
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn peek_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.io.op(Direction::Read, || self.sock.peek_from(buf))
    }

    /// Sends a datagram to `addr`.
    ///
    /// # Errors
    ///
    /// What `sendto(2)` says; resolution errors for host names.
    ///
    /// # Examples
    ///
    /// ```
    /// let a = greenwood::net::UdpSocket::bind("127.0.0.1:0")?;
    /// assert_eq!(a.send_to(b"abc", a.local_addr()?)?, 3);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn send_to<A: ToSocketAddrs>(&self, buf: &[u8], addr: A) -> io::Result<usize> {
        let to =
            addr.to_socket_addrs()?.into_iter().next().ok_or_else(|| {
                io::Error::new(io::ErrorKind::InvalidInput, "no address to send to")
            })?;
        self.io.op(Direction::Write, || self.sock.send_to(buf, to))
    }

    /// Sets the default peer: `send` goes there and `recv` only takes its datagrams.
    ///
    /// # Errors
    ///
    /// What `connect(2)` says.
    ///
    /// # Examples
    ///
    /// ```
    /// let a = greenwood::net::UdpSocket::bind("127.0.0.1:0")?;
    /// let b = greenwood::net::UdpSocket::bind("127.0.0.1:0")?;
    /// a.connect(b.local_addr()?)?;
    /// assert_eq!(a.peer_addr()?, b.local_addr()?);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn connect<A: ToSocketAddrs>(&self, addr: A) -> io::Result<()> {
        each_addr(&addr, |a| self.io.open(&self.sock)?.connect(a))
    }

    /// Sends a datagram to the connected peer.
    ///
    /// # Errors
    ///
    /// `NotConnected` without a peer; what `send(2)` says.
    ///
    /// # Examples
    ///
    /// ```
    /// let a = greenwood::net::UdpSocket::bind("127.0.0.1:0")?;
    /// a.connect(a.local_addr()?)?;
    /// a.send(b"me")?;
    /// let mut buf = [0; 2];
    /// assert_eq!(a.recv(&mut buf)?, 2);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.io.op(Direction::Write, || self.sock.send(buf))
    }

    /// Receives a datagram from the connected peer.
    ///
    /// # Errors
    ///
    /// As [`recv_from`](UdpSocket::recv_from).
    ///
    /// # Examples
    ///
    /// ```
    /// let a = greenwood::net::UdpSocket::bind("127.0.0.1:0")?;
    /// a.connect(a.local_addr()?)?;
    /// a.send(b"x")?;
    /// assert_eq!(a.recv(&mut [0; 4])?, 1);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io.op(Direction::Read, || self.sock.recv(buf))
    }

    /// As [`recv`](UdpSocket::recv), leaving the datagram queued.
    ///
    /// # Errors
    ///
    /// As `recv`.
    ///
    /// # Examples
    ///
    /// ```
    /// let a = greenwood::net::UdpSocket::bind("127.0.0.1:0")?;
    /// a.connect(a.local_addr()?)?;
    /// a.send(b"x")?;
    /// assert_eq!(a.peek(&mut [0; 4])?, 1);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io.op(Direction::Read, || self.sock.peek(buf))
    }

    /// Bounds each receive (a `WouldBlock` error once it expires, as std's); `None` for none.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for a zero duration.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let a = greenwood::net::UdpSocket::bind("127.0.0.1:0")?;
    /// a.set_read_timeout(Some(Duration::from_millis(2)))?;
    /// assert_eq!(a.recv_from(&mut [0; 4]).unwrap_err().kind(), std::io::ErrorKind::WouldBlock);
    /// assert_eq!(a.read_timeout()?, Some(Duration::from_millis(2)));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.io.set_timeout(Direction::Read, timeout)
    }

    /// The read timeout.
    ///
    /// # Errors
    ///
    /// Never; `io::Result` as std's.
    ///
    /// # Examples
    ///
    /// ```
    /// let a = greenwood::net::UdpSocket::bind("127.0.0.1:0")?;
    /// assert_eq!(a.read_timeout()?, None);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn read_timeout(&self) -> io::Result<Option<Duration>> {
        self.io.get_timeout(Direction::Read)
    }

    /// Bounds each send; see [`set_read_timeout`](UdpSocket::set_read_timeout).
    ///
    /// # Errors
    ///
    /// `InvalidInput` for a zero duration.
    ///
    /// # Examples
    ///
    /// ```
    /// let a = greenwood::net::UdpSocket::bind("127.0.0.1:0")?;
    /// a.set_write_timeout(Some(std::time::Duration::from_secs(1)))?;
    /// assert!(a.write_timeout()?.is_some());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.io.set_timeout(Direction::Write, timeout)
    }

    /// The write timeout.
    ///
    /// # Errors
    ///
    /// Never; `io::Result` as std's.
    ///
    /// # Examples
    ///
    /// ```
    /// let a = greenwood::net::UdpSocket::bind("127.0.0.1:0")?;
    /// assert_eq!(a.write_timeout()?, None);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn write_timeout(&self) -> io::Result<Option<Duration>> {
        self.io.get_timeout(Direction::Write)
    }

    /// In non-blocking mode, operations return `WouldBlock` instead of parking the greenlet.
    ///
    /// # Errors
    ///
    /// Never; `io::Result` as std's.
    ///
    /// # Examples
    ///
    /// ```
    /// let a = greenwood::net::UdpSocket::bind("127.0.0.1:0")?;
    /// a.set_nonblocking(true)?;
    /// assert_eq!(a.recv(&mut [0; 1]).unwrap_err().kind(), std::io::ErrorKind::WouldBlock);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        self.io.set_nonblocking(nonblocking)
    }

    /// The local address.
    ///
    /// # Errors
    ///
    /// What `getsockname` says.
    ///
    /// # Examples
    ///
    /// ```
    /// let a = greenwood::net::UdpSocket::bind("127.0.0.1:0")?;
    /// assert!(a.local_addr()?.ip().is_loopback());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.open(&self.sock)?.local_addr()
    }

    /// The connected peer's address.
    ///
    /// # Errors
    ///
    /// `NotConnected` without a peer.
    ///
    /// # Examples
    ///
    /// ```
    /// let a = greenwood::net::UdpSocket::bind("127.0.0.1:0")?;
    /// assert!(a.peer_addr().is_err());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.open(&self.sock)?.peer_addr()
    }

    /// Closes this handle now, as [`TcpStream::close`](crate::net::TcpStream::close) does:
    /// every greenlet parked on it (sending or receiving) wakes with a `NotConnected` error, and
    /// every later operation fails at once; the fd is released when the value drops.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::rc::Rc;
    ///
    /// let sock = Rc::new(greenwood::net::UdpSocket::bind("127.0.0.1:0")?);
    /// let s = sock.clone();
    /// let receiver = greenwood::spawn(move || s.recv_from(&mut [0; 64]).map(|_| ()));
    /// greenwood::sleep(std::time::Duration::ZERO); // parked in recv_from
    /// sock.close();
    /// assert!(receiver.take().unwrap().is_err());
    /// assert!(sock.send_to(b"x", "127.0.0.1:9").is_err()); // closed for good
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn close(&self) {
        self.io.close();
    }

    /// A second handle to the same socket (a duplicated fd, registered on its own).
    ///
    /// # Errors
    ///
    /// If the fd cannot be duplicated.
    ///
    /// # Examples
    ///
    /// ```
    /// let a = greenwood::net::UdpSocket::bind("127.0.0.1:0")?;
    /// let b = a.try_clone()?;
    /// assert_eq!(a.local_addr()?, b.local_addr()?);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn try_clone(&self) -> io::Result<UdpSocket> {
        let sock = self.io.open(&self.sock)?.try_clone()?;
        let io = Blocking::new(sock.as_raw_fd())?.with_settings_of(&self.io);
        Ok(UdpSocket { io, sock })
    }

    /// Sets `SO_BROADCAST`.
    ///
    /// # Errors
    ///
    /// What `setsockopt` says.
    ///
    /// # Examples
    ///
    /// ```
    /// let a = greenwood::net::UdpSocket::bind("127.0.0.1:0")?;
    /// a.set_broadcast(true)?;
    /// assert!(a.broadcast()?);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_broadcast(&self, on: bool) -> io::Result<()> {
        self.io.open(&self.sock)?.set_broadcast(on)
    }

    /// `SO_BROADCAST`.
    ///
    /// # Errors
    ///
    /// What `getsockopt` says.
    ///
    /// # Examples
    ///
    /// ```
    /// let a = greenwood::net::UdpSocket::bind("127.0.0.1:0")?;
    /// assert!(!a.broadcast()?);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn broadcast(&self) -> io::Result<bool> {
        self.io.open(&self.sock)?.broadcast()
    }

    /// Sets `IP_TTL`.
    ///
    /// # Errors
    ///
    /// What `setsockopt` says.
    ///
    /// # Examples
    ///
    /// ```
    /// let a = greenwood::net::UdpSocket::bind("127.0.0.1:0")?;
    /// a.set_ttl(7)?;
    /// assert_eq!(a.ttl()?, 7);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.io.open(&self.sock)?.set_ttl(ttl)
    }

    /// `IP_TTL`.
    ///
    /// # Errors
    ///
    /// What `getsockopt` says.
    ///
    /// # Examples
    ///
    /// ```
    /// let a = greenwood::net::UdpSocket::bind("127.0.0.1:0")?;
    /// assert!(a.ttl()? > 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn ttl(&self) -> io::Result<u32> {
        self.io.open(&self.sock)?.ttl()
    }

    /// Joins an IPv4 multicast group.
    ///
    /// # Errors
    ///
    /// What `setsockopt` says.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::net::Ipv4Addr;
    ///
    /// let a = greenwood::net::UdpSocket::bind("0.0.0.0:0")?;
    /// let _ = a.join_multicast_v4(&Ipv4Addr::new(239, 1, 2, 3), &Ipv4Addr::UNSPECIFIED);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn join_multicast_v4(&self, group: &Ipv4Addr, interface: &Ipv4Addr) -> io::Result<()> {
        self.io
            .open(&self.sock)?
            .join_multicast_v4(group, interface)
    }

    /// Leaves an IPv4 multicast group.
    ///
    /// # Errors
    ///
    /// What `setsockopt` says (for example, a group never joined).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::net::Ipv4Addr;
    ///
    /// let a = greenwood::net::UdpSocket::bind("0.0.0.0:0")?;
    /// assert!(a.leave_multicast_v4(&Ipv4Addr::new(239, 1, 2, 3), &Ipv4Addr::UNSPECIFIED).is_err());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn leave_multicast_v4(&self, group: &Ipv4Addr, interface: &Ipv4Addr) -> io::Result<()> {
        self.io
            .open(&self.sock)?
            .leave_multicast_v4(group, interface)
    }

    /// Joins an IPv6 multicast group.
    ///
    /// # Errors
    ///
    /// What `setsockopt` says.
    ///
    /// # Examples
    ///
    /// ```
    /// let a = greenwood::net::UdpSocket::bind("[::]:0");
    /// if let Ok(a) = a {
    ///     let _ = a.join_multicast_v6(&"ff02::1234".parse().unwrap(), 0);
    /// }
    /// ```
    pub fn join_multicast_v6(&self, group: &Ipv6Addr, interface: u32) -> io::Result<()> {
        self.io
            .open(&self.sock)?
            .join_multicast_v6(group, interface)
    }

    /// Takes the socket's pending error (`SO_ERROR`).
    ///
    /// # Errors
    ///
    /// What `getsockopt` says.
    ///
    /// # Examples
    ///
    /// ```
    /// let a = greenwood::net::UdpSocket::bind("127.0.0.1:0")?;
    /// assert!(a.take_error()?.is_none());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.io.open(&self.sock)?.take_error()
    }
}

impl AsRawFd for UdpSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.sock.as_raw_fd()
    }
}

impl AsFd for UdpSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.sock.as_fd()
    }
}

impl TryFrom<std::net::UdpSocket> for UdpSocket {
    type Error = io::Error;

    fn try_from(sock: std::net::UdpSocket) -> io::Result<UdpSocket> {
        UdpSocket::from_std(sock)
    }
}

impl fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UdpSocket")
            .field("addr", &self.sock.local_addr().ok())
            .field("fd", &self.sock.as_raw_fd())
            .finish()
    }
}
waitable_socket!(UdpSocket, peek);
