//! What a Lambda function reads from its environment, once at start: the deployment's bucket,
//! table and mail settings. From them, the AWS adapters; beside them, the JSON log subscriber.
//! The SAM template sets every variable for every function.

mod run_error;

pub use run_error::{port_error_type, RunError, ScheduledRun};

#[cfg(feature = "aws")]
use crate::adapters::aws::{AwsState, SesOptions};
use crate::domain::config::{ConfigOverrides, Mailbox};
use crate::domain::values::Email;

/// The deployment's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deployment {
    /// The uploads bucket (`BUCKET`): `config/`, the uploads, the plans and the reports.
    pub bucket: String,
    /// The one DynamoDB table (`TABLE`).
    pub table: String,
    /// The SES configuration set mail goes through (`SES_CONFIGURATION_SET`; empty or unset: none).
    pub ses_configuration_set: Option<String>,
    /// What the deployment fixes over `config/settings.json`: the sender verified in SES
    /// (`SENDER_ADDRESS`), the invite link (`INVITE_LINK_TEMPLATE`) and the ops inbox
    /// (`OPS_RECIPIENTS`, comma-separated). Empty or unset keeps settings.json's.
    pub overrides: ConfigOverrides,
    /// The SQS queue approved plans are applied through, a part at a time (`APPLY_QUEUE_URL`;
    /// set for the ingest function only). Unset: the approval's own run applies the plan.
    pub apply_queue: Option<String>,
}

/// A variable is missing or unusable. The message names the variable, never its value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeploymentError {
    #[error(
        "the environment variable {name} is not set ({what}); the SAM template sets it, set it yourself to run the function elsewhere"
    )]
    Missing { name: &'static str, what: &'static str },
    #[error("the environment variable {name} is not usable: {what}")]
    Invalid { name: &'static str, what: String },
}

impl Deployment {
    /// Reads the process environment. `sender_required`: the function sends mail only from
    /// `SENDER_ADDRESS` (it is then required); otherwise it is optional like the other overrides.
    pub fn from_env(sender_required: bool) -> Result<Self, DeploymentError> {
        Self::from_lookup(|name| std::env::var(name).ok(), sender_required)
    }

    /// Reads the settings through `var` (the environment, or a map in tests). A value that is
    /// empty once trimmed counts as unset.
    pub fn from_lookup(var: impl Fn(&str) -> Option<String>, sender_required: bool) -> Result<Self, DeploymentError> {
        let value = |name: &str| setting(&var, name);
        let required = |name: &'static str, what: &'static str| required_setting(&var, name, what);
        let sender = if sender_required {
            Some(required("SENDER_ADDRESS", "the SES-verified address mail is sent from")?)
        } else {
            value("SENDER_ADDRESS")
        };
        let overrides = ConfigOverrides {
            sender: sender.map(|raw| parse_sender(&raw)).transpose()?,
            invite_link_template: value("INVITE_LINK_TEMPLATE").map(check_invite_link_template).transpose()?,
            ops_recipients: value("OPS_RECIPIENTS").map(|list| parse_ops_recipients(&list)).transpose()?.flatten(),
        };
        Ok(Self {
            bucket: required("BUCKET", "the uploads bucket name")?,
            table: required("TABLE", "the DynamoDB table name")?,
            ses_configuration_set: value("SES_CONFIGURATION_SET"),
            overrides,
            apply_queue: value("APPLY_QUEUE_URL"),
        })
    }

    /// The AWS adapters over this deployment's bucket and table, with clients configured from
    /// the function's environment (see [`lambda_sdk_config`]) over the small HTTPS client (see
    /// `adapters::aws::https`) and mail through its SES configuration set.
    #[cfg(feature = "aws")]
    pub fn aws_state(&self) -> Result<AwsState, DeploymentError> {
        let sdk = lambda_sdk_config(|name| std::env::var(name).ok())?;
        let mail = SesOptions { configuration_set: self.ses_configuration_set.clone(), ..SesOptions::default() };
        let state = AwsState::from_sdk_config(&sdk, self.bucket.clone(), self.table.clone(), mail);
        Ok(match &self.apply_queue {
            Some(url) => state.with_queue(&sdk, url.clone()),
            None => state,
        })
    }
}

