//! Every bucket key layout the product reads or writes, in one place: who reads it, who writes
//! it. The object grants in template.yaml follow from this list, and a test checks each
//! function's (and each person's) policy grants exactly these prefixes, nothing wider.

use crate::values::{BuildingId, MigrationId};

/// What performs a step on AWS: one Lambda function, or a person with a managed policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Actor {
    Ingest,
    DispatchInvites,
    ValidationReport,
    TileCheck,
    DeliveryFeedback,
    /// The function applying the parts of approved plans from the apply queue.
    ApplyPlan,
    /// A property manager or the implementation team dropping files (UploadersPolicy).
    Uploader,
    /// Whoever approves a migration plan (ApproversPolicy).
    Approver,
    /// Whoever maintains the configuration (OperatorsPolicy).
    Operator,
}

impl Actor {
    pub const ALL: [Actor; 9] = [
        Self::Ingest,
        Self::DispatchInvites,
        Self::ValidationReport,
        Self::TileCheck,
        Self::DeliveryFeedback,
        Self::ApplyPlan,
        Self::Uploader,
        Self::Approver,
        Self::Operator,
    ];

    /// The template's logical id of the resource whose policy this actor holds.
    pub fn template_resource(self) -> &'static str {
        match self {
            Self::Ingest => "IngestFunction",
            Self::DispatchInvites => "DispatchInvitesFunction",
            Self::ValidationReport => "ValidationReportFunction",
            Self::TileCheck => "TileCheckFunction",
            Self::DeliveryFeedback => "DeliveryFeedbackFunction",
            Self::ApplyPlan => "ApplyPlanFunction",
            Self::Uploader => "UploadersPolicy",
            Self::Approver => "ApproversPolicy",
            Self::Operator => "OperatorsPolicy",
        }
    }
}

/// One family of keys under a prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyLayout {
    /// Ends with `/`; every key of the family starts with it.
    pub prefix: &'static str,
    /// The keys, as a person would write them.
    pub layout: &'static str,
    pub what: &'static str,
    pub read_by: &'static [Actor],
    pub written_by: &'static [Actor],
}

use Actor::*;

pub const INBOX: &str = "inbox/";
pub const APPROVALS: &str = "approvals/";
pub(crate) const CONFIG: &str = "config/";
pub(crate) const USER_REPORTS: &str = "reports/users/";
pub(crate) const TENANT_REPORTS: &str = "reports/tenants/";
pub(crate) const BUILDING_REPORTS: &str = "reports/buildings/";
pub(crate) const VALIDATION_REPORTS: &str = "reports/validation/";
pub(crate) const PLATFORM_USER_REPORTS: &str = "reports/platform-users/";
pub(crate) const ENVOY_EXPORTS: &str = "exports/envoy/";
pub(crate) const QUARANTINE: &str = "quarantine/";

/// Every key layout of the bucket.
pub const LAYOUTS: &[KeyLayout] = &[
    KeyLayout {
        prefix: INBOX,
        layout: "inbox/buildings/<any>.csv|xlsx, inbox/tenants/<building-uuid>/[replace/][force/]<any>.csv|xlsx, inbox/users/<migration-id>/<any>.csv|xlsx, inbox/platform-users/[force/]<any>.csv|xlsx",
        what: "uploads: buildings, tenant contacts, user-migration exports, platform-users snapshots",
        read_by: &[Ingest],
        written_by: &[Uploader],
    },
    KeyLayout {
        prefix: APPROVALS,
        layout: "approvals/<migration-id>.json, approvals/<migration-id>.reschedule.json",
        what: "plan approvals (plan SHA-256, approver, invite date, exclusions) and invite date changes",
        read_by: &[Ingest],
        written_by: &[Approver],
    },
    KeyLayout {
        prefix: CONFIG,
        layout: "config/settings.json, config/role-guide.csv, config/role-matrix.csv",
        what: "configuration",
        read_by: &[Ingest, DispatchInvites, ValidationReport, DeliveryFeedback, ApplyPlan, Operator],
        written_by: &[Operator],
    },
    KeyLayout {
        prefix: USER_REPORTS,
        layout: "reports/users/<migration-id>/{plan.csv, plan.jsonl, issues.csv, summary.json, report.html}",
        what: "migration plans and their reports; apply and the validation report read plan.jsonl back",
        read_by: &[Ingest, ApplyPlan, ValidationReport, Uploader, Approver],
        written_by: &[Ingest],
    },
    KeyLayout {
        prefix: TENANT_REPORTS,
        layout: "reports/tenants/<building-uuid>/<stamp>-<file>/{issues.csv, summary.json, report.html}",
        what: "tenant-contact upload reports; ingest signs the links its notices carry",
        read_by: &[Ingest, Uploader],
        written_by: &[Ingest],
    },
    KeyLayout {
        prefix: BUILDING_REPORTS,
        layout: "reports/buildings/<stamp>-<file>/{issues.csv, summary.json, report.html}",
        what: "buildings upload reports; ingest signs the links its notices carry",
        read_by: &[Ingest, Uploader],
        written_by: &[Ingest],
    },
    KeyLayout {
        prefix: PLATFORM_USER_REPORTS,
        layout: "reports/platform-users/<stamp>-<file>/{issues.csv, summary.json}",
        what: "platform-users snapshot reports; ingest signs the links its notices carry",
        read_by: &[Ingest, Uploader],
        written_by: &[Ingest],
    },
    KeyLayout {
        prefix: VALIDATION_REPORTS,
        layout: "reports/validation/<date>/{report.html, report.csv, report.json}",
        what: "daily validation reports",
        read_by: &[Uploader],
        written_by: &[ValidationReport],
    },
    KeyLayout {
        prefix: ENVOY_EXPORTS,
        layout: "exports/envoy/<building-uuid>/envoy-employees.csv (latest) and envoy-employees-<stamp>.csv",
        what: "Envoy employee-import files; each tenant upload reads the latest to guard against mass removal",
        read_by: &[Ingest, Uploader],
        written_by: &[Ingest],
    },
    KeyLayout {
        prefix: QUARANTINE,
        layout: "quarantine/<uploaded key>.reason.json",
        what: "why an upload was refused",
        read_by: &[Uploader],
        written_by: &[Ingest],
    },
];

