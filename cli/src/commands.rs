//! One function per command: parse arguments into domain values, call the use case, print.

use crate::args::{Approve, BuildingCommand, Cli, Command, ConfigCommand, Ingest};
use crate::output::{emit_listed, issue_lines, issue_lines_of, Bars, Failure, Items, Listing};
use crate::runtime::Runtime;
use onboarding::app;
use onboarding::app::route::UploadOutcome;
use onboarding::domain::approval::{Approval, ApprovalFile};
use onboarding::domain::config::Config;
use onboarding::domain::issue::Issue;
use onboarding::domain::values::{BuildingId, MigrationId};
use serde_json::json;
use std::path::Path;

/// Runs every command but `demo` (which `main` hands to `demo::run`, itself made of these).
pub async fn run(cli: Cli) -> Result<(), Failure> {
    let json = cli.json;
    let runtime = Runtime::open(&cli, Bars::for_run(json)).await?;
    let report = match cli.command {
        Command::Demo => return Ok(()),
        Command::Ingest(Ingest::Buildings { file, resend }) => ingest_buildings(&runtime, &file, resend).await,
        Command::Ingest(Ingest::Tenants { building, replace, force, file }) => {
            ingest_tenants(&runtime, &building, replace, force, &file).await
        }
        Command::Ingest(Ingest::Users { migration, file }) => ingest_users(&runtime, &migration, &file).await.map(|planned| planned.report),
        Command::Ingest(Ingest::PlatformUsers { force, file }) => ingest_platform_users(&runtime, force, &file).await,
        Command::Approve(approve) => approve_and_apply(&runtime, approve).await,
        Command::Dispatch { limit } => dispatch(&runtime, limit).await,
        Command::Report => report(&runtime).await,
        Command::Check { building, email } => crate::buildings::check(&runtime, &building, &email).await,
        Command::Invites(command) => crate::invites::run(&runtime, command).await,
        Command::Building(BuildingCommand::Phase { building, phase, force }) => {
            crate::buildings::set_phase(&runtime, &building, &phase, force).await
        }
        Command::Building(BuildingCommand::List) => crate::buildings::list(&runtime).await,
        Command::Config(ConfigCommand::Load { dir }) => load_config(&runtime, &dir).await,
    };
    // Locally, the outbox's simulated SES events are recorded after every command, as the
    // feedback function records SES's on AWS.
    let feedback = local_feedback(&runtime).await;
    let mut report = report?;
    if let Some(feedback) = feedback? {
        if let Some(object) = report.value.as_object_mut() {
            object.insert("delivery_feedback".into(), feedback.value);
        }
        report.text.extend(feedback.text);
    }
    emit_listed(&runtime, json, report.value, report.text, report.listing).await
}

/// Records the local outbox's delivery events (none on AWS, where SES publishes them to the
/// feedback function), summed up for the person.
pub async fn local_feedback(runtime: &Runtime) -> Result<Option<Report>, Failure> {
    let Some(dir) = &runtime.locations.outbox else { return Ok(None) };
    let outbox = onboarding::adapters::embedded::Outbox::new(dir.clone()).map_err(|e| Failure::from(app::AppError::Port(e)))?;
    // No configuration yet: nothing was sent either.
    let Ok(config) = config(runtime).await else { return Ok(None) };
    let outcomes = outbox.deliver_feedback(runtime.services(), &config).await?;
    if outcomes.is_empty() {
        return Ok(None);
    }
    // Where each message stands now: its highest-ranked state among these events.
    let mut latest = std::collections::HashMap::<&str, onboarding::domain::delivery::DeliveryState>::new();
    for outcome in outcomes.iter().filter(|o| o.recorded) {
        if let Some(state) = outcome.state {
            let entry = latest.entry(outcome.message_id.as_str()).or_insert(state);
            if state.rank() > entry.rank() {
                *entry = state;
            }
        }
    }
    let mut states = std::collections::BTreeMap::<&str, u64>::new();
    for state in latest.values() {
        *states.entry(state.as_str()).or_default() += 1;
    }
    let suppressed: u64 = outcomes.iter().map(|o| o.suppressed).sum();
    let paused = outcomes.iter().find_map(|o| o.paused.clone());
    let counts: Vec<String> = states.iter().map(|(state, n)| format!("{n} {state}")).collect();
    let mut text = vec![format!(
        "Delivery feedback on {} message(s) (the outbox acts as SES's mailbox simulator): {}",
        latest.len(),
        counts.join(", ")
    )];
    if suppressed > 0 {
        text.push(format!("  {suppressed} address(es) bounced for good or complained: suppressed, never mailed again"));
    }
    if let Some(pause) = &paused {
        text.push(format!("  Invites are PAUSED: {pause}"));
    }
    let value = serde_json::json!({ "events": outcomes.len(), "states": states, "suppressed": suppressed, "paused": paused });
    Ok(Some(Report::new(value, text)))
}

