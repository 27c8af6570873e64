//! `greenwood::monkey`: unmodified std code (and raw libc calls) in greenlets, patched.
//!
//! Every test patches this test binary's process (patching is process-wide and idempotent);
//! the unpatched cases run in a child process started with `GREENWOOD_PATCH=0`.

mod util;

use std::cell::Cell;
use std::io::{ErrorKind, Read, Write};
use std::os::fd::AsRawFd;
use std::rc::Rc;
use std::time::Duration;

fn patch() {
    greenwood::monkey::patch_all().expect("patch_all on Linux with glibc");
}

/// How many greenlets are inside a section at once, at most: with blocking calls, one.
#[derive(Default)]
struct Overlap {
    now: Cell<usize>,
    max: Cell<usize>,
}

impl Overlap {
    fn enter(&self) {
        self.now.set(self.now.get() + 1);
        self.max.set(self.max.get().max(self.now.get()));
    }

    fn leave(&self) {
        self.now.set(self.now.get() - 1);
    }
}

/// A std listener on 127.0.0.1 whose connections are served by greenlets, each reading one
/// request line and answering with `reply(line)` before closing. Its backlog is the largest
/// the system allows (std's is 128), so that thousands of clients connecting at once are not
/// refused while the accepting greenlet waits for its turn.
fn std_server(reply: fn(&str) -> String) -> (std::net::SocketAddr, greenwood::Greenlet<()>) {
    let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    s.bind(&std::net::SocketAddr::from(([127, 0, 0, 1], 0)).into())
        .unwrap();
    s.listen(libc::SOMAXCONN).unwrap();
    let l = std::net::TcpListener::from(s);
    let addr = l.local_addr().unwrap();
    let server = greenwood::spawn(move || loop {
        let (mut s, _) = match l.accept() {
            Ok(c) => c,
            Err(e) => panic!("accept: {e}"),
        };
        greenwood::spawn(move || {
            let mut line = Vec::new();
            let mut byte = [0u8; 1];
            while s.read(&mut byte).unwrap() == 1 && byte[0] != b'\n' {
                line.push(byte[0]);
            }
            let answer = reply(std::str::from_utf8(&line).unwrap());
            s.write_all(answer.as_bytes()).unwrap();
        });
    });
    (addr, server)
}

#[test]
fn std_thread_sleep_in_ten_thousand_greenlets_overlaps() {
    patch();
    let overlap = Rc::new(Overlap::default());
    let gs: Vec<_> = (0..10_000)
        .map(|_| {
            let o = overlap.clone();
            greenwood::spawn(move || {
                o.enter();
                std::thread::sleep(Duration::from_millis(100));
                o.leave();
            })
        })
        .collect();
    greenwood::joinall(&gs);
    assert!(gs.iter().all(|g| g.successful()));
    assert_eq!(
        overlap.max.get(),
        10_000,
        "every sleep ran at the same time"
    );
}

#[test]
fn libc_sleep_usleep_and_nanosleep_park_the_greenlet() {
    patch();
    let overlap = Rc::new(Overlap::default());
    let calls: [fn(); 3] = [
        // SAFETY: plain libc sleeps, no pointers but a live local.
        || unsafe {
            libc::usleep(20_000);
        },
        || unsafe {
            libc::sleep(0);
            let ts = libc::timespec {
                tv_sec: 0,
                tv_nsec: 20_000_000,
            };
            libc::nanosleep(&ts, std::ptr::null_mut());
        },
        || unsafe {
            let ts = libc::timespec {
                tv_sec: 0,
                tv_nsec: 20_000_000,
            };
            libc::clock_nanosleep(libc::CLOCK_MONOTONIC, 0, &ts, std::ptr::null_mut());
        },
    ];
    let gs: Vec<_> = calls
        .into_iter()
        .map(|call| {
            let o = overlap.clone();
            greenwood::spawn(move || {
                o.enter();
                call();
                o.leave();
            })
        })
        .collect();
    greenwood::joinall(&gs);
    assert_eq!(overlap.max.get(), 3);
}

#[test]
fn std_tcp_round_trips_after_a_std_sleep_run_side_by_side() {
    patch();
    // Two fds per connection (both ends live in this process), plus slack.
    let limit = util::raise_fd_limit(25_000);
    let n = ((limit.saturating_sub(200)) / 2).min(10_000) as usize;
    assert!(
        n >= 1_000,
        "RLIMIT_NOFILE hard limit {limit} is too low for this test"
    );
    let (addr, server) = std_server(|line| format!("photo of {line}"));
    let sleeping = Rc::new(Overlap::default());
    let talking = Rc::new(Overlap::default());
    let gs: Vec<_> = (0..n)
        .map(|user| {
            let (s, t) = (sleeping.clone(), talking.clone());
            greenwood::spawn(move || -> std::io::Result<String> {
                s.enter();
                // 100 ms, spread over 50 ms so the connections do not all hit the listen
                // backlog in the same instant.
                std::thread::sleep(Duration::from_millis(100 + (user % 50) as u64));
                s.leave();
                t.enter();
                let mut c = std::net::TcpStream::connect(addr)?;
                writeln!(c, "user {user}")?;
                let mut body = String::new();
                c.read_to_string(&mut body)?;
                t.leave();
                Ok(body)
            })
        })
        .collect();
    greenwood::joinall(&gs);
    for (user, g) in gs.iter().enumerate() {
        let body = g
            .take()
            .unwrap()
            .unwrap_or_else(|e| panic!("user {user}: {e}"));
        assert_eq!(body, format!("photo of user {user}"));
    }
    assert_eq!(
        sleeping.max.get(),
        n,
        "every std sleep ran at the same time"
    );
    assert!(talking.max.get() > 1, "round trips overlapped");
    server.kill();
}

