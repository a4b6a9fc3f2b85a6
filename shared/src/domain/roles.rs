//! The platform's role guide (role → capabilities) and the role-mapping matrix (old role →
//! platform roles, optionally with the old role's capabilities, to find gaps).

use crate::intake::{ColumnMap, ColumnSpec, RawRow};
use crate::issue::{FileRejection, Issue, IssueCode, RejectionCode};
use crate::text::{header_key, single_line, split_multi};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};

pub const GUIDE_COLUMNS: &[ColumnSpec] = &[
    ColumnSpec::new("Role", &["platformrole", "name"], true),
    ColumnSpec::new("Capabilities", &["capability", "permissions"], true),
    ColumnSpec::new("Description", &[], false),
];

pub const MATRIX_COLUMNS: &[ColumnSpec] = &[
    ColumnSpec::new("Old Role", &["oldrole", "legacyrole", "sourcerole", "role"], true),
    ColumnSpec::new("Platform Roles", &["platformrole", "newroles", "maps to", "mapsto"], true),
    ColumnSpec::new("Old Capabilities", &["oldcapability", "capabilities"], false),
];

/// A platform role as the role guide defines it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlatformRole {
    pub name: String,
    pub capabilities: BTreeSet<String>,
    pub description: String,
}

#[derive(Debug, Clone, Default)]
pub struct RoleGuide {
    roles: BTreeMap<String, PlatformRole>,
}

impl RoleGuide {
    pub fn from_rows(map: &ColumnMap, rows: impl IntoIterator<Item = RawRow>) -> Result<Self, FileRejection> {
        let mut roles = BTreeMap::new();
        for row in rows {
            let name = single_line(map.cell(&row, 0));
            if name.is_empty() {
                return Err(config_error("role guide", row.number, "Role", "is empty"));
            }
            let capabilities = split_multi(map.cell(&row, 1)).map(header_key).collect();
            let role = PlatformRole { name: name.clone(), capabilities, description: single_line(map.cell(&row, 2)) };
            if roles.insert(header_key(&name), role).is_some() {
                return Err(config_error("role guide", row.number, "Role", &format!("“{name}” is listed twice")));
            }
        }
        Ok(Self { roles })
    }

    pub fn get(&self, name: &str) -> Option<&PlatformRole> {
        self.roles.get(&header_key(name))
    }

    pub fn roles(&self) -> impl Iterator<Item = &PlatformRole> {
        self.roles.values()
    }

    pub fn is_empty(&self) -> bool {
        self.roles.is_empty()
    }
}

/// One line of the matrix, with the gap worked out against the guide.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RoleMapping {
    pub old_role: String,
    pub platform_roles: Vec<String>,
    pub old_capabilities: BTreeSet<String>,
    /// Capabilities the old role had that none of its platform roles give.
    pub gap: BTreeSet<String>,
}

#[derive(Debug, Clone, Default)]
pub struct RoleMatrix {
    /// By the old role's header key: looked up for every role of every user of an export.
    mappings: HashMap<String, RoleMapping, foldhash::fast::RandomState>,
    /// The header keys in order: the matrix's order, as reports list it.
    keys: Vec<String>,
}

impl RoleMatrix {
    /// Reads the matrix; every platform role it names must be in the guide.
    pub fn from_rows(map: &ColumnMap, rows: impl IntoIterator<Item = RawRow>, guide: &RoleGuide) -> Result<Self, FileRejection> {
        let mut mappings = BTreeMap::new();
        for row in rows {
            let old_role = single_line(map.cell(&row, 0));
            if old_role.is_empty() {
                return Err(config_error("role-mapping matrix", row.number, "Old Role", "is empty"));
            }
            let mut platform_roles = Vec::new();
            let mut given = BTreeSet::new();
            if split_multi(map.cell(&row, 1)).next().is_none() {
                return Err(config_error(
                    "role-mapping matrix",
                    row.number,
                    "Platform Roles",
                    &format!("is empty for the old role “{old_role}”: every old role maps to at least one platform role (the role guide lists them)"),
                ));
            }
            for name in split_multi(map.cell(&row, 1)) {
                let role = guide.get(name).ok_or_else(|| {
                    config_error(
                        "role-mapping matrix",
                        row.number,
                        "Platform Roles",
                        &format!("names “{name}”, which is not in the role guide"),
                    )
                })?;
                if !platform_roles.contains(&role.name) {
                    platform_roles.push(role.name.clone());
                    given.extend(role.capabilities.iter().cloned());
                }
            }
            let old_capabilities: BTreeSet<String> = split_multi(map.cell(&row, 2)).map(header_key).collect();
            let gap = old_capabilities.difference(&given).cloned().collect();
            let mapping = RoleMapping { old_role: old_role.clone(), platform_roles, old_capabilities, gap };
            if mappings.insert(header_key(&old_role), mapping).is_some() {
                return Err(config_error("role-mapping matrix", row.number, "Old Role", &format!("“{old_role}” is listed twice")));
            }
        }
        let keys = mappings.keys().cloned().collect();
        Ok(Self { mappings: mappings.into_iter().collect(), keys })
    }

    /// The mapping of an old role, matched case-, space- and punctuation-insensitively.
    pub fn get(&self, old_role: &str) -> Option<&RoleMapping> {
        crate::text::with_header_key(old_role, |key| self.mappings.get(key))
    }

