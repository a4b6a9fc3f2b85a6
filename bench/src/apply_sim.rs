//! An apply of many new users against DynamoDB as it would be reached from Lambda: the real use
//! case and the real DynamoDB adapter, over an SDK client whose HTTP layer is a small in-memory
//! DynamoDB that answers every call after a fixed delay (10 ms by default). The plan is made on
//! the embedded adapters (planning is not what is timed); its migration record is copied into
//! the simulated table; then `apply_approval` runs and its wall time is measured.
//!
//! The simulated table keeps only keys for users and invites (nothing reads them back when every
//! user is new) and whole items for everything else (the migration record). It honours
//! `attribute_not_exists` conditions, the ones apply relies on, on PutItem and on the puts of a
//! TransactWriteItems (cancelling the transaction as DynamoDB does). With `--reschedule` it
//! keeps the invites whole, answers their Query pages (Limit, ExclusiveStartKey) and honours
//! the reschedule's `#status = :expected` condition, and every invite is then moved a week on.

use crate::fixture::{err, Fixture};
use crate::timing::process_cpu;
use crate::users::{write_users, UsersSpec};
use aws_smithy_runtime_api::client::http::{http_client_fn, HttpConnector, HttpConnectorFuture, SharedHttpConnector};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::http::{Response, StatusCode};
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::retry::RetryConfig;
use onboarding::domain::approval::Approval;
use onboarding::domain::values::MigrationId;
use onboarding::ports::MigrationTable;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What the simulated table holds: keys of users and invites, whole items of the rest; with
/// `keep_invites`, the invites whole too, in key order (a reschedule reads them in pages).
#[derive(Debug, Default)]
struct Items {
    items: HashMap<(String, String), Option<Value>>,
    invites: std::collections::BTreeMap<(String, String), Value>,
    keep_invites: bool,
}

impl Items {
    fn get(&self, key: &(String, String)) -> Option<Value> {
        if let Some(invite) = self.invites.get(key) {
            return Some(invite.clone());
        }
        self.items.get(key).map(|item| item.clone().unwrap_or_else(|| json!({"pk": {"S": key.0}, "sk": {"S": key.1}})))
    }

    fn put(&mut self, key: (String, String), item: Value) {
        if self.keep_invites && key.0.starts_with("INVITE#") {
            self.invites.insert(key, item);
        } else {
            let value = kept(&key, item);
            self.items.insert(key, value);
        }
    }

    fn remove(&mut self, key: &(String, String)) {
        self.invites.remove(key);
        self.items.remove(key);
    }

    /// A Query page of the invites under `pk`, after `start`, at most `limit`; and the last
    /// key, when the page is full.
    fn invite_page(&self, pk: &str, start: Option<String>, limit: usize) -> (Vec<Value>, Option<Value>) {
        use std::ops::Bound;
        let from = match start {
            Some(sk) => Bound::Excluded((pk.to_string(), sk)),
            None => Bound::Included((pk.to_string(), String::new())),
        };
        let page: Vec<(&(String, String), &Value)> =
            self.invites.range((from, Bound::Unbounded)).take_while(|(key, _)| key.0 == pk).take(limit).collect();
        let last = (page.len() == limit).then(|| page.last().map(|(key, _)| json!({"pk": {"S": key.0}, "sk": {"S": key.1}}))).flatten();
        (page.into_iter().map(|(_, item)| item.clone()).collect(), last)
    }
}

/// The in-memory DynamoDB behind the SDK client.
#[derive(Debug, Clone)]
struct SimulatedDynamo {
    items: Arc<Mutex<Items>>,
    delay: Duration,
    calls: Arc<AtomicU64>,
    writes: Arc<AtomicU64>,
    /// Time spent being DynamoDB (parsing requests, answering): not the apply's own work.
    busy_nanos: Arc<AtomicU64>,
    /// PutItems waiting for their answer, by partition key, and the most one key had at once
    /// (DynamoDB serves about 1,000 writes a second to one key).
    puts_in_flight: Arc<Mutex<HashMap<String, u64>>>,
    busiest_key: Arc<AtomicU64>,
}

fn key_of(item: &Value) -> (String, String) {
    let text = |name: &str| item.get(name).and_then(|v| v.get("S")).and_then(Value::as_str).unwrap_or_default().to_string();
    (text("pk"), text("sk"))
}

