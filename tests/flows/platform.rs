//! The platform's existing users (a platform-users snapshot): plans compare against them, so a
//! person already on the platform gets add_roles or no_change, never a second account and an
//! invite; a newer snapshot replaces the older one behind the replace-mode guard; users this
//! product created stay known.

use crate::helpers::*;
use crate::scenarios::{approval, plan_users};
use onboarding::app::route::UploadOutcome;

const HEADER: &str = "Email,First Name,Last Name,Role(s),Building assignments,Status,Last Login\n";
const EXPORT: &str = "First Name,Last Name,Email,Role(s),Building assignments,Status\n";

pub async fn existing_platform_users_are_compared_and_a_newer_snapshot_replaces_them(h: Harness) {
    h.with_buildings().await;
    let snapshot = format!(
        "{HEADER}pat@acme.example,Pat,On,Visitor Registration Host; Tenant User,One Market Plaza,Active,2026-11-01\n\
         lee@acme.example,Lee,Half,Tenant User,HVB,Active,2026-10-01\n\
         kim@acme.example,Kim,Gone,Tenant User,Nowhere Tower,Active,2026-09-01\n\
         PAT@acme.example,Pat,On,Tenant User,1MKT,Active,2026-11-01\n"
    );
    let UploadOutcome::PlatformUsers(loaded) = h.upload("inbox/platform-users/snapshot.csv", snapshot.as_bytes()).await else {
        panic!("not routed to platform users")
    };
    assert_eq!((loaded.rows, loaded.users, loaded.duplicates_merged, loaded.dropped), (4, 3, 1, 0));
    let unknown = loaded.issues.iter().find(|i| i.value == "Nowhere Tower").expect("an unknown building is reported");
    assert_eq!((unknown.row, unknown.code.as_str()), (Some(4), "unknown_building"));
    let members = h.table.platform_members().await.unwrap();
    assert_eq!(members.len(), 3);
    assert_eq!((members[2].snapshot.file.as_str(), members[2].snapshot.row), ("inbox/platform-users/snapshot.csv", 2), "{members:?}");

    // Pat has every planned role already; Lee gains the host role; Nia is new.
    let export = format!(
        "{EXPORT}Pat,On,pat@acme.example,Employee,One Market Plaza,active\nLee,Half,lee@acme.example,Employee,HVB,active\nNia,New,nia@acme.example,Employee,HVB,active\n"
    );
    let plan = plan_users(&h, "wave-1", export.as_bytes()).await;
    assert_eq!((plan.actions["no_change"], plan.actions["add_roles"], plan.actions["create_and_invite"]), (1, 1, 1), "{:?}", plan.actions);
    let plan_csv = String::from_utf8(h.objects.get("reports/users/wave-1/plan.csv").await.unwrap()).unwrap();
    let lee = plan_csv.lines().find(|l| l.contains("lee@acme.example")).unwrap();
    assert!(lee.contains("add_roles") && lee.contains("Tenant User") && lee.contains("Visitor Registration Host"), "{lee}");
    let UploadOutcome::Applied { apply, .. } = h.upload("approvals/wave-1.json", &approval("wave-1", &plan.plan_sha256, None, &[])).await
    else {
        panic!()
    };
    assert_eq!((apply.users_created, apply.users_updated, apply.invites_queued), (1, 1, 1), "only Nia is created and invited");

    // A newer snapshot that would forget two of three is refused, nothing changed…
    let shorter = format!(
        "{HEADER}pat@acme.example,Pat,On,Tenant User,1MKT,Active,2026-11-20\nnia@acme.example,Nia,New,Tenant User,HVB,Active,2026-11-24\n"
    );
    let refused = h.upload("inbox/platform-users/snapshot-2.csv", shorter.as_bytes()).await;
    assert!(
        matches!(&refused, UploadOutcome::Rejected { code, message, .. } if *code == "revoke_guard" && message.contains("force")),
        "{refused:?}"
    );
    assert_eq!(h.table.platform_members().await.unwrap().len(), 3);
    // …and goes through when forced: Lee and Kim left the platform and are forgotten.
    let UploadOutcome::PlatformUsers(replaced) = h.upload("inbox/platform-users/force/snapshot-2.csv", shorter.as_bytes()).await else {
        panic!()
    };
    assert_eq!((replaced.users, replaced.dropped), (2, 2));
    let known = h.table.get_users(&[email("lee@acme.example"), email("kim@acme.example"), email("nia@acme.example")]).await.unwrap();
    assert!(!known.contains_key(&email("lee@acme.example")) && !known.contains_key(&email("kim@acme.example")), "{known:?}");

    // A third snapshot without Nia: she was created by this product, so she stays known.
    let third = format!("{HEADER}pat@acme.example,Pat,On,Tenant User,1MKT,Active,2026-11-26\n");
    let UploadOutcome::PlatformUsers(last) = h.upload("inbox/platform-users/force/snapshot-3.csv", third.as_bytes()).await else {
        panic!()
    };
    assert_eq!(last.dropped, 1);
    let nia = h.table.get_users(&[email("nia@acme.example")]).await.unwrap();
    assert_eq!(nia[&email("nia@acme.example")].created_by.as_ref().map(|m| m.as_str()), Some("wave-1"));
    let again = plan_users(
        &h,
        "wave-2",
        format!("{EXPORT}Nia,New,nia@acme.example,Employee,HVB,active\nLee,Half,lee@acme.example,Employee,HVB,active\n").as_bytes(),
    )
    .await;
    assert_eq!((again.actions["no_change"], again.actions["create_and_invite"]), (1, 1), "Nia known, Lee forgotten: {:?}", again.actions);
}
