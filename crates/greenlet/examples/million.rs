//! A million greenlets, each started and suspended in the middle of its function, under the
//! kernel's default `vm.max_map_count` (65530).
//!
//! ```text
//! $ cargo run --release --example million [COUNT]
//! ```
//!
//! Prints how many are alive, the process RSS and the RSS per greenlet, the number of memory
//! mappings, then unwinds them all by dropping them.

use std::time::Instant;

use greenlet::{getcurrent, Greenlet};

fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    status
        .lines()
        .find_map(|l| {
            l.strip_prefix(field)?
                .trim()
                .strip_suffix("kB")?
                .trim()
                .parse()
                .ok()
        })
        .unwrap_or(0)
}

fn mappings() -> usize {
    std::fs::read_to_string("/proc/self/maps")
        .map(|m| m.lines().count())
        .unwrap_or(0)
}

fn main() {
    let n: usize = match std::env::args().nth(1) {
        None => 1_000_000,
        Some(a) => a.parse().unwrap_or_else(|_| {
            eprintln!("usage: million [COUNT]   (COUNT: how many greenlets, default 1000000)");
            std::process::exit(2);
        }),
    };
    let mut greenlets = Vec::with_capacity(n);
    let rss_before = status_kib("VmRSS:");
    let start = Instant::now();
    for _ in 0..n {
        let g = Greenlet::builder()
            .build(|_| {
                // Run a little, then suspend in the middle of the function.
                let parent = getcurrent().parent().expect("a greenlet has a parent");
                parent.switch(());
            })
            .unwrap_or_else(|e| {
                eprintln!("million: creating greenlet {} failed: {e}", greenlets.len());
                std::process::exit(1);
            });
        g.switch(());
        greenlets.push(g);
    }
    let created = start.elapsed();
    let alive = greenlets.iter().filter(|g| g.is_active()).count();
    let rss = status_kib("VmRSS:");
    let per = (rss.saturating_sub(rss_before) * 1024) as f64 / n as f64;
    println!("greenlets alive: {alive} of {n}");
    println!(
        "RSS: {} MiB, {per:.0} bytes per suspended greenlet (page tables: {} MiB more)",
        rss / 1024,
        status_kib("VmPTE:") / 1024
    );
    println!(
        "memory mappings: {} (vm.max_map_count: {}), guard pages by {}",
        mappings(),
        std::fs::read_to_string("/proc/sys/vm/max_map_count")
            .unwrap_or_default()
            .trim(),
        greenlet::stack_guard_kind()
    );
    println!(
        "created, started and suspended in {:.2} s ({:.0} ns each)",
        created.as_secs_f64(),
        created.as_nanos() as f64 / n as f64
    );
    let start = Instant::now();
    drop(greenlets);
    println!(
        "unwound and freed in {:.2} s",
        start.elapsed().as_secs_f64()
    );
    if alive != n {
        std::process::exit(1);
    }
}
