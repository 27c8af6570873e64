//! The real libc functions behind the interposed ones.
//!
//! Each is looked up once with `dlsym(RTLD_NEXT, name)`: the next definition after the one in
//! this program, which is glibc's. The address is cached in an atomic, so a call through it
//! costs a load and an indirect call. The lookup runs wherever the first call happens (before
//! `main`, on a thread greenwood never saw); `dlsym` does not call any function interposed
//! here. Where `dlsym` finds nothing (a static build, where there is no dynamic linker to ask),
//! the call is made as the system call the libc function wraps, so a program built with the
//! feature still works, unpatched; `patch_all` refuses to patch it.

use std::ffi::CStr;
use std::sync::atomic::{AtomicUsize, Ordering};

use libc::{addrinfo, c_char, epoll_event, id_t, idtype_t, iovec, msghdr, pid_t, siginfo_t};
use libc::{c_int, c_uint, c_void, clockid_t, nfds_t, pollfd, size_t, sockaddr, socklen_t};
use libc::{sigset_t, ssize_t, timespec, useconds_t};

/// A libc function found by name.
pub(super) struct Real {
    name: &'static CStr,
    addr: AtomicUsize,
}

impl Real {
    const fn new(name: &'static CStr) -> Real {
        Real {
            name,
            addr: AtomicUsize::new(0),
        }
    }

    /// The function's address, 0 if the dynamic linker has none.
    #[inline]
    fn addr(&self) -> usize {
        match self.addr.load(Ordering::Acquire) {
            0 => self.resolve(),
            a => a,
        }
    }

    #[cold]
    fn resolve(&self) -> usize {
        // SAFETY: `name` is NUL-terminated; RTLD_NEXT asks for the definition after this
        // object's, which is what forwarding needs. dlsym is thread-safe.
        let a = unsafe { libc::dlsym(libc::RTLD_NEXT, self.name.as_ptr()) } as usize;
        if a != 0 {
            self.addr.store(a, Ordering::Release);
        }
        a
    }
}

/// Declares a forwarding function per libc function: `name(args) -> ret` through `dlsym`,
/// else `fallback` (the system call it wraps).
macro_rules! real {
    ($( $name:ident ( $($arg:ident : $ty:ty),* ) -> $ret:ty, $fallback:expr; )*) => {
        /// Every forwarded function, by name, for [`resolve_all`].
        static ALL: &[&Real] = &[$( &$name::REAL ),*];

        $(
            #[allow(non_snake_case)]
            mod $name {
                pub(in crate::monkey) static REAL: super::Real =
                    super::Real::new(match std::ffi::CStr::from_bytes_with_nul(
                        concat!(stringify!($name), "\0").as_bytes(),
                    ) {
                        Ok(c) => c,
                        Err(_) => panic!("a function name with a NUL in it"),
                    });
            }

            /// Calls libc's own function of this name.
            ///
            /// # Safety
            ///
            /// The contract of the libc function: pointers valid for what it reads and writes.
            #[inline]
            pub(super) unsafe fn $name($($arg: $ty),*) -> $ret {
                match $name::REAL.addr() {
                    0 => $fallback,
                    a => {
                        // SAFETY: `a` is the address glibc's dynamic linker gave for this name,
                        // whose C signature is the one declared here (as in the libc crate).
                        let f: unsafe extern "C" fn($($ty),*) -> $ret =
                            unsafe { std::mem::transmute::<usize, _>(a) };
                        // SAFETY: the caller keeps the function's contract.
                        unsafe { f($($arg),*) }
                    }
                }
            }
        )*
    };
}

