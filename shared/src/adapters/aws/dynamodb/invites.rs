//! Queued invites, and the sparse `due-invites` index of the pending ones.

use super::item::{from_json, invite_key, invite_pk, invite_shard, json, s, text, with, Item, INVITE_SHARDS};
use super::{condition_failed, DynamoTable};
use crate::domain::invite::{instant_key, Invite, MailStatus};
use crate::domain::values::{Email, MigrationId};
use crate::ports::{InvitePage, InvitePageMark, InviteTable, PortError, PortResult};
use async_trait::async_trait;
use std::collections::{HashMap, HashSet};
use time::OffsetDateTime;

pub(super) const DUE_INDEX: &str = "due-invites";

/// The stored invite; while pending it also sits in the due index.
fn invite_item(invite: &Invite) -> PortResult<Item> {
    let due = invite.due_key();
    let mut item = with(
        invite_key(&invite.migration, &invite.email),
        [("status", s(invite.status.as_str())), ("due", s(due.as_str())), ("data", json(invite)?)],
    );
    if invite.status == MailStatus::Pending {
        item.insert("due_pk".into(), s(format!("DUE#{}", invite_shard(&invite.email))));
        item.insert("due_sk".into(), s(format!("{due}#{}#{}", invite.migration, invite.email)));
    }
    Ok(item)
}

fn invite(item: &Item) -> PortResult<Invite> {
    from_json(item, "data")
}

/// A page mark read back: whether its run stays in its shard (a leading `=`, see
/// `invite_runs`), the shard, and the last address read in it (if any).
fn page_mark(mark: &str) -> Option<(bool, u8, Option<String>)> {
    let (own, mark) = match mark.strip_prefix('=') {
        Some(rest) => (true, rest),
        None => (false, mark),
    };
    let (shard, after) = match mark.split_once('#') {
        Some((shard, after)) => (shard, Some(after.to_string())),
        None => (mark, None),
    };
    Some((own, shard.parse().ok()?, after))
}

impl DynamoTable {
    /// The first `limit` pending invites of one due-index partition due by `now`.
    async fn due_in_shard(&self, shard: u8, now: OffsetDateTime, limit: usize) -> PortResult<Vec<Invite>> {
        let names = HashMap::from(
            [("#due_pk", "due_pk"), ("#due_sk", "due_sk"), ("#status", "status")].map(|(k, v)| (k.to_string(), v.to_string())),
        );
        // '~' sorts after every character of a migration id, so every invite due by now counts;
        // a bare date (an invite without a time) sorts before every time of its day.
        let upto = format!("{}#~", instant_key(now));
        let values: Item = [(":shard", s(format!("DUE#{shard}"))), (":upto", s(upto)), (":pending", s(MailStatus::Pending.as_str()))]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        let page_size = i32::try_from(limit.clamp(1, 1000)).unwrap_or(1000);
        let mut found = Vec::new();
        let mut start: Option<Item> = None;
        while found.len() < limit {
            let page = self
                .run("DynamoDB Query", || {
                    self.client
                        .query()
                        .table_name(&self.table)
                        .index_name(DUE_INDEX)
                        .key_condition_expression("#due_pk = :shard AND #due_sk <= :upto")
                        // The index lags the table a little; a just-sent invite may linger.
                        .filter_expression("#status = :pending")
                        .set_expression_attribute_names(Some(names.clone()))
                        .set_expression_attribute_values(Some(values.clone()))
                        .limit(page_size)
                        .set_exclusive_start_key(start.clone())
                        .send()
                })
                .await?;
            for item in page.items.unwrap_or_default() {
                found.push(invite(&item)?);
            }
            match page.last_evaluated_key {
                Some(next) if !next.is_empty() => start = Some(next),
                _ => break,
            }
        }
        found.truncate(limit);
        Ok(found)
    }
}

#[async_trait]
impl InviteTable for DynamoTable {
    async fn queue_invites(&self, invites: &[Invite]) -> PortResult<()> {
        // The first of two invites for one address wins, as SQLite's `ON CONFLICT DO NOTHING`.
        let mut seen = HashSet::new();
        let unique: Vec<&Invite> = invites.iter().filter(|i| seen.insert((&i.migration, &i.email))).collect();
        // Read first: a resumed apply finds the invites it queued before with one read, not a
        // cancelled transaction (which costs write capacity, and which the emulator undoes by
        // restoring the whole table, losing writes made beside it).
        let queued: HashSet<(String, String)> = self
            .batch_get(unique.iter().map(|i| invite_key(&i.migration, &i.email)).collect())
            .await?
            .iter()
            .filter_map(|item| Some((text(item, "pk")?.to_string(), text(item, "sk")?.to_string())))
            .collect();
        // Conditional puts, a hundred to a transaction: an invite queued meanwhile (a
        // concurrent apply) is named by the cancelled transaction and left as it is, whatever
        // its state; the others go again.
        let items = unique
            .into_iter()
            .filter(|i| !queued.contains(&(invite_pk(&i.migration, invite_shard(&i.email)), i.email.as_str().to_string())))
            .map(invite_item)
            .collect::<PortResult<Vec<_>>>()?;
        self.put_absent(&items).await?;
        Ok(())
    }

