//! The migration plan: what happens to each user, decided from the merged export, the role
//! matrix, the buildings and the users the platform already has. Pure: the caller looks the
//! existing users up and writes the outputs.

use crate::building::BuildingDirectory;
use crate::issue::{Issue, IssueCode};
#[cfg(test)]
use crate::migration::MergedUser;
use crate::migration::MergedView;
use crate::roles::RoleMatrix;
use crate::values::{BuildingId, Email, Status};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::collections::BTreeSet;

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
    /// The migration whose apply created the user (`None`: unknown, or not created by us).
    #[serde(default)]
    pub created_by: Option<crate::values::MigrationId>,
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

/// A building as a plan line names it, borrowed from the directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct BuildingLink<'a> {
    #[serde(serialize_with = "building_id_text")]
    pub id: &'a BuildingId,
    pub name: &'a str,
}

fn building_id_text<S: serde::Serializer>(id: &&BuildingId, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(id.as_str())
}

/// One line of the plan, borrowed from the merged user, the matrix, the directory and the
/// existing user: what planning produces and the outputs are written from, without copying a
/// string. It serialises exactly as the [`PlanEntry`] it stands for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlanLine<'a> {
    pub email: &'a str,
    pub first_name: &'a str,
    pub last_name: &'a str,
    pub action: Action,
    pub reason: Cow<'a, str>,
    pub platform_roles: Vec<&'a str>,
    pub current_roles: Vec<&'a str>,
    pub added_roles: Vec<&'a str>,
    pub buildings: Vec<BuildingLink<'a>>,
    pub added_buildings: Vec<BuildingLink<'a>>,
    pub rows: Cow<'a, [u64]>,
    pub extras: Cow<'a, [&'a str]>,
}

impl PlanLine<'_> {
    pub fn to_entry(&self) -> PlanEntry {
        let strings = |values: &[&str]| values.iter().map(|v| v.to_string()).collect::<Vec<_>>();
        let refs = |links: &[BuildingLink<'_>]| links.iter().map(|b| BuildingRef { id: b.id.clone(), name: b.name.to_string() }).collect();
        PlanEntry {
            email: Email::from_normalized(self.email.to_string()),
            first_name: self.first_name.to_string(),
            last_name: self.last_name.to_string(),
            action: self.action,
            reason: self.reason.to_string(),
            platform_roles: strings(&self.platform_roles),
            current_roles: strings(&self.current_roles),
            added_roles: strings(&self.added_roles),
            buildings: refs(&self.buildings),
            added_buildings: refs(&self.added_buildings),
            rows: self.rows.to_vec(),
            extras: strings(&self.extras),
        }
    }
}

impl PlanEntry {
    pub fn line(&self) -> PlanLine<'_> {
        fn strs(values: &[String]) -> Vec<&str> {
            values.iter().map(String::as_str).collect()
        }
        fn links(refs: &[BuildingRef]) -> Vec<BuildingLink<'_>> {
            refs.iter().map(|b| BuildingLink { id: &b.id, name: &b.name }).collect()
        }
        PlanLine {
            email: self.email.as_str(),
            first_name: &self.first_name,
            last_name: &self.last_name,
            action: self.action,
            reason: Cow::Borrowed(&self.reason),
            platform_roles: strs(&self.platform_roles),
            current_roles: strs(&self.current_roles),
            added_roles: strs(&self.added_roles),
            buildings: links(&self.buildings),
            added_buildings: links(&self.added_buildings),
            rows: Cow::Borrowed(&self.rows),
            extras: Cow::Owned(strs(&self.extras)),
        }
    }
}

/// Decides one user's action. Issues found here (unmapped roles, unknown buildings, ...) are
/// pushed to `issues`, stamped with the user's first row. For the tests: planning itself uses
/// [`plan_line_into`].
#[cfg(test)]
pub(crate) fn plan_user(
    user: MergedUser,
    matrix: &RoleMatrix,
    buildings: &BuildingDirectory,
    existing: Option<&ExistingUser>,
    issues: &mut Vec<Issue>,
) -> PlanEntry {
    plan_line(&user.view(), matrix, buildings, existing, issues).to_entry()
}

/// `plan_user` over a borrowed user, answering a borrowed line.
#[cfg(test)]
pub(crate) fn plan_line<'a>(
    user: &'a MergedView<'a>,
    matrix: &'a RoleMatrix,
    buildings: &'a BuildingDirectory,
    existing: Option<&'a ExistingUser>,
    issues: &mut Vec<Issue>,
) -> PlanLine<'a> {
    let mut line = PlanLine::default();
    plan_line_into(&mut line, user, matrix, buildings, existing, issues);
    line
}

