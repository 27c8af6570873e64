//! `Greenlet<T>`: a handle to a spawned greenlet and its result.

use std::fmt;
use std::io;
use std::marker::PhantomData;
use std::panic::{self, AssertUnwindSafe, Location};
use std::rc::Rc;
use std::time::Duration;

use crate::error::{panic_message, Elapsed, ErrorKind, GreenletError};
use crate::hub::task::{self, Interrupt, Kind, Outcome, Payload, Status, Task, WaitOn};
use crate::hub::waitlist::{Notify, Registration};
use crate::hub::{self, TimerAction};

/// A greenlet spawned on this thread's hub, and the value its function returns.
///
/// A cheap, clonable handle. Dropping it does not stop the greenlet (it is detached, like a
/// `std::thread::JoinHandle`): the hub keeps every unfinished greenlet. Greenlets never move
/// between threads:
///
/// ```compile_fail
/// fn assert_send<T: Send>() {}
/// assert_send::<greenwood::Greenlet<()>>();
/// ```
///
/// # Examples
///
/// ```
/// let g = greenwood::spawn(|| 6 * 7);
/// assert_eq!(g.get().unwrap(), 42);
/// assert!(g.ready() && g.successful());
/// ```
pub struct Greenlet<T> {
    task: Rc<Task>,
    _value: PhantomData<fn() -> T>,
}

/// A greenlet whose value type is not known here: what [`getcurrent`] returns, and what
/// [`Greenlet::as_any`] gives for mixing greenlets of different types.
///
/// # Examples
///
/// ```
/// let g = greenwood::Builder::new().name("worker").spawn(|| {
///     greenwood::getcurrent().name().map(String::from)
/// })?;
/// assert_eq!(g.get().unwrap().as_deref(), Some("worker"));
/// assert!(greenwood::getcurrent().is_main());
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone)]
pub struct AnyGreenlet {
    task: Rc<Task>,
}

/// Spawns a greenlet running `f` on this thread's hub. It starts once the current greenlet
/// blocks or yields, after the greenlets already runnable (FIFO).
///
/// The call site is recorded and appears in failure reports and `LoopExit` messages.
///
/// # Panics
///
/// If the kernel refuses memory for the greenlet's stack; [`Builder::spawn`] returns that
/// error instead. The message names the limit (`vm.max_map_count`, `ulimit -v`).
///
/// # Examples
///
/// The classic downloader's shape, with `sleep` standing in for the network:
///
/// ```
/// use std::time::Duration;
///
/// let jobs: Vec<_> = (0..100)
///     .map(|user| greenwood::spawn(move || {
///         greenwood::sleep(Duration::from_millis(10)); // "download"
///         user * 2
///     }))
///     .collect();
/// greenwood::joinall(&jobs);
/// assert_eq!(jobs[21].get().unwrap(), 42);
/// ```
#[track_caller]
pub fn spawn<F, T>(f: F) -> Greenlet<T>
where
    F: FnOnce() -> T + 'static,
    T: 'static,
{
    match Builder::new().spawn(f) {
        Ok(g) => g,
        Err(e) => spawn_failed(&e),
    }
}

/// Raises the error of a spawn that returns no `Result`. The kernel refused a stack (out of
/// mappings or address space), so nothing here may need much memory: the panic is raised
/// without the panic hook (whose backtrace would need mappings of its own, and hung at
/// `vm.max_map_count`), and said on stderr first, from a buffer on the stack, unless the
/// greenlet it unwinds is one whose failure greenwood reports.
#[cold]
#[inline(never)]
pub(crate) fn spawn_failed(e: &io::Error) -> ! {
    use std::io::Write;
    let reported = task::try_current().is_some_and(|t| t.catches.get());
    if !reported || cfg!(panic = "abort") {
        let mut buf = [0u8; 1024];
        let mut rest = &mut buf[..];
        let _ = writeln!(rest, "greenwood: cannot spawn a greenlet: {e}");
        let len = 1024 - rest.len();
        let _ = std::io::stderr().write_all(&buf[..len]);
    }
    panic::resume_unwind(Box::new(format!("cannot spawn a greenlet: {e}")))
}

/// Spawns a greenlet that starts after `delay`.
///
/// # Panics
///
/// As [`spawn`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// let g = greenwood::spawn_later(Duration::from_millis(5), || "later");
/// assert!(!g.started());
/// assert_eq!(g.get().unwrap(), "later");
/// ```
#[track_caller]
pub fn spawn_later<F, T>(delay: Duration, f: F) -> Greenlet<T>
where
    F: FnOnce() -> T + 'static,
    T: 'static,
{
    match Builder::new().spawn_later(delay, f) {
        Ok(g) => g,
        Err(e) => spawn_failed(&e),
    }
}

/// The running greenlet.
///
/// # Examples
///
/// ```
/// let me = greenwood::getcurrent();
/// assert!(me.is_main());
/// let g = greenwood::spawn(|| greenwood::getcurrent().id());
/// assert_eq!(g.get().unwrap(), g.id());
/// ```
pub fn getcurrent() -> AnyGreenlet {
    AnyGreenlet {
        task: task::current(),
    }
}

/// Spawns greenlets with a name or a stack size.
///
/// # Examples
///
/// ```
/// let g = greenwood::Builder::new()
///     .name("fetch-7")
///     .stack_size(64 * 1024)
///     .spawn(|| 7)?;
/// assert_eq!(g.name(), Some("fetch-7"));
/// assert_eq!(g.get().unwrap(), 7);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Default)]
pub struct Builder {
    name: Option<String>,
    stack_size: Option<usize>,
    inherit: Vec<crate::local::Inherit>,
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("name", &self.name)
            .field("stack_size", &self.stack_size)
            .field("inherit", &self.inherit.len())
            .finish()
    }
}

