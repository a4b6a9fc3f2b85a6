//! SQLite standing in for the DynamoDB table. One connection behind a mutex; every multi-row
//! write is one transaction, so a crash leaves all of it or none of it.

use crate::domain::building::{Building, BuildingState, Phase};
use crate::domain::invite::{Invite, MailStatus};
use crate::domain::plan::ExistingUser;
use crate::domain::tenants::TenantContact;
use crate::domain::values::{BuildingId, Email, MigrationId, Phone};
use crate::ports::*;
use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension};
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use time::{Date, OffsetDateTime};

const SCHEMA: &str = "
PRAGMA journal_mode = WAL;
PRAGMA synchronous = NORMAL;
PRAGMA mmap_size = 268435456;
CREATE TABLE IF NOT EXISTS events (key TEXT PRIMARY KEY, status TEXT NOT NULL, claimed_at INTEGER NOT NULL, outcome TEXT);
CREATE TABLE IF NOT EXISTS buildings (id TEXT PRIMARY KEY, data TEXT NOT NULL, phase TEXT NOT NULL, phase_changed_at TEXT NOT NULL, kickstart_message_id TEXT);
CREATE TABLE IF NOT EXISTS contacts (building TEXT NOT NULL, email TEXT NOT NULL, full_name TEXT NOT NULL, phone TEXT, granted_at TEXT, PRIMARY KEY (building, email));
CREATE TABLE IF NOT EXISTS users (email TEXT PRIMARY KEY, first_name TEXT NOT NULL, last_name TEXT NOT NULL, roles TEXT NOT NULL, buildings TEXT NOT NULL, migration TEXT);
CREATE TABLE IF NOT EXISTS migrations (id TEXT PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS invites (migration TEXT NOT NULL, email TEXT NOT NULL, status TEXT NOT NULL, due TEXT NOT NULL, data TEXT NOT NULL, PRIMARY KEY (migration, email));
CREATE INDEX IF NOT EXISTS invites_due ON invites (status, due);
CREATE TABLE IF NOT EXISTS mail_ledger (key TEXT PRIMARY KEY, status TEXT NOT NULL, message_id TEXT, updated_at TEXT NOT NULL, detail TEXT);
";

pub struct SqliteTable {
    connection: Mutex<Connection>,
    /// The addresses the users table holds, for answering "no such user" without a B-tree
    /// search (most addresses of a migration are new). Locked only while `connection` is.
    known: Mutex<Option<KnownUsers>>,
}

/// Hashes of every address in `users`, as of a `PRAGMA data_version`: that number changes when
/// another connection commits, so a stale set is noticed and read again; this connection's own
/// inserts are added as they are made. A hash that is present (or collides) only means "look".
struct KnownUsers {
    version: i64,
    hashes: std::collections::HashSet<u64>,
    hasher: std::hash::RandomState,
}

impl KnownUsers {
    fn hash(&self, email: &str) -> u64 {
        std::hash::BuildHasher::hash_one(&self.hasher, email)
    }

    fn read(conn: &Connection, version: i64) -> PortResult<Self> {
        let mut known = Self { version, hashes: std::collections::HashSet::new(), hasher: std::hash::RandomState::new() };
        let mut stmt = conn.prepare("SELECT email FROM users").map_err(db)?;
        let mut rows = stmt.query([]).map_err(db)?;
        while let Some(row) = rows.next().map_err(db)? {
            let email: String = row.get(0).map_err(db)?;
            known.hashes.insert(known.hash(&email));
        }
        Ok(known)
    }
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

fn rfc3339(at: OffsetDateTime) -> String {
    crate::domain::moment::rfc3339(at)
}

impl SqliteTable {
    pub fn open(path: &Path) -> PortResult<Self> {
        let connection = Connection::open(path).map_err(db)?;
        connection.busy_timeout(std::time::Duration::from_secs(30)).map_err(db)?;
        connection.execute_batch(SCHEMA).map_err(db)?;
        Ok(Self { connection: Mutex::new(connection), known: Mutex::new(None) })
    }

    pub fn in_memory() -> PortResult<Self> {
        let connection = Connection::open_in_memory().map_err(db)?;
        connection.execute_batch(SCHEMA).map_err(db)?;
        Ok(Self { connection: Mutex::new(connection), known: Mutex::new(None) })
    }

    /// The known-users set, current for `conn` (read again when another connection committed).
    fn known<'k>(&'k self, conn: &Connection) -> PortResult<MutexGuard<'k, Option<KnownUsers>>> {
        let version: i64 = conn.query_row("PRAGMA data_version", [], |r| r.get(0)).map_err(db)?;
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

fn building_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<(String, String, String, Option<String>)> {
    Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
}

fn building_state((data, phase, changed, message_id): (String, String, String, Option<String>)) -> PortResult<BuildingState> {
    Ok(BuildingState {
        building: from_json(&data)?,
        phase: Phase::parse(&phase).unwrap_or_default(),
        phase_changed_at: crate::domain::moment::parse_or_epoch(&changed),
        kickstart_message_id: message_id,
    })
}

#[async_trait]
impl BuildingTable for SqliteTable {
    async fn get_building(&self, id: &BuildingId) -> PortResult<Option<BuildingState>> {
        let conn = self.conn();
        let mut stmt =
            conn.prepare_cached("SELECT data, phase, phase_changed_at, kickstart_message_id FROM buildings WHERE id = ?1").map_err(db)?;
        let row = stmt.query_row([id.as_str()], building_row).optional().map_err(db)?;
        row.map(building_state).transpose()
    }

    async fn list_buildings(&self) -> PortResult<Vec<BuildingState>> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT data, phase, phase_changed_at, kickstart_message_id FROM buildings ORDER BY id").map_err(db)?;
        let rows = stmt.query_map([], building_row).map_err(db)?.collect::<Result<Vec<_>, _>>().map_err(db)?;
        rows.into_iter().map(building_state).collect()
    }

    async fn upsert_building(&self, building: &Building, now: OffsetDateTime) -> PortResult<BuildingState> {
        {
            let conn = self.conn();
            conn.execute(
                "INSERT INTO buildings (id, data, phase, phase_changed_at) VALUES (?1, ?2, 'new', ?3) ON CONFLICT (id) DO UPDATE SET data = ?2",
                params![building.id.as_str(), json(building)?, rfc3339(now)],
            )
            .map_err(db)?;
        }
        self.get_building(&building.id).await?.ok_or_else(|| PortError::NotFound(building.id.to_string()))
    }

    async fn set_phase(&self, id: &BuildingId, phase: Phase, now: OffsetDateTime, message_id: Option<&str>) -> PortResult<()> {
        let changed = self
            .conn()
            .execute(
                "UPDATE buildings SET phase = ?2, phase_changed_at = ?3, kickstart_message_id = COALESCE(?4, kickstart_message_id) WHERE id = ?1",
                params![id.as_str(), phase.as_str(), rfc3339(now), message_id],
            )
            .map_err(db)?;
        if changed == 0 {
            return Err(PortError::NotFound(format!("building {id}")));
        }
        Ok(())
    }
}

#[async_trait]
impl ContactTable for SqliteTable {
    async fn list_contacts(&self, building: &BuildingId) -> PortResult<Vec<TenantContact>> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT full_name, email, phone FROM contacts WHERE building = ?1 ORDER BY email").map_err(db)?;
        let rows = stmt
            .query_map([building.as_str()], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, Option<String>>(2)?)))
            .map_err(db)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(db)?;
        rows.into_iter()
            .map(|(full_name, email, phone)| {
                Ok(TenantContact {
                    full_name,
                    email: Email::parse(&email).map_err(|e| PortError::Unexpected(e.to_string()))?,
                    phone: phone.map(Phone::from_stored),
                })
            })
            .collect()
    }

    async fn put_contacts(&self, building: &BuildingId, contacts: &[TenantContact], grant: bool, now: OffsetDateTime) -> PortResult<()> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(db)?;
        {
            let mut stmt = tx
                .prepare(
                    "INSERT INTO contacts (building, email, full_name, phone, granted_at) VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT (building, email) DO UPDATE SET full_name = ?3, phone = COALESCE(?4, phone), granted_at = COALESCE(granted_at, ?5)",
                )
                .map_err(db)?;
            let granted_at = grant.then(|| rfc3339(now));
            for contact in contacts {
                stmt.execute(params![
                    building.as_str(),
                    contact.email.as_str(),
                    contact.full_name,
                    contact.phone.as_ref().map(Phone::as_str),
                    granted_at
                ])
                .map_err(db)?;
            }
        }
        tx.commit().map_err(db)
    }

    async fn remove_contacts(&self, building: &BuildingId, emails: &[Email]) -> PortResult<()> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(db)?;
        for email in emails {
            tx.execute("DELETE FROM contacts WHERE building = ?1 AND email = ?2", params![building.as_str(), email.as_str()])
                .map_err(db)?;
        }
        tx.commit().map_err(db)
    }

    async fn has_grant(&self, building: &BuildingId, email: &Email) -> PortResult<bool> {
        let conn = self.conn();
        let mut stmt =
            conn.prepare_cached("SELECT 1 FROM contacts WHERE building = ?1 AND email = ?2 AND granted_at IS NOT NULL").map_err(db)?;
        stmt.query_row(params![building.as_str(), email.as_str()], |_| Ok(())).optional().map(|found| found.is_some()).map_err(db)
    }

    async fn count_grants(&self, building: &BuildingId) -> PortResult<u64> {
        self.conn()
            .query_row("SELECT COUNT(*) FROM contacts WHERE building = ?1 AND granted_at IS NOT NULL", [building.as_str()], |r| {
                r.get::<_, i64>(0)
            })
            .map(|n| n as u64)
            .map_err(db)
    }
}

