//! Finding a flow's columns among the headers a file actually has.

use super::headers::{self, Rule};
use super::RawRow;
use crate::domain::issue::{FileRejection, Issue, IssueCode, RejectionCode};
use crate::domain::text::{capitalised, preview};
use std::borrow::Cow;

/// A column a flow knows: its display label, the other names people give it (natural
/// phrases: "email address", "work email"), whether a file must have it, and whether it is part
/// of a person's name (a full name splits into first and last; first and last join).
#[derive(Debug, Clone, Copy)]
pub struct ColumnSpec {
    pub label: &'static str,
    pub aliases: &'static [&'static str],
    pub required: bool,
    pub name_part: Option<NamePart>,
}

impl ColumnSpec {
    pub const fn new(label: &'static str, aliases: &'static [&'static str], required: bool) -> Self {
        Self { label, aliases, required, name_part: None }
    }

    /// A part of a person's name.
    pub const fn name(label: &'static str, aliases: &'static [&'static str], part: NamePart) -> Self {
        Self { label, aliases, required: true, name_part: Some(part) }
    }
}

/// Which part of a person's name a column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NamePart {
    Full,
    First,
    Last,
}

/// The names of e-mail address columns, in every flow.
pub const EMAIL_NAMES: &[&str] =
    &["mail", "email address", "e-mail address", "work email", "business email", "login", "user email", "contact email"];
/// The names of full-name columns.
pub const FULL_NAMES: &[&str] = &["name", "full name", "display name", "contact name", "employee name", "person name"];
pub const FIRST_NAMES: &[&str] = &["first name", "given name", "forename", "first", "firstname"];
pub const LAST_NAMES: &[&str] = &["last name", "surname", "family name", "last", "lastname"];
pub const PHONE_NAMES: &[&str] = &[
    "phone",
    "mobile",
    "cell",
    "cell phone",
    "mobile phone",
    "mobile number",
    "telephone",
    "work phone",
    "phone number",
    "telephone number",
];

/// How a file's column became one of the flow's fields, when it was not by the field's own
/// label: each is listed in the outputs, so nobody is surprised by what was read.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ColumnReading {
    /// The field's label, e.g. "Email".
    pub field: &'static str,
    /// The file's header(s) it was read from.
    pub headers: Vec<String>,
    /// What was done, in words.
    pub how: String,
}

