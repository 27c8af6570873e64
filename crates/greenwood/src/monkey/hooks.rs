//! The interposed libc functions. A program linked with greenwood's `monkey` feature defines
//! these names itself, so its own calls, std's included, reach them instead of glibc's; each
//! forwards to glibc's function ([`real`](super::real)) unless its part is patched and the
//! caller is a greenlet that may park (`coop::here`).
//!
//! Every hook begins with two loads (the patched parts, a `const` thread-local) and, when
//! either says no, makes the libc call unchanged: calls before patching, before `main`, on
//! threads without a hub and from the hub itself behave exactly as libc's.
//!
//! # Safety
//!
//! Each hook has the C signature of the function it replaces and the same contract towards
//! its caller; it hands the caller's pointers on unchanged (to libc, or to `coop` for the
//! length the caller gave). `#[no_mangle]` is what makes them interpose; no two definitions
//! of a name exist in the crate.

use libc::{addrinfo, c_char, epoll_event, id_t, idtype_t, iovec, msghdr, pid_t, siginfo_t};
use libc::{c_int, c_uint, c_void, clockid_t, nfds_t, pollfd, size_t, sockaddr, socklen_t};
use libc::{sigset_t, ssize_t, timespec, useconds_t};
use std::time::Duration;

use super::{coop, enabled, real, DNS, SELECT, SOCKET, SUBPROCESS, TIME};
use crate::hub::reactor::Direction;

/// Whether a call of `part` made now goes the cooperative way.
#[inline]
fn cooperative(part: u32) -> bool {
    enabled(part) && coop::here()
}

#[no_mangle]
pub unsafe extern "C" fn read(fd: c_int, buf: *mut c_void, count: size_t) -> ssize_t {
    if !cooperative(SOCKET) {
        // SAFETY: the caller's contract, passed on.
        return unsafe { real::read(fd, buf, count) };
    }
    let call = |nonblocking| {
        // SAFETY: the caller's buffer and length, passed on.
        unsafe {
            if nonblocking {
                real::recv(fd, buf, count, libc::MSG_DONTWAIT)
            } else {
                real::read(fd, buf, count)
            }
        }
    };
    coop::transfer_any(fd, Direction::Read, count, call, |_, _| unreachable_part())
}

#[no_mangle]
pub unsafe extern "C" fn write(fd: c_int, buf: *const c_void, count: size_t) -> ssize_t {
    if !cooperative(SOCKET) {
        // SAFETY: the caller's contract, passed on.
        return unsafe { real::write(fd, buf, count) };
    }
    let call = |nonblocking| {
        // SAFETY: the caller's buffer and length, passed on. `send` raises SIGPIPE on a
        // closed peer exactly as `write` does.
        unsafe {
            if nonblocking {
                real::send(fd, buf, count, libc::MSG_DONTWAIT)
            } else {
                real::write(fd, buf, count)
            }
        }
    };
    coop::transfer_any(fd, Direction::Write, count, call, |at, len| {
        // SAFETY: `at + len` is at most `count`: a piece of the caller's buffer.
        unsafe { real::write(fd, buf.cast::<u8>().add(at).cast(), len) }
    })
}

#[no_mangle]
pub unsafe extern "C" fn recv(fd: c_int, buf: *mut c_void, len: size_t, flags: c_int) -> ssize_t {
    if !cooperative(SOCKET) {
        // SAFETY: the caller's contract, passed on.
        return unsafe { real::recv(fd, buf, len, flags) };
    }
    let dontwait = flags & libc::MSG_DONTWAIT != 0;
    coop::transfer(fd, Direction::Read, dontwait, |nonblocking| {
        let f = if nonblocking {
            flags | libc::MSG_DONTWAIT
        } else {
            flags
        };
        // SAFETY: the caller's buffer and length, passed on.
        unsafe { real::recv(fd, buf, len, f) }
    })
}

