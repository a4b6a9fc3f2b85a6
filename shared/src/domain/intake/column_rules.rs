//! The rules around matching that are not the matching itself: refusing ambiguous columns,
//! wording each reading, splitting or joining names, and naming what is missing.

use super::headers::{self, Rule};
use super::specs::{column_label, column_letter, ColumnReading, ColumnSpec, NamePart, Source, FIRST_NAMES, FULL_NAMES, LAST_NAMES};
use crate::issue::{FileRejection, RejectionCode};
use crate::text::{capitalised, preview};

/// A column as a message names it: `“Work Email” (column C)`.
fn named(headers: &[String], column: usize) -> String {
    format!("“{}” (column {})", preview(&headers[column], 60), column_letter(column))
}

/// Two columns that could both be `label`, refused naming both (in file order).
fn two_columns(label: &str, headers: &[String], a: usize, b: usize) -> FileRejection {
    FileRejection::new(
        RejectionCode::DuplicateColumn,
        format!(
            "The file has two columns that could be “{label}”: {} and {}. Rename the one that is not the {label} (or delete it) and upload the file again.",
            named(headers, a.min(b)),
            named(headers, a.max(b)),
        ),
    )
}

/// Refuses a rule's matches when two columns could be one field, or one column two fields.
pub(super) fn refuse_ambiguity(specs: &[ColumnSpec], headers: &[String], found: &[(usize, usize)]) -> Result<(), FileRejection> {
    for (at, &(field, column)) in found.iter().enumerate() {
        if let Some(&(_, other)) = found[at + 1..].iter().find(|(f, _)| *f == field) {
            return Err(two_columns(specs[field].label, headers, column, other));
        }
        if let Some(&(other, _)) = found[at + 1..].iter().find(|(_, c)| *c == column) {
            return Err(FileRejection::new(
                RejectionCode::AmbiguousColumn,
                format!(
                    "The column {} could be “{}” or “{}”. Rename it to the one it holds and upload the file again.",
                    named(headers, column),
                    specs[field.min(other)].label,
                    specs[field.max(other)].label
                ),
            ));
        }
    }
    Ok(())
}

pub(super) fn reading(
    field: &'static str,
    header: &str,
    column: usize,
    rule: Rule,
    leading: &[String],
    trailing: &[String],
) -> ColumnReading {
    let shown = format!("Column “{}” ({})", preview(header, 60), column_label(column));
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
pub(super) fn name_parts(
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
            [a, b, ..] => Err(two_columns(label, headers, *a, *b)),
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
                    column_label(first),
                    preview(&headers[last], 60),
                    column_label(last),
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
                        column_label(column),
                        specs[first].label,
                        specs[last].label
                    ),
                });
            }
        }
    }
    Ok(())
}

pub(super) fn missing_columns(missing: &[&str], headers: &[String]) -> FileRejection {
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
