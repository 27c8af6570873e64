//! `TcpStream` and `TcpListener`: `std::net`'s, cooperative.

use std::fmt;
use std::io;
use std::net::{Shutdown, SocketAddr};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::time::Duration;

use super::{each_addr, Blocking, ToSocketAddrs};
use crate::hub::reactor::Direction;

/// A TCP connection whose blocking calls park only the calling greenlet (`std::net::TcpStream`'s
/// methods, cooperative).
///
/// Not `Send`: the socket is registered with this thread's hub. `&TcpStream` implements
/// `Read` and `Write` too, so one greenlet can read while another writes.
///
/// # Examples
///
/// ```
/// use std::io::{Read, Write};
/// use greenwood::net::{TcpListener, TcpStream};
///
/// let listener = TcpListener::bind("127.0.0.1:0")?;
/// let addr = listener.local_addr()?;
/// let server = greenwood::spawn(move || -> std::io::Result<()> {
///     let (mut conn, _) = listener.accept()?;
///     let mut buf = [0; 4];
///     conn.read_exact(&mut buf)?;
///     conn.write_all(&buf) // echo
/// });
/// let mut client = TcpStream::connect(addr)?;
/// client.write_all(b"ping")?;
/// let mut reply = [0; 4];
/// client.read_exact(&mut reply)?;
/// assert_eq!(&reply, b"ping");
/// server.take().unwrap()?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct TcpStream {
    // Deregistered before the socket closes (fields drop in order).
    io: Blocking,
    sock: std::net::TcpStream,
}

impl TcpStream {
    /// Wraps a non-blocking std socket and registers it with the hub.
    fn register(sock: std::net::TcpStream) -> io::Result<TcpStream> {
        Ok(TcpStream {
            io: Blocking::new(sock.as_raw_fd())?,
            sock,
        })
    }

