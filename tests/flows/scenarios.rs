//! The scenario suite. Each scenario takes a fresh harness (embedded or emulator) and asserts
//! what a property manager or implementation manager would check.

use crate::faults::FaultyTable;
use crate::helpers::*;
use onboarding::app::route::UploadOutcome;
use onboarding::app::{apply, dispatch, plan, tenants, tile, validate, AppError};
use onboarding::domain::approval::Approval;
use onboarding::domain::building::Phase;
use onboarding::domain::invite::MailStatus;
use onboarding::domain::tile::TileReason;
use onboarding::domain::values::MigrationId;
use onboarding::ports::Mailer;
use sha2_free::sha256_hex;

mod sha2_free {
    /// The plan's SHA-256 as a user would compute it with `sha256sum plan.csv`.
    pub fn sha256_hex(bytes: &[u8]) -> String {
        let mut hasher = <sha2::Sha256 as sha2::Digest>::new();
        sha2::Digest::update(&mut hasher, bytes);
        hex::encode(sha2::Digest::finalize(hasher))
    }
}

fn tenants_csv(count: usize) -> Vec<u8> {
    let mut text = String::from("Full Name,Email,Phone Number\n");
    for i in 0..count {
        text.push_str(&format!("Person {i},person{i}@tenant.example,+1415555{:04}\n", 1000 + i));
    }
    text.into_bytes()
}

pub async fn buildings_are_upserted_and_kicked_off_once(h: Harness) {
    h.load_example_config().await;
    let UploadOutcome::Buildings(first) = h.upload("inbox/buildings/buildings.csv", BUILDINGS_CSV).await else {
        panic!("not routed to buildings")
    };
    assert_eq!((first.rows, first.accepted, first.rejected, first.kickstarts_sent), (3, 2, 1, 2));
    let bad = first.issues.iter().find(|i| i.row == Some(4)).expect("row 4 is reported");
    assert_eq!((bad.code.as_str(), bad.column.as_deref(), bad.value.as_str()), ("invalid_email", Some("Envoy CSM Email"), "not-an-email"));

    // The same S3 event again (a duplicate delivery or a Lambda retry): nothing happens.
    assert!(matches!(h.deliver("inbox/buildings/buildings.csv", BUILDINGS_CSV).await, UploadOutcome::AlreadyProcessed));
    // A new upload of the same buildings: upserted again, no second kickstart.
    let mut again = BUILDINGS_CSV.to_vec();
    again.extend_from_slice(b"\n");
    let UploadOutcome::Buildings(second) = h.upload("inbox/buildings/buildings-v2.csv", &again).await else { panic!() };
    assert_eq!((second.kickstarts_sent, second.kickstarts_already_sent), (0, 2));
    assert_eq!(h.mailer.sent_to_kind("kickstart#"), 2);
    h.mailer.assert_each_sent_once();

    let state = h.table.get_building(&building(ONE_MARKET)).await.unwrap().unwrap();
    assert_eq!(state.phase, Phase::KickstartSent);
    assert!(state.kickstart_message_id.is_some());
    assert_eq!(state.building.aliases, ["1MKT", "Market Tower"]);

    // Asked for on purpose, the kickstart goes out again, once per request.
    let config = h.config().await;
    let resent = onboarding::app::buildings::ingest_buildings(h.svc(), &config, "inbox/buildings/buildings.csv", true).await.unwrap();
    assert_eq!(resent.kickstarts_sent, 2);
    assert_eq!(h.mailer.sent_to_kind("kickstart#"), 4);
    h.mailer.assert_each_sent_once();

    onboarding::app::buildings::set_phase(h.svc(), &building(ONE_MARKET), Phase::Testing, false).await.unwrap();
    assert_eq!(h.table.get_building(&building(ONE_MARKET)).await.unwrap().unwrap().phase, Phase::Testing);
}

