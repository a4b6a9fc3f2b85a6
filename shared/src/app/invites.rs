//! Invites a person looks at and acts on: the list of a migration's invites, and putting failed
//! or unconfirmed ones back in the queue on purpose.
//!
//! An invite's e-mail is one ledger entry per round: the first send is `invite#<migration>#<email>`,
//! each retry asked for by a person is a new entry (`…#retry<N>`), so the ledger keeps every
//! attempt and still sends each round at most once.

use super::{AppResult, Services};
use crate::domain::invite::{Invite, MailStatus};
use crate::domain::issue::{FileRejection, RejectionCode};
use crate::domain::mail::invite_key;
use crate::domain::values::{Email, MigrationId};
use crate::ports::MailLedger;
use serde::Serialize;

/// The ledger key of an invite's current round: the first key whose entry is missing or still
/// open. A round that ended failed or unconfirmed is closed; the invite is sent again only when
/// a person put it back (`retry_invites`), and then under the next round's key.
pub async fn current_invite_key(ledger: &dyn MailLedger, invite: &Invite) -> AppResult<String> {
    let first = invite_key(invite.migration.as_str(), &invite.email);
    if invite.attempts == 0 {
        // Never tried: no entry beyond the first can exist.
        return Ok(first);
    }
    let mut round = 0u32;
    loop {
        let key = if round == 0 { first.clone() } else { format!("{first}#retry{round}") };
        match ledger.get_mail(&key).await? {
            Some(entry) if matches!(entry.status, MailStatus::Failed | MailStatus::Unconfirmed) => round += 1,
            _ => return Ok(key),
        }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq, Default)]
pub struct RetryOutcome {
    /// Put back in the queue; they go out on the next dispatch run (now, if due).
    pub requeued: Vec<String>,
    /// Matched but not failed or unconfirmed (sent, or still pending): left alone.
    pub untouched: u64,
    /// Failed or unconfirmed but on the mail service's suppression list: not put back.
    pub suppressed: Vec<SuppressedInvite>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SuppressedInvite {
    pub email: String,
    pub reason: String,
}

/// Puts the migration's failed and unconfirmed invites (or only `email`'s) back in the queue,
/// except those whose address the mail service suppresses. An unconfirmed invite may have
/// arrived: whoever retries it has checked it did not.
pub async fn retry_invites(svc: Services<'_>, migration: &MigrationId, email: Option<&Email>) -> AppResult<RetryOutcome> {
    let invites = svc.table.list_invites(migration).await?;
    if invites.is_empty() {
        return Err(FileRejection::new(
            RejectionCode::UnknownMigration,
            format!("Migration {migration} has no invites. Check the migration id."),
        )
        .into());
    }
    let chosen: Vec<&Invite> = invites.iter().filter(|i| email.is_none_or(|e| &i.email == e)).collect();
    if chosen.is_empty() {
        return Err(
            FileRejection::new(RejectionCode::UnknownInvite, format!("Migration {migration} has no invite for that address.")).into()
        );
    }
    let mut outcome = RetryOutcome::default();
    let note = format!("put back in the queue by hand at {}", super::rfc3339(svc.clock.now()));
    for invite in chosen {
        if !matches!(invite.status, MailStatus::Failed | MailStatus::Unconfirmed) {
            outcome.untouched += 1;
            continue;
        }
        if let Some(reason) = svc.mailer.suppressed(&invite.email).await? {
            // Mailing a suppressed address again hurts the account's reputation: refused.
            outcome.suppressed.push(SuppressedInvite { email: invite.email.to_string(), reason });
            continue;
        }
        // Attempts stay counted (at least one), so dispatch looks for the next round's key.
        let attempts = invite.attempts.max(1);
        svc.table.update_invite(migration, &invite.email, MailStatus::Pending, None, Some(&note), attempts).await?;
        outcome.requeued.push(invite.email.to_string());
    }
    tracing::info!(migration = %migration, requeued = outcome.requeued.len(), "invites put back in the queue");
    Ok(outcome)
}
