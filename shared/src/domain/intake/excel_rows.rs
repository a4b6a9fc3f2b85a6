//! Rows of an Excel workbook (.xlsx, .xls): the sheet named after the kind, or the first one.

use super::{IntakeLimits, RawRow};
use crate::issue::{FileRejection, RejectionCode};
use calamine::{Data, DataRef, Reader};
use std::io::Cursor;

pub(super) fn is_workbook(prefix: &[u8]) -> bool {
    prefix.starts_with(b"PK\x03\x04") || prefix.starts_with(&[0xD0, 0xCF, 0x11, 0xE0])
}

/// A sheet's rows, made one at a time as they are read. A whole sheet held as calamine's cells
/// and again as rows of text took 1.1 GB for a workbook of a million users; an .xlsx sheet is
/// now read as it unpacks.
pub(super) enum ExcelRows {
    /// An .xlsx sheet, read on a thread of its own (calamine's cell reader borrows the
    /// workbook, which that thread owns), rows handed over in batches; the last says so.
    Streamed { batches: std::sync::mpsc::Receiver<XlsxBatch>, batch: std::vec::IntoIter<RawRow>, ended: bool },
    /// Other workbooks (.xls, .xlsb, .ods): their cells read whole, made into rows one at a time.
    Range {
        range: calamine::Range<Data>,
        /// The sheet's row number of the range's first row, less one.
        first_row: u64,
        /// Empty cells before the range's first column.
        first_col: usize,
        next: usize,
    },
}

/// Rows of an .xlsx sheet, and whether they are its last; or why the reading stopped.
type XlsxBatch = Result<(Vec<RawRow>, bool), FileRejection>;

/// How many rows the .xlsx reader hands over at once, and how many batches may wait.
const XLSX_BATCH_ROWS: usize = 1024;
const XLSX_BATCHES_AHEAD: usize = 4;

/// Excel's columns, A to XFD.
const EXCEL_COLUMNS: u32 = 16_384;

impl ExcelRows {
    /// The next row (a blank one included, as the sheet has it); `None` after the last.
    pub(super) fn next_row(&mut self) -> Option<Result<RawRow, FileRejection>> {
        match self {
            ExcelRows::Streamed { batches, batch, ended } => loop {
                if let Some(row) = batch.next() {
                    return Some(Ok(row));
                }
                if *ended {
                    return None;
                }
                match batches.recv() {
                    Ok(Ok((rows, last))) => (*batch, *ended) = (rows.into_iter(), last),
                    Ok(Err(rejection)) => {
                        *ended = true;
                        return Some(Err(rejection));
                    }
                    // A reader that stopped without saying the sheet ended is never taken for
                    // its end (rows would be lost).
                    Err(_) => {
                        *ended = true;
                        return Some(Err(FileRejection::new(
                            RejectionCode::UnreadableWorkbook,
                            "The workbook could not be read to its end. Save it again as .xlsx or CSV and upload it.",
                        )));
                    }
                }
            },
            ExcelRows::Range { range, first_row, first_col, next } => {
                let (height, width) = range.get_size();
                if *next >= height {
                    return None;
                }
                let mut cells = Vec::with_capacity(*first_col + width);
                cells.resize(*first_col, String::new());
                cells.extend((0..width).map(|col| range.get((*next, col)).map(cell_text).unwrap_or_default()));
                let row = RawRow { number: *first_row + *next as u64 + 1, cells };
                *next += 1;
                Some(Ok(row))
            }
        }
    }
}

fn unreadable_sheet(name: &str, error: impl std::fmt::Display) -> FileRejection {
    FileRejection::new(
        RejectionCode::UnreadableWorkbook,
        format!("The sheet “{name}” could not be read ({error}). Save the workbook again as .xlsx or CSV."),
    )
}

