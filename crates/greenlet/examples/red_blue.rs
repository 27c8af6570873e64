//! The red/blue greenlet demo: two greenlets hand control to each other with `switch()`.
//!
//! ```text
//! $ cargo run --example red_blue
//! red
//! blue
//! red done
//! ```
//!
//! `blue done` is never printed, as in Python: nothing switches back to `print_blue` after it
//! switched to `gr1`, and when `gr1` finishes, control returns to its parent (main), which exits.

use greenlet::{Greenlet, Value};

// Python keeps gr1 and gr2 in module globals; a thread-local is Rust's equivalent.
thread_local! {
    static GR1: Greenlet = Greenlet::new(print_red);
    static GR2: Greenlet = Greenlet::new(print_blue);
}

fn print_red(_: Value) {
    println!("red");
    GR2.with(|gr2| gr2.switch(())); // switches to print_blue
    println!("red done");
}

fn print_blue(_: Value) {
    println!("blue");
    GR1.with(|gr1| gr1.switch(())); // resumes print_red where it left off
    println!("blue done");
}

fn main() {
    GR1.with(|gr1| gr1.switch(()));
}
