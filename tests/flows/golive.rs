//! Go-live control (the integration guide's Phases II–IV): the configured pinned people — the
//! implementation manager added to Envoy's directory in Phase II, step six — are in every Envoy
//! import file of their buildings, whatever the uploads say. (The tile's go-live rule is in
//! `scenarios::tenant_contacts_grant_the_tile_and_write_the_envoy_file`.)

use crate::data::*;
use crate::helpers::*;
use onboarding::app::route::UploadOutcome;

async fn envoy_file(h: &Harness, building: &str) -> String {
    String::from_utf8(h.objects.get(&format!("exports/envoy/{building}/envoy-employees.csv")).await.unwrap()).unwrap()
}

pub async fn pinned_people_are_in_every_envoy_file_and_replace_mode_keeps_them(h: Harness) {
    h.with_buildings().await;
    set_settings(
        &h,
        serde_json::json!({"pinned_contacts": [
            {"full_name": "Liz Thomson", "email": "liz.thomson@example.com"},
            {"full_name": "Sam Site", "email": "sam.site@example.com", "phone": "+1 617 555 0100", "buildings": [HARBOR_VIEW]},
        ]}),
    )
    .await;
    let UploadOutcome::Tenants(first) = h.upload(&format!("inbox/tenants/{ONE_MARKET}/a.csv"), &tenants_csv(3)).await else { panic!() };
    assert_eq!(first.pinned, ["Liz Thomson <liz.thomson@example.com>"], "pinned globally, not Sam (Harbor View only)");
    assert_eq!(first.directory_size, 3, "pinned people are not tenant contacts: no tile grant");
    let file = envoy_file(&h, ONE_MARKET).await;
    assert!(file.contains("Liz Thomson,liz.thomson@example.com,\r\n") && !file.contains("sam.site"), "{file}");
    let report = first.outputs.iter().find(|k| k.ends_with("/report.html")).unwrap();
    let html = String::from_utf8(h.objects.get(report).await.unwrap()).unwrap();
    assert!(html.contains("Pinned") && html.contains("liz.thomson@example.com"), "the report marks them");

    // Harbor View gets both, Sam with his phone.
    h.upload(&format!("inbox/tenants/{HARBOR_VIEW}/a.csv"), b"Full Name,Email\nJose,jose@globex.example\n").await;
    let file = envoy_file(&h, HARBOR_VIEW).await;
    assert!(file.contains("Sam Site,sam.site@example.com,+16175550100") && file.contains("liz.thomson@example.com"), "{file}");

    // Liz also arrives as a contact; then a replace-mode file without her keeps her, once.
    h.upload(&format!("inbox/tenants/{ONE_MARKET}/b.csv"), b"Full Name,Email\nLiz Thomson,liz.thomson@example.com\n").await;
    let replace = format!("inbox/tenants/{ONE_MARKET}/replace/force/c.csv");
    let UploadOutcome::Tenants(replaced) = h.upload(&replace, &tenants_csv(3)).await else { panic!() };
    assert_eq!(replaced.revoked, 0, "Liz is pinned: replace mode does not remove her");
    let file = envoy_file(&h, ONE_MARKET).await;
    assert_eq!(file.matches("liz.thomson@example.com").count(), 1, "once, as a contact: {file}");

    // Unpinned, a replace run without her removes her like anyone else.
    set_settings(&h, serde_json::json!({"pinned_contacts": []})).await;
    let UploadOutcome::Tenants(unpinned) = h.upload(&format!("inbox/tenants/{ONE_MARKET}/replace/force/d.csv"), &tenants_csv(3)).await
    else {
        panic!()
    };
    assert_eq!(unpinned.revoked, 1);
    assert!(!envoy_file(&h, ONE_MARKET).await.contains("liz.thomson"));
}
