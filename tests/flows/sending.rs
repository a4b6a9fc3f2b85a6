//! The mail service as a new AWS account meets it: a sender not yet verified (moto answers
//! MessageRejected, as SES does), sends whose outcome is unknown, and a person putting invites
//! back on purpose. Nothing is burnt, nothing goes out twice.

use crate::data::{invites_due, set_settings};
use crate::helpers::*;
use crate::scenarios::{approval, plan_users};
use onboarding::app::route::UploadOutcome;
use onboarding::app::{dispatch, invites, validate};
use onboarding::domain::building::Phase;
use onboarding::domain::invite::MailStatus;
use onboarding::domain::sending::PauseCause;
use onboarding::domain::values::MigrationId;
use onboarding::ports::Mailer;
use std::sync::atomic::Ordering;

/// A sender domain no identity covers yet (one per run: SES identities are account-wide, and an
/// emulator may be reused).
fn unverified_domain() -> String {
    format!("unverified-{}-{}.example", std::process::id(), time::OffsetDateTime::now_utc().unix_timestamp_nanos() % 1_000_000_000)
}

/// Makes the mail service refuse every message for a reason about the account: on the emulator
/// a sender whose identity is not verified (the real SES answer); embedded, the paused mailer.
async fn refuse_all_sends(h: &Harness, domain: &str) {
    if h.emulated {
        set_settings(h, serde_json::json!({ "sender": format!("Visitor Onboarding <onboarding@{domain}>") })).await;
    } else {
        *h.mailer.pause_cause.lock().unwrap() = PauseCause::SenderNotVerified;
        h.mailer.paused.store(true, Ordering::SeqCst);
    }
}

/// The fix a person makes: the sender's identity is verified.
async fn verify_sender(h: &Harness, domain: &str) {
    if h.emulated {
        let aws = onboarding::adapters::aws::AwsState::from_env("unused".into(), "unused".into()).await;
        aws.mailer.ensure_identity(domain).await.unwrap();
    } else {
        h.mailer.paused.store(false, Ordering::SeqCst);
    }
}

