//! Servers (gevent's `gevent.server`): [`StreamServer`] runs a handler per TCP connection and
//! [`DatagramServer`] one per UDP datagram, each in its own greenlet.

use std::cell::RefCell;
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use crate::greenlet::Greenlet;
use crate::hub::report::{self, ReportKind};
use crate::net::{TcpListener, TcpStream, ToSocketAddrs, UdpSocket};
use crate::pool::{Group, Pool};

mod parallel;

pub use self::parallel::{Parallel, ParallelServer};

type Handler = Rc<dyn Fn(TcpStream, SocketAddr)>;

/// What both servers share: the greenlet that takes in work (accepting, receiving), and the
/// handler greenlets it spawns, optionally limited by a pool.
#[derive(Default)]
struct Handlers {
    pool: Option<Pool>,
    group: Group,
    main: RefCell<Option<Greenlet<()>>>,
}

impl Handlers {
    /// With a pool: waits until a handler may start.
    fn wait_for_slot(&self) {
        if let Some(pool) = &self.pool {
            pool.wait_available();
        }
    }

    fn spawn(&self, run: impl FnOnce() + 'static) {
        let g = match &self.pool {
            Some(pool) => pool.spawn(run),
            None => crate::spawn(run),
        };
        self.group.add(&g);
    }

    fn running(&self) -> bool {
        self.main.borrow().as_ref().is_some_and(|g| !g.dead())
    }

    /// Starts `main` in a greenlet named `name`.
    fn start(&self, name: &str, main: impl FnOnce() + 'static) -> io::Result<()> {
        let g = crate::greenlet::Builder::new().name(name).spawn(main)?;
        *self.main.borrow_mut() = Some(g);
        Ok(())
    }

    fn join(&self) {
        let g = self.main.borrow().clone();
        if let Some(g) = g {
            g.join();
        }
    }

    /// Kills the main greenlet (and waits until it has unwound, so the socket it held is
    /// dropped), then calls `close`, waits up to `timeout` for the handlers, and kills the rest.
    fn stop(&self, timeout: Option<Duration>, close: impl FnOnce()) {
        let g = self.main.borrow_mut().take();
        if let Some(g) = g {
            g.kill();
        }
        close();
        let done = match timeout {
            None => {
                self.group.join();
                true
            }
            Some(t) => self.group.join_timeout(t).is_ok(),
        };
        if !done {
            self.group.kill();
        }
    }
}

/// Gives a server a pool before it starts.
fn with_pool<I>(
    inner: Rc<I>,
    size: usize,
    handlers: impl FnOnce(&mut I) -> &mut Handlers,
) -> Rc<I> {
    let mut inner = Rc::try_unwrap(inner)
        .ok()
        .expect("greenwood: with_pool must be called before the server starts");
    handlers(&mut inner).pool = Some(Pool::new(size));
    Rc::new(inner)
}

/// The first and the longest pause after an accept error such as `EMFILE`.
const BACKOFF_MIN: Duration = Duration::from_millis(5);
const BACKOFF_MAX: Duration = Duration::from_secs(1);

/// A TCP server that runs `handler(stream, peer)` in a new greenlet for every connection.
///
/// [`stop`](StreamServer::stop) closes the listening socket first, as gevent's does, so the
/// kernel refuses new connections while the running handlers finish;
/// [`start`](StreamServer::start) after a stop listens again on the same address (the same
/// port, even if the first bind asked for port 0).
///
/// With [`with_pool`](StreamServer::with_pool), at most that many handlers run at once and
/// accepting pauses while the pool is full. When `accept` fails because the process is out of
/// file descriptors (or the kernel out of memory), the server backs off (5 ms, doubling up
/// to 1 s), says so once on stderr with the fix, and never spins.
///
/// # Examples
///
/// ```
/// use std::io::{Read, Write};
/// use greenwood::server::StreamServer;
///
/// let server = StreamServer::bind("127.0.0.1:0", |mut conn, _peer| {
///     let mut buf = [0; 64];
///     while let Ok(n) = conn.read(&mut buf) {
///         if n == 0 || conn.write_all(&buf[..n]).is_err() {
///             break;
///         }
///     }
/// })?;
/// server.start()?;
/// let mut c = greenwood::net::TcpStream::connect(server.local_addr()?)?;
/// c.write_all(b"hello")?;
/// let mut reply = [0; 5];
/// c.read_exact(&mut reply)?;
/// assert_eq!(&reply, b"hello");
/// drop(c);
/// server.stop(Some(std::time::Duration::from_secs(1)));
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct StreamServer {
    inner: Rc<Inner>,
}

