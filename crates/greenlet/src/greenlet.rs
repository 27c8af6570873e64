//! Greenlets: symmetric coroutines built on corosensei's asymmetric ones.
//!
//! # How a symmetric switch runs on asymmetric coroutines
//!
//! corosensei gives `resume` (enter a coroutine) and `suspend` (leave it, back to whoever
//! resumed it). greenlet needs `switch`: from any greenlet to any other. The thread's own stack
//! (its main greenlet) acts as the trampoline, and is the only place that ever calls `resume`:
//!
//! ```text
//!   main: g1.switch(v) ──► dispatch loop (on main's stack)
//!                            │ resume(g1) ──────────► g1 runs ... g2.switch(w)
//!                            │ ◄─────────── suspend (request: g2)
//!                            │ resume(g2) ──────────► g2 runs ... main.switch(x)
//!                            │ ◄─────────── suspend (request: main)
//!   main: switch returns x ◄─┘
//! ```
//!
//! So a switch between two greenlets is a suspend plus a resume, and a switch to or from the
//! main greenlet is just one. The value (`v`, `w`, `x`) does not travel through corosensei: the
//! switcher posts it in the thread's mailbox and the greenlet that gets control collects it, so
//! the dispatch loop only moves a target pointer. A greenlet that returns posts its result, or
//! its panic, for its parent (the first one that is not dead) and the loop switches there.
//!
//! # Invariants
//!
//! - A non-main greenlet runs only while the main greenlet is inside `dispatch`.
//! - The hot state is a `const` thread-local with no destructor (`FAST`): reading it is one
//!   `fs:`-relative load. `current` there is a plain pointer, not a counted handle, so a switch
//!   touches no reference counts. What keeps the greenlets it points at alive: whoever switched
//!   to a greenlet holds a handle to it for as long as that switch is pending, a parent is held
//!   by its child, and a greenlet whose last handle is dropped while it runs is parked in
//!   `orphans` (it can't be unwound from its own stack) and unwound by the next greenlet that
//!   gets control.
//! - Unwinding a dropped greenlet means switching into it, which is only possible from a
//!   greenlet's own stack: drops that happen while the main stack runs the switch hook on
//!   behalf of another greenlet (`dispatching`) are deferred to `orphans` too, and `switch` is
//!   refused there.

use std::any::Any;
use std::cell::{Cell, RefCell, UnsafeCell};
use std::fmt;
use std::hash::{Hash, Hasher};
use std::io;
use std::mem::MaybeUninit;
use std::panic::{self, AssertUnwindSafe, Location};
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};

use corosensei::{Coroutine, CoroutineResult, Yielder};

use crate::error::{GreenletExit, ParentError};
use crate::stack::{self, GreenletStack};
use crate::value::Value;

type Payload = Box<dyn Any + Send>;

/// What a greenlet receives when control comes back to it, and what it hands its parent when
/// it finishes.
enum Transfer {
    Value(Value),
    /// Unwind with this payload: a `GreenletExit` from `throw`, or a child's panic.
    Throw(Payload),
}

impl Transfer {
    #[inline(always)]
    fn into_value(self) -> Value {
        match self {
            Transfer::Value(v) => v,
            Transfer::Throw(p) => rethrow(p),
        }
    }

    /// The outcome of a greenlet that unwound with `p`: `GreenletExit` is a normal end.
    fn exit(p: Payload) -> Transfer {
        if p.is::<GreenletExit>() {
            Transfer::Value(Value::new(GreenletExit))
        } else {
            Transfer::Throw(p)
        }
    }
}

#[cold]
#[inline(never)]
fn rethrow(p: Payload) -> ! {
    if cfg!(panic = "abort") {
        // Only `throw` gets here under abort (a panic aborts before it reaches a parent).
        crate::sys::write_stderr(
            b"greenlet: a greenlet was thrown into (throw, or a kill), which unwinds its \
              stack, but this program is built with panic = \"abort\", where unwinding \
              aborts the process; use panic = \"unwind\", Rust's default. Aborting now.\n",
        );
        std::process::abort();
    }
    panic::resume_unwind(p)
}

// Nothing travels through corosensei itself: the transfer waits in the thread's mailbox (see
// `Fast`), so a switch moves no data through the coroutine boundary and the dispatch loop never
// touches it.
type Coro = Coroutine<(), (), (), GreenletStack>;
type GreenletYielder = Yielder<(), ()>;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum State {
    /// A thread's main greenlet: always running or suspended in `dispatch`, never dead.
    Main,
    /// Created, never switched to.
    New,
    /// Started and not finished: running, or suspended in a switch.
    Active,
    /// Returned, panicked or unwound; its stack is back in the pool.
    Dead,
}

struct Inner {
    state: Cell<State>,
    coro: UnsafeCell<Option<Coro>>,
    /// Set when the coroutine starts; valid until it finishes.
    yielder: Cell<*const GreenletYielder>,
    /// `None` only for a main greenlet.
    parent: Cell<Option<Greenlet>>,
    name: Option<Box<str>>,
    /// Where the greenlet was made, as its builder was told ([`Builder::site`]).
    site: Option<&'static Location<'static>>,
    id: u64,
    stack_size: usize,
    /// What a framework on top keeps per greenlet (see [`Greenlet::set_data`]).
    data: Cell<Option<Rc<dyn Any>>>,
    /// Live handles that [`getcurrent`] made for this greenlet while it ran (see `own`).
    own_handles: Cell<usize>,
}

/// A greenlet: a function running on its own stack that can [`switch`](Greenlet::switch) to
/// any other greenlet of its thread and be switched back to.
///
/// `Greenlet` is a cheap, clonable handle. Dropping the last handle to a greenlet that is
/// suspended in the middle of its function unwinds it (its destructors run) by raising
/// [`GreenletExit`] in it. Greenlets belong to the thread that created them:
///
/// ```compile_fail
/// fn assert_send<T: Send>() {}
/// assert_send::<greenlet::Greenlet>();
/// ```
///
/// ```compile_fail
/// fn assert_sync<T: Sync>() {}
/// assert_sync::<greenlet::Greenlet>();
/// ```
///
/// # Examples
///
/// The red/blue demo, with the two greenlets in thread-locals as Python keeps them in
/// module globals:
///
/// ```
/// use greenlet::{Greenlet, Value};
///
/// thread_local! {
///     static GR1: Greenlet = Greenlet::new(print_red);
///     static GR2: Greenlet = Greenlet::new(print_blue);
/// }
///
/// fn print_red(_: Value) {
///     println!("red");
///     GR2.with(|g| g.switch(()));
///     println!("red done");
/// }
///
/// fn print_blue(_: Value) {
///     println!("blue");
///     GR1.with(|g| g.switch(()));
///     println!("blue done"); // never reached
/// }
///
/// GR1.with(|g| g.switch(()));
/// ```
pub struct Greenlet {
    inner: Rc<Inner>,
    /// Made by [`getcurrent`] for the greenlet it names. Such handles do not keep a suspended
    /// greenlet alive on their own: a greenlet that suspends with one on its own stack (the
    /// temporary in `getcurrent().parent().unwrap().switch(())`) would otherwise hold itself
    /// forever, and with no garbage collector to find the cycle it would never be unwound.
    /// Clones are ordinary handles.
    own: bool,
}

