use super::csv::{write_plan_csv, PLAN_HEADERS};
use super::*;
use crate::building::{Building, TilePolicy};
use crate::intake::{ColumnMap, RawRow};
use crate::roles::{RoleGuide, GUIDE_COLUMNS, MATRIX_COLUMNS};
use sha2::{Digest, Sha256};

fn rows(data: &[&[&str]]) -> Vec<RawRow> {
    data.iter().enumerate().map(|(i, c)| RawRow { number: i as u64 + 2, cells: c.iter().map(|s| s.to_string()).collect() }).collect()
}

fn matrix() -> RoleMatrix {
    let gmap = ColumnMap::resolve(GUIDE_COLUMNS, &["Role".into(), "Capabilities".into()]).unwrap();
    let guide = RoleGuide::from_rows(&gmap, rows(&[&["VR Host", "register"], &["VR Admin", "register; manage"]])).unwrap();
    let mmap = ColumnMap::resolve(MATRIX_COLUMNS, &["Old Role".into(), "Platform Roles".into()]).unwrap();
    RoleMatrix::from_rows(&mmap, rows(&[&["Host", "VR Host"], &["Admin", "VR Admin; VR Host"]]), &guide).unwrap()
}

fn buildings() -> (BuildingDirectory, BuildingId) {
    let id = BuildingId::parse("3f2b8c1e-0d4a-4c8e-9a51-2f6d7e8b9c10").unwrap();
    let b = Building {
        id: id.clone(),
        name: "One Market".into(),
        address: "1 Market St".into(),
        envoy_csm: Email::parse("csm@envoy.com").unwrap(),
        envoy_account_executive: None,
        platform_csm: None,
        tile_policy: TilePolicy::Permissioned,
        aliases: vec!["1MKT".into()],
        time_zone: None,
    };
    (BuildingDirectory::new([&b]), id)
}

fn user(roles: &[&str], buildings: &[&str], status: Option<Status>) -> MergedUser {
    MergedUser {
        email: Email::parse("ada@x.com").unwrap(),
        first_name: "Ada".into(),
        last_name: "Lovelace".into(),
        roles: roles.iter().map(|s| s.to_string()).collect(),
        buildings: buildings.iter().map(|s| s.to_string()).collect(),
        status,
        rows: vec![7],
        extras: vec![],
        blocking: vec![],
    }
}

#[test]
fn new_users_are_created_with_mapped_roles() {
    let (dir, id) = buildings();
    let mut issues = Vec::new();
    let entry = plan_user(user(&["admin", "Host"], &["1mkt"], Some(Status::Active)), &matrix(), &dir, None, &mut issues);
    assert_eq!(entry.action, Action::CreateAndInvite);
    assert_eq!(entry.platform_roles, ["VR Admin", "VR Host"]);
    assert_eq!(entry.buildings[0].id, id);
    assert!(issues.is_empty());
}

#[test]
fn existing_users_gain_only_what_they_lack() {
    let (dir, id) = buildings();
    let existing = ExistingUser { roles: ["VR Host".to_string(), "Tenant".into()].into(), buildings: [id].into(), created_by: None };
    let mut issues = Vec::new();
    let entry = plan_user(user(&["Admin"], &["One Market"], Some(Status::Active)), &matrix(), &dir, Some(&existing), &mut issues);
    assert_eq!(entry.action, Action::AddRoles);
    assert_eq!(entry.current_roles, ["Tenant", "VR Host"]);
    assert_eq!(entry.added_roles, ["VR Admin"]);
    assert!(entry.added_buildings.is_empty());
    let entry = plan_user(user(&["Host"], &["One Market"], Some(Status::Active)), &matrix(), &dir, Some(&existing), &mut issues);
    assert_eq!(entry.action, Action::NoChange);
}

