//! Merging the rows of one address, in bounded memory: a million users are held as compact
//! records in one byte arena (lengths and numbers as varints, roles, buildings and issue codes
//! as ids of an interned string table) behind an open-addressing index of the addresses, about
//! a hundred bytes per user instead of a dozen heap strings.

use super::UserRow;
use crate::domain::issue::{Issue, IssueCode};
use crate::domain::values::{Email, Status};
use std::collections::HashMap;
use std::hash::BuildHasher;

/// The hasher of the address index and the string table: foldhash, several times faster than
/// the standard SipHash on short keys. It is seeded at random, so a file cannot be built to
/// collide (nobody sees the hashes); it is not cryptographic, and need not be.
type RandomState = foldhash::fast::RandomState;

/// A user after merging every row with their address.
#[derive(Debug, Clone, PartialEq)]
pub struct MergedUser {
    pub email: Email,
    pub first_name: String,
    pub last_name: String,
    pub roles: Vec<String>,
    pub buildings: Vec<String>,
    pub status: Option<Status>,
    /// Rows of the file this user came from, first one first.
    pub rows: Vec<u64>,
    pub extras: Vec<String>,
    /// Error issues of the user's rows: any of them puts the user on hold.
    pub blocking: Vec<String>,
}

/// A merged user as the deduper holds it, borrowed (what planning reads).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MergedView<'a> {
    /// The normalised address (as [`Email::as_str`] gives it).
    pub email: &'a str,
    pub first_name: &'a str,
    pub last_name: &'a str,
    pub roles: Vec<&'a str>,
    pub buildings: Vec<&'a str>,
    pub status: Option<Status>,
    pub rows: Vec<u64>,
    pub extras: Vec<&'a str>,
    pub blocking: Vec<&'a str>,
}

impl MergedUser {
    pub fn view(&self) -> MergedView<'_> {
        fn strs(values: &[String]) -> Vec<&str> {
            values.iter().map(String::as_str).collect()
        }
        MergedView {
            email: self.email.as_str(),
            first_name: &self.first_name,
            last_name: &self.last_name,
            roles: strs(&self.roles),
            buildings: strs(&self.buildings),
            status: self.status,
            rows: self.rows.clone(),
            extras: strs(&self.extras),
            blocking: strs(&self.blocking),
        }
    }
}

impl MergedView<'_> {
    pub fn to_user(&self) -> MergedUser {
        let strings = |values: &[&str]| values.iter().map(|v| v.to_string()).collect::<Vec<_>>();
        MergedUser {
            email: Email::from_normalized(self.email.to_string()),
            first_name: self.first_name.to_string(),
            last_name: self.last_name.to_string(),
            roles: strings(&self.roles),
            buildings: strings(&self.buildings),
            status: self.status,
            rows: self.rows.clone(),
            extras: strings(&self.extras),
            blocking: strings(&self.blocking),
        }
    }
}

/// Interned strings (role names, building references, issue codes): each distinct value once.
#[derive(Debug, Default)]
struct Symbols {
    ids: HashMap<Box<str>, u64, RandomState>,
    names: Vec<Box<str>>,
    /// The last few ids interned: most rows repeat the roles and buildings of rows before them,
    /// and comparing a few short strings is cheaper than hashing one.
    recent: [u64; 8],
    next_recent: usize,
}

impl Symbols {
    fn intern(&mut self, value: &str) -> u64 {
        for &id in &self.recent {
            if self.names.get(id as usize).is_some_and(|name| **name == *value) {
                return id;
            }
        }
        let id = match self.ids.get(value) {
            Some(&id) => id,
            None => {
                let id = self.names.len() as u64;
                self.names.push(value.into());
                self.ids.insert(value.into(), id);
                id
            }
        };
        self.recent[self.next_recent] = id;
        self.next_recent = (self.next_recent + 1) % self.recent.len();
        id
    }

