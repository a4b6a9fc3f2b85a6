//! Buildings: the rows of a buildings file, their tile policy and Envoy phase, and resolving a
//! building named in another file by UUID, exact name or alias.

use crate::intake::{ColumnMap, ColumnSpec, RawRow};
use crate::issue::{Issue, IssueCode};
use crate::text::{header_key, single_line, split_multi};
use crate::values::{BuildingId, Email};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

pub(crate) const BUILDING_COLUMNS: &[ColumnSpec] = &[
    ColumnSpec::new("Building UUID", &["building id", "uuid", "id"], true),
    ColumnSpec::new("Building Name", &["name", "building", "property", "property name", "site", "site name"], true),
    ColumnSpec::new("Address", &["building address", "street address", "property address"], true),
    ColumnSpec::new("Envoy CSM Email", &["envoy csm", "envoy customer success manager email", "envoy customer success manager"], true),
    ColumnSpec::new("Envoy Account Executive Email", &["envoy ae", "envoy ae email", "envoy account executive"], false),
    ColumnSpec::new("Platform CSM Email", &["platform csm", "csm email", "platform customer success manager email"], false),
    ColumnSpec::new("Tile Policy", &["policy", "visitor registration policy", "tile visibility"], false),
    ColumnSpec::new("Aliases", &["alias", "other names", "aka", "also known as"], false),
    ColumnSpec::new("Time Zone", &["timezone", "tz", "iana time zone", "local time zone"], false),
];

/// The longest building name, address or alias accepted: a longer one is a broken file, and a
/// building's record must stay far below DynamoDB's 400 KB item limit.
const MAX_TEXT_CHARS: usize = 300;

pub const UUID: usize = 0;
pub(crate) const NAME: usize = 1;
pub(crate) const ADDRESS: usize = 2;
pub(crate) const ENVOY_CSM: usize = 3;
pub(crate) const ENVOY_AE: usize = 4;
pub(crate) const PLATFORM_CSM: usize = 5;
pub(crate) const POLICY: usize = 6;
pub(crate) const ALIASES: usize = 7;
pub(crate) const TIME_ZONE: usize = 8;

/// Who may see the Visitor Registration tile in a building.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum TilePolicy {
    /// Only people granted the tile see it (the default, and the safe choice).
    #[default]
    Permissioned,
    /// Everyone in the building sees it; people without Envoy access get an error on use.
    Everyone,
}

impl TilePolicy {
    pub fn parse(raw: &str) -> Option<Self> {
        match header_key(raw).as_str() {
            "" | "permissioned" | "permission" | "restricted" | "granted" => Some(Self::Permissioned),
            "everyone" | "all" | "open" | "public" => Some(Self::Everyone),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Permissioned => "permissioned",
            Self::Everyone => "everyone",
        }
    }
}

/// Where a building's Envoy integration stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    #[default]
    New,
    KickstartSent,
    AccountSetup,
    Testing,
    Live,
}

impl Phase {
    pub fn parse(raw: &str) -> Option<Self> {
        match header_key(raw).as_str() {
            "new" => Some(Self::New),
            "kickstartsent" => Some(Self::KickstartSent),
            "accountsetup" => Some(Self::AccountSetup),
            "testing" => Some(Self::Testing),
            "live" => Some(Self::Live),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::New => "new",
            Self::KickstartSent => "kickstart_sent",
            Self::AccountSetup => "account_setup",
            Self::Testing => "testing",
            Self::Live => "live",
        }
    }
}

/// A building as the buildings file describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Building {
    pub id: BuildingId,
    pub name: String,
    pub address: String,
    pub envoy_csm: Email,
    pub envoy_account_executive: Option<Email>,
    pub platform_csm: Option<Email>,
    pub tile_policy: TilePolicy,
    pub aliases: Vec<String>,
    /// The building's IANA time zone (`America/New_York`): an invite date means the configured
    /// local hour there. `None`: UTC.
    #[serde(default)]
    pub time_zone: Option<String>,
}

/// A building and where its integration stands, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildingState {
    pub building: Building,
    pub phase: Phase,
    /// When the phase was last changed.
    #[serde(with = "crate::moment::serde_rfc3339")]
    pub phase_changed_at: time::OffsetDateTime,
    pub kickstart_message_id: Option<String>,
}