fn kept(key: &(String, String), item: Value) -> Option<Value> {
    if key.0.starts_with("USER#") || key.0.starts_with("INVITE#") {
        None
    } else {
        Some(item)
    }
}

impl SimulatedDynamo {
    fn answer(&self, target: &str, request: &Value) -> (u16, Value) {
        let mut store = self.items.lock().unwrap_or_else(|p| p.into_inner());
        let items = &mut *store;
        match target {
            "GetItem" => {
                let key = key_of(&request["Key"]);
                match items.get(&key) {
                    Some(item) => (200, json!({ "Item": item })),
                    None => (200, json!({})),
                }
            }
            "PutItem" => {
                self.writes.fetch_add(1, Ordering::Relaxed);
                let item = request["Item"].clone();
                let key = key_of(&item);
                let condition = request["ConditionExpression"].as_str().unwrap_or_default();
                // A reschedule's put: only while the stored invite is in the expected state.
                if condition == "#status = :expected" {
                    let expected = &request["ExpressionAttributeValues"][":expected"];
                    if items.get(&key).is_none_or(|old| &old["status"] != expected) {
                        return (
                            400,
                            json!({
                                "__type": "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException",
                                "message": "The conditional request failed",
                            }),
                        );
                    }
                }
                if condition.starts_with("attribute_not_exists") && !condition.contains(" OR ") {
                    if let Some(old) = items.get(&key) {
                        return (
                            400,
                            json!({
                                "__type": "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException",
                                "message": "The conditional request failed",
                                "Item": old,
                            }),
                        );
                    }
                }
                items.put(key, item);
                (200, json!({}))
            }
            "BatchGetItem" => {
                let mut responses = Map::new();
                for (table, wanted) in request["RequestItems"].as_object().into_iter().flatten() {
                    let found: Vec<Value> = wanted["Keys"].as_array().into_iter().flatten().filter_map(|k| items.get(&key_of(k))).collect();
                    responses.insert(table.clone(), Value::Array(found));
                }
                (200, json!({ "Responses": responses, "UnprocessedKeys": {} }))
            }
            "BatchWriteItem" => {
                self.writes.fetch_add(1, Ordering::Relaxed);
                for (_, writes) in request["RequestItems"].as_object().into_iter().flatten() {
                    for write in writes.as_array().into_iter().flatten() {
                        if let Some(item) = write.get("PutRequest").map(|p| p["Item"].clone()) {
                            items.put(key_of(&item), item);
                        } else if let Some(key) = write.get("DeleteRequest").map(|d| key_of(&d["Key"])) {
                            items.remove(&key);
                        }
                    }
                }
                (200, json!({ "UnprocessedItems": {} }))
            }
            "TransactWriteItems" => {
                self.writes.fetch_add(1, Ordering::Relaxed);
                let puts: Vec<&Value> = request["TransactItems"].as_array().into_iter().flatten().filter_map(|t| t.get("Put")).collect();
                let reasons: Vec<Value> = puts
                    .iter()
                    .map(|put| {
                        let absent_only = put["ConditionExpression"].as_str().is_some_and(|c| c.starts_with("attribute_not_exists"));
                        match items.get(&key_of(&put["Item"])) {
                            Some(old) if absent_only => json!({ "Code": "ConditionalCheckFailed", "Item": old }),
                            _ => json!({ "Code": "None" }),
                        }
                    })
                    .collect();
                if reasons.iter().any(|r| r["Code"] != "None") {
                    return (
                        400,
                        json!({
                            "__type": "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
                            "message": "Transaction cancelled",
                            "CancellationReasons": reasons,
                        }),
                    );
                }
                for put in puts {
                    items.put(key_of(&put["Item"]), put["Item"].clone());
                }
                (200, json!({}))
            }
            "UpdateItem" | "DeleteItem" => {
                self.writes.fetch_add(1, Ordering::Relaxed);
                (200, json!({}))
            }
            // The part records of a queued apply are read back; every other partition the apply
            // queries (the building index) is empty here.
            "Query" => {
                let pk = request["ExpressionAttributeValues"][":pk"]["S"].as_str().unwrap_or_default();
                if pk.starts_with("INVITE#") && items.keep_invites {
                    let start = request["ExclusiveStartKey"]["sk"]["S"].as_str().map(str::to_string);
                    let limit = request["Limit"].as_u64().map_or(usize::MAX, |l| l as usize);
                    let (found, last) = items.invite_page(pk, start, limit);
                    let count = found.len();
                    let mut answer = json!({ "Items": found, "Count": count, "ScannedCount": count });
                    if let Some(last) = last {
                        answer["LastEvaluatedKey"] = last;
                    }
                    return (200, answer);
                }
                let mut found: Vec<Value> = if pk.starts_with("APPLY#") {
                    items.items.iter().filter(|(key, _)| key.0 == pk).filter_map(|(_, item)| item.clone()).collect()
                } else {
                    Vec::new()
                };
                found.sort_by_key(|item| key_of(item).1);
                let count = found.len();
                if request["Select"].as_str() == Some("COUNT") {
                    (200, json!({ "Count": count, "ScannedCount": count }))
                } else {
                    (200, json!({ "Items": found, "Count": count, "ScannedCount": count }))
                }
            }
            "Scan" => (200, json!({ "Items": [], "Count": 0, "ScannedCount": 0 })),
            other => (
                400,
                json!({ "__type": "com.amazonaws.dynamodb.v20120810#ValidationException", "message": format!("{other} is not simulated") }),
            ),
        }
    }
}

