//! The per-greenlet record and the one blocking primitive: park the current greenlet, switch
//! away (to the hub, or straight to the greenlet the hub would run next), and come back when a
//! [`Waker`] (or an interrupt) schedules it again.
//!
//! Every greenlet that blocks has a [`Task`]: spawned ones get it at spawn, the main greenlet
//! (and any greenlet created with the `greenlet` crate directly) the first time it blocks. It
//! hangs off the greenlet's data slot, so finding the current one costs a thread-local read
//! and a type check.
//!
//! A park is identified by the task's `seq`, which moves on every time a park ends. A `Waker`
//! records the `seq` it was made for, so a wake-up that arrives late (the greenlet already
//! left that park because of a timeout or a kill) is ignored instead of waking it out of a
//! later, unrelated park. That is what lets wait lists keep plain entries and let stale ones
//! die lazily.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::fmt;
use std::panic::{self, Location};
use std::rc::Rc;
use std::sync::Arc;

use greenlet::GreenletExit;

use crate::error::{Elapsed, ErrorKind, GreenletError, LoopExit, PanicReport};
use crate::hub::timer::TimerKey;
use crate::hub::waitlist::WaitList;
use crate::hub::{self, cell_clone, Ready};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Spawned,
    /// A thread's main greenlet.
    Main,
    /// A greenlet made with the `greenlet` crate directly.
    Raw,
    /// The hub's own greenlet: it must never park.
    Hub,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Park {
    /// Running, or switched away from without parking (raw greenlet switches).
    Running,
    /// In `park`, waiting for a wake-up.
    Parked,
    /// In the hub's ready queue: the hub will switch to it.
    Scheduled,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Status {
    /// Spawned, not yet switched to.
    New,
    Started,
    Done,
}

/// Why the hub resumed a parked greenlet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Resume {
    Normal,
    Interrupt,
    LoopExit,
}

/// The payload a greenlet unwinds with.
pub(crate) type Payload = Box<dyn Any + Send>;

/// Makes the value a [`Timeout`](crate::Timeout) with a value of its own unwinds with, afresh
/// each time it fires.
pub(crate) type MakePayload = Rc<dyn Fn() -> Payload>;

/// What interrupts a greenlet at its next blocking point.
pub(crate) enum Interrupt {
    /// A kill: with `GreenletExit` (`None`) or the killer's own payload (`kill_with`).
    Kill(Option<Payload>),
    /// A `Timeout` fired: it unwinds with its `Elapsed`, or with the value it was given.
    Timeout(Elapsed, Option<MakePayload>),
    /// An interrupt raised once and put back (see [`Task::defer_interrupt`]), to be raised
    /// again as it was.
    #[cfg(feature = "monkey")]
    Again(Payload, Raised),
}

/// Which interrupt the greenlet unwinds with, told by the identity of its payload (the box's
/// address and the value's type): a payload that is neither `GreenletExit` nor `Elapsed`
/// (`kill_with`, `Timeout::with_value`) is recognised at the greenlet's end, and by
/// `Timeout::is`, without being wrapped, so the greenlet's own `catch_unwind` sees the very
/// value that was sent. A payload caught, dropped and replaced by a new box of the same type
/// at the same address would pass for the interrupt: it is the same kind of value, raised
/// again, and is treated as such.
#[derive(Clone)]
pub(crate) struct Raised {
    addr: usize,
    ty: std::any::TypeId,
    pub(crate) kind: ErrorKind,
    /// The `Timeout` that fired, for a timeout.
    pub(crate) timeout: Option<Elapsed>,
}

impl Raised {
    fn of(payload: &(dyn Any + Send), kind: ErrorKind, timeout: Option<Elapsed>) -> Raised {
        Raised {
            addr: (payload as *const (dyn Any + Send)).cast::<()>() as usize,
            ty: (*payload).type_id(),
            kind,
            timeout,
        }
    }

    fn is(&self, payload: &(dyn Any + Send)) -> bool {
        self.addr == (payload as *const (dyn Any + Send)).cast::<()>() as usize
            && self.ty == (*payload).type_id()
    }
}

pub(crate) enum Outcome {
    Pending,
    Value(Box<dyn Any>),
    Failed(ErrorKind, String),
}

