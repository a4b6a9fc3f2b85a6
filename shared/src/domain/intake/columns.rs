//! Finding a flow's columns among the headers a file actually has.

use super::column_rules::{missing_columns, name_parts, reading, refuse_ambiguity};
use super::headers::{self, Rule};
use super::specs::{ColumnReading, ColumnSpec, NamePart, Source};
use super::RawRow;
use crate::issue::{FileRejection, Issue, IssueCode, RejectionCode};

use std::borrow::Cow;

/// Where each known column is in a file, plus every other column (kept for the reports).
#[derive(Debug, Clone)]
pub struct ColumnMap {
    sources: Vec<Source>,
    /// Columns the flow does not know, as (position, header): never dropped.
    pub extras: Vec<(usize, String)>,
    readings: Vec<ColumnReading>,
}

impl ColumnMap {
    /// True when every required column is among `headers`: used to find the header row.
    pub fn has_required(specs: &[ColumnSpec], headers: &[String]) -> bool {
        !matches!(Self::resolve(specs, headers), Err(rejection) if rejection.code == RejectionCode::MissingColumn)
    }

    /// Matches the file's headers to the flow's fields, strongest rule first (the label, a
    /// synonym, the label without the shared word group, a synonym without it). Two columns that
    /// could be one field under the same rule are refused, never guessed between.
    pub fn resolve(specs: &[ColumnSpec], headers: &[String]) -> Result<Self, FileRejection> {
        Self::assign(specs, headers)?.complete(specs, headers)
    }

    /// This map when it has every required column of `specs` (the specs it was assigned
    /// for), else the rejection naming what is missing.
    pub fn complete(self, specs: &[ColumnSpec], headers: &[String]) -> Result<Self, FileRejection> {
        let missing: Vec<&str> = specs
            .iter()
            .zip(&self.sources)
            .filter(|(spec, source)| spec.required && **source == Source::Missing)
            .map(|(spec, _)| spec.label)
            .collect();
        if missing.is_empty() {
            Ok(self)
        } else {
            Err(missing_columns(&missing, headers))
        }
    }

    /// How well the file fits the fields this map was assigned for, whether or not every
    /// required column is there: the columns read (a split or joined name counts half a column
    /// each, being a guess about the file's shape), and whether no name was split or joined.
    pub fn fit(&self) -> (f64, bool) {
        let mut score = 0.0;
        let mut plain = true;
        for source in &self.sources {
            match source {
                Source::Missing => {}
                Source::Column(_) => score += 1.0,
                // Both parts of a split name come from one column: half a column in all.
                Source::Split(..) => {
                    score += 0.25;
                    plain = false;
                }
                Source::Joined(..) => {
                    score += 1.0;
                    plain = false;
                }
            }
        }
        (score, plain)
    }

    /// Matches what it can, leaving fields without a column missing ([`ColumnMap::complete`]
    /// checks the required ones). Refuses headers that are ambiguous for these fields.
    pub(crate) fn assign(specs: &[ColumnSpec], headers: &[String]) -> Result<Self, FileRejection> {
        let words: Vec<Vec<String>> = headers.iter().map(|h| headers::words(h)).collect();
        let (leading, trailing) = headers::shared_groups(&words);
        let keys: Vec<String> = words.iter().map(|w| headers::key(w)).collect();
        let stripped: Vec<String> = words.iter().map(|w| headers::key(headers::strip(w, &leading, &trailing))).collect();
        // Each field's names as keys, worked out once (a file may have thousands of columns).
        let names: Vec<(Vec<String>, Vec<String>)> = specs
            .iter()
            .map(|spec| (headers::name_keys(spec.label).to_vec(), spec.aliases.iter().flat_map(|a| headers::name_keys(a)).collect()))
            .collect();
        let rule_of = |field: usize, column: usize| -> Option<Rule> {
            let (key, short) = (&keys[column], &stripped[column]);
            if key.is_empty() {
                return None;
            }
            let (label, aliases) = &names[field];
            [
                (label.contains(key), Rule::Label),
                (aliases.contains(key), Rule::Synonym),
                (short != key && label.contains(short), Rule::Stripped),
                (short != key && aliases.contains(short), Rule::StrippedSynonym),
            ]
            .into_iter()
            .find_map(|(hit, rule)| hit.then_some(rule))
        };
        // The best rule of every (field, column) pair that matches at all.
        let matches: Vec<(usize, usize, Rule)> = (0..specs.len())
            .flat_map(|field| (0..headers.len()).filter_map(move |column| rule_of(field, column).map(|rule| (field, column, rule))))
            .collect();
        let mut sources = vec![Source::Missing; specs.len()];
        let mut taken = vec![false; headers.len()];
        let mut readings = Vec::new();
        for rule in Rule::STRONGEST_FIRST {
            let found: Vec<(usize, usize)> = matches
                .iter()
                .filter(|(field, column, r)| *r == rule && sources[*field] == Source::Missing && !taken[*column])
                .map(|(field, column, _)| (*field, *column))
                .collect();
            refuse_ambiguity(specs, headers, &found)?;
            for (field, column) in found {
                sources[field] = Source::Column(column);
                taken[column] = true;
                if rule != Rule::Label {
                    readings.push(reading(specs[field].label, &headers[column], column, rule, &leading, &trailing));
                }
            }
        }
        name_parts(specs, headers, [&keys, &stripped], &mut sources, &mut taken, &mut readings)?;
        readings.sort_by_key(|r| specs.iter().position(|spec| spec.label == r.field));
        let extras = headers.iter().enumerate().filter(|(c, h)| !taken[*c] && !h.trim().is_empty()).map(|(c, h)| (c, h.clone())).collect();
        Ok(Self { sources, extras, readings })
    }

