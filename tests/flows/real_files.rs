//! Files as people really have them: the integration guide's own tenant file, headers real
//! exports write, Excel's typed cells, re-uploads that leave out columns or keep rejected rows.

use crate::helpers::*;
use onboarding::app::route::UploadOutcome;

/// The tenant file exactly as the Envoy integration guide (Phase IV, step two) prescribes it.
const GUIDE_TENANTS: &[u8] = include_bytes!("../fixtures/guide/tenant-contacts.csv");

pub async fn the_guides_tenant_file_is_accepted_and_other_flows_send_it_back(h: Harness) {
    h.with_buildings().await;
    let UploadOutcome::Tenants(out) = h.upload(&format!("inbox/tenants/{ONE_MARKET}/guide.csv"), GUIDE_TENANTS).await else {
        panic!("the guide's file is not read as tenant contacts")
    };
    assert_eq!((out.rows, out.accepted, out.rejected), (3, 3, 0), "{:?}", out.issues);
    let readings: Vec<&str> = out.issues.iter().filter(|i| i.code.as_str() == "column_read_as").map(|i| i.message.as_str()).collect();
    assert_eq!(readings.len(), 3, "each column read without its prefix is listed: {readings:?}");
    assert!(readings.iter().any(|r| r.contains("“Tenant Contact Email”") && r.contains("read as Email")), "{readings:?}");
    let export = h.objects.get(&format!("exports/envoy/{ONE_MARKET}/envoy-employees.csv")).await.unwrap();
    let export = String::from_utf8(export).unwrap();
    assert!(export.starts_with("Full Name,Email,Phone Number\r\n"), "{export}");
    assert!(export.contains("Ada Lovelace,ada@acme.example,+14155552671"), "{export}");
    assert!(export.contains("Alan Turing,alan@initech.example,\r\n"), "{export}");

    // The same file sent to the other flows is turned away with where it belongs.
    for key in ["inbox/users/m-guide/guide.csv", "inbox/buildings/guide.csv"] {
        let UploadOutcome::Rejected { code, message, .. } = h.upload(key, GUIDE_TENANTS).await else { panic!("{key} was accepted") };
        assert_eq!(code, "wrong_flow", "{key}: {message}");
        assert!(message.contains("tenant contacts file") && message.contains("inbox/tenants/<building UUID>/"), "{message}");
    }
}
