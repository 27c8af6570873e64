//! The sweep: each model at each user count in a process of its own, against a photo server
//! in a process of its own (a new one for each run), measured from outside by reading
//! `/proc`: CPU time (the model's own and its waited-for children's), peak RSS of everything
//! it started; by the model, its wall time; by the server, the peak of downloads in flight. A model that fails at a count is not run at
//! larger ones; a count the machine cannot afford (memory, descriptors) is skipped with the
//! reason, before it starts.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::models::Outcome;
use crate::server;

/// One model at one user count: the JSON record, and a row of the table.
#[derive(Clone, Debug, Serialize)]
pub struct Record {
    pub model: String,
    pub users: u32,
    pub wall_s: f64,
    pub cpu_s: f64,
    pub peak_rss_bytes: u64,
    pub failures: u64,
    pub first_error: Option<String>,
    pub skipped: Option<String>,
    pub peak_in_flight: u64,
}

impl Record {
    fn new(model: &str, users: u32) -> Record {
        Record {
            model: model.to_owned(),
            users,
            wall_s: 0.0,
            cpu_s: 0.0,
            peak_rss_bytes: 0,
            failures: 0,
            first_error: None,
            skipped: None,
            peak_in_flight: 0,
        }
    }

    fn skipped(model: &str, users: u32, why: String) -> Record {
        Record {
            skipped: Some(why),
            ..Record::new(model, users)
        }
    }

    /// Whether the model ran at this count and every download succeeded.
    pub fn ok(&self) -> bool {
        self.skipped.is_none() && self.failures == 0
    }
}

/// What the sweep runs, and the limits it keeps to.
pub struct Plan {
    pub models: Vec<String>,
    pub users: Vec<u32>,
    pub size: usize,
    pub latency: Duration,
    /// The memory a run may plan to use; `None`: what the machine has available
    /// (`MemAvailable`), less a tenth for everything else.
    pub memory_budget: Option<u64>,
    /// A model and a soft `RLIMIT_NOFILE` for its processes (a test's way to make one fail).
    pub fd_limit_for: Option<(String, u64)>,
}

/// Descriptors a process needs besides one per download: std's, the runtime's, slack.
const FD_SLACK: u64 = 64;

/// What [`run`] tells its caller as it goes.
pub enum Progress<'a> {
    /// `done` of `total` runs are over; `what` is the next.
    Step {
        done: u64,
        total: u64,
        what: &'a str,
    },
    /// Something the user should know before the table (a limit that rules counts out).
    Note(&'a str),
}

/// Runs the plan, telling `progress` of each step.
pub fn run(plan: &Plan, mut progress: impl FnMut(Progress)) -> std::io::Result<Vec<Record>> {
    let fd_hard = raise_fd_limit();
    if let Some(&too_many) = plan
        .users
        .iter()
        .find(|&&u| fd_limit_rules_out(u, fd_hard).is_some())
    {
        progress(Progress::Note(&format!(
            "the hard RLIMIT_NOFILE of {fd_hard} rules out counts above {} ({too_many} asked for)",
            fd_hard - FD_SLACK.min(fd_hard)
        )));
    }
    let mut counts = plan.users.clone();
    counts.sort_unstable();
    counts.dedup();
    let total = (counts.len() * plan.models.len()) as u64;
    let mut records: Vec<Record> = Vec::new();
    let mut done = 0;
    let errors =
        std::env::temp_dir().join(format!("greenwood-compare-{}.errors", std::process::id()));
    for &users in &counts {
        for model in &plan.models {
            progress(Progress::Step {
                done,
                total,
                what: &format!("{model}, {users} users"),
            });
            let last = records.iter().rev().find(|r| &r.model == model);
            let record = if let Some(why) = last.and_then(stop_after) {
                Record::skipped(model, users, why)
            } else if let Some(why) = fd_limit_rules_out(users, fd_hard) {
                Record::skipped(model, users, why)
            } else if let Some(why) =
                last.and_then(|r| memory_rules_out(r, users, plan.memory_budget))
            {
                Record::skipped(model, users, why)
            } else {
                // A server of its own for each run: on a new port, the connections the last
                // run left in TIME_WAIT (a minute, on the same addresses) do not make this
                // run's `connect`s search for a free port.
                let server = PhotoServer::start(plan.size, plan.latency)?;
                let _ = std::fs::remove_file(&errors);
                measure(model, users, plan, server.addr, &errors)
            };
            records.push(record);
            done += 1;
        }
    }
    let _ = std::fs::remove_file(&errors);
    progress(Progress::Step {
        done,
        total,
        what: "done",
    });
    Ok(records)
}

