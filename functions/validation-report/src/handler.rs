//! A scheduled (or manual) run → the validation report under `reports/validation/<date>/` and
//! its e-mailed summary; the answer is the outcome (counts and where the files are).

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use onboarding::app::config::load_config_with;
use onboarding::app::validate::{validation_report, ValidationOutcome};
use onboarding::app::{AppError, Services};
use onboarding::deployment::{emit_metric, RunError, ScheduledRun, SENDING_PAUSED_DIMENSION, SENDING_PAUSED_METRIC};
use onboarding::domain::config::ConfigOverrides;

/// Any payload makes the report (the schedule's "Scheduled Event", or a manual `{}`).
pub async fn handle(svc: Services<'_>, overrides: &ConfigOverrides, payload: serde_json::Value) -> Result<ValidationOutcome, RunError> {
    run(svc, overrides, payload).await.map_err(|cause| RunError::new(ScheduledRun::ValidationReport, cause))
}

async fn run(svc: Services<'_>, overrides: &ConfigOverrides, payload: serde_json::Value) -> Result<ValidationOutcome, AppError> {
    let trigger = serde_json::from_value::<EventBridgeEvent>(payload).map(|e| e.detail_type).unwrap_or_else(|_| "manual".into());
    tracing::info!(%trigger, "making the validation report");
    let config = load_config_with(svc.objects, overrides).await?;
    let (_, outcome) = validation_report(svc, &config).await?;
    if outcome.sending_paused {
        emit_metric(SENDING_PAUSED_METRIC, 1.0, SENDING_PAUSED_DIMENSION);
    }
    Ok(outcome)
}

#[cfg(test)]
mod tests;
