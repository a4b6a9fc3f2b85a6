//! Queued invites and the e-mail ledger that makes every send happen once.

use crate::domain::values::{Email, MigrationId};
use serde::{Deserialize, Serialize};
use time::Date;

/// Where one e-mail stands. `Sending` is claimed but not confirmed; it is never re-sent blindly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MailStatus {
    Pending,
    Sending,
    Sent,
    Failed,
    /// The request left but no answer came back: it may have gone out. Never re-sent by
    /// itself; `onboard invites retry` puts it back on purpose.
    Unconfirmed,
}

impl MailStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Sending => "sending",
            Self::Sent => "sent",
            Self::Failed => "failed",
            Self::Unconfirmed => "unconfirmed",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "pending" => Some(Self::Pending),
            "sending" => Some(Self::Sending),
            "sent" => Some(Self::Sent),
            "failed" => Some(Self::Failed),
            "unconfirmed" => Some(Self::Unconfirmed),
            _ => None,
        }
    }
}

/// An invite queued by applying a migration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invite {
    pub migration: MigrationId,
    pub email: Email,
    pub first_name: String,
    pub building_names: Vec<String>,
    /// Sent on or after this day.
    pub due: Date,
    pub status: MailStatus,
    pub message_id: Option<String>,
    pub error: Option<String>,
    pub attempts: u32,
    /// The ledger round the next send uses (0: `invite#<migration>#<email>`, N: `…#retryN`).
    /// A resend asked for by a person opens the round after a sent one; every other round
    /// change is read from the ledger (a failed or unconfirmed round is closed).
    #[serde(default)]
    pub round: u32,
}

/// Failed sends are retried this many times in all before they stay `failed`.
pub const MAX_SEND_ATTEMPTS: u32 = 5;