/// Why a model that got `r` at a smaller count is not run at larger ones.
fn stop_after(r: &Record) -> Option<String> {
    if r.skipped.is_some() {
        return Some(format!("skipped at {} users already", r.users));
    }
    (r.failures > 0).then(|| format!("failed at {} users", r.users))
}

/// Raises this process's soft `RLIMIT_NOFILE` to its hard limit (the server and the models
/// inherit it); the hard limit.
fn raise_fd_limit() -> u64 {
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    rlimit::Resource::NOFILE
        .get()
        .map(|(_, hard)| hard)
        .unwrap_or(1024)
}

/// The server holds a connection per user at once, and so does a model: a count whose
/// descriptors the hard limit cannot hold is not started.
fn fd_limit_rules_out(users: u32, hard: u64) -> Option<String> {
    let need = u64::from(users) + FD_SLACK;
    (need > hard).then(|| {
        format!(
            "needs about {need} descriptors per process; the hard RLIMIT_NOFILE is {hard} \
             (raise it: `ulimit -Hn`, or nofile in /etc/security/limits.conf)"
        )
    })
}

/// The memory guard: from what the model took at a smaller count, what it would take at
/// `users` (in proportion), against what the machine has.
fn memory_rules_out(last: &Record, users: u32, budget: Option<u64>) -> Option<String> {
    if last.users == 0 || last.peak_rss_bytes == 0 {
        return None;
    }
    let need = last.peak_rss_bytes as f64 * f64::from(users) / f64::from(last.users);
    let have = budget.unwrap_or_else(|| available_memory() / 10 * 9) as f64;
    (need > have).then(|| {
        format!(
            "would need about {}, {} available",
            crate::report::bytes(need as u64),
            crate::report::bytes(have as u64)
        )
    })
}

/// `MemAvailable` from `/proc/meminfo`, in bytes.
pub fn available_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemAvailable:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

/// The photo server's process; killed when dropped.
struct PhotoServer {
    child: Child,
    addr: SocketAddr,
}

