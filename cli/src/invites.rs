//! `onboard invites …`: a migration's invites, listed; failed or unconfirmed ones put back in the
//! queue, unsent ones moved to another day, one sent again, each on purpose.

use crate::args::InvitesCommand;
use crate::commands::{migration_id, Report};
use crate::output::Failure;
use crate::runtime::Runtime;
use onboarding::app;
use onboarding::domain::invite::MailStatus;
use onboarding::domain::values::Email;
use serde_json::json;

pub async fn run(runtime: &Runtime, command: InvitesCommand) -> Result<Report, Failure> {
    match command {
        InvitesCommand::List { migration, status } => list(runtime, &migration, status.as_deref()).await,
        InvitesCommand::Retry { migration, email } => retry(runtime, &migration, email.as_deref()).await,
        InvitesCommand::Reschedule { migration, date } => reschedule(runtime, &migration, &date).await,
        InvitesCommand::Resend { migration, email } => resend(runtime, &migration, &email).await,
    }
}

async fn list(runtime: &Runtime, migration: &str, status: Option<&str>) -> Result<Report, Failure> {
    let migration = migration_id(migration)?;
    let wanted = status
        .map(|raw| {
            MailStatus::parse(raw)
                .ok_or_else(|| Failure::usage(format!("unknown status {raw:?}: use pending, sending, sent, failed or unconfirmed")))
        })
        .transpose()?;
    let mut invites = runtime.table.list_invites(&migration).await.map_err(|e| Failure::from(app::AppError::Port(e)))?;
    invites.retain(|i| wanted.is_none_or(|w| i.status == w));
    invites.sort_by(|a, b| a.email.as_str().cmp(b.email.as_str()));
    let mut text = vec![format!("Invites of migration {migration}: {}", invites.len())];
    for invite in &invites {
        let error = invite.error.as_deref().map(|e| format!(" ({e})")).unwrap_or_default();
        text.push(format!("  {:<12} {} due {} attempts {}{error}", invite.status.as_str(), invite.email, invite.due, invite.attempts));
    }
    Ok(Report { value: json!({ "migration": migration.as_str(), "invites": invites }), text })
}

async fn retry(runtime: &Runtime, migration: &str, email: Option<&str>) -> Result<Report, Failure> {
    let migration = migration_id(migration)?;
    let email = email.map(|raw| Email::parse(raw).map_err(|e| Failure::usage(e.to_string()))).transpose()?;
    let outcome = app::invites::retry_invites(runtime.services(), &migration, email.as_ref()).await?;
    let mut text = vec![format!(
        "Invites of migration {migration}: {} put back in the queue, {} left as they were.",
        outcome.requeued.len(),
        outcome.untouched
    )];
    for refused in &outcome.suppressed {
        text.push(format!("  not put back: {} is {}; it is never mailed again", refused.email, refused.reason));
    }
    if !outcome.requeued.is_empty() {
        text.push("They go out on the next dispatch run (`onboard dispatch`, or the 15-minute schedule on AWS), each as a new attempt in the mail ledger.".into());
    }
    Ok(Report { value: serde_json::to_value(&outcome).unwrap_or_default(), text })
}

async fn reschedule(runtime: &Runtime, migration: &str, date: &str) -> Result<Report, Failure> {
    let migration = migration_id(migration)?;
    let date = onboarding::domain::approval::parse_date(date).map_err(Failure::usage)?;
    let outcome = app::invites::reschedule_invites(runtime.services(), &migration, date).await?;
    let text = vec![format!(
        "Invites of migration {migration}: {} unsent moved to {}; {} already sent (untouched); {} failed, unconfirmed or being sent (untouched).",
        outcome.moved, outcome.invite_date, outcome.sent, outcome.untouched
    )];
    Ok(Report { value: serde_json::to_value(&outcome).unwrap_or_default(), text })
}

async fn resend(runtime: &Runtime, migration: &str, email: &str) -> Result<Report, Failure> {
    let migration = migration_id(migration)?;
    let email = Email::parse(email).map_err(|e| Failure::usage(e.to_string()))?;
    let outcome = app::invites::resend_invite(runtime.services(), &migration, &email).await?;
    let text = vec![format!(
        "The invite to {} goes out again on the next dispatch run (`onboard dispatch`, or the 15-minute schedule on AWS), as round {} in the mail ledger.",
        outcome.email, outcome.round
    )];
    Ok(Report { value: serde_json::to_value(&outcome).unwrap_or_default(), text })
}
