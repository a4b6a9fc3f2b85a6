//! Buildings file → upsert each building, send each new building's kickstart e-mail once.

use super::mailing::{send_once, SendOutcome};
use super::{count_issues, file_stem, json_bytes, stamp, AppError, AppResult, IssueCounts, Services};
use crate::domain::building::{building_from_row, Phase, BUILDING_COLUMNS};
use crate::domain::config::Config;
use crate::domain::intake::{open_sheet, ColumnMap, FileKind};
use crate::domain::issue::{FileRejection, Issue};
use crate::domain::mail;
use crate::domain::values::BuildingId;
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct BuildingsOutcome {
    pub rows: u64,
    pub accepted: u64,
    pub rejected: u64,
    pub kickstarts_sent: u64,
    pub kickstarts_already_sent: u64,
    pub kickstarts_unconfirmed: u64,
    /// Being sent by another run at this moment (two files naming one new building at once).
    pub kickstarts_in_progress: u64,
    pub issue_counts: IssueCounts,
    pub issues: Vec<Issue>,
    pub outputs: Vec<String>,
}

/// Reads and applies a buildings file stored at `key`. `resend` sends the kickstart again even
/// to buildings that had it (a new, separately recorded e-mail).
pub async fn ingest_buildings(svc: Services<'_>, config: &Config, key: &str, resend: bool) -> AppResult<BuildingsOutcome> {
    let input = svc.objects.open(key).await?;
    let sheet = open_sheet(input, FileKind::Buildings, config.intake_limits(), |h| ColumnMap::has_required(BUILDING_COLUMNS, h))?;
    let map = ColumnMap::resolve(BUILDING_COLUMNS, &sheet.headers)?;
    let mut buildings = Vec::new();
    let mut issues = Vec::new();
    let (mut rows, mut rejected, mut duplicates) = (0u64, 0u64, 0u64);
    let mut seen = std::collections::HashMap::<BuildingId, u64>::new();
    // Read and check everything first: a file that fails to read writes nothing.
    for row in sheet {
        let row = row?;
        rows += 1;
        match building_from_row(&map, &row) {
            Ok(building) => {
                if let Some(first) = seen.get(&building.id) {
                    issues.push(
                        Issue::warning(
                            crate::domain::issue::IssueCode::DuplicateMerged,
                            format!("The building UUID is also on row {first}; this later row wins."),
                        )
                        .at_row(row.number)
                        .in_column("Building UUID")
                        .with_value(building.id.as_str()),
                    );
                    buildings.retain(|b: &crate::domain::building::Building| b.id != building.id);
                    duplicates += 1;
                }
                seen.insert(building.id.clone(), row.number);
                buildings.push(building);
            }
            Err(row_issues) => {
                rejected += 1;
                issues.extend(row_issues);
            }
        }
    }
    if rows == 0 {
        return Err(FileRejection::new("no_rows", "The buildings file has a header row but no buildings. Add one row per building.").into());
    }
    let mut outcome = BuildingsOutcome {
        rows,
        accepted: rows - rejected - duplicates,
        rejected,
        kickstarts_sent: 0,
        kickstarts_already_sent: 0,
        kickstarts_unconfirmed: 0,
        kickstarts_in_progress: 0,
        issue_counts: count_issues(&issues),
        issues: Vec::new(),
        outputs: Vec::new(),
    };
    for (done, building) in buildings.iter().enumerate() {
        let now = svc.clock.now();
        let state = svc.table.upsert_building(building, now).await?;
        let attempt = if resend { resend_attempt(svc, building).await? } else { 0 };
        if state.phase == Phase::New || resend {
            let message = mail::kickstart(config, building, attempt);
            // A mail service that fails now fails the run: the upload is delivered again and
            // resumes (buildings already upserted are upserted again, sent kickstarts are not sent).
            match send_once(svc.table, svc.mailer, &message, now).await?.map_err(AppError::Port)? {
                SendOutcome::Sent(id) => {
                    outcome.kickstarts_sent += 1;
                    let phase = if state.phase == Phase::New { Phase::KickstartSent } else { state.phase };
                    svc.table.set_phase(&building.id, phase, now, Some(&id)).await?;
                }
                SendOutcome::AlreadySent(id) => {
                    outcome.kickstarts_already_sent += 1;
                    if state.phase == Phase::New {
                        svc.table.set_phase(&building.id, Phase::KickstartSent, now, Some(&id)).await?;
                    }
                }
                SendOutcome::Unconfirmed => outcome.kickstarts_unconfirmed += 1,
                SendOutcome::InProgress => outcome.kickstarts_in_progress += 1,
                SendOutcome::Failed(reason) => {
                    issues.push(Issue::error(crate::domain::issue::IssueCode::InvalidEmail, format!("The kickstart e-mail was refused by the mail service: {reason}. Check the Envoy contacts of this building.")).in_column("Envoy CSM Email").with_value(building.name.as_str()));
                }
            }
        } else {
            outcome.kickstarts_already_sent += 1;
        }
        svc.progress.advance("buildings", done as u64 + 1);
    }
    svc.progress.finish("buildings");
    let folder = format!("reports/buildings/{}-{}", stamp(svc.clock.now()), file_stem(key));
    outcome.issue_counts = count_issues(&issues);
    outcome.issues = issues;
    write_row_report(svc, &folder, &outcome.issues, &outcome).await?;
    outcome.outputs = vec![format!("{folder}/issues.csv"), format!("{folder}/summary.json")];
    tracing::info!(rows = outcome.rows, accepted = outcome.accepted, kickstarts = outcome.kickstarts_sent, "buildings ingested");
    Ok(outcome)
}

/// The next resend number for a building: one more than the resends already in the ledger.
async fn resend_attempt(svc: Services<'_>, building: &crate::domain::building::Building) -> AppResult<u32> {
    let mut attempt = 1;
    while svc.table.get_mail(&mail::kickstart_key(building, attempt)).await?.is_some() {
        attempt += 1;
    }
    Ok(attempt)
}

pub(crate) async fn write_row_report<T: Serialize>(svc: Services<'_>, folder: &str, issues: &[Issue], summary: &T) -> AppResult<()> {
    svc.objects.put(&format!("{folder}/issues.csv"), crate::domain::plan::issues_csv(issues), "text/csv").await?;
    svc.objects.put(&format!("{folder}/summary.json"), json_bytes(summary), "application/json").await?;
    Ok(())
}

/// Moves a building to a later (or earlier) phase by hand.
pub async fn set_phase(svc: Services<'_>, id: &BuildingId, phase: Phase) -> AppResult<()> {
    match svc.table.get_building(id).await? {
        None => Err(AppError::Rejected(FileRejection::new(
            "unknown_building",
            format!("No building with UUID {id} is known. Load it with a buildings file first."),
        ))),
        Some(_) => Ok(svc.table.set_phase(id, phase, svc.clock.now(), None).await?),
    }
}