#[test]
fn unmapped_roles_and_unknown_buildings_hold_the_user() {
    let (dir, _) = buildings();
    let mut issues = Vec::new();
    let entry = plan_user(user(&["Janitor", "Host"], &["Nowhere"], Some(Status::Active)), &matrix(), &dir, None, &mut issues);
    assert_eq!(entry.action, Action::Hold);
    assert!(entry.reason.contains("unmapped role “Janitor”"), "{}", entry.reason);
    assert!(entry.reason.contains("unknown building “Nowhere”"), "{}", entry.reason);
    let codes: Vec<_> = issues.iter().map(|i| (i.code, i.row)).collect();
    assert_eq!(codes, [(IssueCode::UnmappedRole, Some(7)), (IssueCode::UnknownBuilding, Some(7))]);
    let mut issues = Vec::new();
    let entry = plan_user(user(&[], &[], Some(Status::Active)), &matrix(), &dir, None, &mut issues);
    assert_eq!(entry.action, Action::Hold);
    let codes: Vec<_> = issues.iter().map(|i| i.code).collect();
    assert_eq!(codes, [IssueCode::MissingRole, IssueCode::MissingBuilding]);
}

#[test]
fn inactive_users_are_skipped_and_unknown_status_holds() {
    let (dir, _) = buildings();
    let mut issues = Vec::new();
    let entry = plan_user(user(&["Janitor"], &[], Some(Status::Inactive)), &matrix(), &dir, None, &mut issues);
    assert_eq!(entry.action, Action::SkipInactive);
    assert_eq!(issues.iter().map(|i| i.code).collect::<Vec<_>>(), [IssueCode::InactiveSkipped]);
    let mut unknown = user(&["Host"], &["1MKT"], None);
    unknown.blocking = vec!["unknown_status".into()];
    let entry = plan_user(unknown, &matrix(), &dir, None, &mut Vec::new());
    assert_eq!((entry.action, entry.reason.as_str()), (Action::Hold, "unknown status"));
}

#[test]
fn the_plan_hash_is_the_hash_of_the_csv_and_changes_with_content() {
    let (dir, _) = buildings();
    let entry = plan_user(user(&["Host"], &["1MKT"], Some(Status::Active)), &matrix(), &dir, None, &mut Vec::new());
    let mut bytes = Vec::new();
    let sha = write_plan_csv(&mut bytes, &[], [&entry]).unwrap();
    assert_eq!(sha, hex::encode(Sha256::digest(&bytes)));
    let text = String::from_utf8(bytes).unwrap();
    assert!(text.starts_with("Row(s),Email,First Name"));
    assert!(text.contains("7,ada@x.com,Ada,Lovelace,create_and_invite,,VR Host,,VR Host,One Market,One Market,3f2b8c1e"));
    let mut other = entry.clone();
    other.added_roles.clear();
    assert_ne!(write_plan_csv(Vec::new(), &[], [&other]).unwrap(), sha);
}

/// `plan.csv` as it was written before the streaming writer: every cell collected, made safe
/// and written as one record. The streaming writer must give the same bytes (and so the same
/// SHA-256, which approvals quote).
fn legacy_plan_csv(extra_headers: &[String], entries: &[PlanEntry]) -> Vec<u8> {
    let mut writer = crate::sheet::SafeCsvWriter::new(Vec::new());
    writer.row(PLAN_HEADERS.iter().copied().chain(extra_headers.iter().map(String::as_str))).unwrap();
    for entry in entries {
        let names = |refs: &[BuildingRef]| refs.iter().map(|b| b.name.as_str()).collect::<Vec<_>>().join("; ");
        let ids = entry.buildings.iter().map(|b| b.id.as_str()).collect::<Vec<_>>().join("; ");
        let rows = entry.rows.iter().map(u64::to_string).collect::<Vec<_>>().join("; ");
        let fixed = [
            rows,
            entry.email.to_string(),
            entry.first_name.clone(),
            entry.last_name.clone(),
            entry.action.as_str().to_string(),
            entry.reason.clone(),
            entry.platform_roles.join("; "),
            entry.current_roles.join("; "),
            entry.added_roles.join("; "),
            names(&entry.buildings),
            names(&entry.added_buildings),
            ids,
        ];
        writer.row(fixed.iter().map(String::as_str).chain(entry.extras.iter().map(String::as_str))).unwrap();
    }
    writer.finish().unwrap()
}