pub async fn tenant_contacts_grant_the_tile_and_write_the_envoy_file(h: Harness) {
    h.with_buildings().await;
    // A permissioned building cannot go live with nobody granted (nobody would see the tile).
    let refused = onboarding::app::buildings::set_phase(h.svc(), &building(ONE_MARKET), Phase::Live, false).await;
    assert!(matches!(&refused, Err(AppError::Rejected(r)) if r.code == "no_contacts" && r.message.contains("--force")), "{refused:?}");
    // UTF-16 with a BOM, semicolons, CRLF, a quoted line break, a duplicate and a bad row.
    let text = "Tenant Contact Name;Tenant Contact Email;Mobile\r\n\"Ada\r\nLovelace\";ada@acme.example;(415) 555-2671\r\nGrace Hopper;grace@acme.example;\r\nGrace Hopper;GRACE@acme.example;+1 415 555 0199\r\nNo Mail;;\r\n";
    let key = format!("inbox/tenants/{ONE_MARKET}/contacts.csv");
    let UploadOutcome::Tenants(out) = h.upload(&key, &utf16le(text)).await else { panic!("not routed to tenants") };
    assert_eq!((out.rows, out.accepted, out.rejected, out.duplicates_merged, out.granted), (4, 2, 1, 1, 2));
    assert_eq!(out.issues.iter().find(|i| i.row == Some(5)).unwrap().code.as_str(), "missing_email");

    let export = h.objects.get(&format!("exports/envoy/{ONE_MARKET}/envoy-employees.csv")).await.unwrap();
    assert_eq!(
        String::from_utf8(export).unwrap(),
        "Full Name,Email,Phone Number\r\nAda Lovelace,ada@acme.example,+14155552671\r\nGrace Hopper,grace@acme.example,+14155550199\r\n"
    );

    // Before go-live nobody sees the tile, granted or not; going live needs no re-upload.
    let before = tile::check_tile(h.table.as_ref(), &building(ONE_MARKET), &[email("ada@acme.example")]).await.unwrap();
    assert_eq!((before[0].visible, before[0].can_register_visitors, before[0].reason), (false, false, TileReason::BuildingNotLive));
    onboarding::app::buildings::set_phase(h.svc(), &building(ONE_MARKET), Phase::Live, false).await.expect("live: it has contacts now");
    let answers = tile::check_tile(h.table.as_ref(), &building(ONE_MARKET), &[email("ada@acme.example"), email("stranger@else.example")])
        .await
        .unwrap();
    assert_eq!((answers[0].visible, answers[0].can_register_visitors, answers[0].reason), (true, true, TileReason::Granted));
    assert_eq!((answers[1].visible, answers[1].reason), (false, TileReason::NotGranted));
    // A batch answers in request order, duplicates included (BatchGetItem on DynamoDB).
    let batch = [email("grace@acme.example"), email("stranger@else.example"), email("grace@acme.example"), email("ada@acme.example")];
    let answers = tile::check_tile(h.table.as_ref(), &building(ONE_MARKET), &batch).await.unwrap();
    let reasons: Vec<_> = answers.iter().map(|a| a.reason).collect();
    assert_eq!(reasons, [TileReason::Granted, TileReason::NotGranted, TileReason::Granted, TileReason::Granted]);
    let unknown =
        tile::check_tile(h.table.as_ref(), &building("00000000-0000-4000-8000-000000000000"), &[email("ada@acme.example")]).await.unwrap();
    assert_eq!(unknown[0].reason, TileReason::UnknownBuilding);

    // Harbor View shows the tile to everyone: its contacts can register, others get told why not.
    let UploadOutcome::Tenants(open) =
        h.upload(&format!("inbox/tenants/{HARBOR_VIEW}/c.csv"), b"Full Name,Email\nJose,jose@globex.example\n").await
    else {
        panic!()
    };
    assert_eq!(open.granted, 0);
    let before = tile::check_tile(h.table.as_ref(), &building(HARBOR_VIEW), &[email("ada@acme.example")]).await.unwrap();
    assert_eq!((before[0].visible, before[0].reason), (false, TileReason::BuildingNotLive), "an everyone building waits for go-live too");
    onboarding::app::buildings::set_phase(h.svc(), &building(HARBOR_VIEW), Phase::Live, false).await.unwrap();
    let answers = tile::check_tile(h.table.as_ref(), &building(HARBOR_VIEW), &[email("jose@globex.example"), email("ada@acme.example")])
        .await
        .unwrap();
    assert_eq!(answers[0].reason, TileReason::Granted);
    assert_eq!((answers[1].visible, answers[1].can_register_visitors, answers[1].reason), (true, false, TileReason::EveryonePolicyNoEnvoy));

    // Adding a second file keeps the first file's people: Envoy replaces its directory on upload.
    let UploadOutcome::Tenants(more) =
        h.upload(&format!("inbox/tenants/{ONE_MARKET}/more.csv"), b"Full Name,Email\nAlan Turing,alan@initech.example\n").await
    else {
        panic!()
    };
    assert_eq!(more.directory_size, 3);
}