impl Clone for Greenlet {
    #[inline]
    fn clone(&self) -> Greenlet {
        Greenlet {
            inner: self.inner.clone(),
            own: false,
        }
    }
}

/// A handle that does not keep its greenlet alive: Python's `weakref.ref(greenlet)`, for
/// registries and monitors that list greenlets without owning them. Made by
/// [`Greenlet::downgrade`]; [`upgrade`](WeakGreenlet::upgrade) gives an ordinary handle back
/// while any other handle exists. A suspended greenlet whose last strong handle goes is
/// unwound as ever, weak handles or not.
///
/// # Examples
///
/// ```
/// use greenlet::{getcurrent, Greenlet};
///
/// let main = getcurrent();
/// let g = Greenlet::new(move |_| {
///     main.switch(());
/// });
/// let weak = g.downgrade();
/// g.switch(()); // suspended in its switch
/// assert_eq!(weak.upgrade().as_ref(), Some(&g));
/// drop(g); // the last handle: unwound and freed
/// assert!(weak.upgrade().is_none());
/// ```
#[derive(Clone)]
pub struct WeakGreenlet {
    inner: std::rc::Weak<Inner>,
    id: u64,
}

impl WeakGreenlet {
    /// An ordinary handle to the greenlet, if any other handle still exists.
    ///
    /// # Examples
    ///
    /// ```
    /// let g = greenlet::Greenlet::new(|_| ());
    /// let weak = g.downgrade();
    /// assert!(weak.upgrade().is_some());
    /// drop(g);
    /// assert!(weak.upgrade().is_none());
    /// ```
    pub fn upgrade(&self) -> Option<Greenlet> {
        self.inner
            .upgrade()
            .map(|inner| Greenlet { inner, own: false })
    }

    /// The greenlet's id (see [`Greenlet::id`]), known even once it is gone.
    ///
    /// # Examples
    ///
    /// ```
    /// let g = greenlet::Greenlet::new(|_| ());
    /// let weak = g.downgrade();
    /// let id = g.id();
    /// drop(g);
    /// assert_eq!(weak.id(), id);
    /// ```
    pub fn id(&self) -> u64 {
        self.id
    }
}

impl PartialEq for WeakGreenlet {
    fn eq(&self, other: &WeakGreenlet) -> bool {
        std::rc::Weak::ptr_eq(&self.inner, &other.inner)
    }
}

impl Eq for WeakGreenlet {}

impl Hash for WeakGreenlet {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.id.hash(state);
    }
}

impl fmt::Debug for WeakGreenlet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WeakGreenlet")
            .field("id", &self.id)
            .field("alive", &(self.inner.strong_count() > 0))
            .finish()
    }
}

/// A per-thread function called on every switch with what kind of switch it is, the greenlet
/// leaving and the greenlet entering. See [`settrace`]. Shared (`Rc`), so that [`gettrace`]
/// can hand it out and a new hook can call the one it replaces; a hook that keeps state keeps
/// it in a `Cell` or `RefCell`.
pub type SwitchHook = Rc<dyn Fn(TraceEvent, &Greenlet, &Greenlet)>;

/// What passes to the greenlet entering, as a [`SwitchHook`] is told: Python greenlet's
/// `"switch"` and `"throw"` trace events.
///
/// # Examples
///
/// ```
/// use greenlet::TraceEvent;
///
/// assert_eq!(TraceEvent::Throw.as_str(), "throw");
/// assert_eq!(TraceEvent::Switch.to_string(), "switch");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TraceEvent {
    /// A value: a [`switch`](Greenlet::switch), the first switch that starts a greenlet, or a
    /// greenlet's result (or its end by [`GreenletExit`]) going to its parent.
    Switch,
    /// An unwind: [`throw`](Greenlet::throw) or [`throw_with`](Greenlet::throw_with), the kill
    /// of a greenlet whose last handle was dropped, or a child's panic going to its parent.
    Throw,
}

impl TraceEvent {
    /// `"switch"` or `"throw"`, the names Python greenlet's trace function gets.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(greenlet::TraceEvent::Switch.as_str(), "switch");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            TraceEvent::Switch => "switch",
            TraceEvent::Throw => "throw",
        }
    }
}

impl fmt::Display for TraceEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The per-thread state a switch reads and writes: `const`-initialised, no destructor.
struct Fast {
    /// The running greenlet; null until this thread's [`ThreadState`] exists, and again once
    /// it is gone.
    current: Cell<*const Inner>,
    /// The main stack is running the switch hook on behalf of another greenlet.
    dispatching: Cell<bool>,
    hook_set: Cell<bool>,
    /// `ThreadState::orphans` is not empty.
    orphans_pending: Cell<bool>,
    /// The [`Transfer`] in flight. Every switch posts exactly one, and the greenlet that gets
    /// control collects it before anything else can post (see `post` and `collect`).
    mailbox: UnsafeCell<MaybeUninit<Transfer>>,
    /// The greenlet a suspending greenlet asks the dispatch loop to switch to. Kept alive by
    /// the requester, whose pending `switch` borrows a handle to it.
    request: Cell<*const Inner>,
}

/// The rest, created on first use: owns the main greenlet.
struct ThreadState {
    main: Greenlet,
    orphans: RefCell<Vec<Greenlet>>,
    hook: Cell<Option<SwitchHook>>,
}

thread_local! {
    static FAST: Fast = const {
        Fast {
            current: Cell::new(std::ptr::null()),
            dispatching: Cell::new(false),
            hook_set: Cell::new(false),
            orphans_pending: Cell::new(false),
            mailbox: UnsafeCell::new(MaybeUninit::uninit()),
            request: Cell::new(std::ptr::null()),
        }
    };
    static STATE: ThreadState = ThreadState::new();
}

/// This thread's [`Fast`]. A plain `FAST.with(..)` around a large closure is not inlined, and
/// then every access is an indirect call; fetching the address in a tiny closure is one
/// `fs:`-relative `lea`.
#[inline(always)]
fn fast() -> &'static Fast {
    // SAFETY: `FAST` is a `const`-initialised thread-local without a destructor: its storage
    // lives as long as the thread, longer than any code running on it. `&Fast` is `!Send`
    // (`Fast` holds `Cell`s), so the reference never leaves the thread.
    FAST.with(|f| unsafe { &*(f as *const Fast) })
}

