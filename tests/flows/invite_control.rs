//! Invite control on purpose: unsent invites moved to another day (with the CLI's use case or
//! an `approvals/<migration>.reschedule.json` object), one sent invite sent again as a new
//! ledger message, each refused where it would do harm.

use crate::data::*;
use crate::helpers::*;
use onboarding::app::route::UploadOutcome;
use onboarding::app::{dispatch, invites, AppError};
use onboarding::domain::invite::MailStatus;
use onboarding::domain::values::MigrationId;

pub async fn unsent_invites_are_rescheduled_and_a_sent_one_resent_once(h: Harness) {
    let sha = planned(&h, "wave", 3).await;
    let today = h.clock_now().date();
    let tomorrow = today + time::Duration::days(1);
    let later = today + time::Duration::days(5);
    let UploadOutcome::Applied { apply, .. } =
        h.upload("approvals/wave.json", &approval_json("wave", &sha, Some(&tomorrow.to_string()))).await
    else {
        panic!()
    };
    assert_eq!(apply.invites_queued, 3);
    let m = MigrationId::parse("wave").unwrap();

    // A past day is refused; a later one moves every unsent invite, and the migration's date.
    let past = invites::reschedule_invites(h.svc(), &m, today - time::Duration::days(1)).await;
    assert!(matches!(&past, Err(AppError::Rejected(r)) if r.message.contains("in the past")), "{past:?}");
    let moved = invites::reschedule_invites(h.svc(), &m, later).await.unwrap();
    assert_eq!((moved.moved, moved.sent, moved.untouched), (3, 0, 0));
    assert!(h.table.list_invites(&m).await.unwrap().iter().all(|i| i.due == later && i.status == MailStatus::Pending));
    assert_eq!(h.table.get_migration(&m).await.unwrap().unwrap().invite_date, Some(later.to_string()));
    h.clock.advance_days(1);
    let config = h.config().await;
    assert_eq!(dispatch::dispatch_invites(h.svc(), &config, 100, None).await.unwrap().sent, 0, "not due on the old date any more");

    // An approver without the CLI moves them back to today with an object under approvals/.
    let body = format!(r#"{{"invite_date": "{tomorrow}", "requested_by": "Pat Property"}}"#);
    let UploadOutcome::Rescheduled(back) = h.upload("approvals/wave.reschedule.json", body.as_bytes()).await else {
        panic!("not routed to a reschedule")
    };
    assert_eq!(back.moved, 3);
    assert_eq!(dispatch::dispatch_invites(h.svc(), &config, 100, None).await.unwrap().sent, 3);
    let after = invites::reschedule_invites(h.svc(), &m, later).await.unwrap();
    assert_eq!((after.moved, after.sent), (0, 3), "sent invites are counted, untouched");

    // A resend on purpose: a new ledger message, sent once; not while it waits to go out.
    let ada = email("user0@acme.example");
    let resent = invites::resend_invite(h.svc(), &m, &ada).await.unwrap();
    assert_eq!(resent.round, 1);
    let again = invites::resend_invite(h.svc(), &m, &ada).await;
    assert!(matches!(&again, Err(AppError::Rejected(r)) if r.code == "invite_not_sent"), "{again:?}");
    assert_eq!(dispatch::dispatch_invites(h.svc(), &config, 100, None).await.unwrap().sent, 1);
    assert_eq!(dispatch::dispatch_invites(h.svc(), &config, 100, None).await.unwrap().sent, 0);
    let sent = h.mailer.sent();
    assert_eq!(sent.get("invite#wave#user0@acme.example"), Some(&1));
    assert_eq!(sent.get("invite#wave#user0@acme.example#retry1"), Some(&1));
    h.mailer.assert_each_sent_once();
    // A second resend opens the round after.
    assert_eq!(invites::resend_invite(h.svc(), &m, &ada).await.unwrap().round, 2);

    // Nobody may resend to an address on a suppression list.
    let simulator = onboarding::adapters::embedded::SIMULATOR_SUPPRESSED;
    let export = format!("First Name,Last Name,Email,Role(s),Building assignments,Status\nSim,Ulator,{simulator},Employee,HVB,active\n");
    let UploadOutcome::Plan(plan) = h.upload("inbox/users/supp/export.csv", export.as_bytes()).await else { panic!() };
    h.upload("approvals/supp.json", &approval_json("supp", &plan.plan_sha256, None)).await;
    let supp = MigrationId::parse("supp").unwrap();
    let refused = invites::resend_invite(h.svc(), &supp, &email(simulator)).await;
    assert!(matches!(&refused, Err(AppError::Rejected(r)) if r.code == "suppressed_address"), "{refused:?}");
}
