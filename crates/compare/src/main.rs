//! `greenwood-compare`: the job greenwood grew from — download a photo for each of N users
//! from a local server — done the four ways Python's concurrency note tells (a process per user, a thread per user, events,
//! green threads, the last both on greenwood's own sockets and as the threads' code made
//! cooperative by `monkey::patch_all()`), measured side by side.
//!
//! ```text
//! cargo run --release -p compare                                  # 100, 1,000 and 10,000 users
//! cargo run --release -p compare -- --users 100,1000,30000 --models threads,greenlets
//! cargo run --release -p compare -- --svg compare.svg --json compare.json
//! ```

mod models;
mod photo;
mod report;
mod server;
mod sweep;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

/// Downloads a photo for each of N users from a local server five ways (a process, a thread,
/// a tokio task, a greenlet per user, and the thread code patched into greenlets) and shows
/// time, CPU, memory and failures side by side.
#[derive(Parser)]
#[command(name = "greenwood-compare", version)]
struct Cli {
    /// User counts to run, each model at each (a model that fails at one is not run at larger
    /// ones).
    #[arg(long, value_delimiter = ',', default_value = "100,1000,10000")]
    users: Vec<u32>,
    /// Models to run: processes, threads, events (tokio), greenlets, greenlets-monkey.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "processes,threads,events,greenlets,greenlets-monkey"
    )]
    models: Vec<String>,
    /// Bytes per photo (suffixes KiB and MiB allowed).
    #[arg(long, default_value = "100KiB", value_parser = parse_size)]
    size: usize,
    /// The server's simulated network latency per request, in milliseconds (suffix ms or s
    /// allowed).
    #[arg(long, default_value = "100ms", value_parser = parse_latency)]
    latency: Duration,
    /// Writes a chart of wall time and peak memory against users (SVG).
    #[arg(long, value_name = "FILE")]
    svg: Option<PathBuf>,
    /// Writes the records as JSON.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// The memory, in bytes, the guard lets a run plan for, instead of what the machine has
    /// available (for testing the guard).
    #[arg(long, hide = true)]
    memory_budget: Option<u64>,
    /// `MODEL=N`: a soft RLIMIT_NOFILE of N for that model's processes (a test's way to make
    /// one model fail).
    #[arg(long, hide = true, value_parser = parse_fd_limit)]
    fd_limit_for: Option<(String, u64)>,
    #[command(subcommand)]
    mode: Option<Mode>,
}

