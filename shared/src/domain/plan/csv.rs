//! `plan.csv` (whose SHA-256 an approval quotes) and `issues.csv`, written as a stream: a plan
//! line goes straight from borrowed strings into the CSV writer and the hash, one reused buffer
//! for the joined lists, nothing kept per row.

use super::{PlanEntry, PlanLine};
use crate::domain::issue::Issue;
use crate::domain::text::spreadsheet_safe;
use sha2::{Digest, Sha256};
use std::fmt::Write as _;
use std::io::Write;

pub const PLAN_HEADERS: [&str; 12] = [
    "Row(s)",
    "Email",
    "First Name",
    "Last Name",
    "Action",
    "Reason",
    "Platform Roles",
    "Current Roles",
    "Roles To Add",
    "Buildings",
    "Buildings To Add",
    "Building UUIDs",
];

/// Writes `plan.csv` line by line into `sink`, hashing what it writes.
pub struct PlanCsv<W: Write> {
    writer: csv::Writer<HashingWriter<W>>,
    joined: String,
}

impl<W: Write> PlanCsv<W> {
    /// Starts the file with its header row (the fixed columns, then the export's extra ones).
    pub fn new(sink: W, extra_headers: &[String]) -> std::io::Result<Self> {
        let hashing = HashingWriter { inner: sink, hasher: Sha256::new() };
        let mut plan =
            Self { writer: csv::WriterBuilder::new().terminator(csv::Terminator::CRLF).from_writer(hashing), joined: String::new() };
        for header in PLAN_HEADERS.iter().copied().chain(extra_headers.iter().map(String::as_str)) {
            plan.field(header)?;
        }
        plan.end_row()?;
        Ok(plan)
    }

    /// Every cell through [`spreadsheet_safe`], as every CSV we write.
    fn field(&mut self, value: &str) -> std::io::Result<()> {
        self.writer.write_field(spreadsheet_safe(value).as_bytes()).map_err(std::io::Error::other)
    }

    fn end_row(&mut self) -> std::io::Result<()> {
        self.writer.write_record(None::<&[u8]>).map_err(std::io::Error::other)
    }

    /// A list cell: the values joined with `; `.
    fn joined<'v>(&mut self, values: impl IntoIterator<Item = &'v str>) -> std::io::Result<()> {
        let mut joined = std::mem::take(&mut self.joined);
        joined.clear();
        for (i, value) in values.into_iter().enumerate() {
            if i > 0 {
                joined.push_str("; ");
            }
            joined.push_str(value);
        }
        let written = self.field(&joined);
        self.joined = joined;
        written
    }

    pub fn line(&mut self, line: &PlanLine<'_>) -> std::io::Result<()> {
        let mut rows = std::mem::take(&mut self.joined);
        rows.clear();
        for (i, row) in line.rows.iter().enumerate() {
            let _ = write!(rows, "{}{row}", if i > 0 { "; " } else { "" });
        }
        let written = self.field(&rows);
        self.joined = rows;
        written?;
        for value in [line.email, line.first_name, line.last_name, line.action.as_str(), &line.reason] {
            self.field(value)?;
        }
        self.joined(line.platform_roles.iter().copied())?;
        self.joined(line.current_roles.iter().copied())?;
        self.joined(line.added_roles.iter().copied())?;
        self.joined(line.buildings.iter().map(|b| b.name))?;
        self.joined(line.added_buildings.iter().map(|b| b.name))?;
        self.joined(line.buildings.iter().map(|b| b.id.as_str()))?;
        for extra in line.extras.iter() {
            self.field(extra)?;
        }
        self.end_row()
    }

    /// Flushes and returns the sink and the file's SHA-256 (hex).
    pub fn finish(self) -> std::io::Result<(W, String)> {
        let mut hashing = self.writer.into_inner().map_err(|e| std::io::Error::other(e.to_string()))?;
        hashing.inner.flush()?;
        Ok((hashing.inner, hex::encode(hashing.hasher.finalize())))
    }
}

/// Writes `plan.csv` and returns its SHA-256 (hex): the value an approval must quote.
pub fn write_plan_csv<'a, W: Write>(
    sink: W,
    extra_headers: &[String],
    entries: impl IntoIterator<Item = &'a PlanEntry>,
) -> std::io::Result<String> {
    let mut plan = PlanCsv::new(sink, extra_headers)?;
    for entry in entries {
        plan.line(&entry.line())?;
    }
    Ok(plan.finish()?.1)
}

struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

pub const ISSUE_HEADERS: [&str; 6] = ["Row", "Column", "Code", "Severity", "Value", "What to do"];

/// Writes `issues.csv`.
pub fn issues_csv(issues: &[Issue]) -> Vec<u8> {
    crate::domain::sheet::csv_bytes(
        &ISSUE_HEADERS,
        issues.iter().map(|i| {
            [
                i.row.map(|r| r.to_string()).unwrap_or_default(),
                i.column.clone().unwrap_or_default(),
                i.code.as_str().to_string(),
                match i.severity {
                    crate::domain::issue::Severity::Error => "error".to_string(),
                    crate::domain::issue::Severity::Warning => "warning".to_string(),
                },
                i.value.clone(),
                i.message.clone(),
            ]
        }),
    )
}