    fn name(&self, id: u64) -> &str {
        self.names.get(id as usize).map_or("", |name| name)
    }
}

fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn put_str(out: &mut Vec<u8>, value: &str) {
    put_varint(out, value.len() as u64);
    out.extend_from_slice(value.as_bytes());
}

/// Reads a record back. Records are only ever written by this module, from `&str`s, so the
/// text is valid UTF-8 and the lengths are in bounds; a slip reads as empty, never a panic.
struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    #[inline]
    fn varint(&mut self) -> u64 {
        let mut value = 0u64;
        let mut shift = 0;
        while let Some(&byte) = self.bytes.get(self.at) {
            self.at += 1;
            value |= u64::from(byte & 0x7f) << shift.min(63);
            shift += 7;
            if byte < 0x80 {
                break;
            }
        }
        value
    }

    #[inline]
    fn raw(&mut self) -> &'a [u8] {
        let len = self.varint() as usize;
        let start = self.at.min(self.bytes.len());
        self.at = start.saturating_add(len).min(self.bytes.len());
        &self.bytes[start..self.at]
    }

    fn str(&mut self) -> &'a str {
        std::str::from_utf8(self.raw()).unwrap_or_default()
    }

    fn byte(&mut self) -> u8 {
        let byte = self.bytes.get(self.at).copied().unwrap_or(0);
        self.at += 1;
        byte
    }

    fn ids(&mut self) -> Vec<u64> {
        let count = self.varint();
        (0..count).map(|_| self.varint()).collect()
    }
}

fn status_byte(status: Option<Status>) -> u8 {
    match status {
        None => 0,
        Some(Status::Active) => 1,
        Some(Status::Inactive) => 2,
    }
}

fn status_of(byte: u8) -> Option<Status> {
    match byte {
        1 => Some(Status::Active),
        2 => Some(Status::Inactive),
        _ => None,
    }
}

/// A record to write, borrowed.
struct Parts<'r> {
    email: &'r str,
    status: Option<Status>,
    first_name: &'r str,
    last_name: &'r str,
    rows: &'r [u64],
    blocking: &'r [u64],
    roles: &'r [u64],
    buildings: &'r [u64],
}

enum Extras<'r> {
    Cells(&'r [&'r str]),
    Encoded(&'r [u8]),
}

/// One user's record, decoded for a merge (owned, so the arena can be written meanwhile).
struct Record {
    email: String,
    status: Option<Status>,
    first_name: String,
    last_name: String,
    rows: Vec<u64>,
    blocking: Vec<u64>,
    roles: Vec<u64>,
    buildings: Vec<u64>,
    /// The extras, still encoded (a merge never changes them).
    extras: Vec<u8>,
}

/// Merges rows by e-mail address: roles and buildings are unioned, a missing name is filled in,
/// a different name or status is flagged (and holds the user).
#[derive(Debug, Default)]
pub struct Deduper {
    /// Every user's record, back to back; a merge appends the new version of a record.
    arena: Vec<u8>,
    /// Where each user's current record starts, in order of first appearance.
    users: Vec<usize>,
    /// Open addressing over `users`: 0 is empty, otherwise the high half of the address's hash
    /// (so most probes never touch the arena) and the user's index + 1.
    slots: Vec<u64>,
    hasher: RandomState,
    symbols: Symbols,
    /// Reused id lists (blocking codes, roles, buildings) for the row being added.
    scratch: [Vec<u64>; 3],
}

impl Deduper {
    #[inline]
    fn email_at(&self, user: usize) -> &[u8] {
        Cursor { bytes: &self.arena, at: self.users[user] }.raw()
    }

