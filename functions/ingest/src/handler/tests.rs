//! The handler over the embedded adapters, fed S3 events shaped as S3 sends them.

use super::*;
use async_trait::async_trait;
use onboarding::adapters::embedded::{EmbeddedState, FolderStore, SqliteTable};
use onboarding::app::route::EVENT_LEASE_SECONDS;
use onboarding::app::NoProgress;
use onboarding::deployment::Deployment;
use onboarding::domain::config::Mailbox;
use onboarding::ports::{Clock, EventLog, ObjectStore, PortResult};
use onboarding::test_support::{RecordingMailer, TestClock};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use time::{Duration, OffsetDateTime};

const USER_EXPORT_EVENT: &str = include_str!("../../fixtures/s3-put-user-export.json");
const BUILDINGS_EVENT: &str = include_str!("../../fixtures/s3-put-buildings.json");
const USER_EXPORT: &[u8] = include_bytes!("../../fixtures/user-export.csv");
const BUILDINGS: &[u8] = include_bytes!("../../fixtures/buildings.csv");

/// The keys the fixtures' events name, decoded.
const USER_EXPORT_KEY: &str = "inbox/users/acme-q4/User Export(2026).csv";
const BUILDINGS_KEY: &str = "inbox/buildings/Q4 go-live – buildings.csv";

/// The bucket folder, throttled on reading `inbox/` objects while `failures` lasts, and slow to
/// open them by `delay_ms`.
struct FlakyStore {
    folder: FolderStore,
    failures: AtomicUsize,
    delay_ms: AtomicU64,
}

impl FlakyStore {
    async fn check(&self, key: &str) -> PortResult<()> {
        let delay = self.delay_ms.load(Ordering::SeqCst);
        if key.starts_with("inbox/") && delay > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(delay)).await;
        }
        let failing =
            key.starts_with("inbox/") && self.failures.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok();
        if failing {
            Err(PortError::Throttled("SlowDown: please reduce your request rate".into()))
        } else {
            Ok(())
        }
    }
}

#[async_trait]
impl ObjectStore for FlakyStore {
    async fn open(&self, key: &str) -> PortResult<Box<dyn std::io::Read + Send>> {
        self.check(key).await?;
        self.folder.open(key).await
    }
    async fn get(&self, key: &str) -> PortResult<Vec<u8>> {
        self.check(key).await?;
        self.folder.get(key).await
    }
    async fn put(&self, key: &str, bytes: Vec<u8>, content_type: &str) -> PortResult<()> {
        self.folder.put(key, bytes, content_type).await
    }
    async fn list(&self, prefix: &str) -> PortResult<Vec<String>> {
        self.folder.list(prefix).await
    }
}

struct Harness {
    _dir: tempfile::TempDir,
    objects: FlakyStore,
    table: SqliteTable,
    mailer: RecordingMailer,
    clock: TestClock,
    /// What the environment puts over `config/settings.json`.
    overrides: ConfigOverrides,
}

impl Harness {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let EmbeddedState { objects, table, mailer } = EmbeddedState::open(dir.path()).unwrap();
        // The fixtures' Envoy contacts are at envoy.example: kickstarts may go there.
        let config = dir.path().join("bucket/config");
        std::fs::create_dir_all(&config).unwrap();
        std::fs::write(config.join("settings.json"), br#"{"kickstart_domains": ["envoy.example"]}"#).unwrap();
        Self {
            _dir: dir,
            objects: FlakyStore { folder: objects, failures: AtomicUsize::new(0), delay_ms: AtomicU64::new(0) },
            table,
            mailer: RecordingMailer::new(mailer),
            clock: TestClock::at(OffsetDateTime::now_utc()),
            overrides: ConfigOverrides::default(),
        }
    }

    /// One delivery of `event` to the handler.
    async fn deliver(&self, event: S3Event) -> Result<IngestSummary, IngestError> {
        handle(self.svc(), &self.overrides, event, tokio::time::Instant::now() + std::time::Duration::from_secs(600)).await
    }

