//! DynamoDB calls of applying a migration, counted against the emulator: the real AWS
//! adapters (`AwsState`) over SDK clients whose DynamoDB client carries an interceptor that
//! counts every operation it sends, by name. Plans `users` new users, approves the plan for a
//! future invite date (so nothing is mailed) and counts the calls apply makes.
//!
//! The emulator (moto, a threaded server) sometimes fails a TransactWriteItems with a 5xx of its
//! own (a 500): it copies the whole table before each transaction, and another request changing the
//! table meanwhile breaks the copy ("dictionary changed size during iteration" in its log). The
//! adapter tries such a call again, as it would a 500 from DynamoDB. Those calls are counted
//! apart: they are the emulator's, not the design's, and the target counts the design's.

use crate::fixture::err;
use crate::users::{write_users, UsersSpec};
use crate::world::{buildings, ROLE_GUIDE_CSV, ROLE_MATRIX_CSV, SETTINGS_JSON};
use aws_config::{BehaviorVersion, Region};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::{BeforeSerializationInterceptorContextRef, FinalizerInterceptorContextRef};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use aws_smithy_types::retry::RetryConfig;
use onboarding::adapters::aws::{AwsState, SesOptions};
use onboarding::domain::approval::Approval;
use onboarding::domain::building::{Building, TilePolicy};
use onboarding::domain::values::{BuildingId, Email, MigrationId};
use onboarding::ports::{BuildingTable, ObjectStore};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

/// Counts operations by name, and apart those the server answered with a 5xx.
#[derive(Debug, Default, Clone)]
pub struct CallCounter {
    sent: Arc<Mutex<BTreeMap<String, u64>>>,
    failed: Arc<Mutex<BTreeMap<String, u64>>>,
}

/// Calls of one stretch of work, by operation name.
#[derive(Debug, Default)]
pub struct Calls {
    /// Every call sent.
    pub sent: BTreeMap<String, u64>,
    /// Of those, the calls the server failed with a 5xx of its own (tried again by the adapter).
    pub failed: BTreeMap<String, u64>,
}

impl Calls {
    /// The calls of `names` the server answered (sent, less those it failed with a 5xx).
    pub fn answered(&self, names: &[&str]) -> u64 {
        names.iter().map(|name| self.sent.get(*name).unwrap_or(&0) - self.failed.get(*name).unwrap_or(&0)).sum()
    }
}

impl CallCounter {
    pub fn take(&self) -> Calls {
        let take = |map: &Mutex<BTreeMap<String, u64>>| std::mem::take(&mut *map.lock().unwrap_or_else(|p| p.into_inner()));
        Calls { sent: take(&self.sent), failed: take(&self.failed) }
    }

    fn count(map: &Mutex<BTreeMap<String, u64>>, cfg: &ConfigBag) {
        if let Some(operation) = cfg.load::<Metadata>() {
            *map.lock().unwrap_or_else(|p| p.into_inner()).entry(operation.name().to_string()).or_default() += 1;
        }
    }
}

impl Intercept for CallCounter {
    fn name(&self) -> &'static str {
        "CallCounter"
    }

    // Once per operation, after the operation's configuration (its name) is in the bag; a call
    // the adapter retries itself is a new operation and counts again.
    fn read_before_serialization(
        &self,
        _: &BeforeSerializationInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        Self::count(&self.sent, cfg);
        Ok(())
    }

    fn read_after_execution(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if context.response().is_some_and(|response| response.status().is_server_error()) {
            Self::count(&self.failed, cfg);
        }
        Ok(())
    }
}

const WRITES: [&str; 5] = ["BatchWriteItem", "PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems"];

