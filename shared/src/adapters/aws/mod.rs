//! The AWS adapters: S3 for the bucket, one DynamoDB table for every record, SES (v2) for mail,
//! SQS for the parts of an approved plan.
//!
//! Every adapter retries what the service asks it to retry (throttling, 5xx) itself, with
//! exponential backoff and full jitter within a fixed budget (`retry`), and then answers
//! `PortError::Throttled`: slower, never a lost row. The SDK's own retries are therefore turned
//! off on the DynamoDB and SES clients `AwsState` builds, so the two do not multiply; S3 keeps
//! the SDK's standard retries (all its calls are safe to repeat).
//!
//! Every DynamoDB, SES and SQS call has a deadline (`CallTimeouts`): a connection that takes the
//! request and never answers fails the call instead of holding the function until Lambda's own
//! timeout. A DynamoDB call that timed out is retried like throttling (its writes are idempotent
//! or conditional); an SES send that timed out is `Unconfirmed`, never sent again on its own.
//! S3 keeps the SDK's stalled-stream protection, which watches its long transfers by throughput.

mod dynamodb;
pub mod https;
#[cfg(feature = "aws")]
mod pacer;
mod retry;
#[cfg(feature = "aws")]
mod s3;
#[cfg(feature = "aws")]
mod ses;
#[cfg(feature = "aws")]
mod sqs;

pub use dynamodb::DynamoTable;
#[cfg(feature = "aws")]
pub use pacer::SendPacer;
pub use retry::Backoff;
#[cfg(feature = "aws")]
pub use s3::S3Store;
#[cfg(feature = "aws")]
pub use ses::{SesMailer, SesOptions};
#[cfg(feature = "aws")]
pub use sqs::SqsQueue;

#[cfg(feature = "aws")]
use aws_config::BehaviorVersion;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use aws_smithy_types::retry::RetryConfig;
use aws_smithy_types::timeout::TimeoutConfig;
use std::time::Duration;

/// How long a call may take: to connect, and from sending the request to the whole answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallTimeouts {
    pub connect: Duration,
    pub attempt: Duration,
}

impl CallTimeouts {
    /// DynamoDB answers in milliseconds; a batch of 25 or 100 items in well under a second.
    pub const DYNAMODB: CallTimeouts = CallTimeouts { connect: Duration::from_millis(3100), attempt: Duration::from_secs(10) };
    /// SES takes a message in well under a second. Generous, since a send that times out is
    /// `Unconfirmed` and left for a person rather than sent again.
    pub const SES: CallTimeouts = CallTimeouts { connect: Duration::from_millis(3100), attempt: Duration::from_secs(20) };
    /// A request someone waits on (the tile check): DynamoDB answers a GetItem in milliseconds,
    /// so two seconds is already a table in trouble, and the caller is better told so (a 500 that asks to retry).
    pub const REQUEST: CallTimeouts = CallTimeouts { connect: Duration::from_secs(1), attempt: Duration::from_secs(2) };
    /// SQS: a batch of ten small messages.
    pub const SQS: CallTimeouts = CallTimeouts { connect: Duration::from_millis(3100), attempt: Duration::from_secs(10) };

    fn config(self) -> TimeoutConfig {
        TimeoutConfig::builder().connect_timeout(self.connect).operation_attempt_timeout(self.attempt).build()
    }
}

/// The DynamoDB client's settings: the SDK's retries off (the adapter retries), `timeouts` on.
pub fn dynamo_config(config: &aws_config::SdkConfig, timeouts: CallTimeouts) -> aws_sdk_dynamodb::Config {
    aws_sdk_dynamodb::config::Builder::from(config).retry_config(RetryConfig::disabled()).timeout_config(timeouts.config()).build()
}

/// The SES client's settings: the SDK's retries off (the adapter retries), `timeouts` on.
#[cfg(feature = "aws")]
pub fn ses_config(config: &aws_config::SdkConfig, timeouts: CallTimeouts) -> aws_sdk_sesv2::Config {
    aws_sdk_sesv2::config::Builder::from(config).retry_config(RetryConfig::disabled()).timeout_config(timeouts.config()).build()
}

/// The DynamoDB adapter for requests someone waits on (the tile check): the SDK's retries off,
/// short deadlines and a small retry budget (`CallTimeouts::REQUEST`, `Backoff::REQUEST`), so a
/// table that does not answer becomes an error (a 500 that asks to retry) in seconds instead of
/// the HTTP API's own timeout at 30 s.
pub fn dynamo_table_for_requests(config: &aws_config::SdkConfig, table: String) -> DynamoTable {
    let client = aws_sdk_dynamodb::Client::from_conf(dynamo_config(config, CallTimeouts::REQUEST));
    DynamoTable::new(client, table).with_backoff(Backoff::REQUEST)
}

/// The AWS adapters, built once (at cold start) and shared.
#[cfg(feature = "aws")]
pub struct AwsState {
    pub objects: S3Store,
    pub table: DynamoTable,
    pub mailer: SesMailer,
    /// The apply queue, in the function that hands approved plans to it.
    pub queue: Option<SqsQueue>,
}

