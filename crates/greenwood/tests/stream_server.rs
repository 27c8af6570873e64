//! `greenwood::server::StreamServer`.

mod util;

use std::cell::Cell;
use std::io::{Read, Write};
use std::rc::Rc;
use std::time::Duration;

use greenwood::net::TcpStream;
use greenwood::server::StreamServer;
use greenwood::spawn;
use util::counter;

fn echo(mut conn: TcpStream, _peer: std::net::SocketAddr) {
    let mut buf = [0; 64];
    while let Ok(n) = conn.read(&mut buf) {
        if n == 0 || conn.write_all(&buf[..n]).is_err() {
            break;
        }
    }
}

#[test]
fn serves_each_connection_in_its_own_greenlet() {
    let server = StreamServer::bind("127.0.0.1:0", echo).unwrap();
    server.start().unwrap();
    let addr = server.local_addr().unwrap();
    let clients: Vec<_> = (0..100u32)
        .map(|i| {
            spawn(move || {
                let mut c = TcpStream::connect(addr).unwrap();
                c.write_all(&i.to_le_bytes()).unwrap();
                let mut buf = [0; 4];
                c.read_exact(&mut buf).unwrap();
                u32::from_le_bytes(buf)
            })
        })
        .collect();
    greenwood::joinall(&clients);
    for (i, c) in clients.iter().enumerate() {
        assert_eq!(c.get().unwrap(), i as u32);
    }
    server.stop(Some(Duration::from_secs(5)));
}

#[test]
fn a_pool_limits_concurrent_handlers_and_accepting_waits() {
    let running = Rc::new(Cell::new(0));
    let peak = Rc::new(Cell::new(0));
    let served = counter();
    let (r, p, s) = (running.clone(), peak.clone(), served.clone());
    let server = StreamServer::bind("127.0.0.1:0", move |_conn, _peer| {
        r.set(r.get() + 1);
        p.set(p.get().max(r.get()));
        greenwood::sleep(Duration::from_millis(2));
        r.set(r.get() - 1);
        s.set(s.get() + 1);
    })
    .unwrap()
    .with_pool(2);
    server.start().unwrap();
    let addr = server.local_addr().unwrap();
    let clients: Vec<_> = (0..8)
        .map(|_| spawn(move || TcpStream::connect(addr).unwrap()))
        .collect();
    greenwood::joinall(&clients);
    while served.get() < 8 {
        greenwood::sleep(Duration::from_millis(1));
    }
    assert_eq!(peak.get(), 2);
    server.stop(None);
}

#[test]
fn stop_waits_for_handlers_then_kills_the_stragglers() {
    let finished = counter();
    let go = greenwood::event::Event::new();
    let (f, g) = (finished.clone(), go.clone());
    let server = StreamServer::bind("127.0.0.1:0", move |_conn, peer| {
        // Handlers for even ports finish once told to; odd ones would run for a minute.
        if peer.port() % 2 == 0 {
            g.wait();
        } else {
            greenwood::sleep(Duration::from_secs(60));
        }
        f.set(f.get() + 1);
    })
    .unwrap();
    server.start().unwrap();
    let addr = server.local_addr().unwrap();
    let conns: Vec<_> = (0..6).map(|_| TcpStream::connect(addr).unwrap()).collect();
    let quick = conns
        .iter()
        .filter(|c| c.local_addr().unwrap().port() % 2 == 0)
        .count() as u32;
    while server.handlers() < conns.len() {
        greenwood::sleep(Duration::from_millis(1));
    }
    go.set();
    server.stop(Some(Duration::from_millis(50)));
    assert_eq!(server.handlers(), 0, "the stragglers were killed");
    assert_eq!(
        finished.get(),
        quick,
        "the quick ones finished on their own"
    );
    assert!(!server.started());
}

#[test]
fn stop_closes_the_listener_so_new_clients_are_refused_not_left_hanging() {
    // Regression: the listening socket stayed open through a graceful stop, so the kernel
    // completed new clients' handshakes and they hung with no answer.
    let go = greenwood::event::Event::new();
    let g = go.clone();
    let server = Rc::new(
        StreamServer::bind("127.0.0.1:0", move |_conn, _peer| {
            g.wait();
        })
        .unwrap(),
    );
    server.start().unwrap();
    let addr = server.local_addr().unwrap();
    let _busy = TcpStream::connect(addr).unwrap();
    while server.handlers() < 1 {
        greenwood::sleep(Duration::from_millis(1));
    }
    // A graceful stop in progress: the handler is still running.
    let s = server.clone();
    let stopping = spawn(move || s.stop(None));
    greenwood::sleep(Duration::from_millis(5));
    assert!(!stopping.ready(), "the handler holds the stop open");
    let late = TcpStream::connect(addr);
    assert_eq!(
        late.map(drop).unwrap_err().kind(),
        std::io::ErrorKind::ConnectionRefused,
        "a client arriving during the stop is refused"
    );
    go.set();
    stopping.join();
    assert_eq!(
        server.local_addr().unwrap(),
        addr,
        "the address is remembered"
    );
}

