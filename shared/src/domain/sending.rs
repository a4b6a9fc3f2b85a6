//! Why the mail service sends nothing for now, and what a person does about it.
//!
//! A new SES account is in the sandbox and its sender starts unverified: SES then refuses every
//! message. That is a paused account, not a bad invite: nothing is marked failed, no attempt is
//! counted, and the next run after the fix sends everything once.

use serde::{Deserialize, Serialize};
use std::fmt;

/// An account- or sender-level refusal: no message can go out until a person acts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PauseCause {
    /// The sender address or its domain is not (yet) a verified identity.
    SenderNotVerified,
    /// The account is in the SES sandbox and a recipient is not a verified identity.
    SandboxRecipient,
    /// Sending is paused for the account or its configuration set.
    SendingPaused,
    /// The account is suspended (usually after bounces or complaints).
    AccountSuspended,
    /// The day's sending quota is spent.
    DailyQuota,
    /// This product paused invites itself: too many of them bounced since sending last resumed.
    BounceRate,
    /// This product paused invites itself: a recipient marked a message as spam.
    Complaint,
}

impl PauseCause {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SenderNotVerified => "sender_not_verified",
            Self::SandboxRecipient => "sandbox_recipient",
            Self::SendingPaused => "sending_paused",
            Self::AccountSuspended => "account_suspended",
            Self::DailyQuota => "daily_quota",
            Self::BounceRate => "bounce_rate",
            Self::Complaint => "complaint",
        }
    }

    /// What a person does so that sending resumes.
    pub fn fix(self) -> &'static str {
        match self {
            Self::SenderNotVerified => {
                "verify the sender identity (the address or its domain) in SES, in this region; queued mail goes out on the next run"
            }
            Self::SandboxRecipient => {
                "the SES account is in the sandbox: request production access in the SES console (or verify each recipient); queued mail goes out on the next run"
            }
            Self::SendingPaused => "sending is paused for the SES account or its configuration set: re-enable sending in the SES console",
            Self::AccountSuspended => "the SES account is suspended: open a case with AWS support; nothing is sent until it is reinstated",
            Self::DailyQuota => "the SES daily sending quota is spent: wait for the quota to reset, or request a higher quota",
            Self::BounceRate => {
                "too many invites bounced: check the source file's addresses (the validation report lists the bounced ones), then run `onboard invites resume`"
            }
            Self::Complaint => {
                "a recipient marked a message as spam: check who was invited and why, then run `onboard invites resume`"
            }
        }
    }

    /// True for a pause this product decided (bounces, complaints): it holds until a person
    /// resumes sending. The others are the mail service's and end when it sends again.
    pub fn is_self_imposed(self) -> bool {
        matches!(self, Self::BounceRate | Self::Complaint)
    }
}

/// A pause as the mail service reported it: the cause and the service's own words (scrubbed of
/// addresses by the adapter).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendingPause {
    pub cause: PauseCause,
    pub detail: String,
}

impl SendingPause {
    pub fn new(cause: PauseCause, detail: impl Into<String>) -> Self {
        Self { cause, detail: detail.into() }
    }
}

impl fmt::Display for SendingPause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}); fix: {}", self.cause.as_str(), self.detail, self.cause.fix())
    }
}

/// Classifies SES's text of a `MessageRejected` answer. SES uses that one code both for a
/// refusal about the account (an unverified sender, a sandbox recipient) and for a refusal of
/// one message; only the text tells them apart. `None`: about this message alone.
pub fn pause_in_rejection(message: &str) -> Option<PauseCause> {
    let text = message.to_ascii_lowercase();
    if text.contains("not verified") || text.contains("not authorized to send from") || text.contains("did not have authority to send") {
        // "Email address is not verified. The following identities failed the check in region
        // US-EAST-1: <sender>, <recipient>" covers both the sender and sandbox recipients; the
        // sandbox is named when SES names it.
        if text.contains("sandbox") {
            return Some(PauseCause::SandboxRecipient);
        }
        return Some(PauseCause::SenderNotVerified);
    }
    if text.contains("sandbox") {
        return Some(PauseCause::SandboxRecipient);
    }
    if text.contains("sending paused") || text.contains("sending is paused") {
        return Some(PauseCause::SendingPaused);
    }
    if text.contains("daily message quota") || text.contains("daily sending quota") {
        return Some(PauseCause::DailyQuota);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ses_texts_about_the_account_are_pauses_and_the_rest_are_about_one_message() {
        let cases = [
            (
                "Email address is not verified. The following identities failed the check in region US-EAST-1: h:1a2b",
                Some(PauseCause::SenderNotVerified),
            ),
            ("Domain not verified: example.com", Some(PauseCause::SenderNotVerified)),
            // moto's answer for a sender without a verified identity
            ("Did not have authority to send from email h:1c62", Some(PauseCause::SenderNotVerified)),
            ("User is not authorized to send from this address in the sandbox", Some(PauseCause::SandboxRecipient)),
            ("Daily message quota exceeded.", Some(PauseCause::DailyQuota)),
            ("Sending paused for this account.", Some(PauseCause::SendingPaused)),
            ("Illegal address", None),
            ("Address blacklisted.", None),
            ("Message rejected: content", None),
        ];
        for (text, expected) in cases {
            assert_eq!(pause_in_rejection(text), expected, "{text}");
        }
    }

    #[test]
    fn a_pause_names_its_fix() {
        let pause = SendingPause::new(PauseCause::SenderNotVerified, "MessageRejected: Email address is not verified.");
        let text = pause.to_string();
        assert!(text.starts_with("sender_not_verified (MessageRejected"), "{text}");
        assert!(text.contains("verify the sender identity"), "{text}");
        assert_eq!(serde_json::to_string(&PauseCause::DailyQuota).unwrap(), "\"daily_quota\"");
    }
}
