//! Where merged users live, in bounded memory: a million users are held as compact records in
//! one byte arena (lengths and numbers as varints, roles, buildings and issue codes as ids of an
//! interned string table) behind an open-addressing index of the addresses, about eighty bytes
//! per user instead of a dozen heap strings. Names and extra cells repeat across users (first
//! names, a department), so the first [`SHARED_PER_COLUMN`] distinct values of each column are
//! kept once in the string table too, and a record holds their id. What a duplicate row does to a user is the
//! merge policy's business (`dedupe.rs`); this file only stores and finds.

use super::encoding::{put_str, put_varint, status_byte, status_of, Cursor, RandomState, Symbols};
use super::merged::MergedView;
use crate::domain::values::Status;
use std::hash::BuildHasher;

/// A record to write, borrowed; lists hold ids from [`UserStore::intern`].
pub struct Parts<'r> {
    pub email: &'r str,
    pub status: Option<Status>,
    pub first_name: &'r str,
    pub last_name: &'r str,
    pub rows: &'r [u64],
    pub blocking: &'r [u64],
    pub roles: &'r [u64],
    pub buildings: &'r [u64],
}

enum Extras<'r> {
    Cells(&'r [&'r str]),
    Encoded(&'r [u8]),
}

/// One user's record, decoded for a merge (owned, so the arena can be written meanwhile).
pub struct Record {
    pub email: String,
    pub status: Option<Status>,
    pub first_name: String,
    pub last_name: String,
    pub rows: Vec<u64>,
    pub blocking: Vec<u64>,
    pub roles: Vec<u64>,
    pub buildings: Vec<u64>,
    /// The extras, still encoded (a merge never changes them).
    extras: Vec<u8>,
}

/// The merged users of one export: each user's record, back to back in one byte arena, found
/// by address through an open-addressing index.
#[derive(Debug, Default)]
pub struct UserStore {
    /// Every user's record, back to back; a merge appends the new version of a record.
    arena: Vec<u8>,
    /// Where each user's current record starts, in order of first appearance.
    users: Vec<usize>,
    /// Open addressing over `users`: 0 is empty, otherwise the high half of the address's hash
    /// (so most probes never touch the arena) and the user's index + 1.
    slots: Vec<u64>,
    hasher: RandomState,
    symbols: Symbols,
    /// How many values each text column (first name, last name, extras in order) has added to
    /// the string table.
    shared: Vec<u32>,
}

/// How many distinct values of one column the string table takes: enough for the names and
/// departments that make most of a real export, and a bound on what a column of unique values
/// (an employee number) costs, about 150 kB.
pub const SHARED_PER_COLUMN: u32 = 2048;

/// Values longer than this are written in the record: they seldom repeat.
const SHARED_MAX_LEN: usize = 48;

/// Where a new address goes in the index (from [`UserStore::lookup`]).
pub struct Vacant {
    slot: usize,
    hash: u64,
}

impl UserStore {
    /// The user with `email`, or where a new one goes. Keeps the index at most half full.
    pub fn lookup(&mut self, email: &str) -> Result<usize, Vacant> {
        self.reserve_one();
        let hash = self.hasher.hash_one(email.as_bytes());
        self.find(email, hash).map_err(|slot| Vacant { slot, hash })
    }

    /// Adds a new user where [`UserStore::lookup`] said it goes.
    pub fn insert(&mut self, at: Vacant, record: &Parts<'_>, extras: &[&str]) {
        let start = self.write(record, Extras::Cells(extras));
        // Users are counted in u32 here: four billion rows are far past any file's size limit.
        self.slots[at.slot] = Self::entry(at.hash, self.users.len());
        self.users.push(start);
    }

    /// Stores a new version of user `user`'s record.
    pub fn replace(&mut self, user: usize, record: &Record) {
        self.users[user] = self.write_record(record);
    }

    /// The id of a string in the store's table.
    pub fn intern(&mut self, value: &str) -> u64 {
        self.symbols.intern(value)
    }

