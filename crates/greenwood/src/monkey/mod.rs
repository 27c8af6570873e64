//! Unmodified blocking code, made cooperative: gevent's `monkey.patch_all()`, by interposing
//! the libc calls that blocking code makes (cargo feature `monkey`).
//!
//! ```no_run
//! use std::io::{Read, Write};
//!
//! greenwood::monkey::patch_all()?; // anywhere before the calls: there is no import order
//! let jobs: Vec<_> = (0..100)
//!     .map(|_| {
//!         greenwood::spawn(|| -> std::io::Result<usize> {
//!             std::thread::sleep(std::time::Duration::from_millis(100)); // parks this greenlet
//!             let mut s = std::net::TcpStream::connect("127.0.0.1:8080")?; // so does this
//!             s.write_all(b"GET / HTTP/1.0\r\n\r\n")?;
//!             let mut body = Vec::new();
//!             s.read_to_end(&mut body)?;
//!             Ok(body.len())
//!         })
//!     })
//!     .collect();
//! greenwood::joinall(&jobs); // about 100 ms and one round trip, not 100 of each
//! # Ok::<(), greenwood::monkey::PatchError>(())
//! ```
//!
//! # How it works
//!
//! With the feature on, greenwood defines `read`, `write`, `recv`, `send`, `connect`,
//! `accept4`, `poll`, `epoll_wait`, `nanosleep`, `getaddrinfo`, `waitpid` and the others
//! listed below under their libc names. The
//! linker resolves the program's calls to them (std's `std::net` and `std::thread::sleep`
//! included) before glibc's, and each forwards to glibc's own function, found with
//! `dlsym(RTLD_NEXT)`. [`patch_all`] (or one of its parts) switches them on. From then on, a
//! call made in a greenlet of a thread that has a hub does not block the thread: it is made
//! without blocking (`MSG_DONTWAIT`, or the descriptor made non-blocking for that one call),
//! and when it would block, the greenlet parks on the hub until the descriptor is ready, while
//! the other greenlets run. Every other call (before patching, on a thread with no hub, from
//! the hub itself, in a call the part does not cover) is glibc's, unchanged.
//!
//! There is no import-order trap: what is patched is the program's calls, wherever they come
//! from, whenever the code that makes them was loaded, C libraries linked in or loaded with
//! `dlopen` included (the hooks are in the program's dynamic symbol table, which the dynamic
//! linker searches first). The tests run unmodified ureq, libcurl and libpq this way.
//!
//! | part | calls |
//! |---|---|
//! | [`patch_socket`] | `read`, `write`, `readv`, `writev` (sockets, pipes, terminals), `recv`, `recvfrom`, `recvmsg`, `send`, `sendto`, `sendmsg`, `connect`, `accept`, `accept4`; `close`, `dup2`, `dup3` (which wake greenlets parked on the descriptor and drop its registration); `fcntl`, `fcntl64`, `ioctl`, `setsockopt` (forwarded unchanged; they tell the hub that a descriptor's settings changed) |
//! | [`patch_time`] | `nanosleep`, `clock_nanosleep` (realtime, monotonic and boot-time clocks), `sleep`, `usleep` |
//! | [`patch_select`] | `poll`, `ppoll`, `select`, `pselect`, `epoll_wait`, `epoll_pwait` (a library's own event loop: the greenlet parks until the epoll fd is readable); the signal mask of `ppoll`, `pselect` and `epoll_pwait` holds for each look at the descriptors, not while the greenlet is parked |
//! | [`patch_dns`] | `getaddrinfo`, `getnameinfo`, `gethostbyname`, `gethostbyname_r`: run on the thread pool, the greenlet yielding to the others at least once; the C caller gets the lookup's own result, even when an interrupt arrives meanwhile (it waits for the lookup, which uses its buffers) |
//! | [`patch_subprocess`] | `waitpid`, `wait4`, `waitid` for one child: the greenlet parks on the child's pidfd |
//!
//! # What the calling code sees
//!
//! - **The descriptor's flags do not change.** A socket the program made blocking stays
//!   blocking in its eyes (`fcntl(F_GETFL)` says so); reads and writes use `MSG_DONTWAIT`,
//!   and `connect`/`accept` set `O_NONBLOCK` for the one call and restore the flags at once.
//!   A descriptor the program made non-blocking gets `EAGAIN`, as it asked.
//! - **Socket timeouts hold.** `SO_RCVTIMEO` and `SO_SNDTIMEO` bound the greenlet's wait, and
//!   running out gives `EAGAIN` (`EINPROGRESS` for `connect`), as socket(7) says.
//! - **Pipes and terminals wait too; files do not.** `read`, `write`, `readv` and `writev` on
//!   a blocking pipe, FIFO or terminal (a child's output, say) park the greenlet until it is
//!   ready, without changing its flags (the other end may be another process's): a read is
//!   made once the descriptor is readable, a write in pieces of at most `PIPE_BUF` bytes, each
//!   once the pipe has room for it, so that none blocks; the caller still sees one blocking
//!   write of the whole buffer. Descriptors 0, 1 and 2 are the exception, unless they are
//!   sockets: std reads and writes them under process-wide locks (`Stdout`'s is re-entrant,
//!   with a `RefCell` inside), and a greenlet parked while holding one would make the next
//!   greenlet's `println!` panic or block the thread for good; they keep glibc's blocking
//!   calls. A regular file is always ready; its blocking I/O belongs on the thread pool
//!   ([`spawn_blocking`](crate::threadpool::spawn_blocking)). Finding out what a descriptor
//!   is costs one failed `recv` per call, and one `poll` per call on a pipe.
//! - **A kill or a [`Timeout`](crate::Timeout) cannot unwind through C code.** When one lands
//!   in a greenlet parked inside a hooked call, the call returns `-1` with `errno` set to
//!   `ECANCELED` (a kill) or `ETIMEDOUT` (a `Timeout`); a sleep returns as if its time had
//!   passed. The interrupt itself is raised again at the greenlet's next blocking point in
//!   greenwood (a greenwood call, a channel, a sleep of greenwood's own), where unwinding is
//!   safe. Until then, a hooked call of that greenlet that would have to wait fails at once
//!   (one that can be made without waiting still is), and its hooked sleeps only yield.
//! - Registrations: a descriptor is registered with the hub's epoll instance the first time a
//!   greenlet parks on it, and stays registered, with the program's settings for it
//!   (`O_NONBLOCK`, the two socket timeouts, looked up once), until it is closed or changed:
//!   every `close`, `dup2`, `dup3`, `fcntl(F_SETFL)`, `ioctl(FIONBIO)` and `setsockopt`, on any
//!   thread, moves a per-number change count, and the hub looks again when the count moved. A
//!   park then costs no system call besides the hub's own. Numbers from 65,536 up are told
//!   apart by inode instead (one `fstat` per park). A descriptor closed behind greenwood's
//!   back (a raw `syscall`, `close_range`) whose number is reused before a park is not noticed
//!   below 65,536: close descriptors through libc.
//!
//! # Limits
//!
//! Linux with glibc, dynamically linked, on x86_64 or aarch64 (the interposed `fcntl` and
//! `ioctl` rely on how those pass variadic arguments): [`patch_all`] returns a [`PatchError`]
//! saying why elsewhere (musl, a static build, another architecture). `pread` and `pwrite`
//! are left alone on purpose: they only work on files, which are always ready.
//! `GREENWOOD_PATCH=0` in the environment makes every `patch_*` call do nothing, to bisect a
//! problem.
//!
//! # Why std's locks still block the thread
//!
//! std's `Mutex`, `RwLock`, `Condvar` and `Once`, and `thread::park` (so `mpsc`, and every
//! client that waits for a helper thread, `reqwest::blocking` among them), wait in `futex(2)`
//! through libc's `syscall`, which greenwood could interpose as it does `poll`. It does not,
//! because that cannot be made sound. The code above a futex keeps per-thread state, on the
//! assumption that a thread waiting in a futex runs nothing else until it returns, and a
//! greenlet parked in one would break that assumption for every other greenlet of its thread:
//!
//! - `parking_lot` (and all that is built on `parking_lot_core`) queues a thread's one
//!   thread-local record while the thread waits; a second greenlet of that thread waiting too
//!   would queue the same record again while it is linked in a queue: memory corruption,
//!   reached from safe code.
//! - `thread::park` keeps one token per thread: two greenlets parked at once share it, and an
//!   `unpark` meant for one can be used up by the other, which leaves the first asleep for
//!   good (a lost wake-up: an `mpsc` `recv` that never returns).
//! - tokio's parker for blocking callers (`block_on`, `reqwest::blocking`) panics with
//!   "inconsistent park state" when a second greenlet parks on its thread's parker.
//!
//! So a std lock waits as a C extension's lock does under gevent: the thread blocks until it
//! is free. Between greenlets, use greenwood's own [`Lock`](crate::lock::Lock),
//! [`Semaphore`](crate::lock::Semaphore), [`Event`](crate::event::Event) and
//! [`Queue`](crate::queue::Queue); to wait for another OS thread,
//! [`threadpool::channel`](crate::threadpool::channel) or
//! [`spawn_blocking`](crate::threadpool::spawn_blocking). And never hold a std `MutexGuard`
//! across a call that may park (a patched read, a sleep): a second greenlet locking the same
//! mutex blocks the thread while the holder, parked on that thread, can never release it.