/// The greenlet running on this thread, for a signal handler that interrupted it (`sample`):
/// `f` sees its id, site and name; `None` before this thread's greenlet state exists, or once
/// it is gone. Reads only; allocates nothing.
pub(crate) fn with_running<R>(
    f: impl FnOnce(u64, Option<&'static Location<'static>>, Option<&str>) -> R,
) -> Option<R> {
    let cur = fast().current.get();
    if cur.is_null() {
        return None;
    }
    // SAFETY: `current` points to the running greenlet's `Inner`, which lives while it runs
    // (the thread's state or a handle on the switching greenlet's stack holds it), and a
    // signal handler runs on top of that greenlet, so the `Inner` outlives the call. `id`,
    // `site` and `name` never change after creation.
    let inner = unsafe { &*cur };
    Some(f(inner.id, inner.site, inner.name.as_deref()))
}

fn next_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// The running greenlet, creating the thread's state (and its main greenlet) on first use.
#[inline]
fn current_ptr() -> *const Inner {
    let cur = fast().current.get();
    if cur.is_null() {
        return init_thread();
    }
    cur
}

#[cold]
fn init_thread() -> *const Inner {
    STATE
        .try_with(|st| Rc::as_ptr(&st.main.inner))
        .expect("greenlet: this thread's greenlet state is gone: the thread is exiting")
}

/// A handle to the greenlet behind `ptr`, which must be alive.
fn handle(ptr: *const Inner) -> Greenlet {
    // SAFETY: `ptr` came from `Rc::as_ptr` of a greenlet that is alive (see the invariants),
    // so taking one more strong count for the new handle is sound.
    unsafe {
        Rc::increment_strong_count(ptr);
        Greenlet {
            inner: Rc::from_raw(ptr),
            own: false,
        }
    }
}

/// Runs `f` with a borrowed handle to the live greenlet behind `ptr`, without counting it.
fn borrowed<R>(ptr: *const Inner, f: impl FnOnce(&Greenlet) -> R) -> R {
    // SAFETY: as in `handle`; `ManuallyDrop` never gives back the count it did not take.
    let inner = unsafe { Rc::from_raw(ptr) };
    let g = std::mem::ManuallyDrop::new(Greenlet { inner, own: false });
    f(&g)
}

impl ThreadState {
    fn new() -> ThreadState {
        let main = Greenlet {
            inner: Rc::new(Inner {
                state: Cell::new(State::Main),
                coro: UnsafeCell::new(None),
                yielder: Cell::new(std::ptr::null()),
                parent: Cell::new(None),
                name: Some("main".into()),
                site: None,
                id: next_id(),
                stack_size: 0,
                data: Cell::new(None),
                own_handles: Cell::new(0),
            }),
            own: false,
        };
        FAST.with(|f| f.current.set(Rc::as_ptr(&main.inner)));
        ThreadState {
            main,
            orphans: RefCell::new(Vec::new()),
            hook: Cell::new(None),
        }
    }
}

impl Drop for ThreadState {
    fn drop(&mut self) {
        // From now on nothing can switch: greenlets dropped later leak their stacks.
        let _ = FAST.try_with(|f| f.current.set(std::ptr::null()));
    }
}

/// Posts the transfer for the greenlet about to get control.
#[inline(always)]
fn post(fast: &Fast, transfer: Transfer) {
    // SAFETY: the mailbox is empty: the last transfer was collected by the greenlet that got
    // control, before it could switch again.
    unsafe { (*fast.mailbox.get()).write(transfer) };
}

/// Collects the transfer posted for the greenlet that just got control.
#[inline(always)]
fn collect(fast: &Fast) -> Transfer {
    // SAFETY: every switch posts exactly one transfer before control moves, and the greenlet
    // that gets control collects it once, first thing.
    unsafe { (*fast.mailbox.get()).assume_init_read() }
}

/// Runs switches on the main greenlet's stack until one targets the main greenlet, with the
/// transfer waiting in the mailbox. Called only with the main greenlet current.
fn dispatch(fast: &Fast, mut target: *const Inner) {
    loop {
        // SAFETY: `target` is alive: held by the requester or, for a parent, by its child.
        let t = unsafe { &*target };
        // Branches, not a `match`: a jump table is an indirect branch on the hottest path.
        let state = t.state.get();
        if state != State::Active {
            if state == State::Main {
                enter(fast, target);
                return;
            }
            if state == State::Dead {
                // A finished greenlet passes what it is given to its parent.
                target = parent_ptr(t);
                continue;
            }
            t.state.set(State::Active);
        }
        enter(fast, target);
        // SAFETY: a greenlet that is not dead has its coroutine, and nothing else touches it
        // while it runs: only this loop resumes coroutines, and it is never re-entered (a
        // switch from inside the coroutine suspends back here).
        let coro = unsafe { (*t.coro.get()).as_mut().unwrap_unchecked() };
        match coro.resume(()) {
            CoroutineResult::Yield(()) => target = fast.request.get(),
            CoroutineResult::Return(()) => {
                // It posted its outcome for its parent.
                t.state.set(State::Dead);
                // SAFETY: the coroutine has returned; we are its only user.
                let done = unsafe { (*t.coro.get()).take() };
                drop(done.map(Coroutine::into_stack)); // back to the pool
                target = parent_ptr(t);
            }
        }
    }
}

/// The parent of a non-main greenlet, or the main greenlet if it has none.
fn parent_ptr(t: &Inner) -> *const Inner {
    let p = t.parent.take();
    let ptr = match &p {
        Some(g) => Rc::as_ptr(&g.inner),
        None => init_thread(),
    };
    t.parent.set(p);
    ptr
}

/// Makes `to` the current greenlet, calling the hook first if there is one.
#[inline(always)]
fn enter(fast: &Fast, to: *const Inner) {
    let from = fast.current.get();
    if from != to {
        if fast.hook_set.get() {
            call_hook(fast, from, to);
        }
        fast.current.set(to);
    }
}

#[cold]
#[inline(never)]
fn call_hook(fast: &Fast, from: *const Inner, to: *const Inner) {
    let Ok(Some(hook)) = STATE.try_with(|st| cell_clone(&st.hook)) else {
        return;
    };
    // SAFETY: `enter` runs only in `dispatch`, after the switch that moves control posted its
    // transfer and before the greenlet getting control collects it, so the mailbox holds an
    // initialised transfer; this only reads its variant through a shared reference.
    let event = match unsafe { (*fast.mailbox.get()).assume_init_ref() } {
        Transfer::Value(_) => TraceEvent::Switch,
        Transfer::Throw(_) => TraceEvent::Throw,
    };
    fast.dispatching.set(true);
    let r = panic::catch_unwind(AssertUnwindSafe(|| {
        borrowed(from, |from| borrowed(to, |to| hook(event, from, to)));
        // Still `dispatching`: if the hook replaced itself this is its last handle, and what
        // it captured (greenlets, say) must not be unwound from here.
        drop(hook);
    }));
    fast.dispatching.set(false);
    if r.is_err() {
        crate::sys::write_stderr(
            b"greenlet: the switch hook panicked; a hook runs between two stacks, where a \
              panic has nowhere to go, so the process aborts\n",
        );
        std::process::abort();
    }
}

