//! Unmodified blocking client code, two ways in one run: each request in a greenlet of one
//! thread, patched by `greenwood::monkey`, and each request on a thread of its own (threads
//! that have no hub, whose calls are libc's). The client is ureq with its default features;
//! the server, on a thread of its own, answers every request after 200 ms.
//!
//! ```text
//! cargo run --release -p greenwood-bench-monkey --example drivers            # 500 requests
//! cargo run --release -p greenwood-bench-monkey --example drivers -- 2000
//! ```

use std::io::{Read, Write};
use std::time::{Duration, Instant};

/// A server on its own thread: each connection answered after 200 ms with 2,000 bytes.
fn server() -> std::net::SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let server = greenwood::server::StreamServer::bind(
            "127.0.0.1:0",
            |mut s: greenwood::net::TcpStream, _| {
                let mut req = Vec::new();
                let mut buf = [0u8; 1024];
                while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => req.extend_from_slice(&buf[..n]),
                    }
                }
                greenwood::sleep(Duration::from_millis(200));
                let body = [b'p'; 2_000];
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = s
                    .write_all(head.as_bytes())
                    .and_then(|()| s.write_all(&body));
            },
        )
        .expect("bind");
        tx.send(server.local_addr().expect("addr")).expect("send");
        server.serve_forever().expect("serve");
    });
    rx.recv().expect("the server's address")
}

fn fetch(url: &str) -> usize {
    let mut r = ureq::get(url).call().expect("request");
    r.body_mut().read_to_vec().expect("body").len()
}

/// The process's peak resident memory so far (`VmHWM`), in KiB.
fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .map_or(500, |s| s.replace('_', "").parse().expect("N"));
    let addr = server();
    let url = format!("http://{addr}/photo");
    fetch(&url); // warm up: the server, ureq's lazies

    // One thread per request (before patching: their calls are libc's either way).
    let before = peak_rss_kib();
    let t = Instant::now();
    let threads: Vec<_> = (0..n)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || fetch(&url))
        })
        .collect();
    let bytes: usize = threads.into_iter().map(|t| t.join().expect("thread")).sum();
    let threads_time = t.elapsed();
    let threads_rss = peak_rss_kib().saturating_sub(before);
    assert_eq!(bytes, n * 2_000);

    greenwood::monkey::patch_all().expect("patch_all");
    let before = peak_rss_kib();
    let t = Instant::now();
    let greenlets: Vec<_> = (0..n)
        .map(|_| {
            let url = url.clone();
            greenwood::spawn(move || fetch(&url))
        })
        .collect();
    greenwood::joinall(&greenlets);
    let bytes: usize = greenlets.iter().map(|g| g.take().expect("greenlet")).sum();
    let greenlets_time = t.elapsed();
    let greenlets_rss = peak_rss_kib().saturating_sub(before);
    assert_eq!(bytes, n * 2_000);

    println!(
        "{n} ureq requests (200 ms each on the server): a thread each {:.0} ms, peak RSS +{} KiB; \
         a greenlet each {:.0} ms, peak RSS +{} KiB",
        threads_time.as_secs_f64() * 1e3,
        threads_rss,
        greenlets_time.as_secs_f64() * 1e3,
        greenlets_rss
    );
}
