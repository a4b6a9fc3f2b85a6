//! What became of a sent message: SES's delivery events (through the configuration set's event
//! destination), the state they leave a message in, the addresses never to mail again, and when
//! sending pauses itself.
//!
//! Events come at least once and in any order. A message's state only moves up
//! [`DeliveryState::rank`], so a duplicate or a late event changes nothing, and only the first
//! move into a state counts toward the bounce rate.

use crate::values::Email;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// Where a sent message stands, from SES's events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// SES accepted it (`Send`).
    Accepted,
    /// The receiving server has not taken it yet; SES keeps trying (`DeliveryDelay`).
    Delayed,
    /// SES gave up for now: a full mailbox, an auto-reply (`Bounce`, `Transient`).
    SoftBounced,
    /// The receiving server took it (`Delivery`).
    Delivered,
    /// SES refused to send it: a virus in it (`Reject`).
    Rejected,
    /// The address does not exist or refuses mail for good (`Bounce`, `Permanent`), or is on
    /// SES's account suppression list.
    Bounced,
    /// The recipient marked it as spam (`Complaint`).
    Complained,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Accepted => "accepted",
            Self::Delayed => "delayed",
            Self::SoftBounced => "soft_bounced",
            Self::Delivered => "delivered",
            Self::Rejected => "rejected",
            Self::Bounced => "bounced",
            Self::Complained => "complained",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [Self::Accepted, Self::Delayed, Self::SoftBounced, Self::Delivered, Self::Rejected, Self::Bounced, Self::Complained]
            .into_iter()
            .find(|s| s.as_str() == raw)
    }

    /// A message's state only moves to a higher rank: a delivery outranks a delay, a hard bounce
    /// a delivery (a server may accept, then bounce), a complaint everything.
    pub fn rank(self) -> u8 {
        match self {
            Self::Accepted => 1,
            Self::Delayed => 2,
            Self::SoftBounced => 3,
            Self::Delivered => 4,
            Self::Rejected | Self::Bounced => 5,
            Self::Complained => 6,
        }
    }

    /// True when the address must never be mailed again.
    pub fn suppresses(self) -> bool {
        matches!(self, Self::Bounced | Self::Complained)
    }
}

/// One SES event, as a message's state sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryEvent {
    /// SES's message id (what `SendEmail` answered).
    pub message_id: String,
    pub state: DeliveryState,
    /// The recipients the event is about (a bounce names the bounced ones only).
    pub recipients: Vec<Email>,
    pub at: OffsetDateTime,
    /// SES's own words: the bounce type and diagnostic, the complaint type, the reject reason.
    pub detail: Option<String>,
    /// The SES event type, e.g. `Bounce`.
    pub event_type: String,
}

/// A message's recorded state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryRecord {
    pub message_id: String,
    pub state: DeliveryState,
    #[serde(with = "crate::moment::serde_rfc3339")]
    pub at: OffsetDateTime,
    pub detail: Option<String>,
}

impl DeliveryRecord {
    pub fn from_event(event: &DeliveryEvent) -> Self {
        Self { message_id: event.message_id.clone(), state: event.state, at: event.at, detail: event.detail.clone() }
    }

    /// `"bounced: Permanent/General: smtp; 550 5.1.1 user unknown"`, for reports.
    pub fn describe(&self) -> String {
        match &self.detail {
            Some(detail) if !detail.is_empty() => format!("{}: {detail}", self.state.as_str()),
            _ => self.state.as_str().to_string(),
        }
    }
}

/// An address no flow mails again, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Suppression {
    pub email: Email,
    /// `bounced` or `complained`.
    pub reason: DeliveryState,
    pub message_id: String,
    #[serde(with = "crate::moment::serde_rfc3339")]
    pub at: OffsetDateTime,
    pub detail: Option<String>,
}

impl Suppression {
    pub fn describe(&self) -> String {
        let what = match self.reason {
            DeliveryState::Complained => "the recipient marked an earlier message as spam",
            _ => "an earlier message bounced for good",
        };
        match &self.detail {
            Some(detail) if !detail.is_empty() => {
                format!("{what} ({detail}); fix the address in the source file, or take it off the list on purpose (`onboard invites unsuppress`)")
            }
            _ => format!("{what}; fix the address in the source file, or take it off the list on purpose (`onboard invites unsuppress`)"),
        }
    }
}