pub async fn replace_mode_refuses_a_mass_removal_unless_forced(h: Harness) {
    h.with_buildings().await;
    let id = building(ONE_MARKET);
    let UploadOutcome::Tenants(out) = h.upload(&format!("inbox/tenants/{ONE_MARKET}/all.csv"), &tenants_csv(10)).await else { panic!() };
    assert_eq!(out.directory_size, 10);
    let export_before = h.objects.get(&format!("exports/envoy/{ONE_MARKET}/envoy-employees.csv")).await.unwrap();

    // A truncated file (7 of 10) in replace mode would remove 30 %: refused, nothing changes.
    let UploadOutcome::Rejected { code, message, report } =
        h.upload(&format!("inbox/tenants/{ONE_MARKET}/replace/cut.csv"), &tenants_csv(7)).await
    else {
        panic!("guard did not hold")
    };
    assert_eq!(code, "revoke_guard");
    assert!(message.contains("3 of the building's 10"), "{message}");
    assert!(h.objects.get(&report).await.is_ok(), "the reason is stored in quarantine/");
    assert_eq!(h.table.list_contacts(&id).await.unwrap().len(), 10);
    assert_eq!(h.objects.get(&format!("exports/envoy/{ONE_MARKET}/envoy-employees.csv")).await.unwrap(), export_before);

    // Within the threshold (1 of 10) it goes through.
    let config = h.config().await;
    let options = tenants::TenantOptions { replace: true, force: false };
    h.objects.put("inbox/tenants/x/nine.csv", tenants_csv(9), "text/csv").await.unwrap();
    let nine = tenants::ingest_tenants(h.svc(), &config, &id, "inbox/tenants/x/nine.csv", options).await.unwrap();
    assert_eq!((nine.revoked, nine.directory_size), (1, 9));

    // Forced, the mass removal is applied, grants included.
    let UploadOutcome::Tenants(forced) = h.upload(&format!("inbox/tenants/{ONE_MARKET}/replace/force/cut.csv"), &tenants_csv(3)).await
    else {
        panic!()
    };
    assert_eq!((forced.revoked, forced.directory_size), (6, 3));
    assert!(!h.table.has_grant(&id, &email("person5@tenant.example")).await.unwrap());
    assert!(h.table.has_grant(&id, &email("person2@tenant.example")).await.unwrap());
    let export = String::from_utf8(h.objects.get(&format!("exports/envoy/{ONE_MARKET}/envoy-employees.csv")).await.unwrap()).unwrap();
    assert_eq!(export.lines().count(), 4);
}