#[test]
fn with_patching_off_std_calls_block_the_thread() {
    if let Some(case) = util::child_case() {
        if case == "off" {
            greenwood::monkey::patch_all().unwrap();
            assert!(!greenwood::monkey::is_patched());
            let overlap = Rc::new(Overlap::default());
            let gs: Vec<_> = (0..5)
                .map(|_| {
                    let o = overlap.clone();
                    greenwood::spawn(move || {
                        o.enter();
                        std::thread::sleep(Duration::from_millis(20));
                        o.leave();
                    })
                })
                .collect();
            greenwood::joinall(&gs);
            println!("max overlap {}", overlap.max.get());
        }
        return;
    }
    let out = util::run_child_with(
        "with_patching_off_std_calls_block_the_thread",
        "off",
        &[("GREENWOOD_PATCH", "0")],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", util::stderr(&out));
    assert!(stdout.contains("max overlap 1"), "{stdout}");
}

#[test]
fn a_thread_without_a_hub_keeps_blocking_as_usual() {
    patch();
    let (mut a, b) = std::os::unix::net::UnixStream::pair().unwrap();
    // The other thread never touches greenwood: its read blocks that thread, as always.
    let reader = std::thread::spawn(move || {
        let mut b = b;
        let mut buf = [0u8; 5];
        b.read_exact(&mut buf).unwrap();
        std::thread::sleep(Duration::from_millis(1));
        buf
    });
    let ticks = Rc::new(Cell::new(0));
    let t = ticks.clone();
    let ticker = greenwood::spawn(move || {
        for _ in 0..5 {
            std::thread::sleep(Duration::from_millis(2));
            t.set(t.get() + 1);
        }
    });
    ticker.join();
    assert_eq!(ticks.get(), 5);
    a.write_all(b"hello").unwrap();
    assert_eq!(&reader.join().unwrap(), b"hello");
}

#[test]
fn the_main_greenlet_sleeping_in_std_lets_greenlets_run() {
    patch();
    let ran = Rc::new(Cell::new(false));
    let r = ran.clone();
    let _g = greenwood::spawn(move || r.set(true));
    std::thread::sleep(Duration::from_millis(5)); // the main greenlet parks
    assert!(ran.get());
}

#[test]
fn a_socket_the_program_made_non_blocking_gets_eagain() {
    patch();
    let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    a.set_nonblocking(true).unwrap();
    let g = greenwood::spawn(move || {
        let mut a = a;
        let mut buf = [0u8; 1];
        a.read(&mut buf).unwrap_err().kind()
    });
    assert_eq!(g.take().unwrap(), ErrorKind::WouldBlock);
}

#[test]
fn so_rcvtimeo_bounds_the_wait_while_others_run() {
    patch();
    let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    a.set_read_timeout(Some(Duration::from_millis(30))).unwrap();
    let ticks = Rc::new(Cell::new(0));
    let t = ticks.clone();
    let ticker = greenwood::spawn(move || {
        for _ in 0..3 {
            greenwood::sleep(Duration::from_millis(1));
            t.set(t.get() + 1);
        }
    });
    let reader = greenwood::spawn(move || {
        let mut a = a;
        let mut buf = [0u8; 1];
        a.read(&mut buf).unwrap_err().kind()
    });
    assert_eq!(reader.take().unwrap(), ErrorKind::WouldBlock);
    ticker.join();
    assert_eq!(ticks.get(), 3, "the others ran while the read waited");
}

#[test]
fn a_kill_inside_a_std_read_fails_the_read_and_ends_the_greenlet() {
    patch();
    let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    let dropped = util::counter();
    let seen = Rc::new(Cell::new(None));
    let (d, s) = (dropped.clone(), seen.clone());
    let g = greenwood::spawn(move || {
        let _guard = util::CallOnDrop(d);
        let mut a = a;
        let mut buf = [0u8; 1];
        // The C side of the call (std's `recv`) sees -1 and ECANCELED; the kill is raised at
        // the next greenwood call, which never returns.
        s.set(Some(a.read(&mut buf).map_err(|e| e.raw_os_error())));
        greenwood::sleep(Duration::ZERO);
        unreachable!("the kill is raised at the greenlet's next blocking point");
    });
    greenwood::sleep(Duration::from_millis(5)); // the greenlet parks in its read
    g.kill();
    assert!(g.dead() && !g.successful());
    assert_eq!(seen.get(), Some(Err(Some(libc::ECANCELED))));
    assert_eq!(dropped.get(), 1, "its destructors ran");
}

#[test]
fn a_timeout_inside_a_std_sleep_ends_at_the_next_greenwood_call() {
    patch();
    let r = greenwood::with_timeout(Duration::from_millis(10), || {
        std::thread::sleep(Duration::from_secs(30)); // returns early: its time "passed"
        greenwood::sleep(Duration::ZERO); // where the Timeout is raised
    });
    assert!(r.is_err());
}

#[test]
fn a_timeout_inside_a_std_read_fails_the_read_with_etimedout() {
    patch();
    let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    let r = greenwood::with_timeout(Duration::from_millis(10), || {
        let mut a = &a;
        let mut buf = [0u8; 1];
        a.read(&mut buf).unwrap_err().raw_os_error()
    });
    // The read saw ETIMEDOUT; the Timeout, put back for the next greenwood call, went with the
    // closure that set it.
    assert_eq!(r.unwrap(), Some(libc::ETIMEDOUT));
}

#[test]
fn a_kill_inside_poll_fails_the_poll() {
    patch();
    let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    let fd = a.as_raw_fd();
    let g = greenwood::spawn(move || {
        let mut p = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one live pollfd.
        let n = unsafe { libc::poll(&mut p, 1, -1) };
        let e = std::io::Error::last_os_error().raw_os_error();
        drop(a);
        (n, e)
    });
    greenwood::sleep(Duration::from_millis(5)); // it parks in poll
    let seen = Rc::new(Cell::new(None));
    let s = seen.clone();
    g.link(move |g| s.set(Some(g.successful())));
    g.kill();
    // The greenlet returned from its function before any greenwood call could raise the
    // kill: it ends with its value, and the C caller saw the error.
    greenwood::sleep(Duration::ZERO);
    assert_eq!(g.take().unwrap(), (-1, Some(libc::ECANCELED)));
    assert_eq!(seen.get(), Some(true));
}

#[test]
fn poll_parks_until_a_descriptor_is_ready() {
    patch();
    let (a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
    let fd = a.as_raw_fd();
    let writer = greenwood::spawn(move || {
        std::thread::sleep(Duration::from_millis(10));
        b.write_all(b"x").unwrap();
        b
    });
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one live pollfd.
    let n = unsafe { libc::poll(&mut p, 1, 5_000) };
    assert_eq!(n, 1);
    assert!(p.revents & libc::POLLIN != 0);
    let _b = writer.take().unwrap();
    // Nothing ready: 0 once the timeout passes.
    let mut buf = [0u8; 1];
    (&a).read_exact(&mut buf).unwrap();
    p.revents = 0;
    // SAFETY: one live pollfd.
    assert_eq!(unsafe { libc::poll(&mut p, 1, 10) }, 0);
}

#[test]
fn closing_a_descriptor_wakes_the_greenlet_parked_on_it() {
    patch();
    let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    let fd = std::os::fd::IntoRawFd::into_raw_fd(a);
    let reader = greenwood::spawn(move || {
        let mut buf = [0u8; 1];
        // SAFETY: reading into a live buffer from an fd this test owns.
        let r = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), 1) };
        (r, std::io::Error::last_os_error().raw_os_error())
    });
    greenwood::sleep(Duration::from_millis(5)); // the reader parks
                                                // SAFETY: closing the fd this test owns, once.
    assert_eq!(unsafe { libc::close(fd) }, 0);
    assert_eq!(reader.take().unwrap(), (-1, Some(libc::EBADF)));
}

