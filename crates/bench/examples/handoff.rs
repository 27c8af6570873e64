//! N hand-offs through greenwood's hub, for instruction counts under callgrind:
//!
//! ```text
//! cargo build --release -p greenwood-bench --example handoff
//! valgrind --tool=callgrind target/release/examples/handoff waiter 100000
//! ```
//!
//! The difference between two runs with different N, divided by the difference in N, is the
//! cost of one round trip (two hand-offs) without start-up.

use std::time::Duration;

use greenwood::hub::Waiter;

fn main() {
    let mut args = std::env::args().skip(1);
    let kind = args.next().unwrap_or_else(|| "waiter".into());
    let n: u64 = args
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    match kind.as_str() {
        "waiter" => {
            let (ping, pong) = (Waiter::new(), Waiter::new());
            let (ping2, pong2) = (ping.clone(), pong.clone());
            let other = greenwood::spawn(move || {
                for _ in 0..n {
                    pong2.get();
                    ping2.switch(());
                }
            });
            for _ in 0..n {
                pong.switch(());
                ping.get();
            }
            other.join();
        }
        "yield" => {
            let other = greenwood::spawn(move || {
                for _ in 0..n {
                    greenwood::sleep(Duration::ZERO);
                }
            });
            for _ in 0..n {
                greenwood::sleep(Duration::ZERO);
            }
            other.join();
        }
        "spawn" => {
            for _ in 0..n {
                greenwood::spawn(|| ()).join();
            }
        }
        "spawn1000" => {
            for _ in 0..n / 1000 {
                let gs: Vec<_> = (0..1000).map(|_| greenwood::spawn(|| ())).collect();
                greenwood::joinall(&gs);
            }
        }
        "semaphore" => {
            // 1,000 greenlets on 10 permits, n acquire/release cycles in all.
            let sem = greenwood::lock::Semaphore::new(10);
            let rounds = (n / 1000).max(1);
            let gs: Vec<_> = (0..1000)
                .map(|_| {
                    let sem = sem.clone();
                    greenwood::spawn(move || {
                        for _ in 0..rounds {
                            let _permit = sem.acquire();
                            greenwood::sleep(Duration::ZERO);
                        }
                    })
                })
                .collect();
            greenwood::joinall(&gs);
        }
        other => panic!("unknown case {other}: waiter, yield, spawn, spawn1000 or semaphore"),
    }
}