/// A messy Excel export: a title row, header aliases, duplicates, an inactive user, an unmapped
/// role, an unknown building, a bad address, and two users the platform already has.
fn users_workbook() -> Vec<u8> {
    let rows: &[[&str; 7]] = &[
        ["Legacy export", "", "", "", "", "", ""],
        ["First Name", "Surname", "Email Address", "Roles", "Buildings", "Active", "Badge"],
        ["Ada", "Lovelace", "ada@acme.example", "Admin", "One Market Plaza", "Active", "A1"],
        ["Grace", "Hopper", "grace@acme.example", "Front Desk", "1MKT", "yes", "A2"],
        ["Grace", "Hopper", "GRACE@acme.example", "Employee", "Harbor View", "1", "A2"],
        ["Alan", "Turing", "alan@initech.example", "Employee; Janitor", "One Market Plaza", "active", "B1"],
        ["Kat", "Johnson", "kat@initech.example", "Employee", "Nowhere Tower", "active", "B2"],
        ["Dot", "Vaughan", "dot@initech.example", "Employee", "HVB", "disabled", "B3"],
        ["Mary", "Jackson", "mary@initech", "Employee", "HVB", "active", "B4"],
        ["Old", "Timer", "old@acme.example", "Admin", "One Market Plaza", "active", "C1"],
        ["Same", "Same", "same@acme.example", "Employee", "HVB", "active", "C2"],
        ["Bo", "Evil", "bo@acme.example", "Employee", "HVB", "active", "=HYPERLINK(\"http://x\")"],
    ];
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet().set_name("Users").unwrap();
    for (r, row) in rows.iter().enumerate() {
        for (c, cell) in row.iter().enumerate() {
            sheet.write(r as u32, c as u16, *cell).unwrap();
        }
    }
    book.save_to_buffer().unwrap()
}

async fn with_existing_users(h: &Harness) {
    use onboarding::ports::NewUser;
    let m = MigrationId::parse("platform").unwrap();
    let user = |e: &str, roles: &[&str], b: &str| NewUser {
        email: email(e),
        first_name: "Existing".into(),
        last_name: "User".into(),
        roles: roles.iter().map(|r| r.to_string()).collect(),
        buildings: vec![building(b)],
        migration: m.clone(),
    };
    h.table
        .create_users(&[
            user("old@acme.example", &["Tenant User"], ONE_MARKET),
            user("same@acme.example", &["Visitor Registration Host", "Tenant User"], HARBOR_VIEW),
        ])
        .await
        .unwrap();
}

pub async fn plan_users(h: &Harness, migration: &str, bytes: &[u8]) -> onboarding::domain::plan::PlanSummary {
    match h.upload(&format!("inbox/users/{migration}/export.xlsx"), bytes).await {
        UploadOutcome::Plan(summary) => summary,
        other => panic!("not planned: {other:?}"),
    }
}

pub fn approval(migration: &str, sha: &str, invite_date: Option<&str>, exclude: &[&str]) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "plan_sha256": sha,
        "approved_by": "Pat Property",
        "invite_date": invite_date,
        "exclude": exclude,
        "migration": migration,
    }))
    .unwrap()
}

