//! The benchmark itself, on a small world: every workload runs and is measured, and the Python
//! baseline plans exactly the bytes the Rust core plans (so the ratios compare like with like).

use bench::run::{
    run, Options, PLAN_CORE, PLAN_CORE_MEMORY, PLAN_CORE_ONE_THREAD, PLAN_USE_CASE, PYTHON, RAW_TENANTS, RAW_USERS, READ_EXPORT, TENANTS,
};
use std::path::PathBuf;

#[tokio::test]
async fn a_small_run_measures_every_workload_and_the_baseline_plans_the_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let size = 3_000;
    let options = Options {
        dir: dir.path().to_path_buf(),
        seed: 11,
        sizes: vec![size],
        rounds: 1,
        tile_calls: 200,
        python: true,
        rss: false,
        script: root.join("bench/baseline/plan.py"),
        only: Vec::new(),
    };
    let report = run(&options).await.unwrap();
    for workload in [RAW_USERS, PLAN_CORE, PLAN_CORE_ONE_THREAD, PLAN_CORE_MEMORY, READ_EXPORT, PLAN_USE_CASE, PYTHON, RAW_TENANTS, TENANTS]
    {
        let series = report.get(workload, size).unwrap_or_else(|| panic!("{workload} was not measured"));
        assert_eq!(series.runs.len(), 1, "{workload}");
        assert!(series.cpu() > std::time::Duration::ZERO, "{workload}");
    }
    // Raw parse counts the header line too; every other workload counts data rows.
    assert_eq!(report.get(RAW_USERS, size).unwrap().rows, size + 1);
    assert_eq!(report.get(PLAN_CORE, size).unwrap().rows, size);
    assert_eq!(report.get(PLAN_CORE_ONE_THREAD, size).unwrap().rows, size);
    assert_eq!(report.get(PYTHON, size).unwrap().rows, size);
    let (rust, python) = &report.plan_sha256[&size];
    assert_eq!(rust.len(), 64);
    assert_eq!(rust, python, "the Python baseline must plan the same plan.csv as the Rust core");
    assert_eq!(report.tile.single.len(), 200);
    let markdown = bench::run::markdown(&report, &options);
    assert!(markdown.contains("the same bytes"), "{markdown}");
}

/// The dispatch simulation, small: two scheduled runs at 5 mails a second send within the
/// quota, each invite once, and use the runs' time (30 s of margin, 1 s of start-up a run).
#[test]
fn the_dispatch_simulation_sends_each_invite_once_within_the_quota() {
    let dir = tempfile::tempdir().unwrap();
    let spec = bench::dispatch_sim::DispatchSpec {
        quota: 5.0,
        runs: 2,
        send: std::time::Duration::from_millis(100),
        start_up: std::time::Duration::from_secs(1),
    };
    let run = bench::dispatch_sim::simulated_dispatch(&dir.path().join("sim"), spec).unwrap();
    assert_eq!((run.throttled, run.repeats), (0, 0));
    // 869 s of every 900 can send, a send at each end: (5 × 869 + 1) × 2 = 8,692 at most.
    assert!((8_600..=8_692).contains(&run.sent), "{} sent", run.sent);
    assert!(run.share(5.0) > 0.95, "{}", run.share(5.0));
}
