//! Approval → apply the approved plan: create users, add roles and buildings (never remove),
//! queue invites for the invite date. Safe to run again: every write is idempotent, so a
//! crashed run is resumed by running it again.
//!
//! Two ways, one chunk step (`apply_chunk`): [`apply_approval`] applies the whole plan in the
//! approval's own run (locally, and wherever no queue is wired); [`queue_apply`] verifies the
//! plan and hands it to a work queue in parts of [`ENTRIES_PER_PART`] entries, which other
//! invocations apply with [`apply_part`], any number of them, in any order, each retried by
//! the queue until it is done. Each part's counts are recorded once; the part that completes
//! the set adds them up and marks the migration applied.

use super::plan::{plan_ranges, verified_plan, PlanRange, StoredPlan};
use super::{AppResult, Services};
use crate::domain::approval::Approval;
use crate::domain::invite::{Invite, MailStatus};
use crate::domain::issue::{FileRejection, RejectionCode};
use crate::domain::migration::MigrationState;
use crate::domain::plan::{Action, PlanEntry};
use crate::domain::values::Email;
use crate::ports::{MigrationRecord, NewUser, ObjectVersion, PortError, WorkQueue};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;

#[derive(Debug, Clone, Serialize, Default, PartialEq, Eq, Deserialize)]
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

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
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

/// The migration's record, checked against the approval, and the outcome so far.
async fn start(svc: Services<'_>, approval: &Approval) -> AppResult<(MigrationRecord, ApplyOutcome)> {
    let migration = &approval.migration;
    let Some(record) = svc.table.get_migration(migration).await? else {
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
    let due = approval.invite_date.unwrap_or(svc.clock.now().date());
    let outcome = ApplyOutcome {
        migration: migration.to_string(),
        plan_sha256: approval.plan_sha256.clone(),
        invite_date: due.to_string(),
        already_applied: record.state == MigrationState::Applied
            && record.approved_sha256.as_deref() == Some(approval.plan_sha256.as_str()),
        ..ApplyOutcome::default()
    };
    Ok((record, outcome))
}

/// Records the approval on the migration: it is being applied.
async fn mark_applying(svc: Services<'_>, mut record: MigrationRecord, approval: &Approval, due: &str) -> AppResult<MigrationRecord> {
    record.state = MigrationState::Applying;
    record.approved_by = Some(approval.approved_by.clone());
    record.approved_sha256 = Some(approval.plan_sha256.clone());
    record.invite_date = Some(due.to_string());
    record.excluded = approval.exclude.clone();
    svc.table.put_migration(&record).await?;
    Ok(record)
}

/// Applies the approved plan in this run, a few chunks of a hundred at a time.
pub async fn apply_approval(svc: Services<'_>, approval: &Approval) -> AppResult<ApplyOutcome> {
    let migration = &approval.migration;
    let (record, mut outcome) = start(svc, approval).await?;
    // Read a hundred entries at a time: a million-user plan is never held whole.
    let mut plan = verified_plan(svc, migration, &approval.plan_sha256).await?;
    let mut record = mark_applying(svc, record, approval, &outcome.invite_date).await?;
    let setting = Setting::read(svc, approval).await?;
    let excluded: HashSet<&Email> = approval.exclude.iter().collect();
    let batch = Batch { approval, setting: &setting, excluded: &excluded, recount_ours: false };
    let mut done = 0u64;
    // Several chunks of a hundred at once: each waits mostly on the table, and one at a time a
    // million users would take longer than a function may run. Each user's step is idempotent,
    // so chunks may finish in any order, and a re-run after a crash passes over what is done.
    loop {
        let applied = apply_chunks(svc, &batch, &mut plan).await?;
        let Some((entries, counts)) = applied else { break };
        outcome.absorb(counts);
        done += entries;
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

/// Up to [`CHUNKS_IN_FLIGHT`] chunks of the plan applied at once: how many entries they held
/// and what they did, `None` after the last entry.
async fn apply_chunks(svc: Services<'_>, batch: &Batch<'_>, plan: &mut StoredPlan) -> AppResult<Option<(u64, ApplyOutcome)>> {
    let mut chunks = Vec::with_capacity(CHUNKS_IN_FLIGHT);
    while chunks.len() < CHUNKS_IN_FLIGHT {
        let chunk = plan.next_chunk(crate::ports::USERS_PER_LOOKUP)?;
        if chunk.is_empty() {
            break;
        }
        chunks.push(chunk);
    }
    if chunks.is_empty() {
        return Ok(None);
    }
    let mut counts = ApplyOutcome::default();
    for result in futures_util::future::join_all(chunks.iter().map(|chunk| apply_chunk(svc, batch, chunk))).await {
        counts.absorb(result?);
    }
    Ok(Some((chunks.iter().map(|c| c.len() as u64).sum(), counts)))
}

/// How many chunks of a hundred users apply works on at once.
pub const CHUNKS_IN_FLIGHT: usize = 8;

/// How many plan entries one part of a queued apply holds: a part is one message on the apply
/// queue and takes one invocation a few seconds (ten rounds of [`CHUNKS_IN_FLIGHT`] chunks at
/// most), so a million users are a thousand messages that many invocations take in parallel.
pub const ENTRIES_PER_PART: u64 = 1000;

/// What the chunks of one apply read once: the send hour, the buildings' zones, the time.
struct Setting {
    hour: u8,
    due: time::Date,
    now: time::OffsetDateTime,
    zones: std::collections::HashMap<crate::domain::values::BuildingId, Option<String>>,
}

impl Setting {
    /// An invite date means the configured local hour in the zone of the person's first
    /// building; no date means at once.
    async fn read(svc: Services<'_>, approval: &Approval) -> AppResult<Self> {
        let hour = super::config::load_config(svc.objects).await?.settings.invite_local_hour;
        let zones = svc.table.list_buildings().await?.into_iter().map(|b| (b.building.id, b.building.time_zone)).collect();
        let now = svc.clock.now();
        Ok(Setting { hour, due: approval.invite_date.unwrap_or(now.date()), now, zones })
    }
}

/// What every chunk of one apply shares.
struct Batch<'a> {
    approval: &'a Approval,
    setting: &'a Setting,
    excluded: &'a HashSet<&'a Email>,
    /// Count a planned user found created by this migration as created: a part of a queued
    /// apply that runs again after a crash made them, and its count is the part's only record.
    /// (A run of the whole plan counts only what it created itself, so two runs at once add
    /// up to the users created.)
    recount_ours: bool,
}

/// One message on the apply queue: a range of an approved plan's entries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplyPart {
    /// The queued apply this part belongs to (one per approval upload).
    pub run: String,
    /// The approval, without its exclusions (the migration's record holds them: a long list
    /// would not fit a message a thousand times).
    pub approval: Approval,
    /// The plan.jsonl version every part reads (a plan replaced meanwhile is not mixed in).
    pub plan_version: Option<ObjectVersion>,
    pub index: u32,
    pub parts: u32,
    pub range: PlanRange,
    /// Whether this plan had been applied before this approval.
    pub already_applied: bool,
    /// The approval object and its event: the last part tells people under them.
    pub approval_key: String,
    pub event_key: String,
}

/// An approval handed to the apply queue.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ApplyQueued {
    pub migration: String,
    pub plan_sha256: String,
    pub run: String,
    pub parts: u32,
    pub entries: u64,
    pub invite_date: String,
}