struct Inner {
    /// `None` while stopped: the socket is closed, so connects are refused.
    listener: RefCell<Option<Rc<TcpListener>>>,
    /// Where a stopped server listens again.
    addr: Option<SocketAddr>,
    handler: Handler,
    handlers: Handlers,
}

impl StreamServer {
    /// A server for an existing listener.
    ///
    /// # Examples
    ///
    /// ```
    /// let l = greenwood::net::TcpListener::bind("127.0.0.1:0")?;
    /// let server = greenwood::server::StreamServer::new(l, |_conn, _peer| ());
    /// # drop(server);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn new(
        listener: TcpListener,
        handler: impl Fn(TcpStream, SocketAddr) + 'static,
    ) -> StreamServer {
        StreamServer {
            inner: Rc::new(Inner {
                addr: listener.local_addr().ok(),
                listener: RefCell::new(Some(Rc::new(listener))),
                handler: Rc::new(handler),
                handlers: Handlers::default(),
            }),
        }
    }

    /// Binds a listener to `addr` and makes a server for it.
    ///
    /// # Errors
    ///
    /// As [`TcpListener::bind`].
    ///
    /// # Examples
    ///
    /// ```
    /// let server = greenwood::server::StreamServer::bind("127.0.0.1:0", |_conn, _peer| ())?;
    /// assert_ne!(server.local_addr()?.port(), 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn bind<A: ToSocketAddrs>(
        addr: A,
        handler: impl Fn(TcpStream, SocketAddr) + 'static,
    ) -> io::Result<StreamServer> {
        Ok(StreamServer::new(TcpListener::bind(addr)?, handler))
    }

    /// Runs at most `size` handlers at once; accepting pauses while they all run.
    ///
    /// # Panics
    ///
    /// If the server was started already, or `size` is 0.
    ///
    /// # Examples
    ///
    /// ```
    /// let server = greenwood::server::StreamServer::bind("127.0.0.1:0", |_c, _p| ())?
    ///     .with_pool(100);
    /// # drop(server);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn with_pool(self, size: usize) -> StreamServer {
        StreamServer {
            inner: with_pool(self.inner, size, |i| &mut i.handlers),
        }
    }

    /// The address it listens on (while stopped: the one it will listen on again).
    ///
    /// # Errors
    ///
    /// What `getsockname` says.
    ///
    /// # Examples
    ///
    /// ```
    /// let server = greenwood::server::StreamServer::bind("127.0.0.1:0", |_c, _p| ())?;
    /// assert!(server.local_addr()?.ip().is_loopback());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        match &*self.inner.listener.borrow() {
            Some(l) => l.local_addr(),
            None => self.inner.addr.ok_or_else(|| no_address("StreamServer")),
        }
    }

    /// Starts accepting in a greenlet of its own and returns at once; does nothing if it is
    /// already started. After a [`stop`](StreamServer::stop) it opens a new listening socket
    /// on the same address.
    ///
    /// # Errors
    ///
    /// When listening again after a stop fails (the port was taken meanwhile: what `bind`
    /// says), or the kernel refuses the accepting greenlet's stack.
    ///
    /// # Examples
    ///
    /// ```
    /// let server = greenwood::server::StreamServer::bind("127.0.0.1:0", |_c, _p| ())?;
    /// server.start()?;
    /// assert!(server.started());
    /// server.stop(None);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn start(&self) -> io::Result<()> {
        if self.started() {
            return Ok(());
        }
        let listener = reopen(
            &self.inner.listener,
            || self.local_addr(),
            TcpListener::bind,
        )?;
        let inner = self.inner.clone();
        self.inner.handlers.start("StreamServer accept", move || {
            accept_loop(&inner, &listener)
        })
    }

    /// Whether it is accepting connections.
    ///
    /// # Examples
    ///
    /// ```
    /// let server = greenwood::server::StreamServer::bind("127.0.0.1:0", |_c, _p| ())?;
    /// assert!(!server.started());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn started(&self) -> bool {
        self.inner.handlers.running()
    }

    /// Starts the server and waits until it is stopped (by another greenlet calling
    /// [`stop`](StreamServer::stop)).
    ///
    /// # Errors
    ///
    /// As [`start`](StreamServer::start).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::rc::Rc;
    ///
    /// let server = Rc::new(greenwood::server::StreamServer::bind("127.0.0.1:0", |_c, _p| ())?);
    /// let s = server.clone();
    /// greenwood::spawn_later(std::time::Duration::from_millis(5), move || s.stop(None));
    /// server.serve_forever()?; // returns once stopped
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn serve_forever(&self) -> io::Result<()> {
        self.start()?;
        self.inner.handlers.join();
        Ok(())
    }

    /// Handlers running now.
    ///
    /// # Examples
    ///
    /// ```
    /// let server = greenwood::server::StreamServer::bind("127.0.0.1:0", |_c, _p| ())?;
    /// assert_eq!(server.handlers(), 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn handlers(&self) -> usize {
        self.inner.handlers.group.len()
    }

    /// Stops gracefully: stops accepting and closes the listening socket (new clients are
    /// refused by the kernel, not left hanging), waits up to `timeout` (forever if `None`) for
    /// the running handlers to finish, then kills the ones still running.
    /// [`start`](StreamServer::start) listens again.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let server = greenwood::server::StreamServer::bind("127.0.0.1:0", |_c, _p| {
    ///     greenwood::sleep(Duration::from_secs(60)); // a handler that would run for long
    /// })?;
    /// server.start()?;
    /// let _c = greenwood::net::TcpStream::connect(server.local_addr()?)?;
    /// greenwood::sleep(Duration::from_millis(1));
    /// assert_eq!(server.handlers(), 1);
    /// server.stop(Some(Duration::from_millis(5))); // waits 5 ms, then kills it
    /// assert_eq!(server.handlers(), 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn stop(&self, timeout: Option<Duration>) {
        self.inner.handlers.stop(timeout, || {
            // The accepting greenlet has unwound and dropped its handle: this is the last.
            drop(self.inner.listener.borrow_mut().take());
        });
    }
}