/// Decides one user's action into `line`, reusing its lists (the hot path of planning). Issues
/// found here (unmapped roles, unknown buildings, ...) are pushed to `issues`, stamped with the
/// user's first row.
pub fn plan_line_into<'a>(
    line: &mut PlanLine<'a>,
    user: &'a MergedView<'a>,
    matrix: &'a RoleMatrix,
    buildings: &'a BuildingDirectory,
    existing: Option<&'a ExistingUser>,
    issues: &mut Vec<Issue>,
) {
    let row = user.rows.first().copied().unwrap_or(0);
    let mut hold: Vec<String> = Vec::new();
    for code in &user.blocking {
        let reason = code.replace('_', " ");
        if !hold.contains(&reason) {
            hold.push(reason);
        }
    }
    let inactive = user.status == Some(Status::Inactive);

    let mut platform_roles = std::mem::take(&mut line.platform_roles);
    platform_roles.clear();
    if !inactive {
        if user.roles.is_empty() {
            hold.push("no role".into());
            issues.push(
                Issue::error(IssueCode::MissingRole, "The user has no role. Add their role(s) from the old system.")
                    .at_row(row)
                    .in_column("Role(s)"),
            );
        }
        for &old in &user.roles {
            match matrix.get(old) {
                Some(mapping) => {
                    for role in &mapping.platform_roles {
                        if !platform_roles.contains(&role.as_str()) {
                            platform_roles.push(role);
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

    let mut resolved = std::mem::take(&mut line.buildings);
    resolved.clear();
    if !inactive {
        if user.buildings.is_empty() {
            hold.push("no building".into());
            issues.push(
                Issue::error(IssueCode::MissingBuilding, "The user has no building assignment. Add the building(s) they belong to.")
                    .at_row(row)
                    .in_column("Building assignments"),
            );
        }
        for &reference in &user.buildings {
            match buildings.resolve(reference) {
                Some(id) => {
                    if !resolved.iter().any(|b| b.id == id) {
                        resolved.push(BuildingLink { id, name: buildings.name(id).unwrap_or_default() });
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

    line.current_roles.clear();
    line.added_roles.clear();
    line.added_buildings.clear();
    if let Some(e) = existing {
        line.current_roles.extend(e.roles.iter().map(String::as_str));
    }
    line.added_roles.extend(platform_roles.iter().copied().filter(|r| existing.is_none_or(|e| !e.roles.contains(*r))));
    line.added_buildings.extend(resolved.iter().copied().filter(|b| existing.is_none_or(|e| !e.buildings.contains(b.id))));
    let (action, reason): (Action, Cow<'a, str>) = if inactive {
        issues.push(
            Issue::warning(IssueCode::InactiveSkipped, "The user is inactive in the old system and was not migrated.")
                .at_row(row)
                .in_column("Status"),
        );
        (Action::SkipInactive, Cow::Borrowed("inactive in the old system"))
    } else if !hold.is_empty() {
        (Action::Hold, Cow::Owned(hold.join("; ")))
    } else if existing.is_none() {
        (Action::CreateAndInvite, Cow::Borrowed(""))
    } else if line.added_roles.is_empty() && line.added_buildings.is_empty() {
        (Action::NoChange, Cow::Borrowed("already has every planned role and building"))
    } else {
        (Action::AddRoles, Cow::Borrowed("existing user keeps current access and gains the missing roles or buildings"))
    };
    line.email = &user.email;
    line.first_name = user.first_name;
    line.last_name = user.last_name;
    line.action = action;
    line.reason = reason;
    line.platform_roles = platform_roles;
    line.buildings = resolved;
    line.rows = Cow::Borrowed(&user.rows);
    line.extras = Cow::Borrowed(&user.extras);
}

impl Default for PlanLine<'_> {
    fn default() -> Self {
        PlanLine {
            email: "",
            first_name: "",
            last_name: "",
            action: Action::CreateAndInvite,
            reason: Cow::Borrowed(""),
            platform_roles: Vec::new(),
            current_roles: Vec::new(),
            added_roles: Vec::new(),
            buildings: Vec::new(),
            added_buildings: Vec::new(),
            rows: Cow::Borrowed(&[]),
            extras: Cow::Borrowed(&[]),
        }
    }
}

mod csv;
mod summary;

pub use csv::{issues_csv_part, CsvLines, PlanCsv};
pub use summary::PlanSummary;

#[cfg(test)]
mod tests;
