//! The benchmark itself, on a small world: every workload runs and is measured, and the Python
//! baseline plans exactly the bytes the Rust core plans (so the ratios compare like with like).

use bench::run::{run, Options, PLAN_CORE, PLAN_CORE_MEMORY, PLAN_USE_CASE, PYTHON, RAW_TENANTS, RAW_USERS, READ_EXPORT, TENANTS};
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
    for workload in [RAW_USERS, PLAN_CORE, PLAN_CORE_MEMORY, READ_EXPORT, PLAN_USE_CASE, PYTHON, RAW_TENANTS, TENANTS] {
        let series = report.get(workload, size).unwrap_or_else(|| panic!("{workload} was not measured"));
        assert_eq!(series.runs.len(), 1, "{workload}");
        assert!(series.cpu() > std::time::Duration::ZERO, "{workload}");
    }
    // Raw parse counts the header line too; every other workload counts data rows.
    assert_eq!(report.get(RAW_USERS, size).unwrap().rows, size + 1);
    assert_eq!(report.get(PLAN_CORE, size).unwrap().rows, size);
    assert_eq!(report.get(PYTHON, size).unwrap().rows, size);
    let (rust, python) = &report.plan_sha256[&size];
    assert_eq!(rust.len(), 64);
    assert_eq!(rust, python, "the Python baseline must plan the same plan.csv as the Rust core");
    assert_eq!(report.tile.single.len(), 200);
    let markdown = bench::run::markdown(&report, &options);
    assert!(markdown.contains("the same bytes"), "{markdown}");
}
