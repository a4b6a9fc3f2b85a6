//! An uploaded object → the flow its key names, exactly once per object version.
//!
//! | key | flow |
//! |---|---|
//! | `inbox/buildings/<any>.csv\|xlsx` | buildings |
//! | `inbox/tenants/<building-uuid>/[replace/][force/]<any>` | tenant contacts |
//! | `inbox/users/<migration-id>/<any>` | user-migration plan |
//! | `inbox/platform-users/[force/]<any>` | the platform's existing users (a snapshot) |
//! | `approvals/<migration-id>.json` | apply the approved plan |
//! | `approvals/<migration-id>.reschedule.json` | move the migration's unsent invites to another day |

use super::pinned::PinnedUpload;
use super::{json_bytes, AppError, AppResult, Services};
use crate::domain::approval::{Approval, Reschedule};
use crate::domain::config::{Config, ConfigOverrides};
use crate::domain::issue::{FileRejection, Issue, RejectionCode};
use crate::domain::keys;
use crate::domain::values::{BuildingId, MigrationId};
use crate::ports::{EventClaim, ObjectVersion, PortError};
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Upload {
    Buildings,
    Tenants {
        building: BuildingId,
        replace: bool,
        force: bool,
    },
    Users {
        migration: MigrationId,
    },
    PlatformUsers {
        force: bool,
    },
    Approval {
        migration: MigrationId,
    },
    Reschedule {
        migration: MigrationId,
    },
    /// Folder markers and our own outputs: nothing to do.
    Ignored,
}

const TABLE_EXTENSIONS: [&str; 5] = ["csv", "tsv", "txt", "xlsx", "xls"];

/// Which flow a key belongs to.
pub fn classify(key: &str) -> Result<Upload, FileRejection> {
    if key.ends_with('/') || !(key.starts_with(keys::INBOX) || key.starts_with(keys::APPROVALS)) {
        return Ok(Upload::Ignored);
    }
    let parts: Vec<&str> = key.split('/').collect();
    let unsafe_part = |p: &&str| p.is_empty() || *p == "." || *p == ".." || p.chars().any(|c| c.is_control() || c == '\\');
    if parts.iter().any(unsafe_part) {
        return Err(FileRejection::new(
            RejectionCode::UnsafeKey,
            format!(
                "The file's path “{}” has an empty folder name, “.” or “..”, a backslash or control characters, so it was not read. Upload it again under a plain path such as inbox/users/<migration-id>/export.csv.",
                crate::domain::text::preview(&crate::domain::text::single_line(key), 120)
            ),
        ));
    }
    let file = parts.last().copied().unwrap_or_default();
    let extension = file.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
    let table_file = || {
        if TABLE_EXTENSIONS.contains(&extension.as_str()) {
            Ok(())
        } else {
            Err(FileRejection::new(
                RejectionCode::UnsupportedFile,
                format!("“{file}” is not a CSV or Excel file. Upload .csv or .xlsx files."),
            ))
        }
    };
    match parts.as_slice() {
        ["inbox", "buildings", .., _] => table_file().map(|_| Upload::Buildings),
        ["inbox", "tenants", building, rest @ ..] if !rest.is_empty() => {
            let building = BuildingId::parse(building).map_err(|e| FileRejection::new(RejectionCode::UnknownBuilding, format!("{e}. Tenant files go under inbox/tenants/<building-uuid>/.")))?;
            let folders = &rest[..rest.len() - 1];
            let replace = folders.contains(&"replace");
            let force = folders.contains(&"force");
            table_file().map(|_| Upload::Tenants { building, replace, force })
        }
        ["inbox", "platform-users", rest @ ..] if !rest.is_empty() => {
            let force = rest[..rest.len() - 1].contains(&"force");
            table_file().map(|_| Upload::PlatformUsers { force })
        }
        ["inbox", "users", migration, _, ..] => {
            let migration = MigrationId::parse(migration).map_err(|e| FileRejection::new(RejectionCode::InvalidMigration, format!("{e}. User exports go under inbox/users/<migration-id>/.")))?;
            table_file().map(|_| Upload::Users { migration })
        }
        ["approvals", file] if file.to_ascii_lowercase().ends_with(".reschedule.json") => {
            let stem = &file[..file.len() - ".reschedule.json".len()];
            let migration = MigrationId::parse(stem).map_err(|e| FileRejection::new(RejectionCode::InvalidMigration, format!("{e}. Invite date changes are uploaded as approvals/<migration-id>.reschedule.json.")))?;
            Ok(Upload::Reschedule { migration })
        }
        ["approvals", file] if extension == "json" => {
            let stem = &file[..file.len() - 5];
            let migration = MigrationId::parse(stem).map_err(|e| FileRejection::new(RejectionCode::InvalidMigration, format!("{e}. Approvals are uploaded as approvals/<migration-id>.json.")))?;
            Ok(Upload::Approval { migration })
        }
        _ => Err(FileRejection::new(RejectionCode::UnknownLocation, format!("Nothing handles files at “{}”. Use inbox/buildings/, inbox/tenants/<building-uuid>/, inbox/users/<migration-id>/, inbox/platform-users/ or approvals/<migration-id>.json.", crate::domain::text::preview(key, 120)))),
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "snake_case", tag = "result")]
pub enum UploadOutcome {
    Buildings(super::buildings::BuildingsOutcome),
    Tenants(super::tenants::TenantsOutcome),
    Plan(crate::domain::plan::PlanSummary),
    PlatformUsers(super::platform_users::PlatformUsersOutcome),
    Applied {
        apply: super::apply::ApplyOutcome,
        dispatch: super::dispatch::DispatchOutcome,
    },
    /// An approval whose plan went to the apply queue in parts; the last part tells people
    /// once the whole plan is applied.
    ApplyQueued(super::apply::ApplyQueued),
    Rescheduled(super::invites::RescheduleOutcome),
    /// The same object version was processed before: nothing was done again.
    AlreadyProcessed,
    /// Another invocation is processing it right now.
    InProgress,
    Rejected {
        code: RejectionCode,
        message: String,
        report: String,
    },
    Ignored,
}

