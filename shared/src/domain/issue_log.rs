//! The issues of a large file, held compactly: a plan of a million rows can raise a quarter of
//! a million issues, and as [`Issue`]s (about a hundred bytes each, plus a heap string or two)
//! they took about 40 MB, and their sort by row a 12 MB copy. Here each issue is a short byte
//! record (row and lengths as varints, code and severity as bytes), fixed texts (columns and
//! messages the code writes as literals, or one message repeated row after row) are stored once
//! and referred to by id, and sorting moves only the records' offsets.

use super::issue::{Issue, IssueCode, Severity};
use super::migration::encoding::{put_varint, Cursor};
use serde::ser::{Serialize, SerializeSeq, Serializer};
use std::borrow::Cow;
use std::collections::HashMap;

/// Issues in the order they were pushed, or by row once [`IssueLog::sort_by_row`] ran.
#[derive(Default)]
pub struct IssueLog {
    /// Every issue's record, back to back.
    bytes: Vec<u8>,
    /// Where each issue's record starts, in the log's order.
    starts: Vec<usize>,
    /// Texts stored once: literals, and owned texts seen twice in a row.
    texts: Vec<Cow<'static, str>>,
    /// Literals already in `texts`, by address and length.
    literals: HashMap<(usize, usize), u64>,
    columns: Repeats,
    messages: Repeats,
}

/// The counts of [`IssueLog::tally`].
#[derive(Debug, Default, PartialEq, Eq)]
pub struct IssueTally {
    pub by_code: Vec<(IssueCode, u64)>,
    pub errors: u64,
    pub warnings: u64,
}

/// The last owned text of one field, to notice a text repeated from one issue to the next.
#[derive(Default)]
struct Repeats {
    last: String,
    /// The id of `last` in the log's texts, once it was seen twice.
    id: Option<u64>,
}

// The record: a flags byte, the code's index, the row, the column (each when there is one), the
// value, the message. A text field is a varint `id * 2 + 1` for a stored text, or `len * 2` then the bytes.
const WARNING: u8 = 1;
const HAS_COLUMN: u8 = 2;
const HAS_ROW: u8 = 4;