/// Bookkeeping when a greenlet gets control back, on its own stack.
#[inline(always)]
fn on_resume(fast: &Fast) {
    if fast.orphans_pending.get() {
        drop_orphans(fast);
    }
}

#[cold]
#[inline(never)]
fn drop_orphans(fast: &Fast) {
    fast.orphans_pending.set(false);
    if let Ok(orphans) = STATE.try_with(|st| std::mem::take(&mut *st.orphans.borrow_mut())) {
        drop(orphans);
    }
}

impl Greenlet {
    /// Creates a greenlet that will run `run` when first switched to, with the current greenlet
    /// as its parent and this thread's default stack size.
    ///
    /// `run` receives the value of the first switch; what it returns goes to the parent as a
    /// [`Value`], and if it panics the panic continues in the parent.
    ///
    /// # Panics
    ///
    /// Panics if the kernel refuses memory for the stack; [`Builder::build`] returns the error
    /// instead.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::Greenlet;
    ///
    /// let g = Greenlet::new(|v| v.downcast::<i32>().unwrap() * 2);
    /// assert_eq!(g.switch(21).downcast::<i32>().unwrap(), 42);
    /// assert!(g.is_dead());
    /// ```
    #[track_caller]
    pub fn new<F, R>(run: F) -> Greenlet
    where
        F: FnOnce(Value) -> R + 'static,
        R: 'static,
    {
        match Builder::new().build(run) {
            Ok(g) => g,
            Err(e) => build_failed(&e),
        }
    }

