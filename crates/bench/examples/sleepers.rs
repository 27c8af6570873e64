//! A million tasks sleeping random durations up to 10 s: memory per task, and the CPU time
//! the scheduler spends per timer expiry (waking the task, running it to its end, freeing it).
//!
//! ```text
//! cargo run --release -p greenwood-bench --example sleepers -- greenwood
//! cargo run --release -p greenwood-bench --example sleepers -- tokio
//! ```
//!
//! An optional second argument sets the number of tasks (default 1,000,000), and a third
//! greenwood's stack size in KiB (default: the greenlet crate's default).

use std::time::{Duration, Instant};

const MAX_SLEEP_MS: u64 = 10_000;

fn main() {
    let mut args = std::env::args().skip(1);
    let which = args.next().unwrap_or_else(|| "greenwood".into());
    let n: u64 = args
        .next()
        .and_then(|s| s.replace('_', "").parse().ok())
        .unwrap_or(1_000_000);
    if let Some(kib) = args.next().and_then(|s| s.parse::<usize>().ok()) {
        greenlet::set_default_stack_size(kib * 1024);
    }
    let durations: Vec<Duration> = spread(n);
    let base = rss_bytes();
    let start = Instant::now();
    let report = match which.as_str() {
        "greenwood" => greenwood_run(&durations, base),
        "tokio" => tokio_run(&durations, base),
        other => panic!("unknown runtime {other}: greenwood or tokio"),
    };
    println!(
        "{which}: {n} tasks sleeping up to {MAX_SLEEP_MS} ms\n  \
         RSS per sleeping task: {:.0} B\n  \
         CPU per timer expiry (wake, run to end, free): {:.0} ns\n  \
         spawn: {:.0} ns per task\n  \
         wall: {:.2} s",
        report.rss_per_task,
        report.cpu_per_expiry_ns,
        report.spawn_ns,
        start.elapsed().as_secs_f64()
    );
}

struct Report {
    rss_per_task: f64,
    cpu_per_expiry_ns: f64,
    spawn_ns: f64,
}

/// Deterministic pseudo-random durations in [0, MAX_SLEEP_MS) ms.
fn spread(n: u64) -> Vec<Duration> {
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            Duration::from_millis(x % MAX_SLEEP_MS)
        })
        .collect()
}

fn greenwood_run(durations: &[Duration], base: u64) -> Report {
    let n = durations.len() as f64;
    let t = Instant::now();
    let gs: Vec<_> = durations
        .iter()
        .map(|&d| greenwood::spawn(move || greenwood::sleep(d)))
        .collect();
    let spawn_ns = t.elapsed().as_nanos() as f64 / n;
    // Let every greenlet start and park in its sleep.
    greenwood::sleep(Duration::ZERO);
    let rss = rss_bytes().saturating_sub(base) as f64 / n;
    let cpu = cpu_time();
    greenwood::joinall(&gs);
    let cpu_per_expiry_ns = (cpu_time() - cpu).as_nanos() as f64 / n;
    Report {
        rss_per_task: rss,
        cpu_per_expiry_ns,
        spawn_ns,
    }
}

fn tokio_run(durations: &[Duration], base: u64) -> Report {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("tokio runtime");
    let n = durations.len() as f64;
    rt.block_on(async {
        let t = Instant::now();
        let hs: Vec<_> = durations
            .iter()
            .map(|&d| tokio::spawn(tokio::time::sleep(d)))
            .collect();
        let spawn_ns = t.elapsed().as_nanos() as f64 / n;
        tokio::task::yield_now().await;
        let rss = rss_bytes().saturating_sub(base) as f64 / n;
        let cpu = cpu_time();
        for h in hs {
            h.await.expect("task");
        }
        let cpu_per_expiry_ns = (cpu_time() - cpu).as_nanos() as f64 / n;
        Report {
            rss_per_task: rss,
            cpu_per_expiry_ns,
            spawn_ns,
        }
    })
}

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("/proc/self/statm");
    let resident: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("resident pages");
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as u64;
    resident * page
}

/// User plus system CPU time of this process.
fn cpu_time() -> Duration {
    // SAFETY: getrusage writes into the struct we pass.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: RUSAGE_SELF and a valid pointer.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}