/// The approval checked, its plan verified and cut into parts of [`ENTRIES_PER_PART`], and
/// every part queued: other invocations apply them ([`apply_part`]), as many at once as the
/// queue's consumers allow, each retried by the queue until it is done. `event_key` (the
/// approval's version) names the run, so a repeated delivery queues the same parts again and
/// their records count them once.
pub async fn queue_apply(
    svc: Services<'_>,
    queue: &dyn WorkQueue,
    approval: &Approval,
    approval_key: &str,
    event_key: &str,
) -> AppResult<ApplyQueued> {
    queue_apply_in_parts(svc, queue, approval, approval_key, event_key, ENTRIES_PER_PART).await
}

/// [`queue_apply`] with parts of `entries_per_part` entries (tests cut small plans finely).
pub async fn queue_apply_in_parts(
    svc: Services<'_>,
    queue: &dyn WorkQueue,
    approval: &Approval,
    approval_key: &str,
    event_key: &str,
    entries_per_part: u64,
) -> AppResult<ApplyQueued> {
    let migration = &approval.migration;
    let (record, outcome) = start(svc, approval).await?;
    let (plan_version, ranges) = plan_ranges(svc, migration, &approval.plan_sha256, entries_per_part.max(1)).await?;
    mark_applying(svc, record, approval, &outcome.invite_date).await?;
    let run = format!("{migration}#{}", &crate::domain::notice::content_version(event_key.as_bytes())[..16]);
    let parts = u32::try_from(ranges.len()).unwrap_or(u32::MAX);
    let slim = Approval { exclude: Vec::new(), ..approval.clone() };
    let messages: Vec<String> = ranges
        .iter()
        .enumerate()
        .map(|(index, range)| {
            let part = ApplyPart {
                run: run.clone(),
                approval: slim.clone(),
                plan_version: plan_version.clone(),
                index: u32::try_from(index).unwrap_or(u32::MAX),
                parts,
                range: *range,
                already_applied: outcome.already_applied,
                approval_key: approval_key.to_string(),
                event_key: event_key.to_string(),
            };
            serde_json::to_string(&part).map_err(|e| PortError::Unexpected(format!("an apply part does not serialize: {e}")))
        })
        .collect::<Result<_, _>>()?;
    queue.send(&messages).await?;
    let entries = ranges.iter().map(|r| r.entries).sum();
    tracing::info!(migration = %migration, parts, entries, "plan queued for apply");
    Ok(ApplyQueued {
        migration: migration.to_string(),
        plan_sha256: approval.plan_sha256.clone(),
        run,
        parts,
        entries,
        invite_date: outcome.invite_date,
    })
}

