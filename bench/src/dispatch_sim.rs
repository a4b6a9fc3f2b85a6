//! Dispatch across scheduled runs on a simulated clock: how much of the mail service's quota
//! the invites get.
//!
//! The real `dispatch_paced` runs over the embedded table, on tokio's paused clock: waiting
//! costs no real time, and CPU work costs no simulated time. Runs start every 15 minutes (the
//! template's schedule), each with the function's margin and sends in flight, after a simulated
//! start-up. The simulated mail service takes a fixed time a message (its call plus the ledger
//! calls around it, which the embedded table answers at once) and holds the account's quota as
//! a token bucket of one second's sends: a send beyond it is throttled, as SES throttles, and
//! that stops the run.

use onboarding::adapters::embedded::EmbeddedState;
use onboarding::app::config::parse_config;
use onboarding::app::dispatch::{dispatch_paced, Pace, MAX_INVITES_PER_RUN, SAFETY_MARGIN, SENDS_IN_FLIGHT};
use onboarding::app::{NoProgress, Services};
use onboarding::domain::invite::{Invite, MailStatus};
use onboarding::domain::mail::OutgoingMail;
use onboarding::domain::values::{Email, MigrationId};
use onboarding::ports::{Clock, InviteTable, Mailer, PortError, PortResult};
use std::collections::HashSet;
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;
use time::OffsetDateTime;
use tokio::time::Instant;

/// The template's schedule: `rate(15 minutes)`.
pub const SCHEDULE: Duration = Duration::from_secs(15 * 60);
/// Lambda's longest invocation, the function's timeout.
const INVOCATION: Duration = Duration::from_secs(15 * 60);

pub struct DispatchSpec {
    /// The account's quota, messages a second.
    pub quota: f64,
    /// Scheduled runs simulated.
    pub runs: u32,
    /// One message's time: the mail service's answer and the ledger calls around it.
    pub send: Duration,
    /// From the schedule's event to the first send: a cold start, the configuration's reads,
    /// the quota's.
    pub start_up: Duration,
}

pub struct DispatchRun {
    pub sent: u64,
    pub throttled: u64,
    pub repeats: u64,
    /// Simulated time from the first run's event to the end of the last schedule period.
    pub window: Duration,
    pub most_in_flight: usize,
    pub wall: Duration,
}

impl DispatchRun {
    /// Sent messages over what the quota allows in the window.
    pub fn share(&self, quota: f64) -> f64 {
        self.sent as f64 / (quota * self.window.as_secs_f64())
    }
}

/// The clock the use case reads: a fixed day plus the paused runtime's elapsed time.
struct SimClock {
    base: OffsetDateTime,
    start: Instant,
}

impl Clock for SimClock {
    fn now(&self) -> OffsetDateTime {
        self.base + self.start.elapsed()
    }
}

/// The mail service: a fixed time a message, and the quota as a token bucket.
struct SimMail {
    quota: f64,
    latency: Duration,
    state: Mutex<MailState>,
}

struct MailState {
    tokens: f64,
    at: Instant,
    sent: u64,
    throttled: u64,
    keys: HashSet<String>,
    repeats: u64,
    in_flight: usize,
    most_in_flight: usize,
}

#[async_trait::async_trait]
impl Mailer for SimMail {
    async fn send(&self, mail: &OutgoingMail) -> PortResult<String> {
        self.enter(true);
        tokio::time::sleep(self.latency / 2).await;
        let accepted = {
            let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
            let now = Instant::now();
            s.tokens = (s.tokens + (now - s.at).as_secs_f64() * self.quota).min(self.quota);
            s.at = now;
            if s.tokens >= 1.0 {
                s.tokens -= 1.0;
                s.sent += 1;
                if !s.keys.insert(mail.key.clone()) {
                    s.repeats += 1;
                }
                true
            } else {
                s.throttled += 1;
                false
            }
        };
        tokio::time::sleep(self.latency / 2).await;
        self.enter(false);
        if accepted {
            Ok(format!("sim-{}", mail.key))
        } else {
            Err(PortError::Throttled("Maximum sending rate exceeded.".into()))
        }
    }

    async fn max_send_rate(&self) -> PortResult<f64> {
        Ok(self.quota)
    }
}