/// The server's socket: the one it has, or (after a stop) a new one bound to its address.
fn reopen<S>(
    cell: &RefCell<Option<Rc<S>>>,
    addr: impl FnOnce() -> io::Result<SocketAddr>,
    bind: impl FnOnce(SocketAddr) -> io::Result<S>,
) -> io::Result<Rc<S>> {
    if let Some(s) = cell.borrow().clone() {
        return Ok(s);
    }
    let s = Rc::new(bind(addr()?)?);
    *cell.borrow_mut() = Some(s.clone());
    Ok(s)
}

fn no_address(server: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::AddrNotAvailable,
        format!(
            "greenwood: this {server} is stopped and its socket had no local address to open              again; make a new server with bind"
        ),
    )
}

fn accept_loop(inner: &Rc<Inner>, listener: &TcpListener) {
    let mut backoff = BACKOFF_MIN;
    let mut reported = false;
    loop {
        inner.handlers.wait_for_slot();
        match listener.accept() {
            Ok((conn, peer)) => {
                backoff = BACKOFF_MIN;
                reported = false;
                let handler = inner.handler.clone();
                inner.handlers.spawn(move || handler(conn, peer));
            }
            Err(e) if transient(&e) => {}
            Err(e) => {
                if !reported {
                    reported = true;
                    report::emit(
                        ReportKind::ServerError,
                        format!("StreamServer: {}", describe_accept_error(&e)),
                    );
                }
                crate::sleep(backoff);
                backoff = (backoff * 2).min(BACKOFF_MAX);
            }
        }
    }
}

/// Errors about one connection, not about the server: try the next.
fn transient(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::ECONNABORTED | libc::EINTR | libc::EPROTO | libc::EPERM)
    )
}

