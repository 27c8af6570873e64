//! The photos and their HTTP: what the server sends for a user, and how a downloader checks
//! every byte of it. The body of user `u` repeats a 256-byte block derived from `u`, so the
//! server sends it from a small buffer and a downloader checks it as it arrives, without
//! holding either whole.

use std::fmt::Write as _;

/// The length of the block a photo repeats.
pub const BLOCK: usize = 256;

/// The block user `user`'s photo repeats: bytes of a xorshift sequence seeded by the id, so
/// that two users' photos differ everywhere.
pub fn block(user: u32) -> [u8; BLOCK] {
    let mut x = u64::from(user).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut b = [0u8; BLOCK];
    for byte in &mut b {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *byte = (x >> 32) as u8;
    }
    b
}

/// The loopback addresses the server listens on (127.0.0.1 and up), all on one port. Linux's
/// `connect` picks a source port from one half of `ip_local_port_range` first (14,116 ports
/// by default) and searches it for one free towards the destination: with more users than
/// that at once on one address, every `connect` searched for long (the CPU time of 19,000
/// users was four times that of 10,000). Spread over four addresses, it grows in proportion.
pub const SPREAD: u32 = 4;

/// The server address user `user` downloads from, for a server on `port`.
pub fn address(port: u16, user: u32) -> std::net::SocketAddr {
    let last = 1 + (user % SPREAD) as u8;
    std::net::SocketAddr::from(([127, 0, 0, last], port))
}

/// The request line and head a downloader sends for `user`'s photo.
pub fn request(user: u32) -> String {
    format!("GET /photo/{user} HTTP/1.1\r\nHost: photos\r\nConnection: close\r\n\r\n")
}

/// The head of the server's answer: `size` bytes of body, then the connection closes.
pub fn response_head(size: usize) -> String {
    let mut head = String::with_capacity(96);
    let _ = write!(
        head,
        "HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\nContent-Length: {size}\r\nConnection: close\r\n\r\n"
    );
    head
}

/// Checks a response as it arrives, in pieces of any size: the head (status 200, the length
/// asked for), then every byte of the body against the user's block.
pub struct Check {
    user: u32,
    size: usize,
    block: [u8; BLOCK],
    /// The head, until it is complete.
    head: Vec<u8>,
    /// Body bytes checked so far, once the head is complete.
    body: Option<usize>,
}

/// How big a head may get before the response is called malformed.
const MAX_HEAD: usize = 8 * 1024;

impl Check {
    pub fn new(user: u32, size: usize) -> Check {
        Check {
            user,
            size,
            block: block(user),
            head: Vec::new(),
            body: None,
        }
    }

    /// Takes the next bytes of the response.
    ///
    /// # Errors
    ///
    /// What is wrong with the response: its status, its length, a byte that differs.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<(), String> {
        if self.body.is_none() {
            self.head.extend_from_slice(bytes);
            let mut headers = [httparse::EMPTY_HEADER; 16];
            let mut r = httparse::Response::new(&mut headers);
            let len = match r.parse(&self.head) {
                Ok(httparse::Status::Complete(len)) => len,
                Ok(httparse::Status::Partial) if self.head.len() < MAX_HEAD => return Ok(()),
                Ok(httparse::Status::Partial) => return Err("a response head over 8 KiB".into()),
                Err(e) => return Err(format!("a malformed response: {e}")),
            };
            if r.code != Some(200) {
                return Err(format!("status {:?} for user {}", r.code, self.user));
            }
            let declared = r
                .headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case("content-length"))
                .and_then(|h| {
                    std::str::from_utf8(h.value)
                        .ok()?
                        .trim()
                        .parse::<usize>()
                        .ok()
                });
            if declared != Some(self.size) {
                return Err(format!(
                    "Content-Length {declared:?} for user {}, {} asked for",
                    self.user, self.size
                ));
            }
            let rest = self.head.split_off(len);
            self.body = Some(0);
            return self.feed_body(&rest);
        }
        self.feed_body(bytes)
    }

    fn feed_body(&mut self, bytes: &[u8]) -> Result<(), String> {
        let at = self.body.unwrap_or(0);
        if at + bytes.len() > self.size {
            return Err(format!(
                "more than the {} bytes of user {}'s photo",
                self.size, self.user
            ));
        }
        let mut i = 0;
        while i < bytes.len() {
            let off = (at + i) % BLOCK;
            let n = (BLOCK - off).min(bytes.len() - i);
            if bytes[i..i + n] != self.block[off..off + n] {
                let bad = (0..n)
                    .find(|&k| bytes[i + k] != self.block[off + k])
                    .unwrap_or(0);
                return Err(format!(
                    "byte {} of user {}'s photo differs",
                    at + i + bad,
                    self.user
                ));
            }
            i += n;
        }
        self.body = Some(at + bytes.len());
        Ok(())
    }

    /// The end of the response (the server closed the connection).
    ///
    /// # Errors
    ///
    /// The response ended early.
    pub fn finish(&self) -> Result<(), String> {
        match self.body {
            Some(n) if n == self.size => Ok(()),
            Some(n) => Err(format!(
                "user {}'s photo ended after {n} of {} bytes",
                self.user, self.size
            )),
            None => Err(format!(
                "the response for user {} ended inside its head",
                self.user
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn photo(user: u32, size: usize) -> Vec<u8> {
        let b = block(user);
        let mut r = response_head(size).into_bytes();
        r.extend((0..size).map(|i| b[i % BLOCK]));
        r
    }

    #[test]
    fn a_photo_checks_in_pieces_of_any_size() {
        let r = photo(7, 1000);
        for piece in [1, 3, 255, 256, 257, 4096] {
            let mut c = Check::new(7, 1000);
            for p in r.chunks(piece) {
                c.feed(p).unwrap();
            }
            c.finish().unwrap();
        }
    }

    #[test]
    fn a_wrong_byte_a_short_body_and_another_user_are_caught() {
        let mut r = photo(7, 1000);
        let last = r.len() - 1;
        r[last] ^= 1;
        let mut c = Check::new(7, 1000);
        assert!(c.feed(&r).unwrap_err().contains("byte 999"));
        let r = photo(7, 1000);
        let mut c = Check::new(7, 1000);
        c.feed(&r[..r.len() - 10]).unwrap();
        assert!(c.finish().unwrap_err().contains("990 of 1000"));
        let mut c = Check::new(8, 1000);
        assert!(c.feed(&photo(7, 1000)).is_err());
        let mut c = Check::new(7, 999);
        assert!(c
            .feed(&photo(7, 1000))
            .unwrap_err()
            .contains("Content-Length"));
    }
}
