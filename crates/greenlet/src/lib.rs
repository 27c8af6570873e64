//! Symmetric stackful coroutines for Rust, with the semantics of Python's
//! [greenlet](https://greenlet.readthedocs.io): the building block of greenwood, as greenlet is
//! gevent's.
//!
//! ```
//! use greenlet::{getcurrent, Greenlet};
//!
//! let main = getcurrent();
//! let counter = Greenlet::new(move |_| {
//!     for i in 0.. {
//!         main.switch(i); // hand `i` to main, wait to be switched to again
//!     }
//! });
//! let got: Vec<i32> = (0..3).map(|_| counter.switch(()).downcast().unwrap()).collect();
//! assert_eq!(got, [0, 1, 2]);
//! // Dropping `counter` unwinds it where it is suspended.
//! ```
//!
//! - [`Greenlet::switch`] to any greenlet of the thread; the first switch starts it.
//! - Every greenlet has a [`parent`](Greenlet::parent) that receives its result, or its panic.
//! - [`Greenlet::throw`] unwinds a greenlet with [`GreenletExit`]; dropping the last handle to a
//!   suspended greenlet does the same, so its destructors run and nothing leaks.
//! - Every thread's own stack is its main greenlet; [`getcurrent`] is the running one.
//! - [`settrace`]/[`gettrace`]: a per-thread hook on every switch, told whether a value or an
//!   unwind passes ([`TraceEvent`]), for monitors; [`sample`]: where another thread is now, its
//!   return addresses captured from a second thread.
//! - [`WeakGreenlet`] ([`Greenlet::downgrade`]): a handle that does not keep a greenlet alive.
//! - Values travel as [`Value`]: `()` for free, anything else boxed; typed layers keep typed
//!   data in their own slots and switch with `()` (see [`value`](Value)).
//! - Stacks are carved from large reservations, guarded with `MADV_GUARD_INSTALL` (Linux 6.13+;
//!   `mprotect` before), pooled per thread, and given back to the kernel beyond a small warm
//!   cache: a million suspended greenlets fit in ~4 KiB of RSS each at the default
//!   `vm.max_map_count`. An overflow prints `greenlet 'NAME' overflowed its N KiB stack` and
//!   aborts.
//! - The register switch is corosensei's; every symmetric switch goes through the thread's main
//!   stack (see the `greenlet` module source for the design).

#![warn(
    missing_docs,
    missing_debug_implementations,
    clippy::undocumented_unsafe_blocks
)]

mod error;
#[allow(clippy::module_inception)]
mod greenlet;
pub mod sample;
mod stack;
mod sys;
mod value;

pub use crate::error::{GreenletExit, ParentError};
pub use crate::greenlet::{
    current_data, current_id, getcurrent, gettrace, set_warning_handler, settrace,
    try_current_data, Builder, Greenlet, SwitchHook, TraceEvent, WarningHandler, WeakGreenlet,
};
pub use crate::stack::{
    default_stack_size, set_default_stack_size, set_deferred_trim, stack_guard_kind, trim_stacks,
    warm_stacks, DEFAULT_STACK_SIZE, MAX_STACK_SIZE, MIN_STACK_SIZE,
};
pub use crate::value::Value;