pub(super) fn read_sheet(bytes: Vec<u8>, wanted: &[&str], limits: IntakeLimits) -> Result<ExcelRows, FileRejection> {
    check_expansion(&bytes, limits)?;
    let workbook = calamine::open_workbook_auto_from_rs(Cursor::new(bytes)).map_err(|e| {
        FileRejection::new(
            RejectionCode::UnreadableWorkbook,
            format!("The workbook could not be opened ({e}). Save it again as .xlsx or CSV and upload it."),
        )
    })?;
    let names = workbook.sheet_names();
    let name = names
        .iter()
        .find(|name| wanted.contains(&crate::text::header_key(name).as_str()))
        .or_else(|| names.first())
        .cloned()
        .ok_or_else(|| FileRejection::new(RejectionCode::EmptyFile, "The workbook has no sheets."))?;
    // Each kind by itself: an .xlsx is never read whole, so that reader is left out of the build.
    let range = match workbook {
        calamine::Sheets::Xlsx(xlsx) => return stream_xlsx(xlsx, name),
        calamine::Sheets::Xls(mut book) => book.worksheet_range(&name).map_err(|e| unreadable_sheet(&name, e))?,
        calamine::Sheets::Xlsb(mut book) => book.worksheet_range(&name).map_err(|e| unreadable_sheet(&name, e))?,
        calamine::Sheets::Ods(mut book) => book.worksheet_range(&name).map_err(|e| unreadable_sheet(&name, e))?,
    };
    let first_row = range.start().map(|(row, _)| u64::from(row)).unwrap_or(0);
    let first_col = range.start().map(|(_, col)| col as usize).unwrap_or(0);
    Ok(ExcelRows::Range { range, first_row, first_col, next: 0 })
}

/// Reads sheet `name` of an .xlsx workbook on a thread of its own, a row at a time: each cell
/// at its column's place (a cell in column C is the row's third), each row numbered as the
/// sheet numbers it, rows without cells left out (they are blank).
fn stream_xlsx(mut xlsx: calamine::Xlsx<Cursor<Vec<u8>>>, name: String) -> Result<ExcelRows, FileRejection> {
    let (sender, batches) = std::sync::mpsc::sync_channel(XLSX_BATCHES_AHEAD);
    let reader = move || {
        let mut cells = match xlsx.worksheet_cells_reader(&name) {
            Ok(cells) => cells,
            Err(error) => {
                let _ = sender.send(Err(unreadable_sheet(&name, error)));
                return;
            }
        };
        let mut batch = Vec::with_capacity(XLSX_BATCH_ROWS);
        let mut row: Option<RawRow> = None;
        loop {
            let cell = match cells.next_cell() {
                Ok(Some(cell)) => cell,
                Ok(None) => break,
                Err(error) => {
                    // The rows before the fault are handed over first; then why it stopped.
                    batch.extend(row.take());
                    let _ = sender.send(Ok((std::mem::take(&mut batch), false)));
                    let _ = sender.send(Err(unreadable_sheet(&name, error)));
                    return;
                }
            };
            let (at_row, at_col) = cell.get_position();
            let number = u64::from(at_row) + 1;
            if row.as_ref().is_some_and(|r| r.number != number) {
                batch.extend(row.take());
                if batch.len() >= XLSX_BATCH_ROWS
                    && sender.send(Ok((std::mem::replace(&mut batch, Vec::with_capacity(XLSX_BATCH_ROWS)), false))).is_err()
                {
                    // Nobody reads on (the file was refused after its header): stop.
                    return;
                }
            }
            if at_col >= EXCEL_COLUMNS {
                // Past column XFD: no spreadsheet writes that; a row that wide would take gigabytes.
                let _ = sender.send(Err(unreadable_sheet(&name, format!("a cell lies past column XFD, on row {number}"))));
                return;
            }
            let current = row.get_or_insert_with(|| RawRow { number, cells: Vec::new() });
            let at = at_col as usize;
            if current.cells.len() <= at {
                current.cells.resize(at + 1, String::new());
            }
            // A text (most cells) is copied once; the rest hold no text worth the care.
            current.cells[at] = match cell.get_value() {
                DataRef::String(text) => text.clone(),
                DataRef::SharedString(text) => (*text).to_string(),
                other => cell_text(&Data::from(other.clone())),
            };
        }
        batch.extend(row);
        let _ = sender.send(Ok((batch, true)));
    };
    std::thread::Builder::new().name("xlsx-reader".into()).spawn(reader).map_err(|e| {
        FileRejection::new(RejectionCode::UnreadableWorkbook, format!("The workbook could not be read ({e}). Upload it again."))
    })?;
    Ok(ExcelRows::Streamed { batches, batch: Vec::new().into_iter(), ended: false })
}

