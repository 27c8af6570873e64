//! The operating-system calls the stack allocator needs, one file per target.
//!
//! Every backend provides:
//!
//! - `page_size() -> usize`
//! - `reserve(bytes) -> io::Result<usize>`: an address-space reservation, readable and writable,
//!   that costs no memory until touched (no huge pages, no commit charge);
//! - `install_guard(addr, len) -> io::Result<()>`: make `[addr, addr + len)` fault on any access,
//!   cheaply and, where the kernel allows, without splitting the reservation;
//! - `release_memory(addr, len)`: give the pages back to the kernel, keeping the reservation;
//! - `GUARD_KIND: fn() -> &'static str`: how guards are made, for diagnostics;
//! - `install_overflow_handler()` / `ensure_altstack()`: see `stack::overflow`.

#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "linux")]
pub(crate) use linux::*;

#[cfg(not(target_os = "linux"))]
compile_error!(
    "greenlet supports Linux only for now: its stacks rely on mmap/madvise and its overflow \
     report on SIGSEGV with sigaltstack"
);
