//! `greenwood::net::TcpStream`: echo, timeouts, kill, reset, half-close, large transfers,
//! shutdown and close from another greenlet, fd reuse, and many connections at once.

mod util;

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::time::Duration;

use greenwood::net::{TcpListener, TcpStream};
use greenwood::{spawn, ErrorKind};

fn listener() -> (TcpListener, SocketAddr) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    (l, addr)
}

fn pair() -> (TcpStream, TcpStream) {
    let (l, addr) = listener();
    let client = spawn(move || TcpStream::connect(addr));
    let (server, _) = l.accept().unwrap();
    (client.take().unwrap().unwrap(), server)
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

#[test]
fn an_echo_round_trip_between_greenlets() {
    let (mut a, mut b) = pair();
    let echo = spawn(move || -> io::Result<()> {
        let mut buf = [0; 5];
        b.read_exact(&mut buf)?;
        b.write_all(&buf)
    });
    a.write_all(b"hello").unwrap();
    let mut reply = [0; 5];
    a.read_exact(&mut reply).unwrap();
    assert_eq!(&reply, b"hello");
    echo.take().unwrap().unwrap();
}

#[test]
fn a_read_timeout_expires_as_std_says_and_the_hub_keeps_running() {
    let (mut a, _b) = pair();
    a.set_read_timeout(Some(Duration::from_millis(5))).unwrap();
    let err = a.read(&mut [0; 8]).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
    assert!(a.set_read_timeout(Some(Duration::ZERO)).is_err());
    assert_eq!(greenwood::hub::get_hub().pending_timers(), 0);
}

#[test]
fn with_timeout_and_kill_interrupt_a_parked_read_and_leak_nothing() {
    // Counting open fds needs a process where no other test opens any.
    if util::child_case().is_none() {
        let out = util::run_child(
            "with_timeout_and_kill_interrupt_a_parked_read_and_leak_nothing",
            "alone",
        );
        assert!(out.status.success(), "{}", util::stderr(&out));
        return;
    }
    drop(greenwood::hub::get_hub()); // the hub's own epoll and eventfd
    let before = open_fds();
    {
        let (a, _b) = pair();
        let r = greenwood::with_timeout(Duration::from_millis(5), || (&a).read(&mut [0; 8]));
        assert!(r.is_err());
        let (mut c, _d) = pair();
        let reader = spawn(move || c.read(&mut [0; 8]));
        greenwood::sleep(Duration::ZERO);
        reader.kill();
        assert_eq!(reader.error().unwrap().kind(), ErrorKind::Killed);
    }
    assert_eq!(open_fds(), before, "every socket was closed");
}

#[test]
fn half_close_delivers_end_of_file_and_the_other_direction_still_works() {
    let (mut a, mut b) = pair();
    a.write_all(b"request").unwrap();
    a.shutdown(Shutdown::Write).unwrap();
    let mut got = Vec::new();
    b.read_to_end(&mut got).unwrap();
    assert_eq!(got, b"request");
    b.write_all(b"response").unwrap();
    drop(b);
    let mut reply = Vec::new();
    a.read_to_end(&mut reply).unwrap();
    assert_eq!(reply, b"response");
}

#[test]
fn a_reset_by_the_peer_is_reported() {
    let (a, mut b) = pair();
    // SO_LINGER with a zero timeout makes close() send RST instead of FIN.
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    use std::os::fd::AsRawFd;
    // SAFETY: a valid socket fd and a properly sized option value.
    let rc = unsafe {
        libc::setsockopt(
            a.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            &linger as *const libc::linger as *const libc::c_void,
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0);
    drop(a);
    let err = b.read(&mut [0; 8]).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::ConnectionReset);
}

#[test]
fn a_large_transfer_survives_partial_writes() {
    let (mut a, mut b) = pair();
    let data: Vec<u8> = (0..8 * 1024 * 1024).map(|i| (i % 251) as u8).collect();
    let expected = data.clone();
    let writer = spawn(move || -> io::Result<()> {
        a.write_all(&data)?; // far more than the socket buffers: parks many times
        a.shutdown(Shutdown::Write)
    });
    let mut got = Vec::new();
    let mut buf = [0; 7919];
    loop {
        let n = b.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        got.extend_from_slice(&buf[..n]);
        if got.len() % 64 == 0 {
            greenwood::sleep(Duration::ZERO);
        }
    }
    writer.take().unwrap().unwrap();
    assert_eq!(got.len(), expected.len());
    assert!(got == expected);
}

#[test]
fn shutting_down_from_another_greenlet_wakes_a_parked_reader() {
    let (a, _b) = pair();
    let a = std::rc::Rc::new(a);
    let a2 = a.clone();
    let reader = spawn(move || (&*a2).read(&mut [0; 8]));
    greenwood::sleep(Duration::ZERO);
    a.shutdown(Shutdown::Read).unwrap();
    assert_eq!(reader.take().unwrap().unwrap(), 0);
}

#[test]
fn closing_from_another_greenlet_wakes_its_reader_and_writer_with_an_error() {
    let (a, b) = pair();
    let a = std::rc::Rc::new(a);
    let (ar, aw) = (a.clone(), a.clone());
    let reader = spawn(move || (&*ar).read(&mut [0; 8]));
    // Nobody reads `b`, so the writer fills both socket buffers and parks.
    let written = util::counter();
    let w = written.clone();
    let writer = spawn(move || -> io::Result<()> {
        let chunk = vec![7u8; 64 * 1024];
        loop {
            let n = (&*aw).write(&chunk)?;
            w.set(w.get() + u32::from(n > 0));
        }
    });
    // A runnable writer makes progress in every turn; one that made none is parked.
    let mut last = u32::MAX;
    while written.get() != last {
        last = written.get();
        greenwood::sleep(Duration::ZERO);
    }
    a.close();
    for err in [
        reader.take().unwrap().unwrap_err(),
        writer.take().unwrap().unwrap_err(),
    ] {
        assert_eq!(err.kind(), io::ErrorKind::NotConnected);
        assert!(
            err.to_string()
                .contains("was closed while a greenlet was waiting"),
            "{err}"
        );
    }
    // Every later operation fails at once, blocking or not, and says why.
    let later = (&*a).read(&mut [0; 1]).unwrap_err();
    assert_eq!(later.kind(), io::ErrorKind::NotConnected);
    assert!(later.to_string().contains("close() was called"), "{later}");
    assert!(a.set_nonblocking(true).is_err());
    assert!((&*a).write(b"x").is_err());
    assert!(a.peek(&mut [0; 1]).is_err());
    a.close(); // twice is fine
    drop(b);
}

#[test]
fn closing_one_handle_leaves_its_clone_working_and_dropping_the_last_closes_the_socket() {
    let (a, mut b) = pair();
    let mut a2 = a.try_clone().unwrap();
    a.close();
    a2.write_all(b"still here").unwrap();
    let mut buf = [0; 10];
    b.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"still here");
    drop(a);
    drop(a2);
    let mut rest = Vec::new();
    assert_eq!(
        b.read_to_end(&mut rest).unwrap(),
        0,
        "end of file once every handle is gone"
    );
}

