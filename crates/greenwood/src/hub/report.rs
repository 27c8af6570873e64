//! Reports (public as `greenwood::report`): what greenwood says about things that went wrong
//! where no caller can be told, sent to the handler set with [`set_handler`], else to
//! `tracing` or `log` when those features are on, else one line on stderr; and the panic hook
//! that makes a greenlet's panic one report instead of two.
//!
//! # One report per greenlet panic
//!
//! Rust's panic hook prints every panic as `thread 'main' panicked at ...`: for a greenlet that
//! names the wrong thing (the OS thread, not the greenlet), and greenwood then reports the
//! failure when the greenlet ends, so every panic was told twice. Instead, the first hub of the
//! process installs a hook that wraps the one in place:
//!
//! - a panic that greenwood itself will catch and report (in a spawned greenlet's function, or
//!   in a callback the hub runs) only records where it happened and, when `RUST_BACKTRACE`
//!   asks for one, a backtrace; the report that follows carries both;
//! - every other panic (the main greenlet's, a plain thread's) goes to the previous hook.
//!
//! A hook the program installed before the first hub started keeps seeing greenlet panics
//! too: only std's default hook, recognised as the one `take_hook` gives back when no custom
//! hook is set, is left out for them. A hook installed after the hub replaces greenwood's, as
//! `set_hook` always does; greenwood's report then still follows.
//!
//! A panic that a greenlet catches itself (`catch_unwind`) is not reported, as an exception a
//! Python greenlet catches is not: nothing failed.

use std::any::Any;
use std::backtrace::Backtrace;
use std::panic::{self, AssertUnwindSafe, PanicHookInfo};
use std::sync::{Arc, Once, RwLock};

use crate::error::{location_suffix, panic_message, PanicReport};
use crate::hub::task::{self, Task};

/// What a report is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReportKind {
    /// A greenlet panicked or timed out, and this thread has no failure handler
    /// ([`set_failure_handler`](crate::set_failure_handler) takes those first).
    GreenletFailed,
    /// A callback the hub ran (a link, [`Hub::run_callback`](crate::hub::Hub::run_callback))
    /// panicked; the hub carries on.
    CallbackPanicked,
    /// A greenlet unwound at thread exit (or dropped while suspended) panicked again, or
    /// caught its `GreenletExit` and could not be unwound.
    UnwindFailed,
    /// A server's accept or receive failed for a reason that is not the peer's; it backs
    /// off and retries.
    ServerError,
    /// The [monitor](crate::monitor) noticed a greenlet holding its hub's loop.
    LoopHeld,
    /// The loop the monitor reported held moves again.
    LoopReleased,
}

/// One thing greenwood reports: what it is about, and the message (without the `greenwood: `
/// prefix that stderr gets).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Report {
    /// What it is about.
    pub kind: ReportKind,
    /// The message: what happened, and what to do when there is something to do.
    pub message: String,
}

/// A handler for [`Report`]s; see [`set_handler`].
pub type ReportHandler = Box<dyn Fn(&Report) + Send + Sync>;

type SharedHandler = Arc<dyn Fn(&Report) + Send + Sync>;

static HANDLER: RwLock<Option<SharedHandler>> = RwLock::new(None);

/// Sends greenwood's reports to `handler`, for every thread of the process; `None` restores
/// the default: `tracing` events (target `greenwood`) with the `tracing` feature, else `log`
/// records with the `log` feature, else one line on stderr per report. Failed greenlets go to
/// a thread's [`failure handler`](crate::set_failure_handler) first, when it has one.
///
/// # Examples
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use greenwood::report::{Report, ReportKind};
///
/// let seen = Arc::new(Mutex::new(Vec::new()));
/// let s = seen.clone();
/// greenwood::report::set_handler(Some(Box::new(move |r: &Report| {
///     s.lock().unwrap().push((r.kind, r.message.clone()));
/// })));
/// let g = greenwood::spawn(|| ());
/// g.link(|_| panic!("a bug in a link"));
/// g.join();
/// greenwood::sleep(std::time::Duration::ZERO); // links run on the hub
/// greenwood::report::set_handler(None);
/// let seen = seen.lock().unwrap();
/// assert_eq!(seen[0].0, ReportKind::CallbackPanicked);
/// assert!(seen[0].1.contains(": a bug in a link"));
/// ```
pub fn set_handler(handler: Option<ReportHandler>) {
    let handler = handler.map(SharedHandler::from);
    *HANDLER.write().unwrap_or_else(|e| e.into_inner()) = handler;
}

/// Reports `message`: to the handler, `tracing`, `log` or stderr (see [`set_handler`]).
pub(crate) fn emit(kind: ReportKind, message: String) {
    let handler = HANDLER.read().unwrap_or_else(|e| e.into_inner()).clone();
    if let Some(h) = handler {
        h(&Report { kind, message });
        return;
    }
    #[cfg(feature = "tracing")]
    {
        tracing::error!(target: "greenwood", kind = ?kind, "{message}");
    }
    #[cfg(all(feature = "log", not(feature = "tracing")))]
    {
        log::error!(target: "greenwood", "{message}");
    }
    #[cfg(not(any(feature = "log", feature = "tracing")))]
    {
        let _ = kind;
        eprintln!("greenwood: {message}");
    }
}