    /// Connects to `addr`, trying each address it resolves to in turn (host names are
    /// resolved on the thread pool).
    ///
    /// # Errors
    ///
    /// The last address's error if none accepts the connection.
    ///
    /// # Examples
    ///
    /// ```
    /// let listener = greenwood::net::TcpListener::bind("127.0.0.1:0")?;
    /// let stream = greenwood::net::TcpStream::connect(listener.local_addr()?)?;
    /// assert_eq!(stream.peer_addr()?, listener.local_addr()?);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn connect<A: ToSocketAddrs>(addr: A) -> io::Result<TcpStream> {
        each_addr(&addr, |a| TcpStream::connect_inner(a, None))
    }

    /// Connects to `addr`, giving up after `timeout`.
    ///
    /// # Errors
    ///
    /// `TimedOut` after `timeout`, or what the connection attempt says.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let listener = greenwood::net::TcpListener::bind("127.0.0.1:0")?;
    /// let addr = listener.local_addr()?;
    /// let s = greenwood::net::TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    /// # drop(s);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn connect_timeout(addr: &SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
        if timeout.is_zero() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "cannot connect with a 0 duration timeout",
            ));
        }
        TcpStream::connect_inner(*addr, Some(timeout))
    }

    fn connect_inner(addr: SocketAddr, timeout: Option<Duration>) -> io::Result<TcpStream> {
        // mio starts a non-blocking connect (EINPROGRESS); we wait for writability.
        let sock = mio::net::TcpStream::connect(addr)?;
        let sock = std::net::TcpStream::from(OwnedFd::from(sock));
        let stream = TcpStream::register(sock)?;
        loop {
            match stream.io.reg().wait(Direction::Write, timeout) {
                Err(e) if e.kind() == io::ErrorKind::TimedOut => {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!("connecting to {addr} timed out"),
                    ))
                }
                r => r?,
            }
            if let Some(e) = stream.sock.take_error()? {
                return Err(e);
            }
            match stream.sock.peer_addr() {
                Ok(_) => return Ok(stream),
                // Woken before the handshake finished: wait again.
                Err(e) if e.kind() == io::ErrorKind::NotConnected => {
                    stream.io.reg().clear(Direction::Write)
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Makes a std stream cooperative (it is switched to non-blocking mode and registered
    /// with this thread's hub).
    ///
    /// # Errors
    ///
    /// If the socket cannot be made non-blocking or registered.
    ///
    /// # Examples
    ///
    /// ```
    /// let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// let s = std::net::TcpStream::connect(l.local_addr()?)?;
    /// let s = greenwood::net::TcpStream::from_std(s)?;
    /// # drop(s);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn from_std(sock: std::net::TcpStream) -> io::Result<TcpStream> {
        sock.set_nonblocking(true)?;
        TcpStream::register(sock)
    }

    /// Gives the socket back as a blocking std stream, deregistered from the hub.
    ///
    /// # Errors
    ///
    /// If the socket cannot be made blocking again.
    ///
    /// # Examples
    ///
    /// ```
    /// let l = greenwood::net::TcpListener::bind("127.0.0.1:0")?;
    /// let s = greenwood::net::TcpStream::connect(l.local_addr()?)?;
    /// let std_stream: std::net::TcpStream = s.into_std()?;
    /// # drop(std_stream);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn into_std(self) -> io::Result<std::net::TcpStream> {
        let TcpStream { io, sock } = self;
        io.check_open()?;
        drop(io);
        sock.set_nonblocking(false)?;
        Ok(sock)
    }

    /// Reads without removing the data from the socket's queue.
    ///
    /// # Errors
    ///
    /// As `read`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::Write;
    ///
    /// let l = greenwood::net::TcpListener::bind("127.0.0.1:0")?;
    /// let mut c = greenwood::net::TcpStream::connect(l.local_addr()?)?;
    /// let (s, _) = l.accept()?;
    /// c.write_all(b"hi")?;
    /// let mut buf = [0; 2];
    /// assert_eq!(s.peek(&mut buf)?, 2);
    /// assert_eq!(s.peek(&mut buf)?, 2); // still there
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io.op(Direction::Read, || self.sock.peek(buf))
    }

    /// Shuts down the read half, the write half, or both. A greenlet parked reading this
    /// socket wakes up (with end of file).
    ///
    /// # Errors
    ///
    /// What `shutdown(2)` says (for example, on a socket that is not connected).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::Read;
    /// use std::net::Shutdown;
    ///
    /// let l = greenwood::net::TcpListener::bind("127.0.0.1:0")?;
    /// let c = greenwood::net::TcpStream::connect(l.local_addr()?)?;
    /// let (mut s, _) = l.accept()?;
    /// c.shutdown(Shutdown::Write)?;
    /// let mut rest = Vec::new();
    /// assert_eq!(s.read_to_end(&mut rest)?, 0); // end of file
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.io.open(&self.sock)?.shutdown(how)
    }

    /// Closes this handle now, as gevent's `close()` on a socket another greenlet is using:
    /// every greenlet parked on it (reading, writing, peeking) wakes with a `NotConnected` error,
    /// the socket leaves the hub's poller, and every later operation on this handle fails
    /// at once. The fd itself is released when the value drops, so its number cannot be
    /// reused while references to it remain; handles from `try_clone` stay open, as after
    /// `close(2)`. Closing twice does nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::Read;
    /// use std::rc::Rc;
    ///
    /// let l = greenwood::net::TcpListener::bind("127.0.0.1:0")?;
    /// let conn = Rc::new(greenwood::net::TcpStream::connect(l.local_addr()?)?);
    /// let c = conn.clone();
    /// let reader = greenwood::spawn(move || (&*c).read(&mut [0; 8]));
    /// greenwood::sleep(std::time::Duration::ZERO); // the reader parks: nothing to read yet
    /// conn.close();
    /// let err = reader.take().unwrap().unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::NotConnected);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn close(&self) {
        self.io.close();
    }

    /// A second handle to the same socket (a duplicated fd, registered on its own).
    ///
    /// # Errors
    ///
    /// If the fd cannot be duplicated (the process's fd limit).
    ///
    /// # Examples
    ///
    /// ```
    /// let l = greenwood::net::TcpListener::bind("127.0.0.1:0")?;
    /// let a = greenwood::net::TcpStream::connect(l.local_addr()?)?;
    /// let b = a.try_clone()?;
    /// assert_eq!(a.local_addr()?, b.local_addr()?);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn try_clone(&self) -> io::Result<TcpStream> {
        let sock = self.io.open(&self.sock)?.try_clone()?;
        let io = Blocking::new(sock.as_raw_fd())?.with_settings_of(&self.io);
        Ok(TcpStream { io, sock })
    }

    /// Sets `TCP_NODELAY`.
    ///
    /// # Errors
    ///
    /// What `setsockopt` says.
    ///
    /// # Examples
    ///
    /// ```
    /// let l = greenwood::net::TcpListener::bind("127.0.0.1:0")?;
    /// let s = greenwood::net::TcpStream::connect(l.local_addr()?)?;
    /// s.set_nodelay(true)?;
    /// assert!(s.nodelay()?);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.io.open(&self.sock)?.set_nodelay(nodelay)
    }

    /// Whether `TCP_NODELAY` is set.
    ///
    /// # Errors
    ///
    /// What `getsockopt` says.
    ///
    /// # Examples
    ///
    /// ```
    /// let l = greenwood::net::TcpListener::bind("127.0.0.1:0")?;
    /// let s = greenwood::net::TcpStream::connect(l.local_addr()?)?;
    /// assert!(!s.nodelay()?);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn nodelay(&self) -> io::Result<bool> {
        self.io.open(&self.sock)?.nodelay()
    }

    /// Bounds each read (a `WouldBlock` error once it expires, as std's); `None` for none. The
    /// wait is cooperative: other greenlets run meanwhile.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for a zero duration, as std.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::Read;
    /// use std::time::Duration;
    ///
    /// let l = greenwood::net::TcpListener::bind("127.0.0.1:0")?;
    /// let mut s = greenwood::net::TcpStream::connect(l.local_addr()?)?;
    /// s.set_read_timeout(Some(Duration::from_millis(5)))?;
    /// let err = s.read(&mut [0; 8]).unwrap_err(); // nobody writes
    /// assert_eq!(err.kind(), std::io::ErrorKind::WouldBlock);
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
    /// let l = greenwood::net::TcpListener::bind("127.0.0.1:0")?;
    /// let s = greenwood::net::TcpStream::connect(l.local_addr()?)?;
    /// assert_eq!(s.read_timeout()?, None);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn read_timeout(&self) -> io::Result<Option<Duration>> {
        self.io.get_timeout(Direction::Read)
    }

    /// Bounds each write; see [`set_read_timeout`](TcpStream::set_read_timeout).
    ///
    /// # Errors
    ///
    /// `InvalidInput` for a zero duration.
    ///
    /// # Examples
    ///
    /// ```
    /// let l = greenwood::net::TcpListener::bind("127.0.0.1:0")?;
    /// let s = greenwood::net::TcpStream::connect(l.local_addr()?)?;
    /// s.set_write_timeout(Some(std::time::Duration::from_secs(1)))?;
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
    /// let l = greenwood::net::TcpListener::bind("127.0.0.1:0")?;
    /// let s = greenwood::net::TcpStream::connect(l.local_addr()?)?;
    /// assert_eq!(s.write_timeout()?, None);
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
    /// use std::io::Read;
    ///
    /// let l = greenwood::net::TcpListener::bind("127.0.0.1:0")?;
    /// let mut s = greenwood::net::TcpStream::connect(l.local_addr()?)?;
    /// s.set_nonblocking(true)?;
    /// assert_eq!(s.read(&mut [0; 1]).unwrap_err().kind(), std::io::ErrorKind::WouldBlock);
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
    /// let l = greenwood::net::TcpListener::bind("127.0.0.1:0")?;
    /// let s = greenwood::net::TcpStream::connect(l.local_addr()?)?;
    /// assert!(s.local_addr()?.ip().is_loopback());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.open(&self.sock)?.local_addr()
    }

    /// The peer's address.
    ///
    /// # Errors
    ///
    /// `NotConnected` once the peer is gone, or what `getpeername` says.
    ///
    /// # Examples
    ///
    /// ```
    /// let l = greenwood::net::TcpListener::bind("127.0.0.1:0")?;
    /// let s = greenwood::net::TcpStream::connect(l.local_addr()?)?;
    /// assert_eq!(s.peer_addr()?, l.local_addr()?);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.open(&self.sock)?.peer_addr()
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
    /// let l = greenwood::net::TcpListener::bind("127.0.0.1:0")?;
    /// let s = greenwood::net::TcpStream::connect(l.local_addr()?)?;
    /// s.set_ttl(64)?;
    /// assert_eq!(s.ttl()?, 64);
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
    /// let l = greenwood::net::TcpListener::bind("127.0.0.1:0")?;
    /// let s = greenwood::net::TcpStream::connect(l.local_addr()?)?;
    /// assert!(s.ttl()? > 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn ttl(&self) -> io::Result<u32> {
        self.io.open(&self.sock)?.ttl()
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
    /// let l = greenwood::net::TcpListener::bind("127.0.0.1:0")?;
    /// let s = greenwood::net::TcpStream::connect(l.local_addr()?)?;
    /// assert!(s.take_error()?.is_none());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.io.open(&self.sock)?.take_error()
    }
}

