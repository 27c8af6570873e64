//! The classic downloader: fetch a photo for each of N users, one greenlet per user, with a
//! timeout per download and a failure that does not take the others down. `sleep` stands in
//! for the network, so the example needs no server (greenwood-compare will do it for real).
//!
//! ```text
//! cargo run --release --example downloader            # 10,000 users
//! cargo run --release --example downloader -- 100000  # more
//! ```

use std::time::{Duration, Instant};

/// "Downloads" user `user`'s photo: 20–180 ms of waiting, like a slow server would make us.
fn download(user: u32) -> usize {
    let latency = 20 + (user.wrapping_mul(2_654_435_761) >> 16) % 161;
    greenwood::sleep(Duration::from_millis(latency as u64));
    if user == 4_242 {
        panic!("user {user} has no photo");
    }
    10_000 + user as usize % 5_000 // bytes
}

fn main() {
    let users: u32 = std::env::args()
        .nth(1)
        .and_then(|s| s.replace('_', "").parse().ok())
        .unwrap_or(10_000);
    let timeout = Duration::from_millis(150);
    let start = Instant::now();
    let jobs: Vec<_> = (0..users)
        .map(|user| {
            greenwood::Builder::new()
                .name(format!("user-{user}"))
                .spawn(move || greenwood::with_timeout(timeout, || download(user)))
                .expect("spawn")
        })
        .collect();
    greenwood::joinall(&jobs);
    let elapsed = start.elapsed();

    let (mut ok, mut bytes, mut timed_out, mut failed) = (0, 0, 0, 0);
    for job in &jobs {
        match job.take() {
            Ok(Ok(n)) => {
                ok += 1;
                bytes += n;
            }
            Ok(Err(_elapsed)) => timed_out += 1,
            Err(_panicked) => failed += 1,
        }
    }
    println!(
        "{users} users in {:.0} ms on one thread: {ok} photos ({:.1} MB), {timed_out} timed out \
         after {} ms, {failed} failed",
        elapsed.as_secs_f64() * 1e3,
        bytes as f64 / 1e6,
        timeout.as_millis()
    );
}
