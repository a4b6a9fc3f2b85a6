//! Visitor onboarding core.
//!
//! `domain` holds the pure rules (formats, validation, dedupe, role mapping, planning, reports);
//! `app` holds one use case per file over the `ports`; `adapters` hold the embedded (folder,
//! SQLite, outbox) and AWS (S3, DynamoDB, SES) implementations of those ports. `deployment`
//! (feature `aws`) is what every Lambda function reads from its environment at start;
//! `test_support` (feature `test-support`) what their handler tests share.
//!
//! `domain` lives in `src/domain/` like the rest, but is a crate of its own (`onboarding-domain`,
//! re-exported here as `onboarding::domain`). Its manifest names no I/O crate (no tokio, no SDK,
//! no SQLite), so nothing in it can call one; and the release profile builds it, where most of the
//! plan's hot loop runs, at its own optimisation level (`s`, the rest at `z`: BENCHMARKS.md, "The
//! domain as a crate", has the measurements).

pub mod adapters;
pub mod app;
#[cfg(feature = "aws-table")]
pub mod deployment;
pub use domain;
pub mod ports;
#[cfg(feature = "test-support")]
pub mod test_support;
