//! The adapter against mocked DynamoDB answers: partial batches, throttling, lost answers and
//! failed conditions.

use super::item::{mail_key, s, user_key, with, Item};
use super::DynamoTable;
use crate::adapters::aws::retry::Backoff;
use crate::domain::invite::MailStatus;
use crate::domain::values::{BuildingId, Email, MigrationId};
use crate::ports::*;
use aws_sdk_dynamodb::operation::batch_get_item::BatchGetItemOutput;
use aws_sdk_dynamodb::operation::batch_write_item::{BatchWriteItemError, BatchWriteItemOutput};
use aws_sdk_dynamodb::operation::get_item::{GetItemError, GetItemOutput};
use aws_sdk_dynamodb::operation::put_item::{PutItemError, PutItemOutput};
use aws_sdk_dynamodb::operation::transact_write_items::{TransactWriteItemsError, TransactWriteItemsOutput};
use aws_sdk_dynamodb::operation::update_item::{UpdateItemError, UpdateItemOutput};
use aws_sdk_dynamodb::types::error::{
    ConditionalCheckFailedException, ProvisionedThroughputExceededException, TransactionCanceledException,
};
use aws_sdk_dynamodb::types::{AttributeValue, CancellationReason, KeysAndAttributes, PutRequest, WriteRequest};
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use time::macros::datetime;

const TABLE: &str = "onboarding";
const QUICK: Backoff = Backoff { first: Duration::from_millis(1), cap: Duration::from_millis(4), tries: 4 };

fn table(rules: &[&Rule]) -> DynamoTable {
    let client =
        mock_client!(aws_sdk_dynamodb, RuleMode::Sequential, rules, |c| c.retry_config(aws_smithy_types::retry::RetryConfig::disabled()));
    DynamoTable::new(client, TABLE.into()).with_backoff(QUICK)
}

fn email(raw: &str) -> Email {
    Email::parse(raw).unwrap()
}

fn new_user(address: &str) -> NewUser {
    NewUser {
        email: email(address),
        first_name: "Ada".into(),
        last_name: "Lovelace".into(),
        roles: vec!["VR Host".into()],
        buildings: vec![BuildingId::parse("3f2b8c1e-0d4a-4c8e-9a51-2f6d7e8b9c10").unwrap()],
        migration: MigrationId::parse("m1").unwrap(),
    }
}

fn user_put(address: &str) -> WriteRequest {
    let item = with(user_key(&email(address)), [("email", s(address))]);
    WriteRequest::builder().put_request(PutRequest::builder().set_item(Some(item)).build().unwrap()).build()
}

/// The addresses a BatchWriteItem request puts.
fn emails_put(request: &aws_sdk_dynamodb::operation::batch_write_item::BatchWriteItemInput) -> Vec<String> {
    let writes = request.request_items().and_then(|tables| tables.get(TABLE)).cloned().unwrap_or_default();
    writes.iter().filter_map(|w| w.put_request()).filter_map(|p| p.item().get("email").and_then(|v| v.as_s().ok()).cloned()).collect()
}

/// A BatchWriteItem answer that leaves `left` unprocessed, recording what each call sent.
fn batch_write(log: &Arc<Mutex<Vec<Vec<String>>>>, left: &'static [&'static str]) -> Rule {
    let log = Arc::clone(log);
    mock!(aws_sdk_dynamodb::Client::batch_write_item)
        .match_requests(move |request| {
            log.lock().unwrap().push(emails_put(request));
            true
        })
        .then_output(move || BatchWriteItemOutput::builder().unprocessed_items(TABLE, left.iter().map(|e| user_put(e)).collect()).build())
}

