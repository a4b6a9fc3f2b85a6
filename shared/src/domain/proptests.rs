//! Property tests of intake and row validation: no input makes them panic, and valid rows come
//! back as they went in. `PROPTEST_CASES` sets the number of cases (a small default keeps the
//! normal test run fast; RELIABILITY.md records the long runs).

use crate::building::{building_from_row, BUILDING_COLUMNS};
use crate::intake::{open_sheet, ColumnMap, ColumnSpec, FileKind, IntakeLimits, RawRow};
use crate::migration::{user_from_row, user_from_shaped_row, RowOutcome, RowShape, USER_COLUMNS};
use crate::tenants::{contact_from_row, TENANT_COLUMNS};
use crate::values::{PhoneRegion, Status};
use proptest::prelude::*;

fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn config(default: u32) -> ProptestConfig {
    ProptestConfig { cases: cases(default), failure_persistence: None, ..ProptestConfig::default() }
}

/// Opens `bytes` as a file of `kind` and reads every row; whatever happens must be an answer.
fn read_all(
    bytes: Vec<u8>,
    kind: FileKind,
    specs: &'static [ColumnSpec],
    limits: IntakeLimits,
) -> Result<(Vec<String>, Vec<RawRow>), String> {
    let sheet =
        open_sheet(std::io::Cursor::new(bytes), kind, limits, |h| ColumnMap::has_required(specs, h)).map_err(|e| e.code.to_string())?;
    let headers = sheet.headers.clone();
    let rows = sheet.collect::<Result<Vec<_>, _>>().map_err(|e| e.code.to_string())?;
    Ok((headers, rows))
}

/// Bytes that look like CSV often enough to get past the sniffing: delimiters, quotes, line
/// breaks, BOMs, NULs and arbitrary bytes mixed.
fn csvish_bytes() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        4 => "[A-Za-z@.é ]{0,8}".prop_map(String::into_bytes),
        2 => prop::sample::select(vec![",", ";", "\t", "\"", "\r\n", "\n", "\r", "\"\"", "=", "\u{FEFF}"]).prop_map(|s| s.as_bytes().to_vec()),
        1 => prop::collection::vec(any::<u8>(), 0..6),
        1 => Just(b"\xFF\xFE".to_vec()),
        1 => Just(b"Full Name,Email,Phone Number\n".to_vec()),
    ];
    prop::collection::vec(piece, 0..60).prop_map(|pieces| pieces.concat())
}

/// A cell value people could type: printable text with the separators and quotes that CSV
/// must escape, without control characters (those are folded by validation, not kept).
fn cell_text() -> impl Strategy<Value = String> {
    "[A-Za-z0-9 ,;\"'=+@\\-éüß中]{0,20}"
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn arbitrary_bytes_as_csv_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        for kind in [FileKind::Tenants, FileKind::Users, FileKind::Buildings] {
            let _ = read_all(bytes.clone(), kind, TENANT_COLUMNS, IntakeLimits::default());
        }
    }

    #[test]
    fn csv_shaped_bytes_never_panic(bytes in csvish_bytes(), limit in 1u64..4096) {
        let _ = read_all(bytes.clone(), FileKind::Tenants, TENANT_COLUMNS, IntakeLimits::default());
        let tight = IntakeLimits { max_file_bytes: limit, max_cell_chars: 16, ..IntakeLimits::default() };
        if let Err(code) = read_all(bytes, FileKind::Users, USER_COLUMNS, tight) {
            prop_assert!(!code.is_empty());
        }
    }

    #[test]
    fn written_csv_rows_read_back_as_written(rows in prop::collection::vec(prop::collection::vec(cell_text(), 3), 1..20)) {
        let mut writer = csv::WriterBuilder::new().from_writer(Vec::new());
        writer.write_record(["Full Name", "Email", "Phone Number"]).unwrap();
        for row in &rows {
            writer.write_record(row).unwrap();
        }
        let bytes = writer.into_inner().unwrap();
        let (headers, read) = read_all(bytes, FileKind::Tenants, TENANT_COLUMNS, IntakeLimits::default()).unwrap();
        prop_assert_eq!(headers, vec!["Full Name", "Email", "Phone Number"]);
        // Blank rows are skipped; every other row comes back cell for cell.
        let expected: Vec<&Vec<String>> = rows.iter().filter(|r| r.iter().any(|c| !c.trim().is_empty())).collect();
        prop_assert_eq!(read.len(), expected.len());
        for (got, want) in read.iter().zip(expected) {
            prop_assert_eq!(&got.cells, want);
        }
    }
}

