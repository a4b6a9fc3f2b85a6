//! Buildings file → upsert each building, send each new building's kickstart e-mail once.

use super::mailing::{record_pause, send_once, SendOutcome};
use super::{count_issues, file_stem, json_bytes, stamp, AppError, AppResult, IssueCounts, Services};
use crate::domain::building::{building_from_row, BuildingState, Phase};
use crate::domain::building_update::{merge, BuildingChange};
use crate::domain::config::Config;
use crate::domain::flows;
use crate::domain::html::buildings_report;
use crate::domain::intake::{open_sheet, FileKind};
use crate::domain::issue::{FileRejection, Issue, RejectionCode};
use crate::domain::mail;
use crate::domain::sending::SendingPause;
use crate::domain::values::BuildingId;
use crate::ports::PortError;
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
    /// Not sent because the mail service paused sending; the scheduled dispatch sends them.
    pub kickstarts_paused: u64,
    /// The account-level refusal that paused sending, with its fix.
    pub sending_paused: Option<SendingPause>,
    /// What this upload did to each building: new, changed values, stored values kept.
    pub changes: Vec<BuildingChange>,
    /// Columns read by a rule weaker than their label.
    pub columns_read_as: Vec<String>,
    pub issue_counts: IssueCounts,
    pub issues: Vec<Issue>,
    pub outputs: Vec<String>,
}

