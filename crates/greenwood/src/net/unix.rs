//! Unix-domain sockets: `std::os::unix::net`'s, cooperative.

use std::fmt;
use std::io;
use std::net::Shutdown;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use super::Blocking;
use crate::hub::reactor::Direction;

/// A Unix-domain stream whose blocking calls park only the calling greenlet
/// (`std::os::unix::net::UnixStream`'s methods, cooperative).
///
/// # Examples
///
/// ```
/// use std::io::{Read, Write};
/// use greenwood::net::unix::UnixStream;
///
/// let (mut a, mut b) = UnixStream::pair()?;
/// let echo = greenwood::spawn(move || -> std::io::Result<()> {
///     let mut buf = [0; 4];
///     b.read_exact(&mut buf)?;
///     b.write_all(&buf)
/// });
/// a.write_all(b"ping")?;
/// let mut reply = [0; 4];
/// a.read_exact(&mut reply)?;
/// assert_eq!(&reply, b"ping");
/// echo.take().unwrap()?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct UnixStream {
    // Deregistered before the socket closes (fields drop in order).
    io: Blocking,
    sock: std::os::unix::net::UnixStream,
}

impl UnixStream {
    fn register(sock: std::os::unix::net::UnixStream) -> io::Result<UnixStream> {
        Ok(UnixStream {
            io: Blocking::new(sock.as_raw_fd())?,
            sock,
        })
    }

    /// Connects to the socket at `path`, parking (not blocking the hub) while the listener's
    /// backlog is full.
    ///
    /// # Errors
    ///
    /// What `connect(2)` says (`NotFound`, `ConnectionRefused`, ...).
    ///
    /// # Examples
    ///
    /// ```
    /// let dir = std::env::temp_dir().join(format!("gw-doc-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir)?;
    /// let path = dir.join("connect.sock");
    /// let _ = std::fs::remove_file(&path);
    /// let listener = greenwood::net::unix::UnixListener::bind(&path)?;
    /// let stream = greenwood::net::unix::UnixStream::connect(&path)?;
    /// # drop((stream, listener));
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn connect<P: AsRef<Path>>(path: P) -> io::Result<UnixStream> {
        let sock = mio::net::UnixStream::connect(path)?;
        let stream =
            UnixStream::register(std::os::unix::net::UnixStream::from(OwnedFd::from(sock)))?;
        stream.io.reg().wait(Direction::Write, None)?;
        if let Some(e) = stream.sock.take_error()? {
            return Err(e);
        }
        Ok(stream)
    }

