//! The `onboard` command as a user runs it: exit codes, `--json` contracts, the demo, and
//! `--aws` against the emulator.

use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

const EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../infra/examples");

fn onboard(state: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_onboard"))
        .arg("--state")
        .arg(state)
        .args(args)
        .env_remove("ONBOARD_STATE")
        .output()
        .expect("the onboard binary runs")
}

fn json(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("stdout is not one JSON object ({e}): {}", String::from_utf8_lossy(&output.stdout)))
}

fn outbox_count(state: &Path) -> usize {
    std::fs::read_dir(state.join("outbox")).unwrap().filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "eml")).count()
}

#[test]
fn the_demo_runs_every_flow_and_a_second_run_sends_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let first = onboard(dir.path(), &["--json", "demo"]);
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    let value = json(&first);
    assert_eq!(value["buildings"]["kickstarts_sent"], 2);
    assert_eq!(value["plan"]["rows"], 11);
    // The platform-users snapshot knows Ada (every planned role: no_change) and Margaret
    // (add_roles): three new users are created and invited, not five.
    assert_eq!(value["platform_users"]["users"], 3);
    assert_eq!((value["plan"]["actions"]["no_change"].as_u64(), value["plan"]["actions"]["add_roles"].as_u64()), (Some(1), Some(1)));
    assert_eq!(value["approve"]["apply"]["users_created"], 3);
    assert_eq!(value["approve"]["dispatch"]["sent"], 3);
    // The outbox answers like SES's mailbox simulator: the invite to bounce@ bounces, the
    // address is suppressed, and the validation report says so.
    let feedback = &value["delivery_feedback"];
    assert_eq!((feedback["states"]["bounced"].as_u64(), feedback["suppressed"].as_u64()), (Some(1), Some(1)), "{feedback}");
    assert!(feedback["states"]["delivered"].as_u64().unwrap() >= 2, "{feedback}");
    assert!(feedback["paused"].is_null(), "one bounce is not a rate: {feedback}");
    assert_eq!(value["check_everyone_policy"]["reason"], "everyone_policy_no_envoy");
    let mails = outbox_count(dir.path());
    assert_eq!(mails, 2 + 3 + 1 + 6, "kickstarts, invites, validation summary, a notice for each of the six uploads");
    assert!(dir.path().join("bucket/reports/users/demo-legacy-visitor/report.html").exists());

    let second = onboard(dir.path(), &["--json", "demo"]);
    assert!(second.status.success());
    let value = json(&second);
    assert_eq!(value["buildings"]["kickstarts_sent"], 0);
    assert_eq!(value["approve"]["dispatch"]["sent"], 0);
    // Every user now exists, so the export makes a new plan (no_change): its notice and its
    // apply's are new; no kickstart, invite or earlier notice goes out again.
    assert_eq!(value["plan"]["actions"]["no_change"], 5);
    assert_eq!(outbox_count(dir.path()), mails + 2, "only the new plan's two notices");

    let text = onboard(dir.path(), &["demo"]);
    assert_eq!(outbox_count(dir.path()), mails + 2, "the same plan again: nothing sent");
    let out = String::from_utf8_lossy(&text.stdout);
    assert!(out.contains("Plan SHA-256:") && out.contains("E-mails sent (.eml files):"), "{out}");
}

