//! Turning an uploaded file (CSV in any of the usual encodings and delimiters, or Excel) into a
//! header row and a stream of raw rows, and finding the columns a flow needs by their aliases.

mod column_rules;
mod columns;
mod csv_rows;
mod excel_rows;
mod headers;
mod specs;

pub use columns::ColumnMap;
pub use specs::{ColumnReading, ColumnSpec, NamePart, FIRST_NAMES, LAST_NAMES};
pub(crate) use specs::{EMAIL_NAMES, FULL_NAMES, PHONE_NAMES};

use crate::issue::{FileRejection, RejectionCode};
use std::io::Read;

/// One data row as it stood in the file. `number` is the 1-based row number a spreadsheet shows
/// (the header row is row 1 when it is the first row).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawRow {
    pub number: u64,
    pub cells: Vec<String>,
}

impl RawRow {
    pub(crate) fn is_blank(&self) -> bool {
        self.cells.iter().all(|cell| cell.trim().is_empty())
    }
}

/// Which kind of file a sheet is read for; an Excel workbook is searched for a sheet of that name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Buildings,
    Tenants,
    Users,
}

impl FileKind {
    fn sheet_names(self) -> &'static [&'static str] {
        match self {
            Self::Buildings => &["buildings", "building"],
            Self::Tenants => &["tenants", "tenantcontacts", "contacts", "tenant"],
            Self::Users => &["users", "usermigration", "user", "migration"],
        }
    }
}

/// Limits on what intake accepts.
#[derive(Debug, Clone, Copy)]
pub struct IntakeLimits {
    /// A single cell longer than this is refused (the row gets `value_too_long`).
    pub max_cell_chars: usize,
    /// A workbook larger than this (compressed) is refused before it is opened.
    pub max_excel_bytes: u64,
    /// Any file larger than this is refused; a CSV is checked while it streams, so a huge file
    /// is turned away without being held in memory.
    pub max_file_bytes: u64,
}

/// The default `max_file_bytes`: 200 MB, several million rows of a user export.
pub(crate) const DEFAULT_MAX_FILE_BYTES: u64 = 200 * 1024 * 1024;

impl Default for IntakeLimits {
    fn default() -> Self {
        Self { max_cell_chars: 4096, max_excel_bytes: 64 * 1024 * 1024, max_file_bytes: DEFAULT_MAX_FILE_BYTES }
    }
}

/// The error a [`Limited`] reader gives once the file passes the limit.
#[derive(Debug)]
struct TooLarge(u64);

impl std::fmt::Display for TooLarge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the file is larger than {} bytes", self.0)
    }
}

impl std::error::Error for TooLarge {}

/// A reader that fails with [`TooLarge`] after `limit` bytes.
struct Limited<R> {
    inner: R,
    limit: u64,
    read: u64,
}

impl<R: Read> Read for Limited<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.read > self.limit {
            return Err(std::io::Error::other(TooLarge(self.limit)));
        }
        // Ask for at most one byte past the limit: enough to know it was passed.
        let room = usize::try_from(self.limit - self.read + 1).unwrap_or(usize::MAX).min(buf.len());
        let n = self.inner.read(&mut buf[..room])?;
        self.read += n as u64;
        if self.read > self.limit {
            return Err(std::io::Error::other(TooLarge(self.limit)));
        }
        Ok(n)
    }
}

/// An opened sheet: its header row and the data rows after it.
pub struct Sheet {
    pub headers: Vec<String>,
    pub header_row: u64,
    /// Rows read while looking for the header row that come after it.
    pending: std::collections::VecDeque<RawRow>,
    rows: Rows,
}

enum Rows {
    Csv(csv_rows::CsvRows),
    Excel(excel_rows::ExcelRows),
}

impl Sheet {
    /// Reads the next non-blank row into `row`, reusing its cells' buffers (no allocation per
    /// cell once the buffers have grown: the hot path of a million-row file). `None` at the end.
    pub fn read_into(&mut self, row: &mut RawRow) -> Option<Result<(), FileRejection>> {
        loop {
            match self.pending.pop_front() {
                Some(pending) => *row = pending,
                None => match &mut self.rows {
                    Rows::Csv(rows) => {
                        if let Err(rejection) = rows.read_into(row)? {
                            return Some(Err(rejection));
                        }
                    }
                    Rows::Excel(rows) => match rows.next_row()? {
                        Ok(next) => *row = next,
                        Err(rejection) => return Some(Err(rejection)),
                    },
                },
            }
            if !row.is_blank() {
                return Some(Ok(()));
            }
        }
    }
}

