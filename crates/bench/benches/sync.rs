//! greenwood's queue, semaphore and thread pool beside tokio's (`current_thread` runtime),
//! measured in the same run.
//!
//! ```text
//! cargo bench -p greenwood-bench --bench sync
//! ```
//!
//! - queue hand-off: one producer puts items into a queue of 128, one consumer gets them; the
//!   figure is per item.
//! - contended semaphore: 1,000 tasks share 10 permits; each takes a permit, yields once
//!   while holding it, and gives it back; the figure is per acquire/release.
//! - thread-pool round trip: submit a trivial job to a pool thread and wait for its result.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};

fn tokio_rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("tokio runtime")
}

fn queue_hand_off(c: &mut Criterion) {
    let mut group = c.benchmark_group("queue hand-off, capacity 128 (per item)");
    group.bench_function("greenwood Queue", |b| {
        b.iter_custom(|iters| {
            let q = greenwood::queue::Queue::bounded(128);
            let q2 = q.clone();
            let start = Instant::now();
            let producer = greenwood::spawn(move || {
                for i in 0..iters {
                    q2.put(i).unwrap();
                }
            });
            for _ in 0..iters {
                black_box(q.get());
            }
            let t = start.elapsed();
            producer.join();
            t
        })
    });
    group.bench_function("tokio mpsc", |b| {
        let rt = tokio_rt();
        b.iter_custom(|iters| {
            rt.block_on(async {
                let (tx, mut rx) = tokio::sync::mpsc::channel(128);
                let start = Instant::now();
                let producer = tokio::spawn(async move {
                    for i in 0..iters {
                        tx.send(i).await.unwrap();
                    }
                });
                for _ in 0..iters {
                    black_box(rx.recv().await);
                }
                let t = start.elapsed();
                producer.await.unwrap();
                t
            })
        })
    });
    group.finish();
}

const TASKS: u64 = 1_000;
const PERMITS: usize = 10;

fn contended_semaphore(c: &mut Criterion) {
    let mut group = c.benchmark_group("semaphore, 1,000 tasks on 10 permits (per acquire/release)");
    group.bench_function("greenwood Semaphore", |b| {
        b.iter_custom(|iters| {
            let rounds = iters.div_ceil(TASKS);
            let sem = greenwood::lock::Semaphore::new(PERMITS);
            let start = Instant::now();
            let gs: Vec<_> = (0..TASKS)
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
            start.elapsed() * iters as u32 / (rounds * TASKS) as u32
        })
    });
    group.bench_function("tokio Semaphore", |b| {
        let rt = tokio_rt();
        b.iter_custom(|iters| {
            let rounds = iters.div_ceil(TASKS);
            rt.block_on(async {
                let sem = Arc::new(tokio::sync::Semaphore::new(PERMITS));
                let start = Instant::now();
                let hs: Vec<_> = (0..TASKS)
                    .map(|_| {
                        let sem = sem.clone();
                        tokio::spawn(async move {
                            for _ in 0..rounds {
                                let _permit = sem.acquire().await.unwrap();
                                tokio::task::yield_now().await;
                            }
                        })
                    })
                    .collect();
                for h in hs {
                    h.await.unwrap();
                }
                start.elapsed() * iters as u32 / (rounds * TASKS) as u32
            })
        })
    });
    group.finish();
}

fn thread_pool_round_trip(c: &mut Criterion) {
    let mut group = c.benchmark_group("thread-pool round trip");
    group.bench_function("greenwood spawn_blocking", |b| {
        b.iter(|| {
            greenwood::spawn_blocking(|| black_box(1u64))
                .join()
                .unwrap()
        })
    });
    group.bench_function("tokio spawn_blocking", |b| {
        let rt = tokio_rt();
        b.iter(|| {
            rt.block_on(async {
                tokio::task::spawn_blocking(|| black_box(1u64))
                    .await
                    .unwrap()
            })
        })
    });
    group.finish();
}

criterion_group!(
    benches,
    queue_hand_off,
    contended_semaphore,
    thread_pool_round_trip
);
criterion_main!(benches);
