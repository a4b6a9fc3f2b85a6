//! Messages of the apply queue → parts of approved plans applied (`apply_part`), and, when a
//! plan's last part is done, the invites due at once sent and the approval's notice sent
//! (`finish_queued_apply`).
//!
//! Each message is answered on its own (`ReportBatchItemFailures`): a part that failed (an
//! adapter error, throttling that outlived the retries, the invocation's time running out) is
//! named in `batchItemFailures` and the queue delivers it again after its visibility timeout;
//! the others are done and deleted. Every user's step is idempotent and a part's record is
//! written once, so a part delivered twice counts once. A part that keeps failing ends in the
//! dead-letter queue, where a redrive sends it back once the cause is fixed. A part whose plan
//! was planned or approved again since it was queued is dropped (logged): the new plan needs
//! its own approval.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use onboarding::app::apply::{apply_part, ApplyPart, PartDone};
use onboarding::app::config::load_config_with;
use onboarding::app::route::finish_queued_apply;
use onboarding::app::{metrics, AppResult, Services};
use onboarding::domain::config::ConfigOverrides;
use onboarding::domain::metrics::MetricLine;
use tokio::time::Instant;
use tracing::Instrument;

/// What an invocation answers, and the metric lines of the plans it finished.
#[derive(Debug, Default)]
pub struct Handled {
    pub response: SqsBatchResponse,
    pub metrics: Vec<MetricLine>,
    /// How each message ended, in order (for the log and tests).
    pub results: Vec<PartResult>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartResult {
    Applied,
    /// The plan's last part: the whole plan is applied and people were told.
    Finished,
    Stale,
    /// Left for the queue to deliver again.
    Failed,
}

pub async fn handle(svc: Services<'_>, overrides: &ConfigOverrides, event: SqsEvent, deadline: Instant) -> Handled {
    let mut handled = Handled::default();
    for record in &event.records {
        let id = record.message_id.clone().unwrap_or_default();
        let result = match record.body.as_deref().map(serde_json::from_str::<ApplyPart>) {
            Some(Ok(part)) => {
                let span = tracing::info_span!("part", run = %part.run, index = part.index, parts = part.parts);
                one_part(svc, overrides, &part, deadline, &mut handled.metrics).instrument(span).await
            }
            // Not a part (a hand-made message?): left to fail into the dead-letter queue, where
            // someone sees it. Its body is not logged: it may name people.
            _ => {
                tracing::error!(message_id = %id, "an apply-queue message is not an apply part");
                PartResult::Failed
            }
        };
        if result == PartResult::Failed {
            handled.response.add_failure(id);
        }
        handled.results.push(result);
    }
    handled
}

/// One part, within the invocation's time: `Failed` when it ran out or an adapter failed.
async fn one_part(
    svc: Services<'_>,
    overrides: &ConfigOverrides,
    part: &ApplyPart,
    deadline: Instant,
    metrics: &mut Vec<MetricLine>,
) -> PartResult {
    if Instant::now() >= deadline {
        return PartResult::Failed;
    }
    match tokio::time::timeout_at(deadline, run(svc, overrides, part, metrics)).await {
        Ok(Ok(result)) => result,
        Ok(Err(error)) => {
            tracing::error!(error = %onboarding::domain::text::redact_addresses(&error.to_string()), "part not applied; the queue delivers it again");
            PartResult::Failed
        }
        Err(_) => {
            tracing::warn!("the invocation's deadline came first; the queue delivers the part again");
            PartResult::Failed
        }
    }
}

async fn run(svc: Services<'_>, overrides: &ConfigOverrides, part: &ApplyPart, metrics: &mut Vec<MetricLine>) -> AppResult<PartResult> {
    match apply_part(svc, part).await? {
        PartDone::Applied => {
            tracing::info!("part applied");
            Ok(PartResult::Applied)
        }
        PartDone::Stale(reason) => {
            tracing::warn!(%reason, "part dropped");
            Ok(PartResult::Stale)
        }
        PartDone::Finished(apply) => {
            let config = load_config_with(svc.objects, overrides).await?;
            let outcome = finish_queued_apply(svc, &config, part, apply).await?;
            metrics.extend(metrics::upload(&part.approval_key, &outcome));
            tracing::info!("plan applied: every part is done");
            Ok(PartResult::Finished)
        }
    }
}

#[cfg(test)]
mod tests;