pub async fn an_unverified_sender_pauses_everything_and_the_next_run_sends_each_mail_once(h: Harness) {
    h.load_example_config().await;
    let domain = unverified_domain();
    refuse_all_sends(&h, &domain).await;
    let UploadOutcome::Buildings(buildings) = h.upload("inbox/buildings/buildings.csv", BUILDINGS_CSV).await else { panic!() };
    assert_eq!((buildings.accepted, buildings.kickstarts_sent, buildings.kickstarts_paused), (2, 0, 2), "{buildings:?}");
    let pause = buildings.sending_paused.clone().expect("the outcome names the pause");
    assert_eq!(pause.cause, PauseCause::SenderNotVerified);
    assert!(pause.to_string().contains("verify the sender identity"), "{pause}");
    assert!(
        !buildings
            .issues
            .iter()
            .any(|i| i.code.as_str() == "invalid_email" && i.column.as_deref() == Some("Envoy CSM Email") && i.row.is_none()),
        "no row issue blames the Envoy contacts: {:?}",
        buildings.issues
    );
    let state = h.table.get_building(&building(ONE_MARKET)).await.unwrap().unwrap();
    assert_eq!(state.phase, Phase::New, "the kickstart waits");

    let summary = plan_users(
        &h,
        "paused",
        b"First Name,Last Name,Email,Role(s),Building assignments,Status\nAda,L,ada@acme.example,Employee,HVB,active\nLin,C,lin@acme.example,Employee,HVB,active\n",
    )
    .await;
    let UploadOutcome::Applied { apply, dispatch } =
        h.upload("approvals/paused.json", &approval("paused", &summary.plan_sha256, None, &[])).await
    else {
        panic!()
    };
    assert_eq!((apply.invites_queued, dispatch.sent, dispatch.failed), (2, 0, 0));
    assert_eq!(dispatch.paused.as_ref().map(|p| p.cause), Some(PauseCause::SenderNotVerified), "{dispatch:?}");
    let config = h.config().await;
    // More scheduled runs while the sender is unverified: still nothing burnt.
    for _ in 0..3 {
        let run = dispatch::dispatch_invites(h.svc(), &config, 100, None).await.unwrap();
        assert_eq!((run.sent, run.failed, run.kickstarts_sent), (0, 0, 0));
        assert!(run.stopped.unwrap().starts_with("sending paused: sender_not_verified"));
    }
    let m = MigrationId::parse("paused").unwrap();
    for invite in h.table.list_invites(&m).await.unwrap() {
        assert_eq!((invite.status, invite.attempts), (MailStatus::Pending, 0), "no attempt counted: {invite:?}");
    }
    let (report, outcome) = validate::validation_report(h.svc(), &config).await.unwrap();
    assert!(outcome.sending_paused && !outcome.summary_mailed, "the summary waits too, not failed: {outcome:?}");
    let paused = report.sending_paused.clone().expect("the validation report shows the pause");
    assert!(paused.starts_with("sending paused: sender_not_verified"), "{paused}");
    assert!(report.html().contains("sending paused"), "the HTML report shows it");
    assert!(String::from_utf8(report.csv()).unwrap().contains("sending paused"));

    // The sender is verified: the next scheduled run sends every kickstart and invite, once.
    verify_sender(&h, &domain).await;
    let config = h.config().await;
    let resumed = dispatch::dispatch_invites(h.svc(), &config, 100, None).await.unwrap();
    assert_eq!((resumed.kickstarts_sent, resumed.sent, resumed.paused.is_none()), (2, 2, true), "{resumed:?}");
    // The notices of the three uploads (buildings, plan, approval) were parked, not lost.
    assert_eq!(resumed.notices_sent, 3, "{resumed:?}");
    let again = dispatch::dispatch_invites(h.svc(), &config, 100, None).await.unwrap();
    assert_eq!((again.kickstarts_sent, again.sent, again.notices_sent), (0, 0, 0));
    assert_eq!(h.mailer.sent_to_kind("kickstart#"), 2);
    assert_eq!(h.mailer.sent_to_kind("invite#"), 2);
    assert_eq!(h.mailer.sent_to_kind("notice#"), 3);
    assert!(h.table.parked_mail(10).await.unwrap().is_empty());
    h.mailer.assert_each_sent_once();
    assert_eq!(h.table.get_building(&building(ONE_MARKET)).await.unwrap().unwrap().phase, Phase::KickstartSent);
    let (report, _) = validate::validation_report(h.svc(), &config).await.unwrap();
    assert_eq!(report.sending_paused, None, "the pause is cleared once mail goes out");
}