/// What a parked greenlet waits on, kept for `LoopExit` messages (and later the monitor).
#[derive(Clone)]
pub(crate) enum WaitOn {
    Greenlet(Rc<Task>),
    Object(&'static str, &'static Location<'static>),
    Sleep(std::time::Duration),
    Io {
        fd: std::os::fd::RawFd,
        direction: &'static str,
    },
    Idle,
    Any(usize),
}

#[cfg(feature = "monkey")]
/// Which interrupt [`Task::defer_interrupt`] put back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DeferredInterrupt {
    Kill,
    Timeout,
}

/// A link callback and its id.
pub(crate) type Link = (u64, Box<dyn FnOnce()>);

/// Greenlet-local values of one greenlet, by key (`local.rs` owns the keys); `None` while a
/// value is lent out.
pub(crate) type Locals = HashMap<usize, Option<Box<dyn Any>>>;

/// The record of one greenlet that blocks, or may: what it waits on, how to resume it, how it
/// ended.
///
/// # Who writes what
///
/// Everything runs on the hub's thread, so no field needs a lock; what keeps the record
/// consistent is that each field has one owner:
///
/// | fields | written by | when |
/// |---|---|---|
/// | `kind`, `name`, `site` | [`Task::new`] | never again |
/// | `id` | `greenlet.rs` | once, when the spawned greenlet exists |
/// | `park`, `seq`, `resume`, `interrupt`, `pending`, `waiting_on`, `budget` | this module only | parking, waking, interrupting: the scheduling state |
/// | `glet` | `greenlet.rs` (spawn, kill, finish), `switch_to_hub` (a raw greenlet, while parked), the hub at thread exit | see the field |
/// | `status`, `ran`, `outcome`, `links` | `greenlet.rs` | the greenlet's start and end, `link` and `unlink` |
/// | `joiners` | whoever waits (an entry each); `greenlet.rs` notifies them at the end | |
/// | `on_finish` | `pool.rs` (a group member) adds; `greenlet.rs` runs them at the end | |
/// | `slot` | the hub (`register`, `unregister`) | spawn, end |
/// | `start_timer` | `greenlet.rs` (`spawn_later`, kill), the hub (the timer fired) | |
/// | `locals` | `local.rs` | |
/// | `catches`, `panic_report` | `hub/report.rs` (the panic hook and `catch`) | around code whose panic greenwood reports |
/// | `in_foreign_call` | `monkey` | while parked inside an interposed libc call |
/// | `spawner` | `greenlet.rs` | at spawn |
/// | `parked_at`, `deadline` | this module | parking (the monitor's coarse clock; the wait's timer) |
/// | `timeout_at` | `timeout.rs` | arming and dropping a `Timeout` |
///
/// The scheduling state moves only through this module's functions: [`park`] and the yields
/// make a task `Parked`; `make_ready` is the one way from `Parked` to `Scheduled`, and
/// [`Task::schedule_start`] the one way a new task is queued; so a task is in the ready queue
/// at most once.
pub(crate) struct Task {
    /// The greenlet's id; set once the greenlet exists (spawn creates the task first).
    pub(crate) id: Cell<u64>,
    pub(crate) kind: Kind,
    pub(crate) name: Option<Box<str>>,
    pub(crate) site: Option<&'static Location<'static>>,
    /// Spawned greenlets: from spawn until dropped. Raw greenlets: only while parked, so a
    /// task and its greenlet never keep each other alive (the main greenlet's handle is kept
    /// by the hub).
    pub(crate) glet: Cell<Option<greenlet::Greenlet>>,
    park: Cell<Park>,
    /// Moves on at the end of every park (64 bits: never wraps back onto a stale waker).
    seq: Cell<u64>,
    resume: Cell<Resume>,
    interrupt: Cell<Option<Interrupt>>,
    pending: RefCell<Vec<Interrupt>>,
    /// The last interrupt raised in the greenlet, to recognise its payload.
    raised: RefCell<Option<Raised>>,
    waiting_on: Cell<Option<WaitOn>>,
    pub(crate) status: Cell<Status>,
    /// Its function began running (false for one killed before it started).
    pub(crate) ran: Cell<bool>,
    pub(crate) outcome: RefCell<Outcome>,
    pub(crate) joiners: WaitList,
    pub(crate) links: RefCell<Vec<Link>>,
    /// Key in the hub's table of live spawned greenlets.
    pub(crate) slot: Cell<usize>,
    /// `spawn_later`'s start timer.
    pub(crate) start_timer: Cell<Option<TimerKey>>,
    /// Socket operations left before the greenlet must yield (see [`consume_budget`]).
    budget: Cell<u32>,
    /// Greenlet-local values (see `local.rs`), created on first use.
    pub(crate) locals: RefCell<Option<Box<Locals>>>,
    /// Run once, synchronously, when the greenlet finishes (a group dropping its member).
    pub(crate) on_finish: RefCell<Vec<Box<dyn FnOnce()>>>,
    /// A panic here is caught and reported by greenwood (see `report.rs`).
    pub(crate) catches: Cell<bool>,
    /// Where the last such panic happened, for its report.
    panic_report: Cell<Option<Arc<PanicReport>>>,
    /// Parked inside an interposed libc call (`monkey`), which must not be unwound.
    #[cfg(feature = "monkey")]
    pub(crate) in_foreign_call: Cell<bool>,
    /// The id of the greenlet that spawned this one (0: unknown), for the run info's tree.
    pub(crate) spawner: Cell<u64>,
    /// When the current park began, on the monitor's coarse clock (`stats::coarse_now`; 0
    /// while no monitor runs), for the run info.
    pub(crate) parked_at: Cell<u64>,
    /// When the current park's timer fires (a sleep's end, a wait's timeout), while a park
    /// with a timer lasts (`Deadline`), for the run info.
    pub(crate) deadline: Cell<Option<std::time::Instant>>,
    /// The soonest [`Timeout`](crate::Timeout) armed in this greenlet, and where it was set,
    /// for the run info.
    pub(crate) timeout_at: Cell<Option<(std::time::Instant, &'static Location<'static>)>>,
}

