//! The cooperative side of the interposed calls: what a hook does when it runs in a greenlet
//! of a thread with a hub. Each function here gets the real libc call as a closure and makes
//! it without blocking, parking the greenlet on the hub between attempts.
//!
//! Nothing here may unwind into the C frame that called the hook: `guard` runs each body
//! under `catch_unwind`, an interrupt (kill, `Timeout`) that reaches a parked greenlet is put
//! back to be raised at its next blocking point in Rust, and the call returns an error instead.

use std::any::Any;
use std::panic::{self, AssertUnwindSafe};
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use libc::{c_int, ssize_t};

use super::{errno, set_errno};
use crate::hub::reactor::{self, Direction, FdIdentity, ForeignFd, ForeignSettings};
use crate::hub::task::{self, DeferredInterrupt};
use crate::hub::{self, sleep as greenwood_sleep};

/// Whether a call made now may park: a greenlet (not the hub) of a thread with a hub.
#[inline]
pub(super) fn here() -> bool {
    hub::cooperative().is_ok()
}

/// Runs a hook's cooperative body; a panic that is not an interrupt (a bug in greenwood) must
/// not unwind into C, so it aborts the process after saying so.
pub(super) fn guard<R>(f: impl FnOnce() -> R) -> R {
    match panic::catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(p) => die(&*p),
    }
}

#[cold]
fn die(p: &(dyn Any + Send)) -> ! {
    let msg = format!(
        "greenwood::monkey: a panic inside an interposed libc call, which cannot unwind into \
         its C caller: {}; aborting\n",
        crate::error::panic_message(p)
    );
    // SAFETY: writing a live buffer to stderr with libc's own write (not the hook).
    unsafe { super::real::write(2, msg.as_ptr().cast(), msg.len()) };
    std::process::abort();
}

/// Marks the current greenlet as parked inside an interposed call while it lives: at thread
/// exit the hub leaves such a greenlet suspended instead of unwinding it through C frames.
struct InForeignCall(std::rc::Rc<task::Task>);

impl InForeignCall {
    fn enter() -> InForeignCall {
        let me = task::current();
        me.in_foreign_call.set(true);
        InForeignCall(me)
    }
}

impl Drop for InForeignCall {
    fn drop(&mut self) {
        self.0.in_foreign_call.set(false);
    }
}

/// What an interrupt that landed in a hooked call becomes for its C caller: `ECANCELED` for a
/// kill, `ETIMEDOUT` for a greenwood `Timeout`. The interrupt itself is put back, to be raised
/// at the greenlet's next blocking point in Rust.
fn interrupted(p: Box<dyn Any + Send>) -> c_int {
    match task::current().defer_interrupt(p) {
        Ok(DeferredInterrupt::Kill) => libc::ECANCELED,
        Ok(DeferredInterrupt::Timeout) => libc::ETIMEDOUT,
        Err(other) => die(&*other),
    }
}

fn would_block(e: c_int) -> bool {
    e == libc::EAGAIN || e == libc::EWOULDBLOCK
}

/// Fds below this have a change count in [`CHANGES`]; the others are told apart by inode.
const COUNTED: usize = 65_536;

/// For each fd number, by any thread: in the high half, how many times it was closed or
/// replaced (`close`, `dup2`, `dup3`); in the low half, how many times its settings changed
/// (`fcntl(F_SETFL)`, `ioctl(FIONBIO)`, `setsockopt`). The hub keeps a foreign fd's
/// registration while the first count stays what it was, and its settings while both do.
/// 512 KiB of zeroed memory, touched only for the fd numbers in use.
static CHANGES: [AtomicU64; COUNTED] = [const { AtomicU64::new(0) }; COUNTED];

/// The change counts of `fd`, if it is low enough to have them.
fn counts(fd: c_int) -> Option<&'static AtomicU64> {
    usize::try_from(fd).ok().and_then(|i| CHANGES.get(i))
}