/// What a command has to say: a JSON value for `--json`, lines of text otherwise, and the
/// items it lists many of (see [`Listing`]).
pub struct Report {
    pub value: serde_json::Value,
    pub text: Vec<String>,
    pub listing: Option<Listing>,
}

impl Report {
    pub fn new(value: serde_json::Value, text: Vec<String>) -> Self {
        Self { value, text, listing: None }
    }
}

/// The readable report among a run's outputs (its `report.html`), found by name.
fn report_key(outputs: &[String]) -> Option<&String> {
    outputs.iter().find(|key| key.ends_with(".html"))
}

pub fn building_id(raw: &str) -> Result<BuildingId, Failure> {
    BuildingId::parse(raw).map_err(|e| Failure::usage(e.to_string()))
}

pub fn migration_id(raw: &str) -> Result<MigrationId, Failure> {
    MigrationId::parse(raw).map_err(|e| Failure::usage(e.to_string()))
}

/// A local file put where an S3 upload would be: its key, and its version (its content's hash).
struct Uploaded {
    key: String,
    version: String,
}

/// Copies a local file into the bucket's inbox, where the same flow as an S3 upload reads it.
/// The file is copied a piece at a time (an export of a million rows is ~100 MB), and the
/// object appears whole once the last piece is written.
async fn upload(runtime: &Runtime, file: &Path, folder: &str) -> Result<Uploaded, Failure> {
    use std::io::Read;
    let unreadable = |e: std::io::Error| Failure::usage(format!("cannot read {}: {e}", file.display()));
    let mut input = std::fs::File::open(file).map_err(unreadable)?;
    let name: String = file
        .file_name()
        .map(|n| n.to_string_lossy().chars().map(|c| if c == '/' || c == '\\' || c.is_control() { '_' } else { c }).collect())
        .unwrap_or_else(|| "upload.csv".into());
    let key = format!("{folder}/{name}");
    let port = |e| Failure::from(app::AppError::Port(e));
    let mut object = runtime.objects.create(&key, "application/octet-stream").await.map_err(port)?;
    let mut version = onboarding::domain::notice::ContentVersion::default();
    let mut piece = vec![0u8; 1 << 20];
    loop {
        let read = match input.read(&mut piece) {
            Ok(0) => break,
            Ok(read) => read,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(unreadable(e)),
        };
        version.update(&piece[..read]);
        object.write(&piece[..read]).await.map_err(port)?;
    }
    object.finish().await.map_err(port)?;
    Ok(Uploaded { key, version: version.finish() })
}

/// Tells the people configured for the upload's kind what became of it, as an S3 upload's
/// notice does (once per file content: the same file again tells nobody twice). A run that
/// failed for want of a table or bucket tells nobody; its error is printed.
async fn tell<T>(
    runtime: &Runtime,
    config: &Config,
    uploaded: &Uploaded,
    result: &Result<T, app::AppError>,
    outcome: impl FnOnce(&T) -> UploadOutcome,
    issues: &[Issue],
) -> Result<(), Failure> {
    let outcome = match result {
        Ok(done) => outcome(done),
        Err(app::AppError::Rejected(refused)) => {
            UploadOutcome::Rejected { code: refused.code, message: refused.message.clone(), report: String::new() }
        }
        Err(app::AppError::Port(_)) => return Ok(()),
    };
    let event = app::route::event_key(&uploaded.key, &uploaded.version);
    app::notify::notify_upload(runtime.services(), config, &uploaded.key, &event, &outcome, issues).await?;
    Ok(())
}

async fn config(runtime: &Runtime) -> Result<onboarding::domain::config::Config, Failure> {
    Ok(app::config::load_config(runtime.objects.as_ref()).await?)
}