impl Task {
    pub(crate) fn new(
        kind: Kind,
        id: u64,
        name: Option<Box<str>>,
        site: Option<&'static Location<'static>>,
    ) -> Task {
        Task {
            id: Cell::new(id),
            kind,
            name,
            site,
            glet: Cell::new(None),
            park: Cell::new(Park::Running),
            seq: Cell::new(0),
            resume: Cell::new(Resume::Normal),
            interrupt: Cell::new(None),
            pending: RefCell::new(Vec::new()),
            raised: RefCell::new(None),
            waiting_on: Cell::new(None),
            status: Cell::new(Status::Started),
            ran: Cell::new(kind != Kind::Spawned),
            outcome: RefCell::new(Outcome::Pending),
            joiners: WaitList::new(),
            links: RefCell::new(Vec::new()),
            slot: Cell::new(usize::MAX),
            start_timer: Cell::new(None),
            locals: RefCell::new(None),
            budget: Cell::new(BUDGET),
            on_finish: RefCell::new(Vec::new()),
            catches: Cell::new(false),
            panic_report: Cell::new(None),
            #[cfg(feature = "monkey")]
            in_foreign_call: Cell::new(false),
            spawner: Cell::new(0),
            parked_at: Cell::new(0),
            deadline: Cell::new(None),
            timeout_at: Cell::new(None),
        }
    }

    pub(crate) fn greenlet(&self) -> Option<greenlet::Greenlet> {
        cell_clone(&self.glet)
    }

    /// A waker for this task's next park. Take it just before parking.
    pub(crate) fn waker(self: &Rc<Task>) -> Waker {
        Waker {
            task: self.clone(),
            seq: self.seq.get(),
        }
    }

    /// Makes a parked task runnable with `resume` as the reason; false if it is not parked.
    fn schedule(self: &Rc<Task>, resume: Resume) -> bool {
        self.park.get() == Park::Parked && Task::make_ready(self.clone(), resume)
    }

    /// `schedule` for a handle we own (a waker being used up): no count to take. The one
    /// way from `Parked` to `Scheduled`.
    fn make_ready(task: Rc<Task>, resume: Resume) -> bool {
        if task.park.get() != Park::Parked {
            return false;
        }
        task.park.set(Park::Scheduled);
        task.resume.set(resume);
        hub::push_ready(Ready::Resume(task));
        true
    }