pub async fn migration_plans_approves_applies_and_invites_exactly_once(h: Harness) {
    h.with_buildings().await;
    with_existing_users(&h).await;
    let summary = plan_users(&h, "acme-q4", &users_workbook()).await;
    assert_eq!((summary.rows, summary.rejected, summary.duplicates_merged, summary.inactive_skipped), (10, 1, 1, 1));
    assert_eq!(summary.rows, summary.accepted + summary.rejected + summary.duplicates_merged + summary.inactive_skipped);
    let actions = |a: &str| summary.actions[a];
    assert_eq!(
        (actions("create_and_invite"), actions("add_roles"), actions("no_change"), actions("hold"), actions("skip_inactive")),
        (3, 1, 1, 2, 1)
    );
    for code in ["duplicate_merged", "inactive_skipped", "unmapped_role", "unknown_building", "invalid_email", "capability_gap"] {
        assert!(summary.issues_by_code.contains_key(code), "missing {code}: {:?}", summary.issues_by_code);
    }
    // Planning wrote nothing to users.
    assert!(h.table.get_users(&[email("ada@acme.example")]).await.unwrap().is_empty());
    // The SHA-256 is the one `sha256sum plan.csv` prints; the plan keeps extra columns, safely.
    let plan_csv = h.objects.get("reports/users/acme-q4/plan.csv").await.unwrap();
    assert_eq!(sha256_hex(&plan_csv), summary.plan_sha256);
    let plan_text = String::from_utf8(plan_csv).unwrap();
    assert!(plan_text.lines().next().unwrap().ends_with(",Badge"));
    assert!(plan_text.contains("'=HYPERLINK"), "formula neutralised");
    let old = plan_text.lines().find(|l| l.contains("old@acme.example")).unwrap();
    assert!(old.contains("add_roles") && old.contains("Visitor Registration Administrator"), "{old}");
    for file in ["issues.csv", "summary.json", "report.html"] {
        assert!(h.objects.get(&format!("reports/users/acme-q4/{file}")).await.is_ok(), "{file}");
    }

    // Approved with an invite date three days out, leaving Grace out.
    let body = approval("acme-q4", &summary.plan_sha256, Some("2026-11-26"), &["grace@acme.example"]);
    let UploadOutcome::Applied { apply, dispatch } = h.upload("approvals/acme-q4.json", &body).await else { panic!("not applied") };
    assert_eq!(
        (apply.users_created, apply.users_updated, apply.unchanged, apply.held, apply.excluded, apply.invites_queued),
        (2, 1, 1, 2, 1, 2)
    );
    assert_eq!(dispatch.sent, 0, "invites wait for their date");
    let users = h
        .table
        .get_users(&[email("ada@acme.example"), email("old@acme.example"), email("grace@acme.example"), email("alan@initech.example")])
        .await
        .unwrap();
    assert!(users[&email("ada@acme.example")].roles.contains("Visitor Registration Administrator"));
    let old = &users[&email("old@acme.example")];
    assert!(old.roles.contains("Tenant User") && old.roles.contains("Visitor Registration Administrator"), "kept and gained: {old:?}");
    assert!(!users.contains_key(&email("grace@acme.example")), "excluded");
    assert!(!users.contains_key(&email("alan@initech.example")), "held");

    // Replayed approval event: nothing again.
    assert!(matches!(h.deliver("approvals/acme-q4.json", &body).await, UploadOutcome::AlreadyProcessed));
    let config = h.config().await;
    assert_eq!(dispatch::dispatch_invites(h.svc(), &config, 100, None).await.unwrap().sent, 0);
    h.clock.advance_days(3);
    let first = dispatch::dispatch_invites(h.svc(), &config, 100, None).await.unwrap();
    assert_eq!(first.sent, 2);
    let again = dispatch::dispatch_invites(h.svc(), &config, 100, None).await.unwrap();
    assert_eq!((again.sent, again.already_sent), (0, 0));
    // The same approval re-applied by hand (say after a crash) queues nothing new and sends nothing.
    let approval = Approval::parse(&body, &MigrationId::parse("acme-q4").unwrap()).unwrap();
    let reapplied = apply::apply_approval(h.svc(), &approval).await.unwrap();
    assert!(reapplied.already_applied);
    assert_eq!(dispatch::dispatch_invites(h.svc(), &config, 100, None).await.unwrap().sent, 0);
    assert_eq!(h.mailer.sent_to_kind("invite#"), 2);
    h.mailer.assert_each_sent_once();
    let invite = h.table.get_invite(&approval.migration, &email("ada@acme.example")).await.unwrap().unwrap();
    assert_eq!(invite.status, MailStatus::Sent);

    let (report, _) = validate::validation_report(h.svc(), &config).await.unwrap();
    assert_eq!(report.migrations[0].users_checked, 4);
    assert!(report.discrepancies.is_empty(), "{:?}", report.discrepancies);
}