impl Builder {
    /// A builder with the defaults: no name, the `greenlet` crate's default stack size.
    ///
    /// # Examples
    ///
    /// ```
    /// let g = greenwood::Builder::new().spawn(|| 1)?;
    /// assert_eq!(g.get().unwrap(), 1);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn new() -> Builder {
        Builder::default()
    }

    /// Names the greenlet: its `Display`, failure reports, `LoopExit` messages and stack
    /// overflow reports use it.
    ///
    /// # Examples
    ///
    /// ```
    /// let g = greenwood::Builder::new().name("resize-42").spawn(|| ())?;
    /// assert_eq!(g.to_string(), "greenlet 'resize-42'");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn name(mut self, name: impl Into<String>) -> Builder {
        self.name = Some(name.into());
        self
    }

    /// Usable stack size in bytes (see [`greenlet::Builder::stack_size`]).
    ///
    /// # Examples
    ///
    /// ```
    /// // Deep recursion needs more than the default; shallow greenlets can do with less.
    /// let g = greenwood::Builder::new().stack_size(1024 * 1024).spawn(|| {
    ///     fn depth(n: u32) -> u32 { if n == 0 { 0 } else { 1 + depth(n - 1) } }
    ///     depth(10_000)
    /// })?;
    /// assert_eq!(g.get().unwrap(), 10_000);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn stack_size(mut self, bytes: usize) -> Builder {
        self.stack_size = Some(bytes);
        self
    }

    /// Gives the new greenlet a copy of the current greenlet's value of `key` (taken now),
    /// instead of a fresh one: how request ids and tracing context follow work into the
    /// greenlets it spawns.
    ///
    /// # Examples
    ///
    /// ```
    /// greenwood::greenlet_local! {
    ///     static REQUEST_ID: u64 = 0;
    /// }
    ///
    /// REQUEST_ID.set(42);
    /// let child = greenwood::Builder::new()
    ///     .inherit(&REQUEST_ID)
    ///     .spawn(|| REQUEST_ID.get())?;
    /// let stranger = greenwood::spawn(|| REQUEST_ID.get());
    /// assert_eq!(child.get().unwrap(), 42);
    /// assert_eq!(stranger.get().unwrap(), 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn inherit<T: Clone + 'static>(
        mut self,
        key: &'static crate::local::LocalKey<T>,
    ) -> Builder {
        self.inherit.push(key.inheritor());
        self
    }

    /// Spawns the greenlet, as [`spawn`] does.
    ///
    /// # Errors
    ///
    /// When the kernel refuses the stack's memory; the error names the limit and its fix.
    ///
    /// # Examples
    ///
    /// ```
    /// let g = greenwood::Builder::new().name("worker").spawn(|| "done")?;
    /// assert_eq!(g.get().unwrap(), "done");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn spawn<F, T>(self, f: F) -> io::Result<Greenlet<T>>
    where
        F: FnOnce() -> T + 'static,
        T: 'static,
    {
        let task = self.create(f, Location::caller())?;
        attach(&task);
        task.clone().schedule_start();
        Ok(Greenlet::from_task(task))
    }

    /// Spawns the greenlet to start after `delay`, as [`spawn_later`] does.
    ///
    /// # Errors
    ///
    /// As [`Builder::spawn`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let g = greenwood::Builder::new().name("retry").spawn_later(Duration::from_millis(5), || 2)?;
    /// assert_eq!(g.get().unwrap(), 2);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn spawn_later<F, T>(self, delay: Duration, f: F) -> io::Result<Greenlet<T>>
    where
        F: FnOnce() -> T + 'static,
        T: 'static,
    {
        let task = self.create(f, Location::caller())?;
        start_later(&task, delay);
        Ok(Greenlet::from_task(task))
    }

    /// [`Builder::spawn`] with the spawn site given: for spawns made on the caller's behalf
    /// (`Hubs::spawn_on` spawns on the target hub, from a callback).
    pub(crate) fn spawn_at<F, T>(
        self,
        site: &'static Location<'static>,
        f: F,
    ) -> io::Result<Greenlet<T>>
    where
        F: FnOnce() -> T + 'static,
        T: 'static,
    {
        let task = self.create(f, site)?;
        attach(&task);
        task.clone().schedule_start();
        Ok(Greenlet::from_task(task))
    }

    fn create<F, T>(self, f: F, site: &'static Location<'static>) -> io::Result<Rc<Task>>
    where
        F: FnOnce() -> T + 'static,
        T: 'static,
    {
        crate::monitor::start_from_env();
        let hub = hub::hub_greenlet();
        let mut b = greenlet::Builder::new().parent(&hub).site(site);
        if let Some(n) = &self.name {
            b = b.name(n.clone());
        }
        if let Some(s) = self.stack_size {
            b = b.stack_size(s);
        }
        let name = self.name.map(String::into_boxed_str);
        let task = Rc::new(Task::new(Kind::Spawned, 0, name, Some(site)));
        task.status.set(Status::New);
        task.spawner.set(greenlet::current_id());
        // Weak: an unstarted greenlet ([`Builder::build`]) whose handles are all dropped is
        // freed with its stack and function; once started, its data slot and the hub's table
        // keep the task alive.
        let t = Rc::downgrade(&task);
        let glet = b.build(move |_| {
            let task = t
                .upgrade()
                .expect("greenwood: a started greenlet's task is alive");
            body(task, f)
        })?;
        task.id.set(glet.id());
        for install in self.inherit {
            install(&task);
        }
        task.glet.set(Some(glet));
        Ok(task)
    }

    /// Creates the greenlet without starting it: gevent's `Greenlet(run)`. It runs once
    /// [`Greenlet::start`] (or [`start_later`](Greenlet::start_later)) is called; until then
    /// it holds its stack and its function, and is not one of the hub's live greenlets. A
    /// greenlet never started is freed, its function unrun, when its last handle goes;
    /// killing it marks it dead without running it.
    ///
    /// # Errors
    ///
    /// As [`Builder::spawn`].
    ///
    /// # Examples
    ///
    /// ```
    /// let g = greenwood::Builder::new().name("report").build(|| "sent")?;
    /// greenwood::sleep(std::time::Duration::ZERO);
    /// assert!(!g.started()); // nothing started it
    /// g.start();
    /// assert_eq!(g.get().unwrap(), "sent");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn build<F, T>(self, f: F) -> io::Result<Greenlet<T>>
    where
        F: FnOnce() -> T + 'static,
        T: 'static,
    {
        let task = self.create(f, Location::caller())?;
        Ok(Greenlet::from_task(task))
    }
}

/// Makes a created greenlet one of the hub's live greenlets: its data slot names its task
/// (so `getcurrent` finds it) and the hub's table holds it (so it is unwound at thread exit).
fn attach(task: &Rc<Task>) {
    if let Some(glet) = task.greenlet() {
        glet.set_data(Some(task.clone()));
    }
    hub::register(task);
}

