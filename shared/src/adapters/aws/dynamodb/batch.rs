//! BatchGetItem and BatchWriteItem with their partial answers retried: what DynamoDB leaves
//! unprocessed is sent again after a backoff until nothing is left or the budget is spent, and
//! then the count of what is left is the error. Nothing is dropped silently.

use super::item::{dynamo_transient, failure, Item};
use super::DynamoTable;
use crate::adapters::aws::retry::Failed;
use crate::ports::{PortError, PortResult};
use aws_sdk_dynamodb::types::{DeleteRequest, KeysAndAttributes, PutRequest, WriteRequest};

/// Keys per BatchGetItem call (the service's limit).
pub(super) const GET_BATCH: usize = 100;
/// Writes per BatchWriteItem call (the service's limit).
pub(super) const WRITE_BATCH: usize = 25;

fn build_error(error: impl std::fmt::Display) -> PortError {
    PortError::Unexpected(format!("DynamoDB request: {error}"))
}

pub(super) fn put(item: Item) -> PortResult<WriteRequest> {
    Ok(WriteRequest::builder().put_request(PutRequest::builder().set_item(Some(item)).build().map_err(build_error)?).build())
}

pub(super) fn delete(key: Item) -> PortResult<WriteRequest> {
    Ok(WriteRequest::builder().delete_request(DeleteRequest::builder().set_key(Some(key)).build().map_err(build_error)?).build())
}

impl DynamoTable {
    /// The items found under `keys` (no duplicates), in no particular order. Strongly
    /// consistent.
    pub(super) async fn batch_get(&self, keys: Vec<Item>) -> PortResult<Vec<Item>> {
        let mut found = Vec::with_capacity(keys.len());
        let total = keys.len();
        for (index, chunk) in keys.chunks(GET_BATCH).enumerate() {
            let mut pending =
                KeysAndAttributes::builder().set_keys(Some(chunk.to_vec())).consistent_read(true).build().map_err(build_error)?;
            let mut retries = self.backoff.start();
            loop {
                let reason = match self.client.batch_get_item().request_items(&self.table, pending.clone()).send().await {
                    Ok(output) => {
                        found.extend(output.responses.and_then(|mut tables| tables.remove(&self.table)).unwrap_or_default());
                        match output.unprocessed_keys.and_then(|mut tables| tables.remove(&self.table)) {
                            Some(left) if !left.keys().is_empty() => {
                                pending = left;
                                "unprocessed keys".to_string()
                            }
                            _ => break,
                        }
                    }
                    Err(error) => match dynamo_transient(&error) {
                        Some(reason) => reason,
                        None => return Err(failure("DynamoDB BatchGetItem", Failed::Final(error))),
                    },
                };
                tracing::debug!(reason = %reason, left = pending.keys().len(), "BatchGetItem incomplete; backing off");
                if !retries.pause().await {
                    let unread = pending.keys().len() + total.saturating_sub((index + 1) * GET_BATCH);
                    return Err(PortError::Throttled(format!(
                        "DynamoDB BatchGetItem: {unread} of {total} keys still unread after {} tries ({reason}); run again to finish",
                        retries.failures()
                    )));
                }
            }
        }
        Ok(found)
    }

    /// Performs every write (no two on one key), 25 a call.
    pub(super) async fn batch_write(&self, writes: Vec<WriteRequest>) -> PortResult<()> {
        let total = writes.len();
        for (index, chunk) in writes.chunks(WRITE_BATCH).enumerate() {
            let mut pending = chunk.to_vec();
            let mut retries = self.backoff.start();
            loop {
                let reason = match self.client.batch_write_item().request_items(&self.table, pending.clone()).send().await {
                    Ok(output) => match output.unprocessed_items.and_then(|mut tables| tables.remove(&self.table)) {
                        Some(left) if !left.is_empty() => {
                            pending = left;
                            "unprocessed items".to_string()
                        }
                        _ => break,
                    },
                    Err(error) => match dynamo_transient(&error) {
                        Some(reason) => reason,
                        None => return Err(failure("DynamoDB BatchWriteItem", Failed::Final(error))),
                    },
                };
                tracing::debug!(reason = %reason, left = pending.len(), "BatchWriteItem incomplete; backing off");
                if !retries.pause().await {
                    let unwritten = pending.len() + total.saturating_sub((index + 1) * WRITE_BATCH);
                    return Err(PortError::Throttled(format!(
                        "DynamoDB BatchWriteItem: {unwritten} of {total} items still unwritten after {} tries ({reason}); run again to finish",
                        retries.failures()
                    )));
                }
            }
        }
        Ok(())
    }
}