#[no_mangle]
pub unsafe extern "C" fn recvfrom(
    fd: c_int,
    buf: *mut c_void,
    len: size_t,
    flags: c_int,
    addr: *mut sockaddr,
    addrlen: *mut socklen_t,
) -> ssize_t {
    if !cooperative(SOCKET) {
        // SAFETY: the caller's contract, passed on.
        return unsafe { real::recvfrom(fd, buf, len, flags, addr, addrlen) };
    }
    let dontwait = flags & libc::MSG_DONTWAIT != 0;
    coop::transfer(fd, Direction::Read, dontwait, |nonblocking| {
        let f = if nonblocking {
            flags | libc::MSG_DONTWAIT
        } else {
            flags
        };
        // SAFETY: the caller's buffers and lengths, passed on.
        unsafe { real::recvfrom(fd, buf, len, f, addr, addrlen) }
    })
}

#[no_mangle]
pub unsafe extern "C" fn send(fd: c_int, buf: *const c_void, len: size_t, flags: c_int) -> ssize_t {
    if !cooperative(SOCKET) {
        // SAFETY: the caller's contract, passed on.
        return unsafe { real::send(fd, buf, len, flags) };
    }
    let dontwait = flags & libc::MSG_DONTWAIT != 0;
    coop::transfer(fd, Direction::Write, dontwait, |nonblocking| {
        let f = if nonblocking {
            flags | libc::MSG_DONTWAIT
        } else {
            flags
        };
        // SAFETY: the caller's buffer and length, passed on.
        unsafe { real::send(fd, buf, len, f) }
    })
}

#[no_mangle]
pub unsafe extern "C" fn sendto(
    fd: c_int,
    buf: *const c_void,
    len: size_t,
    flags: c_int,
    addr: *const sockaddr,
    addrlen: socklen_t,
) -> ssize_t {
    if !cooperative(SOCKET) {
        // SAFETY: the caller's contract, passed on.
        return unsafe { real::sendto(fd, buf, len, flags, addr, addrlen) };
    }
    let dontwait = flags & libc::MSG_DONTWAIT != 0;
    coop::transfer(fd, Direction::Write, dontwait, |nonblocking| {
        let f = if nonblocking {
            flags | libc::MSG_DONTWAIT
        } else {
            flags
        };
        // SAFETY: the caller's buffer, address and lengths, passed on.
        unsafe { real::sendto(fd, buf, len, f, addr, addrlen) }
    })
}

#[no_mangle]
pub unsafe extern "C" fn readv(fd: c_int, iov: *const iovec, count: c_int) -> ssize_t {
    if !cooperative(SOCKET) {
        // SAFETY: the caller's contract, passed on.
        return unsafe { real::readv(fd, iov, count) };
    }
    let call = |nonblocking| {
        // SAFETY: the caller's vectors, passed on (as the message's, for recvmsg).
        unsafe {
            if nonblocking {
                let mut msg: msghdr = std::mem::zeroed();
                msg.msg_iov = iov.cast_mut();
                msg.msg_iovlen = count.max(0) as usize;
                real::recvmsg(fd, &mut msg, libc::MSG_DONTWAIT)
            } else {
                real::readv(fd, iov, count)
            }
        }
    };
    // SAFETY: the caller's `count` vectors.
    let total = unsafe { coop::iov_len(iov, count) };
    coop::transfer_any(fd, Direction::Read, total, call, |_, _| unreachable_part())
}

#[no_mangle]
pub unsafe extern "C" fn writev(fd: c_int, iov: *const iovec, count: c_int) -> ssize_t {
    if !cooperative(SOCKET) {
        // SAFETY: the caller's contract, passed on.
        return unsafe { real::writev(fd, iov, count) };
    }
    let call = |nonblocking| {
        // SAFETY: the caller's vectors, passed on (as the message's, for sendmsg, which raises
        // SIGPIPE on a closed peer as writev does).
        unsafe {
            if nonblocking {
                let mut msg: msghdr = std::mem::zeroed();
                msg.msg_iov = iov.cast_mut();
                msg.msg_iovlen = count.max(0) as usize;
                real::sendmsg(fd, &msg, libc::MSG_DONTWAIT)
            } else {
                real::writev(fd, iov, count)
            }
        }
    };
    // SAFETY: the caller's `count` vectors.
    let total = unsafe { coop::iov_len(iov, count) };
    coop::transfer_any(fd, Direction::Write, total, call, |at, len| {
        // SAFETY: the caller's `count` vectors; `at + len` is at most their total.
        let piece = unsafe { coop::iov_piece(iov, count, at, len) };
        // SAFETY: `piece` is a live buffer of `len` bytes or fewer.
        unsafe { real::write(fd, piece.as_ptr().cast(), piece.len()) }
    })
}

