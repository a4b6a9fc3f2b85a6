//! Logs: whole flows run with every `tracing` event captured (debug level and up, into a buffer
//! through `tracing::subscriber::set_default`), and the capture holds no e-mail address and no
//! phone number of the test data in clear, even when a mail service's error names an address.

use crate::data::*;
use crate::helpers::*;
use onboarding::app::route::UploadOutcome;
use onboarding::app::{dispatch, tile, validate};
use std::io::Write;
use std::sync::{Arc, Mutex};

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Every `local@domain.tld` in `text` (a plain scanner: letters, digits and `._%+-` around an `@`).
pub fn addresses_in(text: &str) -> Vec<String> {
    let bytes = text.as_bytes();
    let local = |b: u8| b.is_ascii_alphanumeric() || b"._%+-".contains(&b);
    let domain = |b: u8| b.is_ascii_alphanumeric() || b".-".contains(&b);
    let mut found = Vec::new();
    for (at, _) in text.match_indices('@') {
        let start = (0..at).rev().take_while(|&i| local(bytes[i])).last().unwrap_or(at);
        let end = (at + 1..bytes.len()).take_while(|&i| domain(bytes[i])).last().map_or(at + 1, |i| i + 1);
        let (l, d) = (&text[start..at], &text[at + 1..end]);
        if !l.is_empty() && d.contains('.') && d.rsplit('.').next().is_some_and(|tld| tld.len() >= 2) {
            found.push(text[start..end].to_string());
        }
    }
    found
}

/// Every run of 10 or more digits (after removing spaces, dashes, dots and brackets) in `text`,
/// the way a phone number would show up.
pub fn phone_numbers_in(text: &str) -> Vec<String> {
    let squeezed: String = text.chars().filter(|c| !" -().".contains(*c)).collect();
    squeezed.split(|c: char| !c.is_ascii_digit()).filter(|run| run.len() >= 10).map(String::from).collect()
}

pub async fn logs_of_whole_flows_carry_no_addresses_or_phone_numbers(h: Harness) {
    let capture = Capture::default();
    let sink = capture.clone();
    let subscriber =
        tracing_subscriber::fmt().with_max_level(tracing::Level::DEBUG).with_ansi(false).with_writer(move || sink.clone()).finish();
    // With one dispatcher registered, tracing computes a callsite's interest from the thread
    // that first reaches it, so a sibling test (in parallel, with no subscriber) can cache
    // "never" for a line this test must see (tokio-rs/tracing#3611). A second, inert
    // dispatcher held meanwhile makes tracing ask every live dispatcher instead.
    let _anchor = tracing::Dispatch::new(tracing_subscriber::registry());
    let _guard = tracing::subscriber::set_default(subscriber);
    tracing::callsite::rebuild_interest_cache();

    // Every flow, with phones, names and addresses in the data.
    let sha = planned(&h, "m1", 6).await;
    h.upload(&format!("inbox/tenants/{ONE_MARKET}/c.csv"), &tenants_csv(6)).await;
    h.upload(&format!("inbox/tenants/{ONE_MARKET}/replace/c.csv"), &tenants_csv(1)).await;
    let UploadOutcome::Rejected { .. } = h.upload("inbox/users/m1/ada@acme.example.csv", b"Name,Mail\nAda,ada@acme.example\n").await else {
        panic!()
    };
    let tomorrow = (h.clock_now().date() + time::Duration::days(1)).to_string();
    h.upload("approvals/m1.json", &approval_json("m1", &sha, Some(&tomorrow))).await;
    h.clock.advance_days(1);
    let config = h.config().await;
    // The mail service fails with an error that names the recipient, as SES does for an
    // unverified identity; then it recovers.
    h.mailer.fail_with("Email address is not verified. The following identities failed the check: user2@acme.example, ops@example.com");
    h.mailer.fail_after_more(2);
    dispatch::dispatch_invites(h.svc(), &config, 100, None).await.unwrap();
    let (_, report) = validate::validation_report(h.svc(), &config).await.unwrap();
    assert!(report.summary_error.is_some(), "the summary's failure is logged");
    h.mailer.fail_after.store(0, std::sync::atomic::Ordering::SeqCst);
    dispatch::dispatch_invites(h.svc(), &config, 100, None).await.unwrap();
    validate::validation_report(h.svc(), &config).await.unwrap();
    tile::check_tile(h.table.as_ref(), &building(ONE_MARKET), &[email("person0@tenant.example")]).await.unwrap();
    drop(_guard);

    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    for expected in
        ["buildings ingested", "migration planned", "plan applied", "mail sent", "invites dispatched", "validation summary not mailed"]
    {
        assert!(logs.contains(expected), "the capture works: no “{expected}” in\n{logs}");
    }
    // The test data's addresses (message ids such as `<…@outbox.onboard.local>` are not people).
    let domains = ["acme.example", "tenant.example", "envoy.example", "example.com", "evil.example"];
    let addresses: Vec<String> =
        addresses_in(&logs).into_iter().filter(|a| domains.iter().any(|d| a.to_lowercase().ends_with(d))).collect();
    assert!(addresses.is_empty(), "addresses in the logs: {addresses:?}\n{logs}");
    // The test data's numbers are +1 415 555 1xxx (hex message ids hold long digit runs too).
    let phones: Vec<String> = phone_numbers_in(&logs).into_iter().filter(|p| p.contains("415555")).collect();
    assert!(!logs.contains("+1415") && phones.is_empty(), "phone numbers in the logs: {phones:?}\n{logs}");
    assert!(addresses_in("to ada.l+x@acme.example, and h:1a2b").len() == 1 && phone_numbers_in("+1 (415) 555-1000").len() == 1);
    eprintln!("logs: {} lines captured, no address or phone number", logs.lines().count());
}