    fn svc(&self) -> Services<'_> {
        Services {
            objects: &self.objects,
            table: &self.table,
            mailer: &self.mailer,
            clock: &self.clock,
            progress: &NoProgress,
            queue: None,
        }
    }

    async fn upload(&self, key: &str, bytes: &[u8]) {
        self.objects.folder.put(key, bytes.to_vec(), "text/csv").await.unwrap();
    }

    async fn exists(&self, key: &str) -> bool {
        self.objects.folder.get(key).await.is_ok()
    }

    fn outbox_files(&self) -> usize {
        self.mailer.outbox.messages().unwrap().len()
    }

    fn sends(&self) -> usize {
        self.mailer.sends()
    }

    /// The outbox's one `.eml` file whose name starts with `kind` (`kickstart`, `invite`).
    fn outbox_message(&self, kind: &str) -> String {
        let files: Vec<_> = self
            .mailer
            .outbox
            .messages()
            .unwrap()
            .into_iter()
            .filter(|path| path.file_name().unwrap().to_string_lossy().starts_with(kind))
            .collect();
        assert_eq!(files.len(), 1, "{files:?}");
        String::from_utf8(std::fs::read(&files[0]).unwrap()).unwrap()
    }
}

/// The value of header `name` in an RFC 5322 message, continuation lines unfolded.
fn header(message: &str, name: &str) -> Option<String> {
    let head = message.split("\r\n\r\n").next().unwrap_or_default().replace("\r\n ", " ").replace("\r\n\t", " ");
    head.split("\r\n").find_map(|line| {
        let (field, value) = line.split_once(':')?;
        field.trim().eq_ignore_ascii_case(name).then(|| value.trim().to_string())
    })
}

fn event(json: &str) -> S3Event {
    serde_json::from_str(json).unwrap()
}

/// The user-export event with its first record changed by `edit`.
fn edited_event(edit: impl Fn(&mut serde_json::Value)) -> S3Event {
    let mut value: serde_json::Value = serde_json::from_str(USER_EXPORT_EVENT).unwrap();
    edit(&mut value["Records"][0]);
    serde_json::from_value(value).unwrap()
}

#[test]
fn keys_decode_as_s3_encodes_them() {
    assert_eq!(decode_key("inbox/users/acme-q4/User+Export%282026%29.csv").unwrap(), USER_EXPORT_KEY);
    assert_eq!(decode_key("inbox/buildings/Q4+go-live+%E2%80%93+buildings.csv").unwrap(), BUILDINGS_KEY);
    // A literal plus arrives escaped; it must not turn into a space.
    assert_eq!(decode_key("inbox/users/m1/a%2Bb.csv").unwrap(), "inbox/users/m1/a+b.csv");
    assert_eq!(decode_key("inbox/users/m1/100%25.csv").unwrap(), "inbox/users/m1/100%.csv");
    assert_eq!(decode_key("inbox/users/m1/%FF.csv"), None, "not UTF-8 once decoded");
    assert_eq!(decode_key(""), None);
}

#[test]
fn the_version_is_the_version_id_else_the_etag() {
    let versioned = event(USER_EXPORT_EVENT);
    assert_eq!(object_version(&versioned.records[0]), "3HL4kqtJlcpXroDTDmjVBH40Nrjfkd");
    let unversioned = event(BUILDINGS_EVENT);
    assert_eq!(object_version(&unversioned.records[0]), "9b2cf535f27731c974343645a3985328-1");
    let bare = edited_event(|record| {
        let object = &mut record["s3"]["object"];
        object["versionId"] = serde_json::Value::Null;
        object["eTag"] = serde_json::json!("");
    });
    assert_eq!(object_version(&bare.records[0]), "0067419A5E7C3B2F41", "the sequencer is the last resort");
}

#[tokio::test]
async fn the_decoded_key_reaches_the_plan_flow() {
    let h = Harness::new();
    h.upload(USER_EXPORT_KEY, USER_EXPORT).await;

    let summary = h.deliver(event(USER_EXPORT_EVENT)).await.unwrap();

    let record = &summary.records[0];
    assert_eq!((record.key.as_str(), record.result), (USER_EXPORT_KEY, RecordResult::Plan));
    assert_eq!(record.version, "3HL4kqtJlcpXroDTDmjVBH40Nrjfkd");
    let sha = record.plan_sha256.clone().unwrap();
    assert_eq!(sha.len(), 64);
    for file in ["plan.csv", "issues.csv", "summary.json", "report.html"] {
        assert!(h.exists(&format!("reports/users/acme-q4/{file}")).await, "{file} was not written");
    }
    let stored: serde_json::Value =
        serde_json::from_slice(&h.objects.folder.get("reports/users/acme-q4/summary.json").await.unwrap()).unwrap();
    assert_eq!(stored["plan_sha256"], sha.as_str());
    assert_eq!(stored["rows"], 3);
    // The answer stays small: no rows, no addresses.
    let answer = serde_json::to_string(&summary).unwrap();
    assert!(!answer.contains('@'), "{answer}");
    assert_eq!(serde_json::to_value(&summary).unwrap()["records"][0]["result"], "plan");
}

