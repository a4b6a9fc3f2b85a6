//! Implementations of the ports: `embedded` (a folder, SQLite, an outbox of .eml files) and
//! `aws` (S3, DynamoDB, SES), each behind its cargo feature.

#[cfg(feature = "aws-table")]
pub mod aws;
#[cfg(feature = "embedded")]
pub mod embedded;
