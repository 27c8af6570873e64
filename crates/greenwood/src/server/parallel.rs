//! Servers on every core ([`StreamServer::threads`]) and in every process
//! ([`StreamServer::processes`]): a listener per hub, all bound to one address with
//! `SO_REUSEPORT`, so the kernel spreads the connections and each is served by a greenlet on
//! the hub that accepted it. Nothing migrates, and nothing is shared but the port.
//!
//! # Pre-fork workers
//!
//! With `processes(n)`, the process that calls [`Parallel::bind`] becomes a supervisor: it
//! keeps the port (a socket bound with `SO_REUSEPORT` that does not listen, so it takes no
//! connections), and starts `n` workers. A worker is this program run again (the same
//! executable and arguments, with `GREENWOOD_WORKER` and three more variables set), not a
//! `fork`: by the time a Rust program starts a server it usually has threads (a test harness,
//! a logger, the allocator's), and a child forked from a threaded process inherits their
//! locks held and their threads gone. So a worker runs `main` again up to the same
//! `bind` call, which in a worker serves (one listener per hub thread) until told to stop, and
//! then ends the process: it never returns there.
//!
//! Each worker holds a control connection to the supervisor (loopback TCP, with a token from
//! the environment): it says "ready" on it once it listens, the supervisor says "stop" on it
//! for a graceful stop, and its end tells either side that the other has gone (a worker whose
//! supervisor dies stops by itself). A worker that exits is restarted, unless it keeps dying
//! within a second of starting.

