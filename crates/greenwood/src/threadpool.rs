//! OS threads for the code that must block a real thread (CPU-bound work, blocking libraries,
//! file I/O): [`ThreadPool`], [`spawn_blocking`], and [`channel`] (the unbounded
//! [`crate::channel`], whose waiting ends park greenlets instead of their hub).
//!
//! A job's result crosses back through the hub's remote queue: the worker stores it, then
//! wakes the hub, which wakes the greenlet waiting on it. The hub itself never blocks on a
//! pool, and while a job is outstanding, a greenlet waiting for it is not a deadlock.

use std::any::Any;
use std::cell::OnceCell;
use std::collections::VecDeque;
use std::error::Error;
use std::fmt;
use std::panic::{self, AssertUnwindSafe, Location};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

pub use crate::channel::{unbounded as channel, Receiver, SendError, Sender};
use crate::error::panic_message;
use crate::hub::remote::Signal;
use crate::hub::waitlist::{private, WaitList, Waitable};

type Job = Box<dyn FnOnce() + Send>;

/// The default number of threads of [`spawn_blocking`]'s pool.
pub const DEFAULT_MAX_THREADS: usize = 32;

/// How long a worker with nothing to do waits for work before it exits, by default.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(10);

struct Shared {
    state: Mutex<State>,
    work: Condvar,
    max_threads: usize,
    idle_timeout: Duration,
    name: String,
}

#[derive(Default)]
struct State {
    queue: VecDeque<Job>,
    threads: usize,
    idle: usize,
    /// Idle workers already signalled: a burst of jobs starts new threads instead of piling
    /// onto one idle worker.
    wakeups: usize,
    /// The last handle was dropped: workers finish the queue, then exit.
    closing: bool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Jobs run outside the lock and catch their panics: a poisoned lock can only come
        // from a bug in this file, and the state stays consistent across it.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A pool of OS threads for blocking work. `Send + Sync`: any thread can hand it jobs, and
/// the result of [`spawn`](ThreadPool::spawn) is delivered to the greenlet that waits for it
/// without blocking that greenlet's hub. Threads start on demand up to `max_threads`, and
/// exit after being idle for a while. Dropping the last handle lets queued and running jobs
/// finish.
///
/// # Examples
///
/// ```
/// use greenwood::threadpool::ThreadPool;
///
/// let pool = ThreadPool::new(4);
/// let hashed = pool.spawn(|| {
///     // CPU-bound or blocking work: runs on a pool thread, not on the hub.
///     (0..1_000_000u64).fold(0u64, |h, x| h.wrapping_mul(31).wrapping_add(x))
/// });
/// let ticker = greenwood::spawn(|| greenwood::sleep(std::time::Duration::from_millis(1)));
/// let h = hashed.join().unwrap(); // other greenlets run meanwhile
/// ticker.join();
/// assert_ne!(h, 0);
/// ```
#[derive(Clone)]
pub struct ThreadPool {
    shared: Arc<Shared>,
    /// Counts handles, so the last one can tell the workers to finish.
    _handles: Arc<Closer>,
}

struct Closer(Arc<Shared>);

impl Drop for Closer {
    fn drop(&mut self) {
        self.0.lock().closing = true;
        self.0.work.notify_all();
    }
}

impl ThreadPool {
    /// A pool of at most `max_threads` threads, with the default idle timeout.
    ///
    /// # Panics
    ///
    /// If `max_threads` is 0.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = greenwood::threadpool::ThreadPool::new(2);
    /// assert_eq!(pool.max_threads(), 2);
    /// ```
    pub fn new(max_threads: usize) -> ThreadPool {
        ThreadPool::with_idle_timeout(max_threads, DEFAULT_IDLE_TIMEOUT)
    }