cooperative_stream!(TcpStream);
waitable_socket!(TcpStream, peek);
waitable_socket!(TcpListener, poller);

impl TryFrom<std::net::TcpStream> for TcpStream {
    type Error = io::Error;

    fn try_from(sock: std::net::TcpStream) -> io::Result<TcpStream> {
        TcpStream::from_std(sock)
    }
}

impl TryFrom<TcpStream> for std::net::TcpStream {
    type Error = io::Error;

    fn try_from(sock: TcpStream) -> io::Result<std::net::TcpStream> {
        sock.into_std()
    }
}

impl fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpStream")
            .field("addr", &self.sock.local_addr().ok())
            .field("peer", &self.sock.peer_addr().ok())
            .field("fd", &self.sock.as_raw_fd())
            .finish()
    }
}

/// A TCP listening socket whose `accept` parks only the calling greenlet.
///
/// # Examples
///
/// ```
/// use greenwood::net::{TcpListener, TcpStream};
///
/// let listener = TcpListener::bind("127.0.0.1:0")?;
/// let addr = listener.local_addr()?;
/// let clients: Vec<_> = (0..3)
///     .map(|_| greenwood::spawn(move || TcpStream::connect(addr).map(drop)))
///     .collect();
/// for conn in listener.incoming().take(3) {
///     conn?; // one greenlet per connection would go here
/// }
/// greenwood::joinall(&clients);
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct TcpListener {
    io: Blocking,
    sock: std::net::TcpListener,
}

