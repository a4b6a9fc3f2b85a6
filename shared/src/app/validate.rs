//! The validation report: every applied migration and every building checked against the store.

use super::mailing::{current_pause, record_pause, send_once};
use super::plan::verified_plan;
use super::{json_bytes, rfc3339, AppResult, Services};
use crate::domain::config::Config;
use crate::domain::delivery::DeliveryState;
use crate::domain::invite::MailStatus;
use crate::domain::migration::MigrationState;
use crate::domain::plan::Action;
use crate::domain::validation_report::{check_building, check_user, MigrationCheck, ValidationReport};
use crate::domain::values::Email;
use crate::ports::PortError;
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct ValidationOutcome {
    pub date: String,
    pub problems: u64,
    pub migrations: u64,
    pub buildings: u64,
    pub summary_mailed: bool,
    pub summary_error: Option<String>,
    /// The summary was not mailed because the mail service paused sending (not its fault).
    pub sending_paused: bool,
    pub outputs: Vec<String>,
}

pub async fn validation_report(svc: Services<'_>, config: &Config) -> AppResult<(ValidationReport, ValidationOutcome)> {
    let now = svc.clock.now();
    let today = now.date();
    let mut report = ValidationReport {
        date: today.to_string(),
        generated_at: rfc3339(now),
        migrations: Vec::new(),
        buildings: Vec::new(),
        discrepancies: Vec::new(),
        unfinished_applies: Vec::new(),
        sending_paused: current_pause(svc.table)
            .await?
            .map(|(pause, at)| format!("sending paused: {pause} (since {})", crate::domain::moment::for_people(at))),
    };
    for record in svc.table.list_migrations().await? {
        if record.state == MigrationState::Applying {
            report.unfinished_applies.push(format!(
                "Migration {}: the approved plan {} is not wholly applied yet. Parts still in the apply queue are applied within minutes; if this stays in tomorrow's report, parts failed ten times and wait in the apply dead-letter queue: read the apply-plan function's log, fix the cause and redrive the queue (applying a part again is harmless). Run locally with onboard, approve the plan again to finish it.",
                record.id,
                record.approved_sha256.as_deref().map_or("", |sha| &sha[..sha.len().min(12)])
            ));
        }
        let Some(sha) = record.approved_sha256.clone().filter(|_| record.state == MigrationState::Applied) else { continue };
        let mut plan = verified_plan(svc, &record.id, &sha).await?;
        let mut check = MigrationCheck {
            migration: record.id.to_string(),
            plan_sha256: sha,
            applied_at: record.applied_at.map(crate::domain::moment::rfc3339).unwrap_or_default(),
            users_checked: 0,
            users_ok: 0,
            invites_sent: 0,
            invites_pending: 0,
            invites_failed: 0,
            invites_delivered: 0,
            invites_bounced: 0,
            invites_complained: 0,
        };
        // The plan is read a hundred entries at a time, and so are the users, their invites and
        // the invites' delivery states: a million-user migration is never held whole.
        loop {
            let mut chunk = plan.next_chunk(crate::ports::USERS_PER_LOOKUP)?;
            if chunk.is_empty() {
                break;
            }
            // Every invite of the plan counts, whatever its entry's action now.
            let emails: Vec<Email> = chunk.iter().map(|e| e.email.clone()).collect();
            let invites = svc.table.get_invites(&record.id, &emails).await?;
            let deliveries = super::delivery::delivery_states(svc, invites.values().filter_map(|i| i.message_id.clone())).await?;
            let delivery_of = |invite: Option<&crate::domain::invite::Invite>| {
                invite.filter(|i| i.status == MailStatus::Sent).and_then(|i| i.message_id.as_ref()).and_then(|id| deliveries.get(id))
            };
            for invite in invites.values() {
                match delivery_of(Some(invite)).map(|d| d.state) {
                    Some(DeliveryState::Delivered) => check.invites_delivered += 1,
                    Some(DeliveryState::Bounced) => check.invites_bounced += 1,
                    Some(DeliveryState::Complained) => check.invites_complained += 1,
                    _ => {}
                }
                match invite.status {
                    MailStatus::Sent => check.invites_sent += 1,
                    MailStatus::Pending | MailStatus::Sending | MailStatus::Unconfirmed => check.invites_pending += 1,
                    MailStatus::Failed => check.invites_failed += 1,
                }
            }
            chunk.retain(|e| {
                matches!(e.action, Action::CreateAndInvite | Action::AddRoles | Action::NoChange) && !record.excluded.contains(&e.email)
            });
            if chunk.is_empty() {
                continue;
            }
            let emails: Vec<Email> = chunk.iter().map(|e| e.email.clone()).collect();
            let users = svc.table.get_users(&emails).await?;
            for entry in &chunk {
                let user_check = check_user(
                    record.id.as_str(),
                    entry,
                    users.get(&entry.email),
                    invites.get(&entry.email),
                    delivery_of(invites.get(&entry.email)),
                    now,
                );
                check.users_checked += 1;
                if user_check.ok {
                    check.users_ok += 1;
                } else {
                    report.discrepancies.push(user_check);
                }
            }
        }
        report.migrations.push(check);
    }
    for state in svc.table.list_buildings().await? {
        let contacts = svc.table.list_contacts(&state.building.id).await?.len() as u64;
        let grants = svc.table.count_grants(&state.building.id).await?;
        report.buildings.push(check_building(&state, contacts, grants, now, config.settings.stale_kickstart_days));
    }
    let folder = crate::domain::keys::validation_report_folder(&report.date);
    let outputs = vec![format!("{folder}/report.html"), format!("{folder}/report.csv"), format!("{folder}/report.json")];
    svc.objects.put(&outputs[0], report.html().into_bytes(), "text/html").await?;
    svc.objects.put(&outputs[1], report.csv(), "text/csv").await?;
    svc.objects.put(&outputs[2], json_bytes(&report), "application/json").await?;
    let summary = crate::domain::mail::validation_summary(config, &report.date, report.summary_text(), report.html());
    let mut summary_mailed = false;
    let mut summary_error = None;
    let mut sending_paused = false;
    if let Some(mail) = summary {
        // The report is written either way; a mail service that refuses now is reported, and
        // the next run (or `onboard report`) sends the day's summary.
        match send_once(svc.table, svc.mailer, &mail, now).await {
            Ok(Ok(outcome)) => summary_mailed = matches!(outcome, super::mailing::SendOutcome::Sent(_)),
            Ok(Err(PortError::SendingPaused(pause))) => {
                tracing::error!(cause = pause.cause.as_str(), fix = pause.cause.fix(), "sending paused: the validation summary waits");
                record_pause(svc.table, Some(&pause), now).await?;
                summary_error = Some(format!("sending paused: {pause}"));
                sending_paused = true;
            }
            Ok(Err(error)) | Err(super::AppError::Port(error)) => {
                tracing::warn!(error = %crate::domain::text::redact_addresses(&error.to_string()), "validation summary not mailed");
                summary_error = Some(error.to_string());
            }
            Err(other) => return Err(other),
        }
    }
    let outcome = ValidationOutcome {
        date: report.date.clone(),
        problems: report.problem_count() as u64,
        migrations: report.migrations.len() as u64,
        buildings: report.buildings.len() as u64,
        summary_mailed,
        summary_error,
        sending_paused,
        outputs,
    };
    tracing::info!(problems = outcome.problems, "validation report written");
    Ok((report, outcome))
}
