//! Mail through SES (v2): raw RFC 5322 messages, paced to the account's send rate.
//!
//! Only a refusal that certainly sent nothing is retried (SES throttling). A timeout, a lost
//! connection or a 5xx may or may not have sent the message, so it is answered at once as
//! `Unconfirmed`: SES does not deduplicate, and the caller's mail ledger keeps the claim.
//! A refusal about the account or its sender (unverified sender, sandbox recipient, paused,
//! suspended, daily quota) is `SendingPaused` with its cause; only a refusal about this one
//! message is `Rejected`.

use crate::adapters::aws::describe;
use crate::adapters::aws::pacer::SendPacer;
use crate::adapters::aws::retry::{self, Backoff, Failed};
use crate::domain::mail::OutgoingMail;
use crate::domain::sending::{pause_in_rejection, PauseCause, SendingPause};
use crate::ports::{Mailer, PortError, PortResult};
use async_trait::async_trait;
use aws_sdk_sesv2::config::http::HttpResponse;
use aws_sdk_sesv2::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sesv2::operation::send_email::SendEmailError;
use aws_sdk_sesv2::primitives::Blob;
use aws_sdk_sesv2::types::{Destination, EmailContent, RawMessage};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use tokio::sync::OnceCell;

/// How the mailer sends.
#[derive(Debug, Clone, PartialEq)]
pub struct SesOptions {
    /// The SES configuration set (event publishing, dedicated IPs), if any.
    pub configuration_set: Option<String>,
    /// Messages a second when the account's rate cannot be read (emulators lack GetAccount).
    pub fallback_rate: f64,
    pub backoff: Backoff,
}

impl Default for SesOptions {
    fn default() -> Self {
        // The SES sandbox rate: the safe guess.
        Self { configuration_set: None, fallback_rate: 1.0, backoff: Backoff::SES }
    }
}

#[derive(Debug, Clone)]
pub struct SesMailer {
    client: aws_sdk_sesv2::Client,
    options: SesOptions,
    pacer: SendPacer,
    /// The account's rate, read once per process.
    rate: Arc<OnceCell<f64>>,
}

/// Throttling codes SES answers when a send was refused for the moment.
const THROTTLED: &[&str] = &["TooManyRequestsException", "Throttling", "ThrottlingException"];

/// A throttling refusal that says the day's quota is spent: waiting seconds will not help.
fn daily_quota_spent(error: &SendEmailError) -> bool {
    error.message().is_some_and(|m| {
        let m = m.to_ascii_lowercase();
        m.contains("daily") || m.contains("quota")
    })
}

fn transient(error: &SdkError<SendEmailError, HttpResponse>) -> Option<String> {
    let service = error.as_service_error()?;
    let throttled = service.is_too_many_requests_exception() || service.code().is_some_and(|code| THROTTLED.contains(&code));
    (throttled && !daily_quota_spent(service)).then(|| service.code().unwrap_or("TooManyRequestsException").to_string())
}

fn send_failure(error: SdkError<SendEmailError, HttpResponse>) -> PortError {
    let detail = describe(&error);
    let Some(service) = error.as_service_error() else {
        if matches!(error, SdkError::ConstructionFailure(_)) {
            // The request was never built, so it never left.
            return PortError::Unexpected(format!("SES SendEmail: {detail}"));
        }
        // No answer: the message may have gone out. Not retried (SES does not deduplicate).
        return PortError::Unconfirmed(format!("SES SendEmail: no clear answer, the message may or may not have been sent: {detail}"));
    };
    let server_fault = error.raw_response().is_some_and(|r| r.status().is_server_error());
    let code = service.code().unwrap_or_default();
    let paused = |cause| PortError::SendingPaused(SendingPause::new(cause, format!("SES SendEmail: {detail}")));
    if service.is_sending_paused_exception() {
        paused(PauseCause::SendingPaused)
    } else if service.is_account_suspended_exception() {
        paused(PauseCause::AccountSuspended)
    } else if service.is_limit_exceeded_exception() || (THROTTLED.contains(&code) && daily_quota_spent(service)) {
        paused(PauseCause::DailyQuota)
    } else if service.is_mail_from_domain_not_verified_exception() {
        paused(PauseCause::SenderNotVerified)
    } else if service.is_message_rejected() {
        match pause_in_rejection(service.message().unwrap_or_default()) {
            Some(cause) => paused(cause),
            None => PortError::Rejected(format!("SES SendEmail: {detail}")),
        }
    } else if service.is_bad_request_exception() {
        PortError::Rejected(format!("SES SendEmail: {detail}"))
    } else if server_fault {
        // SES failed on its side after taking the request: it may have sent the message.
        PortError::Unconfirmed(format!("SES SendEmail: the service failed, the message may or may not have been sent: {detail}"))
    } else {
        PortError::Unexpected(format!("SES SendEmail: {detail}"))
    }
}

