//! One SNS delivery → each SES event in it recorded against the mail it is about (its state,
//! the suppression list, the bounce-rate tally, the pause), and the metrics the alarms read.
//!
//! An event recorded twice, or after a later one, changes nothing, so Lambda's retries are
//! harmless. A message that is not an SES event we follow (a subscription confirmation, an
//! Open or Click event) is logged and skipped: retrying it would not help.

use aws_lambda_events::event::sns::SnsEvent;
use onboarding::app::config::load_config_with;
use onboarding::app::delivery::{record_event, FeedbackOutcome};
use onboarding::app::{AppError, Services};
use onboarding::deployment::{metrics_line, RunError, ScheduledRun, SENDING_PAUSED_DIMENSION, SENDING_PAUSED_METRIC};
use onboarding::domain::config::ConfigOverrides;
use onboarding::domain::delivery::{parse_ses_event, DeliveryState, EventError};
use serde::Serialize;

/// The metric names the template's alarms and dashboard read (namespace `VisitorOnboarding`,
/// dimension `Service=ses`).
pub const DELIVERED_METRIC: &str = "MailDelivered";
pub const BOUNCED_METRIC: &str = "MailBounced";
pub const COMPLAINED_METRIC: &str = "MailComplained";

#[derive(Debug, Serialize)]
pub struct FeedbackReport {
    pub outcomes: Vec<FeedbackOutcome>,
    /// Records that were not SES events this product follows.
    pub skipped: u64,
    /// The Embedded Metric Format lines this delivery writes to its log.
    #[serde(skip)]
    pub metrics: Vec<String>,
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
    report.metrics = metric_lines(&report.outcomes, svc.clock.now());
    Ok(report)
}

/// The metrics of these outcomes: first moves into delivered, bounced and complained, and a
/// pause this delivery decided.
pub fn metric_lines(outcomes: &[FeedbackOutcome], at: time::OffsetDateTime) -> Vec<String> {
    let count = |state| outcomes.iter().filter(|o| o.recorded && o.state == Some(state)).count() as f64;
    let counts = [
        (DELIVERED_METRIC, count(DeliveryState::Delivered)),
        (BOUNCED_METRIC, count(DeliveryState::Bounced)),
        (COMPLAINED_METRIC, count(DeliveryState::Complained)),
    ];
    let mut lines = Vec::new();
    let nonzero: Vec<(&str, f64)> = counts.into_iter().filter(|(_, v)| *v > 0.0).collect();
    if !nonzero.is_empty() {
        lines.push(metrics_line(&nonzero, SENDING_PAUSED_DIMENSION, at));
    }
    if outcomes.iter().any(|o| o.paused.is_some()) {
        lines.push(metrics_line(&[(SENDING_PAUSED_METRIC, 1.0)], SENDING_PAUSED_DIMENSION, at));
    }
    lines
}

/// Writes metric lines to standard output, where Lambda collects them.
pub fn emit(lines: &[String]) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    for line in lines {
        // A metric that cannot be written is not worth failing the delivery for.
        let _ = writeln!(out, "{line}");
    }
}

#[cfg(test)]
mod tests;
