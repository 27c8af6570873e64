//! gevent for Rust: green threads ("greenlets") that look like ordinary blocking code and
//! scale like an event loop. No `async`, no `.await`, no runtime object, no entry-point macro.
//!
//! The classic downloader, with `sleep` standing in for the network:
//!
//! ```
//! use std::time::{Duration, Instant};
//!
//! fn download(user: u32) -> usize {
//!     greenwood::sleep(Duration::from_millis(50)); // blocks this greenlet only
//!     1_000 + user as usize
//! }
//!
//! let start = Instant::now();
//! let jobs: Vec<_> = (0..1_000).map(|u| greenwood::spawn(move || download(u))).collect();
//! greenwood::joinall(&jobs);
//! let bytes: usize = jobs.iter().map(|g| g.get().unwrap()).sum();
//! assert_eq!(bytes, 1_000 * 1_000 + 999 * 1_000 / 2);
//! // A thousand 50 ms downloads on one thread take about 50 ms, not 50 s.
//! println!("{:?}", start.elapsed());
//! ```
//!
//! - [`spawn`], [`spawn_later`] and [`Builder`] start greenlets; a [`Greenlet<T>`] joins,
//!   gets the value (or the panic message), kills, and links callbacks.
//! - [`joinall`], [`JoinAll`], [`killall`], [`wait`], [`wait_count`], [`iwait`] wait on many:
//!   greenlets, events, queues, sockets, signals and thread-pool results, whichever first.
//! - [`sleep`] (and `sleep(Duration::ZERO)` to yield), [`idle`], [`getcurrent`].
//! - [`Timeout`] and [`with_timeout`] interrupt any blocking call; [`Elapsed`] says which.
//! - A greenlet that panics does not take the others down: the panic is reported once, with
//!   the greenlet's name and spawn site, and [`Greenlet::get`] returns it.
//! - When the main greenlet waits on something nothing can ever wake, the call fails with a
//!   [`LoopExit`] message naming what it waits on and where that was spawned or created.
//! - [`event`] (`Event`, `AsyncResult`), [`lock`] (`Semaphore`, `BoundedSemaphore`, `Lock`,
//!   `RLock`), [`queue`] (`Queue`, `LifoQueue`, `PriorityQueue`, `JoinableQueue`, `Channel`)
//!   and [`pool`] (`Group`, `Pool`): waiters are served in the order they came, and a waiter
//!   that is killed or times out never takes (or loses) a permit or an item.
//! - [`threadpool`] (`ThreadPool`, [`spawn_blocking`], a cross-thread `channel`) for code that
//!   must block a real thread; [`hub::HubHandle`] lets any thread run callbacks on a hub.
//! - [`local`]: greenlet-local storage ([`greenlet_local!`]), inherited on request with
//!   [`Builder::inherit`].
//! - [`net`]: cooperative `TcpStream`, `TcpListener`, `UdpSocket` and Unix sockets, drop-ins
//!   for `std::net`'s, with gevent's `close()` for a socket another greenlet waits on;
//!   [`server`]: `StreamServer` (a greenlet per connection) and `DatagramServer`.
//! - [`signal`]: Unix signals as events a greenlet waits for (`Signals`, `signal_handler`).
//! - [`wait_read`] and [`wait_write`] park a greenlet until a raw file descriptor is ready,
//!   on the hub's epoll (through mio); the `net` types use the same readiness layer.
//! - [`report`]: where greenwood's own messages go (a handler, `log`, `tracing` or stderr).
//! - [`hub`]: the per-thread event loop everything runs on, its one blocking primitive
//!   ([`hub::Waiter`]), and the design (in its source).
//!
//! Greenlets belong to the thread that spawned them (`!Send`); each thread that uses greenwood
//! gets its own hub, lazily. Linux only: greenlet stacks use Linux's guard pages and overflow
//! handling, and sockets its `epoll` (through mio) and `accept4`.
//!
//! # Time limits
//!
//! Every call that waits at most some time follows one convention, std's `recv_timeout`:
//! it returns `Result<T, E>`, where `T` is what the call without a limit returns and `E` says
//! that time ran out: [`Elapsed`] (`Event::wait_timeout`, `Greenlet::join_timeout`,
//! `Semaphore::acquire_timeout`, `AsyncResult::get_timeout`, `Pool::join_timeout`,
//! [`killall_timeout`], [`with_timeout`], ...), or the call's own error type where it has one
//! with a timeout case (a queue's `GetError::Empty` and `PutError::Full`, I/O's
//! `ErrorKind::TimedOut` for sockets and `Signals::wait_timeout`). The one exception is
//! `ThreadResult::join_timeout`, which consumes its handle and so hands it back on timeout.
//!
//! # `fork()`
//!
//! A hub does not survive `fork()`: the child would share the parent's epoll instance (each
//! taking the other's wake-ups) and have none of the thread pool's threads. Fork before the
//! first greenwood call on any thread, or exec right after it (as `std::process::Command`
//! does). A child that goes
//! on using greenwood gets a panic naming the fork at its first blocking wait or
//! `spawn_blocking`, instead of hanging; until then it may still have taken an I/O event
//! meant for the parent.
//!
//! # `panic = "abort"`
//!
//! Killing a greenlet and a [`Timeout`] interrupt it by unwinding its stack from where it is
//! parked, so that its destructors run, as gevent raises `GreenletExit` in it. A program
//! built with `panic = "abort"` cannot unwind: there, the first kill of a started greenlet or
//! the first timeout that fires aborts the process, after one message naming the greenlet
//! and the fix (build with `panic = "unwind"`, Rust's default). Everything else works, and
//! greenlets still parked when a thread ends are left as they are (their destructors do not
//! run), as a process leaves its threads at exit.

