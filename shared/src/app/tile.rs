//! "May this person see the Visitor Registration tile in this building?"

use super::AppResult;
use crate::domain::building::Phase;
use crate::domain::issue::{FileRejection, RejectionCode};
use crate::domain::tile::{decide, TileAnswer, MAX_BATCH};
use crate::domain::values::{BuildingId, Email};
use crate::ports::Table;

/// One read of the building and, once it is live, one (batched) read of the grants, whatever
/// the batch size.
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
    let found = table.get_building(building).await?.map(|state| (state.building.tile_policy, state.phase));
    // Before go-live the grants do not matter (and are not read).
    let granted = match found {
        Some((_, Phase::Live)) => table.grants(building, emails).await?,
        _ => vec![false; emails.len()],
    };
    Ok(granted.into_iter().map(|granted| decide(found, granted)).collect())
}
