//! User-migration export → plan: validate, dedupe, map roles, compare with existing users, and
//! write plan.csv, issues.csv, summary.json, report.html (and plan.jsonl for apply). Writes
//! nothing to user data.

use super::{file_stem, json_bytes, rfc3339, AppResult, Services};
use crate::domain::building::BuildingDirectory;
use crate::domain::config::Config;
use crate::domain::html::{plan_report, PlanSummary};
use crate::domain::intake::{open_sheet, ColumnMap, FileKind};
use crate::domain::issue::{FileRejection, Issue, IssueCode};
use crate::domain::migration::{user_from_row, Deduper, RowOutcome, USER_COLUMNS};
use crate::domain::plan::{issues_csv, plan_user, write_plan_csv, Action, PlanEntry};
use crate::domain::values::{Email, MigrationId};
use crate::ports::MigrationRecord;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The first line of `plan.jsonl`: what apply needs besides the entries.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PlanHeader {
    pub migration: MigrationId,
    pub extra_headers: Vec<String>,
    pub plan_sha256: String,
}

pub fn report_folder(migration: &MigrationId) -> String {
    format!("reports/users/{migration}")
}

pub async fn plan_migration(
    svc: Services<'_>,
    config: &Config,
    migration: &MigrationId,
    key: &str,
) -> AppResult<(PlanSummary, Vec<Issue>)> {
    let limits = config.intake_limits();
    let input = svc.objects.open(key).await?;
    let sheet = open_sheet(input, FileKind::Users, limits, |h| ColumnMap::has_required(USER_COLUMNS, h))?;
    let map = ColumnMap::resolve(USER_COLUMNS, &sheet.headers)?;
    let mut summary = PlanSummary { migration: migration.to_string(), source: key.to_string(), ..PlanSummary::default() };
    let mut issues = Vec::new();
    let mut dedupe = Deduper::default();
    for row in sheet {
        let row = row?;
        summary.rows += 1;
        match user_from_row(&map, &row, limits.max_cell_chars) {
            RowOutcome::Usable(user, row_issues) => {
                let (merged, row_issues) = dedupe.add(user, row_issues);
                if merged {
                    summary.duplicates_merged += 1;
                }
                issues.extend(row_issues);
            }
            RowOutcome::Rejected(row_issues) => {
                summary.rejected += 1;
                issues.extend(row_issues);
            }
        }
        if summary.rows.is_multiple_of(10_000) {
            svc.progress.advance("rows read", summary.rows);
        }
    }
    svc.progress.finish("rows read");
    if summary.rows == 0 {
        return Err(FileRejection::new("no_rows", "The export has a header row but no users. Export the users again.").into());
    }

    let buildings = svc.table.list_buildings().await?;
    let directory = BuildingDirectory::new(buildings.iter().map(|b| &b.building));
    let users = dedupe.into_users();
    let mut entries: Vec<PlanEntry> = Vec::with_capacity(users.len());
    let mut done = 0u64;
    let mut users = users.into_iter().peekable();
    while users.peek().is_some() {
        let chunk: Vec<_> = users.by_ref().take(100).collect();
        let emails: Vec<Email> = chunk.iter().map(|u| u.email.clone()).collect();
        let existing = svc.table.get_users(&emails).await?;
        for user in chunk {
            let current = existing.get(&user.email);
            entries.push(plan_user(user, &config.matrix, &directory, current, &mut issues));
        }
        done += emails.len() as u64;
        if done % 10_000 < 100 {
            svc.progress.advance("users planned", done);
        }
    }
    svc.progress.finish("users planned");
    add_gap_issues(config, &entries, &mut issues);
    issues.sort_by_key(|i| (i.row.unwrap_or(0), i.code.as_str()));

    for action in Action::ALL {
        summary.actions.insert(action.as_str().to_string(), 0);
    }
    for entry in &entries {
        *summary.actions.entry(entry.action.as_str().to_string()).or_default() += 1;
    }
    summary.inactive_skipped = entries.iter().filter(|e| e.action == Action::SkipInactive).count() as u64;
    summary.accepted = summary.rows - summary.rejected - summary.duplicates_merged - summary.inactive_skipped;
    let mut by_code: BTreeMap<String, u64> = BTreeMap::new();
    for issue in &issues {
        *by_code.entry(issue.code.as_str().to_string()).or_default() += 1;
    }
    summary.issues_by_code = by_code;
    let counts = super::count_issues(&issues);
    summary.errors = counts.errors;
    summary.warnings = counts.warnings;
    let now = svc.clock.now();
    summary.planned_at = rfc3339(now);

    let extra_headers = map.extra_headers();
    let mut plan_csv = Vec::new();
    summary.plan_sha256 =
        write_plan_csv(&mut plan_csv, &extra_headers, &entries).map_err(|e| crate::ports::PortError::Unexpected(e.to_string()))?;
    let folder = report_folder(migration);
    summary.outputs =
        ["plan.csv", "issues.csv", "summary.json", "report.html", "plan.jsonl"].iter().map(|f| format!("{folder}/{f}")).collect();
    let header = PlanHeader { migration: migration.clone(), extra_headers, plan_sha256: summary.plan_sha256.clone() };
    svc.objects.put(&format!("{folder}/plan.jsonl"), plan_jsonl(&header, &entries), "application/x-ndjson").await?;
    svc.objects.put(&format!("{folder}/plan.csv"), plan_csv, "text/csv").await?;
    svc.objects.put(&format!("{folder}/issues.csv"), issues_csv(&issues), "text/csv").await?;
    svc.objects
        .put(&format!("{folder}/report.html"), plan_report(&summary, &config.matrix, &entries, &issues).into_bytes(), "text/html")
        .await?;
    svc.objects.put(&format!("{folder}/summary.json"), json_bytes(&summary), "application/json").await?;

    // Record the latest plan: only an approval quoting this SHA-256 can apply it.
    let previous = svc.table.get_migration(migration).await?;
    let record = MigrationRecord {
        id: migration.clone(),
        plan_sha256: summary.plan_sha256.clone(),
        plan_key: format!("{folder}/plan.jsonl"),
        planned_at: summary.planned_at.clone(),
        source: key.to_string(),
        state: match &previous {
            Some(p) if p.state == "applied" && p.approved_sha256.as_deref() == Some(summary.plan_sha256.as_str()) => "applied".into(),
            _ => "planned".into(),
        },
        approved_by: previous.as_ref().and_then(|p| p.approved_by.clone()),
        approved_sha256: previous.as_ref().and_then(|p| p.approved_sha256.clone()),
        invite_date: previous.as_ref().and_then(|p| p.invite_date.clone()),
        applied_at: previous.as_ref().and_then(|p| p.applied_at.clone()),
        excluded: previous.as_ref().map(|p| p.excluded.clone()).unwrap_or_default(),
    };
    svc.table.put_migration(&record).await?;
    tracing::info!(migration = %migration, rows = summary.rows, sha = %summary.plan_sha256, source = %file_stem(key), "migration planned");
    Ok((summary, issues))
}