/// How long a claim on an event protects it from a second, concurrent invocation.
pub const EVENT_LEASE_SECONDS: i64 = 16 * 60;

/// The key of an object version's claim in the event log.
pub fn event_key(key: &str, version: &str) -> String {
    format!("{key}#{version}")
}

/// Gives the claim of an object version back, so the next delivery takes it at once instead of
/// waiting out the lease. A release that fails is only logged: the claim then expires with it.
pub async fn give_claim_back(svc: Services<'_>, key: &str, version: &str) {
    if let Err(release) = svc.table.release_event(&event_key(key, version)).await {
        tracing::warn!(error = %crate::domain::text::redact_addresses(&release.to_string()), "event claim not released; it expires with its lease");
    }
}

/// Processes one uploaded object version (`version` is the S3 version id or ETag).
pub async fn handle_upload(svc: Services<'_>, key: &str, version: &str) -> AppResult<UploadOutcome> {
    handle_upload_with(svc, key, version, &ConfigOverrides::default()).await
}

/// [`handle_upload`] with the deployment's settings put over `config/settings.json`.
pub async fn handle_upload_with(svc: Services<'_>, key: &str, version: &str, overrides: &ConfigOverrides) -> AppResult<UploadOutcome> {
    handle(svc, key, version, None, overrides).await
}

/// The object version an S3 event announced, processed once: every read of the uploaded key is
/// made at that version (never a newer file that replaced it meanwhile), and its size is checked
/// before anything is downloaded.
pub async fn handle_s3_upload(
    svc: Services<'_>,
    key: &str,
    version: &ObjectVersion,
    overrides: &ConfigOverrides,
) -> AppResult<UploadOutcome> {
    let claim = match version {
        ObjectVersion::Id(id) => id.as_str(),
        ObjectVersion::ETag(etag) => etag.trim_matches('"'),
    };
    handle(svc, key, claim, Some(version), overrides).await
}

async fn handle(
    svc: Services<'_>,
    key: &str,
    version: &str,
    pin: Option<&ObjectVersion>,
    overrides: &ConfigOverrides,
) -> AppResult<UploadOutcome> {
    let upload = match classify(key) {
        Ok(Upload::Ignored) => return Ok(UploadOutcome::Ignored),
        Ok(upload) => upload,
        Err(rejection) => {
            // Refused by its key alone (no claim: nothing is processed), yet told once: the
            // notice's ledger key is the object version's.
            let outcome = reject(svc, key, rejection).await?;
            if let Ok(config) = super::config::load_config_with(svc.objects, overrides).await {
                super::notify::notify_upload(svc, &config, key, &event_key(key, version), &outcome, &[]).await?;
            }
            return Ok(outcome);
        }
    };
    let event_key = event_key(key, version);
    match svc.table.claim_event(&event_key, svc.clock.now(), EVENT_LEASE_SECONDS).await? {
        EventClaim::Done => return Ok(UploadOutcome::AlreadyProcessed),
        EventClaim::InProgress => return Ok(UploadOutcome::InProgress),
        EventClaim::Claimed => {}
    }
    let result = process(svc, key, &event_key, upload, pin, overrides).await;
    if result.is_err() {
        // An adapter failed (throttling that outlasted the retries, say), in the flow or while
        // recording its end: give the claim back so Lambda's retry resumes the work at once.
        // Every step is idempotent, so what was done before the failure is not done twice.
        give_claim_back(svc, key, version).await;
    }
    result
}

