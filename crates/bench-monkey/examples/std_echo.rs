//! An echo server written with `std::net` only, a greenlet per connection, made cooperative
//! by `greenwood::monkey::patch_all()`: the same loop as `greenwood-bench`'s `echo_bench`
//! servers (read into a 4 KiB buffer, write it all back), for its load generator to drive.
//!
//! ```text
//! cargo build --release -p greenwood-bench-monkey --example std_echo -p greenwood-bench --example echo_bench
//! target/release/examples/std_echo &                 # prints its port, pinned to CPU 1
//! target/release/examples/echo_bench client PORT 1000 5 $!
//! ```

use std::io::{Read, Write};

fn main() {
    greenwood::monkey::patch_all().expect("patch_all");
    raise_fd_limit();
    pin_to_cpu(1);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    println!("{}", listener.local_addr().expect("addr").port());
    std::io::stdout().flush().ok();
    for conn in listener.incoming() {
        let mut conn = conn.expect("accept");
        greenwood::Builder::new()
            .stack_size(32 * 1024)
            .spawn(move || {
                let mut buf = [0u8; 4096];
                loop {
                    match conn.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => {
                            if conn.write_all(&buf[..n]).is_err() {
                                return;
                            }
                        }
                    }
                }
            })
            .expect("spawn");
    }
}

fn raise_fd_limit() {
    let mut rl = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with a valid pointer.
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl);
        rl.rlim_cur = rl.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &rl);
    }
}

fn pin_to_cpu(cpu: usize) {
    if std::thread::available_parallelism().map_or(1, usize::from) <= cpu {
        return;
    }
    // SAFETY: a zeroed cpu_set_t is a valid empty set; CPU_SET and sched_setaffinity get a
    // pointer to it and its size.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}
