//! `tile-check`: the Visitor Registration tile check behind the HTTP API (IAM auth).

mod handler;
mod reply;

use lambda_http::{service_fn, Request};
use onboarding::deployment::{json_log_subscriber, Deployment};
use onboarding::ports::Table;
use std::convert::Infallible;

// One request at a time per instance (Lambda's model): the current-thread runtime is enough.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    tracing::subscriber::set_global_default(json_log_subscriber(std::io::stdout))?;
    // Only BUCKET and TABLE are needed; the mail settings, optional here, are checked when set.
    let deployment = Deployment::from_env(false).inspect_err(|error| tracing::error!(%error, "cannot start"))?;
    let dynamo = deployment.dynamo_table().inspect_err(|error| tracing::error!(%error, "cannot start"))?;
    let table: &dyn Table = &dynamo;
    lambda_http::run(service_fn(move |request: Request| async move {
        let (response, metrics) = handler::handle(table, request).await;
        onboarding::deployment::emit_metrics(&metrics);
        Ok::<_, Infallible>(response)
    }))
    .await
}
