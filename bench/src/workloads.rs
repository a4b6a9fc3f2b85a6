//! What the benchmark measures. Each workload runs once per call, single-threaded, on the
//! embedded adapters of a [`Fixture`].

use crate::fixture::{err, migration, tenants_key, users_key, Fixture};
use crate::timing::{quantile, timed, Timing};
use onboarding::domain::intake::{open_sheet, ColumnMap, FileKind, IntakeLimits, RawRow};
use onboarding::domain::tenants::{contact_from_row, ContactSet, TENANT_COLUMNS};
use onboarding::domain::values::{Email, MigrationId};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// The floor: every record of the file through `csv::ByteRecord`, nothing else.
pub fn raw_parse(path: &Path) -> Result<u64, String> {
    let file = std::fs::File::open(path).map_err(err)?;
    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).buffer_capacity(256 * 1024).from_reader(file);
    let mut record = csv::ByteRecord::new();
    let mut rows = 0u64;
    while reader.read_byte_record(&mut record).map_err(err)? {
        rows += 1;
    }
    Ok(rows)
}

/// The plan use case exactly as `onboard ingest users` runs it: intake, validation, dedupe,
/// role mapping, existing users looked up in the SQLite table (100 a call), and every output
/// (plan.csv with its SHA-256, plan.jsonl, issues.csv, report.html, summary.json) written to the
/// bucket folder, and the migration record stored.
pub async fn plan_use_case(fixture: &Fixture, rows: u64) -> Result<(u64, String), String> {
    let (summary, _) =
        onboarding::app::plan::plan_migration(fixture.svc(), &fixture.config, &migration(rows), &users_key(rows)).await.map_err(err)?;
    Ok((summary.rows, summary.plan_sha256))
}

/// The plan use case on an export whose `rows` rows all carry one address (a shared front-desk
/// mailbox): the first data row of the bench's export, repeated.
pub async fn repeated_address(fixture: &Fixture, rows: u64) -> Result<u64, String> {
    use std::io::BufRead;
    let export = [100_000, 1_000_000].map(|n| fixture.path(&users_key(n))).into_iter().find(|p| p.exists()).ok_or("no users export")?;
    let source = std::io::BufReader::new(std::fs::File::open(export).map_err(err)?);
    let mut lines = source.lines();
    let header = lines.next().ok_or("the users export is empty")?.map_err(err)?;
    let row = lines.next().ok_or("the users export has no rows")?.map_err(err)?;
    let key = format!("inbox/users/bench-repeat-{rows}/users.csv");
    let path = fixture.path(&key);
    std::fs::create_dir_all(path.parent().ok_or("no folder")?).map_err(err)?;
    let mut out = std::io::BufWriter::new(std::fs::File::create(&path).map_err(err)?);
    use std::io::Write;
    writeln!(out, "{header}").map_err(err)?;
    for _ in 0..rows {
        writeln!(out, "{row}").map_err(err)?;
    }
    out.flush().map_err(err)?;
    drop(out);
    let migration = onboarding::domain::values::MigrationId::parse(&format!("bench-repeat-{rows}")).map_err(err)?;
    let (summary, _) = onboarding::app::plan::plan_migration(fixture.svc(), &fixture.config, &migration, &key).await.map_err(err)?;
    Ok(summary.rows)
}

/// Makes sure the plan of the `rows` export is applied to the validation report's table (once;
/// a marker file remembers it), so the report has a migration of that size to check. Planned
/// and applied there under a migration of its own (`bench-report-…`), so the plans measured
/// keep their outputs and their existing users.
pub async fn applied_plan(fixture: &Fixture, rows: u64) -> Result<(), String> {
    let marker = fixture.dir.join(format!("report-applied-{}.done", crate::fixture::label(rows)));
    if marker.exists() {
        return Ok(());
    }
    let svc = fixture.report_svc();
    fixture.load_buildings(fixture.report_svc()).await?;
    let migration = MigrationId::parse(&format!("bench-report-{}", crate::fixture::label(rows))).map_err(err)?;
    let (summary, _) = onboarding::app::plan::plan_migration(svc, &fixture.config, &migration, &users_key(rows)).await.map_err(err)?;
    let approval = onboarding::domain::approval::Approval {
        migration,
        plan_sha256: summary.plan_sha256,
        approved_by: "bench".into(),
        invite_date: Some(time::OffsetDateTime::now_utc().date() + time::Duration::days(3650)),
        exclude: Vec::new(),
    };
    onboarding::app::apply::apply_approval(fixture.report_svc(), &approval).await.map_err(err)?;
    std::fs::write(marker, "applied").map_err(err)
}

