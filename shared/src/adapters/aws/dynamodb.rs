//! Every record in ONE DynamoDB table (single-table design), with the same meaning as the
//! embedded SQLite table.
//!
//! The table: string keys `pk` (partition) and `sk` (sort), TTL attribute `expires_at` (unix
//! seconds), and the sparse global secondary index `due-invites` (`due_pk` / `due_sk`, all
//! attributes projected). Reads of the table itself are strongly consistent, as SQLite is;
//! only `due-invites` is eventually consistent (GSIs cannot be otherwise).
//!
//! | record | pk | sk | other attributes |
//! |---|---|---|---|
//! | event claim | `EVENT#<key>` | `EVENT` | status (`claimed`/`done`), claimed_at (unix s), claim (token), outcome, expires_at (+30 days) |
//! | building | `BUILDING#<uuid>` | `META` | data (Building JSON), phase, phase_changed_at, kickstart_message_id |
//! | building index | `BUILDINGS` | `<uuid>` | — |
//! | contact + tile grant | `BUILDING#<uuid>` | `CONTACT#<email>` | email, full_name, phone, granted_at |
//! | user | `USER#<email>` | `USER` | email, first_name, last_name, roles (SS), buildings (SS), migration |
//! | migration | `MIGRATION#<id>` | `META` | data (MigrationRecord JSON) |
//! | migration index | `MIGRATIONS` | `<id>` | — |
//! | a done part of a queued apply | `APPLY#<migration>#<run>` | `PART#<index, 8 digits>` | part, data (its counts, JSON), expires_at |
//! | invite | `INVITE#<migration>#<0..15>` (shard: sha256(email) mod 16) | `<email>` | data (Invite JSON), status, due; while pending also due_pk `DUE#<shard>`, due_sk `<due key>#<migration>#<email>` (the due key is the UTC instant `2026-11-24T14:00:00Z`, or a bare date for an invite queued before invites had times) |
//! | mail ledger | `MAIL#<key>` | `MAIL` | key, status, message_id, updated_at, detail, claim (token) |
//! | delivery state | `DELIVERY#<SES message id>` | `DELIVERY` | rank, state, data (DeliveryRecord JSON), expires_at (the event's time + 400 days) |
//! | suppressed address | `SUPPRESSED#<email>` | `SUPPRESSED` | data (Suppression JSON) |
//! | bounce-rate tally | `SERVICE#delivery` | `TALLY` | delivered, bounced, complained (numbers) |
//!
//! Access patterns:
//! - claim_event: PutItem if `attribute_not_exists(pk) OR (status <> done AND claimed_at <=
//!   now - lease)` (SQLite's "claimed less than the lease ago" is in progress); on a failed
//!   condition the old item (returned with the failure, else a GetItem) tells Done from
//!   InProgress. finish_event: UpdateItem (upsert).
//! - get_building: GetItem. upsert_building: PutItem of the index item, then UpdateItem
//!   (`SET data`, `phase` / `phase_changed_at` only `if_not_exists`) returning the new item.
//!   set_phase: UpdateItem on `attribute_exists(pk)`. list_buildings: Query `pk = BUILDINGS`
//!   for the ids, then BatchGetItem. We keep an index partition rather than Scan: a Scan reads
//!   every user, contact and invite of the table to find a few dozen buildings.
//! - has_grant: one GetItem (the tile check). list_contacts: Query `pk = BUILDING#<uuid> AND
//!   begins_with(sk, "CONTACT#")`; count_grants: the same Query with `Select COUNT` and a
//!   filter on `attribute_exists(granted_at)`; both paginated. put_contacts: BatchGetItem of
//!   the contacts (100 keys a call), then BatchWriteItem of the merged items (25 a call).
//!   SQLite keeps a stored phone when the file has none and never moves granted_at; an
//!   UpdateItem per contact would too, but costs one call per contact, where reading first
//!   keeps it near one call per 25 writes plus one per 100 reads. remove_contacts:
//!   BatchWriteItem of deletes.
//! - get_users: BatchGetItem. create_users: no read (its caller has just read the users), the
//!   users as conditional puts (`attribute_not_exists(pk)`), a hundred to a TransactWriteItems:
//!   a user another migration or a concurrent apply created meanwhile is never overwritten, and
//!   is answered with its creator (so only the creator invites them). A transaction a condition
//!   cancels says which items exist; the rest go again. Transactional writes cost twice the
//!   write units of plain ones; BatchWriteItem cannot be conditional, and a conditional PutItem
//!   per user was a hundred times the calls (BENCHMARKS.md).
//!   grant_access: UpdateItem `ADD roles :r, buildings :b` (string sets; an empty set is left
//!   out, DynamoDB refuses them) on `attribute_exists(pk)`; adding to a set twice changes
//!   nothing, so a retry is harmless.
//! - get_migration: GetItem. put_migration: PutItem of the index item, then of the record.
//!   list_migrations: Query `pk = MIGRATIONS`, then BatchGetItem. record_apply_part: PutItem if
//!   `attribute_not_exists(pk)` (the first record of a part stays). apply_parts: Query
//!   `pk = APPLY#<migration>#<run>`.
//! - queue_invites: BatchGetItem, then the invites not queued yet as conditional puts, a
//!   hundred to a TransactWriteItems, so two runs queuing the same invite at once write it once
//!   and never reset one already sent.
//! - due_invites: Query each of the 16 `due-invites` partitions for `due_pk = DUE#<n> AND
//!   due_sk <= "<now>#~"` ('~' sorts after every migration id character; a bare date sorts before every time of its day) filtered on status
//!   pending, at most `limit` from each, then merged in (due, migration, email) order. The
//!   index is sparse: update_invite rewrites the item and sets due_pk / due_sk only while the
//!   status is pending, so sent and failed invites leave it and a retried one comes back.
//! - get_invite: GetItem. invite_page: one Query page (at most 1,000 items) of one of the 16
//!   `INVITE#<migration>#<n>` partitions, after the last address the mark names (list_invites,
//!   the port's own, merges the runs, each in address order); invite_runs: one run per
//!   partition (marks `=<n>`), so a reschedule writes to all sixteen keys at once. A partition
//!   key takes at most 1,000 writes a second; a migration's invites under one key would cap a
//!   million-user apply there.
//!   update_invite: GetItem, then PutItem on `attribute_exists(pk)`.
//! - claim_mail: PutItem if `attribute_not_exists(pk)`; on a failed condition, the existing
//!   entry (returned with the failure, else a GetItem). finish_mail: UpdateItem (upsert).
//!   release_mail: DeleteItem if `status = sending`. get_mail: GetItem.
//! - park_mail: PutItem. parked_mail: Query `pk = PARKED_MAIL`. unpark_mail: DeleteItem.
//! - record_delivery: PutItem if `attribute_not_exists(pk) OR rank < :rank`, returning the old
//!   item (its state counts the first move only); a failed condition is a duplicate or late
//!   event. deliveries and suppressions: BatchGetItem. suppress: PutItem if
//!   `attribute_not_exists(pk)` (the first reason stays). unsuppress: DeleteItem. add_to_tally:
//!   UpdateItem `ADD` returning the new totals. reset_tally: DeleteItem.
//!
//! BatchWriteItem calls go 4 at a time (`batch::WRITES_IN_FLIGHT`): one by one, their round
//! trips would bound a million-user apply rather than the table.
//!
//! Conditional claims carry a random token: if a put succeeded but its answer was lost and
//! the retry finds our own token, the claim is ours. Every call is retried on throttling and
//! 5xx (`retry`); BatchWriteItem's UnprocessedItems and BatchGetItem's UnprocessedKeys are
//! retried the same way, and what is left when the budget runs out is reported as
//! `PortError::Throttled` with its count, never dropped.

