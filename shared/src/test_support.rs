//! What the Lambda functions' handler tests share (feature `test-support`, for dev-dependencies
//! only): a clock the test moves, a mailer that keeps every message, and the embedded adapters
//! in a temporary folder that take a migration from its uploads to applied.

use crate::adapters::embedded::{EmbeddedState, FolderStore, Outbox, SqliteTable};
use crate::app::apply::ApplyOutcome;
use crate::app::dispatch::DispatchOutcome;
use crate::app::route::{handle_upload, UploadOutcome};
use crate::app::{NoProgress, Services};
use crate::domain::mail::OutgoingMail;
use crate::domain::plan::PlanSummary;
use crate::ports::{Clock, Mailer, ObjectStore, PortResult};
use async_trait::async_trait;
use std::path::Path;
use std::sync::Mutex;
use time::OffsetDateTime;

/// A clock that stands still until the test sets or advances it.
pub struct TestClock(Mutex<OffsetDateTime>);

impl TestClock {
    pub fn at(now: OffsetDateTime) -> Self {
        Self(Mutex::new(now))
    }

    pub fn set(&self, now: OffsetDateTime) {
        *self.0.lock().unwrap() = now;
    }

    pub fn advance(&self, by: time::Duration) {
        *self.0.lock().unwrap() += by;
    }
}

impl Clock for TestClock {
    fn now(&self) -> OffsetDateTime {
        *self.0.lock().unwrap()
    }
}

/// The outbox, keeping every message handed to it (the outbox alone writes one file per message
/// key, which would hide a second send of the same message).
pub struct RecordingMailer {
    pub outbox: Outbox,
    sent: Mutex<Vec<OutgoingMail>>,
}

impl RecordingMailer {
    pub fn new(outbox: Outbox) -> Self {
        Self { outbox, sent: Mutex::new(Vec::new()) }
    }

    /// How many sends reached the mailer, repeats included.
    pub fn sends(&self) -> usize {
        self.sent.lock().unwrap().len()
    }

    /// The messages sent whose ledger key starts with `prefix` (`invite#`, `validation#`, …).
    pub fn sent_with_key(&self, prefix: &str) -> Vec<OutgoingMail> {
        self.sent.lock().unwrap().iter().filter(|m| m.key.starts_with(prefix)).cloned().collect()
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
    async fn suppressed(&self, email: &crate::domain::values::Email) -> PortResult<Option<String>> {
        self.outbox.suppressed(email).await
    }
    fn deduplicates(&self) -> bool {
        self.outbox.deduplicates()
    }
}

/// What the upload flow answered on the way to an applied migration.
#[derive(Debug)]
pub struct AppliedMigration {
    pub plan: PlanSummary,
    pub apply: ApplyOutcome,
    pub dispatch: DispatchOutcome,
}

/// The embedded adapters in a temporary folder, with a recording mailer and a test clock.
pub struct Harness {
    pub objects: FolderStore,
    pub table: SqliteTable,
    pub mailer: RecordingMailer,
    pub clock: TestClock,
    /// Last, so the folder goes after the adapters over it.
    _dir: tempfile::TempDir,
}

impl Harness {
    pub fn open(now: OffsetDateTime) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let EmbeddedState { objects, table, mailer } = EmbeddedState::open(dir.path()).unwrap();
        Self { objects, table, mailer: RecordingMailer::new(mailer), clock: TestClock::at(now), _dir: dir }
    }

    pub fn svc(&self) -> Services<'_> {
        Services {
            objects: &self.objects,
            table: &self.table,
            mailer: &self.mailer,
            clock: &self.clock,
            progress: &NoProgress,
            queue: None,
        }
    }

    /// Puts `bytes` at `key` and runs the upload flow on it, as the ingest function does.
    pub async fn upload(&self, key: &str, bytes: &[u8]) -> UploadOutcome {
        self.objects.put(key, bytes.to_vec(), "application/octet-stream").await.unwrap();
        handle_upload(self.svc(), key, "v1").await.unwrap()
    }

    /// How many `.eml` files in the outbox have a name starting with `kind` (`invite`, …).
    pub fn outbox_files(&self, kind: &str) -> usize {
        self.mailer.outbox.messages().unwrap().iter().filter(|p| p.file_name().unwrap().to_string_lossy().starts_with(kind)).count()
    }

    /// The files of folder `fixtures` taken through the upload flow: `settings.json`,
    /// `role-guide.csv` and `role-matrix.csv` put under `config/`, `buildings.csv` loaded, then
    /// `user-export.csv` planned as `migration`, approved by "Pat PM" with `invite_date` (none:
    /// the invites are due at once) and applied.
    pub async fn apply_migration(&self, fixtures: &Path, migration: &str, invite_date: Option<&str>) -> AppliedMigration {
        let read = |name: &str| std::fs::read(fixtures.join(name)).unwrap_or_else(|e| panic!("{name} in {}: {e}", fixtures.display()));
        for name in ["settings.json", "role-guide.csv", "role-matrix.csv"] {
            self.objects.put(&format!("config/{name}"), read(name), "text/csv").await.unwrap();
        }
        let buildings = self.upload("inbox/buildings/buildings.csv", &read("buildings.csv")).await;
        assert!(matches!(buildings, UploadOutcome::Buildings(_)), "{buildings:?}");
        let UploadOutcome::Plan(plan) = self.upload(&format!("inbox/users/{migration}/export.csv"), &read("user-export.csv")).await else {
            panic!("the export was not planned");
        };
        let mut approval = serde_json::json!({ "plan_sha256": plan.plan_sha256, "approved_by": "Pat PM" });
        if let Some(date) = invite_date {
            approval["invite_date"] = date.into();
        }
        let UploadOutcome::Applied { apply, dispatch } =
            self.upload(&format!("approvals/{migration}.json"), approval.to_string().as_bytes()).await
        else {
            panic!("the approval was not applied");
        };
        AppliedMigration { plan, apply, dispatch }
    }
}
