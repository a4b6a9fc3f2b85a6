use super::*;
use crate::issue::RejectionCode;
use crate::text::header_key;

const SPECS: &[ColumnSpec] = &[
    ColumnSpec::new("Full Name", &["name"], true),
    ColumnSpec::new("Email", &["emailaddress", "tenantcontactemail"], true),
    ColumnSpec::new("Phone Number", &["phone"], false),
];

fn read(bytes: Vec<u8>) -> Result<(Vec<String>, Vec<RawRow>), FileRejection> {
    let sheet = open_sheet(std::io::Cursor::new(bytes), FileKind::Tenants, IntakeLimits::default(), |h| ColumnMap::has_required(SPECS, h))?;
    let headers = sheet.headers.clone();
    let rows = sheet.collect::<Result<Vec<_>, _>>()?;
    Ok((headers, rows))
}

fn utf16(text: &str, little: bool) -> Vec<u8> {
    let mut out = if little { vec![0xFF, 0xFE] } else { vec![0xFE, 0xFF] };
    for unit in text.encode_utf16() {
        let bytes = if little { unit.to_le_bytes() } else { unit.to_be_bytes() };
        out.extend_from_slice(&bytes);
    }
    out
}

#[test]
fn every_encoding_and_delimiter_reads_the_same() {
    let text = "Full Name;E-mail\r\n\"Zoë, \"\"Z\"\" Ng\";zoe@example.com\r\n\"Multi\nLine\";m@example.com\r\n";
    let mut bom = b"\xEF\xBB\xBF".to_vec();
    bom.extend_from_slice(text.as_bytes());
    let (cp1252, _, _) = encoding_rs::WINDOWS_1252.encode(text);
    let variants = vec![
        text.as_bytes().to_vec(),
        bom,
        utf16(text, true),
        utf16(text, false),
        cp1252.into_owned(),
        text.replace(';', "\t").replace("Zoë\t", "Zoë;").into_bytes(),
        text.replace("\r\n", "\n").into_bytes(),
    ];
    for bytes in variants {
        let (headers, rows) = read(bytes).unwrap();
        assert_eq!(headers, ["Full Name", "E-mail"]);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].cells[0].replace('\t', ";"), "Zoë, \"Z\" Ng");
        assert_eq!(rows[0].number, 2);
        assert_eq!(rows[1].cells[0], "Multi\nLine");
        assert_eq!(rows[1].number, 3);
    }
}

#[test]
fn title_rows_above_the_header_are_skipped_and_blank_rows_ignored() {
    let (headers, rows) = read(b"Tenant export 2026\n\nName,Email Address\n\nAda,ada@example.com\n,\n".to_vec()).unwrap();
    assert_eq!(headers, ["Name", "Email Address"]);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].number, 3);
}

#[test]
fn missing_required_columns_name_the_column_and_the_headers_found() {
    let (headers, _) = read(b"Name,Mail\nAda,ada@example.com\n".to_vec()).unwrap();
    let err = ColumnMap::resolve(SPECS, &headers).unwrap_err();
    assert_eq!(err.code, "missing_column");
    assert!(err.message.contains("“Email”"), "{}", err.message);
    assert!(err.message.contains("“Mail”"), "{}", err.message);
}

#[test]
fn duplicate_columns_for_one_field_are_refused() {
    let headers = vec!["Name".to_string(), "Email".into(), "E-mail".into()];
    let err = ColumnMap::resolve(SPECS, &headers).unwrap_err();
    assert_eq!(err.code, "duplicate_column");
    assert!(err.message.contains("column C"), "{}", err.message);
}

#[test]
fn unknown_columns_are_kept_as_extras() {
    let headers = vec!["Tenant Contact Email".to_string(), "Company".into(), "Full Name".into(), "Floor".into()];
    let map = ColumnMap::resolve(SPECS, &headers).unwrap();
    assert_eq!(map.extra_headers(), ["Company", "Floor"]);
    let row = RawRow { number: 2, cells: vec!["a@b.co".into(), "Acme".into(), "Ada".into()] };
    assert_eq!(map.cell(&row, 1), "a@b.co");
    assert_eq!(map.cell(&row, 2), "");
    assert_eq!(map.extra_values(&row), ["Acme", ""]);
    assert!(!map.has(2));
    assert_eq!(header_key("Tenant Contact Email"), "tenantcontactemail");
}

#[test]
fn empty_and_binary_files_are_rejected_clearly() {
    assert_eq!(read(Vec::new()).err().unwrap().code, "empty_file");
    assert_eq!(read(b"  \r\n ".to_vec()).err().unwrap().code, "empty_file");
    assert_eq!(read(vec![0, 159, 146, 150, 0, 1, 2]).err().unwrap().code, "not_a_table");
}

#[test]
fn header_only_files_have_no_rows() {
    let (headers, rows) = read(b"Full Name,Email\n".to_vec()).unwrap();
    assert_eq!(headers.len(), 2);
    assert!(rows.is_empty());
}

