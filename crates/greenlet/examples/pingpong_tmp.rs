use greenlet::{getcurrent, Greenlet};
fn main() {
    if std::env::var_os("CORO").is_some() { coro(std::env::args().nth(1).unwrap().parse().unwrap()); return; }
    let n: u64 = std::env::args().nth(1).map(|a| a.parse().unwrap()).unwrap_or(10_000_000);
    let main = getcurrent();
    let child = Greenlet::new(move |_| loop { main.switch(()); });
    let t = std::time::Instant::now();
    for _ in 0..n { child.switch(()); }
    println!("{:.2} ns/switch", t.elapsed().as_nanos() as f64 / (2 * n) as f64);
}
#[allow(dead_code)]
fn coro(n: u64) {
    use corosensei::{Coroutine, CoroutineResult};
    let mut co: Coroutine<u64, u64, ()> = Coroutine::with_stack(corosensei::stack::DefaultStack::new(256*1024).unwrap(), |y, mut v: u64| loop { v = y.suspend(v + 1); });
    let t = std::time::Instant::now();
    let mut v = 0;
    for _ in 0..n { if let CoroutineResult::Yield(x) = co.resume(std::hint::black_box(v)) { v = x } }
    println!("corosensei {:.2} ns/switch", t.elapsed().as_nanos() as f64 / (2 * n) as f64);
}