/// Reads one row of a buildings file: a building, or the issues that keep it out.
pub fn building_from_row(map: &ColumnMap, row: &RawRow) -> Result<Building, Vec<Issue>> {
    let mut issues = Vec::new();
    let cell = |field| map.cell(row, field);
    let label = |field: usize| BUILDING_COLUMNS[field].label;
    let id = BuildingId::parse(cell(UUID)).map_err(|e| {
        issues.push(
            Issue::error(IssueCode::InvalidValue, format!("{e}. Copy the building's UUID from the platform's building settings."))
                .at_row(row.number)
                .in_column(label(UUID))
                .with_value(cell(UUID)),
        )
    });
    let mut text = |field: usize, what: &str| {
        let value = single_line(cell(field));
        if value.is_empty() {
            issues.push(
                Issue::error(IssueCode::MissingValue, format!("The {what} is empty. Fill it in and upload the file again."))
                    .at_row(row.number)
                    .in_column(label(field)),
            );
        } else if value.chars().count() > MAX_TEXT_CHARS {
            issues.push(
                Issue::error(
                    IssueCode::ValueTooLong,
                    format!("The {what} is longer than {MAX_TEXT_CHARS} characters. Check the row for a broken column and upload the file again."),
                )
                .at_row(row.number)
                .in_column(label(field))
                .with_value(&value),
            );
        }
        value
    };
    let name = text(NAME, "building name");
    let address = text(ADDRESS, "address");
    let mut email = |field: usize, required: bool| match (Email::parse(cell(field)), required) {
        (Ok(email), _) => Some(email),
        (Err(crate::values::EmailError::Empty), false) => None,
        (Err(_), _) => {
            let code = if cell(field).trim().is_empty() { IssueCode::MissingEmail } else { IssueCode::InvalidEmail };
            issues.push(
                Issue::error(code, format!("“{}” needs a valid e-mail address such as name@company.com.", label(field)))
                    .at_row(row.number)
                    .in_column(label(field))
                    .with_value(cell(field)),
            );
            None
        }
    };
    let envoy_csm = email(ENVOY_CSM, true);
    let envoy_account_executive = email(ENVOY_AE, false);
    let platform_csm = email(PLATFORM_CSM, false);
    let tile_policy = TilePolicy::parse(cell(POLICY)).unwrap_or_else(|| {
        issues.push(
            Issue::error(IssueCode::InvalidValue, "Tile Policy must be “permissioned” or “everyone” (empty means permissioned).")
                .at_row(row.number)
                .in_column(label(POLICY))
                .with_value(cell(POLICY)),
        );
        TilePolicy::Permissioned
    });
    let aliases: Vec<String> = split_multi(cell(ALIASES)).map(single_line).collect();
    if aliases.iter().any(|a| a.chars().count() > MAX_TEXT_CHARS) || aliases.len() > 50 {
        issues.push(
            Issue::error(IssueCode::ValueTooLong, format!("Give at most 50 aliases of at most {MAX_TEXT_CHARS} characters each."))
                .at_row(row.number)
                .in_column(label(ALIASES))
                .with_value(cell(ALIASES)),
        );
    }
    let zone_cell = cell(TIME_ZONE).trim();
    let time_zone = match crate::zone::parse_zone(zone_cell) {
        Some(zone) => Some(zone),
        None if zone_cell.is_empty() => None,
        None => {
            issues.push(
                Issue::error(
                    IssueCode::InvalidValue,
                    "The time zone is not one we know. Write an IANA name such as America/New_York, Europe/London or Asia/Singapore (empty means UTC).",
                )
                .at_row(row.number)
                .in_column(label(TIME_ZONE))
                .with_value(zone_cell),
            );
            None
        }
    };
    match (id, envoy_csm, issues.is_empty()) {
        (Ok(id), Some(envoy_csm), true) => {
            Ok(Building { id, name, address, envoy_csm, envoy_account_executive, platform_csm, tile_policy, aliases, time_zone })
        }
        _ => Err(issues),
    }
}

/// All known buildings, for resolving references by UUID, exact name or alias.
#[derive(Debug, Clone, Default)]
pub struct BuildingDirectory {
    // foldhash rather than SipHash: every building reference of a migration is looked up here,
    // and the keys come from our own buildings file.
    by_key: HashMap<String, Option<BuildingId>, foldhash::fast::RandomState>,
    names: HashMap<BuildingId, String, foldhash::fast::RandomState>,
}

