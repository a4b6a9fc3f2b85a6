//! Throttling that outlasts the adapters' retries (DynamoDB and SES answer "slow down" for
//! longer than the backoff budget) ends a run with `Throttled`: nothing is lost, the work
//! resumes, and an upload's event is left to the next delivery. The adapter-level retries
//! themselves are tested against mocked AWS answers in `shared/src/adapters/aws/**/tests.rs`.

use crate::data::*;
use crate::faults::FaultyTable;
use crate::helpers::*;
use crate::state;
use onboarding::app::route::{handle_upload, UploadOutcome};
use onboarding::app::{apply, dispatch, AppError};
use onboarding::ports::{Mailer, PortError};

/// Brings a fresh store to where an upload of `kind` can be processed; the approval's bytes
/// quote the plan made here.
async fn prepare(x: &Harness, kind: &str, key: String, bytes: Vec<u8>) -> (String, Vec<u8>) {
    let prepared = match kind {
        "buildings" => {
            x.load_example_config().await;
            (key, bytes)
        }
        "approval" => {
            let sha = planned(x, "m1", 5).await;
            (key, approval_json("m1", &sha, None))
        }
        _ => {
            x.with_buildings().await;
            (key, bytes)
        }
    };
    // The flows' own table calls are under test here; the notice's are in notices.rs.
    set_settings(x, serde_json::json!({"notify": {}})).await;
    prepared
}

fn throttled<T: std::fmt::Debug>(result: &Result<T, AppError>) -> bool {
    matches!(result, Err(AppError::Port(PortError::Throttled(_))))
}

pub async fn throttled_apply_and_dispatch_resume_with_nothing_lost(h: Harness) {
    let count = 6;
    let everyone = user_emails(count);
    let everyone: Vec<&str> = everyone.iter().map(String::as_str).collect();
    let reference = h.fresh().await;
    let sha = planned(&reference, "m1", count).await;
    let approved = approval("m1", &sha, None);
    let config = reference.config().await;
    let counter = FaultyTable::new(reference.table.as_ref(), u64::MAX, false);
    apply::apply_approval(reference.svc_with(&counter), &approved).await.unwrap();
    let apply_calls = counter.calls();
    dispatch::dispatch_invites(reference.svc(), &config, 100, None).await.unwrap();
    let expected = state::table(&reference, &everyone).await;

    // DynamoDB throttled half-way through the apply, then half-way through the dispatch.
    assert_eq!(planned(&h, "m1", count).await, sha);
    let table = FaultyTable::throttled_at(h.table.as_ref(), apply_calls / 2);
    assert!(throttled(&apply::apply_approval(h.svc_with(&table), &approved).await));
    apply::apply_approval(h.svc(), &approved).await.unwrap();
    let table = FaultyTable::throttled_at(h.table.as_ref(), 6);
    let stopped = dispatch::dispatch_invites(h.svc_with(&table), &config, 100, None).await;
    assert!(throttled(&stopped), "{stopped:?}");
    h.clock.advance_minutes(16);
    // SES throttled for longer than its retries on the third send: the run stops, keeps the rest.
    h.mailer.fail_after_more(2);
    let partial = dispatch::dispatch_invites(h.svc(), &config, 100, None).await.unwrap();
    assert_eq!(partial.retry_later, 1);
    assert!(partial.stopped.as_deref().unwrap_or("").contains("throttled"), "{partial:?}");
    h.mailer.fail_after.store(0, std::sync::atomic::Ordering::SeqCst);
    dispatch::dispatch_invites(h.svc(), &config, 100, None).await.unwrap();
    let got = state::without_attempts(&state::table(&h, &everyone).await);
    let expected = state::without_attempts(&expected);
    if h.mailer.deduplicates() {
        assert_eq!(got, expected, "{}", state::diff(&expected, &got));
    }
    assert_eq!(h.mailer.sent_to_kind("invite#"), count as u32, "every invite once");
    h.mailer.assert_each_sent_once();
}

/// The store after an upload, less the buildings run's own summary and report (they say which
/// run sent a kickstart and which buildings were new to it, which differs when a retry finds the
/// first attempt's work done).
async fn end_state(h: &Harness, people: &[&str]) -> Vec<String> {
    state::all(h, people)
        .await
        .into_iter()
        .filter(|l| !(l.starts_with("reports/buildings/") && (l.contains("/summary.json ") || l.contains("/report.html "))))
        .collect()
}

