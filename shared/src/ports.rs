//! What the use cases need from the outside world, as narrow traits. The embedded adapters
//! (folder, SQLite, outbox) and the AWS adapters (S3, DynamoDB, SES) implement them.

use crate::domain::building::{Building, BuildingState, Phase};
use crate::domain::delivery::{DeliveryRecord, DeliveryState, DeliveryTally, Suppression};
use crate::domain::invite::{Invite, MailStatus};
use crate::domain::mail::OutgoingMail;
use crate::domain::plan::ExistingUser;
use crate::domain::sending::SendingPause;
use crate::domain::tenants::TenantContact;
use crate::domain::values::{BuildingId, Email, MigrationId};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, VecDeque};
use time::OffsetDateTime;

/// A failure of an adapter: the store, the bucket or the mail service.
#[derive(Debug, thiserror::Error)]
pub enum PortError {
    #[error("not found: {0}")]
    NotFound(String),
    /// The service asked us to slow down and retries ran out; the work can be resumed.
    #[error("throttled: {0}")]
    Throttled(String),
    /// The mail service sends nothing for now, for a reason about the account or its sender
    /// (unverified sender, sandbox, paused, suspended, daily quota). No message is to blame.
    #[error("sending paused: {0}")]
    SendingPaused(SendingPause),
    /// The mail service refused this one message (an address it will not take). Retrying
    /// will not help.
    #[error("rejected: {0}")]
    Rejected(String),
    /// The request left but no answer came back (timeout, lost connection, a 5xx): the message
    /// may or may not have gone out. Never retried automatically.
    #[error("not confirmed: {0}")]
    Unconfirmed(String),
    /// The object announced by an event is larger than the configured limit; it was not read.
    #[error("the file is {bytes} bytes, more than the {limit} allowed")]
    TooLarge { bytes: u64, limit: u64 },
    /// The object version an event announced is gone: replaced (its ETag changed) or deleted
    /// since. A newer version has an event of its own.
    #[error("superseded: {0}")]
    Superseded(String),
    #[error("{0}")]
    Unexpected(String),
}

pub type PortResult<T> = Result<T, PortError>;

/// The version of an object an S3 event announced: its version id in a versioned bucket,
/// else its ETag (its content).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjectVersion {
    Id(String),
    ETag(String),
}

/// Objects: the bucket (or a folder).
#[async_trait]
pub trait ObjectStore: Send + Sync {
    /// `key` as it was at `version`, refused unread (`TooLarge`) when larger than `max_bytes`,
    /// `Superseded` when that version is gone. A store without versions (a folder) reads the
    /// current object, checking its size first.
    async fn open_at(&self, key: &str, version: &ObjectVersion, max_bytes: u64) -> PortResult<Box<dyn std::io::Read + Send>> {
        let _ = (version, max_bytes);
        self.open(key).await
    }
    /// Bytes `start..end` of `key` (as far as it goes), at `version` when given (`Superseded`
    /// when that version is gone). This default reads from the start and skips; S3 asks for the
    /// range alone and a folder seeks.
    async fn open_range(
        &self,
        key: &str,
        version: Option<&ObjectVersion>,
        start: u64,
        end: u64,
    ) -> PortResult<Box<dyn std::io::Read + Send>> {
        let mut reader = match version {
            Some(version) => self.open_at(key, version, u64::MAX).await?,
            None => self.open(key).await?,
        };
        std::io::copy(&mut std::io::Read::take(&mut reader, start), &mut std::io::sink())
            .map_err(|e| PortError::Unexpected(format!("reading {key}: {e}")))?;
        Ok(Box::new(std::io::Read::take(reader, end.saturating_sub(start))))
    }
    /// The whole object as a blocking reader (streamed from a local file).
    async fn open(&self, key: &str) -> PortResult<Box<dyn std::io::Read + Send>>;
    async fn get(&self, key: &str) -> PortResult<Vec<u8>>;
    /// The version `key` is at now, for reading it more than once as the same bytes
    /// ([`ObjectStore::open_at`]); `None` for a store without versions (a folder).
    async fn current_version(&self, key: &str) -> PortResult<Option<ObjectVersion>> {
        let _ = key;
        Ok(None)
    }
    async fn put(&self, key: &str, bytes: Vec<u8>, content_type: &str) -> PortResult<()>;
    /// An object written piece by piece, so a large output is never held whole: an S3
    /// multipart upload, a temporary file locally. Nothing appears under `key` until
    /// [`ObjectWriter::finish`]; a writer dropped unfinished leaves the old object (if any) in
    /// place. This default gathers the pieces and `put`s them at the end.
    async fn create<'a>(&'a self, key: &str, content_type: &str) -> PortResult<Box<dyn ObjectWriter + 'a>> {
        Ok(Box::new(GatheredObject { store: self, key: key.to_string(), content_type: content_type.to_string(), bytes: Vec::new() }))
    }
    /// Keys under a prefix, sorted.
    async fn list(&self, prefix: &str) -> PortResult<Vec<String>>;
    /// A link a person can open to read `key`: on S3 a presigned URL valid [`LINK_DAYS`] days
    /// (at most; see the S3 adapter), locally a file URL. `None` when the store has none.
    async fn share_link(&self, key: &str) -> PortResult<Option<String>> {
        let _ = key;
        Ok(None)
    }
}

