//! Buildings, their contacts and tile grants.

use super::{db, from_json, json, rfc3339, SqliteTable};
use crate::domain::building::{Building, BuildingState, Phase};
use crate::domain::tenants::TenantContact;
use crate::domain::values::{BuildingId, Email, Phone};
use crate::ports::*;
use async_trait::async_trait;
use rusqlite::{params, OptionalExtension};
use time::OffsetDateTime;

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
