//! Where merged users live, in bounded memory: a million users are held as compact records in
//! a byte arena of fixed pieces (lengths and numbers as varints, roles, buildings and issue codes as ids of an
//! interned string table) behind an open-addressing index of the addresses, about eighty bytes
//! per user instead of a dozen heap strings. Names, extra cells and the addresses' domains
//! repeat across users (first names, a department, a tenant's domain), so the first
//! [`SHARED_PER_COLUMN`] distinct values of each are kept once in the string table too, and a
//! record holds their id. What a duplicate row does to a user is the
//! merge policy's business (`dedupe.rs`); this file only stores and finds.

use super::encoding::{put_str, put_varint, status_byte, status_of, Cursor, RandomState, Symbols};
use super::merged::MergedView;
use crate::values::Status;
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

/// The merged users of one export: each user's record, back to back in a byte arena, found by
/// address through an open-addressing index.
#[derive(Debug, Default)]
pub(crate) struct UserStore {
    /// Every user's record, back to back in pieces of [`PIECE`] bytes; a merge appends the new
    /// version of a record. A piece never grows: one arena doubling as it filled copied up to
    /// 64 MB at a million users, and the allocator could keep the old copy resident (the plan's
    /// peak varied by 35 MB from run to run).
    arena: Vec<Vec<u8>>,
    /// The record being written, before it goes into the arena.
    record: Vec<u8>,
    /// Where each user's current record starts (its piece in the high half, its offset in the
    /// low), in order of first appearance.
    users: Vec<u64>,
    /// Open addressing over `users`: 0 is empty, otherwise the high half of the address's hash
    /// (so most probes never touch the arena) and the user's index + 1.
    slots: Vec<u64>,
    hasher: RandomState,
    symbols: Symbols,
    /// How many values each text column (the address's domain, first name, last name, extras
    /// in order) has added to the string table.
    shared: Vec<u32>,
}

/// How many distinct values of one column the string table takes: enough for the names and
/// departments that make most of a real export, and a bound on what a column of unique values
/// (an employee number) costs, about 150 kB.
pub(crate) const SHARED_PER_COLUMN: u32 = 2048;

/// Values longer than this are written in the record: they seldom repeat.
const SHARED_MAX_LEN: usize = 48;

/// The size of the arena's pieces (a record longer than this gets a piece of its own).
const PIECE: usize = 1 << 20;

/// Where a new address goes in the index (from [`UserStore::lookup`]).
pub(crate) struct Vacant {
    slot: usize,
    hash: u64,
}

impl UserStore {
    /// The user with `email`, or where a new one goes. Keeps the index at most half full.
    pub fn lookup(&mut self, email: &str) -> Result<usize, Vacant> {
        self.reserve_one();
        let (local, domain) = split(email);
        let hash = self.hash_parts(local, domain);
        self.find(local, domain, hash).map_err(|slot| Vacant { slot, hash })
    }

    /// The hash an address is indexed by (its part before the `@` and its domain, hashed).
    fn hash_of(&self, email: &str) -> u64 {
        let (local, domain) = split(email);
        self.hash_parts(local, domain)
    }

    /// [`UserStore::hash_of`] for an address already split.
    fn hash_parts(&self, local: &str, domain: &str) -> u64 {
        self.hasher.hash_one((local, domain))
    }