/// The processes the sweep starts: this program again, in one of these modes.
#[derive(Subcommand)]
enum Mode {
    /// The photo server.
    #[command(hide = true)]
    Serve { size: usize, latency_us: u64 },
    /// One model at one user count; prints its outcome as JSON.
    #[command(hide = true)]
    Model {
        model: String,
        users: u32,
        addr: SocketAddr,
        size: usize,
        errors: PathBuf,
        #[arg(long)]
        fd_limit: Option<u64>,
    },
    /// One user's download (the `processes` model's child).
    #[command(hide = true)]
    Download {
        addr: SocketAddr,
        user: u32,
        size: usize,
        errors: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.mode {
        Some(Mode::Serve { size, latency_us }) => {
            // Ends with its parent: a thread waits for the end of the pipe on stdin.
            std::thread::spawn(|| {
                let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
                std::process::exit(0);
            });
            match server::serve(size, Duration::from_micros(latency_us)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("greenwood-compare: the photo server failed: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Some(Mode::Model {
            model,
            users,
            addr,
            size,
            errors,
            fd_limit,
        }) => {
            if let Some(n) = fd_limit {
                let hard = rlimit::Resource::NOFILE.get().map_or(n, |(_, h)| h);
                let _ = rlimit::Resource::NOFILE.set(n, hard);
            }
            let out = models::run(&model, users, addr, size, &errors);
            println!(
                "{}",
                serde_json::to_string(&out).expect("an outcome serialises")
            );
            ExitCode::SUCCESS
        }
        Some(Mode::Download {
            addr,
            user,
            size,
            errors,
        }) => match models::download_one(addr, user, size, &errors) {
            true => ExitCode::SUCCESS,
            false => ExitCode::FAILURE,
        },
        None => compare(cli),
    }
}

/// The sweep, its table, and the files asked for.
fn compare(cli: Cli) -> ExitCode {
    if let Some(bad) = cli
        .models
        .iter()
        .find(|m| !models::MODELS.contains(&m.as_str()))
    {
        eprintln!(
            "greenwood-compare: no model {bad:?}; the models are {}",
            models::MODELS.join(", ")
        );
        return ExitCode::from(2);
    }
    if cli.users.is_empty() || cli.users.contains(&0) {
        eprintln!("greenwood-compare: --users takes counts above 0, e.g. --users 100,1000");
        return ExitCode::from(2);
    }
    let plan = sweep::Plan {
        models: cli.models,
        users: cli.users,
        size: cli.size,
        latency: cli.latency,
        memory_budget: cli.memory_budget,
        fd_limit_for: cli.fd_limit_for,
    };
    println!(
        "downloading a {} photo per user from a local server that answers after {} ms",
        report::bytes(plan.size as u64),
        plan.latency.as_millis()
    );
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} {msg}")
            .expect("a valid template"),
    );
    let records = sweep::run(&plan, |p| match p {
        sweep::Progress::Note(what) => bar.suspend(|| println!("note: {what}")),
        sweep::Progress::Step { done, total, what } => {
            bar.set_length(total);
            bar.set_position(done);
            bar.set_message(what.to_owned());
        }
    });
    bar.finish_and_clear();
    let records = match records {
        Ok(r) => r,
        Err(e) => {
            eprintln!("greenwood-compare: {e}");
            return ExitCode::FAILURE;
        }
    };
    print!("{}", report::table(&records));
    println!("{}", report::LEGEND);
    let mut code = ExitCode::SUCCESS;
    if let Some(path) = &cli.json {
        if let Err(e) = std::fs::write(path, report::json(&records)) {
            eprintln!("greenwood-compare: writing {}: {e}", path.display());
            code = ExitCode::FAILURE;
        }
    }
    if let Some(path) = &cli.svg {
        if let Err(e) = report::svg(&records, path) {
            eprintln!("greenwood-compare: drawing {}: {e}", path.display());
            code = ExitCode::FAILURE;
        }
    }
    code
}

/// `100KiB`, `1MiB`, `4096`.
fn parse_size(s: &str) -> Result<usize, String> {
    let (num, unit) = split_unit(s);
    let mult = match unit {
        "" | "B" => 1,
        "KiB" | "K" | "KB" | "k" => 1024,
        "MiB" | "M" | "MB" => 1024 * 1024,
        _ => return Err(format!("{s:?}: a size is a number of bytes, KiB or MiB")),
    };
    num.parse::<usize>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .ok_or_else(|| format!("{s:?}: a size is a number of bytes, KiB or MiB"))
}

/// `100ms`, `1s`, `100` (milliseconds).
fn parse_latency(s: &str) -> Result<Duration, String> {
    let (num, unit) = split_unit(s);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{s:?}: a latency is a number of milliseconds (or 1s)"))?;
    match unit {
        "" | "ms" => Ok(Duration::from_millis(n)),
        "s" => Ok(Duration::from_secs(n)),
        _ => Err(format!(
            "{s:?}: a latency is a number of milliseconds (or 1s)"
        )),
    }
}

/// `threads=40`.
fn parse_fd_limit(s: &str) -> Result<(String, u64), String> {
    s.split_once('=')
        .and_then(|(m, n)| Some((m.to_owned(), n.parse().ok()?)))
        .ok_or_else(|| format!("{s:?}: expected MODEL=N"))
}

fn split_unit(s: &str) -> (&str, &str) {
    let s = s.trim();
    let at = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    (&s[..at], s[at..].trim())
}