#[test]
fn an_event_left_pending_on_a_closed_socket_never_wakes_the_socket_that_reuses_its_fd() {
    // In a child process, alone, so fd numbers are predictable and counts exact.
    if util::child_case().is_none() {
        let out = util::run_child(
            "an_event_left_pending_on_a_closed_socket_never_wakes_the_socket_that_reuses_its_fd",
            "alone",
        );
        assert!(out.status.success(), "{}", util::stderr(&out));
        return;
    }
    drop(greenwood::hub::get_hub()); // the hub's own epoll and eventfd
    let fds_before = open_fds();
    let (a, mut b) = pair();
    let fd = std::os::fd::AsRawFd::as_raw_fd(&a);
    let a = std::rc::Rc::new(a);
    let a2 = a.clone();
    let reader = spawn(move || (&*a2).read(&mut [0; 1]).map(|_| ()));
    greenwood::sleep(Duration::ZERO);
    a.close();
    b.write_all(b"old").unwrap(); // readiness the closed socket will never consume
    assert!(reader.take().unwrap().is_err());
    drop(a);
    // The kernel hands out the lowest free number: the one just released.
    let (c, d) = pair();
    let c_fd = std::os::fd::AsRawFd::as_raw_fd(&c);
    let d_fd = std::os::fd::AsRawFd::as_raw_fd(&d);
    assert!(c_fd == fd || d_fd == fd, "fd {fd} reused");
    let (reused, other) = if c_fd == fd { (c, d) } else { (d, c) };
    reused
        .set_read_timeout(Some(Duration::from_millis(20)))
        .unwrap();
    let err = (&reused).read(&mut [0; 8]).unwrap_err();
    assert_eq!(
        err.kind(),
        io::ErrorKind::WouldBlock,
        "nothing was sent to it"
    );
    (&other).write_all(b"new").unwrap();
    let mut buf = [0; 3];
    (&reused).read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"new");
    drop((b, reused, other));
    assert_eq!(open_fds(), fds_before, "every fd released");
}

#[test]
fn connecting_to_a_closed_port_is_refused() {
    let (l, addr) = listener();
    drop(l);
    let err = TcpStream::connect(addr).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused);
}

