//! The monitor: one thread per process that notices a hub whose loop is held — a greenlet that
//! computes, or makes a blocking call greenwood did not make cooperative — and says which
//! greenlet holds it, on which thread, for how long and where it is (a backtrace of that
//! thread); and again when it lets go.
//!
//! Off by default. [`start`] switches it on, or the environment does: `GREENWOOD_MONITOR=1`
//! starts it at the first spawn, with the threshold `GREENWOOD_MAX_BLOCKING_MS` (default 100).
//!
//! ```
//! use std::time::{Duration, Instant};
//!
//! let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
//! let s = seen.clone();
//! greenwood::monitor::start(
//!     greenwood::monitor::Config::new()
//!         .threshold(Duration::from_millis(50))
//!         .handler(move |b: &greenwood::monitor::Blocking| s.lock().unwrap().push(b.to_string())),
//! );
//! let hog = greenwood::Builder::new().name("hog").spawn(|| {
//!     let start = Instant::now();
//!     while start.elapsed() < Duration::from_millis(300) {} // never yields
//! }).unwrap();
//! let _other = greenwood::spawn(|| ()); // someone the hog keeps waiting
//! hog.join();
//! // The monitor sees the loop move again (and symbolizes the backtrace: slow the first time).
//! let until = Instant::now() + Duration::from_secs(10);
//! while seen.lock().unwrap().len() < 2 && Instant::now() < until {
//!     greenwood::sleep(Duration::from_millis(20));
//! }
//! greenwood::monitor::stop();
//! let seen = seen.lock().unwrap();
//! assert!(seen[0].contains("greenlet 'hog'"), "{}", seen[0]);
//! assert!(seen[1].contains("let go of"), "{}", seen[1]);
//! ```
//!
//! # How it works
//!
//! Each hub counts its switches (a greenlet resumed, a callback run) in an atomic that only
//! its thread writes (a plain load and store), the same counter [`Hub::stats`] reads, and
//! says when it blocks in its poll. Nothing the hub does depends on whether a monitor runs,
//! so a running monitor costs the greenlets nothing but its thread's looks. The monitor thread
//! looks at every hub several times per threshold: a count that stood still for longer than
//! the threshold while the hub was not in its poll, with greenlets alive on it, is a held
//! loop. It reports the incident once, naming the greenlet that holds it (name, id and spawn
//! site) and where the thread is, and a second time when the count moves again, with how
//! long the loop was held. Who and where come from [`greenlet::sample`]: a signal to the held
//! thread, whose handler records the greenlet it interrupted (its id, name and site, so a
//! greenlet spawned before the monitor started is named too) and the return addresses on
//! its stack, symbolized on the monitor's thread (the symbol tables are loaded when the monitor starts,
//! so that the first report is not late). The longest hold it saw shows in
//! [`Hub::stats`].
//!
//! Reports go to the [`Config::handler`], or else to [`report`](crate::report) (stderr,
//! `tracing` or `log`) with the kinds [`ReportKind::LoopHeld`] and
//! [`ReportKind::LoopReleased`].
//!
//! [`Hub::stats`]: crate::hub::Hub::stats

use std::collections::HashMap;
use std::fmt;
use std::panic::Location;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, Once, PoisonError};
use std::time::{Duration, Instant};

use crate::hub::report::{self, ReportKind};
use crate::hub::stats::{self, Beat};

/// A handler for [`Blocking`] incidents; see [`Config::handler`].
pub type BlockingHandler = Arc<dyn Fn(&Blocking) + Send + Sync>;

/// How the monitor runs.
///
/// # Examples
///
/// ```
/// let config = greenwood::monitor::Config::new()
///     .threshold(std::time::Duration::from_millis(20))
///     .handler(|b| eprintln!("{b}"));
/// # drop(config);
/// ```
#[derive(Clone)]
pub struct Config {
    threshold: Duration,
    handler: Option<BlockingHandler>,
}

impl Default for Config {
    fn default() -> Config {
        Config::new()
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("threshold", &self.threshold)
            .field("handler", &self.handler.is_some())
            .finish()
    }
}

