//! The AWS adapters: S3 for the bucket, one DynamoDB table for every record, SES (v2) for mail,
//! SQS for the parts of an approved plan.
//!
//! Every adapter retries what the service asks it to retry (throttling, 5xx) itself, with
//! exponential backoff and full jitter within a fixed budget (`retry`), and then answers
//! `PortError::Throttled`: slower, never a lost row. The SDK's own retries are therefore turned
//! off on the DynamoDB and SES clients `AwsState` builds, so the two do not multiply; S3 keeps
//! the SDK's standard retries (all its calls are safe to repeat).

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

/// The DynamoDB adapter alone, with the SDK's retries off (see the module doc).
pub fn dynamo_table(config: &aws_config::SdkConfig, table: String) -> DynamoTable {
    let dynamodb = aws_sdk_dynamodb::config::Builder::from(config).retry_config(RetryConfig::disabled()).build();
    DynamoTable::new(aws_sdk_dynamodb::Client::from_conf(dynamodb), table)
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
    /// `AWS_ENDPOINT_URL` included, so the same code talks to an emulator.
    pub async fn from_env(bucket: String, table: String) -> AwsState {
        let config = https::sdk_config().await;
        Self::from_sdk_config(&config, bucket, table, SesOptions::default())
    }

    /// Clients from a loaded SDK configuration. S3 uses path-style addressing (emulators need
    /// it, AWS accepts it); DynamoDB and SES get the SDK's retries turned off (see the module
    /// doc).
    pub fn from_sdk_config(config: &aws_config::SdkConfig, bucket: String, table: String, mail: SesOptions) -> AwsState {
        let s3 = aws_sdk_s3::config::Builder::from(config).force_path_style(true).build();
        let dynamodb = aws_sdk_dynamodb::config::Builder::from(config).retry_config(RetryConfig::disabled()).build();
        let ses = aws_sdk_sesv2::config::Builder::from(config).retry_config(RetryConfig::disabled()).build();
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
        self.queue = Some(SqsQueue::new(aws_sdk_sqs::Client::new(config), url));
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

#[cfg(test)]
mod tests {
    use super::scrub;

    #[test]
    fn scrub_hides_addresses_in_service_messages() {
        let message = scrub("Email address is not verified: ada@example.com, bob@example.org.");
        assert!(!message.contains("ada@") && !message.contains("bob@"), "{message}");
        assert!(message.starts_with("Email address is not verified: h:"), "{message}");
    }
}
