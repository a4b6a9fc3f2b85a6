//! Sends due invites, each exactly once, never faster than the mail service allows.

use super::buildings::send_kickstart;
use super::invites::current_invite_key;
use super::mailing::{current_pause, record_pause, send_once, SendOutcome};
use super::{AppResult, Services};
use crate::domain::building::Phase;
use crate::domain::config::Config;
use crate::domain::invite::{MailStatus, MAX_SEND_ATTEMPTS};
use crate::domain::mail;
use crate::domain::sending::SendingPause;
use crate::ports::PortError;
use serde::Serialize;
use std::time::Duration;

#[derive(Debug, Clone, Serialize, Default, PartialEq, Eq)]
pub struct DispatchOutcome {
    pub sent: u64,
    pub already_sent: u64,
    pub failed: u64,
    pub unconfirmed: u64,
    /// Being sent by another run at this moment: that run records them.
    pub in_progress: u64,
    pub retry_later: u64,
    /// Kickstart e-mails of buildings still at phase `new` (left by a paused or failed ingest).
    pub kickstarts_sent: u64,
    /// Upload notices parked while the mail service paused sending, sent now.
    pub notices_sent: u64,
    /// Why the run stopped before the queue was empty, if it did.
    pub stopped: Option<String>,
    /// The account-level refusal that stopped the run (nothing was marked failed), with its fix.
    pub paused: Option<SendingPause>,
}

/// Sends up to `limit` due invites, stopping early at `deadline` (Lambda's remaining time).
pub async fn dispatch_invites(
    svc: Services<'_>,
    config: &Config,
    limit: usize,
    deadline: Option<time::OffsetDateTime>,
) -> AppResult<DispatchOutcome> {
    let mut outcome = DispatchOutcome::default();
    if let Err(pause) = pending_kickstarts(svc, config, &mut outcome).await? {
        return paused(svc, outcome, pause).await;
    }
    if let Err(pause) = parked_notices(svc, &mut outcome).await? {
        return paused(svc, outcome, pause).await;
    }
    let service_rate = svc.mailer.max_send_rate().await.unwrap_or(1.0);
    let rate = service_rate.min(config.settings.max_send_rate_per_second).max(0.01);
    let gap = Duration::from_secs_f64(1.0 / rate);
    let mut handled = 0usize;
    let mut last_send: Option<std::time::Instant> = None;
    // Invites another run is sending stay pending; they are looked at once per run.
    let mut looked_at = std::collections::HashSet::new();
    'batches: while handled < limit {
        // Bounces or a complaint paused invites (the feedback handler decided, maybe while this
        // run sends): nothing more goes out until a person resumes.
        if let Some((pause, _)) = current_pause(svc.table).await? {
            if pause.cause.is_self_imposed() {
                tracing::error!(cause = pause.cause.as_str(), fix = pause.cause.fix(), "invites are paused; nothing is sent");
                outcome.stopped = Some(format!("invites paused: {pause}"));
                outcome.paused = Some(pause);
                break 'batches;
            }
        }
        let due = svc.table.due_invites(svc.clock.now(), (limit - handled).min(100)).await?;
        let due: Vec<_> = due.into_iter().filter(|i| !looked_at.contains(&(i.migration.clone(), i.email.clone()))).collect();
        if due.is_empty() {
            break;
        }
        for invite in due {
            looked_at.insert((invite.migration.clone(), invite.email.clone()));
            if deadline.is_some_and(|d| svc.clock.now() >= d) {
                outcome.stopped = Some("time limit reached; the next run continues".into());
                break 'batches;
            }
            if let Some(at) = last_send {
                let wait = gap.saturating_sub(at.elapsed());
                if !wait.is_zero() {
                    tokio::time::sleep(wait).await;
                }
            }
            last_send = Some(std::time::Instant::now());
            handled += 1;
            let mut message = mail::invite(config, invite.migration.as_str(), &invite.email, &invite.first_name, &invite.building_names);
            message.key = current_invite_key(svc.table, &invite).await?;
            let now = svc.clock.now();
            let update = |status, id: Option<String>, error: Option<String>, attempts| {
                let (migration, email) = (invite.migration.clone(), invite.email.clone());
                async move { svc.table.update_invite(&migration, &email, status, id.as_deref(), error.as_deref(), attempts).await }
            };
            match send_once(svc.table, svc.mailer, &message, now).await? {
                Ok(SendOutcome::Sent(id)) => {
                    outcome.sent += 1;
                    update(MailStatus::Sent, Some(id), None, invite.attempts + 1).await?;
                }
                Ok(SendOutcome::AlreadySent(id)) => {
                    // Sent by an earlier (crashed or concurrent) run: at least one attempt was made.
                    outcome.already_sent += 1;
                    update(MailStatus::Sent, Some(id), None, invite.attempts.max(1)).await?;
                }
                Ok(SendOutcome::InProgress) => outcome.in_progress += 1,
                Ok(SendOutcome::Unconfirmed) => {
                    outcome.unconfirmed += 1;
                    update(
                        MailStatus::Unconfirmed,
                        None,
                        Some("send not confirmed; check the mail log, then `onboard invites retry` to send it again".into()),
                        invite.attempts + 1,
                    )
                    .await?;
                }
                Ok(SendOutcome::Failed(reason)) => {
                    outcome.failed += 1;
                    update(MailStatus::Failed, None, Some(reason), invite.attempts + 1).await?;
                }
                Err(PortError::SendingPaused(pause)) => {
                    // About the account, not this invite: it stays due, no attempt counted.
                    outcome.retry_later += 1;
                    return paused(svc, outcome, pause).await;
                }
                Err(PortError::Throttled(reason)) => {
                    // Slowed down, never an attempt: the invite stays due as it is.
                    outcome.retry_later += 1;
                    outcome.stopped = Some(format!("the mail service throttled sending: {reason}; the next run continues"));
                    break 'batches;
                }
                Err(error) => {
                    let attempts = invite.attempts + 1;
                    if attempts >= MAX_SEND_ATTEMPTS {
                        outcome.failed += 1;
                        update(MailStatus::Failed, None, Some(format!("gave up after {attempts} attempts: {error}")), attempts).await?;
                    } else {
                        outcome.retry_later += 1;
                        update(MailStatus::Pending, None, Some(error.to_string()), attempts).await?;
                    }
                    outcome.stopped = Some(format!("the mail service failed: {error}; the next run retries"));
                    break 'batches;
                }
            }
            svc.progress.advance("invites", handled as u64);
        }
    }
    svc.progress.finish("invites");
    if outcome.sent + outcome.kickstarts_sent + outcome.notices_sent > 0 {
        record_pause(svc.table, None, svc.clock.now()).await?;
    }
    tracing::info!(sent = outcome.sent, failed = outcome.failed, unconfirmed = outcome.unconfirmed, "invites dispatched");
    Ok(outcome)
}