/// Refuses, without unpacking anything, a workbook whose parts would unpack to more than 16
/// times the intake limit (a small file that expands to gigabytes, a "zip bomb", is not a user
/// export), one that uses ZIP64 (sizes over 4 GB, which no export needs), and one whose zip
/// directory cannot be read (its sizes could not be checked).
fn check_expansion(bytes: &[u8], limits: IntakeLimits) -> Result<(), FileRejection> {
    if !bytes.starts_with(b"PK") {
        return Ok(());
    }
    // The zip central directory lists each part's unpacked size; sum them without unpacking.
    let too_large = || {
        FileRejection::new(
            RejectionCode::FileTooLarge,
            "The workbook unpacks to far more data than a user export holds. Save the sheet as CSV and upload that instead.",
        )
    };
    match zip_declared_size(bytes) {
        Ok(declared) if declared > limits.max_excel_bytes.saturating_mul(16) => Err(too_large()),
        Ok(_) => Ok(()),
        Err(ZipDirectory::Zip64) => Err(too_large()),
        Err(ZipDirectory::Unreadable) => Err(FileRejection::new(
            RejectionCode::UnreadableWorkbook,
            "The workbook's zip directory is damaged, so it was not opened. Save it again as .xlsx or CSV and upload it.",
        )),
    }
}

/// Why a zip's declared sizes could not be summed.
#[derive(Debug, PartialEq, Eq)]
enum ZipDirectory {
    /// ZIP64 records or size fields: sizes beyond 4 GB.
    Zip64,
    Unreadable,
}

fn zip_declared_size(bytes: &[u8]) -> Result<u64, ZipDirectory> {
    use ZipDirectory::*;
    // A ZIP64 end-of-central-directory locator anywhere near the end: refused outright.
    let tail = &bytes[bytes.len().saturating_sub(64 * 1024 + 42)..];
    if tail.windows(4).any(|w| w == b"PK\x06\x07" || w == b"PK\x06\x06") {
        return Err(Zip64);
    }
    // End of central directory record: signature 0x06054b50, at least 22 bytes from the end.
    let eocd = (0..bytes.len().saturating_sub(21)).rev().find(|&i| bytes[i..].starts_with(b"PK\x05\x06")).ok_or(Unreadable)?;
    let le16 = |at: usize| bytes.get(at..at + 2).map(|b| u16::from_le_bytes([b[0], b[1]]) as usize).ok_or(Unreadable);
    let le32 = |at: usize| bytes.get(at..at + 4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as u64).ok_or(Unreadable);
    let entries = le16(eocd + 10)?;
    let offset = le32(eocd + 16)?;
    if entries == 0xFFFF || offset == 0xFFFF_FFFF {
        return Err(Zip64);
    }
    let mut at = usize::try_from(offset).map_err(|_| Unreadable)?;
    let mut total = 0u64;
    for _ in 0..entries {
        if !bytes.get(at..).ok_or(Unreadable)?.starts_with(b"PK\x01\x02") {
            return Err(Unreadable);
        }
        let (compressed, unpacked) = (le32(at + 20)?, le32(at + 24)?);
        if compressed == 0xFFFF_FFFF || unpacked == 0xFFFF_FFFF {
            return Err(Zip64);
        }
        total = total.saturating_add(unpacked);
        at += 46 + le16(at + 28)? + le16(at + 30)? + le16(at + 32)?;
    }
    Ok(total)
}

