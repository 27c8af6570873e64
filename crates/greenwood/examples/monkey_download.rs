//! The seed's downloader written exactly as one would for threads — `std::net::TcpStream`,
//! `std::thread::sleep`, nothing of greenwood's in the download code — and made cooperative
//! by one line, `greenwood::monkey::patch_all()`. The photo server is plain std code too: a
//! thread per connection, each thinking for 100 ms (`std::thread::sleep`) before answering.
//!
//! ```text
//! cargo run --release --features monkey --example monkey_download            # 1,000 users
//! cargo run --release --features monkey --example monkey_download -- 5000
//! GREENWOOD_PATCH=0 cargo run --release --features monkey --example monkey_download -- 20
//! ```
//!
//! With patching off (`GREENWOOD_PATCH=0`) the same download code runs one download after the
//! other: 20 users take 20 × 100 ms.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

/// Downloads user `user`'s photo: blocking std code, as for a thread per user.
fn download(server: SocketAddr, user: u32) -> io::Result<usize> {
    let mut s = TcpStream::connect(server)?;
    write!(s, "GET /photo/{user} HTTP/1.0\r\n\r\n")?;
    let mut response = Vec::new();
    s.read_to_end(&mut response)?;
    let body = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(0, |end| response.len() - end - 4);
    Ok(body)
}

/// Answers one request after 100 ms of "work", with a photo of 10,000 + user bytes.
fn serve(s: TcpStream) -> io::Result<()> {
    let mut reader = BufReader::new(&s);
    let mut request = String::new();
    reader.read_line(&mut request)?;
    let user: usize = request
        .split('/')
        .nth(2)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let mut line = String::new();
    while reader.read_line(&mut line)? > 2 {
        line.clear();
    }
    std::thread::sleep(Duration::from_millis(100));
    let photo = vec![b'x'; 10_000 + user];
    let mut s = &s;
    write!(
        s,
        "HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n",
        photo.len()
    )?;
    s.write_all(&photo)
}

/// A listener on a free loopback port with the largest backlog the system allows: std's
/// `TcpListener::bind` asks for 128, and a thousand clients connecting at once would see
/// their connections dropped (and retried a second later) or refused.
fn listener() -> io::Result<TcpListener> {
    let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
    s.bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())?;
    s.listen(libc::SOMAXCONN)?;
    Ok(s.into())
}

fn main() -> io::Result<()> {
    let n: u32 = match std::env::args().nth(1).map(|s| s.replace('_', "").parse()) {
        None => 1_000,
        Some(Ok(n)) if n > 0 => n,
        Some(_) => {
            eprintln!("usage: monkey_download [NUMBER_OF_USERS]");
            std::process::exit(2);
        }
    };
    if let Err(e) = greenwood::monkey::patch_all() {
        eprintln!("{e}");
        std::process::exit(1);
    }
    println!(
        "patched: {} (GREENWOOD_PATCH=0 turns it off)",
        greenwood::monkey::is_patched()
    );

    // The server is the classic thread per connection, on threads of its own: they have no
    // hub, so their calls are libc's whether patched or not.
    let listener = listener()?;
    let server = listener.local_addr()?;
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            match conn {
                Ok(s) => {
                    let spawned = std::thread::Builder::new()
                        .stack_size(64 * 1024)
                        .spawn(move || serve(s));
                    if let Err(e) = spawned {
                        eprintln!("cannot start a server thread: {e}");
                    }
                }
                Err(e) => eprintln!("accept: {e}"),
            }
        }
    });

    let start = Instant::now();
    let jobs: Vec<_> = (0..n)
        .map(|user| greenwood::spawn(move || download(server, user)))
        .collect();
    greenwood::joinall(&jobs);
    let elapsed = start.elapsed();

    let (mut photos, mut bytes, mut failed) = (0, 0, 0);
    for (user, job) in jobs.iter().enumerate() {
        match job.take() {
            Ok(Ok(len)) if len == 10_000 + user => {
                photos += 1;
                bytes += len;
            }
            Ok(Ok(len)) => {
                eprintln!("user {user}: {len} bytes, expected {}", 10_000 + user);
                failed += 1;
            }
            Ok(Err(e)) => {
                eprintln!("user {user}: {e}");
                failed += 1;
            }
            Err(e) => {
                eprintln!("{e}");
                failed += 1;
            }
        }
    }
    println!(
        "{n} users in {} ms, their downloads on one thread: {photos} photos ({:.1} MB), \
         {failed} failed; each download waits 100 ms on the server",
        elapsed.as_millis(),
        bytes as f64 / 1e6
    );
    if failed > 0 {
        std::process::exit(1);
    }
    Ok(())
}