mod batch;
mod buildings;
mod claims;
mod delivery;
mod invites;
mod item;
mod schema;
mod transact;
mod users;

#[cfg(test)]
mod tests;

use crate::adapters::aws::retry::{self, Backoff, Failed};
use crate::ports::PortResult;
use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::types::AttributeValue;
use item::{dynamo_transient, failure, Item, ServiceFailure};
use std::collections::HashMap;
use std::future::Future;

#[derive(Debug, Clone)]
pub struct DynamoTable {
    client: aws_sdk_dynamodb::Client,
    table: String,
    backoff: Backoff,
    /// At most this many invites a Query page ([`crate::ports::INVITES_PER_PAGE`]; tests use
    /// fewer, to go over several pages of one shard with a few invites).
    invite_page: usize,
}

impl DynamoTable {
    pub fn new(client: aws_sdk_dynamodb::Client, table: String) -> Self {
        Self { client, table, backoff: Backoff::DYNAMODB, invite_page: crate::ports::INVITES_PER_PAGE }
    }

    /// A different retry budget (tests use a quick one).
    pub fn with_backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// Invite pages of at most `size` invites (at least one).
    pub fn with_invite_page(mut self, size: usize) -> Self {
        self.invite_page = size.max(1);
        self
    }

    pub fn table_name(&self) -> &str {
        &self.table
    }

