//! What a sweep shows: a table for the terminal, JSON for scripts, an SVG chart of wall time
//! and peak memory against users (log scales, a line per model).

use std::fmt::Write as _;
use std::path::Path;

use plotters::prelude::*;

use crate::sweep::Record;

/// What the models are and what the columns mean, printed under the table.
pub const LEGEND: &str = "\
processes: a process per user (this program run again); threads: a std::thread per user, blocking
std::net; events: tokio, async/await, a task per user on a current-thread runtime; greenlets: a
greenwood::spawn per user on greenwood::net; greenlets-monkey: the threads' very function in a
greenlet per user after greenwood::monkey::patch_all(). Each model runs in a process of its own:
wall and CPU time (user + system, children included), peak RSS (children included, summed), and
the server's peak of downloads in flight. Every byte of every photo is checked.";

/// The table: a row per model and user count.
pub fn table(records: &[Record]) -> String {
    let mut t = String::new();
    let _ = writeln!(
        t,
        "{:<17} {:>7} {:>9} {:>9} {:>11} {:>10} {:>9}  note",
        "model", "users", "wall", "CPU", "peak RSS", "in flight", "failures"
    );
    for r in records {
        if let Some(why) = &r.skipped {
            let _ = writeln!(
                t,
                "{:<17} {:>7} {:>60}  skipped: {why}",
                r.model, r.users, ""
            );
            continue;
        }
        let note = r.first_error.as_deref().unwrap_or("");
        let _ = writeln!(
            t,
            "{:<17} {:>7} {:>8.2}s {:>8.2}s {:>11} {:>10} {:>9}  {note}",
            r.model,
            r.users,
            r.wall_s,
            r.cpu_s,
            bytes(r.peak_rss_bytes),
            r.peak_in_flight,
            r.failures,
        );
    }
    t
}

/// A size for people: KiB, MiB or GiB.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// The records as the JSON list the README documents.
pub fn json(records: &[Record]) -> String {
    serde_json::to_string_pretty(records).expect("records serialise")
}

/// Writes the chart: wall time (left) and peak memory (right) against users, log scales, a
/// line per model, for the counts each model ran without failures.
///
/// # Errors
///
/// What plotters says (the file cannot be written, nothing to draw).
pub fn svg(records: &[Record], path: &Path) -> Result<(), String> {
    let ran: Vec<&Record> = records.iter().filter(|r| r.ok()).collect();
    if ran.is_empty() {
        return Err("no model ran without failures: nothing to draw".into());
    }
    let mut models: Vec<&str> = Vec::new();
    for r in &ran {
        if !models.contains(&r.model.as_str()) {
            models.push(&r.model);
        }
    }
    let users = range(ran.iter().map(|r| f64::from(r.users)));
    let wall = range(ran.iter().map(|r| r.wall_s));
    let mem = range(
        ran.iter()
            .map(|r| r.peak_rss_bytes as f64 / (1u64 << 20) as f64),
    );
    let root = SVGBackend::new(path, (1200, 520)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let (left, right) = root.split_horizontally(600);
    let panels = [
        (left, "wall time (s)", wall, 0),
        (right, "peak memory (MiB)", mem, 1),
    ];
    for (area, label, yr, which) in panels {
        let mut chart = ChartBuilder::on(&area)
            .caption(label, ("sans-serif", 22))
            .margin(16)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d((users.0..users.1).log_scale(), (yr.0..yr.1).log_scale())
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .x_desc("users")
            .x_label_formatter(&|x| format!("{x:.0}"))
            .y_label_formatter(&|y| format!("{y}"))
            .draw()
            .map_err(|e| e.to_string())?;
        for (i, m) in models.iter().enumerate() {
            let color = Palette99::pick(i).to_rgba();
            let points: Vec<(f64, f64)> = ran
                .iter()
                .filter(|r| r.model == *m)
                .map(|r| {
                    let y = if which == 0 {
                        r.wall_s
                    } else {
                        r.peak_rss_bytes as f64 / (1u64 << 20) as f64
                    };
                    (f64::from(r.users), y)
                })
                .collect();
            chart
                .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))
                .map_err(|e| e.to_string())?
                .label(*m)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
                });
            chart
                .draw_series(
                    points
                        .into_iter()
                        .map(|p| Circle::new(p, 3, color.filled())),
                )
                .map_err(|e| e.to_string())?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(|e| e.to_string())?;
    }
    root.present().map_err(|e| e.to_string())
}

/// A range around the values, widened for a log axis (never 0 or empty).
fn range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values.fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let lo = lo.max(1e-3);
    let hi = hi.max(lo * 1.01);
    (lo / 1.5, hi * 1.5)
}