    /// A connected pair of streams.
    ///
    /// # Errors
    ///
    /// What `socketpair(2)` says (the fd limit).
    ///
    /// # Examples
    ///
    /// ```
    /// let (a, b) = greenwood::net::unix::UnixStream::pair()?;
    /// # drop((a, b));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        let (a, b) = std::os::unix::net::UnixStream::pair()?;
        Ok((UnixStream::from_std(a)?, UnixStream::from_std(b)?))
    }

    /// Makes a std stream cooperative.
    ///
    /// # Errors
    ///
    /// If it cannot be made non-blocking or registered.
    ///
    /// # Examples
    ///
    /// ```
    /// let (a, _b) = std::os::unix::net::UnixStream::pair()?;
    /// let a = greenwood::net::unix::UnixStream::from_std(a)?;
    /// # drop(a);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn from_std(sock: std::os::unix::net::UnixStream) -> io::Result<UnixStream> {
        sock.set_nonblocking(true)?;
        UnixStream::register(sock)
    }

    /// Gives the stream back as a blocking std stream, deregistered from the hub.
    ///
    /// # Errors
    ///
    /// If it cannot be made blocking again.
    ///
    /// # Examples
    ///
    /// ```
    /// let (a, _b) = greenwood::net::unix::UnixStream::pair()?;
    /// let a = a.into_std()?;
    /// # drop(a);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn into_std(self) -> io::Result<std::os::unix::net::UnixStream> {
        let UnixStream { io, sock } = self;
        io.check_open()?;
        drop(io);
        sock.set_nonblocking(false)?;
        Ok(sock)
    }

    /// Shuts down the read half, the write half, or both.
    ///
    /// # Errors
    ///
    /// What `shutdown(2)` says.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::Read;
    ///
    /// let (a, mut b) = greenwood::net::unix::UnixStream::pair()?;
    /// a.shutdown(std::net::Shutdown::Write)?;
    /// assert_eq!(b.read(&mut [0; 4])?, 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.io.open(&self.sock)?.shutdown(how)
    }

    /// Closes this handle now, as [`TcpStream::close`](crate::net::TcpStream::close) does:
    /// every greenlet parked on it (reading or writing) wakes with a `NotConnected` error, and
    /// every later operation fails at once; the fd is released when the value drops.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::Read;
    /// use std::rc::Rc;
    ///
    /// let (a, _b) = greenwood::net::unix::UnixStream::pair()?;
    /// let a = Rc::new(a);
    /// let a2 = a.clone();
    /// let reader = greenwood::spawn(move || (&*a2).read(&mut [0; 8]));
    /// greenwood::sleep(std::time::Duration::ZERO);
    /// a.close();
    /// assert!(reader.take().unwrap().is_err());
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
    /// let (a, _b) = greenwood::net::unix::UnixStream::pair()?;
    /// let a2 = a.try_clone()?;
    /// # drop(a2);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn try_clone(&self) -> io::Result<UnixStream> {
        let sock = self.io.open(&self.sock)?.try_clone()?;
        let io = Blocking::new(sock.as_raw_fd())?.with_settings_of(&self.io);
        Ok(UnixStream { io, sock })
    }

    /// Bounds each read (a `WouldBlock` error once it expires); `None` for none.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for a zero duration.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::Read;
    ///
    /// let (mut a, _b) = greenwood::net::unix::UnixStream::pair()?;
    /// a.set_read_timeout(Some(std::time::Duration::from_millis(2)))?;
    /// assert_eq!(a.read(&mut [0; 1]).unwrap_err().kind(), std::io::ErrorKind::WouldBlock);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.io.set_timeout(Direction::Read, timeout)
    }

    /// Bounds each write; see [`set_read_timeout`](UnixStream::set_read_timeout).
    ///
    /// # Errors
    ///
    /// `InvalidInput` for a zero duration.
    ///
    /// # Examples
    ///
    /// ```
    /// let (a, _b) = greenwood::net::unix::UnixStream::pair()?;
    /// a.set_write_timeout(Some(std::time::Duration::from_secs(1)))?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.io.set_timeout(Direction::Write, timeout)
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
    /// let (mut a, _b) = greenwood::net::unix::UnixStream::pair()?;
    /// a.set_nonblocking(true)?;
    /// assert_eq!(a.read(&mut [0; 1]).unwrap_err().kind(), std::io::ErrorKind::WouldBlock);
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
    /// let (a, _b) = greenwood::net::unix::UnixStream::pair()?;
    /// assert!(a.local_addr()?.is_unnamed());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.open(&self.sock)?.local_addr()
    }

    /// The peer's address.
    ///
    /// # Errors
    ///
    /// What `getpeername` says.
    ///
    /// # Examples
    ///
    /// ```
    /// let (a, _b) = greenwood::net::unix::UnixStream::pair()?;
    /// assert!(a.peer_addr()?.is_unnamed());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.open(&self.sock)?.peer_addr()
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
    /// let (a, _b) = greenwood::net::unix::UnixStream::pair()?;
    /// assert!(a.take_error()?.is_none());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.io.open(&self.sock)?.take_error()
    }
}

cooperative_stream!(UnixStream);
waitable_socket!(UnixStream, peek);
waitable_socket!(UnixListener, poller);
waitable_socket!(UnixDatagram, peek);

