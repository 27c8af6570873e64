//! A server whose handler computes: each request costs about 50 µs of CPU (hashing a
//! buffer), so one thread cannot serve more than ~20,000 requests/s and the figure is how well
//! a runtime uses the cores. greenwood's `StreamServer::threads(2)` beside `threads(1)` (one
//! hub, the same code) and beside tokio's `multi_thread` runtime with two workers, measured in
//! the same run.
//!
//! ```text
//! cargo run --release -p greenwood-bench --example cpu_server            # 3 rounds of 3 s
//! cargo run --release -p greenwood-bench --example cpu_server -- 5 4     # 5 rounds of 4 s
//! ```
//!
//! The protocol is HTTP-shaped: the client sends a small request ending in an empty line, the
//! server hashes the buffer and answers with a fixed-size response; connections are kept
//! alive. The load generator is 32 connections, each a greenlet on one hub of its own thread
//! sending a request and waiting for the answer, again and again; it takes some of the two
//! cores too (its share is the same for every server).

use std::hash::Hasher;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const REQUEST: &[u8] = b"GET /photo HTTP/1.1\r\nHost: bench\r\n\r\n";
const RESPONSE_HEAD: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 16\r\n\r\n";
const CONNECTIONS: usize = 32;
/// The CPU a request costs.
const WORK: Duration = Duration::from_micros(50);

/// Hashes `len` bytes of a buffer: the request's CPU work.
fn work(buf: &[u8]) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    h.write(buf);
    h.finish()
}

/// A buffer whose hash takes about `WORK` on this machine.
fn calibrate() -> Vec<u8> {
    let probe = vec![7u8; 1 << 20];
    let start = Instant::now();
    let mut x = 0;
    for _ in 0..20 {
        x ^= work(std::hint::black_box(&probe));
    }
    std::hint::black_box(x);
    let per_byte = start.elapsed().as_secs_f64() / (20.0 * probe.len() as f64);
    let len = (WORK.as_secs_f64() / per_byte) as usize;
    vec![7u8; len.max(1)]
}

/// Reads one request (up to its empty line) from `buf`'s front; how many bytes it took.
fn request_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4)
}

fn response(hash: u64) -> Vec<u8> {
    let mut r = RESPONSE_HEAD.to_vec();
    r.extend_from_slice(format!("{hash:016x}").as_bytes());
    r
}

/// The handler, for any blocking stream: greenwood's.
fn serve_blocking(mut conn: impl Read + Write, payload: &[u8]) {
    let mut buf = Vec::with_capacity(256);
    let mut chunk = [0u8; 256];
    loop {
        while let Some(end) = request_end(&buf) {
            buf.drain(..end);
            if conn.write_all(&response(work(payload))).is_err() {
                return;
            }
        }
        match conn.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

async fn serve_tokio(mut conn: tokio::net::TcpStream, payload: Arc<Vec<u8>>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buf = Vec::with_capacity(256);
    let mut chunk = [0u8; 256];
    loop {
        while let Some(end) = request_end(&buf) {
            buf.drain(..end);
            if conn.write_all(&response(work(&payload))).await.is_err() {
                return;
            }
        }
        match conn.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

/// Drives `addr` with `CONNECTIONS` keep-alive clients for `secs`; requests per second.
fn load(addr: SocketAddr, secs: Duration) -> f64 {
    std::thread::spawn(move || {
        let done = Arc::new(AtomicU64::new(0));
        let counting = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let clients: Vec<_> = (0..CONNECTIONS)
            .map(|_| {
                let (done, counting, stop) = (done.clone(), counting.clone(), stop.clone());
                greenwood::spawn(move || {
                    let mut c = greenwood::net::TcpStream::connect(addr).expect("connect");
                    c.set_nodelay(true).unwrap();
                    let mut answer = vec![0u8; RESPONSE_HEAD.len() + 16];
                    while !stop.load(Ordering::Relaxed) {
                        c.write_all(REQUEST).unwrap();
                        c.read_exact(&mut answer).unwrap();
                        if counting.load(Ordering::Relaxed) {
                            done.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                })
            })
            .collect();
        greenwood::sleep(Duration::from_millis(500)); // warm up
        counting.store(true, Ordering::Relaxed);
        let start = Instant::now();
        greenwood::sleep(secs);
        let n = done.load(Ordering::Relaxed);
        let rate = n as f64 / start.elapsed().as_secs_f64();
        stop.store(true, Ordering::Relaxed);
        greenwood::joinall(&clients);
        rate
    })
    .join()
    .unwrap()
}

fn greenwood_round(threads: usize, payload: &Arc<Vec<u8>>, secs: Duration) -> f64 {
    let p = payload.clone();
    let server = greenwood::server::StreamServer::threads(threads)
        .bind("127.0.0.1:0", move |conn, _peer| {
            conn.set_nodelay(true).unwrap();
            serve_blocking(conn, &p)
        })
        .expect("greenwood server");
    let rate = load(server.local_addr(), secs);
    server.stop(Some(Duration::from_secs(1)));
    rate
}

fn tokio_round(payload: &Arc<Vec<u8>>, secs: Duration) -> f64 {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_io()
        .build()
        .expect("tokio runtime");
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("tokio listener");
    let addr = listener.local_addr().unwrap();
    let payload = payload.clone();
    rt.spawn(async move {
        loop {
            let Ok((conn, _)) = listener.accept().await else {
                continue;
            };
            conn.set_nodelay(true).unwrap();
            tokio::spawn(serve_tokio(conn, payload.clone()));
        }
    });
    let rate = load(addr, secs);
    rt.shutdown_timeout(Duration::from_secs(1));
    rate
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let mut args = std::env::args().skip(1);
    let rounds: usize = args.next().map_or(3, |s| s.parse().expect("rounds"));
    let secs = Duration::from_secs(args.next().map_or(3, |s| s.parse().expect("seconds")));
    let payload = Arc::new(calibrate());
    let t = Instant::now();
    for _ in 0..100 {
        std::hint::black_box(work(&payload));
    }
    println!(
        "work per request: hashing {} KiB, {:.0} µs; {CONNECTIONS} keep-alive connections, {rounds} rounds of {secs:?}",
        payload.len() / 1024,
        t.elapsed().as_secs_f64() * 1e6 / 100.0
    );
    let names = [
        "greenwood StreamServer::threads(1) (one hub)",
        "greenwood StreamServer::threads(2)",
        "tokio multi_thread, 2 workers",
    ];
    let mut rates = vec![Vec::new(); 3];
    for round in 0..rounds {
        for k in 0..3 {
            let peer = (round + k) % 3;
            let r = match peer {
                0 => greenwood_round(1, &payload, secs),
                1 => greenwood_round(2, &payload, secs),
                _ => tokio_round(&payload, secs),
            };
            rates[peer].push(r);
        }
    }
    let m: Vec<f64> = rates.into_iter().map(median).collect();
    println!();
    println!("| server | requests/s (median) |");
    println!("|---|---|");
    for k in 0..3 {
        println!("| {} | {:.0} |", names[k], m[k]);
    }
    println!();
    println!("threads(2) against one hub: {:.2}x", m[1] / m[0]);
    println!("threads(2) against tokio multi_thread: {:.2}x", m[1] / m[2]);
}
