//! `greenwood::signal`: waiting for signals, merging, several waiters, timeouts and kill,
//! misuse, handlers, and the default action coming back after the last `Signals` is dropped.
//!
//! Signals are process-wide, so the tests here take turns (one lock), and every test raises
//! a signal only while a `Signals` for it is alive (else its default action would end the
//! test binary).

mod util;

use std::io::{self, Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use greenwood::net::TcpStream;
use greenwood::server::StreamServer;
use greenwood::signal::{signal_handler, Signals, SIGHUP, SIGTERM, SIGUSR1, SIGUSR2};
use greenwood::{spawn, ErrorKind};
use signal_hook::low_level::raise;

fn one_at_a_time() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(PoisonError::into_inner)
}

#[test]
fn a_parked_waiter_wakes_with_the_signal_while_other_greenlets_run() {
    let _turn = one_at_a_time();
    let signals = Signals::new(&[SIGUSR1, SIGUSR2]).unwrap();
    let waiter = spawn(move || signals.wait());
    let ticks = util::counter();
    let t = ticks.clone();
    let ticker = spawn(move || {
        for _ in 0..3 {
            greenwood::sleep(Duration::from_millis(1));
            t.set(t.get() + 1);
        }
        raise(SIGUSR2).unwrap();
    });
    assert_eq!(waiter.take().unwrap().unwrap(), SIGUSR2);
    assert_eq!(ticks.get(), 3, "the ticker ran while the waiter was parked");
    ticker.take().unwrap();
}

#[test]
fn deliveries_before_a_wait_are_merged_per_signal_and_every_signals_sees_them() {
    let _turn = one_at_a_time();
    let a = Signals::new(&[SIGUSR1, SIGUSR2]).unwrap();
    let b = Signals::new(&[SIGUSR1]).unwrap();
    raise(SIGUSR1).unwrap();
    raise(SIGUSR1).unwrap();
    raise(SIGUSR2).unwrap();
    let mut got = vec![a.wait().unwrap(), a.wait().unwrap()];
    got.sort();
    assert_eq!(got, vec![SIGUSR1, SIGUSR2], "two SIGUSR1s merged into one");
    assert_eq!(
        a.wait_timeout(Duration::from_millis(5)).unwrap_err().kind(),
        std::io::ErrorKind::TimedOut
    );
    assert_eq!(b.wait().unwrap(), SIGUSR1, "the second Signals saw it too");
    assert_eq!(b.pending(), None);
}

#[test]
fn with_timeout_and_kill_interrupt_a_parked_wait_and_the_next_delivery_is_not_lost() {
    let _turn = one_at_a_time();
    let signals = std::rc::Rc::new(Signals::new(&[SIGUSR1]).unwrap());
    let r = greenwood::with_timeout(Duration::from_millis(5), || signals.wait());
    assert!(r.is_err(), "timed out");
    let s = signals.clone();
    let waiter = spawn(move || s.wait());
    greenwood::sleep(Duration::ZERO);
    waiter.kill();
    assert_eq!(waiter.error().unwrap().kind(), ErrorKind::Killed);
    raise(SIGUSR1).unwrap();
    assert_eq!(signals.wait().unwrap(), SIGUSR1);
}

#[test]
fn signals_that_cannot_be_caught_or_must_keep_their_default_are_refused() {
    for s in [libc::SIGKILL, libc::SIGSTOP, libc::SIGSEGV, libc::SIGILL] {
        let err = Signals::new(&[s]).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert!(err.to_string().contains("cannot be waited for"), "{err}");
    }
    let empty = Signals::new(&[]).unwrap_err();
    assert_eq!(empty.kind(), io::ErrorKind::InvalidInput);
}

