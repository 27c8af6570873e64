//! `greenwood::server::DatagramServer`.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use greenwood::net::UdpSocket;
use greenwood::server::DatagramServer;
use greenwood::spawn;

#[test]
fn each_datagram_is_handled_in_its_own_greenlet() {
    let server = DatagramServer::bind("127.0.0.1:0", |data, from, socket| {
        socket.send_to(&data, from).unwrap();
    })
    .unwrap();
    server.start().unwrap();
    let addr = server.local_addr().unwrap();
    let clients: Vec<_> = (0..30u32)
        .map(|i| {
            spawn(move || {
                let s = UdpSocket::bind("127.0.0.1:0").unwrap();
                s.send_to(&i.to_le_bytes(), addr).unwrap();
                let mut buf = [0; 4];
                s.recv_from(&mut buf).unwrap();
                u32::from_le_bytes(buf)
            })
        })
        .collect();
    greenwood::joinall(&clients);
    for (i, c) in clients.iter().enumerate() {
        assert_eq!(c.get().unwrap(), i as u32);
    }
    server.stop(None);
}

#[test]
fn a_pool_bounds_concurrent_handlers() {
    let running = Rc::new(Cell::new(0));
    let peak = Rc::new(Cell::new(0));
    let done = Rc::new(Cell::new(0));
    let (r, p, d) = (running.clone(), peak.clone(), done.clone());
    let server = DatagramServer::bind("127.0.0.1:0", move |_data, _from, _s| {
        r.set(r.get() + 1);
        p.set(p.get().max(r.get()));
        greenwood::sleep(Duration::from_millis(1));
        r.set(r.get() - 1);
        d.set(d.get() + 1);
    })
    .unwrap()
    .with_pool(3);
    server.start().unwrap();
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    for _ in 0..10 {
        client.send_to(b"x", server.local_addr().unwrap()).unwrap();
    }
    while done.get() < 10 {
        greenwood::sleep(Duration::from_millis(1));
    }
    assert_eq!(peak.get(), 3);
    server.stop(None);
}

#[test]
fn stop_closes_the_socket_and_start_binds_the_same_port_again() {
    // Regression: the socket stayed open after stop, so datagrams kept queueing unread.
    let server = DatagramServer::bind("127.0.0.1:0", |data, from, socket| {
        socket.send_to(&data, from).unwrap();
    })
    .unwrap();
    server.start().unwrap();
    let addr = server.local_addr().unwrap();
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client.connect(addr).unwrap();
    let mut buf = [0; 8];
    client.send(b"one").unwrap();
    assert_eq!(client.recv(&mut buf).unwrap(), 3);
    server.stop(None);
    assert!(!server.started());
    // Nobody is bound there: the kernel answers with port unreachable, which a connected
    // UDP socket reports as "connection refused" on its next receive.
    client.send(b"lost").unwrap();
    assert_eq!(
        client.recv(&mut buf).unwrap_err().kind(),
        std::io::ErrorKind::ConnectionRefused
    );
    server.start().unwrap();
    assert_eq!(server.local_addr().unwrap(), addr);
    client.send(b"two").unwrap();
    assert_eq!(client.recv(&mut buf).unwrap(), 3);
    assert_eq!(&buf[..3], b"two");
    server.stop(None);
}