#[test]
fn ingest_users_json_holds_the_documented_fields() {
    let dir = tempfile::tempdir().unwrap();
    assert!(onboard(dir.path(), &["config", "load", &format!("{EXAMPLES}/config")]).status.success());
    assert!(onboard(dir.path(), &["ingest", "buildings", &format!("{EXAMPLES}/buildings.csv")]).status.success());
    let out = onboard(dir.path(), &["--json", "ingest", "users", "--migration", "m1", &format!("{EXAMPLES}/users-export.csv")]);
    assert!(out.status.success(), "row issues still exit 0");
    let value = json(&out);
    for key in ["rows", "accepted", "rejected", "duplicates_merged", "inactive_skipped", "actions", "issues", "plan_sha256", "outputs"] {
        assert!(value.get(key).is_some(), "missing {key}: {value}");
    }
    let issue = &value["issues"].as_array().unwrap()[0];
    for key in ["row", "column", "code", "severity", "value", "message"] {
        assert!(issue.get(key).is_some(), "issue lacks {key}: {issue}");
    }
    // Every issue, streamed into the object: as many as the summary counts.
    let counted = value["errors"].as_u64().unwrap() + value["warnings"].as_u64().unwrap();
    assert_eq!(value["issues"].as_array().unwrap().len() as u64, counted);
    assert!(counted > 1 && value.get("delivery_feedback").is_some(), "{value}");
    // The file was copied into the bucket's inbox whole (a piece at a time).
    let copied = dir.path().join("bucket/inbox/users/m1/users-export.csv");
    assert_eq!(std::fs::read(&copied).unwrap(), std::fs::read(format!("{EXAMPLES}/users-export.csv")).unwrap());
    for path in value["outputs"].as_array().unwrap() {
        assert!(Path::new(path.as_str().unwrap()).exists(), "{path}");
    }
    // A stale SHA is refused with exit code 2 and a reason on stderr.
    let stale = onboard(dir.path(), &["approve", "--migration", "m1", "--plan-sha256", &"0".repeat(64)]);
    assert_eq!(stale.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&stale.stderr).contains("latest plan"), "{}", String::from_utf8_lossy(&stale.stderr));
    let sha = value["plan_sha256"].as_str().unwrap();
    let approved = onboard(dir.path(), &["--json", "approve", "--migration", "m1", "--plan-sha256", sha, "--invite-date", "2099-01-01"]);
    assert!(approved.status.success());
    assert_eq!(json(&approved)["dispatch"]["sent"], 0, "invites wait for their date");
    let check =
        onboard(dir.path(), &["--json", "check", "--building", "3f2b8c1e-0d4a-4c8e-9a51-2f6d7e8b9c10", "--email", "nobody@example.com"]);
    assert_eq!(json(&check)["reason"], "building_not_live");
    // Going live with no tenant contacts in a permissioned building takes --force.
    let live = onboard(dir.path(), &["building", "phase", "3f2b8c1e-0d4a-4c8e-9a51-2f6d7e8b9c10", "live"]);
    assert_eq!(live.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&live.stderr).contains("--force"), "{}", String::from_utf8_lossy(&live.stderr));
    let forced = onboard(dir.path(), &["building", "phase", "3f2b8c1e-0d4a-4c8e-9a51-2f6d7e8b9c10", "live", "--force"]);
    assert!(forced.status.success(), "{}", String::from_utf8_lossy(&forced.stderr));
    let check =
        onboard(dir.path(), &["--json", "check", "--building", "3f2b8c1e-0d4a-4c8e-9a51-2f6d7e8b9c10", "--email", "nobody@example.com"]);
    assert_eq!(json(&check)["reason"], "not_granted");
}

#[test]
fn rejected_files_and_bad_arguments_exit_2_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("users.csv");
    std::fs::write(&file, "First,Last,Mail\nA,B,a@b.co\n").unwrap();
    let out = onboard(dir.path(), &["ingest", "users", "--migration", "m1", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("“Role(s)”") && stderr.contains("“Mail”"), "{stderr}");

    let out = onboard(dir.path(), &["--json", "ingest", "tenants", "--building", "../etc", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(json(&out)["error"]["code"], "invalid_arguments");
    assert_eq!(onboard(dir.path(), &["ingest", "users", file.to_str().unwrap()]).status.code(), Some(2), "clap usage errors");
    assert_eq!(
        onboard(dir.path(), &["building", "phase", "3f2b8c1e-0d4a-4c8e-9a51-2f6d7e8b9c10", "live"]).status.code(),
        Some(2),
        "unknown building"
    );
}

#[test]
fn aws_mode_runs_the_demo_against_the_emulator() {
    let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap_or_default();
    assert!(!endpoint.is_empty(), "this test needs the AWS emulator: run `bash infra/test.sh`");
    let unique = format!("onboard-cli-{}", std::process::id());
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let aws = onboarding::adapters::aws::AwsState::from_env(unique.clone(), unique.clone()).await;
        aws.objects.ensure_bucket().await.unwrap();
        aws.table.ensure_table().await.unwrap();
        aws.mailer.ensure_identity("example.com").await.unwrap();
    });
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_onboard"))
        .args(["--aws", "--json", "--state"])
        .arg(dir.path())
        .arg("demo")
        .env("ONBOARD_BUCKET", &unique)
        .env("ONBOARD_TABLE", &unique)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let value = json(&out);
    assert_eq!(value["approve"]["apply"]["users_created"], 3);
    assert!(value.get("delivery_feedback").is_none(), "SES's events come to the feedback function on AWS, not to the CLI");
    assert_eq!(value["bucket"], format!("s3://{unique}"));
    assert!(!dir.path().join("bucket").exists(), "nothing was written locally but the example files");

    let missing = Command::new(env!("CARGO_BIN_EXE_onboard")).args(["--aws", "report"]).env_remove("ONBOARD_BUCKET").output().unwrap();
    assert_eq!(missing.status.code(), Some(2));
}

