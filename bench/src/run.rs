//! The benchmark run: every workload on every size, interleaved round by round so that noise
//! from other work on the machine falls on all of them alike; medians and ratios at the end.

use crate::fixture::{label, users_key, Fixture};
pub use crate::options::Options;
use crate::timing::{median, show, Timing};
use crate::workloads::{self, TileLatency};
use std::fmt::Write as _;
use std::time::Duration;

/// The timings of one workload on one size.
#[derive(Debug, Clone)]
pub struct Series {
    pub workload: &'static str,
    pub size: u64,
    pub rows: u64,
    pub runs: Vec<Timing>,
}

impl Series {
    pub fn wall(&self) -> Duration {
        median(&self.runs.iter().map(|t| t.wall).collect::<Vec<_>>())
    }
    pub fn cpu(&self) -> Duration {
        median(&self.runs.iter().map(|t| t.cpu).collect::<Vec<_>>())
    }
}

pub const RAW_USERS: &str = "raw csv::ByteRecord parse, users file";
pub const PLAN_CORE: &str = "plan core (→ plan.csv + SHA-256, SQLite lookups)";
pub const PLAN_CORE_ONE_THREAD: &str = "plan core, planning on one thread (SQLite lookups)";
pub const PLAN_CORE_MEMORY: &str = "plan core (→ plan.csv + SHA-256, in-memory lookups)";
pub const READ_EXPORT: &str = "intake + validation + dedupe only";
pub const PLAN_USE_CASE: &str = "plan use case (all outputs, embedded adapters)";
pub const PYTHON: &str = "Python baseline (csv + dicts)";
pub const RAW_TENANTS: &str = "raw csv::ByteRecord parse, tenants file";
pub const TENANTS: &str = "tenants intake (validate, E.164, dedupe)";

#[derive(Debug, Default)]
pub struct Report {
    pub series: Vec<Series>,
    pub fingerprints: Vec<String>,
    pub tile: TileLatency,
    pub rss: Vec<(String, u64)>,
    /// Per size: the SHA-256 of plan.csv from the Rust plan core and from the Python baseline
    /// (the same bytes, or the comparison is not fair).
    pub plan_sha256: std::collections::BTreeMap<u64, (String, String)>,
    /// Peak RSS of 100k rows of one address above that of a one-row file.
    pub repeat_extra: Option<u64>,
    /// Peak RSS of the validation report over the largest plan, applied.
    pub report_rss: Option<u64>,
}

impl Report {
    /// Records the plan.csv digest of the Rust core (`rust`) or the baseline for `size`.
    fn digest(&mut self, size: u64, rust: bool, sha: String) {
        let (core, python) = self.plan_sha256.entry(size).or_default();
        *(if rust { core } else { python }) = sha;
    }

    fn add(&mut self, workload: &'static str, size: u64, rows: u64, timing: Timing) {
        match self.series.iter_mut().find(|s| s.workload == workload && s.size == size) {
            Some(series) => series.runs.push(timing),
            None => self.series.push(Series { workload, size, rows, runs: vec![timing] }),
        }
    }

    pub fn get(&self, workload: &str, size: u64) -> Option<&Series> {
        self.series.iter().find(|s| s.workload == workload && s.size == size)
    }
}

/// SHA-256 of the outputs that must not change when the code gets faster.
fn fingerprint(fixture: &Fixture, rows: u64) -> String {
    let folder = fixture.path(&format!("reports/users/bench-{}", label(rows)));
    let mut line = format!("{}:", label(rows));
    for name in ["plan.csv", "plan.jsonl", "issues.csv"] {
        let digest = std::fs::read(folder.join(name)).map(|b| hex_sha256(&b)).unwrap_or_else(|_| "missing".into());
        let _ = write!(line, " {name}={}", &digest[..16.min(digest.len())]);
    }
    line
}

fn hex_sha256(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(bytes))
}

