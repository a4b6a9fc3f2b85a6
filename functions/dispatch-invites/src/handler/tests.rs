//! The handler over the embedded adapters: a migration planned, approved for tomorrow and
//! applied through the upload flow, then the schedule's event.

use super::*;
use onboarding::domain::config::{ConfigOverrides, Mailbox};
use onboarding::domain::invite::Invite;
use onboarding::domain::mail::OutgoingMail;
use onboarding::domain::values::Email;
use onboarding::ports::Mailer;
use onboarding::ports::{InviteTable, ObjectStore};
use onboarding::test_support::Harness;
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use time::macros::datetime;

const SCHEDULED_EVENT: &str = include_str!("../../fixtures/eventbridge-scheduled-event.json");
const MIGRATION: &str = "acme-q4";

/// Where settings.json, role-guide.csv, role-matrix.csv, buildings.csv and user-export.csv are.
const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures");

/// The invites handed to the mailer, repeats included.
fn sent_invites(h: &Harness) -> Vec<OutgoingMail> {
    h.mailer.sent_with_key("invite#")
}

/// The schedule's event, with `remaining` before the invocation's deadline, handled.
async fn run(h: &Harness, overrides: &ConfigOverrides, remaining: Duration) -> DispatchOutcome {
    handle(h.svc(), overrides, event(remaining)).await.unwrap()
}

/// Config, one building and a user export planned and approved with invites due tomorrow,
/// 2026-11-24: three users to create and invite, one inactive.
async fn approved_for_tomorrow() -> Harness {
    let h = Harness::open(datetime!(2026-11-23 16:00 UTC));
    let applied = h.apply_migration(Path::new(FIXTURES), MIGRATION, Some("2026-11-24")).await;
    let plan = &applied.plan;
    assert_eq!(plan.actions.get("create_and_invite"), Some(&3), "{plan:?}");
    assert_eq!((applied.apply.invites_queued, applied.dispatch.sent), (3, 0), "nothing is due before the invite date");
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

    let early = run(&h, &deployment, Duration::from_secs(14 * 60)).await;
    assert_eq!((early.sent, early.stopped.clone()), (0, None), "not due on the 23rd");

    h.clock.set(datetime!(2026-11-24 09:15 UTC));
    let first = run(&h, &deployment, Duration::from_secs(14 * 60)).await;
    assert_eq!(first, DispatchOutcome { sent: 3, ..DispatchOutcome::default() });
    assert_eq!((sent_invites(&h).len(), h.outbox_files("invite")), (3, 3));
    // What main writes to the log for the run: three sent, none failed, not paused.
    let lines = onboarding::app::metrics::dispatched(&first);
    let line: serde_json::Value = serde_json::from_str(&lines[0].to_emf(datetime!(2026-11-24 09:15 UTC))).unwrap();
    assert_eq!(
        (line["Flow"].as_str(), line["InvitesSent"].as_f64(), line["InvitesFailed"].as_f64()),
        (Some("invites"), Some(3.0), Some(0.0))
    );
    assert_eq!((line["InvitesPaused"].as_f64(), lines.len()), (Some(0.0), 1), "no SendingPaused line when not paused");

    let second = run(&h, &deployment, Duration::from_secs(14 * 60)).await;
    assert_eq!(second, DispatchOutcome::default(), "nothing left to send");
    assert_eq!((sent_invites(&h).len(), h.outbox_files("invite")), (3, 3), "no invite went out twice");
    for invite in h.table.list_invites(&onboarding::domain::values::MigrationId::parse(MIGRATION).unwrap()).await.unwrap() {
        assert_eq!(invite.status, onboarding::domain::invite::MailStatus::Sent, "{invite:?}");
    }
}

#[tokio::test]
async fn the_deployment_sender_and_link_are_used() {
    let h = approved_for_tomorrow().await;
    h.clock.set(datetime!(2026-11-24 09:15 UTC));
    run(&h, &overrides(), Duration::from_secs(14 * 60)).await;

    let invites = sent_invites(&h);
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

    let late = run(&h, &overrides(), SAFETY_MARGIN - Duration::from_secs(20)).await;
    assert_eq!(late.sent, 0);
    assert!(late.stopped.as_deref().unwrap_or_default().contains("time limit"), "{late:?}");
    assert_eq!(h.outbox_files("invite"), 0);

    let next = run(&h, &overrides(), Duration::from_secs(14 * 60)).await;
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
    assert!(matches!(error.cause, AppError::Rejected(_)), "{error:?}");
    let diagnostic = lambda_runtime::Diagnostic::from(error);
    assert_eq!(diagnostic.error_type, "InvalidConfig");
    assert!(diagnostic.error_message.contains("max_send_rate_per_second"), "{}", diagnostic.error_message);
    assert_eq!(h.outbox_files("invite"), 0);
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

/// A mailer like SES as the function meets it: each message takes `latency` (of the test's
/// paused clock), the account's rate is the settings' default of 10 a second, and a repeat would
/// be a second message.
/// Each send moves the test clock by `tick`; it records when sends start and how many overlap.
struct SlowMailer<'a> {
    h: &'a Harness,
    latency: Duration,
    tick: time::Duration,
    starts: std::sync::Mutex<Vec<tokio::time::Instant>>,
    in_flight: AtomicUsize,
    most_in_flight: AtomicUsize,
}

const SLOW_RATE: f64 = 10.0;

impl<'a> SlowMailer<'a> {
    fn new(h: &'a Harness, latency: Duration, tick: time::Duration) -> Self {
        let (starts, in_flight, most_in_flight) = (Default::default(), AtomicUsize::new(0), AtomicUsize::new(0));
        Self { h, latency, tick, starts, in_flight, most_in_flight }
    }