#[tokio::test]
async fn a_redelivered_event_is_already_processed_and_mails_nothing_again() {
    let h = Harness::new();
    h.upload(BUILDINGS_KEY, BUILDINGS).await;

    let first = h.deliver(event(BUILDINGS_EVENT)).await.unwrap();
    assert_eq!((first.records[0].key.as_str(), first.records[0].result), (BUILDINGS_KEY, RecordResult::Buildings));
    assert_eq!((h.sends(), h.outbox_files()), (1, 1), "one kickstart for the one building");

    let second = h.deliver(event(BUILDINGS_EVENT)).await.unwrap();
    assert_eq!(second.records[0].result, RecordResult::AlreadyProcessed);
    assert_eq!((h.sends(), h.outbox_files()), (1, 1), "no second kickstart");
}

#[tokio::test]
async fn the_environment_sender_is_the_from_of_kickstart_mails() {
    let mut h = Harness::new();
    let env = [("BUCKET", "b"), ("TABLE", "t"), ("SENDER_ADDRESS", "Tenant Onboarding <kickstart@tenant.example>")];
    h.overrides =
        Deployment::from_lookup(|name| env.iter().find(|(n, _)| *n == name).map(|(_, v)| v.to_string()), false).unwrap().overrides;
    h.upload(BUILDINGS_KEY, BUILDINGS).await;

    let summary = h.deliver(event(BUILDINGS_EVENT)).await.unwrap();
    assert_eq!(summary.records[0].result, RecordResult::Buildings);

    let message = h.outbox_message("kickstart");
    let from = header(&message, "From").unwrap_or_else(|| panic!("no From in\n{message}"));
    let from = Mailbox::parse(&from).unwrap_or_else(|| panic!("From “{from}” does not parse"));
    assert_eq!((from.name.as_str(), from.email.as_str()), ("Tenant Onboarding", "kickstart@tenant.example"), "not settings.json's sender");
}

#[tokio::test]
async fn a_failing_adapter_fails_the_invocation_and_lambdas_retry_resumes_at_once() {
    let h = Harness::new();
    h.upload(USER_EXPORT_KEY, USER_EXPORT).await;
    h.objects.failures.store(1, Ordering::SeqCst);

    let error = h.deliver(event(USER_EXPORT_EVENT)).await.unwrap_err();
    assert!(matches!(error, IngestError::Port { source: PortError::Throttled(_), .. }), "{error:?}");
    assert_eq!(lambda_runtime::Diagnostic::from(error).error_type, "Throttled");
    assert!(!h.exists("reports/users/acme-q4/plan.csv").await);

    // The failed run gave its claim back, so Lambda's own retry a minute later, well within the
    // lease, processes the upload.
    h.clock.advance(Duration::minutes(1));
    let resumed = h.deliver(event(USER_EXPORT_EVENT)).await.unwrap();
    assert_eq!(resumed.records[0].result, RecordResult::Plan);
    assert!(h.exists("reports/users/acme-q4/plan.csv").await);

    let again = h.deliver(event(USER_EXPORT_EVENT)).await.unwrap();
    assert_eq!(again.records[0].result, RecordResult::AlreadyProcessed);
}

#[tokio::test]
async fn work_outlasting_the_invocation_stops_at_its_deadline_and_the_retry_resumes() {
    let h = Harness::new();
    h.upload(USER_EXPORT_KEY, USER_EXPORT).await;
    // Reading the export takes longer than the invocation has left.
    h.objects.delay_ms.store(5_000, Ordering::SeqCst);
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_millis(50);
    let started = std::time::Instant::now();
    let error = handle(h.svc(), &h.overrides, event(USER_EXPORT_EVENT), deadline).await.unwrap_err();
    assert!(started.elapsed() < std::time::Duration::from_secs(4), "the run was not stopped at the deadline");
    assert!(matches!(error, IngestError::OutOfTime { .. }), "{error:?}");
    assert!(error.to_string().contains("resumes"), "{error}");
    assert_eq!(lambda_runtime::Diagnostic::from(error).error_type, "OutOfTime");
    assert!(!h.exists("reports/users/acme-q4/plan.csv").await);

    // The claim was given back: Lambda's retry a minute later, well within the lease, does the work.
    h.objects.delay_ms.store(0, Ordering::SeqCst);
    h.clock.advance(Duration::minutes(1));
    let resumed = h.deliver(event(USER_EXPORT_EVENT)).await.unwrap();
    assert_eq!(resumed.records[0].result, RecordResult::Plan);
    assert!(h.exists("reports/users/acme-q4/plan.csv").await);
}