/// The prefixes `actor` reads (`write` false) or writes (`write` true).
pub fn prefixes(actor: Actor, write: bool) -> Vec<&'static str> {
    LAYOUTS.iter().filter(|l| if write { l.written_by } else { l.read_by }.contains(&actor)).map(|l| l.prefix).collect()
}

/// The folder of a migration's plan and reports.
pub fn user_report_folder(migration: &MigrationId) -> String {
    format!("{USER_REPORTS}{migration}")
}

/// The folder of one tenant upload's reports.
pub fn tenant_report_folder(building: &BuildingId, stamp: &str, stem: &str) -> String {
    format!("{TENANT_REPORTS}{building}/{stamp}-{stem}")
}

/// The folder of one buildings upload's reports.
/// The folder of one platform-users snapshot's report.
pub fn platform_report_folder(stamp: &str, stem: &str) -> String {
    format!("{PLATFORM_USER_REPORTS}{stamp}-{stem}")
}

pub fn building_report_folder(stamp: &str, stem: &str) -> String {
    format!("{BUILDING_REPORTS}{stamp}-{stem}")
}

/// The folder of one day's validation report.
pub fn validation_report_folder(date: &str) -> String {
    format!("{VALIDATION_REPORTS}{date}")
}

/// The building's latest Envoy import file.
pub fn envoy_export_latest(building: &BuildingId) -> String {
    format!("{ENVOY_EXPORTS}{building}/envoy-employees.csv")
}

/// The building's Envoy import file as written at `stamp`.
pub fn envoy_export_dated(building: &BuildingId, stamp: &str) -> String {
    format!("{ENVOY_EXPORTS}{building}/envoy-employees-{stamp}.csv")
}

/// Where the reason for a refused upload goes (`safe_key`: the key made path-safe).
pub fn quarantine_reason(safe_key: &str) -> String {
    format!("{QUARANTINE}{safe_key}.reason.json")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_layout_is_a_distinct_folder_with_a_writer() {
        for (i, layout) in LAYOUTS.iter().enumerate() {
            assert!(layout.prefix.ends_with('/'), "{}", layout.prefix);
            assert!(!layout.written_by.is_empty(), "{} has no writer", layout.prefix);
            for other in &LAYOUTS[i + 1..] {
                assert!(
                    !other.prefix.starts_with(layout.prefix) && !layout.prefix.starts_with(other.prefix),
                    "{} overlaps {}",
                    layout.prefix,
                    other.prefix
                );
            }
        }
        assert_eq!(prefixes(TileCheck, false), Vec::<&str>::new(), "tile-check reads no object");
        assert_eq!(prefixes(Uploader, true), [INBOX], "an uploader writes only the inbox");
        assert_eq!(prefixes(Approver, true), [APPROVALS]);
    }

    #[test]
    fn key_builders_stay_in_their_layouts() {
        let building = BuildingId::parse("3f2b8c1e-0d4a-4c8e-9a51-2f6d7e8b9c10").unwrap();
        let migration = MigrationId::parse("acme-q4").unwrap();
        let keys = [
            (user_report_folder(&migration), USER_REPORTS),
            (tenant_report_folder(&building, "20261123T090000Z", "c"), TENANT_REPORTS),
            (building_report_folder("20261123T090000Z", "b"), BUILDING_REPORTS),
            (validation_report_folder("2026-11-23"), VALIDATION_REPORTS),
            (envoy_export_latest(&building), ENVOY_EXPORTS),
            (envoy_export_dated(&building, "20261123T090000Z"), ENVOY_EXPORTS),
            (quarantine_reason("inbox/x.csv"), QUARANTINE),
        ];
        for (key, prefix) in keys {
            assert!(key.starts_with(prefix), "{key}");
        }
    }
}
