//! gevent's echo server: a `StreamServer` runs one greenlet per connection, each running plain
//! blocking code.
//!
//! ```text
//! cargo run --release --example echoserver            # listens on 127.0.0.1:16000
//! cargo run --release --example echoserver -- 0.0.0.0:16000
//! ```
//!
//! Try it with `nc 127.0.0.1 16000`.

use std::io::{Read, Write};
use std::net::SocketAddr;

use greenwood::net::TcpStream;
use greenwood::server::StreamServer;

fn echo(mut conn: TcpStream, peer: SocketAddr) {
    eprintln!("{peer} connected");
    let mut buf = [0u8; 4096];
    loop {
        match conn.read(&mut buf) {
            Ok(0) | Err(_) => break, // closed, or reset
            Ok(n) => {
                if conn.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
    eprintln!("{peer} left");
}

fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:16000".into());
    let server = StreamServer::bind(addr.as_str(), echo)?.with_pool(10_000);
    eprintln!("echoing on {}", server.local_addr()?);
    server.serve_forever()?;
    Ok(())
}