impl HttpConnector for SimulatedDynamo {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let this = self.clone();
        let target = request.headers().get("x-amz-target").unwrap_or_default().rsplit('.').next().unwrap_or_default().to_string();
        let parsing = thread_cpu();
        let body: Value = request.body().bytes().and_then(|b| serde_json::from_slice(b).ok()).unwrap_or(Value::Null);
        self.busy_nanos.fetch_add(thread_cpu().saturating_sub(parsing).as_nanos() as u64, Ordering::Relaxed);
        let put_key = (target == "PutItem").then(|| key_of(&body["Item"]).0);
        HttpConnectorFuture::new(async move {
            this.calls.fetch_add(1, Ordering::Relaxed);
            if let Some(pk) = &put_key {
                let mut waiting = this.puts_in_flight.lock().unwrap_or_else(|p| p.into_inner());
                let count = waiting.entry(pk.clone()).or_default();
                *count += 1;
                this.busiest_key.fetch_max(*count, Ordering::Relaxed);
            }
            tokio::time::sleep(this.delay).await;
            if let Some(pk) = &put_key {
                let mut waiting = this.puts_in_flight.lock().unwrap_or_else(|p| p.into_inner());
                waiting.entry(pk.clone()).and_modify(|count| *count -= 1);
            }
            let answering = thread_cpu();
            let (status, answer) = this.answer(&target, &body);
            let answer = answer.to_string();
            this.busy_nanos.fetch_add(thread_cpu().saturating_sub(answering).as_nanos() as u64, Ordering::Relaxed);
            let mut response = Response::new(
                StatusCode::try_from(status).unwrap_or_else(|_| StatusCode::try_from(500).expect("500")),
                SdkBody::from(answer),
            );
            response.headers_mut().insert("content-type", "application/x-amz-json-1.0");
            Ok(response)
        })
    }
}

/// What one simulated apply measured.
#[derive(Debug, Clone)]
pub struct ApplyRun {
    pub users: u64,
    pub created: u64,
    pub invites: u64,
    pub wall: Duration,
    pub calls: u64,
    pub writes: u64,
    /// CPU time of the whole process during the apply (every thread).
    pub cpu: Duration,
    /// Of it, the simulated table's own work (parsing requests, answering).
    pub simulator: Duration,
    /// With `reschedule`, the reschedule of every invite after the apply.
    pub reschedule: Option<RescheduleRun>,
}

/// What one simulated reschedule measured (every invite of the applied plan moved a week on).
#[derive(Debug, Clone)]
pub struct RescheduleRun {
    pub moved: u64,
    pub wall: Duration,
    pub calls: u64,
    pub writes: u64,
    /// The most writes one partition key had waiting at once.
    pub busiest_key: u64,
}

