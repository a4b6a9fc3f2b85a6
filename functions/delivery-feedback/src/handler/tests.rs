//! The handler over the embedded adapters, with an SNS delivery as Lambda hands it.

use super::*;
use onboarding::domain::delivery::{DeliveryState, Suppression};
use onboarding::domain::values::Email;
use onboarding::ports::{DeliveryLog, ObjectStore};
use onboarding::test_support::Harness;
use time::macros::datetime;

const BOUNCE: &str = include_str!("../../fixtures/sns-ses-bounce.json");
const MESSAGE_ID: &str = "0100018c5f1c1a2b-3c4d5e6f-7a8b-9c0d-1e2f-3a4b5c6d7e8f-000000";

async fn harness() -> Harness {
    let h = Harness::open(datetime!(2026-11-24 09:20 UTC));
    let settings = serde_json::json!({ "max_bounce_rate_percent": 5.0, "bounce_rate_min_messages": 1 });
    h.objects.put("config/settings.json", settings.to_string().into_bytes(), "application/json").await.unwrap();
    h
}

async fn deliver(h: &Harness, payload: &str) -> FeedbackReport {
    handle(h.svc(), &ConfigOverrides::default(), serde_json::from_str(payload).unwrap()).await.unwrap()
}

#[tokio::test]
async fn a_bounce_is_recorded_suppressed_paused_and_counted_once() {
    let h = harness().await;
    let first = deliver(&h, BOUNCE).await;
    assert_eq!(first.outcomes.len(), 1);
    let outcome = &first.outcomes[0];
    assert!(outcome.recorded && outcome.suppressed == 1, "{outcome:?}");
    assert_eq!(outcome.paused.as_ref().map(|p| p.cause.as_str()), Some("bounce_rate"));

    let stored = h.table.deliveries(&[MESSAGE_ID.to_string()]).await.unwrap();
    assert_eq!(stored[MESSAGE_ID].state, DeliveryState::Bounced);
    assert!(stored[MESSAGE_ID].detail.as_deref().unwrap().starts_with("Permanent/General: smtp; 550 5.1.1"));
    let nobody = Email::parse("nobody@acme.example").unwrap();
    let suppressed: Vec<Suppression> = h.table.suppressions(std::slice::from_ref(&nobody)).await.unwrap().into_values().collect();
    assert_eq!(suppressed.len(), 1);

    // The metric lines the alarms read: one bounce, one pause.
    let at = datetime!(2026-11-24 09:20 UTC);
    let lines: Vec<serde_json::Value> = first.metrics.iter().map(|l| serde_json::from_str(&l.to_emf(at)).unwrap()).collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(lines[0]["_aws"]["CloudWatchMetrics"][0]["Namespace"], "VisitorOnboarding");
    assert_eq!(lines[0]["_aws"]["CloudWatchMetrics"][0]["Metrics"][1]["Name"], "MailBounced");
    assert_eq!(
        (lines[0]["MailBounced"].as_f64(), lines[0]["MailDelivered"].as_f64(), lines[0]["Service"].as_str()),
        (Some(1.0), Some(0.0), Some("ses"))
    );
    assert_eq!((lines[1]["SendingPaused"].as_f64(), lines[1]["InvitesPaused"].as_f64()), (Some(1.0), Some(1.0)));
    assert!(lines.iter().all(|l| !l.to_string().contains('@')), "no address in a metric line");

    // SNS delivers again (a retry): nothing moves, nothing is counted twice.
    let again = deliver(&h, BOUNCE).await;
    assert!(!again.outcomes[0].recorded && again.outcomes[0].paused.is_none(), "{:?}", again.outcomes);
    assert!(again.metrics.is_empty(), "{:?}", again.metrics);
    assert_eq!(h.table.add_to_tally(&Default::default()).await.unwrap().bounced, 1);
}

#[tokio::test]
async fn a_late_delivery_event_does_not_undo_a_bounce_and_other_messages_are_skipped() {
    let h = harness().await;
    deliver(&h, BOUNCE).await;
    let late = onboarding::domain::delivery::ses_event_json(
        MESSAGE_ID,
        "nobody@acme.example",
        DeliveryState::Delivered,
        datetime!(2026-11-24 09:16 UTC),
        None,
    );
    let report = deliver(&h, &serde_json::json!({ "detail": serde_json::from_str::<serde_json::Value>(&late).unwrap() }).to_string()).await;
    assert!(!report.outcomes[0].recorded);
    assert_eq!(h.table.deliveries(&[MESSAGE_ID.to_string()]).await.unwrap()[MESSAGE_ID].state, DeliveryState::Bounced);

    let open = BOUNCE.replace(r#"\"eventType\": \"Bounce\""#, r#"\"eventType\": \"Open\""#);
    assert_ne!(open, BOUNCE);
    let skipped = deliver(&h, &open).await;
    assert_eq!((skipped.outcomes.len(), skipped.skipped), (0, 1));
    let junk = deliver(&h, r#"{"hello": "world"}"#).await;
    assert_eq!((junk.outcomes.len(), junk.skipped), (0, 1));
}
