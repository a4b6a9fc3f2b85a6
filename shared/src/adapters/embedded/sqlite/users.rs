//! Users and migrations.

use super::{db, from_json, json, text_error, Known, SqliteTable};
use crate::domain::plan::ExistingUser;
use crate::domain::platform_users::{PlatformMember, PlatformUser};
use crate::domain::values::{BuildingId, Email, MigrationId};
use crate::ports::*;
use async_trait::async_trait;
use rusqlite::{params, OptionalExtension};
use std::collections::HashMap;

#[async_trait]
impl UserTable for SqliteTable {
    async fn get_users(&self, emails: &[Email]) -> PortResult<ExistingUsers> {
        let mut conn = self.conn();
        // One read transaction for the batch: one snapshot and one WAL read lock, not one per key.
        let tx = conn.transaction().map_err(db)?;
        let mut guard = self.known(&tx)?;
        let Some(known) = guard.as_mut() else {
            return Err(PortError::Unexpected("embedded table: the known users were not read".into()));
        };
        let mut found = ExistingUsers::default();
        {
            let mut by_row = tx.prepare_cached("SELECT email, roles, buildings, migration FROM users WHERE rowid = ?1").map_err(db)?;
            let mut by_address = tx.prepare_cached("SELECT email, roles, buildings, migration FROM users WHERE email = ?1").map_err(db)?;
            for email in emails {
                let rowid = match known.find(email.as_str()) {
                    Known::Absent => continue,
                    Known::At(rowid) => Some(rowid),
                    Known::Ask => None,
                };
                // The row's texts are read where SQLite holds them, not copied first; its lists
                // are parsed once per distinct text. A row found by `rowid` must have the address
                // (else the hash collided, or the row moved): then it is asked by address.
                let mut read = |r: &rusqlite::Row<'_>| -> rusqlite::Result<Option<PortResult<ExistingUser>>> {
                    let text = |at: usize| r.get_ref(at)?.as_str_or_null().map_err(|e| text_error(at, e));
                    if text(0)? != Some(email.as_str()) {
                        return Ok(None);
                    }
                    let (roles, buildings, migration) = (text(1)?, text(2)?, text(3)?);
                    let user = known.roles.get(roles.unwrap_or_default()).and_then(|roles| {
                        let buildings = known.buildings.get(buildings.unwrap_or_default())?;
                        Ok(ExistingUser { roles, buildings, created_by: migration.and_then(|m| MigrationId::parse(m).ok()) })
                    });
                    Ok(Some(user))
                };
                let mut user = match rowid {
                    Some(rowid) => by_row.query_row([rowid], &mut read).optional().map_err(db)?.flatten(),
                    None => None,
                };
                if user.is_none() {
                    user = by_address.query_row([email.as_str()], &mut read).optional().map_err(db)?.flatten();
                }
                if let Some(user) = user {
                    found.insert(email.clone(), user?);
                }
            }
        }
        drop(guard);
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
                known.learn(user.email.as_str());
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

    async fn platform_members(&self) -> PortResult<Vec<PlatformMember>> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT data FROM platform_users ORDER BY email").map_err(db)?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0)).map_err(db)?.collect::<Result<Vec<_>, _>>().map_err(db)?;
        rows.iter().map(|d| from_json(d)).collect()
    }

    async fn load_platform_users(&self, users: &[PlatformUser]) -> PortResult<()> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(db)?;
        {
            let mut find = tx.prepare_cached("SELECT roles, buildings FROM users WHERE email = ?1").map_err(db)?;
            let mut update = tx.prepare_cached("UPDATE users SET roles = ?2, buildings = ?3 WHERE email = ?1").map_err(db)?;
            let mut insert = tx
                .prepare_cached(
                    "INSERT INTO users (email, first_name, last_name, roles, buildings, migration) VALUES (?1, ?2, ?3, ?4, ?5, NULL)",
                )
                .map_err(db)?;
            let mut member = tx
                .prepare_cached("INSERT INTO platform_users (email, data) VALUES (?1, ?2) ON CONFLICT (email) DO UPDATE SET data = ?2")
                .map_err(db)?;
            for user in users {
                let stored: Option<(String, String)> =
                    find.query_row([user.email.as_str()], |r| Ok((r.get(0)?, r.get(1)?))).optional().map_err(db)?;
                match stored {
                    Some((roles, buildings)) => {
                        let mut roles: std::collections::BTreeSet<String> = from_json(&roles)?;
                        roles.extend(user.roles.iter().cloned());
                        let mut buildings: std::collections::BTreeSet<BuildingId> = from_json(&buildings)?;
                        buildings.extend(user.buildings.iter().cloned());
                        update.execute(params![user.email.as_str(), json(&roles)?, json(&buildings)?]).map_err(db)?;
                    }
                    None => {
                        insert
                            .execute(params![
                                user.email.as_str(),
                                user.first_name,
                                user.last_name,
                                json(&user.roles)?,
                                json(&user.buildings)?
                            ])
                            .map_err(db)?;
                    }
                }
                let data = PlatformMember { email: user.email.clone(), snapshot: user.snapshot.clone() };
                member.execute(params![user.email.as_str(), json(&data)?]).map_err(db)?;
            }
        }
        tx.commit().map_err(db)?;
        // As after create_users: the known-users set learns the new addresses here.
        if let Some(known) = self.known.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).as_mut() {
            for user in users {
                known.learn(user.email.as_str());
            }
        }
        Ok(())
    }

    async fn drop_platform_users(&self, emails: &[Email]) -> PortResult<()> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(db)?;
        {
            let mut leave = tx.prepare_cached("DELETE FROM platform_users WHERE email = ?1").map_err(db)?;
            let mut forget = tx.prepare_cached("DELETE FROM users WHERE email = ?1 AND migration IS NULL").map_err(db)?;
            for email in emails {
                leave.execute([email.as_str()]).map_err(db)?;
                forget.execute([email.as_str()]).map_err(db)?;
            }
        }
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

    async fn record_apply_part(&self, run: &str, index: u32, outcome: &str) -> PortResult<bool> {
        let inserted = self
            .conn()
            .execute("INSERT INTO apply_parts (run, part, data) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING", params![run, index, outcome])
            .map_err(db)?;
        Ok(inserted == 1)
    }

    async fn count_apply_parts(&self, run: &str) -> PortResult<u64> {
        self.conn().query_row("SELECT COUNT(*) FROM apply_parts WHERE run = ?1", [run], |r| r.get(0)).map_err(db)
    }

    async fn apply_parts(&self, run: &str) -> PortResult<Vec<(u32, String)>> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT part, data FROM apply_parts WHERE run = ?1 ORDER BY part").map_err(db)?;
        let rows = stmt.query_map([run], |r| Ok((r.get::<_, u32>(0)?, r.get::<_, String>(1)?))).map_err(db)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(db)
    }
}