/// Runs the flow of a claimed event, tells the people configured for its kind, and records
/// its end.
async fn process(
    svc: Services<'_>,
    key: &str,
    event_key: &str,
    upload: Upload,
    pin: Option<&ObjectVersion>,
    overrides: &ConfigOverrides,
) -> AppResult<UploadOutcome> {
    let (ran, config) = match super::config::load_config_with(svc.objects, overrides).await {
        Ok(config) => (run(svc, key, event_key, upload, pin, &config).await, Some(config)),
        Err(error) => (Err(error), None),
    };
    let (outcome, plan_issues) = match ran {
        Ok(ran) => ran,
        Err(AppError::Rejected(rejection)) => (reject(svc, key, rejection).await?, Vec::new()),
        Err(AppError::Port(PortError::TooLarge { bytes, limit })) => {
            let mb = |b: u64| b as f64 / (1024.0 * 1024.0);
            let message = format!(
                "The file is {:.1} MB; files up to {:.0} MB are read (config/settings.json: max_file_megabytes). It was not downloaded. Split it into smaller files, or save a workbook as CSV.",
                mb(bytes),
                mb(limit)
            );
            (reject(svc, key, FileRejection::new(RejectionCode::FileTooLarge, message)).await?, Vec::new())
        }
        Err(AppError::Port(PortError::Superseded(_))) => {
            let message = "The file was replaced or deleted before it could be read, so this version was not processed. A newer upload of the same key is processed from its own event.";
            (reject(svc, key, FileRejection::new(RejectionCode::Superseded, message)).await?, Vec::new())
        }
        Err(error) => return Err(error),
    };
    // Before the end is recorded: a crash in between re-runs the flow (idempotent) and finds
    // the notice in the mail ledger.
    if let Some(config) = &config {
        super::notify::notify_upload(svc, config, key, event_key, &outcome, &plan_issues).await?;
    }
    let label = match &outcome {
        UploadOutcome::Rejected { code, .. } => code.as_str(),
        _ => "done",
    };
    svc.table.finish_event(event_key, svc.clock.now(), label).await?;
    Ok(outcome)
}

/// The flow's outcome, with a plan's issues (the notice lists the first; the other flows'
/// outcomes carry their own).
async fn run(
    svc: Services<'_>,
    key: &str,
    event_key: &str,
    upload: Upload,
    pin: Option<&ObjectVersion>,
    config: &Config,
) -> AppResult<(UploadOutcome, Vec<Issue>)> {
    let pinned;
    let svc = match pin {
        Some(version) => {
            pinned = PinnedUpload::new(svc.objects, key, version, config.intake_limits().max_file_bytes);
            Services { objects: &pinned, ..svc }
        }
        None => svc,
    };
    Ok(match upload {
        Upload::Buildings => (UploadOutcome::Buildings(super::buildings::ingest_buildings(svc, config, key, false).await?), Vec::new()),
        Upload::Tenants { building, replace, force } => {
            let options = super::tenants::TenantOptions { replace, force };
            (UploadOutcome::Tenants(super::tenants::ingest_tenants(svc, config, &building, key, options).await?), Vec::new())
        }
        Upload::Users { migration } => {
            let (summary, issues) = super::plan::plan_migration(svc, config, &migration, key).await?;
            // The notice lists the first errors and warnings; issues.csv has them all.
            (UploadOutcome::Plan(summary), issues.first_of_each(crate::domain::notice::FIRST_ISSUES))
        }
        Upload::PlatformUsers { force } => {
            (UploadOutcome::PlatformUsers(super::platform_users::ingest_platform_users(svc, config, key, force).await?), Vec::new())
        }
        Upload::Approval { migration } => {
            let approval = Approval::parse(&svc.objects.get(key).await?, &migration)?;
            if let Some(queue) = svc.queue {
                let queued = super::apply::queue_apply(svc, queue, &approval, key, event_key).await?;
                return Ok((UploadOutcome::ApplyQueued(queued), Vec::new()));
            }
            let apply = super::apply::apply_approval(svc, &approval).await?;
            // Invites due today go out at once (a bounded batch); the schedule sends the rest.
            let dispatch = super::dispatch::dispatch_invites(svc, config, 100, None).await?;
            (UploadOutcome::Applied { apply, dispatch }, Vec::new())
        }
        Upload::Reschedule { migration } => {
            let request = Reschedule::parse(&svc.objects.get(key).await?, &migration)?;
            tracing::info!(migration = %migration, "invites rescheduled by an approval object");
            (UploadOutcome::Rescheduled(super::invites::reschedule_invites(svc, &migration, request.invite_date).await?), Vec::new())
        }
        Upload::Ignored => (UploadOutcome::Ignored, Vec::new()),
    })
}

