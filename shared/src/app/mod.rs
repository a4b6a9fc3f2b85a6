//! One use case per file, over the ports.

pub mod apply;
pub mod buildings;
pub mod config;
pub mod delivery;
pub mod dispatch;
pub mod invites;
pub mod mailing;
pub mod metrics;
pub mod notify;
mod pinned;
pub mod plan;
pub mod platform_users;
pub mod read_ahead;
pub mod route;
pub mod tenants;
pub mod tile;
pub mod validate;

use crate::domain::issue::{FileRejection, Issue, Severity};
use crate::ports::{Clock, Mailer, ObjectStore, PortError, Table, WorkQueue};
use serde::Serialize;

/// Why a use case stopped.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The input (a file, an approval, an argument) was refused; the message says why and what to do.
    #[error("{0}")]
    Rejected(#[from] FileRejection),
    /// An adapter failed; nothing that was not finished was recorded as finished, so a re-run resumes.
    #[error("{0}")]
    Port(#[from] PortError),
}

pub type AppResult<T> = Result<T, AppError>;

/// The ports one use case runs over.
#[derive(Clone, Copy)]
pub struct Services<'a> {
    pub objects: &'a dyn ObjectStore,
    pub table: &'a dyn Table,
    pub mailer: &'a dyn Mailer,
    pub clock: &'a dyn Clock,
    pub progress: &'a dyn Progress,
    /// Where an approved plan's parts go to be applied by other invocations (the apply queue
    /// on AWS). `None`: the approval's own run applies the whole plan (locally, and in tests).
    pub queue: Option<&'a dyn WorkQueue>,
}

/// Reports progress of long work (the CLI draws bars; Lambda ignores it).
pub trait Progress: Send + Sync {
    fn advance(&self, stage: &str, done: u64);
    fn finish(&self, _stage: &str) {}
}

pub struct NoProgress;

impl Progress for NoProgress {
    fn advance(&self, _stage: &str, _done: u64) {}
}

/// Counts of issues, for summaries.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct IssueCounts {
    pub errors: u64,
    pub warnings: u64,
}

pub fn count_issues(issues: &[Issue]) -> IssueCounts {
    let errors = issues.iter().filter(|i| i.severity == Severity::Error).count() as u64;
    IssueCounts { errors, warnings: issues.len() as u64 - errors }
}

/// A file-name-safe UTC timestamp, e.g. `20261123T041502Z`.
pub fn stamp(at: time::OffsetDateTime) -> String {
    rfc3339(at).replace(['-', ':'], "")
}

pub use crate::domain::moment::rfc3339;

/// The last part of a key without its extension: `inbox/users/m1/Export Q4.csv` → `Export Q4`.
pub fn file_stem(key: &str) -> String {
    let name = key.rsplit('/').next().unwrap_or(key);
    let stem = name.rsplit_once('.').map_or(name, |(stem, _)| stem);
    let safe: String = stem.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '-' }).take(80).collect();
    if safe.is_empty() {
        "file".into()
    } else {
        safe
    }
}

pub(crate) fn json_bytes<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec_pretty(value).unwrap_or_default()
}

#[cfg(test)]
mod stamp_tests {
    #[test]
    fn a_stamp_is_the_utc_second_without_separators() {
        assert_eq!(super::stamp(time::macros::datetime!(2026-11-23 05:15:02.9 +01:00)), "20261123T041502Z");
    }
}
