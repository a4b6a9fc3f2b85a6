//! Sending one e-mail at most once, through the mail ledger.
//!
//! The protocol: claim the message's key in the ledger (a conditional write), send, record the
//! result. A claim that is still `sending` from an earlier run (a crash between send and record)
//! is re-sent only through a mailer that deduplicates by key; otherwise it is reported as
//! unconfirmed for a person to check, because sending twice is worse than asking.

use super::AppResult;
use crate::domain::invite::MailStatus;
use crate::domain::mail::OutgoingMail;
use crate::ports::{MailLedger, Mailer, PortError};
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "outcome", content = "detail")]
pub enum SendOutcome {
    Sent(String),
    AlreadySent(String),
    /// Claimed earlier but never confirmed; not re-sent.
    Unconfirmed,
    /// The mail service refused this message for good.
    Failed(String),
}

pub async fn send_once(
    ledger: &dyn MailLedger,
    mailer: &dyn Mailer,
    mail: &OutgoingMail,
    now: time::OffsetDateTime,
) -> AppResult<SendOutcome> {
    if let Some(entry) = ledger.claim_mail(&mail.key, now).await? {
        match entry.status {
            MailStatus::Sent => return Ok(SendOutcome::AlreadySent(entry.message_id.unwrap_or_default())),
            MailStatus::Failed => return Ok(SendOutcome::Failed(entry.detail.unwrap_or_default())),
            MailStatus::Sending | MailStatus::Pending if !mailer.deduplicates() => return Ok(SendOutcome::Unconfirmed),
            MailStatus::Sending | MailStatus::Pending => {}
        }
    }
    match mailer.send(mail).await {
        Ok(message_id) => {
            ledger.finish_mail(&mail.key, MailStatus::Sent, Some(&message_id), None, now).await?;
            tracing::info!(key_kind = mail.key.split('#').next().unwrap_or(""), message_id = %message_id, "mail sent");
            Ok(SendOutcome::Sent(message_id))
        }
        Err(PortError::Rejected(reason)) => {
            ledger.finish_mail(&mail.key, MailStatus::Failed, None, Some(&reason), now).await?;
            Ok(SendOutcome::Failed(reason))
        }
        Err(error) => {
            // The send certainly did not happen: free the key for a later run.
            ledger.release_mail(&mail.key).await?;
            Err(error.into())
        }
    }
}
