//! Time zones: a building's zone makes an invite date mean the configured local hour there;
//! an unknown zone is a row issue; people read local times with the zone.

use crate::data::*;
use crate::helpers::*;
use onboarding::app::route::UploadOutcome;
use onboarding::app::{dispatch, invites, validate};
use onboarding::domain::invite::MailStatus;
use onboarding::domain::values::MigrationId;

const ZONED_BUILDINGS: &str = "Building UUID,Building Name,Address,Envoy CSM Email,Aliases,Time Zone
3f2b8c1e-0d4a-4c8e-9a51-2f6d7e8b9c10,One Market Plaza,\"1 Market St, San Francisco, CA 94105\",csm.west@envoy.example,1MKT,America/Los_Angeles
9d1c3b5a-1111-4222-8333-444455556666,Harbor View,\"200 Harbor Dr, Boston, MA 02210\",csm.east@envoy.example,HVB,america/new_york
5a5a5a5a-2222-4333-8444-555566667777,Riverside Commons,\"45 River Rd, Chicago, IL 60601\",csm.central@envoy.example,,Central Time
";

pub async fn an_invite_date_is_the_local_hour_in_the_persons_building(h: Harness) {
    h.load_example_config().await;
    set_settings(&h, serde_json::json!({"max_send_rate_per_second": 1000, "kickstart_domains": ["envoy.example"]})).await;
    let UploadOutcome::Buildings(buildings) = h.upload("inbox/buildings/zoned.csv", ZONED_BUILDINGS.as_bytes()).await else { panic!() };
    assert_eq!((buildings.accepted, buildings.rejected), (2, 1));
    let issue = buildings.issues.iter().find(|i| i.column.as_deref() == Some("Time Zone")).expect("the unknown zone is a row issue");
    assert_eq!((issue.row, issue.value.as_str()), (Some(4), "Central Time"));
    assert!(issue.message.contains("America/New_York"), "{}", issue.message);
    let stored = h.table.get_building(&building(HARBOR_VIEW)).await.unwrap().unwrap();
    assert_eq!(stored.building.time_zone.as_deref(), Some("America/New_York"), "stored as IANA writes it");

    // Ann works at One Market (Los Angeles), Bo at Harbor View (New York), for 2026-11-24.
    let export = "First Name,Last Name,Email,Role(s),Building assignments,Status\nAnn,West,ann@acme.example,Employee,1MKT,active\nBo,East,bo@acme.example,Employee,HVB,active\n";
    let UploadOutcome::Plan(plan) = h.upload("inbox/users/tz/export.csv", export.as_bytes()).await else { panic!() };
    let UploadOutcome::Applied { dispatch, .. } =
        h.upload("approvals/tz.json", &approval_json("tz", &plan.plan_sha256, Some("2026-11-24"))).await
    else {
        panic!()
    };
    assert_eq!(dispatch.sent, 0);
    let m = MigrationId::parse("tz").unwrap();
    let bo = h.table.get_invite(&m, &email("bo@acme.example")).await.unwrap().unwrap();
    assert_eq!(bo.due_for_people(), "2026-11-24 09:00 America/New_York");
    assert_eq!(bo.send_at, Some(time::macros::datetime!(2026-11-24 14:00 UTC)));

    // 13:59 UTC: nobody yet. 14:00 UTC is 09:00 in New York: Bo. 17:00 UTC: Ann (Los Angeles).
    let config = h.config().await;
    h.clock.set(time::macros::datetime!(2026-11-24 13:59 UTC));
    assert_eq!(dispatch::dispatch_invites(h.svc(), &config, 100, None).await.unwrap().sent, 0);
    let (report, _) = validate::validation_report(h.svc(), &config).await.unwrap();
    assert!(report.discrepancies.is_empty(), "not late: {:?}", report.discrepancies);
    h.clock.set(time::macros::datetime!(2026-11-24 14:00 UTC));
    assert_eq!(dispatch::dispatch_invites(h.svc(), &config, 100, None).await.unwrap().sent, 1);
    assert_eq!(h.table.get_invite(&m, &email("bo@acme.example")).await.unwrap().unwrap().status, MailStatus::Sent);
    let ann = h.table.get_invite(&m, &email("ann@acme.example")).await.unwrap().unwrap();
    assert_eq!((ann.status, ann.due_for_people().as_str()), (MailStatus::Pending, "2026-11-24 09:00 America/Los_Angeles"));

    // Moved to another day, Ann's invite keeps her local hour.
    let moved = invites::reschedule_invites(h.svc(), &m, time::macros::date!(2026 - 11 - 26)).await.unwrap();
    assert_eq!((moved.moved, moved.sent), (1, 1));
    let ann = h.table.get_invite(&m, &email("ann@acme.example")).await.unwrap().unwrap();
    assert_eq!(ann.due_for_people(), "2026-11-26 09:00 America/Los_Angeles");
    h.clock.set(time::macros::datetime!(2026-11-26 16:59 UTC));
    assert_eq!(dispatch::dispatch_invites(h.svc(), &config, 100, None).await.unwrap().sent, 0);
    h.clock.set(time::macros::datetime!(2026-11-26 17:00 UTC));
    assert_eq!(dispatch::dispatch_invites(h.svc(), &config, 100, None).await.unwrap().sent, 1);
    h.mailer.assert_each_sent_once();
}

pub async fn reports_show_local_times_with_the_zone(h: Harness) {
    h.load_example_config().await;
    set_settings(&h, serde_json::json!({"kickstart_domains": ["envoy.example"], "invite_local_hour": 8})).await;
    h.upload("inbox/buildings/zoned.csv", ZONED_BUILDINGS.as_bytes()).await;
    let export = "First Name,Last Name,Email,Role(s),Building assignments,Status\nBo,East,bo@acme.example,Employee,HVB,active\n";
    let UploadOutcome::Plan(plan) = h.upload("inbox/users/tz2/export.csv", export.as_bytes()).await else { panic!() };
    h.upload("approvals/tz2.json", &approval_json("tz2", &plan.plan_sha256, Some("2026-11-30"))).await;
    let config = h.config().await;
    // Two days past the date and still queued (say sending was paused): a late invite, in local time.
    h.clock.set(time::macros::datetime!(2026-12-02 12:00 UTC));
    set_settings(&h, serde_json::json!({"max_send_rate_per_second": 1000})).await;
    let (report, _) = validate::validation_report(h.svc(), &config).await.unwrap();
    let late = report.discrepancies.iter().find(|u| u.email == "bo@acme.example").expect("late");
    assert_eq!(late.invite, "pending since 2026-11-30 08:00 America/New_York");
    assert!(report.html().contains("2026-11-30 08:00 America/New_York"));
}