/// Messages that reached an end since sending last resumed: the bounce rate's sample.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryTally {
    pub delivered: u64,
    pub bounced: u64,
    pub complained: u64,
}

impl DeliveryTally {
    /// Bounces among delivered and bounced messages, in percent (0 with no sample).
    pub(crate) fn bounce_rate_percent(&self) -> f64 {
        let sample = self.delivered + self.bounced;
        if sample == 0 {
            return 0.0;
        }
        self.bounced as f64 * 100.0 / sample as f64
    }

    /// What one state change adds: the first move into delivered, bounced or complained.
    pub fn step(previous: Option<DeliveryState>, next: DeliveryState) -> Self {
        let mut step = Self::default();
        if previous == Some(next) {
            return step;
        }
        match next {
            DeliveryState::Delivered => step.delivered = 1,
            DeliveryState::Bounced => step.bounced = 1,
            DeliveryState::Complained => step.complained = 1,
            _ => {}
        }
        step
    }

    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// When sending pauses itself.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PauseRule {
    /// Invites stop when bounces pass this share of delivered and bounced messages.
    pub max_bounce_rate_percent: f64,
    /// ... counted once at least this many messages reached an end (a single early bounce is
    /// not a rate).
    pub min_messages: u64,
}

/// Why sending must pause now, if it must: any complaint, or a bounce rate past the rule.
pub fn pause_for(tally: &DeliveryTally, rule: &PauseRule) -> Option<crate::sending::SendingPause> {
    use crate::sending::{PauseCause, SendingPause};
    if tally.complained > 0 {
        return Some(SendingPause::new(PauseCause::Complaint, format!("{} complaint(s) since sending last resumed", tally.complained)));
    }
    let sample = tally.delivered + tally.bounced;
    let rate = tally.bounce_rate_percent();
    (sample >= rule.min_messages.max(1) && rate > rule.max_bounce_rate_percent).then(|| {
        SendingPause::new(
            PauseCause::BounceRate,
            format!(
                "{} of {sample} messages bounced ({rate:.1} %, more than the {} % allowed)",
                tally.bounced, rule.max_bounce_rate_percent
            ),
        )
    })
}