#[test]
fn a_handler_runs_in_a_greenlet_for_each_delivery_until_cancelled() {
    let _turn = one_at_a_time();
    let log = util::Log::new();
    let l = log.clone();
    let handler = signal_handler(SIGHUP, move || {
        greenwood::sleep(Duration::from_millis(1)); // handlers may block
        l.push(greenwood::getcurrent().name().map(str::to_owned));
    })
    .unwrap();
    greenwood::sleep(Duration::ZERO);
    for round in 1..=2 {
        raise(SIGHUP).unwrap();
        while log.get().len() < round {
            greenwood::sleep(Duration::from_millis(1));
        }
    }
    assert_eq!(
        log.get(),
        vec![Some("signal handler for SIGHUP".to_owned()); 2]
    );
    handler.cancel();
    // A Signals keeps SIGHUP caught while this test checks the handler is gone.
    let keep = Signals::new(&[SIGHUP]).unwrap();
    raise(SIGHUP).unwrap();
    assert_eq!(keep.wait().unwrap(), SIGHUP);
    greenwood::sleep(Duration::from_millis(2));
    assert_eq!(log.get().len(), 2, "a cancelled handler does not run");
}

#[test]
fn the_default_action_applies_again_once_the_last_signals_is_dropped() {
    if let Some(case) = util::child_case() {
        let first = Signals::new(&[SIGTERM]).unwrap();
        let second = Signals::new(&[SIGTERM]).unwrap();
        raise(SIGTERM).unwrap();
        assert_eq!(first.wait().unwrap(), SIGTERM, "caught, not fatal");
        drop(first);
        raise(SIGTERM).unwrap();
        assert_eq!(second.wait().unwrap(), SIGTERM, "still caught by the other");
        if case == "drop-all" {
            drop(second);
            raise(SIGTERM).unwrap(); // ends the process
            eprintln!("still alive after SIGTERM");
        }
        return;
    }
    let out = util::run_child(
        "the_default_action_applies_again_once_the_last_signals_is_dropped",
        "keep-one",
    );
    assert!(out.status.success(), "{}", util::stderr(&out));
    let out = util::run_child(
        "the_default_action_applies_again_once_the_last_signals_is_dropped",
        "drop-all",
    );
    assert_eq!(out.status.signal(), Some(SIGTERM), "{}", util::stderr(&out));
    assert!(!util::stderr(&out).contains("still alive"));
}

#[test]
fn a_server_stopped_on_sigterm_lets_its_open_connection_finish() {
    // The portforwarder example's shutdown: wait for the signal, stop accepting, wait for
    // the handlers.
    let _turn = one_at_a_time();
    let signals = Signals::new(&[SIGTERM]).unwrap();
    let log = util::Log::new();
    let l = log.clone();
    let server = StreamServer::bind("127.0.0.1:0", move |mut conn, _| {
        let mut got = Vec::new();
        conn.read_to_end(&mut got).unwrap(); // until the client is done
        conn.write_all(&got).unwrap();
        l.push("handler done");
    })
    .unwrap();
    server.start().unwrap();
    let addr = server.local_addr().unwrap();
    let client = spawn(move || -> io::Result<Vec<u8>> {
        let mut c = TcpStream::connect(addr)?;
        c.write_all(b"last words")?;
        raise(SIGTERM)?; // as `kill <pid>` would, while the connection is open
        greenwood::sleep(Duration::from_millis(5));
        c.shutdown(std::net::Shutdown::Write)?;
        let mut echo = Vec::new();
        c.read_to_end(&mut echo)?;
        Ok(echo)
    });
    assert_eq!(signals.wait().unwrap(), SIGTERM);
    server.stop(None);
    assert_eq!(
        log.get(),
        vec!["handler done"],
        "stop waited for the handler"
    );
    assert_eq!(client.take().unwrap().unwrap(), b"last words");
    assert!(
        TcpStream::connect_timeout(&addr, Duration::from_millis(50)).map_or(true, |mut c| {
            // The listener stays open after stop, but nobody accepts or answers any more.
            c.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
            c.read(&mut [0; 1]).is_err()
        })
    );
}
