//! At-least-once delivery: every event kind delivered three times in a row, and twice at the
//! same moment, writes one set of data and sends every e-mail once. "At the same moment" runs
//! two calls joined on one task over a table that yields before every call, so the two runs
//! interleave call by call. Each table call reaches the table whole (see
//! `FaultyTable::one_at_a_time`: the emulator is not safe under concurrent transactions); the
//! bucket and mail calls of the two runs still overlap on the emulator.

use crate::data::*;
use crate::faults::FaultyTable;
use crate::helpers::*;
use crate::state;
use onboarding::app::route::{handle_upload, UploadOutcome};
use onboarding::app::{apply, buildings, dispatch, plan, tenants, validate};
use onboarding::domain::values::MigrationId;
use onboarding::ports::Mailer;

/// Delivers `key` (stored with `bytes`) three times: the first run does the work, the other two
/// find it done and change nothing at all.
async fn three_times(h: &Harness, key: &str, bytes: &[u8], people: &[&str]) -> UploadOutcome {
    let first = h.upload(key, bytes).await;
    assert!(!matches!(first, UploadOutcome::AlreadyProcessed | UploadOutcome::InProgress | UploadOutcome::Rejected { .. }), "{first:?}");
    let after_first = state::all(h, people).await;
    let sent = h.mailer.sent();
    for _ in 0..2 {
        assert!(matches!(h.deliver(key, bytes).await, UploadOutcome::AlreadyProcessed));
    }
    let after_third = state::all(h, people).await;
    assert_eq!(after_first, after_third, "{}", state::diff(&after_first, &after_third));
    assert_eq!(h.mailer.sent(), sent, "a replay sent mail");
    first
}

/// Stores `bytes` at `key` and delivers its event twice at once: one delivery does the work, the
/// other is told it is in progress (or done); a later delivery changes nothing.
async fn twice_at_once(h: &Harness, key: &str, bytes: &[u8], people: &[&str]) -> UploadOutcome {
    h.objects.put(key, bytes.to_vec(), "application/octet-stream").await.unwrap();
    let version = version_of(bytes);
    let interleaved = FaultyTable::interleaved(h.table.as_ref());
    let svc = h.svc_with(&interleaved);
    let (a, b) = tokio::join!(handle_upload(svc, key, &version), handle_upload(svc, key, &version));
    let (a, b) = (a.unwrap(), b.unwrap());
    let idle = |o: &UploadOutcome| matches!(o, UploadOutcome::InProgress | UploadOutcome::AlreadyProcessed);
    assert!(idle(&a) != idle(&b), "exactly one delivery does the work: {a:?} / {b:?}");
    let before = state::all(h, people).await;
    assert!(matches!(h.deliver(key, bytes).await, UploadOutcome::AlreadyProcessed));
    assert_eq!(before, state::all(h, people).await);
    if idle(&a) {
        b
    } else {
        a
    }
}

