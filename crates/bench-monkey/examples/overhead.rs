//! What an interposed call costs on top of glibc's own: one `recv(fd, buf, 1, MSG_DONTWAIT)`
//! on an empty socket pair (it fails with `EAGAIN` at once, so the figure is the call, not
//! the data), made four ways in one run:
//!
//! - `glibc`: glibc's `recv`, called through the address `dlsym(RTLD_NEXT)` gives (what the
//!   hook forwards to);
//! - `unpatched`: the program's `recv`, which is greenwood's hook, before `patch_all`;
//! - `patched, no hub`: after `patch_all`, on a thread that has no hub;
//! - `patched, in a greenlet`: in a greenlet, where the hook makes the call itself and, on
//!   `EAGAIN`, looks at the descriptor's flags (one `fcntl`) to see that the program asked for
//!   a non-blocking call.
//!
//! ```text
//! cargo run --release -p greenwood-bench-monkey --example overhead            # ns per call
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null \
//!     target/release/examples/overhead MODE N                                 # instructions
//! ```
//!
//! MODE is `glibc`, `unpatched`, `nohub` or `greenlet`; under callgrind, the difference
//! between two values of N divided by their difference is the instructions per call.

use std::os::fd::AsRawFd;
use std::time::Instant;

type Recv = unsafe extern "C" fn(libc::c_int, *mut libc::c_void, usize, libc::c_int) -> isize;

fn glibc_recv() -> Recv {
    // SAFETY: a NUL-terminated name; the address is glibc's `recv`, whose C signature `Recv`
    // is.
    unsafe {
        let a = libc::dlsym(libc::RTLD_NEXT, c"recv".as_ptr());
        assert!(!a.is_null(), "dlsym found no recv");
        std::mem::transmute::<*mut libc::c_void, Recv>(a)
    }
}

/// `n` calls of `recv` through `f` on an empty, non-blocking socket.
fn calls(f: Recv, fd: libc::c_int, n: u64) {
    let mut b = [0u8; 1];
    for _ in 0..n {
        // SAFETY: a live one-byte buffer.
        let r = unsafe { f(fd, b.as_mut_ptr().cast(), 1, libc::MSG_DONTWAIT) };
        assert_eq!(r, -1);
    }
}

/// The hooked `recv`: what the program's own calls reach.
unsafe extern "C" fn hooked(
    fd: libc::c_int,
    buf: *mut libc::c_void,
    len: usize,
    flags: libc::c_int,
) -> isize {
    // SAFETY: the caller's contract, passed on.
    unsafe { libc::recv(fd, buf, len, flags) }
}

/// Runs `mode` on a thread of its own (so that every mode pays what glibc adds in a process
/// with several threads: its cancellation points), patching first for the patched modes.
fn run(mode: &str, fd: libc::c_int, n: u64) {
    if mode == "nohub" || mode == "greenlet" {
        greenwood::monkey::patch_all().expect("patch_all");
    }
    std::thread::scope(|s| {
        s.spawn(|| match mode {
            "glibc" => calls(glibc_recv(), fd, n),
            "unpatched" | "nohub" => calls(hooked, fd, n),
            "greenlet" => greenwood::spawn(move || calls(hooked, fd, n)).join(),
            other => panic!("unknown mode {other}: glibc, unpatched, nohub or greenlet"),
        });
    });
}

fn main() {
    let (a, _b) = std::os::unix::net::UnixStream::pair().expect("socketpair");
    a.set_nonblocking(true).expect("nonblocking");
    let fd = a.as_raw_fd();
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [mode, n] = &args[..] {
        run(mode, fd, n.parse().expect("N"));
        return;
    }
    // Timings: the best of 5 runs of 200,000 calls each, the modes of a phase interleaved;
    // the patched modes come second, since patching cannot be undone.
    const N: u64 = 200_000;
    let phases: [&[&str]; 2] = [&["glibc", "unpatched"], &["glibc", "nohub", "greenlet"]];
    let mut best: Vec<(&str, f64)> = Vec::new();
    for phase in phases {
        for _ in 0..5 {
            for mode in phase {
                let t = Instant::now();
                run(mode, fd, N);
                let ns = t.elapsed().as_nanos() as f64 / N as f64;
                match best.iter_mut().find(|(m, _)| m == mode) {
                    Some((_, b)) => *b = b.min(ns),
                    None => best.push((mode, ns)),
                }
            }
        }
    }
    let glibc = best[0].1;
    for (mode, ns) in &best {
        println!(
            "{mode:>10}: {ns:7.1} ns per call ({:+.1} ns against glibc)",
            ns - glibc
        );
    }
}