fn awkward_entries() -> Vec<PlanEntry> {
    let (dir, id) = buildings();
    let existing = ExistingUser { roles: ["VR Host".to_string(), "=cmd".into()].into(), buildings: [id].into(), created_by: None };
    let mut issues = Vec::new();
    let mut entries = vec![
        plan_user(user(&["Host"], &["1MKT"], Some(Status::Active)), &matrix(), &dir, None, &mut issues),
        plan_user(
            user(&["Admin", "Janitor"], &["Nowhere", "One Market"], Some(Status::Active)),
            &matrix(),
            &dir,
            Some(&existing),
            &mut issues,
        ),
        plan_user(user(&["Admin"], &["One Market"], Some(Status::Active)), &matrix(), &dir, Some(&existing), &mut issues),
        plan_user(user(&[], &[], None), &matrix(), &dir, None, &mut issues),
        plan_user(user(&["Host"], &["1MKT"], Some(Status::Inactive)), &matrix(), &dir, None, &mut issues),
    ];
    entries[0].first_name = "=HYPERLINK(\"x\")".into();
    entries[0].last_name = "O'Brien, \"Jr\"\nthe second".into();
    entries[1].rows = vec![2, 17, 400];
    entries[1].extras = vec!["@SUM(A1)".into(), String::new()];
    entries[0].extras = vec!["Zoë; R&D".into(), "+14155552671".into()];
    for entry in &mut entries[2..] {
        entry.extras = vec!["-1".into(), "\t".into()];
    }
    entries
}

#[test]
fn the_streaming_writer_writes_the_same_bytes_as_before() {
    let entries = awkward_entries();
    let extra_headers = vec!["Department".to_string(), "=Badge".into()];
    let mut bytes = Vec::new();
    let sha = write_plan_csv(&mut bytes, &extra_headers, &entries).unwrap();
    assert_eq!(String::from_utf8(bytes.clone()).unwrap(), String::from_utf8(legacy_plan_csv(&extra_headers, &entries)).unwrap());
    assert_eq!(sha, hex::encode(Sha256::digest(&bytes)));
    let (_, empty_sha) = PlanCsv::new(Vec::new(), &[]).unwrap().finish().unwrap();
    assert_eq!(empty_sha, hex::encode(Sha256::digest(legacy_plan_csv(&[], &[]))));
}

#[test]
fn a_plan_line_serialises_as_its_entry_and_converts_both_ways() {
    for entry in awkward_entries() {
        let line = entry.line();
        assert_eq!(serde_json::to_string(&line).unwrap(), serde_json::to_string(&entry).unwrap());
        assert_eq!(line.to_entry(), entry);
    }
}

#[test]
fn the_streaming_writer_matches_the_csv_crate_on_arbitrary_cells() {
    let alphabet = ["a", "Zoë", ",", "\"", "\r", "\n", " ", "=", "+1", "-", "@", "\t", ";", "'", "é,\"x\"", ""];
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut entries = awkward_entries();
    for round in 0..300 {
        let mut cell = || (0..next() % 5).map(|_| alphabet[(next() % alphabet.len() as u64) as usize]).collect::<String>();
        let entry = &mut entries[round % 5];
        entry.first_name = cell();
        entry.last_name = cell();
        entry.reason = cell();
        entry.extras = vec![cell(), cell()];
        entry.platform_roles = vec![cell(), cell()];
        let extra_headers = vec!["Department".to_string(), cell()];
        let mut bytes = Vec::new();
        write_plan_csv(&mut bytes, &extra_headers, &entries).unwrap();
        assert_eq!(String::from_utf8_lossy(&bytes), String::from_utf8_lossy(&legacy_plan_csv(&extra_headers, &entries)));
    }
}