pub async fn stale_and_unknown_approvals_are_refused(h: Harness) {
    h.with_buildings().await;
    let first = plan_users(&h, "acme-q4", &users_workbook()).await;
    // The export changes and is planned again: the first plan's approval is now stale.
    let mut changed = String::from_utf8(h.objects.get("reports/users/acme-q4/plan.csv").await.unwrap()).unwrap();
    changed.clear();
    changed.push_str("First Name,Last Name,Email,Role(s),Building assignments,Status\nNew,Person,new@acme.example,Employee,HVB,active\n");
    let second = plan_users(&h, "acme-q4", changed.as_bytes()).await;
    assert_ne!(first.plan_sha256, second.plan_sha256);
    let UploadOutcome::Rejected { code, message, .. } =
        h.upload("approvals/acme-q4.json", &approval("acme-q4", &first.plan_sha256, None, &[])).await
    else {
        panic!("stale plan applied")
    };
    assert_eq!(code, "stale_plan");
    assert!(message.contains(&second.plan_sha256), "{message}");
    assert!(h.table.get_users(&[email("ada@acme.example"), email("new@acme.example")]).await.unwrap().is_empty());

    let UploadOutcome::Rejected { code, .. } = h.upload("approvals/nobody.json", &approval("nobody", &first.plan_sha256, None, &[])).await
    else {
        panic!()
    };
    assert_eq!(code, "unknown_plan");
    let UploadOutcome::Rejected { code, .. } = h.upload("approvals/acme-q4.json", b"{\"plan_sha256\": 1}").await else { panic!() };
    assert_eq!(code, "invalid_approval");
    assert_eq!(h.mailer.sent_to_kind("invite#"), 0);
}

async fn end_state(h: &Harness) -> Vec<String> {
    let emails: Vec<_> = ["ada@acme.example", "grace@acme.example", "old@acme.example", "same@acme.example", "bo@acme.example"]
        .iter()
        .map(|e| email(e))
        .collect();
    let users = h.table.get_users(&emails).await.unwrap();
    let m = MigrationId::parse("acme-q4").unwrap();
    let mut state: Vec<String> = users.iter().map(|(e, u)| format!("{e}: {:?} {:?}", u.roles, u.buildings)).collect();
    for invite in h.table.list_invites(&m).await.unwrap() {
        state.push(format!("invite {} {} {:?}", invite.email, invite.due, invite.status));
    }
    state.sort();
    state
}

pub async fn apply_resumes_after_a_crash_at_any_point(h: Harness) {
    // The reference: an uninterrupted run.
    let reference = {
        let r = Harness::embedded();
        r.with_buildings().await;
        with_existing_users(&r).await;
        let summary = plan_users(&r, "acme-q4", &users_workbook()).await;
        let a = Approval::parse(&approval("acme-q4", &summary.plan_sha256, None, &[]), &MigrationId::parse("acme-q4").unwrap()).unwrap();
        apply::apply_approval(r.svc(), &a).await.unwrap();
        end_state(&r).await
    };
    h.with_buildings().await;
    with_existing_users(&h).await;
    let summary = plan_users(&h, "acme-q4", &users_workbook()).await;
    let a = Approval::parse(&approval("acme-q4", &summary.plan_sha256, None, &[]), &MigrationId::parse("acme-q4").unwrap()).unwrap();
    // Apply once, count the table calls of running it again (what every later run makes: the
    // users it finds done need no write), then crash at each of them in turn (before and after
    // the call takes effect), resuming each time with a clean run on the same store. A fresh
    // store per crash point is `crashes::apply_resumes_from_every_partial_state`.
    plan::load_plan(h.svc(), &a.migration, &a.plan_sha256).await.unwrap();
    apply::apply_approval(h.svc(), &a).await.unwrap();
    let counter = FaultyTable::new(h.table.as_ref(), u64::MAX, false);
    apply::apply_approval(h.svc_with(&counter), &a).await.unwrap();
    let calls = counter.calls();
    assert!(calls >= 5, "a run makes {calls} table calls");
    let points: Vec<u64> = if h.emulated { vec![1, calls / 2, calls] } else { (1..=calls).collect() };
    for fail_at in points {
        for after_effect in [false, true] {
            let faulty = FaultyTable::new(h.table.as_ref(), fail_at, after_effect);
            let crashed = apply::apply_approval(h.svc_with(&faulty), &a).await;
            assert!(matches!(crashed, Err(AppError::Port(_))), "call {fail_at} did not fail the run");
            apply::apply_approval(h.svc(), &a).await.unwrap();
            assert_eq!(end_state(&h).await, reference, "after a crash at call {fail_at} (after_effect={after_effect})");
        }
    }
    let config = h.config().await;
    let sent = dispatch::dispatch_invites(h.svc(), &config, 100, None).await.unwrap();
    assert_eq!(sent.sent, 3);
    h.mailer.assert_each_sent_once();
}