use std::collections::hash_map::RandomState;
use std::env;
use std::ffi::OsString;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::io::{self, BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::panic::Location;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::StreamServer;
use crate::channel;
use crate::hub::remote::XCondvar;
use crate::hub::report::{self, ReportKind};
use crate::hubs::{Event, Hubs, SendGreenlet};
use crate::net::{each_addr, shared_listener, TcpListener, TcpStream, ToSocketAddrs};
use crate::signal::{Signals, SIGINT, SIGTERM};

/// A handler shared by every hub (and, as code, every worker).
type SharedHandler = Arc<dyn Fn(TcpStream, SocketAddr) + Send + Sync>;

/// How long a graceful stop waits for running handlers, unless told otherwise.
const DEFAULT_STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// How long the supervisor waits for its workers to listen.
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// The environment that makes a process a worker.
const ENV_WORKER: &str = "GREENWOOD_WORKER";
const ENV_SUPERVISOR: &str = "GREENWOOD_SUPERVISOR";
const ENV_SUPERVISOR_PID: &str = "GREENWOOD_SUPERVISOR_PID";
const ENV_LISTEN: &str = "GREENWOOD_WORKER_LISTEN";
const ENV_TOKEN: &str = "GREENWOOD_WORKER_TOKEN";

/// Restarts of a worker that dies this soon after starting count as a crash loop.
const FAST_EXIT: Duration = Duration::from_secs(1);
/// A worker that dies soon after starting this many times in a row is not restarted again.
const MAX_FAST_EXITS: u32 = 5;

/// How a [`StreamServer`] spreads over threads and processes: made by
/// [`StreamServer::threads`] or [`StreamServer::processes`], started by
/// [`bind`](Parallel::bind).
///
/// # Examples
///
/// ```
/// use std::io::{Read, Write};
/// use greenwood::server::StreamServer;
///
/// let server = StreamServer::threads(2).bind("127.0.0.1:0", |mut conn, _peer| {
///     let _ = conn.write_all(b"hello\n"); // runs on the hub that accepted it
/// })?;
/// let mut c = std::net::TcpStream::connect(server.local_addr())?;
/// let mut reply = String::new();
/// c.read_to_string(&mut reply)?;
/// assert_eq!(reply, "hello\n");
/// server.stop(Some(std::time::Duration::from_secs(1)));
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Parallel {
    threads: usize,
    processes: usize,
    pool: Option<usize>,
    stop_timeout: Duration,
}

impl StreamServer {
    /// A server with a hub and a listener on each of `n` threads (see [`Parallel`]).
    pub fn threads(n: usize) -> Parallel {
        Parallel::new().threads(n)
    }

    /// A server run by `n` pre-forked worker processes (see [`Parallel`] and the module's
    /// documentation on workers).
    pub fn processes(n: usize) -> Parallel {
        Parallel::new().processes(n)
    }
}

impl Parallel {
    fn new() -> Parallel {
        Parallel {
            threads: 1,
            processes: 0,
            pool: None,
            stop_timeout: DEFAULT_STOP_TIMEOUT,
        }
    }

    /// Hub threads per process, each with its own listener (default 1).
    pub fn threads(mut self, n: usize) -> Parallel {
        self.threads = n;
        self
    }

    /// Worker processes; 0 (the default) serves in this process.
    pub fn processes(mut self, n: usize) -> Parallel {
        self.processes = n;
        self
    }

    /// At most `size` handlers at once on each hub (see [`StreamServer::with_pool`]).
    pub fn with_pool(mut self, size: usize) -> Parallel {
        self.pool = Some(size);
        self
    }

    /// How long a stop on `SIGTERM`/`SIGINT` (in [`serve_forever`](ParallelServer::serve_forever)
    /// and in workers) and a drop wait for running handlers (default 10 s).
    pub fn stop_timeout(mut self, timeout: Duration) -> Parallel {
        self.stop_timeout = timeout;
        self
    }

    /// Binds `addr` and starts serving: `handler(stream, peer)` runs in a new greenlet for
    /// every connection, on the hub that accepted it. Returns once every hub (and every
    /// worker) listens.
    ///
    /// In a worker process (see the module's documentation) this serves until the worker is
    /// told to stop, and then ends the process.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for 0 threads or a pool of 0; what `bind(2)` says (`AddrInUse`: another
    /// server of another user, or one without `SO_REUSEPORT`, has the port); a hub that
    /// cannot be created; a worker that cannot be started or exits before it listens (its
    /// exit status is in the message).
    pub fn bind<A, H>(self, addr: A, handler: H) -> io::Result<ParallelServer>
    where
        A: ToSocketAddrs,
        H: Fn(TcpStream, SocketAddr) + Send + Sync + 'static,
    {
        if self.threads == 0 || self.pool == Some(0) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "greenwood: a parallel StreamServer needs at least one thread, and a pool of \
                 at least one handler",
            ));
        }
        let handler: SharedHandler = Arc::new(handler);
        if let Some(worker) = WorkerEnv::from_env() {
            run_worker(&self, worker, handler);
        }
        if self.processes == 0 {
            let addr = each_addr(&addr, Ok)?;
            let server = ThreadServer::start(addr, &self, handler)?;
            return Ok(ParallelServer {
                addr: server.addr,
                stop_timeout: self.stop_timeout,
                kind: Kind::Threads(server),
            });
        }
        let supervisor = each_addr(&addr, |a| Supervisor::start(a, &self))?;
        Ok(ParallelServer {
            addr: supervisor.listen,
            stop_timeout: self.stop_timeout,
            kind: Kind::Supervisor(supervisor),
        })
    }
}

/// A running [`Parallel`] server: `Send + Sync`, so any greenlet or thread may stop it.
/// Dropping it stops it gracefully (with the stop timeout).
pub struct ParallelServer {
    addr: SocketAddr,
    stop_timeout: Duration,
    kind: Kind,
}

enum Kind {
    Threads(ThreadServer),
    Supervisor(Arc<Supervisor>),
}

impl ParallelServer {
    /// The address it listens on (with the port the kernel chose, for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Connections accepted so far by each hub of this process (empty for a supervisor,
    /// whose workers do the accepting).
    pub fn accepted(&self) -> Vec<u64> {
        match &self.kind {
            Kind::Threads(s) => s
                .accepted
                .iter()
                .map(|a| a.load(Ordering::Relaxed))
                .collect(),
            Kind::Supervisor(_) => Vec::new(),
        }
    }

    /// The process ids of the workers that listen now, by worker (empty without workers);
    /// `None` for one that is starting or being restarted.
    pub fn workers(&self) -> Vec<Option<u32>> {
        match &self.kind {
            Kind::Threads(_) => Vec::new(),
            Kind::Supervisor(s) => s
                .lock()
                .slots
                .iter()
                .map(|slot| slot.pid.filter(|_| slot.ready))
                .collect(),
        }
    }

