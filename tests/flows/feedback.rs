//! Delivery feedback: SES's events (the mailbox simulator's, through the embedded outbox; the
//! same events built from the emulator's message ids) recorded against the invites, duplicated
//! and out of order; bounced and complaining addresses suppressed for every flow; invites paused
//! by a bounce rate and by a complaint until a person resumes.

use crate::data::*;
use crate::helpers::*;
use onboarding::app::route::UploadOutcome;
use onboarding::app::{delivery, dispatch, validate};
use onboarding::domain::delivery::{parse_ses_event, ses_event_json, simulated_events, DeliveryState};
use onboarding::domain::invite::MailStatus;
use onboarding::domain::sending::PauseCause;
use onboarding::domain::values::MigrationId;

/// Plans, approves for today and dispatches a migration of these addresses; answers how many
/// invites went out.
async fn invite(h: &Harness, migration: &str, addresses: &[&str]) -> u64 {
    let mut export = String::from("First Name,Last Name,Email,Role(s),Building assignments,Status\n");
    for (i, address) in addresses.iter().enumerate() {
        export.push_str(&format!("Person,{i},{address},Employee,HVB,active\n"));
    }
    let UploadOutcome::Plan(plan) = h.upload(&format!("inbox/users/{migration}/export.csv"), export.as_bytes()).await else {
        panic!("not planned")
    };
    let UploadOutcome::Applied { dispatch, .. } =
        h.upload(&format!("approvals/{migration}.json"), &approval_json(migration, &plan.plan_sha256, None)).await
    else {
        panic!("not applied")
    };
    dispatch.sent
}

/// The SES events of everything sent since the last call: the outbox's (embedded), or what
/// SES's mailbox simulator publishes for each sent invite of `migrations` (emulator).
async fn published(h: &Harness, migrations: &[&str]) -> Vec<String> {
    if let Some(outbox) = &h.outbox {
        let dir = outbox.join("feedback");
        let mut files: Vec<_> = std::fs::read_dir(&dir).map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect()).unwrap_or_default();
        files.sort();
        return files
            .into_iter()
            .map(|file| {
                let text = std::fs::read_to_string(&file).unwrap();
                std::fs::remove_file(&file).unwrap();
                text
            })
            .collect();
    }
    let mut events = Vec::new();
    for migration in migrations {
        for invite in h.table.list_invites(&MigrationId::parse(migration).unwrap()).await.unwrap() {
            let Some(id) = invite.message_id.filter(|_| invite.status == MailStatus::Sent) else { continue };
            for (state, detail) in simulated_events(invite.email.as_str()) {
                events.push(ses_event_json(&id, invite.email.as_str(), state, h.clock_now(), detail));
            }
        }
    }
    events
}

/// Records events last first, then all of them again in order: duplicates and late events.
async fn record_shuffled(h: &Harness, events: &[String]) -> Vec<delivery::FeedbackOutcome> {
    let config = h.config().await;
    let mut outcomes = Vec::new();
    for json in events.iter().rev().chain(events.iter()) {
        let event = parse_ses_event(json).unwrap();
        outcomes.push(delivery::record_event(h.svc(), &config, &event).await.unwrap());
    }
    outcomes
}

async fn state_of(h: &Harness, migration: &str, address: &str) -> Option<DeliveryState> {
    let invite = h.table.get_invite(&MigrationId::parse(migration).unwrap(), &email(address)).await.unwrap()?;
    let id = invite.message_id?;
    h.table.deliveries(std::slice::from_ref(&id)).await.unwrap().get(&id).map(|d| d.state)
}

