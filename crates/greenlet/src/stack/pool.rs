//! The stack pool: a per-thread warm cache in front of a process-wide slot allocator.

use std::cell::RefCell;
use std::io;
use std::sync::{Mutex, MutexGuard};

use super::{overflow, MAX_STACK_SIZE, MIN_STACK_SIZE};
use crate::sys;

/// Address space reserved per chunk. Virtual only: pages cost memory once touched.
const CHUNK_BYTES: usize = 1 << 30;

/// Stacks of each size a thread keeps, memory and all, for reuse without a syscall.
const WARM_STACKS: usize = 32;

/// Rounds a requested stack size up to whole pages, and to at least [`MIN_STACK_SIZE`].
///
/// # Errors
///
/// Above [`MAX_STACK_SIZE`]: no address space holds such a stack (and rounding it up, or
/// adding its guard page, would overflow).
pub(crate) fn round_size(bytes: usize) -> io::Result<usize> {
    if bytes > MAX_STACK_SIZE {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "greenlet: a stack of {bytes} bytes ({} TiB) cannot exist: a process's whole \
                 address space is 128 TiB on x86_64 Linux, and a stack may be at most {} TiB \
                 (greenlet::MAX_STACK_SIZE). Ask for less with Builder::stack_size; the \
                 default is {} KiB",
                bytes >> 40,
                MAX_STACK_SIZE >> 40,
                super::DEFAULT_STACK_SIZE >> 10,
            ),
        ));
    }
    let page = sys::page_size();
    Ok(bytes.max(MIN_STACK_SIZE).div_ceil(page) * page)
}

/// Slots of one stack size, across all threads.
struct Class {
    size: usize,
    /// Slots whose memory was given back, ready to be handed out again.
    free: Vec<usize>,
    /// The next never-used slot of the newest chunk, and that chunk's end.
    next: usize,
    end: usize,
}

static GLOBAL: Mutex<Vec<Class>> = Mutex::new(Vec::new());

fn global() -> MutexGuard<'static, Vec<Class>> {
    // The lists stay consistent even if a holder panicked: every update is a single push/pop.
    GLOBAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn class(classes: &mut Vec<Class>, size: usize) -> &mut Class {
    match classes.iter().position(|c| c.size == size) {
        Some(i) => &mut classes[i],
        None => {
            classes.push(Class {
                size,
                free: Vec::new(),
                next: 0,
                end: 0,
            });
            classes.last_mut().expect("just pushed")
        }
    }
}

/// Hands out a slot of `size` usable bytes (a multiple of the page size): its start address and
/// the guard length below the stack.
pub(crate) fn allocate(size: usize) -> io::Result<(usize, usize)> {
    let guard = sys::page_size();
    let warm = CACHE.try_with(|c| c.borrow_mut().pop(size)).ok().flatten();
    if let Some(slot) = warm {
        return Ok((slot, guard));
    }
    let mut classes = global();
    let c = class(&mut classes, size);
    if let Some(slot) = c.free.pop() {
        return Ok((slot, guard));
    }
    let slot_len = guard + size;
    if c.next == c.end {
        let slots = (CHUNK_BYTES / slot_len).max(1);
        let start = sys::reserve(slots * slot_len)?;
        overflow::register_chunk(start, slots * slot_len, slot_len, guard);
        overflow::install();
        c.next = start;
        c.end = start + slots * slot_len;
    }
    let slot = c.next;
    sys::install_guard(slot, guard)?;
    c.next += slot_len;
    Ok((slot, guard))
}

/// Takes back a slot handed out by [`allocate`].
pub(crate) fn release(slot: usize, size: usize, guard: usize) {
    let kept = CACHE
        .try_with(|c| c.borrow_mut().push(size, slot))
        .unwrap_or(false);
    if !kept {
        give_back(slot, size, guard);
    }
}