#[async_trait]
impl UserTable for SqliteTable {
    async fn get_users(&self, emails: &[Email]) -> PortResult<HashMap<Email, ExistingUser>> {
        let mut conn = self.conn();
        // One read transaction for the batch: one snapshot and one WAL read lock, not one per key.
        let tx = conn.transaction().map_err(db)?;
        let known = self.known(&tx)?;
        let mut found = HashMap::new();
        {
            let mut stmt = tx.prepare_cached("SELECT roles, buildings, migration FROM users WHERE email = ?1").map_err(db)?;
            for email in emails {
                if known.as_ref().is_some_and(|k| !k.hashes.contains(&k.hash(email.as_str()))) {
                    continue;
                }
                let row: Option<(String, String, Option<String>)> =
                    stmt.query_row([email.as_str()], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).optional().map_err(db)?;
                if let Some((roles, buildings, migration)) = row {
                    let created_by = migration.and_then(|m| MigrationId::parse(&m).ok());
                    found.insert(email.clone(), ExistingUser { roles: from_json(&roles)?, buildings: from_json(&buildings)?, created_by });
                }
            }
        }
        tx.commit().map_err(db)?;
        Ok(found)
    }

    async fn create_users(&self, users: &[NewUser]) -> PortResult<HashMap<Email, Option<MigrationId>>> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(db)?;
        let mut existed = HashMap::new();
        {
            let mut find = tx.prepare_cached("SELECT migration FROM users WHERE email = ?1").map_err(db)?;
            let mut stmt = tx
                .prepare("INSERT INTO users (email, first_name, last_name, roles, buildings, migration) VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (email) DO NOTHING")
                .map_err(db)?;
            for user in users {
                let creator: Option<Option<String>> = find.query_row([user.email.as_str()], |r| r.get(0)).optional().map_err(db)?;
                if let Some(creator) = creator {
                    existed.entry(user.email.clone()).or_insert_with(|| creator.and_then(|m| MigrationId::parse(&m).ok()));
                    continue;
                }
                let roles: std::collections::BTreeSet<&String> = user.roles.iter().collect();
                let buildings: std::collections::BTreeSet<&BuildingId> = user.buildings.iter().collect();
                stmt.execute(params![
                    user.email.as_str(),
                    user.first_name,
                    user.last_name,
                    json(&roles)?,
                    json(&buildings)?,
                    user.migration.as_str()
                ])
                .map_err(db)?;
            }
        }
        tx.commit().map_err(db)?;
        // Our own commit does not move data_version: the set learns the new addresses here.
        if let Some(known) = self.known.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).as_mut() {
            for user in users {
                known.hashes.insert(known.hash(user.email.as_str()));
            }
        }
        Ok(existed)
    }

    async fn grant_access(&self, email: &Email, roles: &[String], buildings: &[BuildingId]) -> PortResult<()> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(db)?;
        let row: Option<(String, String)> = tx
            .query_row("SELECT roles, buildings FROM users WHERE email = ?1", [email.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()
            .map_err(db)?;
        let Some((current_roles, current_buildings)) = row else {
            return Err(PortError::NotFound(format!("user {}", email.redacted())));
        };
        let mut all_roles: std::collections::BTreeSet<String> = from_json(&current_roles)?;
        all_roles.extend(roles.iter().cloned());
        let mut all_buildings: std::collections::BTreeSet<BuildingId> = from_json(&current_buildings)?;
        all_buildings.extend(buildings.iter().cloned());
        tx.execute(
            "UPDATE users SET roles = ?2, buildings = ?3 WHERE email = ?1",
            params![email.as_str(), json(&all_roles)?, json(&all_buildings)?],
        )
        .map_err(db)?;
        tx.commit().map_err(db)
    }
}

