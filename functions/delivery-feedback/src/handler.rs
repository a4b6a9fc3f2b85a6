//! One SNS delivery → each SES event in it recorded against the mail it is about (its state,
//! the suppression list, the bounce-rate tally, the pause), and the metrics the alarms read.
//!
//! An event recorded twice, or after a later one, changes nothing, so Lambda's retries are
//! harmless. A message that is not an SES event we follow (a subscription confirmation, an
//! Open or Click event) is logged and skipped: retrying it would not help.

use aws_lambda_events::event::sns::SnsEvent;
use onboarding::app::config::load_config_with;
use onboarding::app::delivery::{record_event, FeedbackOutcome};
use onboarding::app::metrics;
use onboarding::app::{AppError, Services};
use onboarding::deployment::{RunError, ScheduledRun};
use onboarding::domain::config::ConfigOverrides;
use onboarding::domain::delivery::{parse_ses_event, EventError};
use onboarding::domain::metrics::MetricLine;
use serde::Serialize;

#[derive(Debug, Serialize)]
pub struct FeedbackReport {
    pub outcomes: Vec<FeedbackOutcome>,
    /// Records that were not SES events this product follows.
    pub skipped: u64,
    /// What these events count (`app::metrics::feedback`); `main` writes them to the log.
    #[serde(skip)]
    pub metrics: Vec<MetricLine>,
}

pub async fn handle(svc: Services<'_>, overrides: &ConfigOverrides, payload: serde_json::Value) -> Result<FeedbackReport, RunError> {
    run(svc, overrides, payload).await.map_err(|cause| RunError::new(ScheduledRun::DeliveryFeedback, cause))
}

async fn run(svc: Services<'_>, overrides: &ConfigOverrides, payload: serde_json::Value) -> Result<FeedbackReport, AppError> {
    let messages: Vec<String> = match serde_json::from_value::<SnsEvent>(payload.clone()) {
        Ok(event) => event.records.into_iter().map(|r| r.sns.message).collect(),
        // An EventBridge rule hands the SES event as `detail`; a test may hand it bare.
        Err(_) => vec![payload.get("detail").unwrap_or(&payload).to_string()],
    };
    let config = load_config_with(svc.objects, overrides).await?;
    let mut report = FeedbackReport { outcomes: Vec::new(), skipped: 0, metrics: Vec::new() };
    for message in messages {
        match parse_ses_event(&message) {
            Ok(event) => report.outcomes.push(record_event(svc, &config, &event).await?),
            Err(EventError::Ignored(kind)) => {
                tracing::info!(%kind, "an SES event this product does not follow is skipped");
                report.skipped += 1;
            }
            Err(error @ EventError::Malformed(_)) => {
                tracing::warn!(%error, "a message on the feedback topic is not an SES event; skipped");
                report.skipped += 1;
            }
        }
    }
    report.metrics = metrics::feedback(&report.outcomes);
    Ok(report)
}

#[cfg(test)]
mod tests;