pub async fn bounces_and_complaints_suppress_addresses_and_pause_invites_until_resumed(h: Harness) {
    h.with_buildings().await;
    set_settings(&h, serde_json::json!({"max_send_rate_per_second": 1000, "bounce_rate_min_messages": 4})).await;

    // Two of five bounce: 40 %, past 5 % once four messages reached an end.
    let first = [
        "success@simulator.amazonses.com",
        "ann@acme.example",
        "bob@acme.example",
        "bounce@simulator.amazonses.com",
        "bounce+2@simulator.amazonses.com",
    ];
    assert_eq!(invite(&h, "fb1", &first).await, 5);
    let outcomes = record_shuffled(&h, &published(&h, &["fb1"]).await).await;
    let paused: Vec<_> = outcomes.iter().filter_map(|o| o.paused.clone()).collect();
    assert_eq!(paused.len(), 1, "paused once, whatever the duplicates: {paused:?}");
    assert_eq!(paused[0].cause, PauseCause::BounceRate);
    for (address, state) in [
        ("success@simulator.amazonses.com", DeliveryState::Delivered),
        ("ann@acme.example", DeliveryState::Delivered),
        ("bounce@simulator.amazonses.com", DeliveryState::Bounced),
        ("bounce+2@simulator.amazonses.com", DeliveryState::Bounced),
    ] {
        assert_eq!(state_of(&h, "fb1", address).await, Some(state), "{address}");
    }
    // Each message counted once: late Send and Delivery events after the bounce changed nothing.
    let tally = h.table.add_to_tally(&Default::default()).await.unwrap();
    assert_eq!(tally.bounced, 2, "{tally:?}");
    assert!(tally.delivered >= 3, "{tally:?}");
    let suppressed = h.table.suppressions(&[email("bounce@simulator.amazonses.com"), email("ann@acme.example")]).await.unwrap();
    assert_eq!(suppressed.len(), 1);
    assert!(suppressed[&email("bounce@simulator.amazonses.com")].describe().contains("bounced for good"));

    // Paused: the next migration's invites wait, whatever runs.
    assert_eq!(invite(&h, "fb2", &["complaint@simulator.amazonses.com", "cy@acme.example"]).await, 0);
    let config = h.config().await;
    let run = dispatch::dispatch_invites(h.svc(), &config, 100, None).await.unwrap();
    assert_eq!(run.sent, 0);
    assert_eq!(run.paused.map(|p| p.cause), Some(PauseCause::BounceRate));

    // The validation report names the bounces and counts them.
    let (report, _) = validate::validation_report(h.svc(), &config).await.unwrap();
    let fb1 = report.migrations.iter().find(|m| m.migration == "fb1").unwrap();
    assert_eq!((fb1.invites_sent, fb1.invites_bounced), (5, 2));
    assert!(fb1.invites_delivered >= 3);
    let bounced = report.discrepancies.iter().find(|u| u.email == "bounce@simulator.amazonses.com").expect("a bounce is a discrepancy");
    assert!(bounced.invite.starts_with("sent, bounced: Permanent/General"), "{}", bounced.invite);
    assert!(bounced.problems.join(" ").contains("correct it in the source export"), "{:?}", bounced.problems);
    assert!(report.sending_paused.as_deref().unwrap_or_default().contains("bounce_rate"), "{:?}", report.sending_paused);
    assert!(report.html().contains("bounced for good"));

    // A person resumes: fb2 goes out; a complaint pauses again at once.
    let resumed = delivery::resume_sending(h.svc()).await.unwrap();
    assert_eq!(resumed.lifted.map(|p| p.cause), Some(PauseCause::BounceRate));
    assert_eq!(dispatch::dispatch_invites(h.svc(), &config, 100, None).await.unwrap().sent, 2);
    let outcomes = record_shuffled(&h, &published(&h, &["fb2"]).await).await;
    assert_eq!(outcomes.iter().filter_map(|o| o.paused.as_ref()).map(|p| p.cause).collect::<Vec<_>>(), vec![PauseCause::Complaint]);
    assert_eq!(state_of(&h, "fb2", "complaint@simulator.amazonses.com").await, Some(DeliveryState::Complained));

    // Suppressed addresses are never mailed again, by any flow. By hand: no resend.
    delivery::resume_sending(h.svc()).await.unwrap();
    let m1 = MigrationId::parse("fb1").unwrap();
    let resend = onboarding::app::invites::resend_invite(h.svc(), &m1, &email("bounce@simulator.amazonses.com")).await;
    assert!(matches!(&resend, Err(onboarding::app::AppError::Rejected(r)) if r.code == "suppressed_address"), "{resend:?}");
    // An invite: an address suppressed earlier (say a notice to it bounced) fails with the reason.
    let eve = email("eve@acme.example");
    let earlier = onboarding::domain::delivery::Suppression {
        email: eve.clone(),
        reason: DeliveryState::Bounced,
        message_id: "earlier".into(),
        at: h.clock_now(),
        detail: Some("Permanent/General: smtp; 550 5.1.1 user unknown".into()),
    };
    h.table.suppress(&earlier).await.unwrap();
    // A notice: the suppressed person is left out, the others told.
    set_settings(&h, serde_json::json!({"notify": {"users": ["eve@acme.example", "ops@example.com"]}})).await;
    let before = h.mailer.sent().len();
    let earlier_keys: std::collections::HashSet<String> = h.mailer.sent().into_keys().collect();
    assert_eq!(invite(&h, "fb3", &["eve@acme.example", "dee@acme.example"]).await, 1);
    let m3 = MigrationId::parse("fb3").unwrap();
    let refused = h.table.get_invite(&m3, &eve).await.unwrap().unwrap();
    assert_eq!(refused.status, MailStatus::Failed);
    assert!(refused.error.unwrap_or_default().contains("suppression list"));
    let raw = h.mailer.raw_messages();
    let notices: Vec<_> = raw.iter().filter(|(key, _)| key.starts_with("notice#") && !earlier_keys.contains(*key)).collect();
    assert!(!notices.is_empty() && h.mailer.sent().len() >= before + 2, "dee's invite and the notices went out");
    for (key, (bytes, _)) in notices {
        let text = String::from_utf8_lossy(bytes);
        assert!(text.contains("ops@example.com") && !text.contains("eve@acme.example"), "{key}: the suppressed person is left out");
    }
    // ... nor put back by hand; a person who fixed the mailbox takes the address off on purpose.
    let retry = onboarding::app::invites::retry_invites(h.svc(), &m3, None).await.unwrap();
    assert!(retry.requeued.is_empty() && retry.suppressed.len() == 1, "{retry:?}");
    assert!(h.table.unsuppress(&eve).await.unwrap());
    assert_eq!(onboarding::app::invites::retry_invites(h.svc(), &m3, None).await.unwrap().requeued.len(), 1);
    assert_eq!(dispatch::dispatch_invites(h.svc(), &config, 100, None).await.unwrap().sent, 1);
    h.mailer.assert_each_sent_once();
}