pub async fn an_unconfirmed_send_is_never_resent_by_itself_and_retry_puts_it_back(h: Harness) {
    h.with_buildings().await;
    let summary = plan_users(
        &h,
        "lost",
        b"First Name,Last Name,Email,Role(s),Building assignments,Status\nAda,L,ada@acme.example,Employee,HVB,active\nLin,C,lin@acme.example,Employee,HVB,active\n",
    )
    .await;
    h.mailer.unconfirmed_next.store(1, Ordering::SeqCst);
    let UploadOutcome::Applied { dispatch, .. } = h.upload("approvals/lost.json", &approval("lost", &summary.plan_sha256, None, &[])).await
    else {
        panic!()
    };
    assert_eq!((dispatch.sent, dispatch.unconfirmed), (1, 1), "{dispatch:?}");
    let m = MigrationId::parse("lost").unwrap();
    let lost =
        h.table.list_invites(&m).await.unwrap().into_iter().find(|i| i.status == MailStatus::Unconfirmed).expect("recorded unconfirmed");
    let config = h.config().await;
    // Later runs, days later: the unconfirmed invite is not sent again by itself.
    for _ in 0..2 {
        h.clock.advance_days(1);
        let run = dispatch::dispatch_invites(h.svc(), &config, 100, None).await.unwrap();
        assert_eq!(run.sent, 0, "{run:?}");
    }
    assert_eq!(h.table.get_invite(&m, &lost.email).await.unwrap().unwrap().status, MailStatus::Unconfirmed);

    // Someone checked it did not arrive, and puts it back on purpose.
    let retried = invites::retry_invites(h.svc(), &m, Some(&lost.email)).await.unwrap();
    assert_eq!((retried.requeued.len(), retried.untouched), (1, 0));
    let run = dispatch::dispatch_invites(h.svc(), &config, 100, None).await.unwrap();
    assert_eq!(run.sent, 1);
    let sent = h.table.get_invite(&m, &lost.email).await.unwrap().unwrap();
    assert_eq!(sent.status, MailStatus::Sent);
    // The retry is a new attempt in the ledger; the first stays as it was.
    let first = onboarding::domain::mail::invite_key("lost", &lost.email);
    assert_eq!(h.table.get_mail(&first).await.unwrap().unwrap().status, MailStatus::Unconfirmed);
    assert_eq!(h.table.get_mail(&format!("{first}#retry1")).await.unwrap().unwrap().status, MailStatus::Sent);
    assert_eq!(dispatch::dispatch_invites(h.svc(), &config, 100, None).await.unwrap().sent, 0, "sent once");
    h.mailer.assert_each_sent_once();
    // Sent invites are not put back; an unknown migration is a clear refusal.
    assert_eq!(invites::retry_invites(h.svc(), &m, None).await.unwrap().untouched, 2);
    let unknown = invites::retry_invites(h.svc(), &MigrationId::parse("nope").unwrap(), None).await.unwrap_err();
    assert!(unknown.to_string().contains("has no invites"), "{unknown}");
}

pub async fn throttling_never_counts_as_an_attempt(h: Harness) {
    h.with_buildings().await;
    let summary = plan_users(
        &h,
        "slow",
        b"First Name,Last Name,Email,Role(s),Building assignments,Status\nAda,L,ada@acme.example,Employee,HVB,active\n",
    )
    .await;
    // Every send from now on is refused as throttled (the two kickstarts went out before); a
    // throttled notice would fail the approval's delivery (see notices.rs), so none is asked for.
    set_settings(&h, serde_json::json!({"notify": {}})).await;
    h.mailer.fail_after_more(0);
    let UploadOutcome::Applied { dispatch, .. } = h.upload("approvals/slow.json", &approval("slow", &summary.plan_sha256, None, &[])).await
    else {
        panic!()
    };
    assert_eq!((dispatch.sent, dispatch.failed, dispatch.retry_later), (0, 0, 1), "{dispatch:?}");
    let config = h.config().await;
    for _ in 0..(onboarding::domain::invite::MAX_SEND_ATTEMPTS + 2) {
        dispatch::dispatch_invites(h.svc(), &config, 100, None).await.unwrap();
    }
    let m = MigrationId::parse("slow").unwrap();
    let invite = &h.table.list_invites(&m).await.unwrap()[0];
    assert_eq!((invite.status, invite.attempts), (MailStatus::Pending, 0), "{invite:?}");
    h.mailer.fail_after.store(0, Ordering::SeqCst);
    assert_eq!(dispatch::dispatch_invites(h.svc(), &config, 100, None).await.unwrap().sent, 1);
}

