//! gevent's UDP client: sends its argument to the udp_server example and prints the answer.
//!
//! ```text
//! cargo run --release --example udp_client -- hello [127.0.0.1:9000]
//! ```

use std::time::Duration;

use greenwood::net::UdpSocket;

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let message = args.next().unwrap_or_else(|| "hello".into());
    let server = args.next().unwrap_or_else(|| "127.0.0.1:9000".into());
    let sock = UdpSocket::bind("127.0.0.1:0")?;
    sock.set_read_timeout(Some(Duration::from_secs(5)))?;
    println!("sending {message:?} to {server}");
    sock.send_to(message.as_bytes(), server.as_str())?;
    let mut buf = [0; 1024];
    let (n, from) = sock.recv_from(&mut buf)?;
    println!("{from}: {}", String::from_utf8_lossy(&buf[..n]));
    Ok(())
}
