//! Where another thread is now: the return addresses on a thread's stack, captured from a
//! second thread, for monitors that catch a thread that does not let go (greenwood's monitor
//! names the greenlet that holds its hub's loop, and shows this).
//!
//! The capturing thread sends the target a signal (`SIGURG`, which Go uses for the same
//! purpose and which is ignored by default), whose handler walks the interrupted stack with
//! the unwinder (`backtrace::trace_unsynchronized`, as sampling profilers do) into a static
//! buffer of atomics, with the id, name and site of the greenlet it interrupted, and the capturing thread
//! waits for it, at most a timeout. Symbolizing
//! the addresses is the caller's business, on its own thread, where it may allocate.
//!
//! ```
//! let me = greenlet::getcurrent().id();
//! let target = greenlet::sample::Thread::current();
//! let handle = std::thread::spawn(move || target.sample(std::time::Duration::from_secs(1)));
//! // This thread is busy joining meanwhile; its stack is captured there.
//! let sample = handle.join().unwrap().expect("the thread answered");
//! assert!(!sample.frames.is_empty());
//! assert_eq!(sample.greenlet, Some(me)); // the greenlet it interrupted
//! ```
//!
//! # What the handler does, and why it is safe enough
//!
//! The handler runs on the interrupted stack (a greenlet's, usually), reads its own thread id
//! and the request (atomics), and, when the request is for it, calls the unwinder and stores
//! the addresses it finds (atomics), then copies the interrupted greenlet's id, site and name
//! (fields that never change after the greenlet is made, of a greenlet alive while it runs)
//! into more atomics. It allocates nothing. The unwinder takes no lock that the interrupted code could
//! hold on current glibc (it finds unwind tables with `_dl_find_object`, lock-free since glibc
//! 2.35; older ones take the loader's lock, which a thread interrupted inside `dlopen` holds:
//! there the capture times out, and the interrupted thread stays blocked in the handler).
//! A signal for another thread, or one the program sends itself, goes to the handler that was
//! installed before ours, if any. A greenlet within a few KiB of the end of its stack can
//! overflow in the handler: that is reported as any overflow is. Like any signal, the capture
//! interrupts the system call the thread is in: the handler is installed with `SA_RESTART`,
//! and the calls that are never restarted (`poll`, `epoll_wait`, sleeps) return `EINTR`,
//! which code that blocks in them already has to retry.

use std::panic::Location;
use std::sync::atomic::{
    AtomicBool, AtomicI32, AtomicPtr, AtomicU64, AtomicU8, AtomicUsize, Ordering,
};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

/// The most frames one capture keeps.
pub const MAX_FRAMES: usize = 64;

/// The most bytes of the greenlet's name one capture keeps.
pub const MAX_NAME: usize = 128;

/// What a capture found.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Sample {
    /// Return addresses, innermost first, starting in the capture's own signal handler
    /// (callers skip those frames by name).
    pub frames: Vec<usize>,
    /// The id of the greenlet that was running (see [`Greenlet::id`](crate::Greenlet::id));
    /// `None` if the thread had no greenlet state.
    pub greenlet: Option<u64>,
    /// That greenlet's name (its first [`MAX_NAME`] bytes), if it has one.
    pub name: Option<String>,
    /// Where that greenlet was made ([`Greenlet::site`](crate::Greenlet::site)), if its
    /// builder was told.
    pub site: Option<&'static Location<'static>>,
}

/// A thread that can be captured: made on the thread itself, then handed to another.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Thread {
    /// The kernel's id of the thread.
    tid: i32,
}

/// The request being answered: whose stack, whether it is done, what was found.
struct Request {
    tid: AtomicI32,
    done: AtomicBool,
    greenlet: AtomicU64,
    /// The greenlet's site (null: none).
    site: AtomicPtr<Location<'static>>,
    /// The length of the name copied (`usize::MAX`: no name).
    name_len: AtomicUsize,
    name: [AtomicU8; MAX_NAME],
    len: AtomicUsize,
    frames: [AtomicUsize; MAX_FRAMES],
}

static REQUEST: Request = Request {
    tid: AtomicI32::new(0),
    done: AtomicBool::new(false),
    greenlet: AtomicU64::new(0),
    site: AtomicPtr::new(std::ptr::null_mut()),
    name_len: AtomicUsize::new(usize::MAX),
    name: [const { AtomicU8::new(0) }; MAX_NAME],
    len: AtomicUsize::new(0),
    frames: [const { AtomicUsize::new(0) }; MAX_FRAMES],
};

