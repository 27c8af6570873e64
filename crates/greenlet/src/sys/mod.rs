//! The operating-system calls the stack allocator needs, one file per target.
//!
//! Every backend provides:
//!
//! - `page_size() -> usize`;
//! - `reserve(bytes) -> io::Result<usize>`: an address-space reservation, readable and writable,
//!   that costs no memory until touched (no huge pages, no commit charge);
//! - `install_guard(addr, len) -> io::Result<()>`: make `[addr, addr + len)` fault on any access,
//!   cheaply and, where the kernel allows, without splitting the reservation;
//! - `release_memory(addr, len)`: give the pages back to the kernel, keeping the reservation;
//! - `guard_kind() -> &'static str`: how guards are made, for diagnostics;
//! - `write_stderr(msg: &[u8])`: write with `write(2)` alone, usable from a signal handler;
//! - `install_overflow_handler(classify: fn(usize))`, and `ensure_altstack() ->
//!   Option<AltStack>` with the `AltStack` it installed: see `stack::overflow`.

#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "linux")]
pub(crate) use linux::*;

#[cfg(not(target_os = "linux"))]
compile_error!(
    "greenlet supports Linux only for now: its stacks rely on mmap/madvise and its overflow \
     report on SIGSEGV with sigaltstack"
);
