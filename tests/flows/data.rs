//! Small inputs the reliability scenarios share.

use crate::helpers::*;
use onboarding::app::route::UploadOutcome;
use onboarding::domain::approval::Approval;
use onboarding::domain::values::MigrationId;

/// A tenant contacts file of `count` people (`person<i>@tenant.example`).
pub fn tenants_csv(count: usize) -> Vec<u8> {
    let mut text = String::from("Full Name,Email,Phone Number\n");
    for i in 0..count {
        text.push_str(&format!("Person {i},person{i}@tenant.example,+1415555{:04}\n", 1000 + i));
    }
    text.into_bytes()
}

/// A user export of `count` new, active users (`user<i>@acme.example`) plus one inactive user,
/// one duplicate row and one row without an address, so every total is exercised.
pub fn users_csv(count: usize) -> Vec<u8> {
    let mut text = String::from("First Name,Last Name,Email,Role(s),Building assignments,Status\n");
    for i in 0..count {
        text.push_str(&format!("User,{i},user{i}@acme.example,Employee,HVB,active\n"));
    }
    text.push_str("User,0,USER0@acme.example,Front Desk,1MKT,active\n");
    text.push_str("Gone,Away,gone@acme.example,Employee,HVB,inactive\n");
    text.push_str("No,Address,,Employee,HVB,active\n");
    text.into_bytes()
}

/// The addresses `users_csv(count)` names.
pub fn user_emails(count: usize) -> Vec<String> {
    (0..count).map(|i| format!("user{i}@acme.example")).chain(["gone@acme.example".to_string()]).collect()
}

pub fn approval_json(migration: &str, sha: &str, invite_date: Option<&str>) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "plan_sha256": sha,
        "approved_by": "Pat Property",
        "invite_date": invite_date,
        "migration": migration,
    }))
    .unwrap()
}

pub fn approval(migration: &str, sha: &str, invite_date: Option<&str>) -> Approval {
    Approval::parse(&approval_json(migration, sha, invite_date), &MigrationId::parse(migration).unwrap()).unwrap()
}

/// The stored settings (the example's when none are stored) with some fields changed, stored
/// as `config/settings.json`.
pub async fn set_settings(h: &Harness, changes: serde_json::Value) {
    let stored = match h.objects.get("config/settings.json").await {
        Ok(bytes) => bytes,
        Err(_) => include_bytes!("../../infra/examples/config/settings.json").to_vec(),
    };
    let mut settings: serde_json::Value = serde_json::from_slice(&stored).unwrap();
    for (field, value) in changes.as_object().unwrap() {
        settings[field] = value.clone();
    }
    h.objects.put("config/settings.json", serde_json::to_vec(&settings).unwrap(), "application/json").await.unwrap();
}

/// Buildings and config loaded (sends paced at 1000/s, so tests do not wait), `count` users
/// planned for `migration`; returns the plan's SHA-256.
pub async fn planned(h: &Harness, migration: &str, count: usize) -> String {
    h.with_buildings().await;
    set_settings(h, serde_json::json!({"max_send_rate_per_second": 1000})).await;
    match h.upload(&format!("inbox/users/{migration}/export.csv"), &users_csv(count)).await {
        UploadOutcome::Plan(summary) => {
            assert_eq!(summary.rows, summary.accepted + summary.rejected + summary.duplicates_merged + summary.inactive_skipped);
            summary.plan_sha256
        }
        other => panic!("not planned: {other:?}"),
    }
}

/// `planned`, then approved for tomorrow and the clock moved to tomorrow: `count` invites due.
pub async fn invites_due(h: &Harness, migration: &str, count: usize) {
    let sha = planned(h, migration, count).await;
    let tomorrow = (h.clock_now().date() + time::Duration::days(1)).to_string();
    match h.upload(&format!("approvals/{migration}.json"), &approval_json(migration, &sha, Some(&tomorrow))).await {
        UploadOutcome::Applied { apply, dispatch } => {
            assert_eq!((apply.invites_queued, dispatch.sent), (count as u64, 0));
        }
        other => panic!("not applied: {other:?}"),
    }
    h.clock.advance_days(1);
}