/// Reads and applies a buildings file stored at `key`. `resend` sends the kickstart again even
/// to buildings that had it (a new, separately recorded e-mail).
pub async fn ingest_buildings(svc: Services<'_>, config: &Config, key: &str, resend: bool) -> AppResult<BuildingsOutcome> {
    let input = svc.objects.open(key).await?;
    let sheet = open_sheet(input, FileKind::Buildings, config.intake_limits(), flows::looks_like_header)?;
    let map = flows::resolve(FileKind::Buildings, &sheet.headers)?;
    let mut buildings = Vec::new();
    let mut issues = map.reading_issues();
    let (mut rows, mut rejected, mut duplicates) = (0u64, 0u64, 0u64);
    let mut seen = std::collections::HashMap::<BuildingId, u64>::new();
    // Read and check everything first: a file that fails to read writes nothing.
    for row in sheet {
        let row = row?;
        rows += 1;
        match building_from_row(&map, &row).and_then(|b| kickstart_recipients_allowed(config, b, row.number)) {
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
        return Err(FileRejection::new(
            RejectionCode::NoRows,
            "The buildings file has a header row but no buildings. Add one row per building.",
        )
        .into());
    }
    let mut outcome = BuildingsOutcome {
        rows,
        accepted: rows - rejected - duplicates,
        rejected,
        kickstarts_sent: 0,
        kickstarts_already_sent: 0,
        kickstarts_unconfirmed: 0,
        kickstarts_in_progress: 0,
        kickstarts_paused: 0,
        sending_paused: None,
        changes: Vec::new(),
        columns_read_as: map.reading_texts(),
        issue_counts: count_issues(&issues),
        issues: Vec::new(),
        outputs: Vec::new(),
    };
    // A re-upload changes the columns it has; the optional columns it leaves out keep their values.
    let stored: std::collections::HashMap<BuildingId, crate::domain::building::Building> =
        svc.table.list_buildings().await?.into_iter().map(|s| (s.building.id.clone(), s.building)).collect();
    let buildings: Vec<_> = buildings
        .into_iter()
        .map(|read| {
            let previous = stored.get(&read.id);
            let (building, change) = merge(&map, read, previous);
            outcome.changes.push(change);
            building
        })
        .collect();
    for (done, building) in buildings.iter().enumerate() {
        let now = svc.clock.now();
        let state = svc.table.upsert_building(building, now).await?;
        let wants_kickstart = state.phase == Phase::New || resend;
        if wants_kickstart && outcome.sending_paused.is_some() {
            // Sending is paused: the building stays `new` and the scheduled dispatch sends its
            // kickstart once the account sends again.
            outcome.kickstarts_paused += 1;
        } else if wants_kickstart {
            let attempt = if resend { resend_attempt(svc, building).await? } else { 0 };
            // A mail service that fails now (throttled, unreachable) fails the run: the upload is
            // delivered again and resumes (sent kickstarts are not sent again).
            match send_kickstart(svc, config, &state, attempt).await? {
                Ok(SendOutcome::Sent(_)) => outcome.kickstarts_sent += 1,
                Ok(SendOutcome::AlreadySent(_)) => outcome.kickstarts_already_sent += 1,
                Ok(SendOutcome::Unconfirmed) => outcome.kickstarts_unconfirmed += 1,
                Ok(SendOutcome::InProgress) => outcome.kickstarts_in_progress += 1,
                Ok(SendOutcome::Failed(reason)) => {
                    issues.push(Issue::error(crate::domain::issue::IssueCode::InvalidEmail, format!("The kickstart e-mail was refused by the mail service for its recipients: {reason}. Check the Envoy contacts of this building.")).in_column("Envoy CSM Email").with_value(building.name.as_str()));
                }
                Err(PortError::SendingPaused(pause)) => {
                    tracing::warn!(
                        cause = pause.cause.as_str(),
                        fix = pause.cause.fix(),
                        "sending paused; kickstarts wait for the next dispatch run"
                    );
                    record_pause(svc.table, Some(&pause), now).await?;
                    outcome.kickstarts_paused += 1;
                    outcome.sending_paused = Some(pause);
                }
                Err(error) => return Err(AppError::Port(error)),
            }
        } else {
            outcome.kickstarts_already_sent += 1;
        }
        svc.progress.advance("buildings", done as u64 + 1);
    }
    svc.progress.finish("buildings");
    let processed_at = svc.clock.now();
    let folder = crate::domain::keys::building_report_folder(&stamp(processed_at), &file_stem(key));
    outcome.issue_counts = count_issues(&issues);
    outcome.issues = issues;
    outcome.outputs = ["issues.csv", "summary.json", "report.html"].iter().map(|f| format!("{folder}/{f}")).collect();
    write_row_report(svc, &folder, &outcome.issues, &outcome).await?;
    let report = buildings_report(key, processed_at, &outcome.columns_read_as, &outcome.changes, &outcome.issues);
    svc.objects.put(&format!("{folder}/report.html"), report.into_bytes(), "text/html").await?;
    tracing::info!(rows = outcome.rows, accepted = outcome.accepted, kickstarts = outcome.kickstarts_sent, "buildings ingested");
    Ok(outcome)
}

/// Refuses a building row whose kickstart would go outside the configured domains.
fn kickstart_recipients_allowed(
    config: &Config,
    building: crate::domain::building::Building,
    row: u64,
) -> Result<crate::domain::building::Building, Vec<Issue>> {
    let recipients = [
        ("Envoy CSM Email", Some(&building.envoy_csm)),
        ("Envoy Account Executive Email", building.envoy_account_executive.as_ref()),
        ("Platform CSM Email", building.platform_csm.as_ref()),
    ];
    let issues: Vec<Issue> = recipients
        .into_iter()
        .filter_map(|(column, email)| Some((column, email?)))
        .filter(|(_, email)| !config.kickstart_domain_allowed(email))
        .map(|(column, email)| {
            Issue::error(
                crate::domain::issue::IssueCode::DomainNotAllowed,
                format!(
                    "Kickstart e-mails only go to the domains in config/settings.json (kickstart_domains: {}), the sender's domain and the integrations inbox's. Use the contact's address in one of them, or ask an operator to add its domain.",
                    config.settings.kickstart_domains.join(", ")
                ),
            )
            .at_row(row)
            .in_column(column)
            .with_value(email.as_str())
        })
        .collect();
    if issues.is_empty() {
        Ok(building)
    } else {
        Err(issues)
    }
}

/// Sends a building's kickstart e-mail once (`attempt` 0, or a numbered resend) and records
/// the phase: a new building moves to `kickstart_sent` with the message id.
pub(crate) async fn send_kickstart(
    svc: Services<'_>,
    config: &Config,
    state: &BuildingState,
    attempt: u32,
) -> AppResult<Result<SendOutcome, PortError>> {
    let now = svc.clock.now();
    let message = mail::kickstart(config, &state.building, attempt);
    let sent = send_once(svc.table, svc.mailer, &message, now).await?;
    if let Ok(SendOutcome::Sent(id) | SendOutcome::AlreadySent(id)) = &sent {
        let resent = matches!(sent, Ok(SendOutcome::Sent(_))) && state.phase != Phase::New;
        if state.phase == Phase::New || resent {
            let phase = if state.phase == Phase::New { Phase::KickstartSent } else { state.phase };
            svc.table.set_phase(&state.building.id, phase, now, Some(id)).await?;
        }
    }
    Ok(sent)
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
    super::plan::write_issues_csv(svc, &format!("{folder}/issues.csv"), issues.iter().cloned()).await?;
    svc.objects.put(&format!("{folder}/summary.json"), json_bytes(summary), "application/json").await?;
    Ok(())
}

/// Moves a building to a later (or earlier) phase by hand.
pub async fn set_phase(svc: Services<'_>, id: &BuildingId, phase: Phase, force: bool) -> AppResult<()> {
    let Some(state) = svc.table.get_building(id).await? else {
        return Err(AppError::Rejected(FileRejection::new(
            RejectionCode::UnknownBuilding,
            format!("No building with UUID {id} is known. Load it with a buildings file first."),
        )));
    };
    // Going live with a permissioned tile and nobody granted shows the tile to nobody: almost
    // always a step forgotten (the tenant contacts file), so it takes a deliberate force.
    let permissioned = state.building.tile_policy == crate::domain::building::TilePolicy::Permissioned;
    if phase == Phase::Live && permissioned && !force && svc.table.list_contacts(id).await?.is_empty() {
        return Err(AppError::Rejected(FileRejection::new(
            RejectionCode::NoContacts,
            format!(
                "{} ({id}) shows the Visitor Registration tile only to its tenant contacts, and none are loaded, so nobody would see it. Upload the tenant contacts file first, or go live anyway with --force.",
                crate::domain::text::single_line(&state.building.name)
            ),
        )));
    }
    Ok(svc.table.set_phase(id, phase, svc.clock.now(), None).await?)
}
