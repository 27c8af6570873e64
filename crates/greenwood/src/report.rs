//! What greenwood has to say: [`Report`]s of things that went wrong where no caller can be
//! told (a greenlet that failed with nobody joining it, a callback that panicked, an accept
//! loop backing off), sent to the handler set with [`set_handler`], else to `tracing` or
//! `log` when those features are on, else one line on stderr.
//!
//! A greenlet's panic is reported once: greenwood's panic hook records where it happened
//! (and a backtrace when `RUST_BACKTRACE` asks for one) instead of letting Rust's default hook
//! print it, and the report that follows carries both. A panic hook the program set itself
//! still sees every panic; a panic a greenlet catches itself is not reported.

pub use crate::hub::report::{set_handler, Report, ReportHandler, ReportKind};