impl fmt::Debug for UnixStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixStream")
            .field("fd", &self.sock.as_raw_fd())
            .finish()
    }
}

/// A Unix-domain listening socket whose `accept` parks only the calling greenlet.
///
/// # Examples
///
/// ```
/// use greenwood::net::unix::{UnixListener, UnixStream};
///
/// let dir = std::env::temp_dir().join(format!("gw-doc-l-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let path = dir.join("l.sock");
/// let _ = std::fs::remove_file(&path);
/// let listener = UnixListener::bind(&path)?;
/// let p = path.clone();
/// let client = greenwood::spawn(move || UnixStream::connect(&p).map(drop));
/// let (conn, _addr) = listener.accept()?;
/// client.take().unwrap()?;
/// # drop(conn);
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct UnixListener {
    io: Blocking,
    sock: std::os::unix::net::UnixListener,
}

impl UnixListener {
    /// Binds to `path` and listens, with the largest backlog the system allows (as
    /// [`TcpListener::bind`](crate::net::TcpListener::bind)).
    ///
    /// # Errors
    ///
    /// What `bind(2)` says (`AddrInUse` if the path exists).
    ///
    /// # Examples
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("gw-doc-b-{}.sock", std::process::id()));
    /// let _ = std::fs::remove_file(&path);
    /// let l = greenwood::net::unix::UnixListener::bind(&path)?;
    /// assert_eq!(l.local_addr()?.as_pathname(), Some(path.as_path()));
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn bind<P: AsRef<Path>>(path: P) -> io::Result<UnixListener> {
        let addr = socket2::SockAddr::unix(path)?;
        let sock = super::listen(socket2::Domain::UNIX, &addr)?;
        UnixListener::from_std(std::os::fd::OwnedFd::from(sock).into())
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
    /// let path = std::env::temp_dir().join(format!("gw-doc-s-{}.sock", std::process::id()));
    /// let _ = std::fs::remove_file(&path);
    /// let l = std::os::unix::net::UnixListener::bind(&path)?;
    /// let l = greenwood::net::unix::UnixListener::from_std(l)?;
    /// # drop(l);
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn from_std(sock: std::os::unix::net::UnixListener) -> io::Result<UnixListener> {
        sock.set_nonblocking(true)?;
        Ok(UnixListener {
            io: Blocking::new(sock.as_raw_fd())?,
            sock,
        })
    }

    /// Waits for a connection (parking the greenlet, not the thread).
    ///
    /// # Errors
    ///
    /// What `accept(2)` says (`EMFILE` when out of file descriptors, ...).
    ///
    /// # Examples
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("gw-doc-a-{}.sock", std::process::id()));
    /// let _ = std::fs::remove_file(&path);
    /// let l = greenwood::net::unix::UnixListener::bind(&path)?;
    /// let p = path.clone();
    /// let _c = greenwood::spawn(move || greenwood::net::unix::UnixStream::connect(&p));
    /// let (_conn, _) = l.accept()?;
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn accept(&self) -> io::Result<(UnixStream, SocketAddr)> {
        let (sock, addr) = self.io.op(Direction::Read, || self.sock.accept())?;
        Ok((UnixStream::from_std(sock)?, addr))
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
    /// let path = std::env::temp_dir().join(format!("gw-doc-c-{}.sock", std::process::id()));
    /// let _ = std::fs::remove_file(&path);
    /// let l = Rc::new(greenwood::net::unix::UnixListener::bind(&path)?);
    /// let l2 = l.clone();
    /// let acceptor = greenwood::spawn(move || l2.accept().map(|_| ()));
    /// greenwood::sleep(std::time::Duration::ZERO);
    /// l.close();
    /// assert!(acceptor.take().unwrap().is_err());
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn close(&self) {
        self.io.close();
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
    /// let path = std::env::temp_dir().join(format!("gw-doc-n-{}.sock", std::process::id()));
    /// let _ = std::fs::remove_file(&path);
    /// let l = greenwood::net::unix::UnixListener::bind(&path)?;
    /// assert!(l.local_addr()?.as_pathname().is_some());
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.open(&self.sock)?.local_addr()
    }
}

