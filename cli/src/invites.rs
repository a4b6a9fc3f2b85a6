//! `onboard invites …`: a migration's invites, listed; failed or unconfirmed ones put back in the
//! queue, unsent ones moved to another day, one sent again, each on purpose.

use crate::args::InvitesCommand;
use crate::commands::{migration_id, Report};
use crate::output::{Failure, Items, ItemsRead, Listing, ReadItems};
use crate::runtime::Runtime;
use onboarding::app;
use onboarding::domain::delivery::{DeliveryRecord, DeliveryState};
use onboarding::domain::invite::{Invite, MailStatus};
use onboarding::domain::values::Email;
use onboarding::ports::{InvitesInOrder, INVITES_PER_PAGE};
use serde_json::json;

pub async fn run(runtime: &Runtime, command: InvitesCommand) -> Result<Report, Failure> {
    match command {
        InvitesCommand::List { migration, status } => list(runtime, &migration, status.as_deref()).await,
        InvitesCommand::Retry { migration, email } => retry(runtime, &migration, email.as_deref()).await,
        InvitesCommand::Reschedule { migration, date } => reschedule(runtime, &migration, &date).await,
        InvitesCommand::Resend { migration, email } => resend(runtime, &migration, &email).await,
        InvitesCommand::Resume => resume(runtime).await,
        InvitesCommand::Unsuppress { email } => unsuppress(runtime, &email).await,
    }
}

async fn resume(runtime: &Runtime) -> Result<Report, Failure> {
    let outcome = app::delivery::resume_sending(runtime.services()).await?;
    let text = vec![match &outcome.lifted {
        Some(pause) => format!(
            "Invites resume on the next dispatch run; the pause ({}: {}) is lifted and the bounce count starts again (it was {} delivered, {} bounced, {} complained).",
            pause.cause.as_str(),
            pause.detail,
            outcome.tally.delivered,
            outcome.tally.bounced,
            outcome.tally.complained
        ),
        None => "Invites were not paused; the bounce count starts again.".to_string(),
    }];
    Ok(Report::new(serde_json::to_value(&outcome).unwrap_or_default(), text))
}

async fn unsuppress(runtime: &Runtime, email: &str) -> Result<Report, Failure> {
    let email = Email::parse(email).map_err(|e| Failure::usage(e.to_string()))?;
    let removed = runtime.table.unsuppress(&email).await.map_err(|e| Failure::from(app::AppError::Port(e)))?;
    let text = vec![if removed {
        format!("{email} is off the suppression list: flows may mail it again (SES's own account list still applies).")
    } else {
        format!("{email} was not on the suppression list.")
    }];
    Ok(Report::new(json!({ "email": email.as_str(), "removed": removed }), text))
}

async fn list(runtime: &Runtime, migration: &str, status: Option<&str>) -> Result<Report, Failure> {
    let migration = migration_id(migration)?;
    let wanted = status
        .map(|raw| match (MailStatus::parse(raw), DeliveryState::parse(raw)) {
            (Some(status), _) => Ok(Wanted::Mail(status)),
            (None, Some(state)) => Ok(Wanted::Delivery(state)),
            (None, None) => Err(Failure::usage(format!(
                "unknown status {raw:?}: use pending, sending, sent, failed or unconfirmed, or a delivery state (accepted, delayed, delivered, soft_bounced, bounced, rejected, complained)"
            ))),
        })
        .transpose()?;
    let text = vec![match wanted {
        Some(Wanted::Mail(status)) => format!("Invites of migration {migration} with status {}, by address:", status.as_str()),
        Some(Wanted::Delivery(state)) => format!("Invites of migration {migration} with delivery state {}, by address:", state.as_str()),
        None => format!("Invites of migration {migration}, by address:"),
    }];
    let listing = InviteListing { in_order: InvitesInOrder::new(runtime.table.as_ref(), &migration), wanted, listed: 0 };
    let listing = Listing { key: "invites", items: Items::Read(Box::new(listing)) };
    Ok(Report { listing: Some(listing), ..Report::new(json!({ "migration": migration.as_str() }), text) })
}

/// A migration's invites, read while they are printed: in address order, the table's runs
/// merged, a page of invites at a time with their delivery states. A million-user migration's
/// listing holds a page a run, whatever the filter.
struct InviteListing {
    in_order: InvitesInOrder,
    wanted: Option<Wanted>,
    /// Invites printed so far.
    listed: usize,
}

