//! The five ways to download a photo per user, each written as its model is meant to be
//! written, each checking every byte it receives. A model runs in a process of its own
//! (`greenwood-compare model ...`), so that the time, memory and CPU measured are its own.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};

use serde::{Deserialize, Serialize};

use crate::photo;

/// The models, in the order Python's concurrency note tells them.
pub const MODELS: [&str; 5] = [
    "processes",
    "threads",
    "events",
    "greenlets",
    "greenlets-monkey",
];

/// What a model's run says of its downloads.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Outcome {
    pub failures: u64,
    pub first_error: Option<String>,
    /// The model's process's own peak RSS (`VmHWM`), read at its end: the sweep's samples
    /// can miss the peak of a short run.
    #[serde(default)]
    pub own_peak_rss_bytes: u64,
    /// The run's wall time, measured in the model's process from the first download started
    /// to the last one ended (the sweep's own clock only sees the process's end every 20 ms).
    #[serde(default)]
    pub wall_s: f64,
}

impl Outcome {
    fn record(&mut self, r: Result<(), String>) {
        if let Err(e) = r {
            self.fail(1, e);
        }
    }

    fn fail(&mut self, n: u64, e: String) {
        self.failures += n;
        self.first_error.get_or_insert(e);
    }
}

/// The classic `download_photo(user)`, written for threads: blocking `std::net`, nothing
/// else. The `threads` model runs it on a thread per user, `processes` in a process per
/// user, and `greenlets-monkey` runs this very function in greenlets after
/// `greenwood::monkey::patch_all()`.
pub fn download_photo(addr: SocketAddr, user: u32, size: usize) -> Result<(), String> {
    let conn = std::net::TcpStream::connect(addr).map_err(|e| format!("connect: {e}"))?;
    fetch(conn, user, size)
}

/// `download_photo` for greenlets without patching: greenwood's own `TcpStream`.
fn download_photo_greenwood(addr: SocketAddr, user: u32, size: usize) -> Result<(), String> {
    let conn = greenwood::net::TcpStream::connect(addr).map_err(|e| format!("connect: {e}"))?;
    fetch(conn, user, size)
}

/// Asks `conn` for `user`'s photo and checks the answer, to its end.
fn fetch(mut conn: impl Read + Write, user: u32, size: usize) -> Result<(), String> {
    conn.write_all(photo::request(user).as_bytes())
        .map_err(|e| format!("send: {e}"))?;
    let mut check = photo::Check::new(user, size);
    let mut buf = [0u8; 16 * 1024];
    loop {
        let n = conn.read(&mut buf).map_err(|e| format!("receive: {e}"))?;
        if n == 0 {
            return check.finish();
        }
        check.feed(&buf[..n])?;
    }
}

/// `download_photo` for tokio: async/await.
async fn download_photo_async(addr: SocketAddr, user: u32, size: usize) -> Result<(), String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut conn = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    conn.write_all(photo::request(user).as_bytes())
        .await
        .map_err(|e| format!("send: {e}"))?;
    let mut check = photo::Check::new(user, size);
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = conn
            .read(&mut buf)
            .await
            .map_err(|e| format!("receive: {e}"))?;
        if n == 0 {
            return check.finish();
        }
        check.feed(&buf[..n])?;
    }
}

/// Runs `model` for users `0..users` against the server whose first address is `addr` (each
/// user downloads from its [`photo::address`]); `errors` is a file the `processes` model's
/// children append their errors to.
pub fn run(model: &str, users: u32, addr: SocketAddr, size: usize, errors: &Path) -> Outcome {
    let started = std::time::Instant::now();
    let mut out = match model {
        "processes" => processes(users, addr, size, errors),
        "threads" => threads(users, addr, size),
        "events" => events(users, addr, size),
        "greenlets" => greenlets(users, addr, size),
        "greenlets-monkey" => greenlets_monkey(users, addr, size),
        other => Outcome {
            failures: u64::from(users),
            first_error: Some(format!("no model {other:?}")),
            ..Outcome::default()
        },
    };
    out.wall_s = started.elapsed().as_secs_f64();
    out.own_peak_rss_bytes = own_peak_rss();
    out
}

/// This process's peak RSS so far, in bytes.
fn own_peak_rss() -> u64 {
    crate::sweep::status_kb(std::process::id(), "VmHWM:") * 1024
}