fn describe_accept_error(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(libc::EMFILE) => format!(
            "accept failed: {e}; the process is out of file descriptors (RLIMIT_NOFILE): raise \
             it with `ulimit -n` or setrlimit. Backing off and retrying."
        ),
        Some(libc::ENFILE) => format!(
            "accept failed: {e}; the system is out of file descriptors (fs.file-max): raise \
             it with `sysctl -w fs.file-max=...`. Backing off and retrying."
        ),
        Some(libc::ENOBUFS | libc::ENOMEM) => {
            format!("accept failed: {e}; the kernel is out of memory. Backing off and retrying.")
        }
        _ => format!("accept failed: {e}. Backing off and retrying."),
    }
}

impl fmt::Debug for StreamServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamServer")
            .field("addr", &self.local_addr().ok())
            .field("started", &self.started())
            .field("handlers", &self.handlers())
            .finish()
    }
}

type DatagramHandler = Rc<dyn Fn(Vec<u8>, SocketAddr, &UdpSocket)>;

/// A UDP server that runs `handler(datagram, sender, socket)` in a new greenlet for every
/// datagram (the socket is there to reply with `send_to`). With
/// [`with_pool`](DatagramServer::with_pool), at most that many handlers run at once and
/// receiving pauses while they do.
///
/// # Examples
///
/// ```
/// use greenwood::net::UdpSocket;
/// use greenwood::server::DatagramServer;
///
/// let server = DatagramServer::bind("127.0.0.1:0", |data, from, socket| {
///     socket.send_to(&data, from).unwrap(); // echo
/// })?;
/// server.start()?;
/// let client = UdpSocket::bind("127.0.0.1:0")?;
/// client.send_to(b"ping", server.local_addr()?)?;
/// let mut buf = [0; 8];
/// let (n, _) = client.recv_from(&mut buf)?;
/// assert_eq!(&buf[..n], b"ping");
/// server.stop(None);
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct DatagramServer {
    inner: Rc<DatagramInner>,
}

struct DatagramInner {
    /// `None` while stopped. Running handlers hold their own handle, to reply with.
    socket: RefCell<Option<Rc<UdpSocket>>>,
    /// Where a stopped server binds again.
    addr: Option<SocketAddr>,
    handler: DatagramHandler,
    handlers: Handlers,
}

/// The largest datagram the server receives whole (larger ones are truncated by the kernel).
const MAX_DATAGRAM: usize = 65_536;