/// The ports a function runs its use case over: the AWS adapters, the system clock, no
/// progress bars. Built once at cold start; every function's wiring is this one line.
#[cfg(feature = "aws")]
pub fn services(aws: &AwsState) -> crate::app::Services<'_> {
    crate::app::Services {
        objects: &aws.objects,
        table: &aws.table,
        mailer: &aws.mailer,
        clock: &crate::ports::SystemClock,
        progress: &crate::app::NoProgress,
        queue: aws.queue.as_ref().map(|queue| queue as &dyn crate::ports::WorkQueue),
    }
}

impl Deployment {
    /// The DynamoDB adapter alone over this deployment's table (the tile check needs no more),
    /// its client configured like [`Deployment::aws_state`]'s, with a request's short deadlines
    /// and retry budget (`adapters::aws::dynamo_table_for_requests`).
    pub fn dynamo_table(&self) -> Result<crate::adapters::aws::DynamoTable, DeploymentError> {
        let sdk = lambda_sdk_config(|name| std::env::var(name).ok())?;
        Ok(crate::adapters::aws::dynamo_table_for_requests(&sdk, self.table.clone()))
    }
}

/// Variable `name` through `var`, trimmed; empty once trimmed counts as unset.
fn setting(var: &impl Fn(&str) -> Option<String>, name: &str) -> Option<String> {
    var(name).map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
}

/// Variable `name`, which must be set; `what` tells what it is when it is not.
fn required_setting(var: &impl Fn(&str) -> Option<String>, name: &'static str, what: &'static str) -> Result<String, DeploymentError> {
    setting(var, name).ok_or(DeploymentError::Missing { name, what })
}

/// The SDK configuration a Lambda function's environment gives, read through `var`: the region
/// (`AWS_REGION`), the execution role's temporary keys (`AWS_ACCESS_KEY_ID`,
/// `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`; Lambda sets all four) and, for an emulator,
/// `AWS_ENDPOINT_URL`, over the small HTTPS client.
///
/// Not `aws-config`'s standard chain: its profile files, SSO, STS web identity, container and
/// instance-metadata providers can never answer inside Lambda, and linking them (with the STS
/// client) put ingest's zip over its 4 MB (BENCHMARKS.md, "Package sizes"). The `onboard` command
/// and the tests keep the standard chain (`adapters::aws::https::sdk_config`). To run a function
/// elsewhere, export the same variables (`aws configure export-credentials --format env` prints
/// them for a profile).
pub fn lambda_sdk_config(var: impl Fn(&str) -> Option<String>) -> Result<aws_config::SdkConfig, DeploymentError> {
    use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region, SharedCredentialsProvider};
    let value = |name: &str| setting(&var, name);
    let required = |name: &'static str, what: &'static str| required_setting(&var, name, what);
    let region = required("AWS_REGION", "the AWS region; Lambda sets it")?;
    let key = required("AWS_ACCESS_KEY_ID", "the execution role's access key; Lambda sets it")?;
    let secret = required("AWS_SECRET_ACCESS_KEY", "the execution role's secret key; Lambda sets it")?;
    let credentials = Credentials::new(key, secret, value("AWS_SESSION_TOKEN"), None, "lambda-environment");
    let mut config = aws_config::SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region))
        .credentials_provider(SharedCredentialsProvider::new(credentials))
        .http_client(crate::adapters::aws::https::ring_https_client());
    if let Some(endpoint) = value("AWS_ENDPOINT_URL") {
        config = config.endpoint_url(endpoint);
    }
    Ok(config.build())
}

/// JSON logs (one object a line, the event's fields at the top level) into `sink`, filtered by
/// `RUST_LOG` (default `info`). `std::io::stdout` in a function; a buffer in tests.
pub fn json_log_subscriber<W>(sink: W) -> impl tracing::Subscriber + Send + Sync
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    use tracing_subscriber::layer::SubscriberExt;
    let filter = log_filter(std::env::var("RUST_LOG").ok().as_deref());
    tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(true)
        .with_target(false)
        .with_max_level(tracing_subscriber::filter::LevelFilter::TRACE)
        .with_writer(sink)
        .finish()
        .with(filter)
}

