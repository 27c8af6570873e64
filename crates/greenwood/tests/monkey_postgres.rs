//! A C database driver, unmodified: libpq (PostgreSQL's client library, loaded with `dlopen`
//! as a program's driver would load it) talking to a real PostgreSQL server that the test
//! starts on 127.0.0.1, from 200 greenlets at once, made cooperative by `patch_all`.
//!
//! The test needs PostgreSQL's server programs (`initdb`, `pg_ctl`) and `libpq.so.5`;
//! `.ci/run` installs them when they are missing. Where they cannot be had, the test says so
//! and what it skipped, and passes without having run.

mod util;

use std::cell::Cell;
use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::rc::Rc;
use std::time::Instant;

/// The libpq functions the test calls, found with `dlsym`.
struct Libpq {
    connectdb: unsafe extern "C" fn(*const c_char) -> *mut c_void,
    status: unsafe extern "C" fn(*const c_void) -> c_int,
    error_message: unsafe extern "C" fn(*const c_void) -> *const c_char,
    exec: unsafe extern "C" fn(*mut c_void, *const c_char) -> *mut c_void,
    result_status: unsafe extern "C" fn(*const c_void) -> c_int,
    clear: unsafe extern "C" fn(*mut c_void),
    finish: unsafe extern "C" fn(*mut c_void),
}

const CONNECTION_OK: c_int = 0;
const PGRES_TUPLES_OK: c_int = 2;

impl Libpq {
    fn load() -> Result<Libpq, String> {
        // SAFETY: dlopen and dlsym with NUL-terminated names; each symbol is the libpq
        // function of that name, whose C signature the field's type is (libpq-fe.h).
        unsafe {
            let lib = libc::dlopen(c"libpq.so.5".as_ptr(), libc::RTLD_NOW);
            if lib.is_null() {
                return Err("libpq.so.5 cannot be loaded (install libpq5)".into());
            }
            Ok(Libpq {
                connectdb: util::dl_function(lib, c"PQconnectdb"),
                status: util::dl_function(lib, c"PQstatus"),
                error_message: util::dl_function(lib, c"PQerrorMessage"),
                exec: util::dl_function(lib, c"PQexec"),
                result_status: util::dl_function(lib, c"PQresultStatus"),
                clear: util::dl_function(lib, c"PQclear"),
                finish: util::dl_function(lib, c"PQfinish"),
            })
        }
    }

    /// Connects, runs `sql`, and disconnects; the error message if any step failed.
    fn query(&self, conninfo: &CStr, sql: &CStr) -> Result<(), String> {
        // SAFETY: libpq's documented use: a connection from PQconnectdb (freed by PQfinish
        // whatever its status), a result from PQexec (freed by PQclear).
        unsafe {
            let conn = (self.connectdb)(conninfo.as_ptr());
            let outcome = if (self.status)(conn) != CONNECTION_OK {
                Err(CStr::from_ptr((self.error_message)(conn))
                    .to_string_lossy()
                    .into_owned())
            } else {
                let res = (self.exec)(conn, sql.as_ptr());
                let ok = (self.result_status)(res) == PGRES_TUPLES_OK;
                (self.clear)(res);
                if ok {
                    Ok(())
                } else {
                    Err(CStr::from_ptr((self.error_message)(conn))
                        .to_string_lossy()
                        .into_owned())
                }
            };
            (self.finish)(conn);
            outcome
        }
    }
}

/// A PostgreSQL server of the test's own, in a fresh data directory, stopped when dropped.
struct Server {
    dir: PathBuf,
    pg_ctl: PathBuf,
    port: u16,
}

/// The directory of PostgreSQL's server programs, if they are installed.
fn server_bin() -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|b| b.join("initdb").exists() && b.join("pg_ctl").exists())
        .collect();
    dirs.sort();
    dirs.pop()
}

/// Runs a server program, as the `postgres` user when this is root (PostgreSQL refuses to run
/// as root).
fn as_server_user(program: &Path) -> Command {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

impl Server {
    fn start() -> Result<Server, String> {
        let bin = server_bin().ok_or("PostgreSQL's server programs are not installed")?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| e.to_string())?
            .port();
        let dir = std::env::temp_dir().join(format!("greenwood-pg-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } == 0 {
            let ok = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&dir)
                .status()
                .is_ok_and(|s| s.success());
            if !ok {
                return Err("cannot give the data directory to the postgres user".into());
            }
        }
        let data = dir.join("data");
        let out = as_server_user(&bin.join("initdb"))
            .args(["-A", "trust", "-U", "postgres", "-D"])
            .arg(&data)
            .output()
            .map_err(|e| format!("initdb: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "initdb failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let options = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c max_connections=250 -c fsync=off",
            dir.display()
        );
        let server = Server {
            dir,
            pg_ctl: bin.join("pg_ctl"),
            port,
        };
        let out = as_server_user(&server.pg_ctl)
            .args(["-w", "-t", "60", "-D"])
            .arg(&data)
            .args(["-o", &options, "-l"])
            .arg(server.dir.join("log"))
            .arg("start")
            .output()
            .map_err(|e| format!("pg_ctl: {e}"))?;
        if !out.status.success() {
            let log = std::fs::read_to_string(server.dir.join("log")).unwrap_or_default();
            return Err(format!("pg_ctl start failed: {log}"));
        }
        Ok(server)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = as_server_user(&self.pg_ctl)
            .args(["-m", "immediate", "-D"])
            .arg(self.dir.join("data"))
            .arg("stop")
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn libpq_queries_from_200_greenlets_wait_side_by_side() {
    let libpq = match Libpq::load() {
        Ok(l) => Rc::new(l),
        Err(why) => {
            println!("skipped: {why}");
            return;
        }
    };
    let server = match Server::start() {
        Ok(s) => s,
        Err(why) => {
            println!("skipped: no PostgreSQL server to test against: {why}");
            return;
        }
    };
    greenwood::monkey::patch_all().expect("patch_all");
    let conninfo = CString::new(format!(
        "host=127.0.0.1 port={} user=postgres dbname=postgres connect_timeout=30",
        server.port
    ))
    .unwrap();
    let now = Rc::new(Cell::new(0usize));
    let max = Rc::new(Cell::new(0usize));
    let start = Instant::now();
    let gs: Vec<_> = (0..200)
        .map(|_| {
            let (libpq, conninfo, now, max) =
                (libpq.clone(), conninfo.clone(), now.clone(), max.clone());
            greenwood::spawn(move || {
                now.set(now.get() + 1);
                max.set(max.get().max(now.get()));
                let r = libpq.query(&conninfo, c"SELECT pg_sleep(0.5)");
                now.set(now.get() - 1);
                r
            })
        })
        .collect();
    greenwood::joinall(&gs);
    let elapsed = start.elapsed();
    for (i, g) in gs.iter().enumerate() {
        if let Err(e) = g.take().unwrap() {
            panic!("query {i}: {e}");
        }
    }
    assert_eq!(
        max.get(),
        200,
        "the 200 queries were in flight at the same time"
    );
    println!("200 queries of pg_sleep(0.5) in {elapsed:?} (one after the other: 100 s)");
}