    /// The columns read by a rule weaker than their label (a synonym, a left-out word group, a
    /// split or joined name), in the order of the flow's fields.
    pub fn readings(&self) -> &[ColumnReading] {
        &self.readings
    }

    /// [`ColumnMap::readings`] in words, for summaries.
    pub fn reading_texts(&self) -> Vec<String> {
        self.readings.iter().map(|r| r.how.clone()).collect()
    }

    /// [`ColumnMap::readings`] as warnings for the issues file and the reports.
    pub fn reading_issues(&self) -> Vec<Issue> {
        self.readings
            .iter()
            .map(|r| Issue::warning(IssueCode::ColumnReadAs, r.how.clone()).in_column(r.headers.join(" + ")).with_value(r.field))
            .collect()
    }

    /// The cell of a known column in a row ("" when the column is absent or the row is short).
    /// A split full name gives its part; a joined field gives its first column (use
    /// [`ColumnMap::text`] for fields that can be joined).
    pub fn cell<'a>(&self, row: &'a RawRow, field: usize) -> &'a str {
        let at = |column: usize| row.cells.get(column).map_or("", String::as_str);
        match self.sources.get(field).copied().unwrap_or(Source::Missing) {
            Source::Missing => "",
            Source::Column(column) | Source::Joined(column, _) => at(column),
            Source::Split(column, part) => {
                let (first, last) = headers::split_full_name(at(column));
                if part == NamePart::Last {
                    last
                } else {
                    first
                }
            }
        }
    }

    /// The value of a field in a row, first and last name joined when the file has them apart.
    pub fn text<'a>(&self, row: &'a RawRow, field: usize) -> Cow<'a, str> {
        match self.sources.get(field).copied().unwrap_or(Source::Missing) {
            Source::Joined(first, last) => {
                let at = |column: usize| row.cells.get(column).map_or("", |c| c.trim());
                Cow::Owned(format!("{} {}", at(first), at(last)).trim().to_string())
            }
            _ => Cow::Borrowed(self.cell(row, field)),
        }
    }

    pub fn has(&self, field: usize) -> bool {
        self.sources.get(field).is_some_and(|source| *source != Source::Missing)
    }

    /// The extra columns' values of a row, in file order.
    #[cfg(test)]
    pub(crate) fn extra_values(&self, row: &RawRow) -> Vec<String> {
        self.extra_cells::<Vec<&str>>(row).into_iter().map(str::to_string).collect()
    }

    /// [`ColumnMap::extra_values`], borrowed from the row, collected into whatever the caller
    /// holds them in.
    pub(crate) fn extra_cells<'a, C: FromIterator<&'a str>>(&self, row: &'a RawRow) -> C {
        self.extras.iter().map(|(index, _)| row.cells.get(*index).map_or("", String::as_str)).collect()
    }

    /// How a message names a column by position: `column C`.
    pub(crate) fn column_label(index: usize) -> String {
        super::specs::column_label(index)
    }

    pub fn extra_headers(&self) -> Vec<String> {
        self.extras.iter().map(|(_, header)| header.clone()).collect()
    }
}