    /// The user with `email` (whose hash is `hash`), or the free slot where it would go.
    fn find(&self, email: &str, hash: u64) -> Result<usize, usize> {
        let mask = self.slots.len() - 1;
        let tag = hash >> 32;
        let mut slot = (hash as usize) & mask;
        loop {
            match self.slots[slot] {
                0 => return Err(slot),
                taken if taken >> 32 == tag => {
                    let user = (taken & 0xffff_ffff) as usize - 1;
                    if self.email_at(user) == email.as_bytes() {
                        return Ok(user);
                    }
                }
                _ => {}
            }
            slot = (slot + 1) & mask;
        }
    }

    fn entry(hash: u64, user: usize) -> u64 {
        (hash >> 32 << 32) | (user as u64 + 1)
    }

    /// Keeps the table at most half full.
    fn reserve_one(&mut self) {
        if (self.users.len() + 1) * 2 <= self.slots.len() {
            return;
        }
        let size = (self.slots.len() * 2).max(1024);
        self.slots = vec![0; size];
        for user in 0..self.users.len() {
            let hash = self.hasher.hash_one(self.email_at(user));
            let email = std::str::from_utf8(self.email_at(user)).unwrap_or_default();
            if let Err(slot) = self.find(email, hash) {
                self.slots[slot] = Self::entry(hash, user);
            }
        }
    }

    /// Appends a record; `extras` are either the cells or a record's extras as already encoded.
    fn write(&mut self, record: &Parts<'_>, extras: Extras<'_>) -> usize {
        let start = self.arena.len();
        let out = &mut self.arena;
        put_str(out, record.email);
        out.push(status_byte(record.status));
        put_str(out, record.first_name);
        put_str(out, record.last_name);
        for list in [record.rows, record.blocking, record.roles, record.buildings] {
            put_varint(out, list.len() as u64);
            for &value in list {
                put_varint(out, value);
            }
        }
        match extras {
            Extras::Cells(cells) => {
                put_varint(out, cells.len() as u64);
                for cell in cells {
                    put_str(out, cell);
                }
            }
            Extras::Encoded(bytes) => out.extend_from_slice(bytes),
        }
        start
    }

    fn write_record(&mut self, record: &Record) -> usize {
        let parts = Parts {
            email: &record.email,
            status: record.status,
            first_name: &record.first_name,
            last_name: &record.last_name,
            rows: &record.rows,
            blocking: &record.blocking,
            roles: &record.roles,
            buildings: &record.buildings,
        };
        self.write(&parts, Extras::Encoded(&record.extras))
    }

