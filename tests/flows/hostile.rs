//! Hostile input: every file in `tests/fixtures/hostile/` (made by `make.py` there, which also
//! writes `manifest.json`: the answer each must get), plus the big cases made here (a 10 MB
//! cell, 10,000 columns, a file past the size limit) and path tricks in keys. Each gets a clear
//! answer: a rejection with a code and a message that says what to do, with nothing written but
//! the quarantine note; or rows read, with row issues. Nothing panics. `HOSTILE_PRINT=1` lists
//! the answer each corpus file gets instead of checking it.

use crate::data::set_settings;
use crate::helpers::*;
use crate::state;
use onboarding::app::route::UploadOutcome;
use onboarding::domain::issue::Issue;
use std::collections::BTreeMap;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/hostile");

/// Words a message uses to tell the reader what to do.
const ACTIONS: [&str; 11] = ["Upload", "upload", "Save", "Add", "Split", "Check", "Delete", "Correct", "Export", "rename", "use "];

fn key_for(name: &str) -> String {
    match name.split('-').next() {
        Some("users") => format!("inbox/users/hostile/{name}"),
        Some("tenants") => format!("inbox/tenants/{ONE_MARKET}/{name}"),
        Some("buildings") => format!("inbox/buildings/{name}"),
        _ => panic!("{name}: name hostile files users-*, tenants-* or buildings-*"),
    }
}

/// Issues must be readable: a code, a message, a bounded value.
fn check_issues(name: &str, issues: &[Issue]) {
    for issue in issues {
        assert!(issue.message.len() > 20 && issue.message.len() < 1000, "{name}: {issue:?}");
        assert!(issue.value.chars().count() <= 201, "{name}: the value is cut for display: {} chars", issue.value.chars().count());
    }
}

/// Uploads `bytes` and checks the answer against `expect` ("rejected:<code>" or "rows").
/// Returns the outcome for further checks.
async fn expect_answer(h: &Harness, name: &str, key: &str, bytes: &[u8], expect: &str) -> UploadOutcome {
    let before: Vec<String> = state::all(h, &[]).await;
    let outcome = h.upload(key, bytes).await;
    match (expect.strip_prefix("rejected:"), &outcome) {
        (Some(code), UploadOutcome::Rejected { code: got, message, report }) => {
            assert_eq!(got, code, "{name}: {message}");
            assert!(message.len() > 40 && message.len() < 2000, "{name}: {} chars: {message}", message.len());
            assert!(ACTIONS.iter().any(|a| message.contains(a)), "{name}: the message says what to do: {message}");
            assert!(h.objects.get(report).await.is_ok(), "{name}: the reason is in quarantine/");
            let after: Vec<String> =
                state::all(h, &[]).await.into_iter().filter(|l| !l.starts_with("quarantine/") && !l.starts_with(key)).collect();
            let before: Vec<String> = before.into_iter().filter(|l| !l.starts_with("quarantine/") && !l.starts_with(key)).collect();
            assert_eq!(before, after, "{name}: a rejected file wrote something: {}", state::diff(&before, &after));
        }
        (None, UploadOutcome::Plan(plan)) => {
            assert!(plan.rows > 0, "{name}");
            assert_eq!(plan.rows, plan.accepted + plan.rejected + plan.duplicates_merged + plan.inactive_skipped, "{name}: totals");
            let issues = h.objects.get("reports/users/hostile/issues.csv").await.unwrap();
            assert!(!issues.is_empty());
        }
        (None, UploadOutcome::Tenants(t)) => {
            assert_eq!(t.rows, t.accepted + t.rejected + t.duplicates_merged, "{name}: totals");
            check_issues(name, &t.issues);
        }
        (None, UploadOutcome::Buildings(b)) => {
            assert!(b.rows >= b.accepted + b.rejected, "{name}: totals");
            check_issues(name, &b.issues);
        }
        _ => panic!("{name}: expected {expect}, got {outcome:?}"),
    }
    outcome
}