/// A process per user: this program again, in its `download` mode.
fn processes(users: u32, addr: SocketAddr, size: usize, errors: &Path) -> Outcome {
    let mut out = Outcome::default();
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => {
            out.fail(
                u64::from(users),
                format!("finding this program to run it again: {e}"),
            );
            return out;
        }
    };
    let mut children = Vec::with_capacity(users as usize);
    for user in 0..users {
        let child = Command::new(&exe)
            .arg("download")
            .arg(photo::address(addr.port(), user).to_string())
            .arg(user.to_string())
            .arg(size.to_string())
            .arg(errors)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        match child {
            Ok(c) => children.push((user, c)),
            Err(e) => {
                out.fail(
                    u64::from(users - user),
                    format!("starting process {} of {users}: {e}", user + 1),
                );
                break;
            }
        }
    }
    let mut failed = 0;
    for (user, mut c) in children {
        match c.wait() {
            Ok(s) if s.success() => {}
            Ok(s) => {
                failed += 1;
                out.first_error
                    .get_or_insert(format!("user {user}'s process: {s}"));
            }
            Err(e) => out.fail(1, format!("waiting for user {user}'s process: {e}")),
        }
    }
    out.failures += failed;
    if failed > 0 {
        // The children said why: the first line they wrote is the first error.
        if let Some(line) = std::fs::read_to_string(errors)
            .ok()
            .and_then(|s| s.lines().next().map(str::to_owned))
        {
            out.first_error = Some(line);
        }
    }
    out
}

/// The `download` mode: one user's download in this process; its error, if any, appended
/// to `errors` (one line, under `PIPE_BUF`, so lines of different processes do not mix).
pub fn download_one(addr: SocketAddr, user: u32, size: usize, errors: &Path) -> bool {
    match download_photo(addr, user, size) {
        Ok(()) => true,
        Err(e) => {
            let mut line = format!("user {user}: {e}");
            line.truncate(500);
            line.push('\n');
            if let Ok(mut f) = std::fs::OpenOptions::new()
                .append(true)
                .create(true)
                .open(errors)
            {
                let _ = f.write_all(line.as_bytes());
            }
            false
        }
    }
}

/// A thread per user, blocking `std::net`.
fn threads(users: u32, addr: SocketAddr, size: usize) -> Outcome {
    let mut out = Outcome::default();
    let mut handles = Vec::with_capacity(users as usize);
    for user in 0..users {
        match std::thread::Builder::new()
            .spawn(move || download_photo(photo::address(addr.port(), user), user, size))
        {
            Ok(h) => handles.push(h),
            Err(e) => {
                out.fail(
                    u64::from(users - user),
                    format!("starting thread {} of {users}: {e}", user + 1),
                );
                break;
            }
        }
    }
    for h in handles {
        out.record(
            h.join()
                .unwrap_or_else(|_| Err("a download thread panicked".into())),
        );
    }
    out
}

/// Events: tokio with async/await, on a current-thread runtime (one thread, as the
/// greenlets have).
fn events(users: u32, addr: SocketAddr, size: usize) -> Outcome {
    let mut out = Outcome::default();
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            out.fail(u64::from(users), format!("starting tokio: {e}"));
            return out;
        }
    };
    rt.block_on(async {
        let tasks: Vec<_> = (0..users)
            .map(|user| {
                tokio::spawn(download_photo_async(
                    photo::address(addr.port(), user),
                    user,
                    size,
                ))
            })
            .collect();
        for t in tasks {
            out.record(
                t.await
                    .unwrap_or_else(|e| Err(format!("a download task failed: {e}"))),
            );
        }
    });
    out
}

/// A greenlet per user with greenwood's own sockets.
fn greenlets(users: u32, addr: SocketAddr, size: usize) -> Outcome {
    let jobs: Vec<_> = (0..users)
        .map(|user| {
            greenwood::spawn(move || {
                download_photo_greenwood(photo::address(addr.port(), user), user, size)
            })
        })
        .collect();
    collect(jobs)
}

/// gevent's classic snippet: `patch_all()`, then the threads model's very function in a
/// greenlet per user.
fn greenlets_monkey(users: u32, addr: SocketAddr, size: usize) -> Outcome {
    if let Err(e) = greenwood::monkey::patch_all() {
        return Outcome {
            failures: u64::from(users),
            first_error: Some(format!("patch_all: {e}")),
            ..Outcome::default()
        };
    }
    let jobs: Vec<_> = (0..users)
        .map(|user| {
            greenwood::spawn(move || download_photo(photo::address(addr.port(), user), user, size))
        })
        .collect();
    collect(jobs)
}

fn collect(jobs: Vec<greenwood::Greenlet<Result<(), String>>>) -> Outcome {
    greenwood::joinall(&jobs);
    let mut out = Outcome::default();
    for j in jobs {
        out.record(
            j.take()
                .unwrap_or_else(|e| Err(format!("a download greenlet failed: {e}"))),
        );
    }
    out
}