impl PhotoServer {
    fn start(size: usize, latency: Duration) -> std::io::Result<PhotoServer> {
        let mut child = Command::new(std::env::current_exe()?)
            .arg("serve")
            .arg(size.to_string())
            .arg(latency.as_micros().to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        let mut line = String::new();
        let stdout = child.stdout.take().expect("piped");
        BufReader::new(stdout).read_line(&mut line)?;
        let addr = line
            .trim()
            .strip_prefix("listening ")
            .and_then(|a| a.parse().ok());
        match addr {
            Some(addr) => Ok(PhotoServer { child, addr }),
            None => {
                let _ = child.kill();
                let _ = child.wait();
                Err(std::io::Error::other(format!(
                    "the photo server did not start (it said {line:?})"
                )))
            }
        }
    }
}

impl Drop for PhotoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `model` for `users` in a process of its own and measures it.
fn measure(model: &str, users: u32, plan: &Plan, addr: SocketAddr, errors: &Path) -> Record {
    let mut record = Record::new(model, users);
    let _ = server::peak_in_flight(addr); // a new count starts
    let mut cmd = Command::new(
        std::env::current_exe().unwrap_or_else(|_| PathBuf::from("greenwood-compare")),
    );
    cmd.arg("model")
        .arg(model)
        .arg(users.to_string())
        .arg(addr.to_string())
        .arg(plan.size.to_string())
        .arg(errors);
    if let Some((_, n)) = plan.fd_limit_for.as_ref().filter(|(m, _)| m == model) {
        cmd.arg("--fd-limit").arg(n.to_string());
    }
    let started = Instant::now();
    let mut child = match cmd.stdin(Stdio::null()).stdout(Stdio::piped()).spawn() {
        Ok(c) => c,
        Err(e) => {
            record.failures = u64::from(users);
            record.first_error = Some(format!("starting the model's process: {e}"));
            return record;
        }
    };
    let pid = child.id();
    let mut stdout = child.stdout.take().expect("piped");
    // The model writes one line at its end; read it on a thread so the pipe never fills.
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    // Sample until the process is a zombie: its CPU times are still in /proc then.
    // Sampling takes its time from the models' CPUs: it waits at least twice as long as the
    // last sample took (10,000 processes' status files take a while to read).
    let mut peak = 0;
    let mut times = None;
    loop {
        match end_times(pid) {
            End::Ended(t) => {
                times = Some(t);
                break;
            }
            End::Running => {}
            // No /proc to read: the exit is all there is to wait for.
            End::Unknown => {
                if matches!(child.try_wait(), Ok(Some(_))) {
                    break;
                }
            }
        }
        let sampled = Instant::now();
        peak = peak.max(tree_rss(pid));
        std::thread::sleep((sampled.elapsed() * 2).max(Duration::from_millis(20)));
    }
    record.wall_s = started.elapsed().as_secs_f64();
    let status = child.wait();
    let said = reader.join().unwrap_or_default();
    record.cpu_s = times.unwrap_or(0.0);
    record.peak_rss_bytes = peak;
    record.peak_in_flight = server::peak_in_flight(addr).unwrap_or(0);
    match (status, serde_json::from_str::<Outcome>(said.trim())) {
        (Ok(s), Ok(out)) if s.success() => {
            if out.wall_s > 0.0 {
                record.wall_s = out.wall_s;
            }
            record.peak_rss_bytes = record.peak_rss_bytes.max(out.own_peak_rss_bytes);
            record.failures = out.failures;
            record.first_error = out.first_error;
        }
        (status, _) => {
            record.failures = u64::from(users);
            record.first_error = Some(match status {
                Ok(s) => format!("the model's process ended without its report: {s}"),
                Err(e) => format!("waiting for the model's process: {e}"),
            });
        }
    }
    record
}

/// Clock ticks per second in `/proc/<pid>/stat` (`USER_HZ`, fixed at 100 on Linux).
const USER_HZ: f64 = 100.0;

/// Whether a child has ended, as `/proc/<pid>/stat` says while it is not reaped yet.
enum End {
    Running,
    /// A zombie: its CPU time (user and system, its own and its waited-for children's), in
    /// seconds.
    Ended(f64),
    /// `/proc/<pid>/stat` cannot be read.
    Unknown,
}

fn end_times(pid: u32) -> End {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return End::Unknown;
    };
    // The command name is in parentheses and may hold spaces: fields count from after it.
    let Some(rest) = stat.rfind(')').and_then(|at| stat.get(at + 2..)) else {
        return End::Unknown;
    };
    let fields: Vec<&str> = rest.split(' ').collect();
    if fields.first() != Some(&"Z") {
        return End::Running;
    }
    // utime, stime, cutime, cstime: fields 14 to 17 of proc(5), 12 to 15 after the name.
    let ticks: f64 = fields
        .get(11..15)
        .unwrap_or_default()
        .iter()
        .filter_map(|f| f.parse::<f64>().ok())
        .sum();
    End::Ended(ticks / USER_HZ)
}

/// The resident memory of `pid` (its peak so far, `VmHWM`) and of its children now, in
/// bytes. The models start processes from their main thread only, and those start none.
fn tree_rss(pid: u32) -> u64 {
    let own = status_kb(pid, "VmHWM:").max(status_kb(pid, "VmRSS:"));
    own * 1024
        + children(pid)
            .into_iter()
            .map(|p| status_kb(p, "VmRSS:") * 1024)
            .sum::<u64>()
}

/// A field of `/proc/<pid>/status` in kB (0 if the process is gone).
pub fn status_kb(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix(field))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// The children of `pid`'s main thread.
fn children(pid: u32) -> Vec<u32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .map(|s| {
            s.split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}
