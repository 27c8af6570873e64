//! Echo servers under one load generator: greenwood (a greenlet per connection) beside tokio's
//! `current_thread` runtime (a task per connection), each in its own process.
//!
//! ```text
//! cargo run --release -p greenwood-bench --example echo_bench               # C = 100, 1,000, 10,000
//! cargo run --release -p greenwood-bench --example echo_bench -- 1000 5 3   # one C, 5 s, 3 rounds
//! cargo run --release -p greenwood-bench --example echo_bench -- hold 100000 # idle connections
//! cargo run --release -p greenwood-bench --example echo_bench -- hold-processes 100000 6
//! ```
//!
//! The load generator is a plain mio loop on one thread: C connections, each sending 64 bytes
//! and waiting for them to come back, again and again, for a fixed time. It reports round
//! trips per second, p50/p99 latency, and the server's CPU time per round trip (user + system,
//! from `/proc/PID/stat`), which is the fair figure on a small machine where the client and the
//! loopback stack take much of the CPU. Each C runs 3 rounds (alternating which server goes
//! first) and the summary gives the medians; the load generator is pinned to CPU 0 and the
//! servers to CPU 1.
//!
//! `hold N` opens N connections to each server and keeps them open (each echoes one message
//! first, so it is served), then reports the server's resident memory per connection. Client
//! processes of at most 15,000 connections each connect from their own 127.0.0.x address, so
//! the client side has ports to spare; the server must be allowed N file descriptors.
//!
//! `hold-processes N W` holds N connections with W server processes on one port
//! (`SO_REUSEPORT`, the kernel spreading the connections): greenwood's
//! `StreamServer::processes(W)` beside W tokio `current_thread` processes, each with its own
//! listener. Each process needs only its share of the file descriptors, so N can exceed what
//! one process may hold. Memory is the sum of the serving processes' RSS.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const MSG: usize = 64;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("server") {
        raise_fd_limit();
        pin_to(SERVER_CPU);
        let addr = args.get(2).map(String::as_str).unwrap_or("127.0.0.1:0");
        match args.get(1).map(String::as_str) {
            Some("greenwood") => greenwood_server(addr),
            Some("tokio") => tokio_server(addr, false),
            Some("tokio-reuseport") => tokio_server(addr, true),
            Some("greenwood-processes") => {
                let workers = args.get(3).and_then(|w| w.parse().ok()).expect("workers");
                greenwood_processes(addr, workers)
            }
            other => panic!(
                "unknown server {other:?}: greenwood, tokio, tokio-reuseport or greenwood-processes"
            ),
        }
        return;
    }
    raise_fd_limit();
    if args.first().map(String::as_str) == Some("hold-client") {
        // hold-client PORT SOURCE_IP COUNT: connect, echo once, report, then hold until killed.
        let port: u16 = args[1].parse().expect("port");
        let source: std::net::Ipv4Addr = args[2].parse().expect("source address");
        let count: usize = args[3].parse().expect("count");
        hold_client(port, source, count);
        return;
    }
    if args.first().map(String::as_str) == Some("hold") {
        let n: usize = args
            .get(1)
            .map_or(Some(100_000), |s| s.replace('_', "").parse().ok())
            .expect("hold N");
        hold(n);
        return;
    }
    if args.first().map(String::as_str) == Some("hold-processes") {
        let n: usize = args
            .get(1)
            .map_or(Some(100_000), |s| s.replace('_', "").parse().ok())
            .expect("hold-processes N W");
        let w: usize = args
            .get(2)
            .map_or(Some(5), |s| s.parse().ok())
            .expect("hold-processes N W");
        hold_processes(n, w);
        return;
    }
    if args.first().map(String::as_str) == Some("client") {
        // client PORT C SECONDS SERVER_PID: drive a server started by hand.
        let port: u16 = args[1].parse().expect("port");
        let c: usize = args[2].parse().expect("C");
        let secs: u64 = args[3].parse().expect("seconds");
        let pid: u32 = args[4].parse().expect("server pid");
        let addr = format!("127.0.0.1:{port}").parse().expect("addr");
        let r = load(addr, c, Duration::from_secs(secs), pid);
        println!(
            "{:.0}K rt/s, p50 {} µs, p99 {} µs, server CPU {:.2} µs/rt",
            r.rps / 1e3,
            r.p50_us,
            r.p99_us,
            r.cpu_per_rt_us
        );
        return;
    }
    let conns: Vec<usize> = match args.first() {
        Some(c) => vec![c.replace('_', "").parse().expect("C")],
        None => vec![100, 1_000, 10_000],
    };
    let seconds: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(5);
    let rounds: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(3);
    pin_to(CLIENT_CPU);
    println!("| C | server | round | round trips/s | p50 | p99 | server CPU per round trip |");
    println!("|---|---|---|---|---|---|---|");
    let mut summary = Vec::new();
    for &c in &conns {
        let mut runs: [Vec<Result>; 2] = [Vec::new(), Vec::new()];
        for round in 0..rounds {
            // Alternate which server goes first, so drift in the machine favours neither.
            let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
            for k in order {
                let r = run(KINDS[k], c, Duration::from_secs(seconds));
                println!(
                    "| {c} | {} | {} | {:.0}K | {} µs | {} µs | {:.2} µs |",
                    KINDS[k],
                    round + 1,
                    r.rps / 1e3,
                    r.p50_us,
                    r.p99_us,
                    r.cpu_per_rt_us
                );
                runs[k].push(r);
            }
        }
        summary.push((c, median(&runs[0]), median(&runs[1])));
    }
    println!();
    println!("Medians of {rounds} rounds:");
    println!();
    println!("| C | tokio rt/s | greenwood rt/s | tokio CPU/rt | greenwood CPU/rt | CPU ratio | rt/s ratio |");
    println!("|---|---|---|---|---|---|---|");
    for (c, t, g) in summary {
        println!(
            "| {c} | {:.0}K | {:.0}K | {:.2} µs | {:.2} µs | {:.2}× | {:.2}× |",
            t.0 / 1e3,
            g.0 / 1e3,
            t.1,
            g.1,
            g.1 / t.1,
            g.0 / t.0
        );
    }
}

