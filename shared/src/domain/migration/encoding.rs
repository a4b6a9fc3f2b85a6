//! How a merged user is laid out in the store's byte arena: lengths and numbers as varints,
//! roles, buildings and issue codes as ids of an interned string table, the status as a byte.
//! Written and read back only by `store.rs`; the compact issue log (`domain/issue_log.rs`) uses its varints and cursor too.

use crate::values::Status;
use std::collections::HashMap;

/// The hasher of the address index and the string table: foldhash, several times faster than
/// the standard SipHash on short keys. It is seeded at random, so a file cannot be built to
/// collide (nobody sees the hashes); it is not cryptographic, and need not be.
pub(super) type RandomState = foldhash::fast::RandomState;

/// Interned strings (role names, building references, issue codes): each distinct value once.
#[derive(Debug, Default)]
pub(super) struct Symbols {
    ids: HashMap<Box<str>, u64, RandomState>,
    names: Vec<Box<str>>,
    /// The last few ids interned: most rows repeat the roles and buildings of rows before them,
    /// and comparing a few short strings is cheaper than hashing one.
    recent: [u64; 8],
    next_recent: usize,
}

impl Symbols {
    pub(super) fn intern(&mut self, value: &str) -> u64 {
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

    /// The id of `value` if it is in the table; otherwise adds it when `may_add`. Unlike
    /// [`Symbols::intern`], skips the recent ids: names and other cells rarely repeat the row
    /// before.
    pub(super) fn find_or_add(&mut self, value: &str, may_add: bool) -> Option<u64> {
        if let Some(&id) = self.ids.get(value) {
            return Some(id);
        }
        may_add.then(|| {
            let id = self.names.len() as u64;
            self.names.push(value.into());
            self.ids.insert(value.into(), id);
            id
        })
    }

    pub(super) fn len(&self) -> usize {
        self.names.len()
    }

    pub(super) fn name(&self, id: u64) -> &str {
        self.names.get(id as usize).map_or("", |name| name)
    }
}

pub(crate) fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

pub(super) fn put_str(out: &mut Vec<u8>, value: &str) {
    put_varint(out, value.len() as u64);
    out.extend_from_slice(value.as_bytes());
}

/// Reads a record back. Records are only ever written by this module, from `&str`s, so the
/// text is valid UTF-8 and the lengths are in bounds; a slip reads as empty, never a panic.
pub struct Cursor<'a> {
    pub bytes: &'a [u8],
    pub at: usize,
}

impl<'a> Cursor<'a> {
    #[inline]
    pub(crate) fn varint(&mut self) -> u64 {
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
    pub(super) fn raw(&mut self) -> &'a [u8] {
        let len = self.varint() as usize;
        let start = self.at.min(self.bytes.len());
        self.at = start.saturating_add(len).min(self.bytes.len());
        &self.bytes[start..self.at]
    }

    pub(super) fn str(&mut self) -> &'a str {
        std::str::from_utf8(self.raw()).unwrap_or_default()
    }

    pub fn byte(&mut self) -> u8 {
        let byte = self.bytes.get(self.at).copied().unwrap_or(0);
        self.at += 1;
        byte
    }

    pub(super) fn ids(&mut self) -> Vec<u64> {
        let count = self.varint();
        (0..count).map(|_| self.varint()).collect()
    }
}

pub(super) fn status_byte(status: Option<Status>) -> u8 {
    match status {
        None => 0,
        Some(Status::Active) => 1,
        Some(Status::Inactive) => 2,
    }
}

pub(super) fn status_of(byte: u8) -> Option<Status> {
    match byte {
        1 => Some(Status::Active),
        2 => Some(Status::Inactive),
        _ => None,
    }
}