/// What one part of a queued apply came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PartDone {
    /// Applied; other parts are still to come.
    Applied,
    /// Applied, and every part is done: the apply's whole outcome.
    Finished(ApplyOutcome),
    /// Not applied: the migration was planned or approved again since the part was queued.
    Stale(String),
}

/// One part of a queued apply, applied (each user's step is idempotent, so a part delivered
/// twice, or again after a crash, does no harm) and recorded; the part that finds every part
/// recorded marks the migration applied and answers the apply's outcome (two parts finishing
/// together may both answer it: what follows is idempotent too).
pub async fn apply_part(svc: Services<'_>, part: &ApplyPart) -> AppResult<PartDone> {
    let migration = &part.approval.migration;
    let Some(mut record) = svc.table.get_migration(migration).await? else {
        return Ok(PartDone::Stale(format!("migration {migration} has no record")));
    };
    let sha = part.approval.plan_sha256.as_str();
    if record.plan_sha256 != sha || record.approved_sha256.as_deref() != Some(sha) {
        return Ok(PartDone::Stale(format!("migration {migration} was planned or approved again since this part was queued")));
    }
    let approval = Approval { exclude: record.excluded.clone(), ..part.approval.clone() };
    let setting = Setting::read(svc, &approval).await?;
    let excluded: HashSet<&Email> = approval.exclude.iter().collect();
    // A part tried again counts the users its first try created; a plan applied before and
    // approved again created nobody this time.
    let batch = Batch { approval: &approval, setting: &setting, excluded: &excluded, recount_ours: !part.already_applied };
    let mut plan = match StoredPlan::range(svc, migration, part.plan_version.as_ref(), part.range).await {
        Err(super::AppError::Port(PortError::Superseded(_))) => {
            return Ok(PartDone::Stale(format!("the plan of migration {migration} was replaced since this part was queued")))
        }
        other => other?,
    };
    let mut counts = ApplyOutcome::default();
    while let Some((_, chunk)) = apply_chunks(svc, &batch, &mut plan).await? {
        counts.absorb(chunk);
    }
    let recorded =
        serde_json::to_string(&counts).map_err(|e| PortError::Unexpected(format!("a part's outcome does not serialize: {e}")))?;
    svc.table.record_apply_part(&part.run, part.index, &recorded).await?;
    // Counted, not read: a thousand parts each reading every record before it would read half
    // a million records.
    if svc.table.count_apply_parts(&part.run).await? < u64::from(part.parts) {
        return Ok(PartDone::Applied);
    }
    let done = svc.table.apply_parts(&part.run).await?;
    let mut outcome = ApplyOutcome {
        migration: migration.to_string(),
        plan_sha256: sha.to_string(),
        already_applied: part.already_applied,
        invite_date: setting.due.to_string(),
        ..ApplyOutcome::default()
    };
    for (index, recorded) in &done {
        let counts: ApplyOutcome = serde_json::from_str(recorded)
            .map_err(|e| PortError::Unexpected(format!("the record of part {index} of apply {} is unreadable: {e}", part.run)))?;
        outcome.absorb(counts);
    }
    outcome.created_elsewhere.sort_by(|a, b| a.email.cmp(&b.email));
    if record.state != MigrationState::Applied {
        record.state = MigrationState::Applied;
        record.applied_at = Some(svc.clock.now());
        svc.table.put_migration(&record).await?;
    }
    tracing::info!(migration = %migration, created = outcome.users_created, updated = outcome.users_updated, invites = outcome.invites_queued, "queued plan applied");
    Ok(PartDone::Finished(outcome))
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
    let Batch { approval, setting, excluded, recount_ours } = batch;
    let migration = &approval.migration;
    let Setting { hour, due, now, ref zones } = **setting;
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
                outcome.users_created += u64::from(*recount_ours);
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
                        Some(entry) if creator.as_ref() == Some(migration) => {
                            outcome.users_created += u64::from(*recount_ours);
                            invite_for.push(entry)
                        }
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
