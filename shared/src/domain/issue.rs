//! Problems found in a file or a row, phrased for the property manager who has to fix them.

use serde::{Deserialize, Serialize};
use std::borrow::Cow;

/// Stable machine codes; reports and `--json` output carry them as snake_case strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IssueCode {
    MissingColumn,
    DuplicateColumn,
    MissingEmail,
    InvalidEmail,
    MissingName,
    InvalidPhone,
    UnknownStatus,
    DuplicateMerged,
    ConflictingDuplicate,
    InactiveSkipped,
    UnmappedRole,
    CapabilityGap,
    UnknownBuilding,
    MissingRole,
    MissingBuilding,
    MissingValue,
    InvalidValue,
    ValueTooLong,
    Excluded,
    /// A kickstart recipient outside the domains the configuration allows.
    DomainNotAllowed,
    /// The person was created (and invited) by another migration already.
    AlreadyMigrated,
    /// A column read by a rule weaker than its label: a synonym, a left-out word group, a
    /// split or joined name.
    ColumnReadAs,
    /// Replace mode kept a contact because their row is in the file, though rejected.
    KeptRejected,
}

impl IssueCode {
    /// Every code, in declaration order (the compact issue log stores a code as its index).
    pub const ALL: [IssueCode; 23] = [
        Self::MissingColumn,
        Self::DuplicateColumn,
        Self::MissingEmail,
        Self::InvalidEmail,
        Self::MissingName,
        Self::InvalidPhone,
        Self::UnknownStatus,
        Self::DuplicateMerged,
        Self::ConflictingDuplicate,
        Self::InactiveSkipped,
        Self::UnmappedRole,
        Self::CapabilityGap,
        Self::UnknownBuilding,
        Self::MissingRole,
        Self::MissingBuilding,
        Self::MissingValue,
        Self::InvalidValue,
        Self::ValueTooLong,
        Self::Excluded,
        Self::DomainNotAllowed,
        Self::AlreadyMigrated,
        Self::ColumnReadAs,
        Self::KeptRejected,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::MissingColumn => "missing_column",
            Self::DuplicateColumn => "duplicate_column",
            Self::MissingEmail => "missing_email",
            Self::InvalidEmail => "invalid_email",
            Self::MissingName => "missing_name",
            Self::InvalidPhone => "invalid_phone",
            Self::UnknownStatus => "unknown_status",
            Self::DuplicateMerged => "duplicate_merged",
            Self::ConflictingDuplicate => "conflicting_duplicate",
            Self::InactiveSkipped => "inactive_skipped",
            Self::UnmappedRole => "unmapped_role",
            Self::CapabilityGap => "capability_gap",
            Self::UnknownBuilding => "unknown_building",
            Self::MissingRole => "missing_role",
            Self::MissingBuilding => "missing_building",
            Self::MissingValue => "missing_value",
            Self::InvalidValue => "invalid_value",
            Self::ValueTooLong => "value_too_long",
            Self::Excluded => "excluded",
            Self::DomainNotAllowed => "domain_not_allowed",
            Self::AlreadyMigrated => "already_migrated",
            Self::ColumnReadAs => "column_read_as",
            Self::KeptRejected => "kept_rejected",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// The row (or the file) was not accepted as it is.
    Error,
    /// The row was accepted; someone should still look.
    Warning,
}

/// One problem: where it is (1-based row as in the file, header = row 1), what the value was, and
/// what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Issue {
    pub row: Option<u64>,
    /// Column names and messages are mostly fixed texts: a file of a million rows can have a
    /// quarter of a million issues, which then share them instead of holding a copy each.
    pub column: Option<Cow<'static, str>>,
    pub code: IssueCode,
    pub severity: Severity,
    pub value: String,
    pub message: Cow<'static, str>,
}

impl Issue {
    pub fn error(code: IssueCode, message: impl Into<Cow<'static, str>>) -> Self {
        Self { row: None, column: None, code, severity: Severity::Error, value: String::new(), message: message.into() }
    }

    pub fn warning(code: IssueCode, message: impl Into<Cow<'static, str>>) -> Self {
        Self { severity: Severity::Warning, ..Self::error(code, message) }
    }

    pub fn at_row(mut self, row: u64) -> Self {
        self.row = Some(row);
        self
    }

    pub fn in_column(mut self, column: impl Into<Cow<'static, str>>) -> Self {
        self.column = Some(column.into());
        self
    }

    /// The offending value, cut to a readable length.
    pub fn with_value(mut self, value: &str) -> Self {
        self.value = crate::text::preview(value, 200);
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// Why a whole file (or a request) was turned away: stable codes, written as snake_case in
/// `quarantine/<key>.reason.json`, the CLI's `--json` output and the logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectionCode {
    AmbiguousColumn,
    BatchTooLarge,
    DuplicateColumn,
    EmptyFile,
    EnvoyExportGuard,
    FileTooLarge,
    InvalidApproval,
    InvalidConfig,
    InvalidMigration,
    InviteNotSent,
    MissingColumn,
    NoContacts,
    NoRows,
    NotATable,
    /// A date that has already gone by where a future one is needed (moving invites).
    PastDate,
    PlanUnreadable,
    RevokeGuard,
    StalePlan,
    Superseded,
    SuppressedAddress,
    UnknownBuilding,
    UnknownInvite,
    UnknownLocation,
    UnknownMigration,
    UnknownPlan,
    UnreadableFile,
    UnreadableWorkbook,
    UnsafeKey,
    UnsupportedFile,
    WrongFlow,
}

impl RejectionCode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AmbiguousColumn => "ambiguous_column",
            Self::BatchTooLarge => "batch_too_large",
            Self::DuplicateColumn => "duplicate_column",
            Self::EmptyFile => "empty_file",
            Self::EnvoyExportGuard => "envoy_export_guard",
            Self::FileTooLarge => "file_too_large",
            Self::InvalidApproval => "invalid_approval",
            Self::InvalidConfig => "invalid_config",
            Self::InvalidMigration => "invalid_migration",
            Self::InviteNotSent => "invite_not_sent",
            Self::MissingColumn => "missing_column",
            Self::NoContacts => "no_contacts",
            Self::NoRows => "no_rows",
            Self::NotATable => "not_a_table",
            Self::PastDate => "past_date",
            Self::PlanUnreadable => "plan_unreadable",
            Self::RevokeGuard => "revoke_guard",
            Self::StalePlan => "stale_plan",
            Self::Superseded => "superseded",
            Self::SuppressedAddress => "suppressed_address",
            Self::UnknownBuilding => "unknown_building",
            Self::UnknownInvite => "unknown_invite",
            Self::UnknownLocation => "unknown_location",
            Self::UnknownMigration => "unknown_migration",
            Self::UnknownPlan => "unknown_plan",
            Self::UnreadableFile => "unreadable_file",
            Self::UnreadableWorkbook => "unreadable_workbook",
            Self::UnsafeKey => "unsafe_key",
            Self::UnsupportedFile => "unsupported_file",
            Self::WrongFlow => "wrong_flow",
        }
    }
}

impl std::fmt::Display for RejectionCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Lets tests and callers compare with the wire name: `rejection.code == "missing_column"`.
impl PartialEq<&str> for RejectionCode {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<str> for RejectionCode {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

/// A whole file turned away, with the reason in words a property manager can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct FileRejection {
    pub code: RejectionCode,
    pub message: String,
}

impl FileRejection {
    pub fn new(code: RejectionCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }
}