/// `RUST_LOG` as a list of `level` and `target=level` (`info,onboarding=debug`); unset, blank or
/// unreadable: `info`. The `Targets` filter, not `EnvFilter`: no regular-expression engine (span
/// and field directives) in every function's binary.
fn log_filter(rust_log: Option<&str>) -> tracing_subscriber::filter::Targets {
    let info = || tracing_subscriber::filter::Targets::new().with_default(tracing::Level::INFO);
    rust_log.map(str::trim).filter(|value| !value.is_empty()).and_then(|value| value.parse().ok()).unwrap_or_else(info)
}

/// Writes metric lines (Embedded Metric Format, see [`crate::domain::metrics`]) to standard
/// output, where Lambda collects them.
pub fn emit_metrics(lines: &[crate::domain::metrics::MetricLine]) {
    write_metrics(&mut std::io::stdout().lock(), lines, time::OffsetDateTime::now_utc());
}

/// One JSON line per metric line, stamped `now`. A metric that cannot be written is not worth
/// failing the run for.
pub fn write_metrics(out: &mut dyn std::io::Write, lines: &[crate::domain::metrics::MetricLine], now: time::OffsetDateTime) {
    for line in lines {
        let _ = writeln!(out, "{}", line.to_emf(now));
    }
}

/// `Name <name@domain>` or `name@domain`.
fn parse_sender(raw: &str) -> Result<Mailbox, DeploymentError> {
    Mailbox::parse(raw)
        .ok_or(DeploymentError::Invalid { name: "SENDER_ADDRESS", what: "expected name@domain or Name <name@domain>".into() })
}

fn check_invite_link_template(template: String) -> Result<String, DeploymentError> {
    if template.contains("{email}") {
        Ok(template)
    } else {
        Err(DeploymentError::Invalid {
            name: "INVITE_LINK_TEMPLATE",
            what: "it must contain {email}, where the invitee's address goes".into(),
        })
    }
}

