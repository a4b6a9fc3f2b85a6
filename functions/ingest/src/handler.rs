//! An S3 event → each created object routed to its flow (`handle_upload_with`, the deployment's
//! overrides put over `config/settings.json`), once per version.
//!
//! Records are handled one after the other. A refused file is a success here: its reason is in
//! `quarantine/`. A failing adapter (throttling that outlived the retries, a lost connection)
//! fails the invocation so Lambda delivers the event again; the failed run gives its event claim
//! back, so that delivery takes the object at once, and the claims of finished objects make it
//! skip what is done and resume the rest.
//!
//! An object whose claim another invocation holds fails the invocation too. Since a failed run
//! gives its claim back, the holder is a concurrent delivery of the same event (S3 delivers at
//! least once), or a run that died (timeout, crash) or could not record its end: its claim then
//! runs out with the lease. Answering success would drop the upload if the holder never finishes;
//! failing lets Lambda retry, and a retry after the holder finished answers `already_processed`.
//! Retries that all come while a dead run's lease still runs end in the failure queue, from where
//! a redrive resumes the work.
//!
//! An approval is handed to the apply queue in parts (`APPLY_QUEUE_URL`), which the apply-plan
//! function works through. Other work that would outlast the invocation is stopped at a
//! deadline a little before the function's own: the run is dropped where it stands (every step
//! is idempotent, so this is a crash the flows resume from),
//! its claim is given back, and the invocation fails as `OutOfTime`, so Lambda's retry a minute
//! later carries on from there with a fresh 15 minutes.

use aws_lambda_events::event::s3::{S3Event, S3EventRecord};
use onboarding::app::metrics;
use onboarding::app::route::{give_claim_back, handle_s3_upload, handle_upload_with, UploadOutcome};
use onboarding::app::{AppError, Services};
use onboarding::domain::config::ConfigOverrides;
use onboarding::domain::issue::RejectionCode;
use onboarding::domain::metrics::MetricLine;
use onboarding::ports::{ObjectVersion, PortError};
use serde::Serialize;
use std::borrow::Cow;
use tokio::time::Instant;
use tracing::Instrument;

/// What happened to one record, as the invocation answers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecordSummary {
    /// The decoded object key (the key as sent, for a skipped record).
    pub key: String,
    pub version: String,
    pub result: RecordResult,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<RejectionCode>,
    /// Where the reason for a refused file was written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report: Option<String>,
    /// The plan to approve, for a user export.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan_sha256: Option<String>,
}

/// What became of a record's upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordResult {
    Buildings,
    Tenants,
    /// A user export, planned; the plan waits for its approval.
    Plan,
    /// A platform-users snapshot, loaded.
    PlatformUsers,
    /// An approval, applied.
    Applied,
    /// An approval whose plan went to the apply queue in parts.
    ApplyQueued,
    /// A migration's unsent invites moved to another day.
    Rescheduled,
    /// A delivery of an event already handled.
    AlreadyProcessed,
    /// Refused; `code` and `report` say why.
    Rejected,
    /// A key no flow reads.
    Ignored,
    /// Not an object-created event, or a key that does not decode.
    Skipped,
}

impl RecordResult {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Buildings => "buildings",
            Self::Tenants => "tenants",
            Self::Plan => "plan",
            Self::PlatformUsers => "platform_users",
            Self::Applied => "applied",
            Self::ApplyQueued => "apply_queued",
            Self::Rescheduled => "rescheduled",
            Self::AlreadyProcessed => "already_processed",
            Self::Rejected => "rejected",
            Self::Ignored => "ignored",
            Self::Skipped => "skipped",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IngestSummary {
    pub records: Vec<RecordSummary>,
    /// What the records count (rows, refusals, plans, invites): `main` writes these lines to
    /// the log, where CloudWatch reads them.
    #[serde(skip)]
    pub metrics: Vec<MetricLine>,
}

/// Why the invocation failed; Lambda retries it.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("processing {key} failed: {source}. Lambda delivers the event again and the work resumes.")]
    Port { key: String, source: PortError },
    /// Another invocation holds the object's claim: a concurrent delivery of the same event, or a
    /// run that died before recording its end (its claim then runs out with the lease).
    #[error("{key} is being processed by another invocation; this delivery is retried and then finds it done or resumes it.")]
    InProgress { key: String },
    /// The invocation's time ran out with the object half done; the claim was given back.
    #[error("processing {key} did not finish before the invocation's deadline. What was done is kept; Lambda delivers the event again and the work resumes there.")]
    OutOfTime { key: String },
}

impl From<IngestError> for lambda_runtime::Diagnostic {
    fn from(error: IngestError) -> Self {
        let error_type = match &error {
            IngestError::Port { source, .. } => onboarding::deployment::port_error_type(source),
            IngestError::InProgress { .. } => "UploadInProgress",
            IngestError::OutOfTime { .. } => "OutOfTime",
        };
        lambda_runtime::Diagnostic { error_type: error_type.into(), error_message: error.to_string() }
    }
}

/// Handles every record of `event`, stopping at `deadline` (see the module doc).
pub async fn handle(
    svc: Services<'_>,
    overrides: &ConfigOverrides,
    event: S3Event,
    deadline: Instant,
) -> Result<IngestSummary, IngestError> {
    let mut summary = IngestSummary { records: Vec::with_capacity(event.records.len()), metrics: Vec::new() };
    for record in &event.records {
        let version = object_version(record);
        let raw_key = record.s3.object.key.as_deref().unwrap_or_default();
        let span = tracing::info_span!("record", key = %log_safe(raw_key), version = %version);
        let (handled, counted) = handle_record(svc, overrides, record, version, deadline).instrument(span).await?;
        summary.records.push(handled);
        summary.metrics.extend(counted);
    }
    Ok(summary)
}