#[no_mangle]
pub unsafe extern "C" fn recvmsg(fd: c_int, msg: *mut msghdr, flags: c_int) -> ssize_t {
    if !cooperative(SOCKET) {
        // SAFETY: the caller's contract, passed on.
        return unsafe { real::recvmsg(fd, msg, flags) };
    }
    let dontwait = flags & libc::MSG_DONTWAIT != 0;
    coop::transfer(fd, Direction::Read, dontwait, |nonblocking| {
        let f = if nonblocking {
            flags | libc::MSG_DONTWAIT
        } else {
            flags
        };
        // SAFETY: the caller's message, passed on.
        unsafe { real::recvmsg(fd, msg, f) }
    })
}

#[no_mangle]
pub unsafe extern "C" fn sendmsg(fd: c_int, msg: *const msghdr, flags: c_int) -> ssize_t {
    if !cooperative(SOCKET) {
        // SAFETY: the caller's contract, passed on.
        return unsafe { real::sendmsg(fd, msg, flags) };
    }
    let dontwait = flags & libc::MSG_DONTWAIT != 0;
    coop::transfer(fd, Direction::Write, dontwait, |nonblocking| {
        let f = if nonblocking {
            flags | libc::MSG_DONTWAIT
        } else {
            flags
        };
        // SAFETY: the caller's message, passed on.
        unsafe { real::sendmsg(fd, msg, f) }
    })
}

#[no_mangle]
pub unsafe extern "C" fn connect(fd: c_int, addr: *const sockaddr, len: socklen_t) -> c_int {
    if !cooperative(SOCKET) {
        // SAFETY: the caller's contract, passed on.
        return unsafe { real::connect(fd, addr, len) };
    }
    // SAFETY: the caller's address and length, passed on (each retry gets the same).
    coop::connect(fd, || unsafe { real::connect(fd, addr, len) })
}

#[no_mangle]
pub unsafe extern "C" fn accept(fd: c_int, addr: *mut sockaddr, len: *mut socklen_t) -> c_int {
    if !cooperative(SOCKET) {
        // SAFETY: the caller's contract, passed on.
        return unsafe { real::accept(fd, addr, len) };
    }
    // SAFETY: the caller's address buffer and length, passed on.
    coop::accept(fd, || unsafe { real::accept(fd, addr, len) })
}

#[no_mangle]
pub unsafe extern "C" fn accept4(
    fd: c_int,
    addr: *mut sockaddr,
    len: *mut socklen_t,
    flags: c_int,
) -> c_int {
    if !cooperative(SOCKET) {
        // SAFETY: the caller's contract, passed on.
        return unsafe { real::accept4(fd, addr, len, flags) };
    }
    // SAFETY: the caller's address buffer and length, passed on.
    coop::accept(fd, || unsafe { real::accept4(fd, addr, len, flags) })
}

#[no_mangle]
pub unsafe extern "C" fn close(fd: c_int) -> c_int {
    if !enabled(SOCKET) {
        // SAFETY: the caller's contract, passed on.
        return unsafe { real::close(fd) };
    }
    // Greenlets parked on the fd wake with an error, and this hub's registration goes, while
    // the number still refers to the file; the change count moves once it no longer does.
    coop::forget(fd);
    // SAFETY: the caller's contract, passed on.
    let r = unsafe { real::close(fd) };
    coop::closed(fd);
    r
}

#[no_mangle]
pub unsafe extern "C" fn dup2(old: c_int, new: c_int) -> c_int {
    if !enabled(SOCKET) || old == new {
        // SAFETY: the caller's contract, passed on.
        return unsafe { real::dup2(old, new) };
    }
    // `new` is closed by the call if it was open.
    coop::forget(new);
    // SAFETY: the caller's contract, passed on.
    let r = unsafe { real::dup2(old, new) };
    coop::closed(new);
    r
}

