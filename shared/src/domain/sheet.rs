//! Writing CSV that is safe to open in a spreadsheet: every cell goes through
//! [`spreadsheet_safe`](crate::text::spreadsheet_safe), so nothing we write can run a formula.

use crate::text::spreadsheet_safe;
use std::io::Write;

pub(crate) struct SafeCsvWriter<W: Write> {
    inner: csv::Writer<W>,
}

impl<W: Write> SafeCsvWriter<W> {
    pub fn new(sink: W) -> Self {
        Self { inner: csv::WriterBuilder::new().terminator(csv::Terminator::CRLF).from_writer(sink) }
    }

    pub fn row<I, S>(&mut self, cells: I) -> std::io::Result<()>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let record: Vec<String> = cells.into_iter().map(|c| spreadsheet_safe(c.as_ref()).into_owned()).collect();
        self.inner.write_record(&record).map_err(std::io::Error::other)
    }

    pub fn finish(self) -> std::io::Result<W> {
        self.inner.into_inner().map_err(|e| std::io::Error::other(e.to_string()))
    }
}

/// Writes a whole table to bytes.
pub(crate) fn csv_bytes<R, S>(headers: &[&str], rows: impl IntoIterator<Item = R>) -> Vec<u8>
where
    R: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    csv_part(Some(headers), rows)
}

/// Part of a CSV file: its header row when `headers` is given, then `rows`.
pub(crate) fn csv_part<R, S>(headers: Option<&[&str]>, rows: impl IntoIterator<Item = R>) -> Vec<u8>
where
    R: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let mut writer = SafeCsvWriter::new(Vec::new());
    // Writing into a Vec cannot fail.
    if let Some(headers) = headers {
        let _ = writer.row(headers.iter());
    }
    for row in rows {
        let _ = writer.row(row);
    }
    writer.finish().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_cells_are_neutralised_and_quoting_is_kept() {
        let bytes = csv_bytes(&["Name", "Note"], [["=HYPERLINK(\"x\")", "a,b"], ["-1", "@x"]]);
        let text = String::from_utf8(bytes).unwrap();
        assert_eq!(text, "Name,Note\r\n\"'=HYPERLINK(\"\"x\"\")\",\"a,b\"\r\n'-1,'@x\r\n");
    }
}