#[async_trait]
impl MigrationTable for SqliteTable {
    async fn get_migration(&self, id: &MigrationId) -> PortResult<Option<MigrationRecord>> {
        let data: Option<String> =
            self.conn().query_row("SELECT data FROM migrations WHERE id = ?1", [id.as_str()], |r| r.get(0)).optional().map_err(db)?;
        data.map(|d| from_json(&d)).transpose()
    }

    async fn put_migration(&self, record: &MigrationRecord) -> PortResult<()> {
        self.conn()
            .execute(
                "INSERT INTO migrations (id, data) VALUES (?1, ?2) ON CONFLICT (id) DO UPDATE SET data = ?2",
                params![record.id.as_str(), json(record)?],
            )
            .map_err(db)?;
        Ok(())
    }

    async fn list_migrations(&self) -> PortResult<Vec<MigrationRecord>> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT data FROM migrations ORDER BY id").map_err(db)?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0)).map_err(db)?.collect::<Result<Vec<_>, _>>().map_err(db)?;
        rows.iter().map(|d| from_json(d)).collect()
    }
}

fn date_text(date: Date) -> String {
    date.to_string()
}

#[async_trait]
impl InviteTable for SqliteTable {
    async fn queue_invites(&self, invites: &[Invite]) -> PortResult<()> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(db)?;
        {
            let mut stmt = tx
                .prepare("INSERT INTO invites (migration, email, status, due, data) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (migration, email) DO NOTHING")
                .map_err(db)?;
            for invite in invites {
                stmt.execute(params![
                    invite.migration.as_str(),
                    invite.email.as_str(),
                    invite.status.as_str(),
                    date_text(invite.due),
                    json(invite)?
                ])
                .map_err(db)?;
            }
        }
        tx.commit().map_err(db)
    }

    async fn due_invites(&self, today: Date, limit: usize) -> PortResult<Vec<Invite>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare("SELECT data FROM invites WHERE status = 'pending' AND due <= ?1 ORDER BY due, migration, email LIMIT ?2")
            .map_err(db)?;
        let rows = stmt
            .query_map(params![date_text(today), limit as i64], |r| r.get::<_, String>(0))
            .map_err(db)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(db)?;
        rows.iter().map(|d| from_json(d)).collect()
    }

    async fn get_invite(&self, migration: &MigrationId, email: &Email) -> PortResult<Option<Invite>> {
        let data: Option<String> = self
            .conn()
            .query_row("SELECT data FROM invites WHERE migration = ?1 AND email = ?2", params![migration.as_str(), email.as_str()], |r| {
                r.get(0)
            })
            .optional()
            .map_err(db)?;
        data.map(|d| from_json(&d)).transpose()
    }

    async fn list_invites(&self, migration: &MigrationId) -> PortResult<Vec<Invite>> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT data FROM invites WHERE migration = ?1 ORDER BY email").map_err(db)?;
        let rows =
            stmt.query_map([migration.as_str()], |r| r.get::<_, String>(0)).map_err(db)?.collect::<Result<Vec<_>, _>>().map_err(db)?;
        rows.iter().map(|d| from_json(d)).collect()
    }

    async fn update_invite(
        &self,
        migration: &MigrationId,
        email: &Email,
        status: MailStatus,
        message_id: Option<&str>,
        error: Option<&str>,
        attempts: u32,
    ) -> PortResult<()> {
        let Some(mut invite) = self.get_invite(migration, email).await? else {
            return Err(PortError::NotFound(format!("invite {migration}/{}", email.redacted())));
        };
        invite.status = status;
        invite.message_id = message_id.map(str::to_string).or(invite.message_id);
        invite.error = error.map(str::to_string);
        invite.attempts = attempts;
        self.conn()
            .execute(
                "UPDATE invites SET status = ?3, data = ?4 WHERE migration = ?1 AND email = ?2",
                params![migration.as_str(), email.as_str(), status.as_str(), json(&invite)?],
            )
            .map_err(db)?;
        Ok(())
    }
}

