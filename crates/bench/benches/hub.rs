//! The hub beside tokio's `current_thread` runtime, measured in the same run.
//!
//! ```text
//! cargo bench -p greenwood-bench --bench hub
//! ```
//!
//! - spawn + run to completion + join of a trivial task, one at a time and in batches of
//!   1,000 (spawn them all, then join them all); the figure is per task.
//! - hand-off between two tasks: one wakes the other and waits to be woken back; the figure is
//!   per hand-off (half a round trip).

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use greenwood::hub::Waiter;

fn tokio_rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("tokio runtime")
}

/// Runs `iters` tasks in batches of `batch` with `run_batch(n)`, returning the total time.
fn batched(iters: u64, batch: u64, mut run_batch: impl FnMut(u64)) -> Duration {
    let start = Instant::now();
    let mut left = iters;
    while left > 0 {
        let n = left.min(batch);
        run_batch(n);
        left -= n;
    }
    start.elapsed()
}

fn spawn_join(c: &mut Criterion) {
    let mut group = c.benchmark_group("spawn + run + join (per task)");
    for batch in [1u64, 1_000] {
        group.bench_function(format!("greenwood, batch {batch}"), |b| {
            b.iter_custom(|iters| {
                batched(iters, batch, |n| {
                    let gs: Vec<_> = (0..n)
                        .map(|i| greenwood::spawn(move || black_box(i)))
                        .collect();
                    greenwood::joinall(&gs);
                })
            })
        });
        group.bench_function(format!("tokio current_thread, batch {batch}"), |b| {
            let rt = tokio_rt();
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let start = Instant::now();
                    let mut left = iters;
                    while left > 0 {
                        let n = left.min(batch);
                        let hs: Vec<_> = (0..n)
                            .map(|i| tokio::spawn(async move { black_box(i) }))
                            .collect();
                        for h in hs {
                            h.await.expect("task");
                        }
                        left -= n;
                    }
                    start.elapsed()
                })
            })
        });
    }
    group.finish();
}

fn hand_off(c: &mut Criterion) {
    let mut group = c.benchmark_group("hand-off between two tasks (per hand-off)");

    group.bench_function("greenwood Waiter", |b| {
        b.iter_custom(|iters| {
            let (ping, pong) = (Waiter::new(), Waiter::new());
            let (ping2, pong2) = (ping.clone(), pong.clone());
            let other = greenwood::spawn(move || {
                for _ in 0..iters {
                    pong2.get();
                    ping2.switch(());
                }
            });
            greenwood::sleep(Duration::ZERO); // let it start and park
            let start = Instant::now();
            for _ in 0..iters {
                pong.switch(());
                ping.get();
            }
            let t = start.elapsed();
            other.join();
            t / 2
        })
    });

    group.bench_function("greenwood sleep(0)", |b| {
        b.iter_custom(|iters| {
            let other = greenwood::spawn(move || {
                for _ in 0..iters {
                    greenwood::sleep(Duration::ZERO);
                }
            });
            greenwood::sleep(Duration::ZERO);
            let start = Instant::now();
            for _ in 0..iters {
                greenwood::sleep(Duration::ZERO);
            }
            let t = start.elapsed();
            other.join();
            t / 2
        })
    });

    group.bench_function("tokio Notify", |b| {
        let rt = tokio_rt();
        b.iter_custom(|iters| {
            rt.block_on(async {
                let ping = Arc::new(tokio::sync::Notify::new());
                let pong = Arc::new(tokio::sync::Notify::new());
                let (ping2, pong2) = (ping.clone(), pong.clone());
                let other = tokio::spawn(async move {
                    for _ in 0..iters {
                        pong2.notified().await;
                        ping2.notify_one();
                    }
                });
                tokio::task::yield_now().await;
                let start = Instant::now();
                for _ in 0..iters {
                    pong.notify_one();
                    ping.notified().await;
                }
                let t = start.elapsed();
                other.await.expect("task");
                t / 2
            })
        })
    });

    group.bench_function("tokio yield_now", |b| {
        let rt = tokio_rt();
        b.iter_custom(|iters| {
            rt.block_on(async {
                let other = tokio::spawn(async move {
                    for _ in 0..iters {
                        tokio::task::yield_now().await;
                    }
                });
                tokio::task::yield_now().await;
                let start = Instant::now();
                for _ in 0..iters {
                    tokio::task::yield_now().await;
                }
                let t = start.elapsed();
                other.await.expect("task");
                t / 2
            })
        })
    });
    group.finish();
}

criterion_group!(benches, spawn_join, hand_off);
criterion_main!(benches);
