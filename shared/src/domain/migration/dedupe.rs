//! The merge policy: what a second row with the same address does to a user. Roles and
//! buildings are combined, a missing name or status is filled in, a different name or status
//! holds the user (`conflicting_duplicate`). The users themselves are kept in [`UserStore`].
//!
//! An address repeated in many rows (a shared front-desk mailbox) costs time and memory linear
//! in its rows: a merged record keeps only its first row and stays the same size (issue codes
//! once each), so storing it again appends a record of bounded size; the later rows' numbers
//! wait beside it in one list per user.

use super::encoding::RandomState;
#[cfg(test)]
pub(crate) use super::merged::MergedUser;
pub use super::merged::MergedView;
use super::store::{Parts, UserStore};
use super::UserRow;
use crate::issue::{Issue, IssueCode};
use std::collections::HashMap;

/// Merges rows by e-mail address: roles and buildings are unioned, a missing name is filled in,
/// a different name or status is flagged (and holds the user).
#[derive(Debug, Default)]
pub struct Deduper {
    store: UserStore,
    /// The rows after the first of each merged user, by user index.
    later_rows: HashMap<usize, Vec<u64>, RandomState>,
    /// Reused id lists (blocking codes, roles, buildings) for the row being added.
    scratch: [Vec<u64>; 3],
    /// Reused by [`Deduper::warm`].
    hashes: Vec<u64>,
}