// SAFETY (the fallbacks): each is the system call the glibc function wraps, with the same
// arguments; `libc::syscall` sets errno as the wrapper would.
real! {
    read(fd: c_int, buf: *mut c_void, count: size_t) -> ssize_t,
        unsafe { libc::syscall(libc::SYS_read, fd, buf, count) as ssize_t };
    write(fd: c_int, buf: *const c_void, count: size_t) -> ssize_t,
        unsafe { libc::syscall(libc::SYS_write, fd, buf, count) as ssize_t };
    recv(fd: c_int, buf: *mut c_void, len: size_t, flags: c_int) -> ssize_t,
        unsafe { libc::syscall(libc::SYS_recvfrom, fd, buf, len, flags, 0usize, 0usize) as ssize_t };
    recvfrom(fd: c_int, buf: *mut c_void, len: size_t, flags: c_int, addr: *mut sockaddr,
             addrlen: *mut socklen_t) -> ssize_t,
        unsafe { libc::syscall(libc::SYS_recvfrom, fd, buf, len, flags, addr, addrlen) as ssize_t };
    send(fd: c_int, buf: *const c_void, len: size_t, flags: c_int) -> ssize_t,
        unsafe { libc::syscall(libc::SYS_sendto, fd, buf, len, flags, 0usize, 0usize) as ssize_t };
    sendto(fd: c_int, buf: *const c_void, len: size_t, flags: c_int, addr: *const sockaddr,
           addrlen: socklen_t) -> ssize_t,
        unsafe { libc::syscall(libc::SYS_sendto, fd, buf, len, flags, addr, addrlen) as ssize_t };
    connect(fd: c_int, addr: *const sockaddr, len: socklen_t) -> c_int,
        unsafe { libc::syscall(libc::SYS_connect, fd, addr, len) as c_int };
    accept(fd: c_int, addr: *mut sockaddr, len: *mut socklen_t) -> c_int,
        unsafe { libc::syscall(libc::SYS_accept, fd, addr, len) as c_int };
    accept4(fd: c_int, addr: *mut sockaddr, len: *mut socklen_t, flags: c_int) -> c_int,
        unsafe { libc::syscall(libc::SYS_accept4, fd, addr, len, flags) as c_int };
    readv(fd: c_int, iov: *const iovec, count: c_int) -> ssize_t,
        unsafe { libc::syscall(libc::SYS_readv, fd, iov, count) as ssize_t };
    writev(fd: c_int, iov: *const iovec, count: c_int) -> ssize_t,
        unsafe { libc::syscall(libc::SYS_writev, fd, iov, count) as ssize_t };
    recvmsg(fd: c_int, msg: *mut msghdr, flags: c_int) -> ssize_t,
        unsafe { libc::syscall(libc::SYS_recvmsg, fd, msg, flags) as ssize_t };
    sendmsg(fd: c_int, msg: *const msghdr, flags: c_int) -> ssize_t,
        unsafe { libc::syscall(libc::SYS_sendmsg, fd, msg, flags) as ssize_t };
    epoll_wait(epfd: c_int, events: *mut epoll_event, max: c_int, timeout: c_int) -> c_int,
        unsafe { libc::syscall(libc::SYS_epoll_wait, epfd, events, max, timeout) as c_int };
    epoll_pwait(epfd: c_int, events: *mut epoll_event, max: c_int, timeout: c_int,
                mask: *const sigset_t) -> c_int,
        unsafe {
            libc::syscall(libc::SYS_epoll_pwait, epfd, events, max, timeout, mask, 8usize)
                as c_int
        };
    select(nfds: c_int, read: *mut libc::fd_set, write: *mut libc::fd_set,
           except: *mut libc::fd_set, timeout: *mut libc::timeval) -> c_int,
        unsafe { libc::syscall(libc::SYS_select, nfds, read, write, except, timeout) as c_int };
    pselect(nfds: c_int, read: *mut libc::fd_set, write: *mut libc::fd_set,
            except: *mut libc::fd_set, timeout: *const timespec, mask: *const sigset_t) -> c_int,
        pselect_fallback(nfds, read, write, except, timeout, mask);
    ppoll(fds: *mut pollfd, nfds: nfds_t, timeout: *const timespec, mask: *const sigset_t)
        -> c_int,
        unsafe { libc::syscall(libc::SYS_ppoll, fds, nfds, timeout, mask, 8usize) as c_int };
    waitpid(pid: pid_t, status: *mut c_int, options: c_int) -> pid_t,
        unsafe { libc::syscall(libc::SYS_wait4, pid, status, options, 0usize) as pid_t };
    wait4(pid: pid_t, status: *mut c_int, options: c_int, usage: *mut libc::rusage) -> pid_t,
        unsafe { libc::syscall(libc::SYS_wait4, pid, status, options, usage) as pid_t };
    waitid(idtype: idtype_t, id: id_t, info: *mut siginfo_t, options: c_int) -> c_int,
        unsafe { libc::syscall(libc::SYS_waitid, idtype, id, info, options, 0usize) as c_int };
    // No system call to fall back on: without a dynamic linker the lookup cannot be made
    // (and `patch_all` refuses such a program anyway).
    getaddrinfo(node: *const c_char, service: *const c_char, hints: *const addrinfo,
                res: *mut *mut addrinfo) -> c_int, libc::EAI_SYSTEM;
    getnameinfo(sa: *const sockaddr, salen: socklen_t, host: *mut c_char, hostlen: socklen_t,
                serv: *mut c_char, servlen: socklen_t, flags: c_int) -> c_int, libc::EAI_SYSTEM;
    gethostbyname(name: *const c_char) -> *mut libc::hostent, std::ptr::null_mut();
    gethostbyname_r(name: *const c_char, ret: *mut libc::hostent, buf: *mut c_char,
                    buflen: size_t, result: *mut *mut libc::hostent, err: *mut c_int) -> c_int,
        libc::ENOENT;
    close(fd: c_int) -> c_int,
        unsafe { libc::syscall(libc::SYS_close, fd) as c_int };
    dup2(old: c_int, new: c_int) -> c_int,
        unsafe { libc::syscall(libc::SYS_dup2, old, new) as c_int };
    dup3(old: c_int, new: c_int, flags: c_int) -> c_int,
        unsafe { libc::syscall(libc::SYS_dup3, old, new, flags) as c_int };
    poll(fds: *mut pollfd, nfds: nfds_t, timeout: c_int) -> c_int,
        unsafe { libc::syscall(libc::SYS_poll, fds, nfds, timeout) as c_int };
    nanosleep(req: *const timespec, rem: *mut timespec) -> c_int,
        unsafe { libc::syscall(libc::SYS_nanosleep, req, rem) as c_int };
    clock_nanosleep(clock: clockid_t, flags: c_int, req: *const timespec, rem: *mut timespec)
        -> c_int,
        // The wrapper returns the error number instead of setting errno.
        match unsafe { libc::syscall(libc::SYS_clock_nanosleep, clock, flags, req, rem) } {
            0 => 0,
            _ => super::errno(),
        };
    setsockopt(fd: c_int, level: c_int, name: c_int, value: *const c_void, len: socklen_t)
        -> c_int,
        unsafe { libc::syscall(libc::SYS_setsockopt, fd, level, name, value, len) as c_int };
    sleep(secs: c_uint) -> c_uint, sleep_fallback(secs);
    usleep(us: useconds_t) -> c_int, usleep_fallback(us);
}