/// Installs the panic hook and routes the greenlet crate's warnings here, once per process.
pub(crate) fn install_panic_hook() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        greenlet::set_warning_handler(Some(Box::new(|msg| {
            emit(ReportKind::UnwindFailed, msg.to_string())
        })));
        let previous = panic::take_hook();
        // No custom hook is set now, so this is std's default one. Boxes of the same function
        // item share their (dangling) data pointer and their vtable; a custom hook differs in
        // its vtable. Should the compiler ever duplicate the default's vtable, the comparison
        // fails safe: the previous hook is treated as custom and prints as well.
        let default = panic::take_hook();
        let previous_is_default = std::ptr::eq(&*previous, &*default);
        drop(default);
        panic::set_hook(Box::new(move |info| {
            if record(info) && previous_is_default {
                return;
            }
            previous(info);
        }));
    });
}

/// Runs `f` and catches its panic, which greenwood then reports: while `f` runs, the hook
/// records a panic on `task` (the current greenlet's) instead of printing it.
pub(crate) fn catch<R>(task: Option<&Task>, f: impl FnOnce() -> R) -> std::thread::Result<R> {
    let was = task.map(|t| t.catches.replace(true));
    let r = panic::catch_unwind(AssertUnwindSafe(f));
    if let (Some(t), Some(was)) = (task, was) {
        t.catches.set(was);
    }
    r
}

/// `message`, with the backtrace on the lines after it when one was captured.
pub(crate) fn with_backtrace(message: String, backtrace: Option<&Backtrace>) -> String {
    match backtrace {
        Some(bt) => format!("{message}\nstack backtrace:\n{}", render_backtrace(bt)),
        None => message,
    }
}

/// Records a panic for greenwood's own report; false if greenwood will not catch it.
fn record(info: &PanicHookInfo<'_>) -> bool {
    let Some(task) = task::try_current() else {
        return false;
    };
    if !task.catches.get() {
        return false;
    }
    let backtrace = wants_backtrace().then(Backtrace::force_capture);
    task.set_panic_report(PanicReport {
        location: info.location().map(|l| l.to_string()),
        backtrace,
    });
    true
}

/// What std's default hook reads: `RUST_BACKTRACE` set to anything but `0`.
fn wants_backtrace() -> bool {
    std::env::var_os("RUST_BACKTRACE").is_some_and(|v| v != "0")
}

/// The rest of a report on a panic greenwood caught on the current greenlet: ` at LOCATION:
/// MESSAGE`, and the backtrace on the lines after it when one was captured.
pub(crate) fn caught(payload: &(dyn Any + Send)) -> String {
    let report = task::try_current().and_then(|t| t.take_panic_report());
    let s = format!(
        "{}: {}",
        location_suffix(report.as_ref()),
        panic_message(payload)
    );
    with_backtrace(s, report.as_ref().and_then(|r| r.backtrace.as_ref()))
}

/// A captured backtrace as a report shows it. Unless `RUST_BACKTRACE=full`, only the frames
/// of the code that panicked, as std's short backtraces do: from the panic machinery down to
/// where the greenlet's function (or the hub's callback) was called, not the hook, the
/// greenlet's start-up, the switch and the loop below it.
pub(crate) fn render_backtrace(bt: &Backtrace) -> String {
    let text = bt.to_string();
    if std::env::var_os("RUST_BACKTRACE").is_some_and(|v| v == "full") {
        return text;
    }
    // Frames start with `   N: name`; their `at FILE:LINE` lines follow.
    let mut frames: Vec<Vec<&str>> = Vec::new();
    for line in text.lines() {
        let t = line.trim_start();
        let numbered = t
            .split_once(": ")
            .is_some_and(|(n, _)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
        match frames.last_mut() {
            Some(frame) if !numbered => frame.push(line),
            _ => frames.push(vec![line]),
        }
    }
    let begin = frames
        .iter()
        .rposition(|f| f[0].contains("__rust_end_short_backtrace"))
        .map_or(0, |i| i + 1);
    let end = frames[begin..]
        .iter()
        .position(|f| {
            [
                "greenwood::hub::report::catch",
                "greenwood::greenlet::body",
                "greenwood::hub::run",
                "__rust_begin_short_backtrace",
            ]
            .iter()
            .any(|m| f[0].contains(m))
        })
        .map_or(frames.len(), |i| begin + i);
    if begin == 0 && end == frames.len() {
        return text;
    }
    let mut out = String::new();
    for (n, frame) in frames[begin..end].iter().enumerate() {
        let name = frame[0]
            .trim_start()
            .split_once(": ")
            .map_or("", |(_, name)| name);
        out.push_str(&format!("{n:>4}: {name}\n"));
        for line in &frame[1..] {
            out.push_str(line);
            out.push('\n');
        }
    }
    out.push_str(
        "note: frames of greenwood's machinery are left out; RUST_BACKTRACE=full shows them all",
    );
    out
}
