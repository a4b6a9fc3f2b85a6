//! BatchGetItem and BatchWriteItem with their partial answers retried: what DynamoDB leaves
//! unprocessed is sent again after a backoff until nothing is left or the budget is spent, and
//! then the count of what is left is the error. Nothing is dropped silently.

use super::item::{dynamo_transient, failure, Item};
use super::DynamoTable;
use crate::adapters::aws::retry::Failed;
use crate::ports::{PortError, PortResult};
use aws_sdk_dynamodb::types::{DeleteRequest, KeysAndAttributes, PutRequest, WriteRequest};
use tracing::Instrument;

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
    /// consistent. Keys left unprocessed are asked for again after a backoff; the retry budget
    /// counts calls that read none of them, so a throttled table that answers part of each
    /// call is read to the end, only more slowly.
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
                                if left.keys().len() < pending.keys().len() {
                                    // Some keys were read: the table is slow, not stuck. The
                                    // budget counts calls without progress (throttling slows
                                    // the lookup down; it never gives it up while it moves).
                                    retries = self.backoff.start();
                                }
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

    /// Performs every write (no two on one key), 25 a call, [`WRITES_IN_FLIGHT`] calls at a
    /// time. After a call fails for good, no further call starts; the ones under way finish, so
    /// the count of what is left unwritten is exact.
    pub(super) async fn batch_write(&self, writes: Vec<WriteRequest>) -> PortResult<()> {
        let total = writes.len();
        let mut chunks = writes.chunks(WRITE_BATCH).map(<[WriteRequest]>::to_vec);
        // Dropping the set (the caller stopped at its deadline) aborts the calls under way, as a
        // crash would: every write is a whole-item put or delete, so the next run redoes it.
        let mut running = tokio::task::JoinSet::new();
        let (mut unwritten, mut throttled, mut fatal) = (0usize, None, None);
        loop {
            while running.len() < WRITES_IN_FLIGHT && throttled.is_none() && fatal.is_none() {
                let Some(chunk) = chunks.next() else { break };
                let call = write_chunk(self.client.clone(), self.table.clone(), self.backoff, chunk);
                running.spawn(call.in_current_span());
            }
            let Some(joined) = running.join_next().await else { break };
            match joined {
                Ok(Ok(())) => {}
                Ok(Err(ChunkFailed::GaveUp { left, tries, reason })) => {
                    unwritten += left;
                    throttled.get_or_insert((tries, reason));
                }
                Ok(Err(ChunkFailed::Final(error))) => {
                    fatal.get_or_insert(error);
                }
                Err(error) => {
                    fatal.get_or_insert(PortError::Unexpected(format!("DynamoDB BatchWriteItem: the call's task failed: {error}")));
                }
            }
        }
        if let Some(error) = fatal {
            return Err(error);
        }
        if let Some((tries, reason)) = throttled {
            let unwritten = unwritten + chunks.map(|chunk| chunk.len()).sum::<usize>();
            return Err(PortError::Throttled(format!(
                "DynamoDB BatchWriteItem: {unwritten} of {total} items still unwritten after {tries} tries ({reason}); run again to finish"
            )));
        }
        Ok(())
    }
}

/// BatchWriteItem calls in flight at once. One after the other, the calls' round trips rather
/// than the table bound a large apply (a million users are 80,000 calls); DynamoDB answers
/// more than it can take with UnprocessedItems or throttling, which slow a call down.
pub(super) const WRITES_IN_FLIGHT: usize = 4;

/// Why one call's writes did not all land.
enum ChunkFailed {
    /// The retry budget ran out with `left` writes unprocessed.
    GaveUp { left: usize, tries: u32, reason: String },
    /// A failure retrying cannot mend (validation, access denied, ...).
    Final(PortError),
}

/// One BatchWriteItem of at most 25 writes, its unprocessed items sent again after a backoff
/// until none is left or the budget is spent. Owns what it uses, to run as a task of its own.
async fn write_chunk(
    client: aws_sdk_dynamodb::Client,
    table: String,
    backoff: crate::adapters::aws::retry::Backoff,
    mut pending: Vec<WriteRequest>,
) -> Result<(), ChunkFailed> {
    let mut retries = backoff.start();
    loop {
        let reason = match client.batch_write_item().request_items(&table, pending.clone()).send().await {
            Ok(output) => match output.unprocessed_items.and_then(|mut tables| tables.remove(&table)) {
                Some(left) if !left.is_empty() => {
                    pending = left;
                    "unprocessed items".to_string()
                }
                _ => return Ok(()),
            },
            Err(error) => match dynamo_transient(&error) {
                Some(reason) => reason,
                None => return Err(ChunkFailed::Final(failure("DynamoDB BatchWriteItem", Failed::Final(error)))),
            },
        };
        tracing::debug!(reason = %reason, left = pending.len(), "BatchWriteItem incomplete; backing off");
        if !retries.pause().await {
            return Err(ChunkFailed::GaveUp { left: pending.len(), tries: retries.failures(), reason });
        }
    }
}
