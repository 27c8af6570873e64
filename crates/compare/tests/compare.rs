//! `greenwood-compare` run as a user runs it, at small counts: every model downloads and
//! checks every photo, a model that fails is reported and not run again, the memory guard
//! skips what it cannot afford, and the JSON has the documented shape.

use std::path::PathBuf;
use std::process::Command;

const MODELS: [&str; 5] = [
    "processes",
    "threads",
    "events",
    "greenlets",
    "greenlets-monkey",
];

/// Runs the program with `args` and a small, quick photo; its JSON records and its stdout.
fn compare(name: &str, args: &[&str]) -> (Vec<serde_json::Value>, String) {
    let json = std::env::temp_dir().join(format!("compare-{name}-{}.json", std::process::id()));
    let out = Command::new(env!("CARGO_BIN_EXE_greenwood-compare"))
        .args(["--size", "20KiB", "--latency", "20ms", "--json"])
        .arg(&json)
        .args(args)
        .output()
        .expect("greenwood-compare runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "greenwood-compare {args:?} failed: {}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let records = serde_json::from_str(&std::fs::read_to_string(&json).expect("the JSON file"))
        .expect("valid JSON");
    let _ = std::fs::remove_file(PathBuf::from(&json));
    (records, stdout)
}

fn field<'a>(r: &'a serde_json::Value, k: &str) -> &'a serde_json::Value {
    r.get(k)
        .unwrap_or_else(|| panic!("record without {k:?}: {r}"))
}

#[test]
fn every_model_downloads_every_photo_and_the_json_has_a_record_per_model_and_count() {
    let (records, table) = compare("all", &["--users", "5,30"]);
    assert_eq!(records.len(), 10, "{table}");
    let keys = [
        "model",
        "users",
        "wall_s",
        "cpu_s",
        "peak_rss_bytes",
        "failures",
        "first_error",
        "skipped",
        "peak_in_flight",
    ];
    for (i, r) in records.iter().enumerate() {
        let obj = r.as_object().expect("an object per record");
        assert_eq!(obj.len(), keys.len(), "{r}");
        for k in keys {
            field(r, k);
        }
        assert_eq!(field(r, "model"), MODELS[i % 5]);
        assert_eq!(field(r, "users"), [5, 30][i / 5]);
        // Every byte of every photo was checked by the model: no failures.
        assert_eq!(field(r, "failures"), 0, "{r}\n{table}");
        assert!(field(r, "first_error").is_null() && field(r, "skipped").is_null());
        assert!(field(r, "wall_s").as_f64().unwrap() > 0.0);
        assert!(field(r, "peak_rss_bytes").as_u64().unwrap() > 0);
        let flight = field(r, "peak_in_flight").as_u64().unwrap();
        assert!(
            flight >= 1 && flight <= field(r, "users").as_u64().unwrap(),
            "{r}"
        );
    }
    for m in MODELS {
        assert!(table.contains(m), "the table names {m}:\n{table}");
    }
}

#[test]
fn a_model_that_fails_is_reported_and_not_run_at_larger_counts() {
    // 40 descriptors cannot hold 100 connections: the threads model fails with EMFILE, the
    // run goes on with the greenlets, and threads are not tried at 200.
    let (records, table) = compare(
        "fail",
        &[
            "--users",
            "100,200",
            "--models",
            "threads,greenlets",
            "--fd-limit-for",
            "threads=40",
        ],
    );
    assert_eq!(records.len(), 4, "{table}");
    let threads_100 = &records[0];
    assert!(
        field(threads_100, "failures").as_u64().unwrap() > 0,
        "{table}"
    );
    let error = field(threads_100, "first_error").as_str().unwrap();
    assert!(error.contains("Too many open files"), "{error}");
    assert_eq!(field(&records[1], "failures"), 0, "{table}");
    assert_eq!(
        field(&records[2], "skipped").as_str(),
        Some("failed at 100 users")
    );
    assert_eq!(field(&records[3], "failures"), 0, "{table}");
    assert!(field(&records[3], "skipped").is_null());
}

#[test]
fn the_memory_guard_skips_a_count_it_cannot_afford() {
    // A budget of 1 MB: the first count runs (nothing to go by yet), the next would need
    // more than the budget and is skipped, with what it would need.
    let (records, table) = compare(
        "memory",
        &[
            "--users",
            "10,20",
            "--models",
            "greenlets",
            "--memory-budget",
            "1000000",
        ],
    );
    assert_eq!(records.len(), 2, "{table}");
    assert_eq!(field(&records[0], "failures"), 0);
    let skipped = field(&records[1], "skipped").as_str().expect("skipped");
    assert!(skipped.starts_with("would need about "), "{skipped}");
    assert!(skipped.ends_with("976.6 KiB available"), "{skipped}");
    assert!(table.contains("skipped: would need about"), "{table}");
}

#[test]
fn bad_arguments_say_what_is_wrong() {
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_greenwood-compare"))
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, err) = run(&["--models", "fibers"]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("no model \"fibers\"") && err.contains("greenlets-monkey"),
        "{err}"
    );
    let (code, err) = run(&["--size", "10XB"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("KiB or MiB"), "{err}");
    let (code, err) = run(&["--users", "0"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("above 0"), "{err}");
}

#[test]
fn a_count_beyond_the_descriptor_limit_is_named_and_skipped() {
    // Two billion connections at once: above any RLIMIT_NOFILE Linux allows (nr_open is at
    // most 2^30), for the server as for the model.
    let (records, stdout) = compare(
        "fds",
        &["--users", "10,2000000000", "--models", "greenlets"],
    );
    assert!(
        stdout.contains("note: the hard RLIMIT_NOFILE of")
            && stdout.contains("2000000000 asked for"),
        "{stdout}"
    );
    assert_eq!(records.len(), 2, "{stdout}");
    assert_eq!(field(&records[0], "failures"), 0);
    let skipped = field(&records[1], "skipped").as_str().expect("skipped");
    assert!(
        skipped.contains("descriptors per process") && skipped.contains("ulimit -Hn"),
        "{skipped}"
    );
}
