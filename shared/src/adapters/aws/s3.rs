//! The bucket: S3 objects by key.

use crate::adapters::aws::describe;
use crate::ports::{ObjectStore, ObjectVersion, ObjectWriter, PortError, PortResult, LINK_DAYS, PART_BYTES};
use async_trait::async_trait;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::operation::get_object::{GetObjectError, GetObjectOutput};
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{BucketLocationConstraint, CompletedMultipartUpload, CompletedPart, CreateBucketConfiguration};
use bytes::Bytes;
use std::io::{BufReader, Read, Seek, SeekFrom};
use tokio::io::AsyncWriteExt;
use tokio::runtime::RuntimeFlavor;

/// The read buffer over a downloaded object.
const READ_BUFFER: usize = 256 * 1024;

#[derive(Debug, Clone)]
pub struct S3Store {
    client: aws_sdk_s3::Client,
    bucket: String,
}

fn failure<E: ProvideErrorMetadata + std::error::Error + 'static>(what: &str, error: SdkError<E>) -> PortError {
    // A missing key can come back as a bare 404 (no modeled error); a missing bucket is a
    // configuration problem, not a missing object.
    if error.raw_response().is_some_and(|raw| raw.status().as_u16() == 404) && error.code() != Some("NoSuchBucket") {
        return PortError::NotFound(what.to_string());
    }
    PortError::Unexpected(format!("S3 {what}: {}", describe(&error)))
}

/// The answer to a HEAD or GET at a version that no longer exists: 412 (the ETag changed),
/// 404 (the version was deleted), or 400 for a version id S3 does not know.
fn gone<E: ProvideErrorMetadata + std::error::Error + 'static>(error: &SdkError<E>) -> bool {
    let status = error.raw_response().map(|raw| raw.status().as_u16());
    matches!(status, Some(412) | Some(404)) || error.code() == Some("NoSuchVersion") || error.code() == Some("InvalidArgument")
}

fn quoted(etag: &str) -> String {
    if etag.starts_with('"') {
        etag.to_string()
    } else {
        format!("\"{etag}\"")
    }
}

fn describe_version(version: &ObjectVersion) -> String {
    match version {
        ObjectVersion::Id(id) => format!("version {id}"),
        ObjectVersion::ETag(etag) => format!("ETag {}", etag.trim_matches('"')),
    }
}

/// The body as a blocking reader for the parser.
///
/// On a multi-threaded runtime (the functions' own) the parser pulls each chunk straight off
/// the connection, so an upload is never copied whole to disk or memory: `block_in_place` hands
/// this worker's other tasks to another thread while the read waits for the network. A
/// single-threaded runtime cannot wait on its own connection like that, so there (tests, tools)
/// the body goes to an anonymous temporary file first, chunk by chunk.
async fn body_reader(key: &str, output: GetObjectOutput) -> PortResult<Box<dyn Read + Send>> {
    match tokio::runtime::Handle::try_current() {
        Ok(runtime) if runtime.runtime_flavor() == RuntimeFlavor::MultiThread => {
            let streamed = Streamed { key: key.to_string(), body: output.body, chunk: Bytes::new(), runtime };
            Ok(Box::new(BufReader::with_capacity(READ_BUFFER, streamed)))
        }
        _ => download(key, output).await,
    }
}

/// An S3 body read as it arrives.
struct Streamed {
    key: String,
    body: ByteStream,
    /// What is left of the last chunk received.
    chunk: Bytes,
    runtime: tokio::runtime::Handle,
}

impl Read for Streamed {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        while self.chunk.is_empty() {
            let (body, runtime) = (&mut self.body, &self.runtime);
            match tokio::task::block_in_place(|| runtime.block_on(body.try_next())) {
                Ok(Some(chunk)) => self.chunk = chunk,
                Ok(None) => return Ok(0),
                Err(error) => return Err(std::io::Error::other(format!("S3 {}: download broke off: {error}", self.key))),
            }
        }
        let length = buffer.len().min(self.chunk.len());
        buffer[..length].copy_from_slice(&self.chunk.split_to(length));
        Ok(length)
    }
}