/// Whether `task` was created and is neither started, queued to start, nor dead.
fn unstarted(task: &Task) -> bool {
    task.status.get() == Status::New && task.slot.get() == usize::MAX
}

/// Attaches an unstarted task and arms the timer that starts it after `delay`.
fn start_later(task: &Rc<Task>, delay: Duration) {
    attach(task);
    let key = hub::add_timer(delay, TimerAction::Start(task.clone()));
    task.start_timer.set(Some(key));
}

/// A spawned greenlet's whole life: run `f`, record how it ended, notify.
fn body<F, T>(task: Rc<Task>, f: F)
where
    F: FnOnce() -> T + 'static,
    T: 'static,
{
    task.status.set(Status::Started);
    task.ran.set(true);
    let result = crate::hub::report::catch(Some(&task), f);
    // Recorded by the panic hook for a panic, kept only for the one the greenlet failed with.
    let report = task.take_panic_report();
    let outcome = match result {
        Ok(v) => Outcome::Value(Box::new(v)),
        Err(p) => match task.interrupted_with(&*p) {
            Some(r) if r.kind == ErrorKind::Killed => {
                Outcome::Failed(ErrorKind::Killed, killed_message(&*p))
            }
            Some(r) => {
                let message = match (string_payload(&*p), r.timeout) {
                    (Some(s), _) => s,
                    (None, Some(e)) => e.to_string(),
                    (None, None) => panic_message(&*p),
                };
                Outcome::Failed(ErrorKind::TimedOut, message)
            }
            None => {
                task.keep_panic_report(report);
                Outcome::Failed(ErrorKind::Panicked, panic_message(&*p))
            }
        },
    };
    finish(&task, outcome);
    // The greenlet is about to die: break the greenlet -> task link so nothing keeps the
    // other alive.
    greenlet::getcurrent().set_data(None);
}

fn finish(task: &Rc<Task>, outcome: Outcome) {
    let failure = match &outcome {
        Outcome::Failed(kind @ (ErrorKind::Panicked | ErrorKind::TimedOut), msg) => {
            Some(task.error(*kind, msg.clone()))
        }
        _ => None,
    };
    *task.outcome.borrow_mut() = outcome;
    task.status.set(Status::Done);
    for f in std::mem::take(&mut *task.on_finish.borrow_mut()) {
        f();
    }
    crate::local::clear(task);
    task.joiners.notify_all();
    if !task.links.borrow().is_empty() {
        let t = task.clone();
        hub::push_ready(hub::Ready::Call(Box::new(move || run_links(&t))));
    }
    if let Some(err) = failure {
        hub::report_failure(&err);
    }
    hub::unregister(task);
}

fn run_links(task: &Task) {
    // One at a time, in the order they were added: a link that unlinks a later one (or the
    // greenlet's owner doing so meanwhile) keeps it from running.
    loop {
        let next = {
            let mut links = task.links.borrow_mut();
            (!links.is_empty()).then(|| links.remove(0))
        };
        let Some((_, f)) = next else { break };
        if let Err(p) = panic::catch_unwind(AssertUnwindSafe(f)) {
            crate::hub::report::emit(
                crate::hub::report::ReportKind::CallbackPanicked,
                format!(
                    "a link callback of {} panicked{}",
                    task.label(),
                    crate::hub::report::caught(&*p)
                ),
            );
        }
    }
}

// ---- operations shared by `Greenlet<T>` and `AnyGreenlet` ----------------------------------

fn join(task: &Rc<Task>, timeout: Option<Duration>) -> bool {
    if task.is_done() {
        return true;
    }
    let me = task::current();
    if Rc::ptr_eq(&me, task) {
        panic!(
            "greenwood: {} tried to join itself, which would wait forever",
            task.label()
        );
    }
    hub::wait_as(&me, WaitOn::Greenlet(task.clone()), timeout, |waker| {
        Registration::new(&task.joiners, Notify::Wake(waker))
    });
    task.is_done()
}

/// A payload's text, if it is a string (what `panic!` and `kill_with("...")` carry).
fn string_payload(p: &(dyn std::any::Any + Send)) -> Option<String> {
    p.downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
}

/// The message of a greenlet killed with `p`: `killed`, or `killed: TEXT` for a string.
pub(crate) fn killed_message(p: &(dyn std::any::Any + Send)) -> String {
    match string_payload(p) {
        Some(s) => format!("killed: {s}"),
        None => "killed".to_string(),
    }
}

fn kill_nowait(task: &Rc<Task>, payload: Option<Payload>) {
    match task.status.get() {
        Status::Done => {}
        Status::New => {
            let message = match &payload {
                Some(p) => format!("{} before it started", killed_message(&**p)),
                None => "killed before it started".to_string(),
            };
            if let Some(key) = task.start_timer.take() {
                hub::cancel_timer(key);
            }
            // Never started: dropping the greenlet drops its function unrun.
            let g = task.glet.take();
            drop(g);
            finish(task, Outcome::Failed(ErrorKind::Killed, message));
        }
        Status::Started => {
            if task.kind == Kind::Main {
                panic!("greenwood: the main greenlet cannot be killed");
            }
            if Rc::ptr_eq(&task::current(), task) {
                task::raise(task, Interrupt::Kill(payload));
            }
            task.interrupt(Interrupt::Kill(payload));
        }
    }
}

fn kill(task: &Rc<Task>, payload: Option<Payload>, timeout: Option<Duration>) -> bool {
    kill_nowait(task, payload);
    join(task, timeout)
}

/// `kill_nowait` with `payload`, then a yield, so the greenlet unwinds before the caller goes
/// on (at once, for the greenlet itself; the hub's own callbacks do not yield).
fn throw(task: &Rc<Task>, payload: Payload) {
    kill_nowait(task, Some(payload));
    if !task.is_done() {
        let me = task::current();
        task::yield_now(&me);
    }
}

fn error_of(task: &Task) -> Option<GreenletError> {
    match &*task.outcome.borrow() {
        Outcome::Failed(kind, msg) => Some(task.error(*kind, msg.clone())),
        _ => None,
    }
}

fn successful(task: &Task) -> bool {
    task.is_done() && matches!(&*task.outcome.borrow(), Outcome::Value(_))
}