#[test]
fn excel_workbooks_use_the_sheet_named_after_the_kind() {
    let mut book = rust_xlsxwriter::Workbook::new();
    let other = book.add_worksheet().set_name("Notes").unwrap();
    other.write(0, 0, "ignore me").unwrap();
    let sheet = book.add_worksheet().set_name("Tenant Contacts").unwrap();
    sheet.write(0, 0, "Full Name").unwrap();
    sheet.write(0, 1, "Email").unwrap();
    sheet.write(0, 2, "Phone").unwrap();
    sheet.write(1, 0, "Ada").unwrap();
    sheet.write(1, 1, "ada@example.com").unwrap();
    sheet.write(1, 2, 4155552671.0).unwrap();
    let bytes = book.save_to_buffer().unwrap();
    let (headers, rows) = read(bytes).unwrap();
    assert_eq!(headers, ["Full Name", "Email", "Phone"]);
    assert_eq!(rows[0].cells, ["Ada", "ada@example.com", "4155552671"]);
    assert_eq!(rows[0].number, 2);
}

#[test]
fn column_letters_are_spreadsheet_style() {
    assert_eq!(specs::column_letter(0), "A");
    assert_eq!(specs::column_letter(25), "Z");
    assert_eq!(specs::column_letter(27), "AB");
}

#[test]
fn a_file_past_the_size_limit_is_refused_while_it_streams() {
    let limits = IntakeLimits { max_file_bytes: 100_000, ..IntakeLimits::default() };
    let mut text = String::from("Full Name,Email\n");
    while text.len() < 300_000 {
        text.push_str("Ada Lovelace,ada@example.com\n");
    }
    let open = |bytes: Vec<u8>| -> Result<usize, FileRejection> {
        let sheet = open_sheet(std::io::Cursor::new(bytes), FileKind::Tenants, limits, |h| ColumnMap::has_required(SPECS, h))?;
        sheet.collect::<Result<Vec<_>, _>>().map(|rows| rows.len())
    };
    let refused = open(text.clone().into_bytes()).unwrap_err();
    assert_eq!(refused.code, "file_too_large");
    assert!(refused.message.contains("Split it"), "{}", refused.message);
    // Past the limit within the first bytes read, and in UTF-16 too.
    let tiny = IntakeLimits { max_file_bytes: 10, ..limits };
    let sheet = open_sheet(std::io::Cursor::new(text.clone().into_bytes()), FileKind::Tenants, tiny, |_| true);
    assert_eq!(sheet.err().map(|r| r.code), Some(RejectionCode::FileTooLarge));
    assert_eq!(open(utf16(&text, true)).unwrap_err().code, "file_too_large");
    // Exactly at the limit is fine.
    let at_limit: String = text.chars().take(100_000).collect::<String>();
    let at_limit = &at_limit[..at_limit.rfind('\n').unwrap() + 1];
    assert!(open(at_limit.as_bytes().to_vec()).is_ok());
}

mod matching {
    use crate::flows;
    use crate::intake::{ColumnMap, FileKind, RawRow};
    use crate::migration::USER_COLUMNS;
    use crate::tenants::TENANT_COLUMNS;

