//! The HTTPS client of every AWS client the functions make: rustls over the `ring` provider
//! instead of the SDK's default `aws-lc-rs` (the SDK crates are built without their
//! `default-https-client` feature, so no `aws-lc` is linked: about 160 KB less in the zipped
//! tile check, 0.4 MB in ingest, which had carried both).
//!
//! Otherwise it is the SDK's default client (`aws-smithy-runtime`'s `default_https_client`) line
//! for line, through the same (doc-hidden) `build_with_connector_fn`: the same cipher suites,
//! certificates checked against the platform's native roots (`rustls-native-certs`:
//! `SSL_CERT_FILE`, else the system store), the proxy from the environment, the timeouts and
//! sleep of each SDK client's settings. What `ring` lacks is the post-quantum hybrid key exchange
//! (X25519MLKEM768) `aws-lc-rs` prefers; X25519 is used instead.

use aws_sdk_dynamodb::config::SharedHttpClient;
use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::tls::rustls_provider::CryptoMode;
use aws_smithy_http_client::tls::Provider;
use aws_smithy_http_client::{Builder, ConnectorBuilder};

/// An HTTPS (and plain HTTP, for an emulator) client for the SDK: rustls on `ring`, native roots.
pub fn ring_https_client() -> SharedHttpClient {
    Builder::new().build_with_connector_fn(|settings, components| {
        let mut connector = ConnectorBuilder::default().tls_provider(Provider::Rustls(CryptoMode::Ring));
        connector.set_connector_settings(settings.cloned());
        if let Some(components) = components {
            connector.set_sleep_impl(components.sleep_impl());
        }
        connector.set_proxy_config(Some(ProxyConfig::from_env()));
        connector.build()
    })
}

/// The standard AWS configuration chain (environment, profile, instance role; `AWS_ENDPOINT_URL`
/// included), with `ring_https_client` for every call, the credential providers' included.
pub async fn sdk_config() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest()).http_client(ring_https_client()).load().await
}

#[cfg(test)]
mod tests {
    use super::ring_https_client;
    use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};

    /// One GetItem through the client against a local plain-HTTP listener (as an emulator is).
    #[tokio::test]
    async fn the_client_carries_sdk_calls() {
        let (endpoint, server) = crate::adapters::aws::test_servers::answer_once().await;
        let config = aws_sdk_dynamodb::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("eu-west-1"))
            .credentials_provider(Credentials::new("test", "test", None, None, "test"))
            .endpoint_url(endpoint)
            .http_client(ring_https_client())
            .build();
        let client = aws_sdk_dynamodb::Client::from_conf(config);

        let answer = client.get_item().table_name("t").key("pk", aws_sdk_dynamodb::types::AttributeValue::S("k".into())).send().await;
        assert!(answer.unwrap().item.is_none());
        let request = server.await.unwrap();
        assert!(request.starts_with("POST / HTTP/1.1"), "{request}");
        assert!(request.to_ascii_lowercase().contains("x-amz-target: dynamodb_20120810.getitem"), "{request}");
    }
}