    /// Reads the index slots where these addresses' probes will start, one right after
    /// another. At a million users the index is 16 MB and each probe's first slot is a miss
    /// of the processor's caches: asked back to back, the misses overlap, where each
    /// [`UserStore::lookup`] between two rows' checks waited for its own. (A read, not a
    /// prefetch instruction: those need `unsafe`.) `hashes` is a reused buffer.
    pub fn warm<'e>(&self, emails: impl Iterator<Item = &'e str>, hashes: &mut Vec<u64>) {
        hashes.clear();
        hashes.extend(emails.map(|email| self.hash_of(email)));
        let size = self.slots.len();
        if size == 0 {
            return;
        }
        let mut seen = 0;
        for hash in hashes.iter() {
            seen ^= self.slots.get(Self::home(hash >> 32, size)).copied().unwrap_or(0);
        }
        std::hint::black_box(seen);
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
    pub(crate) fn intern(&mut self, value: &str) -> u64 {
        self.symbols.intern(value)
    }

    pub fn name(&self, id: u64) -> &str {
        self.symbols.name(id)
    }

    /// User `user`'s address, as its part before the `@` and its domain.
    #[inline]
    fn email_at(&self, user: usize) -> (&str, &str) {
        let mut cursor = self.cursor(self.users[user]);
        let local = cursor.str();
        (local, self.text(&mut cursor))
    }

    /// The user with the address `local@domain` (whose hash is `hash`), or the free slot where
    /// it would go.
    fn find(&self, local: &str, domain: &str, hash: u64) -> Result<usize, usize> {
        let mask = self.slots.len() - 1;
        let tag = hash >> 32;
        let mut slot = Self::home(tag, self.slots.len());
        loop {
            match self.slots[slot] {
                0 => return Err(slot),
                taken if taken >> 32 == tag => {
                    let user = (taken & 0xffff_ffff) as usize - 1;
                    if self.email_at(user) == (local, domain) {
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

    /// Where the probe for `tag` (the high half of an address's hash) starts in an index of
    /// `size` slots (a power of two, at most 2³²): the tag's own high bits. A slot keeps its
    /// tag, so growing the index moves every entry without reading a record or hashing again.
    fn home(tag: u64, size: usize) -> usize {
        let bits = size.trailing_zeros();
        tag.checked_shr(32u32.saturating_sub(bits)).unwrap_or(0) as usize & (size - 1)
    }

    /// Keeps the table at most half full. The entries are taken over in slot order, which is
    /// nearly the order of their new homes: the new index is written almost front to back.
    fn reserve_one(&mut self) {
        if (self.users.len() + 1) * 2 <= self.slots.len() {
            return;
        }
        let size = (self.slots.len() * 2).max(1024);
        let old = std::mem::replace(&mut self.slots, vec![0; size]);
        let mask = size - 1;
        for entry in old.into_iter().filter(|&entry| entry != 0) {
            let mut slot = Self::home(entry >> 32, size);
            while self.slots[slot] != 0 {
                slot = (slot + 1) & mask;
            }
            self.slots[slot] = entry;
        }
    }

    /// Appends a record; `extras` are either the cells or a record's extras as already encoded.
    fn write(&mut self, record: &Parts<'_>, extras: Extras<'_>) -> u64 {
        self.record.clear();
        let (local, domain) = split(record.email);
        put_str(&mut self.record, local);
        self.put_text(0, domain);
        self.record.push(status_byte(record.status));
        self.put_text(1, record.first_name);
        self.put_text(2, record.last_name);
        let out = &mut self.record;
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
                    self.put_text(3 + at, cell);
                }
            }
            Extras::Encoded(bytes) => self.record.extend_from_slice(bytes),
        }
        let fits = self.arena.last().is_some_and(|piece| piece.capacity() - piece.len() >= self.record.len());
        if !fits {
            self.arena.push(Vec::with_capacity(PIECE.max(self.record.len())));
        }
        let piece = self.arena.len() - 1;
        let Some(last) = self.arena.last_mut() else { return u64::MAX };
        let start = ((piece as u64) << 32) | last.len() as u64;
        last.extend_from_slice(&self.record);
        start
    }

    /// Reads the record at `start` (as [`UserStore::write`] returned it); a position past the
    /// arena reads as empty.
    fn cursor(&self, start: u64) -> Cursor<'_> {
        let piece = self.arena.get((start >> 32) as usize).map_or(&[][..], |piece| piece.as_slice());
        Cursor { bytes: piece, at: (start & 0xffff_ffff) as usize }
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
                put_varint(&mut self.record, id * 2 + 1);
                return;
            }
        }
        put_varint(&mut self.record, value.len() as u64 * 2);
        self.record.extend_from_slice(value.as_bytes());
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

    fn write_record(&mut self, record: &Record) -> u64 {
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
    pub(crate) fn intern_into<'v>(&mut self, into: &mut Vec<u64>, values: impl IntoIterator<Item = &'v str>) {
        into.clear();
        into.extend(values.into_iter().map(|value| self.symbols.intern(value)));
    }

    /// User `user`'s record, decoded and owned (to be merged and stored again).
    pub fn read(&self, user: usize) -> Record {
        let mut cursor = self.cursor(self.users[user]);
        let mut email = String::new();
        joined(&mut email, cursor.str(), self.text(&mut cursor));
        let status = status_of(cursor.byte());
        let first_name = self.text(&mut cursor).to_string();
        let last_name = self.text(&mut cursor).to_string();
        let (rows, blocking, roles, buildings) = (cursor.ids(), cursor.ids(), cursor.ids(), cursor.ids());
        let extras_start = cursor.at;
        let count = cursor.varint();
        for _ in 0..count {
            self.text(&mut cursor);
        }
        let extras = cursor.bytes.get(extras_start..cursor.at).unwrap_or_default().to_vec();
        Record { email, status, first_name, last_name, rows, blocking, roles, buildings, extras }
    }

    pub fn len(&self) -> usize {
        self.users.len()
    }

    /// The arena's size in bytes (every version of every record).
    #[cfg(test)]
    pub(crate) fn arena_bytes(&self) -> usize {
        self.arena.iter().map(Vec::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }

    /// User `index`'s address, written into `into` (its buffer reused).
    pub fn email_into(&self, index: usize, into: &mut String) {
        self.read_email(index, into);
    }

    /// Writes user `index`'s address into `into` and answers the cursor past it (the start of
    /// the rest of the record).
    fn read_email(&self, index: usize, into: &mut String) -> Cursor<'_> {
        let mut cursor = self.cursor(self.users.get(index).copied().unwrap_or(u64::MAX));
        let local = cursor.str();
        joined(into, local, self.text(&mut cursor));
        cursor
    }

    /// User `index` (in order of first appearance), borrowed from the store into `view`,
    /// reusing its lists (planning reads a million users).
    pub fn view_into<'s>(&'s self, index: usize, view: &mut MergedView<'s>) {
        let mut cursor = self.read_email(index, &mut view.email);
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

/// An address as its part before the last `@` and its domain (a normalised address has one
/// `@`; a text without one is all local part, with an empty domain).
fn split(email: &str) -> (&str, &str) {
    // Searched from the end, byte by byte: the domain is a dozen bytes, where the general
    // string search costs a setup of its own on every one of the four calls a row makes.
    match email.bytes().rposition(|b| b == b'@') {
        Some(at) => (&email[..at], &email[at + 1..]),
        None => (email, ""),
    }
}

/// Writes the address [`split`] took apart into `into`, reusing its buffer.
fn joined(into: &mut String, local: &str, domain: &str) {
    into.clear();
    into.push_str(local);
    if !domain.is_empty() {
        into.push('@');
        into.push_str(domain);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warming_reads_the_slots_the_lookups_start_from() {
        let mut store = UserStore::default();
        let emails: Vec<String> = (0..3000).map(|i| format!("user.{i}@tenant{}.example", i % 7)).collect();
        let mut hashes = Vec::new();
        store.warm(emails.iter().map(String::as_str), &mut hashes);
        assert_eq!(hashes.len(), emails.len());
        for (email, hash) in emails.iter().zip(&hashes) {
            // The hash warmed is the one the lookup probes with, so its home slot is the same.
            match store.lookup(email) {
                Err(vacant) => {
                    assert_eq!(vacant.hash, *hash, "{email}");
                    let parts =
                        Parts { email, status: None, first_name: "", last_name: "", rows: &[1], blocking: &[], roles: &[], buildings: &[] };
                    store.insert(vacant, &parts, &[]);
                }
                Ok(_) => panic!("{email} is new"),
            }
        }
        store.warm(emails.iter().map(String::as_str), &mut hashes);
        assert!(emails.iter().enumerate().all(|(at, email)| store.lookup(email).ok() == Some(at)));
    }
}
