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
    backoff: Backoff,
}

impl SqsQueue {
    pub fn new(client: aws_sdk_sqs::Client, url: String) -> Self {
        Self { client, url, backoff: Backoff::DYNAMODB }
    }

    /// The same queue, retrying refused entries with `backoff` (tests make it quick).
    pub fn with_backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }
}

#[async_trait]
impl WorkQueue for SqsQueue {
    async fn send(&self, messages: &[String]) -> PortResult<()> {
        for batch in messages.chunks(BATCH) {
            let mut waiting: Vec<usize> = (0..batch.len()).collect();
            let mut retries = self.backoff.start();
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

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_sqs::operation::send_message_batch::SendMessageBatchOutput;
    use aws_sdk_sqs::types::BatchResultErrorEntry;
    use aws_smithy_mocks::{mock, mock_client, RuleMode};
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    const QUICK: Backoff = Backoff { first: Duration::from_millis(1), cap: Duration::from_millis(4), tries: 3 };

    fn failed(id: &str, sender_fault: bool) -> BatchResultErrorEntry {
        BatchResultErrorEntry::builder().id(id).sender_fault(sender_fault).code("ServiceUnavailable").build().unwrap()
    }

    #[tokio::test]
    async fn messages_go_ten_a_batch_and_entries_the_queue_did_not_take_go_again() {
        let sent = Arc::new(Mutex::new(Vec::<Vec<String>>::new()));
        let record = |sent: &Arc<Mutex<Vec<Vec<String>>>>| {
            let sent = sent.clone();
            move |input: &aws_sdk_sqs::operation::send_message_batch::SendMessageBatchInput| {
                sent.lock().unwrap().push(input.entries().iter().map(|e| e.message_body().to_string()).collect());
                true
            }
        };
        // The first batch: entry 3 not taken (the queue's fault); then all taken.
        let partial = mock!(aws_sdk_sqs::Client::send_message_batch)
            .match_requests(record(&sent))
            .then_output(|| SendMessageBatchOutput::builder().set_successful(Some(Vec::new())).failed(failed("3", false)).build().unwrap());
        let taken = mock!(aws_sdk_sqs::Client::send_message_batch).match_requests(record(&sent)).then_output(|| {
            SendMessageBatchOutput::builder().set_successful(Some(Vec::new())).set_failed(Some(Vec::new())).build().unwrap()
        });
        let last = mock!(aws_sdk_sqs::Client::send_message_batch).match_requests(record(&sent)).then_output(|| {
            SendMessageBatchOutput::builder().set_successful(Some(Vec::new())).set_failed(Some(Vec::new())).build().unwrap()
        });
        let client = mock_client!(aws_sdk_sqs, RuleMode::Sequential, [&partial, &taken, &last]);
        let queue = SqsQueue::new(client, "https://sqs.example/q".into()).with_backoff(QUICK);
        let messages: Vec<String> = (0..12).map(|i| format!("part {i}")).collect();
        queue.send(&messages).await.unwrap();
        let sent = sent.lock().unwrap().clone();
        assert_eq!(sent.len(), 3, "ten, the one refused again, then the last two: {sent:?}");
        assert_eq!(sent[0].len(), 10);
        assert_eq!(sent[1], vec!["part 3".to_string()]);
        assert_eq!(sent[2], vec!["part 10".to_string(), "part 11".to_string()]);
    }

    #[tokio::test]
    async fn an_entry_refused_for_its_own_fault_is_an_error_and_one_never_taken_is_throttling() {
        let refused = mock!(aws_sdk_sqs::Client::send_message_batch)
            .then_output(|| SendMessageBatchOutput::builder().set_successful(Some(Vec::new())).failed(failed("0", true)).build().unwrap());
        let client = mock_client!(aws_sdk_sqs, RuleMode::MatchAny, [&refused]);
        let queue = SqsQueue::new(client, "https://sqs.example/q".into()).with_backoff(QUICK);
        assert!(matches!(queue.send(&["x".to_string()]).await, Err(PortError::Unexpected(_))));

        let never = mock!(aws_sdk_sqs::Client::send_message_batch)
            .then_output(|| SendMessageBatchOutput::builder().set_successful(Some(Vec::new())).failed(failed("0", false)).build().unwrap());
        let client = mock_client!(aws_sdk_sqs, RuleMode::MatchAny, [&never]);
        let queue = SqsQueue::new(client, "https://sqs.example/q".into()).with_backoff(QUICK);
        assert!(matches!(queue.send(&["x".to_string()]).await, Err(PortError::Throttled(_))), "slower, then said, never dropped silently");
    }
}
