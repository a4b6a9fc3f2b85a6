//! Conditional puts a hundred at a time: TransactWriteItems of `Put`s on
//! `attribute_not_exists(pk)`. One call writes what a hundred conditional PutItems would, so a
//! million new users cost ten thousand write calls, not a million. A transaction is all or
//! nothing: when some items exist already, the service cancels it and says which (with their
//! old items); those are answered as existing and the rest go again.
//!
//! IAM: AWS authorizes a TransactWriteItems by `dynamodb:PutItem` on each item it puts (the
//! `dynamodb:EnclosingOperation` condition key can tell them apart); there is no separate
//! action to grant.

use super::item::{dynamo_transient, failure, Item, ServiceFailure};
use super::DynamoTable;
use crate::adapters::aws::retry::Failed;
use crate::ports::{PortError, PortResult};
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem};
use std::collections::HashMap;

/// The most items one TransactWriteItems takes.
pub(super) const TRANSACT_ITEMS: usize = 100;

impl ServiceFailure for TransactWriteItemsError {
    fn throttled(&self) -> bool {
        matches!(
            self,
            Self::ProvisionedThroughputExceededException(_)
                | Self::RequestLimitExceeded(_)
                | Self::ThrottlingException(_)
                | Self::InternalServerError(_)
                | Self::TransactionInProgressException(_)
        )
    }
}

/// What a cancelled transaction says of its items.
enum Cancelled {
    /// These items (by position) exist already: here are their old items.
    Existing(Vec<(usize, Item)>),
    /// Another transaction or the table's capacity got in the way: try the same again later.
    Contended(String),
}

fn cancelled(error: &SdkError<TransactWriteItemsError, aws_sdk_dynamodb::config::http::HttpResponse>) -> Option<Cancelled> {
    let TransactWriteItemsError::TransactionCanceledException(cancel) = error.as_service_error()? else { return None };
    let mut existing = Vec::new();
    let mut contended = None;
    for (at, reason) in cancel.cancellation_reasons().iter().enumerate() {
        match reason.code() {
            Some("ConditionalCheckFailed") => existing.push((at, reason.item().cloned().unwrap_or_default())),
            Some("None") | None => {}
            Some(code @ ("TransactionConflict" | "ThrottlingError" | "ProvisionedThroughputExceeded")) => {
                contended.get_or_insert_with(|| code.to_string());
            }
            Some(_) => return None,
        }
    }
    match (existing.is_empty(), contended) {
        (false, _) => Some(Cancelled::Existing(existing)),
        (true, Some(code)) => Some(Cancelled::Contended(code)),
        (true, None) => None,
    }
}

impl DynamoTable {
    /// Puts every item whose key is not in the table yet (at most [`TRANSACT_ITEMS`] a call).
    /// Returns the items that existed, by their position in `items`, with the old item.
    pub(super) async fn put_absent(&self, items: &[Item]) -> PortResult<HashMap<usize, Item>> {
        let mut existed = HashMap::new();
        for start in (0..items.len()).step_by(TRANSACT_ITEMS) {
            let mut batch: Vec<usize> = (start..items.len().min(start + TRANSACT_ITEMS)).collect();
            let mut contention = self.backoff.start();
            while !batch.is_empty() {
                let writes = self.conditional_puts(items, &batch)?;
                let sent = crate::adapters::aws::retry::call(
                    &self.backoff,
                    "DynamoDB TransactWriteItems",
                    || self.client.transact_write_items().set_transact_items(Some(writes.clone())).send(),
                    dynamo_transient,
                )
                .await;
                match sent {
                    Ok(_) => break,
                    Err(Failed::Final(error)) => match cancelled(&error) {
                        Some(Cancelled::Existing(found)) => {
                            // Progress each round: the existing items leave, the rest go again.
                            for (at, old) in found.into_iter().rev() {
                                if at < batch.len() {
                                    existed.insert(batch.remove(at), old);
                                }
                            }
                        }
                        Some(Cancelled::Contended(code)) => {
                            if !contention.pause().await {
                                return Err(PortError::Throttled(format!(
                                    "DynamoDB TransactWriteItems: {code}, still cancelled after {} tries",
                                    contention.failures()
                                )));
                            }
                        }
                        None => return Err(failure("DynamoDB TransactWriteItems", Failed::Final(error))),
                    },
                    Err(gave_up) => return Err(failure("DynamoDB TransactWriteItems", gave_up)),
                }
            }
        }
        Ok(existed)
    }

    fn conditional_puts(&self, items: &[Item], batch: &[usize]) -> PortResult<Vec<TransactWriteItem>> {
        let names = HashMap::from([("#pk".to_string(), "pk".to_string())]);
        batch
            .iter()
            .filter_map(|at| items.get(*at))
            .map(|item| {
                Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(item.clone()))
                    .condition_expression("attribute_not_exists(#pk)")
                    .set_expression_attribute_names(Some(names.clone()))
                    .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
                    .build()
                    .map(|put| TransactWriteItem::builder().put(put).build())
                    .map_err(|e| PortError::Unexpected(format!("DynamoDB TransactWriteItems: {e}")))
            })
            .collect()
    }
}