impl IssueLog {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.starts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.starts.is_empty()
    }

    pub fn push(&mut self, issue: Issue) {
        self.starts.push(self.bytes.len());
        let flags = if issue.severity == Severity::Warning { WARNING } else { 0 }
            | if issue.column.is_some() { HAS_COLUMN } else { 0 }
            | if issue.row.is_some() { HAS_ROW } else { 0 };
        self.bytes.push(flags);
        self.bytes.push(code_index(issue.code));
        if let Some(row) = issue.row {
            put_varint(&mut self.bytes, row);
        }
        if let Some(column) = issue.column {
            let stored = self.stored(column, Field::Column);
            self.put_text(stored);
        }
        put_varint(&mut self.bytes, issue.value.len() as u64 * 2);
        self.bytes.extend_from_slice(issue.value.as_bytes());
        let stored = self.stored(issue.message, Field::Message);
        self.put_text(stored);
    }

    /// The issue `index` of the log's order.
    pub fn get(&self, index: usize) -> Option<Issue> {
        self.starts.get(index).map(|&start| self.decode(start))
    }

    pub fn iter(&self) -> impl ExactSizeIterator<Item = Issue> + '_ {
        self.starts.iter().map(|&start| self.decode(start))
    }

    /// Each issue's code and severity, without reading its texts.
    pub fn codes(&self) -> impl Iterator<Item = (IssueCode, Severity)> + '_ {
        self.starts.iter().map(|&start| {
            let mut cursor = Cursor { bytes: &self.bytes, at: start };
            let flags = cursor.byte();
            (code_at(cursor.byte()), severity_of(flags))
        })
    }

    /// How many issues of each code there are (the codes of none left out), in the order of
    /// [`IssueCode::ALL`], and how many errors and warnings, read from the records' code and
    /// flag bytes alone.
    pub fn tally(&self) -> IssueTally {
        let mut by_index = [0u64; IssueCode::ALL.len()];
        let mut tally = IssueTally::default();
        for &start in &self.starts {
            let mut cursor = Cursor { bytes: &self.bytes, at: start };
            let (flags, index) = (cursor.byte(), cursor.byte());
            if let Some(count) = by_index.get_mut(index as usize) {
                *count += 1;
            }
            match severity_of(flags) {
                Severity::Error => tally.errors += 1,
                Severity::Warning => tally.warnings += 1,
            }
        }
        tally.by_code = IssueCode::ALL.iter().copied().zip(by_index).filter(|(_, count)| *count > 0).collect();
        tally
    }

    /// Orders the issues by row (issues of no row first), then by code, keeping the order
    /// they were pushed in otherwise: what issues.csv and the report show.
    pub fn sort_by_row(&mut self) {
        let key = |start: usize| {
            let mut cursor = Cursor { bytes: &self.bytes, at: start };
            let flags = cursor.byte();
            let code = code_at(cursor.byte()).as_str();
            let row = if flags & HAS_ROW != 0 { cursor.varint() } else { 0 };
            (row, code, start)
        };
        // The log is nearly in order already: the intake's issues by row, then the plan's by
        // each user's first row. The stable sort finds those runs and merges them; the unstable
        // one sorted from scratch with three times the instructions (3 % of the plan core's at
        // 100 k rows). The keys are unique (`start` last): the order is the same either way.
        self.starts.sort_by(|&a, &b| key(a).cmp(&key(b)));
    }

    /// The first `count` issues of the log's order.
    pub fn first(&self, count: usize) -> Vec<Issue> {
        self.iter().take(count).collect()
    }

    /// The first `count` errors and the first `count` warnings, in the log's order: what a
    /// notice picks its lines from.
    pub fn first_of_each(&self, count: usize) -> Vec<Issue> {
        let (mut errors, mut warnings) = (0, 0);
        let mut picked = Vec::new();
        for (at, (_, severity)) in self.codes().enumerate() {
            let taken = match severity {
                Severity::Error => &mut errors,
                Severity::Warning => &mut warnings,
            };
            if *taken < count {
                *taken += 1;
                picked.extend(self.get(at));
            }
            if errors >= count && warnings >= count {
                break;
            }
        }
        picked
    }

    pub fn to_vec(&self) -> Vec<Issue> {
        self.iter().collect()
    }

    /// The bytes the log holds (records, offsets and stored texts), for the tests that pin
    /// what a long file costs.
    #[cfg(test)]
    pub(crate) fn footprint(&self) -> usize {
        self.bytes.len() + self.starts.len() * 8 + self.texts.iter().map(|t| t.len() + 24).sum::<usize>()
    }

    /// A text's id if it is stored once for many issues, else the text to write inline.
    fn stored(&mut self, text: Cow<'static, str>, field: Field) -> Result<u64, Cow<'static, str>> {
        let literal = match text {
            Cow::Borrowed(literal) => literal,
            Cow::Owned(owned) => {
                let repeats = match field {
                    Field::Column => &mut self.columns,
                    Field::Message => &mut self.messages,
                };
                if owned != repeats.last {
                    repeats.last.clone_from(&owned);
                    repeats.id = None;
                    return Err(Cow::Owned(owned));
                }
                let id = *repeats.id.get_or_insert_with(|| {
                    self.texts.push(Cow::Owned(owned));
                    self.texts.len() as u64 - 1
                });
                return Ok(id);
            }
        };
        let texts = &mut self.texts;
        Ok(*self.literals.entry((literal.as_ptr() as usize, literal.len())).or_insert_with(|| {
            texts.push(Cow::Borrowed(literal));
            texts.len() as u64 - 1
        }))
    }

    fn put_text(&mut self, text: Result<u64, Cow<'static, str>>) {
        match text {
            Ok(id) => put_varint(&mut self.bytes, id * 2 + 1),
            Err(inline) => {
                put_varint(&mut self.bytes, inline.len() as u64 * 2);
                self.bytes.extend_from_slice(inline.as_bytes());
            }
        }
    }

    fn decode(&self, start: usize) -> Issue {
        let mut cursor = Cursor { bytes: &self.bytes, at: start };
        let flags = cursor.byte();
        let code = code_at(cursor.byte());
        let row = (flags & HAS_ROW != 0).then(|| cursor.varint());
        let column = (flags & HAS_COLUMN != 0).then(|| self.text(&mut cursor));
        let value = self.text(&mut cursor).into_owned();
        let message = self.text(&mut cursor);
        Issue { row, column, code, severity: severity_of(flags), value, message }
    }

    fn text(&self, cursor: &mut Cursor<'_>) -> Cow<'static, str> {
        let tag = cursor.varint();
        if tag % 2 == 1 {
            return self.texts.get((tag / 2) as usize).cloned().unwrap_or_default();
        }
        let len = (tag / 2) as usize;
        let start = cursor.at.min(cursor.bytes.len());
        cursor.at = start.saturating_add(len).min(cursor.bytes.len());
        Cow::Owned(String::from_utf8_lossy(&cursor.bytes[start..cursor.at]).into_owned())
    }
}

#[derive(Clone, Copy)]
enum Field {
    Column,
    Message,
}

impl Extend<Issue> for IssueLog {
    fn extend<T: IntoIterator<Item = Issue>>(&mut self, issues: T) {
        for issue in issues {
            self.push(issue);
        }
    }
}

impl FromIterator<Issue> for IssueLog {
    fn from_iter<T: IntoIterator<Item = Issue>>(issues: T) -> Self {
        let mut log = Self::new();
        log.extend(issues);
        log
    }
}

impl From<Vec<Issue>> for IssueLog {
    fn from(issues: Vec<Issue>) -> Self {
        issues.into_iter().collect()
    }
}

impl std::fmt::Debug for IssueLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// Written as the list of issues it holds, one at a time.
impl Serialize for IssueLog {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.len()))?;
        for issue in self.iter() {
            seq.serialize_element(&issue)?;
        }
        seq.end()
    }
}

