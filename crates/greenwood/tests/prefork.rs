//! `StreamServer::processes`: pre-fork workers.
//!
//! The workers are this test binary run again, with the same arguments: the one test below
//! runs in each worker up to `bind`, which serves there and ends the worker's process. So
//! this file holds this one test only.

use std::collections::HashSet;
use std::io::{self, Read, Write};
use std::time::{Duration, Instant};

use greenwood::server::StreamServer;
use greenwood::signal::{Signals, SIGTERM};

/// Asks the server to answer after `delay_ms`; the answer is the worker's pid.
fn ask(addr: std::net::SocketAddr, delay_ms: u8) -> io::Result<u32> {
    let mut c = std::net::TcpStream::connect(addr)?;
    c.set_read_timeout(Some(Duration::from_secs(10)))?;
    c.write_all(&[delay_ms])?;
    let mut s = String::new();
    c.read_to_string(&mut s)?;
    s.trim()
        .strip_prefix("pid ")
        .and_then(|p| p.parse().ok())
        .ok_or_else(|| io::Error::other(format!("unexpected answer {s:?}")))
}

fn wait_for(what: &str, mut ok: impl FnMut() -> bool) {
    let limit = Instant::now() + Duration::from_secs(20);
    while !ok() {
        assert!(Instant::now() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_prefork_server_restarts_a_killed_worker_and_stops_gracefully_on_sigterm() {
    let server = StreamServer::processes(2)
        .stop_timeout(Duration::from_secs(5))
        .bind("127.0.0.1:0", |mut conn, _peer| {
            let mut delay = [0; 1];
            if conn.read_exact(&mut delay).is_ok() {
                if delay[0] == u8::MAX {
                    // As `kill -9` of this worker.
                    let _ = signal_hook::low_level::raise(signal_hook::consts::SIGKILL);
                }
                greenwood::sleep(Duration::from_millis(delay[0].into()));
                let _ = writeln!(conn, "pid {}", std::process::id());
            }
        })
        .unwrap();
    // From here on, this process is the supervisor; the workers serve.
    let addr = server.local_addr();
    let pids: Vec<u32> = server.workers().into_iter().map(Option::unwrap).collect();
    assert_eq!(pids.len(), 2);
    assert_ne!(pids[0], pids[1]);
    assert!(!pids.contains(&std::process::id()));
    let answered: HashSet<u32> = (0..40).map(|_| ask(addr, 0).unwrap()).collect();
    assert!(
        answered.iter().all(|p| pids.contains(p)),
        "{answered:?} {pids:?}"
    );

    // kill -9 one worker (the one that takes this connection kills itself with SIGKILL): it
    // is restarted, and the server goes on serving meanwhile.
    assert!(
        ask(addr, u8::MAX).is_err(),
        "the worker answered instead of dying"
    );
    wait_for("the killed worker's replacement", || {
        let now = server.workers();
        now.iter().all(Option::is_some) && now.iter().flatten().any(|p| !pids.contains(p))
    });
    assert_eq!(server.restarts(), 1);
    let now: Vec<u32> = server.workers().into_iter().map(Option::unwrap).collect();
    for _ in 0..20 {
        let p = ask(addr, 0).unwrap();
        assert!(now.contains(&p), "answered by {p}, workers are {now:?}");
    }

    // SIGTERM to the supervisor: a request in progress is answered, then everything stops.
    // (This process catches SIGTERM before it is raised, so the raise cannot kill it before
    // serve_forever catches it too.)
    let _keep = Signals::new(&[SIGTERM]).unwrap();
    let serving = std::thread::spawn(move || {
        server.serve_forever().unwrap();
        server
    });
    std::thread::sleep(Duration::from_millis(100)); // serve_forever catches SIGTERM
    let slow = std::thread::spawn(move || ask(addr, 250));
    std::thread::sleep(Duration::from_millis(80)); // the request is in its handler
    signal_hook::low_level::raise(SIGTERM).unwrap();
    let answered_by = slow
        .join()
        .unwrap()
        .expect("the request in progress is answered");
    assert!(now.contains(&answered_by));
    let server = serving.join().unwrap();
    assert_eq!(server.workers(), [None, None]);
    assert!(std::net::TcpStream::connect(addr).is_err());
    for p in now {
        assert!(
            !std::path::Path::new(&format!("/proc/{p}")).exists()
                || std::fs::read_to_string(format!("/proc/{p}/stat"))
                    .is_ok_and(|s| s.contains(") Z ")),
            "worker {p} is still running"
        );
    }
}
