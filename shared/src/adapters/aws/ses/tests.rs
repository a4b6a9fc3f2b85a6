use super::*;
use crate::domain::sending::PauseCause;
use crate::domain::values::Email;
use aws_sdk_sesv2::error::ErrorMetadata;
use aws_sdk_sesv2::operation::get_account::{GetAccountError, GetAccountOutput};
use aws_sdk_sesv2::operation::send_email::SendEmailOutput;
use aws_sdk_sesv2::types::error::{
    AccountSuspendedException, BadRequestException, MailFromDomainNotVerifiedException, MessageRejected, SendingPausedException,
    TooManyRequestsException,
};
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

fn message_rejected(message: &'static str) -> Rule {
    mock!(aws_sdk_sesv2::Client::send_email).then_error(move || {
        let meta = ErrorMetadata::builder().code("MessageRejected").message(message).build();
        SendEmailError::MessageRejected(MessageRejected::builder().message(message).meta(meta).build())
    })
}

#[tokio::test]
async fn an_unverified_sender_pauses_sending_and_the_address_stays_out_of_the_detail() {
    let account = no_account();
    // moto and SES answer this for a sender (or, in the sandbox, a recipient) not yet verified.
    let rejected = message_rejected("Email address is not verified. The following identities failed the check: noreply@example.com");
    let ses = mailer(&[&account, &rejected]);
    match ses.send(&mail()).await {
        Err(PortError::SendingPaused(pause)) => {
            assert_eq!(pause.cause, PauseCause::SenderNotVerified);
            assert!(!pause.detail.contains("noreply@example.com"), "{pause}");
            assert!(pause.to_string().contains("verify the sender identity"), "{pause}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(rejected.num_calls(), 1);
}

#[tokio::test]
async fn account_level_refusals_each_pause_with_their_cause() {
    let cases: Vec<(Rule, PauseCause)> = vec![
        (
            mock!(aws_sdk_sesv2::Client::send_email).then_error(|| {
                SendEmailError::AccountSuspendedException(AccountSuspendedException::builder().message("suspended").build())
            }),
            PauseCause::AccountSuspended,
        ),
        (
            mock!(aws_sdk_sesv2::Client::send_email).then_error(|| {
                SendEmailError::MailFromDomainNotVerifiedException(
                    MailFromDomainNotVerifiedException::builder().message("mail from").build(),
                )
            }),
            PauseCause::SenderNotVerified,
        ),
        (
            mock!(aws_sdk_sesv2::Client::send_email).then_error(|| too_many_requests("Daily message quota exceeded.")),
            PauseCause::DailyQuota,
        ),
        (
            mock!(aws_sdk_sesv2::Client::send_email).then_error(|| {
                let message = "Message rejected: the account is in the sandbox and the recipient is not verified";
                let meta = ErrorMetadata::builder().code("MessageRejected").message(message).build();
                SendEmailError::MessageRejected(MessageRejected::builder().message(message).meta(meta).build())
            }),
            PauseCause::SandboxRecipient,
        ),
    ];
    for (rule, cause) in cases {
        let account = no_account();
        let ses = mailer(&[&account, &rule]);
        match ses.send(&mail()).await {
            Err(PortError::SendingPaused(pause)) => assert_eq!(pause.cause, cause),
            other => panic!("{cause:?}: {other:?}"),
        }
        assert_eq!(rule.num_calls(), 1, "{cause:?}: no retry");
    }
}

#[tokio::test]
async fn a_refusal_about_one_recipient_rejects_that_message_only() {
    let account = no_account();
    let rejected = message_rejected("Illegal address");
    let ses = mailer(&[&account, &rejected]);
    match ses.send(&mail()).await {
        Err(PortError::Rejected(detail)) => assert!(detail.contains("Illegal address"), "{detail}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_server_error_is_unconfirmed_and_not_retried() {
    let account = no_account();
    let failed = mock!(aws_sdk_sesv2::Client::send_email)
        .sequence()
        .http_status(500, Some(r#"{"message":"We encountered an internal error"}"#.into()))
        .build();
    let ses = mailer(&[&account, &failed]);
    assert!(matches!(ses.send(&mail()).await, Err(PortError::Unconfirmed(_))), "a 5xx may have sent the mail");
    assert_eq!(failed.num_calls(), 1, "never sent again automatically");
}

/// A server that takes the request and drops the connection without answering.
#[tokio::test]
async fn a_connection_lost_after_the_request_left_is_unconfirmed() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let requests = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = requests.clone();
    tokio::spawn(async move {
        use tokio::io::AsyncReadExt;
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut buffer = vec![0u8; 64 * 1024];
            let read = socket.read(&mut buffer).await.unwrap_or(0);
            if String::from_utf8_lossy(&buffer[..read]).contains("/v2/email/outbound-emails") {
                seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
            drop(socket);
        }
    });
    let sdk = crate::adapters::aws::test_servers::sdk_config(&format!("http://{address}"));
    let config = crate::adapters::aws::ses_config(&sdk, crate::adapters::aws::CallTimeouts::SES);
    let ses = SesMailer::new(
        aws_sdk_sesv2::Client::from_conf(config),
        SesOptions { configuration_set: None, fallback_rate: 500.0, backoff: QUICK },
    );
    match ses.send(&mail()).await {
        Err(PortError::Unconfirmed(detail)) => assert!(detail.contains("may or may not"), "{detail}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(requests.load(std::sync::atomic::Ordering::SeqCst), 1, "sent once, not retried");
}

/// A server that takes the request and never answers: the send ends on its deadline as
/// `Unconfirmed` and is not sent again.
#[tokio::test]
async fn a_send_without_an_answer_times_out_unconfirmed_and_is_sent_once() {
    use crate::adapters::aws::ses_config;
    use crate::adapters::aws::test_servers::{sdk_config, silent_server, SHORT};
    let (endpoint, sends) = silent_server("/v2/email/outbound-emails").await;
    let client = aws_sdk_sesv2::Client::from_conf(ses_config(&sdk_config(&endpoint), SHORT));
    let ses = SesMailer::new(client, SesOptions { configuration_set: None, fallback_rate: 500.0, backoff: QUICK });
    let answer = tokio::time::timeout(Duration::from_secs(20), ses.send(&mail())).await.expect("the send must end on its own deadline");
    match answer {
        Err(PortError::Unconfirmed(detail)) => assert!(detail.contains("may or may not"), "{detail}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(sends.load(std::sync::atomic::Ordering::SeqCst), 1, "sent once, not retried");
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

#[tokio::test]
async fn the_account_suppression_list_is_read_per_address() {
    use aws_sdk_sesv2::operation::get_suppressed_destination::{GetSuppressedDestinationError, GetSuppressedDestinationOutput};
    use aws_sdk_sesv2::types::error::NotFoundException;
    use aws_sdk_sesv2::types::{SuppressedDestination, SuppressionListReason};
    let found = mock!(aws_sdk_sesv2::Client::get_suppressed_destination)
        .match_requests(|r| r.email_address() == Some("ada@example.com"))
        .then_output(|| {
            let destination = SuppressedDestination::builder()
                .email_address("ada@example.com")
                .reason(SuppressionListReason::Bounce)
                .last_update_time(aws_smithy_types::DateTime::from_secs(0))
                .build()
                .unwrap();
            GetSuppressedDestinationOutput::builder().suppressed_destination(destination).build()
        });
    let absent = mock!(aws_sdk_sesv2::Client::get_suppressed_destination)
        .then_error(|| GetSuppressedDestinationError::NotFoundException(NotFoundException::builder().build()));
    let ses = mailer(&[&found, &absent]);
    let bounced = ses.suppressed(&Email::parse("ada@example.com").unwrap()).await.unwrap();
    assert_eq!(bounced.as_deref(), Some("on the SES suppression list (BOUNCE)"));
    assert_eq!(ses.suppressed(&Email::parse("bo@example.com").unwrap()).await.unwrap(), None);
}