/// Plans and applies `users` new users on the emulator at `endpoint`; returns a Markdown report.
pub async fn count_writes(endpoint: &str, users: u64, seed: u64) -> Result<String, String> {
    let config = aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new("testing", "testing", None, None, "bench"))
        .load()
        .await;
    let counter = CallCounter::default();
    let dynamodb =
        aws_sdk_dynamodb::config::Builder::from(&config).retry_config(RetryConfig::disabled()).interceptor(counter.clone()).build();
    let s3 = aws_sdk_s3::config::Builder::from(&config).force_path_style(true).build();
    let ses = aws_sdk_sesv2::config::Builder::from(&config).retry_config(RetryConfig::disabled()).build();
    let unique = format!("bench-{}-{}", std::process::id(), time::OffsetDateTime::now_utc().unix_timestamp());
    let aws = AwsState::from_clients(
        aws_sdk_s3::Client::from_conf(s3),
        unique.clone(),
        aws_sdk_dynamodb::Client::from_conf(dynamodb),
        unique.clone(),
        aws_sdk_sesv2::Client::from_conf(ses),
        SesOptions::default(),
    );
    aws.objects.ensure_bucket().await.map_err(err)?;
    aws.table.ensure_table().await.map_err(err)?;
    let config = onboarding::app::config::store_config(
        &aws.objects,
        Some(SETTINGS_JSON.as_bytes().to_vec()),
        Some(ROLE_GUIDE_CSV.as_bytes().to_vec()),
        Some(ROLE_MATRIX_CSV.as_bytes().to_vec()),
    )
    .await
    .map_err(err)?;
    let world = buildings(seed, 10);
    let now = time::OffsetDateTime::now_utc();
    for b in &world {
        let building = Building {
            id: BuildingId::parse(&b.id).map_err(err)?,
            name: b.name.clone(),
            address: "1 Bench St".into(),
            envoy_csm: Email::parse("csm@envoy.example").map_err(err)?,
            envoy_account_executive: None,
            platform_csm: None,
            tile_policy: TilePolicy::Permissioned,
            aliases: vec![b.alias.clone()],
            time_zone: None,
        };
        aws.table.upsert_building(&building, now).await.map_err(err)?;
    }
    // Every row a new, valid, active, mapped user in a known building.
    let mut spec = UsersSpec::new(users, seed, world);
    spec.duplicate_share = 0.0;
    spec.inactive_share = 0.0;
    spec.bad_email_share = 0.0;
    spec.unmapped_role_share = 0.0;
    spec.unknown_building_share = 0.0;
    spec.missing_name_share = 0.0;
    spec.unknown_status_share = 0.0;
    let mut file = Vec::new();
    write_users(&spec, &mut file).map_err(err)?;
    let migration = MigrationId::parse("bench-dynamo").map_err(err)?;
    let key = "inbox/users/bench-dynamo/users.csv";
    aws.objects.put(key, file, "text/csv").await.map_err(err)?;
    let svc = onboarding::deployment::services(&aws);
    let planned = counter.take();
    let (summary, _) = onboarding::app::plan::plan_migration(svc, &config, &migration, key).await.map_err(err)?;
    let plan_calls = counter.take();
    let approval = Approval {
        migration: migration.clone(),
        plan_sha256: summary.plan_sha256.clone(),
        approved_by: "bench".into(),
        invite_date: Some(now.date() + time::Duration::days(30)),
        exclude: Vec::new(),
    };
    let outcome = onboarding::app::apply::apply_approval(svc, &approval).await.map_err(err)?;
    let apply_calls = counter.take();
    let created = outcome.users_created;
    let writes = apply_calls.answered(&WRITES);
    let failed: u64 = WRITES.iter().filter_map(|name| apply_calls.failed.get(*name)).sum();
    let mut out = String::new();
    let _ = writeln!(out, "### DynamoDB calls of apply, {created} new users (emulator at {endpoint})\n");
    let _ = writeln!(out, "| operation | calls while planning | calls while applying |");
    let _ = writeln!(out, "|---|---:|---:|");
    let names: std::collections::BTreeSet<&String> = plan_calls.sent.keys().chain(apply_calls.sent.keys()).collect();
    // A cell: the calls sent, and how many of them the emulator failed with a 5xx of its own.
    let cell = |calls: &Calls, name: &String| match (calls.sent.get(name).unwrap_or(&0), calls.failed.get(name)) {
        (sent, Some(failed)) => format!("{sent} ({failed} failed by the emulator, sent again)"),
        (sent, None) => sent.to_string(),
    };
    for name in names {
        let _ = writeln!(out, "| {name} | {} | {} |", cell(&plan_calls, name), cell(&apply_calls, name));
    }
    let per_25 = writes as f64 / (created.max(1) as f64 / 25.0);
    let _ = writeln!(
        out,
        "\nWrite calls while applying: {writes} for {created} new users and {} queued invites = {per_25:.2} per 25 new users \
         (setup before planning: {} calls; write calls the emulator failed with a 5xx of its own and the adapter \
         sent again, not counted: {failed}).",
        outcome.invites_queued,
        planned.sent.values().sum::<u64>()
    );
    let _ = writeln!(out, "\nRESULT_PART writes_per_25={per_25:.2}");
    Ok(out)
}
