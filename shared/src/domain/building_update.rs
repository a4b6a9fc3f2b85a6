//! A buildings re-upload: the columns a file has change values, the optional columns it leaves
//! out keep what is stored (tile policy, aliases, time zone, account executive, platform CSM), and what
//! changed is listed per building.

use crate::building::{Building, ADDRESS, ALIASES, BUILDING_COLUMNS, ENVOY_AE, ENVOY_CSM, NAME, PLATFORM_CSM, POLICY, TIME_ZONE};
use crate::intake::ColumnMap;
use serde::Serialize;

/// What one upload did to one building.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BuildingChange {
    pub building: String,
    pub name: String,
    /// Not known before this upload.
    pub new: bool,
    /// One line per changed value: `Address: “1 Main St” → “2 Main St”`.
    pub changes: Vec<String>,
    /// Optional columns the file did not have, whose stored values were kept.
    pub kept: Vec<&'static str>,
}

/// `read` (a row of the file) over `stored` (what the table holds): the columns the file does not
/// have keep their stored values. Returns the building to store and what changed.
pub fn merge(map: &ColumnMap, mut read: Building, stored: Option<&Building>) -> (Building, BuildingChange) {
    let mut kept = Vec::new();
    if let Some(stored) = stored {
        if !map.has(ENVOY_AE) {
            read.envoy_account_executive = stored.envoy_account_executive.clone();
            kept.push(label(ENVOY_AE));
        }
        if !map.has(PLATFORM_CSM) {
            read.platform_csm = stored.platform_csm.clone();
            kept.push(label(PLATFORM_CSM));
        }
        if !map.has(POLICY) {
            read.tile_policy = stored.tile_policy;
            kept.push(label(POLICY));
        }
        if !map.has(ALIASES) {
            read.aliases = stored.aliases.clone();
            kept.push(label(ALIASES));
        }
        if !map.has(TIME_ZONE) {
            read.time_zone = stored.time_zone.clone();
            kept.push(label(TIME_ZONE));
        }
    }
    let changes = stored.map(|stored| changes(stored, &read)).unwrap_or_default();
    let change = BuildingChange { building: read.id.to_string(), name: read.name.clone(), new: stored.is_none(), changes, kept };
    (read, change)
}

/// A field's label in the buildings file.
fn label(field: usize) -> &'static str {
    BUILDING_COLUMNS[field].label
}

fn changes(before: &Building, after: &Building) -> Vec<String> {
    let email = |e: &Option<crate::values::Email>| e.as_ref().map_or(String::new(), |e| e.as_str().to_string());
    let fields = [
        (NAME, before.name.clone(), after.name.clone()),
        (ADDRESS, before.address.clone(), after.address.clone()),
        (ENVOY_CSM, before.envoy_csm.as_str().to_string(), after.envoy_csm.as_str().to_string()),
        (ENVOY_AE, email(&before.envoy_account_executive), email(&after.envoy_account_executive)),
        (PLATFORM_CSM, email(&before.platform_csm), email(&after.platform_csm)),
        (POLICY, before.tile_policy.as_str().to_string(), after.tile_policy.as_str().to_string()),
        (ALIASES, before.aliases.join("; "), after.aliases.join("; ")),
        (TIME_ZONE, before.time_zone.clone().unwrap_or_default(), after.time_zone.clone().unwrap_or_default()),
    ];
    fields.into_iter().filter(|(_, b, a)| b != a).map(|(field, b, a)| format!("{}: “{b}” → “{a}”", label(field))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::building::{building_from_row, TilePolicy};
    use crate::intake::RawRow;

    const ID: &str = "3f2b8c1e-0d4a-4c8e-9a51-2f6d7e8b9c10";

    fn read(headers: &[&str], cells: &[&str]) -> (ColumnMap, Building) {
        let map = ColumnMap::resolve(BUILDING_COLUMNS, &headers.iter().map(|h| h.to_string()).collect::<Vec<_>>()).unwrap();
        let row = RawRow { number: 2, cells: cells.iter().map(|c| c.to_string()).collect() };
        let building = building_from_row(&map, &row).unwrap();
        (map, building)
    }

    #[test]
    fn columns_left_out_keep_their_stored_values_and_present_ones_change() {
        let (_, stored) = read(
            &[
                "Building UUID",
                "Building Name",
                "Address",
                "Envoy CSM Email",
                "Envoy Account Executive Email",
                "Platform CSM Email",
                "Tile Policy",
                "Aliases",
            ],
            &[ID, "One Market", "1 Market St", "csm@envoy.com", "ae@envoy.com", "pcsm@hqo.example", "everyone", "1MKT; Market Tower"],
        );
        let (map, again) = read(
            &["Building UUID", "Building Name", "Address", "Envoy CSM Email"],
            &[ID, "One Market", "1 Market Street", "csm@envoy.com"],
        );
        assert_eq!(again.tile_policy, TilePolicy::Permissioned, "read alone, a missing policy column means the default");
        let (merged, change) = merge(&map, again, Some(&stored));
        assert_eq!(merged.tile_policy, TilePolicy::Everyone);
        assert_eq!(merged.aliases, ["1MKT", "Market Tower"]);
        assert_eq!(merged.envoy_account_executive, stored.envoy_account_executive);
        assert_eq!(merged.platform_csm, stored.platform_csm);
        assert_eq!(change.changes, ["Address: “1 Market St” → “1 Market Street”"]);
        assert_eq!(change.kept, ["Envoy Account Executive Email", "Platform CSM Email", "Tile Policy", "Aliases", "Time Zone"]);
        assert!(!change.new);

        // A present column changes its value, even to empty.
        let (map, cleared) = read(
            &["Building UUID", "Building Name", "Address", "Envoy CSM Email", "Aliases"],
            &[ID, "One Market", "1 Market St", "csm@envoy.com", ""],
        );
        let (merged, change) = merge(&map, cleared, Some(&stored));
        assert!(merged.aliases.is_empty());
        assert_eq!(change.changes, ["Aliases: “1MKT; Market Tower” → “”"]);

        let (map, first) =
            read(&["Building UUID", "Building Name", "Address", "Envoy CSM Email"], &[ID, "One Market", "1 Market St", "csm@envoy.com"]);
        let (_, change) = merge(&map, first, None);
        assert!(change.new && change.changes.is_empty() && change.kept.is_empty());
    }
}