    /// A builder to set the name, stack size or parent of a new greenlet.
    ///
    /// # Examples
    ///
    /// ```
    /// let g = greenlet::Greenlet::builder().name("resizer").build(|_| ())?;
    /// assert_eq!(g.name(), Some("resizer"));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn builder() -> Builder {
        Builder::new()
    }

    /// Switches to this greenlet, passing `value`, and returns the value given by whoever
    /// switches back to the caller.
    ///
    /// - The first switch into a greenlet starts its function with `value`.
    /// - Switching to a suspended greenlet makes its own pending `switch` return `value`.
    /// - Switching to the current greenlet returns `value` at once.
    /// - Switching to a dead greenlet switches to its parent (the first one not dead).
    ///
    /// When a greenlet's function returns, its parent's pending `switch` returns the result;
    /// when it panics, the panic resumes in the parent, out of that `switch`.
    ///
    /// # Panics
    ///
    /// Resumes the panic of a child greenlet that finished by panicking while the caller was
    /// its parent, or raised by [`throw`](Greenlet::throw) at the caller. Panics if called from
    /// inside a switch hook.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::{getcurrent, Greenlet};
    ///
    /// let main = getcurrent();
    /// let g = Greenlet::new(move |first| {
    ///     let n = first.downcast::<u32>().unwrap();
    ///     let next = main.switch(n + 1).downcast::<u32>().unwrap();
    ///     next * 10
    /// });
    /// assert_eq!(g.switch(1u32).downcast::<u32>().unwrap(), 2);
    /// assert_eq!(g.switch(5u32).downcast::<u32>().unwrap(), 50);
    /// ```
    // Inlined so that the switch sits in the caller's own frame: a greenlet then resumes where
    // it suspended without first returning through frames the CPU's return-stack predictor no
    // longer knows about (that misprediction tripled the cost of a switch).
    #[inline(always)]
    pub fn switch<V: 'static>(&self, value: V) -> Value {
        self.transfer(Transfer::Value(Value::new(value)))
    }

    /// Resumes this greenlet by raising [`GreenletExit`] where it is suspended, unwinding it
    /// (its destructors run). Like [`switch`](Greenlet::switch), returns when control comes
    /// back. A greenlet that ends because of the `GreenletExit` hands its parent a [`Value`]
    /// holding `GreenletExit`. Throwing into a greenlet that never started kills it without
    /// running its function; throwing into a dead one returns a `GreenletExit` value at once.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::{getcurrent, Greenlet, GreenletExit};
    ///
    /// let main = getcurrent();
    /// let g = Greenlet::new(move |_| {
    ///     let _guard = scopeguard(|| println!("unwound"));
    ///     main.switch(());
    /// });
    /// g.switch(());
    /// assert!(g.throw().is::<GreenletExit>()); // prints "unwound"
    /// # fn scopeguard(f: impl FnMut()) -> impl Drop {
    /// #     struct D<F: FnMut()>(F);
    /// #     impl<F: FnMut()> Drop for D<F> { fn drop(&mut self) { (self.0)() } }
    /// #     D(f)
    /// # }
    /// ```
    pub fn throw(&self) -> Value {
        if self.is_dead() {
            // Killing what is already dead is a no-op, as gevent's `kill` is.
            return Value::new(GreenletExit);
        }
        self.throw_with(GreenletExit)
    }

    /// Resumes this greenlet by unwinding it with `payload` as the panic payload, as Python's
    /// `greenlet.throw(exc)` raises an exception in it. Unless the greenlet catches it, it dies
    /// and the panic continues in its parent (a [`GreenletExit`] payload ends it normally).
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::{getcurrent, Greenlet};
    ///
    /// struct Cancelled;
    /// let main = getcurrent();
    /// let g = Greenlet::new(move |_| {
    ///     let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| main.switch(())));
    ///     // The payload arrives where the greenlet was suspended, as an unwind.
    ///     r.err().is_some_and(|p| p.is::<Cancelled>())
    /// });
    /// g.switch(());
    /// assert!(g.throw_with(Cancelled).downcast::<bool>().unwrap());
    /// ```
    pub fn throw_with<E: Any + Send>(&self, payload: E) -> Value {
        self.transfer(Transfer::Throw(Box::new(payload)))
    }

    #[inline(always)]
    fn transfer(&self, transfer: Transfer) -> Value {
        let target = Rc::as_ptr(&self.inner);
        let cur = current_ptr();
        let fast = fast();
        if fast.dispatching.get() {
            drop(transfer);
            panic!("greenlet: switch called from inside a switch hook; a hook must not switch");
        }
        // SAFETY: the current greenlet is alive (see the invariants).
        let current = unsafe { &*cur };
        if current.state.get() == State::Main {
            post(fast, transfer);
            dispatch(fast, target);
        } else if cur == target {
            return transfer.into_value();
        } else {
            post(fast, transfer);
            fast.request.set(target);
            // SAFETY: the current greenlet is not the main one and the hook is not running,
            // so we are on its coroutine's stack, inside its body, where the yielder it stored
            // at start-up is valid. `self` outlives the suspension (we borrow it).
            unsafe { (*current.yielder.get()).suspend(()) };
        }
        let back = collect(fast);
        on_resume(fast);
        back.into_value()
    }

    /// The greenlet that receives this one's result when it finishes: the creator, unless set
    /// otherwise. `None` for a thread's main greenlet.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::{getcurrent, Greenlet};
    ///
    /// let g = Greenlet::new(|_| ());
    /// assert_eq!(g.parent(), Some(getcurrent()));
    /// assert_eq!(getcurrent().parent(), None);
    /// ```
    pub fn parent(&self) -> Option<Greenlet> {
        let p = self.inner.parent.take();
        let copy = p.clone();
        self.inner.parent.set(p);
        copy
    }

    /// Changes the parent.
    ///
    /// # Errors
    ///
    /// [`ParentError::Cycle`] if `parent` is this greenlet or one of its descendants, and
    /// [`ParentError::MainGreenlet`] for a thread's main greenlet. A parent on another thread
    /// is impossible: greenlets are `!Send`.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::Greenlet;
    ///
    /// let a = Greenlet::new(|_| ());
    /// let b = Greenlet::new(|_| ());
    /// b.set_parent(&a).unwrap();
    /// assert!(a.set_parent(&b).is_err()); // a -> b -> a
    /// ```
    pub fn set_parent(&self, parent: &Greenlet) -> Result<(), ParentError> {
        if self.is_main() {
            return Err(ParentError::MainGreenlet);
        }
        // Walk the new parent's ancestors by pointer: no handle is created or dropped, so no
        // user code runs while we look.
        let me = Rc::as_ptr(&self.inner);
        let mut p = Rc::as_ptr(&parent.inner);
        loop {
            if p == me {
                return Err(ParentError::Cycle {
                    greenlet: self.to_string(),
                    parent: parent.to_string(),
                });
            }
            // SAFETY: `p` is `parent` or an ancestor of it, each held alive by its child's
            // parent handle; reading the cell through a shared reference is sound because
            // nothing writes it during this loop (it runs no user code, and greenlets are
            // !Sync).
            match unsafe { &*(*p).parent.as_ptr() } {
                Some(g) => p = Rc::as_ptr(&g.inner),
                None => break,
            }
        }
        drop(self.inner.parent.replace(Some(parent.clone())));
        Ok(())
    }

    /// Whether the greenlet has been switched to (always true for a main greenlet).
    ///
    /// The life of a greenlet, as these four methods see it:
    ///
    /// ```
    /// use greenlet::{getcurrent, Greenlet};
    ///
    /// let main = getcurrent();
    /// assert!(main.is_main() && main.is_started() && main.is_active());
    /// let m = main.clone();
    /// let g = Greenlet::new(move |_| m.switch(()));
    /// assert!(!g.is_started() && !g.is_active() && !g.is_dead()); // created
    /// g.switch(());
    /// assert!(g.is_started() && g.is_active() && !g.is_dead()); // suspended in its switch
    /// g.switch(());
    /// assert!(g.is_started() && !g.is_active() && g.is_dead()); // its function returned
    /// assert!(!g.is_main());
    /// ```
    pub fn is_started(&self) -> bool {
        self.inner.state.get() != State::New
    }

    /// Whether it has started and not finished: running or suspended in a switch (Python's
    /// `bool(greenlet)`). See [`is_started`](Greenlet::is_started) for an example.
    pub fn is_active(&self) -> bool {
        matches!(self.inner.state.get(), State::Main | State::Active)
    }

    /// Whether its function has returned, panicked or been unwound. See
    /// [`is_started`](Greenlet::is_started) for an example.
    pub fn is_dead(&self) -> bool {
        self.inner.state.get() == State::Dead
    }

    /// Whether this is a thread's main greenlet (the thread's own stack). See
    /// [`is_started`](Greenlet::is_started) for an example.
    pub fn is_main(&self) -> bool {
        self.inner.state.get() == State::Main
    }

    /// The name given by [`Builder::name`] (`"main"` for a thread's main greenlet).
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(greenlet::getcurrent().name(), Some("main"));
    /// assert_eq!(greenlet::Greenlet::new(|_| ()).name(), None);
    /// ```
    pub fn name(&self) -> Option<&str> {
        self.inner.name.as_deref()
    }

    /// Where the greenlet was made, if its builder was told ([`Builder::site`]): what a
    /// framework on top calls its spawn site.
    ///
    /// # Examples
    ///
    /// ```
    /// let here = std::panic::Location::caller();
    /// let g = greenlet::Builder::new().site(here).build(|_| ())?;
    /// assert_eq!(g.site(), Some(here));
    /// assert_eq!(greenlet::getcurrent().site(), None);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn site(&self) -> Option<&'static Location<'static>> {
        self.inner.site
    }

    /// A process-wide unique number.
    ///
    /// # Examples
    ///
    /// ```
    /// let (a, b) = (greenlet::Greenlet::new(|_| ()), greenlet::Greenlet::new(|_| ()));
    /// assert_ne!(a.id(), b.id());
    /// assert_eq!(a.id(), a.clone().id());
    /// ```
    pub fn id(&self) -> u64 {
        self.inner.id
    }

    /// Usable stack size in bytes (0 for a main greenlet, whose stack is the thread's).
    ///
    /// # Examples
    ///
    /// ```
    /// let g = greenlet::Greenlet::builder().stack_size(100_000).build(|_| ())?;
    /// assert!(g.stack_size() >= 100_000); // rounded up to whole pages
    /// assert_eq!(greenlet::getcurrent().stack_size(), 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn stack_size(&self) -> usize {
        self.inner.stack_size
    }

    /// A [`WeakGreenlet`]: a handle that does not keep this greenlet alive.
    ///
    /// # Examples
    ///
    /// ```
    /// let g = greenlet::Greenlet::new(|_| ());
    /// assert_eq!(g.downgrade().upgrade(), Some(g.clone()));
    /// assert_eq!(g.downgrade(), g.downgrade());
    /// ```
    pub fn downgrade(&self) -> WeakGreenlet {
        WeakGreenlet {
            inner: Rc::downgrade(&self.inner),
            id: self.inner.id,
        }
    }

    /// Attaches `data` to this greenlet, returning what was attached before.
    ///
    /// One slot per greenlet, for the framework that schedules it: greenwood keeps its
    /// per-greenlet state here, where [`current_data`] finds it in a few instructions. The
    /// slot is emptied when the greenlet is dropped, not when it finishes: a framework that
    /// stores something pointing back at the greenlet clears the slot itself.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::rc::Rc;
    ///
    /// let g = greenlet::Greenlet::new(|_| {
    ///     let d = greenlet::current_data().unwrap();
    ///     *d.downcast_ref::<&str>().unwrap()
    /// });
    /// g.set_data(Some(Rc::new("request 7")));
    /// assert_eq!(g.switch(()).downcast::<&str>().unwrap(), "request 7");
    /// ```
    pub fn set_data(&self, data: Option<Rc<dyn Any>>) -> Option<Rc<dyn Any>> {
        self.inner.data.replace(data)
    }

    /// What [`set_data`](Greenlet::set_data) attached, if anything.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::rc::Rc;
    ///
    /// let g = greenlet::Greenlet::new(|_| ());
    /// assert!(g.data().is_none());
    /// g.set_data(Some(Rc::new(7u32)));
    /// assert_eq!(g.data().unwrap().downcast_ref::<u32>(), Some(&7));
    /// ```
    pub fn data(&self) -> Option<Rc<dyn Any>> {
        cell_clone(&self.inner.data)
    }

    /// The last handle to a started, unfinished greenlet is going away.
    #[cold]
    #[inline(never)]
    fn last_handle_dropped(&mut self) {
        let me = Rc::as_ptr(&self.inner);
        let defer = FAST.try_with(|f| f.dispatching.get() || f.current.get() == me);
        if defer == Ok(true) {
            // Running (it can't unwind itself from its own stack) or not on a greenlet's stack:
            // keep it for the next greenlet that gets control.
            let parked = STATE.try_with(|st| st.orphans.borrow_mut().push(self.clone()));
            if parked.is_ok() {
                let _ = FAST.try_with(|f| f.orphans_pending.set(true));
                return;
            }
        }
        // Under panic = "abort" nothing can be unwound: the stack is leaked below, and the
        // greenlet's destructors never run (as for a thread at process exit).
        let alive = !cfg!(panic = "abort")
            && FAST
                .try_with(|f| !f.current.get().is_null())
                .unwrap_or(false);
        if alive {
            // Bring control back here once it has unwound.
            let parent = self.inner.parent.replace(Some(handle(current_ptr())));
            if let Err(p) = panic::catch_unwind(AssertUnwindSafe(|| self.throw())) {
                let msg = panic_message(&*p);
                warn(&format!(
                    "{self} panicked while being unwound on drop: {msg}"
                ));
            }
            if self.inner.state.get() == State::Active {
                // It caught the GreenletExit and suspended again: the killer was its parent
                // only for the kill.
                drop(self.inner.parent.replace(parent));
            } else {
                drop(parent);
            }
        }
        if Rc::strong_count(&self.inner) == 1 && self.inner.state.get() == State::Active {
            // The thread is exiting (no switch is possible any more) or the greenlet caught its
            // GreenletExit and suspended again. Its stack can't be freed under live frames.
            if alive {
                warn(&format!(
                    "{self} survived GreenletExit while being dropped; leaking its stack ({} KiB)",
                    self.inner.stack_size / 1024
                ));
            }
            // SAFETY: last handle; nothing else uses the coroutine.
            std::mem::forget(unsafe { (*self.inner.coro.get()).take() });
        }
    }
}

