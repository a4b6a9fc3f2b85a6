//! Rows of a user-migration export: validation and deduplication by e-mail address.

use crate::intake::{ColumnMap, ColumnSpec, NamePart, RawRow, EMAIL_NAMES, FIRST_NAMES, LAST_NAMES};
use crate::issue::{Issue, IssueCode};
use crate::text::{is_one_plain_value, single_line_cow, split_multi};
use crate::values::{Email, EmailError, Status};
use smallvec::SmallVec;
use std::borrow::Cow;

pub(crate) const USER_COLUMNS: &[ColumnSpec] = &[
    ColumnSpec::name("First Name", FIRST_NAMES, NamePart::First),
    ColumnSpec::name("Last Name", LAST_NAMES, NamePart::Last),
    ColumnSpec::new("Email", EMAIL_NAMES, true),
    ColumnSpec::new("Role(s)", &["role", "roles", "user roles", "permission set", "permission sets", "access level", "user type"], true),
    ColumnSpec::new(
        "Building assignments",
        &["building", "buildings", "assigned buildings", "property", "properties", "site", "sites", "location", "locations"],
        true,
    ),
    ColumnSpec::new("Status", &["state", "active", "enabled", "account status", "user status"], true),
];

const FIRST: usize = 0;
const LAST: usize = 1;
const EMAIL: usize = 2;
const ROLES: usize = 3;
const BUILDINGS: usize = 4;
const STATUS: usize = 5;

mod dedupe;
pub mod encoding;
mod merged;
mod store;

/// Where a migration stands: its latest plan waits for approval, an approved plan is being
/// applied, or it was applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MigrationState {
    Planned,
    Applying,
    Applied,
}

impl MigrationState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Planned => "planned",
            Self::Applying => "applying",
            Self::Applied => "applied",
        }
    }
}

#[cfg(test)]
pub(crate) use dedupe::MergedUser;
pub use dedupe::{Deduper, MergedView};

/// One usable row of the export: it has a valid e-mail address. Other problems ride along as
/// issues and put the user on hold in the plan. Borrows from the row it was read from, so a
/// million rows are checked without copying their cells.
#[derive(Debug, Clone, PartialEq)]
pub struct UserRow<'a> {
    pub row: u64,
    /// The address as [`Email::normalize`] gave it: borrowed from the row when it was
    /// already trimmed and lower case.
    pub email: Cow<'a, str>,
    pub first_name: Cow<'a, str>,
    pub last_name: Cow<'a, str>,
    /// Case-insensitively unique, in file order.
    pub roles: Values<'a>,
    pub buildings: Values<'a>,
    /// `None` when the status was not understood (an `unknown_status` issue was raised).
    pub status: Option<Status>,
    pub extras: SmallVec<[&'a str; 4]>,
}

/// The values of a multi-valued cell. Most rows name one or two roles and buildings (and have
/// a few extra columns): held inline, so checking a row allocates nothing for them.
pub(crate) type Values<'a> = SmallVec<[Cow<'a, str>; 2]>;

/// What one row became.
// The usable row is large (its lists are inline) but lives only until the caller hands it to
// the deduper; boxing it would bring back the allocation per row the inline lists avoid.
#[allow(clippy::large_enum_variant)]
pub enum RowOutcome<'a> {
    /// A usable row, with issues found on the way (which put the user on hold when errors).
    Usable(UserRow<'a>, Vec<Issue>),
    /// No usable e-mail address: nothing can be done with the row.
    Rejected(Vec<Issue>),
}

pub fn user_from_row<'a>(map: &ColumnMap, row: &'a RawRow, max_cell_chars: usize) -> RowOutcome<'a> {
    let mut issues = Vec::new();
    let at = |issue: Issue, column: usize| issue.at_row(row.number).in_column(USER_COLUMNS[column].label);
    // A cell of at most `max_cell_chars` bytes has at most that many characters: most cells
    // are never counted.
    if let Some(index) = row.cells.iter().position(|c| c.len() > max_cell_chars && c.chars().count() > max_cell_chars) {
        return RowOutcome::Rejected(vec![Issue::error(
            IssueCode::ValueTooLong,
            format!("A cell in this row is longer than {max_cell_chars} characters; the row was not used. Check the export for a broken column."),
        )
        .at_row(row.number)
        .in_column(crate::intake::ColumnMap::column_label(index))
        .with_value(&row.cells[index])]);
    }
    let raw_email = map.cell(row, EMAIL);
    let email = match Email::normalize(raw_email) {
        Ok(email) => email,
        Err(EmailError::Empty) => {
            return RowOutcome::Rejected(vec![at(
                Issue::error(
                    IssueCode::MissingEmail,
                    "The user has no e-mail address, so they cannot be matched or invited. Add the address and upload again.",
                ),
                EMAIL,
            )]);
        }
        Err(EmailError::Invalid) => {
            return RowOutcome::Rejected(vec![at(
                Issue::error(IssueCode::InvalidEmail, "This is not a valid e-mail address, so the user cannot be matched or invited. Correct it (for example name@company.com)."),
                EMAIL,
            )
            .with_value(raw_email)]);
        }
    };
    let first_name = single_line_cow(map.cell(row, FIRST));
    let last_name = single_line_cow(map.cell(row, LAST));
    if first_name.is_empty() && last_name.is_empty() {
        issues.push(at(
            Issue::error(IssueCode::MissingName, "The user has no first or last name. Add the name so the invite can greet them."),
            FIRST,
        ));
    }
    let raw_status = map.cell(row, STATUS);
    let status = Status::parse(raw_status);
    if status.is_none() {
        issues.push(
            at(
                Issue::error(
                    IssueCode::UnknownStatus,
                    "Status must be active or inactive (enabled/disabled, yes/no, 1/0 also work). The user is on hold until it is fixed.",
                ),
                STATUS,
            )
            .with_value(raw_status),
        );
    }
    let roles = values(map.cell(row, ROLES));
    let buildings = values(map.cell(row, BUILDINGS));
    RowOutcome::Usable(
        UserRow { row: row.number, email, first_name, last_name, roles, buildings, status, extras: map.extra_cells(row) },
        issues,
    )
}

