//! gevent's mass DNS resolution: resolve many host names with a pool of 10 greenlets and one
//! overall timeout, then say how many finished in time. Each lookup blocks a thread of the
//! thread pool, never the hub, so the other greenlets (and the timeout) keep running.
//!
//! ```text
//! cargo run --release --example dns_mass_resolve                 # 1,000 lookups of /etc/hosts names
//! cargo run --release --example dns_mass_resolve -- localhost example.org
//! ```
//!
//! By default it looks up the names of `/etc/hosts` (`localhost` and the machine's own), over
//! and over, 1,000 times: the system resolver answers them from that file, so no query leaves
//! the machine. gevent's own example resolves `10.com` … `1009.com` on the Internet; pass
//! names on the command line to do that (they go to your DNS servers). Names that do not
//! resolve fail fast or time out, and the summary says which.
use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use greenwood::net::ToSocketAddrs;
use greenwood::pool::Pool;

/// The whole run's time limit, as in gevent's example.
const LIMIT: Duration = Duration::from_secs(2);

/// Lookups made by default.
const LOOKUPS: usize = 1_000;

/// The host names `/etc/hosts` lists (`localhost` if it lists none), in order, once each.
fn hosts_file_names() -> Vec<String> {
    let text = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
    let mut names: Vec<String> = Vec::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("");
        for name in line.split_whitespace().skip(1) {
            if !names.iter().any(|n| n == name) {
                names.push(name.to_string());
            }
        }
    }
    if names.is_empty() {
        names.push("localhost".to_string());
    }
    names
}

fn main() {
    let names: Vec<String> = std::env::args().skip(1).collect();
    let names = if names.is_empty() {
        let local = hosts_file_names();
        println!(
            "looking up {} names of /etc/hosts ({}), {LOOKUPS} times in all",
            local.len(),
            local.join(", ")
        );
        local.iter().cycle().take(LOOKUPS).cloned().collect()
    } else {
        names
    };
    let n = names.len();
    let pool = Pool::new(10);
    let (resolved, failed) = (Rc::new(Cell::new(0)), Rc::new(Cell::new(0)));
    let start = Instant::now();
    let in_time = greenwood::with_timeout(LIMIT, || {
        for name in names {
            let (resolved, failed) = (resolved.clone(), failed.clone());
            pool.spawn(move || match (name.as_str(), 0).to_socket_addrs() {
                Ok(addrs) => {
                    let ips: Vec<String> = addrs.iter().map(|a| a.ip().to_string()).collect();
                    println!("{name} = {}", ips.join(", "));
                    resolved.set(resolved.get() + 1);
                }
                Err(e) => {
                    println!("{name} failed with {e}");
                    failed.set(failed.get() + 1);
                }
            });
        }
        pool.join();
    });
    if in_time.is_err() {
        pool.kill(); // the lookups still running on the thread pool finish there, unheard
    }
    let finished = resolved.get() + failed.get();
    println!(
        "finished within {} s: {finished}/{n} ({} resolved, {} failed) in {} ms",
        LIMIT.as_secs(),
        resolved.get(),
        failed.get(),
        start.elapsed().as_millis()
    );
}
