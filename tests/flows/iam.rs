//! Every flow step under the IAM policy template.yaml gives whoever performs it on AWS, on an
//! emulator that enforces IAM (`bash infra/test.sh` starts it at `ONBOARD_IAM_ENDPOINT`, with
//! the first requests unchecked for setup). Each function and each kind of person is an IAM
//! user holding exactly its resolved policy (`policies::policy`, as moto can check it); after
//! setup the test turns checking on for every request, so a call the template does not allow
//! fails here as it would on AWS.

use crate::helpers::{building, email, etag_of, BUILDINGS_CSV, ONE_MARKET};
use crate::policies::{as_moto_checks_it, policy, template, Stack};
use onboarding::adapters::aws::{sdk_config_with_keys, AwsState, SesOptions};
use onboarding::app::route::{handle_s3_upload, UploadOutcome};
use onboarding::app::{dispatch, tile, validate, NoProgress, Services};
use onboarding::domain::building::Phase;
use onboarding::domain::delivery::{parse_ses_event, ses_event_json, DeliveryState};
use onboarding::domain::keys::Actor;
use onboarding::domain::tile::TileReason;
use onboarding::ports::{BuildingTable, Clock, DeliveryLog, InviteTable, ObjectStore, SystemClock};
use serde_json::json;
use std::collections::HashMap;

struct Principals {
    endpoint: String,
    stack: Stack,
    keys: HashMap<String, (String, String)>,
    /// The apply queue's URL (created at setup).
    apply_queue: String,
}

impl Principals {
    async fn config(&self, name: &str) -> aws_config::SdkConfig {
        let (key, secret) = &self.keys[&format!("{}-{name}", self.stack.name)];
        sdk_config_with_keys(&self.endpoint, key, secret).await
    }

    /// The adapters as `name` (an actor, or `admin` for the test's own checks) sees them, with
    /// the apply queue (as the ingest function has it).
    async fn state(&self, name: &str) -> AwsState {
        let config = self.config(name).await;
        let mail = SesOptions { fallback_rate: 1000.0, ..SesOptions::default() };
        AwsState::from_sdk_config(&config, self.stack.bucket(), self.stack.table.clone(), mail)
            .with_queue(&config, self.apply_queue.clone())
    }

    /// An SQS client as `name`, for what Lambda's event source mapping does with the role.
    async fn sqs(&self, name: &str) -> aws_sdk_sqs::Client {
        aws_sdk_sqs::Client::new(&self.config(name).await)
    }
}

fn actor_name(actor: Actor) -> String {
    format!("{actor:?}").to_lowercase()
}

fn services<'a>(aws: &'a AwsState, clock: &'a dyn Clock) -> Services<'a> {
    Services { objects: &aws.objects, table: &aws.table, mailer: &aws.mailer, clock, progress: &NoProgress, queue: None }
}

/// The ingest function's services: approvals go to the apply queue.
fn queueing<'a>(aws: &'a AwsState, clock: &'a dyn Clock) -> Services<'a> {
    Services { queue: aws.queue.as_ref().map(|q| q as &dyn onboarding::ports::WorkQueue), ..services(aws, clock) }
}

/// What moto logged last: the request lines name the denied operation when a call fails.
fn moto_log_tail() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../target/emulator/iam/moto.log");
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| format!("(no log at {path}: {e})"));
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}

