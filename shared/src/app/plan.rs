//! User-migration export → plan: validate, dedupe, map roles, compare with existing users, and
//! write plan.csv, issues.csv, summary.json, report.html (and plan.jsonl for apply). Writes
//! nothing to user data.

use super::{file_stem, json_bytes, rfc3339, AppResult, Progress, Services};
use crate::domain::building::{BuildingDirectory, BuildingState};
use crate::domain::config::Config;
use crate::domain::flows;
use crate::domain::html::{plan_report, MAX_HTML_ROWS};
use crate::domain::intake::{open_sheet, FileKind, RawRow};
use crate::domain::issue::{FileRejection, Issue, RejectionCode};
use crate::domain::migration::MigrationState;
use crate::domain::migration::{user_from_row, Deduper, MergedView, RowOutcome};
use crate::domain::plan::PlanSummary;
use crate::domain::plan::{issues_csv, plan_line_into, write_plan_csv, Action, PlanCsv, PlanEntry, PlanLine};
use crate::domain::values::{Email, MigrationId};
use crate::ports::{MigrationRecord, PortError, UserTable, USERS_PER_LOOKUP};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// The first line of `plan.jsonl`: what apply needs besides the entries.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PlanHeader {
    pub migration: MigrationId,
    pub extra_headers: Vec<String>,
    pub plan_sha256: String,
}

pub fn report_folder(migration: &MigrationId) -> String {
    crate::domain::keys::user_report_folder(migration)
}

/// A user-migration export read, validated and deduplicated: what planning starts from.
pub struct Export {
    /// Counts so far (rows, rejected, duplicates merged).
    pub summary: PlanSummary,
    /// Row issues so far, in row order.
    pub issues: Vec<Issue>,
    /// The export's columns the flow does not know, kept for plan.csv.
    pub extra_headers: Vec<String>,
    users: Deduper,
}

