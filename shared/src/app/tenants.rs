//! Tenant contacts file → contacts and tile grants for one building, and the Envoy import file.

use super::{count_issues, file_stem, stamp, AppResult, IssueCounts, Services};
use crate::domain::building::TilePolicy;
use crate::domain::config::Config;
use crate::domain::flows;
use crate::domain::html::{tenants_report, TenantReport};
use crate::domain::intake::{open_sheet, FileKind, RawRow};
use crate::domain::issue::{FileRejection, Issue, RejectionCode};
use crate::domain::keys;
use crate::domain::tenants::{
    check_export, check_revocations, contact_from_row, envoy_export_emails, envoy_import_csv, ContactSet, RejectedRows, RevokeCheck,
    TenantContact,
};
use crate::domain::values::{BuildingId, Email};
use crate::ports::PortError;
use serde::Serialize;

#[derive(Debug, Clone, Copy, Default)]
pub struct TenantOptions {
    /// Revoke contacts that are not in the file.
    pub replace: bool,
    /// Revoke, or drop people from the Envoy import file, even past the configured share.
    pub force: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct TenantsOutcome {
    pub building: String,
    /// The building's name, as stored.
    pub building_name: String,
    pub rows: u64,
    pub accepted: u64,
    pub rejected: u64,
    pub duplicates_merged: u64,
    pub granted: u64,
    pub revoked: u64,
    /// Contacts replace mode kept because their row is in the file, though rejected.
    pub kept_rejected: u64,
    /// Configured pinned people (`pinned_contacts`) in the Envoy import file: always there,
    /// never removed by replace mode.
    pub pinned: Vec<String>,
    /// Columns read by a rule weaker than their label.
    pub columns_read_as: Vec<String>,
    pub directory_size: u64,
    pub revoke_check: Option<RevokeCheck>,
    /// The new Envoy import file against the last one (when there was one).
    pub export_check: Option<RevokeCheck>,
    pub issue_counts: IssueCounts,
    pub issues: Vec<Issue>,
    pub outputs: Vec<String>,
}

pub async fn ingest_tenants(
    svc: Services<'_>,
    config: &Config,
    building: &BuildingId,
    key: &str,
    options: TenantOptions,
) -> AppResult<TenantsOutcome> {
    let Some(state) = svc.table.get_building(building).await? else {
        return Err(FileRejection::new(
            RejectionCode::UnknownBuilding,
            format!("No building with UUID {building} is known. Upload the buildings file first, then the tenant contacts."),
        )
        .into());
    };
    let input = svc.objects.open(key).await?;
    let mut sheet = open_sheet(input, FileKind::Tenants, config.intake_limits(), flows::looks_like_header)?;
    let map = flows::resolve(FileKind::Tenants, &sheet.headers)?;
    let mut set = ContactSet::default();
    let mut rejected_rows = RejectedRows::default();
    let mut issues = map.reading_issues();
    let (mut rows, mut rejected, mut merged) = (0u64, 0u64, 0u64);
    // One row's buffers serve every row.
    let mut row = RawRow::default();
    while let Some(read) = sheet.read_into(&mut row) {
        read?;
        rows += 1;
        match contact_from_row(&map, &row, config.phone_region) {
            Ok((contact, warnings)) => {
                issues.extend(warnings);
                if let Some(issue) = set.add(row.number, contact) {
                    merged += 1;
                    issues.push(issue);
                }
            }
            Err(errors) => {
                rejected += 1;
                rejected_rows.add(&map, &row);
                issues.extend(errors);
            }
        }
        svc.progress.advance("contacts read", rows);
    }
    if rows == 0 {
        return Err(FileRejection::new(RejectionCode::NoRows, "The contacts file has a header row but no contacts. Add one row per contact under the header and upload the file again (a file with no contacts is never applied: in replace mode it would remove everyone).").into());
    }
    let current = svc.table.list_contacts(building).await?;
    let pinned: Vec<&TenantContact> = config.pinned_for(building).collect();
    // The directory's people who are not in the file: kept (add mode, pinned, or their row was
    // rejected) or, in replace mode, revoked.
    let mut to_revoke: Vec<Email> = Vec::new();
    let (mut kept_rejected, mut kept_not_in_file) = (0u64, 0u64);
    for contact in current.iter().filter(|c| !set.contains(&c.email)) {
        if !options.replace || pinned.iter().any(|p| p.email == contact.email) {
            kept_not_in_file += 1;
        } else if let Some(row) = rejected_rows.row_of(contact) {
            kept_rejected += 1;
            issues.push(RejectedRows::kept(contact, row));
        } else {
            to_revoke.push(contact.email.clone());
        }
    }
    let revoke_check =
        options.replace.then(|| check_revocations(current.len(), to_revoke.len(), config.settings.revoke_threshold_percent, options.force));
    if let Some(check) = &revoke_check {
        if !check.allowed {
            return Err(FileRejection::new(
                RejectionCode::RevokeGuard,
                format!(
                    "Replace mode would remove {} of the building's {} contacts ({:.0} %), more than the allowed {:.0} %. Nothing was changed. If the file is complete and this is intended, upload it again with --force (or under a replace/force/ path); otherwise check the file is not truncated.",
                    check.to_revoke, check.current, check.share_percent, check.threshold_percent
                ),
            )
            .into());
        }
    }
    let latest = keys::envoy_export_latest(building);
    let next = NextExport { current: &current, to_revoke: &to_revoke, set: &set, pinned: &pinned };
    let (export_check, last_export) = envoy_export_guard(svc, config, &latest, &next, options.force).await?;
    let grant = state.building.tile_policy == TilePolicy::Permissioned;
    let contacts: Vec<_> = set.contacts().cloned().collect();
    let now = svc.clock.now();
    // The stored grant records Envoy access: in a permissioned building it is what shows the
    // tile; in an "everyone" building it tells who can actually register visitors.
    for chunk in contacts.chunks(500) {
        svc.table.put_contacts(building, chunk, true, now).await?;
    }
    if !to_revoke.is_empty() {
        svc.table.remove_contacts(building, &to_revoke).await?;
    }
    let directory = svc.table.list_contacts(building).await?;
    // Measured against the last Envoy import file, which is written only once a run is done: a
    // retry after a failed run reports the same change.
    let added = directory.iter().filter(|c| last_export.as_ref().is_none_or(|last| !last.contains(&c.email))).count() as u64;
    // Pinned people are in every import file, contacts of the building or not.
    let pinned_extra: Vec<&TenantContact> = pinned.iter().copied().filter(|p| !directory.iter().any(|c| c.email == p.email)).collect();
    let export = envoy_import_csv(directory.iter().chain(pinned_extra.iter().copied()));
    let stamp = stamp(now);
    let dated = keys::envoy_export_dated(building, &stamp);
    svc.objects.put(&dated, export.clone(), "text/csv").await?;
    svc.objects.put(&latest, export, "text/csv").await?;
    let folder = keys::tenant_report_folder(building, &stamp, &file_stem(key));
    let mut outcome = TenantsOutcome {
        building: building.to_string(),
        building_name: state.building.name.clone(),
        rows,
        accepted: rows - rejected - merged,
        rejected,
        duplicates_merged: merged,
        granted: if grant { set.len() as u64 } else { 0 },
        revoked: to_revoke.len() as u64,
        kept_rejected,
        pinned: pinned.iter().map(|p| format!("{} <{}>", p.full_name, p.email)).collect(),
        columns_read_as: map.reading_texts(),
        directory_size: directory.len() as u64,
        revoke_check,
        export_check,
        issue_counts: count_issues(&issues),
        issues,
        outputs: vec![
            latest.clone(),
            dated,
            format!("{folder}/issues.csv"),
            format!("{folder}/summary.json"),
            format!("{folder}/report.html"),
        ],
    };
    outcome.issues.sort_by_key(|i| i.row.unwrap_or(0));
    super::buildings::write_row_report(svc, &folder, &outcome.issues, &outcome).await?;
    let report = TenantReport {
        building: &outcome.building,
        building_name: state.building.name.as_str(),
        source: key,
        processed_at: now,
        replace: options.replace,
        rows: outcome.rows,
        accepted: outcome.accepted,
        rejected: outcome.rejected,
        duplicates_merged: outcome.duplicates_merged,
        added,
        updated: directory.len() as u64 - added,
        removed: outcome.revoked,
        kept_not_in_file,
        kept_rejected: outcome.kept_rejected,
        pinned: &outcome.pinned,
        directory_size: outcome.directory_size,
        granted: outcome.granted,
        revoke_check: outcome.revoke_check.as_ref(),
        export_check: outcome.export_check.as_ref(),
        export_key: &latest,
        columns_read_as: &outcome.columns_read_as,
    };
    svc.objects.put(&format!("{folder}/report.html"), tenants_report(&report, &outcome.issues).into_bytes(), "text/html").await?;
    outcome.outputs.sort();
    tracing::info!(building = %building, rows, accepted = outcome.accepted, revoked = outcome.revoked, "tenant contacts ingested");
    Ok(outcome)
}

/// Who the next Envoy import file will hold: the directory, less what replace mode revokes,
/// plus the file's contacts and the pinned people.
struct NextExport<'a> {
    current: &'a [TenantContact],
    to_revoke: &'a [Email],
    set: &'a ContactSet,
    pinned: &'a [&'a TenantContact],
}

