//! Approval → apply the approved plan: create users, add roles and buildings (never remove),
//! queue invites for the invite date. Safe to run again: every write is idempotent, so a
//! crashed run is resumed by running it again.

use super::plan::verified_plan;
use super::{AppResult, Services};
use crate::domain::approval::Approval;
use crate::domain::invite::{Invite, MailStatus};
use crate::domain::issue::{FileRejection, RejectionCode};
use crate::domain::migration::MigrationState;
use crate::domain::plan::{Action, PlanEntry};
use crate::domain::values::Email;
use crate::ports::NewUser;
use serde::Serialize;
use std::collections::HashSet;

#[derive(Debug, Clone, Serialize, Default, PartialEq, Eq)]
pub struct ApplyOutcome {
    pub migration: String,
    pub plan_sha256: String,
    pub already_applied: bool,
    pub users_created: u64,
    pub users_updated: u64,
    pub unchanged: u64,
    pub held: u64,
    pub skipped_inactive: u64,
    pub excluded: u64,
    pub invites_queued: u64,
    pub invite_date: String,
    /// Planned as new, but another migration (or the platform) had created the user by the time
    /// of the apply: they gained this plan's roles and buildings and get no second invite.
    pub created_elsewhere: Vec<CreatedElsewhere>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CreatedElsewhere {
    pub email: String,
    /// The migration that created the user, when known.
    pub created_by: Option<String>,
}

impl ApplyOutcome {
    fn note_created_elsewhere(&mut self, email: &Email, creator: Option<&crate::domain::values::MigrationId>) {
        self.created_elsewhere.push(CreatedElsewhere { email: email.to_string(), created_by: creator.map(|m| m.to_string()) });
    }
}

pub async fn apply_approval(svc: Services<'_>, approval: &Approval) -> AppResult<ApplyOutcome> {
    let migration = &approval.migration;
    let Some(mut record) = svc.table.get_migration(migration).await? else {
        return Err(FileRejection::new(RejectionCode::UnknownPlan, format!("There is no plan for migration “{migration}”. Upload the user export to inbox/users/{migration}/ first, review the plan, then approve it.")).into());
    };
    if record.plan_sha256 != approval.plan_sha256 {
        return Err(FileRejection::new(
            RejectionCode::StalePlan,
            format!(
                "The approval quotes plan {} but the latest plan of migration “{migration}” is {} (planned {}). Nothing was applied. Review the latest report and approve its SHA-256.",
                approval.plan_sha256, record.plan_sha256, crate::domain::moment::for_people(record.planned_at)
            ),
        )
        .into());
    }
    let today = svc.clock.now().date();
    let due = approval.invite_date.unwrap_or(today);
    let mut outcome = ApplyOutcome {
        migration: migration.to_string(),
        plan_sha256: approval.plan_sha256.clone(),
        invite_date: due.to_string(),
        ..ApplyOutcome::default()
    };
    if record.state == MigrationState::Applied && record.approved_sha256.as_deref() == Some(approval.plan_sha256.as_str()) {
        outcome.already_applied = true;
    }
    // Read a hundred entries at a time: a million-user plan is never held whole.
    let mut plan = verified_plan(svc, migration, &approval.plan_sha256).await?;
    record.state = MigrationState::Applying;
    record.approved_by = Some(approval.approved_by.clone());
    record.approved_sha256 = Some(approval.plan_sha256.clone());
    record.invite_date = Some(due.to_string());
    record.excluded = approval.exclude.clone();
    svc.table.put_migration(&record).await?;

    // An invite date means the configured local hour in the zone of the person's first
    // building; no date means at once.
    let hour = super::config::load_config(svc.objects).await?.settings.invite_local_hour;
    let zones: std::collections::HashMap<crate::domain::values::BuildingId, Option<String>> =
        svc.table.list_buildings().await?.into_iter().map(|b| (b.building.id, b.building.time_zone)).collect();
    let now = svc.clock.now();
    let excluded: HashSet<&Email> = approval.exclude.iter().collect();
    let batch = Batch { migration, approval, hour, due, now, zones: &zones, excluded: &excluded };
    let mut done = 0u64;
    // Several chunks of a hundred at once: each waits mostly on the table, and one at a time a
    // million users would take longer than a function may run. Each user's step is idempotent,
    // so chunks may finish in any order, and a re-run after a crash passes over what is done.
    loop {
        let mut chunks = Vec::with_capacity(CHUNKS_IN_FLIGHT);
        while chunks.len() < CHUNKS_IN_FLIGHT {
            let chunk = plan.next_chunk(crate::ports::USERS_PER_LOOKUP)?;
            if chunk.is_empty() {
                break;
            }
            chunks.push(chunk);
        }
        if chunks.is_empty() {
            break;
        }
        let results = futures_util::future::join_all(chunks.iter().map(|chunk| apply_chunk(svc, &batch, chunk))).await;
        for result in results {
            outcome.absorb(result?);
        }
        done += chunks.iter().map(|c| c.len() as u64).sum::<u64>();
        svc.progress.advance("plan applied", done);
    }
    svc.progress.finish("plan applied");
    outcome.created_elsewhere.sort_by(|a, b| a.email.cmp(&b.email));
    record.state = MigrationState::Applied;
    record.applied_at = Some(svc.clock.now());
    svc.table.put_migration(&record).await?;
    tracing::info!(migration = %migration, created = outcome.users_created, updated = outcome.users_updated, invites = outcome.invites_queued, "plan applied");
    Ok(outcome)
}

/// How many chunks of a hundred users apply works on at once.
pub const CHUNKS_IN_FLIGHT: usize = 8;

/// What every chunk of one apply shares.
struct Batch<'a> {
    migration: &'a crate::domain::values::MigrationId,
    approval: &'a Approval,
    hour: u8,
    due: time::Date,
    now: time::OffsetDateTime,
    zones: &'a std::collections::HashMap<crate::domain::values::BuildingId, Option<String>>,
    excluded: &'a HashSet<&'a Email>,
}

