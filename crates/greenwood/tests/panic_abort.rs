//! Under `panic = "abort"`, kill and timeout cannot unwind: they must say so, not abort
//! silently (regression: rc 134 and not a word). Builds a small program with that profile
//! (`tests/fixtures/panic_abort`) in its own target directory and runs it.

use std::path::PathBuf;
use std::process::Command;

fn fixture() -> PathBuf {
    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/panic_abort");
    // target/debug/deps/panic_abort-HASH -> target/
    let exe = std::env::current_exe().expect("current test binary");
    let target = exe.ancestors().nth(3).expect("the target directory");
    let dir = target.join("panic-abort");
    let out = Command::new(env!("CARGO"))
        .args(["build", "--offline", "--quiet", "--manifest-path"])
        .arg(format!("{manifest}/Cargo.toml"))
        .arg("--target-dir")
        .arg(&dir)
        .output()
        .expect("run cargo");
    assert!(
        out.status.success(),
        "building the panic = \"abort\" program failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    dir.join("debug/greenwood-panic-abort-check")
}

#[test]
fn kill_and_timeout_under_panic_abort_say_why_they_abort() {
    use std::os::unix::process::ExitStatusExt;
    let exe = fixture();
    for (case, expect) in [
        ("kill", "greenlet 'sleeper' was killed"),
        ("timeout", "the main greenlet was interrupted by a Timeout"),
    ] {
        let out = Command::new(&exe).arg(case).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.signal(), Some(libc::SIGABRT), "{case}: {err}");
        assert!(err.contains(expect), "{case}: {err}");
        assert!(err.contains("panic = \"abort\""), "{case}: {err}");
        assert!(err.contains("panic = \"unwind\""), "{case}: {err}");
    }
    // A program that ends with a greenlet still parked needs no unwinding: a clean exit.
    let out = Command::new(&exe).arg("exit").output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