    /// Queues a new spawned task (or a delayed one whose time came) to start.
    pub(crate) fn schedule_start(self: Rc<Task>) {
        debug_assert!(self.status.get() == Status::New && self.park.get() == Park::Running);
        self.park.set(Park::Scheduled);
        hub::push_ready(Ready::Resume(self));
    }

    /// Whether the task is parked, waiting for a wake-up.
    pub(crate) fn is_parked(&self) -> bool {
        self.park.get() == Park::Parked
    }

    /// Interrupts the task where it is parked or, if it is runnable, at its next blocking
    /// point (so a wake-up it already received is not lost).
    pub(crate) fn interrupt(self: &Rc<Task>, i: Interrupt) {
        if self.park.get() == Park::Parked {
            self.interrupt.set(Some(i));
            self.schedule(Resume::Interrupt);
        } else {
            self.pending.borrow_mut().push(i);
        }
    }

    #[cfg(feature = "monkey")]
    /// Puts back an interrupt that unwound code which cannot let it through (an interposed
    /// libc call returns to C code, which must not be unwound): it is raised again at the
    /// greenlet's next blocking point. Gives back a payload that is no interrupt.
    pub(crate) fn defer_interrupt(&self, payload: Payload) -> Result<DeferredInterrupt, Payload> {
        let Some(raised) = self.interrupted_with(&*payload) else {
            return Err(payload);
        };
        let which = match raised.kind {
            ErrorKind::TimedOut => DeferredInterrupt::Timeout,
            _ => DeferredInterrupt::Kill,
        };
        self.pending
            .borrow_mut()
            .push(Interrupt::Again(payload, raised));
        Ok(which)
    }

    #[cfg(feature = "monkey")]
    /// Whether an interrupt waits for the greenlet's next blocking point.
    pub(crate) fn has_pending_interrupt(&self) -> bool {
        !self.pending.borrow().is_empty()
    }

    /// Forgets a timeout that is no longer wanted (its guard was dropped).
    pub(crate) fn forget_timeout(&self, id: u64) {
        self.pending.borrow_mut().retain(|i| match i {
            Interrupt::Timeout(e, _) => e.id != id,
            #[cfg(feature = "monkey")]
            Interrupt::Again(_, r) => r.timeout.as_ref().is_none_or(|e| e.id != id),
            Interrupt::Kill(_) => true,
        });
    }

    /// Which interrupt `payload` (caught, or ending the greenlet) is, if it is one: a kill
    /// (`GreenletExit`, or the payload of the last `kill_with`) or a timeout (an `Elapsed`,
    /// or the value of the `Timeout` that fired last).
    pub(crate) fn interrupted_with(&self, payload: &(dyn Any + Send)) -> Option<Raised> {
        if let Some(r) = self.raised.borrow().as_ref().filter(|r| r.is(payload)) {
            return Some(r.clone());
        }
        if payload.is::<GreenletExit>() {
            Some(Raised::of(payload, ErrorKind::Killed, None))
        } else {
            payload
                .downcast_ref::<Elapsed>()
                .map(|e| Raised::of(payload, ErrorKind::TimedOut, Some(e.clone())))
        }
    }

    /// Wakes the task with `LoopExit` if it is parked.
    pub(crate) fn loop_exit(self: &Rc<Task>) -> bool {
        self.schedule(Resume::LoopExit)
    }

    pub(crate) fn is_done(&self) -> bool {
        self.status.get() == Status::Done
    }

    pub(crate) fn waiting_on(&self) -> Option<WaitOn> {
        cell_clone(&self.waiting_on)
    }

    /// `greenlet 'NAME'`, as `greenlet::Greenlet` shows it.
    pub(crate) fn label(&self) -> String {
        match (&self.name, self.kind) {
            (_, Kind::Main) => "the main greenlet".to_string(),
            (_, Kind::Hub) => "the hub".to_string(),
            (Some(n), _) => format!("greenlet '{n}'"),
            (None, _) => format!("greenlet 'greenlet-{}'", self.id.get()),
        }
    }