    fn h(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| n.to_string()).collect()
    }

    fn row(cells: &[&str]) -> RawRow {
        RawRow { number: 2, cells: cells.iter().map(|c| c.to_string()).collect() }
    }

    #[test]
    fn the_label_itself_is_no_reading_whatever_its_case_or_annotations() {
        let map = ColumnMap::resolve(TENANT_COLUMNS, &h(&["FULL NAME *", "e-mail (required)", "Phone number [optional]"])).unwrap();
        assert!(map.readings().is_empty(), "{:?}", map.readings());
        assert_eq!(map.cell(&row(&["Ada", "ada@example.com", "+1"]), 2), "+1");
    }

    #[test]
    fn each_synonym_is_read_and_reported() {
        for (header, field) in [
            ("Mail", 2),
            ("E-mail Address", 2),
            ("Work Email", 2),
            ("Login", 2),
            ("Permission Set", 3),
            ("Access level", 3),
            ("User Type", 3),
            ("Properties", 4),
            ("Site", 4),
            ("Location", 4),
            ("Account Status", 5),
            ("Enabled", 5),
            ("State", 5),
        ] {
            let mut headers = h(&["First Name", "Last Name", "Email", "Role(s)", "Building assignments", "Status"]);
            headers[field] = header.to_string();
            let map = ColumnMap::resolve(USER_COLUMNS, &headers).unwrap_or_else(|e| panic!("{header}: {e}"));
            assert_eq!(map.readings().len(), 1, "{header}");
            assert!(map.readings()[0].how.contains(&format!("“{header}”")), "{:?}", map.readings());
            assert_eq!(map.readings()[0].field, USER_COLUMNS[field].label);
            assert_eq!(map.reading_issues()[0].code.as_str(), "column_read_as");
        }
        for (first, last) in [("Given name", "Surname"), ("Forename", "Family Name")] {
            let map = ColumnMap::resolve(USER_COLUMNS, &h(&[first, last, "Email", "Roles", "Buildings", "Status"])).unwrap();
            assert_eq!(map.cell(&row(&["Ada", "Lovelace"]), 0), "Ada");
            assert_eq!(map.cell(&row(&["Ada", "Lovelace"]), 1), "Lovelace");
        }
        for phone in ["Mobile", "Cell", "Telephone", "Work Phone"] {
            let map = ColumnMap::resolve(TENANT_COLUMNS, &h(&["Display Name", "Email", phone])).unwrap();
            assert!(map.has(2), "{phone}");
        }
    }

    #[test]
    fn the_word_group_most_headers_share_is_left_out_and_reported() {
        let map = ColumnMap::resolve(TENANT_COLUMNS, &h(&["Member Name", "Member E-mail", "Member Mobile"])).unwrap();
        assert_eq!(map.readings().len(), 3);
        assert!(map.readings()[1].how.contains("leaving out “Member”"), "{:?}", map.readings());
        let map = ColumnMap::resolve(TENANT_COLUMNS, &h(&["Name (Tenant)", "Email (Tenant)"])).unwrap();
        assert!(map.readings().iter().all(|r| r.field == "Full Name"), "annotations are not readings: {:?}", map.readings());
    }

    #[test]
    fn two_columns_that_could_be_one_field_are_refused_naming_both() {
        let refused = ColumnMap::resolve(TENANT_COLUMNS, &h(&["Name", "Work Email", "Email Address"])).unwrap_err();
        assert_eq!(refused.code, "duplicate_column");
        assert!(refused.message.contains("“Work Email” (column B) and “Email Address” (column C)"), "{}", refused.message);
        assert!(refused.message.contains("Rename"), "{}", refused.message);
        // A stronger reading wins over a weaker one: the label over a synonym.
        let map = ColumnMap::resolve(TENANT_COLUMNS, &h(&["Name", "Email", "Work Email"])).unwrap();
        assert_eq!(map.extra_headers(), ["Work Email"]);
        let refused = ColumnMap::resolve(USER_COLUMNS, &h(&["Name", "Full Name", "Email", "Roles", "Buildings", "Status"])).unwrap_err();
        assert_eq!(refused.code, "duplicate_column", "two full names cannot both be split: {}", refused.message);
    }

    #[test]
    fn a_full_name_splits_for_users_and_first_and_last_join_for_contacts() {
        let map = flows::resolve(FileKind::Users, &h(&["Name", "Email", "Roles", "Buildings", "Status"])).unwrap();
        let r = row(&["Lovelace, Ada", "a@b.co"]);
        assert_eq!((map.cell(&r, 0), map.cell(&r, 1)), ("Ada", "Lovelace"));
        assert!(map.readings().iter().any(|r| r.how.contains("split into First Name and Last Name")), "{:?}", map.readings());
        let map = flows::resolve(FileKind::Tenants, &h(&["First Name", "Last Name", "Email"])).unwrap();
        assert_eq!(map.text(&row(&[" Ada ", "Lovelace ", "a@b.co"]), 0), "Ada Lovelace");
        assert_eq!(map.text(&row(&["Cher", "", "a@b.co"]), 0), "Cher");
        assert!(map.readings().iter().any(|r| r.how.contains("joined as Full Name")), "{:?}", map.readings());
    }

    /// What a resolved map says about a file: each field's header, and the readings.
    fn outcome(headers: &[String]) -> Result<(Vec<Option<String>>, Vec<String>), String> {
        let map = ColumnMap::resolve(USER_COLUMNS, headers).map_err(|e| e.code.to_string())?;
        let cells = RawRow { number: 2, cells: headers.to_vec() };
        let fields = (0..USER_COLUMNS.len()).map(|f| map.has(f).then(|| map.cell(&cells, f).to_lowercase())).collect();
        let mut readings: Vec<String> =
            map.readings().iter().map(|r| format!("{}<-{}", r.field, r.headers.join("+").to_lowercase())).collect();
        readings.sort();
        Ok((fields, readings))
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 256, failure_persistence: None, ..Default::default() })]

        #[test]
        fn permuting_columns_or_changing_their_case_never_changes_the_result(
            picked in proptest::sample::subsequence(vec![
                "First Name", "Last Name", "Full Name", "Name", "E-mail", "Work Email", "Login", "Roles", "Access Level",
                "Building assignments", "Sites", "Status", "Enabled", "Company", "User First Name", "User Email", "User Status",
            ], 3..10),
            order in proptest::collection::vec(proptest::prelude::any::<u32>(), 10),
            upper in proptest::collection::vec(proptest::prelude::any::<bool>(), 10),
        ) {
            let headers: Vec<String> = picked.iter().map(|s| s.to_string()).collect();
            let mut shuffled: Vec<(u32, String)> = headers.iter().zip(&order).zip(&upper)
                .map(|((h, o), up)| (*o, if *up { h.to_uppercase() } else { h.to_lowercase() }))
                .collect();
            shuffled.sort_by_key(|(o, _)| *o);
            let shuffled: Vec<String> = shuffled.into_iter().map(|(_, h)| h).collect();
            proptest::prop_assert_eq!(outcome(&headers), outcome(&shuffled));
        }
    }
}