/// The Message-ID we propose: stable per ledger key, in the sender's domain.
fn message_id_hint(mail: &OutgoingMail) -> String {
    let digest = hex::encode(&Sha256::digest(mail.key.as_bytes())[..12]);
    let domain = mail.from.as_str().rsplit('@').next().unwrap_or("onboarding.invalid");
    format!("<{digest}@{domain}>")
}

impl SesMailer {
    pub fn new(client: aws_sdk_sesv2::Client, options: SesOptions) -> Self {
        let pacer = SendPacer::new(options.fallback_rate);
        Self { client, options, pacer, rate: Arc::new(OnceCell::new()) }
    }

    pub fn with_configuration_set(mut self, name: Option<String>) -> Self {
        self.options.configuration_set = name;
        self
    }

    pub fn with_fallback_rate(self, rate: f64) -> Self {
        let options = SesOptions { fallback_rate: rate, ..self.options };
        Self::new(self.client, options)
    }

    /// Registers a sending identity (a domain or an address) unless it exists. Emulators
    /// refuse to send from an unknown identity; on AWS, verification is a deployment step.
    pub async fn ensure_identity(&self, identity: &str) -> PortResult<()> {
        match self.client.create_email_identity().email_identity(identity).send().await {
            Ok(_) => Ok(()),
            Err(error) if error.as_service_error().is_some_and(|e| e.is_already_exists_exception()) => Ok(()),
            Err(error) => Err(PortError::Unexpected(format!("SES CreateEmailIdentity: {}", describe(&error)))),
        }
    }

    async fn account_rate(&self) -> f64 {
        let fallback = self.options.fallback_rate;
        let rate = match self.client.get_account().send().await {
            Ok(account) => match account.send_quota().map(|quota| quota.max_send_rate()) {
                Some(rate) if rate.is_finite() && rate > 0.0 => rate,
                _ => {
                    tracing::warn!(fallback, "SES GetAccount gave no send rate; using the configured one");
                    fallback
                }
            },
            Err(error) => {
                tracing::warn!(fallback, code = error.code().unwrap_or("none"), "SES GetAccount failed; using the configured send rate");
                fallback
            }
        };
        self.pacer.set_rate(rate);
        rate
    }
}

#[async_trait]
impl Mailer for SesMailer {
    async fn send(&self, mail: &OutgoingMail) -> PortResult<String> {
        self.max_send_rate().await?;
        let hint = message_id_hint(mail);
        let raw = mail.to_rfc5322(&hint, time::OffsetDateTime::now_utc().unix_timestamp());
        let raw = RawMessage::builder().data(Blob::new(raw)).build().map_err(|e| PortError::Unexpected(format!("SES message: {e}")))?;
        let content = EmailContent::builder().raw(raw).build();
        let to: Vec<String> = mail.to.iter().map(|e| e.as_str().to_string()).collect();
        let cc: Vec<String> = mail.cc.iter().map(|e| e.as_str().to_string()).collect();
        let destination = Destination::builder().set_to_addresses(Some(to)).set_cc_addresses((!cc.is_empty()).then_some(cc)).build();
        let recipients = u32::try_from(mail.recipients()).unwrap_or(u32::MAX);
        let sent = retry::call(
            &self.options.backoff,
            "SES SendEmail",
            || {
                let request = self
                    .client
                    .send_email()
                    .from_email_address(mail.from.as_str())
                    .destination(destination.clone())
                    .content(content.clone())
                    .set_configuration_set_name(self.options.configuration_set.clone());
                async move {
                    self.pacer.acquire(recipients).await;
                    request.send().await
                }
            },
            transient,
        )
        .await;
        match sent {
            Ok(output) => match output.message_id() {
                Some(id) => Ok(id.to_string()),
                None => {
                    // Accepted all the same; answering an error would invite a second send.
                    tracing::warn!(key_hash = %crate::domain::text::redact(&mail.key), "SES accepted a message without returning its id");
                    Ok(hint)
                }
            },
            Err(Failed::GaveUp(error)) => Err(error),
            Err(Failed::Final(error)) => Err(send_failure(error)),
        }
    }

    async fn max_send_rate(&self) -> PortResult<f64> {
        Ok(*self.rate.get_or_init(|| self.account_rate()).await)
    }

    /// The account-level suppression list (GetSuppressedDestination): an address SES keeps
    /// from being mailed after a hard bounce or a complaint.
    async fn suppressed(&self, email: &crate::domain::values::Email) -> PortResult<Option<String>> {
        match self.client.get_suppressed_destination().email_address(email.as_str()).send().await {
            Ok(found) => Ok(found.suppressed_destination().map(|d| format!("on the SES suppression list ({})", d.reason().as_str()))),
            Err(error) if error.as_service_error().is_some_and(|e| e.is_not_found_exception()) => Ok(None),
            Err(error) => Err(PortError::Unexpected(format!("SES GetSuppressedDestination: {}", describe(&error)))),
        }
    }
}

#[cfg(test)]
mod tests;
