//! `greenwood::net::unix`: streams, listeners and datagrams.

use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::time::Duration;

use greenwood::net::unix::{UnixDatagram, UnixListener, UnixStream};
use greenwood::{spawn, ErrorKind};

fn temp_path(name: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("greenwood-{}-{name}", std::process::id()));
    let _ = std::fs::remove_file(&path);
    path
}

#[test]
fn many_clients_echo_through_a_listener() {
    let path = temp_path("echo.sock");
    let listener = UnixListener::bind(&path).unwrap();
    let server = spawn(move || {
        for _ in 0..20 {
            let (mut conn, _) = listener.accept().unwrap();
            spawn(move || {
                let mut buf = [0; 4];
                conn.read_exact(&mut buf).unwrap();
                conn.write_all(&buf).unwrap();
            });
        }
    });
    let clients: Vec<_> = (0..20u32)
        .map(|i| {
            let path = path.clone();
            spawn(move || {
                let mut c = UnixStream::connect(&path).unwrap();
                c.write_all(&i.to_le_bytes()).unwrap();
                let mut buf = [0; 4];
                c.read_exact(&mut buf).unwrap();
                u32::from_le_bytes(buf)
            })
        })
        .collect();
    greenwood::joinall(&clients);
    server.join();
    for (i, c) in clients.iter().enumerate() {
        assert_eq!(c.get().unwrap(), i as u32);
    }
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn connecting_to_a_missing_path_fails_and_kill_interrupts_accept() {
    let err = UnixStream::connect(temp_path("missing.sock")).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::NotFound);

    let path = temp_path("kill.sock");
    let listener = UnixListener::bind(&path).unwrap();
    let g = spawn(move || listener.accept().map(drop));
    greenwood::sleep(Duration::ZERO);
    g.kill();
    assert_eq!(g.error().unwrap().kind(), ErrorKind::Killed);
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn datagrams_go_both_ways_and_time_out_cooperatively() {
    let (a, b) = UnixDatagram::pair().unwrap();
    let reader = spawn(move || {
        let mut buf = [0; 8];
        let n = b.recv(&mut buf).unwrap();
        b.send(&buf[..n]).unwrap();
    });
    a.send(b"ping").unwrap();
    let mut buf = [0; 8];
    assert_eq!(a.recv(&mut buf).unwrap(), 4);
    reader.join();
    a.set_read_timeout(Some(Duration::from_millis(2))).unwrap();
    assert_eq!(
        a.recv(&mut buf).unwrap_err().kind(),
        io::ErrorKind::WouldBlock
    );
}