impl Config {
    /// A threshold of 100 ms, reports to [`report`](crate::report).
    pub fn new() -> Config {
        Config {
            threshold: Duration::from_millis(100),
            handler: None,
        }
    }

    /// The configuration the environment asks for: `GREENWOOD_MONITOR=1` (anything but
    /// empty or `0`), threshold `GREENWOOD_MAX_BLOCKING_MS`; `None` when it asks for none.
    ///
    /// # Examples
    ///
    /// ```
    /// // Unless the environment switches it on:
    /// if std::env::var_os("GREENWOOD_MONITOR").is_none() {
    ///     assert!(greenwood::monitor::Config::from_env().is_none());
    /// }
    /// ```
    pub fn from_env() -> Option<Config> {
        let on = std::env::var("GREENWOOD_MONITOR").ok()?;
        if on.is_empty() || on == "0" {
            return None;
        }
        let mut config = Config::new();
        if let Some(ms) = std::env::var("GREENWOOD_MAX_BLOCKING_MS")
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
        {
            config = config.threshold(Duration::from_millis(ms));
        }
        Some(config)
    }

    /// How long a hub may go without a switch before it is reported (at least 1 ms).
    pub fn threshold(mut self, d: Duration) -> Config {
        self.threshold = d.max(Duration::from_millis(1));
        self
    }

    /// Where incidents go, instead of [`report`](crate::report). It runs on the monitor's
    /// thread.
    pub fn handler(mut self, f: impl Fn(&Blocking) + Send + Sync + 'static) -> Config {
        self.handler = Some(Arc::new(f));
        self
    }
}

/// A loop held for longer than the threshold: reported when noticed, and again when the loop
/// is let go.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Blocking {
    /// The hub's thread, by name or id.
    pub thread: String,
    /// The greenlet that holds the loop, by id; `None`: a callback the hub runs (or, with
    /// `unknown`, nobody knows).
    pub greenlet: Option<u64>,
    /// Its name, if it has one.
    pub name: Option<String>,
    /// Where it was spawned (`None` for the main greenlet and raw greenlets).
    pub spawned_at: Option<&'static Location<'static>>,
    /// Whether it is the thread's main greenlet.
    pub main: bool,
    /// The held thread did not answer the monitor's signal: who holds the loop is not known.
    pub unknown: bool,
    /// How long the loop has been held (`released`: how long it was held in all).
    pub held: Duration,
    /// False when the incident is noticed, true when the loop moves again.
    pub released: bool,
    /// Where the hub's thread was when the incident was noticed, innermost call first
    /// (`function at file:line`), captured from the monitor's thread; empty when the thread
    /// did not answer, and in the `released` report.
    pub backtrace: Vec<String>,
}

impl Blocking {
    /// Who holds the loop, with where it was spawned: "greenlet 'x' (id 5), spawned at
    /// src/main.rs:3:5,".
    fn holder(&self) -> String {
        let who = match (self.greenlet, &self.name, self.main) {
            (None, _, _) if self.unknown => {
                "a greenlet (its thread did not answer the monitor)".to_owned()
            }
            (None, _, _) => "a callback run by the hub".to_owned(),
            (Some(_), _, true) => "the main greenlet".to_owned(),
            (Some(id), Some(n), _) => format!("greenlet '{n}' (id {id})"),
            (Some(id), None, _) => format!("greenlet {id}"),
        };
        let site = match self.spawned_at {
            Some(s) => format!(", spawned at {}:{}:{},", s.file(), s.line(), s.column()),
            None => String::new(),
        };
        format!("{who}{site}")
    }
}