pub async fn every_hostile_file_gets_a_clear_answer_and_writes_nothing_when_rejected(h: Harness) {
    h.with_buildings().await;
    let manifest: BTreeMap<String, String> =
        serde_json::from_slice(&std::fs::read(format!("{DIR}/manifest.json")).expect("run tests/fixtures/hostile/make.py")).unwrap();
    assert!(manifest.len() >= 50, "{} hostile files", manifest.len());
    let mut answers: BTreeMap<String, usize> = BTreeMap::new();
    for (name, expect) in &manifest {
        let bytes = std::fs::read(format!("{DIR}/{name}")).unwrap();
        if std::env::var("HOSTILE_PRINT").is_ok() {
            let got = match h.upload(&key_for(name), &bytes).await {
                UploadOutcome::Rejected { code, message, .. } => format!("rejected:{code} | {message}"),
                other => format!("rows | {}", serde_json::to_string(&other).unwrap().chars().take(150).collect::<String>()),
            };
            eprintln!("HOSTILE {name} expect={expect} got={got}");
            continue;
        }
        expect_answer(&h, name, &key_for(name), &bytes, expect).await;
        *answers.entry(expect.clone()).or_default() += 1;
    }

    // Made here: 10,000 columns (with and without the required ones).
    let header = "First Name,Last Name,Email,Role(s),Building assignments,Status";
    let extras: Vec<String> = (0..9994).map(|i| format!("Extra {i}")).collect();
    let wide = format!("{header},{}\nAda,Lovelace,ada@acme.example,Employee,HVB,active{}\n", extras.join(","), ",x".repeat(9994));
    expect_answer(&h, "10,000 columns", "inbox/users/hostile/wide.csv", wide.as_bytes(), "rows").await;
    let plan = String::from_utf8(h.objects.get("reports/users/hostile/plan.csv").await.unwrap()).unwrap();
    assert!(plan.lines().next().unwrap().ends_with("Extra 9993"), "extra columns are kept");
    let no_email: Vec<String> = (0..10_000).map(|i| format!("Column {i}")).collect();
    let UploadOutcome::Rejected { message, .. } = expect_answer(
        &h,
        "10,000 columns, none required",
        "inbox/users/hostile/wide-bad.csv",
        format!("{}\n1\n", no_email.join(",")).as_bytes(),
        "rejected:missing_column",
    )
    .await
    else {
        unreachable!()
    };
    assert!(message.contains("and 9980 more"), "{message}");

    // Past the configured size limit (1 MB here), refused while it streams.
    set_settings(&h, serde_json::json!({"max_file_megabytes": 1})).await;
    let mut big = String::from("Full Name,Email\n");
    while big.len() < 1_500_000 {
        big.push_str("Ada Lovelace,ada@acme.example\n");
    }
    expect_answer(
        &h,
        "1.5 MB over a 1 MB limit",
        &format!("inbox/tenants/{ONE_MARKET}/big.csv"),
        big.as_bytes(),
        "rejected:file_too_large",
    )
    .await;
    h.load_example_config().await;

    if !h.emulated {
        // A 10 MB cell in each kind of file: the row is refused with a short value, nothing else.
        let cell = "x".repeat(10 * 1024 * 1024);
        let users = format!("{header}\n{cell},Lovelace,ada@acme.example,Employee,HVB,active\nBo,B,bo@acme.example,Employee,HVB,active\n");
        let UploadOutcome::Plan(plan) =
            expect_answer(&h, "10 MB cell (users)", "inbox/users/hostile/cell.csv", users.as_bytes(), "rows").await
        else {
            unreachable!()
        };
        assert_eq!((plan.rows, plan.rejected), (2, 1));
        assert!(plan.issues_by_code.contains_key("value_too_long"));
        let tenants = format!("Full Name,Email,Phone Number\n{cell},ada@acme.example,\nBo,bo@acme.example,{cell}\n");
        let UploadOutcome::Tenants(t) =
            expect_answer(&h, "10 MB cell (tenants)", &format!("inbox/tenants/{ONE_MARKET}/cell.csv"), tenants.as_bytes(), "rows").await
        else {
            unreachable!()
        };
        assert_eq!((t.rows, t.rejected), (2, 1));
        let buildings = format!("Building UUID,Building Name,Address,Envoy CSM Email\n{HARBOR_VIEW},{cell},1 St,csm@envoy.example\n");
        let UploadOutcome::Buildings(b) =
            expect_answer(&h, "10 MB cell (buildings)", "inbox/buildings/cell.csv", buildings.as_bytes(), "rows").await
        else {
            unreachable!()
        };
        assert_eq!((b.rows, b.rejected), (1, 1), "{:?}", b.issues);
        answers.insert("generated 10 MB cells (embedded only)".into(), 3);
    }
    eprintln!("hostile files: {} from the corpus + generated; answers: {answers:?}", manifest.len());
}

