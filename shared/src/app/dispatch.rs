//! Sends due invites, each exactly once, never faster than the mail service allows.

use super::buildings::send_kickstart;
use super::invites::current_invite_key;
use super::mailing::{current_pause, record_pause, send_once, SendOutcome};
use super::{AppError, AppResult, Services};
use crate::domain::building::Phase;
use crate::domain::config::Config;
use crate::domain::invite::{Invite, MailStatus, MAX_SEND_ATTEMPTS};
use crate::domain::mail;
use crate::domain::sending::SendingPause;
use crate::ports::PortError;
use futures_util::stream::{FuturesUnordered, StreamExt};
use futures_util::FutureExt;
use serde::Serialize;
use std::collections::{HashSet, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;
use tokio::time::Instant;

#[derive(Debug, Clone, Serialize, Default, PartialEq, Eq)]
pub struct DispatchOutcome {
    pub sent: u64,
    pub already_sent: u64,
    pub failed: u64,
    pub unconfirmed: u64,
    /// Being sent by another run at this moment: that run records them.
    pub in_progress: u64,
    pub retry_later: u64,
    /// Kickstart e-mails of buildings still at phase `new` (left by a paused or failed ingest).
    pub kickstarts_sent: u64,
    /// Upload notices parked while the mail service paused sending, sent now.
    pub notices_sent: u64,
    /// Why the run stopped before the queue was empty, if it did.
    pub stopped: Option<String>,
    /// The account-level refusal that stopped the run (nothing was marked failed), with its fix.
    pub paused: Option<SendingPause>,
}

/// Time a scheduled run (the dispatch function) keeps back from its invocation's deadline: no
/// send starts after it, so the sends in flight are recorded before Lambda stops the function.
/// Runs start every 15 minutes, so a run sends for 870 s of every 900 (96.7 %).
pub const SAFETY_MARGIN: Duration = Duration::from_secs(30);

/// Sends in flight at most in a scheduled run. They start one gap of the send rate apart, so
/// this bounds only how slow a send may be before the run falls behind the rate: 32 sends of
/// 100 ms keep 320 a second.
pub const SENDS_IN_FLIGHT: usize = 32;

/// At most this many invites per scheduled run. The time limit ends a run first below about 570
/// mails a second (14 a second for 14.5 minutes is about 12,200), so this bounds a run with an
/// unusual clock, and the memory of the invites a run has looked at.
pub const MAX_INVITES_PER_RUN: usize = 500_000;

/// How one dispatch run may go.
#[derive(Debug, Clone, Copy)]
pub struct Pace {
    /// At most this many invites are handled.
    pub limit: usize,
    /// No send starts at or after this moment (Lambda's remaining time less a margin).
    pub deadline: Option<time::OffsetDateTime>,
    /// Sends in flight at most. Sends start one gap of the send rate apart whatever this is, so
    /// more than one only matters when a send (its ledger calls and the service's answer)
    /// takes longer than the gap: then the next starts on time beside it.
    pub in_flight: usize,
}

/// Sends up to `limit` due invites one at a time, stopping early at `deadline`.
pub async fn dispatch_invites(
    svc: Services<'_>,
    config: &Config,
    limit: usize,
    deadline: Option<time::OffsetDateTime>,
) -> AppResult<DispatchOutcome> {
    dispatch_paced(svc, config, Pace { limit, deadline, in_flight: 1 }).await
}

/// Sends due invites at the mail service's rate (or the configured one, if lower), with up to
/// `pace.in_flight` sends at once. A reason to stop (a pause, throttling, a failing service, the
/// deadline) starts no further send; the sends already in flight finish and are recorded.
pub async fn dispatch_paced(svc: Services<'_>, config: &Config, pace: Pace) -> AppResult<DispatchOutcome> {
    let mut outcome = DispatchOutcome::default();
    if let Err(pause) = pending_kickstarts(svc, config, &mut outcome).await? {
        return paused(svc, outcome, pause).await;
    }
    if let Err(pause) = parked_notices(svc, &mut outcome).await? {
        return paused(svc, outcome, pause).await;
    }
    let service_rate = svc.mailer.max_send_rate().await.unwrap_or(1.0);
    let rate = service_rate.min(config.settings.max_send_rate_per_second).max(0.01);
    let gap = Duration::from_secs_f64(1.0 / rate);
    let in_flight = pace.in_flight.max(1);

    let mut run = Run { outcome, halt: None, failure: None, finished: 0 };
    let mut sends = FuturesUnordered::new();
    let mut queue: VecDeque<Invite> = VecDeque::new();
    // Invites another run is sending stay pending; they are looked at once per run.
    let mut looked_at = HashSet::new();
    // The next due invites, asked for while the last ones go out.
    let mut refill: Option<Pin<Box<dyn Future<Output = AppResult<Due>> + Send + '_>>> = None;
    let mut exhausted = false;
    let mut started = 0usize;
    let mut next_start = Instant::now();
    loop {
        while let Some(Some(done)) = sends.next().now_or_never() {
            run.absorb(svc, done);
        }
        let may_start = run.halt.is_none() && run.failure.is_none() && started < pace.limit;
        if !may_start {
            refill = None;
        } else if refill.is_none() && !exhausted && queue.len() <= in_flight {
            // The invites in flight or queued here are still due: ask for enough to find new
            // ones beside them.
            let wanted = pace.limit.saturating_sub(started + queue.len()).clamp(1, 100) + sends.len() + queue.len();
            refill = Some(Box::pin(next_due(svc, wanted)));
        }
        let slot = may_start && !queue.is_empty() && sends.len() < in_flight;
        if slot && pace.deadline.is_some_and(|d| svc.clock.now() >= d) {
            run.halt = Some(Halt::Stopped("time limit reached; the next run continues".into()));
            continue;
        }
        tokio::select! {
            biased;
            Some(done) = sends.next(), if !sends.is_empty() => run.absorb(svc, done),
            due = async {
                match refill.as_mut() {
                    Some(due) => due.await,
                    None => std::future::pending().await,
                }
            }, if refill.is_some() => {
                refill = None;
                match due {
                    Ok(Due::Invites(due, asked)) => {
                        let found = due.len();
                        let before = queue.len();
                        queue.extend(due.into_iter().filter(|i| looked_at.insert((i.migration.clone(), i.email.clone()))));
                        exhausted = found < asked || queue.len() == before;
                    }
                    Ok(Due::Paused(pause)) => run.halt = Some(Halt::PausedByFeedback(pause)),
                    Err(error) => run.failure = Some(error),
                }
            }
            _ = tokio::time::sleep_until(next_start), if slot => {
                if let Some(invite) = queue.pop_front() {
                    // On the rate's grid, so that timer rounding does not slow every send; a
                    // run held back longer than a gap starts the grid again (no burst).
                    let now = Instant::now();
                    next_start = if now <= next_start + gap { next_start + gap } else { now + gap };
                    started += 1;
                    sends.push(send_invite(svc, config, invite));
                }
            }
            else => break,
        }
    }
    let Run { mut outcome, halt, failure, .. } = run;
    svc.progress.finish("invites");
    if let Some(error) = failure {
        return Err(error);
    }
    match halt {
        Some(Halt::ServicePaused(pause)) => return paused(svc, outcome, pause).await,
        Some(Halt::PausedByFeedback(pause)) => {
            tracing::error!(cause = pause.cause.as_str(), fix = pause.cause.fix(), "invites are paused; nothing is sent");
            outcome.stopped = Some(format!("invites paused: {pause}"));
            outcome.paused = Some(pause);
        }
        Some(Halt::Stopped(reason)) => outcome.stopped = Some(reason),
        None => {}
    }
    if outcome.sent + outcome.kickstarts_sent + outcome.notices_sent > 0 {
        record_pause(svc.table, None, svc.clock.now()).await?;
    }
    tracing::info!(sent = outcome.sent, failed = outcome.failed, unconfirmed = outcome.unconfirmed, "invites dispatched");
    Ok(outcome)
}

/// The next invites due, or why none may go out.
enum Due {
    /// What the table answered, and how many were asked for.
    Invites(Vec<Invite>, usize),
    /// Bounces or a complaint paused invites (the feedback handler decided, maybe while this run
    /// sends): nothing more goes out until a person resumes.
    Paused(SendingPause),
}

async fn next_due(svc: Services<'_>, wanted: usize) -> AppResult<Due> {
    if let Some((pause, _)) = current_pause(svc.table).await? {
        if pause.cause.is_self_imposed() {
            return Ok(Due::Paused(pause));
        }
    }
    Ok(Due::Invites(svc.table.due_invites(svc.clock.now(), wanted).await?, wanted))
}

/// Why a run starts no further send.
enum Halt {
    /// The mail service refused for the whole account: recorded for the reports.
    ServicePaused(SendingPause),
    /// This product paused invites (bounces, complaints) until a person resumes.
    PausedByFeedback(SendingPause),
    /// Throttled, a failing service, or the time limit: the next run continues.
    Stopped(String),
}

/// A run's tally while its sends finish.
struct Run {
    outcome: DispatchOutcome,
    /// The first reason to stop.
    halt: Option<Halt>,
    /// The first ledger failure: the run reports it once the sends in flight are recorded.
    failure: Option<AppError>,
    finished: u64,
}

impl Run {
    fn absorb(&mut self, svc: Services<'_>, done: AppResult<(Came, Option<Halt>)>) {
        self.finished += 1;
        svc.progress.advance("invites", self.finished);
        let (sent, halt) = match done {
            Ok(done) => done,
            Err(error) => {
                self.failure.get_or_insert(error);
                return;
            }
        };
        let o = &mut self.outcome;
        match sent {
            Came::Sent => o.sent += 1,
            Came::AlreadySent => o.already_sent += 1,
            Came::InProgress => o.in_progress += 1,
            Came::Unconfirmed => o.unconfirmed += 1,
            Came::Failed => o.failed += 1,
            Came::RetryLater => o.retry_later += 1,
        }
        if let Some(halt) = halt {
            self.halt.get_or_insert(halt);
        }
    }
}

/// What sending one invite came to.
enum Came {
    Sent,
    AlreadySent,
    InProgress,
    Unconfirmed,
    Failed,
    /// Still due: the next run tries it again.
    RetryLater,
}

/// Sends one invite through the ledger and records the result on the invite.
async fn send_invite(svc: Services<'_>, config: &Config, invite: Invite) -> AppResult<(Came, Option<Halt>)> {
    let mut message = mail::invite(config, invite.migration.as_str(), &invite.email, &invite.first_name, &invite.building_names);
    message.key = current_invite_key(svc.table, &invite).await?;
    let now = svc.clock.now();
    let update = |status, id: Option<String>, error: Option<String>, attempts| {
        let (migration, email) = (&invite.migration, &invite.email);
        async move { svc.table.update_invite(migration, email, status, id.as_deref(), error.as_deref(), attempts).await }
    };
    Ok(match send_once(svc.table, svc.mailer, &message, now).await? {
        Ok(SendOutcome::Sent(id)) => {
            update(MailStatus::Sent, Some(id), None, invite.attempts + 1).await?;
            (Came::Sent, None)
        }
        Ok(SendOutcome::AlreadySent(id)) => {
            // Sent by an earlier (crashed or concurrent) run: at least one attempt was made.
            update(MailStatus::Sent, Some(id), None, invite.attempts.max(1)).await?;
            (Came::AlreadySent, None)
        }
        Ok(SendOutcome::InProgress) => (Came::InProgress, None),
        Ok(SendOutcome::Unconfirmed) => {
            update(
                MailStatus::Unconfirmed,
                None,
                Some("send not confirmed; check the mail log, then `onboard invites retry` to send it again".into()),
                invite.attempts + 1,
            )
            .await?;
            (Came::Unconfirmed, None)
        }
        Ok(SendOutcome::Failed(reason)) => {
            update(MailStatus::Failed, None, Some(reason), invite.attempts + 1).await?;
            (Came::Failed, None)
        }
        // About the account, not this invite: it stays due, no attempt counted.
        Err(PortError::SendingPaused(pause)) => (Came::RetryLater, Some(Halt::ServicePaused(pause))),
        // Slowed down, never an attempt: the invite stays due as it is.
        Err(PortError::Throttled(reason)) => {
            (Came::RetryLater, Some(Halt::Stopped(format!("the mail service throttled sending: {reason}; the next run continues"))))
        }
        Err(error) => {
            let attempts = invite.attempts + 1;
            let halt = Some(Halt::Stopped(format!("the mail service failed: {error}; the next run retries")));
            if attempts >= MAX_SEND_ATTEMPTS {
                update(MailStatus::Failed, None, Some(format!("gave up after {attempts} attempts: {error}")), attempts).await?;
                (Came::Failed, halt)
            } else {
                update(MailStatus::Pending, None, Some(error.to_string()), attempts).await?;
                (Came::RetryLater, halt)
            }
        }
    })
}

/// Stops a run on an account-level refusal: recorded for the reports, logged with its fix.
async fn paused(svc: Services<'_>, mut outcome: DispatchOutcome, pause: SendingPause) -> AppResult<DispatchOutcome> {
    tracing::error!(
        cause = pause.cause.as_str(),
        fix = pause.cause.fix(),
        "sending paused: nothing is marked failed; the next run resumes"
    );
    record_pause(svc.table, Some(&pause), svc.clock.now()).await?;
    outcome.stopped = Some(format!("sending paused: {pause}"));
    outcome.paused = Some(pause);
    svc.progress.finish("invites");
    Ok(outcome)
}

/// Sends the kickstart of every building still at phase `new`: its ingest met a paused (or
/// failing) mail service. The ledger keeps each kickstart to one send.
async fn pending_kickstarts(svc: Services<'_>, config: &Config, outcome: &mut DispatchOutcome) -> AppResult<Result<(), SendingPause>> {
    for state in svc.table.list_buildings().await? {
        if state.phase != Phase::New {
            continue;
        }
        match send_kickstart(svc, config, &state, 0).await? {
            Ok(SendOutcome::Sent(_)) => outcome.kickstarts_sent += 1,
            Ok(_) => {}
            Err(PortError::SendingPaused(pause)) => return Ok(Err(pause)),
            Err(error) => {
                // Not this run's main work: the next run tries again.
                tracing::warn!(error = %crate::domain::text::redact_addresses(&error.to_string()), "a pending kickstart was not sent");
                return Ok(Ok(()));
            }
        }
    }
    Ok(Ok(()))
}

/// Sends the notices parked while the mail service paused sending. Each keeps its ledger key,
/// so one sent meanwhile is not sent again.
async fn parked_notices(svc: Services<'_>, outcome: &mut DispatchOutcome) -> AppResult<Result<(), SendingPause>> {
    for mail in svc.table.parked_mail(100).await? {
        match send_once(svc.table, svc.mailer, &mail, svc.clock.now()).await? {
            Ok(sent) => {
                if matches!(sent, SendOutcome::Sent(_)) {
                    outcome.notices_sent += 1;
                }
                svc.table.unpark_mail(&mail.key).await?;
            }
            Err(PortError::SendingPaused(pause)) => return Ok(Err(pause)),
            Err(error) => {
                // Not this run's main work: the next run tries again.
                tracing::warn!(error = %crate::domain::text::redact_addresses(&error.to_string()), "a parked notice was not sent");
                return Ok(Ok(()));
            }
        }
    }
    Ok(Ok(()))
}