#[cfg(feature = "aws")]
impl AwsState {
    /// Clients from the standard AWS configuration chain (environment, profile, instance role),
    /// `AWS_ENDPOINT_URL` included, so the same code talks to an emulator: the `onboard` command
    /// and the tests. The functions read Lambda's variables instead
    /// (`deployment::lambda_sdk_config`).
    pub async fn from_env(bucket: String, table: String) -> AwsState {
        let config = https::sdk_config().await;
        Self::from_sdk_config(&config, bucket, table, SesOptions::default())
    }

    /// Clients from a loaded SDK configuration. S3 uses path-style addressing (emulators need
    /// it, AWS accepts it); DynamoDB and SES get the SDK's retries turned off and call deadlines
    /// (see the module doc).
    pub fn from_sdk_config(config: &aws_config::SdkConfig, bucket: String, table: String, mail: SesOptions) -> AwsState {
        let s3 = aws_sdk_s3::config::Builder::from(config).force_path_style(true).build();
        let dynamodb = dynamo_config(config, CallTimeouts::DYNAMODB);
        let ses = ses_config(config, CallTimeouts::SES);
        Self::from_clients(
            aws_sdk_s3::Client::from_conf(s3),
            bucket,
            aws_sdk_dynamodb::Client::from_conf(dynamodb),
            table,
            aws_sdk_sesv2::Client::from_conf(ses),
            mail,
        )
    }

    /// Adapters over ready clients (tests pass mocked ones). Give the DynamoDB and SES clients
    /// `RetryConfig::disabled()`, or the SDK's retries multiply with the adapters' own.
    pub fn from_clients(
        s3: aws_sdk_s3::Client,
        bucket: String,
        dynamodb: aws_sdk_dynamodb::Client,
        table: String,
        ses: aws_sdk_sesv2::Client,
        mail: SesOptions,
    ) -> AwsState {
        AwsState {
            objects: S3Store::new(s3, bucket),
            table: DynamoTable::new(dynamodb, table),
            mailer: SesMailer::new(ses, mail),
            queue: None,
        }
    }

    /// The same adapters, handing approved plans to the SQS queue at `url`.
    pub fn with_queue(mut self, config: &aws_config::SdkConfig, url: String) -> AwsState {
        let sqs = aws_sdk_sqs::config::Builder::from(config).timeout_config(CallTimeouts::SQS.config()).build();
        self.queue = Some(SqsQueue::new(aws_sdk_sqs::Client::from_conf(sqs), url));
        self
    }
}

/// The standard configuration chain with fixed access keys and endpoint: a deployment tool or a
/// test that acts as one IAM principal (the IAM tests run each flow step as its function's user).
#[cfg(feature = "aws")]
pub async fn sdk_config_with_keys(endpoint: &str, access_key_id: &str, secret_access_key: &str) -> aws_config::SdkConfig {
    let credentials = aws_sdk_s3::config::Credentials::new(access_key_id, secret_access_key, None, None, "fixed-keys");
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(https::ring_https_client())
        .endpoint_url(endpoint)
        .credentials_provider(credentials)
        .load()
        .await
}

/// A failed call in one line for a `PortError`: the service's code and message when it
/// answered, the whole error chain otherwise (timeouts, lost connections), scrubbed.
pub(crate) fn describe<E>(error: &aws_sdk_dynamodb::error::SdkError<E, aws_sdk_dynamodb::config::http::HttpResponse>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let text = match error.as_service_error() {
        Some(service) => match (service.code(), service.message()) {
            (Some(code), Some(message)) => format!("{code}: {message}"),
            (Some(code), None) => code.to_string(),
            (None, _) => service.to_string(),
        },
        None => DisplayErrorContext(error).to_string(),
    };
    scrub(&text)
}