    /// How many times workers were restarted after they exited.
    pub fn restarts(&self) -> u64 {
        match &self.kind {
            Kind::Threads(_) => 0,
            Kind::Supervisor(s) => s.lock().slots.iter().map(|s| s.restarts).sum(),
        }
    }

    /// Stops gracefully: every listener closes (new clients are refused), running handlers
    /// get up to `timeout` (forever if `None`) to finish and the rest are killed; hub
    /// threads are joined, workers are told to stop and waited for. Call it from outside the
    /// server's own handlers. Does nothing if it was stopped already.
    pub fn stop(&self, timeout: Option<Duration>) {
        match &self.kind {
            Kind::Threads(s) => s.stop(timeout),
            Kind::Supervisor(s) => s.stop(timeout),
        }
    }

    /// Serves until stopped: by [`stop`](ParallelServer::stop) elsewhere, or by `SIGTERM` or
    /// `SIGINT`, which stop it gracefully with the stop timeout (while it serves, those
    /// signals no longer end the process at once).
    ///
    /// # Errors
    ///
    /// If the signal handlers cannot be installed.
    pub fn serve_forever(&self) -> io::Result<()> {
        let signals = Signals::new(&[SIGTERM, SIGINT])?;
        let request = self.request().clone();
        let timeout = self.stop_timeout;
        let watcher = {
            let request = request.clone();
            crate::spawn(move || {
                if signals.wait().is_ok() {
                    request.ask(Some(timeout));
                }
            })
        };
        request.event.wait();
        // Whoever asked, the stop runs to its end here (a wait, if it ran already).
        self.stop(request.timeout());
        watcher.kill();
        Ok(())
    }

    fn request(&self) -> &StopRequest {
        match &self.kind {
            Kind::Threads(s) => &s.request,
            Kind::Supervisor(s) => &s.request,
        }
    }
}

/// A stop asked for, and the time it gives the handlers: what a signal watcher or a control
/// message sets (from any thread), and what the server's stop reads.
#[derive(Clone)]
struct StopRequest {
    event: Event,
    timeout: Arc<Mutex<Option<Duration>>>,
}

impl StopRequest {
    fn new() -> StopRequest {
        StopRequest {
            event: Event::new(),
            timeout: Arc::new(Mutex::new(None)),
        }
    }

    fn ask(&self, timeout: Option<Duration>) {
        *self.timeout.lock().unwrap_or_else(|e| e.into_inner()) = timeout;
        self.event.set();
    }

    fn timeout(&self) -> Option<Duration> {
        *self.timeout.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for ParallelServer {
    fn drop(&mut self) {
        self.stop(Some(self.stop_timeout));
    }
}

impl fmt::Debug for ParallelServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("ParallelServer");
        d.field("addr", &self.addr);
        match &self.kind {
            Kind::Threads(s) => d.field("hubs", &s.accepted.len()),
            Kind::Supervisor(s) => d.field("workers", &s.lock().slots.len()),
        };
        d.finish()
    }
}

// ---- a hub per thread ------------------------------------------------------------------------

/// The servers of one process: a `StreamServer` on each hub of a `Hubs`.
struct ThreadServer {
    addr: SocketAddr,
    hubs: Mutex<Option<Hubs>>,
    /// Each hub's server greenlet: it starts its server, waits for the request, stops it.
    servers: Vec<SendGreenlet<()>>,
    request: StopRequest,
    /// Set once everything has stopped.
    stopped: Event,
    accepted: Arc<Vec<AtomicU64>>,
}