/// Downloads a body to an anonymous temporary file (gone when the reader is dropped), chunk by
/// chunk, so a 1 GB upload costs disk, not memory.
async fn download(key: &str, output: GetObjectOutput) -> PortResult<Box<dyn Read + Send>> {
    let mut body = output.body;
    let file = tempfile::tempfile().map_err(|e| io(key, e))?;
    let mut writer = tokio::fs::File::from_std(file);
    while let Some(chunk) = body.try_next().await.map_err(|e| PortError::Unexpected(format!("S3 {key}: download broke off: {e}")))? {
        writer.write_all(&chunk).await.map_err(|e| io(key, e))?;
    }
    writer.flush().await.map_err(|e| io(key, e))?;
    let mut file = writer.into_std().await;
    file.seek(SeekFrom::Start(0)).map_err(|e| io(key, e))?;
    Ok(Box::new(BufReader::with_capacity(READ_BUFFER, file)))
}

fn io(what: &str, error: std::io::Error) -> PortError {
    PortError::Unexpected(format!("S3 {what}: local temporary file: {error}"))
}

impl S3Store {
    pub fn new(client: aws_sdk_s3::Client, bucket: String) -> Self {
        Self { client, bucket }
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// Creates the bucket unless it exists (for emulators and tests; a deployment's bucket
    /// comes from the template).
    pub async fn ensure_bucket(&self) -> PortResult<()> {
        let mut request = self.client.create_bucket().bucket(&self.bucket);
        // us-east-1 is the one region that refuses an explicit location constraint.
        if let Some(region) = self.client.config().region().map(|r| r.as_ref().to_string()).filter(|r| r != "us-east-1") {
            let constraint =
                CreateBucketConfiguration::builder().location_constraint(BucketLocationConstraint::from(region.as_str())).build();
            request = request.create_bucket_configuration(constraint);
        }
        match request.send().await {
            Ok(_) => Ok(()),
            Err(error) if error.as_service_error().is_some_and(|e| e.is_bucket_already_owned_by_you()) => Ok(()),
            Err(error) => Err(failure(&format!("CreateBucket {}", self.bucket), error)),
        }
    }

    async fn get_object(&self, key: &str) -> PortResult<GetObjectOutput> {
        match self.client.get_object().bucket(&self.bucket).key(key).send().await {
            Ok(output) => Ok(output),
            Err(error) if error.as_service_error().is_some_and(GetObjectError::is_no_such_key) => Err(PortError::NotFound(key.to_string())),
            Err(error) => Err(failure(key, error)),
        }
    }
}

/// An object being written to S3: see [`S3Store::create`]. At most one part is held.
struct S3Object<'a> {
    store: &'a S3Store,
    key: String,
    content_type: String,
    buffer: Vec<u8>,
    upload_id: Option<String>,
    parts: Vec<CompletedPart>,
}

impl S3Object<'_> {
    /// Sends the buffer as the next part, beginning the upload if need be.
    async fn send_part(&mut self) -> PortResult<()> {
        let S3Store { client, bucket } = self.store;
        let upload_id = match &self.upload_id {
            Some(id) => id.clone(),
            None => {
                let created = client
                    .create_multipart_upload()
                    .bucket(bucket)
                    .key(&self.key)
                    .content_type(&self.content_type)
                    .send()
                    .await
                    .map_err(|e| failure(&self.key, e))?;
                let id = created
                    .upload_id()
                    .ok_or_else(|| PortError::Unexpected(format!("S3 {}: the multipart upload came back without an id", self.key)))?
                    .to_string();
                self.upload_id = Some(id.clone());
                id
            }
        };
        let number = i32::try_from(self.parts.len() + 1).unwrap_or(i32::MAX);
        let body = std::mem::take(&mut self.buffer);
        let sent = client
            .upload_part()
            .bucket(bucket)
            .key(&self.key)
            .upload_id(&upload_id)
            .part_number(number)
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(|e| failure(&self.key, e))?;
        self.parts.push(CompletedPart::builder().set_e_tag(sent.e_tag().map(str::to_string)).part_number(number).build());
        Ok(())
    }

    /// Best effort: the bucket's lifecycle rule removes what an abort misses.
    async fn abort(&self) {
        if let Some(id) = &self.upload_id {
            let S3Store { client, bucket } = self.store;
            if let Err(error) = client.abort_multipart_upload().bucket(bucket).key(&self.key).upload_id(id).send().await {
                tracing::warn!(key = %self.key, error = %describe(&error), "multipart upload not aborted (the lifecycle rule will)");
            }
        }
    }

    async fn complete(&mut self) -> PortResult<()> {
        if self.upload_id.is_none() {
            let bytes = std::mem::take(&mut self.buffer);
            return self.store.put(&self.key, bytes, &self.content_type).await;
        }
        if !self.buffer.is_empty() {
            self.send_part().await?;
        }
        let S3Store { client, bucket } = self.store;
        client
            .complete_multipart_upload()
            .bucket(bucket)
            .key(&self.key)
            .upload_id(self.upload_id.as_deref().unwrap_or_default())
            .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(std::mem::take(&mut self.parts))).build())
            .send()
            .await
            .map_err(|e| failure(&self.key, e))?;
        Ok(())
    }
}