proptest! {
    #![proptest_config(config(32))]

    #[test]
    fn arbitrary_cells_in_a_workbook_never_panic_and_read_back(
        rows in prop::collection::vec(prop::collection::vec(prop_oneof![cell_text(), any::<String>().prop_map(|s| s.chars().take(40).collect())], 1..6), 1..12),
    ) {
        let mut book = rust_xlsxwriter::Workbook::new();
        let sheet = book.add_worksheet();
        sheet.write_row(0, 0, ["Full Name", "Email", "Phone Number"]).unwrap();
        for (r, row) in rows.iter().enumerate() {
            for (c, cell) in row.iter().enumerate() {
                sheet.write(r as u32 + 1, c as u16, cell.as_str()).unwrap();
            }
        }
        let bytes = book.save_to_buffer().unwrap();
        let (_, read) = read_all(bytes, FileKind::Tenants, TENANT_COLUMNS, IntakeLimits::default()).unwrap();
        // Printable cells come back exactly (control characters are Excel's to escape).
        for got in &read {
            let Some(want) = rows.get(got.number as usize - 2) else { continue };
            for (c, cell) in want.iter().enumerate() {
                if !cell.is_empty() && cell.chars().all(|ch| !ch.is_control()) {
                    prop_assert_eq!(got.cells.get(c), Some(cell));
                }
            }
        }
    }
}

fn user_map() -> ColumnMap {
    let headers: Vec<String> = USER_COLUMNS.iter().map(|c| c.label.to_string()).chain(["Badge".to_string()]).collect();
    ColumnMap::resolve(USER_COLUMNS, &headers).unwrap()
}

fn tenant_map() -> ColumnMap {
    ColumnMap::resolve(TENANT_COLUMNS, &TENANT_COLUMNS.iter().map(|c| c.label.to_string()).collect::<Vec<_>>()).unwrap()
}

fn building_map() -> ColumnMap {
    ColumnMap::resolve(BUILDING_COLUMNS, &BUILDING_COLUMNS.iter().map(|c| c.label.to_string()).collect::<Vec<_>>()).unwrap()
}

fn any_row(width: usize) -> impl Strategy<Value = RawRow> {
    (1u64..1_000_000, prop::collection::vec(prop_oneof![3 => cell_text(), 1 => any::<String>(), 1 => "\\PC{0,300}"], 0..width))
        .prop_map(|(number, cells)| RawRow { number, cells })
}

fn address() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9]{0,8}(\\.[a-z0-9]{1,5})?@[a-z]{1,10}\\.(com|org|example)"
}

fn name() -> impl Strategy<Value = String> {
    "[A-Z][a-z]{0,10}( [A-Z][a-z]{0,10})?"
}

/// A row of a users export whose cells are now plausible (as most rows are), now not: the
/// shortcuts a row's shape allows and the cases around them.
fn user_like_row() -> impl Strategy<Value = RawRow> {
    let any_cell = || prop_oneof![2 => cell_text(), 1 => any::<String>(), 1 => "[ \t]{0,2}[A-Za-z;|,. ]{0,12}[ \t]{0,2}"];
    let email = prop_oneof![
        3 => address(),
        1 => address().prop_map(|a| a.to_uppercase()),
        1 => address().prop_map(|a| format!(" mailto:{a} ")),
        1 => address().prop_map(|a| format!("<{a}>")),
        1 => any_cell(),
    ];
    let status = prop_oneof![
        2 => prop::sample::select(vec!["active", "Inactive", " YES ", "0", "", "retired"]).prop_map(String::from),
        1 => any_cell(),
    ];
    let list = move || prop_oneof![2 => "[A-Z][a-z]{2,12}", 1 => "[A-Za-z ]{1,8}[;|,][A-Za-z ]{0,8}", 1 => any_cell()];
    (
        1u64..1_000_000,
        prop_oneof![2 => name(), 1 => any_cell()],
        prop_oneof![2 => name(), 1 => any_cell()],
        email,
        list(),
        list(),
        status,
        any_cell(),
    )
        .prop_map(|(number, first, last, email, roles, buildings, status, extra)| RawRow {
            number,
            cells: vec![first, last, email, roles, buildings, status, extra],
        })
}

