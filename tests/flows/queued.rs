//! An approval handed to the apply queue: its parts applied by other invocations, in any
//! order, some twice, one after a crash, come to what one run of the whole plan comes to.

use crate::data::*;
use crate::faults::FaultyTable;
use crate::helpers::*;
use crate::state;
use onboarding::adapters::embedded::MemoryQueue;
use onboarding::app::apply::{self, ApplyPart, PartDone};
use onboarding::app::{validate, AppError};
use onboarding::domain::migration::MigrationState;
use onboarding::domain::values::MigrationId;

const USERS: usize = 23;

pub async fn a_plan_applied_in_queued_parts_ends_as_one_run_does(h: Harness) {
    let everyone = user_emails(USERS);
    let everyone: Vec<&str> = everyone.iter().map(String::as_str).collect();
    let reference = h.fresh().await;
    let sha = planned(&reference, "m1", USERS).await;
    let approved = approval("m1", &sha, Some("2026-11-24"));
    let whole = apply::apply_approval(reference.svc(), &approved).await.unwrap();
    // The day's validation summary is in the table's mail ledger; both sides send it.
    validate::validation_report(reference.svc(), &reference.config().await).await.unwrap();
    let expected = state::table(&reference, &everyone).await;

    assert_eq!(planned(&h, "m1", USERS).await, sha);
    let queue = MemoryQueue::default();
    let queued = apply::queue_apply_in_parts(h.svc(), &queue, &approved, "approvals/m1.json", "approvals/m1.json#v1", 5).await.unwrap();
    let parts: Vec<ApplyPart> = queue.take().iter().map(|m| serde_json::from_str(m).unwrap()).collect();
    assert_eq!(queued.entries, USERS as u64 + 1, "every entry is in a part (the inactive user too)");
    assert_eq!((queued.parts, parts.len()), (5, 5), "{queued:?}");
    assert_eq!(parts.iter().map(|p| p.range.entries).sum::<u64>(), queued.entries);
    let migration = MigrationId::parse("m1").unwrap();
    assert_eq!(h.table.get_migration(&migration).await.unwrap().unwrap().state, MigrationState::Applying);
    assert!(state::table(&h, &everyone).await != expected, "queueing applies nothing");
    let config = h.config().await;
    let (report, _) = validate::validation_report(h.svc(), &config).await.unwrap();
    assert_eq!(report.unfinished_applies.len(), 1, "the daily report names an apply still in the queue");
    assert!(report.unfinished_applies[0].contains("Migration m1") && report.unfinished_applies[0].contains("dead-letter queue"));
    assert!(report.html().contains("not wholly applied"));

    // The last part first, then the others backwards; part 2 crashes half-way and comes again,
    // part 3 comes twice. Only the part that completes the set answers the whole outcome.
    let order = [4, 3, 3, 2, 1, 0];
    let faulty = FaultyTable::new(h.table.as_ref(), 4, true);
    let crashed = apply::apply_part(h.svc_with(&faulty), &parts[2]).await;
    assert!(matches!(crashed, Err(AppError::Port(_))), "the crash did not fail the part: {crashed:?}");
    let mut finished = Vec::new();
    for (step, &index) in order.iter().enumerate() {
        match apply::apply_part(h.svc(), &parts[index]).await.unwrap() {
            PartDone::Applied => {}
            PartDone::Finished(outcome) => finished.push((step, outcome)),
            PartDone::Stale(reason) => panic!("part {index} was dropped: {reason}"),
        }
    }
    assert_eq!(finished.len(), 1, "one part completes the set: {finished:?}");
    let (step, outcome) = &finished[0];
    assert_eq!(*step, order.len() - 1, "the last part to come answers");
    let counts = |o: &apply::ApplyOutcome| (o.users_created, o.users_updated, o.unchanged, o.skipped_inactive, o.invites_queued);
    assert_eq!(counts(outcome), counts(&whole), "the parts' counts add up to the whole run's");
    assert_eq!(state::table(&h, &everyone).await, expected, "{}", state::diff(&expected, &state::table(&h, &everyone).await));
    assert_eq!(h.table.get_migration(&migration).await.unwrap().unwrap().state, MigrationState::Applied);
    let (report, _) = validate::validation_report(h.svc(), &config).await.unwrap();
    assert!(report.unfinished_applies.is_empty(), "{:?}", report.unfinished_applies);
    assert_eq!(report.migrations[0].users_checked, USERS as u64, "the applied migration is checked as any other");

    // A part delivered again after the end answers the same outcome and writes nothing new.
    let PartDone::Finished(again) = apply::apply_part(h.svc(), &parts[1]).await.unwrap() else { panic!("the set is complete") };
    assert_eq!(counts(&again), counts(outcome));
    assert_eq!(state::table(&h, &everyone).await, expected);

    // The same plan approved again (a new upload of the approval): nothing is created twice,
    // and the counts say so, as one run's do.
    let whole_again = apply::apply_approval(reference.svc(), &approved).await.unwrap();
    assert!(whole_again.already_applied && whole_again.users_created == 0, "{whole_again:?}");
    let expected_again = state::table(&reference, &everyone).await;
    let queue = MemoryQueue::default();
    apply::queue_apply_in_parts(h.svc(), &queue, &approved, "approvals/m1.json", "approvals/m1.json#v2", 5).await.unwrap();
    let mut finished = Vec::new();
    for message in queue.take() {
        if let PartDone::Finished(outcome) = apply::apply_part(h.svc(), &serde_json::from_str(&message).unwrap()).await.unwrap() {
            finished.push(outcome);
        }
    }
    assert_eq!(finished.len(), 1, "{finished:?}");
    assert!(finished[0].already_applied, "{:?}", finished[0]);
    assert_eq!(counts(&finished[0]), counts(&whole_again), "approved again: the parts say what one run says");
    assert_eq!(state::table(&h, &everyone).await, expected_again);

    // A part queued for a plan that was made again since is dropped, not applied over it.
    let replanned = h.upload("inbox/users/m1/export-2.csv", &users_csv(USERS + 1)).await;
    assert!(matches!(&replanned, onboarding::app::route::UploadOutcome::Plan(p) if p.plan_sha256 != sha), "{replanned:?}");
    assert!(matches!(apply::apply_part(h.svc(), &parts[0]).await.unwrap(), PartDone::Stale(_)));
}
