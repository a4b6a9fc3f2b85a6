//! The handler over the embedded adapters: an export planned, its approval handed to an
//! in-memory apply queue by the upload flow, then the queue's messages delivered as SQS does.

use super::*;
use onboarding::adapters::embedded::MemoryQueue;
use onboarding::app::route::{handle_upload, UploadOutcome};
use onboarding::domain::values::{Email, MigrationId};
use onboarding::ports::{InviteTable, MigrationTable, ObjectStore, UserTable};
use onboarding::test_support::Harness;
use std::time::Duration;
use time::macros::datetime;

const MIGRATION: &str = "acme-q4";

/// The dispatch function's fixtures: settings.json, the role guide and matrix, buildings.csv
/// and a user export of three users to create and one inactive.
const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../dispatch-invites/fixtures");

fn read(name: &str) -> Vec<u8> {
    std::fs::read(format!("{FIXTURES}/{name}")).unwrap()
}

/// Config (told about user uploads: pm@example.com), the buildings and the export planned;
/// then the approval (invites at once) uploaded with the queue in place. Answers the queue's
/// messages.
async fn approved(h: &Harness) -> Vec<String> {
    let mut settings: serde_json::Value = serde_json::from_slice(&read("settings.json")).unwrap();
    settings["notify"] = serde_json::json!({ "users": ["pm@example.com"] });
    h.objects.put("config/settings.json", serde_json::to_vec(&settings).unwrap(), "application/json").await.unwrap();
    for name in ["role-guide.csv", "role-matrix.csv"] {
        h.objects.put(&format!("config/{name}"), read(name), "text/csv").await.unwrap();
    }
    assert!(matches!(h.upload("inbox/buildings/buildings.csv", &read("buildings.csv")).await, UploadOutcome::Buildings(_)));
    let UploadOutcome::Plan(plan) = h.upload(&format!("inbox/users/{MIGRATION}/export.csv"), &read("user-export.csv")).await else {
        panic!("not planned")
    };
    let notices = h.mailer.sent_with_key("notice#").len();
    let queue = MemoryQueue::default();
    let svc = Services { queue: Some(&queue), ..h.svc() };
    let key = format!("approvals/{MIGRATION}.json");
    let approval = serde_json::json!({ "plan_sha256": plan.plan_sha256, "approved_by": "Pat PM" });
    h.objects.put(&key, approval.to_string().into_bytes(), "application/json").await.unwrap();
    match handle_upload(svc, &key, "v1").await.unwrap() {
        UploadOutcome::ApplyQueued(queued) => assert_eq!((queued.parts, queued.entries), (1, 4), "{queued:?}"),
        other => panic!("the approval was applied in its own run, not queued: {other:?}"),
    }
    let told = h.mailer.sent_with_key("notice#");
    assert_eq!(told.len(), notices + 1, "the people told about user uploads hear that the plan is being applied");
    assert!(told[notices].html.contains("is being applied"), "{}", told[notices].html);
    let users = [email("ada@acme.example")];
    assert!(h.table.get_users(&users).await.unwrap().is_empty(), "queueing creates nobody");
    queue.take()
}

fn email(raw: &str) -> Email {
    Email::parse(raw).unwrap()
}

/// An SQS event carrying `bodies`, their message ids `m0`, `m1`, …
fn event(bodies: &[String]) -> SqsEvent {
    let records: Vec<_> =
        bodies.iter().enumerate().map(|(i, body)| serde_json::json!({ "messageId": format!("m{i}"), "body": body })).collect();
    serde_json::from_value(serde_json::json!({ "Records": records })).unwrap()
}

fn failed_ids(handled: &Handled) -> Vec<String> {
    handled.response.batch_item_failures.iter().map(|f| f.item_identifier.clone()).collect()
}

fn later() -> Instant {
    Instant::now() + Duration::from_secs(60)
}