/// key, status, message id, updated at, detail
type LedgerRow = (String, String, Option<String>, String, Option<String>);

fn ledger_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<LedgerRow> {
    Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?))
}

fn ledger_entry((key, status, message_id, updated_at, detail): LedgerRow) -> LedgerEntry {
    let updated_at = crate::domain::moment::parse_or_epoch(&updated_at);
    LedgerEntry { key, status: MailStatus::parse(&status).unwrap_or(MailStatus::Sending), message_id, updated_at, detail }
}

#[async_trait]
impl MailLedger for SqliteTable {
    async fn claim_mail(&self, key: &str, now: OffsetDateTime) -> PortResult<Option<LedgerEntry>> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(db)?;
        let existing = tx
            .query_row("SELECT key, status, message_id, updated_at, detail FROM mail_ledger WHERE key = ?1", [key], ledger_row)
            .optional()
            .map_err(db)?;
        if existing.is_none() {
            tx.execute("INSERT INTO mail_ledger (key, status, updated_at) VALUES (?1, 'sending', ?2)", params![key, rfc3339(now)])
                .map_err(db)?;
        }
        tx.commit().map_err(db)?;
        Ok(existing.map(ledger_entry))
    }

    async fn finish_mail(
        &self,
        key: &str,
        status: MailStatus,
        message_id: Option<&str>,
        detail: Option<&str>,
        now: OffsetDateTime,
    ) -> PortResult<()> {
        self.conn()
            .execute(
                "INSERT INTO mail_ledger (key, status, message_id, updated_at, detail) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (key) DO UPDATE SET status = ?2, message_id = COALESCE(?3, message_id), updated_at = ?4, detail = ?5",
                params![key, status.as_str(), message_id, rfc3339(now), detail],
            )
            .map_err(db)?;
        Ok(())
    }

    async fn release_mail(&self, key: &str) -> PortResult<()> {
        self.conn().execute("DELETE FROM mail_ledger WHERE key = ?1 AND status = 'sending'", [key]).map_err(db)?;
        Ok(())
    }

    async fn get_mail(&self, key: &str) -> PortResult<Option<LedgerEntry>> {
        let row = self
            .conn()
            .query_row("SELECT key, status, message_id, updated_at, detail FROM mail_ledger WHERE key = ?1", [key], ledger_row)
            .optional()
            .map_err(db)?;
        Ok(row.map(ledger_entry))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
