//! HTML reports. Everything goes through maud, which escapes every value.

use crate::issue::{Issue, Severity};
use crate::plan::{Action, PlanEntry, PlanSummary};
use crate::roles::RoleMatrix;
use maud::{html, Markup, DOCTYPE};

/// The most rows an HTML table shows; the CSV files hold everything.
pub const MAX_HTML_ROWS: usize = 2000;

pub fn page(title: &str, body: Markup) -> String {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) }
                style { (STYLE) }
            }
            body { h1 { (title) } (body) }
        }
    }
    .into_string()
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2rem;color:#1b1b1b}table{border-collapse:collapse;margin:1rem 0}th,td{border:1px solid #ccc;padding:.3rem .6rem;text-align:left;vertical-align:top}th{background:#f3f3f3}.error{color:#a40000}.warning{color:#8a5a00}.ok{color:#1d6b1d}.num{text-align:right}code{font-size:.9em}";

/// The columns read by a weaker rule than their label, as a list above the counts.
pub(crate) fn columns_read(readings: &[String]) -> Markup {
    html! {
        @if !readings.is_empty() {
            h2 { "How the columns were read" }
            ul { @for reading in readings { li { (reading) } } }
        }
    }
}

/// The first [`MAX_HTML_ROWS`] of `issues`, out of `total` in all.
pub(crate) fn issues_table(issues: &[Issue], total: usize) -> Markup {
    html! {
        @if issues.is_empty() {
            p class="ok" { "No issues." }
        } @else {
            table {
                tr { th { "Row" } th { "Column" } th { "Severity" } th { "Code" } th { "Value" } th { "What to do" } }
                @for issue in issues.iter().take(MAX_HTML_ROWS) {
                    tr {
                        td class="num" { (issue.row.map(|r| r.to_string()).unwrap_or_default()) }
                        td { (issue.column.clone().unwrap_or_default()) }
                        @match issue.severity {
                            Severity::Error => td class="error" { "error" },
                            Severity::Warning => td class="warning" { "warning" },
                        }
                        td { code { (issue.code.as_str()) } }
                        td { (issue.value) }
                        td { (issue.message) }
                    }
                }
            }
            @if total > MAX_HTML_ROWS {
                p { "Showing the first " (MAX_HTML_ROWS) " of " (total) " issues; issues.csv has them all." }
            }
        }
    }
}