/// Refuses, before anything is written, a run whose Envoy import file would leave out more of
/// the people in the last export than the configured share: Envoy replaces its directory with
/// each upload, so a store that lost contacts (or a mistaken replace) must not empty it.
async fn envoy_export_guard(
    svc: Services<'_>,
    config: &Config,
    latest: &str,
    next: &NextExport<'_>,
    force: bool,
) -> AppResult<(Option<RevokeCheck>, Option<std::collections::HashSet<Email>>)> {
    let previous = match svc.objects.get(latest).await {
        Ok(bytes) => envoy_export_emails(&bytes),
        Err(PortError::NotFound(_)) => return Ok((None, None)),
        Err(error) => return Err(error.into()),
    };
    let revoked: std::collections::HashSet<&Email> = next.to_revoke.iter().collect();
    let next: std::collections::HashSet<&Email> = next
        .current
        .iter()
        .map(|c| &c.email)
        .filter(|e| !revoked.contains(e))
        .chain(next.set.contacts().map(|c| &c.email))
        .chain(next.pinned.iter().map(|p| &p.email))
        .collect();
    let check = check_export(&previous, &next, config.settings.revoke_threshold_percent, force);
    if !check.allowed {
        return Err(FileRejection::new(
            RejectionCode::EnvoyExportGuard,
            format!(
                "The new Envoy import file would leave out {} of the {} people in the last one ({:.0} %), more than the allowed {:.0} %. Envoy replaces its whole directory with each upload, so nothing was changed. Check that the building's contacts are all still known (a restored or emptied table shows up this way); if leaving them out is intended, upload the file again with --force (or under a force/ path).",
                check.to_revoke, check.current, check.share_percent, check.threshold_percent
            ),
        )
        .into());
    }
    Ok((Some(check), Some(previous)))
}