    /// Interns `values` into a reused buffer.
    fn intern_into<'v>(&mut self, into: &mut Vec<u64>, values: impl IntoIterator<Item = &'v str>) {
        into.clear();
        into.extend(values.into_iter().map(|value| self.symbols.intern(value)));
    }

    fn read(&self, user: usize) -> Record {
        let mut cursor = Cursor { bytes: &self.arena, at: self.users[user] };
        let email = cursor.str().to_string();
        let status = status_of(cursor.byte());
        let first_name = cursor.str().to_string();
        let last_name = cursor.str().to_string();
        let (rows, blocking, roles, buildings) = (cursor.ids(), cursor.ids(), cursor.ids(), cursor.ids());
        let extras_start = cursor.at;
        let count = cursor.varint();
        for _ in 0..count {
            cursor.raw();
        }
        let extras = self.arena.get(extras_start..cursor.at).unwrap_or_default().to_vec();
        Record { email, status, first_name, last_name, rows, blocking, roles, buildings, extras }
    }

    /// Adds a usable row and its issues; returns whether it was merged into an earlier row's
    /// user, and the issues to report (with any raised by the merge).
    pub fn add(&mut self, row: UserRow<'_>, mut issues: Vec<Issue>) -> (bool, Vec<Issue>) {
        let mut scratch = std::mem::take(&mut self.scratch);
        self.intern_into(&mut scratch[0], issues.iter().filter(|i| i.is_error()).map(|i| i.code.as_str()));
        self.reserve_one();
        let hash = self.hasher.hash_one(row.email.as_str().as_bytes());
        let at = match self.find(row.email.as_str(), hash) {
            Ok(user) => user,
            Err(slot) => {
                let [blocking, roles, buildings] = &mut scratch;
                self.intern_into(roles, row.roles.iter().map(|r| r.as_ref()));
                self.intern_into(buildings, row.buildings.iter().map(|b| b.as_ref()));
                let parts = Parts {
                    email: row.email.as_str(),
                    status: row.status,
                    first_name: &row.first_name,
                    last_name: &row.last_name,
                    rows: &[row.row],
                    blocking,
                    roles,
                    buildings,
                };
                let start = self.write(&parts, Extras::Cells(&row.extras));
                // Users are counted in u32 here: four billion rows are far past any file's size limit.
                self.slots[slot] = Self::entry(hash, self.users.len());
                self.users.push(start);
                self.scratch = scratch;
                return (false, issues);
            }
        };
        let blocking = std::mem::take(&mut scratch[0]);
        self.scratch = scratch;
        let mut user = self.read(at);
        let first_row = user.rows[0];
        user.rows.push(row.row);
        user.blocking.extend(blocking);
        for (into, from) in [(&mut user.roles, &row.roles), (&mut user.buildings, &row.buildings)] {
            for value in from {
                if !into.iter().any(|&id| self.symbols.name(id).eq_ignore_ascii_case(value)) {
                    into.push(self.symbols.intern(value));
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
            user.blocking.push(self.symbols.intern(IssueCode::ConflictingDuplicate.as_str()));
            Issue::error(
                IssueCode::ConflictingDuplicate,
                format!(
                    "Same e-mail as row {first_row}, but {}. The user is on hold: correct the rows so they agree.",
                    conflicts.join(" and ")
                ),
            )
        };
        issues.push(issue.at_row(row.row).in_column("Email").with_value(&user.email));
        self.users[at] = self.write_record(&user);
        (true, issues)
    }

    pub fn len(&self) -> usize {
        self.users.len()
    }

    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }

    /// User `index` (in order of first appearance), borrowed from the store.
    pub fn view(&self, index: usize) -> MergedView<'_> {
        let mut view = MergedView::default();
        self.view_into(index, &mut view);
        view
    }

    /// [`Deduper::view`] into `view`, reusing its lists (planning reads a million users).
    pub fn view_into<'s>(&'s self, index: usize, view: &mut MergedView<'s>) {
        let mut cursor = Cursor { bytes: &self.arena, at: self.users.get(index).copied().unwrap_or(usize::MAX) };
        view.email = cursor.str();
        view.status = status_of(cursor.byte());
        view.first_name = cursor.str();
        view.last_name = cursor.str();
        view.rows.clear();
        for _ in 0..cursor.varint() {
            view.rows.push(cursor.varint());
        }
        for names in [&mut view.blocking, &mut view.roles, &mut view.buildings] {
            names.clear();
            for _ in 0..cursor.varint() {
                names.push(self.symbols.name(cursor.varint()));
            }
        }
        view.extras.clear();
        for _ in 0..cursor.varint() {
            view.extras.push(cursor.str());
        }
    }

    /// Every user, in order of first appearance.
    pub fn views(&self) -> impl Iterator<Item = MergedView<'_>> {
        (0..self.users.len()).map(|index| self.view(index))
    }

    pub fn into_users(self) -> Vec<MergedUser> {
        self.views().map(|view| view.to_user()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;

    fn row<'a>(number: u64, email: &str, first: &'a str, roles: &[&'a str], status: Option<Status>, extras: Vec<&'a str>) -> UserRow<'a> {
        UserRow {
            row: number,
            email: Email::parse(email).unwrap(),
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
            (user.email, user.roles.clone(), user.rows.clone(), user.extras.clone()),
            ("user3@example.com", vec!["Host", "Admin"], vec![5, 9000], vec!["x"])
        );
        assert_eq!(dedupe.view(4999).email, "user4999@example.com");
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
}