/// `report.html` of a migration plan: counts, the role matrix with its gaps, existing vs new,
/// and every issue. `entries` are the plan's first lines (at least the [`MAX_HTML_ROWS`] shown,
/// or all of them), `users` how many lines the plan has in all; `issues` likewise the first
/// issues, of `issues_total`.
pub fn plan_report(
    summary: &PlanSummary,
    matrix: &RoleMatrix,
    entries: &[PlanEntry],
    users: usize,
    issues: &[Issue],
    issues_total: usize,
) -> String {
    let count = |action: Action| summary.actions.get(action.as_str()).copied().unwrap_or(0);
    let body = html! {
        p { "Source file: " code { (summary.source) } ". Planned " (crate::moment::text_for_people(&summary.planned_at)) "." }
        p { "Plan SHA-256 (quote it in the approval): " code { (summary.plan_sha256) } }
        (columns_read(&summary.columns_read_as))
        h2 { "Counts" }
        table {
            tr { th { "Rows read" } td class="num" { (summary.rows) } }
            tr { th { "Accepted" } td class="num" { (summary.accepted) } }
            tr { th { "Rejected (no usable e-mail)" } td class="num" { (summary.rejected) } }
            tr { th { "Duplicate rows merged" } td class="num" { (summary.duplicates_merged) } }
            tr { th { "Inactive users skipped" } td class="num" { (summary.inactive_skipped) } }
            @for action in Action::ALL {
                tr { th { "Action " code { (action.as_str()) } } td class="num" { (count(action)) } }
            }
            tr { th { "Errors / warnings" } td class="num" { (summary.errors) " / " (summary.warnings) } }
        }
        h2 { "Role mapping" }
        table {
            tr { th { "Old role" } th { "Platform roles" } th { "Old capabilities" } th { "Gap (not covered)" } }
            @for mapping in matrix.mappings() {
                tr {
                    td { (mapping.old_role) }
                    td { (mapping.platform_roles.join(", ")) }
                    td { (mapping.old_capabilities.iter().cloned().collect::<Vec<_>>().join(", ")) }
                    @if !summary.old_roles_used.contains(&mapping.old_role) { td { "(no user of this file has the role)" } }
                    @else if mapping.gap.is_empty() { td class="ok" { "none" } }
                    @else { td class="warning" { (mapping.gap.iter().cloned().collect::<Vec<_>>().join(", ")) } }
                }
            }
        }
        h2 { "Existing vs new users" }
        table {
            tr { th { "Email" } th { "Name" } th { "Action" } th { "Current roles" } th { "Roles to add" } th { "Buildings" } th { "Reason" } }
            @for entry in entries.iter().take(MAX_HTML_ROWS) {
                tr {
                    td { (entry.email) }
                    td { (entry.first_name) " " (entry.last_name) }
                    td { code { (entry.action.as_str()) } }
                    td { (entry.current_roles.join(", ")) }
                    td { (entry.added_roles.join(", ")) }
                    td { (entry.buildings.iter().map(|b| b.name.as_str()).collect::<Vec<_>>().join(", ")) }
                    td { (entry.reason) }
                }
            }
        }
        @if users > MAX_HTML_ROWS {
            p { "Showing the first " (MAX_HTML_ROWS) " of " (users) " users; plan.csv has them all." }
        }
        h2 { "Issues" }
        (issues_table(issues, issues_total))
    };
    page(&format!("Migration plan {}", summary.migration), body)
}

/// `report.html` of a buildings upload: what changed per building, and every issue.
pub fn buildings_report(
    source: &str,
    processed_at: time::OffsetDateTime,
    columns_read_as: &[String],
    changes: &[crate::building_update::BuildingChange],
    issues: &[Issue],
) -> String {
    let body = html! {
        p { "Source file: " code { (source) } ". Processed " (crate::moment::for_people(processed_at)) "." }
        (columns_read(columns_read_as))
        h2 { "Buildings" }
        table {
            tr { th { "Building" } th { "UUID" } th { "What changed" } th { "Kept (column not in the file)" } }
            @for change in changes.iter().take(MAX_HTML_ROWS) {
                tr {
                    td { (change.name) }
                    td { code { (change.building) } }
                    td {
                        @if change.new { "new building" }
                        @else if change.changes.is_empty() { span class="ok" { "no change" } }
                        @else { @for line in &change.changes { (line) br; } }
                    }
                    td { (change.kept.join(", ")) }
                }
            }
        }
        h2 { "Issues" }
        (issues_table(issues, issues.len()))
    };
    page("Buildings upload", body)
}

/// What one tenant-contacts upload did to a building's directory, for its `report.html`.
#[derive(Debug, Clone)]
pub struct TenantReport<'a> {
    pub building: &'a str,
    pub building_name: &'a str,
    pub source: &'a str,
    pub processed_at: time::OffsetDateTime,
    pub replace: bool,
    pub rows: u64,
    pub accepted: u64,
    pub rejected: u64,
    pub duplicates_merged: u64,
    /// People in the directory who were not in the last Envoy import file.
    pub added: u64,
    /// People in the directory who were in the last Envoy import file already.
    pub updated: u64,
    pub removed: u64,
    /// In the directory, not in the file, and kept (no replace mode).
    pub kept_not_in_file: u64,
    /// Kept by replace mode because their row is in the file, though rejected.
    pub kept_rejected: u64,
    /// Configured pinned people, "Name <address>": always in the Envoy import file.
    pub pinned: &'a [String],
    pub directory_size: u64,
    pub granted: u64,
    pub revoke_check: Option<&'a crate::tenants::RevokeCheck>,
    pub export_check: Option<&'a crate::tenants::RevokeCheck>,
    pub export_key: &'a str,
    pub columns_read_as: &'a [String],
}