pub async fn dispatch_resumes_after_mail_failures_without_duplicates(h: Harness) {
    h.with_buildings().await;
    let mut text = String::from("First Name,Last Name,Email,Role(s),Building assignments,Status\n");
    for i in 0..12 {
        text.push_str(&format!("User,{i},user{i}@acme.example,Employee,HVB,active\n"));
    }
    let summary = plan_users(&h, "bulk", text.as_bytes()).await;
    h.mailer.paused.store(true, std::sync::atomic::Ordering::SeqCst);
    let UploadOutcome::Applied { apply, dispatch } =
        h.upload("approvals/bulk.json", &approval("bulk", &summary.plan_sha256, None, &[])).await
    else {
        panic!()
    };
    assert_eq!((apply.invites_queued, dispatch.sent), (12, 0));
    assert!(dispatch.stopped.unwrap().contains("paused"));
    h.mailer.paused.store(false, std::sync::atomic::Ordering::SeqCst);

    // The mail service fails after 5 sends: the run stops, the rest stay queued. The first send
    // is the approval's notice, parked while sending was paused.
    h.mailer.fail_after_more(5);
    let config = h.config().await;
    let first = dispatch::dispatch_invites(h.svc(), &config, 100, None).await.unwrap();
    assert_eq!((first.notices_sent, first.sent, first.retry_later), (1, 4, 1), "{first:?}");
    h.mailer.fail_after.store(0, std::sync::atomic::Ordering::SeqCst);
    // A crash in the ledger after a send is confirmed must not lose or repeat it either.
    // (the fourth table call of the run fails after it took effect)
    let faulty = FaultyTable::new(h.table.as_ref(), 4, true);
    let _ = dispatch::dispatch_invites(h.svc_with(&faulty), &config, 100, None).await;
    // Past the claim lease, so a claim whose send's fate is unknown reads as unconfirmed.
    h.clock.advance_minutes(16);
    let rest = dispatch::dispatch_invites(h.svc(), &config, 100, None).await.unwrap();
    let m = MigrationId::parse("bulk").unwrap();
    let invites = h.table.list_invites(&m).await.unwrap();
    let sent = invites.iter().filter(|i| i.status == MailStatus::Sent).count();
    let unconfirmed = invites.iter().filter(|i| matches!(i.status, MailStatus::Sending | MailStatus::Unconfirmed)).count();
    assert_eq!(sent + unconfirmed, 12, "every invite is sent or flagged: {rest:?}");
    h.mailer.assert_each_sent_once();
    assert_eq!(h.mailer.sent_to_kind("invite#") as usize, 12 - if h.mailer.deduplicates() { 0 } else { unconfirmed });
}