#[no_mangle]
pub unsafe extern "C" fn dup3(old: c_int, new: c_int, flags: c_int) -> c_int {
    if !enabled(SOCKET) || old == new {
        // SAFETY: the caller's contract, passed on.
        return unsafe { real::dup3(old, new, flags) };
    }
    coop::forget(new);
    // SAFETY: the caller's contract, passed on.
    let r = unsafe { real::dup3(old, new, flags) };
    coop::closed(new);
    r
}

// `fcntl` and `ioctl` are variadic in C, and stable Rust cannot define a variadic function.
// These definitions take the one argument every command of theirs passes after the fixed ones
// as a third parameter: on x86_64 (System V) and aarch64 Linux a variadic call passes integer
// and pointer arguments exactly as a call of a function with those parameters declared, so
// the value arrives as the caller passed it (and, for a command without an argument, the
// register's leftover, which libc's own function ignores as well). `patch_all` refuses other
// targets.

/// `fcntl(fd, cmd, ...)`: forwarded unchanged; `F_SETFL` (which may change `O_NONBLOCK`)
/// makes the hub look the program's settings up again.
#[no_mangle]
pub unsafe extern "C" fn fcntl(fd: c_int, cmd: c_int, arg: libc::c_ulong) -> c_int {
    // SAFETY: the caller's contract, passed on.
    let r = unsafe { real::fcntl(fd, cmd, arg) };
    if cmd == libc::F_SETFL && enabled(SOCKET) {
        coop::changed(fd);
    }
    r
}

/// glibc's name for `fcntl` with 64-bit offsets, which C code built against glibc 2.28 or
/// later calls; the same function on 64-bit targets.
#[no_mangle]
pub unsafe extern "C" fn fcntl64(fd: c_int, cmd: c_int, arg: libc::c_ulong) -> c_int {
    // SAFETY: as `fcntl`.
    unsafe { fcntl(fd, cmd, arg) }
}

/// `ioctl(fd, request, ...)`: forwarded unchanged; `FIONBIO` (which sets `O_NONBLOCK`) makes
/// the hub look the program's settings up again.
#[no_mangle]
pub unsafe extern "C" fn ioctl(fd: c_int, request: libc::c_ulong, arg: libc::c_ulong) -> c_int {
    // SAFETY: the caller's contract, passed on.
    let r = unsafe { real::ioctl(fd, request, arg) };
    if request == libc::FIONBIO && enabled(SOCKET) {
        coop::changed(fd);
    }
    r
}

/// `setsockopt`: forwarded unchanged; the hub looks the socket's timeouts up again.
#[no_mangle]
pub unsafe extern "C" fn setsockopt(
    fd: c_int,
    level: c_int,
    name: c_int,
    value: *const c_void,
    len: socklen_t,
) -> c_int {
    // SAFETY: the caller's contract, passed on.
    let r = unsafe { real::setsockopt(fd, level, name, value, len) };
    if enabled(SOCKET) {
        coop::changed(fd);
    }
    r
}

#[no_mangle]
pub unsafe extern "C" fn poll(fds: *mut pollfd, nfds: nfds_t, timeout: c_int) -> c_int {
    if timeout == 0 || !cooperative(SELECT) {
        // SAFETY: the caller's contract, passed on.
        return unsafe { real::poll(fds, nfds, timeout) };
    }
    // SAFETY: the caller's array of `nfds` entries, passed on.
    unsafe { coop::poll(fds, nfds, timeout, |t| real::poll(fds, nfds, t)) }
}

#[no_mangle]
pub unsafe extern "C" fn ppoll(
    fds: *mut pollfd,
    nfds: nfds_t,
    timeout: *const timespec,
    mask: *const sigset_t,
) -> c_int {
    // SAFETY: `timeout` is null or valid for a read, as the caller promises.
    let ms = unsafe { timeout_ms(timeout) };
    if ms == 0 || !cooperative(SELECT) {
        // SAFETY: the caller's contract, passed on.
        return unsafe { real::ppoll(fds, nfds, timeout, mask) };
    }
    // SAFETY: the caller's array and signal mask, passed on; the timeout is rebuilt for what
    // is left of it.
    unsafe {
        coop::poll(fds, nfds, ms, |t| {
            let ts = ms_timespec(t);
            real::ppoll(
                fds,
                nfds,
                ts.as_ref().map_or(std::ptr::null(), |ts| ts),
                mask,
            )
        })
    }
}

