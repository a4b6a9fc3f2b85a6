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

/// What checking a row will find in its cells, worked out where the row is read (on the
/// reader's thread, beside the merge): which cells are usable as they are, and the status.
/// Checking the row with it ([`user_from_shaped_row`]) takes those cells without looking at
/// them again, so the checks' cost is shared between two cores for a byte a row.
/// [`RowShape::default`] knows nothing: every cell is checked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RowShape(u8);

impl RowShape {
    /// Looked at, and no cell is too long.
    const LOOKED: u8 = 1 << 0;
    /// The e-mail cell is the address as [`Email::normalize`] gives it, byte for byte.
    const EMAIL_AS_IS: u8 = 1 << 1;
    const FIRST_AS_IS: u8 = 1 << 2;
    const LAST_AS_IS: u8 = 1 << 3;
    /// The roles cell is one value, as it is ([`is_one_plain_value`]).
    const ROLES_ONE: u8 = 1 << 4;
    const BUILDINGS_ONE: u8 = 1 << 5;
    const ACTIVE: u8 = 1 << 6;
    const INACTIVE: u8 = 1 << 7;

    fn has(self, flag: u8) -> bool {
        self.0 & flag != 0
    }

    /// The shape of `row`: what [`user_from_row`] would find, cell by cell.
    pub fn of(map: &ColumnMap, row: &RawRow, max_cell_chars: usize) -> Self {
        if too_long(row, max_cell_chars).is_some() {
            return Self::default();
        }
        let mut shape = Self::LOOKED;
        let email = map.cell(row, EMAIL);
        if matches!(Email::normalize(email), Ok(Cow::Borrowed(address)) if address.len() == email.len()) {
            shape |= Self::EMAIL_AS_IS;
        }
        for (column, flag) in [(FIRST, Self::FIRST_AS_IS), (LAST, Self::LAST_AS_IS)] {
            if matches!(single_line_cow(map.cell(row, column)), Cow::Borrowed(_)) {
                shape |= flag;
            }
        }
        for (column, flag) in [(ROLES, Self::ROLES_ONE), (BUILDINGS, Self::BUILDINGS_ONE)] {
            if is_one_plain_value(map.cell(row, column)) {
                shape |= flag;
            }
        }
        shape |= match Status::parse(map.cell(row, STATUS)) {
            Some(Status::Active) => Self::ACTIVE,
            Some(Status::Inactive) => Self::INACTIVE,
            None => 0,
        };
        Self(shape)
    }
}

/// The first cell of `row` longer than `max_cell_chars` characters. A cell of at most that
/// many bytes has at most that many characters: most cells are never counted.
fn too_long(row: &RawRow, max_cell_chars: usize) -> Option<usize> {
    row.cells.iter().position(|c| c.len() > max_cell_chars && c.chars().count() > max_cell_chars)
}

pub fn user_from_row<'a>(map: &ColumnMap, row: &'a RawRow, max_cell_chars: usize) -> RowOutcome<'a> {
    user_from_shaped_row(map, row, max_cell_chars, RowShape::default())
}

/// [`user_from_row`], taking the cells `shape` (the row's [`RowShape::of`]) found usable as they
/// are without checking them again: the same outcome.
pub fn user_from_shaped_row<'a>(map: &ColumnMap, row: &'a RawRow, max_cell_chars: usize, shape: RowShape) -> RowOutcome<'a> {
    let mut issues = Vec::new();
    let at = |issue: Issue, column: usize| issue.at_row(row.number).in_column(USER_COLUMNS[column].label);
    let too_long = if shape.has(RowShape::LOOKED) { None } else { too_long(row, max_cell_chars) };
    if let Some(index) = too_long {
        return RowOutcome::Rejected(vec![Issue::error(
            IssueCode::ValueTooLong,
            format!("A cell in this row is longer than {max_cell_chars} characters; the row was not used. Check the export for a broken column."),
        )
        .at_row(row.number)
        .in_column(crate::intake::ColumnMap::column_label(index))
        .with_value(&row.cells[index])]);
    }
    let raw_email = map.cell(row, EMAIL);
    let email = if shape.has(RowShape::EMAIL_AS_IS) { Ok(Cow::Borrowed(raw_email)) } else { Email::normalize(raw_email) };
    let email = match email {
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
    let name = |column: usize, as_is: u8| {
        let cell = map.cell(row, column);
        if shape.has(as_is) {
            Cow::Borrowed(cell)
        } else {
            single_line_cow(cell)
        }
    };
    let (first_name, last_name) = (name(FIRST, RowShape::FIRST_AS_IS), name(LAST, RowShape::LAST_AS_IS));
    if first_name.is_empty() && last_name.is_empty() {
        issues.push(at(
            Issue::error(IssueCode::MissingName, "The user has no first or last name. Add the name so the invite can greet them."),
            FIRST,
        ));
    }
    let raw_status = map.cell(row, STATUS);
    let status = if shape.has(RowShape::ACTIVE) {
        Some(Status::Active)
    } else if shape.has(RowShape::INACTIVE) {
        Some(Status::Inactive)
    } else {
        Status::parse(raw_status)
    };
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
    let list = |column: usize, one: u8| {
        let cell = map.cell(row, column);
        if shape.has(one) {
            let mut values = Values::new();
            values.push(Cow::Borrowed(cell));
            values
        } else {
            values(cell)
        }
    };
    let (roles, buildings) = (list(ROLES, RowShape::ROLES_ONE), list(BUILDINGS, RowShape::BUILDINGS_ONE));
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
    fn a_plain_rows_shape_lets_every_cell_through_as_it_is() {
        let map = map();
        let plain = row(2, &["ann@x.com", "Ann", "Lee", "Host", "Tower A", "active", "Sales"]);
        let shape = RowShape::of(&map, &plain, 100);
        for flag in [
            RowShape::LOOKED,
            RowShape::EMAIL_AS_IS,
            RowShape::FIRST_AS_IS,
            RowShape::LAST_AS_IS,
            RowShape::ROLES_ONE,
            RowShape::BUILDINGS_ONE,
            RowShape::ACTIVE,
        ] {
            assert!(shape.has(flag), "{flag:#b} missing from {shape:?}");
        }
        let messy = row(3, &[" Ann@X.com", "Ann  ", "Lee", "Host; Admin", "", "gone", "Sales"]);
        let shape = RowShape::of(&map, &messy, 100);
        assert_eq!(shape, RowShape(RowShape::LOOKED | RowShape::LAST_AS_IS), "only the last name is as it is");
        // A cell over the limit: nothing is known, the row is checked (and rejected) as before.
        assert_eq!(RowShape::of(&map, &plain, 3), RowShape::default());
        let (RowOutcome::Rejected(issues), RowOutcome::Rejected(_)) =
            (user_from_shaped_row(&map, &plain, 3, RowShape::of(&map, &plain, 3)), user_from_row(&map, &plain, 3))
        else {
            panic!("a row with a cell over the limit was used");
        };
        assert_eq!(issues[0].code, IssueCode::ValueTooLong);
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