#[test]
fn settings_changed_after_a_wait_are_honoured() {
    patch();
    let (a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
    let writer = greenwood::spawn(move || {
        std::thread::sleep(Duration::from_millis(5));
        b.write_all(b"x").unwrap();
        b
    });
    let mut buf = [0u8; 1];
    (&a).read_exact(&mut buf).unwrap(); // parks once: the hub keeps the socket's settings
    let _b = writer.take().unwrap();
    a.set_read_timeout(Some(Duration::from_millis(5))).unwrap(); // setsockopt
    assert_eq!(
        (&a).read(&mut buf).unwrap_err().kind(),
        ErrorKind::WouldBlock,
        "the new timeout bounds the wait"
    );
    a.set_read_timeout(None).unwrap();
    a.set_nonblocking(true).unwrap(); // ioctl(FIONBIO): the program asks for EAGAIN now
    assert_eq!(
        (&a).read(&mut buf).unwrap_err().kind(),
        ErrorKind::WouldBlock
    );
}

#[test]
fn a_thread_ends_while_a_greenlet_waits_in_a_std_accept() {
    if util::child_case().as_deref() == Some("exit") {
        patch();
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        // Parked in accept when the test function returns and its thread ends: the hub
        // leaves the greenlet suspended (its C caller cannot be unwound), and the thread
        // ends instead of blocking in a real accept.
        let _server = greenwood::spawn(move || loop {
            let _ = l.accept();
        });
        greenwood::sleep(Duration::from_millis(1));
        println!("returning");
        return;
    }
    if util::child_case().is_some() {
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let mut child = std::process::Command::new(exe)
        .args([
            "a_thread_ends_while_a_greenlet_waits_in_a_std_accept",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(util::CHILD_ENV, "exit")
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            child.kill().unwrap();
            panic!("the child did not exit: its thread blocked at exit");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success());
}

/// Runs `a` and then `b` as two greenlets; the order in which they finished. A call in `a`
/// that parks lets `b` finish first; one that blocks the thread does not.
fn finish_order(a: impl FnOnce() + 'static, b: impl FnOnce() + 'static) -> Vec<&'static str> {
    let log = util::Log::new();
    let (la, lb) = (log.clone(), log.clone());
    let ga = greenwood::spawn(move || {
        a();
        la.push("a");
    });
    let gb = greenwood::spawn(move || {
        b();
        lb.push("b");
    });
    greenwood::joinall(&[ga, gb]);
    log.get()
}

#[test]
fn name_lookups_run_on_the_thread_pool() {
    use std::net::ToSocketAddrs;
    patch();
    let order = finish_order(
        || {
            let addrs: Vec<_> = ("localhost", 8080).to_socket_addrs().unwrap().collect();
            assert!(addrs
                .iter()
                .all(|a| a.port() == 8080 && a.ip().is_loopback()));
        },
        || (),
    );
    assert_eq!(order, ["b", "a"], "the lookup parked its greenlet");
    // Many at once, each answered.
    let gs: Vec<_> = (0..50u16)
        .map(|i| greenwood::spawn(move || ("localhost", i).to_socket_addrs().unwrap().count()))
        .collect();
    greenwood::joinall(&gs);
    assert!(gs.iter().all(|g| g.take().unwrap() > 0));
}

#[test]
fn waiting_for_a_child_process_parks_the_greenlet() {
    patch();
    let order = finish_order(
        || {
            let status = std::process::Command::new("sleep")
                .arg("0.05")
                .status()
                .unwrap();
            assert!(status.success());
        },
        || (),
    );
    assert_eq!(order, ["b", "a"], "the wait parked its greenlet");
    // 50 children at once, with their output.
    let overlap = Rc::new(Overlap::default());
    let gs: Vec<_> = (0..50)
        .map(|i| {
            let o = overlap.clone();
            greenwood::spawn(move || {
                o.enter();
                let out = std::process::Command::new("sh")
                    .args(["-c", &format!("sleep 0.2; echo {i}")])
                    .output()
                    .unwrap();
                o.leave();
                String::from_utf8(out.stdout).unwrap()
            })
        })
        .collect();
    greenwood::joinall(&gs);
    for (i, g) in gs.iter().enumerate() {
        assert_eq!(g.take().unwrap(), format!("{i}\n"));
    }
    assert_eq!(
        overlap.max.get(),
        50,
        "the 50 children ran at the same time"
    );
}

#[test]
fn reading_a_child_s_stdout_parks_the_greenlet() {
    patch();
    use std::process::{Command, Stdio};
    // Read the pipe by hand (not `output()`, which polls): a plain blocking `read`.
    let order = finish_order(
        || {
            let mut child = Command::new("sh")
                .args(["-c", "sleep 0.05; echo late"])
                .stdout(Stdio::piped())
                .spawn()
                .unwrap();
            let mut out = String::new();
            child
                .stdout
                .take()
                .unwrap()
                .read_to_string(&mut out)
                .unwrap();
            assert_eq!(out, "late\n");
            assert!(child.wait().unwrap().success());
        },
        || (),
    );
    assert_eq!(
        order,
        ["b", "a"],
        "the read of the pipe parked its greenlet"
    );
}

#[test]
fn greenlets_on_both_ends_of_a_pipe_move_more_than_it_holds() {
    patch();
    // A pipe holds 64 KiB: the writer parks when it is full, the reader when it is empty,
    // and both run on this one thread. Blocking calls would hang here for good.
    const LEN: usize = 1 << 20;
    let pattern = |i: usize| (i % 251) as u8;
    let (mut rx, tx) = std::io::pipe().unwrap();
    let reader = greenwood::spawn(move || {
        let mut got = Vec::new();
        rx.read_to_end(&mut got).unwrap();
        got
    });
    let writer = greenwood::spawn(move || {
        let mut tx = tx;
        let data: Vec<u8> = (0..LEN).map(pattern).collect();
        // Half with write, half with writev of two vectors.
        tx.write_all(&data[..LEN / 2]).unwrap();
        let (a, b) = data[LEN / 2..].split_at(LEN / 8);
        let mut bufs = [std::io::IoSlice::new(a), std::io::IoSlice::new(b)];
        let mut left = &mut bufs[..];
        while !left.is_empty() {
            let n = tx.write_vectored(left).unwrap();
            std::io::IoSlice::advance_slices(&mut left, n);
        }
    });
    writer.join();
    assert!(writer.successful(), "the writer finished");
    reader.join();
    let got = reader.take().unwrap();
    assert_eq!(got.len(), LEN);
    assert!(got.iter().enumerate().all(|(i, &b)| b == pattern(i)));
}

#[test]
fn a_pipe_the_program_made_non_blocking_gets_eagain() {
    patch();
    let (mut rx, _tx) = std::io::pipe().unwrap();
    // SAFETY: F_GETFL/F_SETFL on a live descriptor of ours.
    unsafe {
        let fl = libc::fcntl(rx.as_raw_fd(), libc::F_GETFL);
        assert_eq!(
            libc::fcntl(rx.as_raw_fd(), libc::F_SETFL, fl | libc::O_NONBLOCK),
            0
        );
    }
    let g = greenwood::spawn(move || rx.read(&mut [0u8; 8]).map_err(|e| e.kind()));
    g.join();
    assert_eq!(g.take().unwrap(), Err(ErrorKind::WouldBlock));
}

#[test]
fn a_kill_inside_a_pipe_read_fails_the_read() {
    patch();
    let (mut rx, tx) = std::io::pipe().unwrap();
    let g = greenwood::spawn(move || {
        let r = rx.read(&mut [0u8; 8]);
        assert!(r.is_err(), "the C caller saw an error return");
        greenwood::sleep(Duration::ZERO); // the kill is raised here
        unreachable!("killed");
    });
    greenwood::sleep(Duration::from_millis(10));
    g.kill();
    assert!(g.dead());
    drop(tx);
}

#[test]
fn a_library_running_its_own_mio_loop_on_the_greenlet_cooperates() {
    patch();
    // A client with an event loop of its own (mio's epoll), used from 100 greenlets: each
    // waits in its own epoll_wait for a reply that another greenlet writes.
    let overlap = Rc::new(Overlap::default());
    let gs: Vec<_> = (0..100u8)
        .map(|i| {
            let o = overlap.clone();
            greenwood::spawn(move || {
                let (a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
                a.set_nonblocking(true).unwrap();
                let replier = greenwood::spawn(move || {
                    std::thread::sleep(Duration::from_millis(20));
                    b.write_all(&[i]).unwrap();
                    b
                });
                let mut poll = mio::Poll::new().unwrap();
                let mut events = mio::Events::with_capacity(4);
                let mut a = mio::net::UnixStream::from_std(a);
                poll.registry()
                    .register(&mut a, mio::Token(0), mio::Interest::READABLE)
                    .unwrap();
                o.enter();
                poll.poll(&mut events, Some(Duration::from_secs(10)))
                    .unwrap();
                o.leave();
                let mut got = [0u8; 1];
                a.read_exact(&mut got).unwrap();
                let _b = replier.take().unwrap();
                got[0]
            })
        })
        .collect();
    greenwood::joinall(&gs);
    for (i, g) in gs.iter().enumerate() {
        assert_eq!(usize::from(g.take().unwrap()), i);
    }
    assert_eq!(
        overlap.max.get(),
        100,
        "the 100 event loops waited at the same time"
    );
}

#[test]
fn vectored_reads_and_writes_park() {
    use std::io::IoSlice;
    patch();
    let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
    let reader = greenwood::spawn(move || {
        let mut x = [0u8; 3];
        let mut y = [0u8; 3];
        let mut bufs = [
            std::io::IoSliceMut::new(&mut x),
            std::io::IoSliceMut::new(&mut y),
        ];
        let n = (&a).read_vectored(&mut bufs).unwrap();
        (n, x, y)
    });
    let writer = greenwood::spawn(move || {
        std::thread::sleep(Duration::from_millis(5));
        let n = (&b)
            .write_vectored(&[IoSlice::new(b"abc"), IoSlice::new(b"def")])
            .unwrap();
        assert_eq!(n, 6);
        b
    });
    let (n, x, y) = reader.take().unwrap();
    assert_eq!((n, &x, &y), (6, b"abc", b"def"));
    drop(writer.take().unwrap());
}

/// A local HTTP server (greenwood's own, on this thread) that answers each request for
/// `/photo/N` after `delay` with a body of `N + 1,000` bytes.
fn slow_photo_server(delay: Duration) -> (std::net::SocketAddr, greenwood::server::StreamServer) {
    let server = greenwood::server::StreamServer::bind(
        "127.0.0.1:0",
        move |mut s: greenwood::net::TcpStream, _| {
            let mut req = Vec::new();
            let mut buf = [0u8; 1024];
            while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                match s.read(&mut buf) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => req.extend_from_slice(&buf[..n]),
                }
            }
            let text = String::from_utf8_lossy(&req);
            let n: usize = text
                .split_whitespace()
                .nth(1)
                .and_then(|path| path.strip_prefix("/photo/"))
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            greenwood::sleep(delay);
            let body = vec![b'p'; n + 1_000];
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = s
                .write_all(head.as_bytes())
                .and_then(|()| s.write_all(&body));
        },
    )
    .unwrap();
    server.start().unwrap();
    (server.local_addr().unwrap(), server)
}

#[test]
fn ureq_unmodified_fetches_from_500_greenlets_at_once() {
    patch();
    let (addr, server) = slow_photo_server(Duration::from_millis(200));
    let overlap = Rc::new(Overlap::default());
    let gs: Vec<_> = (0..500usize)
        .map(|i| {
            let o = overlap.clone();
            greenwood::spawn(move || -> Result<usize, ureq::Error> {
                o.enter();
                let body = ureq::get(&format!("http://{addr}/photo/{i}"))
                    .call()?
                    .body_mut()
                    .read_to_vec()?;
                o.leave();
                assert!(body.iter().all(|&b| b == b'p'));
                Ok(body.len())
            })
        })
        .collect();
    greenwood::joinall(&gs);
    for (i, g) in gs.iter().enumerate() {
        let len = g
            .take()
            .unwrap()
            .unwrap_or_else(|e| panic!("photo {i}: {e}"));
        assert_eq!(len, i + 1_000);
    }
    assert_eq!(
        overlap.max.get(),
        500,
        "the 500 requests were in flight at the same time"
    );
    server.stop(None);
}

/// The libcurl functions the curl test calls, found with `dlsym` in `libcurl.so.4`.
struct Libcurl {
    easy_init: unsafe extern "C" fn() -> *mut libc::c_void,
    easy_setopt: unsafe extern "C" fn(*mut libc::c_void, libc::c_int, ...) -> libc::c_int,
    easy_perform: unsafe extern "C" fn(*mut libc::c_void) -> libc::c_int,
    easy_strerror: unsafe extern "C" fn(libc::c_int) -> *const libc::c_char,
    easy_cleanup: unsafe extern "C" fn(*mut libc::c_void),
}

const CURLOPT_WRITEDATA: libc::c_int = 10_001;
const CURLOPT_URL: libc::c_int = 10_002;
const CURLOPT_WRITEFUNCTION: libc::c_int = 20_011;
const CURLOPT_NOSIGNAL: libc::c_int = 99;

impl Libcurl {
    fn load() -> Option<Libcurl> {
        // SAFETY: dlopen and dlsym with NUL-terminated names; each symbol is the libcurl
        // function of that name, whose C signature the field's type is (curl/easy.h).
        unsafe {
            let lib = libc::dlopen(c"libcurl.so.4".as_ptr(), libc::RTLD_NOW);
            if lib.is_null() {
                return None;
            }
            let global_init: unsafe extern "C" fn(libc::c_long) -> libc::c_int =
                util::dl_function(lib, c"curl_global_init");
            assert_eq!(global_init(3), 0, "curl_global_init(CURL_GLOBAL_ALL)");
            Some(Libcurl {
                easy_init: util::dl_function(lib, c"curl_easy_init"),
                easy_setopt: util::dl_function(lib, c"curl_easy_setopt"),
                easy_perform: util::dl_function(lib, c"curl_easy_perform"),
                easy_strerror: util::dl_function(lib, c"curl_easy_strerror"),
                easy_cleanup: util::dl_function(lib, c"curl_easy_cleanup"),
            })
        }
    }

    /// One blocking easy transfer of `url`; the body.
    fn fetch(&self, url: &str) -> Result<Vec<u8>, String> {
        extern "C" fn collect(
            data: *const libc::c_char,
            size: usize,
            n: usize,
            body: *mut libc::c_void,
        ) -> usize {
            // SAFETY: libcurl hands `size * n` bytes at `data`, and back the pointer to the
            // Vec given as CURLOPT_WRITEDATA, which lives across the transfer.
            unsafe {
                let body = &mut *body.cast::<Vec<u8>>();
                body.extend_from_slice(std::slice::from_raw_parts(data.cast::<u8>(), size * n));
            }
            size * n
        }
        let url = std::ffi::CString::new(url).unwrap();
        let mut body: Vec<u8> = Vec::new();
        // SAFETY: libcurl's documented use of an easy handle; the URL and the body outlive
        // the transfer, and the write callback has the signature libcurl calls.
        unsafe {
            let h = (self.easy_init)();
            assert!(!h.is_null(), "curl_easy_init");
            (self.easy_setopt)(h, CURLOPT_URL, url.as_ptr());
            (self.easy_setopt)(h, CURLOPT_NOSIGNAL, 1 as libc::c_long);
            let cb: extern "C" fn(*const libc::c_char, usize, usize, *mut libc::c_void) -> usize =
                collect;
            (self.easy_setopt)(h, CURLOPT_WRITEFUNCTION, cb);
            (self.easy_setopt)(h, CURLOPT_WRITEDATA, &mut body as *mut Vec<u8>);
            let r = (self.easy_perform)(h);
            (self.easy_cleanup)(h);
            if r != 0 {
                let why = std::ffi::CStr::from_ptr((self.easy_strerror)(r));
                return Err(why.to_string_lossy().into_owned());
            }
        }
        Ok(body)
    }
}

#[test]
fn libcurl_easy_transfers_from_500_greenlets_at_once() {
    let Some(curl) = Libcurl::load() else {
        println!("skipped: libcurl.so.4 cannot be loaded (install libcurl4)");
        return;
    };
    patch();
    let curl = Rc::new(curl);
    let (addr, server) = slow_photo_server(Duration::from_millis(200));
    let overlap = Rc::new(Overlap::default());
    let gs: Vec<_> = (0..500usize)
        .map(|i| {
            let (curl, o) = (curl.clone(), overlap.clone());
            greenwood::spawn(move || {
                o.enter();
                let body = curl.fetch(&format!("http://{addr}/photo/{i}"));
                o.leave();
                body
            })
        })
        .collect();
    greenwood::joinall(&gs);
    for (i, g) in gs.iter().enumerate() {
        let body = g
            .take()
            .unwrap()
            .unwrap_or_else(|e| panic!("photo {i}: {e}"));
        assert_eq!(body.len(), i + 1_000);
        assert!(body.iter().all(|&b| b == b'p'));
    }
    assert_eq!(
        overlap.max.get(),
        500,
        "the 500 transfers were in flight at the same time"
    );
    server.stop(None);
}

#[test]
fn greenwood_sockets_keep_working_in_a_patched_process() {
    // Regression: a greenwood::net socket's recv, reaching the hook with EAGAIN, had the hook
    // register the fd as a foreign one, which took greenwood's own registration out of epoll:
    // the reader never woke.
    patch();
    let l = greenwood::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let server = greenwood::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        let mut buf = [0u8; 5];
        s.read_exact(&mut buf).unwrap(); // parks before the data is there
        s.write_all(&buf).unwrap();
    });
    let mut c = greenwood::net::TcpStream::connect(addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap(); // bounds the test if it breaks
    greenwood::sleep(Duration::from_millis(5)); // the server parks in its read
    c.write_all(b"hello").unwrap();
    let mut back = [0u8; 5];
    c.read_exact(&mut back).expect("the server woke and echoed");
    assert_eq!(&back, b"hello");
    server.join();
    assert!(server.successful());
}