impl TcpListener {
    /// Binds to `addr` (the first address it resolves to that works) and listens, with the
    /// largest backlog the system allows (`net.core.somaxconn`, 4096 on current Linux) where
    /// std asks for 128: greenlets can open connections faster than anyone accepts them, and
    /// connections beyond the backlog are dropped or reset.
    ///
    /// # Errors
    ///
    /// What `bind(2)`/`listen(2)` say for the last address tried (`AddrInUse`, ...).
    ///
    /// # Examples
    ///
    /// ```
    /// let l = greenwood::net::TcpListener::bind("127.0.0.1:0")?;
    /// assert_ne!(l.local_addr()?.port(), 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn bind<A: ToSocketAddrs>(addr: A) -> io::Result<TcpListener> {
        each_addr(&addr, |a| {
            let sock = super::listen(socket2::Domain::for_address(a), &a.into())?;
            TcpListener::from_std(sock.into())
        })
    }

    /// Makes a std listener cooperative.
    ///
    /// # Errors
    ///
    /// If it cannot be made non-blocking or registered.
    ///
    /// # Examples
    ///
    /// ```
    /// let std_listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// let l = greenwood::net::TcpListener::from_std(std_listener)?;
    /// # drop(l);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn from_std(sock: std::net::TcpListener) -> io::Result<TcpListener> {
        sock.set_nonblocking(true)?;
        Ok(TcpListener {
            io: Blocking::new(sock.as_raw_fd())?,
            sock,
        })
    }

    /// Gives the listener back as a blocking std listener, deregistered from the hub.
    ///
    /// # Errors
    ///
    /// If it cannot be made blocking again.
    ///
    /// # Examples
    ///
    /// ```
    /// let l = greenwood::net::TcpListener::bind("127.0.0.1:0")?;
    /// let std_listener = l.into_std()?;
    /// # drop(std_listener);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn into_std(self) -> io::Result<std::net::TcpListener> {
        let TcpListener { io, sock } = self;
        io.check_open()?;
        drop(io);
        sock.set_nonblocking(false)?;
        Ok(sock)
    }

    /// Waits for a connection (parking the greenlet, not the thread).
    ///
    /// # Errors
    ///
    /// What `accept(2)` says: `EMFILE`/`ENFILE` when the process or system is out of file
    /// descriptors, among others.
    ///
    /// # Examples
    ///
    /// ```
    /// let l = greenwood::net::TcpListener::bind("127.0.0.1:0")?;
    /// let addr = l.local_addr()?;
    /// let _c = greenwood::spawn(move || greenwood::net::TcpStream::connect(addr));
    /// let (stream, peer) = l.accept()?;
    /// assert_eq!(stream.peer_addr()?, peer);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        // accept4 makes the new socket non-blocking (and close-on-exec) in the same syscall.
        let listener = socket2::SockRef::from(&self.sock);
        let (sock, peer) = self.io.op(Direction::Read, || {
            listener.accept4(libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC)
        })?;
        let peer = peer.as_socket().ok_or_else(|| {
            io::Error::other("accept returned a peer address that is not an IP address")
        })?;
        TcpStream::register(sock.into()).map(|s| (s, peer))
    }

    /// An endless iterator of accepted connections.
    ///
    /// # Examples
    ///
    /// ```
    /// let l = greenwood::net::TcpListener::bind("127.0.0.1:0")?;
    /// let addr = l.local_addr()?;
    /// let _c = greenwood::spawn(move || greenwood::net::TcpStream::connect(addr));
    /// let first = l.incoming().next().unwrap()?;
    /// # drop(first);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn incoming(&self) -> Incoming<'_> {
        Incoming { listener: self }
    }

    /// The address it listens on.
    ///
    /// # Errors
    ///
    /// What `getsockname` says.
    ///
    /// # Examples
    ///
    /// ```
    /// let l = greenwood::net::TcpListener::bind("127.0.0.1:0")?;
    /// assert!(l.local_addr()?.ip().is_loopback());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.open(&self.sock)?.local_addr()
    }

    /// Closes this handle now, as [`TcpStream::close`](crate::net::TcpStream::close) does:
    /// every greenlet parked on it (in `accept`) wakes with a `NotConnected` error, and
    /// every later operation fails at once; the fd is released when the value drops.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::rc::Rc;
    ///
    /// let l = Rc::new(greenwood::net::TcpListener::bind("127.0.0.1:0")?);
    /// let l2 = l.clone();
    /// let acceptor = greenwood::spawn(move || l2.accept().map(|_| ()));
    /// greenwood::sleep(std::time::Duration::ZERO); // parked in accept
    /// l.close();
    /// assert!(acceptor.take().unwrap().is_err());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn close(&self) {
        self.io.close();
    }

    /// A second handle to the same listener (a duplicated fd, registered on its own).
    ///
    /// # Errors
    ///
    /// If the fd cannot be duplicated.
    ///
    /// # Examples
    ///
    /// ```
    /// let l = greenwood::net::TcpListener::bind("127.0.0.1:0")?;
    /// let l2 = l.try_clone()?;
    /// assert_eq!(l.local_addr()?, l2.local_addr()?);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn try_clone(&self) -> io::Result<TcpListener> {
        let sock = self.io.open(&self.sock)?.try_clone()?;
        let io = Blocking::new(sock.as_raw_fd())?.with_settings_of(&self.io);
        Ok(TcpListener { io, sock })
    }

    /// Sets `IP_TTL` for accepted connections.
    ///
    /// # Errors
    ///
    /// What `setsockopt` says.
    ///
    /// # Examples
    ///
    /// ```
    /// let l = greenwood::net::TcpListener::bind("127.0.0.1:0")?;
    /// l.set_ttl(32)?;
    /// assert_eq!(l.ttl()?, 32);
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
    /// let l = greenwood::net::TcpListener::bind("127.0.0.1:0")?;
    /// assert!(l.ttl()? > 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn ttl(&self) -> io::Result<u32> {
        self.io.open(&self.sock)?.ttl()
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
    /// let l = greenwood::net::TcpListener::bind("127.0.0.1:0")?;
    /// assert!(l.take_error()?.is_none());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.io.open(&self.sock)?.take_error()
    }
}

impl AsRawFd for TcpListener {
    fn as_raw_fd(&self) -> RawFd {
        self.sock.as_raw_fd()
    }
}

impl AsFd for TcpListener {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.sock.as_fd()
    }
}

impl TryFrom<std::net::TcpListener> for TcpListener {
    type Error = io::Error;

    fn try_from(sock: std::net::TcpListener) -> io::Result<TcpListener> {
        TcpListener::from_std(sock)
    }
}

impl fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpListener")
            .field("addr", &self.sock.local_addr().ok())
            .field("fd", &self.sock.as_raw_fd())
            .finish()
    }
}

/// Connections as [`TcpListener::accept`] returns them; never ends.
#[derive(Debug)]
pub struct Incoming<'a> {
    listener: &'a TcpListener,
}

impl Iterator for Incoming<'_> {
    type Item = io::Result<TcpStream>;

    fn next(&mut self) -> Option<io::Result<TcpStream>> {
        Some(self.listener.accept().map(|(s, _)| s))
    }
}
