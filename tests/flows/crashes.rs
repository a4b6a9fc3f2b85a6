//! Crashes: apply and dispatch killed at every table call (before the call takes effect, and
//! after it took effect with only its answer lost), and dispatch's mailer failing at every send;
//! each time a fresh store is brought to that point, the run is crashed there and run again, and
//! the end state must equal an uninterrupted run's. On the embedded set every point is tried; on
//! the emulator a sample (each point costs a new DynamoDB table).

use crate::data::*;
use crate::faults::FaultyTable;
use crate::helpers::*;
use crate::state;
use onboarding::app::route::{handle_upload, UploadOutcome};
use onboarding::app::{apply, dispatch, AppError};
use onboarding::domain::invite::MailStatus;
use onboarding::domain::values::MigrationId;
use onboarding::ports::{Mailer, NewUser};

/// Users: 230 in the export (three chunks of work), ten of whom the platform already has.
const USERS: usize = 230;
const EXISTING: usize = 10;
/// Invites dispatched in the dispatch scenarios.
const INVITES: usize = 8;

async fn with_existing(h: &Harness) {
    let users: Vec<NewUser> = (0..EXISTING)
        .map(|i| NewUser {
            email: email(&format!("user{i}@acme.example")),
            first_name: "Existing".into(),
            last_name: "User".into(),
            roles: vec!["Tenant User".into()],
            buildings: vec![building(ONE_MARKET)],
            migration: MigrationId::parse("platform").unwrap(),
        })
        .collect();
    h.table.create_users(&users).await.unwrap();
}

/// The points to crash at: every call on the embedded set, a sample on the emulator.
fn points(h: &Harness, calls: u64) -> Vec<u64> {
    if h.emulated {
        vec![1, calls / 3, calls / 2, calls]
    } else {
        (1..=calls).collect()
    }
}

fn people(count: usize) -> Vec<String> {
    user_emails(count)
}

pub async fn apply_resumes_from_every_partial_state(h: Harness) {
    let everyone = people(USERS);
    let everyone: Vec<&str> = everyone.iter().map(String::as_str).collect();
    let reference = h.fresh().await;
    with_existing(&reference).await;
    let sha = planned(&reference, "m1", USERS).await;
    let approved = approval("m1", &sha, Some("2026-11-24"));
    let counter = FaultyTable::new(reference.table.as_ref(), u64::MAX, false);
    let clean = apply::apply_approval(reference.svc_with(&counter), &approved).await.unwrap();
    assert_eq!((clean.users_created, clean.invites_queued), ((USERS - EXISTING) as u64, (USERS - EXISTING) as u64));
    let calls = counter.calls();
    assert!(calls >= 20, "an apply makes {calls} table calls");
    let expected = state::table(&reference, &everyone).await;
    // Lambda's retry of an apply that ran out of time passes over the users already done: they
    // hold every planned role and building, so neither a grant nor a create is written again.
    let again = FaultyTable::new(reference.table.as_ref(), u64::MAX, false);
    apply::apply_approval(reference.svc_with(&again), &approved).await.unwrap();
    let rewrites: Vec<String> =
        again.log().into_iter().filter(|c| c.starts_with("grant_access") || c.starts_with("create_users")).collect();
    assert!(rewrites.is_empty(), "a second apply wrote users again: {rewrites:?}");
    assert!(counter.log().iter().any(|c| c.starts_with("grant_access")), "the first apply grants the existing users' new roles");
    assert_eq!(state::table(&reference, &everyone).await, expected);

    let mut tried = 0;
    for fail_at in points(&h, calls) {
        for after_effect in [false, true] {
            let x = h.fresh().await;
            with_existing(&x).await;
            assert_eq!(planned(&x, "m1", USERS).await, sha);
            let faulty = FaultyTable::new(x.table.as_ref(), fail_at, after_effect);
            let crashed = apply::apply_approval(x.svc_with(&faulty), &approved).await;
            assert!(matches!(crashed, Err(AppError::Port(_))), "call {fail_at} did not fail the run: {crashed:?}");
            apply::apply_approval(x.svc(), &approved).await.unwrap();
            let got = state::table(&x, &everyone).await;
            assert_eq!(got, expected, "crash at call {fail_at} (after_effect={after_effect}): {}", state::diff(&expected, &got));
            tried += 1;
        }
    }
    eprintln!("apply: {calls} table calls, crashed and resumed at {tried} points, end state identical each time");
}

