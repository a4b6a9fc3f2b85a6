//! `plan.csv` (whose SHA-256 an approval quotes) and `issues.csv`, written as a stream: a plan
//! line goes straight from borrowed strings into the CSV writer and the hash, one reused buffer
//! for the joined lists, nothing kept per row.

#[cfg(test)]
use super::PlanEntry;
use super::PlanLine;
use crate::issue::Issue;
use crate::text::spreadsheet_safe;
use sha2::{Digest, Sha256};
use std::io::Write;

pub(crate) const PLAN_HEADERS: [&str; 12] = [
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

/// Writes `plan.csv` line by line into `sink`, hashing what it writes. The CSV is written here
/// rather than through `csv::Writer`, byte for byte as that writer writes it (comma, CRLF, a
/// field quoted when it holds a comma, a quote, CR or LF, quotes doubled): one buffer per line,
/// no per-field calls, which is most of the cost of a million lines. Lines can also be rendered
/// elsewhere ([`CsvLines`], on the planning threads) and taken here in order ([`PlanCsv::take`]).
pub struct PlanCsv<W: Write> {
    sink: W,
    hasher: Sha256,
    lines: CsvLines,
}

/// Plan lines rendered as CSV, not yet hashed or written: what a planning thread makes of its
/// users, taken by [`PlanCsv::take`] in plan order.
#[derive(Debug, Default)]
pub struct CsvLines {
    bytes: Vec<u8>,
    /// A list cell while it is joined.
    joined: String,
}

impl CsvLines {
    /// Appends one plan line.
    pub fn push(&mut self, line: &PlanLine<'_>) {
        // Row numbers joined with `; ` never need quotes: written straight into the line.
        for (i, row) in line.rows.iter().enumerate() {
            if i > 0 {
                self.bytes.extend_from_slice(b"; ");
            }
            push_number(&mut self.bytes, *row);
        }
        self.bytes.push(b',');
        for value in [line.email, line.first_name, line.last_name, line.action.as_str(), &line.reason] {
            push_field(&mut self.bytes, value);
        }
        self.joined(line.platform_roles.iter().copied());
        self.joined(line.current_roles.iter().copied());
        self.joined(line.added_roles.iter().copied());
        self.joined(line.buildings.iter().map(|b| b.name));
        self.joined(line.added_buildings.iter().map(|b| b.name));
        self.joined(line.buildings.iter().map(|b| b.id.as_str()));
        for extra in line.extras.iter() {
            push_field(&mut self.bytes, extra);
        }
        self.end_row();
    }

    /// The header row: the fixed columns, then the export's extra ones.
    fn push_headers(&mut self, extra_headers: &[String]) {
        for header in PLAN_HEADERS.iter().copied().chain(extra_headers.iter().map(String::as_str)) {
            push_field(&mut self.bytes, header);
        }
        self.end_row();
    }

    fn end_row(&mut self) {
        // Each field was followed by a comma; the last one ends the row instead.
        if self.bytes.last() == Some(&b',') {
            self.bytes.pop();
        }
        self.bytes.extend_from_slice(b"\r\n");
    }

    /// A list cell: the values joined with `; `. Written straight into the line; taken back
    /// out and written as [`push_field`] writes it in the rare case it must be quoted or made
    /// spreadsheet-safe (the separator needs neither).
    fn joined<'v>(&mut self, values: impl IntoIterator<Item = &'v str>) {
        let start = self.bytes.len();
        for (i, value) in values.into_iter().enumerate() {
            if i > 0 {
                self.bytes.extend_from_slice(b"; ");
            }
            self.bytes.extend_from_slice(value.as_bytes());
        }
        let written = &self.bytes[start..];
        if !formula_start(written) && !needs_quotes(written) {
            self.bytes.push(b',');
            return;
        }
        self.joined.clear();
        self.joined.push_str(&String::from_utf8_lossy(written));
        self.bytes.truncate(start);
        push_field(&mut self.bytes, &self.joined);
    }
}

impl<W: Write> PlanCsv<W> {
    /// Starts the file with its header row (the fixed columns, then the export's extra ones).
    pub fn new(sink: W, extra_headers: &[String]) -> std::io::Result<Self> {
        let mut plan = Self { sink, hasher: Sha256::new(), lines: CsvLines::default() };
        plan.lines.bytes.reserve(512);
        plan.lines.push_headers(extra_headers);
        plan.flush_lines()?;
        Ok(plan)
    }

    /// Hashes and writes what `lines` holds, and empties it for reuse.
    fn write_out(sink: &mut W, hasher: &mut Sha256, lines: &mut CsvLines) -> std::io::Result<()> {
        hasher.update(&lines.bytes);
        let written = sink.write_all(&lines.bytes);
        lines.bytes.clear();
        written
    }

    fn flush_lines(&mut self) -> std::io::Result<()> {
        Self::write_out(&mut self.sink, &mut self.hasher, &mut self.lines)
    }

    pub fn line(&mut self, line: &PlanLine<'_>) -> std::io::Result<()> {
        self.lines.push(line);
        self.flush_lines()
    }

    /// Lines rendered elsewhere, next in the file: hashed and written, and `lines` emptied.
    pub fn take(&mut self, lines: &mut CsvLines) -> std::io::Result<()> {
        Self::write_out(&mut self.sink, &mut self.hasher, lines)
    }