/// Records that `fd` was closed or replaced: call it after the call that did it (before, and
/// another thread could look the old file up under the new count).
pub(super) fn closed(fd: c_int) {
    if let Some(c) = counts(fd) {
        c.fetch_add(1 << 32, Ordering::Release);
    }
}

/// Records that the settings of `fd` changed: call it after the call that changed them.
pub(super) fn changed(fd: c_int) {
    if let Some(c) = counts(fd) {
        c.fetch_add(1, Ordering::Release);
    }
}

/// What `fd` is now, as the hub's table tells fds apart: its close count, or, for a number
/// too large to count, its device and inode (one `fstat`).
fn identity(fd: c_int) -> Result<FdIdentity, c_int> {
    match counts(fd) {
        Some(c) => Ok((u64::MAX, c.load(Ordering::Acquire) >> 32)),
        None => file(fd),
    }
}

/// What `fstat` says of `fd`.
fn stat(fd: c_int) -> Result<libc::stat, c_int> {
    let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: fstat fills `st` when it returns 0.
    if unsafe { libc::fstat(fd, st.as_mut_ptr()) } != 0 {
        return Err(errno());
    }
    // SAFETY: fstat returned 0.
    Ok(unsafe { st.assume_init() })
}

/// The device and inode of the file `fd` refers to.
fn file(fd: c_int) -> Result<FdIdentity, c_int> {
    stat(fd).map(|st| (st.st_dev, st.st_ino))
}

/// What the hub keeps of the program's `fd`. When the close count moved since, another
/// thread may have closed the number just before this one reused it (the count moves after
/// the close): the file's inode, kept with the registration, tells.
fn foreign(fd: c_int) -> Result<Rc<ForeignFd>, c_int> {
    let still_same = |f: &ForeignFd| f.file.get().is_some_and(|was| file(fd) == Ok(was));
    Ok(reactor::foreign_fd(fd, identity(fd)?, still_same))
}

/// `f`'s registration, with the file it was made for noted for [`foreign`].
fn registered(fd: c_int, f: &ForeignFd) -> Result<&reactor::IoRegistration, c_int> {
    let reg = f
        .registration()
        .map_err(|e| e.raw_os_error().unwrap_or(libc::EIO))?;
    if f.file.get().is_none() {
        f.file.set(file(fd).ok());
    }
    Ok(reg)
}

/// What the hub keeps of `fd`, registered with its epoll instance; `None` if it cannot be
/// (a regular file, a bad fd, an fd greenwood registered itself): the caller then makes the
/// program's own blocking call.
fn pollable(fd: c_int) -> Option<Rc<ForeignFd>> {
    let f = foreign(fd).ok()?;
    registered(fd, &f).ok()?;
    Some(f)
}

/// The program's settings of `fd`: looked up (`fcntl`, `getsockopt`) and kept until they
/// change; looked up every time for a number too large to count.
fn settings(fd: c_int, f: &ForeignFd) -> ForeignSettings {
    let version = counts(fd).map(|c| c.load(Ordering::Acquire));
    if let (Some(v), Some((at, s))) = (version, f.settings.get()) {
        if v == at {
            return s;
        }
    }
    // SAFETY: F_GETFL reads the descriptor's flags; a bad fd gives -1.
    let fl = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    let s = ForeignSettings {
        nonblocking: fl >= 0 && fl & libc::O_NONBLOCK != 0,
        read_timeout: socket_timeout(fd, libc::SO_RCVTIMEO),
        write_timeout: socket_timeout(fd, libc::SO_SNDTIMEO),
        stream: is_stream(fd),
    };
    if let Some(v) = version {
        f.settings.set(Some((v, s)));
    }
    s
}

/// Whether `fd` is a pipe, a FIFO or a character device (a terminal).
fn is_stream(fd: c_int) -> bool {
    stat(fd).is_ok_and(|st| matches!(st.st_mode & libc::S_IFMT, libc::S_IFIFO | libc::S_IFCHR))
}

