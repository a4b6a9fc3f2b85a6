//! The migration plan: what happens to each user, decided from the merged export, the role
//! matrix, the buildings and the users the platform already has. Pure: the caller looks the
//! existing users up and writes the outputs.

use crate::domain::building::BuildingDirectory;
use crate::domain::issue::{Issue, IssueCode};
use crate::domain::migration::MergedUser;
use crate::domain::roles::RoleMatrix;
use crate::domain::sheet::SafeCsvWriter;
use crate::domain::values::{BuildingId, Email, Status};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::io::Write;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    CreateAndInvite,
    AddRoles,
    NoChange,
    SkipInactive,
    Hold,
}

impl Action {
    pub const ALL: [Action; 5] = [Self::CreateAndInvite, Self::AddRoles, Self::NoChange, Self::SkipInactive, Self::Hold];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::CreateAndInvite => "create_and_invite",
            Self::AddRoles => "add_roles",
            Self::NoChange => "no_change",
            Self::SkipInactive => "skip_inactive",
            Self::Hold => "hold",
        }
    }
}

/// A user the platform already has: what they keep.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ExistingUser {
    pub roles: BTreeSet<String>,
    pub buildings: BTreeSet<BuildingId>,
}

/// A building as the plan names it (the name as it was at planning time).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct BuildingRef {
    pub id: BuildingId,
    pub name: String,
}

/// One line of the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanEntry {
    pub email: Email,
    pub first_name: String,
    pub last_name: String,
    pub action: Action,
    /// Why the user is on hold (or other context), in words.
    pub reason: String,
    /// Platform roles the export maps to.
    pub platform_roles: Vec<String>,
    pub current_roles: Vec<String>,
    pub added_roles: Vec<String>,
    pub buildings: Vec<BuildingRef>,
    pub added_buildings: Vec<BuildingRef>,
    pub rows: Vec<u64>,
    pub extras: Vec<String>,
}

/// Decides one user's action. Issues found here (unmapped roles, unknown buildings, ...) are
/// pushed to `issues`, stamped with the user's first row.
pub fn plan_user(
    user: MergedUser,
    matrix: &RoleMatrix,
    buildings: &BuildingDirectory,
    existing: Option<&ExistingUser>,
    issues: &mut Vec<Issue>,
) -> PlanEntry {
    let row = user.rows.first().copied().unwrap_or(0);
    let mut hold: Vec<String> = Vec::new();
    for code in &user.blocking {
        let reason = code.replace('_', " ");
        if !hold.contains(&reason) {
            hold.push(reason);
        }
    }
    let inactive = user.status == Some(Status::Inactive);

    let mut platform_roles: Vec<String> = Vec::new();
    if !inactive {
        if user.roles.is_empty() {
            hold.push("no role".into());
            issues.push(
                Issue::error(IssueCode::MissingRole, "The user has no role. Add their role(s) from the old system.")
                    .at_row(row)
                    .in_column("Role(s)"),
            );
        }
        for old in &user.roles {
            match matrix.get(old) {
                Some(mapping) => {
                    for role in &mapping.platform_roles {
                        if !platform_roles.contains(role) {
                            platform_roles.push(role.clone());
                        }
                    }
                }
                None => {
                    hold.push(format!("unmapped role “{old}”"));
                    issues.push(
                        Issue::error(IssueCode::UnmappedRole, format!("The role “{old}” is not in the role-mapping matrix. Add it to the matrix (or correct the role) and plan again."))
                            .at_row(row)
                            .in_column("Role(s)")
                            .with_value(old),
                    );
                }
            }
        }
    }

    let mut resolved: Vec<BuildingRef> = Vec::new();
    if !inactive {
        if user.buildings.is_empty() {
            hold.push("no building".into());
            issues.push(
                Issue::error(IssueCode::MissingBuilding, "The user has no building assignment. Add the building(s) they belong to.")
                    .at_row(row)
                    .in_column("Building assignments"),
            );
        }
        for reference in &user.buildings {
            match buildings.resolve(reference) {
                Some(id) => {
                    if !resolved.iter().any(|b| &b.id == id) {
                        resolved.push(BuildingRef { id: id.clone(), name: buildings.name(id).unwrap_or_default().to_string() });
                    }
                }
                None => {
                    let why = if buildings.is_ambiguous(reference) {
                        "matches more than one building; use the building's UUID"
                    } else {
                        "is not a known building; use its UUID, exact name or a known alias (or load the buildings file first)"
                    };
                    hold.push(format!("unknown building “{reference}”"));
                    issues.push(
                        Issue::error(IssueCode::UnknownBuilding, format!("“{reference}” {why}."))
                            .at_row(row)
                            .in_column("Building assignments")
                            .with_value(reference),
                    );
                }
            }
        }
    }

    let current_roles: Vec<String> = existing.map(|e| e.roles.iter().cloned().collect()).unwrap_or_default();
    let added_roles: Vec<String> = match existing {
        Some(e) => platform_roles.iter().filter(|r| !e.roles.contains(*r)).cloned().collect(),
        None => platform_roles.clone(),
    };
    let added_buildings: Vec<BuildingRef> = match existing {
        Some(e) => resolved.iter().filter(|b| !e.buildings.contains(&b.id)).cloned().collect(),
        None => resolved.clone(),
    };
    let (action, reason) = if inactive {
        issues.push(
            Issue::warning(IssueCode::InactiveSkipped, "The user is inactive in the old system and was not migrated.")
                .at_row(row)
                .in_column("Status"),
        );
        (Action::SkipInactive, "inactive in the old system".to_string())
    } else if !hold.is_empty() {
        (Action::Hold, hold.join("; "))
    } else if existing.is_none() {
        (Action::CreateAndInvite, String::new())
    } else if added_roles.is_empty() && added_buildings.is_empty() {
        (Action::NoChange, "already has every planned role and building".to_string())
    } else {
        (Action::AddRoles, "existing user keeps current access and gains the missing roles or buildings".to_string())
    };
    PlanEntry {
        email: user.email,
        first_name: user.first_name,
        last_name: user.last_name,
        action,
        reason,
        platform_roles,
        current_roles,
        added_roles,
        buildings: resolved,
        added_buildings,
        rows: user.rows,
        extras: user.extras,
    }
}

