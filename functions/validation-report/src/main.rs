//! `validation-report`: daily, every applied migration and every building checked against the
//! store; reports under reports/validation/<date>/ and a summary to the ops recipients.

mod handler;

use lambda_runtime::{service_fn, LambdaEvent};
use onboarding::deployment::{json_log_subscriber, Deployment};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    tracing::subscriber::set_global_default(json_log_subscriber(std::io::stdout))?;
    let deployment = Deployment::from_env(true).inspect_err(|error| tracing::error!(%error, "cannot start"))?;
    let aws = deployment.aws_state().inspect_err(|error| tracing::error!(%error, "cannot start"))?;
    let svc = onboarding::deployment::services(&aws);
    let overrides = &deployment.overrides;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<serde_json::Value>| async move {
        let outcome = handler::handle(svc, overrides, event.payload).await?;
        onboarding::deployment::emit_metrics(&handler::metrics(&outcome));
        Ok::<_, onboarding::deployment::RunError>(outcome)
    }))
    .await
}