/// C's variadic `int f(int, T, ...)` (`fcntl`, `ioctl`), called with one argument after the
/// fixed ones, as every command they take is.
type Variadic<T> = unsafe extern "C" fn(c_int, T, ...) -> c_int;

static FCNTL: Real = Real::new(c"fcntl");
static IOCTL: Real = Real::new(c"ioctl");

/// Calls libc's `fcntl(fd, cmd, arg)`.
///
/// # Safety
///
/// `arg` is what `cmd` expects (a pointer valid for it, or any value for commands without).
pub(super) unsafe fn fcntl(fd: c_int, cmd: c_int, arg: libc::c_ulong) -> c_int {
    match FCNTL.addr() {
        // SAFETY: the system call glibc's fcntl makes, with the same arguments.
        0 => unsafe { libc::syscall(libc::SYS_fcntl, fd, cmd, arg) as c_int },
        a => {
            // SAFETY: glibc's `fcntl`, declared `int fcntl(int, int, ...)`.
            let f: Variadic<c_int> = unsafe { std::mem::transmute::<usize, Variadic<c_int>>(a) };
            // SAFETY: the caller's promise about `arg`.
            unsafe { f(fd, cmd, arg) }
        }
    }
}

/// Calls libc's `ioctl(fd, request, arg)`.
///
/// # Safety
///
/// `arg` is what `request` expects.
pub(super) unsafe fn ioctl(fd: c_int, request: libc::c_ulong, arg: libc::c_ulong) -> c_int {
    match IOCTL.addr() {
        // SAFETY: the system call glibc's ioctl makes, with the same arguments.
        0 => unsafe { libc::syscall(libc::SYS_ioctl, fd, request, arg) as c_int },
        a => {
            // SAFETY: glibc's `ioctl`, declared `int ioctl(int, unsigned long, ...)`.
            let f: Variadic<libc::c_ulong> =
                unsafe { std::mem::transmute::<usize, Variadic<libc::c_ulong>>(a) };
            // SAFETY: the caller's promise about `arg`.
            unsafe { f(fd, request, arg) }
        }
    }
}

