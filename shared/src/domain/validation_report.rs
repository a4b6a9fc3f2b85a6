//! The validation report: does production match what was planned and applied?

use crate::building::{BuildingState, Phase};
use crate::delivery::{DeliveryRecord, DeliveryState};
use crate::html::page;
use crate::invite::{Invite, MailStatus};
use crate::plan::{Action, ExistingUser, PlanEntry};
use maud::html;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserCheck {
    pub migration: String,
    pub email: String,
    pub action: Action,
    pub ok: bool,
    pub missing_roles: Vec<String>,
    pub missing_buildings: Vec<String>,
    /// `sent`, `pending until YYYY-MM-DD`, `failed: reason`, `not required`...
    pub invite: String,
    pub problems: Vec<String>,
}

/// Checks one applied plan line against what the platform has now.
pub fn check_user(
    migration: &str,
    entry: &PlanEntry,
    user: Option<&ExistingUser>,
    invite: Option<&Invite>,
    delivery: Option<&DeliveryRecord>,
    now: OffsetDateTime,
) -> UserCheck {
    let mut problems = Vec::new();
    let (missing_roles, missing_buildings) = match user {
        None => {
            problems.push("user does not exist".to_string());
            (entry.platform_roles.clone(), entry.buildings.iter().map(|b| b.name.clone()).collect())
        }
        Some(user) => (
            entry.platform_roles.iter().filter(|r| !user.roles.contains(*r)).cloned().collect::<Vec<_>>(),
            entry.buildings.iter().filter(|b| !user.buildings.contains(&b.id)).map(|b| b.name.clone()).collect::<Vec<_>>(),
        ),
    };
    if !missing_roles.is_empty() {
        problems.push(format!("missing roles: {}", missing_roles.join(", ")));
    }
    if !missing_buildings.is_empty() {
        problems.push(format!("missing buildings: {}", missing_buildings.join(", ")));
    }
    let invite_text = match (entry.action, invite) {
        (Action::CreateAndInvite, None) => {
            problems.push("no invite queued".to_string());
            "missing".to_string()
        }
        (_, Some(invite)) => match invite.status {
            MailStatus::Sent => match delivery {
                None => "sent".to_string(),
                Some(delivery) => {
                    if let Some(problem) = delivery_problem(delivery) {
                        problems.push(problem);
                    }
                    format!("sent, {}", delivery.describe())
                }
            },
            // Due at its local hour in the person's building's zone; a day late is a problem (the
            // dispatcher runs every 15 minutes; only a long queue or a failure leaves one longer).
            MailStatus::Pending if invite_due_at(invite) > now => format!("pending until {}", invite.due_for_people()),
            MailStatus::Pending if now - invite_due_at(invite) < time::Duration::days(1) => {
                format!("going out now (due {})", invite.due_for_people())
            }
            MailStatus::Pending => {
                problems.push(format!("invite pending past its date ({})", invite.due_for_people()));
                format!("pending since {}", invite.due_for_people())
            }
            MailStatus::Sending | MailStatus::Unconfirmed => {
                problems.push(
                    "invite send not confirmed: check the mail service's log, then `onboard invites retry` if it did not arrive"
                        .to_string(),
                );
                "unconfirmed".to_string()
            }
            MailStatus::Failed => {
                let reason = invite.error.clone().unwrap_or_default();
                problems.push(format!("invite failed: {reason}"));
                format!("failed: {reason}")
            }
        },
        (_, None) => "not required".to_string(),
    };
    UserCheck {
        migration: migration.to_string(),
        email: entry.email.to_string(),
        action: entry.action,
        ok: problems.is_empty(),
        missing_roles,
        missing_buildings,
        invite: invite_text,
        problems,
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BuildingCheck {
    pub id: String,
    pub name: String,
    pub phase: Phase,
    pub phase_age_days: i64,
    pub tile_policy: String,
    pub contacts: u64,
    pub tile_grants: u64,
    pub problems: Vec<String>,
}

pub fn check_building(state: &BuildingState, contacts: u64, grants: u64, now: OffsetDateTime, stale_kickstart_days: i64) -> BuildingCheck {
    let changed = state.phase_changed_at;
    let age = (now - changed).whole_days().max(0);
    let mut problems = Vec::new();
    if state.phase == Phase::KickstartSent && age > stale_kickstart_days {
        problems.push(format!("kickstart sent {age} days ago with no progress: follow up with Envoy"));
    }
    if state.phase == Phase::New {
        problems.push("kickstart not sent yet".to_string());
    }
    if state.building.tile_policy == crate::building::TilePolicy::Permissioned && state.phase == Phase::Live && grants == 0 {
        problems.push("live with a permissioned tile but no tile grants: nobody sees the tile".to_string());
    }
    BuildingCheck {
        id: state.building.id.to_string(),
        name: state.building.name.clone(),
        phase: state.phase,
        phase_age_days: age,
        tile_policy: state.building.tile_policy.as_str().to_string(),
        contacts,
        tile_grants: grants,
        problems,
    }
}

/// When an invite is due: its time, or the start of its date (UTC) for one without.
fn invite_due_at(invite: &Invite) -> OffsetDateTime {
    invite.send_at.unwrap_or_else(|| invite.due.midnight().assume_utc())
}

/// What is wrong with a sent invite, from SES's word on it.
fn delivery_problem(delivery: &DeliveryRecord) -> Option<String> {
    let detail = delivery.detail.as_deref().map(|d| format!(" ({d})")).unwrap_or_default();
    match delivery.state {
        DeliveryState::Bounced => {
            Some(format!("invite bounced for good{detail}: the address is suppressed; correct it in the source export and upload it again"))
        }
        DeliveryState::Complained => {
            Some("the recipient marked the invite as spam: the address is suppressed; ask why before inviting again".into())
        }
        DeliveryState::SoftBounced => {
            Some(format!("invite bounced for now{detail}: a full mailbox or an auto-reply; `onboard invites resend` tries again"))
        }
        DeliveryState::Rejected => Some(format!("SES refused to deliver the invite{detail}")),
        DeliveryState::Accepted | DeliveryState::Delayed | DeliveryState::Delivered => None,
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MigrationCheck {
    pub migration: String,
    pub plan_sha256: String,
    pub applied_at: String,
    pub users_checked: u64,
    pub users_ok: u64,
    pub invites_sent: u64,
    pub invites_pending: u64,
    pub invites_failed: u64,
    /// Of the sent invites: SES's word on them.
    #[serde(default)]
    pub invites_delivered: u64,
    #[serde(default)]
    pub invites_bounced: u64,
    #[serde(default)]
    pub invites_complained: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValidationReport {
    pub date: String,
    pub generated_at: String,
    pub migrations: Vec<MigrationCheck>,
    pub buildings: Vec<BuildingCheck>,
    /// Only the users with a discrepancy (every user is counted in `migrations`).
    pub discrepancies: Vec<UserCheck>,
    /// Set while the mail service refuses to send for a reason about the account or its sender:
    /// `sending paused: <cause> (...); fix: ...`, with when it was seen.
    #[serde(default)]
    pub sending_paused: Option<String>,
    /// Approved plans not yet wholly applied, one line each: what is known and what to do.
    #[serde(default)]
    pub unfinished_applies: Vec<String>,
}

impl ValidationReport {
    pub fn problem_count(&self) -> usize {
        self.discrepancies.len()
            + self.buildings.iter().filter(|b| !b.problems.is_empty()).count()
            + usize::from(self.sending_paused.is_some())
            + self.unfinished_applies.len()
    }

    pub fn csv(&self) -> Vec<u8> {
        let mut rows: Vec<[String; 5]> = Vec::new();
        if let Some(paused) = &self.sending_paused {
            rows.push(["mail".into(), String::new(), "mail service".into(), "paused".into(), paused.clone()]);
        }
        for unfinished in &self.unfinished_applies {
            rows.push(["migration".into(), String::new(), String::new(), "applying".into(), unfinished.clone()]);
        }
        for b in &self.buildings {
            rows.push([
                "building".into(),
                b.id.clone(),
                b.name.clone(),
                format!(
                    "{} ({} days); policy {}; {} contacts; {} grants",
                    b.phase.as_str(),
                    b.phase_age_days,
                    b.tile_policy,
                    b.contacts,
                    b.tile_grants
                ),
                b.problems.join("; "),
            ]);
        }
        for u in &self.discrepancies {
            rows.push([
                "user".into(),
                u.migration.clone(),
                u.email.clone(),
                format!("{}; invite {}", u.action.as_str(), u.invite),
                u.problems.join("; "),
            ]);
        }
        crate::sheet::csv_bytes(&["Kind", "Id", "Name", "State", "Problems"], rows)
    }

    pub fn summary_text(&self) -> String {
        let mut text = format!("Validation report {}: {} problem(s).\n\n", self.date, self.problem_count());
        if let Some(paused) = &self.sending_paused {
            text.push_str(&format!("{paused}\n\n"));
        }
        for unfinished in &self.unfinished_applies {
            text.push_str(&format!("{unfinished}\n\n"));
        }
        for m in &self.migrations {
            text.push_str(&format!(
                "Migration {}: {}/{} users as planned; invites {} sent ({} delivered, {} bounced, {} complained), {} pending, {} failed.\n",
                m.migration,
                m.users_ok,
                m.users_checked,
                m.invites_sent,
                m.invites_delivered,
                m.invites_bounced,
                m.invites_complained,
                m.invites_pending,
                m.invites_failed
            ));
        }
        let flagged = self.buildings.iter().filter(|b| !b.problems.is_empty()).count();
        text.push_str(&format!("Buildings: {} checked, {} flagged.\n", self.buildings.len(), flagged));
        text.push_str("The full report is under reports/validation/ in the bucket.\n");
        text
    }

    pub fn html(&self) -> String {
        let body = html! {
            p { "Generated " (crate::moment::text_for_people(&self.generated_at)) ". Problems: " strong { (self.problem_count()) } }
            @if let Some(paused) = &self.sending_paused {
                p class="error" { strong { "Mail: " } (paused) }
            }
            @for unfinished in &self.unfinished_applies {
                p class="error" { strong { "Apply: " } (unfinished) }
            }
            h2 { "Migrations" }
            table {
                tr { th { "Migration" } th { "Applied" } th { "Users as planned" } th { "Invites sent" } th { "Delivered" } th { "Bounced" } th { "Complained" } th { "Pending" } th { "Failed" } }
                @for m in &self.migrations {
                    tr {
                        td { (m.migration) }
                        td { (crate::moment::text_for_people(&m.applied_at)) }
                        td class="num" { (m.users_ok) " / " (m.users_checked) }
                        td class="num" { (m.invites_sent) }
                        td class="num" { (m.invites_delivered) }
                        td class=(if m.invites_bounced > 0 { "num error" } else { "num" }) { (m.invites_bounced) }
                        td class=(if m.invites_complained > 0 { "num error" } else { "num" }) { (m.invites_complained) }
                        td class="num" { (m.invites_pending) }
                        td class="num" { (m.invites_failed) }
                    }
                }
            }
            h2 { "Users with discrepancies" }
            @if self.discrepancies.is_empty() { p class="ok" { "None: every planned user has their roles, buildings and invite." } }
            @else {
                table {
                    tr { th { "Migration" } th { "Email" } th { "Action" } th { "Invite" } th { "Problems" } }
                    @for u in self.discrepancies.iter().take(crate::html::MAX_HTML_ROWS) {
                        tr { td { (u.migration) } td { (u.email) } td { code { (u.action.as_str()) } } td { (u.invite) } td class="error" { (u.problems.join("; ")) } }
                    }
                }
            }
            h2 { "Buildings" }
            table {
                tr { th { "Building" } th { "Phase" } th { "Days in phase" } th { "Tile policy" } th { "Contacts" } th { "Tile grants" } th { "Problems" } }
                @for b in &self.buildings {
                    tr {
                        td { (b.name) br; small { code { (b.id) } } }
                        td { code { (b.phase.as_str()) } }
                        td class="num" { (b.phase_age_days) }
                        td { (b.tile_policy) }
                        td class="num" { (b.contacts) }
                        td class="num" { (b.tile_grants) }
                        td class="warning" { (b.problems.join("; ")) }
                    }
                }
            }
        };
        page(&format!("Validation report {}", self.date), body)
    }
}
