//! `validation-report`: daily, every applied migration and every building checked against the
//! store; reports under reports/validation/<date>/ and a summary to the ops recipients.

mod config;
mod handler;

use config::ReportConfig;
use lambda_runtime::{service_fn, LambdaEvent};
use onboarding::adapters::aws::{AwsState, SesOptions};
use onboarding::app::{NoProgress, Services};
use onboarding::ports::SystemClock;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    tracing::subscriber::set_global_default(log_subscriber(std::io::stdout))?;
    let config = ReportConfig::from_env().inspect_err(|error| tracing::error!(%error, "cannot start"))?;
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let ses = SesOptions { configuration_set: config.ses_configuration_set, ..SesOptions::default() };
    let aws = AwsState::from_sdk_config(&sdk, config.bucket, config.table, ses);
    let svc = Services { objects: &aws.objects, table: &aws.table, mailer: &aws.mailer, clock: &SystemClock, progress: &NoProgress };
    let overrides = &config.overrides;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<serde_json::Value>| handler::handle(svc, overrides, event.payload))).await
}

/// JSON logs (one object a line) into `sink`, filtered by `RUST_LOG` (default `info`).
fn log_subscriber<W>(sink: W) -> impl tracing::Subscriber + Send + Sync
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(true)
        .with_target(false)
        .with_env_filter(filter)
        .with_writer(sink)
        .finish()
}