impl fmt::Display for Blocking {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let who = self.holder();
        let ms = self.held.as_secs_f64() * 1e3;
        if self.released {
            write!(
                f,
                "{who} let go of the loop of thread {} after holding it for {ms:.0} ms",
                self.thread
            )
        } else {
            write!(
                f,
                "{who} has held the loop of thread {} for {ms:.0} ms without switching: \
                 the other greenlets of that thread cannot run. It computes, or makes a \
                 blocking call greenwood did not make cooperative (greenwood::sleep(0) \
                 yields; greenwood::spawn_blocking runs blocking work on the thread pool)",
                self.thread
            )?;
            if !self.backtrace.is_empty() {
                f.write_str("; it is at:")?;
                for frame in &self.backtrace {
                    write!(f, "\n    {frame}")?;
                }
            }
            Ok(())
        }
    }
}

/// Prints [`format_run_info`](crate::util::format_run_info) (every greenlet of every hub,
/// what it waits on, the spawn tree) to stderr each time the process receives `signal`, as
/// Go dumps its goroutines on `SIGQUIT`. A thread of its own waits for the signal and asks
/// each hub through its remote queue, so the dump comes while greenlets are busy, as long as
/// they switch; a hub whose loop is held is listed as not answering (with the greenlet the
/// monitor saw it run, when a monitor runs).
///
/// # Errors
///
/// The signal cannot be handled (`SIGKILL`, `SIGSTOP`, the ones that report faults), or no
/// pipe or thread could be made for it.
///
/// # Examples
///
/// ```no_run
/// greenwood::monitor::dump_on_signal(libc::SIGQUIT)?; // then `kill -QUIT <pid>`
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn dump_on_signal(signal: i32) -> std::io::Result<()> {
    use std::io::Read;
    if signal_hook::consts::FORBIDDEN.contains(&signal) {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("signal {signal} cannot be handled: SIGKILL, SIGSTOP and the fault signals are the kernel's"),
        ));
    }
    let (mut rx, tx) = std::os::unix::net::UnixStream::pair()?;
    let id = signal_hook::low_level::pipe::register(signal, tx)?;
    let spawned = std::thread::Builder::new()
        .name("greenwood-dump".into())
        .spawn(move || {
            let mut byte = [0u8; 1];
            while matches!(rx.read(&mut byte), Ok(1)) {
                eprint!("{}", crate::util::format_run_info());
            }
        });
    if let Err(e) = spawned {
        signal_hook::low_level::unregister(id);
        return Err(e);
    }
    Ok(())
}

/// The running monitor's configuration, and how to wake its thread.
struct Shared {
    config: Mutex<Option<Config>>,
    changed: Condvar,
    /// Which thread is the monitor: one that finds another number here has been replaced
    /// (a `stop` and a `start` before it looked again) and ends.
    generation: AtomicU64,
}

static SHARED: Shared = Shared {
    config: Mutex::new(None),
    changed: Condvar::new(),
    generation: AtomicU64::new(0),
};

/// Starts the monitor with `config`, or gives the running one this configuration.
///
/// # Examples
///
/// ```
/// greenwood::monitor::start(greenwood::monitor::Config::new());
/// assert!(greenwood::monitor::is_running());
/// greenwood::monitor::stop();
/// ```
pub fn start(config: Config) {
    let mut c = SHARED.config.lock().unwrap_or_else(PoisonError::into_inner);
    let was_running = c.is_some();
    *c = Some(config);
    stats::tick_coarse(true);
    SHARED.changed.notify_all();
    drop(c);
    if !was_running {
        let generation = SHARED.generation.fetch_add(1, Ordering::SeqCst) + 1;
        let spawned = std::thread::Builder::new()
            .name("greenwood-monitor".into())
            .spawn(move || watch(generation));
        if let Err(e) = spawned {
            report::emit(
                ReportKind::LoopHeld,
                format!("the monitor's thread could not be started: {e}; nothing is watched"),
            );
            stop();
        }
    }
}

/// Stops the monitor; its thread ends within one look at the hubs.
///
/// # Examples
///
/// ```
/// greenwood::monitor::stop(); // without a monitor running, nothing happens
/// assert!(!greenwood::monitor::is_running());
/// ```
pub fn stop() {
    let mut c = SHARED.config.lock().unwrap_or_else(PoisonError::into_inner);
    *c = None;
    stats::tick_coarse(false);
    SHARED.changed.notify_all();
}

