//! Finding a flow's columns among the headers a file actually has.

use super::RawRow;
use crate::domain::issue::FileRejection;
use crate::domain::text::header_key;

/// A column a flow knows: its display label, the other header spellings accepted for it (as
/// header keys: lower case, letters and digits), and whether a file must have it.
#[derive(Debug, Clone, Copy)]
pub struct ColumnSpec {
    pub label: &'static str,
    pub aliases: &'static [&'static str],
    pub required: bool,
}

impl ColumnSpec {
    fn matches(&self, key: &str) -> bool {
        header_key(self.label) == key || self.aliases.contains(&key)
    }
}

/// Where each known column is in a file, plus every other column (kept for the reports).
#[derive(Debug, Clone)]
pub struct ColumnMap {
    positions: Vec<Option<usize>>,
    /// Columns the flow does not know, as (position, header): never dropped.
    pub extras: Vec<(usize, String)>,
}

impl ColumnMap {
    /// True when every required column is among `headers`: used to find the header row.
    pub fn has_required(specs: &[ColumnSpec], headers: &[String]) -> bool {
        let keys: Vec<String> = headers.iter().map(|h| header_key(h)).collect();
        specs.iter().filter(|s| s.required).all(|spec| keys.iter().any(|k| spec.matches(k)))
    }

    pub fn resolve(specs: &[ColumnSpec], headers: &[String]) -> Result<Self, FileRejection> {
        let mut positions: Vec<Option<usize>> = vec![None; specs.len()];
        let mut extras = Vec::new();
        for (index, header) in headers.iter().enumerate() {
            let key = header_key(header);
            match specs.iter().position(|spec| !key.is_empty() && spec.matches(&key)) {
                Some(field) => {
                    if let Some(first) = positions[field] {
                        return Err(FileRejection::new(
                            "duplicate_column",
                            format!(
                                "The file has two columns for “{}”: “{}” (column {}) and “{}” (column {}). Delete or rename one of them and upload the file again.",
                                specs[field].label,
                                crate::domain::text::preview(headers[first].as_str(), 60),
                                column_letter(first),
                                crate::domain::text::preview(header, 60),
                                column_letter(index)
                            ),
                        ));
                    }
                    positions[field] = Some(index);
                }
                None if header.trim().is_empty() => {}
                None => extras.push((index, header.clone())),
            }
        }
        let missing: Vec<&str> = specs
            .iter()
            .zip(&positions)
            .filter(|(spec, position)| spec.required && position.is_none())
            .map(|(spec, _)| spec.label)
            .collect();
        if !missing.is_empty() {
            // A file of thousands of columns gets the first few named, not a page of them.
            let named: Vec<&String> = headers.iter().filter(|h| !h.trim().is_empty()).collect();
            let mut found: Vec<String> = named.iter().take(20).map(|h| format!("“{}”", crate::domain::text::preview(h, 60))).collect();
            if named.len() > 20 {
                found.push(format!("and {} more", named.len() - 20));
            }
            return Err(FileRejection::new(
                "missing_column",
                format!(
                    "The file is missing the required column{} {}. Columns found: {}. Add the column (or rename the matching one) and upload the file again.",
                    if missing.len() > 1 { "s" } else { "" },
                    missing.iter().map(|m| format!("“{m}”")).collect::<Vec<_>>().join(", "),
                    if found.is_empty() { "none".to_string() } else { found.join(", ") }
                ),
            ));
        }
        Ok(Self { positions, extras })
    }

    /// The cell of a known column in a row ("" when the column is absent or the row is short).
    pub fn cell<'a>(&self, row: &'a RawRow, field: usize) -> &'a str {
        self.positions.get(field).copied().flatten().and_then(|index| row.cells.get(index)).map_or("", String::as_str)
    }

    pub fn has(&self, field: usize) -> bool {
        self.positions.get(field).copied().flatten().is_some()
    }

    /// The extra columns' values of a row, in file order.
    pub fn extra_values(&self, row: &RawRow) -> Vec<String> {
        self.extra_cells::<Vec<&str>>(row).into_iter().map(str::to_string).collect()
    }

    /// [`ColumnMap::extra_values`], borrowed from the row, collected into whatever the caller
    /// holds them in.
    pub fn extra_cells<'a, C: FromIterator<&'a str>>(&self, row: &'a RawRow) -> C {
        self.extras.iter().map(|(index, _)| row.cells.get(*index).map_or("", String::as_str)).collect()
    }

    /// How a message names a column by position: `column C`.
    pub fn column_label(index: usize) -> String {
        format!("column {}", column_letter(index))
    }

    pub fn extra_headers(&self) -> Vec<String> {
        self.extras.iter().map(|(_, header)| header.clone()).collect()
    }
}

/// `0` → `A`, `27` → `AB`: how a spreadsheet names a column.
pub fn column_letter(index: usize) -> String {
    let mut n = index + 1;
    let mut letters = Vec::new();
    while n > 0 {
        let rem = (n - 1) % 26;
        letters.push(b'A' + rem as u8);
        n = (n - 1) / 26;
    }
    letters.reverse();
    String::from_utf8(letters).unwrap_or_default()
}
