//! The harness every scenario runs on: ports, a clock the test moves, a mailer that counts.

use async_trait::async_trait;
use onboarding::app::route::{handle_upload, UploadOutcome};
use onboarding::app::{NoProgress, Services};
use onboarding::domain::mail::OutgoingMail;
use onboarding::ports::{Clock, Mailer, ObjectStore, PortError, PortResult, Table};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use time::OffsetDateTime;

pub const ONE_MARKET: &str = "3f2b8c1e-0d4a-4c8e-9a51-2f6d7e8b9c10";
pub const HARBOR_VIEW: &str = "9d1c3b5a-1111-4222-8333-444455556666";
/// How many invites an invite page holds in the flows (a million-user migration's are 1,000).
pub const INVITE_PAGE: usize = 2;
pub const BUILDINGS_CSV: &[u8] = include_bytes!("../../infra/examples/buildings.csv");

pub struct TestClock(Mutex<OffsetDateTime>);

impl TestClock {
    pub fn set(&self, now: OffsetDateTime) {
        *self.0.lock().unwrap() = now;
    }

    pub fn advance_days(&self, days: i64) {
        let mut now = self.0.lock().unwrap();
        *now += time::Duration::days(days);
    }

    pub fn advance_minutes(&self, minutes: i64) {
        let mut now = self.0.lock().unwrap();
        *now += time::Duration::minutes(minutes);
    }
}

impl Clock for TestClock {
    fn now(&self) -> OffsetDateTime {
        *self.0.lock().unwrap()
    }
}

/// Wraps the real mailer and counts, per message key, every e-mail that went out. A mailer
/// that deduplicates by key (the outbox) delivers a repeated key once: such repeats are counted
/// apart (`repeats`), since they are what "deduplicates" promises, not a second e-mail.
pub struct CountingMailer {
    inner: Box<dyn Mailer>,
    sends: Mutex<HashMap<String, u32>>,
    repeats: Mutex<HashMap<String, u32>>,
    /// When set, sends fail the way a paused SES account answers (with `pause_cause`).
    pub paused: AtomicBool,
    pub pause_cause: Mutex<onboarding::domain::sending::PauseCause>,
    /// The next this many sends end with no answer (outcome unknown; nothing delivered).
    pub unconfirmed_next: AtomicU64,
    /// Fail (as a transient error) after this many successful sends; 0 = never.
    pub fail_after: AtomicU64,
    sent_ok: AtomicU64,
    /// The error text of injected failures.
    fail_message: Mutex<String>,
    /// Each key's message as RFC 5322 bytes, rendered as SES receives it, and its HTML part.
    raw: Mutex<HashMap<String, (Vec<u8>, String)>>,
}

impl CountingMailer {
    pub fn new(inner: Box<dyn Mailer>) -> Self {
        Self {
            inner,
            sends: Mutex::default(),
            repeats: Mutex::default(),
            paused: AtomicBool::new(false),
            pause_cause: Mutex::new(onboarding::domain::sending::PauseCause::SendingPaused),
            unconfirmed_next: AtomicU64::new(0),
            fail_after: AtomicU64::new(0),
            sent_ok: AtomicU64::new(0),
            fail_message: Mutex::new("test: injected mail failure".into()),
            raw: Mutex::default(),
        }
    }

    /// From now on, fail (as a transient error) once `more` further sends have succeeded.
    pub fn fail_after_more(&self, more: u64) {
        self.fail_after.store(self.sent_ok.load(Ordering::SeqCst) + more, Ordering::SeqCst);
    }

    pub fn sent_to_kind(&self, kind: &str) -> u32 {
        self.sends.lock().unwrap().iter().filter(|(k, _)| k.starts_with(kind)).map(|(_, n)| n).sum()
    }

    /// Injected failures say `message` (a real service's error text, say).
    pub fn fail_with(&self, message: &str) {
        *self.fail_message.lock().unwrap() = message.to_string();
    }

    /// Every message that went out, as the RFC 5322 bytes the mail service is given.
    pub fn raw_messages(&self) -> HashMap<String, (Vec<u8>, String)> {
        self.raw.lock().unwrap().clone()
    }

    /// Every key sent, with how many times it went out.
    pub fn sent(&self) -> HashMap<String, u32> {
        self.sends.lock().unwrap().clone()
    }

    /// Keys handed again to a deduplicating mailer (which delivered them once).
    pub fn repeats(&self) -> u32 {
        self.repeats.lock().unwrap().values().sum()
    }