/// Reads the export at `key`: intake, row validation, dedupe by address. Streams the file, one
/// reused row buffer; the merged users are held compactly (see [`Deduper`]).
pub async fn read_export(svc: Services<'_>, config: &Config, migration: &MigrationId, key: &str) -> AppResult<Export> {
    let limits = config.intake_limits();
    let input = svc.objects.open(key).await?;
    let mut sheet = open_sheet(input, FileKind::Users, limits, flows::looks_like_header)?;
    let map = flows::resolve(FileKind::Users, &sheet.headers)?;
    let mut summary = PlanSummary {
        migration: migration.to_string(),
        source: key.to_string(),
        columns_read_as: map.reading_texts(),
        ..PlanSummary::default()
    };
    let mut issues = map.reading_issues();
    let mut users = Deduper::default();
    let mut row = RawRow { number: 0, cells: Vec::new() };
    while let Some(read) = sheet.read_into(&mut row) {
        read?;
        summary.rows += 1;
        match user_from_row(&map, &row, limits.max_cell_chars) {
            RowOutcome::Usable(user, row_issues) => {
                let (merged, row_issues) = users.add(user, row_issues);
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
        return Err(FileRejection::new(RejectionCode::NoRows, "The export has a header row but no users. Export the users again.").into());
    }
    Ok(Export { summary, issues, extra_headers: map.extra_headers(), users })
}

impl Export {
    /// Plans every user: existing users looked up 100 a call, roles mapped, buildings
    /// resolved, an action decided. `each` gets every line in plan.csv order (a user's first
    /// row) as it is decided; nothing is kept here but counts and issues. Returns the summary
    /// (without the SHA-256, outputs and time, which belong to the caller) and every issue,
    /// sorted by row.
    pub async fn plan<F>(self, svc: Services<'_>, config: &Config, each: F) -> AppResult<(PlanSummary, Vec<Issue>)>
    where
        F: FnMut(&PlanLine<'_>) -> std::io::Result<()>,
    {
        let buildings = svc.table.list_buildings().await?;
        self.plan_over(&buildings, svc.table, svc.progress, config, each).await
    }

    /// [`Export::plan`] with the buildings given and the existing users looked up in `table`.
    pub async fn plan_over<F>(
        self,
        buildings: &[BuildingState],
        table: &dyn UserTable,
        progress: &dyn Progress,
        config: &Config,
        mut each: F,
    ) -> AppResult<(PlanSummary, Vec<Issue>)>
    where
        F: FnMut(&PlanLine<'_>) -> std::io::Result<()>,
    {
        let Export { mut summary, mut issues, users, .. } = self;
        let directory = BuildingDirectory::new(buildings.iter().map(|b| &b.building));
        let mut counts = [0u64; Action::ALL.len()];
        // The old roles the file uses (as keys): capability gaps are reported for those only.
        let mut in_use: BTreeSet<String> = BTreeSet::new();
        let mut done = 0u64;
        // Reused from batch to batch: no allocation per user for reading it back.
        let mut chunk: Vec<MergedView<'_>> = Vec::with_capacity(USERS_PER_LOOKUP);
        let mut emails: Vec<Email> = Vec::with_capacity(USERS_PER_LOOKUP);
        for start in (0..users.len()).step_by(USERS_PER_LOOKUP) {
            let size = users.len().min(start + USERS_PER_LOOKUP) - start;
            chunk.resize_with(size, MergedView::default);
            emails.truncate(size);
            for (at, user) in chunk.iter_mut().enumerate() {
                users.view_into(start + at, user);
                match emails.get_mut(at) {
                    Some(email) => email.set_normalized(user.email),
                    None => emails.push(Email::from_normalized(user.email.to_string())),
                }
            }
            let existing = table.get_users(&emails).await?;
            let mut line = PlanLine::default();
            for user in &chunk {
                let found = existing.get(user.email);
                plan_line_into(&mut line, user, &config.matrix, &directory, found, &mut issues);
                if let Some(other) = found.and_then(|f| f.created_by.as_ref()).filter(|m| m.as_str() != summary.migration) {
                    if matches!(line.action, Action::AddRoles | Action::NoChange) {
                        issues.push(already_migrated(other, user.rows.first().copied().unwrap_or(0)));
                    }
                }
                counts[Action::ALL.iter().position(|a| *a == line.action).unwrap_or(0)] += 1;
                for role in &user.roles {
                    crate::domain::text::with_header_key(role, |key| {
                        if !in_use.contains(key) {
                            in_use.insert(key.to_string());
                        }
                    });
                }
                each(&line).map_err(unexpected)?;
            }
            done += chunk.len() as u64;
            if done % 10_000 < USERS_PER_LOOKUP as u64 {
                progress.advance("users planned", done);
            }
        }
        progress.finish("users planned");
        issues.extend(config.matrix.gap_issues(&in_use));
        summary.old_roles_used = config.matrix.used(&in_use).map(|m| m.old_role.clone()).collect();
        issues.sort_by_key(|i| (i.row.unwrap_or(0), i.code.as_str()));

        for (action, count) in Action::ALL.iter().zip(counts) {
            summary.actions.insert(action.as_str().to_string(), count);
        }
        summary.inactive_skipped = summary.actions.get(Action::SkipInactive.as_str()).copied().unwrap_or(0);
        summary.accepted = summary.rows - summary.rejected - summary.duplicates_merged - summary.inactive_skipped;
        let mut by_code: BTreeMap<String, u64> = BTreeMap::new();
        for issue in &issues {
            *by_code.entry(issue.code.as_str().to_string()).or_default() += 1;
        }
        summary.issues_by_code = by_code;
        let counts = super::count_issues(&issues);
        summary.errors = counts.errors;
        summary.warnings = counts.warnings;
        Ok((summary, issues))
    }
}

/// A plan line for someone another migration created (and invited) already.
fn already_migrated(other: &MigrationId, row: u64) -> Issue {
    Issue::warning(
        crate::domain::issue::IssueCode::AlreadyMigrated,
        format!("This person was already created and invited by migration “{other}”: this plan only adds the roles and buildings they lack, and sends no second invite."),
    )
    .at_row(row)
    .in_column("Email")
}

fn unexpected(error: impl std::fmt::Display) -> PortError {
    PortError::Unexpected(format!("writing the plan: {error}"))
}

pub async fn plan_migration(
    svc: Services<'_>,
    config: &Config,
    migration: &MigrationId,
    key: &str,
) -> AppResult<(PlanSummary, Vec<Issue>)> {
    let export = read_export(svc, config, migration, key).await?;
    let extra_headers = export.extra_headers.clone();
    // plan.jsonl starts with a header holding the plan's SHA-256, known only at the end: a
    // placeholder of the same length is written first and overwritten, so the lines are never
    // copied.
    let placeholder = PlanHeader { migration: migration.clone(), extra_headers: extra_headers.clone(), plan_sha256: "0".repeat(64) };
    let mut jsonl = serde_json::to_vec(&placeholder).map_err(unexpected)?;
    jsonl.push(b'\n');
    let header_len = jsonl.len();
    let mut csv = PlanCsv::new(Vec::new(), &extra_headers).map_err(unexpected)?;
    let mut shown: Vec<PlanEntry> = Vec::new();
    let mut users = 0usize;
    let (mut summary, issues) = export
        .plan(svc, config, |line| {
            csv.line(line)?;
            serde_json::to_writer(&mut jsonl, line)?;
            jsonl.push(b'\n');
            if shown.len() < MAX_HTML_ROWS {
                shown.push(line.to_entry());
            }
            users += 1;
            Ok(())
        })
        .await?;
    let (plan_csv, sha) = csv.finish().map_err(unexpected)?;
    summary.plan_sha256 = sha;
    let header = PlanHeader { migration: migration.clone(), extra_headers, plan_sha256: summary.plan_sha256.clone() };
    let mut first = serde_json::to_vec(&header).map_err(unexpected)?;
    first.push(b'\n');
    if first.len() == header_len {
        jsonl[..header_len].copy_from_slice(&first);
    } else {
        first.extend_from_slice(&jsonl[header_len..]);
        jsonl = first;
    }
    let now = svc.clock.now();
    summary.planned_at = rfc3339(now);

    let folder = report_folder(migration);
    summary.outputs =
        ["plan.csv", "issues.csv", "summary.json", "report.html", "plan.jsonl"].iter().map(|f| format!("{folder}/{f}")).collect();
    svc.objects.put(&format!("{folder}/plan.jsonl"), jsonl, "application/x-ndjson").await?;
    svc.objects.put(&format!("{folder}/plan.csv"), plan_csv, "text/csv").await?;
    svc.objects.put(&format!("{folder}/issues.csv"), issues_csv(&issues), "text/csv").await?;
    let report = plan_report(&summary, &config.matrix, &shown, users, &issues);
    svc.objects.put(&format!("{folder}/report.html"), report.into_bytes(), "text/html").await?;
    svc.objects.put(&format!("{folder}/summary.json"), json_bytes(&summary), "application/json").await?;

    // Record the latest plan: only an approval quoting this SHA-256 can apply it.
    let previous = svc.table.get_migration(migration).await?;
    let record = MigrationRecord {
        id: migration.clone(),
        plan_sha256: summary.plan_sha256.clone(),
        plan_key: format!("{folder}/plan.jsonl"),
        planned_at: now,
        source: key.to_string(),
        state: match &previous {
            Some(p) if p.state == MigrationState::Applied && p.approved_sha256.as_deref() == Some(summary.plan_sha256.as_str()) => {
                MigrationState::Applied
            }
            _ => MigrationState::Planned,
        },
        approved_by: previous.as_ref().and_then(|p| p.approved_by.clone()),
        approved_sha256: previous.as_ref().and_then(|p| p.approved_sha256.clone()),
        invite_date: previous.as_ref().and_then(|p| p.invite_date.clone()),
        applied_at: previous.as_ref().and_then(|p| p.applied_at),
        excluded: previous.as_ref().map(|p| p.excluded.clone()).unwrap_or_default(),
    };
    svc.table.put_migration(&record).await?;
    tracing::info!(migration = %migration, rows = summary.rows, sha = %summary.plan_sha256, source = %file_stem(key), "migration planned");
    Ok((summary, issues))
}

/// Reads `plan.jsonl` back and proves it is the plan with `expected_sha`: the CSV is rendered
/// again from the entries and hashed.
pub async fn load_plan(svc: Services<'_>, migration: &MigrationId, expected_sha: &str) -> AppResult<(PlanHeader, Vec<PlanEntry>)> {
    let bytes = svc.objects.get(&format!("{}/plan.jsonl", report_folder(migration))).await?;
    let corrupt = || {
        FileRejection::new(
            RejectionCode::PlanUnreadable,
            format!("The stored plan of migration {migration} cannot be read. Upload the export again to make a new plan."),
        )
    };
    let mut lines = bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty());
    let header: PlanHeader = serde_json::from_slice(lines.next().ok_or_else(corrupt)?).map_err(|_| corrupt())?;
    let entries = lines.map(serde_json::from_slice).collect::<Result<Vec<PlanEntry>, _>>().map_err(|_| corrupt())?;
    let sha = write_plan_csv(std::io::sink(), &header.extra_headers, &entries).map_err(|_| corrupt())?;
    if sha != expected_sha {
        return Err(FileRejection::new(
            RejectionCode::StalePlan,
            format!(
                "The stored plan of migration {migration} does not match SHA-256 {expected_sha}. Plan again and approve the new SHA-256."
            ),
        )
        .into());
    }
    Ok((header, entries))
}