#[tokio::test]
async fn unprocessed_items_are_sent_again_until_every_user_is_written_once() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let (first, second, third) =
        (batch_write(&log, &["b@example.com", "c@example.com"]), batch_write(&log, &["c@example.com"]), batch_write(&log, &[]));
    let db = table(&[&first, &second, &third]);
    db.batch_write(puts(&["a@example.com", "b@example.com", "c@example.com"])).await.unwrap();
    let calls = log.lock().unwrap().clone();
    assert_eq!(
        calls,
        [vec!["a@example.com", "b@example.com", "c@example.com"], vec!["b@example.com", "c@example.com"], vec!["c@example.com"]]
    );
    // Written by a call = sent by it and not sent again by the next one.
    let mut written = Vec::new();
    for (i, sent) in calls.iter().enumerate() {
        let next = calls.get(i + 1).cloned().unwrap_or_default();
        written.extend(sent.iter().filter(|e| !next.contains(e)).cloned());
    }
    written.sort();
    assert_eq!(written, ["a@example.com", "b@example.com", "c@example.com"], "each user written exactly once");
}

/// The addresses each TransactWriteItems puts, conditional ones plain, others marked.
fn transacted(request: &aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsInput) -> Vec<String> {
    request
        .transact_items()
        .iter()
        .filter_map(|item| item.put())
        .map(|put| {
            let address = put.item().get("email").and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
            if put.condition_expression() == Some("attribute_not_exists(#pk)") {
                address
            } else {
                format!("UNCONDITIONAL {address}")
            }
        })
        .collect()
}

/// `calls` TransactWriteItems calls that succeed, recording what each put.
fn users_created(log: &Arc<Mutex<Vec<Vec<String>>>>, calls: usize) -> Rule {
    let log = Arc::clone(log);
    mock!(aws_sdk_dynamodb::Client::transact_write_items)
        .match_requests(move |request| {
            log.lock().unwrap().push(transacted(request));
            true
        })
        .sequence()
        .output(|| TransactWriteItemsOutput::builder().build())
        .times(calls)
        .build()
}

/// A cancelled transaction: `reasons` per item, `Some(old)` for one whose condition failed.
fn cancelled(reasons: Vec<(&'static str, Option<Item>)>) -> TransactWriteItemsError {
    let reasons =
        reasons.into_iter().map(|(code, item)| CancellationReason::builder().code(code).set_item(item).build()).collect::<Vec<_>>();
    TransactWriteItemsError::TransactionCanceledException(
        TransactionCanceledException::builder().message("Transaction cancelled").set_cancellation_reasons(Some(reasons)).build(),
    )
}

fn created_by(address: &str, migration: &str) -> Item {
    with(user_key(&email(address)), [("email", s(address)), ("migration", s(migration))])
}

#[tokio::test]
async fn users_that_exist_are_not_written_again_and_are_answered_with_their_creator() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let logged = Arc::clone(&log);
    // No read first: the transaction is the check. It is cancelled naming a (with its item);
    // b goes again alone.
    let write = mock!(aws_sdk_dynamodb::Client::transact_write_items)
        .match_requests(move |request| {
            logged.lock().unwrap().push(transacted(request));
            true
        })
        .sequence()
        .error(|| cancelled(vec![("ConditionalCheckFailed", Some(created_by("a@example.com", "m0"))), ("None", None)]))
        .output(|| TransactWriteItemsOutput::builder().build())
        .build();
    let db = table(&[&write]);
    let existed = db.create_users(&["a@example.com", "b@example.com", "b@example.com"].map(new_user)).await.unwrap();
    let calls = log.lock().unwrap().clone();
    assert_eq!(calls, [vec!["a@example.com", "b@example.com"], vec!["b@example.com"]], "conditional puts only, the duplicate row once");
    assert_eq!(existed.len(), 1);
    assert_eq!(existed[&email("a@example.com")], Some(MigrationId::parse("m0").unwrap()));
}

#[tokio::test]
async fn a_hundred_new_users_are_one_transaction_of_conditional_puts() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let write = users_created(&log, 2);
    let db = table(&[&write]);
    let everyone = addresses(150);
    let existed = db.create_users(&everyone.iter().map(|a| new_user(a)).collect::<Vec<_>>()).await.unwrap();
    assert!(existed.is_empty());
    let calls = log.lock().unwrap().clone();
    assert_eq!(calls.iter().map(Vec::len).collect::<Vec<_>>(), [100, 50], "150 users are two transactions");
    let mut written = calls.concat();
    written.sort();
    assert_eq!(written, everyone, "every user put once, each on its condition");
}

