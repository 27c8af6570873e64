//! Waiting on many: `joinall`, `JoinAll`, `killall`, `wait`, `wait_count`, `iwait`.

mod util;

use std::time::Duration;

use greenwood::{spawn, JoinAll, Waitable};
use util::{capture_failures, counter, CallOnDrop};

fn sleeper(ms: u64) -> greenwood::Greenlet<u64> {
    spawn(move || {
        greenwood::sleep(Duration::from_millis(ms));
        ms
    })
}

#[test]
fn iwait_yields_in_the_order_objects_become_ready() {
    let gs = [sleeper(30), sleeper(10), sleeper(20)];
    let order: Vec<usize> = greenwood::iwait(&gs).collect();
    assert_eq!(order, [1, 2, 0]);
}

#[test]
fn iwait_yields_objects_ready_from_the_start_first() {
    let done = spawn(|| 0u64);
    done.join();
    let gs = [sleeper(5), done];
    assert_eq!(greenwood::iwait(&gs).collect::<Vec<_>>(), [1, 0]);
}

#[test]
fn iwait_with_a_timeout_stops_early_and_leaves_nothing_behind() {
    let gs = [sleeper(1), sleeper(3_600_000)];
    let got: Vec<usize> = greenwood::iwait(&gs)
        .timeout(Duration::from_millis(20))
        .collect();
    assert_eq!(got, [0]);
    assert!(!gs[1].ready());
    gs[1].kill();
    assert_eq!(greenwood::hub::get_hub().pending_timers(), 0);
}

#[test]
fn dropping_an_iwait_midway_is_harmless() {
    let gs = [sleeper(1), sleeper(5), sleeper(10)];
    let first = greenwood::iwait(&gs).next();
    assert_eq!(first, Some(0));
    greenwood::joinall(&gs);
    assert!(gs.iter().all(|g| g.is_ready()));
}

#[test]
fn wait_count_returns_the_first_n() {
    let gs = [sleeper(3_600_000), sleeper(1), sleeper(20)];
    assert_eq!(greenwood::wait_count(&gs, 2, None), [1, 2]);
    assert_eq!(
        greenwood::wait_count(&gs, 3, Some(Duration::from_millis(1))).len(),
        2
    );
    gs[0].kill();
    greenwood::wait(&gs);
    assert!(gs[0].ready());
}

#[test]
fn wait_mixes_types_through_dyn_waitable() {
    let a = spawn(|| 1u8);
    let b = spawn(|| "b");
    let objects: [&dyn Waitable; 2] = [&a, &b];
    greenwood::wait(&objects);
    assert!(a.ready() && b.ready());
}

#[test]
fn joinall_options_count_timeout_and_stop_on_error() {
    let _f = capture_failures();
    let gs = [sleeper(30), sleeper(1), sleeper(10)];
    assert_eq!(JoinAll::new(&gs).count(2).run().unwrap(), [1, 2]);
    let gs2 = [sleeper(1), sleeper(3_600_000)];
    assert_eq!(
        JoinAll::new(&gs2)
            .timeout(Duration::from_millis(10))
            .run()
            .unwrap(),
        [0]
    );
    greenwood::killall(&gs2);

    let bad = [
        spawn(|| {
            greenwood::sleep(Duration::from_millis(3_600_000));
            0
        }),
        spawn(|| -> u64 { panic!("bad row") }),
    ];
    let err = JoinAll::new(&bad).stop_on_error().run().unwrap_err();
    assert_eq!(err.message(), "bad row");
    assert!(!bad[0].ready(), "returned at the first error");
    // Without stop_on_error a failure is just one more finished greenlet.
    bad[0].kill_nowait();
    let done = JoinAll::new(&bad).run().unwrap();
    assert_eq!(done.len(), 2);
}

#[test]
fn killall_kills_everything_and_runs_destructors() {
    let dropped = counter();
    let gs: Vec<_> = (0..50)
        .map(|_| {
            let d = dropped.clone();
            spawn(move || {
                let _g = CallOnDrop(d);
                greenwood::sleep(Duration::from_secs(3600));
            })
        })
        .collect();
    greenwood::sleep(Duration::ZERO);
    greenwood::killall(&gs);
    assert_eq!(dropped.get(), 50);
    assert!(gs.iter().all(|g| g.dead()));
    assert!(greenwood::killall_timeout(&gs, Duration::from_millis(1)).is_ok());
}

