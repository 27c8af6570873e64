//! gevent's concurrent download: N greenlets each fetch a URL over HTTP/1.0 with plain blocking
//! code (connect, write the request, read to the end), all at once on one thread. The example
//! starts its own photo server on a free loopback port (a `StreamServer` that answers each
//! request after 10–60 ms, like a server some way off), so it needs no network.
//!
//! ```text
//! cargo run --release --example concurrent_download            # 1,000 photos
//! cargo run --release --example concurrent_download -- 5000
//! ```

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use greenwood::net::TcpStream;
use greenwood::server::StreamServer;

fn main() -> io::Result<()> {
    let n: u32 = match std::env::args().nth(1).map(|s| s.replace('_', "").parse()) {
        None => 1_000,
        Some(Ok(n)) if n > 0 => n,
        Some(_) => {
            eprintln!("usage: concurrent_download [NUMBER_OF_PHOTOS]");
            std::process::exit(2);
        }
    };
    let server = StreamServer::bind("127.0.0.1:0", serve_photo)?;
    server.start()?;
    let addr = server.local_addr()?;
    println!("photo server on http://{addr}/; fetching {n} photos at once");

    let start = Instant::now();
    let fetches: Vec<_> = (0..n)
        .map(|i| greenwood::spawn(move || fetch(addr, &format!("/photos/{i}.jpg"))))
        .collect();
    greenwood::joinall(&fetches);
    let elapsed = start.elapsed();

    let (mut ok, mut bytes, mut errors) = (0, 0, Vec::new());
    for (i, f) in fetches.iter().enumerate() {
        match f.take().expect("a fetch does not panic") {
            Ok(body) => {
                ok += 1;
                bytes += body.len();
            }
            Err(e) => errors.push(format!("/photos/{i}.jpg: {e}")),
        }
    }
    let one_by_one: u64 = (0..n).map(|i| latency(i).as_millis() as u64).sum();
    println!(
        "fetched {ok} of {n} photos ({:.1} MB) in {} ms; one after another the server's \
         latency alone would take {:.1} s",
        bytes as f64 / 1e6,
        elapsed.as_millis(),
        one_by_one as f64 / 1e3
    );
    for e in errors.iter().take(5) {
        println!("failed: {e}");
    }
    server.stop(Some(Duration::from_secs(1)));
    if errors.is_empty() {
        Ok(())
    } else {
        Err(io::Error::other(format!("{} fetches failed", errors.len())))
    }
}

/// GET `path` over HTTP/1.0 (the server closes the connection after the response); the body
/// if the status is 200 and the body is as long as the server said.
fn fetch(addr: SocketAddr, path: &str) -> io::Result<Vec<u8>> {
    let mut conn = TcpStream::connect(addr)?;
    write!(conn, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n")?;
    let mut response = Vec::new();
    conn.read_to_end(&mut response)?;

    let mut headers = [httparse::EMPTY_HEADER; 16];
    let mut head = httparse::Response::new(&mut headers);
    let head_len = match head.parse(&response) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Err(bad("the response ended inside its head")),
        Err(e) => return Err(bad(&format!("malformed response: {e}"))),
    };
    if head.code != Some(200) {
        return Err(bad(&format!("status {:?}", head.code)));
    }
    let declared = head
        .headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("content-length"))
        .and_then(|h| std::str::from_utf8(h.value).ok()?.parse::<usize>().ok());
    let body = response.split_off(head_len);
    if declared != Some(body.len()) {
        return Err(bad(&format!(
            "got {} body bytes, the server said {declared:?}",
            body.len()
        )));
    }
    Ok(body)
}

fn bad(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_owned())
}

/// The photo server: answers `GET /photos/N.jpg` with N's photo after its latency.
fn serve_photo(mut conn: TcpStream, _peer: SocketAddr) {
    let mut request = Vec::new();
    let mut buf = [0u8; 1024];
    let path = loop {
        match conn.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => request.extend_from_slice(&buf[..n]),
        }
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut req = httparse::Request::new(&mut headers);
        match req.parse(&request) {
            Ok(httparse::Status::Complete(_)) => break req.path.unwrap_or("/").to_owned(),
            Ok(httparse::Status::Partial) if request.len() < 8 * 1024 => {}
            _ => {
                let _ = conn.write_all(b"HTTP/1.0 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
                return;
            }
        }
    };
    let photo = path
        .strip_prefix("/photos/")
        .and_then(|p| p.strip_suffix(".jpg"))
        .and_then(|n| n.parse::<u32>().ok());
    let Some(i) = photo else {
        let _ = conn.write_all(b"HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n");
        return;
    };
    greenwood::sleep(latency(i));
    let body = vec![(i % 251) as u8; 20_000 + (i as usize * 7_919) % 30_000];
    let head = format!(
        "HTTP/1.0 200 OK\r\nContent-Type: image/jpeg\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let _ = conn
        .write_all(head.as_bytes())
        .and_then(|()| conn.write_all(&body));
}

/// Photo `i`'s server latency: 10–60 ms, spread evenly.
fn latency(i: u32) -> Duration {
    Duration::from_millis(10 + u64::from(i.wrapping_mul(2_654_435_761) >> 16) % 51)
}
