//! A scheduled (or manual) run → the validation report under `reports/validation/<date>/` and
//! its e-mailed summary; the answer is the outcome (counts and where the files are).

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use onboarding::app::config::load_config_with;
use onboarding::app::validate::{validation_report, ValidationOutcome};
use onboarding::app::{AppError, Services};
use onboarding::deployment::{emit_metric, SENDING_PAUSED_DIMENSION, SENDING_PAUSED_METRIC};
use onboarding::domain::config::ConfigOverrides;
use onboarding::domain::issue::FileRejection;
use onboarding::ports::PortError;

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// `config/` (or a stored plan) cannot be used; the message says what to fix.
    #[error("the report cannot be made: {}", .0.message)]
    Rejected(FileRejection),
    /// The table, the bucket or the mail service failed; running again makes the report.
    #[error("making the validation report failed: {0}. Run the function again (its summary is mailed at most once a day).")]
    Port(PortError),
}

impl From<AppError> for ReportError {
    fn from(error: AppError) -> Self {
        match error {
            AppError::Rejected(rejection) => Self::Rejected(rejection),
            AppError::Port(port) => Self::Port(port),
        }
    }
}

impl From<ReportError> for lambda_runtime::Diagnostic {
    fn from(error: ReportError) -> Self {
        let error_type = match &error {
            ReportError::Rejected(_) => "Rejected",
            ReportError::Port(PortError::Throttled(_)) => "Throttled",
            ReportError::Port(_) => "AdapterFailed",
        };
        lambda_runtime::Diagnostic { error_type: error_type.into(), error_message: error.to_string() }
    }
}

/// Any payload makes the report (the schedule's "Scheduled Event", or a manual `{}`).
pub async fn handle(svc: Services<'_>, overrides: &ConfigOverrides, payload: serde_json::Value) -> Result<ValidationOutcome, ReportError> {
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