#[no_mangle]
pub unsafe extern "C" fn select(
    nfds: c_int,
    read: *mut libc::fd_set,
    write: *mut libc::fd_set,
    except: *mut libc::fd_set,
    timeout: *mut libc::timeval,
) -> c_int {
    // SAFETY: `timeout` is null or valid for a read, as the caller promises.
    let limit = unsafe { timeout.as_ref() }.copied();
    let ms = match limit {
        None => -1,
        Some(tv) if tv.tv_sec < 0 || tv.tv_usec < 0 => 0, // invalid: libc's answer, below
        Some(tv) => (tv.tv_sec as u128 * 1_000 + (tv.tv_usec as u128).div_ceil(1_000))
            .min(c_int::MAX as u128) as c_int,
    };
    if ms == 0 || !cooperative(SELECT) {
        // SAFETY: the caller's contract, passed on.
        return unsafe { real::select(nfds, read, write, except, timeout) };
    }
    let started = std::time::Instant::now();
    // SAFETY: the caller's sets, passed on; each look gets a timeout of its own.
    let r = unsafe {
        coop::select(nfds, [read, write, except], ms, |t| {
            let mut tv = libc::timeval {
                tv_sec: (t.max(0) / 1000).into(),
                tv_usec: ((t.max(0) % 1000) * 1000).into(),
            };
            let tp = if t < 0 {
                std::ptr::null_mut()
            } else {
                &mut tv as *mut libc::timeval
            };
            real::select(nfds, read, write, except, tp)
        })
    };
    if let (Some(tv), false) = (limit, timeout.is_null()) {
        // Linux's select leaves the time not slept in `timeout`; so does this.
        let total = Duration::new(tv.tv_sec as u64, tv.tv_usec as u32 * 1_000);
        let left = total.saturating_sub(started.elapsed());
        // SAFETY: the caller's timeval, valid for a write.
        unsafe {
            *timeout = libc::timeval {
                tv_sec: left.as_secs() as libc::time_t,
                tv_usec: left.subsec_micros().into(),
            }
        };
    }
    r
}

/// A `timespec` timeout argument in milliseconds, rounded up: -1 for none (null), 0 for an
/// invalid one (libc's call then gives the answer).
///
/// # Safety
///
/// `timeout` is null or valid for a read.
unsafe fn timeout_ms(timeout: *const timespec) -> c_int {
    // SAFETY: the caller's promise.
    match unsafe { timeout.as_ref() }.map(duration) {
        None => -1,
        Some(Some(d)) => coop::ms(d),
        Some(None) => 0,
    }
}

/// The `timespec` for a timeout of `t` milliseconds; `None` for -1 (no limit).
fn ms_timespec(t: c_int) -> Option<timespec> {
    (t >= 0).then(|| timespec {
        tv_sec: (t / 1000).into(),
        tv_nsec: ((t % 1000) * 1_000_000).into(),
    })
}

#[no_mangle]
pub unsafe extern "C" fn pselect(
    nfds: c_int,
    read: *mut libc::fd_set,
    write: *mut libc::fd_set,
    except: *mut libc::fd_set,
    timeout: *const timespec,
    mask: *const sigset_t,
) -> c_int {
    // SAFETY: `timeout` is null or valid for a read, as the caller promises.
    let ms = unsafe { timeout_ms(timeout) };
    if ms == 0 || !cooperative(SELECT) {
        // SAFETY: the caller's contract, passed on.
        return unsafe { real::pselect(nfds, read, write, except, timeout, mask) };
    }
    // SAFETY: the caller's sets and signal mask, passed on; each look gets a timeout of its
    // own (pselect, unlike select, leaves the caller's timeout as it was).
    unsafe {
        coop::select(nfds, [read, write, except], ms, |t| {
            let ts = ms_timespec(t);
            let tp = ts.as_ref().map_or(std::ptr::null(), |ts| ts);
            real::pselect(nfds, read, write, except, tp, mask)
        })
    }
}