#![deny(unsafe_code)]
#![deny(missing_docs, missing_debug_implementations)]

// The runtime core: the loop, tasks, wait lists, timers, the reactor, the remote queue and
// reports. It imports nothing of the crate but `error`; everything below is built on it.
pub mod hub;

pub mod channel;
mod error;
pub mod event;
mod greenlet;
pub mod hubs;
mod io;
pub mod local;
pub mod lock;
pub mod monitor;
#[cfg(feature = "monkey")]
pub mod monkey;
pub mod net;
pub mod pool;
pub mod queue;
pub mod report;
pub mod server;
pub mod signal;
pub mod threadpool;
mod timeout;
pub mod util;
mod wait;

pub use crate::error::{Elapsed, ErrorKind, GreenletError, LoopExit};
pub use crate::greenlet::{
    getcurrent, spawn, spawn_later, AnyGreenlet, Builder, Greenlet, LinkId, WeakGreenlet,
};
pub use crate::hub::waitlist::Waitable;
pub use crate::hub::{idle, sleep};
pub use crate::io::{wait_read, wait_readwrite, wait_write};
pub use crate::threadpool::spawn_blocking;
pub use crate::timeout::{timeout_silent, with_timeout, Timeout};
pub use crate::wait::{
    iwait, joinall, killall, killall_timeout, killall_with, wait, wait_count, Iwait, JoinAll,
};

/// Sets this thread's handler for greenlets that fail (panic, or an uncaught [`Timeout`]); by
/// default a failure becomes a [`report`] (one line on stderr unless a report handler, `log`
/// or `tracing` takes it): `greenwood: greenlet 'NAME' (spawned at FILE:LINE:COL) panicked at
/// FILE:LINE:COL: MESSAGE`. Killed greenlets are not failures. `None` restores the default.
///
/// A greenlet's panic is reported once, here, not also by Rust's default panic hook (which
/// would name the OS thread): the report says which greenlet it was, where it was spawned,
/// where it panicked and, when `RUST_BACKTRACE` asks for it, the backtrace
/// ([`GreenletError::backtrace`]). A panic hook the program set itself still sees every panic.
///
/// # Examples
///
/// ```
/// use std::{cell::RefCell, rc::Rc};
///
/// let failures = Rc::new(RefCell::new(Vec::new()));
/// let f = failures.clone();
/// greenwood::set_failure_handler(Some(Box::new(move |e| f.borrow_mut().push(e.to_string()))));
/// let g = greenwood::Builder::new().name("resizer").spawn(|| -> () { panic!("bad jpeg") })?;
/// g.join();
/// assert!(failures.borrow()[0].starts_with("greenlet 'resizer' (spawned at"));
/// assert!(failures.borrow()[0].contains(" panicked at "));
/// assert!(failures.borrow()[0].ends_with(": bad jpeg"));
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn set_failure_handler(handler: Option<hub::FailureHandler>) {
    hub::get_hub().set_failure_handler(handler);
}