pub async fn a_person_planned_in_two_migrations_applied_at_once_is_created_and_invited_once(h: Harness) {
    h.with_buildings().await;
    let header = "First Name,Last Name,Email,Role(s),Building assignments,Status\n";
    let a = plan_users(
        &h,
        "wave-a",
        format!("{header}Sam,Both,sam@acme.example,Admin,One Market Plaza,active\nAnn,A,ann@acme.example,Employee,HVB,active\n").as_bytes(),
    )
    .await;
    let b = plan_users(
        &h,
        "wave-b",
        format!("{header}Sam,Both,sam@acme.example,Employee,HVB,active\nBob,B,bob@acme.example,Employee,HVB,active\n").as_bytes(),
    )
    .await;
    assert_eq!((a.actions["create_and_invite"], b.actions["create_and_invite"]), (2, 2), "both plans see Sam as new");
    let approval_a = onboarding::domain::approval::Approval::parse(
        &approval("wave-a", &a.plan_sha256, Some("2026-11-30"), &[]),
        &MigrationId::parse("wave-a").unwrap(),
    )
    .unwrap();
    let approval_b = onboarding::domain::approval::Approval::parse(
        &approval("wave-b", &b.plan_sha256, Some("2026-11-30"), &[]),
        &MigrationId::parse("wave-b").unwrap(),
    )
    .unwrap();
    let (applied_a, applied_b) = tokio::join!(
        onboarding::app::apply::apply_approval(h.svc(), &approval_a),
        onboarding::app::apply::apply_approval(h.svc(), &approval_b)
    );
    let (applied_a, applied_b) = (applied_a.unwrap(), applied_b.unwrap());
    assert_eq!(applied_a.users_created + applied_b.users_created, 3, "Sam, Ann and Bob, each created once: {applied_a:?} {applied_b:?}");
    assert_eq!(applied_a.invites_queued + applied_b.invites_queued, 3, "one invite for Sam");
    let elsewhere: Vec<_> = applied_a.created_elsewhere.iter().chain(&applied_b.created_elsewhere).collect();
    assert_eq!(elsewhere.len(), 1, "the second apply says Sam was created by the first: {elsewhere:?}");
    assert_eq!(elsewhere[0].email, "sam@acme.example");
    let creator = elsewhere[0].created_by.clone().expect("the creator is named");
    assert!(creator == "wave-a" || creator == "wave-b");
    // Sam holds what both plans gave him: nothing was overwritten.
    let sam = &h.table.get_users(&[email("sam@acme.example")]).await.unwrap()[&email("sam@acme.example")];
    assert_eq!(sam.buildings.len(), 2, "{sam:?}");
    assert!(sam.roles.len() >= 2, "roles of both plans: {sam:?}");
    // And the invites, sent on their day, reach Sam once.
    h.clock.advance_days(7);
    let config = h.config().await;
    let run = dispatch::dispatch_invites(h.svc(), &config, 100, None).await.unwrap();
    assert_eq!(run.sent, 3);
    let to_sam = h.mailer.sent().keys().filter(|k| k.starts_with("invite#") && k.ends_with("#sam@acme.example")).count();
    assert_eq!(to_sam, 1);
    // A later plan naming Sam says who created and invited him, in its issues and its report.
    let c = plan_users(&h, "wave-c", format!("{header}Sam,Both,sam@acme.example,Employee,HVB,active\n").as_bytes()).await;
    assert_eq!((c.actions["create_and_invite"], c.issues_by_code.get("already_migrated")), (0, Some(&1)), "{c:?}");
    let issues = String::from_utf8(h.objects.get("reports/users/wave-c/issues.csv").await.unwrap()).unwrap();
    assert!(issues.contains(&format!("already created and invited by migration “{creator}”")), "{issues}");
    let report = String::from_utf8(h.objects.get("reports/users/wave-c/report.html").await.unwrap()).unwrap();
    assert!(report.contains("already_migrated"), "the report lists it");
}