    /// What was written so far, for a caller that hands it on in pieces (and clears it).
    pub fn sink_mut(&mut self) -> &mut W {
        &mut self.sink
    }

    /// Flushes and returns the sink and the file's SHA-256 (hex).
    pub fn finish(mut self) -> std::io::Result<(W, String)> {
        self.sink.flush()?;
        Ok((self.sink, hex::encode(self.hasher.finalize())))
    }
}

/// Appends one field and a comma: made spreadsheet-safe, quoted when it must be.
fn push_field(line: &mut Vec<u8>, value: &str) {
    // Most cells start with a letter or digit and hold no comma, quote or line break: they go
    // in as they are (what the general path below would write for them too).
    let bytes = value.as_bytes();
    if !formula_start(bytes) && !needs_quotes(bytes) {
        line.extend_from_slice(bytes);
        line.push(b',');
        return;
    }
    let value = spreadsheet_safe(value);
    let bytes = value.as_bytes();
    if needs_quotes(bytes) {
        line.push(b'"');
        for &b in bytes {
            if b == b'"' {
                line.push(b'"');
            }
            line.push(b);
        }
        line.push(b'"');
    } else {
        line.extend_from_slice(bytes);
    }
    line.push(b',');
}

/// Whether a field starts like a formula (and so may need [`spreadsheet_safe`]).
fn formula_start(bytes: &[u8]) -> bool {
    matches!(bytes.first(), Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r'))
}

/// Whether a field holds a comma, a quote, CR or LF (and so is quoted).
fn needs_quotes(bytes: &[u8]) -> bool {
    bytes.iter().any(|b| matches!(b, b',' | b'"' | b'\r' | b'\n'))
}

/// Decimal digits of `n`, without the formatting machinery.
fn push_number(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

/// Writes `plan.csv` and returns its SHA-256 (hex): the value an approval must quote. For the
/// tests: the flows stream it through [`PlanCsv`].
#[cfg(test)]
pub(crate) fn write_plan_csv<'a, W: Write>(
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

pub(crate) const ISSUE_HEADERS: [&str; 6] = ["Row", "Column", "Code", "Severity", "Value", "What to do"];

/// `issues.csv` in pieces: the header row (when `first`) and the rows of `issues`.
pub fn issues_csv_part(issues: &[Issue], first: bool) -> Vec<u8> {
    crate::sheet::csv_part(
        first.then_some(&ISSUE_HEADERS[..]),
        issues.iter().map(|i| {
            [
                i.row.map(|r| r.to_string()).unwrap_or_default(),
                i.column.as_deref().unwrap_or_default().to_string(),
                i.code.as_str().to_string(),
                match i.severity {
                    crate::issue::Severity::Error => "error".to_string(),
                    crate::issue::Severity::Warning => "warning".to_string(),
                },
                i.value.clone(),
                i.message.to_string(),
            ]
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Cells of every kind a plan line carries, with the bytes that need quoting anywhere in
    /// them.
    fn field() -> impl Strategy<Value = String> {
        prop_oneof![
            "[A-Za-z0-9 ,;\"'=+@\\-\\t\\r\\né中]{0,40}",
            ("[a-z]{0,23}", "[,\"\r\n]", "[a-z ]{0,23}").prop_map(|(a, b, c)| format!("{a}{b}{c}")),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn fields_are_written_as_the_csv_writer_writes_them(fields in prop::collection::vec(field(), 2..6)) {
            let mut lines = CsvLines::default();
            for field in &fields {
                push_field(&mut lines.bytes, field);
            }
            lines.end_row();
            let mut writer = csv::WriterBuilder::new().terminator(csv::Terminator::CRLF).from_writer(Vec::new());
            writer.write_record(fields.iter().map(|f| spreadsheet_safe(f).into_owned())).unwrap();
            let expected = writer.into_inner().unwrap();
            prop_assert_eq!(String::from_utf8_lossy(&lines.bytes), String::from_utf8_lossy(&expected));
        }

        #[test]
        fn a_list_is_written_as_its_joined_text_would_be(values in prop::collection::vec(field(), 0..4)) {
            let mut direct = CsvLines::default();
            direct.joined(values.iter().map(String::as_str));
            let mut expected = Vec::new();
            push_field(&mut expected, &values.join("; "));
            prop_assert_eq!(String::from_utf8_lossy(&direct.bytes), String::from_utf8_lossy(&expected));
        }
    }

    #[test]
    fn row_numbers_are_joined_without_quotes() {
        let mut lines = CsvLines::default();
        let line = PlanLine { rows: std::borrow::Cow::Owned(vec![2, 10, 18_446_744_073_709_551_615]), ..PlanLine::default() };
        lines.push(&line);
        let text = String::from_utf8_lossy(&lines.bytes).into_owned();
        assert!(text.starts_with("2; 10; 18446744073709551615,"), "{text}");
        let empty = PlanLine { rows: std::borrow::Cow::Owned(Vec::new()), ..PlanLine::default() };
        lines.bytes.clear();
        lines.push(&empty);
        assert!(lines.bytes.starts_with(b",,"), "{}", String::from_utf8_lossy(&lines.bytes));
    }
}