/// A cell as Excel shows it: dates as ISO 8601 (a date alone when there is no time of day),
/// numbers with every digit and no exponent or trailing ".0" (a phone number stored as a number
/// stays whole), booleans as TRUE/FALSE, errors as Excel writes them, formulas as their cached
/// values (which is what calamine reads).
fn cell_text(cell: &Data) -> String {
    match cell {
        Data::Empty => String::new(),
        Data::String(text) | Data::DurationIso(text) => text.clone(),
        Data::DateTimeIso(text) => iso_date_time(text),
        Data::Float(value) => number_text(*value),
        Data::Int(value) => value.to_string(),
        Data::Bool(true) => "TRUE".into(),
        Data::Bool(false) => "FALSE".into(),
        Data::DateTime(value) if value.is_duration() => {
            let seconds = (value.as_f64() * 86_400.0).round() as i64;
            format!("{}:{:02}:{:02}", seconds / 3600, (seconds % 3600) / 60, seconds % 60)
        }
        Data::DateTime(value) => {
            let (year, month, day, hour, minute, second, milli) = value.to_ymd_hms_milli();
            // Excel keeps milliseconds; a value a hair before midnight rounds as Excel shows it.
            let second = if milli >= 500 { second.saturating_add(1).min(59) } else { second };
            if (hour, minute, second) == (0, 0, 0) {
                format!("{year:04}-{month:02}-{day:02}")
            } else {
                format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}")
            }
        }
        Data::Error(error) => error.to_string(),
    }
}

/// An OpenDocument date-time as ISO 8601 to the second, the date alone at midnight.
fn iso_date_time(text: &str) -> String {
    let text = text.split('.').next().unwrap_or(text);
    match text.strip_suffix("T00:00:00") {
        Some(date) => date.to_string(),
        None => text.to_string(),
    }
}

