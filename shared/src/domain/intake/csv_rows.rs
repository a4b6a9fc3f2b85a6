//! CSV rows from bytes in whatever encoding and delimiter the export used.

use super::RawRow;
use crate::issue::{FileRejection, RejectionCode};
use encoding_rs::{Encoding, UTF_16BE, UTF_16LE, WINDOWS_1252};
use std::io::{Cursor, Read};

pub(super) struct CsvRows {
    reader: csv::Reader<Box<dyn Read + Send>>,
    record: csv::ByteRecord,
    number: u64,
}

impl CsvRows {
    /// `prefix` holds the first bytes of the file (for sniffing); `rest` the remainder.
    pub(super) fn open(prefix: Vec<u8>, rest: impl Read + Send + 'static) -> Result<Self, FileRejection> {
        let utf16 = utf16_encoding(&prefix);
        let sample = match utf16 {
            Some(encoding) => encoding.decode_with_bom_removal(&prefix).0.into_owned(),
            None => {
                if prefix.contains(&0) {
                    return Err(FileRejection::new(
                        RejectionCode::NotATable,
                        "This does not look like a CSV or Excel file (it contains binary data). Save the export as CSV (UTF-8) or .xlsx and upload it again.",
                    ));
                }
                decode_cell(prefix.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&prefix))
            }
        };
        let delimiter = sniff_delimiter(&sample);
        let skip_bom = utf16.is_none() && prefix.starts_with(b"\xEF\xBB\xBF");
        let start = if skip_bom { 3 } else { 0 };
        let raw: Box<dyn Read + Send> = Box::new(Cursor::new(prefix).chain(rest));
        let mut source: Box<dyn Read + Send> = match utf16 {
            Some(encoding) => {
                Box::new(encoding_rs_io::DecodeReaderBytesBuilder::new().encoding(Some(encoding)).bom_override(true).build(raw))
            }
            None => raw,
        };
        if start > 0 {
            let mut bom = [0u8; 3];
            source.read_exact(&mut bom).map_err(|e| super::unreadable(&e))?;
        }
        let reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).delimiter(delimiter).from_reader(source);
        Ok(Self { reader, record: csv::ByteRecord::new(), number: 0 })
    }
}

impl CsvRows {
    /// Reads the next record into `row`, reusing the cells' buffers. `None` at the end.
    pub(super) fn read_into(&mut self, row: &mut RawRow) -> Option<Result<(), FileRejection>> {
        match self.reader.read_byte_record(&mut self.record) {
            Ok(false) => None,
            Ok(true) => {
                // Rows are counted as a spreadsheet counts them: a quoted line break stays inside
                // its row. (Completely empty lines are not counted: the CSV reader skips them.)
                self.number += 1;
                row.number = self.number;
                row.cells.truncate(self.record.len());
                // One UTF-8 check for the whole record instead of one per cell (the usual case:
                // a UTF-8 export). A cell is then UTF-8 on its own exactly when it starts and
                // ends on a character boundary, which `str::get` checks; any other cell (or
                // every cell, when the record is not UTF-8) is decoded on its own as before.
                let whole = std::str::from_utf8(self.record.as_slice()).ok();
                for index in 0..self.record.len() {
                    let text = whole.zip(self.record.range(index)).and_then(|(whole, range)| whole.get(range));
                    if row.cells.len() <= index {
                        row.cells.push(String::new());
                    }
                    let Some(cell) = row.cells.get_mut(index) else { continue };
                    match text {
                        Some(text) => {
                            cell.clear();
                            cell.push_str(text);
                        }
                        None => decode_into(self.record.get(index).unwrap_or_default(), cell),
                    }
                }
                Some(Ok(()))
            }
            // A file past the size limit says so, whatever row it had reached.
            Err(error) if matches!(error.kind(), csv::ErrorKind::Io(io) if super::is_too_large(io)) => match error.into_kind() {
                csv::ErrorKind::Io(io) => Some(Err(super::unreadable(&io))),
                _ => None,
            },
            Err(error) => Some(Err(FileRejection::new(
                RejectionCode::UnreadableFile,
                format!(
                    "The file could not be read after row {} ({error}). Check that it is a complete CSV export and upload it again.",
                    self.number
                ),
            ))),
        }
    }
}

fn utf16_encoding(prefix: &[u8]) -> Option<&'static Encoding> {
    match prefix {
        [0xFF, 0xFE, ..] => Some(UTF_16LE),
        [0xFE, 0xFF, ..] => Some(UTF_16BE),
        _ => utf16_without_bom(prefix),
    }
}

