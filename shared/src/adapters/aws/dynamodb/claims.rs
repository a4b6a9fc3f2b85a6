//! The two conditional claims: events (exactly-once processing of uploads) and the mail
//! ledger (at most one send per message key).

use super::item::{
    claim_token, event_key, from_json, index_key, json, mail_key, n, number, required, rfc3339, s, text, with, Item, PARKED_MAIL_INDEX,
};
use super::{condition_failed, DynamoTable};
use crate::adapters::aws::retry::Failed;
use crate::domain::invite::MailStatus;
use crate::domain::mail::OutgoingMail;
use crate::ports::{EventClaim, EventLog, LedgerEntry, MailLedger, PortError, PortResult};
use async_trait::async_trait;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure;
use std::collections::HashMap;
use time::OffsetDateTime;

/// How long a finished or claimed event is remembered (S3 redelivers within hours at most).
pub(super) const EVENT_MEMORY_SECONDS: i64 = 30 * 24 * 3600;
/// Claims that keep meeting a vanishing item give up after this many rounds.
const CLAIM_ROUNDS: usize = 3;

fn names(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn values(pairs: Vec<(&str, aws_sdk_dynamodb::types::AttributeValue)>) -> Item {
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

/// The item a failed conditional put met: returned with the failure, when the service does.
fn old_item(failed: &Failed<PutItemError>) -> Option<Item> {
    match failed {
        Failed::Final(error) => match error.as_service_error() {
            Some(PutItemError::ConditionalCheckFailedException(e)) => e.item().cloned(),
            _ => None,
        },
        Failed::GaveUp(_) => None,
    }
}

impl DynamoTable {
    /// Puts `item` if `condition` holds. `Ok(None)`: written. `Ok(Some(old))`: the condition
    /// failed on `old`. `Err`: anything else (a vanished item reads as `Some(empty)`).
    pub(super) async fn put_if(
        &self,
        item: &Item,
        condition: &str,
        names: &HashMap<String, String>,
        values: &Item,
    ) -> PortResult<Option<Item>> {
        let result = self
            .call("DynamoDB PutItem", || {
                self.client
                    .put_item()
                    .table_name(&self.table)
                    .set_item(Some(item.clone()))
                    .condition_expression(condition)
                    .set_expression_attribute_names((!names.is_empty()).then(|| names.clone()))
                    .set_expression_attribute_values((!values.is_empty()).then(|| values.clone()))
                    .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
                    .send()
            })
            .await;
        match result {
            Ok(_) => Ok(None),
            Err(failed) if condition_failed(&failed) => {
                let old = match old_item(&failed) {
                    Some(old) => Some(old),
                    None => self.get_item(item_key(item)).await?,
                };
                Ok(Some(old.unwrap_or_default()))
            }
            Err(failed) => Err(super::item::failure("DynamoDB PutItem", failed)),
        }
    }
}

fn item_key(item: &Item) -> Item {
    item.iter().filter(|(name, _)| *name == "pk" || *name == "sk").map(|(k, v)| (k.clone(), v.clone())).collect()
}

#[async_trait]
impl EventLog for DynamoTable {
    async fn claim_event(&self, key: &str, now: OffsetDateTime, lease_seconds: i64) -> PortResult<EventClaim> {
        let at = now.unix_timestamp();
        let token = claim_token();
        let item = with(
            event_key(key),
            [
                ("event", s(key)),
                ("status", s("claimed")),
                ("claimed_at", n(at)),
                ("claim", s(token.as_str())),
                ("expires_at", n(at + EVENT_MEMORY_SECONDS)),
            ],
        );
        // SQLite: a claim made less than the lease ago is in progress; older ones are taken over.
        let condition = "attribute_not_exists(#pk) OR (#status <> :done AND #claimed_at <= :stale)";
        let names = names(&[("#pk", "pk"), ("#status", "status"), ("#claimed_at", "claimed_at")]);
        let values = values(vec![(":done", s("done")), (":stale", n(at.saturating_sub(lease_seconds)))]);
        for _ in 0..CLAIM_ROUNDS {
            let Some(old) = self.put_if(&item, condition, &names, &values).await? else {
                return Ok(EventClaim::Claimed);
            };
            if old.is_empty() {
                continue; // gone meanwhile (expired): try again
            }
            if text(&old, "status") == Some("done") {
                return Ok(EventClaim::Done);
            }
            if text(&old, "claim") == Some(token.as_str()) {
                return Ok(EventClaim::Claimed); // our own put, whose answer was lost
            }
            if number(&old, "claimed_at").is_some_and(|claimed| at - claimed < lease_seconds) {
                return Ok(EventClaim::InProgress);
            }
        }
        Ok(EventClaim::InProgress)
    }

    async fn release_event(&self, key: &str) -> PortResult<()> {
        let result = self
            .call("DynamoDB DeleteItem", || {
                self.client
                    .delete_item()
                    .table_name(&self.table)
                    .set_key(Some(event_key(key)))
                    .condition_expression("#status = :claimed")
                    .expression_attribute_names("#status", "status")
                    .expression_attribute_values(":claimed", s("claimed"))
                    .send()
            })
            .await;
        match result {
            Ok(_) => Ok(()),
            // Done already, or never claimed: nothing to give back.
            Err(failed) if condition_failed(&failed) => Ok(()),
            Err(failed) => Err(super::item::failure("DynamoDB DeleteItem", failed)),
        }
    }

    async fn finish_event(&self, key: &str, now: OffsetDateTime, outcome: &str) -> PortResult<()> {
        let at = now.unix_timestamp();
        let update = "SET #event = :event, #status = :done, #outcome = :outcome, #claimed_at = if_not_exists(#claimed_at, :now), #expires_at = :expires";
        let names = names(&[
            ("#event", "event"),
            ("#status", "status"),
            ("#outcome", "outcome"),
            ("#claimed_at", "claimed_at"),
            ("#expires_at", "expires_at"),
        ]);
        let values = values(vec![
            (":event", s(key)),
            (":done", s("done")),
            (":outcome", s(outcome)),
            (":now", n(at)),
            (":expires", n(at + EVENT_MEMORY_SECONDS)),
        ]);
        self.run("DynamoDB UpdateItem", || {
            self.client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(event_key(key)))
                .update_expression(update)
                .set_expression_attribute_names(Some(names.clone()))
                .set_expression_attribute_values(Some(values.clone()))
                .send()
        })
        .await?;
        Ok(())
    }
}

fn ledger_entry(key: &str, item: &Item) -> PortResult<LedgerEntry> {
    Ok(LedgerEntry {
        key: text(item, "key").unwrap_or(key).to_string(),
        status: MailStatus::parse(required(item, "status")?).unwrap_or(MailStatus::Sending),
        message_id: text(item, "message_id").map(str::to_string),
        updated_at: crate::domain::moment::parse_or_epoch(text(item, "updated_at").unwrap_or_default()),
        detail: text(item, "detail").map(str::to_string),
    })
}

#[async_trait]
impl MailLedger for DynamoTable {
    async fn claim_mail(&self, key: &str, now: OffsetDateTime) -> PortResult<Option<LedgerEntry>> {
        let token = claim_token();
        let item = with(
            mail_key(key),
            [("key", s(key)), ("status", s(MailStatus::Sending.as_str())), ("updated_at", s(rfc3339(now))), ("claim", s(token.as_str()))],
        );
        let names = names(&[("#pk", "pk")]);
        for _ in 0..CLAIM_ROUNDS {
            let Some(old) = self.put_if(&item, "attribute_not_exists(#pk)", &names, &Item::new()).await? else {
                return Ok(None);
            };
            if old.is_empty() {
                continue; // released meanwhile: try again
            }
            if text(&old, "claim") == Some(token.as_str()) && text(&old, "status") == Some(MailStatus::Sending.as_str()) {
                return Ok(None); // our own put, whose answer was lost
            }
            return ledger_entry(key, &old).map(Some);
        }
        Err(PortError::Unexpected("the mail ledger entry kept appearing and vanishing; try again".into()))
    }

    async fn finish_mail(
        &self,
        key: &str,
        status: MailStatus,
        message_id: Option<&str>,
        detail: Option<&str>,
        now: OffsetDateTime,
    ) -> PortResult<()> {
        let mut sets = vec!["#key = :key", "#status = :status", "#updated_at = :updated_at"];
        let mut names = names(&[("#key", "key"), ("#status", "status"), ("#updated_at", "updated_at"), ("#detail", "detail")]);
        let mut values = values(vec![(":key", s(key)), (":status", s(status.as_str())), (":updated_at", s(rfc3339(now)))]);
        if let Some(id) = message_id {
            sets.push("#message_id = :message_id");
            names.insert("#message_id".into(), "message_id".into());
            values.insert(":message_id".into(), s(id));
        }
        // SQLite overwrites detail (NULL included) and keeps an earlier message id.
        let update = match detail {
            Some(detail) => {
                sets.push("#detail = :detail");
                values.insert(":detail".into(), s(detail));
                format!("SET {}", sets.join(", "))
            }
            None => format!("SET {} REMOVE #detail", sets.join(", ")),
        };
        self.run("DynamoDB UpdateItem", || {
            self.client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(mail_key(key)))
                .update_expression(update.as_str())
                .set_expression_attribute_names(Some(names.clone()))
                .set_expression_attribute_values(Some(values.clone()))
                .send()
        })
        .await?;
        Ok(())
    }

    async fn release_mail(&self, key: &str) -> PortResult<()> {
        let result = self
            .call("DynamoDB DeleteItem", || {
                self.client
                    .delete_item()
                    .table_name(&self.table)
                    .set_key(Some(mail_key(key)))
                    .condition_expression("#status = :sending")
                    .expression_attribute_names("#status", "status")
                    .expression_attribute_values(":sending", s(MailStatus::Sending.as_str()))
                    .send()
            })
            .await;
        match result {
            Ok(_) => Ok(()),
            // Not sending (sent, failed, or no entry): nothing to release, as in SQLite.
            Err(failed) if condition_failed(&failed) => Ok(()),
            Err(failed) => Err(super::item::failure("DynamoDB DeleteItem", failed)),
        }
    }

    async fn get_mail(&self, key: &str) -> PortResult<Option<LedgerEntry>> {
        self.get_item(mail_key(key)).await?.map(|item| ledger_entry(key, &item)).transpose()
    }

    async fn park_mail(&self, mail: &OutgoingMail) -> PortResult<()> {
        self.put_item(with(index_key(PARKED_MAIL_INDEX, &mail.key), [("data", json(mail)?)])).await
    }

    async fn parked_mail(&self, limit: usize) -> PortResult<Vec<OutgoingMail>> {
        let items = self.query_partition(PARKED_MAIL_INDEX, None).await?;
        items.iter().take(limit).map(|item| from_json(item, "data")).collect()
    }

    async fn unpark_mail(&self, key: &str) -> PortResult<()> {
        let key_item = index_key(PARKED_MAIL_INDEX, key);
        self.run("DynamoDB DeleteItem", || self.client.delete_item().table_name(&self.table).set_key(Some(key_item.clone())).send())
            .await?;
        Ok(())
    }
}
