//! The Envoy export guard: Envoy replaces its whole directory with each upload, so an import
//! file that would leave out more than the threshold share of the last one is refused (nothing
//! changes) unless forced.

use crate::data::*;
use crate::helpers::*;
use crate::state;
use onboarding::app::route::UploadOutcome;

pub async fn envoy_export_refuses_to_drop_many_unless_forced(h: Harness) {
    h.with_buildings().await;
    let id = building(ONE_MARKET);
    let latest = format!("exports/envoy/{ONE_MARKET}/envoy-employees.csv");
    let UploadOutcome::Tenants(first) = h.upload(&format!("inbox/tenants/{ONE_MARKET}/all.csv"), &tenants_csv(10)).await else { panic!() };
    assert!(first.export_check.is_none(), "no earlier export");
    let exported = h.objects.get(&latest).await.unwrap();

    // The table loses half the building's contacts (a restore to an old point, a wrong table):
    // the next file, in add mode, would export only the survivors and the newcomer.
    let lost: Vec<_> = (0..5).map(|i| email(&format!("person{i}@tenant.example"))).collect();
    h.table.remove_contacts(&id, &lost).await.unwrap();
    let before = state::all(&h, &[]).await;
    let newcomer = b"Full Name,Email\nNew Person,new@tenant.example\n";
    let UploadOutcome::Rejected { code, message, report } = h.upload(&format!("inbox/tenants/{ONE_MARKET}/new.csv"), newcomer).await else {
        panic!("the guard did not hold")
    };
    assert_eq!(code, "envoy_export_guard");
    assert!(message.contains("5 of the 10 people"), "{message}");
    assert!(message.contains("nothing was changed") && message.contains("--force"), "says what to do: {message}");
    let after: Vec<String> =
        state::all(&h, &[]).await.into_iter().filter(|l| !l.starts_with("quarantine/") && !l.starts_with("inbox/")).collect();
    let before: Vec<String> = before.into_iter().filter(|l| !l.starts_with("inbox/")).collect();
    assert_eq!(before, after, "{}", state::diff(&before, &after));
    assert_eq!(h.objects.get(&latest).await.unwrap(), exported);
    assert!(h.objects.get(&report).await.is_ok());

    // Within the threshold it goes through: the people the file brings back count.
    let back = b"Full Name,Email\nPerson 0,person0@tenant.example\nPerson 1,person1@tenant.example\nPerson 2,person2@tenant.example\nPerson 3,person3@tenant.example\n";
    let UploadOutcome::Tenants(ok) = h.upload(&format!("inbox/tenants/{ONE_MARKET}/back.csv"), back).await else { panic!() };
    let check = ok.export_check.unwrap();
    assert_eq!((check.current, check.to_revoke, check.allowed), (10, 1, true));

    // Forced (a force/ path, add mode), a large drop is written.
    let stored: Vec<_> = (0..9).map(|i| email(&format!("person{i}@tenant.example"))).collect();
    h.table.remove_contacts(&id, &stored).await.unwrap();
    let UploadOutcome::Tenants(forced) = h.upload(&format!("inbox/tenants/{ONE_MARKET}/force/new.csv"), newcomer).await else { panic!() };
    assert!(forced.export_check.unwrap().to_revoke >= 8);
    let export = String::from_utf8(h.objects.get(&latest).await.unwrap()).unwrap();
    assert_eq!(export.lines().count(), 3, "{export}");
}
