//! Sending one e-mail at most once, through the mail ledger.
//!
//! The protocol: claim the message's key in the ledger (a conditional write), send, record the
//! result. A claim that is still `sending` is either held by a run that is sending it right now
//! or left by a crash between send and record. Through a mailer that deduplicates by key (the
//! outbox) it is simply sent again: one message results either way. Otherwise (SES) a claim
//! younger than [`MAIL_CLAIM_LEASE_SECONDS`] is left to the run that holds it (`InProgress`),
//! and an older one is reported as unconfirmed for a person to check, because sending twice is
//! worse than asking.

use super::AppResult;
use crate::domain::invite::MailStatus;
use crate::domain::mail::OutgoingMail;
use crate::domain::sending::SendingPause;
use crate::ports::{LedgerEntry, MailLedger, Mailer, PortError, Table};
use serde::Serialize;
use time::OffsetDateTime;

/// A `sending` claim younger than this may belong to a live run (no invocation lives longer
/// than Lambda's 15 minutes), so it is not touched.
pub const MAIL_CLAIM_LEASE_SECONDS: i64 = 15 * 60;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "outcome", content = "detail")]
pub enum SendOutcome {
    Sent(String),
    AlreadySent(String),
    /// Another run claimed it moments ago and is sending it; that run records the result.
    InProgress,
    /// Claimed earlier but never confirmed; not re-sent.
    Unconfirmed,
    /// The mail service refused this message for good.
    Failed(String),
}

/// Sends `mail` unless the ledger shows it was sent or is being sent.
///
/// The outer `Err` is a ledger (table) failure: nothing is known to be lost, a re-run resumes.
/// The inner `Err` is the mail service failing for now (throttled, paused, refused before
/// sending): the message certainly did not go out and its claim was released, so a later run
/// retries. A send whose outcome is unknown is `Unconfirmed` and keeps its claim.
pub async fn send_once(
    ledger: &dyn Table,
    mailer: &dyn Mailer,
    mail: &OutgoingMail,
    now: OffsetDateTime,
) -> AppResult<Result<SendOutcome, PortError>> {
    // An address that bounced for good or complained is never mailed again, by any flow. Read
    // before the claim: a failed read then leaves nothing claimed, and the next run starts clean.
    let recipients: Vec<_> = mail.to.iter().chain(&mail.cc).cloned().collect();
    let suppressed = ledger.suppressions(&recipients).await?;
    if let Some(entry) = ledger.claim_mail(&mail.key, now).await? {
        match entry.status {
            MailStatus::Sent => return Ok(Ok(SendOutcome::AlreadySent(entry.message_id.unwrap_or_default()))),
            MailStatus::Failed => return Ok(Ok(SendOutcome::Failed(entry.detail.unwrap_or_default()))),
            MailStatus::Sending | MailStatus::Pending | MailStatus::Unconfirmed if mailer.deduplicates() => {}
            MailStatus::Unconfirmed => return Ok(Ok(SendOutcome::Unconfirmed)),
            MailStatus::Sending | MailStatus::Pending if claimed_recently(&entry, now) => return Ok(Ok(SendOutcome::InProgress)),
            MailStatus::Sending | MailStatus::Pending => return Ok(Ok(SendOutcome::Unconfirmed)),
        }
    }
    let trimmed;
    let mail = if suppressed.is_empty() {
        mail
    } else {
        let mut kept = mail.clone();
        kept.to.retain(|e| !suppressed.contains_key(e));
        kept.cc.retain(|e| !suppressed.contains_key(e));
        if kept.to.is_empty() {
            let reason = match suppressed.values().next() {
                Some(s) if suppressed.len() == 1 => format!("not sent: the address is on the suppression list: {}", s.describe()),
                _ => format!("not sent: all {} recipients are on the suppression list", suppressed.len()),
            };
            ledger.finish_mail(&mail.key, MailStatus::Failed, None, Some(&reason), now).await?;
            tracing::warn!(key_kind = mail.key.split('#').next().unwrap_or(""), "mail not sent: its recipients are suppressed");
            return Ok(Ok(SendOutcome::Failed(reason)));
        }
        tracing::warn!(left_out = suppressed.len(), "suppressed recipients left out of a message");
        trimmed = kept;
        &trimmed
    };
    match mailer.send(mail).await {
        Ok(message_id) => {
            ledger.finish_mail(&mail.key, MailStatus::Sent, Some(&message_id), None, now).await?;
            tracing::info!(key_kind = mail.key.split('#').next().unwrap_or(""), message_id = %message_id, "mail sent");
            Ok(Ok(SendOutcome::Sent(message_id)))
        }
        Err(PortError::Rejected(reason)) => {
            ledger.finish_mail(&mail.key, MailStatus::Failed, None, Some(&reason), now).await?;
            Ok(Ok(SendOutcome::Failed(reason)))
        }
        Err(PortError::Unconfirmed(detail)) => {
            // The message may have gone out: the claim stays, so nothing sends it again by itself.
            tracing::warn!(
                key_kind = mail.key.split('#').next().unwrap_or(""),
                "mail send not confirmed; it is not sent again automatically"
            );
            ledger.finish_mail(&mail.key, MailStatus::Unconfirmed, None, Some(&detail), now).await?;
            Ok(Ok(SendOutcome::Unconfirmed))
        }
        Err(error) => {
            // The send certainly did not happen (paused, throttled, refused before sending):
            // free the key for a later run.
            ledger.release_mail(&mail.key).await?;
            Ok(Err(error))
        }
    }
}

/// The ledger entry that holds the mail service's pause, if sending is paused: written by a run
/// that met an account-level refusal, cleared by the next run that sends. Reports read it.
pub const SENDING_STATE_KEY: &str = "service#sending";

/// Records that the mail service paused sending (`Some`) or sends again (`None`).
pub async fn record_pause(ledger: &dyn MailLedger, pause: Option<&SendingPause>, now: OffsetDateTime) -> AppResult<()> {
    match pause {
        Some(pause) => {
            let detail = serde_json::to_string(pause).unwrap_or_default();
            ledger.finish_mail(SENDING_STATE_KEY, MailStatus::Failed, None, Some(&detail), now).await?;
        }
        None => {
            // A pause this product decided (bounces, complaints) holds until a person resumes.
            if current_pause(ledger).await?.is_some_and(|(pause, _)| !pause.cause.is_self_imposed()) {
                clear_pause(ledger, now).await?;
            }
        }
    }
    Ok(())
}

/// Clears any recorded pause, whoever decided it.
pub async fn clear_pause(ledger: &dyn MailLedger, now: OffsetDateTime) -> AppResult<()> {
    if current_pause(ledger).await?.is_some() {
        ledger.finish_mail(SENDING_STATE_KEY, MailStatus::Sent, None, None, now).await?;
    }
    Ok(())
}

/// The pause last recorded and not cleared since, with when it was recorded.
pub async fn current_pause(ledger: &dyn MailLedger) -> AppResult<Option<(SendingPause, OffsetDateTime)>> {
    let Some(entry) = ledger.get_mail(SENDING_STATE_KEY).await? else { return Ok(None) };
    if entry.status != MailStatus::Failed {
        return Ok(None);
    }
    let pause = entry.detail.as_deref().and_then(|d| serde_json::from_str::<SendingPause>(d).ok());
    Ok(pause.map(|p| (p, entry.updated_at)))
}

/// True when the claim was made less than the lease ago (an unreadable time counts as old).
fn claimed_recently(entry: &LedgerEntry, now: OffsetDateTime) -> bool {
    (now - entry.updated_at).whole_seconds() < MAIL_CLAIM_LEASE_SECONDS
}