/// One object being written: see [`ObjectStore::create`]. Writes are buffered by the writer
/// (S3: parts of [`PART_BYTES`]), so callers may write small pieces.
#[async_trait]
pub trait ObjectWriter: Send {
    async fn write(&mut self, bytes: &[u8]) -> PortResult<()>;
    /// Makes the object visible under its key, whole.
    async fn finish(self: Box<Self>) -> PortResult<()>;
}

/// The size of one part of an S3 multipart upload (S3's least is 5 MiB): what a streamed
/// output holds in memory at most.
pub const PART_BYTES: usize = 8 * 1024 * 1024;

/// [`ObjectStore::create`]'s default: the pieces gathered, `put` at the end.
struct GatheredObject<'a, S: ObjectStore + ?Sized> {
    store: &'a S,
    key: String,
    content_type: String,
    bytes: Vec<u8>,
}

#[async_trait]
impl<S: ObjectStore + ?Sized> ObjectWriter for GatheredObject<'_, S> {
    async fn write(&mut self, bytes: &[u8]) -> PortResult<()> {
        self.bytes.extend_from_slice(bytes);
        Ok(())
    }

    async fn finish(self: Box<Self>) -> PortResult<()> {
        let this = *self;
        this.store.put(&this.key, this.bytes, &this.content_type).await
    }
}

/// Work handed to other invocations: an SQS queue on AWS, each message delivered at least once
/// (the receiver's work is idempotent).
#[async_trait]
pub trait WorkQueue: Send + Sync {
    /// Queues every message; an error may leave some queued (sending them again is harmless).
    async fn send(&self, messages: &[String]) -> PortResult<()>;
}

/// How long a shared link to a report stays valid (SigV4's longest).
pub const LINK_DAYS: u64 = 7;

/// Sends mail. `send` returns the service's message id.
#[async_trait]
pub trait Mailer: Send + Sync {
    async fn send(&self, mail: &OutgoingMail) -> PortResult<String>;
    /// The most messages a second the service accepts now.
    async fn max_send_rate(&self) -> PortResult<f64>;
    /// True when sending the same `key` twice delivers one message (the outbox does; SES does
    /// not). Only then may an unconfirmed send be retried.
    fn deduplicates(&self) -> bool {
        false
    }
    /// Why the mail service will not deliver to `email` (it is on the account's suppression
    /// list after a bounce or complaint), or `None`.
    async fn suppressed(&self, email: &Email) -> PortResult<Option<String>> {
        let _ = email;
        Ok(None)
    }
}

/// The current time.
pub trait Clock: Send + Sync {
    fn now(&self) -> OffsetDateTime;
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// What happened to one event (an uploaded object), for exactly-once processing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventClaim {
    /// This caller now owns the event.
    Claimed,
    /// Another caller is working on it (claimed less than the lease ago).
    InProgress,
    /// Done already.
    Done,
}

#[async_trait]
pub trait EventLog: Send + Sync {
    /// Claims an event key for `lease_seconds`; a stale claim (a crashed run) can be taken over.
    async fn claim_event(&self, key: &str, now: OffsetDateTime, lease_seconds: i64) -> PortResult<EventClaim>;
    async fn finish_event(&self, key: &str, now: OffsetDateTime, outcome: &str) -> PortResult<()>;
    /// Gives a claim back after a failure, so the next delivery (a Lambda retry) takes the event
    /// at once instead of waiting out the lease. A finished event is left as it is.
    async fn release_event(&self, key: &str) -> PortResult<()>;
}

