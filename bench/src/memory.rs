//! Peak memory of one plan, measured in a child process of its own (so nothing the benchmark
//! itself holds counts): the child runs the workload once and reports its VmHWM.

use crate::fixture::{label, Fixture};
use crate::options::Options;
use std::process::Command;

/// Runs `bench rss-child --mode MODE --rows N ...` and returns the child's peak RSS in bytes.
pub fn child_peak(options: &Options, mode: &str, rows: u64) -> Result<u64, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let sizes: Vec<String> = options.sizes.iter().map(|s| s.to_string()).collect();
    let output = Command::new(exe)
        .args(["rss-child", "--mode", mode, "--rows", &rows.to_string(), "--seed", &options.seed.to_string()])
        .args(["--sizes", &sizes.join(",")])
        .arg("--dir")
        .arg(&options.dir)
        .output()
        .map_err(|e| format!("cannot start the memory child: {e}"))?;
    let text = String::from_utf8_lossy(&output.stdout);
    text.split_whitespace()
        .find_map(|w| w.strip_prefix("peak_rss="))
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| format!("the memory child ({mode}, {}) failed: {}", label(rows), String::from_utf8_lossy(&output.stderr)))
}

/// In the child: runs the workload once and prints `peak_rss=BYTES`.
pub async fn child(options: &Options, mode: &str, rows: u64) -> Result<(), String> {
    let mut fixture = Fixture::prepare(&options.dir, options.seed, &options.sizes).await?;
    // The existing users in a map serve only the parent's database-free core; what the child
    // measures reads them from the table.
    fixture.memory_users = Default::default();
    // The embedded table maps up to 256 MiB of its file, which would count as the workload's:
    // on AWS the table is DynamoDB and nothing is mapped.
    fixture.state.table.without_memory_map().map_err(crate::fixture::err)?;
    fixture.report_table.without_memory_map().map_err(crate::fixture::err)?;
    let set_up = crate::timing::peak_rss();
    if !crate::timing::reset_peak_rss() {
        eprintln!("the peak memory could not be reset: it includes the set-up's ({} MB)", set_up >> 20);
    }
    let before = crate::timing::peak_rss();
    match mode {
        "core" => crate::workloads::plan_core(&fixture, rows, crate::workloads::Lookups::Sqlite, None).await.map(|_| ())?,
        "use-case" => crate::workloads::plan_use_case(&fixture, rows).await.map(|_| ())?,
        "read" => crate::workloads::read_only(&fixture, rows).await.map(|_| ())?,
        "report" => crate::workloads::validation(&fixture).await.map(|_| ())?,
        "repeat" => crate::workloads::repeated_address(&fixture, rows).await.map(|_| ())?,
        other => return Err(format!("unknown mode {other}")),
    }
    // What is resident at the end, by kind (on stderr, for reading a surprising peak).
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    eprintln!("{}", status.lines().filter(|l| l.starts_with("Rss")).collect::<Vec<_>>().join(" "));
    println!("peak_rss={} before_plan={before} set_up={set_up}", crate::timing::peak_rss());
    Ok(())
}
