//! What each function counts, from the outcome of its use case: the lines the functions write
//! to their logs (see [`crate::domain::metrics`]) and the template's alarms and dashboard read.
//!
//! | metric | dimensions | from |
//! |---|---|---|
//! | `RowsProcessed`, `RowsRejected` | `Flow`; and `Flow`, `Building` for tenants | every processed upload |
//! | `FilesRefused` | `Flow`, `Code`; and `Function=ingest` (the alarm's total) | every refused upload |
//! | `PlansReady` | `Flow=users` | a user export planned |
//! | `UsersCreated`, `InvitesQueued` | `Flow=approvals` | an approval applied |
//! | `InvitesSent`, `InvitesFailed`, `InvitesPaused` | `Flow=invites` | every sending run (an apply's included) |
//! | `SendingPaused` | `Service=ses` | a run that met a paused account, or feedback that paused invites |
//! | `MailDelivered`, `MailBounced`, `MailComplained` | `Service=ses` | delivery feedback (first moves only) |
//! | `TileChecks` | `Reason` | every tile-check answer |

use super::delivery::FeedbackOutcome;
use super::dispatch::DispatchOutcome;
use super::route::UploadOutcome;
use crate::domain::delivery::DeliveryState;
use crate::domain::keys;
use crate::domain::metrics::MetricLine;
use crate::domain::tile::TileAnswer;

pub const ROWS_PROCESSED: &str = "RowsProcessed";
pub const ROWS_REJECTED: &str = "RowsRejected";
pub const FILES_REFUSED: &str = "FilesRefused";
pub const PLANS_READY: &str = "PlansReady";
pub const USERS_CREATED: &str = "UsersCreated";
pub const INVITES_QUEUED: &str = "InvitesQueued";
pub const INVITES_SENT: &str = "InvitesSent";
pub const INVITES_FAILED: &str = "InvitesFailed";
pub const INVITES_PAUSED: &str = "InvitesPaused";
pub const SENDING_PAUSED: &str = "SendingPaused";
pub const MAIL_DELIVERED: &str = "MailDelivered";
pub const MAIL_BOUNCED: &str = "MailBounced";
pub const MAIL_COMPLAINED: &str = "MailComplained";
pub const TILE_CHECKS: &str = "TileChecks";

/// The dimension every mail-service metric carries (the alarms name it).
pub const SES: (&str, &str) = ("Service", "ses");

/// The flow an uploaded key belongs to: `buildings`, `tenants`, `users`, `platform_users`,
/// `approvals`, or `other`.
pub fn flow_of(key: &str) -> &'static str {
    use crate::domain::config::UploadKind;
    if key.starts_with(keys::APPROVALS) {
        return "approvals";
    }
    match super::notify::upload_kind(key) {
        Some(UploadKind::Buildings) => "buildings",
        Some(UploadKind::Tenants) => "tenants",
        Some(UploadKind::Users) => "users",
        Some(UploadKind::PlatformUsers) => "platform_users",
        None => "other",
    }
}

fn rows(flow: &str, processed: u64, rejected: u64) -> MetricLine {
    MetricLine::new(&[("Flow", flow)]).count(ROWS_PROCESSED, processed).count(ROWS_REJECTED, rejected)
}

/// The lines of one handled upload (none for a repeat delivery or an ignored key).
pub fn upload(key: &str, outcome: &UploadOutcome) -> Vec<MetricLine> {
    let flow = flow_of(key);
    match outcome {
        UploadOutcome::Buildings(b) => {
            let mut lines = vec![rows(flow, b.rows, b.rejected)];
            if b.sending_paused.is_some() {
                lines.push(MetricLine::new(&[SES]).count(SENDING_PAUSED, 1));
            }
            lines
        }
        UploadOutcome::Tenants(t) => vec![
            rows(flow, t.rows, t.rejected),
            MetricLine::new(&[("Flow", flow), ("Building", &t.building)]).count(ROWS_PROCESSED, t.rows).count(ROWS_REJECTED, t.rejected),
        ],
        UploadOutcome::Plan(plan) => vec![rows(flow, plan.rows, plan.rejected).count(PLANS_READY, 1)],
        UploadOutcome::PlatformUsers(p) => vec![rows(flow, p.rows, p.rejected)],
        UploadOutcome::Applied { apply, dispatch } => {
            let mut lines = vec![MetricLine::new(&[("Flow", flow)])
                .count(USERS_CREATED, apply.users_created)
                .count(INVITES_QUEUED, apply.invites_queued)];
            lines.extend(dispatched(dispatch));
            lines
        }
        UploadOutcome::Rejected { code, .. } => vec![
            MetricLine::new(&[("Flow", flow), ("Code", code.as_str())]).count(FILES_REFUSED, 1),
            MetricLine::new(&[("Function", "ingest")]).count(FILES_REFUSED, 1),
        ],
        UploadOutcome::ApplyQueued(_)
        | UploadOutcome::Rescheduled(_)
        | UploadOutcome::AlreadyProcessed
        | UploadOutcome::InProgress
        | UploadOutcome::Ignored => Vec::new(),
    }
}