#[no_mangle]
pub unsafe extern "C" fn epoll_wait(
    epfd: c_int,
    events: *mut epoll_event,
    max: c_int,
    timeout: c_int,
) -> c_int {
    if timeout == 0 || !cooperative(SELECT) {
        // SAFETY: the caller's contract, passed on. (The hub's own poll comes here: the hub is
        // never cooperative.)
        return unsafe { real::epoll_wait(epfd, events, max, timeout) };
    }
    // SAFETY: the caller's event buffer of `max` entries, passed on.
    coop::epoll_wait(epfd, timeout, |t| unsafe {
        real::epoll_wait(epfd, events, max, t)
    })
}

#[no_mangle]
pub unsafe extern "C" fn epoll_pwait(
    epfd: c_int,
    events: *mut epoll_event,
    max: c_int,
    timeout: c_int,
    mask: *const sigset_t,
) -> c_int {
    if timeout == 0 || !cooperative(SELECT) {
        // SAFETY: the caller's contract, passed on.
        return unsafe { real::epoll_pwait(epfd, events, max, timeout, mask) };
    }
    // SAFETY: the caller's event buffer and signal mask, passed on.
    coop::epoll_wait(epfd, timeout, |t| unsafe {
        real::epoll_pwait(epfd, events, max, t, mask)
    })
}

#[no_mangle]
pub unsafe extern "C" fn waitpid(pid: pid_t, status: *mut c_int, options: c_int) -> pid_t {
    if pid <= 0 || options & libc::WNOHANG != 0 || !cooperative(SUBPROCESS) {
        // SAFETY: the caller's contract, passed on.
        return unsafe { real::waitpid(pid, status, options) };
    }
    coop::wait_child(pid, |nohang| {
        let o = if nohang {
            options | libc::WNOHANG
        } else {
            options
        };
        // SAFETY: the caller's status pointer, passed on.
        unsafe { real::waitpid(pid, status, o) }
    })
}

#[no_mangle]
pub unsafe extern "C" fn wait4(
    pid: pid_t,
    status: *mut c_int,
    options: c_int,
    usage: *mut libc::rusage,
) -> pid_t {
    if pid <= 0 || options & libc::WNOHANG != 0 || !cooperative(SUBPROCESS) {
        // SAFETY: the caller's contract, passed on.
        return unsafe { real::wait4(pid, status, options, usage) };
    }
    coop::wait_child(pid, |nohang| {
        let o = if nohang {
            options | libc::WNOHANG
        } else {
            options
        };
        // SAFETY: the caller's pointers, passed on.
        unsafe { real::wait4(pid, status, o, usage) }
    })
}

#[no_mangle]
pub unsafe extern "C" fn waitid(
    idtype: idtype_t,
    id: id_t,
    info: *mut siginfo_t,
    options: c_int,
) -> c_int {
    if idtype != libc::P_PID || options & libc::WNOHANG != 0 || !cooperative(SUBPROCESS) {
        // SAFETY: the caller's contract, passed on.
        return unsafe { real::waitid(idtype, id, info, options) };
    }
    // waitid with WNOHANG returns 0 whether or not the child changed state; the pid in the
    // siginfo, zeroed first, tells which.
    coop::wait_child(id as pid_t, |nohang| {
        // SAFETY: the caller's siginfo, written by waitid (zeroed first for the WNOHANG test).
        unsafe {
            if !nohang {
                return real::waitid(idtype, id, info, options);
            }
            std::ptr::write_bytes(info, 0, 1);
            match real::waitid(idtype, id, info, options | libc::WNOHANG) {
                0 if (*info).si_pid() == 0 => 0,
                0 => 1, // a state change: done (the caller gets 0, below)
                r => r,
            }
        }
    })
    .min(0)
}

/// `getaddrinfo`, run on the thread pool: the caller's pointers are carried there as
/// integers, and what they point to outlives the job (`coop::lookup` returns only once the
/// job has run).
#[no_mangle]
pub unsafe extern "C" fn getaddrinfo(
    node: *const c_char,
    service: *const c_char,
    hints: *const addrinfo,
    res: *mut *mut addrinfo,
) -> c_int {
    if !cooperative(DNS) {
        // SAFETY: the caller's contract, passed on.
        return unsafe { real::getaddrinfo(node, service, hints, res) };
    }
    let (n, s, h, r) = (
        node as usize,
        service as usize,
        hints as usize,
        res as usize,
    );
    coop::lookup(move || {
        // SAFETY: the caller's pointers, valid until `lookup` returns, after this ran.
        unsafe { real::getaddrinfo(n as _, s as _, h as _, r as _) }
    })
}

