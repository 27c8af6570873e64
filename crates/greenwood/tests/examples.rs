//! The examples, run as a user runs them. `cargo test` builds them before running the tests;
//! a filtered run (`cargo test --test examples`) does not, so build them first there
//! (`cargo build --examples`).

use std::path::PathBuf;
use std::process::Command;

fn example(name: &str) -> PathBuf {
    // target/debug/deps/examples-HASH -> target/debug/examples/NAME
    let exe = std::env::current_exe().expect("current test binary");
    exe.ancestors()
        .nth(2)
        .expect("the profile directory")
        .join("examples")
        .join(name)
}

#[test]
fn dns_mass_resolve_by_default_looks_up_only_names_the_machine_answers_itself() {
    // Regression: by default it resolved 10.com … 1009.com, sending 1,000 queries off the
    // machine (and, with no network, 25 of 1,000 finished in the 2 s).
    let out = Command::new(example("dns_mass_resolve"))
        .output()
        .expect("run the dns_mass_resolve example");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    let hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
    let local: Vec<&str> = hosts
        .lines()
        .flat_map(|l| l.split('#').next().unwrap_or("").split_whitespace().skip(1))
        .chain(["localhost"])
        .collect();
    let mut lookups = 0;
    for line in text.lines() {
        if let Some((name, _)) = line
            .split_once(" = ")
            .or_else(|| line.split_once(" failed with "))
        {
            assert!(local.contains(&name), "{name} is not in /etc/hosts: {text}");
            lookups += 1;
        }
    }
    assert_eq!(lookups, 1_000, "{text}");
    assert!(text.contains("finished within 2 s: 1000/1000"), "{text}");
}