#[tokio::test]
async fn the_last_part_applies_the_plan_sends_what_is_due_and_tells_people_once() {
    let h = Harness::open(datetime!(2026-11-23 16:00 UTC));
    let messages = approved(&h).await;
    assert_eq!(messages.len(), 1);
    let notices_before = h.mailer.sent_with_key("notice#").len();

    let handled = handle(h.svc(), &ConfigOverrides::default(), event(&messages), later()).await;
    assert_eq!(handled.results, vec![PartResult::Finished]);
    assert!(failed_ids(&handled).is_empty());
    let migration = MigrationId::parse(MIGRATION).unwrap();
    let record = h.table.get_migration(&migration).await.unwrap().unwrap();
    assert_eq!(record.state, onboarding::domain::migration::MigrationState::Applied);
    assert_eq!(h.table.list_invites(&migration).await.unwrap().len(), 3, "three users created and invited");
    assert_eq!(h.mailer.sent_with_key("invite#").len(), 3, "invites due at once go out with the last part");
    let notices = h.mailer.sent_with_key("notice#");
    assert_eq!(notices.len(), notices_before + 1, "and another notice says the plan is applied");
    assert!(notices[notices_before].html.contains("was applied"), "{}", notices[notices_before].html);
    assert!(!handled.metrics.is_empty(), "the finished plan counts its users and invites");

    // SQS delivers at least once: the same part again finds every part done, and nothing
    // is created, queued, sent or told twice.
    let sends = h.mailer.sends();
    let again = handle(h.svc(), &ConfigOverrides::default(), event(&messages), later()).await;
    assert!(failed_ids(&again).is_empty());
    assert_eq!(h.mailer.sends(), sends, "a repeated part sends nothing again");
    assert_eq!(h.table.list_invites(&migration).await.unwrap().len(), 3);
}

#[tokio::test]
async fn failures_are_answered_per_message_and_the_rest_is_done() {
    let h = Harness::open(datetime!(2026-11-23 16:00 UTC));
    let messages = approved(&h).await;
    let bodies = vec!["not a part".to_string(), messages[0].clone()];
    let handled = handle(h.svc(), &ConfigOverrides::default(), event(&bodies), later()).await;
    assert_eq!(failed_ids(&handled), vec!["m0".to_string()], "only the message that is not a part goes back to the queue");
    assert_eq!(handled.results, vec![PartResult::Failed, PartResult::Finished]);

    // Out of time before a part starts: it is left for the queue, not half done.
    let h = Harness::open(datetime!(2026-11-23 16:00 UTC));
    let messages = approved(&h).await;
    let handled = handle(h.svc(), &ConfigOverrides::default(), event(&messages), Instant::now()).await;
    assert_eq!(failed_ids(&handled), vec!["m0".to_string()]);
    let migration = MigrationId::parse(MIGRATION).unwrap();
    assert!(h.table.list_invites(&migration).await.unwrap().is_empty(), "nothing was applied");
}

#[tokio::test]
async fn a_part_of_a_plan_approved_again_since_is_dropped() {
    let h = Harness::open(datetime!(2026-11-23 16:00 UTC));
    let messages = approved(&h).await;
    // The export is planned again (one user more) before the part is taken.
    let mut export = read("user-export.csv");
    export.extend_from_slice(b"\n");
    let mut text = String::from_utf8(export).unwrap();
    let last = text.lines().nth(1).unwrap().replace("ada@acme.example", "zed@acme.example");
    text.push_str(&last);
    text.push('\n');
    let UploadOutcome::Plan(_) = h.upload(&format!("inbox/users/{MIGRATION}/export-2.csv"), text.as_bytes()).await else {
        panic!("not planned")
    };
    let handled = handle(h.svc(), &ConfigOverrides::default(), event(&messages), later()).await;
    assert_eq!(handled.results, vec![PartResult::Stale]);
    assert!(failed_ids(&handled).is_empty(), "a stale part is done with, not retried forever");
    let migration = MigrationId::parse(MIGRATION).unwrap();
    assert!(h.table.list_invites(&migration).await.unwrap().is_empty(), "the old plan is not applied over the new one");
}