/// The validation report over everything applied in the report's table.
pub async fn validation(fixture: &Fixture) -> Result<u64, String> {
    let (report, _) = onboarding::app::validate::validation_report(fixture.report_svc(), &fixture.config).await.map_err(err)?;
    Ok(report.migrations.iter().map(|m| m.users_checked).sum())
}

/// Tenant-contact intake: read, validate, normalise phones to E.164, dedupe by address.
pub fn tenants_intake(fixture: &Fixture, rows: u64) -> Result<u64, String> {
    let file = std::fs::File::open(fixture.path(&tenants_key(rows))).map_err(err)?;
    let input = std::io::BufReader::with_capacity(256 * 1024, file);
    let mut sheet =
        open_sheet(input, FileKind::Tenants, IntakeLimits::default(), |h| ColumnMap::has_required(TENANT_COLUMNS, h)).map_err(err)?;
    let map = ColumnMap::resolve(TENANT_COLUMNS, &sheet.headers).map_err(err)?;
    let mut set = ContactSet::default();
    let mut read = 0u64;
    let mut row = RawRow::default();
    while let Some(next) = sheet.read_into(&mut row) {
        next.map_err(err)?;
        read += 1;
        if let Ok((contact, _)) = contact_from_row(&map, &row, fixture.config.phone_region) {
            set.add(row.number, contact);
        }
    }
    Ok(read)
}

/// Latencies of tile checks: single addresses and batches of 100.
#[derive(Debug, Clone, Default)]
pub struct TileLatency {
    pub single: Vec<Duration>,
    pub batch: Vec<Duration>,
}

impl TileLatency {
    pub fn summary(samples: &[Duration]) -> [Duration; 4] {
        let mut sorted = samples.to_vec();
        sorted.sort();
        [quantile(&sorted, 0.5), quantile(&sorted, 0.99), quantile(&sorted, 0.999), sorted.last().copied().unwrap_or_default()]
    }
}

/// `calls` single checks (7 in 10 of a granted contact, 2 of a stranger, 1 in an unknown
/// building) and `calls / 50` batches of 100, each timed on its own.
pub async fn tile_checks(fixture: &Fixture, calls: usize) -> Result<TileLatency, String> {
    let unknown = onboarding::domain::values::BuildingId::parse("00000000-0000-4000-8000-000000000000").map_err(err)?;
    let mut rng = crate::rng::Rng::new(fixture.seed ^ 0x711e);
    let pick = |rng: &mut crate::rng::Rng| -> Email {
        if rng.chance(0.78) {
            rng.pick(&fixture.granted).clone()
        } else {
            rng.pick(&fixture.strangers).clone()
        }
    };
    let table = &fixture.state.table;
    let mut latency = TileLatency::default();
    // Warm up the statement cache and the pages, as a running function would be.
    for _ in 0..200 {
        let email = pick(&mut rng);
        onboarding::app::tile::check_tile(table, &fixture.tile_building, &[email]).await.map_err(err)?;
    }
    for _ in 0..calls {
        let building = if rng.chance(0.1) { &unknown } else { &fixture.tile_building };
        let email = [pick(&mut rng)];
        let start = Instant::now();
        let answers = onboarding::app::tile::check_tile(table, building, &email).await.map_err(err)?;
        latency.single.push(start.elapsed());
        std::hint::black_box(answers);
    }
    for _ in 0..(calls / 50).max(1) {
        let emails: Vec<Email> = (0..100).map(|_| pick(&mut rng)).collect();
        let start = Instant::now();
        let answers = onboarding::app::tile::check_tile(table, &fixture.tile_building, &emails).await.map_err(err)?;
        latency.batch.push(start.elapsed());
        std::hint::black_box(answers);
    }
    Ok(latency)
}