impl<T: 'static> Greenlet<T> {
    fn from_task(task: Rc<Task>) -> Greenlet<T> {
        Greenlet {
            task,
            _value: PhantomData,
        }
    }

    /// A greenlet that will run `f` once [`start`](Greenlet::start)ed: gevent's
    /// `Greenlet(run)`. [`Builder::build`] names it or sizes its stack.
    ///
    /// # Panics
    ///
    /// As [`spawn`].
    ///
    /// # Examples
    ///
    /// ```
    /// let g = greenwood::Greenlet::new(|| 2 + 2);
    /// assert!(!g.started());
    /// g.start();
    /// assert_eq!(g.get().unwrap(), 4);
    /// ```
    #[track_caller]
    pub fn new<F>(f: F) -> Greenlet<T>
    where
        F: FnOnce() -> T + 'static,
    {
        match Builder::new().build(f) {
            Ok(g) => g,
            Err(e) => spawn_failed(&e),
        }
    }

    /// Starts a greenlet made by [`Greenlet::new`] or [`Builder::build`]: it runs once the
    /// current greenlet blocks or yields, as a spawned one does. Starting a greenlet that is
    /// already started, due to start, or dead does nothing (as in gevent).
    ///
    /// # Examples
    ///
    /// ```
    /// let g = greenwood::Greenlet::new(|| "ran once");
    /// g.start();
    /// g.start(); // nothing more
    /// assert_eq!(g.get().unwrap(), "ran once");
    /// ```
    pub fn start(&self) {
        if unstarted(&self.task) {
            attach(&self.task);
            self.task.clone().schedule_start();
        }
    }

    /// Starts a greenlet made by [`Greenlet::new`] or [`Builder::build`] after `delay`;
    /// nothing if it is already started, due to start, or dead.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    ///
    /// let t0 = Instant::now();
    /// let g = greenwood::Greenlet::new(move || t0.elapsed());
    /// g.start_later(Duration::from_millis(5));
    /// assert!(g.get().unwrap() >= Duration::from_millis(5));
    /// ```
    pub fn start_later(&self, delay: Duration) {
        if unstarted(&self.task) {
            start_later(&self.task, delay);
        }
    }

    /// Waits at most `timeout` for the greenlet to finish, then returns what
    /// [`get`](Greenlet::get) returns: gevent's `get(timeout=...)`.
    ///
    /// # Errors
    ///
    /// [`Elapsed`] if it has not finished by then (it goes on running: kill it if it should
    /// not); else, inside, its value or why it has none.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let slow = greenwood::spawn(|| { greenwood::sleep(Duration::from_secs(60)); 1 });
    /// assert!(slow.get_timeout(Duration::from_millis(5)).is_err());
    /// let fast = greenwood::spawn(|| 2);
    /// assert_eq!(fast.get_timeout(Duration::from_secs(5)).unwrap().unwrap(), 2);
    /// slow.kill();
    /// ```
    #[track_caller]
    pub fn get_timeout(&self, timeout: Duration) -> Result<Result<T, GreenletError>, Elapsed>
    where
        T: Clone,
    {
        self.join_timeout(timeout)?;
        Ok(self.value_or_error())
    }

    /// Waits until the greenlet has finished (returned, panicked or been killed).
    ///
    /// # Panics
    ///
    /// If called by the greenlet itself, if nothing can ever finish it (`LoopExit`, naming
    /// it), and with the interrupts of [`sleep`](crate::sleep).
    ///
    /// # Examples
    ///
    /// ```
    /// let g = greenwood::spawn(|| greenwood::sleep(std::time::Duration::from_millis(1)));
    /// g.join();
    /// assert!(g.dead());
    /// ```
    pub fn join(&self) {
        join(&self.task, None);
    }

    /// Waits at most `timeout` for the greenlet to finish.
    ///
    /// # Errors
    ///
    /// [`Elapsed`] if it has not finished by then.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let g = greenwood::spawn(|| greenwood::sleep(Duration::from_secs(10)));
    /// assert!(g.join_timeout(Duration::from_millis(5)).is_err());
    /// g.kill();
    /// ```
    #[track_caller]
    pub fn join_timeout(&self, timeout: Duration) -> Result<(), Elapsed> {
        Elapsed::check(join(&self.task, Some(timeout)), timeout)
    }

    /// Waits for the greenlet to finish and returns a copy of its value, or why there is none.
    /// Repeatable, as gevent's `get()`: every call returns the same. A value that cannot be
    /// copied (an `io::Result`, a socket) comes out with [`take`](Greenlet::take), which works
    /// for any type.
    ///
    /// # Errors
    ///
    /// A [`GreenletError`] of kind `Panicked` (with the panic message), `Killed`, `TimedOut`,
    /// or `Taken` once [`take`](Greenlet::take) moved the value out.
    ///
    /// # Examples
    ///
    /// ```
    /// let ok = greenwood::spawn(|| String::from("photo"));
    /// assert_eq!(ok.get().unwrap(), "photo");
    /// let bad = greenwood::spawn(|| -> String { panic!("404") });
    /// assert_eq!(bad.get().unwrap_err().message(), "404");
    /// ```
    pub fn get(&self) -> Result<T, GreenletError>
    where
        T: Clone,
    {
        self.join();
        self.value_or_error()
    }

    /// Waits for the greenlet to finish and moves its value out; later calls return an error
    /// of kind `Taken`. This is `std::thread::JoinHandle::join` (and awaiting tokio's
    /// `JoinHandle`): it works for a value of any type, `Clone` or not.
    ///
    /// # Errors
    ///
    /// As [`get`](Greenlet::get).
    ///
    /// # Examples
    ///
    /// ```
    /// let g = greenwood::spawn(|| vec![1u8; 1024]);
    /// assert_eq!(g.take().unwrap().len(), 1024);
    /// assert_eq!(g.take().unwrap_err().kind(), greenwood::ErrorKind::Taken);
    ///
    /// // An io::Result is not Clone: take it.
    /// let read = greenwood::spawn(|| std::fs::read("/nonexistent/photo.jpg"));
    /// let err = read.take().unwrap().unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    /// ```
    #[doc(alias = "join")]
    pub fn take(&self) -> Result<T, GreenletError> {
        self.join();
        let mut outcome = self.task.outcome.borrow_mut();
        match std::mem::replace(
            &mut *outcome,
            Outcome::Failed(ErrorKind::Taken, String::new()),
        ) {
            Outcome::Value(v) => Ok(*v
                .downcast::<T>()
                .expect("greenwood: a greenlet's value has the greenlet's type")),
            other => {
                *outcome = other;
                drop(outcome);
                Err(error_of(&self.task).expect("a finished greenlet has a value or an error"))
            }
        }
    }

    /// A copy of the value if the greenlet finished successfully, without waiting.
    ///
    /// # Examples
    ///
    /// ```
    /// let g = greenwood::spawn(|| 1);
    /// assert_eq!(g.value(), None); // not run yet
    /// g.join();
    /// assert_eq!(g.value(), Some(1));
    /// ```
    pub fn value(&self) -> Option<T>
    where
        T: Clone,
    {
        self.value_or_error().ok()
    }

    fn value_or_error(&self) -> Result<T, GreenletError>
    where
        T: Clone,
    {
        match &*self.task.outcome.borrow() {
            Outcome::Value(v) => {
                return Ok(v
                    .downcast_ref::<T>()
                    .expect("greenwood: a greenlet's value has the greenlet's type")
                    .clone())
            }
            Outcome::Failed(..) => {}
            Outcome::Pending => {
                return Err(self.task.error(ErrorKind::Killed, "not finished".into()));
            }
        }
        Err(error_of(&self.task).expect("a failed greenlet has an error"))
    }

    /// Why the greenlet has no value, once it has finished without one.
    ///
    /// # Examples
    ///
    /// ```
    /// let g = greenwood::spawn(|| greenwood::sleep(std::time::Duration::from_secs(10)));
    /// g.kill();
    /// assert_eq!(g.error().unwrap().kind(), greenwood::ErrorKind::Killed);
    /// ```
    pub fn error(&self) -> Option<GreenletError> {
        error_of(&self.task)
    }

    /// Kills the greenlet and waits for it to die: it unwinds with `GreenletExit` from the
    /// point where it is parked (its destructors run). One that has not started never runs.
    /// Killing a finished greenlet does nothing. A greenlet that is runnable but not parked
    /// (it was just woken) is killed at its next blocking point, so what woke it is not lost.
    ///
    /// Killing a started greenlet unwinds it, which needs `panic = "unwind"` (Rust's
    /// default): under `panic = "abort"` it aborts the process, with a message that says so.
    ///
    /// # Panics
    ///
    /// As [`join`](Greenlet::join); a greenlet that kills itself unwinds at once.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let g = greenwood::spawn(|| greenwood::sleep(Duration::from_secs(60)));
    /// greenwood::sleep(Duration::ZERO); // let it start and park
    /// g.kill();
    /// assert!(g.dead() && !g.successful());
    /// ```
    pub fn kill(&self) {
        kill(&self.task, None, None);
    }

    /// Kills the greenlet and waits at most `timeout` for it to die.
    ///
    /// # Errors
    ///
    /// [`Elapsed`] if it is still alive by then (it refuses to die: it blocks while unwinding).
    ///
    /// # Examples
    ///
    /// ```
    /// let g = greenwood::spawn(|| greenwood::sleep(std::time::Duration::from_secs(60)));
    /// assert!(g.kill_timeout(std::time::Duration::from_secs(1)).is_ok());
    /// ```
    #[track_caller]
    pub fn kill_timeout(&self, timeout: Duration) -> Result<(), Elapsed> {
        Elapsed::check(kill(&self.task, None, Some(timeout)), timeout)
    }

    /// Kills the greenlet without waiting for it to die.
    ///
    /// # Examples
    ///
    /// ```
    /// let g = greenwood::spawn(|| greenwood::sleep(std::time::Duration::from_secs(60)));
    /// greenwood::sleep(std::time::Duration::ZERO);
    /// g.kill_nowait();
    /// assert!(!g.dead()); // it unwinds when the hub resumes it
    /// g.join();
    /// assert!(g.dead());
    /// ```
    pub fn kill_nowait(&self) {
        kill_nowait(&self.task, None);
    }

    /// Kills the greenlet with `payload` instead of `GreenletExit`, and waits for it to die:
    /// gevent's `kill(exception)`. The greenlet unwinds with that very value, so code in it
    /// that catches the unwind (`std::panic::catch_unwind`) can downcast it, tell a shutdown
    /// from a cancel, and even return a value after all. If it does not catch it, its error
    /// has kind `Killed` (not reported, as a kill is not a failure) and the message
    /// `killed: TEXT` when the payload is a string.
    ///
    /// # Panics
    ///
    /// As [`kill`](Greenlet::kill).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// struct Shutdown { grace: Duration }
    ///
    /// let g = greenwood::spawn(|| {
    ///     match std::panic::catch_unwind(|| greenwood::sleep(Duration::from_secs(60))) {
    ///         Ok(()) => "slept",
    ///         Err(p) => match p.downcast::<Shutdown>() {
    ///             Ok(s) if s.grace > Duration::ZERO => "flushed, then stopped",
    ///             Ok(_) => "stopped",
    ///             Err(other) => std::panic::resume_unwind(other),
    ///         },
    ///     }
    /// });
    /// greenwood::sleep(Duration::ZERO); // let it start and park
    /// g.kill_with(Shutdown { grace: Duration::from_secs(1) });
    /// assert_eq!(g.get().unwrap(), "flushed, then stopped");
    ///
    /// let h = greenwood::spawn(|| greenwood::sleep(Duration::from_secs(60)));
    /// greenwood::sleep(Duration::ZERO);
    /// h.kill_with("config reloaded");
    /// let err = h.error().unwrap();
    /// assert_eq!(err.kind(), greenwood::ErrorKind::Killed);
    /// assert_eq!(err.message(), "killed: config reloaded");
    /// ```
    pub fn kill_with<P: std::any::Any + Send>(&self, payload: P) {
        kill(&self.task, Some(Box::new(payload)), None);
    }

    /// `kill_with` without waiting (for [`killall_with`](crate::killall_with)).
    pub(crate) fn throw_nowait<P: std::any::Any + Send>(&self, payload: P) {
        kill_nowait(&self.task, Some(Box::new(payload)));
    }

    /// Raises `payload` in the greenlet where it is parked, and lets it run: the caller goes
    /// to the back of the ready queue, so the greenlet has unwound (to its end, or to its next
    /// park if it caught the payload) before the caller continues. gevent's `throw`, except
    /// that the caller is rescheduled, not left switched away from forever. An unstarted
    /// greenlet never runs; a greenlet that throws to itself unwinds at once.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let g = greenwood::spawn(|| {
    ///     let r = std::panic::catch_unwind(|| greenwood::sleep(Duration::from_secs(60)));
    ///     *r.unwrap_err().downcast::<u32>().unwrap()
    /// });
    /// greenwood::sleep(Duration::ZERO);
    /// g.throw(7u32);
    /// assert!(g.dead()); // it ran before `throw` returned
    /// assert_eq!(g.get().unwrap(), 7);
    /// ```
    pub fn throw<P: std::any::Any + Send>(&self, payload: P) {
        throw(&self.task, Box::new(payload));
    }

    /// Calls `f` on the hub once the greenlet has finished, however it finished (at once, in
    /// the hub's next turn, if it already has). Returns an id for [`unlink`](Greenlet::unlink).
    ///
    /// Links run on the hub, so they must not block: spawn a greenlet for blocking work.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::{cell::Cell, rc::Rc};
    ///
    /// let seen = Rc::new(Cell::new(0));
    /// let s = seen.clone();
    /// let g = greenwood::spawn(|| 5);
    /// g.link(move |g| s.set(g.value().unwrap()));
    /// g.join();
    /// greenwood::sleep(std::time::Duration::ZERO); // links run in the hub's next turn
    /// assert_eq!(seen.get(), 5);
    /// ```
    pub fn link(&self, f: impl FnOnce(&Greenlet<T>) + 'static) -> LinkId {
        self.add_link(|_| true, f)
    }

    /// Like [`link`](Greenlet::link), but `f` runs only if the greenlet returned a value.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::{cell::Cell, rc::Rc};
    ///
    /// # greenwood::set_failure_handler(Some(Box::new(|_| {})));
    /// let sum = Rc::new(Cell::new(0));
    /// for v in [Ok(2), Err("broken")] {
    ///     let g = greenwood::spawn(move || v.expect("a value"));
    ///     let s = sum.clone();
    ///     g.link_value(move |g| s.set(s.get() + g.value().unwrap()));
    ///     g.join();
    /// }
    /// greenwood::sleep(std::time::Duration::ZERO);
    /// assert_eq!(sum.get(), 2); // only the successful one
    /// ```
    pub fn link_value(&self, f: impl FnOnce(&Greenlet<T>) + 'static) -> LinkId {
        self.add_link(successful, f)
    }

    /// Like [`link`](Greenlet::link), but `f` runs only if the greenlet panicked, timed out
    /// or was killed (unlike gevent, a killed greenlet is not successful: it has no value).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::{cell::RefCell, rc::Rc};
    ///
    /// let why = Rc::new(RefCell::new(String::new()));
    /// let w = why.clone();
    /// let g = greenwood::spawn(|| -> u8 { panic!("disk full") });
    /// g.link_exception(move |g| *w.borrow_mut() = g.error().unwrap().message().to_string());
    /// g.join();
    /// greenwood::sleep(std::time::Duration::ZERO);
    /// assert_eq!(*why.borrow(), "disk full");
    /// ```
    pub fn link_exception(&self, f: impl FnOnce(&Greenlet<T>) + 'static) -> LinkId {
        self.add_link(|t| !successful(t), f)
    }

    fn add_link(
        &self,
        when: impl FnOnce(&Task) -> bool + 'static,
        f: impl FnOnce(&Greenlet<T>) + 'static,
    ) -> LinkId {
        let me = self.clone();
        let call: Box<dyn FnOnce()> = Box::new(move || {
            if when(&me.task) {
                f(&me)
            }
        });
        let id = next_link_id();
        if self.task.is_done() {
            hub::push_ready(hub::Ready::Call(call));
        } else {
            self.task.links.borrow_mut().push((id, call));
        }
        LinkId(id)
    }

    /// Removes a link that has not run yet; true if it was removed.
    ///
    /// # Examples
    ///
    /// ```
    /// let g = greenwood::spawn(|| ());
    /// let id = g.link(|_| unreachable!());
    /// assert!(g.unlink(id));
    /// g.join();
    /// greenwood::sleep(std::time::Duration::ZERO);
    /// ```
    pub fn unlink(&self, id: LinkId) -> bool {
        let mut links = self.task.links.borrow_mut();
        let before = links.len();
        links.retain(|(i, _)| *i != id.0);
        before != links.len()
    }

    /// Whether it has finished: returned, panicked or been killed.
    ///
    /// # Examples
    ///
    /// ```
    /// let g = greenwood::spawn(|| 7);
    /// assert!(!g.ready());
    /// g.join();
    /// assert!(g.ready());
    /// ```
    pub fn ready(&self) -> bool {
        self.task.is_done()
    }

    /// Whether it finished by returning a value.
    ///
    /// # Examples
    ///
    /// ```
    /// # greenwood::set_failure_handler(Some(Box::new(|_| {})));
    /// let ok = greenwood::spawn(|| 7);
    /// let bad = greenwood::spawn(|| -> i32 { panic!("no") });
    /// greenwood::joinall(&[ok.clone(), bad.clone()]);
    /// assert!(ok.successful() && !bad.successful());
    /// ```
    pub fn successful(&self) -> bool {
        successful(&self.task)
    }

    /// Whether it is dead: finished, or killed before it started (the same as
    /// [`ready`](Greenlet::ready) for a spawned greenlet).
    ///
    /// # Examples
    ///
    /// ```
    /// let g = greenwood::spawn(|| 7);
    /// g.kill(); // before it ever ran
    /// assert!(g.dead() && !g.started());
    /// ```
    pub fn dead(&self) -> bool {
        self.task.is_done()
    }

    /// Whether its function has begun running.
    ///
    /// # Examples
    ///
    /// ```
    /// let g = greenwood::spawn(|| 7);
    /// assert!(!g.started()); // spawned, not yet run
    /// g.join();
    /// assert!(g.started());
    /// ```
    pub fn started(&self) -> bool {
        self.task.ran.get()
    }

    /// The name given by [`Builder::name`].
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(greenwood::spawn(|| ()).name(), None);
    /// let g = greenwood::Builder::new().name("fetch").spawn(|| ())?;
    /// assert_eq!(g.name(), Some("fetch"));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn name(&self) -> Option<&str> {
        self.task.name.as_deref()
    }

    /// A process-wide unique number (the underlying `greenlet::Greenlet`'s id).
    ///
    /// # Examples
    ///
    /// ```
    /// let (a, b) = (greenwood::spawn(|| ()), greenwood::spawn(|| ()));
    /// assert_ne!(a.id(), b.id());
    /// ```
    pub fn id(&self) -> u64 {
        self.task.id.get()
    }

    /// Where it was spawned.
    ///
    /// # Examples
    ///
    /// ```
    /// let line = line!() + 1;
    /// let g = greenwood::spawn(|| ());
    /// assert_eq!((g.spawned_at().file(), g.spawned_at().line()), (file!(), line));
    /// ```
    pub fn spawned_at(&self) -> &'static Location<'static> {
        self.task.site.expect("a spawned greenlet has a spawn site")
    }

    /// This greenlet without its value type.
    ///
    /// # Examples
    ///
    /// ```
    /// let a = greenwood::spawn(|| 1u8);
    /// let b = greenwood::spawn(|| "two");
    /// let all = [a.as_any(), b.as_any()];
    /// greenwood::wait(&all);
    /// assert!(all.iter().all(|g| g.successful()));
    /// ```
    pub fn as_any(&self) -> AnyGreenlet {
        AnyGreenlet {
            task: self.task.clone(),
        }
    }

    pub(crate) fn task(&self) -> &Rc<Task> {
        &self.task
    }

    /// A [`WeakGreenlet`]: a handle that does not keep this greenlet's record and value alive
    /// (Python's `weakref.ref(greenlet)`).
    ///
    /// # Examples
    ///
    /// ```
    /// let g = greenwood::spawn(|| 1);
    /// let weak = g.downgrade();
    /// assert_eq!(weak.upgrade(), Some(g.clone()));
    /// ```
    pub fn downgrade(&self) -> WeakGreenlet<T> {
        WeakGreenlet {
            task: Rc::downgrade(&self.task),
            _value: PhantomData,
        }
    }
}