async fn handle_record(
    svc: Services<'_>,
    overrides: &ConfigOverrides,
    record: &S3EventRecord,
    version: String,
    deadline: Instant,
) -> Result<(RecordSummary, Vec<MetricLine>), IngestError> {
    let raw_key = record.s3.object.key.as_deref().unwrap_or_default();
    let created = record.event_name.as_deref().is_some_and(|name| name.trim_start_matches("s3:").starts_with("ObjectCreated:"));
    let Some(key) = decode_key(raw_key).filter(|_| created) else {
        tracing::info!(event_name = record.event_name.as_deref().unwrap_or(""), "record skipped");
        let skipped =
            RecordSummary { key: raw_key.to_string(), version, result: RecordResult::Skipped, code: None, report: None, plan_sha256: None };
        return Ok((skipped, Vec::new()));
    };
    let upload = async {
        match pinned_version(record) {
            // Read at the announced version, its size checked before any download.
            Some(pinned) => handle_s3_upload(svc, &key, &pinned, overrides).await,
            None => handle_upload_with(svc, &key, &version, overrides).await,
        }
    };
    let Ok(handled) = tokio::time::timeout_at(deadline, upload).await else {
        tracing::warn!("the invocation's deadline came first; giving the claim back for Lambda's retry");
        give_claim_back(svc, &key, &version).await;
        return Err(IngestError::OutOfTime { key: log_safe(&key).into_owned() });
    };
    let outcome = match handled {
        Ok(outcome) => outcome,
        Err(AppError::Port(source)) => return Err(IngestError::Port { key: log_safe(&key).into_owned(), source }),
        // `handle_upload_with` answers refusals as `Rejected` outcomes; treat a stray one the same way.
        Err(AppError::Rejected(rejection)) => {
            UploadOutcome::Rejected { code: rejection.code, message: rejection.message, report: String::new() }
        }
    };
    let counted = metrics::upload(&key, &outcome);
    let (mut code, mut report, mut plan_sha256) = (None, None, None);
    let result = match outcome {
        UploadOutcome::Buildings(buildings) => {
            if let Some(pause) = &buildings.sending_paused {
                tracing::error!(
                    cause = pause.cause.as_str(),
                    fix = pause.cause.fix(),
                    kickstarts_waiting = buildings.kickstarts_paused,
                    "sending paused: kickstarts wait for the next dispatch run"
                );
            }
            RecordResult::Buildings
        }
        UploadOutcome::Tenants(_) => RecordResult::Tenants,
        UploadOutcome::Plan(plan) => {
            plan_sha256 = Some(plan.plan_sha256);
            RecordResult::Plan
        }
        UploadOutcome::PlatformUsers(_) => RecordResult::PlatformUsers,
        UploadOutcome::Applied { .. } => RecordResult::Applied,
        UploadOutcome::ApplyQueued(_) => RecordResult::ApplyQueued,
        UploadOutcome::Rescheduled(_) => RecordResult::Rescheduled,
        UploadOutcome::AlreadyProcessed => RecordResult::AlreadyProcessed,
        // Not a success: the holder may never finish (a run that died), and Lambda forgets an
        // event it was told succeeded. Failing gets this delivery retried.
        UploadOutcome::InProgress => return Err(IngestError::InProgress { key: log_safe(&key).into_owned() }),
        UploadOutcome::Rejected { code: refused, report: written, .. } => {
            code = Some(refused);
            report = Some(written).filter(|r| !r.is_empty());
            RecordResult::Rejected
        }
        UploadOutcome::Ignored => RecordResult::Ignored,
    };
    tracing::info!(result = result.as_str(), code = code.map_or("", RejectionCode::as_str), "upload handled");
    Ok((RecordSummary { key, version, result, code, report, plan_sha256 }, counted))
}

/// An event key as S3 writes it (form-encoded: `+` is a space, then percent-escapes) → the
/// object key. `None` for an empty key or one that is not UTF-8 once decoded.
pub fn decode_key(raw: &str) -> Option<String> {
    let spaced = raw.replace('+', " ");
    let decoded = percent_encoding::percent_decode_str(&spaced).decode_utf8().ok()?;
    Some(decoded.into_owned()).filter(|key| !key.is_empty())
}

/// The object version the claim is keyed by: the version id in a versioned bucket, else the
/// ETag (content), else the sequencer (this very write).
pub fn object_version(record: &S3EventRecord) -> String {
    match pinned_version(record) {
        Some(ObjectVersion::Id(version) | ObjectVersion::ETag(version)) => version,
        None => record.s3.object.sequencer.clone().filter(|v| !v.trim().is_empty()).unwrap_or_else(|| record.event_time.to_rfc3339()),
    }
}

/// The version to read: the version id in a versioned bucket, else the ETag; `None` when the
/// event names neither (the object is then read as it is).
pub fn pinned_version(record: &S3EventRecord) -> Option<ObjectVersion> {
    let object = &record.s3.object;
    let present = |v: &Option<String>| v.clone().filter(|v| !v.trim().is_empty());
    present(&object.version_id).map(ObjectVersion::Id).or_else(|| present(&object.e_tag).map(ObjectVersion::ETag))
}

/// A key fit for logs: a path segment holding an `@` (a file named after a person) is hashed.
fn log_safe(key: &str) -> Cow<'_, str> {
    if !key.contains('@') {
        return Cow::Borrowed(key);
    }
    let segments: Vec<String> =
        key.split('/').map(|s| if s.contains('@') { onboarding::domain::text::redact(s) } else { s.to_string() }).collect();
    Cow::Owned(segments.join("/"))
}

#[cfg(test)]
mod tests;
