//! Switch cost and greenlet lifecycle, beside corosensei's raw resume/suspend measured in the
//! same run.
//!
//! ```text
//! cargo bench -p greenwood-bench --bench switch
//! ```
//!
//! Each ping-pong iteration is two switches (there and back); the per-switch figure is half.

use std::hint::black_box;

use corosensei::stack::DefaultStack;
use corosensei::{Coroutine, CoroutineResult};
use criterion::{criterion_group, criterion_main, Criterion};
use greenlet::{getcurrent, Greenlet};

fn ping_pong(c: &mut Criterion) {
    let mut group = c.benchmark_group("ping-pong (2 switches)");

    group.bench_function("corosensei resume+suspend", |b| {
        let mut co = Coroutine::new(|y, mut n: u64| loop {
            n = y.suspend(n + 1);
        });
        let mut n = 0u64;
        b.iter(|| match co.resume(black_box(n)) {
            CoroutineResult::Yield(v) => n = v,
            CoroutineResult::Return(()) => unreachable!(),
        });
    });

    group.bench_function("greenlet main <-> child", |b| {
        let main = getcurrent();
        let child = Greenlet::new(move |_| loop {
            main.switch(());
        });
        b.iter(|| child.switch(()));
    });

    group.bench_function("greenlet child <-> child", |b| {
        // Two non-main greenlets switching to each other: every switch goes through the
        // thread's main stack (a suspend and a resume).
        let main = getcurrent();
        let rounds = std::rc::Rc::new(std::cell::Cell::new(0u64));
        let r = rounds.clone();
        let pong = Greenlet::new(move |v| {
            let ping = v.downcast::<Greenlet>().expect("ping handle");
            loop {
                ping.switch(());
            }
        });
        let pong2 = pong.clone();
        let ping = Greenlet::new(move |_| {
            pong2.switch(getcurrent());
            loop {
                for _ in 0..r.get() {
                    pong2.switch(());
                }
                main.switch(());
            }
        });
        ping.switch(());
        b.iter_custom(|iters| {
            rounds.set(iters);
            let t = std::time::Instant::now();
            ping.switch(());
            t.elapsed()
        });
        drop(pong);
    });
    group.finish();
}

fn lifecycle(c: &mut Criterion) {
    let mut group = c.benchmark_group("create + run to end + free");
    group.bench_function("greenlet (pooled stack)", |b| {
        b.iter(|| Greenlet::new(|_| black_box(1u32)).switch(()));
    });
    group.bench_function("corosensei (stack reused by hand)", |b| {
        let mut stack = Some(DefaultStack::new(256 * 1024).unwrap());
        b.iter(|| {
            let mut co = Coroutine::with_stack(stack.take().unwrap(), |_, ()| black_box(1u32));
            let r: CoroutineResult<(), u32> = co.resume(());
            stack = Some(co.into_stack());
            r
        });
    });
    group.bench_function("corosensei (new mmap stack each)", |b| {
        b.iter(|| Coroutine::<(), (), u32>::new(|_, ()| black_box(1u32)).resume(()));
    });
    group.finish();
}

criterion_group!(benches, ping_pong, lifecycle);
criterion_main!(benches);