#[async_trait]
pub trait BuildingTable: Send + Sync {
    async fn get_building(&self, id: &BuildingId) -> PortResult<Option<BuildingState>>;
    async fn list_buildings(&self) -> PortResult<Vec<BuildingState>>;
    /// Inserts or updates the building's details; a new building starts at phase `new`.
    async fn upsert_building(&self, building: &Building, now: OffsetDateTime) -> PortResult<BuildingState>;
    async fn set_phase(&self, id: &BuildingId, phase: Phase, now: OffsetDateTime, message_id: Option<&str>) -> PortResult<()>;
}

#[async_trait]
pub trait ContactTable: Send + Sync {
    async fn list_contacts(&self, building: &BuildingId) -> PortResult<Vec<TenantContact>>;
    /// Inserts or updates contacts and, with `grant`, their tile grants.
    async fn put_contacts(&self, building: &BuildingId, contacts: &[TenantContact], grant: bool, now: OffsetDateTime) -> PortResult<()>;
    /// Removes contacts and their tile grants.
    async fn remove_contacts(&self, building: &BuildingId, emails: &[Email]) -> PortResult<()>;
    async fn has_grant(&self, building: &BuildingId, email: &Email) -> PortResult<bool>;
    /// `has_grant` for up to 100 addresses (duplicates allowed), answered in order; a store
    /// that can read many keys in one round trip (DynamoDB BatchGetItem) overrides this.
    async fn grants(&self, building: &BuildingId, emails: &[Email]) -> PortResult<Vec<bool>> {
        let mut answers = Vec::with_capacity(emails.len());
        for email in emails {
            answers.push(self.has_grant(building, email).await?);
        }
        Ok(answers)
    }
    async fn count_grants(&self, building: &BuildingId) -> PortResult<u64>;
}

/// A new platform user, as applying a plan creates them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewUser {
    pub email: Email,
    pub first_name: String,
    pub last_name: String,
    pub roles: Vec<String>,
    pub buildings: Vec<BuildingId>,
    pub migration: MigrationId,
}

/// The existing users a lookup found, by address. foldhash, not SipHash: the plan looks up each
/// of a million addresses here (SipHash was ~5 % of the plan core's CPU), and the store that
/// holds the same addresses already hashes them with it.
pub type ExistingUsers = HashMap<Email, ExistingUser, foldhash::fast::RandomState>;

#[async_trait]
pub trait UserTable: Send + Sync {
    /// The users among `emails` that exist (at most 100 per call).
    async fn get_users(&self, emails: &[Email]) -> PortResult<ExistingUsers>;
    /// Creates the users that do not exist yet, each with a conditional write: a user that
    /// exists (created meanwhile by another migration or a concurrent apply) is never
    /// overwritten. Answers the users that existed, with the migration that created each.
    async fn create_users(&self, users: &[NewUser]) -> PortResult<HashMap<Email, Option<MigrationId>>>;
    /// Adds roles and building access to a user; never removes any.
    async fn grant_access(&self, email: &Email, roles: &[String], buildings: &[BuildingId]) -> PortResult<()>;
    /// The users the last platform-users snapshot holds, with where each came from.
    async fn platform_members(&self) -> PortResult<Vec<crate::domain::platform_users::PlatformMember>>;
    /// Loads a snapshot's users: each becomes (or stays) a known user, its roles and buildings
    /// added to what is stored (a user this product created keeps its creator), and a member of
    /// the snapshot, marked with its file, row and time.
    async fn load_platform_users(&self, users: &[crate::domain::platform_users::PlatformUser]) -> PortResult<()>;
    /// Takes users out of the snapshot: a user only the snapshot knew is forgotten; one this
    /// product created stays known.
    async fn drop_platform_users(&self, emails: &[Email]) -> PortResult<()>;
}

