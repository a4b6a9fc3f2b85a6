//! The handler over the embedded table, after a building and its tenant contacts were loaded
//! through the upload flow; requests from API Gateway HTTP API (v2) fixtures or built by hand.

use super::*;
use async_trait::async_trait;
use lambda_http::http::header::{ALLOW, CONTENT_TYPE};
use onboarding::adapters::embedded::EmbeddedState;
use onboarding::app::route::{handle_upload, UploadOutcome};
use onboarding::app::{NoProgress, Services};
use onboarding::domain::building::{Building, BuildingState, Phase};
use onboarding::domain::invite::{Invite, MailStatus};
use onboarding::domain::tenants::TenantContact;
use onboarding::domain::values::MigrationId;
use onboarding::ports::*;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use time::OffsetDateTime;

const GET_FIXTURE: &str = include_str!("../../fixtures/apigw-v2-get-access.json");
const BATCH_FIXTURE: &str = include_str!("../../fixtures/apigw-v2-post-access-batch.json");
const ONE_MARKET: &str = "3f2b8c1e-0d4a-4c8e-9a51-2f6d7e8b9c10";
const HARBOR_VIEW: &str = "9d1c3b5a-1111-4222-8333-444455556666";
const NOWHERE: &str = "0b7e4c1a-5d2f-4e3b-8a9c-1d2e3f4a5b6c";