/// A row's outcome, comparable.
fn compared(outcome: RowOutcome<'_>) -> (Option<crate::migration::UserRow<'_>>, Vec<crate::issue::Issue>) {
    match outcome {
        RowOutcome::Usable(user, issues) => (Some(user), issues),
        RowOutcome::Rejected(issues) => (None, issues),
    }
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn arbitrary_rows_never_panic(row in any_row(12), max in 1usize..5000) {
        let _ = user_from_row(&user_map(), &row, max);
        let _ = contact_from_row(&tenant_map(), &row, PhoneRegion::default());
        let _ = building_from_row(&building_map(), &row);
    }

    #[test]
    fn a_rows_shape_leaves_its_outcome_as_it_was(row in user_like_row(), other in any_row(9), max in prop_oneof![4 => Just(4096usize), 1 => 1usize..40]) {
        let map = user_map();
        for row in [&row, &other] {
            let shape = RowShape::of(&map, row, max);
            prop_assert_eq!(compared(user_from_shaped_row(&map, row, max, shape)), compared(user_from_row(&map, row, max)), "{:?}", shape);
        }
    }

    #[test]
    fn valid_user_rows_round_trip(
        email in address(), first in name(), last in name(),
        roles in prop::collection::vec("[A-Z][a-z]{2,12}", 1..4), buildings in prop::collection::vec("[A-Z][a-z]{2,12}", 1..3),
        active in any::<bool>(), badge in cell_text(),
    ) {
        let status = if active { "active" } else { "inactive" };
        let cells = vec![first.clone(), last.clone(), email.to_uppercase(), roles.join("; "), buildings.join("|"), status.to_string(), badge.clone()];
        let raw = RawRow { number: 2, cells };
        let RowOutcome::Usable(user, issues) = user_from_row(&user_map(), &raw, 4096) else {
            return Err(TestCaseError::fail("a valid row was rejected"));
        };
        prop_assert!(issues.is_empty(), "{:?}", issues);
        prop_assert_eq!(&*user.email, email.as_str());
        prop_assert_eq!((user.first_name.into_owned(), user.last_name.into_owned()), (first, last));
        let mut unique_roles: Vec<String> = Vec::new();
        for role in roles {
            if !unique_roles.iter().any(|r| r.eq_ignore_ascii_case(&role)) {
                unique_roles.push(role);
            }
        }
        prop_assert_eq!(user.roles.to_vec(), unique_roles);
        prop_assert_eq!(user.status, Some(if active { Status::Active } else { Status::Inactive }));
        prop_assert_eq!(user.extras.to_vec(), vec![badge]);
    }

    #[test]
    fn valid_contact_rows_round_trip(email in address(), full in name(), phone in "[2-9][0-9]{2}[2-9][0-9]{6}") {
        let cells = vec![format!(" {full} "), email.clone(), phone.clone()];
        match contact_from_row(&tenant_map(), &RawRow { number: 2, cells }, PhoneRegion::default()) {
            Ok((contact, _warnings)) => {
                prop_assert_eq!(contact.full_name, full);
                prop_assert_eq!(contact.email.as_str(), email.as_str());
                if let Some(p) = contact.phone {
                    prop_assert_eq!(p.as_str(), format!("+1{phone}"));
                }
            }
            Err(issues) => return Err(TestCaseError::fail(format!("a valid contact was rejected: {issues:?}"))),
        }
    }

    #[test]
    fn valid_building_rows_round_trip(
        id in "[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}",
        building in name(), street in "[1-9][0-9]{0,3} [A-Z][a-z]{2,10} St", csm in address(), everyone in any::<bool>(),
    ) {
        let policy = if everyone { "everyone" } else { "permissioned" };
        let cells = vec![id.to_uppercase(), building.clone(), street.clone(), csm.clone(), String::new(), String::new(), policy.into(), String::new()];
        match building_from_row(&building_map(), &RawRow { number: 2, cells }) {
            Ok(b) => {
                prop_assert_eq!(b.id.as_str(), id.as_str());
                prop_assert_eq!((b.name, b.address, b.envoy_csm.to_string()), (building, street, csm));
                prop_assert_eq!(b.tile_policy.as_str(), policy);
            }
            Err(issues) => return Err(TestCaseError::fail(format!("a valid building was rejected: {issues:?}"))),
        }
    }
}