/// An AWS error message made safe to log and to store: every word holding an `@` (an e-mail
/// address, as SES puts in "not verified" messages) is replaced by its redacted tag.
pub(crate) fn scrub(text: &str) -> String {
    text.split(' ')
        .map(|word| {
            if word.contains('@') {
                crate::domain::text::redact(word.trim_matches(|c: char| !c.is_alphanumeric()))
            } else {
                word.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// What the adapters' tests share: a server that never answers, a configuration pointing at it.
#[cfg(test)]
pub(crate) mod test_servers {
    use super::https;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    /// Deadlines short enough for a test to wait them out.
    pub(crate) const SHORT: super::CallTimeouts =
        super::CallTimeouts { connect: std::time::Duration::from_secs(1), attempt: std::time::Duration::from_millis(150) };

    /// A server that takes every request and never answers, holding its connections open;
    /// counts the requests whose head contains `path`.
    pub(crate) async fn silent_server(path: &'static str) -> (String, Arc<AtomicUsize>) {
        use tokio::io::AsyncReadExt;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(AtomicUsize::new(0));
        let seen = requests.clone();
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((mut socket, _)) = listener.accept().await {
                let mut buffer = vec![0u8; 64 * 1024];
                let read = socket.read(&mut buffer).await.unwrap_or(0);
                if read > 0 && String::from_utf8_lossy(&buffer[..read]).contains(path) {
                    seen.fetch_add(1, Ordering::SeqCst);
                }
                held.push(socket);
            }
        });
        (endpoint, requests)
    }

    /// A server that answers one request with an empty JSON object (as DynamoDB answers a
    /// GetItem that finds nothing) and hands back the request's head.
    pub(crate) async fn answer_once() -> (String, tokio::task::JoinHandle<String>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut request = Vec::new();
            let mut buffer = [0u8; 4096];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                let read = socket.read(&mut buffer).await.unwrap();
                request.extend_from_slice(&buffer[..read]);
            }
            let reply = "HTTP/1.1 200 OK\r\ncontent-type: application/x-amz-json-1.0\r\ncontent-length: 2\r\n\r\n{}";
            socket.write_all(reply.as_bytes()).await.unwrap();
            String::from_utf8_lossy(&request).into_owned()
        });
        (endpoint, server)
    }

    pub(crate) fn sdk_config(endpoint: &str) -> aws_config::SdkConfig {
        use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region, SharedCredentialsProvider};
        aws_config::SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(SharedCredentialsProvider::new(Credentials::new("AKID", "secret", None, None, "test")))
            .endpoint_url(endpoint)
            .http_client(https::ring_https_client())
            .build()
    }
}

#[cfg(test)]
mod tests {
    use super::test_servers::{sdk_config, silent_server, SHORT};
    use super::*;
    use std::sync::atomic::Ordering;

    #[test]
    fn the_clients_carry_their_deadlines() {
        let sdk = sdk_config("http://127.0.0.1:9");
        let dynamodb = dynamo_config(&sdk, CallTimeouts::DYNAMODB);
        let timeouts = dynamodb.timeout_config().unwrap();
        assert_eq!(timeouts.operation_attempt_timeout(), Some(Duration::from_secs(10)));
        assert_eq!(timeouts.connect_timeout(), Some(Duration::from_millis(3100)));
        assert!(!dynamodb.retry_config().unwrap().has_retry(), "the adapter retries, not the SDK");
    }

    /// The tile check's table, against a table that never answers: every try ends on its
    /// deadline and the request is answered (`Throttled`: a 500 to the caller) well within the HTTP API's 30 s.
    #[tokio::test]
    async fn a_request_against_a_silent_table_is_answered_within_seconds() {
        let worst = CallTimeouts::REQUEST.attempt * Backoff::REQUEST.tries + Backoff::REQUEST.max_total_wait();
        assert!(worst < Duration::from_secs(10), "{worst:?}");
        let (endpoint, requests) = silent_server("POST / ").await;
        let table = dynamo_table_for_requests(&sdk_config(&endpoint), "t".into());
        let building = crate::domain::values::BuildingId::parse("5b0c3b56-3f8e-4a51-9d1e-1f0a2c3d4e5f").unwrap();
        let started = std::time::Instant::now();
        let answer = tokio::time::timeout(Duration::from_secs(25), crate::ports::BuildingTable::get_building(&table, &building))
            .await
            .expect("answered before the HTTP API's timeout");
        assert!(matches!(answer, Err(crate::ports::PortError::Throttled(_))), "{answer:?}");
        assert_eq!(requests.load(Ordering::SeqCst), Backoff::REQUEST.tries as usize);
        assert!(started.elapsed() <= worst + Duration::from_secs(1), "{:?}", started.elapsed());
    }

    /// A DynamoDB call that never gets its answer times out and is retried within the adapter's
    /// budget, then answered as `Throttled` (run again later), instead of hanging.
    #[tokio::test]
    async fn a_dynamodb_call_without_an_answer_times_out_and_is_retried() {
        let (endpoint, requests) = silent_server("POST / ").await;
        let quick = Backoff { first: Duration::from_millis(1), cap: Duration::from_millis(5), tries: 3 };
        let client = aws_sdk_dynamodb::Client::from_conf(dynamo_config(&sdk_config(&endpoint), SHORT));
        let table = DynamoTable::new(client, "t".into()).with_backoff(quick);
        let building = crate::domain::values::BuildingId::parse("5b0c3b56-3f8e-4a51-9d1e-1f0a2c3d4e5f").unwrap();
        let started = std::time::Instant::now();
        let answer = tokio::time::timeout(Duration::from_secs(20), crate::ports::BuildingTable::get_building(&table, &building))
            .await
            .expect("the call must end on its own deadline");
        match answer {
            Err(crate::ports::PortError::Throttled(detail)) => assert!(detail.contains("timeout"), "{detail}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(requests.load(Ordering::SeqCst), 3, "one request a try");
        assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    }

    #[test]
    fn scrub_hides_addresses_in_service_messages() {
        let message = scrub("Email address is not verified: ada@example.com, bob@example.org.");
        assert!(!message.contains("ada@") && !message.contains("bob@"), "{message}");
        assert!(message.starts_with("Email address is not verified: h:"), "{message}");
    }
}