/// A handle to a greenlet that does not keep it alive: for a registry or a monitor that lists
/// greenlets without holding their values. [`upgrade`](WeakGreenlet::upgrade) gives a
/// [`Greenlet`] back while the greenlet is unfinished (its hub holds every unfinished one)
/// or while some other handle holds it; once it has finished and the last handle is gone, its
/// value is freed and `upgrade` returns `None`.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// let weak = greenwood::spawn(|| greenwood::sleep(Duration::from_millis(1))).downgrade();
/// let running = weak.upgrade().expect("its hub holds it until it finishes");
/// running.join();
/// drop(running);
/// assert!(weak.upgrade().is_none(), "finished, and no handle left");
/// ```
pub struct WeakGreenlet<T> {
    task: std::rc::Weak<Task>,
    _value: PhantomData<fn() -> T>,
}

impl<T: 'static> WeakGreenlet<T> {
    /// A [`Greenlet`] handle, if the greenlet is unfinished or another handle still holds it.
    ///
    /// # Examples
    ///
    /// ```
    /// let g = greenwood::spawn(|| "done");
    /// let weak = g.downgrade();
    /// assert_eq!(weak.upgrade().unwrap().get().unwrap(), "done");
    /// drop(g);
    /// assert!(weak.upgrade().is_none());
    /// ```
    pub fn upgrade(&self) -> Option<Greenlet<T>> {
        self.task.upgrade().map(Greenlet::from_task)
    }
}

