//! The counts of one migration plan: what `summary.json` holds and the CLI prints.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The counts of one migration plan, as written to `summary.json` and printed by the CLI.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct PlanSummary {
    pub migration: String,
    pub source: String,
    pub rows: u64,
    pub accepted: u64,
    pub rejected: u64,
    pub duplicates_merged: u64,
    pub inactive_skipped: u64,
    pub actions: BTreeMap<String, u64>,
    pub issues_by_code: BTreeMap<String, u64>,
    pub errors: u64,
    pub warnings: u64,
    pub plan_sha256: String,
    pub planned_at: String,
    pub outputs: Vec<String>,
    /// Columns read by a rule weaker than their label ("Column “Work E-mail” (column C) read as Email …").
    #[serde(default)]
    pub columns_read_as: Vec<String>,
    /// The matrix's old roles this export uses (capability gaps are reported for these only).
    #[serde(default)]
    pub old_roles_used: Vec<String>,
}