pub async fn run(options: &Options) -> Result<Report, String> {
    let fixture = Fixture::prepare(&options.dir, options.seed, &options.sizes).await?;
    let mut report = Report::default();
    for round in 0..options.rounds {
        for &size in &options.sizes {
            eprintln!("round {} of {}, {} rows", round + 1, options.rounds, label(size));
            let users = fixture.path(&users_key(size));
            let tenants = fixture.path(&crate::fixture::tenants_key(size));
            // Rotate the order each round so no workload always runs first (cold caches) or last.
            const STEPS: usize = 9;
            for step in 0..STEPS {
                let name = ["raw", "core", "use-case", "python", "raw", "tenants", "core-memory", "read", "core-1"][(step + round) % STEPS];
                if !options.wants(name) {
                    continue;
                }
                match (step + round) % STEPS {
                    0 => {
                        let (rows, t) = workloads::measure(|| workloads::raw_parse(&users))?;
                        report.add(RAW_USERS, size, rows, t);
                    }
                    1 => {
                        let (out, t) =
                            crate::timing::timed_async(workloads::plan_core(&fixture, size, workloads::Lookups::Sqlite, None)).await;
                        let (rows, sha) = out?;
                        report.add(PLAN_CORE, size, rows, t);
                        report.digest(size, true, sha);
                    }
                    2 => {
                        let (out, t) = crate::timing::timed_async(workloads::plan_use_case(&fixture, size)).await;
                        report.add(PLAN_USE_CASE, size, out?.0, t);
                    }
                    3 if options.python => {
                        let (rows, sha, rss, t) = workloads::python_plan(&fixture, size, &options.script)?;
                        report.add(PYTHON, size, rows, t);
                        report.digest(size, false, sha);
                        if round == 0 && Some(&size) == options.sizes.iter().max() {
                            report.rss.push((format!("Python baseline, {} rows", label(size)), rss));
                        }
                    }
                    4 => {
                        let (rows, t) = workloads::measure(|| workloads::raw_parse(&tenants))?;
                        report.add(RAW_TENANTS, size, rows, t);
                    }
                    5 => {
                        let (rows, t) = workloads::measure(|| workloads::tenants_intake(&fixture, size))?;
                        report.add(TENANTS, size, rows, t);
                    }
                    6 => {
                        let (out, t) =
                            crate::timing::timed_async(workloads::plan_core(&fixture, size, workloads::Lookups::Memory, None)).await;
                        report.add(PLAN_CORE_MEMORY, size, out?.0, t);
                    }
                    7 => {
                        let (out, t) = crate::timing::timed_async(workloads::read_only(&fixture, size)).await;
                        report.add(READ_EXPORT, size, out?, t);
                    }
                    8 => {
                        let (out, t) =
                            crate::timing::timed_async(workloads::plan_core(&fixture, size, workloads::Lookups::Sqlite, Some(1))).await;
                        let (rows, sha) = out?;
                        report.add(PLAN_CORE_ONE_THREAD, size, rows, t);
                        // The same plan as on every core, or the comparison means nothing.
                        if report.plan_sha256.get(&size).is_some_and(|(core, _)| !core.is_empty() && *core != sha) {
                            return Err(format!("the plan core wrote another plan.csv on one thread ({sha}) than on every core"));
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    if options.wants("use-case") {
        for &size in &options.sizes {
            report.fingerprints.push(fingerprint(&fixture, size));
        }
    }
    if options.wants("tile") {
        eprintln!("tile checks");
        report.tile = workloads::tile_checks(&fixture, options.tile_calls).await?;
    }
    if options.rss {
        let size = options.sizes.iter().copied().max().unwrap_or(0);
        for mode in ["core", "use-case"] {
            eprintln!("peak memory of the {mode}, {} rows (child process)", label(size));
            let peak = crate::memory::child_peak(options, mode, size)?;
            report.rss.push((format!("plan {mode}, {} rows", label(size)), peak));
        }
        // The validation report over the largest plan, applied to the embedded table.
        eprintln!("applying the {} plan (once) for the validation report", label(size));
        workloads::applied_plan(&fixture, size).await?;
        eprintln!("peak memory of the validation report over {} planned users (child process)", label(size));
        let report_peak = crate::memory::child_peak(options, "report", size)?;
        report.rss.push((format!("validation report, {} planned users", label(size)), report_peak));
        report.report_rss = Some(report_peak);
        // One address in 100k rows, against the same use case on a one-row file.
        eprintln!("peak memory of one address repeated (child processes)");
        let one = crate::memory::child_peak(options, "repeat", 1)?;
        let many = crate::memory::child_peak(options, "repeat", 100_000)?;
        report.rss.push(("plan use case, one row".to_string(), one));
        report.rss.push(("plan use case, one address in 100k rows".to_string(), many));
        report.repeat_extra = Some(many.saturating_sub(one));
    }
    Ok(report)
}

fn rate(rows: u64, time: Duration) -> String {
    let per_second = rows as f64 / time.as_secs_f64().max(1e-9);
    if per_second >= 1e6 {
        format!("{:.2} M/s", per_second / 1e6)
    } else {
        format!("{:.0} k/s", per_second / 1e3)
    }
}

/// The report as Markdown: one table per size, then the tile check and memory.
pub fn markdown(report: &Report, options: &Options) -> String {
    let mut out = String::new();
    for &size in &options.sizes {
        let _ = writeln!(out, "\n### {} rows\n", label(size));
        let _ = writeln!(out, "| workload | median wall | median CPU | rows/s (CPU) | vs its raw parse (CPU) |");
        let _ = writeln!(out, "|---|---:|---:|---:|---:|");
        for series in report.series.iter().filter(|s| s.size == size) {
            let floor = if series.workload == TENANTS || series.workload == RAW_TENANTS { RAW_TENANTS } else { RAW_USERS };
            let versus = report
                .get(floor, size)
                .map_or(String::new(), |raw| format!("{:.0} %", 100.0 * raw.cpu().as_secs_f64() / series.cpu().as_secs_f64().max(1e-9)));
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} |",
                series.workload,
                show(series.wall()),
                show(series.cpu()),
                rate(series.rows, series.cpu()),
                versus
            );
        }
        if let (Some(core), Some(use_case), Some(python)) =
            (report.get(PLAN_CORE, size), report.get(PLAN_USE_CASE, size), report.get(PYTHON, size))
        {
            let ratio = |a: &Series, b: &Series| b.cpu().as_secs_f64() / a.cpu().as_secs_f64().max(1e-9);
            let wall = |a: &Series, b: &Series| b.wall().as_secs_f64() / a.wall().as_secs_f64().max(1e-9);
            let _ = writeln!(
                out,
                "\nPython baseline ÷ Rust: plan core {:.1}× (CPU) / {:.1}× (wall); plan use case {:.1}× (CPU) / {:.1}× (wall).",
                ratio(core, python),
                wall(core, python),
                ratio(use_case, python),
                wall(use_case, python)
            );
        }
    }
    let _ = writeln!(out, "\n### Tile check on the embedded store (in process)\n");
    let _ = writeln!(out, "| call | calls | p50 | p99 | p99.9 | max |");
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|");
    for (name, samples) in [("one address", &report.tile.single), ("batch of 100", &report.tile.batch)] {
        let [p50, p99, p999, max] = TileLatency::summary(samples);
        let _ = writeln!(out, "| {name} | {} | {} | {} | {} | {} |", samples.len(), show(p50), show(p99), show(p999), show(max));
    }
    if !report.rss.is_empty() {
        let _ = writeln!(out, "\n### Peak memory (max RSS)\n");
        for (what, bytes) in &report.rss {
            let _ = writeln!(out, "- {what}: {:.0} MB", *bytes as f64 / 1e6);
        }
    }
    for (size, (rust, python)) in &report.plan_sha256 {
        if !rust.is_empty() && !python.is_empty() {
            let verdict = if rust == python { "the same bytes" } else { "DIFFERENT bytes: the comparison is not like for like" };
            let _ = writeln!(
                out,
                "\nplan.csv of {} rows, Rust core vs Python baseline: {verdict} (SHA-256 {}…).",
                label(*size),
                &rust[..16.min(rust.len())]
            );
        }
    }
    let _ = writeln!(out, "\nOutput fingerprints (SHA-256 prefixes): {}", report.fingerprints.join("; "));
    let _ = writeln!(out, "\n{}", result_part(report, options));
    out
}

/// This run's part of `bench/run.sh`'s last line: `RESULT_PART key=value …` (`n/a` for what was
/// not run). Rows per second are of the largest size; `core_rows_per_s` is wall time (the plan
/// core on the cores it has: its file is read on a thread of its own while the rows are checked
/// and merged, and its users planned on one thread per core), `core_1cpu_rows_per_s` rows per
/// second of CPU time, every thread's, of the plan core with its users planned on one thread
/// (what one core does; the plan core on every core when that was not run: the threads' hand-over
/// and contention cost CPU).
pub fn result_part(report: &Report, options: &Options) -> String {
    let size = options.sizes.iter().copied().max().unwrap_or(0);
    let per_second = |workload: &str, cpu: bool| {
        report.get(workload, size).map_or("n/a".to_string(), |s| {
            let time = if cpu { s.cpu() } else { s.wall() };
            format!("{:.0}", s.rows as f64 / time.as_secs_f64().max(1e-9))
        })
    };
    let python_ratio = match (report.get(PLAN_CORE, size), report.get(PYTHON, size)) {
        (Some(core), Some(python)) => format!("{:.1}", python.cpu().as_secs_f64() / core.cpu().as_secs_f64().max(1e-9)),
        _ => "n/a".to_string(),
    };
    let megabytes = |bytes: Option<u64>| bytes.map_or("n/a".to_string(), |b| format!("{:.0}", b as f64 / 1e6));
    let plan_rss = report.rss.iter().find(|(what, _)| what.starts_with("plan use-case, 1m")).map(|(_, b)| *b);
    format!(
        "RESULT_PART core_rows_per_s={} core_1cpu_rows_per_s={} python_ratio={python_ratio} plan_rss_mb_1m={} report_rss_mb_1m={} repeat_rss_mb_100k={} tenants_rows_per_s={}",
        per_second(PLAN_CORE, false),
        per_second(if report.get(PLAN_CORE_ONE_THREAD, size).is_some() { PLAN_CORE_ONE_THREAD } else { PLAN_CORE }, true),
        megabytes(plan_rss),
        megabytes(report.report_rss.filter(|_| size == 1_000_000)),
        megabytes(report.repeat_extra),
        per_second(TENANTS, true),
    )
}