/// Greenwood's handles belong to the thread whose hub they use, so none is `Send`: the
/// compiler refuses to move one to another thread, where it would reach into a hub it does
/// not own. These blocks are the proof, one per type, each of which must fail to compile;
/// the first block is the control: what crosses threads on purpose does compile.
///
/// ```
/// fn send<T: Send>() {}
/// send::<greenwood::hub::HubHandle>();
/// send::<greenwood::threadpool::Sender<u8>>();
/// send::<greenwood::threadpool::ThreadPool>();
/// send::<greenwood::GreenletError>();
/// ```
///
/// And every type below exists, so each block fails for the one reason it should:
///
/// ```
/// fn name<T>() {}
/// name::<greenwood::Greenlet<()>>();
/// name::<greenwood::AnyGreenlet>();
/// name::<greenwood::WeakGreenlet<()>>();
/// name::<greenwood::local::Local<u8>>();
/// name::<greenwood::Timeout>();
/// name::<greenwood::hub::Hub>();
/// name::<greenwood::hub::Waiter<u8>>();
/// name::<greenwood::event::Event>();
/// name::<greenwood::event::AsyncResult<u8>>();
/// name::<greenwood::lock::Semaphore>();
/// name::<greenwood::lock::BoundedSemaphore>();
/// name::<greenwood::lock::Lock>();
/// name::<greenwood::lock::RLock>();
/// name::<greenwood::queue::Queue<u8>>();
/// name::<greenwood::queue::JoinableQueue<u8>>();
/// name::<greenwood::queue::Channel<u8>>();
/// name::<greenwood::pool::Group>();
/// name::<greenwood::pool::Pool>();
/// name::<greenwood::net::TcpStream>();
/// name::<greenwood::net::TcpListener>();
/// name::<greenwood::net::UdpSocket>();
/// name::<greenwood::net::unix::UnixStream>();
/// name::<greenwood::net::unix::UnixListener>();
/// name::<greenwood::net::unix::UnixDatagram>();
/// name::<greenwood::server::StreamServer>();
/// name::<greenwood::server::DatagramServer>();
/// name::<greenwood::signal::Signals>();
/// name::<greenwood::threadpool::ThreadResult<u8>>();
/// name::<greenwood::threadpool::Receiver<u8>>();
/// ```
///
///
/// ```compile_fail,E0277
/// fn send<T: Send>() {}
/// send::<greenwood::Greenlet<()>>();
/// ```
///
/// ```compile_fail,E0277
/// fn send<T: Send>() {}
/// send::<greenwood::AnyGreenlet>();
/// ```
///
/// ```compile_fail,E0277
/// fn send<T: Send>() {}
/// send::<greenwood::WeakGreenlet<()>>();
/// ```
///
/// ```compile_fail,E0277
/// fn send<T: Send>() {}
/// send::<greenwood::local::Local<u8>>();
/// ```
///
/// ```compile_fail,E0277
/// fn send<T: Send>() {}
/// send::<greenwood::Timeout>();
/// ```
///
/// ```compile_fail,E0277
/// fn send<T: Send>() {}
/// send::<greenwood::hub::Hub>();
/// ```
///
/// ```compile_fail,E0277
/// fn send<T: Send>() {}
/// send::<greenwood::hub::Waiter<u8>>();
/// ```
///
/// ```compile_fail,E0277
/// fn send<T: Send>() {}
/// send::<greenwood::event::Event>();
/// ```
///
/// ```compile_fail,E0277
/// fn send<T: Send>() {}
/// send::<greenwood::event::AsyncResult<u8>>();
/// ```
///
/// ```compile_fail,E0277
/// fn send<T: Send>() {}
/// send::<greenwood::lock::Semaphore>();
/// ```
///
/// ```compile_fail,E0277
/// fn send<T: Send>() {}
/// send::<greenwood::lock::BoundedSemaphore>();
/// ```
///
/// ```compile_fail,E0277
/// fn send<T: Send>() {}
/// send::<greenwood::lock::Lock>();
/// ```
///
/// ```compile_fail,E0277
/// fn send<T: Send>() {}
/// send::<greenwood::lock::RLock>();
/// ```
///
/// ```compile_fail,E0277
/// fn send<T: Send>() {}
/// send::<greenwood::queue::Queue<u8>>();
/// ```
///
/// ```compile_fail,E0277
/// fn send<T: Send>() {}
/// send::<greenwood::queue::JoinableQueue<u8>>();
/// ```
///
/// ```compile_fail,E0277
/// fn send<T: Send>() {}
/// send::<greenwood::queue::Channel<u8>>();
/// ```
///
/// ```compile_fail,E0277
/// fn send<T: Send>() {}
/// send::<greenwood::pool::Group>();
/// ```
///
/// ```compile_fail,E0277
/// fn send<T: Send>() {}
/// send::<greenwood::pool::Pool>();
/// ```
///
/// ```compile_fail,E0277
/// fn send<T: Send>() {}
/// send::<greenwood::net::TcpStream>();
/// ```
///
/// ```compile_fail,E0277
/// fn send<T: Send>() {}
/// send::<greenwood::net::TcpListener>();
/// ```
///
/// ```compile_fail,E0277
/// fn send<T: Send>() {}
/// send::<greenwood::net::UdpSocket>();
/// ```
///
/// ```compile_fail,E0277
/// fn send<T: Send>() {}
/// send::<greenwood::net::unix::UnixStream>();
/// ```
///
/// ```compile_fail,E0277
/// fn send<T: Send>() {}
/// send::<greenwood::net::unix::UnixListener>();
/// ```
///
/// ```compile_fail,E0277
/// fn send<T: Send>() {}
/// send::<greenwood::net::unix::UnixDatagram>();
/// ```
///
/// ```compile_fail,E0277
/// fn send<T: Send>() {}
/// send::<greenwood::server::StreamServer>();
/// ```
///
/// ```compile_fail,E0277
/// fn send<T: Send>() {}
/// send::<greenwood::server::DatagramServer>();
/// ```
///
/// ```compile_fail,E0277
/// fn send<T: Send>() {}
/// send::<greenwood::signal::Signals>();
/// ```
///
/// ```compile_fail,E0277
/// fn send<T: Send>() {}
/// send::<greenwood::threadpool::ThreadResult<u8>>();
/// ```
#[cfg(doctest)]
pub struct NotSend;