/// Plans `users` new users on the embedded adapters, then applies the plan through the DynamoDB
/// adapter over the simulated table answering each call after `delay`: in one run
/// (`workers` 0), or handed to an in-memory apply queue that `workers` consumers empty at once,
/// as the apply-plan function's event source does at its maximum concurrency.
///
/// With `reschedule`, the simulated table keeps the invites whole, and after the apply every
/// invite is moved a week on (`reschedule_invites`, as an approver's reschedule object runs it
/// in the ingest function) and timed on its own.
pub async fn simulated_apply(fixture: &Fixture, users: u64, delay: Duration, workers: usize, reschedule: bool) -> Result<ApplyRun, String> {
    // Every row a new, valid, active, mapped user in a known building.
    let mut spec = UsersSpec::new(users, fixture.seed + 1, fixture.buildings.clone());
    spec.duplicate_share = 0.0;
    spec.inactive_share = 0.0;
    spec.bad_email_share = 0.0;
    spec.unmapped_role_share = 0.0;
    spec.unknown_building_share = 0.0;
    spec.missing_name_share = 0.0;
    spec.unknown_status_share = 0.0;
    let label = crate::fixture::label(users);
    let migration = MigrationId::parse(&format!("bench-apply-{label}")).map_err(err)?;
    let key = format!("inbox/users/bench-apply-{label}/users.csv");
    let path = fixture.path(&key);
    if !path.exists() {
        crate::fixture::generate(&path, |out| write_users(&spec, out))?;
    }
    eprintln!("planning {label} new users (embedded adapters)");
    let (summary, _) = onboarding::app::plan::plan_migration(fixture.svc(), &fixture.config, &migration, &key).await.map_err(err)?;
    let record = fixture.state.table.get_migration(&migration).await.map_err(err)?.ok_or("the plan was not recorded")?;

    let (simulated, table) = simulated_table(delay);
    simulated.items.lock().unwrap_or_else(|p| p.into_inner()).keep_invites = reschedule;
    table.put_migration(&record).await.map_err(err)?;
    let svc = onboarding::app::Services { table: &table, ..fixture.svc() };
    let approval = Approval {
        migration: migration.clone(),
        plan_sha256: summary.plan_sha256.clone(),
        approved_by: "bench".into(),
        invite_date: Some(time::OffsetDateTime::now_utc().date() + time::Duration::days(30)),
        exclude: Vec::new(),
    };
    let (calls_before, writes_before) = (simulated.calls.load(Ordering::Relaxed), simulated.writes.load(Ordering::Relaxed));
    let busy_before = simulated.busy_nanos.load(Ordering::Relaxed);
    let cpu_before = process_cpu();
    let started = Instant::now();
    let outcome = if workers == 0 {
        eprintln!("applying {label} new users in one run, {} ms a DynamoDB call", delay.as_millis());
        onboarding::app::apply::apply_approval(svc, &approval).await.map_err(err)?
    } else {
        eprintln!("applying {label} new users through the apply queue, {workers} consumers, {} ms a DynamoDB call", delay.as_millis());
        queued_apply(svc, &approval, workers).await?
    };
    let wall = started.elapsed();
    let cpu = process_cpu().saturating_sub(cpu_before);
    let simulator = Duration::from_nanos(simulated.busy_nanos.load(Ordering::Relaxed) - busy_before);
    let (calls_after, writes_after) = (simulated.calls.load(Ordering::Relaxed), simulated.writes.load(Ordering::Relaxed));
    let rescheduled = match (reschedule, approval.invite_date) {
        (true, Some(date)) => {
            eprintln!("rescheduling {} invites, {} ms a DynamoDB call", outcome.invites_queued, delay.as_millis());
            simulated.busiest_key.store(0, Ordering::Relaxed);
            let started = Instant::now();
            let moved = onboarding::app::invites::reschedule_invites(svc, &migration, date + time::Duration::days(7)).await.map_err(err)?;
            Some(RescheduleRun {
                moved: moved.moved,
                wall: started.elapsed(),
                calls: simulated.calls.load(Ordering::Relaxed) - calls_after,
                writes: simulated.writes.load(Ordering::Relaxed) - writes_after,
                busiest_key: simulated.busiest_key.load(Ordering::Relaxed),
            })
        }
        _ => None,
    };
    Ok(ApplyRun {
        users,
        created: outcome.users_created,
        invites: outcome.invites_queued,
        wall,
        calls: calls_after - calls_before,
        writes: writes_after - writes_before,
        cpu,
        simulator,
        reschedule: rescheduled,
    })
}

