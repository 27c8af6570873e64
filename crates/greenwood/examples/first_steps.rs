//! The README's first snippet: 10,000 greenlets each "download" for 100 ms (a sleep standing
//! in for the network), all on one thread.
//!
//! ```text
//! cargo run --release --example first_steps
//! ```

use std::time::{Duration, Instant};

fn download(user: u32) -> usize {
    greenwood::sleep(Duration::from_millis(100)); // stands in for the network
    10_000 + user as usize
}

fn main() {
    let start = Instant::now();
    let jobs: Vec<_> = (0..10_000)
        .map(|u| greenwood::spawn(move || download(u)))
        .collect();
    greenwood::joinall(&jobs);
    let bytes: usize = jobs.iter().map(|g| g.get().unwrap()).sum();
    println!("{bytes} bytes in {} ms", start.elapsed().as_millis());
}