pub const PLAN_HEADERS: [&str; 12] = [
    "Row(s)",
    "Email",
    "First Name",
    "Last Name",
    "Action",
    "Reason",
    "Platform Roles",
    "Current Roles",
    "Roles To Add",
    "Buildings",
    "Buildings To Add",
    "Building UUIDs",
];

/// Writes `plan.csv` and returns its SHA-256 (hex): the value an approval must quote.
pub fn write_plan_csv<'a, W: Write>(
    sink: W,
    extra_headers: &[String],
    entries: impl IntoIterator<Item = &'a PlanEntry>,
) -> std::io::Result<String> {
    let mut hashing = HashingWriter { inner: sink, hasher: Sha256::new() };
    {
        let mut writer = SafeCsvWriter::new(&mut hashing);
        writer.row(PLAN_HEADERS.iter().copied().chain(extra_headers.iter().map(String::as_str)))?;
        for entry in entries {
            let names = |refs: &[BuildingRef]| refs.iter().map(|b| b.name.as_str()).collect::<Vec<_>>().join("; ");
            let ids = entry.buildings.iter().map(|b| b.id.as_str()).collect::<Vec<_>>().join("; ");
            let rows = entry.rows.iter().map(u64::to_string).collect::<Vec<_>>().join("; ");
            let fixed = [
                rows,
                entry.email.to_string(),
                entry.first_name.clone(),
                entry.last_name.clone(),
                entry.action.as_str().to_string(),
                entry.reason.clone(),
                entry.platform_roles.join("; "),
                entry.current_roles.join("; "),
                entry.added_roles.join("; "),
                names(&entry.buildings),
                names(&entry.added_buildings),
                ids,
            ];
            writer.row(fixed.iter().map(String::as_str).chain(entry.extras.iter().map(String::as_str)))?;
        }
        writer.finish()?;
    }
    hashing.inner.flush()?;
    Ok(hex::encode(hashing.hasher.finalize()))
}

struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

pub const ISSUE_HEADERS: [&str; 6] = ["Row", "Column", "Code", "Severity", "Value", "What to do"];

/// Writes `issues.csv`.
pub fn issues_csv(issues: &[Issue]) -> Vec<u8> {
    crate::domain::sheet::csv_bytes(
        &ISSUE_HEADERS,
        issues.iter().map(|i| {
            [
                i.row.map(|r| r.to_string()).unwrap_or_default(),
                i.column.clone().unwrap_or_default(),
                i.code.as_str().to_string(),
                match i.severity {
                    crate::domain::issue::Severity::Error => "error".to_string(),
                    crate::domain::issue::Severity::Warning => "warning".to_string(),
                },
                i.value.clone(),
                i.message.clone(),
            ]
        }),
    )
}

#[cfg(test)]
mod tests;
