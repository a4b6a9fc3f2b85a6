use super::*;
use crate::domain::values::Email;
use aws_sdk_sesv2::error::ErrorMetadata;
use aws_sdk_sesv2::operation::get_account::{GetAccountError, GetAccountOutput};
use aws_sdk_sesv2::operation::send_email::SendEmailOutput;
use aws_sdk_sesv2::types::error::{BadRequestException, MessageRejected, SendingPausedException, TooManyRequestsException};
use aws_sdk_sesv2::types::SendQuota;
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use std::time::Duration;

const QUICK: Backoff = Backoff { first: Duration::from_millis(1), cap: Duration::from_millis(5), tries: 6 };

fn mailer(rules: &[&Rule]) -> SesMailer {
    let client =
        mock_client!(aws_sdk_sesv2, RuleMode::Sequential, rules, |c| c.retry_config(aws_smithy_types::retry::RetryConfig::disabled()));
    SesMailer::new(client, SesOptions { configuration_set: Some("onboarding".into()), fallback_rate: 500.0, backoff: QUICK })
}

fn mail() -> OutgoingMail {
    OutgoingMail {
        key: "invite#m1#ada@example.com".into(),
        from_name: "Onboarding".into(),
        from: Email::parse("noreply@example.com").unwrap(),
        to: vec![Email::parse("ada@example.com").unwrap()],
        cc: vec![Email::parse("ops@example.com").unwrap()],
        subject: "Welcome".into(),
        text: "Hello".into(),
        html: "<p>Hello</p>".into(),
    }
}

fn no_account() -> Rule {
    mock!(aws_sdk_sesv2::Client::get_account).then_error(|| GetAccountError::BadRequestException(BadRequestException::builder().build()))
}

fn too_many_requests(message: &'static str) -> SendEmailError {
    let meta = ErrorMetadata::builder().code("TooManyRequestsException").message(message).build();
    SendEmailError::TooManyRequestsException(TooManyRequestsException::builder().message(message).meta(meta).build())
}

/// A send whose request carries the raw message, the recipients and the configuration set.
fn accepted(id: &'static str) -> Rule {
    mock!(aws_sdk_sesv2::Client::send_email)
        .match_requests(|r| {
            let raw =
                r.content().and_then(|c| c.raw()).map(|raw| String::from_utf8_lossy(raw.data().as_ref()).to_string()).unwrap_or_default();
            let to = r.destination().map(|d| d.to_addresses().to_vec()).unwrap_or_default();
            let cc = r.destination().map(|d| d.cc_addresses().to_vec()).unwrap_or_default();
            raw.contains("Subject: Welcome")
                && raw.contains("Message-ID: <")
                && to == ["ada@example.com"]
                && cc == ["ops@example.com"]
                && r.configuration_set_name() == Some("onboarding")
        })
        .then_output(move || SendEmailOutput::builder().message_id(id).build())
}

#[tokio::test]
async fn too_many_requests_is_retried_and_the_mail_goes_out_once() {
    let account = no_account();
    let throttled = mock!(aws_sdk_sesv2::Client::send_email).then_error(|| too_many_requests("Maximum sending rate exceeded."));
    let sent = accepted("ses-1");
    let ses = mailer(&[&account, &throttled, &sent]);
    assert_eq!(ses.send(&mail()).await.unwrap(), "ses-1");
    assert_eq!((throttled.num_calls(), sent.num_calls()), (1, 1), "one refusal, one send");
}

#[tokio::test]
async fn endless_throttling_ends_as_throttled_after_the_budget() {
    let account = no_account();
    let throttled =
        mock!(aws_sdk_sesv2::Client::send_email).sequence().error(|| too_many_requests("Maximum sending rate exceeded.")).times(6).build();
    let ses = mailer(&[&account, &throttled]);
    assert!(matches!(ses.send(&mail()).await, Err(PortError::Throttled(_))));
    assert_eq!(throttled.num_calls(), 6);
}

#[tokio::test]
async fn sending_paused_is_answered_at_once_without_retries() {
    let account = no_account();
    let paused = mock!(aws_sdk_sesv2::Client::send_email)
        .sequence()
        .error(|| SendEmailError::SendingPausedException(SendingPausedException::builder().message("paused").build()))
        .build();
    let ses = mailer(&[&account, &paused]);
    assert!(matches!(ses.send(&mail()).await, Err(PortError::SendingPaused(_))));
    assert_eq!(paused.num_calls(), 1, "no retry storm");
}

#[tokio::test]
async fn a_spent_daily_quota_pauses_sending_instead_of_retrying() {
    let account = no_account();
    let quota = mock!(aws_sdk_sesv2::Client::send_email).sequence().error(|| too_many_requests("Daily message quota exceeded.")).build();
    let ses = mailer(&[&account, &quota]);
    assert!(matches!(ses.send(&mail()).await, Err(PortError::SendingPaused(_))));
    assert_eq!(quota.num_calls(), 1);
}

#[tokio::test]
async fn a_rejected_message_is_rejected_and_the_address_stays_out_of_the_message() {
    let account = no_account();
    let rejected = mock!(aws_sdk_sesv2::Client::send_email).then_error(|| {
        let message = "Email address is not verified: ada@example.com";
        let meta = ErrorMetadata::builder().code("MessageRejected").message(message).build();
        SendEmailError::MessageRejected(MessageRejected::builder().message(message).meta(meta).build())
    });
    let ses = mailer(&[&account, &rejected]);
    match ses.send(&mail()).await {
        Err(PortError::Rejected(detail)) => assert!(!detail.contains("ada@example.com"), "{detail}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn the_account_rate_is_read_once_and_paces_sends() {
    let account = mock!(aws_sdk_sesv2::Client::get_account)
        .then_output(|| GetAccountOutput::builder().send_quota(SendQuota::builder().max_send_rate(14.0).build()).build());
    let ses = mailer(&[&account]);
    assert_eq!(ses.max_send_rate().await.unwrap(), 14.0);
    assert_eq!(ses.max_send_rate().await.unwrap(), 14.0);
    assert_eq!(account.num_calls(), 1);
    assert_eq!(ses.pacer.rate(), 14.0);
}

#[tokio::test]
async fn without_get_account_the_configured_rate_is_used() {
    let account = no_account();
    let ses = mailer(&[&account]);
    assert_eq!(ses.max_send_rate().await.unwrap(), 500.0);
}
