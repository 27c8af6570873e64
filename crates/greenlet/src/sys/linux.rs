//! Linux: `mmap` reservations, guard pages by `MADV_GUARD_INSTALL` (Linux 6.13+) or `mprotect`,
//! and the SIGSEGV handler on an alternate signal stack that reports stack overflows.

use std::io;
use std::ptr;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::OnceLock;

/// `madvise` advice that installs guard markers in page-table entries (Linux 6.13). Unlike
/// `mprotect(PROT_NONE)` it does not split the mapping, so a million guarded stacks fit in a few
/// hundred mappings instead of two million. Not in the `libc` crate yet.
const MADV_GUARD_INSTALL: libc::c_int = 102;

const GUARD_UNKNOWN: u8 = 0;
const GUARD_MADVISE: u8 = 1;
const GUARD_MPROTECT: u8 = 2;
static GUARD_MODE: AtomicU8 = AtomicU8::new(GUARD_UNKNOWN);

pub(crate) fn page_size() -> usize {
    static PAGE: AtomicUsize = AtomicUsize::new(0);
    match PAGE.load(Ordering::Relaxed) {
        0 => {
            // SAFETY: sysconf has no preconditions.
            let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
            let p = if p > 0 { p as usize } else { 4096 };
            PAGE.store(p, Ordering::Relaxed);
            p
        }
        p => p,
    }
}

/// How guard pages are made on this machine (after the first guard was installed).
pub(crate) fn guard_kind() -> &'static str {
    match GUARD_MODE.load(Ordering::Relaxed) {
        GUARD_MADVISE => "madvise(MADV_GUARD_INSTALL)",
        GUARD_MPROTECT => "mprotect(PROT_NONE)",
        _ => "none installed yet",
    }
}

fn read_sysctl(name: &str) -> String {
    std::fs::read_to_string(format!("/proc/sys/{}", name.replace('.', "/")))
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".into())
}

/// Reserves `bytes` of address space for stacks. Pages cost memory only once touched.
pub(crate) fn reserve(bytes: usize) -> io::Result<usize> {
    // SAFETY: an anonymous private mapping at an address the kernel picks aliases nothing.
    let addr = unsafe {
        libc::mmap(
            ptr::null_mut(),
            bytes,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE | libc::MAP_STACK,
            -1,
            0,
        )
    };
    if addr == libc::MAP_FAILED {
        let err = io::Error::last_os_error();
        return Err(io::Error::new(
            io::ErrorKind::OutOfMemory,
            format!(
                "greenlet: the kernel refused to reserve {} MiB of address space for greenlet \
                 stacks ({err}). The address-space limit (`ulimit -v`, RLIMIT_AS) or the \
                 overcommit policy (vm.overcommit_memory = {}) is too tight: raise `ulimit -v`, \
                 set vm.overcommit_memory to 0, or use smaller stacks \
                 (greenlet::Builder::stack_size, greenlet::set_default_stack_size)",
                bytes >> 20,
                read_sysctl("vm.overcommit_memory"),
            ),
        ));
    }
    // A transparent huge page would turn one touched stack page into 2 MiB of RSS.
    // SAFETY: the range is the mapping just made; the advice only affects page size.
    unsafe { libc::madvise(addr, bytes, libc::MADV_NOHUGEPAGE) };
    Ok(addr as usize)
}

