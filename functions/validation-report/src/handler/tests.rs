//! The handler over the embedded adapters, after buildings and an applied migration were
//! loaded through the upload flow; the schedule's event from a fixture.

use super::*;
use async_trait::async_trait;
use onboarding::adapters::embedded::{EmbeddedState, FolderStore, Outbox, SqliteTable};
use onboarding::app::route::{handle_upload, UploadOutcome};
use onboarding::app::NoProgress;
use onboarding::domain::config::{ConfigOverrides, Mailbox};
use onboarding::domain::mail::OutgoingMail;
use onboarding::domain::values::Email;
use onboarding::ports::{Clock, Mailer, ObjectStore, PortResult};
use std::sync::Mutex;
use time::macros::datetime;
use time::OffsetDateTime;

const SCHEDULED_EVENT: &str = include_str!("../../fixtures/eventbridge-scheduled-event.json");

struct FixedClock(OffsetDateTime);

impl Clock for FixedClock {
    fn now(&self) -> OffsetDateTime {
        self.0
    }
}

/// The outbox, keeping every message handed to it.
struct RecordingMailer {
    outbox: Outbox,
    sent: Mutex<Vec<OutgoingMail>>,
}

impl RecordingMailer {
    fn summaries(&self) -> Vec<OutgoingMail> {
        self.sent.lock().unwrap().iter().filter(|m| m.key.starts_with("validation#")).cloned().collect()
    }
}

#[async_trait]
impl Mailer for RecordingMailer {
    async fn send(&self, mail: &OutgoingMail) -> PortResult<String> {
        self.sent.lock().unwrap().push(mail.clone());
        self.outbox.send(mail).await
    }
    async fn max_send_rate(&self) -> PortResult<f64> {
        self.outbox.max_send_rate().await
    }
    fn deduplicates(&self) -> bool {
        self.outbox.deduplicates()
    }
}

struct Harness {
    _dir: tempfile::TempDir,
    objects: FolderStore,
    table: SqliteTable,
    mailer: RecordingMailer,
    clock: FixedClock,
}

impl Harness {
    fn svc(&self) -> Services<'_> {
        Services { objects: &self.objects, table: &self.table, mailer: &self.mailer, clock: &self.clock, progress: &NoProgress }
    }

    async fn upload(&self, key: &str, bytes: &[u8]) -> UploadOutcome {
        self.objects.put(key, bytes.to_vec(), "application/octet-stream").await.unwrap();
        handle_upload(self.svc(), key, "v1").await.unwrap()
    }
}

/// Two buildings and migration `acme-q4` applied today, its invites sent at once.
async fn applied_migration() -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let EmbeddedState { objects, table, mailer } = EmbeddedState::open(dir.path()).unwrap();
    let h = Harness {
        _dir: dir,
        objects,
        table,
        mailer: RecordingMailer { outbox: mailer, sent: Mutex::new(Vec::new()) },
        clock: FixedClock(datetime!(2026-11-24 06:00 UTC)),
    };
    for (key, bytes) in [
        ("config/settings.json", &include_bytes!("../../fixtures/settings.json")[..]),
        ("config/role-guide.csv", include_bytes!("../../fixtures/role-guide.csv")),
        ("config/role-matrix.csv", include_bytes!("../../fixtures/role-matrix.csv")),
    ] {
        h.objects.put(key, bytes.to_vec(), "text/csv").await.unwrap();
    }
    assert!(matches!(
        h.upload("inbox/buildings/buildings.csv", include_bytes!("../../fixtures/buildings.csv")).await,
        UploadOutcome::Buildings(_)
    ));
    let UploadOutcome::Plan(plan) = h.upload("inbox/users/acme-q4/export.csv", include_bytes!("../../fixtures/user-export.csv")).await
    else {
        panic!("the export was not planned");
    };
    let approval = serde_json::json!({ "plan_sha256": plan.plan_sha256, "approved_by": "Pat PM" });
    let UploadOutcome::Applied { dispatch, .. } = h.upload("approvals/acme-q4.json", approval.to_string().as_bytes()).await else {
        panic!("the approval was not applied");
    };
    assert_eq!(dispatch.sent, 3);
    h
}