impl AsRawFd for UnixListener {
    fn as_raw_fd(&self) -> RawFd {
        self.sock.as_raw_fd()
    }
}

impl AsFd for UnixListener {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.sock.as_fd()
    }
}

impl fmt::Debug for UnixListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixListener")
            .field("fd", &self.sock.as_raw_fd())
            .finish()
    }
}

/// A Unix-domain datagram socket whose blocking calls park only the calling greenlet.
///
/// # Examples
///
/// ```
/// let (a, b) = greenwood::net::unix::UnixDatagram::pair()?;
/// let reader = greenwood::spawn(move || {
///     let mut buf = [0; 16];
///     b.recv(&mut buf).map(|n| buf[..n].to_vec())
/// });
/// a.send(b"datagram")?;
/// assert_eq!(reader.take().unwrap()?, b"datagram");
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct UnixDatagram {
    io: Blocking,
    sock: std::os::unix::net::UnixDatagram,
}

impl UnixDatagram {
    fn register(sock: std::os::unix::net::UnixDatagram) -> io::Result<UnixDatagram> {
        sock.set_nonblocking(true)?;
        Ok(UnixDatagram {
            io: Blocking::new(sock.as_raw_fd())?,
            sock,
        })
    }

    /// Binds a datagram socket to `path`.
    ///
    /// # Errors
    ///
    /// What `bind(2)` says.
    ///
    /// # Examples
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("gw-doc-d-{}.sock", std::process::id()));
    /// let _ = std::fs::remove_file(&path);
    /// let d = greenwood::net::unix::UnixDatagram::bind(&path)?;
    /// # drop(d);
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn bind<P: AsRef<Path>>(path: P) -> io::Result<UnixDatagram> {
        UnixDatagram::register(std::os::unix::net::UnixDatagram::bind(path)?)
    }

    /// An unbound datagram socket.
    ///
    /// # Errors
    ///
    /// What `socket(2)` says.
    ///
    /// # Examples
    ///
    /// ```
    /// let d = greenwood::net::unix::UnixDatagram::unbound()?;
    /// # drop(d);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn unbound() -> io::Result<UnixDatagram> {
        UnixDatagram::register(std::os::unix::net::UnixDatagram::unbound()?)
    }

    /// A connected pair of datagram sockets.
    ///
    /// # Errors
    ///
    /// What `socketpair(2)` says.
    ///
    /// # Examples
    ///
    /// ```
    /// let (a, b) = greenwood::net::unix::UnixDatagram::pair()?;
    /// # drop((a, b));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn pair() -> io::Result<(UnixDatagram, UnixDatagram)> {
        let (a, b) = std::os::unix::net::UnixDatagram::pair()?;
        Ok((UnixDatagram::register(a)?, UnixDatagram::register(b)?))
    }

    /// Sends a datagram to the socket at `path`.
    ///
    /// # Errors
    ///
    /// What `sendto(2)` says.
    ///
    /// # Examples
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("gw-doc-t-{}.sock", std::process::id()));
    /// let _ = std::fs::remove_file(&path);
    /// let server = greenwood::net::unix::UnixDatagram::bind(&path)?;
    /// let client = greenwood::net::unix::UnixDatagram::unbound()?;
    /// client.send_to(b"hi", &path)?;
    /// assert_eq!(server.recv_from(&mut [0; 8])?.0, 2);
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn send_to<P: AsRef<Path>>(&self, buf: &[u8], path: P) -> io::Result<usize> {
        let path = path.as_ref();
        self.io
            .op(Direction::Write, || self.sock.send_to(buf, path))
    }

    /// Receives a datagram and its sender's address.
    ///
    /// # Errors
    ///
    /// `WouldBlock` once a read timeout expires; what `recvfrom(2)` says.
    ///
    /// # Examples
    ///
    /// ```
    /// let (a, b) = greenwood::net::unix::UnixDatagram::pair()?;
    /// a.send(b"x")?;
    /// assert_eq!(b.recv_from(&mut [0; 4])?.0, 1);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.io.op(Direction::Read, || self.sock.recv_from(buf))
    }

    /// Sends a datagram to the connected peer.
    ///
    /// # Errors
    ///
    /// What `send(2)` says.
    ///
    /// # Examples
    ///
    /// ```
    /// let (a, _b) = greenwood::net::unix::UnixDatagram::pair()?;
    /// assert_eq!(a.send(b"abc")?, 3);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.io.op(Direction::Write, || self.sock.send(buf))
    }

    /// Receives a datagram from the connected peer.
    ///
    /// # Errors
    ///
    /// As [`recv_from`](UnixDatagram::recv_from).
    ///
    /// # Examples
    ///
    /// ```
    /// let (a, b) = greenwood::net::unix::UnixDatagram::pair()?;
    /// a.send(b"abc")?;
    /// assert_eq!(b.recv(&mut [0; 8])?, 3);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io.op(Direction::Read, || self.sock.recv(buf))
    }

    /// Connects to the socket at `path`.
    ///
    /// # Errors
    ///
    /// What `connect(2)` says.
    ///
    /// # Examples
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("gw-doc-c-{}.sock", std::process::id()));
    /// let _ = std::fs::remove_file(&path);
    /// let server = greenwood::net::unix::UnixDatagram::bind(&path)?;
    /// let client = greenwood::net::unix::UnixDatagram::unbound()?;
    /// client.connect(&path)?;
    /// client.send(b"hi")?;
    /// assert_eq!(server.recv(&mut [0; 8])?, 2);
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn connect<P: AsRef<Path>>(&self, path: P) -> io::Result<()> {
        self.io.open(&self.sock)?.connect(path)
    }

    /// Bounds each receive (a `WouldBlock` error once it expires); `None` for none.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for a zero duration.
    ///
    /// # Examples
    ///
    /// ```
    /// let (a, _b) = greenwood::net::unix::UnixDatagram::pair()?;
    /// a.set_read_timeout(Some(std::time::Duration::from_millis(2)))?;
    /// assert!(a.recv(&mut [0; 1]).is_err());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.io.set_timeout(Direction::Read, timeout)
    }

    /// Bounds each send.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for a zero duration.
    ///
    /// # Examples
    ///
    /// ```
    /// let (a, _b) = greenwood::net::unix::UnixDatagram::pair()?;
    /// a.set_write_timeout(Some(std::time::Duration::from_secs(1)))?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.io.set_timeout(Direction::Write, timeout)
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
    /// let (a, _b) = greenwood::net::unix::UnixDatagram::pair()?;
    /// let a = Rc::new(a);
    /// let a2 = a.clone();
    /// let receiver = greenwood::spawn(move || a2.recv(&mut [0; 8]));
    /// greenwood::sleep(std::time::Duration::ZERO); // parked in recv
    /// a.close();
    /// assert!(receiver.take().unwrap().is_err());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn close(&self) {
        self.io.close();
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
    /// let d = greenwood::net::unix::UnixDatagram::unbound()?;
    /// assert!(d.local_addr()?.is_unnamed());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.open(&self.sock)?.local_addr()
    }
}

impl AsRawFd for UnixDatagram {
    fn as_raw_fd(&self) -> RawFd {
        self.sock.as_raw_fd()
    }
}

impl AsFd for UnixDatagram {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.sock.as_fd()
    }
}

impl fmt::Debug for UnixDatagram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixDatagram")
            .field("fd", &self.sock.as_raw_fd())
            .finish()
    }
}
