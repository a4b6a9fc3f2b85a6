//! `ingest`: S3 uploads under inbox/ and approvals/ → the flow each key names.

mod handler;

use aws_lambda_events::event::s3::S3Event;
use lambda_runtime::{service_fn, LambdaEvent};
use onboarding::app::{NoProgress, Services};
use onboarding::deployment::{json_log_subscriber, Deployment};
use onboarding::ports::SystemClock;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    tracing::subscriber::set_global_default(json_log_subscriber(std::io::stdout))?;
    // The sender is optional here: without one, kickstart mails go from settings.json's.
    let deployment = Deployment::from_env(false).inspect_err(|error| tracing::error!(%error, "cannot start"))?;
    let aws = deployment.aws_state().await;
    let svc = Services { objects: &aws.objects, table: &aws.table, mailer: &aws.mailer, clock: &SystemClock, progress: &NoProgress };
    let overrides = &deployment.overrides;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<S3Event>| handler::handle(svc, overrides, event.payload))).await
}