    /// A pool whose idle threads exit after `idle_timeout`.
    ///
    /// # Panics
    ///
    /// If `max_threads` is 0.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let pool = greenwood::threadpool::ThreadPool::with_idle_timeout(2, Duration::from_millis(10));
    /// pool.spawn(|| ()).join().unwrap();
    /// std::thread::sleep(Duration::from_millis(100));
    /// assert_eq!(pool.threads(), 0); // the idle thread retired
    /// ```
    pub fn with_idle_timeout(max_threads: usize, idle_timeout: Duration) -> ThreadPool {
        assert!(
            max_threads > 0,
            "greenwood: a ThreadPool needs at least one thread"
        );
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            work: Condvar::new(),
            max_threads,
            idle_timeout,
            name: "greenwood-pool".to_string(),
        });
        ThreadPool {
            _handles: Arc::new(Closer(shared.clone())),
            shared,
        }
    }

    /// The most threads it runs at once.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(greenwood::threadpool::ThreadPool::new(3).max_threads(), 3);
    /// ```
    pub fn max_threads(&self) -> usize {
        self.shared.max_threads
    }

    /// Threads alive now.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(greenwood::threadpool::ThreadPool::new(3).threads(), 0); // none until needed
    /// ```
    pub fn threads(&self) -> usize {
        self.shared.lock().threads
    }

    /// Runs `f` on a pool thread; the returned handle lets a greenlet of this thread wait for
    /// the result without blocking the hub.
    ///
    /// # Panics
    ///
    /// If the pool has no thread and the OS refuses to start one (the message names the
    /// process's thread limits).
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = greenwood::threadpool::ThreadPool::new(1);
    /// let r = pool.spawn(|| std::fs::read_to_string("/proc/self/stat").map(|s| s.len()));
    /// assert!(r.join().unwrap().unwrap() > 0);
    /// ```
    #[track_caller]
    pub fn spawn<F, T>(&self, f: F) -> ThreadResult<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.spawn_at(f, Location::caller())
    }

    /// `spawn`, naming `site` as where the job was submitted.
    fn spawn_at<F, T>(&self, f: F, site: &'static Location<'static>) -> ThreadResult<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        // A forked child has none of the pool's threads: the job would never run.
        crate::hub::check_not_forked();
        let slot: Arc<Mutex<Option<std::thread::Result<T>>>> = Arc::new(Mutex::new(None));
        let signal = Signal::new("a thread-pool job", site);
        let sender = signal.sender();
        let hold = signal.hold();
        let out = slot.clone();
        self.submit(Box::new(move || {
            let r = panic::catch_unwind(AssertUnwindSafe(f));
            *out.lock().unwrap_or_else(|e| e.into_inner()) = Some(r);
            sender.fire();
            // Only after the wake-up is queued: the hub must never see no outstanding work
            // and no queued wake-up at the same time.
            drop(hold);
        }));
        ThreadResult { slot, signal }
    }

    /// Runs `f` on a pool thread and waits for its result (gevent's `apply`).
    ///
    /// # Errors
    ///
    /// [`ThreadPoolError`] if `f` panicked.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = greenwood::threadpool::ThreadPool::new(1);
    /// assert_eq!(pool.apply(|| 6 * 7).unwrap(), 42);
    /// ```
    pub fn apply<F, T>(&self, f: F) -> Result<T, ThreadPoolError>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.spawn(f).join()
    }

    fn submit(&self, job: Job) {
        let mut st = self.shared.lock();
        st.queue.push_back(job);
        if st.idle > st.wakeups {
            st.wakeups += 1;
            drop(st);
            self.shared.work.notify_one();
            return;
        }
        if st.threads >= self.shared.max_threads {
            return; // a busy worker takes it next
        }
        st.threads += 1;
        drop(st);
        let shared = self.shared.clone();
        let started = std::thread::Builder::new()
            .name(self.shared.name.clone())
            .spawn(move || worker(shared));
        if let Err(e) = started {
            let mut st = self.shared.lock();
            st.threads -= 1;
            if st.threads == 0 {
                st.queue.clear();
                drop(st);
                panic!(
                    "greenwood: cannot start a thread-pool thread: {e} (the process may be at \
                     its thread limit: see `ulimit -u` and /proc/sys/kernel/threads-max)"
                );
            }
        }
    }
}

fn worker(shared: Arc<Shared>) {
    let mut st = shared.lock();
    loop {
        if let Some(job) = st.queue.pop_front() {
            drop(st);
            job();
            st = shared.lock();
            continue;
        }
        if st.closing {
            break;
        }
        st.idle += 1;
        let start = Instant::now();
        let (guard, _) = shared
            .work
            .wait_timeout(st, shared.idle_timeout)
            .unwrap_or_else(|e| e.into_inner());
        st = guard;
        st.idle -= 1;
        st.wakeups = st.wakeups.saturating_sub(1).min(st.idle);
        if st.queue.is_empty() && start.elapsed() >= shared.idle_timeout {
            break;
        }
    }
    st.threads -= 1;
}

impl fmt::Debug for ThreadPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.shared.lock();
        f.debug_struct("ThreadPool")
            .field("max_threads", &self.shared.max_threads)
            .field("threads", &st.threads)
            .field("queued", &st.queue.len())
            .finish()
    }
}

/// The job panicked on its pool thread.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ThreadPoolError {
    message: String,
}