    async fn due_invites(&self, now: OffsetDateTime, limit: usize) -> PortResult<Vec<Invite>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let mut due = Vec::new();
        // An invite's due-index partition is its table shard.
        for shard in 0..INVITE_SHARDS {
            due.extend(self.due_in_shard(shard, now, limit).await?);
        }
        due.sort_by_cached_key(|i| (i.due_key(), i.migration.to_string(), i.email.to_string()));
        due.truncate(limit);
        Ok(due)
    }

    async fn get_invite(&self, migration: &MigrationId, email: &Email) -> PortResult<Option<Invite>> {
        self.get_item(invite_key(migration, email)).await?.as_ref().map(invite).transpose()
    }

    /// One BatchGetItem per hundred addresses.
    async fn get_invites(&self, migration: &MigrationId, emails: &[Email]) -> PortResult<HashMap<Email, Invite>> {
        let mut seen = HashSet::new();
        let keys = emails.iter().filter(|e| seen.insert(*e)).map(|e| invite_key(migration, e)).collect();
        let mut found = HashMap::new();
        for item in self.batch_get(keys).await? {
            let invite = invite(&item)?;
            found.insert(invite.email.clone(), invite);
        }
        Ok(found)
    }

    async fn invite_page(&self, migration: &MigrationId, from: Option<&InvitePageMark>) -> PortResult<InvitePage> {
        // A page is one Query of one shard; the mark names the shard and, within it, the last
        // address read (`<shard>` alone: the shard from its start). A run that keeps to its
        // shard (`=` first) ends with it; the first page's run goes on to the next shard.
        let (own, shard, after) = match from {
            None => (false, 0, None),
            Some(mark) => page_mark(&mark.0)
                // Not the mark itself: it holds an address.
                .ok_or_else(|| PortError::Unexpected("an invite page mark this table did not make".to_string()))?,
        };
        if shard >= INVITE_SHARDS {
            return Ok(InvitePage::default());
        }
        let pk = invite_pk(migration, shard);
        let start = after.map(|sk| Item::from([("pk".to_string(), s(pk.as_str())), ("sk".to_string(), s(sk))]));
        let limit = i32::try_from(self.invite_page).unwrap_or(i32::MAX);
        let (items, last) = self.query_page(&pk, None, start, Some(limit)).await?;
        let invites = items.iter().map(invite).collect::<PortResult<Vec<_>>>()?;
        let last = last.as_ref().and_then(|key| text(key, "sk"));
        let own = if own { "=" } else { "" };
        let next = match last {
            Some(sk) => Some(InvitePageMark(format!("{own}{shard}#{sk}"))),
            None if own.is_empty() && shard + 1 < INVITE_SHARDS => Some(InvitePageMark((shard + 1).to_string())),
            None => None,
        };
        Ok(InvitePage { invites, next })
    }

    /// One run a shard, so work done run by run writes to sixteen partition keys at once
    /// instead of one (DynamoDB serves about 1,000 writes a second to each).
    fn invite_runs(&self, _migration: &MigrationId) -> Vec<Option<InvitePageMark>> {
        (0..INVITE_SHARDS).map(|shard| Some(InvitePageMark(format!("={shard}")))).collect()
    }

    async fn update_invite(
        &self,
        migration: &MigrationId,
        email: &Email,
        status: MailStatus,
        message_id: Option<&str>,
        error: Option<&str>,
        attempts: u32,
    ) -> PortResult<()> {
        let not_found = || PortError::NotFound(format!("invite {migration}/{}", email.redacted()));
        let Some(mut invite) = self.get_invite(migration, email).await? else {
            return Err(not_found());
        };
        invite.status = status;
        invite.message_id = message_id.map(str::to_string).or(invite.message_id);
        invite.error = error.map(str::to_string);
        invite.attempts = attempts;
        // A whole-item put: leaving pending drops due_pk / due_sk (out of the index), coming
        // back to pending sets them again.
        let item = invite_item(&invite)?;
        let result = self
            .call("DynamoDB PutItem", || {
                self.client
                    .put_item()
                    .table_name(&self.table)
                    .set_item(Some(item.clone()))
                    .condition_expression("attribute_exists(#pk)")
                    .expression_attribute_names("#pk", "pk")
                    .send()
            })
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(failed) if condition_failed(&failed) => Err(not_found()),
            Err(failed) => Err(super::item::failure("DynamoDB PutItem", failed)),
        }
    }

    async fn replace_invite(&self, invite: &Invite, expected: MailStatus) -> PortResult<bool> {
        // A whole-item put (the due index follows the state), conditional on the stored state.
        let item = invite_item(invite)?;
        let result = self
            .call("DynamoDB PutItem", || {
                self.client
                    .put_item()
                    .table_name(&self.table)
                    .set_item(Some(item.clone()))
                    .condition_expression("#status = :expected")
                    .expression_attribute_names("#status", "status")
                    .expression_attribute_values(":expected", s(expected.as_str()))
                    .send()
            })
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(failed) if condition_failed(&failed) => Ok(false),
            Err(failed) => Err(super::item::failure("DynamoDB PutItem", failed)),
        }
    }
}
