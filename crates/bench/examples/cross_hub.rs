//! Channels between two threads: greenwood's `channel` between greenlets on two hubs of
//! `Hubs`, tokio's `mpsc` between tasks of a `multi_thread` runtime with two workers, and
//! `crossbeam-channel` between two plain threads, measured in the same run.
//!
//! ```text
//! cargo run --release -p greenwood-bench --example cross_hub            # 5 rounds
//! cargo run --release -p greenwood-bench --example cross_hub -- 9       # 9 rounds
//! ```
//!
//! - ping-pong: one side sends a number over a channel of capacity 1, the other sends it back
//!   over a second one; the figure is per round trip (two hand-offs between threads).
//! - throughput: one side sends 2,000,000 numbers into a channel of capacity 1,024, the other
//!   receives them; the figure is per item.
//!
//! tokio's `multi_thread` runtime may run both tasks on one worker (a task woken by the task
//! running on a worker goes to that worker's LIFO slot), so tokio also runs as two
//! `current_thread` runtimes on two threads, which is what two hubs are.
//!
//! Each round runs every peer once, in a rotating order; the table gives the medians.

use std::time::{Duration, Instant};

const ROUND_TRIPS: u64 = 100_000;
const ITEMS: u64 = 2_000_000;
const CAPACITY: usize = 1024;

fn greenwood_ping_pong(hubs: &greenwood::hubs::Hubs) -> Duration {
    use greenwood::channel::bounded;
    let (ping_tx, ping_rx) = bounded::<u64>(1);
    let (pong_tx, pong_rx) = bounded::<u64>(1);
    let echo = hubs.spawn_on(1, move || {
        for v in ping_rx.iter() {
            pong_tx.send(v).unwrap();
        }
    });
    let pinger = hubs.spawn_on(0, move || {
        let start = Instant::now();
        for i in 0..ROUND_TRIPS {
            ping_tx.send(i).unwrap();
            assert_eq!(pong_rx.recv(), Some(i));
        }
        start.elapsed()
    });
    let t = pinger.take().unwrap();
    echo.join();
    t
}

fn greenwood_throughput(hubs: &greenwood::hubs::Hubs) -> Duration {
    let (tx, rx) = greenwood::channel::bounded::<u64>(CAPACITY);
    let start = Instant::now();
    let producer = hubs.spawn_on(0, move || {
        for i in 0..ITEMS {
            tx.send(i).unwrap();
        }
    });
    let consumer = hubs.spawn_on(1, move || rx.iter().fold(0u64, |a, v| a.wrapping_add(v)));
    let sum = consumer.take().unwrap();
    let t = start.elapsed();
    producer.join();
    assert_eq!(sum, ITEMS * (ITEMS - 1) / 2);
    t
}

fn tokio_ping_pong(rt: &tokio::runtime::Runtime) -> Duration {
    use tokio::sync::mpsc::channel;
    rt.block_on(async {
        let (ping_tx, mut ping_rx) = channel::<u64>(1);
        let (pong_tx, mut pong_rx) = channel::<u64>(1);
        let echo = tokio::spawn(async move {
            while let Some(v) = ping_rx.recv().await {
                pong_tx.send(v).await.unwrap();
            }
        });
        let pinger = tokio::spawn(async move {
            let start = Instant::now();
            for i in 0..ROUND_TRIPS {
                ping_tx.send(i).await.unwrap();
                assert_eq!(pong_rx.recv().await, Some(i));
            }
            start.elapsed()
        });
        let t = pinger.await.unwrap();
        echo.await.unwrap();
        t
    })
}

fn tokio_throughput(rt: &tokio::runtime::Runtime) -> Duration {
    rt.block_on(async {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<u64>(CAPACITY);
        let start = Instant::now();
        let producer = tokio::spawn(async move {
            for i in 0..ITEMS {
                tx.send(i).await.unwrap();
            }
        });
        let consumer = tokio::spawn(async move {
            let mut sum = 0u64;
            while let Some(v) = rx.recv().await {
                sum = sum.wrapping_add(v);
            }
            sum
        });
        let sum = consumer.await.unwrap();
        let t = start.elapsed();
        producer.await.unwrap();
        assert_eq!(sum, ITEMS * (ITEMS - 1) / 2);
        t
    })
}

/// Two `current_thread` runtimes on two threads: tokio's analogue of two hubs, where the
/// tasks cannot end up on one worker.
fn tokio_two_runtimes<R: Send + 'static>(
    a: impl FnOnce() -> std::pin::Pin<Box<dyn std::future::Future<Output = R>>> + Send + 'static,
    b: impl FnOnce() -> std::pin::Pin<Box<dyn std::future::Future<Output = ()>>> + Send + 'static,
) -> R {
    let rt = || {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("tokio runtime")
    };
    let other = std::thread::spawn(move || rt().block_on(b()));
    let r = std::thread::spawn(move || rt().block_on(a()))
        .join()
        .unwrap();
    other.join().unwrap();
    r
}

