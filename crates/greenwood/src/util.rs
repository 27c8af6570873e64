//! Helpers for finding greenlets that hold the loop: [`assert_switches`] for tests.

use std::time::Duration;

use crate::hub;

/// Runs `f` and panics if, while it ran, this thread's loop went longer than `threshold`
/// without a switch (gevent's `assert_switches` with a `max_blocking_time`): a test's way to
/// say that code cooperates. Time the hub waits in its poll does not count; what counts is
/// code that runs without letting the others run, in `f` or in the greenlets that ran
/// meanwhile. Measuring costs a clock read per switch while `f` runs, and nothing otherwise.
///
/// # Panics
///
/// If the loop was held for longer than `threshold`; the message says for how long.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// // Sleeping in greenwood yields: fine.
/// greenwood::util::assert_switches(Duration::from_millis(50), || {
///     for _ in 0..5 {
///         greenwood::sleep(Duration::from_millis(20));
///     }
/// });
/// // Spinning does not.
/// let held = std::panic::catch_unwind(|| {
///     greenwood::util::assert_switches(Duration::from_millis(50), || {
///         let start = std::time::Instant::now();
///         while start.elapsed() < Duration::from_millis(120) {}
///     })
/// });
/// assert!(held.is_err());
/// ```
#[track_caller]
pub fn assert_switches<R>(threshold: Duration, f: impl FnOnce() -> R) -> R {
    let outer = hub::with(|h| h.gaps.start());
    struct Stop(Option<Option<(Option<std::time::Instant>, Duration)>>);
    impl Drop for Stop {
        fn drop(&mut self) {
            if let Some(outer) = self.0.take() {
                hub::try_with(|h| {
                    h.gaps.stop(outer);
                });
            }
        }
    }
    let mut guard = Stop(Some(outer));
    let r = f();
    let outer = guard.0.take().flatten();
    let longest = hub::with(|h| h.gaps.stop(outer));
    assert!(
        longest <= threshold,
        "assert_switches: the loop went {:.1} ms without a switch, more than the {:.1} ms allowed",
        longest.as_secs_f64() * 1e3,
        threshold.as_secs_f64() * 1e3
    );
    r
}