/// Creates the bucket, table, sender identity and one IAM user per actor, unchecked; then turns
/// IAM checking on for every later request.
async fn set_up() -> Principals {
    let endpoint = std::env::var("ONBOARD_IAM_ENDPOINT").unwrap_or_default();
    assert!(
        !endpoint.is_empty(),
        "The IAM tests need an emulator that enforces IAM: run the suite with `bash infra/test.sh` (it starts one and sets ONBOARD_IAM_ENDPOINT)."
    );
    let unique = format!("{}{}", std::process::id(), time::OffsetDateTime::now_utc().unix_timestamp_nanos() % 1_000_000_000);
    let stack = Stack {
        name: format!("iam{unique}"),
        account: "123456789012".into(), // moto's account
        region: "us-east-1".into(),
        table: format!("iam-{unique}"),
        sender: "onboarding@example.com".into(),
        configuration_set: String::new(),
    };
    // A reused emulator may check IAM already (an earlier run): setup runs unchecked.
    unchecked_requests(&endpoint, 1_000_000_000);
    let template = template();
    let mut users = serde_json::Map::new();
    for actor in Actor::ALL {
        users.insert(format!("{}-{}", stack.name, actor_name(actor)), as_moto_checks_it(&policy(&template, &stack, actor)));
    }
    // User names are unique per run: a reused emulator keeps the users of earlier runs.
    users.insert(
        format!("{}-admin", stack.name),
        json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}),
    );
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../infra/emulator/iam_users.py");
    let mut child = std::process::Command::new("python3")
        .arg(script)
        .arg(&endpoint)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {script} ({e}); `bash infra/test.sh` puts the emulator's Python first on PATH"));
    use std::io::Write;
    child.stdin.take().unwrap().write_all(serde_json::to_string(&users).unwrap().as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "creating the IAM users failed");
    let created: HashMap<String, serde_json::Value> = serde_json::from_slice(&output.stdout).unwrap();
    let keys = created
        .into_iter()
        .map(|(name, k)| (name, (k["access_key_id"].as_str().unwrap().to_string(), k["secret_access_key"].as_str().unwrap().to_string())))
        .collect();
    let mut principals = Principals { endpoint: endpoint.clone(), stack, keys, apply_queue: String::new() };
    let created = principals.sqs("admin").await.create_queue().queue_name(principals.stack.apply_queue_name()).send().await;
    principals.apply_queue = created.unwrap_or_else(|e| panic!("cannot create the apply queue: {e:?}")).queue_url.unwrap_or_default();
    let admin = principals.state("admin").await;
    admin.objects.ensure_bucket().await.unwrap();
    admin.table.ensure_table().await.unwrap();
    admin.mailer.ensure_identity("example.com").await.unwrap();
    principals
}

/// Sets how many requests from now on run without IAM checks (moto's own switch): a large
/// number for setup, 0 to check every request.
fn unchecked_requests(endpoint: &str, count: u64) {
    let status = std::process::Command::new("python3")
        .arg("-c")
        .arg("import sys, urllib.request; urllib.request.urlopen(urllib.request.Request(sys.argv[1] + '/moto-api/reset-auth', data=sys.argv[2].encode(), headers={'Content-Type': 'application/json'}, method='POST'))")
        .arg(endpoint)
        .arg(count.to_string())
        .status()
        .unwrap();
    assert!(status.success(), "could not set IAM checking at {endpoint}");
}

fn enforce_iam(endpoint: &str) {
    unchecked_requests(endpoint, 0);
}