impl BuildingDirectory {
    pub fn new<'a>(buildings: impl IntoIterator<Item = &'a Building>) -> Self {
        let mut directory = Self::default();
        for building in buildings {
            directory.names.insert(building.id.clone(), building.name.clone());
            for alias in std::iter::once(&building.name).chain(&building.aliases) {
                let key = header_key(alias);
                if key.is_empty() {
                    continue;
                }
                // A name two buildings share resolves to neither: the file must use the UUID.
                directory
                    .by_key
                    .entry(key)
                    .and_modify(|existing| {
                        if existing.as_ref() != Some(&building.id) {
                            *existing = None;
                        }
                    })
                    .or_insert_with(|| Some(building.id.clone()));
            }
        }
        directory
    }

    /// The building a cell names, by UUID, name or alias.
    pub fn resolve(&self, reference: &str) -> Option<&BuildingId> {
        // Looked up once per reference of a million-row export: the stored form first, then any
        // other spelling of a UUID, then names and aliases, none of it allocating on the way.
        let trimmed = reference.trim();
        if let Some((id, _)) = self.names.get_key_value(trimmed) {
            return Some(id);
        }
        if let Ok(uuid) = uuid::Uuid::try_parse(trimmed) {
            // The stored form (`BuildingId::parse`'s), written on the stack.
            let mut stored = [0u8; uuid::fmt::Hyphenated::LENGTH];
            return self.names.get_key_value(&*uuid.hyphenated().encode_lower(&mut stored)).map(|(id, _)| id);
        }
        crate::text::with_header_key(reference, |key| self.by_key.get(key)).and_then(Option::as_ref)
    }

    pub fn name(&self, id: &BuildingId) -> Option<&str> {
        self.names.get(id).map(String::as_str)
    }

    pub(crate) fn is_ambiguous(&self, reference: &str) -> bool {
        matches!(self.by_key.get(&header_key(reference)), Some(None))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map() -> ColumnMap {
        let headers: Vec<String> = BUILDING_COLUMNS.iter().map(|c| c.label.to_string()).collect();
        ColumnMap::resolve(BUILDING_COLUMNS, &headers).unwrap()
    }

    fn row(cells: &[&str]) -> RawRow {
        RawRow { number: 2, cells: cells.iter().map(|c| c.to_string()).collect() }
    }

    const ID: &str = "3f2b8c1e-0d4a-4c8e-9a51-2f6d7e8b9c10";

    #[test]
    fn a_complete_row_is_a_building() {
        let b =
            building_from_row(&map(), &row(&[ID, "One Market", "1 Market St", "csm@envoy.com", "", "", "Everyone", "1MKT; Market Tower"]))
                .unwrap();
        assert_eq!(b.tile_policy, TilePolicy::Everyone);
        assert_eq!(b.aliases, ["1MKT", "Market Tower"]);
        assert!(b.envoy_account_executive.is_none());
    }

    #[test]
    fn every_problem_of_a_row_is_reported() {
        let issues = building_from_row(&map(), &row(&["nope", "", "1 Market St", "csm-at-envoy", "bad", "", "sometimes", ""])).unwrap_err();
        let codes: Vec<_> = issues.iter().map(|i| (i.code, i.column.clone().unwrap().into_owned())).collect();
        assert_eq!(
            codes,
            [
                (IssueCode::InvalidValue, "Building UUID".to_string()),
                (IssueCode::MissingValue, "Building Name".into()),
                (IssueCode::InvalidEmail, "Envoy CSM Email".into()),
                (IssueCode::InvalidEmail, "Envoy Account Executive Email".into()),
                (IssueCode::InvalidValue, "Tile Policy".into()),
            ]
        );
        assert!(issues.iter().all(|i| i.row == Some(2)));
    }

    #[test]
    fn overlong_names_and_addresses_are_row_issues() {
        let long = "N".repeat(10_000);
        let issues = building_from_row(&map(), &row(&[ID, &long, &long, "c@envoy.com", "", "", "", ""])).unwrap_err();
        assert_eq!(issues.iter().map(|i| i.code).collect::<Vec<_>>(), [IssueCode::ValueTooLong, IssueCode::ValueTooLong]);
        assert!(issues[0].value.chars().count() <= 201);
    }

    #[test]
    fn buildings_resolve_by_uuid_name_or_alias_but_not_ambiguously() {
        let a = building_from_row(&map(), &row(&[ID, "One Market", "x", "c@envoy.com", "", "", "", "1MKT"])).unwrap();
        let mut b = a.clone();
        b.id = BuildingId::parse("9d1c3b5a-1111-4222-8333-444455556666").unwrap();
        b.name = "Two Market".into();
        b.aliases = vec!["1mkt".into()];
        let dir = BuildingDirectory::new([&a, &b]);
        assert_eq!(dir.resolve(&ID.to_uppercase()), Some(&a.id));
        assert_eq!(dir.resolve("one market"), Some(&a.id));
        assert_eq!(dir.resolve("TWO-MARKET"), Some(&b.id));
        assert_eq!(dir.resolve("1MKT"), None);
        assert!(dir.is_ambiguous("1MKT"));
        assert_eq!(dir.resolve("5a5a5a5a-1111-4222-8333-444455556666"), None);
    }
}