// --- SES's event format -------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SesEvent {
    /// Event publishing says `eventType`; the older notifications say `notificationType`.
    #[serde(alias = "notificationType")]
    event_type: String,
    mail: SesMail,
    #[serde(default)]
    bounce: Option<SesBounce>,
    #[serde(default)]
    complaint: Option<SesComplaint>,
    #[serde(default)]
    delivery: Option<SesDelivery>,
    #[serde(default)]
    reject: Option<SesReject>,
    #[serde(default)]
    delivery_delay: Option<SesDelay>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SesMail {
    message_id: String,
    #[serde(default)]
    timestamp: Option<String>,
    #[serde(default)]
    destination: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SesRecipient {
    email_address: String,
    #[serde(default)]
    diagnostic_code: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SesBounce {
    bounce_type: String,
    #[serde(default)]
    bounce_sub_type: Option<String>,
    #[serde(default)]
    bounced_recipients: Vec<SesRecipient>,
    #[serde(default)]
    timestamp: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SesComplaint {
    #[serde(default)]
    complained_recipients: Vec<SesRecipient>,
    #[serde(default)]
    complaint_feedback_type: Option<String>,
    #[serde(default)]
    timestamp: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SesDelivery {
    #[serde(default)]
    recipients: Vec<String>,
    #[serde(default)]
    timestamp: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SesReject {
    #[serde(default)]
    reason: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SesDelay {
    #[serde(default)]
    delay_type: Option<String>,
    #[serde(default)]
    delayed_recipients: Vec<SesRecipient>,
    #[serde(default)]
    timestamp: Option<String>,
}

/// Why an event was not understood.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EventError {
    #[error("not an SES event: {0}")]
    Malformed(String),
    /// An event type this product does not follow (Open, Click, Subscription, Rendering Failure).
    #[error("an SES {0} event is not followed")]
    Ignored(String),
}

/// Reads one SES event (the JSON an SNS message or an EventBridge `detail` carries).
pub fn parse_ses_event(json: &str) -> Result<DeliveryEvent, EventError> {
    let event: SesEvent = serde_json::from_str(json).map_err(|e| EventError::Malformed(e.to_string()))?;
    let mail_at = event.mail.timestamp.as_deref();
    let emails = |raw: &mut dyn Iterator<Item = &str>| raw.filter_map(|r| Email::parse(r).ok()).collect::<Vec<_>>();
    let all = || emails(&mut event.mail.destination.iter().map(String::as_str));
    let (state, recipients, at, detail) = match event.event_type.as_str() {
        "Send" => (DeliveryState::Accepted, all(), mail_at, None),
        "Delivery" => {
            let delivery = event.delivery.as_ref();
            let named = delivery.map(|d| emails(&mut d.recipients.iter().map(String::as_str))).unwrap_or_default();
            let at = delivery.and_then(|d| d.timestamp.as_deref()).or(mail_at);
            (DeliveryState::Delivered, if named.is_empty() { all() } else { named }, at, None)
        }
        "Bounce" => {
            let bounce = event.bounce.as_ref().ok_or_else(|| EventError::Malformed("a Bounce event without `bounce`".into()))?;
            let state =
                if bounce.bounce_type.eq_ignore_ascii_case("Permanent") { DeliveryState::Bounced } else { DeliveryState::SoftBounced };
            let diagnostic = bounce.bounced_recipients.iter().find_map(|r| r.diagnostic_code.clone());
            let kind =
                [Some(bounce.bounce_type.clone()), bounce.bounce_sub_type.clone()].into_iter().flatten().collect::<Vec<_>>().join("/");
            let detail = match diagnostic {
                Some(diagnostic) => format!("{kind}: {diagnostic}"),
                None => kind,
            };
            let named = emails(&mut bounce.bounced_recipients.iter().map(|r| r.email_address.as_str()));
            (state, named, bounce.timestamp.as_deref().or(mail_at), Some(detail))
        }
        "Complaint" => {
            let complaint =
                event.complaint.as_ref().ok_or_else(|| EventError::Malformed("a Complaint event without `complaint`".into()))?;
            let named = emails(&mut complaint.complained_recipients.iter().map(|r| r.email_address.as_str()));
            let detail = complaint.complaint_feedback_type.clone();
            (DeliveryState::Complained, if named.is_empty() { all() } else { named }, complaint.timestamp.as_deref().or(mail_at), detail)
        }
        "Reject" => (DeliveryState::Rejected, all(), mail_at, event.reject.as_ref().and_then(|r| r.reason.clone())),
        "DeliveryDelay" => {
            let delay = event.delivery_delay.as_ref();
            let named = delay.map(|d| emails(&mut d.delayed_recipients.iter().map(|r| r.email_address.as_str()))).unwrap_or_default();
            let detail = delay.and_then(|d| d.delay_type.clone());
            (
                DeliveryState::Delayed,
                if named.is_empty() { all() } else { named },
                delay.and_then(|d| d.timestamp.as_deref()).or(mail_at),
                detail,
            )
        }
        other => return Err(EventError::Ignored(other.to_string())),
    };
    let at = at.and_then(|raw| OffsetDateTime::parse(raw, &time::format_description::well_known::Rfc3339).ok());
    Ok(DeliveryEvent {
        message_id: event.mail.message_id,
        state,
        recipients,
        at: at.unwrap_or(OffsetDateTime::UNIX_EPOCH),
        detail: detail.map(|d| crate::text::redact_addresses(&crate::text::single_line(&d))),
        event_type: event.event_type,
    })
}

/// The SES event JSON for `state` (what SES publishes), for the local outbox's mailbox simulator
/// and for tests.
pub fn ses_event_json(message_id: &str, recipient: &str, state: DeliveryState, at: OffsetDateTime, detail: Option<&str>) -> String {
    let at = crate::moment::rfc3339(at);
    let mail = serde_json::json!({ "messageId": message_id, "timestamp": at, "destination": [recipient] });
    let event = match state {
        DeliveryState::Accepted => serde_json::json!({ "eventType": "Send", "mail": mail, "send": {} }),
        DeliveryState::Delivered => serde_json::json!({
            "eventType": "Delivery", "mail": mail,
            "delivery": { "timestamp": at, "recipients": [recipient], "smtpResponse": "250 2.6.0 Message received" }
        }),
        DeliveryState::Bounced | DeliveryState::SoftBounced => {
            let (kind, sub) = match detail {
                Some("OnAccountSuppressionList") => ("Permanent", "OnAccountSuppressionList"),
                _ if state == DeliveryState::SoftBounced => ("Transient", "General"),
                _ => ("Permanent", "General"),
            };
            serde_json::json!({
                "eventType": "Bounce", "mail": mail,
                "bounce": {
                    "bounceType": kind, "bounceSubType": sub, "timestamp": at,
                    "bouncedRecipients": [{ "emailAddress": recipient, "diagnosticCode": detail.filter(|d| *d != "OnAccountSuppressionList").unwrap_or("smtp; 550 5.1.1 user unknown") }]
                }
            })
        }
        DeliveryState::Complained => serde_json::json!({
            "eventType": "Complaint", "mail": mail,
            "complaint": { "timestamp": at, "complainedRecipients": [{ "emailAddress": recipient }], "complaintFeedbackType": detail.unwrap_or("abuse") }
        }),
        DeliveryState::Rejected => {
            serde_json::json!({ "eventType": "Reject", "mail": mail, "reject": { "reason": detail.unwrap_or("Bad content") } })
        }
        DeliveryState::Delayed => serde_json::json!({
            "eventType": "DeliveryDelay", "mail": mail,
            "deliveryDelay": { "timestamp": at, "delayType": detail.unwrap_or("TransientCommunicationFailure"), "delayedRecipients": [{ "emailAddress": recipient }] }
        }),
    };
    event.to_string()
}

/// What SES's mailbox simulator does with mail to `recipient`: the events it publishes after
/// the send, in order. Every other address is simply delivered.
pub fn simulated_events(recipient: &str) -> Vec<(DeliveryState, Option<&'static str>)> {
    match recipient.to_ascii_lowercase().split('+').next().unwrap_or_default().trim_end_matches("@simulator.amazonses.com") {
        "bounce" => vec![(DeliveryState::Accepted, None), (DeliveryState::Bounced, Some("smtp; 550 5.1.1 user unknown"))],
        "complaint" => vec![(DeliveryState::Accepted, None), (DeliveryState::Delivered, None), (DeliveryState::Complained, Some("abuse"))],
        "suppressionlist" => vec![(DeliveryState::Accepted, None), (DeliveryState::Bounced, Some("OnAccountSuppressionList"))],
        _ => vec![(DeliveryState::Accepted, None), (DeliveryState::Delivered, None)],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(unix: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(unix).unwrap()
    }

    #[test]
    fn ses_events_read_into_states_with_their_diagnostics() {
        let bounce = r#"{"eventType":"Bounce","bounce":{"feedbackId":"f","bounceType":"Permanent","bounceSubType":"General",
            "bouncedRecipients":[{"emailAddress":"ada@example.com","action":"failed","status":"5.1.1","diagnosticCode":"smtp; 550 5.1.1 ada@example.com: user unknown"}],
            "timestamp":"2026-11-27T10:00:00.123Z","reportingMTA":"dsn; a"},
            "mail":{"timestamp":"2026-11-27T09:59:00.000Z","source":"o@x.example","messageId":"0100-abc","destination":["ada@example.com"]}}"#;
        let event = parse_ses_event(bounce).unwrap();
        assert_eq!(event.state, DeliveryState::Bounced);
        assert_eq!(event.message_id, "0100-abc");
        assert_eq!(event.recipients, vec![Email::parse("ada@example.com").unwrap()]);
        let detail = event.detail.unwrap();
        assert!(detail.starts_with("Permanent/General: smtp; 550 5.1.1"), "{detail}");
        assert!(!detail.contains("ada@example.com"), "no address in clear: {detail}");
        assert_eq!(event.at.unix_timestamp(), 1_795_773_600);

        let transient = bounce.replace("\"Permanent\"", "\"Transient\"");
        assert_eq!(parse_ses_event(&transient).unwrap().state, DeliveryState::SoftBounced);
        let old_style = bounce.replace("eventType", "notificationType");
        assert_eq!(parse_ses_event(&old_style).unwrap().state, DeliveryState::Bounced);

        for (state, detail) in [
            (DeliveryState::Accepted, None),
            (DeliveryState::Delivered, None),
            (DeliveryState::Complained, Some("abuse")),
            (DeliveryState::Rejected, Some("Bad content")),
            (DeliveryState::Delayed, Some("MailboxFull")),
            (DeliveryState::SoftBounced, Some("smtp; 452 mailbox full")),
        ] {
            let json = ses_event_json("m-1", "bo@example.com", state, at(1_800_000_000), detail);
            let event = parse_ses_event(&json).unwrap();
            assert_eq!((event.state, event.message_id.as_str()), (state, "m-1"), "{json}");
            assert_eq!(event.recipients, vec![Email::parse("bo@example.com").unwrap()]);
            assert_eq!(event.at, at(1_800_000_000));
            if let Some(detail) = detail {
                assert!(event.detail.unwrap_or_default().contains(detail), "{json}");
            }
        }
        assert_eq!(parse_ses_event(r#"{"eventType":"Open","mail":{"messageId":"m"}}"#), Err(EventError::Ignored("Open".into())));
        assert!(matches!(parse_ses_event("{}"), Err(EventError::Malformed(_))));
        assert!(matches!(parse_ses_event(r#"{"eventType":"Bounce","mail":{"messageId":"m"}}"#), Err(EventError::Malformed(_))));
    }

    #[test]
    fn a_state_only_moves_up_and_only_first_moves_count() {
        use DeliveryState::*;
        assert!(Delivered.rank() > Delayed.rank() && Bounced.rank() > Delivered.rank() && Complained.rank() > Bounced.rank());
        assert_eq!(DeliveryTally::step(None, Delivered), DeliveryTally { delivered: 1, ..Default::default() });
        assert_eq!(DeliveryTally::step(Some(Delivered), Delivered), DeliveryTally::default());
        assert_eq!(DeliveryTally::step(Some(Accepted), Bounced), DeliveryTally { bounced: 1, ..Default::default() });
        assert_eq!(DeliveryTally::step(Some(Delivered), Complained), DeliveryTally { complained: 1, ..Default::default() });
        assert!(DeliveryTally::step(None, Delayed).is_empty());
        for state in [Accepted, Delayed, SoftBounced, Delivered, Rejected, Bounced, Complained] {
            assert_eq!(DeliveryState::parse(state.as_str()), Some(state));
        }
        assert!(Bounced.suppresses() && Complained.suppresses() && !SoftBounced.suppresses() && !Delivered.suppresses());
    }

    #[test]
    fn sending_pauses_on_a_complaint_or_past_the_bounce_rate() {
        use crate::sending::PauseCause;
        let rule = PauseRule { max_bounce_rate_percent: 5.0, min_messages: 20 };
        let tally = |delivered, bounced, complained| DeliveryTally { delivered, bounced, complained };
        assert_eq!(pause_for(&tally(0, 0, 0), &rule), None);
        assert_eq!(pause_for(&tally(10, 2, 0), &rule), None, "too few messages for a rate");
        assert_eq!(pause_for(&tally(95, 5, 0), &rule), None, "5 % is not past 5 %");
        let pause = pause_for(&tally(94, 6, 0), &rule).unwrap();
        assert_eq!(pause.cause, PauseCause::BounceRate);
        assert!(pause.detail.contains("6 of 100 messages bounced (6.0 %"), "{}", pause.detail);
        assert_eq!(pause_for(&tally(1, 0, 1), &rule).unwrap().cause, PauseCause::Complaint);
        assert_eq!(tally(94, 6, 0).bounce_rate_percent(), 6.0);
    }

    #[test]
    fn the_simulator_addresses_behave_like_ses() {
        let last = |a: &str| simulated_events(a).last().map(|(s, _)| *s);
        assert_eq!(last("bounce@simulator.amazonses.com"), Some(DeliveryState::Bounced));
        assert_eq!(last("complaint@simulator.amazonses.com"), Some(DeliveryState::Complained));
        assert_eq!(last("suppressionlist@simulator.amazonses.com"), Some(DeliveryState::Bounced));
        assert_eq!(last("success@simulator.amazonses.com"), Some(DeliveryState::Delivered));
        assert_eq!(last("bounce+label@simulator.amazonses.com"), Some(DeliveryState::Bounced));
        assert_eq!(last("ada@example.com"), Some(DeliveryState::Delivered));
    }
}