/// Raises the error of [`Greenlet::new`]. The kernel refused a stack, so the panic is raised
/// without the panic hook (whose backtrace needs memory and mappings of its own: it hung at
/// `vm.max_map_count`), and said on stderr first from a buffer on the stack.
#[cold]
#[inline(never)]
fn build_failed(e: &io::Error) -> ! {
    use std::io::Write;
    let mut buf = [0u8; 1024];
    let mut rest = &mut buf[..];
    let _ = writeln!(rest, "{e}");
    let len = 1024 - rest.len();
    crate::sys::write_stderr(&buf[..len]);
    panic::resume_unwind(Box::new(e.to_string()))
}

/// A handler for the greenlet crate's warnings; see [`set_warning_handler`].
pub type WarningHandler = Box<dyn Fn(&str) + Send + Sync>;

type SharedWarningHandler = std::sync::Arc<dyn Fn(&str) + Send + Sync>;

static WARNINGS: std::sync::RwLock<Option<SharedWarningHandler>> = std::sync::RwLock::new(None);

/// Sends the crate's warnings (a greenlet that panicked or survived while being unwound on
/// drop) to `handler`, for the whole process, instead of one `greenlet: MESSAGE` line on
/// stderr; `None` restores that default. greenwood routes them into its own reports.
///
/// # Examples
///
/// ```
/// greenlet::set_warning_handler(Some(Box::new(|msg| eprintln!("[greenlet] {msg}"))));
/// greenlet::set_warning_handler(None);
/// ```
pub fn set_warning_handler(handler: Option<WarningHandler>) {
    let handler = handler.map(SharedWarningHandler::from);
    *WARNINGS.write().unwrap_or_else(|e| e.into_inner()) = handler;
}

fn warn(msg: &str) {
    // Cloned out of the lock: the handler may set another one.
    let handler = WARNINGS.read().unwrap_or_else(|e| e.into_inner()).clone();
    match handler {
        Some(h) => h(msg),
        None => eprintln!("greenlet: {msg}"),
    }
}

fn panic_message(p: &(dyn Any + Send)) -> &str {
    if let Some(s) = p.downcast_ref::<&str>() {
        s
    } else if let Some(s) = p.downcast_ref::<String>() {
        s
    } else {
        "(a non-string panic payload)"
    }
}

impl Drop for Greenlet {
    #[inline]
    fn drop(&mut self) {
        if self.own {
            self.inner.own_handles.set(self.inner.own_handles.get() - 1);
        }
        if self.inner.state.get() != State::Active {
            return;
        }
        let others = Rc::strong_count(&self.inner) - 1;
        // The last handle, or the last one that is not the greenlet's own (see `own`).
        if others == 0 || (!self.own && others == self.inner.own_handles.get()) {
            self.last_handle_dropped();
        }
    }
}

impl PartialEq for Greenlet {
    fn eq(&self, other: &Greenlet) -> bool {
        Rc::ptr_eq(&self.inner, &other.inner)
    }
}

impl Eq for Greenlet {}

impl Hash for Greenlet {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.inner.id.hash(state);
    }
}

impl fmt::Display for Greenlet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => write!(f, "greenlet '{n}'"),
            None => write!(f, "greenlet 'greenlet-{}'", self.inner.id),
        }
    }
}

impl fmt::Debug for Greenlet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Greenlet")
            .field("id", &self.inner.id)
            .field("name", &self.name())
            .field("state", &self.inner.state.get())
            .finish()
    }
}

