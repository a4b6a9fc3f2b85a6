//! Delivery states, the suppression list and the bounce-rate tally.

use super::item::{delivery_key, from_json, json, n, number, s, suppression_key, tally_key, text, with, Item};
use super::{condition_failed, DynamoTable};
use crate::domain::delivery::{DeliveryRecord, DeliveryState, DeliveryTally, Suppression};
use crate::domain::values::Email;
use crate::ports::{DeliveryLog, PortResult};
use async_trait::async_trait;
use aws_sdk_dynamodb::types::ReturnValue;
use std::collections::{HashMap, HashSet};

/// How long a message's delivery state is kept.
const DELIVERY_MEMORY_SECONDS: i64 = 400 * 24 * 3600;

#[async_trait]
impl DeliveryLog for DynamoTable {
    async fn record_delivery(&self, record: &DeliveryRecord) -> PortResult<Option<Option<DeliveryState>>> {
        let rank = i64::from(record.state.rank());
        // Kept a little over a year (the table's TTL), long after any report asks; the
        // suppression list, which must not forget, has no expiry.
        // (From now when the event's own time is older or missing.)
        let expires = record.at.max(time::OffsetDateTime::now_utc()).unix_timestamp() + DELIVERY_MEMORY_SECONDS;
        let item = with(
            delivery_key(&record.message_id),
            [("rank", n(rank)), ("state", s(record.state.as_str())), ("data", json(record)?), ("expires_at", n(expires))],
        );
        let result = self
            .call("DynamoDB PutItem", || {
                self.client
                    .put_item()
                    .table_name(&self.table)
                    .set_item(Some(item.clone()))
                    .condition_expression("attribute_not_exists(#pk) OR #rank < :rank")
                    .expression_attribute_names("#pk", "pk")
                    .expression_attribute_names("#rank", "rank")
                    .expression_attribute_values(":rank", n(rank))
                    .return_values(ReturnValue::AllOld)
                    .send()
            })
            .await;
        match result {
            Ok(output) => Ok(Some(output.attributes.as_ref().and_then(|old| text(old, "state")).and_then(DeliveryState::parse))),
            // The stored state ranks as high: a duplicate or a late event.
            Err(failed) if condition_failed(&failed) => Ok(None),
            Err(failed) => Err(super::item::failure("DynamoDB PutItem", failed)),
        }
    }

    async fn deliveries(&self, message_ids: &[String]) -> PortResult<HashMap<String, DeliveryRecord>> {
        let unique: HashSet<&String> = message_ids.iter().collect();
        let items = self.batch_get(unique.into_iter().map(|id| delivery_key(id)).collect()).await?;
        items.iter().map(|item| from_json::<DeliveryRecord>(item, "data").map(|r| (r.message_id.clone(), r))).collect()
    }

    async fn suppress(&self, suppression: &Suppression) -> PortResult<()> {
        let item = with(suppression_key(&suppression.email), [("data", json(suppression)?)]);
        let names = HashMap::from([("#pk".to_string(), "pk".to_string())]);
        // An address already suppressed keeps its first reason.
        self.put_if(&item, "attribute_not_exists(#pk)", &names, &Item::new()).await?;
        Ok(())
    }

    async fn unsuppress(&self, email: &Email) -> PortResult<bool> {
        let output = self
            .run("DynamoDB DeleteItem", || {
                self.client
                    .delete_item()
                    .table_name(&self.table)
                    .set_key(Some(suppression_key(email)))
                    .return_values(ReturnValue::AllOld)
                    .send()
            })
            .await?;
        Ok(output.attributes.is_some_and(|old| !old.is_empty()))
    }

    async fn suppressions(&self, emails: &[Email]) -> PortResult<HashMap<Email, Suppression>> {
        let unique: HashSet<&Email> = emails.iter().collect();
        let items = self.batch_get(unique.into_iter().map(suppression_key).collect()).await?;
        items.iter().map(|item| from_json::<Suppression>(item, "data").map(|s| (s.email.clone(), s))).collect()
    }

    async fn add_to_tally(&self, step: &DeliveryTally) -> PortResult<DeliveryTally> {
        let output = self
            .run("DynamoDB UpdateItem", || {
                self.client
                    .update_item()
                    .table_name(&self.table)
                    .set_key(Some(tally_key()))
                    .update_expression("ADD delivered :d, bounced :b, complained :c")
                    .expression_attribute_values(":d", n(step.delivered as i64))
                    .expression_attribute_values(":b", n(step.bounced as i64))
                    .expression_attribute_values(":c", n(step.complained as i64))
                    .return_values(ReturnValue::AllNew)
                    .send()
            })
            .await?;
        let item = output.attributes.unwrap_or_default();
        let count = |name| number(&item, name).unwrap_or(0).max(0) as u64;
        Ok(DeliveryTally { delivered: count("delivered"), bounced: count("bounced"), complained: count("complained") })
    }

    async fn reset_tally(&self) -> PortResult<()> {
        self.run("DynamoDB DeleteItem", || self.client.delete_item().table_name(&self.table).set_key(Some(tally_key())).send()).await?;
        Ok(())
    }
}
