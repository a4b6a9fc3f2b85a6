//! After each upload, the people configured for its kind are told what became of it: one
//! e-mail per object version, sent once through the mail ledger (a retried or re-delivered
//! event finds it sent).

use super::mailing::{send_once, SendOutcome};
use super::route::UploadOutcome;
use super::{AppError, AppResult, Services};
use crate::domain::config::{Config, UploadKind};
use crate::domain::issue::Issue;
use crate::domain::keys;
use crate::domain::notice::{first_issues, notice_mail, Notice, NoticeFile};
use crate::ports::PortError;

/// The kind of upload a key is (approvals belong to the users flow), or `None` for a key
/// outside the flows' folders.
pub fn upload_kind(key: &str) -> Option<UploadKind> {
    let inbox = key.strip_prefix(keys::INBOX);
    match inbox.and_then(|rest| rest.split('/').next()) {
        Some("buildings") => Some(UploadKind::Buildings),
        Some("tenants") => Some(UploadKind::Tenants),
        Some("users") => Some(UploadKind::Users),
        Some("platform-users") => Some(UploadKind::PlatformUsers),
        _ if key.starts_with(keys::APPROVALS) => Some(UploadKind::Users),
        _ => None,
    }
}

/// Tells the people configured for the upload's kind what became of it. Sending paused (an
/// account-level refusal) is logged with its cause and fix, the notice is parked for the next
/// dispatch run, and the upload does not fail;
/// throttling that outlasted the retries fails it, so Lambda's retry sends the notice later.
pub async fn notify_upload(
    svc: Services<'_>,
    config: &Config,
    key: &str,
    event_key: &str,
    outcome: &UploadOutcome,
    plan_issues: &[Issue],
) -> AppResult<()> {
    let Some(kind) = upload_kind(key) else { return Ok(()) };
    if config.notify(kind).is_empty() {
        return Ok(());
    }
    let Some(mut notice) = notice_for(kind, key, outcome, plan_issues) else { return Ok(()) };
    for file in &mut notice.files {
        file.link = match svc.objects.share_link(&file.key).await {
            Ok(link) => link,
            Err(error) => {
                tracing::warn!(error = %error, "no link for a notified file; the notice names its key");
                None
            }
        };
    }
    let Some(mail) = notice_mail(config, event_key, &notice) else { return Ok(()) };
    match send_once(svc.table, svc.mailer, &mail, svc.clock.now()).await? {
        Ok(SendOutcome::Failed(reason)) => {
            tracing::warn!(reason = %crate::domain::text::redact_addresses(&reason), "upload notice refused by the mail service")
        }
        Ok(_) => {}
        Err(PortError::SendingPaused(pause)) => {
            // Kept: the first dispatch run after the fix sends it (once: the ledger key stays).
            svc.table.park_mail(&mail).await?;
            tracing::error!(
                cause = pause.cause.as_str(),
                fix = pause.cause.fix(),
                "sending paused: the upload's notice waits for the next dispatch run"
            );
        }
        Err(error @ PortError::Throttled(_)) => return Err(AppError::Port(error)),
        Err(error) => tracing::warn!(error = %crate::domain::text::redact_addresses(&error.to_string()), "upload notice not sent"),
    }
    Ok(())
}