/// Where a field's value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Missing,
    Column(usize),
    /// One part of a full-name column.
    Split(usize, NamePart),
    /// First and last name columns, joined.
    Joined(usize, usize),
}

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
        let map = Self::assign(specs, headers)?;
        let missing: Vec<&str> = specs
            .iter()
            .zip(&map.sources)
            .filter(|(spec, source)| spec.required && **source == Source::Missing)
            .map(|(spec, _)| spec.label)
            .collect();
        if !missing.is_empty() {
            return Err(missing_columns(&missing, headers));
        }
        Ok(map)
    }

    /// How well `headers` fit `specs`, whether or not every required column is there: the
    /// columns read (a split or joined name counts half a column each, being a guess about the
    /// file's shape), and whether no name was split or joined. `None` when the headers are
    /// ambiguous for these fields.
    pub fn fit(specs: &[ColumnSpec], headers: &[String]) -> Option<(f64, bool)> {
        let map = Self::assign(specs, headers).ok()?;
        let mut score = 0.0;
        let mut plain = true;
        for source in &map.sources {
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
        Some((score, plain))
    }

    /// Matches what it can, leaving fields without a column missing.
    fn assign(specs: &[ColumnSpec], headers: &[String]) -> Result<Self, FileRejection> {
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

/// Refuses a rule's matches when two columns could be one field, or one column two fields.
fn refuse_ambiguity(specs: &[ColumnSpec], headers: &[String], found: &[(usize, usize)]) -> Result<(), FileRejection> {
    let named = |column: usize| format!("“{}” (column {})", preview(&headers[column], 60), column_letter(column));
    for (at, &(field, column)) in found.iter().enumerate() {
        if let Some(&(_, other)) = found[at + 1..].iter().find(|(f, _)| *f == field) {
            return Err(FileRejection::new(
                RejectionCode::DuplicateColumn,
                format!(
                    "The file has two columns that could be “{label}”: {} and {}. Rename the one that is not the {label} (or delete it) and upload the file again.",
                    named(column.min(other)),
                    named(column.max(other)),
                    label = specs[field].label,
                ),
            ));
        }
        if let Some(&(other, _)) = found[at + 1..].iter().find(|(_, c)| *c == column) {
            return Err(FileRejection::new(
                RejectionCode::AmbiguousColumn,
                format!(
                    "The column {} could be “{}” or “{}”. Rename it to the one it holds and upload the file again.",
                    named(column),
                    specs[field.min(other)].label,
                    specs[field.max(other)].label
                ),
            ));
        }
    }
    Ok(())
}

fn reading(field: &'static str, header: &str, column: usize, rule: Rule, leading: &[String], trailing: &[String]) -> ColumnReading {
    let shown = format!("Column “{}” ({})", preview(header, 60), ColumnMap::column_label(column));
    let title = |words: &[String]| words.iter().map(|w| capitalised(w)).collect::<Vec<_>>().join(" ");
    let group =
        [title(leading), title(trailing)].into_iter().filter(|g| !g.is_empty()).map(|g| format!("“{g}”")).collect::<Vec<_>>().join(" and ");
    let how = match rule {
        Rule::Label => format!("{shown} read as {field}."),
        Rule::Synonym => format!("{shown} read as {field} (a name this flow knows for it). If that is wrong, rename the column."),
        Rule::Stripped | Rule::StrippedSynonym => format!(
            "{shown} read as {field}, leaving out {group}, which most of the file's columns share. If that is wrong, rename the column."
        ),
    };
    ColumnReading { field, headers: vec![header.to_string()], how }
}

/// A flow that needs first and last names reads a lone full-name column split; a flow that needs
/// a full name reads first and last name columns joined. Each is reported.
fn name_parts(
    specs: &[ColumnSpec],
    headers: &[String],
    // Each column's key as it is, and without the shared word group.
    [keys, stripped]: [&[String]; 2],
    sources: &mut [Source],
    taken: &mut [bool],
    readings: &mut Vec<ColumnReading>,
) -> Result<(), FileRejection> {
    let free = |names: &[&str], label: &str, taken: &[bool]| -> Result<Option<usize>, FileRejection> {
        let names: Vec<String> = names.iter().flat_map(|n| headers::name_keys(n)).chain(headers::name_keys(label)).collect();
        let named = |c: usize| !keys[c].is_empty() && (names.contains(&keys[c]) || names.contains(&stripped[c]));
        let hits: Vec<usize> = (0..headers.len()).filter(|c| !taken[*c] && named(*c)).collect();
        match hits.as_slice() {
            [] => Ok(None),
            [one] => Ok(Some(*one)),
            [a, b, ..] => Err(FileRejection::new(
                RejectionCode::DuplicateColumn,
                format!(
                    "The file has two columns that could be “{label}”: “{}” (column {}) and “{}” (column {}). Rename the one that is not the {label} (or delete it) and upload the file again.",
                    preview(&headers[*a], 60),
                    column_letter(*a),
                    preview(&headers[*b], 60),
                    column_letter(*b)
                ),
            )),
        }
    };
    let part = |wanted: NamePart| specs.iter().position(|s| s.name_part == Some(wanted));
    if let Some(full) = part(NamePart::Full).filter(|f| sources[*f] == Source::Missing) {
        if let (Some(first), Some(last)) = (free(FIRST_NAMES, "First Name", taken)?, free(LAST_NAMES, "Last Name", taken)?) {
            sources[full] = Source::Joined(first, last);
            taken[first] = true;
            taken[last] = true;
            readings.push(ColumnReading {
                field: specs[full].label,
                headers: vec![headers[first].clone(), headers[last].clone()],
                how: format!(
                    "Columns “{}” ({}) and “{}” ({}) joined as {}.",
                    preview(&headers[first], 60),
                    ColumnMap::column_label(first),
                    preview(&headers[last], 60),
                    ColumnMap::column_label(last),
                    specs[full].label
                ),
            });
        }
    }
    if let (Some(first), Some(last)) = (part(NamePart::First), part(NamePart::Last)) {
        if sources[first] == Source::Missing && sources[last] == Source::Missing {
            if let Some(column) = free(FULL_NAMES, "Full Name", taken)? {
                sources[first] = Source::Split(column, NamePart::First);
                sources[last] = Source::Split(column, NamePart::Last);
                taken[column] = true;
                readings.push(ColumnReading {
                    field: specs[first].label,
                    headers: vec![headers[column].clone()],
                    how: format!(
                        "Column “{}” ({}) split into {} and {}: the last word is the last name (with “van”, “de” … before it), or the part before a comma.",
                        preview(&headers[column], 60),
                        ColumnMap::column_label(column),
                        specs[first].label,
                        specs[last].label
                    ),
                });
            }
        }
    }
    Ok(())
}

fn missing_columns(missing: &[&str], headers: &[String]) -> FileRejection {
    // A file of thousands of columns gets the first few named, not a page of them.
    let named: Vec<&String> = headers.iter().filter(|h| !h.trim().is_empty()).collect();
    let mut found: Vec<String> = named.iter().take(20).map(|h| format!("“{}”", preview(h, 60))).collect();
    if named.len() > 20 {
        found.push(format!("and {} more", named.len() - 20));
    }
    FileRejection::new(
        RejectionCode::MissingColumn,
        format!(
            "The file is missing the required column{} {}. Columns found: {}. Add the column (or rename the matching one) and upload the file again.",
            if missing.len() > 1 { "s" } else { "" },
            missing.iter().map(|m| format!("“{m}”")).collect::<Vec<_>>().join(", "),
            if found.is_empty() { "none".to_string() } else { found.join(", ") }
        ),
    )
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