impl ThreadServer {
    fn start(
        addr: SocketAddr,
        config: &Parallel,
        handler: SharedHandler,
    ) -> io::Result<ThreadServer> {
        // The first listener settles the port (for port 0); the others share it.
        let first = shared_listener(addr, true)?;
        let addr = first
            .local_addr()?
            .as_socket()
            .ok_or_else(|| io::Error::other("greenwood: a TCP listener without an IP address"))?;
        let mut listeners = vec![first];
        for _ in 1..config.threads {
            listeners.push(shared_listener(addr, true)?);
        }
        let hubs = Hubs::builder()
            .threads(config.threads)
            .name("server")
            .grace(config.stop_timeout)
            .start()?;
        let request = StopRequest::new();
        let accepted: Arc<Vec<AtomicU64>> =
            Arc::new((0..config.threads).map(|_| AtomicU64::new(0)).collect());
        let (started_tx, started_rx) = channel::unbounded();
        let mut servers = Vec::with_capacity(config.threads);
        for (i, sock) in listeners.into_iter().enumerate() {
            let std_listener: std::net::TcpListener = sock.into();
            let (handler, accepted) = (handler.clone(), accepted.clone());
            let (request, started) = (request.clone(), started_tx.clone());
            let pool = config.pool;
            servers.push(hubs.spawn_on(i, move || {
                let server = TcpListener::from_std(std_listener).and_then(|l| {
                    let server = StreamServer::new(l, move |conn, peer| {
                        accepted[i].fetch_add(1, Ordering::Relaxed);
                        handler(conn, peer)
                    });
                    let server = match pool {
                        Some(size) => server.with_pool(size),
                        None => server,
                    };
                    server.start()?;
                    Ok(server)
                });
                match server {
                    Err(e) => drop(started.send(Err(e))),
                    Ok(server) => {
                        let _ = started.send(Ok(()));
                        request.event.wait();
                        server.stop(request.timeout());
                    }
                }
            }));
        }
        drop(started_tx);
        let server = ThreadServer {
            addr,
            hubs: Mutex::new(Some(hubs)),
            servers,
            request,
            stopped: Event::new(),
            accepted,
        };
        for _ in 0..config.threads {
            match started_rx.recv() {
                Some(Ok(())) => {}
                Some(Err(e)) => return Err(e), // dropping `server` stops the others
                None => {
                    return Err(io::Error::other(
                        "greenwood: a server hub ended before its listener started",
                    ))
                }
            }
        }
        Ok(server)
    }

    fn stop(&self, timeout: Option<Duration>) {
        let Some(hubs) = self.hubs.lock().unwrap_or_else(|e| e.into_inner()).take() else {
            // Stopped already, or being stopped: wait for it to end.
            self.stopped.wait();
            return;
        };
        self.request.ask(timeout);
        for s in &self.servers {
            s.join();
        }
        hubs.stop();
        self.stopped.set();
    }
}

// ---- pre-fork workers: the supervisor -----------------------------------------------------

struct Supervisor {
    /// The address the workers listen on.
    listen: SocketAddr,
    state: Mutex<SupervisorState>,
    /// Waiters for a change of `state` (a worker ready or gone, the monitors done).
    changed: XCondvar,
    /// Set once every worker has stopped.
    stopped: Event,
    request: StopRequest,
    /// The control listener's address, for waking its thread when stopping.
    control: SocketAddr,
    token: String,
    exe: PathBuf,
    args: Vec<OsString>,
}

struct SupervisorState {
    slots: Vec<Slot>,
    stopping: bool,
    /// Kill the workers that are still running (the graceful stop ran out of time).
    kill: bool,
    /// Monitor threads that have ended.
    monitors_done: usize,
    /// Why a worker could not be (re)started, for `bind`'s error.
    failure: Option<String>,
    threads: Vec<JoinHandle<()>>,
}

#[derive(Default)]
struct Slot {
    pid: Option<u32>,
    /// Connected and listening.
    ready: bool,
    control: Option<std::net::TcpStream>,
    restarts: u64,
    /// Exits before the worker ever became ready (at the start: `bind` fails).
    early_exit: Option<String>,
}

