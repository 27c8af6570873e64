//! gevent's UDP server: every datagram is handled in its own greenlet, and answered.
//!
//! ```text
//! cargo run --release --example udp_server               # listens on 127.0.0.1:9000
//! cargo run --release --example udp_client -- hello      # in another terminal
//! ```

use greenwood::server::DatagramServer;

fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9000".into());
    let server = DatagramServer::bind(addr.as_str(), |data, from, socket| {
        println!("{from}: got {:?}", String::from_utf8_lossy(&data));
        let _ = socket.send_to(b"Received your message.", from);
    })?;
    eprintln!("receiving on {}", server.local_addr()?);
    server.serve_forever()?;
    Ok(())
}