#[tokio::test]
async fn a_delivery_while_another_holds_the_claim_fails_so_lambda_retries_it() {
    let h = Harness::new();
    h.upload(USER_EXPORT_KEY, USER_EXPORT).await;
    // A concurrent delivery of the same event has claimed the object version (and then dies).
    let version = object_version(&event(USER_EXPORT_EVENT).records[0]);
    h.table.claim_event(&onboarding::app::route::event_key(USER_EXPORT_KEY, &version), h.clock.now(), EVENT_LEASE_SECONDS).await.unwrap();

    let error = h.deliver(event(USER_EXPORT_EVENT)).await.unwrap_err();
    assert!(matches!(error, IngestError::InProgress { .. }), "{error:?}");
    assert_eq!(lambda_runtime::Diagnostic::from(error).error_type, "UploadInProgress");
    assert!(!h.exists("reports/users/acme-q4/plan.csv").await, "answered as a failure, not dropped as a success");

    // The holder never finishes: once its lease has run out, a delivery (a retry or a redrive)
    // takes over.
    h.clock.advance(Duration::seconds(EVENT_LEASE_SECONDS + 1));
    let resumed = h.deliver(event(USER_EXPORT_EVENT)).await.unwrap();
    assert_eq!(resumed.records[0].result, RecordResult::Plan);
}

#[tokio::test]
async fn records_are_handled_one_by_one_and_refusals_are_answers() {
    let h = Harness::new();
    h.upload(USER_EXPORT_KEY, USER_EXPORT).await;
    let mut value: serde_json::Value = serde_json::from_str(USER_EXPORT_EVENT).unwrap();
    let template = value["Records"][0].clone();
    let record = |name: &str, key: &str| {
        let mut record = template.clone();
        record["eventName"] = serde_json::json!(name);
        record["s3"]["object"]["key"] = serde_json::json!(key);
        record
    };
    value["Records"] = serde_json::json!([
        record("ObjectRemoved:Delete", "inbox/users/acme-q4/old.csv"),
        record("ObjectCreated:Put", "inbox/other/Notes+%28draft%29.csv"),
        record("ObjectCreated:Copy", "reports/users/acme-q4/plan.csv"),
        template,
    ]);
    let event: S3Event = serde_json::from_value(value).unwrap();

    let summary = h.deliver(event).await.unwrap();

    let results: Vec<&str> = summary.records.iter().map(|r| r.result.as_str()).collect();
    assert_eq!(results, ["skipped", "rejected", "ignored", "plan"]);
    let rejected = &summary.records[1];
    assert_eq!(rejected.key, "inbox/other/Notes (draft).csv");
    assert_eq!(rejected.code.map(|c| c.as_str()), Some("unknown_location"));
    let report = rejected.report.clone().unwrap();
    assert!(report.starts_with("quarantine/"), "{report}");
    let reason: serde_json::Value = serde_json::from_slice(&h.objects.folder.get(&report).await.unwrap()).unwrap();
    assert_eq!(reason["code"], "unknown_location");
    assert!(h.exists("reports/users/acme-q4/plan.csv").await);

    // The metric lines main writes to the log: the refusal by flow and code (and in the alarm's
    // total), the plan's rows and one plan ready; the skipped and ignored records count nothing.
    let at = time::macros::datetime!(2026-11-23 09:00 UTC);
    let lines: Vec<serde_json::Value> = summary.metrics.iter().map(|m| serde_json::from_str(&m.to_emf(at)).unwrap()).collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert_eq!(
        (lines[0]["Flow"].as_str(), lines[0]["Code"].as_str(), lines[0]["FilesRefused"].as_f64()),
        (Some("other"), Some("unknown_location"), Some(1.0))
    );
    assert_eq!((lines[1]["Function"].as_str(), lines[1]["FilesRefused"].as_f64()), (Some("ingest"), Some(1.0)));
    assert_eq!(
        (lines[2]["Flow"].as_str(), lines[2]["RowsProcessed"].as_f64(), lines[2]["PlansReady"].as_f64()),
        (Some("users"), Some(3.0), Some(1.0))
    );
    for line in &lines {
        assert_eq!(line["_aws"]["CloudWatchMetrics"][0]["Namespace"], "VisitorOnboarding");
        assert!(!line.to_string().contains('@'));
    }
}