/// One capture at a time.
static CAPTURING: Mutex<()> = Mutex::new(());

/// The SIGURG disposition before ours (installed once, on the first capture).
static PREVIOUS: OnceLock<Option<libc::sigaction>> = OnceLock::new();

/// The calling thread's kernel id.
fn gettid() -> i32 {
    // SAFETY: gettid takes no arguments and cannot fail.
    unsafe { libc::syscall(libc::SYS_gettid) as i32 }
}

impl Thread {
    /// The calling thread.
    pub fn current() -> Thread {
        Thread { tid: gettid() }
    }

    /// Where this thread is now: the return addresses on its stack and the greenlet it runs;
    /// `None` if the thread did not answer within `timeout` (it has exited, blocks the
    /// signal, or is stuck where the unwinder cannot run) or the signal could not be sent.
    pub fn sample(&self, timeout: Duration) -> Option<Sample> {
        if self.tid == gettid() {
            let running = crate::greenlet::with_running(|id, site, name| {
                (id, site, name.map(|n| truncated(n).to_owned()))
            });
            return Some(Sample {
                frames: local(),
                greenlet: running.as_ref().map(|r| r.0),
                site: running.as_ref().and_then(|r| r.1),
                name: running.and_then(|r| r.2),
            });
        }
        let _one = CAPTURING.lock().unwrap_or_else(PoisonError::into_inner);
        install();
        REQUEST.done.store(false, Ordering::SeqCst);
        REQUEST.len.store(0, Ordering::SeqCst);
        REQUEST.tid.store(self.tid, Ordering::SeqCst);
        // SAFETY: tgkill sends a signal to a thread of this process (`getpid`); a thread that
        // has exited gives ESRCH, and a reused id reaches a thread of ours, whose handler
        // sees the request is for its id and answers with its own stack.
        let sent =
            unsafe { libc::syscall(libc::SYS_tgkill, libc::getpid(), self.tid, libc::SIGURG) };
        let answered = sent == 0 && {
            let deadline = Instant::now() + timeout;
            loop {
                if REQUEST.done.load(Ordering::SeqCst) {
                    break true;
                }
                if Instant::now() >= deadline {
                    break false;
                }
                std::thread::sleep(Duration::from_micros(200));
            }
        };
        // A handler that starts from now on finds no request for it.
        REQUEST.tid.store(0, Ordering::SeqCst);
        if !answered {
            return None;
        }
        let n = REQUEST.len.load(Ordering::SeqCst).min(MAX_FRAMES);
        let greenlet = REQUEST.greenlet.load(Ordering::SeqCst);
        let site = REQUEST.site.load(Ordering::SeqCst);
        let name = match REQUEST.name_len.load(Ordering::SeqCst) {
            usize::MAX => None,
            len => {
                let bytes: Vec<u8> = REQUEST.name[..len.min(MAX_NAME)]
                    .iter()
                    .map(|b| b.load(Ordering::Relaxed))
                    .collect();
                Some(String::from_utf8_lossy(&bytes).into_owned())
            }
        };
        Some(Sample {
            frames: REQUEST.frames[..n]
                .iter()
                .map(|f| f.load(Ordering::Relaxed))
                .collect(),
            greenlet: (greenlet != 0).then_some(greenlet),
            name,
            // SAFETY: the handler stores either null or the address of the running greenlet's
            // site, a `&'static Location` (see `on_sample`), so a non-null pointer is one.
            site: unsafe { site.as_ref() },
        })
    }
}

/// `name`'s first [`MAX_NAME`] bytes, cut at a character boundary.
fn truncated(name: &str) -> &str {
    let mut end = name.len().min(MAX_NAME);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    &name[..end]
}

/// The calling thread's own return addresses.
fn local() -> Vec<usize> {
    let mut out = Vec::new();
    backtrace::trace(|frame| {
        out.push(frame.ip() as usize);
        out.len() < MAX_FRAMES
    });
    out
}

/// Installs the SIGURG handler, once per process.
fn install() {
    PREVIOUS.get_or_init(|| {
        // SAFETY: sigaction with valid pointers; the handler only touches atomics, makes the
        // gettid system call and runs the unwinder (see the module's docs).
        unsafe {
            let mut old: libc::sigaction = std::mem::zeroed();
            let mut new: libc::sigaction = std::mem::zeroed();
            new.sa_sigaction = on_sample as *const () as usize;
            new.sa_flags = libc::SA_SIGINFO | libc::SA_RESTART;
            libc::sigemptyset(&mut new.sa_mask);
            if libc::sigaction(libc::SIGURG, &new, &mut old) != 0 {
                return None;
            }
            Some(old)
        }
    });
}