/// Makes `[addr, addr + len)` fault on access. `addr` and `len` are page-aligned and lie inside
/// a reservation made by [`reserve`].
///
/// `GREENLET_STACK_GUARD=mprotect` in the environment forces the fallback used on kernels before
/// 6.13, to test how a program behaves there.
pub(crate) fn install_guard(addr: usize, len: usize) -> io::Result<()> {
    if GUARD_MODE.load(Ordering::Relaxed) == GUARD_UNKNOWN
        && std::env::var_os("GREENLET_STACK_GUARD").is_some_and(|v| v == "mprotect")
    {
        GUARD_MODE.store(GUARD_MPROTECT, Ordering::Relaxed);
    }
    if GUARD_MODE.load(Ordering::Relaxed) != GUARD_MPROTECT {
        // SAFETY: the range lies in our own reservation and holds no live data.
        let r = unsafe { libc::madvise(addr as *mut libc::c_void, len, MADV_GUARD_INSTALL) };
        if r == 0 {
            GUARD_MODE.store(GUARD_MADVISE, Ordering::Relaxed);
            return Ok(());
        }
        let err = io::Error::last_os_error();
        match err.raw_os_error() {
            // Kernels before 6.13 do not know the advice: fall back for good.
            Some(libc::EINVAL) => GUARD_MODE.store(GUARD_MPROTECT, Ordering::Relaxed),
            Some(libc::EINTR) | Some(libc::EAGAIN) => return install_guard(addr, len),
            _ => return Err(guard_error(err)),
        }
    }
    // SAFETY: as above; PROT_NONE on pages of our own reservation.
    let r = unsafe { libc::mprotect(addr as *mut libc::c_void, len, libc::PROT_NONE) };
    if r == 0 {
        Ok(())
    } else {
        Err(guard_error(io::Error::last_os_error()))
    }
}

fn guard_error(err: io::Error) -> io::Error {
    if err.raw_os_error() == Some(libc::ENOMEM) {
        io::Error::new(
            io::ErrorKind::OutOfMemory,
            format!(
                "greenlet: the kernel refused a guard page for a new greenlet stack ({err}). \
                 This kernel has no MADV_GUARD_INSTALL (Linux 6.13+), so each guard page splits \
                 a mapping, and the process reached vm.max_map_count (now {}): raise it with \
                 `sysctl -w vm.max_map_count=2097152`, or run on Linux 6.13 or later",
                read_sysctl("vm.max_map_count"),
            ),
        )
    } else {
        io::Error::new(
            err.kind(),
            format!("greenlet: installing a stack guard page failed: {err}"),
        )
    }
}

/// Gives the pages of `[addr, addr + len)` back to the kernel; they read as zero afterwards.
pub(crate) fn release_memory(addr: usize, len: usize) {
    // SAFETY: the range is an unused stack of our own reservation; dropping its contents is the
    // point. Guard markers survive MADV_DONTNEED, and the range excludes the guard anyway.
    unsafe { libc::madvise(addr as *mut libc::c_void, len, libc::MADV_DONTNEED) };
}

/// Writes `msg` to stderr with `write(2)` only: usable from a signal handler.
pub(crate) fn write_stderr(msg: &[u8]) {
    let mut rest = msg;
    while !rest.is_empty() {
        // SAFETY: writing from a valid buffer of the given length.
        let n = unsafe { libc::write(2, rest.as_ptr().cast(), rest.len()) };
        if n <= 0 {
            if n < 0 && io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            return;
        }
        rest = &rest[n as usize..];
    }
}

/// Calls `prev`, a signal disposition that was in force before ours, as the kernel would
/// have called it; false (and nothing called) for `SIG_DFL` and `SIG_IGN`, whose effect the
/// caller decides. For signal handlers only, with the arguments the kernel gave them.
pub(crate) fn chain(
    prev: &libc::sigaction,
    sig: libc::c_int,
    info: *mut libc::siginfo_t,
    ctx: *mut libc::c_void,
) -> bool {
    if prev.sa_sigaction == libc::SIG_DFL || prev.sa_sigaction == libc::SIG_IGN {
        return false;
    }
    if prev.sa_flags & libc::SA_SIGINFO != 0 {
        // SAFETY: with SA_SIGINFO the previous handler has this signature.
        let h: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
            unsafe { std::mem::transmute(prev.sa_sigaction) };
        h(sig, info, ctx);
    } else {
        // SAFETY: without SA_SIGINFO the previous handler takes the signal only.
        let h: extern "C" fn(libc::c_int) = unsafe { std::mem::transmute(prev.sa_sigaction) };
        h(sig);
    }
    true
}

/// The SIGSEGV disposition in force before ours, to chain to for faults that are not ours.
static PREVIOUS: OnceLock<libc::sigaction> = OnceLock::new();