/// An object put as `who`, then the S3 event handled by ingest (under the ingest policy).
async fn upload(who: &AwsState, ingest: Services<'_>, key: &str, bytes: &[u8]) -> UploadOutcome {
    who.objects
        .put(key, bytes.to_vec(), "text/csv")
        .await
        .unwrap_or_else(|e| panic!("putting {key} was refused: {e}\nmoto's log:\n{}", moto_log_tail()));
    // Read as the ingest function reads it: at the event's version (the ETag here), sized first.
    match handle_s3_upload(ingest, key, &etag_of(bytes), &Default::default()).await {
        Ok(UploadOutcome::Rejected { code, message, .. }) => {
            panic!("{key} was refused ({code}): {message}\nmoto's log:\n{}", moto_log_tail())
        }
        Ok(outcome) => outcome,
        Err(e) => panic!("ingest of {key} failed under the ingest policy: {e}\nmoto's log:\n{}", moto_log_tail()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_flow_step_runs_under_its_own_policy_with_iam_enforced() {
    let p = set_up().await;
    let [ingest, dispatcher, reporter, checker, feedback, applier, uploader, approver, operator] = [
        Actor::Ingest,
        Actor::DispatchInvites,
        Actor::ValidationReport,
        Actor::TileCheck,
        Actor::DeliveryFeedback,
        Actor::ApplyPlan,
        Actor::Uploader,
        Actor::Approver,
        Actor::Operator,
    ];
    let ingest_aws = p.state(&actor_name(ingest)).await;
    let dispatch_aws = p.state(&actor_name(dispatcher)).await;
    let report_aws = p.state(&actor_name(reporter)).await;
    let tile_aws = p.state(&actor_name(checker)).await;
    let feedback_aws = p.state(&actor_name(feedback)).await;
    let apply_aws = p.state(&actor_name(applier)).await;
    let apply_sqs = p.sqs(&actor_name(applier)).await;
    let uploader_aws = p.state(&actor_name(uploader)).await;
    let approver_aws = p.state(&actor_name(approver)).await;
    let operator_aws = p.state(&actor_name(operator)).await;
    let admin = p.state("admin").await;
    enforce_iam(&p.endpoint);

    // Negative controls first: enforcement is on, so a call outside a policy fails.
    let denied = tile_aws.objects.put("inbox/buildings/x.csv", b"x".to_vec(), "text/csv").await;
    assert!(denied.is_err(), "tile-check may not write to the bucket: IAM is not enforced");
    let denied = uploader_aws.objects.put("approvals/m1.json", b"{}".to_vec(), "application/json").await;
    assert!(denied.is_err(), "an uploader may not approve a plan");
    let denied = uploader_aws.objects.put("config/role-matrix.csv", b"x".to_vec(), "text/csv").await;
    assert!(denied.is_err(), "an uploader may not change the role matrix");
    let denied = tile_aws.table.list_buildings().await;
    assert!(denied.is_err(), "tile-check may not query the table");
    let denied = apply_sqs.send_message().queue_url(&p.apply_queue).message_body("{}").send().await;
    assert!(denied.is_err(), "apply-plan only takes parts from its queue");

    // The operator stores the configuration.
    onboarding::app::config::store_config(
        &operator_aws.objects,
        Some(include_bytes!("../../infra/examples/config/settings.json").to_vec()),
        Some(include_bytes!("../../infra/examples/config/role-guide.csv").to_vec()),
        Some(include_bytes!("../../infra/examples/config/role-matrix.csv").to_vec()),
    )
    .await
    .unwrap_or_else(|e| panic!("the operator could not store config/: {e}\nmoto's log:\n{}", moto_log_tail()));

    // Large outputs (a million-row plan, a big validation report) go up as multipart uploads
    // under the writers' own policies.
    for (who, key) in [(&ingest_aws, "reports/users/iam-parts/plan.csv"), (&report_aws, "reports/validation/iam-parts/report.csv")] {
        let mut out = who.objects.create(key, "text/csv").await.unwrap();
        for _ in 0..2 {
            out.write(&vec![b'x'; onboarding::ports::PART_BYTES])
                .await
                .unwrap_or_else(|e| panic!("a part of {key} was refused: {e}\nmoto's log:\n{}", moto_log_tail()));
        }
        out.finish().await.unwrap_or_else(|e| panic!("{key} was not completed: {e}\nmoto's log:\n{}", moto_log_tail()));
        assert_eq!(admin.objects.get(key).await.unwrap().len(), 2 * onboarding::ports::PART_BYTES);
    }

    let clock = SystemClock;
    let ingest_svc = queueing(&ingest_aws, &clock);
    // Buildings: upserted, kickoff mails sent.
    let UploadOutcome::Buildings(buildings) = upload(&uploader_aws, ingest_svc, "inbox/buildings/buildings.csv", BUILDINGS_CSV).await
    else {
        panic!("not routed to buildings")
    };
    assert_eq!((buildings.accepted, buildings.kickstarts_sent), (2, 2), "{buildings:?}");

    // Tenants, three times for one building: the first, a second that adds, and replace mode.
    let first = format!("inbox/tenants/{ONE_MARKET}/first.csv");
    let UploadOutcome::Tenants(one) =
        upload(&uploader_aws, ingest_svc, &first, b"Full Name,Email\nAda Lovelace,ada@acme.example\nGrace Hopper,grace@acme.example\n")
            .await
    else {
        panic!()
    };
    assert_eq!(one.directory_size, 2);
    let second = format!("inbox/tenants/{ONE_MARKET}/second.csv");
    let UploadOutcome::Tenants(two) =
        upload(&uploader_aws, ingest_svc, &second, b"Full Name,Email\nAlan Turing,alan@initech.example\n").await
    else {
        panic!()
    };
    assert_eq!(two.directory_size, 3, "the second upload read the first one's Envoy file and kept its people");
    let replace = format!("inbox/tenants/{ONE_MARKET}/replace/third.csv");
    let body = b"Full Name,Email\nAda Lovelace,ada@acme.example\nGrace Hopper,grace@acme.example\nAlan Turing,alan@initech.example\nKat Johnson,kat@initech.example\n";
    let UploadOutcome::Tenants(three) = upload(&uploader_aws, ingest_svc, &replace, body).await else { panic!() };
    assert_eq!((three.directory_size, three.revoked), (4, 0));
    // The notices' presigned links are not fetched here: moto's IAM check reads only an
    // Authorization header and fails (500) on query-string auth. Their grant (ingest reads the
    // reports it links to) is checked against keys.rs in policies.rs; notices.rs opens them.
    // The uploader can read the building's Envoy import file.
    let export = uploader_aws.objects.get(&format!("exports/envoy/{ONE_MARKET}/envoy-employees.csv")).await.unwrap();
    assert!(String::from_utf8(export).unwrap().contains("kat@initech.example"));

    // A platform-users snapshot, then a forced smaller one (users forgotten: DeleteItem).
    let snapshot = b"Email,First Name,Last Name,Role(s),Building assignments,Status\nsam@acme.example,Sam,S,Tenant User,One Market Plaza,Active\ntom@acme.example,Tom,T,Tenant User,Harbor View,Active\n";
    let UploadOutcome::PlatformUsers(first) = upload(&uploader_aws, ingest_svc, "inbox/platform-users/platform.csv", snapshot).await else {
        panic!("not routed to platform users")
    };
    assert_eq!(first.users, 2);
    let smaller =
        b"Email,First Name,Last Name,Role(s),Building assignments,Status\nsam@acme.example,Sam,S,Tenant User,One Market Plaza,Active\n";
    let UploadOutcome::PlatformUsers(second) = upload(&uploader_aws, ingest_svc, "inbox/platform-users/force/platform.csv", smaller).await
    else {
        panic!("not routed to platform users")
    };
    assert_eq!(second.dropped, 1);

    // A user export is planned; the approver approves it; ingest applies it and sends invites due today.
    let export = "First Name,Last Name,Email,Role(s),Building assignments,Status\nAda,Lovelace,ada@acme.example,Admin,One Market Plaza,Active\nLin,Chen,lin@acme.example,Employee,Harbor View,Active\n";
    let UploadOutcome::Plan(plan) = upload(&uploader_aws, ingest_svc, "inbox/users/iam-m1/export.csv", export.as_bytes()).await else {
        panic!("not planned")
    };
    assert_eq!(plan.actions["create_and_invite"], 2, "{:?}", plan.actions);
    let plan_csv = approver_aws.objects.get("reports/users/iam-m1/plan.csv").await.expect("the approver reads the plan");
    assert!(!plan_csv.is_empty());
    let approval = json!({ "plan_sha256": plan.plan_sha256, "approved_by": "Pat Property", "invite_date": null });
    let approval = serde_json::to_vec(&approval).unwrap();
    let UploadOutcome::ApplyQueued(queued) = upload(&approver_aws, ingest_svc, "approvals/iam-m1.json", &approval).await else {
        panic!("not handed to the apply queue")
    };
    assert_eq!(queued.parts, 1, "{queued:?}");

    // apply-plan: takes the part from the queue (as Lambda's event source mapping does with its
    // role), applies it, sends the invites due today and deletes the message.
    let received = apply_sqs
        .receive_message()
        .queue_url(&p.apply_queue)
        .max_number_of_messages(10)
        .send()
        .await
        .unwrap_or_else(|e| panic!("apply-plan could not receive from its queue: {e:?}\nmoto's log:\n{}", moto_log_tail()));
    let messages = received.messages.unwrap_or_default();
    assert_eq!(messages.len(), 1);
    let part: onboarding::app::apply::ApplyPart = serde_json::from_str(messages[0].body().unwrap()).unwrap();
    let apply_svc = services(&apply_aws, &clock);
    let done = onboarding::app::apply::apply_part(apply_svc, &part)
        .await
        .unwrap_or_else(|e| panic!("apply-plan failed under its policy: {e}\nmoto's log:\n{}", moto_log_tail()));
    let onboarding::app::apply::PartDone::Finished(apply) = done else { panic!("the only part finishes the plan: {done:?}") };
    assert_eq!((apply.users_created, apply.invites_queued), (2, 2), "{apply:?}");
    let config = onboarding::app::config::load_config(&apply_aws.objects).await.expect("apply-plan reads config/");
    let finished = onboarding::app::route::finish_queued_apply(apply_svc, &config, &part, apply)
        .await
        .unwrap_or_else(|e| panic!("apply-plan could not send or tell under its policy: {e}\nmoto's log:\n{}", moto_log_tail()));
    let UploadOutcome::Applied { dispatch, .. } = finished else { panic!("{finished:?}") };
    assert_eq!((dispatch.sent, dispatch.paused.is_none()), (2, true), "{dispatch:?}");
    apply_sqs
        .delete_message()
        .queue_url(&p.apply_queue)
        .receipt_handle(messages[0].receipt_handle().unwrap())
        .send()
        .await
        .unwrap_or_else(|e| panic!("apply-plan could not delete a done part: {e:?}\nmoto's log:\n{}", moto_log_tail()));

    // dispatch-invites: a scheduled run under its own policy (nothing left to send, every call made).
    let config = onboarding::app::config::load_config(&dispatch_aws.objects).await.expect("dispatch reads config/");
    let run = dispatch::dispatch_invites(services(&dispatch_aws, &clock), &config, 100, None)
        .await
        .unwrap_or_else(|e| panic!("dispatch-invites failed under its policy: {e}\nmoto's log:\n{}", moto_log_tail()));
    assert_eq!((run.sent, run.failed), (0, 0), "{run:?}");

    // delivery-feedback: SES's events for the two invites (Lin's bounces, Ada's is delivered,
    // then marked as spam), recorded under its own policy: states, suppression, tally, pause.
    let config = onboarding::app::config::load_config(&feedback_aws.objects).await.expect("delivery-feedback reads config/");
    let m1 = onboarding::domain::values::MigrationId::parse("iam-m1").unwrap();
    let mut events = Vec::new();
    for invite in admin.table.list_invites(&m1).await.unwrap() {
        let id = invite.message_id.clone().expect("a sent invite has SES's message id");
        let states: &[DeliveryState] = match invite.email.as_str() {
            "lin@acme.example" => &[DeliveryState::Accepted, DeliveryState::Bounced],
            _ => &[DeliveryState::Accepted, DeliveryState::Delivered, DeliveryState::Complained],
        };
        for state in states {
            events.push(ses_event_json(&id, invite.email.as_str(), *state, clock.now(), None));
        }
    }
    let mut paused = None;
    for json in events.iter().chain(events.iter()) {
        let event = parse_ses_event(json).unwrap();
        let outcome = onboarding::app::delivery::record_event(services(&feedback_aws, &clock), &config, &event)
            .await
            .unwrap_or_else(|e| panic!("delivery-feedback failed under its policy: {e}\nmoto's log:\n{}", moto_log_tail()));
        paused = paused.or(outcome.paused);
    }
    assert_eq!(paused.map(|p| p.cause.as_str()), Some("complaint"));
    let suppressed = admin.table.suppressions(&[email("lin@acme.example"), email("ada@acme.example")]).await.unwrap();
    assert_eq!(suppressed.len(), 2);

    // validation-report: reads plans, writes the report, mails the summary.
    let config = onboarding::app::config::load_config(&report_aws.objects).await.expect("validation-report reads config/");
    let (report, outcome) = validate::validation_report(services(&report_aws, &clock), &config)
        .await
        .unwrap_or_else(|e| panic!("validation-report failed under its policy: {e}\nmoto's log:\n{}", moto_log_tail()));
    assert_eq!(report.migrations.len(), 1);
    assert_eq!((report.migrations[0].invites_bounced, report.migrations[0].invites_complained), (1, 1), "{:?}", report.migrations);
    assert!(outcome.summary_mailed, "{outcome:?}");
    assert!(uploader_aws.objects.get(&outcome.outputs[0]).await.is_ok(), "an uploader reads the validation report");

    // Go-live (the implementation team, with its own credentials): the grants take effect.
    onboarding::app::buildings::set_phase(services(&admin, &clock), &building(ONE_MARKET), Phase::Live, false)
        .await
        .expect("One Market has contacts, so it may go live");
    // tile-check: one key lookup and a batch, nothing else.
    let answers = tile::check_tile(&tile_aws.table, &building(ONE_MARKET), &[email("kat@initech.example"), email("x@else.example")])
        .await
        .unwrap_or_else(|e| panic!("tile-check failed under its policy: {e}\nmoto's log:\n{}", moto_log_tail()));
    assert_eq!((answers[0].reason, answers[1].reason), (TileReason::Granted, TileReason::NotGranted));

    // What the people may not do stays refused after all that: the functions' outputs are theirs.
    assert!(approver_aws.objects.put("inbox/users/m2/x.csv", b"x".to_vec(), "text/csv").await.is_err(), "an approver may not upload");
    assert!(operator_aws.objects.get("reports/users/iam-m1/plan.csv").await.is_err(), "an operator reads no plans");
    assert!(admin.objects.get("reports/users/iam-m1/plan.csv").await.is_ok());
}