#![allow(unsafe_code)]

mod coop;
mod hooks;
mod real;

use std::error::Error;
use std::fmt;
use std::sync::atomic::{AtomicU32, Ordering};

use libc::c_int;

/// The parts that can be patched, as bits of [`PATCHED`].
const SOCKET: u32 = 1;
const TIME: u32 = 2;
const SELECT: u32 = 4;
const DNS: u32 = 8;
const SUBPROCESS: u32 = 16;

/// The parts patched so far.
static PATCHED: AtomicU32 = AtomicU32::new(0);

/// Whether calls of `part` go the cooperative way when made in a greenlet.
#[inline]
fn enabled(part: u32) -> bool {
    PATCHED.load(Ordering::Relaxed) & part != 0
}

/// Why patching is not possible here.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct PatchError {
    message: String,
}

impl fmt::Display for PatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl Error for PatchError {}

/// Patches everything this module can: sockets, sleeps, `poll` and event loops, name lookups
/// and waits for child processes. Safe to call more than
/// once, from any thread, at any point of the program (patching is process-wide, and takes
/// effect in greenlets of threads that have a hub).
///
/// # Errors
///
/// [`PatchError`] where interposition is not available: musl, or a statically linked
/// program (no dynamic linker to find glibc's functions with).
///
/// # Examples
///
/// ```
/// greenwood::monkey::patch_all()?;
/// let slow = greenwood::spawn(|| std::thread::sleep(std::time::Duration::from_millis(20)));
/// let fast = greenwood::spawn(|| std::thread::sleep(std::time::Duration::from_millis(1)));
/// let order: Vec<usize> = greenwood::iwait(&[slow, fast]).collect();
/// assert_eq!(order, [1, 0]); // the two std sleeps overlapped on one thread
/// # Ok::<(), greenwood::monkey::PatchError>(())
/// ```
pub fn patch_all() -> Result<(), PatchError> {
    patch(SOCKET | TIME | SELECT | DNS | SUBPROCESS)
}