impl<T> Clone for WeakGreenlet<T> {
    fn clone(&self) -> Self {
        WeakGreenlet {
            task: self.task.clone(),
            _value: PhantomData,
        }
    }
}

impl<T> PartialEq for WeakGreenlet<T> {
    fn eq(&self, other: &Self) -> bool {
        std::rc::Weak::ptr_eq(&self.task, &other.task)
    }
}

impl<T> Eq for WeakGreenlet<T> {}

impl<T> fmt::Debug for WeakGreenlet<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.task.upgrade() {
            Some(task) => debug(&task, "WeakGreenlet", f),
            None => f.write_str("WeakGreenlet(gone)"),
        }
    }
}

fn next_link_id() -> u64 {
    static NEXT: hub::IdCounter = hub::IdCounter::new();
    NEXT.next()
}

impl LinkId {
    /// A new id, unique in the process.
    pub(crate) fn next() -> LinkId {
        LinkId(next_link_id())
    }
}

/// Identifies a link, for [`Greenlet::unlink`] (and the `unlink` of events, results and
/// semaphores, for their `rawlink`s).
///
/// # Examples
///
/// ```
/// let g = greenwood::spawn(|| ());
/// let id: greenwood::LinkId = g.link(|_| println!("done"));
/// assert!(g.unlink(id));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LinkId(u64);

