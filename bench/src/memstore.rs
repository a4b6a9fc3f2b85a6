//! The existing users held in a `HashMap`, for measuring the plan core without a database in
//! the way (loaded once from the embedded SQLite table, the same users).

use async_trait::async_trait;
use onboarding::domain::platform_users::{PlatformMember, PlatformUser};
use onboarding::domain::values::{BuildingId, Email};
use onboarding::ports::{ExistingUsers, NewUser, PortError, PortResult, UserTable};
use std::collections::HashMap;

#[derive(Debug, Default)]
pub struct MemoryUsers {
    users: ExistingUsers,
}

impl MemoryUsers {
    /// Every user of `table` whose address is among `emails`.
    pub async fn load(table: &dyn UserTable, emails: &[Email]) -> PortResult<Self> {
        let mut users = ExistingUsers::default();
        for chunk in emails.chunks(100) {
            users.extend(table.get_users(chunk).await?);
        }
        Ok(Self { users })
    }

    pub fn len(&self) -> usize {
        self.users.len()
    }

    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }
}

#[async_trait]
impl UserTable for MemoryUsers {
    async fn get_users(&self, emails: &[Email]) -> PortResult<ExistingUsers> {
        Ok(emails.iter().filter_map(|e| self.users.get(e).map(|u| (e.clone(), u.clone()))).collect())
    }

    async fn create_users(&self, _: &[NewUser]) -> PortResult<HashMap<Email, Option<onboarding::domain::values::MigrationId>>> {
        Ok(HashMap::new())
    }

    async fn grant_access(&self, _: &Email, _: &[String], _: &[BuildingId]) -> PortResult<()> {
        Ok(())
    }

    /// The bench plans against users loaded once; it loads no snapshot.
    async fn platform_members(&self) -> PortResult<Vec<PlatformMember>> {
        Ok(Vec::new())
    }

    async fn load_platform_users(&self, _: &[PlatformUser]) -> PortResult<()> {
        Err(PortError::Unexpected("the bench's in-memory users take no platform snapshot".into()))
    }

    async fn drop_platform_users(&self, _: &[Email]) -> PortResult<()> {
        Err(PortError::Unexpected("the bench's in-memory users take no platform snapshot".into()))
    }
}