impl DatagramServer {
    /// A server for an existing socket.
    ///
    /// # Examples
    ///
    /// ```
    /// let s = greenwood::net::UdpSocket::bind("127.0.0.1:0")?;
    /// let server = greenwood::server::DatagramServer::new(s, |_d, _from, _s| ());
    /// # drop(server);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn new(
        socket: UdpSocket,
        handler: impl Fn(Vec<u8>, SocketAddr, &UdpSocket) + 'static,
    ) -> DatagramServer {
        DatagramServer {
            inner: Rc::new(DatagramInner {
                addr: socket.local_addr().ok(),
                socket: RefCell::new(Some(Rc::new(socket))),
                handler: Rc::new(handler),
                handlers: Handlers::default(),
            }),
        }
    }

    /// Binds a socket to `addr` and makes a server for it.
    ///
    /// # Errors
    ///
    /// As [`UdpSocket::bind`].
    ///
    /// # Examples
    ///
    /// ```
    /// let server = greenwood::server::DatagramServer::bind("127.0.0.1:0", |_d, _f, _s| ())?;
    /// assert_ne!(server.local_addr()?.port(), 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn bind<A: ToSocketAddrs>(
        addr: A,
        handler: impl Fn(Vec<u8>, SocketAddr, &UdpSocket) + 'static,
    ) -> io::Result<DatagramServer> {
        Ok(DatagramServer::new(UdpSocket::bind(addr)?, handler))
    }

    /// Runs at most `size` handlers at once; receiving pauses while they all run.
    ///
    /// # Panics
    ///
    /// If the server was started already, or `size` is 0.
    ///
    /// # Examples
    ///
    /// ```
    /// let server = greenwood::server::DatagramServer::bind("127.0.0.1:0", |_d, _f, _s| ())?
    ///     .with_pool(10);
    /// # drop(server);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn with_pool(self, size: usize) -> DatagramServer {
        DatagramServer {
            inner: with_pool(self.inner, size, |i| &mut i.handlers),
        }
    }

    /// The address it receives on (while stopped: the one it will bind again).
    ///
    /// # Errors
    ///
    /// What `getsockname` says.
    ///
    /// # Examples
    ///
    /// ```
    /// let server = greenwood::server::DatagramServer::bind("127.0.0.1:0", |_d, _f, _s| ())?;
    /// assert!(server.local_addr()?.ip().is_loopback());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        match &*self.inner.socket.borrow() {
            Some(s) => s.local_addr(),
            None => self.inner.addr.ok_or_else(|| no_address("DatagramServer")),
        }
    }

    /// Whether it is receiving datagrams.
    ///
    /// # Examples
    ///
    /// ```
    /// let server = greenwood::server::DatagramServer::bind("127.0.0.1:0", |_d, _f, _s| ())?;
    /// assert!(!server.started());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn started(&self) -> bool {
        self.inner.handlers.running()
    }

    /// Starts receiving in a greenlet of its own; does nothing if it is already started.
    /// After a [`stop`](DatagramServer::stop) it binds a new socket to the same address.
    ///
    /// # Errors
    ///
    /// When binding again after a stop fails (what `bind` says), or the kernel refuses the
    /// receiving greenlet's stack.
    ///
    /// # Examples
    ///
    /// ```
    /// let server = greenwood::server::DatagramServer::bind("127.0.0.1:0", |_d, _f, _s| ())?;
    /// server.start()?;
    /// server.stop(None);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn start(&self) -> io::Result<()> {
        if self.started() {
            return Ok(());
        }
        let socket = reopen(&self.inner.socket, || self.local_addr(), UdpSocket::bind)?;
        let inner = self.inner.clone();
        self.inner
            .handlers
            .start("DatagramServer receive", move || {
                receive_loop(&inner, socket)
            })
    }

    /// Starts the server and waits until another greenlet stops it.
    ///
    /// # Errors
    ///
    /// As [`start`](DatagramServer::start).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::rc::Rc;
    ///
    /// let server = Rc::new(greenwood::server::DatagramServer::bind("127.0.0.1:0", |_d, _f, _s| ())?);
    /// let s = server.clone();
    /// greenwood::spawn_later(std::time::Duration::from_millis(5), move || s.stop(None));
    /// server.serve_forever()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn serve_forever(&self) -> io::Result<()> {
        self.start()?;
        self.inner.handlers.join();
        Ok(())
    }

    /// Stops receiving, waits up to `timeout` (forever if `None`) for running handlers, then
    /// kills the rest. The socket is closed once the last running handler is done with it
    /// (handlers reply through it); [`start`](DatagramServer::start) binds again.
    ///
    /// # Examples
    ///
    /// ```
    /// let server = greenwood::server::DatagramServer::bind("127.0.0.1:0", |_d, _f, _s| ())?;
    /// server.start()?;
    /// server.stop(Some(std::time::Duration::from_millis(10)));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn stop(&self, timeout: Option<Duration>) {
        self.inner.handlers.stop(timeout, || {
            drop(self.inner.socket.borrow_mut().take());
        });
    }
}

fn receive_loop(inner: &Rc<DatagramInner>, socket: Rc<UdpSocket>) {
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        inner.handlers.wait_for_slot();
        match socket.recv_from(&mut buf) {
            Ok((n, from)) => {
                let data = buf[..n].to_vec();
                let (handler, socket) = (inner.handler.clone(), socket.clone());
                inner.handlers.spawn(move || handler(data, from, &socket));
            }
            // An ICMP error for an earlier send (port unreachable) surfaces here: not ours.
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {}
            Err(e) => {
                report::emit(
                    ReportKind::ServerError,
                    format!("DatagramServer: receive failed: {e}; retrying in 100 ms"),
                );
                crate::sleep(Duration::from_millis(100));
            }
        }
    }
}

impl fmt::Debug for DatagramServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatagramServer")
            .field("addr", &self.local_addr().ok())
            .finish()
    }
}