/// `report.html` of a tenant-contacts upload: counts, the directory change with the guards'
/// figures, where the Envoy import file is, and every issue.
pub fn tenants_report(report: &TenantReport<'_>, issues: &[Issue]) -> String {
    let guard = |check: Option<&crate::tenants::RevokeCheck>| match check {
        None => "not applied".to_string(),
        Some(c) => format!(
            "{} of {} ({:.1} %) against the allowed {:.0} %{}",
            c.to_revoke,
            c.current,
            c.share_percent,
            c.threshold_percent,
            if c.allowed && c.share_percent > c.threshold_percent { ": forced" } else { "" }
        ),
    };
    let body = html! {
        p {
            "Building " strong { (report.building_name) } " (" code { (report.building) } "). Source file: " code { (report.source) }
            ". Processed " (crate::moment::for_people(report.processed_at)) "."
            @if report.replace { " Replace mode: contacts not in the file are removed." }
            @else { " Contacts not in the file are kept (no replace mode)." }
        }
        (columns_read(report.columns_read_as))
        h2 { "Counts" }
        table {
            tr { th { "Rows read" } td class="num" { (report.rows) } }
            tr { th { "Accepted" } td class="num" { (report.accepted) } }
            tr { th { "Rejected" } td class="num" { (report.rejected) } }
            tr { th { "Duplicate rows merged" } td class="num" { (report.duplicates_merged) } }
            tr { th { "Tile granted (permissioned building)" } td class="num" { (report.granted) } }
        }
        h2 { "Directory change" }
        table {
            tr { th { "Added (not in the last Envoy import file)" } td class="num" { (report.added) } }
            tr { th { "Already in the last Envoy import file" } td class="num" { (report.updated) } }
            tr { th { "Removed" } td class="num" { (report.removed) } }
            tr { th { "Kept: not in the file" } td class="num" { (report.kept_not_in_file) } }
            tr { th { "Kept: row rejected (replace mode keeps them)" } td class="num" { (report.kept_rejected) } }
            tr { th { "Directory now" } td class="num" { (report.directory_size) } }
        }
        h2 { "Guards" }
        table {
            tr { th { "Replace-mode guard (removed of known)" } td { (guard(report.revoke_check)) } }
            tr { th { "Envoy import guard (left out of the last file)" } td { (guard(report.export_check)) } }
        }
        h2 { "Envoy import file" }
        p { "Upload " code { (report.export_key) } " to Envoy's employee directory: it holds the building's whole directory." }
        @if !report.pinned.is_empty() {
            p { "Pinned (always in the file, never removed by replace mode; settings.json " code { "pinned_contacts" } "):" }
            ul { @for person in report.pinned { li { (person) } } }
        }
        h2 { "Issues" }
        (issues_table(issues, issues.len()))
    };
    page(&format!("Tenant contacts: {}", report.building_name), body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::issue::IssueCode;

    #[test]
    fn reports_escape_every_value() {
        let summary = PlanSummary { migration: "<b>m</b>".into(), ..PlanSummary::default() };
        let issue = Issue::error(IssueCode::InvalidEmail, "fix <script>alert(1)</script>").with_value("\"><img src=x onerror=alert(1)>");
        let html = plan_report(&summary, &RoleMatrix::default(), &[], 0, &[issue], 1);
        assert!(!html.contains("<script>alert"));
        assert!(!html.contains("<img src=x"));
        assert!(html.contains("&lt;b&gt;m&lt;/b&gt;"));
    }
}
