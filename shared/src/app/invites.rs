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
use crate::ports::{InvitePages, MailLedger};
use serde::Serialize;
use time::Date;

/// The ledger key of one round of an invite's e-mail.
fn round_key(first: &str, round: u32) -> String {
    if round == 0 {
        first.to_string()
    } else {
        format!("{first}#retry{round}")
    }
}

/// The ledger key of an invite's current round: from the round the invite names, the first
/// key whose entry is missing or still open. A round that ended failed or unconfirmed is
/// closed; the invite is sent again only when a person put it back (`retry_invites`), and then
/// under the next round's key. A sent round is closed for good unless a person asked for a
/// resend (`resend_invite`), which names the next round on the invite itself.
pub async fn current_invite_key(ledger: &dyn MailLedger, invite: &Invite) -> AppResult<String> {
    Ok(current_round(ledger, invite).await?.1)
}

async fn current_round(ledger: &dyn MailLedger, invite: &Invite) -> AppResult<(u32, String, Option<MailStatus>)> {
    let first = invite_key(invite.migration.as_str(), &invite.email);
    if invite.attempts == 0 && invite.round == 0 {
        // Never tried: no entry beyond the first can exist.
        return Ok((0, first, None));
    }
    let mut round = invite.round;
    loop {
        let key = round_key(&first, round);
        match ledger.get_mail(&key).await? {
            Some(entry) if matches!(entry.status, MailStatus::Failed | MailStatus::Unconfirmed) => round += 1,
            entry => return Ok((round, key, entry.map(|e| e.status))),
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
/// arrived: whoever retries it has checked it did not. The invites are read a page at a time,
/// several at once ([`each_invite`]); the addresses come back in order.
pub async fn retry_invites(svc: Services<'_>, migration: &MigrationId, email: Option<&Email>) -> AppResult<RetryOutcome> {
    let mut outcome = RetryOutcome::default();
    let note = format!("put back in the queue by hand at {}", super::rfc3339(svc.clock.now()));
    if let Some(email) = email {
        let Some(invite) = svc.table.get_invite(migration, email).await? else {
            if !has_invites(svc, migration).await? {
                return Err(unknown_migration(migration, ""));
            }
            return Err(
                FileRejection::new(RejectionCode::UnknownInvite, format!("Migration {migration} has no invite for that address.")).into()
            );
        };
        outcome.count(retry_one(svc, invite, &note).await?);
    } else {
        let note = note.as_str();
        let (any, answers) = each_invite(svc, migration, |invite| retry_one(svc, invite, note)).await?;
        if !any {
            return Err(unknown_migration(migration, ""));
        }
        answers.into_iter().for_each(|answer| outcome.count(answer));
        outcome.requeued.sort();
        outcome.suppressed.sort_by(|a, b| a.email.cmp(&b.email));
    }
    tracing::info!(migration = %migration, requeued = outcome.requeued.len(), "invites put back in the queue");
    Ok(outcome)
}

/// What [`retry_invites`] did with one invite.
enum Retried {
    Requeued(String),
    Suppressed(SuppressedInvite),
    Untouched,
}

impl RetryOutcome {
    fn count(&mut self, retried: Retried) {
        match retried {
            Retried::Requeued(email) => self.requeued.push(email),
            Retried::Suppressed(refused) => self.suppressed.push(refused),
            Retried::Untouched => self.untouched += 1,
        }
    }
}

/// [`retry_invites`] for one invite.
async fn retry_one(svc: Services<'_>, invite: Invite, note: &str) -> AppResult<Retried> {
    if !matches!(invite.status, MailStatus::Failed | MailStatus::Unconfirmed) {
        return Ok(Retried::Untouched);
    }
    if let Some(reason) = super::delivery::suppressed_reason(svc, &invite.email).await? {
        // Mailing a suppressed address again hurts the account's reputation: refused.
        return Ok(Retried::Suppressed(SuppressedInvite { email: invite.email.to_string(), reason }));
    }
    // Attempts stay counted (at least one), so dispatch looks for the next round's key.
    let attempts = invite.attempts.max(1);
    svc.table.update_invite(&invite.migration, &invite.email, MailStatus::Pending, None, Some(note), attempts).await?;
    Ok(Retried::Requeued(invite.email.to_string()))
}

/// How many invites [`each_invite`] works on at once. Each is a conditional write or two: a
/// million-user migration's invites one after another, at 5 to 10 ms a write, would take
/// hours, past the 15 minutes a function may run; thirty-two at once, about 7 minutes at 10 ms
/// (`bench apply-sim --reschedule`: 100,000 invites in 40 s). They are shared among the
/// table's runs of pages ([`crate::ports::InviteTable::invite_runs`]): on DynamoDB one run a
/// partition, two invites each, since one partition key takes only about 1,000 writes a second.
pub const INVITES_IN_FLIGHT: usize = 32;

/// Hands every invite of `migration` to `work`: a page at a time, the table's runs of pages
/// side by side, [`INVITES_IN_FLIGHT`] calls at once among them, so the invites held are a page
/// a run (on DynamoDB sixteen) whatever the migration's size. Answers whether the migration
/// has any invite, and what each call answered (a byte an invite for a reschedule), in no
/// promised order.
async fn each_invite<T, Work, Fut>(svc: Services<'_>, migration: &MigrationId, work: Work) -> AppResult<(bool, Vec<T>)>
where
    Work: Fn(Invite) -> Fut,
    Fut: std::future::Future<Output = AppResult<T>>,
{
    use futures_util::stream::{self, StreamExt};
    let runs = InvitePages::runs(svc.table, migration);
    let in_flight = (INVITES_IN_FLIGHT / runs.len().max(1)).max(1);
    let work = &work;
    let runs = runs.into_iter().map(|mut pages| async move {
        let (mut any, mut answers) = (false, Vec::new());
        while let Some(invites) = pages.next().await? {
            any |= !invites.is_empty();
            let mut calls = stream::iter(invites.into_iter().map(work)).buffer_unordered(in_flight);
            while let Some(answer) = calls.next().await {
                answers.push(answer?);
            }
        }
        AppResult::Ok((any, answers))
    });
    let mut all = (false, Vec::new());
    for (any, answers) in futures_util::future::try_join_all(runs).await? {
        all.0 |= any;
        all.1.extend(answers);
    }
    Ok(all)
}

/// Whether `migration` has any invite (pages may be empty before the first that is not).
async fn has_invites(svc: Services<'_>, migration: &MigrationId) -> AppResult<bool> {
    let mut pages = InvitePages::new(svc.table, migration);
    while let Some(invites) = pages.next().await? {
        if !invites.is_empty() {
            return Ok(true);
        }
    }
    Ok(false)
}

fn unknown_migration(migration: &MigrationId, hint: &str) -> super::AppError {
    FileRejection::new(RejectionCode::UnknownMigration, format!("Migration {migration} has no invites. Check the migration id{hint}."))
        .into()
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq, Default)]
pub struct RescheduleOutcome {
    pub invite_date: String,
    /// Unsent invites moved to the new date.
    pub moved: u64,
    /// Unsent and already due on the new date at their hour (the same date asked again, or a
    /// run that stopped part way asked again): nothing written.
    pub already: u64,
    /// Already sent: counted, untouched.
    pub sent: u64,
    /// Failed, unconfirmed or being sent right now: untouched (`retry` puts failed ones back).
    pub untouched: u64,
}

/// Moves every unsent (pending) invite of a migration to `date`; sent ones are counted and left
/// alone. A date before today is refused. The migration's record takes the new date.
///
/// The invites are read and moved several at once ([`each_invite`]). An invite already due on
/// the new date is not written again: a run that stopped part way (a crash, a timeout), run
/// again, writes only what it had not moved.
pub async fn reschedule_invites(svc: Services<'_>, migration: &MigrationId, date: Date) -> AppResult<RescheduleOutcome> {
    let today = svc.clock.now().date();
    if date < today {
        return Err(FileRejection::new(
            RejectionCode::PastDate,
            format!("The new invite date {date} is in the past (today is {today} UTC). Choose today or a later day."),
        )
        .into());
    }
    let (any, answers) = each_invite(svc, migration, |invite| async move {
        Ok(match invite.status {
            MailStatus::Sent => Rescheduled::Sent,
            MailStatus::Pending => {
                // The same local hour on the new day, in the person's building's zone.
                let moved = invite.moved_to(date, crate::domain::config::DEFAULT_INVITE_HOUR);
                if (moved.due, moved.send_at) == (invite.due, invite.send_at) {
                    Rescheduled::Already
                } else if svc.table.replace_invite(&moved, MailStatus::Pending).await? {
                    // Conditional on still pending: an invite sent meanwhile stays sent.
                    Rescheduled::Moved
                } else {
                    Rescheduled::Untouched
                }
            }
            _ => Rescheduled::Untouched,
        })
    })
    .await?;
    if !any {
        return Err(unknown_migration(migration, " (invites exist once its plan is applied)"));
    }
    let mut outcome = RescheduleOutcome { invite_date: date.to_string(), ..RescheduleOutcome::default() };
    for answer in answers {
        *match answer {
            Rescheduled::Moved => &mut outcome.moved,
            Rescheduled::Already => &mut outcome.already,
            Rescheduled::Sent => &mut outcome.sent,
            Rescheduled::Untouched => &mut outcome.untouched,
        } += 1;
    }
    if let Some(mut record) = svc.table.get_migration(migration).await? {
        record.invite_date = Some(date.to_string());
        svc.table.put_migration(&record).await?;
    }
    tracing::info!(migration = %migration, moved = outcome.moved, already = outcome.already, "invites rescheduled");
    Ok(outcome)
}

/// What [`reschedule_invites`] did with one invite (see [`RescheduleOutcome`]).
enum Rescheduled {
    Moved,
    Already,
    Sent,
    Untouched,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ResendOutcome {
    pub email: String,
    /// The new round: the e-mail goes out under `invite#<migration>#<email>#retry<round>`.
    pub round: u32,
}

/// Sends an invite again on purpose, as a new message in the ledger: put back in the queue
/// under the round after its last one, due now. Refused for an invite not sent yet (it goes out
/// on its date) and for an address the mail service suppresses.
pub async fn resend_invite(svc: Services<'_>, migration: &MigrationId, email: &Email) -> AppResult<ResendOutcome> {
    let Some(invite) = svc.table.get_invite(migration, email).await? else {
        return Err(
            FileRejection::new(RejectionCode::UnknownInvite, format!("Migration {migration} has no invite for that address.")).into()
        );
    };
    if matches!(invite.status, MailStatus::Pending | MailStatus::Sending) {
        return Err(FileRejection::new(
            RejectionCode::InviteNotSent,
            format!("That invite has not been sent yet (it is {} and due {}); it goes out on its date. Use `invites reschedule` to move the date.", invite.status.as_str(), invite.due),
        )
        .into());
    }
    if let Some(reason) = super::delivery::suppressed_reason(svc, &invite.email).await? {
        return Err(FileRejection::new(
            RejectionCode::SuppressedAddress,
            format!("The address is {reason}: it is never mailed again (mailing it hurts the sender's reputation)."),
        )
        .into());
    }
    let (round, _, entry) = current_round(svc.table, &invite).await?;
    // A round with an entry is closed (sent); a missing one was never tried and can be used.
    let round = if entry.is_some() { round + 1 } else { round };
    let previous = invite.status;
    let now = svc.clock.now();
    let reopened = Invite {
        status: MailStatus::Pending,
        due: now.date(),
        send_at: Some(now),
        round,
        attempts: invite.attempts.max(1),
        error: Some(format!("resent by hand at {}", super::rfc3339(now))),
        ..invite
    };
    if !svc.table.replace_invite(&reopened, previous).await? {
        return Err(
            FileRejection::new(RejectionCode::UnknownInvite, "The invite changed meanwhile; list the invites and try again.").into()
        );
    }
    tracing::info!(migration = %migration, round, "invite put back for a resend");
    Ok(ResendOutcome { email: reopened.email.to_string(), round })
}