/// A migration's record: its latest plan and, once approved, its application.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MigrationRecord {
    pub id: MigrationId,
    pub plan_sha256: String,
    pub plan_key: String,
    #[serde(with = "crate::domain::moment::serde_rfc3339")]
    pub planned_at: time::OffsetDateTime,
    pub source: String,
    pub state: crate::domain::migration::MigrationState,
    pub approved_by: Option<String>,
    pub approved_sha256: Option<String>,
    pub invite_date: Option<String>,
    #[serde(default, with = "crate::domain::moment::serde_rfc3339::option")]
    pub applied_at: Option<time::OffsetDateTime>,
    /// Users the approval left out; the validation report does not expect them.
    #[serde(default)]
    pub excluded: Vec<Email>,
}

/// How many users one [`UserTable::get_users`] call asks for, everywhere (DynamoDB's
/// BatchGetItem takes 100 keys).
pub const USERS_PER_LOOKUP: usize = 100;

#[async_trait]
pub trait MigrationTable: Send + Sync {
    async fn get_migration(&self, id: &MigrationId) -> PortResult<Option<MigrationRecord>>;
    async fn put_migration(&self, record: &MigrationRecord) -> PortResult<()>;
    async fn list_migrations(&self) -> PortResult<Vec<MigrationRecord>>;
    /// Records part `index` of the queued apply `run` as done, with what it did (`outcome`,
    /// JSON). `false` when the part was recorded before: the first record stays.
    async fn record_apply_part(&self, run: &str, index: u32, outcome: &str) -> PortResult<bool>;
    /// What every recorded part of `run` did, by part index.
    async fn apply_parts(&self, run: &str) -> PortResult<Vec<(u32, String)>>;
    /// How many parts of `run` are recorded (without reading what they did).
    async fn count_apply_parts(&self, run: &str) -> PortResult<u64> {
        Ok(self.apply_parts(run).await?.len() as u64)
    }
}

#[async_trait]
pub trait InviteTable: Send + Sync {
    /// Queues invites; an invite already queued (any status) is left as it is.
    async fn queue_invites(&self, invites: &[Invite]) -> PortResult<()>;
    /// Pending invites due by `now` (their [`Invite::due_key`] at or before it), at most
    /// `limit`, in due order.
    async fn due_invites(&self, now: OffsetDateTime, limit: usize) -> PortResult<Vec<Invite>>;
    async fn get_invite(&self, migration: &MigrationId, email: &Email) -> PortResult<Option<Invite>>;
    /// The invites of `migration` to any of `emails` (at most [`USERS_PER_LOOKUP`] a call is
    /// best), by address. This default asks one at a time.
    async fn get_invites(&self, migration: &MigrationId, emails: &[Email]) -> PortResult<HashMap<Email, Invite>> {
        let mut found = HashMap::new();
        for email in emails {
            if let Some(invite) = self.get_invite(migration, email).await? {
                found.insert(email.clone(), invite);
            }
        }
        Ok(found)
    }
    /// Every invite of `migration`, by address, all held (the runs merged: [`InvitesInOrder`]).
    /// For a few invites (tests, a look at a small migration); work over a large one goes page
    /// by page ([`InvitePages`]).
    async fn list_invites(&self, migration: &MigrationId) -> PortResult<Vec<Invite>> {
        let (mut invites, mut in_order) = (Vec::new(), InvitesInOrder::new(self, migration));
        while let Some(invite) = in_order.next(self).await? {
            invites.push(invite);
        }
        Ok(invites)
    }
    /// One page of `migration`'s invites (at most about [`INVITES_PER_PAGE`]), from where
    /// `from` says the last page ended (`None`: the first page), and where the next one
    /// starts (`None`: this was the last). Pages come in no promised order and may be empty;
    /// an invite changed between pages is still visited once. For work that goes over every
    /// invite of a million-user migration without holding them all.
    async fn invite_page(&self, migration: &MigrationId, from: Option<&InvitePageMark>) -> PortResult<InvitePage>;
    /// Where runs of pages start that may be read side by side: each run, followed through its
    /// pages' `next` marks, visits a part of `migration`'s invites that no other run visits,
    /// and together they visit them all. Each run visits its invites in address order (within
    /// a page and from one page to the next). This default is one run, from the first page; a
    /// table that spreads a migration's invites over partitions gives one run a partition, so
    /// work done run by run spreads its writes too.
    fn invite_runs(&self, _migration: &MigrationId) -> Vec<Option<InvitePageMark>> {
        vec![None]
    }
    async fn update_invite(
        &self,
        migration: &MigrationId,
        email: &Email,
        status: MailStatus,
        message_id: Option<&str>,
        error: Option<&str>,
        attempts: u32,
    ) -> PortResult<()>;
    /// Stores `invite` whole (its due date, state, round) only if the stored one is still in
    /// `expected` state: a concurrent send or change wins. Answers whether it was stored.
    async fn replace_invite(&self, invite: &Invite, expected: MailStatus) -> PortResult<bool>;
}