/// An embedded state with both buildings and their tenant contacts, loaded by the ingest flow.
async fn loaded() -> (tempfile::TempDir, EmbeddedState) {
    let dir = tempfile::tempdir().unwrap();
    let state = EmbeddedState::open(dir.path()).unwrap();
    let svc = Services {
        objects: &state.objects,
        table: &state.table,
        mailer: &state.mailer,
        clock: &SystemClock,
        progress: &NoProgress,
        queue: None,
    };
    let uploads: [(String, &[u8]); 3] = [
        ("inbox/buildings/buildings.csv".into(), include_bytes!("../../fixtures/buildings.csv")),
        (format!("inbox/tenants/{ONE_MARKET}/contacts.csv"), include_bytes!("../../fixtures/tenants-one-market.csv")),
        (format!("inbox/tenants/{HARBOR_VIEW}/contacts.csv"), include_bytes!("../../fixtures/tenants-harbor-view.csv")),
    ];
    // The fixtures' Envoy contacts are at envoy.example: kickstarts may go there.
    state.objects.put("config/settings.json", br#"{"kickstart_domains": ["envoy.example"]}"#.to_vec(), "application/json").await.unwrap();
    for (key, bytes) in uploads {
        state.objects.put(&key, bytes.to_vec(), "text/csv").await.unwrap();
        let outcome = handle_upload(svc, &key, "v1").await.unwrap();
        assert!(matches!(outcome, UploadOutcome::Buildings(_) | UploadOutcome::Tenants(_)), "{key}: {outcome:?}");
    }
    for building in [ONE_MARKET, HARBOR_VIEW] {
        onboarding::app::buildings::set_phase(svc, &BuildingId::parse(building).unwrap(), Phase::Live, false).await.unwrap();
    }
    (dir, state)
}

/// A fixture request, edited first.
fn from_fixture(fixture: &str, edit: impl FnOnce(&mut Value)) -> Request {
    let mut value: Value = serde_json::from_str(fixture).unwrap();
    edit(&mut value);
    lambda_http::request::from_str(&value.to_string()).unwrap()
}

/// A request as a test client builds it: no API Gateway extensions, no path parameters.
fn plain(method: &str, uri: &str, body: &str) -> Request {
    let body = if body.is_empty() { Body::Empty } else { Body::from(body.to_string()) };
    lambda_http::http::Request::builder().method(method).uri(uri).body(body).unwrap()
}

fn access(building: &str, email: &str) -> String {
    let email = percent_encoding::utf8_percent_encode(email, percent_encoding::NON_ALPHANUMERIC);
    format!("https://api.example.com/v1/buildings/{building}/tiles/visitor-registration/access?email={email}")
}

fn batch(building: &str) -> String {
    format!("https://api.example.com/v1/buildings/{building}/tiles/visitor-registration/access:batch")
}

async fn call(table: &dyn Table, request: Request) -> (StatusCode, Value) {
    let (response, _) = handle(table, request).await;
    assert_eq!(response.headers().get(CONTENT_TYPE).unwrap(), "application/json");
    let body: Value = serde_json::from_slice(response.body().as_ref()).unwrap();
    (response.status(), body)
}

fn reason(body: &Value) -> &str {
    body["reason"].as_str().unwrap()
}

/// Asserts a refusal: the status, exactly `{"error": {"code", "message"}}`, and the code.
fn assert_refused(answer: &(StatusCode, Value), status: StatusCode, code: &str) {
    let (got, body) = answer;
    assert_eq!(*got, status, "{body}");
    assert_eq!(body.as_object().unwrap().len(), 1, "{body}");
    let error = body["error"].as_object().unwrap();
    assert_eq!(error.len(), 2, "{body}");
    assert_eq!(error["code"], code, "{body}");
    assert!(!error["message"].as_str().unwrap().is_empty());
}

#[tokio::test]
async fn the_gateway_get_request_is_answered_for_a_granted_contact() {
    let (_dir, state) = loaded().await;
    let (status, body) = call(&state.table, from_fixture(GET_FIXTURE, |_| {})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({ "visible": true, "can_register_visitors": true, "reason": "granted" }));
}

#[tokio::test]
async fn every_reason_is_answered() {
    let (_dir, state) = loaded().await;
    let cases = [
        (ONE_MARKET, "grace@acme.example", json!({ "visible": true, "can_register_visitors": true, "reason": "granted" })),
        (ONE_MARKET, "sam.lee@acme.example", json!({ "visible": false, "can_register_visitors": false, "reason": "not_granted" })),
        (HARBOR_VIEW, "jose@globex.example", json!({ "visible": true, "can_register_visitors": true, "reason": "granted" })),
        (HARBOR_VIEW, "ada@acme.example", json!({ "visible": true, "can_register_visitors": false, "reason": "everyone_policy_no_envoy" })),
        (NOWHERE, "ada@acme.example", json!({ "visible": false, "can_register_visitors": false, "reason": "unknown_building" })),
    ];
    for (building, email, expected) in cases {
        let (status, body) = call(&state.table, plain("GET", &access(building, email), "")).await;
        assert_eq!((status, &body), (StatusCode::OK, &expected), "{building} {email}");
    }
    // The same answers through the gateway's path parameters and parsed query.
    let request = from_fixture(GET_FIXTURE, |v| {
        v["rawQueryString"] = json!("email=sam.lee%40acme.example");
        v["queryStringParameters"] = json!({ "email": "sam.lee@acme.example" });
    });
    assert_eq!(reason(&call(&state.table, request).await.1), "not_granted");
}

#[tokio::test]
async fn the_batch_answers_in_request_order() {
    let (_dir, state) = loaded().await;
    let (status, body) = call(&state.table, from_fixture(BATCH_FIXTURE, |_| {})).await;
    assert_eq!(status, StatusCode::OK);
    let expected = json!({ "results": [
        { "email": "sam.lee@acme.example", "visible": false, "can_register_visitors": false, "reason": "not_granted" },
        { "email": "ada@acme.example", "visible": true, "can_register_visitors": true, "reason": "granted" },
        { "email": " GRACE@acme.example ", "visible": true, "can_register_visitors": true, "reason": "granted" },
        { "email": "ada@acme.example", "visible": true, "can_register_visitors": true, "reason": "granted" },
    ]});
    assert_eq!(body, expected);

    // A hundred entries, alternating, come back in the same order.
    let emails: Vec<String> =
        (0..MAX_BATCH).map(|i| if i % 2 == 0 { format!("visitor{i}@acme.example") } else { "ada@acme.example".to_string() }).collect();
    let (status, body) = call(&state.table, plain("POST", &batch(ONE_MARKET), &json!({ "emails": emails }).to_string())).await;
    assert_eq!(status, StatusCode::OK);
    let results = body["results"].as_array().unwrap();
    assert_eq!(results.len(), MAX_BATCH);
    for (i, result) in results.iter().enumerate() {
        assert_eq!(result["email"], emails[i].as_str());
        assert_eq!(reason(result), if i % 2 == 0 { "not_granted" } else { "granted" }, "entry {i}");
    }
}

#[tokio::test]
async fn bad_input_gets_a_400_with_a_code() {
    let (_dir, state) = loaded().await;
    let get = |building: &str, query: &str| plain("GET", &format!("/v1/buildings/{building}/tiles/visitor-registration/access{query}"), "");
    let post = |body: &str| plain("POST", &batch(ONE_MARKET), body);
    let too_many = json!({ "emails": vec!["ada@acme.example"; MAX_BATCH + 1] }).to_string();
    let cases = [
        (get("not-a-uuid", "?email=ada%40acme.example"), "invalid_building"),
        (get(ONE_MARKET, ""), "missing_email"),
        (get(ONE_MARKET, "?mail=ada%40acme.example"), "missing_email"),
        (get(ONE_MARKET, "?email="), "missing_email"),
        (get(ONE_MARKET, "?email=ada%40"), "invalid_email"),
        (get(ONE_MARKET, "?email=ada+lovelace%40acme.example"), "invalid_email"),
        (post("not json"), "invalid_json"),
        (post(""), "invalid_json"),
        (post(r#"{"emails": "ada@acme.example"}"#), "invalid_json"),
        (post(r#"{"emails": ["ada@acme.example"], "building": "x"}"#), "invalid_json"),
        (post(r#"{"emails": []}"#), "empty_batch"),
        (post(&too_many), "batch_too_large"),
        (post(r#"{"emails": ["ada@acme.example", "bob@"]}"#), "invalid_email"),
        (post(r#"{"emails": ["ada@acme.example", "  "]}"#), "invalid_email"),
        (plain("POST", &batch("12345"), r#"{"emails": ["ada@acme.example"]}"#), "invalid_building"),
        // API Gateway's path parameter is the one used.
        (from_fixture(GET_FIXTURE, |v| v["pathParameters"]["building"] = json!("not-a-uuid")), "invalid_building"),
        (from_fixture(BATCH_FIXTURE, |v| v["body"] = json!(r#"{"emails": ["#)), "invalid_json"),
    ];
    for (request, code) in cases {
        let uri = request.uri().to_string();
        let answer = call(&state.table, request).await;
        assert_refused(&answer, StatusCode::BAD_REQUEST, code);
        assert!(!answer.1.to_string().contains("grace"), "{uri}: no other user's data");
    }
    let (_, body) = call(&state.table, post(r#"{"emails": ["ada@acme.example", "bob@"]}"#)).await;
    assert!(body["error"]["message"].as_str().unwrap().contains("emails[1]"), "{body}");
}

#[tokio::test]
async fn a_body_over_64_kib_gets_a_413() {
    let (_dir, state) = loaded().await;
    let padding = " ".repeat(MAX_BODY_BYTES);
    let body = format!(r#"{{"emails": ["ada@acme.example"]{padding}}}"#);
    let answer = call(&state.table, plain("POST", &batch(ONE_MARKET), &body)).await;
    assert_refused(&answer, StatusCode::PAYLOAD_TOO_LARGE, "body_too_large");
    let answer = call(&state.table, from_fixture(BATCH_FIXTURE, |v| v["body"] = json!(body))).await;
    assert_refused(&answer, StatusCode::PAYLOAD_TOO_LARGE, "body_too_large");
}

#[tokio::test]
async fn unknown_routes_get_404_and_wrong_methods_405() {
    let (_dir, state) = loaded().await;
    for uri in [
        "/",
        "/v1/buildings",
        &format!("/v1/buildings/{ONE_MARKET}/tiles/other/access"),
        &format!("/v2/buildings/{ONE_MARKET}/tiles/visitor-registration/access"),
        &format!("/a/b/v1/buildings/{ONE_MARKET}/tiles/visitor-registration/access"),
    ] {
        assert_refused(&call(&state.table, plain("GET", uri, "")).await, StatusCode::NOT_FOUND, "not_found");
    }
    for (method, uri, allow) in [
        ("POST", access(ONE_MARKET, "ada@acme.example"), "GET"),
        ("DELETE", access(ONE_MARKET, "ada@acme.example"), "GET"),
        ("GET", batch(ONE_MARKET), "POST"),
    ] {
        let (response, _) = handle(&state.table, plain(method, &uri, "")).await;
        assert_eq!(response.headers().get(ALLOW).unwrap(), allow);
        let body: Value = serde_json::from_slice(response.body().as_ref()).unwrap();
        assert_refused(&(response.status(), body), StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
    }
    // A named stage before /v1 and an escaped colon are the same routes.
    let staged = format!("/prod/v1/buildings/{ONE_MARKET}/tiles/visitor-registration/access?email=ada%40acme.example");
    assert_eq!(reason(&call(&state.table, plain("GET", &staged, "")).await.1), "granted");
    let escaped = format!("/v1/buildings/{ONE_MARKET}/tiles/visitor-registration/access%3Abatch");
    let (status, _) = call(&state.table, plain("POST", &escaped, r#"{"emails": ["ada@acme.example"]}"#)).await;
    assert_eq!(status, StatusCode::OK);
}

#[derive(Clone, Default)]
struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl LogBuffer {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

/// The function's JSON logs, captured on this thread while the guard lives.
fn capture_logs() -> (LogBuffer, tracing::subscriber::DefaultGuard) {
    let logs = LogBuffer::default();
    let sink = logs.clone();
    // With a single subscriber registered, tracing caches whether a log site is enabled from
    // the subscriber of whichever thread reaches the site first (here: another test, with no
    // subscriber); a second, idle subscriber living as long as the process makes it ask them all.
    static IDLE: std::sync::OnceLock<tracing::Dispatch> = std::sync::OnceLock::new();
    IDLE.get_or_init(|| tracing::Dispatch::new(onboarding::deployment::json_log_subscriber(std::io::sink)));
    let guard = tracing::subscriber::set_default(onboarding::deployment::json_log_subscriber(move || sink.clone()));
    tracing::callsite::rebuild_interest_cache();
    (logs, guard)
}

#[tokio::test]
async fn logs_carry_no_addresses() {
    let (_dir, state) = loaded().await;
    let (logs, _guard) = capture_logs();

    assert_eq!(call(&state.table, from_fixture(GET_FIXTURE, |_| {})).await.0, StatusCode::OK);
    assert_eq!(call(&state.table, from_fixture(BATCH_FIXTURE, |_| {})).await.0, StatusCode::OK);
    call(&state.table, plain("POST", &batch(ONE_MARKET), r#"{"emails": ["ada@acme.example", "bob@"]}"#)).await;

    let text = logs.text();
    assert!(text.contains(&Email::parse("ada@acme.example").unwrap().redacted()), "the single check logs the hashed address: {text}");
    for line in text.lines() {
        let entry: Value = serde_json::from_str(line).unwrap();
        assert!(!line.contains('@'), "an address in the log: {entry}");
    }
}

/// A table whose every call fails as a throttled DynamoDB would.
struct DownTable;

use onboarding::domain::delivery::{DeliveryRecord, DeliveryState, DeliveryTally, Suppression};

fn down<T>() -> PortResult<T> {
    Err(PortError::Throttled("ProvisionedThroughputExceededException: table onboarding-prod, key BUILDING#x".into()))
}

#[async_trait]
impl EventLog for DownTable {
    async fn claim_event(&self, _: &str, _: OffsetDateTime, _: i64) -> PortResult<EventClaim> {
        down()
    }
    async fn finish_event(&self, _: &str, _: OffsetDateTime, _: &str) -> PortResult<()> {
        down()
    }
    async fn release_event(&self, _: &str) -> PortResult<()> {
        down()
    }
}

#[async_trait]
impl BuildingTable for DownTable {
    async fn get_building(&self, _: &BuildingId) -> PortResult<Option<BuildingState>> {
        down()
    }
    async fn list_buildings(&self) -> PortResult<Vec<BuildingState>> {
        down()
    }
    async fn upsert_building(&self, _: &Building, _: OffsetDateTime) -> PortResult<BuildingState> {
        down()
    }
    async fn set_phase(&self, _: &BuildingId, _: Phase, _: OffsetDateTime, _: Option<&str>) -> PortResult<()> {
        down()
    }
}

#[async_trait]
impl ContactTable for DownTable {
    async fn list_contacts(&self, _: &BuildingId) -> PortResult<Vec<TenantContact>> {
        down()
    }
    async fn put_contacts(&self, _: &BuildingId, _: &[TenantContact], _: bool, _: OffsetDateTime) -> PortResult<()> {
        down()
    }
    async fn remove_contacts(&self, _: &BuildingId, _: &[Email]) -> PortResult<()> {
        down()
    }
    async fn has_grant(&self, _: &BuildingId, _: &Email) -> PortResult<bool> {
        down()
    }
    async fn count_grants(&self, _: &BuildingId) -> PortResult<u64> {
        down()
    }
}

#[async_trait]
impl UserTable for DownTable {
    async fn get_users(&self, _: &[Email]) -> PortResult<onboarding::ports::ExistingUsers> {
        down()
    }
    async fn create_users(&self, _: &[NewUser]) -> PortResult<HashMap<Email, Option<onboarding::domain::values::MigrationId>>> {
        down()
    }
    async fn grant_access(&self, _: &Email, _: &[String], _: &[BuildingId]) -> PortResult<()> {
        down()
    }
    async fn platform_members(&self) -> PortResult<Vec<onboarding::domain::platform_users::PlatformMember>> {
        down()
    }
    async fn load_platform_users(&self, _: &[onboarding::domain::platform_users::PlatformUser]) -> PortResult<()> {
        down()
    }
    async fn drop_platform_users(&self, _: &[Email]) -> PortResult<()> {
        down()
    }
}

#[async_trait]
impl MigrationTable for DownTable {
    async fn get_migration(&self, _: &MigrationId) -> PortResult<Option<MigrationRecord>> {
        down()
    }
    async fn put_migration(&self, _: &MigrationRecord) -> PortResult<()> {
        down()
    }
    async fn list_migrations(&self) -> PortResult<Vec<MigrationRecord>> {
        down()
    }
    async fn record_apply_part(&self, _: &str, _: u32, _: &str) -> PortResult<bool> {
        down()
    }
    async fn apply_parts(&self, _: &str) -> PortResult<Vec<(u32, String)>> {
        down()
    }
}

#[async_trait]
impl InviteTable for DownTable {
    async fn queue_invites(&self, _: &[Invite]) -> PortResult<()> {
        down()
    }
    async fn due_invites(&self, _: OffsetDateTime, _: usize) -> PortResult<Vec<Invite>> {
        down()
    }
    async fn get_invite(&self, _: &MigrationId, _: &Email) -> PortResult<Option<Invite>> {
        down()
    }
    async fn list_invites(&self, _: &MigrationId) -> PortResult<Vec<Invite>> {
        down()
    }
    async fn invite_page(&self, _: &MigrationId, _: Option<&InvitePageMark>) -> PortResult<InvitePage> {
        down()
    }
    async fn update_invite(&self, _: &MigrationId, _: &Email, _: MailStatus, _: Option<&str>, _: Option<&str>, _: u32) -> PortResult<()> {
        down()
    }
    async fn replace_invite(&self, _: &Invite, _: MailStatus) -> PortResult<bool> {
        down()
    }
}

#[async_trait]
impl MailLedger for DownTable {
    async fn claim_mail(&self, _: &str, _: OffsetDateTime) -> PortResult<Option<LedgerEntry>> {
        down()
    }
    async fn finish_mail(&self, _: &str, _: MailStatus, _: Option<&str>, _: Option<&str>, _: OffsetDateTime) -> PortResult<()> {
        down()
    }
    async fn release_mail(&self, _: &str) -> PortResult<()> {
        down()
    }
    async fn get_mail(&self, _: &str) -> PortResult<Option<LedgerEntry>> {
        down()
    }
    async fn park_mail(&self, _: &onboarding::domain::mail::OutgoingMail) -> PortResult<()> {
        down()
    }
    async fn parked_mail(&self, _: usize) -> PortResult<Vec<onboarding::domain::mail::OutgoingMail>> {
        down()
    }
    async fn unpark_mail(&self, _: &str) -> PortResult<()> {
        down()
    }
}

#[async_trait]
impl DeliveryLog for DownTable {
    async fn record_delivery(&self, _: &DeliveryRecord) -> PortResult<Option<Option<DeliveryState>>> {
        down()
    }
    async fn deliveries(&self, _: &[String]) -> PortResult<std::collections::HashMap<String, DeliveryRecord>> {
        down()
    }
    async fn suppress(&self, _: &Suppression) -> PortResult<()> {
        down()
    }
    async fn unsuppress(&self, _: &Email) -> PortResult<bool> {
        down()
    }
    async fn suppressions(&self, _: &[Email]) -> PortResult<std::collections::HashMap<Email, Suppression>> {
        down()
    }
    async fn add_to_tally(&self, _: &DeliveryTally) -> PortResult<DeliveryTally> {
        down()
    }
    async fn reset_tally(&self) -> PortResult<()> {
        down()
    }
}

#[tokio::test]
async fn a_failing_table_gets_a_bare_500_and_a_log_line() {
    let (logs, _guard) = capture_logs();

    for request in [from_fixture(GET_FIXTURE, |_| {}), from_fixture(BATCH_FIXTURE, |_| {})] {
        let answer = call(&DownTable, request).await;
        assert_refused(&answer, StatusCode::INTERNAL_SERVER_ERROR, "internal");
        let text = answer.1.to_string();
        assert!(!text.contains("Throughput") && !text.contains("onboarding-prod"), "no internals to the caller: {text}");
    }
    assert!(logs.text().contains("ProvisionedThroughputExceededException"), "the cause is logged: {}", logs.text());
}

#[tokio::test]
async fn every_answer_is_counted_by_reason_in_the_metric_lines() {
    let (_dir, state) = loaded().await;
    let body = json!({ "emails": ["grace@acme.example", "sam.lee@acme.example", "grace@acme.example"] }).to_string();
    let (response, metrics) = handle(&state.table, plain("POST", &batch(ONE_MARKET), &body)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let at = time::macros::datetime!(2026-11-23 09:00 UTC);
    let lines: Vec<Value> = metrics.iter().map(|m| serde_json::from_str(&m.to_emf(at)).unwrap()).collect();
    let counts: Vec<(&str, f64)> = lines.iter().map(|l| (l["Reason"].as_str().unwrap(), l["TileChecks"].as_f64().unwrap())).collect();
    assert_eq!(counts, vec![("granted", 2.0), ("not_granted", 1.0)]);
    assert!(lines.iter().all(|l| l["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "VisitorOnboarding"));
    // A refused request answers nothing, so it counts nothing.
    let (_, none) = handle(&state.table, plain("GET", &access(ONE_MARKET, "not-an-address"), "")).await;
    assert!(none.is_empty());
}