fn tokio_threads_ping_pong() -> Duration {
    use tokio::sync::mpsc::channel;
    let (ping_tx, mut ping_rx) = channel::<u64>(1);
    let (pong_tx, mut pong_rx) = channel::<u64>(1);
    tokio_two_runtimes(
        move || {
            Box::pin(async move {
                let start = Instant::now();
                for i in 0..ROUND_TRIPS {
                    ping_tx.send(i).await.unwrap();
                    assert_eq!(pong_rx.recv().await, Some(i));
                }
                start.elapsed()
            })
        },
        move || {
            Box::pin(async move {
                while let Some(v) = ping_rx.recv().await {
                    pong_tx.send(v).await.unwrap();
                }
            })
        },
    )
}

fn tokio_threads_throughput() -> Duration {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<u64>(CAPACITY);
    let start = Instant::now();
    let sum = tokio_two_runtimes(
        move || {
            Box::pin(async move {
                let mut sum = 0u64;
                while let Some(v) = rx.recv().await {
                    sum = sum.wrapping_add(v);
                }
                sum
            })
        },
        move || {
            Box::pin(async move {
                for i in 0..ITEMS {
                    tx.send(i).await.unwrap();
                }
            })
        },
    );
    let t = start.elapsed();
    assert_eq!(sum, ITEMS * (ITEMS - 1) / 2);
    t
}

fn crossbeam_ping_pong() -> Duration {
    let (ping_tx, ping_rx) = crossbeam_channel::bounded::<u64>(1);
    let (pong_tx, pong_rx) = crossbeam_channel::bounded::<u64>(1);
    let echo = std::thread::spawn(move || {
        for v in ping_rx.iter() {
            pong_tx.send(v).unwrap();
        }
    });
    let start = Instant::now();
    for i in 0..ROUND_TRIPS {
        ping_tx.send(i).unwrap();
        assert_eq!(pong_rx.recv().unwrap(), i);
    }
    let t = start.elapsed();
    drop(ping_tx);
    echo.join().unwrap();
    t
}

fn crossbeam_throughput() -> Duration {
    let (tx, rx) = crossbeam_channel::bounded::<u64>(CAPACITY);
    let start = Instant::now();
    let producer = std::thread::spawn(move || {
        for i in 0..ITEMS {
            tx.send(i).unwrap();
        }
    });
    let sum = rx.iter().fold(0u64, |a, v| a.wrapping_add(v));
    let t = start.elapsed();
    producer.join().unwrap();
    assert_eq!(sum, ITEMS * (ITEMS - 1) / 2);
    t
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .map_or(5, |s| s.parse().expect("rounds"));
    let hubs = greenwood::hubs::Hubs::new(2).expect("two hubs");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .expect("tokio runtime");
    let names = [
        "greenwood channel, two hubs",
        "tokio mpsc, multi_thread (2 workers)",
        "crossbeam-channel, two threads",
        "tokio mpsc, two current_thread runtimes",
    ];
    let peers = names.len();
    let mut ping = vec![Vec::new(); peers];
    let mut thru = vec![Vec::new(); peers];
    for round in 0..rounds {
        for k in 0..peers {
            let peer = (round + k) % peers;
            let (p, t) = match peer {
                0 => (greenwood_ping_pong(&hubs), greenwood_throughput(&hubs)),
                1 => (tokio_ping_pong(&rt), tokio_throughput(&rt)),
                2 => (crossbeam_ping_pong(), crossbeam_throughput()),
                _ => (tokio_threads_ping_pong(), tokio_threads_throughput()),
            };
            ping[peer].push(p);
            thru[peer].push(t);
        }
    }
    println!("{rounds} rounds, medians (2 cores; the machine's other load is not controlled)");
    println!();
    println!("| peer | ping-pong, per round trip | throughput, per item | items/s |");
    println!("|---|---|---|---|");
    let ping: Vec<f64> = ping
        .into_iter()
        .map(|v| median(v).as_nanos() as f64 / ROUND_TRIPS as f64)
        .collect();
    let thru: Vec<f64> = thru
        .into_iter()
        .map(|v| median(v).as_nanos() as f64 / ITEMS as f64)
        .collect();
    for k in 0..peers {
        println!(
            "| {} | {:.0} ns | {:.1} ns | {:.1} M |",
            names[k],
            ping[k],
            thru[k],
            1e3 / thru[k]
        );
    }
    println!();
    println!(
        "greenwood against tokio multi_thread: ping-pong {:.2}x the time, throughput {:.2}x the time per item",
        ping[0] / ping[1],
        thru[0] / thru[1]
    );
    println!(
        "greenwood against tokio on two threads: ping-pong {:.2}x, throughput {:.2}x",
        ping[0] / ping[3],
        thru[0] / thru[3]
    );
    println!(
        "greenwood against crossbeam: ping-pong {:.2}x, throughput {:.2}x",
        ping[0] / ping[2],
        thru[0] / thru[2]
    );
}