/// Crashes dispatch at `fail_at`, then lets the claim lease pass and runs the schedule again.
async fn crash_and_resume_dispatch(x: &Harness, fail_at: u64, after_effect: bool) {
    let config = x.config().await;
    let faulty = FaultyTable::new(x.table.as_ref(), fail_at, after_effect);
    let crashed = dispatch::dispatch_invites(x.svc_with(&faulty), &config, 100, None).await;
    assert!(crashed.is_err(), "call {fail_at} did not fail the run: {crashed:?}");
    x.clock.advance_minutes(16);
    dispatch::dispatch_invites(x.svc(), &config, 100, None).await.unwrap();
}

/// Every invite is sent exactly once (the outbox) or, through SES, sent or flagged unconfirmed
/// and never sent twice; the end state equals the uninterrupted run's.
async fn assert_sent_exactly_once(x: &Harness, expected: &[String], people: &[&str], context: &str) {
    let invites = x.table.list_invites(&MigrationId::parse("m1").unwrap()).await.unwrap();
    let sent = invites.iter().filter(|i| i.status == MailStatus::Sent).count();
    let unconfirmed = invites.iter().filter(|i| matches!(i.status, MailStatus::Sending | MailStatus::Unconfirmed)).count();
    x.mailer.assert_each_sent_once();
    if x.mailer.deduplicates() {
        assert_eq!((sent, unconfirmed), (INVITES, 0), "{context}");
        assert_eq!(x.mailer.sent_to_kind("invite#"), INVITES as u32, "{context}");
        assert_eq!(x.outbox_files("invite"), INVITES, "{context}");
        let got = state::without_attempts(&state::table(x, people).await);
        assert_eq!(got, state::without_attempts(expected), "{context}: {}", state::diff(expected, &got));
    } else {
        assert_eq!(sent + unconfirmed, INVITES, "{context}: every invite sent or flagged");
        assert!(x.mailer.sent_to_kind("invite#") as usize <= INVITES, "{context}");
        if unconfirmed == 0 {
            let got = state::without_attempts(&state::table(x, people).await);
            assert_eq!(got, state::without_attempts(expected), "{context}: {}", state::diff(expected, &got));
        }
    }
}

pub async fn dispatch_resumes_after_a_crash_at_any_point(h: Harness) {
    let everyone = people(INVITES);
    let everyone: Vec<&str> = everyone.iter().map(String::as_str).collect();
    let reference = h.fresh().await;
    invites_due(&reference, "m1", INVITES).await;
    let config = reference.config().await;
    let counter = FaultyTable::new(reference.table.as_ref(), u64::MAX, false);
    assert_eq!(dispatch::dispatch_invites(reference.svc_with(&counter), &config, 100, None).await.unwrap().sent, INVITES as u64);
    let calls = counter.calls();
    assert!(calls >= 20, "a dispatch makes {calls} table calls");
    reference.clock.advance_minutes(16);
    let expected = state::table(&reference, &everyone).await;

    let (mut tried, mut unconfirmed, mut repeats) = (0, 0, 0);
    for fail_at in points(&h, calls) {
        for after_effect in [false, true] {
            let x = h.fresh().await;
            invites_due(&x, "m1", INVITES).await;
            crash_and_resume_dispatch(&x, fail_at, after_effect).await;
            let context = format!("crash at call {fail_at} (after_effect={after_effect})");
            assert_sent_exactly_once(&x, &expected, &everyone, &context).await;
            let invites = x.table.list_invites(&MigrationId::parse("m1").unwrap()).await.unwrap();
            unconfirmed += invites.iter().filter(|i| matches!(i.status, MailStatus::Sending | MailStatus::Unconfirmed)).count();
            repeats += x.mailer.repeats();
            tried += 1;
        }
    }
    eprintln!(
        "dispatch: {calls} table calls, crashed and resumed at {tried} points; invites flagged unconfirmed: {unconfirmed}; re-sends the outbox deduplicated: {repeats}"
    );
}