#[tokio::test]
async fn a_user_created_between_the_read_and_the_write_is_never_overwritten() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let logged = Arc::clone(&log);
    // Another migration's apply created b meanwhile: the transaction is cancelled, naming b with
    // its item; a and c go again, without b.
    let raced = mock!(aws_sdk_dynamodb::Client::transact_write_items)
        .match_requests(move |request| {
            logged.lock().unwrap().push(transacted(request));
            true
        })
        .sequence()
        .error(|| {
            cancelled(vec![("None", None), ("ConditionalCheckFailed", Some(created_by("b@example.com", "other-wave"))), ("None", None)])
        })
        .output(|| TransactWriteItemsOutput::builder().build())
        .build();
    let db = table(&[&raced]);
    let existed = db.create_users(&["a@example.com", "b@example.com", "c@example.com"].map(new_user)).await.unwrap();
    assert_eq!(existed.len(), 1);
    assert_eq!(existed[&email("b@example.com")], Some(MigrationId::parse("other-wave").unwrap()));
    let calls = log.lock().unwrap().clone();
    assert_eq!(calls, [vec!["a@example.com", "b@example.com", "c@example.com"], vec!["a@example.com", "c@example.com"]]);
}

#[tokio::test]
async fn a_transaction_cancelled_by_contention_is_tried_again_then_throttled() {
    let conflicted = mock!(aws_sdk_dynamodb::Client::transact_write_items)
        .sequence()
        .error(|| cancelled(vec![("TransactionConflict", None)]))
        .times(2)
        .output(|| TransactWriteItemsOutput::builder().build())
        .build();
    let db = table(&[&conflicted]);
    assert!(db.create_users(&[new_user("a@example.com")]).await.unwrap().is_empty());
    assert_eq!(conflicted.num_calls(), 3, "two conflicts, then written");

    let stuck = mock!(aws_sdk_dynamodb::Client::transact_write_items)
        .sequence()
        .error(|| cancelled(vec![("TransactionConflict", None)]))
        .times(10)
        .build();
    let db = table(&[&stuck]);
    assert!(matches!(db.create_users(&[new_user("a@example.com")]).await, Err(PortError::Throttled(_))), "contention that never ends");
}

fn puts(addresses: &[&str]) -> Vec<WriteRequest> {
    addresses.iter().map(|a| user_put(a)).collect()
}

#[tokio::test]
async fn unprocessed_items_that_never_clear_end_as_throttled_with_the_count() {
    let stuck = mock!(aws_sdk_dynamodb::Client::batch_write_item)
        .sequence()
        .output(|| BatchWriteItemOutput::builder().unprocessed_items(TABLE, vec![user_put("b@example.com")]).build())
        .times(4)
        .build();
    let db = table(&[&stuck]);
    let result = db.batch_write(puts(&["a@example.com", "b@example.com"])).await;
    match result {
        Err(PortError::Throttled(message)) => assert!(message.contains("1 of 2 items still unwritten"), "{message}"),
        other => panic!("expected Throttled, got {other:?}"),
    }
    assert_eq!(stuck.num_calls(), 4, "the whole budget, then stop");
}

fn addresses(count: usize) -> Vec<String> {
    (0..count).map(|i| format!("user{i:03}@example.com")).collect()
}

#[tokio::test]
async fn many_writes_go_several_calls_at_a_time_and_each_lands_once() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let logged = Arc::clone(&log);
    let writes = mock!(aws_sdk_dynamodb::Client::batch_write_item)
        .match_requests(move |request| {
            logged.lock().unwrap().push(emails_put(request));
            true
        })
        .sequence()
        .output(|| BatchWriteItemOutput::builder().build())
        .times(6)
        .build();
    let db = table(&[&writes]);
    let everyone = addresses(150);
    db.batch_write(everyone.iter().map(|a| user_put(a)).collect()).await.unwrap();
    let calls = log.lock().unwrap().clone();
    assert_eq!(calls.len(), 6, "150 writes are six calls");
    assert!(calls.iter().all(|sent| sent.len() == 25), "{:?}", calls.iter().map(Vec::len).collect::<Vec<_>>());
    let mut written: Vec<String> = calls.concat();
    written.sort();
    assert_eq!(written, everyone, "every user written exactly once");
}