/// Stops a run on an account-level refusal: recorded for the reports, logged with its fix.
async fn paused(svc: Services<'_>, mut outcome: DispatchOutcome, pause: SendingPause) -> AppResult<DispatchOutcome> {
    tracing::error!(
        cause = pause.cause.as_str(),
        fix = pause.cause.fix(),
        "sending paused: nothing is marked failed; the next run resumes"
    );
    record_pause(svc.table, Some(&pause), svc.clock.now()).await?;
    outcome.stopped = Some(format!("sending paused: {pause}"));
    outcome.paused = Some(pause);
    svc.progress.finish("invites");
    Ok(outcome)
}

/// Sends the kickstart of every building still at phase `new`: its ingest met a paused (or
/// failing) mail service. The ledger keeps each kickstart to one send.
async fn pending_kickstarts(svc: Services<'_>, config: &Config, outcome: &mut DispatchOutcome) -> AppResult<Result<(), SendingPause>> {
    for state in svc.table.list_buildings().await? {
        if state.phase != Phase::New {
            continue;
        }
        match send_kickstart(svc, config, &state, 0).await? {
            Ok(SendOutcome::Sent(_)) => outcome.kickstarts_sent += 1,
            Ok(_) => {}
            Err(PortError::SendingPaused(pause)) => return Ok(Err(pause)),
            Err(error) => {
                // Not this run's main work: the next run tries again.
                tracing::warn!(error = %crate::domain::text::redact_addresses(&error.to_string()), "a pending kickstart was not sent");
                return Ok(Ok(()));
            }
        }
    }
    Ok(Ok(()))
}

/// Sends the notices parked while the mail service paused sending. Each keeps its ledger key,
/// so one sent meanwhile is not sent again.
async fn parked_notices(svc: Services<'_>, outcome: &mut DispatchOutcome) -> AppResult<Result<(), SendingPause>> {
    for mail in svc.table.parked_mail(100).await? {
        match send_once(svc.table, svc.mailer, &mail, svc.clock.now()).await? {
            Ok(sent) => {
                if matches!(sent, SendOutcome::Sent(_)) {
                    outcome.notices_sent += 1;
                }
                svc.table.unpark_mail(&mail.key).await?;
            }
            Err(PortError::SendingPaused(pause)) => return Ok(Err(pause)),
            Err(error) => {
                // Not this run's main work: the next run tries again.
                tracing::warn!(error = %crate::domain::text::redact_addresses(&error.to_string()), "a parked notice was not sent");
                return Ok(Ok(()));
            }
        }
    }
    Ok(Ok(()))
}
