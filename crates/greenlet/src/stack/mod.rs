//! Greenlet stacks: carved from large reservations, guarded, pooled.
//!
//! A reservation ("chunk") is one `mmap` of many equal slots. Each slot is a guard page below a
//! stack; stacks grow down towards their own guard:
//!
//! ```text
//!  chunk start                                                          chunk end
//!  | slot 0                                    | slot 1                      | ...
//!  +-------+-----------------------------+-----+-------+---------------------+--
//!  | guard |  stack, grows down  <------ | hdr | guard |  stack  <--------   |
//!  +-------+-----------------------------+-----+-------+---------------------+--
//!  ^limit  ^bottom                  base ^     ^top = next slot's start
//! ```
//!
//! - `limit` (the slot start) is what corosensei calls the stack limit: it includes the guard.
//! - `base` is where the first frame goes: 64 bytes below the top, leaving room for the header,
//!   which names the greenlet that owns the stack so the SIGSEGV handler can report an overflow
//!   by name without allocating or locking.
//! - Guards are installed with `MADV_GUARD_INSTALL`, which marks page-table entries and leaves
//!   the chunk one mapping; on kernels without it, `mprotect` splits the chunk into two mappings
//!   per stack, which is what limits such kernels to ~32,000 stacks at the default
//!   `vm.max_map_count`.
//!
//! Freed stacks go to a per-thread warm cache (no syscall to reuse them); beyond it, their pages
//! are given back with `MADV_DONTNEED` and the slot joins a process-wide free list. Address
//! space is never unmapped: it costs nothing once its pages are returned.

mod overflow;
mod pool;
mod valgrind;

use std::cell::Cell;
use std::io;

use corosensei::stack::{Stack, StackPointer};

pub(crate) use pool::{allocate, round_size};
pub use pool::{set_deferred_trim, trim_stacks, warm_stacks};

/// The default usable size of a greenlet stack: 256 KiB.
///
/// Measured stack use: a TCP round trip ~0.7 KiB, `getaddrinfo` ~5 KiB, a caught panic
/// ~5.5 KiB, a formatted backtrace ~21 KiB; debug builds need several times more. Only the pages
/// a greenlet touches cost memory, so a generous size is nearly free: a million greenlets that
/// each use one page need ~4 GiB of RSS whatever this size is, and 256 GiB of the 128 TiB of
/// address space.
pub const DEFAULT_STACK_SIZE: usize = 256 * 1024;

/// The smallest stack a greenlet may have: 16 KiB. Less would not survive a `println!`.
pub const MIN_STACK_SIZE: usize = 16 * 1024;

/// The largest stack a greenlet may have: 64 TiB, half of the 128 TiB of address space a
/// process has on x86_64 Linux (only the pages a greenlet touches cost memory). Larger sizes
/// are refused with an error rather than rounded into something that overflows.
pub const MAX_STACK_SIZE: usize = 64 << 40;

/// Bytes at the top of each stack kept for the [`Header`].
const HEADER_SIZE: usize = 64;

thread_local! {
    static DEFAULT_SIZE: Cell<usize> = const { Cell::new(DEFAULT_STACK_SIZE) };
}

/// Sets the stack size of greenlets created on this thread without an explicit
/// [`Builder::stack_size`](crate::Builder::stack_size). Rounded up to whole pages; at least
/// [`MIN_STACK_SIZE`].
///
/// # Examples
///
/// ```
/// greenlet::set_default_stack_size(64 * 1024);
/// let g = greenlet::Greenlet::new(|_| ());
/// assert_eq!(g.stack_size(), 64 * 1024);
/// ```
///
/// # Panics
///
/// If `bytes` is above [`MAX_STACK_SIZE`], with a message that says so.
pub fn set_default_stack_size(bytes: usize) {
    let size = round_size(bytes).unwrap_or_else(|e| panic!("{e}"));
    DEFAULT_SIZE.with(|d| d.set(size));
}

/// The stack size of greenlets created on this thread without an explicit size.
///
/// # Examples
///
/// ```
/// assert_eq!(greenlet::default_stack_size(), greenlet::DEFAULT_STACK_SIZE);
/// ```
pub fn default_stack_size() -> usize {
    DEFAULT_SIZE.with(Cell::get)
}

/// How guard pages are installed on this machine: `"madvise(MADV_GUARD_INSTALL)"` (Linux
/// 6.13+, one mapping for many stacks) or `"mprotect(PROT_NONE)"` (older kernels: two mappings
/// per stack, so `vm.max_map_count` bounds the number of greenlets). Known once a first stack
/// exists.
///
/// # Examples
///
/// ```
/// let _g = greenlet::Greenlet::new(|_| ());
/// assert!(greenlet::stack_guard_kind().contains("PROT_NONE") || greenlet::stack_guard_kind().contains("GUARD"));
/// ```
pub fn stack_guard_kind() -> &'static str {
    crate::sys::guard_kind()
}

/// What the overflow handler reads at the top of a stack in use. Plain words, written before
/// the greenlet first runs and cleared when the stack is freed.
#[repr(C)]
struct Header {
    name_ptr: usize,
    name_len: usize,
    id: u64,
}

/// One greenlet's stack: a slot of a chunk, returned to the pool on drop.
#[derive(Debug)]
pub(crate) struct GreenletStack {
    /// Start of the slot: the lowest guard byte.
    slot: usize,
    /// Usable bytes above the guard.
    size: usize,
    guard: usize,
    valgrind_id: usize,
}

impl GreenletStack {
    fn top(&self) -> usize {
        self.slot + self.guard + self.size
    }

    fn bottom(&self) -> usize {
        self.slot + self.guard
    }

    /// Records which greenlet runs on this stack, for the overflow report. `name` must outlive
    /// the stack's use by that greenlet.
    pub(crate) fn set_owner(&self, name: &str, id: u64) {
        let header = (self.top() - HEADER_SIZE) as *mut Header;
        // SAFETY: the header lies in the top 64 bytes of our own slot, below `top`, above
        // `base()`, so no frame ever uses it; nobody else owns this slot while we do.
        unsafe {
            header.write(Header {
                name_ptr: name.as_ptr() as usize,
                name_len: name.len(),
                id,
            })
        };
    }
}

// SAFETY: `base()` and `limit()` bound memory that this value owns exclusively until it is
// dropped: a readable, writable range of `size` bytes with a guard page below it (the `limit`),
// so running off the bottom faults instead of corrupting a neighbour. Both are 16-byte aligned
// (slots are page-aligned and the header size is a multiple of 16).
unsafe impl Stack for GreenletStack {
    fn base(&self) -> StackPointer {
        StackPointer::new(self.top() - HEADER_SIZE).expect("stack top is never null")
    }

    fn limit(&self) -> StackPointer {
        StackPointer::new(self.slot).expect("stack slot is never null")
    }
}

impl Drop for GreenletStack {
    fn drop(&mut self) {
        valgrind::deregister(self.valgrind_id);
        self.set_owner("", 0);
        pool::release(self.slot, self.size, self.guard);
    }
}

/// Allocates a stack of `size` usable bytes (already rounded) for a greenlet.
pub(crate) fn new_stack(size: usize) -> io::Result<GreenletStack> {
    let (slot, guard) = allocate(size)?;
    let mut s = GreenletStack {
        slot,
        size,
        guard,
        valgrind_id: 0,
    };
    s.valgrind_id = valgrind::register(s.bottom(), s.top());
    Ok(s)
}
