//! Unmodified blocking client code, two ways, each in a process of its own: each request in a greenlet of one
//! thread, patched by `greenwood::monkey`, and each request on a thread of its own (threads
//! that have no hub, whose calls are libc's). The client is ureq with its default features;
//! the server, on a thread of its own, answers every request after 200 ms. With
//! `PG=CONNINFO`, the same for libpq (loaded with `dlopen`): `SELECT pg_sleep(0.5)` per
//! request against the PostgreSQL server the connection string names (it must allow N
//! connections).
//!
//! ```text
//! cargo run --release -p greenwood-bench-monkey --example drivers            # 500 requests
//! cargo run --release -p greenwood-bench-monkey --example drivers -- 2000
//! PG="host=127.0.0.1 port=5432 user=postgres" cargo run --release -p greenwood-bench-monkey --example drivers -- 200
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

/// libpq's PQconnectdb, PQstatus, PQexec, PQresultStatus, PQclear and PQfinish.
type Pq = (
    unsafe extern "C" fn(*const libc::c_char) -> *mut libc::c_void,
    unsafe extern "C" fn(*const libc::c_void) -> libc::c_int,
    unsafe extern "C" fn(*mut libc::c_void, *const libc::c_char) -> *mut libc::c_void,
    unsafe extern "C" fn(*const libc::c_void) -> libc::c_int,
    unsafe extern "C" fn(*mut libc::c_void),
    unsafe extern "C" fn(*mut libc::c_void),
);

fn libpq() -> Pq {
    /// # Safety
    ///
    /// `T` is the function's C signature as a function pointer type.
    unsafe fn f<T: Copy>(lib: *mut libc::c_void, name: &std::ffi::CStr) -> T {
        // SAFETY: a handle from dlopen and a NUL-terminated name.
        let p = unsafe { libc::dlsym(lib, name.as_ptr()) };
        assert!(!p.is_null(), "libpq has no {name:?}");
        // SAFETY: the caller's promise.
        unsafe { std::mem::transmute_copy::<*mut libc::c_void, T>(&p) }
    }
    // SAFETY: dlopen of libpq; each symbol's type is its signature in libpq-fe.h.
    unsafe {
        let lib = libc::dlopen(c"libpq.so.5".as_ptr(), libc::RTLD_NOW);
        assert!(!lib.is_null(), "libpq.so.5 cannot be loaded");
        (
            f(lib, c"PQconnectdb"),
            f(lib, c"PQstatus"),
            f(lib, c"PQexec"),
            f(lib, c"PQresultStatus"),
            f(lib, c"PQclear"),
            f(lib, c"PQfinish"),
        )
    }
}

/// Connects, sleeps half a second on the server, disconnects.
fn pg_sleep(pq: Pq, conninfo: &std::ffi::CStr) {
    let (connect, status, exec, result_status, clear, finish) = pq;
    // SAFETY: libpq's documented use of a connection and a result.
    unsafe {
        let conn = connect(conninfo.as_ptr());
        assert_eq!(status(conn), 0, "connection to PostgreSQL");
        let res = exec(conn, c"SELECT pg_sleep(0.5)".as_ptr());
        assert_eq!(result_status(res), 2, "SELECT pg_sleep(0.5)");
        clear(res);
        finish(conn);
    }
}

/// `f` N times, from a std thread each or from a greenlet each (patched), as `mode` says; the
/// wall time and the peak RSS growth. Each mode runs in a process of its own (see `main`), so
/// that the peaks are the mode's own.
fn run(mode: &str, n: usize, f: impl Fn() + Clone + Send + 'static) -> (Duration, u64) {
    let before = peak_rss_kib();
    let t = Instant::now();
    if mode == "threads" {
        let threads: Vec<_> = (0..n)
            .map(|_| {
                let f = f.clone();
                std::thread::spawn(f)
            })
            .collect();
        for t in threads {
            t.join().expect("thread");
        }
    } else {
        greenwood::monkey::patch_all().expect("patch_all");
        let greenlets: Vec<_> = (0..n)
            .map(|_| {
                let f = f.clone();
                greenwood::spawn(f)
            })
            .collect();
        greenwood::joinall(&greenlets);
        assert!(greenlets.iter().all(|g| g.successful()));
    }
    (t.elapsed(), peak_rss_kib().saturating_sub(before))
}

/// Runs this program again for each mode; what each reports.
fn both(n: usize) -> [String; 2] {
    ["threads", "greenlets"].map(|mode| {
        let out = std::process::Command::new(std::env::current_exe().expect("exe"))
            .arg(n.to_string())
            .env("DRIVERS_MODE", mode)
            .output()
            .expect("run a mode");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    })
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .map_or(500, |s| s.replace('_', "").parse().expect("N"));
    let Ok(mode) = std::env::var("DRIVERS_MODE") else {
        let what = if std::env::var_os("PG").is_some() {
            "libpq queries (SELECT pg_sleep(0.5))"
        } else {
            "ureq requests (200 ms each on the server)"
        };
        let [threads, greenlets] = both(n);
        println!("{n} {what}: a thread each {threads}; a greenlet each {greenlets}");
        return;
    };
    let report = |(t, rss): (Duration, u64)| {
        println!("{:.0} ms, peak RSS +{} KiB", t.as_secs_f64() * 1e3, rss);
    };
    if let Ok(conninfo) = std::env::var("PG") {
        let conninfo = std::ffi::CString::new(conninfo).expect("conninfo");
        let pq = libpq();
        pg_sleep(pq, &conninfo); // warm up
        report(run(&mode, n, move || pg_sleep(pq, &conninfo)));
        return;
    }
    let addr = server();
    let url = format!("http://{addr}/photo");
    fetch(&url); // warm up: the server, ureq's lazies
    report(run(&mode, n, move || assert_eq!(fetch(&url), 2_000)));
}
