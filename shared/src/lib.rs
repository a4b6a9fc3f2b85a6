//! Visitor onboarding core.
//!
//! `domain` holds the pure rules (formats, validation, dedupe, role mapping, planning, reports);
//! `app` holds one use case per file over the `ports`; `adapters` hold the embedded (folder,
//! SQLite, outbox) and AWS (S3, DynamoDB, SES) implementations of those ports.

pub mod adapters;
pub mod app;
pub mod domain;
pub mod ports;