/// Whether a monitor runs.
pub fn is_running() -> bool {
    SHARED
        .config
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .is_some()
}

/// Starts the monitor if the environment asks for it, once per process (at the first spawn).
pub(crate) fn start_from_env() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if let Some(config) = Config::from_env() {
            start(config);
        }
    });
}

/// What the monitor knows of one hub between looks.
struct Watch {
    beat: Arc<Beat>,
    /// The switch count at the last look where it moved.
    count: u64,
    /// When it last moved (or the hub last waited in its poll).
    since: Instant,
    /// The incident being held, once reported.
    reported: Option<Blocking>,
}

/// The monitor's thread: looks at every hub four times per threshold.
fn watch(generation: u64) {
    // On a thread of its own, so that the first looks are not late: a report made meanwhile
    // waits for the tables instead.
    let _ = std::thread::Builder::new()
        .name("greenwood-monitor-symbols".into())
        .spawn(warm_up);
    let mut watches: HashMap<usize, Watch> = HashMap::new();
    let current = || SHARED.generation.load(Ordering::SeqCst) == generation;
    loop {
        let config = {
            let c = SHARED.config.lock().unwrap_or_else(PoisonError::into_inner);
            match &*c {
                Some(config) if current() => {
                    // Under the lock, so that no tick lands after `stop` zeroed the clock.
                    stats::tick_coarse(true);
                    config.clone()
                }
                _ => return,
            }
        };
        let now = Instant::now();
        let beats = stats::beats();
        watches.retain(|k, _| beats.iter().any(|b| Arc::as_ptr(b) as usize == *k));
        for beat in beats {
            let key = Arc::as_ptr(&beat) as usize;
            let w = watches.entry(key).or_insert_with(|| Watch {
                count: beat.switches.load(Ordering::Relaxed),
                since: now,
                reported: None,
                beat: beat.clone(),
            });
            look(w, now, &config);
        }
        let c = SHARED.config.lock().unwrap_or_else(PoisonError::into_inner);
        if c.is_none() || !current() {
            return;
        }
        let period = config.threshold / 4;
        let _ = SHARED.changed.wait_timeout(c, period);
    }
}

/// One look at one hub.
fn look(w: &mut Watch, now: Instant, config: &Config) {
    let beat = &w.beat;
    let count = beat.switches.load(Ordering::Relaxed);
    let polling = beat.polling.load(Ordering::Relaxed);
    if count != w.count || polling {
        let held = now - w.since;
        if count != w.count {
            note_longest(beat, held);
        }
        if let Some(mut b) = w.reported.take() {
            b.held = held;
            b.released = true;
            tell(config, &b);
        }
        w.count = count;
        w.since = now;
        return;
    }
    let held = now - w.since;
    note_longest(beat, held);
    if w.reported.is_none() && held >= config.threshold && beat.alive.load(Ordering::Relaxed) > 0 {
        let b = incident(beat, held);
        tell(config, &b);
        w.reported = Some(b);
    }
}

fn note_longest(beat: &Beat, held: Duration) {
    let ns = u64::try_from(held.as_nanos()).unwrap_or(u64::MAX - 1);
    let was = beat.longest.load(Ordering::Relaxed);
    if was == u64::MAX || ns > was {
        beat.longest.store(ns, Ordering::Relaxed);
    }
}

/// The incident as reports tell it: the greenlet the held thread runs, and where.
fn incident(beat: &Beat, held: Duration) -> Blocking {
    let sample = beat.sampler.sample(Duration::from_millis(100));
    // The greenlet the thread was interrupted in (the hub's own: a callback it runs).
    let unknown = sample.as_ref().and_then(|s| s.greenlet).is_none();
    let id = match sample.as_ref().and_then(|s| s.greenlet) {
        Some(g) if g == beat.hub.load(Ordering::Relaxed) => 0,
        Some(g) => g,
        None => 0,
    };
    let main = id != 0 && id == beat.main.load(Ordering::Relaxed);
    let (name, spawned_at) = match &sample {
        Some(s) if id != 0 && !main => (s.name.clone(), s.site),
        _ => (None, None),
    };
    Blocking {
        thread: beat.thread.clone(),
        greenlet: (id != 0).then_some(id),
        unknown,
        name,
        spawned_at,
        main,
        held,
        released: false,
        backtrace: sample.map(|s| where_is(&s.frames)).unwrap_or_default(),
    }
}