/// The greenlet running now. On a thread that never switched, its main greenlet.
///
/// The handle returned does not keep the greenlet alive by itself: once every other handle to
/// a suspended greenlet is gone, it is unwound even if it holds handles from `getcurrent` to
/// itself (on its stack, say, as the temporary in `getcurrent().parent().unwrap().switch(())`
/// is until the switch returns). Python's greenlet leaves that cycle to its garbage
/// collector; Rust has none. To keep a greenlet alive from somewhere, store a clone: clones
/// are ordinary handles.
///
/// # Examples
///
/// ```
/// let main = greenlet::getcurrent();
/// assert!(main.is_main());
/// let g = greenlet::Greenlet::new(|_| greenlet::getcurrent().is_main());
/// assert_eq!(g.switch(()).downcast::<bool>().unwrap(), false);
/// ```
pub fn getcurrent() -> Greenlet {
    let mut g = handle(current_ptr());
    g.own = true;
    g.inner.own_handles.set(g.inner.own_handles.get() + 1);
    g
}

/// The id of the running greenlet ([`Greenlet::id`]) without making a handle to it (which
/// `getcurrent().id()` does, and drops again).
///
/// # Examples
///
/// ```
/// assert_eq!(greenlet::current_id(), greenlet::getcurrent().id());
/// let g = greenlet::Greenlet::new(|_| greenlet::current_id());
/// assert_eq!(g.switch(()).downcast::<u64>().unwrap(), g.id());
/// ```
#[inline]
pub fn current_id() -> u64 {
    // SAFETY: the current greenlet is alive while it runs (see the invariants), and `id`
    // never changes after creation.
    unsafe { (*current_ptr()).id }
}

/// What is attached to the running greenlet with [`Greenlet::set_data`], without creating a
/// handle to the greenlet itself.
///
/// # Examples
///
/// ```
/// assert!(greenlet::current_data().is_none());
/// ```
#[inline]
pub fn current_data() -> Option<Rc<dyn Any>> {
    // SAFETY: the current greenlet is alive (see the invariants). Reading the cell's content
    // through a shared reference is sound because nothing can write the cell meanwhile:
    // cloning an `Rc` runs no user code, and the greenlet is !Sync.
    unsafe { (*(*current_ptr()).data.as_ptr()).clone() }
}

/// As [`current_data`], but `None` on a thread whose greenlet state does not exist (never
/// used, or already destroyed at thread exit) instead of creating it: it never allocates, so
/// it is safe in a panic hook or an interposed libc call.
///
/// # Examples
///
/// ```
/// std::thread::spawn(|| assert!(greenlet::try_current_data().is_none())).join().unwrap();
/// ```
#[inline]
pub fn try_current_data() -> Option<Rc<dyn Any>> {
    let cur = fast().current.get();
    if cur.is_null() {
        return None;
    }
    // SAFETY: as in `current_data`: a non-null `current` is the live running greenlet.
    unsafe { (*(*cur).data.as_ptr()).clone() }
}

fn cell_clone<T: Clone>(cell: &Cell<Option<T>>) -> Option<T> {
    let v = cell.take();
    let copy = v.clone();
    cell.set(v);
    copy
}

/// Sets this thread's switch hook, returning the previous one. `None` removes it. Python
/// greenlet's `settrace`.
///
/// The hook is called on every switch between two different greenlets of this thread, with
/// the [`TraceEvent`] (a value passes, or an unwind), the greenlet leaving and the one
/// entering, before the switch. It runs between two stacks: it must not switch (that panics)
/// and must not panic (that aborts). It may call `settrace` itself, to replace or remove
/// itself. When no hook is set, a switch pays one predictable branch for the feature.
///
/// # Examples
///
/// ```
/// use std::{cell::RefCell, rc::Rc};
/// use greenlet::{Greenlet, TraceEvent};
///
/// let seen = Rc::new(RefCell::new(Vec::new()));
/// let log = seen.clone();
/// greenlet::settrace(Some(Rc::new(move |event, from: &Greenlet, to: &Greenlet| {
///     log.borrow_mut().push(format!("{event} {} -> {}", from.name().unwrap(), to.name().unwrap()));
/// })));
/// let g = Greenlet::builder().name("g").build(|_| greenlet::getcurrent().parent().unwrap().switch(()))?;
/// g.switch(());
/// g.throw();
/// greenlet::settrace(None);
/// assert_eq!(*seen.borrow(), ["switch main -> g", "switch g -> main", "throw main -> g", "switch g -> main"]);
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn settrace(hook: Option<SwitchHook>) -> Option<SwitchHook> {
    current_ptr();
    fast().hook_set.set(hook.is_some());
    STATE.with(|st| st.hook.replace(hook))
}

/// This thread's switch hook, if one is set: Python greenlet's `gettrace`. A new hook can
/// call it to chain the two.
///
/// # Examples
///
/// ```
/// use std::{cell::Cell, rc::Rc};
/// use greenlet::{gettrace, settrace, Greenlet, SwitchHook};
///
/// assert!(gettrace().is_none());
/// let switches = Rc::new(Cell::new(0));
/// let s = switches.clone();
/// settrace(Some(Rc::new(move |_, _: &Greenlet, _: &Greenlet| s.set(s.get() + 1))));
/// // Wrap it: count throws apart, and still let the first hook see everything.
/// let first: SwitchHook = gettrace().unwrap();
/// let throws = Rc::new(Cell::new(0));
/// let t = throws.clone();
/// settrace(Some(Rc::new(move |event, from: &Greenlet, to: &Greenlet| {
///     if event == greenlet::TraceEvent::Throw {
///         t.set(t.get() + 1);
///     }
///     first(event, from, to);
/// })));
/// let main = greenlet::getcurrent();
/// let g = Greenlet::new(move |_| main.switch(()));
/// g.switch(());
/// g.throw();
/// settrace(None);
/// assert_eq!((switches.get(), throws.get()), (4, 1));
/// ```
pub fn gettrace() -> Option<SwitchHook> {
    STATE.try_with(|st| cell_clone(&st.hook)).ok().flatten()
}

/// Builds a greenlet with a name, a stack size or a parent other than the defaults.
///
/// # Examples
///
/// ```
/// let g = greenlet::Greenlet::builder()
///     .name("worker")
///     .stack_size(64 * 1024)
///     .build(|_| "done")?;
/// assert_eq!(g.name(), Some("worker"));
/// assert_eq!(g.switch(()).downcast::<&str>().unwrap(), "done");
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Default)]
pub struct Builder {
    name: Option<String>,
    site: Option<&'static Location<'static>>,
    stack_size: Option<usize>,
    parent: Option<Greenlet>,
}

