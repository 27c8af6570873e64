//! `greenwood::net::UdpSocket`.

use std::io;
use std::time::Duration;

use greenwood::net::UdpSocket;
use greenwood::{spawn, ErrorKind};

#[test]
fn many_greenlets_exchange_datagrams_with_one_server() {
    let server = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = server.local_addr().unwrap();
    let echo = spawn(move || {
        let mut buf = [0; 64];
        for _ in 0..50 {
            let (n, from) = server.recv_from(&mut buf).unwrap();
            server.send_to(&buf[..n], from).unwrap();
        }
    });
    let clients: Vec<_> = (0..50u32)
        .map(|i| {
            spawn(move || {
                let s = UdpSocket::bind("127.0.0.1:0").unwrap();
                s.connect(addr).unwrap();
                s.send(&i.to_le_bytes()).unwrap();
                let mut buf = [0; 4];
                s.recv(&mut buf).unwrap();
                u32::from_le_bytes(buf)
            })
        })
        .collect();
    greenwood::joinall(&clients);
    echo.join();
    for (i, c) in clients.iter().enumerate() {
        assert_eq!(c.get().unwrap(), i as u32);
    }
}

#[test]
fn a_receive_times_out_or_is_killed_without_losing_the_next_datagram() {
    let s = std::rc::Rc::new(UdpSocket::bind("127.0.0.1:0").unwrap());
    s.set_read_timeout(Some(Duration::from_millis(2))).unwrap();
    assert_eq!(
        s.recv_from(&mut [0; 8]).unwrap_err().kind(),
        io::ErrorKind::WouldBlock
    );
    s.set_read_timeout(None).unwrap();
    let s2 = s.clone();
    let g = spawn(move || s2.recv_from(&mut [0; 8]).map(|r| r.0));
    greenwood::sleep(Duration::ZERO);
    g.kill();
    assert_eq!(g.error().unwrap().kind(), ErrorKind::Killed);
    let addr = s.local_addr().unwrap();
    s.send_to(b"after", addr).unwrap();
    let mut buf = [0; 8];
    assert_eq!(s.recv_from(&mut buf).unwrap().0, 5);
}

#[test]
fn closing_a_socket_wakes_its_receivers_and_later_sends_fail() {
    let sock = std::rc::Rc::new(UdpSocket::bind("127.0.0.1:0").unwrap());
    let s = sock.clone();
    let receiver = spawn(move || s.recv_from(&mut [0; 16]).map(|_| ()));
    greenwood::sleep(Duration::ZERO);
    sock.close();
    let err = receiver.take().unwrap().unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::NotConnected, "{err}");
    let later = sock.send_to(b"x", "127.0.0.1:9").unwrap_err();
    assert!(later.to_string().contains("close() was called"), "{later}");
}