impl ApplyOutcome {
    /// Adds one chunk's counts.
    fn absorb(&mut self, chunk: ApplyOutcome) {
        self.users_created += chunk.users_created;
        self.users_updated += chunk.users_updated;
        self.unchanged += chunk.unchanged;
        self.held += chunk.held;
        self.skipped_inactive += chunk.skipped_inactive;
        self.excluded += chunk.excluded;
        self.invites_queued += chunk.invites_queued;
        self.created_elsewhere.extend(chunk.created_elsewhere);
    }
}

/// One chunk of the plan: users created or given what they lack, invites queued. Returns the
/// chunk's counts.
async fn apply_chunk(svc: Services<'_>, batch: &Batch<'_>, chunk: &[PlanEntry]) -> AppResult<ApplyOutcome> {
    let Batch { migration, approval, hour, due, now, zones, excluded } = batch;
    let (migration, hour, due, now) = (*migration, *hour, *due, *now);
    let mut outcome = ApplyOutcome::default();
    let mut work = Vec::new();
    for entry in chunk {
        match entry.action {
            _ if excluded.contains(&entry.email) => outcome.excluded += 1,
            Action::Hold => outcome.held += 1,
            Action::SkipInactive => outcome.skipped_inactive += 1,
            Action::NoChange => outcome.unchanged += 1,
            Action::CreateAndInvite | Action::AddRoles => work.push(entry),
        }
    }
    // Look again now: a user may have been created since the plan was made.
    let emails: Vec<Email> = work.iter().map(|e| e.email.clone()).collect();
    let existing = if emails.is_empty() { Default::default() } else { svc.table.get_users(&emails).await? };
    let mut new_users = Vec::new();
    let mut invite_for = Vec::new();
    for entry in &work {
        let building_ids: Vec<_> = entry.buildings.iter().map(|b| b.id.clone()).collect();
        if let Some(user) = existing.get(&entry.email) {
            // A user who already holds every planned role and building needs no write: a run
            // resuming after a crash (or a timeout half-way through a million users) passes
            // over the users it already created at one read per hundred.
            let missing =
                entry.platform_roles.iter().any(|r| !user.roles.contains(r)) || building_ids.iter().any(|b| !user.buildings.contains(b));
            if missing {
                svc.table.grant_access(&entry.email, &entry.platform_roles, &building_ids).await?;
            }
            if entry.action == Action::AddRoles {
                outcome.users_updated += 1;
            } else if user.created_by.as_ref() == Some(migration) {
                // Created by an earlier (crashed) run of this apply: its invite is still ours.
                invite_for.push(*entry);
            } else {
                outcome.note_created_elsewhere(&entry.email, user.created_by.as_ref());
            }
        } else {
            new_users.push(NewUser {
                email: entry.email.clone(),
                first_name: entry.first_name.clone(),
                last_name: entry.last_name.clone(),
                roles: entry.platform_roles.clone(),
                buildings: building_ids,
                migration: migration.clone(),
            });
        }
    }
    if !new_users.is_empty() {
        // Created meanwhile by someone else: never overwritten; they gain this plan's roles
        // and buildings, and whoever created them invites them.
        let existed = svc.table.create_users(&new_users).await?;
        for user in &new_users {
            let entry = work.iter().find(|e| e.email == user.email).copied();
            match existed.get(&user.email) {
                None => {
                    if let Some(entry) = entry.filter(|e| e.action == Action::CreateAndInvite) {
                        outcome.users_created += 1;
                        invite_for.push(entry);
                    }
                }
                Some(creator) => {
                    svc.table.grant_access(&user.email, &user.roles, &user.buildings).await?;
                    match entry {
                        Some(entry) if entry.action == Action::AddRoles => outcome.users_updated += 1,
                        Some(entry) if creator.as_ref() == Some(migration) => invite_for.push(entry),
                        _ => outcome.note_created_elsewhere(&user.email, creator.as_ref()),
                    }
                }
            }
        }
    }
    let invites: Vec<Invite> = invite_for
        .into_iter()
        .map(|entry| {
            let time_zone = entry.buildings.first().and_then(|b| zones.get(&b.id).cloned().flatten());
            let send_at = match approval.invite_date {
                Some(date) => crate::domain::zone::local_instant(date, hour, time_zone.as_deref()),
                None => now,
            };
            Invite {
                migration: migration.clone(),
                email: entry.email.clone(),
                first_name: entry.first_name.clone(),
                building_names: entry.buildings.iter().map(|b| b.name.clone()).collect(),
                due,
                status: MailStatus::Pending,
                message_id: None,
                error: None,
                attempts: 0,
                round: 0,
                send_at: Some(send_at),
                time_zone,
            }
        })
        .collect();
    if !invites.is_empty() {
        outcome.invites_queued += invites.len() as u64;
        svc.table.queue_invites(&invites).await?;
    }
    Ok(outcome)
}