pub async fn hostile_keys_are_refused_or_ignored(h: Harness) {
    h.with_buildings().await;
    let body = b"Full Name,Email\nAda,ada@acme.example\n".to_vec();
    let refused = [
        ("inbox/tenants/../x.csv", "unsafe_key"),
        ("inbox/buildings/../../config/settings.csv", "unsafe_key"),
        (&*format!("inbox/tenants/{ONE_MARKET}/../../users/m1/x.csv"), "unsafe_key"),
        ("inbox/users/m1//x.csv", "unsafe_key"),
        ("inbox/users/m1/a\u{0}b.csv", "unsafe_key"),
        ("inbox/users/m1/a\r\nb.csv", "unsafe_key"),
        ("inbox/buildings/a\\..\\b.csv", "unsafe_key"),
        ("approvals/../m1.json", "unsafe_key"),
        ("inbox/tenants/%2e%2e/x.csv", "unknown_building"),
        ("inbox/tenants/%2e%2e%2f%2e%2e/x.csv", "unknown_building"),
        ("inbox/tenants/..%2f..%2fetc/x.csv", "unknown_building"),
        ("inbox/users/%2e%2e/x.csv", "invalid_migration"),
        ("inbox/users/m%00/x.csv", "invalid_migration"),
        ("approvals/%2e%2e.json", "invalid_migration"),
        ("inbox/users/m1/x.exe", "unsupported_file"),
    ];
    for (key, code) in refused {
        let before = state::table(&h, &[]).await;
        // The object is stored under the key as given (S3 takes any key); the stores that
        // cannot hold such a name are not asked to.
        let outcome = onboarding::app::route::handle_upload(h.svc(), key, "v1").await.unwrap();
        let UploadOutcome::Rejected { code: got, message, report } = outcome else { panic!("{key:?} was not refused: {outcome:?}") };
        assert_eq!(got, code, "{key:?}: {message}");
        assert!(
            report.starts_with("quarantine/") && report.split('/').all(|p| !p.is_empty() && p != ".." && !p.contains('\0')),
            "{report:?}"
        );
        let stored = String::from_utf8(h.objects.get(&report).await.unwrap()).unwrap();
        assert!(stored.contains(code), "{stored}");
        assert!(ACTIONS.iter().any(|a| message.contains(a)) || message.contains("Tenant files go under"), "{key:?}: {message}");
        assert!(!message.contains('\0') && !message.contains('\r'), "{message:?}");
        assert_eq!(before, state::table(&h, &[]).await, "{key:?} wrote to the table");
    }
    // Our own outputs and folder markers are not inputs.
    for key in ["reports/users/m1/plan.csv", "quarantine/x.reason.json", "exports/envoy/x/e.csv", "inbox/users/m1/", "../inbox/x.csv"] {
        h.objects.put("inbox/ignored-probe.csv", body.clone(), "text/csv").await.unwrap();
        let outcome = onboarding::app::route::handle_upload(h.svc(), key, "v1").await.unwrap();
        assert!(matches!(outcome, UploadOutcome::Ignored), "{key}: {outcome:?}");
    }
}
