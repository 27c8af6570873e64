//! Shared test helpers.
#![allow(dead_code)]

use std::cell::Cell;
use std::process::{Command, Output};
use std::rc::Rc;

/// Counts its drops into a shared counter.
pub struct CallOnDrop(pub Rc<Cell<u32>>);

impl Drop for CallOnDrop {
    fn drop(&mut self) {
        self.0.set(self.0.get() + 1);
    }
}

pub fn counter() -> Rc<Cell<u32>> {
    Rc::new(Cell::new(0))
}

/// The name of the environment variable that tells a re-executed test binary which crash case
/// to run.
pub const CHILD_ENV: &str = "GREENLET_TEST_CHILD";

/// Runs the test named `test` of this same test binary in a child process, with
/// `GREENLET_TEST_CHILD=case` and the extra environment `env`, and returns its output. The test
/// must call [`child_case`] first and do the crashing work when it returns `Some`.
pub fn run_child(test: &str, case: &str, env: &[(&str, &str)]) -> Output {
    let exe = std::env::current_exe().expect("current test binary");
    let mut cmd = Command::new(exe);
    cmd.args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, case);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("spawn the test binary as a child")
}

/// `Some(case)` when running as a child started by [`run_child`].
pub fn child_case() -> Option<String> {
    std::env::var(CHILD_ENV).ok()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The signal that killed the process, if one did.
pub fn signal(out: &Output) -> Option<i32> {
    use std::os::unix::process::ExitStatusExt;
    out.status.signal()
}