impl Iterator for Sheet {
    type Item = Result<RawRow, FileRejection>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut row = RawRow { number: 0, cells: Vec::new() };
        Some(self.read_into(&mut row)?.map(|()| row))
    }
}

const SNIFF_BYTES: usize = 64 * 1024;
/// How many rows are searched for the header row (exports often put a title above it).
const HEADER_SEARCH_ROWS: usize = 10;

/// Opens a CSV or Excel file for `kind`. `looks_like_header` tells whether a row holds the
/// required columns; the first such row among the first ten is the header, otherwise the first
/// non-blank row is (and the caller reports what is missing from it).
pub fn open_sheet(
    input: impl Read + Send + 'static,
    kind: FileKind,
    limits: IntakeLimits,
    looks_like_header: impl Fn(&[String]) -> bool,
) -> Result<Sheet, FileRejection> {
    let mut input = Limited { inner: input, limit: limits.max_file_bytes, read: 0 };
    let mut prefix = Vec::with_capacity(SNIFF_BYTES);
    (&mut input).take(SNIFF_BYTES as u64).read_to_end(&mut prefix).map_err(|e| unreadable(&e))?;
    if prefix.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(FileRejection::new(
            RejectionCode::EmptyFile,
            "The file is empty. Upload the export again; it should start with a header row.",
        ));
    }
    let mut rows = if excel_rows::is_workbook(&prefix) {
        let mut bytes = prefix;
        input.take(limits.max_excel_bytes.saturating_sub(bytes.len() as u64) + 1).read_to_end(&mut bytes).map_err(|e| unreadable(&e))?;
        if bytes.len() as u64 > limits.max_excel_bytes {
            return Err(FileRejection::new(
                RejectionCode::FileTooLarge,
                format!("The workbook is larger than {} MB. Split it, or save it as CSV.", limits.max_excel_bytes / (1024 * 1024)),
            ));
        }
        Rows::Excel(excel_rows::read_sheet(bytes, kind.sheet_names(), limits)?)
    } else {
        Rows::Csv(csv_rows::CsvRows::open(prefix, input)?)
    };

    let mut seen = std::collections::VecDeque::new();
    let mut header: Option<RawRow> = None;
    while seen.len() < HEADER_SEARCH_ROWS {
        let next = match &mut rows {
            Rows::Csv(csv) => {
                let mut row = RawRow { number: 0, cells: Vec::new() };
                csv.read_into(&mut row).map(|read| read.map(|()| row))
            }
            Rows::Excel(excel) => excel.next_row(),
        };
        let Some(row) = next.transpose()? else { break };
        if row.is_blank() {
            continue;
        }
        if looks_like_header(&row.cells) {
            header = Some(row);
            break;
        }
        seen.push_back(row);
    }
    let (header, pending) = match header {
        Some(header) => (header, std::collections::VecDeque::new()),
        None => {
            let first = seen.pop_front().ok_or_else(|| {
                FileRejection::new(RejectionCode::EmptyFile, "The file has no rows. Upload the export again with its header row.")
            })?;
            (first, seen)
        }
    };
    let headers = header.cells.iter().map(|h| crate::text::single_line(h)).collect();
    Ok(Sheet { headers, header_row: header.number, pending, rows })
}

fn is_too_large(error: &std::io::Error) -> bool {
    error.get_ref().is_some_and(|e| e.is::<TooLarge>())
}

/// A read failure as the user sees it: a file past the size limit, or one that cannot be read.
fn unreadable(error: &std::io::Error) -> FileRejection {
    match error.get_ref().and_then(|e| e.downcast_ref::<TooLarge>()) {
        Some(TooLarge(limit)) => file_too_large(*limit),
        None => FileRejection::new(RejectionCode::UnreadableFile, format!("The file could not be read ({error}). Upload it again.")),
    }
}

fn file_too_large(limit: u64) -> FileRejection {
    FileRejection::new(
        RejectionCode::FileTooLarge,
        format!(
            "The file is larger than the {} MB limit. Split it into several files (or remove columns nobody needs) and upload them one by one.",
            limit.div_ceil(1024 * 1024)
        ),
    )
}

#[cfg(test)]
mod tests;
