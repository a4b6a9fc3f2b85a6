//! An in-process work queue: messages kept in memory until the caller takes them. What the
//! apply queue is to a process that applies its parts itself (tests, a local run).

use crate::ports::{PortResult, WorkQueue};
use async_trait::async_trait;
use std::sync::Mutex;

#[derive(Default)]
pub struct MemoryQueue {
    messages: Mutex<Vec<String>>,
}

impl MemoryQueue {
    /// Every message sent so far, in order; the queue is then empty.
    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.messages.lock().unwrap_or_else(std::sync::PoisonError::into_inner))
    }
}

#[async_trait]
impl WorkQueue for MemoryQueue {
    async fn send(&self, messages: &[String]) -> PortResult<()> {
        self.messages.lock().unwrap_or_else(std::sync::PoisonError::into_inner).extend_from_slice(messages);
        Ok(())
    }
}
