//! Visitor onboarding core.
//!
//! `domain` holds the pure rules (formats, validation, dedupe, role mapping, planning, reports);
//! `app` holds one use case per file over the `ports`; `adapters` hold the embedded (folder,
//! SQLite, outbox) and AWS (S3, DynamoDB, SES) implementations of those ports. `deployment`
//! (feature `aws`) is what every Lambda function reads from its environment at start;
//! `test_support` (feature `test-support`) what their handler tests share.

pub mod adapters;
pub mod app;
#[cfg(feature = "aws-table")]
pub mod deployment;
pub mod domain;
pub mod ports;
#[cfg(feature = "test-support")]
pub mod test_support;