fn give_back(slot: usize, size: usize, guard: usize) {
    sys::release_memory(slot + guard, size);
    class(&mut global(), size).free.push(slot);
}

/// A thread's warm stacks, and the alternate signal stack the overflow report runs on.
struct ThreadCache {
    classes: Vec<(usize, Vec<usize>)>,
    /// Keep every released stack warm until [`trim_stacks`] (a scheduler calls it when idle).
    deferred: bool,
    _altstack: Option<sys::AltStack>,
}

thread_local! {
    static CACHE: RefCell<ThreadCache> = RefCell::new(ThreadCache {
        classes: Vec::new(),
        deferred: false,
        _altstack: sys::ensure_altstack(),
    });
}

/// Makes this thread keep every stack it frees warm (memory and all) until [`trim_stacks`] is
/// called, instead of giving memory back beyond a small cache at every free.
///
/// For schedulers: a burst of thousands of short greenlets then reuses stacks without a
/// syscall or a page fault each, and the scheduler gives the memory back when it goes idle.
/// greenwood's hub does this.
///
/// # Examples
///
/// ```
/// greenlet::set_deferred_trim(true);
/// let gs: Vec<_> = (0..100).map(|_| greenlet::Greenlet::new(|_| ())).collect();
/// for g in &gs {
///     g.switch(());
/// }
/// drop(gs);
/// assert_eq!(greenlet::warm_stacks(), 100);
/// greenlet::trim_stacks();
/// assert_eq!(greenlet::warm_stacks(), 32);
/// ```
pub fn set_deferred_trim(on: bool) {
    let _ = CACHE.try_with(|c| c.borrow_mut().deferred = on);
}

/// Gives back to the kernel the memory of this thread's warm stacks beyond a small cache (32
/// per stack size). Cheap when there is nothing to give back.
///
/// # Examples
///
/// ```
/// greenlet::trim_stacks(); // nothing warm beyond the cache: does nothing
/// assert!(greenlet::warm_stacks() <= 32);
/// ```
pub fn trim_stacks() {
    let excess: Vec<(usize, Vec<usize>)> = CACHE
        .try_with(|c| {
            c.borrow_mut()
                .classes
                .iter_mut()
                .filter(|(_, v)| v.len() > WARM_STACKS)
                .map(|(size, v)| (*size, v.split_off(WARM_STACKS)))
                .collect()
        })
        .unwrap_or_default();
    let guard = sys::page_size();
    for (size, slots) in excess {
        for slot in slots {
            give_back(slot, size, guard);
        }
    }
}

impl ThreadCache {
    fn pop(&mut self, size: usize) -> Option<usize> {
        self.classes.iter_mut().find(|(s, _)| *s == size)?.1.pop()
    }

    fn push(&mut self, size: usize, slot: usize) -> bool {
        let list = match self.classes.iter().position(|(s, _)| *s == size) {
            Some(i) => &mut self.classes[i].1,
            None => {
                self.classes.push((size, Vec::with_capacity(WARM_STACKS)));
                &mut self.classes.last_mut().expect("just pushed").1
            }
        };
        if list.len() < WARM_STACKS || self.deferred {
            list.push(slot);
            true
        } else {
            false
        }
    }
}

impl Drop for ThreadCache {
    fn drop(&mut self) {
        let guard = sys::page_size();
        for (size, slots) in self.classes.drain(..) {
            for slot in slots {
                give_back(slot, size, guard);
            }
        }
    }
}

/// Stacks this thread keeps warm, of all sizes.
///
/// # Examples
///
/// ```
/// let g = greenlet::Greenlet::new(|_| ());
/// g.switch(()); // runs to its end: its stack goes back to this thread's warm cache
/// assert!(greenlet::warm_stacks() >= 1);
/// ```
pub fn warm_stacks() -> usize {
    CACHE
        .try_with(|c| c.borrow().classes.iter().map(|(_, v)| v.len()).sum())
        .unwrap_or(0)
}
