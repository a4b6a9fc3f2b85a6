//! The handler over the embedded adapters: a migration planned, approved for tomorrow and
//! applied through the upload flow, then the schedule's event.

use super::*;
use async_trait::async_trait;
use onboarding::adapters::embedded::{EmbeddedState, FolderStore, Outbox, SqliteTable};
use onboarding::app::route::{handle_upload, UploadOutcome};
use onboarding::app::NoProgress;
use onboarding::domain::config::{ConfigOverrides, Mailbox};
use onboarding::domain::mail::OutgoingMail;
use onboarding::ports::{Clock, InviteTable, Mailer, ObjectStore, PortResult};
use std::sync::Mutex;
use time::macros::datetime;
use time::OffsetDateTime;

const SCHEDULED_EVENT: &str = include_str!("../../fixtures/eventbridge-scheduled-event.json");
const MIGRATION: &str = "acme-q4";

struct TestClock(Mutex<OffsetDateTime>);

impl TestClock {
    fn set(&self, at: OffsetDateTime) {
        *self.0.lock().unwrap() = at;
    }
}

impl Clock for TestClock {
    fn now(&self) -> OffsetDateTime {
        *self.0.lock().unwrap()
    }
}

/// The outbox, keeping every message handed to it (the outbox alone writes one file per key,
/// which would hide a second send).
struct RecordingMailer {
    outbox: Outbox,
    sent: Mutex<Vec<OutgoingMail>>,
}

impl RecordingMailer {
    fn invites(&self) -> Vec<OutgoingMail> {
        self.sent.lock().unwrap().iter().filter(|m| m.key.starts_with("invite#")).cloned().collect()
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
    clock: TestClock,
}

impl Harness {
    fn svc(&self) -> Services<'_> {
        Services { objects: &self.objects, table: &self.table, mailer: &self.mailer, clock: &self.clock, progress: &NoProgress }
    }

    async fn upload(&self, key: &str, bytes: &[u8]) -> UploadOutcome {
        self.objects.put(key, bytes.to_vec(), "application/octet-stream").await.unwrap();
        handle_upload(self.svc(), key, "v1").await.unwrap()
    }

    fn invite_files(&self) -> usize {
        self.mailer.outbox.messages().unwrap().iter().filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("invite")).count()
    }

    /// The schedule's event, with `remaining` before the invocation's deadline.
    async fn run(&self, overrides: &ConfigOverrides, remaining: Duration) -> DispatchOutcome {
        let deadline = SystemTime::now() + remaining;
        let mut context = Context::default();
        context.deadline = deadline.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_millis() as u64;
        let event = LambdaEvent::new(serde_json::from_str(SCHEDULED_EVENT).unwrap(), context);
        handle(self.svc(), overrides, event).await.unwrap()
    }
}

/// Config, one building and a user export planned and approved with invites due tomorrow,
/// 2026-11-24: three users to create and invite, one inactive.
async fn approved_for_tomorrow() -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let EmbeddedState { objects, table, mailer } = EmbeddedState::open(dir.path()).unwrap();
    let h = Harness {
        _dir: dir,
        objects,
        table,
        mailer: RecordingMailer { outbox: mailer, sent: Mutex::new(Vec::new()) },
        clock: TestClock(Mutex::new(datetime!(2026-11-23 16:00 UTC))),
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
    let UploadOutcome::Plan(plan) =
        h.upload(&format!("inbox/users/{MIGRATION}/export.csv"), include_bytes!("../../fixtures/user-export.csv")).await
    else {
        panic!("the export was not planned");
    };
    assert_eq!(plan.actions.get("create_and_invite"), Some(&3), "{plan:?}");
    let approval = serde_json::json!({ "plan_sha256": plan.plan_sha256, "approved_by": "Pat PM", "invite_date": "2026-11-24" });
    let UploadOutcome::Applied { apply, dispatch } =
        h.upload(&format!("approvals/{MIGRATION}.json"), approval.to_string().as_bytes()).await
    else {
        panic!("the approval was not applied");
    };
    assert_eq!((apply.invites_queued, dispatch.sent), (3, 0), "nothing is due before the invite date");
    h
}

fn overrides() -> ConfigOverrides {
    ConfigOverrides {
        sender: Mailbox::parse("invites@tenant.example"),
        invite_link_template: Some("https://tenant.example/join?u={email}".into()),
        ops_recipients: None,
    }
}