#[tokio::test]
async fn once_a_call_gives_up_no_new_call_starts_and_the_count_left_is_exact() {
    let stuck = mock!(aws_sdk_dynamodb::Client::batch_write_item)
        .sequence()
        .output(|| BatchWriteItemOutput::builder().unprocessed_items(TABLE, vec![user_put("user000@example.com")]).build())
        .times(100)
        .build();
    let db = table(&[&stuck]);
    let everyone = addresses(150);
    let result = db.batch_write(everyone.iter().map(|a| user_put(a)).collect()).await;
    // Four calls were under way (each spends its budget of four tries, one write left each);
    // the last two chunks of 25 never started.
    match result {
        Err(PortError::Throttled(message)) => assert!(message.contains("54 of 150 items still unwritten"), "{message}"),
        other => panic!("expected Throttled, got {other:?}"),
    }
    assert_eq!(stuck.num_calls(), 16, "four calls in flight, four tries each, then nothing new");
}

#[tokio::test]
async fn unprocessed_keys_are_read_again() {
    let user =
        |address: &str| with(user_key(&email(address)), [("email", s(address)), ("roles", AttributeValue::Ss(vec!["VR Host".into()]))]);
    let keys_asked = |r: &aws_sdk_dynamodb::operation::batch_get_item::BatchGetItemInput| {
        r.request_items().and_then(|t| t.get(TABLE)).map(|k| k.keys().len()).unwrap_or_default()
    };
    let first = mock!(aws_sdk_dynamodb::Client::batch_get_item).match_requests(move |r| keys_asked(r) == 3).then_output(move || {
        let left = aws_sdk_dynamodb::types::KeysAndAttributes::builder().keys(user_key(&email("b@example.com"))).build().unwrap();
        BatchGetItemOutput::builder().responses(TABLE, vec![user("a@example.com")]).unprocessed_keys(TABLE, left).build()
    });
    let second = mock!(aws_sdk_dynamodb::Client::batch_get_item)
        .match_requests(move |r| keys_asked(r) == 1)
        .then_output(move || BatchGetItemOutput::builder().responses(TABLE, vec![user("b@example.com")]).build());
    let db = table(&[&first, &second]);
    let users = db.get_users(&[email("a@example.com"), email("b@example.com"), email("c@example.com")]).await;
    let mut found: Vec<String> = users.unwrap().into_keys().map(String::from).collect();
    found.sort();
    assert_eq!(found, ["a@example.com", "b@example.com"]);
}

/// A throttled table answers a few keys of each batch and leaves the rest unprocessed, call
/// after call. As long as each call reads something the lookup goes on (backing off), however
/// many calls that takes: slower, never given up while it progresses.
#[tokio::test]
async fn a_lookup_that_progresses_a_little_each_call_goes_on_until_every_key_is_read() {
    let rule = mock!(aws_sdk_dynamodb::Client::batch_get_item).then_compute_output(|request| {
        let keys = request.request_items().and_then(|t| t.get(TABLE)).map(|k| k.keys().to_vec()).unwrap_or_default();
        let (first, rest) = keys.split_first().expect("a call asks for at least one key");
        let mut builder = BatchGetItemOutput::builder().responses(TABLE, vec![first.clone()]);
        if !rest.is_empty() {
            builder = builder.unprocessed_keys(TABLE, KeysAndAttributes::builder().set_keys(Some(rest.to_vec())).build().unwrap());
        }
        builder.build()
    });
    let client =
        mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&rule], |c| c.retry_config(aws_smithy_types::retry::RetryConfig::disabled()));
    let db = DynamoTable::new(client, TABLE.into()).with_backoff(QUICK);
    let keys: Vec<Item> = (0..30).map(|n| user_key(&email(&format!("u{n}@example.com")))).collect();
    let found = db.batch_get(keys).await.expect("every key read in the end");
    assert_eq!(found.len(), 30);
    assert_eq!(rule.num_calls(), 30, "one key a call, with a budget of {} tries without progress", QUICK.tries);
}

