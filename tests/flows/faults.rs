//! A table that fails on its Nth call, to prove a crashed run resumes to the same end state.

use async_trait::async_trait;
use onboarding::domain::building::{Building, BuildingState, Phase};
use onboarding::domain::delivery::{DeliveryRecord, DeliveryState, DeliveryTally, Suppression};
use onboarding::domain::invite::{Invite, MailStatus};
use onboarding::domain::tenants::TenantContact;
use onboarding::domain::values::{BuildingId, Email, MigrationId};
use onboarding::ports::*;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use time::OffsetDateTime;

/// `fail_at` = N: the Nth call fails. With `after_effect`, the call is made first and only its
/// answer is lost (a crash after the write); otherwise it never reaches the table.
pub struct FaultyTable<'a> {
    inner: &'a dyn Table,
    calls: AtomicU64,
    fail_at: u64,
    after_effect: bool,
    /// Fail with `Throttled` (retries ran out) instead of a crash.
    throttle: bool,
    /// Yield to the scheduler before each call, so two runs joined on one task interleave at
    /// every table call (the embedded adapters never yield on their own).
    yields: bool,
    /// With `yields`, one call at a time reaches the inner table: the runs interleave between
    /// calls, never inside one. The embedded table answers each call without yielding anyway;
    /// the emulator's TransactWriteItems is not safe when two run at once (moto restores a copy
    /// of the whole table when a transaction is cancelled, and that copy can drop an item the
    /// other run's call just wrote: "dictionary changed size during iteration" in its log).
    /// DynamoDB makes each request atomic; this makes each port call (one request or a few)
    /// whole, coarser than DynamoDB and the same as the embedded table.
    one_at_a_time: tokio::sync::Mutex<()>,
    /// From the Nth call on, no call answers (the process died there): with `after_effect`
    /// the Nth reaches the table first. The run under test is dropped by a timeout.
    freezes: bool,
    /// Every call made, in order (method name), for tests that check what was read.
    log: std::sync::Mutex<Vec<String>>,
}

impl<'a> FaultyTable<'a> {
    pub fn new(inner: &'a dyn Table, fail_at: u64, after_effect: bool) -> Self {
        Self {
            inner,
            calls: AtomicU64::new(0),
            fail_at,
            after_effect,
            throttle: false,
            yields: false,
            one_at_a_time: Default::default(),
            freezes: false,
            log: Default::default(),
        }
    }

    /// Dies at the Nth call: it and every later call never answer, as in a crashed process
    /// whose sends were in flight (`after_effect`: the Nth call took effect first).
    pub fn dies_at(inner: &'a dyn Table, fail_at: u64, after_effect: bool) -> Self {
        Self { freezes: true, ..Self::new(inner, fail_at, after_effect) }
    }

    /// Answers `Throttled` at the Nth call, as DynamoDB does when its retries run out.
    pub fn throttled_at(inner: &'a dyn Table, fail_at: u64) -> Self {
        Self { throttle: true, ..Self::new(inner, fail_at, false) }
    }

    /// Never fails; yields before every call so concurrent runs interleave call by call.
    pub fn interleaved(inner: &'a dyn Table) -> Self {
        Self { yields: true, ..Self::new(inner, u64::MAX, false) }
    }

    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::SeqCst)
    }

    /// The calls made so far, as `method(argument summary)`.
    pub fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    /// Logs a call and numbers it (from 1).
    fn tick(&self, call: String) -> u64 {
        self.log.lock().unwrap().push(call);
        self.calls.fetch_add(1, Ordering::SeqCst) + 1
    }

    fn injected(&self) -> PortError {
        if self.throttle {
            PortError::Throttled("injected: retries ran out".into())
        } else {
            PortError::Unexpected("injected crash".into())
        }
    }
}

macro_rules! forward {
    ($self:ident . $method:ident ( $($arg:expr),* )) => {{
        let _turn = if $self.yields {
            tokio::task::yield_now().await;
            Some($self.one_at_a_time.lock().await)
        } else {
            None
        };
        let call = $self.tick(format!("{}({:?})", stringify!($method), ($(crate::faults::summary(&$arg),)*)));
        let fail = call == $self.fail_at;
        if $self.freezes && call >= $self.fail_at {
            if fail && $self.after_effect {
                let _ = $self.inner.$method($($arg),*).await;
            }
            return std::future::pending().await;
        }
        if fail && !$self.after_effect {
            return Err($self.injected());
        }
        let result = $self.inner.$method($($arg),*).await;
        if fail { Err($self.injected()) } else { result }
    }};
}