/// A number with at most the 15 significant digits Excel shows, without an exponent and
/// without trailing zeros: `14155552671`, `0.3` (for 0.1 + 0.2), `1234.5`.
fn number_text(value: f64) -> String {
    if !value.is_finite() {
        return value.to_string();
    }
    if value.fract() == 0.0 {
        return format!("{value:.0}");
    }
    let magnitude = value.abs().log10().floor() as i32 + 1;
    let decimals = (15 - magnitude).clamp(0, 30) as usize;
    let text = format!("{value:.decimals$}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" {
        "0".into()
    } else {
        text.to_string()
    }
}

#[cfg(test)]
mod typed_cells {
    use super::*;
    use calamine::{CellErrorType, ExcelDateTime, ExcelDateTimeType};

    #[test]
    fn cells_read_as_excel_shows_them() {
        let date = |serial: f64| Data::DateTime(ExcelDateTime::new(serial, ExcelDateTimeType::DateTime, false));
        assert_eq!(cell_text(&date(46082.0)), "2026-03-01");
        assert_eq!(cell_text(&date(46082.5)), "2026-03-01T12:00:00");
        assert_eq!(cell_text(&Data::DateTime(ExcelDateTime::new(1.5, ExcelDateTimeType::TimeDelta, false))), "36:00:00");
        assert_eq!(cell_text(&Data::Float(14155552671.0)), "14155552671");
        assert_eq!(cell_text(&Data::Float(447911123456789.0)), "447911123456789");
        assert_eq!(cell_text(&Data::Float(1e20)), "100000000000000000000");
        assert_eq!(cell_text(&Data::Float(0.1 + 0.2)), "0.3");
        assert_eq!(cell_text(&Data::Float(1234.5)), "1234.5");
        assert_eq!(cell_text(&Data::Float(-2.25)), "-2.25");
        assert_eq!(cell_text(&Data::Bool(true)), "TRUE");
        assert_eq!(cell_text(&Data::Bool(false)), "FALSE");
        assert_eq!(cell_text(&Data::Error(CellErrorType::Div0)), "#DIV/0!");
        assert_eq!(cell_text(&Data::DateTimeIso("2026-03-01T00:00:00".into())), "2026-03-01");
        assert_eq!(cell_text(&Data::DateTimeIso("2026-03-01T09:30:15.250".into())), "2026-03-01T09:30:15");
    }

    /// A workbook as Excel writes one: a phone stored as a number, dates with a date format in a
    /// known and an extra column, a boolean and a formula with its cached value.
    fn typed_workbook() -> Vec<u8> {
        use rust_xlsxwriter::{ExcelDateTime as Date, Format, Formula, Workbook};
        let mut book = Workbook::new();
        let sheet = book.add_worksheet();
        let date_format = Format::new().set_num_format("dd/mm/yyyy");
        let stamp_format = Format::new().set_num_format("dd/mm/yyyy hh:mm:ss");
        for (col, header) in ["Full Name", "Email", "Phone Number", "Start Date", "Badge", "Floors", "Last Seen"].iter().enumerate() {
            sheet.write_string(0, col as u16, *header).unwrap();
        }
        sheet.write_string(1, 0, "Ada Lovelace").unwrap();
        sheet.write_string(1, 1, "ada@acme.example").unwrap();
        sheet.write_number(1, 2, 14155552671.0).unwrap();
        sheet.write_datetime_with_format(1, 3, Date::from_ymd(2026, 3, 1).unwrap(), &date_format).unwrap();
        sheet.write_boolean(1, 4, true).unwrap();
        sheet.write_formula(1, 5, Formula::new("=2+3").set_result("5")).unwrap();
        sheet.write_datetime_with_format(1, 6, Date::parse_from_str("2026-03-01 09:30:15").unwrap(), &stamp_format).unwrap();
        book.save_to_buffer().unwrap()
    }

    fn all(mut rows: ExcelRows) -> Vec<RawRow> {
        std::iter::from_fn(|| rows.next_row()).map(Result::unwrap).collect()
    }

    #[test]
    fn a_sheet_that_starts_below_and_right_of_a1_keeps_its_row_numbers_and_columns() {
        let mut book = rust_xlsxwriter::Workbook::new();
        let sheet = book.add_worksheet().set_name("Tenants").unwrap();
        sheet.write_string(2, 1, "Email").unwrap();
        sheet.write_string(2, 2, "Name").unwrap();
        sheet.write_string(3, 1, "ada@acme.example").unwrap();
        sheet.write_string(5, 2, "Grace").unwrap();
        let bytes = book.save_to_buffer().unwrap();
        let rows = all(read_sheet(bytes, &["tenants"], IntakeLimits::default()).unwrap());
        // What intake sees: the rows that are not blank, each cell at its column's place
        // (trailing empty cells, which a row may or may not carry, left aside).
        let seen: Vec<(u64, Vec<&str>)> = rows
            .iter()
            .filter(|r| !r.is_blank())
            .map(|r| {
                let cells: Vec<&str> = r.cells.iter().map(String::as_str).collect();
                let used = cells.iter().rposition(|c| !c.is_empty()).map_or(0, |last| last + 1);
                (r.number, cells[..used].to_vec())
            })
            .collect();
        assert_eq!(seen, [(3, vec!["", "Email", "Name"]), (4, vec!["", "ada@acme.example"]), (6, vec!["", "", "Grace"])]);
    }

    /// `bytes` (a zip) with `part` cut to its first `keep` bytes.
    fn cut_part(bytes: Vec<u8>, part: &str, keep: usize) -> Vec<u8> {
        use std::io::Read;
        let mut source = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
        let mut content = Vec::new();
        source.by_name(part).unwrap().read_to_end(&mut content).unwrap();
        content.truncate(keep);
        replace_part(source, part, &content)
    }

    /// The zip `source` again, with `part` holding `content`.
    fn replace_part(mut source: zip::ZipArchive<Cursor<Vec<u8>>>, part: &str, content: &[u8]) -> Vec<u8> {
        use std::io::{Read, Write};
        let mut out = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for index in 0..source.len() {
            let mut file = source.by_index(index).unwrap();
            let name = file.name().unwrap().to_string();
            let mut original = Vec::new();
            file.read_to_end(&mut original).unwrap();
            out.start_file(name.as_str(), zip::write::SimpleFileOptions::default()).unwrap();
            out.write_all(if name == part { content } else { &original }).unwrap();
        }
        out.finish().unwrap().into_inner()
    }

    #[test]
    fn a_sheet_that_breaks_off_is_refused_after_the_rows_before_it_never_cut_short_in_silence() {
        let mut book = rust_xlsxwriter::Workbook::new();
        let sheet = book.add_worksheet().set_name("Tenants").unwrap();
        for row in 0..3000u32 {
            sheet.write_string(row, 0, format!("user{row}@acme.example")).unwrap();
        }
        let whole = book.save_to_buffer().unwrap();
        assert_eq!(all(read_sheet(whole.clone(), &["tenants"], IntakeLimits::default()).unwrap()).len(), 3000);
        let broken = cut_part(whole, "xl/worksheets/sheet1.xml", 60_000);
        let mut rows = read_sheet(broken, &["tenants"], IntakeLimits::default()).unwrap();
        let mut read = 0;
        let refusal = loop {
            match rows.next_row() {
                Some(Ok(_)) => read += 1,
                Some(Err(refusal)) => break refusal,
                None => panic!("a sheet that breaks off read as complete after {read} rows"),
            }
        };
        assert!(read > 100 && read < 3000, "{read} rows before the fault");
        assert_eq!(refusal.code, RejectionCode::UnreadableWorkbook);
        assert!(refusal.message.contains("Tenants"), "{}", refusal.message);
    }

    #[test]
    fn a_cell_past_column_xfd_is_refused_not_made_room_for() {
        let mut book = rust_xlsxwriter::Workbook::new();
        book.add_worksheet().set_name("Tenants").unwrap().write_string(0, 0, "Email").unwrap();
        let bytes = book.save_to_buffer().unwrap();
        // Move the one cell far to the right of any real sheet.
        let mut source = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
        let mut sheet = String::new();
        std::io::Read::read_to_string(&mut source.by_name("xl/worksheets/sheet1.xml").unwrap(), &mut sheet).unwrap();
        assert!(sheet.contains(r#"r="A1""#), "{sheet}");
        let moved = sheet.replace(r#"r="A1""#, r#"r="ZZZZZZ1""#);
        let bytes = replace_part(source, "xl/worksheets/sheet1.xml", moved.as_bytes());
        let mut rows = read_sheet(bytes, &["tenants"], IntakeLimits::default()).unwrap();
        let refusal = rows.next_row().expect("a refusal").unwrap_err();
        assert_eq!(refusal.code, RejectionCode::UnreadableWorkbook);
        assert!(refusal.message.contains("XFD"), "{}", refusal.message);
    }

    #[test]
    fn a_reader_that_stops_without_saying_the_sheet_ended_is_a_refusal_not_the_end() {
        let (sender, batches) = std::sync::mpsc::sync_channel(XLSX_BATCHES_AHEAD);
        let row = |number| RawRow { number, cells: vec!["a@x.example".into()] };
        sender.send(Ok((vec![row(1), row(2)], false))).unwrap();
        drop(sender);
        let mut rows = ExcelRows::Streamed { batches, batch: Vec::new().into_iter(), ended: false };
        assert_eq!(rows.next_row().unwrap().unwrap().number, 1);
        assert_eq!(rows.next_row().unwrap().unwrap().number, 2);
        let refusal = rows.next_row().expect("not the end of the sheet").unwrap_err();
        assert_eq!(refusal.code, RejectionCode::UnreadableWorkbook);
        assert!(rows.next_row().is_none());
        // A reader that said its batch was the last one ends the sheet.
        let (sender, batches) = std::sync::mpsc::sync_channel(XLSX_BATCHES_AHEAD);
        sender.send(Ok((vec![row(1)], true))).unwrap();
        drop(sender);
        let mut rows = ExcelRows::Streamed { batches, batch: Vec::new().into_iter(), ended: false };
        assert!(rows.next_row().unwrap().is_ok());
        assert!(rows.next_row().is_none());
    }

    #[test]
    fn a_typed_workbook_reads_as_it_shows() {
        let rows = all(read_sheet(typed_workbook(), &["tenants"], IntakeLimits::default()).unwrap());
        assert_eq!(rows[1].cells, ["Ada Lovelace", "ada@acme.example", "14155552671", "2026-03-01", "TRUE", "5", "2026-03-01T09:30:15"]);
    }

    /// The smallest OpenDocument spreadsheet: a mimetype, a manifest and content.xml.
    fn ods(rows: &str) -> Vec<u8> {
        use std::io::Write;
        let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let stored = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
        zip.start_file("mimetype", stored).unwrap();
        zip.write_all(b"application/vnd.oasis.opendocument.spreadsheet").unwrap();
        zip.start_file("META-INF/manifest.xml", stored).unwrap();
        zip.write_all(br#"<?xml version="1.0" encoding="UTF-8"?><manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2"><manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/><manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/></manifest:manifest>"#).unwrap();
        zip.start_file("content.xml", stored).unwrap();
        write!(
            zip,
            r#"<?xml version="1.0" encoding="UTF-8"?><office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2"><office:body><office:spreadsheet><table:table table:name="Tenants">{rows}</table:table></office:spreadsheet></office:body></office:document-content>"#
        )
        .unwrap();
        zip.finish().unwrap().into_inner()
    }

    #[test]
    fn an_open_document_sheet_reads_the_same() {
        let text = |t: &str| format!(r#"<table:table-cell office:value-type="string"><text:p>{t}</text:p></table:table-cell>"#);
        let header: String = ["Full Name", "Email", "Phone Number", "Start Date", "Badge"].map(text).concat();
        let row = [
            text("Ada Lovelace"),
            text("ada@acme.example"),
            r#"<table:table-cell office:value-type="float" office:value="14155552671"><text:p>14155552671</text:p></table:table-cell>"#
                .into(),
            r#"<table:table-cell office:value-type="date" office:date-value="2026-03-01"><text:p>01/03/2026</text:p></table:table-cell>"#
                .into(),
            r#"<table:table-cell office:value-type="boolean" office:boolean-value="true"><text:p>TRUE</text:p></table:table-cell>"#.into(),
        ]
        .concat();
        let bytes = ods(&format!("<table:table-row>{header}</table:table-row><table:table-row>{row}</table:table-row>"));
        assert!(is_workbook(&bytes));
        let rows = all(read_sheet(bytes, &["tenants"], IntakeLimits::default()).unwrap());
        assert_eq!(rows[1].cells, ["Ada Lovelace", "ada@acme.example", "14155552671", "2026-03-01", "TRUE"]);
    }
}

#[cfg(test)]
mod zip_tests {
    use super::*;

    fn workbook() -> Vec<u8> {
        let mut book = rust_xlsxwriter::Workbook::new();
        book.add_worksheet().write_string(0, 0, "Email").unwrap();
        book.save_to_buffer().unwrap()
    }

    /// The central-directory entries' offsets of `bytes`.
    fn entries(bytes: &[u8]) -> Vec<usize> {
        (0..bytes.len() - 4).filter(|&i| bytes[i..].starts_with(b"PK\x01\x02")).collect()
    }

    #[test]
    fn an_ordinary_workbook_declares_its_sizes() {
        let bytes = workbook();
        assert!(zip_declared_size(&bytes).unwrap() > 0);
        assert!(check_expansion(&bytes, IntakeLimits::default()).is_ok());
    }

    #[test]
    fn zip64_sizes_are_refused_unpacked() {
        let mut bytes = workbook();
        let first = entries(&bytes)[0];
        bytes[first + 24..first + 28].copy_from_slice(&0xFFFF_FFFFu32.to_le_bytes());
        assert_eq!(zip_declared_size(&bytes), Err(ZipDirectory::Zip64));
        assert_eq!(check_expansion(&bytes, IntakeLimits::default()).unwrap_err().code, "file_too_large");
        let mut bytes = workbook();
        let at = bytes.len() - 22;
        bytes.splice(at..at, b"PK\x06\x07".iter().copied().chain([0u8; 16]));
        assert_eq!(zip_declared_size(&bytes), Err(ZipDirectory::Zip64), "a ZIP64 locator");
    }

    #[test]
    fn a_damaged_directory_is_refused_not_opened() {
        let mut bytes = workbook();
        let first = entries(&bytes)[0];
        bytes[first..first + 4].copy_from_slice(b"XXXX");
        assert_eq!(zip_declared_size(&bytes), Err(ZipDirectory::Unreadable));
        assert_eq!(check_expansion(&bytes, IntakeLimits::default()).unwrap_err().code, "unreadable_workbook");
    }
}