/// The timeout the program set on a socket with `opt` (`SO_RCVTIMEO`/`SO_SNDTIMEO`), if any.
fn socket_timeout(fd: c_int, opt: c_int) -> Option<Duration> {
    let mut tv = libc::timeval {
        tv_sec: 0,
        tv_usec: 0,
    };
    let mut len = std::mem::size_of::<libc::timeval>() as libc::socklen_t;
    // SAFETY: `tv` and `len` are live locals of the sizes given.
    let r = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            opt,
            (&mut tv as *mut libc::timeval).cast(),
            &mut len,
        )
    };
    if r != 0 || (tv.tv_sec == 0 && tv.tv_usec == 0) {
        return None;
    }
    Some(Duration::new(tv.tv_sec as u64, tv.tv_usec as u32 * 1_000))
}

/// Parks the current greenlet until `f` is ready in direction `d`, at most the program's
/// timeout for that direction; `Err(errno)` says why not: `on_timeout` when the time ran
/// out, `EBADF` if the fd was closed meanwhile, what an interrupt becomes.
fn park(fd: c_int, f: &ForeignFd, d: Direction, on_timeout: c_int) -> Result<(), c_int> {
    let s = settings(fd, f);
    let timeout = match d {
        Direction::Read => s.read_timeout,
        Direction::Write => s.write_timeout,
    };
    let reg = registered(fd, f)?;
    reg.clear(d);
    let _marked = InForeignCall::enter();
    match panic::catch_unwind(AssertUnwindSafe(|| reg.wait(d, timeout))) {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::TimedOut => Err(on_timeout),
        Ok(Err(_)) => Err(libc::EBADF),
        Err(p) => Err(interrupted(p)),
    }
}

/// A read or write (`read`, `recv`, `send`, ...): `call(true)` makes the call without
/// blocking (`MSG_DONTWAIT`), `call(false)` exactly as the program did. `dontwait`: the
/// program asked for a non-blocking call itself. A descriptor that is no socket (`ENOTSOCK`
/// to the non-blocking attempt) gets the program's own call.
pub(super) fn transfer(
    fd: c_int,
    d: Direction,
    dontwait: bool,
    mut call: impl FnMut(bool) -> ssize_t,
) -> ssize_t {
    guard(|| match socket_transfer(fd, d, dontwait, &mut call) {
        Some(r) => r,
        None => call(false),
    })
}

/// `read`, `write`, `readv` and `writev`: [`transfer`] on a socket, [`stream`] on a pipe or
/// a terminal. `total` is the length the caller gave; `part(offset, len)` writes that much of
/// it from `offset` on (unused for reads). Descriptors 0 to 2 that are no sockets get the
/// program's own call: std reads and writes them under process-wide locks (`Stdout`'s is
/// re-entrant, with a `RefCell` inside), and a greenlet parked while holding one would make
/// the next greenlet's `println!` panic or block the thread for good.
pub(super) fn transfer_any(
    fd: c_int,
    d: Direction,
    total: usize,
    mut call: impl FnMut(bool) -> ssize_t,
    part: impl FnMut(usize, usize) -> ssize_t,
) -> ssize_t {
    guard(|| match socket_transfer(fd, d, false, &mut call) {
        Some(r) => r,
        None if fd <= 2 => call(false),
        None => stream(fd, d, total, &mut call, part),
    })
}

/// [`transfer`]'s loop; `None`: `fd` is no socket.
fn socket_transfer(
    fd: c_int,
    d: Direction,
    dontwait: bool,
    call: &mut impl FnMut(bool) -> ssize_t,
) -> Option<ssize_t> {
    loop {
        let r = call(true);
        if r >= 0 {
            task::consume_budget();
            return Some(r);
        }
        let e = errno();
        if e == libc::ENOTSOCK {
            return None;
        }
        if !would_block(e) || dontwait {
            set_errno(e);
            return Some(-1);
        }
        let f = match foreign(fd) {
            Ok(f) => f,
            Err(e) => {
                set_errno(e);
                return Some(-1);
            }
        };
        // A blocking socket whose timeout runs out reports EAGAIN (socket(7)).
        let parked = match settings(fd, &f).nonblocking {
            true => Err(libc::EAGAIN),
            false => park(fd, &f, d, libc::EAGAIN),
        };
        if let Err(e) = parked {
            set_errno(e);
            return Some(-1);
        }
    }
}