    /// The shortest time between two sends' starts.
    fn closest_starts(&self) -> Duration {
        let starts = self.starts.lock().unwrap();
        starts.windows(2).map(|w| w[1] - w[0]).min().unwrap_or(Duration::MAX)
    }
}

#[async_trait::async_trait]
impl Mailer for SlowMailer<'_> {
    async fn send(&self, mail: &OutgoingMail) -> onboarding::ports::PortResult<String> {
        self.starts.lock().unwrap().push(tokio::time::Instant::now());
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.most_in_flight.fetch_max(now, Ordering::SeqCst);
        tokio::time::sleep(self.latency).await;
        self.h.clock.advance(self.tick);
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        self.h.mailer.send(mail).await
    }
    async fn max_send_rate(&self) -> onboarding::ports::PortResult<f64> {
        Ok(SLOW_RATE)
    }
}

/// The migration's three invites and `more` others, all due on 2026-11-24.
async fn many_due(more: usize) -> (Harness, usize) {
    let h = approved_for_tomorrow().await;
    let migration = onboarding::domain::values::MigrationId::parse(MIGRATION).unwrap();
    let model = h.table.list_invites(&migration).await.unwrap().remove(0);
    let others: Vec<_> =
        (0..more).map(|i| Invite { email: Email::parse(&format!("person{i}@acme.example")).unwrap(), ..model.clone() }).collect();
    h.table.queue_invites(&others).await.unwrap();
    h.clock.set(datetime!(2026-11-24 09:15 UTC));
    (h, 3 + more)
}

/// Every invite's status, counted.
async fn statuses(h: &Harness) -> HashMap<String, usize> {
    let migration = onboarding::domain::values::MigrationId::parse(MIGRATION).unwrap();
    let mut counts = HashMap::new();
    for invite in h.table.list_invites(&migration).await.unwrap() {
        *counts.entry(format!("{:?}", invite.status)).or_default() += 1;
    }
    counts
}

/// Each invite key handed to the mailer once.
fn each_sent_once(h: &Harness) -> usize {
    let keys: Vec<String> = sent_invites(h).into_iter().map(|m| m.key).collect();
    let distinct: std::collections::HashSet<&String> = keys.iter().collect();
    assert_eq!(distinct.len(), keys.len(), "an invite went out twice");
    keys.len()
}

#[tokio::test(start_paused = true)]
async fn slow_sends_overlap_and_still_start_no_faster_than_the_rate() {
    let (h, total) = many_due(57).await;
    let slow = SlowMailer::new(&h, Duration::from_millis(800), time::Duration::ZERO);
    let svc = Services { mailer: &slow, ..h.svc() };
    let began = tokio::time::Instant::now();
    let outcome = handle(svc, &overrides(), event(Duration::from_secs(14 * 60))).await.unwrap();
    let took = began.elapsed();

    assert_eq!((outcome.sent, outcome.stopped), (total as u64, None));
    assert_eq!(each_sent_once(&h), total);
    let gap = Duration::from_secs_f64(1.0 / SLOW_RATE);
    assert!(slow.closest_starts() >= gap, "two sends started {:?} apart; the rate allows one every {gap:?}", slow.closest_starts());
    // 800 ms a send at one every 100 ms: eight at once keep the rate; one at a time would take 48 s.
    let most = slow.most_in_flight.load(Ordering::SeqCst);
    assert!((8..=SENDS_IN_FLIGHT).contains(&most), "{most} sends in flight at most");
    assert!(took <= gap * total as u32 + Duration::from_secs(1), "{total} invites took {took:?}");
}

#[tokio::test(start_paused = true)]
async fn a_deadline_reached_mid_run_records_the_sends_in_flight_and_leaves_the_rest_due() {
    let (h, total) = many_due(57).await;
    // Each send moves the function's clock by a second: 20 s before the deadline, twenty have
    // finished, and the four started meanwhile are still in flight.
    let slow = SlowMailer::new(&h, Duration::from_millis(400), time::Duration::seconds(1));
    let svc = Services { mailer: &slow, ..h.svc() };
    let first = handle(svc, &overrides(), event(SAFETY_MARGIN + Duration::from_secs(20))).await.unwrap();
    assert!(first.stopped.as_deref().unwrap_or_default().contains("time limit"), "{first:?}");
    let sent = first.sent as usize;
    assert!((20..total).contains(&sent), "{first:?}");
    assert!(sent > 20, "the sends in flight at the deadline were recorded too: {first:?}");
    let counts = statuses(&h).await;
    assert_eq!(counts.get("Sent"), Some(&sent), "every send is recorded: {counts:?}");
    assert_eq!(counts.get("Pending"), Some(&(total - sent)), "the rest stay due: {counts:?}");
    assert_eq!(each_sent_once(&h), sent);

    let rest = handle(svc, &overrides(), event(Duration::from_secs(14 * 60))).await.unwrap();
    assert_eq!((rest.sent as usize, rest.stopped), (total - sent, None));
    assert_eq!(each_sent_once(&h), total);
}

/// The schedule's event, with `remaining` before the invocation's deadline.
fn event(remaining: Duration) -> LambdaEvent<serde_json::Value> {
    let mut context = Context::default();
    context.deadline = (SystemTime::now() + remaining).duration_since(SystemTime::UNIX_EPOCH).unwrap().as_millis() as u64;
    LambdaEvent::new(serde_json::from_str(SCHEDULED_EVENT).unwrap(), context)
}
