//! `onboard demo`: the example configuration and files from `infra/examples` (compiled in, so
//! the demo runs from anywhere) through every flow, printing where to look.

use crate::args::{Approve, Cli};
use crate::commands::{self, Report};
use crate::output::{emit, Bars, Failure};
use crate::runtime::Runtime;
use serde_json::json;

const EXAMPLES: [(&str, &[u8]); 9] = [
    ("config/settings.json", include_bytes!("../../infra/examples/config/settings.json")),
    ("config/role-guide.csv", include_bytes!("../../infra/examples/config/role-guide.csv")),
    ("config/role-matrix.csv", include_bytes!("../../infra/examples/config/role-matrix.csv")),
    ("buildings.csv", include_bytes!("../../infra/examples/buildings.csv")),
    ("tenants-one-market.csv", include_bytes!("../../infra/examples/tenants-one-market.csv")),
    ("tenants-harbor-view.csv", include_bytes!("../../infra/examples/tenants-harbor-view.csv")),
    ("users-export.csv", include_bytes!("../../infra/examples/users-export.csv")),
    ("platform-users.csv", include_bytes!("../../infra/examples/platform-users.csv")),
    ("README.txt", b"Example data written by `onboard demo`. Every name, address and role here is made up.\n"),
];

const ONE_MARKET: &str = "3f2b8c1e-0d4a-4c8e-9a51-2f6d7e8b9c10";
const HARBOR_VIEW: &str = "9d1c3b5a-1111-4222-8333-444455556666";
const MIGRATION: &str = "demo-legacy-visitor";

pub async fn run(cli: &Cli) -> Result<(), Failure> {
    let (state, json) = (cli.state.as_path(), cli.json);
    let examples = state.join("examples");
    for (name, bytes) in EXAMPLES {
        let path = examples.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| Failure::unexpected(format!("cannot write {}: {e}", parent.display())))?;
        }
        std::fs::write(&path, bytes).map_err(|e| Failure::unexpected(format!("cannot write {}: {e}", path.display())))?;
    }
    let runtime = Runtime::open(cli, Bars::for_run(json)).await?;
    let mut steps: Vec<(&str, Report)> = Vec::new();
    steps.push(("config", commands::load_config(&runtime, &examples.join("config")).await?));
    steps.push(("buildings", commands::ingest_buildings(&runtime, &examples.join("buildings.csv"), false).await?));
    steps.push((
        "tenants_one_market",
        commands::ingest_tenants(&runtime, ONE_MARKET, false, false, &examples.join("tenants-one-market.csv")).await?,
    ));
    steps.push((
        "tenants_harbor_view",
        commands::ingest_tenants(&runtime, HARBOR_VIEW, false, false, &examples.join("tenants-harbor-view.csv")).await?,
    ));
    // Who is on the platform already: the plan gives them add_roles or no_change.
    steps.push(("platform_users", commands::ingest_platform_users(&runtime, false, &examples.join("platform-users.csv")).await?));
    let commands::Planned { report: plan, sha } = commands::ingest_users(&runtime, MIGRATION, &examples.join("users-export.csv")).await?;
    steps.push(("plan", plan));
    let approve =
        Approve { migration: MIGRATION.into(), plan_sha256: sha, invite_date: None, approved_by: "Demo Approver".into(), exclude: vec![] };
    steps.push(("approve", commands::approve_and_apply(&runtime, approve).await?));
    // Phase IV of the integration guide: the tile appears once the building is live.
    steps.push(("go_live_one_market", crate::buildings::set_phase(&runtime, ONE_MARKET, "live", false).await?));
    steps.push(("go_live_harbor_view", crate::buildings::set_phase(&runtime, HARBOR_VIEW, "live", false).await?));
    steps.push(("check_granted", crate::buildings::check(&runtime, ONE_MARKET, &["ada@acme.example".into()]).await?));
    steps.push(("check_not_granted", crate::buildings::check(&runtime, ONE_MARKET, &["someone@else.example".into()]).await?));
    steps.push(("check_everyone_policy", crate::buildings::check(&runtime, HARBOR_VIEW, &["ada@acme.example".into()]).await?));
    steps.push(("dispatch", commands::dispatch(&runtime, 10_000).await?));
    // The outbox answers like SES's mailbox simulator: bounce@simulator.amazonses.com bounces.
    if let Some(feedback) = commands::local_feedback(&runtime).await? {
        steps.push(("delivery_feedback", feedback));
    }
    steps.push(("report", commands::report(&runtime).await?));

    let mut value = json!({});
    let mut text = vec![format!("Visitor onboarding demo (state in {})", state.display()), String::new()];
    for (name, report) in steps {
        value[name] = report.value;
        text.push(format!("== {}", name.replace('_', " ")));
        text.extend(report.text);
        // The example's lists are short: they go into the demo's one JSON value and its text.
        if let Some(listing) = &report.listing {
            value[name][listing.key] = listing.to_value();
            text.extend(listing.lines());
        }
        text.push(String::new());
    }
    let bucket = runtime.locations.bucket.clone();
    value["bucket"] = json!(bucket);
    text.push(format!("Reports and exports: {bucket}/reports and {bucket}/exports"));
    if let Some(outbox) = &runtime.locations.outbox {
        value["outbox"] = json!(outbox.display().to_string());
        text.push(format!("E-mails sent (.eml files): {}", outbox.display()));
    }
    text.push(
        "Run the demo again: no e-mail is sent twice (a second run's new plan and approval are told about; a third run sends nothing)."
            .into(),
    );
    emit(json, value, text);
    Ok(())
}
