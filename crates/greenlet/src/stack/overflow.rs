//! Stack overflow reports: `greenlet 'NAME' overflowed its N KiB stack`, then abort.
//!
//! A greenlet that runs off the bottom of its stack touches its guard page and gets SIGSEGV.
//! The handler runs on the thread's alternate signal stack (the faulting stack has no room),
//! looks the faulting address up in a fixed table of chunks (no locks, no allocation: it is a
//! signal handler), and if the address is a guard page, reads the owner's name from the stack's
//! header, writes the report with `write(2)` and aborts. Any other fault goes to whatever
//! handled SIGSEGV before us (std's own overflow report for thread stacks, or the default
//! action), so other segfaults behave as if greenlet were not there.

use std::sync::atomic::{AtomicUsize, Ordering};

use super::{Header, HEADER_SIZE};
use crate::sys;

/// Chunks the handler can attribute faults to. At the default stack size a chunk holds ~4,000
/// stacks, so this covers ~16 million greenlets; chunks past it work, unnamed on overflow.
const MAX_CHUNKS: usize = 4096;

struct Chunk {
    start: AtomicUsize,
    len: AtomicUsize,
    slot: AtomicUsize,
    guard: AtomicUsize,
}

static CHUNKS: [Chunk; MAX_CHUNKS] = [const {
    Chunk {
        start: AtomicUsize::new(0),
        len: AtomicUsize::new(0),
        slot: AtomicUsize::new(0),
        guard: AtomicUsize::new(0),
    }
}; MAX_CHUNKS];
/// Entries of `CHUNKS` published so far. Writers hold the pool's lock.
static COUNT: AtomicUsize = AtomicUsize::new(0);

/// Records a new chunk. Called with the pool's lock held, so entries are appended one at a time.
pub(super) fn register_chunk(start: usize, len: usize, slot: usize, guard: usize) {
    let i = COUNT.load(Ordering::Relaxed);
    if i == MAX_CHUNKS {
        return;
    }
    let c = &CHUNKS[i];
    c.start.store(start, Ordering::Relaxed);
    c.len.store(len, Ordering::Relaxed);
    c.slot.store(slot, Ordering::Relaxed);
    c.guard.store(guard, Ordering::Relaxed);
    // Publishes the entry: the handler reads COUNT with Acquire before the fields.
    COUNT.store(i + 1, Ordering::Release);
}

/// Installs the SIGSEGV handler (once per process).
pub(crate) fn install() {
    sys::install_overflow_handler(on_fault);
}

/// Called from the SIGSEGV handler with the faulting address. Aborts if it is a guard page of
/// a greenlet stack; returns otherwise.
fn on_fault(addr: usize) {
    for c in &CHUNKS[..COUNT.load(Ordering::Acquire)] {
        let start = c.start.load(Ordering::Relaxed);
        let len = c.len.load(Ordering::Relaxed);
        if addr < start || addr >= start + len {
            continue;
        }
        let slot_len = c.slot.load(Ordering::Relaxed);
        let guard = c.guard.load(Ordering::Relaxed);
        let slot = addr - (addr - start) % slot_len;
        if addr - slot >= guard {
            return; // inside a stack, not its guard: some other bug
        }
        report(slot, slot_len - guard, guard);
    }
}

fn report(slot: usize, size: usize, guard: usize) -> ! {
    let header = (slot + guard + size - HEADER_SIZE) as *const Header;
    // SAFETY: the header lies in the slot, inside the chunk, which is never unmapped; it holds
    // plain words. If the stack is in use its owner wrote them and is alive (it is the greenlet
    // that just faulted); if not, they are zero and we print no name.
    let h = unsafe { header.read_volatile() };
    let name: &[u8] = if h.name_ptr != 0 {
        // SAFETY: a non-zero header points at the owning greenlet's name, which lives as long
        // as the greenlet, and the greenlet is running (it faulted).
        unsafe { std::slice::from_raw_parts(h.name_ptr as *const u8, h.name_len) }
    } else {
        b""
    };
    let mut buf = Buf {
        bytes: [0; 512],
        len: 0,
    };
    buf.push(b"\ngreenlet '");
    if name.is_empty() {
        buf.push(b"greenlet-");
        buf.push_num(h.id);
    } else {
        buf.push(name);
    }
    buf.push(b"' overflowed its ");
    buf.push_num((size / 1024) as u64);
    buf.push(
        b" KiB stack; aborting. Give it a larger stack with greenlet::Builder::stack_size, \
          or raise the thread's default with greenlet::set_default_stack_size\n",
    );
    sys::write_stderr(&buf.bytes[..buf.len]);
    std::process::abort();
}

/// A fixed buffer for formatting inside the signal handler.
struct Buf {
    bytes: [u8; 512],
    len: usize,
}

impl Buf {
    fn push(&mut self, s: &[u8]) {
        let n = s.len().min(self.bytes.len() - self.len);
        self.bytes[self.len..self.len + n].copy_from_slice(&s[..n]);
        self.len += n;
    }

    fn push_num(&mut self, mut n: u64) {
        let mut digits = [0u8; 20];
        let mut i = digits.len();
        loop {
            i -= 1;
            digits[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        self.push(&digits[i..]);
    }
}