pub async fn ingest_buildings(runtime: &Runtime, file: &Path, resend: bool) -> Result<Report, Failure> {
    let uploaded = upload(runtime, file, "inbox/buildings").await?;
    let config = config(runtime).await?;
    let result = app::buildings::ingest_buildings(runtime.services(), &config, &uploaded.key, resend).await;
    tell(runtime, &config, &uploaded, &result, |o| UploadOutcome::Buildings(o.clone()), &[]).await?;
    let outcome = result?;
    let mut value = serde_json::to_value(&outcome).unwrap_or_default();
    value["outputs"] = json!(outcome.outputs.iter().map(|k| runtime.locate(k)).collect::<Vec<_>>());
    let mut text = vec![format!(
        "Buildings: {} rows, {} accepted, {} rejected. Kickstart e-mails: {} sent, {} already sent earlier{}.",
        outcome.rows,
        outcome.accepted,
        outcome.rejected,
        outcome.kickstarts_sent,
        outcome.kickstarts_already_sent,
        if outcome.kickstarts_unconfirmed > 0 {
            format!(", {} unconfirmed (check the mail log)", outcome.kickstarts_unconfirmed)
        } else {
            String::new()
        }
    )];
    if let Some(pause) = &outcome.sending_paused {
        text.push(format!(
            "Sending paused: {} kickstart e-mail(s) wait and go out on the next dispatch run after the fix. {pause}",
            outcome.kickstarts_paused
        ));
    }
    for change in &outcome.changes {
        if !change.changes.is_empty() {
            text.push(format!("  {} ({}): {}", change.name, change.building, change.changes.join("; ")));
        }
        if !change.new && !change.kept.is_empty() {
            text.push(format!("  {}: kept the stored {} (not in the file)", change.name, change.kept.join(", ")));
        }
    }
    text.extend(issue_lines(&outcome.issues, 20));
    if let Some(report) = report_key(&outcome.outputs) {
        text.push(format!("Report: {}", runtime.locate(report)));
    }
    Ok(Report::new(value, text))
}

pub async fn ingest_tenants(runtime: &Runtime, building: &str, replace: bool, force: bool, file: &Path) -> Result<Report, Failure> {
    let building = building_id(building)?;
    let folder = match (replace, force) {
        (true, true) => format!("inbox/tenants/{building}/replace/force"),
        (true, false) => format!("inbox/tenants/{building}/replace"),
        _ => format!("inbox/tenants/{building}"),
    };
    let uploaded = upload(runtime, file, &folder).await?;
    let config = config(runtime).await?;
    let options = app::tenants::TenantOptions { replace, force };
    let result = app::tenants::ingest_tenants(runtime.services(), &config, &building, &uploaded.key, options).await;
    tell(runtime, &config, &uploaded, &result, |o| UploadOutcome::Tenants(o.clone()), &[]).await?;
    let outcome = result?;
    let mut value = serde_json::to_value(&outcome).unwrap_or_default();
    value["outputs"] = json!(outcome.outputs.iter().map(|k| runtime.locate(k)).collect::<Vec<_>>());
    let mut text = vec![format!(
        "Tenant contacts for {building}: {} rows, {} accepted, {} rejected, {} duplicates merged; {} granted the tile, {} revoked; directory now {} contacts.",
        outcome.rows, outcome.accepted, outcome.rejected, outcome.duplicates_merged, outcome.granted, outcome.revoked, outcome.directory_size
    )];
    if outcome.kept_rejected > 0 {
        text.push(format!(
            "Kept {} contact(s) replace mode would have removed: their rows are in the file but were rejected.",
            outcome.kept_rejected
        ));
    }
    text.extend(issue_lines(&outcome.issues, 20));
    if let Some(export) = outcome.outputs.iter().find(|k| k.ends_with("envoy-employees.csv")) {
        text.push(format!("Envoy import file: {}", runtime.locate(export)));
    }
    if let Some(report) = report_key(&outcome.outputs) {
        text.push(format!("Report: {}", runtime.locate(report)));
    }
    Ok(Report::new(value, text))
}