/// What to tell about `outcome`; `None` for outcomes nobody needs to hear about again
/// (already processed, in progress, ignored).
pub fn notice_for(kind: UploadKind, key: &str, outcome: &UploadOutcome, plan_issues: &[Issue]) -> Option<Notice> {
    let mut notice = Notice {
        kind,
        key: key.to_string(),
        refused: false,
        headline: String::new(),
        counts: Vec::new(),
        issues: Vec::new(),
        issues_total: 0,
        next: Vec::new(),
        files: Vec::new(),
    };
    let named = |outputs: &[String], suffix: &str, label: &'static str| {
        outputs.iter().find(|k| k.ends_with(suffix)).map(|k| NoticeFile::new(label, k.as_str()))
    };
    match outcome {
        UploadOutcome::Buildings(o) => {
            notice.headline = format!("The buildings file was processed: {} of {} rows accepted.", o.accepted, o.rows);
            notice.counts = vec![
                ("Rows", o.rows),
                ("Accepted", o.accepted),
                ("Rejected", o.rejected),
                ("Kickstart e-mails sent", o.kickstarts_sent),
                ("Kickstarts waiting for sending to resume", o.kickstarts_paused),
            ];
            notice.issues = first_issues(&o.issues);
            notice.issues_total = o.issues.len() as u64;
            if let Some(pause) = &o.sending_paused {
                notice.next.push(format!(
                    "Sending is paused ({pause}). {} The kickstarts go out on the next scheduled run after that.",
                    pause.cause.fix()
                ));
            }
            notice.files.extend(named(&o.outputs, "/report.html", "Report"));
            notice.files.extend(named(&o.outputs, "/issues.csv", "Issues (CSV)"));
        }
        UploadOutcome::Tenants(o) => {
            notice.headline = format!(
                "Tenant contacts were processed for {} ({}): {} of {} rows accepted.",
                o.building_name, o.building, o.accepted, o.rows
            );
            notice.counts = vec![
                ("Rows", o.rows),
                ("Accepted", o.accepted),
                ("Rejected", o.rejected),
                ("Duplicates merged", o.duplicates_merged),
                ("Tile granted", o.granted),
                ("Removed (replace mode)", o.revoked),
                ("Kept although their row was rejected", o.kept_rejected),
                ("Contacts in the building's directory", o.directory_size),
                ("Pinned people (always in the Envoy import file)", o.pinned.len() as u64),
            ];
            notice.issues = first_issues(&o.issues);
            notice.issues_total = o.issues.len() as u64;
            notice.files.extend(named(&o.outputs, "/report.html", "Report"));
            notice.files.extend(named(&o.outputs, "/issues.csv", "Issues (CSV)"));
            notice.files.extend(named(&o.outputs, "/envoy-employees.csv", "Envoy import file"));
        }
        UploadOutcome::Plan(summary) => {
            let migration = &summary.migration;
            notice.headline = format!("The migration plan for {migration} is ready for approval.");
            notice.counts = vec![
                ("Rows", summary.rows),
                ("Accepted", summary.accepted),
                ("Rejected", summary.rejected),
                ("Duplicates merged", summary.duplicates_merged),
            ];
            notice.counts.extend(summary.actions.iter().map(|(action, count)| (action_label(action), *count)));
            notice.issues = first_issues(plan_issues);
            notice.issues_total = summary.errors + summary.warnings;
            notice.next = vec![
                format!("Read the plan and its report. Its SHA-256 is {}.", summary.plan_sha256),
                format!(
                    "To approve it with the CLI: onboard approve --migration {migration} --plan-sha256 {} --approved-by \"Your Name\" [--invite-date YYYY-MM-DD]",
                    summary.plan_sha256
                ),
                format!(
                    "Or upload {}{migration}.json containing {{\"plan_sha256\": \"{}\", \"approved_by\": \"Your Name\", \"invite_date\": \"YYYY-MM-DD\"}} (invite_date optional).",
                    keys::APPROVALS,
                    summary.plan_sha256
                ),
                "A new export for this migration makes a new plan with a new SHA-256; an approval of the old one is then refused.".to_string(),
            ];
            notice.files.extend(named(&summary.outputs, "/report.html", "Report"));
            notice.files.extend(named(&summary.outputs, "/plan.csv", "Plan (CSV)"));
            notice.files.extend(named(&summary.outputs, "/issues.csv", "Issues (CSV)"));
        }
        UploadOutcome::PlatformUsers(o) => {
            notice.headline = format!("The platform-users snapshot was loaded: {} users are now known as existing.", o.users);
            notice.counts = vec![
                ("Rows", o.rows),
                ("Accepted", o.accepted),
                ("Rejected", o.rejected),
                ("Duplicates merged", o.duplicates_merged),
                ("Users in this snapshot", o.users),
                ("Users of the last snapshot no longer on the platform", o.dropped),
            ];
            notice.issues = first_issues(&o.issues);
            notice.issues_total = o.issues.len() as u64;
            notice
                .next
                .push("Plans made from now on compare against these users: they get add_roles or no_change, never an invite.".to_string());
            notice.files.extend(named(&o.outputs, "/issues.csv", "Issues (CSV)"));
        }
        UploadOutcome::Applied { apply, dispatch } => {
            notice.headline = if apply.already_applied {
                format!("The plan for {} was already applied; nothing was done again.", apply.migration)
            } else {
                format!("The approved plan for {} was applied.", apply.migration)
            };
            notice.counts = vec![
                ("Users created", apply.users_created),
                ("Users given roles", apply.users_updated),
                ("Unchanged", apply.unchanged),
                ("Held for review", apply.held),
                ("Excluded by the approval", apply.excluded),
                ("Invites queued", apply.invites_queued),
                ("Invites sent now", dispatch.sent),
            ];
            if !apply.invite_date.is_empty() {
                notice.next.push(format!("Invites go out from {}; the scheduled dispatch sends them.", apply.invite_date));
            }
            if let Some(pause) = &dispatch.paused {
                notice.next.push(format!("Sending is paused ({pause}). {}", pause.cause.fix()));
            }
        }
        UploadOutcome::ApplyQueued(q) => {
            notice.headline = format!("The approved plan for {} is being applied.", q.migration);
            notice.counts = vec![("Plan entries", q.entries), ("Parts queued", u64::from(q.parts))];
            notice.next.push("Another notice follows when every part is applied.".to_string());
            if !q.invite_date.is_empty() {
                notice.next.push(format!("Invites go out from {}; the scheduled dispatch sends them.", q.invite_date));
            }
        }
        UploadOutcome::Rescheduled(o) => {
            notice.headline = format!("The migration's unsent invites now go out from {}.", o.invite_date);
            notice.counts = vec![
                ("Moved", o.moved),
                ("Already due that day", o.already),
                ("Already sent (untouched)", o.sent),
                ("Failed, unconfirmed or being sent (untouched)", o.untouched),
            ];
        }
        UploadOutcome::Rejected { code, message, report } => {
            notice.refused = true;
            notice.headline = format!("The file was refused ({}); nothing in it was applied.", code.as_str());
            notice.next = vec![message.clone()];
            if !report.is_empty() {
                notice.files.push(NoticeFile::new("Why (JSON)", report.as_str()));
            }
        }
        UploadOutcome::AlreadyProcessed | UploadOutcome::InProgress | UploadOutcome::Ignored => return None,
    }
    Some(notice)
}

/// A plan action's name for people.
fn action_label(action: &str) -> &'static str {
    match action {
        "create_and_invite" => "New users to create and invite",
        "add_roles" => "Existing users to give roles",
        "no_change" => "Already set up (no change)",
        "hold" => "Held for review",
        "skip_inactive" => "Inactive (skipped)",
        _ => "Other action",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_name_their_kind() {
        assert_eq!(upload_kind("inbox/buildings/b.csv"), Some(UploadKind::Buildings));
        assert_eq!(upload_kind("inbox/tenants/3f2b8c1e-0d4a-4c8e-9a51-2f6d7e8b9c10/replace/c.csv"), Some(UploadKind::Tenants));
        assert_eq!(upload_kind("inbox/users/acme/export.xlsx"), Some(UploadKind::Users));
        assert_eq!(upload_kind("approvals/acme.json"), Some(UploadKind::Users));
        assert_eq!(upload_kind("inbox/platform-users/force/users.csv"), Some(UploadKind::PlatformUsers));
        assert_eq!(upload_kind("inbox/other/x.csv"), None);
        assert_eq!(upload_kind("reports/users/acme/plan.csv"), None);
    }
}