impl ThreadPoolError {
    /// The panic message.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = greenwood::threadpool::ThreadPool::new(1);
    /// let err = pool.apply(|| -> u8 { panic!("corrupt file") }).unwrap_err();
    /// assert_eq!(err.message(), "corrupt file");
    /// ```
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for ThreadPoolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a thread-pool job panicked: {}", self.message)
    }
}

impl Error for ThreadPoolError {}

/// The result of a job on a [`ThreadPool`], which greenlets of the thread that submitted it
/// can wait for. Not `Send`: the result is delivered to that thread's hub.
pub struct ThreadResult<T> {
    slot: Arc<Mutex<Option<std::thread::Result<T>>>>,
    signal: Signal,
}

impl<T> private::Sealed for ThreadResult<T> {
    fn wait_list(&self) -> &WaitList {
        self.signal.waiters()
    }

    fn still_ready(&self) -> bool {
        self.ready()
    }
}

/// Ready when the job has finished.
impl<T> Waitable for ThreadResult<T> {
    fn is_ready(&self) -> bool {
        self.ready()
    }
}

impl<T> ThreadResult<T> {
    /// Waits for the job to finish and returns its value.
    ///
    /// # Errors
    ///
    /// [`ThreadPoolError`] with the panic message if the job panicked.
    ///
    /// # Panics
    ///
    /// With the interrupts of [`sleep`](crate::sleep) (the job still runs to its end).
    ///
    /// # Examples
    ///
    /// ```
    /// let r = greenwood::spawn_blocking(|| 1 + 1);
    /// assert_eq!(r.join().unwrap(), 2);
    /// ```
    pub fn join(self) -> Result<T, ThreadPoolError> {
        loop {
            if let Some(r) = self.take() {
                return r;
            }
            self.signal.wait(None);
            self.signal.lower();
        }
    }

    /// Waits at most `timeout` for the job; `Err(self)` gives the handle back if it is not
    /// done. (The one exception to greenwood's timeout convention, `Result<T, Elapsed>`: the
    /// handle is consumed by a join, so a timeout hands it back, as std's
    /// `SendTimeoutError::Timeout(T)` hands back the value.)
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let r = greenwood::spawn_blocking(|| std::thread::sleep(Duration::from_millis(50)));
    /// let r = r.join_timeout(Duration::from_millis(1)).unwrap_err(); // not done yet
    /// r.join().unwrap();
    /// ```
    pub fn join_timeout(self, timeout: Duration) -> Result<Result<T, ThreadPoolError>, Self> {
        let deadline = Instant::now().checked_add(timeout);
        loop {
            if let Some(r) = self.take() {
                return Ok(r);
            }
            let left = deadline.map_or(Duration::MAX, |d| {
                d.saturating_duration_since(Instant::now())
            });
            if left.is_zero() {
                return Err(self);
            }
            self.signal.wait(Some(left)); // loops back to check
            self.signal.lower();
        }
    }

    /// Whether the job has finished.
    ///
    /// # Examples
    ///
    /// ```
    /// let r = greenwood::spawn_blocking(|| ());
    /// while !r.ready() {
    ///     greenwood::sleep(std::time::Duration::from_millis(1));
    /// }
    /// ```
    pub fn ready(&self) -> bool {
        self.slot
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some()
    }

    fn take(&self) -> Option<Result<T, ThreadPoolError>> {
        let r = self.slot.lock().unwrap_or_else(|e| e.into_inner()).take()?;
        Some(r.map_err(|p: Box<dyn Any + Send>| ThreadPoolError {
            message: panic_message(&*p),
        }))
    }
}

impl<T> fmt::Debug for ThreadResult<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ThreadResult")
            .field("ready", &self.ready())
            .finish()
    }
}

thread_local! {
    static DEFAULT_POOL: OnceCell<ThreadPool> = const { OnceCell::new() };
}

/// Runs `f` on this thread's default [`ThreadPool`] (up to [`DEFAULT_MAX_THREADS`] threads,
/// created on first use) and returns a handle to wait for the result without blocking the
/// hub.
///
/// # Examples
///
/// ```
/// let len = greenwood::spawn_blocking(|| std::fs::read("/proc/self/status").unwrap().len());
/// assert!(len.join().unwrap() > 0);
/// ```
#[track_caller]
pub fn spawn_blocking<F, T>(f: F) -> ThreadResult<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let site = Location::caller();
    DEFAULT_POOL.with(|p| {
        p.get_or_init(|| ThreadPool::new(DEFAULT_MAX_THREADS))
            .spawn_at(f, site)
    })
}
