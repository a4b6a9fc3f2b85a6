//! The bucket as one upload's flow sees it: the uploaded key pinned to the version its event
//! announced, every other key as it is.

use crate::ports::{ObjectStore, ObjectVersion, ObjectWriter, PortError, PortResult};

/// The bucket as one event's flow sees it: the uploaded key is read at the event's version
/// (size checked first); every other key as it is.
pub(super) struct PinnedUpload<'a> {
    inner: &'a dyn ObjectStore,
    key: &'a str,
    version: &'a ObjectVersion,
    max_bytes: u64,
}

#[async_trait::async_trait]
impl ObjectStore for PinnedUpload<'_> {
    async fn open(&self, key: &str) -> PortResult<Box<dyn std::io::Read + Send>> {
        if key == self.key {
            self.inner.open_at(key, self.version, self.max_bytes).await
        } else {
            self.inner.open(key).await
        }
    }

    /// Another key at the version asked for (the upload's own key is always read at its pin).
    async fn open_at(&self, key: &str, version: &ObjectVersion, max_bytes: u64) -> PortResult<Box<dyn std::io::Read + Send>> {
        if key == self.key {
            self.inner.open_at(key, self.version, self.max_bytes.min(max_bytes)).await
        } else {
            self.inner.open_at(key, version, max_bytes).await
        }
    }

    async fn open_range(
        &self,
        key: &str,
        version: Option<&ObjectVersion>,
        start: u64,
        end: u64,
    ) -> PortResult<Box<dyn std::io::Read + Send>> {
        let version = if key == self.key { Some(self.version) } else { version };
        self.inner.open_range(key, version, start, end).await
    }

    async fn get(&self, key: &str) -> PortResult<Vec<u8>> {
        if key != self.key {
            return self.inner.get(key).await;
        }
        let mut reader = self.inner.open_at(key, self.version, self.max_bytes).await?;
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut reader, &mut bytes).map_err(|e| PortError::Unexpected(format!("reading {key}: {e}")))?;
        Ok(bytes)
    }

    async fn put(&self, key: &str, bytes: Vec<u8>, content_type: &str) -> PortResult<()> {
        self.inner.put(key, bytes, content_type).await
    }

    async fn create<'b>(&'b self, key: &str, content_type: &str) -> PortResult<Box<dyn ObjectWriter + 'b>> {
        self.inner.create(key, content_type).await
    }

    async fn current_version(&self, key: &str) -> PortResult<Option<ObjectVersion>> {
        self.inner.current_version(key).await
    }

    async fn list(&self, prefix: &str) -> PortResult<Vec<String>> {
        self.inner.list(prefix).await
    }

    async fn share_link(&self, key: &str) -> PortResult<Option<String>> {
        self.inner.share_link(key).await
    }
}

impl<'a> PinnedUpload<'a> {
    pub(super) fn new(inner: &'a dyn ObjectStore, key: &'a str, version: &'a ObjectVersion, max_bytes: u64) -> Self {
        Self { inner, key, version, max_bytes }
    }
}
