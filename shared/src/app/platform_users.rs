//! A platform-users export → the platform's existing users, as a snapshot: each becomes a known
//! user with its roles and buildings, so plans give them `add_roles` or `no_change` and never a
//! second account and invite. A newer snapshot replaces the older one: users it no longer has
//! are forgotten (unless this product created them), with the replace-mode guard against a
//! truncated file.

use super::{count_issues, file_stem, stamp, AppResult, IssueCounts, Services};
use crate::domain::building::BuildingDirectory;
use crate::domain::config::Config;
use crate::domain::flows;
use crate::domain::intake::{open_sheet, FileKind, RawRow};
use crate::domain::issue::{FileRejection, Issue, IssueCode, RejectionCode, Severity};
use crate::domain::keys;
use crate::domain::migration::{user_from_row, RowOutcome};
use crate::domain::platform_users::{PlatformUser, SnapshotMark};
use crate::domain::tenants::{check_revocations, RevokeCheck};
use crate::domain::values::Email;
use serde::Serialize;
use std::collections::{BTreeMap, HashSet};

#[derive(Debug, Clone, Serialize)]
pub struct PlatformUsersOutcome {
    pub rows: u64,
    pub accepted: u64,
    pub rejected: u64,
    pub duplicates_merged: u64,
    /// Users in this snapshot.
    pub users: u64,
    /// Users the last snapshot had and this one does not: no longer known (unless this product
    /// created them).
    pub dropped: u64,
    /// The guard's figures (when there was a snapshot before).
    pub drop_check: Option<RevokeCheck>,
    pub columns_read_as: Vec<String>,
    pub issue_counts: IssueCounts,
    pub issues: Vec<Issue>,
    pub outputs: Vec<String>,
}

/// Reads the snapshot at `key` and makes it the platform's known users. `force` passes the
/// guard that refuses to forget more than `revoke_threshold_percent` of the last snapshot.
pub async fn ingest_platform_users(svc: Services<'_>, config: &Config, key: &str, force: bool) -> AppResult<PlatformUsersOutcome> {
    let limits = config.intake_limits();
    let sheet = open_sheet(svc.objects.open(key).await?, FileKind::Users, limits, flows::looks_like_header)?;
    // The same columns as a user-migration export: Email, names, Role(s), Building
    // assignments, Status; the roles are the platform's own.
    let map = flows::resolve(FileKind::Users, &sheet.headers)?;
    let buildings = svc.table.list_buildings().await?;
    let directory = BuildingDirectory::new(buildings.iter().map(|b| &b.building));
    let now = svc.clock.now();
    let mut users: BTreeMap<Email, PlatformUser> = BTreeMap::new();
    let mut issues = map.reading_issues();
    let (mut rows, mut rejected, mut merged) = (0u64, 0u64, 0u64);
    let mut row = RawRow { number: 0, cells: Vec::new() };
    let mut sheet = sheet;
    while let Some(read) = sheet.read_into(&mut row) {
        read?;
        rows += 1;
        match user_from_row(&map, &row, limits.max_cell_chars) {
            RowOutcome::Usable(found, row_issues) => {
                // A snapshot says who exists; a row problem (an unclear status, say) does not
                // make the person less real, so it is a warning here.
                issues.extend(row_issues.into_iter().map(|issue| Issue { severity: Severity::Warning, ..issue }));
                let mut known_buildings = std::collections::BTreeSet::new();
                for reference in &found.buildings {
                    match directory.resolve(reference) {
                        Some(id) => {
                            known_buildings.insert(id.clone());
                        }
                        None => issues.push(
                            Issue::warning(
                                IssueCode::UnknownBuilding,
                                format!("“{reference}” is not a known building; the user is loaded without it. Load the buildings file first, or use the building's UUID."),
                            )
                            .at_row(found.row)
                            .in_column("Building assignments")
                            .with_value(reference),
                        ),
                    }
                }
                let roles = found.roles.iter().map(|r| r.trim().to_string()).filter(|r| !r.is_empty());
                let email = Email::from_normalized(found.email.into_owned());
                match users.get_mut(&email) {
                    Some(user) => {
                        merged += 1;
                        user.roles.extend(roles);
                        user.buildings.extend(known_buildings);
                    }
                    None => {
                        let user = PlatformUser {
                            email: email.clone(),
                            first_name: found.first_name.trim().to_string(),
                            last_name: found.last_name.trim().to_string(),
                            roles: roles.collect(),
                            buildings: known_buildings,
                            snapshot: SnapshotMark { file: key.to_string(), row: found.row, at: now },
                        };
                        users.insert(email, user);
                    }
                }
            }
            RowOutcome::Rejected(row_issues) => {
                rejected += 1;
                issues.extend(row_issues);
            }
        }
        svc.progress.advance("platform users read", rows);
    }
    svc.progress.finish("platform users read");
    if users.is_empty() {
        return Err(FileRejection::new(
            RejectionCode::NoRows,
            "The platform-users export has no usable rows. Export the platform's users again (one row per user, with their e-mail address); an empty snapshot is never applied, since it would forget every user.",
        )
        .into());
    }
    let previous = svc.table.platform_members().await?;
    let dropped: Vec<Email> = previous.iter().filter(|m| !users.contains_key(&m.email)).map(|m| m.email.clone()).collect();
    let drop_check =
        (!previous.is_empty()).then(|| check_revocations(previous.len(), dropped.len(), config.settings.revoke_threshold_percent, force));
    if let Some(check) = drop_check.as_ref().filter(|c| !c.allowed) {
        return Err(FileRejection::new(
            RejectionCode::RevokeGuard,
            format!(
                "This snapshot would forget {} of the {} platform users the last one had ({:.0} %), more than the allowed {:.0} %. Nothing was changed. If the export is complete and those users left the platform, upload it again under inbox/platform-users/force/ (locally: --force); otherwise check the file is not truncated.",
                check.to_revoke, check.current, check.share_percent, check.threshold_percent
            ),
        )
        .into());
    }
    let loaded: Vec<PlatformUser> = users.into_values().collect();
    for chunk in loaded.chunks(500) {
        svc.table.load_platform_users(chunk).await?;
    }
    if !dropped.is_empty() {
        svc.table.drop_platform_users(&dropped).await?;
    }
    let seen: HashSet<&Email> = loaded.iter().map(|u| &u.email).collect();
    issues.sort_by_key(|i| i.row.unwrap_or(0));
    let folder = keys::platform_report_folder(&stamp(now), &file_stem(key));
    let mut outcome = PlatformUsersOutcome {
        rows,
        accepted: rows - rejected - merged,
        rejected,
        duplicates_merged: merged,
        users: seen.len() as u64,
        dropped: dropped.len() as u64,
        drop_check,
        columns_read_as: map.reading_texts(),
        issue_counts: count_issues(&issues),
        issues,
        outputs: vec![format!("{folder}/issues.csv"), format!("{folder}/summary.json")],
    };
    super::buildings::write_row_report(svc, &folder, &outcome.issues, &outcome).await?;
    outcome.outputs.sort();
    tracing::info!(users = outcome.users, dropped = outcome.dropped, "platform users loaded");
    Ok(outcome)
}