extern "C" fn on_sample(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    let me = gettid();
    if REQUEST.tid.load(Ordering::SeqCst) == me && !REQUEST.done.load(Ordering::SeqCst) {
        let mut n = 0;
        // SAFETY: the unwinder walks this thread's own stack, which the signal interrupted;
        // the closure only stores into atomics and cannot panic.
        unsafe {
            backtrace::trace_unsynchronized(|frame| {
                if n < MAX_FRAMES {
                    REQUEST.frames[n].store(frame.ip() as usize, Ordering::Relaxed);
                    n += 1;
                }
                n < MAX_FRAMES
            });
        }
        REQUEST.len.store(n, Ordering::SeqCst);
        let running = crate::greenlet::with_running(|id, site, name| {
            let site = site.map_or(std::ptr::null_mut(), |s| {
                s as *const Location<'static> as *mut Location<'static>
            });
            REQUEST.site.store(site, Ordering::SeqCst);
            let len = name.map_or(usize::MAX, |n| {
                let n = truncated(n).as_bytes();
                for (slot, &b) in REQUEST.name.iter().zip(n) {
                    slot.store(b, Ordering::Relaxed);
                }
                n.len()
            });
            REQUEST.name_len.store(len, Ordering::SeqCst);
            id
        });
        if running.is_none() {
            REQUEST.site.store(std::ptr::null_mut(), Ordering::SeqCst);
            REQUEST.name_len.store(usize::MAX, Ordering::SeqCst);
        }
        REQUEST
            .greenlet
            .store(running.unwrap_or(0), Ordering::SeqCst);
        REQUEST.done.store(true, Ordering::SeqCst);
        return;
    }
    // Not ours: whatever handled SIGURG before us does (by default, nothing: it is ignored).
    if let Some(Some(prev)) = PREVIOUS.get() {
        crate::sys::chain(prev, sig, info, ctx);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[inline(never)]
    fn spin_here(stop: &AtomicBool) {
        while !stop.load(Ordering::Relaxed) {
            std::hint::spin_loop();
        }
    }

    #[test]
    fn a_busy_thread_is_captured_where_it_spins() {
        static STOP: AtomicBool = AtomicBool::new(false);
        let (tx, rx) = std::sync::mpsc::channel();
        let busy = std::thread::spawn(move || {
            tx.send(Thread::current()).unwrap();
            spin_here(&STOP);
        });
        let target = rx.recv().unwrap();
        std::thread::sleep(Duration::from_millis(20));
        let frames = target
            .sample(Duration::from_secs(2))
            .expect("answered")
            .frames;
        STOP.store(true, Ordering::Relaxed);
        busy.join().unwrap();
        let mut names = Vec::new();
        for ip in frames {
            backtrace::resolve(ip as *mut std::ffi::c_void, |s| {
                if let Some(n) = s.name() {
                    names.push(n.to_string());
                }
            });
        }
        assert!(names.iter().any(|n| n.contains("spin_here")), "{names:#?}");
    }

    #[test]
    fn the_interrupted_greenlet_is_named_with_its_site() {
        static STOP: AtomicBool = AtomicBool::new(false);
        let (tx, rx) = std::sync::mpsc::channel();
        let here = Location::caller();
        // A name longer than a capture keeps, with a character across the cut.
        let name = format!("{}é-spinner", "x".repeat(MAX_NAME - 1));
        let n = name.clone();
        let busy = std::thread::spawn(move || {
            let g = crate::Builder::new()
                .name(n)
                .site(here)
                .build(|_| spin_here(&STOP))
                .unwrap();
            tx.send((Thread::current(), g.id())).unwrap();
            g.switch(());
        });
        let (target, id) = rx.recv().unwrap();
        std::thread::sleep(Duration::from_millis(20));
        let sample = target.sample(Duration::from_secs(2)).expect("answered");
        STOP.store(true, Ordering::Relaxed);
        busy.join().unwrap();
        assert_eq!(sample.greenlet, Some(id));
        assert_eq!(sample.site, Some(here));
        assert_eq!(sample.name.as_deref(), Some(&name[..MAX_NAME - 1]));
    }

    #[test]
    fn a_thread_that_has_exited_does_not_answer() {
        let target = std::thread::spawn(Thread::current).join().unwrap();
        assert_eq!(target.sample(Duration::from_millis(50)), None);
    }
}
