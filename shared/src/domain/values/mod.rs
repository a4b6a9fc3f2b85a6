//! Validated values. Their constructors are the only way in, so an invalid e-mail address or
//! phone number cannot exist past the edge of the system.

use serde::{Deserialize, Serialize};
use std::fmt;

mod email;
mod phone;

pub use email::{Email, EmailError};
pub use phone::{Phone, PhoneRegion};

/// A building's UUID, lower-case and hyphenated. It is also a path segment of S3 keys, so only
/// a real UUID gets in.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct BuildingId(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("“{0}” is not a building UUID (expected something like 3f2b8c1e-0d4a-4c8e-9a51-2f6d7e8b9c10)")]
pub struct BuildingIdError(pub String);

impl BuildingId {
    pub fn parse(raw: &str) -> Result<Self, BuildingIdError> {
        let trimmed = raw.trim();
        uuid::Uuid::try_parse(trimmed)
            // Written into a buffer: `to_string` went through the formatter, most of the cost.
            .map(|id| Self(id.hyphenated().encode_lower(&mut [0; uuid::fmt::Hyphenated::LENGTH]).to_string()))
            .map_err(|_| BuildingIdError(crate::text::preview(trimmed, 60)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for BuildingId {
    type Error = BuildingIdError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<BuildingId> for String {
    fn from(value: BuildingId) -> Self {
        value.0
    }
}

/// Lets a map keyed by `BuildingId` be searched with the stored text form (same hash and order).
impl std::borrow::Borrow<str> for BuildingId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for BuildingId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Whether a user in a migration export is active.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Active,
    Inactive,
}

impl Status {
    /// Accepts the usual synonyms; `None` for anything else.
    pub fn parse(raw: &str) -> Option<Self> {
        crate::text::with_header_key(raw, |key| match key {
            "active" | "enabled" | "yes" | "y" | "1" | "true" | "on" | "current" => Some(Self::Active),
            "inactive" | "disabled" | "no" | "n" | "0" | "false" | "off" | "deactivated" | "suspended" | "terminated" => {
                Some(Self::Inactive)
            }
            _ => None,
        })
    }
}

/// A migration's id: it names a folder of S3 keys, so it is restricted to a safe alphabet.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct MigrationId(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("“{0}” is not a usable migration id: use 1 to 64 letters, digits, '-' or '_'")]
pub struct MigrationIdError(pub String);

impl MigrationId {
    pub fn parse(raw: &str) -> Result<Self, MigrationIdError> {
        let ok = !raw.is_empty()
            && raw.len() <= 64
            && raw.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            && !raw.starts_with('-');
        if ok {
            Ok(Self(raw.to_string()))
        } else {
            Err(MigrationIdError(crate::text::preview(raw, 60)))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for MigrationId {
    type Error = MigrationIdError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<MigrationId> for String {
    fn from(value: MigrationId) -> Self {
        value.0
    }
}

impl fmt::Display for MigrationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_synonyms() {
        for s in ["Active", "enabled", "YES", "1", "true"] {
            assert_eq!(Status::parse(s), Some(Status::Active), "{s}");
        }
        for s in ["Inactive", "disabled", "no", "0", "Deactivated"] {
            assert_eq!(Status::parse(s), Some(Status::Inactive), "{s}");
        }
        assert_eq!(Status::parse("maybe"), None);
        assert_eq!(Status::parse(""), None);
    }

    #[test]
    fn building_ids_are_uuids_only() {
        let id = BuildingId::parse(" 3F2B8C1E-0D4A-4C8E-9A51-2F6D7E8B9C10 ").unwrap();
        assert_eq!(id.as_str(), "3f2b8c1e-0d4a-4c8e-9a51-2f6d7e8b9c10");
        assert!(BuildingId::parse("../../etc/passwd").is_err());
        assert!(BuildingId::parse("").is_err());
    }

    #[test]
    fn migration_ids_are_path_safe() {
        assert!(MigrationId::parse("acme-2026_q4").is_ok());
        for bad in ["", "../x", "a/b", "a b", "-x", &"x".repeat(65)] {
            assert!(MigrationId::parse(bad).is_err(), "{bad:?}");
        }
    }
}