impl SimMail {
    fn enter(&self, entering: bool) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if entering {
            s.in_flight += 1;
            s.most_in_flight = s.most_in_flight.max(s.in_flight);
        } else {
            s.in_flight -= 1;
        }
    }
}

/// Queues more invites than the runs can send, then runs the schedule on a paused clock (in a
/// thread of its own: the caller's runtime is not paused).
pub fn simulated_dispatch(dir: &Path, spec: DispatchSpec) -> Result<DispatchRun, String> {
    let dir = dir.to_path_buf();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().map_err(|e| e.to_string())?;
        runtime.block_on(run(&dir, spec))
    })
    .join()
    .map_err(|_| "the simulation's thread panicked".to_string())?
}

async fn run(dir: &Path, spec: DispatchSpec) -> Result<DispatchRun, String> {
    let _ = std::fs::remove_dir_all(dir);
    let state = EmbeddedState::open(dir).map_err(|e| e.to_string())?;
    let settings = br#"{ "sender": "Visitor Onboarding <onboarding@example.com>", "max_send_rate_per_second": 100000 }"#;
    let config = parse_config(Some(settings.to_vec()), None, None).map_err(|e| e.to_string())?;
    let base = time::macros::datetime!(2026-11-24 09:00 UTC);
    let wanted = (spec.quota * (SCHEDULE.as_secs_f64() * f64::from(spec.runs)) * 1.05) as usize + 1_000;
    queue_invites(&state, wanted, base).await?;

    let clock = SimClock { base, start: Instant::now() };
    let mail = SimMail {
        quota: spec.quota,
        latency: spec.send,
        state: Mutex::new(MailState {
            tokens: spec.quota,
            at: Instant::now(),
            sent: 0,
            throttled: 0,
            keys: HashSet::new(),
            repeats: 0,
            in_flight: 0,
            most_in_flight: 0,
        }),
    };
    let svc = Services { objects: &state.objects, table: &state.table, mailer: &mail, clock: &clock, progress: &NoProgress, queue: None };
    let began = std::time::Instant::now();
    for run in 0..spec.runs {
        let event = clock.start + SCHEDULE * run;
        tokio::time::sleep_until(event).await;
        let deadline = clock.now() + INVOCATION - SAFETY_MARGIN;
        tokio::time::sleep(spec.start_up).await;
        let pace = Pace { limit: MAX_INVITES_PER_RUN, deadline: Some(deadline), in_flight: SENDS_IN_FLIGHT };
        let outcome = dispatch_paced(svc, &config, pace).await.map_err(|e| e.to_string())?;
        if clock.start.elapsed() > SCHEDULE * (run + 1) {
            return Err(format!("run {} outlived its invocation: {:?}", run + 1, clock.start.elapsed()));
        }
        eprintln!("  run {}: {} sent, stopped: {}", run + 1, outcome.sent, outcome.stopped.as_deref().unwrap_or("-"));
    }
    let s = mail.state.lock().unwrap_or_else(|p| p.into_inner());
    Ok(DispatchRun {
        sent: s.sent,
        throttled: s.throttled,
        repeats: s.repeats,
        window: SCHEDULE * spec.runs,
        most_in_flight: s.most_in_flight,
        wall: began.elapsed(),
    })
}

/// `count` invites of one migration, due at `due`.
async fn queue_invites(state: &EmbeddedState, count: usize, due: OffsetDateTime) -> Result<(), String> {
    let migration = MigrationId::parse("dispatch-sim").map_err(|e| e.to_string())?;
    let mut batch = Vec::with_capacity(1_000);
    for i in 0..count {
        batch.push(Invite {
            migration: migration.clone(),
            email: Email::parse(&format!("person{i}@example.com")).map_err(|e| e.to_string())?,
            first_name: "Ada".into(),
            building_names: vec!["One Market".into()],
            due: due.date(),
            status: MailStatus::Pending,
            message_id: None,
            error: None,
            attempts: 0,
            round: 0,
            send_at: Some(due),
            time_zone: None,
        });
        if batch.len() == 1_000 || i + 1 == count {
            state.table.queue_invites(&batch).await.map_err(|e| e.to_string())?;
            batch.clear();
        }
    }
    Ok(())
}