#[test]
fn a_timeout_inside_a_std_connect_fails_the_connect_with_etimedout() {
    patch();
    // A Unix listener whose backlog is full: a blocking connect waits until the listener
    // accepts, which it never does here.
    let dir = std::env::temp_dir().join(format!("greenwood-connect-{}", std::process::id()));
    let _ = std::fs::remove_file(&dir);
    let l = socket2::Socket::new(socket2::Domain::UNIX, socket2::Type::STREAM, None).unwrap();
    l.bind(&socket2::SockAddr::unix(&dir).unwrap()).unwrap();
    l.listen(0).unwrap();
    let mut held = Vec::new();
    let mut timed_out = None;
    for _ in 0..16 {
        let r = greenwood::with_timeout(Duration::from_millis(20), || {
            std::os::unix::net::UnixStream::connect(&dir)
        });
        match r {
            Ok(Ok(s)) => held.push(s), // still room in the backlog
            Ok(Err(e)) => {
                timed_out = Some(e.raw_os_error());
                break;
            }
            Err(elapsed) => panic!("the Timeout should have failed the connect: {elapsed}"),
        }
    }
    let _ = std::fs::remove_file(&dir);
    assert_eq!(
        timed_out,
        Some(Some(libc::ETIMEDOUT)),
        "a connect waited and was timed out"
    );
}