impl ReadItems for InviteListing {
    fn next_items<'a>(&'a mut self, runtime: &'a Runtime, json: bool) -> ItemsRead<'a> {
        Box::pin(async move {
            let port = |e| Failure::from(app::AppError::Port(e));
            let mut items = Vec::new();
            // Invites the filter leaves out are read on until some are kept or none are left.
            while items.is_empty() {
                let page = self.in_order.next_few(runtime.table.as_ref(), INVITES_PER_PAGE).await.map_err(port)?;
                if page.is_empty() {
                    break;
                }
                let wanted = self.wanted;
                let page: Vec<Invite> =
                    page.into_iter().filter(|i| !matches!(wanted, Some(Wanted::Mail(status)) if i.status != status)).collect();
                let states = app::delivery::delivery_states(runtime.services(), page.iter().filter_map(|i| i.message_id.clone())).await?;
                for invite in page {
                    let delivery = invite.message_id.as_ref().and_then(|id| states.get(id));
                    if matches!(wanted, Some(Wanted::Delivery(state)) if delivery.is_none_or(|d| d.state != state)) {
                        continue;
                    }
                    items.push(if json { invite_json(&invite, delivery) } else { invite_line(&invite, delivery) });
                }
            }
            self.listed += items.len();
            Ok(items)
        })
    }

    fn closing(&self) -> (Vec<String>, serde_json::Map<String, serde_json::Value>) {
        let noun = if self.listed == 1 { "invite" } else { "invites" };
        let line = format!("{} {noun} of migration {}.", self.listed, self.in_order.migration());
        (vec![line], serde_json::Map::from_iter([("count".to_string(), json!(self.listed))]))
    }
}

/// An invite as a line of text, with what became of its e-mail.
fn invite_line(invite: &Invite, delivery: Option<&DeliveryRecord>) -> String {
    let error = invite.error.as_deref().map(|e| format!(" ({e})")).unwrap_or_default();
    let said = delivery.map(|d| format!(" → {}", d.describe())).unwrap_or_default();
    format!("  {:<12} {} due {} attempts {}{error}{said}", invite.status.as_str(), invite.email, invite.due, invite.attempts)
}

/// An invite as JSON text, with what became of its e-mail.
fn invite_json(invite: &Invite, delivery: Option<&DeliveryRecord>) -> String {
    let mut row = serde_json::to_value(invite).unwrap_or_default();
    // The day as people and scripts write it (the stored form is the year and its day).
    row["due"] = serde_json::Value::String(invite.due.to_string());
    row["delivery"] = serde_json::to_value(delivery).unwrap_or_default();
    row.to_string()
}

#[derive(Clone, Copy)]
enum Wanted {
    Mail(MailStatus),
    Delivery(DeliveryState),
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
    Ok(Report::new(serde_json::to_value(&outcome).unwrap_or_default(), text))
}

async fn reschedule(runtime: &Runtime, migration: &str, date: &str) -> Result<Report, Failure> {
    let migration = migration_id(migration)?;
    let date = onboarding::domain::approval::parse_date(date).map_err(Failure::usage)?;
    let outcome = app::invites::reschedule_invites(runtime.services(), &migration, date).await?;
    let text = vec![format!(
        "Invites of migration {migration}: {} unsent moved to {}; {} already due that day; {} already sent (untouched); {} failed, unconfirmed or being sent (untouched).",
        outcome.moved, outcome.invite_date, outcome.already, outcome.sent, outcome.untouched
    )];
    Ok(Report::new(serde_json::to_value(&outcome).unwrap_or_default(), text))
}

async fn resend(runtime: &Runtime, migration: &str, email: &str) -> Result<Report, Failure> {
    let migration = migration_id(migration)?;
    let email = Email::parse(email).map_err(|e| Failure::usage(e.to_string()))?;
    let outcome = app::invites::resend_invite(runtime.services(), &migration, &email).await?;
    let text = vec![format!(
        "The invite to {} goes out again on the next dispatch run (`onboard dispatch`, or the 15-minute schedule on AWS), as round {} in the mail ledger.",
        outcome.email, outcome.round
    )];
    Ok(Report::new(serde_json::to_value(&outcome).unwrap_or_default(), text))
}