/// Who holds `beat`'s hub, and where its thread is, for the run info of a hub that does not
/// answer: "greenlet 'x' (id 5), spawned at src/main.rs:3:5, at:" and the frames.
pub(crate) fn held_by(beat: &Beat) -> String {
    let b = incident(beat, Duration::ZERO);
    let mut out = b.holder();
    out = out.trim_end_matches(',').to_owned();
    if !b.backtrace.is_empty() {
        out.push_str(", at:");
        for frame in &b.backtrace {
            out.push_str("\n    ");
            out.push_str(frame);
        }
    }
    out
}

/// The most frames a report shows.
const SHOWN_FRAMES: usize = 24;

/// Where the hub's thread is now, symbolized: the frames below the capture's signal handler
/// and the kernel's signal trampoline.
fn where_is(ips: &[usize]) -> Vec<String> {
    let handler = ips.iter().position(|&ip| {
        let mut found = false;
        backtrace::resolve(ip as *mut std::ffi::c_void, |s| {
            found |= s
                .name()
                .is_some_and(|n| format!("{n:#}").contains("sample::on_sample"));
        });
        found
    });
    let start = handler.map_or(0, |i| i + 2);
    let mut out = Vec::new();
    for &ip in ips.iter().skip(start) {
        let before = out.len();
        backtrace::resolve(ip as *mut std::ffi::c_void, |s| {
            let name = s
                .name()
                .map_or_else(|| "?".to_owned(), |n| format!("{n:#}"));
            let at = match (s.filename(), s.lineno()) {
                (Some(f), Some(l)) => format!(" at {}:{l}", f.display()),
                _ => String::new(),
            };
            out.push(format!("{name}{at}"));
        });
        if out.len() == before {
            out.push(format!("{ip:#x}"));
        }
        // The greenlet's own start: below it is greenwood's and the switch library's.
        if out[before..]
            .iter()
            .any(|f| f.starts_with("greenwood::greenlet::body"))
        {
            out.truncate(before);
            break;
        }
        if out.len() >= SHOWN_FRAMES {
            out.truncate(SHOWN_FRAMES);
            break;
        }
    }
    // ... and the wrappers greenwood calls the greenlet's function through.
    const WRAPPERS: [&str; 6] = [
        "greenwood::hub::report::catch",
        "std::panic::catch_unwind",
        "std::panicking::",
        "<core::panic::unwind_safe::AssertUnwindSafe",
        "core::ops::function::FnOnce::call_once",
        "greenwood::greenlet::Builder::create",
    ];
    while out
        .last()
        .is_some_and(|f| WRAPPERS.iter().any(|w| f.starts_with(w)))
    {
        out.pop();
    }
    out
}

/// Loads the symbol tables a report will need (the program's, libc's), which takes tens of
/// milliseconds the first time: done when the monitor starts, not when it reports.
fn warm_up() {
    for addr in [
        warm_up as *const () as usize,
        libc::getpid as *const () as usize,
    ] {
        backtrace::resolve(addr as *mut std::ffi::c_void, |_| ());
    }
}

fn tell(config: &Config, b: &Blocking) {
    match &config.handler {
        Some(h) => {
            let told = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| h(b)));
            if let Err(p) = told {
                report::emit(
                    ReportKind::CallbackPanicked,
                    format!(
                        "the monitor's handler panicked{}; the monitor goes on",
                        report::caught(&*p)
                    ),
                );
            }
        }
        None => report::emit(
            if b.released {
                ReportKind::LoopReleased
            } else {
                ReportKind::LoopHeld
            },
            b.to_string(),
        ),
    }
}
