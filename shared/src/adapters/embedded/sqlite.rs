//! SQLite standing in for the DynamoDB table. One connection behind a mutex; every multi-row
//! write is one transaction, so a crash leaves all of it or none of it.

use crate::ports::*;
use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension};
use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use time::OffsetDateTime;

const SCHEMA: &str = "
PRAGMA journal_mode = WAL;
PRAGMA synchronous = NORMAL;
PRAGMA mmap_size = 268435456;
CREATE TABLE IF NOT EXISTS events (key TEXT PRIMARY KEY, status TEXT NOT NULL, claimed_at INTEGER NOT NULL, outcome TEXT);
CREATE TABLE IF NOT EXISTS buildings (id TEXT PRIMARY KEY, data TEXT NOT NULL, phase TEXT NOT NULL, phase_changed_at TEXT NOT NULL, kickstart_message_id TEXT);
CREATE TABLE IF NOT EXISTS contacts (building TEXT NOT NULL, email TEXT NOT NULL, full_name TEXT NOT NULL, phone TEXT, granted_at TEXT, PRIMARY KEY (building, email));
CREATE TABLE IF NOT EXISTS users (email TEXT PRIMARY KEY, first_name TEXT NOT NULL, last_name TEXT NOT NULL, roles TEXT NOT NULL, buildings TEXT NOT NULL, migration TEXT);
CREATE TABLE IF NOT EXISTS migrations (id TEXT PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS apply_parts (run TEXT NOT NULL, part INTEGER NOT NULL, data TEXT NOT NULL, PRIMARY KEY (run, part));
CREATE TABLE IF NOT EXISTS invites (migration TEXT NOT NULL, email TEXT NOT NULL, status TEXT NOT NULL, due TEXT NOT NULL, data TEXT NOT NULL, PRIMARY KEY (migration, email));
DROP INDEX IF EXISTS invites_due;
CREATE INDEX IF NOT EXISTS invites_due_in_order ON invites (status, due, migration, email);
CREATE TABLE IF NOT EXISTS platform_users (email TEXT PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS mail_ledger (key TEXT PRIMARY KEY, status TEXT NOT NULL, message_id TEXT, updated_at TEXT NOT NULL, detail TEXT);
CREATE TABLE IF NOT EXISTS parked_mail (key TEXT PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS deliveries (message_id TEXT PRIMARY KEY, rank INTEGER NOT NULL, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS suppressions (email TEXT PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS delivery_tally (id INTEGER PRIMARY KEY CHECK (id = 1), delivered INTEGER NOT NULL, bounced INTEGER NOT NULL, complained INTEGER NOT NULL);
";

pub struct SqliteTable {
    connection: Mutex<Connection>,
    /// The addresses the users table holds, for answering "no such user" without a B-tree
    /// search (most addresses of a migration are new). Locked only while `connection` is.
    known: Mutex<Option<KnownUsers>>,
    /// How many invites an invite page holds ([`crate::ports::INVITES_PER_PAGE`]; tests use
    /// fewer, to go over several pages with a few invites).
    invite_page: usize,
}

/// Where each address of `users` is, by its hash, as of a `PRAGMA data_version`: that number
/// changes when another connection commits, so a stale map is noticed and read again; this
/// connection's own inserts are added as they are made. A hash that is absent means "no such
/// user" without a B-tree search (most addresses of a migration are new); a present one gives
/// the row's `rowid`, one search of the table instead of its address index and then the table
/// (the row's address is compared, so a collision or a moved row only costs a second query).
/// It also keeps the role and building lists it has read, parsed: a few lists repeat across
/// thousands of users.
struct KnownUsers {
    version: i64,
    /// By the high half of each address's hash, its `rowid` (or [`ASK_BY_ADDRESS`]): eight
    /// bytes an address, as the set of hashes it replaced (a million users' map is 9 MB;
    /// 64-bit hashes with 64-bit rowids took twice that, and more while growing).
    rows: std::collections::HashMap<u32, u32, foldhash::fast::RandomState>,
    // foldhash, seeded at random: every address of a million-row plan is hashed here, and
    // SipHash was an eighth of the lookups' time.
    hasher: foldhash::fast::RandomState,
    roles: ParsedLists<String>,
    buildings: ParsedLists<crate::domain::values::BuildingId>,
}

/// Where a hashed address is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Known {
    /// Not in `users`.
    Absent,
    /// In `users`, at this `rowid` (unless the hash collided: the address is compared).
    At(i64),
    /// Maybe in `users`: ask by address (a hash several addresses share, a `rowid` past
    /// 32 bits, or an address this connection inserted).
    Ask,
}

/// "Ask by address": no `rowid` is kept for this hash.
const ASK_BY_ADDRESS: u32 = u32::MAX;

impl KnownUsers {
    fn key(&self, email: &str) -> u32 {
        (std::hash::BuildHasher::hash_one(&self.hasher, email) >> 32) as u32
    }

    fn read(conn: &Connection, version: i64) -> PortResult<Self> {
        let mut known = Self {
            version,
            rows: Default::default(),
            hasher: Default::default(),
            roles: ParsedLists::default(),
            buildings: ParsedLists::default(),
        };
        let mut stmt = conn.prepare("SELECT rowid, email FROM users").map_err(db)?;
        let mut rows = stmt.query([]).map_err(db)?;
        while let Some(row) = rows.next().map_err(db)? {
            let rowid = u32::try_from(row.get::<_, i64>(0).map_err(db)?).unwrap_or(ASK_BY_ADDRESS);
            let email = row.get_ref(1).map_err(db)?.as_str().map_err(|e| db(text_error(1, e)))?;
            known.rows.entry(known.key(email)).and_modify(|at| *at = ASK_BY_ADDRESS).or_insert(rowid);
        }
        Ok(known)
    }

    fn find(&self, email: &str) -> Known {
        match self.rows.get(&self.key(email)) {
            None => Known::Absent,
            Some(&ASK_BY_ADDRESS) => Known::Ask,
            Some(&rowid) => Known::At(i64::from(rowid)),
        }
    }

    /// An address this connection has just inserted (its `rowid` is not asked for).
    fn learn(&mut self, email: &str) {
        let key = self.key(email);
        self.rows.insert(key, ASK_BY_ADDRESS);
    }
}

/// Lists of roles or buildings as stored (JSON text), parsed once each: the first
/// [`ParsedLists::MOST`] distinct ones are kept (the lists that repeat show up early; a cache
/// emptied and filled again left the heap in pieces: 2–4 MB more at the plan's peak).
struct ParsedLists<T> {
    by_text: std::collections::HashMap<String, std::collections::BTreeSet<T>, foldhash::fast::RandomState>,
}

impl<T> Default for ParsedLists<T> {
    fn default() -> Self {
        Self { by_text: Default::default() }
    }
}

impl<T: Clone + Ord + serde::de::DeserializeOwned> ParsedLists<T> {
    const MOST: usize = 256;

    fn get(&mut self, text: &str) -> PortResult<std::collections::BTreeSet<T>> {
        if let Some(list) = self.by_text.get(text) {
            return Ok(list.clone());
        }
        let list: std::collections::BTreeSet<T> = from_json(text)?;
        if self.by_text.len() < Self::MOST {
            self.by_text.insert(text.to_string(), list.clone());
        }
        Ok(list)
    }
}

/// A text column `column` that did not read as text, as rusqlite reports it.
fn text_error(column: usize, error: rusqlite::types::FromSqlError) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(column, rusqlite::types::Type::Text, Box::new(error))
}

fn db(error: rusqlite::Error) -> PortError {
    PortError::Unexpected(format!("embedded table: {error}"))
}

fn json<T: serde::Serialize>(value: &T) -> PortResult<String> {
    serde_json::to_string(value).map_err(|e| PortError::Unexpected(e.to_string()))
}

fn from_json<T: serde::de::DeserializeOwned>(text: &str) -> PortResult<T> {
    serde_json::from_str(text).map_err(|e| PortError::Unexpected(format!("embedded table holds unreadable data: {e}")))
}

use crate::domain::moment::rfc3339;

impl SqliteTable {
    pub fn open(path: &Path) -> PortResult<Self> {
        let connection = Connection::open(path).map_err(db)?;
        connection.busy_timeout(std::time::Duration::from_secs(30)).map_err(db)?;
        connection.execute_batch(SCHEMA).map_err(db)?;
        Ok(Self { connection: Mutex::new(connection), known: Mutex::new(None), invite_page: crate::ports::INVITES_PER_PAGE })
    }

    pub fn in_memory() -> PortResult<Self> {
        let connection = Connection::open_in_memory().map_err(db)?;
        connection.execute_batch(SCHEMA).map_err(db)?;
        Ok(Self { connection: Mutex::new(connection), known: Mutex::new(None), invite_page: crate::ports::INVITES_PER_PAGE })
    }

    /// Invite pages of `size` invites (at least one) instead of [`crate::ports::INVITES_PER_PAGE`].
    pub fn set_invite_page(&mut self, size: usize) {
        self.invite_page = size.max(1);
    }

    /// Reads the file through SQLite's own page cache instead of mapping up to 256 MiB of it
    /// into the process. A mapped page counts in the process's resident size, although it is
    /// the kernel's file cache; the benchmark's memory figures turn this off so that they show
    /// what a use case holds.
    pub fn without_memory_map(&self) -> PortResult<()> {
        self.conn().execute_batch("PRAGMA mmap_size = 0;").map_err(db)
    }

    /// The known-users set, current for `conn` (read again when another connection committed).
    fn known<'k>(&'k self, conn: &Connection) -> PortResult<MutexGuard<'k, Option<KnownUsers>>> {
        // Asked once per lookup batch (ten thousand times in a million-row plan): kept prepared.
        let version: i64 = conn.prepare_cached("PRAGMA data_version").and_then(|mut s| s.query_row([], |r| r.get(0))).map_err(db)?;
        let mut known = self.known.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if known.as_ref().is_none_or(|k| k.version != version) {
            *known = Some(KnownUsers::read(conn, version)?);
        }
        Ok(known)
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite inconsistent (transactions roll
        // back), so a poisoned lock is still usable.
        self.connection.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[async_trait]
impl EventLog for SqliteTable {
    async fn claim_event(&self, key: &str, now: OffsetDateTime, lease_seconds: i64) -> PortResult<EventClaim> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(db)?;
        let existing: Option<(String, i64)> = tx
            .query_row("SELECT status, claimed_at FROM events WHERE key = ?1", [key], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()
            .map_err(db)?;
        let claim = match existing {
            Some((status, _)) if status == "done" => EventClaim::Done,
            Some((_, at)) if now.unix_timestamp() - at < lease_seconds => EventClaim::InProgress,
            _ => {
                tx.execute(
                    "INSERT INTO events (key, status, claimed_at) VALUES (?1, 'claimed', ?2) ON CONFLICT (key) DO UPDATE SET status = 'claimed', claimed_at = ?2",
                    params![key, now.unix_timestamp()],
                )
                .map_err(db)?;
                EventClaim::Claimed
            }
        };
        tx.commit().map_err(db)?;
        Ok(claim)
    }

    async fn release_event(&self, key: &str) -> PortResult<()> {
        self.conn().execute("DELETE FROM events WHERE key = ?1 AND status = 'claimed'", [key]).map_err(db)?;
        Ok(())
    }

    async fn finish_event(&self, key: &str, now: OffsetDateTime, outcome: &str) -> PortResult<()> {
        self.conn()
            .execute(
                "INSERT INTO events (key, status, claimed_at, outcome) VALUES (?1, 'done', ?2, ?3) ON CONFLICT (key) DO UPDATE SET status = 'done', outcome = ?3",
                params![key, now.unix_timestamp(), outcome],
            )
            .map_err(db)?;
        Ok(())
    }
}

mod buildings;
mod delivery;
mod invites;
mod users;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::values::{Email, MigrationId};

    fn user(email: &str) -> NewUser {
        NewUser {
            email: Email::parse(email).unwrap(),
            first_name: "A".into(),
            last_name: "B".into(),
            roles: vec!["Host".into()],
            buildings: Vec::new(),
            migration: MigrationId::parse("m1").unwrap(),
        }
    }

    #[tokio::test]
    async fn lookups_see_users_created_here_and_by_another_connection() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("table.sqlite");
        let (here, other) = (SqliteTable::open(&path).unwrap(), SqliteTable::open(&path).unwrap());
        let (a, b, c) = (Email::parse("a@x.com").unwrap(), Email::parse("b@x.com").unwrap(), Email::parse("c@x.com").unwrap());
        here.create_users(&[user("a@x.com")]).await.unwrap();
        let asked = [a.clone(), b.clone(), c.clone()];
        assert_eq!(here.get_users(&asked).await.unwrap().len(), 1);
        here.create_users(&[user("b@x.com")]).await.unwrap();
        assert!(here.get_users(&asked).await.unwrap().contains_key(&b));
        other.create_users(&[user("c@x.com")]).await.unwrap();
        let found = here.get_users(&asked).await.unwrap();
        assert_eq!(found.len(), 3, "{found:?}");
    }

    #[tokio::test]
    async fn a_row_found_by_a_colliding_hash_is_not_taken_for_another_address() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("table.sqlite");
        let (here, other) = (SqliteTable::open(&path).unwrap(), SqliteTable::open(&path).unwrap());
        let mut host = user("a@x.com");
        host.buildings = vec![crate::domain::values::BuildingId::parse("3f2b8c1e-0d4a-4c8e-9a51-2f6d7e8b9c10").unwrap()];
        let mut admin = user("b@x.com");
        admin.roles = vec!["Admin".into(), "Host".into()];
        let same_as_host = user("c@x.com");
        other.create_users(&[host, admin, same_as_host]).await.unwrap();
        let (a, b, c) = (Email::parse("a@x.com").unwrap(), Email::parse("b@x.com").unwrap(), Email::parse("c@x.com").unwrap());
        let asked = [a.clone(), b.clone(), c.clone()];
        let found = here.get_users(&asked).await.unwrap();
        assert_eq!(found[&a].buildings.len(), 1);
        assert_eq!(found[&b].roles.iter().map(String::as_str).collect::<Vec<_>>(), ["Admin", "Host"]);
        assert_eq!(found[&c].roles, found[&a].roles, "a list read once is the same list for the next user");
        assert!(found[&c].buildings.is_empty(), "{found:?}");

        // Make b's hash point at a's row, as a collision (or a row moved by VACUUM) would.
        {
            let mut known = here.known.lock().unwrap();
            let known = known.as_mut().unwrap();
            let Known::At(a_row) = known.find("a@x.com") else { panic!("a@x.com not known by row") };
            let key = known.key("b@x.com");
            known.rows.insert(key, u32::try_from(a_row).unwrap());
            assert_eq!(known.find("b@x.com"), Known::At(a_row));
        }
        let again = here.get_users(&asked).await.unwrap();
        assert_eq!(again, found, "b is read by its address, not taken for a");
    }
}
