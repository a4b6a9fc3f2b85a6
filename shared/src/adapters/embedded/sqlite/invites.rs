//! Invites and the e-mail ledger.

use super::{db, from_json, json, rfc3339, SqliteTable};
use crate::domain::invite::{instant_key, Invite, MailStatus};
use crate::domain::values::{Email, MigrationId};
use crate::ports::*;
use async_trait::async_trait;
use rusqlite::{params, OptionalExtension};
use time::OffsetDateTime;

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
                    invite.due_key(),
                    json(invite)?
                ])
                .map_err(db)?;
            }
        }
        tx.commit().map_err(db)
    }

    async fn due_invites(&self, now: OffsetDateTime, limit: usize) -> PortResult<Vec<Invite>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare("SELECT data FROM invites WHERE status = 'pending' AND due <= ?1 ORDER BY due, migration, email LIMIT ?2")
            .map_err(db)?;
        let rows = stmt
            .query_map(params![instant_key(now), limit as i64], |r| r.get::<_, String>(0))
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

    async fn invite_page(&self, migration: &MigrationId, from: Option<&InvitePageMark>) -> PortResult<InvitePage> {
        // Keyset pages in address order: the mark is the last address of the page before
        // (the empty text sorts before every address).
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached("SELECT email, data FROM invites WHERE migration = ?1 AND email > ?2 ORDER BY email LIMIT ?3")
            .map_err(db)?;
        let after = from.map_or("", |mark| mark.0.as_str());
        let limit = i64::try_from(self.invite_page).unwrap_or(i64::MAX);
        let rows = stmt
            .query_map(params![migration.as_str(), after, limit], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
            .map_err(db)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(db)?;
        let next = match rows.last() {
            Some((email, _)) if rows.len() == self.invite_page => Some(InvitePageMark(email.clone())),
            _ => None,
        };
        let invites = rows.iter().map(|(_, data)| from_json(data)).collect::<PortResult<_>>()?;
        Ok(InvitePage { invites, next })
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

    async fn replace_invite(&self, invite: &Invite, expected: MailStatus) -> PortResult<bool> {
        let changed = self
            .conn()
            .execute(
                "UPDATE invites SET status = ?3, due = ?4, data = ?5 WHERE migration = ?1 AND email = ?2 AND status = ?6",
                params![
                    invite.migration.as_str(),
                    invite.email.as_str(),
                    invite.status.as_str(),
                    invite.due_key(),
                    json(invite)?,
                    expected.as_str()
                ],
            )
            .map_err(db)?;
        Ok(changed == 1)
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

    async fn park_mail(&self, mail: &crate::domain::mail::OutgoingMail) -> PortResult<()> {
        self.conn()
            .execute(
                "INSERT INTO parked_mail (key, data) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET data = ?2",
                params![mail.key, json(mail)?],
            )
            .map_err(db)?;
        Ok(())
    }

    async fn parked_mail(&self, limit: usize) -> PortResult<Vec<crate::domain::mail::OutgoingMail>> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT data FROM parked_mail ORDER BY key LIMIT ?1").map_err(db)?;
        let rows = stmt.query_map([limit as i64], |r| r.get::<_, String>(0)).map_err(db)?.collect::<Result<Vec<_>, _>>().map_err(db)?;
        rows.iter().map(|d| from_json(d)).collect()
    }

    async fn unpark_mail(&self, key: &str) -> PortResult<()> {
        self.conn().execute("DELETE FROM parked_mail WHERE key = ?1", [key]).map_err(db)?;
        Ok(())
    }
}
