//! Queued invites and the e-mail ledger that makes every send happen once.

use crate::values::{Email, MigrationId};
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
    /// When it goes out: the invite date at the configured local hour in `time_zone`. `None`
    /// (invites queued before time zones, or "send now"): the start of `due`, UTC.
    #[serde(default, with = "crate::moment::serde_rfc3339::option")]
    pub send_at: Option<time::OffsetDateTime>,
    /// The zone of the person's first building (IANA name); `None`: UTC.
    #[serde(default)]
    pub time_zone: Option<String>,
}

impl Invite {
    /// When it is due, as the table sorts it: `2026-11-24T14:00:00Z`, or the bare date of an
    /// invite without a time (which sorts before every time of that day).
    pub fn due_key(&self) -> String {
        match self.send_at {
            Some(at) => instant_key(at),
            None => self.due.to_string(),
        }
    }

    /// When it goes out, as its recipient's building reads it: `2026-11-24 09:00 America/New_York`.
    pub fn due_for_people(&self) -> String {
        match self.send_at {
            Some(at) => crate::zone::local_text(at, self.time_zone.as_deref()),
            None => self.due.to_string(),
        }
    }

    /// The same invite due on `date` at the same local hour (or `hour` for one without a time).
    pub fn moved_to(&self, date: Date, hour: u8) -> Self {
        let zone = self.time_zone.as_deref();
        let hour = self.send_at.and_then(|at| crate::zone::local_date_hour(at, zone)).map_or(hour, |(_, h)| h);
        let send_at = crate::zone::local_instant(date, hour, zone);
        Self { due: date, send_at: Some(send_at), ..self.clone() }
    }
}

/// An instant as due keys are written (UTC, seconds): sorts as it reads.
pub fn instant_key(at: time::OffsetDateTime) -> String {
    crate::moment::rfc3339(at)
}

/// Failed sends are retried this many times in all before they stay `failed`.
pub const MAX_SEND_ATTEMPTS: u32 = 5;