pub async fn ingest_platform_users(runtime: &Runtime, force: bool, file: &Path) -> Result<Report, Failure> {
    let uploaded = upload(runtime, file, if force { "inbox/platform-users/force" } else { "inbox/platform-users" }).await?;
    let config = config(runtime).await?;
    let result = app::platform_users::ingest_platform_users(runtime.services(), &config, &uploaded.key, force).await;
    tell(runtime, &config, &uploaded, &result, |o| UploadOutcome::PlatformUsers(o.clone()), &[]).await?;
    let outcome = result?;
    let mut value = serde_json::to_value(&outcome).unwrap_or_default();
    value["outputs"] = json!(outcome.outputs.iter().map(|k| runtime.locate(k)).collect::<Vec<_>>());
    let mut text = vec![format!(
        "Platform users: {} rows, {} accepted, {} rejected, {} duplicates merged; {} users known as existing, {} of the last snapshot forgotten.",
        outcome.rows, outcome.accepted, outcome.rejected, outcome.duplicates_merged, outcome.users, outcome.dropped
    )];
    text.extend(issue_lines(&outcome.issues, 20));
    Ok(Report::new(value, text))
}

/// A planned migration: what to print (its issues listed as `issues` in `--json`) and the
/// plan's SHA-256.
pub struct Planned {
    pub report: Report,
    pub sha: String,
}

pub async fn ingest_users(runtime: &Runtime, migration: &str, file: &Path) -> Result<Planned, Failure> {
    let migration = migration_id(migration)?;
    let uploaded = upload(runtime, file, &format!("inbox/users/{migration}")).await?;
    let config = config(runtime).await?;
    let result = app::plan::plan_migration(runtime.services(), &config, &migration, &uploaded.key).await;
    let plan_issues = result.as_ref().map(|(_, issues)| issues.first_of_each(onboarding::domain::notice::FIRST_ISSUES)).unwrap_or_default();
    // The notice is about the plan: the same file planned again against a changed table is a
    // new plan (a new SHA-256) to tell about; the same plan again is not.
    let uploaded = match &result {
        Ok((summary, _)) => Uploaded { version: summary.plan_sha256.clone(), ..uploaded },
        Err(_) => uploaded,
    };
    tell(runtime, &config, &uploaded, &result, |(summary, _)| UploadOutcome::Plan(summary.clone()), &plan_issues).await?;
    let (summary, issues) = result?;
    let mut value = serde_json::to_value(&summary).unwrap_or_default();
    value["outputs"] = json!(summary.outputs.iter().map(|k| runtime.locate(k)).collect::<Vec<_>>());
    let actions: Vec<String> = summary.actions.iter().map(|(a, n)| format!("{a} {n}")).collect();
    let mut text = vec![
        format!(
            "Plan for migration {migration}: {} rows, {} accepted, {} rejected, {} duplicates merged, {} inactive skipped.",
            summary.rows, summary.accepted, summary.rejected, summary.duplicates_merged, summary.inactive_skipped
        ),
        format!("Actions: {}.", actions.join(", ")),
        format!("Issues: {} errors, {} warnings.", summary.errors, summary.warnings),
    ];
    text.extend(issue_lines_of(&issues.first(25), issues.len(), 25));
    if let Some(report) = report_key(&summary.outputs) {
        text.push(format!("Report: {}", runtime.locate(report)));
    }
    text.push(format!("Plan SHA-256: {}", summary.plan_sha256));
    text.push(format!(
        "To approve: onboard approve --migration {migration} --plan-sha256 {} --invite-date YYYY-MM-DD --approved-by \"Your Name\"",
        summary.plan_sha256
    ));
    let listing = Listing {
        key: "issues",
        items: Items::Held {
            len: issues.len(),
            line: None,
            item: Box::new(move |index| issues.get(index).and_then(|issue| serde_json::to_value(issue).ok()).unwrap_or_default()),
        },
    };
    Ok(Planned { report: Report { value, text, listing: Some(listing) }, sha: summary.plan_sha256 })
}

