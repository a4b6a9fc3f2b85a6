//! "May this person see the Visitor Registration tile in this building?"

use super::AppResult;
use crate::domain::tile::{decide, TileAnswer};
use crate::domain::values::{BuildingId, Email};
use crate::ports::Table;

/// One read of the building and one (batched) read of the grants, whatever the batch size.
pub async fn check_tile(table: &dyn Table, building: &BuildingId, emails: &[Email]) -> AppResult<Vec<TileAnswer>> {
    let policy = table.get_building(building).await?.map(|state| state.building.tile_policy);
    let granted = match policy {
        Some(_) => table.grants(building, emails).await?,
        None => vec![false; emails.len()],
    };
    Ok(granted.into_iter().map(|granted| decide(policy, granted)).collect())
}
