//! Validated values. Their constructors are the only way in, so an invalid e-mail address or
//! phone number cannot exist past the edge of the system.

use serde::{Deserialize, Serialize};
use std::fmt;

mod email;

pub use email::{Email, EmailError};

/// A phone number in E.164 form (`+14155550123`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Phone(String);

/// How many parsed numbers a thread remembers (see [`Phone::parse`]): a few MB at most.
pub const PHONES_REMEMBERED: usize = 50_000;

thread_local! {
    static PHONES: std::cell::RefCell<PhoneMemo> = std::cell::RefCell::new(PhoneMemo::default());
}

/// Parsed numbers of one region by their text (another region starts afresh).
#[derive(Default)]
struct PhoneMemo {
    region: Option<phonenumber::country::Id>,
    parsed: std::collections::HashMap<Box<str>, Option<Phone>>,
}

/// The region used for numbers written without a country code, e.g. `US` or `GB`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PhoneRegion(phonenumber::country::Id);

impl PhoneRegion {
    pub fn parse(code: &str) -> Option<Self> {
        code.trim().to_uppercase().parse().ok().map(Self)
    }
}

impl Default for PhoneRegion {
    fn default() -> Self {
        Self(phonenumber::country::Id::US)
    }
}

impl Phone {
    /// Parses a number as people write it (`(415) 555-0123`, `+44 20 7946 0958`, `0044…`).
    ///
    /// Parsing and validating a number against the numbering plans costs tens of microseconds,
    /// most of a tenant file's time, and files repeat numbers (a building's front desk, a
    /// company's switchboard): each thread remembers the last [`PHONES_REMEMBERED`] answers.
    pub fn parse(raw: &str, region: PhoneRegion) -> Option<Self> {
        let raw = raw.trim();
        if raw.len() > 40 {
            return None;
        }
        PHONES.with(|cell| {
            let mut memo = cell.borrow_mut();
            if memo.region != Some(region.0) || memo.parsed.len() >= PHONES_REMEMBERED {
                memo.parsed.clear();
                memo.region = Some(region.0);
            }
            if let Some(known) = memo.parsed.get(raw) {
                return known.clone();
            }
            let parsed = Self::parse_uncached(raw, region);
            memo.parsed.insert(Box::from(raw), parsed.clone());
            parsed
        })
    }

    fn parse_uncached(raw: &str, region: PhoneRegion) -> Option<Self> {
        let number = phonenumber::parse(Some(region.0), raw).ok()?;
        if !phonenumber::is_valid(&number) {
            return None;
        }
        Some(Self(number.format().mode(phonenumber::Mode::E164).to_string()))
    }

    /// Trusts a value that was stored in E.164 form by this program.
    pub fn from_stored(e164: String) -> Self {
        Self(e164)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

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
            .map(|id| Self(id.hyphenated().to_string()))
            .map_err(|_| BuildingIdError(crate::domain::text::preview(trimmed, 60)))
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
        crate::domain::text::with_header_key(raw, |key| match key {
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
            Err(MigrationIdError(crate::domain::text::preview(raw, 60)))
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
    fn phones_become_e164_with_the_default_region() {
        let us = PhoneRegion::parse("us").unwrap();
        assert_eq!(Phone::parse("(415) 555-2671", us).unwrap().as_str(), "+14155552671");
        assert_eq!(Phone::parse("+44 20 7946 0958", us).unwrap().as_str(), "+442079460958");
        let gb = PhoneRegion::parse("GB").unwrap();
        assert_eq!(Phone::parse("020 7946 0958", gb).unwrap().as_str(), "+442079460958");
        assert!(Phone::parse("12", us).is_none());
        assert!(Phone::parse("call me", us).is_none());
    }

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