/// Installs the process-wide SIGSEGV handler, once. `classify` is called with the faulting
/// address from inside the handler; it either reports and aborts, or returns to let the
/// previous disposition handle the fault.
pub(crate) fn install_overflow_handler(classify: fn(usize)) {
    static CLASSIFY: AtomicUsize = AtomicUsize::new(0);
    static ONCE: std::sync::Once = std::sync::Once::new();

    extern "C" fn on_segv(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
        // SAFETY: the kernel passes a valid siginfo for SA_SIGINFO handlers.
        let addr = unsafe { (*info).si_addr() } as usize;
        let f = CLASSIFY.load(Ordering::Relaxed);
        if f != 0 {
            // SAFETY: CLASSIFY only ever holds a `fn(usize)` stored below.
            let classify: fn(usize) = unsafe { std::mem::transmute::<usize, fn(usize)>(f) };
            classify(addr);
        }
        // Not a greenlet overflow: behave as if we were never installed.
        match PREVIOUS.get() {
            Some(prev) if chain(prev, sig, info, ctx) => {}
            _ => {
                // Restore the default action; returning re-executes the faulting instruction,
                // which now kills the process with SIGSEGV as it would have without us.
                // SAFETY: a zeroed sigaction is SIG_DFL with an empty mask.
                unsafe {
                    let mut dfl: libc::sigaction = std::mem::zeroed();
                    dfl.sa_sigaction = libc::SIG_DFL;
                    libc::sigaction(sig, &dfl, ptr::null_mut());
                }
            }
        }
    }

    CLASSIFY.store(classify as usize, Ordering::Relaxed);
    ONCE.call_once(|| {
        // SAFETY: sigaction with valid pointers; the handler is async-signal-safe (atomics,
        // write(2), abort) and runs on the alternate stack each greenlet thread gets.
        unsafe {
            let mut old: libc::sigaction = std::mem::zeroed();
            let mut new: libc::sigaction = std::mem::zeroed();
            new.sa_sigaction = on_segv as *const () as usize;
            new.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
            libc::sigemptyset(&mut new.sa_mask);
            if libc::sigaction(libc::SIGSEGV, ptr::null(), &mut old) == 0 {
                let _ = PREVIOUS.set(old);
                libc::sigaction(libc::SIGSEGV, &new, ptr::null_mut());
            }
        }
    });
}

/// An alternate signal stack this thread installed itself, unmapped when the thread ends.
pub(crate) struct AltStack {
    addr: usize,
    len: usize,
}

/// Makes sure the calling thread has an alternate signal stack, without which an overflow
/// report cannot run (the faulting stack has no room left). Threads started by `std` have one;
/// threads started by C code may not. Returns the stack we installed, if we had to.
pub(crate) fn ensure_altstack() -> Option<AltStack> {
    // SAFETY: querying the current alternate stack into a zeroed struct.
    unsafe {
        let mut cur: libc::stack_t = std::mem::zeroed();
        if libc::sigaltstack(ptr::null(), &mut cur) != 0 || cur.ss_flags & libc::SS_DISABLE == 0 {
            return None;
        }
        let len = (libc::SIGSTKSZ.max(64 * 1024) + page_size() - 1) & !(page_size() - 1);
        let addr = reserve(len).ok()?;
        let st = libc::stack_t {
            ss_sp: addr as *mut libc::c_void,
            ss_flags: 0,
            ss_size: len,
        };
        if libc::sigaltstack(&st, ptr::null_mut()) != 0 {
            libc::munmap(addr as *mut libc::c_void, len);
            return None;
        }
        Some(AltStack { addr, len })
    }
}

impl Drop for AltStack {
    fn drop(&mut self) {
        // SAFETY: disable the alternate stack before unmapping it; it was ours, and no signal
        // handler runs on it now (we are running on the thread's normal stack).
        unsafe {
            let off = libc::stack_t {
                ss_sp: ptr::null_mut(),
                ss_flags: libc::SS_DISABLE,
                ss_size: 0,
            };
            libc::sigaltstack(&off, ptr::null_mut());
            libc::munmap(self.addr as *mut libc::c_void, self.len);
        }
    }
}