/// Patches socket calls: `read`/`write` (on sockets, pipes and terminals), `recv*`, `send*`,
/// `connect`, `accept*` (and `close`/`dup2`/`dup3`, which keep the hub's registrations right).
///
/// # Errors
///
/// As [`patch_all`].
///
/// # Examples
///
/// ```
/// greenwood::monkey::patch_socket()?;
/// assert!(greenwood::monkey::is_patched());
/// # Ok::<(), greenwood::monkey::PatchError>(())
/// ```
pub fn patch_socket() -> Result<(), PatchError> {
    patch(SOCKET)
}

/// Patches sleeps: `nanosleep`, `clock_nanosleep`, `sleep`, `usleep` (so `std::thread::sleep`).
///
/// # Errors
///
/// As [`patch_all`].
///
/// # Examples
///
/// ```
/// greenwood::monkey::patch_time()?;
/// # Ok::<(), greenwood::monkey::PatchError>(())
/// ```
pub fn patch_time() -> Result<(), PatchError> {
    patch(TIME)
}

/// Patches `poll`, `ppoll`, `select`, `pselect`, `epoll_wait` and `epoll_pwait` (a library
/// running an event loop of its own on the calling greenlet).
///
/// # Errors
///
/// As [`patch_all`].
///
/// # Examples
///
/// ```
/// greenwood::monkey::patch_select()?;
/// # Ok::<(), greenwood::monkey::PatchError>(())
/// ```
pub fn patch_select() -> Result<(), PatchError> {
    patch(SELECT)
}