pub async fn kickstarts_only_go_to_allowed_domains(h: Harness) {
    h.load_example_config().await;
    let file = format!(
        "Building UUID,Building Name,Address,Envoy CSM Email,Envoy Account Executive Email\n{ONE_MARKET},One Market,1 Market St,csm@envoy.example,boss@gmail.example\n{HARBOR_VIEW},Harbor View,200 Harbor Dr,csm.east@envoy.example,\n"
    );
    let UploadOutcome::Buildings(outcome) = h.upload("inbox/buildings/b.csv", file.as_bytes()).await else { panic!() };
    assert_eq!((outcome.accepted, outcome.rejected, outcome.kickstarts_sent), (1, 1, 1), "{outcome:?}");
    let issue = outcome.issues.iter().find(|i| i.code.as_str() == "domain_not_allowed").expect("the row says why");
    assert_eq!(
        (issue.row, issue.column.as_deref(), issue.value.as_str()),
        (Some(2), Some("Envoy Account Executive Email"), "boss@gmail.example")
    );
    assert!(issue.message.contains("kickstart_domains: envoy.example"), "{}", issue.message);
    assert!(h.table.get_building(&building(ONE_MARKET)).await.unwrap().is_none(), "the refused row wrote nothing");
    assert_eq!(h.mailer.sent_to_kind("kickstart#"), 1);
}