/// One upload of each kind, failing with `Throttled` at every table call after the claim: the
/// failed delivery returns the error (Lambda retries), and the very next delivery — no lease to
/// wait out — processes the upload to the same end state as an undisturbed one.
pub async fn a_failed_delivery_leaves_the_event_to_the_next_delivery(h: Harness) {
    let kinds: Vec<(&str, String, Vec<u8>)> = vec![
        ("buildings", "inbox/buildings/b.csv".into(), BUILDINGS_CSV.to_vec()),
        ("tenants", format!("inbox/tenants/{ONE_MARKET}/c.csv"), tenants_csv(5)),
        ("users", "inbox/users/m1/export.csv".into(), users_csv(5)),
        ("approval", "approvals/m1.json".into(), Vec::new()),
    ];
    let everyone = user_emails(5);
    let everyone: Vec<&str> = everyone.iter().map(String::as_str).collect();
    let mut tried = 0;
    for (kind, key, bytes) in kinds {
        let reference = h.fresh().await;
        let (key, bytes) = prepare(&reference, kind, key, bytes).await;
        reference.objects.put(&key, bytes.clone(), "application/octet-stream").await.unwrap();
        let counter = FaultyTable::new(reference.table.as_ref(), u64::MAX, false);
        let clean = handle_upload(reference.svc_with(&counter), &key, &version_of(&bytes)).await.unwrap();
        assert!(!matches!(clean, UploadOutcome::Rejected { .. }), "{clean:?}");
        let calls = counter.calls();
        let expected = end_state(&reference, &everyone).await;
        let points: Vec<u64> = if h.emulated { vec![2, calls / 2] } else { (2..calls).collect() };
        for fail_at in points {
            let x = h.fresh().await;
            prepare(&x, kind, key.clone(), bytes.clone()).await;
            x.objects.put(&key, bytes.clone(), "application/octet-stream").await.unwrap();
            let table = FaultyTable::throttled_at(x.table.as_ref(), fail_at);
            let failed = handle_upload(x.svc_with(&table), &key, &version_of(&bytes)).await;
            assert!(throttled(&failed), "{kind}: call {fail_at}: {failed:?}");
            let retried = x.deliver(&key, &bytes).await;
            assert!(
                !matches!(retried, UploadOutcome::InProgress | UploadOutcome::AlreadyProcessed | UploadOutcome::Rejected { .. }),
                "{kind}: call {fail_at}: the next delivery did not process the upload: {retried:?}"
            );
            let got = end_state(&x, &everyone).await;
            let about_a_kickstart =
                |l: &String| l.starts_with("building ") || l.starts_with("mail kickstart#") || l.starts_with("reports/buildings/");
            let differing: Vec<&String> = got.iter().chain(&expected).filter(|l| !got.contains(l) || !expected.contains(l)).collect();
            // The same for one invite: its send went out and the record of it was lost.
            let invites_differing: std::collections::BTreeSet<&str> = differing
                .iter()
                .filter_map(|l| l.strip_prefix("invite m1 ").or_else(|| l.strip_prefix("mail invite#m1#")))
                .map(|rest| rest.split(' ').next().unwrap_or_default())
                .collect();
            let one_invite_in_progress = invites_differing.len() == 1
                && differing.iter().all(|l| l.starts_with("invite m1 ") || l.starts_with("mail invite#m1#"))
                && got.iter().any(|l| l.starts_with("mail invite#m1#") && l.contains(" Sending "));
            if got != expected && !x.mailer.deduplicates() && (differing.iter().all(|l| about_a_kickstart(l)) || one_invite_in_progress) {
                // SES: the kickstart (or invite) went out but its record was lost; the retry
                // cannot know it went, so it stays in progress (after the lease: unconfirmed, for
                // a person to check). It is never sent twice.
                eprintln!("{kind}: throttled at call {fail_at}: a sent mail's record was lost, left unconfirmed (SES cannot be asked)");
            } else {
                assert_eq!(got, expected, "{kind}: throttled at call {fail_at}: {}", state::diff(&expected, &got));
            }
            x.mailer.assert_each_sent_once();
            tried += 1;
        }
    }
    eprintln!("throttled uploads: {tried} failed deliveries, each processed by the next delivery");
}