#[test]
fn a_timeout_too_large_for_an_instant_means_no_timeout() {
    let gs = [sleeper(1)];
    let got: Vec<usize> = greenwood::iwait(&gs).timeout(Duration::MAX).collect();
    assert_eq!(got, [0]);
    assert!(greenwood::with_timeout(Duration::MAX, || 1).is_ok());
    assert!(sleeper(60_000)
        .join_timeout(Duration::from_millis(1))
        .is_err());
}

/// The index of the first of `objects` to become ready.
fn first(objects: &[&dyn greenwood::Waitable]) -> usize {
    greenwood::wait_count(objects, 1, Some(Duration::from_secs(10)))[0]
}

#[test]
fn one_greenlet_waits_for_whichever_comes_first_a_queue_item_a_socket_a_signal_or_a_job() {
    // Regression: Waitable was sealed to greenlets and events, so "an item, a readable
    // socket or a signal, whichever first" could not be written.
    use greenwood::event::Event;
    use greenwood::net::{TcpListener, TcpStream};
    use greenwood::queue::Queue;
    use greenwood::signal::{Signals, SIGUSR2};
    use std::io::{Read, Write};

    let queue: Queue<&str> = Queue::new();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let mut client = TcpStream::connect(addr).unwrap();
    let (server_side, _) = listener.accept().unwrap();
    let signals = Signals::new(&[SIGUSR2]).unwrap();
    let stop = Event::new();
    let nothing_ready =
        |objects: &[&dyn greenwood::Waitable]| objects.iter().all(|o| !o.is_ready());

    // A queue item.
    let q = queue.clone();
    greenwood::spawn_later(Duration::from_millis(2), move || q.put("job").unwrap());
    let objects: [&dyn greenwood::Waitable; 4] = [&queue, &server_side, &signals, &stop];
    assert!(nothing_ready(&objects));
    assert_eq!(first(&objects), 0);
    assert_eq!(queue.get_nowait(), Ok("job"));

    // Data on the socket; once read dry, it is not ready any more.
    let _writer = greenwood::spawn_later(Duration::from_millis(2), move || {
        client.write_all(b"hi").unwrap();
        client // kept open: dropping it would make the socket readable (end of file)
    });
    assert_eq!(first(&objects), 1);
    let mut buf = [0u8; 2];
    (&server_side).read_exact(&mut buf).unwrap();
    assert!(nothing_ready(&objects));

    // A signal.
    greenwood::spawn_later(Duration::from_millis(2), || {
        signal_hook::low_level::raise(SIGUSR2).unwrap()
    });
    assert_eq!(first(&objects), 2);
    assert_eq!(signals.pending(), Some(SIGUSR2));

    // A thread-pool job, beside the others.
    let job = greenwood::spawn_blocking(|| std::thread::sleep(Duration::from_millis(5)));
    let with_job: [&dyn greenwood::Waitable; 5] = [&queue, &server_side, &signals, &stop, &job];
    assert_eq!(first(&with_job), 4);
    job.join().unwrap();
}

#[test]
fn an_item_another_greenlet_takes_first_is_not_reported_ready() {
    use greenwood::queue::Queue;
    let queue: Queue<u32> = Queue::new();
    let (q, q2) = (queue.clone(), queue.clone());
    // A getter already parked gets the first item handed to it directly.
    let getter = spawn(move || q.get());
    greenwood::sleep(Duration::ZERO);
    greenwood::spawn_later(Duration::from_millis(2), move || {
        q2.put(1).unwrap();
        greenwood::sleep(Duration::from_millis(5));
        q2.put(2).unwrap();
    });
    let seen = greenwood::wait_count(&[&queue], 1, Some(Duration::from_secs(10)));
    assert_eq!(seen, [0]);
    assert_eq!(getter.take().unwrap(), Some(1));
    assert_eq!(
        queue.get_nowait(),
        Ok(2),
        "the watcher saw the second item, not the first"
    );
}
