//! The platform's existing users, from a platform-users export (a snapshot): who is already on
//! the platform, with which roles and buildings, so a plan gives them `add_roles` or
//! `no_change`, never a second account and invite.

use crate::values::{BuildingId, Email};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use time::OffsetDateTime;

/// Where a platform user was read: the snapshot's file, its row, and when it was loaded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotMark {
    pub file: String,
    pub row: u64,
    #[serde(with = "crate::moment::serde_rfc3339")]
    pub at: OffsetDateTime,
}

/// One user of a snapshot, merged over the rows with their address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformUser {
    pub email: Email,
    pub first_name: String,
    pub last_name: String,
    /// Platform roles, as the platform names them.
    pub roles: BTreeSet<String>,
    pub buildings: BTreeSet<BuildingId>,
    pub snapshot: SnapshotMark,
}

/// A user the last snapshot holds, and where it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlatformMember {
    pub email: Email,
    pub snapshot: SnapshotMark,
}