#[test]
fn a_stopped_server_started_again_listens_again_on_the_same_port() {
    let server = StreamServer::bind("127.0.0.1:0", echo).unwrap();
    for round in 0..3u8 {
        server.start().unwrap();
        let addr = server.local_addr().unwrap();
        let mut c = TcpStream::connect(addr).unwrap();
        c.write_all(&[round]).unwrap();
        let mut b = [0];
        c.read_exact(&mut b).unwrap();
        assert_eq!(b[0], round);
        drop(c);
        server.stop(Some(Duration::from_secs(5)));
        assert!(TcpStream::connect(addr).is_err(), "refused while stopped");
    }
}

#[test]
fn running_out_of_file_descriptors_backs_off_reports_once_and_recovers() {
    if util::child_case().is_none() {
        let out = util::run_child(
            "running_out_of_file_descriptors_backs_off_reports_once_and_recovers",
            "emfile",
        );
        let err = util::stderr(&out);
        assert!(out.status.success(), "{err}");
        assert_eq!(
            err.matches("out of file descriptors (RLIMIT_NOFILE)")
                .count(),
            1,
            "{err}"
        );
        return;
    }
    let served = counter();
    let s = served.clone();
    let server = StreamServer::bind("127.0.0.1:0", move |_c, _p| s.set(s.get() + 1)).unwrap();
    let addr = server.local_addr().unwrap();
    // Connections wait in the backlog; then no fd is left for accept to return.
    let clients: Vec<_> = (0..3)
        .map(|_| std::net::TcpStream::connect(addr).unwrap())
        .collect();
    let mut rl = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    let lowest_free = {
        use std::os::fd::AsRawFd;
        std::fs::File::open("/dev/null").unwrap().as_raw_fd() as u64
    };
    // SAFETY: getrlimit/setrlimit with a valid pointer, in a child process of its own.
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl);
        let hard = rl.rlim_cur;
        rl.rlim_cur = lowest_free;
        assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &rl), 0);
        server.start().unwrap();
        let cpu_before = cpu_time();
        greenwood::sleep(Duration::from_millis(300));
        let spent = cpu_time() - cpu_before;
        assert!(
            spent < Duration::from_millis(150),
            "the accept loop spun: {spent:?} of CPU"
        );
        assert_eq!(served.get(), 0);
        rl.rlim_cur = hard;
        assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &rl), 0);
    }
    while served.get() < 3 {
        greenwood::sleep(Duration::from_millis(5));
    }
    server.stop(None);
    drop(clients);
}

fn cpu_time() -> Duration {
    // SAFETY: getrusage writes into the struct we pass.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

#[test]
fn a_server_on_two_threads_serves_on_both_hubs_and_stops_gracefully() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    let running = Arc::new(AtomicUsize::new(0));
    let r = running.clone();
    let server = greenwood::server::StreamServer::threads(2)
        .bind("127.0.0.1:0", move |mut conn, _peer| {
            r.fetch_add(1, Ordering::SeqCst);
            let mut buf = [0; 1];
            if conn.read_exact(&mut buf).is_ok() {
                // A slow answer: a graceful stop lets it finish.
                greenwood::sleep(Duration::from_millis(buf[0] as u64));
                let hub = greenwood::hubs::current().unwrap_or(99);
                let _ = conn.write_all(format!("hub {hub}\n").as_bytes());
            }
            r.fetch_sub(1, Ordering::SeqCst);
        })
        .unwrap();
    let addr = server.local_addr();
    // Many clients from many source ports: the kernel spreads them over both listeners.
    let answers: Vec<String> = (0..64)
        .map(|_| {
            let mut c = std::net::TcpStream::connect(addr).unwrap();
            c.write_all(&[0]).unwrap();
            let mut s = String::new();
            c.read_to_string(&mut s).unwrap();
            s
        })
        .collect();
    let on = |h: &str| answers.iter().filter(|a| a.as_str() == h).count();
    assert_eq!(on("hub 0\n") + on("hub 1\n"), 64, "{answers:?}");
    let accepted = server.accepted();
    assert_eq!(accepted.iter().sum::<u64>(), 64);
    assert!(
        accepted.iter().all(|&n| n > 0),
        "one hub took every connection: {accepted:?}"
    );

    // A request in progress when the stop comes is answered; new clients are refused.
    let mut slow = std::net::TcpStream::connect(addr).unwrap();
    slow.write_all(&[100]).unwrap();
    while running.load(Ordering::SeqCst) == 0 {
        std::thread::sleep(Duration::from_millis(1));
    }
    let stopper = std::thread::spawn(move || {
        server.stop(Some(Duration::from_secs(5)));
        server
    });
    let mut s = String::new();
    slow.read_to_string(&mut s).unwrap();
    assert!(s.starts_with("hub "), "{s:?}");
    let server = stopper.join().unwrap();
    assert!(std::net::TcpStream::connect(addr).is_err());
    drop(server);
}
