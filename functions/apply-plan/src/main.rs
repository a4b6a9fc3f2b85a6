//! `apply-plan`: the parts of approved plans, from the apply queue (see `handler`).

mod handler;

use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{service_fn, LambdaEvent};
use onboarding::deployment::{json_log_subscriber, Deployment};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    tracing::subscriber::set_global_default(json_log_subscriber(std::io::stdout))?;
    // Sends the invites due at once and the approval's notice when a plan's last part is done.
    let deployment = Deployment::from_env(true).inspect_err(|error| tracing::error!(%error, "cannot start"))?;
    let aws = deployment.aws_state().inspect_err(|error| tracing::error!(%error, "cannot start"))?;
    let svc = onboarding::deployment::services(&aws);
    let overrides = &deployment.overrides;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        let deadline = stop_by(event.context.deadline);
        let handled = handler::handle(svc, overrides, event.payload, deadline).await;
        onboarding::deployment::emit_metrics(&handled.metrics);
        Ok::<_, lambda_runtime::Error>(handled.response)
    }))
    .await
}

/// Time kept back from the invocation's deadline to answer which parts are left.
const RESERVE: Duration = Duration::from_secs(20);

/// When to stop work: `RESERVE` before the invocation's deadline (unix milliseconds).
fn stop_by(deadline_ms: u64) -> tokio::time::Instant {
    let deadline = UNIX_EPOCH + Duration::from_millis(deadline_ms);
    let left = deadline.duration_since(SystemTime::now()).unwrap_or_default();
    tokio::time::Instant::now() + left.saturating_sub(RESERVE)
}