/// UTF-16 saved without a byte-order mark: text whose every other byte is zero (the high
/// byte of Latin characters). Both halves of the test must hold for nearly all of the sample,
/// so binary data with some zeros is still refused as binary.
fn utf16_without_bom(prefix: &[u8]) -> Option<&'static Encoding> {
    let pairs: Vec<&[u8]> = prefix.chunks_exact(2).take(512).collect();
    if pairs.len() < 4 {
        return None;
    }
    let text = |b: u8| b == b'\t' || b == b'\n' || b == b'\r' || (0x20..0x7F).contains(&b);
    let share = |test: &dyn Fn(&[u8]) -> bool| pairs.iter().filter(|p| test(p)).count() * 100 / pairs.len();
    if share(&|p| text(p[0]) && p[1] == 0) >= 95 {
        Some(UTF_16LE)
    } else if share(&|p| p[0] == 0 && text(p[1])) >= 95 {
        Some(UTF_16BE)
    } else {
        None
    }
}

/// UTF-8 when the bytes are valid UTF-8, Windows-1252 otherwise (Excel's "CSV" on Windows).
/// Decided per cell, so one stray byte cannot garble a whole file.
pub(super) fn decode_cell(bytes: &[u8]) -> String {
    let mut cell = String::new();
    decode_into(bytes, &mut cell);
    cell
}

/// [`decode_cell`] into an existing buffer.
fn decode_into(bytes: &[u8], cell: &mut String) {
    cell.clear();
    match std::str::from_utf8(bytes) {
        Ok(text) => cell.push_str(text),
        Err(_) => cell.push_str(&WINDOWS_1252.decode_without_bom_handling(bytes).0),
    }
}

/// Picks `,`, `;` or tab by counting them, outside quotes, on the first line.
fn sniff_delimiter(sample: &str) -> u8 {
    let mut counts = [0usize; 3];
    let mut quoted = false;
    for c in sample.chars() {
        match c {
            '"' => quoted = !quoted,
            '\n' | '\r' if !quoted => break,
            ',' if !quoted => counts[0] += 1,
            ';' if !quoted => counts[1] += 1,
            '\t' if !quoted => counts[2] += 1,
            _ => {}
        }
    }
    let candidates = [b',', b';', b'\t'];
    let best = (0..3).max_by_key(|&i| (counts[i], 3 - i)).unwrap_or(0);
    candidates[best]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_the_delimiter_of_the_first_line() {
        assert_eq!(sniff_delimiter("a,b,c\n1;2;3;4;5"), b',');
        assert_eq!(sniff_delimiter("a;b;\"c,d,e\"\n"), b';');
        assert_eq!(sniff_delimiter("a\tb\tc"), b'\t');
        assert_eq!(sniff_delimiter("single"), b',');
    }

    #[test]
    fn utf16_without_a_bom_is_recognised_and_binary_is_not() {
        let text = "Full Name,Email\r\nAda,ada@example.com\r\n";
        let le: Vec<u8> = text.encode_utf16().flat_map(u16::to_le_bytes).collect();
        let be: Vec<u8> = text.encode_utf16().flat_map(u16::to_be_bytes).collect();
        assert_eq!(utf16_encoding(&le), Some(UTF_16LE));
        assert_eq!(utf16_encoding(&be), Some(UTF_16BE));
        assert_eq!(utf16_encoding(text.as_bytes()), None);
        let binary: Vec<u8> = (0..=255u8).cycle().take(1024).collect();
        assert_eq!(utf16_encoding(&binary), None);
    }

    #[test]
    fn invalid_utf8_cells_fall_back_to_windows_1252() {
        assert_eq!(decode_cell(b"Andr\xe9"), "André");
        assert_eq!(decode_cell("André".as_bytes()), "André");
    }

    fn cells_of(file: &[u8]) -> Vec<Vec<String>> {
        let mut rows = CsvRows::open(Vec::new(), std::io::Cursor::new(file.to_vec())).unwrap();
        let mut row = RawRow { number: 0, cells: vec!["stale".into(); 5] };
        let mut out = Vec::new();
        while let Some(read) = rows.read_into(&mut row) {
            read.unwrap();
            out.push(row.cells.clone());
        }
        out
    }

    #[test]
    fn each_cell_is_decoded_on_its_own_even_when_the_record_is_utf8() {
        // "\xC3,\xA9" is "é" once the comma is gone: each half alone is not UTF-8.
        assert_eq!(cells_of(b"Andr\xC3,\xA9x,Zo\xC3\xAB\nAndr\xe9,b\n"), [vec!["AndrÃ", "©x", "Zoë"], vec!["André", "b"]]);
        let whole: &[u8] = b"\xC3\xA9,\"a,\xC3\xA9\",\n";
        assert_eq!(cells_of(whole), [vec!["é", "a,é", ""]]);
    }
}