    /// One call within the table's retry budget; `Failed::Final` is left to the caller.
    async fn call<T, E, F, Fut>(&self, operation: &'static str, send: F) -> Result<T, Failed<E>>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, SdkError<E, HttpResponse>>>,
        E: ServiceFailure,
    {
        retry::call(&self.backoff, operation, send, dynamo_transient).await
    }

    /// One call within the table's retry budget, every failure made a `PortError`.
    async fn run<T, E, F, Fut>(&self, operation: &'static str, send: F) -> PortResult<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, SdkError<E, HttpResponse>>>,
        E: ServiceFailure,
    {
        self.call(operation, send).await.map_err(|e| failure(operation, e))
    }

    /// The item under a key (strongly consistent).
    async fn get_item(&self, key: Item) -> PortResult<Option<Item>> {
        let output = self
            .run("DynamoDB GetItem", || {
                self.client.get_item().table_name(&self.table).set_key(Some(key.clone())).consistent_read(true).send()
            })
            .await?;
        Ok(output.item)
    }

    async fn put_item(&self, item: Item) -> PortResult<()> {
        self.run("DynamoDB PutItem", || self.client.put_item().table_name(&self.table).set_item(Some(item.clone())).send()).await?;
        Ok(())
    }

    /// Every item of a partition (only sort keys starting with `prefix`, if given) in sort key
    /// order: strongly consistent, all pages.
    async fn query_partition(&self, pk: &str, prefix: Option<&str>) -> PortResult<Vec<Item>> {
        let mut items = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let (page, next) = self.query_page(pk, prefix, start, None).await?;
            items.extend(page);
            match next {
                Some(next) => start = Some(next),
                None => return Ok(items),
            }
        }
    }

    /// One Query page of a partition (as [`DynamoTable::query_partition`] reads them), from
    /// after `start`, of at most `limit` items; and the key to start the next page from, if
    /// the partition may hold more.
    async fn query_page(
        &self,
        pk: &str,
        prefix: Option<&str>,
        start: Option<Item>,
        limit: Option<i32>,
    ) -> PortResult<(Vec<Item>, Option<Item>)> {
        let mut names = HashMap::from([("#pk".to_string(), "pk".to_string())]);
        let mut values = Item::from([(":pk".to_string(), AttributeValue::S(pk.to_string()))]);
        let condition = match prefix {
            Some(prefix) => {
                names.insert("#sk".into(), "sk".into());
                values.insert(":prefix".into(), AttributeValue::S(prefix.to_string()));
                "#pk = :pk AND begins_with(#sk, :prefix)"
            }
            None => "#pk = :pk",
        };
        let page = self
            .run("DynamoDB Query", || {
                self.client
                    .query()
                    .table_name(&self.table)
                    .key_condition_expression(condition)
                    .set_expression_attribute_names(Some(names.clone()))
                    .set_expression_attribute_values(Some(values.clone()))
                    .consistent_read(true)
                    .set_limit(limit)
                    .set_exclusive_start_key(start.clone())
                    .send()
            })
            .await?;
        let next = page.last_evaluated_key.filter(|next| !next.is_empty());
        Ok((page.items.unwrap_or_default(), next))
    }
}

/// True when a conditional write failed its condition (and nothing else went wrong).
fn condition_failed<E: ServiceFailure>(failed: &Failed<E>) -> bool {
    matches!(failed, Failed::Final(SdkError::ServiceError(context)) if context.err().condition_failed())
}
