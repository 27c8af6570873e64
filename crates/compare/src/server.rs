//! The photo server: greenwood's `StreamServer`, a greenlet per connection, each answering
//! `GET /photo/<user>` with that user's photo after the simulated network latency (a
//! greenwood sleep, so the server never blocks). It counts the downloads in flight, which is
//! how the comparison learns each model's peak concurrency the same way for all of them:
//! `GET /stats` answers the peak since the last `/stats`.

use std::cell::Cell;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use greenwood::net::TcpStream;
use greenwood::server::StreamServer;

use crate::photo;

/// Connections being answered now, and the most there were since the last `/stats`.
#[derive(Default)]
struct InFlight {
    now: Cell<u64>,
    peak: Cell<u64>,
}

/// Serves photos of `size` bytes on one port of the loopback addresses [`photo::address`]
/// spreads users over, each after `latency`; prints `listening <first address>` on stdout once
/// it accepts, then serves until the process is killed.
pub fn serve(size: usize, latency: Duration) -> io::Result<()> {
    let flight = Rc::new(InFlight::default());
    let servers = bind_all(|| {
        let flight = flight.clone();
        move |conn, _peer: SocketAddr| {
            // A downloader that gave up (or was killed with its model) is not the server's
            // failure to report: the downloader reports it.
            let _ = answer(conn, size, latency, &flight);
        }
    })?;
    for s in &servers {
        s.start()?;
    }
    println!("listening {}", servers[0].local_addr()?);
    io::stdout().flush()?;
    servers[0].serve_forever()
}

/// A server on each of the spread addresses, all on one port (a free one on the first, which
/// the others may have taken: then another).
fn bind_all<H: Fn(TcpStream, SocketAddr) + 'static>(
    handler: impl Fn() -> H,
) -> io::Result<Vec<StreamServer>> {
    let mut last = None;
    for _ in 0..20 {
        let first = StreamServer::bind(photo::address(0, 0), handler())?;
        let port = first.local_addr()?.port();
        let mut servers = vec![first];
        for i in 1..photo::SPREAD {
            match StreamServer::bind(photo::address(port, i), handler()) {
                Ok(s) => servers.push(s),
                Err(e) => {
                    last = Some(e);
                    break;
                }
            }
        }
        if servers.len() == photo::SPREAD as usize {
            return Ok(servers);
        }
    }
    Err(last.unwrap_or_else(|| io::Error::other("no port free on every loopback address")))
}

/// Reads one request and answers it.
fn answer(
    mut conn: TcpStream,
    size: usize,
    latency: Duration,
    flight: &InFlight,
) -> io::Result<()> {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    let path = loop {
        let n = conn.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        head.extend_from_slice(&buf[..n]);
        let mut headers = [httparse::EMPTY_HEADER; 16];
        let mut req = httparse::Request::new(&mut headers);
        match req.parse(&head) {
            Ok(httparse::Status::Complete(_)) => break req.path.unwrap_or("").to_owned(),
            Ok(httparse::Status::Partial) if head.len() < 8 * 1024 => {}
            _ => return conn.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"),
        }
    };
    if path == "/stats" {
        let body = format!("{}\n", flight.peak.get());
        flight.peak.set(flight.now.get());
        let reply = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        return conn.write_all(reply.as_bytes());
    }
    let Some(user) = path
        .strip_prefix("/photo/")
        .and_then(|u| u.parse::<u32>().ok())
    else {
        return conn.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
    };
    flight.now.set(flight.now.get() + 1);
    flight.peak.set(flight.peak.get().max(flight.now.get()));
    let sent = send_photo(&mut conn, user, size, latency);
    flight.now.set(flight.now.get() - 1);
    sent
}

/// The latency, then the head and `size` bytes of `user`'s photo, from a 4 KiB buffer.
fn send_photo(conn: &mut TcpStream, user: u32, size: usize, latency: Duration) -> io::Result<()> {
    greenwood::sleep(latency);
    conn.write_all(photo::response_head(size).as_bytes())?;
    let block = photo::block(user);
    let piece: Vec<u8> = block
        .iter()
        .copied()
        .cycle()
        .take(16 * photo::BLOCK)
        .collect();
    let mut left = size;
    while left > 0 {
        let n = left.min(piece.len());
        conn.write_all(&piece[..n])?;
        left -= n;
    }
    Ok(())
}

/// The server's peak of downloads in flight since the last call (and starts a new count).
pub fn peak_in_flight(addr: SocketAddr) -> io::Result<u64> {
    let mut s = std::net::TcpStream::connect(addr)?;
    s.write_all(b"GET /stats HTTP/1.1\r\nHost: photos\r\n\r\n")?;
    let mut reply = String::new();
    s.read_to_string(&mut reply)?;
    reply
        .rsplit("\r\n\r\n")
        .next()
        .and_then(|b| b.trim().parse().ok())
        .ok_or_else(|| io::Error::other(format!("a /stats answer without a count: {reply:?}")))
}