pub async fn validation_report_flags_stale_kickstarts_and_late_invites(h: Harness) {
    h.with_buildings().await;
    let summary = plan_users(
        &h,
        "late",
        b"First Name,Last Name,Email,Role(s),Building assignments,Status\nLate,Invite,late@acme.example,Employee,HVB,active\n",
    )
    .await;
    h.mailer.paused.store(true, std::sync::atomic::Ordering::SeqCst);
    let UploadOutcome::Applied { .. } =
        h.upload("approvals/late.json", &approval("late", &summary.plan_sha256, Some("2026-11-24"), &[])).await
    else {
        panic!()
    };
    h.clock.advance_days(20);
    let config = h.config().await;
    let (report, outcome) = validate::validation_report(h.svc(), &config).await.unwrap();
    let stale = report.buildings.iter().find(|b| b.id == ONE_MARKET).unwrap();
    assert!(stale.problems.iter().any(|p| p.contains("no progress")), "{:?}", stale.problems);
    assert_eq!(stale.phase_age_days, 20);
    let late = &report.discrepancies[0];
    assert!(late.problems.iter().any(|p| p.contains("pending past its date")), "{late:?}");
    assert!(outcome.problems >= 3);
    for file in &outcome.outputs {
        assert!(h.objects.get(file).await.is_ok(), "{file}");
    }
    let csv = String::from_utf8(h.objects.get(&outcome.outputs[1]).await.unwrap()).unwrap();
    assert!(csv.contains("late@acme.example"));
    assert!(!outcome.summary_mailed, "the mail service is paused");
    h.mailer.paused.store(false, std::sync::atomic::Ordering::SeqCst);
    let (_, again) = validate::validation_report(h.svc(), &config).await.unwrap();
    assert!(again.summary_mailed);
    let (_, third) = validate::validation_report(h.svc(), &config).await.unwrap();
    assert!(!third.summary_mailed, "one summary a day");
}

pub async fn rejected_files_write_nothing_and_say_why(h: Harness) {
    h.with_buildings().await;
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "inbox/users/m1/missing.csv",
            b"First Name,Last Name,Contact,Roles,Buildings,Status\nA,B,a@b.co,Admin,HVB,active\n".to_vec(),
            "missing_column",
        ),
        ("inbox/users/m1/empty.csv", Vec::new(), "empty_file"),
        ("inbox/users/m1/header-only.csv", b"First Name,Last Name,Email,Roles,Buildings,Status\n".to_vec(), "no_rows"),
        ("inbox/users/m1/binary.csv", vec![0, 1, 2, 3, 255, 254, 0, 0], "not_a_table"),
        ("inbox/users/m1/dup.csv", b"First Name,Last Name,Email,E-mail,Roles,Buildings,Status\n".to_vec(), "duplicate_column"),
        ("inbox/users/m1/notes.pdf", b"%PDF".to_vec(), "unsupported_file"),
        ("inbox/tenants/not-a-uuid/c.csv", b"Full Name,Email\n".to_vec(), "unknown_building"),
        ("inbox/tenants/00000000-0000-4000-8000-000000000000/c.csv", b"Full Name,Email\nA,a@b.co\n".to_vec(), "unknown_building"),
        ("inbox/somewhere/x.csv", b"a".to_vec(), "unknown_location"),
    ];
    for (key, bytes, expected) in cases {
        let UploadOutcome::Rejected { code, message, report } = h.upload(key, &bytes).await else { panic!("{key} was not rejected") };
        assert_eq!(code, expected, "{key}: {message}");
        assert!(message.len() > 30, "{key}: the reason says what to do: {message}");
        let stored = String::from_utf8(h.objects.get(&report).await.unwrap()).unwrap();
        assert!(stored.contains(expected));
    }
    let missing = h.objects.get("quarantine/inbox/users/m1/missing.csv.reason.json").await.unwrap();
    let text = String::from_utf8(missing).unwrap();
    assert!(text.contains("Email") && text.contains("Contact"), "names the column and the headers found: {text}");
    assert!(h.table.get_migration(&MigrationId::parse("m1").unwrap()).await.unwrap().is_none(), "no plan recorded");
}