impl Supervisor {
    fn start(addr: SocketAddr, config: &Parallel) -> io::Result<Arc<Supervisor>> {
        // Keeps the port: bound with SO_REUSEPORT, not listening, so it takes no connections
        // and the workers' listeners join it on the same port.
        let keeper = shared_listener(addr, false)?;
        let listen = keeper
            .local_addr()?
            .as_socket()
            .ok_or_else(|| io::Error::other("greenwood: a TCP socket without an IP address"))?;
        let control = std::net::TcpListener::bind("127.0.0.1:0")?;
        let control_addr = control.local_addr()?;
        let exe = env::current_exe().map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("greenwood: cannot find this program's executable to start workers: {e}"),
            )
        })?;
        let n = config.processes;
        let supervisor = Arc::new(Supervisor {
            listen,
            state: Mutex::new(SupervisorState {
                slots: (0..n).map(|_| Slot::default()).collect(),
                stopping: false,
                kill: false,
                monitors_done: 0,
                failure: None,
                threads: Vec::new(),
            }),
            changed: XCondvar::new("a pre-fork server's workers", Location::caller()),
            stopped: Event::new(),
            request: StopRequest::new(),
            control: control_addr,
            token: random_token(),
            exe,
            args: env::args_os().skip(1).collect(),
        });
        let mut threads = Vec::with_capacity(n + 1);
        let s = supervisor.clone();
        threads.push(
            std::thread::Builder::new()
                .name("greenwood supervisor".into())
                .spawn(move || s.accept_workers(control, keeper))?,
        );
        for i in 0..n {
            let s = supervisor.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("greenwood worker {i}"))
                .spawn(move || s.monitor(i));
            match spawned {
                Ok(t) => threads.push(t),
                Err(e) => {
                    supervisor.lock().threads = threads;
                    supervisor.stop(Some(Duration::ZERO));
                    return Err(e);
                }
            }
        }
        supervisor.lock().threads = threads;
        if let Err(e) = supervisor.wait_ready() {
            supervisor.stop(Some(Duration::ZERO));
            return Err(e);
        }
        Ok(supervisor)
    }

    fn lock(&self) -> MutexGuard<'_, SupervisorState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits until every worker listens, one fails, or `READY_TIMEOUT` passes.
    fn wait_ready(&self) -> io::Result<()> {
        let deadline = Instant::now() + READY_TIMEOUT;
        let mut state = self.lock();
        loop {
            if let Some(f) = &state.failure {
                return Err(io::Error::other(f.clone()));
            }
            if let Some((i, why)) = state
                .slots
                .iter()
                .enumerate()
                .find_map(|(i, s)| s.early_exit.clone().map(|w| (i, w)))
            {
                return Err(io::Error::other(format!(
                    "greenwood: worker {i} {why} before it listened. A worker is this program \
                     run again (the same executable and arguments, with {ENV_WORKER} set): it \
                     must reach the same StreamServer::processes(..).bind(..) call"
                )));
            }
            if state.slots.iter().all(|s| s.ready) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "greenwood: the workers did not all listen within {READY_TIMEOUT:?}; a \
                         worker is this program run again with {ENV_WORKER} set, and must reach \
                         the same StreamServer::processes(..).bind(..) call"
                    ),
                ));
            }
            state = self
                .changed
                .wait_until(&self.state, state, Some(deadline))
                .0;
        }
    }

    /// The control listener's thread: each worker connects once it listens and says
    /// `ready INDEX PID TOKEN`. `keeper` holds the port until the supervisor stops.
    fn accept_workers(&self, control: std::net::TcpListener, keeper: socket2::Socket) {
        for conn in control.incoming() {
            if self.lock().stopping {
                break;
            }
            let Ok(conn) = conn else { continue };
            let _ = conn.set_read_timeout(Some(Duration::from_secs(10)));
            let mut line = String::new();
            let Ok(reader) = conn.try_clone() else {
                continue;
            };
            if BufReader::new(reader).read_line(&mut line).is_err() {
                continue;
            }
            let _ = conn.set_read_timeout(None);
            let words: Vec<&str> = line.split_whitespace().collect();
            let ["ready", index, pid, token] = words[..] else {
                continue;
            };
            if token != self.token {
                continue;
            }
            let (Ok(index), Ok(pid)) = (index.parse::<usize>(), pid.parse::<u32>()) else {
                continue;
            };
            let mut state = self.lock();
            let stopping = state.stopping;
            let Some(slot) = state.slots.get_mut(index) else {
                continue;
            };
            if slot.pid != Some(pid) {
                continue;
            }
            if stopping {
                // It came up while everything stops: tell it at once.
                let mut conn = conn;
                let _ = writeln!(conn, "stop 0");
            } else {
                slot.ready = true;
                slot.control = Some(conn);
            }
            drop(state);
            self.changed.notify_all();
        }
        drop(keeper);
    }

    /// One worker slot's thread: starts the worker, waits for it to exit, restarts it.
    fn monitor(&self, index: usize) {
        let mut fast_exits = 0;
        loop {
            if self.lock().stopping {
                break;
            }
            let started = Instant::now();
            let mut child = match self.spawn_worker(index) {
                Ok(c) => c,
                Err(e) => {
                    self.lock().failure = Some(format!(
                        "greenwood: cannot start worker {index} ({}): {e}",
                        self.exe.display()
                    ));
                    self.changed.notify_all();
                    break;
                }
            };
            let pid = child.id();
            self.lock().slots[index].pid = Some(pid);
            self.changed.notify_all();
            let status = self.wait_child(&mut child);
            let mut state = self.lock();
            let slot = &mut state.slots[index];
            let was_ready = slot.ready;
            slot.pid = None;
            slot.ready = false;
            slot.control = None;
            let why = describe_exit(status);
            if !was_ready && slot.restarts == 0 {
                slot.early_exit = Some(why.clone());
            }
            let stopping = state.stopping;
            drop(state);
            self.changed.notify_all();
            if stopping {
                break;
            }
            if started.elapsed() < FAST_EXIT {
                fast_exits += 1;
            } else {
                fast_exits = 0;
            }
            if fast_exits >= MAX_FAST_EXITS {
                report::emit(
                    ReportKind::ServerError,
                    format!(
                        "StreamServer: worker {index} (pid {pid}) {why}, within a second of \
                         starting, {MAX_FAST_EXITS} times in a row: not restarting it"
                    ),
                );
                break;
            }
            report::emit(
                ReportKind::ServerError,
                format!("StreamServer: worker {index} (pid {pid}) {why}; restarting it"),
            );
            // Back off while it keeps dying at once: 0, 0.2, 0.4, 0.8, 1.6 s.
            if fast_exits > 1 {
                std::thread::sleep(Duration::from_millis(100 << (fast_exits - 1)));
            }
            self.lock().slots[index].restarts += 1;
        }
        self.lock().monitors_done += 1;
        self.changed.notify_all();
    }

    fn spawn_worker(&self, index: usize) -> io::Result<Child> {
        Command::new(&self.exe)
            .args(&self.args)
            .env(ENV_WORKER, index.to_string())
            .env(ENV_SUPERVISOR, self.control.to_string())
            .env(ENV_SUPERVISOR_PID, std::process::id().to_string())
            .env(ENV_LISTEN, self.listen.to_string())
            .env(ENV_TOKEN, &self.token)
            .stdin(Stdio::null())
            .spawn()
    }

    /// Waits for the worker to exit (killing it when told to), on the monitor's thread.
    fn wait_child(&self, child: &mut Child) -> io::Result<ExitStatus> {
        let mut killed = false;
        loop {
            if let Some(status) = child.try_wait()? {
                return Ok(status);
            }
            if !killed && self.lock().kill {
                killed = true;
                let _ = child.kill();
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn stop(&self, timeout: Option<Duration>) {
        let mut state = self.lock();
        if state.stopping {
            drop(state);
            self.stopped.wait();
            return;
        }
        state.stopping = true;
        self.request.ask(timeout);
        let message = match timeout {
            Some(t) => format!("stop {}\n", t.as_millis()),
            None => "stop\n".to_string(),
        };
        for slot in &mut state.slots {
            if let Some(c) = &mut slot.control {
                let _ = c.write_all(message.as_bytes());
            }
        }
        let n = state.slots.len();
        let threads = std::mem::take(&mut state.threads);
        drop(state);
        // Wake the control thread, so it sees `stopping` and lets go of the port.
        let _ = std::net::TcpStream::connect(self.control);
        // The handlers get `timeout`; the workers a little more to exit.
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t + Duration::from_secs(5)));
        let mut state = self.lock();
        while state.monitors_done < n {
            let now = Instant::now();
            if !state.kill && deadline.is_some_and(|d| now >= d) {
                state.kill = true;
            }
            // The monitors look at their children every 10 ms; look again at least every
            // 100 ms, for the deadline.
            let next = now + Duration::from_millis(100);
            state = self.changed.wait_until(&self.state, state, Some(next)).0;
        }
        drop(state);
        for t in threads {
            let _ = t.join();
        }
        self.stopped.set();
    }
}