fn severity_of(flags: u8) -> Severity {
    if flags & WARNING != 0 {
        Severity::Warning
    } else {
        Severity::Error
    }
}

fn code_index(code: IssueCode) -> u8 {
    IssueCode::ALL.iter().position(|c| *c == code).unwrap_or(0) as u8
}

fn code_at(index: u8) -> IssueCode {
    IssueCode::ALL.get(index as usize).copied().unwrap_or(IssueCode::InvalidValue)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<Issue> {
        let repeated = "This person was already created and invited by migration “m1”.".to_string();
        vec![
            Issue::warning(IssueCode::DuplicateMerged, format!("Same e-mail as row {}; merged.", 3))
                .at_row(9)
                .in_column("Email")
                .with_value("a@x.com"),
            Issue::error(IssueCode::MissingColumn, "The file has no e-mail column."),
            Issue::warning(IssueCode::AlreadyMigrated, repeated.clone()).at_row(4).in_column("Email"),
            Issue::warning(IssueCode::AlreadyMigrated, repeated.clone()).at_row(2).in_column("Email"),
            Issue::warning(IssueCode::AlreadyMigrated, repeated).at_row(7).in_column(String::from("Custom “column”")),
            Issue::error(IssueCode::UnknownBuilding, "“Nowhere” is not a known building.")
                .at_row(4)
                .in_column("Building assignments")
                .with_value("Nowhere"),
            Issue::error(IssueCode::InvalidEmail, "Not an address.").at_row(0).with_value("é😀\u{0}"),
            Issue::error(IssueCode::KeptRejected, String::new()).at_row(u64::MAX),
        ]
    }

    #[test]
    fn every_issue_reads_back_as_it_was_pushed() {
        let issues = sample();
        let log = IssueLog::from(issues.clone());
        assert_eq!(log.len(), issues.len());
        assert_eq!(log.to_vec(), issues);
        assert_eq!(log.codes().collect::<Vec<_>>(), issues.iter().map(|i| (i.code, i.severity)).collect::<Vec<_>>());
        assert_eq!(serde_json::to_value(&log).unwrap(), serde_json::to_value(&issues).unwrap());
    }

    #[test]
    fn the_tally_counts_each_code_and_severity_of_the_issues() {
        let mut issues = sample();
        issues.extend(sample().into_iter().take(2));
        let tally = IssueLog::from(issues.clone()).tally();
        let expected: Vec<(IssueCode, u64)> = IssueCode::ALL
            .iter()
            .map(|code| (*code, issues.iter().filter(|i| i.code == *code).count() as u64))
            .filter(|(_, count)| *count > 0)
            .collect();
        assert!(expected.iter().any(|(_, count)| *count > 1), "the sample repeats a code");
        assert_eq!(tally.by_code, expected);
        let errors = issues.iter().filter(|i| i.severity == Severity::Error).count() as u64;
        assert_eq!((tally.errors, tally.warnings), (errors, issues.len() as u64 - errors));
        assert!(tally.errors > 0 && tally.warnings > 0, "the sample has both");
        assert_eq!(IssueLog::new().tally(), IssueTally::default());
    }

    #[test]
    fn sorting_by_row_matches_a_stable_sort_by_row_and_code() {
        let mut expected = sample();
        expected.extend(sample().into_iter().rev());
        let mut log = IssueLog::from(expected.clone());
        expected.sort_by_key(|i| (i.row.unwrap_or(0), i.code.as_str()));
        log.sort_by_row();
        assert_eq!(log.to_vec(), expected);
        assert_eq!(log.first(2), expected[..2]);
    }

    #[test]
    fn every_code_has_its_own_index() {
        for (index, code) in IssueCode::ALL.iter().enumerate() {
            assert_eq!(code_at(code_index(*code)), *code);
            assert_eq!(code_index(*code) as usize, index);
            assert_eq!(*code as usize, index, "ALL lists the codes in their declaration order");
        }
        // A code declared after the last one would be missing from ALL (and read back wrong).
        assert_eq!(IssueCode::ALL.len(), IssueCode::KeptRejected as usize + 1, "ALL lists every code");
    }

    #[test]
    fn a_notice_gets_the_first_errors_and_warnings() {
        let log = IssueLog::from(sample());
        let picked = log.first_of_each(1);
        assert_eq!(picked.iter().map(|i| i.code).collect::<Vec<_>>(), [IssueCode::DuplicateMerged, IssueCode::MissingColumn]);
    }

    #[test]
    fn repeated_and_literal_texts_are_stored_once() {
        let message = "Same e-mail as an earlier row; the rows were merged (roles and buildings combined).";
        let each = |owned: bool| {
            let mut log = IssueLog::new();
            for row in 0..10_000 {
                let text: Cow<'static, str> = if owned { Cow::Owned(format!("{message} {row}")) } else { Cow::Borrowed(message) };
                log.push(Issue::warning(IssueCode::DuplicateMerged, text).at_row(row).in_column("Email"));
            }
            log.footprint() / 10_000
        };
        let (literal, distinct) = (each(false), each(true));
        assert!(literal <= 20, "{literal} bytes an issue with a literal message");
        assert!(distinct >= message.len(), "{distinct} bytes an issue with its own message");
        let mut log = IssueLog::new();
        for row in 0..10_000 {
            log.push(Issue::warning(IssueCode::AlreadyMigrated, message.to_string()).at_row(row));
        }
        assert!(log.footprint() / 10_000 <= 20, "a repeated owned message is stored once");
        assert!(log.iter().all(|i| i.message == message));
    }
}