/// Whether `fd` is ready in direction `d` now (one `poll` with no timeout): readable (data,
/// end of file or an error to report), or writable (a pipe: room for `PIPE_BUF` bytes).
fn ready_now(fd: c_int, d: Direction) -> bool {
    let mut p = libc::pollfd {
        fd,
        events: match d {
            Direction::Read => libc::POLLIN,
            Direction::Write => libc::POLLOUT,
        },
        revents: 0,
    };
    // SAFETY: one live pollfd, no timeout; libc's own poll, not the hook.
    unsafe { super::real::poll(&mut p, 1, 0) != 0 }
}

/// A read or write on a blocking pipe, FIFO or terminal, whose flags the hook must not
/// change (the other end of a pipe may be another process's, sharing them): the greenlet
/// parks until the descriptor is ready, then makes a call that cannot block. A read of a
/// readable descriptor returns at once. A write goes in pieces of at most `PIPE_BUF` bytes,
/// each made once the pipe has room for it (`POLLOUT`), until all of it is written, as a
/// blocking write does; an error or an interrupt after some of it returns the count written,
/// as a signal would. Anything else (a file, a descriptor the program made non-blocking, one
/// epoll refuses) gets the program's own call.
fn stream(
    fd: c_int,
    d: Direction,
    total: usize,
    call: &mut impl FnMut(bool) -> ssize_t,
    mut part: impl FnMut(usize, usize) -> ssize_t,
) -> ssize_t {
    let Ok(f) = foreign(fd) else {
        return call(false);
    };
    let s = settings(fd, &f);
    if !s.stream || s.nonblocking || registered(fd, &f).is_err() {
        return call(false);
    }
    let mut done = 0;
    loop {
        if ready_now(fd, d) {
            if d == Direction::Read {
                task::consume_budget();
                return call(false);
            }
            let r = part(done, (total - done).min(libc::PIPE_BUF));
            if r < 0 {
                return if done > 0 { done as ssize_t } else { -1 };
            }
            done += r as usize;
            if done >= total {
                task::consume_budget();
                return done as ssize_t;
            }
            continue;
        }
        if let Err(e) = park(fd, &f, d, libc::EAGAIN) {
            if done > 0 {
                return done as ssize_t;
            }
            set_errno(e);
            return -1;
        }
    }
}

/// The vectors' total length (`readv`, `writev`); 0 for a negative count.
///
/// # Safety
///
/// `iov` points to `count` live `iovec`s, as the caller of `readv`/`writev` promised.
pub(super) unsafe fn iov_len(iov: *const libc::iovec, count: c_int) -> usize {
    // SAFETY: the caller's promise.
    unsafe { vectors(iov, count) }
        .iter()
        .fold(0, |n, v| n.saturating_add(v.iov_len))
}

/// A copy of `len` bytes of the vectors' contents from `at` on (fewer at their end).
///
/// # Safety
///
/// As for [`iov_len`]; each vector's buffer is live for reads of its length.
pub(super) unsafe fn iov_piece(
    iov: *const libc::iovec,
    count: c_int,
    at: usize,
    len: usize,
) -> Vec<u8> {
    let mut piece = Vec::with_capacity(len);
    let mut skip = at;
    // SAFETY: the caller's promise.
    for v in unsafe { vectors(iov, count) } {
        if piece.len() == len {
            break;
        }
        if skip >= v.iov_len {
            skip -= v.iov_len;
            continue;
        }
        let take = (v.iov_len - skip).min(len - piece.len());
        // SAFETY: `skip + take` is at most the vector's length, and its buffer is live.
        piece.extend_from_slice(unsafe {
            std::slice::from_raw_parts(v.iov_base.cast::<u8>().add(skip), take)
        });
        skip = 0;
    }
    piece
}