/// A comma-separated list (`;` works too); `None` when it names nobody (settings.json's list
/// then stands). The error names the entry by position, never by value, so addresses stay out
/// of logs.
fn parse_ops_recipients(list: &str) -> Result<Option<Vec<Email>>, DeploymentError> {
    let recipients = list
        .split([',', ';'])
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .enumerate()
        .map(|(index, entry)| {
            Email::parse(entry).map_err(|_| DeploymentError::Invalid {
                name: "OPS_RECIPIENTS",
                what: format!("entry {} is not an e-mail address", index + 1),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some(recipients).filter(|list| !list.is_empty()))
}

#[cfg(test)]
mod metric_tests {}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::io::{Read, Seek, SeekFrom};

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn metric_lines_are_written_one_json_object_a_line() {
        use crate::domain::metrics::MetricLine;
        let lines = [
            MetricLine::new(&[("Flow", "invites")]).count("InvitesSent", 3),
            MetricLine::new(&[("Service", "ses")]).count("SendingPaused", 1),
        ];
        let mut out = Vec::new();
        super::write_metrics(&mut out, &lines, time::macros::datetime!(2026-11-23 09:00 UTC));
        let text = String::from_utf8(out).unwrap();
        let read: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(read.len(), 2);
        assert_eq!((read[0]["InvitesSent"].as_f64(), read[1]["SendingPaused"].as_f64()), (Some(3.0), Some(1.0)));
        assert!(read.iter().all(|l| l["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "VisitorOnboarding"));
    }

    const BASE: [(&str, &str); 2] = [("BUCKET", "b"), ("TABLE", "t")];

    #[test]
    fn reads_the_variables() {
        let mut pairs = BASE.to_vec();
        pairs.extend([
            ("SES_CONFIGURATION_SET", "tracking"),
            ("SENDER_ADDRESS", "Tenant App <Invites@Tenant.example>"),
            ("INVITE_LINK_TEMPLATE", "https://tenant.example/join?u={email}"),
            ("OPS_RECIPIENTS", "ops@tenant.example, Night.Shift@tenant.example; late@tenant.example"),
        ]);
        for sender_required in [true, false] {
            let deployment = Deployment::from_lookup(lookup(&pairs), sender_required).unwrap();
            assert_eq!((deployment.bucket.as_str(), deployment.table.as_str()), ("b", "t"));
            assert_eq!(deployment.ses_configuration_set.as_deref(), Some("tracking"));
            let sender = deployment.overrides.sender.unwrap();
            assert_eq!((sender.name.as_str(), sender.email.as_str()), ("Tenant App", "invites@tenant.example"));
            assert_eq!(deployment.overrides.invite_link_template.as_deref(), Some("https://tenant.example/join?u={email}"));
            let recipients: Vec<&str> = deployment.overrides.ops_recipients.as_ref().unwrap().iter().map(|e| e.as_str()).collect();
            assert_eq!(recipients, ["ops@tenant.example", "night.shift@tenant.example", "late@tenant.example"]);
        }
    }

    #[test]
    fn empty_is_unset_and_keeps_settings_json() {
        let mut blank = BASE.to_vec();
        blank.extend([("SES_CONFIGURATION_SET", ""), ("SENDER_ADDRESS", " "), ("INVITE_LINK_TEMPLATE", ""), ("OPS_RECIPIENTS", " , ")]);
        let deployment = Deployment::from_lookup(lookup(&blank), false).unwrap();
        let expected = Deployment {
            bucket: "b".into(),
            table: "t".into(),
            ses_configuration_set: None,
            overrides: ConfigOverrides::default(),
            apply_queue: None,
        };
        assert_eq!(deployment, expected, "nothing set: settings.json stands");
        let error = Deployment::from_lookup(lookup(&blank), true).unwrap_err();
        assert!(matches!(error, DeploymentError::Missing { name: "SENDER_ADDRESS", .. }), "a blank required sender is missing: {error}");

        let mut pairs = blank.clone();
        pairs.push(("SENDER_ADDRESS", "invites@tenant.example"));
        let deployment = Deployment::from_lookup(lookup(&pairs), true).unwrap();
        assert_eq!(deployment.overrides.sender.unwrap().email.as_str(), "invites@tenant.example");
        assert_eq!(
            (deployment.overrides.invite_link_template, deployment.overrides.ops_recipients),
            (None, None),
            "unset keeps settings.json's"
        );
    }

    #[test]
    fn only_bucket_and_table_are_required_without_a_sender() {
        let deployment =
            Deployment::from_lookup(|name| ["BUCKET", "TABLE"].contains(&name).then(|| format!("{name}-value")), false).unwrap();
        assert_eq!((deployment.bucket.as_str(), deployment.table.as_str()), ("BUCKET-value", "TABLE-value"));
        assert_eq!(deployment.overrides, ConfigOverrides::default());
    }

    #[test]
    fn missing_variables_are_named() {
        for (pairs, sender_required, missing) in [
            (&[("TABLE", "t"), ("SENDER_ADDRESS", "a@b.example")][..], true, "BUCKET"),
            (&[("BUCKET", "b"), ("SENDER_ADDRESS", "a@b.example")], true, "TABLE"),
            (&[("BUCKET", "b"), ("TABLE", " ")], false, "TABLE"),
            (&[("BUCKET", "b"), ("TABLE", "t")], true, "SENDER_ADDRESS"),
        ] {
            let error = Deployment::from_lookup(lookup(pairs), sender_required).unwrap_err();
            assert!(matches!(error, DeploymentError::Missing { name, .. } if name == missing), "{error}");
            assert!(error.to_string().contains(&format!("{missing} is not set")), "{error}");
        }
    }

    #[test]
    fn unusable_variables_are_named_and_their_values_stay_out_of_the_message() {
        for sender_required in [false, true] {
            for (name, bad) in [
                ("SENDER_ADDRESS", "nobody"),
                ("INVITE_LINK_TEMPLATE", "https://tenant.example/join"),
                ("OPS_RECIPIENTS", "ops@tenant.example,not-an-address"),
            ] {
                let mut pairs = BASE.to_vec();
                if name != "SENDER_ADDRESS" {
                    pairs.push(("SENDER_ADDRESS", "invites@tenant.example"));
                }
                pairs.push((name, bad));
                let error = Deployment::from_lookup(lookup(&pairs), sender_required).unwrap_err();
                assert!(matches!(&error, DeploymentError::Invalid { name: invalid, .. } if *invalid == name), "{error}");
                assert!(!error.to_string().contains(bad), "values stay out of logs: {error}");
            }
        }
        let mut pairs = BASE.to_vec();
        pairs.push(("OPS_RECIPIENTS", "ops@tenant.example,not-an-address"));
        let error = Deployment::from_lookup(lookup(&pairs), false).unwrap_err();
        assert!(error.to_string().contains("OPS_RECIPIENTS") && error.to_string().contains("entry 2"), "{error}");
        assert!(!error.to_string().contains("not-an-address"), "values stay out of logs");
    }

    #[test]
    fn rust_log_sets_the_levels_and_defaults_to_info() {
        use tracing::Level;
        let enabled = |rust_log: Option<&str>, target: &str, level: Level| log_filter(rust_log).would_enable(target, &level);
        for unset in [None, Some(""), Some("  "), Some("onboarding=loud")] {
            assert!(enabled(unset, "onboarding", Level::INFO), "{unset:?}");
            assert!(!enabled(unset, "onboarding", Level::DEBUG), "{unset:?}");
        }
        assert!(enabled(Some("debug"), "hyper", Level::DEBUG));
        assert!(enabled(Some("warn,onboarding=debug"), "onboarding::app", Level::DEBUG));
        assert!(!enabled(Some("warn,onboarding=debug"), "hyper", Level::INFO));
    }

    #[test]
    fn logs_are_one_json_object_a_line_with_the_fields_on_top() {
        let mut logs = tempfile::tempfile().unwrap();
        let _guard = tracing::subscriber::set_default(json_log_subscriber(logs.try_clone().unwrap()));
        tracing::callsite::rebuild_interest_cache();
        tracing::info!(building = "one-market", rows = 3, "upload handled");

        let mut text = String::new();
        logs.seek(SeekFrom::Start(0)).and_then(|_| logs.read_to_string(&mut text)).unwrap();
        let entry: serde_json::Value = serde_json::from_str(text.lines().next().unwrap_or_default()).unwrap();
        assert_eq!(
            (entry["message"].as_str(), entry["building"].as_str(), entry["rows"].as_u64()),
            (Some("upload handled"), Some("one-market"), Some(3))
        );
        assert_eq!(entry["level"], "INFO");
        assert!(entry.get("target").is_none(), "{entry}");
    }

    const LAMBDA: [(&str, &str); 4] = [
        ("AWS_REGION", "eu-west-1"),
        ("AWS_ACCESS_KEY_ID", "ASIALAMBDAKEY"),
        ("AWS_SECRET_ACCESS_KEY", "lambda-secret"),
        ("AWS_SESSION_TOKEN", "lambda-session"),
    ];

    #[test]
    fn a_function_without_its_region_or_keys_names_the_missing_variable() {
        for missing in ["AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"] {
            let pairs: Vec<_> = LAMBDA.iter().copied().filter(|(name, _)| *name != missing).collect();
            match lambda_sdk_config(lookup(&pairs)) {
                Err(DeploymentError::Missing { name, .. }) => assert_eq!(name, missing),
                other => panic!("without {missing}: {:?}", other.map(|_| "a configuration")),
            }
        }
    }

    /// One DynamoDB call through a client configured from Lambda's variables, against a local
    /// listener standing in for `AWS_ENDPOINT_URL`: the request goes there, signed with the
    /// environment's key for its region, carrying its session token.
    #[tokio::test]
    async fn the_lambda_environment_configures_region_keys_and_endpoint() {
        let (endpoint, server) = crate::adapters::aws::test_servers::answer_once().await;
        let mut pairs = LAMBDA.to_vec();
        pairs.push(("AWS_ENDPOINT_URL", &endpoint));
        let config = lambda_sdk_config(lookup(&pairs)).unwrap();
        assert_eq!(config.region().map(|r| r.as_ref()), Some("eu-west-1"));

        let table = crate::adapters::aws::dynamo_table_for_requests(&config, "t".into());
        let building = crate::domain::values::BuildingId::parse("5b0c3b56-3f8e-4a51-9d1e-1f0a2c3d4e5f").unwrap();
        let found = crate::ports::BuildingTable::get_building(&table, &building).await;
        assert!(matches!(found, Ok(None)), "{found:?}");
        let request = server.await.unwrap().to_ascii_lowercase();
        assert!(request.contains("credential=asialambdakey/"), "{request}");
        assert!(request.contains("/eu-west-1/dynamodb/aws4_request"), "{request}");
        assert!(request.contains("x-amz-security-token: lambda-session"), "{request}");
    }
}
