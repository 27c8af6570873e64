//! `greenwood::net::TcpListener`: accepting, kill or close while parked in accept, fd
//! exhaustion.

mod util;

use std::io;
use std::time::Duration;

use greenwood::net::{TcpListener, TcpStream};
use greenwood::{spawn, ErrorKind};

#[test]
fn accepts_connections_in_order_of_arrival_while_other_greenlets_run() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let clients: Vec<_> = (0..20)
        .map(|_| spawn(move || TcpStream::connect(addr).map(|s| s.local_addr().unwrap())))
        .collect();
    let mut peers = Vec::new();
    for conn in l.incoming().take(20) {
        peers.push(conn.unwrap().peer_addr().unwrap());
    }
    greenwood::joinall(&clients);
    let mut local: Vec<_> = clients.iter().map(|c| c.take().unwrap().unwrap()).collect();
    local.sort();
    peers.sort();
    assert_eq!(local, peers);
}

#[test]
fn killing_a_greenlet_parked_in_accept_leaves_the_listener_usable() {
    let l = std::rc::Rc::new(TcpListener::bind("127.0.0.1:0").unwrap());
    let addr = l.local_addr().unwrap();
    let l2 = l.clone();
    let acceptor = spawn(move || l2.accept().map(|_| ()));
    greenwood::sleep(Duration::ZERO);
    acceptor.kill();
    assert_eq!(acceptor.error().unwrap().kind(), ErrorKind::Killed);
    let c = spawn(move || TcpStream::connect(addr));
    assert!(l.accept().is_ok());
    c.take().unwrap().unwrap();
}

#[test]
fn closing_a_listener_wakes_every_greenlet_parked_in_accept_and_stops_listening() {
    let l = std::rc::Rc::new(TcpListener::bind("127.0.0.1:0").unwrap());
    let addr = l.local_addr().unwrap();
    let acceptors: Vec<_> = (0..3)
        .map(|_| {
            let l = l.clone();
            spawn(move || l.accept().map(|_| ()))
        })
        .collect();
    greenwood::sleep(Duration::ZERO);
    l.close();
    for a in &acceptors {
        let err = a.take().unwrap().unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotConnected, "{err}");
    }
    assert!(l.accept().is_err(), "closed for good");
    drop(l);
    // Once the value is dropped, the port no longer accepts.
    assert!(TcpStream::connect(addr).is_err());
}

#[test]
fn a_burst_of_connects_larger_than_stds_backlog_is_accepted_not_reset() {
    // 1,000 greenlets connect before the listener accepts anything: std's backlog of 128
    // would overflow, and the connections past it would be reset.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let clients: Vec<_> = (0..1_000)
        .map(|_| {
            spawn(move || -> io::Result<Vec<u8>> {
                let mut c = TcpStream::connect(addr)?;
                let mut reply = Vec::new();
                io::Read::read_to_end(&mut c, &mut reply)?;
                Ok(reply)
            })
        })
        .collect();
    greenwood::sleep(Duration::ZERO); // every client has connected, or is parked connecting
                                      // Dropped connections would be retried by the kernel for minutes: bound the test.
    let accepted = greenwood::with_timeout(Duration::from_secs(60), || {
        for _ in 0..clients.len() {
            let (mut conn, _) = l.accept().unwrap();
            io::Write::write_all(&mut conn, b"welcome").unwrap();
        }
    });
    assert!(accepted.is_ok(), "connections were lost past the backlog");
    for c in &clients {
        assert_eq!(c.take().unwrap().unwrap(), b"welcome");
    }
}

#[test]
fn binding_a_port_in_use_fails_as_std_does() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let err = TcpListener::bind(l.local_addr().unwrap()).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
}

#[test]
fn accept_reports_running_out_of_file_descriptors() {
    if util::child_case().is_none() {
        let out = util::run_child("accept_reports_running_out_of_file_descriptors", "emfile");
        assert!(out.status.success(), "{}", util::stderr(&out));
        return;
    }
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let client = std::thread::spawn(move || std::net::TcpStream::connect(addr).unwrap());
    let conn = client.join().unwrap();
    // The limit caps fd numbers: set it to the lowest free one, so accept has none to use.
    let lowest_free = {
        use std::os::fd::AsRawFd;
        let probe = std::fs::File::open("/dev/null").unwrap();
        probe.as_raw_fd() as u64
    };
    let rl = libc::rlimit {
        rlim_cur: lowest_free,
        rlim_max: 20_000.max(lowest_free),
    };
    // SAFETY: setrlimit with a valid pointer; this runs in a child process of its own.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &rl) }, 0);
    let err = l.accept().unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EMFILE), "{err}");
    drop(conn);
}