const KINDS: [&str; 2] = ["tokio", "greenwood"];

/// The load generator and the server each get a core of their own (on a machine with two or
/// more), so neither migrates and the figures move less from run to run.
const CLIENT_CPU: usize = 0;
const SERVER_CPU: usize = 1;

/// Median round trips/s and median server CPU per round trip.
fn median(runs: &[Result]) -> (f64, f64) {
    let mid = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    (
        mid(runs.iter().map(|r| r.rps).collect()),
        mid(runs.iter().map(|r| r.cpu_per_rt_us).collect()),
    )
}

/// Pins the calling process to `cpu` if the machine has it.
fn pin_to(cpu: usize) {
    let cpus = std::thread::available_parallelism().map_or(1, usize::from);
    if cpu >= cpus {
        return;
    }
    // SAFETY: a zeroed cpu_set_t is a valid empty set; CPU_SET and sched_setaffinity get a
    // pointer to it and its size.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

struct Result {
    rps: f64,
    p50_us: u64,
    p99_us: u64,
    cpu_per_rt_us: f64,
}

fn run(kind: &str, conns: usize, length: Duration) -> Result {
    let mut server = spawn_server(kind);
    let port = read_port(&mut server);
    let addr = format!("127.0.0.1:{port}").parse().expect("addr");
    let pid = server.id();
    let r = load(addr, conns, length, pid);
    server.kill().ok();
    server.wait().ok();
    r
}

fn spawn_server(kind: &str) -> Child {
    Command::new(std::env::current_exe().expect("exe"))
        .args(["server", kind, "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the server")
}

fn read_port(server: &mut Child) -> u16 {
    let out = server.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(out).read_line(&mut line).expect("port line");
    line.trim().parse().expect("port")
}

/// User + system CPU time of process `pid`.
fn cpu_of(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
    // Fields after the command name, which is in parentheses and may contain spaces.
    let rest = &stat[stat.rfind(')').expect(")") + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64;
    Duration::from_nanos(ticks * 1_000_000_000 / hz)
}

struct Conn {
    stream: mio::net::TcpStream,
    connected: bool,
    sent_at: Instant,
    got: usize,
}

fn load(addr: std::net::SocketAddr, n: usize, length: Duration, server_pid: u32) -> Result {
    let mut poll = mio::Poll::new().expect("poll");
    let mut events = mio::Events::with_capacity(4096);
    let mut conns: Vec<Conn> = Vec::with_capacity(n);
    for i in 0..n {
        let mut stream = mio::net::TcpStream::connect(addr).expect("connect");
        poll.registry()
            .register(
                &mut stream,
                mio::Token(i),
                mio::Interest::READABLE | mio::Interest::WRITABLE,
            )
            .expect("register");
        conns.push(Conn {
            stream,
            connected: false,
            sent_at: Instant::now(),
            got: 0,
        });
    }
    let payload = [7u8; MSG];
    let mut buf = [0u8; 4096];
    let warm_up = Duration::from_millis(500);
    let start = Instant::now();
    let mut measuring = false;
    let mut measure_start = start;
    let mut cpu_start = Duration::ZERO;
    let mut latencies: Vec<u32> = Vec::with_capacity(4_000_000);
    loop {
        let now = Instant::now();
        if !measuring && now - start >= warm_up {
            measuring = true;
            measure_start = now;
            cpu_start = cpu_of(server_pid);
            latencies.clear();
        }
        if measuring && now - measure_start >= length {
            break;
        }
        poll.poll(&mut events, Some(Duration::from_millis(100)))
            .expect("poll");
        for ev in events.iter() {
            let c = &mut conns[ev.token().0];
            if !c.connected && ev.is_writable() {
                if c.stream.peer_addr().is_err() {
                    continue;
                }
                c.connected = true;
                send(c, &payload);
            }
            if ev.is_readable() {
                loop {
                    match c.stream.read(&mut buf) {
                        Ok(0) => panic!("the server closed a connection"),
                        Ok(k) => {
                            c.got += k;
                            while c.got >= MSG {
                                c.got -= MSG;
                                let us = c.sent_at.elapsed().as_micros() as u32;
                                latencies.push(us);
                                send(c, &payload);
                            }
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(e) => panic!("read: {e}"),
                    }
                }
            }
        }
    }
    let elapsed = measure_start.elapsed();
    let cpu = cpu_of(server_pid) - cpu_start;
    let rts = latencies.len().max(1);
    latencies.sort_unstable();
    Result {
        rps: rts as f64 / elapsed.as_secs_f64(),
        p50_us: latencies[rts / 2] as u64,
        p99_us: latencies[(rts * 99 / 100).min(rts - 1)] as u64,
        cpu_per_rt_us: cpu.as_secs_f64() * 1e6 / rts as f64,
    }
}

fn send(c: &mut Conn, payload: &[u8]) {
    c.sent_at = Instant::now();
    // 64 bytes always fit in an empty socket buffer.
    let n = c.stream.write(payload).expect("write");
    assert_eq!(n, payload.len(), "short write of 64 bytes");
}

/// Connections per hold-client process (each has its own source address and fd limit).
const PER_CLIENT: usize = 15_000;

fn hold(n: usize) {
    let (_, hard) = fd_limit();
    // The server needs one fd per connection, plus its listener, poller and std streams.
    let needed = n as u64 + 64;
    if hard < needed {
        eprintln!(
            "echo_bench hold: a server must be allowed {needed} open files to hold {n} \
             connections, and RLIMIT_NOFILE's hard limit here is {hard}. Raise it as root \
             (`ulimit -Hn 1048576` in the shell that runs this; `LimitNOFILE=` for a systemd \
             unit; `docker run --ulimit nofile=1048576`); raising it needs CAP_SYS_RESOURCE, \
             which some containers do not grant. The largest N this machine allows is {}.",
            hard.saturating_sub(64)
        );
        std::process::exit(2);
    }
    println!("| server | connections held | server RSS before | after | RSS per connection |");
    println!("|---|---|---|---|---|");
    for kind in ["tokio", "greenwood"] {
        let mut server = spawn_server(kind);
        let port = read_port(&mut server);
        let pid = server.id();
        std::thread::sleep(Duration::from_millis(200));
        let before = rss_of(pid);
        // Each server gets fresh source addresses: the last one's closed ports linger.
        let clients = start_hold_clients(port, n, if kind == "tokio" { 2 } else { 100 });
        let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count());
        assert!(
            fds >= n,
            "the {kind} server has {fds} fds open, fewer than {n} connections"
        );
        let after = rss_of(pid);
        println!(
            "| {kind} | {n} | {:.1} MiB | {:.1} MiB | {:.0} B |",
            before as f64 / 1048576.0,
            after as f64 / 1048576.0,
            (after.saturating_sub(before)) as f64 / n as f64
        );
        stop_all(clients);
        server.kill().ok();
        server.wait().ok();
    }
}

/// Starts client processes that open `n` connections to `port` in all, each from its own
/// source address from 127.0.0.`first_source` on, and returns once all are held.
fn start_hold_clients(port: u16, n: usize, first_source: u8) -> Vec<Child> {
    let mut clients = Vec::new();
    let mut left = n;
    let mut source = first_source;
    while left > 0 {
        let count = left.min(PER_CLIENT);
        let mut child = Command::new(std::env::current_exe().expect("exe"))
            .args([
                "hold-client",
                &port.to_string(),
                &format!("127.0.0.{source}"),
                &count.to_string(),
            ])
            .stdout(Stdio::piped())
            .spawn()
            .expect("start a hold client");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("hold client's report");
        assert_eq!(line.trim(), "held", "hold client 127.0.0.{source}: {line}");
        clients.push(child);
        left -= count;
        source = source
            .checked_add(1)
            .expect("too many hold clients for 127.0.0.x");
    }
    clients
}

fn stop_all(children: Vec<Child>) {
    for mut c in children {
        c.kill().ok();
        c.wait().ok();
    }
}

/// Open file descriptors of process `pid`.
fn fds_of(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

fn hold_processes(n: usize, w: usize) {
    assert!(w > 0, "hold-processes N W: W is at least 1");
    let (_, hard) = fd_limit();
    // The kernel picks a listener by a hash of the address pair, so the shares are binomial:
    // allow six standard deviations above the mean, and the process's own few fds.
    let p = 1.0 / w as f64;
    let share = n as f64 * p;
    let worst = (share + 6.0 * (n as f64 * p * (1.0 - p)).sqrt()).ceil() as u64 + 64;
    if hard < worst {
        let mut fit = w + 1;
        while {
            let p = 1.0 / fit as f64;
            let s = n as f64 * p;
            ((s + 6.0 * (n as f64 * p * (1.0 - p)).sqrt()).ceil() as u64 + 64) > hard
        } {
            fit += 1;
        }
        eprintln!(
            "echo_bench hold-processes: {w} processes get about {share:.0} of {n} connections \
             each, and the kernel spreads them by a hash, so one may get up to {worst} file \
             descriptors' worth; RLIMIT_NOFILE's hard limit here is {hard}. Use {fit} or more \
             processes, fewer connections, or raise the limit (`ulimit -Hn`, `LimitNOFILE=`, \
             `docker run --ulimit nofile=`)."
        );
        std::process::exit(2);
    }
    println!(
        "| server | processes | connections held | per process (least – most) | RSS before | after | RSS per connection |"
    );
    println!("|---|---|---|---|---|---|---|");
    for kind in ["tokio", "greenwood"] {
        let exe = std::env::current_exe().expect("exe");
        // `servers` are the processes to stop; `pids` those that serve (a supervisor does not).
        let (mut servers, pids, port) = if kind == "tokio" {
            let mut first = spawn_server("tokio-reuseport");
            let port = read_port(&mut first);
            let mut servers = vec![first];
            for _ in 1..w {
                let mut s = Command::new(&exe)
                    .args(["server", "tokio-reuseport", &format!("127.0.0.1:{port}")])
                    .stdout(Stdio::piped())
                    .spawn()
                    .expect("start a tokio server");
                assert_eq!(read_port(&mut s), port, "tokio servers share one port");
                servers.push(s);
            }
            let pids = servers.iter().map(Child::id).collect::<Vec<_>>();
            (servers, pids, port)
        } else {
            let mut supervisor = Command::new(&exe)
                .args([
                    "server",
                    "greenwood-processes",
                    "127.0.0.1:0",
                    &w.to_string(),
                ])
                .stdout(Stdio::piped())
                .spawn()
                .expect("start the greenwood supervisor");
            let mut out = BufReader::new(supervisor.stdout.take().expect("stdout"));
            let mut line = String::new();
            out.read_line(&mut line).expect("port line");
            let port: u16 = line.trim().parse().expect("port");
            line.clear();
            out.read_line(&mut line).expect("workers line");
            let pids = line
                .split_whitespace()
                .map(|p| p.parse().expect("worker pid"))
                .collect::<Vec<u32>>();
            assert_eq!(pids.len(), w, "greenwood workers: {line}");
            (vec![supervisor], pids, port)
        };
        std::thread::sleep(Duration::from_millis(200));
        let before: u64 = pids.iter().map(|&p| rss_of(p)).sum();
        let fds_before: Vec<usize> = pids.iter().map(|&p| fds_of(p)).collect();
        let clients = start_hold_clients(port, n, if kind == "tokio" { 20 } else { 120 });
        let held: Vec<usize> = pids
            .iter()
            .zip(&fds_before)
            .map(|(&p, &b)| fds_of(p) - b)
            .collect();
        assert_eq!(
            held.iter().sum::<usize>(),
            n,
            "the {kind} servers' new fds {held:?} do not add up to {n} connections"
        );
        let after: u64 = pids.iter().map(|&p| rss_of(p)).sum();
        println!(
            "| {kind} | {w} | {n} | {} – {} | {:.1} MiB | {:.1} MiB | {:.0} B |",
            held.iter().min().expect("a process"),
            held.iter().max().expect("a process"),
            before as f64 / 1048576.0,
            after as f64 / 1048576.0,
            (after.saturating_sub(before)) as f64 / n as f64
        );
        stop_all(clients);
        if kind == "greenwood" {
            // A graceful stop: the supervisor forwards it to the workers and waits for them.
            // SAFETY: kill(2) on a child's pid, which has not been waited for.
            unsafe { libc::kill(servers[0].id() as libc::pid_t, libc::SIGTERM) };
            let status = servers.pop().expect("supervisor").wait().expect("wait");
            assert!(
                status.success(),
                "the greenwood supervisor's exit: {status}"
            );
        }
        stop_all(servers);
    }
}

fn hold_client(port: u16, source: std::net::Ipv4Addr, count: usize) {
    let server = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let mut held = Vec::with_capacity(count);
    let payload = [7u8; MSG];
    for _ in 0..count {
        let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)
            .expect("socket");
        // The port is picked at connect, by the whole 4-tuple: binding port 0 would search
        // for a port free on its own, slower and slower as they fill up.
        let on: libc::c_int = 1;
        // SAFETY: a valid socket and a pointer to an int of the size given.
        let r = unsafe {
            libc::setsockopt(
                std::os::fd::AsRawFd::as_raw_fd(&sock),
                libc::IPPROTO_IP,
                libc::IP_BIND_ADDRESS_NO_PORT,
                (&on as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        assert_eq!(
            r,
            0,
            "IP_BIND_ADDRESS_NO_PORT: {}",
            io::Error::last_os_error()
        );
        sock.bind(&std::net::SocketAddr::from((source, 0)).into())
            .unwrap_or_else(|e| panic!("bind to {source}: {e}"));
        sock.connect(&server.into()).unwrap_or_else(|e| {
            panic!(
                "connect from {source} after {} connections: {e}",
                held.len()
            )
        });
        let mut stream = std::net::TcpStream::from(sock);
        // A connection left in the backlog of a server that stopped accepting (out of file
        // descriptors) is never echoed: fail, rather than wait for ever.
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .expect("read timeout");
        stream.write_all(&payload).expect("write");
        let mut echo = [0u8; MSG];
        stream.read_exact(&mut echo).unwrap_or_else(|e| {
            panic!(
                "no echo from {source} after {} connections held: {e}",
                held.len()
            )
        });
        held.push(stream);
    }
    println!("held");
    io::stdout().flush().ok();
    loop {
        std::thread::park();
    }
}

/// Resident memory of process `pid`, in bytes.
fn rss_of(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS");
    kb * 1024
}

/// RLIMIT_NOFILE's soft and hard limits.
fn fd_limit() -> (u64, u64) {
    let mut rl = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit with a valid pointer.
    unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl) };
    (rl.rlim_cur, rl.rlim_max)
}

fn raise_fd_limit() {
    let mut rl = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with a valid pointer.
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl);
        rl.rlim_cur = rl.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &rl);
    }
}

fn announce(port: u16) {
    println!("{port}");
    io::stdout().flush().ok();
}

fn greenwood_server(addr: &str) {
    let listener = greenwood::net::TcpListener::bind(addr).expect("bind");
    announce(listener.local_addr().expect("addr").port());
    for conn in listener.incoming() {
        let mut conn = conn.expect("accept");
        greenwood::Builder::new()
            .stack_size(32 * 1024)
            .spawn(move || {
                let mut buf = [0u8; 4096];
                loop {
                    match conn.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => {
                            if conn.write_all(&buf[..n]).is_err() {
                                return;
                            }
                        }
                    }
                }
            })
            .expect("spawn");
    }
}