/// A short description of a call's argument for the call log.
pub fn summary<T: std::fmt::Debug + ?Sized>(value: &T) -> String {
    let text = format!("{value:?}");
    if text.len() > 200 {
        format!("{}…", &text[..text.char_indices().take_while(|(i, _)| *i < 200).last().map_or(0, |(i, _)| i)])
    } else {
        text
    }
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
    async fn grants(&self, b: &BuildingId, e: &[Email]) -> PortResult<Vec<bool>> {
        forward!(self.grants(b, e))
    }
    async fn count_grants(&self, b: &BuildingId) -> PortResult<u64> {
        forward!(self.count_grants(b))
    }
}

#[async_trait]
impl UserTable for FaultyTable<'_> {
    async fn get_users(&self, emails: &[Email]) -> PortResult<onboarding::ports::ExistingUsers> {
        forward!(self.get_users(emails))
    }
    async fn create_users(&self, users: &[NewUser]) -> PortResult<HashMap<Email, Option<onboarding::domain::values::MigrationId>>> {
        forward!(self.create_users(users))
    }
    async fn grant_access(&self, e: &Email, roles: &[String], b: &[BuildingId]) -> PortResult<()> {
        forward!(self.grant_access(e, roles, b))
    }
    async fn platform_members(&self) -> PortResult<Vec<onboarding::domain::platform_users::PlatformMember>> {
        forward!(self.platform_members())
    }
    async fn load_platform_users(&self, users: &[onboarding::domain::platform_users::PlatformUser]) -> PortResult<()> {
        forward!(self.load_platform_users(users))
    }
    async fn drop_platform_users(&self, emails: &[Email]) -> PortResult<()> {
        forward!(self.drop_platform_users(emails))
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
    async fn record_apply_part(&self, run: &str, index: u32, outcome: &str) -> PortResult<bool> {
        forward!(self.record_apply_part(run, index, outcome))
    }
    async fn apply_parts(&self, run: &str) -> PortResult<Vec<(u32, String)>> {
        forward!(self.apply_parts(run))
    }
    async fn count_apply_parts(&self, run: &str) -> PortResult<u64> {
        forward!(self.count_apply_parts(run))
    }
}

#[async_trait]
impl InviteTable for FaultyTable<'_> {
    async fn queue_invites(&self, i: &[Invite]) -> PortResult<()> {
        forward!(self.queue_invites(i))
    }
    async fn due_invites(&self, today: OffsetDateTime, limit: usize) -> PortResult<Vec<Invite>> {
        forward!(self.due_invites(today, limit))
    }
    async fn get_invite(&self, m: &MigrationId, e: &Email) -> PortResult<Option<Invite>> {
        forward!(self.get_invite(m, e))
    }
    async fn list_invites(&self, m: &MigrationId) -> PortResult<Vec<Invite>> {
        forward!(self.list_invites(m))
    }
    async fn invite_page(&self, m: &MigrationId, from: Option<&InvitePageMark>) -> PortResult<InvitePage> {
        forward!(self.invite_page(m, from))
    }
    fn invite_runs(&self, m: &MigrationId) -> Vec<Option<InvitePageMark>> {
        self.inner.invite_runs(m)
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
    async fn replace_invite(&self, invite: &Invite, expected: MailStatus) -> PortResult<bool> {
        forward!(self.replace_invite(invite, expected))
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
    async fn park_mail(&self, mail: &onboarding::domain::mail::OutgoingMail) -> PortResult<()> {
        forward!(self.park_mail(mail))
    }
    async fn parked_mail(&self, limit: usize) -> PortResult<Vec<onboarding::domain::mail::OutgoingMail>> {
        forward!(self.parked_mail(limit))
    }
    async fn unpark_mail(&self, key: &str) -> PortResult<()> {
        forward!(self.unpark_mail(key))
    }
}

#[async_trait]
impl DeliveryLog for FaultyTable<'_> {
    async fn record_delivery(&self, r: &DeliveryRecord) -> PortResult<Option<Option<DeliveryState>>> {
        forward!(self.record_delivery(r))
    }
    async fn deliveries(&self, ids: &[String]) -> PortResult<HashMap<String, DeliveryRecord>> {
        forward!(self.deliveries(ids))
    }
    async fn suppress(&self, s: &Suppression) -> PortResult<()> {
        forward!(self.suppress(s))
    }
    async fn unsuppress(&self, e: &Email) -> PortResult<bool> {
        forward!(self.unsuppress(e))
    }
    async fn suppressions(&self, emails: &[Email]) -> PortResult<HashMap<Email, Suppression>> {
        forward!(self.suppressions(emails))
    }
    async fn add_to_tally(&self, step: &DeliveryTally) -> PortResult<DeliveryTally> {
        forward!(self.add_to_tally(step))
    }
    async fn reset_tally(&self) -> PortResult<()> {
        forward!(self.reset_tally())
    }
}