/// The caller's vectors as a slice.
///
/// # Safety
///
/// As for [`iov_len`].
unsafe fn vectors<'a>(iov: *const libc::iovec, count: c_int) -> &'a [libc::iovec] {
    match usize::try_from(count) {
        // SAFETY: the caller's promise.
        Ok(n) if n > 0 && !iov.is_null() => unsafe { std::slice::from_raw_parts(iov, n) },
        _ => &[],
    }
}

/// Runs `call` with `fd` made non-blocking for its duration, unless the program made it
/// non-blocking already (`None` then: make the call as it is).
fn nonblocking_once(fd: c_int, call: impl FnOnce() -> c_int) -> Option<(c_int, c_int)> {
    // SAFETY: F_GETFL/F_SETFL on the program's descriptor; a bad fd fails harmlessly.
    let fl = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if fl < 0 || fl & libc::O_NONBLOCK != 0 {
        return None;
    }
    // SAFETY: as above; the flags are restored right after the call.
    unsafe { libc::fcntl(fd, libc::F_SETFL, fl | libc::O_NONBLOCK) };
    let r = call();
    let e = errno();
    // SAFETY: as above.
    unsafe { libc::fcntl(fd, libc::F_SETFL, fl) };
    Some((r, e))
}

/// `connect`: started without blocking, then the greenlet parks until the socket is writable
/// and the result is read from `SO_ERROR`, as a blocking `connect` would wait for it.
pub(super) fn connect(fd: c_int, mut call: impl FnMut() -> c_int) -> c_int {
    guard(|| loop {
        let Some((r, e)) = nonblocking_once(fd, &mut call) else {
            return call();
        };
        if r == 0 {
            return 0;
        }
        // EAGAIN: a Unix socket's listener has a full backlog; wait and try again.
        if e != libc::EINPROGRESS && e != libc::EAGAIN {
            set_errno(e);
            return -1;
        }
        if let Err(e) = foreign(fd).and_then(|f| park(fd, &f, Direction::Write, libc::EINPROGRESS))
        {
            set_errno(e);
            return -1;
        }
        if e == libc::EAGAIN {
            continue;
        }
        let mut err: c_int = 0;
        let mut len = std::mem::size_of::<c_int>() as libc::socklen_t;
        // SAFETY: `err` and `len` are live locals of the sizes given.
        let r = unsafe {
            libc::getsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_ERROR,
                (&mut err as *mut c_int).cast(),
                &mut len,
            )
        };
        if r != 0 {
            return -1;
        }
        if err == 0 {
            return 0;
        }
        set_errno(err);
        return -1;
    })
}

/// `accept`/`accept4`: tried without blocking, the greenlet parking until the listener is
/// readable between tries.
pub(super) fn accept(fd: c_int, mut call: impl FnMut() -> c_int) -> c_int {
    guard(|| loop {
        let Some((r, e)) = nonblocking_once(fd, &mut call) else {
            return call();
        };
        if r >= 0 {
            return r;
        }
        if !would_block(e) {
            set_errno(e);
            return -1;
        }
        if let Err(e) = foreign(fd).and_then(|f| park(fd, &f, Direction::Read, libc::EAGAIN)) {
            set_errno(e);
            return -1;
        }
    })
}

/// A sleep: the greenlet sleeps on the hub's timers. An interrupt ends it early, as if the
/// time had passed (the C caller sees a sleep that completed; a caller that sleeps again in
/// a loop yields to the others each time until the interrupt can be raised in Rust).
pub(super) fn sleep(d: Duration) {
    guard(|| {
        let me = task::current();
        if me.has_pending_interrupt() {
            task::yield_quietly(&me);
            return;
        }
        let _marked = InForeignCall::enter();
        if let Err(p) = panic::catch_unwind(AssertUnwindSafe(|| greenwood_sleep(d))) {
            interrupted(p);
        }
    })
}

