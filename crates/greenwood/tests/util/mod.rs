//! Shared test helpers.
#![allow(dead_code)]

use std::cell::{Cell, RefCell};
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

/// A shared log that greenlets append to, for checking the order things ran in.
#[derive(Clone, Default)]
pub struct Log<T>(Rc<RefCell<Vec<T>>>);

impl<T: Clone> Log<T> {
    pub fn new() -> Log<T> {
        Log(Rc::new(RefCell::new(Vec::new())))
    }

    pub fn push(&self, v: T) {
        self.0.borrow_mut().push(v);
    }

    pub fn get(&self) -> Vec<T> {
        self.0.borrow().clone()
    }
}

/// Collects failure reports instead of printing them, for the current thread.
pub fn capture_failures() -> Log<greenwood::GreenletError> {
    let log = Log::new();
    let l = log.clone();
    greenwood::set_failure_handler(Some(Box::new(move |e| l.push(e.clone()))));
    log
}

/// The name of the environment variable that tells a re-executed test binary which case to
/// run.
pub const CHILD_ENV: &str = "GREENWOOD_TEST_CHILD";

/// Runs the test named `test` of this same test binary in a child process, with
/// `GREENWOOD_TEST_CHILD=case`, and returns its output. The test calls [`child_case`] first
/// and does the work whose output is checked when it returns `Some`.
pub fn run_child(test: &str, case: &str) -> Output {
    run_child_with(test, case, &[])
}

/// As [`run_child`], with extra environment variables (an empty value removes one).
pub fn run_child_with(test: &str, case: &str, env: &[(&str, &str)]) -> Output {
    let exe = std::env::current_exe().expect("current test binary");
    let mut cmd = Command::new(exe);
    cmd.args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, case)
        .env_remove("RUST_BACKTRACE");
    for (k, v) in env {
        if v.is_empty() {
            cmd.env_remove(k);
        } else {
            cmd.env(k, v);
        }
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

/// The message of a caught panic.
pub fn panic_text(p: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        String::from("(not a string)")
    }
}

/// Raises the soft fd limit as far as the hard limit allows; the number of fds available.
pub fn raise_fd_limit(want: u64) -> u64 {
    let mut rl = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with a valid pointer.
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl);
        if rl.rlim_cur < want {
            rl.rlim_cur = want.min(rl.rlim_max);
            libc::setrlimit(libc::RLIMIT_NOFILE, &rl);
            libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl);
        }
    }
    rl.rlim_cur
}

/// The function `name` of the library `lib` (from `dlopen`), as the function pointer type `T`.
///
/// # Safety
///
/// `T` is the C signature of that function, as a function pointer type.
pub unsafe fn dl_function<T: Copy>(lib: *mut libc::c_void, name: &std::ffi::CStr) -> T {
    assert_eq!(
        std::mem::size_of::<T>(),
        std::mem::size_of::<*mut libc::c_void>()
    );
    // SAFETY: a handle from dlopen and a NUL-terminated name.
    let p = unsafe { libc::dlsym(lib, name.as_ptr()) };
    assert!(!p.is_null(), "the library has no {name:?}");
    // SAFETY: the caller's promise that `T` is the function's pointer type; the sizes match.
    unsafe { std::mem::transmute_copy::<*mut libc::c_void, T>(&p) }
}