impl Builder {
    /// A builder with the defaults: no name, this thread's default stack size, and the current
    /// greenlet as parent.
    ///
    /// # Examples
    ///
    /// ```
    /// let g = greenlet::Builder::new().build(|_| 1)?;
    /// assert_eq!(g.stack_size(), greenlet::DEFAULT_STACK_SIZE);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn new() -> Builder {
        Builder::default()
    }

    /// Names the greenlet; the name appears in its `Display`, in stack overflow reports and in
    /// greenwood's diagnostics.
    ///
    /// # Examples
    ///
    /// ```
    /// let g = greenlet::Builder::new().name("fetch-42").build(|_| ())?;
    /// assert!(g.to_string().contains("fetch-42"));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn name(mut self, name: impl Into<String>) -> Builder {
        self.name = Some(name.into());
        self
    }

    /// Where the greenlet is made, for [`Greenlet::site`] and for [`sample`](crate::sample)'s
    /// captures (a framework on top passes the site of its own spawn call).
    ///
    /// # Examples
    ///
    /// ```
    /// let g = greenlet::Builder::new().site(std::panic::Location::caller()).build(|_| ())?;
    /// assert!(g.site().is_some());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn site(mut self, site: &'static Location<'static>) -> Builder {
        self.site = Some(site);
        self
    }

    /// Usable stack size in bytes, rounded up to whole pages and to at least
    /// [`MIN_STACK_SIZE`](crate::MIN_STACK_SIZE). Only the pages used cost memory.
    ///
    /// # Examples
    ///
    /// ```
    /// let g = greenlet::Builder::new().stack_size(1).build(|_| ())?;
    /// assert_eq!(g.stack_size(), greenlet::MIN_STACK_SIZE);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn stack_size(mut self, bytes: usize) -> Builder {
        self.stack_size = Some(bytes);
        self
    }

    /// The greenlet that receives the result, instead of the current greenlet.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::{getcurrent, Builder, Greenlet};
    ///
    /// let main = getcurrent();
    /// let relay = Greenlet::new(move |_| {
    ///     let result = main.switch(()); // suspended here until the worker ends
    ///     format!("relayed {}", result.downcast::<&str>().unwrap())
    /// });
    /// relay.switch(()); // the relay runs to its first switch
    /// let worker = Builder::new().parent(&relay).build(|_| "photo.jpg")?;
    /// // The worker's result goes to the relay, and the relay's (it then ends) to main.
    /// let out = worker.switch(());
    /// assert_eq!(out.downcast::<String>().unwrap(), "relayed photo.jpg");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn parent(mut self, parent: &Greenlet) -> Builder {
        self.parent = Some(parent.clone());
        self
    }

    /// Creates the greenlet, with its stack.
    ///
    /// # Errors
    ///
    /// When the kernel refuses the stack's memory or mapping, an error naming the limit hit
    /// (`vm.max_map_count`, the address-space limit) and how to raise it.
    ///
    /// # Examples
    ///
    /// ```
    /// let g = greenlet::Builder::new().build(|v: greenlet::Value| v.downcast::<u32>().unwrap() * 2)?;
    /// assert_eq!(g.switch(21u32).downcast::<u32>().unwrap(), 42);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn build<F, R>(self, run: F) -> io::Result<Greenlet>
    where
        F: FnOnce(Value) -> R + 'static,
        R: 'static,
    {
        let size = stack::round_size(self.stack_size.unwrap_or_else(stack::default_stack_size))?;
        let stack = stack::new_stack(size)?;
        let name: Option<Box<str>> = self.name.map(String::into_boxed_str);
        let id = next_id();
        // The name's heap buffer does not move when the Box moves into `Inner`, and lives as
        // long as the greenlet, which outlives its use of the stack.
        stack.set_owner(name.as_deref().unwrap_or(""), id);
        // An ordinary handle: a parent is held by its child (getcurrent's own would not hold it).
        let parent = self.parent.unwrap_or_else(|| handle(current_ptr()));
        // corosensei moves the body onto the new stack by value and refuses anything larger
        // than 1 KiB ("type is too big to transfer"). A closure that captures more (a buffer, a
        // TLS stream) goes to the heap first; the test is on a constant, so small closures
        // keep the by-value path and pay nothing for it.
        let coro = if std::mem::size_of::<F>() <= MAX_INLINE_CLOSURE {
            coroutine(stack, run)
        } else {
            coroutine(stack, Box::new(run))
        };
        Ok(Greenlet {
            inner: Rc::new(Inner {
                state: Cell::new(State::New),
                coro: UnsafeCell::new(Some(coro)),
                yielder: Cell::new(std::ptr::null()),
                parent: Cell::new(Some(parent)),
                name,
                site: self.site,
                id,
                stack_size: size,
                data: Cell::new(None),
                own_handles: Cell::new(0),
            }),
            own: false,
        })
    }
}

/// The largest closure moved onto a new greenlet's stack by value; larger ones are boxed.
/// corosensei's own limit is 1 KiB for the whole body; this leaves it room.
const MAX_INLINE_CLOSURE: usize = 512;

/// The coroutine that runs `run` as a greenlet's function.
#[inline(always)]
fn coroutine<F, R>(stack: GreenletStack, run: F) -> Coro
where
    F: FnOnce(Value) -> R + 'static,
    R: 'static,
{
    // If the greenlet never runs, its function is dropped unrun: by corosensei when the
    // coroutine is dropped, where a panicking destructor would abort the process ("cannot
    // propagate coroutine panic"), or below when it is thrown into first. `Unrun` catches such
    // a panic and reports it instead.
    let run = Unrun(Some(run));
    let body = move |yielder: &GreenletYielder, ()| {
        let mut run = run;
        let fast = fast();
        // SAFETY: the dispatch loop made this greenlet current before resuming it.
        unsafe { (*fast.current.get()).yielder.set(yielder) };
        let first = collect(fast);
        on_resume(fast);
        let outcome = match first {
            Transfer::Value(arg) => {
                let run = run.0.take().expect("a greenlet's function runs once");
                match panic::catch_unwind(AssertUnwindSafe(move || Value::new(run(arg)))) {
                    Ok(v) => Transfer::Value(v),
                    Err(p) => Transfer::exit(p),
                }
            }
            Transfer::Throw(p) => {
                drop(run);
                Transfer::exit(p)
            }
        };
        // For the parent, which the dispatch loop switches to next.
        post(fast, outcome);
    };
    Coroutine::with_stack(stack, body)
}

/// A greenlet's function until it runs; dropping it unrun catches a panicking destructor.
struct Unrun<F>(Option<F>);

impl<F> Drop for Unrun<F> {
    fn drop(&mut self) {
        if let Some(f) = self.0.take() {
            if let Err(p) = panic::catch_unwind(AssertUnwindSafe(move || drop(f))) {
                warn(&format!(
                    "a greenlet that never ran was dropped, and a value its function owned \
                     panicked in its destructor: {}",
                    panic_message(&*p)
                ));
            }
        }
    }
}