    pub(crate) fn error(&self, kind: ErrorKind, message: String) -> GreenletError {
        let panic = match kind {
            ErrorKind::Panicked => cell_clone(&self.panic_report),
            _ => None,
        };
        GreenletError {
            kind,
            greenlet: self.label(),
            site: self.site,
            message,
            panic,
        }
    }

    pub(crate) fn set_panic_report(&self, report: PanicReport) {
        self.panic_report.set(Some(Arc::new(report)));
    }

    /// The report of the panic just caught, if the hook recorded one.
    pub(crate) fn take_panic_report(&self) -> Option<Arc<PanicReport>> {
        self.panic_report.take()
    }

    /// Keeps `report` as the one of the panic this task failed with.
    pub(crate) fn keep_panic_report(&self, report: Option<Arc<PanicReport>>) {
        self.panic_report.set(report);
    }
}

impl fmt::Debug for Task {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.label())
    }
}

/// Wakes one particular park of one task; a no-op once that park is over.
#[derive(Clone)]
pub(crate) struct Waker {
    task: Rc<Task>,
    seq: u64,
}

impl Waker {
    /// Schedules the task if it is still in the park this waker was made for.
    pub(crate) fn wake(&self) -> bool {
        self.task.seq.get() == self.seq && self.task.schedule(Resume::Normal)
    }

    /// `wake`, using the waker up.
    pub(crate) fn wake_owned(self) -> bool {
        self.task.seq.get() == self.seq && Task::make_ready(self.task, Resume::Normal)
    }
}

/// The current greenlet's task if it has one, without creating anything (for the panic hook).
pub(crate) fn try_current() -> Option<Rc<Task>> {
    greenlet::try_current_data()?.downcast::<Task>().ok()
}

/// The task of the running greenlet, created on its first use.
pub(crate) fn current() -> Rc<Task> {
    if let Some(data) = greenlet::current_data() {
        if let Ok(task) = data.downcast::<Task>() {
            return task;
        }
    }
    attach_current()
}

#[cold]
fn attach_current() -> Rc<Task> {
    let g = greenlet::getcurrent();
    let kind = if g.is_main() { Kind::Main } else { Kind::Raw };
    let name = g.name().map(Box::from);
    let task = Rc::new(Task::new(kind, g.id(), name, None));
    g.set_data(Some(task.clone()));
    if kind == Kind::Main {
        hub::set_main_task(&task);
    }
    task
}

/// Parks the current greenlet until a [`Waker`] made for this park wakes it, an interrupt
/// arrives (kill, timeout: raised here as an unwind), or the hub finds that nothing can ever
/// wake it (`LoopExit`: a panic naming `what`). A caller whose park has a timer of its own
/// notes its deadline in the task around the park (`Deadline`), for the run info.
///
/// Interrupts that arrived while the greenlet was runnable are raised here, before parking.
/// While the greenlet is unwinding (a destructor that blocks during a kill) interrupts wait
/// for the next park, since a second unwind would abort.
pub(crate) fn park(task: &Rc<Task>, what: WaitOn) {
    if task.kind == Kind::Hub {
        panic!(
            "greenwood: a blocking call ran inside the hub (in a callback or a link); callbacks \
             must not block: spawn a greenlet for the blocking work instead"
        );
    }
    if task.kind == Kind::Raw {
        hub::note_raw_park(task);
    }
    if !std::thread::panicking() {
        let next = task.pending.borrow_mut().pop();
        if let Some(i) = next {
            task.seq.set(task.seq.get().wrapping_add(1));
            raise(task, i);
        }
    }
    task.park.set(Park::Parked);
    task.waiting_on.set(Some(what));
    task.budget.set(BUDGET);
    task.parked_at.set(crate::hub::stats::coarse_now());
    switch_to_hub(task);
    let what = task.waiting_on.take();
    task.park.set(Park::Running);
    task.seq.set(task.seq.get().wrapping_add(1));
    match task.resume.replace(Resume::Normal) {
        Resume::Normal => {}
        Resume::Interrupt => {
            let i = task.interrupt.take();
            if let Some(i) = i {
                if std::thread::panicking() {
                    task.pending.borrow_mut().push(i);
                } else {
                    raise(task, i);
                }
            }
        }
        Resume::LoopExit => {
            let e = loop_exit_error(task, what.as_ref());
            panic!("{e}");
        }
    }
}

