//! The handler over the embedded adapters, after buildings and an applied migration were
//! loaded through the upload flow; the schedule's event from a fixture.

use super::*;
use onboarding::domain::config::{ConfigOverrides, Mailbox};
use onboarding::domain::values::Email;
use onboarding::ports::ObjectStore;
use onboarding::test_support::Harness;
use std::path::Path;
use time::macros::datetime;

const SCHEDULED_EVENT: &str = include_str!("../../fixtures/eventbridge-scheduled-event.json");

/// Where settings.json, role-guide.csv, role-matrix.csv, buildings.csv and user-export.csv are.
const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures");

/// Two buildings and migration `acme-q4` applied today, its invites sent at once.
async fn applied_migration() -> Harness {
    let h = Harness::open(datetime!(2026-11-24 06:00 UTC));
    let applied = h.apply_migration(Path::new(FIXTURES), "acme-q4", None).await;
    assert_eq!(applied.dispatch.sent, 3);
    h
}

fn overrides() -> ConfigOverrides {
    ConfigOverrides {
        sender: Mailbox::parse("reports@tenant.example"),
        invite_link_template: None,
        ops_recipients: Some(vec![Email::parse("night.ops@tenant.example").unwrap()]),
    }
}

#[tokio::test]
async fn the_schedule_writes_the_report_and_mails_the_summary_once_a_day() {
    let h = applied_migration().await;

    let outcome = handle(h.svc(), &overrides(), serde_json::from_str(SCHEDULED_EVENT).unwrap()).await.unwrap();

    assert_eq!((outcome.date.as_str(), outcome.migrations, outcome.buildings), ("2026-11-24", 1, 2));
    assert!(outcome.summary_mailed);
    assert_eq!(
        outcome.outputs,
        [
            "reports/validation/2026-11-24/report.html",
            "reports/validation/2026-11-24/report.csv",
            "reports/validation/2026-11-24/report.json"
        ]
    );
    for key in &outcome.outputs {
        assert!(h.objects.get(key).await.is_ok(), "{key} was not written");
    }
    let report: serde_json::Value =
        serde_json::from_slice(&h.objects.get("reports/validation/2026-11-24/report.json").await.unwrap()).unwrap();
    let migration = &report["migrations"][0];
    assert_eq!(
        (migration["migration"].as_str(), migration["users_checked"].as_u64(), migration["users_ok"].as_u64()),
        (Some("acme-q4"), Some(3), Some(3)),
        "{report}"
    );
    assert_eq!(migration["invites_sent"], 3);

    let summaries = h.mailer.sent_with_key("validation#");
    assert_eq!(summaries.len(), 1);
    let to: Vec<&str> = summaries[0].to.iter().map(|e| e.as_str()).collect();
    assert_eq!(to, ["night.ops@tenant.example"], "OPS_RECIPIENTS replaces the list of settings.json");
    assert_eq!((summaries[0].from.as_str(), summaries[0].from_name.as_str()), ("reports@tenant.example", "Acme Visitor Onboarding"));

    // A second run the same day (a retry, or on demand) rewrites the files and mails nothing.
    let again = handle(h.svc(), &overrides(), serde_json::json!({})).await.unwrap();
    assert_eq!((again.problems, again.summary_mailed), (outcome.problems, false));
    assert_eq!(h.mailer.sent_with_key("validation#").len(), 1);
}

#[tokio::test]
async fn the_answer_is_the_outcome_as_json() {
    let h = applied_migration().await;
    let outcome = handle(h.svc(), &overrides(), serde_json::from_str(SCHEDULED_EVENT).unwrap()).await.unwrap();
    let answer = serde_json::to_value(&outcome).unwrap();
    for key in ["date", "problems", "migrations", "buildings", "summary_mailed", "outputs"] {
        assert!(answer.get(key).is_some(), "{key} missing from {answer}");
    }
    assert_eq!(answer["outputs"].as_array().unwrap().len(), 3);
    assert!(!answer.to_string().contains('@'), "no addresses in the answer: {answer}");
}

#[tokio::test]
async fn an_unusable_config_fails_the_run() {
    let h = applied_migration().await;
    h.objects.put("config/role-matrix.csv", b"Old Role,Platform Roles\nAdmin,No Such Role\n".to_vec(), "text/csv").await.unwrap();
    let error = handle(h.svc(), &overrides(), serde_json::from_str(SCHEDULED_EVENT).unwrap()).await.unwrap_err();
    assert!(matches!(error.cause, AppError::Rejected(_)), "{error:?}");
    assert_eq!(lambda_runtime::Diagnostic::from(error).error_type, "Rejected");
    assert!(h.objects.get("reports/validation/2026-11-24/report.json").await.is_err(), "nothing written");
}
