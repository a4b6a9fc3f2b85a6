//! SQS: the apply queue. Messages go ten to a SendMessageBatch; entries the queue did not take
//! go again with backoff. The SDK's standard retries stay on (sending again is harmless: every
//! message is delivered at least once anyway, and its receiver is idempotent).

use super::describe;
use super::retry::Backoff;
use crate::ports::{PortError, PortResult, WorkQueue};
use async_trait::async_trait;
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;

/// The most entries one SendMessageBatch takes.
const BATCH: usize = 10;

pub struct SqsQueue {
    client: aws_sdk_sqs::Client,
    url: String,
}

impl SqsQueue {
    pub fn new(client: aws_sdk_sqs::Client, url: String) -> Self {
        Self { client, url }
    }
}

#[async_trait]
impl WorkQueue for SqsQueue {
    async fn send(&self, messages: &[String]) -> PortResult<()> {
        for batch in messages.chunks(BATCH) {
            let mut waiting: Vec<usize> = (0..batch.len()).collect();
            let mut retries = Backoff::DYNAMODB.start();
            loop {
                let entries = waiting
                    .iter()
                    .map(|&i| SendMessageBatchRequestEntry::builder().id(i.to_string()).message_body(&batch[i]).build())
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| PortError::Unexpected(format!("SQS SendMessageBatch: {e}")))?;
                let sent = self
                    .client
                    .send_message_batch()
                    .queue_url(&self.url)
                    .set_entries(Some(entries))
                    .send()
                    .await
                    .map_err(|e| PortError::Unexpected(format!("SQS SendMessageBatch: {}", describe(&e))))?;
                if let Some(refused) = sent.failed.iter().find(|f| f.sender_fault) {
                    return Err(PortError::Unexpected(format!(
                        "SQS SendMessageBatch refused a message: {}: {}",
                        refused.code,
                        refused.message.as_deref().unwrap_or("")
                    )));
                }
                waiting = sent.failed.iter().filter_map(|f| f.id.parse().ok()).collect();
                if waiting.is_empty() {
                    break;
                }
                if !retries.pause().await {
                    return Err(PortError::Throttled(format!(
                        "SQS SendMessageBatch: {} messages not taken after {} tries",
                        waiting.len(),
                        retries.failures()
                    )));
                }
            }
        }
        Ok(())
    }
}