/// Socket operations a greenlet may complete without parking before it yields.
const BUDGET: u32 = 128;

/// Counts one operation that completed without parking; after [`BUDGET`] in a row, yields.
///
/// A greenlet whose reads always find data (a fast client on loopback) would otherwise never
/// give the others a turn: cooperative scheduling only switches at blocking points. tokio
/// solves the same problem with the same kind of budget.
pub(crate) fn consume_budget() {
    let task = current();
    let left = task.budget.get();
    if left > 1 {
        task.budget.set(left - 1);
    } else {
        task.budget.set(BUDGET);
        // The operation has completed: an interrupt that arrives meanwhile must wait for the
        // next real blocking point, or its result would be lost.
        yield_inner(&task, false);
    }
}

#[cfg(feature = "monkey")]
/// Yields like `sleep(0)`, but leaves pending interrupts pending: for code that cannot
/// unwind here (an interposed libc call, which must return to its C caller).
pub(crate) fn yield_quietly(task: &Rc<Task>) {
    yield_inner(task, false);
}

/// Puts the current greenlet at the back of the ready queue and switches to the hub: every
/// greenlet already runnable runs before it does (gevent's `sleep(0)`).
pub(crate) fn yield_now(task: &Rc<Task>) {
    yield_inner(task, true);
}

fn yield_inner(task: &Rc<Task>, raise_pending: bool) {
    if task.kind == Kind::Hub {
        return;
    }
    task.budget.set(BUDGET);
    task.park.set(Park::Parked);
    task.schedule(Resume::Normal);
    switch_to_hub(task);
    task.park.set(Park::Running);
    task.seq.set(task.seq.get().wrapping_add(1));
    task.resume.set(Resume::Normal);
    // An interrupt that came meanwhile was queued as pending: raise it here, as gevent's
    // `sleep(0)` would.
    if raise_pending && !std::thread::panicking() {
        let next = task.pending.borrow_mut().pop();
        if let Some(i) = next {
            raise(task, i);
        }
    }
}

/// Gives control away until the hub (or a greenlet scheduling on its behalf) resumes us.
///
/// If the next entry of the hub's current turn is a greenlet to resume, switch straight to
/// it: that is exactly what the hub would do next, minus a trip through the hub's stack (a
/// hand-off then costs one switch instead of two). Anything else (a callback, the end of the
/// turn) goes to the hub.
#[inline(always)]
fn switch_to_hub(task: &Rc<Task>) {
    let raw = task.kind == Kind::Raw;
    if raw {
        // A clone: `getcurrent`'s own handle would not keep the parked greenlet alive.
        #[allow(clippy::redundant_clone)]
        task.glet.set(Some(greenlet::getcurrent().clone()));
    }
    let next = hub::next_to_run();
    next.switch(());
    drop(next);
    if raw {
        drop(task.glet.take());
    }
}

/// Unwinds the current greenlet (whose task is `task`) with the interrupt `i`, noting its
/// payload so that the greenlet's end and `Timeout::is` recognise it.
pub(crate) fn raise(task: &Task, i: Interrupt) -> ! {
    let (payload, raised): (Payload, Raised) = match i {
        Interrupt::Kill(p) => {
            let p = p.unwrap_or_else(|| Box::new(GreenletExit));
            let r = Raised::of(&*p, ErrorKind::Killed, None);
            (p, r)
        }
        Interrupt::Timeout(e, make) => {
            let p: Payload = match make {
                Some(make) => make(),
                None => Box::new(e.clone()),
            };
            let r = Raised::of(&*p, ErrorKind::TimedOut, Some(e));
            (p, r)
        }
        #[cfg(feature = "monkey")]
        Interrupt::Again(p, r) => (p, r),
    };
    let what = (raised.kind, raised.timeout.clone());
    *task.raised.borrow_mut() = Some(raised);
    unwind_current(payload, move || match what {
        (ErrorKind::TimedOut, Some(e)) => format!("interrupted by a Timeout ({e})"),
        _ => "killed".into(),
    })
}

