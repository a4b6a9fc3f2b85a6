//! A table that fails on its Nth call, to prove a crashed run resumes to the same end state.

use async_trait::async_trait;
use onboarding::domain::building::{Building, BuildingState, Phase};
use onboarding::domain::invite::{Invite, MailStatus};
use onboarding::domain::plan::ExistingUser;
use onboarding::domain::tenants::TenantContact;
use onboarding::domain::values::{BuildingId, Email, MigrationId};
use onboarding::ports::*;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use time::{Date, OffsetDateTime};

/// `fail_at` = N: the Nth call fails. With `after_effect`, the call is made first and only its
/// answer is lost (a crash after the write); otherwise it never reaches the table.
pub struct FaultyTable<'a> {
    inner: &'a dyn Table,
    calls: AtomicU64,
    fail_at: u64,
    after_effect: bool,
}

impl<'a> FaultyTable<'a> {
    pub fn new(inner: &'a dyn Table, fail_at: u64, after_effect: bool) -> Self {
        Self { inner, calls: AtomicU64::new(0), fail_at, after_effect }
    }

    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::SeqCst)
    }

    fn tick(&self) -> bool {
        self.calls.fetch_add(1, Ordering::SeqCst) + 1 == self.fail_at
    }
}

fn injected() -> PortError {
    PortError::Unexpected("injected crash".into())
}

macro_rules! forward {
    ($self:ident . $method:ident ( $($arg:expr),* )) => {{
        let fail = $self.tick();
        if fail && !$self.after_effect {
            return Err(injected());
        }
        let result = $self.inner.$method($($arg),*).await;
        if fail { Err(injected()) } else { result }
    }};
}

#[async_trait]
impl EventLog for FaultyTable<'_> {
    async fn claim_event(&self, key: &str, now: OffsetDateTime, lease: i64) -> PortResult<EventClaim> {
        forward!(self.claim_event(key, now, lease))
    }
    async fn finish_event(&self, key: &str, now: OffsetDateTime, outcome: &str) -> PortResult<()> {
        forward!(self.finish_event(key, now, outcome))
    }
    async fn release_event(&self, key: &str) -> PortResult<()> {
        forward!(self.release_event(key))
    }
}

#[async_trait]
impl BuildingTable for FaultyTable<'_> {
    async fn get_building(&self, id: &BuildingId) -> PortResult<Option<BuildingState>> {
        forward!(self.get_building(id))
    }
    async fn list_buildings(&self) -> PortResult<Vec<BuildingState>> {
        forward!(self.list_buildings())
    }
    async fn upsert_building(&self, b: &Building, now: OffsetDateTime) -> PortResult<BuildingState> {
        forward!(self.upsert_building(b, now))
    }
    async fn set_phase(&self, id: &BuildingId, phase: Phase, now: OffsetDateTime, message_id: Option<&str>) -> PortResult<()> {
        forward!(self.set_phase(id, phase, now, message_id))
    }
}

#[async_trait]
impl ContactTable for FaultyTable<'_> {
    async fn list_contacts(&self, b: &BuildingId) -> PortResult<Vec<TenantContact>> {
        forward!(self.list_contacts(b))
    }
    async fn put_contacts(&self, b: &BuildingId, c: &[TenantContact], grant: bool, now: OffsetDateTime) -> PortResult<()> {
        forward!(self.put_contacts(b, c, grant, now))
    }
    async fn remove_contacts(&self, b: &BuildingId, e: &[Email]) -> PortResult<()> {
        forward!(self.remove_contacts(b, e))
    }
    async fn has_grant(&self, b: &BuildingId, e: &Email) -> PortResult<bool> {
        forward!(self.has_grant(b, e))
    }
    async fn count_grants(&self, b: &BuildingId) -> PortResult<u64> {
        forward!(self.count_grants(b))
    }
}

#[async_trait]
impl UserTable for FaultyTable<'_> {
    async fn get_users(&self, emails: &[Email]) -> PortResult<HashMap<Email, ExistingUser>> {
        forward!(self.get_users(emails))
    }
    async fn create_users(&self, users: &[NewUser]) -> PortResult<()> {
        forward!(self.create_users(users))
    }
    async fn grant_access(&self, e: &Email, roles: &[String], b: &[BuildingId]) -> PortResult<()> {
        forward!(self.grant_access(e, roles, b))
    }
}

#[async_trait]
impl MigrationTable for FaultyTable<'_> {
    async fn get_migration(&self, id: &MigrationId) -> PortResult<Option<MigrationRecord>> {
        forward!(self.get_migration(id))
    }
    async fn put_migration(&self, r: &MigrationRecord) -> PortResult<()> {
        forward!(self.put_migration(r))
    }
    async fn list_migrations(&self) -> PortResult<Vec<MigrationRecord>> {
        forward!(self.list_migrations())
    }
}

#[async_trait]
impl InviteTable for FaultyTable<'_> {
    async fn queue_invites(&self, i: &[Invite]) -> PortResult<()> {
        forward!(self.queue_invites(i))
    }
    async fn due_invites(&self, today: Date, limit: usize) -> PortResult<Vec<Invite>> {
        forward!(self.due_invites(today, limit))
    }
    async fn get_invite(&self, m: &MigrationId, e: &Email) -> PortResult<Option<Invite>> {
        forward!(self.get_invite(m, e))
    }
    async fn list_invites(&self, m: &MigrationId) -> PortResult<Vec<Invite>> {
        forward!(self.list_invites(m))
    }
    async fn update_invite(
        &self,
        m: &MigrationId,
        e: &Email,
        s: MailStatus,
        id: Option<&str>,
        err: Option<&str>,
        attempts: u32,
    ) -> PortResult<()> {
        forward!(self.update_invite(m, e, s, id, err, attempts))
    }
}

#[async_trait]
impl MailLedger for FaultyTable<'_> {
    async fn claim_mail(&self, key: &str, now: OffsetDateTime) -> PortResult<Option<LedgerEntry>> {
        forward!(self.claim_mail(key, now))
    }
    async fn finish_mail(&self, key: &str, s: MailStatus, id: Option<&str>, d: Option<&str>, now: OffsetDateTime) -> PortResult<()> {
        forward!(self.finish_mail(key, s, id, d, now))
    }
    async fn release_mail(&self, key: &str) -> PortResult<()> {
        forward!(self.release_mail(key))
    }
    async fn get_mail(&self, key: &str) -> PortResult<Option<LedgerEntry>> {
        forward!(self.get_mail(key))
    }
}