pub async fn buildings_events_replayed_and_concurrent_write_once(h: Harness) {
    h.load_example_config().await;
    let UploadOutcome::Buildings(first) = three_times(&h, "inbox/buildings/b.csv", BUILDINGS_CSV, &[]).await else { panic!() };
    assert_eq!(first.kickstarts_sent, 2);
    // A second file (another object) naming the same buildings, delivered twice at once.
    let mut again = BUILDINGS_CSV.to_vec();
    again.extend_from_slice(b"\n");
    let UploadOutcome::Buildings(second) = twice_at_once(&h, "inbox/buildings/b2.csv", &again, &[]).await else { panic!() };
    assert_eq!((second.kickstarts_sent, second.kickstarts_already_sent), (0, 2));

    // The use case itself run twice at once (two uploads naming the same new buildings): one
    // kickstart per building, and the same table as one run leaves.
    let (fresh, reference) = (h.fresh().await, h.fresh().await);
    for x in [&fresh, &reference] {
        x.load_example_config().await;
        x.objects.put("inbox/buildings/b.csv", BUILDINGS_CSV.to_vec(), "text/csv").await.unwrap();
    }
    let config = fresh.config().await;
    buildings::ingest_buildings(reference.svc(), &config, "inbox/buildings/b.csv", false).await.unwrap();
    let interleaved = FaultyTable::interleaved(fresh.table.as_ref());
    let svc = fresh.svc_with(&interleaved);
    let (a, b) = tokio::join!(
        buildings::ingest_buildings(svc, &config, "inbox/buildings/b.csv", false),
        buildings::ingest_buildings(svc, &config, "inbox/buildings/b.csv", false)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    // Through SES the second run leaves a live claim to its holder; the outbox may be handed
    // the same key twice and writes one message.
    if fresh.mailer.deduplicates() {
        assert!(a.kickstarts_sent + b.kickstarts_sent >= 2, "{a:?} {b:?}");
    } else {
        assert_eq!(a.kickstarts_sent + b.kickstarts_sent, 2, "{a:?} {b:?}");
    }
    assert_eq!(a.kickstarts_unconfirmed + b.kickstarts_unconfirmed, 0, "a live claim is not 'unconfirmed'");
    assert_eq!(state::table(&fresh, &[]).await, state::table(&reference, &[]).await);
    for x in [&h, &fresh] {
        assert_eq!(x.mailer.sent_to_kind("kickstart#"), 2);
        x.mailer.assert_each_sent_once();
    }
    assert_eq!(fresh.outbox_files("kickstart"), if h.emulated { 0 } else { 2 });
}

pub async fn tenants_events_replayed_and_concurrent_write_once(h: Harness) {
    h.with_buildings().await;
    let key = format!("inbox/tenants/{ONE_MARKET}/c.csv");
    let UploadOutcome::Tenants(first) = three_times(&h, &key, &tenants_csv(8), &[]).await else { panic!() };
    assert_eq!((first.accepted, first.directory_size), (8, 8));
    let replace = format!("inbox/tenants/{ONE_MARKET}/replace/c.csv");
    let UploadOutcome::Tenants(second) = twice_at_once(&h, &replace, &tenants_csv(9), &[]).await else { panic!() };
    assert_eq!((second.revoked, second.directory_size), (0, 9));
    let export = String::from_utf8(h.objects.get(&format!("exports/envoy/{ONE_MARKET}/envoy-employees.csv")).await.unwrap()).unwrap();
    assert_eq!(export.lines().count(), 10, "each person once: {export}");

    // The use case run twice at once writes what one run writes.
    let (fresh, reference) = (h.fresh().await, h.fresh().await);
    for x in [&fresh, &reference] {
        x.with_buildings().await;
        x.objects.put(&key, tenants_csv(8), "text/csv").await.unwrap();
    }
    let config = fresh.config().await;
    let id = building(ONE_MARKET);
    let options = tenants::TenantOptions::default();
    tenants::ingest_tenants(reference.svc(), &config, &id, &key, options).await.unwrap();
    let interleaved = FaultyTable::interleaved(fresh.table.as_ref());
    let svc = fresh.svc_with(&interleaved);
    let (a, b) =
        tokio::join!(tenants::ingest_tenants(svc, &config, &id, &key, options), tenants::ingest_tenants(svc, &config, &id, &key, options));
    assert_eq!((a.unwrap().directory_size, b.unwrap().directory_size), (8, 8));
    assert_eq!(state::table(&fresh, &[]).await, state::table(&reference, &[]).await);
    let latest = format!("exports/envoy/{ONE_MARKET}/envoy-employees.csv");
    assert_eq!(fresh.objects.get(&latest).await.unwrap(), reference.objects.get(&latest).await.unwrap());
}

pub async fn users_plan_events_replayed_and_concurrent_write_once(h: Harness) {
    h.with_buildings().await;
    let people: Vec<String> = user_emails(6);
    let people: Vec<&str> = people.iter().map(String::as_str).collect();
    let UploadOutcome::Plan(first) = three_times(&h, "inbox/users/m1/export.csv", &users_csv(6), &people).await else { panic!() };
    assert_eq!((first.rows, first.accepted, first.rejected, first.duplicates_merged, first.inactive_skipped), (9, 6, 1, 1, 1));
    let UploadOutcome::Plan(second) = twice_at_once(&h, "inbox/users/m2/export.csv", &users_csv(6), &people).await else { panic!() };
    assert_eq!(second.plan_sha256, first.plan_sha256, "the same export plans the same");
    assert!(h.table.get_users(&[email("user0@acme.example")]).await.unwrap().is_empty(), "planning writes no users");

    // The use case twice at once: one plan, the same SHA-256, the same record.
    let m3 = MigrationId::parse("m3").unwrap();
    h.objects.put("inbox/users/m3/export.csv", users_csv(6), "text/csv").await.unwrap();
    let config = h.config().await;
    let interleaved = FaultyTable::interleaved(h.table.as_ref());
    let svc = h.svc_with(&interleaved);
    let (a, b) = tokio::join!(
        plan::plan_migration(svc, &config, &m3, "inbox/users/m3/export.csv"),
        plan::plan_migration(svc, &config, &m3, "inbox/users/m3/export.csv")
    );
    assert_eq!(a.unwrap().0.plan_sha256, b.unwrap().0.plan_sha256);
    let record = h.table.get_migration(&m3).await.unwrap().unwrap();
    assert_eq!((record.plan_sha256.as_str(), record.state.as_str()), (first.plan_sha256.as_str(), "planned"));
}

pub async fn approval_events_replayed_and_concurrent_apply_once(h: Harness) {
    let count = 5;
    let sha = planned(&h, "m1", count).await;
    let people = user_emails(count);
    let people: Vec<&str> = people.iter().map(String::as_str).collect();
    let UploadOutcome::Applied { apply, dispatch } = three_times(&h, "approvals/m1.json", &approval_json("m1", &sha, None), &people).await
    else {
        panic!()
    };
    assert_eq!((apply.users_created, apply.invites_queued, dispatch.sent), (count as u64, count as u64, count as u64));
    assert_eq!(h.mailer.sent_to_kind("invite#m1#"), count as u32);

    // A second migration's approval, delivered twice at once.
    let UploadOutcome::Plan(plan2) = h.upload("inbox/users/m2/export.csv", &users_csv(count + 2)).await else { panic!() };
    let UploadOutcome::Applied { apply, .. } =
        twice_at_once(&h, "approvals/m2.json", &approval_json("m2", &plan2.plan_sha256, None), &people).await
    else {
        panic!()
    };
    assert_eq!(apply.users_created, 2, "m1 created the first {count}");
    assert_eq!(h.mailer.sent_to_kind("invite#m2#"), 2, "only the new users are invited");
    h.mailer.assert_each_sent_once();

    // apply_approval itself twice at once, then the invites: what one run leaves.
    let (fresh, reference) = (h.fresh().await, h.fresh().await);
    let sha = planned(&fresh, "m1", count).await;
    assert_eq!(planned(&reference, "m1", count).await, sha);
    let a1 = approval("m1", &sha, None);
    apply::apply_approval(reference.svc(), &a1).await.unwrap();
    let interleaved = FaultyTable::interleaved(fresh.table.as_ref());
    let svc = fresh.svc_with(&interleaved);
    let (a, b) = tokio::join!(apply::apply_approval(svc, &a1), apply::apply_approval(svc, &a1));
    // Creating a user is a conditional write: exactly one of the two runs creates each user.
    assert_eq!(a.unwrap().users_created + b.unwrap().users_created, count as u64, "each user is created once");
    assert_eq!(state::table(&fresh, &people).await, state::table(&reference, &people).await);
    let config = fresh.config().await;
    for x in [&fresh, &reference] {
        assert_eq!(dispatch::dispatch_invites(x.svc(), &config, 100, None).await.unwrap().sent, count as u64);
    }
    assert_eq!(state::table(&fresh, &people).await, state::table(&reference, &people).await);
}

pub async fn dispatch_schedule_replayed_and_concurrent_sends_once(h: Harness) {
    let count = 8;
    invites_due(&h, "m1", count).await;
    let people = user_emails(count);
    let people: Vec<&str> = people.iter().map(String::as_str).collect();
    let config = h.config().await;
    let reference = h.fresh().await;
    invites_due(&reference, "m1", count).await;
    assert_eq!(dispatch::dispatch_invites(reference.svc(), &config, 100, None).await.unwrap().sent, count as u64);

    // Two scheduled runs at once (an overlap, or EventBridge delivering twice).
    let interleaved = FaultyTable::interleaved(h.table.as_ref());
    let svc = h.svc_with(&interleaved);
    let (a, b) = tokio::join!(dispatch::dispatch_invites(svc, &config, 100, None), dispatch::dispatch_invites(svc, &config, 100, None));
    let (a, b) = (a.unwrap(), b.unwrap());
    if h.mailer.deduplicates() {
        assert!(a.sent + b.sent >= count as u64, "{a:?} {b:?}");
    } else {
        assert_eq!(a.sent + b.sent, count as u64, "{a:?} {b:?}");
    }
    assert_eq!(a.unconfirmed + b.unconfirmed + a.failed + b.failed, 0, "{a:?} {b:?}");
    let after = state::all(&h, &people).await;
    // Then the schedule three more times: nothing to do.
    for _ in 0..3 {
        let again = dispatch::dispatch_invites(h.svc(), &config, 100, None).await.unwrap();
        assert_eq!((again.sent, again.already_sent, again.in_progress), (0, 0, 0));
    }
    assert_eq!(after, state::all(&h, &people).await);
    assert_eq!(state::table(&h, &people).await, state::table(&reference, &people).await, "same end state as one run");
    assert_eq!(h.mailer.sent_to_kind("invite#"), count as u32);
    h.mailer.assert_each_sent_once();
    assert_eq!(h.outbox_files("invite"), if h.emulated { 0 } else { count });
}

pub async fn validation_schedule_replayed_and_concurrent_mails_once(h: Harness) {
    invites_due(&h, "m1", 3).await;
    let config = h.config().await;
    assert!(!config.ops_recipients.is_empty(), "the example config mails a summary");
    let (_, first) = validate::validation_report(h.svc(), &config).await.unwrap();
    assert!(first.summary_mailed);
    let after_first = state::all(&h, &[]).await;
    for _ in 0..2 {
        let (_, again) = validate::validation_report(h.svc(), &config).await.unwrap();
        assert!(!again.summary_mailed);
    }
    assert_eq!(after_first, state::all(&h, &[]).await, "{}", state::diff(&after_first, &state::all(&h, &[]).await));

    // The next day, two runs at once: one summary.
    h.clock.advance_days(1);
    let interleaved = FaultyTable::interleaved(h.table.as_ref());
    let svc = h.svc_with(&interleaved);
    let (a, b) = tokio::join!(validate::validation_report(svc, &config), validate::validation_report(svc, &config));
    let (a, b) = (a.unwrap().1, b.unwrap().1);
    let mailed = u8::from(a.summary_mailed) + u8::from(b.summary_mailed);
    if h.mailer.deduplicates() {
        assert!(mailed >= 1, "{a:?} {b:?}");
    } else {
        assert_eq!(mailed, 1, "{a:?} {b:?}");
    }
    assert!(a.summary_error.is_none() && b.summary_error.is_none());
    assert_eq!(h.mailer.sent_to_kind("validation#"), 2);
    h.mailer.assert_each_sent_once();
    let today = h.clock_now().date();
    let entry = h.table.get_mail(&format!("validation#{today}")).await.unwrap().unwrap();
    assert_eq!(entry.status, onboarding::domain::invite::MailStatus::Sent);
}