pub async fn uploads_are_read_at_their_event_version_and_sized_before_download(h: Harness) {
    use onboarding::app::route::handle_s3_upload;
    use onboarding::domain::config::ConfigOverrides;
    h.load_example_config().await;
    set_settings(&h, serde_json::json!({ "max_file_megabytes": 1 })).await;
    // The event's version, as announced: processed.
    let key = "inbox/buildings/buildings.csv";
    h.objects.put(key, BUILDINGS_CSV.to_vec(), "text/csv").await.unwrap();
    let outcome = handle_s3_upload(h.svc(), key, &etag_of(BUILDINGS_CSV), &ConfigOverrides::default()).await.unwrap();
    assert!(matches!(outcome, UploadOutcome::Buildings(ref b) if b.accepted == 2), "{outcome:?}");

    // Replaced between the event and the read: the old event does not process the new file.
    if h.emulated {
        let replaced = format!("{}\n", String::from_utf8_lossy(BUILDINGS_CSV));
        let key = "inbox/buildings/replaced.csv";
        h.objects.put(key, replaced.into_bytes(), "text/csv").await.unwrap();
        let stale =
            handle_s3_upload(h.svc(), key, &etag_of(b"the version the event announced"), &ConfigOverrides::default()).await.unwrap();
        match stale {
            UploadOutcome::Rejected { code, message, .. } => {
                assert_eq!(code, "superseded");
                assert!(message.contains("newer upload"), "{message}");
            }
            other => panic!("{other:?}"),
        }
    }

    // Over the limit: refused by its size, with the limit and what to do.
    let mut big = String::from("Full Name,Email\n");
    while big.len() < 1_200_000 {
        big.push_str("Somebody Withalongname,somebody.withalongname@tenant.example\n");
    }
    let key = format!("inbox/tenants/{ONE_MARKET}/big.csv");
    h.objects.put(&key, big.clone().into_bytes(), "text/csv").await.unwrap();
    match handle_s3_upload(h.svc(), &key, &etag_of(big.as_bytes()), &ConfigOverrides::default()).await.unwrap() {
        UploadOutcome::Rejected { code, message, .. } => {
            assert_eq!(code, "file_too_large");
            assert!(
                message.contains("1.1 MB") && message.contains("max_file_megabytes") && message.contains("not downloaded"),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(h.table.list_contacts(&building(ONE_MARKET)).await.unwrap().is_empty(), "nothing read, nothing written");
}

pub async fn an_invite_to_a_suppressed_address_is_not_put_back(h: Harness) {
    h.with_buildings().await;
    let simulator = onboarding::adapters::embedded::SIMULATOR_SUPPRESSED;
    let export = format!("First Name,Last Name,Email,Role(s),Building assignments,Status\nSim,Ulator,{simulator},Employee,HVB,active\n");
    let summary = plan_users(&h, "supp", export.as_bytes()).await;
    h.mailer.unconfirmed_next.store(1, Ordering::SeqCst);
    let UploadOutcome::Applied { dispatch, .. } = h.upload("approvals/supp.json", &approval("supp", &summary.plan_sha256, None, &[])).await
    else {
        panic!()
    };
    assert_eq!(dispatch.unconfirmed, 1);
    let m = MigrationId::parse("supp").unwrap();
    let retried = invites::retry_invites(h.svc(), &m, None).await.unwrap();
    assert!(retried.requeued.is_empty(), "{retried:?}");
    assert_eq!(retried.suppressed.len(), 1);
    assert!(retried.suppressed[0].reason.contains("suppression list"), "{retried:?}");
    assert_eq!(h.table.list_invites(&m).await.unwrap()[0].status, MailStatus::Unconfirmed, "left as it was");
}

/// The dispatch function sends several invites at once (each still starts one gap of the rate
/// after the last). Through throttling, a failed ledger call and a run that dies with sends in
/// flight, every invite is sent once or flagged, never twice, and the counts add up.
pub async fn sends_in_flight_go_out_once_each_through_throttling_a_failure_and_a_crash(h: Harness) {
    const COUNT: usize = 30;
    invites_due(&h, "m1", COUNT).await;
    let config = h.config().await;
    let pace = dispatch::Pace { limit: 1_000, deadline: None, in_flight: 8 };
    let m1 = MigrationId::parse("m1").unwrap();

    // The mail service throttles after five more sends: no send starts after that; the ones in
    // flight are recorded (sent, or left due without an attempt).
    h.mailer.fail_after_more(5);
    let throttled = dispatch::dispatch_paced(h.svc(), &config, pace).await.unwrap();
    assert!(throttled.stopped.as_deref().unwrap_or_default().contains("throttled"), "{throttled:?}");
    assert!(throttled.sent >= 5 && throttled.retry_later >= 1, "{throttled:?}");
    let invites = h.table.list_invites(&m1).await.unwrap();
    assert_eq!(invites.iter().filter(|i| i.status == MailStatus::Sent).count() as u64, throttled.sent, "{throttled:?}");
    assert!(invites.iter().all(|i| i.status == MailStatus::Sent || i.attempts == 0), "throttling is never an attempt");
    h.mailer.fail_after.store(0, Ordering::SeqCst);

    // One ledger call fails (after it took effect): the run reports it once the sends beside it
    // are recorded.
    let faulty = crate::faults::FaultyTable::new(h.table.as_ref(), 9, true);
    let failed = dispatch::dispatch_paced(h.svc_with(&faulty), &config, pace).await;
    assert!(failed.is_err(), "{failed:?}");

    // The run dies at a ledger call with sends in flight (nothing answers after it).
    let dying = crate::faults::FaultyTable::dies_at(h.table.as_ref(), 14, true);
    let died = tokio::time::timeout(std::time::Duration::from_secs(3), dispatch::dispatch_paced(h.svc_with(&dying), &config, pace)).await;
    assert!(died.is_err(), "the run stopped at its crash point: {died:?}");

    // Past the claim lease: a claim whose send's fate is unknown reads as unconfirmed.
    h.clock.advance_minutes(16);
    let rest = dispatch::dispatch_paced(h.svc(), &config, pace).await.unwrap();
    assert_eq!(rest.stopped, None, "{rest:?}");
    let invites = h.table.list_invites(&m1).await.unwrap();
    let sent = invites.iter().filter(|i| i.status == MailStatus::Sent).count();
    let unconfirmed = invites.iter().filter(|i| matches!(i.status, MailStatus::Sending | MailStatus::Unconfirmed)).count();
    assert_eq!(sent + unconfirmed, COUNT, "every invite is sent or flagged: {rest:?}");
    h.mailer.assert_each_sent_once();
    let mails = h.mailer.sent_to_kind("invite#") as usize;
    if h.mailer.deduplicates() {
        assert_eq!((mails, unconfirmed), (COUNT, 0), "the outbox sends a claimed invite again, once");
    } else {
        // An unconfirmed invite may have gone out before the run died; none went out twice.
        assert!((sent..=COUNT).contains(&mails), "{mails} invites went out; {sent} recorded as sent");
    }
    assert_eq!(dispatch::dispatch_paced(h.svc(), &config, pace).await.unwrap().sent, 0, "nothing is left to send");
}