    /// Panics if any message key was sent more than once.
    pub fn assert_each_sent_once(&self) {
        let sends = self.sends.lock().unwrap();
        let twice: Vec<_> = sends.iter().filter(|(_, n)| **n > 1).collect();
        assert!(twice.is_empty(), "sent more than once: {twice:?}");
    }
}

#[async_trait]
impl Mailer for CountingMailer {
    async fn send(&self, mail: &OutgoingMail) -> PortResult<String> {
        if self.paused.load(Ordering::SeqCst) {
            let pause =
                onboarding::domain::sending::SendingPause::new(*self.pause_cause.lock().unwrap(), "test: the account refuses to send");
            return Err(PortError::SendingPaused(pause));
        }
        if self.unconfirmed_next.load(Ordering::SeqCst) > 0 {
            // The request "left" and no answer came: here nothing was delivered.
            self.unconfirmed_next.fetch_sub(1, Ordering::SeqCst);
            return Err(PortError::Unconfirmed("test: connection reset after the request left".into()));
        }
        let limit = self.fail_after.load(Ordering::SeqCst);
        if limit > 0 && self.sent_ok.load(Ordering::SeqCst) >= limit {
            return Err(PortError::Throttled(self.fail_message.lock().unwrap().clone()));
        }
        let id = self.inner.send(mail).await?;
        self.sent_ok.fetch_add(1, Ordering::SeqCst);
        self.raw.lock().unwrap().insert(mail.key.clone(), (mail.to_rfc5322(&id, 1_700_000_000), mail.html.clone()));
        let mut sends = self.sends.lock().unwrap();
        if self.inner.deduplicates() && sends.contains_key(&mail.key) {
            *self.repeats.lock().unwrap().entry(mail.key.clone()).or_default() += 1;
        } else {
            *sends.entry(mail.key.clone()).or_default() += 1;
        }
        Ok(id)
    }

    async fn max_send_rate(&self) -> PortResult<f64> {
        Ok(1000.0)
    }

    /// The outbox answers like SES's mailbox simulator; moto has no suppression list
    /// (GetSuppressedDestination), so on the emulator the simulator's address is answered here.
    async fn suppressed(&self, email: &onboarding::domain::values::Email) -> PortResult<Option<String>> {
        if self.inner.deduplicates() {
            return self.inner.suppressed(email).await;
        }
        let simulator = onboarding::adapters::embedded::SIMULATOR_SUPPRESSED;
        Ok((email.as_str() == simulator).then(|| "on the suppression list (mailbox simulator)".to_string()))
    }

    fn deduplicates(&self) -> bool {
        self.inner.deduplicates()
    }
}

pub struct Harness {
    pub objects: Box<dyn ObjectStore>,
    pub table: Box<dyn Table>,
    pub mailer: CountingMailer,
    pub clock: TestClock,
    pub emulated: bool,
    /// The outbox folder of the embedded mailer (`None` on the emulator).
    pub outbox: Option<std::path::PathBuf>,
    _dir: Option<tempfile::TempDir>,
}

fn start_time() -> OffsetDateTime {
    time::macros::datetime!(2026-11-23 09:00 UTC)
}