/// Calls that read nothing still spend the budget: a table that never answers is given up.
#[tokio::test]
async fn a_lookup_that_reads_nothing_is_given_up_after_the_budget() {
    let rule = mock!(aws_sdk_dynamodb::Client::batch_get_item).then_compute_output(|request| {
        let keys = request.request_items().and_then(|t| t.get(TABLE)).cloned().unwrap();
        BatchGetItemOutput::builder().unprocessed_keys(TABLE, keys).build()
    });
    let client =
        mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&rule], |c| c.retry_config(aws_smithy_types::retry::RetryConfig::disabled()));
    let db = DynamoTable::new(client, TABLE.into()).with_backoff(QUICK);
    let keys: Vec<Item> = (0..3).map(|n| user_key(&email(&format!("u{n}@example.com")))).collect();
    match db.batch_get(keys).await {
        Err(PortError::Throttled(detail)) => assert!(detail.contains("3 of 3 keys still unread"), "{detail}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(rule.num_calls(), QUICK.tries as usize);
}

fn throughput_exceeded() -> ProvisionedThroughputExceededException {
    ProvisionedThroughputExceededException::builder().message("slow down").build()
}

#[tokio::test]
async fn throttled_batch_writes_are_retried() {
    let write = mock!(aws_sdk_dynamodb::Client::batch_write_item)
        .sequence()
        .error(|| BatchWriteItemError::ProvisionedThroughputExceededException(throughput_exceeded()))
        .times(2)
        .output(|| BatchWriteItemOutput::builder().build())
        .build();
    let db = table(&[&write]);
    db.batch_write(puts(&["a@example.com"])).await.unwrap();
    assert_eq!(write.num_calls(), 3);
}

#[tokio::test]
async fn provisioned_throughput_exceeded_is_retried_then_succeeds() {
    let building = BuildingId::parse("3f2b8c1e-0d4a-4c8e-9a51-2f6d7e8b9c10").unwrap();
    let get = mock!(aws_sdk_dynamodb::Client::get_item)
        .sequence()
        .error(|| GetItemError::ProvisionedThroughputExceededException(throughput_exceeded()))
        .times(2)
        .output(|| GetItemOutput::builder().item("granted_at", s("2024-05-01T00:00:00Z")).build())
        .build();
    let db = table(&[&get]);
    assert!(db.has_grant(&building, &email("a@example.com")).await.unwrap());
    assert_eq!(get.num_calls(), 3);
}

#[tokio::test]
async fn throttling_that_never_ends_is_throttled_not_an_answer() {
    let building = BuildingId::parse("3f2b8c1e-0d4a-4c8e-9a51-2f6d7e8b9c10").unwrap();
    let get = mock!(aws_sdk_dynamodb::Client::get_item)
        .sequence()
        .error(|| GetItemError::ProvisionedThroughputExceededException(throughput_exceeded()))
        .times(4)
        .build();
    let db = table(&[&get]);
    assert!(matches!(db.has_grant(&building, &email("a@example.com")).await, Err(PortError::Throttled(_))));
    assert_eq!(get.num_calls(), 4);
}

fn condition_failed(item: Option<Item>) -> PutItemError {
    let mut error = ConditionalCheckFailedException::builder().message("The conditional request failed");
    for (name, value) in item.unwrap_or_default() {
        error = error.item(name, value);
    }
    PutItemError::ConditionalCheckFailedException(error.build())
}

fn sent_entry() -> Item {
    with(
        mail_key("invite#m1#a@example.com"),
        [
            ("key", s("invite#m1#a@example.com")),
            ("status", s("sent")),
            ("message_id", s("ses-1")),
            ("updated_at", s("2024-05-01T00:00:00Z")),
        ],
    )
}

#[tokio::test]
async fn a_claimed_mail_key_returns_the_existing_entry() {
    let put = mock!(aws_sdk_dynamodb::Client::put_item)
        .match_requests(|r| r.condition_expression() == Some("attribute_not_exists(#pk)"))
        .then_error(|| condition_failed(None));
    let get = mock!(aws_sdk_dynamodb::Client::get_item).then_output(|| GetItemOutput::builder().set_item(Some(sent_entry())).build());
    let db = table(&[&put, &get]);
    let entry = db.claim_mail("invite#m1#a@example.com", datetime!(2024-05-02 0:00 UTC)).await.unwrap().expect("the existing entry");
    assert_eq!((entry.status, entry.message_id.as_deref()), (MailStatus::Sent, Some("ses-1")));
}

#[tokio::test]
async fn the_entry_returned_with_the_failed_condition_saves_a_read() {
    let put = mock!(aws_sdk_dynamodb::Client::put_item).then_error(|| condition_failed(Some(sent_entry())));
    let db = table(&[&put]);
    let entry = db.claim_mail("invite#m1#a@example.com", datetime!(2024-05-02 0:00 UTC)).await.unwrap();
    assert_eq!(entry.map(|e| e.status), Some(MailStatus::Sent));
}

#[tokio::test]
async fn a_claim_whose_answer_was_lost_is_recognised_as_ours() {
    // The first put answers 500 (it may have been applied); the retry meets our own token.
    let token = Arc::new(Mutex::new(String::new()));
    let seen = Arc::clone(&token);
    let lost = mock!(aws_sdk_dynamodb::Client::put_item).sequence().http_status(500, None).build();
    let retry = mock!(aws_sdk_dynamodb::Client::put_item)
        .match_requests(move |r| {
            *seen.lock().unwrap() = r.item().and_then(|i| i.get("claim")).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
            true
        })
        .then_error(move || {
            let mut ours = with(mail_key("k"), [("key", s("k")), ("status", s("sending")), ("updated_at", s("2024-05-02T00:00:00Z"))]);
            ours.insert("claim".into(), AttributeValue::S(token.lock().unwrap().clone()));
            condition_failed(Some(ours))
        });
    let db = table(&[&lost, &retry]);
    assert_eq!(db.claim_mail("k", datetime!(2024-05-02 0:00 UTC)).await.unwrap(), None, "claimed by us");
}

#[tokio::test]
async fn an_event_claim_tells_done_from_in_progress() {
    let now = datetime!(2024-05-02 12:00 UTC);
    let done = mock!(aws_sdk_dynamodb::Client::put_item).then_error(|| condition_failed(Some(Item::from([("status".into(), s("done"))]))));
    let busy = mock!(aws_sdk_dynamodb::Client::put_item).then_error(move || {
        let claimed_at = AttributeValue::N((now.unix_timestamp() - 10).to_string());
        condition_failed(Some(Item::from([
            ("status".into(), s("claimed")),
            ("claimed_at".into(), claimed_at),
            ("claim".into(), s("someone-else")),
        ])))
    });
    let free = mock!(aws_sdk_dynamodb::Client::put_item)
        .match_requests(move |r| {
            let stale = r.expression_attribute_values().and_then(|v| v.get(":stale")).and_then(|v| v.as_n().ok()).cloned();
            stale == Some((now.unix_timestamp() - 300).to_string())
        })
        .then_output(|| PutItemOutput::builder().build());
    let db = table(&[&done, &busy, &free]);
    assert_eq!(db.claim_event("inbox/a.csv", now, 300).await.unwrap(), EventClaim::Done);
    assert_eq!(db.claim_event("inbox/b.csv", now, 300).await.unwrap(), EventClaim::InProgress);
    assert_eq!(db.claim_event("inbox/c.csv", now, 300).await.unwrap(), EventClaim::Claimed);
}

#[tokio::test]
async fn granting_to_an_unknown_user_is_not_found_and_empty_sets_are_left_out() {
    let update = mock!(aws_sdk_dynamodb::Client::update_item)
        .match_requests(|r| r.update_expression() == Some("ADD #roles :roles") && r.condition_expression() == Some("attribute_exists(#pk)"))
        .then_error(|| UpdateItemError::ConditionalCheckFailedException(ConditionalCheckFailedException::builder().build()));
    let granted = mock!(aws_sdk_dynamodb::Client::update_item)
        .match_requests(|r| r.update_expression() == Some("ADD #roles :roles, #buildings :buildings"))
        .then_output(|| UpdateItemOutput::builder().build());
    let db = table(&[&update, &granted]);
    let result = db.grant_access(&email("ghost@example.com"), &["VR Host".into()], &[]).await;
    match result {
        Err(PortError::NotFound(what)) => assert!(!what.contains("ghost@"), "{what}"),
        other => panic!("{other:?}"),
    }
    let building = BuildingId::parse("3f2b8c1e-0d4a-4c8e-9a51-2f6d7e8b9c10").unwrap();
    db.grant_access(&email("ada@example.com"), &["VR Host".into()], &[building]).await.unwrap();
}

/// The partition key and the start key's address of each Query, in order.
type QueriesAsked = Arc<Mutex<Vec<(String, Option<String>)>>>;

/// A Query answer of no invites that names where the partition goes on (`Some`) or says it
/// ended (`None`), logging what each call asked for.
fn invite_partition(log: &QueriesAsked, goes_on_after: Option<&'static str>) -> Rule {
    let log = log.clone();
    mock!(aws_sdk_dynamodb::Client::query).then_compute_output(move |request| {
        let text = |item: Option<&Item>, name: &str| item.and_then(|i| i.get(name)).and_then(|v| v.as_s().ok()).cloned();
        let pk = text(request.expression_attribute_values(), ":pk").unwrap_or_default();
        log.lock().unwrap().push((pk.clone(), text(request.exclusive_start_key(), "sk")));
        let last = goes_on_after.map(|sk| Item::from([("pk".to_string(), s(pk.as_str())), ("sk".to_string(), s(sk))]));
        aws_sdk_dynamodb::operation::query::QueryOutput::builder().set_items(Some(Vec::new())).set_last_evaluated_key(last).build()
    })
}

#[tokio::test]
async fn a_run_of_invite_pages_keeps_to_its_partition_and_the_first_page_goes_on_to_the_next() {
    let m = MigrationId::parse("wave").unwrap();
    let log = QueriesAsked::default();
    let rules = [Some("b@example.com"), None, None, None].map(|after| invite_partition(&log, after));
    let db = table(&rules.iter().collect::<Vec<_>>());
    let runs = db.invite_runs(&m);
    assert_eq!(runs.len(), 16, "one run a partition");

    // The run of partition 3: a page that goes on, then its last; then the run ends.
    let first = db.invite_page(&m, runs[3].as_ref()).await.unwrap();
    let next = first.next.expect("the partition goes on");
    let last = db.invite_page(&m, Some(&next)).await.unwrap();
    assert!(last.next.is_none(), "a run ends with its partition: {:?}", last.next);
    // From the first page (no run asked for), the end of a partition leads to the next one.
    let whole = db.invite_page(&m, None).await.unwrap();
    assert_eq!(whole.next, Some(InvitePageMark("1".into())));
    let from_fifteen = db.invite_page(&m, Some(&InvitePageMark("15".into()))).await.unwrap();
    assert!(from_fifteen.next.is_none(), "the last partition ends every walk");
    let asked = log.lock().unwrap().clone();
    let expected = [("INVITE#wave#3", None), ("INVITE#wave#3", Some("b@example.com")), ("INVITE#wave#0", None), ("INVITE#wave#15", None)];
    assert_eq!(asked, expected.map(|(pk, sk)| (pk.to_string(), sk.map(str::to_string))));

    // A mark the table did not make is refused without being repeated (it may hold an address).
    let refused = db.invite_page(&m, Some(&InvitePageMark("=x#someone@example.com".into()))).await;
    assert!(matches!(&refused, Err(PortError::Unexpected(text)) if !text.contains("someone")), "{refused:?}");
}