#[async_trait]
impl ObjectWriter for S3Object<'_> {
    async fn write(&mut self, bytes: &[u8]) -> PortResult<()> {
        self.buffer.extend_from_slice(bytes);
        if self.buffer.len() >= PART_BYTES {
            if let Err(error) = self.send_part().await {
                self.abort().await;
                return Err(error);
            }
        }
        Ok(())
    }

    async fn finish(mut self: Box<Self>) -> PortResult<()> {
        match self.complete().await {
            Ok(()) => Ok(()),
            Err(error) => {
                self.abort().await;
                Err(error)
            }
        }
    }
}

#[async_trait]
impl ObjectStore for S3Store {
    /// HeadObject at the version first: a file over the limit is refused before any byte is
    /// downloaded, and a version that is gone (replaced in an unversioned bucket, or deleted)
    /// is `Superseded` rather than read as the wrong version. Then GetObject at that version.
    async fn open_at(&self, key: &str, version: &ObjectVersion, max_bytes: u64) -> PortResult<Box<dyn std::io::Read + Send>> {
        let head = self.client.head_object().bucket(&self.bucket).key(key);
        let head = match version {
            ObjectVersion::Id(id) => head.version_id(id),
            ObjectVersion::ETag(etag) => head.if_match(quoted(etag)),
        };
        let size = match head.send().await {
            Ok(head) => u64::try_from(head.content_length().unwrap_or_default()).unwrap_or_default(),
            Err(error) if gone(&error) => return Err(PortError::Superseded(format!("{key} at {}", describe_version(version)))),
            Err(error) => return Err(failure(key, error)),
        };
        if size > max_bytes {
            return Err(PortError::TooLarge { bytes: size, limit: max_bytes });
        }
        let get = self.client.get_object().bucket(&self.bucket).key(key);
        let get = match version {
            ObjectVersion::Id(id) => get.version_id(id),
            ObjectVersion::ETag(etag) => get.if_match(quoted(etag)),
        };
        match get.send().await {
            Ok(output) => body_reader(key, output).await,
            Err(error) if gone(&error) => Err(PortError::Superseded(format!("{key} at {}", describe_version(version)))),
            Err(error) => Err(failure(key, error)),
        }
    }

    /// GetObject with a `Range` header, at the version when given.
    async fn open_range(
        &self,
        key: &str,
        version: Option<&ObjectVersion>,
        start: u64,
        end: u64,
    ) -> PortResult<Box<dyn std::io::Read + Send>> {
        if end <= start {
            return Ok(Box::new(std::io::empty()));
        }
        let get = self.client.get_object().bucket(&self.bucket).key(key).range(format!("bytes={start}-{}", end - 1));
        let get = match version {
            Some(ObjectVersion::Id(id)) => get.version_id(id),
            Some(ObjectVersion::ETag(etag)) => get.if_match(quoted(etag)),
            None => get,
        };
        match get.send().await {
            Ok(output) => body_reader(key, output).await,
            Err(error) if gone(&error) => {
                Err(PortError::Superseded(format!("{key} at {}", version.map_or_else(|| "its current version".into(), describe_version))))
            }
            Err(error) => Err(failure(key, error)),
        }
    }

