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
    let readings: Vec<&str> = out.issues.iter().filter(|i| i.code.as_str() == "column_read_as").map(|i| &*i.message).collect();
    assert_eq!(readings.len(), 3, "each column read without its prefix is listed: {readings:?}");
    assert_eq!(out.columns_read_as.len(), 3, "and in the summary");
    let report = out.outputs.iter().find(|k| k.ends_with("report.html")).unwrap();
    let html = String::from_utf8(h.objects.get(report).await.unwrap()).unwrap();
    assert!(html.contains("How the columns were read") && html.contains("leaving out “Tenant Contact”"), "{html}");
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

pub async fn replace_mode_keeps_people_whose_rows_were_rejected_and_reports_it(h: Harness) {
    h.with_buildings().await;
    let first = "Full Name,Email,Phone Number\nAda Lovelace,ada@acme.example,\nGrace Hopper,grace@acme.example,\nAlan Turing,alan@acme.example,\nEdsger Dijkstra,edsger@acme.example,\n";
    let UploadOutcome::Tenants(out) = h.upload(&format!("inbox/tenants/{ONE_MARKET}/all.csv"), first.as_bytes()).await else { panic!() };
    assert_eq!(out.directory_size, 4);
    // Ada's phone is broken (her row is read without it), Grace's name is missing and Alan's
    // address mistyped (their rows are rejected, but they are in the file): only Edsger, who is
    // not in the file, is removed.
    let again = "Full Name,Email,Phone Number\nAda Lovelace,ada@acme.example,not a phone\n,grace@acme.example,\nAlan Turing,alan(at)acme.example,\n";
    let UploadOutcome::Tenants(out) = h.upload(&format!("inbox/tenants/{ONE_MARKET}/replace/force/again.csv"), again.as_bytes()).await
    else {
        panic!("the replace upload was not processed")
    };
    assert_eq!((out.rejected, out.revoked, out.kept_rejected, out.directory_size), (2, 1, 2, 3), "{:?}", out.issues);
    let kept: Vec<(Option<u64>, &str)> =
        out.issues.iter().filter(|i| i.code.as_str() == "kept_rejected").map(|i| (i.row, &*i.message)).collect();
    assert_eq!(kept.len(), 2);
    assert!(kept.iter().any(|(row, message)| *row == Some(4) && message.starts_with("Kept: row 4 was rejected")), "{kept:?}");
    let contacts: Vec<String> = h.table.list_contacts(&building(ONE_MARKET)).await.unwrap().iter().map(|c| c.email.to_string()).collect();
    assert!(!contacts.contains(&"edsger@acme.example".to_string()), "{contacts:?}");
    assert_eq!(contacts.len(), 3);

    // The upload's report.html says all of it.
    let report = out.outputs.iter().find(|k| k.ends_with("report.html")).expect("a tenant upload writes report.html");
    let html = String::from_utf8(h.objects.get(report).await.unwrap()).unwrap();
    for expected in [
        "Tenant contacts: One Market Plaza",
        "Kept: row rejected",
        "Kept: row 4 was rejected",
        "Replace mode",
        "1 of 4 (25.0 %)",
        "Kept: row 3 was rejected, so “Grace Hopper”",
        &format!("exports/envoy/{ONE_MARKET}/envoy-employees.csv"),
        " UTC.",
    ] {
        assert!(html.contains(expected), "report.html lacks {expected:?}");
    }
}