/// About how many invites an [`InviteTable::invite_page`] holds: a few hundred kilobytes.
pub const INVITES_PER_PAGE: usize = 1000;

/// Where the next page of a migration's invites starts: the adapter's own mark, opaque to the
/// caller, which only hands it back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvitePageMark(pub String);

/// A page of invites ([`InviteTable::invite_page`]).
#[derive(Debug, Default)]
pub struct InvitePage {
    pub invites: Vec<Invite>,
    pub next: Option<InvitePageMark>,
}

/// Every invite of a migration, a page at a time: [`InviteTable::invite_page`] asked until it
/// names no next page. Over a table object as the use cases hold it, or (in the port's own
/// methods) over the table itself.
pub struct InvitePages<'t, T: InviteTable + ?Sized = dyn InviteTable> {
    table: &'t T,
    migration: &'t MigrationId,
    cursor: PageCursor,
}

/// Where the next page of a run starts, held apart from the table it is read from.
#[derive(Debug, Clone)]
struct PageCursor {
    /// `None` once the last page was read.
    next: Option<Option<InvitePageMark>>,
}

impl PageCursor {
    /// A run's cursor, from where `start` says (`None`: the first page).
    fn at(start: Option<InvitePageMark>) -> Self {
        Self { next: Some(start) }
    }

    async fn next_page<T: InviteTable + ?Sized>(&mut self, table: &T, migration: &MigrationId) -> PortResult<Option<Vec<Invite>>> {
        let Some(from) = self.next.take() else { return Ok(None) };
        let page = table.invite_page(migration, from.as_ref()).await?;
        self.next = page.next.map(Some);
        Ok(Some(page.invites))
    }
}

impl<'t, T: InviteTable + ?Sized> InvitePages<'t, T> {
    pub fn new(table: &'t T, migration: &'t MigrationId) -> Self {
        Self { table, migration, cursor: PageCursor::at(None) }
    }

    /// The migration's invites as the runs the table gives ([`InviteTable::invite_runs`]): one
    /// cursor a run, to be read side by side.
    pub fn runs(table: &'t T, migration: &'t MigrationId) -> Vec<Self> {
        table.invite_runs(migration).into_iter().map(|start| Self { table, migration, cursor: PageCursor::at(start) }).collect()
    }

    /// The next page's invites (maybe none), or `None` after the last page.
    pub async fn next(&mut self) -> PortResult<Option<Vec<Invite>>> {
        self.cursor.next_page(self.table, self.migration).await
    }
}

/// A migration's invites one at a time, in address order, holding a page a run: the table's
/// runs ([`InviteTable::invite_runs`], each in address order) read side by side and merged. A
/// million-user migration is listed, sorted, without holding its invites. Holds no borrow of
/// the table, which each call is given, so a listing can be carried to where it is printed.
#[derive(Debug)]
pub struct InvitesInOrder {
    migration: MigrationId,
    /// Each run's cursor, and what is left of the page it read last.
    runs: Vec<(PageCursor, VecDeque<Invite>)>,
}

impl InvitesInOrder {
    pub fn new<T: InviteTable + ?Sized>(table: &T, migration: &MigrationId) -> Self {
        let runs = table.invite_runs(migration).into_iter().map(|start| (PageCursor::at(start), VecDeque::new()));
        Self { migration: migration.clone(), runs: runs.collect() }
    }

    /// The migration listed.
    pub fn migration(&self) -> &MigrationId {
        &self.migration
    }

