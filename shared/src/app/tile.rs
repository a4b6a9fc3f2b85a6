//! "May this person see the Visitor Registration tile in this building?"

use super::AppResult;
use crate::domain::tile::{decide, TileAnswer};
use crate::domain::values::{BuildingId, Email};
use crate::ports::Table;

pub async fn check_tile(table: &dyn Table, building: &BuildingId, emails: &[Email]) -> AppResult<Vec<TileAnswer>> {
    let policy = table.get_building(building).await?.map(|state| state.building.tile_policy);
    let mut answers = Vec::with_capacity(emails.len());
    for email in emails {
        let granted = match policy {
            Some(_) => table.has_grant(building, email).await?,
            None => false,
        };
        answers.push(decide(policy, granted));
    }
    Ok(answers)
}
