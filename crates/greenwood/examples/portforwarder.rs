//! gevent's port forwarder: every connection to SOURCE is forwarded to DESTINATION, a greenlet
//! per direction. On SIGINT or SIGTERM it stops accepting and waits for the open connections
//! to finish; a second signal closes them at once.
//!
//! ```text
//! cargo run --release --example portforwarder -- 127.0.0.1:8080 127.0.0.1:16000
//! ```
//!
//! With the `echoserver` example on port 16000, `nc 127.0.0.1 8080` talks to it through the
//! forwarder; Ctrl-C (or `kill <pid>`) then waits for `nc` to hang up.

use std::io;
use std::net::{Shutdown, SocketAddr};
use std::rc::Rc;
use std::time::Duration;

use greenwood::net::TcpStream;
use greenwood::server::StreamServer;
use greenwood::signal::{Signals, SIGINT, SIGTERM};

/// How long connecting to the destination may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

fn main() -> io::Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(source), Some(destination), None) = (args.next(), args.next(), args.next()) else {
        eprintln!("usage: portforwarder SOURCE DESTINATION   (for example 127.0.0.1:8080 127.0.0.1:16000)");
        std::process::exit(2);
    };
    let resolved = greenwood::net::ToSocketAddrs::to_socket_addrs(destination.as_str());
    let Some(destination) = resolved.ok().and_then(|addrs| addrs.into_iter().next()) else {
        eprintln!("portforwarder: cannot resolve the destination {destination:?}");
        std::process::exit(2);
    };
    // Catch the signals before serving, so a signal that comes early is not fatal.
    let signals = Rc::new(Signals::new(&[SIGINT, SIGTERM])?);
    let server = Rc::new(StreamServer::bind(source.as_str(), move |client, peer| {
        forward(client, peer, destination)
    })?);
    server.start()?;
    eprintln!(
        "forwarding {} -> {destination} (pid {}; Ctrl-C or SIGTERM stops it)",
        server.local_addr()?,
        std::process::id()
    );

    signals.wait()?;
    eprintln!(
        "stopping: no new connections; waiting for {} open connection(s) to finish (signal again to close them now)",
        server.handlers()
    );
    let (s, srv) = (signals.clone(), server.clone());
    let _abort = greenwood::spawn(move || {
        if s.wait().is_ok() {
            eprintln!("closing the open connections now");
            srv.stop(Some(Duration::ZERO));
        }
    });
    server.stop(None);
    eprintln!("stopped");
    Ok(())
}

/// Forwards one connection until both directions are done.
fn forward(client: TcpStream, peer: SocketAddr, destination: SocketAddr) {
    let upstream = match TcpStream::connect_timeout(&destination, CONNECT_TIMEOUT) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{peer}: cannot connect to {destination}: {e}");
            return;
        }
    };
    eprintln!("{peer} -> {destination}: open");
    let (client, upstream) = (Rc::new(client), Rc::new(upstream));
    // However this greenlet ends (a second signal kills it), the greenlet copying the other
    // way is woken by the close and ends too.
    let _close = CloseOnDrop(client.clone(), upstream.clone());
    let to_upstream = {
        let (c, u) = (client.clone(), upstream.clone());
        greenwood::spawn(move || pipe(&c, &u))
    };
    let from_upstream = pipe(&upstream, &client);
    let to_upstream = to_upstream.take().unwrap_or(0);
    eprintln!(
        "{peer} -> {destination}: closed ({to_upstream} bytes sent, {from_upstream} received)"
    );
}

/// Copies `from` to `to` until end of file, then half-closes `to` so its peer sees the end
/// too. On an error (a reset), closes both sockets, which wakes the greenlet copying the
/// other way with an error, so neither is left waiting.
fn pipe(from: &TcpStream, to: &TcpStream) -> u64 {
    let mut copied = 0;
    let mut buf = [0u8; 16 * 1024];
    loop {
        let n = match io::Read::read(&mut &*from, &mut buf) {
            Ok(0) => {
                let _ = to.shutdown(Shutdown::Write);
                return copied;
            }
            Ok(n) => n,
            Err(_) => break,
        };
        if io::Write::write_all(&mut &*to, &buf[..n]).is_err() {
            break;
        }
        copied += n as u64;
    }
    from.close();
    to.close();
    copied
}

struct CloseOnDrop(Rc<TcpStream>, Rc<TcpStream>);

impl Drop for CloseOnDrop {
    fn drop(&mut self) {
        self.0.close();
        self.1.close();
    }
}