/// A non-blocking look (`call(0)`), then the greenlet parks until one of `sources()` is ready
/// in its direction or `timeout_ms` passes (-1: no limit), and looks again; what the look
/// finds (or an error) is the answer. `sources` giving `None` (an fd the hub cannot wait on)
/// or nothing: the program's own blocking call for the time left, `call(ms)`.
fn look_and_park(
    timeout_ms: c_int,
    mut call: impl FnMut(c_int) -> c_int,
    mut sources: impl FnMut() -> Option<Vec<(Rc<ForeignFd>, Direction)>>,
) -> c_int {
    let deadline = (timeout_ms >= 0)
        .then(|| Instant::now().checked_add(Duration::from_millis(timeout_ms as u64)))
        .flatten();
    guard(|| loop {
        let r = call(0);
        if r != 0 {
            return r;
        }
        let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        if left == Some(Duration::ZERO) {
            return 0;
        }
        let set = match sources() {
            Some(set) if !set.is_empty() => set,
            _ => return call(left.map_or(-1, ms)),
        };
        let marked = InForeignCall::enter();
        let waited = panic::catch_unwind(AssertUnwindSafe(|| reactor::wait_any(&set, left)));
        drop(marked);
        // Ready, timed out or closed: the next look says which.
        if let Err(p) = waited {
            set_errno(interrupted(p));
            return -1;
        }
    })
}

/// `poll` and `ppoll`: see [`look_and_park`]; each descriptor is waited on in the
/// directions its events ask for.
///
/// # Safety
///
/// `fds` points to `nfds` live `pollfd`s, as `poll`'s caller promised.
pub(super) unsafe fn poll(
    fds: *mut libc::pollfd,
    nfds: libc::nfds_t,
    timeout_ms: c_int,
    call: impl FnMut(c_int) -> c_int,
) -> c_int {
    look_and_park(timeout_ms, call, || {
        // SAFETY: the caller's promise.
        let set = unsafe { std::slice::from_raw_parts(fds, nfds as usize) };
        let mut sources = Vec::with_capacity(set.len());
        for p in set.iter().filter(|p| p.fd >= 0) {
            let dirs = [
                (
                    libc::POLLIN | libc::POLLPRI | libc::POLLRDHUP,
                    Direction::Read,
                ),
                (libc::POLLOUT, Direction::Write),
            ];
            for (mask, d) in dirs {
                if p.events & mask != 0 {
                    sources.push((pollable(p.fd)?, d));
                }
            }
        }
        Some(sources)
    })
}

/// Drops this hub's registration of `fd`, which the program is closing (or replacing): before
/// the call, while the number still refers to the file.
pub(super) fn forget(fd: c_int) {
    if hub::alive() {
        guard(|| reactor::forget_foreign(fd));
    }
}

/// A blocking lookup (`getaddrinfo`, `getnameinfo`), run on the thread pool while the
/// greenlet parks (it yields to the others at least once). `call` gets the caller's pointers
/// as integers: the caller's frame stays where it is until this returns, and this returns
/// only once `call` has finished, even when an interrupt arrives meanwhile (it is put back
/// for the next greenwood call, and the C caller gets the lookup's own result).
pub(super) fn lookup(call: impl FnOnce() -> c_int + Send + 'static) -> c_int {
    guard(|| {
        let job = crate::threadpool::spawn_blocking(call);
        let mut interrupts = Vec::new();
        let marked = InForeignCall::enter();
        // The others run at least once, even when the pool answers before this greenlet
        // looks (a name from /etc/hosts): a lookup always lets them, as gevent's does.
        task::yield_quietly(&task::current());
        while !job.ready() {
            if let Err(p) = panic::catch_unwind(AssertUnwindSafe(|| crate::wait(&[&job]))) {
                interrupts.push(p);
            }
        }
        drop(marked);
        for p in interrupts {
            interrupted(p);
        }
        job.join().unwrap_or(libc::EAI_SYSTEM)
    })
}

