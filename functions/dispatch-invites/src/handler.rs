//! A scheduled run → the invites whose date has come, sent within the SES rate until the
//! invocation's time is nearly up; the next run continues.

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use lambda_runtime::{Context, LambdaEvent};
use onboarding::app::config::load_config_with;
use onboarding::app::dispatch::{dispatch_paced, DispatchOutcome, Pace, MAX_INVITES_PER_RUN, SAFETY_MARGIN, SENDS_IN_FLIGHT};
use onboarding::app::{AppError, Services};
use onboarding::deployment::{RunError, ScheduledRun};
use onboarding::domain::config::ConfigOverrides;
use std::time::{Duration, SystemTime};

/// A Lambda invocation lasts at most 15 minutes.
const LONGEST_INVOCATION: Duration = Duration::from_secs(15 * 60);

/// Any payload starts a run (the schedule's "Scheduled Event", or a manual `{}`).
pub async fn handle(
    svc: Services<'_>,
    overrides: &ConfigOverrides,
    event: LambdaEvent<serde_json::Value>,
) -> Result<DispatchOutcome, RunError> {
    run(svc, overrides, event).await.map_err(|cause| RunError::new(ScheduledRun::DispatchInvites, cause))
}

async fn run(svc: Services<'_>, overrides: &ConfigOverrides, event: LambdaEvent<serde_json::Value>) -> Result<DispatchOutcome, AppError> {
    let remaining = remaining_time(&event.context, SystemTime::now());
    let deadline = svc.clock.now() + remaining.saturating_sub(SAFETY_MARGIN);
    let trigger = serde_json::from_value::<EventBridgeEvent>(event.payload).map(|e| e.detail_type).unwrap_or_else(|_| "manual".into());
    tracing::info!(%trigger, remaining_seconds = remaining.as_secs(), "dispatching due invites");
    let config = load_config_with(svc.objects, overrides).await?;
    let pace = Pace { limit: MAX_INVITES_PER_RUN, deadline: Some(deadline), in_flight: SENDS_IN_FLIGHT };
    let outcome = dispatch_paced(svc, &config, pace).await?;
    if let Some(reason) = &outcome.stopped {
        tracing::warn!(reason = %onboarding::domain::text::redact_addresses(reason), sent = outcome.sent, "dispatch stopped early");
    }
    Ok(outcome)
}

/// How long the invocation may still run, from the deadline Lambda gives.
fn remaining_time(context: &Context, now: SystemTime) -> Duration {
    context.deadline().duration_since(now).unwrap_or_default().min(LONGEST_INVOCATION)
}

#[cfg(test)]
mod tests;
