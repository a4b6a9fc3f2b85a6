//! Pure types and rules. No I/O, no clock, no environment.
//!
//! A crate of its own (`onboarding-domain`), used as `onboarding::domain`: its dependencies are
//! parsers, formats and hashes; the runtime, the SDK and SQLite are not among them.

pub mod approval;
pub mod building;
pub mod building_update;
pub mod config;
pub mod delivery;
pub mod flows;
pub mod html;
pub mod intake;
pub mod invite;
pub mod issue;
pub mod issue_log;
pub mod keys;
pub mod mail;
pub mod metrics;
pub mod migration;
pub mod moment;
pub mod notice;
pub mod plan;
pub mod platform_users;
pub mod roles;
pub mod sending;
pub mod sheet;
pub mod tenants;
pub mod text;
pub mod tile;
pub mod validation_report;
pub mod values;
pub mod zone;

#[cfg(test)]
mod proptests;
