//! After `close()`, every method of every socket type fails at once with `NotConnected`
//! (regression, gevent's `test_shutdown_when_closed`: `shutdown()` on a closed `TcpStream`
//! returned `Ok` and shut the connection down).

use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, Ipv6Addr, Shutdown};
use std::time::Duration;

use greenwood::net::unix::{UnixDatagram, UnixListener, UnixStream};
use greenwood::net::{TcpListener, TcpStream, UdpSocket};

/// Each expression must fail with the closed-socket error.
macro_rules! all_fail {
    ($($e:expr),+ $(,)?) => {
        $(
            match $e {
                Ok(_) => panic!("`{}` succeeded on a closed socket", stringify!($e)),
                Err(err) => {
                    assert_eq!(err.kind(), ErrorKind::NotConnected, "`{}`: {err}", stringify!($e));
                    assert!(err.to_string().contains("close() was called"), "`{}`: {err}", stringify!($e));
                }
            }
        )+
    };
}

const T: Option<Duration> = Some(Duration::from_secs(1));

#[test]
fn every_tcp_method_fails_after_close() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let mut s = TcpStream::connect(addr).unwrap();
    let (peer, _) = l.accept().unwrap();
    s.close();
    let mut buf = [0u8; 4];
    all_fail![
        s.shutdown(Shutdown::Both),
        s.peek(&mut buf),
        s.read(&mut buf),
        s.write(b"x"),
        s.try_clone(),
        s.set_nodelay(true),
        s.nodelay(),
        s.set_read_timeout(T),
        s.read_timeout(),
        s.set_write_timeout(T),
        s.write_timeout(),
        s.set_nonblocking(true),
        s.local_addr(),
        s.peer_addr(),
        s.set_ttl(64),
        s.ttl(),
        s.take_error(),
    ];
    all_fail![s.into_std()];
    // The peer saw no shutdown: the connection ends only when the fd goes (it has now).
    let mut rest = Vec::new();
    assert_eq!((&peer).read_to_end(&mut rest).unwrap(), 0);

    l.close();
    all_fail![
        l.accept(),
        l.local_addr(),
        l.try_clone(),
        l.set_ttl(64),
        l.ttl(),
        l.take_error(),
    ];
    all_fail![l.incoming().next().unwrap()];
    all_fail![l.into_std()];
}

#[test]
fn every_udp_method_fails_after_close() {
    let other = UdpSocket::bind("127.0.0.1:0").unwrap();
    let to = other.local_addr().unwrap();
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.close();
    let mut buf = [0u8; 4];
    all_fail![
        s.recv_from(&mut buf),
        s.peek_from(&mut buf),
        s.send_to(b"x", to),
        s.connect(to),
        s.send(b"x"),
        s.recv(&mut buf),
        s.peek(&mut buf),
        s.set_read_timeout(T),
        s.read_timeout(),
        s.set_write_timeout(T),
        s.write_timeout(),
        s.set_nonblocking(true),
        s.local_addr(),
        s.peer_addr(),
        s.try_clone(),
        s.set_broadcast(true),
        s.broadcast(),
        s.set_ttl(64),
        s.ttl(),
        s.join_multicast_v4(&Ipv4Addr::new(239, 1, 1, 1), &Ipv4Addr::UNSPECIFIED),
        s.leave_multicast_v4(&Ipv4Addr::new(239, 1, 1, 1), &Ipv4Addr::UNSPECIFIED),
        s.join_multicast_v6(&Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1), 0),
        s.take_error(),
    ];
    all_fail![s.into_std()];
}

#[test]
fn every_unix_method_fails_after_close() {
    let dir = std::env::temp_dir().join(format!("greenwood-closed-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("stream.sock");
    let l = UnixListener::bind(&path).unwrap();
    let mut s = UnixStream::connect(&path).unwrap();
    s.close();
    let mut buf = [0u8; 4];
    all_fail![
        s.shutdown(Shutdown::Both),
        s.read(&mut buf),
        s.write(b"x"),
        s.try_clone(),
        s.set_read_timeout(T),
        s.set_write_timeout(T),
        s.set_nonblocking(true),
        s.local_addr(),
        s.peer_addr(),
        s.take_error(),
    ];
    all_fail![s.into_std()];
    l.close();
    all_fail![l.accept(), l.local_addr()];

    let (d, other) = UnixDatagram::pair().unwrap();
    d.close();
    let dpath = dir.join("dgram.sock");
    let _bound = UnixDatagram::bind(&dpath).unwrap();
    all_fail![
        d.send_to(b"x", &dpath),
        d.recv_from(&mut buf),
        d.send(b"x"),
        d.recv(&mut buf),
        d.connect(&dpath),
        d.set_read_timeout(T),
        d.set_write_timeout(T),
        d.local_addr(),
    ];
    drop(other);
    std::fs::remove_dir_all(&dir).unwrap();
}