/// `sleep(3)` from `nanosleep(2)`: the seconds left unslept.
/// `pselect` as the system call: the kernel's `pselect6` writes what is left into its
/// timeout and takes the mask with its size, where `pselect` does neither.
///
/// # Safety
///
/// `pselect`'s contract.
unsafe fn pselect_fallback(
    nfds: c_int,
    read: *mut libc::fd_set,
    write: *mut libc::fd_set,
    except: *mut libc::fd_set,
    timeout: *const timespec,
    mask: *const sigset_t,
) -> c_int {
    // SAFETY: `timeout` is null or valid for a read, as the caller promises.
    let mut left = unsafe { timeout.as_ref() }.copied();
    let tp = left
        .as_mut()
        .map_or(std::ptr::null_mut(), |t| t as *mut timespec);
    let data: [usize; 2] = [mask as usize, 8];
    // SAFETY: the caller's sets; a copy of its timeout; the mask and its size, as pselect6
    // takes them.
    unsafe { libc::syscall(libc::SYS_pselect6, nfds, read, write, except, tp, &data) as c_int }
}

fn sleep_fallback(secs: c_uint) -> c_uint {
    let req = timespec {
        tv_sec: secs.into(),
        tv_nsec: 0,
    };
    let mut rem = timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: both pointers are to live locals.
    match unsafe { libc::syscall(libc::SYS_nanosleep, &req, &mut rem) } {
        0 => 0,
        _ => rem.tv_sec as c_uint + c_uint::from(rem.tv_nsec > 0),
    }
}

/// `usleep(3)` from `nanosleep(2)`.
fn usleep_fallback(us: useconds_t) -> c_int {
    let req = timespec {
        tv_sec: (us / 1_000_000).into(),
        tv_nsec: ((us % 1_000_000) * 1_000).into(),
    };
    // SAFETY: `req` is a live local; no remainder is asked for.
    unsafe { libc::syscall(libc::SYS_nanosleep, &req, std::ptr::null_mut::<timespec>()) as c_int }
}

/// Looks every forwarded function up now; the name of the first the dynamic linker does not
/// know, if any (a static build has no dynamic linker to ask).
pub(super) fn resolve_all() -> Result<(), &'static str> {
    for r in ALL.iter().copied().chain([&FCNTL, &IOCTL]) {
        if r.addr() == 0 {
            return Err(r.name.to_str().unwrap_or("?"));
        }
    }
    Ok(())
}