impl Harness {
    pub fn embedded() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut state = onboarding::adapters::embedded::EmbeddedState::open(dir.path()).unwrap();
        // Invite pages of a few invites: the flows go over several pages with a handful.
        state.table.set_invite_page(INVITE_PAGE);
        let outbox = Some(state.mailer.dir().to_path_buf());
        Self {
            outbox,
            objects: Box::new(state.objects),
            table: Box::new(state.table),
            mailer: CountingMailer::new(Box::new(state.mailer)),
            clock: TestClock(Mutex::new(start_time())),
            emulated: false,
            _dir: Some(dir),
        }
    }

    pub async fn emulator() -> Self {
        let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap_or_default();
        assert!(
            !endpoint.is_empty(),
            "The emulator tests need an AWS emulator: run the whole suite with `bash infra/test.sh` (it starts moto on a free port and sets AWS_ENDPOINT_URL)."
        );
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let unique = format!(
            "{}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst),
            OffsetDateTime::now_utc().unix_timestamp_nanos() % 1_000_000
        );
        let bucket = format!("onboard-test-{unique}");
        let table = format!("onboard-test-{unique}");
        let aws = onboarding::adapters::aws::AwsState::from_env(bucket, table).await;
        if let Err(e) = aws.objects.ensure_bucket().await {
            panic!("cannot reach the AWS emulator at {endpoint}: {e}. Start it with `bash infra/test.sh`.");
        }
        aws.table.ensure_table().await.unwrap();
        aws.mailer.ensure_identity("example.com").await.unwrap();
        Self {
            objects: Box::new(aws.objects),
            table: Box::new(aws.table.with_invite_page(INVITE_PAGE)),
            mailer: CountingMailer::new(Box::new(aws.mailer)),
            clock: TestClock(Mutex::new(start_time())),
            emulated: true,
            outbox: None,
            _dir: None,
        }
    }

    /// A new, empty harness of the same kind (embedded or emulator).
    pub async fn fresh(&self) -> Harness {
        if self.emulated {
            Harness::emulator().await
        } else {
            Harness::embedded()
        }
    }

    /// The `.eml` files in the outbox (embedded only), by kind: `invite`, `kickstart`, ...
    pub fn outbox_files(&self, kind: &str) -> usize {
        let Some(dir) = &self.outbox else { return 0 };
        std::fs::read_dir(dir)
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| {
                e.file_name().to_string_lossy().starts_with(&format!("{kind}-")) && e.file_name().to_string_lossy().ends_with(".eml")
            })
            .count()
    }

    pub fn clock_now(&self) -> OffsetDateTime {
        self.clock.now()
    }

    pub fn svc(&self) -> Services<'_> {
        Services {
            objects: self.objects.as_ref(),
            table: self.table.as_ref(),
            mailer: &self.mailer,
            clock: &self.clock,
            progress: &NoProgress,
            queue: None,
        }
    }

    /// Services over another table (a fault-injecting wrapper, say).
    pub fn svc_with<'a>(&'a self, table: &'a dyn Table) -> Services<'a> {
        Services { table, ..self.svc() }
    }

    pub async fn load_example_config(&self) {
        onboarding::app::config::store_config(
            self.objects.as_ref(),
            Some(include_bytes!("../../infra/examples/config/settings.json").to_vec()),
            Some(include_bytes!("../../infra/examples/config/role-guide.csv").to_vec()),
            Some(include_bytes!("../../infra/examples/config/role-matrix.csv").to_vec()),
        )
        .await
        .unwrap();
    }

    pub async fn config(&self) -> onboarding::domain::config::Config {
        onboarding::app::config::load_config(self.objects.as_ref()).await.unwrap()
    }

    /// Stores an object and handles it as S3 would announce it (version = content hash).
    pub async fn upload(&self, key: &str, bytes: &[u8]) -> UploadOutcome {
        self.objects.put(key, bytes.to_vec(), "application/octet-stream").await.unwrap();
        self.deliver(key, bytes).await
    }

    /// Delivers the event of an already stored object again.
    pub async fn deliver(&self, key: &str, bytes: &[u8]) -> UploadOutcome {
        handle_upload(self.svc(), key, &version_of(bytes)).await.unwrap()
    }

    /// Takes a building live (forced: whether it has contacts yet is not the point of the test).
    pub async fn go_live(&self, id: &str) {
        onboarding::app::buildings::set_phase(self.svc(), &building(id), onboarding::domain::building::Phase::Live, true).await.unwrap();
    }

    pub async fn with_buildings(&self) {
        self.load_example_config().await;
        match self.upload("inbox/buildings/buildings.csv", BUILDINGS_CSV).await {
            UploadOutcome::Buildings(outcome) => assert_eq!(outcome.accepted, 2),
            other => panic!("unexpected {other:?}"),
        }
    }
}

pub fn building(id: &str) -> onboarding::domain::values::BuildingId {
    onboarding::domain::values::BuildingId::parse(id).unwrap()
}

pub fn email(raw: &str) -> onboarding::domain::values::Email {
    onboarding::domain::values::Email::parse(raw).unwrap()
}

pub fn utf16le(text: &str) -> Vec<u8> {
    let mut out = vec![0xFF, 0xFE];
    for unit in text.encode_utf16() {
        out.extend_from_slice(&unit.to_le_bytes());
    }
    out
}

/// The version S3 would give an object (here a content hash, like an ETag).
pub fn version_of(bytes: &[u8]) -> String {
    format!("{:x}", bytes.iter().fold(0xcbf29ce484222325u64, |h, b| (h ^ *b as u64).wrapping_mul(0x100000001b3)))
}

/// The version an S3 event announces for an object put in one part in an unversioned bucket:
/// its ETag, the MD5 of its bytes.
pub fn etag_of(bytes: &[u8]) -> onboarding::ports::ObjectVersion {
    use md5::Digest;
    onboarding::ports::ObjectVersion::ETag(hex::encode(md5::Md5::digest(bytes)))
}