/// The values of a multi-valued cell: split, each made one line, duplicates (by case) dropped.
fn values(cell: &str) -> Values<'_> {
    if is_one_plain_value(cell) {
        let mut one = Values::new();
        one.push(Cow::Borrowed(cell));
        return one;
    }
    unique(split_multi(cell).map(single_line_cow))
}

fn unique<'a>(values: impl Iterator<Item = Cow<'a, str>>) -> Values<'a> {
    let mut out = Values::new();
    for value in values {
        if !out.iter().any(|v| v.eq_ignore_ascii_case(&value)) {
            out.push(value);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map() -> ColumnMap {
        let headers = ["Email Address", "First Name", "Last Name", "Roles", "Buildings", "Status", "Department"];
        ColumnMap::resolve(USER_COLUMNS, &headers.map(String::from)).unwrap()
    }

    fn row(number: u64, cells: &[&str]) -> RawRow {
        RawRow { number, cells: cells.iter().map(|c| c.to_string()).collect() }
    }

    fn usable(outcome: RowOutcome) -> (UserRow, Vec<Issue>) {
        match outcome {
            RowOutcome::Usable(row, issues) => (row, issues),
            RowOutcome::Rejected(issues) => panic!("rejected: {issues:?}"),
        }
    }

    #[test]
    fn rows_are_validated_and_extras_kept() {
        let raw = row(2, &["ADA@example.com", "Ada", "Lovelace", "Host; host|Admin", "One Market", "Enabled", "R&D"]);
        let (user, issues) = usable(user_from_row(&map(), &raw, 4096));
        assert!(issues.is_empty());
        assert_eq!(user.roles[..], ["Host", "Admin"]);
        assert_eq!(user.status, Some(Status::Active));
        assert_eq!(user.extras[..], ["R&D"]);
    }

    #[test]
    fn rows_without_usable_email_are_rejected_and_others_carry_issues() {
        let RowOutcome::Rejected(issues) = user_from_row(&map(), &row(3, &["", "Ada", "L", "Host", "x", "active"]), 4096) else { panic!() };
        assert_eq!(issues[0].code, IssueCode::MissingEmail);
        let RowOutcome::Rejected(issues) = user_from_row(&map(), &row(3, &["ada(at)x.com", "Ada", "L", "Host", "x", "active"]), 4096)
        else {
            panic!()
        };
        assert_eq!((issues[0].code, issues[0].row, issues[0].value.as_str()), (IssueCode::InvalidEmail, Some(3), "ada(at)x.com"));
        let (_, issues) = usable(user_from_row(&map(), &row(4, &["a@x.com", "", "", "Host", "x", "maybe"]), 4096));
        let codes: Vec<_> = issues.iter().map(|i| i.code).collect();
        assert_eq!(codes, [IssueCode::MissingName, IssueCode::UnknownStatus]);
        let RowOutcome::Rejected(issues) = user_from_row(&map(), &row(5, &["a@x.com", &"x".repeat(5000), "", "", "", ""]), 4096) else {
            panic!()
        };
        assert_eq!((issues[0].code, issues[0].column.as_deref()), (IssueCode::ValueTooLong, Some("column B")));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { failure_persistence: None, ..Default::default() })]

        #[test]
        fn the_one_value_shortcut_gives_what_splitting_gives(cell in "[A-Za-z ;|,\t\r\n~é\u{a0}-]{0,24}") {
            let general = unique(split_multi(&cell).map(single_line_cow));
            proptest::prop_assert_eq!(values(&cell), general, "{:?}", cell);
        }
    }

    #[test]
    fn duplicates_merge_roles_and_flag_conflicting_names() {
        let mut dedupe = Deduper::default();
        let rows = [
            row(2, &["ada@x.com", "Ada", "Lovelace", "Host", "One", "active", ""]),
            row(3, &["Ada@X.com", "ada", "lovelace", "Admin; host", "Two", "active", ""]),
            row(4, &["ada@x.com", "Augusta", "King", "", "", "active", ""]),
        ];
        let mut codes = Vec::new();
        for r in &rows {
            let (user, issues) = usable(user_from_row(&map(), r, 4096));
            let (merged, issues) = dedupe.add(user, issues);
            codes.push((merged, issues.iter().map(|i| i.code).collect::<Vec<_>>()));
        }
        assert_eq!(codes[0], (false, vec![]));
        assert_eq!(codes[1], (true, vec![IssueCode::DuplicateMerged]));
        assert_eq!(codes[2], (true, vec![IssueCode::ConflictingDuplicate]));
        let users = dedupe.into_users();
        assert_eq!(users.len(), 1);
        assert_eq!(users[0].roles, ["Host", "Admin"]);
        assert_eq!(users[0].buildings, ["One", "Two"]);
        assert_eq!(users[0].rows, [2, 3, 4]);
        assert_eq!(users[0].blocking, ["conflicting_duplicate"]);
    }
}