/// One warning per old role in use whose platform roles do not cover its capabilities.
fn add_gap_issues(config: &Config, entries: &[PlanEntry], issues: &mut Vec<Issue>) {
    let in_use: std::collections::BTreeSet<&str> = entries.iter().flat_map(|e| e.platform_roles.iter().map(String::as_str)).collect();
    for mapping in config.matrix.mappings() {
        let used = mapping.platform_roles.iter().any(|r| in_use.contains(r.as_str()));
        if used && !mapping.gap.is_empty() {
            issues.push(
                Issue::warning(
                    IssueCode::CapabilityGap,
                    format!(
                        "Users with the old role “{}” lose {} on the platform ({} do not give it). Map the role to a platform role that does, or accept the gap.",
                        mapping.old_role,
                        mapping.gap.iter().cloned().collect::<Vec<_>>().join(", "),
                        mapping.platform_roles.join(", ")
                    ),
                )
                .in_column("Role(s)")
                .with_value(&mapping.old_role),
            );
        }
    }
}

fn plan_jsonl(header: &PlanHeader, entries: &[PlanEntry]) -> Vec<u8> {
    let mut out = serde_json::to_vec(header).unwrap_or_default();
    out.push(b'\n');
    for entry in entries {
        if let Ok(line) = serde_json::to_vec(entry) {
            out.extend_from_slice(&line);
            out.push(b'\n');
        }
    }
    out
}

/// Reads `plan.jsonl` back and proves it is the plan with `expected_sha`: the CSV is rendered
/// again from the entries and hashed.
pub async fn load_plan(svc: Services<'_>, migration: &MigrationId, expected_sha: &str) -> AppResult<(PlanHeader, Vec<PlanEntry>)> {
    let bytes = svc.objects.get(&format!("{}/plan.jsonl", report_folder(migration))).await?;
    let corrupt = || {
        FileRejection::new(
            "plan_unreadable",
            format!("The stored plan of migration {migration} cannot be read. Upload the export again to make a new plan."),
        )
    };
    let mut lines = bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty());
    let header: PlanHeader = serde_json::from_slice(lines.next().ok_or_else(corrupt)?).map_err(|_| corrupt())?;
    let entries = lines.map(serde_json::from_slice).collect::<Result<Vec<PlanEntry>, _>>().map_err(|_| corrupt())?;
    let sha = write_plan_csv(std::io::sink(), &header.extra_headers, &entries).map_err(|_| corrupt())?;
    if sha != expected_sha {
        return Err(FileRejection::new(
            "stale_plan",
            format!(
                "The stored plan of migration {migration} does not match SHA-256 {expected_sha}. Plan again and approve the new SHA-256."
            ),
        )
        .into());
    }
    Ok((header, entries))
}