#[test]
fn invites_list_writes_each_invite_as_a_line_or_a_json_element() {
    let dir = tempfile::tempdir().unwrap();
    assert!(onboard(dir.path(), &["demo"]).status.success());
    let migration = "demo-legacy-visitor";
    let listed = onboard(dir.path(), &["--json", "invites", "list", "--migration", migration]);
    assert!(listed.status.success(), "{}", String::from_utf8_lossy(&listed.stderr));
    let value = json(&listed);
    assert_eq!(value["migration"], migration);
    let invites = value["invites"].as_array().unwrap();
    assert_eq!(invites.len(), 3, "{value}");
    assert_eq!(value["count"], 3, "the count follows the invites: {value}");
    assert!(invites.iter().all(|i| i["status"] == "sent" && i["delivery"].is_object()), "{value}");
    let due = invites[0]["due"].as_str().unwrap_or_default();
    assert!(due.len() == 10 && due.as_bytes()[4] == b'-' && due.as_bytes()[7] == b'-', "due as YYYY-MM-DD: {value}");
    let emails: Vec<&str> = invites.iter().map(|i| i["email"].as_str().unwrap()).collect();
    assert!(emails.windows(2).all(|w| w[0] < w[1]), "sorted by address: {emails:?}");
    // By delivery state: the demo's one bounce.
    let bounced = json(&onboard(dir.path(), &["--json", "invites", "list", "--migration", migration, "--status", "bounced"]));
    assert_eq!(bounced["invites"].as_array().unwrap().len(), 1, "{bounced}");
    assert_eq!(bounced["invites"][0]["email"], "bounce@simulator.amazonses.com");
    // By mail status: each kept with its delivery state; none failed.
    let sent = json(&onboard(dir.path(), &["--json", "invites", "list", "--migration", migration, "--status", "sent"]));
    assert_eq!(sent["invites"], value["invites"], "{sent}");
    let failed = json(&onboard(dir.path(), &["--json", "invites", "list", "--migration", migration, "--status", "failed"]));
    assert_eq!(failed["invites"].as_array().map(Vec::len), Some(0), "{failed}");
    // As text: a heading, one line an invite, then the count.
    let text = onboard(dir.path(), &["invites", "list", "--migration", migration]);
    let out = String::from_utf8_lossy(&text.stdout);
    let lines: Vec<&str> = out.lines().filter(|l| !l.starts_with("Delivery feedback")).collect();
    assert_eq!(lines[0], format!("Invites of migration {migration}, by address:"), "{out}");
    assert_eq!(lines.last().copied(), Some(format!("3 invites of migration {migration}.").as_str()), "{out}");
    let bounced =
        String::from_utf8_lossy(&onboard(dir.path(), &["invites", "list", "--migration", migration, "--status", "bounced"]).stdout)
            .lines()
            .filter(|l| !l.starts_with("Delivery feedback"))
            .map(str::to_string)
            .collect::<Vec<_>>();
    assert_eq!(
        bounced.first().map(String::as_str),
        Some(format!("Invites of migration {migration} with delivery state bounced, by address:").as_str())
    );
    assert_eq!(bounced.last().map(String::as_str), Some(format!("1 invite of migration {migration}.").as_str()));
    assert_eq!(lines.iter().filter(|l| l.trim_start().starts_with("sent ") && l.contains(" due ")).count(), 3, "{out}");
    assert!(out.contains("bounce@simulator.amazonses.com") && out.contains("bounced"), "{out}");
}