/// A DynamoDB adapter over a simulated table answering each call after `delay`.
fn simulated_table(delay: Duration) -> (SimulatedDynamo, onboarding::adapters::aws::DynamoTable) {
    let simulated = SimulatedDynamo {
        items: Arc::default(),
        delay,
        calls: Arc::default(),
        writes: Arc::default(),
        busy_nanos: Arc::default(),
        puts_in_flight: Arc::default(),
        busiest_key: Arc::default(),
    };
    let connector = SharedHttpConnector::new(simulated.clone());
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
        .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new("sim", "sim", None, None, "sim"))
        .endpoint_url("http://dynamodb.simulated")
        .retry_config(RetryConfig::disabled())
        .http_client(http_client_fn(move |_, _| connector.clone()))
        .build();
    let table = onboarding::adapters::aws::DynamoTable::new(aws_sdk_dynamodb::Client::from_conf(config), "simulated".into());
    (simulated, table)
}

/// What one simulated plan measured.
#[derive(Debug, Clone)]
pub struct PlanRun {
    pub rows: u64,
    pub wall: Duration,
    pub calls: u64,
    pub cpu: Duration,
}

/// The plan core of the bench's `rows` export (as `workloads::plan_core` runs it) with the
/// existing users looked up through the DynamoDB adapter over the simulated table, each
/// BatchGetItem answered after `delay` (nobody exists there yet, as on a first migration).
pub async fn simulated_plan(fixture: &Fixture, rows: u64, delay: Duration) -> Result<PlanRun, String> {
    let key = crate::fixture::users_key(rows);
    let export =
        onboarding::app::plan::read_export(fixture.svc(), &fixture.config, &crate::fixture::migration(rows), &key).await.map_err(err)?;
    let (simulated, table) = simulated_table(delay);
    let cpu_before = process_cpu();
    let started = Instant::now();
    let (planned, _) = crate::workloads::plan_pass(fixture, export, &table, std::io::sink()).await?;
    Ok(PlanRun {
        rows: planned,
        wall: started.elapsed(),
        calls: simulated.calls.load(Ordering::Relaxed),
        cpu: process_cpu().saturating_sub(cpu_before),
    })
}

/// CPU time of the calling thread so far (the simulated table's sections run without yielding,
/// so their thread CPU time is theirs alone, whatever else the machine runs).
fn thread_cpu() -> Duration {
    // SAFETY: clock_gettime writes into the zeroed struct it is given.
    let time = unsafe {
        let mut time: libc::timespec = std::mem::zeroed();
        libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut time);
        time
    };
    Duration::from_secs(time.tv_sec as u64) + Duration::from_nanos(time.tv_nsec as u64)
}

/// The approval queued in parts, then `workers` consumers taking parts until none is left, each
/// on a thread of its own with its own runtime (as each consumer is a function instance of its
/// own on AWS; here they share this machine's cores); the outcome the last part answers.
async fn queued_apply(
    svc: onboarding::app::Services<'_>,
    approval: &Approval,
    workers: usize,
) -> Result<onboarding::app::apply::ApplyOutcome, String> {
    use onboarding::app::apply::{apply_part, queue_apply, ApplyPart, PartDone};
    let queue = onboarding::adapters::embedded::MemoryQueue::default();
    let queued = queue_apply(svc, &queue, approval, "approvals/bench.json", "approvals/bench.json#v1").await.map_err(err)?;
    let parts: Vec<ApplyPart> = queue.take().iter().map(|m| serde_json::from_str(m)).collect::<Result<_, _>>().map_err(err)?;
    eprintln!("{} parts queued", queued.parts);
    let pending = Mutex::new(parts.into_iter());
    let finished = Mutex::new(None);
    let consumer = || -> Result<(), String> {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(err)?;
        runtime.block_on(async {
            loop {
                let next = pending.lock().unwrap_or_else(|p| p.into_inner()).next();
                let Some(part) = next else { return Ok(()) };
                if let PartDone::Finished(outcome) = apply_part(svc, &part).await.map_err(err)? {
                    *finished.lock().unwrap_or_else(|p| p.into_inner()) = Some(outcome);
                }
            }
        })
    };
    std::thread::scope(|scope| {
        let threads: Vec<_> = (0..workers).map(|_| scope.spawn(consumer)).collect();
        threads.into_iter().try_for_each(|thread| thread.join().map_err(|_| "a consumer panicked".to_string())?)
    })?;
    let outcome = finished.lock().unwrap_or_else(|p| p.into_inner()).take();
    outcome.ok_or_else(|| "no part finished the apply".to_string())
}