pub async fn a_buildings_reupload_keeps_what_it_leaves_out_and_lists_what_changed(h: Harness) {
    h.with_buildings().await;
    let slim = format!("Building UUID,Building Name,Address,Envoy CSM Email\n{ONE_MARKET},One Market Plaza,\"1 Market Street, San Francisco, CA 94105\",csm.west@envoy.example\n");
    let UploadOutcome::Buildings(out) = h.upload("inbox/buildings/slim.csv", slim.as_bytes()).await else { panic!() };
    assert_eq!((out.accepted, out.kickstarts_sent), (1, 0));
    let state = h.table.get_building(&building(ONE_MARKET)).await.unwrap().unwrap();
    assert_eq!(state.building.aliases, ["1MKT", "Market Tower"], "aliases kept");
    assert_eq!(state.building.tile_policy.as_str(), "permissioned");
    assert_eq!(state.building.envoy_account_executive.as_ref().map(|e| e.as_str()), Some("ae.west@envoy.example"));
    assert_eq!(state.building.platform_csm.as_ref().map(|e| e.as_str()), Some("pat.csm@example.com"));
    assert_eq!(state.building.address, "1 Market Street, San Francisco, CA 94105");
    let change = &out.changes[0];
    assert_eq!(change.changes, ["Address: “1 Market St, San Francisco, CA 94105” → “1 Market Street, San Francisco, CA 94105”"]);
    assert_eq!(change.kept, ["Envoy Account Executive Email", "Platform CSM Email", "Tile Policy", "Aliases", "Time Zone"]);
    let report = out.outputs.iter().find(|k| k.ends_with("report.html")).unwrap();
    let html = String::from_utf8(h.objects.get(report).await.unwrap()).unwrap();
    assert!(html.contains("1 Market Street") && html.contains("Tile Policy"), "{html}");

    // Harbor View is open to everyone; a file with the Tile Policy column can change that.
    let policy = format!("Building UUID,Building Name,Address,Envoy CSM Email,Tile Policy\n{HARBOR_VIEW},Harbor View,\"200 Harbor Dr, Boston, MA 02210\",csm.east@envoy.example,permissioned\n");
    let UploadOutcome::Buildings(out) = h.upload("inbox/buildings/policy.csv", policy.as_bytes()).await else { panic!() };
    assert_eq!(out.changes[0].changes, ["Tile Policy: “everyone” → “permissioned”"]);
    let state = h.table.get_building(&building(HARBOR_VIEW)).await.unwrap().unwrap();
    assert_eq!((state.building.tile_policy.as_str(), state.building.aliases.as_slice()), ("permissioned", ["HVB".to_string()].as_slice()));
}

pub async fn a_workbook_with_typed_cells_reads_as_excel_shows_it(h: Harness) {
    use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};
    h.with_buildings().await;
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    for (col, header) in
        ["Tenant Contact Full Name", "Tenant Contact Email", "Tenant Contact Phone Number", "Tenant Contact Start Date"].iter().enumerate()
    {
        sheet.write_string(0, col as u16, *header).unwrap();
    }
    sheet.write_string(1, 0, "Ada Lovelace").unwrap();
    sheet.write_string(1, 1, "ada@acme.example").unwrap();
    // A phone typed into Excel becomes a number: every digit must survive.
    sheet.write_number(1, 2, 14155552671.0).unwrap();
    sheet
        .write_datetime_with_format(1, 3, ExcelDateTime::from_ymd(2026, 3, 1).unwrap(), &Format::new().set_num_format("dd/mm/yyyy"))
        .unwrap();
    let bytes = book.save_to_buffer().unwrap();
    let UploadOutcome::Tenants(out) = h.upload(&format!("inbox/tenants/{ONE_MARKET}/typed.xlsx"), &bytes).await else { panic!() };
    assert_eq!((out.accepted, out.rejected), (1, 0), "{:?}", out.issues);
    let export = String::from_utf8(h.objects.get(&format!("exports/envoy/{ONE_MARKET}/envoy-employees.csv")).await.unwrap()).unwrap();
    assert!(export.contains("Ada Lovelace,ada@acme.example,+14155552671"), "{export}");
}

pub async fn an_export_with_its_own_header_words_plans_like_the_canonical_one(h: Harness) {
    h.with_buildings().await;
    let canonical = "First Name,Last Name,Email,Role(s),Building assignments,Status\nAda,Lovelace,ada@acme.example,Admin,1MKT,active\nGrace,Hopper,grace@acme.example,Employee,HVB,active\n";
    let own_words = "User Display Name *,User Work E-mail (required),User Access Level,User Sites,User Account Status,User Hire Date\n\"Lovelace, Ada\",ada@acme.example,Admin,1MKT,active,2020-01-06\nGrace Hopper,grace@acme.example,Employee,HVB,active,2021-02-01\n";
    let reference = crate::scenarios::plan_users(&h, "m-canonical", canonical.as_bytes()).await;
    let summary = crate::scenarios::plan_users(&h, "m-own-words", own_words.as_bytes()).await;
    assert_eq!((summary.rows, summary.accepted, summary.rejected), (reference.rows, reference.accepted, reference.rejected));
    assert_eq!(summary.actions, reference.actions);
    assert_eq!(summary.columns_read_as.len(), 5, "{:?}", summary.columns_read_as);
    assert_eq!(summary.old_roles_used, ["Admin", "Employee"], "gaps are weighed for the roles the file uses");
    assert!(summary.columns_read_as.iter().any(|c| c.contains("split into First Name and Last Name")), "{:?}", summary.columns_read_as);
    let plan = String::from_utf8(h.objects.get("reports/users/m-own-words/plan.csv").await.unwrap()).unwrap();
    assert!(plan.contains("Ada,Lovelace") || plan.contains("Ada\",\"Lovelace") || plan.contains(",Ada,Lovelace,"), "{plan}");
    assert!(plan.contains("User Hire Date") && plan.contains("2020-01-06"), "the extra column is kept: {plan}");
}