/// Unwinds the current greenlet with `payload` (a kill or a timeout); `what` says which, for
/// the message a program built with `panic = "abort"` gets instead of a silent abort.
#[cold]
pub(crate) fn unwind_current(payload: Box<dyn Any + Send>, what: impl FnOnce() -> String) -> ! {
    if cfg!(panic = "abort") {
        let what = what();
        let who = try_current().map_or_else(|| "a greenlet".to_string(), |t| t.label());
        let msg = format!(
            "greenwood: {who} was {what}, which unwinds its stack (its destructors run), but \
             this program is built with panic = \"abort\", where unwinding aborts the \
             process. Kill and Timeout need panic = \"unwind\", Rust's default: remove \
             `panic = \"abort\"` from the [profile] sections of Cargo.toml. Aborting now.\n"
        );
        use std::io::Write;
        let _ = std::io::stderr().write_all(msg.as_bytes());
        std::process::abort();
    }
    panic::resume_unwind(payload)
}

fn loop_exit_error(task: &Task, what: Option<&WaitOn>) -> LoopExit {
    let mut message = format!(
        "greenwood: LoopExit: {} would block forever: it waits on ",
        task.label()
    );
    match what {
        Some(w) => describe(w, &mut message, 0),
        None => message.push_str("something unknown"),
    }
    message.push_str(
        ", and nothing left in the hub can wake it (no greenlet is runnable, no timer is \
         pending, no I/O or thread-pool work is outstanding)",
    );
    LoopExit { message }
}

/// Describes `what`, following the chain of greenlets waiting on greenlets a few steps.
/// What a greenlet is doing, for the run info: running, runnable, or parked on what (and for
/// how long, when a monitor recorded when the park began).
pub(crate) fn state_of(task: &Task) -> String {
    use std::fmt::Write;
    match (task.status.get(), task.park.get()) {
        (Status::New, _) => "not started yet".to_owned(),
        (Status::Done, _) => "finished".to_owned(),
        (_, Park::Running) => "running".to_owned(),
        (_, Park::Scheduled) => "runnable (in the ready queue)".to_owned(),
        (_, Park::Parked) => {
            let mut out = String::from("waits on ");
            match task.waiting_on() {
                Some(w) => describe(&w, &mut out, 1),
                None => out.push_str("something unknown"),
            }
            let since = task.parked_at.get();
            if since != 0 && crate::hub::stats::coarse_now() != 0 {
                let waited = crate::hub::stats::since_coarse(since);
                let _ = write!(out, ", for {:.1} s", waited.as_secs_f64());
            }
            if let Some(at) = task.deadline.get() {
                let left = at.saturating_duration_since(std::time::Instant::now());
                match task.waiting_on() {
                    Some(WaitOn::Sleep(_)) => {
                        let _ = write!(out, " ({:.1} s left)", left.as_secs_f64());
                    }
                    _ => {
                        let _ = write!(out, ", timing out in {:.1} s", left.as_secs_f64());
                    }
                }
            }
            if let Some((at, site)) = task.timeout_at.get() {
                let left = at.saturating_duration_since(std::time::Instant::now());
                let _ = write!(
                    out,
                    ", inside a Timeout set at {site} that fires in {:.1} s",
                    left.as_secs_f64()
                );
            }
            out
        }
    }
}

fn describe(what: &WaitOn, out: &mut String, depth: usize) {
    use std::fmt::Write;
    match what {
        WaitOn::Greenlet(t) => {
            out.push_str(&t.label());
            if let Some(site) = t.site {
                let _ = write!(out, " (spawned at {site})");
            }
            if t.status.get() == Status::New {
                out.push_str(", which has not started");
            } else if let Some(next) = t.waiting_on() {
                if depth < 4 {
                    out.push_str(", which waits on ");
                    describe(&next, out, depth + 1);
                } else {
                    out.push_str(", which waits on ...");
                }
            }
        }
        WaitOn::Object(kind, site) => {
            let _ = write!(out, "{kind} created at {site}");
        }
        WaitOn::Sleep(d) => {
            let _ = write!(out, "sleep({d:?})");
        }
        WaitOn::Io { fd, direction } => {
            let _ = write!(out, "fd {fd} to become {direction}");
        }
        WaitOn::Idle => out.push_str("idle()"),
        WaitOn::Any(n) => {
            let _ = write!(out, "any of {n} objects");
        }
    }
}