/// The Python baseline (`bench/baseline/plan.py`) on the same export, the same configuration
/// and the same SQLite table. Returns its rows, the SHA-256 of its plan.csv, its peak RSS (as
/// it reports it) and its timing (wall, and the child's CPU time from getrusage).
pub fn python_plan(fixture: &Fixture, rows: u64, script: &Path) -> Result<(u64, String, u64, Timing), String> {
    let out = fixture.dir.join(format!("python-plan-{}.csv", crate::fixture::label(rows)));
    let before = crate::timing::children_cpu();
    let start = Instant::now();
    let output = Command::new(std::env::var("PYTHON").unwrap_or_else(|_| "python3".into()))
        .arg(script)
        .arg(fixture.path(&users_key(rows)))
        .arg(fixture.path("config"))
        .arg(fixture.path("inbox/buildings/bench-buildings.csv"))
        .arg(fixture.dir.join("state/table.sqlite"))
        .arg(&out)
        .output()
        .map_err(|e| format!("cannot run python3: {e}"))?;
    let wall = start.elapsed();
    let cpu = crate::timing::children_cpu().saturating_sub(before);
    if !output.status.success() {
        return Err(format!("plan.py failed: {}", String::from_utf8_lossy(&output.stderr)));
    }
    let text = String::from_utf8_lossy(&output.stdout);
    let field = |name: &str| text.split_whitespace().find_map(|w| w.strip_prefix(name)).unwrap_or_default().to_string();
    let read = field("rows=").parse().unwrap_or(0);
    let rss = field("maxrss_kb=").parse::<u64>().unwrap_or(0) * 1024;
    Ok((read, field("sha256="), rss, Timing { wall, cpu }))
}

/// Runs `work` on this thread and returns its rows and timing.
pub fn measure(work: impl FnOnce() -> Result<u64, String>) -> Result<(u64, Timing), String> {
    let (rows, timing) = timed(work);
    Ok((rows?, timing))
}

/// Where the plan core looks existing users up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookups {
    /// The embedded adapter: the SQLite table, 100 addresses a call.
    Sqlite,
    /// A `HashMap` holding the same users: the core's own cost, no database.
    Memory,
}

/// The plan core: intake → validate → dedupe → existing users looked up 100 a call → roles
/// mapped, buildings resolved, actions decided → plan.csv streamed to a file with its SHA-256.
/// The use case's own code (`read_export`, `Export::plan_over`), without the other outputs,
/// which the object-store port takes as whole byte buffers. Planned on `threads` threads, or as
/// the use case plans (one per core) when `None`.
pub async fn plan_core(fixture: &Fixture, rows: u64, lookups: Lookups, threads: Option<usize>) -> Result<(u64, String), String> {
    let mut export =
        onboarding::app::plan::read_export(fixture.svc(), &fixture.config, &migration(rows), &users_key(rows)).await.map_err(err)?;
    if let Some(threads) = threads {
        export = export.with_threads(threads);
    }
    let users: &dyn onboarding::ports::UserTable = match lookups {
        Lookups::Sqlite => &fixture.state.table,
        Lookups::Memory => &fixture.memory_users,
    };
    let out = std::fs::File::create(fixture.dir.join(format!("core-plan-{}.csv", crate::fixture::label(rows)))).map_err(err)?;
    plan_pass(fixture, export, users, std::io::BufWriter::with_capacity(256 * 1024, out)).await
}

/// The plan core's second half over a read export: existing users looked up through `users`,
/// plan.csv written to `sink`. Answers the rows planned and the file's SHA-256.
pub async fn plan_pass<W: std::io::Write + Send>(
    fixture: &Fixture,
    export: onboarding::app::plan::Export,
    users: &dyn onboarding::ports::UserTable,
    sink: W,
) -> Result<(u64, String), String> {
    use onboarding::domain::plan::PlanCsv;
    use onboarding::ports::BuildingTable;
    let buildings = fixture.state.table.list_buildings().await.map_err(err)?;
    let mut csv = PlanCsv::new(sink, &export.extra_headers).map_err(err)?;
    let (summary, _issues) = export.plan_over(&buildings, users, fixture.svc().progress, &fixture.config, &mut csv).await.map_err(err)?;
    let (_, sha) = csv.finish().map_err(err)?;
    Ok((summary.rows, sha))
}

/// Intake alone: read, validate and dedupe the export (the first half of the core).
pub async fn read_only(fixture: &Fixture, rows: u64) -> Result<u64, String> {
    let export =
        onboarding::app::plan::read_export(fixture.svc(), &fixture.config, &migration(rows), &users_key(rows)).await.map_err(err)?;
    Ok(export.summary.rows)
}