fn describe_exit(status: io::Result<ExitStatus>) -> String {
    use std::os::unix::process::ExitStatusExt;
    match status {
        Ok(s) => match (s.code(), s.signal()) {
            (Some(code), _) => format!("exited with status {code}"),
            (None, Some(sig)) => format!("was killed by signal {sig}"),
            _ => format!("ended ({s})"),
        },
        Err(e) => format!("could not be waited for ({e})"),
    }
}

/// A value nobody else can guess easily, for the workers' control connections: the random
/// keys std seeds its hash maps with, mixed with the time and the pid.
fn random_token() -> String {
    let mut h = RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.write_u32(std::process::id());
    let a = h.finish();
    let mut h2 = RandomState::new().build_hasher();
    h2.write_u64(a);
    format!("{a:016x}{:016x}", h2.finish())
}

// ---- pre-fork workers: the worker ---------------------------------------------------------

/// What the supervisor told this process in its environment.
struct WorkerEnv {
    index: usize,
    supervisor: SocketAddr,
    listen: SocketAddr,
    token: String,
}

impl WorkerEnv {
    /// This process's worker settings, if it is a worker of its parent (a process that
    /// inherited the variables from a worker further up is not).
    fn from_env() -> Option<WorkerEnv> {
        let index = env::var(ENV_WORKER).ok()?.parse().ok()?;
        let parent: u32 = env::var(ENV_SUPERVISOR_PID).ok()?.parse().ok()?;
        if parent != std::os::unix::process::parent_id() {
            return None;
        }
        Some(WorkerEnv {
            index,
            supervisor: env::var(ENV_SUPERVISOR).ok()?.parse().ok()?,
            listen: env::var(ENV_LISTEN).ok()?.parse().ok()?,
            token: env::var(ENV_TOKEN).ok()?,
        })
    }
}

