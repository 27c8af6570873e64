//! A plain loop to count instructions with callgrind (repeatable, unlike timings on a shared
//! machine): CREATE greenlets created, run to their end and freed, then ROUND_TRIPS
//! main <-> child switch round trips.
//!
//! ```text
//! cargo build --release -p greenwood-bench --example lifecycle_count
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null target/release/examples/lifecycle_count 100000 0
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null target/release/examples/lifecycle_count 0 100000
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null target/release/examples/lifecycle_count 0 0
//! ```
//!
//! (instructions of a run − those of `0 0`) / 100,000 = instructions per operation.

fn main() {
    let args: Vec<u32> = std::env::args()
        .skip(1)
        .map(|s| {
            s.parse()
                .expect("usage: lifecycle_count CREATE ROUND_TRIPS")
        })
        .collect();
    let (create, round_trips) = match args[..] {
        [c, r] => (c, r),
        _ => panic!("usage: lifecycle_count CREATE ROUND_TRIPS"),
    };
    let mut sum = 0u64;
    for i in 0..create {
        let g = greenlet::Greenlet::new(move |_| u64::from(i));
        sum += g.switch(()).downcast::<u64>().unwrap();
    }
    let main = greenlet::getcurrent();
    let g = greenlet::Greenlet::new(move |_| loop {
        main.switch(());
    });
    for _ in 0..round_trips {
        g.switch(());
    }
    println!("{sum}");
}