#[test]
fn host_names_resolve_off_the_hub() {
    let (l, addr) = listener();
    let c = spawn(move || TcpStream::connect(("localhost", addr.port())));
    // `localhost` may resolve to ::1 first, where nobody listens: connect tries each address.
    let (_s, _) = l.accept().unwrap();
    c.take().unwrap().unwrap();
}

#[test]
fn converting_from_and_to_std_keeps_the_connection() {
    let (a, b) = pair();
    let mut a: std::net::TcpStream = a.into_std().unwrap();
    let mut b = b;
    a.write_all(b"x").unwrap();
    let mut buf = [0; 1];
    b.read_exact(&mut buf).unwrap();
    let mut a = TcpStream::from_std(a).unwrap();
    b.write_all(b"y").unwrap();
    a.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"y");
}

#[test]
fn ten_thousand_connections_at_once() {
    // Two fds per connection (both ends live in this process), plus slack.
    let limit = util::raise_fd_limit(25_000);
    let n = ((limit.saturating_sub(200)) / 2).min(10_000) as usize;
    assert!(
        n >= 1_000,
        "RLIMIT_NOFILE hard limit {limit} is too low for this test"
    );
    let (l, addr) = listener();
    let server = spawn(move || {
        let mut handlers = Vec::new();
        for _ in 0..n {
            let (mut s, _) = l.accept().unwrap();
            handlers.push(
                greenwood::Builder::new()
                    .stack_size(32 * 1024)
                    .spawn(move || {
                        let mut buf = [0; 8];
                        s.read_exact(&mut buf).unwrap();
                        s.write_all(&buf).unwrap();
                    })
                    .unwrap(),
            );
        }
        greenwood::joinall(&handlers);
    });
    let clients: Vec<_> = (0..n)
        .map(|i| {
            greenwood::Builder::new()
                .stack_size(32 * 1024)
                .spawn(move || {
                    let mut c = TcpStream::connect(addr).unwrap();
                    greenwood::sleep(Duration::from_millis(5)); // all connected at once
                    c.write_all(&(i as u64).to_le_bytes()).unwrap();
                    let mut buf = [0; 8];
                    c.read_exact(&mut buf).unwrap();
                    u64::from_le_bytes(buf)
                })
                .unwrap()
        })
        .collect();
    greenwood::joinall(&clients);
    server.join();
    assert!(server.successful());
    for (i, c) in clients.iter().enumerate() {
        assert_eq!(c.get().unwrap(), i as u64);
    }
}

#[test]
fn a_greenlet_whose_reads_never_block_still_lets_others_run() {
    let (l, addr) = listener();
    // A thread keeps the socket full, so the reader never finds it empty.
    let writer = std::thread::spawn(move || {
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        let chunk = [1u8; 65536];
        for _ in 0..64 {
            if s.write_all(&chunk).is_err() {
                break;
            }
        }
    });
    let (mut s, _) = l.accept().unwrap();
    let ticks = util::counter();
    let t = ticks.clone();
    let ticker = spawn(move || {
        for _ in 0..3 {
            greenwood::sleep(Duration::ZERO);
            t.set(t.get() + 1);
        }
    });
    let mut total = 0;
    let mut buf = [0u8; 64];
    let mut ticks_seen_by = None;
    while total < 1 << 20 {
        total += s.read(&mut buf).unwrap();
        if ticks_seen_by.is_none() && ticks.get() > 0 {
            ticks_seen_by = Some(total);
        }
    }
    assert!(
        ticks_seen_by.is_some(),
        "the ticker never ran while 1 MiB was read"
    );
    ticker.join();
    drop(s);
    writer.join().unwrap();
}

#[test]
fn a_short_read_just_before_end_of_file_does_not_wait_for_an_event_that_already_came() {
    // Regression: the read-closed event arrived with the last data; the short read that took
    // the data marked the socket drained, and the next read parked forever instead of
    // returning end of file.
    let (mut a, mut b) = pair();
    let reader = spawn(move || {
        greenwood::with_timeout(Duration::from_secs(10), || {
            let mut all = Vec::new();
            let mut buf = [0; 4096];
            loop {
                match b.read(&mut buf).unwrap() {
                    0 => return all,
                    n => all.extend_from_slice(&buf[..n]),
                }
            }
        })
    });
    greenwood::sleep(Duration::ZERO); // the reader parks in read
    a.write_all(&[9; 100]).unwrap();
    a.shutdown(Shutdown::Write).unwrap(); // data and end of file in one event
    let got = reader.take().unwrap().expect("end of file was seen");
    assert_eq!(got.len(), 100);
}