impl Deduper {
    /// Brings the index entries of the next rows' addresses into the caches, before those
    /// rows are added one by one (see [`UserStore::warm`]). Only ever a matter of speed.
    pub fn warm<'e>(&mut self, emails: impl Iterator<Item = &'e str>) {
        self.store.warm(emails, &mut self.hashes);
    }

    /// Adds a usable row and its issues; returns whether it was merged into an earlier row's
    /// user, and the issues to report (with any raised by the merge).
    pub fn add(&mut self, row: UserRow<'_>, mut issues: Vec<Issue>) -> (bool, Vec<Issue>) {
        let mut scratch = std::mem::take(&mut self.scratch);
        self.store.intern_into(&mut scratch[0], issues.iter().filter(|i| i.is_error()).map(|i| i.code.as_str()));
        let at = match self.store.lookup(&row.email) {
            Ok(user) => user,
            Err(vacant) => {
                let [blocking, roles, buildings] = &mut scratch;
                self.store.intern_into(roles, row.roles.iter().map(|r| r.as_ref()));
                self.store.intern_into(buildings, row.buildings.iter().map(|b| b.as_ref()));
                let parts = Parts {
                    email: &row.email,
                    status: row.status,
                    first_name: &row.first_name,
                    last_name: &row.last_name,
                    rows: &[row.row],
                    blocking,
                    roles,
                    buildings,
                };
                self.store.insert(vacant, &parts, &row.extras);
                self.scratch = scratch;
                return (false, issues);
            }
        };
        let blocking = std::mem::take(&mut scratch[0]);
        self.scratch = scratch;
        let mut user = self.store.read(at);
        let first_row = user.rows.first().copied().unwrap_or(row.row);
        self.later_rows.entry(at).or_default().push(row.row);
        for code in blocking {
            if !user.blocking.contains(&code) {
                user.blocking.push(code);
            }
        }
        for (into, from) in [(&mut user.roles, &row.roles), (&mut user.buildings, &row.buildings)] {
            for value in from {
                if !into.iter().any(|&id| self.store.name(id).eq_ignore_ascii_case(value)) {
                    into.push(self.store.intern(value));
                }
            }
        }
        let names_differ = |a: &str, b: &str| !a.is_empty() && !b.is_empty() && !a.eq_ignore_ascii_case(b);
        let mut conflicts = Vec::new();
        if names_differ(&user.first_name, &row.first_name) || names_differ(&user.last_name, &row.last_name) {
            conflicts.push(format!(
                "the name differs (row {first_row}: “{} {}”, this row: “{} {}”)",
                user.first_name, user.last_name, row.first_name, row.last_name
            ));
        }
        if user.first_name.is_empty() {
            user.first_name = row.first_name.into_owned();
        }
        if user.last_name.is_empty() {
            user.last_name = row.last_name.into_owned();
        }
        match (user.status, row.status) {
            (Some(a), Some(b)) if a != b => {
                conflicts.push(format!("the status differs from row {first_row}"));
            }
            (None, Some(b)) => user.status = Some(b),
            _ => {}
        }
        let issue = if conflicts.is_empty() {
            Issue::warning(
                IssueCode::DuplicateMerged,
                format!("Same e-mail as row {first_row}; the rows were merged (roles and buildings combined)."),
            )
        } else {
            let conflict = self.store.intern(IssueCode::ConflictingDuplicate.as_str());
            if !user.blocking.contains(&conflict) {
                user.blocking.push(conflict);
            }
            Issue::error(
                IssueCode::ConflictingDuplicate,
                format!(
                    "Same e-mail as row {first_row}, but {}. The user is on hold: correct the rows so they agree.",
                    conflicts.join(" and ")
                ),
            )
        };
        issues.push(issue.at_row(row.row).in_column("Email").with_value(&user.email));
        self.store.replace(at, &user);
        (true, issues)
    }

    pub fn len(&self) -> usize {
        self.store.len()
    }

    pub fn is_empty(&self) -> bool {
        self.store.is_empty()
    }

    /// User `index` (in order of first appearance), borrowed from the store.
    pub fn view(&self, index: usize) -> MergedView<'_> {
        let mut view = MergedView::default();
        self.view_into(index, &mut view);
        view
    }

    pub fn view_into<'s>(&'s self, index: usize, view: &mut MergedView<'s>) {
        self.store.view_into(index, view);
        if let Some(later) = self.later_rows.get(&index) {
            view.rows.extend_from_slice(later);
        }
    }

    /// User `index`'s address alone (what a lookup of existing users needs).
    pub fn email_into(&self, index: usize, into: &mut String) {
        self.store.email_into(index, into);
    }

    pub fn views(&self) -> impl Iterator<Item = MergedView<'_>> {
        (0..self.len()).map(|index| self.view(index))
    }

    #[cfg(test)]
    pub(crate) fn into_users(self) -> Vec<MergedUser> {
        self.views().map(|view| view.to_user()).collect()
    }

    /// The bytes the merged users take (the store's arena and the later rows' lists): what
    /// grows with the rows of a file (for the tests that pin it).
    #[cfg(test)]
    pub(crate) fn footprint(&self) -> usize {
        self.store.arena_bytes() + self.later_rows.values().map(|rows| rows.capacity() * 8 + 48).sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::values::{Email, Status};
    use std::borrow::Cow;

    fn row<'a>(number: u64, email: &str, first: &'a str, roles: &[&'a str], status: Option<Status>, extras: Vec<&'a str>) -> UserRow<'a> {
        UserRow {
            row: number,
            email: Email::normalize(email).unwrap().into_owned().into(),
            first_name: Cow::Borrowed(first),
            last_name: Cow::Borrowed(""),
            roles: roles.iter().map(|r| Cow::Borrowed(*r)).collect(),
            buildings: [Cow::Borrowed("One")].into_iter().collect(),
            status,
            extras: extras.into_iter().collect(),
        }
    }

    #[test]
    fn many_users_stay_findable_as_the_index_grows() {
        let mut dedupe = Deduper::default();
        let emails: Vec<String> = (0..5000).map(|i| format!("user{i}@example.com")).collect();
        for (i, email) in emails.iter().enumerate() {
            let (merged, _) = dedupe.add(row(i as u64 + 2, email, "Ann", &["Host"], Some(Status::Active), vec!["x"]), Vec::new());
            assert!(!merged);
        }
        let (merged, issues) =
            dedupe.add(row(9000, "USER3@example.com", "ann", &["Admin", "host"], Some(Status::Active), vec!["y"]), Vec::new());
        assert!(merged);
        assert_eq!(issues[0].code, IssueCode::DuplicateMerged);
        assert_eq!(issues[0].message, "Same e-mail as row 5; the rows were merged (roles and buildings combined).");
        assert_eq!(dedupe.len(), 5000);
        let user = dedupe.view(3);
        assert_eq!(
            (user.email.as_str(), user.roles.clone(), user.rows.clone(), user.extras.clone()),
            ("user3@example.com", vec!["Host", "Admin"], vec![5, 9000], vec!["x"])
        );
        assert_eq!(dedupe.view(4999).email, "user4999@example.com");
        // Every address is found again after the index grew (1024 slots to 16384).
        for (i, email) in emails.iter().enumerate() {
            let (merged, _) = dedupe.add(row(10_000 + i as u64, email, "Ann", &["Host"], Some(Status::Active), vec!["x"]), Vec::new());
            assert!(merged, "{email} was not found");
        }
        assert_eq!(dedupe.into_users().len(), 5000);
    }

    #[test]
    fn missing_names_and_statuses_are_filled_and_errors_block() {
        let mut dedupe = Deduper::default();
        let unknown = Issue::error(IssueCode::UnknownStatus, "x");
        dedupe.add(row(2, "a@x.com", "", &[], None, vec![]), vec![unknown]);
        let (_, issues) = dedupe.add(row(3, "a@x.com", "Ada", &["Host"], Some(Status::Inactive), vec![]), Vec::new());
        assert_eq!(issues.len(), 1);
        let (_, issues) = dedupe.add(row(4, "a@x.com", "Ada", &[], Some(Status::Active), vec![]), Vec::new());
        assert_eq!(issues[0].code, IssueCode::ConflictingDuplicate);
        assert_eq!(
            issues[0].message,
            "Same e-mail as row 2, but the status differs from row 2. The user is on hold: correct the rows so they agree."
        );
        let users = dedupe.into_users();
        assert_eq!(users[0].first_name, "Ada");
        assert_eq!(users[0].status, Some(Status::Inactive));
        assert_eq!(users[0].blocking, ["unknown_status", "conflicting_duplicate"]);
        assert_eq!(users[0].view().to_user(), users[0]);
    }

    #[test]
    fn repeated_names_and_cells_are_stored_once_and_unique_ones_in_the_record() {
        let footprint = |users: u64, unique: bool| {
            let mut dedupe = Deduper::default();
            let cells: Vec<String> =
                (0..users).map(|i| if unique { format!("E-{i:07}") } else { "Facilities and Maintenance".into() }).collect();
            let names: Vec<String> =
                (0..users).map(|i| if unique { format!("Name-{i:010}") } else { ["Ann", "Bo", "Cy"][i as usize % 3].into() }).collect();
            for i in 0..users {
                let email = if unique { format!("u@{i}.example.com") } else { format!("u{i}@example.com") };
                let mut user = row(i + 2, &email, &names[i as usize], &["Host"], Some(Status::Active), vec![&cells[i as usize], ""]);
                user.last_name = Cow::Borrowed(&names[i as usize]);
                dedupe.add(user, Vec::new());
            }
            for i in (0..users).step_by(997) {
                let user = dedupe.view(i as usize);
                assert_eq!((user.first_name, user.last_name), (names[i as usize].as_str(), names[i as usize].as_str()));
                assert_eq!(user.extras, [cells[i as usize].as_str(), ""]);
            }
            dedupe.footprint() as u64 / users
        };
        let (shared, unique) = (footprint(20_000, false), footprint(20_000, true));
        eprintln!("bytes a user: {shared} with repeated names and cells, {unique} with unique ones");
        // A stored value costs a byte or two where the text costs its length.
        assert!(shared + 25 <= unique, "{shared} bytes a user with repeated values, {unique} with unique ones");
        // One local part at two domains is two people; each address reads back whole.
        let mut dedupe = Deduper::default();
        for (i, email) in ["ann@one.example", "ann@two.example", "ann.one@example.org", "bo@one.example"].iter().enumerate() {
            let (merged, _) = dedupe.add(row(i as u64 + 2, email, "Ann", &["Host"], None, vec![]), Vec::new());
            assert!(!merged, "{email}");
        }
        let (merged, _) = dedupe.add(row(9, "ANN@two.example", "Ann", &["Host"], None, vec![]), Vec::new());
        assert!(merged);
        let emails: Vec<String> = dedupe.views().map(|u| u.email).collect();
        assert_eq!(emails, ["ann@one.example", "ann@two.example", "ann.one@example.org", "bo@one.example"]);
        assert_eq!(dedupe.view(1).rows, [3, 9]);
        // Merging a user rewrites the record with the same shared values.
        let mut dedupe = Deduper::default();
        dedupe.add(row(2, "a@x.com", "Ann", &["Host"], Some(Status::Active), vec!["Facilities", "E-1"]), Vec::new());
        dedupe.add(row(3, "a@x.com", "", &["Admin"], None, vec!["Other", "E-2"]), Vec::new());
        let user = dedupe.view(0);
        assert_eq!((user.first_name, user.roles.clone(), user.extras.clone()), ("Ann", vec!["Host", "Admin"], vec!["Facilities", "E-1"]));
    }

    #[test]
    fn one_address_in_many_rows_grows_linearly() {
        let footprint = |repeats: u64| {
            let mut dedupe = Deduper::default();
            for i in 0..repeats {
                let status = if i % 2 == 0 { Status::Active } else { Status::Inactive };
                dedupe.add(row(i + 2, "frontdesk@example.com", "Desk", &["Host"], Some(status), vec!["x"]), Vec::new());
            }
            let user = dedupe.view(0);
            assert_eq!((dedupe.len(), user.rows.len() as u64, user.rows[0]), (1, repeats, 2));
            assert_eq!(user.blocking, ["conflicting_duplicate"], "each code once");
            dedupe.footprint()
        };
        let (small, large) = (footprint(5_000), footprint(20_000));
        eprintln!("one repeated address: {small} bytes for 5,000 rows, {large} for 20,000");
        // Four times the rows: linear growth is about 4×, quadratic 16×.
        assert!(large <= small * 6, "{small} bytes for 5,000 rows, {large} for 20,000");
    }
}
