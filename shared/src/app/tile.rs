//! "May this person see the Visitor Registration tile in this building?"

use super::AppResult;
use crate::domain::issue::{FileRejection, RejectionCode};
use crate::domain::tile::{decide, TileAnswer, MAX_BATCH};
use crate::domain::values::{BuildingId, Email};
use crate::ports::Table;

/// One read of the building and one (batched) read of the grants, whatever the batch size.
/// At most [`MAX_BATCH`] addresses per call, whoever calls (the HTTP function, the CLI).
/// Each answer depends only on the building and that one address.
pub async fn check_tile(table: &dyn Table, building: &BuildingId, emails: &[Email]) -> AppResult<Vec<TileAnswer>> {
    if emails.len() > MAX_BATCH {
        return Err(FileRejection::new(
            RejectionCode::BatchTooLarge,
            format!("{} addresses were asked about at once; at most {MAX_BATCH} are answered per request. Split the list.", emails.len()),
        )
        .into());
    }
    let policy = table.get_building(building).await?.map(|state| state.building.tile_policy);
    let granted = match policy {
        Some(_) => table.grants(building, emails).await?,
        None => vec![false; emails.len()],
    };
    Ok(granted.into_iter().map(|granted| decide(policy, granted)).collect())
}