/// The lines of a sending run: invites sent, failed and whether the run paused.
pub fn dispatched(outcome: &DispatchOutcome) -> Vec<MetricLine> {
    let paused = u64::from(outcome.paused.is_some());
    let mut lines = vec![MetricLine::new(&[("Flow", "invites")])
        .count(INVITES_SENT, outcome.sent)
        .count(INVITES_FAILED, outcome.failed)
        .count(INVITES_PAUSED, paused)];
    if paused > 0 {
        lines.push(MetricLine::new(&[SES]).count(SENDING_PAUSED, 1));
    }
    lines
}

/// The lines of delivery feedback: first moves into delivered, bounced and complained, and a
/// pause these events decided.
pub fn feedback(outcomes: &[FeedbackOutcome]) -> Vec<MetricLine> {
    let count = |state| outcomes.iter().filter(|o| o.recorded && o.state == Some(state)).count() as u64;
    let mut lines = Vec::new();
    let (delivered, bounced, complained) =
        (count(DeliveryState::Delivered), count(DeliveryState::Bounced), count(DeliveryState::Complained));
    if delivered + bounced + complained > 0 {
        lines
            .push(MetricLine::new(&[SES]).count(MAIL_DELIVERED, delivered).count(MAIL_BOUNCED, bounced).count(MAIL_COMPLAINED, complained));
    }
    if outcomes.iter().any(|o| o.paused.is_some()) {
        lines.push(MetricLine::new(&[SES]).count(SENDING_PAUSED, 1).count(INVITES_PAUSED, 1));
    }
    lines
}

/// The lines of tile-check answers: a count per reason.
pub fn tile(answers: &[TileAnswer]) -> Vec<MetricLine> {
    let mut by_reason = std::collections::BTreeMap::<&str, u64>::new();
    for answer in answers {
        *by_reason.entry(answer.reason.as_str()).or_default() += 1;
    }
    by_reason.into_iter().map(|(reason, n)| MetricLine::new(&[("Reason", reason)]).count(TILE_CHECKS, n)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::issue::RejectionCode;
    use crate::domain::tile::TileReason;

    #[test]
    fn keys_map_to_bounded_flows() {
        assert_eq!(flow_of("inbox/tenants/3f2b8c1e-0d4a-4c8e-9a51-2f6d7e8b9c10/replace/x.csv"), "tenants");
        assert_eq!(flow_of("inbox/platform-users/force/x.csv"), "platform_users");
        assert_eq!(flow_of("approvals/m1.reschedule.json"), "approvals");
        assert_eq!(flow_of("inbox/ada@acme.example/x.csv"), "other", "no free text becomes a dimension");
    }

    #[test]
    fn a_refused_file_counts_by_flow_and_code_and_in_the_alarms_total() {
        let refused = UploadOutcome::Rejected { code: RejectionCode::MissingColumn, message: String::new(), report: String::new() };
        let lines = upload("inbox/users/m1/export.csv", &refused);
        assert_eq!(lines[0].dimensions, vec![("Flow", "users".to_string()), ("Code", "missing_column".to_string())]);
        assert_eq!(lines[0].value(FILES_REFUSED), Some(1.0));
        assert_eq!((lines[1].dimension("Function"), lines[1].value(FILES_REFUSED)), (Some("ingest"), Some(1.0)));
        assert!(upload("inbox/users/m1/export.csv", &UploadOutcome::AlreadyProcessed).is_empty(), "a repeat counts nothing");
    }

    #[test]
    fn tile_answers_count_per_reason() {
        let answer = |reason| TileAnswer { visible: false, can_register_visitors: false, reason };
        let lines = tile(&[answer(TileReason::Granted), answer(TileReason::NotGranted), answer(TileReason::Granted)]);
        let counts: Vec<_> = lines.iter().map(|l| (l.dimension("Reason").unwrap().to_string(), l.value(TILE_CHECKS).unwrap())).collect();
        assert_eq!(counts, vec![("granted".to_string(), 2.0), ("not_granted".to_string(), 1.0)]);
    }
}