/// A connected pair whose descriptors `select` can take (below `FD_SETSIZE`). Other tests of
/// this binary may hold a thousand descriptors at once: wait for them to close some.
fn select_pair() -> (
    std::os::unix::net::UnixStream,
    std::os::unix::net::UnixStream,
) {
    let limit = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        if a.as_raw_fd().max(b.as_raw_fd()) < libc::FD_SETSIZE as i32 {
            return (a, b);
        }
        assert!(
            std::time::Instant::now() < limit,
            "no descriptor below FD_SETSIZE came free in 2 minutes"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn select_parks_until_a_descriptor_in_its_sets_is_ready() {
    patch();
    let (a, mut b) = select_pair();
    let fd = a.as_raw_fd();
    let writer = greenwood::spawn(move || {
        std::thread::sleep(Duration::from_millis(10));
        b.write_all(b"x").unwrap();
        b
    });
    // SAFETY: fd_set manipulation on a live local set, for an fd below FD_SETSIZE; select with
    // that set and no timeout.
    let (n, ready) = unsafe {
        let mut set: libc::fd_set = std::mem::zeroed();
        libc::FD_SET(fd, &mut set);
        let n = libc::select(
            fd + 1,
            &mut set,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
        );
        (n, libc::FD_ISSET(fd, &set))
    };
    assert_eq!((n, ready), (1, true), "woken by the writer greenlet");
    drop(writer.take().unwrap());
    // Nothing ready: 0 once the timeout passes, the set emptied and the time left in tv.
    let (x, _y) = select_pair();
    // SAFETY: as above, with a live timeval.
    let (n, ready, tv) = unsafe {
        let mut set: libc::fd_set = std::mem::zeroed();
        libc::FD_SET(x.as_raw_fd(), &mut set);
        let mut tv = libc::timeval {
            tv_sec: 0,
            tv_usec: 10_000,
        };
        let n = libc::select(
            x.as_raw_fd() + 1,
            &mut set,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            &mut tv,
        );
        (n, libc::FD_ISSET(x.as_raw_fd(), &set), tv)
    };
    assert_eq!((n, ready), (0, false));
    assert_eq!((tv.tv_sec, tv.tv_usec), (0, 0));
}

#[test]
fn pselect_parks_until_a_descriptor_in_its_sets_is_ready() {
    patch();
    let (a, mut b) = select_pair();
    let fd = a.as_raw_fd();
    let writer = greenwood::spawn(move || {
        std::thread::sleep(Duration::from_millis(10));
        b.write_all(b"x").unwrap();
        b
    });
    // SAFETY: fd_set and sigset_t manipulation on live locals, for an fd below FD_SETSIZE;
    // pselect with that set, a timeout of 5 s and an empty mask.
    let (n, ready, timeout) = unsafe {
        let mut set: libc::fd_set = std::mem::zeroed();
        libc::FD_SET(fd, &mut set);
        let mut mask: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut mask);
        let timeout = libc::timespec {
            tv_sec: 5,
            tv_nsec: 0,
        };
        let n = libc::pselect(
            fd + 1,
            &mut set,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            &timeout,
            &mask,
        );
        (n, libc::FD_ISSET(fd, &set), timeout)
    };
    assert_eq!((n, ready), (1, true), "woken by the writer greenlet");
    assert_eq!(timeout.tv_sec, 5, "pselect leaves its timeout alone");
    drop(writer.take().unwrap());
    // Nothing ready: 0 once the timeout passes, the set emptied.
    let (x, _y) = select_pair();
    let other = greenwood::spawn(|| ());
    // SAFETY: as above, with no mask.
    let (n, ready) = unsafe {
        let mut set: libc::fd_set = std::mem::zeroed();
        libc::FD_SET(x.as_raw_fd(), &mut set);
        let timeout = libc::timespec {
            tv_sec: 0,
            tv_nsec: 10_000_000,
        };
        let n = libc::pselect(
            x.as_raw_fd() + 1,
            &mut set,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            &timeout,
            std::ptr::null(),
        );
        (n, libc::FD_ISSET(x.as_raw_fd(), &set))
    };
    assert_eq!((n, ready), (0, false));
    assert!(other.dead(), "another greenlet ran while pselect waited");
}

#[test]
fn gethostbyname_runs_on_the_thread_pool() {
    extern "C" {
        fn gethostbyname(name: *const libc::c_char) -> *mut libc::hostent;
        fn gethostbyname_r(
            name: *const libc::c_char,
            ret: *mut libc::hostent,
            buf: *mut libc::c_char,
            buflen: usize,
            result: *mut *mut libc::hostent,
            err: *mut libc::c_int,
        ) -> libc::c_int;
    }
    patch();
    let order = finish_order(
        || {
            // SAFETY: a NUL-terminated name; the answer is read at once, on this thread.
            let h = unsafe { gethostbyname(c"localhost".as_ptr()) };
            assert!(!h.is_null(), "localhost resolves");
        },
        || (),
    );
    assert_eq!(order, ["b", "a"], "the lookup parked its greenlet");
    let order = finish_order(
        || {
            // SAFETY: the caller's buffers, live across the call, as gethostbyname_r asks.
            unsafe {
                let mut ret: libc::hostent = std::mem::zeroed();
                let mut buf = [0 as libc::c_char; 4096];
                let mut result = std::ptr::null_mut();
                let mut err = 0;
                let r = gethostbyname_r(
                    c"localhost".as_ptr(),
                    &mut ret,
                    buf.as_mut_ptr(),
                    buf.len(),
                    &mut result,
                    &mut err,
                );
                assert_eq!(r, 0);
                assert!(!result.is_null() && ret.h_length == 4, "an IPv4 answer");
            }
        },
        || (),
    );
    assert_eq!(order, ["b", "a"], "the lookup parked its greenlet");
}
