//! `ingest`: S3 uploads under inbox/ and approvals/ → the flow each key names.

mod handler;

use aws_lambda_events::event::s3::S3Event;
use lambda_runtime::{service_fn, LambdaEvent};
use onboarding::deployment::{json_log_subscriber, Deployment};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    tracing::subscriber::set_global_default(json_log_subscriber(std::io::stdout))?;
    // The sender is optional here: without one, kickstart mails go from settings.json's.
    let deployment = Deployment::from_env(false).inspect_err(|error| tracing::error!(%error, "cannot start"))?;
    let aws = deployment.aws_state().inspect_err(|error| tracing::error!(%error, "cannot start"))?;
    let svc = onboarding::deployment::services(&aws);
    let overrides = &deployment.overrides;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<S3Event>| async move {
        let deadline = stop_by(event.context.deadline);
        let summary = handler::handle(svc, overrides, event.payload, deadline).await?;
        onboarding::deployment::emit_metrics(&summary.metrics);
        Ok::<_, handler::IngestError>(summary)
    }))
    .await
}

/// Time kept back from the invocation's deadline to give the claim back, log and answer.
const RESERVE: Duration = Duration::from_secs(30);

/// When to stop work: `RESERVE` before the invocation's deadline (unix milliseconds).
fn stop_by(deadline_ms: u64) -> tokio::time::Instant {
    let deadline = UNIX_EPOCH + Duration::from_millis(deadline_ms);
    let left = deadline.duration_since(SystemTime::now()).unwrap_or_default();
    tokio::time::Instant::now() + left.saturating_sub(RESERVE)
}