fn overrides() -> ConfigOverrides {
    ConfigOverrides {
        sender: Mailbox::parse("reports@tenant.example"),
        invite_link_template: None,
        ops_recipients: Some(vec![Email::parse("night.ops@tenant.example").unwrap()]),
    }
}

#[tokio::test]
async fn the_schedule_writes_the_report_and_mails_the_summary_once_a_day() {
    let h = applied_migration().await;

    let outcome = handle(h.svc(), &overrides(), serde_json::from_str(SCHEDULED_EVENT).unwrap()).await.unwrap();

    assert_eq!((outcome.date.as_str(), outcome.migrations, outcome.buildings), ("2026-11-24", 1, 2));
    assert!(outcome.summary_mailed);
    assert_eq!(
        outcome.outputs,
        [
            "reports/validation/2026-11-24/report.html",
            "reports/validation/2026-11-24/report.csv",
            "reports/validation/2026-11-24/report.json"
        ]
    );
    for key in &outcome.outputs {
        assert!(h.objects.get(key).await.is_ok(), "{key} was not written");
    }
    let report: serde_json::Value =
        serde_json::from_slice(&h.objects.get("reports/validation/2026-11-24/report.json").await.unwrap()).unwrap();
    let migration = &report["migrations"][0];
    assert_eq!(
        (migration["migration"].as_str(), migration["users_checked"].as_u64(), migration["users_ok"].as_u64()),
        (Some("acme-q4"), Some(3), Some(3)),
        "{report}"
    );
    assert_eq!(migration["invites_sent"], 3);

    let summaries = h.mailer.summaries();
    assert_eq!(summaries.len(), 1);
    let to: Vec<&str> = summaries[0].to.iter().map(|e| e.as_str()).collect();
    assert_eq!(to, ["night.ops@tenant.example"], "OPS_RECIPIENTS replaces the list of settings.json");
    assert_eq!((summaries[0].from.as_str(), summaries[0].from_name.as_str()), ("reports@tenant.example", "Acme Visitor Onboarding"));

    // A second run the same day (a retry, or on demand) rewrites the files and mails nothing.
    let again = handle(h.svc(), &overrides(), serde_json::json!({})).await.unwrap();
    assert_eq!((again.problems, again.summary_mailed), (outcome.problems, false));
    assert_eq!(h.mailer.summaries().len(), 1);
}

#[tokio::test]
async fn the_answer_is_the_outcome_as_json() {
    let h = applied_migration().await;
    let outcome = handle(h.svc(), &overrides(), serde_json::from_str(SCHEDULED_EVENT).unwrap()).await.unwrap();
    let answer = serde_json::to_value(&outcome).unwrap();
    for key in ["date", "problems", "migrations", "buildings", "summary_mailed", "outputs"] {
        assert!(answer.get(key).is_some(), "{key} missing from {answer}");
    }
    assert_eq!(answer["outputs"].as_array().unwrap().len(), 3);
    assert!(!answer.to_string().contains('@'), "no addresses in the answer: {answer}");
}

#[tokio::test]
async fn an_unusable_config_fails_the_run() {
    let h = applied_migration().await;
    h.objects.put("config/role-matrix.csv", b"Old Role,Platform Roles\nAdmin,No Such Role\n".to_vec(), "text/csv").await.unwrap();
    let error = handle(h.svc(), &overrides(), serde_json::from_str(SCHEDULED_EVENT).unwrap()).await.unwrap_err();
    assert!(matches!(error, ReportError::Rejected(_)), "{error:?}");
    assert_eq!(lambda_runtime::Diagnostic::from(error).error_type, "Rejected");
    assert!(h.objects.get("reports/validation/2026-11-24/report.json").await.is_err(), "nothing written");
}