pub async fn approve_and_apply(runtime: &Runtime, approve: Approve) -> Result<Report, Failure> {
    let migration = migration_id(&approve.migration)?;
    let file = ApprovalFile {
        migration: Some(migration.to_string()),
        plan_sha256: approve.plan_sha256,
        approved_by: approve.approved_by,
        invite_date: approve.invite_date,
        exclude: approve.exclude,
    };
    let approval = Approval::check(file.clone(), &migration)?;
    let config = config(runtime).await?;
    // Keep the approval where an S3 upload would put it, as the record of who approved what.
    let bytes = serde_json::to_vec_pretty(&file).unwrap_or_default();
    let apply = app::apply::apply_approval(runtime.services(), &approval).await?;
    runtime
        .objects
        .put(&format!("approvals/{migration}.json"), bytes, "application/json")
        .await
        .map_err(|e| Failure::from(app::AppError::Port(e)))?;
    let dispatch = app::dispatch::dispatch_invites(runtime.services(), &config, 10_000, None).await?;
    let uploaded = Uploaded { key: format!("approvals/{migration}.json"), version: approval.plan_sha256.clone() };
    let applied = Ok::<_, app::AppError>(UploadOutcome::Applied { apply: apply.clone(), dispatch: dispatch.clone() });
    tell(runtime, &config, &uploaded, &applied, UploadOutcome::clone, &[]).await?;
    let value = json!({ "apply": apply, "dispatch": dispatch });
    let text = vec![
        format!(
            "Applied plan {} of migration {migration}{}: {} users created, {} updated, {} unchanged, {} held, {} inactive skipped, {} excluded.",
            apply.plan_sha256,
            if apply.already_applied { " (again; nothing new was needed)" } else { "" },
            apply.users_created,
            apply.users_updated,
            apply.unchanged,
            apply.held,
            apply.skipped_inactive,
            apply.excluded
        ),
        format!("Invites: {} queued for {}; {} sent now, {} already sent.", apply.invites_queued, apply.invite_date, dispatch.sent, dispatch.already_sent),
    ];
    Ok(Report::new(value, text))
}

pub async fn dispatch(runtime: &Runtime, limit: usize) -> Result<Report, Failure> {
    let config = config(runtime).await?;
    let outcome = app::dispatch::dispatch_invites(runtime.services(), &config, limit, None).await?;
    let mut text = vec![format!(
        "Invites: {} sent, {} already sent, {} failed, {} unconfirmed, {} to retry later.",
        outcome.sent, outcome.already_sent, outcome.failed, outcome.unconfirmed, outcome.retry_later
    )];
    if let Some(why) = &outcome.stopped {
        text.push(format!("Stopped early: {why}"));
    }
    if let Some(outbox) = &runtime.locations.outbox {
        text.push(format!("Outbox: {}", outbox.display()));
    }
    Ok(Report::new(serde_json::to_value(&outcome).unwrap_or_default(), text))
}

pub async fn report(runtime: &Runtime) -> Result<Report, Failure> {
    let config = config(runtime).await?;
    let (_, outcome) = app::validate::validation_report(runtime.services(), &config).await?;
    let mut value = serde_json::to_value(&outcome).unwrap_or_default();
    value["outputs"] = json!(outcome.outputs.iter().map(|k| runtime.locate(k)).collect::<Vec<_>>());
    let mut text = vec![format!(
        "Validation report {}: {} problems across {} migrations and {} buildings.",
        outcome.date, outcome.problems, outcome.migrations, outcome.buildings
    )];
    if let Some(report) = report_key(&outcome.outputs) {
        text.push(format!("Report: {}", runtime.locate(report)));
    }
    Ok(Report::new(value, text))
}

pub async fn load_config(runtime: &Runtime, dir: &Path) -> Result<Report, Failure> {
    let read = |name: &str| -> Result<Option<Vec<u8>>, Failure> {
        let path = dir.join(name);
        match std::fs::read(&path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Failure::usage(format!("cannot read {}: {e}", path.display()))),
        }
    };
    let (settings, guide, matrix) = (read("settings.json")?, read("role-guide.csv")?, read("role-matrix.csv")?);
    if settings.is_none() && guide.is_none() && matrix.is_none() {
        return Err(Failure::usage(format!("{} holds none of settings.json, role-guide.csv, role-matrix.csv", dir.display())));
    }
    let config = app::config::store_config(runtime.objects.as_ref(), settings, guide, matrix).await?;
    let roles = config.guide.roles().count();
    let mappings = config.matrix.mappings().count();
    let gaps: Vec<_> =
        config.matrix.mappings().filter(|m| !m.gap.is_empty()).map(|m| json!({ "old_role": m.old_role, "gap": m.gap })).collect();
    let mut text = vec![format!("Configuration loaded: {roles} platform roles, {mappings} role mappings.")];
    for m in config.matrix.mappings().filter(|m| !m.gap.is_empty()) {
        text.push(format!(
            "  gap: “{}” → {} does not give {}",
            m.old_role,
            m.platform_roles.join(", "),
            m.gap.iter().cloned().collect::<Vec<_>>().join(", ")
        ));
    }
    Ok(Report::new(json!({ "platform_roles": roles, "role_mappings": mappings, "gaps": gaps }), text))
}
