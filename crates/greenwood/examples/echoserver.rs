//! gevent's echo server: one greenlet per connection, plain blocking code.
//!
//! ```text
//! cargo run --release --example echoserver            # listens on 127.0.0.1:16000
//! cargo run --release --example echoserver -- 0.0.0.0:16000
//! ```
//!
//! Try it with `nc 127.0.0.1 16000`.

use std::io::{Read, Write};

use greenwood::net::{TcpListener, TcpStream};

fn handle(mut conn: TcpStream) -> std::io::Result<()> {
    let mut buf = [0u8; 4096];
    loop {
        let n = conn.read(&mut buf)?;
        if n == 0 {
            return Ok(()); // the client closed
        }
        conn.write_all(&buf[..n])?;
    }
}

fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:16000".into());
    let listener = TcpListener::bind(addr.as_str())?;
    eprintln!("echoing on {}", listener.local_addr()?);
    for conn in listener.incoming() {
        match conn {
            Ok(conn) => {
                greenwood::spawn(move || handle(conn));
            }
            Err(e) => {
                eprintln!("accept failed: {e}");
                greenwood::sleep(std::time::Duration::from_millis(100));
            }
        }
    }
    Ok(())
}