pub async fn dispatch_resumes_after_the_mailer_fails_at_any_send(h: Harness) {
    let everyone = people(INVITES);
    let everyone: Vec<&str> = everyone.iter().map(String::as_str).collect();
    let reference = h.fresh().await;
    invites_due(&reference, "m1", INVITES).await;
    let config = reference.config().await;
    dispatch::dispatch_invites(reference.svc(), &config, 100, None).await.unwrap();
    let expected = state::table(&reference, &everyone).await;
    let sends: Vec<u64> = if h.emulated { vec![0, INVITES as u64 / 2] } else { (0..INVITES as u64).collect() };
    for failing_send in sends {
        for paused in [false, true] {
            let x = h.fresh().await;
            invites_due(&x, "m1", INVITES).await;
            if paused {
                // Sending paused after `failing_send` mails: the run stops and keeps the rest.
                x.mailer.fail_after_more(failing_send);
                let first = dispatch::dispatch_invites(x.svc(), &config, 100, None).await.unwrap();
                assert_eq!((first.sent, first.retry_later), (failing_send, 1));
            } else {
                x.mailer.fail_after_more(failing_send);
                let first = dispatch::dispatch_invites(x.svc(), &config, 100, None).await.unwrap();
                assert_eq!(first.sent, failing_send);
                assert!(first.stopped.is_some());
            }
            x.mailer.fail_after.store(0, std::sync::atomic::Ordering::SeqCst);
            let rest = dispatch::dispatch_invites(x.svc(), &config, 100, None).await.unwrap();
            assert_eq!(rest.sent, INVITES as u64 - failing_send);
            assert_sent_exactly_once(&x, &expected, &everyone, &format!("mailer failing at send {failing_send}")).await;
        }
    }
}

pub async fn totals_add_up_after_crashed_and_resumed_plans(h: Harness) {
    // A plan run crashed at each table call through the ingest route; the next delivery of the
    // same event (the claim was given back) finishes it, with the same plan and totals.
    let bytes = users_csv(12);
    let key = "inbox/users/m1/export.csv";
    let reference = h.fresh().await;
    reference.with_buildings().await;
    let UploadOutcome::Plan(expected) = reference.upload(key, &bytes).await else { panic!() };
    assert_eq!(
        (expected.rows, expected.accepted, expected.rejected, expected.duplicates_merged, expected.inactive_skipped),
        (15, 12, 1, 1, 1)
    );
    let counter = FaultyTable::new(reference.table.as_ref(), u64::MAX, false);
    reference.objects.put("inbox/users/m1/again.csv", bytes.clone(), "text/csv").await.unwrap();
    handle_upload(reference.svc_with(&counter), "inbox/users/m1/again.csv", "v1").await.unwrap();
    let calls = counter.calls();
    let mut tried = 0;
    for fail_at in points(&h, calls) {
        for after_effect in [false, true] {
            tried += 1;
            let x = h.fresh().await;
            x.with_buildings().await;
            x.objects.put(key, bytes.clone(), "text/csv").await.unwrap();
            let faulty = FaultyTable::new(x.table.as_ref(), fail_at, after_effect);
            let crashed = handle_upload(x.svc_with(&faulty), key, &version_of(&bytes)).await;
            let summary = match crashed {
                // The crash hit the very last step (the claim's record) after it took effect.
                Ok(UploadOutcome::Plan(summary)) => summary,
                Err(_) => match x.deliver(key, &bytes).await {
                    UploadOutcome::Plan(summary) => summary,
                    // The claim itself was written but its answer lost: the run cannot know it
                    // holds the claim, so the claim waits out its lease (16 minutes); the
                    // delivery after that (Lambda's DLQ redrive) processes the upload.
                    UploadOutcome::InProgress if fail_at == 1 && after_effect => {
                        x.clock.advance_minutes(17);
                        let UploadOutcome::Plan(summary) = x.deliver(key, &bytes).await else { panic!("not planned after the lease") };
                        summary
                    }
                    // The crash lost only the answer of the event's final record: the work is done.
                    UploadOutcome::AlreadyProcessed if fail_at == calls && after_effect => {
                        let stored = x.objects.get("reports/users/m1/summary.json").await.unwrap();
                        serde_json::from_slice(&stored).unwrap()
                    }
                    other => panic!("call {fail_at}: the next delivery did not plan: {other:?}"),
                },
                Ok(other) => panic!("call {fail_at}: {other:?}"),
            };
            assert_eq!(summary.rows, summary.accepted + summary.rejected + summary.duplicates_merged + summary.inactive_skipped);
            assert_eq!(
                (summary.rows, summary.accepted, summary.plan_sha256.as_str()),
                (expected.rows, expected.accepted, expected.plan_sha256.as_str()),
                "call {fail_at} (after_effect={after_effect})"
            );
            assert!(x.table.get_users(&[email("user1@acme.example")]).await.unwrap().is_empty());
        }
    }
    eprintln!("plan through the ingest route: {calls} table calls, crashed at {tried} points, same plan and totals each time");
}