/// The last part of a queued apply done: invites due now go out (a bounded batch, as when an
/// approval is applied in one run) and the people configured for approvals are told, under
/// the approval's own key (a ledger key of its own, so the notice of the queueing does not
/// stand in for it).
pub async fn finish_queued_apply(
    svc: Services<'_>,
    config: &Config,
    part: &super::apply::ApplyPart,
    apply: super::apply::ApplyOutcome,
) -> AppResult<UploadOutcome> {
    let dispatch = super::dispatch::dispatch_invites(svc, config, 100, None).await?;
    let outcome = UploadOutcome::Applied { apply, dispatch };
    let notice_key = format!("{}#applied", part.event_key);
    super::notify::notify_upload(svc, config, &part.approval_key, &notice_key, &outcome, &[]).await?;
    Ok(outcome)
}

async fn reject(svc: Services<'_>, key: &str, rejection: FileRejection) -> AppResult<UploadOutcome> {
    let report = crate::domain::keys::quarantine_reason(&quarantine_path(key));
    let body = serde_json::json!({ "key": key, "code": rejection.code, "message": rejection.message });
    svc.objects.put(&report, json_bytes(&body), "application/json").await?;
    tracing::warn!(code = rejection.code.as_str(), "upload rejected");
    Ok(UploadOutcome::Rejected { code: rejection.code, message: rejection.message, report })
}

/// `key` as a path every store accepts: empty, `.` and `..` segments and control characters,
/// backslashes become `_`, and each segment is cut to a sane length.
fn quarantine_path(key: &str) -> String {
    key.split('/')
        .map(|part| match part {
            "" | "." | ".." => "_".to_string(),
            _ => part.chars().map(|c| if c.is_control() || c == '\\' { '_' } else { c }).take(200).collect(),
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_route_to_their_flows() {
        assert_eq!(classify("inbox/buildings/2026 Q4.csv").unwrap(), Upload::Buildings);
        let id = "3f2b8c1e-0d4a-4c8e-9a51-2f6d7e8b9c10";
        assert!(matches!(classify(&format!("inbox/tenants/{id}/contacts.xlsx")).unwrap(), Upload::Tenants { replace: false, .. }));
        assert!(matches!(
            classify(&format!("inbox/tenants/{id}/replace/contacts.csv")).unwrap(),
            Upload::Tenants { replace: true, force: false, .. }
        ));
        assert!(matches!(
            classify(&format!("inbox/tenants/{id}/replace/force/c.csv")).unwrap(),
            Upload::Tenants { replace: true, force: true, .. }
        ));
        assert!(matches!(
            classify(&format!("inbox/tenants/{id}/force/c.csv")).unwrap(),
            Upload::Tenants { replace: false, force: true, .. }
        ));
        assert!(matches!(classify("inbox/users/acme-q4/export.csv").unwrap(), Upload::Users { .. }));
        assert!(matches!(classify("approvals/acme-q4.json").unwrap(), Upload::Approval { .. }));
        assert_eq!(classify("reports/users/x/plan.csv").unwrap(), Upload::Ignored);
        assert_eq!(classify("inbox/users/").unwrap(), Upload::Ignored);
    }

    #[test]
    fn path_tricks_are_refused_and_quarantined_under_a_safe_name() {
        for key in [
            "inbox/buildings/../x.csv",
            "inbox/users/m1//x.csv",
            "inbox/users/m1/./x.csv",
            "inbox/buildings/a\0b.csv",
            "inbox/buildings/a\\..\\b.csv",
            "approvals/../m1.json",
        ] {
            assert_eq!(classify(key).unwrap_err().code, "unsafe_key", "{key:?}");
            let safe = quarantine_path(key);
            assert!(safe.split('/').all(|p| !p.is_empty() && p != ".." && p != "." && !p.contains(['\0', '\\'])), "{safe:?}");
        }
        // A literal %2e%2e is a folder name, not a way up: it is just not a building UUID.
        assert_eq!(classify("inbox/tenants/%2e%2e/x.csv").unwrap_err().code, "unknown_building");
    }

    #[test]
    fn bad_keys_get_a_reason() {
        assert_eq!(classify("inbox/tenants/../../etc/x.csv").unwrap_err().code, "unsafe_key");
        assert_eq!(classify("inbox/users/a b/x.csv").unwrap_err().code, "invalid_migration");
        assert_eq!(classify("inbox/users/acme/x.pdf").unwrap_err().code, "unsupported_file");
        assert_eq!(classify("inbox/other/x.csv").unwrap_err().code, "unknown_location");
    }
}