/// `StreamServer::processes(workers)`: the supervisor says its port and its workers' pids,
/// then serves until `SIGTERM`; a worker (this program run again) serves in `bind`.
fn greenwood_processes(addr: &str, workers: usize) {
    let server = greenwood::server::StreamServer::processes(workers)
        .stop_timeout(Duration::from_secs(5))
        .bind(addr, |mut conn, _peer| {
            let mut buf = [0u8; 4096];
            loop {
                match conn.read(&mut buf) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => {
                        if conn.write_all(&buf[..n]).is_err() {
                            return;
                        }
                    }
                }
            }
        })
        .expect("bind");
    println!("{}", server.local_addr().port());
    let pids: Vec<String> = server
        .workers()
        .iter()
        .map(|p| p.expect("every worker runs").to_string())
        .collect();
    announce_line(&pids.join(" "));
    server.serve_forever().expect("serve");
}

fn announce_line(line: &str) {
    println!("{line}");
    io::stdout().flush().ok();
}

/// tokio's `current_thread` echo server; with `reuse_port`, several processes share `addr`.
fn tokio_server(addr: &str, reuse_port: bool) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let listener = if reuse_port {
            let addr: std::net::SocketAddr = addr.parse().expect("addr");
            let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)
                .expect("socket");
            sock.set_reuse_port(true).expect("SO_REUSEPORT");
            sock.set_reuse_address(true).expect("SO_REUSEADDR");
            sock.bind(&addr.into()).expect("bind");
            sock.listen(4096).expect("listen");
            sock.set_nonblocking(true).expect("nonblocking");
            tokio::net::TcpListener::from_std(sock.into()).expect("tokio listener")
        } else {
            tokio::net::TcpListener::bind(addr).await.expect("bind")
        };
        announce(listener.local_addr().expect("addr").port());
        loop {
            let (mut conn, _) = listener.accept().await.expect("accept");
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                loop {
                    match conn.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => {
                            if conn.write_all(&buf[..n]).await.is_err() {
                                return;
                            }
                        }
                    }
                }
            });
        }
    });
}