    /// The invite with the next address, or `None` after the last.
    pub async fn next<T: InviteTable + ?Sized>(&mut self, table: &T) -> PortResult<Option<Invite>> {
        let migration = &self.migration;
        // Runs whose page is used up read their next, side by side.
        let refills = self.runs.iter_mut().filter(|(_, held)| held.is_empty()).map(|(cursor, held)| async move {
            while held.is_empty() {
                let Some(page) = cursor.next_page(table, migration).await? else { break };
                held.extend(page);
            }
            PortResult::Ok(())
        });
        futures_util::future::try_join_all(refills).await?;
        // A run still without invites has ended.
        self.runs.retain(|(_, held)| !held.is_empty());
        let lowest = self
            .runs
            .iter()
            .enumerate()
            .filter_map(|(at, (_, held))| Some((at, held.front()?.email.as_str())))
            .min_by(|a, b| a.1.cmp(b.1))
            .map(|(at, _)| at);
        Ok(lowest.and_then(|at| self.runs.get_mut(at)).and_then(|(_, held)| held.pop_front()))
    }

    /// Up to `count` invites with the next addresses; fewer only at the end.
    pub async fn next_few<T: InviteTable + ?Sized>(&mut self, table: &T, count: usize) -> PortResult<Vec<Invite>> {
        let mut few = Vec::with_capacity(count.min(INVITES_PER_PAGE));
        while few.len() < count {
            let Some(invite) = self.next(table).await? else { break };
            few.push(invite);
        }
        Ok(few)
    }
}

/// The e-mail ledger: one entry per message key, claimed before the send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerEntry {
    pub key: String,
    pub status: MailStatus,
    pub message_id: Option<String>,
    #[serde(with = "crate::domain::moment::serde_rfc3339")]
    pub updated_at: time::OffsetDateTime,
    pub detail: Option<String>,
}

#[async_trait]
pub trait MailLedger: Send + Sync {
    /// Claims `key` for sending. Returns the existing entry when the key was claimed before.
    async fn claim_mail(&self, key: &str, now: OffsetDateTime) -> PortResult<Option<LedgerEntry>>;
    async fn finish_mail(
        &self,
        key: &str,
        status: MailStatus,
        message_id: Option<&str>,
        detail: Option<&str>,
        now: OffsetDateTime,
    ) -> PortResult<()>;
    /// Releases a claim whose send certainly failed, so a later run may try again.
    async fn release_mail(&self, key: &str) -> PortResult<()>;
    async fn get_mail(&self, key: &str) -> PortResult<Option<LedgerEntry>>;
    /// Keeps a message the mail service would not take for now (a paused account), for the
    /// next dispatch run to send; parking the same key again keeps one.
    async fn park_mail(&self, mail: &OutgoingMail) -> PortResult<()>;
    /// Parked messages, oldest key first, at most `limit`.
    async fn parked_mail(&self, limit: usize) -> PortResult<Vec<OutgoingMail>>;
    /// Forgets a parked message (it was sent, or is beyond sending).
    async fn unpark_mail(&self, key: &str) -> PortResult<()>;
}

/// What became of sent messages (SES's delivery events), the addresses never mailed again, and
/// the count the bounce rate is taken from.
#[async_trait]
pub trait DeliveryLog: Send + Sync {
    /// Stores `record` for its message unless the stored state ranks as high or higher (a
    /// duplicate or late event). Answers `Some(previous state)` when it was stored, `None` when
    /// nothing changed.
    async fn record_delivery(&self, record: &DeliveryRecord) -> PortResult<Option<Option<DeliveryState>>>;
    /// The recorded states of these messages (those that have one), by message id.
    async fn deliveries(&self, message_ids: &[String]) -> PortResult<HashMap<String, DeliveryRecord>>;
    /// Puts an address on the suppression list; an address already there keeps its first reason.
    async fn suppress(&self, suppression: &Suppression) -> PortResult<()>;
    /// Takes an address off the suppression list (a person fixed it on purpose).
    async fn unsuppress(&self, email: &Email) -> PortResult<bool>;
    /// The addresses among `emails` on the suppression list.
    async fn suppressions(&self, emails: &[Email]) -> PortResult<HashMap<Email, Suppression>>;
    /// Adds `step` to the tally since sending last resumed, answering the new totals.
    async fn add_to_tally(&self, step: &DeliveryTally) -> PortResult<DeliveryTally>;
    /// Starts the tally again (sending resumes).
    async fn reset_tally(&self) -> PortResult<()>;
}

/// The one table, as every use case sees it.
pub trait Table: EventLog + BuildingTable + ContactTable + UserTable + MigrationTable + InviteTable + MailLedger + DeliveryLog {}

impl<T: EventLog + BuildingTable + ContactTable + UserTable + MigrationTable + InviteTable + MailLedger + DeliveryLog> Table for T {}