    /// The object as it arrives (see [`body_reader`]).
    async fn open(&self, key: &str) -> PortResult<Box<dyn std::io::Read + Send>> {
        body_reader(key, self.get_object(key).await?).await
    }

    async fn get(&self, key: &str) -> PortResult<Vec<u8>> {
        let body = self.get_object(key).await?.body;
        let bytes = body.collect().await.map_err(|e| PortError::Unexpected(format!("S3 {key}: download broke off: {e}")))?;
        Ok(bytes.into_bytes().to_vec())
    }

    async fn put(&self, key: &str, bytes: Vec<u8>, content_type: &str) -> PortResult<()> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .body(ByteStream::from(bytes))
            .send()
            .await
            .map_err(|e| failure(key, e))?;
        Ok(())
    }

    /// The object's ETag now (HeadObject).
    async fn current_version(&self, key: &str) -> PortResult<Option<ObjectVersion>> {
        let head = self.client.head_object().bucket(&self.bucket).key(key).send().await.map_err(|e| failure(key, e))?;
        Ok(head.e_tag().map(|etag| ObjectVersion::ETag(etag.to_string())))
    }

    /// A multipart upload of [`PART_BYTES`] parts, begun with the first full part: an object
    /// smaller than one part is a single PutObject at `finish`.
    async fn create<'a>(&'a self, key: &str, content_type: &str) -> PortResult<Box<dyn ObjectWriter + 'a>> {
        Ok(Box::new(S3Object {
            store: self,
            key: key.to_string(),
            content_type: content_type.to_string(),
            buffer: Vec::new(),
            upload_id: None,
            parts: Vec::new(),
        }))
    }

    /// A presigned GET, signed with the function's own credentials. S3 honours it for
    /// [`LINK_DAYS`] days or until those credentials expire, whichever comes first: a Lambda
    /// role's session lasts hours, so the notification names the bucket key too, which always
    /// works for a person with the uploaders' policy.
    async fn share_link(&self, key: &str) -> PortResult<Option<String>> {
        let valid = PresigningConfig::expires_in(std::time::Duration::from_secs(LINK_DAYS * 24 * 3600))
            .map_err(|e| PortError::Unexpected(format!("S3 {key}: presigning: {e}")))?;
        let request = self.client.get_object().bucket(&self.bucket).key(key).presigned(valid).await.map_err(|e| failure(key, e))?;
        Ok(Some(request.uri().to_string()))
    }

    async fn list(&self, prefix: &str) -> PortResult<Vec<String>> {
        let mut keys = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self
                .client
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(prefix)
                .set_continuation_token(token.take())
                .send()
                .await
                .map_err(|e| failure(&format!("ListObjectsV2 {prefix}"), e))?;
            keys.extend(page.contents().iter().filter_map(|object| object.key().map(str::to_string)));
            match page.next_continuation_token() {
                Some(next) if page.is_truncated() == Some(true) => token = Some(next.to_string()),
                _ => break,
            }
        }
        keys.sort();
        Ok(keys)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_s3::operation::head_object::HeadObjectOutput;
    use aws_sdk_s3::operation::list_objects_v2::ListObjectsV2Output;
    use aws_sdk_s3::types::error::NoSuchKey;
    use aws_sdk_s3::types::Object;
    use aws_smithy_mocks::{mock, mock_client, RuleMode};
    use std::io::Read;

    fn store(client: aws_sdk_s3::Client) -> S3Store {
        S3Store::new(client, "uploads".into())
    }

    #[tokio::test]
    async fn open_streams_the_object_to_a_readable_file() {
        let payload: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        let expected = payload.clone();
        let get = mock!(aws_sdk_s3::Client::get_object)
            .match_requests(|r| r.bucket() == Some("uploads") && r.key() == Some("inbox/users/m1/a.csv"))
            .then_output(move || GetObjectOutput::builder().body(ByteStream::from(payload.clone())).build());
        let s3 = store(mock_client!(aws_sdk_s3, RuleMode::Sequential, &[&get]));
        let mut reader = s3.open("inbox/users/m1/a.csv").await.unwrap();
        let mut read = Vec::new();
        reader.read_to_end(&mut read).unwrap();
        assert_eq!(read, expected);
    }

    /// A local server that answers one GET with `first`, then `rest` once the gate opens (or,
    /// when `rest` is `None`, hangs up mid-body).
    async fn half_then_gate(first: Vec<u8>, rest: Option<Vec<u8>>) -> (S3Store, tokio::sync::oneshot::Sender<()>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let (open, gate) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut request = Vec::new();
            let mut buffer = [0u8; 4096];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                let read = socket.read(&mut buffer).await.unwrap();
                request.extend_from_slice(&buffer[..read]);
            }
            let total = first.len() + rest.as_ref().map_or(first.len(), Vec::len);
            let head = format!("HTTP/1.1 200 OK\r\ncontent-type: text/csv\r\ncontent-length: {total}\r\n\r\n");
            socket.write_all(head.as_bytes()).await.unwrap();
            socket.write_all(&first).await.unwrap();
            socket.flush().await.unwrap();
            let _ = gate.await;
            if let Some(rest) = rest {
                socket.write_all(&rest).await.unwrap();
            }
        });
        let config = aws_sdk_s3::Config::builder()
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .region(aws_sdk_s3::config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_s3::config::Credentials::new("test", "test", None, None, "test"))
            .endpoint_url(endpoint)
            .force_path_style(true)
            .http_client(crate::adapters::aws::https::ring_https_client())
            .build();
        (store(aws_sdk_s3::Client::from_conf(config)), open)
    }

    /// The functions run on a multi-threaded runtime; there the parser reads the first rows
    /// while the rest of the body is still on its way (a download first would wait for it all).
    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn on_the_functions_runtime_the_body_is_read_as_it_arrives() {
        let first = b"Email,First Name,Last Name\n".repeat(40);
        let rest = b"ana@example.com,Ana,Lima\n".repeat(40);
        let (s3, gate) = half_then_gate(first.clone(), Some(rest.clone())).await;
        let opened = tokio::time::timeout(std::time::Duration::from_secs(10), s3.open("inbox/users/m1/a.csv")).await;
        let mut reader = opened.expect("open waited for the whole body instead of streaming it").unwrap();
        let mut head = vec![0u8; first.len()];
        reader.read_exact(&mut head).unwrap();
        assert_eq!(head, first);
        gate.send(()).unwrap();
        let mut tail = Vec::new();
        reader.read_to_end(&mut tail).unwrap();
        assert_eq!(tail, rest);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn a_body_cut_off_midway_is_a_read_error_not_a_short_file() {
        let first = b"Email,First Name,Last Name\n".repeat(40);
        let (s3, gate) = half_then_gate(first.clone(), None).await;
        let mut reader = s3.open("inbox/users/m1/a.csv").await.unwrap();
        let mut head = vec![0u8; first.len()];
        reader.read_exact(&mut head).unwrap();
        drop(gate);
        let mut tail = Vec::new();
        let error = reader.read_to_end(&mut tail).unwrap_err();
        assert!(error.to_string().contains("download broke off"), "{error}");
    }

    #[tokio::test]
    async fn open_at_reads_the_announced_version_after_checking_its_size() {
        let head = mock!(aws_sdk_s3::Client::head_object)
            .match_requests(|r| r.key() == Some("inbox/users/m1/a.csv") && r.version_id() == Some("v1"))
            .then_output(|| HeadObjectOutput::builder().content_length(5).build());
        let get = mock!(aws_sdk_s3::Client::get_object)
            .match_requests(|r| r.version_id() == Some("v1"))
            .then_output(|| GetObjectOutput::builder().body(ByteStream::from(b"a,b\n1".to_vec())).build());
        let s3 = store(mock_client!(aws_sdk_s3, RuleMode::Sequential, &[&head, &get]));
        let mut reader = s3.open_at("inbox/users/m1/a.csv", &ObjectVersion::Id("v1".into()), 100).await.unwrap();
        let mut read = String::new();
        reader.read_to_string(&mut read).unwrap();
        assert_eq!((read.as_str(), head.num_calls(), get.num_calls()), ("a,b\n1", 1, 1));
    }

    #[tokio::test]
    async fn a_file_over_the_limit_is_refused_before_any_download() {
        let head = mock!(aws_sdk_s3::Client::head_object).then_output(|| HeadObjectOutput::builder().content_length(5_000_000_000).build());
        let get = mock!(aws_sdk_s3::Client::get_object).then_output(|| GetObjectOutput::builder().build());
        let s3 = store(mock_client!(aws_sdk_s3, RuleMode::MatchAny, &[&head, &get]));
        let refused = s3.open_at("inbox/users/m1/big.csv", &ObjectVersion::ETag("abc".into()), 200 * 1024 * 1024).await;
        assert!(matches!(refused, Err(PortError::TooLarge { bytes: 5_000_000_000, limit: 209_715_200 })), "{:?}", refused.err());
        assert_eq!(get.num_calls(), 0, "not a byte downloaded");
    }

    #[tokio::test]
    async fn a_version_replaced_since_the_event_is_superseded_not_read() {
        // Unversioned bucket: the event's ETag no longer matches, S3 answers 412.
        let head = mock!(aws_sdk_s3::Client::head_object)
            .match_requests(|r| r.if_match() == Some("\"abc\""))
            .sequence()
            .http_status(412, None)
            .build();
        let get = mock!(aws_sdk_s3::Client::get_object).then_output(|| GetObjectOutput::builder().build());
        let s3 = store(mock_client!(aws_sdk_s3, RuleMode::MatchAny, &[&head, &get]));
        let read = s3.open_at("inbox/users/m1/a.csv", &ObjectVersion::ETag("abc".into()), 100).await;
        assert!(matches!(read, Err(PortError::Superseded(_))), "{:?}", read.err());
        assert_eq!((head.num_calls(), get.num_calls()), (1, 0));
    }

    #[tokio::test]
    async fn a_shared_link_is_a_presigned_get_valid_seven_days() {
        // Presigning sends nothing: a plain client (a mocked one intercepts the request).
        let config = aws_sdk_s3::Config::builder()
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .region(aws_sdk_s3::config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_s3::config::Credentials::new("test", "test", None, None, "test"))
            .build();
        let s3 = store(aws_sdk_s3::Client::from_conf(config));
        let link = s3.share_link("reports/tenants/b/2026-11-23T09-00-00Z-contacts/report.html").await.unwrap().unwrap();
        assert!(link.contains("reports/tenants/b/2026-11-23T09-00-00Z-contacts/report.html"), "{link}");
        assert!(link.contains("X-Amz-Expires=604800") && link.contains("X-Amz-Signature="), "{link}");
    }

    #[tokio::test]
    async fn a_missing_key_is_not_found() {
        let get = mock!(aws_sdk_s3::Client::get_object).then_error(|| GetObjectError::NoSuchKey(NoSuchKey::builder().build()));
        let s3 = store(mock_client!(aws_sdk_s3, RuleMode::Sequential, &[&get]));
        assert!(matches!(s3.get("nope").await, Err(PortError::NotFound(key)) if key == "nope"));
    }

    #[tokio::test]
    async fn list_follows_continuation_tokens_and_sorts() {
        let first = mock!(aws_sdk_s3::Client::list_objects_v2)
            .match_requests(|r| r.prefix() == Some("reports/") && r.continuation_token().is_none())
            .then_output(|| {
                ListObjectsV2Output::builder()
                    .contents(Object::builder().key("reports/b").build())
                    .is_truncated(true)
                    .next_continuation_token("t1")
                    .build()
            });
        let second =
            mock!(aws_sdk_s3::Client::list_objects_v2).match_requests(|r| r.continuation_token() == Some("t1")).then_output(|| {
                ListObjectsV2Output::builder().contents(Object::builder().key("reports/a").build()).is_truncated(false).build()
            });
        let s3 = store(mock_client!(aws_sdk_s3, RuleMode::Sequential, &[&first, &second]));
        assert_eq!(s3.list("reports/").await.unwrap(), ["reports/a", "reports/b"]);
        assert_eq!((first.num_calls(), second.num_calls()), (1, 1));
    }
}