    pub fn name(&self, id: u64) -> &str {
        self.symbols.name(id)
    }

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
        self.put_text(0, record.first_name);
        self.put_text(1, record.last_name);
        let out = &mut self.arena;
        for list in [record.rows, record.blocking, record.roles, record.buildings] {
            put_varint(out, list.len() as u64);
            for &value in list {
                put_varint(out, value);
            }
        }
        match extras {
            Extras::Cells(cells) => {
                put_varint(out, cells.len() as u64);
                for (at, cell) in cells.iter().enumerate() {
                    self.put_text(2 + at, cell);
                }
            }
            Extras::Encoded(bytes) => self.arena.extend_from_slice(bytes),
        }
        start
    }

    /// A text cell of column `column`: `id * 2 + 1` for a value of the string table, or
    /// `len * 2` and the bytes.
    fn put_text(&mut self, column: usize, value: &str) {
        if !value.is_empty() && value.len() <= SHARED_MAX_LEN {
            if self.shared.len() <= column {
                self.shared.resize(column + 1, 0);
            }
            let added = &mut self.shared[column];
            let may_add = *added < SHARED_PER_COLUMN;
            let before = self.symbols.len();
            if let Some(id) = self.symbols.find_or_add(value, may_add) {
                if self.symbols.len() > before {
                    *added += 1;
                }
                put_varint(&mut self.arena, id * 2 + 1);
                return;
            }
        }
        put_varint(&mut self.arena, value.len() as u64 * 2);
        self.arena.extend_from_slice(value.as_bytes());
    }

    /// Reads back what [`UserStore::put_text`] wrote.
    fn text<'s>(&'s self, cursor: &mut Cursor<'s>) -> &'s str {
        let tag = cursor.varint();
        if tag % 2 == 1 {
            return self.symbols.name(tag / 2);
        }
        let start = cursor.at.min(cursor.bytes.len());
        cursor.at = start.saturating_add((tag / 2) as usize).min(cursor.bytes.len());
        std::str::from_utf8(&cursor.bytes[start..cursor.at]).unwrap_or_default()
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
    pub fn intern_into<'v>(&mut self, into: &mut Vec<u64>, values: impl IntoIterator<Item = &'v str>) {
        into.clear();
        into.extend(values.into_iter().map(|value| self.symbols.intern(value)));
    }

    /// User `user`'s record, decoded and owned (to be merged and stored again).
    pub fn read(&self, user: usize) -> Record {
        let mut cursor = Cursor { bytes: &self.arena, at: self.users[user] };
        let email = cursor.str().to_string();
        let status = status_of(cursor.byte());
        let first_name = self.text(&mut cursor).to_string();
        let last_name = self.text(&mut cursor).to_string();
        let (rows, blocking, roles, buildings) = (cursor.ids(), cursor.ids(), cursor.ids(), cursor.ids());
        let extras_start = cursor.at;
        let count = cursor.varint();
        for _ in 0..count {
            self.text(&mut cursor);
        }
        let extras = self.arena.get(extras_start..cursor.at).unwrap_or_default().to_vec();
        Record { email, status, first_name, last_name, rows, blocking, roles, buildings, extras }
    }

    pub fn len(&self) -> usize {
        self.users.len()
    }

    /// The arena's size in bytes (every version of every record).
    pub fn arena_bytes(&self) -> usize {
        self.arena.len()
    }

    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }

    /// User `index` (in order of first appearance), borrowed from the store into `view`,
    /// reusing its lists (planning reads a million users).
    pub fn view_into<'s>(&'s self, index: usize, view: &mut MergedView<'s>) {
        let mut cursor = Cursor { bytes: &self.arena, at: self.users.get(index).copied().unwrap_or(usize::MAX) };
        view.email = cursor.str();
        view.status = status_of(cursor.byte());
        view.first_name = self.text(&mut cursor);
        view.last_name = self.text(&mut cursor);
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
            view.extras.push(self.text(&mut cursor));
        }
    }
}