#[tokio::test]
async fn due_invites_are_sent_once() {
    let h = approved_for_tomorrow().await;
    let deployment = overrides();

    let early = h.run(&deployment, Duration::from_secs(14 * 60)).await;
    assert_eq!((early.sent, early.stopped.clone()), (0, None), "not due on the 23rd");

    h.clock.set(datetime!(2026-11-24 09:15 UTC));
    let first = h.run(&deployment, Duration::from_secs(14 * 60)).await;
    assert_eq!(first, DispatchOutcome { sent: 3, ..DispatchOutcome::default() });
    assert_eq!((h.mailer.invites().len(), h.invite_files()), (3, 3));

    let second = h.run(&deployment, Duration::from_secs(14 * 60)).await;
    assert_eq!(second, DispatchOutcome::default(), "nothing left to send");
    assert_eq!((h.mailer.invites().len(), h.invite_files()), (3, 3), "no invite went out twice");
    for invite in h.table.list_invites(&onboarding::domain::values::MigrationId::parse(MIGRATION).unwrap()).await.unwrap() {
        assert_eq!(invite.status, onboarding::domain::invite::MailStatus::Sent, "{invite:?}");
    }
}

#[tokio::test]
async fn the_deployment_sender_and_link_are_used() {
    let h = approved_for_tomorrow().await;
    h.clock.set(datetime!(2026-11-24 09:15 UTC));
    h.run(&overrides(), Duration::from_secs(14 * 60)).await;

    let invites = h.mailer.invites();
    assert_eq!(invites.len(), 3);
    for invite in invites {
        assert_eq!(invite.from.as_str(), "invites@tenant.example");
        assert_eq!(invite.from_name, "Acme Visitor Onboarding", "the display name of settings.json stays");
        assert!(invite.text.contains("https://tenant.example/join?u="), "{}", invite.text);
    }
}

#[tokio::test]
async fn a_run_near_its_deadline_sends_nothing_and_says_so() {
    let h = approved_for_tomorrow().await;
    h.clock.set(datetime!(2026-11-24 09:15 UTC));

    let late = h.run(&overrides(), SAFETY_MARGIN - Duration::from_secs(20)).await;
    assert_eq!(late.sent, 0);
    assert!(late.stopped.as_deref().unwrap_or_default().contains("time limit"), "{late:?}");
    assert_eq!(h.invite_files(), 0);

    let next = h.run(&overrides(), Duration::from_secs(14 * 60)).await;
    assert_eq!(next.sent, 3, "the next run sends them");
}

#[tokio::test]
async fn an_unusable_config_fails_the_run() {
    let h = approved_for_tomorrow().await;
    h.objects
        .put(
            "config/settings.json",
            br#"{"sender": "Acme <onboarding@example.com>", "max_send_rate_per_second": 0}"#.to_vec(),
            "application/json",
        )
        .await
        .unwrap();
    h.clock.set(datetime!(2026-11-24 09:15 UTC));
    let mut context = Context::default();
    context.deadline = (SystemTime::now() + Duration::from_secs(600)).duration_since(SystemTime::UNIX_EPOCH).unwrap().as_millis() as u64;
    let error = handle(h.svc(), &overrides(), LambdaEvent::new(serde_json::json!({}), context)).await.unwrap_err();
    assert!(matches!(error, DispatchError::Config(_)), "{error:?}");
    let diagnostic = lambda_runtime::Diagnostic::from(error);
    assert_eq!(diagnostic.error_type, "InvalidConfig");
    assert!(diagnostic.error_message.contains("max_send_rate_per_second"), "{}", diagnostic.error_message);
    assert_eq!(h.invite_files(), 0);
}

#[test]
fn the_remaining_time_comes_from_the_context_deadline() {
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let mut context = Context::default();
    context.deadline = 1_800_000_000_000 + 600_000;
    assert_eq!(remaining_time(&context, now), Duration::from_secs(600));
    context.deadline = 1_800_000_000_000 - 5_000;
    assert_eq!(remaining_time(&context, now), Duration::ZERO, "a passed deadline leaves nothing");
    context.deadline = u64::MAX;
    assert_eq!(remaining_time(&context, now), LONGEST_INVOCATION);
}
