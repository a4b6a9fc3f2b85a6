//! Delivery feedback: SES's events recorded against the messages they are about, the addresses
//! that bounced for good or complained put on the suppression list, and invites paused when
//! bounces pass the configured rate or a complaint arrives.
//!
//! Events come at least once and in any order: a message's state only moves up its rank, only a
//! first move counts toward the rate, and suppressing an address twice keeps the first reason.

use super::mailing::{current_pause, record_pause};
use super::{AppResult, Services};
use crate::domain::config::Config;
use crate::domain::delivery::{pause_for, DeliveryEvent, DeliveryRecord, DeliveryState, DeliveryTally, Suppression};
use crate::domain::sending::SendingPause;
use crate::domain::values::Email;
use serde::Serialize;

/// What one event did.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct FeedbackOutcome {
    /// SES's id of the message the event is about.
    pub message_id: String,
    /// The message's state moved (false: a duplicate or a late event).
    pub recorded: bool,
    pub state: Option<DeliveryState>,
    /// Addresses put on the suppression list.
    pub suppressed: u64,
    /// The tally after this event, when it counted.
    pub tally: Option<DeliveryTally>,
    /// Invites paused by this event (not by an earlier one).
    pub paused: Option<SendingPause>,
}

/// Records one SES event: the message's state, the suppression list, the tally and the pause.
pub async fn record_event(svc: Services<'_>, config: &Config, event: &DeliveryEvent) -> AppResult<FeedbackOutcome> {
    let mut outcome = FeedbackOutcome { message_id: event.message_id.clone(), state: Some(event.state), ..Default::default() };
    // The suppression list first: it is what keeps an address from being mailed again, and
    // writing it twice is harmless, so a crash after it loses nothing.
    if event.state.suppresses() {
        for email in &event.recipients {
            let suppression = Suppression {
                email: email.clone(),
                reason: event.state,
                message_id: event.message_id.clone(),
                at: event.at,
                detail: event.detail.clone(),
            };
            svc.table.suppress(&suppression).await?;
            outcome.suppressed += 1;
        }
    }
    let Some(previous) = svc.table.record_delivery(&DeliveryRecord::from_event(event)).await? else {
        tracing::info!(event = %event.event_type, message_id = %event.message_id, "delivery event changes nothing (a duplicate or a late one)");
        return Ok(outcome);
    };
    outcome.recorded = true;
    let step = DeliveryTally::step(previous, event.state);
    if !step.is_empty() {
        let tally = svc.table.add_to_tally(&step).await?;
        outcome.tally = Some(tally);
        if let Some(pause) = pause_for(&tally, &config.pause_rule()) {
            let already = current_pause(svc.table).await?.is_some_and(|(p, _)| p.cause.is_self_imposed());
            if !already {
                tracing::error!(cause = pause.cause.as_str(), detail = %pause.detail, fix = pause.cause.fix(), "invites paused");
                record_pause(svc.table, Some(&pause), svc.clock.now()).await?;
                outcome.paused = Some(pause);
            }
        }
    }
    tracing::info!(
        event = %event.event_type,
        message_id = %event.message_id,
        state = event.state.as_str(),
        previous = previous.map(DeliveryState::as_str).unwrap_or("none"),
        "delivery event recorded"
    );
    Ok(outcome)
}

/// What resuming did.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ResumeOutcome {
    /// The pause that was lifted, if invites were paused.
    pub lifted: Option<SendingPause>,
    /// The tally that was started again.
    pub tally: DeliveryTally,
}

/// Lifts a pause and starts the bounce-rate tally again: a person looked at what bounced.
pub async fn resume_sending(svc: Services<'_>) -> AppResult<ResumeOutcome> {
    let lifted = current_pause(svc.table).await?.map(|(pause, _)| pause);
    let tally = svc.table.add_to_tally(&DeliveryTally::default()).await?;
    svc.table.reset_tally().await?;
    super::mailing::clear_pause(svc.table, svc.clock.now()).await?;
    tracing::info!(lifted = lifted.as_ref().map(|p| p.cause.as_str()).unwrap_or("none"), "sending resumed by hand");
    Ok(ResumeOutcome { lifted, tally })
}

/// Why `email` must not be mailed: the table's suppression list (a bounce or complaint this
/// product recorded), then the mail service's own (SES's account suppression list).
pub async fn suppressed_reason(svc: Services<'_>, email: &Email) -> AppResult<Option<String>> {
    if let Some(suppression) = svc.table.suppressions(std::slice::from_ref(email)).await?.remove(email) {
        return Ok(Some(format!("on the suppression list: {}", suppression.describe())));
    }
    Ok(svc.mailer.suppressed(email).await?)
}

/// The recorded delivery states of these messages, by message id.
pub async fn delivery_states(
    svc: Services<'_>,
    message_ids: impl IntoIterator<Item = String>,
) -> AppResult<std::collections::HashMap<String, DeliveryRecord>> {
    let ids: Vec<String> = message_ids.into_iter().collect();
    let mut found = std::collections::HashMap::new();
    for chunk in ids.chunks(crate::ports::USERS_PER_LOOKUP) {
        found.extend(svc.table.deliveries(chunk).await?);
    }
    Ok(found)
}