/// `gethostbyname`, run on the thread pool. Its answer lives in glibc's one static buffer
/// for the process (the function was never thread-safe), as it would have anyway; `h_errno`,
/// which is per thread, is set on the pool's thread, not the caller's: a caller learns of a
/// failure from the null result.
#[no_mangle]
pub unsafe extern "C" fn gethostbyname(name: *const c_char) -> *mut libc::hostent {
    if !cooperative(DNS) {
        // SAFETY: the caller's contract, passed on.
        return unsafe { real::gethostbyname(name) };
    }
    let n = name as usize;
    let mut answer: usize = 0;
    let slot = &mut answer as *mut usize as usize;
    coop::lookup(move || {
        // SAFETY: the caller's name and this frame's slot, valid until `lookup` returns,
        // after this ran.
        unsafe { *(slot as *mut usize) = real::gethostbyname(n as _) as usize };
        0
    });
    answer as *mut libc::hostent
}

/// `gethostbyname_r`, run on the thread pool; the caller's buffers, as `getaddrinfo`'s.
#[no_mangle]
pub unsafe extern "C" fn gethostbyname_r(
    name: *const c_char,
    ret: *mut libc::hostent,
    buf: *mut c_char,
    buflen: size_t,
    result: *mut *mut libc::hostent,
    err: *mut c_int,
) -> c_int {
    if !cooperative(DNS) {
        // SAFETY: the caller's contract, passed on.
        return unsafe { real::gethostbyname_r(name, ret, buf, buflen, result, err) };
    }
    let (n, r, b, res, e) = (
        name as usize,
        ret as usize,
        buf as usize,
        result as usize,
        err as usize,
    );
    coop::lookup(move || {
        // SAFETY: the caller's pointers, valid until `lookup` returns, after this ran.
        unsafe { real::gethostbyname_r(n as _, r as _, b as _, buflen, res as _, e as _) }
    })
}

#[no_mangle]
pub unsafe extern "C" fn getnameinfo(
    sa: *const sockaddr,
    salen: socklen_t,
    host: *mut c_char,
    hostlen: socklen_t,
    serv: *mut c_char,
    servlen: socklen_t,
    flags: c_int,
) -> c_int {
    if !cooperative(DNS) {
        // SAFETY: the caller's contract, passed on.
        return unsafe { real::getnameinfo(sa, salen, host, hostlen, serv, servlen, flags) };
    }
    let (a, h, v) = (sa as usize, host as usize, serv as usize);
    coop::lookup(move || {
        // SAFETY: the caller's pointers, valid until `lookup` returns, after this ran.
        unsafe { real::getnameinfo(a as _, salen, h as _, hostlen, v as _, servlen, flags) }
    })
}

/// A `timespec` as a duration, if it is a valid relative time.
fn duration(ts: &timespec) -> Option<Duration> {
    if ts.tv_sec < 0 || !(0..1_000_000_000).contains(&ts.tv_nsec) {
        return None;
    }
    Some(Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32))
}

/// Sets `*rem` to zero if the caller asked for the time left.
///
/// # Safety
///
/// `rem` is null or valid for a write.
unsafe fn none_left(rem: *mut timespec) {
    if !rem.is_null() {
        // SAFETY: the caller's promise.
        unsafe {
            *rem = timespec {
                tv_sec: 0,
                tv_nsec: 0,
            }
        };
    }
}

#[no_mangle]
pub unsafe extern "C" fn nanosleep(req: *const timespec, rem: *mut timespec) -> c_int {
    // SAFETY: `req` is null or valid for a read, as nanosleep's caller promises.
    let d = unsafe { req.as_ref() }.and_then(duration);
    match d {
        Some(d) if cooperative(TIME) => {
            coop::sleep(d);
            // SAFETY: the caller's promise for `rem`.
            unsafe { none_left(rem) };
            0
        }
        // Not ours, or invalid: libc gives the answer (EFAULT, EINVAL) itself.
        // SAFETY: the caller's contract, passed on.
        _ => unsafe { real::nanosleep(req, rem) },
    }
}