/// A worker's life: serve on the supervisor's address, say so, stop when told (or when the
/// supervisor goes, or on `SIGTERM`/`SIGINT`), end the process.
fn run_worker(config: &Parallel, worker: WorkerEnv, handler: SharedHandler) -> ! {
    let code = match serve_as_worker(config, &worker, handler) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!(
                "greenwood: worker {} (pid {}): {e}",
                worker.index,
                std::process::id()
            );
            1
        }
    };
    let _ = io::stdout().flush();
    std::process::exit(code)
}

fn serve_as_worker(
    config: &Parallel,
    worker: &WorkerEnv,
    handler: SharedHandler,
) -> io::Result<()> {
    let server = ThreadServer::start(worker.listen, config, handler)?;
    let signals = Signals::new(&[SIGTERM, SIGINT])?;
    let mut control = TcpStream::connect(worker.supervisor)?;
    writeln!(
        control,
        "ready {} {} {}",
        worker.index,
        std::process::id(),
        worker.token
    )?;
    let default = config.stop_timeout;
    let request = server.request.clone();
    let told = crate::spawn(move || {
        // "stop MS", "stop" (no limit), or the supervisor gone (end of stream).
        let mut line = String::new();
        let read = BufReader::new(control).read_line(&mut line);
        let t = match (read, line.split_whitespace().nth(1)) {
            (Ok(n), Some(ms)) if n > 0 => ms.parse().ok().map(Duration::from_millis),
            (Ok(n), None) if n > 0 => None,
            _ => Some(default),
        };
        request.ask(t);
    });
    let request = server.request.clone();
    let signalled = crate::spawn(move || {
        if signals.wait().is_ok() {
            request.ask(Some(default));
        }
    });
    server.request.event.wait();
    server.stop(server.request.timeout());
    told.kill();
    signalled.kill();
    Ok(())
}
