//! Delivery states, the suppression list and the bounce-rate tally.

use super::{db, from_json, json, SqliteTable};
use crate::domain::delivery::{DeliveryRecord, DeliveryState, DeliveryTally, Suppression};
use crate::domain::values::Email;
use crate::ports::*;
use async_trait::async_trait;
use rusqlite::{params, OptionalExtension};
use std::collections::HashMap;

#[async_trait]
impl DeliveryLog for SqliteTable {
    async fn record_delivery(&self, record: &DeliveryRecord) -> PortResult<Option<Option<DeliveryState>>> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(db)?;
        let stored: Option<String> =
            tx.query_row("SELECT data FROM deliveries WHERE message_id = ?1", [&record.message_id], |r| r.get(0)).optional().map_err(db)?;
        let previous = stored.map(|data| from_json::<DeliveryRecord>(&data)).transpose()?.map(|r| r.state);
        if previous.is_some_and(|p| p.rank() >= record.state.rank()) {
            return Ok(None);
        }
        tx.execute(
            "INSERT INTO deliveries (message_id, rank, data) VALUES (?1, ?2, ?3) ON CONFLICT (message_id) DO UPDATE SET rank = ?2, data = ?3",
            params![record.message_id, record.state.rank(), json(record)?],
        )
        .map_err(db)?;
        tx.commit().map_err(db)?;
        Ok(Some(previous))
    }

    async fn deliveries(&self, message_ids: &[String]) -> PortResult<HashMap<String, DeliveryRecord>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached("SELECT data FROM deliveries WHERE message_id = ?1").map_err(db)?;
        let mut found = HashMap::new();
        for id in message_ids {
            if let Some(data) = stmt.query_row([id], |r| r.get::<_, String>(0)).optional().map_err(db)? {
                found.insert(id.clone(), from_json(&data)?);
            }
        }
        Ok(found)
    }

    async fn suppress(&self, suppression: &Suppression) -> PortResult<()> {
        self.conn()
            .execute(
                "INSERT INTO suppressions (email, data) VALUES (?1, ?2) ON CONFLICT (email) DO NOTHING",
                params![suppression.email.as_str(), json(suppression)?],
            )
            .map_err(db)?;
        Ok(())
    }

    async fn unsuppress(&self, email: &Email) -> PortResult<bool> {
        let removed = self.conn().execute("DELETE FROM suppressions WHERE email = ?1", [email.as_str()]).map_err(db)?;
        Ok(removed > 0)
    }

    async fn suppressions(&self, emails: &[Email]) -> PortResult<HashMap<Email, Suppression>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached("SELECT data FROM suppressions WHERE email = ?1").map_err(db)?;
        let mut found = HashMap::new();
        for email in emails {
            if let Some(data) = stmt.query_row([email.as_str()], |r| r.get::<_, String>(0)).optional().map_err(db)? {
                found.insert(email.clone(), from_json(&data)?);
            }
        }
        Ok(found)
    }

    async fn add_to_tally(&self, step: &DeliveryTally) -> PortResult<DeliveryTally> {
        let conn = self.conn();
        conn.query_row(
            "INSERT INTO delivery_tally (id, delivered, bounced, complained) VALUES (1, ?1, ?2, ?3)
             ON CONFLICT (id) DO UPDATE SET delivered = delivered + ?1, bounced = bounced + ?2, complained = complained + ?3
             RETURNING delivered, bounced, complained",
            params![step.delivered as i64, step.bounced as i64, step.complained as i64],
            |r| {
                Ok(DeliveryTally {
                    delivered: r.get::<_, i64>(0)? as u64,
                    bounced: r.get::<_, i64>(1)? as u64,
                    complained: r.get::<_, i64>(2)? as u64,
                })
            },
        )
        .map_err(db)
    }

    async fn reset_tally(&self) -> PortResult<()> {
        self.conn().execute("DELETE FROM delivery_tally", []).map_err(db)?;
        Ok(())
    }
}