#[no_mangle]
pub unsafe extern "C" fn clock_nanosleep(
    clock: clockid_t,
    flags: c_int,
    req: *const timespec,
    rem: *mut timespec,
) -> c_int {
    let ours = matches!(
        clock,
        libc::CLOCK_REALTIME | libc::CLOCK_MONOTONIC | libc::CLOCK_BOOTTIME
    );
    // SAFETY: `req` is null or valid for a read, as the caller promises.
    let target = unsafe { req.as_ref() }.copied();
    let d = match target {
        Some(t) if ours && flags & libc::TIMER_ABSTIME != 0 => {
            let mut now = timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            // SAFETY: `now` is a live local; the clock is one of the three above.
            unsafe { libc::clock_gettime(clock, &mut now) };
            let left = (t.tv_sec as i128 * 1_000_000_000 + t.tv_nsec as i128)
                - (now.tv_sec as i128 * 1_000_000_000 + now.tv_nsec as i128);
            duration(&t).map(|_| Duration::from_nanos(left.clamp(0, u64::MAX as i128) as u64))
        }
        Some(t) if ours => duration(&t),
        _ => None,
    };
    match d {
        Some(d) if cooperative(TIME) => {
            coop::sleep(d);
            if flags & libc::TIMER_ABSTIME == 0 {
                // SAFETY: the caller's promise for `rem`.
                unsafe { none_left(rem) };
            }
            0
        }
        // SAFETY: the caller's contract, passed on.
        _ => unsafe { real::clock_nanosleep(clock, flags, req, rem) },
    }
}

#[no_mangle]
pub unsafe extern "C" fn sleep(secs: c_uint) -> c_uint {
    if !cooperative(TIME) {
        // SAFETY: no pointers; libc's own function.
        return unsafe { real::sleep(secs) };
    }
    coop::sleep(Duration::from_secs(secs.into()));
    0
}

#[no_mangle]
pub unsafe extern "C" fn usleep(us: useconds_t) -> c_int {
    if !cooperative(TIME) {
        // SAFETY: no pointers; libc's own function.
        return unsafe { real::usleep(us) };
    }
    coop::sleep(Duration::from_micros(us.into()));
    0
}

/// A read's `part`: [`coop::transfer_any`] only writes in pieces.
fn unreachable_part() -> ssize_t {
    unreachable!("reads are made whole")
}

/// The hooks' addresses: taking them keeps every hook in the linked program wherever
/// `patch_all` is (the linker may otherwise leave out a part of the crate nothing names).
pub(super) fn addresses() -> [usize; 37] {
    [
        pselect as *const () as usize,
        read as *const () as usize,
        write as *const () as usize,
        recv as *const () as usize,
        recvfrom as *const () as usize,
        send as *const () as usize,
        sendto as *const () as usize,
        connect as *const () as usize,
        accept as *const () as usize,
        accept4 as *const () as usize,
        close as *const () as usize,
        dup2 as *const () as usize,
        dup3 as *const () as usize,
        readv as *const () as usize,
        writev as *const () as usize,
        recvmsg as *const () as usize,
        sendmsg as *const () as usize,
        ppoll as *const () as usize,
        select as *const () as usize,
        epoll_wait as *const () as usize,
        epoll_pwait as *const () as usize,
        waitpid as *const () as usize,
        wait4 as *const () as usize,
        waitid as *const () as usize,
        getaddrinfo as *const () as usize,
        getnameinfo as *const () as usize,
        gethostbyname as *const () as usize,
        gethostbyname_r as *const () as usize,
        fcntl as *const () as usize,
        fcntl64 as *const () as usize,
        ioctl as *const () as usize,
        setsockopt as *const () as usize,
        poll as *const () as usize,
        nanosleep as *const () as usize,
        clock_nanosleep as *const () as usize,
        sleep as *const () as usize,
        usleep as *const () as usize,
    ]
}
