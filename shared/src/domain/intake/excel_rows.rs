//! Rows of an Excel workbook (.xlsx, .xls): the sheet named after the kind, or the first one.

use super::{IntakeLimits, RawRow};
use crate::domain::issue::FileRejection;
use calamine::{Data, Reader};
use std::io::Cursor;

pub(super) fn is_workbook(prefix: &[u8]) -> bool {
    prefix.starts_with(b"PK\x03\x04") || prefix.starts_with(&[0xD0, 0xCF, 0x11, 0xE0])
}

pub(super) fn read_sheet(bytes: Vec<u8>, wanted: &[&str], limits: IntakeLimits) -> Result<Vec<RawRow>, FileRejection> {
    check_expansion(&bytes, limits)?;
    let mut workbook = calamine::open_workbook_auto_from_rs(Cursor::new(bytes)).map_err(|e| {
        FileRejection::new(
            "unreadable_workbook",
            format!("The workbook could not be opened ({e}). Save it again as .xlsx or CSV and upload it."),
        )
    })?;
    let names = workbook.sheet_names();
    let name = names
        .iter()
        .find(|name| wanted.contains(&crate::domain::text::header_key(name).as_str()))
        .or_else(|| names.first())
        .cloned()
        .ok_or_else(|| FileRejection::new("empty_file", "The workbook has no sheets."))?;
    let range = workbook.worksheet_range(&name).map_err(|e| {
        FileRejection::new(
            "unreadable_workbook",
            format!("The sheet “{name}” could not be read ({e}). Save the workbook again as .xlsx or CSV."),
        )
    })?;
    let first_row = range.start().map(|(row, _)| u64::from(row)).unwrap_or(0);
    let first_col = range.start().map(|(_, col)| col as usize).unwrap_or(0);
    Ok(range
        .rows()
        .enumerate()
        .map(|(i, cells)| {
            let mut row: Vec<String> = vec![String::new(); first_col];
            row.extend(cells.iter().map(cell_text));
            RawRow { number: first_row + i as u64 + 1, cells: row }
        })
        .collect())
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
            "file_too_large",
            "The workbook unpacks to far more data than a user export holds. Save the sheet as CSV and upload that instead.",
        )
    };
    match zip_declared_size(bytes) {
        Ok(declared) if declared > limits.max_excel_bytes.saturating_mul(16) => Err(too_large()),
        Ok(_) => Ok(()),
        Err(ZipDirectory::Zip64) => Err(too_large()),
        Err(ZipDirectory::Unreadable) => Err(FileRejection::new(
            "unreadable_workbook",
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

fn cell_text(cell: &Data) -> String {
    match cell {
        Data::Empty => String::new(),
        Data::String(text) | Data::DateTimeIso(text) | Data::DurationIso(text) => text.clone(),
        Data::Float(value) if value.fract() == 0.0 && value.abs() < 1e15 => format!("{}", *value as i64),
        Data::Float(value) => value.to_string(),
        Data::Int(value) => value.to_string(),
        Data::Bool(value) => value.to_string(),
        Data::DateTime(value) => value.to_string(),
        Data::Error(error) => format!("#{error:?}"),
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
