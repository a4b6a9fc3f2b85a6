use super::*;
use crate::domain::text::header_key;

const SPECS: &[ColumnSpec] = &[
    ColumnSpec { label: "Full Name", aliases: &["name"], required: true },
    ColumnSpec { label: "Email", aliases: &["emailaddress", "tenantcontactemail"], required: true },
    ColumnSpec { label: "Phone Number", aliases: &["phone"], required: false },
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
    assert_eq!(columns::column_letter(0), "A");
    assert_eq!(columns::column_letter(25), "Z");
    assert_eq!(columns::column_letter(27), "AB");
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
    assert_eq!(sheet.err().map(|r| r.code), Some("file_too_large"));
    assert_eq!(open(utf16(&text, true)).unwrap_err().code, "file_too_large");
    // Exactly at the limit is fine.
    let at_limit: String = text.chars().take(100_000).collect::<String>();
    let at_limit = &at_limit[..at_limit.rfind('\n').unwrap() + 1];
    assert!(open(at_limit.as_bytes().to_vec()).is_ok());
}