/// Patches name lookups: `getaddrinfo`, `getnameinfo` (so `ToSocketAddrs`), `gethostbyname`
/// and `gethostbyname_r` run on the thread pool while the greenlet parks.
///
/// # Errors
///
/// As [`patch_all`].
///
/// # Examples
///
/// ```
/// use std::net::ToSocketAddrs;
///
/// greenwood::monkey::patch_dns()?;
/// let lookup = greenwood::spawn(|| ("localhost", 80).to_socket_addrs().map(|a| a.count()));
/// assert!(lookup.take().unwrap()? > 0); // the lookup ran on the thread pool
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn patch_dns() -> Result<(), PatchError> {
    patch(DNS)
}

/// Patches waits for a child process: `waitpid`, `wait4` and `waitid` for one pid (so
/// `std::process::Child::wait` and `Command::status`) park on the child's pidfd.
///
/// # Errors
///
/// As [`patch_all`].
///
/// # Examples
///
/// ```
/// greenwood::monkey::patch_subprocess()?;
/// let child = greenwood::spawn(|| std::process::Command::new("true").status());
/// assert!(child.take().unwrap()?.success()); // the wait parked the greenlet
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn patch_subprocess() -> Result<(), PatchError> {
    patch(SUBPROCESS)
}

/// Whether any part is patched.
///
/// # Examples
///
/// ```
/// greenwood::monkey::patch_all()?;
/// assert!(greenwood::monkey::is_patched());
/// # Ok::<(), greenwood::monkey::PatchError>(())
/// ```
pub fn is_patched() -> bool {
    PATCHED.load(Ordering::Relaxed) != 0
}

fn patch(parts: u32) -> Result<(), PatchError> {
    if !cfg!(any(target_arch = "x86_64", target_arch = "aarch64")) {
        return Err(PatchError {
            message: "greenwood::monkey cannot patch this program: its interposed `fcntl` and \
                      `ioctl` rely on how x86_64 and aarch64 Linux pass variadic arguments, and \
                      this target is neither"
                .to_string(),
        });
    }
    if cfg!(target_env = "musl") {
        return Err(PatchError {
            message: "greenwood::monkey cannot patch this program: it is built for musl, whose \
                      functions are not reached through the dynamic linker; build for \
                      x86_64-unknown-linux-gnu (glibc), dynamically linked"
                .to_string(),
        });
    }
    if std::env::var_os("GREENWOOD_PATCH").is_some_and(|v| v == "0") {
        return Ok(());
    }
    if let Err(name) = real::resolve_all() {
        return Err(PatchError {
            message: format!(
                "greenwood::monkey cannot patch this program: the dynamic linker does not know \
                 libc's `{name}` (a statically linked program has no dynamic linker to ask); \
                 link dynamically against glibc"
            ),
        });
    }
    std::hint::black_box(hooks::addresses());
    PATCHED.fetch_or(parts, Ordering::SeqCst);
    Ok(())
}

fn errno() -> c_int {
    // SAFETY: glibc's errno location is this thread's, valid for its life.
    unsafe { *libc::__errno_location() }
}

fn set_errno(e: c_int) {
    // SAFETY: as in `errno`.
    unsafe { *libc::__errno_location() = e };
}
