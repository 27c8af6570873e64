//! `wait_read` and `wait_write` on raw file descriptors.

mod util;

use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::time::Duration;

use util::counter;

#[test]
fn wait_read_parks_only_the_caller_until_data_arrives() {
    let (a, mut b) = UnixStream::pair().unwrap();
    let ticks = counter();
    let t = ticks.clone();
    let _ticker = greenwood::spawn(move || loop {
        greenwood::sleep(Duration::from_millis(1));
        t.set(t.get() + 1);
    });
    let _writer = greenwood::spawn(move || {
        greenwood::sleep(Duration::from_millis(20));
        b.write_all(b"ping").unwrap();
    });
    greenwood::wait_read(a.as_raw_fd(), Some(Duration::from_secs(10))).unwrap();
    assert!(ticks.get() > 0, "other greenlets ran while we waited");
}

#[test]
fn wait_read_times_out_with_an_error_naming_the_fd() {
    let (a, _b) = UnixStream::pair().unwrap();
    let fd = a.as_raw_fd();
    let err = greenwood::wait_read(fd, Some(Duration::from_millis(5))).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
    assert_eq!(
        err.to_string(),
        format!("timed out waiting for fd {fd} to become readable")
    );
    assert_eq!(greenwood::hub::get_hub().pending_timers(), 0);
}

#[test]
fn wait_write_returns_at_once_when_there_is_room() {
    let (a, _b) = UnixStream::pair().unwrap();
    greenwood::wait_write(a.as_raw_fd(), Some(Duration::from_secs(10))).unwrap();
}

#[test]
fn a_regular_file_cannot_be_waited_on_and_the_error_says_what_to_do() {
    let f = std::fs::File::open("/proc/self/stat").unwrap();
    let err = greenwood::wait_read(f.as_raw_fd(), None).unwrap_err();
    assert!(err.to_string().contains("thread pool"), "{err}");
}

#[test]
fn wait_read_honours_with_timeout_and_kill() {
    let (a, _b) = UnixStream::pair().unwrap();
    let fd = a.as_raw_fd();
    let r = greenwood::with_timeout(Duration::from_millis(5), || greenwood::wait_read(fd, None));
    assert!(r.is_err());
    let g = greenwood::spawn(move || greenwood::wait_read(fd, None));
    greenwood::sleep(Duration::ZERO);
    g.kill();
    assert_eq!(g.error().unwrap().kind(), greenwood::ErrorKind::Killed);
    drop(a);
}

#[test]
fn a_greenlet_parked_on_io_is_not_a_deadlock() {
    // The main greenlet joins a greenlet waiting on a socket: not LoopExit, since data can
    // still arrive; here it does, from another thread.
    let (a, b) = UnixStream::pair().unwrap();
    let fd = a.as_raw_fd();
    let g = greenwood::spawn(move || greenwood::wait_read(fd, None));
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(20));
        (&b).write_all(b"x").unwrap();
        b
    });
    g.take().unwrap().unwrap();
    drop(t.join().unwrap());
    drop(a);
}

#[test]
fn wait_readwrite_returns_for_either_direction() {
    let (a, _b) = UnixStream::pair().unwrap();
    greenwood::wait_readwrite(a.as_raw_fd(), Some(Duration::from_secs(10))).unwrap();
}
