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

/// Refuses a workbook whose parts would unpack to more than 16 times the intake limit: a small
/// file that expands to gigabytes (a "zip bomb") is not a user export.
fn check_expansion(bytes: &[u8], limits: IntakeLimits) -> Result<(), FileRejection> {
    if !bytes.starts_with(b"PK") {
        return Ok(());
    }
    // The zip central directory lists each part's unpacked size; sum them without unpacking.
    let declared = zip_declared_size(bytes).unwrap_or(0);
    if declared > limits.max_excel_bytes.saturating_mul(16) {
        return Err(FileRejection::new(
            "file_too_large",
            "The workbook unpacks to far more data than a user export holds. Save the sheet as CSV and upload that instead.",
        ));
    }
    Ok(())
}

fn zip_declared_size(bytes: &[u8]) -> Option<u64> {
    // End of central directory record: signature 0x06054b50, at least 22 bytes from the end.
    let eocd = (0..bytes.len().saturating_sub(21)).rev().find(|&i| bytes[i..].starts_with(b"PK\x05\x06"))?;
    let le16 = |at: usize| bytes.get(at..at + 2).map(|b| u16::from_le_bytes([b[0], b[1]]) as usize);
    let le32 = |at: usize| bytes.get(at..at + 4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as u64);
    let entries = le16(eocd + 10)?;
    let mut at = le32(eocd + 16)? as usize;
    let mut total = 0u64;
    for _ in 0..entries {
        if !bytes.get(at..)?.starts_with(b"PK\x01\x02") {
            return None;
        }
        total = total.saturating_add(le32(at + 24)?);
        at += 46 + le16(at + 28)? + le16(at + 30)? + le16(at + 32)?;
    }
    Some(total)
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