impl<T> Clone for Greenlet<T> {
    fn clone(&self) -> Self {
        Greenlet {
            task: self.task.clone(),
            _value: PhantomData,
        }
    }
}

impl<T> PartialEq for Greenlet<T> {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.task, &other.task)
    }
}

impl<T> Eq for Greenlet<T> {}

impl<T> fmt::Display for Greenlet<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.task.label())
    }
}

impl<T> fmt::Debug for Greenlet<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        debug(&self.task, "Greenlet", f)
    }
}

fn debug(task: &Task, ty: &str, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    f.debug_struct(ty)
        .field("id", &task.id.get())
        .field("name", &task.name)
        .field("spawned_at", &task.site)
        .field("status", &task.status.get())
        .finish()
}

impl AnyGreenlet {
    pub(crate) fn from_task(task: Rc<Task>) -> AnyGreenlet {
        AnyGreenlet { task }
    }

    /// As [`Greenlet::join`].
    ///
    /// # Examples
    ///
    /// ```
    /// let g = greenwood::spawn(|| ()).as_any();
    /// g.join();
    /// assert!(g.dead());
    /// ```
    pub fn join(&self) {
        join(&self.task, None);
    }

    /// As [`Greenlet::join_timeout`].
    ///
    /// # Examples
    ///
    /// ```
    /// let g = greenwood::spawn(|| greenwood::sleep(std::time::Duration::from_secs(60))).as_any();
    /// assert!(g.join_timeout(std::time::Duration::from_millis(1)).is_err());
    /// g.kill();
    /// ```
    #[track_caller]
    pub fn join_timeout(&self, timeout: Duration) -> Result<(), Elapsed> {
        Elapsed::check(join(&self.task, Some(timeout)), timeout)
    }

