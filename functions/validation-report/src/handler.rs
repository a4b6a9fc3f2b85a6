//! A scheduled (or manual) run → the validation report under `reports/validation/<date>/` and
//! its e-mailed summary; the answer is the outcome (counts and where the files are).

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use onboarding::app::config::load_config_with;
use onboarding::app::metrics::{SENDING_PAUSED, SES};
use onboarding::app::validate::{validation_report, ValidationOutcome};
use onboarding::app::{AppError, Services};
use onboarding::deployment::{RunError, ScheduledRun};
use onboarding::domain::config::ConfigOverrides;
use onboarding::domain::metrics::MetricLine;

/// Any payload makes the report (the schedule's "Scheduled Event", or a manual `{}`).
pub async fn handle(svc: Services<'_>, overrides: &ConfigOverrides, payload: serde_json::Value) -> Result<ValidationOutcome, RunError> {
    run(svc, overrides, payload).await.map_err(|cause| RunError::new(ScheduledRun::ValidationReport, cause))
}

async fn run(svc: Services<'_>, overrides: &ConfigOverrides, payload: serde_json::Value) -> Result<ValidationOutcome, AppError> {
    let trigger = serde_json::from_value::<EventBridgeEvent>(payload).map(|e| e.detail_type).unwrap_or_else(|_| "manual".into());
    tracing::info!(%trigger, "making the validation report");
    let config = load_config_with(svc.objects, overrides).await?;
    let (_, outcome) = validation_report(svc, &config).await?;
    Ok(outcome)
}

/// What a run counts: a paused mail service met by the summary (main writes it to the log).
pub fn metrics(outcome: &ValidationOutcome) -> Vec<MetricLine> {
    if outcome.sending_paused {
        vec![MetricLine::new(&[SES]).count(SENDING_PAUSED, 1)]
    } else {
        Vec::new()
    }
}

#[cfg(test)]
mod tests;