    pub fn mappings(&self) -> impl Iterator<Item = &RoleMapping> {
        self.keys.iter().filter_map(|key| self.mappings.get(key))
    }

    /// The mappings of the old roles a file uses (`in_use`: their header keys), in matrix order.
    pub fn used<'a>(&'a self, in_use: &'a BTreeSet<String>) -> impl Iterator<Item = &'a RoleMapping> {
        self.keys.iter().filter(|key| in_use.contains(*key)).filter_map(|key| self.mappings.get(key))
    }

    /// One warning per old role a file uses (`in_use`: their header keys) whose platform roles
    /// do not give all its capabilities. Roles the file does not use are not reported.
    pub fn gap_issues(&self, in_use: &BTreeSet<String>) -> Vec<Issue> {
        self.used(in_use)
            .filter(|mapping| !mapping.gap.is_empty())
            .map(|mapping| {
                Issue::warning(
                    IssueCode::CapabilityGap,
                    format!(
                        "Users with the old role “{}” lose {} on the platform ({} do not give it). Map the role to a platform role that does, or accept the gap.",
                        mapping.old_role,
                        mapping.gap.iter().cloned().collect::<Vec<_>>().join(", "),
                        mapping.platform_roles.join(", ")
                    ),
                )
                .in_column("Role(s)")
                .with_value(&mapping.old_role)
            })
            .collect()
    }
}

fn config_error(file: &str, row: u64, column: &str, problem: &str) -> FileRejection {
    FileRejection::new(
        RejectionCode::InvalidConfig,
        format!("The {file}, row {row}, column “{column}” {problem}. Fix the configuration file and load it again."),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(data: &[&[&str]]) -> Vec<RawRow> {
        data.iter()
            .enumerate()
            .map(|(i, cells)| RawRow { number: i as u64 + 2, cells: cells.iter().map(|c| c.to_string()).collect() })
            .collect()
    }

    fn guide() -> RoleGuide {
        let headers = vec!["Role".to_string(), "Capabilities".into()];
        let map = ColumnMap::resolve(GUIDE_COLUMNS, &headers).unwrap();
        RoleGuide::from_rows(
            &map,
            rows(&[
                &["Visitor Registration Host", "register_visitors"],
                &["Visitor Registration Administrator", "register_visitors; manage_visitors; view_visitor_log"],
            ]),
        )
        .unwrap()
    }

    fn matrix_headers() -> ColumnMap {
        let headers = vec!["Old Role".to_string(), "Platform Roles".into(), "Old Capabilities".into()];
        ColumnMap::resolve(MATRIX_COLUMNS, &headers).unwrap()
    }

    #[test]
    fn gaps_are_old_capabilities_no_platform_role_gives() {
        let guide = guide();
        let matrix = RoleMatrix::from_rows(
            &matrix_headers(),
            rows(&[
                &["Front Desk", "visitor registration host", "register_visitors; print_badges"],
                &["Admin", "Visitor Registration Administrator|Visitor Registration Host", "Manage Visitors"],
            ]),
            &guide,
        )
        .unwrap();
        let desk = matrix.get("front-desk").unwrap();
        assert_eq!(desk.platform_roles, ["Visitor Registration Host"]);
        assert_eq!(desk.gap.iter().collect::<Vec<_>>(), ["printbadges"]);
        assert!(matrix.get("ADMIN").unwrap().gap.is_empty());
        assert!(matrix.get("Janitor").is_none());
    }

    #[test]
    fn a_matrix_naming_an_unknown_platform_role_is_refused() {
        let err = RoleMatrix::from_rows(&matrix_headers(), rows(&[&["Desk", "Receptionist", ""]]), &guide()).unwrap_err();
        assert!(err.message.contains("row 2"), "{}", err.message);
        assert!(err.message.contains("Receptionist"), "{}", err.message);
    }

    #[test]
    fn an_old_role_mapped_to_no_platform_role_is_refused_naming_the_row() {
        let err = RoleMatrix::from_rows(
            &matrix_headers(),
            rows(&[&["Desk", "Visitor Registration Host", ""], &["Janitor", " ; ", ""]]),
            &guide(),
        )
        .unwrap_err();
        assert_eq!(err.code, "invalid_config");
        assert!(
            err.message.contains("row 3") && err.message.contains("Janitor") && err.message.contains("Platform Roles"),
            "{}",
            err.message
        );
    }

    #[test]
    fn gaps_are_reported_for_the_old_roles_a_file_uses_only() {
        let matrix = RoleMatrix::from_rows(
            &matrix_headers(),
            rows(&[
                &["Front Desk", "Visitor Registration Host", "register_visitors; print_badges"],
                &["Employee", "Visitor Registration Host", "register_visitors"],
            ]),
            &guide(),
        )
        .unwrap();
        // Employee shares Front Desk's platform role, but a file of employees loses nothing.
        assert!(matrix.gap_issues(&BTreeSet::from(["employee".to_string()])).is_empty());
        let gaps = matrix.gap_issues(&BTreeSet::from(["employee".to_string(), "frontdesk".to_string()]));
        assert_eq!(gaps.len(), 1);
        assert_eq!((gaps[0].code, gaps[0].value.as_str()), (IssueCode::CapabilityGap, "Front Desk"));
    }
}