    /// As [`Greenlet::kill`].
    ///
    /// # Panics
    ///
    /// For the main greenlet, which cannot be killed.
    ///
    /// # Examples
    ///
    /// ```
    /// let g = greenwood::spawn(|| greenwood::sleep(std::time::Duration::from_secs(60))).as_any();
    /// g.kill();
    /// assert!(g.dead() && !g.successful());
    /// ```
    pub fn kill(&self) {
        kill(&self.task, None, None);
    }

    /// As [`Greenlet::kill_timeout`].
    ///
    /// # Examples
    ///
    /// ```
    /// let g = greenwood::spawn(|| greenwood::sleep(std::time::Duration::from_secs(60))).as_any();
    /// assert!(g.kill_timeout(std::time::Duration::from_secs(1)).is_ok());
    /// ```
    #[track_caller]
    pub fn kill_timeout(&self, timeout: Duration) -> Result<(), Elapsed> {
        Elapsed::check(kill(&self.task, None, Some(timeout)), timeout)
    }

    /// As [`Greenlet::kill_nowait`].
    ///
    /// # Examples
    ///
    /// ```
    /// let g = greenwood::spawn(|| greenwood::sleep(std::time::Duration::from_secs(60))).as_any();
    /// g.kill_nowait();
    /// g.join();
    /// assert!(g.dead());
    /// ```
    pub fn kill_nowait(&self) {
        kill_nowait(&self.task, None);
    }

    /// As [`Greenlet::kill_with`].
    ///
    /// # Examples
    ///
    /// ```
    /// let g = greenwood::spawn(|| greenwood::sleep(std::time::Duration::from_secs(60))).as_any();
    /// greenwood::sleep(std::time::Duration::ZERO);
    /// g.kill_with("shutting down");
    /// assert_eq!(g.error().unwrap().message(), "killed: shutting down");
    /// ```
    pub fn kill_with<P: std::any::Any + Send>(&self, payload: P) {
        kill(&self.task, Some(Box::new(payload)), None);
    }

    /// `kill_nowait`, with `payload` when there is one (for a kill from another hub).
    pub(crate) fn kill_nowait_payload(&self, payload: Option<Payload>) {
        kill_nowait(&self.task, payload);
    }

    /// As [`Greenlet::throw`].
    ///
    /// # Examples
    ///
    /// ```
    /// let g = greenwood::spawn(|| greenwood::sleep(std::time::Duration::from_secs(60))).as_any();
    /// greenwood::sleep(std::time::Duration::ZERO);
    /// g.throw("stop");
    /// assert!(g.dead());
    /// ```
    pub fn throw<P: std::any::Any + Send>(&self, payload: P) {
        throw(&self.task, Box::new(payload));
    }

    /// As [`Greenlet::ready`].
    ///
    /// # Examples
    ///
    /// ```
    /// let g = greenwood::spawn(|| ()).as_any();
    /// assert!(!g.ready());
    /// g.join();
    /// assert!(g.ready() && g.successful() && g.dead());
    /// ```
    pub fn ready(&self) -> bool {
        self.task.is_done()
    }

    /// As [`Greenlet::successful`].
    ///
    /// # Examples
    ///
    /// ```
    /// # greenwood::set_failure_handler(Some(Box::new(|_| {})));
    /// let g = greenwood::spawn(|| -> () { panic!("no") }).as_any();
    /// g.join();
    /// assert!(!g.successful());
    /// ```
    pub fn successful(&self) -> bool {
        successful(&self.task)
    }

    /// As [`Greenlet::dead`].
    ///
    /// # Examples
    ///
    /// ```
    /// let g = greenwood::spawn(|| ()).as_any();
    /// g.kill(); // before it started
    /// assert!(g.dead());
    /// ```
    pub fn dead(&self) -> bool {
        self.task.is_done()
    }

    /// As [`Greenlet::error`].
    ///
    /// # Examples
    ///
    /// ```
    /// let g = greenwood::spawn(|| greenwood::sleep(std::time::Duration::from_secs(60))).as_any();
    /// g.kill();
    /// assert_eq!(g.error().unwrap().kind(), greenwood::ErrorKind::Killed);
    /// ```
    pub fn error(&self) -> Option<GreenletError> {
        error_of(&self.task)
    }

    /// Its name; `"main"` for a thread's main greenlet.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(greenwood::getcurrent().name(), Some("main"));
    /// ```
    pub fn name(&self) -> Option<&str> {
        match self.task.kind {
            Kind::Main => Some("main"),
            _ => self.task.name.as_deref(),
        }
    }

    /// As [`Greenlet::id`].
    ///
    /// # Examples
    ///
    /// ```
    /// let g = greenwood::spawn(|| ());
    /// assert_eq!(g.as_any().id(), g.id());
    /// ```
    pub fn id(&self) -> u64 {
        self.task.id.get()
    }

    /// Where it was spawned; `None` for greenlets greenwood did not spawn (the main one).
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(greenwood::getcurrent().spawned_at().is_none());
    /// assert!(greenwood::spawn(|| ()).as_any().spawned_at().is_some());
    /// ```
    pub fn spawned_at(&self) -> Option<&'static Location<'static>> {
        self.task.site
    }

    /// Whether this is the thread's main greenlet.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(greenwood::getcurrent().is_main());
    /// let g = greenwood::spawn(|| greenwood::getcurrent().is_main());
    /// assert!(!g.get().unwrap());
    /// ```
    pub fn is_main(&self) -> bool {
        self.task.kind == Kind::Main
    }

    pub(crate) fn task(&self) -> &Rc<Task> {
        &self.task
    }
}

impl<T: 'static> From<Greenlet<T>> for AnyGreenlet {
    fn from(g: Greenlet<T>) -> AnyGreenlet {
        AnyGreenlet { task: g.task }
    }
}

impl PartialEq for AnyGreenlet {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.task, &other.task)
    }
}

impl Eq for AnyGreenlet {}

impl fmt::Display for AnyGreenlet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.task.label())
    }
}

impl fmt::Debug for AnyGreenlet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        debug(&self.task, "AnyGreenlet", f)
    }
}