/// `select`: see [`look_and_park`]. Each look works on fresh copies of the caller's sets
/// (`select` overwrites them with what is ready); the greenlet waits on every descriptor of
/// them, in the directions the sets ask for.
///
/// # Safety
///
/// Each set is null or points to a live `fd_set`, and `nfds` is at most `FD_SETSIZE`, as
/// `select`'s caller promised.
pub(super) unsafe fn select(
    nfds: c_int,
    sets: [*mut libc::fd_set; 3],
    timeout_ms: c_int,
    mut call: impl FnMut(c_int) -> c_int,
) -> c_int {
    // SAFETY: the caller's promise: each non-null set is a live fd_set.
    let saved: [Option<libc::fd_set>; 3] = sets.map(|s| unsafe { s.as_ref() }.copied());
    let restore = || {
        for (set, was) in sets.iter().zip(&saved) {
            if let Some(was) = was {
                // SAFETY: a non-null set of the caller's, as above.
                unsafe { **set = *was };
            }
        }
    };
    let look = |t: c_int| {
        restore();
        call(t)
    };
    look_and_park(timeout_ms, look, || {
        let mut sources = Vec::new();
        for fd in 0..nfds.clamp(0, libc::FD_SETSIZE as c_int) {
            for (i, d) in [
                (0, Direction::Read),
                (1, Direction::Write),
                (2, Direction::Read),
            ] {
                // SAFETY: FD_ISSET on a copy of the caller's set, for an fd below FD_SETSIZE.
                if saved[i].is_some_and(|set| unsafe { libc::FD_ISSET(fd, &set) }) {
                    sources.push((pollable(fd)?, d));
                }
            }
        }
        Some(sources)
    })
}

/// `epoll_wait` on an epoll instance of the program's (a library's own event loop on the
/// calling greenlet): see [`look_and_park`]; the greenlet waits for the epoll fd itself to be
/// readable, which it is once one of its events is pending.
pub(super) fn epoll_wait(
    epfd: c_int,
    timeout_ms: c_int,
    call: impl FnMut(c_int) -> c_int,
) -> c_int {
    look_and_park(timeout_ms, call, || {
        Some(vec![(pollable(epfd)?, Direction::Read)])
    })
}

/// Milliseconds for a timeout argument, rounded up.
pub(super) fn ms(d: Duration) -> c_int {
    d.as_nanos().div_ceil(1_000_000).min(c_int::MAX as u128) as c_int
}

/// Waiting for one child (`waitpid`, `wait4`, `waitid` with a pid): the greenlet parks on the
/// child's pidfd, which becomes readable when the child ends, and the wait is then made with
/// `WNOHANG`. `call(true)` makes it with `WNOHANG`, `call(false)` as the program asked, which
/// is also what happens where pidfds are not available.
pub(super) fn wait_child(pid: libc::pid_t, mut call: impl FnMut(bool) -> c_int) -> c_int {
    // SAFETY: pidfd_open takes a pid and flags; it returns an fd this function owns.
    let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) } as c_int;
    if pidfd < 0 {
        return call(false);
    }
    // The pidfd's readability says the child ended: the look with WNOHANG (`call(true)`)
    // then reaps it. With no limit, "the time left" is none: `call(false)` blocks as asked.
    let r = look_and_park(
        -1,
        |t| call(t == 0),
        || Some(vec![(pollable(pidfd)?, Direction::Read)]),
    );
    let e = errno();
    forget(pidfd);
    // SAFETY: the pidfd opened above, closed once.
    unsafe { super::real::close(pidfd) };
    closed(pidfd);
    set_errno(e);
    r
}
