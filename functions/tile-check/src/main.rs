//! `tile-check`: the Visitor Registration tile check behind the HTTP API (IAM auth).

mod config;
mod handler;
mod reply;

use config::TileCheckConfig;
use lambda_http::{service_fn, Request};
use onboarding::adapters::aws::AwsState;
use onboarding::ports::Table;
use std::convert::Infallible;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    tracing::subscriber::set_global_default(log_subscriber(std::io::stdout))?;
    let config = TileCheckConfig::from_env().inspect_err(|error| tracing::error!(%error, "cannot start"))?;
    let aws = AwsState::from_env(config.bucket, config.table).await;
    let table: &dyn Table = &aws.table;
    lambda_http::run(service_fn(move |request: Request| async move { Ok::<_, Infallible>(handler::handle(table, request).await) })).await
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
